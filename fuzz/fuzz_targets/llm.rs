#![no_main]
//! The provider parsers behind `llm::analyze`: byte 0 picks the endpoint, byte 1 the framing,
//! the rest is a request and a response body (see `llmtap::llm::fuzz_analyze`).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    llmtap::llm::fuzz_analyze(data);
});
