//! The search: a goal over the values of one request, and a depth-first walk over finitely many
//! candidate values per variable that finds an assignment making the goal true, or shows there
//! is none.
//!
//! A goal is a condition in Kleene logic (LANGUAGE.md §4) over *variables*: the chain's depth,
//! each principal slot's kind, id, directly given roles and attributes, the call's arguments,
//! context values, `calls(...)` and `given(...)` counts, and one boolean per shell-command or
//! relative-`under` atom (a *feature*, realized by a concrete value at the leaf, see
//! `commands.rs`). Unassigned variables read as unknown; every Kleene operator is monotone, so a
//! goal that is true (false) with some variables unassigned stays true (false) however they are
//! assigned, or left absent in the request. The walk prunes on false and stops at true.
//!
//! Candidates are exact per variable: every class of values that the goal's atoms can tell apart
//! has a representative (string regions from `strings.rs`, integers around every constant they
//! are compared with, every enumeration value, ...). Where that cannot be promised (a comparison
//! of two counts, too many string states) the search says so, and a goal it finds unsatisfiable
//! is then "unknown", never "holds".

use std::collections::{BTreeMap, HashMap};

use writ_evaluator::Tri;
use writ_evaluator::ir::{CmpOp, PrincipalKind};

use super::strings::{self, Pattern, Shape};

/// A principal of the chain that conditions can tell apart. Principals between the initiator
/// and the caller are agents (they only ever narrow), but for one, `Middle`, which may be the
/// chain's accountable human or service when both ends are agents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    Initiator,
    Caller,
    Middle,
}

/// One value of the request the search chooses.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Var {
    /// The chain's length minus one.
    Depth,
    Kind(Slot),
    Id(Slot),
    /// A role given directly (by name: roles named in the request's `roles`).
    Role(Slot, String),
    Attr(Slot, String),
    Arg(String),
    Context(String),
    /// `calls(...)`, by its index in [`Goal::calls`].
    Calls(usize),
    /// `given(...)`, by its index in the claim's list.
    Given(usize),
    /// A shell-command or relative-`under` atom, by its index in [`Goal::features`].
    Feature(usize),
    /// A start's requested `ttl`, in seconds.
    Ttl,
}

/// The type of a variable, for its candidates.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    Str(Shape),
    Enum(Vec<String>),
    /// An integer at least `min`.
    Int {
        min: i64,
    },
    /// Seconds, at least 0.
    Duration,
    /// A count: 0 to the largest constant it meets, plus one standing for "more".
    Count,
    Bool,
    Kind,
    List,
    /// 0 to the bound.
    Depth(u32),
}

/// A value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Val {
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<String>),
    Kind(PrincipalKind),
    /// Absent from the request (unknown to conditions).
    Absent,
}

/// An operand, compiled.
#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    Const(Val),
    Var(usize),
    /// `caller.X`: the initiator's variable when the depth is 0, else the caller's.
    ByDepth {
        initiator: usize,
        caller: usize,
    },
}

/// A condition, compiled.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Const(Tri),
    Truth(Term),
    Cmp(CmpOp, Term, Term),
    /// `value in list`
    In(Term, Term),
    /// `list contains value`
    Contains(Term, Term),
    Matches(Term, Pattern),
    AnyMatches(Term, Pattern),
    AllMatches(Term, Pattern),
    /// A resolved path is the directory or beneath it.
    Under(Term, String),
    /// The kind term is one of these.
    KindIn(Term, Vec<PrincipalKind>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// True when the inner expression is false or unknown (a deny that does not apply, seen
    /// from the other side; a decision other than allow). Not monotone: while the inner is
    /// undetermined so is this, and a request leaves unassigned values absent.
    NotTrue(Box<Expr>),
}

/// What the search knows about one variable.
#[derive(Clone, Debug)]
pub struct VarInfo {
    pub var: Var,
    pub ty: Ty,
    /// Whether a value matters after the goal is true (a `require ... for` condition, a count
    /// whose history or evidence must exist).
    pub for_leaf: bool,
}

/// How values absent from the request are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Absence {
    /// Never chosen: a goal that only asks for true (false) conditions is met by defined values
    /// whenever by any (Kleene monotonicity).
    Excluded,
    /// A candidate of every optional value (for goals that ask a condition not to be true).
    Included,
}

/// The outcome of a leaf check.
pub enum Leaf<T> {
    Found(T),
    /// This assignment cannot be completed; keep searching.
    Reject,
    /// Cannot be decided for this assignment (the reason); keep searching.
    Undecided(String),
}

/// The result of a search.
pub enum Outcome<T> {
    Found(T),
    /// No assignment works, exactly.
    None,
    /// No assignment found, but the search was not exact: why.
    Unknown(String),
}

/// How far a search may go before it gives up (and answers unknown).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Nodes of the walk.
    pub nodes: u64,
    /// Leaf checks (building a request: evidence, command lines).
    pub leaves: u64,
    /// Product states when telling string patterns apart (`strings.rs`).
    pub states: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { nodes: MAX_NODES, leaves: u64::MAX, states: strings::MAX_STATES }
    }
}

/// A goal with its variables.
#[derive(Clone, Debug, Default)]
pub struct Goal {
    /// How far its search may go.
    pub limits: Limits,
    pub vars: Vec<VarInfo>,
    index: HashMap<Var, usize>,
    /// Patterns each string-like variable meets (by variable); literal comparisons included.
    patterns: BTreeMap<usize, Vec<Pattern>>,
    /// Integer constants each integer-like variable meets.
    ints: BTreeMap<usize, Vec<i64>>,
    /// List literals each list variable is compared with.
    lists: BTreeMap<usize, Vec<Vec<String>>>,
    /// Variables compared with each other: union-find parents.
    parent: Vec<usize>,
    /// Features, by index (see `commands.rs`).
    pub features: Vec<super::commands::Feature>,
    /// `calls(...)` operands, by index.
    pub calls: Vec<writ_evaluator::ir::CallsIr>,
    /// Why candidates may be incomplete.
    pub inexact: Vec<String>,
}

impl Goal {
    pub fn var(&mut self, var: Var, ty: Ty) -> usize {
        if let Some(i) = self.index.get(&var) {
            return *i;
        }
        let i = self.vars.len();
        self.vars.push(VarInfo { var: var.clone(), ty, for_leaf: false });
        self.index.insert(var, i);
        self.parent.push(i);
        i
    }

    pub fn find(&self, var: &Var) -> Option<usize> {
        self.index.get(var).copied()
    }

    pub fn mark_for_leaf(&mut self, e: &Expr) {
        let mut vars = Vec::new();
        vars_of(e, &mut vars);
        for v in vars {
            if let Some(info) = self.vars.get_mut(v) {
                info.for_leaf = true;
            }
        }
    }

    pub fn mark_var_for_leaf(&mut self, v: usize) {
        if let Some(info) = self.vars.get_mut(v) {
            info.for_leaf = true;
        }
    }

    pub fn add_pattern(&mut self, v: usize, p: Pattern) {
        let list = self.patterns.entry(v).or_default();
        if !list.contains(&p) {
            list.push(p);
        }
    }

    pub fn add_int(&mut self, v: usize, c: i64) {
        let list = self.ints.entry(v).or_default();
        if !list.contains(&c) {
            list.push(c);
        }
    }

    fn root(&self, mut v: usize) -> usize {
        let mut guard = 0;
        while let Some(&p) = self.parent.get(v) {
            if p == v || guard > self.parent.len() {
                break;
            }
            v = p;
            guard += 1;
        }
        v
    }

    pub fn link(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra != rb
            && let Some(slot) = self.parent.get_mut(ra)
        {
            *slot = rb;
        }
    }

    /// Records what an expression tells about its variables' candidates.
    pub fn note(&mut self, e: &Expr) {
        match e {
            Expr::Const(_) | Expr::Truth(_) | Expr::KindIn(..) => {}
            Expr::Cmp(_, a, b) | Expr::In(a, b) | Expr::Contains(a, b) => {
                let (va, vb) = (term_vars(a), term_vars(b));
                match (&va[..], &vb[..], a, b) {
                    ([], _, Term::Const(c), _) => {
                        for v in vb {
                            self.note_const(v, c);
                        }
                    }
                    (_, [], _, Term::Const(c)) => {
                        for v in va {
                            self.note_const(v, c);
                        }
                    }
                    _ => {
                        for x in &va {
                            for y in &vb {
                                self.link(*x, *y);
                                let counts = [*x, *y].iter().any(|v| {
                                    matches!(self.vars.get(*v).map(|i| &i.ty), Some(Ty::Count))
                                });
                                if counts {
                                    self.inexact.push(
                                        "a count is compared with another value of the request"
                                            .into(),
                                    );
                                }
                            }
                        }
                    }
                }
            }
            Expr::Matches(t, p) | Expr::AnyMatches(t, p) | Expr::AllMatches(t, p) => {
                for v in term_vars(t) {
                    self.add_pattern(v, p.clone());
                }
            }
            Expr::Under(t, dir) => {
                for v in term_vars(t) {
                    self.add_pattern(v, Pattern::literal(dir));
                    self.add_pattern(v, Pattern::beneath(dir));
                }
            }
            Expr::And(items) | Expr::Or(items) => {
                for i in items {
                    self.note(i);
                }
            }
            Expr::Not(inner) | Expr::NotTrue(inner) => self.note(inner),
        }
    }

    fn note_const(&mut self, v: usize, c: &Val) {
        match c {
            Val::Str(s) => self.add_pattern(v, Pattern::literal(s)),
            Val::List(items) => {
                for s in items {
                    self.add_pattern(v, Pattern::literal(s));
                }
                self.lists.entry(v).or_default().push(items.clone());
            }
            Val::Int(i) => self.add_int(v, *i),
            _ => {}
        }
    }
}

/// The variables an expression reads.
pub fn vars_of(e: &Expr, out: &mut Vec<usize>) {
    let push = |t: &Term, out: &mut Vec<usize>| {
        for v in term_vars(t) {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    };
    match e {
        Expr::Const(_) => {}
        Expr::Truth(t)
        | Expr::Matches(t, _)
        | Expr::AnyMatches(t, _)
        | Expr::AllMatches(t, _)
        | Expr::Under(t, _)
        | Expr::KindIn(t, _) => push(t, out),
        Expr::Cmp(_, a, b) | Expr::In(a, b) | Expr::Contains(a, b) => {
            push(a, out);
            push(b, out);
        }
        Expr::And(items) | Expr::Or(items) => {
            for i in items {
                vars_of(i, out);
            }
        }
        Expr::Not(inner) | Expr::NotTrue(inner) => vars_of(inner, out),
    }
}

fn term_vars(t: &Term) -> Vec<usize> {
    match t {
        Term::Const(_) => Vec::new(),
        Term::Var(v) => vec![*v],
        Term::ByDepth { initiator, caller } => vec![*initiator, *caller],
    }
}

/// An assignment: one slot per variable.
pub type Assignment = Vec<Option<Val>>;

/// How unassigned variables read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Not chosen yet: open (any value, absence included, may still come).
    Partial,
    /// Absent from the request.
    Final,
}

/// A truth value under a partial assignment: a value of §4's three, or still open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Four {
    Known(Tri),
    /// Depends on variables not assigned yet.
    Open,
}

/// What a term reads.
enum Read<'t> {
    Value(&'t Val),
    Absent,
    Open,
}

struct Eval<'a> {
    values: &'a Assignment,
    depth: Option<usize>,
    reading: Reading,
}

impl Eval<'_> {
    fn slot(&self, v: usize) -> Read<'_> {
        match self.values.get(v).and_then(Option::as_ref) {
            Some(Val::Absent) => Read::Absent,
            Some(val) => Read::Value(val),
            None if self.reading == Reading::Final => Read::Absent,
            None => Read::Open,
        }
    }

    fn term<'t>(&'t self, t: &'t Term) -> Read<'t> {
        match t {
            Term::Const(Val::Absent) => Read::Absent,
            Term::Const(c) => Read::Value(c),
            Term::Var(v) => self.slot(*v),
            Term::ByDepth { initiator, caller } => match self.depth.map(|d| self.slot(d)) {
                Some(Read::Value(Val::Int(0))) => self.slot(*initiator),
                Some(Read::Value(Val::Int(_))) => self.slot(*caller),
                Some(Read::Open) => Read::Open,
                _ => self.slot(*initiator),
            },
        }
    }

    /// One operand's value through `f`; open or unknown as the operand is.
    fn one(&self, t: &Term, f: impl Fn(&Val) -> Tri) -> Four {
        match self.term(t) {
            Read::Value(v) => Four::Known(f(v)),
            Read::Absent => Four::Known(Tri::Unknown),
            Read::Open => Four::Open,
        }
    }

    fn two(&self, a: &Term, b: &Term, f: impl Fn(&Val, &Val) -> Tri) -> Four {
        match (self.term(a), self.term(b)) {
            (Read::Value(x), Read::Value(y)) => Four::Known(f(x, y)),
            (Read::Open, _) | (_, Read::Open) => Four::Open,
            _ => Four::Known(Tri::Unknown),
        }
    }

    fn expr(&self, e: &Expr) -> Four {
        match e {
            Expr::Const(t) => Four::Known(*t),
            Expr::Truth(t) => self.one(t, |v| match v {
                Val::Bool(b) => Tri::from(*b),
                _ => Tri::Unknown,
            }),
            Expr::Cmp(op, a, b) => self.two(a, b, |x, y| compare(*op, x, y)),
            Expr::In(v, l) => self.two(v, l, |x, y| match (x, y) {
                (Val::Str(s), Val::List(items)) => Tri::from(items.contains(s)),
                _ => Tri::Unknown,
            }),
            Expr::Contains(l, v) => self.two(l, v, |x, y| match (x, y) {
                (Val::List(items), Val::Str(s)) => Tri::from(items.contains(s)),
                _ => Tri::Unknown,
            }),
            Expr::Matches(t, p) => self.one(t, |v| match v {
                Val::Str(s) => Tri::from(p.matches(s)),
                _ => Tri::Unknown,
            }),
            Expr::AnyMatches(t, p) => self.one(t, |v| match v {
                Val::List(items) => Tri::from(items.iter().any(|s| p.matches(s))),
                _ => Tri::Unknown,
            }),
            Expr::AllMatches(t, p) => self.one(t, |v| match v {
                Val::List(items) => Tri::from(items.iter().all(|s| p.matches(s))),
                _ => Tri::Unknown,
            }),
            Expr::Under(t, dir) => self.one(t, |v| match v {
                Val::Str(s) => Tri::from(writ_evaluator::path::is_under(s, dir)),
                _ => Tri::Unknown,
            }),
            Expr::KindIn(t, kinds) => self.one(t, |v| match v {
                Val::Kind(k) => Tri::from(kinds.contains(k)),
                _ => Tri::Unknown,
            }),
            Expr::And(items) => {
                let (mut open, mut unknown) = (false, false);
                for i in items {
                    match self.expr(i) {
                        Four::Known(Tri::False) => return Four::Known(Tri::False),
                        Four::Open => open = true,
                        Four::Known(Tri::Unknown) => unknown = true,
                        Four::Known(Tri::True) => {}
                    }
                }
                if open {
                    Four::Open
                } else if unknown {
                    Four::Known(Tri::Unknown)
                } else {
                    Four::Known(Tri::True)
                }
            }
            Expr::Or(items) => {
                let (mut open, mut unknown) = (false, false);
                for i in items {
                    match self.expr(i) {
                        Four::Known(Tri::True) => return Four::Known(Tri::True),
                        Four::Open => open = true,
                        Four::Known(Tri::Unknown) => unknown = true,
                        Four::Known(Tri::False) => {}
                    }
                }
                if open {
                    Four::Open
                } else if unknown {
                    Four::Known(Tri::Unknown)
                } else {
                    Four::Known(Tri::False)
                }
            }
            Expr::Not(inner) => match self.expr(inner) {
                Four::Known(t) => Four::Known(t.not()),
                Four::Open => Four::Open,
            },
            Expr::NotTrue(inner) => match self.expr(inner) {
                Four::Known(Tri::True) => Four::Known(Tri::False),
                Four::Known(_) => Four::Known(Tri::True),
                Four::Open => Four::Open,
            },
        }
    }
}

fn compare(op: CmpOp, a: &Val, b: &Val) -> Tri {
    use std::cmp::Ordering;
    let order: Option<Ordering> = match (a, b) {
        (Val::Int(x), Val::Int(y)) => Some(x.cmp(y)),
        _ => None,
    };
    let eq = match (a, b) {
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::Int(x), Val::Int(y)) => x == y,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::List(x), Val::List(y)) => x == y,
        (Val::Kind(x), Val::Kind(y)) => x == y,
        _ => return Tri::Unknown,
    };
    match op {
        CmpOp::Eq => Tri::from(eq),
        CmpOp::Ne => Tri::from(!eq),
        CmpOp::Lt => order.map_or(Tri::Unknown, |o| Tri::from(o.is_lt())),
        CmpOp::Le => order.map_or(Tri::Unknown, |o| Tri::from(o.is_le())),
        CmpOp::Gt => order.map_or(Tri::Unknown, |o| Tri::from(o.is_gt())),
        CmpOp::Ge => order.map_or(Tri::Unknown, |o| Tri::from(o.is_ge())),
    }
}

/// Evaluates an expression over a finished assignment (unassigned values absent).
pub fn final_value(goal: &Goal, values: &Assignment, e: &Expr) -> Tri {
    let depth = goal.find(&Var::Depth);
    match (Eval { values, depth, reading: Reading::Final }).expr(e) {
        Four::Known(t) => t,
        Four::Open => Tri::Unknown,
    }
}

/// The walk's limits: nodes visited before the search gives up (as unknown).
pub const MAX_NODES: u64 = 4_000_000;

impl Goal {
    /// The candidates of every variable, in the order they are tried.
    fn candidates(&self, absence: Absence) -> (Vec<Vec<Val>>, Vec<String>) {
        let mut inexact = self.inexact.clone();
        // Classes of variables compared with each other share patterns and constants.
        let mut class_patterns: HashMap<usize, Vec<Pattern>> = HashMap::new();
        let mut class_ints: HashMap<usize, Vec<i64>> = HashMap::new();
        let mut class_size: HashMap<usize, usize> = HashMap::new();
        let mut class_lists: HashMap<usize, Vec<Vec<String>>> = HashMap::new();
        for v in 0..self.vars.len() {
            let r = self.root(v);
            *class_size.entry(r).or_default() += 1;
            if let Some(ps) = self.patterns.get(&v) {
                let list = class_patterns.entry(r).or_default();
                for p in ps {
                    if !list.contains(p) {
                        list.push(p.clone());
                    }
                }
            }
            if let Some(cs) = self.ints.get(&v) {
                class_ints.entry(r).or_default().extend(cs.iter().copied());
            }
            if let Some(ls) = self.lists.get(&v) {
                class_lists.entry(r).or_default().extend(ls.iter().cloned());
            }
        }
        let mut out = Vec::new();
        for (v, info) in self.vars.iter().enumerate() {
            let r = self.root(v);
            let size = class_size.get(&r).copied().unwrap_or(1).max(1);
            let patterns = class_patterns.get(&r).cloned().unwrap_or_default();
            let ints = class_ints.get(&r).cloned().unwrap_or_default();
            let mut vals: Vec<Val> = match &info.ty {
                Ty::Bool => vec![Val::Bool(true), Val::Bool(false)],
                Ty::Kind => vec![
                    Val::Kind(PrincipalKind::Human),
                    Val::Kind(PrincipalKind::Agent),
                    Val::Kind(PrincipalKind::Service),
                ],
                Ty::Enum(values) => values.iter().map(|s| Val::Str(s.clone())).collect(),
                Ty::Depth(max) => (0..=i64::from(*max)).map(Val::Int).collect(),
                Ty::Str(shape) => {
                    let found = strings::regions(&patterns, *shape, size, self.limits.states);
                    if found.incomplete {
                        inexact.push("the string patterns are too many to explore".into());
                    }
                    found.strings.into_iter().map(Val::Str).collect()
                }
                Ty::List => {
                    let found = strings::regions(&patterns, Shape::Any, 1, self.limits.states);
                    if found.incomplete {
                        inexact.push("the string patterns are too many to explore".into());
                    }
                    let reps = found.strings;
                    let mut lists: Vec<Vec<String>> = Vec::new();
                    if reps.len() <= 5 {
                        for mask in 0u32..(1 << reps.len()) {
                            lists.push(
                                reps.iter()
                                    .enumerate()
                                    .filter(|(i, _)| mask & (1 << i) != 0)
                                    .map(|(_, s)| s.clone())
                                    .collect(),
                            );
                        }
                    } else {
                        inexact.push(format!(
                            "a list meets {} kinds of strings; only lists of up to two are tried",
                            reps.len()
                        ));
                        lists.push(Vec::new());
                        for (i, a) in reps.iter().enumerate() {
                            lists.push(vec![a.clone()]);
                            for b in reps.iter().skip(i + 1) {
                                lists.push(vec![a.clone(), b.clone()]);
                            }
                        }
                    }
                    for l in class_lists.get(&r).into_iter().flatten() {
                        if !lists.contains(l) {
                            lists.push(l.clone());
                        }
                    }
                    lists.sort_by_key(Vec::len);
                    lists.into_iter().map(Val::List).collect()
                }
                Ty::Int { min } => {
                    let spread = size as i64;
                    let mut set: Vec<i64> = vec![0];
                    for c in &ints {
                        for d in -spread..=spread {
                            set.push(c.saturating_add(d));
                        }
                    }
                    set.retain(|x| x >= min);
                    set.sort();
                    set.dedup();
                    set.into_iter().map(Val::Int).collect()
                }
                Ty::Duration => {
                    let spread = size as i64;
                    let mut set: Vec<i64> = vec![0];
                    for c in &ints {
                        for d in -spread..=spread {
                            set.push(c.saturating_add(d));
                        }
                    }
                    set.retain(|x| *x >= 0);
                    set.sort();
                    set.dedup();
                    set.into_iter().map(Val::Int).collect()
                }
                Ty::Count => (0..=self.count_top(v) + 1).map(Val::Int).collect(),
            };
            let optional = matches!(
                info.var,
                Var::Attr(..) | Var::Arg(_) | Var::Context(_) | Var::Calls(_) | Var::Ttl
            );
            if absence == Absence::Included && optional {
                vals.push(Val::Absent);
            }
            out.push(vals);
        }
        inexact.sort();
        inexact.dedup();
        (out, inexact)
    }

    /// The largest constant a count variable (or any variable compared with it) meets: its
    /// candidates are 0 to this, exactly, and one more, standing for "more than this".
    pub fn count_top(&self, v: usize) -> i64 {
        let r = self.root(v);
        (0..self.vars.len())
            .filter(|x| self.root(*x) == r)
            .filter_map(|x| self.ints.get(&x))
            .flatten()
            .copied()
            .max()
            .unwrap_or(0)
            .clamp(0, 64)
    }

    /// The order variables are tried in: the depth, then kinds, then the rest as they first
    /// appear in the goal (so that the goal's first members are settled first), then those only
    /// the leaf reads.
    fn order(&self, goal: &Expr) -> Vec<usize> {
        let mut order = Vec::new();
        vars_of(goal, &mut order);
        for v in 0..self.vars.len() {
            if !order.contains(&v) {
                order.push(v);
            }
        }
        order.sort_by_key(|v| match self.vars.get(*v).map(|i| &i.var) {
            Some(Var::Depth) => 0,
            Some(Var::Kind(_)) => 1,
            _ => 2,
        });
        order
    }

    /// Searches for an assignment that makes `goal` true and that `leaf` completes.
    pub fn search<T>(
        &self,
        goal: &Expr,
        absence: Absence,
        leaf: &mut dyn FnMut(&Assignment) -> Leaf<T>,
    ) -> Outcome<T> {
        let limit = self.limits.nodes;
        let (candidates, inexact) = self.candidates(absence);
        let order = self.order(goal);
        let mut state = Walk {
            goal: self,
            expr: goal,
            candidates: &candidates,
            order: &order,
            values: vec![None; self.vars.len()],
            nodes: 0,
            undecided: Vec::new(),
            depth: self.find(&Var::Depth),
            limit,
            leaves: self.limits.leaves,
        };
        match state.walk(0, leaf) {
            Some(t) => Outcome::Found(t),
            None if state.leaves == 0 => {
                Outcome::Unknown("the search gave up after trying too many requests".into())
            }
            None if state.nodes > limit => {
                Outcome::Unknown(format!("the search gave up after {limit} steps"))
            }
            None if !state.undecided.is_empty() => {
                Outcome::Unknown(state.undecided.first().cloned().unwrap_or_default())
            }
            None if !inexact.is_empty() => Outcome::Unknown(inexact.join("; ")),
            None => Outcome::None,
        }
    }
}

struct Walk<'a> {
    goal: &'a Goal,
    expr: &'a Expr,
    candidates: &'a [Vec<Val>],
    order: &'a [usize],
    values: Assignment,
    nodes: u64,
    undecided: Vec<String>,
    depth: Option<usize>,
    limit: u64,
    /// Leaf checks left.
    leaves: u64,
}

impl Walk<'_> {
    fn value(&self, reading: Reading) -> Four {
        Eval { values: &self.values, depth: self.depth, reading }.expr(self.expr)
    }

    fn walk<T>(&mut self, at: usize, leaf: &mut dyn FnMut(&Assignment) -> Leaf<T>) -> Option<T> {
        self.nodes += 1;
        if self.nodes > self.limit {
            return None;
        }
        // False, or unknown for good: no assignment of the rest makes the goal true.
        let now = self.value(Reading::Partial);
        if matches!(now, Four::Known(Tri::False | Tri::Unknown)) {
            return None;
        }
        let done = at >= self.order.len();
        if now == Four::Known(Tri::True)
            || (done && self.value(Reading::Final) == Four::Known(Tri::True))
        {
            if self.leaves == 0 {
                self.nodes = self.limit.saturating_add(1);
                return None;
            }
            self.leaves -= 1;
            match leaf(&self.values) {
                Leaf::Found(t) => return Some(t),
                Leaf::Reject => {}
                Leaf::Undecided(reason) => {
                    if !self.undecided.contains(&reason) {
                        self.undecided.push(reason);
                    }
                }
            }
            // Only what the leaf reads can still change its answer.
            let mut next = at;
            while let Some(v) = self.order.get(next) {
                if self.goal.vars.get(*v).is_some_and(|i| i.for_leaf) {
                    break;
                }
                next += 1;
            }
            if next >= self.order.len() {
                return None;
            }
            return self.branch(next, leaf);
        }
        if done {
            return None;
        }
        self.branch(at, leaf)
    }

    fn branch<T>(&mut self, at: usize, leaf: &mut dyn FnMut(&Assignment) -> Leaf<T>) -> Option<T> {
        let v = *self.order.get(at)?;
        let options = self.candidates.get(v)?.clone();
        for value in options {
            if let Some(slot) = self.values.get_mut(v) {
                *slot = Some(value);
            }
            if let Some(t) = self.walk(at + 1, leaf) {
                return Some(t);
            }
            if self.nodes > self.limit {
                break;
            }
        }
        if let Some(slot) = self.values.get_mut(v) {
            *slot = None;
        }
        None
    }
}
