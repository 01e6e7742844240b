//! llmtap agent library: capture → reassembly → llm → privacy → insights → export.
pub mod capture;
pub mod reassembly;
