//! Privacy stage: keyed hashing of prompts and identifiers ([`KeyedHasher`]), the hashing salt
//! ([`Salt`], [`load_salt`]), privacy modes ([`PrivacyConfig`] → [`Privacy`]), snippet
//! redaction (`redact`) and the header allowlist (`headers`).
//!
//! Not here: the event layout (`event`), what a prompt segment is (`llm`).

pub mod config;
pub mod hash;
pub mod headers;
pub mod redact;
pub mod salt;

use std::path::Path;

pub use config::{
    AckSetting, InvalidValue, ModeSetting, PrivacyConfig, PrivacyMode, PrivacyWarning,
};
pub use hash::{HASH_HEX_LEN, KeyedHasher, PromptHashes, SegmentHashes};
pub use salt::{SALT_ENV, Salt, SaltError, SaltSource, load_salt, load_salt_from};

/// Counters of the privacy stage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrivacyStats {
    /// Invalid `privacy.mode` values that fell back to strict.
    pub invalid_mode_fallbacks: u64,
    /// Non-boolean acknowledgement values (treated as false).
    pub invalid_ack_values: u64,
    /// `snippets` requested without the acknowledgement (strict used).
    pub snippets_not_acknowledged: u64,
}

/// Resolved privacy settings used to build events: the effective mode and the keyed hasher.
#[derive(Clone, Debug)]
pub struct Privacy {
    mode: PrivacyMode,
    hasher: KeyedHasher,
}

impl Privacy {
    /// Settings with an explicit effective mode (tests, or after [`PrivacyConfig::resolve`]).
    pub fn new(mode: PrivacyMode, salt: Salt) -> Self {
        Privacy {
            mode,
            hasher: KeyedHasher::new(salt),
        }
    }

    /// Resolve `cfg` (counting fallbacks in `stats`) with an already loaded salt.
    pub fn from_config(cfg: &PrivacyConfig, salt: Salt, stats: &mut PrivacyStats) -> Self {
        Privacy::new(cfg.resolve(stats), salt)
    }

    /// Resolve `cfg` and load the salt (environment, `salt_file`, or `state_dir/salt`).
    pub fn load(
        cfg: &PrivacyConfig,
        state_dir: &Path,
        stats: &mut PrivacyStats,
    ) -> Result<Self, SaltError> {
        let (salt, source) = load_salt(cfg.salt_file.as_deref(), state_dir)?;
        tracing::info!(?source, "hashing salt loaded");
        Ok(Privacy::from_config(cfg, salt, stats))
    }

    /// Effective mode.
    pub fn mode(&self) -> PrivacyMode {
        self.mode
    }

    /// The keyed hasher.
    pub fn hasher(&self) -> &KeyedHasher {
        &self.hasher
    }
}

#[cfg(test)]
mod tests;
