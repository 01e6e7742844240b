//! A local LLM test server over TLS (rustls), speaking OpenAI- and Anthropic-shaped APIs over
//! HTTP/1.1 and HTTP/2 (ALPN), streaming (SSE) and not. Token counts are fixed constants so
//! tests can compare what the agent reports with what the "provider" said. Used by the
//! end-to-end tests and by `cargo xtask demo`.

use std::{convert::Infallible, net::SocketAddr, time::Duration};

use bytes::Bytes;
use futures_util::stream;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::{Request, Response, body::Frame, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// OpenAI usage: prompt tokens (cached included).
pub const OPENAI_PROMPT_TOKENS: u64 = 1200;
/// OpenAI usage: cached prompt tokens.
pub const OPENAI_CACHED_TOKENS: u64 = 1024;
/// OpenAI usage: completion tokens.
pub const OPENAI_COMPLETION_TOKENS: u64 = 35;
/// Anthropic usage: uncached input tokens.
pub const ANTHROPIC_INPUT_TOKENS: u64 = 20;
/// Anthropic usage: cache reads.
pub const ANTHROPIC_CACHE_READ: u64 = 1000;
/// Anthropic usage: cache writes.
pub const ANTHROPIC_CACHE_WRITE: u64 = 200;
/// Anthropic usage: final (cumulative) output tokens.
pub const ANTHROPIC_OUTPUT_TOKENS: u64 = 42;
/// Number of content deltas in a streamed answer.
pub const STREAM_DELTAS: usize = 20;

/// A running server.
pub struct LlmServer {
    /// Where it listens.
    pub addr: SocketAddr,
}

impl LlmServer {
    /// Start on 127.0.0.1, ephemeral port.
    pub async fn start() -> anyhow::Result<LlmServer> {
        Self::start_on("127.0.0.1:0").await
    }

    /// Start on `addr`.
    pub async fn start_on(addr: &str) -> anyhow::Result<LlmServer> {
        let id = crate::tls::identity(&[b"h2", b"http/1.1"])?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(id.config);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service_fn(handle))
                        .await;
                });
            }
        });
        Ok(LlmServer { addr })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }
}

type Body = BoxBody<Bytes, Infallible>;

fn full(status: u16, headers: &[(&str, &str)], body: String) -> Response<Body> {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::from(body)).boxed())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
}

fn sse(headers: &[(&str, &str)], events: Vec<String>) -> Response<Body> {
    let frames = stream::unfold(events.into_iter(), |mut it| async move {
        let next = it.next()?;
        tokio::time::sleep(Duration::from_millis(2)).await;
        Some((Ok::<_, Infallible>(Frame::data(Bytes::from(next))), it))
    });
    let mut b = Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(StreamBody::new(frames).boxed())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
}

async fn handle(req: Request<hyper::body::Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let model = json
        .get("model")
        .and_then(|m| m.as_str())
        .unwrap_or("unknown")
        .to_string();
    let stream = json
        .get("stream")
        .and_then(|s| s.as_bool())
        .unwrap_or(false);
    let include_usage = json
        .pointer("/stream_options/include_usage")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    Ok(match path.as_str() {
        "/v1/chat/completions" if stream => openai_stream(&model, include_usage),
        "/v1/chat/completions" => openai_json(&model),
        "/v1/messages" if stream => anthropic_stream(&model),
        "/v1/messages" => anthropic_json(&model),
        "/v1/rate-limited" => full(
            429,
            &[("content-type", "application/json"), ("retry-after", "7"), ("x-ratelimit-remaining-requests", "0")],
            r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#.into(),
        ),
        _ => full(404, &[("content-type", "text/plain")], "not found".into()),
    })
}

const OPENAI_HEADERS: &[(&str, &str)] = &[
    ("openai-version", "2020-10-01"),
    ("openai-processing-ms", "12"),
    ("x-request-id", "req_test"),
    ("x-ratelimit-remaining-requests", "499"),
    ("x-ratelimit-limit-requests", "500"),
    ("x-ratelimit-remaining-tokens", "29000"),
    ("x-ratelimit-limit-tokens", "30000"),
];

fn openai_json(model: &str) -> Response<Body> {
    let body = serde_json::json!({
        "id": "chatcmpl-test", "object": "chat.completion", "model": format!("{model}-2024-08-06"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from the test server."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": OPENAI_PROMPT_TOKENS, "completion_tokens": OPENAI_COMPLETION_TOKENS,
                  "total_tokens": OPENAI_PROMPT_TOKENS + OPENAI_COMPLETION_TOKENS,
                  "prompt_tokens_details": {"cached_tokens": OPENAI_CACHED_TOKENS}}
    });
    let mut headers = vec![("content-type", "application/json")];
    headers.extend_from_slice(OPENAI_HEADERS);
    full(200, &headers, body.to_string())
}

fn openai_stream(model: &str, include_usage: bool) -> Response<Body> {
    let m = format!("{model}-2024-08-06");
    let chunk = |delta: serde_json::Value, finish: serde_json::Value| {
        format!(
            "data: {}\n\n",
            serde_json::json!({"id": "chatcmpl-test", "object": "chat.completion.chunk", "model": m,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut events = vec![chunk(
        serde_json::json!({"role": "assistant", "content": ""}),
        serde_json::Value::Null,
    )];
    for i in 0..STREAM_DELTAS {
        events.push(chunk(
            serde_json::json!({"content": format!("tok{i} ")}),
            serde_json::Value::Null,
        ));
    }
    events.push(chunk(serde_json::json!({}), serde_json::json!("stop")));
    if include_usage {
        events.push(format!(
            "data: {}\n\n",
            serde_json::json!({"id": "chatcmpl-test", "object": "chat.completion.chunk", "model": m, "choices": [],
                "usage": {"prompt_tokens": OPENAI_PROMPT_TOKENS, "completion_tokens": OPENAI_COMPLETION_TOKENS,
                          "total_tokens": OPENAI_PROMPT_TOKENS + OPENAI_COMPLETION_TOKENS,
                          "prompt_tokens_details": {"cached_tokens": OPENAI_CACHED_TOKENS}}})
        ));
    }
    events.push("data: [DONE]\n\n".into());
    sse(OPENAI_HEADERS, events)
}

const ANTHROPIC_HEADERS: &[(&str, &str)] = &[
    ("anthropic-organization-id", "org-test"),
    ("request-id", "req_test"),
    ("anthropic-ratelimit-requests-remaining", "49"),
    ("anthropic-ratelimit-requests-limit", "50"),
];

fn anthropic_usage(output: u64) -> serde_json::Value {
    serde_json::json!({"input_tokens": ANTHROPIC_INPUT_TOKENS, "output_tokens": output,
        "cache_read_input_tokens": ANTHROPIC_CACHE_READ, "cache_creation_input_tokens": ANTHROPIC_CACHE_WRITE})
}

fn anthropic_json(model: &str) -> Response<Body> {
    let body = serde_json::json!({"id": "msg_test", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": "Hello from the test server."}], "stop_reason": "end_turn",
        "stop_sequence": null, "usage": anthropic_usage(ANTHROPIC_OUTPUT_TOKENS)});
    let mut headers = vec![("content-type", "application/json")];
    headers.extend_from_slice(ANTHROPIC_HEADERS);
    full(200, &headers, body.to_string())
}

fn anthropic_stream(model: &str) -> Response<Body> {
    let ev = |name: &str, data: serde_json::Value| format!("event: {name}\ndata: {data}\n\n");
    let mut events = vec![ev(
        "message_start",
        serde_json::json!({"type": "message_start", "message": {"id": "msg_test", "type": "message", "role": "assistant",
            "model": model, "content": [], "stop_reason": null, "usage": anthropic_usage(1)}}),
    )];
    events.push(ev("content_block_start", serde_json::json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})));
    for i in 0..STREAM_DELTAS {
        events.push(ev(
            "content_block_delta",
            serde_json::json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": format!("tok{i} ")}}),
        ));
    }
    events.push(ev("ping", serde_json::json!({"type": "ping"})));
    events.push(ev(
        "content_block_stop",
        serde_json::json!({"type": "content_block_stop", "index": 0}),
    ));
    // Cumulative: the second message_delta repeats and extends the first.
    events.push(ev("message_delta", serde_json::json!({"type": "message_delta", "delta": {"stop_reason": null}, "usage": {"output_tokens": 10}})));
    events.push(ev(
        "message_delta",
        serde_json::json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": ANTHROPIC_OUTPUT_TOKENS}}),
    ));
    events.push(ev(
        "message_stop",
        serde_json::json!({"type": "message_stop"}),
    ));
    sse(ANTHROPIC_HEADERS, events)
}
