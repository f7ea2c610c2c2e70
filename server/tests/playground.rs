//! The playground (`Config::playground`): its page and endpoints exist only when asked for, and
//! they compile untrusted text within limits.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use common::*;
use serde_json::json;
use writ_server::Source;

fn start(name: &str, playground: bool) -> TestServer {
    let dir = temp_dir(name);
    let mut config = config(Source::Policy(policy_file(&dir, POLICY)));
    config.playground = playground;
    TestServer::start(config)
}

/// Two errors on lines 2 and 7 (a name not declared, a type mismatch).
const BROKEN_POLICY: &str = "role dev {
  may deplyo
}

tool deploy(env: \"staging\" | \"prod\")
workflow w {
  allow deploy when env == 3
}
";

#[test]
fn the_playground_is_off_unless_asked_for() {
    let server = start("playground-off", false);
    assert_eq!(server.get("/playground").status, 404);
    let body = json!({"policy": POLICY}).to_string();
    assert_eq!(server.post("/v1/playground/check", &body).status, 404);
    assert_eq!(server.post("/v1/playground/decide", &body).status, 404);
}

#[test]
fn the_page_and_its_assets_are_served() {
    let server = start("playground-page", true);
    let page = server.get("/playground");
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    assert!(page.header("content-security-policy").unwrap().contains("default-src 'none'"));
    // The highlighter's keywords are the grammar's.
    assert!(page.body.contains(r#""workflow""#) && !page.body.contains("__WRIT_KEYWORDS__"));
    for (path, kind) in [
        ("/playground/playground.js", "text/javascript"),
        ("/playground/playground.css", "text/css"),
    ] {
        let asset = server.get(path);
        assert_eq!(asset.status, 200, "{path}");
        assert!(asset.header("content-type").unwrap().starts_with(kind), "{path}");
    }
}

#[test]
fn check_gives_the_compiler_s_diagnostics_with_their_ranges() {
    let server = start("playground-check", true);
    let answer = server.post("/v1/playground/check", &json!({"policy": BROKEN_POLICY}).to_string());
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = answer.json();
    assert_eq!(answer["ok"], false);
    assert_eq!(answer["reach"], json!(null));
    let where_: Vec<(u64, u64, u64, u64)> = answer["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| {
            assert_eq!(d["file"], "playground.writ");
            let n = |k: &str| d[k].as_u64().unwrap();
            (n("line"), n("column"), n("end_line"), n("end_column"))
        })
        .collect();
    assert!(where_.contains(&(2, 7, 2, 13)), "{where_:?}");
    assert!(where_.iter().any(|w| w.0 == 7), "{where_:?}");

    // Fixed: no errors, and the reach report.
    let answer = server.post("/v1/playground/check", &json!({"policy": POLICY}).to_string()).json();
    assert_eq!(answer["ok"], true, "{answer}");
    let subjects = answer["reach"]["subjects"].as_array().unwrap();
    assert_eq!(subjects[0]["subject"]["name"], "dev");
}

#[test]
fn decide_decides_the_request_against_the_posted_policy() {
    let server = start("playground-decide", true);
    let body = json!({"policy": POLICY, "request": PENDING}).to_string();
    let answer = server.post("/v1/playground/decide", &body);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = answer.json();
    assert_eq!(answer["decision"]["decision"], "pending");
    assert_eq!(answer["decision"]["missing"][0]["evidence"], "approval");
    assert!(answer["trace"].as_str().unwrap().contains("approval"), "{answer}");
    assert!(answer["reach"]["subjects"].is_array());

    // The request as JSON rather than text; a request that does not decode names its field.
    let request: serde_json::Value = serde_json::from_str(ALLOW).unwrap();
    let answer = server
        .post("/v1/playground/decide", &json!({"policy": POLICY, "request": request}).to_string());
    assert_eq!(answer.json()["decision"]["decision"], "allow");
    let bad = json!({"action": "call", "workflow": "w", "tool": "ping", "chain": []});
    let answer = server
        .post("/v1/playground/decide", &json!({"policy": POLICY, "request": bad}).to_string());
    assert_eq!(answer.json()["request_error"]["field"], "chain");
    // A policy with errors decides nothing.
    let answer = server
        .post("/v1/playground/decide", &json!({"policy": BROKEN, "request": ALLOW}).to_string())
        .json();
    assert_eq!(answer["ok"], false);
    assert_eq!(answer.get("decision"), None);
}

#[test]
fn untrusted_text_is_bounded() {
    let server = start("playground-limits", true);
    // Over 256 KiB.
    let huge = json!({"policy": "// x\n".repeat(60_000)}).to_string();
    assert_eq!(server.post("/v1/playground/check", &huge).status, 413);
    // Not the expected shape.
    for body in ["", "[]", r#"{"policy": 1}"#, r#"{"policy": "role a {}"}"#] {
        let answer = server.post("/v1/playground/decide", body);
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
    }
    // Text that names files is only text: nothing is read from the disk.
    let sneaky = "import \"/etc/passwd\"\ninclude \"/etc/shadow\"\n";
    let answer = server.post("/v1/playground/check", &json!({"policy": sneaky}).to_string());
    assert_eq!(answer.status, 200);
    assert!(!answer.body.contains("root:"), "{}", answer.body);
    // Deeply nested text compiles (the parser bounds nesting) and answers.
    let deep =
        format!("workflow w {{\n  allow a when {}x{}\n}}\n", "(".repeat(5_000), ")".repeat(5_000));
    assert_eq!(
        server.post("/v1/playground/check", &json!({"policy": deep}).to_string()).status,
        200
    );
}
