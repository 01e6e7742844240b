//! The pipeline driver: takes capture events and pushes them through the stages in order.
//! Owns the stage instances and their counters; owns no stage logic.

use serde::Serialize;
use tokio::sync::mpsc;

use crate::capture::CaptureEvent;

/// Counters of what went through the pipeline.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PipelineCounters {
    /// Capture events received.
    pub events: u64,
    /// Chunks received.
    pub chunks: u64,
    /// Plaintext bytes received.
    pub bytes: u64,
}

/// Consume capture events until the channel closes; `on_update` sees the counters after each
/// batch (for status output).
pub async fn run(
    mut rx: mpsc::Receiver<CaptureEvent>,
    mut on_update: impl FnMut(&PipelineCounters),
) -> PipelineCounters {
    let mut c = PipelineCounters::default();
    let mut batch = Vec::with_capacity(256);
    while rx.recv_many(&mut batch, 256).await > 0 {
        for ev in batch.drain(..) {
            c.events += 1;
            if let CaptureEvent::Chunk(chunk) = &ev {
                c.chunks += 1;
                c.bytes += chunk.data.len() as u64;
            }
        }
        on_update(&c);
    }
    c
}
