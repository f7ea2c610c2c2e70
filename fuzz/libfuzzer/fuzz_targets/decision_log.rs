//! `cargo fuzz run --fuzz-dir fuzz/libfuzzer decision_log fuzz/corpus/decision_log` (RELIABILITY.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| writ_fuzz::decision_log(data));
