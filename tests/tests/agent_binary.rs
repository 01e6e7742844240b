//! End to end (root), the `llmtap` binary: privacy canaries never leave the process in strict
//! mode (events, /metrics, debug logs, state directory); the live /metrics passes
//! `promtool check metrics`; a real Prometheus server scraping the agent agrees with the
//! events on cost and tokens; SIGINT drains and the accounting identity holds; a dead sink
//! does not stop capture.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use tests::{
    bin_agent::{BinAgent, free_port, http_get},
    capture::privileged_or_skip,
    clients,
    llm_server::LlmServer,
};

/// Each test runs a whole-node agent, which sees every other test's traffic too: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const KEY_OPENAI: &str = "sk-proj-CanaryOpenAIKey1234567890abcdefXYZ";
const KEY_ANTHROPIC: &str = "sk-ant-api03-CanaryAnthropicKey987654321zyx";
const AWS_KEY: &str = "AKIACANARY1234567890";
const EMAIL: &str = "canary.person@example.com";
const PHONE: &str = "+1 415 555 0142";
const SENTENCE: &str = "The purple giraffe negotiates quantum marmalade treaties at dawn";
const SECRETS: &[&str] = &[KEY_OPENAI, KEY_ANTHROPIC, AWS_KEY, EMAIL, PHONE];

fn prompt_body(model: &str, stream: bool) -> String {
    format!(
        r#"{{"model":"{model}","stream":{stream},"stream_options":{{"include_usage":true}},"messages":[{{"role":"system","content":"Reply briefly. Contact {EMAIL} or {PHONE}."}},{{"role":"user","content":"{SENTENCE}. My AWS key is {AWS_KEY}."}}]}}"#
    )
}

fn anthropic_body() -> String {
    format!(
        r#"{{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"system":"Contact {EMAIL}","messages":[{{"role":"user","content":"{SENTENCE} {PHONE}"}}]}}"#
    )
}

/// Make the canary calls: OpenAI over HTTP/1.1 and HTTP/2 (streamed), Anthropic streamed.
async fn canary_calls(server: &LlmServer) -> usize {
    let f1 = clients::temp_file(
        "canary-openai.json",
        prompt_body("gpt-4o", false).as_bytes(),
    )
    .expect("file");
    let f2 = clients::temp_file(
        "canary-openai-stream.json",
        prompt_body("gpt-4o-mini", true).as_bytes(),
    )
    .expect("file");
    let f3 =
        clients::temp_file("canary-anthropic.json", anthropic_body().as_bytes()).expect("file");
    let auth = format!("authorization: Bearer {KEY_OPENAI}");
    let xkey = format!("x-api-key: {KEY_ANTHROPIC}");
    let calls: Vec<(&Path, &str, Vec<&str>)> = vec![
        (&f1, "/v1/chat/completions", vec!["--http1.1", "-H", &auth]),
        (
            &f2,
            "/v1/chat/completions",
            vec!["--http2", "-N", "-H", &auth],
        ),
        (
            &f3,
            "/v1/messages",
            vec![
                "--http1.1",
                "-H",
                &xkey,
                "-H",
                "anthropic-version: 2023-06-01",
            ],
        ),
    ];
    let n = calls.len();
    for (file, path, extra) in calls {
        let out = clients::curl_with(&server.url(), path, file, &extra)
            .expect("curl")
            .wait_with_output()
            .await
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    n
}

fn wait_lines(path: &Path, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn assert_no_canary(what: &str, text: &str, also_prompt: bool) {
    for c in SECRETS {
        assert!(!text.contains(c), "{what} contains the canary {c:?}");
    }
    if also_prompt {
        assert!(
            !text.contains("purple giraffe"),
            "{what} contains prompt text"
        );
        assert!(
            !text.contains("quantum marmalade"),
            "{what} contains prompt text"
        );
        assert!(
            !text.contains("Reply briefly"),
            "{what} contains prompt text"
        );
    }
}

fn all_files_text(dir: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        if let Ok(bytes) = std::fs::read(e.path()) {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    out
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn prom_query(port: u16, q: &str) -> Option<f64> {
    let body = http_get(port, &format!("/api/v1/query?query={}", encode(q)));
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_canaries_metrics_prometheus_and_drain() {
    if !privileged_or_skip("agent binary canaries") {
        return;
    }
    let _serial = SERIAL.lock().await;
    let server = LlmServer::start().await.expect("llm server");
    let events_dir = std::env::temp_dir().join(format!("llmtap-sink-{}", std::process::id()));
    std::fs::create_dir_all(&events_dir).expect("dir");
    let events_file = events_dir.join("events.ndjson");
    let sink = format!("file:{}", events_file.display());
    let agent = BinAgent::start("canary", "debug", &["--sink", &sink]);

    // A real Prometheus server scraping the agent every second.
    let prom_port = free_port();
    let prom_dir = std::env::temp_dir().join(format!("llmtap-prom-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&prom_dir);
    std::fs::create_dir_all(&prom_dir).expect("prom dir");
    let prom_cfg = prom_dir.join("prometheus.yml");
    std::fs::write(
        &prom_cfg,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: llmtap\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n", agent.metrics_port),
    )
    .expect("prom config");
    let mut prom = Command::new("prometheus")
        .arg(format!("--config.file={}", prom_cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            prom_dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (Debian package, installed by cargo xtask setup)");

    let n = canary_calls(&server).await;
    let events = wait_lines(&events_file, n);
    assert_eq!(events.len(), n, "one event per call");
    for v in &events {
        if let Err(e) = llmtap::event::validate_event(v) {
            panic!("schema: {e:?}");
        }
        assert_eq!(v["privacy.mode"], "strict");
    }
    let metrics = agent.get("/metrics");
    assert!(metrics.contains("llmtap_cost_usd_total"), "{metrics}");
    assert!(metrics.contains("gen_ai_client_token_usage_bucket"));
    assert!(!agent.get("/healthz").trim().is_empty());
    // promtool on the live scrape.
    let scrape = events_dir.join("scrape.txt");
    std::fs::write(&scrape, &metrics).expect("scrape");
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&scrape).expect("open"))
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Prometheus agrees with the events.
    let cost: f64 = events.iter().filter_map(|v| v["cost.usd"].as_f64()).sum();
    let input: f64 = events
        .iter()
        .filter_map(|v| v["usage.input_tokens"].as_f64())
        .sum();
    assert!(cost > 0.0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got_cost = prom_query(prom_port, "sum(llmtap_cost_usd_total)");
        let got_input = prom_query(prom_port, "sum(llmtap_tokens_total{token_type=\"input\"})");
        if got_cost.is_some_and(|c| (c - cost).abs() <= 1e-9 * cost.max(1.0))
            && got_input == Some(input)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus says cost {got_cost:?} input {got_input:?}, events say {cost} / {input}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = prom.kill();
    let _ = prom.wait();

    // Canaries: nowhere.
    let state_dir = agent.state_dir.clone();
    let (ok, log) = agent.stop();
    assert!(ok, "exit status: {log}");
    assert!(log.contains("final accounting"), "{log}");
    let line = log
        .lines()
        .find(|l| l.starts_with("llmtap export:"))
        .unwrap_or_else(|| panic!("no export line: {log}"));
    assert!(line.contains(&format!("emitted={n} sent={n}")), "{line}");
    assert_no_canary(
        "event sink",
        &std::fs::read_to_string(&events_file).expect("events"),
        true,
    );
    assert_no_canary("/metrics", &metrics, true);
    assert_no_canary("debug log", &log, true);
    assert_no_canary("state directory", &all_files_text(&state_dir), true);
    let _ = std::fs::remove_dir_all(events_dir);
    let _ = std::fs::remove_dir_all(prom_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snippets_mode_keeps_secrets_out() {
    if !privileged_or_skip("agent binary snippets") {
        return;
    }
    let _serial = SERIAL.lock().await;
    let server = LlmServer::start().await.expect("llm server");
    let dir = std::env::temp_dir().join(format!("llmtap-snip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("llmtap.toml");
    std::fs::write(
        &cfg,
        "[privacy]\nmode = \"snippets\"\nacknowledge_snippets_expose_prompt_text = true\n",
    )
    .expect("cfg");
    let events_file = dir.join("events.ndjson");
    let sink = format!("file:{}", events_file.display());
    let agent = BinAgent::start(
        "snippets",
        "debug",
        &["--config", cfg.to_str().expect("utf8"), "--sink", &sink],
    );
    let n = canary_calls(&server).await;
    let events = wait_lines(&events_file, n);
    assert_eq!(events.len(), n);
    assert!(events.iter().all(|v| v["privacy.mode"] == "snippets"));
    let text = std::fs::read_to_string(&events_file).expect("events");
    assert!(
        text.contains("giraffe"),
        "snippets mode shows harmless prompt words"
    );
    let (ok, log) = agent.stop();
    assert!(ok);
    assert_no_canary("event sink (snippets)", &text, false);
    assert_no_canary("debug log (snippets)", &log, false);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_sink_does_not_stop_capture_and_accounting_adds_up() {
    if !privileged_or_skip("dead sink") {
        return;
    }
    let _serial = SERIAL.lock().await;
    let server = LlmServer::start().await.expect("llm server");
    let dead = format!("http://127.0.0.1:{}/ingest", free_port());
    let agent = BinAgent::start(
        "deadsink",
        "info",
        &["--sink", &dead, "--drain-timeout-ms", "1000"],
    );
    let file = clients::temp_file("dead-sink.json", prompt_body("gpt-4o", false).as_bytes())
        .expect("file");
    let mut took = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let out = clients::curl_with(&server.url(), "/v1/chat/completions", &file, &["--http1.1"])
            .expect("curl")
            .wait_with_output()
            .await
            .expect("runs");
        assert!(out.status.success());
        took.push(t.elapsed());
    }
    // The events were produced (metrics count them) even though the sink refuses connections.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = agent.get("/metrics");
        if m.lines()
            .any(|l| l.starts_with("llmtap_requests_total") && l.ends_with(" 5"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "requests not counted: {m}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (ok, log) = agent.stop();
    assert!(ok, "{log}");
    let line = log
        .lines()
        .find(|l| l.starts_with("llmtap export:"))
        .unwrap_or_else(|| panic!("no export line: {log}"));
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX)
    };
    assert_eq!(field("emitted"), 5, "{line}");
    assert_eq!(field("sent"), 0, "{line}");
    assert_eq!(
        field("emitted"),
        field("sent") + field("failed") + field("dropped") + field("abandoned_on_shutdown"),
        "{line}"
    );
    assert!(
        took.iter().all(|t| *t < Duration::from_secs(5)),
        "client latency stayed normal: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_names_the_injected_cache_breaker_first() {
    if !privileged_or_skip("cache report") {
        return;
    }
    let _serial = SERIAL.lock().await;
    let server = LlmServer::start().await.expect("llm server");
    let dir = std::env::temp_dir().join(format!("llmtap-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let events_file = dir.join("events.ndjson");
    let sink = format!("file:{}", events_file.display());
    let agent = BinAgent::start("report", "info", &["--sink", &sink]);
    let script = clients::conversation_script();
    let port = server.addr.port().to_string();
    for (name, mode) in [("support-bot", "stable"), ("billing-agent", "timestamp")] {
        let py = clients::python_named(name).expect("python symlink");
        let out = Command::new(&py)
            .arg(&script)
            .args([port.as_str(), mode, "6"])
            .output()
            .expect("conversation");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let events = wait_lines(&events_file, 12);
    assert_eq!(events.len(), 12, "one event per request");
    let (ok, log) = agent.stop();
    assert!(ok, "{log}");
    let out = Command::new(tests::bin_agent::llmtap_binary())
        .args(["report", "--format", "json", "--events"])
        .arg(&events_file)
        .output()
        .expect("report");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report json");
    let top = &report["breakers"][0];
    assert_eq!(top["workload"], "billing-agent", "{report:#}");
    assert_eq!(top["reason"], "system_changed", "{report:#}");
    assert!(top["requests"].as_u64().unwrap_or(0) >= 5, "{report:#}");
    let support_breaks = report["breakers"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["workload"] == "support-bot")
        .count();
    assert_eq!(
        support_breaks, 0,
        "the stable conversation does not break the cache: {report:#}"
    );
    let table = Command::new(tests::bin_agent::llmtap_binary())
        .args(["report", "--events"])
        .arg(&events_file)
        .output()
        .expect("report");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("billing-agent") && text.contains("system prompt"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
