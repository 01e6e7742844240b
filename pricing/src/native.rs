//! The native price-file format (embedded table and operator overrides).
//!
//! Owns the serde shape of `pricing/data/prices.json`-style documents and their validation,
//! producing [`Source`]s of [`PriceEntry`]. Prices in the file are **USD per million tokens**;
//! this module converts them to USD per token. It does not own LiteLLM files, matching or maths.
//!
//! ```json
//! { "version": "2026.11.22", "as_of": "2026-11-22",
//!   "models": { "openai/gpt-4o": { "input_per_mtok": 2.5, "output_per_mtok": 10.0,
//!       "cache_read_per_mtok": 1.25, "aliases": ["gpt-4o-2024-08-06"],
//!       "tiers": [], "source": "https://openai.com/api/pricing/ (checked 2026-11-22)" } } }
//! ```

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::date::Date;
use crate::entry::{PriceEntry, Rates, Tier};
use crate::error::{PricingError, line_of_key, parse_error};
use crate::matching::canonical_provider;

/// Highest accepted price, USD per million tokens; anything above is treated as a typo.
pub const MAX_PRICE_PER_MTOK: f64 = 100_000.0;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    version: String,
    as_of: String,
    #[serde(default)]
    description: Option<String>,
    models: BTreeMap<String, FileEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    input_per_mtok: f64,
    output_per_mtok: f64,
    #[serde(default)]
    cache_read_per_mtok: Option<f64>,
    #[serde(default)]
    cache_write_5m_per_mtok: Option<f64>,
    #[serde(default)]
    cache_write_1h_per_mtok: Option<f64>,
    #[serde(default)]
    reasoning_per_mtok: Option<f64>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    tiers: Vec<FileTier>,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTier {
    above_input_tokens: u64,
    input_per_mtok: f64,
    output_per_mtok: f64,
    #[serde(default)]
    cache_read_per_mtok: Option<f64>,
    #[serde(default)]
    cache_write_5m_per_mtok: Option<f64>,
    #[serde(default)]
    cache_write_1h_per_mtok: Option<f64>,
    #[serde(default)]
    reasoning_per_mtok: Option<f64>,
}

/// One parsed and validated price document.
#[derive(Debug, Clone)]
pub struct Source {
    /// The document's `version`.
    pub version: String,
    /// The document's `as_of` date.
    pub as_of: Date,
    /// Entries, in key order.
    pub entries: Vec<PriceEntry>,
}

struct Ctx<'a> {
    origin: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn invalid(&self, entry: &str, field: &str, message: impl Into<String>) -> PricingError {
        PricingError::Invalid {
            origin: self.origin.to_string(),
            line: if entry == "(header)" {
                line_of_key(self.text, field)
            } else {
                line_of_key(self.text, entry)
            },
            entry: entry.to_string(),
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn price(&self, entry: &str, field: &str, per_mtok: f64) -> Result<f64, PricingError> {
        if !per_mtok.is_finite() || per_mtok < 0.0 {
            return Err(self.invalid(
                entry,
                field,
                format!("price {per_mtok} must be a finite number >= 0"),
            ));
        }
        if per_mtok > MAX_PRICE_PER_MTOK {
            return Err(self.invalid(
                entry,
                field,
                format!("price {per_mtok} USD/MTok exceeds the sanity limit {MAX_PRICE_PER_MTOK}"),
            ));
        }
        Ok(per_mtok / 1_000_000.0)
    }

    fn opt_price(
        &self,
        entry: &str,
        field: &str,
        v: Option<f64>,
    ) -> Result<Option<f64>, PricingError> {
        v.map(|p| self.price(entry, field, p)).transpose()
    }
}

/// Parses and validates a native-format document. `origin` names it in errors.
pub fn parse_native(text: &str, origin: &str) -> Result<Source, PricingError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let doc: FileDoc = serde_path_to_error::deserialize(de).map_err(|e| parse_error(origin, e))?;
    let _ = doc.description;
    let ctx = Ctx { origin, text };
    if doc.version.trim().is_empty() {
        return Err(ctx.invalid("(header)", "version", "must not be empty"));
    }
    let as_of = Date::parse(&doc.as_of).ok_or_else(|| {
        ctx.invalid(
            "(header)",
            "as_of",
            format!("`{}` is not a YYYY-MM-DD date", doc.as_of),
        )
    })?;
    let mut entries = Vec::with_capacity(doc.models.len());
    let mut seen: HashMap<String, String> = HashMap::new();
    for (key, raw) in doc.models {
        let entry = convert_entry(&ctx, &key, raw)?;
        for name in std::iter::once(&entry.model).chain(entry.aliases.iter()) {
            let name_key = format!("{}/{}", entry.provider, name.to_ascii_lowercase());
            if let Some(other) = seen.insert(name_key, key.clone()) {
                return Err(ctx.invalid(
                    &key,
                    "aliases",
                    format!("name `{name}` is also used by entry `{other}`"),
                ));
            }
        }
        entries.push(entry);
    }
    Ok(Source {
        version: doc.version,
        as_of,
        entries,
    })
}

fn convert_entry(ctx: &Ctx<'_>, key: &str, raw: FileEntry) -> Result<PriceEntry, PricingError> {
    let Some((provider, model)) = key.split_once('/') else {
        return Err(ctx.invalid(key, "(key)", "entry key must be `provider/model`"));
    };
    if provider.trim().is_empty() || model.trim().is_empty() {
        return Err(ctx.invalid(
            key,
            "(key)",
            "entry key must be `provider/model` with both parts non-empty",
        ));
    }
    if raw.source.trim().is_empty() {
        return Err(ctx.invalid(key, "source", "must name where the price was published"));
    }
    if let Some(bad) = raw.aliases.iter().find(|a| a.trim().is_empty()) {
        return Err(ctx.invalid(key, "aliases", format!("alias `{bad}` is empty")));
    }
    let rates = Rates {
        input: ctx.price(key, "input_per_mtok", raw.input_per_mtok)?,
        output: ctx.price(key, "output_per_mtok", raw.output_per_mtok)?,
        cache_read: ctx.opt_price(key, "cache_read_per_mtok", raw.cache_read_per_mtok)?,
        cache_write_5m: ctx.opt_price(
            key,
            "cache_write_5m_per_mtok",
            raw.cache_write_5m_per_mtok,
        )?,
        cache_write_1h: ctx.opt_price(
            key,
            "cache_write_1h_per_mtok",
            raw.cache_write_1h_per_mtok,
        )?,
        reasoning: ctx.opt_price(key, "reasoning_per_mtok", raw.reasoning_per_mtok)?,
    };
    let mut tiers = Vec::with_capacity(raw.tiers.len());
    let mut last = 0_u64;
    for (i, t) in raw.tiers.into_iter().enumerate() {
        let field = |name: &str| format!("tiers[{i}].{name}");
        if t.above_input_tokens <= last {
            return Err(ctx.invalid(
                key,
                &field("above_input_tokens"),
                "thresholds must be > 0 and strictly ascending",
            ));
        }
        last = t.above_input_tokens;
        let inherit =
            |v: Option<f64>, base: Option<f64>, name: &str| -> Result<Option<f64>, PricingError> {
                Ok(ctx.opt_price(key, &field(name), v)?.or(base))
            };
        tiers.push(Tier {
            above_input_tokens: t.above_input_tokens,
            rates: Rates {
                input: ctx.price(key, &field("input_per_mtok"), t.input_per_mtok)?,
                output: ctx.price(key, &field("output_per_mtok"), t.output_per_mtok)?,
                cache_read: inherit(
                    t.cache_read_per_mtok,
                    rates.cache_read,
                    "cache_read_per_mtok",
                )?,
                cache_write_5m: inherit(
                    t.cache_write_5m_per_mtok,
                    rates.cache_write_5m,
                    "cache_write_5m_per_mtok",
                )?,
                cache_write_1h: inherit(
                    t.cache_write_1h_per_mtok,
                    rates.cache_write_1h,
                    "cache_write_1h_per_mtok",
                )?,
                reasoning: inherit(t.reasoning_per_mtok, rates.reasoning, "reasoning_per_mtok")?,
            },
        });
    }
    let provider = canonical_provider(provider);
    Ok(PriceEntry {
        key: format!("{provider}/{model}"),
        provider: provider.to_string(),
        model: model.to_string(),
        aliases: raw.aliases,
        rates,
        tiers,
        source: raw.source,
    })
}
