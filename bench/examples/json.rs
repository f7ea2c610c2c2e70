//! JSON request in, JSON decision out, in a loop, for profiling the request decoder and the
//! decision encoder: `cargo run --release -p writ-bench --example json -- RULES [ROUNDS]`
//! (1,000 rules and 200 timed rounds by default; 0 rounds runs only the allocation-counting
//! pass, for an instruction profile under callgrind). `ONLY=allow` (or `deny`, `pending`) keeps
//! only the requests the scenario built to have that outcome, to profile one path.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a measuring tool, never shipped: a broken scenario should stop the run loudly"
)]

// Counts allocator calls for the "allocations per request" line (a few instructions per call).
#[global_allocator]
static GLOBAL: writ_bench::counting::Counting = writ_bench::counting::Counting;

fn main() {
    let rules: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let rounds: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let s = writ_bench::scenario::generate(rules, 42);
    let engine = writ_bench::writ::WritEngine::load(&writ_bench::writ::emit(&s.model));
    let mut requests = writ_bench::requests::generate(&s, 1000, 7);
    if let Ok(only) = std::env::var("ONLY") {
        requests.retain(|r| format!("{:?}", r.expect).eq_ignore_ascii_case(&only));
        assert!(!requests.is_empty(), "ONLY={only}: no request has that outcome");
    }
    // One pass counting allocator calls (alloc and realloc) of each part.
    let mut calls = [0usize; 5];
    for r in &requests {
        use writ_bench::counting::allocations;
        let (request, n) =
            allocations(|| writ_evaluator::Request::from_json(&r.json).expect("a request"));
        calls[0] += n;
        let (decision, n) = allocations(|| engine.policy.decide(&request));
        calls[1] += n;
        let (text, n) = allocations(|| decision.to_json());
        calls[2] += n;
        let (fused, n) = allocations(|| engine.policy.decide_json(&request));
        calls[4] += n;
        assert_eq!(fused, text, "decide_json writes what decide and to_json write");
        let ((), n) = allocations(|| drop(request));
        calls[3] += n;
        drop((decision, text));
    }
    let per = |n: usize| n as f64 / requests.len() as f64;
    println!(
        "allocations per request: decode {:.1}, decide {:.1}, encode {:.1}, drop {:.1}; \
         decide_json {:.1}",
        per(calls[0]),
        per(calls[1]),
        per(calls[2]),
        per(calls[3]),
        per(calls[4])
    );
    if rounds == 0 {
        // The counting pass alone (for an instruction profile of one pass over the requests).
        return;
    }
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
    // Without a clock read per request (each costs tens of nanoseconds here): whole passes.
    let time_passes = |f: &dyn Fn(&str)| {
        let t = std::time::Instant::now();
        for _ in 0..rounds {
            for r in &requests {
                f(&r.json);
            }
        }
        t.elapsed().as_nanos() / n
    };
    let decode_only = time_passes(&|json| {
        std::hint::black_box(writ_evaluator::Request::from_json(json).expect("a request"));
    });
    let in_to_out = time_passes(&|json| {
        let request = writ_evaluator::Request::from_json(json).expect("a request");
        std::hint::black_box(engine.policy.decide(&request).to_json());
    });
    let fused = time_passes(&|json| {
        let request = writ_evaluator::Request::from_json(json).expect("a request");
        std::hint::black_box(engine.policy.decide_json(&request));
    });
    println!(
        "mean over whole passes: decode {decode_only} ns, JSON in to JSON out {in_to_out} ns \
         (decide + to_json), {fused} ns (decide_json)"
    );
}
