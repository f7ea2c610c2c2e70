//! Warnings: policies that compile but cannot do what they seem to say.

use std::collections::BTreeSet;
use writ_evaluator::ir::ToolId;

use writ_evaluator::ir::PolicyIr;
use writ_grammar::ast::{CommandPattern, Expr, ExprKind, PatternItem, RuleKind, WorkflowItem};

use crate::check::{Checker, Site};
use crate::diagnostic::{Code, Diagnostic};
use crate::symbols::at;

pub(crate) fn run(c: &mut Checker<'_>, ir: &PolicyIr) {
    unstartable_workflows(c);
    never_allows(c, ir);
    unused(c);
    command_allows(c);
    vacuous_claims(c, ir);
}

/// The lints decided by the verify search (`verify/lint.rs`): conditions never true, allows
/// that denies shadow, `require ... for` rules and entitlements nothing reaches. They come
/// after all the others ([`run`]); the database runs their searches (`db::exact_findings`), and
/// `site` says where each rule was written.
pub(crate) fn exact(
    found: &crate::verify::lint::Findings,
    site: impl Fn(&str) -> Option<Site>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (id, fails_closed) in &found.unsatisfiable {
        let Some(s) = site(id) else { continue };
        let label = if *fails_closed {
            "never true (the rule still applies when a value it reads is missing)"
        } else {
            "never true: the rule never applies"
        };
        out.push(
            Diagnostic::new(
                Code::UnsatisfiableCondition,
                s.condition.unwrap_or(s.rule),
                format!("no request makes the condition of `{id}` true"),
            )
            .label(label)
            .help("the condition contradicts itself (two values for one field, a bound the chain cannot reach); fix it or remove the rule"),
        );
    }
    for id in &found.shadowed {
        let Some(s) = site(id) else { continue };
        out.push(
            Diagnostic::new(
                Code::ShadowedAllow,
                s.rule,
                format!("`{id}` never allows: a deny applies to every request it would allow"),
            )
            .label("shadowed by denies")
            .help("narrow the deny (or the allow's condition) so that the requests this rule means to allow get through, or remove the allow"),
        );
    }
    for id in &found.unreached {
        let Some(s) = site(id) else { continue };
        out.push(
            Diagnostic::new(
                Code::UnreachedRequire,
                s.rule,
                format!("`{id}` never applies to an allowed call: no allow lets a request it covers through"),
            )
            .label("no allow reaches this")
            .help("its target, or its condition, matches no call that an allow admits without a deny; check the target and the allows' conditions, or remove the rule"),
        );
    }
    for id in &found.unusable {
        let Some(s) = site(id) else { continue };
        out.push(
            Diagnostic::new(
                Code::UnusableEntitlement,
                s.rule,
                format!("no workflow can use `{id}`: no allow admits a call it covers"),
            )
            .label("never used")
            .help("allow these tools in a workflow (with a condition this entitlement can meet), or remove the entitlement"),
        );
    }
    out
}

/// Programs that run whatever their arguments say: a shell, an interpreter, or a wrapper that
/// runs another program.
const RUNS_ANYTHING: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "mksh", "fish", "csh", "tcsh", "python", "python3", "node",
    "deno", "bun", "perl", "ruby", "php", "lua", "env", "xargs", "sudo", "doas", "exec", "eval",
    "nohup", "timeout", "nice", "command", "builtin", "find", "awk", "make", "pwsh", "ssh", "su",
    "watch", "npx",
];

/// Allows on commands: `runs` admits anything that also runs the pattern (`runs only` is the
/// allow-list form), and a `runs only` pattern that admits a shell or interpreter with any
/// arguments admits every program.
fn command_allows(c: &mut Checker<'_>) {
    let mut conditions: Vec<(usize, &Expr, bool)> = Vec::new();
    for w in &c.symbols().workflows {
        for item in &w.decl.body {
            if let WorkflowItem::Rule(r) = item
                && let RuleKind::Allow { when, unless, .. } = &r.kind
            {
                conditions.extend(when.iter().map(|e| (w.file, e, true)));
                conditions.extend(unless.iter().map(|e| (w.file, e, false)));
            }
        }
    }
    let mut found = Vec::new();
    for (file, e, positive) in conditions {
        // Iterative walk, tracking whether the node counts towards allowing (not negated).
        let mut stack = vec![(e, positive)];
        while let Some((e, positive)) = stack.pop() {
            match &e.kind {
                ExprKind::Not(inner) => stack.push((inner, !positive)),
                ExprKind::Paren(inner) => stack.push((inner, positive)),
                ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                    stack.push((a, positive));
                    stack.push((b, positive));
                }
                ExprKind::Runs { op_span, .. } if positive => {
                    found.push(
                        Diagnostic::new(
                            Code::RunsInAllow,
                            at(file, *op_span),
                            "`runs` in an allow admits any command line that also runs this",
                        )
                        .label("`git status; rm -rf /` runs `git status` too")
                        .help("allow with `runs only [...]`, which admits exactly the listed commands; keep `runs` for denies"),
                    );
                }
                ExprKind::RunsOnly { patterns, .. } if positive => {
                    for p in patterns {
                        if let Some(program) = admits_any_program(p) {
                            found.push(
                                Diagnostic::new(
                                    Code::AdmitsAnyProgram,
                                    at(file, p.span),
                                    format!("this pattern admits any program: {program}"),
                                )
                                .label("admits any program")
                                .help("list the exact commands instead, or require a human's confirmation for this allow"),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }
    for d in found {
        c.report(d);
    }
}

/// Why a `runs only` pattern admits any program, if it does: it starts with `...` or `"*"`, or
/// its first word can be a shell, interpreter or wrapper and later items admit any words.
fn admits_any_program(p: &CommandPattern) -> Option<String> {
    let (first, rest) = p.items.split_first()?;
    let open = |item: &PatternItem| match item {
        PatternItem::Rest(_) => true,
        PatternItem::Word(w) => w.value.contains('*'),
    };
    match first {
        PatternItem::Rest(_) => Some("`...` first matches any command".to_string()),
        PatternItem::Word(w) if w.value.starts_with('*') => {
            Some(format!("{:?} as the first word matches any command", w.value))
        }
        PatternItem::Word(w) => {
            // `runs only` matches word for word, so `/usr/bin/python3.12` is a program of its
            // own: judge it by its final segment, without a version suffix.
            let segment = w.value.rsplit('/').next().unwrap_or(&w.value);
            let unversioned = segment.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
            let glob = writ_evaluator::Glob::new(segment);
            if !RUNS_ANYTHING.iter().any(|p| glob.is_match(p) || unversioned == *p) {
                return None;
            }
            rest.iter().any(open).then(|| {
                format!("`{}` with any arguments runs whatever program they name", w.value)
            })
        }
    }
}

/// A claim whose condition no request can make true (`env == "prod" and env == "staging"`)
/// holds whatever the policy says: it proves nothing, and is almost always a typo.
fn vacuous_claims(c: &mut Checker<'_>, ir: &PolicyIr) {
    for a in c.assertions().to_vec() {
        for claim in &a.claims {
            if crate::verify::never_applies(ir, claim) {
                c.report(
                    Diagnostic::new(
                        Code::VacuousClaim,
                        claim.location,
                        format!("no request makes this claim's condition true: assertion {:?} proves nothing", a.name),
                    )
                    .label("can never apply")
                    .help("a claim is about the requests its condition describes; check for a condition that contradicts itself"),
                );
            }
        }
    }
}

/// A workflow without any `start` rule can never run.
fn unstartable_workflows(c: &mut Checker<'_>) {
    for w in c.symbols().workflows.clone() {
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
            c.report(
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
    let mut holders: Vec<Vec<usize>> = vec![Vec::new(); c.closure().len()];
    for (r, closure) in c.closure().iter().enumerate() {
        for &h in closure {
            if let Some(list) = holders.get_mut(h) {
                list.push(r);
            }
        }
    }
    for (w_index, w) in c.symbols().workflows.clone().iter().enumerate() {
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
            wir.starts.iter().flat_map(|s| s.by.iter().map(|r| r.index())).collect();
        // Roles whose holders meet some `start by`: those whose closure contains a named role.
        let starters: BTreeSet<usize> =
            named.iter().filter_map(|n| holders.get(*n)).flatten().copied().collect();
        let mut entitled: BTreeSet<ToolId> = BTreeSet::new();
        for r in &starters {
            for held in c.closure().get(*r).into_iter().flatten() {
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
                named.iter().map(|r| format!("`{}`", c.symbols().role_name(*r))).collect();
            c.report(
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
    let mut warn = |file, span, message: String, label: &str, help: &str| {
        let at = at(file, span);
        warnings
            .push(Diagnostic::new(Code::UnusedDeclaration, at, message).label(label).help(help));
    };
    let (symbols, usage) = (c.symbols(), c.usage());
    for (i, r) in symbols.roles.iter().enumerate() {
        let grants = r.decl.body.as_ref().is_some_and(|b| !b.is_empty());
        if !grants && !usage.roles.contains(&i) {
            warn(
                r.file,
                r.decl.name.span,
                format!("role `{}` grants nothing and is never used", r.decl.name.name),
                "unused",
                "give it entitlements with `may`, use it in `start by`, `extends` or `has role`, \
                 or remove it",
            );
        }
    }
    for (i, t) in symbols.tools.iter().enumerate() {
        if !usage.allowed_tools.contains(&i) {
            warn(
                t.file,
                t.decl.name.span,
                format!("tool `{}` is never allowed by any workflow", t.decl.name.text),
                "can never be called",
                "allow it in a workflow with `allow`, or remove it",
            );
        }
    }
    for (i, e) in symbols.evidence.iter().enumerate() {
        if !usage.evidence.contains(&i) {
            warn(
                e.file,
                e.decl.name.span,
                format!("evidence kind `{}` is never required", e.decl.name.name),
                "unused",
                "require it in a rule with `require`, or remove it",
            );
        }
    }
    let values = [
        (&symbols.attributes, &usage.attributes, "attribute", "initiator"),
        (&symbols.contexts, &usage.contexts, "context value", "context"),
    ];
    for (declared, used, noun, operand) in values {
        for (i, v) in declared.iter().enumerate() {
            if !used.contains(&i) {
                warn(
                    v.file,
                    v.decl.name.span,
                    format!("{noun} `{}` is never used in a condition", v.decl.name.name),
                    "unused",
                    &format!("use it in a condition (`{operand}.NAME`), or remove it"),
                );
            }
        }
    }
    for d in warnings {
        c.report(d);
    }
}
