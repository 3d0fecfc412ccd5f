//! Any bytes through the connection loop's HTTP/1.1 request-head parser (`http1::parse_head`,
//! with the hot route `POST /now`): it must parse a request, wait for more bytes, hand the
//! connection to hyper or refuse with a 4xx, never panic; a parsed head lies within the
//! bytes given. The same body runs as the unit test `http1::tests::mutated_heads_never_panic`.
//! Seeds: `seeds_parse_head/` (`cargo +nightly fuzz run parse_head corpus/parse_head
//! seeds_parse_head`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mock_inference::http1::fuzzing::check_head;

fuzz_target!(|data: &[u8]| check_head(data));
