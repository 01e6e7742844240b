//! Userspace additions: `aya::Pod` for the types userspace writes into maps and globals.

// SAFETY: all of these are `#[repr(C)]`, `Copy`, contain only integers and byte arrays, and
// every bit pattern is a valid value.
unsafe impl aya::Pod for crate::CaptureConfig {}
unsafe impl aya::Pod for crate::ConnKey {}
unsafe impl aya::Pod for crate::ConnState {}
unsafe impl aya::Pod for crate::PendingCall {}
