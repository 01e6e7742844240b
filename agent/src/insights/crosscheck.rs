//! Cross-check of the classifier's expectation against the cache tokens the provider reported.
//!
//! Owns the [`Confidence`] decision only; it never changes the classification itself.

use super::classify::Classification;
use super::config::InsightsConfig;
use super::insight::{CacheStatus, Confidence};
use super::shape::UsageView;

/// Compare the expectation with the reported cache reads.
///
/// - hit: agree when the provider read at least the expected amount minus a tolerance of
///   `max(agree_min_tokens, agree_tolerance × expected)` (the expectation is a bytes-to-tokens
///   estimate, and automatic caches round down to their step);
/// - break / expiry: agree when the read is closer to the expected (reduced) amount than to the
///   counterfactual one (what an unbroken prefix would have given);
/// - first seen / not cacheable: agree when it read no more than `agree_min_tokens`.
pub fn confidence(c: &Classification, usage: &UsageView, cfg: &InsightsConfig) -> Confidence {
    let Some(read) = usage.cache_read_input_tokens.filter(|_| usage.reported) else {
        return Confidence::NoUsage;
    };
    let read = read as f64;
    let expected = c.expected_cached_tokens as f64;
    let counterfactual = c.counterfactual_cached_tokens as f64;
    let agree = match c.reason.status() {
        CacheStatus::Hit => {
            let tol = (cfg.agree_min_tokens as f64).max(cfg.agree_tolerance * expected);
            read + tol >= expected
        }
        CacheStatus::Break | CacheStatus::Miss if counterfactual > expected => {
            read < (expected + counterfactual) / 2.0
        }
        CacheStatus::Break | CacheStatus::Miss | CacheStatus::NotCacheable => {
            read <= cfg.agree_min_tokens as f64
        }
    };
    if agree {
        Confidence::Agree
    } else {
        Confidence::Disagree
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insights::CacheReason;

    fn c(reason: CacheReason, expected: u64, counterfactual: u64) -> Classification {
        Classification {
            reason,
            segment_index: None,
            expected_cached_tokens: expected,
            counterfactual_cached_tokens: counterfactual,
        }
    }

    fn read(n: u64) -> UsageView {
        UsageView {
            reported: true,
            input_tokens: Some(10_000),
            cache_read_input_tokens: Some(n),
            cache_creation_input_tokens: None,
        }
    }

    #[test]
    fn confidence_follows_the_reported_reads() {
        let cfg = InsightsConfig::default();
        let brk = c(CacheReason::SystemChanged, 3_500, 4_500);
        assert_eq!(confidence(&brk, &read(3_500), &cfg), Confidence::Agree);
        assert_eq!(confidence(&brk, &read(4_500), &cfg), Confidence::Disagree);
        let hit = c(CacheReason::HitExpected, 4_000, 4_000);
        assert_eq!(confidence(&hit, &read(3_968), &cfg), Confidence::Agree);
        assert_eq!(confidence(&hit, &read(0), &cfg), Confidence::Disagree);
        let first = c(CacheReason::FirstSeen, 0, 0);
        assert_eq!(confidence(&first, &read(0), &cfg), Confidence::Agree);
        assert_eq!(confidence(&first, &read(2_000), &cfg), Confidence::Disagree);
        assert_eq!(
            confidence(&first, &UsageView::default(), &cfg),
            Confidence::NoUsage
        );
    }
}
