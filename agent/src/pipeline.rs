//! The pipeline driver: pushes capture events through the stages in order —
//! reassembly → llm → pricing → privacy/event → insights — and hands each finished event,
//! encoded, to the caller. Owns the stage instances and their counters; owns no stage logic.
//!
//! It is synchronous on purpose: the caller feeds it from the capture queue (see [`run`]) and
//! decides where events go (the exporter in `llmtap run`, a vector in tests).

use std::{path::Path, time::SystemTime};

use serde::Serialize;

use std::sync::Arc;

use crate::{
    attribution::{Attribution, Attributor},
    capture::CaptureEvent,
    config::AgentConfig,
    event::{self, ExchangeMeta, LlmEvent, Workload},
    export::Observation,
    insights::{self, Analyzer, HistoryKey, PriceView, PromptShape, SegmentDigest, UsageView},
    llm::{self, LlmCall, LlmConfig, LlmStats, Outcome},
    privacy::{Privacy, PrivacyStats},
    reassembly::{Exchange, Reassembler},
};

/// Errors building the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The hashing salt could not be loaded or created.
    #[error("hashing salt: {0}")]
    Salt(String),
    /// The insights configuration is invalid.
    #[error("insights: {0}")]
    Insights(String),
}

/// Counters of what went through the pipeline (all monotonic).
#[derive(Clone, Debug, Default, Serialize)]
pub struct PipelineCounters {
    /// Capture events received.
    pub capture_events: u64,
    /// Chunks received.
    pub chunks: u64,
    /// Plaintext bytes received.
    pub bytes: u64,
    /// Exchanges reassembled.
    pub exchanges: u64,
    /// Exchanges that were not LLM traffic.
    pub not_llm: u64,
    /// LLM-looking exchanges no parser understood (counted, not dropped silently).
    pub unrecognised: u64,
    /// LLM calls turned into events.
    pub events: u64,
}

/// One finished event: the value, its NDJSON line, and the metrics view of it.
#[derive(Clone, Debug)]
pub struct Emitted {
    /// The event.
    pub event: LlmEvent,
    /// `event.to_ndjson_line()`.
    pub line: Vec<u8>,
    /// What the metrics record of it.
    pub observation: Observation,
}

/// The stages, wired.
pub struct Pipeline {
    reassembler: Reassembler,
    llm: LlmConfig,
    llm_stats: LlmStats,
    prices: pricing::PriceTable,
    privacy: Privacy,
    privacy_stats: PrivacyStats,
    insights: Analyzer,
    counters: PipelineCounters,
    exchanges: Vec<Exchange>,
    attributor: Option<Arc<Attributor>>,
}

impl Pipeline {
    /// Build every stage from the configuration; the salt lives in `state_dir` unless
    /// configured otherwise.
    pub fn new(cfg: &AgentConfig, state_dir: &Path) -> Result<Pipeline, PipelineError> {
        let mut privacy_stats = PrivacyStats::default();
        let privacy = Privacy::load(&cfg.privacy, state_dir, &mut privacy_stats)
            .map_err(|e| PipelineError::Salt(e.to_string()))?;
        Self::with_privacy(cfg, privacy, privacy_stats)
    }

    /// Build with an explicit privacy stage (tests pass a fixed salt).
    pub fn with_privacy(
        cfg: &AgentConfig,
        privacy: Privacy,
        privacy_stats: PrivacyStats,
    ) -> Result<Pipeline, PipelineError> {
        let prices = cfg.pricing.load_table();
        let insights = Analyzer::new(cfg.insights.clone())
            .map_err(|e| PipelineError::Insights(e.to_string()))?;
        Ok(Pipeline {
            reassembler: Reassembler::new(cfg.reassembly.clone()),
            llm: cfg.llm.clone(),
            llm_stats: LlmStats::default(),
            prices,
            privacy,
            privacy_stats,
            insights,
            counters: PipelineCounters::default(),
            exchanges: Vec::new(),
            attributor: None,
        })
    }

    /// Attribute events to workloads (Kubernetes pod/namespace/owner, container, or process).
    pub fn set_attributor(&mut self, attributor: Arc<Attributor>) {
        self.attributor = Some(attributor);
    }

    /// Feed one capture event; finished events are appended to `out`.
    pub fn on_capture(&mut self, ev: CaptureEvent, out: &mut Vec<Emitted>) {
        self.counters.capture_events += 1;
        match &ev {
            CaptureEvent::Chunk(c) => {
                self.counters.chunks += 1;
                self.counters.bytes += c.data.len() as u64;
            }
            CaptureEvent::ProcessExit { pid, .. } => {
                if let Some(a) = &self.attributor {
                    a.forget(*pid);
                }
            }
            _ => {}
        }
        let mut exchanges = std::mem::take(&mut self.exchanges);
        self.reassembler.on_event(ev, &mut exchanges);
        // Most chunks complete no exchange.
        if !exchanges.is_empty() {
            for ex in exchanges.drain(..) {
                self.on_exchange(&ex, out);
            }
        }
        self.exchanges = exchanges;
    }

    /// Evict idle connections (call periodically with the kernel monotonic clock).
    pub fn on_tick(&mut self, now_ns: u64, out: &mut Vec<Emitted>) {
        let mut exchanges = std::mem::take(&mut self.exchanges);
        self.reassembler.evict_idle(now_ns, &mut exchanges);
        for ex in exchanges.drain(..) {
            self.on_exchange(&ex, out);
        }
        self.exchanges = exchanges;
    }

    /// Shutdown: emit every in-flight exchange (marked incomplete).
    pub fn finish(&mut self, out: &mut Vec<Emitted>) {
        let mut exchanges = std::mem::take(&mut self.exchanges);
        self.reassembler.flush_all(&mut exchanges);
        for ex in exchanges.drain(..) {
            self.on_exchange(&ex, out);
        }
    }

    fn on_exchange(&mut self, ex: &Exchange, out: &mut Vec<Emitted>) {
        self.counters.exchanges += 1;
        let outcome = llm::analyze(ex, &self.llm);
        self.llm_stats.record(&outcome);
        let call = match outcome {
            Outcome::Llm(call) => call,
            Outcome::NotLlm => {
                self.counters.not_llm += 1;
                return;
            }
            Outcome::Unrecognised { reason } => {
                self.counters.unrecognised += 1;
                tracing::debug!(?reason, "LLM-looking exchange not understood");
                return;
            }
        };
        let meta = ExchangeMeta::from_exchange(ex, SystemTime::now());
        let cost = event::price_call(&call, &self.prices);
        let mut ev = event::build_event(&call, &meta, cost.as_ref(), &self.privacy);
        if let Some(a) = &self.attributor {
            ev.workload = workload(a.attribute(ex.process.pid));
        }
        if let Some(shape) = self.prompt_shape(&call, &ev) {
            ev.cache = Some(self.insights.observe(&shape));
        }
        let observation = observation(&call, &ev);
        let line = ev.to_ndjson_line();
        self.counters.events += 1;
        out.push(Emitted {
            event: ev,
            line,
            observation,
        });
    }

    /// The insights stage's view of a request: segment hashes only, never text.
    fn prompt_shape(&self, call: &LlmCall, ev: &LlmEvent) -> Option<PromptShape> {
        let mut segments = Vec::with_capacity(ev.prompt_segments.len());
        for s in &ev.prompt_segments {
            segments.push(SegmentDigest {
                kind: s.kind,
                role: s.role.clone(),
                hash: digest(s.hash.as_deref()?)?,
                chain: digest(s.chain.as_deref()?)?,
                bytes: s.bytes,
                cache_control: s.cache_control,
            });
        }
        if segments.is_empty() {
            return None;
        }
        let model = call
            .request
            .model
            .clone()
            .or_else(|| call.response.model.clone())?;
        let provider = call.provider.as_str().to_string();
        let prices = self
            .prices
            .lookup(&provider, &model)
            .map(|r| PriceView::from(&r.entry.rates));
        let observed_at_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Some(PromptShape {
            key: HistoryKey {
                workload: workload_key(ev),
                provider,
                model_family: model_family(&model),
            },
            model,
            observed_at_ms,
            segments,
            automatic_cache: call.request.cache_control.map(|c| c.ttl),
            usage: UsageView {
                reported: call.usage.reported,
                input_tokens: call.usage.input_tokens,
                cache_read_input_tokens: call.usage.cache_read_input_tokens,
                cache_creation_input_tokens: call.usage.cache_creation_input_tokens,
            },
            prices,
        })
    }

    /// Counters.
    pub fn counters(&self) -> &PipelineCounters {
        &self.counters
    }

    /// A JSON view of every stage's counters, for the status file.
    pub fn status(&self) -> serde_json::Value {
        serde_json::json!({
            "pipeline": self.counters,
            "reassembly": serde_json::to_value(self.reassembler.stats()).unwrap_or_default(),
            "llm": llm_stats_json(&self.llm_stats),
            "privacy": {
                "invalid_mode_fallbacks": self.privacy_stats.invalid_mode_fallbacks,
                "invalid_ack_values": self.privacy_stats.invalid_ack_values,
                "snippets_not_acknowledged": self.privacy_stats.snippets_not_acknowledged,
            },
            "insights": self.insights.history_stats().entries,
        })
    }

    /// Pricing table age in days, for the staleness warning and metric.
    pub fn pricing_age_days(&self) -> Option<i64> {
        pricing::Date::today_utc().map(|today| self.prices.age_days(today))
    }
}

/// The event's `workload` object from an attribution (`None` when nothing is known).
fn workload(a: Attribution) -> Option<Workload> {
    let w = Workload {
        namespace: a.namespace,
        pod: a.pod,
        kind: a.workload_kind,
        name: a.workload_name,
        container_id: a.container_id,
    };
    (w != Workload::default()).then_some(w)
}

fn llm_stats_json(s: &LlmStats) -> serde_json::Value {
    let map = |m: Vec<(String, u64)>| {
        m.into_iter()
            .map(|(k, v)| (k, serde_json::Value::from(v)))
            .collect::<serde_json::Map<String, serde_json::Value>>()
    };
    serde_json::json!({
        "not_llm": s.not_llm,
        "usage_not_reported": s.usage_not_reported,
        "recognised": map(s.recognised.iter().map(|(k, v)| (k.as_str().to_string(), *v)).collect()),
        "unrecognised": map(s.unrecognised.iter().map(|(k, v)| (format!("{k:?}"), *v)).collect()),
        "parse_errors": map(s.parse_errors.iter().map(|(k, v)| (k.to_string(), *v)).collect()),
    })
}

/// The workload key of an event for cache history: the attributed workload when known,
/// otherwise the process name.
fn workload_key(ev: &LlmEvent) -> String {
    ev.workload
        .as_ref()
        .and_then(|w| w.name.clone().or_else(|| w.container_id.clone()))
        .unwrap_or_else(|| ev.process_comm.clone())
}

/// A model's family for cache history: lower-cased, with a trailing date snapshot removed
/// (`claude-sonnet-4-5-20250929` and `claude-sonnet-4-5` share a cache history).
fn model_family(model: &str) -> String {
    let m = model.to_ascii_lowercase();
    let bytes = m.as_bytes();
    // -YYYYMMDD
    if bytes.len() > 9
        && bytes[bytes.len() - 9] == b'-'
        && bytes[bytes.len() - 8..].iter().all(u8::is_ascii_digit)
    {
        return m[..m.len() - 9].to_string();
    }
    // -YYYY-MM-DD
    if bytes.len() > 11 {
        let tail = &bytes[bytes.len() - 11..];
        let shape = tail[0] == b'-' && tail[5] == b'-' && tail[8] == b'-';
        let digits = [1, 2, 3, 4, 6, 7, 9, 10]
            .iter()
            .all(|&i| tail[i].is_ascii_digit());
        if shape && digits {
            return m[..m.len() - 11].to_string();
        }
    }
    m
}

/// Parse the first 16 bytes of a hex digest.
fn digest(hex: &str) -> Option<[u8; 16]> {
    let bytes = hex.as_bytes();
    if bytes.len() < 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        let hi = (bytes[2 * i] as char).to_digit(16)?;
        let lo = (bytes[2 * i + 1] as char).to_digit(16)?;
        *o = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// The metrics view of a call and its event.
pub fn observation(call: &LlmCall, ev: &LlmEvent) -> Observation {
    let status = call.response.status;
    let status_class = match status {
        0 => "none".to_string(),
        s => format!("{}xx", s / 100),
    };
    let ns = |n: Option<u64>| n.map(|v| v as f64 / 1e9);
    let (cache_break_reason, cache_wasted_usd) = match &ev.cache {
        Some(c)
            if c.status == insights::CacheStatus::Break
                || c.reason == insights::CacheReason::TtlExpired =>
        {
            (Some(c.reason.as_str().to_string()), c.wasted_usd_high)
        }
        _ => (None, None),
    };
    Observation {
        provider: call.provider.as_str().to_string(),
        request_model: ev.request_model.clone(),
        response_model: ev.response_model.clone(),
        operation: call.operation.as_str().to_owned(),
        status_class,
        error_type: ev.error_type.clone(),
        usage_reported: call.usage.reported,
        input_tokens: call.usage.input_tokens,
        output_tokens: call.usage.output_tokens,
        cache_read_tokens: call.usage.cache_read_input_tokens,
        cache_creation_tokens: call.usage.cache_creation_input_tokens,
        reasoning_tokens: call.usage.reasoning_output_tokens,
        cost_usd: ev.cost_usd,
        duration_s: ns(call.timing.duration_ns),
        ttft_s: ns(call.timing.time_to_first_chunk_ns),
        streaming: call.request.stream,
        rate_limit_remaining_requests: call
            .response
            .rate_limit
            .remaining_requests
            .map(|v| v as f64),
        rate_limit_remaining_tokens: call.response.rate_limit.remaining_tokens.map(|v| v as f64),
        namespace: ev.workload.as_ref().and_then(|w| w.namespace.clone()),
        workload: ev.workload.as_ref().and_then(|w| w.name.clone()),
        cache_break_reason,
        cache_wasted_usd,
    }
}

/// Drive `pipeline` from the capture queue until it closes, handing each finished event to
/// `emit`. Idle connections are evicted every `tick` events' worth of time.
pub async fn run(
    mut rx: crate::capture::CaptureReceiver,
    pipeline: &mut Pipeline,
    mut emit: impl FnMut(Emitted),
    mut after_batch: impl FnMut(&Pipeline),
) {
    let mut batch = Vec::with_capacity(256);
    let mut out = Vec::new();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, 256) => {
                if n == 0 {
                    break;
                }
                for ev in batch.drain(..) {
                    pipeline.on_capture(ev, &mut out);
                }
            }
            _ = tick.tick() => pipeline.on_tick(monotonic_ns(), &mut out),
        }
        for e in out.drain(..) {
            emit(e);
        }
        after_batch(pipeline);
    }
    pipeline.finish(&mut out);
    for e in out.drain(..) {
        emit(e);
    }
    after_batch(pipeline);
}

/// CLOCK_MONOTONIC in ns, the clock of the kernel timestamps.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_family_drops_date_snapshots() {
        assert_eq!(
            model_family("claude-sonnet-4-5-20250929"),
            "claude-sonnet-4-5"
        );
        assert_eq!(model_family("GPT-4o-2024-08-06"), "gpt-4o");
        assert_eq!(model_family("gpt-4o"), "gpt-4o");
        assert_eq!(model_family("x-1"), "x-1");
    }

    #[test]
    fn digests_parse_and_reject_garbage() {
        assert_eq!(
            digest("00112233445566778899aabbccddeeff"),
            Some([
                0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                0xee, 0xff
            ])
        );
        assert_eq!(digest("zz112233445566778899aabbccddeeff"), None);
        assert_eq!(digest("0011"), None);
    }
}
