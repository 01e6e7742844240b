//! Amazon Bedrock runtime: Converse / ConverseStream (usage in the `metadata` event of the
//! event stream) and InvokeModel / InvokeModelWithResponseStream with Anthropic bodies (stream
//! `chunk` events carry base64 Anthropic SSE payloads). The binary event-stream framing is
//! decoded by reassembly; we get its messages.
//!
//! Converse `inputTokens` EXCLUDES cache reads and writes (`totalTokens` adds them), so input is
//! reported as inputTokens + cacheReadInputTokens + cacheWriteInputTokens.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::anthropic;
use super::call::{Api, CacheControl, CacheTtl, LlmCall, ParseErrorKind, SegmentKind, Usage};
use super::config::LlmConfig;
use super::scan;
use super::wire::{self, Count, SegmentAt, Segments, Side, Str};
use crate::reassembly::exchange::{EventStreamMessage, Headers, Response, ResponseBody};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseRequest<'a> {
    #[serde(default, borrow)]
    messages: Option<Vec<&'a RawValue>>,
    #[serde(default, borrow)]
    system: Option<Vec<&'a RawValue>>,
    #[serde(default, borrow)]
    tool_config: Option<ToolConfig<'a>>,
    #[serde(default)]
    inference_config: Option<InferenceConfig>,
}

#[derive(Deserialize)]
struct ToolConfig<'a> {
    #[serde(default, borrow)]
    tools: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InferenceConfig {
    #[serde(default)]
    max_tokens: Count,
}

/// Parse a Converse or InvokeModel request body.
pub(crate) fn parse_request(call: &mut LlmCall, cfg: &LlmConfig, body: &str) {
    if call.api == Api::BedrockInvoke {
        // Anthropic bodies (`anthropic_version`, `messages`); other families yield little.
        anthropic::parse_request(call, cfg, body);
        return;
    }
    let Some(r) = wire::parse::<ConverseRequest>(call, Side::Request, body) else {
        return;
    };
    call.request.max_tokens = r.inference_config.and_then(|c| c.max_tokens.0);
    let tools = r.tool_config.and_then(|t| t.tools).unwrap_or_default();
    let messages = r.messages.unwrap_or_default();
    let mut seg = Segments::new(cfg.max_segment_bytes);
    let mut n_tools = 0;
    n_tools += items(call, &mut seg, &tools, SegmentKind::Tools, None);
    items(
        call,
        &mut seg,
        &r.system.unwrap_or_default(),
        SegmentKind::System,
        Some("system"),
    );
    call.request.tool_count = wire::clamp_u32(n_tools);
    call.request.message_count = wire::clamp_u32(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let role = scan::role_of(m.get());
        let cache_control = m.get().contains("\"cachePoint\"").then_some(FIVE_MINUTES);
        let at = SegmentAt {
            kind: SegmentKind::Message,
            role: role.as_deref(),
            index: i,
            message_index: None,
            cache_control,
        };
        seg.push(call, at, m.get());
    }
}

const FIVE_MINUTES: CacheControl = CacheControl {
    ttl: CacheTtl::FiveMinutes,
};

/// Push list entries as segments; a `{"cachePoint":…}` entry marks the previous segment instead.
/// Returns the number of non-marker entries.
fn items(
    call: &mut LlmCall,
    seg: &mut Segments,
    list: &[&RawValue],
    kind: SegmentKind,
    role: Option<&str>,
) -> usize {
    let mut n = 0;
    for raw in list {
        if raw.get().trim_start().starts_with("{\"cachePoint\"") {
            if let Some(last) = call.request.segments.last_mut().filter(|s| s.kind == kind) {
                last.cache_control = Some(FIVE_MINUTES);
            }
            continue;
        }
        let at = SegmentAt {
            kind,
            role,
            index: n,
            message_index: None,
            cache_control: None,
        };
        seg.push(call, at, raw.get());
        n += 1;
    }
    n
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseEvent {
    #[serde(default)]
    stop_reason: Str,
    #[serde(default)]
    usage: Option<ConverseUsage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseUsage {
    #[serde(default)]
    input_tokens: Count,
    #[serde(default)]
    output_tokens: Count,
    #[serde(default)]
    cache_read_input_tokens: Count,
    #[serde(default)]
    cache_write_input_tokens: Count,
}

impl ConverseUsage {
    fn normalise(&self) -> Usage {
        let cache = self
            .cache_read_input_tokens
            .0
            .unwrap_or(0)
            .saturating_add(self.cache_write_input_tokens.0.unwrap_or(0));
        Usage {
            reported: self.input_tokens.0.is_some() || self.output_tokens.0.is_some(),
            input_tokens: self.input_tokens.0.map(|i| i.saturating_add(cache)),
            output_tokens: self.output_tokens.0,
            cache_read_input_tokens: self.cache_read_input_tokens.0,
            cache_creation_input_tokens: self.cache_write_input_tokens.0,
            ..Usage::default()
        }
    }
}

#[derive(Deserialize)]
struct InvokeChunk {
    #[serde(default)]
    bytes: Str,
}

/// Parse a Converse or InvokeModel response, plain or event-stream.
pub(crate) fn parse_response(call: &mut LlmCall, cfg: &LlmConfig, resp: &Response) {
    if let Some(t) = resp.headers.get("x-amzn-errortype") {
        call.response.error_type = wire::error_class(t.split(':').next());
    }
    match (&resp.body, call.api) {
        (ResponseBody::Full(b), api) => {
            let Some(text) = wire::body_str(call, cfg, b).filter(|_| resp.status < 400) else {
                header_usage(call, &resp.headers);
                return;
            };
            if api == Api::BedrockInvoke {
                let mut st = anthropic::Stream::default();
                st.event(call, text);
                call.usage = st.usage();
            } else if let Some(e) = wire::parse::<ConverseEvent>(call, Side::Response, text) {
                converse_event(call, e);
            }
            header_usage(call, &resp.headers);
        }
        (ResponseBody::EventStream(msgs), Api::BedrockConverse) => {
            let mut finished = false;
            for m in msgs {
                if exception(call, m) {
                    finished = true;
                    continue;
                }
                let Some(text) = payload_str(call, m) else {
                    continue;
                };
                if let Some(e) = wire::parse::<ConverseEvent>(call, Side::Response, text) {
                    finished |= m.event_type.as_deref() == Some("metadata");
                    converse_event(call, e);
                }
            }
            if !finished {
                call.error(ParseErrorKind::StreamTruncated);
            }
        }
        (ResponseBody::EventStream(msgs), _) => {
            let mut st = anthropic::Stream::default();
            let mut errored = false;
            for m in msgs {
                if exception(call, m) {
                    errored = true;
                    continue;
                }
                let Some(text) = payload_str(call, m) else {
                    continue;
                };
                let Some(chunk) = wire::parse::<InvokeChunk>(call, Side::Response, text) else {
                    continue;
                };
                match chunk.bytes.0.as_deref().map(base64_decode) {
                    Some(Some(json)) => match std::str::from_utf8(&json) {
                        Ok(s) => st.event(call, s),
                        Err(_) => call.error(ParseErrorKind::NotUtf8),
                    },
                    _ => call.error(ParseErrorKind::EventPayload),
                }
            }
            if !st.stopped && !errored {
                call.error(ParseErrorKind::StreamTruncated);
            }
            call.usage = st.usage();
        }
        _ => call.error(ParseErrorKind::UnexpectedFraming),
    }
}

fn converse_event(call: &mut LlmCall, e: ConverseEvent) {
    if let Some(r) = e.stop_reason.0 {
        call.response.finish_reasons.push(r);
    }
    if let Some(u) = e.usage {
        let u = u.normalise();
        if u.reported {
            call.usage = u;
        }
    }
}

/// An `exception` / `error` message: record its class, return true.
fn exception(call: &mut LlmCall, m: &EventStreamMessage) -> bool {
    if !matches!(m.message_type.as_deref(), Some("exception" | "error")) {
        return false;
    }
    call.response.error_type = wire::error_class(m.event_type.as_deref()).or(Some("error".into()));
    true
}

fn payload_str<'m>(call: &mut LlmCall, m: &'m EventStreamMessage) -> Option<&'m str> {
    match std::str::from_utf8(&m.payload) {
        Ok(s) if !s.trim().is_empty() => Some(s),
        Ok(_) => None,
        Err(_) => {
            call.error(ParseErrorKind::NotUtf8);
            None
        }
    }
}

/// Usage from `x-amzn-bedrock-{input,output}-token-count` when the body gave none.
fn header_usage(call: &mut LlmCall, h: &Headers) {
    if call.usage.reported {
        return;
    }
    let n = |name| h.get(name).and_then(|v| v.trim().parse::<u64>().ok());
    let (input, output) = (
        n("x-amzn-bedrock-input-token-count"),
        n("x-amzn-bedrock-output-token-count"),
    );
    if input.is_some() || output.is_some() {
        let cache_read = n("x-amzn-bedrock-cache-read-input-token-count");
        let cache_write = n("x-amzn-bedrock-cache-write-input-token-count");
        let cache = cache_read
            .unwrap_or(0)
            .saturating_add(cache_write.unwrap_or(0));
        call.usage = Usage {
            reported: true,
            input_tokens: input.map(|i| i.saturating_add(cache)),
            output_tokens: output,
            cache_read_input_tokens: cache_read,
            cache_creation_input_tokens: cache_write,
            ..Usage::default()
        };
    }
}

/// Standard base64 (padding optional); `None` on any invalid byte.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim().trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 3);
    for chunk in s.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(&bytes[1..4]),
            3 => out.extend_from_slice(&bytes[1..3]),
            2 => out.push(bytes[1]),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::base64_decode;

    #[test]
    fn base64() {
        assert_eq!(base64_decode("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64_decode("aGk").as_deref(), Some(&b"hi"[..]));
        assert_eq!(base64_decode("a"), None);
        assert_eq!(base64_decode("a*=="), None);
    }
}
