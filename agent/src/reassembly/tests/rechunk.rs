//! Property tests: any re-chunking of a valid capture yields identical exchanges.

use proptest::prelude::*;

use super::*;

fn rendered(calls: &Calls, sizes: &[usize]) -> String {
    let (xs, _) = run_events(ReassemblyConfig::default(), events(calls, sizes));
    format!("{xs:?}")
}

fn h1_calls() -> Calls {
    let mut calls = super::h1::sse_calls();
    calls.push((E, super::h1::post("/v1/chat/completions", "{\"m\":1}")));
    calls.push((
        I,
        super::h1::chunked("HTTP/1.1 200 OK\r\n", &[b"abc", b"def"]),
    ));
    calls.push((E, b"HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n".to_vec()));
    calls.push((I, b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n".to_vec()));
    calls
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn h1_and_sse_rechunking_is_invisible(sizes in prop::collection::vec(1usize..40, 1..12)) {
        let calls = h1_calls();
        prop_assert_eq!(rendered(&calls, &[]), rendered(&calls, &sizes));
    }

    #[test]
    fn h2_rechunking_is_invisible(sizes in prop::collection::vec(1usize..40, 1..12)) {
        let calls = super::h2::h2_calls();
        prop_assert_eq!(rendered(&calls, &[]), rendered(&calls, &sizes));
    }

    #[test]
    fn one_byte_chunks(_x in 0u8..1) {
        for calls in [h1_calls(), super::h2::h2_calls()] {
            prop_assert_eq!(rendered(&calls, &[]), rendered(&calls, &[1]));
        }
    }
}
