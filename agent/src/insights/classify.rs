//! Classification of one request against the prefix the history says is cached: expected hit,
//! expected miss (first seen, TTL expired), a cache break with its reason and segment, or not
//! cacheable. Pure functions on digests and token estimates.
//!
//! Does not store anything (see `history`), price anything (see `savings`) or look at the
//! provider's reported cache numbers (see `crosscheck`). The order of checks is documented in
//! `docs/insights.md`.

use std::collections::HashSet;

use super::config::{CachePolicy, InsightsConfig};
use super::history::{Prior, StoredSegment};
use super::insight::CacheReason;
use super::shape::{Digest, PromptShape};
use crate::llm::{CacheTtl, SegmentKind};

/// What the classifier concluded, in tokens (estimates).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classification {
    /// Why.
    pub reason: CacheReason,
    /// First changed segment, for breaks inside the prompt.
    pub segment_index: Option<u32>,
    /// Tokens expected to be read from cache.
    pub expected_cached_tokens: u64,
    /// Tokens that would have been read had nothing changed or expired.
    pub counterfactual_cached_tokens: u64,
}

impl Classification {
    /// Tokens lost to the break or expiry.
    pub fn lost_tokens(&self) -> u64 {
        self.counterfactual_cached_tokens
            .saturating_sub(self.expected_cached_tokens)
    }
}

/// Tokens per byte for this request: calibrated on its reported input tokens when possible.
pub fn tokens_per_byte(shape: &PromptShape, cfg: &InsightsConfig) -> f64 {
    let bytes = shape.total_bytes();
    match shape.usage.input_tokens {
        Some(t) if shape.usage.reported && t > 0 && bytes > 0 => t as f64 / bytes as f64,
        _ => 1.0 / cfg.default_bytes_per_token,
    }
}

/// The segments as the history stores them, with the cache entries this request writes.
pub fn stored_segments(
    shape: &PromptShape,
    policy: CachePolicy,
    tpb: f64,
    cfg: &InsightsConfig,
) -> Vec<StoredSegment> {
    let min = cfg.min_tokens(policy, &shape.key.model_family);
    let last = shape.segments.len().checked_sub(1);
    let mut cum = 0u64;
    shape
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            cum += s.bytes;
            let tokens = tokens_of(cum, tpb);
            let ttl = match policy {
                CachePolicy::Breakpoints => {
                    let marker = s
                        .cache_control
                        .or(shape.automatic_cache.filter(|_| Some(i) == last));
                    marker.filter(|_| tokens >= min).map(|t| ttl_ms(t, cfg))
                }
                CachePolicy::AutomaticPrefix => (tokens >= min).then_some(cfg.automatic_ttl_ms),
                CachePolicy::None => None,
            };
            StoredSegment {
                kind: s.kind,
                hash: s.hash,
                chain: s.chain,
                bytes: s.bytes,
                cache_ttl_ms: ttl,
            }
        })
        .collect()
}

fn ttl_ms(t: CacheTtl, cfg: &InsightsConfig) -> u64 {
    match t {
        CacheTtl::FiveMinutes => cfg.breakpoint_ttl_5m_ms,
        CacheTtl::OneHour => cfg.breakpoint_ttl_1h_ms,
    }
}

fn tokens_of(bytes: u64, tpb: f64) -> u64 {
    (bytes as f64 * tpb).round() as u64
}

/// Everything the classifier needs besides the prior.
pub struct Request<'a> {
    /// The request.
    pub shape: &'a PromptShape,
    /// Its stored form (cache entries it writes).
    pub segments: &'a [StoredSegment],
    /// How its provider caches.
    pub policy: CachePolicy,
    /// Tokens per byte.
    pub tpb: f64,
}

fn outcome(reason: CacheReason) -> Classification {
    Classification {
        reason,
        segment_index: None,
        expected_cached_tokens: 0,
        counterfactual_cached_tokens: 0,
    }
}

/// Classify one request. `prior` is the remembered request sharing the longest prefix.
pub fn classify(req: &Request<'_>, prior: Option<&Prior>, cfg: &InsightsConfig) -> Classification {
    let segs = req.segments;
    let write_points: Vec<usize> = segs
        .iter()
        .enumerate()
        .filter(|(_, s)| s.cache_ttl_ms.is_some())
        .map(|(i, _)| i)
        .collect();
    match req.policy {
        CachePolicy::None => return outcome(CacheReason::UnsupportedProvider),
        CachePolicy::Breakpoints => {
            let shape = req.shape;
            let marked = shape.segments.iter().any(|s| s.cache_control.is_some())
                || (shape.automatic_cache.is_some() && !shape.segments.is_empty());
            if !marked {
                return outcome(CacheReason::NoBreakpoints);
            }
        }
        CachePolicy::AutomaticPrefix => {}
    }
    if write_points.is_empty() {
        return outcome(CacheReason::BelowMinTokens);
    }
    let Some(prior) = prior else {
        return outcome(CacheReason::FirstSeen);
    };
    let readable = |j: usize| match req.policy {
        CachePolicy::Breakpoints => write_points
            .iter()
            .any(|&b| b >= j && b < j + cfg.breakpoint_lookback),
        _ => j < segs.len(),
    };
    // Token count through prior segment j (its bytes, this request's calibration).
    let mut cum = Vec::with_capacity(prior.segments.len());
    let mut total = 0u64;
    for p in &prior.segments {
        total += p.segment.bytes;
        cum.push(total);
    }
    let tokens = |j: Option<usize>| -> u64 {
        let t = j.map_or(0, |j| tokens_of(cum[j], req.tpb));
        match req.policy {
            CachePolicy::AutomaticPrefix => t - t % cfg.automatic_step_tokens,
            _ => t,
        }
    };
    let cached = |j: usize| prior.segments[j].cached_ttl_ms.is_some();
    let alive = |j: usize| {
        let p = &prior.segments[j];
        p.cached_ttl_ms
            .is_some_and(|ttl| req.shape.observed_at_ms.saturating_sub(p.last_seen_ms) <= ttl)
    };
    let shared = prior.shared.min(prior.segments.len());
    // Counterfactual: the furthest cached prior prefix this request could have read, or that
    // it shares but cannot reach because its breakpoints are too far after it.
    let q_read = (0..prior.segments.len().min(segs.len()))
        .rev()
        .find(|&j| cached(j) && readable(j));
    let q_far = (0..shared).rev().find(|&j| cached(j) && !readable(j));
    let Some(q) = q_read.max(q_far) else {
        return outcome(CacheReason::FirstSeen);
    };
    let expected_alive = (0..shared).rev().find(|&j| alive(j) && readable(j));
    let mut c = Classification {
        reason: CacheReason::HitExpected,
        segment_index: None,
        expected_cached_tokens: tokens(expected_alive),
        counterfactual_cached_tokens: tokens(Some(q)),
    };
    if !alive(q) {
        c.reason = CacheReason::TtlExpired;
        return c;
    }
    if prior.model != req.shape.model {
        c.reason = CacheReason::ModelChanged;
        c.expected_cached_tokens = 0;
        return c;
    }
    if q < shared {
        c.reason = if readable(q) {
            CacheReason::HitExpected
        } else {
            CacheReason::LookbackExceeded
        };
        return c;
    }
    if c.lost_tokens() == 0 {
        return c;
    }
    match divergence_reason(req.segments, prior, shared) {
        Some(reason) => {
            c.reason = reason;
            c.segment_index = u32::try_from(shared).ok();
        }
        None => {
            // A new conversation branching off the shared (tools, system) prefix: it reads
            // what it shares and loses nothing it could have had.
            c.counterfactual_cached_tokens = c.expected_cached_tokens;
            c.reason = if c.expected_cached_tokens > 0 {
                CacheReason::HitExpected
            } else {
                CacheReason::FirstSeen
            };
        }
    }
    c
}

fn rank(k: SegmentKind) -> u8 {
    match k {
        SegmentKind::Tools => 0,
        SegmentKind::System => 1,
        SegmentKind::Message | SegmentKind::ContentBlock => 2,
    }
}

/// Name the change at the first differing segment `m`; `None` when the request is a new
/// conversation branching off the shared prefix rather than a change to the earlier one.
///
/// Messages: the earlier conversation continues when some later message of the earlier
/// request is still present after `m`. At the same position: a message was modified; shifted
/// (or the first new segment is a later earlier message): history was truncated.
fn divergence_reason(segs: &[StoredSegment], prior: &Prior, m: usize) -> Option<CacheReason> {
    let old = prior.segments.get(m).map(|p| p.segment.kind);
    let new = segs.get(m).map(|s| s.kind);
    let kind = match (old, new) {
        (Some(a), Some(b)) => {
            if rank(a) <= rank(b) {
                a
            } else {
                b
            }
        }
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => SegmentKind::Message,
    };
    match kind {
        SegmentKind::Tools => Some(CacheReason::ToolsChanged),
        SegmentKind::System => Some(CacheReason::SystemChanged),
        SegmentKind::Message | SegmentKind::ContentBlock => {
            let old_tail = prior.segments.get(m + 1..).unwrap_or_default();
            let new_tail = segs.get(m + 1..).unwrap_or_default();
            let old_hashes: HashSet<Digest> = old_tail.iter().map(|p| p.segment.hash).collect();
            let dropped_front = segs.get(m).is_some_and(|s| old_hashes.contains(&s.hash));
            let same_place = old_tail
                .iter()
                .zip(new_tail)
                .any(|(p, s)| p.segment.hash == s.hash);
            let shifted = new_tail.iter().any(|s| old_hashes.contains(&s.hash));
            if dropped_front {
                Some(CacheReason::HistoryTruncated)
            } else if same_place {
                Some(CacheReason::MessageModified)
            } else if shifted {
                Some(CacheReason::HistoryTruncated)
            } else {
                None
            }
        }
    }
}
