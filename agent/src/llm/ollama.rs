//! Ollama native API: `/api/chat` and `/api/generate`, plain (`stream:false`) or NDJSON
//! streams (the default) ending in a `done:true` object with `prompt_eval_count` and
//! `eval_count`. Ollama's OpenAI-compatible `/v1` paths are parsed by `openai.rs`.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::call::{LlmCall, ParseErrorKind, SegmentKind, Usage};
use super::config::LlmConfig;
use super::scan;
use super::wire::{self, Count, Flag, Segments, Side, Str, at};
use crate::reassembly::exchange::{Response, ResponseBody};

#[derive(Deserialize)]
struct WireRequest<'a> {
    #[serde(default)]
    model: Str,
    #[serde(default)]
    stream: Flag,
    #[serde(default, borrow)]
    messages: Option<Vec<&'a RawValue>>,
    #[serde(default, borrow)]
    tools: Option<Vec<&'a RawValue>>,
    #[serde(default, borrow)]
    system: Option<&'a RawValue>,
    #[serde(default, borrow)]
    prompt: Option<&'a RawValue>,
    #[serde(default)]
    options: Option<Options>,
}

#[derive(Deserialize)]
struct Options {
    #[serde(default)]
    num_predict: Count,
}

/// Parse an `/api/chat` or `/api/generate` request body.
pub(crate) fn parse_request(call: &mut LlmCall, cfg: &LlmConfig, body: &str) {
    let Some(r) = wire::parse::<WireRequest>(call, Side::Request, body) else {
        return;
    };
    call.request.model = r.model.0;
    // Ollama streams unless told not to.
    call.request.stream = r.stream.0.unwrap_or(true);
    call.request.max_tokens = r.options.and_then(|o| o.num_predict.0);
    let tools = r.tools.unwrap_or_default();
    let messages = r.messages.unwrap_or_default();
    call.request.tool_count = wire::clamp_u32(tools.len());
    let mut seg = Segments::new(cfg.max_segment_bytes);
    for (i, t) in tools.iter().enumerate() {
        seg.push(call, at(SegmentKind::Tools, None, i), t.get());
    }
    if let Some(s) = r.system {
        seg.push(call, at(SegmentKind::System, Some("system"), 0), s.get());
    }
    for (i, m) in messages.iter().enumerate() {
        let role = scan::role_of(m.get());
        seg.push(call, at(SegmentKind::Message, role.as_deref(), i), m.get());
    }
    let mut count = messages.len();
    if let Some(p) = r.prompt {
        seg.push(call, at(SegmentKind::Message, Some("user"), 0), p.get());
        count += 1;
    }
    call.request.message_count = wire::clamp_u32(count);
}

#[derive(Deserialize)]
struct WireResponse {
    #[serde(default)]
    model: Str,
    #[serde(default)]
    done: Flag,
    #[serde(default)]
    done_reason: Str,
    #[serde(default)]
    prompt_eval_count: Count,
    #[serde(default)]
    eval_count: Count,
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
}

/// Parse an Ollama response, plain or NDJSON.
pub(crate) fn parse_response(call: &mut LlmCall, cfg: &LlmConfig, resp: &Response) {
    let mut done = false;
    match &resp.body {
        ResponseBody::Full(b) => {
            let Some(text) = wire::body_str(call, cfg, b) else {
                return;
            };
            // A `stream:true` answer may arrive unframed: treat it as NDJSON lines.
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                done |= line_into(call, line, resp.status);
            }
        }
        ResponseBody::NdJson(lines) => {
            for l in lines {
                match std::str::from_utf8(&l.line) {
                    Ok(s) if s.trim().is_empty() => {}
                    Ok(s) => done |= line_into(call, s, resp.status),
                    Err(_) => call.error(ParseErrorKind::NotUtf8),
                }
            }
        }
        _ => call.error(ParseErrorKind::UnexpectedFraming),
    }
    if !done && call.response.error_type.is_none() && resp.status < 400 {
        call.error(ParseErrorKind::StreamTruncated);
    }
}

/// Fold one object into `call`; true when it is the final (`done:true`) or an error object.
fn line_into(call: &mut LlmCall, line: &str, status: u16) -> bool {
    let Some(r) = wire::parse::<WireResponse>(call, Side::Response, line) else {
        return false;
    };
    if r.error.is_some() {
        // Ollama errors are free text: report the class only.
        call.response.error_type = Some(if status >= 400 {
            format!("http_{status}")
        } else {
            "error".into()
        });
        return true;
    }
    if call.response.model.is_none() {
        call.response.model = r.model.0;
    }
    if r.done.0 != Some(true) {
        return false;
    }
    if let Some(reason) = r.done_reason.0 {
        call.response.finish_reasons.push(reason);
    }
    let (input, output) = (r.prompt_eval_count.0, r.eval_count.0);
    if input.is_some() || output.is_some() {
        call.usage = Usage {
            reported: true,
            input_tokens: input,
            output_tokens: output,
            ..Usage::default()
        };
    }
    true
}
