use super::*;
use serde_json::json;

fn decode(v: serde_json::Value) -> Result<Request<'static>, RequestError> {
    Request::from_json(&v.to_string()).map(Request::into_owned)
}

/// A well-formed call; tests break one field at a time.
fn call() -> serde_json::Value {
    json!({
        "action": "call",
        "workflow": "release",
        "tool": "deploy",
        "args": {"env": "prod", "service": "api"},
        "chain": [
            {"id": "alice", "kind": "human", "roles": ["release_manager"], "attrs": {"team": "platform"}},
            {"id": "release-agent/42", "kind": "agent"}
        ],
        "subject": "sha256:9f2c",
        "evidence": [
            {"kind": "approval", "by": {"id": "bob", "kind": "human", "roles": ["security_reviewer"]}},
            {"kind": "code_review", "by": {"id": "carol", "kind": "human"}, "subject": "sha256:9f2c"},
            {"kind": "tests_passed"},
            {"kind": "ticket", "fields": {"project": "REL"}}
        ],
        "context": {"business_hours": true}
    })
}

fn start() -> serde_json::Value {
    json!({
        "action": "start",
        "workflow": "release",
        "chain": [{"id": "alice", "kind": "human"}],
        "ttl": "20m"
    })
}

/// The error of `v` as (field, message).
fn error(v: serde_json::Value) -> (String, String) {
    match decode(v) {
        Err(e) => (e.field, e.message),
        Ok(r) => panic!("expected an error, decoded {r:?}"),
    }
}

fn with(mut v: serde_json::Value, pointer: &str, value: serde_json::Value) -> serde_json::Value {
    *v.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer}")) = value;
    v
}

fn without(mut v: serde_json::Value, pointer: &str) -> serde_json::Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = if parent.is_empty() { &mut v } else { v.pointer_mut(parent).unwrap() };
    parent.as_object_mut().unwrap().remove(key).unwrap();
    v
}

#[test]
fn decodes_the_example_of_the_reference() {
    let r = decode(call()).unwrap();
    assert_eq!(r.workflow, "release");
    assert_eq!(
        r.action,
        Action::Call {
            tool: "deploy".into(),
            args: vec![
                ("env".into(), RequestValue::Str("prod".into())),
                ("service".into(), RequestValue::Str("api".into())),
            ],
        }
    );
    assert_eq!(r.chain.len(), 2);
    assert_eq!(r.chain[0].roles, vec!["release_manager".to_owned()]);
    assert_eq!(r.chain[1].kind, PrincipalKind::Agent);
    assert_eq!(r.initiator().map(|p| p.id.as_ref()), Some("alice"));
    assert_eq!(r.caller().map(|p| p.id.as_ref()), Some("release-agent/42"));
    assert_eq!(r.depth(), 1);
    assert_eq!(r.subject.as_deref(), Some("sha256:9f2c"));
    assert_eq!(r.evidence.len(), 4);
    assert_eq!(r.evidence[0].by.as_ref().map(|b| b.id.as_ref()), Some("bob"));
    assert_eq!(r.evidence[1].subject.as_deref(), Some("sha256:9f2c"));
    assert_eq!(r.evidence[3].fields, vec![("project".into(), RequestValue::Str("REL".into()))]);
    assert_eq!(r.context, vec![("business_hours".into(), RequestValue::Bool(true))]);
}

#[test]
fn decodes_a_start_with_ttl() {
    let r = decode(start()).unwrap();
    assert_eq!(r.action, Action::Start { ttl_seconds: Some(1200) });
    let r = decode(with(start(), "/ttl", json!("0s"))).unwrap();
    assert_eq!(r.action, Action::Start { ttl_seconds: Some(0) });
    let r = decode(without(start(), "/ttl")).unwrap();
    assert_eq!(r.action, Action::Start { ttl_seconds: None });
    let r = decode(with(start(), "/ttl", json!(null))).unwrap();
    assert_eq!(r.action, Action::Start { ttl_seconds: None });
}

#[test]
fn round_trips_through_json() {
    for v in [call(), start()] {
        let r = decode(v).unwrap();
        assert_eq!(Request::from_json(&r.to_json()).unwrap(), r);
    }
}

// --- syntax

#[test]
fn invalid_json_names_the_position() {
    let e = Request::from_json("{\"action\": \"call\",").unwrap_err();
    assert_eq!(e.field, "");
    assert!(e.message.starts_with("invalid JSON: "), "{e}");
    assert!(e.message.contains("line 1 column 18"), "{e}");
    assert_eq!(e.to_string(), e.message, "no field, no prefix");
    let e = Request::from_slice(b"\xff\xfe").unwrap_err();
    assert!(e.message.starts_with("invalid JSON"), "{e}");
    let e = Request::from_json("").unwrap_err();
    assert!(e.message.contains("EOF"), "{e}");
}

#[test]
fn top_level_must_be_an_object() {
    assert_eq!(error(json!([1, 2])), ("".into(), "expected a JSON object, found a list".into()));
    assert_eq!(error(json!("call")), ("".into(), "expected a JSON object, found a string".into()));
}

#[test]
fn duplicate_keys_anywhere_are_errors() {
    let text = call().to_string().replacen(
        "\"kind\":\"agent\"",
        "\"kind\":\"agent\",\"kind\":\"human\"",
        1,
    );
    let e = Request::from_json(&text).unwrap_err();
    assert_eq!(e.field, "chain[1].kind");
    assert_eq!(e.message, "duplicate key `kind`");
    assert_eq!(e.to_string(), "`chain[1].kind`: duplicate key `kind`");

    // Deep inside a value nobody reads, and in an ignored key: still malformed.
    let text = r#"{"action": "call", "workflow": "w", "tool": "t", "chain": [{"id": "a", "kind": "human"}],
        "unknown": {"a": [{"b": {"c": 1, "c": 2}}]}}"#;
    assert_eq!(Request::from_json(text).unwrap_err().field, "unknown.a[0].b.c");
    let text = r#"{"action": "start", "workflow": "w", "chain": [{"id": "a", "kind": "human"}],
        "args": {"x": 1, "x": 1}}"#;
    assert_eq!(Request::from_json(text).unwrap_err().field, "args.x");
    let text = r#"{"action": "call", "action": "call", "workflow": "w", "tool": "t", "chain": []}"#;
    assert_eq!(Request::from_json(text).unwrap_err().field, "action");
}

// --- one test per malformed shape

#[test]
fn action_missing() {
    assert_eq!(
        error(without(call(), "/action")),
        ("action".into(), "missing required field".into())
    );
}

#[test]
fn action_not_start_or_call() {
    assert_eq!(
        error(with(call(), "/action", json!("stop"))),
        ("action".into(), "expected one of `start`, `call`, found `stop`".into())
    );
    assert_eq!(
        error(with(call(), "/action", json!(1))).1,
        "expected one of `start`, `call`, found an integer"
    );
}

#[test]
fn workflow_missing_or_not_a_string() {
    assert_eq!(error(without(call(), "/workflow")).0, "workflow");
    assert_eq!(
        error(with(call(), "/workflow", json!(["release"]))),
        ("workflow".into(), "expected a string, found a list".into())
    );
}

#[test]
fn tool_missing_on_a_call() {
    assert_eq!(error(without(call(), "/tool")).0, "tool");
    assert_eq!(
        error(with(call(), "/tool", json!(null))),
        ("tool".into(), "expected a string, found null".into())
    );
}

#[test]
fn args_not_an_object() {
    assert_eq!(
        error(with(call(), "/args", json!(["prod"]))),
        ("args".into(), "expected an object, found a list".into())
    );
    assert_eq!(error(with(call(), "/args", json!("x"))).0, "args");
}

#[test]
fn args_null_or_absent_means_no_arguments() {
    for v in [with(call(), "/args", json!(null)), without(call(), "/args")] {
        let r = decode(v).unwrap();
        assert!(matches!(r.action, Action::Call { ref args, .. } if args.is_empty()));
    }
}

#[test]
fn chain_missing() {
    assert_eq!(error(without(call(), "/chain")), ("chain".into(), "missing required field".into()));
}

#[test]
fn chain_empty() {
    assert_eq!(
        error(with(call(), "/chain", json!([]))),
        ("chain".into(), "expected at least one principal, found an empty list".into())
    );
}

#[test]
fn chain_not_a_list() {
    assert_eq!(
        error(with(call(), "/chain", json!({"id": "a"}))),
        ("chain".into(), "expected a list of principals, found an object".into())
    );
}

#[test]
fn principal_not_an_object() {
    assert_eq!(
        error(with(call(), "/chain/1", json!("agent"))),
        ("chain[1]".into(), "expected an object, found a string".into())
    );
}

#[test]
fn principal_id_missing() {
    assert_eq!(
        error(without(call(), "/chain/0/id")),
        ("chain[0].id".into(), "missing required field".into())
    );
    assert_eq!(error(with(call(), "/chain/0/id", json!(7))).0, "chain[0].id");
}

#[test]
fn principal_kind_missing() {
    assert_eq!(error(without(call(), "/chain/1/kind")).0, "chain[1].kind");
}

#[test]
fn principal_kind_not_one_of_three() {
    let e = decode(with(call(), "/chain/1/kind", json!("robot"))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`chain[1].kind`: expected one of `human`, `service`, `agent`, found `robot`"
    );
    assert_eq!(
        error(with(call(), "/chain/1/kind", json!("Human"))).1,
        "expected one of `human`, `service`, `agent`, found `Human`"
    );
}

#[test]
fn roles_not_a_list() {
    assert_eq!(
        error(with(call(), "/chain/0/roles", json!("engineer"))),
        ("chain[0].roles".into(), "expected a list of strings, found a string".into())
    );
}

#[test]
fn roles_not_strings() {
    assert_eq!(
        error(with(call(), "/chain/0/roles", json!(["a", "b", 3]))),
        ("chain[0].roles[2]".into(), "expected a string, found an integer".into())
    );
}

#[test]
fn giver_roles_not_strings() {
    assert_eq!(
        error(with(call(), "/evidence/0/by/roles", json!(["a", "b", null]))).0,
        "evidence[0].by.roles[2]"
    );
}

#[test]
fn attrs_not_an_object() {
    assert_eq!(
        error(with(call(), "/chain/0/attrs", json!([1]))),
        ("chain[0].attrs".into(), "expected an object, found a list".into())
    );
}

#[test]
fn subject_not_a_string() {
    assert_eq!(
        error(with(call(), "/subject", json!(1))),
        ("subject".into(), "expected a string, found an integer".into())
    );
    assert_eq!(error(with(call(), "/evidence/1/subject", json!({}))).0, "evidence[1].subject");
}

#[test]
fn evidence_not_a_list() {
    assert_eq!(
        error(with(call(), "/evidence", json!({"kind": "x"}))),
        ("evidence".into(), "expected a list of evidence items, found an object".into())
    );
}

#[test]
fn evidence_item_not_an_object() {
    assert_eq!(error(with(call(), "/evidence/2", json!("tests_passed"))).0, "evidence[2]");
}

#[test]
fn evidence_item_without_kind() {
    assert_eq!(
        error(without(call(), "/evidence/2/kind")),
        ("evidence[2].kind".into(), "missing required field".into())
    );
}

#[test]
fn evidence_giver_malformed() {
    assert_eq!(error(with(call(), "/evidence/0/by", json!("bob"))).0, "evidence[0].by");
    assert_eq!(error(without(call(), "/evidence/0/by/id")).0, "evidence[0].by.id");
    assert_eq!(error(with(call(), "/evidence/0/by/kind", json!("bot"))).0, "evidence[0].by.kind");
}

#[test]
fn evidence_fields_not_an_object() {
    assert_eq!(error(with(call(), "/evidence/3/fields", json!(["REL"]))).0, "evidence[3].fields");
}

#[test]
fn context_not_an_object() {
    assert_eq!(
        error(with(call(), "/context", json!(true))),
        ("context".into(), "expected an object, found a boolean".into())
    );
}

#[test]
fn ttl_not_a_duration_on_a_start() {
    for bad in ["20", "20 m", "m", "-5m", "1.5h", "20M", "１m", "20mm", ""] {
        let (field, message) = error(with(start(), "/ttl", json!(bad)));
        assert_eq!(field, "ttl", "{bad}");
        assert!(message.starts_with("expected a duration such as \"20m\""), "{message}");
    }
    assert_eq!(
        error(with(start(), "/ttl", json!(1200))),
        ("ttl".into(), "expected a duration such as \"20m\", found an integer".into())
    );
    // Seconds beyond i64.
    assert_eq!(error(with(start(), "/ttl", json!("106751991167301d"))).0, "ttl");
    assert_eq!(error(with(start(), "/ttl", json!("99999999999999999999s"))).0, "ttl");
}

#[test]
fn ignored_fields_are_not_shape_checked() {
    // ttl on a call.
    let mut v = call();
    v["ttl"] = json!({"not": "a duration"});
    assert!(decode(v).is_ok());
    // tool and args on a start.
    let mut v = start();
    v["tool"] = json!(42);
    v["args"] = json!([1, 2]);
    assert!(decode(v).is_ok());
    // Unknown keys, anywhere.
    let mut v = call();
    v["extra"] = json!({"x": [1.5]});
    v["chain"][0]["claims"] = json!(null);
    v["evidence"][0]["note"] = json!(3.25);
    assert!(decode(v).is_ok());
}

#[test]
fn null_in_optional_fields_means_absent() {
    let mut v = call();
    v["subject"] = json!(null);
    v["evidence"] = json!(null);
    v["context"] = json!(null);
    v["args"] = json!(null);
    v["chain"][0]["roles"] = json!(null);
    v["chain"][0]["attrs"] = json!(null);
    let r = decode(v).unwrap();
    assert_eq!(r.subject, None);
    assert!(r.evidence.is_empty() && r.context.is_empty());
    assert!(r.chain[0].roles.is_empty() && r.chain[0].attrs.is_empty());

    let mut v = call();
    v["evidence"][0]["by"] = json!(null);
    v["evidence"][1]["subject"] = json!(null);
    v["evidence"][3]["fields"] = json!(null);
    let r = decode(v).unwrap();
    assert_eq!(r.evidence[0].by, None);
    assert_eq!(r.evidence[1].subject, None);
    assert!(r.evidence[3].fields.is_empty());
}

#[test]
fn null_values_are_dropped() {
    let mut v = call();
    v["args"] = json!({"env": null, "service": "api"});
    v["chain"][0]["attrs"] = json!({"team": null});
    v["context"] = json!({"business_hours": null});
    let r = decode(v).unwrap();
    assert!(matches!(&r.action, Action::Call { args, .. } if args.len() == 1));
    assert!(r.chain[0].attrs.is_empty());
    assert!(r.context.is_empty());
}

#[test]
fn required_fields_may_not_be_null() {
    assert_eq!(error(with(call(), "/chain/0/id", json!(null))).0, "chain[0].id");
    assert_eq!(error(with(call(), "/evidence/2/kind", json!(null))).0, "evidence[2].kind");
    assert_eq!(error(with(call(), "/chain", json!(null))).0, "chain");
}

// --- values

fn arg_value(raw: &str) -> RequestValue<'static> {
    let text = format!(
        r#"{{"action": "call", "workflow": "w", "tool": "t", "chain": [{{"id": "a", "kind": "human"}}],
            "args": {{"v": {raw}}}}}"#
    );
    match Request::from_json(&text).unwrap().action {
        Action::Call { mut args, .. } => args.pop().unwrap().1.into_owned(),
        Action::Start { .. } => unreachable!(),
    }
}

#[test]
fn writ_values() {
    assert_eq!(arg_value(r#""30m""#), RequestValue::Str("30m".into()));
    assert_eq!(arg_value("42"), RequestValue::Int(42));
    assert_eq!(arg_value("-7"), RequestValue::Int(-7));
    assert_eq!(arg_value("true"), RequestValue::Bool(true));
    assert_eq!(arg_value(r#"["a", "b"]"#), RequestValue::StrList(vec!["a".into(), "b".into()]));
    assert_eq!(arg_value("[]"), RequestValue::StrList(vec![]));
}

#[test]
fn integers_within_64_bits() {
    assert_eq!(arg_value("9223372036854775807"), RequestValue::Int(i64::MAX));
    assert_eq!(arg_value("-9223372036854775808"), RequestValue::Int(i64::MIN));
    let big = arg_value("9223372036854775808");
    assert!(matches!(big, RequestValue::Other(_)), "{big:?}");
    assert_eq!(big.describe(), "an integer outside the 64-bit range");
    let small = arg_value("-9223372036854775809");
    assert!(matches!(small, RequestValue::Other(_)), "{small:?}");
    assert!(matches!(arg_value("18446744073709551616"), RequestValue::Other(_)));
}

#[test]
fn fractions_and_exponents_are_not_integers() {
    for raw in ["3.0", "1e2", "1E2", "-0.0", "2.5e-3"] {
        let v = arg_value(raw);
        assert!(matches!(v, RequestValue::Other(_)), "{raw}: {v:?}");
        assert_eq!(v.describe(), "a number that is not an integer", "{raw}");
    }
    assert_eq!(arg_value("3.0").to_string(), "3.0");
}

#[test]
fn integers_too_long_for_64_bits_are_named_so() {
    for raw in ["1180000000000000000000", "-9223372036854775809", "18446744073709551616"] {
        assert_eq!(arg_value(raw).describe(), "an integer outside the 64-bit range", "{raw}");
    }
}

#[test]
fn objects_and_mixed_lists_are_not_writ_values() {
    let v = arg_value(r#"{"a": 1}"#);
    assert_eq!(v.describe(), "an object");
    assert_eq!(v.to_string(), r#"{"a":1}"#);
    let v = arg_value(r#"["a", 1]"#);
    assert_eq!(v.describe(), "a list that is not all strings");
    assert_eq!(arg_value("[null]").describe(), "a list that is not all strings");
    assert_eq!(arg_value("[[\"a\"]]").describe(), "a list that is not all strings");
}

#[test]
fn long_values_are_shortened_in_messages() {
    let long = "x".repeat(500);
    let v = arg_value(&format!("\"{long}\""));
    let shown = v.to_string();
    assert!(shown.chars().count() <= 81 && shown.ends_with('…'), "{shown}");
}

#[test]
fn durations() {
    assert_eq!(parse_duration("90s"), Some(90));
    assert_eq!(parse_duration("30m"), Some(1800));
    assert_eq!(parse_duration("1h"), Some(3600));
    assert_eq!(parse_duration("7d"), Some(604_800));
    assert_eq!(parse_duration("007m"), Some(420));
    assert_eq!(parse_duration("0s"), Some(0));
    assert_eq!(parse_duration("9223372036854775807s"), Some(i64::MAX));
    assert_eq!(parse_duration("9223372036854775808s"), None);
    assert_eq!(parse_duration("106751991167300d"), Some(106_751_991_167_300 * 86_400));
    assert_eq!(parse_duration("106751991167301d"), None);
    for bad in ["", "s", "5", "5x", "-5s", "+5s", "5 s", "5sm", "٣s", "5é"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
    assert_eq!(format_duration(1800), "30m");
    assert_eq!(format_duration(3600), "1h");
    assert_eq!(format_duration(86_400 * 2), "2d");
    assert_eq!(format_duration(90), "90s");
    assert_eq!(format_duration(0), "0s");
    assert_eq!(format_duration(601), "601s");
}

#[test]
fn error_display_is_cedar_style() {
    let e = RequestError::new(
        RequestErrorKind::WrongType,
        "args.env",
        "expected a string, found an integer",
    );
    assert_eq!(e.to_string(), "`args.env`: expected a string, found an integer");
}

// --- error kinds, unknown keys

fn kind_of(text: &str) -> RequestErrorKind {
    match Request::from_slice(text.as_bytes()) {
        Err(e) => e.kind,
        Ok(r) => panic!("expected an error, decoded {r:?}"),
    }
}

#[test]
fn every_error_has_a_kind_callers_can_match() {
    use RequestErrorKind::*;
    assert_eq!(kind_of("{"), Syntax);
    assert_eq!(kind_of(r#"{"action": "call", "action": "call"}"#), DuplicateKey);
    assert_eq!(kind_of(r#"{"action": "call"}"#), Missing);
    assert_eq!(kind_of("[]"), WrongType);
    assert_eq!(kind_of(&with(call(), "/tool", json!(3)).to_string()), WrongType);
    assert_eq!(kind_of(&with(call(), "/action", json!("stop")).to_string()), InvalidValue);
    assert_eq!(kind_of(&with(call(), "/action", json!(1)).to_string()), WrongType);
    assert_eq!(kind_of(&with(call(), "/chain/0/kind", json!("robot")).to_string()), InvalidValue);
    assert_eq!(kind_of(&with(call(), "/chain", json!([])).to_string()), InvalidValue);
    assert_eq!(kind_of(&with(call(), "/chain/0/id", json!(" alice")).to_string()), InvalidValue);
    assert_eq!(kind_of(&with(start(), "/ttl", json!("soon")).to_string()), InvalidValue);
}

/// Every key of the schema, at every level, is known: the key lists that unknown keys are
/// told from are the keys the decoders read.
#[test]
fn a_request_with_every_key_has_no_unknown_key() {
    let mut v = call();
    v["ttl"] = json!("20m");
    v["cwd"] = json!("/work");
    v["time"] = json!("2026-12-03T10:00:00Z");
    v["history"] = json!([{"tool": "deploy", "at": "2026-12-03T09:00:00Z"}]);
    let text = v.to_string();
    assert_eq!(Request::unknown_keys(text.as_bytes()), Vec::new());
    assert_eq!(Request::from_slice_strict(text.as_bytes()), Request::from_slice(text.as_bytes()));
    for key in REQUEST_KEYS {
        assert!(text.contains(&format!("\"{key}\"")), "{key} is not in the test request");
    }
}

#[test]
fn unknown_keys_are_ignored_or_rejected_with_a_suggestion() {
    let mut v = call();
    v["evidance"] = json!([]);
    v["chain"][0]["rolse"] = json!(["x"]);
    v["evidence"][0]["by"]["kinnd"] = json!("human");
    v["history"] = json!([{"tool": "deploy", "when": "x"}]);
    v["zzz_extension"] = json!(1);
    let text = v.to_string();
    // Ignored by default (LANGUAGE.md §7): the same request as without them.
    assert!(Request::from_slice(text.as_bytes()).is_ok());
    let unknown: Vec<(String, Option<&str>)> = Request::unknown_keys(text.as_bytes())
        .into_iter()
        .map(|k| (k.field, k.did_you_mean))
        .collect();
    assert_eq!(
        unknown,
        [
            ("evidance".to_owned(), Some("evidence")),
            ("zzz_extension".to_owned(), None),
            ("chain[0].rolse".to_owned(), Some("roles")),
            ("evidence[0].by.kinnd".to_owned(), Some("kind")),
            ("history[0].when".to_owned(), None),
        ]
    );
    // Rejected, the first in document order, when strict.
    let e = Request::from_slice_strict(text.as_bytes()).unwrap_err();
    assert_eq!(e.kind, RequestErrorKind::UnknownKey);
    assert_eq!(e.to_string(), "`evidance`: unknown key; did you mean `evidence`?");
    let e = Request::from_slice_with(text.as_bytes(), UnknownKeys::Reject).unwrap_err();
    assert_eq!(e.field, "evidance");
}

#[test]
fn strict_names_a_misspelt_required_key_rather_than_its_absence() {
    let mut v = call();
    let chain = v["chain"].take();
    v.as_object_mut().unwrap().remove("chain");
    v["chian"] = chain;
    let text = v.to_string();
    assert_eq!(Request::from_slice(text.as_bytes()).unwrap_err().kind, RequestErrorKind::Missing);
    let e = Request::from_slice_strict(text.as_bytes()).unwrap_err();
    assert_eq!(e.to_string(), "`chian`: unknown key; did you mean `chain`?");
    // Another error found first is still reported first.
    let mut v = with(call(), "/tool", json!(1));
    v["evidance"] = json!([]);
    let e = Request::from_slice_strict(v.to_string().as_bytes()).unwrap_err();
    assert_eq!(e.kind, RequestErrorKind::WrongType);
}

// --- §7: canonical ids, empty subjects

#[test]
fn ids_that_are_never_canonical_are_shape_errors() {
    // The cases of the conformance corpus (`edges/`).
    assert_eq!(
        error(with(call(), "/evidence/0/by/id", json!("olly "))),
        ("evidence[0].by.id".into(), "an id may not end with whitespace, found U+0020".into())
    );
    assert_eq!(
        error(with(call(), "/chain/0/id", json!("dev1\u{0}"))),
        (
            "chain[0].id".into(),
            "an id may not contain a control character, found U+0000 at byte 4".into()
        )
    );
    assert_eq!(
        error(with(call(), "/chain/0/id", json!(""))),
        ("chain[0].id".into(), "expected an id, found an empty string".into())
    );
    assert_eq!(
        error(with(call(), "/chain/1/id", json!(" agent/1"))),
        ("chain[1].id".into(), "an id may not start with whitespace, found U+0020".into())
    );
    // Unicode White_Space, not only ASCII.
    for id in ["\u{a0}bob", "bob\u{3000}", "\u{2028}bob", "bob\u{2003}", "\u{1680}bob", "bob\u{85}"]
    {
        assert_eq!(error(with(call(), "/chain/0/id", json!(id))).0, "chain[0].id", "{id:?}");
    }
    // Both ranges of control characters, anywhere.
    for id in ["a\tb", "a\nb", "\u{1f}a", "a\u{7f}", "a\u{80}b", "a\u{9f}b", "\rb"] {
        assert_eq!(error(with(call(), "/chain/0/id", json!(id))).0, "chain[0].id", "{id:?}");
        assert_eq!(error(with(call(), "/evidence/1/by/id", json!(id))).0, "evidence[1].by.id");
    }
    // Inner spaces, non-ASCII letters and characters that are neither: canonical.
    for id in ["Ada Lovelace", "é", "a\u{200b}b", "a\u{a0}b", "a\u{3000}b"] {
        let r = decode(with(call(), "/chain/0/id", json!(id))).unwrap();
        assert_eq!(r.chain[0].id, id);
    }
}

#[test]
fn an_empty_subject_is_absent() {
    let r = decode(with(call(), "/subject", json!(""))).unwrap();
    assert_eq!(r.subject, None);
    let r = decode(with(call(), "/evidence/1/subject", json!(""))).unwrap();
    assert_eq!(r.evidence[1].subject, None);
    // A subject of spaces is not empty: bound evidence must carry the same spaces.
    let r = decode(with(call(), "/subject", json!(" "))).unwrap();
    assert_eq!(r.subject.as_deref(), Some(" "));
}

// --- §10: cwd, time, history

/// A call with the run's fields.
fn run() -> serde_json::Value {
    let mut v = call();
    v["cwd"] = json!("/work/app");
    v["time"] = json!("2026-12-02T16:00:00Z");
    v["history"] = json!([
        {"tool": "secrets.read", "at": "2026-12-02T15:58:12Z"},
        {"tool": "deploy", "at": "2026-12-02T09:14:00Z"},
        {"tool": "fs.read"}
    ]);
    v
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

#[test]
fn decodes_the_run() {
    let r = decode(run()).unwrap();
    assert_eq!(r.cwd.as_deref(), Some("/work/app"));
    assert_eq!(r.time, Some(at("2026-12-02T16:00:00Z")));
    assert_eq!(
        r.history,
        Some(vec![
            HistoryEntry { tool: "secrets.read".into(), at: Some(at("2026-12-02T15:58:12Z")) },
            HistoryEntry { tool: "deploy".into(), at: Some(at("2026-12-02T09:14:00Z")) },
            HistoryEntry { tool: "fs.read".into(), at: None },
        ])
    );
    // On a start too.
    let mut v = start();
    v["history"] = json!([]);
    v["time"] = json!("2026-12-02T17:00:00+01:00");
    let r = decode(v).unwrap();
    assert_eq!(r.history, Some(vec![]));
    assert_eq!(r.time, Some(at("2026-12-02T16:00:00Z")));
    // Absent.
    let r = decode(call()).unwrap();
    assert_eq!((r.cwd, r.time, r.history), (None, None, None));
}

#[test]
fn the_run_round_trips_through_json() {
    let mut v = run();
    v["time"] = json!("2026-12-02t17:00:00.250+01:00");
    let r = decode(v).unwrap();
    let text = r.to_json();
    assert!(text.contains(r#""time":"2026-12-02T16:00:00.25Z""#), "{text}");
    assert!(text.contains(r#"{"tool":"fs.read"}"#), "{text}");
    assert_eq!(Request::from_json(&text).unwrap(), r);
    // An empty history stays present.
    let r = decode(with(run(), "/history", json!([]))).unwrap();
    assert!(r.to_json().contains(r#""history":[]"#));
    assert_eq!(Request::from_json(&r.to_json()).unwrap(), r);
}

#[test]
fn null_in_the_run_means_absent() {
    let mut v = run();
    v["cwd"] = json!(null);
    v["time"] = json!(null);
    v["history"][0]["at"] = json!(null);
    let r = decode(v).unwrap();
    assert_eq!((r.cwd, r.time), (None, None));
    assert_eq!(r.history.as_ref().and_then(|h| h.first()).map(|e| e.at), Some(None));
    let r = decode(with(run(), "/history", json!(null))).unwrap();
    assert_eq!(r.history, None);
}

#[test]
fn cwd_not_absolute() {
    assert_eq!(
        error(with(run(), "/cwd", json!("work/app"))),
        (
            "cwd".into(),
            "expected an absolute path (a string starting with `/`), found `work/app`".into()
        )
    );
    assert_eq!(
        error(with(run(), "/cwd", json!(7))),
        (
            "cwd".into(),
            "expected an absolute path (a string starting with `/`), found an integer".into()
        )
    );
    for bad in ["", "~/app", "./app", " /work", "\\work"] {
        assert_eq!(error(with(run(), "/cwd", json!(bad))).0, "cwd", "{bad:?}");
    }
    // Any string starting with `/` is a cwd; it is kept as sent and resolved where used.
    let r = decode(with(run(), "/cwd", json!("/work//app/./x/.."))).unwrap();
    assert_eq!(r.cwd.as_deref(), Some("/work//app/./x/.."));
}

#[test]
fn time_malformed() {
    assert_eq!(
        error(with(run(), "/time", json!("2026-12-02 16:00"))),
        (
            "time".into(),
            "expected an RFC 3339 timestamp such as \"2026-12-02T16:00:00Z\", found \
             `2026-12-02 16:00` (not of the form YYYY-MM-DDThh:mm:ss with Z or an offset ±hh:mm)"
                .into()
        )
    );
    assert_eq!(
        error(with(run(), "/time", json!(1_764_691_200))),
        (
            "time".into(),
            "expected an RFC 3339 timestamp such as \"2026-12-02T16:00:00Z\", found an integer"
                .into()
        )
    );
    assert!(
        error(with(run(), "/time", json!("2016-12-31T23:59:60Z")))
            .1
            .ends_with("(a leap second is refused)")
    );
    assert!(
        error(with(run(), "/time", json!("2026-02-30T00:00:00Z"))).1.ends_with("(no such date)")
    );
    for bad in ["", "2026-12-02T16:00:00", "2026-12-02T16:00:00+0200", "2026-12-02T16:00:00Z[UTC]"]
    {
        assert_eq!(error(with(run(), "/time", json!(bad))).0, "time", "{bad:?}");
    }
}

#[test]
fn history_malformed() {
    assert_eq!(
        error(with(run(), "/history", json!({"tool": "deploy"}))),
        ("history".into(), "expected a list of history entries, found an object".into())
    );
    assert_eq!(
        error(with(run(), "/history/2", json!("deploy"))),
        ("history[2]".into(), "expected an object, found a string".into())
    );
    assert_eq!(
        error(without(run(), "/history/1/tool")),
        ("history[1].tool".into(), "missing required field".into())
    );
    assert_eq!(
        error(with(run(), "/history/1/tool", json!(null))),
        ("history[1].tool".into(), "expected a string, found null".into())
    );
    assert_eq!(
        error(with(run(), "/history/0/tool", json!(["deploy"]))),
        ("history[0].tool".into(), "expected a string, found a list".into())
    );
    assert_eq!(
        error(with(run(), "/history/1/at", json!("yesterday"))),
        (
            "history[1].at".into(),
            "expected an RFC 3339 timestamp such as \"2026-12-02T16:00:00Z\", found `yesterday` \
             (not of the form YYYY-MM-DDThh:mm:ss with Z or an offset ±hh:mm)"
                .into()
        )
    );
    assert_eq!(
        error(with(run(), "/history/1/at", json!(3))).1,
        "expected an RFC 3339 timestamp such as \"2026-12-02T16:00:00Z\", found an integer"
    );
    // Unknown keys of an entry are ignored; duplicate ones are malformed.
    let mut v = run();
    v["history"][2]["note"] = json!({"x": [1.5]});
    let r = decode(v).unwrap();
    assert_eq!(r.history.map(|h| h.len()), Some(3));
    let text = run().to_string().replacen(
        r#""tool":"fs.read""#,
        r#""tool":"fs.read","tool":"fs.write""#,
        1,
    );
    let e = Request::from_json(&text).unwrap_err();
    assert_eq!((e.field.as_str(), e.message.as_str()), ("history[2].tool", "duplicate key `tool`"));
}

/// The order of checks: the run's fields come after `context`, in the order `cwd`, `time`,
/// `history`.
#[test]
fn the_run_is_checked_after_context() {
    let mut v = run();
    v["context"] = json!(1);
    v["cwd"] = json!(1);
    v["time"] = json!(1);
    assert_eq!(error(v.clone()).0, "context");
    v["context"] = json!({});
    assert_eq!(error(v.clone()).0, "cwd");
    v["cwd"] = json!("/");
    assert_eq!(error(v.clone()).0, "time");
    v["time"] = json!(null);
    v["history"] = json!([{"tool": "a"}, {"tool": "b", "at": 1}, {}]);
    assert_eq!(error(v).0, "history[1].at");
}

#[test]
fn invalid_utf8_in_the_run_is_an_error() {
    for (at, bytes) in [
        ("cwd", &b"\"/work/\xff\""[..]),
        ("time", b"\"2026-12-02T16:00:00\xc3Z\""),
        ("tool", b"\"de\xedploy\""),
        ("at", b"\"\xf0\x28\x8c\x28\""),
    ] {
        let mut text = match at {
            "cwd" => br#"{"action":"call","workflow":"w","tool":"t","chain":[{"id":"a","kind":"human"}],"cwd":"#.to_vec(),
            "time" => br#"{"action":"call","workflow":"w","tool":"t","chain":[{"id":"a","kind":"human"}],"time":"#.to_vec(),
            "tool" => br#"{"action":"call","workflow":"w","tool":"t","chain":[{"id":"a","kind":"human"}],"history":[{"tool":"#.to_vec(),
            _ => br#"{"action":"call","workflow":"w","tool":"t","chain":[{"id":"a","kind":"human"}],"history":[{"tool":"x","at":"#.to_vec(),
        };
        text.extend_from_slice(bytes);
        text.extend_from_slice(if at == "cwd" || at == "time" { b"}" } else { b"}]}" });
        let e = Request::from_slice(&text).unwrap_err();
        assert!(e.message.starts_with("invalid JSON"), "{at}: {e}");
    }
}

/// A history of `n` entries as JSON text, each with a tool and an `at`.
fn long_history(n: usize, extra: &str) -> String {
    let mut text = String::with_capacity(n * 50 + 200);
    text.push_str(
        r#"{"action":"call","workflow":"w","tool":"t","chain":[{"id":"a","kind":"human"}],"#,
    );
    text.push_str(extra);
    text.push_str(r#""time":"2026-12-02T16:00:00Z","history":["#);
    for i in 0..n {
        if i > 0 {
            text.push(',');
        }
        text.push_str(r#"{"tool":"fs.read","at":"2026-12-02T15:58:12Z"}"#);
    }
    text.push_str("]}");
    text
}

/// A million entries (in release builds; 100,000 in debug ones, which are ten times slower)
/// decode on both paths, in a thread with a small stack: nothing recurses per entry.
#[test]
fn a_million_history_entries() {
    let n = if cfg!(debug_assertions) { 100_000 } else { 1_000_000 };
    let worker = std::thread::Builder::new().stack_size(256 * 1024).spawn(move || {
        let plain = long_history(n, "");
        let fast = fast::decode(plain.as_bytes()).map(|r| r.history.map_or(0, |h| h.len()));
        // `"subject": null` sends the request to the general decoder.
        let odd = long_history(n, r#""subject":null,"#);
        assert_eq!(fast::decode(odd.as_bytes()), None);
        let general = Request::from_slice(odd.as_bytes()).map(|r| r.history.map_or(0, |h| h.len()));
        (fast, general)
    });
    let (fast, general) = worker.unwrap().join().unwrap();
    assert_eq!(fast, Some(n));
    assert_eq!(general, Ok(n));
}

// ---------------------------------------------------------------------------------------------
// The fast path agrees with the general decoder

/// Plain requests, the kind gateways send all day, never leave the fast path.
#[test]
fn plain_requests_take_the_fast_path() {
    let mut with_unknown = call();
    with_unknown["trace_id"] = json!({"span": [1, 2.5, null]});
    let mut escaped = call();
    escaped["args"]["service"] = json!("a \"quoted\" \u{e9} name");
    let mut run_start = start();
    run_start["cwd"] = json!("/work//app/..");
    run_start["time"] = json!("2026-12-02t17:00:00.5+01:00");
    run_start["history"] = json!([]);
    for v in [call(), start(), with_unknown, escaped, run(), run_start] {
        let text = v.to_string();
        let fast = fast::decode(text.as_bytes());
        assert!(fast.is_some(), "fell back on {text}");
        assert_eq!(fast.map(Ok), Some(Request::from_slice_general(text.as_bytes())));
    }
}

/// The fast path copies no string spelt without escapes: every name, id, role, key and value
/// of a plain request borrows from the text, and one with escapes is owned and unescaped.
#[test]
fn plain_requests_borrow_their_strings() {
    fn borrowed(s: &Str<'_>) -> bool {
        matches!(s, Cow::Borrowed(_))
    }
    fn all_borrowed(values: &Values<'_>) -> bool {
        values.iter().all(|(k, v)| {
            borrowed(k)
                && match v {
                    RequestValue::Str(s) => borrowed(s),
                    RequestValue::StrList(items) => items.iter().all(borrowed),
                    _ => true,
                }
        })
    }
    let mut plain = call();
    plain["args"]["files"] = json!(["a.rs", "b.rs"]);
    plain["cwd"] = json!("/work");
    plain["history"] = json!([{"tool": "deploy"}]);
    let text = plain.to_string();
    let r = Request::from_json(&text).unwrap();
    let Action::Call { tool, args } = &r.action else { panic!("a call") };
    assert!(
        borrowed(tool) && borrowed(&r.workflow) && all_borrowed(args) && all_borrowed(&r.context)
    );
    assert!(
        r.chain
            .iter()
            .all(|p| borrowed(&p.id) && p.roles.iter().all(borrowed) && all_borrowed(&p.attrs))
    );
    assert!(r.evidence.iter().all(|e| borrowed(&e.kind)
        && e.subject.as_ref().is_none_or(borrowed)
        && e.by.as_ref().is_none_or(|b| borrowed(&b.id))
        && all_borrowed(&e.fields)));
    assert!(r.cwd.as_ref().is_some_and(borrowed));
    assert!(r.history.as_ref().is_some_and(|h| h.iter().all(|e| borrowed(&e.tool))));
    // The same through `from_slice`.
    assert!(Request::from_slice(text.as_bytes()).unwrap().chain.iter().all(|p| borrowed(&p.id)));

    let mut escaped = call();
    escaped["workflow"] = json!("a \"b\"");
    let text = escaped.to_string();
    let r = Request::from_json(&text).unwrap();
    assert!(matches!(&r.workflow, Cow::Owned(w) if w == "a \"b\""));
    // An owned copy outlives the text and equals it.
    let owned = r.clone().into_owned();
    drop(text);
    assert_eq!(owned, decode(escaped).unwrap());
}

/// Anything unusual goes to the general decoder, which has the exact error (or accepts it).
#[test]
fn unusual_requests_leave_the_fast_path() {
    let text = call().to_string();
    for odd in [
        text.replacen("\"subject\"", "\"subject\":null,\"subject\"", 1),
        text.replacen("\"prod\"", "null", 1),
        text.replacen("\"prod\"", "2.5", 1),
        text.replacen("\"action\"", "\"act\\u0069on\"", 1),
        text.replacen("\"tool\":\"deploy\"", "\"tool\":7", 1),
        text.clone() + " x",
        text.replacen("\"bob\"", "\"bob \"", 1),
        text.replacen("\"alice\"", "\"\"", 1),
    ] {
        assert_eq!(fast::decode(odd.as_bytes()), None, "{odd}");
    }
    let text = run().to_string();
    for odd in [
        text.replacen("\"/work/app\"", "\"work/app\"", 1),
        text.replacen("\"2026-12-02T16:00:00Z\"", "\"2026-12-02 16:00:00Z\"", 1),
        text.replacen("\"2026-12-02T16:00:00Z\"", "null", 1),
        text.replacen("\"2026-12-02T16:00:00Z\"", "\"2026-12-02T16:00:00\\u005a\"", 1),
        text.replacen("\"2026-12-02T09:14:00Z\"", "\"yesterday\"", 1),
        text.replacen("\"2026-12-02T09:14:00Z\"", "null", 1),
        text.replacen("{\"tool\":\"fs.read\"}", "{}", 1),
        text.replacen("{\"tool\":\"fs.read\"}", "{\"tool\":\"a\",\"tool\":\"a\"}", 1),
    ] {
        assert_ne!(odd, text);
        assert_eq!(fast::decode(odd.as_bytes()), None, "{odd}");
    }
}

/// The scanner's own spellings of JSON: what it accepts is the general decoder's request, and
/// what it is unsure of (numbers at the edges, escapes that are not characters, nesting, bytes
/// that are not UTF-8) it leaves to the general decoder.
#[test]
fn the_scanner_agrees_on_every_spelling() {
    let text = call().to_string();
    let agree = |odd: &[u8]| {
        if let Some(fast) = fast::decode(odd) {
            assert_eq!(
                Ok(fast),
                Request::from_slice_general(odd),
                "{}",
                String::from_utf8_lossy(odd)
            );
        }
    };
    // Taken on the fast path, and equal to the general decoder's request.
    let spaced = text.replace("\":", "\" :\n\t").replace(",\"", "\r\n ,  \"").replace("[{", "[ {");
    let taken = [
        spaced,
        format!("  \n{text}\t\r\n "),
        text.replacen("\"api\"", r#""a\"p\\i\/\b\f\n\r\t\u00e9\ud83d\ude00 \u0000""#, 1),
        text.replacen("\"prod\"", "-9223372036854775808", 1),
        text.replacen("\"prod\"", "9223372036854775807", 1),
        text.replacen("\"prod\"", "0", 1),
        text.replacen("\"prod\"", "[]", 1),
        text.replacen("\"prod\"", "[\"a\", \"b\"]", 1),
        text.replacen("\"prod\"", "true", 1),
        text.replacen(
            "\"action\"",
            r#""note": {"a": [1, -2.50, {"b": "c\"d"}, [], {}, null, true]}, "action""#,
            1,
        ),
        text.replacen("\"platform\"", "\"plat\u{e9}form \u{1f600}\"", 1),
    ];
    for t in &taken {
        let fast = fast::decode(t.as_bytes());
        assert!(fast.is_some(), "fell back on {t}");
        assert_eq!(fast.map(Ok), Some(Request::from_slice_general(t.as_bytes())), "{t}");
    }
    // Left to the general decoder (which accepts some and refuses others).
    let left = [
        text.replacen("\"prod\"", "-0", 1),
        text.replacen("\"prod\"", "01", 1),
        text.replacen("\"prod\"", "9223372036854775808", 1),
        text.replacen("\"prod\"", "-9223372036854775809", 1),
        text.replacen("\"prod\"", "1e3", 1),
        text.replacen("\"prod\"", "1.0", 1),
        text.replacen("\"prod\"", "-", 1),
        text.replacen("\"prod\"", "tru", 1),
        text.replacen("\"prod\"", "[\"a\",]", 1),
        text.replacen("\"prod\"", "\"a\u{1}b\"", 1),
        text.replacen("\"prod\"", r#""\ud83d""#, 1),
        text.replacen("\"prod\"", r#""\ude00x""#, 1),
        text.replacen("\"prod\"", r#""\ud83d\u0041""#, 1),
        text.replacen("\"prod\"", r#""\x41""#, 1),
        text.replacen("\"prod\"", r#""\u00g1""#, 1),
        text.replacen("\"prod\"", "\"unterminated", 1),
        text.replacen("\"action\"", "\"n\": 1e400, \"action\"", 1),
        text.replacen("\"action\"", "\"n\": 1.5e3, \"action\"", 1),
        text.replacen("\"action\"", "\"n\": 01, \"action\"", 1),
        text.replacen("\"action\"", "\"n\": 1., \"action\"", 1),
        text.replacen("\"action\"", "\"n\": {\"a\": 1, \"a\": 2}, \"action\"", 1),
        text.replacen(
            "\"action\"",
            &format!("\"n\": {}1{}, \"action\"", "[".repeat(40), "]".repeat(40)),
            1,
        ),
        text.replacen("\"action\"", &format!("\"n\": {}, \"action\"", "9".repeat(400)), 1),
        text.replacen("\"action\"", "\"n\": nul, \"action\"", 1),
        text.replacen("\"env\"", r#""e\u006ev""#, 1),
        text.replacen(',', ",,", 1),
        text.replacen('{', "{,", 1),
        text.replacen('}', "", 1),
        format!("{text}{text}"),
        format!("[{text}]"),
    ];
    for t in &left {
        assert_ne!(t, &text);
        assert_eq!(fast::decode(t.as_bytes()), None, "{t}");
        agree(t.as_bytes());
    }
    // Bytes that are not UTF-8 anywhere.
    let mut bytes = text.clone().into_bytes();
    let at = text.find("prod").unwrap();
    bytes[at] = 0xff;
    assert_eq!(fast::decode(&bytes), None);
    assert!(Request::from_slice(&bytes).is_err());
    // Every prefix of a request, cut anywhere, is left alone or agreed on; none panics.
    for end in 0..text.len() {
        agree(&text.as_bytes()[..end]);
    }
}

/// JSON text, built piece by piece so that it can hold what `serde_json::Value` cannot: the
/// same key twice, keys with escapes, and every kind of value where a writ value belongs.
mod text {
    use proptest::prelude::*;

    pub fn object(pairs: Vec<(String, String)>) -> String {
        let body: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
        format!("{{{}}}", body.join(","))
    }

    pub fn list(items: Vec<String>) -> String {
        format!("[{}]", items.join(","))
    }

    fn words() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            r#""call""#,
            r#""start""#,
            r#""human""#,
            r#""service""#,
            r#""agent""#,
            r#""x""#,
            r#""a\"b""#,
            r#""\u0063all""#,
            r#""20m""#,
            r#""5x""#,
            r#""""#,
            r#""dev""#,
            r#""sha256:9f""#,
            r#""é""#,
        ])
        .prop_map(str::to_owned)
    }

    /// One of `good` mostly, now and then anything at all.
    fn mostly(good: &[&'static str]) -> BoxedStrategy<String> {
        prop_oneof![
            40 => prop::sample::select(good.to_vec()).prop_map(|w| format!("\"{w}\"")),
            1 => value(),
        ]
        .boxed()
    }

    fn scalar() -> impl Strategy<Value = String> {
        prop_oneof![
            12 => words(),
            1 => prop::sample::select(vec![
                "1", "-5", "0", "9223372036854775807", "9223372036854775808",
                "-9223372036854775809", "1.5", "1e2", "true", "false", "null",
            ])
            .prop_map(str::to_owned),
        ]
    }

    /// Any JSON value, with a bias to writ values.
    pub fn value() -> impl Strategy<Value = String> {
        scalar().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(words(), 0..3).prop_map(list),
                prop::collection::vec(inner.clone(), 0..3).prop_map(list),
                (
                    prop::sample::subsequence(vec!["a", "b", "c"], 0..3),
                    prop::collection::vec(inner, 3)
                )
                    .prop_map(|(keys, values)| {
                        object(keys.into_iter().map(|k| format!("\"{k}\"")).zip(values).collect())
                    }),
            ]
        })
    }

    /// A key from `known`, now and then escaped, unknown or empty.
    pub fn key(known: Vec<&'static str>) -> impl Strategy<Value = String> {
        prop_oneof![
            16 => prop::sample::select(known).prop_map(|k| format!("\"{k}\"")),
            1 => prop::sample::select(vec![r#""zz""#, r#""a.b""#, r#""""#, r#""\u0061""#])
                .prop_map(str::to_owned),
        ]
    }

    /// A writ value mostly; now and then any JSON value.
    fn writ_value() -> impl Strategy<Value = String> {
        prop_oneof![
            30 => words(),
            8 => prop::sample::select(vec!["1", "-5", "true", "false"]).prop_map(str::to_owned),
            8 => prop::collection::vec(words(), 0..3).prop_map(list),
            1 => value(),
        ]
    }

    /// An object of writ values (args, attrs, context, fields): distinct keys mostly.
    pub fn values() -> impl Strategy<Value = String> {
        let keys = vec!["env", "repo", "team", "n", "on_call", "a.b", "\\u0061", ""];
        prop_oneof![
            40 => (prop::sample::subsequence(keys, 0..4), prop::collection::vec(writ_value(), 4))
                .prop_map(|(keys, values)| {
                    object(keys.into_iter().map(|k| format!("\"{k}\"")).zip(values).collect())
                }),
            1 => prop::collection::vec((key(vec!["env", "repo"]), writ_value()), 0..4).prop_map(object),
            1 => value(),
        ]
    }

    /// Pairs of an object, with one of them now and then repeated.
    /// The first `required` pairs are kept but for now and then one; the others mostly.
    pub fn fields(
        required: usize,
        pairs: Vec<BoxedStrategy<(String, String)>>,
    ) -> impl Strategy<Value = String> {
        (
            pairs,
            prop::collection::vec(prop::bool::weighted(0.85), 16),
            any::<prop::sample::Index>(),
            0..40usize,
        )
            .prop_map(move |(pairs, keep, shuffle, dup)| {
                let mut kept: Vec<(String, String)> = pairs
                    .into_iter()
                    .zip(keep.iter().cycle())
                    .enumerate()
                    .filter(|(i, (_, k))| if *i < required { dup != 1 || *i > 0 } else { **k })
                    .map(|(_, (p, _))| p)
                    .collect();
                if !kept.is_empty() {
                    let n = kept.len();
                    kept.rotate_left(shuffle.index(n));
                    if dup == 0 {
                        let again = kept[shuffle.index(n)].clone();
                        kept.push(again);
                    }
                }
                object(kept)
            })
    }

    /// Ids: words mostly, now and then one that is not canonical (§7).
    fn id() -> impl Strategy<Value = String> {
        prop_oneof![
            30 => words().prop_filter("a non-empty id", |w| w != r#""""#),
            1 => prop::sample::select(vec![
                r#""""#, r#"" a""#, r#""a ""#, r#""a\t""#, r#""\u00a0a""#, r#""a\u3000""#, r#""a\u0000b""#,
                r#""a\u007fb""#, r#""a\u0085""#, r#""a b""#, r#""a\u200bb""#,
            ])
            .prop_map(str::to_owned),
        ]
    }

    /// Timestamps: RFC 3339 mostly, now and then one that is not.
    fn timestamp() -> impl Strategy<Value = String> {
        prop_oneof![
            80 => prop::sample::select(vec![
                "2026-12-02T16:00:00Z", "2026-12-02t15:00:00.5z", "2026-12-02T17:00:00+01:00",
                "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z",
            ])
            .prop_map(|t| format!("\"{t}\"")),
            1 => prop::sample::select(vec![
                r#""2026-12-02 16:00:00Z""#, r#""2026-02-30T00:00:00Z""#, r#""2016-12-31T23:59:60Z""#,
                r#""2026-12-02T16:00:00+0200""#, r#""2026-12-02T16:00:00Z[UTC]""#,
                r#""2026-12-02T16:00:00.1234567891Z""#, r#""2026-12-02T16:00:00\u005a""#, r#""""#,
            ])
            .prop_map(str::to_owned),
            1 => value(),
        ]
    }

    pub fn history_entry() -> impl Strategy<Value = String> {
        fields(
            1,
            vec![
                (Just(r#""tool""#.to_owned()), mostly(&["deploy", "secrets.get", "fs.read"]))
                    .boxed(),
                (Just(r#""at""#.to_owned()), timestamp()).boxed(),
                (key(vec!["note"]), value()).boxed(),
            ],
        )
    }

    pub fn principal() -> impl Strategy<Value = String> {
        fields(
            2,
            vec![
                (Just(r#""id""#.to_owned()), id()).boxed(),
                (Just(r#""kind""#.to_owned()), mostly(&["human", "service", "agent"])).boxed(),
                (
                    Just(r#""roles""#.to_owned()),
                    prop_oneof![
                        20 => prop::collection::vec(words(), 0..3).prop_map(list),
                        1 => value(),
                    ],
                )
                    .boxed(),
                (Just(r#""attrs""#.to_owned()), values()).boxed(),
                (key(vec!["extra"]), value()).boxed(),
            ],
        )
    }

    pub fn evidence_item() -> impl Strategy<Value = String> {
        fields(
            1,
            vec![
                (Just(r#""kind""#.to_owned()), mostly(&["approval", "tests_passed"])).boxed(),
                (Just(r#""by""#.to_owned()), prop_oneof![20 => principal(), 1 => value()]).boxed(),
                (Just(r#""subject""#.to_owned()), prop_oneof![30 => words(), 1 => value()]).boxed(),
                (Just(r#""fields""#.to_owned()), values()).boxed(),
            ],
        )
    }

    pub fn request() -> impl Strategy<Value = String> {
        fields(
            4,
            vec![
                (Just(r#""action""#.to_owned()), mostly(&["call", "start"])).boxed(),
                (Just(r#""workflow""#.to_owned()), mostly(&["release", "a\\\"b"])).boxed(),
                (
                    Just(r#""chain""#.to_owned()),
                    prop_oneof![
                        20 => prop::collection::vec(principal(), 1..3).prop_map(list),
                        1 => Just("[]".to_owned()),
                        1 => value(),
                    ],
                )
                    .boxed(),
                (Just(r#""tool""#.to_owned()), prop_oneof![30 => words(), 1 => value()]).boxed(),
                (Just(r#""args""#.to_owned()), values()).boxed(),
                (Just(r#""subject""#.to_owned()), prop_oneof![30 => words(), 1 => value()]).boxed(),
                (
                    Just(r#""evidence""#.to_owned()),
                    prop_oneof![
                        20 => prop::collection::vec(evidence_item(), 0..3).prop_map(list),
                        1 => value(),
                    ],
                )
                    .boxed(),
                (Just(r#""context""#.to_owned()), values()).boxed(),
                (Just(r#""ttl""#.to_owned()), mostly(&["20m", "1h"])).boxed(),
                (
                    Just(r#""cwd""#.to_owned()),
                    prop_oneof![
                        40 => mostly(&["/work/app", "/", "/work//app/./x/..", "/a\\u0000"]),
                        1 => mostly(&["work/app", "", "~/x"]),
                    ],
                )
                    .boxed(),
                (Just(r#""time""#.to_owned()), timestamp()).boxed(),
                (
                    Just(r#""history""#.to_owned()),
                    prop_oneof![
                        40 => prop::collection::vec(history_entry(), 0..4).prop_map(list),
                        1 => value(),
                    ],
                )
                    .boxed(),
                (key(vec!["trace"]), value()).boxed(),
            ],
        )
    }
}

/// `json::special` read a byte at a time: the first quote, backslash or control byte from
/// `from`.
fn special_by_bytes(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    rest.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).map(|at| from + at)
}

/// Every text of up to 20 bytes with at most two bytes of the class (of every kind, and the
/// bytes either side of each kind's value), from every start: the word search finds the byte
/// that the byte search finds, whether the text ends in a whole word or not (the decision
/// writer's strings end inside the search, whose last bytes are read as one overlapping word).
#[test]
fn the_string_search_is_the_byte_search_on_every_short_text() {
    let marks = [b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, b'!', b'#', b'[', b']', 0x7f, 0x80, 0xff];
    for n in 0..=20 {
        let plain = vec![b'a'; n];
        assert_eq!(crate::json::special(&plain, 0), None);
        for i in 0..n {
            for &m in &marks {
                for j in i..n {
                    for &m2 in &[b'"', 0x01, b'z'] {
                        let mut text = plain.clone();
                        text[i] = m;
                        text[j] = m2;
                        for from in 0..=n + 1 {
                            assert_eq!(
                                crate::json::special(&text, from),
                                special_by_bytes(&text, from),
                                "{text:?} from {from}"
                            );
                        }
                    }
                }
            }
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]

    /// The scanner's eight-bytes-at-a-time search finds the first quote, backslash or control
    /// byte exactly where a byte-by-byte search does, wherever the string starts.
    #[test]
    fn the_string_search_is_the_byte_search(
        bytes in proptest::collection::vec(
            proptest::prop_oneof![
                1 => proptest::strategy::Just(b'"'),
                1 => proptest::strategy::Just(b'\\'),
                1 => 0u8..0x20,
                24 => 0x20u8..=0xff,
            ],
            0..40,
        ),
        from in 0usize..48,
    ) {
        proptest::prop_assert_eq!(crate::json::special(&bytes, from), special_by_bytes(&bytes, from));
    }

    /// Whatever the fast path accepts, the general decoder accepts as the same request; the
    /// fast path never invents an acceptance or an error.
    #[test]
    fn the_fast_path_agrees_with_the_general_decoder(text in text::request()) {
        if let Some(fast) = fast::decode(text.as_bytes()) {
            proptest::prop_assert_eq!(Ok(fast), Request::from_slice_general(text.as_bytes()), "{}", text);
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]

    /// What callers get (the fast path first, the general decoder for anything unusual) is what
    /// the general decoder alone gives, the same request or the same error (kind, field and
    /// message), for any text, through `from_json` and `from_slice` alike; and the policy
    /// decides the borrowed request exactly as the general decoder's owned one.
    #[test]
    fn callers_get_the_general_decoders_request_or_error(text in text::request()) {
        let general = Request::from_slice_general(text.as_bytes());
        proptest::prop_assert_eq!(&Request::from_json(&text), &general, "{}", text);
        proptest::prop_assert_eq!(&Request::from_slice(text.as_bytes()), &general, "{}", text);
        if let (Ok(fast), Ok(general)) = (Request::from_json(&text), &general) {
            let policy = crate::testing::edges().policy();
            proptest::prop_assert_eq!(policy.decide(&fast), policy.decide(general));
            proptest::prop_assert_eq!(policy.decide(&fast).to_json(), policy.decide(general).to_json());
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]

    /// Text after the request: whitespace is allowed and anything else is the general
    /// decoder's error, whichever path reads the request (the fast path checks for it before
    /// it builds the request).
    #[test]
    fn text_after_the_request_reads_as_the_general_decoder_reads_it(
        text in text::request(),
        after in proptest::sample::select(
            vec!["", " ", "\n\t\r ", "x", " {}", "}", ",", "\u{0}", " null", "]", "\u{a0}"],
        ),
    ) {
        let text = format!("{text}{after}");
        let general = Request::from_slice_general(text.as_bytes());
        proptest::prop_assert_eq!(&Request::from_json(&text), &general, "{}", text);
        proptest::prop_assert_eq!(&Request::from_slice(text.as_bytes()), &general, "{}", text);
    }
}

#[test]
fn whitespace_after_a_plain_request_stays_on_the_fast_path_and_anything_else_leaves_it() {
    let plain = r#"{"action":"start","workflow":"w","chain":[{"id":"a","kind":"human"}]}"#;
    for after in ["", " ", "\n", "\r\n\t "] {
        let text = format!("{plain}{after}");
        assert!(fast::decode(text.as_bytes()).is_some(), "{text:?}");
    }
    for after in ["x", " {}", ",", "\u{0}", "\u{a0}"] {
        let text = format!("{plain}{after}");
        assert_eq!(fast::decode(text.as_bytes()), None, "{text:?}");
        let error = Request::from_json(&text).expect_err("text after the request");
        assert_eq!(error.kind, RequestErrorKind::Syntax, "{text:?}: {error:?}");
    }
}

/// The generator above reaches both paths, so the property is not vacuous.
#[test]
fn the_generator_reaches_the_fast_path_and_the_general_one() {
    use proptest::strategy::{Strategy, ValueTree};
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = text::request();
    let (mut fast, mut general, mut accepted) = (0, 0, 0);
    for _ in 0..2000 {
        let text = strategy.new_tree(&mut runner).unwrap().current();
        match fast::decode(text.as_bytes()) {
            Some(_) => fast += 1,
            None => {
                general += 1;
                match Request::from_slice_general(text.as_bytes()) {
                    Ok(_) => accepted += 1,
                    Err(e) => {
                        if std::env::var("WRIT_DEBUG_GEN").is_ok() {
                            eprintln!("{} | {}", e.message, e.field);
                        }
                    }
                }
            }
        }
    }
    eprintln!("fast {fast}, general {general}, of which accepted {accepted}");
    assert!(fast >= 300, "only {fast} of 2000 took the fast path");
    assert!(general >= 300 && accepted >= 300, "{general} fell back, {accepted} of them accepted");
}

use proptest::prelude::Strategy as _;
proptest::proptest! {
    /// A value in a reason reads as its compact JSON through serde_json, cut to 80 characters
    /// (the reading before values were written straight into the reason).
    #[test]
    fn a_shown_value_is_its_json_cut_to_80_characters(
        value in proptest::prop_oneof![
            "(.|\"|\\\\|\n|\u{1}|é){0,100}".prop_map(|s| RequestValue::Str(s.into())),
            proptest::num::i64::ANY.prop_map(RequestValue::Int),
            proptest::bool::ANY.prop_map(RequestValue::Bool),
            proptest::collection::vec("(.|\"|é){0,30}", 0..6)
                .prop_map(|l| RequestValue::StrList(l.into_iter().map(Into::into).collect())),
            "[a-z]{0,90}".prop_map(|s| RequestValue::Other(Box::new(json!({ "k": s })))),
        ],
        prefix in "[a-z]{0,3}",
    ) {
        let json = match &value {
            RequestValue::Str(s) => serde_json::Value::from(&**s).to_string(),
            RequestValue::Int(i) => i.to_string(),
            RequestValue::Bool(b) => b.to_string(),
            RequestValue::StrList(items) => serde_json::Value::from(items.clone()).to_string(),
            RequestValue::Other(v) => v.to_string(),
        };
        let expected = shorten(&json, 80).into_owned();
        proptest::prop_assert_eq!(value.to_string(), expected.clone());
        let mut out = prefix.clone();
        value.write_shown(&mut out);
        proptest::prop_assert_eq!(out, format!("{prefix}{expected}"));
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]

    /// The word-at-a-time id test only ever accepts ids that the exact reading accepts
    /// (control characters anywhere, whitespace at either end, non-ASCII bytes), and accepts
    /// every printable ASCII id without a space at either end.
    #[test]
    fn the_fast_id_test_accepts_only_good_ids(
        id in "[ a-z0-9\u{1}\u{1f}\u{7f}\u{85}\u{a0}\u{2003}é/-]{0,20}",
        plain in "[!-~]([ -~]{0,18}[!-~])?",
    ) {
        if plain_id(&id) {
            proptest::prop_assert_eq!(exact_id_problem(&id), None, "{:?}", id);
        }
        proptest::prop_assert!(plain_id(&plain), "{:?}", plain);
    }
}

/// A decision reads every value of the request it checks: keeping a value to a string's size
/// plus its tag keeps those reads to as few cache lines as possible. A `serde_json::Value`
/// inline (the rare non-writ value) made it 72 bytes; boxed it is 32.
#[test]
#[cfg(target_pointer_width = "64")]
fn a_value_is_no_larger_than_a_string_and_its_tag() {
    assert_eq!(std::mem::size_of::<RequestValue<'_>>(), 32);
    assert_eq!(std::mem::size_of::<(Str<'_>, RequestValue<'_>)>(), 56);
}
