//! Throughput of the whole userspace pipeline (reassembly → LLM parse → pricing → keyed hashing
//! → insights → NDJSON serialisation) over a recorded mix of LLM exchanges, fed as capture
//! chunks, next to raw SHA-256 over the same bytes in the same run. `cargo xtask bench` reads
//! both estimates and reports their ratio (budget: pipeline ≥ 0.5 × SHA-256) and exchanges/s
//! per core (docs/performance.md).
//!
//! The mix, per round, on four keep-alive connections: OpenAI streaming chat (10 KiB request,
//! 200 SSE events, one read per event), Anthropic streaming messages (10 KiB request, 200
//! events), OpenAI non-streaming chat (4 KiB request, JSON answer) and a non-LLM JSON call.

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput};
use llmtap::{
    capture::event::{CaptureEvent, Chunk, ConnId, Direction, Library, ProcessInfo},
    config::AgentConfig,
    pipeline::Pipeline,
    privacy::{Privacy, PrivacyMode, PrivacyStats, Salt},
};
use sha2::{Digest, Sha256};

/// Exchanges of each kind per connection.
const ROUNDS: usize = 25;

struct Recorded {
    events: Vec<CaptureEvent>,
    bytes: u64,
    exchanges: u64,
    llm_calls: u64,
}

fn padded(len: usize) -> String {
    "lorem ipsum ".repeat(len / 12 + 1)[..len].to_string()
}

fn request(path: &str, host: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer sk-bench\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A chunked response whose body pieces each arrive in their own read.
fn chunked(content_type: &str, pieces: &[String]) -> Vec<Vec<u8>> {
    let mut reads = vec![
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .into_bytes(),
    ];
    for p in pieces {
        reads.push(format!("{:x}\r\n{p}\r\n", p.len()).into_bytes());
    }
    reads.push(b"0\r\n\r\n".to_vec());
    reads
}

fn openai_stream(i: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let body = format!(
        "{{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{{\"include_usage\":true}},\
         \"messages\":[{{\"role\":\"system\",\"content\":\"{}\"}},{{\"role\":\"user\",\"content\":\"question {i}\"}}]}}",
        padded(10_000)
    );
    let mut events: Vec<String> = (0..199)
        .map(|k| {
            format!(
                "data: {{\"id\":\"chatcmpl-{i}\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024-08-06\",\
                 \"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token {k} \"}}}}]}}\n\n"
            )
        })
        .collect();
    events.push(format!(
        "data: {{\"id\":\"chatcmpl-{i}\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\
         \"usage\":{{\"prompt_tokens\":2600,\"completion_tokens\":199,\"total_tokens\":2799,\
         \"prompt_tokens_details\":{{\"cached_tokens\":2048}}}}}}\n\ndata: [DONE]\n\n"
    ));
    (
        request("/v1/chat/completions", "api.openai.com", &body),
        chunked("text/event-stream", &events),
    )
}

fn anthropic_stream(i: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let body = format!(
        "{{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"stream\":true,\
         \"system\":[{{\"type\":\"text\",\"text\":\"{}\",\"cache_control\":{{\"type\":\"ephemeral\"}}}}],\
         \"messages\":[{{\"role\":\"user\",\"content\":\"question {i}\"}}]}}",
        padded(10_000)
    );
    let ev = |name: &str, data: String| format!("event: {name}\ndata: {data}\n\n");
    let mut events = vec![ev(
        "message_start",
        format!(
            "{{\"type\":\"message_start\",\"message\":{{\"id\":\"msg_{i}\",\"type\":\"message\",\"role\":\"assistant\",\
             \"model\":\"claude-sonnet-4-5-20250929\",\"content\":[],\"usage\":{{\"input_tokens\":20,\
             \"cache_read_input_tokens\":2500,\"cache_creation_input_tokens\":0,\"output_tokens\":1}}}}}}"
        ),
    )];
    events.push(ev(
        "content_block_start",
        "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}".into(),
    ));
    for k in 0..196 {
        events.push(ev(
            "content_block_delta",
            format!("{{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"token {k} \"}}}}"),
        ));
    }
    events.push(ev(
        "content_block_stop",
        "{\"type\":\"content_block_stop\",\"index\":0}".into(),
    ));
    events.push(ev(
        "message_delta",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":196}}".into(),
    ));
    events.push(ev("message_stop", "{\"type\":\"message_stop\"}".into()));
    (
        request("/v1/messages", "api.anthropic.com", &body),
        chunked("text/event-stream", &events),
    )
}

fn openai_json(i: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let body = format!(
        "{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"system\",\"content\":\"{}\"}},\
         {{\"role\":\"user\",\"content\":\"question {i}\"}}]}}",
        padded(4_000)
    );
    let answer = format!(
        "{{\"id\":\"chatcmpl-{i}\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini-2024-07-18\",\
         \"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"{}\"}},\"finish_reason\":\"stop\"}}],\
         \"usage\":{{\"prompt_tokens\":1000,\"completion_tokens\":300,\"total_tokens\":1300}}}}",
        padded(1_200)
    );
    (
        request("/v1/chat/completions", "api.openai.com", &body),
        chunked("application/json", &[answer]),
    )
}

fn other_json(i: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let body = format!("{{\"user\":{i},\"items\":[1,2,3]}}");
    (
        request("/api/v2/orders", "shop.example.com", &body),
        chunked("application/json", &["{\"ok\":true}".to_string()]),
    )
}

fn record() -> Recorded {
    type Maker = fn(usize) -> (Vec<u8>, Vec<Vec<u8>>);
    let kinds: [(Maker, bool); 4] = [
        (openai_stream, true),
        (anthropic_stream, true),
        (openai_json, true),
        (other_json, false),
    ];
    let mut rec = Recorded {
        events: Vec::new(),
        bytes: 0,
        exchanges: 0,
        llm_calls: 0,
    };
    let mut ts = 1_000_000u64;
    for (c, (make, is_llm)) in kinds.iter().enumerate() {
        let conn = ConnId {
            tgid: 4242,
            conn_ptr: 0x1000 + c as u64,
            start_ns: 1,
        };
        let mut off = [0u64; 2];
        for i in 0..ROUNDS {
            let (req, reads) = make(i);
            let mut push = |dir: Direction, data: &[u8], ts: u64| {
                let d = usize::from(dir == Direction::Ingress);
                // The kernel splits one call into 16 KiB chunks at most.
                let pieces: Vec<&[u8]> = data.chunks(16 * 1024).collect();
                let n = pieces.len();
                for (j, p) in pieces.into_iter().enumerate() {
                    rec.events.push(CaptureEvent::Chunk(Chunk {
                        conn,
                        direction: dir,
                        offset: off[d],
                        data: Bytes::copy_from_slice(p),
                        timestamp_ns: ts,
                        process: ProcessInfo {
                            pid: 4242,
                            tid: 4242,
                            comm: "bench".into(),
                            cgroup_id: 0,
                        },
                        library: Library::OpenSsl,
                        call_truncated: false,
                        last_of_call: j + 1 == n,
                    }));
                    off[d] += p.len() as u64;
                    rec.bytes += p.len() as u64;
                }
            };
            push(Direction::Egress, &req, ts);
            for r in &reads {
                ts += 10_000;
                push(Direction::Ingress, r, ts);
            }
            ts += 1_000_000;
            rec.exchanges += 1;
            rec.llm_calls += u64::from(*is_llm);
        }
    }
    rec
}

fn pipeline() -> Pipeline {
    let salt = Salt::from_bytes(b"llmtap-bench-salt-0123456789abcdef".to_vec()).expect("salt");
    Pipeline::with_privacy(
        &AgentConfig::default(),
        Privacy::new(PrivacyMode::Strict, salt),
        PrivacyStats::default(),
    )
    .expect("pipeline")
}

fn bench(c: &mut Criterion) {
    let rec = record();
    // Check the mix does what it claims before timing it.
    {
        let mut p = pipeline();
        let mut out = Vec::new();
        for ev in rec.events.clone() {
            p.on_capture(ev, &mut out);
        }
        p.finish(&mut out);
        assert_eq!(
            p.counters().exchanges,
            rec.exchanges,
            "exchanges reassembled"
        );
        assert_eq!(out.len() as u64, rec.llm_calls, "events emitted");
    }
    let meta = serde_json::json!({"bytes": rec.bytes, "exchanges": rec.exchanges,
        "llm_calls": rec.llm_calls, "chunks": rec.events.len()});
    let dir = std::env::var("LLMTAP_BENCH_META").unwrap_or_default();
    if !dir.is_empty() {
        std::fs::write(&dir, meta.to_string()).expect("write bench meta file");
    }
    eprintln!("pipeline mix: {meta}");

    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Bytes(rec.bytes));
    g.bench_function("llmtap", |b| {
        b.iter_batched(
            || (rec.events.clone(), pipeline()),
            |(evs, mut p)| {
                let mut out = Vec::new();
                for ev in evs {
                    p.on_capture(ev, &mut out);
                }
                p.finish(&mut out);
                out
            },
            BatchSize::LargeInput,
        );
    });
    g.bench_function("sha256", |b| {
        b.iter_batched(
            || rec.events.clone(),
            |evs| {
                let mut h = Sha256::new();
                for ev in &evs {
                    if let CaptureEvent::Chunk(c) = ev {
                        h.update(&c.data);
                    }
                }
                (h.finalize(), evs)
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
