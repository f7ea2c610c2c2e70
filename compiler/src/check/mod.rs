//! Name resolution, type checking and lowering, in one pass over the syntax trees.
//!
//! Each check that succeeds yields the lowered form of what it checked (an IR condition, a
//! target's tool set, ...), so the rules for what a construct means live in one place. When any
//! error was reported the lowered policy is discarded.
//!
//! [`check`] is the way in. The [`Checker`] it runs keeps its state private: the lints and the
//! test blocks, which run inside it, read it through accessors and add what they find with
//! [`Checker::report`]. One module per concern:
//!
//! - `names`: a name looked up in a namespace, and the diagnostic for one that is not there;
//! - `decls`, `roles`: declarations and their types, `extends`, entitlements;
//! - `rules`: workflows, guardrails and rules; `targets`: targets and evidence requirements;
//! - `conditions`, `values`, `literals`: conditions and operands, type-checked and lowered;
//! - `commands`, `paths`, `history`: `runs`/`runs only`, `under`, `calls(...)`;
//! - `assertions`: claims (§11); `lower`: rule metadata and the conversions rules share;
//! - `memo`: workflows checked once and replayed while their text and environment stay.

mod assertions;
mod commands;
mod conditions;
mod decls;
mod history;
mod literals;
mod lower;
mod memo;
mod names;
mod paths;
mod roles;
mod rules;
mod targets;
mod values;

use std::collections::{BTreeSet, HashSet};

use rustc_hash::FxHashMap;

use writ_evaluator::ir::{Operand, PolicyIr};
use writ_grammar::ast::{SourceFile, Span};

pub(crate) use crate::symbols::Namespace;
pub use memo::CheckReuse;
pub(crate) use memo::{unplaced, unplaced_rules};

use crate::diagnostic::{Diagnostic, Location};
use crate::symbols::Symbols;
use crate::test_blocks::TestCase;
use crate::types::Ty;
use crate::verify::Assertion;
use decls::ValueDecls;

/// The files of one policy, in source order.
pub struct Input<'a> {
    pub paths: Vec<&'a str>,
    pub texts: Vec<&'a str>,
    pub asts: Vec<&'a SourceFile>,
    /// Each text's line starts (for rule positions), kept by the caller across edits.
    pub lines: Vec<&'a writ_grammar::LineIndex>,
    /// What the last check of this policy can lend this one (`None`: check everything).
    pub reuse: Option<&'a CheckReuse>,
}

/// What checking a policy found.
pub struct Checked {
    /// The lowered policy; `None` when any error was reported.
    pub policy: Option<PolicyIr>,
    /// Errors and warnings (not the parser's), in the order they were found.
    pub diagnostics: Vec<Diagnostic>,
    /// The policy's tests, lowered to requests.
    pub tests: Vec<TestCase>,
    /// The policy's assertions, lowered (§11).
    pub assertions: Vec<Assertion>,
    /// Where each lowered rule and entitlement was written, by rule id: for the lints that
    /// run after the check (`lints::exact`), which the database runs only when `policy` is
    /// `Some`.
    pub(crate) sites: FxHashMap<String, Site>,
    /// Each lowered workflow without its rules' positions, in the order of
    /// `policy.workflows`, for the exact lints (shared with the check's memo).
    pub(crate) unplaced_workflows: Vec<std::sync::Arc<writ_evaluator::ir::WorkflowIr>>,
}

/// Resolves, type-checks, lints (all but `lints::exact`) and lowers a policy.
pub fn check(input: &Input<'_>, hash: String) -> Checked {
    let mut checker = Checker::new(input);
    let policy = checker.run(hash);
    Checked {
        policy,
        diagnostics: checker.diagnostics,
        tests: checker.tests,
        assertions: checker.assertions,
        sites: checker.sites,
        unplaced_workflows: checker.unplaced_workflows,
    }
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

impl Scope<'_> {
    /// A rule's condition in `file` with no tool call to see (a `start` or `deny start` rule):
    /// no arguments, no `principal`, no `given`.
    fn untargeted(file: usize) -> Scope<'static> {
        Scope { file, in_may: false, tools: None, target_text: "", in_assertion: false }
    }
}

/// Which declarations something refers to, for the unused-declaration lint.
#[derive(Default)]
pub(crate) struct Usage {
    pub roles: HashSet<usize>,
    pub allowed_tools: HashSet<usize>,
    pub evidence: HashSet<usize>,
    pub attributes: HashSet<usize>,
    pub contexts: HashSet<usize>,
}

/// Where a rule or entitlement was written: the whole of it, and its `when`/`unless`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Site {
    pub rule: Location,
    pub condition: Option<Location>,
}

/// The state of one check of a policy.
pub(crate) struct Checker<'a> {
    input: &'a Input<'a>,
    symbols: Symbols<'a>,
    diagnostics: Vec<Diagnostic>,
    usage: Usage,
    /// For each role, the roles it holds (itself and everything it extends, transitively).
    closure: Vec<BTreeSet<usize>>,
    /// Resolved direct parents of each role (cycle edges removed).
    parents: Vec<Vec<usize>>,
    tests: Vec<TestCase>,
    assertions: Vec<Assertion>,
    /// Every tool's name with its index, sorted by name: a glob looks only at the names that
    /// start with its literal prefix.
    tools_by_name: Vec<(&'a str, usize)>,
    /// Where each lowered rule and entitlement was written, by rule id (for lints).
    sites: FxHashMap<String, Site>,
    /// Each lowered workflow without its rules' positions (for the exact lints).
    unplaced_workflows: Vec<std::sync::Arc<writ_evaluator::ir::WorkflowIr>>,
}

impl<'a> Checker<'a> {
    fn new(input: &'a Input<'a>) -> Checker<'a> {
        let mut diagnostics = Vec::new();
        let symbols = Symbols::collect(&input.asts, &mut diagnostics);
        let mut tools_by_name: Vec<(&'a str, usize)> =
            symbols.tools.iter().enumerate().map(|(i, t)| (t.decl.name.text.as_str(), i)).collect();
        tools_by_name.sort_unstable();
        Checker {
            tools_by_name,
            input,
            symbols,
            diagnostics,
            usage: Usage::default(),
            closure: Vec::new(),
            parents: Vec::new(),
            tests: Vec::new(),
            assertions: Vec::new(),
            sites: FxHashMap::default(),
            unplaced_workflows: Vec::new(),
        }
    }

    /// Checks everything and lowers the policy. `None` when any error was reported.
    fn run(&mut self, hash: String) -> Option<PolicyIr> {
        self.check_roles_extends();
        let attributes = self.value_decls(ValueDecls::Attributes);
        let contexts = self.value_decls(ValueDecls::Contexts);
        let tools = self.tools();
        let evidence = self.evidence_kinds();
        let roles = self.roles();
        let (workflows, unplaced) = self.workflows();
        self.unplaced_workflows = unplaced;
        let guardrails = self.guardrails();
        self.tests = crate::test_blocks::check(self);
        self.check_assertions();
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

    /// Reports a diagnostic: the one way anything adds to what the checker found.
    pub(crate) fn report(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// The source text at `span` of `file` (empty when out of range).
    pub(crate) fn snippet(&self, file: usize, span: Span) -> &'a str {
        self.input.texts.get(file).and_then(|t| t.get(span.range())).unwrap_or("")
    }

    /// The type error most operators report, in one shape: "`OP` needs NEEDED, but `TEXT` is
    /// FOUND", at `span` of `file`, labelled with the type found. Callers add the help (and a
    /// related location) that fits their operator.
    pub(crate) fn needs(
        &self,
        file: usize,
        span: Span,
        op: &str,
        needed: &str,
        found: &Ty,
    ) -> Diagnostic {
        Diagnostic::new(
            crate::diagnostic::Code::TypeMismatch,
            crate::symbols::at(file, span),
            format!("`{op}` needs {needed}, but `{}` is {found}", self.snippet(file, span)),
        )
        .label(found.to_string())
    }

    /// The policy's declarations.
    pub(crate) fn symbols(&self) -> &Symbols<'a> {
        &self.symbols
    }

    /// Which declarations the policy's rules refer to.
    pub(crate) fn usage(&self) -> &Usage {
        &self.usage
    }

    /// For each role, the roles it holds (itself and everything it extends, transitively).
    pub(crate) fn closure(&self) -> &[BTreeSet<usize>] {
        &self.closure
    }

    /// The policy's assertions, lowered.
    pub(crate) fn assertions(&self) -> &[Assertion] {
        &self.assertions
    }
}
