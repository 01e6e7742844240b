//! Runs every fixture under `tests/fixtures/llm/` (workspace root) through `llm::analyze` and
//! compares the result with the fixture's `expect` block (a partial JSON image of the
//! serialised `LlmCall`: every key present must match; numbers compare as f64).
//!
//! Fixture format: see `tests/fixtures/llm/README.md`.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use llmtap::capture::event::{ConnId, ProcessInfo};
use llmtap::event::{ExchangeMeta, build_event, price_call, validate_event};
use llmtap::llm::{LlmCall, LlmConfig, LlmStats, Outcome, analyze};
use llmtap::privacy::{Privacy, PrivacyMode, Salt};
use llmtap::reassembly::exchange::*;
use serde_json::Value;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/llm")
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn headers(v: &Value) -> Headers {
    let mut out = Vec::new();
    if let Some(map) = v.as_object() {
        for (k, val) in map {
            out.push((k.to_ascii_lowercase(), Bytes::from(text_of(val))));
        }
    }
    Headers(out)
}

fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

const START: u64 = 1_000_000;
const FIRST_CHUNK: u64 = 251_000_000;
const END: u64 = 2_001_000_000;

fn body_bytes(v: &Value) -> Bytes {
    match (v.get("body_raw"), v.get("body")) {
        (Some(raw), _) => Bytes::from(text_of(raw)),
        (None, Some(b)) => Bytes::from(b.to_string()),
        (None, None) => Bytes::new(),
    }
}

fn response(v: &Value) -> Option<Response> {
    if v.is_null() {
        return None;
    }
    let body = if let Some(events) = v.get("sse").and_then(Value::as_array) {
        ResponseBody::Sse(
            events
                .iter()
                .map(|e| SseEvent {
                    event: e
                        .get("event")
                        .and_then(Value::as_str)
                        .map(|s| s.to_string().into()),
                    data: text_of(&e["data"]).into(),
                    id: None,
                    timestamp_ns: FIRST_CHUNK,
                })
                .collect(),
        )
    } else if let Some(lines) = v.get("ndjson").and_then(Value::as_array) {
        ResponseBody::NdJson(
            lines
                .iter()
                .map(|l| JsonLine {
                    line: Bytes::from(text_of(l)),
                    timestamp_ns: FIRST_CHUNK,
                })
                .collect(),
        )
    } else if let Some(msgs) = v.get("event_stream").and_then(Value::as_array) {
        ResponseBody::EventStream(
            msgs.iter()
                .map(|m| {
                    // `anthropic_event`: an InvokeModel stream chunk wrapping this JSON in base64.
                    let payload = match m.get("anthropic_event") {
                        Some(ev) => serde_json::json!({ "bytes": b64(ev.to_string().as_bytes()) })
                            .to_string(),
                        None => text_of(&m["payload"]),
                    };
                    EventStreamMessage {
                        event_type: m
                            .get("event_type")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        message_type: Some(
                            m.get("message_type")
                                .and_then(Value::as_str)
                                .unwrap_or("event")
                                .into(),
                        ),
                        payload: Bytes::from(payload),
                        timestamp_ns: FIRST_CHUNK,
                    }
                })
                .collect(),
        )
    } else {
        ResponseBody::Full(body_bytes(v))
    };
    Some(Response {
        status: v["status"].as_u64().map_or(200, |s| s as u16),
        headers: headers(&v["headers"]),
        body,
    })
}

fn exchange(f: &Value) -> Exchange {
    let r = &f["request"];
    let response = response(&f["response"]);
    let complete = f.get("complete").and_then(Value::as_bool).unwrap_or(true);
    let streamed = matches!(response.as_ref().map(|r| &r.body), Some(b) if !matches!(b, ResponseBody::Full(_)));
    Exchange {
        conn: ConnId {
            tgid: 7,
            conn_ptr: 0xdead,
            start_ns: 1,
        },
        process: ProcessInfo {
            pid: 7,
            tid: 7,
            comm: "python3".into(),
            cgroup_id: 1,
        },
        version: HttpVersion::Http1,
        stream_id: None,
        request: Request {
            method: r["method"].as_str().unwrap_or("POST").into(),
            path: r["path"].as_str().unwrap_or("/").into(),
            authority: r["authority"].as_str().map(str::to_string),
            headers: headers(&r["headers"]),
            body: body_bytes(r),
        },
        response,
        timing: Timing {
            request_start_ns: START,
            request_end_ns: START + 1000,
            response_first_byte_ns: Some(FIRST_CHUNK - 1000),
            first_chunk_ns: Some(FIRST_CHUNK),
            response_end_ns: Some(END),
            chunk_count: if streamed { 0 } else { 1 },
        },
        completeness: Completeness {
            complete,
            reasons: if complete {
                vec![]
            } else {
                vec![IncompleteReason::ConnectionEnded]
            },
        },
    }
}

/// Every key of `want` must match in `got`; reports the first mismatch path.
fn partial_match(want: &Value, got: &Value, path: &str) -> Result<(), String> {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let gv = g.get(k).unwrap_or(&Value::Null);
                partial_match(wv, gv, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                partial_match(wv, gv, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Number(w), Value::Number(g))
            if (w.as_f64().unwrap_or(f64::NAN) - g.as_f64().unwrap_or(f64::NAN)).abs() < 1e-9 =>
        {
            Ok(())
        }
        (w, g) if w == g => Ok(()),
        (w, g) => Err(format!("{path}: want {w}, got {g}")),
    }
}

fn run(file: &Path, stats: &mut LlmStats) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let f: Value = serde_json::from_str(&text).map_err(|e| format!("fixture json: {e}"))?;
    let cfg: LlmConfig = match f.get("config") {
        Some(c) => serde_json::from_value(c.clone()).map_err(|e| format!("config: {e}"))?,
        None => LlmConfig::default(),
    };
    cfg.validate().map_err(|e| e.to_string())?;
    let outcome = analyze(&exchange(&f), &cfg);
    stats.record(&outcome);
    let expect = &f["expect"];
    let got = match &outcome {
        Outcome::NotLlm => serde_json::json!({ "outcome": "not_llm" }),
        Outcome::Unrecognised { reason } => {
            serde_json::json!({ "outcome": "unrecognised", "reason": reason })
        }
        Outcome::Llm(call) => {
            // Segment text is never serialised; check it was kept in memory.
            if call
                .request
                .segments
                .iter()
                .any(|s| s.text.is_empty() && !s.text_truncated)
            {
                return Err("segment with empty text".into());
            }
            check_event(call, &exchange(&f), &f["request"])?;
            serde_json::json!({ "outcome": "llm", "call": call })
        }
    };
    partial_match(expect, &got, "").map_err(|e| format!("{e}\nfull result: {got:#}"))
}

/// String leaves (8+ chars) of a request body, except model names, roles, types and ids.
fn prompt_strings(v: &Value, key: &str, out: &mut Vec<String>) {
    const SKIP: &[&str] = &[
        "model",
        "modelId",
        "role",
        "type",
        "id",
        "anthropic_version",
    ];
    match v {
        Value::String(s) if s.chars().count() >= 8 && !SKIP.contains(&key) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| prompt_strings(x, key, out)),
        Value::Object(m) => m.iter().for_each(|(k, x)| prompt_strings(x, k, out)),
        _ => {}
    }
}

static PROMPT_STRINGS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Every recognised call becomes a schema-valid event, in strict and snippets mode, and the
/// strict NDJSON carries none of the request's prompt strings.
fn check_event(call: &LlmCall, ex: &Exchange, request: &Value) -> Result<(), String> {
    let table = pricing::PriceTable::embedded();
    let cost = price_call(call, &table);
    let meta = ExchangeMeta::from_exchange(ex, std::time::SystemTime::now());
    for mode in [PrivacyMode::Strict, PrivacyMode::Snippets] {
        let salt = Salt::from_bytes(vec![5; 32]).ok_or("salt")?;
        let event = build_event(call, &meta, cost.as_ref(), &Privacy::new(mode, salt));
        let line = event.to_ndjson_line();
        let v: Value = serde_json::from_slice(&line).map_err(|e| e.to_string())?;
        validate_event(&v).map_err(|e| format!("{mode:?} event: {e:#?}\n{v:#}"))?;
        if mode == PrivacyMode::Strict {
            let text = String::from_utf8_lossy(&line);
            let body: Value = request
                .get("body")
                .cloned()
                .or_else(|| {
                    request
                        .get("body_raw")
                        .and_then(Value::as_str)
                        .and_then(|s| serde_json::from_str(s).ok())
                })
                .unwrap_or(Value::Null);
            let mut strings = Vec::new();
            prompt_strings(&body, "", &mut strings);
            PROMPT_STRINGS.fetch_add(strings.len(), std::sync::atomic::Ordering::Relaxed);
            if let Some(s) = strings.iter().find(|s| text.contains(s.as_str())) {
                return Err(format!("strict event contains prompt text {s:?}"));
            }
        }
    }
    Ok(())
}

#[test]
fn llm_fixtures() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 30,
        "fixture corpus too small: {}",
        files.len()
    );
    let mut stats = LlmStats::default();
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| {
            run(f, &mut stats)
                .err()
                .map(|e| format!("{}: {e}", f.display()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} fixture(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(
        stats.recognised.len() >= 10,
        "providers covered: {:?}",
        stats.recognised
    );
    assert!(stats.not_llm >= 1 && !stats.unrecognised.is_empty());
    let checked = PROMPT_STRINGS.load(std::sync::atomic::Ordering::Relaxed);
    assert!(checked >= 15, "prompt strings checked: {checked}");
}
