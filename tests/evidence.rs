//! Signed evidence end to end (docs/evidence.md), through the binary: `writ attest`,
//! `writ eval --trust --evidence`, `writ serve --trust` (`/v1/evidence`, in memory and in a real
//! Redis), the Claude Code hook with an evidence directory and an evidence server, and signed
//! decision log checkpoints. Each attack of issue 15 is a test here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use common::{Run, redis_server, temp_dir, writ_in};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use writ_evaluator::bundle::{self, SigningKey};
use writ_evaluator::statement::Statement;
use writ_evaluator::{RequestValue, Timestamp};

const POLICY: &str = r#"role dev {
  may deploy
}

role lead

tool deploy

evidence approval by human bound
evidence tests_passed bound

workflow w {
  allow deploy require 2 approval by lead
}
"#;

const SUBJECT: &str = "sha256:9f2c";

/// Issued long ago, valid for ten years: statements that do not change from run to run.
const ISSUED: &str = "2026-01-01T00:00:00Z";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn public(seed: u8) -> String {
    bundle::encode_verifying_key(&key(seed).verifying_key()).trim().to_owned()
}

/// A directory with the policy, the key files of `lee` (1), `kim` (2), `dev` (3), `ci` (4)
/// and an outsider (9), and a trust file: lee, kim and dev are leads (dev is also the one who
/// asks), ci may attest only `tests_passed`.
fn setup(name: &str) -> PathBuf {
    let dir = temp_dir("evidence", name);
    std::fs::write(dir.join("policy.writ"), POLICY).unwrap();
    for (seed, name) in [(1, "lee"), (2, "kim"), (3, "dev"), (4, "ci"), (9, "outsider")] {
        std::fs::write(dir.join(format!("{name}.key")), bundle::encode_signing_key(&key(seed)))
            .unwrap();
        std::fs::write(dir.join(format!("{name}.pub")), format!("{}\n", public(seed))).unwrap();
    }
    let lead = |seed: u8, id: &str| json!({"key": public(seed), "principal": {"id": id, "kind": "human", "roles": ["lead"]}});
    let trust = json!({"signers": [
        lead(1, "lee"),
        lead(2, "kim"),
        lead(3, "dev"),
        {"key": public(4), "principal": {"id": "ci", "kind": "service"}, "may_attest": ["tests_passed"]},
    ]});
    std::fs::write(dir.join("trust.json"), serde_json::to_string_pretty(&trust).unwrap()).unwrap();
    std::fs::write(dir.join("request.json"), request(SUBJECT).to_string()).unwrap();
    std::fs::create_dir_all(dir.join("evidence")).unwrap();
    dir
}

fn request(subject: &str) -> Json {
    json!({"action": "call", "workflow": "w", "tool": "deploy", "subject": subject,
           "chain": [{"id": "dev", "kind": "human", "roles": ["dev"]}, {"id": "bot", "kind": "agent"}]})
}

/// `writ attest approval` by `signer` into `evidence/NAME.json`; the statement's text. `extra`
/// flags replace the defaults (`--subject`, `--issued-at`, `--expires`) or add to them.
fn attest(dir: &Path, signer: &str, name: &str, extra: &[&str]) -> String {
    let out = format!("evidence/{name}.json");
    let key = format!("{signer}.key");
    let mut args = vec!["attest", "approval", "--key", &key, "-o", &out];
    for (flag, default) in [("--subject", SUBJECT), ("--issued-at", ISSUED), ("--expires", "3650d")]
    {
        if !extra.contains(&flag) {
            args.extend([flag, default]);
        }
    }
    args.extend(extra);
    let Run { code, stderr, .. } = writ_in(dir, &args);
    assert_eq!(code, 0, "{stderr}");
    std::fs::read_to_string(dir.join(out)).unwrap()
}

/// `writ eval --trust trust.json --evidence PATHS` on `request.json`: (decision, stderr).
fn eval(dir: &Path, paths: &[&str]) -> (Json, String) {
    let mut args = vec!["eval", "--policy", "policy.writ", "--request", "request.json"];
    args.extend(["--trust", "trust.json", "--evidence"]);
    args.extend(paths);
    let Run { code, stdout, stderr } = writ_in(dir, &args);
    assert_eq!(code, 0, "{stderr}");
    (serde_json::from_str(&stdout).unwrap(), stderr)
}

fn outcome(decision: &Json) -> (&str, i64) {
    (decision["decision"].as_str().unwrap(), decision["missing"][0]["have"].as_i64().unwrap_or(-1))
}

#[test]
fn attest_writes_a_deterministic_statement() {
    let dir = setup("attest");
    let text = attest(&dir, "lee", "lee", &["--field", "ticket=REL-1", "--field", "n=3"]);
    insta::assert_snapshot!(text);
    // Standard output by default, the same bytes.
    let Run { code, stdout, .. } = writ_in(
        &dir,
        &[
            "attest",
            "approval",
            "--key",
            "lee.key",
            "--subject",
            SUBJECT,
            "--issued-at",
            ISSUED,
            "--expires",
            "3650d",
            "--field",
            "ticket=REL-1",
            "--field",
            "n=3",
        ],
    );
    assert_eq!((code, stdout.as_str()), (0, text.as_str()));
    // Usage errors exit 2.
    for bad in [
        vec!["attest", "approval", "--key", "nope.key", "--subject", SUBJECT],
        vec!["attest", "approval", "--key", "lee.pub", "--subject", SUBJECT],
        vec!["attest", "approval", "--key", "lee.key", "--subject", ""],
        vec!["attest", "approval", "--key", "lee.key", "--subject", SUBJECT, "--expires", "1y"],
        vec!["attest", "approval", "--key", "lee.key", "--subject", SUBJECT, "--field", "novalue"],
        vec!["attest", "approval", "--key", "lee.key", "--subject", SUBJECT, "--field", "x=1.5"],
        vec![
            "attest",
            "approval",
            "--key",
            "lee.key",
            "--subject",
            SUBJECT,
            "--issued-at",
            "today",
        ],
    ] {
        let Run { code, stdout, stderr } = writ_in(&dir, &bad);
        assert_eq!(code, 2, "{bad:?}: {stdout}{stderr}");
        assert!(stdout.is_empty() && !stderr.is_empty(), "{bad:?}");
    }
}

#[test]
fn two_leads_allow_and_explain_names_the_statements() {
    let dir = setup("allow");
    attest(&dir, "lee", "lee", &[]);
    attest(&dir, "kim", "kim", &[]);
    let (decision, stderr) = eval(&dir, &["evidence"]);
    assert_eq!(outcome(&decision).0, "allow", "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    let Run { code, stdout, .. } = writ_in(
        &dir,
        &[
            "eval",
            "--policy",
            "policy.writ",
            "--request",
            "request.json",
            "--trust",
            "trust.json",
            "--evidence",
            "evidence",
            "--explain",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0);
    let value: Json = serde_json::from_str(&stdout).unwrap();
    insta::assert_json_snapshot!(value["statements"]);
    // Without the statements: pending.
    let Run { code, stdout, .. } =
        writ_in(&dir, &["eval", "--policy", "policy.writ", "--request", "request.json"]);
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Json>(&stdout).unwrap()["decision"], "pending");
}

#[test]
fn a_tampered_statement_never_counts() {
    let dir = setup("tampered");
    attest(&dir, "kim", "kim", &[]);
    let text = attest(&dir, "lee", "lee", &[]);
    let lee = dir.join("evidence/lee.json");
    // Every byte flipped, one at a time (a few bit patterns each): never allow.
    let mut checked = 0;
    for i in (0..text.len()).step_by(7) {
        let mut bytes = text.clone().into_bytes();
        bytes[i] ^= 0x01;
        std::fs::write(&lee, &bytes).unwrap();
        let (decision, stderr) = eval(&dir, &["evidence"]);
        assert_eq!(outcome(&decision), ("pending", 1), "byte {i}: {stderr}");
        assert!(
            stderr.contains("evidence/lee.json") && stderr.contains("ignored"),
            "byte {i}: {stderr}"
        );
        checked += 1;
    }
    assert!(checked > 50);
    // Any field changed (and the JSON re-written): a bad signature.
    let original: Json = serde_json::from_str(&text).unwrap();
    for (field, value) in [
        ("kind", json!("tests_passed")),
        ("subject", json!("sha256:other")),
        ("fields", json!({"ticket": "X"})),
        ("issued_at", json!("2026-01-02T00:00:00Z")),
        ("expires_at", json!("2099-01-01T00:00:00Z")),
        ("signer", json!(public(2))),
    ] {
        let mut changed = original.clone();
        changed[field] = value;
        std::fs::write(&lee, changed.to_string()).unwrap();
        let (decision, stderr) = eval(&dir, &["evidence"]);
        assert_eq!(outcome(&decision), ("pending", 1), "{field}: {stderr}");
        assert!(stderr.contains("ignored"), "{field}: {stderr}");
    }
    // A `by` added beside the signed fields (claiming another giver): malformed.
    let mut added = original.clone();
    added["by"] = json!({"id": "boss", "kind": "human", "roles": ["lead"]});
    std::fs::write(&lee, added.to_string()).unwrap();
    let (_, stderr) = eval(&dir, &["evidence"]);
    assert!(stderr.contains("unknown key `by`"), "{stderr}");
}

#[test]
fn rejected_statements_are_reported_and_ignored() {
    let dir = setup("rejected");
    attest(&dir, "outsider", "a-outsider", &[]);
    // ci may only attest tests_passed.
    let Run { code, stderr, .. } = writ_in(
        &dir,
        &[
            "attest",
            "approval",
            "--key",
            "ci.key",
            "--subject",
            SUBJECT,
            "--issued-at",
            ISSUED,
            "--expires",
            "3650d",
            "-o",
            "evidence/b-ci.json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    attest(&dir, "lee", "c-expired", &["--issued-at", "2026-01-01T00:00:00Z", "--expires", "1h"]);
    attest(&dir, "lee", "d-future", &["--issued-at", "2099-01-01T00:00:00Z"]);
    attest(&dir, "lee", "e-other", &["--subject", "sha256:other"]);
    std::fs::write(dir.join("evidence/f-junk.json"), "not a statement").unwrap();
    let (decision, stderr) = eval(&dir, &["evidence"]);
    assert_eq!(outcome(&decision), ("pending", 0));
    let lines: Vec<&str> = stderr.lines().collect();
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn no_self_approval_and_one_signer_counts_once() {
    let dir = setup("self");
    attest(&dir, "lee", "lee", &[]);
    // dev is a trusted lead, but dev is the one asking.
    attest(&dir, "dev", "dev", &[]);
    let (decision, _) = eval(&dir, &["evidence"]);
    assert_eq!(outcome(&decision), ("pending", 1));
    // lee twice (two statements, an hour apart): still one approval.
    std::fs::remove_file(dir.join("evidence/dev.json")).unwrap();
    attest(&dir, "lee", "lee-again", &["--issued-at", "2026-01-01T01:00:00Z"]);
    let (decision, _) = eval(&dir, &["evidence"]);
    assert_eq!(outcome(&decision), ("pending", 1));
    // The very same statement twice: reported as a duplicate.
    let (decision, stderr) = eval(&dir, &["evidence/lee.json", "evidence/lee.json"]);
    assert_eq!(outcome(&decision), ("pending", 1));
    assert!(stderr.contains("the same statement was given twice"), "{stderr}");
}

#[test]
fn a_bad_trust_file_is_a_start_up_error_naming_the_entry() {
    let dir = setup("trust");
    let entry = |key: &str, id: &str| json!({"key": key, "principal": {"id": id, "kind": "human"}});
    let cases = [
        json!({"signers": [entry(&public(1), "lee"), entry(&public(2), "kim"), entry(&public(1), "bob")]}),
        json!({"signers": [entry(&public(1), "lee"), entry("writ-ed25519-public:1234", "kim")]}),
        json!({"signers": [entry(&public(1), "lee"), entry(&public(2).replace("writ-ed25519-public", "writ-ed25519-secret"), "kim")]}),
        json!({"signers": [{"key": public(1), "principal": {"id": "lee", "kind": "human"}, "may_atest": []}]}),
    ];
    let mut messages = Vec::new();
    for trust in cases {
        std::fs::write(dir.join("bad-trust.json"), trust.to_string()).unwrap();
        for command in [
            vec![
                "eval",
                "--policy",
                "policy.writ",
                "--request",
                "request.json",
                "--trust",
                "bad-trust.json",
                "--evidence",
                "evidence",
            ],
            vec![
                "serve",
                "--policy",
                "policy.writ",
                "--addr",
                "127.0.0.1:0",
                "--trust",
                "bad-trust.json",
            ],
        ] {
            let Run { code, stdout, stderr } = writ_in(&dir, &command);
            assert_eq!(code, 2, "{stdout}{stderr}");
            messages.push(stderr.trim().to_string());
        }
    }
    insta::assert_snapshot!(messages.join("\n"));
}

#[test]
fn ten_thousand_statements_for_one_subject_are_bounded() {
    let dir = setup("many");
    let at = |t: &str| Timestamp::parse(t).unwrap();
    let mut lines = String::new();
    for i in 0..10_000 {
        let s = Statement::sign(
            &key(1),
            "approval",
            SUBJECT,
            vec![("n".into(), RequestValue::Int(i))],
            at(ISSUED),
            at("2036-01-01T00:00:00Z"),
        )
        .unwrap();
        lines.push_str(&s.to_json());
        lines.push('\n');
    }
    std::fs::write(dir.join("evidence/many.jsonl"), lines).unwrap();
    attest(&dir, "kim", "zz-kim", &[]);
    let started = Instant::now();
    let (decision, stderr) = eval(&dir, &["evidence"]);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "{took:?}");
    // lee counts once; kim's statement comes after the first 1,000 for the subject: not
    // verified, and said so.
    assert_eq!(outcome(&decision), ("pending", 1));
    assert!(
        stderr.contains("9001 statements for the subject were not verified (at most 1000 are)"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// writ serve

struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, args: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_writ"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--policy",
            "policy.writ",
            "--trust",
            "trust.json",
        ])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run writ serve");
    let pipe = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("writ serve: listening on http://") {
                let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(120)).expect("writ serve started");
    Served { child, addr }
}

fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head.split(' ').nth(1).unwrap().parse().unwrap(), body.to_string())
}

fn decide(addr: SocketAddr, subject: &str) -> (String, i64) {
    let (status, body) = http(addr, "POST", "/v1/decide", &request(subject).to_string());
    assert_eq!(status, 200, "{body}");
    let d: Json = serde_json::from_str(&body).unwrap();
    let (o, h) = outcome(&d);
    (o.to_string(), h)
}

#[test]
fn serve_takes_statements_and_decides_with_them() {
    let dir = setup("serve");
    let lee = attest(&dir, "lee", "lee", &[]);
    let kim = attest(&dir, "kim", "kim", &[]);
    let dev = attest(&dir, "dev", "dev", &[]);
    let outsider = attest(&dir, "outsider", "outsider", &[]);
    let expired = attest(&dir, "lee", "expired", &["--expires", "1h"]);
    let served = serve(&dir, &["--decision-log", "decisions.jsonl"]);
    let addr = served.addr;

    assert_eq!(decide(addr, SUBJECT), ("pending".into(), 0));
    let mut answers = Vec::new();
    let mut tampered = lee.clone().into_bytes();
    tampered[lee.find("approval").unwrap()] ^= 1;
    let tampered = String::from_utf8(tampered).unwrap();
    for body in
        [&lee, &lee, &dev, &outsider, &expired, &tampered, &"{}".to_string(), &"[1".to_string()]
    {
        let (status, body) = http(addr, "POST", "/v1/evidence", body);
        let body: Json = serde_json::from_str(&body).unwrap();
        answers.push(json!({"status": status, "body": body}));
    }
    insta::assert_json_snapshot!(answers);
    // lee alone (dev may not approve their own call): pending, 1 of 2.
    assert_eq!(decide(addr, SUBJECT), ("pending".into(), 1));
    assert_eq!(http(addr, "POST", "/v1/evidence", &kim).0, 201);
    assert_eq!(decide(addr, SUBJECT), ("allow".into(), -1));
    // Another subject has nothing.
    assert_eq!(decide(addr, "sha256:other"), ("pending".into(), 0));

    let (status, body) = http(addr, "GET", "/v1/evidence?subject=sha256%3A9f2c", "");
    assert_eq!(status, 200);
    let listed: Json = serde_json::from_str(&body).unwrap();
    let signers: Vec<&str> = listed["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["signer"].as_str().unwrap())
        .collect();
    assert_eq!(signers.len(), 3, "lee, dev and kim are held: {body}");
    assert!(signers.contains(&public(2).as_str()));
    assert_eq!(http(addr, "GET", "/v1/evidence", "").0, 400);
    drop(served);

    // The decision log names the statements that counted (digests and signers).
    let log = std::fs::read_to_string(dir.join("decisions.jsonl")).unwrap();
    let allowed: Json =
        serde_json::from_str(log.lines().find(|l| l.contains("\"decision\":\"allow\"")).unwrap())
            .unwrap();
    let counted: Vec<&str> = allowed["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["signer"].as_str().unwrap())
        .collect();
    let mut counted = counted;
    counted.sort_unstable();
    assert_eq!(counted, ["dev", "kim", "lee"]);
    let Run { code, stderr, .. } = writ_in(&dir, &["log", "verify", "decisions.jsonl"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn serve_holds_a_bounded_number_of_statements_per_subject() {
    let dir = setup("serve-bounded");
    let served = serve(&dir, &[]);
    let at = |t: &str| Timestamp::parse(t).unwrap();
    let started = Instant::now();
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..1_010 {
        let s = Statement::sign(
            &key(1),
            "approval",
            SUBJECT,
            vec![("n".into(), RequestValue::Int(i))],
            at(ISSUED),
            at("2036-01-01T00:00:00Z"),
        )
        .unwrap();
        let (status, _) = http(served.addr, "POST", "/v1/evidence", &s.to_json());
        *statuses.entry(status).or_insert(0) += 1;
    }
    assert_eq!(statuses, [(201, 1_000), (507, 10)].into_iter().collect());
    assert_eq!(decide(served.addr, SUBJECT), ("pending".into(), 1));
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn replicas_sharing_redis_share_statements() {
    let Some(redis) = redis_server() else { return };
    let dir = setup("redis");
    let lee = attest(&dir, "lee", "lee", &[]);
    let kim = attest(&dir, "kim", "kim", &[]);
    let url = format!("redis://127.0.0.1:{}/0", redis.port);
    let prefix = format!("writ-evidence-test-{}:", std::process::id());
    let args = ["--history", &url, "--history-prefix", &prefix];
    let (a, b) = (serve(&dir, &args), serve(&dir, &args));
    assert_eq!(http(a.addr, "POST", "/v1/evidence", &lee).0, 201);
    assert_eq!(decide(b.addr, SUBJECT), ("pending".into(), 1));
    let (status, body) = http(b.addr, "POST", "/v1/evidence", &lee);
    assert_eq!(status, 201);
    assert!(body.contains("\"held\":\"already\""), "{body}");
    assert_eq!(http(b.addr, "POST", "/v1/evidence", &kim).0, 201);
    assert_eq!(decide(a.addr, SUBJECT), ("allow".into(), -1));
    let (_, body) = http(a.addr, "GET", &format!("/v1/evidence?subject={SUBJECT}"), "");
    assert_eq!(
        serde_json::from_str::<Json>(&body).unwrap()["statements"].as_array().unwrap().len(),
        2
    );
    // An expired statement is not held.
    let expired = attest(&dir, "lee", "expired", &["--expires", "1h"]);
    assert_eq!(http(a.addr, "POST", "/v1/evidence", &expired).0, 403);
}

// ---------------------------------------------------------------------------------------------
// The Claude Code hook

const HOOK_POLICY: &str = r#"tool claude.bash(command: command) [exec]

evidence approval by human bound

role engineer {
  may claude.*
}

role lead

workflow coding {
  start by engineer
  max_depth 2
  allow claude.bash when command runs only [["git", "status"]]
  allow claude.bash when command runs only [["git", "push", ...]] require approval by lead
}
"#;

fn payload(command: &str, call: u32) -> String {
    json!({
        "session_id": "0f5c6a2e-3b1d-4c8e-9a7f-2d4b6e8f1a3c",
        "cwd": "/work/acme",
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": command, "description": "Push the branch"},
        "tool_use_id": format!("toolu_0100000000000000000000000{call}"),
    })
    .to_string()
}

fn hook(dir: &Path, evidence: &[&str], input: &str) -> (String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(["hook", "claude-code", "--policy", "hook.writ", "--workflow", "coding"])
        .args(["--identity", "identity.json", "--state-dir", "state", "--trust", "trust.json"])
        .args(["--decision-log", "decisions.jsonl"])
        .args(evidence)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run writ hook");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let answer: Json = serde_json::from_slice(&out.stdout).unwrap();
    let output = &answer["hookSpecificOutput"];
    (
        output["permissionDecision"].as_str().unwrap().to_string(),
        output["permissionDecisionReason"].as_str().unwrap().to_string(),
    )
}

fn hook_setup(name: &str) -> PathBuf {
    let dir = setup(name);
    std::fs::write(dir.join("hook.writ"), HOOK_POLICY).unwrap();
    std::fs::write(
        dir.join("identity.json"),
        json!({"id": "ana@acme.dev", "kind": "human", "roles": ["engineer"]}).to_string(),
    )
    .unwrap();
    dir
}

/// The `writ attest` command the pending answer gives, run as the reviewer `lee`.
fn run_reviewer_command(dir: &Path, reason: &str) {
    let start = reason.find("`writ attest ").expect("an attest command") + 1;
    let end = start + reason[start..].find('`').unwrap();
    let command = reason[start..end].replace("REVIEWER.key", "lee.key");
    let status = Command::new("sh")
        .args(["-c", &command.replacen("writ", env!("CARGO_BIN_EXE_writ"), 1)])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "{command}");
}

#[test]
fn a_pending_git_push_is_allowed_once_a_lead_attests_that_very_call() {
    let dir = hook_setup("hook");
    let evidence = ["--evidence", "evidence"];
    let push = payload("git push -u origin fix/flaky-test", 1);
    let (decision, reason) = hook(&dir, &evidence, &push);
    assert_eq!(decision, "deny");
    let subject = reason.split("Its subject is ").nth(1).unwrap().split('.').next().unwrap();
    let evidence_dir = std::fs::canonicalize(dir.join("evidence")).unwrap();
    let shown =
        reason.replace(subject, "SUBJECT").replace(evidence_dir.to_str().unwrap(), "EVIDENCE");
    insta::assert_snapshot!(shown);

    // A lead's statement for another command does not count.
    let other = payload("git push origin main", 2);
    let (_, other_reason) = hook(&dir, &evidence, &other);
    run_reviewer_command(&dir, &other_reason.replace("NAME.json", "other.json"));
    assert_eq!(hook(&dir, &evidence, &push).0, "deny");

    // The lead runs the command the answer gave: the agent's retry is allowed.
    run_reviewer_command(&dir, &reason.replace("NAME.json", "push.json"));
    let (decision, reason) = hook(&dir, &evidence, &push);
    assert_eq!(decision, "allow", "{reason}");
    // The decision log names the statement that counted, and its signer.
    let log = std::fs::read_to_string(dir.join("decisions.jsonl")).unwrap();
    let last: Json = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(last["decision"], "allow");
    assert_eq!(last["statements"][0]["signer"], "lee");
    assert_eq!(writ_in(&dir, &["log", "verify", "decisions.jsonl"]).code, 0);
}

#[test]
fn the_hook_asks_an_evidence_server_and_fails_closed_without_one() {
    let dir = hook_setup("hook-server");
    let served = serve(&dir, &[]);
    let url = format!("http://{}", served.addr);
    let evidence = ["--evidence-server", &url];
    let push = payload("git push -u origin fix/flaky-test", 1);
    let (decision, reason) = hook(&dir, &evidence, &push);
    assert_eq!(decision, "deny");
    assert!(reason.contains(&format!("| curl --data-binary @- {url}/v1/evidence")), "{reason}");
    run_reviewer_command(&dir, &reason);
    assert_eq!(hook(&dir, &evidence, &push).0, "allow");
    drop(served);
    // The server gone: no statements, the call is pending again (denied), saying why.
    let (decision, reason) =
        hook(&dir, &evidence, &payload("git push -u origin fix/flaky-test", 2));
    assert_eq!(decision, "deny");
    assert!(reason.contains("no statements from the evidence server"), "{reason}");
}

// ---------------------------------------------------------------------------------------------
// Signed log checkpoints

#[test]
fn a_checkpoint_detects_a_cut_tail_and_a_rewritten_chain() {
    let dir = setup("checkpoint");
    // A log of 5 decisions.
    let mut log = writ_evaluator::log::DecisionLog::new(Vec::new());
    let text = request(SUBJECT).to_string();
    let request = writ_evaluator::Request::from_json(&text).unwrap();
    let decision = writ_evaluator::Decision {
        decision: writ_evaluator::Outcome::Deny,
        missing: vec![],
        rules: Default::default(),
        reasons: vec![],
        ttl_seconds: None,
        policy: "sha256:00".into(),
    };
    for _ in 0..5 {
        log.record(&request, &decision, &writ_evaluator::log::digest(b"p")).unwrap();
    }
    let text = String::from_utf8(log.into_inner()).unwrap();
    std::fs::write(dir.join("log.jsonl"), &text).unwrap();
    let Run { code, stdout, stderr } =
        writ_in(&dir, &["log", "checkpoint", "log.jsonl", "--key", "lee.key"]);
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(dir.join("log.checkpoint"), &stdout).unwrap();
    let verify = |file: &str, key: &str| {
        writ_in(
            &dir,
            &["log", "verify", file, "--checkpoint", "log.checkpoint", "--verify-key", key],
        )
    };
    assert_eq!(verify("log.jsonl", "lee.pub").code, 0);

    // Lines appended after the checkpoint are fine.
    let mut longer = text.clone();
    longer.push_str(text.lines().last().unwrap());
    longer.push('\n');
    let lines: Vec<&str> = text.lines().collect();
    // Deleted tail lines: the chain alone accepts it, the checkpoint does not.
    std::fs::write(dir.join("cut.jsonl"), format!("{}\n", lines[..3].join("\n"))).unwrap();
    assert_eq!(writ_in(&dir, &["log", "verify", "cut.jsonl"]).code, 0);
    let Run { code, stderr, .. } = verify("cut.jsonl", "lee.pub");
    assert_eq!(code, 1);
    assert!(stderr.contains("the log has 3 lines, but the checkpoint saw 5"), "{stderr}");

    // A rewritten chain: line 2 changed and every `prev` after it recomputed.
    let mut rewritten = Vec::new();
    let mut prev: Option<String> = None;
    for (i, line) in lines.iter().enumerate() {
        let mut value: Json = serde_json::from_str(line).unwrap();
        value["prev"] = prev.clone().map_or(Json::Null, Json::String);
        if i == 1 {
            value["decision"] = json!("allow");
        }
        let line = value.to_string();
        prev = Some(writ_evaluator::log::digest(line.as_bytes()));
        rewritten.push(line);
    }
    std::fs::write(dir.join("rewritten.jsonl"), format!("{}\n", rewritten.join("\n"))).unwrap();
    assert_eq!(writ_in(&dir, &["log", "verify", "rewritten.jsonl"]).code, 0);
    let Run { code, stderr, .. } = verify("rewritten.jsonl", "lee.pub");
    assert_eq!(code, 1);
    assert!(stderr.contains("the log was rewritten up to that line"), "{stderr}");

    // Another key, or a checkpoint altered: refused.
    assert_eq!(verify("log.jsonl", "kim.pub").code, 1);
    let altered = stdout.replace("\"lines\":5", "\"lines\":3");
    std::fs::write(dir.join("log.checkpoint"), altered).unwrap();
    let Run { code, stderr, .. } = verify("cut.jsonl", "lee.pub");
    assert_eq!(code, 1);
    assert!(stderr.contains("signature does not verify"), "{stderr}");
}

#[test]
fn serve_writes_checkpoints_of_its_decision_log() {
    let dir = setup("serve-checkpoint");
    let served = serve(
        &dir,
        &[
            "--decision-log",
            "decisions.jsonl",
            "--checkpoint-every",
            "1",
            "--checkpoint-key",
            "lee.key",
        ],
    );
    for _ in 0..3 {
        decide(served.addr, SUBJECT);
    }
    std::thread::sleep(Duration::from_millis(1100));
    decide(served.addr, SUBJECT);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.join("decisions.jsonl.checkpoint").exists() {
        assert!(Instant::now() < deadline, "no checkpoint written");
        std::thread::sleep(Duration::from_millis(50));
    }
    let Run { code, stdout, stderr } = writ_in(
        &dir,
        &[
            "log",
            "verify",
            "decisions.jsonl",
            "--checkpoint",
            "decisions.jsonl.checkpoint",
            "--verify-key",
            "lee.pub",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let summary: Json = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["checkpoint"]["lines"], 4);
    // Serve refuses a checkpoint without a log file.
    let Run { code, stderr, .. } = writ_in(
        &dir,
        &[
            "serve",
            "--policy",
            "policy.writ",
            "--addr",
            "127.0.0.1:0",
            "--checkpoint-every",
            "5",
            "--checkpoint-key",
            "lee.key",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn serve_can_count_signed_statements_only() {
    let dir = setup("signed-only");
    let lee = attest(&dir, "lee", "lee", &[]);
    let mut claimed = request(SUBJECT);
    let boss = |id: &str| {
        json!({"kind": "approval", "subject": SUBJECT,
        "by": {"id": id, "kind": "human", "roles": ["lead"]}})
    };
    claimed["evidence"] = json!([boss("boss"), boss("chief")]);
    let decide_claimed = |addr| {
        let (status, body) = http(addr, "POST", "/v1/decide", &claimed.to_string());
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Json>(&body).unwrap()["decision"].as_str().unwrap().to_string()
    };
    // By default the request's own items count (the gateway is trusted for them) ...
    let open = serve(&dir, &[]);
    assert_eq!(decide_claimed(open.addr), "allow");
    // ... with --signed-evidence-only, only statements do.
    let strict = serve(&dir, &["--signed-evidence-only"]);
    assert_eq!(decide_claimed(strict.addr), "pending");
    assert_eq!(http(strict.addr, "POST", "/v1/evidence", &lee).0, 201);
    let (status, body) = http(strict.addr, "POST", "/v1/decide", &claimed.to_string());
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Json>(&body).unwrap()["missing"][0]["have"], 1);
}
