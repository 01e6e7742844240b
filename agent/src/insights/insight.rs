//! The output of the insights stage: [`CacheInsight`], the event's `cache` object, with its
//! status, reason and confidence vocabularies and the fix hint for each reason.
//!
//! Pure data and wording; no analysis here.

use serde::{Deserialize, Serialize};

/// Coarse outcome of one request against the provider's prompt cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheStatus {
    /// The cached prefix was expected to be read.
    Hit,
    /// Nothing (or less) was expected to be read, through no fault of the prompt:
    /// first request of its prefix, or the entry expired.
    Miss,
    /// The prompt changed inside the previously cached prefix: a fixable cache break.
    Break,
    /// The request cannot be cached (no breakpoints, too small, provider not modelled).
    NotCacheable,
}

/// Why the request got its status. Order of checks: see `docs/insights.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheReason {
    /// The previously cached prefix is intact: expect a cache read.
    HitExpected,
    /// No earlier request (in the history) shares a cached prefix.
    FirstSeen,
    /// The cached prefix was last used longer ago than its TTL.
    TtlExpired,
    /// The model changed (caches are per model).
    ModelChanged,
    /// A tool definition changed, moved, appeared or disappeared.
    ToolsChanged,
    /// The system prompt changed.
    SystemChanged,
    /// Earlier history messages were dropped or summarised (compaction, sliding window).
    HistoryTruncated,
    /// A message already sent was changed.
    MessageModified,
    /// The cached entry is more segments before the request's breakpoint than the provider
    /// looks back (20 blocks on Anthropic).
    LookbackExceeded,
    /// The cacheable prefix is below the model's minimum.
    BelowMinTokens,
    /// Anthropic request without `cache_control` breakpoints or automatic caching.
    NoBreakpoints,
    /// The provider's caching is not modelled.
    UnsupportedProvider,
}

impl CacheReason {
    /// Status this reason belongs to.
    pub fn status(self) -> CacheStatus {
        use CacheReason::*;
        match self {
            HitExpected => CacheStatus::Hit,
            FirstSeen | TtlExpired => CacheStatus::Miss,
            ModelChanged | ToolsChanged | SystemChanged | HistoryTruncated | MessageModified
            | LookbackExceeded => CacheStatus::Break,
            BelowMinTokens | NoBreakpoints | UnsupportedProvider => CacheStatus::NotCacheable,
        }
    }

    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        use CacheReason::*;
        match self {
            HitExpected => "hit_expected",
            FirstSeen => "first_seen",
            TtlExpired => "ttl_expired",
            ModelChanged => "model_changed",
            ToolsChanged => "tools_changed",
            SystemChanged => "system_changed",
            HistoryTruncated => "history_truncated",
            MessageModified => "message_modified",
            LookbackExceeded => "lookback_exceeded",
            BelowMinTokens => "below_min_tokens",
            NoBreakpoints => "no_breakpoints",
            UnsupportedProvider => "unsupported_provider",
        }
    }

    /// A concrete fix, for the report.
    pub fn fix_hint(self) -> &'static str {
        use CacheReason::*;
        match self {
            HitExpected => "nothing to fix",
            FirstSeen => {
                "expected once per prefix; if frequent, reuse one stable prefix across sessions"
            }
            TtlExpired => {
                "requests arrive further apart than the cache TTL: use ttl \"1h\" breakpoints \
                 (Anthropic) or keep the prefix warm; batch bursts together"
            }
            ModelChanged => {
                "the model changes between requests of one conversation: pin one model per \
                 conversation (route fallbacks to a separate workload)"
            }
            ToolsChanged => {
                "tool definitions change or reorder between requests: sort tools \
                 deterministically and keep their schemas byte-stable"
            }
            SystemChanged => {
                "the system prompt changes on every request: move variable content \
                 (timestamps, ids) after the last cache breakpoint"
            }
            HistoryTruncated => {
                "history is trimmed or summarised at the front: compact less often and in \
                 larger steps, or put a breakpoint before the trimmed region"
            }
            MessageModified => {
                "an already-sent message is rewritten: append new content instead of editing \
                 history (check re-serialisation, key order, injected timestamps)"
            }
            LookbackExceeded => {
                "more than 20 blocks were added since the last cached breakpoint: add an \
                 intermediate cache_control breakpoint"
            }
            BelowMinTokens => {
                "the prompt is below the model's minimum cacheable size: caching cannot help; \
                 drop the breakpoints or grow the shared prefix"
            }
            NoBreakpoints => {
                "no cache_control breakpoints: mark the end of the stable prefix (tools, system) \
                 with cache_control or enable automatic caching"
            }
            UnsupportedProvider => "this provider's prompt caching is not modelled",
        }
    }
}

/// Whether the provider's reported cache tokens agree with the expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Reported cache reads match the expectation.
    Agree,
    /// Reported cache reads contradict it.
    Disagree,
    /// The provider reported no cache usage to check against.
    NoUsage,
}

/// The event's `cache` object: what the prompt cache should have done, and what a break cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CacheInsight {
    /// Coarse outcome.
    pub status: CacheStatus,
    /// Why.
    pub reason: CacheReason,
    /// For breaks inside the prompt: index (in the request's segments) of the first changed one.
    pub segment_index: Option<u32>,
    /// Prompt tokens expected to be read from cache (estimate).
    pub expected_cached_tokens: u64,
    /// Cache-read tokens the provider reported, when it did.
    pub reported_cached_tokens: Option<u64>,
    /// Tokens billed without the cache discount because of the break: conservative estimate.
    pub wasted_tokens_low: u64,
    /// Same, full expected prefix.
    pub wasted_tokens_high: u64,
    /// Money wasted, low end of the range (USD); `None` when the model is not priced.
    pub wasted_usd_low: Option<f64>,
    /// Money wasted, high end (USD).
    pub wasted_usd_high: Option<f64>,
    /// Cross-check with the provider's numbers.
    pub confidence: Confidence,
}
