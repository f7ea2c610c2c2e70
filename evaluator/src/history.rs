//! `calls(TARGET)` and `calls(TARGET within DURATION)` (LANGUAGE.md §10): counting the run's
//! earlier calls in the request's `history`.
//!
//! For gateways: [`HistoryHorizon`] says how much of a run's history a policy can ever read
//! (so how much a gateway that records history must keep); [`crate::Policy::counts_calls_of`]
//! says which calls it need record at all.
//!
//! Inside the crate, `count_calls` is the counter the evaluator uses: one pass, no allocation.
//! `count_calls_reference` is the same rule written the plain way, for differential tests;
//! a property test checks that the two agree.

use crate::request::HistoryEntry;
use crate::time::Timestamp;

/// Nanoseconds in a second.
const NANOS: i128 = 1_000_000_000;

/// How many entries of `history` the target matches (`matches(tool)`), §10:
///
/// - `None` (unknown) when the request has no `history` (an empty one counts 0);
/// - with a window (`within_seconds = Some(D)`), only entries with `now - D < at <= now`
///   count, and the answer is unknown when the request has no `time` (`now`) or when an entry
///   the target matches has no `at` (entries the target does not match need none);
/// - without a window, every matching entry counts, whether or not it has `at`, and `now` is
///   not needed.
///
/// `matches` is called once per entry, in order, until the answer is known (the windowed form
/// stops at the first matching entry without `at`). A negative `within_seconds` is an empty
/// window (0 for any history). Linear, no allocation.
pub(crate) fn count_calls(
    history: Option<&[HistoryEntry]>,
    now: Option<Timestamp>,
    within_seconds: Option<i64>,
    mut matches: impl FnMut(&str) -> bool,
) -> Option<i64> {
    let history = history?;
    let window = match within_seconds {
        None => None,
        Some(seconds) => {
            let end = now?.as_unix_nanos();
            Some((end - i128::from(seconds) * NANOS, end))
        }
    };
    let mut count: i64 = 0;
    for entry in history {
        if !matches(&entry.tool) {
            continue;
        }
        let counts = match window {
            None => true,
            Some((after, until)) => {
                let at = entry.at?.as_unix_nanos();
                after < at && at <= until
            }
        };
        count += i64::from(counts);
    }
    Some(count)
}

/// [`count_calls`] written plainly: pick the entries the target matches, then count them, or
/// count those whose age (`now - at`) is at least zero and less than the window.
#[cfg(test)]
pub(crate) fn count_calls_reference(
    history: Option<&[HistoryEntry]>,
    now: Option<Timestamp>,
    within_seconds: Option<i64>,
    mut matches: impl FnMut(&str) -> bool,
) -> Option<i64> {
    let history = history?;
    let matching: Vec<&HistoryEntry> = history.iter().filter(|e| matches(&e.tool)).collect();
    let Some(seconds) = within_seconds else {
        return i64::try_from(matching.len()).ok();
    };
    let now = now?;
    let mut times = Vec::new();
    for entry in &matching {
        match entry.at {
            Some(at) => times.push(at),
            None => return None,
        }
    }
    let window = i128::from(seconds) * NANOS;
    let within = times.iter().filter(|at| {
        let age = now.as_unix_nanos() - at.as_unix_nanos();
        0 <= age && age < window
    });
    i64::try_from(within.count()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A gateway need record only the calls some `calls(...)` can count: by tool, by tag
    /// (expanded to tools), by glob (which also counts undeclared tools), in any condition.
    #[test]
    fn counted_calls_are_those_a_target_names() {
        use crate::ir::{CallsIr, CmpOp, Cond, Operand};
        use crate::testing::{Ir, cmp, i};
        let mut ir = Ir::new("p.writ");
        ir.role("dev", &[]);
        for (tool, tags) in
            [("read", &[][..]), ("push", &["write"][..]), ("ci.run", &[][..]), ("ci.lint", &[][..])]
        {
            ir.tool(tool, &[], tags);
        }
        ir.workflow("w", 1, 3600);
        let calls = |ir: &Ir, target: &str, glob: Option<&str>| {
            Operand::Calls(CallsIr {
                target: ir.target(target),
                glob: glob.map(str::to_owned),
                within_seconds: Some(60),
            })
        };
        assert!(!ir.policy().counts_calls_of("push"), "no calls(...) at all: nothing counts");
        let by_tag = cmp(CmpOp::Lt, calls(&ir, "[write]", None), i(3));
        ir.allow(
            (1, 1),
            "allow push when calls([write] within 1m) < 3",
            "w",
            "push",
            Some(by_tag),
            vec![],
        );
        let by_glob = Cond::Not(Box::new(cmp(CmpOp::Gt, calls(&ir, "ci.*", Some("ci.*")), i(9))));
        ir.deny(
            (2, 1),
            "deny read when calls(ci.* within 1m) > 9",
            Some("w"),
            "read",
            Some(by_glob),
            None,
        );
        let policy = ir.policy();
        for tool in ["push", "ci.run", "ci.lint", "ci.undeclared"] {
            assert!(policy.counts_calls_of(tool), "{tool}");
        }
        for tool in ["read", "unknown", ""] {
            assert!(!policy.counts_calls_of(tool), "{tool}");
        }
    }

    /// A policy whose `calls(...)` sit in one place each: an allow of workflow `w` (push), a
    /// top-level deny (ci.run), an entitlement (deploy) and a deny-start (never for calls).
    fn readers_policy() -> crate::Policy {
        use crate::ir::{CallsIr, CmpOp, Operand};
        use crate::testing::{Ir, cmp, i};
        let mut ir = Ir::new("p.writ");
        ir.role("dev", &[]);
        for tool in ["read", "push", "ci.run", "deploy"] {
            ir.tool(tool, &[], &[]);
        }
        ir.workflow("w", 1, 3600).workflow("v", 1, 3600);
        let calls = |ir: &Ir, target: &str| {
            Operand::Calls(CallsIr {
                target: ir.target(target),
                glob: None,
                within_seconds: Some(60),
            })
        };
        let fewer = |ir: &Ir, target: &str| Some(cmp(CmpOp::Lt, calls(ir, target), i(2)));
        let push = fewer(&ir, "push");
        let ci = fewer(&ir, "ci.run");
        let deploy = fewer(&ir, "deploy");
        let start = fewer(&ir, "read");
        ir.may((1, 1), "may read", "dev", "read", None)
            .may((2, 1), "may push", "dev", "push", None)
            .may((3, 1), "may ci.run", "dev", "ci.run", None)
            .may((4, 1), "may deploy when calls(deploy within 1m) < 2", "dev", "deploy", deploy);
        for w in ["w", "v"] {
            ir.allow((5, 1), "allow read", w, "read", None, vec![])
                .allow((6, 1), "allow ci.run", w, "ci.run", None, vec![])
                .allow((7, 1), "allow deploy", w, "deploy", None, vec![]);
        }
        ir.allow((8, 1), "allow push when calls(push within 1m) < 2", "w", "push", push, vec![])
            .allow((9, 1), "allow push", "v", "push", None, vec![])
            .deny((10, 1), "deny ci.run when calls(ci.run within 1m) < 2", None, "ci.run", ci, None)
            .deny_start((11, 1), "deny start when calls(read within 1m) < 2", None, start, None);
        ir.policy()
    }

    /// Whether a call's decision can read the history: by the rules that apply to it.
    #[test]
    fn history_readers_are_the_rules_that_apply_to_the_call() {
        let policy = readers_policy();
        let reads = |w: &str, t: &str| policy.call_reads_history(w, t);
        assert!(reads("w", "push"), "w's own allow counts pushes");
        assert!(!reads("v", "push"), "v's allow of push counts nothing");
        assert!(reads("w", "ci.run") && reads("v", "ci.run"), "a top-level deny applies to all");
        assert!(reads("w", "deploy") && reads("v", "deploy"), "the entitlement applies to all");
        assert!(!reads("w", "read") && !reads("v", "read"), "a deny-start never applies to calls");
        assert!(reads("w", "undeclared") && reads("nowhere", "read"), "undeclared: it may");
    }

    fn decide_with(policy: &crate::Policy, workflow: &str, tool: &str, history: &str) -> String {
        let json = format!(
            r#"{{"action": "call", "workflow": "{workflow}", "tool": "{tool}", "args": {{}},
               "chain": [{{"id": "d", "kind": "human", "roles": ["dev"]}}, {{"id": "a", "kind": "agent"}}],
               "time": "2026-12-02T16:00:00Z"{history}}}"#
        );
        match crate::Request::from_json(&json) {
            Ok(request) => policy.decide(&request).to_json(),
            Err(e) => panic!("{e}"),
        }
    }

    proptest! {
        /// The law a gateway relies on: when `call_reads_history` says no, every history (and
        /// none at all) gives the same decision.
        #[test]
        fn a_call_that_reads_no_history_is_decided_alike_for_every_history(
            h in prop::collection::vec(
                (prop::sample::select(vec!["push", "ci.run", "deploy", "read"]),
                 proptest::option::weighted(0.9, -90i64..5)),
                0..6,
            ),
            workflow in prop::sample::select(vec!["w", "v"]),
            tool in prop::sample::select(vec!["read", "push", "ci.run", "deploy"]),
        ) {
            let policy = readers_policy();
            let entries: Vec<String> = h
                .iter()
                .map(|(tool, seconds)| {
                    let base = at("2026-12-02T16:00:00Z").map_or(0, Timestamp::as_unix_nanos);
                    let at = seconds
                        .and_then(|s| Timestamp::from_unix_nanos(base + i128::from(s) * NANOS))
                        .map_or(String::new(), |t| format!(r#", "at": "{t}""#));
                    format!(r#"{{"tool": "{tool}"{at}}}"#)
                })
                .collect();
            let with = format!(r#", "history": [{}]"#, entries.join(", "));
            let without = decide_with(&policy, workflow, tool, "");
            let empty = decide_with(&policy, workflow, tool, r#", "history": []"#);
            let full = decide_with(&policy, workflow, tool, &with);
            if !policy.call_reads_history(workflow, tool) {
                prop_assert_eq!(&without, &full);
                prop_assert_eq!(&empty, &full);
            }
        }
    }

    fn at(text: &str) -> Option<Timestamp> {
        Timestamp::parse(text).ok()
    }

    fn entry(tool: &str, when: Option<&str>) -> HistoryEntry<'static> {
        HistoryEntry { tool: tool.to_owned().into(), at: when.and_then(at) }
    }

    fn both(
        history: Option<&[HistoryEntry]>,
        now: Option<Timestamp>,
        within: Option<i64>,
        tool: &str,
    ) -> Option<i64> {
        let fast = count_calls(history, now, within, |t| t == tool);
        let plain = count_calls_reference(history, now, within, |t| t == tool);
        assert_eq!(fast, plain, "the two versions differ");
        fast
    }

    const HOUR: Option<i64> = Some(3600);

    #[test]
    fn no_history_is_unknown() {
        let now = at("2026-12-02T16:00:00Z");
        assert_eq!(both(None, now, None, "deploy"), None);
        assert_eq!(both(None, now, HOUR, "deploy"), None);
        assert_eq!(both(Some(&[]), now, None, "deploy"), Some(0));
        assert_eq!(both(Some(&[]), now, HOUR, "deploy"), Some(0));
    }

    #[test]
    fn the_whole_run_needs_no_time_and_no_at() {
        let h = [entry("secrets.get", None), entry("fs.read", None), entry("secrets.get", None)];
        assert_eq!(both(Some(&h), None, None, "secrets.get"), Some(2));
        assert_eq!(both(Some(&h), None, None, "deploy"), Some(0));
    }

    #[test]
    fn a_window_needs_time() {
        let h = [entry("deploy", Some("2026-12-02T15:30:00Z"))];
        assert_eq!(both(Some(&h), None, HOUR, "deploy"), None);
        assert_eq!(both(Some(&[]), None, HOUR, "deploy"), None);
    }

    #[test]
    fn a_window_needs_at_on_matching_entries_only() {
        let now = at("2026-12-02T16:00:00Z");
        let h = [entry("fs.read", None), entry("secrets.get", Some("2026-12-02T15:30:00Z"))];
        assert_eq!(both(Some(&h), now, HOUR, "secrets.get"), Some(1));
        assert_eq!(both(Some(&h), now, HOUR, "fs.read"), None);
    }

    #[test]
    fn the_window_is_open_before_and_closed_at_now() {
        let now = at("2026-12-02T16:00:00Z");
        let h = [
            entry("deploy", Some("2026-12-02T15:00:00Z")), // exactly an hour before: out
            entry("deploy", Some("2026-12-02T15:00:00.000000001Z")), // in
            entry("deploy", Some("2026-12-02T16:00:00Z")), // now: in
            entry("deploy", Some("2026-12-02T16:00:00.000000001Z")), // after now: out
            entry("deploy", Some("2026-12-02T17:00:00+01:00")), // now, with an offset: in
            entry("deploy", Some("2026-12-02T14:59:59Z")), // out
        ];
        assert_eq!(both(Some(&h), now, HOUR, "deploy"), Some(3));
        assert_eq!(both(Some(&h), now, None, "deploy"), Some(6));
        assert_eq!(both(Some(&h), now, Some(0), "deploy"), Some(0), "an empty window");
        assert_eq!(both(Some(&h), now, Some(-5), "deploy"), Some(0));
        assert_eq!(both(Some(&h), now, Some(i64::MAX), "deploy"), Some(5));
        assert_eq!(both(Some(&h), now, Some(i64::MIN), "deploy"), Some(0));
    }

    #[test]
    fn the_examples_of_the_corpus() {
        let now = at("2026-12-02T16:00:00Z");
        let day = Some(86_400);
        let h = [
            entry("deploy", Some("2026-12-02T09:00:00Z")),
            entry("deploy", Some("2026-12-02T12:00:00Z")),
            entry("deploy", Some("2026-12-01T16:00:00Z")),
        ];
        assert_eq!(both(Some(&h), now, day, "deploy"), Some(2), "exactly 24h before is outside");
        let h = [
            entry("secrets.get", Some("2026-12-02T15:00:00.5Z")),
            entry("secrets.get", Some("2026-12-02T15:50:00Z")),
        ];
        assert_eq!(both(Some(&h), now, HOUR, "secrets.get"), Some(2), "fractions of a second");
    }

    #[test]
    fn matches_is_called_once_per_entry() {
        let h = vec![entry("a", Some("2026-12-02T15:30:00Z")); 10];
        let mut calls = 0;
        let n = count_calls(Some(&h), at("2026-12-02T16:00:00Z"), HOUR, |_| {
            calls += 1;
            true
        });
        assert_eq!((n, calls), (Some(10), 10));
    }

    /// 1,000 entries in well under 20 µs: measured in release builds only (`cargo test
    /// --release -p writ-evaluator history -- --ignored --nocapture`).
    #[test]
    #[ignore = "a timing, meaningful in release builds"]
    fn a_thousand_entries_are_fast() {
        let now = at("2026-12-02T16:00:00Z");
        let h: Vec<HistoryEntry<'static>> = (0..1000)
            .map(|i| HistoryEntry {
                tool: if i % 3 == 0 { "deploy".into() } else { "fs.read".into() },
                at: now
                    .and_then(|t| Timestamp::from_unix_nanos(t.as_unix_nanos() - i * NANOS * 60)),
            })
            .collect();
        let rounds = 10_000u32;
        let start = std::time::Instant::now();
        let mut total = 0;
        for _ in 0..rounds {
            total +=
                count_calls(Some(std::hint::black_box(&h)), now, Some(86_400), |t| t == "deploy")
                    .unwrap_or(0);
        }
        let each = start.elapsed() / rounds;
        eprintln!("1,000 entries: {each:?} per count ({total})");
        assert!(each < std::time::Duration::from_micros(20), "{each:?}");
    }

    fn history() -> impl Strategy<Value = Vec<HistoryEntry<'static>>> {
        let base = at("2026-12-02T16:00:00Z").map_or(0, Timestamp::as_unix_nanos);
        prop::collection::vec(
            (
                prop::sample::select(vec!["a", "b", "c"]),
                proptest::option::weighted(0.9, -7_200i64..7_200),
                0i32..3,
            )
                .prop_map(move |(tool, offset, nanos)| HistoryEntry {
                    tool: tool.to_owned().into(),
                    at: offset.and_then(|s| {
                        Timestamp::from_unix_nanos(
                            base + i128::from(s) * NANOS + i128::from(nanos) - 1,
                        )
                    }),
                }),
            0..12,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

        /// The one-pass count and the plain one agree, on every target, window and time.
        #[test]
        fn the_fast_count_is_the_plain_count(
            h in proptest::option::weighted(0.9, history()),
            now in proptest::option::weighted(0.9, -3_600i64..3_600),
            within in proptest::option::of(prop_oneof![
                8 => 0i64..7_200,
                1 => Just(-1i64),
                1 => Just(i64::MAX),
            ]),
            targets in prop::sample::subsequence(vec!["a", "b", "c"], 0..3),
        ) {
            let base = at("2026-12-02T16:00:00Z").map_or(0, Timestamp::as_unix_nanos);
            let now = now.and_then(|s| Timestamp::from_unix_nanos(base + i128::from(s) * NANOS));
            let matches = |t: &str| targets.contains(&t);
            prop_assert_eq!(
                count_calls(h.as_deref(), now, within, matches),
                count_calls_reference(h.as_deref(), now, within, matches)
            );
        }
    }
}

/// How much of a run's history a policy can ever read: what a gateway that records history must
/// keep (and may drop the rest of).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryHorizon {
    /// No rule reads `calls(...)`: the gateway need keep nothing.
    Nothing,
    /// Every `calls(...)` is windowed; the longest window is this many seconds. Entries older
    /// than that (before `time - seconds`) can never count again.
    Seconds(i64),
    /// Some `calls(...)` has no window: every entry of the run counts, for as long as the run
    /// lasts.
    WholeRun,
}

impl HistoryHorizon {
    fn widen(self, other: HistoryHorizon) -> HistoryHorizon {
        use HistoryHorizon::*;
        match (self, other) {
            (WholeRun, _) | (_, WholeRun) => WholeRun,
            (Seconds(a), Seconds(b)) => Seconds(a.max(b)),
            (Seconds(a), Nothing) | (Nothing, Seconds(a)) => Seconds(a),
            (Nothing, Nothing) => Nothing,
        }
    }
}

/// The [`HistoryHorizon`] of a policy: the widest over every `calls(...)` in every condition
/// (entitlements, starts, allows, denies, deny-starts, `require ... for`, guardrails). A built
/// [`crate::Policy`] carries it ([`crate::Policy::history_horizon`]).
pub fn history_horizon(ir: &crate::ir::PolicyIr) -> HistoryHorizon {
    let mut horizon = HistoryHorizon::Nothing;
    each_calls(ir, |calls| {
        horizon = horizon.widen(match calls.within_seconds {
            Some(seconds) => HistoryHorizon::Seconds(seconds.max(0)),
            None => HistoryHorizon::WholeRun,
        });
        horizon != HistoryHorizon::WholeRun
    });
    horizon
}

/// Which tools' calls a policy can ever count: the tools of every `calls(...)` target, and, for
/// a glob target, any name the glob matches. A gateway that records a run's history need record
/// only these calls: no condition of the policy can count another ([`crate::Policy::counts_calls_of`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct CountedCalls {
    /// By tool id.
    tools: Box<[bool]>,
    /// The glob targets, which also count tools the policy does not declare.
    globs: Box<[crate::Glob]>,
}

impl CountedCalls {
    /// Walks every condition of `ir`.
    pub fn of(ir: &crate::ir::PolicyIr) -> CountedCalls {
        let mut tools = vec![false; ir.tools.len()];
        let mut globs: Vec<crate::Glob> = Vec::new();
        each_calls(ir, |calls| {
            for &tool in &calls.target.tools {
                if let Some(counted) = tools.get_mut(tool.index()) {
                    *counted = true;
                }
            }
            if let Some(glob) = &calls.glob
                && !globs.iter().any(|g| g.as_str() == glob.as_str())
            {
                globs.push(crate::Glob::new(glob));
            }
            true
        });
        CountedCalls { tools: tools.into(), globs: globs.into() }
    }

    /// Whether a call of `tool` (declared as `id`, or not declared) can count.
    pub fn counts(&self, id: Option<crate::ir::ToolId>, tool: &str) -> bool {
        id.and_then(|id| self.tools.get(id.index())).copied().unwrap_or(false)
            || self.globs.iter().any(|g| g.is_match(tool))
    }
}

/// Which calls' decisions read the run's history: a call of tool `T` in workflow `W` reads it
/// when some condition that can be evaluated for it has a `calls(...)` — a condition of `W`'s
/// own allows, denies or require-fors that target `T`, of a top-level deny or require-for that
/// targets `T`, or of an entitlement (`may`) that targets `T` (delegation checks every link's
/// roles). A gateway may decide any other call without the run's history: no history can
/// change its decision ([`crate::Policy::call_reads_history`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct HistoryReaders {
    /// By tool: a top-level rule or an entitlement that targets the tool counts calls.
    everywhere: Box<[bool]>,
    /// By workflow: the tools (sorted, no duplicates) that a rule of the workflow's own which
    /// counts calls targets.
    by_workflow: Box<[Box<[crate::ir::ToolId]>]>,
}

impl HistoryReaders {
    /// Walks every rule of `ir` that applies to calls.
    pub fn of(ir: &crate::ir::PolicyIr) -> HistoryReaders {
        let mut everywhere = vec![false; ir.tools.len()];
        let mut mark = |tools: &[crate::ir::ToolId]| {
            for &tool in tools {
                if let Some(reads) = everywhere.get_mut(tool.index()) {
                    *reads = true;
                }
            }
        };
        let guardrails = call_rules(&ir.guardrails);
        let entitlements = ir
            .roles
            .iter()
            .flat_map(|r| &r.entitlements)
            .map(|e| (&e.target.tools[..], e.condition.as_ref()));
        for (tools, condition) in guardrails.chain(entitlements) {
            if condition.is_some_and(counts_calls) {
                mark(tools);
            }
        }
        let by_workflow = ir
            .workflows
            .iter()
            .map(|w| {
                let allows = w.allows.iter().map(|r| (&r.target.tools[..], r.condition.as_ref()));
                let mut tools: Vec<crate::ir::ToolId> = call_rules(&w.rules)
                    .chain(allows)
                    .filter(|(_, condition)| condition.is_some_and(counts_calls))
                    .flat_map(|(tools, _)| tools.iter().copied())
                    .collect();
                tools.sort_unstable();
                tools.dedup();
                tools.into()
            })
            .collect();
        HistoryReaders { everywhere: everywhere.into(), by_workflow }
    }

    /// Whether deciding a call of `tool` in `workflow` can read the run's history. A workflow
    /// or tool the policy does not declare reads it (the answer a gateway can always trust).
    pub fn reads(
        &self,
        workflow: Option<crate::ir::WorkflowId>,
        tool: Option<crate::ir::ToolId>,
    ) -> bool {
        let (Some(workflow), Some(tool)) = (workflow, tool) else { return true };
        let everywhere = self.everywhere.get(tool.index()).copied().unwrap_or(true);
        let own = self
            .by_workflow
            .get(workflow.index())
            .is_none_or(|tools| tools.binary_search(&tool).is_ok());
        everywhere || own
    }
}

/// The denies and require-fors of `set` (the rules that apply to calls), as (target, condition).
fn call_rules(
    set: &crate::ir::RuleSetIr,
) -> impl Iterator<Item = (&[crate::ir::ToolId], Option<&crate::ir::Cond>)> {
    let denies = set.denies.iter().map(|r| (&r.target.tools[..], r.condition.as_ref()));
    denies.chain(set.requires.iter().map(|r| (&r.target.tools[..], r.condition.as_ref())))
}

/// Whether `condition` has a `calls(...)` anywhere.
fn counts_calls(condition: &crate::ir::Cond) -> bool {
    let mut found = false;
    each_calls_in([condition], |_| {
        found = true;
        false
    });
    found
}

/// Calls `visit` on every `calls(...)` in every condition of `ir`, until it returns false.
fn each_calls(ir: &crate::ir::PolicyIr, visit: impl FnMut(&crate::ir::CallsIr) -> bool) {
    use crate::ir::{Cond, RuleSetIr};
    fn rules(set: &RuleSetIr) -> impl Iterator<Item = &Option<Cond>> {
        let denies = set.denies.iter().map(|r| &r.condition);
        let deny_starts = set.deny_starts.iter().map(|r| &r.condition);
        denies.chain(deny_starts).chain(set.requires.iter().map(|r| &r.condition))
    }
    let roles = ir.roles.iter().flat_map(|r| &r.entitlements).map(|e| &e.condition);
    let workflows = ir.workflows.iter().flat_map(|w| {
        let starts = w.starts.iter().map(|r| &r.condition);
        let allows = w.allows.iter().map(|r| &r.condition);
        rules(&w.rules).chain(starts).chain(allows)
    });
    each_calls_in(rules(&ir.guardrails).chain(roles).chain(workflows).flatten(), visit);
}

/// Calls `visit` on every `calls(...)` in `conditions`, until it returns false.
///
/// Iterative, so that a deep IR cannot overflow the stack here (the policy builder bounds depth
/// after it runs, and rejects a deeper IR).
fn each_calls_in<'c>(
    conditions: impl IntoIterator<Item = &'c crate::ir::Cond>,
    mut visit: impl FnMut(&crate::ir::CallsIr) -> bool,
) {
    use crate::ir::{Cond, Operand};
    let mut stack: Vec<&Cond> = conditions.into_iter().collect();
    while let Some(c) = stack.pop() {
        let operands: [Option<&Operand>; 2] = match c {
            Cond::Truth(a)
            | Cond::Matches(a, _)
            | Cond::AnyMatches(a, _)
            | Cond::AllMatches(a, _)
            | Cond::Runs(a, _)
            | Cond::RunsOnly(a, _)
            | Cond::Under(a, _) => [Some(a), None],
            Cond::Compare(_, a, b) | Cond::In(a, b) | Cond::Contains(a, b) => [Some(a), Some(b)],
            Cond::HasRole(..) => [None, None],
            Cond::Not(inner) => {
                stack.push(inner);
                [None, None]
            }
            Cond::And(items) | Cond::Or(items) => {
                stack.extend(items.iter());
                [None, None]
            }
        };
        for operand in operands.into_iter().flatten() {
            if let Operand::Calls(calls) = operand
                && !visit(calls)
            {
                return;
            }
        }
    }
}
