//! User configuration of the LLM stage: extra endpoints (gateways, self-hosted servers) as
//! host/path glob patterns mapped to a provider and API, and the parsing bounds. Matching of the
//! patterns lives here; the rest of detection is in `detect.rs`.

use serde::{Deserialize, Serialize};

use super::call::{Api, Provider};

/// One user-declared endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointRule {
    /// Host glob (`*` any run, `?` one char), case-insensitive. Matched against the host
    /// without port, unless the pattern contains `:`, then against `host:port`.
    #[serde(default = "any")]
    pub host: String,
    /// Path glob, matched against the path without its query string.
    #[serde(default = "any")]
    pub path: String,
    /// Provider to report.
    pub provider: Provider,
    /// API to parse as; when absent it is inferred from the path like for known hosts.
    #[serde(default)]
    pub api: Option<Api>,
}

fn any() -> String {
    "*".to_string()
}

/// LLM stage configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// Extra endpoints, checked before the built-in host table (first match wins).
    pub endpoints: Vec<EndpointRule>,
    /// Recognise LLM API paths on unknown hosts (self-hosted servers, proxies).
    pub detect_unknown_hosts: bool,
    /// Bodies larger than this are not parsed (the call is still reported).
    pub max_body_bytes: usize,
    /// Bound on the total prompt-segment text kept per call.
    pub max_segment_bytes: usize,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            endpoints: Vec::new(),
            detect_unknown_hosts: true,
            max_body_bytes: 64 << 20,
            max_segment_bytes: 4 << 20,
        }
    }
}

/// Configuration mistakes.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A rule pattern is empty.
    #[error("endpoint rule {index}: empty {field} pattern")]
    EmptyPattern {
        /// Rule position.
        index: usize,
        /// `host` or `path`.
        field: &'static str,
    },
    /// A path pattern does not start with `/` or `*`.
    #[error("endpoint rule {index}: path pattern must start with '/' or '*'")]
    RelativePath {
        /// Rule position.
        index: usize,
    },
    /// A bound is zero.
    #[error("{0} must be greater than zero")]
    ZeroBound(&'static str),
}

impl LlmConfig {
    /// Check the configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_body_bytes == 0 {
            return Err(ConfigError::ZeroBound("max_body_bytes"));
        }
        if self.max_segment_bytes == 0 {
            return Err(ConfigError::ZeroBound("max_segment_bytes"));
        }
        for (index, r) in self.endpoints.iter().enumerate() {
            if r.host.is_empty() {
                return Err(ConfigError::EmptyPattern {
                    index,
                    field: "host",
                });
            }
            if r.path.is_empty() {
                return Err(ConfigError::EmptyPattern {
                    index,
                    field: "path",
                });
            }
            if !(r.path.starts_with('/') || r.path.starts_with('*')) {
                return Err(ConfigError::RelativePath { index });
            }
        }
        Ok(())
    }

    /// First rule matching `host` (no port), `port` and `path` (no query).
    pub fn match_endpoint(
        &self,
        host: &str,
        port: Option<u16>,
        path: &str,
    ) -> Option<&EndpointRule> {
        self.endpoints.iter().find(|r| {
            let host_ok = if r.host.contains(':') {
                let hp = format!("{host}:{}", port.unwrap_or(443));
                glob(&r.host.to_ascii_lowercase(), &hp.to_ascii_lowercase())
            } else {
                glob(&r.host.to_ascii_lowercase(), &host.to_ascii_lowercase())
            };
            host_ok && glob(&r.path, path)
        })
    }
}

/// Glob match with `*` (any run, including `/`) and `?` (one byte). Linear-time backtracking
/// on the last `*`, no recursion.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob("*", ""));
        assert!(glob("*.openai.azure.com", "x.openai.azure.com"));
        assert!(!glob("*.openai.azure.com", "openai.azure.com.evil"));
        assert!(glob("/llm/*/chat/completions", "/llm/a/b/chat/completions"));
        assert!(glob("gw-?", "gw-1"));
        assert!(!glob("gw-?", "gw-12"));
    }

    #[test]
    fn config_defaults_and_validate() {
        let c: LlmConfig = serde_json::from_str(
            r#"{"endpoints":[{"host":"gw.internal:4000","path":"/v1/*","provider":"litellm"}]}"#,
        )
        .unwrap();
        assert!(c.detect_unknown_hosts);
        assert_eq!(c.validate(), Ok(()));
        assert!(
            c.match_endpoint("GW.internal", Some(4000), "/v1/chat/completions")
                .is_some()
        );
        assert!(
            c.match_endpoint("gw.internal", None, "/v1/chat/completions")
                .is_none()
        );
        let bad: LlmConfig =
            serde_json::from_str(r#"{"endpoints":[{"path":"v1","provider":"vllm"}]}"#).unwrap();
        assert_eq!(bad.validate(), Err(ConfigError::RelativePath { index: 0 }));
        assert!(serde_json::from_str::<LlmConfig>(r#"{"bogus":1}"#).is_err());
    }
}
