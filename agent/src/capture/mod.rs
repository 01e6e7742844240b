//! Capture stage: loads the kernel programs, discovers and attaches TLS libraries in every
//! process (and mount namespace), reads plaintext chunks from the ring buffer and hands them on
//! as [`CaptureEvent`]s through a bounded queue. Counts every byte it does not deliver.
//!
//! Does not parse or interpret the bytes (that is `reassembly`), and never blocks the observed
//! process: the kernel side only copies, and a full queue drops (counted) instead of waiting.

pub mod attach;
pub mod discovery;
pub mod elf;
pub mod event;
pub mod probes;
pub mod queue;
pub mod ring;
pub mod stats;

mod runtime;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use event::{CaptureEvent, Chunk, ConnId, Direction, Library, ProcessInfo};
pub use queue::CaptureReceiver;
pub use runtime::{CaptureHandle, CaptureStatus, start};

/// Errors starting or running capture.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The binary was built with `AYA_BUILD_SKIP=1`.
    #[error(
        "this llmtap binary was built without its eBPF programs (AYA_BUILD_SKIP); rebuild without it"
    )]
    NotBuilt,
    /// The kernel refused the programs or maps.
    #[error(
        "cannot load the eBPF programs: {0}\n  llmtap needs root (or CAP_BPF + CAP_PERFMON) and a kernel >= 5.8 with BTF; run `llmtap check`"
    )]
    Load(String),
    /// Reading the ring buffer failed.
    #[error("ring buffer: {0}")]
    Ring(String),
    /// The settings are out of range.
    #[error("invalid capture setting: {0}")]
    InvalidSetting(String),
}

/// Capture settings (the `[capture]` section of the configuration).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureSettings {
    /// Ring buffer size in bytes: a power of two, at least 64 KiB.
    pub ring_bytes: u32,
    /// Payload bytes per chunk record, 1..=32768.
    pub chunk_size: u32,
    /// Bytes captured per TLS call at most; the rest is counted as lost. At most
    /// `chunk_size × 256`.
    pub max_capture_per_call: u64,
    /// Capacity of the queue between the ring reader and the pipeline (events).
    pub queue_capacity: usize,
    /// Plaintext bytes that queue may hold; beyond it chunks are dropped and counted.
    pub queue_max_bytes: u64,
    /// Full rescan of `/proc` every this many seconds (new processes are also found through
    /// exec events as they start).
    pub rescan_interval_secs: u64,
    /// Also attach to TLS libraries found in the host's standard library directories at start,
    /// so processes started later are covered before their first call.
    pub scan_system_libraries: bool,
}

impl Default for CaptureSettings {
    fn default() -> Self {
        CaptureSettings {
            ring_bytes: agent_common::DEFAULT_RING_BYTES,
            chunk_size: agent_common::DEFAULT_CHUNK_SIZE,
            max_capture_per_call: agent_common::DEFAULT_MAX_CAPTURE_PER_CALL,
            queue_capacity: 65_536,
            queue_max_bytes: 16 * 1024 * 1024,
            rescan_interval_secs: 30,
            scan_system_libraries: true,
        }
    }
}

impl CaptureSettings {
    /// Check ranges; the message names the setting and the allowed range.
    pub fn validate(&self) -> Result<(), CaptureError> {
        let bad = |m: String| Err(CaptureError::InvalidSetting(m));
        if !self.ring_bytes.is_power_of_two() || self.ring_bytes < 64 * 1024 {
            return bad(format!(
                "ring_bytes = {} must be a power of two >= 65536",
                self.ring_bytes
            ));
        }
        if self.chunk_size == 0 || self.chunk_size as usize > agent_common::CHUNK_MAX {
            return bad(format!(
                "chunk_size = {} must be in 1..={}",
                self.chunk_size,
                agent_common::CHUNK_MAX
            ));
        }
        let ceiling = self.chunk_size as u64 * agent_common::MAX_CHUNKS_PER_CALL as u64;
        if self.max_capture_per_call == 0 || self.max_capture_per_call > ceiling {
            return bad(format!(
                "max_capture_per_call = {} must be in 1..={ceiling} (chunk_size × {})",
                self.max_capture_per_call,
                agent_common::MAX_CHUNKS_PER_CALL
            ));
        }
        if self.queue_capacity == 0 {
            return bad("queue_capacity must be > 0".into());
        }
        if self.queue_max_bytes < agent_common::CHUNK_MAX as u64 {
            return bad(format!(
                "queue_max_bytes = {} must be >= {}",
                self.queue_max_bytes,
                agent_common::CHUNK_MAX
            ));
        }
        if self.rescan_interval_secs == 0 {
            return bad("rescan_interval_secs must be > 0".into());
        }
        Ok(())
    }

    /// The rescan interval.
    pub fn rescan_interval(&self) -> Duration {
        Duration::from_secs(self.rescan_interval_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        CaptureSettings::default().validate().unwrap();
    }

    #[test]
    fn out_of_range_settings_name_the_field() {
        let s = CaptureSettings {
            ring_bytes: 1000,
            ..Default::default()
        };
        assert!(s.validate().unwrap_err().to_string().contains("ring_bytes"));
        let s = CaptureSettings {
            chunk_size: 100_000,
            ..Default::default()
        };
        assert!(s.validate().unwrap_err().to_string().contains("chunk_size"));
        let s = CaptureSettings {
            chunk_size: 1024,
            max_capture_per_call: 1 << 30,
            ..Default::default()
        };
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("max_capture_per_call")
        );
    }
}
