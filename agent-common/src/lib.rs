//! Types shared by the kernel programs (`agent-ebpf`) and the userspace agent.
//!
//! Everything here is `#![no_std]`, `#[repr(C)]` and plain old data: the kernel writes these
//! records into the ring buffer and userspace reads them back byte for byte. The layout is the
//! contract; [`bpf`] holds what both sides need, [`user`] (feature `user`) adds the userspace
//! conveniences. Nothing here knows about HTTP or LLMs.
#![no_std]

pub mod bpf;
#[cfg(feature = "user")]
pub mod user;

pub use bpf::*;
