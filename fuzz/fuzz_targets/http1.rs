#![no_main]
//! HTTP/1 (and the body decoders behind it) through the public `Reassembler`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    llmtap_fuzz::drive(data, b"");
    llmtap_fuzz::drive(data, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n");
});
