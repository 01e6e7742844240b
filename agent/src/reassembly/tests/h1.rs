//! HTTP/1 fixtures: content-length, chunked, gzip, pipelining, SSE, gaps, bombs, no-body rules.

use std::io::Write;

use super::*;
use crate::reassembly::{IncompleteReason, ResponseBody};

pub(crate) fn post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer sk-secret\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub(crate) fn ok_json(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: s=1\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub(crate) fn chunked(head: &str, pieces: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("{head}Transfer-Encoding: chunked\r\n\r\n").into_bytes();
    for p in pieces {
        v.extend_from_slice(format!("{:x};ext=1\r\n", p.len()).as_bytes());
        v.extend_from_slice(p);
        v.extend_from_slice(b"\r\n");
    }
    v.extend_from_slice(b"0\r\nx-trailer: 1\r\n\r\n");
    v
}

pub(crate) fn sse_calls() -> Calls {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n";
    let body = chunked(
        head,
        &[
            b": keep-alive\r\n\r\nevent: message_start\r\ndata: {\"a\":",
            b"1}\r\n\r\ndata: line1\ndata: line2\nid: 7\nretry: 10\n\n",
            b"data: cr\r",
            b"\rdata: [DONE]\n\n",
        ],
    );
    // Response split across calls at awkward places: inside a field and between two CRs.
    let at = |pat: &[u8]| body.windows(pat.len()).position(|w| w == pat).unwrap_or(0);
    let (a, rest) = body.split_at(at(b"1}\r\n"));
    let (b, c) = rest.split_at(at(b"\rdata: [DONE]") - a.len());
    vec![
        (E, post("/v1/messages", "{\"stream\":true}")),
        (I, a.to_vec()),
        (I, b.to_vec()),
        (I, c.to_vec()),
    ]
}

#[test]
fn content_length_exchange_with_redaction() {
    let xs = run(&vec![
        (E, post("/v1/chat/completions", "{\"model\":\"gpt\"}")),
        (I, ok_json("{\"id\":1}")),
    ]);
    assert_eq!(xs.len(), 1);
    let x = &xs[0];
    assert!(x.completeness.complete, "{:?}", x.completeness);
    assert_eq!(x.request.method, "POST");
    assert_eq!(x.request.path, "/v1/chat/completions");
    assert_eq!(x.request.authority.as_deref(), Some("api.openai.com"));
    assert_eq!(&x.request.body[..], b"{\"model\":\"gpt\"}");
    assert!(x.request.headers.contains("authorization"));
    assert_eq!(x.request.headers.get("authorization"), Some(""));
    let resp = x.response.as_ref().unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.headers.get("set-cookie"), Some(""));
    assert_eq!(body_bytes(x), b"{\"id\":1}");
    assert_eq!(x.timing.request_start_ns, 1000);
    assert_eq!(x.timing.request_end_ns, 1000);
    assert_eq!(x.timing.response_first_byte_ns, Some(2000));
    assert_eq!(x.timing.first_chunk_ns, Some(2000));
    assert_eq!(x.timing.response_end_ns, Some(2000));
}

#[test]
fn chunked_response() {
    let resp = chunked("HTTP/1.1 200 OK\r\n", &[b"hello ", b"world"]);
    let xs = run(&vec![(E, post("/a", "")), (I, resp)]);
    assert_eq!(xs.len(), 1);
    assert!(xs[0].completeness.complete);
    assert_eq!(body_bytes(&xs[0]), b"hello world");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn encoded_response(enc: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: {enc}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

#[test]
fn gzip_deflate_br_zstd_bodies() {
    let plain = b"{\"usage\":{\"prompt_tokens\":12}}".repeat(20);
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    zlib.write_all(&plain).unwrap();
    let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    raw.write_all(&plain).unwrap();
    let mut br = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
        w.write_all(&plain).unwrap();
    }
    let zstd =
        ruzstd::encoding::compress_to_vec(&plain[..], ruzstd::encoding::CompressionLevel::Fastest);
    for (enc, body) in [
        ("gzip", gzip(&plain)),
        ("deflate", zlib.finish().unwrap()),
        ("deflate", raw.finish().unwrap()),
        ("br", br),
        ("zstd", zstd),
    ] {
        let xs = run(&vec![
            (E, post("/a", "")),
            (I, encoded_response(enc, &body)),
        ]);
        assert_eq!(xs.len(), 1, "{enc}");
        assert!(
            xs[0].completeness.complete,
            "{enc}: {:?}",
            xs[0].completeness
        );
        assert_eq!(body_bytes(&xs[0]), &plain[..], "{enc}");
    }
}

#[test]
fn decompression_bomb_stops_at_bound() {
    let bomb = gzip(&vec![0u8; 1 << 20]);
    let cfg = ReassemblyConfig {
        max_decompressed_bytes: 64 << 10,
        ..ReassemblyConfig::default()
    };
    let calls = vec![(E, post("/a", "")), (I, encoded_response("gzip", &bomb))];
    let (xs, r) = run_events(cfg, events(&calls, &[]));
    assert_eq!(xs.len(), 1);
    assert!(!xs[0].completeness.complete);
    assert!(
        xs[0]
            .completeness
            .reasons
            .contains(&IncompleteReason::BoundExceeded)
    );
    assert_eq!(body_bytes(&xs[0]).len(), 64 << 10);
    assert_eq!(r.stats().decompression_bombs, 1);
}

#[test]
fn pipelined_keep_alive_and_head_204_304() {
    let mut reqs = post("/one", "1");
    reqs.extend_from_slice(b"HEAD /two HTTP/1.1\r\nHost: h\r\n\r\n");
    reqs.extend_from_slice(b"DELETE /three HTTP/1.1\r\nHost: h\r\n\r\n");
    reqs.extend_from_slice(b"GET /four HTTP/1.1\r\nHost: h\r\n\r\n");
    let mut resps = ok_json("a");
    resps.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    resps.extend_from_slice(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
    resps.extend_from_slice(b"HTTP/1.1 304 Not Modified\r\n\r\n");
    let xs = run(&vec![(E, reqs), (I, resps)]);
    let paths: Vec<_> = xs.iter().map(|x| x.request.path.as_str()).collect();
    assert_eq!(paths, ["/one", "/two", "/three", "/four"]);
    let status: Vec<_> = xs
        .iter()
        .map(|x| x.response.as_ref().unwrap().status)
        .collect();
    assert_eq!(status, [200, 200, 204, 304]);
    assert!(xs.iter().all(|x| x.completeness.complete), "{xs:#?}");
    assert_eq!(body_bytes(&xs[0]), b"a");
    assert!(body_bytes(&xs[1]).is_empty());
}

#[test]
fn expect_continue_and_close_delimited_response() {
    let head = b"POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
    let xs = run(&vec![
        (E, head.to_vec()),
        (I, b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()),
        (E, b"body".to_vec()),
        (
            I,
            b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ".to_vec(),
        ),
        (I, b"close".to_vec()),
    ]);
    assert_eq!(xs.len(), 1);
    let x = &xs[0];
    assert!(x.completeness.complete, "{:?}", x.completeness);
    assert_eq!(&x.request.body[..], b"body");
    assert_eq!(x.response.as_ref().unwrap().status, 200);
    assert_eq!(body_bytes(x), b"until close");
    assert_eq!(x.timing.request_end_ns, 3000);
    assert_eq!(x.timing.response_first_byte_ns, Some(4000));
    assert_eq!(x.timing.response_end_ns, Some(6000));
    assert_eq!(x.timing.chunk_count, 2);
}

#[test]
fn sse_events_split_anywhere() {
    let xs = run(&sse_calls());
    assert_eq!(xs.len(), 1);
    let x = &xs[0];
    assert!(x.completeness.complete, "{:?}", x.completeness);
    let Some(ResponseBody::Sse(ev)) = x.response.as_ref().map(|r| &r.body) else {
        panic!("not sse: {x:?}");
    };
    let data: Vec<_> = ev.iter().map(|e| e.text().into_owned()).collect();
    assert_eq!(data, ["{\"a\":1}", "line1\nline2", "cr", "[DONE]"]);
    let ev: Vec<_> = ev.iter().collect();
    assert_eq!(ev[0].event_name().as_deref(), Some("message_start"));
    assert_eq!(ev[1].id, Some(&b"7"[..]));
    // The first two events complete in the third call, the last two in the fourth.
    let ts: Vec<_> = ev.iter().map(|e| e.timestamp_ns).collect();
    assert_eq!(ts, [3000, 3000, 4000, 4000]);
    assert_eq!(x.timing.first_chunk_ns, Some(3000));
    assert_eq!(x.timing.chunk_count, 4);
}

#[test]
fn gap_in_the_middle_marks_and_resyncs() {
    let resp2 = chunked(
        "HTTP/1.1 200 OK\r\n",
        &[b"aaaaaaaaaa", b"bbbbbbbbbb", b"cccccccccc"],
    );
    let calls: Calls = vec![
        (E, post("/one", "")),
        (I, ok_json("1")),
        (E, post("/two", "")),
        (I, resp2.clone()),
        (E, post("/three", "")),
        (I, ok_json("3")),
    ];
    let mut evs = events(&calls, &[]);
    // Drop the middle of response two: keep its first 50 bytes, lose the rest of the call.
    if let CaptureEvent::Chunk(c) = &mut evs[3] {
        c.data = c.data.slice(..50);
        c.call_truncated = true;
    }
    let (xs, r) = run_events(ReassemblyConfig::default(), evs);
    let paths: Vec<_> = xs.iter().map(|x| x.request.path.as_str()).collect();
    assert_eq!(paths, ["/one", "/two", "/three"]);
    assert!(xs[0].completeness.complete);
    assert_eq!(
        xs[1].completeness.reasons,
        [IncompleteReason::Gap {
            bytes: resp2.len() as u64 - 50
        }]
    );
    assert!(xs[2].completeness.complete, "{:?}", xs[2].completeness);
    assert_eq!(body_bytes(&xs[2]), b"3");
    assert_eq!(r.stats().gaps, 1);
    assert_eq!(r.stats().gap_bytes, resp2.len() as u64 - 50);
}

#[test]
fn lost_request_is_not_paired_with_the_wrong_response() {
    let calls: Calls = vec![
        (E, post("/one", "")),
        (I, ok_json("1")),
        (E, post("/lost", "")),
        (I, ok_json("2")),
        (E, post("/three", "")),
        (I, ok_json("3")),
    ];
    let mut evs = events(&calls, &[]);
    evs.remove(2);
    let (xs, _) = run_events(ReassemblyConfig::default(), evs);
    let got: Vec<_> = xs
        .iter()
        .map(|x| {
            (
                x.request.path.as_str(),
                body_bytes(x).to_vec(),
                x.completeness.complete,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("/one", b"1".to_vec(), true),
            ("", b"2".to_vec(), false),
            ("/three", b"3".to_vec(), true)
        ]
    );
}

#[test]
fn garbage_is_malformed_then_resynced() {
    let mut reqs = b"\x16\x03\x01garbage\r\n\r\n".to_vec();
    reqs.extend_from_slice(&post("/ok", "x"));
    let (xs, r) = run_events(
        ReassemblyConfig::default(),
        events(&vec![(E, reqs), (I, ok_json("y"))], &[]),
    );
    assert_eq!(xs.len(), 1);
    assert_eq!(xs[0].request.path, "/ok");
    assert!(xs[0].completeness.complete);
    assert!(r.stats().malformed.http1_request >= 1);
}

#[test]
fn incomplete_at_flush() {
    let calls: Calls = vec![
        (E, post("/a", "")),
        (
            I,
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".to_vec(),
        ),
    ];
    let mut evs = events(&calls, &[]);
    evs.pop();
    let (xs, r) = run_events(ReassemblyConfig::default(), evs);
    assert_eq!(xs.len(), 1);
    assert_eq!(
        xs[0].completeness.reasons,
        [IncompleteReason::ConnectionEnded]
    );
    assert_eq!(body_bytes(&xs[0]), b"abc");
    assert_eq!(r.stats().exchanges_incomplete, 1);
}

#[test]
fn ndjson_stream() {
    let resp = chunked(
        "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n",
        &[b"{\"a\":1}\n{\"b\"", b":2}\r\n\n{\"done\":true}"],
    );
    let xs = run(&vec![(E, post("/api/chat", "{}")), (I, resp)]);
    let Some(ResponseBody::NdJson(lines)) = xs[0].response.as_ref().map(|r| &r.body) else {
        panic!("not ndjson");
    };
    let l: Vec<_> = lines.iter().map(|l| &l.line[..]).collect();
    assert_eq!(l, [&b"{\"a\":1}"[..], b"{\"b\":2}", b"{\"done\":true}"]);
}

#[test]
fn unsupported_encoding_is_kept_raw_and_flagged() {
    let xs = run(&vec![
        (E, post("/a", "")),
        (I, encoded_response("compress", b"xyz")),
    ]);
    assert_eq!(body_bytes(&xs[0]), b"xyz");
    assert_eq!(
        xs[0].completeness.reasons,
        [IncompleteReason::Malformed("content-encoding".into())]
    );
}
