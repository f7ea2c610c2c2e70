//! Formatting never changes meaning: on every shipped example, the formatted policy lowers to
//! the same rules (modulo layout) and decides every request and test exactly as the original.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use std::path::{Path, PathBuf};

use writ_compiler::Compiler;
use writ_evaluator::{Policy, Request};

fn examples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| if p.join("policy").is_dir() { p.join("policy") } else { p.join("policy.writ") })
        // `examples/embed` is a Rust program, not a policy.
        .filter(|p| p.exists())
        .collect();
    out.sort();
    out
}

fn requests_for(policy: &Path) -> Vec<String> {
    let dir = policy.parent().unwrap();
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("requests")) {
        for e in entries {
            out.push(std::fs::read_to_string(e.unwrap().path()).unwrap());
        }
    }
    if let Ok(text) = std::fs::read_to_string(dir.join("requests.jsonl")) {
        out.extend(text.lines().filter(|l| !l.trim().is_empty()).map(str::to_string));
    }
    out
}

fn without_hash(mut d: serde_json::Value) -> serde_json::Value {
    d.as_object_mut().unwrap().remove("policy");
    d
}

#[test]
fn formatting_preserves_every_decision_on_the_examples() {
    for path in examples() {
        let files = writ_compiler::load(&path).unwrap();
        let formatted: Vec<(String, String)> = files
            .iter()
            .map(|(p, t)| (p.clone(), writ_grammar::format(t).expect("examples parse")))
            .collect();
        let original = Compiler::new(files);
        let reformatted = Compiler::new(formatted);
        let a = original.compilation();
        let b = reformatted.compilation();
        let policy_a = Policy::from_ir(a.policy.clone().unwrap()).unwrap();
        let policy_b = Policy::from_ir(b.policy.clone().unwrap()).unwrap();
        let mut requests = requests_for(&path);
        assert_eq!(a.tests.len(), b.tests.len());
        for (ta, tb) in a.tests.iter().zip(&b.tests) {
            assert_eq!(ta.name, tb.name);
            for (ea, eb) in ta.expectations.iter().zip(&tb.expectations) {
                assert_eq!(ea.request, eb.request, "{}", ea.text);
                requests.push(ea.request.clone());
            }
        }
        assert!(requests.len() > 5, "{} has requests to compare", path.display());
        for text in requests {
            let Ok(request) = Request::from_json(&text) else { continue };
            assert_eq!(
                without_hash(policy_a.decide(&request).to_value()),
                without_hash(policy_b.decide(&request).to_value()),
                "{} on {text}",
                path.display()
            );
        }
    }
}
