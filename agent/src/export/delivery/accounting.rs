//! Event accounting: every event handed to the exporter ends in exactly one outcome.
//! Owns the counters (the `llmtap_events_total` family is the single store) and the final
//! log line; does not decide outcomes.

use prometheus::{IntCounter, IntCounterVec};
use serde::Serialize;

/// Event counts by outcome. After shutdown,
/// `emitted == sent + failed + dropped + abandoned_on_shutdown`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Accounting {
    /// Events handed to the exporter.
    pub emitted: u64,
    /// Events in a batch the sink accepted.
    pub sent: u64,
    /// Events in a batch that failed after retries or was refused.
    pub failed: u64,
    /// Events refused or evicted by a full queue.
    pub dropped: u64,
    /// Events still queued or in flight when the drain timeout expired (or submitted after).
    pub abandoned_on_shutdown: u64,
}

impl Accounting {
    /// Events with an outcome.
    pub fn settled(&self) -> u64 {
        self.sent + self.failed + self.dropped + self.abandoned_on_shutdown
    }

    /// The accounting identity holds.
    pub fn balanced(&self) -> bool {
        self.emitted == self.settled()
    }
}

/// The one log line printed at exit.
pub fn final_line(a: &Accounting) -> String {
    format!(
        "llmtap export: emitted={} sent={} failed={} dropped={} abandoned_on_shutdown={} ({})",
        a.emitted,
        a.sent,
        a.failed,
        a.dropped,
        a.abandoned_on_shutdown,
        if a.balanced() {
            "balanced"
        } else {
            "UNBALANCED"
        }
    )
}

/// Handles on the `llmtap_events_total{outcome}` counters.
#[derive(Clone)]
pub struct Ledger {
    emitted: IntCounter,
    sent: IntCounter,
    failed: IntCounter,
    dropped: IntCounter,
    abandoned: IntCounter,
}

impl Ledger {
    /// `events` must have the single label `outcome`.
    pub fn new(events: &IntCounterVec) -> Self {
        let c = |o: &str| events.with_label_values(&[o]);
        Ledger {
            emitted: c("emitted"),
            sent: c("sent"),
            failed: c("failed"),
            dropped: c("dropped"),
            abandoned: c("abandoned_on_shutdown"),
        }
    }

    pub(crate) fn emitted(&self) {
        self.emitted.inc();
    }
    pub(crate) fn sent(&self, n: u64) {
        self.sent.inc_by(n);
    }
    pub(crate) fn failed(&self, n: u64) {
        self.failed.inc_by(n);
    }
    pub(crate) fn dropped(&self, n: u64) {
        self.dropped.inc_by(n);
    }
    pub(crate) fn abandoned(&self, n: u64) {
        self.abandoned.inc_by(n);
    }

    /// Current counts.
    pub fn snapshot(&self) -> Accounting {
        Accounting {
            emitted: self.emitted.get(),
            sent: self.sent.get(),
            failed: self.failed.get(),
            dropped: self.dropped.get(),
            abandoned_on_shutdown: self.abandoned.get(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_line_reports_balance() {
        let a = Accounting {
            emitted: 5,
            sent: 2,
            failed: 1,
            dropped: 1,
            abandoned_on_shutdown: 1,
        };
        assert!(final_line(&a).ends_with("(balanced)"));
        let b = Accounting { emitted: 6, ..a };
        assert!(final_line(&b).contains("UNBALANCED"));
    }
}
