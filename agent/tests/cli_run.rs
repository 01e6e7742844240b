//! End to end (root): `llmtap run` with embedded defaults starts, writes a status file that
//! `llmtap targets --json` and `llmtap status` read, and stops cleanly (exit 0) on SIGINT and
//! SIGTERM. `llmtap check` reports ok on this machine.

use std::{process::Command, time::Duration};

const BIN: &str = env!("CARGO_BIN_EXE_llmtap");

fn privileged(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: needs root, and CI=true forbids skipping");
    }
    eprintln!("SKIP {test}: needs root");
    false
}

fn run_until_signal(signal: i32) {
    let state = std::env::temp_dir().join(format!("llmtap-cli-{}-{signal}", std::process::id()));
    let mut agent = Command::new(BIN)
        .args(["run", "--metrics-addr", "off", "--state-dir"])
        .arg(&state)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("llmtap starts");
    let status_file = state.join("status.json");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !status_file.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no status file after 30 s"
        );
        assert!(
            agent.try_wait().expect("wait").is_none(),
            "llmtap exited early"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = Command::new(BIN)
        .args(["targets", "--json", "--state-dir"])
        .arg(&state)
        .output()
        .expect("targets");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let targets: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let list = targets.as_array().expect("array");
    assert!(
        list.iter()
            .any(|t| t["kind"] == "openssl-shared" && t["state"] == "attached"),
        "system libssl attached: {targets:#}"
    );
    let out = Command::new(BIN)
        .args(["targets", "--state-dir"])
        .arg(&state)
        .output()
        .expect("targets");
    assert!(String::from_utf8_lossy(&out.stdout).contains("openssl-shared"));
    let out = Command::new(BIN)
        .args(["status", "--state-dir"])
        .arg(&state)
        .output()
        .expect("status");
    assert!(String::from_utf8_lossy(&out.stdout).contains("bytes_seen"));
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(agent.id() as i32, signal) };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(s) = agent.try_wait().expect("wait") {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "llmtap did not stop within 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    use std::io::Read;
    agent
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    assert!(code.success(), "exit {code:?}: {stderr}");
    assert!(stderr.contains("final accounting"), "{stderr}");
    assert!(!status_file.exists(), "status file removed at exit");
    let _ = std::fs::remove_dir_all(state);
}

#[test]
fn run_targets_status_and_sigint() {
    if privileged("cli sigint") {
        run_until_signal(libc::SIGINT);
    }
}

#[test]
fn sigterm_stops_cleanly() {
    if privileged("cli sigterm") {
        run_until_signal(libc::SIGTERM);
    }
}

#[test]
fn check_passes_here_and_targets_without_agent_explains() {
    let out = Command::new(BIN).arg("check").output().expect("check");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("kernel") && text.contains("btf"), "{text}");
    let out = Command::new(BIN)
        .args(["targets", "--state-dir", "/nonexistent/llmtap"])
        .output()
        .expect("targets");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is `llmtap run` running"));
}

#[test]
fn a_broken_config_file_is_a_clear_error() {
    let path = std::env::temp_dir().join(format!("llmtap-bad-{}.toml", std::process::id()));
    std::fs::write(&path, "[capture]\nchunk_size = \"big\"\n").expect("write");
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("config file") && err.contains("chunk_size"),
        "{err}"
    );
    let _ = std::fs::remove_file(path);
}
