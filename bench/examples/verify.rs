//! Runs the `writ verify` and `writ diff` workloads of the report alone and prints their
//! section: `cargo run --release -p writ-bench --example verify`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a measuring tool, never shipped: a broken scenario should stop the run loudly"
)]

fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let r = writ_bench::verify::run(runs);
    print!("{}", writ_bench::verify::section(&r));
}
