#![no_main]
//! SSE and NDJSON parsers, fed in pieces split where the input has 0xff bytes.
use libfuzzer_sys::fuzz_target;
use llmtap::reassembly::sse::{NdJsonParser, SseParser};

fuzz_target!(|data: &[u8]| {
    let mut sse = SseParser::new();
    let mut nd = NdJsonParser::new();
    for (i, piece) in data.split(|&b| b == 0xff).enumerate() {
        sse.feed(piece, i as u64);
        nd.feed(piece, i as u64);
    }
    let _ = sse.finish();
    let _ = nd.finish(0);
});
