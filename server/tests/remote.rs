//! `--bundle-url`: a bundle fetched from a real HTTP server, polled with `ETag`s, verified as a
//! bundle file is, never rolled back; a failing server keeps the last good bundle.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;
mod peers;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::*;
use peers::{Answer, BundleServer};
use serde_json::{Value as Json, json};
use writ_agents::net::Roots;
use writ_agents::test_pki::Pki;
use writ_evaluator::bundle::{SigningKey, encode_verifying_key, write_version};
use writ_server::{Error, Reloaded, Remote, Source};

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn bundle(text: &str, version: u64, key: Option<&SigningKey>) -> Vec<u8> {
    let compiler = writ_compiler::Compiler::new(vec![("policy.writ".into(), text.into())]);
    let ir = compiler.compilation().policy.clone().expect("the policy compiles");
    let built_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    write_version(&ir, built_at, version, key).expect("a bundle")
}

/// The public half of `key(1)`, in a file.
fn public_key() -> PathBuf {
    let path = temp_dir("remote-key").join("writ.pub");
    std::fs::write(&path, encode_verifying_key(&key(1).verifying_key())).unwrap();
    path
}

fn signed(text: &str, version: u64, etag: &str) -> Answer {
    Answer::Bundle { bytes: bundle(text, version, Some(&key(1))), etag: Some(etag.into()) }
}

fn remote(url: &str, poll: Duration, key: Option<&Path>) -> Source {
    let mut remote = Remote::new(url);
    remote.poll = poll;
    remote.verify_key = key.map(Path::to_path_buf);
    Source::Url(remote)
}

fn status(server: &TestServer) -> Json {
    server.get("/v1/status").json()
}

fn fetches(server: &TestServer, outcome: &str) -> u64 {
    status(server)["source"]["fetches"][outcome].as_u64().unwrap()
}

/// `writ_bundle_fetches_total{outcome="OUTCOME"}` from `/metrics`.
fn metric(server: &TestServer, outcome: &str) -> u64 {
    let text = server.get("/metrics").body;
    let prefix = format!("writ_bundle_fetches_total{{outcome=\"{outcome}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap().parse().unwrap()
}

#[test]
fn an_unchanged_bundle_is_not_fetched_again_or_reloaded() {
    let bundles = BundleServer::start(signed(POLICY, 1, "\"v1\""));
    let public = public_key();
    let server =
        TestServer::start(config(remote(&bundles.url(), Duration::from_secs(3600), Some(&public))));
    assert_eq!(server.post("/v1/decide", ALLOW).json()["decision"], "allow");

    for _ in 0..3 {
        assert!(matches!(server.reload(), Reloaded::Unchanged(_)));
    }
    // One body (the start), then three 304s: nothing verified, nothing reloaded.
    assert_eq!(bundles.counts(|c| (c.requests, c.bodies, c.not_modified)), (4, 1, 3));
    let now = status(&server);
    assert_eq!(now["reloads"], json!({"ok": 1, "failed": 0}));
    assert_eq!(now["source"]["etag"], "\"v1\"");
    assert_eq!(
        now["source"]["fetches"],
        json!({"updated": 1, "unchanged": 3, "failed": 0, "refused": 0})
    );
    assert_eq!(metric(&server, "unchanged"), 3);

    // A server without ETags sending the same bytes again: not reloaded either.
    bundles.set(Answer::Bundle { bytes: bundle(POLICY, 1, Some(&key(1))), etag: None });
    assert!(matches!(server.reload(), Reloaded::Unchanged(_)));
    assert_eq!(status(&server)["reloads"]["ok"], 1);
}

#[test]
fn a_new_version_is_picked_up_by_the_next_poll() {
    let bundles = BundleServer::start(signed(POLICY, 1, "\"v1\""));
    let public = public_key();
    let server = TestServer::start(config(remote(
        &bundles.url(),
        Duration::from_millis(100),
        Some(&public),
    )));
    assert_eq!(server.post("/v1/decide", ALLOW).json()["decision"], "allow");
    eventually("a 304", || bundles.counts(|c| c.not_modified) >= 1);

    bundles.set(signed(POLICY_V2, 2, "\"v2\""));
    eventually("version 2", || server.post("/v1/decide", ALLOW).json()["decision"] == "deny");
    let status = status(&server);
    assert_eq!(status["policy"]["bundle_version"], 2);
    assert_eq!(status["source"]["etag"], "\"v2\"");
    assert_eq!(status["source"]["consecutive_failures"], 0);
}

#[test]
fn an_older_version_is_refused_and_reported() {
    let bundles = BundleServer::start(signed(POLICY_V2, 2, "\"v2\""));
    let public = public_key();
    let server =
        TestServer::start(config(remote(&bundles.url(), Duration::from_secs(3600), Some(&public))));
    let served = server.post("/v1/decide", ALLOW).json();
    assert_eq!(served["decision"], "deny");

    // Version 1, validly signed, served under a new ETag: a rollback.
    bundles.set(signed(POLICY, 1, "\"v1\""));
    let Reloaded::Failed(message) = server.reload() else { panic!("an older bundle loaded") };
    assert_eq!(
        message,
        format!(
            "bundle `{}` refused: its version 1 is lower than version 2, which is served (a \
             rollback)",
            bundles.url()
        )
    );
    assert_eq!(server.post("/v1/decide", ALLOW).json(), served);
    let status = status(&server);
    assert_eq!(status["policy"]["bundle_version"], 2);
    assert_eq!(status["source"]["last_error"]["message"], message.as_str());
    assert_eq!(status["last_reload_error"]["message"], message.as_str());
    assert_eq!(status["source"]["consecutive_failures"], 1);
    // The ETag kept is the served bundle's, not the refused one's.
    assert_eq!(status["source"]["etag"], "\"v2\"");
    assert_eq!(status["source"]["fetches"]["refused"], 1);
    assert_eq!(metric(&server, "refused"), 1);

    // A higher version loads, and clears the error.
    bundles.set(signed(POLICY, 3, "\"v3\""));
    assert!(matches!(server.reload(), Reloaded::Ok(_)));
    let status = self::status(&server);
    assert_eq!(status["policy"]["bundle_version"], 3);
    assert_eq!(status["source"]["last_error"], Json::Null);
    assert_eq!(status["source"]["consecutive_failures"], 0);
}

#[test]
fn a_bad_signature_is_refused_and_the_old_policy_keeps_serving() {
    let bundles = BundleServer::start(signed(POLICY, 1, "\"v1\""));
    let public = public_key();
    let server =
        TestServer::start(config(remote(&bundles.url(), Duration::from_secs(3600), Some(&public))));
    let served = server.post("/v1/decide", ALLOW).json();

    // Signed by another key; then unsigned; then tampered with.
    let cases = [
        (bundle(POLICY_V2, 2, Some(&key(2))), "signature does not verify"),
        (bundle(POLICY_V2, 2, None), "is not signed"),
        (
            {
                let mut bytes = bundle(POLICY_V2, 2, Some(&key(1)));
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0x20;
                bytes
            },
            "checksum",
        ),
        (b"not a bundle at all".to_vec(), "refused"),
    ];
    for (i, (bytes, why)) in cases.into_iter().enumerate() {
        bundles.set(Answer::Bundle { bytes, etag: Some(format!("\"bad{i}\"")) });
        let Reloaded::Failed(message) = server.reload() else { panic!("a bad bundle loaded") };
        assert!(message.contains(why), "{message}");
        assert!(message.starts_with(&format!("bundle `{}` refused: ", bundles.url())), "{message}");
        assert_eq!(server.post("/v1/decide", ALLOW).json(), served);
    }
    assert_eq!(status(&server)["source"]["consecutive_failures"], 4);
    assert_eq!(fetches(&server, "refused"), 4);
}

#[test]
fn a_bad_bundle_at_start_refuses_the_start() {
    let bundles =
        BundleServer::start(Answer::Bundle { bytes: bundle(POLICY, 1, Some(&key(2))), etag: None });
    let public = public_key();
    match TestServer::try_start(config(remote(
        &bundles.url(),
        Duration::from_secs(3600),
        Some(&public),
    ))) {
        Err(Error::Policy(message)) => {
            assert!(message.contains("signature does not verify"), "{message}")
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a bundle that does not verify was loaded"),
    }
    // A server that cannot be reached at start refuses the start too.
    let nowhere = format!("http://{}/bundle.writb", peers::free_port());
    match TestServer::try_start(config(remote(&nowhere, Duration::from_secs(3600), None))) {
        Err(Error::Policy(message)) => {
            assert!(
                message.starts_with(&format!("cannot fetch the bundle at `{nowhere}`")),
                "{message}"
            )
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("started with no bundle"),
    }
}

#[test]
fn a_server_down_at_start_is_polled_with_backoff_until_it_answers() {
    let addr = peers::free_port();
    let url = format!("http://{addr}/bundle.writb");
    let public = public_key();
    let mut config = config(remote(&url, Duration::from_millis(50), Some(&public)));
    config.require_policy = false;
    let server = TestServer::start(config);
    assert_eq!(server.post("/v1/decide", ALLOW).status, 503);
    assert_eq!(server.get("/v1/health").status, 503);

    // Failures back off: 50 ms, 100, 200, 400, 800, ... (jittered down to half): after two
    // seconds, far fewer attempts than the 40 a 50 ms poll would make.
    std::thread::sleep(Duration::from_secs(2));
    let status = status(&server);
    let failed = status["source"]["fetches"]["failed"].as_u64().unwrap();
    assert!((3..=12).contains(&failed), "{failed} attempts in 2 s");
    assert_eq!(status["source"]["consecutive_failures"].as_u64(), Some(failed));
    assert!(
        status["source"]["last_error"]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("cannot fetch the bundle at `{url}`")),
        "{status}"
    );
    assert_eq!(status["source"]["last_success_at"], Json::Null);
    assert!(status["source"]["last_attempt_at"].is_string());

    let bundles = BundleServer::start_on(addr, signed(POLICY, 1, "\"v1\""));
    eventually("the bundle", || server.post("/v1/decide", ALLOW).status == 200);
    let status = self::status(&server);
    assert_eq!(status["ready"], true);
    assert_eq!(status["source"]["consecutive_failures"], 0);
    assert!(status["source"]["last_success_at"].is_string());
    drop(bundles);
}

#[test]
fn a_server_down_later_keeps_the_last_good_bundle() {
    let bundles = BundleServer::start(signed(POLICY, 1, "\"v1\""));
    let public = public_key();
    let server =
        TestServer::start(config(remote(&bundles.url(), Duration::from_millis(50), Some(&public))));
    let served = server.post("/v1/decide", ALLOW).json();

    for code in [503, 404, 500] {
        bundles.set(Answer::Status(code));
        let Reloaded::Failed(message) = server.reload() else { panic!("no bundle loaded") };
        assert!(message.contains(&format!("the server answered {code}")), "{message}");
        assert_eq!(server.post("/v1/decide", ALLOW).json(), served);
    }
    assert_eq!(server.get("/v1/health").status, 200);
    let before = bundles.counts(|c| c.requests);
    std::thread::sleep(Duration::from_secs(2));
    let attempts = bundles.counts(|c| c.requests) - before;
    assert!(attempts <= 12, "{attempts} attempts in 2 s: no backoff");
    assert!(status(&server)["source"]["consecutive_failures"].as_u64().unwrap() >= 3);
    assert_eq!(server.post("/v1/decide", ALLOW).json(), served);

    // Back: the next poll succeeds and the backoff is reset.
    bundles.set(signed(POLICY, 1, "\"v1\""));
    eventually("a success", || status(&server)["source"]["consecutive_failures"] == 0);
}

#[test]
fn oversized_and_endless_bodies_are_refused_without_reading_them_whole() {
    let public = public_key();
    let good = BundleServer::start(signed(POLICY, 1, "\"v1\""));
    let small = |url: &str| {
        let mut source = remote(url, Duration::from_secs(3600), Some(&public));
        if let Source::Url(remote) = &mut source {
            remote.max_bytes = 64 * 1024;
            remote.timeout = Duration::from_secs(5);
        }
        source
    };
    let server = TestServer::start(config(small(&good.url())));
    let served = server.post("/v1/decide", ALLOW).json();

    // A body that declares a gigabyte: refused on its Content-Length.
    let liar =
        peers::endless("HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n", &[b'x'; 8192]);
    let mut config = config(small(&format!("http://{liar}/bundle.writb")));
    config.require_policy = false;
    let declared = TestServer::start(config);
    let message = declared.get("/v1/status").json()["source"]["last_error"]["message"].clone();
    assert!(
        message
            .as_str()
            .unwrap()
            .contains("1073741824 bytes (Content-Length), over the limit of 65536 bytes"),
        "{message}"
    );

    // A chunked body that never ends: refused once past the limit (not read to the timeout).
    let started = std::time::Instant::now();
    let endless = peers::endless("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", CHUNK);
    let mut config = self::config(small(&format!("http://{endless}/bundle.writb")));
    config.require_policy = false;
    let chunked = TestServer::start(config);
    let message = chunked.get("/v1/status").json()["source"]["last_error"]["message"].clone();
    assert!(
        message.as_str().unwrap().contains("its body is longer, over the limit of 65536 bytes"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "read until the timeout");
    assert_eq!(chunked.post("/v1/decide", ALLOW).status, 503);

    // And the good server's policy is untouched by all this.
    assert_eq!(server.post("/v1/decide", ALLOW).json(), served);
}

/// One 4 KiB chunk of a chunked body.
const CHUNK: &[u8] = &{
    let mut chunk = [b'x'; 4096 + 8];
    let head = b"1000\r\n";
    let mut i = 0;
    while i < head.len() {
        chunk[i] = head[i];
        i += 1;
    }
    chunk[4096 + 6] = b'\r';
    chunk[4096 + 7] = b'\n';
    chunk
};

#[test]
fn sighup_polls_at_once_and_the_status_has_a_shape() {
    let bundles = BundleServer::start(signed(POLICY, 1, "\"v1\""));
    let public = public_key();
    let server =
        TestServer::start(config(remote(&bundles.url(), Duration::from_secs(3600), Some(&public))));
    // A reload (what SIGHUP does) fetches now, though the next poll is an hour away.
    bundles.set(signed(POLICY_V2, 2, "\"v2\""));
    assert!(matches!(server.reload(), Reloaded::Ok(_)));
    assert_eq!(server.post("/v1/decide", ALLOW).json()["decision"], "deny");

    let mut status = redact(status(&server));
    for key in ["last_attempt_at", "last_success_at"] {
        assert!(status["source"][key].is_string());
        status["source"][key] = json!(format!("[{key}]"));
    }
    assert_eq!(status["source"]["url"], bundles.url());
    status["source"]["url"] = json!("[url]");
    insta::assert_json_snapshot!("bundle_url_status", status);
}

#[test]
fn an_https_server_of_a_private_ca_is_trusted_with_its_certificate_and_refused_without() {
    let pki = Pki::new();
    let bundles = BundleServer::start_tls(signed(POLICY, 1, "\"v1\""), &pki);
    assert!(bundles.url().starts_with("https://"));
    let public = public_key();
    let source = |roots: Roots| {
        let mut remote = Remote::new(bundles.url());
        remote.poll = Duration::from_secs(3600);
        remote.verify_key = Some(public.clone());
        remote.roots = roots;
        Source::Url(remote)
    };
    // The platform's roots alone: the certificate does not verify, the start is refused and
    // no request reached the server (no fallback to plain HTTP, no retry unverified).
    match TestServer::try_start(config(source(Roots::platform()))) {
        Err(Error::Policy(message)) => {
            assert!(message.contains("UnknownIssuer"), "{message}");
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a server whose certificate does not verify was trusted"),
    }
    assert_eq!(bundles.counts(|c| c.requests), 0);
    // With the CA (`--ca-cert`): fetched, verified and served.
    let server = TestServer::start(config(source(Roots::load(Some(&pki.ca)).unwrap())));
    assert_eq!(server.post("/v1/decide", ALLOW).status, 200);
    assert_eq!(bundles.counts(|c| c.bodies), 1);
    // Another CA's certificate does not stand in for it.
    let other = Pki::new();
    match TestServer::try_start(config(source(Roots::load(Some(&other.ca)).unwrap()))) {
        Err(Error::Policy(message)) => assert!(message.contains("certificate"), "{message}"),
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a certificate of another CA was trusted"),
    }
}

#[test]
fn a_certificate_of_the_trusted_ca_for_another_host_is_refused() {
    // The CA `--ca-cert` names vouches for `other.example`, and that certificate answers at
    // 127.0.0.1: trusting a CA is not trusting every name it signed.
    let pki = Pki::for_names("DNS:other.example");
    let bundles = BundleServer::start_tls(signed(POLICY, 1, "\"v1\""), &pki);
    let mut remote = Remote::new(bundles.url());
    remote.poll = Duration::from_secs(3600);
    remote.verify_key = Some(public_key());
    remote.roots = Roots::load(Some(&pki.ca)).unwrap();
    match TestServer::try_start(config(Source::Url(remote))) {
        Err(Error::Policy(message)) => {
            assert!(message.contains("not valid for name"), "{message}");
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a certificate for another host was trusted"),
    }
    assert_eq!(bundles.counts(|c| c.requests), 0);
}
