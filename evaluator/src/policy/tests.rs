use super::*;
use crate::cond::CCond;
use crate::ir::*;
use crate::testing::{self, Ir, arg, eq, i, s};

fn err(ir: PolicyIr) -> PolicyError {
    match Policy::from_ir(ir) {
        Err(e) => e,
        Ok(_) => panic!("expected an error"),
    }
}

fn principal(roles: &[&str]) -> Principal<'static> {
    Principal {
        id: "p".into(),
        kind: PrincipalKind::Human,
        roles: roles.iter().map(|r| (*r).to_owned().into()).collect(),
        attrs: vec![],
    }
}

fn ids<'a>(p: &'a Policy, rules: impl Iterator<Item = &'a Rule>) -> Vec<&'a str> {
    let _ = p;
    rules.map(|r| &*r.id).collect()
}

#[test]
fn role_closure_follows_extends() {
    let p = testing::engineering().policy();
    let rm = p.role_id("release_manager").unwrap();
    let se = p.role_id("senior_engineer").unwrap();
    let en = p.role_id("engineer").unwrap();
    let sr = p.role_id("security_reviewer").unwrap();
    let set = p.role_set(&principal(&["release_manager"]));
    assert!(set.contains(rm) && set.contains(se) && set.contains(en));
    assert!(!set.contains(sr));
    let set = p.role_set(&principal(&["engineer", "nonsense"]));
    assert!(set.contains(en) && !set.contains(se));
    assert!(p.holds(&principal(&["release_manager"]), en));
    assert!(!p.holds(&principal(&["engineer"]), rm));
    assert!(!p.holds(&principal(&[]), en));
}

#[test]
fn many_roles_use_large_sets() {
    let mut ir = Ir::new("big.writ");
    ir.role("r0", &[]);
    for n in 1..300 {
        ir.role(&format!("r{n}"), &[&format!("r{}", n - 1)]);
    }
    let p = ir.policy();
    let top = principal(&["r299"]);
    assert!(p.holds(&top, RoleId(0)) && p.holds(&top, RoleId(150)) && p.holds(&top, RoleId(299)));
    let set = p.role_set(&principal(&["r200"]));
    assert!(matches!(set, HeldRoles::Few(_)), "{set:?}");
    assert!(
        set.contains(RoleId(0))
            && set.contains(RoleId(200))
            && !set.contains(RoleId(201))
            && !set.contains(RoleId(9999))
    );
    // Naming more roles than a few: their union, as a large bitset.
    let set = p.role_set(&principal(&["r10", "r20", "nonsense", "r5", "r250"]));
    assert!(matches!(set, HeldRoles::Union(RoleSet::Large(_))), "{set:?}");
    assert!(set.contains(RoleId(250)) && set.contains(RoleId(0)) && !set.contains(RoleId(251)));
    // A few, one of them undeclared.
    let set = p.role_set(&principal(&["nonsense", "r7"]));
    assert!(set.contains(RoleId(7)) && !set.contains(RoleId(8)));
}

#[test]
fn names_are_interned() {
    let p = testing::engineering().policy();
    assert_eq!(p.tool_id("deploy"), Some(ToolId(3)));
    assert_eq!(p.tool_id("nope"), None);
    assert_eq!(p.workflow_id("incident"), Some(WorkflowId(2)));
    assert_eq!(p.evidence_id("approval"), Some(EvidenceId(2)));
    assert_eq!(p.role_id("platform_service"), Some(RoleId(4)));
}

#[test]
fn dispatch_indexes_rules_by_workflow_and_tool() {
    let p = testing::engineering().policy();
    let w = |n| p.workflow_id(n).unwrap();
    let t = |n| p.tool_id(n).unwrap();

    let d = p.dispatch(w("dependency_bot"), t("repo.push")).unwrap();
    assert_eq!(
        ids(&p, d.allows.iter().map(|&a| &p.allows[a as usize].rule)),
        ["dependency_bot/allow/2"]
    );
    assert_eq!(
        ids(&p, d.denies.iter().map(|&a| &p.denies[a as usize].rule)),
        ["dependency_bot/deny/1", "dependency_bot/deny/2"]
    );
    assert_eq!(ids(&p, d.requires.iter().map(|&a| &p.requires[a as usize].rule)), ["require/1"]);

    let d = p.dispatch(w("release"), t("secrets.read")).unwrap();
    assert_eq!(ids(&p, d.denies.iter().map(|&a| &p.denies[a as usize].rule)), ["deny/1"]);
    assert!(d.requires.is_empty());

    // Workflow rules and guardrails, in source order (line 80 before line 86).
    let d = p.dispatch(w("incident"), t("deploy")).unwrap();
    assert_eq!(
        ids(&p, d.requires.iter().map(|&a| &p.requires[a as usize].rule)),
        ["incident/require/1", "require/1"]
    );
    // Another workflow's rules never apply.
    let d = p.dispatch(w("release"), t("deploy")).unwrap();
    assert_eq!(ids(&p, d.requires.iter().map(|&a| &p.requires[a as usize].rule)), ["require/1"]);
    assert_eq!(
        ids(&p, d.allows.iter().map(|&a| &p.allows[a as usize].rule)),
        ["release/allow/1", "release/allow/2"]
    );
    let d = p.dispatch(w("dependency_bot"), t("deploy")).unwrap();
    assert!(d.allows.is_empty() && d.denies.is_empty());
    assert!(p.dispatch(WorkflowId(99), ToolId(0)).is_none());
    assert!(p.dispatch(WorkflowId(0), ToolId(99)).is_none());
    // Sparse: only the (workflow, tool) pairs a workflow's own rule names are stored.
    let stored: usize = p.dispatch.iter().map(|w| w.len()).sum();
    assert!(stored < p.workflows.len() * p.ir.tools.len(), "{stored}");
}

#[test]
fn entitlements_are_indexed_by_tool() {
    let p = testing::engineering().policy();
    let deploy = p.tool_id("deploy").unwrap().index();
    let got: Vec<&str> =
        p.mays_by_tool[deploy].iter().map(|&(_, m)| &*p.mays[m as usize].rule.id).collect();
    assert_eq!(got, ["engineer/may/4", "senior_engineer/may/1"]);
}

#[test]
fn deny_starts_include_guardrails() {
    let p = testing::engineering().policy();
    for wf in p.workflows.iter() {
        let got: Vec<&str> =
            wf.deny_starts.iter().map(|&d| &*p.deny_starts[d as usize].rule.id).collect();
        assert_eq!(got, ["deny_start/1"]);
    }
}

#[test]
fn identical_requirements_of_one_rule_are_merged() {
    let mut ir = testing::engineering();
    let need = vec![
        ir.need("approval by security_reviewer"),
        ir.need("tests_passed"),
        ir.need("3 approval by security_reviewer"),
        ir.need("approval"),
    ];
    ir.allow((90, 3), "allow ci.run require ...", "release", "ci.run", None, need);
    let p = ir.policy();
    let allow = p.allows.iter().find(|a| &*a.rule.id == "release/allow/4").unwrap();
    let counts: Vec<(u32, Option<RoleId>)> =
        allow.require.iter().map(|r| (r.count, r.by)).collect();
    assert_eq!(counts, [(3, Some(RoleId(3))), (1, None), (1, None)]);
}

// --- corrupt IR

#[test]
fn extends_out_of_range() {
    let mut ir = testing::edges().ir;
    ir.roles[1].extends = vec![RoleId(17)];
    let e = err(ir);
    assert_eq!(e.path, "roles[1].extends");
    assert!(e.message.contains("out of range"), "{e}");
    assert_eq!(e.kind, PolicyErrorKind::OutOfRange);
}

#[test]
fn extends_cycle() {
    let mut ir = testing::edges().ir;
    ir.roles[0].extends = vec![RoleId(1)]; // dev extends ops extends dev
    let e = err(ir);
    assert!(e.message.contains("cycle"), "{e}");
    assert_eq!(e.kind, PolicyErrorKind::Cycle);
    let mut ir = testing::edges().ir;
    ir.roles[2].extends = vec![RoleId(2)];
    assert!(err(ir).message.contains("cycle"));
}

#[test]
fn names_declared_twice() {
    let mut ir = testing::edges().ir;
    ir.tools[1].name = "op.a".into();
    let e = err(ir);
    assert_eq!(e.path, "tools[1]");
    assert_eq!(e.message, "tool `op.a` is declared twice");
    assert_eq!(e.kind, PolicyErrorKind::Duplicate);
    let mut ir = testing::edges().ir;
    ir.tools[1].params[1].name = "x".into();
    assert_eq!(err(ir).path, "tools[1].params[1]");
}

#[test]
fn target_out_of_range_or_empty() {
    let mut ir = testing::edges().ir;
    ir.workflows[0].allows[0].target.tools = vec![ToolId(0), ToolId(99)];
    let e = err(ir);
    assert_eq!(e.path, "workflows[0].allows[0].target");
    let mut ir = testing::edges().ir;
    ir.roles[0].entitlements[0].target.tools = vec![];
    assert_eq!(err(ir).path, "roles[0].entitlements[0].target");
}

#[test]
fn unsorted_targets_are_accepted() {
    let mut ir = testing::edges().ir;
    ir.roles[1].entitlements[0].target.tools = [5, 1, 1, 0, 4, 3, 2].map(ToolId).to_vec();
    assert!(Policy::from_ir(ir).is_ok());
}

#[test]
fn argument_missing_on_a_targeted_tool() {
    let mut ir = testing::edges();
    // op.c has no `x`.
    let target = ir.target("[beta]");
    ir.ir.workflows[0].rules.denies[0].target = target;
    ir.ir.workflows[0].rules.denies[0].condition = Some(eq(arg("x"), s("q")));
    let e = err(ir.ir);
    assert_eq!(e.path, "workflows[0].rules.denies[0].condition");
    assert_eq!(e.message, "tool `op.c` has no argument `x`");
}

#[test]
fn argument_types_differ_across_tools() {
    let mut ir = testing::edges();
    ir.tool("z.a", &[("v", ValueType::Int)], &[]).tool("z.b", &[("v", ValueType::String)], &[]);
    ir.allow((1, 1), "", "w", "z.*", Some(eq(arg("v"), i(1))), vec![]);
    assert!(err(ir.ir).message.contains("different types"));
}

#[test]
fn ill_typed_conditions() {
    let bad = [
        Cond::Compare(CmpOp::Eq, arg("x"), i(1)),
        Cond::Compare(CmpOp::Lt, arg("x"), s("a")),
        Cond::Truth(arg("x")),
        Cond::In(arg("n"), testing::list(&["a"])),
        Cond::Contains(arg("x"), s("a")),
        Cond::Matches(arg("n"), "*".into()),
        Cond::AnyMatches(arg("x"), "*".into()),
        Cond::Compare(CmpOp::Eq, Operand::Kind(Who::Caller), s("agent")),
    ];
    for cond in bad {
        let mut ir = testing::edges().ir;
        ir.workflows[0].allows[1].condition = Some(cond.clone());
        let e = err(ir);
        assert_eq!(e.path, "workflows[0].allows[1].condition", "{cond:?}");
    }
}

#[test]
fn principal_only_inside_may() {
    let mut ir = testing::edges().ir;
    ir.workflows[0].allows[0].condition = Some(eq(Operand::Id(Who::Principal), s("alice")));
    assert!(err(ir).message.contains("`principal` outside an entitlement"));
    let mut ir = testing::edges().ir;
    ir.guardrails.deny_starts.push(DenyStartRuleIr {
        meta: ir.workflows[0].allows[0].meta.clone(),
        condition: Some(Cond::HasRole(Who::Principal, RoleId(0))),
        because: None,
    });
    assert!(err(ir).message.contains("`principal`"));
}

#[test]
fn arguments_in_start_rules() {
    let mut ir = testing::edges().ir;
    ir.workflows[0].starts[0].condition = Some(eq(arg("x"), s("a")));
    let e = err(ir);
    assert_eq!(e.path, "workflows[0].starts[0].condition");
    assert!(e.message.contains("start rule"), "{e}");
}

#[test]
fn ids_out_of_range_in_conditions() {
    let conds = [
        Cond::HasRole(Who::Initiator, RoleId(9)),
        Cond::Compare(CmpOp::Eq, Operand::Context(ContextId(9)), i(1)),
        Cond::Compare(CmpOp::Eq, Operand::Attribute(Who::Caller, AttributeId(9)), i(1)),
    ];
    for cond in conds {
        let mut ir = testing::edges().ir;
        ir.workflows[0].allows[0].condition = Some(cond);
        assert!(err(ir).message.contains("out of range"));
    }
}

#[test]
fn deeply_nested_conditions_are_rejected_not_overflowed() {
    let mut cond = Cond::Truth(testing::b(true));
    for _ in 0..10_000 {
        cond = Cond::Not(Box::new(cond));
    }
    let mut ir = testing::edges().ir;
    ir.workflows[0].allows[0].condition = Some(cond);
    assert!(err(ir).message.contains("nested too deeply"));
}

#[test]
fn long_binary_chains_are_flattened() {
    // `c0 or c1 or ... or c999`, lowered as nested binary `Or`s.
    let mut cond = eq(arg("x"), s("c0"));
    for n in 1..1000 {
        cond = Cond::Or(vec![cond, eq(arg("x"), s(&format!("c{n}")))]);
    }
    let mut ir = testing::edges().ir;
    ir.workflows[0].allows[0].condition = Some(cond);
    let p = Policy::from_ir(ir).unwrap();
    match &p.allows[0].condition {
        Some(CCond::Or(items)) => assert_eq!(items.len(), 1000),
        other => panic!("{other:?}"),
    }
}

#[test]
fn corrupt_requirements() {
    let mutate: [fn(&mut EvidenceRequirementIr); 5] = [
        |r| r.evidence = EvidenceId(42),
        |r| r.count = 0,
        |r| r.by = Some(RoleId(42)),
        |r| r.fields = vec![("nope".into(), Value::Str("x".into()))],
        |r| {
            r.evidence = EvidenceId(0); // `check` is not `by human`
            r.by = Some(RoleId(0));
        },
    ];
    for m in mutate {
        let mut ir = testing::edges().ir;
        m(&mut ir.workflows[0].allows[1].require[0]);
        let e = err(ir);
        assert_eq!(e.path, "workflows[0].allows[1].require[0]", "{e}");
    }
    let mut ir = testing::engineering().ir;
    ir.workflows[1].starts[0].require[0].fields = vec![("project".into(), Value::Int(1))];
    assert!(err(ir).message.contains("field `project`"));
}

#[test]
fn start_roles_out_of_range_and_negative_ttl() {
    let mut ir = testing::edges().ir;
    ir.workflows[0].starts[0].by = vec![RoleId(3)];
    assert_eq!(err(ir).path, "workflows[0].starts[0].by");
    let mut ir = testing::edges().ir;
    ir.workflows[0].ttl_seconds = -1;
    assert_eq!(err(ir).path, "workflows[0].ttl_seconds");
}

#[test]
fn error_display() {
    let e = PolicyError {
        kind: PolicyErrorKind::OutOfRange,
        path: "roles[1].extends".into(),
        message: "role 17 out of range".into(),
    };
    assert_eq!(e.to_string(), "invalid policy IR at `roles[1].extends`: role 17 out of range");
}

#[test]
fn policy_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Policy>();
    check::<crate::Decision>();
    check::<crate::Request>();
}

/// A name map finds every name it was given, and no other, both while it compares names in
/// turn and once it hashes them; a name given twice reports the id it had.
#[test]
fn name_maps_find_names_before_and_after_they_are_hashed() {
    let mut map: NameMap<u32> = NameMap::default();
    for n in 0..40u32 {
        let name = format!("name{n}");
        assert_eq!(map.insert(name.clone().into(), n), None);
        assert_eq!(map.insert(name.into(), n + 100), Some(n), "after {n} names");
        for m in 0..=n {
            assert_eq!(map.get(&format!("name{m}")), Some(&(m + 100)), "{m} of {n}");
        }
        assert_eq!(map.get(&format!("name{}", n + 1)), None);
        assert_eq!(map.get("name"), None);
        assert_eq!(map.get(""), None);
    }
}
