//! Sinks: where batches of encoded events go. [`SinkSpec`] parses the `--sink` string;
//! [`build`] turns it into a [`Transport`]. One file per sink. Sinks send once per call;
//! retries, timeouts and the circuit belong to `export::delivery`.

mod auth;
pub mod file;
pub mod http;
pub mod otlp;
pub mod stdout;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use hyper::Uri;

pub use auth::AuthHeader;

use super::config::ExportConfig;
use super::delivery::Transport;

/// Errors parsing a sink string or building a sink.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The `--sink` string is not understood.
    #[error("invalid sink {spec:?}: {reason}")]
    Parse {
        /// The string (never contains credentials: userinfo is refused before this).
        spec: String,
        /// Why.
        reason: &'static str,
    },
    /// The auth header value could not be read. The value itself is never included.
    #[error("sink auth: {0}")]
    Auth(String),
    /// The file sink could not open its file.
    #[error("file sink {path}: {source}")]
    File {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// A parsed `--sink` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkSpec {
    /// `stdout`: NDJSON on standard output.
    Stdout,
    /// `file:PATH`: NDJSON to a size-rotated file.
    File(PathBuf),
    /// `http://…` / `https://…`: POST NDJSON batches.
    Http(Uri),
    /// `otlp+http://host:port/v1/logs` (or `otlp+https`): OTLP/HTTP protobuf logs.
    Otlp(Uri),
}

impl SinkSpec {
    /// Parse `stdout`, `file:PATH`, `http(s)://…`, `otlp+http(s)://…`.
    pub fn parse(s: &str) -> Result<SinkSpec, SinkError> {
        let err = |reason| SinkError::Parse {
            spec: redact(s),
            reason,
        };
        let s = s.trim();
        if s == "stdout" {
            return Ok(SinkSpec::Stdout);
        }
        if let Some(path) = s.strip_prefix("file:") {
            if path.is_empty() {
                return Err(err("file: needs a path"));
            }
            return Ok(SinkSpec::File(PathBuf::from(path)));
        }
        let (otlp, url) = match s.strip_prefix("otlp+") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(err(
                "expected stdout, file:PATH, http(s)://… or otlp+http(s)://…",
            ));
        }
        let uri: Uri = url.parse().map_err(|_| err("not a valid URL"))?;
        let Some(authority) = uri.authority() else {
            return Err(err("URL has no host"));
        };
        if authority.as_str().contains('@') {
            return Err(err(
                "credentials in the URL are refused; use http.auth_value_env/file",
            ));
        }
        Ok(if otlp {
            SinkSpec::Otlp(uri)
        } else {
            SinkSpec::Http(uri)
        })
    }

    /// Short kind for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            SinkSpec::Stdout => "stdout",
            SinkSpec::File(_) => "file",
            SinkSpec::Http(_) => "http",
            SinkSpec::Otlp(_) => "otlp",
        }
    }
}

/// Keep only what precedes a possible userinfo, so errors never echo credentials.
fn redact(s: &str) -> String {
    match s.find('@') {
        Some(_) => "<url with credentials>".to_string(),
        None => s.chars().take(200).collect(),
    }
}

/// Display shows kind and host only (no path or query, which may carry tokens).
impl fmt::Display for SinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkSpec::Stdout => f.write_str("stdout"),
            SinkSpec::File(p) => write!(f, "file:{}", p.display()),
            SinkSpec::Http(u) | SinkSpec::Otlp(u) => {
                write!(
                    f,
                    "{}://{}",
                    self.kind(),
                    u.authority().map_or("", |a| a.as_str())
                )
            }
        }
    }
}

/// Build the transport for `spec`.
pub fn build(spec: &SinkSpec, cfg: &ExportConfig) -> Result<Arc<dyn Transport>, SinkError> {
    Ok(match spec {
        SinkSpec::Stdout => Arc::new(stdout::StdoutSink::new()),
        SinkSpec::File(p) => Arc::new(file::FileSink::open(p.clone(), &cfg.file)?),
        SinkSpec::Http(u) => Arc::new(http::HttpSink::new(
            u.clone(),
            &cfg.http,
            http::Body::Ndjson,
        )?),
        SinkSpec::Otlp(u) => Arc::new(http::HttpSink::new(u.clone(), &cfg.http, http::Body::Otlp)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        assert_eq!(SinkSpec::parse("stdout").ok(), Some(SinkSpec::Stdout));
        assert_eq!(
            SinkSpec::parse("file:/var/log/x.ndjson").ok(),
            Some(SinkSpec::File("/var/log/x.ndjson".into()))
        );
        assert!(matches!(
            SinkSpec::parse("https://h/ingest"),
            Ok(SinkSpec::Http(_))
        ));
        let otlp = SinkSpec::parse("otlp+http://collector:4318/v1/logs").expect("valid");
        assert_eq!(otlp.to_string(), "otlp://collector:4318");
        match otlp {
            SinkSpec::Otlp(u) => assert_eq!(u.to_string(), "http://collector:4318/v1/logs"),
            other => panic!("unexpected {other:?}"),
        }
        for bad in ["", "file:", "kafka://x", "http://", "https://u:secret@h/"] {
            let e = SinkSpec::parse(bad).expect_err(bad);
            assert!(!e.to_string().contains("secret"));
        }
    }
}
