//! LLM stage: recognises LLM API exchanges and turns each into a normalised [`LlmCall`]
//! (provider, API, model, usage with OpenTelemetry semantics, rate limits, prompt segments for
//! keyed hashing). Entry point: [`analyze`]; counters: [`LlmStats`].
//!
//! Not here: HTTP reassembly (the `reassembly` stage hands us [`Exchange`]s), hashing or
//! redaction of prompt text (privacy stage), prices and cost (insights stage).

mod anthropic;
mod azure;
mod bedrock;
pub mod call;
pub mod config;
pub mod detect;
mod gemini;
mod headers;
mod ollama;
mod openai;
mod scan;
mod skim;
mod wire;

use std::collections::BTreeMap;

pub use call::*;
pub use config::{ConfigError, EndpointRule, LlmConfig};
pub use detect::{Detection, Target, UnrecognisedReason};

use crate::reassembly::exchange::{Exchange, Response, ResponseBody};

/// What [`analyze`] made of an exchange.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Not LLM traffic (decided from method, host and path).
    NotLlm,
    /// A recognised call (possibly with parse errors).
    Llm(Box<LlmCall>),
    /// LLM-looking traffic that no parser understands.
    Unrecognised {
        /// Why.
        reason: UnrecognisedReason,
    },
}

/// Analyse one exchange. Never panics; memory is bounded by the config's bounds.
pub fn analyze(exchange: &Exchange, cfg: &LlmConfig) -> Outcome {
    let target = match detect::detect(exchange, cfg) {
        Detection::NotLlm => return Outcome::NotLlm,
        Detection::Unrecognised(reason) => {
            tracing::debug!(
                ?reason,
                pid = exchange.process.pid,
                "llm-looking exchange not understood"
            );
            return Outcome::Unrecognised { reason };
        }
        Detection::Llm(t) => t,
    };
    let mut call = LlmCall {
        provider: target.provider,
        api: target.api,
        operation: target.api.operation(),
        server_address: target.host.clone(),
        server_port: target.port,
        request: RequestInfo {
            model: target.path_model.clone(),
            deployment: target.deployment.clone(),
            api_version: target.api_version.clone(),
            stream: target.path_stream,
            ..RequestInfo::default()
        },
        response: ResponseInfo::default(),
        usage: Usage::default(),
        timing: CallTiming::default(),
        parse_errors: Vec::new(),
    };
    if !exchange.completeness.complete {
        call.error(ParseErrorKind::Incomplete);
    }
    if let Some(body) = wire::body_str(&mut call, cfg, &exchange.request.body) {
        match target.api {
            Api::ChatCompletions | Api::Completions | Api::Embeddings | Api::Responses => {
                if target.provider == Provider::AzureOpenAi {
                    azure::parse_request(&mut call, cfg, body);
                } else {
                    openai::parse_request(&mut call, cfg, body);
                }
            }
            Api::AnthropicMessages => anthropic::parse_request(&mut call, cfg, body),
            Api::GenerateContent => gemini::parse_request(&mut call, cfg, body),
            Api::BedrockConverse | Api::BedrockInvoke => {
                bedrock::parse_request(&mut call, cfg, body)
            }
            Api::OllamaChat | Api::OllamaGenerate => ollama::parse_request(&mut call, cfg, body),
        }
    }
    match &exchange.response {
        None => call.error(ParseErrorKind::ResponseMissing),
        Some(resp) => parse_response(&mut call, cfg, resp),
    }
    call.timing = timing(exchange);
    tracing::trace!(
        provider = call.provider.as_str(),
        api = ?call.api,
        status = call.response.status,
        usage_reported = call.usage.reported,
        errors = call.parse_errors.len(),
        "llm call"
    );
    Outcome::Llm(Box::new(call))
}

fn parse_response(call: &mut LlmCall, cfg: &LlmConfig, resp: &Response) {
    call.response.status = resp.status;
    headers::apply(&resp.headers, &mut call.response);
    match call.api {
        Api::ChatCompletions | Api::Completions | Api::Embeddings | Api::Responses => {
            if call.provider == Provider::AzureOpenAi {
                azure::parse_response(call, cfg, resp);
            } else {
                openai::parse_response(call, cfg, resp);
            }
        }
        Api::AnthropicMessages => anthropic::parse_response(call, cfg, resp),
        Api::GenerateContent => gemini::parse_response(call, cfg, resp),
        Api::BedrockConverse | Api::BedrockInvoke => bedrock::parse_response(call, cfg, resp),
        Api::OllamaChat | Api::OllamaGenerate => ollama::parse_response(call, cfg, resp),
    }
    if call.response.error_type.is_none() && resp.status >= 400 {
        call.response.error_type = Some(format!("http_{}", resp.status));
    }
}

fn timing(ex: &Exchange) -> CallTiming {
    let t = &ex.timing;
    let streamed = ex.response.as_ref().map(|r| match &r.body {
        ResponseBody::Full(_) => None,
        ResponseBody::Sse(v) => Some(v.len()),
        ResponseBody::NdJson(v) => Some(v.len()),
        ResponseBody::EventStream(v) => Some(v.len()),
    });
    let since_start = |ns: Option<u64>| ns.and_then(|n| n.checked_sub(t.request_start_ns));
    match streamed.flatten() {
        Some(events) => CallTiming {
            duration_ns: since_start(t.response_end_ns),
            time_to_first_chunk_ns: since_start(t.first_chunk_ns),
            chunk_count: wire::clamp_u32(events),
        },
        None => CallTiming {
            duration_ns: since_start(t.response_end_ns),
            time_to_first_chunk_ns: None,
            chunk_count: t.chunk_count,
        },
    }
}

/// Counters over analysed exchanges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LlmStats {
    /// Exchanges that were not LLM traffic.
    pub not_llm: u64,
    /// Recognised calls by provider.
    pub recognised: BTreeMap<Provider, u64>,
    /// LLM-looking exchanges no parser understood, by reason.
    pub unrecognised: BTreeMap<UnrecognisedReason, u64>,
    /// Parse errors by kind (each call counts a kind once).
    pub parse_errors: BTreeMap<ParseErrorKind, u64>,
    /// Recognised calls whose provider reported no usage.
    pub usage_not_reported: u64,
}

impl LlmStats {
    /// Count one outcome.
    pub fn record(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::NotLlm => self.not_llm += 1,
            Outcome::Unrecognised { reason } => *self.unrecognised.entry(*reason).or_default() += 1,
            Outcome::Llm(call) => {
                *self.recognised.entry(call.provider).or_default() += 1;
                for k in &call.parse_errors {
                    *self.parse_errors.entry(*k).or_default() += 1;
                }
                if !call.usage.reported {
                    self.usage_not_reported += 1;
                }
            }
        }
    }
}

/// With bit 7 of the framing byte set, the response head doubles as the value of every
/// header the parsers read, so the header parsers are fuzzed too.
fn fuzz_headers(framing: u8, resp: &[u8]) -> crate::reassembly::exchange::Headers {
    const NAMES: [&str; 9] = [
        "date",
        "retry-after",
        "retry-after-ms",
        "x-ratelimit-reset-tokens",
        "x-ratelimit-remaining-requests",
        "anthropic-ratelimit-tokens-reset",
        "anthropic-ratelimit-requests-limit",
        "x-amzn-errortype",
        "x-amzn-bedrock-input-token-count",
    ];
    if framing & 0x80 == 0 {
        return crate::reassembly::exchange::Headers::default();
    }
    let v = bytes::Bytes::copy_from_slice(&resp[..resp.len().min(48)]);
    crate::reassembly::exchange::Headers(NAMES.iter().map(|n| (n.to_string(), v.clone())).collect())
}

/// Fuzzing entry point for the provider parsers (called by the fuzz harness). Byte 0 picks the
/// endpoint, byte 1 the response framing; the rest is split at the first `0xFF` into request
/// body and response body (stream framings: one event per `\n`-separated line).
#[doc(hidden)]
pub fn fuzz_analyze(data: &[u8]) {
    use crate::capture::event::{ConnId, ProcessInfo};
    use crate::reassembly::exchange::*;
    use bytes::Bytes;

    const ENDPOINTS: [(&str, &str); 12] = [
        ("api.openai.com", "/v1/chat/completions"),
        ("api.openai.com", "/v1/responses"),
        ("api.openai.com", "/v1/embeddings"),
        ("api.openai.com", "/v1/completions"),
        (
            "x.openai.azure.com",
            "/openai/deployments/d/chat/completions?api-version=2024-10-21",
        ),
        ("api.anthropic.com", "/v1/messages"),
        (
            "generativelanguage.googleapis.com",
            "/v1beta/models/g:streamGenerateContent?alt=sse",
        ),
        (
            "us-central1-aiplatform.googleapis.com",
            "/v1/projects/p/locations/l/publishers/google/models/g:generateContent",
        ),
        (
            "bedrock-runtime.us-east-1.amazonaws.com",
            "/model/m/converse-stream",
        ),
        (
            "bedrock-runtime.us-east-1.amazonaws.com",
            "/model/m/invoke-with-response-stream",
        ),
        ("localhost:11434", "/api/chat"),
        ("localhost:11434", "/api/generate"),
    ];
    let [sel, framing, rest @ ..] = data else {
        return;
    };
    let (host, path) = ENDPOINTS[*sel as usize % ENDPOINTS.len()];
    let (req, resp) = match rest.iter().position(|&b| b == 0xFF) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let lines = || resp.split(|&b| b == b'\n').map(Bytes::copy_from_slice);
    let body = match framing % 4 {
        0 => ResponseBody::Full(Bytes::copy_from_slice(resp)),
        1 => ResponseBody::Sse(
            lines()
                .map(|l| SseEvent {
                    data: l,
                    ..SseEvent::default()
                })
                .collect(),
        ),
        2 => ResponseBody::NdJson(
            lines()
                .map(|line| JsonLine {
                    line,
                    timestamp_ns: 1,
                })
                .collect(),
        ),
        _ => ResponseBody::EventStream(
            lines()
                .map(|payload| EventStreamMessage {
                    event_type: Some(
                        ["chunk", "metadata", "messageStop"][payload.len() % 3].into(),
                    ),
                    message_type: Some("event".into()),
                    payload,
                    timestamp_ns: 1,
                })
                .collect(),
        ),
    };
    let ex = Exchange {
        conn: ConnId {
            tgid: 1,
            conn_ptr: 1,
            start_ns: 0,
        },
        process: ProcessInfo {
            pid: 1,
            tid: 1,
            comm: "fuzz".into(),
            cgroup_id: 0,
        },
        version: HttpVersion::Http1,
        stream_id: None,
        request: Request {
            method: "POST".into(),
            path: path.into(),
            authority: Some(host.into()),
            headers: Headers::default(),
            body: Bytes::copy_from_slice(req),
        },
        response: Some(Response {
            status: 200,
            headers: fuzz_headers(*framing, resp),
            body,
        }),
        timing: Timing::default(),
        completeness: Completeness {
            complete: true,
            reasons: Vec::new(),
        },
    };
    let cfg = LlmConfig::default();
    let mut stats = LlmStats::default();
    stats.record(&analyze(&ex, &cfg));
}

#[cfg(test)]
mod robustness_tests;
