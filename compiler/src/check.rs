//! Name resolution, type checking and lowering, in one pass over the syntax trees.
//!
//! Each check that succeeds yields the lowered form of what it checked (an IR condition, a
//! target's tool set, ...), so the rules for what a construct means live in one place. When any
//! error was reported the lowered policy is discarded.

use std::collections::{BTreeSet, HashMap, HashSet};

use writ_evaluator::ir::{
    AllowRuleIr, CallsIr, CmpOp, CommandPatternIr, Cond, DenyRuleIr, DenyStartRuleIr,
    EntitlementIr, EvidenceKindIr, EvidenceRequirementIr, Operand, ParamIr, PatternItemIr,
    PolicyIr, PrincipalKind, RequireForRuleIr, RoleIr, RuleMeta, RuleSetIr, StartRuleIr, TargetIr,
    ToolIr, Value, ValueDeclIr, Who, WorkflowIr,
};
use writ_grammar::ast::{
    CommandPattern, CompareOp, EvidenceRequirement, Expr, ExprKind, FieldValue, Ident, Param,
    PatternItem, PrincipalRef, Quantifier, Rule, RuleKind, SourceFile, Span, Target, TargetKind,
    WorkflowItem,
};

use crate::diagnostic::{Code, Diagnostic, Location, did_you_mean, suggest};
use crate::symbols::{Declared, Symbols, at};
use crate::types::Ty;

/// The files of one policy, in source order.
pub struct Input<'a> {
    pub paths: Vec<&'a str>,
    pub texts: Vec<&'a str>,
    pub asts: Vec<&'a SourceFile>,
}

/// A typed, lowered operand.
#[derive(Clone, Debug)]
struct Typed {
    ty: Ty,
    operand: Operand,
}

/// What a condition may see.
#[derive(Clone, Copy)]
struct Scope<'s> {
    file: usize,
    /// Inside a role's `may`: `principal` is visible.
    in_may: bool,
    /// The tools the rule targets (their arguments are visible); `None` for start rules.
    tools: Option<&'s [usize]>,
    target_text: &'s str,
    /// Inside an assertion's claim: `given(ITEM)` is visible.
    in_assertion: bool,
}

/// Which declarations something refers to, for the unused-declaration lint.
#[derive(Default)]
pub struct Usage {
    pub roles: HashSet<usize>,
    pub allowed_tools: HashSet<usize>,
    pub evidence: HashSet<usize>,
    pub attributes: HashSet<usize>,
    pub contexts: HashSet<usize>,
}

pub struct Checker<'a> {
    pub input: &'a Input<'a>,
    /// Line starts of each file, for rule locations.
    lines: Vec<writ_grammar::LineIndex>,
    pub symbols: Symbols<'a>,
    pub diagnostics: Vec<Diagnostic>,
    pub usage: Usage,
    /// For each role, the roles it holds (itself and everything it extends, transitively).
    pub closure: Vec<BTreeSet<usize>>,
    /// Resolved direct parents of each role (cycle edges removed).
    pub parents: Vec<Vec<usize>>,
    /// The policy's tests, lowered to requests.
    pub tests: Vec<crate::test_blocks::TestCase>,
    /// The policy's assertions, lowered (§11).
    pub assertions: Vec<crate::verify::Assertion>,
    /// Every tool's name with its index, sorted by name: a glob looks only at the names that
    /// start with its literal prefix.
    tools_by_name: Vec<(&'a str, usize)>,
    /// Where each lowered rule and entitlement was written, by rule id (for lints).
    pub sites: HashMap<String, Site>,
}

/// Where a rule or entitlement was written: the whole of it, and its `when`/`unless`.
#[derive(Clone, Copy, Debug)]
pub struct Site {
    pub rule: Location,
    pub condition: Option<Location>,
}

/// The span of `when C unless U` (either may be missing).
fn condition_span(when: Option<&Expr>, unless: Option<&Expr>) -> Option<Span> {
    match (when, unless) {
        (Some(w), Some(u)) => Some(w.span.to(u.span)),
        (Some(e), None) | (None, Some(e)) => Some(e.span),
        (None, None) => None,
    }
}

fn kind_word(e: &Expr) -> Option<PrincipalKind> {
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

fn who(p: PrincipalRef) -> Who {
    match p {
        PrincipalRef::Initiator => Who::Initiator,
        PrincipalRef::Caller => Who::Caller,
        PrincipalRef::Principal => Who::Principal,
    }
}

fn cmp_op(op: CompareOp) -> CmpOp {
    match op {
        CompareOp::Eq => CmpOp::Eq,
        CompareOp::Ne => CmpOp::Ne,
        CompareOp::Lt => CmpOp::Lt,
        CompareOp::Le => CmpOp::Le,
        CompareOp::Gt => CmpOp::Gt,
        CompareOp::Ge => CmpOp::Ge,
    }
}

/// `when C unless U` as one condition: `C and not U`.
fn when_unless(when: Option<Cond>, unless: Option<Cond>) -> Option<Cond> {
    match (when, unless) {
        (None, None) => None,
        (Some(c), None) => Some(c),
        (None, Some(u)) => Some(Cond::Not(Box::new(u))),
        (Some(c), Some(u)) => Some(and(c, Cond::Not(Box::new(u)))),
    }
}

fn and(a: Cond, b: Cond) -> Cond {
    let mut items = Vec::new();
    for c in [a, b] {
        match c {
            Cond::And(inner) => items.extend(inner),
            other => items.push(other),
        }
    }
    Cond::And(items)
}

fn or(a: Cond, b: Cond) -> Cond {
    let mut items = Vec::new();
    for c in [a, b] {
        match c {
            Cond::Or(inner) => items.extend(inner),
            other => items.push(other),
        }
    }
    Cond::Or(items)
}

/// Collapses runs of whitespace to single spaces.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl<'a> Checker<'a> {
    pub fn new(input: &'a Input<'a>) -> Checker<'a> {
        let mut diagnostics = Vec::new();
        let symbols = Symbols::collect(&input.asts, &mut diagnostics);
        let mut tools_by_name: Vec<(&'a str, usize)> =
            symbols.tools.iter().enumerate().map(|(i, t)| (t.decl.name.text.as_str(), i)).collect();
        tools_by_name.sort_unstable();
        Checker {
            tools_by_name,
            input,
            lines: input.texts.iter().map(|t| writ_grammar::LineIndex::new(t)).collect(),
            symbols,
            diagnostics,
            usage: Usage::default(),
            closure: Vec::new(),
            parents: Vec::new(),
            tests: Vec::new(),
            assertions: Vec::new(),
            sites: HashMap::new(),
        }
    }

    fn error(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    fn snippet(&self, file: usize, span: Span) -> &'a str {
        self.input.texts.get(file).and_then(|t| t.get(span.range())).unwrap_or("")
    }

    fn meta(&mut self, id: String, file: usize, span: Span, condition: Option<Span>) -> RuleMeta {
        self.sites.insert(
            id.clone(),
            Site { rule: at(file, span), condition: condition.map(|c| at(file, c)) },
        );
        let text = self.input.texts.get(file).copied().unwrap_or("");
        let (line, column) = match self.lines.get(file) {
            Some(index) => index.line_col(text, span.start as usize),
            None => crate::diagnostic::line_col(text, span.start as usize),
        };
        RuleMeta {
            id,
            file: self.input.paths.get(file).copied().unwrap_or("").to_string(),
            line: line as u32,
            column: column as u32,
            text: collapse(self.snippet(file, span)),
        }
    }

    /// A "did you mean" hint, or a note that the name is declared as something else.
    fn name_hint<'n>(
        &self,
        name: &str,
        wanted: &str,
        candidates: impl IntoIterator<Item = &'n str>,
    ) -> Option<String> {
        if let Some((other, _)) = self.symbols.lookup(name) {
            return Some(format!("`{name}` is {}, not {wanted}", other.describe()));
        }
        did_you_mean(name, candidates)
    }

    // ----- declarations -----------------------------------------------------------------------

    /// Checks everything and lowers the policy. `None` when any error was reported.
    pub fn run(&mut self, hash: String) -> Option<PolicyIr> {
        self.check_roles_extends();
        let attributes = self.value_decls(true);
        let contexts = self.value_decls(false);
        let tools = self.tools();
        let evidence = self.evidence_kinds();
        let roles = self.roles();
        let workflows = self.workflows();
        let guardrails = self.guardrails();
        self.fixtures_and_tests();
        self.assertions();
        let ir =
            PolicyIr { hash, roles, attributes, contexts, tools, evidence, workflows, guardrails };
        // Lints judge a whole, correct program; on a program with errors they would mostly
        // echo those errors (a start rule that failed to parse is not a missing start rule).
        let syntax_errors = self.input.asts.iter().any(|a| !a.errors.is_empty());
        if syntax_errors || self.diagnostics.iter().any(Diagnostic::is_error) {
            return None;
        }
        crate::lints::run(self, &ir);
        Some(ir)
    }

    fn value_decls(&mut self, attributes: bool) -> Vec<ValueDeclIr> {
        let decls = if attributes {
            self.symbols.attributes.clone()
        } else {
            self.symbols.contexts.clone()
        };
        let mut out = Vec::new();
        for d in decls {
            let name = &d.decl.name;
            if attributes && matches!(name.name.as_str(), "id" | "kind" | "roles") {
                self.error(
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
                self.error(
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
                        self.error(
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
        self.error(
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
                self.error(
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

    fn tools(&mut self) -> Vec<ToolIr> {
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

    fn evidence_kinds(&mut self) -> Vec<EvidenceKindIr> {
        let decls = self.symbols.evidence.clone();
        decls
            .iter()
            .map(|d| {
                if let Some(kind) = &d.decl.by_kind
                    && kind.name != "human"
                {
                    self.error(
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

    /// Resolves `extends`, reports unknown parents and cycles, and computes each role's closure.
    fn check_roles_extends(&mut self) {
        let roles = self.symbols.roles.clone();
        let mut parents: Vec<Vec<(usize, Span)>> = Vec::with_capacity(roles.len());
        for d in &roles {
            let mut ps = Vec::new();
            for parent in &d.decl.extends {
                match self.symbols.role(&parent.name) {
                    Some(p) => {
                        self.usage.roles.insert(p);
                        ps.push((p, parent.span));
                    }
                    None => self.unknown_role(d.file, parent),
                }
            }
            parents.push(ps);
        }
        // Cycles: depth-first search, reporting each cycle once, at the edge that closes it.
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let mut marks = vec![Mark::New; roles.len()];
        let mut cyclic_edges: HashSet<(usize, usize)> = HashSet::new();
        for start in 0..roles.len() {
            match marks.get_mut(start) {
                Some(mark @ Mark::New) => *mark = Mark::Active,
                _ => continue,
            }
            // Iterative DFS: (role, next parent index). Roles and parents index `roles`.
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            while let Some(&mut (role, ref mut next)) = stack.last_mut() {
                let Some(&(parent, span)) = parents.get(role).and_then(|ps| ps.get(*next)) else {
                    if let Some(mark) = marks.get_mut(role) {
                        *mark = Mark::Done;
                    }
                    stack.pop();
                    continue;
                };
                *next += 1;
                match marks.get_mut(parent) {
                    Some(mark @ Mark::New) => {
                        *mark = Mark::Active;
                        stack.push((parent, 0));
                    }
                    Some(Mark::Active) => {
                        cyclic_edges.insert((role, parent));
                        let from = stack.iter().position(|(r, _)| *r == parent).unwrap_or(0);
                        let cycle = stack.get(from..).unwrap_or_default();
                        self.extends_cycle(&roles, cycle, (role, span), parent);
                    }
                    Some(Mark::Done) | None => {}
                }
            }
        }
        self.parents = parents
            .iter()
            .enumerate()
            .map(|(r, ps)| {
                let mut out: Vec<usize> = Vec::new();
                for (p, _) in ps {
                    if !cyclic_edges.contains(&(r, *p)) && !out.contains(p) {
                        out.push(*p);
                    }
                }
                out
            })
            .collect();
        self.closure = (0..roles.len())
            .map(|r| {
                let mut seen = BTreeSet::new();
                let mut todo = vec![r];
                while let Some(x) = todo.pop() {
                    if seen.insert(x) {
                        todo.extend(self.parents.get(x).into_iter().flatten().copied());
                    }
                }
                seen
            })
            .collect();
    }

    /// Reports the cycle of `extends` that the edge `closing` (from a role, at a span) to
    /// `parent` closes; `cycle` is the search stack from `parent` on.
    fn extends_cycle(
        &mut self,
        roles: &[Declared<'_, writ_grammar::ast::RoleDecl>],
        cycle: &[(usize, usize)],
        closing: (usize, Span),
        parent: usize,
    ) {
        let name = |r: usize| roles.get(r).map_or("?", |d| d.decl.name.name.as_str());
        let (role, span) = closing;
        let path: Vec<String> = cycle
            .iter()
            .map(|(r, _)| name(*r))
            .chain(std::iter::once(name(parent)))
            .map(|p| format!("`{p}`"))
            .collect();
        let Some(closing_role) = roles.get(role) else {
            writ_stdx::never!("role {role} out of range");
            return;
        };
        let mut d = Diagnostic::new(
            Code::ExtendsCycle,
            at(closing_role.file, span),
            format!("role `{}` extends itself: {}", name(parent), path.join(" → ")),
        )
        .label("this closes the cycle")
        .help("`extends` must form a hierarchy: remove one of these `extends`");
        for (r, _) in cycle {
            if let Some(member) = roles.get(*r).filter(|_| *r != role) {
                d = d.related(
                    at(member.file, member.decl.name.span),
                    format!("`{}` is part of the cycle", member.decl.name.name),
                );
            }
        }
        self.error(d);
    }

    fn unknown_role(&mut self, file: usize, name: &Ident) {
        let hint =
            self.name_hint(&name.name, "a role", self.symbols.role_names().collect::<Vec<_>>());
        self.error(
            Diagnostic::new(
                Code::UnknownRole,
                at(file, name.span),
                format!("unknown role `{}`", name.name),
            )
            .label("not a declared role")
            .help(hint.unwrap_or_else(|| format!("declare it: `role {}`", name.name))),
        );
    }

    fn resolve_role(&mut self, file: usize, name: &Ident) -> Option<usize> {
        match self.symbols.role(&name.name) {
            Some(r) => {
                self.usage.roles.insert(r);
                Some(r)
            }
            None => {
                self.unknown_role(file, name);
                None
            }
        }
    }

    fn roles(&mut self) -> Vec<RoleIr> {
        let decls = self.symbols.roles.clone();
        decls
            .iter()
            .enumerate()
            .map(|(r, d)| {
                let mut entitlements = Vec::new();
                for (n, e) in d.decl.body.iter().flatten().enumerate() {
                    let Some(target) = self.target(d.file, &e.target) else {
                        continue;
                    };
                    let tools: Vec<usize> = target.tools.iter().map(|t| *t as usize).collect();
                    let scope = Scope {
                        file: d.file,
                        in_may: true,
                        tools: Some(&tools),
                        target_text: &target.text,
                        in_assertion: false,
                    };
                    let Some(condition) =
                        self.conditions(e.when.as_ref(), e.unless.as_ref(), scope)
                    else {
                        continue;
                    };
                    entitlements.push(EntitlementIr {
                        meta: self.meta(
                            format!("{}/may/{}", d.decl.name.name, n + 1),
                            d.file,
                            e.span,
                            condition_span(e.when.as_ref(), e.unless.as_ref()),
                        ),
                        target,
                        condition,
                    });
                }
                RoleIr {
                    name: d.decl.name.name.clone(),
                    extends: self
                        .parents
                        .get(r)
                        .map_or(Vec::new(), |ps| ps.iter().map(|p| *p as u32).collect()),
                    entitlements,
                }
            })
            .collect()
    }

    // ----- targets and evidence ---------------------------------------------------------------

    /// Resolves a target to the declared tools it matches.
    /// The tools whose names `glob` (written `pattern`) matches, in declaration order. Only
    /// the names that start with the pattern's literal prefix are tried.
    fn glob_matches(&self, pattern: &str, glob: &writ_evaluator::Glob) -> Vec<usize> {
        let prefix = &pattern[..pattern.find(['*', '?']).unwrap_or(pattern.len())];
        let from = self.tools_by_name.partition_point(|(name, _)| *name < prefix);
        let mut tools: Vec<usize> = self
            .tools_by_name
            .iter()
            .skip(from)
            .take_while(|(name, _)| name.starts_with(prefix))
            .filter(|(name, _)| glob.is_match(name))
            .map(|&(_, t)| t)
            .collect();
        tools.sort_unstable();
        tools
    }

    fn target(&mut self, file: usize, target: &Target) -> Option<TargetIr> {
        let all = 0..self.symbols.tools.len();
        let (tools, text): (Vec<usize>, String) = match &target.kind {
            TargetKind::Tool(name) => {
                match self.symbols.tool(&name.text) {
                    Some(t) => (vec![t], name.text.clone()),
                    None => {
                        let hint = self.name_hint(
                            &name.text,
                            "a tool",
                            self.symbols.tool_names().collect::<Vec<_>>(),
                        );
                        self.error(
                            Diagnostic::new(
                                Code::UnknownTool,
                                at(file, name.span),
                                format!("unknown tool `{}`", name.text),
                            )
                            .label("not a declared tool")
                            .help(hint.unwrap_or_else(|| {
                                format!("declare it: `tool {}(...)`", name.text)
                            })),
                        );
                        return None;
                    }
                }
            }
            TargetKind::Glob(pattern) => {
                let glob = writ_evaluator::Glob::new(pattern);
                let tools = self.glob_matches(pattern, &glob);
                if tools.is_empty() {
                    self.error(
                        Diagnostic::new(
                            Code::TargetMatchesNothing,
                            at(file, target.span),
                            format!("`{pattern}` matches no declared tool"),
                        )
                        .label("matches nothing")
                        .help("a target must name at least one declared tool; check the pattern"),
                    );
                    return None;
                }
                (tools, pattern.clone())
            }
            TargetKind::All => {
                if all.is_empty() {
                    self.error(
                        Diagnostic::new(
                            Code::TargetMatchesNothing,
                            at(file, target.span),
                            "`*` matches no declared tool",
                        )
                        .label("matches nothing")
                        .help("declare the tools this policy governs with `tool NAME(...)`"),
                    );
                    return None;
                }
                (all.collect(), "*".to_string())
            }
            TargetKind::Tags(tags) => {
                let mut tools = BTreeSet::new();
                let mut ok = true;
                for tag in tags {
                    let tagged: Vec<usize> = all
                        .clone()
                        .filter(|t| {
                            let tags = self.symbols.tools.get(*t).map(|d| &d.decl.tags);
                            tags.into_iter().flatten().any(|g| g.name == tag.name)
                        })
                        .collect();
                    if tagged.is_empty() {
                        ok = false;
                        let known: BTreeSet<&str> = self
                            .symbols
                            .tools
                            .iter()
                            .flat_map(|t| t.decl.tags.iter().map(|g| g.name.as_str()))
                            .collect();
                        self.error(
                            Diagnostic::new(
                                Code::UnknownTag,
                                at(file, tag.span),
                                format!("no declared tool has the tag `{}`", tag.name),
                            )
                            .label("matches no tool")
                            .help(
                                did_you_mean(&tag.name, known.iter().copied()).unwrap_or_else(
                                    || {
                                        format!(
                                            "tag a tool with it: `tool NAME(...) [{}]`",
                                            tag.name
                                        )
                                    },
                                ),
                            ),
                        );
                    }
                    tools.extend(tagged);
                }
                if !ok {
                    return None;
                }
                let text = format!(
                    "[{}]",
                    tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                );
                (tools.into_iter().collect(), text)
            }
            TargetKind::Start => {
                self.error(
                    Diagnostic::new(
                        Code::StartTarget,
                        at(file, target.span),
                        "`start` is not a tool",
                    )
                    .label("targets name tools")
                    .help(
                        "to ask for evidence before a workflow starts, add `require` to its \
                             `start` rule: `start by ROLE require E`",
                    ),
                );
                return None;
            }
        };
        Some(TargetIr { tools: tools.into_iter().map(|t| t as u32).collect(), text })
    }

    fn requirements(
        &mut self,
        file: usize,
        reqs: &[EvidenceRequirement],
    ) -> Option<Vec<EvidenceRequirementIr>> {
        let mut out = Vec::new();
        let mut ok = true;
        for r in reqs {
            match self.requirement(file, r) {
                Some(r) => out.push(r),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn requirement(
        &mut self,
        file: usize,
        req: &EvidenceRequirement,
    ) -> Option<EvidenceRequirementIr> {
        let mut ok = true;
        let count = match &req.count {
            None => 1,
            Some(n) if n.value >= 1 && n.value <= i64::from(u32::MAX) => n.value as u32,
            Some(n) => {
                ok = false;
                self.error(
                    Diagnostic::new(
                        Code::InvalidCount,
                        at(file, n.span),
                        if n.value == 0 {
                            "an evidence count must be at least 1".to_string()
                        } else {
                            format!("an evidence count of {} is too large", n.value)
                        },
                    )
                    .label(if n.value == 0 {
                        "zero items can never be missing"
                    } else {
                        "too large"
                    })
                    .help(format!(
                        "write `{}` for one item, or a count from 1 to {}",
                        req.name.name,
                        u32::MAX
                    )),
                );
                0
            }
        };
        let Some(kind) = self.symbols.evidence_kind(&req.name.name) else {
            let hint = self.name_hint(
                &req.name.name,
                "an evidence kind",
                self.symbols.evidence_names().collect::<Vec<_>>(),
            );
            self.error(
                Diagnostic::new(
                    Code::UnknownEvidence,
                    at(file, req.name.span),
                    format!("unknown evidence kind `{}`", req.name.name),
                )
                .label("not a declared evidence kind")
                .help(hint.unwrap_or_else(|| format!("declare it: `evidence {}`", req.name.name))),
            );
            return None;
        };
        self.usage.evidence.insert(kind);
        let decl = *self.symbols.evidence.get(kind)?;
        let declared = at(decl.file, decl.decl.name.span);
        let by = match &req.by {
            None => None,
            Some(role) => {
                if decl.decl.by_human.is_none() {
                    ok = false;
                    self.error(
                        Diagnostic::new(
                            Code::ByWithoutHuman,
                            at(file, role.span),
                            format!(
                                "`{}` items carry no giver, so they cannot be asked `by {}`",
                                req.name.name, role.name
                            ),
                        )
                        .label("needs a `by human` evidence kind")
                        .related(declared, "declared here without `by human`")
                        .help(format!(
                            "declare `evidence {} by human` so that each item names who gave it",
                            req.name.name
                        )),
                    );
                    None
                } else {
                    match self.resolve_role(file, role) {
                        Some(r) => Some(r as u32),
                        None => {
                            ok = false;
                            None
                        }
                    }
                }
            }
        };
        let params = decl.decl.fields.as_deref().unwrap_or(&[]);
        let fields = self.field_values(
            file,
            &req.fields,
            params,
            &format!("evidence `{}`", req.name.name),
            declared,
        );
        let fields = fields?;
        ok.then_some(EvidenceRequirementIr { evidence: kind as u32, count, by, fields })
    }

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
                self.error(
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
                self.error(
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
                self.error(
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
            self.error(
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

    fn enum_value_error(
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
        self.error(d);
    }

    // ----- workflows and rules ----------------------------------------------------------------

    fn workflows(&mut self) -> Vec<WorkflowIr> {
        let decls = self.symbols.workflows.clone();
        decls.iter().map(|d| self.workflow(d.file, d.decl)).collect()
    }

    fn workflow(&mut self, file: usize, w: &'a writ_grammar::ast::WorkflowDecl) -> WorkflowIr {
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
                        Err(_) => self.error(
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
                        self.error(
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
        self.error(
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

    fn guardrails(&mut self) -> RuleSetIr {
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
                let scope = Scope {
                    file,
                    in_may: false,
                    tools: None,
                    target_text: "",
                    in_assertion: false,
                };
                let condition = self.conditions(when.as_ref(), unless.as_ref(), scope);
                let require = self.requirements(file, require);
                if let (Some(condition), Some(require)) = (condition, require)
                    && roles.iter().all(Option::is_some)
                {
                    out.starts.push(StartRuleIr {
                        meta: self.meta(
                            id("start", counters.start),
                            file,
                            rule.span,
                            condition_span(when.as_ref(), unless.as_ref()),
                        ),
                        by: roles.into_iter().flatten().map(|r| r as u32).collect(),
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
                let target = self.target(file, target);
                if let Some(t) = &target {
                    self.usage.allowed_tools.extend(t.tools.iter().map(|t| *t as usize));
                }
                let condition = self.targeted(file, target.as_ref(), when, unless);
                let require = self.requirements(file, require);
                if let (Some(target), Some(condition), Some(require)) = (target, condition, require)
                {
                    out.allows.push(AllowRuleIr {
                        meta: self.meta(
                            id("allow", counters.allow),
                            file,
                            rule.span,
                            condition_span(when.as_ref(), unless.as_ref()),
                        ),
                        target,
                        condition,
                        require,
                    });
                }
            }
            RuleKind::Deny { target, when, unless, because } => {
                counters.deny += 1;
                let target = self.target(file, target);
                let condition = self.targeted(file, target.as_ref(), when, unless);
                if let (Some(target), Some(condition)) = (target, condition) {
                    out.rules.denies.push(DenyRuleIr {
                        meta: self.meta(
                            id("deny", counters.deny),
                            file,
                            rule.span,
                            condition_span(when.as_ref(), unless.as_ref()),
                        ),
                        target,
                        condition,
                        because: because.as_ref().map(|b| b.value.clone()),
                    });
                }
            }
            RuleKind::DenyStart { when, unless, because, .. } => {
                counters.deny_start += 1;
                let scope = Scope {
                    file,
                    in_may: false,
                    tools: None,
                    target_text: "",
                    in_assertion: false,
                };
                if let Some(condition) = self.conditions(when.as_ref(), unless.as_ref(), scope) {
                    out.rules.deny_starts.push(DenyStartRuleIr {
                        meta: self.meta(
                            id("deny_start", counters.deny_start),
                            file,
                            rule.span,
                            condition_span(when.as_ref(), unless.as_ref()),
                        ),
                        condition,
                        because: because.as_ref().map(|b| b.value.clone()),
                    });
                }
            }
            RuleKind::RequireFor { require, target, when, unless } => {
                counters.require += 1;
                let target = self.target(file, target);
                let condition = self.targeted(file, target.as_ref(), when, unless);
                let require = self.requirements(file, require);
                if let (Some(target), Some(condition), Some(require)) = (target, condition, require)
                {
                    out.rules.requires.push(RequireForRuleIr {
                        meta: self.meta(
                            id("require", counters.require),
                            file,
                            rule.span,
                            condition_span(when.as_ref(), unless.as_ref()),
                        ),
                        target,
                        condition,
                        require,
                    });
                }
            }
        }
    }

    fn misplaced(&mut self, file: usize, span: Span, what: &str, where_: &str) {
        self.error(
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
        let tools: Vec<usize> = target.tools.iter().map(|t| *t as usize).collect();
        let text = target.text.clone();
        let scope = Scope {
            file,
            in_may: false,
            tools: Some(&tools),
            target_text: &text,
            in_assertion: false,
        };
        self.conditions(when.as_ref(), unless.as_ref(), scope)
    }

    /// `when C unless U`, checked. `Some(None)` means no condition (always true).
    fn conditions(
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

    // ----- conditions -------------------------------------------------------------------------

    fn cond(&mut self, e: &Expr, sc: Scope) -> Option<Cond> {
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
                    self.error(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            at(sc.file, value.span),
                            format!("`matches` needs a string, but `{}` is {}", self.snippet(sc.file, value.span), v.ty),
                        )
                        .label(format!("{}", v.ty))
                        .help(if v.ty == Ty::StringList {
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
                    self.error(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            at(sc.file, list.span),
                            format!(
                                "`{q} ... matches` needs a list of strings, but `{}` is {}",
                                self.snippet(sc.file, list.span),
                                l.ty
                            ),
                        )
                        .label(format!("{}", l.ty))
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
                let operand = self.command_operand(command, *op_span, "runs", sc);
                let pattern = self.pattern(sc.file, pattern);
                Some(Cond::Runs(operand?, pattern?))
            }
            ExprKind::RunsOnly { command, op_span, patterns, list_span } => {
                let operand = self.command_operand(command, *op_span, "runs only", sc);
                if patterns.is_empty() {
                    self.error(
                        Diagnostic::new(
                            Code::EmptyPattern,
                            at(sc.file, *list_span),
                            "`runs only []` admits no command at all",
                        )
                        .label("no patterns")
                        .help("list the commands to admit: `runs only [[\"git\", \"status\"], [\"ls\", ...]]`"),
                    );
                    return None;
                }
                let patterns: Vec<Option<CommandPatternIr>> =
                    patterns.iter().map(|p| self.pattern(sc.file, p)).collect();
                let patterns: Option<Vec<CommandPatternIr>> = patterns.into_iter().collect();
                Some(Cond::RunsOnly(operand?, patterns?))
            }
            ExprKind::Under { path, op_span, dir } => {
                let v = self.value(path, sc)?;
                if v.ty != Ty::Path {
                    let text = self.snippet(sc.file, path.span).to_string();
                    self.error(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            at(sc.file, path.span),
                            format!("`under` needs a path, but `{text}` is {}", v.ty),
                        )
                        .label(format!("{}", v.ty))
                        .related(at(sc.file, *op_span), "`under` compares resolved paths")
                        .help(if v.ty.is_string() {
                            format!(
                                "declare the argument as `path` so that it is resolved, or write `{text} matches \"{}/*\"`",
                                dir.value.trim_end_matches('/')
                            )
                        } else {
                            "`under` takes a `path` argument on the left".to_string()
                        }),
                    );
                    return None;
                }
                Some(Cond::Under(v.operand, dir.value.clone()))
            }
            ExprKind::HasRole { principal, principal_span, role } => {
                let ok = self.principal_visible(*principal, *principal_span, sc);
                let role = self.resolve_role(sc.file, role);
                ok.then_some(())?;
                Some(Cond::HasRole(who(*principal), role? as u32))
            }
            _ => {
                let v = self.value(e, sc)?;
                if v.ty == Ty::Bool {
                    return Some(Cond::Truth(v.operand));
                }
                let text = self.snippet(sc.file, e.span);
                self.error(
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
            self.error(
                Diagnostic::new(
                    Code::TypeMismatch,
                    at(sc.file, list.span),
                    format!(
                        "`{op}` needs a list of strings, but `{}` is {}",
                        self.snippet(sc.file, list.span),
                        l.ty
                    ),
                )
                .label(format!("{}", l.ty))
                .help(if op == "in" {
                    "write a list such as `[\"a\", \"b\"]`"
                } else {
                    "`LIST contains VALUE` takes the list first"
                }),
            );
        }
        if v.ty == Ty::Command {
            self.error(
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
            self.error(
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
            self.error(
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
            self.error(d);
            return None;
        }
        if ordering && !(l.ty.is_ordered() && r.ty.is_ordered()) {
            self.error(
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

    /// The left side of `runs` / `runs only`: a `command` argument.
    fn command_operand(&mut self, e: &Expr, op_span: Span, op: &str, sc: Scope) -> Option<Operand> {
        let v = self.value(e, sc)?;
        if v.ty == Ty::Command {
            return Some(v.operand);
        }
        let text = self.snippet(sc.file, e.span).to_string();
        self.error(
            Diagnostic::new(
                Code::TypeMismatch,
                at(sc.file, e.span),
                format!("`{op}` needs a command, but `{text}` is {}", v.ty),
            )
            .label(format!("{}", v.ty))
            .related(
                at(sc.file, op_span),
                format!("`{op}` reads the simple commands of a command line"),
            )
            .help(if v.ty.is_string() {
                "declare the tool's argument as `command` (`tool sh(command: command)`) so that \
                 writ parses it as bash would"
                    .to_string()
            } else {
                format!("`{op}` takes a `command` argument on the left")
            }),
        );
        None
    }

    /// A command pattern, checked: at least one item.
    fn pattern(&mut self, file: usize, pattern: &CommandPattern) -> Option<CommandPatternIr> {
        if pattern.items.is_empty() {
            self.error(
                Diagnostic::new(Code::EmptyPattern, at(file, pattern.span), "an empty command pattern")
                    .label("matches no command")
                    .help("a pattern lists words: `[\"git\", \"push\", ...]`; `...` stands for any number of words"),
            );
            return None;
        }
        Some(CommandPatternIr {
            items: pattern
                .items
                .iter()
                .map(|item| match item {
                    PatternItem::Word(w) => PatternItemIr::Word(w.value.clone()),
                    PatternItem::Rest(_) => PatternItemIr::Rest,
                })
                .collect(),
        })
    }

    fn principal_visible(&mut self, p: PrincipalRef, span: Span, sc: Scope) -> bool {
        if p == PrincipalRef::Principal && !sc.in_may {
            self.error(
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

    fn value(&mut self, e: &Expr, sc: Scope) -> Option<Typed> {
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
                    self.error(
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
                            Some(Typed { ty, operand: Operand::Attribute(w, a as u32) })
                        }
                        None => {
                            let mut candidates: Vec<&str> =
                                self.symbols.attribute_names().collect();
                            candidates.extend(["id", "kind"]);
                            let help = if name == "roles" {
                                format!("test roles with `{} has role ROLE`", principal.as_str())
                            } else {
                                self.name_hint(name, "an attribute", candidates).unwrap_or_else(
                                    || format!("declare it: `attribute {name}: string`"),
                                )
                            };
                            self.error(
                                Diagnostic::new(
                                    Code::UnknownAttribute,
                                    at(sc.file, field.span),
                                    format!("unknown attribute `{name}`"),
                                )
                                .label("not a declared attribute")
                                .help(help),
                            );
                            None
                        }
                    },
                }
            }
            ExprKind::Context(name) => match self.symbols.context(&name.name) {
                Some(c) => {
                    self.usage.contexts.insert(c);
                    let d = self.symbols.contexts.get(c)?;
                    let ty = Ty::from_type_expr(&d.decl.ty)?;
                    Some(Typed { ty, operand: Operand::Context(c as u32) })
                }
                None => {
                    let hint = self.name_hint(
                        &name.name,
                        "a context value",
                        self.symbols.context_names().collect::<Vec<_>>(),
                    );
                    self.error(
                        Diagnostic::new(
                            Code::UnknownContext,
                            at(sc.file, name.span),
                            format!("unknown context value `{}`", name.name),
                        )
                        .label("not a declared context value")
                        .help(hint.unwrap_or_else(|| {
                            format!("declare it: `context {}: bool`", name.name)
                        })),
                    );
                    None
                }
            },
            ExprKind::Calls { target, within } => {
                let target_ir = self.target(sc.file, target);
                let within_seconds = match within {
                    None => None,
                    Some(d) if d.seconds <= 0 => {
                        self.error(
                            Diagnostic::new(
                                Code::ZeroDuration,
                                at(sc.file, d.span),
                                "a `within` window must be longer than zero",
                            )
                            .label("an empty window")
                            .help("write a window such as `within 24h`, or leave it out to count the whole run"),
                        );
                        return None;
                    }
                    Some(d) => Some(d.seconds),
                };
                let target_ir = target_ir?;
                for &t in &target_ir.tools {
                    self.usage.allowed_tools.insert(t as usize);
                }
                let glob = match &target.kind {
                    TargetKind::Glob(pattern) => Some(pattern.clone()),
                    TargetKind::All => Some("*".to_string()),
                    _ => None,
                };
                Some(Typed {
                    ty: Ty::Int,
                    operand: Operand::Calls(CallsIr { target: target_ir, glob, within_seconds }),
                })
            }
            ExprKind::Given(requirement) if sc.in_assertion => {
                if let Some(n) = &requirement.count {
                    self.error(
                        Diagnostic::new(
                            Code::InvalidCount,
                            at(sc.file, n.span),
                            "`given(...)` is a count already: its item takes no count",
                        )
                        .label("a count inside `given`")
                        .help(format!(
                            "compare the count instead: `given({}) >= {}`",
                            requirement.name.name, n.value
                        )),
                    );
                    return None;
                }
                let lowered = self.requirement(sc.file, requirement)?;
                Some(Typed { ty: Ty::Int, operand: Operand::Given(lowered) })
            }
            ExprKind::Given(_) => {
                self.error(
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
                self.error(
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
            self.error(
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
            self.error(
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
            self.error(d);
            return None;
        }
        let Some(&&(first_tool, ref first)) = having.first() else {
            writ_stdx::never!("`having` was checked to be non-empty");
            return None;
        };
        let first = first.clone().unwrap_or(Ty::Str);
        if let Some((t, ty)) = having.iter().find(|(_, ty)| ty.as_ref() != Some(&first)) {
            let other = ty.clone().unwrap_or(Ty::Str);
            self.error(
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

    // ----- fixtures and tests -----------------------------------------------------------------

    fn fixtures_and_tests(&mut self) {
        self.tests = crate::test_blocks::check(self);
    }

    // ----- assertions -------------------------------------------------------------------------

    /// Checks and lowers every assertion's claims (§11): the workflow named, the target, and
    /// the condition, type-checked like a rule's with `given(ITEM)` visible.
    fn assertions(&mut self) {
        use writ_grammar::ast::ClaimKind as Written;
        let decls = self.symbols.assertions.clone();
        for d in decls {
            let file = d.file;
            let mut claims = Vec::new();
            for claim in &d.decl.claims {
                let kind = match &claim.kind {
                    Written::NeverStart { workflow } => {
                        let wf = self.claim_workflow(file, workflow);
                        let scope = Scope {
                            file,
                            in_may: false,
                            tools: None,
                            target_text: "",
                            in_assertion: true,
                        };
                        let condition =
                            self.conditions(claim.when.as_ref(), claim.unless.as_ref(), scope);
                        match (wf, condition) {
                            (Some(workflow), Some(condition)) => {
                                Some((crate::verify::ClaimKind::NeverStart { workflow }, condition))
                            }
                            _ => None,
                        }
                    }
                    Written::NeverAllow { via, target } => {
                        let wf = via.as_ref().map(|w| self.claim_workflow(file, w));
                        let target = self.target(file, target);
                        let condition = target.as_ref().and_then(|t| {
                            let tools: Vec<usize> = t.tools.iter().map(|x| *x as usize).collect();
                            let scope = Scope {
                                file,
                                in_may: false,
                                tools: Some(&tools),
                                target_text: &t.text,
                                in_assertion: true,
                            };
                            self.conditions(claim.when.as_ref(), claim.unless.as_ref(), scope)
                        });
                        match (wf, target, condition) {
                            (Some(None), _, _) => None,
                            (via, Some(target), Some(condition)) => Some((
                                crate::verify::ClaimKind::NeverAllow { via: via.flatten(), target },
                                condition,
                            )),
                            _ => None,
                        }
                    }
                };
                if let Some((kind, condition)) = kind {
                    claims.push(crate::verify::Claim {
                        location: at(file, claim.span),
                        text: collapse(self.snippet(file, claim.span)),
                        kind,
                        condition,
                    });
                }
            }
            self.assertions.push(crate::verify::Assertion {
                name: d.decl.name.value.clone(),
                location: at(file, d.decl.span),
                claims,
            });
        }
    }

    /// The workflow a claim names, by its IR index (reported like a test's unknown workflow).
    fn claim_workflow(&mut self, file: usize, name: &Ident) -> Option<u32> {
        if !crate::test_blocks::resolve_workflow(self, file, name) {
            return None;
        }
        self.symbols.workflow(&name.name).map(|w| w as u32)
    }
}

/// The help for a command used as text: use `runs` (or `runs only`), with the words given
/// (`command == "git push"`) turned into a pattern.
fn command_help<'w>(words: impl Iterator<Item = &'w str>) -> String {
    let items: Vec<String> =
        words.filter(|w| *w != "*").map(|w| writ_grammar::quote(w.trim_end_matches('*'))).collect();
    let pattern = if items.is_empty() {
        "[\"git\", \"push\", ...]".to_string()
    } else {
        format!("[{}, ...]", items.join(", "))
    };
    format!(
        "a command is matched by the simple commands it runs, never by its text: write \
         `command runs {pattern}` (in a deny) or `command runs only [{pattern}]` (in an allow)"
    )
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

/// Rule numbers per kind, counted from 1 in source order within one workflow (or the top level).
#[derive(Default)]
struct RuleCounters {
    start: usize,
    allow: usize,
    deny: usize,
    deny_start: usize,
    require: usize,
}
