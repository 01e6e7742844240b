//! End to end (root to set it up, then not root): the agent runs as `nobody` holding exactly
//! the capabilities docs/deployment.md documents — CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE,
//! CAP_DAC_READ_SEARCH, CAP_SYS_ADMIN — and captures a real client's LLM call: the list is
//! sufficient. Without CAP_BPF it stops with a message that says what is missing; without
//! CAP_SYS_ADMIN the uprobes cannot be created on this kernel, and every target says why.

use std::{
    os::unix::fs::PermissionsExt,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use tests::{
    bin_agent::{free_port, llmtap_binary},
    capture::privileged_or_skip,
    clients,
    llm_server::LlmServer,
};

const CAPS: &str = "cap_bpf,cap_perfmon,cap_sys_ptrace,cap_dac_read_search,cap_sys_admin";

fn capsh(caps: &str, command: &str) -> Command {
    let mut cmd = Command::new("capsh");
    cmd.arg(format!(
        "--caps={caps}+eip cap_setpcap,cap_setuid,cap_setgid+ep"
    ))
    .args(["--keep=1", "--user=nobody"])
    .arg(format!("--addamb={caps}"))
    .args(["--", "-c", command]);
    cmd
}

fn world_writable_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("llmtap-caps-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_capability_set_is_sufficient() {
    if !privileged_or_skip("capability set") {
        return;
    }
    let bin = llmtap_binary();
    let server = LlmServer::start().await.expect("llm server");
    let dir = world_writable_dir("ok");
    let events = dir.join("events.ndjson");
    let state = dir.join("state");
    let command = format!(
        "grep ^CapEff /proc/self/status >&2; exec '{}' run --state-dir '{}' --sink 'file:{}' --metrics-addr 127.0.0.1:{}",
        bin.display(),
        state.display(),
        events.display(),
        free_port()
    );
    let log = std::fs::File::create(dir.join("agent.log")).expect("log");
    let mut agent = capsh(CAPS, &command)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("capsh");
    let read_log = || std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !state.join("status.json").exists() {
        assert!(
            agent.try_wait().expect("wait").is_none(),
            "agent exited under the documented capabilities: {}",
            read_log()
        );
        assert!(
            Instant::now() < deadline,
            "agent did not start: {}",
            read_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        read_log().contains("CapEff:\t000000c000280004"),
        "exactly the five capabilities: {}",
        read_log()
    );
    let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"capabilities"}]}"#;
    let file = clients::temp_file("caps.json", body).expect("file");
    let child = clients::curl_with(&server.url(), "/v1/chat/completions", &file, &["--http1.1"])
        .expect("curl");
    let pid = child.id().expect("pid");
    assert!(
        child
            .wait_with_output()
            .await
            .expect("runs")
            .status
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&events).unwrap_or_default();
        if text
            .lines()
            .any(|l| l.contains(&format!("\"process.pid\":{pid}")))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no event for curl under the documented capabilities: {}",
            read_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = Command::new("kill")
        .args(["-INT", &agent.id().to_string()])
        .status();
    let status = agent.wait().expect("wait");
    assert!(status.success(), "{}", read_log());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn without_cap_sys_admin_every_target_says_why() {
    if !privileged_or_skip("missing CAP_SYS_ADMIN") {
        return;
    }
    let bin = llmtap_binary();
    let dir = world_writable_dir("nosysadmin");
    let command = format!(
        "exec timeout --preserve-status -s INT 8 '{}' run --state-dir '{}' --metrics-addr off --sink 'file:{}/e'",
        bin.display(),
        dir.join("state").display(),
        dir.display()
    );
    let out = capsh(
        "cap_bpf,cap_perfmon,cap_sys_ptrace,cap_dac_read_search",
        &command,
    )
    .output()
    .expect("capsh");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the agent keeps running and stops cleanly: {err}"
    );
    assert!(
        err.contains("cannot attach") && err.contains("Permission denied"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn without_cap_bpf_it_says_what_is_missing() {
    if !privileged_or_skip("missing CAP_BPF") {
        return;
    }
    let bin = llmtap_binary();
    let dir = world_writable_dir("nobpf");
    let command = format!(
        "exec '{}' run --state-dir '{}' --metrics-addr off",
        bin.display(),
        dir.join("state").display()
    );
    let out = capsh("cap_perfmon,cap_sys_ptrace,cap_dac_read_search", &command)
        .output()
        .expect("capsh");
    assert!(!out.status.success(), "must not start without CAP_BPF");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot load the eBPF programs") && err.contains("CAP_BPF"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
