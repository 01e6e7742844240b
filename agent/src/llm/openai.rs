//! OpenAI wire formats: Chat Completions, Responses, Embeddings and legacy Completions, as spoken
//! by OpenAI and the compatible servers (vLLM `choices: null`, Groq `x_groq.usage`, OpenRouter,
//! Mistral, DeepSeek cache-hit fields, Together, LiteLLM, Ollama's `/v1`). Azure specifics are
//! in `azure.rs`; detection is in `detect.rs`.
//!
//! Usage: `prompt_tokens` / `input_tokens` already INCLUDE cached tokens.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::call::{Api, LlmCall, ParseErrorKind, SegmentKind, Usage};
use super::config::LlmConfig;
use super::scan;
use super::skim::{self, Key, KeySet, Live};
use super::wire::{self, Count, Flag, Segments, Side, Str, at};
use crate::reassembly::exchange::{Response, ResponseBody, SseEvents};
use std::sync::LazyLock;

#[derive(Deserialize)]
struct WireRequest<'a> {
    #[serde(default)]
    model: Str,
    #[serde(default)]
    stream: Flag,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    max_tokens: Count,
    #[serde(default)]
    max_completion_tokens: Count,
    #[serde(default)]
    max_output_tokens: Count,
    #[serde(default, borrow)]
    tools: Option<Vec<&'a RawValue>>,
    #[serde(default, borrow)]
    functions: Option<Vec<&'a RawValue>>,
    #[serde(default, borrow)]
    messages: Option<Vec<&'a RawValue>>,
    #[serde(default, borrow)]
    instructions: Option<&'a RawValue>,
    #[serde(default, borrow)]
    input: Option<&'a RawValue>,
    #[serde(default, borrow)]
    prompt: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Flag,
}

/// Parse a request body of any OpenAI-style API.
pub(crate) fn parse_request(call: &mut LlmCall, cfg: &LlmConfig, body: &str) {
    let Some(r) = wire::parse::<WireRequest>(call, Side::Request, body) else {
        return;
    };
    let req = &mut call.request;
    req.model = r.model.0.or(req.model.take());
    req.stream |= r.stream.0.unwrap_or(false);
    req.include_usage = r
        .stream_options
        .and_then(|o| o.include_usage.0)
        .unwrap_or(false);
    req.max_tokens = r
        .max_completion_tokens
        .0
        .or(r.max_tokens.0)
        .or(r.max_output_tokens.0);
    let tools: Vec<&RawValue> = r.tools.into_iter().chain(r.functions).flatten().collect();
    req.tool_count = wire::clamp_u32(tools.len());
    let mut seg = Segments::new(cfg.max_segment_bytes);
    if call.api == Api::Embeddings {
        // Embedding inputs are not a cacheable prompt: only count them.
        call.request.message_count = match r.input.map(|i| i.get().trim_start().starts_with('[')) {
            Some(true) => serde_json::from_str::<Vec<&RawValue>>(r.input.map_or("[]", |i| i.get()))
                .map_or(0, |v| wire::clamp_u32(v.len())),
            Some(false) => 1,
            None => 0,
        };
        return;
    }
    for (i, t) in tools.iter().enumerate() {
        seg.push(call, at(SegmentKind::Tools, None, i), t.get());
    }
    if let Some(ins) = r.instructions {
        seg.push(call, at(SegmentKind::System, Some("system"), 0), ins.get());
    }
    let items: Vec<&RawValue> = match (r.messages, r.input.or(r.prompt)) {
        (Some(m), _) => m,
        (None, Some(v)) if v.get().trim_start().starts_with('[') => {
            match serde_json::from_str::<Vec<&RawValue>>(v.get()) {
                Ok(items) => items,
                Err(e) => {
                    call.error(ParseErrorKind::RequestJson(
                        super::call::JsonErrorClass::of(&e),
                    ));
                    Vec::new()
                }
            }
        }
        (None, Some(v)) => vec![v],
        (None, None) => Vec::new(),
    };
    call.request.message_count = wire::clamp_u32(items.len());
    for (i, m) in items.iter().enumerate() {
        let role = scan::role_of(m.get());
        let kind = match role.as_deref() {
            Some("system" | "developer") => SegmentKind::System,
            _ => SegmentKind::Message,
        };
        seg.push(call, at(kind, role.as_deref(), i), m.get());
    }
}

#[derive(Deserialize, Default)]
struct WireResponse {
    #[serde(default)]
    model: Str,
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    x_groq: Option<XGroq>,
    #[serde(default)]
    error: Option<WireError>,
    // Responses API.
    #[serde(default, rename = "type")]
    kind: Str,
    #[serde(default)]
    code: Str,
    #[serde(default)]
    status: Str,
    #[serde(default)]
    incomplete_details: Option<Incomplete>,
    #[serde(default)]
    response: Option<Box<WireResponse>>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    finish_reason: Str,
}

#[derive(Deserialize)]
struct XGroq {
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Incomplete {
    #[serde(default)]
    reason: Str,
}

/// `{type, code}` of an error object.
#[derive(Deserialize)]
pub(crate) struct WireError {
    #[serde(default, rename = "type")]
    pub kind: Str,
    #[serde(default)]
    pub code: Str,
}

#[derive(Deserialize, Default)]
struct Details {
    #[serde(default)]
    cached_tokens: Count,
    #[serde(default)]
    reasoning_tokens: Count,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Count,
    #[serde(default)]
    completion_tokens: Count,
    #[serde(default)]
    input_tokens: Count,
    #[serde(default)]
    output_tokens: Count,
    #[serde(default)]
    prompt_tokens_details: Option<Details>,
    #[serde(default)]
    input_tokens_details: Option<Details>,
    #[serde(default)]
    completion_tokens_details: Option<Details>,
    #[serde(default)]
    output_tokens_details: Option<Details>,
    /// DeepSeek.
    #[serde(default)]
    prompt_cache_hit_tokens: Count,
}

impl WireUsage {
    fn normalise(&self, api: Api) -> Usage {
        let d = |o: &Option<Details>| {
            o.as_ref()
                .map(|d| (d.cached_tokens.0, d.reasoning_tokens.0))
        };
        let input = self.prompt_tokens.0.or(self.input_tokens.0);
        let output = match api {
            Api::Embeddings => None,
            _ => self.completion_tokens.0.or(self.output_tokens.0),
        };
        let cached = d(&self.prompt_tokens_details)
            .or(d(&self.input_tokens_details))
            .and_then(|(c, _)| c)
            .or(self.prompt_cache_hit_tokens.0);
        let reasoning = d(&self.completion_tokens_details)
            .or(d(&self.output_tokens_details))
            .and_then(|(_, r)| r);
        Usage {
            reported: input.is_some() || output.is_some(),
            input_tokens: input,
            output_tokens: output,
            cache_read_input_tokens: cached,
            reasoning_output_tokens: reasoning,
            ..Usage::default()
        }
    }
}

/// Parse the response of any OpenAI-style API, plain or streamed.
pub(crate) fn parse_response(call: &mut LlmCall, cfg: &LlmConfig, resp: &Response) {
    match &resp.body {
        ResponseBody::Full(b) => {
            let Some(text) = wire::response_json(call, cfg, resp.status, b) else {
                return;
            };
            if let Some(r) = wire::parse::<WireResponse>(call, Side::Response, text) {
                apply(call, r);
            }
        }
        ResponseBody::Sse(events) => parse_stream(call, events),
        _ => call.error(ParseErrorKind::UnexpectedFraming),
    }
}

/// Every key [`apply`] reads besides `model`; a stream chunk with none of them (a content
/// delta) changes nothing once the model is known, and is skimmed, not parsed. `code` and
/// `incomplete_details` are read too, but only next to `type` and `status`, which are listed;
/// leaving them out keeps `"content"` and `"index"`, in every delta, from looking like
/// candidates to the search.
static STREAM_KEYS: LazyLock<KeySet> = LazyLock::new(|| KeySet::new(STREAM_KEY_LIST));
const STREAM_KEY_LIST: &[Key] = &[
    Key {
        name: "finish_reason",
        live: Live::NonNull,
    },
    Key {
        name: "usage",
        live: Live::NonNull,
    },
    Key {
        name: "x_groq",
        live: Live::NonNull,
    },
    Key {
        name: "error",
        live: Live::NonNull,
    },
    Key {
        name: "type",
        live: Live::NonNull,
    },
    Key {
        name: "status",
        live: Live::NonNull,
    },
    Key {
        name: "response",
        live: Live::NonNull,
    },
];

fn parse_stream(call: &mut LlmCall, events: &SseEvents) {
    let mut finished = false;
    let parse = skim::events_to_parse(events, &STREAM_KEYS);
    for (ev, parse) in events.iter().zip(parse) {
        if call.response.model.is_some() && !parse {
            continue;
        }
        let text = ev.text();
        let data = text.trim();
        if data.is_empty() {
            continue;
        }
        if data == "[DONE]" {
            finished = true;
            continue;
        }
        let Some(chunk) = wire::parse::<WireResponse>(call, Side::Response, data) else {
            continue;
        };
        let kind = chunk.kind.0.as_deref().unwrap_or("");
        if matches!(
            kind,
            "response.completed" | "response.incomplete" | "response.failed"
        ) {
            finished = true;
        }
        apply(call, chunk);
    }
    if !finished {
        call.error(ParseErrorKind::StreamTruncated);
    }
}

/// Fold one response object or stream chunk into `call`. Later usage replaces earlier usage.
fn apply(call: &mut LlmCall, r: WireResponse) {
    let nested = r.response.is_some();
    if let Some(inner) = r.response {
        // Responses API stream event wrapping the whole response.
        apply(call, *inner);
    }
    if r.kind.0.as_deref() == Some("error") {
        // Responses API stream `error` event: `{type:"error", code, message}`.
        call.response.error_type = wire::error_class(r.code.0.as_deref()).or(Some("error".into()));
    }
    if call.response.model.is_none() {
        call.response.model = r.model.0.filter(|m| !m.is_empty());
    }
    for c in r.choices.into_iter().flatten() {
        if let Some(f) = c.finish_reason.0 {
            call.response.finish_reasons.push(f);
        }
    }
    if r.status.0.is_some() && !nested {
        let reason = r.incomplete_details.and_then(|d| d.reason.0);
        match (r.status.0.as_deref(), reason) {
            (_, Some(reason)) => call.response.finish_reasons.push(reason),
            (Some(s @ ("completed" | "failed" | "cancelled")), None) => {
                call.response.finish_reasons.push(s.to_string());
            }
            _ => {}
        }
    }
    if let Some(e) = r.error {
        call.response.error_type = error_type(&e);
    }
    let usage = r.usage.or(r.x_groq.and_then(|x| x.usage));
    if let Some(u) = usage {
        let u = u.normalise(call.api);
        if u.reported {
            call.usage = u;
        }
    }
}

/// Error class from an OpenAI-style error object: `code` when it is an identifier, else `type`.
pub(crate) fn error_type(e: &WireError) -> Option<String> {
    wire::error_class(e.code.0.as_deref())
        .filter(|c| !c.bytes().all(|b| b.is_ascii_digit()))
        .or_else(|| wire::error_class(e.kind.0.as_deref()))
        .or_else(|| {
            e.code
                .0
                .as_deref()
                .and_then(|c| wire::error_class(Some(c)))
                .map(|c| format!("http_{c}"))
        })
        .or(Some("error".into()))
}
