//! Cross-check of the classifier's expectation against the cache tokens the provider reported.
//!
//! Owns the [`Confidence`] decision only; it never changes the classification itself.

use super::classify::Classification;
use super::config::InsightsConfig;
use super::insight::{CacheStatus, Confidence};
use super::shape::UsageView;

/// Compare the expectation with the reported cache reads.
///
/// Tolerance: `max(agree_min_tokens, agree_tolerance × counterfactual)` tokens, because the
/// expectation is a bytes-to-tokens estimate.
/// - hit: agree when the provider read at least the expected amount minus the tolerance;
/// - break / expiry: agree when it read less than the counterfactual minus the tolerance;
/// - first seen / not cacheable: agree when it read no more than the tolerance.
pub fn confidence(c: &Classification, usage: &UsageView, cfg: &InsightsConfig) -> Confidence {
    let Some(read) = usage.cache_read_input_tokens.filter(|_| usage.reported) else {
        return Confidence::NoUsage;
    };
    let scale = c.counterfactual_cached_tokens.max(c.expected_cached_tokens) as f64;
    let tol = (cfg.agree_min_tokens as f64).max(cfg.agree_tolerance * scale);
    let read = read as f64;
    let agree = match c.reason.status() {
        CacheStatus::Hit => read + tol >= c.expected_cached_tokens as f64,
        CacheStatus::Break => read + tol <= c.counterfactual_cached_tokens as f64,
        CacheStatus::Miss if c.counterfactual_cached_tokens > 0 => {
            read + tol <= c.counterfactual_cached_tokens as f64
        }
        CacheStatus::Miss | CacheStatus::NotCacheable => read <= tol,
    };
    if agree {
        Confidence::Agree
    } else {
        Confidence::Disagree
    }
}
