//! Times parsing, compiling and loading one generated policy, for profiling the compiler
//! (`perf record`, `valgrind --tool=callgrind`) without the whole report:
//! `cargo run --release -p writ-bench --example compile -- 10000`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a measuring tool, never shipped: a broken scenario should stop the run loudly"
)]

fn main() {
    let rules: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let s = writ_bench::scenario::generate(rules, 42);
    let files = writ_bench::writ::emit(&s.model);
    let t = std::time::Instant::now();
    for (_, text) in &files {
        let _ = writ_grammar::parse(text);
    }
    println!("parse alone {:?}", t.elapsed());
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let compiler = writ_compiler::Compiler::new(files.clone());
        let ir = compiler.compilation().policy.clone().expect("the generated policy compiles");
        let c = t.elapsed();
        let t = std::time::Instant::now();
        let p = writ_evaluator::Policy::from_ir(ir).expect("the policy loads");
        println!("compile {c:?}, load {:?} ({})", t.elapsed(), p.hash());
    }
}
