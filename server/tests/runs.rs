//! Runs (the `writ-run` header): admission by start, calls bound to their run, history kept by
//! the server, and log-only mode. In memory here; Redis in `tests/serve.rs` (two replicas).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use common::*;
use serde_json::{Value as Json, json};
use writ_server::{Config, LogTarget, Mode, Source};

const RUNS: &str = r#"role dev {
  may ping
  may deploy
}

tool ping
tool deploy

workflow w {
  start by dev
  ttl 1h
  allow ping
  allow deploy when calls(deploy within 24h) < 3
}

workflow v {
  start by dev
  allow ping
}
"#;

fn request(action: &str, workflow: &str, tool: Option<&str>, initiator: &str) -> String {
    let tool = tool.map_or(String::new(), |t| format!(r#""tool": "{t}","#));
    format!(
        r#"{{"action": "{action}", "workflow": "{workflow}", {tool} "chain": [{{"id": "{initiator}", "kind": "human", "roles": ["dev"]}}, {{"id": "bot/1", "kind": "agent"}}]}}"#
    )
}

fn start(workflow: &str, initiator: &str) -> String {
    request("start", workflow, None, initiator)
}

fn call(tool: &str) -> String {
    request("call", "w", Some(tool), "ada")
}

fn runs_server(mode: Mode, log: Option<&std::path::Path>) -> TestServer {
    let dir = temp_dir("runs");
    let path = policy_file(&dir, RUNS);
    let mut config: Config = config(Source::Policy(path));
    config.mode = mode;
    config.decision_log = log.map(|p| LogTarget::File(p.to_path_buf()));
    TestServer::start(config)
}

fn decide(server: &TestServer, run: &str, body: &str) -> Json {
    let answer = server.post_with("/v1/decide", &[("writ-run", run)], body);
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

fn reasons(decision: &Json) -> String {
    decision["reasons"][0].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_start_admits_its_run_and_calls_are_bound_to_it() {
    let server = runs_server(Mode::Enforce, None);

    // A call of a run nobody started.
    let denied = decide(&server, "r1", &call("ping"));
    assert_eq!(denied["decision"], "deny");
    assert!(reasons(&denied).starts_with("run `r1` was not admitted"), "{denied}");

    let started = decide(&server, "r1", &start("w", "ada"));
    assert_eq!(started["decision"], "allow", "{started}");
    assert_eq!(started["ttl_seconds"], 3600);
    assert_eq!(decide(&server, "r1", &call("ping"))["decision"], "allow");

    // The same id started again: denied, even by the same initiator, and the run is unchanged.
    let again = decide(&server, "r1", &start("v", "bob"));
    assert_eq!(again["decision"], "deny");
    assert!(
        reasons(&again)
            .starts_with("run `r1` is already admitted (workflow `w`, started by `ada`, until "),
        "{again}"
    );

    // Another workflow's or another initiator's call cannot use the run.
    let other_workflow = decide(&server, "r1", &request("call", "v", Some("ping"), "ada"));
    assert_eq!(reasons(&other_workflow), "run `r1` belongs to workflow `w`, not `v`");
    let other_initiator = decide(&server, "r1", &request("call", "w", Some("ping"), "bob"));
    assert_eq!(reasons(&other_initiator), "run `r1` was started by `ada`, not `bob`");

    // A start the policy denies admits nothing.
    let stranger =
        r#"{"action": "start", "workflow": "w", "chain": [{"id": "eve", "kind": "human"}]}"#;
    assert_eq!(decide(&server, "r2", stranger)["decision"], "deny");
    let r2 = decide(&server, "r2", &request("call", "w", Some("ping"), "eve"));
    assert!(reasons(&r2).starts_with("run `r2` was not admitted"), "{r2}");

    // Requests without a run are decided as sent, as before.
    let plain = server.post("/v1/decide", &call("ping"));
    assert_eq!(plain.json()["decision"], "allow");
    assert_eq!(server.get("/v1/status").json()["history"]["runs"], 1);
}

#[test]
fn the_server_keeps_the_history_and_a_limit_holds() {
    let server = runs_server(Mode::Enforce, None);
    decide(&server, "r1", &start("w", "ada"));
    let outcomes: Vec<Json> =
        (0..5).map(|_| decide(&server, "r1", &call("deploy"))["decision"].clone()).collect();
    assert_eq!(outcomes, ["allow", "allow", "allow", "deny", "deny"]);
    // Denied calls were not made: they do not count. Another run counts on its own.
    decide(&server, "r2", &start("w", "ada"));
    assert_eq!(decide(&server, "r2", &call("deploy"))["decision"], "allow");

    // A concurrent burst on a fresh run: exactly 3 allowed.
    decide(&server, "burst", &start("w", "ada"));
    let addr = server.addr;
    let threads: Vec<_> = (0..12)
        .map(|_| {
            std::thread::spawn(move || {
                let body = call("deploy");
                let head = format!(
                    "POST /v1/decide HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nwrit-run: burst\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                raw(addr, head.as_bytes()).json()["decision"] == "allow"
            })
        })
        .collect();
    let allowed = threads.into_iter().map(|t| t.join().unwrap()).filter(|a| *a);
    assert_eq!(allowed.count(), 3);
}

#[test]
fn a_run_s_history_and_time_cannot_be_sent() {
    let server = runs_server(Mode::Enforce, None);
    decide(&server, "r1", &start("w", "ada"));
    let forged = r#"{"action": "call", "workflow": "w", "tool": "deploy", "history": [],
      "chain": [{"id": "ada", "kind": "human", "roles": ["dev"]}]}"#;
    let answer = server.post_with("/v1/decide", &[("writ-run", "r1")], forged);
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["field"], "history");
    let timed = r#"{"action": "call", "workflow": "w", "tool": "deploy",
      "time": "2020-01-01T00:00:00Z", "chain": [{"id": "ada", "kind": "human", "roles": ["dev"]}]}"#;
    let answer = server.post_with("/v1/decide", &[("writ-run", "r1")], timed);
    assert_eq!((answer.status, answer.json()["field"].clone()), (400, json!("time")));

    // Bad run ids, and two of them.
    for bad in ["a:b", "", "a b"] {
        let answer = server.post_with("/v1/decide", &[("writ-run", bad)], &call("ping"));
        assert_eq!(answer.status, 400, "{bad:?}: {}", answer.body);
        assert_eq!(answer.json()["field"], "writ-run");
    }
    let two =
        server.post_with("/v1/decide", &[("writ-run", "r1"), ("writ-run", "r2")], &call("ping"));
    assert_eq!(two.status, 400);
    assert_eq!(two.json()["error"], "`writ-run`: more than one `writ-run` header");

    // In a batch, the element is refused, the others decided in order on the run.
    let batch = format!("[{}, {forged}, {}]", call("deploy"), call("deploy"));
    let answer = server.post_with("/v1/decide/batch", &[("writ-run", "r1")], &batch);
    let answers = answer.json();
    assert_eq!(answers[0]["decision"], "allow");
    assert_eq!(answers[1]["field"], "history");
    assert_eq!(answers[2]["decision"], "allow");
    assert_eq!(decide(&server, "r1", &call("deploy"))["decision"], "allow");
    assert_eq!(decide(&server, "r1", &call("deploy"))["decision"], "deny");
}

#[test]
fn tools_lists_only_for_an_admitted_run() {
    let server = runs_server(Mode::Enforce, None);
    let body = r#"{"workflow": "w", "chain": [{"id": "ada", "kind": "human", "roles": ["dev"]}]}"#;
    let refused = server.post_with("/v1/tools", &[("writ-run", "r1")], body);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.json()["field"], "writ-run");
    assert!(refused.json()["error"].as_str().unwrap().starts_with("run `r1` was not admitted"));

    decide(&server, "r1", &start("w", "ada"));
    let listed = server.post_with("/v1/tools", &[("writ-run", "r1")], body);
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.json()["tools"].as_array().map(Vec::len), Some(2));

    let other = r#"{"workflow": "v", "chain": [{"id": "ada", "kind": "human", "roles": ["dev"]}]}"#;
    let refused = server.post_with("/v1/tools", &[("writ-run", "r1")], other);
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json()["error"], "run `r1` belongs to workflow `w`, not `v`");
}

#[test]
fn log_only_answers_allow_and_logs_what_was_decided() {
    let dir = temp_dir("log-only");
    let log = dir.join("decisions.jsonl");
    let server = runs_server(Mode::LogOnly, Some(&log));
    assert_eq!(server.get("/v1/status").json()["mode"], "log-only");

    // A start the policy denies is answered allow, and admits the run.
    let stranger =
        r#"{"action": "start", "workflow": "w", "chain": [{"id": "eve", "kind": "human"}]}"#;
    let answer = decide(&server, "r1", stranger);
    assert_eq!(answer["decision"], "allow");
    assert_eq!(answer["ttl_seconds"], 3600);
    assert_eq!(answer["mode"], "log-only");
    assert_eq!(answer["decided"]["decision"], "deny");
    assert_eq!(answer["reasons"], json!([]));

    // Every call is answered allow and recorded: the fourth deploy is a deny that was not
    // enforced, and it counts (it happened).
    decide(&server, "r2", &start("w", "ada"));
    let decided: Vec<Json> = (0..4)
        .map(|_| decide(&server, "r2", &call("deploy"))["decided"]["decision"].clone())
        .collect();
    assert_eq!(decided, ["allow", "allow", "allow", "deny"]);
    let fifth = decide(&server, "r2", &call("deploy"));
    assert_eq!(fifth["decision"], "allow");
    assert_eq!(fifth["rules"], json!([]));
    assert_eq!(fifth["decided"]["reasons"][0], "no rule in w allows deploy");
    // Stateless requests too.
    let plain = server.post("/v1/decide", &request("call", "w", Some("nope"), "ada")).json();
    assert_eq!(
        (plain["decision"].clone(), plain["decided"]["decision"].clone()),
        (json!("allow"), json!("deny"))
    );

    let summary = server.stop();
    let lines: Vec<Json> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, summary.logged);
    assert!(lines.iter().all(|l| l["mode"] == "log-only"));
    let logged: Vec<&Json> = lines.iter().map(|l| &l["decision"]).collect();
    assert_eq!(logged[0], "deny", "the log has what writ decided");
}
