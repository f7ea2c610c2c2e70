//! Lints that need the search's exact reasoning (`lints.rs` turns them into warnings):
//!
//! - a rule whose condition no request makes true (`cluster == "prod" and cluster ==
//!   "staging"`);
//! - an allow every request of which some deny applies to (a deny is taken as applying unless
//!   its condition is false, as in §5);
//! - a `require ... for` that applies to no request an allow lets through (no allow on its
//!   tools passes, with no deny applying, while its condition is true or unknown);
//! - an entitlement that no workflow can use (no allow on its tools passes, with no deny
//!   applying, for a human or service principal that holds the role with the entitlement's
//!   condition true).
//!
//! Each is reported only when the search says so exactly ([`Outcome::None`]); a search that is
//! unsure (a limit, a shell line it cannot build) reports nothing. The last three read only
//! the allow, deny and `require ... for` rules named, not delegation nor evidence, so they can
//! stay silent about a rule that the whole policy makes useless, but they never call a rule
//! useless that some request reaches.

use std::collections::HashSet;
use writ_evaluator::Tri;

use writ_evaluator::ir::{
    AllowRuleIr, CmpOp, Cond, Operand, ParamIr, PolicyIr, PrincipalKind, RequireForRuleIr, RoleId,
    ToolId, Value, ValueType, WorkflowIr,
};

use super::lower::Lowering;
pub use super::lower::holders;
use super::search::{Absence, Expr, Goal, Limits, Outcome, Slot, Term, Ty, Val, Var};
use super::witness::{self, Action, Case};

/// Rule and entitlement ids, per lint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// Rules and entitlements whose condition is never true, each with whether the rule
    /// applies on unknown (a deny or `require ... for`: it still applies when a value its
    /// condition reads is missing).
    pub unsatisfiable: Vec<(String, bool)>,
    /// Allows whose every request a deny applies to.
    pub shadowed: Vec<String>,
    /// `require ... for` rules no allowed request reaches.
    pub unreached: Vec<String>,
    /// Entitlements no workflow can use.
    pub unusable: Vec<String>,
}

/// Where a condition is evaluated: the tool called (its parameters), a workflow (its name and
/// depth bound).
#[derive(Clone, Copy)]
struct Place<'a> {
    tool: Option<(&'a str, &'a [ParamIr])>,
    workflow: &'a str,
    max_depth: u32,
}

/// Whether some request makes `build`'s goal true; `true` when unsure.
fn possible<'a>(
    ir: &'a PolicyIr,
    holders: &'a [Vec<RoleId>],
    place: Place<'a>,
    absence: Absence,
    build: impl FnOnce(&mut Lowering<'a>, &mut Goal) -> Expr,
) -> bool {
    let mut g = Goal::default();
    g.limits = LIMITS;
    let mut low =
        Lowering::new(ir, place.tool.map(|(_, p)| p), place.max_depth).with_holders(holders);
    let expr = build(&mut low, &mut g);
    // A shell command line (a path relative to `cwd`) is built at each leaf to meet every
    // `runs`, `runs only` and `under` atom at once; past a few, that costs more than a lint may.
    if expr == Expr::Const(Tri::True) || g.features.len() > MAX_FEATURES {
        return true;
    }
    let case = Case {
        ir,
        workflow: place.workflow,
        action: match place.tool {
            Some((name, _)) => Action::Call { tool: name },
            None => Action::Start,
        },
        needs: Vec::new(),
        requires: Vec::new(),
        given: low.given,
        extra: Vec::new(),
    };
    let mut leaf = |values: &super::search::Assignment| witness::request(&g, &case, values);
    let r = g.search(&expr, absence, &mut leaf);
    !matches!(r, Outcome::None)
}

/// The most shell-command and relative-path atoms a lint's goal may have; and how far its
/// search may go before it gives up (and the lint stays silent): lints run on every check, in
/// the editor too, so they must stay cheap.
const MAX_FEATURES: usize = 8;

/// How far one lint's search may go (see [`LIMITS`]).
const LIMITS: Limits = Limits { nodes: 20_000, leaves: 32, states: 200 };

/// The deepest chain any workflow admits (for rules every workflow shares).
fn deepest(ir: &PolicyIr) -> u32 {
    ir.workflows.iter().map(|w| w.max_depth).max().unwrap_or(1)
}

fn tool(ir: &PolicyIr, t: ToolId) -> Option<(&str, &[ParamIr])> {
    ir.tools.get(t.index()).map(|x| (x.name.as_str(), &x.params[..]))
}

/// Whether `c` is true for some request to one of `tools` (to a start when `tools` is
/// `None`), in some workflow of `workflows`; `frame` binds `principal`.
fn can_be_true(
    ir: &PolicyIr,
    holders: &[Vec<RoleId>],
    c: &Cond,
    tools: Option<&[ToolId]>,
    (depth, workflow): (u32, &str),
    frame: Option<Slot>,
) -> bool {
    let quick = |params: Option<&[ParamIr]>| quick_true(ir, params, c, &mut Vec::new());
    match tools {
        None if quick(None) => return true,
        Some(ts) if ts.iter().any(|t| quick(tool(ir, *t).map(|t| t.1))) => return true,
        _ => {}
    }
    let places: Vec<Place<'_>> = match tools {
        None => vec![Place { tool: None, workflow, max_depth: depth }],
        Some(ts) => ts
            .iter()
            .filter_map(|t| tool(ir, *t))
            .map(|t| Place { tool: Some(t), workflow, max_depth: depth })
            .collect(),
    };
    places.into_iter().any(|place| {
        possible(ir, holders, place, Absence::Excluded, |low, g| low.cond(g, Some(c), frame))
    })
}

/// Whether `c` is plainly true for some request, without a search: a conjunction (or
/// disjunction) of atoms that each can be made true on their own, no two reading the same value
/// (`env == "prod" and branch matches "rel/*"`). `keys` are the values read so far. `false`
/// means "not plainly", never "never".
fn quick_true(ir: &PolicyIr, params: Option<&[ParamIr]>, c: &Cond, keys: &mut Vec<String>) -> bool {
    let ty_of = |o: &Operand| -> Option<(String, ValueType)> {
        match o {
            Operand::Arg(name) => params
                .and_then(|ps| ps.iter().find(|p| p.name == *name))
                .map(|p| (format!("arg {name}"), p.ty.clone())),
            Operand::Attribute(_, id) => {
                ir.attributes.get(id.index()).map(|d| (format!("attr {id}"), d.ty.clone()))
            }
            Operand::Context(id) => {
                ir.contexts.get(id.index()).map(|d| (format!("context {id}"), d.ty.clone()))
            }
            _ => None,
        }
    };
    let claim = |key: String, keys: &mut Vec<String>| {
        if keys.contains(&key) {
            return false;
        }
        keys.push(key);
        true
    };
    match c {
        Cond::And(items) => items.iter().all(|i| quick_true(ir, params, i, keys)),
        Cond::Or(items) => items.iter().any(|i| {
            let mut k = keys.clone();
            let ok = quick_true(ir, params, i, &mut k);
            if ok {
                *keys = k;
            }
            ok
        }),
        Cond::Truth(o) => {
            matches!(ty_of(o), Some((k, ValueType::Bool)) if claim(k.clone(), keys))
        }
        Cond::Compare(op, o, Operand::Literal(v)) => match (op, ty_of(o), v) {
            (CmpOp::Eq, Some((k, ValueType::String)), Value::Str(_))
            | (CmpOp::Ne, Some((k, ValueType::String | ValueType::Path)), Value::Str(_))
            | (CmpOp::Eq | CmpOp::Ne, Some((k, ValueType::Bool)), Value::Bool(_)) => claim(k, keys),
            (CmpOp::Eq, Some((k, ValueType::Enum(vs))), Value::Str(s)) if vs.contains(s) => {
                claim(k, keys)
            }
            (CmpOp::Eq | CmpOp::Ne, None, Value::Kind(_)) if matches!(o, Operand::Kind(_)) => {
                claim("kind".into(), keys)
            }
            _ => false,
        },
        Cond::In(o, Operand::Literal(Value::StringList(l))) => match ty_of(o) {
            Some((k, ValueType::String)) if !l.is_empty() => claim(k, keys),
            Some((k, ValueType::Enum(vs))) if l.iter().any(|x| vs.contains(x)) => claim(k, keys),
            _ => false,
        },
        Cond::Contains(o, Operand::Literal(Value::Str(_))) => {
            matches!(ty_of(o), Some((k, ValueType::StringList)) if claim(k.clone(), keys))
        }
        Cond::Matches(o, _) => {
            matches!(ty_of(o), Some((k, ValueType::String)) if claim(k.clone(), keys))
        }
        // Roles given together never conflict; one left out conflicts with any other.
        Cond::HasRole(..) => {
            if keys.iter().any(|k| k == "role-") {
                return false;
            }
            keys.push("role+".into());
            true
        }
        Cond::Not(inner) if matches!(**inner, Cond::HasRole(..)) => {
            !keys.iter().any(|k| k.starts_with("role")) && claim("role-".into(), keys)
        }
        _ => false,
    }
}

/// The findings of every lint over the whole policy: the concatenation, in this order, of
/// [`workflow_findings`] of each workflow, [`guardrail_findings`] and [`role_findings`] of
/// each role (the compiler's database asks for the parts, so that an edit re-runs only the
/// searches of what it changed).
pub fn findings(ir: &PolicyIr) -> Findings {
    let table = super::lower::holders(ir);
    let mut out = Findings::default();
    for w in &ir.workflows {
        out.append(workflow_findings(ir, &table, w));
    }
    out.append(guardrail_findings(ir, &table));
    let all: Vec<&WorkflowIr> = ir.workflows.iter().collect();
    let (depth, first) = whole(ir, &all);
    for r in 0..ir.roles.len() {
        out.append(role_findings(ir, &table, r, &all, depth, first));
    }
    out
}

impl Findings {
    /// Adds `other`'s findings after this one's, list by list.
    pub fn append(&mut self, mut other: Findings) {
        self.unsatisfiable.append(&mut other.unsatisfiable);
        self.shadowed.append(&mut other.shadowed);
        self.unreached.append(&mut other.unreached);
        self.unusable.append(&mut other.unusable);
    }
}

/// The place of a rule every workflow shares: the deepest chain of `all` (1 when there is
/// none), and the first workflow's name.
pub fn whole<'a>(ir: &PolicyIr, all: &[&'a WorkflowIr]) -> (u32, &'a str) {
    let depth = all.iter().map(|w| w.max_depth).max().unwrap_or_else(|| deepest(ir));
    (depth, all.first().map_or("", |w| w.name.as_str()))
}

/// Records `id` as unsatisfiable when `c` is never true; whether it was.
#[allow(clippy::too_many_arguments, reason = "the place of one search, spelled out")]
fn never(
    out: &mut Findings,
    ir: &PolicyIr,
    table: &[Vec<RoleId>],
    id: &str,
    c: &Option<Cond>,
    tools: Option<&[ToolId]>,
    place: (u32, &str),
    frame: Option<Slot>,
) -> bool {
    if let Some(c) = c
        && !can_be_true(ir, table, c, tools, place, frame)
    {
        let on_unknown =
            id.split('/').rev().nth(1).is_some_and(|k| k != "allow" && k != "start" && k != "may");
        out.unsatisfiable.push((id.to_string(), on_unknown));
        return true;
    }
    false
}

/// The findings about workflow `w`'s own rules: conditions never true, allows shadowed, and
/// `require ... for` rules none of its allows reach. Reads of `ir` everything but its
/// workflows.
pub fn workflow_findings(ir: &PolicyIr, table: &[Vec<RoleId>], w: &WorkflowIr) -> Findings {
    let mut out = Findings::default();
    let mut dead: HashSet<String> = HashSet::new();
    let place = (w.max_depth, w.name.as_str());
    for s in &w.starts {
        never(&mut out, ir, table, &s.meta.id, &s.condition, None, place, None);
    }
    for a in &w.allows {
        if never(&mut out, ir, table, &a.meta.id, &a.condition, Some(&a.target.tools), place, None)
        {
            dead.insert(a.meta.id.clone());
        }
    }
    for d in &w.rules.denies {
        never(&mut out, ir, table, &d.meta.id, &d.condition, Some(&d.target.tools), place, None);
    }
    for d in &w.rules.deny_starts {
        never(&mut out, ir, table, &d.meta.id, &d.condition, None, place, None);
    }
    for r in &w.rules.requires {
        if never(&mut out, ir, table, &r.meta.id, &r.condition, Some(&r.target.tools), place, None)
        {
            dead.insert(r.meta.id.clone());
        }
    }

    // Allows shadowed by denies.
    for a in &w.allows {
        if dead.contains(&a.meta.id) {
            continue;
        }
        let denied = |t: ToolId| {
            w.rules
                .denies
                .iter()
                .chain(&ir.guardrails.denies)
                .any(|d| d.target.tools.binary_search(&t).is_ok())
        };
        // Without a deny on some tool, the allow passes there whenever its condition does.
        if a.target.tools.iter().any(|t| !denied(*t)) {
            continue;
        }
        if !a
            .target
            .tools
            .iter()
            .any(|t| passes(ir, table, w, a, *t, Absence::Excluded, |_, _| Expr::Const(Tri::True)))
        {
            out.shadowed.push(a.meta.id.clone());
        }
    }

    // Its `require ... for` rules none of its allows reach.
    for r in &w.rules.requires {
        if dead.contains(&r.meta.id) {
            continue;
        }
        if !reached(ir, table, r, &[w]) {
            out.unreached.push(r.meta.id.clone());
        }
    }
    out
}

/// Whether some allow of `workflows` lets a request that `r` covers through.
fn reached(
    ir: &PolicyIr,
    table: &[Vec<RoleId>],
    r: &RequireForRuleIr,
    workflows: &[&WorkflowIr],
) -> bool {
    r.target.tools.iter().any(|t| {
        workflows.iter().any(|w| {
            w.allows.iter().filter(|a| a.target.tools.contains(t)).any(|a| {
                passes(ir, table, w, a, *t, Absence::Included, |low, g| {
                    let c = low.cond(g, r.condition.as_ref(), None);
                    // True or unknown: the rule applies.
                    Expr::NotTrue(Box::new(Expr::Not(Box::new(c))))
                })
            })
        })
    })
}

/// The findings about the top-level rules: conditions never true, and `require ... for`
/// rules no allow of any workflow reaches.
pub fn guardrail_findings(ir: &PolicyIr, table: &[Vec<RoleId>]) -> Findings {
    let mut out = Findings::default();
    let all: Vec<&WorkflowIr> = ir.workflows.iter().collect();
    let place = whole(ir, &all);
    let mut dead: HashSet<String> = HashSet::new();
    for d in &ir.guardrails.denies {
        never(&mut out, ir, table, &d.meta.id, &d.condition, Some(&d.target.tools), place, None);
    }
    for d in &ir.guardrails.deny_starts {
        never(&mut out, ir, table, &d.meta.id, &d.condition, None, place, None);
    }
    for r in &ir.guardrails.requires {
        if never(&mut out, ir, table, &r.meta.id, &r.condition, Some(&r.target.tools), place, None)
        {
            dead.insert(r.meta.id.clone());
        }
    }
    for r in &ir.guardrails.requires {
        if !dead.contains(&r.meta.id) && !reached(ir, table, r, &all) {
            out.unreached.push(r.meta.id.clone());
        }
    }
    out
}

/// The findings about role `role`'s entitlements: conditions never true (at `depth`, in the
/// workflow named `first`: see [`whole`]), and entitlements no allow of `workflows` admits a
/// call of. `workflows` need hold only those with an allow on a tool the role is entitled to.
pub fn role_findings(
    ir: &PolicyIr,
    table: &[Vec<RoleId>],
    role: usize,
    workflows: &[&WorkflowIr],
    depth: u32,
    first: &str,
) -> Findings {
    let mut out = Findings::default();
    let Some(decl) = ir.roles.get(role) else { return out };
    for e in &decl.entitlements {
        let tools = Some(&e.target.tools[..]);
        let place = (depth, first);
        if never(&mut out, ir, table, &e.meta.id, &e.condition, tools, place, Some(Slot::Middle)) {
            continue;
        }
        let used = e.target.tools.iter().any(|t| {
            workflows.iter().any(|w| {
                w.allows.iter().filter(|a| a.target.tools.contains(t)).any(|a| {
                    passes(ir, table, w, a, *t, Absence::Excluded, |low, g| {
                        entitled_somewhere(low, g, RoleId(role as u32), e.condition.as_ref())
                    })
                })
            })
        });
        if !used {
            out.unusable.push(e.meta.id.clone());
        }
    }
    out
}

/// Whether some call of `t` passes `a` (its condition true) with no deny applying, and
/// `more` true. A goal that is not monotone (`more` asks for a condition not to be false) needs
/// [`Absence::Included`]: absent values are tried too.
fn passes<'a>(
    ir: &'a PolicyIr,
    holders: &'a [Vec<RoleId>],
    w: &'a WorkflowIr,
    a: &'a AllowRuleIr,
    t: ToolId,
    absence: Absence,
    more: impl FnOnce(&mut Lowering<'a>, &mut Goal) -> Expr,
) -> bool {
    let Some(tool) = tool(ir, t) else { return false };
    let place = Place { tool: Some(tool), workflow: &w.name, max_depth: w.max_depth };
    possible(ir, holders, place, absence, |low, g| {
        let allows = low.cond(g, a.condition.as_ref(), None);
        let no_deny = low.no_deny(g, w, t);
        let extra = more(low, g);
        Expr::And(vec![allows, no_deny, extra])
    })
}

/// Some human or service principal of the chain holds `role` with `condition` true.
fn entitled_somewhere(
    low: &mut Lowering<'_>,
    g: &mut Goal,
    role: RoleId,
    condition: Option<&Cond>,
) -> Expr {
    let d = low.depth(g);
    let mut any = Vec::new();
    for (slot, present_from) in [(Slot::Initiator, 0), (Slot::Caller, 1), (Slot::Middle, 2)] {
        let kind = g.var(Var::Kind(slot), Ty::Kind);
        let accountable =
            Expr::KindIn(Term::Var(kind), vec![PrincipalKind::Human, PrincipalKind::Service]);
        let present = Expr::Cmp(CmpOp::Ge, Term::Var(d), Term::Const(Val::Int(present_from)));
        let holds = low.holds(g, slot, role);
        let c = low.cond(g, condition, Some(slot));
        any.push(Expr::And(vec![present, accountable, holds, c]));
    }
    Expr::Or(any)
}
