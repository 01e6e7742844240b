//! The versioned event contract: one [`LlmEvent`] per recognised LLM call, serialised as one
//! NDJSON line with flat dotted keys (`usage.input_tokens`, …). Owns the layout, the builder
//! ([`build_event`]) and the size cap ([`LlmEvent::to_ndjson_line`]); the JSON Schema is
//! `schema/llm-event.v1.schema.json` and the field reference `docs/events.md`.
//!
//! Not here: hashing, redaction and mode decisions (`privacy`), call understanding (`llm`),
//! cache insights and workload attribution (later stages fill [`CacheInsight`], [`Workload`]).
//!
//! Absent numbers are `null`, never 0. No request or response text appears in an event except
//! redacted snippets in `snippets` mode.

mod build;
mod ndjson;
#[cfg(any(test, feature = "schema-validation"))]
pub mod schema;
pub mod time;

use std::fmt;

use serde::Serialize;

use crate::llm::{Api, Operation, Provider};
use crate::privacy::PrivacyMode;

pub use build::{ExchangeMeta, build_event, price_call, pricing_usage};
pub use ndjson::MAX_EVENT_BYTES;
#[cfg(any(test, feature = "schema-validation"))]
pub use schema::validate_event;

/// `schema_version` of this contract.
pub const SCHEMA_VERSION: u32 = 1;

/// Closed registry of event types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum EventType {
    /// One LLM request/response exchange.
    #[serde(rename = "llm.exchange")]
    LlmExchange,
}

/// One prompt segment in an event: structure and keyed hashes, never text (except `snippet`
/// in snippets mode). `Debug` shows a snippet's length only, so logging an event never copies
/// prompt text into logs.
#[derive(Clone, PartialEq, Serialize)]
pub struct EventSegment {
    /// `tools`, `system`, `message`, `content_block`.
    pub kind: crate::llm::SegmentKind,
    /// Message role (sanitised), when the segment has one.
    pub role: Option<String>,
    /// Position within its list.
    pub index: u32,
    /// For content blocks: index of the message holding it.
    pub message_index: Option<u32>,
    /// Keyed segment hash (32 hex); `null` when the segment text was truncated.
    pub hash: Option<String>,
    /// Keyed prefix-chain hash (32 hex); `null` from the first truncated segment on.
    pub chain: Option<String>,
    /// Bytes of the segment's compact JSON (as held by the LLM stage).
    pub bytes: u64,
    /// Cache TTL of a `cache_control` marker on this segment (`5m`, `1h`), else `null`.
    pub cache_control: Option<crate::llm::CacheTtl>,
    /// Redacted snippet (snippets mode only; absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    /// The snippet was shortened (snippets mode only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet_truncated: Option<bool>,
}

impl fmt::Debug for EventSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSegment")
            .field("kind", &self.kind)
            .field("role", &self.role)
            .field("index", &self.index)
            .field("message_index", &self.message_index)
            .field("hash", &self.hash)
            .field("chain", &self.chain)
            .field("bytes", &self.bytes)
            .field("cache_control", &self.cache_control)
            .field(
                "snippet_chars",
                &self.snippet.as_ref().map(|s| s.chars().count()),
            )
            .field("snippet_truncated", &self.snippet_truncated)
            .finish()
    }
}

/// USD per cost component.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EventCostBreakdown {
    /// Uncached input.
    pub input: f64,
    /// Cache reads.
    pub cached_input: f64,
    /// Cache writes, 5-minute TTL.
    pub cache_write_5m: f64,
    /// Cache writes, 1-hour TTL.
    pub cache_write_1h: f64,
    /// Output other than reasoning.
    pub output: f64,
    /// Reasoning output.
    pub reasoning: f64,
}

/// Verdict of the cache-insights stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheStatus {
    /// The expected prefix was read from cache.
    Hit,
    /// Part of the expected prefix was read from cache.
    Partial,
    /// A cacheable prefix was not read from cache.
    Miss,
    /// The prefix was written to cache.
    Written,
    /// Nothing cacheable.
    NotApplicable,
    /// Not enough information.
    Unknown,
}

/// Cache insight, filled by the insights stage (`null` until then).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CacheInsight {
    /// Verdict.
    pub status: CacheStatus,
    /// Reason code (`[a-z0-9_]`), never free text.
    pub reason: Option<String>,
    /// Index into `prompt.segments` where the cacheable prefix broke.
    pub segment_index: Option<u32>,
    /// Tokens expected to be cache reads.
    pub expected_cached_tokens: Option<u64>,
    /// Lower bound of USD wasted by the miss.
    pub wasted_usd_low: Option<f64>,
    /// Upper bound of USD wasted by the miss.
    pub wasted_usd_high: Option<f64>,
    /// Confidence in the verdict, 0 to 1.
    pub confidence: Option<f64>,
}

/// Kubernetes attribution, filled by a later stage (`null` until then).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Workload {
    /// Namespace.
    pub namespace: Option<String>,
    /// Pod name.
    pub pod: Option<String>,
    /// Owner kind (`Deployment`, `StatefulSet`, …).
    pub kind: Option<String>,
    /// Owner name.
    pub name: Option<String>,
    /// Container id.
    pub container_id: Option<String>,
}

/// One event of the contract. Field docs: `docs/events.md`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LlmEvent {
    pub schema_version: u32,
    pub event_id: String,
    pub event_type: EventType,
    pub observed_at: String,
    pub provider: Provider,
    pub api: Api,
    pub operation: Operation,
    #[serde(rename = "server.address")]
    pub server_address: Option<String>,
    #[serde(rename = "server.port")]
    pub server_port: Option<u16>,
    #[serde(rename = "request.model")]
    pub request_model: Option<String>,
    #[serde(rename = "request.stream")]
    pub request_stream: bool,
    #[serde(rename = "request.max_tokens")]
    pub request_max_tokens: Option<u64>,
    #[serde(rename = "request.message_count")]
    pub request_message_count: u32,
    #[serde(rename = "request.tool_count")]
    pub request_tool_count: u32,
    #[serde(rename = "request.content_type")]
    pub request_content_type: Option<String>,
    #[serde(rename = "request.id_hash")]
    pub request_id_hash: Option<String>,
    #[serde(rename = "response.model")]
    pub response_model: Option<String>,
    #[serde(rename = "response.status")]
    pub response_status: Option<u16>,
    #[serde(rename = "response.content_type")]
    pub response_content_type: Option<String>,
    #[serde(rename = "response.finish_reasons")]
    pub response_finish_reasons: Vec<String>,
    #[serde(rename = "usage.reported")]
    pub usage_reported: bool,
    #[serde(rename = "usage.input_tokens")]
    pub usage_input_tokens: Option<u64>,
    #[serde(rename = "usage.output_tokens")]
    pub usage_output_tokens: Option<u64>,
    #[serde(rename = "usage.cache_read_input_tokens")]
    pub usage_cache_read_input_tokens: Option<u64>,
    #[serde(rename = "usage.cache_creation_input_tokens")]
    pub usage_cache_creation_input_tokens: Option<u64>,
    #[serde(rename = "usage.cache_creation_5m_input_tokens")]
    pub usage_cache_creation_5m_input_tokens: Option<u64>,
    #[serde(rename = "usage.cache_creation_1h_input_tokens")]
    pub usage_cache_creation_1h_input_tokens: Option<u64>,
    #[serde(rename = "usage.reasoning_output_tokens")]
    pub usage_reasoning_output_tokens: Option<u64>,
    #[serde(rename = "cost.known")]
    pub cost_known: bool,
    #[serde(rename = "cost.usd")]
    pub cost_usd: Option<f64>,
    #[serde(rename = "cost.pricing_version")]
    pub cost_pricing_version: Option<String>,
    #[serde(rename = "cost.model_key")]
    pub cost_model_key: Option<String>,
    #[serde(rename = "cost.tier")]
    pub cost_tier: Option<u64>,
    #[serde(rename = "cost.breakdown")]
    pub cost_breakdown: Option<EventCostBreakdown>,
    #[serde(rename = "cost.unknown_reason")]
    pub cost_unknown_reason: Option<&'static str>,
    #[serde(rename = "timing.duration_ms")]
    pub timing_duration_ms: Option<f64>,
    #[serde(rename = "timing.time_to_first_chunk_ms")]
    pub timing_time_to_first_chunk_ms: Option<f64>,
    #[serde(rename = "timing.chunk_count")]
    pub timing_chunk_count: u32,
    #[serde(rename = "process.pid")]
    pub process_pid: u32,
    #[serde(rename = "process.comm")]
    pub process_comm: String,
    #[serde(rename = "prompt.fingerprint")]
    pub prompt_fingerprint: Option<String>,
    #[serde(rename = "prompt.segment_count")]
    pub prompt_segment_count: u32,
    #[serde(rename = "prompt.segments")]
    pub prompt_segments: Vec<EventSegment>,
    #[serde(rename = "prompt.segments_truncated")]
    pub prompt_segments_truncated: bool,
    #[serde(rename = "capture.complete")]
    pub capture_complete: bool,
    #[serde(rename = "capture.incomplete_reasons")]
    pub capture_incomplete_reasons: Vec<&'static str>,
    #[serde(rename = "capture.parse_errors")]
    pub capture_parse_errors: Vec<&'static str>,
    #[serde(rename = "error.type")]
    pub error_type: Option<String>,
    #[serde(rename = "rate_limit.remaining_requests")]
    pub rate_limit_remaining_requests: Option<u64>,
    #[serde(rename = "rate_limit.limit_requests")]
    pub rate_limit_limit_requests: Option<u64>,
    #[serde(rename = "rate_limit.remaining_tokens")]
    pub rate_limit_remaining_tokens: Option<u64>,
    #[serde(rename = "rate_limit.limit_tokens")]
    pub rate_limit_limit_tokens: Option<u64>,
    #[serde(rename = "rate_limit.reset_requests_s")]
    pub rate_limit_reset_requests_s: Option<f64>,
    #[serde(rename = "rate_limit.reset_tokens_s")]
    pub rate_limit_reset_tokens_s: Option<f64>,
    #[serde(rename = "rate_limit.retry_after_s")]
    pub rate_limit_retry_after_s: Option<f64>,
    #[serde(rename = "privacy.mode")]
    pub privacy_mode: PrivacyMode,
    #[serde(rename = "privacy.truncated")]
    pub privacy_truncated: bool,
    pub cache: Option<CacheInsight>,
    pub workload: Option<Workload>,
}

#[cfg(test)]
mod tests;
