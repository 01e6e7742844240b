//! Bounded, thread-safe memory of recent prompt prefix chains, per [`HistoryKey`].
//!
//! For each new request it returns the earlier request that shares the longest prefix (a
//! [`Prior`]), then remembers the new one. Lookup is one hash probe per segment, longest first,
//! in an index from prefix-chain digest to the newest request holding it. Bounds: entries in
//! total, entries per key, age (see [`HistoryConfig`]); oldest entries go first.
//!
//! Does not classify (see `classify`) and never holds text: digests, sizes and times only.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use super::config::HistoryConfig;
use super::shape::{Digest, HistoryKey};
use crate::llm::SegmentKind;

/// One segment as the history stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredSegment {
    /// What it is.
    pub kind: SegmentKind,
    /// Digest of the segment alone.
    pub hash: Digest,
    /// Digest of the prefix through it.
    pub chain: Digest,
    /// Size in bytes.
    pub bytes: u64,
    /// Lifetime (ms) of the cache entry this request writes or refreshes at this prefix;
    /// `None` when it caches nothing here.
    pub cache_ttl_ms: Option<u64>,
}

/// One segment of a [`Prior`], with what the history knows about its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriorSegment {
    /// The stored segment.
    pub segment: StoredSegment,
    /// Longest lifetime of a cache entry some remembered request wrote at this prefix.
    pub cached_ttl_ms: Option<u64>,
    /// Last time (ms) a remembered request contained this prefix.
    pub last_seen_ms: u64,
}

/// The earlier request sharing the longest prefix with the new one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prior {
    /// Its exact model.
    pub model: String,
    /// When it was observed.
    pub observed_at_ms: u64,
    /// Its segments.
    pub segments: Vec<PriorSegment>,
    /// Leading segments shared with the new request.
    pub shared: usize,
}

#[derive(Clone, Copy, Debug)]
struct ChainRef {
    seq: u64,
    cached_ttl_ms: Option<u64>,
    last_seen_ms: u64,
}

#[derive(Debug)]
struct Entry {
    seq: u64,
    model: String,
    observed_at_ms: u64,
    segments: Vec<StoredSegment>,
}

#[derive(Debug, Default)]
struct KeyState {
    entries: VecDeque<Entry>,
    /// foldhash (seeded per process): the keys are keyed HMACs, which traffic cannot choose.
    index: HashMap<Digest, ChainRef, foldhash::fast::RandomState>,
}

#[derive(Debug, Default)]
struct Inner {
    keys: HashMap<Arc<HistoryKey>, KeyState>,
    /// Insertion order across keys; records of entries already evicted are skipped.
    order: VecDeque<(Arc<HistoryKey>, u64)>,
    live: usize,
    next_seq: u64,
}

/// Sizes of the history, for metrics and the bound tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistoryStats {
    /// Requests remembered.
    pub entries: usize,
    /// Keys with at least one request.
    pub keys: usize,
    /// Indexed prefix chains.
    pub indexed_chains: usize,
    /// Rough heap size, bytes.
    pub approx_bytes: usize,
}

/// The prompt history. Cheap to share behind an `Arc`; all methods take `&self`.
#[derive(Debug)]
pub struct History {
    cfg: HistoryConfig,
    inner: Mutex<Inner>,
}

impl History {
    /// An empty history with these bounds.
    pub fn new(cfg: HistoryConfig) -> Self {
        History {
            cfg,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Find the request sharing the longest prefix with `segments`, then remember this one.
    pub fn observe(
        &self,
        key: &HistoryKey,
        model: &str,
        now_ms: u64,
        segments: &[StoredSegment],
    ) -> Option<Prior> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.expire(now_ms, self.cfg.max_age_ms);
        let segments = &segments[..segments.len().min(self.cfg.max_segments)];
        let prior = inner
            .keys
            .get(key)
            .and_then(|state| state.longest_prefix(segments));
        inner.insert(key, model, now_ms, segments, &self.cfg);
        prior
    }

    /// Current sizes.
    pub fn stats(&self) -> HistoryStats {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut s = HistoryStats {
            entries: inner.live,
            keys: inner.keys.len(),
            ..Default::default()
        };
        for (k, state) in &inner.keys {
            s.indexed_chains += state.index.len();
            s.approx_bytes += k.workload.len() + k.provider.len() + k.model_family.len();
            s.approx_bytes +=
                state.index.capacity() * (size_of::<Digest>() + size_of::<ChainRef>());
            for e in &state.entries {
                s.approx_bytes += size_of::<Entry>()
                    + e.model.capacity()
                    + e.segments.capacity() * size_of::<StoredSegment>();
            }
        }
        s.approx_bytes += inner.order.capacity() * size_of::<(Arc<HistoryKey>, u64)>();
        s
    }
}

impl KeyState {
    fn longest_prefix(&self, segments: &[StoredSegment]) -> Option<Prior> {
        let found = segments.iter().enumerate().rev().find_map(|(i, s)| {
            let r = self.index.get(&s.chain)?;
            let entry = self.entry(r.seq)?;
            Some((entry, i + 1))
        });
        let (entry, shared) = match found {
            Some(f) => f,
            None => (self.entries.back()?, 0),
        };
        let segments = entry
            .segments
            .iter()
            .map(|s| {
                let r = self.index.get(&s.chain);
                PriorSegment {
                    segment: *s,
                    cached_ttl_ms: r.and_then(|r| r.cached_ttl_ms),
                    last_seen_ms: r.map_or(entry.observed_at_ms, |r| r.last_seen_ms),
                }
            })
            .collect();
        Some(Prior {
            model: entry.model.clone(),
            observed_at_ms: entry.observed_at_ms,
            segments,
            shared,
        })
    }

    fn entry(&self, seq: u64) -> Option<&Entry> {
        let i = self.entries.binary_search_by_key(&seq, |e| e.seq).ok()?;
        self.entries.get(i)
    }

    /// Drop the oldest entry and the index records only it still owns.
    fn evict_oldest(&mut self) -> bool {
        let Some(e) = self.entries.pop_front() else {
            return false;
        };
        for s in &e.segments {
            if self.index.get(&s.chain).is_some_and(|r| r.seq == e.seq) {
                self.index.remove(&s.chain);
            }
        }
        true
    }
}

impl Inner {
    fn insert(
        &mut self,
        key: &HistoryKey,
        model: &str,
        now_ms: u64,
        segments: &[StoredSegment],
        cfg: &HistoryConfig,
    ) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let arc = match self.keys.get_key_value(key) {
            Some((k, _)) => Arc::clone(k),
            None => Arc::new(key.clone()),
        };
        let state = self.keys.entry(Arc::clone(&arc)).or_default();
        for s in segments {
            let r = state.index.entry(s.chain).or_insert(ChainRef {
                seq,
                cached_ttl_ms: None,
                last_seen_ms: now_ms,
            });
            r.seq = seq;
            r.last_seen_ms = r.last_seen_ms.max(now_ms);
            r.cached_ttl_ms = r.cached_ttl_ms.max(s.cache_ttl_ms);
        }
        state.entries.push_back(Entry {
            seq,
            model: model.to_owned(),
            observed_at_ms: now_ms,
            segments: segments.to_vec(),
        });
        self.live += 1;
        if state.entries.len() > cfg.max_per_key && state.evict_oldest() {
            self.live -= 1;
        }
        self.order.push_back((arc, seq));
        while self.live > cfg.max_entries {
            if !self.evict_front() {
                break;
            }
        }
        if self.order.len() > 2 * cfg.max_entries + 16 {
            self.compact_order();
        }
    }

    /// Evict the globally oldest live entry; false when there is none.
    fn evict_front(&mut self) -> bool {
        while let Some((key, seq)) = self.order.pop_front() {
            if self.evict_if_front(&key, seq) {
                return true;
            }
        }
        false
    }

    fn evict_if_front(&mut self, key: &Arc<HistoryKey>, seq: u64) -> bool {
        let Some(state) = self.keys.get_mut(key) else {
            return false;
        };
        if state.entries.front().is_none_or(|e| e.seq != seq) {
            return false;
        }
        state.evict_oldest();
        if state.entries.is_empty() {
            self.keys.remove(key);
        }
        self.live -= 1;
        true
    }

    fn expire(&mut self, now_ms: u64, max_age_ms: u64) {
        while let Some((key, seq)) = self.order.front().cloned() {
            let state = self.keys.get(&key);
            let front = state.and_then(|s| s.entries.front());
            match front {
                Some(e) if e.seq == seq => {
                    if e.observed_at_ms.saturating_add(max_age_ms) >= now_ms {
                        return;
                    }
                    self.order.pop_front();
                    self.evict_if_front(&key, seq);
                }
                _ => {
                    self.order.pop_front();
                }
            }
        }
    }

    fn compact_order(&mut self) {
        let keys = &self.keys;
        self.order.retain(|(k, seq)| {
            keys.get(k)
                .is_some_and(|s| s.entries.iter().any(|e| e.seq == *seq))
        });
    }
}
