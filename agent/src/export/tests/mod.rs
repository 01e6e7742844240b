//! Export-stage tests that span modules: delivery under faults (fake transport, paused
//! time), the real HTTP sink against an in-test server double, metrics exposition.

mod delivery_faults;
mod http_double;
mod metrics_exposition;

use super::config::ExportConfig;
use super::event::{EncodedEvent, Observation};

/// Queue byte bound of [`test_config`]: 655 events of 100 bytes.
pub(super) const QUEUE_BYTES: usize = 64 * 1024;

/// A config with no metrics server and small, fast bounds.
pub(super) fn test_config() -> ExportConfig {
    let mut cfg = ExportConfig {
        metrics_addr: None,
        ..ExportConfig::default()
    };
    cfg.batch.max_events = 50;
    cfg.batch.interval_ms = 100;
    cfg.queue.max_bytes = QUEUE_BYTES;
    cfg
}

/// An event of exactly `size` bytes (newline included).
pub(super) fn event(i: usize, size: usize) -> EncodedEvent {
    let mut s = format!("{{\"i\":{i}");
    while s.len() < size.saturating_sub(2) {
        s.push(' ');
    }
    s.push('}');
    EncodedEvent::new(s.into_bytes(), "llm_call")
}

/// A plausible observation.
pub(super) fn observation(model: &str) -> Observation {
    Observation {
        provider: "openai".into(),
        request_model: Some(model.into()),
        response_model: Some(format!("{model}-2024")),
        operation: "chat".into(),
        status_class: "2xx".into(),
        usage_reported: true,
        input_tokens: Some(1200),
        output_tokens: Some(300),
        cache_read_tokens: Some(1000),
        cache_creation_tokens: Some(0),
        reasoning_tokens: Some(100),
        cost_usd: Some(0.0123),
        duration_s: Some(1.7),
        ttft_s: Some(0.4),
        streaming: true,
        rate_limit_remaining_requests: Some(499.0),
        rate_limit_remaining_tokens: Some(29_000.0),
        namespace: Some("team-a".into()),
        workload: Some("chatbot".into()),
        cache_break_reason: Some("system_prompt_changed".into()),
        cache_wasted_usd: Some(0.002),
        ..Observation::default()
    }
}
