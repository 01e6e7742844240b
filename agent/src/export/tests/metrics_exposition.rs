//! Metrics exposition: every family present and valid for `promtool check metrics`, label
//! cardinality capped with `_other` and counted, self-metric setters monotonic.

use std::io::Write;
use std::process::{Command, Stdio};

use super::observation;
use crate::export::config::LabelConfig;
use crate::export::event::Observation;
use crate::export::metrics::{CaptureCounters, ExportMetrics};

fn metrics(cap: usize, workload_labels: bool) -> ExportMetrics {
    ExportMetrics::new(&LabelConfig {
        max_values_per_label: cap,
        max_value_len: 32,
        workload_labels,
    })
    .expect("registers")
}

fn populated() -> ExportMetrics {
    let m = metrics(200, true);
    m.observe(&observation("gpt-4o"));
    m.observe(&Observation {
        provider: "anthropic".into(),
        operation: "chat".into(),
        status_class: "5xx".into(),
        error_type: Some("overloaded_error".into()),
        ..Observation::default()
    });
    m.observe(&Observation {
        usage_reported: true,
        cost_usd: None,
        input_tokens: Some(10),
        ..observation("mystery-model")
    });
    m.set_capture_counters(&CaptureCounters {
        calls: 10,
        bytes_seen: 1000,
        bytes_delivered: 900,
        lost_ringbuf_full: 100,
        chunks_received: 10,
        targets_attached: 2,
        ..CaptureCounters::default()
    });
    m.inc_parse_error("llm", "bad_json");
    m.set_pricing_age_days(3.5);
    m
}

#[test]
fn exposition_has_every_family() {
    let text = populated().render();
    for name in [
        "gen_ai_client_token_usage_bucket{",
        "gen_ai_client_operation_duration_seconds_bucket{",
        "gen_ai_client_operation_time_to_first_chunk_seconds_bucket{",
        "llmtap_tokens_total{",
        "token_type=\"cache_read\"",
        "llmtap_cost_usd_total{",
        "llmtap_requests_total{",
        "llmtap_usage_unreported_total{",
        "llmtap_unpriced_requests_total{",
        "llmtap_ratelimit_remaining_requests{",
        "llmtap_ratelimit_remaining_tokens{",
        "llmtap_cache_breaks_total{",
        "llmtap_cache_wasted_usd_total{",
        "llmtap_capture_calls_total 10",
        "llmtap_capture_lost_bytes_total{reason=\"ringbuf_full\"} 100",
        "llmtap_capture_targets{state=\"attached\"} 2",
        "llmtap_parse_errors_total{kind=\"bad_json\",stage=\"llm\"} 1",
        "llmtap_events_total{outcome=\"abandoned_on_shutdown\"} 0",
        "llmtap_export_queue_bytes 0",
        "llmtap_sink_circuit_state 0",
        "llmtap_pricing_age_seconds 302400",
        "llmtap_build_info{version=",
        "le=\"67108864\"",
        "le=\"81.92\"",
        "namespace=\"team-a\"",
        "model=\"_none\"",
    ] {
        assert!(text.contains(name), "missing {name} in\n{text}");
    }
    assert!(!text.contains("=\"\""), "no empty label values");
}

#[test]
fn capture_counters_advance_by_delta() {
    let m = metrics(200, false);
    let mut c = CaptureCounters {
        calls: 5,
        ..CaptureCounters::default()
    };
    m.set_capture_counters(&c);
    c.calls = 8;
    m.set_capture_counters(&c);
    c.calls = 2; // source restarted: never decrease
    m.set_capture_counters(&c);
    c.calls = 4;
    m.set_capture_counters(&c);
    assert!(m.render().contains("llmtap_capture_calls_total 10\n"));
}

#[test]
fn cardinality_is_capped_per_label() {
    let m = metrics(3, false);
    for i in 0..10 {
        m.observe(&observation(&format!("model-{i}\u{1b}[31m")));
    }
    // Hostile long value: bounded length.
    m.observe(&observation(&"x".repeat(10_000)));
    let text = m.render();
    let models: std::collections::HashSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("llmtap_requests_total{"))
        .filter_map(|l| l.split("model=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(models.len(), 4, "3 distinct + _other: {models:?}");
    assert!(models.contains("_other"));
    assert!(
        models
            .iter()
            .all(|v| !v.contains('\u{1b}') && v.len() <= 32)
    );
    assert!(text.contains("llmtap_label_overflow_total{label=\"model\"}"));
    assert!(text.contains("llmtap_label_overflow_total{label=\"gen_ai_request_model\"}"));
}

#[test]
fn promtool_check_metrics() {
    let text = populated().render();
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if !ci => {
            println!("promtool not available ({e}); skipping exposition lint");
            return;
        }
        Err(e) => panic!("CI=true requires promtool: {e}"),
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
