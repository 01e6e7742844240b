//! Model-name matching: from the (provider, model) an observed request carries to a table key.
//!
//! Owns provider canonicalisation, the name rewrites and [`MatchKind`], which records *why* a
//! name matched. It does not own the table layers or their precedence (see `table`).
//!
//! # Matching order
//! Names compare ASCII-case-insensitively. The candidate names, in order, are:
//! 0. **Azure deployment** (provider `azure.ai.openai` only): a configured deployment name is
//!    replaced by its model name (this replaces the name for every later step).
//! 1. **Exact**: the name as given; it may equal an entry's model name or one of its aliases.
//! 2. **Provider prefix**: a leading `openai/`, `anthropic/`, `bedrock/`, `azure/`, `gemini/`,
//!    `models/`, … segment is removed. If the request's provider is not a known one (an
//!    aggregator such as OpenRouter, or empty), the prefix selects the provider.
//! 3. **Bedrock region**: a leading `us.`, `eu.`, `apac.`, `global.`, `us-gov.`, `jp.`, `au.`,
//!    `ca.` inference-profile prefix is removed (only before a `vendor.` segment).
//! 4. **Bedrock version**: a trailing `-v1:0`, `-v2`, `:0` is removed (only on `vendor.model` ids).
//! 5. **Date suffix**: a trailing `-2024-08-06`, `-20250929`, `@20250929`, `-latest`,
//!    `@latest`, Mistral-style `-2411` or OpenAI-style `-0613` is removed.
//!
//! Search order (implemented in `table`): for each provider to search — the requested one,
//! then its fallbacks (`azure.ai.openai` → `openai`; `gcp.vertex_ai` → `gcp.gemini`,
//! `anthropic`), recorded as [`Normalization::ProviderFallback`] — each source in precedence
//! order (override, LiteLLM, embedded) is tried with every candidate in the order above. An
//! empty provider searches every known provider in [`KNOWN_PROVIDERS`] order. An unknown
//! non-empty provider (self-hosted vLLM, Ollama, …) only matches through an explicit provider
//! prefix, so self-hosted models are never priced at a cloud provider's rate by accident.

use std::fmt;

/// Canonical provider names the table knows, in any-provider search order.
pub const KNOWN_PROVIDERS: [&str; 10] = [
    "openai",
    "anthropic",
    "gcp.gemini",
    "mistral_ai",
    "deepseek",
    "x_ai",
    "groq",
    "aws.bedrock",
    "azure.ai.openai",
    "gcp.vertex_ai",
];

/// Maps provider spellings (OTel `gen_ai.provider.name`, LiteLLM `litellm_provider`, common
/// prefixes) to the canonical name. Unknown names are returned lower-cased.
pub fn canonical_provider(provider: &str) -> String {
    let p = provider.trim().to_ascii_lowercase();
    let canonical = match p.as_str() {
        "openai" | "text-completion-openai" | "openai.responses" => "openai",
        "anthropic" | "claude" => "anthropic",
        "gcp.gemini" | "gemini" | "google" | "google_ai_studio" | "gcp.gen_ai" => "gcp.gemini",
        "aws.bedrock" | "bedrock" | "bedrock_converse" | "aws_bedrock" | "amazon_bedrock" => {
            "aws.bedrock"
        }
        "azure.ai.openai" | "azure" | "azure_openai" | "azure-openai" | "azure_text" => {
            "azure.ai.openai"
        }
        "mistral_ai" | "mistral" | "mistralai" | "codestral" => "mistral_ai",
        "deepseek" => "deepseek",
        "x_ai" | "xai" | "x-ai" | "grok" => "x_ai",
        "groq" => "groq",
        s if s == "gcp.vertex_ai" || s.starts_with("vertex_ai") || s == "vertex" => "gcp.vertex_ai",
        _ => return p,
    };
    canonical.to_string()
}

/// Whether `canonical` is one of [`KNOWN_PROVIDERS`].
pub fn is_known_provider(canonical: &str) -> bool {
    KNOWN_PROVIDERS.contains(&canonical)
}

/// Providers searched after `canonical` itself.
pub fn provider_fallbacks(canonical: &str) -> &'static [&'static str] {
    match canonical {
        "azure.ai.openai" => &["openai"],
        "gcp.vertex_ai" => &["gcp.gemini", "anthropic"],
        _ => &[],
    }
}

/// One rewrite applied to a model name before it matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalization {
    /// An Azure deployment name was mapped to a model by configuration.
    AzureDeployment,
    /// A leading `provider/` segment was removed.
    ProviderPrefix,
    /// A Bedrock cross-region inference-profile prefix (`us.`, `eu.`, …) was removed.
    BedrockRegion,
    /// A Bedrock version suffix (`-v1:0`) was removed.
    BedrockVersion,
    /// A date or `-latest` suffix was removed.
    DateSuffix,
    /// The entry belongs to a fallback provider (e.g. Azure priced as OpenAI).
    ProviderFallback,
}

impl fmt::Display for Normalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Normalization::AzureDeployment => "azure deployment mapped",
            Normalization::ProviderPrefix => "provider prefix removed",
            Normalization::BedrockRegion => "bedrock region prefix removed",
            Normalization::BedrockVersion => "bedrock version suffix removed",
            Normalization::DateSuffix => "date/latest suffix removed",
            Normalization::ProviderFallback => "priced via fallback provider",
        })
    }
}

/// Why a model name resolved to an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchKind {
    /// The name equals the entry's model name, under the requested provider.
    Exact,
    /// The name equals one of the entry's aliases, under the requested provider.
    Alias,
    /// The name matched (model name or alias) after these rewrites, in order.
    Normalized(Vec<Normalization>),
}

impl fmt::Display for MatchKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatchKind::Exact => f.write_str("exact"),
            MatchKind::Alias => f.write_str("alias"),
            MatchKind::Normalized(steps) => {
                f.write_str("normalized: ")?;
                for (i, s) in steps.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{s}")?;
                }
                Ok(())
            }
        }
    }
}

const BEDROCK_REGIONS: [&str; 9] = [
    "us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.", "ap.",
];

/// Splits a leading `provider/` segment when it names a known provider (or Gemini's `models/`).
/// Returns the provider it names (`None` for `models/`) and the rest.
pub(crate) fn split_provider_prefix(name: &str) -> Option<(Option<String>, &str)> {
    let (prefix, rest) = name.split_once('/')?;
    if rest.is_empty() {
        return None;
    }
    if prefix == "models" {
        return Some((None, rest));
    }
    let canonical = canonical_provider(prefix);
    is_known_provider(&canonical).then_some((Some(canonical), rest))
}

/// Removes a Bedrock inference-profile region prefix (`us.anthropic.…` → `anthropic.…`).
pub(crate) fn strip_bedrock_region(name: &str) -> Option<&str> {
    BEDROCK_REGIONS.iter().find_map(|r| {
        let rest = name.strip_prefix(r)?;
        // Only when a `vendor.` segment follows, so `us.` alone or odd names stay untouched.
        rest.split_once('.')
            .filter(|(vendor, _)| !vendor.is_empty())
            .map(|_| rest)
    })
}

/// Removes a Bedrock version suffix: `-v1:0`, `-v2`, or a bare `:0`.
/// Applies only to Bedrock-shaped ids (`vendor.model…`), so `deepseek-v3` is left alone.
pub(crate) fn strip_bedrock_version(name: &str) -> Option<&str> {
    let (vendor, _) = name.split_once('.')?;
    if vendor.is_empty() || !vendor.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
        return None;
    }
    let base = match name.rsplit_once(':') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => name,
    };
    let base = match base.rsplit_once("-v") {
        Some((head, n))
            if !head.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) =>
        {
            head
        }
        _ => base,
    };
    (!base.is_empty() && base.len() < name.len()).then_some(base)
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Removes one date-like suffix: `-YYYY-MM-DD`, `-YYYYMMDD`, `@YYYYMMDD`, `-latest`, `@latest`,
/// `-YYMM` (Mistral) or `-MMDD` (older OpenAI snapshots).
pub(crate) fn strip_date_suffix(name: &str) -> Option<&str> {
    for suffix in ["-latest", "@latest"] {
        if let Some(base) = name.strip_suffix(suffix).filter(|b| !b.is_empty()) {
            return Some(base);
        }
    }
    // -YYYY-MM-DD (byte checks first, so multi-byte names never split inside a character)
    let bytes = name.as_bytes();
    if bytes.len() > 11 {
        let t = &bytes[bytes.len() - 11..];
        let digits = |r: std::ops::Range<usize>| t[r].iter().all(u8::is_ascii_digit);
        if t[0] == b'-'
            && t[5] == b'-'
            && t[8] == b'-'
            && digits(1..5)
            && digits(6..8)
            && digits(9..11)
        {
            return name.get(..name.len() - 11);
        }
    }
    if let Some((base, tail)) = name.rsplit_once(['-', '@'])
        && !base.is_empty()
        && all_digits(tail)
        && (tail.len() == 8 || tail.len() == 4)
        && !base.ends_with(['-', '@', '.'])
    {
        return Some(base);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites() {
        assert_eq!(strip_date_suffix("gpt-4o-2024-08-06"), Some("gpt-4o"));
        assert_eq!(
            strip_date_suffix("claude-sonnet-4-5-20250929"),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            strip_date_suffix("claude-sonnet-4-5@20250929"),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            strip_date_suffix("mistral-large-latest"),
            Some("mistral-large")
        );
        assert_eq!(
            strip_date_suffix("mistral-large-2411"),
            Some("mistral-large")
        );
        assert_eq!(strip_date_suffix("gpt-4o"), None);
        assert_eq!(strip_date_suffix("llama-3.3-70b"), None);
        assert_eq!(strip_date_suffix("-latest"), None);
        assert_eq!(strip_date_suffix("モデル-20250101"), Some("モデル"));
        assert_eq!(
            strip_date_suffix("モデルモデル-2025-01-01"),
            Some("モデルモデル")
        );
        assert_eq!(strip_date_suffix("ルルルルル"), None);
        assert_eq!(
            strip_bedrock_region("us.anthropic.claude-x"),
            Some("anthropic.claude-x")
        );
        assert_eq!(
            strip_bedrock_region("global.anthropic.claude-x"),
            Some("anthropic.claude-x")
        );
        assert_eq!(strip_bedrock_region("us."), None);
        assert_eq!(strip_bedrock_region("gpt-4o"), None);
        assert_eq!(
            strip_bedrock_version("anthropic.claude-x-v1:0"),
            Some("anthropic.claude-x")
        );
        assert_eq!(
            strip_bedrock_version("amazon.titan-v2"),
            Some("amazon.titan")
        );
        assert_eq!(strip_bedrock_version("gpt-4o"), None);
        assert_eq!(strip_bedrock_version(":0"), None);
        assert_eq!(strip_bedrock_version("deepseek-v3"), None);
        assert_eq!(
            split_provider_prefix("openai/gpt-4o"),
            Some((Some("openai".into()), "gpt-4o"))
        );
        assert_eq!(
            split_provider_prefix("models/gemini-2.5-pro"),
            Some((None, "gemini-2.5-pro"))
        );
        assert_eq!(split_provider_prefix("meta-llama/llama-4"), None);
        assert_eq!(canonical_provider("Bedrock"), "aws.bedrock");
        assert_eq!(
            canonical_provider("vertex_ai-language-models"),
            "gcp.vertex_ai"
        );
    }
}
