//! Shared driver of the fuzz targets: turns arbitrary bytes into a capture (chunks of either
//! direction, with gaps) and runs it through the public reassembly API.

use bytes::Bytes;
use llmtap::capture::event::{CaptureEvent, Chunk, ConnId, Direction, Library, ProcessInfo};
use llmtap::reassembly::{Reassembler, ReassemblyConfig};

fn chunk(dir: Direction, offset: u64, data: &[u8], ts: u64) -> CaptureEvent {
    CaptureEvent::Chunk(Chunk {
        conn: ConnId {
            tgid: 1,
            conn_ptr: 2,
            start_ns: 3,
        },
        direction: dir,
        offset,
        data: Bytes::copy_from_slice(data),
        timestamp_ns: ts,
        process: ProcessInfo {
            pid: 1,
            tid: 1,
            comm: Default::default(),
            cgroup_id: 0,
        },
        library: Library::OpenSsl,
        call_truncated: false,
        last_of_call: true,
    })
}

/// Records: a control byte (bit 7: ingress, bit 6: skip = gap of `len` bytes, bits 0-5:
/// `len`), then `len` bytes of data. `egress_prefix` is sent first (e.g. the HTTP/2 preface).
pub fn drive(data: &[u8], egress_prefix: &[u8]) {
    let cfg = ReassemblyConfig {
        max_conn_buffer_bytes: 1 << 16,
        max_decompressed_bytes: 1 << 16,
        max_header_bytes: 1 << 12,
        reorder_window_bytes: 256,
        ..ReassemblyConfig::default()
    };
    let mut r = Reassembler::new(cfg);
    let mut out = Vec::new();
    let mut off = [0u64; 2];
    if !egress_prefix.is_empty() {
        r.on_event(chunk(Direction::Egress, 0, egress_prefix, 1), &mut out);
        off[0] = egress_prefix.len() as u64;
    }
    let mut rest = data;
    let mut ts = 2;
    while let Some((&ctl, tail)) = rest.split_first() {
        let len = usize::from(ctl & 0x3f);
        let dir = if ctl & 0x80 != 0 {
            Direction::Ingress
        } else {
            Direction::Egress
        };
        let d = usize::from(ctl & 0x80 != 0);
        if ctl & 0x40 != 0 {
            off[d] += len as u64;
            rest = tail;
            continue;
        }
        let n = len.min(tail.len());
        r.on_event(chunk(dir, off[d], &tail[..n], ts), &mut out);
        off[d] += n as u64;
        ts += 1;
        rest = &tail[n..];
    }
    r.evict_idle(ts, &mut out);
    r.flush_all(&mut out);
}
