//! The real HTTP/OTLP sinks and the metrics server against in-test hyper servers on
//! 127.0.0.1, in real time with short timeouts: retry-after, 500s, slow reads, refused
//! connections, auth, gzip, OTLP decoding, `/metrics` `/healthz` `/readyz`, bind errors.

use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Response};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{event, observation, test_config};
use crate::export::config::ExportConfig;
use crate::export::{Accounting, ExportError, Exporter, start};

/// What the double answers to request number `n` (0-based).
#[derive(Clone, Copy)]
struct Reply {
    status: u16,
    retry_after: Option<&'static str>,
    delay: Duration,
}

fn ok() -> Reply {
    Reply {
        status: 200,
        retry_after: None,
        delay: Duration::ZERO,
    }
}

struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

struct Double {
    addr: SocketAddr,
    hits: Arc<AtomicU64>,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Double {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn spawn_double(behaviour: impl Fn(u64) -> Reply + Send + Sync + 'static) -> Double {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicU64::new(0));
    let received = Arc::new(Mutex::new(Vec::new()));
    let behaviour = Arc::new(behaviour);
    let (h, r) = (Arc::clone(&hits), Arc::clone(&received));
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (h, r, b) = (Arc::clone(&h), Arc::clone(&r), Arc::clone(&behaviour));
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (h, r, b) = (Arc::clone(&h), Arc::clone(&r), Arc::clone(&b));
                    async move {
                        let n = h.fetch_add(1, Ordering::SeqCst);
                        let reply = b(n);
                        let headers = req.headers().clone();
                        let raw = req
                            .into_body()
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .unwrap_or_default();
                        let body = if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
                            let mut out = Vec::new();
                            flate2::read::GzDecoder::new(&raw[..])
                                .read_to_end(&mut out)
                                .expect("gzip");
                            out
                        } else {
                            raw.to_vec()
                        };
                        tokio::time::sleep(reply.delay).await;
                        if reply.status < 300 {
                            r.lock().expect("lock").push(Received { headers, body });
                        }
                        let mut resp = Response::builder().status(reply.status);
                        if let Some(ra) = reply.retry_after {
                            resp = resp.header("retry-after", ra);
                        }
                        Ok::<_, Infallible>(
                            resp.body(Full::new(Bytes::from_static(b"{}")))
                                .expect("response"),
                        )
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Double {
        addr,
        hits,
        received,
        task,
    }
}

fn http_config(sink: String) -> ExportConfig {
    let mut cfg = test_config();
    cfg.sink = sink;
    cfg.batch.max_events = 10;
    cfg.batch.interval_ms = 20;
    cfg.retry.base_ms = 10;
    cfg.retry.cap_ms = 40;
    cfg.http.request_timeout_ms = 1_000;
    cfg
}

async fn wait_until(ex: &Exporter, done: impl Fn(&Accounting) -> bool) -> Accounting {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let a = ex.accounting();
        if done(&a) || tokio::time::Instant::now() > deadline {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn submit(ex: &Exporter, n: usize) {
    let obs = observation("gpt-4o");
    for i in 0..n {
        ex.submit(event(i, 120), &obs);
    }
}

#[tokio::test]
async fn http_sink_gzip_auth_and_retry_after() {
    let double = spawn_double(|n| match n {
        0 => Reply {
            status: 429,
            retry_after: Some("1"),
            delay: Duration::ZERO,
        },
        _ => ok(),
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "Bearer t0ps3cret\n").expect("write");
    let mut cfg = http_config(format!("http://{}/ingest", double.addr));
    cfg.http.auth_header_name = Some("Authorization".into());
    cfg.http.auth_value_file = Some(token);
    let ex = start(cfg).await.expect("starts");
    submit(&ex, 10);
    let t0 = std::time::Instant::now();
    let a = wait_until(&ex, |a| a.sent == 10).await;
    assert_eq!(a.sent, 10, "{a:?}");
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "Retry-After honoured"
    );
    assert_eq!(double.hits.load(Ordering::SeqCst), 2);
    {
        let got = double.received.lock().expect("lock");
        assert_eq!(got[0].headers["authorization"], "Bearer t0ps3cret");
        assert_eq!(got[0].headers["content-type"], "application/x-ndjson");
        let text = String::from_utf8(got[0].body.clone()).expect("utf8");
        assert_eq!(text.lines().count(), 10);
        assert!(text.lines().all(|l| l.starts_with("{\"i\":")));
    }
    let a = ex.shutdown(Duration::from_secs(2)).await;
    assert!(a.balanced(), "{a:?}");
}

#[tokio::test]
async fn http_sink_500s_open_circuit() {
    let double = spawn_double(|_| Reply {
        status: 500,
        retry_after: None,
        delay: Duration::ZERO,
    })
    .await;
    let mut cfg = http_config(format!("http://{}/", double.addr));
    cfg.circuit.failure_threshold = 2;
    cfg.retry.max_attempts = 2;
    let ex = start(cfg).await.expect("starts");
    submit(&ex, 30);
    let a = wait_until(&ex, |a| a.failed == 20).await;
    assert_eq!(a.failed, 20, "{a:?}");
    assert_eq!(double.hits.load(Ordering::SeqCst), 4);
    assert_eq!(ex.metrics().circuit_state.get(), 2);
    let a = ex.shutdown(Duration::from_millis(200)).await;
    assert!(a.balanced(), "{a:?}");
    assert_eq!(a.abandoned_on_shutdown, 10);
}

#[tokio::test]
async fn slow_and_refused_sinks_fail_and_balance() {
    let slow = spawn_double(|_| Reply {
        status: 200,
        retry_after: None,
        delay: Duration::from_secs(3),
    })
    .await;
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    for addr in [slow.addr, refused] {
        let mut cfg = http_config(format!("http://{addr}/"));
        cfg.http.request_timeout_ms = 150;
        cfg.retry.max_attempts = 2;
        let ex = start(cfg).await.expect("starts");
        submit(&ex, 10);
        let a = wait_until(&ex, |a| a.failed == 10).await;
        assert_eq!(a.failed, 10, "{addr}: {a:?}");
        let a = ex.shutdown(Duration::from_secs(1)).await;
        assert!(a.balanced(), "{a:?}");
        assert_eq!(a.sent, 0);
    }
}

#[tokio::test]
async fn otlp_sink_sends_one_log_record_per_event() {
    let double = spawn_double(|_| ok()).await;
    let mut cfg = http_config(format!("otlp+http://{}/v1/logs", double.addr));
    cfg.http.gzip = false;
    let ex = start(cfg).await.expect("starts");
    submit(&ex, 10);
    let a = wait_until(&ex, |a| a.sent == 10).await;
    assert_eq!(a.sent, 10);
    let got = double.received.lock().expect("lock");
    assert_eq!(got[0].headers["content-type"], "application/x-protobuf");
    let req = ExportLogsServiceRequest::decode(got[0].body.as_slice()).expect("protobuf");
    let recs = &req.resource_logs[0].scope_logs[0].log_records;
    assert_eq!(recs.len(), 10);
    assert_eq!(recs[0].attributes[0].key, "event_type");
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out)
}

#[tokio::test]
async fn metrics_server_serves_metrics_health_and_readiness() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = test_config();
    cfg.sink = format!("file:{}", dir.path().join("events.ndjson").display());
    cfg.metrics_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    let ex = start(cfg.clone()).await.expect("starts");
    let addr = ex.metrics_addr().expect("bound");
    submit(&ex, 3);
    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("llmtap_events_total{outcome=\"emitted\"} 3"));
    assert!(body.contains("gen_ai_client_token_usage_bucket"));
    assert_eq!(get(addr, "/healthz").await.0, 200);
    assert_eq!(
        get(addr, "/readyz").await.0,
        503,
        "capture not attached yet"
    );
    ex.set_ready(true);
    assert_eq!(get(addr, "/readyz").await.0, 200);
    assert_eq!(get(addr, "/nope").await.0, 404);

    // A second exporter on the same address fails clearly.
    cfg.metrics_addr = Some(addr);
    match start(cfg).await {
        Err(ExportError::Http(e)) => assert!(e.to_string().contains(&addr.to_string())),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("second bind must fail"),
    }
    let a = ex.shutdown(Duration::from_secs(2)).await;
    assert!(a.balanced());
    let lines = std::fs::read_to_string(dir.path().join("events.ndjson")).expect("read");
    assert_eq!(lines.lines().count(), 3);
}
