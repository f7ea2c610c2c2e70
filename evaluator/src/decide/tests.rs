//! The procedure of LANGUAGE.md §5, step by step, mostly against the engineering policy of the
//! conformance corpus (see `tests/conformance/engineering/policy.writ` for its text).

use serde_json::{Value as J, json};

use crate::ir::{CmpOp, PrincipalKind, Value, ValueType, Who};
use crate::testing::{self, Ir, arg, cmp, i, s};
use crate::{Decision, Outcome, Policy, Request, Trace, TraceStep};

fn eng() -> Policy {
    testing::engineering().policy()
}

fn edges() -> Policy {
    testing::edges().policy()
}

fn req(v: J) -> Request<'static> {
    Request::from_json(&v.to_string()).map(Request::into_owned).unwrap_or_else(|e| panic!("{e}"))
}

fn decide(p: &Policy, v: J) -> Decision {
    let r = req(v);
    let d = p.decide(&r);
    let (d2, _) = p.decide_explained(&r);
    assert_eq!(d, d2, "decide and decide_explained agree");
    assert_eq!(p.decide_json(&r), d.to_json(), "decide_json writes decide's decision");
    d
}

fn explain(p: &Policy, v: J) -> (Decision, Trace) {
    p.decide_explained(&req(v))
}

fn alice() -> J {
    json!({"id": "alice", "kind": "human", "roles": ["release_manager"], "attrs": {"team": "platform"}})
}
fn erin() -> J {
    json!({"id": "erin", "kind": "human", "roles": ["engineer"], "attrs": {"team": "web"}})
}
fn agent() -> J {
    json!({"id": "agent/1", "kind": "agent"})
}
fn approval(id: &str, roles: &[&str]) -> J {
    json!({"kind": "approval", "by": {"id": id, "kind": "human", "roles": roles}})
}
fn tests_passed() -> J {
    json!({"kind": "tests_passed"})
}

fn call(workflow: &str, tool: &str, args: J, chain: J, evidence: J) -> J {
    json!({"action": "call", "workflow": workflow, "tool": tool, "args": args, "chain": chain, "evidence": evidence})
}

fn prod_deploy(evidence: J) -> J {
    call(
        "release",
        "deploy",
        json!({"env": "prod", "service": "api"}),
        json!([alice(), agent()]),
        evidence,
    )
}

fn start(workflow: &str, chain: J) -> J {
    json!({"action": "start", "workflow": workflow, "chain": chain})
}

fn rules(d: &Decision) -> Vec<&str> {
    d.rules.iter().map(|r| &**r).collect()
}

fn missing(d: &Decision) -> Vec<(&str, Option<&str>, u32, u32)> {
    d.missing.iter().map(|m| (&*m.evidence, m.by.as_deref(), m.need, m.have)).collect()
}

fn assert_deny(d: &Decision, reason: &str) {
    assert_eq!(d.decision, Outcome::Deny, "{d:?}");
    assert!(d.reasons.iter().any(|r| r == reason), "expected reason {reason:?} in {:?}", d.reasons);
}

// =============================================================================================
// Call step 1: the request fits the policy

#[test]
fn call_1_unknown_workflow_and_tool() {
    let p = eng();
    let d = decide(&p, call("nightly", "rm", json!({}), json!([erin(), agent()]), json!([])));
    assert_eq!(d.decision, Outcome::Deny);
    assert_eq!(d.reasons, ["unknown workflow `nightly`", "unknown tool `rm`"]);
    assert!(d.rules.is_empty());
    assert_eq!(d.ttl_seconds, None);
    let d = decide(&p, call("release", "foo", json!({"x": 1}), json!([alice()]), json!([])));
    assert_eq!(d.reasons, ["unknown tool `foo`"]);
}

#[test]
fn call_1_undeclared_argument() {
    let d = decide(
        &eng(),
        call(
            "dependency_bot",
            "repo.read",
            json!({"repo": "web", "force": true}),
            json!([erin(), agent()]),
            json!([]),
        ),
    );
    assert_deny(&d, "repo.read has no argument `force`");
}

/// Arguments are checked by name whatever their order (a decision first tries the parameter
/// at the argument's position, then looks the name up).
#[test]
fn call_1_arguments_in_any_order() {
    let p = eng();
    let text = |args: &str| {
        format!(
            r#"{{"action":"call","workflow":"release","tool":"deploy","args":{args},"chain":[{},{}],"evidence":[]}}"#,
            alice(),
            agent()
        )
    };
    let decide_text = |args: &str| {
        let text = text(args);
        p.decide(&Request::from_json(&text).unwrap_or_else(|e| panic!("{e}")))
    };
    assert_eq!(
        decide_text(r#"{"service":"api","env":"staging"}"#),
        decide_text(r#"{"env":"staging","service":"api"}"#)
    );
    let d = decide_text(r#"{"service":5,"env":"qa"}"#);
    assert_eq!(d.decision, Outcome::Deny);
    assert_eq!(
        d.reasons,
        [
            "argument `service` of deploy must be a string; found 5",
            r#"argument `env` of deploy must be one of "staging", "prod"; found "qa""#,
        ]
    );
    // A name that is another parameter's, at this one's position, is still checked as its own.
    let d = decide_text(r#"{"service":"api","service2":"x"}"#);
    assert_eq!(d.reasons, ["deploy has no argument `service2`"]);
}

#[test]
fn call_1_string_outside_the_enumeration() {
    let d = decide(
        &eng(),
        call(
            "release",
            "deploy",
            json!({"env": "qa", "service": "api"}),
            json!([alice(), agent()]),
            json!([]),
        ),
    );
    assert_deny(&d, r#"argument `env` of deploy must be one of "staging", "prod"; found "qa""#);
}

#[test]
fn call_1_arguments_of_the_wrong_type() {
    let p = eng();
    let d = decide(
        &p,
        call(
            "release",
            "deploy",
            json!({"env": "staging", "service": 5}),
            json!([alice(), agent()]),
            json!([]),
        ),
    );
    assert_deny(&d, "argument `service` of deploy must be a string; found 5");
    let d = decide(
        &p,
        call(
            "dependency_bot",
            "repo.push",
            json!({"repo": "web", "branch": "deps/x", "files": "Cargo.lock"}),
            json!([erin(), agent()]),
            json!([]),
        ),
    );
    assert_deny(
        &d,
        r#"argument `files` of repo.push must be a list of strings; found "Cargo.lock""#,
    );
}

/// Values that are not writ values (module docs of `request`): wrong-typed as arguments and
/// declared attributes or context values, ignored under undeclared keys, never matching as
/// evidence fields.
#[test]
fn call_1_values_that_are_not_writ_values() {
    let p = eng();
    let d = decide(
        &p,
        call(
            "dependency_bot",
            "repo.read",
            json!({"repo": 3.0}),
            json!([erin(), agent()]),
            json!([]),
        ),
    );
    assert_deny(
        &d,
        "argument `repo` of repo.read must be a string; found 3.0 (a number that is not an integer)",
    );
    let d = decide(
        &p,
        call(
            "dependency_bot",
            "repo.read",
            json!({"repo": {"name": "web"}}),
            json!([erin(), agent()]),
            json!([]),
        ),
    );
    assert_deny(
        &d,
        r#"argument `repo` of repo.read must be a string; found {"name":"web"} (an object)"#,
    );
    let d = decide(
        &p,
        call(
            "dependency_bot",
            "repo.push",
            json!({"repo": "web", "branch": "deps/x", "files": ["a", 1]}),
            json!([erin(), agent()]),
            json!([]),
        ),
    );
    assert_eq!(d.decision, Outcome::Deny);
    assert!(d.reasons[0].ends_with(r#"found ["a",1] (a list that is not all strings)"#), "{d:?}");

    // A declared attribute: wrong-typed.
    let mut e = erin();
    e["attrs"]["clearance"] = json!(1e2);
    let d = decide(
        &p,
        call("dependency_bot", "repo.read", json!({"repo": "web"}), json!([e, agent()]), json!([])),
    );
    assert_deny(
        &d,
        "attribute `clearance` of erin must be an integer; found 100.0 (a number that is not an integer)",
    );
    // Undeclared attributes and context keys: ignored.
    let mut e = erin();
    e["attrs"]["claims"] = json!({"nested": [1.5, null]});
    let mut r =
        call("dependency_bot", "repo.read", json!({"repo": "web"}), json!([e, agent()]), json!([]));
    r["context"] = json!({"trace": {"id": 1}, "score": 0.5});
    assert_eq!(decide(&p, r).decision, Outcome::Allow);
    // Big integers are not integers.
    let mut e = erin();
    e["attrs"]["clearance"] = json!(u64::MAX);
    let d = decide(
        &p,
        call("dependency_bot", "repo.read", json!({"repo": "web"}), json!([e, agent()]), json!([])),
    );
    assert_deny(
        &d,
        "attribute `clearance` of erin must be an integer; found 18446744073709551615 (an integer outside the 64-bit range)",
    );
}

#[test]
fn call_1_declared_attribute_or_context_of_the_wrong_type() {
    let p = eng();
    let mut e = erin();
    e["attrs"]["team"] = json!(["web"]);
    let mut r =
        call("dependency_bot", "repo.read", json!({"repo": "web"}), json!([agent(), e]), json!([]));
    r["context"] = json!({"business_hours": "yes"});
    let d = decide(&p, r);
    assert_eq!(
        d.reasons,
        [
            r#"attribute `team` of erin must be a string; found ["web"]"#,
            r#"context value `business_hours` must be a boolean; found "yes""#,
        ]
    );
}

#[test]
fn call_1_attributes_of_every_chain_principal_are_checked() {
    // Even an agent's.
    let mut a = agent();
    a["attrs"] = json!({"clearance": "high"});
    let d = decide(
        &eng(),
        call("dependency_bot", "repo.read", json!({"repo": "web"}), json!([erin(), a]), json!([])),
    );
    assert_deny(&d, r#"attribute `clearance` of agent/1 must be an integer; found "high""#);
}

#[test]
fn call_1_evidence_givers_attributes_are_not_checked() {
    let mut b = approval("bob", &["security_reviewer"]);
    b["by"]["attrs"] = json!({"clearance": "high", "team": 7});
    let c = approval("carol", &["security_reviewer"]);
    let d = decide(&eng(), prod_deploy(json!([b, c, tests_passed()])));
    assert_eq!(d.decision, Outcome::Allow, "{d:?}");
}

#[test]
fn call_1_nobody_accountable() {
    let d = decide(
        &eng(),
        call(
            "dependency_bot",
            "repo.read",
            json!({"repo": "web"}),
            json!([agent(), {"id": "agent/2", "kind": "agent"}]),
            json!([]),
        ),
    );
    assert_deny(
        &d,
        "nobody in the chain is accountable: a chain needs a human or service principal",
    );
}

#[test]
fn call_1_an_empty_chain_built_in_code_is_denied() {
    let mut r = req(call(
        "dependency_bot",
        "repo.read",
        json!({"repo": "web"}),
        json!([erin()]),
        json!([]),
    ));
    r.chain.clear();
    let p = eng();
    assert_deny(&p.decide(&r), "the chain is empty");
    assert_eq!(p.decide_explained(&r).0.decision, Outcome::Deny);
}

#[test]
fn call_1_duration_arguments_are_strings_in_duration_syntax() {
    let p = edges();
    let dev = json!({"id": "dev1", "kind": "human", "roles": ["dev"]});
    for (timeout, want) in [
        (json!("20m"), Outcome::Allow),
        (json!("1800s"), Outcome::Allow),
        (json!("2h"), Outcome::Deny),
        (json!("20"), Outcome::Deny),
        (json!(20), Outcome::Deny),
        (json!("20 minutes"), Outcome::Deny),
    ] {
        let d = decide(
            &p,
            call("w", "op.f", json!({"timeout": timeout}), json!([dev, agent()]), json!([])),
        );
        assert_eq!(d.decision, want, "{timeout}: {d:?}");
    }
    let d =
        decide(&p, call("w", "op.f", json!({"timeout": "soon"}), json!([dev, agent()]), json!([])));
    assert_deny(&d, r#"argument `timeout` of op.f must be a duration such as "30m"; found "soon""#);
}

// =============================================================================================
// Call step 2: depth

#[test]
fn call_2_depth_over_max_depth() {
    let d = decide(
        &eng(),
        call(
            "dependency_bot",
            "repo.read",
            json!({"repo": "web"}),
            json!([erin(), agent(), {"id": "a2", "kind": "agent"}, {"id": "a3", "kind": "agent"}]),
            json!([]),
        ),
    );
    assert_deny(&d, "depth 3 exceeds max_depth 2 of dependency_bot");
}

#[test]
fn call_2_max_depth_zero_means_direct_calls_only() {
    let mut ir = testing::engineering();
    ir.ir.workflows[1].max_depth = 0;
    let p = ir.policy();
    let r = |chain| call("release", "secrets.read", json!({"name": "release/k"}), chain, json!([]));
    assert_eq!(decide(&p, r(json!([alice()]))).decision, Outcome::Allow);
    assert_deny(
        &decide(&p, r(json!([alice(), agent()]))),
        "depth 1 exceeds max_depth 0 of release",
    );
}

// =============================================================================================
// Call step 3: denies

#[test]
fn call_3_deny_with_because() {
    let d = decide(
        &eng(),
        call(
            "dependency_bot",
            "repo.push",
            json!({"repo": "web", "branch": "main", "files": ["a"]}),
            json!([erin(), agent()]),
            json!([tests_passed(), {"kind": "signed_commit"}]),
        ),
    );
    assert_eq!(d.reasons, ["bots never push to main"]);
    assert_eq!(rules(&d), ["dependency_bot/deny/1"]);
}

#[test]
fn call_3_deny_without_because_names_the_rule() {
    let d = decide(
        &eng(),
        call(
            "release",
            "secrets.read",
            json!({"name": "prod/db"}),
            json!([alice(), agent()]),
            json!([]),
        ),
    );
    assert_eq!(d.reasons, ["denied by deny/1"]);
    assert_eq!(rules(&d), ["deny/1"]);
}

/// `decide_json` writes rule ids, reasons and the digest it prepared when the policy loaded:
/// escaped as the owned decision's JSON escapes them, on every outcome.
#[test]
fn decide_json_escapes_what_it_prepared() {
    let mut t = testing::engineering();
    t.ir.hash = "sha256:\"q\" \\ \n \u{1} é".to_owned();
    for workflow in &mut t.ir.workflows {
        for deny in &mut workflow.rules.denies {
            deny.meta.id = format!("{} \"x\"\t\\", deny.meta.id);
            deny.because = deny.because.take().map(|b| format!("{b}: \"quoted\" \u{7f} ü"));
        }
        for allow in &mut workflow.allows {
            allow.meta.id = format!("{}\u{1f}\"", allow.meta.id);
        }
    }
    let p = t.policy();
    let bot_push = call(
        "dependency_bot",
        "repo.push",
        json!({"repo": "web", "branch": "main", "files": ["a"]}),
        json!([erin(), agent()]),
        json!([tests_passed(), {"kind": "signed_commit"}]),
    );
    let d = decide(&p, bot_push);
    assert_eq!(d.reasons, ["bots never push to main: \"quoted\" \u{7f} ü"]);
    assert_eq!(rules(&d), ["dependency_bot/deny/1 \"x\"\t\\"]);
    let b = approval("bob", &["security_reviewer"]);
    let c = approval("carol", &["security_reviewer"]);
    let allowed = decide(&p, prod_deploy(json!([b, c, tests_passed()])));
    assert_eq!(allowed.decision, Outcome::Allow, "{allowed:?}");
    assert!(allowed.rules.iter().all(|r| r.ends_with('"')), "{allowed:?}");
    let pending = decide(&p, prod_deploy(json!([])));
    assert_eq!(pending.decision, Outcome::Pending, "{pending:?}");
}

#[test]
fn call_3_every_applying_deny_is_reported() {
    let d = decide(
        &eng(),
        call(
            "dependency_bot",
            "repo.push",
            json!({"repo": "web", "branch": "main", "files": [".github/workflows/ci.yml"]}),
            json!([erin(), agent()]),
            json!([]),
        ),
    );
    assert_eq!(rules(&d), ["dependency_bot/deny/1", "dependency_bot/deny/2"]);
    assert_eq!(d.reasons, ["bots never push to main", "bots never edit CI definitions"]);
}

#[test]
fn call_3_unknown_deny_condition_applies_and_says_why() {
    let d = decide(
        &eng(),
        call(
            "dependency_bot",
            "repo.push",
            json!({"repo": "web", "branch": "deps/x"}),
            json!([erin(), agent()]),
            json!([]),
        ),
    );
    assert_eq!(
        d.reasons,
        [
            "bots never edit CI definitions (a value this rule reads is missing or cannot be known, and denies fail closed)"
        ]
    );
}

#[test]
fn call_3_deny_overrides_a_true_allow() {
    let mut ir = testing::engineering();
    ir.deny((99, 1), "deny repo.read", None, "repo.read", None, Some("frozen"));
    let d = decide(
        &ir.policy(),
        call(
            "dependency_bot",
            "repo.read",
            json!({"repo": "web"}),
            json!([erin(), agent()]),
            json!([]),
        ),
    );
    assert_deny(&d, "frozen");
}

// =============================================================================================
// Call step 4: allows

#[test]
fn call_4_no_allow_matches() {
    let p = eng();
    let d = decide(
        &p,
        call("release", "secrets.read", json!({"name": "x"}), json!([alice(), agent()]), json!([])),
    );
    assert_eq!(d.reasons, [r#"no rule in release allows secrets.read(name: "x")"#]);
    assert!(d.rules.is_empty());
    // No allow targets the tool at all.
    let d = decide(
        &p,
        call(
            "dependency_bot",
            "deploy",
            json!({"service": "api", "env": "staging"}),
            json!([erin(), agent()]),
            json!([]),
        ),
    );
    assert_eq!(
        d.reasons,
        [r#"no rule in dependency_bot allows deploy(env: "staging", service: "api")"#]
    );
}

#[test]
fn call_4_an_unknown_allow_condition_does_not_allow() {
    let d = decide(
        &eng(),
        call("dependency_bot", "http.get", json!({}), json!([erin(), agent()]), json!([])),
    );
    assert_deny(
        &d,
        "no rule in dependency_bot allows http.get (dependency_bot/allow/3 reads a value the request lacks)",
    );
}

#[test]
fn call_5_an_unknown_may_condition_is_named() {
    // dev/may/5: `may op.b when not principal.level == 3`; devx has no level.
    let mut r = call(
        "w",
        "op.b",
        json!({"x": "q", "n": 5}),
        json!([{"id": "devx", "kind": "human", "roles": ["dev"]}, agent()]),
        json!([]),
    );
    r["context"] = json!({"risk": 1});
    let d = decide(&edges(), r);
    assert_eq!(d.decision, Outcome::Deny);
    assert!(
        d.reasons.iter().any(|r| r == "devx is not entitled to op.b(x: \"q\", n: 5): delegation cannot widen access (dev/may/5 reads a value the request lacks)"),
        "{d:?}"
    );
}

#[test]
fn start_3_an_unknown_start_condition_is_named() {
    let d = decide(
        &eng(),
        start("incident", json!([{"id": "sam", "kind": "human", "roles": ["senior_engineer"]}])),
    );
    assert_eq!(
        d.reasons,
        ["no start rule of incident admits sam (incident/start/2 reads a value the request lacks)"]
    );
}

// =============================================================================================
// Call step 5: delegation never amplifies

#[test]
fn call_5_initiator_not_entitled() {
    let d = decide(
        &eng(),
        call(
            "release",
            "deploy",
            json!({"env": "prod", "service": "api"}),
            json!([erin(), agent()]),
            json!([]),
        ),
    );
    assert_eq!(
        d.reasons,
        [
            r#"erin is not entitled to deploy(env: "prod", service: "api"): delegation cannot widen access"#
        ]
    );
    assert_eq!(rules(&d), ["release/allow/2"]);
}

#[test]
fn call_5_may_conditions_see_arguments() {
    // engineer/may/4: `may deploy when env == "staging"`.
    let d = decide(
        &eng(),
        call(
            "release",
            "deploy",
            json!({"env": "staging", "service": "api"}),
            json!([erin(), agent()]),
            json!([tests_passed()]),
        ),
    );
    assert_eq!(d.decision, Outcome::Allow, "{d:?}");
}

#[test]
fn call_5_every_human_or_service_must_be_entitled_agents_are_not_checked() {
    let p = eng();
    let svc = |team: &str| json!({"id": "svc", "kind": "service", "roles": ["platform_service"], "attrs": {"team": team}});
    let r =
        |chain| call("dependency_bot", "http.get", json!({"host": "crates.io"}), chain, json!([]));
    assert_eq!(decide(&p, r(json!([erin(), svc("platform"), agent()]))).decision, Outcome::Allow);
    let d = decide(&p, r(json!([erin(), svc("web"), agent()])));
    assert_eq!(
        d.reasons,
        [r#"svc is not entitled to http.get(host: "crates.io"): delegation cannot widen access"#]
    );
    // Several principals: each is named.
    let nobody = json!({"id": "nobody", "kind": "human"});
    let d = decide(&p, r(json!([nobody, svc("web"), agent()])));
    assert_eq!(d.reasons.len(), 2);
    assert!(d.reasons[0].starts_with("nobody is not entitled"));
}

#[test]
fn call_5_principal_is_bound_to_the_checked_principal() {
    // `may http.get when principal.team == "platform"` reads the principal being checked, not
    // the initiator or caller.
    let mut ir = testing::engineering();
    ir.may(
        (1, 1),
        "may ci.run when principal.id == initiator.id",
        "platform_service",
        "ci.run",
        Some(crate::testing::eq(
            crate::ir::Operand::Id(Who::Principal),
            crate::ir::Operand::Id(Who::Initiator),
        )),
    );
    ir.allow((2, 1), "allow ci.run", "dependency_bot", "ci.run", None, vec![]);
    let p = ir.policy();
    let svc = |id: &str| json!({"id": id, "kind": "service", "roles": ["platform_service"]});
    let r = |chain| call("dependency_bot", "ci.run", json!({"pipeline": "x"}), chain, json!([]));
    assert_eq!(decide(&p, r(json!([svc("s1"), agent()]))).decision, Outcome::Allow);
    let d = decide(&p, r(json!([svc("s1"), svc("s2"), agent()])));
    assert_eq!(d.decision, Outcome::Deny);
    assert!(d.reasons[0].starts_with("s2 is not entitled"), "{d:?}");
}

#[test]
fn call_5_entitlements_through_extends() {
    // alice is release_manager, which extends senior_engineer (`may deploy`).
    let d = decide(&eng(), prod_deploy(json!([])));
    assert_eq!(d.decision, Outcome::Pending);
}

// =============================================================================================
// Call step 6: evidence

#[test]
fn call_6_pending_names_what_is_missing() {
    let d = decide(&eng(), prod_deploy(json!([approval("bob", &["security_reviewer"])])));
    assert_eq!(d.decision, Outcome::Pending);
    assert_eq!(
        missing(&d),
        [("approval", Some("security_reviewer"), 2, 1), ("tests_passed", None, 1, 0)]
    );
    assert_eq!(
        d.reasons,
        [
            "deploy in release needs 2 approval by security_reviewer; 1 given",
            "deploy in release needs tests_passed; 0 given",
        ]
    );
    assert_eq!(rules(&d), ["release/allow/2"]);
    assert_eq!(d.ttl_seconds, None);
}

#[test]
fn call_6_allow_names_the_allow() {
    let d = decide(
        &eng(),
        prod_deploy(json!([
            approval("bob", &["security_reviewer"]),
            approval("carol", &["security_reviewer"]),
            tests_passed()
        ])),
    );
    assert_eq!(d.decision, Outcome::Allow);
    assert_eq!(rules(&d), ["release/allow/2"]);
    assert!(d.reasons.is_empty() && d.missing.is_empty());
    assert_eq!(d.ttl_seconds, None, "ttl_seconds is for starts");
    assert_eq!(&*d.policy, "sha256:test");
}

#[test]
fn call_6_distinct_givers_by_id() {
    let d = decide(
        &eng(),
        prod_deploy(json!([
            approval("bob", &["security_reviewer"]),
            {"kind": "approval", "by": {"id": "bob", "kind": "human", "roles": ["security_reviewer"], "attrs": {"team": "x"}}},
            tests_passed()
        ])),
    );
    assert_eq!(missing(&d), [("approval", Some("security_reviewer"), 2, 1)]);
}

#[test]
fn call_6_no_self_approval() {
    // alice (initiator) approves; so does the agent's id, as a human.
    let d = decide(
        &eng(),
        prod_deploy(json!([
            approval("alice", &["security_reviewer"]),
            approval("agent/1", &["security_reviewer"]),
            approval("carol", &["security_reviewer"]),
            tests_passed()
        ])),
    );
    assert_eq!(missing(&d), [("approval", Some("security_reviewer"), 2, 1)]);
}

#[test]
fn call_6_giver_must_be_human_with_the_role_through_extends() {
    let p = eng();
    let d = decide(
        &p,
        prod_deploy(json!([
            {"kind": "approval", "by": {"id": "svc", "kind": "service", "roles": ["security_reviewer"]}},
            approval("erin", &["engineer"]),
            {"kind": "approval"},
            approval("carol", &["security_reviewer"]),
            tests_passed()
        ])),
    );
    assert_eq!(missing(&d), [("approval", Some("security_reviewer"), 2, 1)]);

    // `by senior_engineer` is met by a release_manager.
    let mut ir = testing::engineering();
    let need = vec![ir.need("approval by senior_engineer")];
    ir.allow((1, 1), "", "dependency_bot", "ci.run", None, need);
    let p = ir.policy();
    let r = |ev| {
        call("dependency_bot", "ci.run", json!({"pipeline": "p"}), json!([erin(), agent()]), ev)
    };
    assert_eq!(
        decide(&p, r(json!([approval("rm", &["release_manager"])]))).decision,
        Outcome::Allow
    );
    assert_eq!(decide(&p, r(json!([approval("en", &["engineer"])]))).decision, Outcome::Pending);
}

#[test]
fn call_6_evidence_of_undeclared_kinds_is_ignored() {
    let d = decide(&eng(), prod_deploy(json!([{"kind": "vibes"}, {"kind": "Tests_passed"}])));
    assert_eq!(
        missing(&d),
        [("approval", Some("security_reviewer"), 2, 0), ("tests_passed", None, 1, 0)]
    );
}

#[test]
fn call_6_items_of_kinds_without_givers_count_each() {
    let mut ir = testing::engineering();
    let need = vec![ir.need("2 tests_passed")];
    ir.allow((1, 1), "", "dependency_bot", "ci.run", None, need);
    let p = ir.policy();
    let r = |ev| {
        call("dependency_bot", "ci.run", json!({"pipeline": "p"}), json!([erin(), agent()]), ev)
    };
    assert_eq!(decide(&p, r(json!([tests_passed(), tests_passed()]))).decision, Outcome::Allow);
    // `by` on a kind declared without `by human` is ignored.
    let with_by = json!({"kind": "tests_passed", "by": {"id": "erin", "kind": "agent"}});
    assert_eq!(decide(&p, r(json!([with_by.clone(), with_by]))).decision, Outcome::Allow);
}

#[test]
fn call_6_fields_must_match_exactly() {
    let p = eng();
    let chain = json!([{"id": "sam", "kind": "human", "roles": ["senior_engineer"]}, agent()]);
    let r = |fields: J| {
        call(
            "incident",
            "deploy",
            json!({"env": "prod", "service": "api"}),
            chain.clone(),
            json!([{"kind": "ticket", "fields": fields}]),
        )
    };
    assert_eq!(decide(&p, r(json!({"project": "INC", "other": 1}))).decision, Outcome::Allow);
    for bad in [
        json!({"project": "inc"}),
        json!({"project": ["INC"]}),
        json!({"project": 1}),
        json!({"project": {"INC": true}}),
        json!({"Project": "INC"}),
        json!({}),
        json!(null),
    ] {
        let d = decide(&p, r(bad.clone()));
        assert_eq!(d.decision, Outcome::Pending, "{bad}");
        assert_eq!(d.missing[0].fields, [("project".to_owned(), Value::Str("INC".into()))]);
        assert_eq!(d.reasons, [r#"deploy in incident needs ticket(project: "INC"); 0 given"#]);
        assert_eq!(rules(&d), ["incident/allow/3", "incident/require/1"]);
    }
}

#[test]
fn call_6_fields_of_every_type() {
    let mut ir = Ir::new("f.writ");
    ir.role("r", &[])
        .tool("t", &[], &[])
        .evidence(
            "e",
            &[
                ("s", ValueType::String),
                ("n", ValueType::Int),
                ("b", ValueType::Bool),
                ("d", ValueType::Duration),
                ("l", ValueType::StringList),
            ],
            false,
            false,
        )
        .may((1, 1), "may t", "r", "t", None)
        .workflow("w", 1, 60);
    let need = vec![ir.need_with(
        "e",
        &[
            ("s", Value::Str("x".into())),
            ("n", Value::Int(3)),
            ("b", Value::Bool(true)),
            ("d", Value::Duration(1800)),
            ("l", Value::StringList(vec!["a".into()])),
        ],
    )];
    ir.allow((2, 1), "allow t require e(...)", "w", "t", None, need);
    let p = ir.policy();
    let r = |fields: J| {
        call(
            "w",
            "t",
            json!({}),
            json!([{"id": "h", "kind": "human", "roles": ["r"]}]),
            json!([{"kind": "e", "fields": fields}]),
        )
    };
    let good = json!({"s": "x", "n": 3, "b": true, "d": "30m", "l": ["a"]});
    assert_eq!(decide(&p, r(good.clone())).decision, Outcome::Allow);
    let d = decide(&p, r(json!({"s": "x", "n": 3, "b": true, "d": "1800s", "l": ["a"]})));
    assert_eq!(d.decision, Outcome::Allow, "durations compare by value");
    for (field, bad) in [
        ("s", json!(["x"])),
        ("n", json!(3.0)),
        ("n", json!("3")),
        ("b", json!("true")),
        ("d", json!(1800)),
        ("d", json!("31m")),
        ("l", json!("a")),
        ("l", json!(["a", "b"])),
    ] {
        let mut fields = good.clone();
        fields[field] = bad.clone();
        assert_eq!(decide(&p, r(fields)).decision, Outcome::Pending, "{field}: {bad}");
    }
    let d = decide(&p, r(json!({})));
    assert_eq!(d.reasons, [r#"t in w needs e(s: "x", n: 3, b: true, d: 30m, l: ["a"]); 0 given"#]);
    assert_eq!(
        d.to_value()["missing"],
        json!([{"evidence": "e", "fields": {"s": "x", "n": 3, "b": true, "d": "30m", "l": ["a"]}, "need": 1, "have": 0}])
    );
}

#[test]
fn call_6_bound_evidence() {
    let p = edges();
    let dev = json!({"id": "dev1", "kind": "human", "roles": ["dev"]});
    let r = |subject: J, item_subject: J| {
        let mut v = call(
            "w",
            "op.d",
            json!({"x": "q"}),
            json!([dev, agent()]),
            json!([{"kind": "signoff", "by": {"id": "olly", "kind": "human", "roles": ["ops"]}, "subject": item_subject}]),
        );
        v["subject"] = subject;
        v
    };
    assert_eq!(decide(&p, r(json!("sha256:a"), json!("sha256:a"))).decision, Outcome::Allow);
    assert_eq!(decide(&p, r(json!("sha256:a"), json!("sha256:b"))).decision, Outcome::Pending);
    assert_eq!(decide(&p, r(json!(null), json!("sha256:a"))).decision, Outcome::Pending);
    assert_eq!(decide(&p, r(json!("sha256:a"), json!(null))).decision, Outcome::Pending);
    assert_eq!(decide(&p, r(json!(null), json!(null))).decision, Outcome::Pending);
}

#[test]
fn call_6_require_for_applies_when_true_or_unknown() {
    let mut ir = testing::engineering();
    let need = vec![ir.need("tests_passed")];
    let cond = cmp(CmpOp::Eq, ir.ctx("business_hours"), testing::b(false));
    ir.require_for(
        (99, 1),
        "require tests_passed for repo.read when context.business_hours == false",
        None,
        need,
        "repo.read",
        Some(cond),
    );
    let p = ir.policy();
    let r = |ctx: J| {
        let mut v = call(
            "dependency_bot",
            "repo.read",
            json!({"repo": "web"}),
            json!([erin(), agent()]),
            json!([]),
        );
        v["context"] = ctx;
        v
    };
    assert_eq!(decide(&p, r(json!({"business_hours": true}))).decision, Outcome::Allow);
    let d = decide(&p, r(json!({"business_hours": false})));
    assert_eq!(d.decision, Outcome::Pending);
    assert_eq!(rules(&d), ["dependency_bot/allow/1", "require/2"]);
    let d = decide(&p, r(json!({})));
    assert_eq!(d.decision, Outcome::Pending, "unknown: the requirement applies");
}

#[test]
fn call_6_requirements_are_independent_one_item_meets_several() {
    // The allow and the guardrail both need signed_commit; one item serves both.
    let d = decide(
        &eng(),
        call(
            "dependency_bot",
            "repo.push",
            json!({"repo": "web", "branch": "deps/x", "files": ["a"]}),
            json!([erin(), agent(), {"id": "a2", "kind": "agent"}]),
            json!([tests_passed(), {"kind": "signed_commit"}]),
        ),
    );
    assert_eq!(d.decision, Outcome::Allow);
    // `approval by A` and `approval by B` are met by one person holding both roles.
    let mut ir = testing::engineering();
    let need = vec![ir.need("approval by security_reviewer"), ir.need("approval by engineer")];
    ir.allow((1, 1), "", "dependency_bot", "ci.run", None, need);
    let p = ir.policy();
    let d = decide(
        &p,
        call(
            "dependency_bot",
            "ci.run",
            json!({"pipeline": "p"}),
            json!([erin(), agent()]),
            json!([approval("pat", &["security_reviewer", "engineer"])]),
        ),
    );
    assert_eq!(d.decision, Outcome::Allow);
}

#[test]
fn call_6_identical_requirements_merge_keeping_the_larger_count() {
    let mut ir = testing::engineering();
    let need = vec![ir.need("approval by security_reviewer")];
    ir.allow((1, 1), "", "dependency_bot", "ci.run", None, need);
    let need = vec![ir.need("3 approval by security_reviewer"), ir.need("approval")];
    ir.require_for((2, 1), "", None, need, "ci.run", None);
    let p = ir.policy();
    let d = decide(
        &p,
        call(
            "dependency_bot",
            "ci.run",
            json!({"pipeline": "p"}),
            json!([erin(), agent()]),
            json!([approval("bob", &["security_reviewer"])]),
        ),
    );
    assert_eq!(
        missing(&d),
        [("approval", Some("security_reviewer"), 3, 1)],
        "merged; `approval` (no role) is met by bob"
    );
    assert_eq!(rules(&d), ["dependency_bot/allow/4", "require/2"]);
    assert_eq!(
        d.reasons,
        ["ci.run in dependency_bot needs 3 approval by security_reviewer; 1 given"]
    );
}

#[test]
fn call_6_identical_requirements_merge_whatever_the_order_of_their_fields() {
    // `form(a: "x", b: 1)` and `form(b: 1, a: "x")` are met by the same items: one requirement.
    let mut ir = testing::engineering();
    ir.evidence("form", &[("a", ValueType::String), ("b", ValueType::Int)], false, false);
    let (a, b) = (("a", Value::Str("x".into())), ("b", Value::Int(1)));
    let need = vec![ir.need_with("form", &[a.clone(), b.clone()])];
    ir.allow((1, 1), "", "dependency_bot", "ci.run", None, need);
    let need = vec![ir.need_with("2 form", &[b, a])];
    ir.require_for((2, 1), "", None, need, "ci.run", None);
    let p = ir.policy();
    let form = json!({"kind": "form", "fields": {"b": 1, "a": "x"}});
    let r = |ev| call("dependency_bot", "ci.run", json!({"pipeline": "p"}), json!([erin()]), ev);
    let d = decide(&p, r(json!([form])));
    assert_eq!(missing(&d), [("form", None, 2, 1)], "merged, keeping the larger count");
    assert_eq!(d.reasons, ["ci.run in dependency_bot needs 2 form(a: \"x\", b: 1); 1 given"]);
    assert_eq!(rules(&d), ["dependency_bot/allow/4", "require/2"]);
    assert_eq!(decide(&p, r(json!([form, form]))).decision, Outcome::Allow);
}

#[test]
fn call_6_pending_names_the_require_for_rules_in_source_order() {
    // The allow's own `approval` merges with require/3's; require/2 comes first all the same.
    let mut ir = testing::engineering();
    let need = vec![ir.need("approval")];
    ir.allow((1, 1), "", "dependency_bot", "ci.run", None, need);
    let need = vec![ir.need("tests_passed")];
    ir.require_for((2, 1), "", None, need, "ci.run", None);
    let need = vec![ir.need("approval")];
    ir.require_for((3, 1), "", None, need, "ci.run", None);
    let p = ir.policy();
    let d = decide(
        &p,
        call("dependency_bot", "ci.run", json!({"pipeline": "p"}), json!([erin()]), json!([])),
    );
    assert_eq!(missing(&d), [("approval", None, 1, 0), ("tests_passed", None, 1, 0)]);
    assert_eq!(rules(&d), ["dependency_bot/allow/4", "require/2", "require/3"]);
}

#[test]
fn call_6_pending_picks_the_path_lacking_fewest_first_on_ties() {
    let p = edges();
    let dev = json!({"id": "dev1", "kind": "human", "roles": ["dev"]});
    let r = |ev| call("w", "op.e", json!({"x": "q"}), json!([dev, agent()]), ev);
    let review =
        |id: &str| json!({"kind": "review", "by": {"id": id, "kind": "human", "roles": ["ops"]}});
    // Path 1 lacks 2, path 2 lacks 1.
    let d = decide(&p, r(json!([])));
    assert_eq!(missing(&d), [("check", None, 1, 0)]);
    assert_eq!(rules(&d), ["w/allow/6"]);
    // Tie (1 and 1): the first.
    let d = decide(&p, r(json!([review("olly")])));
    assert_eq!(missing(&d), [("review", Some("ops"), 2, 1)]);
    assert_eq!(rules(&d), ["w/allow/5"]);
    // Either path complete suffices.
    assert_eq!(decide(&p, r(json!([{"kind": "check"}]))).rules[0].as_ref(), "w/allow/6");
    let d = decide(&p, r(json!([review("olly"), review("olga")])));
    assert_eq!(rules(&d), ["w/allow/5"]);
}

#[test]
fn call_6_the_first_complete_path_allows() {
    let p = edges();
    let dev = json!({"id": "dev1", "kind": "human", "roles": ["dev"]});
    let review =
        |id: &str| json!({"kind": "review", "by": {"id": id, "kind": "human", "roles": ["ops"]}});
    let d = decide(
        &p,
        call(
            "w",
            "op.e",
            json!({"x": "q"}),
            json!([dev, agent()]),
            json!([review("a"), review("b"), {"kind": "check"}]),
        ),
    );
    assert_eq!(rules(&d), ["w/allow/5"]);
}

// =============================================================================================
// Starts

#[test]
fn start_allowed_with_the_workflows_ttl() {
    let d = decide(&eng(), start("dependency_bot", json!([erin()])));
    assert_eq!(d.decision, Outcome::Allow);
    assert_eq!(d.ttl_seconds, Some(3600));
    assert_eq!(rules(&d), ["dependency_bot/start/1"]);
}

#[test]
fn start_1_unknown_workflow_wrong_types_accountability_depth() {
    let p = eng();
    assert_eq!(
        decide(&p, start("nightly", json!([erin()]))).reasons,
        ["unknown workflow `nightly`"]
    );
    let mut r = start("dependency_bot", json!([erin()]));
    r["context"] = json!({"business_hours": 1});
    assert_deny(&decide(&p, r), "context value `business_hours` must be a boolean; found 1");
    let d = decide(&p, start("dependency_bot", json!([agent()])));
    assert_deny(
        &d,
        "nobody in the chain is accountable: a chain needs a human or service principal",
    );
    let d = decide(&p, start("release", json!([alice(), agent(), {"id": "a2", "kind": "agent"}])));
    assert_deny(&d, "depth 2 exceeds max_depth 1 of release");
}

#[test]
fn start_1_depth() {
    let d = decide(
        &eng(),
        start(
            "dependency_bot",
            json!([erin(), agent(), {"id": "a2", "kind": "agent"}, {"id": "a3", "kind": "agent"}]),
        ),
    );
    assert_deny(&d, "depth 3 exceeds max_depth 2 of dependency_bot");
}

#[test]
fn start_ignores_tool_and_args() {
    let mut r = start("dependency_bot", json!([erin()]));
    r["tool"] = json!("rm");
    r["args"] = json!({"force": 1.5});
    assert_eq!(decide(&eng(), r).decision, Outcome::Allow);
}

#[test]
fn start_2_deny_start() {
    let mut ir = testing::engineering();
    ir.deny_start(
        (1, 1),
        "deny start when context.business_hours",
        Some("incident"),
        Some(crate::ir::Cond::Truth(ir.ctx("business_hours"))),
        None,
    );
    let p = ir.policy();
    let sec = json!({"id": "bob", "kind": "human", "roles": ["security_reviewer"]});
    let mut r = start("incident", json!([sec]));
    r["context"] = json!({"business_hours": true});
    let d = decide(&p, r.clone());
    assert_eq!(rules(&d), ["incident/deny_start/1"]);
    assert_eq!(d.reasons, ["denied by incident/deny_start/1"]);
    r["context"] = json!({});
    let d = decide(&p, r.clone());
    assert_eq!(d.decision, Outcome::Deny, "unknown: deny start applies");
    r["context"] = json!({"business_hours": false});
    assert_eq!(decide(&p, r).decision, Outcome::Allow);
}

#[test]
fn start_2_guardrail_deny_start_with_because() {
    // An agent initiator is not accountable (step 1) unless a human is in the chain; with one,
    // the guardrail denies.
    let mut ir = testing::engineering();
    ir.ir.workflows[0].max_depth = 2;
    let d = decide(&ir.policy(), start("dependency_bot", json!([agent(), erin()])));
    assert_eq!(d.reasons, ["agents cannot start workflows on their own"]);
    assert_eq!(rules(&d), ["deny_start/1"]);
}

#[test]
fn start_3_roles_of_the_initiator_through_extends() {
    let p = eng();
    // senior_engineer start rule in incident; alice is release_manager ⊇ senior_engineer.
    let mut r = start("incident", json!([alice()]));
    r["context"] = json!({"business_hours": false});
    let d = decide(&p, r);
    assert_eq!(d.decision, Outcome::Pending);
    assert_eq!(rules(&d), ["incident/start/2"]);
    assert_eq!(d.reasons, ["starting incident needs approval by security_reviewer; 0 given"]);
    let d = decide(&p, start("release", json!([erin()])));
    assert_eq!(d.reasons, ["no start rule of release admits erin"]);
}

#[test]
fn start_3_roles_of_the_initiator_not_the_caller() {
    let mut ir = testing::engineering();
    ir.ir.workflows[1].max_depth = 2;
    let p = ir.policy();
    // The caller holds release_manager, the initiator does not.
    let d = decide(&p, start("release", json!([erin(), alice()])));
    assert_eq!(d.reasons, ["no start rule of release admits erin"]);
    let d = decide(&p, start("release", json!([alice(), erin()])));
    assert_eq!(d.decision, Outcome::Pending);
}

#[test]
fn start_3_conditions_see_the_caller() {
    let p = edges();
    let aud = json!({"id": "aud", "kind": "human", "roles": ["auditor"]});
    let mut r = start("w", json!([aud, agent()]));
    r["evidence"] = json!([{"kind": "check"}, {"kind": "check"}]);
    assert_eq!(decide(&p, r).reasons, ["no start rule of w admits aud"]);
}

#[test]
fn start_4_ttl() {
    let p = eng();
    let r = |ttl: &str| {
        let mut v = start("dependency_bot", json!([erin()]));
        v["ttl"] = json!(ttl);
        v
    };
    assert_eq!(decide(&p, r("45m")).ttl_seconds, Some(2700));
    assert_eq!(decide(&p, r("1h")).ttl_seconds, Some(3600));
    assert_eq!(decide(&p, r("0s")).ttl_seconds, Some(0));
    assert_eq!(
        decide(&p, r("3601s")).reasons,
        ["the requested ttl 3601s exceeds the ttl 1h of dependency_bot"]
    );
    assert_eq!(decide(&p, r("2h")).ttl_seconds, None);
}

#[test]
fn start_4_negative_ttl_built_in_code() {
    let mut r = req(start("dependency_bot", json!([erin()])));
    r.action = crate::Action::Start { ttl_seconds: Some(-1) };
    assert_deny(&eng().decide(&r), "the requested ttl is negative");
}

#[test]
fn start_5_evidence_and_pending_has_no_ttl() {
    let p = eng();
    let d = decide(&p, start("release", json!([alice()])));
    assert_eq!(d.decision, Outcome::Pending);
    assert_eq!(d.ttl_seconds, None);
    assert_eq!(rules(&d), ["release/start/1"]);
    assert_eq!(d.reasons, [r#"starting release needs ticket(project: "REL"); 0 given"#]);
    let mut r = start("release", json!([alice()]));
    r["evidence"] = json!([{"kind": "ticket", "fields": {"project": "REL"}}]);
    r["ttl"] = json!("10m");
    let d = decide(&p, r);
    assert_eq!((d.decision, d.ttl_seconds), (Outcome::Allow, Some(600)));
}

#[test]
fn start_no_delegation_check() {
    // Starts are governed by start rules alone: a start rule without roles admits a principal
    // entitled to nothing.
    let mut ir = testing::engineering();
    ir.start((1, 1), "start", "release", &[], None, vec![]);
    let d = decide(&ir.policy(), start("release", json!([{"id": "x", "kind": "service"}])));
    assert_eq!(d.decision, Outcome::Allow);
    assert_eq!(rules(&d), ["release/start/2"]);
}

// =============================================================================================
// Decisions as JSON

#[test]
fn decision_json_has_the_exact_shape() {
    let d = decide(&eng(), prod_deploy(json!([approval("bob", &["security_reviewer"])])));
    assert_eq!(
        d.to_json(),
        concat!(
            r#"{"decision":"pending","missing":[{"evidence":"approval","by":"security_reviewer","need":2,"have":1},"#,
            r#"{"evidence":"tests_passed","need":1,"have":0}],"rules":["release/allow/2"],"#,
            r#""reasons":["deploy in release needs 2 approval by security_reviewer; 1 given","#,
            r#""deploy in release needs tests_passed; 0 given"],"ttl_seconds":null,"policy":"sha256:test"}"#
        )
    );
    let d = decide(&eng(), start("dependency_bot", json!([erin()])));
    assert_eq!(
        d.to_json(),
        r#"{"decision":"allow","missing":[],"rules":["dependency_bot/start/1"],"reasons":[],"ttl_seconds":3600,"policy":"sha256:test"}"#
    );
    assert_eq!(d.to_value()["ttl_seconds"], json!(3600));
    assert_eq!(d.to_string(), "allow");
}

#[test]
fn decision_snapshots() {
    let p = eng();
    insta::assert_json_snapshot!(
        "pending_prod_deploy",
        decide(&p, prod_deploy(json!([approval("bob", &["security_reviewer"])])))
    );
    insta::assert_json_snapshot!(
        "pending_ticket_fields",
        decide(&p, start("release", json!([alice()])))
    );
    insta::assert_json_snapshot!(
        "deny_not_entitled",
        decide(
            &p,
            call(
                "release",
                "deploy",
                json!({"env": "prod", "service": "api"}),
                json!([erin(), agent()]),
                json!([])
            )
        )
    );
    insta::assert_json_snapshot!(
        "deny_bots_push_main",
        decide(
            &p,
            call(
                "dependency_bot",
                "repo.push",
                json!({"repo": "web", "branch": "main", "files": ["a"]}),
                json!([erin(), agent()]),
                json!([])
            )
        )
    );
}

// =============================================================================================
// Traces

#[test]
fn trace_records_every_step_of_a_call() {
    let (d, trace) = explain(
        &eng(),
        prod_deploy(json!([
            approval("alice", &["security_reviewer"]),
            approval("bob", &["security_reviewer"]),
            approval("bob", &["security_reviewer"]),
            {"kind": "approval", "by": {"id": "svc", "kind": "service", "roles": ["security_reviewer"]}},
            approval("erin", &["engineer"]),
            {"kind": "approval"},
            tests_passed()
        ])),
    );
    assert_eq!(d.decision, Outcome::Pending);
    let kinds: Vec<&str> = trace
        .steps
        .iter()
        .map(|s| match s {
            TraceStep::Request { .. } => "request",
            TraceStep::Run { .. } => "run",
            TraceStep::Fits { .. } => "fits",
            TraceStep::Depth { .. } => "depth",
            TraceStep::Deny { .. } => "deny",
            TraceStep::DenyStart { .. } => "deny_start",
            TraceStep::Allow { .. } => "allow",
            TraceStep::Start { .. } => "start",
            TraceStep::Ttl { .. } => "ttl",
            TraceStep::Entitlement { .. } => "entitlement",
            TraceStep::RequireFor { .. } => "require_for",
            TraceStep::Evidence { .. } => "evidence",
            TraceStep::Path { .. } => "path",
            TraceStep::Decided { .. } => "decided",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "request",
            "fits",
            "depth",
            "allow",
            "allow",
            "entitlement",
            "require_for",
            "evidence",
            "evidence",
            "path",
            "decided"
        ]
    );
    let rejected: Vec<String> = trace
        .steps
        .iter()
        .filter_map(|s| match s {
            TraceStep::Evidence { rejected, .. } => Some(rejected),
            _ => None,
        })
        .flatten()
        .map(|r| format!("{}: {}", r.item, r.reason))
        .collect();
    assert_eq!(
        rejected,
        [
            "0: the giver is in the chain (no self-approval)",
            "2: the giver already counted",
            "3: the giver is a service, not a human",
            "4: the giver lacks role security_reviewer",
            "5: it has no giver (`by`)",
        ]
    );
    insta::assert_snapshot!("trace_pending_prod_deploy", trace.to_string());
    insta::assert_json_snapshot!("trace_pending_prod_deploy_json", trace);
}

#[test]
fn trace_snapshots() {
    let p = eng();
    let (_, t) = explain(
        &p,
        call(
            "release",
            "secrets.read",
            json!({"name": "prod/db"}),
            json!([alice(), agent()]),
            json!([]),
        ),
    );
    insta::assert_snapshot!("trace_deny_guardrail", t.to_string());
    let (_, t) = explain(
        &p,
        call(
            "dependency_bot",
            "http.get",
            json!({"host": "crates.io"}),
            json!([erin(), {"id": "svc-web", "kind": "service", "roles": ["platform_service"], "attrs": {"team": "web"}}, agent()]),
            json!([]),
        ),
    );
    insta::assert_snapshot!("trace_not_entitled", t.to_string());
    let mut r =
        start("incident", json!([{"id": "sam", "kind": "human", "roles": ["senior_engineer"]}]));
    r["context"] = json!({"business_hours": false});
    r["evidence"] = json!([approval("bob", &["security_reviewer"])]);
    r["ttl"] = json!("1h");
    let (d, t) = explain(&p, r);
    assert_eq!(d.ttl_seconds, Some(3600));
    insta::assert_snapshot!("trace_start", t.to_string());
    let mut bound = call(
        "w",
        "op.d",
        json!({"x": "q"}),
        json!([{"id": "dev1", "kind": "human", "roles": ["dev"]}, agent()]),
        json!([{"kind": "signoff", "by": {"id": "olly", "kind": "human", "roles": ["ops"]}, "subject": "sha256:b"}]),
    );
    bound["subject"] = json!("sha256:a");
    let (_, t) = explain(&edges(), bound);
    insta::assert_snapshot!("trace_bound_wrong_subject", t.to_string());
}

#[test]
fn trace_of_a_malformed_fit() {
    let (_, t) = explain(
        &eng(),
        call("release", "deploy", json!({"env": "qa"}), json!([agent()]), json!([])),
    );
    let text = t.to_string();
    assert!(text.contains("fits the policy: no"), "{text}");
    assert!(
        text.contains(r#"- argument `env` of deploy must be one of "staging", "prod"; found "qa""#),
        "{text}"
    );
    assert!(text.contains("=> deny"), "{text}");
}

#[test]
fn trace_json_round_trips_as_value() {
    let (_, t) = explain(&eng(), start("dependency_bot", json!([erin()])));
    let v: J = serde_json::from_str(&t.to_json()).unwrap();
    assert_eq!(v["steps"][0]["step"], "request");
    assert_eq!(v["steps"].as_array().unwrap().last().unwrap()["decision"], "allow");
}

// =============================================================================================
// Small policies for specific points

#[test]
fn a_tool_without_arguments_renders_bare() {
    let mut ir = Ir::new("p.writ");
    ir.role("r", &[]).tool("ping", &[], &[]).workflow("w", 1, 60);
    ir.allow(
        (1, 1),
        "allow ping when false",
        "w",
        "ping",
        Some(cmp(CmpOp::Eq, i(1), i(2))),
        vec![],
    );
    let d = decide(
        &ir.policy(),
        call("w", "ping", json!({}), json!([{"id": "h", "kind": "human"}]), json!([])),
    );
    assert_eq!(d.reasons, ["no rule in w allows ping"]);
    let _ = (arg("x"), s("y"), PrincipalKind::Human);
}
