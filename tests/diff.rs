//! `writ diff`: reach changes per role and decision changes on recorded requests, checked
//! against a hand-made change of the coding-agents example (tests/fixtures/diff/widened:
//! maintainers may now deploy anywhere, production deploys need one approval instead of two,
//! and the feature agent may fetch from one more registry).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use std::path::PathBuf;
use std::process::Command;

fn writ(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(args)
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

const OLD: &str = "examples/coding-agents/policy";
const NEW: &str = "tests/fixtures/diff/widened";

#[test]
fn reach_changes_per_role() {
    let (code, stdout) = writ(&["diff", OLD, NEW, "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["widened"], true);
    let changes = v["reach"].as_array().unwrap();
    let find = |role: &str, tool: &str| {
        changes.iter().find(|c| c["role"] == role && c["tool"] == tool).cloned()
    };
    // Maintainers could only deploy to staging; now also to production, with one approval.
    let m = find("maintainer", "deploy").expect("maintainer's deploy changed");
    assert_eq!(m["change"], "changed");
    assert!(!m["before"].as_str().unwrap().contains("prod"));
    assert!(
        m["after"]
            .as_str()
            .unwrap()
            .contains("env == \"prod\" requires approval by release_captain")
    );
    // Release captains keep production, with fewer approvals.
    let r = find("release_captain", "deploy").unwrap();
    assert!(r["before"].as_str().unwrap().contains("2 approval by release_captain"));
    assert!(!r["after"].as_str().unwrap().contains("2 approval"));
    // Developers never reach deploy, before or after.
    assert!(find("developer", "deploy").is_none());
    assert!(
        find("developer", "pkg.fetch").unwrap()["after"].as_str().unwrap().contains("pypi.org")
    );
    assert_eq!(changes.len(), 5, "{stdout}");
}

#[test]
fn recorded_requests_whose_decision_changes() {
    let (code, stdout) =
        writ(&["diff", OLD, NEW, "--requests", "examples/coding-agents/requests.jsonl"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("requests: 6 decided, 1 changed, 1 malformed skipped"), "{stdout}");
    assert!(stdout.contains("line 6: pending (missing approval) -> allow"), "{stdout}");
    insta::assert_snapshot!(stdout);
}

#[test]
fn markdown_for_pull_requests() {
    let (_, stdout) = writ(&["diff", OLD, NEW, "--format", "markdown"]);
    assert!(stdout.contains("| role | change | workflow | tool | before | after |"));
    assert!(stdout.contains("**Reach widened**"));
    insta::assert_snapshot!(stdout);
}

#[test]
fn fail_on_widen() {
    assert_eq!(writ(&["diff", OLD, NEW, "--fail-on-widen"]).0, 1);
    // The reverse change narrows, but writ cannot prove that a changed condition is narrower,
    // so changed conditions count as widening (a reviewer looks at them).
    let (code, stdout) = writ(&["diff", NEW, OLD, "--fail-on-widen", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["widened"], true, "changed conditions count as widening: {stdout}");
    assert_eq!(code, 1);
    let (code, stdout) = writ(&["diff", OLD, OLD, "--fail-on-widen"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("no role's reach changed"));
}

/// Version 2 conditions in reach changes and replayed decisions: a `runs only` list that admits
/// one more program and a removed `under` deny are widenings, shown in writ syntax.
#[test]
fn commands_and_paths_widen() {
    let (old, new) = ("tests/fixtures/v2/policy.writ", "tests/fixtures/v2-widened/policy.writ");
    let (code, stdout) = writ(&["diff", old, new, "--fail-on-widen", "--format", "json"]);
    assert_eq!(code, 1, "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["widened"], true);
    let changes = v["reach"].as_array().unwrap();
    let tool = |name: &str| changes.iter().find(|c| c["tool"] == name).cloned();
    let sh = tool("sh.run").expect("sh.run changed");
    assert!(sh["after"].as_str().unwrap().contains(r#"["git", "push", ...]"#), "{sh}");
    let fs = tool("fs.read").expect("fs.read changed");
    assert!(fs["before"].as_str().unwrap().contains(r#"not (file under ".env")"#), "{fs}");
    assert!(!fs["after"].as_str().unwrap().contains(".env"), "{fs}");
    assert!(tool("deploy").is_none(), "deploy did not change: {stdout}");
    let (code, stdout) =
        writ(&["diff", old, new, "--requests", "tests/fixtures/v2/requests.jsonl"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!(stdout);
}
