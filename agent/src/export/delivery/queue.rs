//! The bounded event queue between capture and the delivery worker. [`EventQueue::try_push`]
//! never waits: a full queue drops by the configured [`WhenFull`] policy and counts it.
//! Owns queue bounds, the queue gauges and the emitted/dropped counts; does not batch or send.

use std::collections::VecDeque;
use std::sync::Mutex;

use prometheus::IntGauge;
use tokio::sync::Notify;

use super::accounting::Ledger;
use crate::export::config::{QueueConfig, WhenFull};
use crate::export::event::EncodedEvent;

/// What happened to a pushed event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// Queued.
    Queued,
    /// Queued after evicting this many older events (`DropOldest`).
    QueuedEvictedOldest(u64),
    /// Refused: the queue is full (`DropNewest`) or the event alone exceeds its byte bound.
    DroppedNewest,
    /// Refused: the exporter is shutting down.
    Closed,
}

struct Inner {
    items: VecDeque<EncodedEvent>,
    bytes: usize,
    closed: bool,
    high_water_bytes: usize,
}

/// Bounded by event count and bytes.
pub struct EventQueue {
    cfg: QueueConfig,
    inner: Mutex<Inner>,
    notify: Notify,
    ledger: Ledger,
    depth: IntGauge,
    bytes: IntGauge,
}

fn gauge(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl EventQueue {
    /// An empty open queue.
    pub fn new(cfg: QueueConfig, ledger: Ledger, depth: IntGauge, bytes: IntGauge) -> Self {
        EventQueue {
            inner: Mutex::new(Inner {
                items: VecDeque::with_capacity(cfg.max_events.min(1024)),
                bytes: 0,
                closed: false,
                high_water_bytes: 0,
            }),
            cfg,
            notify: Notify::new(),
            ledger,
            depth,
            bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, inner: &Inner) {
        self.depth.set(gauge(inner.items.len()));
        self.bytes.set(gauge(inner.bytes));
    }

    /// Queue `ev` without waiting. Counts it as emitted and, if refused or evicting, dropped.
    pub fn try_push(&self, ev: EncodedEvent) -> PushOutcome {
        self.ledger.emitted();
        let size = ev.size();
        let mut q = self.lock();
        if q.closed {
            drop(q);
            self.ledger.abandoned(1);
            return PushOutcome::Closed;
        }
        let fits =
            |q: &Inner| q.items.len() < self.cfg.max_events && q.bytes + size <= self.cfg.max_bytes;
        let mut evicted = 0u64;
        if !fits(&q) {
            if size > self.cfg.max_bytes || self.cfg.when_full == WhenFull::DropNewest {
                drop(q);
                self.ledger.dropped(1);
                return PushOutcome::DroppedNewest;
            }
            while !fits(&q) {
                match q.items.pop_front() {
                    Some(old) => {
                        q.bytes -= old.size();
                        evicted += 1;
                    }
                    None => break,
                }
            }
        }
        q.bytes += size;
        q.high_water_bytes = q.high_water_bytes.max(q.bytes);
        q.items.push_back(ev);
        self.publish(&q);
        drop(q);
        self.notify.notify_one();
        if evicted > 0 {
            self.ledger.dropped(evicted);
            PushOutcome::QueuedEvictedOldest(evicted)
        } else {
            PushOutcome::Queued
        }
    }

    /// Take up to `max_events` events and about `max_bytes` bytes (at least one event when
    /// not empty), oldest first.
    pub fn pop_batch(&self, max_events: usize, max_bytes: usize) -> Vec<EncodedEvent> {
        let mut q = self.lock();
        let mut out = Vec::new();
        let mut bytes = 0;
        while out.len() < max_events {
            let Some(front) = q.items.front() else { break };
            if !out.is_empty() && bytes + front.size() > max_bytes {
                break;
            }
            let Some(ev) = q.items.pop_front() else { break };
            bytes += ev.size();
            q.bytes -= ev.size();
            out.push(ev);
        }
        self.publish(&q);
        out
    }

    /// `(events, bytes, closed)`.
    pub fn stats(&self) -> (usize, usize, bool) {
        let q = self.lock();
        (q.items.len(), q.bytes, q.closed)
    }

    /// Largest byte size the queue ever held (never above `max_bytes`).
    pub fn high_water_bytes(&self) -> usize {
        self.lock().high_water_bytes
    }

    /// Refuse further pushes and wake the worker so it drains.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    /// Remove everything still queued; returns how many events that was.
    pub fn take_all(&self) -> u64 {
        let mut q = self.lock();
        let n = q.items.len() as u64;
        q.items.clear();
        q.bytes = 0;
        self.publish(&q);
        n
    }

    /// Resolves after the next push or close (a notification that arrived while nobody was
    /// waiting is kept).
    pub async fn changed(&self) {
        self.notify.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{IntCounterVec, Opts};

    fn queue(max_events: usize, max_bytes: usize, when_full: WhenFull) -> (EventQueue, Ledger) {
        let v = IntCounterVec::new(Opts::new("e_total", "e"), &["outcome"]).expect("valid");
        let ledger = Ledger::new(&v);
        let g = || IntGauge::new("g", "g").expect("valid");
        let cfg = QueueConfig {
            max_events,
            max_bytes,
            when_full,
        };
        (EventQueue::new(cfg, ledger.clone(), g(), g()), ledger)
    }

    fn ev(n: usize) -> EncodedEvent {
        EncodedEvent::new(vec![b'x'; n - 1], "t")
    }

    #[test]
    fn drop_newest_keeps_old() {
        let (q, l) = queue(2, 100, WhenFull::DropNewest);
        assert_eq!(q.try_push(ev(10)), PushOutcome::Queued);
        assert_eq!(q.try_push(ev(10)), PushOutcome::Queued);
        assert_eq!(q.try_push(ev(10)), PushOutcome::DroppedNewest);
        assert_eq!(q.stats(), (2, 20, false));
        assert_eq!(l.snapshot().dropped, 1);
    }

    #[test]
    fn drop_oldest_by_bytes() {
        let (q, l) = queue(100, 30, WhenFull::DropOldest);
        for _ in 0..3 {
            q.try_push(ev(10));
        }
        assert_eq!(q.try_push(ev(20)), PushOutcome::QueuedEvictedOldest(2));
        assert_eq!(q.stats(), (2, 30, false));
        assert_eq!(q.try_push(ev(31)), PushOutcome::DroppedNewest);
        assert!(q.high_water_bytes() <= 30);
        let a = l.snapshot();
        assert_eq!((a.emitted, a.dropped), (5, 3));
    }

    #[test]
    fn batches_respect_bounds_and_close() {
        let (q, l) = queue(100, 1000, WhenFull::DropNewest);
        for _ in 0..5 {
            q.try_push(ev(10));
        }
        assert_eq!(q.pop_batch(3, 1000).len(), 3);
        assert_eq!(q.pop_batch(10, 15).len(), 1);
        q.close();
        assert_eq!(q.try_push(ev(10)), PushOutcome::Closed);
        assert_eq!(q.take_all(), 1);
        assert_eq!(l.snapshot().abandoned_on_shutdown, 1);
    }
}
