//! Running commands: echoing them, failing with the command line on error, and reaching root
//! through `sudo` when the caller is not root.

use std::{
    path::PathBuf,
    process::{Command, ExitStatus},
};

use anyhow::{Context, Result, bail};

/// Print a step header.
pub fn step(what: &str) {
    eprintln!("\n==> {what}");
}

/// The workspace root (the parent of `xtask/`).
pub fn workspace_root() -> Result<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    dir.parent()
        .map(PathBuf::from)
        .context("xtask has no parent directory")
}

/// Whether we are root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command for `program`, prefixed with `sudo -E` when not root.
pub fn as_root(program: &str) -> Command {
    if is_root() {
        Command::new(program)
    } else {
        let mut c = Command::new("sudo");
        c.arg("-E").arg(program);
        c
    }
}

/// Run, fail on non-zero exit.
pub fn exec(mut cmd: Command) -> Result<()> {
    eprintln!("+ {cmd:?}");
    let status: ExitStatus = cmd
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Run and capture stdout (stderr inherited); `None` if the program cannot start.
pub fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `cargo ARGS` in the workspace root.
pub fn cargo(args: &[&str]) -> Result<()> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args).current_dir(workspace_root()?);
    exec(cmd)
}

/// `cargo +TOOLCHAIN ARGS` through the rustup proxy on PATH (`$CARGO` points at one
/// toolchain's cargo, which does not understand `+toolchain`).
pub fn cargo_toolchain(toolchain: &str, args: &[&str]) -> Result<()> {
    let mut cmd = Command::new("cargo");
    cmd.arg(format!("+{toolchain}"))
        .args(args)
        .current_dir(workspace_root()?)
        .env_remove("RUSTUP_TOOLCHAIN");
    exec(cmd)
}

/// `cargo test ARGS`, with test binaries run as root (through a `sudo -E` runner when needed:
/// the end-to-end tests load eBPF programs).
pub fn cargo_test_privileged(args: &[&str]) -> Result<()> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args).current_dir(workspace_root()?);
    if !is_root() {
        cmd.env("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER", "sudo -E");
    }
    exec(cmd)
}
