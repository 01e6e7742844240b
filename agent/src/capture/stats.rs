//! Capture accounting: kernel per-CPU counters summed, plus what userspace saw. The invariant
//! `bytes_seen = bytes_delivered + lost (every reason)` holds for the kernel side at all times.

use std::sync::atomic::{AtomicU64, Ordering};

use agent_common::counter;
use serde::Serialize;

/// Kernel counters, summed over CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KernelCounters {
    /// TLS calls that moved data.
    pub calls: u64,
    /// Plaintext bytes those calls moved.
    pub bytes_seen: u64,
    /// Bytes written to the ring buffer.
    pub bytes_delivered: u64,
    /// Bytes beyond the per-call maximum.
    pub lost_over_max: u64,
    /// Bytes lost to a full ring buffer.
    pub lost_ringbuf_full: u64,
    /// Bytes lost to user-memory read faults.
    pub lost_read_fault: u64,
    /// Bytes lost because the connection table was full.
    pub lost_conn_table_full: u64,
    /// Chunk records delivered.
    pub chunks_delivered: u64,
    /// Close/exec/exit records lost to a full ring buffer.
    pub control_lost: u64,
    /// Calls not tracked because the in-flight table was full.
    pub calls_untracked: u64,
    /// Calls that failed or moved no data.
    pub calls_failed: u64,
    /// Connections closed by the library.
    pub conns_closed: u64,
}

impl KernelCounters {
    /// Build from the counter array values (index = `agent_common::counter`).
    pub fn from_slots(v: &[u64]) -> Self {
        let g = |i: u32| v.get(i as usize).copied().unwrap_or(0);
        KernelCounters {
            calls: g(counter::CALLS),
            bytes_seen: g(counter::BYTES_SEEN),
            bytes_delivered: g(counter::BYTES_DELIVERED),
            lost_over_max: g(counter::LOST_OVER_MAX),
            lost_ringbuf_full: g(counter::LOST_RINGBUF_FULL),
            lost_read_fault: g(counter::LOST_READ_FAULT),
            lost_conn_table_full: g(counter::LOST_CONN_TABLE_FULL),
            chunks_delivered: g(counter::CHUNKS_DELIVERED),
            control_lost: g(counter::CONTROL_LOST),
            calls_untracked: g(counter::CALLS_UNTRACKED),
            calls_failed: g(counter::CALLS_FAILED),
            conns_closed: g(counter::CONNS_CLOSED),
        }
    }

    /// Bytes lost for any reason.
    pub fn bytes_lost(&self) -> u64 {
        self.lost_over_max
            + self.lost_ringbuf_full
            + self.lost_read_fault
            + self.lost_conn_table_full
    }

    /// `seen = delivered + lost`. Counters are read CPU by CPU while probes run, so a snapshot
    /// taken under load can be off by in-flight calls; at rest it is exact.
    pub fn balanced(&self) -> bool {
        self.bytes_seen == self.bytes_delivered + self.bytes_lost()
    }
}

/// Userspace-side counters, shared between the ring reader and status output.
#[derive(Debug, Default)]
pub struct UserCounters {
    /// Chunk records read from the ring.
    pub chunks_received: AtomicU64,
    /// Payload bytes in them.
    pub bytes_received: AtomicU64,
    /// Chunks dropped because the pipeline queue was full.
    pub chunks_dropped_queue_full: AtomicU64,
    /// Payload bytes in those.
    pub bytes_dropped_queue_full: AtomicU64,
    /// Control records dropped because the pipeline queue was full.
    pub control_dropped_queue_full: AtomicU64,
    /// Records that could not be decoded.
    pub records_malformed: AtomicU64,
    /// Offset gaps observed (a chunk started after the expected offset).
    pub gaps: AtomicU64,
    /// Bytes missing in those gaps.
    pub gap_bytes: AtomicU64,
    /// Streams not gap-tracked because the tracker was at its bound.
    pub streams_untracked: AtomicU64,
    /// Exec/exit notices not handed to discovery because its queue was full (a missed exec is
    /// caught by the periodic rescan; a missed exit by the next sweep of that pid's reuse).
    pub discovery_notices_dropped: AtomicU64,
}

/// A plain copy of [`UserCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UserCountersSnapshot {
    /// See [`UserCounters::chunks_received`].
    pub chunks_received: u64,
    /// See [`UserCounters::bytes_received`].
    pub bytes_received: u64,
    /// See [`UserCounters::chunks_dropped_queue_full`].
    pub chunks_dropped_queue_full: u64,
    /// See [`UserCounters::bytes_dropped_queue_full`].
    pub bytes_dropped_queue_full: u64,
    /// See [`UserCounters::control_dropped_queue_full`].
    pub control_dropped_queue_full: u64,
    /// See [`UserCounters::records_malformed`].
    pub records_malformed: u64,
    /// See [`UserCounters::gaps`].
    pub gaps: u64,
    /// See [`UserCounters::gap_bytes`].
    pub gap_bytes: u64,
    /// See [`UserCounters::streams_untracked`].
    pub streams_untracked: u64,
    /// See [`UserCounters::discovery_notices_dropped`].
    pub discovery_notices_dropped: u64,
}

impl UserCounters {
    /// Add `by` to `c`.
    pub fn add(c: &AtomicU64, by: u64) {
        c.fetch_add(by, Ordering::Relaxed);
    }

    /// Copy out.
    pub fn snapshot(&self) -> UserCountersSnapshot {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        UserCountersSnapshot {
            chunks_received: l(&self.chunks_received),
            bytes_received: l(&self.bytes_received),
            chunks_dropped_queue_full: l(&self.chunks_dropped_queue_full),
            bytes_dropped_queue_full: l(&self.bytes_dropped_queue_full),
            control_dropped_queue_full: l(&self.control_dropped_queue_full),
            records_malformed: l(&self.records_malformed),
            gaps: l(&self.gaps),
            gap_bytes: l(&self.gap_bytes),
            streams_untracked: l(&self.streams_untracked),
            discovery_notices_dropped: l(&self.discovery_notices_dropped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_counts_every_loss_reason() {
        let mut v = vec![0u64; counter::COUNT as usize];
        v[counter::BYTES_SEEN as usize] = 100;
        v[counter::BYTES_DELIVERED as usize] = 60;
        v[counter::LOST_OVER_MAX as usize] = 10;
        v[counter::LOST_RINGBUF_FULL as usize] = 10;
        v[counter::LOST_READ_FAULT as usize] = 10;
        v[counter::LOST_CONN_TABLE_FULL as usize] = 10;
        let k = KernelCounters::from_slots(&v);
        assert_eq!(k.bytes_lost(), 40);
        assert!(k.balanced());
        v[counter::BYTES_SEEN as usize] = 101;
        assert!(!KernelCounters::from_slots(&v).balanced());
    }
}
