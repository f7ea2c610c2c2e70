//! Checking per declaration: a workflow whose text, file and environment are those of an
//! earlier check is not checked again; what that check gave is replayed, moved to where the
//! workflow now is.
//!
//! A workflow's check reads its own text, its file's path and the declarations it can name
//! (its environment, [`environment`]); it writes its lowered form, the places of its rules
//! (for lints) and which declarations it used. All three are kept per workflow, with
//! positions relative to the workflow's first byte and line, so an edit elsewhere, in this
//! file or another, leaves them valid. An edit inside a workflow checks that workflow again;
//! an edit to any declaration a workflow could name (a tool, an attribute, a role's name or
//! parents, ...) checks every workflow again (an edit inside a role's `may` rules does not),
//! and nothing is kept while a name is declared twice.
//!
//! Only checks that reported nothing are kept (their diagnostics may point at other
//! declarations, which move), and only for workflows that start a line (so a rule's column
//! does not depend on what precedes the workflow).
//!
//! invariant: what the memo holds never changes what a check gives, only how fast: the
//! database's property tests compare edited policies with fresh compilers.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use writ_evaluator::ir::{RuleMeta, RuleSetIr, WorkflowIr};
use writ_grammar::ast::{Item, Span, WorkflowDecl};

use super::{Checker, Input, Site, Usage};
use crate::diagnostic::Location;

/// What a policy's last check can lend its next one, kept by the database across edits.
pub type CheckReuse = crate::lent::Lent<Memo>;

impl CheckReuse {
    /// How many workflows the last check replayed rather than checked (for tests).
    pub fn replayed(&self) -> usize {
        self.lock().replayed
    }
}

/// The workflows the last check kept, and the environment they were checked in.
#[derive(Default)]
pub struct Memo {
    /// The environment the entries were checked in.
    environment: String,
    /// By file path, then by the workflow's text.
    workflows: FxHashMap<String, FxHashMap<String, Arc<Kept>>>,
    replayed: usize,
}

/// What checking one workflow gave, its positions relative to the workflow.
struct Kept {
    /// Each rule's `line` counted from the workflow's first line (0 for that line).
    ir: WorkflowIr,
    /// The workflow without its rules' positions, for the exact lints (shared, so that an
    /// unchanged workflow is not copied or compared again for them).
    unplaced: Arc<WorkflowIr>,
    /// Each rule's site, its spans counted from the workflow's first byte.
    sites: Vec<(String, Site)>,
    used: Used,
}

/// The declarations one workflow's check used.
#[derive(Default)]
struct Used {
    roles: Vec<usize>,
    allowed_tools: Vec<usize>,
    evidence: Vec<usize>,
    attributes: Vec<usize>,
    contexts: Vec<usize>,
}

impl Used {
    fn of(usage: &Usage) -> Used {
        let list = |set: &std::collections::HashSet<usize>| set.iter().copied().collect();
        Used {
            roles: list(&usage.roles),
            allowed_tools: list(&usage.allowed_tools),
            evidence: list(&usage.evidence),
            attributes: list(&usage.attributes),
            contexts: list(&usage.contexts),
        }
    }

    fn add_to(&self, usage: &mut Usage) {
        usage.roles.extend(&self.roles);
        usage.allowed_tools.extend(&self.allowed_tools);
        usage.evidence.extend(&self.evidence);
        usage.attributes.extend(&self.attributes);
        usage.contexts.extend(&self.contexts);
    }
}

/// Everything a workflow's check reads besides its own text and path, in source order (which
/// numbers the declarations): the text of every attribute, context, tool and evidence kind,
/// and every role's name and the roles it extends. `None` when a name is declared twice:
/// which declaration then holds the name depends on where the others are, so nothing is kept
/// or replayed.
///
/// Left out: a role's `may` rules (checked with the role; a workflow's check reads a role's
/// name only), workflows and fixtures (a rule names neither; once no name is declared twice,
/// theirs can only make a reference that already failed fail differently, and failed checks
/// are not kept), and tests, assertions, top-level rules and text that did not parse (no
/// workflow's check reads them).
fn environment(input: &Input<'_>, declared_names: usize) -> Option<String> {
    let mut out = String::new();
    let mut named = 0;
    for (text, ast) in input.texts.iter().zip(&input.asts) {
        for item in &ast.items {
            match item {
                Item::Role(role) => {
                    out.push_str("role ");
                    out.push_str(&role.name.name);
                    for parent in &role.extends {
                        out.push(' ');
                        out.push_str(&parent.name);
                    }
                    out.push('\0');
                }
                Item::Attribute(_) | Item::Context(_) | Item::Tool(_) | Item::Evidence(_) => {
                    out.push_str(text.get(item.span().range()).unwrap_or(""));
                    out.push('\0');
                }
                Item::Workflow(_) | Item::Fixture(_) => {}
                Item::Rule(_) | Item::Test(_) | Item::Assert(_) | Item::Error(_) => continue,
            }
            named += 1;
        }
    }
    (named == declared_names).then_some(out)
}

/// A rule's site with every offset changed by `shift`, in `file`: counted from a workflow's
/// first byte when kept, moved back into place when replayed.
fn site_shifted(site: Site, file: usize, shift: impl Fn(u32) -> u32) -> Site {
    let place = |l: Location| Location {
        file,
        span: Span { start: shift(l.span.start), end: shift(l.span.end) },
    };
    Site { rule: place(site.rule), condition: site.condition.map(place) }
}

impl<'a> Checker<'a> {
    /// Every workflow, checked or replayed from the memo (when the input has one), and each
    /// one without its rules' positions (for the exact lints).
    pub(super) fn workflows(&mut self) -> (Vec<WorkflowIr>, Vec<Arc<WorkflowIr>>) {
        let decls = self.symbols.workflows.clone();
        let environment = environment(self.input, self.symbols.names.len());
        let (Some(reuse), Some(environment)) = (self.input.reuse, environment) else {
            return decls.iter().map(|d| with_unplaced(self.workflow(d.file, d.decl))).unzip();
        };
        let mut memo = reuse.lock();
        let mut previous = if memo.environment == environment {
            std::mem::take(&mut memo.workflows)
        } else {
            FxHashMap::default()
        };
        let mut next: FxHashMap<String, FxHashMap<String, Arc<Kept>>> = FxHashMap::default();
        let mut replayed = 0;
        let out = decls
            .iter()
            .map(|d| {
                let Some((path, text, first_line)) = self.placed(d.file, d.decl) else {
                    return with_unplaced(self.workflow(d.file, d.decl));
                };
                let kept = previous.get_mut(path).and_then(|texts| texts.remove_entry(text));
                let (ir, key, kept) = match kept {
                    Some((key, kept)) => {
                        replayed += 1;
                        (self.replay(&kept, d.file, d.decl.span.start, first_line), key, kept)
                    }
                    None => match self.workflow_kept(d.file, d.decl, first_line) {
                        (ir, Some(kept)) => (ir, text.to_string(), Arc::new(kept)),
                        (ir, None) => return with_unplaced(ir),
                    },
                };
                let unplaced = kept.unplaced.clone();
                match next.get_mut(path) {
                    Some(texts) => texts.insert(key, kept),
                    None => next.entry(path.to_string()).or_default().insert(key, kept),
                };
                (ir, unplaced)
            })
            .unzip();
        *memo = Memo { environment, workflows: next, replayed };
        out
    }

    /// The workflow's file path, text and first line (1-based, as a rule's `line`), when it
    /// starts a line.
    fn placed(&self, file: usize, w: &WorkflowDecl) -> Option<(&'a str, &'a str, u32)> {
        let path = *self.input.paths.get(file)?;
        let source = self.input.texts.get(file)?;
        let text = source.get(w.span.range())?;
        let lines = self.input.lines.get(file)?;
        let first_line = lines.line_of(w.span.start as usize).checked_add(1)?;
        let starts_a_line = (w.span.start as usize)
            .checked_sub(1)
            .is_none_or(|before| source.as_bytes().get(before) == Some(&b'\n'));
        Some((path, text, u32::try_from(first_line).ok()?)).filter(|_| starts_a_line)
    }

    /// Checks one workflow: the lowered workflow, and what to keep of the check (made
    /// relative to the workflow) when it reported nothing.
    fn workflow_kept(
        &mut self,
        file: usize,
        w: &'a WorkflowDecl,
        first_line: u32,
    ) -> (WorkflowIr, Option<Kept>) {
        let reported = self.diagnostics.len();
        let usage = std::mem::take(&mut self.usage);
        let sites = std::mem::take(&mut self.sites);
        let ir = self.workflow(file, w);
        let used = Used::of(&std::mem::replace(&mut self.usage, usage));
        let own_sites = std::mem::replace(&mut self.sites, sites);
        used.add_to(&mut self.usage);
        if self.diagnostics.len() != reported {
            self.sites.extend(own_sites);
            return (ir, None);
        }
        let base = w.span.start;
        let sites = own_sites
            .iter()
            .map(|(id, site)| (id.clone(), site_shifted(*site, file, |at| at.saturating_sub(base))))
            .collect();
        self.sites.extend(own_sites);
        let mut kept = ir.clone();
        for meta in metas(&mut kept) {
            meta.line = meta.line.saturating_sub(first_line);
        }
        let unplaced = Arc::new(unplaced_workflow(kept.clone()));
        (ir, Some(Kept { ir: kept, unplaced, sites, used }))
    }

    /// What a kept check gave, placed where the workflow now is, its uses and sites recorded.
    fn replay(&mut self, kept: &Kept, file: usize, base: u32, first_line: u32) -> WorkflowIr {
        kept.used.add_to(&mut self.usage);
        for (id, site) in &kept.sites {
            let site = site_shifted(*site, file, |at| at.saturating_add(base));
            self.sites.insert(id.clone(), site);
        }
        let mut ir = kept.ir.clone();
        for meta in metas(&mut ir) {
            meta.line = meta.line.saturating_add(first_line);
        }
        ir
    }
}

/// A lowered workflow, and a shared copy of it without its rules' positions (for the exact
/// lints), for a workflow the memo does not keep.
fn with_unplaced(ir: WorkflowIr) -> (WorkflowIr, Arc<WorkflowIr>) {
    let unplaced = Arc::new(unplaced_workflow(ir.clone()));
    (ir, unplaced)
}

/// Every rule's metadata in a workflow.
fn metas(w: &mut WorkflowIr) -> impl Iterator<Item = &mut RuleMeta> {
    let starts = w.starts.iter_mut().map(|r| &mut r.meta);
    let allows = w.allows.iter_mut().map(|r| &mut r.meta);
    starts.chain(allows).chain(rule_set_metas(&mut w.rules))
}

fn rule_set_metas(rules: &mut RuleSetIr) -> impl Iterator<Item = &mut RuleMeta> {
    let denies = rules.denies.iter_mut().map(|r| &mut r.meta);
    let deny_starts = rules.deny_starts.iter_mut().map(|r| &mut r.meta);
    let requires = rules.requires.iter_mut().map(|r| &mut r.meta);
    denies.chain(deny_starts).chain(requires)
}

/// Leaves out where a rule was written: what the exact lints' queries compare across edits
/// (no search reads it, and a rule that only moved should not be searched again).
pub(crate) fn unplaced(meta: &mut RuleMeta) {
    meta.file.clear();
    meta.line = 0;
    meta.column = 0;
}

/// [`unplaced`] for every rule of a rule set.
pub(crate) fn unplaced_rules(rules: &mut RuleSetIr) {
    rule_set_metas(rules).for_each(unplaced);
}

/// [`unplaced`] for every rule of a workflow.
pub(crate) fn unplaced_workflow(mut w: WorkflowIr) -> WorkflowIr {
    metas(&mut w).for_each(unplaced);
    w
}
