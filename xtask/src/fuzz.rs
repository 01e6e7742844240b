//! `cargo xtask fuzz [--seconds N] [TARGET…]`: runs every cargo-fuzz target in `fuzz/` (the
//! HTTP/1.1, HTTP/2 + HPACK, SSE/NDJSON and event-stream parsers, and the LLM provider parsers)
//! for N seconds each. Installs cargo-fuzz first if it is missing. Any crash fails the command.

use std::process::Command;

use anyhow::Result;

use crate::sh;

/// Every target in `fuzz/fuzz_targets/`.
pub const TARGETS: &[&str] = &["http1", "http2", "sse", "eventstream", "llm"];

/// Run `targets` (all when empty) for `seconds` each.
pub fn run(seconds: u64, targets: &[String]) -> Result<()> {
    crate::setup::run()?;
    if sh::output("cargo", &["fuzz", "--version"]).is_some() {
        eprintln!("ok   cargo-fuzz");
    } else {
        eprintln!("get  cargo-fuzz");
        let mut cmd = Command::new("cargo");
        cmd.args(["install", "--locked", "cargo-fuzz"]);
        sh::exec(cmd)?;
    }
    let chosen: Vec<&str> = if targets.is_empty() {
        TARGETS.to_vec()
    } else {
        targets.iter().map(String::as_str).collect()
    };
    let fuzz_dir = sh::workspace_root()?.join("fuzz");
    for t in chosen {
        sh::step(&format!("fuzz {t} for {seconds} s"));
        let mut cmd = Command::new("cargo");
        cmd.args([
            "+nightly",
            "fuzz",
            "run",
            t,
            "--",
            &format!("-max_total_time={seconds}"),
            "-rss_limit_mb=2048",
        ])
        .current_dir(&fuzz_dir)
        .env_remove("RUSTUP_TOOLCHAIN")
        // The parsers do not need the kernel programs.
        .env("AYA_BUILD_SKIP", "1");
        sh::exec(cmd)?;
    }
    Ok(())
}
