//! Prometheus metrics of the export stage: one private [`prometheus::Registry`] holding the
//! OTel GenAI histograms, the `llmtap_*` business families and the agent's self metrics.
//!
//! Owns metric definitions, label hygiene ([`labels`]) and text rendering. Does not serve
//! HTTP (see `export::http`) nor decide delivery outcomes (see `export::delivery`).

pub mod labels;
mod observe;
mod selfmetrics;

use prometheus::{
    CounterVec, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

pub use selfmetrics::CaptureCounters;

use crate::export::config::LabelConfig;
use labels::LabelGuard;

/// Errors building or rendering metrics.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// A family could not be created or registered (a programming error).
    #[error("metric registration: {0}")]
    Register(#[from] prometheus::Error),
}

/// OTel `gen_ai.client.token.usage` buckets.
pub const TOKEN_BUCKETS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];

/// OTel `gen_ai.client.operation.duration` buckets (seconds), also used for time to first chunk.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// Every metric family of the export stage, registered in one registry.
pub struct ExportMetrics {
    registry: Registry,
    pub(crate) guard: LabelGuard,
    workload_labels: bool,
    // OTel GenAI.
    pub(crate) token_usage: HistogramVec,
    pub(crate) op_duration: HistogramVec,
    pub(crate) ttft: HistogramVec,
    // Business.
    pub(crate) tokens: IntCounterVec,
    pub(crate) cost: CounterVec,
    pub(crate) requests: IntCounterVec,
    pub(crate) usage_unreported: IntCounterVec,
    pub(crate) unpriced: IntCounterVec,
    pub(crate) rl_requests: GaugeVec,
    pub(crate) rl_tokens: GaugeVec,
    pub(crate) cache_breaks: IntCounterVec,
    pub(crate) cache_wasted: CounterVec,
    // Self.
    pub(crate) capture: selfmetrics::CaptureFamilies,
    pub(crate) parse_errors: IntCounterVec,
    pub(crate) events: IntCounterVec,
    pub(crate) queue_events: IntGauge,
    pub(crate) queue_bytes: IntGauge,
    pub(crate) queue_max_bytes: IntGauge,
    pub(crate) circuit_state: IntGauge,
    pub(crate) batches: IntCounterVec,
    pub(crate) retries: IntCounter,
    pub(crate) pricing_age: prometheus::Gauge,
}

fn hist(
    r: &Registry,
    name: &str,
    help: &str,
    b: &[f64],
    l: &[&str],
) -> Result<HistogramVec, MetricsError> {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(b.to_vec()), l)?;
    r.register(Box::new(h.clone()))?;
    Ok(h)
}

fn icv(r: &Registry, name: &str, help: &str, l: &[&str]) -> Result<IntCounterVec, MetricsError> {
    let c = IntCounterVec::new(Opts::new(name, help), l)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn cv(r: &Registry, name: &str, help: &str, l: &[&str]) -> Result<CounterVec, MetricsError> {
    let c = CounterVec::new(Opts::new(name, help), l)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn gv(r: &Registry, name: &str, help: &str, l: &[&str]) -> Result<GaugeVec, MetricsError> {
    let g = GaugeVec::new(Opts::new(name, help), l)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

fn ig(r: &Registry, name: &str, help: &str) -> Result<IntGauge, MetricsError> {
    let g = IntGauge::new(name, help)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

impl ExportMetrics {
    /// Build and register every family.
    pub fn new(labels: &LabelConfig) -> Result<Self, MetricsError> {
        let r = Registry::new();
        let wl = labels.workload_labels;
        let with_wl = |base: &[&'static str]| -> Vec<&'static str> {
            let mut v = base.to_vec();
            if wl {
                v.extend(["namespace", "workload"]);
            }
            v
        };
        let genai = [
            "gen_ai_provider_name",
            "gen_ai_request_model",
            "gen_ai_response_model",
            "gen_ai_operation_name",
        ];
        let mut genai_tokens = genai.to_vec();
        genai_tokens.push("gen_ai_token_type");
        let mut genai_duration = genai.to_vec();
        genai_duration.push("error_type");
        let pm = ["provider", "model"];

        let overflow = icv(
            &r,
            "llmtap_label_overflow_total",
            "Label values replaced by _other because the label reached its cardinality cap.",
            &["label"],
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new("llmtap_build_info", "Build information; always 1."),
            &["version"],
        )?;
        r.register(Box::new(build_info.clone()))?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);

        let m = ExportMetrics {
            guard: LabelGuard::new(labels.max_values_per_label, labels.max_value_len, overflow),
            workload_labels: wl,
            token_usage: hist(
                &r,
                "gen_ai_client_token_usage",
                "Tokens used per LLM operation (OTel gen_ai.client.token.usage).",
                &TOKEN_BUCKETS,
                &genai_tokens,
            )?,
            op_duration: hist(
                &r,
                "gen_ai_client_operation_duration_seconds",
                "LLM operation duration (OTel gen_ai.client.operation.duration).",
                &DURATION_BUCKETS,
                &genai_duration,
            )?,
            ttft: hist(
                &r,
                "gen_ai_client_operation_time_to_first_chunk_seconds",
                "Time to the first streamed chunk (OTel gen_ai.client.operation.time_to_first_chunk).",
                &DURATION_BUCKETS,
                &genai,
            )?,
            tokens: icv(
                &r,
                "llmtap_tokens_total",
                "Tokens by type: input, output, cache_read, cache_creation, reasoning.",
                &with_wl(&["provider", "model", "token_type"]),
            )?,
            cost: cv(
                &r,
                "llmtap_cost_usd_total",
                "Priced cost in US dollars.",
                &with_wl(&pm),
            )?,
            requests: icv(
                &r,
                "llmtap_requests_total",
                "LLM requests by status class and error type.",
                &with_wl(&["provider", "model", "status_class", "error_type"]),
            )?,
            usage_unreported: icv(
                &r,
                "llmtap_usage_unreported_total",
                "Responses that carried no usage block.",
                &with_wl(&pm),
            )?,
            unpriced: icv(
                &r,
                "llmtap_unpriced_requests_total",
                "Requests with usage but no price for the model.",
                &with_wl(&pm),
            )?,
            rl_requests: gv(
                &r,
                "llmtap_ratelimit_remaining_requests",
                "Provider-reported remaining requests in the rate-limit window.",
                &with_wl(&pm),
            )?,
            rl_tokens: gv(
                &r,
                "llmtap_ratelimit_remaining_tokens",
                "Provider-reported remaining tokens in the rate-limit window.",
                &with_wl(&pm),
            )?,
            cache_breaks: icv(
                &r,
                "llmtap_cache_breaks_total",
                "Prompt-cache breaks by reason.",
                &with_wl(&["provider", "model", "reason"]),
            )?,
            cache_wasted: cv(
                &r,
                "llmtap_cache_wasted_usd_total",
                "Extra cost caused by prompt-cache breaks, US dollars.",
                &with_wl(&pm),
            )?,
            capture: selfmetrics::CaptureFamilies::register(&r)?,
            parse_errors: icv(
                &r,
                "llmtap_parse_errors_total",
                "Parse errors by pipeline stage and kind.",
                &["stage", "kind"],
            )?,
            events: icv(
                &r,
                "llmtap_events_total",
                "Events by delivery outcome: emitted = sent + failed + dropped + abandoned_on_shutdown (+ queued).",
                &["outcome"],
            )?,
            queue_events: ig(
                &r,
                "llmtap_export_queue_events",
                "Events waiting in the export queue.",
            )?,
            queue_bytes: ig(
                &r,
                "llmtap_export_queue_bytes",
                "Bytes waiting in the export queue.",
            )?,
            queue_max_bytes: ig(
                &r,
                "llmtap_export_queue_max_bytes",
                "Byte capacity of the export queue.",
            )?,
            circuit_state: ig(
                &r,
                "llmtap_sink_circuit_state",
                "Sink circuit breaker: 0 closed, 1 half-open, 2 open.",
            )?,
            batches: icv(
                &r,
                "llmtap_sink_batches_total",
                "Batches by outcome: sent, failed.",
                &["outcome"],
            )?,
            retries: {
                let c = IntCounter::new(
                    "llmtap_sink_retries_total",
                    "Batch send attempts after the first.",
                )?;
                r.register(Box::new(c.clone()))?;
                c
            },
            pricing_age: {
                let g = prometheus::Gauge::new(
                    "llmtap_pricing_age_seconds",
                    "Age of the pricing table in seconds (promtool requires base units, so not days).",
                )?;
                r.register(Box::new(g.clone()))?;
                g
            },
            registry: r,
        };
        for outcome in [
            "emitted",
            "sent",
            "failed",
            "dropped",
            "abandoned_on_shutdown",
        ] {
            m.events.with_label_values(&[outcome]);
        }
        Ok(m)
    }

    /// The Prometheus text exposition (format 0.0.4) of every family.
    pub fn render(&self) -> String {
        let families = self.registry.gather();
        TextEncoder::new()
            .encode_to_string(&families)
            .unwrap_or_else(|e| format!("# encode error: {e}\n"))
    }

    /// The registry, for callers that want to add their own families.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}
