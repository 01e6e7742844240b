//! Cost maths: token usage × price entry → USD with a per-component breakdown.
//!
//! Owns [`Usage`] (OpenTelemetry semantics), [`InputSemantics`], [`Cost`], [`CostBreakdown`],
//! [`CostOutcome`] and the pricing rules below. It does not own name matching or loading.
//!
//! # Semantics
//! * `input_tokens` **includes** cache reads and cache writes (OTel `gen_ai.usage.input_tokens`).
//!   Uncached input = `input − cache_read − cache_creation`, saturating at 0. Usage in Anthropic's
//!   native shape (input excludes cache) can be converted with [`Usage::to_otel`].
//! * Cache writes: `cache_creation_5m`/`cache_creation_1h` when given; a total without a split
//!   (`cache_creation_input_tokens` only) is priced at the 5-minute price. When a split is given
//!   and a total too, the part of the total not covered by the 1 h count is priced at 5 minutes.
//! * `output_tokens` **includes** reasoning (Gemini thoughts are output). Reasoning tokens
//!   (capped at `output_tokens`) are priced at the reasoning price where the model has one,
//!   otherwise at the output price; the breakdown shows them apart either way.
//! * Missing prices: no cache-read or cache-write price → those tokens are ordinary input;
//!   no 1-hour write price → the 5-minute price.
//! * Long-context tier: chosen by the request's total input tokens (`input_tokens`, or the sum
//!   of cache counts if larger); inside a tier, **every** component uses the tier's prices.
//! * Missing token counts are 0; a usage with neither input nor output count is
//!   [`UnknownReason::NoUsage`], never a cost of 0.

use std::fmt;

use crate::entry::{PriceEntry, Rates};

/// Whether a provider's native input count includes cached tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputSemantics {
    /// Input includes cache reads/writes: OpenAI, Azure OpenAI, Gemini, OpenAI-compatible APIs.
    IncludesCache,
    /// Input excludes cache reads/writes: Anthropic, including Claude on Bedrock and Vertex.
    ExcludesCache,
}

impl InputSemantics {
    /// Native semantics of a provider's usage block (`model` decides for Bedrock and Vertex).
    pub fn for_provider(provider: &str, model: &str) -> Self {
        let provider = crate::matching::canonical_provider(provider);
        let claude = model.to_ascii_lowercase().contains("claude");
        match provider.as_str() {
            "anthropic" => Self::ExcludesCache,
            "aws.bedrock" | "gcp.vertex_ai" if claude => Self::ExcludesCache,
            _ => Self::IncludesCache,
        }
    }
}

/// Token usage of one request in OpenTelemetry semantics. `None` = not reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// All input tokens, **including** cache reads and cache writes.
    pub input_tokens: Option<u64>,
    /// All output tokens, **including** reasoning/thinking tokens.
    pub output_tokens: Option<u64>,
    /// Input tokens served from the cache.
    pub cache_read_input_tokens: Option<u64>,
    /// Input tokens written to the cache (total of both TTLs).
    pub cache_creation_input_tokens: Option<u64>,
    /// Of those, written with the 5-minute TTL.
    pub cache_creation_5m: Option<u64>,
    /// Of those, written with the 1-hour TTL.
    pub cache_creation_1h: Option<u64>,
    /// Output tokens spent on reasoning (part of `output_tokens`).
    pub reasoning_output_tokens: Option<u64>,
}

impl Usage {
    /// Converts a usage whose `input_tokens` follows `semantics` into OTel semantics
    /// (adds cache reads and writes to input for [`InputSemantics::ExcludesCache`]).
    pub fn to_otel(mut self, semantics: InputSemantics) -> Self {
        if semantics == InputSemantics::ExcludesCache {
            let cache = self
                .cache_read_input_tokens
                .unwrap_or(0)
                .saturating_add(self.cache_creation_total());
            self.input_tokens = self.input_tokens.map(|i| i.saturating_add(cache));
        }
        self
    }

    fn cache_creation_total(&self) -> u64 {
        self.cache_creation_input_tokens.unwrap_or_else(|| {
            self.cache_creation_5m
                .unwrap_or(0)
                .saturating_add(self.cache_creation_1h.unwrap_or(0))
        })
    }
}

/// USD per component. Components sum to [`Cost::usd`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CostBreakdown {
    /// Uncached input.
    pub input: f64,
    /// Cache reads.
    pub cached_input: f64,
    /// Cache writes, 5-minute TTL (and unsplit totals).
    pub cache_write_5m: f64,
    /// Cache writes, 1-hour TTL.
    pub cache_write_1h: f64,
    /// Output other than reasoning.
    pub output: f64,
    /// Reasoning output.
    pub reasoning: f64,
}

impl CostBreakdown {
    /// Sum of all components.
    pub fn total(&self) -> f64 {
        self.input
            + self.cached_input
            + self.cache_write_5m
            + self.cache_write_1h
            + self.output
            + self.reasoning
    }
}

/// The priced cost of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    /// Total USD.
    pub usd: f64,
    /// Per-component USD.
    pub breakdown: CostBreakdown,
    /// Version of the price source the entry came from.
    pub pricing_version: String,
    /// Key of the entry used (`provider/model`).
    pub model_key: String,
    /// Threshold of the long-context tier applied, if any.
    pub tier: Option<u64>,
}

/// Why a request has no cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnknownReason {
    /// No entry matched the model (the pair is counted as unmatched).
    UnmatchedModel,
    /// The request reported neither input nor output tokens.
    NoUsage,
}

impl fmt::Display for UnknownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnknownReason::UnmatchedModel => "no price entry matches the model",
            UnknownReason::NoUsage => "usage was not reported",
        })
    }
}

/// Result of [`crate::PriceTable::cost`].
#[derive(Debug, Clone, PartialEq)]
pub enum CostOutcome {
    /// Priced.
    Known(Cost),
    /// Not priced; never treat as 0.
    Unknown {
        /// Why.
        reason: UnknownReason,
    },
}

/// Prices `usage` with `entry`. Returns the breakdown and the tier threshold used, or `None`
/// when the usage carries no token counts.
pub fn price_usage(entry: &PriceEntry, usage: &Usage) -> Option<(CostBreakdown, Option<u64>)> {
    if usage.input_tokens.is_none() && usage.output_tokens.is_none() {
        return None;
    }
    let cache_read = usage.cache_read_input_tokens.unwrap_or(0);
    let creation = usage.cache_creation_total();
    let w1h = usage.cache_creation_1h.unwrap_or(0).min(creation);
    let w5m = creation - w1h;
    let input = usage.input_tokens.unwrap_or(0);
    let total_input = input.max(cache_read.saturating_add(creation));
    let uncached = input.saturating_sub(cache_read).saturating_sub(creation);
    let output = usage.output_tokens.unwrap_or(0);
    let reasoning = usage.reasoning_output_tokens.unwrap_or(0).min(output);
    let (rates, tier): (&Rates, Option<u64>) = entry.rates_for(total_input);
    let usd = |tokens: u64, price: f64| tokens as f64 * price;
    let breakdown = CostBreakdown {
        input: usd(uncached, rates.input),
        cached_input: usd(cache_read, rates.cache_read_or_input()),
        cache_write_5m: usd(w5m, rates.cache_write_5m_or_input()),
        cache_write_1h: usd(w1h, rates.cache_write_1h_or_5m()),
        output: usd(output - reasoning, rates.output),
        reasoning: usd(reasoning, rates.reasoning_or_output()),
    };
    Some((breakdown, tier))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Tier;

    const M: f64 = 1e-6;

    fn entry(rates: Rates, tiers: Vec<Tier>) -> PriceEntry {
        PriceEntry {
            key: "t/m".into(),
            provider: "t".into(),
            model: "m".into(),
            aliases: vec![],
            rates,
            tiers,
            source: "test".into(),
        }
    }

    fn bare(input: f64, output: f64) -> Rates {
        Rates {
            input: input * M,
            output: output * M,
            cache_read: None,
            cache_write_5m: None,
            cache_write_1h: None,
            reasoning: None,
        }
    }

    #[test]
    fn missing_cache_prices_fall_back_to_input() {
        let e = entry(bare(2.0, 8.0), vec![]);
        let u = Usage {
            input_tokens: Some(1_000_000),
            cache_read_input_tokens: Some(250_000),
            cache_creation_input_tokens: Some(250_000),
            cache_creation_1h: Some(50_000),
            ..Usage::default()
        };
        let (b, tier) = price_usage(&e, &u).expect("priced");
        assert_eq!(tier, None);
        // Every input token costs $2/MTok however it is split: 1M tokens → $2.
        assert!((b.total() - 2.0).abs() < 1e-12, "{b:?}");
        assert!((b.cache_write_1h - 0.1).abs() < 1e-12);
        assert!((b.cache_write_5m - 0.4).abs() < 1e-12);
    }

    #[test]
    fn split_larger_than_total_is_capped_and_reasoning_capped_at_output() {
        let mut r = bare(1.0, 10.0);
        r.cache_write_5m = Some(1.25 * M);
        r.cache_write_1h = Some(2.0 * M);
        r.reasoning = Some(20.0 * M);
        let e = entry(r, vec![]);
        let u = Usage {
            input_tokens: Some(100),
            cache_creation_input_tokens: Some(100),
            cache_creation_1h: Some(500),
            output_tokens: Some(10),
            reasoning_output_tokens: Some(1_000),
            ..Usage::default()
        };
        let (b, _) = price_usage(&e, &u).expect("priced");
        assert_eq!(b.input, 0.0);
        assert!((b.cache_write_1h - 100.0 * 2.0 * M).abs() < 1e-15);
        assert_eq!(b.cache_write_5m, 0.0);
        assert_eq!(b.output, 0.0);
        assert!((b.reasoning - 10.0 * 20.0 * M).abs() < 1e-15);
    }

    #[test]
    fn highest_applicable_tier_wins_and_threshold_is_strict() {
        let tiers = vec![
            Tier {
                above_input_tokens: 100,
                rates: bare(2.0, 2.0),
            },
            Tier {
                above_input_tokens: 1_000,
                rates: bare(3.0, 3.0),
            },
        ];
        let e = entry(bare(1.0, 1.0), tiers);
        let at = |n: u64| {
            let u = Usage {
                input_tokens: Some(n),
                ..Usage::default()
            };
            price_usage(&e, &u).expect("priced").1
        };
        assert_eq!(at(100), None);
        assert_eq!(at(101), Some(100));
        assert_eq!(at(1_000), Some(100));
        assert_eq!(at(1_001), Some(1_000));
        // Cache counts alone can push a request into a tier.
        let u = Usage {
            cache_read_input_tokens: Some(5_000),
            output_tokens: Some(1),
            ..Usage::default()
        };
        assert_eq!(price_usage(&e, &u).expect("priced").1, Some(1_000));
    }

    #[test]
    fn no_counts_is_not_priced() {
        let e = entry(bare(1.0, 1.0), vec![]);
        let u = Usage {
            cache_read_input_tokens: Some(5),
            ..Usage::default()
        };
        assert!(price_usage(&e, &u).is_none());
    }
}
