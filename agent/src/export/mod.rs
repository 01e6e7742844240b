//! Export stage (issue 8): turns encoded events into sink deliveries and observations into
//! Prometheus metrics, and serves `/metrics`, `/healthz`, `/readyz`.
//!
//! Owns: the metrics registry ([`metrics`]), sinks ([`sink`]), delivery — bounded queue,
//! batching, retries, circuit breaker, drain — ([`delivery`]) and the HTTP server ([`http`]).
//! Does not own event encoding (callers hand in [`EncodedEvent`]s) nor capture.
//!
//! Guarantees: [`Exporter::submit`] never waits on a sink; delivery is at-most-once; after
//! [`Exporter::shutdown`], `emitted = sent + failed + dropped + abandoned_on_shutdown`.

pub mod config;
pub mod delivery;
pub mod event;
pub mod http;
pub mod metrics;
pub mod sink;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

pub use config::{ExportConfig, WhenFull};
pub use delivery::Transport;
pub use delivery::accounting::{Accounting, final_line};
pub use delivery::queue::PushOutcome;
pub use event::{EncodedEvent, Observation};
pub use metrics::{CaptureCounters, ExportMetrics};
pub use sink::SinkSpec;

use delivery::accounting::Ledger;
use delivery::queue::EventQueue;
use delivery::worker::{Worker, WorkerMetrics};

/// Errors starting the export stage.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Configuration is invalid.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The sink could not be built.
    #[error(transparent)]
    Sink(#[from] sink::SinkError),
    /// Metrics could not be registered.
    #[error(transparent)]
    Metrics(#[from] metrics::MetricsError),
    /// The metrics server could not start.
    #[error(transparent)]
    Http(#[from] http::HttpError),
}

/// The running export stage. Share it (e.g. in an `Arc`) between the pipeline and the
/// shutdown path; dropping it without [`Exporter::shutdown`] abandons queued events silently.
pub struct Exporter {
    queue: Arc<EventQueue>,
    metrics: Arc<ExportMetrics>,
    ledger: Ledger,
    ready: Arc<AtomicBool>,
    in_flight: Arc<AtomicU64>,
    worker: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    server: std::sync::Mutex<Option<http::MetricsServer>>,
    metrics_addr: Option<std::net::SocketAddr>,
}

/// Start with the sink named in `cfg.sink`.
pub async fn start(cfg: ExportConfig) -> Result<Exporter, ExportError> {
    let spec = cfg.validate()?;
    let transport = sink::build(&spec, &cfg)?;
    tracing::info!(sink = %spec, "export sink ready");
    start_with_transport(cfg, transport).await
}

/// Start with a caller-supplied transport (tests, embedding); `cfg.sink` is still validated.
pub async fn start_with_transport(
    cfg: ExportConfig,
    transport: Arc<dyn Transport>,
) -> Result<Exporter, ExportError> {
    cfg.validate()?;
    let metrics = Arc::new(ExportMetrics::new(&cfg.labels)?);
    let ledger = Ledger::new(&metrics.events);
    metrics
        .queue_max_bytes
        .set(i64::try_from(cfg.queue.max_bytes).unwrap_or(i64::MAX));
    let queue = Arc::new(EventQueue::new(
        cfg.queue.clone(),
        ledger.clone(),
        metrics.queue_events.clone(),
        metrics.queue_bytes.clone(),
    ));
    let in_flight = Arc::new(AtomicU64::new(0));
    let worker = Worker::new(
        Arc::clone(&queue),
        transport,
        cfg.batch.clone(),
        cfg.retry.clone(),
        &cfg.circuit,
        ledger.clone(),
        WorkerMetrics {
            circuit_state: metrics.circuit_state.clone(),
            batches: metrics.batches.clone(),
            retries: metrics.retries.clone(),
        },
        Arc::clone(&in_flight),
    );
    let ready = Arc::new(AtomicBool::new(false));
    let server = match cfg.metrics_addr {
        Some(addr) => {
            let flag = Arc::clone(&ready);
            let circuit = metrics.circuit_state.clone();
            let readiness: http::Readiness = Arc::new(move || {
                flag.load(Ordering::Relaxed)
                    && circuit.get() != delivery::circuit::CircuitState::Open as i64
            });
            Some(http::serve(addr, Arc::clone(&metrics), readiness).await?)
        }
        None => None,
    };
    Ok(Exporter {
        worker: std::sync::Mutex::new(Some(tokio::spawn(worker.run()))),
        metrics_addr: server.as_ref().map(|s| s.local_addr),
        server: std::sync::Mutex::new(server),
        queue,
        metrics,
        ledger,
        ready,
        in_flight,
    })
}

impl Exporter {
    /// Record `obs` in metrics and queue `ev` for the sink. Never waits.
    pub fn submit(&self, ev: EncodedEvent, obs: &Observation) -> PushOutcome {
        self.metrics.observe(obs);
        self.queue.try_push(ev)
    }

    /// Queue `ev` without an observation (events that are not LLM exchanges).
    pub fn submit_event(&self, ev: EncodedEvent) -> PushOutcome {
        self.queue.try_push(ev)
    }

    /// Metrics, for the self-metric setters ([`ExportMetrics::set_capture_counters`], …).
    pub fn metrics(&self) -> &Arc<ExportMetrics> {
        &self.metrics
    }

    /// Capture is attached (feeds `/readyz` together with the sink circuit).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Where `/metrics` is served, if enabled.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_addr
    }

    /// Counts so far (queued and in-flight events are not settled yet).
    pub fn accounting(&self) -> Accounting {
        self.ledger.snapshot()
    }

    /// Largest number of bytes the queue ever held.
    pub fn queue_high_water_bytes(&self) -> usize {
        self.queue.high_water_bytes()
    }

    /// Stop accepting, drain for at most `drain_timeout`, then abandon what is left. Returns
    /// the final accounting, whose identity holds. Later submits are refused and counted as
    /// `abandoned_on_shutdown`; calling it again returns the updated counts.
    pub async fn shutdown(&self, drain_timeout: Duration) -> Accounting {
        self.set_ready(false);
        self.queue.close();
        let worker = take(&self.worker);
        if let Some(mut worker) = worker
            && tokio::time::timeout(drain_timeout, &mut worker)
                .await
                .is_err()
        {
            worker.abort();
            let _ = worker.await;
        }
        let abandoned = self.queue.take_all() + self.in_flight.swap(0, Ordering::SeqCst);
        self.ledger.abandoned(abandoned);
        if let Some(server) = take(&self.server) {
            server.stop();
        }
        let a = self.ledger.snapshot();
        tracing::info!(
            emitted = a.emitted,
            sent = a.sent,
            failed = a.failed,
            dropped = a.dropped,
            abandoned_on_shutdown = a.abandoned_on_shutdown,
            balanced = a.balanced(),
            "export stage stopped"
        );
        a
    }
}

fn take<T>(slot: &std::sync::Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(|p| p.into_inner()).take()
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Some(w) = take(&self.worker) {
            w.abort();
        }
        if let Some(s) = take(&self.server) {
            s.stop();
        }
    }
}
#[cfg(test)]
mod tests;
