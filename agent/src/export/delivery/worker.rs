//! The delivery worker: forms batches from the queue (count, bytes, interval), sends them
//! through a [`Transport`] with per-attempt timeouts, retries and the circuit breaker, and
//! records each batch's outcome. Owns the send loop; does not own the queue or the transport.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus::{IntCounter, IntCounterVec, IntGauge};
use tokio::time::{Instant, sleep, sleep_until, timeout};

use super::accounting::Ledger;
use super::circuit::{CircuitBreaker, CircuitState};
use super::queue::EventQueue;
use super::retry::Backoff;
use super::{SendError, Transport};
use crate::export::config::{BatchConfig, CircuitConfig, RetryConfig};
use crate::export::event::EncodedEvent;

/// Metric handles the worker updates.
pub(crate) struct WorkerMetrics {
    pub circuit_state: IntGauge,
    pub batches: IntCounterVec,
    pub retries: IntCounter,
}

/// One worker per exporter.
pub(crate) struct Worker {
    pub queue: Arc<EventQueue>,
    pub transport: Arc<dyn Transport>,
    pub batch: BatchConfig,
    pub retry: RetryConfig,
    pub circuit: CircuitBreaker,
    pub ledger: Ledger,
    pub metrics: WorkerMetrics,
    /// Events popped but not yet settled; read by shutdown after aborting the worker.
    pub in_flight: Arc<AtomicU64>,
}

impl Worker {
    /// Build from config.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        queue: Arc<EventQueue>,
        transport: Arc<dyn Transport>,
        batch: BatchConfig,
        retry: RetryConfig,
        circuit: &CircuitConfig,
        ledger: Ledger,
        metrics: WorkerMetrics,
        in_flight: Arc<AtomicU64>,
    ) -> Self {
        metrics.circuit_state.set(CircuitState::Closed as i64);
        Worker {
            queue,
            transport,
            batch,
            retry,
            circuit: CircuitBreaker::new(
                circuit.failure_threshold,
                Duration::from_millis(circuit.open_ms),
            ),
            ledger,
            metrics,
            in_flight,
        }
    }

    /// Run until the queue is closed and empty.
    pub async fn run(mut self) {
        let interval = Duration::from_millis(self.batch.interval_ms);
        loop {
            let mut first_seen: Option<Instant> = None;
            loop {
                let (n, bytes, closed) = self.queue.stats();
                if n == 0 {
                    if closed {
                        return;
                    }
                    first_seen = None;
                    self.queue.changed().await;
                    continue;
                }
                let deadline = *first_seen.get_or_insert_with(Instant::now) + interval;
                if closed
                    || n >= self.batch.max_events
                    || bytes >= self.batch.max_bytes
                    || Instant::now() >= deadline
                {
                    break;
                }
                tokio::select! {
                    _ = self.queue.changed() => {}
                    _ = sleep_until(deadline) => {}
                }
            }
            let batch = self
                .queue
                .pop_batch(self.batch.max_events, self.batch.max_bytes);
            if batch.is_empty() {
                continue;
            }
            self.in_flight.store(batch.len() as u64, Ordering::SeqCst);
            self.deliver(&batch).await;
        }
    }

    fn set_circuit_gauge(&self) {
        let s = self.circuit.state(Instant::now());
        self.metrics.circuit_state.set(s as i64);
    }

    /// Settle a batch: clear in-flight and count, with no await in between (so an abort
    /// can never see the batch both in flight and settled).
    fn settle(&self, n: u64, sent: bool) {
        self.in_flight.store(0, Ordering::SeqCst);
        if sent {
            self.ledger.sent(n);
            self.metrics.batches.with_label_values(&["sent"]).inc();
        } else {
            self.ledger.failed(n);
            self.metrics.batches.with_label_values(&["failed"]).inc();
        }
    }

    async fn deliver(&mut self, batch: &[EncodedEvent]) {
        let n = batch.len() as u64;
        let backoff = Backoff {
            base: Duration::from_millis(self.retry.base_ms),
            cap: Duration::from_millis(self.retry.cap_ms),
        };
        let attempt_timeout = Duration::from_millis(self.retry.attempt_timeout_ms);
        let max_retry_after = Duration::from_millis(self.retry.max_retry_after_ms);
        let mut attempts = 0u32;
        loop {
            // Wait out an open circuit; the queue keeps absorbing (and dropping) meanwhile.
            while self.circuit.state(Instant::now()) == CircuitState::Open {
                self.set_circuit_gauge();
                let Some(at) = self.circuit.half_open_at() else {
                    break;
                };
                tracing::debug!(sink = self.transport.kind(), "circuit open; waiting");
                sleep_until(at).await;
            }
            let half_open = self.circuit.state(Instant::now()) == CircuitState::HalfOpen;
            self.set_circuit_gauge();
            let result = match timeout(attempt_timeout, self.transport.send(batch)).await {
                Ok(r) => r,
                Err(_) => Err(SendError::Retryable {
                    reason: "attempt timed out".into(),
                    retry_after: None,
                }),
            };
            attempts += 1;
            match result {
                Ok(()) => {
                    if half_open {
                        tracing::info!(
                            sink = self.transport.kind(),
                            "sink recovered; circuit closed"
                        );
                    }
                    self.circuit.on_success();
                    self.set_circuit_gauge();
                    self.settle(n, true);
                    return;
                }
                Err(SendError::Retryable {
                    reason,
                    retry_after,
                }) if attempts < self.retry.max_attempts && !half_open => {
                    let delay = match retry_after {
                        Some(d) => d.min(max_retry_after),
                        None => backoff.delay(attempts - 1),
                    };
                    tracing::debug!(
                        sink = self.transport.kind(),
                        attempt = attempts,
                        delay_ms = delay.as_millis() as u64,
                        %reason,
                        "send failed; retrying"
                    );
                    self.metrics.retries.inc();
                    sleep(delay).await;
                }
                Err(e) => {
                    self.circuit.on_failure(Instant::now());
                    self.set_circuit_gauge();
                    tracing::warn!(
                        sink = self.transport.kind(),
                        events = n,
                        attempts,
                        error = %e,
                        circuit = ?self.circuit.state(Instant::now()),
                        "batch failed; events not delivered"
                    );
                    self.settle(n, false);
                    return;
                }
            }
        }
    }
}
