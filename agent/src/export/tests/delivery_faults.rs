//! Delivery under injected faults with a fake [`Transport`] and paused tokio time: 500s,
//! 429 + Retry-After, hangs (timeouts), refused connections, flapping, 4xx, bursts, drain.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::{QUEUE_BYTES, event, observation, test_config};
use crate::export::config::{ExportConfig, WhenFull};
use crate::export::delivery::retry::classify_status;
use crate::export::delivery::{SendError, SendFuture, Transport};
use crate::export::event::EncodedEvent;
use crate::export::{Accounting, Exporter, PushOutcome, start_with_transport};

/// One scripted reply.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Ok,
    Status(u16, Option<u64>),
    Hang,
    Refused,
}

struct Fake {
    script: Mutex<VecDeque<Fault>>,
    then: Fault,
    calls: AtomicU64,
    received: AtomicU64,
}

impl Fake {
    fn new(script: &[Fault], then: Fault) -> Arc<Self> {
        Arc::new(Fake {
            script: Mutex::new(script.iter().copied().collect()),
            then,
            calls: AtomicU64::new(0),
            received: AtomicU64::new(0),
        })
    }
    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Transport for Fake {
    fn kind(&self) -> &'static str {
        "fake"
    }
    fn send<'a>(&'a self, batch: &'a [EncodedEvent]) -> SendFuture<'a> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let fault = self
            .script
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or(self.then);
        Box::pin(async move {
            match fault {
                Fault::Ok => {
                    self.received
                        .fetch_add(batch.len() as u64, Ordering::SeqCst);
                    Ok(())
                }
                Fault::Status(s, ra) => classify_status(s, ra.map(Duration::from_secs)),
                Fault::Hang => std::future::pending().await,
                Fault::Refused => Err(SendError::Retryable {
                    reason: "connect failed".into(),
                    retry_after: None,
                }),
            }
        })
    }
}

async fn start(cfg: ExportConfig, fake: &Arc<Fake>) -> Exporter {
    let t: Arc<dyn Transport> = Arc::clone(fake) as Arc<dyn Transport>;
    start_with_transport(cfg, t).await.expect("starts")
}

fn push(ex: &Exporter, n: usize) {
    let obs = observation("gpt-4o");
    for i in 0..n {
        ex.submit(event(i, 100), &obs);
    }
}

fn circuit(ex: &Exporter) -> i64 {
    ex.metrics().circuit_state.get()
}

/// Shut down after checking the queue never held more than its byte bound.
async fn finish(ex: &Exporter, drain: Duration) -> Accounting {
    assert!(ex.queue_high_water_bytes() <= QUEUE_BYTES);
    assert!(ex.metrics().queue_bytes.get() <= QUEUE_BYTES as i64);
    ex.shutdown(drain).await
}

fn check(a: &Accounting, ex_received: u64) {
    assert!(a.balanced(), "identity broken: {a:?}");
    assert_eq!(
        a.sent, ex_received,
        "sent must equal what the sink accepted: {a:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn healthy_sink_sends_everything() {
    let fake = Fake::new(&[], Fault::Ok);
    let ex = start(test_config(), &fake).await;
    push(&ex, 120);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(ex.accounting().sent, 120);
    let a = finish(&ex, Duration::from_secs(5)).await;
    check(&a, 120);
    assert_eq!(a.sent, 120);
}

#[tokio::test(start_paused = true)]
async fn burst_10k_stays_bounded_and_balances() {
    for policy in [WhenFull::DropNewest, WhenFull::DropOldest] {
        let fake = Fake::new(&[], Fault::Ok);
        let mut cfg = test_config();
        cfg.queue.max_events = 2_000;
        cfg.queue.max_bytes = 64 * 1024;
        cfg.queue.when_full = policy;
        let ex = start(cfg, &fake).await;
        push(&ex, 10_000);
        assert!(ex.queue_high_water_bytes() <= 64 * 1024);
        assert!(ex.metrics().queue_bytes.get() <= 64 * 1024);
        let a = ex.shutdown(Duration::from_secs(5)).await;
        check(&a, fake.received.load(Ordering::SeqCst));
        assert_eq!(a.emitted, 10_000);
        assert!(a.dropped > 0, "{policy:?}: {a:?}");
        assert_eq!(a.abandoned_on_shutdown, 0, "drain had time: {a:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn persistent_500s_fail_batches_and_open_the_circuit() {
    let fake = Fake::new(&[], Fault::Status(500, None));
    let ex = start(test_config(), &fake).await;
    push(&ex, 50 * 7);
    // 5 batches x 5 attempts with <= 3 s backoff each: well under 2 minutes.
    tokio::time::sleep(Duration::from_secs(25)).await;
    let a = ex.accounting();
    assert_eq!(a.failed, 5 * 50, "{a:?}");
    assert_eq!(fake.calls(), 25);
    assert_eq!(circuit(&ex), 2, "open after 5 consecutive failed batches");
    assert_eq!(ex.metrics().retries.get(), 20);
    // While open, the queue absorbs up to its bound and drops the rest.
    push(&ex, 1_000);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(circuit(&ex), 2);
    let dropped = ex.accounting().dropped;
    assert!(dropped > 0, "queue bound enforced while open");
    let a = finish(&ex, Duration::from_secs(1)).await;
    check(&a, 0);
    assert_eq!(a.emitted, 1_350);
    assert_eq!(a.abandoned_on_shutdown, 1_350 - 250 - dropped, "{a:?}");
}

#[tokio::test(start_paused = true)]
async fn partial_batch_waits_for_interval_or_bytes() {
    let fake = Fake::new(&[], Fault::Ok);
    let ex = start(test_config(), &fake).await;
    push(&ex, 10);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        ex.accounting().sent,
        0,
        "10 < 50 events: waits for the interval"
    );
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(ex.accounting().sent, 10, "flushed by the 100 ms interval");
    check(&finish(&ex, Duration::from_secs(1)).await, 10);

    let mut cfg = test_config();
    cfg.batch.max_bytes = 1_000;
    let fake = Fake::new(&[], Fault::Ok);
    let ex = start(cfg, &fake).await;
    push(&ex, 10);
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(
        ex.accounting().sent,
        10,
        "1000 bytes reached: flushed at once"
    );
    check(&finish(&ex, Duration::from_secs(1)).await, 10);
}

#[tokio::test(start_paused = true)]
async fn circuit_half_opens_after_30s_and_closes_on_success() {
    let fail = [Fault::Status(503, None); 25];
    let fake = Fake::new(&fail, Fault::Ok);
    let ex = start(test_config(), &fake).await;
    push(&ex, 50 * 6);
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(circuit(&ex), 2);
    let calls = fake.calls();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(fake.calls(), calls, "nothing sent while open");
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert_eq!(circuit(&ex), 0, "trial succeeded: closed");
    let a = finish(&ex, Duration::from_secs(5)).await;
    check(&a, 50);
    assert_eq!((a.failed, a.sent), (250, 50));
}

#[tokio::test(start_paused = true)]
async fn honours_retry_after_on_429() {
    let fake = Fake::new(&[Fault::Status(429, Some(7))], Fault::Ok);
    let ex = start(test_config(), &fake).await;
    let t0 = Instant::now();
    push(&ex, 50);
    while ex.accounting().sent < 50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        t0.elapsed() >= Duration::from_secs(7),
        "waited {:?}",
        t0.elapsed()
    );
    assert!(t0.elapsed() < Duration::from_secs(8));
    assert_eq!(circuit(&ex), 0);
    check(&finish(&ex, Duration::from_secs(5)).await, 50);
}

#[tokio::test(start_paused = true)]
async fn client_errors_are_not_retried_except_408() {
    let fake = Fake::new(
        &[Fault::Status(400, None), Fault::Status(408, None)],
        Fault::Ok,
    );
    let ex = start(test_config(), &fake).await;
    push(&ex, 100);
    tokio::time::sleep(Duration::from_secs(10)).await;
    // Batch 1: one 400 attempt, failed. Batch 2: 408 then ok.
    assert_eq!(fake.calls(), 3);
    let a = finish(&ex, Duration::from_secs(5)).await;
    check(&a, 50);
    assert_eq!(a.failed, 50);
}

#[tokio::test(start_paused = true)]
async fn hanging_sink_times_out_per_attempt() {
    let fake = Fake::new(&[], Fault::Hang);
    let mut cfg = test_config();
    cfg.retry.attempt_timeout_ms = 1_000;
    cfg.retry.max_attempts = 2;
    let ex = start(cfg, &fake).await;
    push(&ex, 50);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(ex.accounting().failed, 50);
    assert_eq!(fake.calls(), 2);
    check(&finish(&ex, Duration::from_secs(1)).await, 0);
}

#[tokio::test(start_paused = true)]
async fn drain_timeout_abandons_in_flight_and_queued() {
    let fake = Fake::new(&[], Fault::Hang);
    let ex = start(test_config(), &fake).await;
    push(&ex, 170);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    let a = finish(&ex, Duration::from_secs(2)).await;
    assert!(t0.elapsed() <= Duration::from_secs(2) + Duration::from_millis(10));
    check(&a, 0);
    assert_eq!(a.abandoned_on_shutdown, 170, "{a:?}");
}

#[tokio::test(start_paused = true)]
async fn refused_connections_fail_then_recover() {
    let fake = Fake::new(&[Fault::Refused; 4], Fault::Ok);
    let ex = start(test_config(), &fake).await;
    push(&ex, 50);
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(ex.accounting().sent, 50, "fifth attempt succeeds");
    assert_eq!(circuit(&ex), 0);
    check(&finish(&ex, Duration::from_secs(5)).await, 50);
}

#[tokio::test(start_paused = true)]
async fn flapping_sink_never_opens_the_circuit() {
    // Every batch: fail all 5 attempts, then next batch succeeds first time, repeatedly.
    let mut script = Vec::new();
    for _ in 0..4 {
        script.extend([Fault::Status(502, None); 5]);
        script.push(Fault::Ok);
    }
    let fake = Fake::new(&script, Fault::Ok);
    let ex = start(test_config(), &fake).await;
    push(&ex, 50 * 8);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(circuit(&ex), 0);
    let a = finish(&ex, Duration::from_secs(5)).await;
    check(&a, 4 * 50);
    assert_eq!(a.failed, 4 * 50, "{a:?}");
}

#[tokio::test(start_paused = true)]
async fn submits_after_shutdown_are_abandoned() {
    let fake = Fake::new(&[], Fault::Ok);
    let ex = start(test_config(), &fake).await;
    push(&ex, 10);
    let a = finish(&ex, Duration::from_secs(5)).await;
    check(&a, 10);
    assert_eq!(ex.submit_event(event(0, 100)), PushOutcome::Closed);
    let a = ex.shutdown(Duration::from_secs(5)).await;
    check(&a, 10);
    assert_eq!((a.emitted, a.abandoned_on_shutdown), (11, 1));
}
