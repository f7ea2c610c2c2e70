//! The conformance corpus of LANGUAGE.md (copied into `tests/conformance/`), against the two
//! policies lowered by hand in [`crate::testing`].

use std::collections::BTreeSet;

use crate::request::Request;
use crate::testing::{Ir, edges, engineering};

const EDGES: &str = include_str!("../tests/conformance/edges/cases.jsonl");
const ENGINEERING: &str = include_str!("../tests/conformance/engineering/cases.jsonl");

fn run(corpus: &str, ir: Ir, cases: &str) -> usize {
    let policy = ir.policy();
    let mut failures = Vec::new();
    let mut count = 0;
    for line in cases.lines().filter(|l| !l.trim().is_empty()) {
        count += 1;
        let case: serde_json::Value = serde_json::from_str(line).expect("case is JSON");
        let name = case["name"].as_str().unwrap_or("?");
        let expect = &case["expect"];
        let text = case["request"].to_string();
        let request = match Request::from_json(&text) {
            Ok(request) => request,
            // A malformed request is an error, never a decision (the shape errors of §7).
            Err(_) if expect["decision"] == "error" => continue,
            Err(e) => panic!("{corpus}: {name}: request does not decode: {e}"),
        };
        assert_ne!(expect["decision"], "error", "{corpus}: {name}: a malformed request decoded");
        let decision = policy.decide(&request);
        let (explained, trace) = policy.decide_explained(&request);
        assert_eq!(decision, explained, "{corpus}: {name}: decide and decide_explained differ");
        assert!(!trace.steps.is_empty());

        let mut ok = decision.decision.as_str() == expect["decision"].as_str().unwrap_or("");
        let want: BTreeSet<&str> = expect["missing"]
            .as_array()
            .map(|m| m.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let got: BTreeSet<&str> = decision.missing.iter().map(|m| &*m.evidence).collect();
        ok &= want == got;
        if let Some(ttl) = expect.get("ttl_seconds") {
            ok &= serde_json::json!(decision.ttl_seconds) == *ttl;
        }
        if !ok {
            failures.push(format!(
                "{corpus}: {name}\n  expected {expect}\n  got      {}\n{trace}",
                decision.to_json()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    count
}

#[test]
fn edges_corpus() {
    assert_eq!(run("edges", edges(), EDGES), 45);
}

#[test]
fn engineering_corpus() {
    assert_eq!(run("engineering", engineering(), ENGINEERING), 60);
}

#[test]
fn conformance_policies_lower_cleanly() {
    for ir in [edges(), engineering()] {
        let policy = ir.policy();
        assert_eq!(policy.hash(), "sha256:test");
        assert_eq!(policy.ir(), &ir.ir);
    }
}

/// `tests/conformance/*/ir.json` hold the hand-lowered IRs, for the integration tests (which
/// see only the public API) and as a reference for the compiler's lowering. Regenerate with
/// `WRIT_BLESS_IR=1 cargo test -p writ-evaluator ir_fixtures`.
#[test]
fn ir_fixtures_are_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    for (name, ir) in [("edges", edges()), ("engineering", engineering())] {
        let path = dir.join(name).join("ir.json");
        let text = serde_json::to_string_pretty(&ir.ir).expect("IR serializes") + "\n";
        if std::env::var_os("WRIT_BLESS_IR").is_some() {
            std::fs::write(&path, &text).expect("write IR fixture");
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            stored == text,
            "{} is stale: run WRIT_BLESS_IR=1 cargo test -p writ-evaluator ir_fixtures",
            path.display()
        );
    }
}
