//! Privacy canary: realistic OpenAI and Anthropic exchanges (streamed and not) carry canaries
//! (API keys in credential headers and in the prompt, an email, a phone number, an AWS key, a
//! unique sentence). They go through `llm::analyze` → `build_event` → NDJSON, and neither the
//! output nor debug-level `tracing` output may contain them (strict), or any secret (snippets).
//! Every event is validated against the v1 JSON Schema.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use llmtap::capture::event::{ConnId, ProcessInfo};
use llmtap::event::{ExchangeMeta, build_event, price_call, validate_event};
use llmtap::llm::{LlmConfig, Outcome, analyze};
use llmtap::privacy::{Privacy, PrivacyConfig, PrivacyMode, PrivacyStats, Salt, load_salt_from};
use llmtap::reassembly::exchange::*;
use serde_json::{Value, json};

const OPENAI_KEY: &str = "sk-canary-7Qx9ZpL2mN4vB8cR1tY6wE3u";
const ANTHROPIC_KEY: &str = "sk-ant-canary-api03-Hf8Kd2Lm9Qp4Zx7Vb1Nc";
const AWS_KEY: &str = "AKIACANARY7Q2X9ZPL4M";
const EMAIL: &str = "canary.person@example-corp.com";
const PHONE: &str = "+1 415 555 0132";
const REQUEST_ID: &str = "req_canary_9f8e7d6c5b4a";
const SENTENCE: &str = "The purple giraffe negotiates quarterly tariffs with seventeen lighthouses";
const SYSTEM: &str = "You are Marmalade, a meticulous assistant for the Quillfeather archive.";
const REPLY: &str = "Certainly, the lighthouses accepted the tangerine proposal yesterday.";
const TOOL_DESC: &str = "Looks up obscure harbour schedules by harbour code";

fn user_message() -> String {
    format!(
        "{SENTENCE}. Contact me at {EMAIL} or {PHONE}. My AWS key is {AWS_KEY} and my \
         OpenAI key is {OPENAI_KEY}; the Anthropic one is {ANTHROPIC_KEY}."
    )
}

/// Strings that must never appear in any output, in any mode.
fn secrets() -> Vec<&'static str> {
    vec![
        OPENAI_KEY,
        "sk-canary",
        ANTHROPIC_KEY,
        "sk-ant-canary",
        AWS_KEY,
        EMAIL,
        "example-corp",
        PHONE,
        "555 0132",
        REQUEST_ID,
    ]
}

/// Every 12-character window of every text the client or server sent.
fn text_windows() -> Vec<String> {
    let mut out = Vec::new();
    for text in [
        user_message(),
        SYSTEM.to_owned(),
        REPLY.to_owned(),
        TOOL_DESC.to_owned(),
    ] {
        let chars: Vec<char> = text.chars().collect();
        for w in chars.windows(12) {
            out.push(w.iter().collect());
        }
    }
    out
}

fn headers(pairs: &[(&str, &str)]) -> Headers {
    Headers(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Bytes::from(v.to_string())))
            .collect(),
    )
}

fn sse(events: &[(Option<&str>, Value)]) -> ResponseBody {
    ResponseBody::Sse(sse_list(events).into_iter().collect())
}

fn sse_list(events: &[(Option<&str>, Value)]) -> Vec<SseEvent> {
    events
        .iter()
        .enumerate()
        .map(|(i, (ev, data))| SseEvent {
            event: ev.map(|e| bytes::Bytes::copy_from_slice(e.as_bytes())),
            data: data.to_string().into(),
            id: None,
            timestamp_ns: 2_000_000 + i as u64 * 1_000_000,
        })
        .collect()
}

fn exchange(
    authority: &str,
    path: &str,
    req_headers: Headers,
    body: Value,
    resp_headers: Headers,
    resp: ResponseBody,
) -> Exchange {
    Exchange {
        conn: ConnId {
            tgid: 4242,
            conn_ptr: 0xbeef,
            start_ns: 1,
        },
        process: ProcessInfo {
            pid: 4242,
            tid: 4243,
            comm: "python3".into(),
            cgroup_id: 9,
        },
        version: HttpVersion::Http1,
        stream_id: None,
        request: Request {
            method: "POST".into(),
            path: path.into(),
            authority: Some(authority.into()),
            headers: req_headers,
            body: Bytes::from(body.to_string()),
        },
        response: Some(Response {
            status: 200,
            headers: resp_headers,
            body: resp,
        }),
        timing: Timing {
            request_start_ns: 1_000_000,
            request_end_ns: 1_100_000,
            response_first_byte_ns: Some(1_900_000),
            first_chunk_ns: Some(2_000_000),
            response_end_ns: Some(9_000_000),
            chunk_count: 1,
        },
        completeness: Completeness {
            complete: true,
            reasons: vec![],
        },
    }
}

fn openai(stream: bool) -> Exchange {
    let req_headers = headers(&[
        ("content-type", "application/json"),
        ("authorization", &format!("Bearer {OPENAI_KEY}")),
        ("x-api-key", OPENAI_KEY),
        ("api-key", OPENAI_KEY),
        ("cookie", &format!("session={OPENAI_KEY}")),
        ("proxy-authorization", &format!("Basic {OPENAI_KEY}")),
    ]);
    let body = json!({
        "model": "gpt-4o-mini",
        "stream": stream,
        "stream_options": {"include_usage": true},
        "user": EMAIL,
        "tools": [{"type": "function", "function": {"name": "harbour", "description": TOOL_DESC,
                   "parameters": {"type": "object", "properties": {}}}}],
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": user_message()},
        ],
    });
    let usage = json!({"prompt_tokens": 61, "completion_tokens": 12, "total_tokens": 73,
                       "prompt_tokens_details": {"cached_tokens": 0},
                       "completion_tokens_details": {"reasoning_tokens": 0}});
    let (ct, resp) = if stream {
        let chunk = |delta: Value, finish: Value, usage: Value| {
            (
                None,
                json!({"id": "chatcmpl-c", "object": "chat.completion.chunk",
                          "model": "gpt-4o-mini-2024-07-18",
                          "choices": if delta.is_null() { json!([]) } else {
                              json!([{"index": 0, "delta": delta, "finish_reason": finish}]) },
                          "usage": usage}),
            )
        };
        let events = vec![
            chunk(
                json!({"role": "assistant", "content": ""}),
                Value::Null,
                Value::Null,
            ),
            chunk(json!({"content": REPLY}), Value::Null, Value::Null),
            chunk(json!({}), json!("stop"), Value::Null),
            chunk(Value::Null, Value::Null, usage),
        ];
        let mut list = sse_list(&events);
        list.push(SseEvent {
            data: "[DONE]".into(),
            ..SseEvent::default()
        });
        (
            "text/event-stream",
            ResponseBody::Sse(list.into_iter().collect()),
        )
    } else {
        let b = json!({"id": "chatcmpl-c", "object": "chat.completion",
                       "model": "gpt-4o-mini-2024-07-18",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY},
                                    "finish_reason": "stop"}],
                       "usage": usage});
        (
            "application/json",
            ResponseBody::Full(Bytes::from(b.to_string())),
        )
    };
    let resp_headers = headers(&[
        ("content-type", ct),
        ("x-request-id", REQUEST_ID),
        ("x-ratelimit-limit-requests", "5000"),
        ("x-ratelimit-remaining-requests", "4999"),
        ("x-ratelimit-limit-tokens", "800000"),
        ("x-ratelimit-remaining-tokens", "799900"),
        ("set-cookie", &format!("__cf_bm={OPENAI_KEY}")),
    ]);
    exchange(
        "api.openai.com",
        "/v1/chat/completions",
        req_headers,
        body,
        resp_headers,
        resp,
    )
}

fn anthropic(stream: bool) -> Exchange {
    let req_headers = headers(&[
        ("content-type", "application/json"),
        ("x-api-key", ANTHROPIC_KEY),
        ("authorization", &format!("Bearer {ANTHROPIC_KEY}")),
        ("anthropic-version", "2023-06-01"),
    ]);
    let body = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 512,
        "stream": stream,
        "metadata": {"user_id": EMAIL},
        "tools": [{"name": "harbour", "description": TOOL_DESC,
                   "input_schema": {"type": "object", "properties": {}}}],
        "system": [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": user_message()}]}],
    });
    let (ct, resp) = if stream {
        let events = vec![
            (
                Some("message_start"),
                json!({"type": "message_start", "message": {
                "id": "msg_c", "type": "message", "role": "assistant", "content": [],
                "model": "claude-sonnet-4-5-20250929", "stop_reason": null,
                "usage": {"input_tokens": 40, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 1200, "output_tokens": 1}}}),
            ),
            (
                Some("content_block_start"),
                json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}}),
            ),
            (
                Some("content_block_delta"),
                json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": REPLY}}),
            ),
            (
                Some("content_block_stop"),
                json!({"type": "content_block_stop", "index": 0}),
            ),
            (
                Some("message_delta"),
                json!({"type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                "usage": {"output_tokens": 14}}),
            ),
            (Some("message_stop"), json!({"type": "message_stop"})),
        ];
        ("text/event-stream", sse(&events))
    } else {
        let b = json!({"id": "msg_c", "type": "message", "role": "assistant",
                       "model": "claude-sonnet-4-5-20250929",
                       "content": [{"type": "text", "text": REPLY}],
                       "stop_reason": "end_turn",
                       "usage": {"input_tokens": 40, "cache_creation_input_tokens": 0,
                                 "cache_read_input_tokens": 1200, "output_tokens": 14}});
        (
            "application/json",
            ResponseBody::Full(Bytes::from(b.to_string())),
        )
    };
    let resp_headers = headers(&[
        ("content-type", ct),
        ("request-id", REQUEST_ID),
        ("anthropic-ratelimit-requests-limit", "4000"),
        ("anthropic-ratelimit-requests-remaining", "3999"),
    ]);
    exchange(
        "api.anthropic.com",
        "/v1/messages",
        req_headers,
        body,
        resp_headers,
        resp,
    )
}

fn all_exchanges() -> Vec<Exchange> {
    vec![
        openai(false),
        openai(true),
        anthropic(false),
        anthropic(true),
    ]
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(data);
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn text(&self) -> String {
        self.0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

fn test_salt(b: u8) -> Salt {
    Salt::from_bytes(vec![b; 32]).expect("salt")
}

fn config(toml_text: &str) -> PrivacyConfig {
    toml::from_str(toml_text).expect("privacy config parses")
}

/// Run every exchange through the pipeline under `cfg`, with debug tracing captured.
/// Returns (NDJSON output, tracing output, parsed events, stats).
fn run(cfg: &PrivacyConfig, salt: Salt) -> (String, String, Vec<Value>, PrivacyStats) {
    let logs = Buf::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let mut stats = PrivacyStats::default();
    let mut out = Vec::new();
    let table = pricing::PriceTable::embedded();
    tracing::subscriber::with_default(subscriber, || {
        let privacy = Privacy::from_config(cfg, salt, &mut stats);
        let llm_cfg = LlmConfig::default();
        for ex in all_exchanges() {
            let Outcome::Llm(call) = analyze(&ex, &llm_cfg) else {
                panic!("not recognised: {:?}", ex.request.path);
            };
            assert!(call.usage.reported, "{:?}", call.parse_errors);
            let meta = ExchangeMeta::from_exchange(&ex, SystemTime::now());
            tracing::debug!(?meta, "meta");
            let cost = price_call(&call, &table);
            let event = build_event(&call, &meta, cost.as_ref(), &privacy);
            tracing::debug!(?event, "event");
            out.extend_from_slice(&event.to_ndjson_line());
        }
    });
    let text = String::from_utf8(out).expect("utf8");
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    for e in &events {
        if let Err(errors) = validate_event(e) {
            panic!("schema: {errors:#?}\n{e:#}");
        }
    }
    assert_eq!(events.len(), 4);
    (text, logs.text(), events, stats)
}

fn assert_absent(haystack: &str, needles: &[impl AsRef<str>], what: &str) {
    for n in needles {
        assert!(
            !haystack.contains(n.as_ref()),
            "{what} contains {:?}",
            n.as_ref()
        );
    }
}

fn assert_strict(out: &str, logs: &str, events: &[Value]) {
    assert_absent(out, &secrets(), "strict output");
    assert_absent(out, &text_windows(), "strict output");
    assert_absent(logs, &secrets(), "debug logs");
    assert_absent(logs, &text_windows(), "debug logs");
    assert!(
        !out.contains("snippet\""),
        "no snippet field in strict mode"
    );
    for e in events {
        assert_eq!(e["privacy.mode"], "strict");
        assert_eq!(e["request.id_hash"].as_str().map(str::len), Some(32));
        assert!(e["prompt.fingerprint"].is_string());
    }
}

#[test]
fn strict_mode_emits_no_canary_nor_prompt_text() {
    let (out, logs, events, stats) = run(&PrivacyConfig::default(), test_salt(1));
    assert!(logs.contains("event built"), "debug logs were captured");
    assert_strict(&out, &logs, &events);
    assert_eq!(stats, PrivacyStats::default());
    let by_provider = |p: &str| events.iter().filter(|e| e["provider"] == p).count();
    assert_eq!((by_provider("openai"), by_provider("anthropic")), (2, 2));
    for e in &events {
        assert_eq!(e["usage.reported"], true);
        assert!(e["cost.known"].is_boolean());
    }
    let anthropic = events
        .iter()
        .find(|e| e["provider"] == "anthropic")
        .expect("one");
    assert_eq!(anthropic["usage.cache_read_input_tokens"], 1200);
    assert_eq!(anthropic["rate_limit.remaining_requests"], 3999);
}

#[test]
fn snippets_mode_redacts_secrets_but_keeps_harmless_words() {
    let cfg = config("mode = \"snippets\"\nacknowledge_snippets_expose_prompt_text = true");
    let (out, logs, events, _) = run(&cfg, test_salt(1));
    assert_absent(&out, &secrets(), "snippets output");
    assert_absent(&logs, &secrets(), "debug logs");
    assert_absent(&logs, &text_windows(), "debug logs");
    assert!(
        out.contains("giraffe"),
        "the unique sentence's words may appear"
    );
    assert!(out.contains("[REDACTED:"));
    assert!(!out.contains(REPLY), "response text is never emitted");
    for e in &events {
        assert_eq!(e["privacy.mode"], "snippets");
        for s in e["prompt.segments"].as_array().expect("segments") {
            let snip = s["snippet"].as_str().expect("snippet present");
            assert!(snip.chars().count() <= 256);
        }
    }
}

#[test]
fn snippets_without_acknowledgement_is_strict() {
    for text in [
        "mode = \"snippets\"",
        "mode = \"snippets\"\nacknowledge_snippets_expose_prompt_text = false",
        "mode = \"snippets\"\nacknowledge_snippets_expose_prompt_text = \"yes\"",
    ] {
        let (out, logs, events, _) = run(&config(text), test_salt(1));
        assert_strict(&out, &logs, &events);
    }
}

#[test]
fn invalid_privacy_values_behave_as_strict_and_are_counted() {
    for text in [
        "mode = \"STRICT \"\nacknowledge_snippets_expose_prompt_text = true",
        "mode = \"off\"\nacknowledge_snippets_expose_prompt_text = true",
        "mode = \"\"\nacknowledge_snippets_expose_prompt_text = true",
        "mode = 1\nacknowledge_snippets_expose_prompt_text = true",
        "mode = { a = 1 }\nacknowledge_snippets_expose_prompt_text = true",
    ] {
        let (out, logs, events, stats) = run(&config(text), test_salt(1));
        assert_strict(&out, &logs, &events);
        assert_eq!(stats.invalid_mode_fallbacks, 1, "{text}");
        assert!(logs.contains("using strict"), "fallback is logged");
    }
    let mut stats = PrivacyStats::default();
    let cfg: PrivacyConfig = serde_json::from_str(r#"{"mode": 7}"#).expect("never fails");
    assert_eq!(cfg.resolve(&mut stats), PrivacyMode::Strict);
    assert_eq!(stats.invalid_mode_fallbacks, 1);
}

#[test]
fn fingerprints_are_keyed_and_stable() {
    let (_, _, a, _) = run(&PrivacyConfig::default(), test_salt(1));
    let (_, _, b, _) = run(&PrivacyConfig::default(), test_salt(1));
    let (_, _, c, _) = run(&PrivacyConfig::default(), test_salt(2));
    for i in 0..a.len() {
        assert_eq!(a[i]["prompt.fingerprint"], b[i]["prompt.fingerprint"]);
        assert_eq!(a[i]["prompt.segments"], b[i]["prompt.segments"]);
        assert_ne!(a[i]["event_id"], b[i]["event_id"]);
        assert_ne!(a[i]["prompt.fingerprint"], c[i]["prompt.fingerprint"]);
        assert_ne!(a[i]["request.id_hash"], c[i]["request.id_hash"]);
    }
    // Streamed and non-streamed requests differ in the body but not in the segments.
    assert_eq!(a[0]["prompt.fingerprint"], a[1]["prompt.fingerprint"]);
    assert_ne!(a[0]["prompt.fingerprint"], a[2]["prompt.fingerprint"]);
}

#[test]
fn generated_salt_file_is_private_and_reused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("llmtap-canary-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (s1, _) = load_salt_from(None, None, &dir).expect("generate");
    let mode = std::fs::metadata(dir.join("salt"))
        .expect("salt file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let (s2, _) = load_salt_from(None, None, &dir).expect("reuse");
    let (_, _, a, _) = run(&PrivacyConfig::default(), s1);
    let (_, _, b, _) = run(&PrivacyConfig::default(), s2);
    assert_eq!(a[3]["prompt.fingerprint"], b[3]["prompt.fingerprint"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn credential_headers_never_reach_meta() {
    for ex in all_exchanges() {
        let meta = ExchangeMeta::from_exchange(&ex, SystemTime::now());
        let dbg = format!("{meta:?}");
        assert_absent(&dbg, &secrets(), "ExchangeMeta debug");
        assert_eq!(meta.request_id.as_deref(), Some(REQUEST_ID));
    }
}

#[test]
#[ignore = "prints sample events"]
fn print_samples() {
    let cfg = config("mode = \"snippets\"\nacknowledge_snippets_expose_prompt_text = true");
    let (out, _, _, _) = run(&cfg, test_salt(1));
    println!("{out}");
}

/// One capture chunk of `data` at `offset`.
fn chunk(
    conn: u64,
    dir: llmtap::capture::Direction,
    offset: u64,
    data: &[u8],
) -> llmtap::capture::CaptureEvent {
    use llmtap::capture::{CaptureEvent, Chunk, ConnId, Library, ProcessInfo};
    CaptureEvent::Chunk(Chunk {
        conn: ConnId {
            tgid: 42,
            conn_ptr: conn,
            start_ns: 1,
        },
        direction: dir,
        offset,
        data: bytes::Bytes::copy_from_slice(data),
        timestamp_ns: 1_000 + offset,
        process: ProcessInfo {
            pid: 42,
            tid: 42,
            comm: "canary".into(),
            cgroup_id: 0,
        },
        library: Library::OpenSsl,
        call_truncated: false,
        last_of_call: true,
    })
}

/// Malformed traffic is logged at debug level when reassembly gives up on it; those log lines
/// must name what was wrong, never echo the captured bytes.
#[test]
fn malformed_traffic_logs_no_captured_bytes() {
    use llmtap::capture::Direction::{Egress, Ingress};
    use llmtap::reassembly::{Reassembler, ReassemblyConfig};
    let canary = "sk-canary-malformed-0123456789";
    let logs = Buf::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let mut out = Vec::new();
        // HTTP/1: an invalid header name, then an invalid chunk-size line, both carrying the canary.
        let bad_head =
            format!("POST /v1/chat/completions HTTP/1.1\r\nhost: a\r\n{canary} x: y\r\n\r\n");
        r.on_event(chunk(1, Egress, 0, bad_head.as_bytes()), &mut out);
        let req = "POST /v1/chat/completions HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\n\r\n{}";
        r.on_event(chunk(2, Egress, 0, req.as_bytes()), &mut out);
        let resp = format!("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz{canary}\r\n");
        r.on_event(chunk(2, Ingress, 0, resp.as_bytes()), &mut out);
        // HTTP/2: the client preface, then a HEADERS frame whose block is the canary (invalid HPACK).
        let mut h2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        h2.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // empty SETTINGS
        let block = [
            &[0xff_u8, 0xff, 0xff, 0xff, 0xff, 0xff][..],
            canary.as_bytes(),
        ]
        .concat();
        let len = block.len() as u32;
        h2.extend_from_slice(&[
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            1,
            4,
            0,
            0,
            0,
            1,
        ]);
        h2.extend_from_slice(&block);
        r.on_event(chunk(3, Egress, 0, &h2), &mut out);
        r.flush_all(&mut out);
        let stats = r.stats();
        assert!(
            stats.malformed.http1_request + stats.malformed.http1_response + stats.malformed.hpack
                >= 2,
            "{stats:?}"
        );
    });
    let text = logs.text();
    assert!(
        text.contains("malformed") || text.contains("framing"),
        "the failures were logged: {text}"
    );
    assert!(
        !text.contains(canary),
        "a log line echoed captured bytes: {text}"
    );
    assert!(!text.contains("sk-canary"), "{text}");
}
