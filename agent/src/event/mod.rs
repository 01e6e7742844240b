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
mod id;
mod json;
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

impl EventType {
    /// The event spelling, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::LlmExchange => "llm.exchange",
        }
    }
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

/// The event's `cache` object is the insights stage's verdict.
pub use crate::insights::CacheInsight;

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

/// One event of the contract. Full field reference: `docs/events.md`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LlmEvent {
    /// Contract version, [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// UUIDv7.
    pub event_id: String,
    /// Event type.
    pub event_type: EventType,
    /// RFC 3339 UTC with milliseconds.
    pub observed_at: String,
    /// `gen_ai.provider.name`.
    pub provider: Provider,
    /// Wire API.
    pub api: Api,
    /// `gen_ai.operation.name`.
    pub operation: Operation,
    /// Host, sanitised.
    #[serde(rename = "server.address")]
    pub server_address: Option<String>,
    /// Port.
    #[serde(rename = "server.port")]
    pub server_port: Option<u16>,
    /// Requested model, sanitised.
    #[serde(rename = "request.model")]
    pub request_model: Option<String>,
    /// Streaming requested.
    #[serde(rename = "request.stream")]
    pub request_stream: bool,
    /// Output token cap.
    #[serde(rename = "request.max_tokens")]
    pub request_max_tokens: Option<u64>,
    /// Messages / input items.
    #[serde(rename = "request.message_count")]
    pub request_message_count: u32,
    /// Tool definitions.
    #[serde(rename = "request.tool_count")]
    pub request_tool_count: u32,
    /// Request media type.
    #[serde(rename = "request.content_type")]
    pub request_content_type: Option<String>,
    /// Keyed hash of the request-id header.
    #[serde(rename = "request.id_hash")]
    pub request_id_hash: Option<String>,
    /// Model that answered, sanitised.
    #[serde(rename = "response.model")]
    pub response_model: Option<String>,
    /// HTTP status; `None` without a response.
    #[serde(rename = "response.status")]
    pub response_status: Option<u16>,
    /// Response media type.
    #[serde(rename = "response.content_type")]
    pub response_content_type: Option<String>,
    /// Finish reasons as codes.
    #[serde(rename = "response.finish_reasons")]
    pub response_finish_reasons: Vec<String>,
    /// The provider reported usage.
    #[serde(rename = "usage.reported")]
    pub usage_reported: bool,
    /// Input tokens including cache reads and writes.
    #[serde(rename = "usage.input_tokens")]
    pub usage_input_tokens: Option<u64>,
    /// Output tokens including reasoning.
    #[serde(rename = "usage.output_tokens")]
    pub usage_output_tokens: Option<u64>,
    /// Cache-read input tokens.
    #[serde(rename = "usage.cache_read_input_tokens")]
    pub usage_cache_read_input_tokens: Option<u64>,
    /// Cache-write input tokens.
    #[serde(rename = "usage.cache_creation_input_tokens")]
    pub usage_cache_creation_input_tokens: Option<u64>,
    /// Cache writes with a 5-minute TTL.
    #[serde(rename = "usage.cache_creation_5m_input_tokens")]
    pub usage_cache_creation_5m_input_tokens: Option<u64>,
    /// Cache writes with a 1-hour TTL.
    #[serde(rename = "usage.cache_creation_1h_input_tokens")]
    pub usage_cache_creation_1h_input_tokens: Option<u64>,
    /// Reasoning output tokens.
    #[serde(rename = "usage.reasoning_output_tokens")]
    pub usage_reasoning_output_tokens: Option<u64>,
    /// The call was priced.
    #[serde(rename = "cost.known")]
    pub cost_known: bool,
    /// Total USD.
    #[serde(rename = "cost.usd")]
    pub cost_usd: Option<f64>,
    /// Price source version.
    #[serde(rename = "cost.pricing_version")]
    pub cost_pricing_version: Option<String>,
    /// Price entry key.
    #[serde(rename = "cost.model_key")]
    pub cost_model_key: Option<String>,
    /// Long-context tier threshold applied.
    #[serde(rename = "cost.tier")]
    pub cost_tier: Option<u64>,
    /// USD per component.
    #[serde(rename = "cost.breakdown")]
    pub cost_breakdown: Option<EventCostBreakdown>,
    /// Why not priced.
    #[serde(rename = "cost.unknown_reason")]
    pub cost_unknown_reason: Option<&'static str>,
    /// Request start to response end, ms.
    #[serde(rename = "timing.duration_ms")]
    pub timing_duration_ms: Option<f64>,
    /// Request start to first stream event, ms.
    #[serde(rename = "timing.time_to_first_chunk_ms")]
    pub timing_time_to_first_chunk_ms: Option<f64>,
    /// Stream events or body chunks.
    #[serde(rename = "timing.chunk_count")]
    pub timing_chunk_count: u32,
    /// Process id.
    #[serde(rename = "process.pid")]
    pub process_pid: u32,
    /// Process command name.
    #[serde(rename = "process.comm")]
    pub process_comm: String,
    /// Keyed whole-prompt fingerprint.
    #[serde(rename = "prompt.fingerprint")]
    pub prompt_fingerprint: Option<String>,
    /// Segments in the prompt.
    #[serde(rename = "prompt.segment_count")]
    pub prompt_segment_count: u32,
    /// Described segments (may be fewer than the count).
    #[serde(rename = "prompt.segments")]
    pub prompt_segments: Vec<EventSegment>,
    /// Segments were left out.
    #[serde(rename = "prompt.segments_truncated")]
    pub prompt_segments_truncated: bool,
    /// The exchange was observed whole.
    #[serde(rename = "capture.complete")]
    pub capture_complete: bool,
    /// Why not, as codes.
    #[serde(rename = "capture.incomplete_reasons")]
    pub capture_incomplete_reasons: Vec<&'static str>,
    /// LLM-stage parse errors, as codes.
    #[serde(rename = "capture.parse_errors")]
    pub capture_parse_errors: Vec<&'static str>,
    /// Provider error class.
    #[serde(rename = "error.type")]
    pub error_type: Option<String>,
    /// Requests left in the window.
    #[serde(rename = "rate_limit.remaining_requests")]
    pub rate_limit_remaining_requests: Option<u64>,
    /// Request limit.
    #[serde(rename = "rate_limit.limit_requests")]
    pub rate_limit_limit_requests: Option<u64>,
    /// Tokens left in the window.
    #[serde(rename = "rate_limit.remaining_tokens")]
    pub rate_limit_remaining_tokens: Option<u64>,
    /// Token limit.
    #[serde(rename = "rate_limit.limit_tokens")]
    pub rate_limit_limit_tokens: Option<u64>,
    /// Seconds to request-window reset.
    #[serde(rename = "rate_limit.reset_requests_s")]
    pub rate_limit_reset_requests_s: Option<f64>,
    /// Seconds to token-window reset.
    #[serde(rename = "rate_limit.reset_tokens_s")]
    pub rate_limit_reset_tokens_s: Option<f64>,
    /// `retry-after`, seconds.
    #[serde(rename = "rate_limit.retry_after_s")]
    pub rate_limit_retry_after_s: Option<f64>,
    /// Effective privacy mode.
    #[serde(rename = "privacy.mode")]
    pub privacy_mode: PrivacyMode,
    /// The size cap shortened or removed snippets.
    #[serde(rename = "privacy.truncated")]
    pub privacy_truncated: bool,
    /// Cache insight (insights stage).
    pub cache: Option<CacheInsight>,
    /// Kubernetes attribution (later stage).
    pub workload: Option<Workload>,
}

#[cfg(test)]
mod tests;
