//! `writ verify` and `writ diff` on the generated policies of the engines report: 20
//! assertions over the 1,000-rule policy, and the 10,000-rule policy against itself with one
//! allow rule widened. Timed end to end as the commands run them (compile, load, decide every
//! claim; compile and load both policies, every role's reach, every widening), best of a few
//! runs.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use writ_compiler::Compiler;
use writ_compiler::reach::{Subject, reach};
use writ_compiler::verify::{self, Verdict};
use writ_evaluator::Policy;
use writ_evaluator::ir::PolicyIr;

/// The results of the verify workloads.
pub struct VerifyResults {
    pub verify_rules: usize,
    pub claims: usize,
    /// Compile, load and verify every claim (best run).
    pub verify: Duration,
    /// Of which deciding the claims.
    pub verify_alone: Duration,
    /// holds / fails / unknown.
    pub verdicts: (usize, usize, usize),
    pub diff_rules: usize,
    /// The rule changed, as written before and after.
    pub changed: (String, String),
    /// Compile and load both, every role's reach in both, the widenings (best run).
    pub diff: Duration,
    /// Of which the widenings' search.
    pub diff_alone: Duration,
    pub widenings: usize,
    pub unsettled: usize,
}

fn files(rules: usize) -> Vec<(String, String)> {
    let s = crate::scenario::generate(rules, 42);
    crate::writ::emit(&s.model)
}

fn compile(files: Vec<(String, String)>) -> (Policy, Vec<verify::Assertion>) {
    let compiler = Compiler::new(files);
    let c = compiler.compilation();
    let ir = c.policy.clone().unwrap_or_else(|| panic!("the generated policy compiles"));
    let policy = Policy::from_ir(ir).unwrap_or_else(|e| panic!("the policy loads: {e}"));
    (policy, c.assertions.clone())
}

/// Twenty assertions about the policy's own workflows and tools: a mix that holds (no
/// accountable principal at depth 0, deeper than any workflow admits) and that fails.
fn assertions(ir: &PolicyIr) -> String {
    let deepest = ir.workflows.iter().map(|w| w.max_depth).max().unwrap_or(1);
    let mut out = String::new();
    let pairs: Vec<(&str, &str)> = ir
        .workflows
        .iter()
        .filter_map(|w| {
            let t = w.allows.first()?.target.tools.first()?;
            Some((w.name.as_str(), ir.tools.get(t.index())?.name.as_str()))
        })
        .collect();
    for i in 0..20 {
        let Some((w, t)) = pairs.get((i * 7) % pairs.len().max(1)) else { break };
        let claim = match i % 4 {
            0 => format!("never allow via {w} {t} when initiator.kind == agent and depth == 0"),
            1 => format!("never allow via {w} {t}"),
            2 => format!("never start {w} when initiator.kind == agent and depth == 0"),
            _ => format!("never allow {t} when depth > {deepest}"),
        };
        let _ = writeln!(out, "assert \"claim {i}\" {{\n  {claim}\n}}");
    }
    out
}

/// The policy with its first allow rule that has a condition widened (`when depth == 0 or
/// ...`): the rule as written before and after.
fn widen_one(files: &[(String, String)]) -> (Vec<(String, String)>, (String, String)) {
    let mut out = files.to_vec();
    for (_, text) in &mut out {
        let found =
            text.lines().find(|l| l.trim_start().starts_with("allow ") && l.contains(" when "));
        if let Some(line) = found.map(str::to_string) {
            let wider = line.replacen(" when ", " when depth == 0 or ", 1);
            *text = text.replacen(&line, &wider, 1);
            return (out, (line.trim().to_string(), wider.trim().to_string()));
        }
    }
    (out, (String::new(), String::new()))
}

/// Runs both workloads (`runs` times each, the best kept).
pub fn run(runs: usize) -> VerifyResults {
    // verify on the 1,000-rule policy.
    let base = files(1000);
    let (plain, _) = compile(base.clone());
    let mut with_claims = base;
    with_claims.push(("assertions.writ".into(), assertions(plain.ir())));
    let mut best = (Duration::MAX, Duration::MAX);
    let mut verdicts = (0, 0, 0);
    let mut claims = 0;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let (policy, asserts) = compile(with_claims.clone());
        let v = Instant::now();
        let results = verify::verify(&policy, &asserts);
        let alone = v.elapsed();
        let total = t.elapsed();
        if total < best.0 {
            best = (total, alone);
        }
        claims = results.len();
        verdicts = (0, 0, 0);
        for r in &results {
            match r.verdict {
                Verdict::Holds => verdicts.0 += 1,
                Verdict::Fails { .. } => verdicts.1 += 1,
                Verdict::Unknown { .. } => verdicts.2 += 1,
            }
        }
    }

    // diff of the 10,000-rule policy against a one-rule change.
    let old_files = files(10_000);
    let (new_files, changed) = widen_one(&old_files);
    let mut best_diff = (Duration::MAX, Duration::MAX);
    let (mut widenings, mut unsettled) = (0, 0);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let (old, _) = compile(old_files.clone());
        let (new, _) = compile(new_files.clone());
        for p in [&old, &new] {
            for s in Subject::roles(p.ir()) {
                std::hint::black_box(reach(p.ir(), &s));
            }
        }
        let d = Instant::now();
        let (w, u) = verify::diff::widenings(&old, &new);
        let alone = d.elapsed();
        let total = t.elapsed();
        if total < best_diff.0 {
            best_diff = (total, alone);
        }
        widenings = w.len();
        unsettled = u.len();
    }
    VerifyResults {
        verify_rules: 1000,
        claims,
        verify: best.0,
        verify_alone: best.1,
        verdicts,
        diff_rules: 10_000,
        changed,
        diff: best_diff.0,
        diff_alone: best_diff.1,
        widenings,
        unsettled,
    }
}

fn met(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// The report's section.
pub fn section(r: &VerifyResults) -> String {
    let mut out = String::from("## Proving: `writ verify` and `writ diff`\n\n");
    let _ = write!(
        out,
        "The engines report's generated policies (seed 42), timed as the commands run them, best \
         of a few runs; see `bench/src/verify.rs`. `writ verify`: compile and load the \
         {}-rule policy with {} one-claim assertions about its own workflows and tools, and \
         decide every claim ({} hold, {} fail, {} unknown). `writ diff`: compile and load the \
         {}-rule policy and a copy with one allow rule widened (`{}` → `{}`), compute every \
         role's reach in both, and search every widening ({} found, {} unsettled).\n\n",
        r.verify_rules,
        r.claims,
        r.verdicts.0,
        r.verdicts.1,
        r.verdicts.2,
        r.diff_rules,
        r.changed.0,
        r.changed.1,
        r.widenings,
        r.unsettled,
    );
    out.push_str("| target | measured | met |\n|---|---:|---|\n");
    let _ = writeln!(
        out,
        "| `writ verify`: the 1,000-rule policy with 20 assertions: < 2 s | {} (deciding the claims: {}) | {} |",
        secs(r.verify),
        secs(r.verify_alone),
        met(r.verify < Duration::from_secs(2) && r.verdicts.2 == 0)
    );
    let _ = writeln!(
        out,
        "| `writ diff`: a 10,000-rule policy against a one-rule change: < 5 s | {} (the widenings' search: {}) | {} |",
        secs(r.diff),
        secs(r.diff_alone),
        met(r.diff < Duration::from_secs(5) && r.widenings > 0 && r.unsettled == 0)
    );
    out.push('\n');
    out
}
