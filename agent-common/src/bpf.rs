//! Record layouts, counter indices and the load-time configuration shared with the kernel.

/// Largest plaintext payload one ring-buffer chunk record carries.
pub const CHUNK_MAX: usize = 32 * 1024;
/// Smaller record classes, so a 50-byte TLS write does not reserve 32 KiB of ring.
pub const CHUNK_CLASS_SMALL: usize = 1024;
/// Medium record class.
pub const CHUNK_CLASS_MEDIUM: usize = 4096;
/// Upper bound of chunks the kernel emits for one TLS call (the verifier needs a constant).
/// With 32 KiB chunks this allows 8 MiB per call; anything beyond is counted as lost.
pub const MAX_CHUNKS_PER_CALL: u32 = 256;
/// Chunks emitted per tail call of the continuation program (the kernel allows 33 tail calls,
/// so `MAX_CHUNKS_PER_CALL / CHUNKS_PER_TAIL_CALL` must stay well below that).
pub const CHUNKS_PER_TAIL_CALL: u32 = 16;
/// Length of a task's `comm`.
pub const COMM_LEN: usize = 16;

/// Default chunk size (bytes of payload per record).
pub const DEFAULT_CHUNK_SIZE: u32 = CHUNK_MAX as u32;
/// Default maximum number of bytes captured from one TLS call.
pub const DEFAULT_MAX_CAPTURE_PER_CALL: u64 = 8 * 1024 * 1024;
/// Default ring-buffer size in bytes (a power of two multiple of the page size). Twice the
/// largest single call captured by default, so one maximal call always fits.
pub const DEFAULT_RING_BYTES: u32 = 16 * 1024 * 1024;
/// Chunk records are submitted without waking the reader until this many bytes wait in
/// the ring; the reader also drains on a timer ([`RING_DRAIN_INTERVAL_MS`]). Saves an
/// irq_work and a cross-CPU wakeup per TLS call, which the traced thread pays.
pub const RING_WAKEUP_BYTES: u64 = 256 * 1024;
/// How often the userspace reader drains the ring without being woken, in milliseconds:
/// the longest a captured chunk waits in the ring when traffic is light.
pub const RING_DRAIN_INTERVAL_MS: u64 = 10;

/// Name of the ring-buffer map.
pub const MAP_RING: &str = "EVENTS";
/// Name of the per-CPU counter array.
pub const MAP_COUNTERS: &str = "COUNTERS";
/// Name of the per-connection state map.
pub const MAP_CONNS: &str = "CONNS";
/// Name of the in-flight call map.
pub const MAP_PENDING: &str = "PENDING";
/// Name of the global holding [`CaptureConfig`].
pub const GLOBAL_CONFIG: &str = "CONFIG";
/// Capacity of [`MAP_CONNS`].
pub const MAX_CONNS: u32 = 65_536;
/// Capacity of [`MAP_PENDING`].
pub const MAX_PENDING: u32 = 65_536;

/// Which way plaintext flowed, seen from the observed process.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Written by the process (`SSL_write`): for a client, the request.
    Egress = 0,
    /// Read by the process (`SSL_read`): for a client, the response.
    Ingress = 1,
}

impl Direction {
    /// Decode from the wire byte; anything but 1 is egress.
    pub const fn from_u8(v: u8) -> Self {
        if v == 1 {
            Direction::Ingress
        } else {
            Direction::Egress
        }
    }
}

/// TLS library a probe fired in.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Library {
    /// OpenSSL (shared library or linked into an executable).
    OpenSsl = 0,
    /// GnuTLS.
    GnuTls = 1,
}

/// Kinds of ring-buffer records; the first `u32` of every record.
pub mod record_kind {
    /// [`super::ChunkHeader`] followed by payload bytes.
    pub const CHUNK: u32 = 1;
    /// [`super::ConnClosed`].
    pub const CLOSE: u32 = 2;
    /// [`super::ProcessEvent`] for an exec.
    pub const EXEC: u32 = 3;
    /// [`super::ProcessEvent`] for a process exit.
    pub const EXIT: u32 = 4;
}

/// Flags on a chunk.
pub mod chunk_flags {
    /// The TLS call this chunk belongs to exceeded the configured maximum; bytes after the
    /// captured part were counted as lost (the offset still advanced past them).
    pub const CALL_TRUNCATED: u8 = 1;
    /// This chunk is the last one emitted for its TLS call.
    pub const LAST_OF_CALL: u8 = 2;
}

/// Header of a plaintext chunk record. The payload (`len` bytes) follows immediately.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ChunkHeader {
    /// Always [`record_kind::CHUNK`].
    pub kind: u32,
    /// [`Direction`] as a byte.
    pub direction: u8,
    /// [`Library`] as a byte.
    pub library: u8,
    /// [`chunk_flags`].
    pub flags: u8,
    /// Padding.
    pub _pad: u8,
    /// Process id (thread-group id).
    pub tgid: u32,
    /// Thread id.
    pub tid: u32,
    /// Payload bytes following this header.
    pub len: u32,
    /// Library connection pointer (`SSL*`, `gnutls_session_t`).
    pub conn_ptr: u64,
    /// Kernel time the connection was first seen; with `(tgid, conn_ptr)` a unique id even
    /// when the allocator reuses the pointer.
    pub conn_start_ns: u64,
    /// Byte offset of this payload within the connection's direction.
    pub offset: u64,
    /// Total length of the TLS call this chunk is part of.
    pub call_len: u64,
    /// `bpf_ktime_get_ns` at capture (CLOCK_MONOTONIC).
    pub timestamp_ns: u64,
    /// cgroup v2 id of the task.
    pub cgroup_id: u64,
    /// Task command name, NUL padded.
    pub comm: [u8; COMM_LEN],
}

/// A chunk record of a fixed payload capacity `N` (the kernel reserves one of a few classes).
#[repr(C)]
pub struct ChunkRecord<const N: usize> {
    /// The header.
    pub header: ChunkHeader,
    /// Payload; only `header.len` bytes are meaningful.
    pub data: [u8; N],
}

/// Why a connection was closed.
pub mod close_reason {
    /// `SSL_shutdown` / `gnutls_bye`.
    pub const SHUTDOWN: u32 = 1;
    /// `SSL_free` / `gnutls_deinit`.
    pub const FREE: u32 = 2;
}

/// A connection ended.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ConnClosed {
    /// Always [`record_kind::CLOSE`].
    pub kind: u32,
    /// Process id.
    pub tgid: u32,
    /// [`close_reason`].
    pub reason: u32,
    /// Padding.
    pub _pad: u32,
    /// Library connection pointer.
    pub conn_ptr: u64,
    /// See [`ChunkHeader::conn_start_ns`].
    pub conn_start_ns: u64,
    /// Bytes the kernel accounted per direction (egress, ingress) for this connection.
    pub total: [u64; 2],
    /// Time of the close.
    pub timestamp_ns: u64,
}

/// A process exec'd or exited.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ProcessEvent {
    /// [`record_kind::EXEC`] or [`record_kind::EXIT`].
    pub kind: u32,
    /// Process id.
    pub tgid: u32,
    /// Time of the event.
    pub timestamp_ns: u64,
}

/// Key of [`MAP_CONNS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnKey {
    /// Process id.
    pub tgid: u32,
    /// Padding (always zero so keys hash identically).
    pub _pad: u32,
    /// Library connection pointer.
    pub conn_ptr: u64,
}

/// Value of [`MAP_CONNS`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ConnState {
    /// See [`ChunkHeader::conn_start_ns`].
    pub start_ns: u64,
    /// Next byte offset per direction (egress, ingress).
    pub offset: [u64; 2],
}

/// Value of [`MAP_PENDING`]: the arguments of a TLS call, saved at entry for the return probe.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PendingCall {
    /// Library connection pointer.
    pub conn_ptr: u64,
    /// User buffer.
    pub buf: u64,
    /// `size_t*` out-parameter of the `_ex` calls, 0 otherwise.
    pub len_out: u64,
    /// [`Direction`].
    pub direction: u8,
    /// [`Library`].
    pub library: u8,
    /// Padding.
    pub _pad: [u8; 6],
}

/// State of a multi-chunk call carried across tail calls (per-CPU map `CONT`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Continuation {
    /// Header template for every chunk of the call (offset = start of the call).
    pub header: ChunkHeader,
    /// User buffer.
    pub buf: u64,
    /// Bytes of the call to emit.
    pub wanted: u64,
    /// Payload bytes per chunk.
    pub chunk_size: u64,
    /// Index of the next chunk to emit.
    pub next: u64,
}

/// Name of the program array used for tail calls.
pub const MAP_JUMP: &str = "JUMP";
/// Name of the continuation program.
pub const PROG_EMIT_CHUNKS: &str = "emit_chunks";

/// Configuration written into the eBPF object at load time.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CaptureConfig {
    /// Payload bytes per chunk, 1..=[`CHUNK_MAX`].
    pub chunk_size: u32,
    /// The agent's own pid: never captured.
    pub self_tgid: u32,
    /// Bytes captured per TLS call at most; the rest is counted as lost.
    pub max_capture_per_call: u64,
}

impl CaptureConfig {
    /// The defaults.
    pub const DEFAULT: CaptureConfig = CaptureConfig {
        chunk_size: DEFAULT_CHUNK_SIZE,
        self_tgid: 0,
        max_capture_per_call: DEFAULT_MAX_CAPTURE_PER_CALL,
    };
}

/// Indices into the per-CPU counter array [`MAP_COUNTERS`].
pub mod counter {
    /// TLS calls that returned data.
    pub const CALLS: u32 = 0;
    /// Plaintext bytes those calls moved.
    pub const BYTES_SEEN: u32 = 1;
    /// Bytes written into the ring buffer.
    pub const BYTES_DELIVERED: u32 = 2;
    /// Bytes beyond the per-call maximum.
    pub const LOST_OVER_MAX: u32 = 3;
    /// Bytes lost because the ring buffer was full.
    pub const LOST_RINGBUF_FULL: u32 = 4;
    /// Bytes lost because reading user memory faulted.
    pub const LOST_READ_FAULT: u32 = 5;
    /// Bytes lost because the connection table was full.
    pub const LOST_CONN_TABLE_FULL: u32 = 6;
    /// Chunk records delivered.
    pub const CHUNKS_DELIVERED: u32 = 7;
    /// Control records (close, exec, exit) lost to a full ring buffer.
    pub const CONTROL_LOST: u32 = 8;
    /// Calls not tracked because the in-flight table was full (their size is unknown).
    pub const CALLS_UNTRACKED: u32 = 9;
    /// Calls that returned an error or no data.
    pub const CALLS_FAILED: u32 = 10;
    /// Connections closed.
    pub const CONNS_CLOSED: u32 = 11;
    /// Number of counters.
    pub const COUNT: u32 = 12;
}
