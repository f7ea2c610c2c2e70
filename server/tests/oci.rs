//! `--bundle-url oci://...`: a bundle pushed to a real OCI registry (Debian's `docker-registry`
//! on a free port), pulled by manifest digest, verified as a bundle file is, never rolled back;
//! a registry that is down, a manifest that is not a writ bundle's and a layer that does not
//! match its digest all keep the last good bundle. Skipped, saying so, without
//! `docker-registry` outside CI.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;
#[path = "peers/registry.rs"]
mod registry;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::*;
use registry::Registry;
use serde_json::Value as Json;
use writ_agents::net::Roots;
use writ_agents::test_pki::Pki;
use writ_evaluator::bundle::{SigningKey, encode_verifying_key, write_version};
use writ_server::oci::{self, Credentials, Pushed};
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
fn public_key(dir: &Path) -> PathBuf {
    let path = dir.join("writ.pub");
    std::fs::write(&path, encode_verifying_key(&key(1).verifying_key())).unwrap();
    path
}

/// The registry options for the test registry: plain HTTP to it, maybe a login.
fn options(registry: &Registry, credentials: Option<Credentials>) -> oci::Registry {
    oci::Registry { credentials, insecure: vec![registry.host()] }
}

fn push(registry: &Registry, url: &str, bytes: &[u8]) -> Pushed {
    oci::push(
        url,
        bytes,
        BTreeMap::new(),
        &options(registry, None),
        &Roots::platform(),
        Duration::from_secs(30),
    )
    .expect("the push")
}

fn remote(registry: &Registry, url: &str, poll: Duration, key: &Path) -> Source {
    let mut remote = Remote::new(url);
    remote.poll = poll;
    remote.verify_key = Some(key.to_path_buf());
    remote.registry = options(registry, None);
    Source::Url(remote)
}

fn status(server: &TestServer) -> Json {
    server.get("/v1/status").json()
}

fn decide(server: &TestServer) -> Json {
    server.post("/v1/decide", ALLOW).json()["decision"].clone()
}

/// A registry and a directory, or `None` when the test is skipped.
fn setup(name: &str) -> Option<(PathBuf, Registry)> {
    let dir = temp_dir(name);
    let registry = Registry::start(&dir, None)?;
    Some((dir, registry))
}

#[test]
fn a_pushed_bundle_is_served_and_a_newer_one_replaces_it() {
    let Some((dir, registry)) = setup("oci-serve") else { return };
    let url = format!("oci://{}/team/policy:prod", registry.host());
    let v1 = push(&registry, &url, &bundle(POLICY, 1, Some(&key(1))));
    let public = public_key(&dir);
    let server =
        TestServer::start(config(remote(&registry, &url, Duration::from_secs(3600), &public)));
    assert_eq!(decide(&server), "allow");
    let now = status(&server);
    assert_eq!(now["policy"]["bundle_version"], 1);
    assert_eq!(now["source"]["kind"], "bundle-url");
    assert_eq!(now["source"]["url"], url.as_str());
    assert_eq!(now["source"]["manifest_digest"], v1.digest.as_str());

    // The same manifest digest: nothing fetched beyond the HEAD, nothing reloaded.
    for _ in 0..3 {
        assert!(matches!(server.reload(), Reloaded::Unchanged(_)));
    }
    let now = status(&server);
    assert_eq!(now["reloads"]["ok"], 1);
    assert_eq!(now["source"]["fetches"]["unchanged"], 3);

    // A newer version under the tag: the next poll serves it.
    let v2 = push(&registry, &url, &bundle(POLICY_V2, 2, Some(&key(1))));
    assert_ne!(v1.digest, v2.digest);
    assert!(matches!(server.reload(), Reloaded::Ok(_)));
    assert_eq!(decide(&server), "deny");
    let now = status(&server);
    assert_eq!(now["policy"]["bundle_version"], 2);
    assert_eq!(now["source"]["manifest_digest"], v2.digest.as_str());
    assert_eq!(now["source"]["fetches"]["updated"], 2);
}

#[test]
fn the_poller_picks_up_a_push_within_two_polls() {
    let Some((dir, registry)) = setup("oci-poll") else { return };
    let url = format!("oci://{}/policy:v", registry.host());
    push(&registry, &url, &bundle(POLICY, 1, Some(&key(1))));
    let public = public_key(&dir);
    let poll = Duration::from_millis(300);
    let server = TestServer::start(config(remote(&registry, &url, poll, &public)));
    assert_eq!(decide(&server), "allow");
    let fetches = |server: &TestServer| {
        let f = &status(server)["source"]["fetches"];
        f["unchanged"].as_u64().unwrap() + f["updated"].as_u64().unwrap()
    };
    eventually("a poll", || fetches(&server) >= 2);

    let before = fetches(&server);
    push(&registry, &url, &bundle(POLICY_V2, 2, Some(&key(1))));
    eventually("version 2", || decide(&server) == "deny");
    // The push is seen by the first poll after it, or the second when a poll raced the push
    // (and one more may have run since): counted in polls, not in time.
    let updated = status(&server)["source"]["fetches"]["updated"].as_u64().unwrap();
    assert_eq!(updated, 2);
    assert!(fetches(&server) - before <= 3, "{} polls", fetches(&server) - before);
}

#[test]
fn a_pinned_digest_is_served() {
    let Some((dir, registry)) = setup("oci-pinned") else { return };
    let tag = format!("oci://{}/policy:v1", registry.host());
    let pushed = push(&registry, &tag, &bundle(POLICY, 1, Some(&key(1))));
    // The tag moves on; the digest still names version 1.
    push(&registry, &tag, &bundle(POLICY_V2, 2, Some(&key(1))));
    let pinned = format!("oci://{}/policy@{}", registry.host(), pushed.digest);
    let public = public_key(&dir);
    let server =
        TestServer::start(config(remote(&registry, &pinned, Duration::from_secs(3600), &public)));
    assert_eq!(decide(&server), "allow");
    assert_eq!(status(&server)["policy"]["bundle_version"], 1);
}

#[test]
fn an_older_version_under_the_tag_is_refused_and_the_last_good_keeps_serving() {
    let Some((dir, registry)) = setup("oci-rollback") else { return };
    let url = format!("oci://{}/policy:prod", registry.host());
    let v2 = push(&registry, &url, &bundle(POLICY_V2, 2, Some(&key(1))));
    let public = public_key(&dir);
    let server =
        TestServer::start(config(remote(&registry, &url, Duration::from_secs(3600), &public)));
    assert_eq!(decide(&server), "deny");

    // Version 1, validly signed, pushed again under the tag: a rollback.
    push(&registry, &url, &bundle(POLICY, 1, Some(&key(1))));
    for failures in 1..=2 {
        let Reloaded::Failed(message) = server.reload() else { panic!("an older bundle loaded") };
        assert_eq!(
            message,
            format!(
                "bundle `{url}` refused: its version 1 is lower than version 2, which is served \
                 (a rollback)"
            )
        );
        assert_eq!(decide(&server), "deny");
        let now = status(&server);
        assert_eq!(now["policy"]["bundle_version"], 2);
        assert_eq!(now["source"]["last_error"]["message"], message.as_str());
        assert_eq!(now["source"]["consecutive_failures"], failures);
        // The digest kept is the served bundle's, not the refused one's.
        assert_eq!(now["source"]["manifest_digest"], v2.digest.as_str());
        assert_eq!(now["source"]["fetches"]["refused"], failures);
    }

    // A higher version loads and clears the error.
    push(&registry, &url, &bundle(POLICY, 3, Some(&key(1))));
    assert!(matches!(server.reload(), Reloaded::Ok(_)));
    let now = status(&server);
    assert_eq!(now["policy"]["bundle_version"], 3);
    assert_eq!(now["source"]["last_error"], Json::Null);
    assert_eq!(now["source"]["consecutive_failures"], 0);
}

#[test]
fn a_registry_that_is_down_keeps_the_last_good_bundle() {
    let Some((dir, mut registry)) = setup("oci-down") else { return };
    let url = format!("oci://{}/policy:prod", registry.host());
    push(&registry, &url, &bundle(POLICY, 1, Some(&key(1))));
    let public = public_key(&dir);
    let server =
        TestServer::start(config(remote(&registry, &url, Duration::from_secs(3600), &public)));
    assert_eq!(decide(&server), "allow");

    registry.stop();
    for failures in 1..=3 {
        let Reloaded::Failed(message) = server.reload() else {
            panic!("a reload without a registry")
        };
        assert!(message.starts_with(&format!("cannot fetch the bundle at `{url}`: ")), "{message}");
        assert_eq!(decide(&server), "allow");
        let now = status(&server);
        assert_eq!(now["source"]["consecutive_failures"], failures);
        assert_eq!(now["source"]["last_error"]["message"], message.as_str());
        assert_eq!(now["source"]["fetches"]["failed"], failures);
        assert_eq!(now["policy"]["bundle_version"], 1);
    }

    // Back: the same digest, nothing to reload, and the backoff is reset.
    registry.restart();
    assert!(matches!(server.reload(), Reloaded::Unchanged(_)));
    let now = status(&server);
    assert_eq!(now["source"]["consecutive_failures"], 0);
    assert_eq!(now["source"]["last_error"], Json::Null);
}

#[test]
fn what_is_not_a_valid_writ_bundle_is_refused() {
    let Some((dir, registry)) = setup("oci-refused") else { return };
    let url = format!("oci://{}/policy:prod", registry.host());
    push(&registry, &url, &bundle(POLICY, 1, Some(&key(1))));
    let public = public_key(&dir);
    let server =
        TestServer::start(config(remote(&registry, &url, Duration::from_secs(3600), &public)));
    assert_eq!(decide(&server), "allow");

    // A manifest whose layer is a container image layer, holding a valid newer bundle.
    let reference: oci_client::Reference = url.strip_prefix("oci://").unwrap().parse().unwrap();
    let client = oci_client::Client::new(oci_client::client::ClientConfig {
        protocol: oci_client::client::ClientProtocol::Http,
        ..Default::default()
    });
    let layer = oci_client::client::ImageLayer::oci_v1(bundle(POLICY_V2, 2, Some(&key(1))), None);
    let config = oci_client::client::Config::oci_v1(b"{}".to_vec(), None);
    server
        .runtime
        .block_on(client.push(
            &reference,
            &[layer],
            config,
            &oci_client::secrets::RegistryAuth::Anonymous,
            None,
        ))
        .unwrap();
    let refused = |why: &str| {
        let Reloaded::Failed(message) = server.reload() else { panic!("loaded: {why}") };
        assert!(message.contains(why), "{message}");
        assert_eq!(decide(&server), "allow");
        assert_eq!(status(&server)["policy"]["bundle_version"], 1);
    };
    refused("its layer's media type is `application/vnd.oci.image.layer.v1.tar`");

    // A writ bundle whose layer was altered in the registry's storage: its digest fails.
    let v2 = bundle(POLICY_V2, 2, Some(&key(1)));
    let layer_digest = push(&registry, &url, &v2).layer_digest;
    let file = registry.blob_file(&layer_digest);
    let mut stored = std::fs::read(&file).unwrap();
    assert_eq!(stored, v2);
    let middle = stored.len() / 2;
    stored[middle] ^= 0x20;
    std::fs::write(&file, &stored).unwrap();
    refused("its layer does not match its digest");

    // Signed by another key; unsigned.
    push(&registry, &url, &bundle(POLICY_V2, 3, Some(&key(2))));
    refused("signature does not verify");
    push(&registry, &url, &bundle(POLICY_V2, 4, None));
    refused("is not signed");
    assert_eq!(status(&server)["source"]["consecutive_failures"], 4);
}

#[test]
fn plain_http_only_to_registries_named_insecure() {
    let Some((dir, registry)) = setup("oci-insecure") else { return };
    let url = format!("oci://{}/policy:prod", registry.host());
    push(&registry, &url, &bundle(POLICY, 1, Some(&key(1))));
    let public = public_key(&dir);
    let Source::Url(mut remote) = remote(&registry, &url, Duration::from_secs(3600), &public)
    else {
        unreachable!()
    };
    remote.registry.insecure.clear();
    // Over HTTPS, a plain-HTTP registry does not answer: the start fails, closed.
    match TestServer::try_start(config(Source::Url(remote))) {
        Err(Error::Policy(message)) => {
            assert!(
                message.starts_with(&format!("cannot fetch the bundle at `{url}`")),
                "{message}"
            )
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a bundle fetched over plain HTTP from a registry not named insecure"),
    }
}

#[test]
fn a_registry_with_logins_takes_the_credentials() {
    let dir = temp_dir("oci-login");
    // bcrypt (cost 4) of `writ-test-password`.
    let htpasswd = dir.join("htpasswd");
    std::fs::write(&htpasswd, "ci:$2b$04$6dA7nkvxVJAdcDyybqY9NuyODDI6PQDBgz1YdPYb28ubBuK56uytC\n")
        .unwrap();
    let Some(registry) = Registry::start(&dir, Some(&htpasswd)) else { return };
    let url = format!("oci://{}/policy:prod", registry.host());
    let login = Credentials { username: "ci".into(), password: "writ-test-password".into() };
    let bytes = bundle(POLICY, 1, Some(&key(1)));
    let timeout = Duration::from_secs(30);

    let anonymous = oci::push(
        &url,
        &bytes,
        BTreeMap::new(),
        &options(&registry, None),
        &Roots::platform(),
        timeout,
    );
    assert!(anonymous.is_err(), "an anonymous push to a registry with logins");
    let wrong = Credentials { password: "wrong".into(), ..login.clone() };
    assert!(
        oci::push(
            &url,
            &bytes,
            BTreeMap::new(),
            &options(&registry, Some(wrong)),
            &Roots::platform(),
            timeout
        )
        .is_err()
    );
    oci::push(
        &url,
        &bytes,
        BTreeMap::new(),
        &options(&registry, Some(login.clone())),
        &Roots::platform(),
        timeout,
    )
    .expect("a push with the login");

    let public = public_key(&dir);
    let Source::Url(mut remote) = remote(&registry, &url, Duration::from_secs(3600), &public)
    else {
        unreachable!()
    };
    assert!(TestServer::try_start(config(Source::Url(remote.clone()))).is_err());
    remote.registry.credentials = Some(login);
    let server = TestServer::start(config(Source::Url(remote)));
    assert_eq!(decide(&server), "allow");
}

#[test]
fn an_https_registry_of_a_private_ca_is_trusted_with_its_certificate_and_refused_without() {
    let dir = temp_dir("oci-tls");
    let pki = Pki::new();
    let Some(registry) = Registry::start_tls(&dir, (&pki.cert, &pki.key)) else { return };
    let url = format!("oci://{}/policy:prod", registry.host());
    let bytes = bundle(POLICY, 1, Some(&key(1)));
    let https = oci::Registry::default();
    let timeout = Duration::from_secs(30);
    let trusted = Roots::load(Some(&pki.ca)).unwrap();
    // `writ bundle push`: refused on the certificate without the CA, pushed with it.
    let Err(refused) =
        oci::push(&url, &bytes, BTreeMap::new(), &https, &Roots::platform(), timeout)
    else {
        panic!("pushed to a registry whose certificate does not verify")
    };
    assert!(refused.to_string().contains("UnknownIssuer"), "{refused}");
    oci::push(&url, &bytes, BTreeMap::new(), &https, &trusted, timeout).expect("the push");
    // `writ serve --bundle-url oci://...`: the same.
    let public = public_key(&dir);
    let source = |roots: &Roots| {
        let mut remote = Remote::new(&url);
        remote.poll = Duration::from_secs(3600);
        remote.verify_key = Some(public.clone());
        remote.roots = roots.clone();
        Source::Url(remote)
    };
    match TestServer::try_start(config(source(&Roots::platform()))) {
        Err(Error::Policy(message)) => assert!(message.contains("UnknownIssuer"), "{message}"),
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a bundle fetched from a registry whose certificate does not verify"),
    }
    let server = TestServer::start(config(source(&trusted)));
    assert_eq!(decide(&server), "allow");
}
