//! Empty library target: lets `agent` declare a build-dependency on this crate so cargo
//! rebuilds the eBPF object when it changes. The programs live in `main.rs`.
#![no_std]
