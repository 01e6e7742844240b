//! Unit tests: stream ordering, SSE/NDJSON/event-stream parsers, config, eviction.

use bytes::Bytes;

use super::*;
use crate::reassembly::eventstream::{EventStreamError, EventStreamParser, decode_message};
use crate::reassembly::sse::SseParser;
use crate::reassembly::stream::{Segment, StreamBuf};
use crate::reassembly::{ConfigError, IncompleteReason};

fn data(s: &[Segment]) -> Vec<u8> {
    s.iter()
        .flat_map(|s| match s {
            Segment::Data(b, _) => b.to_vec(),
            Segment::Gap(_) => b"#".to_vec(),
        })
        .collect()
}

#[test]
fn stream_orders_trims_and_dedups() {
    let mut s = StreamBuf::default();
    let mut out = Vec::new();
    let b = |x: &'static [u8]| Bytes::from_static(x);
    s.push(3, b(b"def"), 2, false, 100, &mut out);
    assert!(out.is_empty());
    s.push(0, b(b"abc"), 1, false, 100, &mut out);
    assert!(s.push(1, b(b"bc"), 3, false, 100, &mut out).duplicate);
    s.push(4, b(b"efgh"), 4, false, 100, &mut out);
    assert_eq!(data(&out), b"abcdefgh");
    assert_eq!(s.next_offset(), 8);
}

#[test]
fn stream_window_overflow_and_truncation_become_gaps() {
    let mut s = StreamBuf::default();
    let mut out = Vec::new();
    s.push(0, Bytes::from_static(b"ab"), 1, true, 4, &mut out);
    s.push(5, Bytes::from_static(b"cd"), 2, false, 4, &mut out);
    assert_eq!(
        out.last(),
        Some(&Segment::Data(Bytes::from_static(b"cd"), 2))
    );
    assert!(s.push(20, Bytes::from_static(b"xyz"), 3, false, 4, &mut out) == Default::default());
    assert!(
        s.push(30, Bytes::from_static(b"uv"), 4, false, 4, &mut out)
            .bound_hit
    );
    assert_eq!(data(&out), b"ab#cd#xyz");
    s.finish(Some(40), &mut out);
    assert_eq!(data(&out), b"ab#cd#xyz#uv#");
    assert_eq!(out.last(), Some(&Segment::Gap(8)));
}

#[test]
fn sse_edge_cases() {
    let input = b"\xEF\xBB\xBFdata: a\r\n\r\n:comment\nevent: e\ndata\ndata:  b\r\rid: 1\0\ndata: c\n\ndata: tail";
    let mut whole = SseParser::new();
    whole.feed(input, 1);
    let whole = whole.finish();
    let mut split = SseParser::new();
    for (i, b) in input.iter().enumerate() {
        split.feed(&[*b], i as u64);
    }
    let split = split.finish();
    let d: Vec<_> = whole.iter().map(|e| (e.event, e.data, e.id)).collect();
    assert_eq!(
        d,
        [
            (None, &b"a"[..], None),
            (Some(&b"e"[..]), &b"\n b"[..], None),
            (None, &b"c"[..], None)
        ]
    );
    let d2: Vec<_> = split.iter().map(|e| e.data).collect();
    assert_eq!(d2, [&b"a"[..], b"\n b", b"c"]);
    assert_eq!(split.first().map(|e| e.timestamp_ns), Some(12));
}

fn es_message(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (n, v) in headers {
        h.push(n.len() as u8);
        h.extend_from_slice(n.as_bytes());
        h.push(7);
        h.extend_from_slice(&(v.len() as u16).to_be_bytes());
        h.extend_from_slice(v.as_bytes());
    }
    h.extend_from_slice(&[5, b':', b'f', b'l', b'a', b'g', 0]);
    let total = (12 + h.len() + payload.len() + 4) as u32;
    let mut m = total.to_be_bytes().to_vec();
    m.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let crc = crc32fast::hash(&m);
    m.extend_from_slice(&crc.to_be_bytes());
    m.extend_from_slice(&h);
    m.extend_from_slice(payload);
    let crc = crc32fast::hash(&m);
    m.extend_from_slice(&crc.to_be_bytes());
    m
}

#[test]
fn eventstream_messages_and_crc() {
    let m1 = es_message(
        &[(":event-type", "chunk"), (":message-type", "event")],
        b"{\"bytes\":\"x\"}",
    );
    let m2 = es_message(&[(":message-type", "exception")], b"{}");
    let all = [m1.clone(), m2].concat();
    let mut p = EventStreamParser::new();
    for (i, b) in all.chunks(5).enumerate() {
        p.feed(b, i as u64);
    }
    let (msgs, leftover) = p.finish();
    assert!(!leftover);
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].event_type.as_deref(), Some("chunk"));
    assert_eq!(msgs[0].message_type.as_deref(), Some("event"));
    assert_eq!(&msgs[0].payload[..], b"{\"bytes\":\"x\"}");
    assert_eq!(msgs[0].timestamp_ns, (m1.len() as u64 - 1) / 5);
    assert_eq!(msgs[1].message_type.as_deref(), Some("exception"));
    let mut bad = m1.clone();
    let n = bad.len();
    bad[n - 6] ^= 1;
    assert_eq!(decode_message(&bad, 0), Err(EventStreamError::MessageCrc));
    bad[1] ^= 1;
    assert_eq!(decode_message(&bad, 0), Err(EventStreamError::PreludeCrc));
}

#[test]
fn eventstream_over_http1() {
    let m = es_message(&[(":event-type", "chunk")], b"{}");
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.amazon.eventstream\r\nContent-Length: {}\r\n\r\n",
        m.len() * 2
    )
    .into_bytes();
    resp.extend_from_slice(&m);
    resp.extend_from_slice(&m);
    let xs = run(&vec![
        (
            E,
            super::h1::post("/model/x/invoke-with-response-stream", "{}"),
        ),
        (I, resp),
    ]);
    let Some(crate::reassembly::ResponseBody::EventStream(ms)) =
        xs[0].response.as_ref().map(|r| &r.body)
    else {
        panic!("not event-stream");
    };
    assert_eq!(ms.len(), 2);
    assert!(xs[0].completeness.complete);
}

#[test]
fn config_defaults_and_validation() {
    let c: ReassemblyConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(c, ReassemblyConfig::default());
    assert_eq!(c.max_conn_buffer_bytes, 4 << 20);
    assert_eq!(c.max_decompressed_bytes, 16 << 20);
    assert!(c.validate().is_ok());
    let bad = ReassemblyConfig {
        max_connections: 0,
        ..c.clone()
    };
    assert_eq!(bad.validate(), Err(ConfigError::Zero("max_connections")));
    let bad = ReassemblyConfig {
        max_decompressed_bytes: (1 << 30) + 1,
        ..c.clone()
    };
    assert_eq!(
        bad.validate(),
        Err(ConfigError::BodyOverLimit((1 << 30) + 1))
    );
    let bad = ReassemblyConfig {
        max_header_bytes: c.max_conn_buffer_bytes + 1,
        ..c
    };
    assert!(matches!(
        bad.validate(),
        Err(ConfigError::HeaderOverConn { .. })
    ));
}

#[test]
fn idle_and_capacity_eviction() {
    let cfg = ReassemblyConfig {
        idle_timeout_ns: 50,
        max_connections: 1,
        ..Default::default()
    };
    let mut r = Reassembler::new(cfg);
    let mut out = Vec::new();
    r.on_event(chunk(E, 0, &super::h1::post("/a", ""), 10), &mut out);
    r.evict_idle(30, &mut out);
    assert_eq!(r.connections(), 1);
    r.evict_idle(100, &mut out);
    assert_eq!(r.connections(), 0);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].completeness.reasons,
        [IncompleteReason::ConnectionEnded]
    );
    assert_eq!(r.stats().idle_evictions, 1);
    r.on_event(chunk(E, 0, b"GET / HTTP/1.1\r\n\r\n", 200), &mut out);
    let mut other = chunk(E, 0, b"GET / HTTP/1.1\r\n\r\n", 201);
    if let CaptureEvent::Chunk(c) = &mut other {
        c.conn.conn_ptr = 1;
    }
    r.on_event(other, &mut out);
    assert_eq!(r.stats().capacity_evictions, 1);
    assert_eq!(r.connections(), 1);
}

#[test]
fn plain_body_in_one_piece_is_kept_without_a_copy() {
    use crate::reassembly::body::{BodyError, BodyPipeline};
    let chunk = Bytes::from_static(b"HEAD{\"model\":\"m\"}TAIL");
    let body = chunk.slice(4..17);

    let mut one = BodyPipeline::new(Some("application/json"), None, 1024);
    one.feed_shared(body.clone(), 7);
    let (bytes, err, _) = one.finish_bytes(8);
    assert_eq!((&bytes[..], err), (&b"{\"model\":\"m\"}"[..], None));
    assert_eq!(
        bytes.as_ptr(),
        body.as_ptr(),
        "the chunk's memory, not a copy"
    );

    let mut two = BodyPipeline::new(Some("application/json"), None, 1024);
    two.feed_shared(body.slice(..5), 7);
    two.feed_shared(body.slice(5..), 8);
    let (bytes, err, _) = two.finish_bytes(9);
    assert_eq!((&bytes[..], err), (&b"{\"model\":\"m\"}"[..], None));

    let mut bounded = BodyPipeline::new(None, None, 4);
    bounded.feed_shared(body.clone(), 7);
    bounded.feed_shared(body.clone(), 8);
    let (bytes, err, _) = bounded.finish_bytes(9);
    assert_eq!((&bytes[..], err), (&b"{\"mo"[..], Some(BodyError::Bound)));

    let mut encoded = BodyPipeline::new(None, Some("gzip"), 1024);
    encoded.feed_shared(body, 7);
    let (_, err, was_encoded) = encoded.finish_bytes(8);
    assert!(
        was_encoded && err == Some(BodyError::Decode),
        "still decoded, not kept raw"
    );

    let mut sse = BodyPipeline::new(Some("text/event-stream"), None, 1024);
    sse.feed_shared(Bytes::from_static(b"data: x\n\n"), 7);
    assert_eq!(
        sse.finish(8).count,
        1,
        "streams still go through their parser"
    );
}
