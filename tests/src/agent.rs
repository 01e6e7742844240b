//! The whole agent pipeline (capture → reassembly → llm → pricing → event → insights) run
//! through the library API inside a test, keeping every emitted event for inspection.

use std::time::Duration;

use llmtap::{
    capture::{self, CaptureHandle, CaptureSettings},
    config::AgentConfig,
    pipeline::{self, Emitted, Pipeline},
    privacy::{Privacy, PrivacyMode, PrivacyStats, Salt},
};
use tokio::sync::mpsc;

/// A running pipeline collecting its events.
pub struct TestAgent {
    handle: CaptureHandle,
    rx: mpsc::UnboundedReceiver<Emitted>,
    task: tokio::task::JoinHandle<serde_json::Value>,
    /// Events received so far.
    pub events: Vec<Emitted>,
}

impl TestAgent {
    /// Start with default configuration, strict privacy and a fixed test salt.
    pub async fn start() -> TestAgent {
        Self::start_with(AgentConfig::default(), PrivacyMode::Strict).await
    }

    /// Start with `cfg` and privacy `mode`.
    pub async fn start_with(cfg: AgentConfig, mode: PrivacyMode) -> TestAgent {
        let salt = Salt::from_bytes(b"llmtap-test-salt-0123456789abcdef".to_vec()).expect("salt");
        let mut pipe =
            Pipeline::with_privacy(&cfg, Privacy::new(mode, salt), PrivacyStats::default())
                .expect("pipeline");
        let settings = CaptureSettings {
            ..cfg.capture.clone()
        };
        let (handle, capture_rx) = capture::start(settings)
            .await
            .unwrap_or_else(|e| panic!("capture failed to start: {e}"));
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            pipeline::run(
                capture_rx,
                &mut pipe,
                |e| {
                    let _ = tx.send(e);
                },
                |_| {},
            )
            .await;
            pipe.status()
        });
        TestAgent {
            handle,
            rx,
            task,
            events: Vec::new(),
        }
    }

    /// Wait until `done(events)` holds or `timeout` passes.
    pub async fn wait(
        &mut self,
        timeout: Duration,
        done: impl Fn(&[Emitted]) -> bool,
    ) -> &[Emitted] {
        let deadline = tokio::time::Instant::now() + timeout;
        while !done(&self.events) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(e)) => self.events.push(e),
                _ => break,
            }
        }
        &self.events
    }

    /// Events of process `pid`.
    pub fn events_of(&self, pid: u32) -> Vec<&Emitted> {
        self.events
            .iter()
            .filter(|e| e.event.process_pid == pid)
            .collect()
    }

    /// Stop capture, let the pipeline finish, and return its status JSON and any last events.
    pub async fn stop(mut self) -> (serde_json::Value, Vec<Emitted>) {
        self.handle.stop().await;
        let status = self.task.await.unwrap_or_default();
        while let Ok(e) = self.rx.try_recv() {
            self.events.push(e);
        }
        (status, self.events)
    }
}
