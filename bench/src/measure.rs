//! Timing helpers for the report: warm-up, many samples, median and p99.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Summary of a set of per-operation times, in nanoseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub median: f64,
    pub p99: f64,
    pub mean: f64,
    pub samples: usize,
    /// Operations per sample (a sample times a batch of the same input).
    pub batch: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

impl Stats {
    /// For an engine that could not run: shown as `n/a`.
    pub fn unavailable() -> Stats {
        Stats { median: f64::NAN, p99: f64::NAN, mean: f64::NAN, samples: 0, batch: 0 }
    }

    pub fn from_samples(mut xs: Vec<f64>, batch: usize) -> Stats {
        xs.sort_by(f64::total_cmp);
        let mean = xs.iter().sum::<f64>() / xs.len().max(1) as f64;
        Stats {
            median: percentile(&xs, 0.5),
            p99: percentile(&xs, 0.99),
            mean,
            samples: xs.len(),
            batch,
        }
    }
}

/// The cost of reading the clock twice, subtracted from every sample.
pub fn timer_overhead() -> f64 {
    let mut xs = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        let t = Instant::now();
        xs.push(black_box(t.elapsed()).as_nanos() as f64);
    }
    Stats::from_samples(xs, 1).median
}

/// Limits of one measurement.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Warm-up time (at least one pass over the inputs, up to this long).
    pub warm_up: Duration,
    /// Time spent sampling (all rounds), unless `min_samples` takes longer.
    pub measure: Duration,
    /// Samples per round, at least.
    pub min_samples: usize,
    /// Samples in all rounds, at most.
    pub max_samples: usize,
    /// A sample should take at least this long (the batch grows until it does).
    pub min_sample_time: Duration,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            warm_up: Duration::from_millis(300),
            measure: Duration::from_millis(2500),
            min_samples: 200,
            max_samples: 60_000,
            min_sample_time: Duration::from_micros(2),
        }
    }
}

/// Times `op(i)` over inputs `0..n`: warm-up, then `ROUNDS` rounds of samples cycling through
/// the inputs, each sample timing a batch of calls with the same input. Returns the per-call
/// statistics of the round with the lowest median (the machine is shared: a round disturbed by
/// other work is discarded rather than averaged in).
pub fn sample(n: usize, budget: Budget, overhead: f64, mut op: impl FnMut(usize)) -> Stats {
    assert!(n > 0);
    // Warm-up: one pass over the inputs at least, then up to the warm-up time.
    let start = Instant::now();
    let mut calls = 0usize;
    loop {
        op(calls % n);
        calls += 1;
        if calls >= n && start.elapsed() >= budget.warm_up {
            break;
        }
        if start.elapsed() >= budget.warm_up * 4 {
            break;
        }
    }
    let per_call = start.elapsed().as_nanos() as f64 / calls as f64;
    let batch =
        ((budget.min_sample_time.as_nanos() as f64 / per_call.max(1.0)).ceil() as usize).max(1);

    let mut best: Option<Stats> = None;
    let mut i = 0usize;
    for _ in 0..ROUNDS {
        let mut xs = Vec::with_capacity(budget.min_samples.max(1024));
        let start = Instant::now();
        while xs.len() < budget.max_samples / ROUNDS
            && (xs.len() < budget.min_samples || start.elapsed() < budget.measure / ROUNDS as u32)
        {
            let input = i % n;
            let t = Instant::now();
            for _ in 0..batch {
                op(input);
            }
            let ns = t.elapsed().as_nanos() as f64;
            xs.push(((ns - overhead) / batch as f64).max(0.0));
            i += 1;
        }
        let stats = Stats::from_samples(xs, batch);
        if best.is_none_or(|b| stats.median < b.median) {
            best = Some(stats);
        }
    }
    best.unwrap_or_else(Stats::unavailable)
}

/// Mean time per call of `op(i)` over passes through inputs `0..n`, each input once per pass,
/// in order: the lowest pass mean, after one pass of warm-up, over at least two passes and
/// as many more as `budget.measure` allows (at most 200). No input is repeated back to back,
/// so every call meets an input it has not just decided (unlike [`sample`]'s batches); it
/// gives a mean, not a median, and reads the clock once per pass.
pub fn pass_mean(n: usize, budget: Budget, mut op: impl FnMut(usize)) -> f64 {
    assert!(n > 0);
    // Generic, not a `dyn` closure: the timed loop calls `op` directly, as `sample` does.
    fn pass(n: usize, op: &mut impl FnMut(usize)) -> f64 {
        let t = Instant::now();
        for i in 0..n {
            op(i);
        }
        t.elapsed().as_nanos() as f64 / n as f64
    }
    pass(n, &mut op);
    let start = Instant::now();
    let mut best = f64::INFINITY;
    let mut passes = 0;
    while passes < 2 || (passes < 200 && start.elapsed() < budget.measure) {
        best = best.min(pass(n, &mut op));
        passes += 1;
    }
    best
}

/// Rounds of samples per measurement.
pub const ROUNDS: usize = 5;

/// Median wall time of `reps` runs of `f`, in nanoseconds.
pub fn median_time<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    let mut xs = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        let out = f();
        xs.push(t.elapsed().as_nanos() as f64);
        drop(black_box(out));
    }
    Stats::from_samples(xs, 1).median
}

/// `1234.5` ns → `1.23 µs`.
pub fn fmt_ns(ns: f64) -> String {
    if !ns.is_finite() {
        "n/a".into()
    } else if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1_000_000_000.0 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

pub fn fmt_bytes(b: f64) -> String {
    if !b.is_finite() {
        "n/a".into()
    } else if b < 1024.0 {
        format!("{b:.0} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    }
}

/// `a / b` as a ratio with two significant digits at least: `0.021×`, `0.000041×`, `2.4×`.
pub fn fmt_ratio(a: f64, b: f64) -> String {
    let r = a / b;
    if !r.is_finite() || r <= 0.0 {
        "n/a".into()
    } else if r >= 1.0 {
        format!("{r:.2}×")
    } else {
        let decimals = (-r.log10().floor()) as usize + 1;
        format!("{r:.decimals$}×")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_decides_every_input_once_in_order() {
        let mut seen = Vec::new();
        let budget = Budget { measure: Duration::ZERO, ..Budget::default() };
        let mean = pass_mean(4, budget, |i| seen.push(i));
        // One pass of warm-up, then the two passes measured at least.
        assert_eq!(seen, [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
        assert!(mean.is_finite() && mean >= 0.0, "{mean}");
    }

    #[test]
    fn the_warm_up_pass_is_not_counted() {
        // Each call after the warm-up pass sleeps: the mean is of those calls only.
        let mut calls = 0;
        let budget = Budget { measure: Duration::ZERO, ..Budget::default() };
        let mean = pass_mean(2, budget, |_| {
            calls += 1;
            if calls > 2 {
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        assert!(mean >= 2e6, "{mean}");
    }
}
