//! `cargo fuzz run --fuzz-dir fuzz/libfuzzer request fuzz/corpus/request` (RELIABILITY.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| writ_fuzz::request(data));
