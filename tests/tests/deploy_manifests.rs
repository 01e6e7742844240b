//! The deployment kit against the agent: every metric name the Grafana dashboard and the
//! alert rules use exists in the agent's exposition; the ConfigMap's TOML is accepted by the
//! agent's config structs; and `deploy/validate.sh` (chart rendering, equality with the plain
//! manifests, Kubernetes schema validation) passes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use llmtap::config::AgentConfig;
use llmtap::export::delivery::SendFuture;
use llmtap::export::{CaptureCounters, EncodedEvent, ExportConfig, Observation, Transport};

/// A sink that accepts every batch.
struct Accept;

impl Transport for Accept {
    fn kind(&self) -> &'static str {
        "test"
    }
    fn send<'a>(&'a self, _batch: &'a [EncodedEvent]) -> SendFuture<'a> {
        Box::pin(async { Ok(()) })
    }
}

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn read(rel: &str) -> String {
    let p = deploy().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every `llmtap_*` / `gen_ai_*` identifier in `text`.
fn metric_tokens(text: &str) -> BTreeSet<String> {
    let b = text.as_bytes();
    let ident = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_';
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i < b.len() {
        let starts = text[i..].starts_with("llmtap_") || text[i..].starts_with("gen_ai_");
        if starts && (i == 0 || !(ident(b[i - 1]) || b[i - 1].is_ascii_uppercase())) {
            let end = (i..b.len()).find(|&j| !ident(b[j])).unwrap_or(b.len());
            out.insert(text[i..end].to_string());
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// An exposition with every family populated, from a real exporter (no HTTP server) with an
/// accepting sink: priced, unpriced and usage-less observations, a label over its cap,
/// delivered events, capture counters with loss, a parse error, the pricing age.
async fn exposition() -> String {
    let mut cfg = ExportConfig {
        metrics_addr: None,
        ..ExportConfig::default()
    };
    cfg.labels.workload_labels = true;
    cfg.labels.max_values_per_label = 2;
    let exporter = llmtap::export::start_with_transport(cfg, Arc::new(Accept))
        .await
        .expect("exporter");
    let m = exporter.metrics().clone();
    let priced = Observation {
        provider: "openai".into(),
        request_model: Some("gpt-4o".into()),
        response_model: Some("gpt-4o-2024-08-06".into()),
        operation: "chat".into(),
        status_class: "2xx".into(),
        usage_reported: true,
        input_tokens: Some(100),
        output_tokens: Some(20),
        cache_read_tokens: Some(50),
        cache_creation_tokens: Some(10),
        reasoning_tokens: Some(5),
        cost_usd: Some(0.01),
        duration_s: Some(1.2),
        ttft_s: Some(0.3),
        streaming: true,
        rate_limit_remaining_requests: Some(99.0),
        rate_limit_remaining_tokens: Some(10_000.0),
        namespace: Some("team-a".into()),
        workload: Some("chat-api".into()),
        cache_break_reason: Some("prefix_changed".into()),
        cache_wasted_usd: Some(0.002),
        ..Observation::default()
    };
    m.observe(&priced);
    m.observe(&Observation {
        cost_usd: None,
        ..priced.clone()
    });
    m.observe(&Observation {
        usage_reported: false,
        error_type: Some("timeout".into()),
        ..priced.clone()
    });
    for model in ["m1", "m2", "m3"] {
        let obs = Observation {
            response_model: Some(model.into()),
            ..priced.clone()
        };
        exporter.submit(EncodedEvent::new(&b"{}"[..], "llm_call"), &obs);
    }
    m.set_capture_counters(&CaptureCounters {
        calls: 10,
        bytes_seen: 1000,
        bytes_delivered: 900,
        lost_over_max: 25,
        lost_ringbuf_full: 25,
        lost_read_fault: 25,
        lost_conn_table_full: 25,
        chunks_received: 9,
        chunks_dropped: 1,
        gap_bytes: 3,
        targets_attached: 2,
        targets_failed: 1,
    });
    m.inc_parse_error("llm", "bad_json");
    m.set_pricing_age_days(3.0);
    exporter.shutdown(Duration::from_secs(5)).await;
    m.render()
}

/// A sample name (`name{` / `name `) or a label name (`{name=` / `,name=`) of the exposition.
fn exists(expo: &str, name: &str) -> bool {
    expo.lines().any(|l| {
        !l.starts_with('#')
            && (l.starts_with(&format!("{name}{{"))
                || l.starts_with(&format!("{name} "))
                || l.contains(&format!("{{{name}="))
                || l.contains(&format!(",{name}=")))
    })
}

#[tokio::test]
async fn dashboard_and_rule_metric_names_exist_in_the_exposition() {
    let expo = exposition().await;
    let dashboard = read("observability/grafana-dashboard.json");
    serde_json::from_str::<serde_json::Value>(&dashboard).expect("dashboard is JSON");
    let rules = read("observability/prometheusrule.yaml");
    for (file, text) in [("dashboard", &dashboard), ("rules", &rules)] {
        let names = metric_tokens(text);
        assert!(names.len() >= 4, "{file}: too few metric names {names:?}");
        let missing: Vec<_> = names.iter().filter(|n| !exists(&expo, n)).collect();
        assert!(
            missing.is_empty(),
            "{file} uses names the agent does not export: {missing:?}"
        );
    }
    let in_rules = metric_tokens(&rules);
    for required in [
        "llmtap_cost_usd_total",
        "llmtap_capture_lost_bytes_total",
        "llmtap_sink_circuit_state",
        "llmtap_unpriced_requests_total",
    ] {
        assert!(in_rules.contains(required), "rules lack {required}");
    }
    let in_dash = metric_tokens(&dashboard);
    for required in [
        "llmtap_cost_usd_total",
        "llmtap_tokens_total",
        "llmtap_cache_wasted_usd_total",
        "gen_ai_client_operation_duration_seconds_bucket",
        "gen_ai_client_operation_time_to_first_chunk_seconds_bucket",
        "llmtap_capture_lost_bytes_total",
    ] {
        assert!(in_dash.contains(required), "dashboard lacks {required}");
    }
}

#[tokio::test]
async fn metric_token_scanner_sees_names_not_alert_names() {
    let t = metric_tokens(
        "alert: LlmtapX\nexpr: rate(llmtap_a_total[5m]) by (gen_ai_x)\n# llmtap.spend",
    );
    let want: BTreeSet<String> = ["llmtap_a_total", "gen_ai_x"].map(String::from).into();
    assert_eq!(t, want);
    assert!(!exists(&exposition().await, "llmtap_no_such_metric"));
}

/// The `config.toml` block of the ConfigMap, de-indented.
fn configmap_toml() -> String {
    let yaml = read("kubernetes/20-config.yaml");
    let mut lines = yaml
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("config.toml: |"));
    lines.next();
    lines
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn configmap_toml_is_accepted_by_the_agent_config_structs() {
    let text = configmap_toml();
    let table: toml::Table = toml::from_str(&text).expect("config.toml is TOML");
    // [agent] through the agent's own parser and validation.
    let mut agent_only = toml::Table::new();
    agent_only.insert("agent".into(), table["agent"].clone());
    let cfg = AgentConfig::parse(&toml::to_string(&agent_only).expect("toml")).expect("[agent]");
    cfg.validate().expect("valid");
    assert_eq!(cfg.agent.state_dir, Path::new("/var/lib/llmtap"));
    // [export] through the export stage's struct (deny_unknown_fields) and validation.
    let export: ExportConfig = table["export"].clone().try_into().expect("[export]");
    export.validate().expect("valid export config");
    assert_eq!(
        export.metrics_addr.map(|a| a.to_string()).as_deref(),
        Some("0.0.0.0:9464")
    );
    assert!(export.labels.workload_labels);
    // [privacy] belongs to the privacy stage (not merged yet): only its key is checked here.
    assert_eq!(
        table["privacy"]["salt_file"].as_str(),
        Some("/etc/llmtap/salt/salt")
    );
}

#[test]
fn deploy_validate_script_passes() {
    if std::env::var_os("LLMTAP_SKIP_DEPLOY_VALIDATE").is_some() {
        eprintln!("skipped: LLMTAP_SKIP_DEPLOY_VALIDATE is set");
        return;
    }
    let out = std::process::Command::new("bash")
        .arg(deploy().join("validate.sh"))
        .output()
        .expect("run deploy/validate.sh");
    assert!(
        out.status.success(),
        "deploy/validate.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
