//! Declarations: attributes, context values, tools and evidence kinds, with their types.

use std::collections::HashMap;

use writ_evaluator::ir::{EvidenceKindIr, ParamIr, ToolIr, ValueDeclIr};
use writ_grammar::ast::{Param, Span};

use super::Checker;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::symbols::at;
use crate::types::Ty;

impl<'a> Checker<'a> {
    /// Checks and lowers the attribute or the context value declarations.
    pub(super) fn value_decls(&mut self, which: ValueDecls) -> Vec<ValueDeclIr> {
        let attributes = which == ValueDecls::Attributes;
        let decls = match which {
            ValueDecls::Attributes => self.symbols.attributes.clone(),
            ValueDecls::Contexts => self.symbols.contexts.clone(),
        };
        let mut out = Vec::new();
        for d in decls {
            let name = &d.decl.name;
            if attributes && matches!(name.name.as_str(), "id" | "kind" | "roles") {
                self.report(
                    Diagnostic::new(
                        Code::BuiltinAttribute,
                        at(d.file, name.span),
                        format!("`{}` is a built-in attribute of every principal", name.name),
                    )
                    .label("cannot be declared")
                    .help("`id`, `kind` and `roles` are built in; choose another name"),
                );
            }
            let what = if attributes { "an attribute" } else { "a context value" };
            let ty = self.type_expr(d.file, &d.decl.ty).unwrap_or(Ty::Str);
            let ty = self.argument_only(d.file, &d.decl.ty, ty, what);
            out.push(ValueDeclIr { name: name.name.clone(), ty: ty.to_value_type() });
        }
        out
    }

    fn type_expr(&mut self, file: usize, ty: &writ_grammar::ast::TypeExpr) -> Option<Ty> {
        use writ_grammar::ast::TypeKind;
        match &ty.kind {
            TypeKind::Unknown(word) => {
                let types = ["string", "int", "bool", "duration"];
                self.report(
                    Diagnostic::new(
                        Code::UnknownType,
                        at(file, word.span),
                        format!("unknown type `{}`", word.name),
                    )
                    .label("not a type")
                    .help(did_you_mean(&word.name, types).unwrap_or_else(
                        || {
                            "types are `string`, `int`, `bool`, `duration`, `[string]` or an \
                         enumeration such as `\"staging\" | \"prod\"`"
                                .to_string()
                        },
                    )),
                );
                None
            }
            TypeKind::Enum(values) => {
                let mut seen: HashMap<&str, Span> = HashMap::new();
                for v in values {
                    if let Some(first) = seen.get(v.value.as_str()) {
                        self.report(
                            Diagnostic::new(
                                Code::DuplicateEnumValue,
                                at(file, v.span),
                                format!(
                                    "{} is listed twice in this enumeration",
                                    writ_grammar::quote(&v.value)
                                ),
                            )
                            .label("listed again here")
                            .related(at(file, *first), "first listed here")
                            .help("remove the repeated value"),
                        );
                    } else {
                        seen.insert(&v.value, v.span);
                    }
                }
                Ty::from_type_expr(ty)
            }
            _ => Ty::from_type_expr(ty),
        }
    }

    /// `command` and `path` are types of tool arguments only (LANGUAGE.md §2): reported on
    /// anything else, which is then treated as a string.
    fn argument_only(
        &mut self,
        file: usize,
        expr: &writ_grammar::ast::TypeExpr,
        ty: Ty,
        what: &str,
    ) -> Ty {
        if !matches!(ty, Ty::Command | Ty::Path) {
            return ty;
        }
        self.report(
            Diagnostic::new(
                Code::ArgumentOnlyType,
                at(file, expr.span),
                format!("{what} cannot be {ty}"),
            )
            .label("tool arguments only")
            .help(
                "`command` and `path` are types of tool arguments, which writ parses or resolves; \
                 declare this one as a `string`",
            ),
        );
        Ty::Str
    }

    fn params(&mut self, file: usize, params: &[Param], what: &str) -> Vec<ParamIr> {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        let mut out = Vec::new();
        for p in params {
            if let Some(first) = seen.get(p.name.name.as_str()) {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateArgument,
                        at(file, p.name.span),
                        format!("{what} `{}` is declared twice", p.name.name),
                    )
                    .label("declared again here")
                    .related(at(file, *first), "first declared here")
                    .help(format!("give each {what} its own name")),
                );
                continue;
            }
            seen.insert(&p.name.name, p.name.span);
            let ty = self.type_expr(file, &p.ty).unwrap_or(Ty::Str);
            let ty = if what == "argument" {
                ty
            } else {
                self.argument_only(file, &p.ty, ty, "an evidence field")
            };
            out.push(ParamIr { name: p.name.name.clone(), ty: ty.to_value_type() });
        }
        out
    }

    pub(super) fn tools(&mut self) -> Vec<ToolIr> {
        let decls = self.symbols.tools.clone();
        decls
            .iter()
            .map(|d| {
                let params =
                    self.params(d.file, d.decl.params.as_deref().unwrap_or(&[]), "argument");
                let mut tags: Vec<String> = Vec::new();
                for t in &d.decl.tags {
                    if !tags.contains(&t.name) {
                        tags.push(t.name.clone());
                    }
                }
                ToolIr { name: d.decl.name.text.clone(), params, tags }
            })
            .collect()
    }

    pub(super) fn evidence_kinds(&mut self) -> Vec<EvidenceKindIr> {
        let decls = self.symbols.evidence.clone();
        decls
            .iter()
            .map(|d| {
                if let Some(kind) = &d.decl.by_kind
                    && kind.name != "human"
                {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidKind,
                            at(d.file, kind.span),
                            format!("evidence is given by humans, not by `{}`", kind.name),
                        )
                        .label("expected `human`")
                        .help(format!("write `evidence {} by human`", d.decl.name.name)),
                    );
                }
                let fields = self.params(d.file, d.decl.fields.as_deref().unwrap_or(&[]), "field");
                EvidenceKindIr {
                    name: d.decl.name.name.clone(),
                    fields,
                    by_human: d.decl.by_human.is_some(),
                    bound: d.decl.bound.is_some(),
                }
            })
            .collect()
    }
}

/// Which of the two kinds of value declaration (`attribute`, `context`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ValueDecls {
    Attributes,
    Contexts,
}
