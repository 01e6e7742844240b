//! Reader for LiteLLM's `model_prices_and_context_window.json`.
//!
//! Owns the mapping from LiteLLM's per-token fields to [`PriceEntry`]: `input_cost_per_token`,
//! `output_cost_per_token`, `cache_read_input_token_cost`, `cache_creation_input_token_cost`
//! (5-minute write), `cache_creation_input_token_cost_above_1hr` (1-hour write),
//! `*_above_200k_tokens` (one long-context tier at 200 000 input tokens),
//! `output_cost_per_reasoning_token`, `litellm_provider` and `mode`. Unknown fields are ignored,
//! the `sample_spec` entry is skipped, and so are entries whose `mode` is not a text mode
//! (`chat`, `completion`, `responses`, `embedding`) or that have no `input_cost_per_token`.
//! It does not own precedence (see `table`) or the native format.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::entry::{PriceEntry, Rates, Tier};
use crate::error::{PricingError, line_of_offset, parse_error};
use crate::matching::canonical_provider;
use crate::native::MAX_PRICE_PER_MTOK;

/// Threshold of LiteLLM's `*_above_200k_tokens` fields.
pub const LITELLM_TIER_THRESHOLD: u64 = 200_000;

#[derive(Deserialize)]
struct LlmEntry {
    input_cost_per_token: Option<f64>,
    output_cost_per_token: Option<f64>,
    cache_read_input_token_cost: Option<f64>,
    cache_creation_input_token_cost: Option<f64>,
    cache_creation_input_token_cost_above_1hr: Option<f64>,
    input_cost_per_token_above_200k_tokens: Option<f64>,
    output_cost_per_token_above_200k_tokens: Option<f64>,
    cache_read_input_token_cost_above_200k_tokens: Option<f64>,
    cache_creation_input_token_cost_above_200k_tokens: Option<f64>,
    output_cost_per_reasoning_token: Option<f64>,
    litellm_provider: Option<String>,
    mode: Option<String>,
}

/// Result of reading a LiteLLM file.
#[derive(Debug, Clone)]
pub struct LiteLlmSource {
    /// `litellm:<hash>`: a content hash, since the file carries no version.
    pub version: String,
    /// Entries that were priced.
    pub entries: Vec<PriceEntry>,
    /// Entries skipped (`sample_spec`, non-text modes, no input price, duplicate names).
    pub skipped: usize,
}

const TEXT_MODES: [&str; 4] = ["chat", "completion", "responses", "embedding"];

/// Parses a LiteLLM price file. `origin` names it in errors.
pub fn parse_litellm(text: &str, origin: &str) -> Result<LiteLlmSource, PricingError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let raw: BTreeMap<String, &RawValue> =
        serde_path_to_error::deserialize(de).map_err(|e| parse_error(origin, e))?;
    let mut entries: Vec<PriceEntry> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut skipped = 0;
    for (name, value) in raw {
        if name == "sample_spec" {
            skipped += 1;
            continue;
        }
        let body = value.get();
        // `body` borrows from `text`, so its address gives its offset for line numbers.
        let offset = (body.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
        let base_line = line_of_offset(text, offset);
        let de = &mut serde_json::Deserializer::from_str(body);
        let parsed: LlmEntry =
            serde_path_to_error::deserialize(de).map_err(|e| match parse_error(origin, e) {
                PricingError::Parse {
                    origin,
                    line,
                    column,
                    location,
                    message,
                } => PricingError::Parse {
                    origin,
                    line: base_line + line.saturating_sub(1),
                    column,
                    location: format!("{name}.{location}"),
                    message,
                },
                other => other,
            })?;
        let Some(entry) = convert(origin, &name, base_line, parsed)? else {
            skipped += 1;
            continue;
        };
        if !seen.insert(entry.key.to_ascii_lowercase()) {
            skipped += 1;
            continue;
        }
        entries.push(entry);
    }
    Ok(LiteLlmSource {
        version: format!("litellm:{:016x}", fnv1a(text.as_bytes())),
        entries,
        skipped,
    })
}

fn convert(
    origin: &str,
    name: &str,
    line: usize,
    e: LlmEntry,
) -> Result<Option<PriceEntry>, PricingError> {
    if let Some(mode) = e.mode.as_deref()
        && !TEXT_MODES.contains(&mode)
    {
        return Ok(None);
    }
    let check = |field: &str, v: Option<f64>| -> Result<Option<f64>, PricingError> {
        match v {
            Some(p) if !p.is_finite() || p < 0.0 || p * 1_000_000.0 > MAX_PRICE_PER_MTOK => {
                Err(PricingError::Invalid {
                    origin: origin.to_string(),
                    line,
                    entry: name.to_string(),
                    field: field.to_string(),
                    message: format!("price {p} per token must be finite, >= 0 and sane"),
                })
            }
            other => Ok(other),
        }
    };
    let Some(input) = check("input_cost_per_token", e.input_cost_per_token)? else {
        return Ok(None);
    };
    let rates = Rates {
        input,
        output: check("output_cost_per_token", e.output_cost_per_token)?.unwrap_or(0.0),
        cache_read: check("cache_read_input_token_cost", e.cache_read_input_token_cost)?,
        cache_write_5m: check(
            "cache_creation_input_token_cost",
            e.cache_creation_input_token_cost,
        )?,
        cache_write_1h: check(
            "cache_creation_input_token_cost_above_1hr",
            e.cache_creation_input_token_cost_above_1hr,
        )?,
        reasoning: check(
            "output_cost_per_reasoning_token",
            e.output_cost_per_reasoning_token,
        )?,
    };
    let mut tiers = Vec::new();
    if let Some(tier_input) = check(
        "input_cost_per_token_above_200k_tokens",
        e.input_cost_per_token_above_200k_tokens,
    )? {
        tiers.push(Tier {
            above_input_tokens: LITELLM_TIER_THRESHOLD,
            rates: Rates {
                input: tier_input,
                output: check(
                    "output_cost_per_token_above_200k_tokens",
                    e.output_cost_per_token_above_200k_tokens,
                )?
                .unwrap_or(rates.output),
                cache_read: check(
                    "cache_read_input_token_cost_above_200k_tokens",
                    e.cache_read_input_token_cost_above_200k_tokens,
                )?
                .or(rates.cache_read),
                cache_write_5m: check(
                    "cache_creation_input_token_cost_above_200k_tokens",
                    e.cache_creation_input_token_cost_above_200k_tokens,
                )?
                .or(rates.cache_write_5m),
                cache_write_1h: rates.cache_write_1h,
                reasoning: rates.reasoning,
            },
        });
    }
    let llm_provider = e.litellm_provider.unwrap_or_default();
    let provider = canonical_provider(&llm_provider);
    // LiteLLM prefixes many keys with its provider name (`azure/gpt-4o`, `groq/…`).
    let model = match name.split_once('/') {
        Some((prefix, rest))
            if prefix == llm_provider || canonical_provider(prefix) == provider =>
        {
            rest
        }
        _ => name,
    };
    let provider = if provider.is_empty() {
        "unknown"
    } else {
        provider.as_str()
    };
    Ok(Some(PriceEntry {
        key: format!("{provider}/{model}"),
        provider: provider.to_string(),
        model: model.to_string(),
        aliases: Vec::new(),
        rates,
        tiers,
        source: format!("LiteLLM entry `{name}` in {origin}"),
    }))
}

/// 64-bit FNV-1a, used only to give a LiteLLM file a stable version string.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
