//! `cargo xtask bench [NAME] [--strict] [--duration S]`: the performance budgets of
//! docs/performance.md. Runs the in-process criterion suite (`agent/benches/pipeline.rs`) and
//! the end-to-end harness (`tests/src/bin/bench.rs`: probe cost, application slowdown,
//! sustained load), then prints one table. A missed budget prints FAIL; the command fails only
//! with `--strict` (benchmarks do not gate CI and are not part of `cargo xtask test`).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{setup, sh};

/// The suites, in the order they run.
const SUITES: &[&str] = &["pipeline", "probe", "app", "load"];

/// Parsed arguments.
pub struct BenchArgs {
    /// Suites to run (all when empty).
    pub names: Vec<String>,
    /// Exit non-zero when a budget is missed.
    pub strict: bool,
    /// Sustained-load duration in seconds.
    pub duration: u64,
    /// Rounds of the side-by-side end-to-end measurements.
    pub rounds: usize,
}

fn target_dir() -> Result<PathBuf> {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => Ok(PathBuf::from(d)),
        None => Ok(sh::workspace_root()?.join("target")),
    }
}

/// Run the selected suites and print the table.
pub fn run(args: &BenchArgs) -> Result<()> {
    for n in &args.names {
        if !SUITES.contains(&n.as_str()) {
            bail!("unknown bench {n:?}; choose from {}", SUITES.join(", "));
        }
    }
    let wants = |n: &str| args.names.is_empty() || args.names.iter().any(|x| x == n);
    setup::run()?;
    setup::bench_packages()?;
    let target = target_dir()?;
    let out = target.join("llmtap-bench");
    std::fs::create_dir_all(&out)?;
    let mut rows: Vec<Value> = Vec::new();

    if wants("pipeline") {
        sh::step("criterion: userspace pipeline vs SHA-256 (agent/benches/pipeline.rs)");
        let meta = out.join("pipeline-meta.json");
        let criterion = target.join("criterion");
        let mut cmd =
            std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["bench", "--package", "agent", "--bench", "pipeline"])
            .current_dir(sh::workspace_root()?)
            .env("LLMTAP_BENCH_META", &meta)
            .env("CRITERION_HOME", &criterion);
        sh::exec(cmd)?;
        rows.extend(pipeline_rows(&meta, &criterion)?);
    }

    let e2e: Vec<&str> = ["probe", "app", "load"]
        .into_iter()
        .filter(|n| wants(n))
        .collect();
    if !e2e.is_empty() {
        sh::step("build release llmtap and the end-to-end harness");
        sh::cargo(&[
            "build",
            "--release",
            "--package",
            "agent",
            "--bin",
            "llmtap",
        ])?;
        sh::cargo(&["build", "--release", "--package", "tests", "--bin", "bench"])?;
        sh::step(&format!("end-to-end: {}", e2e.join(", ")));
        let rows_file = out.join("rows.jsonl");
        let mut cmd = sh::as_root(&target.join("release/bench").to_string_lossy());
        cmd.args(&e2e)
            .arg("--rows")
            .arg(&rows_file)
            .arg("--llmtap")
            .arg(target.join("release/llmtap"))
            .arg("--work")
            .arg(out.join("work"))
            .args(["--duration", &args.duration.to_string()])
            .args(["--rounds", &args.rounds.to_string()]);
        sh::exec(cmd)?;
        let text = std::fs::read_to_string(&rows_file)
            .with_context(|| format!("read {}", rows_file.display()))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            rows.push(serde_json::from_str(line).context("harness row")?);
        }
    }

    let table = render(&rows);
    println!("\n{table}");
    std::fs::write(out.join("table.md"), &table)?;
    eprintln!("(also written to {})", out.join("table.md").display());
    let failed = rows
        .iter()
        .filter(|r| r["pass"] != Value::Bool(true))
        .count();
    if failed > 0 && args.strict {
        bail!("{failed} budget(s) missed (--strict)");
    }
    Ok(())
}

fn estimate_ns(criterion: &std::path::Path, name: &str) -> Result<f64> {
    let p = criterion
        .join("pipeline")
        .join(name)
        .join("new/estimates.json");
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))?,
    )?;
    v["mean"]["point_estimate"]
        .as_f64()
        .with_context(|| format!("no mean in {}", p.display()))
}

fn pipeline_rows(meta: &std::path::Path, criterion: &std::path::Path) -> Result<Vec<Value>> {
    let meta: Value = serde_json::from_str(&std::fs::read_to_string(meta)?)?;
    let bytes = meta["bytes"].as_f64().unwrap_or(0.0);
    let exchanges = meta["exchanges"].as_f64().unwrap_or(0.0);
    let tap = estimate_ns(criterion, "llmtap")?;
    let sha = estimate_ns(criterion, "sha256")?;
    let mib_s = |ns: f64| bytes / (ns / 1e9) / (1024.0 * 1024.0);
    let ratio = sha / tap;
    Ok(vec![
        serde_json::json!({
            "measure": "userspace pipeline throughput vs SHA-256, same bytes",
            "llmtap": format!("{:.0} MiB/s", mib_s(tap)),
            "baseline": format!("SHA-256 {:.0} MiB/s", mib_s(sha)),
            "ratio": ratio, "budget": "≥ 0.5", "pass": ratio >= 0.5,
        }),
        serde_json::json!({
            "measure": "userspace pipeline, exchanges/s per core (mix of 4 kinds)",
            "llmtap": format!("{:.0} /s", exchanges / (tap / 1e9)),
            "baseline": format!("{:.0} KiB per exchange", bytes / exchanges / 1024.0),
            "ratio": exchanges / (tap / 1e9), "budget": "report", "pass": true,
        }),
    ])
}

fn render(rows: &[Value]) -> String {
    let mut s = String::from(
        "| measure | llmtap | baseline | ratio | budget | result |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let ratio = r["ratio"].as_f64().map_or("n/a".into(), |v| {
            if v.abs() >= 100.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.3}")
            }
        });
        let pass = if r["pass"] == Value::Bool(true) {
            "pass"
        } else {
            "FAIL"
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r["measure"].as_str().unwrap_or(""),
            r["llmtap"].as_str().unwrap_or(""),
            r["baseline"].as_str().unwrap_or(""),
            ratio,
            r["budget"].as_str().unwrap_or(""),
            pass
        ));
    }
    s
}
