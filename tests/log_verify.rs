//! `writ log verify` end to end: a log of real decisions verifies; altered, deleted, inserted
//! and reordered lines fail naming the line; `--last` catches a cut tail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use common::{Run, root, writ};

use std::path::{Path, PathBuf};

use writ_evaluator::log::DecisionLog;
use writ_evaluator::{Policy, Request};

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("writ-log-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The example requests of coding-agents, decided and logged.
fn example_log() -> Vec<String> {
    let path = root().join("examples/coding-agents/policy");
    let compiler = writ_compiler::Compiler::new(writ_compiler::load(&path).unwrap());
    let ir = compiler.compilation().policy.clone().expect("the example compiles");
    let policy = Policy::from_ir(ir).unwrap();
    let requests =
        std::fs::read_to_string(root().join("examples/coding-agents/requests.jsonl")).unwrap();
    let mut log = DecisionLog::new(Vec::new());
    for line in requests.lines().filter(|l| !l.trim().is_empty()) {
        // The example holds malformed requests too: those are errors, not decisions.
        let Ok(request) = Request::from_json(line) else { continue };
        let decision = policy.decide(&request);
        log.record(&request, &decision, policy.hash()).unwrap();
    }
    String::from_utf8(log.into_inner()).unwrap().lines().map(String::from).collect()
}

fn write(dir: &Path, name: &str, lines: &[String]) -> String {
    let path = dir.join(name);
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn verify_intact_and_tampered_logs() {
    let dir = tempdir("verify");
    let lines = example_log();
    assert!(lines.len() >= 4, "the example has requests");
    let good = write(&dir, "good.jsonl", &lines);

    let Run { code, stdout, stderr } = writ(&["log", "verify", &good]);
    assert_eq!(code, 0, "{stderr}");
    let last = stdout.lines().nth(1).unwrap().strip_prefix("last: ").unwrap().to_string();
    assert!(last.starts_with("sha256:"));
    let Run { code, stdout, .. } = writ(&["log", "verify", &good, "--last", &last]);
    assert_eq!(code, 0);
    assert!(stdout.contains("ends at the expected line"));
    let Run { code, stdout, .. } = writ(&["log", "verify", &good, "--format", "json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["lines"], lines.len());
    assert_eq!(json["last"], last.as_str());

    // Altered: a deny turned into an allow.
    let mut altered = lines.clone();
    let i = altered.iter().position(|l| l.contains("\"decision\":\"deny\"")).unwrap();
    assert!(i + 1 < altered.len(), "a deny before the last line");
    altered[i] = altered[i].replace("\"decision\":\"deny\"", "\"decision\":\"allow\"");
    let path = write(&dir, "altered.jsonl", &altered);
    let Run { code, stderr, .. } = writ(&["log", "verify", &path]);
    assert_eq!(code, 1);
    assert!(stderr.contains(&format!("line {}: `prev` is", i + 2)), "{stderr}");
    assert!(stderr.contains(&format!("line {} was altered", i + 1)), "{stderr}");

    let mut deleted = lines.clone();
    deleted.remove(1);
    let path = write(&dir, "deleted.jsonl", &deleted);
    let Run { code, stderr, .. } = writ(&["log", "verify", &path]);
    assert_eq!(code, 1);
    assert!(stderr.contains("line 2:"), "{stderr}");

    let mut inserted = lines.clone();
    inserted.insert(2, lines[0].clone());
    let path = write(&dir, "inserted.jsonl", &inserted);
    let Run { code, stderr, .. } = writ(&["log", "verify", &path]);
    assert_eq!(code, 1);
    assert!(stderr.contains("line 3:"), "{stderr}");

    let mut reordered = lines.clone();
    reordered.swap(1, 2);
    let path = write(&dir, "reordered.jsonl", &reordered);
    let Run { code, stdout, .. } = writ(&["log", "verify", &path, "--format", "json"]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["line"], 2);

    // A cut tail: the chain is intact, only the kept hash tells.
    let mut cut = lines.clone();
    cut.pop();
    let path = write(&dir, "cut.jsonl", &cut);
    assert_eq!(writ(&["log", "verify", &path]).code, 0);
    let Run { code, stderr, .. } = writ(&["log", "verify", &path, "--last", &last]);
    assert_eq!(code, 1);
    assert!(stderr.contains("does not end with the expected line"), "{stderr}");

    let Run { code, stderr, .. } =
        writ(&["log", "verify", &dir.join("missing.jsonl").display().to_string()]);
    assert_eq!(code, 2);
    assert!(stderr.starts_with("error: cannot read log"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
