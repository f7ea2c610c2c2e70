//! Operands: literals, principals' values, context values and tool arguments, with their types.

use std::collections::BTreeSet;
use writ_evaluator::ir::{AttributeId, ContextId};

use writ_evaluator::ir::{Operand, Value};
use writ_grammar::ast::{Expr, ExprKind, Ident};

use super::conditions::kind_word;
use super::lower::who;
use super::{Checker, Namespace, Scope, Typed};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::symbols::at;
use crate::types::Ty;

impl<'a> Checker<'a> {
    pub(super) fn value(&mut self, e: &Expr, sc: Scope) -> Option<Typed> {
        let lit = |ty: Ty, v: Value| Some(Typed { ty, operand: Operand::Literal(v) });
        match &e.kind {
            ExprKind::Bool(b) => lit(Ty::Bool, Value::Bool(*b)),
            ExprKind::Str(s) => lit(Ty::Str, Value::Str(s.clone())),
            ExprKind::Int(i) => lit(Ty::Int, Value::Int(*i)),
            ExprKind::Duration(d) => lit(Ty::Duration, Value::Duration(d.seconds)),
            ExprKind::List(items) => lit(
                Ty::StringList,
                Value::StringList(items.iter().map(|s| s.value.clone()).collect()),
            ),
            ExprKind::Paren(inner) => self.value(inner, sc),
            ExprKind::Name(id) => self.argument(id, sc),
            ExprKind::Depth => Some(Typed { ty: Ty::Int, operand: Operand::Depth }),
            ExprKind::Principal(p, span) => {
                if self.principal_visible(*p, *span, sc) {
                    let name = p.as_str();
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            at(sc.file, e.span),
                            format!("`{name}` is a principal, not a value"),
                        )
                        .label("a principal")
                        .help(format!(
                            "use one of its values (`{name}.id`, `{name}.kind`, `{name}.ATTRIBUTE`) or `{name} has role ROLE`"
                        )),
                    );
                }
                None
            }
            ExprKind::Field { principal, principal_span, field } => {
                if !self.principal_visible(*principal, *principal_span, sc) {
                    return None;
                }
                let w = who(*principal);
                match field.name.as_str() {
                    "id" => Some(Typed { ty: Ty::Str, operand: Operand::Id(w) }),
                    "kind" => Some(Typed { ty: Ty::Kind, operand: Operand::Kind(w) }),
                    name => match self.symbols.attribute(name) {
                        Some(a) => {
                            self.usage.attributes.insert(a);
                            let d = self.symbols.attributes.get(a)?;
                            let ty = Ty::from_type_expr(&d.decl.ty)?;
                            Some(Typed {
                                ty,
                                operand: Operand::Attribute(w, AttributeId(a as u32)),
                            })
                        }
                        None => {
                            let mut candidates: Vec<&str> =
                                self.symbols.names(Namespace::Attribute);
                            candidates.extend(["id", "kind"]);
                            let ns = Namespace::Attribute;
                            let help = if name == "roles" {
                                format!("test roles with `{} has role ROLE`", principal.as_str())
                            } else {
                                self.name_hint(name, ns, candidates)
                                    .unwrap_or_else(|| ns.declare(name))
                            };
                            self.unknown_helped(ns, sc.file, field.span, name, help);
                            None
                        }
                    },
                }
            }
            ExprKind::Context(name) => {
                let c = self.find(Namespace::Context, sc.file, name.span, &name.name)?;
                self.usage.contexts.insert(c);
                let d = self.symbols.contexts.get(c)?;
                let ty = Ty::from_type_expr(&d.decl.ty)?;
                Some(Typed { ty, operand: Operand::Context(ContextId(c as u32)) })
            }
            ExprKind::Calls { target, within } => self.calls(target, within.as_ref(), sc),
            ExprKind::Given(requirement) if sc.in_assertion => self.given(requirement, sc),
            ExprKind::Given(_) => {
                self.report(
                    Diagnostic::new(
                        Code::GivenOutsideAssertion,
                        at(sc.file, e.span),
                        "`given(...)` counts evidence only inside an assertion",
                    )
                    .label("not inside `assert`")
                    .help("in a rule, ask for evidence with `require`: `allow TOOL require 2 approval by lead`"),
                );
                None
            }
            ExprKind::Compare { .. }
            | ExprKind::In { .. }
            | ExprKind::Contains { .. }
            | ExprKind::Matches { .. }
            | ExprKind::Quantified { .. }
            | ExprKind::HasRole { .. }
            | ExprKind::Runs { .. }
            | ExprKind::RunsOnly { .. }
            | ExprKind::Under { .. }
            | ExprKind::Not(_)
            | ExprKind::And(..)
            | ExprKind::Or(..) => {
                // Check the inner condition anyway, so that its own errors are reported.
                self.cond(e, sc)?;
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        at(sc.file, e.span),
                        format!(
                            "expected a value, found the condition `{}`",
                            self.snippet(sc.file, e.span)
                        ),
                    )
                    .label("a condition, not a value")
                    .help("conditions combine with `and`, `or` and `not`; they cannot be compared"),
                );
                None
            }
        }
    }

    /// A bare name in a condition: an argument of every targeted tool.
    fn argument(&mut self, id: &Ident, sc: Scope) -> Option<Typed> {
        let name = id.name.as_str();
        let hint_other = |this: &Self| -> Option<String> {
            if this.symbols.context(name).is_some() {
                Some(format!("did you mean `context.{name}`?"))
            } else if this.symbols.attribute(name).is_some() {
                Some(format!("did you mean `initiator.{name}` or `caller.{name}`?"))
            } else if kind_word(&Expr { kind: ExprKind::Name(id.clone()), span: id.span }).is_some()
            {
                Some(format!(
                    "`{name}` names a principal kind only when compared with a `.kind`, as in `caller.kind == {name}`"
                ))
            } else {
                None
            }
        };
        let Some(tools) = sc.tools else {
            let help = hint_other(self).unwrap_or_else(|| {
                "`start` rules see `initiator`, `caller`, `depth` and `context.NAME`; there is no tool call yet".to_string()
            });
            self.report(
                Diagnostic::new(
                    Code::UnknownName,
                    at(sc.file, id.span),
                    format!("unknown name `{name}`"),
                )
                .label("not defined here")
                .help(help),
            );
            return None;
        };
        let mut found: Vec<(usize, Option<Ty>)> = Vec::new();
        for &t in tools {
            let Some(tool) = self.symbols.tools.get(t) else { continue };
            let ty = tool
                .decl
                .params
                .iter()
                .flatten()
                .find(|p| p.name.name == name)
                .and_then(|p| Ty::from_type_expr(&p.ty).or(Some(Ty::Str)));
            found.push((t, ty));
        }
        let having: Vec<&(usize, Option<Ty>)> =
            found.iter().filter(|(_, ty)| ty.is_some()).collect();
        if having.is_empty() {
            let params: BTreeSet<&str> = tools
                .iter()
                .flat_map(|t| {
                    let tool = self.symbols.tools.get(*t).map(|d| &d.decl.params);
                    tool.into_iter().flatten().flatten().map(|p| p.name.name.as_str())
                })
                .collect();
            let help = hint_other(self)
                .or_else(|| did_you_mean(name, params.iter().copied()))
                .unwrap_or_else(|| {
                    if params.is_empty() {
                        format!("`{}` takes no arguments", sc.target_text)
                    } else {
                        format!(
                            "arguments here: {}",
                            params.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
                        )
                    }
                });
            let what = if tools.len() == 1 {
                format!("`{name}` is not an argument of `{}`", sc.target_text)
            } else {
                format!("`{name}` is not an argument of any tool `{}` targets", sc.target_text)
            };
            self.report(
                Diagnostic::new(Code::UnknownName, at(sc.file, id.span), what)
                    .label("unknown name")
                    .help(help),
            );
            return None;
        }
        if having.len() < found.len() {
            let lacking: Vec<&str> = found
                .iter()
                .filter(|(_, ty)| ty.is_none())
                .map(|(t, _)| self.symbols.tool_name(*t))
                .collect();
            let lacking_first = lacking.first().copied().unwrap_or_default();
            let mut d = Diagnostic::new(
                Code::MissingArgument,
                at(sc.file, id.span),
                format!("argument `{name}` is not on every tool that `{}` targets", sc.target_text),
            )
            .label(format!("`{lacking_first}` has no `{name}`"))
            .help(format!(
                "{} {} no argument `{name}`: narrow the target, or declare the argument on every tool it matches",
                lacking.iter().take(3).map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", "),
                if lacking.len() == 1 { "has" } else { "have" },
            ));
            if let Some(loc) = self.symbols.location_of(lacking_first) {
                d = d.related(loc, format!("`{lacking_first}` declared here"));
            }
            self.report(d);
            return None;
        }
        let Some(&&(first_tool, ref first)) = having.first() else {
            writ_stdx::never!("`having` was checked to be non-empty");
            return None;
        };
        let first = first.clone().unwrap_or(Ty::Str);
        if let Some((t, ty)) = having.iter().find(|(_, ty)| ty.as_ref() != Some(&first)) {
            let other = ty.clone().unwrap_or(Ty::Str);
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    at(sc.file, id.span),
                    format!(
                        "argument `{name}` has different types on the tools that `{}` targets",
                        sc.target_text
                    ),
                )
                .label("ambiguous type")
                .help(format!(
                    "`{}` declares it as {first} but `{}` as {other}: narrow the target",
                    self.symbols.tool_name(first_tool),
                    self.symbols.tool_name(*t)
                )),
            );
            return None;
        }
        Some(Typed { ty: first, operand: Operand::Arg(name.to_string()) })
    }
}
