//! Partial evaluation of three-valued conditions: what is left of a condition once the
//! initiator's roles (and, for a fixture, its kind, id and attributes) are known.
//!
//! A condition is used in one of two ways (LANGUAGE.md §4), and a residual is simplified for
//! the way it is used:
//!
//! - [`Mode::MustHold`]: an allow, start or `may` passes only when its condition is **true**.
//!   The residual is true exactly when the original is (for every request).
//! - [`Mode::MayApply`]: a deny or `require ... for` applies when its condition is **true or
//!   unknown**. The residual is false exactly when the original is.
//!
//! The steps:
//!
//! 1. Negations are pushed down to the atoms (De Morgan and `not not` hold in Kleene logic;
//!    `not (a == b)` is `a != b` and `not (a < b)` is `a >= b`, since a comparison is unknown
//!    exactly when an operand is).
//! 2. Each atom is evaluated with what is known. An atom that reads a value that will certainly
//!    be absent (an attribute a fixture lacks) is unknown: false for `MustHold` (every atom is
//!    now in positive position, so an unknown can never help the condition become true), true
//!    for `MayApply` (fail closed).
//! 3. `and`/`or` fold constants, flatten, drop duplicates, and compare their atoms over one
//!    operand (`env == "prod"`, `amount <= 5000`, `name matches "deploy/*"`...): an atom implied
//!    by a sibling is dropped from an `and`, one that implies a sibling from an `or`; in
//!    `MustHold` mode two atoms that exclude each other make an `and` false, and the atoms of an
//!    `and` are assumed true while its other members are simplified (if `env == "prod"` must
//!    hold, `env == "staging"` beside it is false). These rewrites are exact for the mode.

use writ_evaluator::Tri;
use writ_evaluator::ir::{
    CmpOp, Cond, Operand, ParamIr, PolicyIr, PrincipalKind, Value, ValueType, Who,
};

use super::globs;

/// How a condition is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Allows, starts and entitlements: they pass only on true.
    MustHold,
    /// Denies and `require ... for`: they apply on true or unknown.
    MayApply,
}

/// The result of simplifying a condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Simple {
    True,
    False,
    Residual(Cond),
}

impl Simple {
    pub fn cond(self) -> Option<Cond> {
        match self {
            Simple::Residual(c) => Some(c),
            _ => None,
        }
    }
}

/// What the analysis knows about the principal whose reach it computes: the initiator of the
/// chain, which is also `principal` in its own entitlements (unless `principal` says otherwise).
#[derive(Clone, Debug, Default)]
pub struct Knowledge {
    /// Indexed by role id: whether it holds the role (directly or through `extends`).
    pub holds: Vec<bool>,
    /// `None`: a human or a service, unknown which.
    pub kind: Option<PrincipalKind>,
    pub id: Option<String>,
    /// `None`: the attributes are unknown to the analysis. `Some`: indexed by attribute id,
    /// the value a fixture gives, or `None` for one it does not give (absent at decision time).
    pub attributes: Option<Vec<Option<Value>>>,
    /// Who `principal` is in a `may` condition when it is another principal of a known chain
    /// (see `visible_tools`); `None`: this principal.
    pub principal: Option<Box<Knowledge>>,
    /// The caller (the chain's last principal), when the whole chain is known.
    pub caller: Option<Box<Knowledge>>,
    /// The chain's depth, when the whole chain is known.
    pub depth: Option<u32>,
}

/// Where a condition is simplified: the subject, the workflow's depth bound, and the
/// arguments of the tool in question (for their types).
pub struct Scope<'a> {
    pub ir: &'a PolicyIr,
    pub known: &'a Knowledge,
    /// `depth` is at most this (a deeper chain is denied before any rule is looked at).
    pub max_depth: u32,
    pub params: &'a [ParamIr],
}

/// An operand after substitution.
enum Opd {
    Val(Value),
    /// Certainly absent at decision time.
    Missing,
    Open(Operand),
}

/// An atom after substitution.
enum Atom {
    Known(Tri),
    /// False or unknown, never true (the atom, with what is known substituted).
    NeverTrue(Cond),
    /// True or unknown, never false.
    NeverFalse(Cond),
    Open(Cond),
}

/// Deeper conditions are left as they are (the parser bounds nesting far below this).
const MAX_DEPTH: usize = 512;

fn is_atom(c: &Cond) -> bool {
    !matches!(c, Cond::And(_) | Cond::Or(_))
}

pub fn negate_op(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Eq => CmpOp::Ne,
        CmpOp::Ne => CmpOp::Eq,
        CmpOp::Lt => CmpOp::Ge,
        CmpOp::Le => CmpOp::Gt,
        CmpOp::Gt => CmpOp::Le,
        CmpOp::Ge => CmpOp::Lt,
    }
}

/// `a OP b` as `b OP' a`.
fn flip_op(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

/// The negation of an atom, as an atom.
pub fn negation(c: &Cond) -> Cond {
    match c {
        Cond::Compare(op, a, b) => Cond::Compare(negate_op(*op), a.clone(), b.clone()),
        Cond::Not(inner) => (**inner).clone(),
        Cond::Truth(Operand::Literal(Value::Bool(b))) => {
            Cond::Truth(Operand::Literal(Value::Bool(!b)))
        }
        other => Cond::Not(Box::new(other.clone())),
    }
}

/// Negation normal form: `not` only directly above atoms. Exact in Kleene logic.
pub fn nnf(c: &Cond, negate: bool) -> Cond {
    nnf_at(c, negate, 0)
}

fn nnf_at(c: &Cond, negate: bool, depth: usize) -> Cond {
    if depth > MAX_DEPTH {
        return if negate { Cond::Not(Box::new(c.clone())) } else { c.clone() };
    }
    match c {
        Cond::Not(inner) => nnf_at(inner, !negate, depth + 1),
        Cond::And(items) | Cond::Or(items) => {
            let items: Vec<Cond> = items.iter().map(|i| nnf_at(i, negate, depth + 1)).collect();
            match (c, negate) {
                (Cond::And(_), false) | (Cond::Or(_), true) => Cond::And(items),
                _ => Cond::Or(items),
            }
        }
        _ if negate => negation(c),
        _ => c.clone(),
    }
}

pub(crate) fn compare_values(op: CmpOp, a: &Value, b: &Value) -> Option<bool> {
    use std::cmp::Ordering;
    let ordering = match (a, b) {
        (Value::Int(x), Value::Int(y)) | (Value::Duration(x), Value::Duration(y)) => Some(x.cmp(y)),
        _ => None,
    };
    let equal = match (a, b) {
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Int(x), Value::Int(y)) | (Value::Duration(x), Value::Duration(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::StringList(x), Value::StringList(y)) => x == y,
        (Value::Kind(x), Value::Kind(y)) => x == y,
        _ => return None,
    };
    Some(match op {
        CmpOp::Eq => equal,
        CmpOp::Ne => !equal,
        CmpOp::Lt => ordering? == Ordering::Less,
        CmpOp::Le => ordering? != Ordering::Greater,
        CmpOp::Gt => ordering? == Ordering::Greater,
        CmpOp::Ge => ordering? != Ordering::Less,
    })
}

fn tri(b: Option<bool>) -> Tri {
    b.map_or(Tri::Unknown, Tri::from)
}

/// An atom read as a constraint on one operand: `x OP literal`, `x in [..]`, `x matches "g"`,
/// a boolean `x`, and their negations.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Constraint<'c> {
    pub operand: &'c Operand,
    pub pred: Pred<'c>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Pred<'c> {
    Cmp(CmpOp, &'c Value),
    /// `in` (`false`) or `not ... in` (`true`).
    In(&'c [String], bool),
    Matches(&'c str, bool),
    Truth(bool),
}

pub(crate) fn constraint(c: &Cond) -> Option<Constraint<'_>> {
    let open = |o: &Operand| !matches!(o, Operand::Literal(_));
    let (operand, pred) = match c {
        Cond::Truth(o) if open(o) => (o, Pred::Truth(true)),
        Cond::Compare(op, o, Operand::Literal(v)) if open(o) => (o, Pred::Cmp(*op, v)),
        Cond::In(o, Operand::Literal(Value::StringList(l))) if open(o) => (o, Pred::In(l, false)),
        Cond::Matches(o, g) if open(o) => (o, Pred::Matches(g, false)),
        Cond::Not(inner) => match &**inner {
            Cond::Truth(o) if open(o) => (o, Pred::Truth(false)),
            Cond::In(o, Operand::Literal(Value::StringList(l))) if open(o) => {
                (o, Pred::In(l, true))
            }
            Cond::Matches(o, g) if open(o) => (o, Pred::Matches(g, true)),
            _ => return None,
        },
        _ => return None,
    };
    Some(Constraint { operand, pred })
}

/// Whether the predicate holds of a value (`None`: the value has the wrong type).
fn holds(p: Pred<'_>, v: &Value) -> Option<bool> {
    match (p, v) {
        (Pred::Cmp(op, lit), v) => compare_values(op, v, lit),
        (Pred::In(list, negated), Value::Str(s)) => Some(list.contains(s) != negated),
        (Pred::Matches(g, negated), Value::Str(s)) => {
            Some(writ_evaluator::Glob::new(g).is_match(s) != negated)
        }
        (Pred::Truth(b), Value::Bool(x)) => Some(*x == b),
        _ => None,
    }
}

/// The integers an ordering predicate admits, as a closed interval.
fn interval(p: Pred<'_>) -> Option<(i128, i128)> {
    let Pred::Cmp(op, v) = p else { return None };
    let n = match v {
        Value::Int(n) | Value::Duration(n) => i128::from(*n),
        _ => return None,
    };
    let (lo, hi) = (i128::from(i64::MIN), i128::from(i64::MAX));
    Some(match op {
        CmpOp::Eq => (n, n),
        CmpOp::Lt => (lo, n - 1),
        CmpOp::Le => (lo, n),
        CmpOp::Gt => (n + 1, hi),
        CmpOp::Ge => (n, hi),
        CmpOp::Ne => return None,
    })
}

/// Whether every value satisfying `a` satisfies `b` (`false` when unsure). `domain`: every
/// value the operand can have when it is known, if finite.
fn implies(a: Pred<'_>, b: Pred<'_>, domain: Option<&[Value]>) -> bool {
    if let Some(domain) = domain {
        return domain.iter().all(|v| {
            matches!((holds(a, v), holds(b, v)), (Some(false), _) | (Some(true), Some(true)))
        });
    }
    match (a, b) {
        (Pred::Cmp(CmpOp::Eq, v), b) => holds(b, v) == Some(true),
        (Pred::In(list, false), b) => {
            list.iter().all(|s| holds(b, &Value::Str(s.clone())) == Some(true))
        }
        (a, Pred::Cmp(CmpOp::Ne, w)) => holds(a, w) == Some(false),
        (a, Pred::In(list, true)) => {
            list.iter().all(|s| holds(a, &Value::Str(s.clone())) == Some(false))
        }
        (Pred::Matches(ga, false), Pred::Matches(gb, false)) => globs::within(ga, gb),
        (Pred::Matches(ga, false), Pred::Matches(gb, true)) => !globs::overlap(ga, gb),
        (Pred::Matches(ga, true), Pred::Matches(gb, true)) => globs::within(gb, ga),
        (Pred::Truth(x), Pred::Truth(y)) => x == y,
        (a, b) => match (interval(a), interval(b)) {
            (Some((alo, ahi)), Some((blo, bhi))) => alo > ahi || (blo <= alo && ahi <= bhi),
            _ => false,
        },
    }
}

/// Whether no value satisfies both (`false` when unsure).
fn excludes(a: Pred<'_>, b: Pred<'_>, domain: Option<&[Value]>) -> bool {
    if let Some(domain) = domain {
        return domain
            .iter()
            .all(|v| matches!((holds(a, v), holds(b, v)), (Some(false), _) | (_, Some(false))));
    }
    excludes_one_way(a, b) || excludes_one_way(b, a)
}

fn excludes_one_way(a: Pred<'_>, b: Pred<'_>) -> bool {
    match (a, b) {
        (Pred::Cmp(CmpOp::Eq, v), b) => holds(b, v) == Some(false),
        (Pred::In(list, false), b) => {
            list.iter().all(|s| holds(b, &Value::Str(s.clone())) == Some(false))
        }
        (Pred::Matches(ga, false), Pred::Matches(gb, false)) => !globs::overlap(ga, gb),
        (Pred::Matches(ga, false), Pred::Matches(gb, true)) => globs::within(ga, gb),
        (Pred::Truth(x), Pred::Truth(y)) => x != y,
        (a, b) => match (interval(a), interval(b)) {
            (Some((alo, ahi)), Some((blo, bhi))) => ahi < blo || bhi < alo,
            _ => false,
        },
    }
}

impl Scope<'_> {
    /// What is known about `who`: the initiator (this principal), `principal` (itself unless a
    /// chain says otherwise) or the caller (known only with a whole chain).
    fn who(&self, who: Who) -> Option<&Knowledge> {
        let k = self.known;
        match who {
            Who::Initiator => Some(k),
            Who::Principal => Some(k.principal.as_deref().unwrap_or(k)),
            Who::Caller => k.caller.as_deref(),
        }
    }

    fn operand(&self, o: &Operand) -> Opd {
        // An unknown property of the subject itself stays open as `initiator.…`.
        let open_as = |w: Who, p: &Knowledge| {
            if std::ptr::eq(p, self.known) { Who::Initiator } else { w }
        };
        match o {
            Operand::Literal(v) => Opd::Val(v.clone()),
            Operand::Depth => match self.known.depth {
                Some(d) => Opd::Val(Value::Int(i64::from(d))),
                None => Opd::Open(Operand::Depth),
            },
            Operand::Attribute(w, a) => match self.who(*w) {
                None => Opd::Open(o.clone()),
                Some(p) => match &p.attributes {
                    None => Opd::Open(Operand::Attribute(open_as(*w, p), *a)),
                    Some(values) => match values.get(a.index()) {
                        Some(Some(v)) => Opd::Val(v.clone()),
                        _ => Opd::Missing,
                    },
                },
            },
            Operand::Id(w) => match self.who(*w) {
                None => Opd::Open(o.clone()),
                Some(p) => match &p.id {
                    Some(id) => Opd::Val(Value::Str(id.clone())),
                    None => Opd::Open(Operand::Id(open_as(*w, p))),
                },
            },
            Operand::Kind(w) => match self.who(*w) {
                None => Opd::Open(o.clone()),
                Some(p) => match p.kind {
                    Some(kind) => Opd::Val(Value::Kind(kind)),
                    None => Opd::Open(Operand::Kind(open_as(*w, p))),
                },
            },
            other => Opd::Open(other.clone()),
        }
    }

    /// The values an open operand can take when known, if finitely many.
    fn domain(&self, o: &Operand) -> Option<Vec<Value>> {
        let of_type = |ty: &ValueType| match ty {
            ValueType::Enum(values) => Some(values.iter().cloned().map(Value::Str).collect()),
            ValueType::Bool => Some(vec![Value::Bool(false), Value::Bool(true)]),
            _ => None,
        };
        match o {
            Operand::Kind(Who::Caller) => Some(
                [PrincipalKind::Human, PrincipalKind::Service, PrincipalKind::Agent]
                    .into_iter()
                    .map(Value::Kind)
                    .collect(),
            ),
            // The subject (initiator, principal) is open only for a role, which is analysed
            // as held by a human or a service (a fixture's kind is known).
            Operand::Kind(_) => Some(
                [PrincipalKind::Human, PrincipalKind::Service]
                    .into_iter()
                    .map(Value::Kind)
                    .collect(),
            ),
            Operand::Arg(name) => {
                self.params.iter().find(|p| &p.name == name).and_then(|p| of_type(&p.ty))
            }
            Operand::Context(c) => self.ir.contexts.get(c.index()).and_then(|d| of_type(&d.ty)),
            Operand::Attribute(_, a) => {
                self.ir.attributes.get(a.index()).and_then(|d| of_type(&d.ty))
            }
            Operand::Depth => (self.max_depth <= 64)
                .then(|| (0..=i64::from(self.max_depth)).map(Value::Int).collect()),
            _ => None,
        }
    }

    fn depth_interval(&self) -> (i128, i128) {
        (0, i128::from(self.max_depth))
    }

    /// Evaluates one atom with what is known.
    fn atom(&self, c: &Cond) -> Atom {
        match c {
            Cond::Truth(o) => match self.operand(o) {
                Opd::Val(Value::Bool(b)) => Atom::Known(b.into()),
                Opd::Val(_) | Opd::Missing => Atom::Known(Tri::Unknown),
                Opd::Open(o) => self.fold(Cond::Truth(o)),
            },
            Cond::Compare(op, a, b) => match (self.operand(a), self.operand(b)) {
                (Opd::Val(x), Opd::Val(y)) => Atom::Known(tri(compare_values(*op, &x, &y))),
                (Opd::Missing, _) | (_, Opd::Missing) => Atom::Known(Tri::Unknown),
                (Opd::Val(x), Opd::Open(y)) => self.compare_open(flip_op(*op), y, x),
                (Opd::Open(x), Opd::Val(y)) => self.compare_open(*op, x, y),
                (Opd::Open(x), Opd::Open(y)) => Atom::Open(Cond::Compare(*op, x, y)),
            },
            Cond::In(v, l) => self.membership(self.operand(v), self.operand(l)),
            Cond::Contains(l, v) => self.membership(self.operand(v), self.operand(l)),
            Cond::Matches(o, g) => match self.operand(o) {
                Opd::Val(Value::Str(s)) => {
                    Atom::Known(writ_evaluator::Glob::new(g).is_match(&s).into())
                }
                Opd::Val(_) | Opd::Missing => Atom::Known(Tri::Unknown),
                Opd::Open(o) => self.fold(Cond::Matches(o, g.clone())),
            },
            Cond::AnyMatches(o, g) | Cond::AllMatches(o, g) => {
                let any = matches!(c, Cond::AnyMatches(..));
                match self.operand(o) {
                    Opd::Val(Value::StringList(items)) => {
                        let glob = writ_evaluator::Glob::new(g);
                        Atom::Known(if any {
                            items.iter().any(|s| glob.is_match(s)).into()
                        } else {
                            items.iter().all(|s| glob.is_match(s)).into()
                        })
                    }
                    Opd::Val(_) | Opd::Missing => Atom::Known(Tri::Unknown),
                    Opd::Open(o) if !any && globs::universal(g) => {
                        Atom::NeverFalse(Cond::AllMatches(o, g.clone()))
                    }
                    Opd::Open(o) => Atom::Open(if any {
                        Cond::AnyMatches(o, g.clone())
                    } else {
                        Cond::AllMatches(o, g.clone())
                    }),
                }
            }
            Cond::HasRole(w, r) => match self.who(*w) {
                Some(p) => Atom::Known(p.holds.get(r.index()).copied().unwrap_or(false).into()),
                None => Atom::Open(Cond::HasRole(*w, *r)),
            },
            Cond::Not(inner) => match self.atom(inner) {
                Atom::Known(t) => Atom::Known(t.not()),
                Atom::NeverTrue(c) => Atom::NeverFalse(negation(&c)),
                Atom::NeverFalse(c) => Atom::NeverTrue(negation(&c)),
                Atom::Open(c) => self.fold(negation(&c)),
            },
            // Arguments, the command line and the history are never known without a request.
            Cond::Runs(..) | Cond::RunsOnly(..) | Cond::Under(..) => Atom::Open(c.clone()),
            Cond::And(_) | Cond::Or(_) => Atom::Open(c.clone()),
        }
    }

    fn compare_open(&self, op: CmpOp, x: Operand, v: Value) -> Atom {
        if let Value::Bool(b) = v {
            let truth = Cond::Truth(x);
            return match op {
                CmpOp::Eq if b => self.fold(truth),
                CmpOp::Ne if !b => self.fold(truth),
                CmpOp::Eq | CmpOp::Ne => self.fold(Cond::Not(Box::new(truth))),
                _ => Atom::Known(Tri::Unknown),
            };
        }
        self.fold(Cond::Compare(op, x, Operand::Literal(v)))
    }

    fn membership(&self, value: Opd, list: Opd) -> Atom {
        match (value, list) {
            (Opd::Val(Value::Str(s)), Opd::Val(Value::StringList(items))) => {
                Atom::Known(items.contains(&s).into())
            }
            (Opd::Val(_), Opd::Val(_)) | (Opd::Missing, _) | (_, Opd::Missing) => {
                Atom::Known(Tri::Unknown)
            }
            (Opd::Open(x), Opd::Val(Value::StringList(items))) => {
                match <[String; 1]>::try_from(items) {
                    Ok([one]) => {
                        self.fold(Cond::Compare(CmpOp::Eq, x, Operand::Literal(Value::Str(one))))
                    }
                    Err(items) => {
                        self.fold(Cond::In(x, Operand::Literal(Value::StringList(items))))
                    }
                }
            }
            (Opd::Val(v), Opd::Open(l)) => Atom::Open(Cond::Contains(l, Operand::Literal(v))),
            (Opd::Open(x), Opd::Open(l)) => Atom::Open(Cond::In(x, l)),
            (Opd::Open(_), Opd::Val(_)) => Atom::Known(Tri::Unknown),
        }
    }

    /// Folds a constraint atom over what its operand can be: depth is between 0 and the
    /// workflow's `max_depth`; enumerations, booleans and kinds have finitely many values.
    fn fold(&self, c: Cond) -> Atom {
        let Some(con) = constraint(&c) else { return Atom::Open(c) };
        let always_known =
            matches!(con.operand, Operand::Kind(_) | Operand::Id(_) | Operand::Depth);
        let result = if *con.operand == Operand::Depth {
            let (lo, hi) = self.depth_interval();
            match (interval(con.pred), con.pred) {
                (Some((a, b)), _) if a <= lo && hi <= b => Some(true),
                (Some((a, b)), _) if b < lo || hi < a => Some(false),
                (None, Pred::Cmp(CmpOp::Ne, Value::Int(n))) => {
                    let n = i128::from(*n);
                    if n < lo || n > hi {
                        Some(true)
                    } else if lo == hi {
                        Some(false)
                    } else {
                        None
                    }
                }
                _ => None,
            }
        } else if let Some(domain) = self.domain(con.operand) {
            let values: Option<Vec<bool>> = domain.iter().map(|v| holds(con.pred, v)).collect();
            match values {
                Some(v) if v.iter().all(|b| *b) => Some(true),
                Some(v) if v.iter().all(|b| !*b) => Some(false),
                _ => None,
            }
        } else {
            match con.pred {
                Pred::Matches(g, negated) if globs::universal(g) => Some(!negated),
                Pred::In([], negated) => Some(negated),
                _ => None,
            }
        };
        match result {
            Some(b) if always_known => Atom::Known(b.into()),
            Some(true) => Atom::NeverFalse(c),
            Some(false) => Atom::NeverTrue(c),
            None => Atom::Open(c),
        }
    }

    /// Whether `a` being true makes `b` true (for `and`: `b` may be dropped beside `a`; for
    /// `or`: `a` may be dropped beside `b`). Sound in both modes: the two atoms read one operand
    /// and are unknown together.
    fn implies_cond(&self, a: &Cond, b: &Cond) -> bool {
        if a == b {
            return true;
        }
        match (a, b) {
            (_, Cond::Or(items)) => items.iter().any(|i| self.implies_cond(a, i)),
            (Cond::And(items), _) => items.iter().any(|i| self.implies_cond(i, b)),
            _ => match (constraint(a), constraint(b)) {
                (Some(x), Some(y)) if x.operand == y.operand => {
                    implies(x.pred, y.pred, self.domain(x.operand).as_deref())
                }
                _ => false,
            },
        }
    }

    /// Whether `a` and `b` can never both be true.
    fn excludes_cond(&self, a: &Cond, b: &Cond) -> bool {
        if *a == negation(b) {
            return true;
        }
        match (constraint(a), constraint(b)) {
            (Some(x), Some(y)) if x.operand == y.operand => {
                excludes(x.pred, y.pred, self.domain(x.operand).as_deref())
            }
            _ => false,
        }
    }

    /// The residual of `c` (any shape) for `mode`, assuming every atom of `assume` is true.
    pub fn residual(&self, c: &Cond, mode: Mode, assume: &[Cond]) -> Simple {
        let mut current = self.simp(&nnf(c, false), mode, assume, 0);
        // A few more rounds: an atom that a round produced can simplify its siblings.
        for _ in 0..4 {
            let Simple::Residual(c) = &current else { break };
            let next = self.simp(c, mode, assume, 0);
            if next == current {
                break;
            }
            current = next;
        }
        current
    }

    fn simp(&self, c: &Cond, mode: Mode, assume: &[Cond], depth: usize) -> Simple {
        if depth > MAX_DEPTH {
            return Simple::Residual(c.clone());
        }
        match c {
            Cond::And(items) => self.and(items, mode, assume, depth),
            Cond::Or(items) => self.or(items, mode, assume, depth),
            atom => {
                let a = self.atom(atom);
                match (a, mode) {
                    (Atom::Known(Tri::True), _) | (Atom::NeverFalse(_), Mode::MayApply) => {
                        Simple::True
                    }
                    (Atom::Known(Tri::False), _) | (Atom::NeverTrue(_), Mode::MustHold) => {
                        Simple::False
                    }
                    (Atom::Known(Tri::Unknown), Mode::MustHold) => Simple::False,
                    (Atom::Known(Tri::Unknown), Mode::MayApply) => Simple::True,
                    (Atom::NeverTrue(a) | Atom::NeverFalse(a) | Atom::Open(a), _) => {
                        self.assumed(a, assume)
                    }
                }
            }
        }
    }

    /// An open atom, given atoms assumed true.
    fn assumed(&self, atom: Cond, assume: &[Cond]) -> Simple {
        for a in assume {
            if self.implies_cond(a, &atom) {
                return Simple::True;
            }
            if self.excludes_cond(a, &atom) {
                return Simple::False;
            }
        }
        Simple::Residual(atom)
    }

    fn and(&self, items: &[Cond], mode: Mode, assume: &[Cond], depth: usize) -> Simple {
        // In MustHold mode the atoms of an `and` are assumed true while its other members are
        // simplified: an atom is simplified assuming the atoms before it, anything else
        // assuming all of them.
        let siblings: Vec<(usize, Cond)> = if mode == Mode::MustHold {
            items
                .iter()
                .enumerate()
                .filter(|(_, i)| is_atom(i))
                .filter_map(|(n, i)| match self.atom(i) {
                    Atom::Open(a) | Atom::NeverTrue(a) | Atom::NeverFalse(a) => Some((n, a)),
                    Atom::Known(_) => None,
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut out: Vec<Cond> = Vec::new();
        for (n, item) in items.iter().enumerate() {
            let mut local = assume.to_vec();
            let atom = is_atom(item);
            local.extend(
                siblings
                    .iter()
                    .filter(|(m, _)| if atom { *m < n } else { true })
                    .map(|(_, a)| a.clone()),
            );
            match self.simp(item, mode, &local, depth + 1) {
                Simple::False => return Simple::False,
                Simple::True => {}
                Simple::Residual(Cond::And(inner)) => out.extend(inner),
                Simple::Residual(c) => out.push(c),
            }
        }
        dedupe(&mut out);
        if mode == Mode::MustHold && self.contradictory(&out) {
            return Simple::False;
        }
        // Drop members implied by another (absorption included: `a and (a or b)` is `a`).
        let mut out = drop_redundant(out, |member, other| self.implies_cond(other, member));
        match out.len() {
            0 => Simple::True,
            1 => Simple::Residual(out.remove(0)),
            _ => Simple::Residual(Cond::And(out)),
        }
    }

    /// Whether the members of an `and` can never all be true: two exclude each other, or the
    /// atoms over one operand with finitely many values leave it none.
    fn contradictory(&self, items: &[Cond]) -> bool {
        for (i, a) in items.iter().enumerate() {
            if items.iter().skip(i + 1).any(|b| self.excludes_cond(a, b)) {
                return true;
            }
        }
        let cons: Vec<Constraint<'_>> = items.iter().filter_map(constraint).collect();
        let mut seen: Vec<&Operand> = Vec::new();
        for c in &cons {
            if seen.contains(&c.operand) {
                continue;
            }
            seen.push(c.operand);
            let Some(domain) = self.domain(c.operand) else { continue };
            let same: Vec<Pred<'_>> =
                cons.iter().filter(|d| d.operand == c.operand).map(|d| d.pred).collect();
            if same.len() > 2
                && domain.iter().all(|v| same.iter().any(|p| holds(*p, v) == Some(false)))
            {
                return true;
            }
        }
        false
    }

    fn or(&self, items: &[Cond], mode: Mode, assume: &[Cond], depth: usize) -> Simple {
        let mut out: Vec<Cond> = Vec::new();
        for item in items {
            match self.simp(item, mode, assume, depth + 1) {
                Simple::True => return Simple::True,
                Simple::False => {}
                Simple::Residual(Cond::Or(inner)) => out.extend(inner),
                Simple::Residual(c) => out.push(c),
            }
        }
        dedupe(&mut out);
        // Drop members that imply another (absorption included: `a or (a and b)` is `a`).
        let mut out = drop_redundant(out, |member, other| self.implies_cond(member, other));
        match out.len() {
            0 => Simple::False,
            1 => Simple::Residual(out.remove(0)),
            _ => Simple::Residual(Cond::Or(out)),
        }
    }
}

fn dedupe(items: &mut Vec<Cond>) {
    let mut seen: Vec<Cond> = Vec::with_capacity(items.len());
    items.retain(|c| {
        if seen.contains(c) {
            false
        } else {
            seen.push(c.clone());
            true
        }
    });
}

/// The top-level conjuncts of a residual: what a request that passes certainly satisfies.
pub fn conjuncts(c: &Cond) -> Vec<Cond> {
    match c {
        Cond::And(items) => items.iter().filter(|i| is_atom(i)).cloned().collect(),
        Cond::Or(_) => Vec::new(),
        atom => vec![atom.clone()],
    }
}

/// The members of `items` in order, without each one that `redundant(member, other)` says is
/// redundant next to another member still kept (earlier members are dropped first, so of two
/// equivalent members the later one stays).
fn drop_redundant(items: Vec<Cond>, redundant: impl Fn(&Cond, &Cond) -> bool) -> Vec<Cond> {
    let mut keep = vec![true; items.len()];
    for (i, member) in items.iter().enumerate() {
        let dropped = items
            .iter()
            .zip(&keep)
            .enumerate()
            .any(|(j, (other, &kept))| j != i && kept && redundant(member, other));
        if let Some(kept) = keep.get_mut(i).filter(|_| dropped) {
            *kept = false;
        }
    }
    items.into_iter().zip(keep).filter_map(|(item, kept)| kept.then_some(item)).collect()
}
