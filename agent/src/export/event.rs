//! What the export stage is handed: an already-encoded event line plus a small typed
//! [`Observation`] for metrics. Owns no encoding of events (the event module does that).

use std::borrow::Cow;

use bytes::Bytes;

/// One event, already serialised as one NDJSON line (ending in `'\n'`).
#[derive(Clone, Debug)]
pub struct EncodedEvent {
    /// The line, `'\n'` included.
    pub line: Bytes,
    /// The event's type (e.g. `llm_call`), sent as the OTLP `event_type` attribute.
    pub event_type: Cow<'static, str>,
}

impl EncodedEvent {
    /// Wrap a line; a missing trailing `'\n'` is added.
    pub fn new(line: impl Into<Bytes>, event_type: impl Into<Cow<'static, str>>) -> Self {
        let mut line: Bytes = line.into();
        if line.last() != Some(&b'\n') {
            let mut v = Vec::with_capacity(line.len() + 1);
            v.extend_from_slice(&line);
            v.push(b'\n');
            line = Bytes::from(v);
        }
        EncodedEvent {
            line,
            event_type: event_type.into(),
        }
    }

    /// Bytes this event holds in the queue.
    pub fn size(&self) -> usize {
        self.line.len()
    }

    /// The line without its trailing newline.
    pub fn body(&self) -> &[u8] {
        self.line.strip_suffix(b"\n").unwrap_or(&self.line)
    }
}

/// The metric-relevant facts of one LLM exchange. Strings are raw (possibly from untrusted
/// traffic); the metrics module bounds and sanitises them. `None` means unknown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    /// `gen_ai.provider.name`, e.g. `openai`.
    pub provider: String,
    /// Model asked for.
    pub request_model: Option<String>,
    /// Model that answered.
    pub response_model: Option<String>,
    /// `gen_ai.operation.name`, e.g. `chat`.
    pub operation: String,
    /// `2xx`, `4xx`, `5xx` or `none` (no response).
    pub status_class: String,
    /// Error type when the exchange failed.
    pub error_type: Option<String>,
    /// The response carried a usage block.
    pub usage_reported: bool,
    /// Input tokens (cached included, OTel convention).
    pub input_tokens: Option<u64>,
    /// Output tokens.
    pub output_tokens: Option<u64>,
    /// Input tokens read from the prompt cache.
    pub cache_read_tokens: Option<u64>,
    /// Input tokens written to the prompt cache.
    pub cache_creation_tokens: Option<u64>,
    /// Reasoning tokens (part of output).
    pub reasoning_tokens: Option<u64>,
    /// Priced cost; `None` when the model is not priced.
    pub cost_usd: Option<f64>,
    /// Request start to last byte, seconds.
    pub duration_s: Option<f64>,
    /// Request start to first streamed chunk, seconds.
    pub ttft_s: Option<f64>,
    /// The response was streamed.
    pub streaming: bool,
    /// Provider-reported remaining requests in the window.
    pub rate_limit_remaining_requests: Option<f64>,
    /// Provider-reported remaining tokens in the window.
    pub rate_limit_remaining_tokens: Option<f64>,
    /// Kubernetes namespace of the caller.
    pub namespace: Option<String>,
    /// Workload (deployment, service) of the caller.
    pub workload: Option<String>,
    /// Why the prompt cache missed where it should have hit.
    pub cache_break_reason: Option<String>,
    /// Extra cost caused by that cache break.
    pub cache_wasted_usd: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newline_added_once() {
        let e = EncodedEvent::new(&b"{\"a\":1}"[..], "llm_call");
        assert_eq!(&e.line[..], b"{\"a\":1}\n");
        assert_eq!(e.body(), b"{\"a\":1}");
        let e2 = EncodedEvent::new(e.line.clone(), "llm_call");
        assert_eq!(e2.size(), 8);
    }
}
