//! `writ verify`: every output format, exit codes, and every counterexample checked again with
//! `writ eval`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use common::{Run, writ};

const POLICY: &str = "tests/fixtures/verify/policy.writ";

#[test]
fn human_report_shows_the_counterexample() {
    let Run { code, stdout, stderr } = writ(&["verify", POLICY]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains("3 hold, 1 fail, 0 unknown"), "{stdout}");
    insta::assert_snapshot!(stdout);
}

#[test]
fn json_report_is_one_object_per_claim_and_counterexamples_are_allowed() {
    let Run { code, stdout, .. } = writ(&["verify", POLICY, "--format", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let claims = v.as_array().unwrap();
    assert_eq!(claims.len(), 4);
    for c in claims {
        if c["result"] == "fails" {
            let file = std::env::temp_dir()
                .join(format!("writ-verify-counterexample-{}.json", std::process::id()));
            std::fs::write(&file, c["counterexample"].to_string()).unwrap();
            let Run { code, stdout: out, stderr: err } =
                writ(&["eval", "--policy", POLICY, "--request", file.to_str().unwrap()]);
            assert_eq!(code, 0, "{err}");
            let decided: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(decided["decision"], "allow", "{out}");
        } else {
            assert!(c["counterexample"].is_null());
        }
    }
    insta::assert_snapshot!(stdout);
}

#[test]
fn sarif_and_github_report_the_failing_claim() {
    let Run { code, stdout: sarif, .. } = writ(&["verify", POLICY, "--format", "sarif"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("sarif", sarif);
    let Run { code, stdout: github, .. } = writ(&["verify", POLICY, "--format", "github"]);
    assert_eq!(code, 1);
    assert!(
        github.starts_with("::error file=tests/fixtures/verify/policy.writ,line=38"),
        "{github}"
    );
    insta::assert_snapshot!("github", github);
}

#[test]
fn exit_codes() {
    // Every claim holds: 0.
    let dir = std::env::temp_dir().join(format!("writ-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let holds = dir.join("holds.writ");
    std::fs::write(
        &holds,
        "role r { may t }\ntool t(x: int)\nworkflow w {\n  start by r\n  allow t when x < 5\n}\nassert \"small\" {\n  never allow t when x > 4\n}\n",
    )
    .unwrap();
    let Run { code, stdout, .. } = writ(&["verify", holds.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");
    // Policy errors: 2.
    let broken = dir.join("broken.writ");
    std::fs::write(&broken, "role r { may nope }\n").unwrap();
    let Run { code, .. } = writ(&["verify", broken.to_str().unwrap()]);
    assert_eq!(code, 2);
    // A missing path: 2.
    let Run { code, .. } = writ(&["verify", "tests/fixtures/verify/none.writ"]);
    assert_eq!(code, 2);
}

#[test]
fn writ_test_runs_the_assertions() {
    let Run { code, stdout, .. } = writ(&["test", POLICY]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("3 hold, 1 fail, 0 unknown"), "{stdout}");
    let Run { stdout: json, .. } = writ(&["test", POLICY, "--format", "json", "--coverage"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["assertions_failed"], 1);
    assert_eq!(v["assertions"].as_array().map(Vec::len), Some(4));
    // The rules the claims were decided against are exercised.
    assert!(v["coverage"]["covered"].as_u64().unwrap() > 0, "{json}");
    for format in ["junit", "sarif", "github"] {
        let Run { code, stdout: out, .. } = writ(&["test", POLICY, "--format", format]);
        assert_eq!(code, 1);
        assert!(out.contains("counterexample"), "{format}: {out}");
    }
    insta::assert_snapshot!("test_human", stdout);
}
