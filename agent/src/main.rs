//! `llmtap`: the command line. Parses arguments, loads configuration, and hands over to the
//! library; owns no pipeline logic.

use std::{path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use llmtap::{capture, check, config::AgentConfig, pipeline, status};

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
    /// Print the running agent's counters (capture accounting and pipeline).
    Status {
        /// State directory of the running agent.
        #[arg(long, default_value = "/var/lib/llmtap")]
        state_dir: PathBuf,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| {
        eprintln!("invalid --log filter {:?}; using info", cli.log);
        tracing_subscriber::EnvFilter::new("info")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Check { json } => return check_cmd(json),
        Command::Targets { json, state_dir } => targets(json, &state_dir),
        Command::Status { state_dir } => status_cmd(&state_dir),
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
    cfg.validate()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run_async(cfg))
}

async fn run_async(cfg: AgentConfig) -> anyhow::Result<()> {
    status::ensure_state_dir(&cfg.agent.state_dir).with_context(|| {
        format!(
            "cannot create state directory {}",
            cfg.agent.state_dir.display()
        )
    })?;
    let (handle, rx) = capture::start(cfg.capture.clone()).await?;
    let handle = Arc::new(handle);
    let counters = Arc::new(std::sync::Mutex::new(pipeline::PipelineCounters::default()));
    let shared = counters.clone();
    let pipe = tokio::spawn(pipeline::run(rx, move |c| {
        if let Ok(mut s) = shared.lock() {
            *s = c.clone();
        }
    }));
    tracing::info!(state_dir = %cfg.agent.state_dir.display(), "llmtap running; Ctrl-C to stop");
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut tick = tokio::time::interval(Duration::from_secs(cfg.agent.status_interval_secs));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = sigterm.recv() => break,
            _ = tick.tick() => write_status(&cfg, &handle, &counters),
        }
    }
    tracing::info!("stopping: detaching probes and draining");
    let handle =
        Arc::try_unwrap(handle).map_err(|_| anyhow::anyhow!("capture handle still shared"))?;
    let final_status = handle.stop().await;
    let pipeline = pipe.await.unwrap_or_default();
    let k = final_status.kernel;
    tracing::info!(
        calls = k.calls,
        bytes_seen = k.bytes_seen,
        bytes_delivered = k.bytes_delivered,
        bytes_lost = k.bytes_lost(),
        balanced = k.balanced(),
        chunks_received = final_status.user.chunks_received,
        chunks_dropped = final_status.user.chunks_dropped_queue_full,
        pipeline_chunks = pipeline.chunks,
        "final accounting"
    );
    let _ = std::fs::remove_file(status::path(&cfg.agent.state_dir));
    Ok(())
}

fn write_status(
    cfg: &AgentConfig,
    handle: &capture::CaptureHandle,
    counters: &std::sync::Mutex<pipeline::PipelineCounters>,
) {
    let doc = status::StatusDoc {
        pid: std::process::id(),
        written_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        capture: serde_json::to_value(handle.status()).unwrap_or_default(),
        pipeline: counters
            .lock()
            .map(|c| serde_json::to_value(&*c).unwrap_or_default())
            .unwrap_or_default(),
    };
    if let Err(e) = status::write(&cfg.agent.state_dir, &doc) {
        tracing::warn!(error = %e, "cannot write status file");
    }
}
