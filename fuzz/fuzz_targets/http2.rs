#![no_main]
//! HTTP/2 frames (after a valid preface) through the public `Reassembler`, and HPACK blocks
//! straight into a decoder.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    llmtap_fuzz::drive(data, llmtap::reassembly::http2::PREFACE);
    let mut dec = loona_hpack::Decoder::new();
    for block in data.split(|&b| b == 0xff) {
        let _ = llmtap::reassembly::http2::decode_block(&mut dec, block, |_, _| {});
    }
});
