//! `llmtap`: the command line. Parses arguments, loads configuration, and hands over to the
//! library; owns no pipeline logic.

use std::{path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use llmtap::{capture, check, config::AgentConfig, export, insights, pipeline, status};

#[derive(Parser)]
#[command(
    name = "llmtap",
    version,
    about = "See what your LLM traffic costs, from the kernel, with no change to applications"
)]
struct Cli {
    /// Log filter (tracing syntax), e.g. `info` or `llmtap=debug`. Logs never contain payloads.
    #[arg(long, global = true, env = "LLMTAP_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Capture TLS traffic of every process and report LLM calls (needs root or CAP_BPF + CAP_PERFMON).
    Run(RunArgs),
    /// Preflight: kernel, BTF, privileges, TLS libraries; exits non-zero if anything fails.
    Check {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// List the TLS libraries the running agent found and whether each is attached.
    Targets {
        /// JSON output.
        #[arg(long)]
        json: bool,
        /// State directory of the running agent.
        #[arg(long, default_value = "/var/lib/llmtap")]
        state_dir: PathBuf,
    },
    /// Rank what breaks prompt caching, by money wasted, from an NDJSON events file (or stdin).
    Report {
        /// Events file (NDJSON, as written by the stdout or file sink); stdin when absent.
        #[arg(long)]
        events: Option<PathBuf>,
        /// `table` or `json`.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Inspect the price table.
    Pricing {
        #[command(subcommand)]
        command: PricingCommand,
    },
    /// Print the running agent's counters (capture accounting and pipeline).
    Status {
        /// State directory of the running agent.
        #[arg(long, default_value = "/var/lib/llmtap")]
        state_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum PricingCommand {
    /// The entry a model resolves to, and why it matched.
    Show {
        /// Model name as it appears in traffic (e.g. `gpt-4o-2024-08-06`).
        model: String,
        /// Provider (`openai`, `anthropic`, `aws.bedrock`, `azure.ai.openai`, …).
        #[arg(long, default_value = "openai")]
        provider: String,
        /// Configuration file whose `[pricing]` section adds override/LiteLLM files.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate an override file (llmtap or LiteLLM format); errors name the line and field.
    Check {
        /// The file.
        file: PathBuf,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Configuration file (TOML); without one, the embedded defaults apply.
    #[arg(long, short, env = "LLMTAP_CONFIG")]
    config: Option<PathBuf>,
    /// Override `agent.state_dir`.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Override `capture.ring_bytes`.
    #[arg(long)]
    ring_bytes: Option<u32>,
    /// Override `capture.chunk_size`.
    #[arg(long)]
    chunk_size: Option<u32>,
    /// Override `capture.max_capture_per_call`.
    #[arg(long)]
    max_capture_per_call: Option<u64>,
    /// Event sink: `stdout`, `file:PATH`, `http(s)://…`, `otlp+http(s)://host:port/v1/logs`.
    #[arg(long)]
    sink: Option<String>,
    /// Metrics server address (`HOST:PORT`, or `off`); default 127.0.0.1:9464.
    #[arg(long)]
    metrics_addr: Option<String>,
    /// How long shutdown may drain the sink, in milliseconds (default 5000).
    #[arg(long)]
    drain_timeout_ms: Option<u64>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| {
        eprintln!("invalid --log filter {:?}; using info", cli.log);
        tracing_subscriber::EnvFilter::new("info")
    });
    // Colour only on a terminal: logs collected from files or by Kubernetes stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Check { json } => return check_cmd(json),
        Command::Targets { json, state_dir } => targets(json, &state_dir),
        Command::Status { state_dir } => status_cmd(&state_dir),
        Command::Report { events, format } => report_cmd(events, &format),
        Command::Pricing { command } => pricing_cmd(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("llmtap: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check_cmd(json: bool) -> ExitCode {
    let checks = check::run(&check::Inputs::gather());
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&checks).unwrap_or_default()
        );
    } else {
        print!("{}", check::render(&checks));
    }
    if checks.iter().all(|c| c.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn targets(json: bool, state_dir: &std::path::Path) -> anyhow::Result<()> {
    let doc = status::read(state_dir).map_err(anyhow::Error::msg)?;
    let targets = doc.capture.get("targets").cloned().unwrap_or_default();
    if json {
        println!("{}", serde_json::to_string_pretty(&targets)?);
        return Ok(());
    }
    let list: Vec<capture::attach::TargetStatusView> =
        serde_json::from_value(targets).unwrap_or_default();
    println!(
        "{:<9} {:<15} {:>10} {:<6} PATH (pids)",
        "STATE", "KIND", "INODE", "PROBES"
    );
    for t in list {
        println!(
            "{:<9} {:<15} {:>10} {:<6} {} {:?}{}",
            t.state,
            t.kind,
            t.file.ino,
            t.probes.len(),
            t.path,
            t.pids,
            t.error
                .map(|e| format!("\n          error: {e}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

fn status_cmd(state_dir: &std::path::Path) -> anyhow::Result<()> {
    let doc = status::read(state_dir).map_err(anyhow::Error::msg)?;
    let view = serde_json::json!({
        "pid": doc.pid,
        "written_at": doc.written_at,
        "kernel": doc.capture.get("kernel"),
        "user": doc.capture.get("user"),
        "pipeline": doc.pipeline,
    });
    println!("{}", serde_json::to_string_pretty(&view)?);
    Ok(())
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut cfg = AgentConfig::load(args.config.as_deref())?;
    if let Some(d) = args.state_dir {
        cfg.agent.state_dir = d;
    }
    if let Some(v) = args.ring_bytes {
        cfg.capture.ring_bytes = v;
    }
    if let Some(v) = args.chunk_size {
        cfg.capture.chunk_size = v;
    }
    if let Some(v) = args.max_capture_per_call {
        cfg.capture.max_capture_per_call = v;
    }
    if let Some(v) = args.sink {
        cfg.export.sink = v;
    }
    if let Some(v) = args.metrics_addr {
        cfg.export.metrics_addr = if v == "off" {
            None
        } else {
            Some(
                v.parse()
                    .with_context(|| format!("--metrics-addr {v:?} is not HOST:PORT or `off`"))?,
            )
        };
    }
    if let Some(v) = args.drain_timeout_ms {
        cfg.export.drain_timeout_ms = v;
    }
    cfg.validate()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run_async(cfg))
}

async fn run_async(cfg: AgentConfig) -> anyhow::Result<()> {
    let state_dir = cfg.agent.state_dir.clone();
    status::ensure_state_dir(&state_dir)
        .with_context(|| format!("cannot create state directory {}", state_dir.display()))?;
    let mut pipe = pipeline::Pipeline::new(&cfg, &state_dir)?;
    let attributor = Arc::new(llmtap::attribution::Attributor::new(Default::default()));
    match attributor.start_in_cluster() {
        Ok(Some(_)) => tracing::info!("Kubernetes attribution: watching this node's pods"),
        Ok(None) => {
            tracing::info!("not in Kubernetes: events are attributed to containers or processes")
        }
        Err(e) => {
            tracing::warn!(error = %e, "Kubernetes attribution unavailable; falling back to containers and processes")
        }
    }
    pipe.set_attributor(attributor);
    let exporter = Arc::new(export::start(cfg.export.clone()).await?);
    if let Some(age) = pipe.pricing_age_days() {
        exporter.metrics().set_pricing_age_days(age as f64);
        if age > pricing::DEFAULT_STALE_DAYS {
            tracing::warn!(
                age_days = age,
                "the price table is older than 90 days: costs may be stale (docs/pricing.md)"
            );
        }
    }
    let (handle, rx) = capture::start(cfg.capture.clone()).await?;
    exporter.set_ready(true);
    let pipeline_status = Arc::new(std::sync::Mutex::new(serde_json::Value::Null));
    let shared_status = pipeline_status.clone();
    let sink = exporter.clone();
    let pipe_task = tokio::spawn(async move {
        let mut last = std::time::Instant::now();
        pipeline::run(
            rx,
            &mut pipe,
            |e| {
                sink.submit(
                    export::EncodedEvent::new(e.line, "llm.exchange"),
                    &e.observation,
                );
            },
            |p| {
                if last.elapsed() >= Duration::from_secs(1) {
                    last = std::time::Instant::now();
                    if let Ok(mut s) = shared_status.lock() {
                        *s = p.status();
                    }
                }
            },
        )
        .await;
        pipe.status()
    });
    tracing::info!(
        state_dir = %state_dir.display(),
        sink = %cfg.export.sink,
        metrics = ?exporter.metrics_addr(),
        "llmtap running; Ctrl-C to stop"
    );
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut tick = tokio::time::interval(Duration::from_secs(cfg.agent.status_interval_secs));
    let mut stage_errors = StageErrors::default();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = sigterm.recv() => break,
            _ = tick.tick() => {
                let st = handle.status();
                exporter.metrics().set_capture_counters(&capture_counters(&st));
                let pipeline = pipeline_status.lock().map(|v| v.clone()).unwrap_or_default();
                stage_errors.export(&pipeline, exporter.metrics());
                write_status(&state_dir, &st, pipeline);
            }
        }
    }
    tracing::info!("stopping: detaching probes, finishing in-flight exchanges, draining sinks");
    exporter.set_ready(false);
    let final_capture = handle.stop().await;
    exporter
        .metrics()
        .set_capture_counters(&capture_counters(&final_capture));
    let final_pipeline = pipe_task.await.unwrap_or_default();
    let drain = Duration::from_millis(cfg.export.drain_timeout_ms);
    let accounting = exporter.shutdown(drain).await;
    let k = final_capture.kernel;
    tracing::info!(
        calls = k.calls,
        bytes_seen = k.bytes_seen,
        bytes_delivered = k.bytes_delivered,
        bytes_lost = k.bytes_lost(),
        balanced = k.balanced(),
        chunks_received = final_capture.user.chunks_received,
        chunks_dropped = final_capture.user.chunks_dropped_queue_full,
        exchanges = final_pipeline["pipeline"]["exchanges"]
            .as_u64()
            .unwrap_or(0),
        events = final_pipeline["pipeline"]["events"].as_u64().unwrap_or(0),
        emitted = accounting.emitted,
        sent = accounting.sent,
        failed = accounting.failed,
        dropped = accounting.dropped,
        abandoned_on_shutdown = accounting.abandoned_on_shutdown,
        "final accounting"
    );
    eprintln!("{}", export::final_line(&accounting));
    let _ = std::fs::remove_file(status::path(&state_dir));
    Ok(())
}

/// Turns the pipeline's cumulative error counts (reassembly malformed-by-kind, LLM traffic no
/// parser understood) into increments of `llmtap_parse_errors_total{stage,kind}`.
#[derive(Default)]
struct StageErrors {
    seen: std::collections::HashMap<(String, String), u64>,
}

impl StageErrors {
    fn export(&mut self, status: &serde_json::Value, metrics: &export::ExportMetrics) {
        let groups = [
            ("reassembly", &status["reassembly"]["malformed"]),
            ("llm", &status["llm"]["unrecognised"]),
        ];
        for (stage, group) in groups {
            let Some(map) = group.as_object() else {
                continue;
            };
            for (kind, v) in map {
                let now = v.as_u64().unwrap_or(0);
                let before = self
                    .seen
                    .insert((stage.to_string(), kind.clone()), now)
                    .unwrap_or(0);
                for _ in before..now.min(before + 10_000) {
                    metrics.inc_parse_error(stage, kind);
                }
            }
        }
    }
}

fn capture_counters(st: &capture::CaptureStatus) -> export::CaptureCounters {
    let k = &st.kernel;
    let attached = st
        .targets
        .iter()
        .filter(|t| matches!(t.state, capture::attach::TargetState::Attached))
        .count();
    export::CaptureCounters {
        calls: k.calls,
        bytes_seen: k.bytes_seen,
        bytes_delivered: k.bytes_delivered,
        lost_over_max: k.lost_over_max,
        lost_ringbuf_full: k.lost_ringbuf_full,
        lost_read_fault: k.lost_read_fault,
        lost_conn_table_full: k.lost_conn_table_full,
        chunks_received: st.user.chunks_received,
        chunks_dropped: st.user.chunks_dropped_queue_full,
        gap_bytes: st.user.gap_bytes,
        targets_attached: attached as u64,
        targets_failed: (st.targets.len() - attached) as u64,
    }
}

fn write_status(
    state_dir: &std::path::Path,
    capture: &capture::CaptureStatus,
    pipeline: serde_json::Value,
) {
    let doc = status::StatusDoc {
        pid: std::process::id(),
        written_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        capture: serde_json::to_value(capture).unwrap_or_default(),
        pipeline,
    };
    if let Err(e) = status::write(state_dir, &doc) {
        tracing::warn!(error = %e, "cannot write status file");
    }
}

fn report_cmd(events: Option<PathBuf>, format: &str) -> anyhow::Result<()> {
    let format = match format {
        "table" => insights::ReportFormat::Table,
        "json" => insights::ReportFormat::Json,
        other => anyhow::bail!("--format {other:?}: use `table` or `json`"),
    };
    let (values, bad) = match events {
        Some(path) => {
            let f = std::fs::File::open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            insights::report::read_ndjson(std::io::BufReader::new(f))?
        }
        None => insights::report::read_ndjson(std::io::stdin().lock())?,
    };
    if bad > 0 {
        eprintln!("llmtap report: skipped {bad} line(s) that are not events");
    }
    print!("{}", insights::report(values.into_iter(), format));
    Ok(())
}

fn pricing_cmd(cmd: PricingCommand) -> anyhow::Result<()> {
    match cmd {
        PricingCommand::Show {
            model,
            provider,
            config,
        } => {
            let cfg = AgentConfig::load(config.as_deref())?;
            let table = cfg.pricing.load_table();
            let report = table
                .show(&provider, &model)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{report}");
            if let Some(today) = pricing::Date::today_utc() {
                let age = table.age_days(today);
                println!(
                    "table age: {age} days{}",
                    if age > pricing::DEFAULT_STALE_DAYS {
                        " (STALE: update it, see docs/pricing.md)"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
        PricingCommand::Check { file } => {
            let report = pricing::check_file(&file).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{report}");
            Ok(())
        }
    }
}
