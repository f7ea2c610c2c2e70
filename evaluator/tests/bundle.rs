//! Bundles: every way a bundle can be wrong is refused with a clear error, and no bytes at all
//! panic the reader.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use sha2::{Digest, Sha256};
use writ_evaluator::Policy;
use writ_evaluator::bundle::{self, BundleError, SigningKey, read, write};
use writ_evaluator::ir::{PolicyIr, ToolId};

/// `role dev { may ping }`, `tool ping(env: string)`, `workflow w { allow ping }`, lowered.
fn ir() -> PolicyIr {
    let meta = |id: &str| serde_json::json!({"id": id, "file": "p.writ", "line": 1, "column": 1, "text": "t"});
    let no_rules = serde_json::json!({"denies": [], "deny_starts": [], "requires": []});
    serde_json::from_value(serde_json::json!({
        "hash": "sha256:0123",
        "roles": [{"name": "dev", "extends": [], "entitlements": [
            {"meta": meta("dev/may/1"), "target": {"tools": [0], "text": "ping"},
             "condition": null}]}],
        "attributes": [], "contexts": [], "evidence": [],
        "tools": [{"name": "ping", "params": [], "tags": []}],
        "workflows": [{"name": "w", "max_depth": 2, "ttl_seconds": 3600, "starts": [],
            "allows": [{"meta": meta("w/allow/1"),
                        "target": {"tools": [0], "text": "ping"}, "condition": null,
                        "require": []}],
            "rules": no_rules}],
        "guardrails": no_rules,
    }))
    .unwrap()
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn signed() -> Vec<u8> {
    write(&ir(), UNIX_EPOCH + Duration::from_secs(1_796_077_800), Some(&key())).unwrap()
}

fn unsigned() -> Vec<u8> {
    write(&ir(), UNIX_EPOCH + Duration::from_secs(1_796_077_800), None).unwrap()
}

/// Replaces the checksum of an unsigned bundle after editing it.
fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
    let end = bytes.len() - 32;
    let sum = Sha256::digest(&bytes[..end]);
    bytes[end..].copy_from_slice(&sum);
    bytes
}

fn error(bytes: &[u8], with_key: bool) -> String {
    let public = key().verifying_key();
    match read(bytes, with_key.then_some(&public)) {
        Ok(_) => "loaded".into(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_bundle_loads_and_decides() {
    let policy = Policy::from_bundle(&signed(), Some(&key().verifying_key())).unwrap();
    assert_eq!(policy.hash(), "sha256:0123");
    let request = writ_evaluator::Request::from_json(
        r#"{"action": "call", "workflow": "w", "tool": "ping",
            "chain": [{"id": "ada", "kind": "human", "roles": ["dev"]}, {"id": "b", "kind": "agent"}]}"#,
    )
    .unwrap();
    assert!(policy.decide(&request).is_allow());
    let info = bundle::inspect(&signed()).unwrap();
    assert!(info.signed);
    assert_eq!(info.writ_version, bundle::WRIT_VERSION);
    assert_eq!(info.format_version, bundle::FORMAT_VERSION);
}

#[test]
fn refusals() {
    let mut report = String::new();
    let mut case = |name: &str, bytes: &[u8], with_key: bool| {
        report.push_str(&format!("{name}: {}\n", error(bytes, with_key)));
    };
    case("empty", b"", false);
    case("not a bundle", b"{\"hash\": \"sha256:00\"}", false);
    case("magic only", b"WRIT", false);
    let mut b = unsigned();
    b[8] = 3;
    case("format version 3", &b, false);
    // Lowered to format 1 (no version, read as version 0): the checksum covers the format.
    let mut b = unsigned();
    b[8] = 1;
    case("format version lowered to 1", &b, false);
    let mut b = unsigned();
    b[11] = 0x80;
    case("unknown flag", &b, false);
    let b = unsigned();
    case("truncated", &b[..b.len() - 1], false);
    let mut b = unsigned();
    b.push(0);
    case("trailing byte", &b, false);
    let mut b = unsigned();
    let last = b.len() - 40;
    b[last] ^= 1;
    case("altered payload", &b, false);
    case("unsigned, key given", &unsigned(), true);
    let other = write(&ir(), UNIX_EPOCH, Some(&SigningKey::from_bytes(&[1; 32]))).unwrap();
    case("signed by another key", &other, true);
    let mut b = signed();
    let sig = b.len() - 1;
    b[sig] ^= 1;
    case("altered signature", &b, true);
    // Signature stripped and the flag cleared: the checksum no longer covers the same bytes.
    let mut b = signed();
    b.truncate(b.len() - 64);
    b[10] = 0;
    case("signature stripped", &b, true);
    case("signature stripped, no key", &b, false);
    // A payload that decodes, with the checksum recomputed, but another policy's hash.
    let mut other_ir = ir();
    other_ir.hash = "sha256:4567".into();
    let good = unsigned();
    let other = write(&other_ir, UNIX_EPOCH + Duration::from_secs(1_796_077_800), None).unwrap();
    let header_len = u32::from_le_bytes(good[12..16].try_into().unwrap()) as usize;
    let mut spliced = good[..16 + header_len].to_vec();
    spliced.extend_from_slice(&other[16 + header_len..]);
    case("header and payload disagree", &reseal(spliced), false);
    // A payload that is not a PolicyIr.
    let mut b = unsigned();
    let at = 16 + header_len + 8;
    b[at] = 0xff;
    b[at + 1] = 0xff;
    case("malformed payload", &reseal(b), false);
    insta::assert_snapshot!(report);

    // A payload that decodes but is not a valid policy (a tool index out of range).
    let mut bad = ir();
    bad.workflows[0].allows[0].target.tools = vec![ToolId(9)];
    let bytes = write(&bad, UNIX_EPOCH, None).unwrap();
    let err = Policy::from_bundle(&bytes, None).unwrap_err();
    assert!(matches!(err, BundleError::Policy(_)));
    insta::assert_snapshot!("invalid_policy", err.to_string());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = read(&bytes, None);
        let _ = read(&bytes, Some(&key().verifying_key()));
        let _ = bundle::inspect(&bytes);
    }

    #[test]
    fn random_bytes_after_a_valid_prefix_never_panic(
        cut in 0usize..200,
        tail in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = unsigned();
        bytes.truncate(cut.min(bytes.len()));
        bytes.extend_from_slice(&tail);
        let _ = read(&bytes, None);
    }

    /// Mutations of a signed bundle: each is refused (with the key, every change is).
    #[test]
    fn mutated_bundles_are_refused(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let original = signed();
        let mut bytes = original.clone();
        for (index, byte, op) in edits {
            if bytes.is_empty() {
                bytes.push(byte);
                continue;
            }
            let at = index.index(bytes.len());
            match op {
                0 => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ => { bytes.remove(at); }
            }
        }
        let result = read(&bytes, Some(&key().verifying_key()));
        if bytes != original {
            prop_assert!(result.is_err());
        }
    }

    /// Payload mutations with the checksum recomputed reach the decoder: never a panic.
    #[test]
    fn resealed_payload_mutations_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = unsigned();
        let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
        let start = 16 + header_len + 8;
        let end = bytes.len() - 32;
        for (index, byte) in edits {
            let at = start + index.index(end - start);
            bytes[at] = byte;
        }
        let bytes = reseal(bytes);
        if let Ok((_, ir)) = read(&bytes, None) {
            let _ = Policy::from_ir(ir);
        }
    }
}
