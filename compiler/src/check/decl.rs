//! One declaration checked on its own: a workflow, or a role's entitlements. The database
//! keeps each result (`db::check_decl`) until that declaration's text or the index of
//! signatures it reads changes, so an edit inside one rule checks one declaration again.
//!
//! Nothing here depends on where anything is written: the checked declaration and every
//! declaration of the index are moved to start at byte 0, each a file of its own to the
//! checker (the checked one is file 0, index entry `k` is file `k + 1`). The whole-program
//! check puts the results where they are ([`Checker::placed`]): spans moved back, rule
//! positions made absolute, paths filled in.
//!
//! invariant: the whole-program check with these results equals the whole-program check that
//! checks every declaration itself (property-tested in `db.rs`, over the snapshots too).

use writ_evaluator::ir::{EntitlementIr, RuleMeta, WorkflowIr};
use writ_grammar::ast::{Item, RoleDecl, SourceFile, Span, WorkflowDecl};

use super::{Checker, Input, Site, Usage};
use crate::diagnostic::{Diagnostic, Location};

/// What checking one declaration reads of all the others: every declaration that names
/// something, in source order, each a file of its own moved to start at 0, without its
/// documentation; roles and workflows without their bodies (and with empty spans), so that
/// an edit inside a body, or one that only moves declarations, leaves the index equal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeclIndex {
    files: Vec<SourceFile>,
    texts: Vec<String>,
}

impl DeclIndex {
    pub fn new(asts: &[&SourceFile], texts: &[&str]) -> DeclIndex {
        let mut index = DeclIndex::default();
        for (file, item) in named(asts) {
            let span = item.span();
            let mut signature = match item {
                Item::Role(d) => Item::Role(RoleDecl {
                    doc: None,
                    name: d.name.clone(),
                    extends: d.extends.clone(),
                    body: None,
                    span: Span { start: span.start, end: span.start },
                }),
                Item::Workflow(d) => Item::Workflow(WorkflowDecl {
                    doc: None,
                    name: d.name.clone(),
                    body: Vec::new(),
                    span: Span { start: span.start, end: span.start },
                }),
                other => undocumented(other),
            };
            let text = match signature {
                Item::Role(_) | Item::Workflow(_) => "",
                _ => texts.get(file).and_then(|t| t.get(span.range())).unwrap_or(""),
            };
            signature.move_by(span.start.wrapping_neg());
            index.files.push(SourceFile { items: vec![signature], ..SourceFile::default() });
            index.texts.push(text.to_string());
        }
        index
    }
}

/// Where each entry of the index of `asts` starts: its file and byte offset.
pub(super) fn positions(asts: &[&SourceFile]) -> Vec<(usize, u32)> {
    named(asts).map(|(file, item)| (file, item.span().start)).collect()
}

/// The declarations that name something, with their files, in source order: what the index
/// holds (one place decides it, for [`DeclIndex::new`] and [`positions`] alike).
fn named<'a>(asts: &[&'a SourceFile]) -> impl Iterator<Item = (usize, &'a Item)> {
    asts.iter().enumerate().flat_map(|(file, ast)| ast.items.iter().map(move |i| (file, i))).filter(
        |(_, item)| {
            matches!(
                item,
                Item::Role(_)
                    | Item::Attribute(_)
                    | Item::Context(_)
                    | Item::Tool(_)
                    | Item::Evidence(_)
                    | Item::Workflow(_)
                    | Item::Fixture(_)
            )
        },
    )
}

/// A declaration without its `///` documentation (no check reads it).
fn undocumented(item: &Item) -> Item {
    let mut item = item.clone();
    match &mut item {
        Item::Role(d) => d.doc = None,
        Item::Attribute(d) | Item::Context(d) => d.doc = None,
        Item::Tool(d) => d.doc = None,
        Item::Evidence(d) => d.doc = None,
        Item::Workflow(d) => d.doc = None,
        Item::Fixture(d) => d.doc = None,
        Item::Rule(_) | Item::Test(_) | Item::Assert(_) | Item::Error(_) => {}
    }
    item
}

/// One declaration to check on its own: its text alone, which [`check_decl`] parses again
/// (from byte 0, so its spans are relative to it). A declaration's tree is determined by its
/// text (`writ_grammar::parse_reusing` relies on the same), and a text is far cheaper to copy
/// and compare on each edit than a tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclKey {
    text: String,
}

impl DeclKey {
    /// The declaration at `span` of `text` (its file's whole text).
    fn new(span: Span, text: &str) -> DeclKey {
        DeclKey { text: text.get(span.range()).unwrap_or("").to_string() }
    }
}

/// What checking one declaration found, every location relative to its declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct DeclChecked {
    lowered: Lowered,
    diagnostics: Vec<Diagnostic>,
    usage: Usage,
    /// By rule id (sorted, so that equal checks give equal results).
    sites: Vec<(String, Site)>,
}

#[derive(Clone, Debug, PartialEq)]
enum Lowered {
    Workflow(WorkflowIr),
    Entitlements(Vec<EntitlementIr>),
    /// The text alone did not parse as one workflow or role (never seen: a declaration's
    /// tree is determined by its text).
    Nothing,
}

/// Checks the declaration of `key` against `index`, as the whole-program check would.
pub fn check_decl(index: &DeclIndex, key: &DeclKey) -> DeclChecked {
    let alone = SourceFile::default();
    let mut asts: Vec<&SourceFile> = vec![&alone];
    asts.extend(index.files.iter());
    let mut texts: Vec<&str> = vec![key.text.as_str()];
    texts.extend(index.texts.iter().map(String::as_str));
    let input = Input { paths: vec![""; asts.len()], texts, asts };
    let parsed = writ_grammar::parse(&key.text);
    let mut checker = Checker::new(&input);
    // Names declared twice are the whole-program check's to report.
    checker.diagnostics.clear();
    let lowered = match parsed.items.as_slice() {
        [Item::Workflow(w)] => Lowered::Workflow(checker.workflow(0, w)),
        [Item::Role(r)] => Lowered::Entitlements(checker.entitlements(0, r)),
        _ => Lowered::Nothing,
    };
    let mut sites: Vec<(String, Site)> = checker.sites.into_iter().collect();
    sites.sort_by(|a, b| a.0.cmp(&b.0));
    DeclChecked { lowered, diagnostics: checker.diagnostics, usage: checker.usage, sites }
}

/// How the whole-program check asks for a declaration checked on its own (the database's
/// `check_decl` query, which keeps the result).
pub trait Memo {
    /// `name` identifies the declaration among those asked for in one check.
    fn check(&self, name: &str, key: DeclKey) -> &DeclChecked;
}

impl<'a> Checker<'a> {
    /// The workflow `w` of `file`, checked through `memo` and put in place.
    pub(super) fn placed_workflow(
        &mut self,
        memo: &dyn Memo,
        file: usize,
        w: &'a WorkflowDecl,
    ) -> WorkflowIr {
        let Some(text) = self.input.texts.get(file).copied() else {
            writ_stdx::never!("file {file} out of range");
            return self.workflow(file, w);
        };
        let key = DeclKey::new(w.span, text);
        let checked = memo.check(&w.name.name, key);
        let start = w.span.start;
        let Lowered::Workflow(ir) = &checked.lowered else {
            writ_stdx::never!("a workflow's text alone parsed as something else");
            return self.workflow(file, w);
        };
        self.placed(file, start, checked);
        let mut ir = ir.clone();
        for meta in ir
            .starts
            .iter_mut()
            .map(|r| &mut r.meta)
            .chain(ir.allows.iter_mut().map(|r| &mut r.meta))
            .chain(ir.rules.denies.iter_mut().map(|r| &mut r.meta))
            .chain(ir.rules.deny_starts.iter_mut().map(|r| &mut r.meta))
            .chain(ir.rules.requires.iter_mut().map(|r| &mut r.meta))
        {
            self.placed_meta(file, start, meta);
        }
        ir
    }

    /// The entitlements of role `r` of `file`, checked through `memo` and put in place.
    pub(super) fn placed_entitlements(
        &mut self,
        memo: &dyn Memo,
        file: usize,
        r: &'a RoleDecl,
    ) -> Vec<EntitlementIr> {
        let Some(text) = self.input.texts.get(file).copied() else {
            writ_stdx::never!("file {file} out of range");
            return self.entitlements(file, r);
        };
        let key = DeclKey::new(r.span, text);
        let checked = memo.check(&r.name.name, key);
        let start = r.span.start;
        let Lowered::Entitlements(entitlements) = &checked.lowered else {
            writ_stdx::never!("a role's text alone parsed as something else");
            return self.entitlements(file, r);
        };
        self.placed(file, start, checked);
        let mut entitlements = entitlements.clone();
        for e in &mut entitlements {
            self.placed_meta(file, start, &mut e.meta);
        }
        entitlements
    }

    /// Reports the diagnostics of a declaration checked on its own (at `start` of `file`), and
    /// records its uses and rule sites, each moved into place.
    fn placed(&mut self, file: usize, start: u32, checked: &DeclChecked) {
        for d in &checked.diagnostics {
            let mut d = d.clone();
            d.location = self.place(file, start, d.location);
            for r in &mut d.related {
                r.location = self.place(file, start, r.location);
            }
            if let Some(r) = &mut d.replacement {
                r.location = self.place(file, start, r.location);
            }
            self.report(d);
        }
        let Usage { roles, allowed_tools, evidence, attributes, contexts } = &checked.usage;
        self.usage.roles.extend(roles);
        self.usage.allowed_tools.extend(allowed_tools);
        self.usage.evidence.extend(evidence);
        self.usage.attributes.extend(attributes);
        self.usage.contexts.extend(contexts);
        for (id, site) in &checked.sites {
            let site = Site {
                rule: self.place(file, start, site.rule),
                condition: site.condition.map(|c| self.place(file, start, c)),
            };
            self.sites.insert(id.clone(), site);
        }
    }

    /// A location of a declaration checked on its own (at `start` of `file`), where it is: in
    /// that declaration (file 0) or in an entry of the index.
    fn place(&self, file: usize, start: u32, at: Location) -> Location {
        let (file, start) = match at.file.checked_sub(1) {
            None => (file, start),
            Some(k) => match self.index_positions.get(k) {
                Some(&position) => position,
                None => {
                    writ_stdx::never!("index entry {k} out of range");
                    (file, start)
                }
            },
        };
        let span =
            Span { start: at.span.start.wrapping_add(start), end: at.span.end.wrapping_add(start) };
        Location { file, span }
    }

    /// A rule's metadata from a declaration checked on its own (at `start` of `file`, where
    /// it was line 1): its file's path, and its line and column in that file.
    fn placed_meta(&self, file: usize, start: u32, meta: &mut RuleMeta) {
        let text = self.input.texts.get(file).copied().unwrap_or("");
        let (line, column) = match self.lines.get(file) {
            Some(index) => index.line_col(text, start as usize),
            None => crate::diagnostic::line_col(text, start as usize),
        };
        if meta.line == 1 {
            meta.column += column as u32 - 1;
        }
        meta.line += line as u32 - 1;
        meta.file = self.input.paths.get(file).copied().unwrap_or("").to_string();
    }
}
