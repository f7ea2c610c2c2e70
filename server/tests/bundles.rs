//! Serving bundles: verified at start and on every reload; one that does not verify is never
//! loaded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::*;
use serde_json::json;
use writ_evaluator::bundle::{SigningKey, encode_verifying_key, write_version};
use writ_server::{Error, Reloaded, Source};

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// `text` as a bundle: version 1 of `POLICY`, version 2 of `POLICY_V2`.
fn bundle(text: &str, key: Option<&SigningKey>) -> Vec<u8> {
    bundle_version(text, if text == POLICY_V2 { 2 } else { 1 }, key)
}

fn bundle_version(text: &str, version: u64, key: Option<&SigningKey>) -> Vec<u8> {
    let compiler = writ_compiler::Compiler::new(vec![("policy.writ".into(), text.into())]);
    let ir = compiler.compilation().policy.clone().expect("the policy compiles");
    let built_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    write_version(&ir, built_at, version, key).expect("a bundle")
}

/// `DIR/policy.writb` and `DIR/writ.pub` (the public half of `key(1)`).
fn files(dir: &Path, bytes: &[u8]) -> (PathBuf, PathBuf) {
    let path = dir.join("policy.writb");
    std::fs::write(&path, bytes).unwrap();
    let public = dir.join("writ.pub");
    std::fs::write(&public, encode_verifying_key(&key(1).verifying_key())).unwrap();
    (path, public)
}

fn source(path: &Path, public: Option<&Path>) -> Source {
    Source::Bundle {
        path: path.to_path_buf(),
        verify_key: public.map(Path::to_path_buf),
        min_version: 0,
    }
}

fn refused(source: Source) -> String {
    match TestServer::try_start(config(source)) {
        Err(Error::Policy(message)) => message,
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a bundle that does not verify was loaded"),
    }
}

#[test]
fn a_signed_bundle_serves_the_same_decisions_as_its_policy() {
    let dir = temp_dir("bundle");
    let (path, public) = files(&dir, &bundle(POLICY, Some(&key(1))));
    let server = TestServer::start(config(source(&path, Some(&public))));
    let from_bundle = server.post("/v1/decide", PENDING).json();

    let policy = TestServer::start(config(Source::Policy(policy_file(&dir, POLICY))));
    assert_eq!(from_bundle, policy.post("/v1/decide", PENDING).json());

    let status = server.get("/v1/status").json();
    assert_eq!(status["source"], json!({"kind": "bundle", "path": path.display().to_string()}));
    assert_eq!(status["policy"]["hash"], from_bundle["policy"]);
    let tools = r#"{"workflow": "w", "chain": [{"id": "ada", "kind": "human", "roles": ["dev"]}]}"#;
    assert_eq!(server.post("/v1/tools", tools).json()["tools"][0]["tool"], "ping");

    // Without a verify key, a signed bundle loads too (its checksum is still checked).
    let unverified = TestServer::start(config(source(&path, None)));
    assert_eq!(unverified.post("/v1/decide", PENDING).json(), from_bundle);
}

#[test]
fn bundles_that_do_not_verify_are_refused_at_start() {
    let dir = temp_dir("tampered");
    let good = bundle(POLICY, Some(&key(1)));

    // One byte of the payload changed.
    let mut tampered = good.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x20;
    let (path, public) = files(&dir, &tampered);
    let message = refused(source(&path, Some(&public)));
    assert_eq!(
        message,
        format!(
            "bundle `{}` refused: the bundle's checksum does not match its contents: it was \
             damaged or altered",
            path.display()
        )
    );
    // Tampered bundles are refused without a key too.
    assert!(refused(source(&path, None)).contains("checksum"));

    // Signed by another key.
    std::fs::write(&path, bundle(POLICY, Some(&key(2)))).unwrap();
    assert!(refused(source(&path, Some(&public))).contains("signature does not verify"));

    // Not signed, while a key is required.
    std::fs::write(&path, bundle(POLICY, None)).unwrap();
    assert!(refused(source(&path, Some(&public))).contains("is not signed"));

    // Cut short.
    std::fs::write(&path, &good[..good.len() - 10]).unwrap();
    assert!(refused(source(&path, Some(&public))).contains("truncated"));

    // Not a key.
    std::fs::write(&path, &good).unwrap();
    std::fs::write(&public, "hello").unwrap();
    let message = refused(source(&path, Some(&public)));
    assert!(message.starts_with(&format!("verify key `{}`: ", public.display())), "{message}");
}

#[test]
fn a_reload_to_a_tampered_bundle_keeps_the_old_one() {
    let dir = temp_dir("bundle-reload");
    let (path, public) = files(&dir, &bundle(POLICY, Some(&key(1))));
    let server = TestServer::start(config(source(&path, Some(&public))));
    let before = server.post("/v1/decide", ALLOW).json();
    assert_eq!(before["decision"], "allow");

    let mut next = bundle(POLICY_V2, Some(&key(1)));
    let last = next.len() - 1;
    next[last] ^= 1; // the signature
    std::fs::write(&path, &next).unwrap();
    let Reloaded::Failed(message) = server.reload() else { panic!("a tampered bundle loaded") };
    assert!(message.contains("signature does not verify"), "{message}");
    assert_eq!(server.post("/v1/decide", ALLOW).json(), before);
    let status = server.get("/v1/status").json();
    assert_eq!(status["last_reload_error"]["message"], message.as_str());

    next[last] ^= 1;
    std::fs::write(&path, &next).unwrap();
    let Reloaded::Ok(hash) = server.reload() else { panic!("a good bundle did not load") };
    let after = server.post("/v1/decide", ALLOW).json();
    assert_eq!(
        (after["decision"].as_str(), after["policy"].as_str()),
        (Some("deny"), Some(&*hash))
    );
}

#[test]
fn a_replaced_bundle_file_is_reloaded() {
    let dir = temp_dir("bundle-watch");
    let (path, public) = files(&dir, &bundle(POLICY, Some(&key(1))));
    let mut config = config(source(&path, Some(&public)));
    config.watch = true;
    let server = TestServer::start(config);
    assert_eq!(server.post("/v1/decide", ALLOW).json()["decision"], "allow");
    let staged = dir.join("next.writb");
    std::fs::write(&staged, bundle(POLICY_V2, Some(&key(1)))).unwrap();
    std::fs::rename(&staged, &path).unwrap();
    eventually("the new bundle", || server.post("/v1/decide", ALLOW).json()["decision"] == "deny");
}

#[test]
fn a_reload_to_an_older_bundle_is_refused() {
    let dir = temp_dir("bundle-rollback");
    let old = bundle(POLICY, Some(&key(1)));
    let (path, public) = files(&dir, &bundle(POLICY_V2, Some(&key(1))));
    let server = TestServer::start(config(source(&path, Some(&public))));
    let served = server.post("/v1/decide", ALLOW).json();
    assert_eq!(served["decision"], "deny");
    assert_eq!(server.get("/v1/status").json()["policy"]["bundle_version"], 2);

    // The older build, validly signed: refused, and the newer one keeps serving.
    std::fs::write(&path, &old).unwrap();
    let Reloaded::Failed(message) = server.reload() else { panic!("an older bundle loaded") };
    assert_eq!(
        message,
        format!(
            "bundle `{}` refused: its version 1 is lower than version 2, which is served (a \
             rollback)",
            path.display()
        )
    );
    assert_eq!(server.post("/v1/decide", ALLOW).json(), served);
    let status = server.get("/v1/status").json();
    assert_eq!(status["last_reload_error"]["message"], message.as_str());
    assert_eq!(status["reloads"], json!({"ok": 1, "failed": 1}));
    assert!(server.get("/metrics").body.contains("writ_reloads_total{result=\"failed\"} 1"));

    // The same version with another policy: refused too.
    std::fs::write(&path, bundle_version(POLICY, 2, Some(&key(1)))).unwrap();
    let Reloaded::Failed(message) = server.reload() else { panic!("a same-version bundle loaded") };
    assert!(message.contains("it has version 2, as the bundle served, but another policy"));
    assert_eq!(server.post("/v1/decide", ALLOW).json(), served);

    // The same bundle again changes nothing and is not an error; a higher version loads.
    std::fs::write(&path, bundle(POLICY_V2, Some(&key(1)))).unwrap();
    assert!(matches!(server.reload(), Reloaded::Ok(_)));
    std::fs::write(&path, bundle_version(POLICY, 3, Some(&key(1)))).unwrap();
    assert!(matches!(server.reload(), Reloaded::Ok(_)));
    assert_eq!(server.post("/v1/decide", ALLOW).json()["decision"], "allow");
    assert_eq!(server.get("/v1/status").json()["policy"]["bundle_version"], 3);
}

#[test]
fn a_minimum_version_guards_the_start_and_an_unready_server() {
    let dir = temp_dir("bundle-minimum");
    let (path, public) = files(&dir, &bundle(POLICY, Some(&key(1))));
    let mut guarded = source(&path, Some(&public));
    if let Source::Bundle { min_version, .. } = &mut guarded {
        *min_version = 2;
    }
    assert_eq!(
        refused(guarded.clone()),
        format!(
            "bundle `{}` refused: its version 1 is lower than the minimum version 2 \
             (`--min-bundle-version`)",
            path.display()
        )
    );

    // Started unready, it stays unready until a bundle of version 2 or more arrives.
    let mut unready = config(guarded);
    unready.require_policy = false;
    let server = TestServer::start(unready);
    assert_eq!(server.post("/v1/decide", ALLOW).status, 503);
    assert!(matches!(server.reload(), Reloaded::Failed(_)));
    std::fs::write(&path, bundle(POLICY_V2, Some(&key(1)))).unwrap();
    assert!(matches!(server.reload(), Reloaded::Ok(_)));
    assert_eq!(server.post("/v1/decide", ALLOW).json()["decision"], "deny");
}
