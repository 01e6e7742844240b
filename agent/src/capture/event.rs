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

/// A process command name (`comm`): at most [`Comm::MAX`] bytes of UTF-8, stored inline so
/// that carrying it with every chunk costs no allocation. Reads as a `&str`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Comm {
    len: u8,
    bytes: [u8; Comm::MAX],
}

impl Comm {
    /// Longest name kept, in bytes (the kernel's `TASK_COMM_LEN` without its NUL).
    pub const MAX: usize = 15;

    /// `name`, cut to [`Comm::MAX`] bytes at a character boundary.
    pub fn new(name: &str) -> Self {
        let mut end = name.len().min(Self::MAX);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0; Self::MAX];
        bytes[..end].copy_from_slice(&name.as_bytes()[..end]);
        Self {
            len: end as u8,
            bytes,
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // `new` only stores whole characters of a `&str`.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::ops::Deref for Comm {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Comm {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

impl PartialEq<str> for Comm {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Comm {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Debug for Comm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Comm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Process identity carried with every chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u32,
    /// Thread id that made the TLS call.
    pub tid: u32,
    /// Command name (`comm`), at most 15 bytes, stored inline (no allocation per chunk).
    pub comm: Comm,
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

#[cfg(test)]
mod tests {
    use super::Comm;

    #[test]
    fn comm_is_cut_at_a_character_boundary() {
        assert_eq!(Comm::new("curl"), "curl");
        assert_eq!(
            Comm::new("a-very-long-process-name").as_str(),
            "a-very-long-pro"
        );
        // 14 ASCII bytes then a 2-byte character: the character does not fit in 15 bytes.
        assert_eq!(Comm::new("abcdefghijklmné").as_str(), "abcdefghijklmn");
        assert_eq!(Comm::default().as_str(), "");
        assert_eq!(format!("{:?}", Comm::new("node")), "\"node\"");
    }
}
