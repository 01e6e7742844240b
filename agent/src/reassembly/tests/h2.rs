//! HTTP/2 fixtures: HPACK dynamic-table reuse, multiplexing, padding/priority/continuation,
//! RST_STREAM, connections first seen mid-way.

use loona_hpack::Encoder;

use super::*;
use crate::reassembly::http2::PREFACE;
use crate::reassembly::{HttpVersion, IncompleteReason, ResponseBody};

pub(crate) fn frame(ty: u8, flags: u8, sid: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut v = len.to_be_bytes()[1..].to_vec();
    v.push(ty);
    v.push(flags);
    v.extend_from_slice(&sid.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn req_headers(path: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    [
        (":method", "POST"),
        (":scheme", "https"),
        (":path", path),
        (":authority", "api.anthropic.com"),
        ("x-api-key", "sk-ant-secret"),
        ("anthropic-version", "2023-06-01"),
        ("x-stainless-lang", "python"),
        ("content-type", "application/json"),
    ]
    .iter()
    .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
    .collect()
}

fn enc(e: &mut Encoder<'_>, h: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    e.encode(h.iter().map(|(n, v)| (&n[..], &v[..])))
}

fn resp_headers(ct: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![
        (b":status".to_vec(), b"200".to_vec()),
        (b"content-type".to_vec(), ct.as_bytes().to_vec()),
        (b"request-id".to_vec(), b"req_1".to_vec()),
    ]
}

/// Two sequential requests (streams 1, 3) sharing headers, then two multiplexed streams
/// (5: SSE, 7: JSON) with padded/priority HEADERS, CONTINUATION and interleaved DATA.
pub(crate) fn h2_calls() -> Calls {
    let mut ce = Encoder::new();
    let mut se = Encoder::new();
    let mut client_start = PREFACE.to_vec();
    client_start.extend(frame(4, 0, 0, &[0, 1, 0, 0, 0x10, 0, 0, 4, 0, 0x60, 0, 0]));
    let mut calls: Calls = vec![(E, client_start)];
    calls.push((I, [frame(4, 0, 0, &[]), frame(4, 1, 0, &[])].concat()));
    for sid in [1u32, 3] {
        let block = enc(&mut ce, &req_headers("/v1/messages"));
        calls.push((
            E,
            [frame(1, 4, sid, &block), frame(0, 1, sid, b"{\"x\":1}")].concat(),
        ));
        let block = enc(&mut se, &resp_headers("application/json"));
        calls.push((
            I,
            [frame(1, 4, sid, &block), frame(0, 1, sid, b"{\"ok\":true}")].concat(),
        ));
    }
    // Stream 5: HEADERS padded + priority, split with CONTINUATION.
    let block = enc(&mut ce, &req_headers("/v1/stream"));
    let (a, b) = block.split_at(block.len() / 2);
    let mut payload = vec![3u8];
    payload.extend_from_slice(&[0, 0, 0, 0, 16]);
    payload.extend_from_slice(a);
    payload.extend_from_slice(&[0, 0, 0]);
    calls.push((
        E,
        [
            frame(1, 0x8 | 0x20, 5, &payload),
            frame(9, 4, 5, b),
            frame(0, 1, 5, b"{}"),
        ]
        .concat(),
    ));
    let block = enc(&mut ce, &req_headers("/v1/other"));
    calls.push((E, [frame(1, 4 | 1, 7, &block)].concat()));
    let b5 = enc(&mut se, &resp_headers("text/event-stream"));
    let b7 = enc(&mut se, &resp_headers("application/json"));
    calls.push((
        I,
        [
            frame(1, 4, 5, &b5),
            frame(1, 4, 7, &b7),
            frame(0, 0, 5, b"data: one\n\nda"),
        ]
        .concat(),
    ));
    calls.push((
        I,
        [
            frame(0, 8, 7, &[2, b'{', b'}', 0, 0]),
            frame(8, 0, 0, &[0, 0, 1, 0]),
        ]
        .concat(),
    ));
    calls.push((
        I,
        [
            frame(6, 0, 0, &[0; 8]),
            frame(0, 0, 5, b"ta: two\n\n"),
            frame(0, 1, 7, b""),
        ]
        .concat(),
    ));
    calls.push((I, frame(0, 1, 5, b"")));
    calls
}

#[test]
fn dynamic_table_reuse_and_multiplexing() {
    let xs = run(&h2_calls());
    let ids: Vec<_> = xs.iter().map(|x| x.stream_id.unwrap()).collect();
    assert_eq!(ids, [1, 3, 7, 5]);
    for x in &xs {
        assert!(x.completeness.complete, "{:?}", x.completeness);
        assert_eq!(x.version, HttpVersion::Http2);
        assert_eq!(x.request.method, "POST");
        assert_eq!(x.request.authority.as_deref(), Some("api.anthropic.com"));
        assert_eq!(x.request.headers.get("x-api-key"), Some(""));
        assert_eq!(x.request.headers.get("x-stainless-lang"), Some("python"));
        assert_eq!(x.response.as_ref().unwrap().status, 200);
    }
    assert_eq!(xs[0].request.headers, xs[1].request.headers);
    assert_eq!(&xs[1].request.body[..], b"{\"x\":1}");
    assert_eq!(body_bytes(&xs[1]), b"{\"ok\":true}");
    assert_eq!(xs[3].request.path, "/v1/stream");
    assert_eq!(body_bytes(&xs[2]), b"{}");
    let Some(ResponseBody::Sse(ev)) = xs[3].response.as_ref().map(|r| &r.body) else {
        panic!("not sse");
    };
    let data: Vec<_> = ev
        .iter()
        .map(|e| (e.text().into_owned(), e.timestamp_ns))
        .collect();
    assert_eq!(data, [("one".into(), ts_of(8)), ("two".into(), ts_of(10))]);
}

#[test]
fn rst_stream_marks_reset() {
    let mut ce = Encoder::new();
    let mut client = PREFACE.to_vec();
    client.extend(frame(1, 4, 1, &enc(&mut ce, &req_headers("/v1/x"))));
    let calls: Calls = vec![
        (E, client),
        (I, frame(4, 0, 0, &[])),
        (E, frame(3, 0, 1, &[0, 0, 0, 8])),
    ];
    let (xs, r) = run_events(ReassemblyConfig::default(), events(&calls, &[]));
    assert_eq!(xs.len(), 1);
    assert_eq!(xs[0].completeness.reasons, [IncompleteReason::StreamReset]);
    assert_eq!(r.stats().h2_stream_resets, 1);
}

#[test]
fn midway_connection_reports_headers_unavailable() {
    let mut ce = Encoder::new();
    let _ = enc(&mut ce, &req_headers("/warmup"));
    let block = enc(&mut ce, &req_headers("/v1/x"));
    let mut evs = vec![
        chunk(
            E,
            500,
            &[frame(1, 4, 9, &block), frame(0, 1, 9, b"{}")].concat(),
            10,
        ),
        chunk(
            I,
            300,
            &[frame(1, 4, 9, &[0x88]), frame(0, 1, 9, b"ok")].concat(),
            20,
        ),
    ];
    evs.push(CaptureEvent::ConnClosed {
        conn: conn(),
        total: [0, 0],
        timestamp_ns: 30,
    });
    let (xs, r) = run_events(ReassemblyConfig::default(), evs);
    assert_eq!(xs.len(), 1, "{xs:#?}");
    assert_eq!(
        xs[0].completeness.reasons,
        [IncompleteReason::HeadersUnavailable]
    );
    assert_eq!(&xs[0].request.body[..], b"{}");
    assert_eq!(body_bytes(&xs[0]), b"ok");
    assert_eq!(r.stats().h2_headers_unavailable, 1);
}

#[test]
fn gap_gives_up_h2_connection() {
    let calls = h2_calls();
    let mut evs = events(&calls, &[]);
    evs.remove(6); // the egress call with stream 5's request
    let (xs, r) = run_events(ReassemblyConfig::default(), evs);
    assert_eq!(xs.iter().filter(|x| x.completeness.complete).count(), 2);
    assert!(r.stats().gaps >= 1);
    assert!(xs.iter().skip(2).all(|x| !x.completeness.complete));
}
