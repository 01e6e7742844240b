//! `cargo xtask …`: the project's own commands. Every command installs what it needs first
//! (idempotently), so a fresh machine needs nothing but this repository and rustup.
//!
//! Owns: installing the toolchain and test tools, the build/test/run pipelines. Does not own
//! anything the agent does at run time.

mod bench;
mod demo;
mod fuzz;
mod setup;
mod sh;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "llmtap developer tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install what this machine lacks (LLVM 22, rust-src, bpf-linker, test clients).
    Setup,
    /// Setup, build release, and run `llmtap run ARGS` (as root).
    Run {
        /// Arguments for `llmtap run`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run every fuzz target (parsers) for a while each; installs cargo-fuzz if missing.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Targets to run (default: all).
        targets: Vec<String>,
    },
    /// Start the agent, a local LLM test server and real clients; print events, metrics and the
    /// cache report.
    Demo,
    /// Setup, then the performance budgets (docs/performance.md): criterion for the userspace
    /// pipeline, an end-to-end harness for probe cost, application slowdown and sustained load.
    /// Prints one table; exits non-zero on a missed budget only with `--strict`.
    Bench {
        /// Suites to run: pipeline, probe, app, load (all when none is given).
        names: Vec<String>,
        /// Fail when a budget is missed.
        #[arg(long)]
        strict: bool,
        /// Sustained-load duration in seconds.
        #[arg(long, default_value_t = 60)]
        duration: u64,
        /// Side-by-side rounds of the probe and app measurements (medians are reported).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Setup, formatting, clippy (userspace and eBPF), unit and privileged end-to-end tests.
    Test {
        /// Extra arguments for `cargo test` (e.g. a test name filter).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Setup => setup::run(),
        Command::Run { args } => run(&args),
        Command::Test { args } => test(&args),
        Command::Demo => demo::run(),
        Command::Fuzz { seconds, targets } => fuzz::run(seconds, &targets),
        Command::Bench {
            names,
            strict,
            duration,
            rounds,
        } => bench::run(&bench::BenchArgs {
            names,
            strict,
            duration,
            rounds,
        }),
    }
}

fn run(args: &[String]) -> Result<()> {
    setup::run()?;
    sh::cargo(&[
        "build",
        "--release",
        "--package",
        "agent",
        "--bin",
        "llmtap",
    ])?;
    let bin = sh::workspace_root()?.join("target/release/llmtap");
    let mut cmd = sh::as_root(&bin.to_string_lossy());
    cmd.arg("run").args(args);
    sh::exec(cmd)
}

fn test(args: &[String]) -> Result<()> {
    setup::run()?;
    sh::step("cargo fmt --check");
    sh::cargo(&["fmt", "--all", "--check"])?;
    sh::step("clippy (userspace crates)");
    sh::cargo(&[
        "clippy",
        "--workspace",
        "--exclude",
        "agent-ebpf",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    // The kernel crate is linted for its real target with the nightly that builds it: on the
    // host target, workspace feature unification would pull std into it.
    sh::step("clippy (eBPF crate, bpfel-unknown-none)");
    let ebpf_lint = [
        "clippy",
        "--package",
        "agent-ebpf",
        "--release",
        "--target",
        "bpfel-unknown-none",
        "-Z",
        "build-std=core",
        "--",
        "-D",
        "warnings",
    ];
    sh::cargo_toolchain("nightly", &ebpf_lint)?;
    sh::step("tests (unit and privileged end-to-end)");
    let mut test_args = vec!["test", "--workspace", "--exclude", "agent-ebpf"];
    test_args.extend(args.iter().map(String::as_str));
    sh::cargo_test_privileged(&test_args)
}
