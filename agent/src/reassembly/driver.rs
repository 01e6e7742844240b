//! The reassembly driver: routes capture events to per-connection state and collects the
//! exchanges.
//!
//! Owns: the connection table (creation, capacity and idle eviction, close, process exit),
//! protocol detection (HTTP/2 preface or HTTP/1), the per-connection buffering bound, and the
//! stage's counters. Does not own: the parsing itself ([`super::http1`], [`super::http2`]).

use std::collections::HashMap;

use super::config::{ReassemblyConfig, ReassemblyStats};
use super::exchange::Exchange;
use super::http1::H1Conn;
use super::http2::{H2Conn, PREFACE, looks_like_frame};
use super::partial::{ConnMeta, Ctx};
use super::stream::{Segment, StreamBuf};
use crate::capture::event::{CaptureEvent, Chunk, ConnId, Direction};

/// Segments held before the protocol is known (a handful at most: the decision is made on
/// the first data, or after four bytes of a possible preface).
const MAX_HELD: usize = 32;

enum Proto {
    Unknown(Vec<(Direction, Segment)>),
    H1(Box<H1Conn>),
    H2(Box<H2Conn>),
}

struct Conn {
    /// Who the connection belongs to; lent to the parsers with each chunk.
    meta: ConnMeta,
    streams: [StreamBuf; 2],
    proto: Proto,
    last_seen: u64,
}

fn idx(dir: Direction) -> usize {
    match dir {
        Direction::Egress => 0,
        Direction::Ingress => 1,
    }
}

const METHOD_STARTS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"PATCH ",
    b"HEAD ",
    b"OPTIONS ",
    b"CONNECT ",
    b"TRACE ",
];

/// Picks the protocol from the held segments, or `None` to wait for more bytes.
fn detect(held: &[(Direction, Segment)]) -> Option<Proto> {
    let egress_gap = held
        .iter()
        .take_while(|(d, s)| !(*d == Direction::Egress && matches!(s, Segment::Data(..))))
        .any(|(d, s)| *d == Direction::Egress && matches!(s, Segment::Gap(_)));
    let first = held.iter().find_map(|(d, s)| match s {
        Segment::Data(b, _) => Some((*d, b)),
        Segment::Gap(_) => None,
    });
    let Some((dir, data)) = first else {
        return (held.len() >= MAX_HELD).then(|| Proto::H1(Box::default()));
    };
    if dir == Direction::Egress && !egress_gap {
        let mut prefix = Vec::with_capacity(4);
        for (_, s) in held.iter().filter(|(d, _)| *d == Direction::Egress) {
            if let Segment::Data(b, _) = s {
                prefix.extend_from_slice(&b[..b.len().min(4 - prefix.len())]);
            }
            if prefix.len() == 4 {
                break;
            }
        }
        if prefix.len() < 4 && PREFACE.starts_with(&prefix) && held.len() < MAX_HELD {
            return None;
        }
        return Some(if prefix.len() == 4 && PREFACE.starts_with(&prefix) {
            Proto::H2(Box::new(H2Conn::new(true)))
        } else {
            Proto::H1(Box::default())
        });
    }
    let h1 = match dir {
        Direction::Egress => METHOD_STARTS.iter().any(|m| data.starts_with(m)),
        Direction::Ingress => data.starts_with(b"HTTP/1."),
    };
    Some(if !h1 && looks_like_frame(data) {
        Proto::H2(Box::new(H2Conn::new(false)))
    } else {
        Proto::H1(Box::default())
    })
}

impl Proto {
    /// Hands one in-order segment of `dir` to the parser, choosing the protocol first when
    /// it is not known yet. `last_seen` is the connection's latest timestamp (for gaps).
    fn deliver(
        &mut self,
        dir: Direction,
        seg: Segment,
        last_seen: u64,
        cx: &mut Ctx<'_>,
        out: &mut Vec<Exchange>,
    ) {
        if let Segment::Gap(n) = seg {
            cx.stats.gaps += 1;
            cx.stats.gap_bytes += n;
            tracing::debug!(tgid = cx.meta.conn.tgid, ?dir, bytes = n, "capture gap");
        }
        if let Proto::Unknown(held) = self {
            held.push((dir, seg));
            let Some(proto) = detect(held) else { return };
            match &proto {
                Proto::H2(_) => cx.stats.conns_http2 += 1,
                _ => cx.stats.conns_http1 += 1,
            }
            let Proto::Unknown(held) = std::mem::replace(self, proto) else {
                return;
            };
            for (d, s) in held {
                self.route(d, s, last_seen, cx, out);
            }
            return;
        }
        self.route(dir, seg, last_seen, cx, out);
    }

    fn route(
        &mut self,
        dir: Direction,
        seg: Segment,
        last_seen: u64,
        cx: &mut Ctx<'_>,
        out: &mut Vec<Exchange>,
    ) {
        match (self, seg) {
            (Proto::H1(c), Segment::Data(b, ts)) => c.on_data(dir, &b, ts, cx, out),
            (Proto::H1(c), Segment::Gap(n)) => c.on_gap(dir, n, last_seen, cx, out),
            (Proto::H2(c), Segment::Data(b, ts)) => c.on_data(dir, &b, ts, cx, out),
            (Proto::H2(c), Segment::Gap(n)) => c.on_gap(dir, n, last_seen, cx, out),
            (Proto::Unknown(_), _) => {}
        }
    }
}

impl Conn {
    fn buffered(&self) -> usize {
        let parsers = match &self.proto {
            Proto::Unknown(h) => h
                .iter()
                .map(|(_, s)| match s {
                    Segment::Data(b, _) => b.len(),
                    Segment::Gap(_) => 0,
                })
                .sum(),
            Proto::H1(c) => c.buffered(),
            Proto::H2(c) => c.buffered(),
        };
        parsers
            + self
                .streams
                .iter()
                .map(StreamBuf::pending_bytes)
                .sum::<usize>()
    }

    /// Ends the connection: held bytes are released (holes become gaps), then in-flight
    /// exchanges are emitted.
    fn finish(
        self,
        totals: Option<[u64; 2]>,
        ts: u64,
        closed: bool,
        cfg: &ReassemblyConfig,
        stats: &mut ReassemblyStats,
        out: &mut Vec<Exchange>,
    ) {
        let Conn {
            meta,
            mut streams,
            mut proto,
            last_seen,
        } = self;
        let mut cx = Ctx {
            cfg,
            stats,
            meta: &meta,
        };
        let mut segs = Vec::new();
        for dir in [Direction::Egress, Direction::Ingress] {
            let total = totals.map(|t| t[idx(dir)]).filter(|&t| t > 0);
            streams[idx(dir)].finish(total, &mut segs);
            for s in segs.drain(..) {
                proto.deliver(dir, s, last_seen, &mut cx, out);
            }
        }
        if let Proto::Unknown(held) = &mut proto
            && !held.is_empty()
        {
            let held = std::mem::take(held);
            proto = Proto::H1(Box::default());
            for (d, s) in held {
                proto.route(d, s, last_seen, &mut cx, out);
            }
        }
        match &mut proto {
            Proto::H1(c) => c.finish(ts, closed, &mut cx, out),
            Proto::H2(c) => c.finish(ts, &mut cx, out),
            Proto::Unknown(_) => {}
        }
    }
}

/// Turns capture events into exchanges. One per pipeline; not shared across threads.
pub struct Reassembler {
    cfg: ReassemblyConfig,
    /// foldhash (seeded per process): keyed by kernel-made ids, looked up once per chunk.
    conns: HashMap<ConnId, Conn, foldhash::fast::RandomState>,
    stats: ReassemblyStats,
    segs: Vec<Segment>,
}

impl Reassembler {
    /// A reassembler with these bounds (validate them first with
    /// [`ReassemblyConfig::validate`]).
    pub fn new(config: ReassemblyConfig) -> Self {
        Self {
            cfg: config,
            conns: HashMap::default(),
            stats: ReassemblyStats::default(),
            segs: Vec::new(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &ReassemblyStats {
        &self.stats
    }

    /// Connections currently tracked.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Handles one capture event; completed exchanges are appended to `out`.
    pub fn on_event(&mut self, ev: CaptureEvent, out: &mut Vec<Exchange>) {
        match ev {
            CaptureEvent::Chunk(c) => self.on_chunk(c, out),
            CaptureEvent::ConnClosed {
                conn,
                total,
                timestamp_ns,
            } => {
                if let Some(c) = self.conns.remove(&conn) {
                    c.finish(
                        Some(total),
                        timestamp_ns,
                        true,
                        &self.cfg,
                        &mut self.stats,
                        out,
                    );
                }
            }
            CaptureEvent::ProcessExit { pid, timestamp_ns } => {
                let ids: Vec<ConnId> = self
                    .conns
                    .keys()
                    .filter(|c| c.tgid == pid)
                    .copied()
                    .collect();
                for id in ids {
                    if let Some(c) = self.conns.remove(&id) {
                        c.finish(None, timestamp_ns, true, &self.cfg, &mut self.stats, out);
                    }
                }
            }
            CaptureEvent::ProcessExec { .. } => {}
        }
    }

    fn on_chunk(&mut self, c: Chunk, out: &mut Vec<Exchange>) {
        // The capacity test first: the lookup then happens only at capacity.
        if self.conns.len() >= self.cfg.max_connections && !self.conns.contains_key(&c.conn) {
            self.evict_oldest(c.timestamp_ns, out);
        }
        let conn = self.conns.entry(c.conn).or_insert_with(|| Conn {
            meta: ConnMeta {
                conn: c.conn,
                process: c.process.clone(),
            },
            streams: Default::default(),
            proto: Proto::Unknown(Vec::new()),
            last_seen: c.timestamp_ns,
        });
        conn.last_seen = conn.last_seen.max(c.timestamp_ns);
        let dir = c.direction;
        let other = match dir {
            Direction::Egress => Direction::Ingress,
            Direction::Ingress => Direction::Egress,
        };
        // The connection's fields borrowed apart, so the parsers can read its identity
        // while its state changes (no reference count touched per chunk).
        let Conn {
            meta,
            streams,
            proto,
            last_seen,
        } = &mut *conn;
        let last_seen = *last_seen;
        let mut cx = Ctx {
            cfg: &self.cfg,
            stats: &mut self.stats,
            meta,
        };
        streams[idx(other)].release_before(c.timestamp_ns, &mut self.segs);
        // Usually nothing is released: skip the drain's setup and teardown, once per chunk.
        if !self.segs.is_empty() {
            for s in self.segs.drain(..) {
                proto.deliver(other, s, last_seen, &mut cx, out);
            }
        }
        if streams[idx(dir)].take_in_order(c.offset, c.data.len(), c.call_truncated) {
            proto.deliver(
                dir,
                Segment::Data(c.data, c.timestamp_ns),
                last_seen,
                &mut cx,
                out,
            );
        } else {
            let outcome = streams[idx(dir)].push(
                c.offset,
                c.data,
                c.timestamp_ns,
                c.call_truncated,
                self.cfg.reorder_window_bytes,
                &mut self.segs,
            );
            if outcome.duplicate {
                cx.stats.duplicate_chunks += 1;
            }
            if outcome.bound_hit {
                cx.stats.bound_hits += 1;
            }
            for s in self.segs.drain(..) {
                proto.deliver(dir, s, last_seen, &mut cx, out);
            }
        }
        if conn.buffered() > self.cfg.max_conn_buffer_bytes {
            self.stats.bound_hits += 1;
            tracing::debug!(
                tgid = c.conn.tgid,
                "connection buffer bound hit; state dropped"
            );
            if let Some(conn) = self.conns.remove(&c.conn) {
                conn.finish(None, c.timestamp_ns, false, &self.cfg, &mut self.stats, out);
            }
        }
    }

    fn evict_oldest(&mut self, now_ns: u64, out: &mut Vec<Exchange>) {
        let oldest = self
            .conns
            .iter()
            .min_by_key(|(_, c)| c.last_seen)
            .map(|(k, _)| *k);
        if let Some(c) = oldest.and_then(|k| self.conns.remove(&k)) {
            self.stats.capacity_evictions += 1;
            c.finish(None, now_ns, false, &self.cfg, &mut self.stats, out);
        }
    }

    /// Evicts connections idle for longer than the idle timeout at `now_ns`, emitting their
    /// in-flight exchanges as incomplete.
    pub fn evict_idle(&mut self, now_ns: u64, out: &mut Vec<Exchange>) {
        let timeout = self.cfg.idle_timeout_ns;
        let idle: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| now_ns.saturating_sub(c.last_seen) > timeout)
            .map(|(k, _)| *k)
            .collect();
        for id in idle {
            if let Some(c) = self.conns.remove(&id) {
                self.stats.idle_evictions += 1;
                let ts = c.last_seen;
                c.finish(None, ts, false, &self.cfg, &mut self.stats, out);
            }
        }
    }

    /// Shutdown: emits every in-flight exchange as incomplete and forgets all connections.
    pub fn flush_all(&mut self, out: &mut Vec<Exchange>) {
        let mut conns: Vec<(ConnId, Conn)> = self.conns.drain().collect();
        conns.sort_by_key(|(k, _)| *k);
        for (_, c) in conns {
            let ts = c.last_seen;
            c.finish(None, ts, false, &self.cfg, &mut self.stats, out);
        }
    }
}
