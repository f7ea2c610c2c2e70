//! The decision log: the shape of a line, and tampering detected by `verify`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use writ_evaluator::log::{
    DecisionLog, LogError, VerifyOptions, digest, last_hash, verify, verify_with,
};
use writ_evaluator::{Decision, Missing, Outcome, Request};

fn call() -> Request<'static> {
    Request::from_json(
        r#"{"action": "call", "workflow": "release", "tool": "deploy",
            "args": {"env": "prod"},
            "chain": [{"id": "ada", "kind": "human", "roles": ["engineer"]},
                      {"id": "ci", "kind": "service"},
                      {"id": "release_agent/7", "kind": "agent"}]}"#,
    )
    .unwrap()
}

fn start() -> Request<'static> {
    Request::from_json(
        r#"{"action": "start", "workflow": "release", "ttl": "30m",
            "chain": [{"id": "ada", "kind": "human"}]}"#,
    )
    .unwrap()
}

fn pending() -> Decision {
    Decision {
        decision: Outcome::Pending,
        missing: vec![Missing {
            evidence: "approval".into(),
            by: Some("release_manager".into()),
            fields: vec![],
            need: 1,
            have: 0,
        }],
        rules: [Arc::from("release/allow/2")].into_iter().collect(),
        reasons: vec!["needs 1 approval by release_manager".into()],
        ttl_seconds: None,
        policy: "sha256:aa".into(),
    }
}

fn allow() -> Decision {
    Decision {
        decision: Outcome::Allow,
        missing: vec![],
        rules: [Arc::from("release/start/1")].into_iter().collect(),
        reasons: vec![],
        ttl_seconds: Some(1800),
        policy: "sha256:aa".into(),
    }
}

const POLICY: &str = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

/// A log of `n` lines with fixed timestamps and ids.
fn log_of(n: usize) -> Vec<u8> {
    let mut log = DecisionLog::new(Vec::new());
    for i in 0..n {
        let at = UNIX_EPOCH + Duration::from_millis(1_796_077_800_000 + i as u64 * 7);
        let (request, decision) = if i % 2 == 0 { (call(), pending()) } else { (start(), allow()) };
        log.record_with(&request, &decision, POLICY, at, &format!("decision-{i}")).unwrap();
    }
    log.into_inner()
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec()).unwrap().lines().map(String::from).collect()
}

fn join(lines: &[String]) -> Vec<u8> {
    lines.iter().flat_map(|l| format!("{l}\n").into_bytes()).collect()
}

fn line_error(bytes: &[u8]) -> (usize, String) {
    match verify(bytes) {
        Err(LogError::Line { line, message }) => (line, message),
        other => panic!("expected a line error, got {other:?}"),
    }
}

#[test]
fn line_shape() {
    let mut log = DecisionLog::new(Vec::new());
    let id = log.record(&call(), &pending(), POLICY).unwrap();
    log.record(&start(), &allow(), POLICY).unwrap();
    let text = String::from_utf8(log.into_inner()).unwrap();
    let mut values: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(values[0]["id"], id.as_str());
    assert_ne!(values[0]["id"], values[1]["id"]);
    let first_line = text.lines().next().unwrap();
    assert_eq!(values[1]["prev"], digest(first_line.as_bytes()));
    values[1]["prev"] = "[hash of line 1]".into();
    for value in &mut values {
        value["ts"] = "[ts]".into();
        value["id"] = "[id]".into();
    }
    insta::assert_json_snapshot!(values);
    // Keys in the documented order.
    let first = text.lines().next().unwrap();
    let keys: Vec<String> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(first)
            .unwrap()
            .keys()
            .cloned()
            .collect();
    assert_eq!(keys, writ_evaluator::log::FIELDS);
}

#[test]
fn request_digest_is_of_the_canonical_json() {
    let bytes = log_of(1);
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(value["request"], digest(call().to_json().as_bytes()));
}

#[test]
fn an_intact_log_verifies() {
    let bytes = log_of(5);
    let summary = verify(&bytes[..]).unwrap();
    assert_eq!(summary.lines, 5);
    assert_eq!(summary.first_prev, None);
    let last = lines(&bytes).pop().unwrap();
    assert_eq!(summary.last_hash.as_deref(), Some(digest(last.as_bytes()).as_str()));
    assert_eq!(last_hash(&bytes[..]).unwrap(), summary.last_hash);
    let with_last =
        VerifyOptions { last: summary.last_hash.as_deref(), ..VerifyOptions::default() };
    assert!(verify_with(&bytes[..], with_last).is_ok());
}

#[test]
fn resuming_continues_the_chain() {
    let bytes = log_of(3);
    let prev = last_hash(&bytes[..]).unwrap();
    let mut log = DecisionLog::resume(bytes, prev);
    log.record(&call(), &pending(), POLICY).unwrap();
    log.flush().unwrap();
    let bytes = log.into_inner();
    assert_eq!(verify(&bytes[..]).unwrap().lines, 4);
}

#[test]
fn a_rotated_log_verifies_after_the_previous_one() {
    let first = log_of(2);
    let end = last_hash(&first[..]).unwrap();
    let mut log = DecisionLog::resume(Vec::new(), end.clone());
    log.record(&start(), &allow(), POLICY).unwrap();
    let second = log.into_inner();
    let (line, message) = line_error(&second);
    assert_eq!(line, 1);
    assert!(message.contains("not null"), "{message}");
    let options = VerifyOptions { after: end.as_deref(), ..VerifyOptions::default() };
    assert_eq!(verify_with(&second[..], options).unwrap().first_prev, end);
}

#[test]
fn an_altered_line_is_found() {
    let mut ls = lines(&log_of(5));
    ls[2] = ls[2].replace("\"pending\"", "\"allow\"");
    let (line, message) = line_error(&join(&ls));
    assert_eq!(line, 4);
    assert!(message.contains("line 3 was altered"), "{message}");
    insta::assert_snapshot!(format!("line {line}: {message}"));
}

#[test]
fn a_deleted_line_is_found() {
    let mut ls = lines(&log_of(5));
    ls.remove(1);
    assert_eq!(line_error(&join(&ls)).0, 2);
    // The first line deleted: the new first line has a `prev`.
    let mut ls = lines(&log_of(5));
    ls.remove(0);
    let (line, message) = line_error(&join(&ls));
    assert_eq!(line, 1);
    insta::assert_snapshot!(format!("line {line}: {message}"));
}

#[test]
fn an_inserted_line_is_found() {
    let mut ls = lines(&log_of(5));
    let copy = ls[1].clone();
    ls.insert(3, copy);
    assert_eq!(line_error(&join(&ls)).0, 4);
    // A forged line with the right `prev`: the line after it no longer follows.
    let mut ls = lines(&log_of(5));
    let mut forged: serde_json::Value = serde_json::from_str(&ls[1]).unwrap();
    forged["prev"] = digest(ls[1].as_bytes()).into();
    forged["decision"] = "allow".into();
    ls.insert(2, forged.to_string());
    assert_eq!(line_error(&join(&ls)).0, 4);
}

#[test]
fn reordered_lines_are_found() {
    let mut ls = lines(&log_of(5));
    ls.swap(1, 2);
    assert_eq!(line_error(&join(&ls)).0, 2);
}

#[test]
fn a_truncated_tail_is_found_only_against_the_kept_hash() {
    let bytes = log_of(5);
    let kept = verify(&bytes[..]).unwrap().last_hash;
    let mut ls = lines(&bytes);
    ls.pop();
    let truncated = join(&ls);
    // The chain itself is intact...
    assert_eq!(verify(&truncated[..]).unwrap().lines, 4);
    // ...but it does not end where it should.
    let options = VerifyOptions { last: kept.as_deref(), ..VerifyOptions::default() };
    let err = verify_with(&truncated[..], options).unwrap_err();
    assert!(matches!(err, LogError::Tail { lines: 4, .. }));
    let text = err.to_string().replace(kept.as_deref().unwrap(), "[kept]");
    let text =
        text.replace(verify(&truncated[..]).unwrap().last_hash.as_deref().unwrap(), "[hash]");
    insta::assert_snapshot!(text);
}

#[test]
fn a_cut_short_line_is_found() {
    let mut bytes = log_of(3);
    bytes.truncate(bytes.len() - 10);
    let (line, message) = line_error(&bytes);
    assert_eq!(line, 3);
    assert!(message.contains("incomplete"), "{message}");
    assert!(matches!(last_hash(&bytes[..]), Err(LogError::Line { line: 3, .. })));
}

#[test]
fn malformed_lines_are_named() {
    let ls = lines(&log_of(2));
    let cases = [
        ("not json".to_string(), "is not JSON"),
        ("[1]".to_string(), "is not a JSON object"),
        (
            ls[0].replace("\"decision\":\"pending\"", "\"decision\":\"maybe\""),
            "`decision` is `maybe`",
        ),
        (ls[0].replace("\"prev\":null", "\"prev\":3"), "`prev` is neither"),
        (ls[0].replace("\"ts\":", "\"at\":"), "`ts`: missing field"),
        (ls[0].replace("\"rules\":[", "\"rules\":{\"x\":[]},\"r\":["), "`rules` is not a list"),
        (ls[0].replace("\"rules\":", "\"extra\":1,\"rules\":"), "unknown field `extra`"),
    ];
    for (first, expected) in cases {
        let bytes = join(&[first, ls[1].clone()]);
        let (line, message) = line_error(&bytes);
        assert_eq!(line, 1);
        assert!(message.contains(expected), "{message} should contain {expected}");
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    let bytes = log_of(4);
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x41;
        // Flipping any byte breaks the chain or the shape (except in the last line, which
        // only the kept hash protects).
        let result = verify(&b[..]);
        let last_start = bytes.len() - lines(&bytes).last().unwrap().len() - 1;
        if i < last_start {
            assert!(result.is_err(), "flipping byte {i} went unnoticed");
        }
    }
}

#[test]
fn log_only_lines_are_marked_and_verify() {
    use writ_evaluator::log::Mode;
    let mut log = DecisionLog::new(Vec::new()).with_mode(Mode::LogOnly);
    log.record(&call(), &pending(), POLICY).unwrap();
    let bytes = log.into_inner();
    let line: serde_json::Value = serde_json::from_slice(lines(&bytes)[0].as_bytes()).unwrap();
    assert_eq!(line["mode"], "log-only");
    assert_eq!(verify(&bytes[..]).unwrap().lines, 1);
    // An enforcing log writes no `mode`, and a `mode` other than log-only is refused.
    let mut log = DecisionLog::new(Vec::new());
    log.record(&call(), &pending(), POLICY).unwrap();
    let bytes = log.into_inner();
    assert!(!lines(&bytes)[0].contains("\"mode\""));
    let forged = lines(&bytes)[0].replace("\"rules\":", "\"mode\":\"enforce\",\"rules\":");
    let (line, message) = line_error(&join(&[forged]));
    assert_eq!(line, 1);
    assert!(message.contains("`mode`"), "{message}");
}

#[test]
fn lines_rendered_on_other_threads_chain_like_lines_recorded_in_place() {
    // What `writ serve`'s workers do: render each line (all but `prev`) where the decision
    // was made, and let the one writer chain them in the order they arrive.
    let expected = log_of(40);
    let format = DecisionLog::new(Vec::<u8>::new()).format().clone();
    let rendered: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                let format = format.clone();
                scope.spawn(move || {
                    (0..40)
                        .filter(|i| i % 4 == worker)
                        .map(|i| {
                            let at = UNIX_EPOCH
                                + Duration::from_millis(1_796_077_800_000 + i as u64 * 7);
                            let (request, decision) =
                                if i % 2 == 0 { (call(), pending()) } else { (start(), allow()) };
                            let id = format!("decision-{i}");
                            (i, format.render(&request, &decision, POLICY, at, &id, &[]).unwrap())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<_> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
        all.sort_by_key(|(i, _)| *i);
        all
    });
    let mut log = DecisionLog::new(Vec::new());
    for (_, line) in &rendered {
        log.append(line).unwrap();
    }
    let bytes = log.into_inner();
    assert_eq!(String::from_utf8(bytes.clone()).unwrap(), String::from_utf8(expected).unwrap());
    assert_eq!(verify(&bytes[..]).unwrap().lines, 40);

    // An id that needs escaping is escaped, and the line still verifies.
    let mut log = DecisionLog::new(Vec::new());
    let line =
        log.format().render(&call(), &pending(), POLICY, UNIX_EPOCH, "an \"odd\" id", &[]).unwrap();
    log.append(&line).unwrap();
    let bytes = log.into_inner();
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(value["id"], "an \"odd\" id");
    assert_eq!(value["prev"], serde_json::Value::Null);
}
