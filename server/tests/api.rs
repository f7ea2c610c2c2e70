//! The decision server's HTTP API, against a real server on a loopback port.
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
use writ_server::{LogTarget, Reloaded, Source};

fn server(text: &str) -> (TestServer, std::path::PathBuf) {
    let dir = temp_dir("api");
    let path = policy_file(&dir, text);
    (TestServer::start(config(Source::Policy(path.clone()))), path)
}

#[test]
fn decisions_allow_pending_and_deny() {
    let (server, _) = server(POLICY);
    let mut answers = Vec::new();
    for request in [ALLOW, PENDING, DENY] {
        let answer = server.post("/v1/decide", request);
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        let id = answer.header(writ_server::DECISION_ID).expect("a decision id");
        assert_eq!(id.len(), 36, "a UUID: {id}");
        answers.push(answer.json());
    }
    insta::assert_json_snapshot!("decisions", answers);
}

#[test]
fn batches_decide_each_element_or_name_its_error() {
    let (server, _) = server(POLICY);
    let body = format!(
        r#"[{ALLOW}, {PENDING}, 7, {{"action": "call", "workflow": "w"}}, {{"action": "call",
        "workflow": "w", "tool": "ping", "chain": [{{"id": "ada", "kind": "robot"}}]}}, {DENY}]"#
    );
    let answer = server.post("/v1/decide/batch", &body);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answers = answer.json();
    assert_eq!(answers.as_array().map(Vec::len), Some(6));
    insta::assert_json_snapshot!("batch", redact(answers));

    let empty = server.post("/v1/decide/batch", "[]");
    assert_eq!((empty.status, empty.body.as_str()), (200, "[]"));
    let not_array = server.post("/v1/decide/batch", ALLOW);
    assert_eq!(not_array.status, 400);
    assert_eq!(
        not_array.json(),
        json!({"error": "expected an array of requests, found an object", "field": "", "kind": "wrong_type"})
    );
}

#[test]
fn tools_lists_what_a_chain_may_call() {
    let (server, _) = server(POLICY);
    let chain =
        r#"[{"id": "ada", "kind": "human", "roles": ["dev"]}, {"id": "bot/1", "kind": "agent"}]"#;
    let answer = server.post("/v1/tools", &format!(r#"{{"workflow": "w", "chain": {chain}}}"#));
    assert_eq!(answer.status, 200, "{}", answer.body);
    insta::assert_json_snapshot!("tools", answer.json());

    // Nobody entitled: nothing is listed.
    let stranger = r#"{"workflow": "w", "chain": [{"id": "eve", "kind": "human"}]}"#;
    let answer = server.post("/v1/tools", stranger);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["tools"], json!([]));

    let unknown = server.post("/v1/tools", &format!(r#"{{"workflow": "nope", "chain": {chain}}}"#));
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.json(), json!({"error": "unknown workflow `nope`", "field": "workflow"}));
}

#[test]
fn bad_bodies_are_400_naming_the_field() {
    let (server, _) = server(POLICY);
    let cases: &[(&str, &str)] = &[
        ("/v1/decide", ""),
        ("/v1/decide", "not json"),
        ("/v1/decide", "[]"),
        ("/v1/decide", r#"{"action": "call"}"#),
        ("/v1/decide", r#"{"action": "fly", "workflow": "w", "chain": []}"#),
        ("/v1/decide", r#"{"action": "call", "workflow": "w", "tool": "ping", "chain": []}"#),
        (
            "/v1/decide",
            r#"{"action": "call", "workflow": "w", "tool": "ping", "chain": [{"id": "a", "kind": "robot"}]}"#,
        ),
        (
            "/v1/decide",
            r#"{"action": "call", "workflow": "w", "workflow": "v", "tool": "ping", "chain": [{"id": "a", "kind": "human"}]}"#,
        ),
        (
            "/v1/decide",
            r#"{"action": "call", "workflow": "w", "tool": "ping", "args": [], "chain": [{"id": "a", "kind": "human"}]}"#,
        ),
        (
            "/v1/decide",
            r#"{"action": "start", "workflow": "w", "ttl": "soon", "chain": [{"id": "a", "kind": "human"}]}"#,
        ),
        ("/v1/decide/batch", "[1,"),
        ("/v1/decide/batch", r#"{"a": 1}"#),
        ("/v1/tools", "{}"),
        ("/v1/tools", r#"{"workflow": "w", "chain": [{"id": "a"}]}"#),
        ("/v1/tools", r#"{"workflow": "w", "chain": [], "extra": true}"#),
    ];
    let mut answers = Vec::new();
    for (path, body) in cases {
        let answer = server.post(path, body);
        assert_eq!(answer.status, 400, "{path} {body}: {}", answer.body);
        let json = answer.json();
        assert!(json["error"].is_string(), "{json}");
        assert!(json["field"].is_string(), "{json}");
        answers.push(json!({"path": path, "body": body, "answer": json}));
    }
    insta::assert_json_snapshot!("bad_bodies", answers);

    // Not UTF-8.
    let answer = request(server.addr, "POST", "/v1/decide", Some(&[b'{', 0xff, b'}']));
    assert_eq!(answer.status, 400, "{}", answer.body);
}

#[test]
fn oversize_bodies_are_413() {
    let dir = temp_dir("oversize");
    let mut config = config(Source::Policy(policy_file(&dir, POLICY)));
    config.body_limit = 1024;
    let server = TestServer::start(config);
    let padded = |size: usize| {
        let mut body = ALLOW.to_string();
        body.push_str(&" ".repeat(size - body.len()));
        body
    };
    assert_eq!(server.post("/v1/decide", &padded(1024)).status, 200);
    for path in ["/v1/decide", "/v1/decide/batch", "/v1/tools"] {
        let answer = server.post(path, &padded(1025));
        assert_eq!(answer.status, 413, "{path}: {}", answer.body);
        assert_eq!(answer.json(), json!({"error": "request body too large", "field": ""}));
    }
    let metrics = server.get("/metrics").body;
    assert!(metrics.contains("writ_errors_total{kind=\"too_large\"} 3"), "{metrics}");
}

#[test]
fn unknown_paths_and_methods() {
    let (server, _) = server(POLICY);
    let answer = server.get("/v2/decide");
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json(), json!({"error": "no endpoint `/v2/decide`"}));
    let answer = server.get("/v1/decide");
    assert_eq!(answer.status, 405);
    assert_eq!(answer.json(), json!({"error": "method `GET` is not allowed on `/v1/decide`"}));
    assert_eq!(answer.header("allow"), Some("POST"));
    assert_eq!(server.post("/v1/health", "").status, 405);
    assert_eq!(request(server.addr, "DELETE", "/metrics", None).status, 405);
    // Garbage instead of HTTP is refused by the protocol layer, without a panic.
    let answer = raw(server.addr, b"NOT HTTP AT ALL\r\n\r\n");
    assert_eq!(answer.status, 400);
    assert_eq!(server.get("/v1/health").status, 200);
}

#[test]
fn health_and_status() {
    let (server, path) = server(POLICY);
    let health = server.get("/v1/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    let status = server.get("/v1/status");
    assert_eq!(status.status, 200);
    let mut status = redact(status.json());
    assert_eq!(status["source"]["path"], path.display().to_string());
    status["source"]["path"] = Json::String("[path]".into());
    insta::assert_json_snapshot!("status", status);
}

#[test]
fn unready_until_a_policy_loads() {
    let dir = temp_dir("unready");
    let path = policy_file(&dir, BROKEN);
    let source = Source::Policy(path.clone());
    assert!(matches!(
        TestServer::try_start(config(source.clone())),
        Err(writ_server::Error::Policy(m)) if m.contains("unknown tool `pong`")
    ));

    let mut unready = config(source);
    unready.require_policy = false;
    let server = TestServer::start(unready);
    let health = server.get("/v1/health");
    assert_eq!(health.status, 503);
    assert_eq!(health.json(), json!({"status": "unavailable", "error": "no policy is loaded"}));
    for endpoint in ["/v1/decide", "/v1/tools"] {
        let body = if endpoint == "/v1/tools" {
            r#"{"workflow": "w", "chain": [{"id": "ada", "kind": "human"}]}"#
        } else {
            ALLOW
        };
        let answer = server.post(endpoint, body);
        assert_eq!(answer.status, 503, "{endpoint}");
        assert_eq!(answer.json(), json!({"error": "no policy is loaded; treat this as deny"}));
    }
    let answer = server.post("/v1/decide/batch", &format!("[{ALLOW}]"));
    assert_eq!(answer.status, 503);
    let status = server.get("/v1/status").json();
    assert_eq!(status["ready"], false);
    assert_eq!(status["policy"], Json::Null);
    let error = status["last_reload_error"]["message"].as_str().unwrap_or_default();
    assert!(error.contains("policy.writ:2:7: unknown tool `pong` [writ::unknown_tool]"), "{error}");

    std::fs::write(&path, POLICY).unwrap();
    assert!(matches!(server.reload(), Reloaded::Ok(_)));
    assert_eq!(server.get("/v1/health").status, 200);
    assert_eq!(server.post("/v1/decide", ALLOW).json()["decision"], "allow");
    assert_eq!(server.get("/v1/status").json()["last_reload_error"], Json::Null);
}

#[test]
fn metrics_count_decisions_errors_and_reloads() {
    let (server, path) = server(POLICY);
    for request in [ALLOW, ALLOW, PENDING, DENY] {
        assert_eq!(server.post("/v1/decide", request).status, 200);
    }
    assert_eq!(server.post("/v1/decide", "{").status, 400);
    std::fs::write(&path, BROKEN).unwrap();
    assert!(matches!(server.reload(), Reloaded::Failed(_)));
    let answer = server.get("/metrics");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let text = answer.body;
    for line in [
        "writ_decisions_total{outcome=\"allow\"} 2",
        "writ_decisions_total{outcome=\"pending\"} 1",
        "writ_decisions_total{outcome=\"deny\"} 1",
        "writ_request_duration_seconds_count{endpoint=\"decide\"} 4",
        "writ_reloads_total{result=\"ok\"} 1",
        "writ_reloads_total{result=\"failed\"} 1",
        "writ_errors_total{kind=\"bad_request\"} 1",
        "writ_policy_loaded 1",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
    }
    // The whole exposition, with the values that vary (timings, the load time) masked and the
    // series of each metric sorted (a family's series come in no fixed order).
    let mut masked = String::new();
    let mut series: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            series.sort();
            masked.extend(series.drain(..).map(|l| l + "\n"));
            masked.push_str(line);
            masked.push('\n');
            continue;
        }
        let varies = line.starts_with("writ_request_duration_seconds")
            || line.starts_with("writ_policy_loaded_timestamp_seconds ");
        series.push(match line.rsplit_once(' ') {
            Some((name, _)) if varies => format!("{name} [value]"),
            _ => line.to_string(),
        });
    }
    insta::assert_snapshot!("metrics", masked);
}

#[test]
fn a_broken_policy_is_not_loaded_and_the_old_one_keeps_serving() {
    let (server, path) = server(POLICY);
    let first = server.post("/v1/decide", ALLOW).json();
    assert_eq!(first["decision"], "allow");

    std::fs::write(&path, BROKEN).unwrap();
    let Reloaded::Failed(message) = server.reload() else { panic!("a broken policy loaded") };
    assert!(message.contains("unknown tool `pong`"), "{message}");
    let same = server.post("/v1/decide", ALLOW).json();
    assert_eq!(same, first, "the old policy keeps serving");
    let status = server.get("/v1/status").json();
    assert_eq!(status["policy"]["hash"], first["policy"]);
    assert_eq!(status["last_reload_error"]["message"], message.as_str());
    assert_eq!(status["reloads"], json!({"ok": 1, "failed": 1}));

    std::fs::write(&path, POLICY_V2).unwrap();
    let Reloaded::Ok(hash) = server.reload() else { panic!("a good policy did not load") };
    assert_ne!(json!(hash), first["policy"]);
    let after = server.post("/v1/decide", ALLOW).json();
    assert_eq!(after["decision"], "deny");
    assert_eq!(after["policy"], json!(hash));
    let status = server.get("/v1/status").json();
    assert_eq!(status["policy"]["hash"], json!(hash));
    assert_eq!(status["last_reload_error"], Json::Null);
    assert_eq!(status["reloads"], json!({"ok": 2, "failed": 1}));
}

#[test]
fn a_changed_policy_file_is_reloaded() {
    let dir = temp_dir("watch");
    let path = policy_file(&dir, POLICY);
    let mut config = config(Source::Policy(path.clone()));
    config.watch = true;
    let server = TestServer::start(config);
    let before = server.post("/v1/decide", ALLOW).json();
    assert_eq!(before["decision"], "allow");

    // A broken edit is reported and not loaded.
    std::fs::write(&path, BROKEN).unwrap();
    eventually("the failed reload", || {
        server.get("/v1/status").json()["last_reload_error"].is_object()
    });
    assert_eq!(server.post("/v1/decide", ALLOW).json(), before);

    // Replaced by rename, as editors and deploy tools do.
    let staged = dir.join("policy.writ.tmp");
    std::fs::write(&staged, POLICY_V2).unwrap();
    std::fs::rename(&staged, &path).unwrap();
    eventually("the new policy", || server.post("/v1/decide", ALLOW).json()["decision"] == "deny");
    assert_eq!(server.get("/v1/status").json()["last_reload_error"], Json::Null);
}

#[test]
fn a_policy_directory_is_watched_recursively() {
    let dir = temp_dir("watch-dir");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/policy.writ"), POLICY).unwrap();
    let mut config = config(Source::Policy(dir.clone()));
    config.watch = true;
    let server = TestServer::start(config);
    assert_eq!(server.post("/v1/decide", ALLOW).json()["decision"], "allow");
    std::fs::write(dir.join("sub/policy.writ"), POLICY_V2).unwrap();
    eventually("the new policy", || server.post("/v1/decide", ALLOW).json()["decision"] == "deny");
}

#[test]
fn every_decision_is_logged_and_the_log_verifies() {
    let dir = temp_dir("log");
    let log = dir.join("decisions.jsonl");
    let mut config = config(Source::Policy(policy_file(&dir, POLICY)));
    config.decision_log = Some(LogTarget::File(log.clone()));

    let server = TestServer::start(config.clone());
    let mut ids = Vec::new();
    for request in [ALLOW, PENDING, DENY] {
        let answer = server.post("/v1/decide", request);
        ids.push(answer.header(writ_server::DECISION_ID).unwrap().to_string());
    }
    // Malformed requests are not decisions: not logged.
    assert_eq!(server.post("/v1/decide", "{}").status, 400);
    let batch = server.post("/v1/decide/batch", &format!("[{ALLOW}, 1, {DENY}]")).json();
    for answer in batch.as_array().unwrap().iter().filter(|a| a["id"].is_string()) {
        ids.push(answer["id"].as_str().unwrap().to_string());
    }
    let summary = server.stop();
    assert_eq!(summary.logged, 5);
    assert!(!summary.cut_short);

    // A second run continues the same chain.
    let server = TestServer::start(config);
    ids.push(server.post("/v1/decide", PENDING).header(writ_server::DECISION_ID).unwrap().into());
    assert_eq!(server.stop().logged, 1);

    let text = std::fs::read_to_string(&log).unwrap();
    let verified = writ_evaluator::log::verify(text.as_bytes()).expect("the log verifies");
    assert_eq!(verified.lines, 6);
    let lines: Vec<Json> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let logged: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(logged, ids, "each answer's id is its log line's id, in order");
    let outcomes: Vec<&str> = lines.iter().map(|l| l["decision"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["allow", "pending", "deny", "allow", "deny", "pending"]);

    // An altered line breaks the chain.
    let altered = text.replacen("\"decision\":\"deny\"", "\"decision\":\"allow\"", 1);
    assert!(writ_evaluator::log::verify(altered.as_bytes()).is_err());
}

#[test]
fn many_concurrent_clients_are_all_answered_and_logged() {
    let dir = temp_dir("concurrent");
    let log = dir.join("decisions.jsonl");
    let mut config = config(Source::Policy(policy_file(&dir, POLICY)));
    config.decision_log = Some(LogTarget::File(log.clone()));
    let server = TestServer::start(config);
    let addr = server.addr;
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                (0..50)
                    .filter(|i| {
                        let body = [ALLOW, PENDING, DENY][i % 3];
                        request(addr, "POST", "/v1/decide", Some(body.as_bytes())).status == 200
                    })
                    .count()
            })
        })
        .collect();
    let answered: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(answered, 400);
    assert_eq!(server.stop().logged, 400);
    let verified = writ_evaluator::log::verify(&std::fs::read(&log).unwrap()[..]).unwrap();
    assert_eq!(verified.lines, 400);
}

/// `--strict`: a key the schema does not have is a 400 naming it, in `/v1/decide` and in each
/// element of a batch; without it the key is ignored (LANGUAGE.md §7).
#[test]
fn strict_answers_400_to_an_unknown_key() {
    let misspelt = ALLOW.replacen("\"chain\"", "\"evidance\": [], \"chain\"", 1);
    assert_ne!(misspelt, ALLOW, "the request has a `chain` key to put a typo before");
    let (lenient, _) = server(POLICY);
    assert_eq!(lenient.post("/v1/decide", &misspelt).status, 200);

    let dir = temp_dir("api-strict");
    let mut config = config(Source::Policy(policy_file(&dir, POLICY)));
    config.unknown_keys = writ_evaluator::UnknownKeys::Reject;
    let strict = TestServer::start(config);
    let answer = strict.post("/v1/decide", &misspelt);
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(
        answer.json(),
        json!({
            "error": "`evidance`: unknown key; did you mean `evidence`?",
            "field": "evidance",
            "kind": "unknown_key"
        })
    );
    assert_eq!(strict.post("/v1/decide", ALLOW).status, 200);
    let batch = strict.post("/v1/decide/batch", &format!("[{ALLOW}, {misspelt}]"));
    assert_eq!(batch.status, 200, "{}", batch.body);
    assert_eq!(batch.json()[1]["field"], "evidance");
}
