//! Operator-facing helpers the `llmtap pricing` CLI calls: show, check and staleness.
//!
//! Owns [`ShowReport`], [`CheckReport`], [`check_file`]/[`check_str`] and the `as_of`
//! staleness helpers. It does not own the CLI itself (that lives in `agent/`), printing, or
//! metric export.

use std::fmt;
use std::path::Path;

use crate::date::Date;
use crate::entry::{Origin, PriceEntry};
use crate::error::PricingError;
use crate::litellm::parse_litellm;
use crate::matching::{MatchKind, canonical_provider};
use crate::native::parse_native;
use crate::table::PriceTable;

/// Default age, in days, after which the table counts as stale.
pub const DEFAULT_STALE_DAYS: i64 = 90;

/// What [`PriceTable::show`] found for a model. `Display` renders it for a terminal.
#[derive(Debug, Clone, PartialEq)]
pub struct ShowReport {
    /// Provider as asked (canonicalised).
    pub provider: String,
    /// Model as asked.
    pub model: String,
    /// The resolved entry.
    pub entry: PriceEntry,
    /// Why it matched.
    pub kind: MatchKind,
    /// Name that matched after rewrites.
    pub matched_name: String,
    /// Source of the entry.
    pub origin: Origin,
    /// Version of that source.
    pub version: String,
}

impl fmt::Display for ShowReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} (provider `{}`) → {}",
            self.model, self.provider, self.entry.key
        )?;
        writeln!(f, "  matched: {} (as `{}`)", self.kind, self.matched_name)?;
        writeln!(f, "  from:    {} (version {})", self.origin, self.version)?;
        writeln!(f, "  source:  {}", self.entry.source)?;
        if !self.entry.aliases.is_empty() {
            writeln!(f, "  aliases: {}", self.entry.aliases.join(", "))?;
        }
        writeln!(f, "  prices:")?;
        write!(f, "{}", self.entry.rates)?;
        for tier in &self.entry.tiers {
            writeln!(f, "  above {} input tokens:", tier.above_input_tokens)?;
            write!(f, "{}", tier.rates)?;
        }
        Ok(())
    }
}

impl PriceTable {
    /// Resolves `model` (with `provider`, or `""` for any) and reports the entry and why.
    pub fn show(&self, provider: &str, model: &str) -> Result<ShowReport, PricingError> {
        let res = self
            .lookup(provider, model)
            .ok_or_else(|| PricingError::UnknownModel {
                provider: provider.to_string(),
                model: model.to_string(),
            })?;
        Ok(ShowReport {
            provider: canonical_provider(provider),
            model: model.to_string(),
            entry: res.entry.clone(),
            kind: res.kind,
            matched_name: res.matched_name,
            origin: res.origin.clone(),
            version: res.version.to_string(),
        })
    }

    /// Days between the embedded table's `as_of` and `today` (negative if `as_of` is later).
    pub fn age_days(&self, today: Date) -> i64 {
        self.embedded_layer()
            .and_then(|l| l.as_of)
            .map_or(0, |as_of| {
                today.days_since_epoch() - as_of.days_since_epoch()
            })
    }

    /// Whether the embedded table is older than `max_age_days` on `today`.
    pub fn is_stale(&self, today: Date, max_age_days: i64) -> bool {
        self.age_days(today) > max_age_days
    }
}

/// Format of a checked price file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// The native override format.
    Native,
    /// LiteLLM `model_prices_and_context_window.json`.
    LiteLlm,
}

/// Summary of a valid price file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Detected format.
    pub format: FileFormat,
    /// Version (`litellm:<hash>` for LiteLLM files).
    pub version: String,
    /// `as_of` (native only).
    pub as_of: Option<Date>,
    /// Entries that will be used.
    pub entries: usize,
    /// Entries skipped (LiteLLM only).
    pub skipped: usize,
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = match self.format {
            FileFormat::Native => "llmtap price file",
            FileFormat::LiteLlm => "LiteLLM price file",
        };
        write!(
            f,
            "OK: {format}, version {}, {} entries",
            self.version, self.entries
        )?;
        if let Some(as_of) = self.as_of {
            write!(f, ", as of {as_of}")?;
        }
        if self.skipped > 0 {
            write!(f, ", {} skipped", self.skipped)?;
        }
        Ok(())
    }
}

/// Validates a price file without loading it. A document with top-level `version` and
/// `models` is checked as the native format, anything else as LiteLLM.
pub fn check_file(path: &Path) -> Result<CheckReport, PricingError> {
    let text = std::fs::read_to_string(path).map_err(|source| PricingError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    check_str(&text, &path.display().to_string())
}

/// [`check_file`] on an in-memory document; `origin` names it in errors.
pub fn check_str(text: &str, origin: &str) -> Result<CheckReport, PricingError> {
    if looks_native(text) {
        let src = parse_native(text, origin)?;
        Ok(CheckReport {
            format: FileFormat::Native,
            version: src.version,
            as_of: Some(src.as_of),
            entries: src.entries.len(),
            skipped: 0,
        })
    } else {
        let src = parse_litellm(text, origin)?;
        Ok(CheckReport {
            format: FileFormat::LiteLlm,
            version: src.version,
            as_of: None,
            entries: src.entries.len(),
            skipped: src.skipped,
        })
    }
}

fn looks_native(text: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        version: Option<serde::de::IgnoredAny>,
        models: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_str::<Probe>(text).is_ok_and(|p| p.version.is_some() && p.models.is_some())
}
