//! `cargo xtask setup`: install, idempotently, what a fresh machine lacks. Each step checks
//! first and skips what is present; as non-root it prints the exact commands instead.
//!
//! The recipe (LLVM 22 to match the nightly, `bpf-linker --features llvm-22`, `rust-src`) is
//! explained in docs/development.md.

use std::process::Command;

use anyhow::{Result, bail};

use crate::sh;

/// Debian packages: LLVM 22 for bpf-linker, and the real clients and servers the tests drive.
pub const APT_PACKAGES: &[&str] = &[
    "llvm-22-dev",
    "libpolly-22-dev",
    "libzstd-dev",
    "zlib1g-dev",
    "clang-22",
    "curl",
    "gnutls-bin",
    "nodejs",
    "openssl",
    "util-linux",
    "libcap2-bin",
    "python3-venv",
    "prometheus",
];

/// The LLVM prefix bpf-linker builds against.
const LLVM_PREFIX: &str = "/usr/lib/llvm-22";

/// Run every step.
pub fn run() -> Result<()> {
    sh::step("setup");
    let root = sh::is_root();
    let mut manual: Vec<String> = Vec::new();

    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if missing.is_empty() {
        eprintln!("ok   Debian packages present");
    } else if root {
        eprintln!("get  Debian packages: {}", missing.join(" "));
        sh::exec(apt(&["update", "-qq"]))?;
        let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
        args.extend(&missing);
        sh::exec(apt(&args))?;
    } else {
        manual.push("sudo apt-get update".into());
        manual.push(format!(
            "sudo apt-get install -y --no-install-recommends {}",
            missing.join(" ")
        ));
    }

    let has_rust_src = sh::output(
        "rustup",
        &["component", "list", "--toolchain", "nightly", "--installed"],
    )
    .is_some_and(|o| o.lines().any(|l| l.starts_with("rust-src")));
    if has_rust_src {
        eprintln!("ok   rust-src (nightly)");
    } else {
        eprintln!("get  rust-src for nightly");
        let mut cmd = Command::new("rustup");
        cmd.args(["component", "add", "rust-src", "--toolchain", "nightly"]);
        sh::exec(cmd)?;
    }

    if bpf_linker_ok() {
        eprintln!("ok   bpf-linker (LLVM 22)");
    } else if std::path::Path::new(LLVM_PREFIX)
        .join("bin/llvm-config")
        .exists()
    {
        eprintln!("get  bpf-linker with llvm-22 (about a minute)");
        let path = format!(
            "{LLVM_PREFIX}/bin:{}",
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args([
            "install",
            "--locked",
            "bpf-linker",
            "--no-default-features",
            "--features",
            "llvm-22",
        ])
        .env("PATH", path)
        .env("LLVM_PREFIX", LLVM_PREFIX)
        .env("LLVM_SYS_221_PREFIX", LLVM_PREFIX);
        sh::exec(cmd)?;
    } else {
        manual.push(format!(
            "PATH={LLVM_PREFIX}/bin:$PATH LLVM_PREFIX={LLVM_PREFIX} LLVM_SYS_221_PREFIX={LLVM_PREFIX} cargo install --locked bpf-linker --no-default-features --features llvm-22"
        ));
    }

    if !manual.is_empty() {
        eprintln!("\nNot root: run these, then try again:");
        for m in &manual {
            eprintln!("  {m}");
        }
        bail!("setup incomplete: {} step(s) need root", manual.len());
    }
    Ok(())
}

/// Debian packages only `cargo xtask bench` needs: the C load generator's compiler and headers,
/// the reverse proxy it is compared with, and `perf` for profiling.
pub const BENCH_PACKAGES: &[&str] = &["gcc", "libssl-dev", "nginx", "linux-perf"];

/// Install [`BENCH_PACKAGES`] if missing (root) or say how (non-root).
pub fn bench_packages() -> Result<()> {
    let missing: Vec<&str> = BENCH_PACKAGES
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if missing.is_empty() {
        eprintln!("ok   bench packages present");
        return Ok(());
    }
    if !sh::is_root() {
        bail!(
            "bench needs: sudo apt-get install -y --no-install-recommends {}",
            missing.join(" ")
        );
    }
    eprintln!("get  bench packages: {}", missing.join(" "));
    sh::exec(apt(&["update", "-qq"]))?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(&missing);
    sh::exec(apt(&args))
}

fn apt(args: &[&str]) -> Command {
    let mut c = Command::new("apt-get");
    c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    c
}

fn dpkg_installed(pkg: &str) -> bool {
    sh::output("dpkg-query", &["-W", "-f=${Status}", pkg])
        .is_some_and(|s| s.contains("install ok installed"))
}

fn bpf_linker_ok() -> bool {
    // bpf-linker built with the `llvm-22` feature links libLLVM 22, matching the nightly's LLVM.
    let Some(path) = sh::output("which", &["bpf-linker"]) else {
        return false;
    };
    sh::output("ldd", &[path.trim()]).is_some_and(|libs| libs.contains("libLLVM.so.22"))
}
