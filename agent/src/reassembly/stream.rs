//! One direction of one connection as an ordered byte stream.
//!
//! Owns: ordering chunks by offset, trimming overlaps, dropping duplicates, holding
//! out-of-order chunks within a bounded window, and turning holes into explicit
//! [`Segment::Gap`]s. Does not own: any protocol knowledge; parsers consume the segments.

use std::collections::BTreeMap;

use bytes::Bytes;

/// A piece of the ordered stream handed to a parser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Contiguous bytes, with the timestamp of the chunk that carried them.
    Data(Bytes, u64),
    /// Bytes lost in capture.
    Gap(u64),
}

/// What happened while pushing one chunk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Every byte of the chunk had been seen already.
    pub duplicate: bool,
    /// The reorder window overflowed and a hole was declared a gap.
    pub bound_hit: bool,
}

/// Ordered stream of one connection direction.
#[derive(Debug, Default)]
pub struct StreamBuf {
    next: u64,
    pending: BTreeMap<u64, (Bytes, u64)>,
    pending_bytes: usize,
    expect_gap: bool,
}

impl StreamBuf {
    /// Offset of the next byte expected.
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    /// Bytes held out of order.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// Adds a chunk. In-order bytes (and any held bytes they unblock) are appended to `out`.
    /// `truncated` says the capture cut this call short, so a jump right after it is a gap.
    pub fn push(
        &mut self,
        offset: u64,
        data: Bytes,
        ts: u64,
        truncated: bool,
        window: usize,
        out: &mut Vec<Segment>,
    ) -> PushOutcome {
        let mut outcome = PushOutcome::default();
        let end = offset.saturating_add(data.len() as u64);
        if data.is_empty() || end <= self.next {
            outcome.duplicate = !data.is_empty();
            return outcome;
        }
        if offset > self.next {
            if self.expect_gap && self.pending.is_empty() {
                out.push(Segment::Gap(offset - self.next));
                self.next = offset;
            } else {
                self.hold(offset, data, ts);
                while self.pending_bytes > window {
                    outcome.bound_hit = true;
                    self.skip_to_first_pending(out);
                    self.drain(out);
                }
                return outcome;
            }
        }
        self.deliver(offset, data, ts, truncated, out);
        self.drain(out);
        outcome
    }

    /// Takes a chunk that continues the stream exactly (the common case) without queueing it:
    /// `true` when `offset` is the next byte expected and nothing is held, and the caller
    /// hands the bytes to the parser itself. Otherwise nothing changes and the chunk goes
    /// through [`Self::push`].
    pub fn take_in_order(&mut self, offset: u64, len: usize, truncated: bool) -> bool {
        if offset != self.next || len == 0 || !self.pending.is_empty() {
            return false;
        }
        self.next = offset.saturating_add(len as u64);
        self.expect_gap = truncated;
        true
    }

    /// Declares every hole a gap and releases all held bytes; `total`, when known, is the
    /// length the direction really had, so missing tail bytes become a final gap.
    pub fn finish(&mut self, total: Option<u64>, out: &mut Vec<Segment>) {
        while !self.pending.is_empty() {
            self.skip_to_first_pending(out);
            self.drain(out);
        }
        if let Some(total) = total
            && total > self.next
        {
            out.push(Segment::Gap(total - self.next));
            self.next = total;
        }
    }

    /// Declares holes gaps while the first held chunk is no later than `ts`: the other
    /// direction has moved on past it, so the missing bytes are not coming (the ring buffer
    /// keeps order; holes are losses far more often than reordering).
    pub fn release_before(&mut self, ts: u64, out: &mut Vec<Segment>) {
        while let Some((_, (_, held_ts))) = self.pending.first_key_value()
            && *held_ts <= ts
        {
            self.skip_to_first_pending(out);
            self.drain(out);
        }
    }

    fn hold(&mut self, offset: u64, data: Bytes, ts: u64) {
        let len = data.len();
        match self.pending.get(&offset) {
            Some((old, _)) if old.len() >= len => {}
            Some((old, _)) => {
                self.pending_bytes = self.pending_bytes - old.len() + len;
                self.pending.insert(offset, (data, ts));
            }
            None => {
                self.pending_bytes += len;
                self.pending.insert(offset, (data, ts));
            }
        }
    }

    fn skip_to_first_pending(&mut self, out: &mut Vec<Segment>) {
        if let Some((&first, _)) = self.pending.first_key_value()
            && first > self.next
        {
            out.push(Segment::Gap(first - self.next));
            self.next = first;
        }
    }

    fn deliver(
        &mut self,
        offset: u64,
        data: Bytes,
        ts: u64,
        truncated: bool,
        out: &mut Vec<Segment>,
    ) {
        let end = offset.saturating_add(data.len() as u64);
        if end <= self.next {
            return;
        }
        let skip = usize::try_from(self.next.saturating_sub(offset)).unwrap_or(usize::MAX);
        let data = data.slice(skip.min(data.len())..);
        self.next = end;
        self.expect_gap = truncated;
        out.push(Segment::Data(data, ts));
    }

    fn drain(&mut self, out: &mut Vec<Segment>) {
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() > self.next {
                break;
            }
            let (offset, (data, ts)) = entry.remove_entry();
            self.pending_bytes -= data.len();
            self.deliver(offset, data, ts, false, out);
        }
    }
}
