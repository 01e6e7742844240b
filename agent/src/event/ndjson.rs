//! NDJSON encoding with the event size cap. When an event would exceed [`MAX_EVENT_BYTES`],
//! snippets are shortened, then dropped (`privacy.truncated = true`), then just enough
//! prompt segments are dropped from the end (`prompt.segments_truncated = true`). Hashes,
//! counts and costs are never dropped.

use std::borrow::Cow;

use super::json::ObjectWriter;
use super::{CacheInsight, EventCostBreakdown, EventSegment, LlmEvent};
use crate::llm::CacheTtl;

/// Largest NDJSON line, newline included.
pub const MAX_EVENT_BYTES: usize = 10 * 1024;
/// Snippets are halved down to this length before being dropped.
const MIN_SNIPPET_CHARS: usize = 32;

/// One shrinking step for a line of `len` bytes; `false` when nothing is left to shrink.
fn shrink(ev: &mut LlmEvent, len: usize) -> bool {
    let longest = ev
        .prompt_segments
        .iter()
        .filter_map(|s| s.snippet.as_ref().map(|t| t.chars().count()))
        .max();
    match longest {
        Some(n) if n > MIN_SNIPPET_CHARS => {
            let keep = n / 2;
            for s in &mut ev.prompt_segments {
                if let Some(t) = &mut s.snippet {
                    let (cut, more) = crate::privacy::redact::truncate_chars(t, keep);
                    if more {
                        *t = cut.to_owned();
                        s.snippet_truncated = Some(true);
                    }
                }
            }
            ev.privacy_truncated = true;
            true
        }
        Some(_) => {
            for s in &mut ev.prompt_segments {
                s.snippet = None;
                s.snippet_truncated = Some(true);
            }
            ev.privacy_truncated = true;
            true
        }
        None if !ev.prompt_segments.is_empty() => {
            // Drop about as many trailing segments as the excess needs, at least one.
            let n = ev.prompt_segments.len();
            let per = serde_json::to_vec(&ev.prompt_segments)
                .map_or(1, |v| v.len() / n)
                .max(1);
            let excess = len.saturating_sub(MAX_EVENT_BYTES - 1);
            let drop = excess.div_ceil(per).clamp(1, n);
            ev.prompt_segments.truncate(n - drop);
            ev.prompt_segments_truncated = true;
            true
        }
        None => false,
    }
}

impl LlmEvent {
    /// The event as one NDJSON line (`\n`-terminated), at most [`MAX_EVENT_BYTES`] long.
    pub fn to_ndjson_line(&self) -> Vec<u8> {
        let mut ev = Cow::Borrowed(self);
        loop {
            // Sized for a typical event (2–3 KiB) so the line is not regrown while written.
            let mut line = Vec::with_capacity(4096);
            write_event(ev.as_ref(), &mut line);
            if line.len() < MAX_EVENT_BYTES || !shrink(ev.to_mut(), line.len()) {
                line.push(b'\n');
                if line.len() > MAX_EVENT_BYTES {
                    tracing::warn!(bytes = line.len(), "event over the size cap");
                }
                return line;
            }
        }
    }
}

/// The event as one JSON object, members in the contract's order: the same bytes as
/// `serde_json::to_writer(ev)` with the derived `Serialize` (a test holds the two equal),
/// without the generic serialiser's per-key escaping and per-member dispatch.
pub(crate) fn write_event(ev: &LlmEvent, out: &mut Vec<u8>) {
    let mut o = ObjectWriter::begin(out);
    o.uint("schema_version", ev.schema_version);
    o.str("event_id", &ev.event_id);
    o.str("event_type", ev.event_type.as_str());
    o.str("observed_at", &ev.observed_at);
    o.str("provider", ev.provider.as_str());
    o.str("api", ev.api.as_str());
    o.str("operation", ev.operation.as_str());
    o.opt_str("server.address", ev.server_address.as_deref());
    o.opt_uint("server.port", ev.server_port);
    o.opt_str("request.model", ev.request_model.as_deref());
    o.bool("request.stream", ev.request_stream);
    o.opt_uint("request.max_tokens", ev.request_max_tokens);
    o.uint("request.message_count", ev.request_message_count);
    o.uint("request.tool_count", ev.request_tool_count);
    o.opt_str("request.content_type", ev.request_content_type.as_deref());
    o.opt_str("request.id_hash", ev.request_id_hash.as_deref());
    o.opt_str("response.model", ev.response_model.as_deref());
    o.opt_uint("response.status", ev.response_status);
    o.opt_str("response.content_type", ev.response_content_type.as_deref());
    o.str_array(
        "response.finish_reasons",
        ev.response_finish_reasons.iter().map(String::as_str),
    );
    o.bool("usage.reported", ev.usage_reported);
    o.opt_uint("usage.input_tokens", ev.usage_input_tokens);
    o.opt_uint("usage.output_tokens", ev.usage_output_tokens);
    o.opt_uint(
        "usage.cache_read_input_tokens",
        ev.usage_cache_read_input_tokens,
    );
    o.opt_uint(
        "usage.cache_creation_input_tokens",
        ev.usage_cache_creation_input_tokens,
    );
    o.opt_uint(
        "usage.cache_creation_5m_input_tokens",
        ev.usage_cache_creation_5m_input_tokens,
    );
    o.opt_uint(
        "usage.cache_creation_1h_input_tokens",
        ev.usage_cache_creation_1h_input_tokens,
    );
    o.opt_uint(
        "usage.reasoning_output_tokens",
        ev.usage_reasoning_output_tokens,
    );
    o.bool("cost.known", ev.cost_known);
    o.opt_serde("cost.usd", ev.cost_usd.as_ref());
    o.opt_str("cost.pricing_version", ev.cost_pricing_version.as_deref());
    o.opt_str("cost.model_key", ev.cost_model_key.as_deref());
    o.opt_uint("cost.tier", ev.cost_tier);
    o.opt_object(
        "cost.breakdown",
        ev.cost_breakdown.as_ref(),
        write_breakdown,
    );
    o.opt_str("cost.unknown_reason", ev.cost_unknown_reason);
    o.opt_serde("timing.duration_ms", ev.timing_duration_ms.as_ref());
    o.opt_serde(
        "timing.time_to_first_chunk_ms",
        ev.timing_time_to_first_chunk_ms.as_ref(),
    );
    o.uint("timing.chunk_count", ev.timing_chunk_count);
    o.uint("process.pid", ev.process_pid);
    o.str("process.comm", &ev.process_comm);
    o.opt_str("prompt.fingerprint", ev.prompt_fingerprint.as_deref());
    o.uint("prompt.segment_count", ev.prompt_segment_count);
    o.object_array("prompt.segments", &ev.prompt_segments, write_segment);
    o.bool("prompt.segments_truncated", ev.prompt_segments_truncated);
    o.bool("capture.complete", ev.capture_complete);
    o.str_array(
        "capture.incomplete_reasons",
        ev.capture_incomplete_reasons.iter().copied(),
    );
    o.str_array(
        "capture.parse_errors",
        ev.capture_parse_errors.iter().copied(),
    );
    o.opt_str("error.type", ev.error_type.as_deref());
    o.opt_uint(
        "rate_limit.remaining_requests",
        ev.rate_limit_remaining_requests,
    );
    o.opt_uint("rate_limit.limit_requests", ev.rate_limit_limit_requests);
    o.opt_uint(
        "rate_limit.remaining_tokens",
        ev.rate_limit_remaining_tokens,
    );
    o.opt_uint("rate_limit.limit_tokens", ev.rate_limit_limit_tokens);
    o.opt_serde(
        "rate_limit.reset_requests_s",
        ev.rate_limit_reset_requests_s.as_ref(),
    );
    o.opt_serde(
        "rate_limit.reset_tokens_s",
        ev.rate_limit_reset_tokens_s.as_ref(),
    );
    o.opt_serde(
        "rate_limit.retry_after_s",
        ev.rate_limit_retry_after_s.as_ref(),
    );
    o.str("privacy.mode", ev.privacy_mode.as_str());
    o.bool("privacy.truncated", ev.privacy_truncated);
    o.opt_object("cache", ev.cache.as_ref(), write_cache);
    o.opt_serde("workload", ev.workload.as_ref());
    o.end();
}

fn write_segment(s: &EventSegment, o: &mut ObjectWriter<'_>) {
    o.str("kind", s.kind.as_str());
    o.opt_str("role", s.role.as_deref());
    o.uint("index", s.index);
    o.opt_uint("message_index", s.message_index);
    o.opt_str("hash", s.hash.as_deref());
    o.opt_str("chain", s.chain.as_deref());
    o.uint("bytes", s.bytes);
    o.opt_str("cache_control", s.cache_control.map(CacheTtl::as_str));
    if let Some(snippet) = &s.snippet {
        o.str("snippet", snippet);
    }
    if let Some(t) = s.snippet_truncated {
        o.bool("snippet_truncated", t);
    }
}

fn write_breakdown(b: &EventCostBreakdown, o: &mut ObjectWriter<'_>) {
    o.serde("input", &b.input);
    o.serde("cached_input", &b.cached_input);
    o.serde("cache_write_5m", &b.cache_write_5m);
    o.serde("cache_write_1h", &b.cache_write_1h);
    o.serde("output", &b.output);
    o.serde("reasoning", &b.reasoning);
}

fn write_cache(c: &CacheInsight, o: &mut ObjectWriter<'_>) {
    o.serde("status", &c.status);
    o.str("reason", c.reason.as_str());
    o.opt_uint("segment_index", c.segment_index);
    o.uint("expected_cached_tokens", c.expected_cached_tokens);
    o.opt_uint("reported_cached_tokens", c.reported_cached_tokens);
    o.uint("wasted_tokens_low", c.wasted_tokens_low);
    o.uint("wasted_tokens_high", c.wasted_tokens_high);
    o.opt_serde("wasted_usd_low", c.wasted_usd_low.as_ref());
    o.opt_serde("wasted_usd_high", c.wasted_usd_high.as_ref());
    o.serde("confidence", &c.confidence);
}
