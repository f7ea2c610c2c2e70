//! `writ diff`, exactly: requests that a policy change lets further. A *widening* is a request
//! that NEW allows (or leaves pending) and OLD denies, or that NEW allows and OLD leaves pending
//! (on more evidence). For every workflow, and every tool and allow rule (every start rule) of
//! NEW, two searches over one goal that reads both policies (variables are shared by name):
//!
//! 1. NEW's conditions pass on that rule while OLD's do not (depth, denies, allows or starts,
//!    delegation, `ttl`): the witness carries NEW's evidence;
//! 2. both pass, and the evidence meets NEW's requirements while leaving one requirement of
//!    every OLD path unmet.
//!
//! Every witness is decided by both policies before it is reported. Workflow × tool pairs whose
//! rules read the same in both policies (by name, conditions printed) are skipped, so a one-rule
//! change costs the rules it touches.

use serde::Serialize;
use serde_json::Value as Json;
use writ_evaluator::ir::{CmpOp, EvidenceRequirementIr, PolicyIr, ToolId, WorkflowIr};
use writ_evaluator::ir::{EvidenceId, RoleId};
use writ_evaluator::{Outcome as Decided, Policy, Request, Tri};

use super::evidence::Bound;
use super::lower::Lowering;
use super::search::{
    Absence, Assignment, Expr, Goal, Leaf, Outcome, Term, Ty, Val, Var, final_value,
};
use super::witness::{self, Action, Case};

/// One request the change lets further.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Widening {
    pub workflow: String,
    /// `None` for a start.
    pub tool: Option<String>,
    /// The roles the witness's initiator is given.
    pub roles: Vec<String>,
    /// The NEW rule the witness passes.
    pub rule: String,
    /// `deny` or `pending` under OLD; `allow` or `pending` under NEW.
    pub old: String,
    pub new: String,
    pub request: Json,
}

/// Where the search stopped short (a pair it could not settle).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unsettled {
    pub workflow: String,
    pub tool: Option<String>,
    pub reason: String,
}

/// Every widening found (at most one per workflow and tool, or start), and what could not be
/// settled.
pub fn widenings(old: &Policy, new: &Policy) -> (Vec<Widening>, Vec<Unsettled>) {
    let (o, n) = (old.ir(), new.ir());
    let mut found = Vec::new();
    let mut unsettled = Vec::new();
    let global_same = o.roles.iter().map(|r| (&r.name, names(o, &r.extends))).collect::<Vec<_>>()
        == n.roles.iter().map(|r| (&r.name, names(n, &r.extends))).collect::<Vec<_>>()
        && o.evidence == n.evidence
        && o.attributes == n.attributes
        && o.contexts == n.contexts;
    for nw in &n.workflows {
        let ow = o.workflows.iter().find(|w| w.name == nw.name);
        // Starts.
        let same_starts = global_same
            && ow.is_some_and(|ow| {
                start_print(o, ow) == start_print(n, nw)
                    && ow.max_depth == nw.max_depth
                    && ow.ttl_seconds == nw.ttl_seconds
            });
        if !same_starts {
            for (s, _) in nw.starts.iter().enumerate() {
                match start_widening(old, new, nw, ow, s) {
                    Outcome::Found(w) => {
                        found.push(w);
                        break;
                    }
                    Outcome::Unknown(reason) => {
                        unsettled.push(Unsettled { workflow: nw.name.clone(), tool: None, reason })
                    }
                    Outcome::None => {}
                }
            }
        }
        // Calls.
        let mut tools: Vec<ToolId> =
            nw.allows.iter().flat_map(|a| a.target.tools.clone()).collect();
        tools.sort();
        tools.dedup();
        for t in tools {
            let Some(tool) = n.tools.get(t.index()) else { continue };
            let ot = o.tools.iter().position(|x| x.name == tool.name).map(|i| ToolId(i as u32));
            let same = global_same
                && ow.is_some_and(|ow| {
                    ot.is_some_and(|ot| {
                        o.tools.get(ot.index()).map(|x| (&x.params, &x.tags))
                            == Some((&tool.params, &tool.tags))
                            && call_print(o, ow, ot) == call_print(n, nw, t)
                            && ow.max_depth == nw.max_depth
                    })
                });
            if same {
                continue;
            }
            for (a, allow) in nw.allows.iter().enumerate() {
                if allow.target.tools.binary_search(&t).is_err() {
                    continue;
                }
                match call_widening(old, new, nw, ow, t, ot, a) {
                    Outcome::Found(w) => {
                        found.push(w);
                        break;
                    }
                    Outcome::Unknown(reason) => unsettled.push(Unsettled {
                        workflow: nw.name.clone(),
                        tool: Some(tool.name.clone()),
                        reason,
                    }),
                    Outcome::None => {}
                }
            }
        }
    }
    (found, unsettled)
}

fn names(ir: &PolicyIr, roles: &[RoleId]) -> Vec<String> {
    roles.iter().filter_map(|r| ir.roles.get(r.index())).map(|r| r.name.clone()).collect()
}

fn cond_text(ir: &PolicyIr, c: &Option<writ_evaluator::ir::Cond>) -> String {
    c.as_ref().map(|c| crate::reach::print::condition(ir, c)).unwrap_or_default()
}

fn reqs_text(ir: &PolicyIr, rs: &[EvidenceRequirementIr]) -> Vec<String> {
    rs.iter().map(|r| crate::reach::print::requirement(ir, r)).collect()
}

/// Everything that decides a start of the workflow, printed by name.
fn start_print(ir: &PolicyIr, w: &WorkflowIr) -> Vec<String> {
    let mut out = Vec::new();
    for s in &w.starts {
        out.push(format!(
            "start {:?} {} {:?}",
            names(ir, &s.by),
            cond_text(ir, &s.condition),
            reqs_text(ir, &s.require)
        ));
    }
    for d in w.rules.deny_starts.iter().chain(&ir.guardrails.deny_starts) {
        out.push(format!("deny start {}", cond_text(ir, &d.condition)));
    }
    out
}

/// Everything that decides a call of the tool in the workflow, printed by name.
fn call_print(ir: &PolicyIr, w: &WorkflowIr, t: ToolId) -> Vec<String> {
    let on = |tools: &[ToolId]| tools.binary_search(&t).is_ok();
    let mut out = Vec::new();
    for a in w.allows.iter().filter(|a| on(&a.target.tools)) {
        out.push(format!("allow {} {:?}", cond_text(ir, &a.condition), reqs_text(ir, &a.require)));
    }
    for d in w.rules.denies.iter().chain(&ir.guardrails.denies).filter(|d| on(&d.target.tools)) {
        out.push(format!("deny {}", cond_text(ir, &d.condition)));
    }
    for r in w.rules.requires.iter().chain(&ir.guardrails.requires).filter(|r| on(&r.target.tools))
    {
        out.push(format!(
            "require {:?} {}",
            reqs_text(ir, &r.require),
            cond_text(ir, &r.condition)
        ));
    }
    for role in &ir.roles {
        for e in role.entitlements.iter().filter(|e| on(&e.target.tools)) {
            out.push(format!("may {} {}", role.name, cond_text(ir, &e.condition)));
        }
    }
    out
}

/// The conjuncts of an expression (nested `and`s flattened).
fn conjuncts(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::And(items) => {
            for i in items {
                conjuncts(i, out);
            }
        }
        other => out.push(other),
    }
}

/// What OLD's pass adds to NEW's: its conjuncts, less those NEW's pass already asserts (an
/// identical conjunct, or a disjunction with an identical member). `None`: nothing, so OLD
/// passes wherever NEW does.
fn residual(old_pass: Expr, new_pass: &Expr) -> Option<Expr> {
    let mut have = Vec::new();
    conjuncts(new_pass.clone(), &mut have);
    let mut parts = Vec::new();
    conjuncts(old_pass, &mut parts);
    let left: Vec<Expr> = parts
        .into_iter()
        .filter(|p| {
            !have.contains(p)
                && !matches!(p, Expr::Or(items) if items.iter().any(|i| have.contains(i)))
                && *p != Expr::Const(Tri::True)
        })
        .collect();
    (!left.is_empty()).then_some(Expr::And(left))
}

fn rank(d: Decided) -> u8 {
    match d {
        Decided::Deny => 0,
        Decided::Pending => 1,
        Decided::Allow => 2,
    }
}

/// The witness, when both policies decide it as a widening.
fn confirm(
    old: &Policy,
    new: &Policy,
    request: &Json,
    rule: &str,
    wf: &str,
    tool: Option<&str>,
) -> Option<Widening> {
    let text = request.to_string();
    let req = Request::from_json(&text).ok()?;
    let (a, b) = (old.decide(&req), new.decide(&req));
    if rank(b.decision) <= rank(a.decision) {
        return None;
    }
    let roles = request
        .get("chain")
        .and_then(|c| c.get(0))
        .and_then(|p| p.get("roles"))
        .and_then(Json::as_array)
        .map(|r| r.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    Some(Widening {
        workflow: wf.to_string(),
        tool: tool.map(str::to_string),
        roles,
        rule: rule.to_string(),
        old: a.decision.as_str().to_string(),
        new: b.decision.as_str().to_string(),
        request: request.clone(),
    })
}

fn depth_within(g: &mut Goal, max: u32) -> Expr {
    let d = g.var(Var::Depth, Ty::Depth(0));
    Expr::Cmp(CmpOp::Le, Term::Var(d), Term::Const(Val::Int(i64::from(max))))
}

/// OLD's paths for the call at the leaf: each applicable allow's needs plus OLD's applicable
/// `require ... for` needs, mapped into NEW's names.
struct OldPaths {
    allows: Vec<(Expr, Vec<EvidenceRequirementIr>)>,
    requires: Vec<(Expr, Vec<EvidenceRequirementIr>)>,
}

/// A requirement of `from` in `to`'s indexes (by name), if it can be said there.
fn map_requirement(
    from: &PolicyIr,
    to: &PolicyIr,
    r: &EvidenceRequirementIr,
) -> Option<EvidenceRequirementIr> {
    let kind = from.evidence.get(r.evidence.index())?;
    let evidence = EvidenceId(to.evidence.iter().position(|e| e.name == kind.name)? as u32);
    let by = match r.by {
        None => None,
        Some(b) => {
            let name = &from.roles.get(b.index())?.name;
            Some(RoleId(to.roles.iter().position(|x| x.name == *name)? as u32))
        }
    };
    Some(EvidenceRequirementIr { evidence, count: r.count, by, fields: r.fields.clone() })
}

/// Extra evidence bounds that leave one need of every applicable OLD path unmet (each choice).
fn violations(
    g: &Goal,
    values: &Assignment,
    old: &PolicyIr,
    new: &PolicyIr,
    paths: &OldPaths,
) -> Vec<Vec<(EvidenceRequirementIr, Bound)>> {
    let mut common: Vec<EvidenceRequirementIr> = Vec::new();
    for (when, needs) in &paths.requires {
        if final_value(g, values, when) != Tri::False {
            common.extend(needs.iter().cloned());
        }
    }
    let mut choices: Vec<Vec<(EvidenceRequirementIr, Bound)>> = vec![Vec::new()];
    for (when, needs) in &paths.allows {
        if final_value(g, values, when) != Tri::True {
            continue;
        }
        let all: Vec<EvidenceRequirementIr> = needs.iter().chain(&common).cloned().collect();
        let mut next = Vec::new();
        for base in &choices {
            for need in &all {
                let Some(mapped) = map_requirement(old, new, need) else { continue };
                let mut c = base.clone();
                c.push((mapped, Bound::AtMost(need.count.saturating_sub(1))));
                next.push(c);
            }
        }
        choices = next;
        choices.truncate(64);
    }
    choices
}

/// Whether the evidence a call of the tool can need is the same in both policies (each allow's
/// requirements, and each `require ... for`), so that a request both let through on conditions
/// needs the same evidence.
fn same_needs(
    o: &PolicyIr,
    ow: Option<&WorkflowIr>,
    ot: Option<ToolId>,
    n: &PolicyIr,
    nw: &WorkflowIr,
    t: ToolId,
) -> bool {
    let needs = |ir: &PolicyIr, w: &WorkflowIr, t: ToolId| {
        let on = |tools: &[ToolId]| tools.binary_search(&t).is_ok();
        let mut v: Vec<String> = w
            .allows
            .iter()
            .filter(|a| on(&a.target.tools))
            .map(|a| format!("{:?}", reqs_text(ir, &a.require)))
            .collect();
        v.sort();
        v.dedup();
        for r in
            w.rules.requires.iter().chain(&ir.guardrails.requires).filter(|r| on(&r.target.tools))
        {
            v.push(format!("{:?} {}", reqs_text(ir, &r.require), cond_text(ir, &r.condition)));
        }
        v
    };
    match (ow, ot) {
        (Some(ow), Some(ot)) => needs(o, ow, ot) == needs(n, nw, t),
        _ => true,
    }
}

#[allow(clippy::too_many_arguments)]
fn call_widening(
    old: &Policy,
    new: &Policy,
    nw: &WorkflowIr,
    ow: Option<&WorkflowIr>,
    t: ToolId,
    ot: Option<ToolId>,
    a: usize,
) -> Outcome<Widening> {
    let (o, n) = (old.ir(), new.ir());
    let (Some(tool), Some(allow)) = (n.tools.get(t.index()), nw.allows.get(a)) else {
        return Outcome::None;
    };
    let max = ow.map_or(nw.max_depth, |w| w.max_depth.max(nw.max_depth));
    first_widening(|both_pass| {
        let mut g = Goal::default();
        g.var(Var::Depth, Ty::Depth(max));
        let mut ln = Lowering::new(n, Some(&tool.params), max);
        let new_pass = {
            let c = ln.cond(&mut g, allow.condition.as_ref(), None);
            let nd = ln.no_deny(&mut g, nw, t);
            let acc = ln.accountable(&mut g);
            let del = ln.delegation(&mut g, t);
            Expr::And(vec![depth_within(&mut g, nw.max_depth), c, nd, acc, del])
        };
        let requires = ln.requires(&mut g, nw, t);
        let mut paths = OldPaths { allows: Vec::new(), requires: Vec::new() };
        let old_pass = match (ow, ot, ot.and_then(|x| o.tools.get(x.index()))) {
            (Some(ow), Some(ot), Some(otool)) => {
                let mut lo = Lowering::new(o, Some(&otool.params), max);
                let mut any = Vec::new();
                for oa in ow.allows.iter().filter(|x| x.target.tools.binary_search(&ot).is_ok()) {
                    let c = lo.cond(&mut g, oa.condition.as_ref(), None);
                    g.mark_for_leaf(&c);
                    paths.allows.push((c.clone(), oa.require.clone()));
                    any.push(c);
                }
                paths.requires = lo.requires(&mut g, ow, ot);
                let nd = lo.no_deny(&mut g, ow, ot);
                let acc = lo.accountable(&mut g);
                let del = lo.delegation(&mut g, ot);
                Expr::And(vec![depth_within(&mut g, ow.max_depth), Expr::Or(any), nd, acc, del])
            }
            _ => Expr::Const(Tri::False),
        };
        let expr = pass_goal(both_pass, new_pass, old_pass, || same_needs(o, ow, ot, n, nw, t))?;
        let case = Case {
            ir: n,
            workflow: &nw.name,
            action: Action::Call { tool: &tool.name },
            needs: allow.require.clone(),
            requires,
            given: Vec::new(),
            extra: Vec::new(),
        };
        Some(search(&g, &expr, case, both_pass.then_some(&paths), (o, n), |json| {
            confirm(old, new, json, &allow.meta.id, &nw.name, Some(&tool.name))
        }))
    })
}

fn start_widening(
    old: &Policy,
    new: &Policy,
    nw: &WorkflowIr,
    ow: Option<&WorkflowIr>,
    s: usize,
) -> Outcome<Widening> {
    let (o, n) = (old.ir(), new.ir());
    let Some(start) = nw.starts.get(s) else { return Outcome::None };
    let max = ow.map_or(nw.max_depth, |w| w.max_depth.max(nw.max_depth));
    first_widening(|both_pass| {
        let mut g = Goal::default();
        g.var(Var::Depth, Ty::Depth(max));
        let ttl = g.var(Var::Ttl, Ty::Duration);
        g.add_int(ttl, nw.ttl_seconds);
        if let Some(ow) = ow {
            g.add_int(ttl, ow.ttl_seconds);
        }
        let ttl_within = |secs: i64| {
            Expr::Or(vec![
                Expr::NotTrue(Box::new(Expr::Cmp(
                    CmpOp::Ge,
                    Term::Var(ttl),
                    Term::Const(Val::Int(0)),
                ))),
                Expr::Cmp(CmpOp::Le, Term::Var(ttl), Term::Const(Val::Int(secs))),
            ])
        };
        let mut ln = Lowering::new(n, None, max);
        let new_pass = {
            let c = ln.cond(&mut g, start.condition.as_ref(), None);
            let roles = ln.start_roles(&mut g, &start.by);
            let nd = ln.no_deny_start(&mut g, nw);
            let acc = ln.accountable(&mut g);
            Expr::And(vec![
                depth_within(&mut g, nw.max_depth),
                ttl_within(nw.ttl_seconds),
                c,
                roles,
                nd,
                acc,
            ])
        };
        let mut paths = OldPaths { allows: Vec::new(), requires: Vec::new() };
        let old_pass = match ow {
            Some(ow) => {
                let mut lo = Lowering::new(o, None, max);
                let mut any = Vec::new();
                for os in &ow.starts {
                    let c = lo.cond(&mut g, os.condition.as_ref(), None);
                    let roles = lo.start_roles(&mut g, &os.by);
                    let both = Expr::And(vec![c, roles]);
                    g.mark_for_leaf(&both);
                    paths.allows.push((both.clone(), os.require.clone()));
                    any.push(both);
                }
                let nd = lo.no_deny_start(&mut g, ow);
                let acc = lo.accountable(&mut g);
                Expr::And(vec![
                    depth_within(&mut g, ow.max_depth),
                    ttl_within(ow.ttl_seconds),
                    Expr::Or(any),
                    nd,
                    acc,
                ])
            }
            None => Expr::Const(Tri::False),
        };
        let needs = |ir: &PolicyIr, w: &WorkflowIr| {
            let mut v: Vec<Vec<String>> =
                w.starts.iter().map(|s| reqs_text(ir, &s.require)).collect();
            v.sort();
            v
        };
        let expr = pass_goal(both_pass, new_pass, old_pass, || {
            ow.is_some_and(|ow| needs(o, ow) == needs(n, nw))
        })?;
        let case = Case {
            ir: n,
            workflow: &nw.name,
            action: Action::Start,
            needs: start.require.clone(),
            requires: Vec::new(),
            given: Vec::new(),
            extra: Vec::new(),
        };
        Some(search(&g, &expr, case, both_pass.then_some(&paths), (o, n), |json| {
            confirm(old, new, json, &start.meta.id, &nw.name, None)
        }))
    })
}

/// The two searches of one rule (see the module's doc), the first witness either finds, else
/// the last unknown: `pass(both_pass)` runs one search, or answers `None` when it has nothing to
/// search for.
fn first_widening(mut pass: impl FnMut(bool) -> Option<Outcome<Widening>>) -> Outcome<Widening> {
    let mut result = Outcome::None;
    for both_pass in [false, true] {
        match pass(both_pass) {
            Some(Outcome::Found(w)) => return Outcome::Found(w),
            Some(Outcome::Unknown(r)) => result = Outcome::Unknown(r),
            Some(Outcome::None) | None => {}
        }
    }
    result
}

/// The goal of one search: NEW passes and OLD does not (the first), or both pass (the second;
/// nothing to search when `same_needs`, as then NEW's evidence meets OLD's paths too).
fn pass_goal(
    both_pass: bool,
    new_pass: Expr,
    old_pass: Expr,
    same_needs: impl FnOnce() -> bool,
) -> Option<Expr> {
    if both_pass {
        if same_needs() {
            return None;
        }
        Some(Expr::And(vec![new_pass, old_pass]))
    } else {
        let extra = residual(old_pass, &new_pass)?;
        Some(Expr::And(vec![Expr::NotTrue(Box::new(extra)), new_pass]))
    }
}

/// Runs the search; with `paths`, each leaf also tries evidence that leaves OLD's paths unmet.
fn search(
    g: &Goal,
    expr: &Expr,
    mut case: Case<'_>,
    paths: Option<&OldPaths>,
    (old, new): (&PolicyIr, &PolicyIr),
    confirm: impl Fn(&Json) -> Option<Widening>,
) -> Outcome<Widening> {
    let mut leaf = |values: &Assignment| {
        let choices = match paths {
            None => vec![Vec::new()],
            Some(p) => violations(g, values, old, new, p),
        };
        let mut undecided = None;
        for extra in choices {
            case.extra = extra;
            match witness::request(g, &case, values) {
                Leaf::Found(json) => {
                    if let Some(w) = confirm(&json) {
                        return Leaf::Found(w);
                    }
                }
                Leaf::Reject => {}
                Leaf::Undecided(why) => undecided = Some(why),
            }
        }
        match undecided {
            Some(why) => Leaf::Undecided(why),
            None => Leaf::Reject,
        }
    };
    g.search(expr, Absence::Included, &mut leaf)
}
