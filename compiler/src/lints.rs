//! Warnings: policies that compile but cannot do what they seem to say.

use std::collections::BTreeSet;

use writ_evaluator::ir::PolicyIr;
use writ_grammar::ast::{RuleKind, WorkflowItem};

use crate::check::Checker;
use crate::diagnostic::{Code, Diagnostic};
use crate::symbols::at;

pub(crate) fn run(c: &mut Checker<'_>, ir: &PolicyIr) {
    unstartable_workflows(c);
    never_allows(c, ir);
    unused(c);
}

/// A workflow without any `start` rule can never run.
fn unstartable_workflows(c: &mut Checker<'_>) {
    for w in c.symbols.workflows.clone() {
        let starts = w
            .decl
            .body
            .iter()
            .filter(
                |i| matches!(i, WorkflowItem::Rule(r) if matches!(r.kind, RuleKind::Start { .. })),
            )
            .count();
        if starts == 0 {
            let name = &w.decl.name.name;
            c.diagnostics.push(
                Diagnostic::new(
                    Code::UnstartableWorkflow,
                    at(w.file, w.decl.name.span),
                    format!("no one can start workflow `{name}`: it has no `start` rule"),
                )
                .label("can never run")
                .help("add a way to start it, such as `start by ROLE`"),
            );
        }
    }
}

/// An allow whose tools no role that can start the workflow is entitled to: delegation never
/// amplifies, so the initiator must be entitled, and on the starting roles alone it never is.
fn never_allows(c: &mut Checker<'_>, ir: &PolicyIr) {
    // For each role, the roles whose closure contains it (computed once, not per workflow).
    let mut holders: Vec<Vec<usize>> = vec![Vec::new(); c.closure.len()];
    for (r, closure) in c.closure.iter().enumerate() {
        for &h in closure {
            if let Some(list) = holders.get_mut(h) {
                list.push(r);
            }
        }
    }
    for (w_index, w) in c.symbols.workflows.clone().iter().enumerate() {
        let Some(wir) = ir.workflows.get(w_index) else {
            continue;
        };
        let ast_starts = w
            .decl
            .body
            .iter()
            .filter(
                |i| matches!(i, WorkflowItem::Rule(r) if matches!(r.kind, RuleKind::Start { .. })),
            )
            .count();
        // Anyone may start (a start without `by`), or some start rule did not check: no verdict.
        if wir.starts.is_empty()
            || wir.starts.len() != ast_starts
            || wir.starts.iter().any(|s| s.by.is_empty())
        {
            continue;
        }
        let named: BTreeSet<usize> =
            wir.starts.iter().flat_map(|s| s.by.iter().map(|r| *r as usize)).collect();
        // Roles whose holders meet some `start by`: those whose closure contains a named role.
        let starters: BTreeSet<usize> =
            named.iter().filter_map(|n| holders.get(*n)).flatten().copied().collect();
        let mut entitled: BTreeSet<u32> = BTreeSet::new();
        for r in &starters {
            for held in &c.closure[*r] {
                if let Some(role) = ir.roles.get(*held) {
                    for e in &role.entitlements {
                        entitled.extend(e.target.tools.iter().copied());
                    }
                }
            }
        }
        let allow_rules: Vec<_> = w
            .decl
            .body
            .iter()
            .filter_map(|i| match i {
                WorkflowItem::Rule(r) => match &r.kind {
                    RuleKind::Allow { target, .. } => Some((r.span, target.span)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        for allow in &wir.allows {
            if allow.target.tools.iter().any(|t| entitled.contains(t)) {
                continue;
            }
            let n: usize =
                allow.meta.id.rsplit('/').next().and_then(|n| n.parse().ok()).unwrap_or(0);
            let Some((_, target_span)) = n.checked_sub(1).and_then(|i| allow_rules.get(i)) else {
                continue;
            };
            let starter_names: Vec<String> =
                named.iter().map(|r| format!("`{}`", c.symbols.roles[*r].decl.name.name)).collect();
            c.diagnostics.push(
                Diagnostic::new(
                    Code::NeverAllows,
                    at(w.file, *target_span),
                    format!(
                        "`{}` never allows on a starter's roles: no role that can start `{}` is entitled to `{}`",
                        allow.meta.id, w.decl.name.name, allow.target.text
                    ),
                )
                .label("no starting role has a matching `may`")
                .help(format!(
                    "delegation never widens access, so an initiator holding only {} is denied here; \
                     add `may {}` to a starting role, or remove the rule",
                    starter_names.join(" or "),
                    allow.target.text
                )),
            );
        }
    }
}

/// Declarations nothing refers to.
fn unused(c: &mut Checker<'_>) {
    let mut warnings = Vec::new();
    for (i, r) in c.symbols.roles.iter().enumerate() {
        let grants = r.decl.body.as_ref().is_some_and(|b| !b.is_empty());
        if !grants && !c.usage.roles.contains(&i) {
            warnings.push(
                Diagnostic::new(
                    Code::UnusedDeclaration,
                    at(r.file, r.decl.name.span),
                    format!("role `{}` grants nothing and is never used", r.decl.name.name),
                )
                .label("unused")
                .help("give it entitlements with `may`, use it in `start by`, `extends` or `has role`, or remove it"),
            );
        }
    }
    for (i, t) in c.symbols.tools.iter().enumerate() {
        if !c.usage.allowed_tools.contains(&i) {
            warnings.push(
                Diagnostic::new(
                    Code::UnusedDeclaration,
                    at(t.file, t.decl.name.span),
                    format!("tool `{}` is never allowed by any workflow", t.decl.name.text),
                )
                .label("can never be called")
                .help("allow it in a workflow with `allow`, or remove it"),
            );
        }
    }
    for (i, e) in c.symbols.evidence.iter().enumerate() {
        if !c.usage.evidence.contains(&i) {
            warnings.push(
                Diagnostic::new(
                    Code::UnusedDeclaration,
                    at(e.file, e.decl.name.span),
                    format!("evidence kind `{}` is never required", e.decl.name.name),
                )
                .label("unused")
                .help("require it in a rule with `require`, or remove it"),
            );
        }
    }
    for (i, a) in c.symbols.attributes.iter().enumerate() {
        if !c.usage.attributes.contains(&i) {
            warnings.push(
                Diagnostic::new(
                    Code::UnusedDeclaration,
                    at(a.file, a.decl.name.span),
                    format!("attribute `{}` is never used in a condition", a.decl.name.name),
                )
                .label("unused")
                .help("use it in a condition (`initiator.NAME`), or remove it"),
            );
        }
    }
    for (i, x) in c.symbols.contexts.iter().enumerate() {
        if !c.usage.contexts.contains(&i) {
            warnings.push(
                Diagnostic::new(
                    Code::UnusedDeclaration,
                    at(x.file, x.decl.name.span),
                    format!("context value `{}` is never used in a condition", x.decl.name.name),
                )
                .label("unused")
                .help("use it in a condition (`context.NAME`), or remove it"),
            );
        }
    }
    c.diagnostics.extend(warnings);
}
