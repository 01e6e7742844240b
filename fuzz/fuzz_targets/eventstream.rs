#![no_main]
//! AWS event-stream framing: one-shot decode and incremental parsing in pieces.
use libfuzzer_sys::fuzz_target;
use llmtap::reassembly::eventstream::{EventStreamParser, decode_message};

fuzz_target!(|data: &[u8]| {
    let _ = decode_message(data, 0);
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut p = EventStreamParser::new();
    for (i, piece) in data.chunks(step).enumerate() {
        p.feed(piece, i as u64);
    }
    let _ = p.finish();
});
