//! Anthropic Messages (`/v1/messages`, Claude on Vertex `:rawPredict`, and the Anthropic
//! bodies of Bedrock InvokeModel): request segments with `cache_control`, plain responses and
//! SSE streams. Detection and the Bedrock event-stream framing live elsewhere.
//!
//! Usage traps handled here: `input_tokens` EXCLUDES cache reads and writes (we report
//! input + cache_read + cache_creation), and `message_delta.usage` is CUMULATIVE (the last value
//! replaces, never adds to, what `message_start` said).

use serde::Deserialize;
use serde_json::value::RawValue;

use super::call::{LlmCall, ParseErrorKind, SegmentKind, Usage};
use super::config::LlmConfig;
use super::scan;
use super::skim::{self, Key, KeySet, Live};
use super::wire::{
    self, CacheMarked, Count, Flag, SegmentAt, Segments, Side, Str, WireCacheControl,
};
use crate::reassembly::exchange::{Response, ResponseBody};
use std::sync::LazyLock;

#[derive(Deserialize)]
struct WireRequest<'a> {
    #[serde(default)]
    model: Str,
    #[serde(default)]
    stream: Flag,
    #[serde(default)]
    max_tokens: Count,
    #[serde(default, borrow)]
    system: Option<&'a RawValue>,
    #[serde(default, borrow)]
    messages: Option<Vec<&'a RawValue>>,
    #[serde(default, borrow)]
    tools: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    cache_control: Option<WireCacheControl>,
}

#[derive(Deserialize)]
struct WireMessage<'a> {
    #[serde(default)]
    role: Str,
    #[serde(default, borrow)]
    content: Option<&'a RawValue>,
}

/// Parse a Messages request body.
pub(crate) fn parse_request(call: &mut LlmCall, cfg: &LlmConfig, body: &str) {
    let Some(r) = wire::parse::<WireRequest>(call, Side::Request, body) else {
        return;
    };
    let req = &mut call.request;
    req.model = r.model.0.or(req.model.take());
    req.stream |= r.stream.0.unwrap_or(false);
    req.max_tokens = r.max_tokens.0;
    req.cache_control = r.cache_control.as_ref().map(WireCacheControl::normalise);
    let tools = r.tools.unwrap_or_default();
    let messages = r.messages.unwrap_or_default();
    req.tool_count = wire::clamp_u32(tools.len());
    req.message_count = wire::clamp_u32(messages.len());
    let mut seg = Segments::new(cfg.max_segment_bytes);
    for (i, t) in tools.iter().enumerate() {
        let at = block_at(SegmentKind::Tools, None, i, None, t.get());
        seg.push(call, at, t.get());
    }
    if let Some(sys) = r.system {
        blocks(
            call,
            &mut seg,
            sys,
            SegmentKind::System,
            Some("system"),
            None,
        );
    }
    for (i, m) in messages.iter().enumerate() {
        match serde_json::from_str::<WireMessage>(m.get()) {
            Ok(WireMessage {
                role,
                content: Some(c),
            }) => {
                blocks(
                    call,
                    &mut seg,
                    c,
                    SegmentKind::ContentBlock,
                    role.0.as_deref(),
                    Some(i),
                );
            }
            Ok(_) => {}
            Err(e) => call.error(ParseErrorKind::RequestJson(
                super::call::JsonErrorClass::of(&e),
            )),
        }
    }
}

/// Push `content` (a string, or a list of blocks) as one segment per block.
fn blocks(
    call: &mut LlmCall,
    seg: &mut Segments,
    content: &RawValue,
    kind: SegmentKind,
    role: Option<&str>,
    message_index: Option<usize>,
) {
    if !content.get().trim_start().starts_with('[') {
        seg.push(
            call,
            block_at(kind, role, 0, message_index, content.get()),
            content.get(),
        );
        return;
    }
    let list = scan::elements(content.get()).map_or_else(
        || {
            serde_json::from_str::<Vec<&RawValue>>(content.get())
                .map(|v| v.into_iter().map(RawValue::get).collect())
        },
        Ok,
    );
    match list {
        Ok(list) => {
            for (i, b) in list.into_iter().enumerate() {
                seg.push(call, block_at(kind, role, i, message_index, b), b);
            }
        }
        Err(e) => call.error(ParseErrorKind::RequestJson(
            super::call::JsonErrorClass::of(&e),
        )),
    }
}

fn block_at<'r>(
    kind: SegmentKind,
    role: Option<&'r str>,
    index: usize,
    message_index: Option<usize>,
    raw: &str,
) -> SegmentAt<'r> {
    let cache_control = scan::member::<Option<WireCacheControl>>(raw, "cache_control", |r| {
        serde_json::from_str::<CacheMarked>(r)
            .ok()
            .map(|m| m.cache_control)
    })
    .flatten()
    .map(|c| c.normalise());
    SegmentAt {
        kind,
        role,
        index,
        message_index,
        cache_control,
    }
}

#[derive(Deserialize, Default)]
struct WireEvent {
    #[serde(default, rename = "type")]
    kind: Str,
    #[serde(default)]
    model: Str,
    #[serde(default)]
    stop_reason: Str,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<super::openai::WireError>,
    #[serde(default)]
    message: Option<Box<WireEvent>>,
    #[serde(default)]
    delta: Option<Delta>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    stop_reason: Str,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Count,
    #[serde(default)]
    output_tokens: Count,
    #[serde(default)]
    cache_creation_input_tokens: Count,
    #[serde(default)]
    cache_read_input_tokens: Count,
    #[serde(default)]
    cache_creation: Option<CacheCreation>,
}

#[derive(Deserialize)]
struct CacheCreation {
    #[serde(default)]
    ephemeral_5m_input_tokens: Count,
    #[serde(default)]
    ephemeral_1h_input_tokens: Count,
}

/// Raw Anthropic usage fields as last seen; each later value replaces the earlier one.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    input: Option<u64>,
    output: Option<u64>,
    cache_read: Option<u64>,
    cache_creation: Option<u64>,
    c5m: Option<u64>,
    c1h: Option<u64>,
    /// `message_stop` was seen.
    pub stopped: bool,
}

impl Stream {
    fn take_usage(&mut self, u: WireUsage) {
        let set = |slot: &mut Option<u64>, v: Count| {
            if v.0.is_some() {
                *slot = v.0;
            }
        };
        set(&mut self.input, u.input_tokens);
        set(&mut self.output, u.output_tokens);
        set(&mut self.cache_read, u.cache_read_input_tokens);
        set(&mut self.cache_creation, u.cache_creation_input_tokens);
        if let Some(c) = u.cache_creation {
            set(&mut self.c5m, c.ephemeral_5m_input_tokens);
            set(&mut self.c1h, c.ephemeral_1h_input_tokens);
        }
    }

    /// Fold one JSON event (or a whole non-stream message) into `call`.
    pub(crate) fn event(&mut self, call: &mut LlmCall, data: &str) {
        let Some(ev) = wire::parse::<WireEvent>(call, Side::Response, data) else {
            return;
        };
        self.apply(call, ev);
    }

    fn apply(&mut self, call: &mut LlmCall, ev: WireEvent) {
        match ev.kind.0.as_deref() {
            Some("message_stop") => self.stopped = true,
            Some("error") => {
                let class = ev
                    .error
                    .as_ref()
                    .and_then(|e| wire::error_class(e.kind.0.as_deref()));
                call.response.error_type = class.or(Some("error".into()));
            }
            _ => {}
        }
        if let Some(m) = ev.message {
            self.apply(call, *m);
        }
        if call.response.model.is_none() {
            call.response.model = ev.model.0;
        }
        if let Some(r) = ev.stop_reason.0.or(ev.delta.and_then(|d| d.stop_reason.0)) {
            call.response.finish_reasons.push(r);
        }
        if let Some(u) = ev.usage {
            self.take_usage(u);
        }
    }

    /// The normalised usage (`reported == false` when no count was seen).
    pub(crate) fn usage(&self) -> Usage {
        let cache = self
            .cache_read
            .unwrap_or(0)
            .saturating_add(self.cache_creation.unwrap_or(0));
        Usage {
            reported: self.input.is_some() || self.output.is_some(),
            input_tokens: self.input.map(|i| i.saturating_add(cache)),
            output_tokens: self.output,
            cache_read_input_tokens: self.cache_read,
            cache_creation_input_tokens: self.cache_creation,
            cache_creation_5m: self.c5m,
            cache_creation_1h: self.c1h,
            reasoning_output_tokens: None,
        }
    }
}

/// Every key [`Stream::apply`] reads, at any depth (`delta.stop_reason`, `message.usage`);
/// a stream event with none of them (a content delta, a ping) changes nothing and is
/// skimmed, not parsed.
static STREAM_KEYS: LazyLock<KeySet> = LazyLock::new(|| KeySet::new(STREAM_KEY_LIST));
const STREAM_KEY_LIST: &[Key] = &[
    // `type` is read for two values only, and is in every event: search for the values.
    Key {
        name: "message_stop",
        live: Live::Anywhere,
    },
    Key {
        name: "message",
        live: Live::NonNull,
    },
    Key {
        name: "model",
        live: Live::NonNull,
    },
    Key {
        name: "stop_reason",
        live: Live::NonNull,
    },
    Key {
        name: "usage",
        live: Live::NonNull,
    },
    // An `error` object, or `"type": "error"`.
    Key {
        name: "error",
        live: Live::Anywhere,
    },
];

/// Parse a Messages response, plain or SSE.
pub(crate) fn parse_response(call: &mut LlmCall, cfg: &LlmConfig, resp: &Response) {
    let mut st = Stream::default();
    match &resp.body {
        ResponseBody::Full(b) => {
            if let Some(text) = wire::response_json(call, cfg, resp.status, b) {
                st.event(call, text);
            }
        }
        ResponseBody::Sse(events) => {
            let parse = skim::events_to_parse(events, &STREAM_KEYS);
            for (ev, parse) in events.iter().zip(parse) {
                if !parse {
                    continue;
                }
                let text = ev.text();
                if !text.trim().is_empty() {
                    st.event(call, &text);
                }
            }
            if !st.stopped && call.response.error_type.is_none() {
                call.error(ParseErrorKind::StreamTruncated);
            }
        }
        _ => call.error(ParseErrorKind::UnexpectedFraming),
    }
    call.usage = st.usage();
}
