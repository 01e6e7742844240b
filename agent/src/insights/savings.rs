//! The money model: what a cache break or expiry wasted, as a low–high range in USD.
//!
//! Owns [`SavingsConfig`] (every factor, with its default and reason) and [`estimate`]. It does
//! not classify (the lost-token estimate comes from `classify`) and does not look prices up
//! (the caller hands over a [`PriceView`]).
//!
//! Per lost token the waste is `input price − cache-read price` (it was billed as ordinary
//! input instead of a cache read). On breakpoint (Anthropic) caches the break also makes the
//! provider write the prefix again, adding `write price − input price` per re-written token.
//! - **high**: the full expected prefix: every lost token, all re-written.
//! - **low**: the lost tokens shrunk by [`SavingsConfig::token_estimate_margin`], capped by
//!   the tokens the provider reported as not read from cache; write premium only on the
//!   cache-write tokens the provider reported (none when it reported none).

use super::config::{CachePolicy, ConfigError};
use super::insight::CacheStatus;
use super::shape::{PriceView, UsageView};
use crate::llm::CacheTtl;

/// Factors of the money model.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SavingsConfig {
    /// Relative error assumed on bytes→tokens estimates; the low end removes it (0.15).
    pub token_estimate_margin: f64,
    /// Cache-read price ÷ input price when the price table has no cache-read price, breakpoint
    /// caches (Anthropic publishes 0.1).
    pub fallback_read_ratio_breakpoints: f64,
    /// Same for automatic caches. OpenAI discounts range from 0.5 to 0.1 by model; 0.5 keeps
    /// the estimate conservative.
    pub fallback_read_ratio_automatic: f64,
    /// 5-minute cache-write price ÷ input price when unpriced (Anthropic: 1.25).
    pub fallback_write_5m_ratio: f64,
    /// 1-hour cache-write price ÷ input price when unpriced (Anthropic: 2.0).
    pub fallback_write_1h_ratio: f64,
    /// Count the re-write premium on breakpoint caches (true).
    pub include_write_premium: bool,
    /// Count TTL expiries as waste (true: a longer TTL or keep-alive would have saved it).
    pub count_ttl_expired: bool,
}

impl Default for SavingsConfig {
    fn default() -> Self {
        SavingsConfig {
            token_estimate_margin: 0.15,
            fallback_read_ratio_breakpoints: 0.1,
            fallback_read_ratio_automatic: 0.5,
            fallback_write_5m_ratio: 1.25,
            fallback_write_1h_ratio: 2.0,
            include_write_premium: true,
            count_ttl_expired: true,
        }
    }
}

impl SavingsConfig {
    /// Reject factors outside their range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let unit = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
        let pos = |v: f64| v.is_finite() && v >= 0.0;
        for (ok, name) in [
            (
                unit(self.token_estimate_margin),
                "savings.token_estimate_margin",
            ),
            (
                unit(self.fallback_read_ratio_breakpoints),
                "savings.fallback_read_ratio_breakpoints",
            ),
            (
                unit(self.fallback_read_ratio_automatic),
                "savings.fallback_read_ratio_automatic",
            ),
            (
                pos(self.fallback_write_5m_ratio),
                "savings.fallback_write_5m_ratio",
            ),
            (
                pos(self.fallback_write_1h_ratio),
                "savings.fallback_write_1h_ratio",
            ),
        ] {
            if !ok {
                return Err(ConfigError::OutOfRange(name));
            }
        }
        Ok(())
    }
}

/// What went to waste.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Waste {
    /// Tokens, low end.
    pub tokens_low: u64,
    /// Tokens, high end.
    pub tokens_high: u64,
    /// USD, low end; `None` when unpriced.
    pub usd_low: Option<f64>,
    /// USD, high end; `None` when unpriced.
    pub usd_high: Option<f64>,
}

/// Inputs of [`estimate`].
pub struct WasteInput<'a> {
    /// Outcome class.
    pub status: CacheStatus,
    /// Whether the outcome is a TTL expiry.
    pub ttl_expired: bool,
    /// Estimated tokens that should have been read from cache.
    pub lost_tokens: u64,
    /// Caching model of the provider.
    pub policy: CachePolicy,
    /// TTL of the request's own cache writes (sets the write price).
    pub write_ttl: CacheTtl,
    /// Reported usage.
    pub usage: &'a UsageView,
    /// Prices, if known.
    pub prices: Option<&'a PriceView>,
}

/// Estimate the waste of one request.
pub fn estimate(i: &WasteInput<'_>, cfg: &SavingsConfig) -> Waste {
    let counts = match i.status {
        CacheStatus::Break => true,
        CacheStatus::Miss => i.ttl_expired && cfg.count_ttl_expired,
        CacheStatus::Hit | CacheStatus::NotCacheable => false,
    };
    let high = if counts { i.lost_tokens } else { 0 };
    let mut low = (high as f64 * (1.0 - cfg.token_estimate_margin)).floor() as u64;
    let u = i.usage;
    if let (true, Some(input)) = (u.reported, u.input_tokens) {
        let uncached = input.saturating_sub(u.cache_read_input_tokens.unwrap_or(0));
        low = low.min(uncached);
    }
    let mut w = Waste {
        tokens_low: low,
        tokens_high: high,
        usd_low: None,
        usd_high: None,
    };
    let Some(p) = i.prices else { return w };
    let input = p.input_per_token;
    let read_ratio = match i.policy {
        CachePolicy::Breakpoints => cfg.fallback_read_ratio_breakpoints,
        _ => cfg.fallback_read_ratio_automatic,
    };
    let read = p.cache_read_per_token.unwrap_or(input * read_ratio);
    let write = match i.write_ttl {
        CacheTtl::FiveMinutes => p
            .cache_write_5m_per_token
            .unwrap_or(input * cfg.fallback_write_5m_ratio),
        CacheTtl::OneHour => p
            .cache_write_1h_per_token
            .unwrap_or(input * cfg.fallback_write_1h_ratio),
    };
    let discount = (input - read).max(0.0);
    let premium = if cfg.include_write_premium && i.policy == CachePolicy::Breakpoints {
        (write - input).max(0.0)
    } else {
        0.0
    };
    let written_low = match (u.reported, u.cache_creation_input_tokens) {
        (true, Some(c)) => c.min(low),
        _ => 0,
    };
    w.usd_low = Some(low as f64 * discount + written_low as f64 * premium);
    w.usd_high = Some(high as f64 * (discount + premium));
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, read: u64, write: u64) -> UsageView {
        UsageView {
            reported: true,
            input_tokens: Some(input),
            cache_read_input_tokens: Some(read),
            cache_creation_input_tokens: Some(write),
        }
    }

    #[test]
    fn break_range_brackets_and_includes_premium() {
        let p = PriceView {
            input_per_token: 3e-6,
            cache_read_per_token: Some(0.3e-6),
            cache_write_5m_per_token: Some(3.75e-6),
            cache_write_1h_per_token: Some(6e-6),
        };
        let u = usage(10_000, 1_000, 9_000);
        let w = estimate(
            &WasteInput {
                status: CacheStatus::Break,
                ttl_expired: false,
                lost_tokens: 8_000,
                policy: CachePolicy::Breakpoints,
                write_ttl: CacheTtl::FiveMinutes,
                usage: &u,
                prices: Some(&p),
            },
            &SavingsConfig::default(),
        );
        assert_eq!(w.tokens_high, 8_000);
        assert_eq!(w.tokens_low, 6_800);
        let (lo, hi) = (w.usd_low.unwrap_or(0.0), w.usd_high.unwrap_or(0.0));
        assert!((hi - 8_000.0 * (2.7e-6 + 0.75e-6)).abs() < 1e-9);
        assert!(lo > 0.0 && lo < hi);
    }

    #[test]
    fn hits_waste_nothing_and_unpriced_has_no_usd() {
        let u = UsageView::default();
        let w = estimate(
            &WasteInput {
                status: CacheStatus::Hit,
                ttl_expired: false,
                lost_tokens: 500,
                policy: CachePolicy::AutomaticPrefix,
                write_ttl: CacheTtl::FiveMinutes,
                usage: &u,
                prices: None,
            },
            &SavingsConfig::default(),
        );
        assert_eq!(w, Waste::default());
    }
}
