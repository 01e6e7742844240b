//! Reassembly configuration (bounds and timeouts) and the stage's counters.
//!
//! Owns: [`ReassemblyConfig`] with its defaults and validation, and [`ReassemblyStats`].
//! Does not own: parsing or any per-connection state.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Bounds and timeouts of the reassembly stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReassemblyConfig {
    /// Bytes buffered per connection (reorder window plus parser buffers), default 4 MiB.
    pub max_conn_buffer_bytes: usize,
    /// Decoded size of one body (after content decoding), default 16 MiB.
    pub max_decompressed_bytes: usize,
    /// A connection with no event for this long is evicted, default 5 minutes.
    pub idle_timeout_ns: u64,
    /// Connections tracked at once, default 4096; the least recently seen is evicted beyond.
    pub max_connections: usize,
    /// Largest HTTP/1 head or HTTP/2 header block, default 256 KiB.
    pub max_header_bytes: usize,
    /// Out-of-order bytes held per direction waiting for a missing offset before the hole is
    /// declared a gap, default 64 KiB (part of the connection bound).
    pub reorder_window_bytes: usize,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        Self {
            max_conn_buffer_bytes: 4 << 20,
            max_decompressed_bytes: 16 << 20,
            idle_timeout_ns: 300_000_000_000,
            max_connections: 4096,
            max_header_bytes: 256 << 10,
            reorder_window_bytes: 64 << 10,
        }
    }
}

/// A configuration value out of range.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A bound is zero.
    #[error("reassembly.{0} must be greater than zero")]
    Zero(&'static str),
    /// `max_header_bytes` exceeds `max_conn_buffer_bytes`.
    #[error("reassembly.max_header_bytes ({header}) exceeds max_conn_buffer_bytes ({conn})")]
    HeaderOverConn {
        /// Configured header bound.
        header: usize,
        /// Configured connection bound.
        conn: usize,
    },
    /// `max_decompressed_bytes` is over [`MAX_BODY_BYTES`].
    #[error(
        "reassembly.max_decompressed_bytes ({0}) exceeds 1 GiB ({MAX_BODY_BYTES}); no LLM body needs more"
    )]
    BodyOverLimit(usize),
}

/// Largest allowed `max_decompressed_bytes`: bodies are indexed with 32-bit offsets.
pub const MAX_BODY_BYTES: usize = 1 << 30;

impl ReassemblyConfig {
    /// Checks that every bound is usable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let zero = [
            ("max_conn_buffer_bytes", self.max_conn_buffer_bytes == 0),
            ("max_decompressed_bytes", self.max_decompressed_bytes == 0),
            ("idle_timeout_ns", self.idle_timeout_ns == 0),
            ("max_connections", self.max_connections == 0),
            ("max_header_bytes", self.max_header_bytes == 0),
            ("reorder_window_bytes", self.reorder_window_bytes == 0),
        ];
        if let Some((name, _)) = zero.iter().find(|(_, z)| *z) {
            return Err(ConfigError::Zero(name));
        }
        if self.max_decompressed_bytes > MAX_BODY_BYTES {
            return Err(ConfigError::BodyOverLimit(self.max_decompressed_bytes));
        }
        if self.max_header_bytes > self.max_conn_buffer_bytes {
            return Err(ConfigError::HeaderOverConn {
                header: self.max_header_bytes,
                conn: self.max_conn_buffer_bytes,
            });
        }
        Ok(())
    }
}

/// Malformed input, by where it was found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MalformedStats {
    /// HTTP/1 request heads or framing.
    pub http1_request: u64,
    /// HTTP/1 response heads or framing.
    pub http1_response: u64,
    /// HTTP/2 frames.
    pub http2_frame: u64,
    /// HPACK header blocks.
    pub hpack: u64,
    /// SSE streams (over-long lines).
    pub sse: u64,
    /// NDJSON streams (over-long lines).
    pub ndjson: u64,
    /// AWS event-stream frames (lengths, CRCs, headers).
    pub eventstream: u64,
    /// Content-encoded bodies that failed to decode.
    pub content_encoding: u64,
}

/// Counters of the reassembly stage.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReassemblyStats {
    /// Gaps (lost capture bytes) seen.
    pub gaps: u64,
    /// Bytes lost in gaps.
    pub gap_bytes: u64,
    /// Chunks whose bytes had all been seen already.
    pub duplicate_chunks: u64,
    /// Times a buffering bound was hit (reorder window, head, line, body).
    pub bound_hits: u64,
    /// Connections evicted for idleness.
    pub idle_evictions: u64,
    /// Connections evicted because `max_connections` was reached.
    pub capacity_evictions: u64,
    /// Content-encoded bodies stopped at `max_decompressed_bytes`.
    pub decompression_bombs: u64,
    /// Malformed input by kind.
    pub malformed: MalformedStats,
    /// Exchanges emitted complete.
    pub exchanges_complete: u64,
    /// Exchanges emitted incomplete.
    pub exchanges_incomplete: u64,
    /// HTTP/2 streams whose headers could not be decoded (connection seen mid-way).
    pub h2_headers_unavailable: u64,
    /// HTTP/2 RST_STREAM frames seen.
    pub h2_stream_resets: u64,
    /// Connections whose protocol was recognised as HTTP/1.
    pub conns_http1: u64,
    /// Connections whose protocol was recognised as HTTP/2.
    pub conns_http2: u64,
    /// Responses seen without a request to pair with.
    pub unpaired_responses: u64,
}
