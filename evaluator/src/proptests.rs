//! Properties: decoding never panics, deciding never panics, `decide`, `decide_explained` and
//! the reference evaluator agree (on the conformance policies; see `differential` for random
//! policies), and globs agree with a naive reference matcher.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{Value as J, json};

use crate::glob::Glob;
use crate::testing;
use crate::{Outcome, Policy, Request};

fn pick(items: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    proptest::sample::select(items).prop_map(str::to_owned)
}

fn name(items: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    prop_oneof![4 => pick(items), 1 => "[a-z_./*]{0,6}"]
}

const WORKFLOWS: &[&str] = &["dependency_bot", "release", "incident", "w", "nightly"];
const TOOLS: &[&str] = &[
    "repo.read",
    "repo.push",
    "deploy",
    "secrets.read",
    "http.get",
    "ci.run",
    "op.a",
    "op.b",
    "op.c",
    "op.d",
    "op.e",
    "op.f",
    "rm",
];
const ROLES: &[&str] = &[
    "engineer",
    "senior_engineer",
    "release_manager",
    "security_reviewer",
    "platform_service",
    "dev",
    "ops",
    "auditor",
    "root",
];
const ARGS: &[&str] = &[
    "repo", "branch", "files", "env", "service", "name", "host", "pipeline", "x", "n", "flag",
    "timeout", "force",
];
const ATTRS: &[&str] = &["team", "clearance", "level", "site", "extra"];
const CONTEXT: &[&str] = &["business_hours", "risk", "extra"];
const EVIDENCE: &[&str] =
    &["tests_passed", "signed_commit", "approval", "ticket", "check", "review", "signoff", "vibes"];
const FIELDS: &[&str] = &["project", "other"];
const IDS: &[&str] = &["alice", "bob", "carol", "erin", "agent/1", "svc", "olly", "olga"];
const STRINGS: &[&str] = &[
    "staging",
    "prod",
    "main",
    "deps/x",
    "release/a",
    "prod/db",
    "crates.io",
    "20m",
    "2h",
    "INC",
    "REL",
    "platform",
    "web",
    "any",
    "q",
    ".github/workflows/ci.yml",
    "",
];

fn value() -> impl Strategy<Value = J> {
    prop_oneof![
        6 => pick(STRINGS).prop_map(J::from),
        1 => any::<String>().prop_map(J::from),
        3 => (-3i64..10).prop_map(J::from),
        1 => any::<i64>().prop_map(J::from),
        1 => any::<u64>().prop_map(J::from),
        2 => any::<bool>().prop_map(J::from),
        3 => vec(pick(STRINGS), 0..3).prop_map(J::from),
        1 => (-1e3f64..1e3).prop_map(J::from),
        1 => Just(J::Null),
        1 => Just(json!({"a": [1, "b"]})),
        1 => Just(json!(["a", 1])),
    ]
}

fn object(keys: &'static [&'static str]) -> impl Strategy<Value = J> {
    btree_map(name(keys), value(), 0..4).prop_map(|m| J::Object(m.into_iter().collect()))
}

fn kind() -> impl Strategy<Value = J> {
    prop_oneof![
        40 => pick(&["human", "service", "agent"]).prop_map(J::from),
        1 => Just(J::from("robot")),
        1 => Just(J::from(3)),
    ]
}

fn principal() -> impl Strategy<Value = J> {
    (
        pick(IDS),
        kind(),
        proptest::option::of(vec(name(ROLES), 0..3)),
        proptest::option::of(object(ATTRS)),
    )
        .prop_map(|(id, kind, roles, attrs)| {
            let mut p = json!({"id": id, "kind": kind});
            if let Some(roles) = roles {
                p["roles"] = json!(roles);
            }
            if let Some(attrs) = attrs {
                p["attrs"] = attrs;
            }
            p
        })
}

fn evidence_item() -> impl Strategy<Value = J> {
    (
        name(EVIDENCE),
        proptest::option::of(principal()),
        proptest::option::of(pick(&["sha256:a", "sha256:b"])),
        proptest::option::of(object(FIELDS)),
    )
        .prop_map(|(kind, by, subject, fields)| {
            let mut e = json!({"kind": kind});
            if let Some(by) = by {
                e["by"] = by;
            }
            if let Some(subject) = subject {
                e["subject"] = json!(subject);
            }
            if let Some(fields) = fields {
                e["fields"] = fields;
            }
            e
        })
}

/// A random request, or a conformance case's request with random edits.
fn request() -> impl Strategy<Value = J> {
    prop_oneof![random_request(), mutated_case()]
}

fn cases() -> Vec<J> {
    [
        include_str!("../tests/conformance/edges/cases.jsonl"),
        include_str!("../tests/conformance/engineering/cases.jsonl"),
    ]
    .iter()
    .flat_map(|text| text.lines())
    .filter_map(|line| serde_json::from_str::<J>(line).ok())
    .map(|case| case["request"].clone())
    .collect()
}

fn mutated_case() -> impl Strategy<Value = J> {
    (
        proptest::sample::select(cases()),
        proptest::option::of((name(ARGS), value())),
        proptest::option::of(evidence_item()),
        proptest::option::of(any::<proptest::sample::Index>()),
        proptest::option::of((any::<proptest::sample::Index>(), vec(name(ROLES), 0..3))),
        proptest::option::of(object(CONTEXT)),
        proptest::option::of(principal()),
    )
        .prop_map(|(mut r, arg, add, remove, roles, context, hop)| {
            if let Some((k, v)) = arg
                && let Some(args) = r.get_mut("args").and_then(J::as_object_mut)
            {
                args.insert(k, v);
            }
            if let Some(items) = r.get_mut("evidence").and_then(J::as_array_mut) {
                if let Some(i) = remove
                    && !items.is_empty()
                {
                    items.remove(i.index(items.len()));
                }
                if let Some(item) = add {
                    items.push(item);
                }
            } else if let Some(item) = add {
                r["evidence"] = json!([item]);
            }
            if let Some((i, roles)) = roles
                && let Some(chain) = r.get_mut("chain").and_then(J::as_array_mut)
                && !chain.is_empty()
            {
                let at = i.index(chain.len());
                chain[at]["roles"] = json!(roles);
            }
            if let Some(context) = context {
                r["context"] = context;
            }
            if let Some(p) = hop
                && let Some(chain) = r.get_mut("chain").and_then(J::as_array_mut)
            {
                chain.push(p);
            }
            r
        })
}

fn random_request() -> impl Strategy<Value = J> {
    (
        prop_oneof![8 => pick(&["call", "start"]), 1 => Just("stop".to_owned())],
        name(WORKFLOWS),
        name(TOOLS),
        object(ARGS),
        vec(principal(), 0..5),
        proptest::option::of(pick(&["sha256:a", "sha256:b"])),
        vec(evidence_item(), 0..6),
        object(CONTEXT),
        proptest::option::of(pick(&["0s", "10m", "601s", "45m", "2h", "1d", "soon"])),
    )
        .prop_map(|(action, workflow, tool, args, chain, subject, evidence, context, ttl)| {
            let mut r = json!({
                "action": action, "workflow": workflow, "tool": tool, "args": args,
                "chain": chain, "evidence": evidence, "context": context,
            });
            if let Some(subject) = subject {
                r["subject"] = json!(subject);
            }
            if let Some(ttl) = ttl {
                r["ttl"] = json!(ttl);
            }
            r
        })
}

fn policies() -> [Policy; 2] {
    [testing::engineering().policy(), testing::edges().policy()]
}

fn check(policy: &Policy, request: &Request<'_>) {
    let decision = policy.decide(request);
    let (explained, trace) = policy.decide_explained(request);
    assert_eq!(decision, explained);
    assert_eq!(decision, crate::reference::decide(policy.ir(), request), "reference differs");
    let _ = trace.to_string();
    let v: J = serde_json::from_str(&decision.to_json()).expect("decision JSON");
    let keys: Vec<&str> = v.as_object().expect("object").keys().map(|k| k.as_str()).collect();
    assert_eq!(keys.len(), 6);
    match decision.decision {
        Outcome::Allow => assert!(decision.missing.is_empty() && decision.rules.len() == 1),
        Outcome::Pending => {
            assert!(!decision.missing.is_empty());
            assert!(decision.ttl_seconds.is_none());
            assert!(decision.missing.iter().all(|m| m.have < m.need));
        }
        Outcome::Deny => {
            assert!(decision.missing.is_empty() && !decision.reasons.is_empty());
            assert!(decision.ttl_seconds.is_none());
        }
    }
}

/// The reference: plain recursive backtracking over scalars.
fn naive(p: &[char], t: &[char]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some(('*', rest)) => (0..=t.len()).any(|k| naive(rest, &t[k..])),
        Some(('?', rest)) => !t.is_empty() && naive(rest, &t[1..]),
        Some((c, rest)) => t.first() == Some(c) && naive(rest, &t[1..]),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in vec(any::<u8>(), 0..256)) {
        let _ = Request::from_slice(&bytes);
    }

    #[test]
    fn decoding_json_like_text_never_panics(text in r#"[{}\[\]",:a-z0-9. \-e]{0,80}"#) {
        let _ = Request::from_json(&text);
    }

    #[test]
    fn decoding_mutated_requests_never_panics(
        r in request(),
        cut in 0usize..400,
        byte in any::<u8>(),
    ) {
        let mut bytes = r.to_string().into_bytes();
        if !bytes.is_empty() {
            let at = cut % bytes.len();
            bytes[at] = byte;
        }
        let _ = Request::from_slice(&bytes);
        bytes.truncate(cut);
        let _ = Request::from_slice(&bytes);
    }

    #[test]
    fn deciding_never_panics_and_both_paths_agree(r in request()) {
        if let Ok(request) = Request::from_json(&r.to_string()) {
            for policy in policies() {
                check(&policy, &request);
            }
            // Decoding what we encode gives the same request back.
            let text = request.to_json();
            prop_assert_eq!(Request::from_json(&text).ok(), Some(request));
        }
    }

    #[test]
    fn glob_agrees_with_the_reference(pattern in "[ab*?é]{0,8}", text in "[abé]{0,10}") {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        prop_assert_eq!(Glob::new(&pattern).is_match(&text), naive(&p, &t), "{} / {}", pattern, text);
    }
}

/// The generator reaches every outcome (so the property above exercises every step).
#[test]
fn generated_requests_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let policies = policies();
    let mut seen = std::collections::BTreeMap::new();
    let mut malformed = 0;
    for _ in 0..3000 {
        let r = request().new_tree(&mut runner).expect("tree").current();
        match Request::from_json(&r.to_string()) {
            Ok(request) => {
                for p in &policies {
                    *seen.entry(p.decide(&request).decision.as_str()).or_insert(0) += 1;
                }
            }
            Err(_) => malformed += 1,
        }
    }
    eprintln!("outcomes {seen:?}, malformed {malformed}");
    for outcome in ["allow", "deny", "pending"] {
        assert!(seen.get(outcome).copied().unwrap_or(0) > 0, "never {outcome}: {seen:?}");
    }
}
