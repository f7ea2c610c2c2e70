//! Conditions type-checked and lowered: connectives, comparisons, membership, globs, roles.

use writ_evaluator::ir::RoleId;
use writ_evaluator::ir::{Cond, Operand, PrincipalKind, Value};
use writ_grammar::ast::{CompareOp, Expr, ExprKind, PrincipalRef, Quantifier, Span};

use super::commands::command_help;
use super::lower::and;
use super::lower::cmp_op;
use super::lower::or;
use super::lower::who;
use super::{Checker, Scope, Typed};
use crate::diagnostic::{Code, Diagnostic};
use crate::symbols::at;
use crate::types::Ty;

impl<'a> Checker<'a> {
    pub(super) fn cond(&mut self, e: &Expr, sc: Scope) -> Option<Cond> {
        match &e.kind {
            ExprKind::Paren(inner) => self.cond(inner, sc),
            ExprKind::Not(inner) => self.cond(inner, sc).map(|c| Cond::Not(Box::new(c))),
            ExprKind::And(a, b) => {
                let a = self.cond(a, sc);
                let b = self.cond(b, sc);
                Some(and(a?, b?))
            }
            ExprKind::Or(a, b) => {
                let a = self.cond(a, sc);
                let b = self.cond(b, sc);
                Some(or(a?, b?))
            }
            ExprKind::Compare { op, op_span, lhs, rhs } => {
                self.compare(*op, *op_span, lhs, rhs, sc)
            }
            ExprKind::In { value, list } => {
                let v = self.value(value, sc);
                let l = self.value(list, sc);
                let (v, l) = (v?, l?);
                self.membership(value, &v, list, &l, sc, "in")?;
                Some(Cond::In(v.operand, l.operand))
            }
            ExprKind::Contains { list, value } => {
                let l = self.value(list, sc);
                let v = self.value(value, sc);
                let (l, v) = (l?, v?);
                self.membership(value, &v, list, &l, sc, "contains")?;
                Some(Cond::Contains(l.operand, v.operand))
            }
            ExprKind::Matches { value, pattern } => {
                let v = self.value(value, sc)?;
                if !v.ty.is_string() {
                    self.report(
                        self.needs(sc.file, value.span, "matches", "a string", &v.ty).help(if v.ty == Ty::StringList {
                            "to match the elements of a list, write `any LIST matches \"glob\"` or `all LIST matches \"glob\"`".to_string()
                        } else if v.ty == Ty::Command {
                            command_help(pattern.value.split_whitespace())
                        } else {
                            "`matches` compares a string with a glob pattern".to_string()
                        }),
                    );
                    return None;
                }
                Some(Cond::Matches(v.operand, pattern.value.clone()))
            }
            ExprKind::Quantified { quantifier, list, pattern } => {
                let l = self.value(list, sc)?;
                if l.ty != Ty::StringList {
                    let q = match quantifier {
                        Quantifier::Any => "any",
                        Quantifier::All => "all",
                    };
                    self.report(
                        self.needs(
                            sc.file,
                            list.span,
                            &format!("{q} ... matches"),
                            "a list of strings",
                            &l.ty,
                        )
                        .help("for a single string write `VALUE matches \"glob\"`"),
                    );
                    return None;
                }
                let glob = pattern.value.clone();
                Some(match quantifier {
                    Quantifier::Any => Cond::AnyMatches(l.operand, glob),
                    Quantifier::All => Cond::AllMatches(l.operand, glob),
                })
            }
            ExprKind::Runs { command, op_span, pattern } => {
                self.runs(command, *op_span, pattern, sc)
            }
            ExprKind::RunsOnly { command, op_span, patterns, list_span } => {
                self.runs_only(command, *op_span, patterns, *list_span, sc)
            }
            ExprKind::Under { path, op_span, dir } => self.under(path, *op_span, dir, sc),
            ExprKind::HasRole { principal, principal_span, role } => {
                let ok = self.principal_visible(*principal, *principal_span, sc);
                let role = self.resolve_role(sc.file, role);
                ok.then_some(())?;
                Some(Cond::HasRole(who(*principal), RoleId(role? as u32)))
            }
            _ => {
                let v = self.value(e, sc)?;
                if v.ty == Ty::Bool {
                    return Some(Cond::Truth(v.operand));
                }
                let text = self.snippet(sc.file, e.span);
                self.report(
                    Diagnostic::new(
                        Code::NotACondition,
                        at(sc.file, e.span),
                        format!("expected a condition, found `{text}`, which is {}", v.ty),
                    )
                    .label("not a condition")
                    .help(match &v.ty {
                        Ty::Enum(values) => format!(
                            "compare it: `{text} == {}`",
                            writ_grammar::quote(values.first().map_or("", String::as_str))
                        ),
                        Ty::Str => {
                            format!("compare it: `{text} == \"...\"` or `{text} matches \"...\"`")
                        }
                        Ty::StringList => format!("test it: `{text} contains \"...\"`"),
                        Ty::Kind => format!("compare it: `{text} == human`"),
                        _ => format!(
                            "compare it with `==`, `<` or another operator: `{text} == ...`"
                        ),
                    }),
                );
                None
            }
        }
    }

    fn membership(
        &mut self,
        value: &Expr,
        v: &Typed,
        list: &Expr,
        l: &Typed,
        sc: Scope,
        op: &str,
    ) -> Option<()> {
        let mut ok = true;
        if l.ty != Ty::StringList {
            ok = false;
            self.report(self.needs(sc.file, list.span, op, "a list of strings", &l.ty).help(
                if op == "in" {
                    "write a list such as `[\"a\", \"b\"]`"
                } else {
                    "`LIST contains VALUE` takes the list first"
                },
            ));
        }
        if v.ty == Ty::Command {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    at(sc.file, value.span),
                    format!(
                        "`{}` is a command, not a string: `{op}` cannot test it",
                        self.snippet(sc.file, value.span)
                    ),
                )
                .label("a command")
                .help(command_help(std::iter::empty())),
            );
            return None;
        }
        if !v.ty.is_string() {
            ok = false;
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    at(sc.file, value.span),
                    format!(
                        "`{op}` tests strings, but `{}` is {}",
                        self.snippet(sc.file, value.span),
                        v.ty
                    ),
                )
                .label(format!("{}", v.ty))
                .help(if v.ty == Ty::Kind {
                    "compare kinds one at a time: `caller.kind == human or caller.kind == service`"
                        .to_string()
                } else {
                    "lists hold strings only".to_string()
                }),
            );
        }
        // An enumeration tested against literal strings: each must be a value it can take.
        if let (Ty::Enum(values), ExprKind::List(items)) = (&v.ty, &list.kind) {
            let name = self.snippet(sc.file, value.span).to_string();
            for item in items {
                if !values.contains(&item.value) {
                    ok = false;
                    self.enum_value_error(sc.file, item.span, &item.value, values, &name);
                }
            }
        }
        ok.then_some(())
    }

    fn compare(
        &mut self,
        op: CompareOp,
        op_span: Span,
        lhs: &Expr,
        rhs: &Expr,
        sc: Scope,
    ) -> Option<Cond> {
        let kind_lit =
            |k: PrincipalKind| Typed { ty: Ty::Kind, operand: Operand::Literal(Value::Kind(k)) };
        let (l, r) = match (kind_word(lhs), kind_word(rhs)) {
            (Some(k), None) => {
                let r = self.value(rhs, sc)?;
                if r.ty == Ty::Kind { (kind_lit(k), r) } else { (self.value(lhs, sc)?, r) }
            }
            (None, Some(k)) => {
                let l = self.value(lhs, sc)?;
                if l.ty == Ty::Kind { (l, kind_lit(k)) } else { (l, self.value(rhs, sc)?) }
            }
            _ => {
                let l = self.value(lhs, sc);
                let r = self.value(rhs, sc);
                (l?, r?)
            }
        };
        let lt = self.snippet(sc.file, lhs.span).to_string();
        let rt = self.snippet(sc.file, rhs.span).to_string();
        let ordering = !matches!(op, CompareOp::Eq | CompareOp::Ne);
        if let Some((side, text, other)) = if l.ty == Ty::Command {
            Some((lhs, &lt, &r))
        } else if r.ty == Ty::Command {
            Some((rhs, &rt, &l))
        } else {
            None
        } {
            let words = match &other.operand {
                Operand::Literal(Value::Str(s)) => s.clone(),
                _ => String::new(),
            };
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    at(sc.file, side.span),
                    format!("`{text}` is a command, not a string: it cannot be compared"),
                )
                .label("a command")
                .help(command_help(words.split_whitespace())),
            );
            return None;
        }
        if !l.ty.comparable(&r.ty) {
            let mut d = Diagnostic::new(
                Code::TypeMismatch,
                at(sc.file, lhs.span.to(rhs.span)),
                format!("cannot compare `{lt}` ({}) with `{rt}` ({})", l.ty, r.ty),
            )
            .label("these are different types");
            d = d.help(match (&l.ty, &r.ty) {
                (Ty::Kind, t) | (t, Ty::Kind) if t.is_string() => {
                    "a `.kind` compares with the words `human`, `service` or `agent`, without quotes".to_string()
                }
                (Ty::Duration, Ty::Int) | (Ty::Int, Ty::Duration) => {
                    "durations are written with a unit: `30s`, `10m`, `1h`, `7d`".to_string()
                }
                (Ty::Int, t) | (t, Ty::Int) if t.is_string() => {
                    "integers are written without quotes: `3`, not `\"3\"`".to_string()
                }
                (Ty::Bool, t) | (t, Ty::Bool) if t.is_string() => {
                    "booleans are written `true` or `false`, without quotes".to_string()
                }
                (t, _) | (_, t) if t.is_string() => "strings are written in double quotes: `\"prod\"`".to_string(),
                _ => "both sides of a comparison must have the same type".to_string(),
            });
            if let Some((span, text)) = unquoted(lhs, &r.ty).or_else(|| unquoted(rhs, &l.ty)) {
                d = d.replace_with(at(sc.file, span), text);
            }
            self.report(d);
            return None;
        }
        if ordering && !(l.ty.is_ordered() && r.ty.is_ordered()) {
            self.report(
                Diagnostic::new(
                    Code::NotOrdered,
                    at(sc.file, op_span),
                    format!(
                        "`{}` orders integers and durations only, but `{lt}` is {}",
                        op.as_str(),
                        l.ty
                    ),
                )
                .label("not ordered")
                .help(if l.ty.is_string() {
                    "compare strings with `==`, `!=`, `in` or `matches`"
                } else {
                    "use `==` or `!=`"
                }),
            );
            return None;
        }
        // An enumeration compared with a string literal it can never equal.
        for (a, b_expr, b) in [(&l, rhs, &r), (&r, lhs, &l)] {
            if let (Ty::Enum(values), Operand::Literal(Value::Str(s))) = (&a.ty, &b.operand)
                && !values.contains(s)
            {
                let name = if std::ptr::eq(b_expr, rhs) { lt.clone() } else { rt.clone() };
                self.enum_value_error(sc.file, b_expr.span, s, values, &name);
                return None;
            }
        }
        Some(Cond::Compare(cmp_op(op), l.operand, r.operand))
    }

    pub(super) fn principal_visible(&mut self, p: PrincipalRef, span: Span, sc: Scope) -> bool {
        if p == PrincipalRef::Principal && !sc.in_may {
            self.report(
                Diagnostic::new(
                    Code::PrincipalOutsideMay,
                    at(sc.file, span),
                    "`principal` is only defined inside a role's `may`",
                )
                .label("no principal is being checked here")
                .help("in rules, write `initiator` (who set the work going) or `caller` (who makes this request)"),
            );
            return false;
        }
        true
    }
}

pub(super) fn kind_word(e: &Expr) -> Option<PrincipalKind> {
    match &e.kind {
        ExprKind::Name(id) => match id.name.as_str() {
            "human" => Some(PrincipalKind::Human),
            "service" => Some(PrincipalKind::Service),
            "agent" => Some(PrincipalKind::Agent),
            _ => None,
        },
        _ => None,
    }
}

/// A quoted literal that was meant unquoted, as the other side's type reads it: `"17"` for an
/// integer, `"agent"` for a kind, `"true"` for a boolean. The quick fix of a type mismatch.
fn unquoted(literal: &Expr, other: &Ty) -> Option<(Span, String)> {
    let ExprKind::Str(text) = &literal.kind else { return None };
    let fits = match other {
        Ty::Int => text.parse::<i64>().is_ok(),
        Ty::Kind => matches!(text.as_str(), "human" | "service" | "agent"),
        Ty::Bool => matches!(text.as_str(), "true" | "false"),
        _ => false,
    };
    fits.then(|| (literal.span, text.clone()))
}
