//! Parse throughput of the reassembly stage: an HTTP/1.1 SSE stream and HTTP/2 streams, fed
//! as capture chunks of realistic TLS-record sizes.

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use llmtap::capture::event::{CaptureEvent, Chunk, ConnId, Direction, Library, ProcessInfo};
use llmtap::reassembly::http2::PREFACE;
use llmtap::reassembly::{Reassembler, ReassemblyConfig};

const PIECE: usize = 1400;

fn events(calls: &[(Direction, Vec<u8>)]) -> (Vec<CaptureEvent>, u64) {
    let mut off = [0u64; 2];
    let mut out = Vec::new();
    let mut total = 0;
    for (i, (dir, data)) in calls.iter().enumerate() {
        let d = usize::from(*dir == Direction::Ingress);
        for (j, piece) in data.chunks(PIECE).enumerate() {
            out.push(CaptureEvent::Chunk(Chunk {
                conn: ConnId {
                    tgid: 1,
                    conn_ptr: 2,
                    start_ns: 3,
                },
                direction: *dir,
                offset: off[d] + (j * PIECE) as u64,
                data: Bytes::copy_from_slice(piece),
                timestamp_ns: i as u64 * 10 + j as u64,
                process: ProcessInfo {
                    pid: 1,
                    tid: 1,
                    comm: "bench".into(),
                    cgroup_id: 0,
                },
                library: Library::OpenSsl,
                call_truncated: false,
                last_of_call: true,
            }));
        }
        off[d] += data.len() as u64;
        total += data.len() as u64;
    }
    (out, total)
}

fn h1_sse() -> Vec<(Direction, Vec<u8>)> {
    let body = "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer x\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut resp =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for i in 0..2000 {
        let ev = format!(
            "data: {{\"id\":\"chatcmpl-1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token {i}\"}}}}]}}\n\n"
        );
        resp.extend_from_slice(format!("{:x}\r\n", ev.len()).as_bytes());
        resp.extend_from_slice(ev.as_bytes());
        resp.extend_from_slice(b"\r\n");
    }
    resp.extend_from_slice(b"0\r\n\r\n");
    let mut calls = Vec::new();
    for _ in 0..4 {
        calls.push((Direction::Egress, req.clone().into_bytes()));
        calls.push((Direction::Ingress, resp.clone()));
    }
    calls
}

fn frame(ty: u8, flags: u8, sid: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    v.extend_from_slice(&[ty, flags]);
    v.extend_from_slice(&sid.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn h2_streams() -> Vec<(Direction, Vec<u8>)> {
    let mut ce = loona_hpack::Encoder::new();
    let mut se = loona_hpack::Encoder::new();
    let mut calls = vec![(Direction::Egress, PREFACE.to_vec())];
    let req: [(&[u8], &[u8]); 5] = [
        (b":method", b"POST"),
        (b":path", b"/v1/messages"),
        (b":authority", b"api.anthropic.com"),
        (b"x-api-key", b"k"),
        (b"content-type", b"application/json"),
    ];
    let resp: [(&[u8], &[u8]); 2] = [
        (b":status", b"200"),
        (b"content-type", b"text/event-stream"),
    ];
    let data = vec![b'x'; 16000];
    for s in 0..200u32 {
        let sid = 1 + 2 * s;
        let mut e = frame(1, 4, sid, &ce.encode(req));
        e.extend(frame(0, 1, sid, b"{\"max_tokens\":1}"));
        calls.push((Direction::Egress, e));
        let mut i = frame(1, 4, sid, &se.encode(resp));
        for k in 0..20 {
            let ev = format!("event: content_block_delta\ndata: {{\"delta\":\"{k}\"}}\n\n");
            i.extend(frame(0, 0, sid, ev.as_bytes()));
        }
        i.extend(frame(0, 1, sid, &data[..1000]));
        calls.push((Direction::Ingress, i));
    }
    calls
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("reassembly");
    for (name, calls) in [("h1_sse", h1_sse()), ("h2_streams", h2_streams())] {
        let (evs, total) = events(&calls);
        g.throughput(Throughput::Bytes(total));
        g.bench_function(name, |b| {
            b.iter_batched(
                || evs.clone(),
                |evs| {
                    let mut r = Reassembler::new(ReassemblyConfig::default());
                    let mut out = Vec::new();
                    for ev in evs {
                        r.on_event(ev, &mut out);
                    }
                    r.flush_all(&mut out);
                    assert!(!out.is_empty());
                    out
                },
                BatchSize::LargeInput,
            );
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
