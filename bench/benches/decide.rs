//! Criterion benchmarks of the decision alone (prepared requests) and of JSON in to decision
//! out, per engine and size, for criterion's statistics and regression tracking. The Markdown
//! report with p99, load times and memory is the `report` bench.
//!
//! `cargo bench -p writ-bench --bench decide [-- FILTER]`, e.g. `-- decide/1000`.
//! Sizes: `WRIT_BENCH_SIZES=10,100,1000,10000` (default 10, 100, 1000: at 10,000 rules one
//! iteration of the Rego interpreter takes over a second).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use writ_bench::rego::RegoVm;
use writ_bench::{Engines, Texts, requests, scenario};

/// Requests per iteration: each iteration decides the same fixed slice of the stream.
const BATCH: usize = 64;

fn sizes() -> Vec<usize> {
    std::env::var("WRIT_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 100, 1_000])
}

fn bench(c: &mut Criterion) {
    for size in sizes() {
        let s = scenario::generate(size, 42);
        let texts = Texts::new(&s);
        let mut e = Engines::load(&s, &texts);
        let reqs = requests::generate(&s, BATCH, 42);
        let writ: Vec<_> = reqs.iter().map(|r| e.writ.prepare(&r.json)).collect();
        let cedar: Vec<_> = reqs.iter().map(|r| e.cedar.prepare_str(&r.json)).collect();
        let rego: Vec<_> = reqs.iter().map(|r| RegoVm::prepare(&r.json)).collect();

        let slow = size >= 1_000;
        let mut g = c.benchmark_group(format!("decide/{size}"));
        g.throughput(Throughput::Elements(BATCH as u64));
        g.warm_up_time(Duration::from_millis(500));
        g.measurement_time(Duration::from_secs(if slow { 3 } else { 2 }));
        g.sample_size(if slow { 10 } else { 30 });
        g.bench_function(BenchmarkId::new("writ", size), |b| {
            b.iter(|| {
                writ.iter().for_each(|r| {
                    black_box(e.writ.decide(r));
                })
            })
        });
        g.bench_function(BenchmarkId::new("cedar", size), |b| {
            b.iter(|| {
                cedar.iter().for_each(|q| {
                    black_box(e.cedar.decide(q));
                })
            })
        });
        if let Ok(vm) = e.rego_vm.as_mut() {
            g.bench_function(BenchmarkId::new("rego-vm", size), |b| {
                b.iter(|| {
                    rego.iter().for_each(|i| {
                        black_box(vm.decide(i));
                    })
                })
            });
        }
        g.bench_function(BenchmarkId::new("rego-interpreter", size), |b| {
            b.iter(|| {
                rego.iter().for_each(|i| {
                    black_box(e.rego.decide(i));
                })
            })
        });
        g.finish();

        let mut g = c.benchmark_group(format!("json/{size}"));
        g.throughput(Throughput::Elements(BATCH as u64));
        g.warm_up_time(Duration::from_millis(500));
        g.measurement_time(Duration::from_secs(if slow { 3 } else { 2 }));
        g.sample_size(if slow { 10 } else { 30 });
        g.bench_function(BenchmarkId::new("writ", size), |b| {
            b.iter(|| {
                reqs.iter().for_each(|r| {
                    black_box(e.writ.decide_json(&r.json));
                })
            })
        });
        g.bench_function(BenchmarkId::new("cedar", size), |b| {
            b.iter(|| {
                reqs.iter().for_each(|r| {
                    black_box(e.cedar.decide_json(&r.json));
                })
            })
        });
        if let Ok(vm) = e.rego_vm.as_mut() {
            g.bench_function(BenchmarkId::new("rego-vm", size), |b| {
                b.iter(|| {
                    reqs.iter().for_each(|r| {
                        black_box(vm.decide_json(&r.json));
                    })
                })
            });
        }
        g.bench_function(BenchmarkId::new("rego-interpreter", size), |b| {
            b.iter(|| {
                reqs.iter().for_each(|r| {
                    black_box(e.rego.decide_json(&r.json));
                })
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
