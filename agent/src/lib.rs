//! llmtap agent library: capture → reassembly → llm → privacy → insights → export.
//!
//! Each stage is a module that talks to the next through small typed values:
//! [`capture::CaptureEvent`] → [`reassembly::Exchange`] → [`llm::LlmCall`] → event.
pub mod attribution;
pub mod capture;
pub mod check;
pub mod config;
pub mod event;
pub mod export;
pub mod insights;
pub mod llm;
pub mod pipeline;
pub mod privacy;
pub mod reassembly;
pub mod status;
