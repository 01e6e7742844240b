//! In-memory price entries: what one model costs.
//!
//! Owns [`PriceEntry`], [`Rates`], [`Tier`] and [`Origin`], all in **USD per token** (files use
//! USD per million tokens or per token; the loaders convert). It does not own parsing (see
//! `native` and `litellm`), name matching or cost maths.

use std::fmt;

/// Prices of one model (or one long-context tier of it), USD per token.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    /// Uncached input token.
    pub input: f64,
    /// Output token (reasoning included unless [`Rates::reasoning`] is set).
    pub output: f64,
    /// Cache-read input token; `None` → billed as ordinary input.
    pub cache_read: Option<f64>,
    /// Cache-write token with the 5-minute TTL; `None` → billed as ordinary input.
    pub cache_write_5m: Option<f64>,
    /// Cache-write token with the 1-hour TTL; `None` → the 5-minute price applies.
    pub cache_write_1h: Option<f64>,
    /// Reasoning output token when priced apart from output; `None` → output price.
    pub reasoning: Option<f64>,
}

impl Rates {
    /// Effective cache-read price.
    pub fn cache_read_or_input(&self) -> f64 {
        self.cache_read.unwrap_or(self.input)
    }
    /// Effective 5-minute cache-write price.
    pub fn cache_write_5m_or_input(&self) -> f64 {
        self.cache_write_5m.unwrap_or(self.input)
    }
    /// Effective 1-hour cache-write price.
    pub fn cache_write_1h_or_5m(&self) -> f64 {
        self.cache_write_1h
            .unwrap_or_else(|| self.cache_write_5m_or_input())
    }
    /// Effective reasoning price.
    pub fn reasoning_or_output(&self) -> f64 {
        self.reasoning.unwrap_or(self.output)
    }
}

/// A long-context tier: when a request's total input tokens exceed `above_input_tokens`, all of
/// its tokens (input, cache, output) are priced at `rates`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    /// Threshold; the tier applies when total input tokens are strictly greater.
    pub above_input_tokens: u64,
    /// Prices inside the tier.
    pub rates: Rates,
}

/// Which source an entry came from. Precedence: `Override` > `LiteLlm` > `Embedded`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The table compiled into the binary.
    Embedded,
    /// A LiteLLM `model_prices_and_context_window.json` file (path as given).
    LiteLlm(String),
    /// An operator override file in the native format (path as given).
    Override(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Embedded => f.write_str("embedded"),
            Origin::LiteLlm(path) => write!(f, "litellm file {path}"),
            Origin::Override(path) => write!(f, "override file {path}"),
        }
    }
}

/// One priced model.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceEntry {
    /// `provider/model`, unique within a source.
    pub key: String,
    /// Canonical provider name (`openai`, `anthropic`, `aws.bedrock`, …).
    pub provider: String,
    /// Model name as the provider spells it.
    pub model: String,
    /// Extra names matched exactly (dated snapshots, marketing names).
    pub aliases: Vec<String>,
    /// Base prices.
    pub rates: Rates,
    /// Long-context tiers, ascending by threshold.
    pub tiers: Vec<Tier>,
    /// Where the price was published and when it was checked.
    pub source: String,
}

impl PriceEntry {
    /// Rates and tier threshold that apply to a request with `total_input` tokens of input.
    pub fn rates_for(&self, total_input: u64) -> (&Rates, Option<u64>) {
        self.tiers
            .iter()
            .rev()
            .find(|t| total_input > t.above_input_tokens)
            .map_or((&self.rates, None), |t| {
                (&t.rates, Some(t.above_input_tokens))
            })
    }
}

const PER_M: f64 = 1_000_000.0;

fn fmt_price(f: &mut fmt::Formatter<'_>, name: &str, per_token: Option<f64>) -> fmt::Result {
    match per_token {
        Some(p) => writeln!(f, "    {name:<16} ${:.4} / MTok", p * PER_M),
        None => Ok(()),
    }
}

impl fmt::Display for Rates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_price(f, "input", Some(self.input))?;
        fmt_price(f, "output", Some(self.output))?;
        fmt_price(f, "cache read", self.cache_read)?;
        fmt_price(f, "cache write 5m", self.cache_write_5m)?;
        fmt_price(f, "cache write 1h", self.cache_write_1h)?;
        fmt_price(f, "reasoning", self.reasoning)
    }
}
