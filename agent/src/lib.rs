//! llmtap agent library: capture → reassembly → llm → privacy → insights → export.
//!
//! Each stage is a module that talks to the next through small typed values:
//! [`capture::CaptureEvent`] → [`reassembly::Exchange`] → (LLM call) → event.
pub mod capture;
pub mod reassembly;
