//! `cargo fuzz run --fuzz-dir fuzz/libfuzzer policy fuzz/corpus/policy` (RELIABILITY.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| writ_fuzz::policy(data));
