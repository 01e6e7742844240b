//! Delivery: the bounded queue between capture and a sink, batching, retries with backoff,
//! the circuit breaker and the accounting of every event. At-most-once: an event is handed
//! to the sink at most in one successful batch; nothing is persisted.
//!
//! Owns *when* and *whether* a batch is sent; does not know *how* (see [`Transport`] and
//! `export::sink`).

pub mod accounting;
pub mod circuit;
pub mod queue;
pub mod retry;
pub(crate) mod worker;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::event::EncodedEvent;

/// Why one attempt to send a batch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying (5xx, 408, 429, timeouts, connection errors).
    #[error("retryable: {reason}")]
    Retryable {
        /// Short cause, never payload or secrets.
        reason: String,
        /// Server-requested delay (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// Not worth retrying (other 4xx, encoding errors).
    #[error("permanent: {reason}")]
    Permanent {
        /// Short cause, never payload or secrets.
        reason: String,
    },
}

/// The future returned by [`Transport::send`].
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// One way of handing a batch to a sink. Retries, timeouts and the circuit are the caller's.
pub trait Transport: Send + Sync + 'static {
    /// Short sink kind for logs (`stdout`, `file`, `http`, `otlp`).
    fn kind(&self) -> &'static str;
    /// Send one batch, in order. Must not retry on its own.
    fn send<'a>(&'a self, batch: &'a [EncodedEvent]) -> SendFuture<'a>;
}
