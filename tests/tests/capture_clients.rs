//! End to end (root): real TLS clients against the recording server; the bytes the agent
//! captured equal, in both directions, what the server received and sent, and are attributed
//! to the client's pid.

use std::time::Duration;

use tests::{
    capture::{Tap, only_connection, privileged_or_skip},
    clients,
    raw_server::RawServer,
};

const WAIT: Duration = Duration::from_secs(10);

async fn check_client(
    name: &str,
    spawn: impl FnOnce(&str, &std::path::Path) -> std::io::Result<tokio::process::Child>,
) {
    if !privileged_or_skip(name) {
        return;
    }
    let server = RawServer::start().await.expect("server starts");
    let mut tap = Tap::start().await;
    let body = format!(
        "{{\"model\":\"gpt-4o\",\"client\":\"{name}\",\"messages\":[{{\"role\":\"user\",\"content\":\"known body\"}}]}}"
    );
    let file =
        clients::temp_file(&format!("{name}-body.json"), body.as_bytes()).expect("temp file");
    let child = spawn(&server.url(), &file).expect("client starts");
    let pid = child.id().expect("client pid");
    let out = child.wait_with_output().await.expect("client runs");
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recorded = server.wait_connections(1, WAIT).await;
    assert_eq!(
        recorded.len(),
        1,
        "{name}: server saw {} connections",
        recorded.len()
    );
    let want = &recorded[0];
    let streams = tap
        .wait_for_pid(pid, WAIT, |s| {
            only_connection(s).is_some_and(|(e, i)| {
                e.data.len() >= want.received.len() && i.data.len() >= want.sent.len()
            })
        })
        .await;
    let (egress, ingress) = only_connection(&streams)
        .unwrap_or_else(|| panic!("{name}: expected one connection, got {streams:?}"));
    assert_eq!(egress.gap_bytes + ingress.gap_bytes, 0, "{name}: gaps");
    assert_eq!(
        String::from_utf8_lossy(&egress.data),
        String::from_utf8_lossy(&want.received),
        "{name}: egress bytes"
    );
    assert_eq!(
        String::from_utf8_lossy(&ingress.data),
        String::from_utf8_lossy(&want.sent),
        "{name}: ingress bytes"
    );
    assert_eq!(egress.pids, vec![pid]);
    assert_eq!(ingress.pids, vec![pid]);
    let status = tap.stop().await;
    assert!(
        status.kernel.balanced(),
        "{name}: kernel accounting does not add up: {:?}",
        status.kernel
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_both_directions_byte_exact() {
    check_client("curl", |url, f| {
        clients::curl(url, "/v1/chat/completions", f)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_ex_calls_both_directions_byte_exact() {
    check_client("python", |url, f| {
        clients::python(url, "/v1/chat/completions", f, 0.0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_openssl_in_executable_byte_exact() {
    check_client("node", |url, f| {
        clients::node(url, "/v1/chat/completions", f, 1.0)
    })
    .await;
}
