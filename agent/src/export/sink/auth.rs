//! The HTTP sink's credential header, read from an environment variable or a file. Owns
//! loading and redaction: the value is marked sensitive and never Debug-printed or logged.

use std::fmt;

use hyper::header::{HeaderName, HeaderValue};

use super::SinkError;
use crate::export::config::HttpSinkConfig;

/// A header name and a secret value.
#[derive(Clone)]
pub struct AuthHeader {
    /// Header name.
    pub name: HeaderName,
    /// Header value, marked sensitive.
    pub value: HeaderValue,
}

impl fmt::Debug for AuthHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthHeader")
            .field("name", &self.name)
            .field("value", &"<redacted>")
            .finish()
    }
}

impl AuthHeader {
    /// Load per config; `None` when no auth is configured.
    pub fn load(cfg: &HttpSinkConfig) -> Result<Option<AuthHeader>, SinkError> {
        let Some(name) = &cfg.auth_header_name else {
            return Ok(None);
        };
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| SinkError::Auth("auth_header_name is not a valid header name".into()))?;
        let raw = match (&cfg.auth_value_env, &cfg.auth_value_file) {
            (Some(var), None) => std::env::var(var).map_err(|_| {
                SinkError::Auth(format!(
                    "environment variable {var} is not set or not UTF-8"
                ))
            })?,
            (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
                SinkError::Auth(format!(
                    "cannot read auth value file {}: {}",
                    path.display(),
                    e.kind()
                ))
            })?,
            _ => {
                return Err(SinkError::Auth(
                    "set exactly one of auth_value_env and auth_value_file".into(),
                ));
            }
        };
        let trimmed = raw.trim_end_matches(['\n', '\r']);
        if trimmed.is_empty() {
            return Err(SinkError::Auth("auth value is empty".into()));
        }
        let mut value = HeaderValue::from_str(trimmed)
            .map_err(|_| SinkError::Auth("auth value is not a valid header value".into()))?;
        value.set_sensitive(true);
        Ok(Some(AuthHeader { name, value }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_from_file_and_redacts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("token");
        std::fs::write(&p, "Bearer s3cr3t\n").expect("write");
        let cfg = HttpSinkConfig {
            auth_header_name: Some("Authorization".into()),
            auth_value_file: Some(p),
            ..HttpSinkConfig::default()
        };
        let h = AuthHeader::load(&cfg).expect("loads").expect("configured");
        assert_eq!(h.value.to_str().ok(), Some("Bearer s3cr3t"));
        assert!(h.value.is_sensitive());
        assert!(!format!("{h:?}").contains("s3cr3t"));
    }

    #[test]
    fn missing_env_names_var_only() {
        let cfg = HttpSinkConfig {
            auth_header_name: Some("X-Api-Key".into()),
            auth_value_env: Some("LLMTAP_TEST_SURELY_UNSET_VAR".into()),
            ..HttpSinkConfig::default()
        };
        let e = AuthHeader::load(&cfg).expect_err("unset");
        assert!(e.to_string().contains("LLMTAP_TEST_SURELY_UNSET_VAR"));
    }
}
