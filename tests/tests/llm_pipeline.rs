//! End to end (root), the whole pipeline: real clients (curl over HTTP/1.1 and HTTP/2, python,
//! node) call the local LLM test server over TLS; the agent's events carry the usage the
//! "provider" reported, in OpenTelemetry semantics, a cost, timings in the right order, the
//! client's pid, and validate against the event JSON Schema.

use std::time::Duration;

use llmtap::pipeline::Emitted;
use tests::{
    agent::TestAgent,
    capture::privileged_or_skip,
    clients,
    llm_server::{self, LlmServer},
};

const WAIT: Duration = Duration::from_secs(15);

fn json(e: &Emitted) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(&e.line).expect("event line is JSON");
    if let Err(errors) = llmtap::event::validate_event(&v) {
        panic!("event does not validate against the schema: {errors:?}\n{v:#}");
    }
    v
}

async fn one_event(agent: &mut TestAgent, pid: u32) -> serde_json::Value {
    agent
        .wait(WAIT, |evs| evs.iter().any(|e| e.event.process_pid == pid))
        .await;
    let mine = agent.events_of(pid);
    assert_eq!(
        mine.len(),
        1,
        "exactly one event for pid {pid}, got {}",
        mine.len()
    );
    json(mine[0])
}

fn timings_in_order(v: &serde_json::Value) {
    let d = v["timing.duration_ms"].as_f64().expect("duration");
    assert!(d > 0.0, "duration {d}");
    if let Some(t) = v["timing.time_to_first_chunk_ms"].as_f64() {
        assert!(t > 0.0 && t <= d, "ttfc {t} within duration {d}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_non_streaming_over_http1_with_curl() {
    if !privileged_or_skip("openai h1") {
        return;
    }
    let server = LlmServer::start().await.expect("server");
    let mut agent = TestAgent::start().await;
    let body = br#"{"model":"gpt-4o","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello"}]}"#;
    let file = clients::temp_file("openai-h1.json", body).expect("file");
    let child = clients::curl_with(&server.url(), "/v1/chat/completions", &file, &["--http1.1"])
        .expect("curl");
    let pid = child.id().expect("pid");
    assert!(
        child
            .wait_with_output()
            .await
            .expect("runs")
            .status
            .success()
    );
    let v = one_event(&mut agent, pid).await;
    assert_eq!(v["provider"], "openai");
    assert_eq!(v["operation"], "chat");
    assert_eq!(v["request.model"], "gpt-4o");
    assert_eq!(v["response.model"], "gpt-4o-2024-08-06");
    assert_eq!(v["request.stream"], false);
    assert_eq!(v["response.status"], 200);
    assert_eq!(v["usage.reported"], true);
    assert_eq!(
        v["usage.input_tokens"],
        llm_server::OPENAI_PROMPT_TOKENS,
        "OpenAI prompt_tokens already include the cache"
    );
    assert_eq!(
        v["usage.cache_read_input_tokens"],
        llm_server::OPENAI_CACHED_TOKENS
    );
    assert_eq!(
        v["usage.output_tokens"],
        llm_server::OPENAI_COMPLETION_TOKENS
    );
    assert_eq!(v["cost.known"], true, "gpt-4o is priced: {v:#}");
    assert!(v["cost.usd"].as_f64().expect("cost") > 0.0);
    assert_eq!(v["capture.complete"], true);
    assert_eq!(v["process.pid"], pid);
    assert_eq!(v["process.comm"], "curl");
    assert!(
        v["prompt.fingerprint"]
            .as_str()
            .is_some_and(|f| f.len() == 32)
    );
    timings_in_order(&v);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_streaming_over_http2_with_and_without_usage() {
    if !privileged_or_skip("openai h2 stream") {
        return;
    }
    let server = LlmServer::start().await.expect("server");
    let mut agent = TestAgent::start().await;
    for include_usage in [true, false] {
        let body = format!(
            r#"{{"model":"gpt-4o-mini","stream":true,"stream_options":{{"include_usage":{include_usage}}},"messages":[{{"role":"user","content":"Stream please"}}]}}"#
        );
        let file = clients::temp_file(&format!("openai-h2-{include_usage}.json"), body.as_bytes())
            .expect("file");
        let child = clients::curl_with(
            &server.url(),
            "/v1/chat/completions",
            &file,
            &["--http2", "-N"],
        )
        .expect("curl");
        let pid = child.id().expect("pid");
        let out = child.wait_with_output().await.expect("runs");
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("[DONE]"));
        let v = one_event(&mut agent, pid).await;
        assert_eq!(v["request.stream"], true);
        assert_eq!(v["response.model"], "gpt-4o-mini-2024-08-06");
        if include_usage {
            assert_eq!(v["usage.reported"], true);
            assert_eq!(v["usage.input_tokens"], llm_server::OPENAI_PROMPT_TOKENS);
            assert_eq!(
                v["usage.output_tokens"],
                llm_server::OPENAI_COMPLETION_TOKENS
            );
        } else {
            assert_eq!(
                v["usage.reported"], false,
                "no usage in the stream: reported false"
            );
            assert!(
                v["usage.input_tokens"].is_null(),
                "absent usage is null, never 0"
            );
            assert_eq!(v["cost.known"], false);
        }
        assert!(
            v["timing.time_to_first_chunk_ms"].as_f64().is_some(),
            "streams have a time to first chunk"
        );
        timings_in_order(&v);
    }
    let (status, _) = agent.stop().await;
    assert!(
        status["reassembly"]["conns_http2"].as_u64().unwrap_or(0) >= 2,
        "{status:#}"
    );
}

const PY_ANTHROPIC: &str = r#"
import ssl, sys, http.client, json
port = int(sys.argv[1])
c = http.client.HTTPSConnection("127.0.0.1", port, context=ssl._create_unverified_context())
body = {"model": "claude-sonnet-4-5", "max_tokens": 256, "stream": True,
        "system": [{"type": "text", "text": "You are a careful assistant.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "Hello there"}]}
c.request("POST", "/v1/messages", body=json.dumps(body), headers={"content-type": "application/json", "anthropic-version": "2023-06-01"})
r = c.getresponse()
data = r.read()
assert b"message_stop" in data, data[:200]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_streaming_usage_is_normalised_with_python() {
    if !privileged_or_skip("anthropic stream") {
        return;
    }
    let server = LlmServer::start().await.expect("server");
    let mut agent = TestAgent::start().await;
    let child = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(PY_ANTHROPIC)
        .arg(server.addr.port().to_string())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    let pid = child.id().expect("pid");
    let out = child.wait_with_output().await.expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = one_event(&mut agent, pid).await;
    assert_eq!(v["provider"], "anthropic");
    assert_eq!(v["request.model"], "claude-sonnet-4-5");
    assert_eq!(v["request.stream"], true);
    let input = llm_server::ANTHROPIC_INPUT_TOKENS
        + llm_server::ANTHROPIC_CACHE_READ
        + llm_server::ANTHROPIC_CACHE_WRITE;
    assert_eq!(
        v["usage.input_tokens"], input,
        "Anthropic input excludes cache: OTel input adds it back"
    );
    assert_eq!(
        v["usage.cache_read_input_tokens"],
        llm_server::ANTHROPIC_CACHE_READ
    );
    assert_eq!(
        v["usage.cache_creation_input_tokens"],
        llm_server::ANTHROPIC_CACHE_WRITE
    );
    assert_eq!(
        v["usage.output_tokens"],
        llm_server::ANTHROPIC_OUTPUT_TOKENS,
        "message_delta usage is cumulative: the last value"
    );
    assert_eq!(v["cost.known"], true, "{v:#}");
    assert!(
        v["cache"].is_object(),
        "the insights stage analysed the prompt: {v:#}"
    );
    assert_eq!(v["cache"]["reason"], "first_seen");
    timings_in_order(&v);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_and_rate_limits() {
    if !privileged_or_skip("node") {
        return;
    }
    let server = LlmServer::start().await.expect("server");
    let mut agent = TestAgent::start().await;
    let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"from node"}]}"#;
    let file = clients::temp_file("node-llm.json", body).expect("file");
    let child = clients::node(&server.url(), "/v1/chat/completions", &file, 1.0).expect("node");
    let pid = child.id().expect("pid");
    assert!(
        child
            .wait_with_output()
            .await
            .expect("runs")
            .status
            .success()
    );
    let v = one_event(&mut agent, pid).await;
    assert_eq!(v["process.comm"], "node");
    assert_eq!(
        v["usage.output_tokens"],
        llm_server::OPENAI_COMPLETION_TOKENS
    );
    let child =
        clients::curl_with(&server.url(), "/v1/rate-limited", &file, &["--http1.1"]).expect("curl");
    let pid = child.id().expect("pid");
    assert!(
        child
            .wait_with_output()
            .await
            .expect("runs")
            .status
            .success()
    );
    agent
        .wait(WAIT, |evs| evs.iter().any(|e| e.event.process_pid == pid))
        .await;
    let limited: Vec<_> = agent.events_of(pid).into_iter().map(json).collect();
    // The rate-limit endpoint is not a known API path; it is either ignored or counted, never
    // reported as a successful call.
    assert!(limited.iter().all(|v| v["response.status"] != 200));
    agent.stop().await;
}
