//! Literal values checked against a declared type: evidence fields, tool arguments in tests,
//! fixture attributes, context values in tests.

use std::collections::HashMap;

use writ_evaluator::ir::Value;
use writ_grammar::ast::{Expr, ExprKind, FieldValue, Param, Span};

use super::Checker;
use crate::diagnostic::{Code, Diagnostic, Location, did_you_mean, suggest};
use crate::symbols::at;
use crate::types::Ty;

impl<'a> Checker<'a> {
    /// Checks `NAME: LITERAL` pairs against declared parameters (evidence fields, tool arguments).
    pub(crate) fn field_values(
        &mut self,
        file: usize,
        values: &[FieldValue],
        params: &'a [Param],
        owner: &str,
        declared: Location,
    ) -> Option<Vec<(String, Value)>> {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        let mut out = Vec::new();
        let mut ok = true;
        for fv in values {
            if let Some(first) = seen.get(fv.name.name.as_str()) {
                ok = false;
                self.report(
                    Diagnostic::new(
                        Code::DuplicateArgument,
                        at(file, fv.name.span),
                        format!("`{}` is given twice", fv.name.name),
                    )
                    .label("given again here")
                    .related(at(file, *first), "first given here")
                    .help("give each field once"),
                );
                continue;
            }
            seen.insert(&fv.name.name, fv.name.span);
            let Some(param) = params.iter().find(|p| p.name.name == fv.name.name) else {
                ok = false;
                let names: Vec<&str> = params.iter().map(|p| p.name.name.as_str()).collect();
                let help =
                    did_you_mean(&fv.name.name, names.iter().copied()).unwrap_or_else(|| {
                        if names.is_empty() {
                            format!("{owner} has no fields")
                        } else {
                            format!(
                                "{owner} has {}",
                                names
                                    .iter()
                                    .map(|n| format!("`{n}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }
                    });
                self.report(
                    Diagnostic::new(
                        Code::UnknownField,
                        at(file, fv.name.span),
                        format!("{owner} has no field `{}`", fv.name.name),
                    )
                    .label("unknown field")
                    .related(declared, "declared here")
                    .help(help),
                );
                continue;
            };
            let Some(ty) = Ty::from_type_expr(&param.ty) else {
                ok = false;
                continue;
            };
            match self.literal(file, &fv.value, &ty, &fv.name.name) {
                Some(v) => out.push((fv.name.name.clone(), v)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A literal of type `ty` (evidence fields, fixture attributes, test arguments).
    pub(crate) fn literal(&mut self, file: usize, e: &Expr, ty: &Ty, name: &str) -> Option<Value> {
        let (value, found) = match &e.kind {
            ExprKind::Str(s) => (Value::Str(s.clone()), Ty::Str),
            ExprKind::Int(i) => (Value::Int(*i), Ty::Int),
            ExprKind::Bool(b) => (Value::Bool(*b), Ty::Bool),
            ExprKind::Duration(d) => (Value::Duration(d.seconds), Ty::Duration),
            ExprKind::List(items) => {
                (Value::StringList(items.iter().map(|s| s.value.clone()).collect()), Ty::StringList)
            }
            ExprKind::Paren(inner) => return self.literal(file, inner, ty, name),
            _ => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        at(file, e.span),
                        format!(
                            "`{name}` takes a literal value, not `{}`",
                            self.snippet(file, e.span)
                        ),
                    )
                    .label("expected a literal")
                    .help(format!("write {ty} here")),
                );
                return None;
            }
        };
        if let (Ty::Enum(values), Value::Str(s)) = (ty, &value) {
            if !values.contains(s) {
                self.enum_value_error(file, e.span, s, values, name);
                return None;
            }
            return Some(value);
        }
        // A command line is written as a string (and sent as one).
        if *ty == Ty::Command && found == Ty::Str {
            return Some(value);
        }
        if !ty.comparable(&found) {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    at(file, e.span),
                    format!("`{name}` is {ty}, but `{}` is {found}", self.snippet(file, e.span)),
                )
                .label(format!("expected {ty}"))
                .help(type_help(ty)),
            );
            return None;
        }
        Some(value)
    }

    pub(super) fn enum_value_error(
        &mut self,
        file: usize,
        span: Span,
        value: &str,
        values: &[String],
        name: &str,
    ) {
        let closest = suggest(value, values.iter().map(String::as_str));
        let hint = closest.map(|s| format!("did you mean {}?", writ_grammar::quote(s)));
        let mut d = Diagnostic::new(
            Code::EnumValue,
            at(file, span),
            format!("`{name}` can never be {}", writ_grammar::quote(value)),
        )
        .label(format!(
            "not one of {}",
            Ty::Enum(values.to_vec()).to_string().trim_start_matches("one of ")
        ))
        .help(hint.unwrap_or_else(|| format!("`{name}` is {}", Ty::Enum(values.to_vec()))));
        if let Some(closest) = closest {
            d = d.replace_with(at(file, span), writ_grammar::quote(closest));
        }
        self.report(d);
    }
}

fn type_help(ty: &Ty) -> String {
    match ty {
        Ty::Str => "strings are written in double quotes: `\"text\"`".to_string(),
        Ty::Int => "write a whole number such as `3`".to_string(),
        Ty::Bool => "write `true` or `false`".to_string(),
        Ty::Duration => "write a duration such as `30m`".to_string(),
        Ty::StringList => "write a list of strings such as `[\"a\", \"b\"]`".to_string(),
        Ty::Enum(values) => format!(
            "write one of {}",
            values.iter().map(|v| writ_grammar::quote(v)).collect::<Vec<_>>().join(", ")
        ),
        Ty::Kind => "write `human`, `service` or `agent`".to_string(),
        Ty::Command => "write a command line as a string: `\"git status\"`".to_string(),
        Ty::Path => "write a path as a string: `\"/work/app/README.md\"`".to_string(),
    }
}
