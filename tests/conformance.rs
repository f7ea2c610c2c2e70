//! The conformance corpus of the shared specification (copied into `tests/conformance/`, since
//! a fresh clone has no `../shared`), run through the `writ` binary exactly as the shared
//! runner does: `writ eval --policy DIR --requests FILE`, one decision per line. Every case's
//! decision, missing evidence kinds and ttl must match; the full decisions are snapshotted so
//! that changes to reasons and rule ids show up in review.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

fn run_corpus(name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance").join(name);
    let cases: Vec<Value> = std::fs::read_to_string(dir.join("cases.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let input: String = cases.iter().map(|c| format!("{}\n", c["request"])).collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(["eval", "--policy"])
        .arg(&dir)
        .args(["--requests", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), cases.len(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let mut failures = Vec::new();
    let mut snapshot = String::new();
    for (case, line) in cases.iter().zip(&lines) {
        let got: Value = serde_json::from_str(line).unwrap();
        let expect = &case["expect"];
        let missing: BTreeSet<&str> = got["missing"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["evidence"].as_str())
            .collect();
        let want: BTreeSet<&str> =
            expect["missing"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        // A malformed request is an error line (`{"error": ...}`), never a decision.
        let mut ok = if expect["decision"] == "error" {
            got["error"].is_string() && got.get("decision").is_none()
        } else {
            got["decision"] == expect["decision"] && missing == want
        };
        if let Some(ttl) = expect.get("ttl_seconds") {
            ok &= &got["ttl_seconds"] == ttl;
        }
        if !ok {
            failures.push(format!("{}: expected {expect}, got {got}", case["name"]));
        }
        snapshot.push_str(&format!("{}\n  {line}\n", case["name"].as_str().unwrap_or("")));
    }
    assert!(failures.is_empty(), "{} failing cases:\n{}", failures.len(), failures.join("\n"));
    insta::assert_snapshot!(format!("conformance_{name}"), snapshot);
    reference_agrees(&dir, &cases);
}

/// The reference evaluator, written from the specification alone, decides every case of the
/// corpus as the compiled evaluator does, decision for decision.
fn reference_agrees(dir: &std::path::Path, cases: &[Value]) {
    let compiler = writ_compiler::Compiler::new(writ_compiler::load(dir).unwrap());
    let ir = compiler.compilation().policy.clone().expect("the corpus policy compiles");
    let policy = writ_evaluator::Policy::from_ir(ir.clone()).unwrap();
    for case in cases {
        let text = case["request"].to_string();
        let Ok(request) = writ_evaluator::Request::from_json(&text) else {
            assert_eq!(case["expect"]["decision"], "error", "{}", case["name"]);
            continue;
        };
        let fast = policy.decide(&request);
        let reference = writ_evaluator::reference::decide(&ir, &request);
        assert_eq!(
            (fast.decision, &fast.missing, &fast.rules),
            (reference.decision, &reference.missing, &reference.rules),
            "{}: the reference evaluator disagrees",
            case["name"]
        );
    }
}

#[test]
fn conformance_edges() {
    run_corpus("edges");
}

#[test]
fn conformance_agents() {
    run_corpus("agents");
}

#[test]
fn conformance_engineering() {
    run_corpus("engineering");
}
