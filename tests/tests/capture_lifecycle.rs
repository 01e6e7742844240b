//! End to end (root), lifecycle and failure: a process killed in the middle of a TLS read
//! leaves no state in the kernel tables; a file that looks like a TLS library but cannot be
//! attached is reported with the reason while capture goes on.

use std::time::Duration;

use llmtap::capture::attach::TargetState;
use tests::{
    capture::{Tap, only_connection, privileged_or_skip},
    clients,
    raw_server::RawServer,
};

const STUCK_CLIENT: &str = r#"
import ssl, socket, sys
ctx = ssl._create_unverified_context()
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
s.sendall(b"POST /v1/messages HTTP/1.1\r\nhost: a\r\ncontent-length: 100\r\n\r\n0123456789")
s.recv(10)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_call_leaves_no_kernel_state() {
    if !privileged_or_skip("killed mid-call") {
        return;
    }
    let server = RawServer::start().await.expect("server");
    let mut tap = Tap::start().await;
    let mut child = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(STUCK_CLIENT)
        .arg(server.addr.port().to_string())
        .kill_on_drop(true)
        .spawn()
        .expect("python");
    let pid = child.id().expect("pid");
    // Wait until the write is captured and the read is in flight.
    let streams = tap
        .wait_for_pid(pid, Duration::from_secs(10), |s| !s.is_empty())
        .await;
    assert!(
        only_connection(&streams).is_some(),
        "the write was captured"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (pending, conns) = tap.kernel_entries_for(pid);
    assert_eq!(
        (pending, conns),
        (1, 1),
        "one read in flight on one connection"
    );
    child.kill().await.expect("kill");
    let _ = child.wait().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        tap.pump(Duration::from_millis(200)).await;
        let left = tap.kernel_entries_for(pid);
        if left == (0, 0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "stale kernel state after exit: {left:?}"
        );
    }
    assert!(tap.others.iter().any(
        |e| matches!(e, llmtap::capture::CaptureEvent::ProcessExit { pid: p, .. } if *p == pid)
    ));
    tap.stop().await;
}

const MAP_FAKE_LIBRARY: &str = r#"
import mmap, sys, time
f = open(sys.argv[1], 'rb')
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ | mmap.PROT_EXEC)
print("mapped", flush=True)
time.sleep(8)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unattachable_library_is_reported_and_capture_goes_on() {
    if !privileged_or_skip("unattachable library") {
        return;
    }
    // An ELF shared object without the OpenSSL symbols, under OpenSSL's name.
    let zlib = [
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
        "/lib/x86_64-linux-gnu/libz.so.1",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("libz on this machine");
    let dir = std::env::temp_dir().join(format!("llmtap-fake-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let fake = dir.join("libssl.so.3");
    std::fs::copy(zlib, &fake).expect("copy");
    let mut tap = Tap::start().await;
    let mut holder = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(MAP_FAKE_LIBRARY)
        .arg(&fake)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let failed = loop {
        tap.pump(Duration::from_millis(200)).await;
        let found = tap.status().targets.into_iter().find(|t| {
            t.path.ends_with("llmtap-fake-".to_string().as_str()) || t.path.contains("llmtap-fake-")
        });
        if let Some(t) = found {
            break t;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the fake library was never reported"
        );
    };
    match &failed.state {
        TargetState::Failed { error } => assert!(
            error.contains("SSL_write") && error.contains("not found"),
            "{error}"
        ),
        other => panic!("a library without SSL_write must not be reported attached: {other:?}"),
    }
    assert!(failed.probes.is_empty());
    // Capture goes on for everything else.
    let server = RawServer::start().await.expect("server");
    let file = clients::temp_file("after-failure.json", b"{\"model\":\"gpt-4o\"}").expect("file");
    let child = clients::curl(&server.url(), "/v1/chat/completions", &file).expect("curl");
    let pid = child.id().expect("pid");
    assert!(
        child
            .wait_with_output()
            .await
            .expect("runs")
            .status
            .success()
    );
    let streams = tap
        .wait_for_pid(pid, Duration::from_secs(10), |s| s.len() == 2)
        .await;
    assert_eq!(streams.len(), 2, "curl still captured");
    let _ = holder.kill().await;
    let _ = std::fs::remove_dir_all(dir);
    tap.stop().await;
}
