//! [`build_event`]: [`LlmCall`] + [`ExchangeMeta`] + cost + [`Privacy`] → [`LlmEvent`].
//! Every string copied from traffic is bounded and, where it is a class or code, reduced to a
//! safe alphabet; no header outside the privacy allowlist is read.

use std::fmt;
use std::time::SystemTime;

use pricing::{CostOutcome, UnknownReason};

use super::{EventCostBreakdown, EventSegment, EventType, LlmEvent, SCHEMA_VERSION, id, time};
use crate::llm::{JsonErrorClass, LlmCall, ParseErrorKind};
use crate::privacy::redact::{self, MAX_SNIPPET_CHARS};
use crate::privacy::{Privacy, PrivacyMode, headers};
use crate::reassembly::exchange::{Exchange, IncompleteReason};

/// Longest model name, host, or process name kept.
const MAX_NAME_CHARS: usize = 256;
/// Longest class/code string kept (`error.type`, finish reasons, roles).
const MAX_CODE_CHARS: usize = 64;
/// Most finish reasons kept.
const MAX_FINISH_REASONS: usize = 8;
/// Most prompt segments described in one event (the event size cap may keep fewer).
pub(crate) const MAX_SEGMENTS: usize = 64;

/// What the event needs from the exchange besides the [`LlmCall`]: process, completeness,
/// observation time and the allowlisted headers. `Debug` hides the request id.
#[derive(Clone)]
pub struct ExchangeMeta {
    /// Process id.
    pub pid: u32,
    /// Process command name.
    pub comm: String,
    /// The exchange was observed whole.
    pub complete: bool,
    /// Why not, as codes (`gap`, `connection_ended`, …).
    pub incomplete_reasons: Vec<&'static str>,
    /// Wall-clock time the exchange was observed (completed).
    pub observed_at: SystemTime,
    /// Request `content-type`, reduced to `type/subtype`.
    pub request_content_type: Option<String>,
    /// Response `content-type`, reduced to `type/subtype`.
    pub response_content_type: Option<String>,
    /// Request-id response header; reaches events only as a keyed hash.
    pub request_id: Option<String>,
}

impl fmt::Debug for ExchangeMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeMeta")
            .field("pid", &self.pid)
            .field("comm", &self.comm)
            .field("complete", &self.complete)
            .field("incomplete_reasons", &self.incomplete_reasons)
            .field("observed_at", &self.observed_at)
            .field("request_content_type", &self.request_content_type)
            .field("response_content_type", &self.response_content_type)
            .field(
                "request_id",
                &self.request_id.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

fn incomplete_code(r: &IncompleteReason) -> &'static str {
    match r {
        IncompleteReason::Gap { .. } => "gap",
        IncompleteReason::HeadersUnavailable => "headers_unavailable",
        IncompleteReason::ConnectionEnded => "connection_ended",
        IncompleteReason::BoundExceeded => "bound_exceeded",
        IncompleteReason::StreamReset => "stream_reset",
        IncompleteReason::Malformed(_) => "malformed",
    }
}

impl ExchangeMeta {
    /// Metadata of `ex`, observed at `observed_at`. Reads only allowlisted headers.
    pub fn from_exchange(ex: &Exchange, observed_at: SystemTime) -> Self {
        let mut reasons: Vec<&'static str> = Vec::new();
        for r in &ex.completeness.reasons {
            let code = incomplete_code(r);
            if !reasons.contains(&code) {
                reasons.push(code);
            }
        }
        let resp_headers = ex.response.as_ref().map(|r| &r.headers);
        ExchangeMeta {
            pid: ex.process.pid,
            comm: ex.process.comm.to_string(),
            complete: ex.completeness.complete,
            incomplete_reasons: reasons,
            observed_at,
            request_content_type: headers::media_type(&ex.request.headers),
            response_content_type: resp_headers.and_then(headers::media_type),
            request_id: resp_headers
                .and_then(headers::request_id)
                .or_else(|| headers::request_id(&ex.request.headers))
                .map(str::to_owned),
        }
    }
}

/// At most `max` chars of `s`, control characters removed.
fn bounded(s: &str, max: usize) -> String {
    // Printable ASCII within the bound (a process name, an error class) is copied as it is.
    if s.len() <= max && s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return s.to_owned();
    }
    let clean: String = s.chars().filter(|c| !c.is_control()).collect();
    redact::truncate_chars(&clean, max).0.to_owned()
}

/// A name (model, host, price key): at most `max` chars of `[A-Za-z0-9._:/@+=-\[\]]`, other
/// characters replaced by `_`; `None` when empty.
fn name(s: &str, max: usize) -> Option<String> {
    let s = s.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._:/@+=-[]".contains(c);
    // Almost every name is already clean ASCII: copy it once.
    if s.len() <= max && s.bytes().all(|b| allowed(char::from(b))) {
        return (!s.is_empty()).then(|| s.to_owned());
    }
    let out: String = s
        .chars()
        .take(max)
        .map(|c| if allowed(c) { c } else { '_' })
        .collect();
    (!out.is_empty()).then_some(out)
}

/// A class/code string: lower-cased `[a-z0-9_.:-]`, bounded; anything else becomes `other`.
fn code(s: &str) -> String {
    let lower = s.trim().to_ascii_lowercase();
    let ok = !lower.is_empty()
        && lower.len() <= MAX_CODE_CHARS
        && lower
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
    if ok { lower } else { "other".to_owned() }
}

fn parse_error_code(k: ParseErrorKind) -> &'static str {
    use JsonErrorClass as J;
    use ParseErrorKind as P;
    match k {
        P::RequestJson(J::Syntax) => "request_json.syntax",
        P::RequestJson(J::Data) => "request_json.data",
        P::RequestJson(J::Eof) => "request_json.eof",
        P::RequestJson(J::TooDeep) => "request_json.too_deep",
        P::ResponseJson(J::Syntax) => "response_json.syntax",
        P::ResponseJson(J::Data) => "response_json.data",
        P::ResponseJson(J::Eof) => "response_json.eof",
        P::ResponseJson(J::TooDeep) => "response_json.too_deep",
        P::NotUtf8 => "not_utf8",
        P::BodyTooLarge => "body_too_large",
        P::SegmentsTruncated => "segments_truncated",
        P::UnexpectedFraming => "unexpected_framing",
        P::ResponseMissing => "response_missing",
        P::Incomplete => "incomplete",
        P::StreamTruncated => "stream_truncated",
        P::EventPayload => "event_payload",
    }
}

fn ms(ns: Option<u64>) -> Option<f64> {
    ns.map(|n| (n as f64 / 1000.0).round() / 1000.0)
}

/// A finite, non-negative number of seconds, else `None`.
fn seconds(s: Option<f64>) -> Option<f64> {
    s.filter(|v| v.is_finite() && *v >= 0.0)
}

/// USD rounded to 1e-10 (sub-nano-dollar), so sums print without float noise.
fn usd(x: f64) -> f64 {
    (x * 1e10).round() / 1e10
}

fn unknown_reason(r: &UnknownReason) -> &'static str {
    match r {
        UnknownReason::UnmatchedModel => "unmatched_model",
        UnknownReason::NoUsage => "no_usage",
    }
}

/// Build the event for `call`. `cost` is `None` when the call was not priced at all.
pub fn build_event(
    call: &LlmCall,
    meta: &ExchangeMeta,
    cost: Option<&CostOutcome>,
    privacy: &Privacy,
) -> LlmEvent {
    let hashes = privacy.hasher().hash_prompt(&call.request.segments);
    let snippets = privacy.mode() == PrivacyMode::Snippets;
    let segments: Vec<EventSegment> = call
        .request
        .segments
        .iter()
        .zip(hashes.segments)
        .take(MAX_SEGMENTS)
        .map(|(seg, h)| {
            let snip = snippets.then(|| {
                redact::snippet(
                    &redact::readable_text(&seg.text),
                    MAX_SNIPPET_CHARS,
                    seg.text_truncated,
                )
            });
            EventSegment {
                kind: seg.kind,
                role: seg.role.as_deref().map(code),
                index: seg.index,
                message_index: seg.message_index,
                hash: h.hash,
                chain: h.chain,
                bytes: seg.text.len() as u64,
                cache_control: seg.cache_control.map(|c| c.ttl),
                snippet_truncated: snip.as_ref().map(|(_, t)| *t || seg.text_truncated),
                snippet: snip.map(|(s, _)| s),
            }
        })
        .collect();
    let (known, unknown) = match cost {
        Some(CostOutcome::Known(c)) => (Some(c), None),
        Some(CostOutcome::Unknown { reason }) => (None, Some(unknown_reason(reason))),
        None => (None, Some("not_priced")),
    };
    let r = &call.response;
    let rl = &r.rate_limit;
    let u = &call.usage;
    let event = LlmEvent {
        schema_version: SCHEMA_VERSION,
        event_id: id::event_id_text(meta.observed_at),
        event_type: EventType::LlmExchange,
        observed_at: time::rfc3339_millis(meta.observed_at),
        provider: call.provider,
        api: call.api,
        operation: call.operation,
        server_address: call.server_address.as_deref().and_then(|s| name(s, 253)),
        server_port: call.server_port,
        request_model: call
            .request
            .model
            .as_deref()
            .and_then(|s| name(s, MAX_NAME_CHARS)),
        request_stream: call.request.stream,
        request_max_tokens: call.request.max_tokens,
        request_message_count: call.request.message_count,
        request_tool_count: call.request.tool_count,
        request_content_type: meta.request_content_type.clone(),
        request_id_hash: meta
            .request_id
            .as_deref()
            .map(|v| privacy.hasher().hash_id(v)),
        response_model: r.model.as_deref().and_then(|s| name(s, MAX_NAME_CHARS)),
        response_status: (100..=999).contains(&r.status).then_some(r.status),
        response_content_type: meta.response_content_type.clone(),
        response_finish_reasons: r
            .finish_reasons
            .iter()
            .take(MAX_FINISH_REASONS)
            .map(|s| code(s))
            .collect(),
        usage_reported: u.reported,
        usage_input_tokens: u.input_tokens,
        usage_output_tokens: u.output_tokens,
        usage_cache_read_input_tokens: u.cache_read_input_tokens,
        usage_cache_creation_input_tokens: u.cache_creation_input_tokens,
        usage_cache_creation_5m_input_tokens: u.cache_creation_5m,
        usage_cache_creation_1h_input_tokens: u.cache_creation_1h,
        usage_reasoning_output_tokens: u.reasoning_output_tokens,
        cost_known: known.is_some(),
        cost_usd: known.map(|c| usd(c.usd)),
        cost_pricing_version: known.map(|c| bounded(&c.pricing_version, MAX_CODE_CHARS)),
        cost_model_key: known.and_then(|c| name(&c.model_key, MAX_NAME_CHARS)),
        cost_tier: known.and_then(|c| c.tier),
        cost_breakdown: known.map(|c| EventCostBreakdown {
            input: usd(c.breakdown.input),
            cached_input: usd(c.breakdown.cached_input),
            cache_write_5m: usd(c.breakdown.cache_write_5m),
            cache_write_1h: usd(c.breakdown.cache_write_1h),
            output: usd(c.breakdown.output),
            reasoning: usd(c.breakdown.reasoning),
        }),
        cost_unknown_reason: unknown,
        timing_duration_ms: ms(call.timing.duration_ns),
        timing_time_to_first_chunk_ms: ms(call.timing.time_to_first_chunk_ns),
        timing_chunk_count: call.timing.chunk_count,
        process_pid: meta.pid,
        process_comm: bounded(&meta.comm, 16),
        prompt_fingerprint: hashes.fingerprint,
        prompt_segment_count: u32::try_from(call.request.segments.len()).unwrap_or(u32::MAX),
        prompt_segments_truncated: call.request.segments.len() > segments.len(),
        prompt_segments: segments,
        capture_complete: meta.complete,
        capture_incomplete_reasons: meta.incomplete_reasons.clone(),
        capture_parse_errors: call
            .parse_errors
            .iter()
            .map(|k| parse_error_code(*k))
            .collect(),
        error_type: r.error_type.as_deref().map(code),
        rate_limit_remaining_requests: rl.remaining_requests,
        rate_limit_limit_requests: rl.limit_requests,
        rate_limit_remaining_tokens: rl.remaining_tokens,
        rate_limit_limit_tokens: rl.limit_tokens,
        rate_limit_reset_requests_s: seconds(rl.reset_requests_s),
        rate_limit_reset_tokens_s: seconds(rl.reset_tokens_s),
        rate_limit_retry_after_s: seconds(r.retry_after_s),
        privacy_mode: privacy.mode(),
        privacy_truncated: false,
        cache: None,
        workload: None,
    };
    tracing::debug!(
        event_id = %event.event_id,
        provider = call.provider.as_str(),
        segments = event.prompt_segment_count,
        cost_known = event.cost_known,
        mode = privacy.mode().as_str(),
        "event built"
    );
    event
}

/// The LLM stage's usage (already in OpenTelemetry semantics) as the pricing crate's input.
pub fn pricing_usage(u: &crate::llm::Usage) -> pricing::Usage {
    pricing::Usage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cache_read_input_tokens: u.cache_read_input_tokens,
        cache_creation_input_tokens: u.cache_creation_input_tokens,
        cache_creation_5m: u.cache_creation_5m,
        cache_creation_1h: u.cache_creation_1h,
        reasoning_output_tokens: u.reasoning_output_tokens,
    }
}

/// Price `call` with `table`: the response model when known, else the requested one.
pub fn price_call(call: &LlmCall, table: &pricing::PriceTable) -> Option<CostOutcome> {
    let model = call
        .response
        .model
        .as_deref()
        .or(call.request.model.as_deref())?;
    Some(table.cost(call.provider.as_str(), model, &pricing_usage(&call.usage)))
}
