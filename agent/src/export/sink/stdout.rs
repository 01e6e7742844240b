//! The `stdout` sink: each batch written as NDJSON lines to standard output, then flushed.

use tokio::io::AsyncWriteExt;

use crate::export::delivery::{SendError, SendFuture, Transport};
use crate::export::event::EncodedEvent;

/// NDJSON on standard output.
#[derive(Debug, Default)]
pub struct StdoutSink {
    out: tokio::sync::Mutex<Option<tokio::io::Stdout>>,
}

impl StdoutSink {
    /// A sink on this process's stdout.
    pub fn new() -> Self {
        StdoutSink::default()
    }
}

/// Map an I/O error: a closed pipe will not heal, the rest may.
pub(crate) fn io_error(e: &std::io::Error) -> SendError {
    let reason = format!("I/O: {}", e.kind());
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        SendError::Permanent { reason }
    } else {
        SendError::Retryable {
            reason,
            retry_after: None,
        }
    }
}

impl Transport for StdoutSink {
    fn kind(&self) -> &'static str {
        "stdout"
    }

    fn send<'a>(&'a self, batch: &'a [EncodedEvent]) -> SendFuture<'a> {
        Box::pin(async move {
            let mut guard = self.out.lock().await;
            let out = guard.get_or_insert_with(tokio::io::stdout);
            let mut buf = Vec::with_capacity(batch.iter().map(EncodedEvent::size).sum());
            for ev in batch {
                buf.extend_from_slice(&ev.line);
            }
            out.write_all(&buf).await.map_err(|e| io_error(&e))?;
            out.flush().await.map_err(|e| io_error(&e))
        })
    }
}
