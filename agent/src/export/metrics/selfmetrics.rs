//! The agent's self metrics that other stages feed: capture counters, parse errors, pricing
//! age. Owns the setters; does not own delivery counters (see `delivery::accounting`).

use std::sync::Mutex;

use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

use super::{ExportMetrics, MetricsError};

/// Cumulative capture counters, as the capture stage keeps them. Passed as a whole snapshot;
/// the exporter adds the difference since the previous snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureCounters {
    /// TLS read/write calls seen.
    pub calls: u64,
    /// Plaintext bytes seen by the probes.
    pub bytes_seen: u64,
    /// Plaintext bytes delivered to user space.
    pub bytes_delivered: u64,
    /// Bytes lost because a call exceeded the per-call capture maximum.
    pub lost_over_max: u64,
    /// Bytes lost because the ring buffer was full.
    pub lost_ringbuf_full: u64,
    /// Bytes lost because reading user memory faulted.
    pub lost_read_fault: u64,
    /// Bytes lost because the connection table was full.
    pub lost_conn_table_full: u64,
    /// Chunks received from the kernel.
    pub chunks_received: u64,
    /// Chunks dropped in user space.
    pub chunks_dropped: u64,
    /// Bytes of gaps in reassembled streams.
    pub gap_bytes: u64,
    /// Targets (TLS libraries) attached now.
    pub targets_attached: u64,
    /// Targets that failed to attach.
    pub targets_failed: u64,
}

/// The `llmtap_capture_*` families.
pub(crate) struct CaptureFamilies {
    calls: IntCounter,
    bytes_seen: IntCounter,
    bytes_delivered: IntCounter,
    lost_bytes: IntCounterVec,
    chunks: IntCounterVec,
    gap_bytes: IntCounter,
    targets: IntGaugeVec,
    last: Mutex<CaptureCounters>,
}

fn counter(r: &Registry, name: &str, help: &str) -> Result<IntCounter, MetricsError> {
    let c = IntCounter::new(name, help)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

impl CaptureFamilies {
    pub(crate) fn register(r: &Registry) -> Result<Self, MetricsError> {
        let lost_bytes = IntCounterVec::new(
            Opts::new(
                "llmtap_capture_lost_bytes_total",
                "Plaintext bytes lost in capture, by reason.",
            ),
            &["reason"],
        )?;
        r.register(Box::new(lost_bytes.clone()))?;
        let chunks = IntCounterVec::new(
            Opts::new(
                "llmtap_capture_chunks_total",
                "Capture chunks by outcome: received, dropped.",
            ),
            &["outcome"],
        )?;
        r.register(Box::new(chunks.clone()))?;
        let targets = IntGaugeVec::new(
            Opts::new(
                "llmtap_capture_targets",
                "TLS library targets by state: attached, failed.",
            ),
            &["state"],
        )?;
        r.register(Box::new(targets.clone()))?;
        Ok(CaptureFamilies {
            calls: counter(
                r,
                "llmtap_capture_calls_total",
                "TLS read/write calls seen.",
            )?,
            bytes_seen: counter(
                r,
                "llmtap_capture_bytes_seen_total",
                "Plaintext bytes seen by the probes.",
            )?,
            bytes_delivered: counter(
                r,
                "llmtap_capture_bytes_delivered_total",
                "Plaintext bytes delivered to user space.",
            )?,
            gap_bytes: counter(
                r,
                "llmtap_capture_gap_bytes_total",
                "Bytes of gaps in reassembled streams.",
            )?,
            lost_bytes,
            chunks,
            targets,
            last: Mutex::new(CaptureCounters::default()),
        })
    }
}

/// Add `now - before` when the source counter grew; a smaller value (source restart) re-bases.
fn advance(c: &IntCounter, before: u64, now: u64) {
    if now > before {
        c.inc_by(now - before);
    }
}

impl ExportMetrics {
    /// Publish a cumulative capture snapshot (monotonic `_total` counters advance by the delta).
    pub fn set_capture_counters(&self, now: &CaptureCounters) {
        let f = &self.capture;
        let mut last = f.last.lock().unwrap_or_else(|p| p.into_inner());
        advance(&f.calls, last.calls, now.calls);
        advance(&f.bytes_seen, last.bytes_seen, now.bytes_seen);
        advance(
            &f.bytes_delivered,
            last.bytes_delivered,
            now.bytes_delivered,
        );
        advance(&f.gap_bytes, last.gap_bytes, now.gap_bytes);
        for (reason, b, n) in [
            ("over_max", last.lost_over_max, now.lost_over_max),
            (
                "ringbuf_full",
                last.lost_ringbuf_full,
                now.lost_ringbuf_full,
            ),
            ("read_fault", last.lost_read_fault, now.lost_read_fault),
            (
                "conn_table_full",
                last.lost_conn_table_full,
                now.lost_conn_table_full,
            ),
        ] {
            advance(&f.lost_bytes.with_label_values(&[reason]), b, n);
        }
        advance(
            &f.chunks.with_label_values(&["received"]),
            last.chunks_received,
            now.chunks_received,
        );
        advance(
            &f.chunks.with_label_values(&["dropped"]),
            last.chunks_dropped,
            now.chunks_dropped,
        );
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        f.targets
            .with_label_values(&["attached"])
            .set(gauge(now.targets_attached));
        f.targets
            .with_label_values(&["failed"])
            .set(gauge(now.targets_failed));
        *last = now.clone();
    }

    /// Count one parse error of `kind` in `stage` (both bounded by the cardinality cap).
    pub fn inc_parse_error(&self, stage: &str, kind: &str) {
        let stage = self
            .guard
            .admit("llmtap_parse_errors_total", "stage", Some(stage));
        let kind = self
            .guard
            .admit("llmtap_parse_errors_total", "kind", Some(kind));
        self.parse_errors.with_label_values(&[stage, kind]).inc();
    }

    /// Age of the pricing table in days, exported as `llmtap_pricing_age_seconds` (promtool
    /// rejects non-base units such as days). Non-finite values are ignored.
    pub fn set_pricing_age_days(&self, days: f64) {
        if days.is_finite() {
            self.pricing_age.set(days * 86_400.0);
        }
    }
}
