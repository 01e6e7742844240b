//! Gemini `generateContent` / `streamGenerateContent` (AI Studio and Vertex AI paths): request
//! segments (tools, systemInstruction, contents), plain responses, JSON-array streams and
//! `alt=sse` streams. The model comes from the URL path (see `detect.rs`).
//!
//! Usage: `promptTokenCount` INCLUDES cached tokens; `thoughtsTokenCount` is separate from
//! `candidatesTokenCount` and billed as output, so output = candidates + thoughts. An error can
//! arrive as `{"error":…}` inside an HTTP 200 stream.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::call::{LlmCall, ParseErrorKind, SegmentKind, Usage};
use super::config::LlmConfig;
use super::scan;
use super::wire::{self, Count, Segments, Side, Str, at};
use crate::reassembly::exchange::{Response, ResponseBody};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRequest<'a> {
    #[serde(default, borrow)]
    contents: Option<Vec<&'a RawValue>>,
    #[serde(default, borrow, alias = "system_instruction")]
    system_instruction: Option<&'a RawValue>,
    #[serde(default, borrow)]
    tools: Option<Vec<&'a RawValue>>,
    #[serde(default, alias = "generation_config")]
    generation_config: Option<GenerationConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    #[serde(default, alias = "max_output_tokens")]
    max_output_tokens: Count,
}

/// Parse a `generateContent` request body.
pub(crate) fn parse_request(call: &mut LlmCall, cfg: &LlmConfig, body: &str) {
    let Some(r) = wire::parse::<WireRequest>(call, Side::Request, body) else {
        return;
    };
    call.request.max_tokens = r.generation_config.and_then(|g| g.max_output_tokens.0);
    let tools = r.tools.unwrap_or_default();
    let contents = r.contents.unwrap_or_default();
    call.request.tool_count = wire::clamp_u32(tools.len());
    call.request.message_count = wire::clamp_u32(contents.len());
    let mut seg = Segments::new(cfg.max_segment_bytes);
    for (i, t) in tools.iter().enumerate() {
        seg.push(call, at(SegmentKind::Tools, None, i), t.get());
    }
    if let Some(s) = r.system_instruction {
        seg.push(call, at(SegmentKind::System, Some("system"), 0), s.get());
    }
    for (i, c) in contents.iter().enumerate() {
        let role = scan::role_of(c.get());
        seg.push(call, at(SegmentKind::Message, role.as_deref(), i), c.get());
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireResponse {
    #[serde(default)]
    candidates: Option<Vec<Candidate>>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    model_version: Str,
    #[serde(default)]
    error: Option<WireError>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    finish_reason: Str,
}

#[derive(Deserialize)]
struct WireError {
    #[serde(default)]
    code: Count,
    #[serde(default)]
    status: Str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: Count,
    #[serde(default)]
    candidates_token_count: Count,
    #[serde(default)]
    cached_content_token_count: Count,
    #[serde(default)]
    thoughts_token_count: Count,
    #[serde(default)]
    tool_use_prompt_token_count: Count,
}

impl UsageMetadata {
    fn normalise(&self) -> Usage {
        let input = match (
            self.prompt_token_count.0,
            self.tool_use_prompt_token_count.0,
        ) {
            (Some(p), t) => Some(p.saturating_add(t.unwrap_or(0))),
            (None, t) => t,
        };
        let output = match (self.candidates_token_count.0, self.thoughts_token_count.0) {
            (None, None) => None,
            (c, t) => Some(c.unwrap_or(0).saturating_add(t.unwrap_or(0))),
        };
        Usage {
            reported: input.is_some() || output.is_some(),
            input_tokens: input,
            output_tokens: output,
            cache_read_input_tokens: self.cached_content_token_count.0,
            reasoning_output_tokens: self.thoughts_token_count.0,
            ..Usage::default()
        }
    }
}

/// Parse a Gemini response: one object, a JSON array of chunks, or SSE chunks.
pub(crate) fn parse_response(call: &mut LlmCall, cfg: &LlmConfig, resp: &Response) {
    let mut finished = false;
    match &resp.body {
        ResponseBody::Full(b) => {
            let Some(text) = wire::response_json(call, cfg, resp.status, b) else {
                return;
            };
            if text.trim_start().starts_with('[') {
                let chunks = wire::parse_any::<Vec<&RawValue>>(call, Side::Response, text);
                for raw in chunks.unwrap_or_default() {
                    if let Some(c) = wire::parse::<WireResponse>(call, Side::Response, raw.get()) {
                        apply(call, c);
                    }
                }
            } else if let Some(r) = wire::parse::<WireResponse>(call, Side::Response, text) {
                apply(call, r);
            }
            return;
        }
        ResponseBody::Sse(events) => {
            for ev in events {
                let text = ev.text();
                if text.trim().is_empty() {
                    continue;
                }
                if let Some(c) = wire::parse::<WireResponse>(call, Side::Response, &text) {
                    finished |= apply(call, c);
                }
            }
        }
        _ => call.error(ParseErrorKind::UnexpectedFraming),
    }
    if !finished && call.response.error_type.is_none() {
        call.error(ParseErrorKind::StreamTruncated);
    }
}

/// Fold one chunk into `call`; true when it ended the stream (finish reason or error).
fn apply(call: &mut LlmCall, r: WireResponse) -> bool {
    let mut ended = false;
    if call.response.model.is_none() {
        call.response.model = r.model_version.0;
    }
    for c in r.candidates.into_iter().flatten() {
        if let Some(f) = c.finish_reason.0 {
            call.response.finish_reasons.push(f);
            ended = true;
        }
    }
    if let Some(u) = r.usage_metadata {
        let u = u.normalise();
        if u.reported {
            call.usage = u;
        }
    }
    if let Some(e) = r.error {
        call.response.error_type = wire::error_class(e.status.0.as_deref())
            .or(e.code.0.map(|c| format!("http_{c}")))
            .or(Some("error".into()));
        ended = true;
    }
    ended
}
