//! Export-stage configuration: [`ExportConfig`] with serde defaults and [`ExportConfig::validate`].
//!
//! Owns the knobs (sink, queue, batching, retry, circuit, drain, labels); does not read files
//! or secrets (the HTTP sink reads its auth value when it is built).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::sink::SinkSpec;

/// Errors found by [`ExportConfig::validate`].
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value is out of range or inconsistent with another.
    #[error("export config: {0}")]
    Invalid(String),
}

/// Everything the export stage can be told. Durations are milliseconds (`*_ms`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ExportConfig {
    /// Address of the `/metrics`, `/healthz`, `/readyz` server; `None` disables it.
    pub metrics_addr: Option<SocketAddr>,
    /// Sink: `stdout`, `file:PATH`, `http(s)://…`, `otlp+http(s)://host:port/v1/logs`.
    pub sink: String,
    /// HTTP and OTLP sink settings.
    pub http: HttpSinkConfig,
    /// File sink settings.
    pub file: FileSinkConfig,
    /// The bounded queue between capture and the sink.
    pub queue: QueueConfig,
    /// When a batch is flushed.
    pub batch: BatchConfig,
    /// Retries of one batch.
    pub retry: RetryConfig,
    /// The circuit breaker around the sink.
    pub circuit: CircuitConfig,
    /// How long [`super::Exporter::shutdown`] drains by default.
    pub drain_timeout_ms: u64,
    /// Label cardinality bounds for metrics.
    pub labels: LabelConfig,
}

impl Default for ExportConfig {
    fn default() -> Self {
        ExportConfig {
            metrics_addr: Some(SocketAddr::from(([127, 0, 0, 1], 9464))),
            sink: "stdout".into(),
            http: HttpSinkConfig::default(),
            file: FileSinkConfig::default(),
            queue: QueueConfig::default(),
            batch: BatchConfig::default(),
            retry: RetryConfig::default(),
            circuit: CircuitConfig::default(),
            drain_timeout_ms: 5_000,
            labels: LabelConfig::default(),
        }
    }
}

/// HTTP/OTLP sink settings. The auth value itself never appears here: only where to read it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSinkConfig {
    /// Header carrying the credential, e.g. `Authorization`.
    pub auth_header_name: Option<String>,
    /// Environment variable holding the header value.
    pub auth_value_env: Option<String>,
    /// File holding the header value (trailing newline trimmed).
    pub auth_value_file: Option<PathBuf>,
    /// Gzip request bodies.
    pub gzip: bool,
    /// Whole-request timeout (connect, send, response head).
    pub request_timeout_ms: u64,
}

impl Default for HttpSinkConfig {
    fn default() -> Self {
        HttpSinkConfig {
            auth_header_name: None,
            auth_value_env: None,
            auth_value_file: None,
            gzip: true,
            request_timeout_ms: 10_000,
        }
    }
}

/// File sink rotation.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FileSinkConfig {
    /// Rotate when the live file would exceed this size.
    pub max_bytes: u64,
    /// Rotated files kept (`path.1` … `path.N`); older ones are deleted.
    pub max_files: u32,
}

impl Default for FileSinkConfig {
    fn default() -> Self {
        FileSinkConfig {
            max_bytes: 64 << 20,
            max_files: 5,
        }
    }
}

/// What the queue does when an event does not fit.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Refuse the new event.
    DropNewest,
    /// Evict the oldest queued events until the new one fits.
    DropOldest,
}

/// Bounds of the queue between capture and the sink.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Most events queued.
    pub max_events: usize,
    /// Most bytes (sum of NDJSON line lengths) queued.
    pub max_bytes: usize,
    /// Policy when full.
    pub when_full: WhenFull,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_events: 10_000,
            max_bytes: 16 << 20,
            when_full: WhenFull::DropOldest,
        }
    }
}

/// A batch is flushed when it reaches `max_events` or `max_bytes`, or `interval_ms` after its
/// first event was seen.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// Most events per batch.
    pub max_events: usize,
    /// Most bytes per batch (a single larger event still goes alone).
    pub max_bytes: usize,
    /// Longest wait before a partial batch is flushed.
    pub interval_ms: u64,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_events: 500,
            max_bytes: 1 << 20,
            interval_ms: 1_000,
        }
    }
}

/// Exponential backoff with full jitter.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// First backoff ceiling.
    pub base_ms: u64,
    /// Largest backoff ceiling.
    pub cap_ms: u64,
    /// Attempts per batch, the first included.
    pub max_attempts: u32,
    /// A server's `Retry-After` is honoured up to this long.
    pub max_retry_after_ms: u64,
    /// One attempt may take at most this long (enforced by the delivery loop for any sink).
    pub attempt_timeout_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            base_ms: 250,
            cap_ms: 3_000,
            max_attempts: 5,
            max_retry_after_ms: 30_000,
            attempt_timeout_ms: 15_000,
        }
    }
}

/// Circuit breaker around the sink.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CircuitConfig {
    /// Consecutive failed batches that open the circuit.
    pub failure_threshold: u32,
    /// How long the circuit stays open before one trial batch (half-open).
    pub open_ms: u64,
}

impl Default for CircuitConfig {
    fn default() -> Self {
        CircuitConfig {
            failure_threshold: 5,
            open_ms: 30_000,
        }
    }
}

/// Bounds on metric label values, which come partly from untrusted traffic.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LabelConfig {
    /// Distinct values per label per metric family; later values become `_other`.
    pub max_values_per_label: usize,
    /// Longest label value in bytes (longer ones are truncated on a char boundary).
    pub max_value_len: usize,
    /// Add `namespace` and `workload` labels to the `llmtap_*` families.
    pub workload_labels: bool,
}

impl Default for LabelConfig {
    fn default() -> Self {
        LabelConfig {
            max_values_per_label: 200,
            max_value_len: 128,
            workload_labels: false,
        }
    }
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

impl ExportConfig {
    /// Default drain timeout as a duration.
    pub fn drain_timeout(&self) -> Duration {
        ms(self.drain_timeout_ms)
    }

    /// Check ranges and cross-field consistency; also parses the sink string.
    pub fn validate(&self) -> Result<SinkSpec, ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        let spec = SinkSpec::parse(&self.sink).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if self.queue.max_events == 0 || self.queue.max_bytes == 0 {
            return bad("queue.max_events and queue.max_bytes must be > 0");
        }
        if self.batch.max_events == 0 || self.batch.max_bytes == 0 || self.batch.interval_ms == 0 {
            return bad("batch.max_events, batch.max_bytes and batch.interval_ms must be > 0");
        }
        if self.batch.max_events > self.queue.max_events {
            return bad("batch.max_events must be <= queue.max_events");
        }
        if self.retry.max_attempts == 0 {
            return bad("retry.max_attempts must be >= 1");
        }
        if self.retry.base_ms == 0 || self.retry.base_ms > self.retry.cap_ms {
            return bad("retry.base_ms must be > 0 and <= retry.cap_ms");
        }
        if self.retry.attempt_timeout_ms == 0 || self.http.request_timeout_ms == 0 {
            return bad("retry.attempt_timeout_ms and http.request_timeout_ms must be > 0");
        }
        if self.circuit.failure_threshold == 0 || self.circuit.open_ms == 0 {
            return bad("circuit.failure_threshold and circuit.open_ms must be > 0");
        }
        if self.file.max_bytes == 0 || self.file.max_files == 0 {
            return bad("file.max_bytes and file.max_files must be > 0");
        }
        if self.labels.max_values_per_label == 0 || self.labels.max_value_len < 8 {
            return bad("labels.max_values_per_label must be > 0 and labels.max_value_len >= 8");
        }
        let h = &self.http;
        if h.auth_value_env.is_some() && h.auth_value_file.is_some() {
            return bad("set at most one of http.auth_value_env and http.auth_value_file");
        }
        let has_value = h.auth_value_env.is_some() || h.auth_value_file.is_some();
        if has_value != h.auth_header_name.is_some() {
            return bad(
                "http.auth_header_name needs exactly one of auth_value_env/auth_value_file",
            );
        }
        if let Some(name) = &h.auth_header_name
            && hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err()
        {
            return bad("http.auth_header_name is not a valid header name");
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let cfg = ExportConfig::default();
        assert!(matches!(cfg.validate(), Ok(SinkSpec::Stdout)));
        assert_eq!(cfg.drain_timeout(), Duration::from_secs(5));
    }

    #[test]
    fn rejects_inconsistent_auth_and_ranges() {
        let mut cfg = ExportConfig::default();
        cfg.http.auth_value_env = Some("TOKEN".into());
        assert!(cfg.validate().is_err());
        cfg.http.auth_header_name = Some("Authorization".into());
        assert!(cfg.validate().is_ok());
        cfg.retry.base_ms = 10_000;
        assert!(cfg.validate().is_err());
    }

    #[test]
    fn parses_toml_with_defaults() {
        let cfg: ExportConfig =
            toml::from_str("sink = \"file:/tmp/x\"\n[queue]\nwhen_full = \"drop_newest\"\n")
                .expect("valid toml");
        assert_eq!(cfg.queue.when_full, WhenFull::DropNewest);
        assert_eq!(cfg.queue.max_events, 10_000);
    }
}
