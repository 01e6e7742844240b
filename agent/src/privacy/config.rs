//! Privacy settings as read from the configuration file: [`PrivacyConfig`] and the lenient
//! [`ModeSetting`] / [`AckSetting`] values whose deserialisation never fails.
//!
//! A broken privacy value must neither stop the agent nor widen exposure: anything that is not
//! exactly `"strict"` or `"snippets"` resolves to [`PrivacyMode::Strict`], is logged (its type
//! and length only, never the value) and counted. Salt loading lives in `salt.rs`, not here.

use std::fmt;
use std::path::PathBuf;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::PrivacyStats;

/// What the agent may put in events besides counts and keyed hashes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivacyMode {
    /// No text of any kind from requests or responses (default).
    #[default]
    Strict,
    /// Short, redacted prompt snippets (needs the explicit acknowledgement flag).
    Snippets,
}

impl PrivacyMode {
    /// The configuration / event spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PrivacyMode::Strict => "strict",
            PrivacyMode::Snippets => "snippets",
        }
    }
}

/// Shape of a rejected setting, safe to log: the JSON/TOML type and, for strings, the length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidValue {
    /// `string`, `integer`, `float`, `bool`, `table`, `array`, `null`, …
    pub kind: &'static str,
    /// Length in bytes, for strings.
    pub len: Option<usize>,
}

/// The `privacy.mode` setting: a valid mode, or the shape of an invalid value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeSetting {
    /// Exactly `"strict"` or `"snippets"`.
    Valid(PrivacyMode),
    /// Anything else; resolves to strict.
    Invalid(InvalidValue),
}

impl Default for ModeSetting {
    fn default() -> Self {
        ModeSetting::Valid(PrivacyMode::Strict)
    }
}

/// The acknowledgement flag: only the boolean `true` acknowledges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AckSetting {
    /// A boolean.
    Bool(bool),
    /// Any other value; counts as `false`.
    #[default]
    Missing,
    /// A non-boolean value.
    Invalid(InvalidValue),
}

/// Lenient visitor: classifies any value without ever failing.
struct Classify;

/// What [`Classify`] saw.
enum Seen {
    Str(String),
    Bool(bool),
    Other(InvalidValue),
}

fn other(kind: &'static str) -> Seen {
    Seen::Other(InvalidValue { kind, len: None })
}

impl<'de> Visitor<'de> for Classify {
    type Value = Seen;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Seen, E> {
        Ok(Seen::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Seen, E> {
        Ok(other("integer"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Seen, E> {
        Ok(other("integer"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Seen, E> {
        Ok(other("float"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Seen, E> {
        Ok(Seen::Str(v.to_owned()))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Seen, E> {
        Ok(Seen::Other(InvalidValue {
            kind: "bytes",
            len: Some(v.len()),
        }))
    }
    fn visit_none<E: de::Error>(self) -> Result<Seen, E> {
        Ok(other("null"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Seen, E> {
        Ok(other("null"))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Seen, D::Error> {
        d.deserialize_any(Classify)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Seen, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(other("array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Seen, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(other("table"))
    }
}

/// Deserialise anything; a format-level error (which only malformed input can cause, and which
/// the surrounding document would fail on anyway) is treated as an invalid value.
fn classify<'de, D: Deserializer<'de>>(d: D) -> Seen {
    d.deserialize_any(Classify).unwrap_or(other("unreadable"))
}

impl<'de> Deserialize<'de> for ModeSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match classify(d) {
            Seen::Str(s) if s == "strict" => ModeSetting::Valid(PrivacyMode::Strict),
            Seen::Str(s) if s == "snippets" => ModeSetting::Valid(PrivacyMode::Snippets),
            Seen::Str(s) => ModeSetting::Invalid(InvalidValue {
                kind: "string",
                len: Some(s.len()),
            }),
            Seen::Bool(_) => ModeSetting::Invalid(InvalidValue {
                kind: "bool",
                len: None,
            }),
            Seen::Other(v) => ModeSetting::Invalid(v),
        })
    }
}

impl Serialize for ModeSetting {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ModeSetting::Valid(m) => s.serialize_str(m.as_str()),
            ModeSetting::Invalid(_) => s.serialize_str(PrivacyMode::Strict.as_str()),
        }
    }
}

impl<'de> Deserialize<'de> for AckSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match classify(d) {
            Seen::Bool(b) => AckSetting::Bool(b),
            Seen::Str(s) => AckSetting::Invalid(InvalidValue {
                kind: "string",
                len: Some(s.len()),
            }),
            Seen::Other(v) => AckSetting::Invalid(v),
        })
    }
}

impl Serialize for AckSetting {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(matches!(self, AckSetting::Bool(true)))
    }
}

/// The `[privacy]` section of the agent configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// `strict` (default) or `snippets`.
    pub mode: ModeSetting,
    /// Must be exactly `true` for `snippets` to take effect.
    pub acknowledge_snippets_expose_prompt_text: AckSetting,
    /// File holding the hashing salt (hex, base64 or raw bytes; e.g. a mounted Kubernetes
    /// Secret). Ignored when the `LLMTAP_HASH_SALT` environment variable is set.
    pub salt_file: Option<PathBuf>,
}

/// Problems [`PrivacyConfig::validate`] reports. None of them stops the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrivacyWarning {
    /// `mode` was not a valid mode; strict is used.
    #[error("privacy.mode is invalid ({} {}); using strict", .0.kind, len_note(.0.len))]
    InvalidMode(InvalidValue),
    /// The acknowledgement flag was not a boolean; treated as false.
    #[error("privacy.acknowledge_snippets_expose_prompt_text is not a boolean ({})", .0.kind)]
    InvalidAck(InvalidValue),
    /// `snippets` without the acknowledgement; strict is used.
    #[error(
        "privacy.mode = snippets needs acknowledge_snippets_expose_prompt_text = true; using strict"
    )]
    SnippetsNotAcknowledged,
}

fn len_note(len: Option<usize>) -> String {
    len.map(|l| format!("of length {l}")).unwrap_or_default()
}

impl PrivacyConfig {
    /// The effective mode and the warnings that led to it. Pure; see [`Self::resolve`].
    pub fn validate(&self) -> (PrivacyMode, Vec<PrivacyWarning>) {
        let mut warnings = Vec::new();
        let ack = match self.acknowledge_snippets_expose_prompt_text {
            AckSetting::Bool(b) => b,
            AckSetting::Missing => false,
            AckSetting::Invalid(v) => {
                warnings.push(PrivacyWarning::InvalidAck(v));
                false
            }
        };
        let mode = match self.mode {
            ModeSetting::Valid(PrivacyMode::Snippets) if ack => PrivacyMode::Snippets,
            ModeSetting::Valid(PrivacyMode::Snippets) => {
                warnings.push(PrivacyWarning::SnippetsNotAcknowledged);
                PrivacyMode::Strict
            }
            ModeSetting::Valid(PrivacyMode::Strict) => PrivacyMode::Strict,
            ModeSetting::Invalid(v) => {
                warnings.push(PrivacyWarning::InvalidMode(v));
                PrivacyMode::Strict
            }
        };
        (mode, warnings)
    }

    /// [`Self::validate`], logging each warning (shape only, never the value) and counting
    /// invalid values in `stats`.
    pub fn resolve(&self, stats: &mut PrivacyStats) -> PrivacyMode {
        let (mode, warnings) = self.validate();
        for w in &warnings {
            match w {
                PrivacyWarning::InvalidMode(v) => {
                    stats.invalid_mode_fallbacks += 1;
                    tracing::warn!(kind = v.kind, len = v.len, "{w}");
                }
                PrivacyWarning::InvalidAck(v) => {
                    stats.invalid_ack_values += 1;
                    tracing::warn!(kind = v.kind, "{w}");
                }
                PrivacyWarning::SnippetsNotAcknowledged => {
                    stats.snippets_not_acknowledged += 1;
                    tracing::warn!("{w}");
                }
            }
        }
        tracing::info!(mode = mode.as_str(), "privacy mode");
        mode
    }
}
