//! Tests of the reassembly stage: fixtures built as byte strings, property tests of
//! re-chunking. Helpers here model a capture as an ordered list of TLS calls.

mod h1;
mod h2;
mod rechunk;
mod units;

use bytes::Bytes;

use super::{Exchange, Reassembler, ReassemblyConfig};
use crate::capture::event::{CaptureEvent, Chunk, ConnId, Direction, Library, ProcessInfo};

pub(crate) const E: Direction = Direction::Egress;
pub(crate) const I: Direction = Direction::Ingress;

pub(crate) fn conn() -> ConnId {
    ConnId {
        tgid: 42,
        conn_ptr: 0xdead,
        start_ns: 1,
    }
}

/// A capture: TLS calls in order, each one direction's bytes. Call `i` has timestamp
/// `1000 * (i + 1)`.
pub(crate) type Calls = Vec<(Direction, Vec<u8>)>;

pub(crate) fn ts_of(i: usize) -> u64 {
    1000 * (i as u64 + 1)
}

/// Turns calls into chunk events, splitting each call into pieces of the cycled `sizes`
/// (empty = whole calls), and ends with a close.
pub(crate) fn events(calls: &Calls, sizes: &[usize]) -> Vec<CaptureEvent> {
    let mut off = [0u64; 2];
    let mut out = Vec::new();
    let mut k = 0;
    for (i, (dir, data)) in calls.iter().enumerate() {
        let d = usize::from(*dir == I);
        let mut pos = 0;
        while pos < data.len() {
            let n = if sizes.is_empty() {
                data.len()
            } else {
                k += 1;
                sizes[k % sizes.len()].max(1)
            };
            let end = (pos + n).min(data.len());
            out.push(chunk(*dir, off[d] + pos as u64, &data[pos..end], ts_of(i)));
            pos = end;
        }
        off[d] += data.len() as u64;
    }
    out.push(CaptureEvent::ConnClosed {
        conn: conn(),
        total: off,
        timestamp_ns: ts_of(calls.len()),
    });
    out
}

pub(crate) fn chunk(dir: Direction, offset: u64, data: &[u8], ts: u64) -> CaptureEvent {
    CaptureEvent::Chunk(Chunk {
        conn: conn(),
        direction: dir,
        offset,
        data: Bytes::copy_from_slice(data),
        timestamp_ns: ts,
        process: ProcessInfo {
            pid: 42,
            tid: 43,
            comm: "python3".into(),
            cgroup_id: 7,
        },
        library: Library::OpenSsl,
        call_truncated: false,
        last_of_call: true,
    })
}

pub(crate) fn run_events(
    cfg: ReassemblyConfig,
    evs: Vec<CaptureEvent>,
) -> (Vec<Exchange>, Reassembler) {
    let mut r = Reassembler::new(cfg);
    let mut out = Vec::new();
    for ev in evs {
        r.on_event(ev, &mut out);
    }
    r.flush_all(&mut out);
    (out, r)
}

pub(crate) fn run(calls: &Calls) -> Vec<Exchange> {
    run_events(ReassemblyConfig::default(), events(calls, &[])).0
}

pub(crate) fn body_bytes(x: &Exchange) -> &[u8] {
    match x.response.as_ref().map(|r| &r.body) {
        Some(super::ResponseBody::Full(b)) => b,
        _ => &[],
    }
}
