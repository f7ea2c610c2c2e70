use super::*;
use crate::Outcome;
use crate::testing::Ir;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

const SUBJECT: &str = "sha256:change";

fn now() -> Timestamp {
    at("2026-12-03T12:00:00Z")
}

fn statement(k: &SigningKey, kind: &str, subject: &str) -> String {
    Statement::sign(
        k,
        kind,
        subject,
        vec![],
        at("2026-12-03T11:00:00Z"),
        at("2026-12-04T11:00:00Z"),
    )
    .unwrap()
    .to_json()
}

fn public(k: &SigningKey) -> String {
    bundle::encode_verifying_key(&k.verifying_key()).trim().to_owned()
}

fn trust(entries: &[(&SigningKey, &str, &str, Option<&[&str]>)]) -> Trust {
    let signers: Vec<Value> = entries
        .iter()
        .map(|(k, id, role, may)| {
            let mut v = serde_json::json!({
                "key": public(k),
                "principal": {"id": id, "kind": "human", "roles": [role]},
            });
            if let Some(may) = may {
                v["may_attest"] = serde_json::json!(may);
            }
            v
        })
        .collect();
    Trust::from_json(serde_json::json!({ "signers": signers }).to_string().as_bytes()).unwrap()
}

fn lead_trust() -> Trust {
    trust(&[(&key(1), "lee", "lead", None), (&key(2), "kim", "lead", Some(&["tests_passed"]))])
}

#[test]
fn a_signed_statement_verifies_and_gives_the_trusted_giver() {
    let text = statement(&key(1), "approval", SUBJECT);
    let verified = lead_trust().verify(text.as_bytes(), Some(SUBJECT), now()).unwrap();
    assert_eq!(verified.signer, "lee");
    assert_eq!(verified.item.kind, "approval");
    assert_eq!(verified.item.subject.as_deref(), Some(SUBJECT));
    let by = verified.item.by.unwrap();
    assert_eq!((by.id.as_ref(), by.roles), ("lee", vec!["lead".into()]));
    assert_eq!(verified.digest, digest(text.as_bytes()));
}

#[test]
fn the_canonical_form_is_stable() {
    let s = Statement::sign(
        &key(1),
        "ticket",
        SUBJECT,
        vec![
            ("z".into(), RequestValue::Int(3)),
            ("a".into(), RequestValue::Str("q\"\n".into())),
            ("m".into(), RequestValue::StrList(vec!["x".into()])),
        ],
        at("2026-12-03T11:00:00Z"),
        at("2026-12-04T11:00:00Z"),
    )
    .unwrap();
    let signed = String::from_utf8(s.signed_bytes()).unwrap();
    insta::assert_snapshot!(signed, @r#"
    writ-statement-v1
    {"writ_statement":1,"signer":"writ-ed25519-public:8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c","kind":"ticket","subject":"sha256:change","fields":{"a":"q\"\n","m":["x"],"z":3},"issued_at":"2026-12-03T11:00:00Z","expires_at":"2026-12-04T11:00:00Z"}
    "#);
    // Parsing the written form gives the same statement back, whatever the key order.
    let reparsed = Statement::parse(s.to_json().as_bytes()).unwrap();
    assert_eq!(reparsed, s);
    let mut value: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
    let pretty = serde_json::to_string_pretty(&value.take()).unwrap();
    // Whitespace between tokens is not signed: a pretty-printed statement is the same one.
    assert!(lead_trust().verify(pretty.as_bytes(), Some(SUBJECT), now()).is_ok());
}

#[test]
fn flipping_any_byte_never_verifies() {
    let trust = lead_trust();
    let text = statement(&key(1), "approval", SUBJECT);
    for i in 0..text.len() {
        for flip in [0x01u8, 0x20, 0x80] {
            let mut bytes = text.clone().into_bytes();
            bytes[i] ^= flip;
            let result = trust.verify(&bytes, Some(SUBJECT), now());
            assert!(
                result.is_err(),
                "byte {i} ^ {flip:#x} still verifies: {:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}

#[test]
fn changing_any_field_is_a_bad_signature_or_another_subject() {
    let trust = lead_trust();
    let text = statement(&key(1), "approval", SUBJECT);
    let original: serde_json::Value = serde_json::from_str(&text).unwrap();
    let changes = [
        ("kind", serde_json::json!("tests_passed")),
        ("fields", serde_json::json!({"x": 1})),
        ("issued_at", serde_json::json!("2026-12-03T10:00:00Z")),
        ("expires_at", serde_json::json!("2027-12-04T11:00:00Z")),
        ("expires_at", serde_json::json!("2026-12-04T11:00:00.0Z")),
        ("signer", serde_json::json!(public(&key(2)))),
        (
            "signer",
            serde_json::json!(
                public(&key(1))
                    .to_uppercase()
                    .replace("WRIT-ED25519-PUBLIC", "writ-ed25519-public")
            ),
        ),
    ];
    for (field, value) in changes {
        let mut changed = original.clone();
        changed[field] = value;
        let result = trust.verify(changed.to_string().as_bytes(), Some(SUBJECT), now());
        assert_eq!(result.unwrap_err(), Rejection::BadSignature, "{field}");
    }
    let mut changed = original.clone();
    changed["subject"] = serde_json::json!("sha256:other");
    assert_eq!(
        trust.verify(changed.to_string().as_bytes(), Some("sha256:other"), now()).unwrap_err(),
        Rejection::BadSignature
    );
    let mut added = original.clone();
    added["by"] = serde_json::json!({"id": "boss", "kind": "human", "roles": ["lead"]});
    assert!(matches!(
        trust.verify(added.to_string().as_bytes(), Some(SUBJECT), now()),
        Err(Rejection::Malformed { .. })
    ));
}

#[test]
fn rejections_name_their_reason() {
    let trust = lead_trust();
    let check = |text: &str, subject: Option<&str>| trust.verify(text.as_bytes(), subject, now());
    assert_eq!(
        check(&statement(&key(9), "approval", SUBJECT), Some(SUBJECT)).unwrap_err(),
        Rejection::UnknownSigner { key: public(&key(9)) }
    );
    assert_eq!(
        check(&statement(&key(2), "approval", SUBJECT), Some(SUBJECT)).unwrap_err(),
        Rejection::NotAttestable { signer: "kim".into(), kind: "approval".into() }
    );
    assert!(check(&statement(&key(2), "tests_passed", SUBJECT), Some(SUBJECT)).is_ok());
    assert_eq!(
        check(&statement(&key(1), "approval", "sha256:other"), Some(SUBJECT)).unwrap_err(),
        Rejection::OtherSubject { statement: "sha256:other".into(), request: Some(SUBJECT.into()) }
    );
    assert_eq!(
        check(&statement(&key(1), "approval", SUBJECT), None).unwrap_err(),
        Rejection::OtherSubject { statement: SUBJECT.into(), request: None }
    );
    let old = Statement::sign(
        &key(1),
        "approval",
        SUBJECT,
        vec![],
        at("2026-12-01T00:00:00Z"),
        at("2026-12-02T00:00:00Z"),
    )
    .unwrap()
    .to_json();
    assert_eq!(
        check(&old, Some(SUBJECT)).unwrap_err(),
        Rejection::Expired { expires_at: at("2026-12-02T00:00:00Z") }
    );
    let future = Statement::sign(
        &key(1),
        "approval",
        SUBJECT,
        vec![],
        at("2026-12-03T12:05:00Z"),
        at("2026-12-04T00:00:00Z"),
    )
    .unwrap()
    .to_json();
    assert_eq!(
        check(&future, Some(SUBJECT)).unwrap_err(),
        Rejection::NotYetValid { issued_at: at("2026-12-03T12:05:00Z") }
    );
    // Within the clock skew is valid.
    let soon = Statement::sign(
        &key(1),
        "approval",
        SUBJECT,
        vec![],
        at("2026-12-03T12:00:30Z"),
        at("2026-12-04T00:00:00Z"),
    )
    .unwrap()
    .to_json();
    assert!(check(&soon, Some(SUBJECT)).is_ok());
    for bad in [
        "",
        "[]",
        "{",
        "{\"writ_statement\":2}",
        "{\"writ_statement\":1}",
        &"x".repeat(MAX_STATEMENT_BYTES + 1),
    ] {
        assert!(check(bad, Some(SUBJECT)).is_err(), "{bad:.40}");
    }
    assert_eq!(
        check("{\"writ_statement\":2}", Some(SUBJECT)).unwrap_err(),
        Rejection::UnsupportedVersion { found: "2".into() }
    );
    let dup = statement(&key(1), "approval", SUBJECT).replacen("{", "{\"kind\":\"x\",", 1);
    assert!(
        matches!(check(&dup, Some(SUBJECT)).unwrap_err(), Rejection::Malformed { message } if message.contains("duplicate"))
    );
}

#[test]
fn trust_file_errors_name_the_entry() {
    let good = public(&key(1));
    let err = |v: serde_json::Value| Trust::from_json(v.to_string().as_bytes()).unwrap_err();
    let p = |id: &str| serde_json::json!({"id": id, "kind": "human"});
    let e = err(serde_json::json!({"signers": [
        {"key": good, "principal": p("lee")},
        {"key": public(&key(2)), "principal": p("kim")},
        {"key": good, "principal": p("bob")},
    ]}));
    assert_eq!(e, TrustError::DuplicateKey { entry: 2, first: 0, key: good.clone() });
    assert_eq!(
        e.to_string(),
        format!(
            "`signers[2].key`: the key `{good}` is already that of `signers[0]`; each key may appear once"
        )
    );
    let e = err(
        serde_json::json!({"signers": [{"key": "writ-ed25519-public:zz", "principal": p("lee")}]}),
    );
    assert!(
        matches!(&e, TrustError::BadKey { entry: 0, id: Some(id), .. } if id == "lee"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "`signers[0].key` (signer `lee`): a public key has 64 hex digits after `writ-ed25519-public:`, found 2"
    );
    let e = err(
        serde_json::json!({"signers": [{"key": good, "principal": {"id": "lee", "kind": "robot"}}]}),
    );
    assert_eq!(
        e.to_string(),
        "`signers[0].principal.kind`: expected one of `human`, `service`, `agent`, found `robot`"
    );
    let e = err(
        serde_json::json!({"signers": [{"key": good, "principal": p("lee"), "may_atest": []}]}),
    );
    assert!(e.to_string().contains("unknown key `may_atest`"), "{e}");
    assert!(Trust::from_json(b"{\"signers\": [], \"signers\": []}").is_err());
    assert!(Trust::from_json(b"not json").is_err());
}

/// `workflow w { allow deploy require 2 approval by lead }` with `approval by human bound`.
fn two_approvals() -> crate::Policy {
    let mut ir = Ir::new("p.writ");
    ir.role("lead", &[])
        .role("dev", &[])
        .tool("deploy", &[], &[])
        .evidence("approval", &[], true, true)
        .workflow("w", 5, 3600)
        .may((1, 1), "may deploy", "dev", "deploy", None);
    let need = ir.need("2 approval by lead");
    ir.allow((2, 1), "allow deploy require 2 approval by lead", "w", "deploy", None, vec![need]);
    ir.policy()
}

fn deploy_request(chain_ids: &[&str]) -> Request<'static> {
    let chain: Vec<Value> = chain_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            if i == 0 {
                serde_json::json!({"id": id, "kind": "human", "roles": ["dev"]})
            } else {
                serde_json::json!({"id": id, "kind": "agent"})
            }
        })
        .collect();
    Request::from_json(
        &serde_json::json!({"action": "call", "workflow": "w", "tool": "deploy", "chain": chain, "subject": SUBJECT})
            .to_string(),
    )
    .unwrap()
    .into_owned()
}

#[test]
fn two_leads_allow_and_the_same_lead_twice_counts_once() {
    let policy = two_approvals();
    let trust = trust(&[
        (&key(1), "lee", "lead", None),
        (&key(2), "kim", "lead", None),
        (&key(3), "dev", "lead", None),
    ]);
    let lee = statement(&key(1), "approval", SUBJECT);
    let lee_again = Statement::sign(
        &key(1),
        "approval",
        SUBJECT,
        vec![],
        at("2026-12-03T11:30:00Z"),
        at("2026-12-04T11:00:00Z"),
    )
    .unwrap()
    .to_json();
    let kim = statement(&key(2), "approval", SUBJECT);

    let mut request = deploy_request(&["dev", "bot"]);
    let admitted = trust.admit(&mut request, [lee.as_bytes(), lee_again.as_bytes()], now());
    assert_eq!(admitted.counted.len(), 2);
    let decision = policy.decide(&request);
    assert_eq!(decision.decision, Outcome::Pending);
    assert_eq!(decision.missing[0].have, 1);

    // The very same statement twice is reported as a duplicate.
    let mut request = deploy_request(&["dev", "bot"]);
    let admitted = trust.admit(&mut request, [lee.as_bytes(), lee.as_bytes()], now());
    assert_eq!(admitted.counted.len(), 1);
    assert_eq!(admitted.rejected[0].reason, Rejection::Duplicate);

    let mut request = deploy_request(&["dev", "bot"]);
    trust.admit(&mut request, [lee.as_bytes(), kim.as_bytes()], now());
    assert_eq!(policy.decide(&request).decision, Outcome::Allow);
}

#[test]
fn a_signer_in_the_chain_does_not_count() {
    let policy = two_approvals();
    // `dev` is a trusted lead too, but is the one asking: no self-approval.
    let trust = trust(&[(&key(1), "lee", "lead", None), (&key(3), "dev", "lead", None)]);
    let mut request = deploy_request(&["dev", "bot"]);
    let admitted = trust.admit(
        &mut request,
        [
            statement(&key(1), "approval", SUBJECT).as_bytes(),
            statement(&key(3), "approval", SUBJECT).as_bytes(),
        ],
        now(),
    );
    assert_eq!(admitted.counted.len(), 2);
    let decision = policy.decide(&request);
    assert_eq!(decision.decision, Outcome::Pending);
    assert_eq!(decision.missing[0].have, 1);
}

#[test]
fn ten_thousand_statements_for_one_subject_are_bounded() {
    let trust = lead_trust();
    let one = statement(&key(1), "approval", SUBJECT);
    let texts: Vec<String> = (0..10_000)
        .map(|i| {
            Statement::sign(
                &key(1),
                "approval",
                SUBJECT,
                vec![("n".into(), RequestValue::Int(i))],
                at("2026-12-03T11:00:00Z"),
                at("2026-12-04T11:00:00Z"),
            )
            .unwrap()
            .to_json()
        })
        .chain(std::iter::once(one))
        .collect();
    let started = std::time::Instant::now();
    let mut request = deploy_request(&["dev", "bot"]);
    let admitted = trust.admit(&mut request, texts.iter().map(|t| t.as_bytes()), now());
    assert_eq!(admitted.counted.len(), MAX_CONSIDERED);
    assert_eq!(admitted.skipped, 10_001 - MAX_CONSIDERED);
    assert_eq!(request.evidence.len(), MAX_CONSIDERED);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
}

#[test]
fn call_subjects_are_canonical() {
    let a = [
        ("command".into(), RequestValue::Str("git push".into())),
        (
            "x".into(),
            RequestValue::Other(Box::new(serde_json::json!({"b": 1, "a": [{"d": 1, "c": 2}]}))),
        ),
    ];
    let mut b = a.clone();
    b.reverse();
    if let RequestValue::Other(v) = &mut b[0].1 {
        **v = serde_json::from_str(r#"{"a": [{"c": 2, "d": 1}], "b": 1}"#).unwrap();
    }
    assert_eq!(
        call_subject("w", "claude.bash", &a, None),
        call_subject("w", "claude.bash", &b, None)
    );
    assert_ne!(
        call_subject("w", "claude.bash", &a, None),
        call_subject("v", "claude.bash", &a, None)
    );
    let push = [("command".into(), RequestValue::Str("git push".into()))];
    let other = [("command".into(), RequestValue::Str("git push --force".into()))];
    assert_ne!(
        call_subject("w", "claude.bash", &push, None),
        call_subject("w", "claude.bash", &other, None)
    );
    assert_ne!(
        call_subject("w", "claude.bash", &push, Some("/a")),
        call_subject("w", "claude.bash", &push, Some("/b"))
    );
    // sha256 of `{"workflow":"w","tool":"claude.bash","args":{"command":"git push"}}`
    insta::assert_snapshot!(call_subject("w", "claude.bash", &push, None), @"sha256:3853692202beaaf4142ee910d0e05290baa20c50e0982269c8e5d34b344c4d88");
}
