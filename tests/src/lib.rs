//! Shared machinery for llmtap's end-to-end tests: a self-signed TLS identity, a recording
//! HTTP/1.1 test server over rustls (so the server side is never itself captured), running the
//! agent's capture through its library API, and putting captured chunks back into streams.

pub mod agent;
pub mod bin_agent;
pub mod capture;
pub mod clients;
pub mod llm_server;
pub mod raw_server;
pub mod tls;
