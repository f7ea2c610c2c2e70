//! `cargo fuzz run --fuzz-dir fuzz/libfuzzer lsp_session fuzz/corpus/lsp_session` (RELIABILITY.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| writ_fuzz::lsp_session(data));
