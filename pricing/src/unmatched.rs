//! Bounded counter of (provider, model) pairs that no price entry matched.
//!
//! Owns [`UnmatchedCounter`]: at most `cap` distinct keys are kept; later new keys are counted
//! under the `("_other", "_other")` key, and over-long names are truncated, so hostile traffic
//! cannot grow memory without bound. It does not own metric export (the agent reads
//! [`UnmatchedCounter::snapshot`]).

use std::collections::HashMap;
use std::sync::Mutex;

/// Default number of distinct pairs kept.
pub const DEFAULT_UNMATCHED_CAP: usize = 1000;
/// Longest provider or model name stored, in bytes (longer names are cut at a char boundary).
pub const MAX_NAME_BYTES: usize = 128;
/// Provider and model used for the overflow bucket.
pub const OTHER: &str = "_other";

/// Thread-safe bounded counter of unmatched (provider, model) pairs.
#[derive(Debug)]
pub struct UnmatchedCounter {
    cap: usize,
    counts: Mutex<HashMap<(String, String), u64>>,
}

impl Default for UnmatchedCounter {
    fn default() -> Self {
        Self::new(DEFAULT_UNMATCHED_CAP)
    }
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_NAME_BYTES {
        return s.to_string();
    }
    let mut end = MAX_NAME_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

impl UnmatchedCounter {
    /// A counter keeping at most `cap` distinct pairs besides the overflow bucket.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one unmatched request.
    pub fn record(&self, provider: &str, model: &str) {
        let key = (truncate(provider), truncate(model));
        let mut counts = match self.counts.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let distinct = counts.len()
            - usize::from(counts.contains_key(&(OTHER.to_string(), OTHER.to_string())));
        let key = if counts.contains_key(&key) || distinct < self.cap {
            key
        } else {
            (OTHER.to_string(), OTHER.to_string())
        };
        let slot = counts.entry(key).or_insert(0);
        *slot = slot.saturating_add(1);
    }

    /// All counts, sorted by provider then model.
    pub fn snapshot(&self) -> Vec<((String, String), u64)> {
        let counts = match self.counts.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut out: Vec<_> = counts.iter().map(|(k, v)| (k.clone(), *v)).collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_distinct_keys() {
        let c = UnmatchedCounter::new(2);
        c.record("p", "a");
        c.record("p", "b");
        c.record("p", "a");
        c.record("p", "c");
        c.record("p", "d");
        let snap = c.snapshot();
        assert_eq!(snap.len(), 3);
        assert!(snap.contains(&(("p".into(), "a".into()), 2)));
        assert!(snap.contains(&((OTHER.into(), OTHER.into()), 2)));
    }

    #[test]
    fn truncates_long_names() {
        let c = UnmatchedCounter::new(10);
        c.record("p", &"é".repeat(500));
        let snap = c.snapshot();
        assert!(snap[0].0.1.len() <= MAX_NAME_BYTES);
    }
}
