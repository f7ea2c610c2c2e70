//! Workflows and their clauses, guardrails, and each rule (`start`, `allow`, `deny`,
//! `deny start`, `require ... for`) with its `when`/`unless`.

use writ_evaluator::ir::RoleId;
use writ_evaluator::ir::{
    AllowRuleIr, Cond, DenyRuleIr, DenyStartRuleIr, EvidenceRequirementIr, RequireForRuleIr,
    RuleSetIr, StartRuleIr, TargetIr, WorkflowIr,
};
use writ_grammar::ast::{EvidenceRequirement, Expr, Rule, RuleKind, Span, Target, WorkflowItem};

use super::lower::condition_span;
use super::lower::when_unless;
use super::{Checker, Scope};
use crate::diagnostic::{Code, Diagnostic};
use crate::symbols::at;

impl<'a> Checker<'a> {
    pub(super) fn workflow(
        &mut self,
        file: usize,
        w: &'a writ_grammar::ast::WorkflowDecl,
    ) -> WorkflowIr {
        let name = &w.name.name;
        let mut out = WorkflowIr {
            name: name.clone(),
            max_depth: 1,
            ttl_seconds: 3600,
            starts: Vec::new(),
            allows: Vec::new(),
            rules: RuleSetIr::default(),
        };
        let mut max_depth_seen: Option<Span> = None;
        let mut ttl_seen: Option<Span> = None;
        let mut counters = RuleCounters::default();
        for item in &w.body {
            match item {
                WorkflowItem::MaxDepth(n) => {
                    if let Some(first) = max_depth_seen {
                        self.duplicate_clause(file, n.span, first, "max_depth", name);
                        continue;
                    }
                    max_depth_seen = Some(n.span);
                    match u32::try_from(n.value) {
                        Ok(v) => out.max_depth = v,
                        Err(_) => self.report(
                            Diagnostic::new(
                                Code::InvalidCount,
                                at(file, n.span),
                                format!("`max_depth {}` is too large", n.value),
                            )
                            .label("too large")
                            .help(format!("write a depth from 0 to {}", u32::MAX)),
                        ),
                    }
                }
                WorkflowItem::Ttl(d) => {
                    if let Some(first) = ttl_seen {
                        self.duplicate_clause(file, d.span, first, "ttl", name);
                        continue;
                    }
                    ttl_seen = Some(d.span);
                    if d.seconds <= 0 {
                        self.report(
                            Diagnostic::new(
                                Code::ZeroDuration,
                                at(file, d.span),
                                "a workflow's `ttl` must be greater than zero",
                            )
                            .label("no credential could ever be granted")
                            .help("write a positive duration such as `30m` or `1h`"),
                        );
                    } else {
                        out.ttl_seconds = d.seconds;
                    }
                }
                WorkflowItem::Rule(rule) => {
                    self.rule(file, rule, Some(name), &mut counters, &mut out)
                }
                WorkflowItem::Error(_) => {}
            }
        }
        out
    }

    fn duplicate_clause(
        &mut self,
        file: usize,
        span: Span,
        first: Span,
        clause: &str,
        workflow: &str,
    ) {
        self.report(
            Diagnostic::new(
                Code::DuplicateClause,
                at(file, span),
                format!("workflow `{workflow}` sets `{clause}` twice"),
            )
            .label("set again here")
            .related(at(file, first), "first set here")
            .help(format!("a workflow has at most one `{clause}`: keep one")),
        );
    }

    pub(super) fn guardrails(&mut self) -> RuleSetIr {
        let rules = self.symbols.rules.clone();
        let mut counters = RuleCounters::default();
        let mut holder = WorkflowIr {
            name: String::new(),
            max_depth: 0,
            ttl_seconds: 0,
            starts: Vec::new(),
            allows: Vec::new(),
            rules: RuleSetIr::default(),
        };
        for r in rules {
            self.rule(r.file, r.decl, None, &mut counters, &mut holder);
        }
        holder.rules
    }

    /// Checks one rule and adds its lowered form to `out` (a workflow, or the guardrails when
    /// `workflow` is `None`).
    fn rule(
        &mut self,
        file: usize,
        rule: &'a Rule,
        workflow: Option<&str>,
        counters: &mut RuleCounters,
        out: &mut WorkflowIr,
    ) {
        let id = |kind: &str, n: usize| match workflow {
            Some(w) => format!("{w}/{kind}/{n}"),
            None => format!("{kind}/{n}"),
        };
        let meta =
            |this: &mut Self, kind: &str, n: usize, when: &Option<Expr>, unless: &Option<Expr>| {
                let condition = condition_span(when.as_ref(), unless.as_ref());
                this.meta(id(kind, n), file, rule.span, condition)
            };
        match &rule.kind {
            RuleKind::Start { by, when, unless, require } => {
                counters.start += 1;
                if workflow.is_none() {
                    self.misplaced(
                        file,
                        rule.span,
                        "`start` rules",
                        "inside the workflow they start",
                    );
                }
                let roles: Vec<Option<usize>> =
                    by.iter().map(|r| self.resolve_role(file, r)).collect();
                let scope = Scope::untargeted(file);
                let condition = self.conditions(when.as_ref(), unless.as_ref(), scope);
                let require = self.requirements(file, require);
                if let (Some(condition), Some(require)) = (condition, require)
                    && roles.iter().all(Option::is_some)
                {
                    out.starts.push(StartRuleIr {
                        meta: meta(self, "start", counters.start, when, unless),
                        by: roles.into_iter().flatten().map(|r| RoleId(r as u32)).collect(),
                        condition,
                        require,
                    });
                }
            }
            RuleKind::Allow { target, when, unless, require } => {
                counters.allow += 1;
                if workflow.is_none() {
                    self.misplaced(
                        file,
                        rule.span,
                        "`allow` rules",
                        "inside a workflow: top-level rules are guardrails that can only deny or require",
                    );
                }
                if let Some((target, condition, require)) =
                    self.targeted_rule(file, target, when, unless, require)
                {
                    // (A rule with errors needs no use: lints run on programs without errors.)
                    self.usage.allowed_tools.extend(target.tools.iter().map(|t| t.index()));
                    out.allows.push(AllowRuleIr {
                        meta: meta(self, "allow", counters.allow, when, unless),
                        target,
                        condition,
                        require,
                    });
                }
            }
            RuleKind::Deny { target, when, unless, because } => {
                counters.deny += 1;
                if let Some((target, condition, _)) =
                    self.targeted_rule(file, target, when, unless, &[])
                {
                    out.rules.denies.push(DenyRuleIr {
                        meta: meta(self, "deny", counters.deny, when, unless),
                        target,
                        condition,
                        because: because.as_ref().map(|b| b.value.clone()),
                    });
                }
            }
            RuleKind::DenyStart { when, unless, because, .. } => {
                counters.deny_start += 1;
                let scope = Scope::untargeted(file);
                if let Some(condition) = self.conditions(when.as_ref(), unless.as_ref(), scope) {
                    out.rules.deny_starts.push(DenyStartRuleIr {
                        meta: meta(self, "deny_start", counters.deny_start, when, unless),
                        condition,
                        because: because.as_ref().map(|b| b.value.clone()),
                    });
                }
            }
            RuleKind::RequireFor { require, target, when, unless } => {
                counters.require += 1;
                if let Some((target, condition, require)) =
                    self.targeted_rule(file, target, when, unless, require)
                {
                    out.rules.requires.push(RequireForRuleIr {
                        meta: meta(self, "require", counters.require, when, unless),
                        target,
                        condition,
                        require,
                    });
                }
            }
        }
    }

    /// What a rule on tools is made of (`allow`, `deny`, `require ... for`): its target, its
    /// condition and its requirements (none for a deny), each checked and all reported;
    /// `None` when any has errors.
    fn targeted_rule(
        &mut self,
        file: usize,
        target: &Target,
        when: &'a Option<Expr>,
        unless: &'a Option<Expr>,
        require: &[EvidenceRequirement],
    ) -> Option<(TargetIr, Option<Cond>, Vec<EvidenceRequirementIr>)> {
        let target = self.target(file, target);
        let condition = self.targeted(file, target.as_ref(), when, unless);
        let require = self.requirements(file, require);
        Some((target?, condition?, require?))
    }

    fn misplaced(&mut self, file: usize, span: Span, what: &str, where_: &str) {
        self.report(
            Diagnostic::new(Code::MisplacedRule, at(file, span), format!("{what} belong {where_}"))
                .label("outside any workflow")
                .help("move this rule into a `workflow NAME { ... }` block"),
        );
    }

    /// The condition of a rule that targets tools (their arguments are visible).
    fn targeted(
        &mut self,
        file: usize,
        target: Option<&TargetIr>,
        when: &'a Option<Expr>,
        unless: &'a Option<Expr>,
    ) -> Option<Option<Cond>> {
        // When the target is wrong its arguments are unknown: skip the condition rather than
        // report every argument in it as unknown.
        let target = target?;
        let tools: Vec<usize> = target.tools.iter().map(|t| t.index()).collect();
        let text = target.text.clone();
        let scope = Scope { tools: Some(&tools), target_text: &text, ..Scope::untargeted(file) };
        self.conditions(when.as_ref(), unless.as_ref(), scope)
    }

    /// `when C unless U`, checked. `Some(None)` means no condition (always true).
    pub(super) fn conditions(
        &mut self,
        when: Option<&Expr>,
        unless: Option<&Expr>,
        scope: Scope,
    ) -> Option<Option<Cond>> {
        let w = when.map(|c| self.cond(c, scope));
        let u = unless.map(|c| self.cond(c, scope));
        let w = match w {
            None => None,
            Some(Some(c)) => Some(c),
            Some(None) => return None,
        };
        let u = match u {
            None => None,
            Some(Some(c)) => Some(c),
            Some(None) => return None,
        };
        Some(when_unless(w, u))
    }
}

/// Rule numbers per kind, counted from 1 in source order within one workflow (or the top level).
#[derive(Default)]
struct RuleCounters {
    start: usize,
    allow: usize,
    deny: usize,
    deny_start: usize,
    require: usize,
}
