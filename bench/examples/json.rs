//! JSON request in, JSON decision out, in a loop, for profiling the request decoder and the
//! decision encoder: `cargo run --release -p writ-bench --example json -- 1000`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a measuring tool, never shipped: a broken scenario should stop the run loudly"
)]

fn main() {
    let rules: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let rounds: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let s = writ_bench::scenario::generate(rules, 42);
    let engine = writ_bench::writ::WritEngine::load(&writ_bench::writ::emit(&s.model));
    let requests = writ_bench::requests::generate(&s, 1000, 7);
    let mut bytes = 0;
    let (mut decode, mut decide, mut encode) = (0u128, 0u128, 0u128);
    let mut totals = Vec::with_capacity(rounds * requests.len());
    for _ in 0..rounds {
        for r in &requests {
            let t = std::time::Instant::now();
            let request = writ_evaluator::Request::from_json(&r.json).expect("a request");
            let t1 = std::time::Instant::now();
            let decision = engine.policy.decide(&request);
            let t2 = std::time::Instant::now();
            bytes += decision.to_json().len();
            let t3 = std::time::Instant::now();
            decode += (t1 - t).as_nanos();
            decide += (t2 - t1).as_nanos();
            encode += (t3 - t2).as_nanos();
            totals.push((t3 - t).as_nanos());
        }
    }
    let n = (rounds * requests.len()) as u128;
    totals.sort_unstable();
    let at = |q: f64| totals[((totals.len() - 1) as f64 * q) as usize];
    println!(
        "JSON in to JSON out per request: median {} ns, p90 {} ns, p99 {} ns",
        at(0.5),
        at(0.9),
        at(0.99)
    );
    println!(
        "mean per request: decode {} ns, decide {} ns, encode {} ns ({bytes} bytes out)",
        decode / n,
        decide / n,
        encode / n
    );
}
