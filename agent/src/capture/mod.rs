//! Capture stage: loads the kernel programs, discovers and attaches TLS libraries, and reads
//! plaintext chunks from the ring buffer. Does not parse or interpret the bytes.
pub mod event;

/// The compiled kernel programs, embedded at build time by `build.rs`.
pub static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/llmtap"));
