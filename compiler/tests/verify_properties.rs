//! `writ verify` against brute force: random small policies and claims over small finite
//! domains, every request of the domain decided by the evaluator. The procedure and the
//! enumeration must agree on holds/fails, the procedure must never answer unknown here (nothing
//! in these policies is outside its decidable fragment), and every counterexample must check out.
//!
//! The domain is complete for what the generator writes: roles `a` and `c` (`c` may extend
//! `a`), `caller` only through its kind, `may` conditions without `principal`, integers compared
//! with 1, evidence counts up to 2 with `given` compared with 1 or 2, so any request that breaks
//! a claim has a twin inside it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use proptest::prelude::*;
use serde_json::{Value as Json, json};
use writ_compiler::Compiler;
use writ_compiler::verify::{Verdict, verify};
use writ_evaluator::{Outcome, Policy, Request, Tri};

/// Atoms of conditions over the call, and of `may` conditions (`principal`).
fn atom(in_may: bool) -> impl Strategy<Value = String> {
    let atoms = vec![
        r#"e == "x""#.to_string(),
        r#"e != "y""#.to_string(),
        r#"e in ["x", "y"]"#.to_string(),
        "f".to_string(),
        "n < 1".to_string(),
        "n == 1".to_string(),
        "n >= 1".to_string(),
        "depth == 1".to_string(),
        "caller.kind == agent".to_string(),
        "initiator has role a".to_string(),
        "initiator has role c".to_string(),
        "initiator.kind == human".to_string(),
    ];
    // `principal` is left out of `may`: a human caller holding every role then stands for every
    // caller that passes delegation, which keeps the domain small and complete.
    let _ = in_may;
    proptest::sample::select(atoms)
}

fn cond(in_may: bool) -> impl Strategy<Value = String> {
    let leaf = atom(in_may).boxed();
    leaf.prop_recursive(2, 6, 2, move |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} and {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

fn when(in_may: bool) -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), cond(in_may).prop_map(|c| format!(" when {c}"))]
}

fn require() -> impl Strategy<Value = String> {
    proptest::sample::select(vec![
        "",
        " require ok",
        " require ok by a",
        " require 2 ok by a",
        " require ok by c",
        " require tp",
        " require 2 tp",
        " require ok by a, ok by c",
    ])
    .prop_map(str::to_string)
}

fn claim_cond() -> impl Strategy<Value = String> {
    let given = proptest::sample::select(vec![
        "given(ok by a) < 1",
        "given(ok by a) < 2",
        "given(ok by c) == 1",
        "given(ok) >= 2",
        "given(tp) < 1",
        "given(tp) == 2",
    ])
    .prop_map(str::to_string);
    prop_oneof![
        cond(false),
        given.clone(),
        (cond(false), given).prop_map(|(c, g)| format!("{c} and {g}")),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    text: String,
}

fn policy() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        0u32..2,
        proptest::collection::vec((when(false), require()), 1..3),
        proptest::collection::vec(when(false), 0..2),
        proptest::collection::vec((when(false), require()), 0..2),
        (when(true), when(true)),
        proptest::collection::vec(claim_cond(), 1..4),
    )
        .prop_map(
            |(c_extends_a, max_depth, allows, denies, requires, (may_a, may_c), claims)| {
                let mut t = String::new();
                t.push_str(&format!("role a {{\n  may t{may_a}\n}}\n"));
                let ext = if c_extends_a { " extends a" } else { "" };
                t.push_str(&format!("role c{ext} {{\n  may t{may_c}\n}}\n"));
                t.push_str("tool t(e: \"x\" | \"y\", f: bool, n: int)\n");
                t.push_str("evidence ok by human\nevidence tp\n");
                t.push_str(&format!("workflow w {{\n  start by a\n  max_depth {max_depth}\n"));
                for (w, r) in &allows {
                    t.push_str(&format!("  allow t{w}{r}\n"));
                }
                t.push_str("}\n");
                for w in &denies {
                    t.push_str(&format!("deny t{w}\n"));
                }
                for (w, r) in &requires {
                    if !r.is_empty() {
                        t.push_str(&format!("{} for t{w}\n", r.trim()));
                    }
                }
                t.push_str("assert \"p\" {\n");
                for c in &claims {
                    t.push_str(&format!("  never allow t when {c}\n"));
                }
                t.push_str("}\n");
                Case { text: t }
            },
        )
}

/// Every request of the domain.
fn requests() -> Vec<Json> {
    let role_sets: Vec<Vec<&str>> = vec![vec![], vec!["a"], vec!["c"], vec!["a", "c"]];
    let mut chains: Vec<Json> = Vec::new();
    for kind in ["human", "service", "agent"] {
        for roles in &role_sets {
            let initiator = json!({"id": "i", "kind": kind, "roles": roles});
            chains.push(json!([initiator.clone()]));
            chains.push(json!([initiator.clone(), {"id": "bot", "kind": "agent"}]));
            chains.push(json!([initiator, {"id": "h", "kind": "human", "roles": ["a", "c"]}]));
        }
    }
    let mut args: Vec<Json> = Vec::new();
    for e in [json!("x"), json!("y"), Json::Null] {
        for f in [json!(true), json!(false), Json::Null] {
            for n in [json!(0), json!(1), json!(2), Json::Null] {
                args.push(json!({"e": e, "f": f, "n": n}));
            }
        }
    }
    // Givers: multisets of up to 3 of {}, {a}, {c}, {a, c}; items: up to 2.
    let giver_roles: [&[&str]; 4] = [&[], &["a"], &["c"], &["a", "c"]];
    let mut giver_sets: Vec<Vec<usize>> = vec![vec![]];
    for x in 0..4 {
        giver_sets.push(vec![x]);
        for y in x..4 {
            giver_sets.push(vec![x, y]);
            for z in y..4 {
                giver_sets.push(vec![x, y, z]);
            }
        }
    }
    let mut evidence: Vec<Json> = Vec::new();
    for set in &giver_sets {
        for items in 0..3 {
            let mut ev: Vec<Json> = set
                .iter()
                .enumerate()
                .map(|(n, r)| {
                    json!({"kind": "ok", "by": {"id": format!("g{n}"), "kind": "human", "roles": giver_roles[*r]}})
                })
                .collect();
            for _ in 0..items {
                ev.push(json!({"kind": "tp"}));
            }
            evidence.push(Json::Array(ev));
        }
    }
    let mut out = Vec::new();
    for chain in &chains {
        for a in &args {
            for ev in &evidence {
                out.push(json!({"action": "call", "workflow": "w", "tool": "t", "args": a, "chain": chain, "evidence": ev}));
            }
        }
    }
    out
}

fn check(case: &Case, requests: &[Request]) -> Result<(), TestCaseError> {
    let compiler = Compiler::new(vec![("p.writ".into(), case.text.clone())]);
    let compilation = compiler.compilation();
    let Some(ir) = compilation.policy.clone() else {
        // The generator writes well-typed policies only.
        return Err(TestCaseError::fail(format!(
            "does not compile: {:?}\n{}",
            compilation.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>(),
            case.text
        )));
    };
    let policy = Policy::from_ir(ir).expect("loads");
    let results = verify(&policy, &compilation.assertions);
    let claims: Vec<_> = compilation.assertions.iter().flat_map(|a| a.claims.iter()).collect();
    for (result, claim) in results.iter().zip(claims) {
        let broken = requests.iter().find(|r| {
            policy.decide(r).decision == Outcome::Allow
                && claim.condition.as_ref().is_none_or(|c| {
                    writ_evaluator::reference::claim_condition(policy.ir(), r, c) == Tri::True
                })
        });
        match (&result.verdict, broken) {
            (Verdict::Holds, None) => {}
            (Verdict::Fails { counterexample, .. }, Some(_)) => {
                let text = counterexample.to_string();
                let req = Request::from_json(&text).expect("a request");
                prop_assert_eq!(policy.decide(&req).decision, Outcome::Allow);
            }
            (verdict, broken) => {
                return Err(TestCaseError::fail(format!(
                    "claim `{}`: verify says {verdict:?}, brute force found {:?}\n{}",
                    claim.text,
                    broken.map(Request::to_json),
                    case.text
                )));
            }
        }
    }
    Ok(())
}

proptest! {
    // 400 policies (about 800 claims) by default; `PROPTEST_CASES` runs more.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(400),
        ..ProptestConfig::default()
    })]

    #[test]
    fn verify_agrees_with_brute_force(case in policy()) {
        thread_local! {
            static REQUESTS: Vec<Request<'static>> = requests()
                .iter()
                .map(|j| Request::from_json(&j.to_string()).expect("a request").into_owned())
                .collect();
        }
        REQUESTS.with(|requests| check(&case, requests))?;
    }
}
