//! `cargo fuzz run --fuzz-dir fuzz/libfuzzer bundle fuzz/corpus/bundle` (RELIABILITY.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| writ_fuzz::bundle(data));
