//! End to end (root), capture coverage: GnuTLS, a library inside another mount namespace,
//! 4 MiB requests, the per-call maximum, 200 concurrent connections, and a starved ring buffer.
//! In every case the bytes the agent delivered plus the bytes it counted as lost equal what the
//! server saw, per connection.

use std::time::Duration;

use llmtap::capture::CaptureSettings;
use tests::{
    capture::{Stream, Streams, Tap, only_connection, privileged_or_skip},
    clients,
    raw_server::{RawServer, Recorded},
};

const WAIT: Duration = Duration::from_secs(20);

/// The start of a request's body: unique per connection in these tests.
fn body_marker(rec: &Recorded) -> &[u8] {
    let start = rec
        .received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap_or(0);
    &rec.received[start..rec.received.len().min(start + 24)]
}

/// The egress/ingress pair of `streams` whose egress carries `rec`'s body marker.
fn matching<'a>(streams: &'a Streams, rec: &Recorded) -> Option<(&'a Stream, Option<&'a Stream>)> {
    let marker = body_marker(rec);
    streams.iter().find_map(|((conn, dir), s)| {
        (*dir == 0 && s.data.windows(marker.len()).any(|w| w == marker))
            .then(|| (s, streams.get(&(*conn, 1))))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gnutls_cli_is_captured_byte_exact() {
    if !privileged_or_skip("gnutls") {
        return;
    }
    let server = RawServer::start().await.expect("server");
    let mut tap = Tap::start().await;
    let req = b"POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 26\r\n\r\n{\"model\":\"claude\",\"x\":\"y\"}";
    let file = clients::temp_file("gnutls-req.txt", req).expect("file");
    let out = clients::gnutls(server.addr.port(), &file)
        .expect("gnutls-cli")
        .wait_with_output()
        .await
        .expect("runs");
    assert!(
        out.status.success(),
        "gnutls-cli: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec = server.wait_connections(1, WAIT).await;
    assert_eq!(rec.len(), 1);
    let want = &rec[0];
    assert!(!want.sent.is_empty(), "the server answered");
    let streams = tap
        .wait_all(WAIT, |s| {
            matching(s, want).is_some_and(|(e, i)| {
                e.data.len() >= want.received.len()
                    && i.is_some_and(|i| i.data.len() >= want.sent.len())
            })
        })
        .await;
    let (eg, ing) = matching(&streams, want).expect("gnutls connection captured");
    assert_eq!(eg.data, want.received);
    assert_eq!(ing.expect("ingress").data, want.sent);
    let comm_streams = tap.streams_for_comm("gnutls-cli");
    assert!(!comm_streams.is_empty(), "attributed to gnutls-cli");
    assert!(tap.stop().await.kernel.balanced());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_in_another_mount_namespace_is_captured() {
    if !privileged_or_skip("mount namespace") {
        return;
    }
    let libssl = clients::system_libssl().expect("libssl.so.3 on this machine");
    let server = RawServer::start().await.expect("server");
    let mut tap = Tap::start().await;
    let body = b"{\"model\":\"gpt-4o\",\"where\":\"private mount namespace\"}";
    let file = clients::temp_file("ns-body.json", body).expect("file");
    let child =
        clients::python_in_mount_namespace(&server.url(), "/v1/chat/completions", &file, &libssl)
            .expect("unshare");
    let pid = child.id().expect("pid");
    let out = child.wait_with_output().await.expect("runs");
    assert!(
        out.status.success(),
        "client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = server.wait_connections(1, WAIT).await.remove(0);
    let streams = tap
        .wait_for_pid(pid, WAIT, |s| {
            only_connection(s).is_some_and(|(e, i)| {
                e.data.len() >= want.received.len() && i.data.len() >= want.sent.len()
            })
        })
        .await;
    let (eg, ing) = only_connection(&streams).expect("captured the namespaced client");
    assert_eq!(eg.data, want.received);
    assert_eq!(ing.data, want.sent);
    let targets = tap.status().targets;
    assert!(
        targets
            .iter()
            .any(|t| t.path == "/mnt/llmtap-lib/libssl.so.3"
                && t.host_path
                    .to_string_lossy()
                    .contains("/root/mnt/llmtap-lib/")),
        "the private copy is a target reached through /proc/PID/root: {targets:#?}"
    );
    tap.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_mib_request_is_captured_byte_exact() {
    if !privileged_or_skip("4 MiB") {
        return;
    }
    let server = RawServer::start().await.expect("server");
    let mut tap = Tap::start().await;
    let mut body =
        b"{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"".to_vec();
    let mut i = 0u32;
    while body.len() < 4 * 1024 * 1024 - 8 {
        body.extend_from_slice(format!("{i:08x}").as_bytes());
        i += 1;
    }
    body.extend_from_slice(b"\"}]}");
    let file = clients::temp_file("big-body.json", &body).expect("file");
    let child = clients::python(&server.url(), "/v1/chat/completions", &file, 0.0).expect("python");
    let pid = child.id().expect("pid");
    assert!(
        child
            .wait_with_output()
            .await
            .expect("runs")
            .status
            .success()
    );
    let want = server.wait_connections(1, WAIT).await.remove(0);
    assert!(want.received.len() > 4 * 1024 * 1024);
    let streams = tap
        .wait_for_pid(pid, WAIT, |s| {
            only_connection(s).is_some_and(|(e, _)| e.data.len() >= want.received.len())
        })
        .await;
    let (eg, ing) = only_connection(&streams).expect("one connection");
    assert_eq!(eg.gap_bytes, 0, "no bytes lost");
    assert!(
        eg.data == want.received,
        "egress differs: {} vs {} bytes",
        eg.data.len(),
        want.received.len()
    );
    assert_eq!(ing.data, want.sent);
    assert!(tap.stop().await.kernel.balanced());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_beyond_the_per_call_maximum_are_counted_as_lost() {
    if !privileged_or_skip("over max") {
        return;
    }
    let server = RawServer::start().await.expect("server");
    let settings = CaptureSettings {
        chunk_size: 1024,
        max_capture_per_call: 2048,
        ..Default::default()
    };
    let mut tap = Tap::start_with(settings).await;
    let body = vec![b'a'; 300_000];
    let file = clients::temp_file("over-max.json", &body).expect("file");
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
    let want = server.wait_connections(1, WAIT).await.remove(0);
    // Wait for the close record: the last write's tail shows as a gap only against the total.
    tap.pump(Duration::from_secs(2)).await;
    let streams = tap.streams_for_pid(pid);
    let (eg, _) = only_connection(&streams).expect("one connection");
    let captured = eg.data.len() as u64;
    assert!(
        captured < want.received.len() as u64,
        "some bytes must be over the maximum"
    );
    assert!(
        tap.chunks
            .iter()
            .any(|c| c.process.pid == pid && c.call_truncated),
        "truncated calls are flagged"
    );
    // Every byte the server received is either delivered or inside a gap, and the kernel's
    // over-max counter saw at least those bytes.
    let lost_in_stream = want.received.len() as u64 - captured;
    let status = tap.stop().await;
    assert!(
        status.kernel.lost_over_max >= lost_in_stream,
        "{:?} vs {lost_in_stream}",
        status.kernel
    );
    assert!(status.kernel.balanced(), "{:?}", status.kernel);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_connections_without_cross_talk() {
    if !privileged_or_skip("200 connections") {
        return;
    }
    let server = RawServer::start().await.expect("server");
    let mut tap = Tap::start().await;
    let mut children = Vec::new();
    for p in 0..4 {
        children.push(
            clients::python_concurrent(&server.url(), &format!("p{p}"), 50, 3000).expect("python"),
        );
    }
    for c in children {
        let out = c.wait_with_output().await.expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let recorded = server.wait_connections(200, WAIT).await;
    assert_eq!(recorded.len(), 200);
    let streams = tap
        .wait_all(WAIT, |s| {
            recorded.iter().all(|r| {
                matching(s, r).is_some_and(|(e, i)| {
                    e.data.len() >= r.received.len()
                        && i.is_some_and(|i| i.data.len() >= r.sent.len())
                })
            })
        })
        .await;
    for r in &recorded {
        let (eg, ing) = matching(&streams, r).expect("every connection captured");
        assert_eq!(eg.data, r.received, "request bytes of one connection");
        assert_eq!(
            ing.expect("ingress").data,
            r.sent,
            "response bytes of one connection"
        );
        assert_eq!(eg.pids.len(), 1);
    }
    assert!(tap.stop().await.kernel.balanced());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starved_ring_buffer_loses_only_counted_bytes() {
    if !privileged_or_skip("tiny ring") {
        return;
    }
    let server = RawServer::start().await.expect("server");
    let settings = CaptureSettings {
        ring_bytes: 64 * 1024,
        ..Default::default()
    };
    let mut tap = Tap::start_with(settings).await;
    let mut children = Vec::new();
    for p in 0..3 {
        children.push(
            clients::python_concurrent(&server.url(), &format!("r{p}"), 20, 200_000)
                .expect("python"),
        );
    }
    for c in children {
        assert!(c.wait_with_output().await.expect("runs").status.success());
    }
    let recorded = server.wait_connections(60, WAIT).await;
    assert_eq!(recorded.len(), 60);
    tap.pump(Duration::from_secs(2)).await;
    let streams = tests::capture::reassemble(tap.chunks.iter());
    let mut delivered_here = 0u64;
    let mut missing_here = 0u64;
    for r in &recorded {
        let total = r.received.len() as u64;
        // A connection whose first chunk was lost cannot be matched by prefix; it is all missing.
        match matching(&streams, r) {
            Some((eg, _)) => {
                delivered_here += eg.data.len() as u64;
                missing_here += total - eg.data.len() as u64;
            }
            None => missing_here += total,
        }
    }
    let status = tap.stop().await;
    let k = status.kernel;
    assert!(
        k.lost_ringbuf_full > 0,
        "a 64 KiB ring must overflow here: {k:?}"
    );
    assert!(k.balanced(), "{k:?}");
    assert!(
        missing_here <= k.bytes_lost(),
        "every missing byte is counted: missing {missing_here}, counted {}",
        k.bytes_lost()
    );
    assert!(delivered_here <= k.bytes_delivered);
}
