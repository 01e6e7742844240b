//! Decoding ring-buffer records into [`CaptureEvent`]s. Pure: takes bytes, returns values.

use std::mem::size_of;

use agent_common::{
    ChunkHeader, ConnClosed, Direction, Library, ProcessEvent, chunk_flags, record_kind,
};
use bytes::Bytes;

use super::event::{CaptureEvent, Chunk, Comm, ConnId, ProcessInfo};

/// A record the kernel wrote that userspace could not decode (never expected; counted).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than its header or than the length it declares.
    #[error("record of kind {kind} truncated: {len} bytes")]
    Truncated {
        /// Record kind.
        kind: u32,
        /// Bytes available.
        len: usize,
    },
    /// Unknown kind.
    #[error("unknown record kind {0}")]
    UnknownKind(u32),
}

fn read<T: Copy>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: length checked; T is a plain #[repr(C)] record for which every bit pattern is
    // valid; read_unaligned tolerates any alignment.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

fn comm_name(comm: &[u8]) -> Comm {
    let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
    Comm::new(&String::from_utf8_lossy(&comm[..end]))
}

/// Decode one record.
pub fn decode(bytes: &[u8]) -> Result<CaptureEvent, DecodeError> {
    let kind = read::<u32>(bytes).ok_or(DecodeError::Truncated {
        kind: 0,
        len: bytes.len(),
    })?;
    let truncated = || DecodeError::Truncated {
        kind,
        len: bytes.len(),
    };
    match kind {
        record_kind::CHUNK => {
            let h: ChunkHeader = read(bytes).ok_or_else(truncated)?;
            let start = size_of::<ChunkHeader>();
            let end = start + h.len as usize;
            let data = bytes.get(start..end).ok_or_else(truncated)?;
            Ok(CaptureEvent::Chunk(Chunk {
                conn: ConnId {
                    tgid: h.tgid,
                    conn_ptr: h.conn_ptr,
                    start_ns: h.conn_start_ns,
                },
                direction: Direction::from_u8(h.direction),
                offset: h.offset,
                data: Bytes::copy_from_slice(data),
                timestamp_ns: h.timestamp_ns,
                process: ProcessInfo {
                    pid: h.tgid,
                    tid: h.tid,
                    comm: comm_name(&h.comm),
                    cgroup_id: h.cgroup_id,
                },
                library: if h.library == Library::GnuTls as u8 {
                    Library::GnuTls
                } else {
                    Library::OpenSsl
                },
                call_truncated: h.flags & chunk_flags::CALL_TRUNCATED != 0,
                last_of_call: h.flags & chunk_flags::LAST_OF_CALL != 0,
            }))
        }
        record_kind::CLOSE => {
            let c: ConnClosed = read(bytes).ok_or_else(truncated)?;
            Ok(CaptureEvent::ConnClosed {
                conn: ConnId {
                    tgid: c.tgid,
                    conn_ptr: c.conn_ptr,
                    start_ns: c.conn_start_ns,
                },
                total: c.total,
                timestamp_ns: c.timestamp_ns,
            })
        }
        record_kind::EXEC => {
            let p: ProcessEvent = read(bytes).ok_or_else(truncated)?;
            Ok(CaptureEvent::ProcessExec { pid: p.tgid })
        }
        record_kind::EXIT => {
            let p: ProcessEvent = read(bytes).ok_or_else(truncated)?;
            Ok(CaptureEvent::ProcessExit {
                pid: p.tgid,
                timestamp_ns: p.timestamp_ns,
            })
        }
        other => Err(DecodeError::UnknownKind(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_common::COMM_LEN;

    fn header(len: u32) -> ChunkHeader {
        let mut comm = [0u8; COMM_LEN];
        comm[..4].copy_from_slice(b"curl");
        ChunkHeader {
            kind: record_kind::CHUNK,
            direction: 1,
            library: 0,
            flags: chunk_flags::LAST_OF_CALL,
            _pad: 0,
            tgid: 10,
            tid: 11,
            len,
            conn_ptr: 0xdead,
            conn_start_ns: 5,
            offset: 100,
            call_len: len as u64,
            timestamp_ns: 99,
            cgroup_id: 7,
            comm,
        }
    }

    fn bytes_of<T>(v: &T) -> Vec<u8> {
        // SAFETY: test-only view of a plain record.
        unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()).to_vec() }
    }

    #[test]
    fn decodes_a_chunk() {
        let mut rec = bytes_of(&header(3));
        rec.extend_from_slice(b"abcpadding");
        let CaptureEvent::Chunk(c) = decode(&rec).unwrap() else {
            panic!("not a chunk")
        };
        assert_eq!(&c.data[..], b"abc");
        assert_eq!(c.direction, Direction::Ingress);
        assert_eq!(c.offset, 100);
        assert_eq!(c.process.comm, "curl");
        assert_eq!(
            c.conn,
            ConnId {
                tgid: 10,
                conn_ptr: 0xdead,
                start_ns: 5
            }
        );
        assert!(c.last_of_call && !c.call_truncated);
    }

    #[test]
    fn rejects_truncated_and_unknown_records() {
        let mut rec = bytes_of(&header(50));
        rec.extend_from_slice(b"short");
        assert!(matches!(decode(&rec), Err(DecodeError::Truncated { .. })));
        assert!(matches!(
            decode(&[1, 2]),
            Err(DecodeError::Truncated { kind: 0, len: 2 })
        ));
        assert!(matches!(
            decode(&77u32.to_ne_bytes()),
            Err(DecodeError::UnknownKind(77))
        ));
    }
}
