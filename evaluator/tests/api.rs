//! The public API end to end, as the CLI uses it: an IR (deserialized, as a bundle would carry
//! it) becomes a `Policy`; JSON lines become requests or errors; decisions print as JSON.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use writ_evaluator::ir::PolicyIr;
use writ_evaluator::{Outcome, Policy, Request};

fn policy(ir_json: &str) -> Policy {
    let ir: PolicyIr = serde_json::from_str(ir_json).expect("IR fixture");
    Policy::from_ir(ir).expect("valid IR")
}

/// What `writ eval --requests` prints for one input line.
fn eval_line(policy: &Policy, line: &str) -> String {
    match Request::from_json(line) {
        Ok(request) => policy.decide(&request).to_json(),
        Err(e) => serde_json::json!({"error": e.to_string()}).to_string(),
    }
}

#[test]
fn conformance_through_the_public_api() {
    for (ir, cases) in [
        (include_str!("conformance/edges/ir.json"), include_str!("conformance/edges/cases.jsonl")),
        (
            include_str!("conformance/engineering/ir.json"),
            include_str!("conformance/engineering/cases.jsonl"),
        ),
    ] {
        let policy = policy(ir);
        for line in cases.lines().filter(|l| !l.trim().is_empty()) {
            let case: serde_json::Value = serde_json::from_str(line).unwrap();
            let out: serde_json::Value =
                serde_json::from_str(&eval_line(&policy, &case["request"].to_string())).unwrap();
            if case["expect"]["decision"] == "error" {
                assert!(
                    out["error"].is_string() && out.get("decision").is_none(),
                    "{}",
                    case["name"]
                );
                continue;
            }
            assert_eq!(out["decision"], case["expect"]["decision"], "{}", case["name"]);
            let mut got: Vec<&str> = out["missing"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["evidence"].as_str().unwrap())
                .collect();
            let mut want: Vec<&str> = case["expect"]["missing"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap())
                .collect();
            got.sort_unstable();
            got.dedup();
            want.sort_unstable();
            assert_eq!(got, want, "{}", case["name"]);
            if let Some(ttl) = case["expect"].get("ttl_seconds") {
                assert_eq!(&out["ttl_seconds"], ttl, "{}", case["name"]);
            }
            assert_eq!(out["policy"], "sha256:test");
        }
    }
}

#[test]
fn malformed_requests_are_errors_not_decisions() {
    let policy = policy(include_str!("conformance/edges/ir.json"));
    let out = eval_line(
        &policy,
        r#"{"action": "call", "workflow": "w", "tool": "op.a", "chain": [{"id": "a", "kind": "robot"}]}"#,
    );
    assert_eq!(
        out,
        r#"{"error":"`chain[0].kind`: expected one of `human`, `service`, `agent`, found `robot`"}"#
    );
}

#[test]
fn explained_decisions_render() {
    let policy = policy(include_str!("conformance/engineering/ir.json"));
    let request = Request::from_json(
        r#"{"action": "call", "workflow": "release", "tool": "deploy",
            "args": {"env": "prod", "service": "api"},
            "chain": [{"id": "alice", "kind": "human", "roles": ["release_manager"]},
                      {"id": "agent/1", "kind": "agent"}]}"#,
    )
    .unwrap();
    let (decision, trace) = policy.decide_explained(&request);
    assert_eq!(decision.decision, Outcome::Pending);
    assert_eq!(decision, policy.decide(&request));
    let text = trace.to_string();
    assert!(text.contains("release/allow/2 (policy.writ:66:3)"), "{text}");
    assert!(text.contains("=> pending [release/allow/2]"), "{text}");
}
