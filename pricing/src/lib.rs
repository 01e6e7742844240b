//! llmtap's LLM price table: what an observed request cost, in USD.
//!
//! This crate owns the versioned price data (embedded `data/prices.json`, optional operator
//! override and LiteLLM files), model-name matching, and the cost formula. It does not own
//! traffic capture, usage extraction (the LLM stage hands over [`Usage`] in OpenTelemetry
//! semantics), metric export or the `llmtap pricing` CLI; those call the functions here.
//!
//! ```
//! use pricing::{CostOutcome, PriceTable, Usage};
//! let table = PriceTable::embedded();
//! let usage = Usage { input_tokens: Some(1_000), output_tokens: Some(100), ..Usage::default() };
//! match table.cost("openai", "gpt-4o-2024-08-06", &usage) {
//!     CostOutcome::Known(cost) => assert!(cost.usd > 0.0),
//!     CostOutcome::Unknown { reason } => panic!("{reason}"),
//! }
//! ```
//!
//! See `docs/pricing.md` for the file format, matching order, precedence and semantics.

mod cost;
mod date;
mod entry;
mod error;
mod litellm;
mod matching;
mod memo;
mod native;
mod report;
mod table;
mod unmatched;

pub use cost::{
    Cost, CostBreakdown, CostOutcome, InputSemantics, UnknownReason, Usage, price_usage,
};
pub use date::Date;
pub use entry::{Origin, PriceEntry, Rates, Tier};
pub use error::PricingError;
pub use litellm::{LITELLM_TIER_THRESHOLD, LiteLlmSource, parse_litellm};
pub use matching::{KNOWN_PROVIDERS, MatchKind, Normalization, canonical_provider};
pub use native::{MAX_PRICE_PER_MTOK, Source, parse_native};
pub use report::{CheckReport, DEFAULT_STALE_DAYS, FileFormat, ShowReport, check_file, check_str};
pub use table::{EMBEDDED_JSON, Layer, PriceTable, PricingConfig, Resolution};
pub use unmatched::{DEFAULT_UNMATCHED_CAP, MAX_NAME_BYTES, OTHER, UnmatchedCounter};
