//! End-to-end tests of `writ serve`, the binary: signals (SIGTERM and SIGINT stop gracefully,
//! SIGHUP reloads), start-up errors, and the decision log it leaves behind.
//!
//! (The HTTP API in detail is tested in-process in `server/tests/`.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;
/// The test OCI registry, shared with `server/tests/oci.rs`.
#[path = "../server/tests/peers/registry.rs"]
mod registry;

use common::{redis_server, temp_dir};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

const POLICY: &str = r#"role dev {
  may ping
}

tool ping

workflow w {
  start by dev
  allow ping
}
"#;

/// `ping` is no longer allowed.
const POLICY_V2: &str = r#"role dev {
  may ping
}

tool ping

workflow w {
  start by dev
  deny ping because "ping is retired"
  allow ping
}
"#;

const BROKEN: &str = "role dev {\n  may pong\n}\n";

const ALLOW: &str = r#"{"action": "call", "workflow": "w", "tool": "ping",
  "chain": [{"id": "ada", "kind": "human", "roles": ["dev"]}, {"id": "bot/1", "kind": "agent"}]}"#;

/// A running `writ serve`.
struct Served {
    child: Child,
    addr: SocketAddr,
    /// Standard error, line by line, as it arrives.
    stderr: Arc<std::sync::Mutex<Vec<String>>>,
}

fn serve(args: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_writ"))
        .arg("serve")
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run writ serve");
    let stderr = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let lines = stderr.clone();
    let pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("writ serve: listening on http://") {
                let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
            }
            lines.lock().unwrap().push(line);
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(120)).unwrap_or_else(|_| {
        let _ = child.kill();
        panic!("writ serve did not start: {:?}", stderr.lock().unwrap())
    });
    Served { child, addr, stderr }
}

impl Served {
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the exit; (exit code, standard output, standard error).
    fn wait(mut self) -> (i32, String, String) {
        let mut stdout = String::new();
        self.child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
        let status = self.child.wait().unwrap();
        // The stderr reader sees the pipe close after the exit.
        std::thread::sleep(Duration::from_millis(100));
        let stderr = self.stderr.lock().unwrap().join("\n");
        (status.code().unwrap_or(-1), stdout, stderr)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// (status, body), or `None` when the connection failed (refused, reset, closed early).
fn post(addr: SocketAddr, path: &str, body: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    answer(&mut stream)
}

fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    answer(&mut stream)
}

fn answer(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).ok()?;
    let text = String::from_utf8(out).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

fn json(answer: Option<(u16, String)>) -> Json {
    let (status, body) = answer.expect("an answer");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn verify_log(log: &Path) -> usize {
    let out = Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(["log", "verify", &log.display().to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(log).unwrap().lines().count()
}

#[test]
fn sigterm_finishes_requests_in_flight_and_logs_every_decision() {
    let dir = temp_dir("serve", "sigterm");
    let policy = dir.join("policy.writ");
    std::fs::write(&policy, POLICY).unwrap();
    let log = dir.join("decisions.jsonl");
    let served = serve(&[
        "--policy",
        &policy.display().to_string(),
        "--decision-log",
        &log.display().to_string(),
    ]);
    let addr = served.addr;

    // A request in flight: its head and half its body are sent before SIGTERM.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let head = format!(
        "POST /v1/decide HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        ALLOW.len()
    );
    let (first, rest) = ALLOW.split_at(ALLOW.len() / 2);
    slow.write_all(head.as_bytes()).unwrap();
    slow.write_all(first.as_bytes()).unwrap();

    // Clients sending single decisions and batches until the server stops answering. Every
    // decision a client was answered with is counted.
    let decided = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let batch = format!("[{}]", vec![ALLOW; 100].join(","));
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (decided, stop, batch) = (decided.clone(), stop.clone(), batch.clone());
            std::thread::spawn(move || {
                let mut failures = 0;
                while !stop.load(Ordering::SeqCst) && failures < 20 {
                    let (path, body, n) = if i % 2 == 0 {
                        ("/v1/decide", ALLOW, 1)
                    } else {
                        ("/v1/decide/batch", batch.as_str(), 100)
                    };
                    match post(addr, path, body) {
                        Some((200, _)) => {
                            decided.fetch_add(n, Ordering::SeqCst);
                        }
                        Some((status, body)) => panic!("answered {status}: {body}"),
                        None => {
                            failures += 1;
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
            })
        })
        .collect();
    eventually("some decisions", || decided.load(Ordering::SeqCst) >= 500);
    served.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    slow.write_all(rest.as_bytes()).unwrap();
    let (status, body) = answer(&mut slow).expect("the request in flight is answered");
    assert_eq!(status, 200, "{body}");
    decided.fetch_add(1, Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.join().unwrap();
    }

    let (code, _, stderr) = served.wait();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("writ serve: SIGTERM: finishing requests in flight"), "{stderr}");
    let decided = decided.load(Ordering::SeqCst);
    assert!(stderr.contains(&format!("stopped ({decided} decisions logged)")), "{stderr}");
    assert_eq!(verify_log(&log), decided, "every answered decision is logged, no other");
}

#[test]
fn sighup_reloads_and_a_broken_policy_keeps_the_old_one() {
    let dir = temp_dir("serve", "sighup");
    let policy = dir.join("policy.writ");
    std::fs::write(&policy, POLICY).unwrap();
    let served = serve(&["--policy", &policy.display().to_string(), "--no-watch"]);
    let addr = served.addr;
    let first = json(post(addr, "/v1/decide", ALLOW));
    assert_eq!(first["decision"], "allow");

    std::fs::write(&policy, BROKEN).unwrap();
    served.signal("HUP");
    eventually("the failed reload", || json(get(addr, "/v1/status"))["reloads"]["failed"] == 1);
    assert_eq!(json(post(addr, "/v1/decide", ALLOW)), first);
    let status = json(get(addr, "/v1/status"));
    let error = status["last_reload_error"]["message"].as_str().unwrap();
    assert!(error.contains("unknown tool `pong`"), "{error}");

    std::fs::write(&policy, POLICY_V2).unwrap();
    served.signal("HUP");
    eventually("the new policy", || json(post(addr, "/v1/decide", ALLOW))["decision"] == "deny");
    assert_eq!(json(get(addr, "/v1/status"))["last_reload_error"], Json::Null);

    served.signal("INT");
    let (code, _, stderr) = served.wait();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("error: reload failed (SIGHUP)"), "{stderr}");
    assert!(stderr.contains("writ serve: SIGINT: finishing requests in flight"), "{stderr}");
}

#[test]
fn the_decision_log_can_go_to_standard_output() {
    let dir = temp_dir("serve", "stdout");
    let policy = dir.join("policy.writ");
    std::fs::write(&policy, POLICY).unwrap();
    let served = serve(&["--policy", &policy.display().to_string(), "--decision-log", "-"]);
    let decision = json(post(served.addr, "/v1/decide", ALLOW));
    served.signal("TERM");
    let (code, stdout, stderr) = served.wait();
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<Json> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert_eq!(lines[0]["decision"], decision["decision"]);
    assert_eq!(lines[0]["prev"], Json::Null);
}

fn run_writ(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_writ")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn start_up_errors() {
    let dir = temp_dir("serve", "errors");
    let policy = dir.join("policy.writ");
    std::fs::write(&policy, BROKEN).unwrap();
    let policy = policy.display().to_string();

    // A policy that does not compile: exit 1, naming the error.
    let (code, stderr) = run_writ(&["serve", "--policy", &policy, "--addr", "127.0.0.1:0"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&format!("error: policy `{policy}` has 1 error")), "{stderr}");
    assert!(stderr.contains("unknown tool `pong` [writ::unknown_tool]"), "{stderr}");

    // An address in use: exit 2.
    std::fs::write(dir.join("policy.writ"), POLICY).unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, stderr) = run_writ(&["serve", "--policy", &policy, "--addr", &addr]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("error: cannot listen on `{addr}`")), "{stderr}");

    // Neither a policy nor a bundle: a usage error.
    let (code, stderr) = run_writ(&["serve"]);
    assert_eq!(code, 2, "{stderr}");

    // No workers: a usage error.
    let (code, stderr) = run_writ(&["serve", "--policy", &policy, "--workers", "0"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--workers"), "{stderr}");

    // A decision log whose last line was cut short is not appended to.
    let log = dir.join("cut-short.jsonl");
    std::fs::write(&log, "{\"ts\": ").unwrap();
    let log = log.display().to_string();
    let (code, stderr) =
        run_writ(&["serve", "--policy", &policy, "--addr", "127.0.0.1:0", "--decision-log", &log]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("error: cannot continue decision log `{log}`: line 1")),
        "{stderr}"
    );
}

#[test]
fn a_tampered_bundle_is_refused_at_start() {
    use writ_evaluator::bundle::{SigningKey, encode_verifying_key, write};
    let dir = temp_dir("serve", "bundle");
    let key = SigningKey::from_bytes(&[3; 32]);
    let compiler = writ_compiler::Compiler::new(vec![("policy.writ".into(), POLICY.into())]);
    let ir = compiler.compilation().policy.clone().expect("the policy compiles");
    let mut bytes = write(&ir, std::time::SystemTime::now(), Some(&key)).unwrap();
    let public = dir.join("writ.pub");
    std::fs::write(&public, encode_verifying_key(&key.verifying_key())).unwrap();
    let bundle = dir.join("policy.writb");
    let (bundle_arg, public_arg) = (bundle.display().to_string(), public.display().to_string());

    // The good bundle serves.
    std::fs::write(&bundle, &bytes).unwrap();
    let served = serve(&["--bundle", &bundle_arg, "--verify-key", &public_arg]);
    assert_eq!(json(post(served.addr, "/v1/decide", ALLOW))["decision"], "allow");
    served.signal("TERM");
    assert_eq!(served.wait().0, 0);

    // One byte changed: refused, exit 1.
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&bundle, &bytes).unwrap();
    let (code, stderr) = run_writ(&[
        "serve",
        "--bundle",
        &bundle_arg,
        "--verify-key",
        &public_arg,
        "--addr",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("error: bundle `{bundle_arg}` refused: the bundle's checksum")),
        "{stderr}"
    );

    // `--verify-key` belongs to bundles.
    let (code, stderr) = run_writ(&["serve", "--policy", "p.writ", "--verify-key", &public_arg]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn a_bundle_older_than_the_minimum_version_is_refused_at_start() {
    use writ_evaluator::bundle::{SigningKey, encode_verifying_key, write_version};
    let dir = temp_dir("serve", "min-version");
    let key = SigningKey::from_bytes(&[3; 32]);
    let compiler = writ_compiler::Compiler::new(vec![("policy.writ".into(), POLICY.into())]);
    let ir = compiler.compilation().policy.clone().expect("the policy compiles");
    let bytes = write_version(&ir, std::time::SystemTime::now(), 5, Some(&key)).unwrap();
    let public = dir.join("writ.pub");
    std::fs::write(&public, encode_verifying_key(&key.verifying_key())).unwrap();
    let bundle = dir.join("policy.writb");
    std::fs::write(&bundle, &bytes).unwrap();
    let (bundle_arg, public_arg) = (bundle.display().to_string(), public.display().to_string());
    let args = ["serve", "--bundle", &bundle_arg, "--verify-key", &public_arg];

    let (code, stderr) = run_writ(&[&args[..], &["--min-bundle-version", "6"]].concat());
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: bundle `{bundle_arg}` refused: its version 5 is lower than the minimum \
             version 6 (`--min-bundle-version`)"
        )),
        "{stderr}"
    );

    let served = serve(&[&args[1..], &["--min-bundle-version", "5"]].concat());
    let status = json(get(served.addr, "/v1/status"));
    assert_eq!(status["policy"]["bundle_version"], 5);
    served.signal("TERM");
    assert_eq!(served.wait().0, 0);

    // `--min-bundle-version` belongs to bundles.
    let (code, stderr) = run_writ(&["serve", "--policy", "p.writ", "--min-bundle-version", "1"]);
    assert_eq!(code, 2, "{stderr}");
}

/// `writ serve --history redis://...`: a policy limiting deploys per run.
const LIMITED: &str = r#"role dev {
  may deploy
  may ping
}

tool deploy
tool ping

workflow w {
  start by dev
  allow deploy when calls(deploy within 24h) < 3
  allow ping
}
"#;

/// A call no history can change (and that is not recorded).
const PING: &str = r#"{"action": "call", "workflow": "w", "tool": "ping",
  "chain": [{"id": "ada", "kind": "human", "roles": ["dev"]}, {"id": "bot/2", "kind": "agent"}]}"#;

const START: &str = r#"{"action": "start", "workflow": "w",
  "chain": [{"id": "ada", "kind": "human", "roles": ["dev"]}, {"id": "bot/1", "kind": "agent"}]}"#;

const DEPLOY: &str = r#"{"action": "call", "workflow": "w", "tool": "deploy",
  "chain": [{"id": "ada", "kind": "human", "roles": ["dev"]}, {"id": "bot/1", "kind": "agent"}]}"#;

/// A POST to `/v1/decide` for run `run`; the decision (`allow`, `deny`) and its first reason.
fn decide_in_run(addr: SocketAddr, run: &str, body: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let head = format!(
        "POST /v1/decide HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nwrit-run: {run}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let decision = json(answer(&mut stream));
    let reason = decision["reasons"][0].as_str().unwrap_or_default().to_string();
    (decision["decision"].as_str().unwrap_or_default().to_string(), reason)
}

#[test]
fn two_replicas_sharing_redis_count_a_limit_across_both() {
    let Some(mut redis) = redis_server() else { return };
    let dir = temp_dir("serve", "redis");
    let policy = dir.join("policy.writ");
    std::fs::write(&policy, LIMITED).unwrap();
    let url = format!("redis://127.0.0.1:{}/0", redis.port);
    let prefix = format!("writ-test-{}:", std::process::id());
    let args =
        ["--policy", &policy.display().to_string(), "--history", &url, "--history-prefix", &prefix];
    let (a, b) = (serve(&args), serve(&args));

    // A run started on one replica is known to the other; calls alternate between them.
    assert_eq!(decide_in_run(a.addr, "run-1", START).0, "allow");
    let (again, reason) = decide_in_run(b.addr, "run-1", START);
    assert_eq!(again, "deny");
    assert!(reason.contains("is already admitted"), "{reason}");
    let outcomes: Vec<String> = (0..6)
        .map(|i| decide_in_run(if i % 2 == 0 { a.addr } else { b.addr }, "run-1", DEPLOY).0)
        .collect();
    assert_eq!(outcomes, ["allow", "allow", "allow", "deny", "deny", "deny"]);

    // A concurrent burst on a fresh run, across both replicas: exactly 3 allowed.
    assert_eq!(decide_in_run(b.addr, "run-2", START).0, "allow");
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let addr = if i % 2 == 0 { a.addr } else { b.addr };
            std::thread::spawn(move || decide_in_run(addr, "run-2", DEPLOY).0 == "allow")
        })
        .collect();
    let allowed = threads.into_iter().map(|t| t.join().unwrap()).filter(|a| *a).count();
    assert_eq!(allowed, 3, "a limit of 3 deploys per run, counted across both replicas");

    // A call no history can change needs only its run: bound as any call (another
    // initiator's is refused), on the replica that did not admit it too.
    assert_eq!(decide_in_run(a.addr, "run-3", START).0, "allow");
    assert_eq!(decide_in_run(b.addr, "run-3", PING).0, "allow");
    let bob = PING.replace("\"ada\"", "\"bob\"");
    let (decision, reason) = decide_in_run(b.addr, "run-3", &bob);
    assert_eq!(
        (decision.as_str(), reason.as_str()),
        ("deny", "run `run-3` was started by `ada`, not `bob`")
    );
    let (decision, reason) = decide_in_run(b.addr, "never", PING);
    assert_eq!(decision, "deny");
    assert!(reason.starts_with("run `never` was not admitted"), "{reason}");

    // A run expires on every replica at once, remembered or not; its id may start a new run.
    let short = START.replace("\"workflow\": \"w\"", "\"workflow\": \"w\", \"ttl\": \"1s\"");
    assert_eq!(decide_in_run(a.addr, "run-4", &short).0, "allow");
    assert_eq!(decide_in_run(b.addr, "run-4", PING).0, "allow");
    std::thread::sleep(Duration::from_millis(1100));
    for addr in [a.addr, b.addr] {
        let (decision, reason) = decide_in_run(addr, "run-4", PING);
        assert_eq!(decision, "deny");
        // Redis drops the run at its expiry (`PEXPIREAT`): expired, or unknown once dropped.
        assert!(reason.contains("expired"), "{reason}");
    }
    assert_eq!(decide_in_run(b.addr, "run-4", START).0, "allow");
    assert_eq!(decide_in_run(a.addr, "run-4", PING).0, "allow");

    // Redis gone: calls of a run that need the store are denied (fail closed), and counted;
    // a call that needs only a run this replica saw live is still decided (a live run never
    // changes), one of a run it never saw is denied.
    assert_eq!(decide_in_run(a.addr, "run-5", START).0, "allow");
    let _ = redis.child.kill();
    let _ = redis.child.wait();
    let (decision, reason) = decide_in_run(a.addr, "run-1", DEPLOY);
    assert_eq!(decision, "deny");
    assert!(reason.contains("the history store failed"), "{reason}");
    assert_eq!(decide_in_run(b.addr, "run-3", PING).0, "allow");
    assert_eq!(decide_in_run(a.addr, "run-5", PING).0, "allow");
    let (decision, reason) = decide_in_run(b.addr, "run-5", PING);
    assert_eq!(decision, "deny", "b never saw run-5");
    assert!(reason.contains("the history store failed"), "{reason}");
    let metrics = get(a.addr, "/metrics").expect("metrics").1;
    assert!(!metrics.contains("writ_errors_total{kind=\"history_store\"} 0"), "{metrics}");
    // Requests without a run do not need the store.
    let plain = json(post(a.addr, "/v1/decide", DEPLOY));
    assert_eq!(plain["decision"], "deny", "no history: calls(...) is unknown");

    // Unreachable at start: exit 2, naming the store.
    let (code, stderr) = run_writ(&[
        "serve",
        "--policy",
        &policy.display().to_string(),
        "--addr",
        "127.0.0.1:0",
        "--history",
        &url,
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("error: cannot reach the history store"), "{stderr}");
}

/// [`LIMITED`] with pings counted too: a reload to it turns a call decided on its run alone
/// into one that reads and records the run's history.
fn limited_pings() -> String {
    let counted =
        LIMITED.replace("  allow ping\n", "  allow ping when calls(ping within 24h) < 2\n");
    assert_ne!(counted, LIMITED);
    counted
}

/// The way around the run-only path would be a reload: a replica that decided a run's pings on
/// the run alone (remembered live, nothing recorded) must count them from the moment the policy
/// served reads their history, mid-run, with the run still remembered.
#[test]
fn a_reload_that_makes_a_call_counted_counts_it_from_then_on() {
    let Some(redis) = redis_server() else { return };
    let dir = temp_dir("serve", "redis-reload");
    let policy = dir.join("policy.writ");
    std::fs::write(&policy, LIMITED).unwrap();
    let url = format!("redis://127.0.0.1:{}/0", redis.port);
    let prefix = format!("writ-test-reload-{}:", std::process::id());
    let served = serve(&[
        "--policy",
        &policy.display().to_string(),
        "--no-watch",
        "--history",
        &url,
        "--history-prefix",
        &prefix,
    ]);
    let addr = served.addr;
    let ping = PING.replace("bot/2", "bot/1");
    assert_eq!(decide_in_run(addr, "run-r", START).0, "allow");
    for _ in 0..4 {
        assert_eq!(decide_in_run(addr, "run-r", &ping).0, "allow", "pings are free");
    }

    let reloads = || json(get(addr, "/v1/status"))["reloads"]["ok"].as_u64().unwrap();
    let before = reloads();
    std::fs::write(&policy, limited_pings()).unwrap();
    served.signal("HUP");
    eventually("the reload", || reloads() == before + 1);
    // The four free pings were never recorded; from now on they are, and they count.
    let outcomes: Vec<String> = (0..3).map(|_| decide_in_run(addr, "run-r", &ping).0).collect();
    assert_eq!(outcomes, ["allow", "allow", "deny"]);
    // The run is still bound to its initiator on the full path.
    let bob = ping.replace("\"ada\"", "\"bob\"");
    let (decision, reason) = decide_in_run(addr, "run-r", &bob);
    assert_eq!(decision, "deny");
    assert!(reason.contains("was started by `ada`"), "{reason}");
    served.signal("TERM");
    assert_eq!(served.wait().0, 0);
}

/// A decision log collector on a plain socket: every POST's gzip body is appended to `lines`
/// and answered 200.
fn collector() -> (SocketAddr, Arc<std::sync::Mutex<Vec<u8>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = lines.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let kept = kept.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                // Requests on a kept-alive connection, one after another.
                loop {
                    let mut length = None;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(n) = lower.strip_prefix("content-length:") {
                            length = n.trim().parse::<usize>().ok();
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length.expect("a Content-Length")];
                    reader.read_exact(&mut body).unwrap();
                    let mut decoded = Vec::new();
                    flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut decoded).unwrap();
                    kept.lock().unwrap().extend_from_slice(&decoded);
                    let ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                    if reader.get_mut().write_all(ok.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, lines)
}

#[test]
fn sigterm_ships_every_decision_answered_to_the_collector_masked() {
    let dir = temp_dir("serve", "sigterm-ship");
    let policy = dir.join("policy.writ");
    std::fs::write(&policy, POLICY).unwrap();
    let spill = dir.join("spill.jsonl");
    let (addr, lines) = collector();
    let served = serve(&[
        "--policy",
        &policy.display().to_string(),
        "--decision-log-url",
        &format!("http://{addr}/ingest"),
        "--decision-log-batch",
        "50",
        "--decision-log-flush",
        "200ms",
        "--decision-log-spill",
        &spill.display().to_string(),
        "--log-mask",
        "chain.id",
    ]);
    let server = served.addr;
    let decided = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let (decided, stop) = (decided.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut failures = 0;
                while !stop.load(Ordering::SeqCst) && failures < 20 {
                    match post(server, "/v1/decide", ALLOW) {
                        Some((200, _)) => {
                            decided.fetch_add(1, Ordering::SeqCst);
                        }
                        Some((status, body)) => panic!("answered {status}: {body}"),
                        None => {
                            failures += 1;
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
            })
        })
        .collect();
    eventually("some decisions", || decided.load(Ordering::SeqCst) >= 300);
    served.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.join().unwrap();
    }
    let (code, _, stderr) = served.wait();
    assert_eq!(code, 0, "{stderr}");
    let decided = decided.load(Ordering::SeqCst);

    // Every decision answered reached the collector before the exit (the spill file is empty),
    // and what the collector holds verifies as one chain with `writ log verify`.
    let shipped = dir.join("shipped.jsonl");
    std::fs::write(&shipped, lines.lock().unwrap().as_slice()).unwrap();
    assert_eq!(verify_log(&shipped), decided, "every answered decision is shipped, no other");
    assert_eq!(std::fs::metadata(&spill).unwrap().len(), 0);
    let text = std::fs::read_to_string(&shipped).unwrap();
    assert!(!text.contains("\"ada\""), "a masked id was shipped");
    assert!(text.lines().all(|l| l.contains(r#""masked":["chain.id"]"#)));
}

#[test]
fn bundle_url_flags_are_checked() {
    for (args, message) in [
        (
            vec!["--bundle-url", "ftp://x/b.writb"],
            "expected an `http://`, `https://` or `oci://` URL",
        ),
        (vec!["--bundle-url", "oci://team/policy:v1"], "names no registry host"),
        (vec!["--bundle-url", "oci://127.0.0.1:1/policy"], "names no tag or digest"),
        (
            vec!["--bundle-url", "http://127.0.0.1:1/b", "--oci-insecure", "127.0.0.1:1"],
            "go with `--bundle-url oci://...`",
        ),
        (
            vec![
                "--bundle-url",
                "oci://127.0.0.1:1/policy:v1",
                "--oci-username",
                "ci",
                "--oci-password-env",
                "WRIT_TEST_NO_SUCH_VARIABLE",
            ],
            "needs a password",
        ),
        (vec!["--bundle-url", "http://127.0.0.1:1/b", "--poll", "0s"], "must be more than zero"),
        (vec!["--bundle-url", "http://127.0.0.1:1/b", "--poll", "soon"], "expected a duration"),
        (vec!["--bundle-url", "http://127.0.0.1:1/b", "--poll", "5ms5"], "expected a duration"),
        (vec!["--policy", "p.writ", "--bundle-url", "http://127.0.0.1:1/b"], "cannot be used with"),
        (vec!["--policy", "p.writ", "--verify-key", "k.pub"], "`--verify-key` verifies a bundle"),
        (
            vec![
                "--policy",
                "p.writ",
                "--decision-log-url",
                "http://127.0.0.1:1/i",
                "--log-mask",
                "tool",
            ],
            "cannot be masked",
        ),
        (vec!["--policy", "p.writ", "--ca-cert", "ca.pem"], "`--ca-cert` verifies the servers"),
        (
            vec!["--bundle-url", "https://127.0.0.1:1/b", "--ca-cert", "/no/such/ca.pem"],
            "cannot read `--ca-cert /no/such/ca.pem`",
        ),
        (
            vec![
                "--decision-log-url",
                "https://127.0.0.1:1/i",
                "--policy",
                "p.writ",
                "--ca-cert",
                "Cargo.toml",
            ],
            "holds no `BEGIN CERTIFICATE` block",
        ),
    ] {
        let (code, stderr) = run_writ(&[&["serve"], &args[..]].concat());
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    // A bundle URL that cannot be fetched refuses the start (exit 1), unless unready is allowed.
    let (code, stderr) =
        run_writ(&["serve", "--bundle-url", "http://127.0.0.1:1/b.writb", "--addr", "127.0.0.1:0"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot fetch the bundle at `http://127.0.0.1:1/b.writb`"), "{stderr}");
}

/// `writ bundle push` to a real registry (`docker-registry`), and `writ serve --bundle-url
/// oci://...` serving what was pushed, then the newer version pushed under the same tag.
#[test]
fn a_bundle_pushed_to_a_registry_is_served_from_it() {
    let dir = temp_dir("serve", "oci");
    let Some(registry) = registry::Registry::start(&dir, None) else { return };
    let host = registry.host();
    let url = format!("oci://{host}/team/policy:prod");
    let writ = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_writ")).args(args).output().unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
    };
    let path = |name: &str| dir.join(name).display().to_string();
    for (name, text) in [("v1.writ", POLICY), ("v2.writ", POLICY_V2)] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    assert_eq!(writ(&["keygen", "-o", &path("release")]).0, 0);
    for (policy, bundle, version) in [("v1.writ", "v1.writb", "1"), ("v2.writ", "v2.writb", "2")] {
        let (key, policy, bundle) = (path("release.key"), path(policy), path(bundle));
        let built = writ(&[
            "build",
            "--policy",
            &policy,
            "-o",
            &bundle,
            "--sign",
            &key,
            "--version",
            version,
        ]);
        assert_eq!(built.0, 0, "{built:?}");
    }
    let push = |bundle: &str, extra: &[&str]| {
        let mut args =
            vec!["bundle", "push", bundle, url.as_str(), "--oci-insecure", host.as_str()];
        args.extend_from_slice(extra);
        writ(&args)
    };

    let (code, stdout, stderr) = push(&path("v1.writb"), &["--verify-key", &path("release.pub")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("to `{url}`: version 1, policy sha256:")), "{stdout}");
    assert!(stdout.contains("signed\nmanifest sha256:"), "{stdout}");
    assert!(stdout.contains(&format!("(pinned: oci://{host}/team/policy@sha256:")), "{stdout}");

    // Not signed by the key given: not pushed (exit 1). Not an insecure registry: exit 2.
    let other = path("other");
    assert_eq!(writ(&["keygen", "-o", &other]).0, 0);
    let (code, _, stderr) = push(&path("v1.writb"), &["--verify-key", &format!("{other}.pub")]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not pushed: "), "{stderr}");
    let (code, _, stderr) = writ(&["bundle", "push", &path("v1.writb"), &url]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("cannot push the bundle to `{url}`: ")), "{stderr}");

    let served = serve(&[
        "--bundle-url",
        &url,
        "--oci-insecure",
        &host,
        "--verify-key",
        &path("release.pub"),
        "--poll",
        "200ms",
    ]);
    assert_eq!(json(post(served.addr, "/v1/decide", ALLOW))["decision"], "allow");
    let status = json(get(served.addr, "/v1/status"));
    assert_eq!(status["source"]["url"], url.as_str());
    assert!(status["source"]["manifest_digest"].as_str().unwrap().starts_with("sha256:"));

    let (code, stdout, stderr) = push(&path("v2.writb"), &["--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let pushed: Json = serde_json::from_str(&stdout).unwrap();
    assert_eq!(pushed["version"], 2);
    eventually("version 2", || json(post(served.addr, "/v1/decide", ALLOW))["decision"] == "deny");
    let status = json(get(served.addr, "/v1/status"));
    assert_eq!(status["source"]["manifest_digest"], pushed["digest"]);
    assert_eq!(status["policy"]["bundle_version"], 2);
}

/// `--ca-cert` end to end: `writ bundle push` to a registry that speaks HTTPS with a private
/// CA's certificate, and `writ serve --bundle-url oci://...` serving it; without the CA both
/// refuse (exit 2 and 1).
#[test]
fn a_registry_with_a_private_ca_is_reached_with_ca_cert() {
    let dir = temp_dir("serve", "oci-tls");
    let pki = writ_agents::test_pki::Pki::new();
    let Some(registry) = registry::Registry::start_tls(&dir, (&pki.cert, &pki.key)) else {
        return;
    };
    let url = format!("oci://{}/team/policy:prod", registry.host());
    let ca = pki.ca.display().to_string();
    let policy = dir.join("policy.writ");
    std::fs::write(&policy, POLICY).unwrap();
    let bundle = dir.join("policy.writb").display().to_string();
    let (code, stderr) =
        run_writ(&["build", "--policy", &policy.display().to_string(), "-o", &bundle]);
    assert_eq!(code, 0, "{stderr}");

    let (code, stderr) = run_writ(&["bundle", "push", &bundle, &url]);
    assert_eq!(code, 2, "pushed without the CA: {stderr}");
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
    let (code, stderr) = run_writ(&["bundle", "push", &bundle, &url, "--ca-cert", "Cargo.toml"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("holds no `BEGIN CERTIFICATE` block"), "{stderr}");
    let (code, stderr) = run_writ(&["bundle", "push", &bundle, &url, "--ca-cert", &ca]);
    assert_eq!(code, 0, "{stderr}");

    let (code, stderr) = run_writ(&["serve", "--bundle-url", &url, "--addr", "127.0.0.1:0"]);
    assert_eq!(code, 1, "served without the CA: {stderr}");
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
    let served = serve(&["--bundle-url", &url, "--ca-cert", &ca]);
    assert_eq!(json(post(served.addr, "/v1/decide", ALLOW))["decision"], "allow");
}
