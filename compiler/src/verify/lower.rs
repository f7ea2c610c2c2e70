//! Conditions of the IR as goals of the search (`search.rs`), and the decision procedure of
//! LANGUAGE.md §5 as goals: what must hold for a call (a start) to pass one allow (start) rule.

use writ_evaluator::Tri;
use writ_evaluator::ir::{
    CmpOp, Cond, EvidenceRequirementIr, Operand, ParamIr, PolicyIr, PrincipalKind, RoleId, ToolId,
    Value, ValueType, Who, WorkflowIr,
};

use super::commands::Feature;
use super::search::{Expr, Goal, Slot, Term, Ty, Val, Var};
use super::strings::{Pattern, Shape};

/// Lowers conditions of one policy into one goal.
pub struct Lowering<'a> {
    pub ir: &'a PolicyIr,
    /// The called tool's parameters (`None` on a start).
    pub params: Option<&'a [ParamIr]>,
    /// The deepest chain considered.
    pub max_depth: u32,
    /// `given(...)` items met, by the index of their variable.
    pub given: Vec<(usize, EvidenceRequirementIr)>,
    /// For each role, the roles whose holders hold it (itself, and every role that extends it,
    /// transitively): given by the caller, or computed on first use.
    shared: Option<&'a [Vec<RoleId>]>,
    holders: std::cell::OnceCell<Vec<Vec<RoleId>>>,
}

/// For each role, the roles that hold it: itself and every role that extends it, transitively.
pub fn holders(ir: &PolicyIr) -> Vec<Vec<RoleId>> {
    let mut out: Vec<Vec<RoleId>> = vec![Vec::new(); ir.roles.len()];
    for r in 0..ir.roles.len() {
        for held in super::evidence::closure(ir, RoleId(r as u32)) {
            if let Some(list) = out.get_mut(held.index()) {
                list.push(RoleId(r as u32));
            }
        }
    }
    out
}

fn value(v: &Value) -> Val {
    match v {
        Value::Str(s) => Val::Str(s.clone()),
        Value::Int(i) | Value::Duration(i) => Val::Int(*i),
        Value::Bool(b) => Val::Bool(*b),
        Value::StringList(l) => Val::List(l.clone()),
        Value::Kind(k) => Val::Kind(*k),
    }
}

fn ty(t: &ValueType) -> Ty {
    match t {
        ValueType::String => Ty::Str(Shape::Any),
        ValueType::Path => Ty::Str(Shape::Path),
        ValueType::Int => Ty::Int { min: i64::MIN },
        ValueType::Bool => Ty::Bool,
        ValueType::Duration => Ty::Duration,
        ValueType::StringList => Ty::List,
        ValueType::Enum(values) => Ty::Enum(values.clone()),
        // Only ever read through features.
        ValueType::Command => Ty::Str(Shape::Any),
    }
}

/// `a == b` between a variable and a constant.
pub fn is(v: usize, c: Val) -> Expr {
    Expr::Cmp(CmpOp::Eq, Term::Var(v), Term::Const(c))
}

impl<'a> Lowering<'a> {
    pub fn new(ir: &'a PolicyIr, params: Option<&'a [ParamIr]>, max_depth: u32) -> Lowering<'a> {
        Lowering {
            ir,
            params,
            max_depth,
            given: Vec::new(),
            shared: None,
            holders: std::cell::OnceCell::new(),
        }
    }

    /// Reads the roles that hold each role from `table` (see [`holders`]).
    pub fn with_holders(mut self, table: &'a [Vec<RoleId>]) -> Lowering<'a> {
        self.shared = Some(table);
        self
    }

    fn holders_of(&self, role: RoleId) -> &[RoleId] {
        let table = match self.shared {
            Some(t) => t,
            None => self.holders.get_or_init(|| holders(self.ir)),
        };
        table.get(role.index()).map_or(&[], |l| &l[..])
    }

    pub fn depth(&self, g: &mut Goal) -> usize {
        g.var(Var::Depth, Ty::Depth(self.max_depth))
    }

    /// The variable of `slot`'s `var`, or, for the caller, the initiator's at depth 0.
    fn slotted(
        &self,
        g: &mut Goal,
        who: Who,
        frame: Option<Slot>,
        make: &dyn Fn(Slot) -> Var,
        t: Ty,
    ) -> Term {
        match who {
            Who::Initiator => Term::Var(g.var(make(Slot::Initiator), t)),
            Who::Principal => Term::Var(g.var(make(frame.unwrap_or(Slot::Initiator)), t)),
            Who::Caller => {
                self.depth(g);
                let initiator = g.var(make(Slot::Initiator), t.clone());
                let caller = g.var(make(Slot::Caller), t);
                Term::ByDepth { initiator, caller }
            }
        }
    }

    fn operand(&mut self, g: &mut Goal, o: &Operand, frame: Option<Slot>) -> Term {
        match o {
            Operand::Literal(v) => Term::Const(value(v)),
            Operand::Arg(name) => {
                let t = self
                    .params
                    .and_then(|ps| ps.iter().find(|p| p.name == *name))
                    .map(|p| ty(&p.ty));
                match t {
                    Some(t) => Term::Var(g.var(Var::Arg(name.clone()), t)),
                    None => Term::Const(Val::Absent),
                }
            }
            Operand::Context(id) => match self.ir.contexts.get(id.index()) {
                Some(d) => Term::Var(g.var(Var::Context(d.name.clone()), ty(&d.ty))),
                None => Term::Const(Val::Absent),
            },
            Operand::Attribute(who, id) => match self.ir.attributes.get(id.index()) {
                Some(d) => {
                    let name = d.name.clone();
                    self.slotted(g, *who, frame, &|s| Var::Attr(s, name.clone()), ty(&d.ty))
                }
                None => Term::Const(Val::Absent),
            },
            Operand::Id(who) => self.slotted(g, *who, frame, &Var::Id, Ty::Str(Shape::Id)),
            Operand::Kind(who) => self.slotted(g, *who, frame, &Var::Kind, Ty::Kind),
            Operand::Depth => Term::Var(self.depth(g)),
            Operand::Calls(c) => {
                let i = match g.calls.iter().position(|x| x == c) {
                    Some(i) => i,
                    None => {
                        g.calls.push(c.clone());
                        g.calls.len() - 1
                    }
                };
                let v = g.var(Var::Calls(i), Ty::Count);
                g.mark_var_for_leaf(v);
                Term::Var(v)
            }
            Operand::Given(r) => {
                let i = match self.given.iter().find(|(_, x)| x == r) {
                    Some((v, _)) => return Term::Var(*v),
                    None => self.given.len(),
                };
                let v = g.var(Var::Given(i), Ty::Count);
                g.mark_var_for_leaf(v);
                self.given.push((v, r.clone()));
                Term::Var(v)
            }
        }
    }

    fn feature(&self, g: &mut Goal, f: Feature) -> Expr {
        let i = match g.features.iter().position(|x| *x == f) {
            Some(i) => i,
            None => {
                g.features.push(f);
                g.features.len() - 1
            }
        };
        let v = g.var(Var::Feature(i), Ty::Bool);
        Expr::Truth(Term::Var(v))
    }

    /// `slot` holds `role` (directly or through `extends`): it was given a role that extends it.
    pub fn holds(&self, g: &mut Goal, slot: Slot, role: RoleId) -> Expr {
        let mut any = Vec::new();
        for r in self.holders_of(role) {
            if let Some(decl) = self.ir.roles.get(r.index()) {
                let v = g.var(Var::Role(slot, decl.name.clone()), Ty::Bool);
                any.push(Expr::Truth(Term::Var(v)));
            }
        }
        Expr::Or(any)
    }

    /// A condition (`None`: always true), with `principal` bound to `frame`.
    pub fn cond(&mut self, g: &mut Goal, c: Option<&Cond>, frame: Option<Slot>) -> Expr {
        let e = match c {
            None => Expr::Const(Tri::True),
            Some(c) => self.lower(g, c, frame),
        };
        g.note(&e);
        e
    }

    fn lower(&mut self, g: &mut Goal, c: &Cond, frame: Option<Slot>) -> Expr {
        match c {
            Cond::Truth(o) => Expr::Truth(self.operand(g, o, frame)),
            Cond::Compare(op, a, b) => {
                Expr::Cmp(*op, self.operand(g, a, frame), self.operand(g, b, frame))
            }
            Cond::In(a, b) => Expr::In(self.operand(g, a, frame), self.operand(g, b, frame)),
            Cond::Contains(a, b) => {
                Expr::Contains(self.operand(g, a, frame), self.operand(g, b, frame))
            }
            Cond::Matches(a, glob) => Expr::Matches(self.operand(g, a, frame), Pattern::glob(glob)),
            Cond::AnyMatches(a, glob) => {
                Expr::AnyMatches(self.operand(g, a, frame), Pattern::glob(glob))
            }
            Cond::AllMatches(a, glob) => {
                Expr::AllMatches(self.operand(g, a, frame), Pattern::glob(glob))
            }
            Cond::HasRole(who, role) => match who {
                Who::Initiator => self.holds(g, Slot::Initiator, *role),
                Who::Principal => self.holds(g, frame.unwrap_or(Slot::Initiator), *role),
                Who::Caller => {
                    let d = self.depth(g);
                    let at_root = self.holds(g, Slot::Initiator, *role);
                    let at_caller = self.holds(g, Slot::Caller, *role);
                    Expr::Or(vec![
                        Expr::And(vec![is(d, Val::Int(0)), at_root]),
                        Expr::And(vec![
                            Expr::Cmp(CmpOp::Gt, Term::Var(d), Term::Const(Val::Int(0))),
                            at_caller,
                        ]),
                    ])
                }
            },
            Cond::Runs(Operand::Arg(arg), pattern) => {
                self.feature(g, Feature::Runs { arg: arg.clone(), pattern: pattern.clone() })
            }
            Cond::RunsOnly(Operand::Arg(arg), patterns) => {
                self.feature(g, Feature::RunsOnly { arg: arg.clone(), patterns: patterns.clone() })
            }
            Cond::Runs(..) | Cond::RunsOnly(..) => Expr::Const(Tri::Unknown),
            Cond::Under(o, dir) => {
                let path = self.operand(g, o, frame);
                if dir.starts_with('/') {
                    match writ_evaluator::path::resolve(dir, None) {
                        Some(d) => Expr::Under(path, d.into_owned()),
                        None => Expr::Const(Tri::Unknown),
                    }
                } else {
                    let Term::Var(v) = path else { return Expr::Const(Tri::Unknown) };
                    // Paths that end in the directory, or lie beneath it, for some cwd.
                    if let Some(tail) = writ_evaluator::path::resolve(dir, Some("/"))
                        && tail != "/"
                    {
                        let mut at = vec![super::strings::Tok::Run];
                        at.extend(tail.chars().map(super::strings::Tok::Lit));
                        let mut beneath = at.clone();
                        beneath.push(super::strings::Tok::Lit('/'));
                        beneath.push(super::strings::Tok::Run);
                        g.add_pattern(v, Pattern(at));
                        g.add_pattern(v, Pattern(beneath));
                    }
                    let f = self.feature(g, Feature::UnderRelative { path: v, dir: dir.clone() });
                    // The path must be given for `under` to be known.
                    Expr::And(vec![Expr::Matches(Term::Var(v), Pattern::glob("*")), f])
                }
            }
            Cond::Not(inner) => Expr::Not(Box::new(self.lower(g, inner, frame))),
            Cond::And(items) => Expr::And(items.iter().map(|i| self.lower(g, i, frame)).collect()),
            Cond::Or(items) => Expr::Or(items.iter().map(|i| self.lower(g, i, frame)).collect()),
        }
    }

    fn kind_in(&self, g: &mut Goal, slot: Slot, kinds: &[PrincipalKind]) -> Expr {
        Expr::KindIn(Term::Var(g.var(Var::Kind(slot), Ty::Kind)), kinds.to_vec())
    }

    /// Someone in the chain is a human or a service (§5 step 1).
    pub fn accountable(&self, g: &mut Goal) -> Expr {
        let hs = [PrincipalKind::Human, PrincipalKind::Service];
        let d = self.depth(g);
        let i = self.kind_in(g, Slot::Initiator, &hs);
        let c = self.kind_in(g, Slot::Caller, &hs);
        let m = self.kind_in(g, Slot::Middle, &hs);
        Expr::Or(vec![
            i,
            Expr::And(vec![Expr::Cmp(CmpOp::Ge, Term::Var(d), Term::Const(Val::Int(1))), c]),
            Expr::And(vec![Expr::Cmp(CmpOp::Ge, Term::Var(d), Term::Const(Val::Int(2))), m]),
        ])
    }

    /// Delegation never amplifies (§5 step 5): every human or service principal of the chain
    /// holds a `may` for the tool whose condition is true.
    pub fn delegation(&mut self, g: &mut Goal, tool: ToolId) -> Expr {
        let d = self.depth(g);
        let mut all = Vec::new();
        for (slot, present_from) in [(Slot::Initiator, 0), (Slot::Caller, 1), (Slot::Middle, 2)] {
            let agent = self.kind_in(g, slot, &[PrincipalKind::Agent]);
            let mut ways = vec![agent];
            for (r, role) in self.ir.roles.iter().enumerate() {
                for e in &role.entitlements {
                    if e.target.tools.binary_search(&tool).is_ok() {
                        let has = self.holds(g, slot, RoleId(r as u32));
                        let cond = self.cond(g, e.condition.as_ref(), Some(slot));
                        ways.push(Expr::And(vec![has, cond]));
                    }
                }
            }
            let absent = Expr::Cmp(CmpOp::Lt, Term::Var(d), Term::Const(Val::Int(present_from)));
            all.push(Expr::Or(vec![absent, Expr::Or(ways)]));
        }
        Expr::And(all)
    }

    /// No deny of the workflow or the guardrails that targets the tool applies (§5 step 3).
    pub fn no_deny(&mut self, g: &mut Goal, wf: &WorkflowIr, tool: ToolId) -> Expr {
        let mut all = Vec::new();
        for d in wf.rules.denies.iter().chain(&self.ir.guardrails.denies) {
            if d.target.tools.binary_search(&tool).is_ok() {
                let c = self.cond(g, d.condition.as_ref(), None);
                all.push(Expr::Not(Box::new(c)));
            }
        }
        Expr::And(all)
    }

    /// No `deny start` of the workflow or the guardrails applies (§5 start step 2).
    pub fn no_deny_start(&mut self, g: &mut Goal, wf: &WorkflowIr) -> Expr {
        let mut all = Vec::new();
        for d in wf.rules.deny_starts.iter().chain(&self.ir.guardrails.deny_starts) {
            let c = self.cond(g, d.condition.as_ref(), None);
            all.push(Expr::Not(Box::new(c)));
        }
        Expr::And(all)
    }

    /// The `require ... for` rules that target the tool: the condition under which each
    /// applies (true or unknown), and what it requires.
    pub fn requires(
        &mut self,
        g: &mut Goal,
        wf: &WorkflowIr,
        tool: ToolId,
    ) -> Vec<(Expr, Vec<EvidenceRequirementIr>)> {
        let mut out = Vec::new();
        for r in wf.rules.requires.iter().chain(&self.ir.guardrails.requires) {
            if r.target.tools.binary_search(&tool).is_ok() {
                let c = self.cond(g, r.condition.as_ref(), None);
                g.mark_for_leaf(&c);
                out.push((c, r.require.clone()));
            }
        }
        out
    }

    /// The start rule's roles: the initiator holds one of them (or it names none).
    pub fn start_roles(&self, g: &mut Goal, by: &[RoleId]) -> Expr {
        if by.is_empty() {
            return Expr::Const(Tri::True);
        }
        Expr::Or(by.iter().map(|r| self.holds(g, Slot::Initiator, *r)).collect())
    }
}
