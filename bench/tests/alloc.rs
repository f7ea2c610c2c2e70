//! The allow path allocates nothing (the decision holds its one rule id inline, `RuleIds`), and
//! the other outcomes stay small; decoding a plain request allocates its lists only. Counted with the benchmark crate's counting allocator
//! (`writ_bench::counting`, the one place with `unsafe` code).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use writ_bench::counting::{Counting, allocations};
use writ_evaluator::ir::PolicyIr;
use writ_evaluator::{Outcome, Policy, Request};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn engineering() -> Policy {
    let ir: PolicyIr =
        serde_json::from_str(include_str!("../../evaluator/tests/conformance/engineering/ir.json"))
            .unwrap();
    Policy::from_ir(ir).unwrap()
}

#[test]
fn the_allow_path_allocates_nothing() {
    let policy = engineering();
    let requests = [
        // Evidence with distinct givers, a guardrail require-for evaluated, entitlement
        // through `extends`.
        r#"{"action": "call", "workflow": "release", "tool": "deploy",
            "args": {"env": "prod", "service": "api"},
            "chain": [{"id": "alice", "kind": "human", "roles": ["release_manager"], "attrs": {"team": "platform", "sub": "x"}},
                      {"id": "agent/1", "kind": "agent"}],
            "evidence": [{"kind": "approval", "by": {"id": "bob", "kind": "human", "roles": ["security_reviewer"]}},
                         {"kind": "approval", "by": {"id": "carol", "kind": "human", "roles": ["security_reviewer"]}},
                         {"kind": "tests_passed"}]}"#,
        // Globs, denies evaluated, a guardrail require-for applying at depth 2.
        r#"{"action": "call", "workflow": "dependency_bot", "tool": "repo.push",
            "args": {"repo": "web", "branch": "deps/serde", "files": ["Cargo.lock"]},
            "chain": [{"id": "erin", "kind": "human", "roles": ["engineer"]},
                      {"id": "agent/1", "kind": "agent"}, {"id": "agent/2", "kind": "agent"}],
            "evidence": [{"kind": "tests_passed"}, {"kind": "signed_commit"}]}"#,
        // A start with a condition on an attribute and a deny start.
        r#"{"action": "start", "workflow": "dependency_bot", "ttl": "30m",
            "chain": [{"id": "svc", "kind": "service", "roles": ["platform_service"], "attrs": {"team": "platform"}}]}"#,
    ];
    for text in requests {
        let request = Request::from_json(text).unwrap();
        let (decision, n) = allocations(|| policy.decide(&request));
        assert_eq!(decision.decision, Outcome::Allow, "{text}");
        assert_eq!(n, 0, "allocations on the allow path: {text}");
    }
}

#[test]
fn denies_allocate_little() {
    let policy = engineering();
    let request = Request::from_json(
        r#"{"action": "call", "workflow": "dependency_bot", "tool": "repo.push",
            "args": {"repo": "web", "branch": "main", "files": ["a"]},
            "chain": [{"id": "erin", "kind": "human", "roles": ["engineer"]}, {"id": "agent/1", "kind": "agent"}]}"#,
    )
    .unwrap();
    let (decision, n) = allocations(|| policy.decide(&request));
    assert_eq!(decision.decision, Outcome::Deny);
    assert!(n <= 4, "{n} allocations");
}

/// Decoding a plain request copies none of its strings (they borrow from the text): it
/// allocates its lists only, here the chain, one principal's roles, the arguments and one list
/// argument. With owned strings it made 15 allocations.
#[test]
fn decoding_allocates_only_the_lists() {
    let text = r#"{"action": "call", "workflow": "dependency_bot", "tool": "repo.push",
        "args": {"repo": "web", "branch": "main", "files": ["a"]},
        "chain": [{"id": "erin", "kind": "human", "roles": ["engineer"]}, {"id": "agent/1", "kind": "agent"}]}"#;
    let (request, n) = allocations(|| Request::from_json(text).unwrap());
    assert_eq!(request.chain.len(), 2);
    assert_eq!(n, 4, "allocations decoding a plain request");
    // Dropping it frees as much, and deciding reads it as it is.
    let (decision, _) = allocations(|| engineering().decide(&request));
    assert_eq!(decision.decision, Outcome::Deny);
}
