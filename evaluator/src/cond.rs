//! Conditions in their evaluated form, and their three-valued evaluation (LANGUAGE.md §4).
//!
//! [`crate::Policy::from_ir`] type-checks every [`crate::ir::Cond`] and compiles it into a
//! [`CCond`]: operands carry their static type (so that a request string is read as a duration
//! where a duration is expected), names are resolved, and globs are compiled once.

use serde::Serialize;

use crate::glob::Glob;
use crate::ir::{CmpOp, PrincipalKind, RoleId, ToolId, Who};
use crate::render;
use crate::request::HistoryEntry;
use crate::request::{Principal, RequestValue, Str, parse_duration};
use crate::shell::{self, CommandLine, Pattern};
use crate::time::Timestamp;

/// A three-valued truth value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tri {
    /// Known to be false.
    False,
    /// Not known: the condition reads a value the request lacks. Rules treat it so as to fail
    /// closed (a deny or `require ... for` applies, an allow, start or `may` does not).
    Unknown,
    /// Known to be true.
    True,
}

impl Tri {
    /// Kleene conjunction.
    pub fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::False, _) | (_, Tri::False) => Tri::False,
            (Tri::True, Tri::True) => Tri::True,
            _ => Tri::Unknown,
        }
    }

    /// Kleene disjunction.
    pub fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::True, _) | (_, Tri::True) => Tri::True,
            (Tri::False, Tri::False) => Tri::False,
            _ => Tri::Unknown,
        }
    }

    /// Kleene negation (`not unknown` is unknown).
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }

    /// The value as traces and JSON write it: `true`, `false`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tri::True => "true",
            Tri::False => "false",
            Tri::Unknown => "unknown",
        }
    }
}

impl From<bool> for Tri {
    fn from(b: bool) -> Tri {
        if b { Tri::True } else { Tri::False }
    }
}

impl std::fmt::Display for Tri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The static type of an operand, as far as evaluation cares (an enumeration is a string).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Str,
    Int,
    Bool,
    Duration,
    List,
    Kind,
    /// A `command` argument: read only by `runs` and `runs only`.
    Command,
}

impl Class {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Class::Str => "string",
            Class::Int => "int",
            Class::Bool => "bool",
            Class::Duration => "duration",
            Class::List => "[string]",
            Class::Kind => "principal kind",
            Class::Command => "command",
        }
    }
}

/// An operand with its static type resolved.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum COperand {
    Literal(Lit),
    Arg(Box<str>, Class),
    Context(Box<str>, Class),
    Attribute(Who, Box<str>, Class),
    Id(Who),
    Kind(Who),
    Depth,
    /// `calls(...)`: an integer.
    Calls(Box<Calls>),
}

/// What `calls(...)` counts (LANGUAGE.md §10).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Calls {
    /// The declared tools the target matches, sorted.
    pub tools: Box<[ToolId]>,
    /// A glob target, which also counts entries naming undeclared tools.
    pub glob: Option<Glob>,
    pub within_seconds: Option<i64>,
    /// `calls(deploy within 24h)`, for traces.
    pub text: Box<str>,
}

/// A literal value, in evaluated form.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Lit {
    Str(Box<str>),
    Int(i64),
    Bool(bool),
    Duration(i64),
    List(Box<[String]>),
    Kind(PrincipalKind),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum CCond {
    Truth(COperand),
    Compare(CmpOp, COperand, COperand),
    In(COperand, COperand),
    Contains(COperand, COperand),
    Matches(COperand, Glob),
    AnyMatches(COperand, Glob),
    AllMatches(COperand, Glob),
    HasRole(Who, RoleId),
    /// `ARG == "text"` (or `!=`, either side first) on a string argument: the commonest
    /// comparison, read without building values. Equal to the `Compare` it replaces.
    ArgIsStr(Box<ArgIsStr>),
    /// `ARG in ["a", ...]` on a string argument (`In` on a literal list).
    ArgInStrs(Box<ArgInStrs>),
    /// `ARG contains "text"` on a list argument (`Contains` with a literal string).
    ArgContainsStr(Box<ArgContainsStr>),
    /// `CMD runs P` (one pattern).
    Runs(Box<CommandCond>),
    /// `CMD runs only [P, ...]`.
    RunsOnly(Box<CommandCond>),
    /// `P under "dir"`.
    Under(Box<UnderCond>),
    Not(Box<CCond>),
    And(Box<[CCond]>),
    Or(Box<[CCond]>),
}

/// `ARG == "text"` (`equal`) or `ARG != "text"`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ArgIsStr {
    pub arg: Box<str>,
    pub text: Box<str>,
    pub equal: bool,
}

/// `ARG in ["a", ...]`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ArgInStrs {
    pub arg: Box<str>,
    pub items: Box<[String]>,
}

/// `ARG contains "text"`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ArgContainsStr {
    pub arg: Box<str>,
    pub text: Box<str>,
}

impl CCond {
    /// The condition with its commonest shapes on arguments read directly (`ArgIsStr`,
    /// `ArgInStrs`, `ArgContainsStr`): the same three-valued result, fewer steps.
    pub(crate) fn specialized(self) -> CCond {
        use COperand::{Arg, Literal};
        match self {
            CCond::Compare(op @ (CmpOp::Eq | CmpOp::Ne), a, b) => match (a, b) {
                (Arg(arg, Class::Str), Literal(Lit::Str(text)))
                | (Literal(Lit::Str(text)), Arg(arg, Class::Str)) => {
                    CCond::ArgIsStr(Box::new(ArgIsStr { arg, text, equal: op == CmpOp::Eq }))
                }
                (a, b) => CCond::Compare(op, a, b),
            },
            CCond::In(Arg(arg, Class::Str), Literal(Lit::List(items))) => {
                CCond::ArgInStrs(Box::new(ArgInStrs { arg, items }))
            }
            CCond::Contains(Arg(arg, Class::List), Literal(Lit::Str(text))) => {
                CCond::ArgContainsStr(Box::new(ArgContainsStr { arg, text }))
            }
            other => other,
        }
    }
}

/// `runs` or `runs only` on a `command` argument.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CommandCond {
    /// The name of the `command` argument.
    pub arg: Box<str>,
    pub patterns: Box<[Pattern]>,
    /// The condition in writ syntax, for traces.
    pub text: Box<str>,
}

/// `P under "dir"`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct UnderCond {
    /// The name of a `path` argument (already resolved in the scope's `args`).
    pub arg: Box<str>,
    /// The directory as written; a relative one is resolved against `cwd` at decision time.
    pub dir: Box<str>,
    /// The condition in writ syntax, for traces.
    pub text: Box<str>,
}

impl CommandCond {
    /// `runs`; `None` when the command line is unknown or absent.
    fn runs(&self, scope: &Scope<'_>) -> Option<shell::Match> {
        let pattern = self.patterns.first()?;
        match scope.run.command(&self.arg)? {
            CommandLine::Known(commands) => Some(shell::runs(commands, pattern)),
            CommandLine::Unknown(_) => None,
        }
    }

    /// `runs only`; `None` when the command line is unknown or absent.
    fn runs_only(&self, scope: &Scope<'_>) -> Option<shell::Match> {
        match scope.run.command(&self.arg)? {
            CommandLine::Known(commands) => Some(shell::runs_only(commands, &self.patterns)),
            CommandLine::Unknown(_) => None,
        }
    }

    /// Why `runs` / `runs only` came out as it did, for traces.
    fn fact(&self, scope: &Scope<'_>, only: bool) -> String {
        let line = match scope.run.command(&self.arg) {
            None => {
                return format!("{}: unknown: the request has no `{}`", self.text, self.arg);
            }
            Some(CommandLine::Unknown(why)) => {
                return format!(
                    "{}: unknown: the command line cannot be known ({})",
                    self.text, why.reason
                );
            }
            Some(CommandLine::Known(commands)) => commands,
        };
        let m = match (only, self.patterns.first()) {
            (true, _) => shell::runs_only(line, &self.patterns),
            (false, Some(pattern)) => shell::runs(line, pattern),
            (false, None) => return format!("{}: unknown: no pattern", self.text),
        };
        let which = m
            .command
            .and_then(|i| line.get(i).map(|c| (i, c)))
            .map(|(i, c)| format!("simple command {} {}", i + 1, render::simple_command(c)));
        let why = match (only, m.result, which) {
            (_, _, _) if line.is_empty() => "the command line runs no simple command".to_owned(),
            (false, Tri::True, Some(w)) => format!("{w} matches"),
            (false, Tri::False, _) => {
                format!("it runs {}; none matches", render::count(line.len(), "simple command"))
            }
            (false, Tri::Unknown, Some(w)) => format!("{w} may match: a dynamic word is unknown"),
            (true, Tri::True, _) => {
                format!("it runs {}; each is listed", render::count(line.len(), "simple command"))
            }
            (true, Tri::False, Some(w)) => format!("{w} matches no listed pattern"),
            (true, Tri::Unknown, Some(w)) => {
                format!("{w} may not match: a dynamic word is unknown")
            }
            (_, _, None) => "no simple command decided it".to_owned(),
        };
        format!("{}: {}: {why}", self.text, m.result.as_str())
    }
}

impl COperand {
    /// For traces: what `calls(...)` counted.
    fn fact(&self, scope: &Scope<'_>, out: &mut Vec<String>) {
        let COperand::Calls(calls) = self else {
            return;
        };
        let line = match (scope.run.history, scope.run.count(calls)) {
            (None, _) => format!("{}: unknown: the request has no `history`", calls.text),
            (Some(_), None) if scope.run.time.is_none() => {
                format!("{}: unknown: the request has no `time`", calls.text)
            }
            (Some(_), None) => {
                format!("{}: unknown: an entry it counts has no `at`", calls.text)
            }
            (Some(h), Some(n)) => {
                format!("{} = {n} (of {})", calls.text, render::count(h.len(), "history entry"))
            }
        };
        out.push(line);
    }
}

impl UnderCond {
    fn eval(&self, scope: &Scope<'_>) -> Tri {
        let Some(RequestValue::Str(path)) = lookup(scope.args, &self.arg) else {
            return Tri::Unknown;
        };
        match crate::path::resolve(&self.dir, scope.run.cwd) {
            Some(dir) => Tri::from(crate::path::is_under(path, &dir)),
            None => Tri::Unknown,
        }
    }

    fn fact(&self, scope: &Scope<'_>) -> String {
        let path = match lookup(scope.args, &self.arg) {
            Some(RequestValue::Str(path)) => path,
            Some(other) => {
                return format!(
                    "{}: unknown: `{}` {other} cannot be resolved (relative without `cwd`, `~` or NUL)",
                    self.text, self.arg
                );
            }
            None => return format!("{}: unknown: the request has no `{}`", self.text, self.arg),
        };
        match crate::path::resolve(&self.dir, scope.run.cwd) {
            Some(dir) => {
                let result = Tri::from(crate::path::is_under(path, &dir));
                format!(
                    "{}: {}: `{}` is {}, the directory {}",
                    self.text,
                    result.as_str(),
                    self.arg,
                    render::quote(path),
                    render::quote(&dir)
                )
            }
            None => format!(
                "{}: unknown: the directory is relative and the request has no `cwd`",
                self.text
            ),
        }
    }
}

/// A value read at decision time, borrowed from the policy or the request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Val<'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
    Duration(i64),
    List(ListVal<'a>),
    Kind(PrincipalKind),
}

/// A list read at decision time: a literal of the policy or a request's list of strings.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ListVal<'a> {
    Policy(&'a [String]),
    Request(&'a [Str<'a>]),
}

impl<'a> ListVal<'a> {
    pub(crate) fn iter(self) -> impl Iterator<Item = &'a str> {
        let (policy, request) = match self {
            ListVal::Policy(items) => (items, &[][..]),
            ListVal::Request(items) => (&[][..], items),
        };
        policy.iter().map(String::as_str).chain(request.iter().map(|s| &**s))
    }
}

impl PartialEq for ListVal<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

/// What a condition can see.
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub args: &'a [(Str<'a>, RequestValue<'a>)],
    pub context: &'a [(Str<'a>, RequestValue<'a>)],
    pub initiator: &'a Principal<'a>,
    pub caller: &'a Principal<'a>,
    /// Inside `may` only.
    pub principal: Option<&'a Principal<'a>>,
    pub depth: i64,
    /// Whether a principal holds a role (through `extends`).
    pub holds: &'a dyn Fn(&Principal<'_>, RoleId) -> bool,
    /// The run's facts (§10) and the call's parsed command lines.
    pub run: &'a RunFacts<'a>,
}

/// What a request says about its run (LANGUAGE.md §10), prepared once per decision: the
/// working directory, the time, the history with each entry's tool resolved, and the parsed
/// `command` arguments of the call (each parsed once, whatever number of rules read it).
#[derive(Debug, Default)]
pub(crate) struct RunFacts<'a> {
    pub cwd: Option<&'a str>,
    pub time: Option<Timestamp>,
    pub history: Option<&'a [HistoryEntry<'a>]>,
    /// For each history entry, the declared tool it names (`None`: undeclared). Empty when the
    /// policy never counts calls.
    pub history_tools: Vec<Option<ToolId>>,
    /// `(argument name, parsed command line)` for each `command` argument of the call.
    pub commands: Vec<(&'a str, CommandLine)>,
}

impl RunFacts<'_> {
    fn command(&self, name: &str) -> Option<&CommandLine> {
        self.commands.iter().find(|(n, _)| *n == name).map(|(_, c)| c)
    }

    /// `calls(...)`; `None` when unknown.
    fn count(&self, calls: &Calls) -> Option<i64> {
        let history = self.history?;
        let mut index = 0usize;
        crate::history::count_calls(Some(history), self.time, calls.within_seconds, |name| {
            let tool = self.history_tools.get(index).copied().flatten();
            index += 1;
            match tool {
                Some(t) => calls.tools.binary_search(&t).is_ok(),
                None => calls.glob.as_ref().is_some_and(|g| g.is_match(name)),
            }
        })
    }
}

impl<'a> Scope<'a> {
    fn who(&self, who: Who) -> Option<&'a Principal<'a>> {
        match who {
            Who::Initiator => Some(self.initiator),
            Who::Caller => Some(self.caller),
            Who::Principal => self.principal,
        }
    }
}

/// Looks `name` up among request values.
pub(crate) fn lookup<'a, 'r>(
    values: &'a [(Str<'r>, RequestValue<'r>)],
    name: &str,
) -> Option<&'a RequestValue<'r>> {
    values.iter().find(|(k, _)| crate::same::same(k, name)).map(|(_, v)| v)
}

/// Reads a request value as a value of `class`; `None` (unknown) when it is not one.
pub(crate) fn typed<'a>(value: &'a RequestValue<'_>, class: Class) -> Option<Val<'a>> {
    match (class, value) {
        (Class::Str, RequestValue::Str(s)) => Some(Val::Str(s)),
        (Class::Int, RequestValue::Int(i)) => Some(Val::Int(*i)),
        (Class::Bool, RequestValue::Bool(b)) => Some(Val::Bool(*b)),
        (Class::Duration, RequestValue::Str(s)) => parse_duration(s).map(Val::Duration),
        (Class::List, RequestValue::StrList(items)) => Some(Val::List(ListVal::Request(items))),
        _ => None,
    }
}

impl Lit {
    pub(crate) fn val(&self) -> Val<'_> {
        match self {
            Lit::Str(s) => Val::Str(s),
            Lit::Int(i) => Val::Int(*i),
            Lit::Bool(b) => Val::Bool(*b),
            Lit::Duration(d) => Val::Duration(*d),
            Lit::List(items) => Val::List(ListVal::Policy(items)),
            Lit::Kind(k) => Val::Kind(*k),
        }
    }
}

impl COperand {
    /// The operand's value; `None` when unknown.
    fn eval<'a>(&'a self, scope: &Scope<'a>) -> Option<Val<'a>> {
        match self {
            COperand::Literal(lit) => Some(lit.val()),
            COperand::Arg(name, class) => typed(lookup(scope.args, name)?, *class),
            COperand::Context(name, class) => typed(lookup(scope.context, name)?, *class),
            COperand::Attribute(who, name, class) => {
                typed(lookup(&scope.who(*who)?.attrs, name)?, *class)
            }
            COperand::Id(who) => scope.who(*who).map(|p| Val::Str(&p.id)),
            COperand::Kind(who) => scope.who(*who).map(|p| Val::Kind(p.kind)),
            COperand::Depth => Some(Val::Int(scope.depth)),
            COperand::Calls(calls) => scope.run.count(calls).map(Val::Int),
        }
    }
}

fn compare(op: CmpOp, a: Val<'_>, b: Val<'_>) -> Option<bool> {
    use std::cmp::Ordering;
    let ordering = match (a, b) {
        (Val::Int(x), Val::Int(y)) | (Val::Duration(x), Val::Duration(y)) => Some(x.cmp(&y)),
        _ => None,
    };
    let equal = match (a, b) {
        (Val::Str(x), Val::Str(y)) => crate::same::same(x, y),
        (Val::Int(x), Val::Int(y)) | (Val::Duration(x), Val::Duration(y)) => x == y,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::List(x), Val::List(y)) => x == y,
        (Val::Kind(x), Val::Kind(y)) => x == y,
        _ => return None, // types differ: the policy was checked, so this cannot happen
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

fn known(b: Option<bool>) -> Tri {
    b.map_or(Tri::Unknown, Tri::from)
}

impl CCond {
    /// For traces: what each condition on the run's facts (`runs`, `runs only`, `under`,
    /// `calls(...)`) found, in source order. Only tracing calls this.
    pub(crate) fn facts(&self, scope: &Scope<'_>, out: &mut Vec<String>) {
        let mut stack = vec![self];
        while let Some(c) = stack.pop() {
            match c {
                CCond::Runs(c) => out.push(c.fact(scope, false)),
                CCond::RunsOnly(c) => out.push(c.fact(scope, true)),
                CCond::Under(c) => out.push(c.fact(scope)),
                CCond::Truth(a)
                | CCond::Matches(a, _)
                | CCond::AnyMatches(a, _)
                | CCond::AllMatches(a, _) => {
                    a.fact(scope, out);
                }
                CCond::Compare(_, a, b) | CCond::In(a, b) | CCond::Contains(a, b) => {
                    a.fact(scope, out);
                    b.fact(scope, out);
                }
                CCond::HasRole(..)
                | CCond::ArgIsStr(_)
                | CCond::ArgInStrs(_)
                | CCond::ArgContainsStr(_) => {}
                CCond::Not(inner) => stack.push(inner),
                CCond::And(items) | CCond::Or(items) => stack.extend(items.iter().rev()),
            }
        }
    }

    /// Evaluates the condition with three values.
    pub(crate) fn eval(&self, scope: &Scope<'_>) -> Tri {
        match self {
            CCond::Truth(op) => known(match op.eval(scope) {
                Some(Val::Bool(b)) => Some(b),
                _ => None,
            }),
            CCond::Compare(cmp, a, b) => {
                known(a.eval(scope).zip(b.eval(scope)).and_then(|(a, b)| compare(*cmp, a, b)))
            }
            CCond::In(value, list) => known(membership(value.eval(scope), list.eval(scope))),
            CCond::Contains(list, value) => known(membership(value.eval(scope), list.eval(scope))),
            CCond::Matches(op, glob) => known(match op.eval(scope) {
                Some(Val::Str(s)) => Some(glob.is_match(s)),
                _ => None,
            }),
            CCond::AnyMatches(op, glob) => known(match op.eval(scope) {
                Some(Val::List(items)) => Some(items.iter().any(|s| glob.is_match(s))),
                _ => None,
            }),
            CCond::AllMatches(op, glob) => known(match op.eval(scope) {
                Some(Val::List(items)) => Some(items.iter().all(|s| glob.is_match(s))),
                _ => None,
            }),
            CCond::HasRole(who, role) => match scope.who(*who) {
                Some(p) => Tri::from((scope.holds)(p, *role)),
                None => Tri::Unknown,
            },
            CCond::ArgIsStr(c) => match lookup(scope.args, &c.arg) {
                Some(RequestValue::Str(s)) => Tri::from(crate::same::same(s, &c.text) == c.equal),
                _ => Tri::Unknown,
            },
            CCond::ArgInStrs(c) => match lookup(scope.args, &c.arg) {
                Some(RequestValue::Str(s)) => {
                    Tri::from(c.items.iter().any(|i| crate::same::same(i, s)))
                }
                _ => Tri::Unknown,
            },
            CCond::ArgContainsStr(c) => match lookup(scope.args, &c.arg) {
                Some(RequestValue::StrList(items)) => {
                    Tri::from(items.iter().any(|i| crate::same::same(i, &c.text)))
                }
                _ => Tri::Unknown,
            },
            CCond::Runs(c) => c.runs(scope).map_or(Tri::Unknown, |m| m.result),
            CCond::RunsOnly(c) => c.runs_only(scope).map_or(Tri::Unknown, |m| m.result),
            CCond::Under(c) => c.eval(scope),
            CCond::Not(inner) => inner.eval(scope).not(),
            CCond::And(items) => {
                let mut acc = Tri::True;
                for item in items.iter() {
                    acc = acc.and(item.eval(scope));
                    if acc == Tri::False {
                        break;
                    }
                }
                acc
            }
            CCond::Or(items) => {
                let mut acc = Tri::False;
                for item in items.iter() {
                    acc = acc.or(item.eval(scope));
                    if acc == Tri::True {
                        break;
                    }
                }
                acc
            }
        }
    }
}

fn membership(value: Option<Val<'_>>, list: Option<Val<'_>>) -> Option<bool> {
    match (value?, list?) {
        (Val::Str(s), Val::List(items)) => Some(items.iter().any(|i| crate::same::same(i, s))),
        _ => None,
    }
}

/// Evaluates an optional condition (`None` is always true).
pub(crate) fn eval_opt(cond: Option<&CCond>, scope: &Scope<'_>) -> Tri {
    cond.map_or(Tri::True, |c| c.eval(scope))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::PrincipalKind;
    use crate::request::Values;
    use Tri::{False as F, True as T, Unknown as U};

    const ALL: [Tri; 3] = [F, U, T];

    #[test]
    fn kleene_and() {
        let table = [
            (F, F, F),
            (F, U, F),
            (F, T, F),
            (U, F, F),
            (U, U, U),
            (U, T, U),
            (T, F, F),
            (T, U, U),
            (T, T, T),
        ];
        for (a, b, want) in table {
            assert_eq!(a.and(b), want, "{a} and {b}");
        }
    }

    #[test]
    fn kleene_or() {
        let table = [
            (F, F, F),
            (F, U, U),
            (F, T, T),
            (U, F, U),
            (U, U, U),
            (U, T, T),
            (T, F, T),
            (T, U, T),
            (T, T, T),
        ];
        for (a, b, want) in table {
            assert_eq!(a.or(b), want, "{a} or {b}");
        }
    }

    #[test]
    fn kleene_not() {
        assert_eq!(T.not(), F);
        assert_eq!(F.not(), T);
        assert_eq!(U.not(), U);
    }

    // --- conditions over a small scope

    fn principal(id: &str, kind: PrincipalKind, roles: &[&str]) -> Principal<'static> {
        Principal {
            id: id.to_owned().into(),
            kind,
            roles: roles.iter().map(|r| (*r).to_owned().into()).collect(),
            attrs: vec![("team".into(), RequestValue::Str("web".into()))],
        }
    }

    struct Fixture {
        args: Values<'static>,
        context: Values<'static>,
        initiator: Principal<'static>,
        caller: Principal<'static>,
    }

    fn fixture() -> Fixture {
        Fixture {
            args: vec![
                ("s".into(), RequestValue::Str("release/v1".into())),
                ("n".into(), RequestValue::Int(5)),
                ("flag".into(), RequestValue::Bool(true)),
                ("off".into(), RequestValue::Bool(false)),
                ("t".into(), RequestValue::Str("20m".into())),
                ("files".into(), RequestValue::StrList(vec!["a.rs".into(), "b.rs".into()])),
                ("none".into(), RequestValue::StrList(vec![])),
                ("wrong".into(), RequestValue::Str("five".into())),
            ],
            context: vec![("risk".into(), RequestValue::Int(2))],
            initiator: principal("alice", PrincipalKind::Human, &["admin"]),
            caller: principal("agent/1", PrincipalKind::Agent, &[]),
        }
    }

    fn eval(c: &CCond) -> Tri {
        let f = fixture();
        let holds =
            |p: &Principal<'_>, r: RoleId| r == RoleId(0) && p.roles.iter().any(|x| x == "admin");
        let scope = Scope {
            args: &f.args,
            context: &f.context,
            initiator: &f.initiator,
            caller: &f.caller,
            principal: None,
            depth: 1,
            holds: &holds,
            run: &RunFacts::default(),
        };
        c.eval(&scope)
    }

    fn arg(name: &str, class: Class) -> COperand {
        COperand::Arg(name.into(), class)
    }
    /// An argument the request does not have.
    fn absent(class: Class) -> COperand {
        arg("absent", class)
    }
    fn int(i: i64) -> COperand {
        COperand::Literal(Lit::Int(i))
    }
    fn dur(d: i64) -> COperand {
        COperand::Literal(Lit::Duration(d))
    }
    fn st(s: &str) -> COperand {
        COperand::Literal(Lit::Str(s.into()))
    }
    fn list(items: &[&str]) -> COperand {
        COperand::Literal(Lit::List(items.iter().map(|s| (*s).to_owned()).collect()))
    }
    fn cmp(op: CmpOp, a: COperand, b: COperand) -> CCond {
        CCond::Compare(op, a, b)
    }
    /// A condition with each truth value.
    fn lit_tri(t: Tri) -> CCond {
        match t {
            T => CCond::Truth(arg("flag", Class::Bool)),
            F => CCond::Truth(arg("off", Class::Bool)),
            U => CCond::Truth(absent(Class::Bool)),
        }
    }

    #[test]
    fn and_or_not_conditions_follow_the_tables() {
        for a in ALL {
            assert_eq!(eval(&lit_tri(a)), a);
            assert_eq!(eval(&CCond::Not(Box::new(lit_tri(a)))), a.not());
            for b in ALL {
                let both = [lit_tri(a), lit_tri(b)];
                assert_eq!(eval(&CCond::And(both.clone().into())), a.and(b), "{a} and {b}");
                assert_eq!(eval(&CCond::Or(both.into())), a.or(b), "{a} or {b}");
            }
        }
        assert_eq!(eval(&CCond::And(Box::new([]))), T);
        assert_eq!(eval(&CCond::Or(Box::new([]))), F);
        // Short-circuit does not hide a later false / true.
        assert_eq!(eval(&CCond::And([lit_tri(U), lit_tri(F)].into())), F);
        assert_eq!(eval(&CCond::Or([lit_tri(U), lit_tri(T)].into())), T);
    }

    #[test]
    fn comparisons_of_integers_and_durations() {
        use CmpOp::*;
        let n = || arg("n", Class::Int);
        let cases = [
            (Eq, 5, T),
            (Eq, 4, F),
            (Ne, 4, T),
            (Ne, 5, F),
            (Lt, 6, T),
            (Lt, 5, F),
            (Le, 5, T),
            (Le, 4, F),
            (Gt, 4, T),
            (Gt, 5, F),
            (Ge, 5, T),
            (Ge, 6, F),
        ];
        for (op, k, want) in cases {
            assert_eq!(eval(&cmp(op, n(), int(k))), want, "5 {op:?} {k}");
            // `t` is "20m" = 1200 s.
            assert_eq!(
                eval(&cmp(op, arg("t", Class::Duration), dur(1200 + (k - 5) * 60))),
                want,
                "20m {op:?}"
            );
        }
    }

    #[test]
    fn every_comparison_with_an_unknown_operand_is_unknown() {
        use CmpOp::*;
        for op in [Eq, Ne, Lt, Le, Gt, Ge] {
            assert_eq!(eval(&cmp(op, absent(Class::Int), int(1))), U, "{op:?}");
            assert_eq!(eval(&cmp(op, int(1), absent(Class::Int))), U, "{op:?}");
            assert_eq!(eval(&cmp(op, absent(Class::Int), absent(Class::Int))), U);
            assert_eq!(eval(&cmp(op, absent(Class::Duration), dur(1))), U);
        }
        for op in [Eq, Ne] {
            assert_eq!(eval(&cmp(op, absent(Class::Str), st("x"))), U);
            assert_eq!(eval(&cmp(op, absent(Class::List), list(&[]))), U);
            assert_eq!(eval(&cmp(op, absent(Class::Bool), COperand::Literal(Lit::Bool(true)))), U);
            let ctx = COperand::Context("missing".into(), Class::Str);
            assert_eq!(eval(&cmp(op, ctx, st("x"))), U);
            let attr = COperand::Attribute(Who::Initiator, "missing".into(), Class::Str);
            assert_eq!(eval(&cmp(op, attr, st("x"))), U);
        }
    }

    /// The direct shapes (`ArgIsStr`, `ArgInStrs`, `ArgContainsStr`) give what the general
    /// comparison they replace gives, for every argument of the fixture (a string, a list, an
    /// empty list, values of other types) and an absent one, literals on either side.
    #[test]
    fn direct_shapes_give_what_the_general_comparison_gives() {
        use CmpOp::*;
        let names = ["s", "n", "flag", "t", "files", "none", "wrong", "absent"];
        let texts = ["release/v1", "a.rs", "", "Release/v1", "release/v"];
        let lists: [&[&str]; 4] = [&[], &["release/v1"], &["x", "release/v1"], &["a.rs"]];
        let mut shapes = Vec::new();
        for name in names {
            for text in texts {
                for op in [Eq, Ne] {
                    shapes.push(CCond::Compare(op, arg(name, Class::Str), st(text)));
                    shapes.push(CCond::Compare(op, st(text), arg(name, Class::Str)));
                }
                shapes.push(CCond::Contains(arg(name, Class::List), st(text)));
            }
            for items in lists {
                shapes.push(CCond::In(arg(name, Class::Str), list(items)));
            }
        }
        for general in shapes {
            let direct = general.clone().specialized();
            assert_ne!(direct, general, "{general:?} has a direct shape");
            assert_eq!(eval(&direct), eval(&general), "{general:?}");
        }
        // Other shapes stay as they are.
        for other in [
            cmp(Lt, arg("n", Class::Int), int(1)),
            cmp(Eq, arg("files", Class::List), list(&[])),
            cmp(Eq, COperand::Id(Who::Initiator), st("alice")),
            CCond::In(st("a.rs"), arg("files", Class::List)),
            CCond::Contains(list(&["a"]), arg("s", Class::Str)),
        ] {
            assert_eq!(other.clone().specialized(), other);
        }
    }

    #[test]
    fn a_value_of_the_wrong_type_is_unknown() {
        // Step 1 denies such requests first; conditions never see a wrong-typed value as known.
        assert_eq!(eval(&cmp(CmpOp::Eq, arg("wrong", Class::Int), int(5))), U);
        assert_eq!(eval(&cmp(CmpOp::Lt, arg("wrong", Class::Duration), dur(5))), U);
        assert_eq!(eval(&CCond::Truth(arg("n", Class::Bool))), U);
    }

    #[test]
    fn equality_of_strings_lists_kinds_ids_depth() {
        use CmpOp::*;
        assert_eq!(eval(&cmp(Eq, arg("s", Class::Str), st("release/v1"))), T);
        assert_eq!(eval(&cmp(Ne, arg("s", Class::Str), st("release/v1"))), F);
        assert_eq!(eval(&cmp(Eq, arg("files", Class::List), list(&["a.rs", "b.rs"]))), T);
        assert_eq!(
            eval(&cmp(Eq, arg("files", Class::List), list(&["b.rs", "a.rs"]))),
            F,
            "in order"
        );
        assert_eq!(eval(&cmp(Eq, arg("none", Class::List), list(&[]))), T);
        let kind = |k| COperand::Literal(Lit::Kind(k));
        assert_eq!(eval(&cmp(Eq, COperand::Kind(Who::Caller), kind(PrincipalKind::Agent))), T);
        assert_eq!(eval(&cmp(Ne, COperand::Kind(Who::Initiator), kind(PrincipalKind::Human))), F);
        assert_eq!(eval(&cmp(Eq, COperand::Id(Who::Initiator), st("alice"))), T);
        assert_eq!(eval(&cmp(Eq, COperand::Depth, int(1))), T);
        assert_eq!(eval(&cmp(Eq, COperand::Context("risk".into(), Class::Int), int(2))), T);
        let team = COperand::Attribute(Who::Caller, "team".into(), Class::Str);
        assert_eq!(eval(&cmp(Eq, team, st("web"))), T);
        // `principal` outside `may` is unknown (the compiler never emits it there).
        assert_eq!(eval(&cmp(Eq, COperand::Id(Who::Principal), st("alice"))), U);
    }

    #[test]
    fn membership() {
        let s = || arg("s", Class::Str);
        assert_eq!(eval(&CCond::In(s(), list(&["x", "release/v1"]))), T);
        assert_eq!(eval(&CCond::In(s(), list(&["x"]))), F);
        assert_eq!(eval(&CCond::In(s(), list(&[]))), F);
        assert_eq!(eval(&CCond::In(absent(Class::Str), list(&["x"]))), U);
        assert_eq!(eval(&CCond::In(absent(Class::Str), list(&[]))), U);
        assert_eq!(eval(&CCond::In(st("a.rs"), arg("files", Class::List))), T);
        assert_eq!(eval(&CCond::In(st("a.rs"), absent(Class::List))), U);
        let files = || arg("files", Class::List);
        assert_eq!(eval(&CCond::Contains(files(), st("b.rs"))), T);
        assert_eq!(eval(&CCond::Contains(files(), st("c.rs"))), F);
        assert_eq!(eval(&CCond::Contains(arg("none", Class::List), st("c.rs"))), F);
        assert_eq!(eval(&CCond::Contains(absent(Class::List), st("c.rs"))), U);
        assert_eq!(eval(&CCond::Contains(files(), absent(Class::Str))), U);
    }

    #[test]
    fn globs_any_all() {
        let g = Glob::new;
        assert_eq!(eval(&CCond::Matches(arg("s", Class::Str), g("release/*"))), T);
        assert_eq!(eval(&CCond::Matches(arg("s", Class::Str), g("prod/*"))), F);
        assert_eq!(eval(&CCond::Matches(absent(Class::Str), g("*"))), U);
        let files = || arg("files", Class::List);
        let none = || arg("none", Class::List);
        assert_eq!(eval(&CCond::AnyMatches(files(), g("b.*"))), T);
        assert_eq!(eval(&CCond::AnyMatches(files(), g("c.*"))), F);
        assert_eq!(eval(&CCond::AllMatches(files(), g("*.rs"))), T);
        assert_eq!(eval(&CCond::AllMatches(files(), g("a.*"))), F);
        assert_eq!(eval(&CCond::AnyMatches(none(), g("*"))), F, "any over [] is false");
        assert_eq!(eval(&CCond::AllMatches(none(), g("nothing"))), T, "all over [] is true");
        assert_eq!(eval(&CCond::AnyMatches(absent(Class::List), g("*"))), U);
        assert_eq!(eval(&CCond::AllMatches(absent(Class::List), g("*"))), U);
    }

    #[test]
    fn has_role_is_always_known() {
        assert_eq!(eval(&CCond::HasRole(Who::Initiator, RoleId(0))), T);
        assert_eq!(eval(&CCond::HasRole(Who::Caller, RoleId(0))), F);
        assert_eq!(eval(&CCond::HasRole(Who::Initiator, RoleId(1))), F);
        assert_eq!(eval(&CCond::Not(Box::new(CCond::HasRole(Who::Caller, RoleId(0))))), T);
    }

    #[test]
    fn missing_data_fails_closed_for_unless() {
        // `deny ... when n > 3 unless ctx` with ctx unknown: `true and not unknown` is unknown,
        // which a deny treats as applying.
        let c = CCond::And(
            [cmp(CmpOp::Gt, arg("n", Class::Int), int(3)), CCond::Not(Box::new(lit_tri(U)))].into(),
        );
        assert_eq!(eval(&c), U);
    }

    #[test]
    fn an_absent_condition_is_true() {
        let f = fixture();
        let holds = |_: &Principal<'_>, _: RoleId| false;
        let scope = Scope {
            args: &[],
            context: &[],
            initiator: &f.initiator,
            caller: &f.caller,
            principal: None,
            depth: 0,
            holds: &holds,
            run: &RunFacts::default(),
        };
        assert_eq!(eval_opt(None, &scope), T);
        assert_eq!(eval_opt(Some(&lit_tri(T)), &scope), U, "no args in this scope");
    }
}
