//! The agent's configuration: one serde struct per stage, all with defaults, read from an
//! optional TOML file and checked by [`AgentConfig::validate`]. With no file, the embedded
//! defaults run the agent.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::capture::CaptureSettings;

/// Errors reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("config file {path}: {message}")]
    Parse {
        /// File.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
    /// A value is out of range.
    #[error("config: {0}")]
    Invalid(String),
}

/// Everything the agent can be told.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// General settings.
    pub agent: GeneralSettings,
    /// Capture stage.
    pub capture: CaptureSettings,
    /// Privacy stage (mode, salt file). Its values never fail parsing: see
    /// [`crate::privacy::PrivacyConfig`].
    pub privacy: crate::privacy::PrivacyConfig,
    /// Reassembly stage bounds.
    pub reassembly: crate::reassembly::ReassemblyConfig,
    /// LLM detection (extra endpoints for gateways and self-hosted servers).
    pub llm: crate::llm::LlmConfig,
    /// Price table sources.
    pub pricing: PricingSettings,
    /// Prompt-cache analysis.
    pub insights: crate::insights::InsightsConfig,
    /// Metrics and event sinks.
    pub export: crate::export::ExportConfig,
}

/// Where prices come from besides the embedded table (precedence: override > LiteLLM file >
/// embedded; see docs/pricing.md).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PricingSettings {
    /// Override file in llmtap's own format.
    pub override_file: Option<PathBuf>,
    /// A LiteLLM `model_prices_and_context_window.json`.
    pub litellm_file: Option<PathBuf>,
    /// Azure deployment name → model name.
    pub azure_deployments: std::collections::HashMap<String, String>,
}

impl PricingSettings {
    /// Load the table; a broken file is reported and the embedded table kept (the agent keeps
    /// pricing what it can rather than stopping).
    pub fn load_table(&self) -> pricing::PriceTable {
        let cfg = pricing::PricingConfig {
            override_file: self.override_file.clone(),
            litellm_file: self.litellm_file.clone(),
            azure_deployments: self.azure_deployments.clone(),
        };
        match pricing::PriceTable::load(&cfg) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "price file rejected; using the embedded table only");
                let mut t = pricing::PriceTable::embedded();
                t.set_azure_deployments(self.azure_deployments.clone());
                t
            }
        }
    }
}

/// Settings that belong to no one stage.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GeneralSettings {
    /// Where the agent keeps its state (status file, hashing salt). Created 0700.
    pub state_dir: PathBuf,
    /// How often the status file is rewritten, seconds.
    pub status_interval_secs: u64,
}

impl Default for GeneralSettings {
    fn default() -> Self {
        GeneralSettings {
            state_dir: PathBuf::from("/var/lib/llmtap"),
            status_interval_secs: 2,
        }
    }
}

impl AgentConfig {
    /// Read and validate `path`, or the defaults when `None`.
    pub fn load(path: Option<&Path>) -> Result<AgentConfig, ConfigError> {
        let cfg = match path {
            None => AgentConfig::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.into(),
                    source,
                })?;
                Self::parse(&text).map_err(|message| ConfigError::Parse {
                    path: p.into(),
                    message,
                })?
            }
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parse TOML text.
    pub fn parse(text: &str) -> Result<AgentConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Check every section.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.capture
            .validate()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        self.reassembly
            .validate()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        self.llm
            .validate()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if self.agent.status_interval_secs == 0 {
            return Err(ConfigError::Invalid(
                "agent.status_interval_secs must be > 0".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_defaults() {
        let c = AgentConfig::parse("").unwrap();
        assert_eq!(c.capture, CaptureSettings::default());
        c.validate().unwrap();
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_named() {
        let e = AgentConfig::parse("[capture]\nring_byts = 1\n").unwrap_err();
        assert!(e.contains("ring_byts"), "{e}");
        let e = AgentConfig::parse("[capture]\nchunk_size = \"big\"\n").unwrap_err();
        assert!(e.contains("chunk_size") || e.contains("line 2"), "{e}");
    }

    #[test]
    fn broken_privacy_values_never_fail_loading() {
        for v in ["\"STRICT \"", "\"off\"", "\"\"", "3", "{ a = 1 }"] {
            let c = AgentConfig::parse(&format!("[privacy]\nmode = {v}\n")).unwrap();
            c.validate().unwrap();
            let mut stats = crate::privacy::PrivacyStats::default();
            assert_eq!(
                c.privacy.resolve(&mut stats),
                crate::privacy::PrivacyMode::Strict
            );
            assert_eq!(stats.invalid_mode_fallbacks, 1);
        }
    }

    #[test]
    fn out_of_range_values_fail_validation() {
        let c = AgentConfig::parse("[capture]\nchunk_size = 0\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("chunk_size"));
        // Every section's own check runs: reassembly bounds (incl. the 1 GiB body cap that
        // keeps SSE spans within 32 bits) and LLM endpoint rules.
        for (toml, names) in [
            ("[reassembly]\nmax_connections = 0\n", "max_connections"),
            (
                "[reassembly]\nmax_decompressed_bytes = 2147483648\n",
                "max_decompressed_bytes",
            ),
            (
                "[[llm.endpoints]]\nhost = \"gw\"\npath = \"v1\"\nprovider = \"vllm\"\n",
                "path",
            ),
        ] {
            let c = AgentConfig::parse(toml).unwrap();
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(names), "{toml}: {e}");
        }
    }
}
