//! `writ mcp-proxy` against a tiny fake upstream (tests/mcp-proxy/fake_upstream.py): decisions
//! on `tools/call`, `tools/list` filtering, and the failure cases (malformed messages from either
//! side, an upstream that crashes, hangs or answers late, a client that disconnects). The
//! end-to-end test against the real filesystem MCP server is `.ci/mcp-proxy.sh`.
//!
//! No assertion here is about time: the timeouts given are the proxy's own, and waiting for a
//! line is bounded only so that a broken proxy fails the test instead of hanging it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Proxy {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    record: PathBuf,
    dir: PathBuf,
}

impl Proxy {
    fn start(name: &str, mode: &str, extra: &[&str]) -> Proxy {
        Proxy::start_with(
            name,
            mode,
            ["tests/mcp-proxy/policy.writ", "tests/mcp-proxy/identity.json"],
            extra,
        )
    }

    /// With another `[policy, identity]`.
    fn start_with(name: &str, mode: &str, files: [&str; 2], extra: &[&str]) -> Proxy {
        let [policy, identity] = files;
        let dir = std::env::temp_dir().join(format!("writ-mcp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let record = dir.join("record.jsonl");
        let mut child = Command::new(env!("CARGO_BIN_EXE_writ"))
            .args(["mcp-proxy", "--policy", policy])
            .args(["--workflow", "fs_agent", "--identity", identity])
            .args(["--server", "fs"])
            .args(extra)
            .arg("--")
            .args(["python3", "tests/mcp-proxy/fake_upstream.py", mode])
            .arg(&record)
            .current_dir(root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run writ mcp-proxy");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proxy { child, stdin, lines, record, dir }
    }

    fn send_raw(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    fn send(&mut self, message: Value) {
        self.send_raw(&message.to_string());
    }

    /// The next message from the proxy (a generous bound guards against a hung proxy).
    fn recv(&self) -> Value {
        match self.lines.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"))
            }
            Err(RecvTimeoutError::Timeout) => panic!("the proxy sent nothing for 60s"),
            Err(RecvTimeoutError::Disconnected) => panic!("the proxy closed its output"),
        }
    }

    /// Whether the proxy closes its output with no further message.
    fn closes(&self) -> bool {
        matches!(
            self.lines.recv_timeout(Duration::from_secs(60)),
            Err(RecvTimeoutError::Disconnected)
        )
    }

    fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let answer = self.recv();
        assert_eq!(answer["id"], json!(id), "{answer}");
        answer
    }

    fn initialize(&mut self) {
        let answer = self.request(
            0,
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "test-agent", "version": "1"}}),
        );
        assert_eq!(answer["result"]["serverInfo"]["name"], "fake");
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    }

    fn call(&mut self, id: i64, tool: &str, arguments: Value) -> Value {
        self.request(id, "tools/call", json!({"name": tool, "arguments": arguments}))
    }

    /// Closes the proxy's input and waits for it to exit; returns its status and what the
    /// upstream received.
    fn finish(mut self) -> (i32, Vec<Value>) {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        let recorded = std::fs::read_to_string(&self.record).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&self.dir);
        let received =
            recorded.lines().map(|l| serde_json::from_str(l).unwrap_or(json!(l))).collect();
        (status.code().unwrap_or(-1), received)
    }
}

fn methods(received: &[Value]) -> Vec<String> {
    received.iter().map(|m| m["method"].as_str().unwrap_or("<answer>").to_string()).collect()
}

fn text(answer: &Value) -> String {
    answer["result"]["content"][0]["text"].as_str().unwrap_or_default().to_string()
}

#[test]
fn calls_are_decided_with_their_arguments() {
    let mut p = Proxy::start("decide", "normal", &[]);
    p.initialize();

    let allowed = p.call(1, "read_text_file", json!({"path": "/tmp/x/project/a.txt"}));
    assert_eq!(text(&allowed), r#"called read_text_file {"path": "/tmp/x/project/a.txt"}"#);

    let denied = p.call(2, "read_text_file", json!({"path": "/etc/shadow"}));
    assert_eq!(denied["result"]["isError"], true);
    insta::assert_snapshot!("denied", text(&denied));

    let pending =
        p.call(3, "write_file", json!({"path": "/tmp/x/project/drafts/a.txt", "content": "x"}));
    assert_eq!(pending["result"]["isError"], true);
    insta::assert_snapshot!("pending", text(&pending));

    let undeclared = p.call(4, "create_directory", json!({"path": "/tmp/x/project/new"}));
    assert_eq!(undeclared["result"]["isError"], true);
    insta::assert_snapshot!("undeclared", text(&undeclared));

    // Arguments a tool does not declare are ignored; declared ones are type-checked.
    let extra = p.call(5, "read_text_file", json!({"path": "/tmp/x/project/a.txt", "head": 3}));
    assert!(text(&extra).starts_with("called read_text_file"));
    let wrong = p.call(6, "read_text_file", json!({"path": ["/tmp/x/project/a.txt"]}));
    assert_eq!(wrong["result"]["isError"], true);
    assert!(text(&wrong).contains("argument `path` of mcp.fs.read_text_file must be a path"));

    let (code, received) = p.finish();
    assert_eq!(code, 0);
    let calls: Vec<&Value> = received.iter().filter(|m| m["method"] == "tools/call").collect();
    assert_eq!(calls.len(), 2, "only the allowed calls reach the upstream: {received:?}");
    assert_eq!(calls[0]["id"], 1);
    assert_eq!(calls[1]["id"], 5);
}

#[test]
fn tools_list_shows_only_what_the_run_may_call() {
    let mut p = Proxy::start("list", "normal", &[]);
    p.initialize();
    let answer = p.request(1, "tools/list", json!({}));
    let names: Vec<&str> = answer["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    // `move_file` is declared but never allowed; `create_directory` is not declared.
    assert_eq!(names, ["read_text_file", "write_file"]);
    assert_eq!(answer["result"]["nextCursor"], "page-2", "the rest of the answer is kept");
    let (code, _) = p.finish();
    assert_eq!(code, 0);
}

#[test]
fn other_messages_are_relayed_unchanged() {
    let mut p = Proxy::start("relay", "normal", &[]);
    p.initialize();
    let raw = r#"{"jsonrpc":"2.0","id":"abc","method":"ping","params":{"_meta":{"x":[1,2.50,"\u00e9"]}}}"#;
    p.send_raw(raw);
    assert_eq!(p.recv(), json!({"jsonrpc": "2.0", "id": "abc", "result": {}}));
    let (_, received) = p.finish();
    let ping = received.iter().find(|m| m["method"] == "ping").unwrap();
    assert_eq!(ping, &serde_json::from_str::<Value>(raw).unwrap());
}

#[test]
fn malformed_client_messages_are_answered_and_never_forwarded() {
    let mut p = Proxy::start("malformed", "normal", &[]);
    p.initialize();
    p.send_raw("this is not json");
    let e = p.recv();
    assert_eq!((e["id"].clone(), e["error"]["code"].clone()), (Value::Null, json!(-32700)));

    // Two `arguments` keys: a parser keeping the first and one keeping the last disagree.
    p.send_raw(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_text_file","arguments":{"path":"/tmp/x/project/a"},"arguments":{"path":"/etc/shadow"}}}"#,
    );
    let e = p.recv();
    assert_eq!(e["error"]["code"], -32700);
    assert!(e["error"]["message"].as_str().unwrap().contains("duplicate key `arguments`"));

    p.send_raw(
        r#"[{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"read_text_file"}}]"#,
    );
    assert_eq!(p.recv()["error"]["code"], -32600);
    p.send_raw("42");
    assert_eq!(p.recv()["error"]["code"], -32600);

    let e = p.request(3, "tools/call", json!({"name": "read_text_file", "arguments": "path"}));
    assert_eq!(e["error"]["code"], -32602);
    let e = p.request(4, "tools/call", json!({"arguments": {}}));
    assert_eq!(e["error"]["code"], -32602);

    // A `tools/call` without an id is dropped (nobody could be told the decision).
    p.send(json!({"jsonrpc": "2.0", "method": "tools/call",
                  "params": {"name": "read_text_file", "arguments": {"path": "/tmp/x/project/a"}}}));
    // Blank lines are skipped.
    p.send_raw("   ");
    assert_eq!(p.request(5, "ping", json!({}))["result"], json!({}));

    let (code, received) = p.finish();
    assert_eq!(code, 0);
    assert_eq!(methods(&received), ["initialize", "notifications/initialized", "ping"]);
}

#[test]
fn malformed_upstream_messages_are_dropped() {
    let mut p = Proxy::start("noisy", "noisy", &[]);
    p.initialize();
    let answer = p.call(1, "read_text_file", json!({"path": "/tmp/x/project/a.txt"}));
    assert!(text(&answer).starts_with("called read_text_file"));
    let answer = p.request(2, "tools/list", json!({}));
    assert_eq!(answer["result"]["tools"].as_array().unwrap().len(), 2);
    let (code, _) = p.finish();
    assert_eq!(code, 0);
}

#[test]
fn an_upstream_crash_answers_what_was_forwarded_and_invents_nothing() {
    let dir = std::env::temp_dir().join(format!("writ-mcp-crash-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("decisions.jsonl");
    let log_arg = log.to_string_lossy().into_owned();
    let mut p = Proxy::start("crash", "crash", &["--decision-log", &log_arg]);
    p.initialize();
    let answer = p.call(1, "read_text_file", json!({"path": "/tmp/x/project/a.txt"}));
    assert_eq!(answer["error"]["code"], -32603);
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("exited"), "{message}");
    assert!(message.contains("may or may not have run"), "{message}");
    assert!(p.closes());
    let (code, _) = p.finish();
    assert_eq!(code, 1);
    // The run's start (at `initialize`), then the decision (allow), logged before the call
    // went out; nothing else was.
    let text = std::fs::read(&log).unwrap();
    assert_eq!(writ_evaluator::log::verify(&text[..]).unwrap().lines, 2);
    let mut lines = text.split(|b| *b == b'\n');
    let start: Value = serde_json::from_slice(lines.next().unwrap()).unwrap();
    assert_eq!((&start["action"], &start["decision"]), (&json!("start"), &json!("allow")));
    let line: Value = serde_json::from_slice(lines.next().unwrap()).unwrap();
    assert_eq!(line["decision"], "allow");
    assert_eq!(
        line["chain"],
        json!([{"id": "dana@acme.dev", "kind": "human"}, {"id": "mcp-client/test-agent", "kind": "agent"}])
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_hung_upstream_times_out_and_is_told_to_cancel() {
    let mut p = Proxy::start("hang", "hang", &["--timeout", "1"]);
    p.initialize();
    let answer = p.call(1, "read_text_file", json!({"path": "/tmp/x/project/a.txt"}));
    assert_eq!(answer["error"]["code"], -32603);
    assert!(answer["error"]["message"].as_str().unwrap().contains("did not answer `tools/call`"));
    // The proxy still works.
    assert_eq!(p.request(2, "ping", json!({}))["result"], json!({}));
    let (code, received) = p.finish();
    assert_eq!(code, 0);
    let cancel = received.iter().find(|m| m["method"] == "notifications/cancelled").unwrap();
    assert_eq!(cancel["params"]["requestId"], 1);
}

#[test]
fn a_late_answer_after_a_timeout_is_dropped() {
    let mut p = Proxy::start("late", "late", &["--timeout", "1"]);
    p.initialize();
    let answer = p.call(1, "read_text_file", json!({"path": "/tmp/x/project/a.txt"}));
    assert_eq!(answer["error"]["code"], -32603);
    // The upstream answers in order: the late answer to 1 comes before the answer to 2, and
    // only the latter reaches the client.
    let answer = p.request(2, "ping", json!({}));
    assert_eq!(answer["result"], json!({}));
    let (code, _) = p.finish();
    assert_eq!(code, 0);
}

#[test]
fn a_client_that_disconnects_ends_the_proxy_and_the_upstream() {
    let mut p = Proxy::start("disconnect", "normal", &[]);
    p.initialize();
    p.send(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                  "params": {"name": "read_text_file", "arguments": {"path": "/tmp/x/project/a"}}}));
    let (code, received) = p.finish();
    assert_eq!(code, 0);
    assert_eq!(methods(&received), ["initialize", "notifications/initialized", "tools/call"]);
}

#[test]
fn reused_request_ids_are_refused() {
    let mut p = Proxy::start("reuse", "hang", &["--timeout", "30"]);
    p.initialize();
    p.send(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                  "params": {"name": "read_text_file", "arguments": {"path": "/tmp/x/project/a"}}}));
    let again = p.call(1, "read_text_file", json!({"path": "/tmp/x/project/b"}));
    assert_eq!(again["error"]["code"], -32600);
    // The client gives up on 1: no timeout error follows, and the proxy stays usable.
    p.send(
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}),
    );
    assert_eq!(p.request(2, "ping", json!({}))["result"], json!({}));
    let (_, received) = p.finish();
    assert_eq!(received.iter().filter(|m| m["method"] == "tools/call").count(), 1);
}

#[test]
fn start_up_errors_exit_2() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_writ"))
            .arg("mcp-proxy")
            .args(args)
            .current_dir(root())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let base = [
        "--policy",
        "tests/mcp-proxy/policy.writ",
        "--workflow",
        "fs_agent",
        "--identity",
        "tests/mcp-proxy/identity.json",
        "--server",
        "fs",
    ];
    let (code, err) = run(&[&base[..], &["--", "/no/such/server"]].concat());
    assert_eq!(code, 2);
    assert!(err.contains("cannot start the upstream MCP server `/no/such/server`"), "{err}");
    let mut wrong = base.to_vec();
    wrong[3] = "nope";
    let (code, err) = run(&[&wrong[..], &["--", "true"]].concat());
    assert_eq!(code, 2);
    assert!(err.contains("unknown workflow `nope`"), "{err}");
    let mut wrong = base.to_vec();
    wrong[5] = "tests/mcp-proxy/policy.writ";
    let (code, err) = run(&[&wrong[..], &["--", "true"]].concat());
    assert_eq!(code, 2);
    assert!(err.contains("identity"), "{err}");
    let (code, _) = run(&base);
    assert_eq!(code, 2, "no upstream command");
}

/// Request ids are strings or integers, and numerically equal ones are one id: a `tools/list`
/// sent as `7.0` is answered filtered, like one sent as `7`. Other ids, and messages over
/// `--max-message-bytes`, are answered with -32600 and never forwarded.
#[test]
fn ids_are_strings_or_integers_and_messages_are_bounded() {
    let mut p = Proxy::start("ids", "normal", &["--max-message-bytes", "4096"]);
    p.initialize();
    for bad in [json!({"n": 1}), json!([1]), json!(true), json!(7.5)] {
        p.send(json!({"jsonrpc": "2.0", "id": bad, "method": "tools/call",
                      "params": {"name": "read_text_file", "arguments": {"path": "/tmp/x/project/a"}}}));
        let e = p.recv();
        assert_eq!(
            (e["id"].clone(), e["error"]["code"].clone()),
            (Value::Null, json!(-32600)),
            "{bad}"
        );
    }
    p.send_raw(r#"{"jsonrpc": "2.0", "id": 7.0, "method": "tools/list", "params": {}}"#);
    let answer = p.recv();
    let names: Vec<&str> = answer["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["read_text_file", "write_file"], "filtered under id 7.0: {answer}");
    let big = format!(
        r#"{{"jsonrpc": "2.0", "id": 9, "method": "ping", "params": {{"x": "{}"}}}}"#,
        "a".repeat(5000)
    );
    p.send_raw(&big);
    let e = p.recv();
    assert_eq!(e["error"]["code"], -32600);
    assert!(e["error"]["message"].as_str().unwrap().contains("--max-message-bytes"), "{e}");
    assert_eq!(p.request(10, "ping", json!({}))["result"], json!({}), "the proxy goes on");
    let (code, received) = p.finish();
    assert_eq!(code, 0);
    assert_eq!(
        methods(&received),
        ["initialize", "notifications/initialized", "tools/list", "ping"]
    );
}

#[test]
fn a_run_whose_start_is_denied_gets_no_tools_and_no_calls() {
    let files = ["tests/mcp-proxy/policy.writ", "tests/mcp-proxy/visitor.json"];
    let mut p = Proxy::start_with("visitor", "normal", files, &[]);
    let answer = p.request(
        0,
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "test-agent", "version": "1"}}),
    );
    assert_eq!(answer["error"]["code"], -32001, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("was not admitted"), "{message}");
    // A client that carries on anyway gets nothing.
    let list = p.request(1, "tools/list", json!({}));
    assert_eq!(list["result"]["tools"], json!([]));
    let call = p.call(2, "read_text_file", json!({"path": "/tmp/x/project/a.txt"}));
    assert_eq!(call["result"]["isError"], true);
    assert!(text(&call).contains("was not admitted"), "{}", text(&call));
    let (_, received) = p.finish();
    assert_eq!(methods(&received), ["tools/list"], "neither initialize nor the call went out");
}

#[test]
fn the_run_history_counts_calls_and_is_shared_through_the_state_directory() {
    let dir = std::env::temp_dir().join(format!("writ-mcp-history-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let state = dir.to_string_lossy().into_owned();
    let files = ["tests/mcp-proxy/counting.writ", "tests/mcp-proxy/identity.json"];
    let read = json!({"path": "/tmp/x/project/a.txt"});
    let args = ["--state-dir", &state, "--run", "session-1"];
    let mut p = Proxy::start_with("history-1", "normal", files, &args);
    p.initialize();
    assert!(text(&p.call(1, "read_text_file", read.clone())).starts_with("called"));
    assert!(text(&p.call(2, "read_text_file", read.clone())).starts_with("called"));
    p.finish();
    // A second proxy of the same run: the two reads are remembered.
    let mut p = Proxy::start_with("history-2", "normal", files, &args);
    p.initialize();
    let third = p.call(3, "read_text_file", read.clone());
    assert_eq!(third["result"]["isError"], true);
    assert!(text(&third).contains("two reads per run"), "{}", text(&third));
    p.finish();
    // Another run, or the default in-memory store, starts from nothing.
    let mut p = Proxy::start_with("history-3", "normal", files, &[]);
    p.initialize();
    assert!(text(&p.call(1, "read_text_file", read.clone())).starts_with("called"));
    p.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn log_only_forwards_everything_and_logs_what_would_have_been_denied() {
    let dir = std::env::temp_dir().join(format!("writ-mcp-shadow-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("decisions.jsonl").to_string_lossy().into_owned();
    let args = ["--mode", "log-only", "--decision-log", &log];
    let mut p = Proxy::start("shadow", "normal", &args);
    p.initialize();
    let denied = p.call(1, "read_text_file", json!({"path": "/etc/shadow"}));
    assert!(text(&denied).starts_with("called read_text_file"), "{denied}");
    let list = p.request(2, "tools/list", json!({}));
    assert!(list["result"]["tools"].as_array().unwrap().len() > 2, "unfiltered: {list}");
    p.finish();
    let text = std::fs::read(&log).unwrap();
    writ_evaluator::log::verify(&text[..]).expect("the log verifies");
    let lines: Vec<Value> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let decisions: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["action"].as_str().unwrap(),
                l["decision"].as_str().unwrap(),
                l["mode"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(decisions, [("start", "allow", "log-only"), ("call", "deny", "log-only")]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// With `--trust` and `--evidence`, a pending call names the `writ attest` command a lead runs;
/// once the lead has, the same call is forwarded, and a statement for another call is not.
#[test]
fn a_pending_call_is_forwarded_once_a_lead_attests_that_call() {
    let dir =
        std::env::temp_dir().join(format!("writ-mcp-signed-statements-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("evidence")).unwrap();
    let writ = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_writ")).args(args).current_dir(&dir).output();
        assert!(out.unwrap().status.success(), "writ {args:?}");
    };
    writ(&["keygen", "-o", "lee"]);
    let key = std::fs::read_to_string(dir.join("lee.pub")).unwrap();
    let trust = json!({"signers": [{"key": key.trim(),
        "principal": {"id": "lee", "kind": "human", "roles": ["lead"]}}]});
    std::fs::write(dir.join("trust.json"), trust.to_string()).unwrap();
    let (trust, evidence) = (dir.join("trust.json"), dir.join("evidence"));
    let mut p = Proxy::start(
        "evidence",
        "normal",
        &["--trust", trust.to_str().unwrap(), "--evidence", evidence.to_str().unwrap()],
    );
    p.initialize();
    let draft = json!({"path": "/tmp/x/project/drafts/a.txt", "content": "x"});
    let other = json!({"path": "/tmp/x/project/drafts/b.txt", "content": "x"});
    let attest = |answer: &Value| {
        let text = text(answer);
        let start = text.find("`writ attest ").expect("an attest command") + 1;
        let end = start + text[start..].find('`').unwrap();
        let command = text[start..end].replace("REVIEWER.key", "lee.key");
        let args: Vec<&str> = command.split(' ').skip(1).collect();
        writ(&args);
    };
    let pending = p.call(1, "write_file", draft.clone());
    assert_eq!(pending["result"]["isError"], true);
    assert!(text(&pending).contains("is pending"), "{}", text(&pending));
    // The lead attests another call: the draft stays pending.
    attest(&p.call(2, "write_file", other));
    assert_eq!(p.call(3, "write_file", draft.clone())["result"]["isError"], true);
    attest(&pending);
    let allowed = p.call(4, "write_file", draft);
    assert!(text(&allowed).starts_with("called write_file"), "{}", text(&allowed));
    let (code, received) = p.finish();
    assert_eq!(code, 0);
    let calls: Vec<&Value> = received.iter().filter(|m| m["method"] == "tools/call").collect();
    assert_eq!(calls.len(), 1, "{received:?}");
    assert_eq!(calls[0]["id"], 4);
}
