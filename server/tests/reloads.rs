//! Reloads load only finished files: a policy file written in parts, with a pause between, is
//! never served half written.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;
use writ_server::Source;

/// The first half of `REWRITTEN`: a policy of its own, that allows deploying to prod with no
/// approval (what a red team saw served: a pending decision turned allow).
const FIRST_HALF: &str = r#"role dev {
  may ping
  may deploy
}

tool ping
tool deploy(env: "staging" | "prod")

evidence approval by human

context frozen: bool

workflow w {
  start by dev
  allow ping
  allow deploy when env == "staging"
  allow deploy when env == "prod"
}
"#;

/// The second half: prod deploys need an approval again, and `ping` is retired.
const SECOND_HALF: &str = r#"
require approval by dev for deploy when env == "prod"
deny ping because "ping is retired"
"#;

#[test]
fn the_halves_compile_to_different_policies() {
    let decide = |text: &str, request: &str| {
        let dir = temp_dir("halves");
        let server = TestServer::start(config(Source::Policy(policy_file(&dir, text))));
        server.post("/v1/decide", request).json()["decision"].as_str().unwrap().to_string()
    };
    let whole = format!("{FIRST_HALF}{SECOND_HALF}");
    assert_eq!(decide(POLICY, PENDING), "pending");
    assert_eq!(decide(FIRST_HALF, PENDING), "allow");
    assert_eq!(decide(&whole, PENDING), "pending");
    assert_eq!(decide(&whole, ALLOW), "deny");
}

/// Where the platform reports files closed after writing (Linux), a file open for writing is
/// not loaded: this holds however long the writer pauses (here 1.5 s, longer than the
/// debounce and the settle reads together).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn a_file_written_in_two_halves_is_not_served_half_written() {
    let dir = temp_dir("halves-watch");
    let path = policy_file(&dir, POLICY);
    let mut config = config(Source::Policy(path.clone()));
    config.watch = true;
    let server = TestServer::start(config);
    assert_eq!(server.post("/v1/decide", PENDING).json()["decision"], "pending");

    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(FIRST_HALF.as_bytes()).unwrap();
    file.flush().unwrap();
    // While the writer pauses, the old policy serves: never the first half's allow.
    let pause = std::time::Instant::now();
    while pause.elapsed() < Duration::from_millis(1500) {
        assert_eq!(server.post("/v1/decide", PENDING).json()["decision"], "pending");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(server.get("/v1/status").json()["reloads"]["ok"], 1, "no reload yet");
    file.write_all(SECOND_HALF.as_bytes()).unwrap();
    drop(file);

    eventually("the whole new policy", || {
        server.post("/v1/decide", ALLOW).json()["decision"] == "deny"
    });
    assert_eq!(server.post("/v1/decide", PENDING).json()["decision"], "pending");
    assert_eq!(server.get("/v1/status").json()["last_reload_error"], serde_json::Value::Null);
}
