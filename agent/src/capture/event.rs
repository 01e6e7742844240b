//! What the capture stage hands to the rest of the pipeline: plaintext chunks with their
//! connection identity and byte offset, and lifecycle notices. No HTTP knowledge here.

use bytes::Bytes;

pub use agent_common::{Direction, Library};

/// Identity of one TLS connection: the process, the library's connection pointer (`SSL*`,
/// `gnutls_session_t`) and the kernel time it was first seen, which keeps the id unique when the
/// allocator reuses the pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    /// Process id (thread-group id).
    pub tgid: u32,
    /// Library connection pointer.
    pub conn_ptr: u64,
    /// Kernel monotonic time the connection was first seen.
    pub start_ns: u64,
}

/// Process identity carried with every chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u32,
    /// Thread id that made the TLS call.
    pub tid: u32,
    /// Command name (`comm`), at most 15 bytes.
    pub comm: String,
    /// cgroup v2 id.
    pub cgroup_id: u64,
}

/// A contiguous piece of plaintext from one TLS call.
#[derive(Clone, Debug)]
pub struct Chunk {
    /// Connection the bytes belong to.
    pub conn: ConnId,
    /// Request-side (egress) or response-side (ingress) bytes, from the process's view.
    pub direction: Direction,
    /// Offset of `data[0]` within the connection's direction.
    pub offset: u64,
    /// The plaintext.
    pub data: Bytes,
    /// Kernel monotonic timestamp (ns) of the TLS call.
    pub timestamp_ns: u64,
    /// Who made the call.
    pub process: ProcessInfo,
    /// Which library the probe fired in.
    pub library: Library,
    /// The TLS call exceeded the capture maximum; bytes after this call's captured part are
    /// missing (the next offset jumps past them).
    pub call_truncated: bool,
    /// Last chunk of its TLS call.
    pub last_of_call: bool,
}

/// Everything that comes out of the capture stage, in ring-buffer order.
#[derive(Clone, Debug)]
pub enum CaptureEvent {
    /// Plaintext bytes.
    Chunk(Chunk),
    /// The library ended the connection (`SSL_shutdown`/`SSL_free`, `gnutls_bye`/`gnutls_deinit`).
    /// `total` is the byte count per direction (egress, ingress) the kernel accounted.
    ConnClosed {
        /// The connection.
        conn: ConnId,
        /// Bytes accounted per direction: `[egress, ingress]`.
        total: [u64; 2],
        /// Time of the close.
        timestamp_ns: u64,
    },
    /// A process exec'd (discovery looks at it for new TLS libraries).
    ProcessExec {
        /// Process id.
        pid: u32,
    },
    /// A process exited: every connection of it is over.
    ProcessExit {
        /// Process id.
        pid: u32,
        /// Time of the exit.
        timestamp_ns: u64,
    },
}
