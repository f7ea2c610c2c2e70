//! The Rust JSON path that the Python and Node bindings are measured against
//! (`bench/bindings.sh`): request JSON text in, `Request::from_json`, `Policy::decide_json`,
//! decision JSON text out, over the requests of a JSON-lines file, round after round. Prints the
//! best round's nanoseconds per decision.
//!
//! ```text
//! cargo run --release -p writ-bench --example bindings -- POLICY REQUESTS.jsonl [ROUNDS]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a measuring program, not shipped")]

use std::time::Instant;

use writ_evaluator::{Policy, Request};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [policy, requests, rest @ ..] = args.as_slice() else {
        eprintln!("usage: bindings POLICY REQUESTS.jsonl [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = rest.first().map_or(7, |r| r.parse().expect("ROUNDS is a number"));
    let compiler = writ_compiler::Compiler::load(std::path::Path::new(policy)).expect("policy");
    let ir = compiler.compilation().policy.clone().expect("a policy without errors");
    let policy = Policy::from_ir(ir).expect("policy loads");
    let texts: Vec<String> = std::fs::read_to_string(requests)
        .expect("requests")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let per_round = 200_000 / texts.len().max(1);
    let mut best = f64::INFINITY;
    let mut sink = 0usize;
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..per_round {
            for text in &texts {
                let request = Request::from_json(text).expect("a request");
                sink += policy.decide_json(&request).len();
            }
        }
        let ns = start.elapsed().as_nanos() as f64 / (per_round * texts.len()) as f64;
        best = best.min(ns);
    }
    println!("{{\"ns_per_decision\": {best:.1}, \"bytes\": {sink}}}");
}
