//! The bounded queue between the ring reader and the pipeline: bounded by event count (the
//! channel) and by payload bytes in flight, so a slow pipeline can never make the agent hold
//! more than `queue_max_bytes` of plaintext. The ring reader never waits: what does not fit is
//! dropped and counted by the caller.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use tokio::sync::mpsc;

use super::event::CaptureEvent;

/// Payload bytes an event holds while queued.
fn weight(ev: &CaptureEvent) -> u64 {
    match ev {
        CaptureEvent::Chunk(c) => c.data.len() as u64,
        _ => 0,
    }
}

/// Sending side (the ring reader).
pub(crate) struct QueueSender {
    tx: mpsc::Sender<CaptureEvent>,
    in_flight: Arc<AtomicU64>,
    max_bytes: u64,
}

/// Receiving side: what [`super::start`] hands to the pipeline.
pub struct CaptureReceiver {
    rx: mpsc::Receiver<CaptureEvent>,
    in_flight: Arc<AtomicU64>,
}

/// Make a queue of `capacity` events and `max_bytes` payload bytes.
pub(crate) fn queue(capacity: usize, max_bytes: u64) -> (QueueSender, CaptureReceiver) {
    let (tx, rx) = mpsc::channel(capacity);
    let in_flight = Arc::new(AtomicU64::new(0));
    (
        QueueSender {
            tx,
            in_flight: in_flight.clone(),
            max_bytes,
        },
        CaptureReceiver { rx, in_flight },
    )
}

impl QueueSender {
    /// Queue `ev` unless the queue is full by count or bytes; gives it back when it is not
    /// queued.
    pub(crate) fn try_send(&self, ev: CaptureEvent) -> Result<(), CaptureEvent> {
        let w = weight(&ev);
        if w > 0 && self.in_flight.load(Ordering::Relaxed) + w > self.max_bytes {
            return Err(ev);
        }
        self.in_flight.fetch_add(w, Ordering::Relaxed);
        match self.tx.try_send(ev) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(ev) | mpsc::error::TrySendError::Closed(ev)) => {
                self.in_flight.fetch_sub(w, Ordering::Relaxed);
                Err(ev)
            }
        }
    }
}

impl CaptureReceiver {
    /// Next event; `None` once capture has stopped and the queue is empty.
    pub async fn recv(&mut self) -> Option<CaptureEvent> {
        let ev = self.rx.recv().await?;
        self.in_flight.fetch_sub(weight(&ev), Ordering::Relaxed);
        Some(ev)
    }

    /// Up to `limit` events appended to `buf`; 0 once capture has stopped and the queue is empty.
    pub async fn recv_many(&mut self, buf: &mut Vec<CaptureEvent>, limit: usize) -> usize {
        let start = buf.len();
        let n = self.rx.recv_many(buf, limit).await;
        let w: u64 = buf[start..].iter().map(weight).sum();
        self.in_flight.fetch_sub(w, Ordering::Relaxed);
        n
    }

    /// Payload bytes queued now.
    pub fn bytes_in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::event::{Chunk, ConnId, Direction, Library, ProcessInfo};

    fn chunk(len: usize) -> CaptureEvent {
        CaptureEvent::Chunk(Chunk {
            conn: ConnId {
                tgid: 1,
                conn_ptr: 1,
                start_ns: 1,
            },
            direction: Direction::Egress,
            offset: 0,
            data: bytes::Bytes::from(vec![0u8; len]),
            timestamp_ns: 0,
            process: ProcessInfo {
                pid: 1,
                tid: 1,
                comm: "t".into(),
                cgroup_id: 0,
            },
            library: Library::OpenSsl,
            call_truncated: false,
            last_of_call: true,
        })
    }

    #[tokio::test]
    async fn bytes_bound_the_queue_and_receiving_frees_them() {
        let (tx, mut rx) = queue(100, 1000);
        assert!(tx.try_send(chunk(600)).is_ok());
        assert!(
            tx.try_send(chunk(600)).is_err(),
            "would exceed the byte bound"
        );
        assert!(
            tx.try_send(CaptureEvent::ProcessExec { pid: 1 }).is_ok(),
            "control events weigh nothing"
        );
        assert_eq!(rx.bytes_in_flight(), 600);
        let mut buf = Vec::new();
        assert_eq!(rx.recv_many(&mut buf, 10).await, 2);
        assert_eq!(rx.bytes_in_flight(), 0);
        assert!(tx.try_send(chunk(600)).is_ok());
    }

    #[tokio::test]
    async fn the_count_bound_still_applies() {
        let (tx, _rx) = queue(1, 1 << 30);
        assert!(tx.try_send(chunk(1)).is_ok());
        assert!(tx.try_send(chunk(1)).is_err());
    }
}
