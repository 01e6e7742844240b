//! llmtap agent library: capture → reassembly → llm → privacy → insights → export.
pub mod capture;
pub mod llm;
pub mod reassembly;
