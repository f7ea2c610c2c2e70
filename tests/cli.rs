//! End-to-end tests of the `writ` binary: every command and output format, snapshotted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use common::{Run, Writ, root, writ};

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn transcript(r: &Run) -> String {
    format!("exit: {}\n--- stdout\n{}--- stderr\n{}", r.code, r.stdout, r.stderr)
}

#[test]
fn check_examples_human_and_json() {
    for example in ["examples/coding-agents/policy", "examples/support-agents/policy.writ"] {
        let human = writ(&["check", example]);
        assert_eq!(human.code, 0, "{}", transcript(&human));
        let name = example.replace('/', "_");
        insta::assert_snapshot!(format!("check_human_{name}"), transcript(&human));
        let json = writ(&["check", example, "--format", "json"]);
        assert_eq!(json.code, 0);
        let parsed: serde_json::Value = serde_json::from_str(&json.stdout).expect("a JSON array");
        assert!(parsed.is_array());
        insta::assert_snapshot!(format!("check_json_{name}"), transcript(&json));
    }
}

#[test]
fn check_reports_errors_with_exit_1() {
    let path = "compiler/tests/diagnostics/many_errors.writ";
    let human = writ(&["check", path]);
    assert_eq!(human.code, 1);
    assert!(human.stdout.contains("many_errors.writ:"), "file:line:column in {}", human.stdout);
    insta::assert_snapshot!(transcript(&human));
    let json = writ(&["check", path, "--format", "json"]);
    assert_eq!(json.code, 1);
    insta::assert_snapshot!(transcript(&json));
}

#[test]
fn check_missing_path_is_an_io_error() {
    let r = writ(&["check", "no/such/policy.writ"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot read policy `no/such/policy.writ`"), "{}", r.stderr);
}

#[test]
fn eval_one_request_in_every_format() {
    let policy = "examples/coding-agents/policy";
    for request in [
        "prod-deploy-pending",
        "prod-deploy-allowed",
        "maintainer-prod-deploy-denied",
        "feature-start",
    ] {
        let file = format!("examples/coding-agents/requests/{request}.json");
        let json = writ(&["eval", "--policy", policy, "--request", &file]);
        assert_eq!(json.code, 0, "{}", transcript(&json));
        insta::assert_snapshot!(format!("eval_json_{request}"), transcript(&json));
        let explained = writ(&[
            "eval",
            "--policy",
            policy,
            "--request",
            &file,
            "--explain",
            "--format",
            "human",
        ]);
        assert_eq!(explained.code, 0);
        insta::assert_snapshot!(format!("eval_explain_{request}"), transcript(&explained));
    }
    let explain_json = writ(&[
        "eval",
        "--policy",
        policy,
        "--request",
        "examples/coding-agents/requests/prod-deploy-pending.json",
        "--explain",
    ]);
    let v: serde_json::Value = serde_json::from_str(&explain_json.stdout).unwrap();
    assert!(v.get("explain").is_some(), "--explain adds the trace to the JSON");
    insta::assert_snapshot!(transcript(&explain_json));
}

#[test]
fn eval_request_from_stdin() {
    let text = std::fs::read_to_string(root().join("examples/support-agents/requests/refund.json"))
        .unwrap();
    let r =
        Writ::new(&["eval", "--policy", "examples/support-agents/policy.writ", "--request", "-"])
            .stdin(Some(&text))
            .run();
    assert_eq!(r.code, 0, "{}", transcript(&r));
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["decision"], "allow");
}

#[test]
fn eval_malformed_request_names_the_field() {
    let r = writ(&[
        "eval",
        "--policy",
        "examples/support-agents/policy.writ",
        "--request",
        "examples/support-agents/requests/malformed.json",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("chain[0].kind"), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "no decision for a malformed request");
    insta::assert_snapshot!(transcript(&r));
}

#[test]
fn eval_requests_streams_one_line_per_request() {
    let r = writ(&[
        "eval",
        "--policy",
        "examples/coding-agents/policy",
        "--requests",
        "examples/coding-agents/requests.jsonl",
    ]);
    assert_eq!(r.code, 2, "one request is malformed: {}", transcript(&r));
    let input_lines =
        std::fs::read_to_string(root().join("examples/coding-agents/requests.jsonl")).unwrap();
    assert_eq!(
        r.stdout.lines().count(),
        input_lines.lines().filter(|l| !l.trim().is_empty()).count()
    );
    let last: serde_json::Value = serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["line"], 7);
    assert!(last["error"].as_str().unwrap().contains("chain"));
    insta::assert_snapshot!(transcript(&r));
}

#[test]
fn eval_requests_skips_blank_lines_and_counts_them() {
    let input = "\n{\"action\": \"start\"}\n\n   \n{not json\n";
    let r =
        Writ::new(&["eval", "--policy", "examples/support-agents/policy.writ", "--requests", "-"])
            .stdin(Some(input))
            .run();
    assert_eq!(r.code, 2);
    let lines: Vec<serde_json::Value> =
        r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["line"], 2);
    assert_eq!(lines[1]["line"], 5);
}

#[test]
fn eval_refuses_a_policy_with_errors() {
    let r = writ(&[
        "eval",
        "--policy",
        "compiler/tests/diagnostics/unknown_role.writ",
        "--request",
        "examples/support-agents/requests/refund.json",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("writ::unknown_role"), "{}", r.stderr);
}

#[test]
fn fmt_check_accepts_the_examples() {
    let r = writ(&["fmt", "--check", "examples"]);
    assert_eq!(r.code, 0, "examples are formatted: {}", transcript(&r));
    assert!(r.stdout.is_empty());
}

#[test]
fn fmt_check_lists_unformatted_files_and_fmt_fixes_them() {
    let dir = tempdir("fmt");
    let file = dir.join("messy.writ");
    std::fs::write(
        &file,
        "role   dev{may ping}\ntool ping\nworkflow w{start by dev\nallow ping}\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let check = writ(&["fmt", "--check", path]);
    assert_eq!(check.code, 1);
    assert_eq!(check.stdout.trim(), path);
    let fix = writ(&["fmt", path]);
    assert_eq!(fix.code, 0, "{}", transcript(&fix));
    let formatted = std::fs::read_to_string(&file).unwrap();
    insta::assert_snapshot!(formatted);
    assert_eq!(writ(&["fmt", "--check", path]).code, 0);
}

#[test]
fn fmt_stdin_and_syntax_errors() {
    let ok = Writ::new(&["fmt", "-"]).stdin(Some("tool  ping\n")).run();
    assert_eq!(ok.code, 0);
    assert_eq!(ok.stdout, "tool ping\n");
    let broken = Writ::new(&["fmt", "-"]).stdin(Some("role dev {\n  may\n")).run();
    assert_eq!(broken.code, 1);
    assert!(broken.stderr.contains("cannot format `<stdin>`"), "{}", broken.stderr);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(writ(&["eval", "--policy", "examples"]).code, 2);
    assert_eq!(writ(&["frobnicate"]).code, 2);
}

/// Bad policy text of every sort gets diagnostics and exit 1, never a crash.
#[test]
fn hostile_policy_text_never_crashes() {
    let dir = tempdir("hostile");
    let example =
        std::fs::read_to_string(root().join("examples/support-agents/policy.writ")).unwrap();
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        // Cut in the middle of a word inside a workflow body.
        ("truncated".into(), example.as_bytes()[..example.find("require").unwrap() + 4].to_vec()),
        ("shuffled".into(), {
            let mut lines: Vec<&str> = example.lines().collect();
            lines.reverse();
            lines.join("\n").into_bytes()
        }),
        ("binary".into(), (0..=255u8).cycle().take(4096).collect()),
        (
            "nested_parens".into(),
            format!("role r {{ may x when {}true{} }}", "(".repeat(100_000), ")".repeat(100_000))
                .into_bytes(),
        ),
        (
            "nested_not".into(),
            format!("role r {{ may x when {}true }}", "not ".repeat(100_000)).into_bytes(),
        ),
        ("nested_braces".into(), "{".repeat(100_000).into_bytes()),
        ("huge_int".into(), b"workflow w { max_depth 99999999999999999999999 }".to_vec()),
        ("nul".into(), b"role \0 { }".to_vec()),
    ];
    cases.push(("empty".into(), Vec::new()));
    for (name, bytes) in cases {
        let file = dir.join(format!("{name}.writ"));
        std::fs::write(&file, &bytes).unwrap();
        let r = writ(&["check", file.to_str().unwrap()]);
        assert!(r.code == 0 || r.code == 1, "{name}: {}", transcript(&r));
        assert!(!r.stderr.contains("panicked"), "{name}: {}", r.stderr);
        if name != "empty" {
            assert_eq!(r.code, 1, "{name} has errors");
            assert!(
                r.stdout.contains(&format!("{name}.writ:")),
                "{name}: line:column shown: {}",
                r.stdout
            );
        }
    }
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("writ-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn check_ci_formats() {
    let path = "compiler/tests/diagnostics/many_errors.writ";
    let github = writ(&["check", path, "--format", "github"]);
    assert_eq!(github.code, 1);
    assert!(
        github
            .stdout
            .lines()
            .all(|l| l.starts_with("::error file=") || l.starts_with("::warning file="))
    );
    insta::assert_snapshot!(transcript(&github));
    let sarif = writ(&["check", path, "--format", "sarif"]);
    assert_eq!(sarif.code, 1);
    let v: serde_json::Value = serde_json::from_str(&sarif.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    for r in results {
        let rule = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(v["runs"][0]["tool"]["driver"]["rules"][rule]["id"], r["ruleId"]);
        assert_eq!(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], path);
    }
    insta::assert_snapshot!(transcript(&sarif));
}

/// A reader that closes the pipe early (`writ eval --requests big.jsonl | head -1`) ends writ
/// quietly: no panic message, status 0.
#[test]
fn a_closed_stdout_is_not_a_crash() {
    let request =
        std::fs::read_to_string(root().join("examples/coding-agents/requests/feature-start.json"))
            .unwrap()
            .replace('\n', " ");
    let input = format!("{request}\n").repeat(50_000);
    let mut child = Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(["eval", "--policy", "examples/coding-agents/policy", "--requests", "-"])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    let n = std::io::Read::read(&mut stdout, &mut first).unwrap();
    assert!(n > 0);
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    let _ = feeder.join();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

/// Version 2 in traces: the run step (resolved paths, simple commands, or why a command line is
/// unknown) and what each `runs`, `runs only`, `under` and `calls(...)` found.
#[test]
fn eval_explains_commands_paths_and_history() {
    let args = [
        "eval",
        "--policy",
        "tests/fixtures/v2/policy.writ",
        "--requests",
        "tests/fixtures/v2/requests.jsonl",
        "--explain",
    ];
    let human = writ(&[&args[..], &["--format", "human"]].concat());
    assert_eq!(human.code, 0, "{}", transcript(&human));
    insta::assert_snapshot!(transcript(&human));
    let json = writ(&args);
    assert_eq!(json.code, 0, "{}", transcript(&json));
    insta::assert_snapshot!(transcript(&json));
}

/// A misspelt request key is ignored by default (LANGUAGE.md §7), noted by `--explain`, and an
/// error naming the key and the closest known one with `--strict`.
#[test]
fn eval_strict_rejects_a_misspelt_key_and_explain_notes_it() {
    let request = r#"{"action": "call", "workflow": "ticket_agent", "tool": "refund.issue",
        "args": {"order_id": "o-2", "amount_cents": 200, "reason": "late"},
        "chain": [{"id": "lin", "kind": "human", "rolse": ["support_lead"]}],
        "evidance": [{"kind": "ticket"}]}"#;
    let policy = "examples/support-agents/policy.writ";
    let lenient =
        Writ::new(&["eval", "--policy", policy, "--request", "-"]).stdin(Some(request)).run();
    assert_eq!(lenient.code, 0, "{}", lenient.stderr);
    let explained = Writ::new(&[
        "eval",
        "--policy",
        policy,
        "--request",
        "-",
        "--explain",
        "--format",
        "human",
    ])
    .stdin(Some(request))
    .run();
    assert_eq!(explained.code, 0, "{}", explained.stderr);
    let notes: Vec<&str> = explained.stdout.lines().filter(|l| l.contains("note:")).collect();
    insta::assert_snapshot!(notes.join("\n"), @r"
      note: request key `evidance` is not in the schema and was ignored (did you mean `evidence`?)
      note: request key `chain[0].rolse` is not in the schema and was ignored (did you mean `roles`?)
    ");
    let json = Writ::new(&["eval", "--policy", policy, "--request", "-", "--explain"])
        .stdin(Some(request))
        .run();
    let decision: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(decision["unknown_keys"][1]["field"], "chain[0].rolse");
    let strict = Writ::new(&["eval", "--policy", policy, "--request", "-", "--strict"])
        .stdin(Some(request))
        .run();
    assert_eq!(strict.code, 2);
    assert!(strict.stdout.is_empty(), "no decision for a rejected request");
    insta::assert_snapshot!(transcript(&strict), @r"
    exit: 2
    --- stdout
    --- stderr
    error: invalid request: `evidance`: unknown key; did you mean `evidence`?
    ");
}
