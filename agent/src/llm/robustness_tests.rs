//! Bad-input tests for the LLM stage: truncated and mistyped JSON, huge numbers, non-UTF-8,
//! oversized and deeply nested bodies, and a deterministic pseudo-random run of the fuzz entry
//! point. Every case must yield a reported call (or a clean rejection), never a panic.

use bytes::Bytes;

use super::*;
use crate::capture::event::{ConnId, ProcessInfo};
use crate::reassembly::exchange::*;

fn ex(host: &str, path: &str, req: impl Into<Bytes>, resp: ResponseBody) -> Exchange {
    Exchange {
        conn: ConnId {
            tgid: 1,
            conn_ptr: 2,
            start_ns: 3,
        },
        process: ProcessInfo {
            pid: 1,
            tid: 1,
            comm: "t".into(),
            cgroup_id: 0,
        },
        version: HttpVersion::Http2,
        stream_id: Some(1),
        request: Request {
            method: "POST".into(),
            path: path.into(),
            authority: Some(host.into()),
            headers: Headers::default(),
            body: req.into(),
        },
        response: Some(Response {
            status: 200,
            headers: Headers::default(),
            body: resp,
        }),
        timing: Timing::default(),
        completeness: Completeness {
            complete: true,
            reasons: vec![],
        },
    }
}

fn full(s: &str) -> ResponseBody {
    ResponseBody::Full(Bytes::from(s.to_string()))
}

fn call_of(o: Outcome) -> LlmCall {
    match o {
        Outcome::Llm(c) => *c,
        other => panic!("expected a call, got {other:?}"),
    }
}

const ENDPOINTS: [(&str, &str); 7] = [
    ("api.openai.com", "/v1/chat/completions"),
    ("api.openai.com", "/v1/responses"),
    ("api.anthropic.com", "/v1/messages"),
    (
        "generativelanguage.googleapis.com",
        "/v1beta/models/g:generateContent",
    ),
    (
        "bedrock-runtime.us-east-1.amazonaws.com",
        "/model/m/converse",
    ),
    ("bedrock-runtime.us-east-1.amazonaws.com", "/model/m/invoke"),
    ("localhost:11434", "/api/chat"),
];

fn analyze_everywhere(req: &[u8], resp: &str, cfg: &LlmConfig) -> Vec<LlmCall> {
    ENDPOINTS
        .iter()
        .map(|(h, p)| call_of(analyze(&ex(h, p, req.to_vec(), full(resp)), cfg)))
        .collect()
}

#[test]
fn truncated_json_is_reported_as_eof() {
    for c in analyze_everywhere(
        br#"{"model":"m","messages":[{"role":"us"#,
        r#"{"usage":{"#,
        &LlmConfig::default(),
    ) {
        assert!(
            c.parse_errors
                .contains(&ParseErrorKind::RequestJson(JsonErrorClass::Eof)),
            "{c:?}"
        );
        assert!(
            c.parse_errors
                .contains(&ParseErrorKind::ResponseJson(JsonErrorClass::Eof))
        );
        assert!(!c.usage.reported);
    }
}

#[test]
fn wrong_types_are_data_errors_or_tolerated() {
    let cfg = LlmConfig::default();
    for c in analyze_everywhere(
        br#"{"model":5,"messages":5,"contents":5,"stream":"yes"}"#,
        "[1]",
        &cfg,
    ) {
        assert!(!c.parse_errors.is_empty(), "{:?}", c.api);
    }
    // Mistyped usage fields are tolerated field by field, never turned into 0.
    let c = call_of(analyze(
        &ex(
            ENDPOINTS[0].0,
            ENDPOINTS[0].1,
            "{}",
            full(r#"{"usage":{"prompt_tokens":"7","completion_tokens":3}}"#),
        ),
        &cfg,
    ));
    assert_eq!(c.usage.input_tokens, None);
    assert_eq!(c.usage.output_tokens, Some(3));
}

#[test]
fn huge_numbers_never_panic() {
    let cfg = LlmConfig::default();
    let resp = r#"{"usage":{"prompt_tokens":99999999999999999999999,"completion_tokens":-4,"input_tokens":18446744073709551615,"cache_read_input_tokens":18446744073709551615,"output_tokens":1e400}}"#;
    for c in analyze_everywhere(br#"{"max_tokens":1e999}"#, resp, &cfg) {
        assert_ne!(c.usage.input_tokens, Some(0));
    }
    // Anthropic sums saturate instead of overflowing.
    let resp = r#"{"usage":{"input_tokens":18446744073709551615,"cache_read_input_tokens":18446744073709551615,"output_tokens":1}}"#;
    let c = call_of(analyze(
        &ex(ENDPOINTS[2].0, ENDPOINTS[2].1, "{}", full(resp)),
        &cfg,
    ));
    assert_eq!(c.usage.input_tokens, Some(u64::MAX));
}

#[test]
fn non_utf8_bodies() {
    let cfg = LlmConfig::default();
    for (h, p) in ENDPOINTS {
        let e = ex(
            h,
            p,
            vec![b'{', 0xff, 0xfe, b'}'],
            ResponseBody::Full(Bytes::from_static(b"\xc3\x28")),
        );
        let c = call_of(analyze(&e, &cfg));
        assert_eq!(c.parse_errors, vec![ParseErrorKind::NotUtf8]);
    }
    let lines = vec![JsonLine {
        line: Bytes::from_static(b"\xff"),
        timestamp_ns: 0,
    }];
    let c = call_of(analyze(
        &ex(
            "localhost:11434",
            "/api/chat",
            "{}",
            ResponseBody::NdJson(lines),
        ),
        &cfg,
    ));
    assert!(c.parse_errors.contains(&ParseErrorKind::NotUtf8));
}

#[test]
fn fifty_mib_body_is_bounded() {
    let big = "x".repeat(50 << 20);
    let body = format!(
        r#"{{"model":"m","messages":[{{"role":"user","content":"{big}"}},{{"role":"user","content":"tail"}}]}}"#
    );
    let cfg = LlmConfig::default();
    let c = call_of(analyze(
        &ex(ENDPOINTS[0].0, ENDPOINTS[0].1, body.clone(), full("{}")),
        &cfg,
    ));
    let kept: usize = c.request.segments.iter().map(|s| s.text.len()).sum();
    assert!(kept <= cfg.max_segment_bytes, "{kept}");
    assert!(c.parse_errors.contains(&ParseErrorKind::SegmentsTruncated));
    assert_eq!(c.request.message_count, 2);
    assert!(c.request.segments.iter().all(|s| s.text_truncated));
    let mut stats = LlmStats::default();
    stats.record(&Outcome::Llm(Box::new(c)));
    assert_eq!(
        stats.parse_errors.get(&ParseErrorKind::SegmentsTruncated),
        Some(&1)
    );

    let small = LlmConfig {
        max_body_bytes: 1 << 20,
        ..LlmConfig::default()
    };
    let c = call_of(analyze(
        &ex(ENDPOINTS[2].0, ENDPOINTS[2].1, body, full("{}")),
        &small,
    ));
    assert!(c.parse_errors.contains(&ParseErrorKind::BodyTooLarge));
    assert!(c.request.segments.is_empty());
}

#[test]
fn deep_nesting_hits_the_recursion_limit() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let cfg = LlmConfig::default();
    // Unknown fields are skipped iteratively by serde_json: deep nesting there costs no stack.
    let obj = format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
    for c in analyze_everywhere(obj.as_bytes(), &deep(100_000), &cfg) {
        assert!(
            !c.parse_errors
                .iter()
                .any(|k| matches!(k, ParseErrorKind::RequestJson(_))),
            "{:?}",
            c.api
        );
        assert!(!c.parse_errors.is_empty(), "{:?}", c.api);
    }
    // Values that are materialised keep serde_json's recursion limit of 128.
    let req = format!(r#"{{"stream":{}}}"#, deep(100_000));
    for (h, p) in [ENDPOINTS[0], ENDPOINTS[2], ENDPOINTS[6]] {
        let c = call_of(analyze(&ex(h, p, req.clone(), full("{}")), &cfg));
        let want = ParseErrorKind::RequestJson(JsonErrorClass::TooDeep);
        assert!(
            c.parse_errors.contains(&want),
            "{:?} {:?}",
            c.api,
            c.parse_errors
        );
    }
    // Nesting inside a borrowed raw message or content block: skipped and minified
    // iteratively, no stack growth, no error.
    let req = format!(
        r#"{{"messages":[{{"role":"user","content":[{}]}}]}}"#,
        deep(50_000)
    );
    for c in analyze_everywhere(req.as_bytes(), "{}", &cfg) {
        assert!(
            !c.parse_errors
                .iter()
                .any(|k| matches!(k, ParseErrorKind::RequestJson(_))),
            "{:?}",
            c.api
        );
    }
}

#[test]
fn detection_is_cheap_for_non_llm() {
    let cfg = LlmConfig::default();
    // A body that would be an error to parse is never looked at for a non-LLM path.
    let e = ex("example.com", "/upload", vec![0xffu8; 1 << 20], full("x"));
    assert_eq!(analyze(&e, &cfg), Outcome::NotLlm);
    let mut get = ex("api.openai.com", "/v1/chat/completions", "", full("{}"));
    get.request.method = "GET".into();
    assert_eq!(analyze(&get, &cfg), Outcome::NotLlm);
    let off = LlmConfig {
        detect_unknown_hosts: false,
        ..LlmConfig::default()
    };
    let e = ex(
        "10.0.0.1:8000",
        "/v1/chat/completions",
        r#"{"model":"m"}"#,
        full("{}"),
    );
    assert_eq!(analyze(&e, &off), Outcome::NotLlm);
}

#[test]
fn fuzz_entry_point_survives_noise() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let alphabet = br#"{}[]":,0123456789-.eE truefalsnul\u"usage" "model" "data" "done" "#;
    for round in 0..3000 {
        let len = (next() % 300) as usize;
        let mut data: Vec<u8> = (0..len)
            .map(|_| {
                let r = next();
                if round % 3 == 0 {
                    r as u8
                } else {
                    alphabet[(r as usize) % alphabet.len()]
                }
            })
            .collect();
        if data.len() > 4 && round % 2 == 0 {
            let i = data.len() / 2;
            data[i] = 0xFF;
        }
        fuzz_analyze(&data);
    }
    // Structured seeds reaching deep into each parser.
    let seeds: [&[u8]; 6] = [
        b"\x05\x80\xff2026-11-22T01:40\xc3\xa9:00Z",
        b"\x00\x80\xffSun, 22 Nov 2026 01:40:00 GMT",
        b"\x05\x01{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"cache_control\":{\"ttl\":\"1h\"}}]}]}\xff{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1}}}\n{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":2}}",
        b"\x06\x01{}\xff{\"candidates\":[{\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"thoughtsTokenCount\":5}}\n{\"error\":{\"code\":5}}",
        b"\x09\x03{}\xff{\"bytes\":\"eyJ0eXBlIjoibWVzc2FnZV9zdG9wIn0=\"}\n{\"bytes\":\"!!\"}",
        b"\x0a\x02{\"model\":\"m\"}\xff{\"done\":true,\"prompt_eval_count\":1}\n{\"error\":\"x\"}",
    ];
    for s in seeds {
        fuzz_analyze(s);
    }
}

/// Skimming (`skim.rs`) must be invisible: over pseudo-random valid streams built from real
/// event shapes (nulls, live values, whitespace, keys inside text, escapes), every call is
/// identical with skimming on and off.
#[test]
fn skimming_stream_events_changes_no_result() {
    const OPENAI: &[&str] = &[
        r#"{"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}],"usage":null}"#,
        r#"{"id":"c","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"\"usage\": {\"x\":1}"},"logprobs":null,"finish_reason":null}]}"#,
        r#"{"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        r#"{"model":"gpt-4o","choices":[{"index":0,"delta":{} , "finish_reason" : "length"}]}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":4}}}"#,
        r#"{"choices":[{"delta":{"content":"caf\u00e9"}}],"usage" : {"prompt_tokens":7}}"#,
        r#"{"x_groq":{"usage":{"prompt_tokens":5,"completion_tokens":2}},"choices":[]}"#,
        r#"{"error":{"type":"server_error","code":"overloaded"}}"#,
        r#"{"type":"response.output_text.delta","delta":"usage"}"#,
        r#"{"type":"response.completed","response":{"model":"gpt-5","status":"completed","usage":{"input_tokens":9,"output_tokens":4}}}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"{\"status\":\"ok\"}"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":"status"},"finish_reason":null}],"status":null,"code":null}"#,
    ];
    const ANTHROPIC: &[&str] = &[
        r#"{"type":"message_start","message":{"model":"claude-sonnet-4-5","usage":{"input_tokens":10,"cache_read_input_tokens":4,"output_tokens":1}}}"#,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"type: message_stop"}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"usage\":"}}"#,
        r#"{"type":"ping"}"#,
        r#"{"type":"content_block_stop","index":0}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#,
        r#"{"type" : "message_stop"}"#,
        r#"{"type":"error","error":{"type":"overloaded_error","message":"x"}}"#,
        r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"\u00e9"},"usage":null}"#,
    ];
    let cfg = LlmConfig::default();
    let mut rng = fastrand::Rng::with_seed(11);
    for round in 0..400 {
        let (host, path, shapes, req) = if round % 2 == 0 {
            (
                "api.openai.com",
                "/v1/chat/completions",
                OPENAI,
                r#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"q"}]}"#,
            )
        } else {
            (
                "api.anthropic.com",
                "/v1/messages",
                ANTHROPIC,
                r#"{"model":"claude-sonnet-4-5","stream":true,"max_tokens":9,"messages":[{"role":"user","content":"q"}]}"#,
            )
        };
        let events: Vec<SseEvent> = (0..rng.usize(1..12))
            .map(|i| SseEvent {
                data: Bytes::from(shapes[rng.usize(..shapes.len())]),
                timestamp_ns: i as u64,
                ..SseEvent::default()
            })
            .collect();
        let exchange = ex(
            host,
            path,
            req,
            ResponseBody::Sse(events.into_iter().collect()),
        );
        let skimmed = call_of(analyze(&exchange, &cfg));
        skim::DISABLED.set(true);
        let parsed = call_of(analyze(&exchange, &cfg));
        skim::DISABLED.set(false);
        assert_eq!(skimmed, parsed, "round {round}");
    }
}
