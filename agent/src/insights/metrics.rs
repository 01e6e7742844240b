//! Counters of cache outcomes for metric export: breaks and TTL expiries by (provider, model,
//! reason), and wasted USD. Label cardinality is bounded: past [`InsightCounters::new`]'s cap,
//! new models are counted under the model `other`.
//!
//! Does not export anything (the exporter reads [`InsightCounters::snapshot`]).

use std::collections::HashMap;
use std::sync::Mutex;

use super::insight::{CacheInsight, CacheReason, CacheStatus};

/// Model label used once the label cap is reached.
pub const OTHER_MODEL: &str = "other";

/// Labels of one counter series.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CounterKey {
    /// `gen_ai.provider.name`.
    pub provider: String,
    /// Model (or [`OTHER_MODEL`]).
    pub model: String,
    /// Reason.
    pub reason: CacheReason,
}

/// Values of one series.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CounterValue {
    /// Requests with this outcome.
    pub count: u64,
    /// Summed low estimate of wasted USD.
    pub wasted_usd_low: f64,
    /// Summed high estimate of wasted USD.
    pub wasted_usd_high: f64,
}

/// Thread-safe outcome counters.
#[derive(Debug)]
pub struct InsightCounters {
    cap: usize,
    series: Mutex<HashMap<CounterKey, CounterValue>>,
}

impl InsightCounters {
    /// Counters holding at most `cap` distinct series (plus the `other` ones).
    pub fn new(cap: usize) -> Self {
        InsightCounters {
            cap,
            series: Mutex::new(HashMap::new()),
        }
    }

    /// Count one request. Only breaks and TTL expiries are recorded (the outcomes that waste
    /// money); hits, first sightings and non-cacheable requests are not.
    pub fn record(&self, provider: &str, model: &str, insight: &CacheInsight) {
        if insight.status != CacheStatus::Break && insight.reason != CacheReason::TtlExpired {
            return;
        }
        let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let mut key = CounterKey {
            provider: provider.into(),
            model: model.into(),
            reason: insight.reason,
        };
        if !series.contains_key(&key) && series.len() >= self.cap {
            key.model = OTHER_MODEL.into();
        }
        let v = series.entry(key).or_default();
        v.count += 1;
        v.wasted_usd_low += insight.wasted_usd_low.unwrap_or(0.0);
        v.wasted_usd_high += insight.wasted_usd_high.unwrap_or(0.0);
    }

    /// All series, sorted by labels.
    pub fn snapshot(&self) -> Vec<(CounterKey, CounterValue)> {
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = series.iter().map(|(k, v)| (k.clone(), *v)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}
