//! `writ hook codex` and `writ hook gemini` end to end: recorded Codex CLI and Gemini CLI hook
//! payloads (`tests/hook/codex/`, `tests/hook/gemini/`) against the shipped example policies,
//! each answer snapshotted with the request writ decided; attack spellings (argument-vector
//! shell commands, patches touching `.git/hooks`, `../.env`, a missing `cwd`); the run store,
//! log-only mode and failures in each agent's format.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use writ_agents::hook::Agent;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const IDENTITY: &str = "examples/claude-code/identity.json";

fn policy(agent: Agent) -> &'static str {
    match agent {
        Agent::Codex => "examples/codex/policy.writ",
        Agent::Gemini => "examples/gemini/policy.writ",
        Agent::ClaudeCode => "examples/claude-code/policy.writ",
    }
}

/// Runs `writ hook AGENT`; returns (exit code, stdout, stderr).
fn hook(agent: Agent, args: &[&str], input: &[u8]) -> (i32, String, String) {
    let state = std::env::temp_dir().join(format!("writ-agent-hooks-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(["hook", agent.name()])
        .args(args)
        .current_dir(root())
        .env_remove("WRIT_IDENTITY")
        .env("WRIT_STATE_DIR", state)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run writ");
    let _ = child.stdin.take().unwrap().write_all(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The hook's answer, checked for the protocol's shape: exit 0, one JSON object on one line.
fn answer(agent: Agent, args: &[&str], input: &[u8]) -> Value {
    let (code, stdout, stderr) = hook(agent, args, input);
    assert_eq!(code, 0, "the hook always exits 0; stderr: {stderr}");
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    let value: Value = serde_json::from_str(&stdout).expect("the answer is JSON");
    assert!(value.is_object());
    value
}

/// What the agent does with a tool-call answer: "allow" (Codex: no objection, `{}`), "deny".
fn decision(agent: Agent, answer: &Value) -> &'static str {
    match agent {
        Agent::Codex => {
            if answer == &json!({}) {
                return "allow";
            }
            let out = &answer["hookSpecificOutput"];
            assert_eq!(out["hookEventName"], "PreToolUse", "{answer}");
            assert_eq!(out["permissionDecision"], "deny", "{answer}");
            assert!(!out["permissionDecisionReason"].as_str().unwrap().trim().is_empty());
            "deny"
        }
        Agent::Gemini => {
            assert!(answer["reason"].is_string(), "{answer}");
            match answer["decision"].as_str() {
                Some("allow") => "allow",
                Some("deny") => "deny",
                other => panic!("not a Gemini decision: {other:?}"),
            }
        }
        Agent::ClaudeCode => unreachable!(),
    }
}

fn reason(agent: Agent, answer: &Value) -> String {
    let reason = match agent {
        Agent::Codex => &answer["hookSpecificOutput"]["permissionDecisionReason"],
        _ => &answer["reason"],
    };
    reason.as_str().unwrap_or_default().to_string()
}

fn example(agent: Agent, input: &[u8]) -> Value {
    answer(
        agent,
        &["--policy", policy(agent), "--workflow", "coding", "--identity", IDENTITY],
        input,
    )
}

/// The hook's answer to a recorded payload (checked against its name's `-allow`/`-deny`), and
/// the request writ decided, from the library at a fixed clock.
fn recorded(agent: Agent, path: &std::path::Path) -> Value {
    let gate = writ_agents::gate::Gate::load(&root().join(policy(agent)), "coding").unwrap();
    let identity = writ_agents::gate::load_identity(&root().join(IDENTITY)).unwrap();
    let input = std::fs::read(path).unwrap();
    let out = example(agent, &input);
    let name = path.file_stem().unwrap().to_string_lossy();
    let want = if name.ends_with("-allow") { "allow" } else { "deny" };
    assert_eq!(decision(agent, &out), want, "{name}: {out}");
    let now = writ_evaluator::Timestamp::parse("2026-12-02T16:00:00Z").unwrap();
    let store = writ_agents::run::MemoryStore::default();
    let run_gate = writ_agents::run::RunGate {
        gate: &gate,
        store: &store,
        retention: writ_agents::run::Retention::for_policy(&gate, writ_agents::run::DEFAULT_IDLE),
        mode: writ_evaluator::log::Mode::Enforce,
    };
    let lib = writ_agents::hook::answer(agent, &run_gate, Ok(&identity), &input, now);
    assert_eq!(lib.to_json(), out);
    let request = lib.judgement.map(|j| j.request).unwrap_or(Value::Null);
    json!({"answer": out, "request": request})
}

#[test]
fn codex_recorded_payloads() {
    insta::glob!("hook/codex/*.json", |path| {
        insta::assert_json_snapshot!(recorded(Agent::Codex, path));
    });
}

#[test]
fn gemini_recorded_payloads() {
    insta::glob!("hook/gemini/*.json", |path| {
        insta::assert_json_snapshot!(recorded(Agent::Gemini, path));
    });
}

#[test]
fn failures_deny_in_each_agents_format_and_exit_0() {
    for agent in [Agent::Codex, Agent::Gemini] {
        let call = match agent {
            Agent::Codex => codex_call("PreToolUse", "Bash", json!({"command": "ls"}), "c1"),
            _ => gemini_call("BeforeTool", "read_file", json!({"file_path": "README.md"})),
        };
        let call = serde_json::to_vec(&call).unwrap();
        let cases: [(&[&str], &[u8], &str); 4] = [
            (
                &["--policy", "no/such.writ", "--workflow", "coding", "--identity", IDENTITY],
                &call,
                "cannot read policy `no/such.writ`",
            ),
            (&["--policy", policy(agent), "--workflow", "coding"], &call, "no identity"),
            (
                &["--policy", policy(agent), "--workflow", "coding", "--identity", IDENTITY],
                b"{\"session_id\": ",
                "not valid JSON",
            ),
            (
                &["--policy", policy(agent), "--workflow", "coding", "--identity", IDENTITY],
                br#"{"session_id": "s", "hook_event_name": "SessionStart", "cwd": "/w", "session_id": "t"}"#,
                "duplicate key",
            ),
        ];
        for (args, input, want) in cases {
            let out = answer(agent, args, input);
            assert_eq!(decision(agent, &out), "deny", "{agent:?} {want}");
            let reason = reason(agent, &out);
            assert!(reason.starts_with("writ could not decide, so the call is denied"));
            assert!(reason.contains(want), "{agent:?}: {reason}");
        }
        // A usage error exits 2, which both agents treat as a block.
        let (code, stdout, _) = hook(agent, &["--workflow", "coding"], b"{}");
        assert_eq!((code, stdout.as_str()), (2, ""));
    }
}

/// A scratch directory for one test: a policy, an identity, the run store.
struct Scratch {
    dir: PathBuf,
    agent: Agent,
}

impl Scratch {
    fn new(agent: Agent, name: &str, policy: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "writ-agent-hooks-{}-{name}-{}",
            agent.name(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("policy.writ"), policy).unwrap();
        let identity = json!({"id": "ana@acme.dev", "kind": "human", "roles": ["engineer"]});
        std::fs::write(dir.join("identity.json"), identity.to_string()).unwrap();
        Scratch { dir, agent }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    fn hook(&self, extra: &[&str], input: &Value) -> Value {
        let (policy, identity, state) =
            (self.path("policy.writ"), self.path("identity.json"), self.path("state"));
        let mut args = vec!["--policy", &policy, "--workflow", "coding", "--identity", &identity];
        args.extend(["--state-dir", &state]);
        args.extend(extra);
        answer(self.agent, &args, &serde_json::to_vec(input).unwrap())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn codex_call(event: &str, tool: &str, input: Value, id: &str) -> Value {
    json!({
        "session_id": "s-1", "turn_id": "t-1", "transcript_path": null, "cwd": "/work/acme",
        "hook_event_name": event, "model": "gpt-5-codex", "permission_mode": "default",
        "tool_name": tool, "tool_input": input, "tool_use_id": id,
    })
}

fn gemini_call(event: &str, tool: &str, input: Value) -> Value {
    json!({
        "session_id": "g-1", "transcript_path": "/tmp/t.json", "cwd": "/work/acme",
        "hook_event_name": event, "timestamp": "2026-12-02T16:00:00.000Z",
        "tool_name": tool, "tool_input": input,
    })
}

const PUSH: &str = r#"
tool codex.bash(command: command) [exec]
role engineer { may codex.* }
workflow coding {
  start by engineer
  allow codex.bash
}
deny codex.bash when command runs ["git", "push", ..., "--force", ...] because "no force-push"
"#;

#[test]
fn codex_argument_vectors_are_seen_through() {
    let s = Scratch::new(Agent::Codex, "argv", PUSH);
    let bash = |command: Value| codex_call("PreToolUse", "Bash", json!({"command": command}), "c");
    for argv in [
        json!(["bash", "-lc", "git push --force"]),
        json!(["git", "push", "origin", "--force"]),
        json!(["sh", "-c", "cd src && git push --force"]),
        json!(["bash", "-lc", "echo 'it'\\''s' ; git push --force"]),
        json!(["bash", "-lc", "git push --force; echo '"]),
    ] {
        let out = s.hook(&[], &bash(argv.clone()));
        assert_eq!(decision(Agent::Codex, &out), "deny", "{argv}");
    }
    for argv in [json!(["bash", "-lc", "git push origin feature"]), json!(["echo", "--force"])] {
        let out = s.hook(&[], &bash(argv.clone()));
        assert_eq!(decision(Agent::Codex, &out), "allow", "{argv}");
    }
    // An argument vector with a word that is not a string is not a command line: denied.
    let out = s.hook(&[], &bash(json!(["git", 7])));
    assert_eq!(decision(Agent::Codex, &out), "deny");
    assert!(reason(Agent::Codex, &out).contains("must be a command line"));
}

const COUNTING: &str = r#"
tool codex.bash(command: command) [exec]
tool gemini.read_file(file_path: path) [file]
role engineer { may codex.*  may gemini.* }
role visitor { may codex.* }
workflow coding {
  start by engineer
  allow codex.bash when calls(codex.bash) < 2
  allow gemini.read_file when calls(gemini.read_file) < 2
}
"#;

#[test]
fn codex_calls_are_counted_across_hook_processes_once_each() {
    let s = Scratch::new(Agent::Codex, "count", COUNTING);
    let start = json!({"session_id": "s-1", "cwd": "/work/acme", "hook_event_name": "SessionStart",
                       "model": "gpt-5-codex", "permission_mode": "default", "source": "startup",
                       "transcript_path": null});
    assert_eq!(s.hook(&[], &start), json!({}), "an admitted session has nothing to say");
    let ls = |event: &str, id: &str| codex_call(event, "Bash", json!({"command": "ls"}), id);
    assert_eq!(decision(Agent::Codex, &s.hook(&[], &ls("PreToolUse", "c1"))), "allow");
    // The same call's PostToolUse is not counted again.
    assert_eq!(s.hook(&[], &ls("PostToolUse", "c1")), json!({}));
    assert_eq!(decision(Agent::Codex, &s.hook(&[], &ls("PreToolUse", "c2"))), "allow");
    let third = s.hook(&[], &ls("PreToolUse", "c3"));
    assert_eq!(decision(Agent::Codex, &third), "deny", "{third}");
}

#[test]
fn gemini_after_tool_records_nothing_and_calls_are_counted_at_before_tool() {
    let s = Scratch::new(Agent::Gemini, "count", COUNTING);
    let read = |event: &str| gemini_call(event, "read_file", json!({"file_path": "README.md"}));
    assert_eq!(decision(Agent::Gemini, &s.hook(&[], &read("BeforeTool"))), "allow");
    assert_eq!(s.hook(&[], &read("AfterTool")), json!({}));
    // Counted once: Gemini gives no call id, so AfterTool does not record the call again.
    assert_eq!(decision(Agent::Gemini, &s.hook(&[], &read("BeforeTool"))), "allow");
    assert_eq!(decision(Agent::Gemini, &s.hook(&[], &read("BeforeTool"))), "deny");
}

#[test]
fn a_session_whose_start_is_denied_is_told_and_has_every_call_denied() {
    let visitor = COUNTING.replace("start by engineer", "start by visitor");
    for agent in [Agent::Codex, Agent::Gemini] {
        let s = Scratch::new(agent, "start", &visitor);
        let start = json!({"session_id": "s-9", "cwd": "/work/acme",
                           "hook_event_name": "SessionStart", "source": "startup"});
        let out = s.hook(&[], &start);
        let message = out["systemMessage"].as_str().unwrap();
        assert!(message.contains("was not admitted"), "{message}");
        assert_eq!(out["hookSpecificOutput"]["additionalContext"], message);
        let call = match agent {
            Agent::Codex => codex_call("PreToolUse", "Bash", json!({"command": "ls"}), "c1"),
            _ => gemini_call("BeforeTool", "read_file", json!({"file_path": "README.md"})),
        };
        let mut call = call;
        call["session_id"] = json!("s-9");
        let out = s.hook(&[], &call);
        assert_eq!(decision(agent, &out), "deny");
        assert!(reason(agent, &out).contains("its start by `ana@acme.dev` is denied"));
    }
}

#[test]
fn log_only_leaves_the_decision_to_the_agent_and_logs_it() {
    for agent in [Agent::Codex, Agent::Gemini] {
        let s = Scratch::new(agent, "shadow", COUNTING);
        let log = s.path("decisions.jsonl");
        // The third call is past the limit: denied, but only logged.
        let call = |i: usize| match agent {
            Agent::Codex => {
                codex_call("PreToolUse", "Bash", json!({"command": "ls"}), &format!("c{i}"))
            }
            _ => gemini_call("BeforeTool", "read_file", json!({"file_path": "README.md"})),
        };
        for i in 0..3 {
            let out = s.hook(&["--mode", "log-only", "--decision-log", &log], &call(i));
            assert_eq!(out, json!({}), "{agent:?}: the agent's own permissions apply");
        }
        let text = std::fs::read(&log).unwrap();
        writ_evaluator::log::verify(&text[..]).expect("the log verifies");
        let lines: Vec<Value> = text
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        let decisions: Vec<&str> = lines.iter().map(|l| l["decision"].as_str().unwrap()).collect();
        assert_eq!(decisions, ["allow", "allow", "allow", "deny"], "{agent:?}");
        assert!(lines.iter().all(|l| l["mode"] == "log-only"));
        assert_eq!(lines[0]["action"], "start");
        assert_eq!(
            lines[1]["chain"][1]["id"],
            format!("{}/{}", agent.name(), call(0)["session_id"].as_str().unwrap())
        );
    }
}

#[test]
fn codex_sub_agents_are_a_second_hop() {
    let s = Scratch::new(
        Agent::Codex,
        "sub",
        &COUNTING.replace("start by engineer", "start by engineer\n  max_depth 2"),
    );
    let log = s.path("decisions.jsonl");
    let mut call = codex_call("PreToolUse", "Bash", json!({"command": "ls"}), "c1");
    call["agent_id"] = json!("a-7");
    call["agent_type"] = json!("worker");
    assert_eq!(decision(Agent::Codex, &s.hook(&["--decision-log", &log], &call)), "allow");
    let text = std::fs::read_to_string(&log).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(
        last["chain"],
        json!([
            {"id": "ana@acme.dev", "kind": "human"},
            {"id": "codex/s-1", "kind": "agent"},
            {"id": "codex/s-1/a-7", "kind": "agent"}
        ])
    );
}
