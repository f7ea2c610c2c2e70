//! The compiler lowers the conformance policies to exactly the IR that the evaluator's own
//! tests were written against (evaluator/tests/conformance/*/ir.json, lowered by hand from
//! LANGUAGE.md): rule ids, locations, targets, conditions and requirements.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use std::path::Path;

use writ_compiler::Compiler;
use writ_evaluator::ir::PolicyIr;

fn check(corpus: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text =
        std::fs::read_to_string(root.join("tests/conformance").join(corpus).join("policy.writ"))
            .unwrap();
    let compiler = Compiler::new(vec![("policy.writ".to_string(), text)]);
    let compilation = compiler.compilation();
    let errors: Vec<_> = compilation.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let mut ours = compilation.policy.clone().expect("a lowered policy");
    let expected: PolicyIr = serde_json::from_str(
        &std::fs::read_to_string(
            root.join("evaluator/tests/conformance").join(corpus).join("ir.json"),
        )
        .unwrap(),
    )
    .unwrap();
    ours.hash = expected.hash.clone();
    let ours = serde_json::to_string_pretty(&ours).unwrap();
    let expected = serde_json::to_string_pretty(&expected).unwrap();
    if ours != expected {
        for (i, (a, b)) in ours.lines().zip(expected.lines()).enumerate() {
            assert_eq!(a, b, "first difference at line {} of the IR JSON", i + 1);
        }
        assert_eq!(ours.lines().count(), expected.lines().count());
    }
}

#[test]
fn edges_lowers_as_specified() {
    check("edges");
}

#[test]
fn engineering_lowers_as_specified() {
    check("engineering");
}

/// The horizon a history store keeps is the widest `calls(...)` anywhere in the policy.
#[test]
fn history_horizon_is_the_widest_calls() {
    use writ_evaluator::history::{HistoryHorizon, history_horizon};
    let horizon = |rules: &str| {
        let text = format!(
            "tool deploy\ntool read\nrole dev {{ may deploy }}\nworkflow w {{\n  start by dev\n{rules}\n}}\n"
        );
        let compiler = Compiler::new(vec![("p.writ".to_string(), text)]);
        let ir = compiler.compilation().policy.clone().expect("a lowered policy");
        history_horizon(&ir)
    };
    assert_eq!(horizon("  allow deploy"), HistoryHorizon::Nothing);
    assert_eq!(
        horizon(
            "  allow deploy when calls(deploy within 24h) < 3\n  deny read when not (calls(read within 1m) < 9)"
        ),
        HistoryHorizon::Seconds(86_400)
    );
    assert_eq!(
        horizon("  allow deploy when calls(deploy within 1h) < 3 or calls(read) == 0"),
        HistoryHorizon::WholeRun
    );
}
