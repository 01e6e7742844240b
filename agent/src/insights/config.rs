//! Tunables of the cache-break analysis: history bounds, cache TTLs, minimum cacheable prompt
//! sizes, token estimation and cross-check tolerance. Every number the classifier uses lives
//! here with its default and the reason for it; the money model has its own
//! [`SavingsConfig`](super::SavingsConfig).
//!
//! Does not own the savings factors, the history itself or the classification logic.

use serde::Deserialize;

use super::savings::SavingsConfig;

/// How a provider caches prompts, as far as the classifier models it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CachePolicy {
    /// Anthropic style: prefixes are cached only at `cache_control` breakpoints (or the
    /// automatic one), each breakpoint looks back a bounded number of segments for an entry.
    Breakpoints,
    /// OpenAI style: every prompt prefix is cached automatically in fixed token steps from a
    /// minimum size; no breakpoints, no write charge.
    AutomaticPrefix,
    /// Not modelled: nothing is expected to be cached.
    None,
}

/// Minimum cacheable prompt size for models whose family contains `pattern`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinTokensRule {
    /// Case-insensitive substring of the model family (`haiku`, `claude`, …).
    pub pattern: String,
    /// Prompts (prefixes) below this many tokens are silently not cached.
    pub min_tokens: u64,
}

/// Bounds of the prompt history.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistoryConfig {
    /// Requests remembered across all keys.
    pub max_entries: usize,
    /// Requests remembered per (workload, provider, model family).
    pub max_per_key: usize,
    /// Requests older than this are forgotten. Must exceed the longest cache TTL, or expiries
    /// are reported as `first_seen`. Default 2 h (the longest TTL is 1 h).
    pub max_age_ms: u64,
    /// Segments per request whose prefix chains are indexed; longer prompts are compared on
    /// this many leading segments only.
    pub max_segments: usize,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            max_entries: 10_000,
            max_per_key: 64,
            max_age_ms: 2 * 60 * 60 * 1000,
            max_segments: 1024,
        }
    }
}

/// All tunables of the analysis. Deserialisable (e.g. an `[insights]` TOML table); missing
/// fields take their defaults.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InsightsConfig {
    /// History bounds.
    pub history: HistoryConfig,
    /// Providers cached with [`CachePolicy::Breakpoints`] (`anthropic`). Bedrock and Vertex
    /// also use it when the model family names `claude`.
    pub breakpoint_providers: Vec<String>,
    /// Providers cached with [`CachePolicy::AutomaticPrefix`] (`openai`, `azure.ai.openai`).
    pub automatic_providers: Vec<String>,
    /// Anthropic `ttl: "5m"` (and default) lifetime, ms.
    pub breakpoint_ttl_5m_ms: u64,
    /// Anthropic `ttl: "1h"` lifetime, ms.
    pub breakpoint_ttl_1h_ms: u64,
    /// Lifetime of automatic (OpenAI) prefixes after their last use, ms. OpenAI documents
    /// 5–10 minutes of inactivity, up to an hour off-peak; the default models 10 minutes.
    pub automatic_ttl_ms: u64,
    /// Segments an Anthropic breakpoint looks back for an existing entry (20).
    pub breakpoint_lookback: usize,
    /// Minimum cacheable size for [`CachePolicy::Breakpoints`], first matching rule wins.
    /// Defaults: `haiku` 2048, `claude` 1024.
    pub breakpoint_min_tokens: Vec<MinTokensRule>,
    /// Minimum when no rule matches (1024).
    pub default_min_tokens: u64,
    /// Automatic caching: minimum prompt size (1024).
    pub automatic_min_tokens: u64,
    /// Automatic caching: cache hits grow in steps of this many tokens (128).
    pub automatic_step_tokens: u64,
    /// Bytes of segment JSON per token when the provider reported no usage to calibrate on (4).
    pub default_bytes_per_token: f64,
    /// Cross-check of expected hits: reads short of the expectation by at most this fraction
    /// (or [`Self::agree_min_tokens`]) agree.
    pub agree_tolerance: f64,
    /// Cross-check: and within at least this many tokens (one automatic step, 128).
    pub agree_min_tokens: u64,
    /// Money model.
    pub savings: SavingsConfig,
}

impl Default for InsightsConfig {
    fn default() -> Self {
        InsightsConfig {
            history: HistoryConfig::default(),
            breakpoint_providers: vec!["anthropic".into()],
            automatic_providers: vec!["openai".into(), "azure.ai.openai".into()],
            breakpoint_ttl_5m_ms: 5 * 60 * 1000,
            breakpoint_ttl_1h_ms: 60 * 60 * 1000,
            automatic_ttl_ms: 10 * 60 * 1000,
            breakpoint_lookback: 20,
            breakpoint_min_tokens: vec![
                MinTokensRule {
                    pattern: "haiku".into(),
                    min_tokens: 2048,
                },
                MinTokensRule {
                    pattern: "claude".into(),
                    min_tokens: 1024,
                },
            ],
            default_min_tokens: 1024,
            automatic_min_tokens: 1024,
            automatic_step_tokens: 128,
            default_bytes_per_token: 4.0,
            agree_tolerance: 0.25,
            agree_min_tokens: 128,
            savings: SavingsConfig::default(),
        }
    }
}

/// A configuration value that cannot work.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A bound or size is zero.
    #[error("insights: {0} must be greater than zero")]
    Zero(&'static str),
    /// A ratio or factor is negative, not finite, or out of its range.
    #[error("insights: {0} is out of range")]
    OutOfRange(&'static str),
}

impl InsightsConfig {
    /// Reject values the analysis cannot use.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let h = &self.history;
        for (v, name) in [
            (h.max_entries, "history.max_entries"),
            (h.max_per_key, "history.max_per_key"),
            (h.max_segments, "history.max_segments"),
            (self.breakpoint_lookback, "breakpoint_lookback"),
        ] {
            if v == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        if self.automatic_step_tokens == 0 {
            return Err(ConfigError::Zero("automatic_step_tokens"));
        }
        if !(self.default_bytes_per_token.is_finite() && self.default_bytes_per_token > 0.0) {
            return Err(ConfigError::OutOfRange("default_bytes_per_token"));
        }
        if !(0.0..=1.0).contains(&self.agree_tolerance) {
            return Err(ConfigError::OutOfRange("agree_tolerance"));
        }
        self.savings.validate()
    }

    /// How `provider` caches prompts of `model_family`.
    pub fn policy(&self, provider: &str, model_family: &str) -> CachePolicy {
        let claude = model_family.to_ascii_lowercase().contains("claude");
        if self.breakpoint_providers.iter().any(|p| p == provider)
            || (claude && matches!(provider, "aws.bedrock" | "gcp.vertex_ai"))
        {
            CachePolicy::Breakpoints
        } else if self.automatic_providers.iter().any(|p| p == provider) {
            CachePolicy::AutomaticPrefix
        } else {
            CachePolicy::None
        }
    }

    /// Minimum cacheable prefix, in tokens, under `policy`.
    pub fn min_tokens(&self, policy: CachePolicy, model_family: &str) -> u64 {
        match policy {
            CachePolicy::AutomaticPrefix => self.automatic_min_tokens,
            CachePolicy::Breakpoints | CachePolicy::None => {
                let family = model_family.to_ascii_lowercase();
                self.breakpoint_min_tokens
                    .iter()
                    .find(|r| family.contains(&r.pattern.to_ascii_lowercase()))
                    .map_or(self.default_min_tokens, |r| r.min_tokens)
            }
        }
    }
}
