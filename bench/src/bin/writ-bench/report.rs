//! The benchmark run: for every size, generate the policy and requests, load every engine
//! (timing it and counting the memory it keeps), check that all engines agree on every request
//! (a disagreement fails the run), time decisions (prepared requests, then JSON in to decision
//! out), and render the Markdown report.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use writ_bench::cedar::{CedarEngine, CedarQuery};
use writ_bench::counting::{Counting, Memory, memory_of};
use writ_bench::measure::{
    Budget, Stats, fmt_bytes, fmt_ns, fmt_ratio, median_time, pass_mean, sample,
};
use writ_bench::rego::{RegoInterpreter, RegoVm};
use writ_bench::requests::{self, Group};
use writ_bench::writ::{WritEngine, compile};
use writ_bench::{Engines, Texts, check_agreement, scenario};

#[global_allocator]
static GLOBAL: Counting = Counting;

// ---------------------------------------------------------------------------------------------

pub const ENGINES: [&str; 4] = ["writ", "Cedar", "Rego VM", "Rego interp."];

pub struct SizeResult {
    pub nominal: usize,
    pub rules: usize,
    units: usize,
    tools: usize,
    roles: usize,
    workflows: usize,
    bytes: [usize; 3],
    cedar_policies: usize,
    requests: usize,
    outcomes: String,
    groups: String,
    /// writ: compile (text → IR), load (IR → Policy).
    writ_compile: f64,
    writ_load: f64,
    load: [f64; 4],
    memory: [Memory; 4],
    pub decide: [Stats; 4],
    pub json: [Stats; 4],
    /// The decision alone, each request once per pass ([`pass_mean`]): mean per decision;
    /// `NaN` where not measured (policies of 10,000 rules and more, where a pass of the slower
    /// engines takes seconds).
    fresh: [f64; 4],
    /// writ's decision alone per request group (`Group::ALL` order).
    writ_groups: [Stats; 5],
    pub disagreements: usize,
    /// Why the Rego VM could not load the policy, if it could not.
    vm_error: Option<String>,
}

pub struct Options {
    pub sizes: Vec<usize>,
    pub quick: bool,
}

fn budget(rules: usize, quick: bool) -> Budget {
    let mut b = Budget::default();
    if quick {
        b.warm_up = Duration::from_millis(50);
        b.measure = Duration::from_millis(200);
        b.min_samples = 20;
    } else if rules >= 10_000 {
        // Cedar and the Rego interpreter take 10-20 ms per decision here.
        b.measure = Duration::from_millis(3000);
        b.min_samples = 120;
    }
    b
}

fn run_size(nominal: usize, o: &Options, overhead: f64) -> SizeResult {
    let seed = 42;
    let t0 = Instant::now();
    let s = scenario::generate(nominal, seed);
    let texts = Texts::new(&s);
    let n_requests = match (o.quick, s.rules()) {
        (true, _) => 300,
        (false, r) if r >= 10_000 => 500,
        _ => 2_000,
    };
    let reqs = requests::generate(&s, n_requests, seed);
    eprintln!(
        "[{nominal}] {} rules, {} units; generated in {:.1?}",
        s.rules(),
        s.units.len(),
        t0.elapsed()
    );

    // Load times (median of several runs).
    let reps = match (o.quick, s.rules()) {
        (true, _) => 2,
        (false, r) if r >= 10_000 => 3,
        (false, r) if r >= 1_000 => 5,
        _ => 15,
    };
    let writ_compile = median_time(reps, || compile(&texts.writ));
    let ir = compile(&texts.writ);
    let writ_load =
        median_time(reps, || writ_evaluator::Policy::from_ir(ir.clone()).expect("loads"));
    let writ_total = median_time(reps, || WritEngine::load(&texts.writ));
    let cedar_load = median_time(reps, || CedarEngine::load(&s.model, &texts.cedar));
    let vm_error = RegoVm::load(&texts.rego, &texts.rego_data).err();
    let vm_load = if vm_error.is_some() {
        f64::NAN
    } else {
        median_time(reps, || RegoVm::load(&texts.rego, &texts.rego_data))
    };
    let interp_load = median_time(reps, || RegoInterpreter::load(&texts.rego, &texts.rego_data));
    eprintln!("[{nominal}] load times measured at {:.1?}", t0.elapsed());

    // Memory of each loaded policy, and the engines used below.
    let (writ, m_writ) = memory_of(|| WritEngine::load(&texts.writ));
    let (cedar, m_cedar) = memory_of(|| CedarEngine::load(&s.model, &texts.cedar));
    let (rego_vm, mut m_vm) = memory_of(|| RegoVm::load(&texts.rego, &texts.rego_data));
    if rego_vm.is_err() {
        m_vm = Memory { allocated: f64::NAN, retained: f64::NAN };
    }
    let (rego, m_interp) = memory_of(|| RegoInterpreter::load(&texts.rego, &texts.rego_data));
    let mut engines = Engines { writ, cedar, rego_vm, rego };

    // Agreement: any disagreement fails the run.
    let agreement = check_agreement(&mut engines, &reqs);
    eprintln!(
        "[{nominal}] agreement on {} requests: {} disagreements ({:.1?})",
        agreement.requests,
        agreement.disagreements.len(),
        t0.elapsed()
    );
    for d in agreement.disagreements.iter().take(5) {
        eprintln!("  {d:?}");
    }

    // Prepared requests.
    let writ_reqs: Vec<_> = reqs.iter().map(|r| engines.writ.prepare(&r.json)).collect();
    let cedar_reqs: Vec<CedarQuery> =
        reqs.iter().map(|r| engines.cedar.prepare_str(&r.json)).collect();
    let rego_inputs: Vec<_> = reqs.iter().map(|r| RegoVm::prepare(&r.json)).collect();
    let jsons: Vec<&str> = reqs.iter().map(|r| r.json.as_str()).collect();
    let n = reqs.len();
    let b = budget(s.rules(), o.quick);

    let e = &mut engines;
    let decide = [
        sample(n, b, overhead, |i| {
            black_box(e.writ.decide(&writ_reqs[i]));
        }),
        sample(n, b, overhead, |i| {
            black_box(e.cedar.decide(&cedar_reqs[i]));
        }),
        match &mut e.rego_vm {
            Ok(vm) => sample(n, b, overhead, |i| {
                black_box(vm.decide(&rego_inputs[i]));
            }),
            Err(_) => Stats::unavailable(),
        },
        sample(n, b, overhead, |i| {
            black_box(e.rego.decide(&rego_inputs[i]));
        }),
    ];
    // writ per group of requests: which kinds of decision (if any) grow with the policy.
    let mut group_budget = b;
    group_budget.measure = b.measure / 4;
    group_budget.min_samples = 50;
    let writ_groups = Group::ALL.map(|g| {
        let idx: Vec<usize> = (0..n).filter(|&i| reqs[i].group == g).collect();
        if idx.is_empty() {
            return Stats::unavailable();
        }
        sample(idx.len(), group_budget, overhead, |i| {
            black_box(e.writ.decide(&writ_reqs[idx[i]]));
        })
    });
    // Each request once per pass: what a gateway pays for a request it has not just decided.
    let fresh = if s.rules() < 10_000 {
        [
            pass_mean(n, b, |i| {
                black_box(e.writ.decide(&writ_reqs[i]));
            }),
            pass_mean(n, b, |i| {
                black_box(e.cedar.decide(&cedar_reqs[i]));
            }),
            match &mut e.rego_vm {
                Ok(vm) => pass_mean(n, b, |i| {
                    black_box(vm.decide(&rego_inputs[i]));
                }),
                Err(_) => f64::NAN,
            },
            pass_mean(n, b, |i| {
                black_box(e.rego.decide(&rego_inputs[i]));
            }),
        ]
    } else {
        [f64::NAN; 4]
    };
    eprintln!("[{nominal}] decisions timed at {:.1?}", t0.elapsed());
    let json = [
        sample(n, b, overhead, |i| {
            black_box(e.writ.decide_json_to_json(jsons[i]));
        }),
        sample(n, b, overhead, |i| {
            black_box(e.cedar.decide_json(jsons[i]));
        }),
        match &mut e.rego_vm {
            Ok(vm) => sample(n, b, overhead, |i| {
                black_box(vm.decide_json(jsons[i]));
            }),
            Err(_) => Stats::unavailable(),
        },
        sample(n, b, overhead, |i| {
            black_box(e.rego.decide_json(jsons[i]));
        }),
    ];
    eprintln!("[{nominal}] JSON decisions timed at {:.1?}", t0.elapsed());

    let writ_bytes: usize = texts.writ.iter().map(|(_, t)| t.len()).sum();
    SizeResult {
        nominal,
        rules: s.rules(),
        units: s.units.len(),
        tools: s.model.tools.len(),
        roles: s.model.roles.len(),
        workflows: s.model.workflows.len(),
        bytes: [
            writ_bytes,
            texts.cedar.workflows.len() + texts.cedar.entitlements.len(),
            texts.rego.iter().map(|(_, t)| t.len()).sum::<usize>()
                + texts.rego_data.to_string().len(),
        ],
        cedar_policies: engines.cedar.workflows.policies().count()
            + engines.cedar.entitlements.policies().count(),
        requests: n,
        outcomes: format!("{:?}", agreement.outcomes),
        groups: Group::ALL
            .iter()
            .map(|g| format!("{}: {}", g.as_str(), agreement.groups.get(g).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join("; "),
        writ_compile,
        writ_load,
        load: [writ_total, cedar_load, vm_load, interp_load],
        memory: [m_writ, m_cedar, m_vm, m_interp],
        decide,
        json,
        fresh,
        writ_groups,
        disagreements: agreement.disagreements.len(),
        vm_error,
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let rustc = std::process::Command::new("rustc")
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores; {rustc}; release profile")
}

pub fn size_label(r: &SizeResult) -> String {
    if r.rules == r.nominal {
        format!("{}", r.rules)
    } else {
        format!("{} ({})", r.nominal, r.rules)
    }
}

/// The targets of issues 3 and 18 (the stricter second), each with what this run measured
/// and whether it is met. A size that was not run leaves its targets `not measured`.
fn targets(out: &mut String, results: &[SizeResult]) {
    let at = |n: usize| results.iter().find(|r| r.nominal == n);
    let (small, mid, big) = (at(10), at(1_000), at(10_000));
    let mut rows: Vec<(String, String, Option<bool>)> = Vec::new();
    let mut ratio_row = |what: &str, r: Option<&SizeResult>, other: usize, want: f64| {
        let cell = r.map(|r| r.decide[0].median / r.decide[other].median).filter(|x| x.is_finite());
        rows.push((
            what.to_owned(),
            cell.map_or("not measured".into(), |x| format!("{:.0}× faster", 1.0 / x)),
            cell.map(|x| 1.0 / x >= want),
        ));
    };
    ratio_row(
        "decision: ≥ 20× faster than Cedar at the smallest policy (27 rules)",
        small,
        1,
        20.0,
    );
    ratio_row("decision: ≥ 10× faster than the Rego VM at the smallest policy", small, 2, 10.0);
    ratio_row(
        "issue 18: decision ≥ 100× faster than Cedar at the smallest policy",
        small,
        1,
        100.0,
    );
    ratio_row(
        "issue 18: decision ≥ 50× faster than the Rego VM at the smallest policy",
        small,
        2,
        50.0,
    );
    ratio_row("decision: ≥ 500× faster than Cedar at 1,000 rules", mid, 1, 500.0);
    let growth = small.zip(big).map(|(s, b)| b.decide[0].median / s.decide[0].median);
    rows.push((
        "decision: writ's median at 10,000 rules ≤ 2× its median at the smallest".into(),
        growth.map_or("not measured".into(), |g| format!("{g:.2}×")),
        growth.map(|g| g <= 2.0),
    ));
    let json = mid.map(|r| r.json[0].median);
    rows.push((
        "JSON request in to JSON decision out: median < 2 µs at 1,000 rules".into(),
        json.map_or("not measured".into(), fmt_ns),
        json.map(|t| t < 2_000.0),
    ));
    rows.push((
        "issue 18: JSON request in to JSON decision out: median < 1 µs at 1,000 rules".into(),
        json.map_or("not measured".into(), fmt_ns),
        json.map(|t| t < 1_000.0),
    ));
    let compile = big.map(|r| r.load[0]);
    rows.push((
        "compile a 10,000-rule policy from text (and load it): < 0.5 s".into(),
        compile.map_or("not measured".into(), fmt_ns),
        compile.map(|t| t < 0.5e9),
    ));
    let memory = big.map(|r| r.memory[0].retained);
    rows.push((
        "loaded policy memory at 10,000 rules: < 50 MB".into(),
        memory.map_or("not measured".into(), fmt_bytes),
        memory.map(|m| m < 50e6),
    ));
    out.push_str("### Targets\n\n| target | measured | met |\n|---|---:|---|\n");
    for (what, measured, met) in rows {
        let met = match met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        let _ = writeln!(out, "| {what} | {measured} | {met} |");
    }
    out.push('\n');
}

fn timing_table(
    out: &mut String,
    results: &[SizeResult],
    pick: impl Fn(&SizeResult) -> [Stats; 4],
) {
    out.push_str(
        "| rules | writ median | writ p99 | Cedar median | Cedar p99 | Rego VM median | Rego VM p99 | Rego interp. median | Rego interp. p99 | writ/Cedar | writ/Rego VM | writ/Rego interp. |\n",
    );
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in results {
        let s = pick(r);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            size_label(r),
            fmt_ns(s[0].median),
            fmt_ns(s[0].p99),
            fmt_ns(s[1].median),
            fmt_ns(s[1].p99),
            fmt_ns(s[2].median),
            fmt_ns(s[2].p99),
            fmt_ns(s[3].median),
            fmt_ns(s[3].p99),
            fmt_ratio(s[0].median, s[1].median),
            fmt_ratio(s[0].median, s[2].median),
            fmt_ratio(s[0].median, s[3].median),
        );
    }
}

fn report(results: &[SizeResult], total: Duration, quick: bool) -> String {
    let mut out = String::new();
    out.push_str("## writ, Cedar and Rego side by side\n\n");
    out.push_str(
        "Generated by `cargo run --release -p writ-bench -- report`, which rewrites this section \
         and the plot; see `bench/README.md` for what is measured, the Cedar and Rego encodings \
         and how to read the ratios. Ratios are writ's median divided by the other engine's: \
         below 1 means writ is faster (or smaller).\n\n",
    );
    let now = writ_evaluator::log::rfc3339_millis(std::time::SystemTime::now());
    let _ = writeln!(out, "- Date: {} UTC", now.get(..10).unwrap_or(&now));
    let _ = writeln!(out, "- Machine: {}", machine());
    let _ = writeln!(
        out,
        "- Engines: writ (this workspace), cedar-policy 4.14 (schema-free), regorus 0.14 (RVM bytecode VM and interpreter)"
    );
    let _ = writeln!(
        out,
        "- Seed 42; whole run {:.0?}{}",
        total,
        if quick { " (quick mode: few samples)" } else { "" }
    );
    out.push_str(
        "\n![Median decision time against policy size, log-log, for writ, Cedar and the two Rego \
         engines: the decision alone, and JSON in to decision out](bench/latency.svg)\n\n",
    );
    targets(&mut out, results);

    out.push_str("### Agreement\n\n");
    out.push_str("| rules | requests | writ outcomes | disagreements |\n|---:|---:|---|---:|\n");
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            size_label(r),
            r.requests,
            r.outcomes,
            r.disagreements
        );
    }
    out.push_str("\nRequest mix per size (by what each request exercises):\n\n");
    for r in results {
        let _ = writeln!(out, "- {}: {}", size_label(r), r.groups);
    }
    out.push('\n');

    out.push_str("### Decision alone (prepared requests)\n\n");
    out.push_str(
        "Per decision. writ: `Policy::decide(&Request)`. Cedar: the workflow request plus one \
         entitlement request per human or service principal (entities and context pre-built). \
         Rego: `set_input` + evaluate `data.writ.allow` (input value pre-built).\n\n",
    );
    timing_table(&mut out, results, |r| r.decide);
    out.push_str("\nwrit's decision alone by kind of request (median / p99):\n\n| rules |");
    for g in Group::ALL {
        let _ = write!(out, " {} |", g.as_str());
    }
    out.push_str("\n|---:|---:|---:|---:|---:|---:|\n");
    for r in results {
        let _ = write!(out, "| {} |", size_label(r));
        for s in &r.writ_groups {
            let _ = write!(out, " {} / {} |", fmt_ns(s.median), fmt_ns(s.p99));
        }
        out.push('\n');
    }
    let batches = |k: usize| {
        let batch = |s: &Stats| match s.batch {
            0 => "n/a".to_owned(),
            n => n.to_string(),
        };
        results.iter().map(|r| batch(&r.decide[k])).collect::<Vec<_>>().join(", ")
    };
    let _ = write!(
        out,
        "\nEach request once per pass, no repeats (mean per decision). The medians above time \
         batches of calls on one request wherever a call is shorter than the 2 µs a sample must \
         take. writ's batches there were of {} calls (by size), so most of its timed calls \
         repeat the call before, whose branches the processor has just learnt; Cedar's were of \
         {}, the Rego VM's of {} and the interpreter's of {}. Here every engine decides the \
         requests in order, each once per pass, and the lowest pass mean is kept: the cost of \
         a request a gateway has not just decided. A mean, unlike a median, carries the mix's \
         slower requests (writ's pending ones). Not measured at 10,000 rules, where a pass of \
         the slower engines takes seconds.\n\n| rules | writ | Cedar | Rego VM | Rego interp. \
         | writ/Cedar | writ/Rego VM | writ/Rego interp. |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n",
        batches(0),
        batches(1),
        batches(2),
        batches(3)
    );
    for r in results {
        let [w, c, vm, interp] = r.fresh;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            size_label(r),
            fmt_ns(w),
            fmt_ns(c),
            fmt_ns(vm),
            fmt_ns(interp),
            fmt_ratio(w, c),
            fmt_ratio(w, vm),
            fmt_ratio(w, interp)
        );
    }
    out.push_str("\n### JSON in to decision out\n\n");
    out.push_str(
        "Per decision, from the request's JSON text: writ `Request::from_json` + \
         `Policy::decide_json` (the decision's JSON text, as a gateway sends it on: the text of \
         `Decision::to_json`, written without building the `Decision`); Cedar: \
         serde_json + the gateway's conversion (entities, context, evidence counts) + \
         authorization, stopping at Cedar's `Response`; Rego: `Value::from_json_str` + \
         evaluation, stopping at the result value. Only writ's column includes encoding the \
         answer.\n\n",
    );
    timing_table(&mut out, results, |r| r.json);

    out.push_str("\n### Policy compile / load time (median)\n\n");
    out.push_str(
        "writ: source text through `writ_compiler` (parse, check, lower) to `PolicyIr`, then \
         `Policy::from_ir`. Cedar: parsing both policy sets plus the gateway's tables. Rego VM: \
         parse, compile to RVM bytecode, load program and data. Rego interpreter: parse, add data, \
         first evaluation (which prepares the engine).\n\n",
    );
    out.push_str("| rules | writ (compile + load) | writ compile | writ load | Cedar | Rego VM | Rego interp. | writ/Cedar | writ/Rego VM | writ/Rego interp. |\n");
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            size_label(r),
            fmt_ns(r.load[0]),
            fmt_ns(r.writ_compile),
            fmt_ns(r.writ_load),
            fmt_ns(r.load[1]),
            fmt_ns(r.load[2]),
            fmt_ns(r.load[3]),
            fmt_ratio(r.load[0], r.load[1]),
            fmt_ratio(r.load[0], r.load[2]),
            fmt_ratio(r.load[0], r.load[3]),
        );
    }

    out.push_str("\n### Memory of the loaded policy\n\n");
    out.push_str(
        "Counted by a global allocator in the benchmark binary: bytes still live after loading \
         (the loaded policy; temporaries such as writ's compiler database are dropped) and, in \
         parentheses, all bytes allocated while loading.\n\n",
    );
    out.push_str("| rules | writ | Cedar | Rego VM | Rego interp. | writ/Cedar | writ/Rego VM | writ/Rego interp. |\n");
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in results {
        let m = &r.memory;
        let cell = |m: &Memory| format!("{} ({})", fmt_bytes(m.retained), fmt_bytes(m.allocated));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            size_label(r),
            cell(&m[0]),
            cell(&m[1]),
            cell(&m[2]),
            cell(&m[3]),
            fmt_ratio(m[0].retained, m[1].retained),
            fmt_ratio(m[0].retained, m[2].retained),
            fmt_ratio(m[0].retained, m[3].retained),
        );
    }

    for r in results.iter().filter(|r| r.vm_error.is_some()) {
        let _ = writeln!(
            out,
            "\nRego VM at {} rules: n/a. {}",
            size_label(r),
            r.vm_error.as_deref().unwrap_or_default()
        );
    }
    out.push_str("\n### Generated policies\n\n");
    out.push_str("| rules | units | workflows | roles | tools | writ source | Cedar policies (text) | Rego module + data |\n");
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} ({}) | {} |",
            size_label(r),
            r.units,
            r.workflows,
            r.roles,
            r.tools,
            fmt_bytes(r.bytes[0] as f64),
            r.cedar_policies,
            fmt_bytes(r.bytes[1] as f64),
            fmt_bytes(r.bytes[2] as f64),
        );
    }
    let _ = write!(
        out,
        "\nSamples per timing cell (decision alone / JSON): samples × calls per sample, in the best \
         of {} rounds (the round with the lowest median is kept; see `bench/README.md`):\n\n",
        writ_bench::measure::ROUNDS
    );
    for r in results {
        let cells: Vec<String> = ENGINES
            .iter()
            .zip(r.decide.iter().zip(r.json.iter()))
            .map(|(e, (d, j))| format!("{e} {}×{} / {}×{}", d.samples, d.batch, j.samples, j.batch))
            .collect();
        let _ = writeln!(out, "- {}: {}", size_label(r), cells.join(", "));
    }
    out
}

/// Runs every size and renders the report. The results come back too (for the plot and the
/// exit status).
pub fn run(o: &Options) -> (Vec<SizeResult>, String) {
    let start = Instant::now();
    let overhead = writ_bench::measure::timer_overhead();
    eprintln!("timer overhead {overhead:.0} ns; sizes {:?}", o.sizes);
    let mut results = Vec::new();
    for &size in &o.sizes {
        results.push(run_size(size, o, overhead));
    }
    eprintln!("language version 2 workloads");
    let v2 = writ_bench::v2::run(overhead, o.quick);
    let mut text = report(&results, start.elapsed(), o.quick);
    text.push_str(&writ_bench::v2::section(&v2));
    eprintln!("writ verify and writ diff");
    let proving = writ_bench::verify::run(if o.quick { 1 } else { 3 });
    text.push_str(&writ_bench::verify::section(&proving));
    (results, text)
}
