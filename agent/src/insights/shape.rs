//! The input of the insights stage: [`PromptShape`], the text-free outline of one request.
//!
//! Owns the shape types only. It does not build them (the pipeline wiring does, from the
//! privacy stage's keyed segment hashes and prefix chain) and does not interpret them (see
//! `classify`). Nothing here ever holds prompt text: only keyed digests and byte lengths.

use crate::llm::{CacheTtl, SegmentKind};

/// A keyed digest (truncated HMAC) of a segment or of a prefix chain.
pub type Digest = [u8; 16];

/// Which stream of requests a prompt belongs to: caches are only compared inside one key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HistoryKey {
    /// Workload name (service, container, or process name), as the event reports it.
    pub workload: String,
    /// `gen_ai.provider.name` (`anthropic`, `openai`, …).
    pub provider: String,
    /// Model family: the model without date/version suffix (`claude-sonnet-4-5`, `gpt-4o`).
    pub model_family: String,
}

/// One prompt segment, in the provider's cache-prefix order (tools → system → messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentDigest {
    /// What the segment is.
    pub kind: SegmentKind,
    /// Role of the message it belongs to, when it has one.
    pub role: Option<String>,
    /// Keyed digest of this segment alone.
    pub hash: Digest,
    /// Keyed digest of the prefix chain through this segment: equal chains mean equal prefixes.
    pub chain: Digest,
    /// Length of the segment's compact JSON, in bytes (the token estimate is calibrated on it).
    pub bytes: u64,
    /// Anthropic `cache_control` breakpoint on this segment.
    pub cache_control: Option<CacheTtl>,
}

/// Token usage as reported by the provider, OpenTelemetry semantics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsageView {
    /// The provider reported usage at all.
    pub reported: bool,
    /// Input tokens INCLUDING cache reads and cache writes.
    pub input_tokens: Option<u64>,
    /// Input tokens read from the cache.
    pub cache_read_input_tokens: Option<u64>,
    /// Input tokens written to the cache.
    pub cache_creation_input_tokens: Option<u64>,
}

/// Prices of the model that served the request, USD per token.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PriceView {
    /// Uncached input token.
    pub input_per_token: f64,
    /// Cache-read token; `None`: not priced apart (the savings model uses its fallback ratio).
    pub cache_read_per_token: Option<f64>,
    /// Cache-write token, 5-minute TTL; `None`: fallback ratio.
    pub cache_write_5m_per_token: Option<f64>,
    /// Cache-write token, 1-hour TTL; `None`: fallback ratio.
    pub cache_write_1h_per_token: Option<f64>,
}

impl From<&pricing::Rates> for PriceView {
    fn from(r: &pricing::Rates) -> Self {
        PriceView {
            input_per_token: r.input,
            cache_read_per_token: r.cache_read,
            cache_write_5m_per_token: r.cache_write_5m,
            cache_write_1h_per_token: r.cache_write_1h,
        }
    }
}

/// The text-free outline of one request, as the insights stage sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptShape {
    /// Which stream of requests this belongs to.
    pub key: HistoryKey,
    /// Exact model requested (a change of model inside a family breaks the cache).
    pub model: String,
    /// When the request was sent, milliseconds (any monotonic-enough epoch).
    pub observed_at_ms: u64,
    /// Segments in cache-prefix order.
    pub segments: Vec<SegmentDigest>,
    /// Anthropic top-level `cache_control` (automatic caching): an implicit breakpoint on the
    /// last cacheable segment.
    pub automatic_cache: Option<CacheTtl>,
    /// Reported usage.
    pub usage: UsageView,
    /// Prices, when the model is priced.
    pub prices: Option<PriceView>,
}

impl PromptShape {
    /// Total bytes of all segments.
    pub fn total_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }
}
