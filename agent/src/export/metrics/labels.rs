//! Label-value hygiene: sanitising (control characters, length) and the per-label
//! cardinality cap. Owns no metric families except the overflow counter it is handed.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use foldhash::fast::RandomState;

use prometheus::IntCounterVec;

/// Value used when a label is unknown.
pub const NONE: &str = "_none";
/// Value used once a label has reached its cardinality cap.
pub const OTHER: &str = "_other";

/// The values admitted so far for one (family, label) pair.
type Admitted = HashSet<String, RandomState>;

/// Bounds the distinct values of each (family, label) pair.
pub struct LabelGuard {
    max_values: usize,
    max_len: usize,
    /// foldhash (seeded per process): every set holds at most `max_values` entries, so
    /// values chosen by traffic cannot grow a chain past that however they collide.
    seen: Mutex<HashMap<(&'static str, &'static str), Admitted, RandomState>>,
    overflow: IntCounterVec,
}

impl LabelGuard {
    /// `overflow` must have one label, `label`.
    pub fn new(max_values: usize, max_len: usize, overflow: IntCounterVec) -> Self {
        LabelGuard {
            max_values,
            max_len,
            seen: Mutex::new(HashMap::default()),
            overflow,
        }
    }

    /// Sanitise `raw` and admit it for `label` of `family`, or return `_other` (counted) when
    /// the pair already holds the maximum number of distinct values.
    pub fn admit(&self, family: &'static str, label: &'static str, raw: Option<&str>) -> String {
        let value = sanitize(raw, self.max_len);
        if value == NONE || value == OTHER {
            return value;
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let set = seen.entry((family, label)).or_default();
        if set.contains(&value) {
            return value;
        }
        if set.len() >= self.max_values {
            drop(seen);
            self.overflow.with_label_values(&[label]).inc();
            return OTHER.to_string();
        }
        set.insert(value.clone());
        value
    }
}

/// Strip control characters, trim, truncate to `max_len` bytes on a char boundary; empty or
/// missing becomes `_none`.
pub fn sanitize(raw: Option<&str>, max_len: usize) -> String {
    let Some(raw) = raw else {
        return NONE.to_string();
    };
    // The usual value (a provider, model or status) is already printable ASCII: one copy.
    let clean =
        raw.len() <= max_len && !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_graphic());
    if clean {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len().min(max_len));
    for c in raw.trim().chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > max_len {
            break;
        }
        out.push(c);
    }
    if out.trim().is_empty() {
        NONE.to_string()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::Opts;

    fn guard(cap: usize) -> LabelGuard {
        let c = IntCounterVec::new(Opts::new("o_total", "o"), &["label"]).expect("valid");
        LabelGuard::new(cap, 16, c)
    }

    #[test]
    fn sanitizes() {
        assert_eq!(sanitize(None, 8), NONE);
        assert_eq!(sanitize(Some("  "), 8), NONE);
        assert_eq!(sanitize(Some("gpt\n-4\u{7}o"), 8), "gpt-4o");
        assert_eq!(sanitize(Some("ééééé"), 5), "éé");
        assert_eq!(sanitize(Some("gpt-4o-mini"), 8), "gpt-4o-m");
        assert_eq!(sanitize(Some("gpt-4o"), 8), "gpt-4o");
        assert_eq!(sanitize(Some(" a b "), 8), "a b");
    }

    #[test]
    fn caps_per_family_and_label() {
        let g = guard(2);
        assert_eq!(g.admit("f", "model", Some("a")), "a");
        assert_eq!(g.admit("f", "model", Some("b")), "b");
        assert_eq!(g.admit("f", "model", Some("c")), OTHER);
        assert_eq!(g.admit("f", "model", Some("a")), "a");
        assert_eq!(g.admit("g", "model", Some("c")), "c");
        assert_eq!(g.admit("f", "model", None), NONE);
        assert_eq!(g.overflow.with_label_values(&["model"]).get(), 1);
    }
}
