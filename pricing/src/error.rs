//! Error type of the pricing crate.
//!
//! Owns [`PricingError`], the one error enum every fallible function here returns. Messages name
//! the file, the entry and the field at fault (and the line where known) so an operator can fix
//! an override file from the message alone. It does not own reporting or logging.

use std::path::PathBuf;

/// Everything that can go wrong while loading or validating a price file.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    /// The file could not be read.
    #[error("{path}: cannot read price file: {source}")]
    Io {
        /// File that failed.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The document is not valid JSON, or a field has the wrong type / an unknown name.
    #[error("{origin}: line {line}, column {column}: {location}: {message}")]
    Parse {
        /// Where the document came from (a path or `embedded`).
        origin: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// Path of the offending value, e.g. `models.openai/gpt-4o.input_per_mtok`.
        location: String,
        /// What serde reported.
        message: String,
    },
    /// A value parsed but is not acceptable (negative or non-finite price, bad date, …).
    #[error("{origin}: line {line}: entry `{entry}`, field `{field}`: {message}")]
    Invalid {
        /// Where the document came from.
        origin: String,
        /// 1-based line where the entry starts (0 when unknown).
        line: usize,
        /// Entry key (`provider/model`), or `(header)` for top-level fields.
        entry: String,
        /// Field name.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// [`crate::PriceTable::show`] was asked about a model no layer prices.
    #[error("no price for model `{model}` (provider `{provider}`)")]
    UnknownModel {
        /// Provider as given.
        provider: String,
        /// Model as given.
        model: String,
    },
}

/// 1-based line number of byte `offset` in `text`.
pub(crate) fn line_of_offset(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Best-effort 1-based line where the JSON key `key` appears in `text` (0 when not found).
pub(crate) fn line_of_key(text: &str, key: &str) -> usize {
    let quoted = format!("\"{key}\"");
    text.find(&quoted)
        .map(|pos| line_of_offset(text, pos))
        .unwrap_or(0)
}

/// Converts a path-tracking serde error into [`PricingError::Parse`].
pub(crate) fn parse_error(
    origin: &str,
    err: serde_path_to_error::Error<serde_json::Error>,
) -> PricingError {
    let location = err.path().to_string();
    let inner = err.into_inner();
    let mut message = inner.to_string();
    // serde_json appends " at line L column C"; the variant carries those separately.
    if let Some(pos) = message.rfind(" at line ") {
        message.truncate(pos);
    }
    PricingError::Parse {
        origin: origin.to_string(),
        line: inner.line(),
        column: inner.column(),
        location,
        message,
    }
}
