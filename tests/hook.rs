//! `writ hook claude-code` end to end: recorded Claude Code `PreToolUse` payloads (one or more
//! per built-in tool, MCP tools, sub-agents, malformed input) against the shipped example
//! policy, each answer snapshotted with the request writ decided.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const POLICY: &str = "examples/claude-code/policy.writ";
const IDENTITY: &str = "examples/claude-code/identity.json";

/// The hooks' run store for this test process.
fn state_dir() -> PathBuf {
    std::env::temp_dir().join(format!("writ-hook-tests-{}", std::process::id()))
}

/// Runs the hook; returns (exit code, stdout, stderr).
fn hook(args: &[&str], input: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(["hook", "claude-code"])
        .args(args)
        .current_dir(root())
        .env_remove("WRIT_IDENTITY")
        .env("WRIT_STATE_DIR", state_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run writ");
    // A usage error exits before reading its input: the write may find the pipe closed.
    let _ = child.stdin.take().unwrap().write_all(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The hook's answer, checked for the protocol's shape: exit 0, one JSON object on one line.
fn answer(args: &[&str], input: &[u8]) -> Value {
    let (code, stdout, stderr) = hook(args, input);
    assert_eq!(code, 0, "the hook always exits 0; stderr: {stderr}");
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    let value: Value = serde_json::from_str(&stdout).expect("the answer is JSON");
    let out = &value["hookSpecificOutput"];
    assert_eq!(out["hookEventName"], "PreToolUse");
    assert!(["allow", "deny", "ask"].contains(&out["permissionDecision"].as_str().unwrap()));
    assert!(out["permissionDecisionReason"].is_string());
    value
}

fn example(input: &[u8]) -> Value {
    answer(&["--policy", POLICY, "--workflow", "coding", "--identity", IDENTITY], input)
}

#[test]
fn recorded_payloads() {
    let gate = writ_agents::gate::Gate::load(&root().join(POLICY), "coding").unwrap();
    let identity = writ_agents::gate::load_identity(&root().join(IDENTITY)).unwrap();
    insta::glob!("hook/payloads/*.json", |path| {
        let input = std::fs::read(path).unwrap();
        let out = example(&input);
        let name = path.file_stem().unwrap().to_string_lossy();
        let want = if name.ends_with("-allow") {
            "allow"
        } else if name.ends_with("-ask") {
            "ask"
        } else {
            "deny"
        };
        assert_eq!(out["hookSpecificOutput"]["permissionDecision"], want, "{name}");
        // The library's view of the same payload: the request writ decided.
        // A fixed clock, so that the snapshot of the request does not change with the time.
        let now = writ_evaluator::Timestamp::parse("2026-12-02T16:00:00Z").unwrap();
        let store = writ_agents::run::MemoryStore::default();
        let run_gate = writ_agents::run::RunGate {
            gate: &gate,
            store: &store,
            retention: writ_agents::run::Retention::for_policy(
                &gate,
                writ_agents::run::DEFAULT_IDLE,
            ),
            mode: writ_evaluator::log::Mode::Enforce,
        };
        let lib = writ_agents::claude::answer(&run_gate, Ok(&identity), &input, now);
        assert_eq!(lib.to_json(), out);
        let request = lib.judgement.map(|j| j.request).unwrap_or(Value::Null);
        insta::assert_json_snapshot!(json!({"answer": out, "request": request}));
    });
}

#[test]
fn every_built_in_tool_has_a_recorded_payload() {
    let dir = root().join("tests/hook/payloads");
    let mut tools = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read(entry.unwrap().path()).unwrap();
        if let Ok(v) = serde_json::from_slice::<Value>(&text)
            && let Some(t) = v["tool_name"].as_str()
        {
            tools.insert(t.to_string());
        }
    }
    for tool in [
        "Bash",
        "BashOutput",
        "KillShell",
        "Read",
        "Edit",
        "MultiEdit",
        "Write",
        "NotebookEdit",
        "Glob",
        "Grep",
        "WebFetch",
        "WebSearch",
        "Task",
        "TodoWrite",
        "ExitPlanMode",
    ] {
        assert!(tools.contains(tool), "no recorded payload for `{tool}`");
    }
}

fn payload(tool: &str, input: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "session_id": "s-1",
        "transcript_path": "/tmp/t.jsonl",
        "cwd": "/work/acme",
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": tool,
        "tool_input": input,
        "tool_use_id": "toolu_1",
    }))
    .unwrap()
}

fn reason(v: &Value) -> String {
    v["hookSpecificOutput"]["permissionDecisionReason"].as_str().unwrap().to_string()
}

fn decision(v: &Value) -> &str {
    v["hookSpecificOutput"]["permissionDecision"].as_str().unwrap()
}

#[test]
fn failures_deny_and_exit_0() {
    let read = payload("Read", json!({"file_path": "/work/acme/src/main.rs"}));
    let cases: Vec<(&str, Vec<&str>, &[u8], &str)> = vec![
        (
            "missing policy",
            vec!["--policy", "no/such/policy.writ", "--workflow", "coding", "--identity", IDENTITY],
            &read,
            "cannot read policy `no/such/policy.writ`",
        ),
        (
            "unknown workflow",
            vec!["--policy", POLICY, "--workflow", "deploy", "--identity", IDENTITY],
            &read,
            "unknown workflow `deploy` (the policy declares `coding`)",
        ),
        (
            "no identity",
            vec!["--policy", POLICY, "--workflow", "coding"],
            &read,
            "no identity: give `--identity FILE`",
        ),
        (
            "identity file missing",
            vec!["--policy", POLICY, "--workflow", "coding", "--identity", "no/such/id.json"],
            &read,
            "cannot read identity `no/such/id.json`",
        ),
        (
            "policy with errors",
            vec![
                "--policy",
                "tests/hook/broken.writ",
                "--workflow",
                "coding",
                "--identity",
                IDENTITY,
            ],
            &read,
            "`writ check tests/hook/broken.writ` shows them all",
        ),
        (
            "empty input",
            vec!["--policy", POLICY, "--workflow", "coding", "--identity", IDENTITY],
            b"",
            "the hook input is not valid JSON",
        ),
        (
            "not an object",
            vec!["--policy", POLICY, "--workflow", "coding", "--identity", IDENTITY],
            b"[1, 2]",
            "not a JSON object",
        ),
        (
            "bytes that are not UTF-8",
            vec!["--policy", POLICY, "--workflow", "coding", "--identity", IDENTITY],
            b"{\"session_id\": \"\xff\"}",
            "not valid JSON",
        ),
        (
            "tool_input not an object",
            vec!["--policy", POLICY, "--workflow", "coding", "--identity", IDENTITY],
            br#"{"session_id": "s", "hook_event_name": "PreToolUse", "cwd": "/w", "tool_name": "Bash", "tool_input": "ls"}"#,
            "`tool_input`: expected an object, found a string",
        ),
        (
            "no hook_event_name",
            vec!["--policy", POLICY, "--workflow", "coding", "--identity", IDENTITY],
            br#"{"session_id": "s", "cwd": "/w", "tool_name": "Bash", "tool_input": {}}"#,
            "`hook_event_name`: missing required field",
        ),
        (
            "no cwd",
            vec!["--policy", POLICY, "--workflow", "coding", "--identity", IDENTITY],
            br#"{"session_id": "s", "hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {}}"#,
            "`cwd`: missing required field",
        ),
        (
            "a relative cwd",
            vec!["--policy", POLICY, "--workflow", "coding", "--identity", IDENTITY],
            br#"{"session_id": "s", "hook_event_name": "PreToolUse", "cwd": "w", "tool_name": "Bash", "tool_input": {}}"#,
            "`cwd`: expected an absolute directory",
        ),
    ];
    for (name, args, input, want) in cases {
        let out = answer(&args, input);
        assert_eq!(decision(&out), "deny", "{name}");
        assert!(reason(&out).contains(want), "{name}: {}", reason(&out));
        assert!(reason(&out).starts_with("writ could not decide, so the call is denied"), "{name}");
    }
}

#[test]
fn identity_files_are_checked() {
    let dir = std::env::temp_dir().join(format!("writ-hook-identity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let read = payload("Read", json!({"file_path": "/work/acme/src/main.rs"}));
    let cases = [
        (r#"{"id": "ana", "kind": "robot"}"#, "`kind`"),
        (r#"{"id": "bot", "kind": "agent"}"#, "an identity must be a `human` or a `service`"),
        (r#"{"kind": "human"}"#, "`id`: missing required field"),
        (r#"{"id": "ana", "kind": "human", "roles": "engineer"}"#, "`roles`"),
        (r#"{"id": "ana", "id": "root", "kind": "human"}"#, "duplicate key `id`"),
        ("not json", "expected"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let path = dir.join(format!("{i}.json"));
        std::fs::write(&path, text).unwrap();
        let path = path.to_string_lossy().into_owned();
        let out = answer(&["--policy", POLICY, "--workflow", "coding", "--identity", &path], &read);
        assert_eq!(decision(&out), "deny", "{text}");
        assert!(reason(&out).contains(want), "{text}: {}", reason(&out));
    }
    // WRIT_IDENTITY names the file when `--identity` is not given.
    let mut child = Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(["hook", "claude-code", "--policy", POLICY, "--workflow", "coding"])
        .current_dir(root())
        .env("WRIT_IDENTITY", IDENTITY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&read).unwrap();
    let out = child.wait_with_output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decision(&v), "allow");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn undeclared_inputs_are_ignored_and_declared_ones_type_checked() {
    // `description`, `timeout` and `run_in_background` are not declared on `claude.bash`.
    let out = example(&payload(
        "Bash",
        json!({"command": "ls", "description": "list", "timeout": 1.5, "run_in_background": true}),
    ));
    assert_eq!(decision(&out), "allow");
    // A declared input of the wrong type is a deny, not an ignored field.
    let out = example(&payload("Bash", json!({"command": 42})));
    assert_eq!(decision(&out), "deny");
    assert!(reason(&out).contains("argument `command` of claude.bash must be a command line"));
    // A declared input that is missing is unknown: the guardrails that read it apply.
    let out = example(&payload("Read", json!({})));
    assert_eq!(decision(&out), "deny");
    assert!(reason(&out).contains("fail closed"), "{}", reason(&out));
}

#[test]
fn web_fetch_host_is_derived_from_the_url_never_taken_from_the_input() {
    let out = example(&payload(
        "WebFetch",
        json!({"url": "https://paste.example/x", "host": "docs.rs", "prompt": "p"}),
    ));
    assert_eq!(decision(&out), "deny");
    let out = example(&payload(
        "WebFetch",
        json!({"url": "https://evil.example\\@docs.rs/", "prompt": "p"}),
    ));
    assert_eq!(decision(&out), "deny");
    let out =
        example(&payload("WebFetch", json!({"url": "https://Docs.RS:443/serde", "prompt": "p"})));
    assert_eq!(decision(&out), "allow");
}

#[test]
fn decision_log_shows_the_human_the_session_and_the_sub_agent() {
    let dir = std::env::temp_dir().join(format!("writ-hook-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("decisions.jsonl");
    let log_arg = log.to_string_lossy().into_owned();
    let state_arg = dir.join("state").to_string_lossy().into_owned();
    let args = [
        "--state-dir",
        &state_arg,
        "--policy",
        POLICY,
        "--workflow",
        "coding",
        "--identity",
        IDENTITY,
        "--decision-log",
        &log_arg,
    ];
    let read = payload("Read", json!({"file_path": "/work/acme/src/main.rs"}));
    assert_eq!(decision(&answer(&args, &read)), "allow");
    let mut sub: Value =
        serde_json::from_slice(&payload("Bash", json!({"command": "git push origin main"})))
            .unwrap();
    sub["agent_id"] = json!("a7");
    sub["agent_type"] = json!("general-purpose");
    assert_eq!(decision(&answer(&args, &serde_json::to_vec(&sub).unwrap())), "deny");
    // A failure before any decision is not logged (there is no decision), but still denies.
    assert_eq!(decision(&answer(&args, b"{")), "deny");

    let text = std::fs::read(&log).unwrap();
    let summary = writ_evaluator::log::verify(&text[..]).expect("the log verifies");
    // The session's start (decided with its first call), then the two calls.
    assert_eq!(summary.lines, 3);
    let lines: Vec<Value> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines[0]["action"], "start");
    assert_eq!(lines[0]["decision"], "allow");
    assert_eq!(
        lines[0]["chain"],
        json!([{"id": "ana@acme.dev", "kind": "human"}, {"id": "claude-code/s-1", "kind": "agent"}])
    );
    let lines = &lines[1..];
    assert_eq!(lines[0]["decision"], "allow");
    assert_eq!(
        lines[0]["chain"],
        json!([{"id": "ana@acme.dev", "kind": "human"}, {"id": "claude-code/s-1", "kind": "agent"}])
    );
    assert_eq!(lines[1]["decision"], "deny");
    assert_eq!(lines[1]["tool"], "claude.bash");
    assert_eq!(
        lines[1]["chain"],
        json!([
            {"id": "ana@acme.dev", "kind": "human"},
            {"id": "claude-code/s-1", "kind": "agent"},
            {"id": "claude-code/s-1/a7", "kind": "agent"}
        ])
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn parallel_hooks_keep_the_log_chain_whole() {
    let dir = std::env::temp_dir().join(format!("writ-hook-par-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("decisions.jsonl");
    let log_arg = log.to_string_lossy().into_owned();
    let state_arg = dir.join("state").to_string_lossy().into_owned();
    let read = payload("Read", json!({"file_path": "/work/acme/src/main.rs"}));
    let children: Vec<_> = (0..8)
        .map(|_| {
            let mut child = Command::new(env!("CARGO_BIN_EXE_writ"))
                .args(["hook", "claude-code", "--policy", POLICY, "--workflow", "coding"])
                .args(["--identity", IDENTITY, "--decision-log", &log_arg])
                .args(["--state-dir", &state_arg])
                .current_dir(root())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(&read).unwrap();
            child
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(decision(&v), "allow");
    }
    let text = std::fs::read(&log).unwrap();
    // One start (the eight hooks share the session: one of them admits it, in the store's
    // transaction), then the eight calls.
    assert_eq!(writ_evaluator::log::verify(&text[..]).expect("verifies").lines, 9);
    let starts = String::from_utf8_lossy(&text).matches("\"action\":\"start\"").count();
    assert_eq!(starts, 1);
    assert!(!Path::new(&format!("{log_arg}.lock")).exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors_exit_2_which_claude_code_treats_as_a_block() {
    let (code, stdout, _) = hook(&["--workflow", "coding"], b"{}");
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
}

/// A scratch directory for one test: a policy, an identity, the run store.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(name: &str, policy: &str, identity: Value) -> Scratch {
        let dir = std::env::temp_dir().join(format!("writ-hook-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("policy.writ"), policy).unwrap();
        std::fs::write(dir.join("identity.json"), identity.to_string()).unwrap();
        Scratch { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// The hook's raw answer (any event's shape).
    fn hook(&self, extra: &[&str], input: &Value) -> Value {
        let (policy, identity, state) =
            (self.path("policy.writ"), self.path("identity.json"), self.path("state"));
        let mut args = vec!["--policy", &policy, "--workflow", "coding", "--identity", &identity];
        args.extend(["--state-dir", &state]);
        args.extend(extra);
        let (code, stdout, stderr) = hook(&args, &serde_json::to_vec(input).unwrap());
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str(&stdout).expect("the answer is JSON")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn event(name: &str, tool: &str, input: Value, tool_use_id: &str) -> Value {
    let mut v: Value = serde_json::from_slice(&payload(tool, input)).unwrap();
    v["hook_event_name"] = json!(name);
    v["tool_use_id"] = json!(tool_use_id);
    v
}

const COUNTING: &str = r#"
tool claude.read(file_path: path) [file]
evidence human_confirmation
role engineer { may claude.* }
role visitor { may claude.* }
workflow coding {
  start by engineer
  allow claude.read when calls(claude.read) < 1
  allow claude.read require human_confirmation
}
deny claude.read when calls(claude.read) >= 2 because "two reads are enough"
"#;

#[test]
fn a_session_whose_start_is_denied_has_every_call_denied() {
    let s = Scratch::new(
        "start",
        COUNTING,
        json!({"id": "vic@acme.dev", "kind": "human", "roles": ["visitor"]}),
    );
    let start = json!({"session_id": "s-1", "cwd": "/work/acme", "hook_event_name": "SessionStart", "source": "startup"});
    let out = s.hook(&[], &start);
    let context = out["hookSpecificOutput"]["additionalContext"].as_str().unwrap();
    assert!(context.contains("was not admitted"), "{context}");
    let read = event("PreToolUse", "Read", json!({"file_path": "README.md"}), "t1");
    let out = s.hook(&[], &read);
    assert_eq!(decision(&out), "deny");
    assert!(reason(&out).contains("its start by `vic@acme.dev` is denied"), "{}", reason(&out));
}

#[test]
fn calls_are_counted_across_hook_processes_and_approved_ones_recorded_after() {
    let s = Scratch::new(
        "count",
        COUNTING,
        json!({"id": "ana@acme.dev", "kind": "human", "roles": ["engineer"]}),
    );
    let start =
        json!({"session_id": "s-1", "cwd": "/work/acme", "hook_event_name": "SessionStart"});
    assert_eq!(s.hook(&[], &start), json!({}), "an admitted session has nothing to say");
    let read = |id: &str| event("PreToolUse", "Read", json!({"file_path": "README.md"}), id);
    let after = |id: &str| event("PostToolUse", "Read", json!({"file_path": "README.md"}), id);
    assert_eq!(decision(&s.hook(&[], &read("t1"))), "allow");
    // Recorded at PreToolUse already: the PostToolUse of the same call adds nothing.
    assert_eq!(s.hook(&[], &after("t1")), json!({}));
    assert_eq!(decision(&s.hook(&[], &read("t2"))), "ask");
    // The person approved it and it ran: now it counts.
    s.hook(&[], &after("t2"));
    let third = s.hook(&[], &read("t3"));
    assert_eq!(decision(&third), "deny");
    assert!(reason(&third).contains("two reads are enough"));
    // Another session has its own history.
    let mut other = read("t4");
    other["session_id"] = json!("s-2");
    assert_eq!(decision(&s.hook(&[], &other)), "allow");
}

#[test]
fn log_only_leaves_the_decision_to_claude_code_and_logs_it() {
    let s = Scratch::new(
        "shadow",
        COUNTING,
        json!({"id": "vic@acme.dev", "kind": "human", "roles": ["visitor"]}),
    );
    let log = s.path("decisions.jsonl");
    let read = event("PreToolUse", "Read", json!({"file_path": "README.md"}), "t1");
    let out = s.hook(&["--mode", "log-only", "--decision-log", &log], &read);
    assert_eq!(out, json!({}), "no permission decision: Claude Code's own rules apply");
    let text = std::fs::read(&log).unwrap();
    writ_evaluator::log::verify(&text[..]).expect("the log verifies");
    let lines: Vec<Value> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line["mode"], "log-only");
        assert_eq!(line["decision"], "deny");
    }
    assert_eq!(lines[0]["action"], "start");
    assert_eq!(lines[1]["action"], "call");
}

#[test]
fn an_unusable_state_directory_denies() {
    let s = Scratch::new(
        "badstate",
        COUNTING,
        json!({"id": "ana@acme.dev", "kind": "human", "roles": ["engineer"]}),
    );
    std::fs::write(s.path("state"), "a file where the directory should be").unwrap();
    let out = s.hook(&[], &event("PreToolUse", "Read", json!({"file_path": "README.md"}), "t1"));
    assert_eq!(decision(&out), "deny");
    assert!(reason(&out).contains("state directory"), "{}", reason(&out));
}
