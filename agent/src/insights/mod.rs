//! Prompt-cache insights: what breaks the provider's prompt cache, what it costs, how to fix it.
//!
//! Works on keyed segment digests only, never text. The pipeline hands each request over as a
//! [`PromptShape`]; [`Analyzer::observe`] compares it with the remembered request sharing the
//! longest prefix ([`History`]), classifies it ([`classify`]), cross-checks with the provider's
//! cache numbers ([`crosscheck`]) and prices the waste ([`savings`]), giving the event's
//! `cache` object, a [`CacheInsight`]. [`report`] turns NDJSON events into a ranked report.
//!
//! Owns none of: hashing (privacy stage), price lookup (`pricing` crate), event export, CLI.
//! The model, its assumptions and factors are documented in `docs/insights.md`.

pub mod classify;
pub mod config;
pub mod crosscheck;
pub mod history;
pub mod insight;
pub mod metrics;
pub mod report;
pub mod savings;
pub mod shape;

#[cfg(test)]
mod analyzer_tests;
#[cfg(test)]
mod calibration_tests;

pub use config::{CachePolicy, ConfigError, HistoryConfig, InsightsConfig, MinTokensRule};
pub use history::{History, HistoryStats};
pub use insight::{CacheInsight, CacheReason, CacheStatus, Confidence};
pub use metrics::{CounterKey, CounterValue, InsightCounters};
pub use report::{ReportFormat, report};
pub use savings::SavingsConfig;
pub use shape::{Digest, HistoryKey, PriceView, PromptShape, SegmentDigest, UsageView};

use crate::llm::CacheTtl;

/// Series the counters keep before folding new models into `other`.
const COUNTER_SERIES_CAP: usize = 2048;

/// The cache analysis: history, classifier, cross-check, savings and counters together.
#[derive(Debug)]
pub struct Analyzer {
    cfg: InsightsConfig,
    history: History,
    counters: InsightCounters,
}

impl Analyzer {
    /// An analyzer with an empty history.
    pub fn new(cfg: InsightsConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        Ok(Analyzer {
            history: History::new(cfg.history.clone()),
            counters: InsightCounters::new(COUNTER_SERIES_CAP),
            cfg,
        })
    }

    /// Classify one request, remember it, count it, and return the event's `cache` object.
    pub fn observe(&self, shape: &PromptShape) -> CacheInsight {
        let cfg = &self.cfg;
        let policy = cfg.policy(&shape.key.provider, &shape.key.model_family);
        let tpb = classify::tokens_per_byte(shape, cfg);
        let segments = classify::stored_segments(shape, policy, tpb, cfg);
        let prior = self
            .history
            .observe(&shape.key, &shape.model, shape.observed_at_ms, &segments);
        let req = classify::Request {
            shape,
            segments: &segments,
            policy,
            tpb,
        };
        let c = classify::classify(&req, prior.as_ref(), cfg);
        let confidence = crosscheck::confidence(&c, &shape.usage, cfg);
        let waste = savings::estimate(
            &savings::WasteInput {
                status: c.reason.status(),
                ttl_expired: c.reason == CacheReason::TtlExpired,
                lost_tokens: c.lost_tokens(),
                policy,
                write_ttl: write_ttl(shape),
                usage: &shape.usage,
                prices: shape.prices.as_ref(),
            },
            &cfg.savings,
        );
        let insight = CacheInsight {
            status: c.reason.status(),
            reason: c.reason,
            segment_index: c.segment_index,
            expected_cached_tokens: c.expected_cached_tokens,
            reported_cached_tokens: shape
                .usage
                .cache_read_input_tokens
                .filter(|_| shape.usage.reported),
            wasted_tokens_low: waste.tokens_low,
            wasted_tokens_high: waste.tokens_high,
            wasted_usd_low: waste.usd_low,
            wasted_usd_high: waste.usd_high,
            confidence,
        };
        self.counters
            .record(&shape.key.provider, &shape.model, &insight);
        insight
    }

    /// Outcome counters, for metrics.
    pub fn counters(&self) -> &InsightCounters {
        &self.counters
    }

    /// History sizes, for metrics and bound checks.
    pub fn history_stats(&self) -> HistoryStats {
        self.history.stats()
    }
}

/// TTL of the request's own cache writes: 1 h if its last breakpoint asks for it.
fn write_ttl(shape: &PromptShape) -> CacheTtl {
    shape
        .segments
        .iter()
        .rev()
        .find_map(|s| s.cache_control)
        .or(shape.automatic_cache)
        .unwrap_or(CacheTtl::FiveMinutes)
}
