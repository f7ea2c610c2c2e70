//! Every name written in a file, with what it names: the basis of definitions, references,
//! highlights, rename and semantic tokens. Computed per file (a salsa query), so an edit
//! re-indexes only the edited file.

use writ_grammar::ast::{
    EvidenceRequirement, Expr, ExprKind, FieldValue, Item, Rule, RuleKind, SourceFile, Span,
    Target, TargetKind, TestAction, WorkflowItem,
};

use crate::db::{PolicyFile, parse};
use crate::symbols::Namespace;

/// What kind of thing a name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SymbolKind {
    /// A declaration: roles, tools, evidence kinds, attributes, context values, workflows and
    /// fixtures share one namespace (LANGUAGE.md §7).
    Declared(Namespace),
    /// A tool tag (`[write]`); tags are not declared, tools carry them.
    Tag,
    /// A tool's argument (`owner` is the tool when known).
    Argument,
    /// An evidence kind's field (`owner` is the evidence kind).
    Field,
    /// A test's name.
    Test,
}

impl SymbolKind {
    /// The namespace of a declared kind.
    pub(crate) fn namespace(self) -> Option<Namespace> {
        match self {
            SymbolKind::Declared(namespace) => Some(namespace),
            SymbolKind::Tag | SymbolKind::Argument | SymbolKind::Field | SymbolKind::Test => None,
        }
    }

    /// In the namespace that declarations share.
    pub fn is_global(self) -> bool {
        self.namespace().is_some()
    }

    /// With an article, for messages: "a role", "an evidence kind".
    pub fn a(self) -> &'static str {
        match self {
            SymbolKind::Declared(namespace) => namespace.a_noun(),
            SymbolKind::Tag => "a tag",
            SymbolKind::Argument => "an argument",
            SymbolKind::Field => "a field",
            SymbolKind::Test => "a test",
        }
    }

    /// One word: the keyword that declares it (`role`, `evidence`), or `tag`, `argument`,
    /// `field`, `test`.
    pub fn describe(self) -> &'static str {
        match self {
            SymbolKind::Declared(namespace) => namespace.keyword(),
            SymbolKind::Tag => "tag",
            SymbolKind::Argument => "argument",
            SymbolKind::Field => "field",
            SymbolKind::Test => "test",
        }
    }
}

/// One name in a file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Occurrence {
    pub span: Span,
    pub kind: SymbolKind,
    pub name: String,
    /// The tool of an argument, the evidence kind of a field (when known).
    pub owner: Option<String>,
    /// Whether this is where the name is declared.
    pub is_definition: bool,
}

impl Occurrence {
    /// Whether two occurrences name the same thing.
    pub fn same_symbol(&self, other: &Occurrence) -> bool {
        if self.kind.is_global() && other.kind.is_global() {
            return self.name == other.name;
        }
        self.kind == other.kind
            && self.name == other.name
            && (self.owner == other.owner || self.owner.is_none() || other.owner.is_none())
    }
}

/// The names written in one file, in source order.
#[salsa::tracked(returns(ref))]
pub fn file_index(db: &dyn salsa::Database, file: PolicyFile) -> Vec<Occurrence> {
    let mut out = Indexer::default();
    out.file(parse(db, file));
    out.occurrences.sort_by_key(|o| (o.span.start, o.span.end));
    out.occurrences
}

#[derive(Default)]
struct Indexer {
    occurrences: Vec<Occurrence>,
}

impl Indexer {
    fn push(&mut self, span: Span, kind: SymbolKind, name: &str, owner: Option<&str>, def: bool) {
        if name.is_empty() {
            return;
        }
        self.occurrences.push(Occurrence {
            span,
            kind,
            name: name.to_string(),
            owner: owner.map(str::to_string),
            is_definition: def,
        });
    }

    fn file(&mut self, ast: &SourceFile) {
        for item in &ast.items {
            match item {
                Item::Role(r) => {
                    self.push(
                        r.name.span,
                        SymbolKind::Declared(Namespace::Role),
                        &r.name.name,
                        None,
                        true,
                    );
                    for e in &r.extends {
                        self.push(
                            e.span,
                            SymbolKind::Declared(Namespace::Role),
                            &e.name,
                            None,
                            false,
                        );
                    }
                    for ent in r.body.iter().flatten() {
                        let tool = self.target(&ent.target);
                        self.cond(ent.when.as_ref(), tool.as_deref());
                        self.cond(ent.unless.as_ref(), tool.as_deref());
                    }
                }
                Item::Attribute(d) => self.push(
                    d.name.span,
                    SymbolKind::Declared(Namespace::Attribute),
                    &d.name.name,
                    None,
                    true,
                ),
                Item::Context(d) => self.push(
                    d.name.span,
                    SymbolKind::Declared(Namespace::Context),
                    &d.name.name,
                    None,
                    true,
                ),
                Item::Tool(t) => {
                    self.push(
                        t.name.span,
                        SymbolKind::Declared(Namespace::Tool),
                        &t.name.text,
                        None,
                        true,
                    );
                    for p in t.params.iter().flatten() {
                        let owner = Some(t.name.text.as_str());
                        self.push(p.name.span, SymbolKind::Argument, &p.name.name, owner, true);
                    }
                    for tag in &t.tags {
                        self.push(tag.span, SymbolKind::Tag, &tag.name, None, true);
                    }
                }
                Item::Evidence(e) => {
                    self.push(
                        e.name.span,
                        SymbolKind::Declared(Namespace::Evidence),
                        &e.name.name,
                        None,
                        true,
                    );
                    for p in e.fields.iter().flatten() {
                        let owner = Some(e.name.name.as_str());
                        self.push(p.name.span, SymbolKind::Field, &p.name.name, owner, true);
                    }
                }
                Item::Workflow(w) => {
                    self.push(
                        w.name.span,
                        SymbolKind::Declared(Namespace::Workflow),
                        &w.name.name,
                        None,
                        true,
                    );
                    for i in &w.body {
                        if let WorkflowItem::Rule(r) = i {
                            self.rule(r);
                        }
                    }
                }
                Item::Rule(r) => self.rule(r),
                Item::Fixture(f) => {
                    self.push(
                        f.name.span,
                        SymbolKind::Declared(Namespace::Fixture),
                        &f.name.name,
                        None,
                        true,
                    );
                    for r in &f.roles {
                        self.push(
                            r.span,
                            SymbolKind::Declared(Namespace::Role),
                            &r.name,
                            None,
                            false,
                        );
                    }
                    for a in &f.attrs {
                        self.push(
                            a.name.span,
                            SymbolKind::Declared(Namespace::Attribute),
                            &a.name.name,
                            None,
                            false,
                        );
                    }
                }
                Item::Assert(a) => {
                    for claim in &a.claims {
                        let tool = match &claim.kind {
                            writ_grammar::ast::ClaimKind::NeverAllow { via, target } => {
                                if let Some(w) = via {
                                    self.push(
                                        w.span,
                                        SymbolKind::Declared(Namespace::Workflow),
                                        &w.name,
                                        None,
                                        false,
                                    );
                                }
                                self.target(target)
                            }
                            writ_grammar::ast::ClaimKind::NeverStart { workflow } => {
                                self.push(
                                    workflow.span,
                                    SymbolKind::Declared(Namespace::Workflow),
                                    &workflow.name,
                                    None,
                                    false,
                                );
                                None
                            }
                        };
                        self.cond(claim.when.as_ref(), tool.as_deref());
                        self.cond(claim.unless.as_ref(), tool.as_deref());
                    }
                }
                Item::Test(t) => {
                    self.push(t.name.span, SymbolKind::Test, &t.name.value, None, true);
                    for e in &t.expectations {
                        for m in e.missing.iter().flatten() {
                            self.push(
                                m.span,
                                SymbolKind::Declared(Namespace::Evidence),
                                &m.name,
                                None,
                                false,
                            );
                        }
                        let req = &e.request;
                        for c in &req.chain {
                            self.push(
                                c.span,
                                SymbolKind::Declared(Namespace::Fixture),
                                &c.name,
                                None,
                                false,
                            );
                        }
                        match &req.action {
                            TestAction::Call { workflow, tool, args } => {
                                self.push(
                                    workflow.span,
                                    SymbolKind::Declared(Namespace::Workflow),
                                    &workflow.name,
                                    None,
                                    false,
                                );
                                self.push(
                                    tool.span,
                                    SymbolKind::Declared(Namespace::Tool),
                                    &tool.text,
                                    None,
                                    false,
                                );
                                self.fields(args, SymbolKind::Argument, Some(&tool.text));
                            }
                            TestAction::Start { workflow, .. } => self.push(
                                workflow.span,
                                SymbolKind::Declared(Namespace::Workflow),
                                &workflow.name,
                                None,
                                false,
                            ),
                        }
                        for ev in &req.evidence {
                            self.push(
                                ev.name.span,
                                SymbolKind::Declared(Namespace::Evidence),
                                &ev.name.name,
                                None,
                                false,
                            );
                            self.fields(&ev.fields, SymbolKind::Field, Some(&ev.name.name));
                            if let Some(by) = &ev.by {
                                self.push(
                                    by.span,
                                    SymbolKind::Declared(Namespace::Fixture),
                                    &by.name,
                                    None,
                                    false,
                                );
                            }
                        }
                        for c in &req.context {
                            self.push(
                                c.name.span,
                                SymbolKind::Declared(Namespace::Context),
                                &c.name.name,
                                None,
                                false,
                            );
                        }
                        // `after [deploy 2h ago, ...]`: the run's earlier calls name tools.
                        for h in req.history.iter().flatten() {
                            self.push(
                                h.tool.span,
                                SymbolKind::Declared(Namespace::Tool),
                                &h.tool.text,
                                None,
                                false,
                            );
                        }
                    }
                }
                Item::Error(_) => {}
            }
        }
    }

    fn fields(&mut self, fields: &[FieldValue], kind: SymbolKind, owner: Option<&str>) {
        for f in fields {
            self.push(f.name.span, kind, &f.name.name, owner, false);
        }
    }

    /// Indexes a target; returns the single tool it names, if it names one.
    fn target(&mut self, target: &Target) -> Option<String> {
        match &target.kind {
            TargetKind::Tool(t) => {
                self.push(t.span, SymbolKind::Declared(Namespace::Tool), &t.text, None, false);
                Some(t.text.clone())
            }
            TargetKind::Tags(tags) => {
                for t in tags {
                    self.push(t.span, SymbolKind::Tag, &t.name, None, false);
                }
                None
            }
            TargetKind::Glob(_) | TargetKind::All | TargetKind::Start => None,
        }
    }

    fn requirements(&mut self, reqs: &[EvidenceRequirement]) {
        for r in reqs {
            self.push(
                r.name.span,
                SymbolKind::Declared(Namespace::Evidence),
                &r.name.name,
                None,
                false,
            );
            self.fields(&r.fields, SymbolKind::Field, Some(&r.name.name));
            if let Some(by) = &r.by {
                self.push(by.span, SymbolKind::Declared(Namespace::Role), &by.name, None, false);
            }
        }
    }

    fn rule(&mut self, rule: &Rule) {
        match &rule.kind {
            RuleKind::Start { by, when, unless, require } => {
                for b in by {
                    self.push(b.span, SymbolKind::Declared(Namespace::Role), &b.name, None, false);
                }
                self.cond(when.as_ref(), None);
                self.cond(unless.as_ref(), None);
                self.requirements(require);
            }
            RuleKind::Allow { target, when, unless, require } => {
                let tool = self.target(target);
                self.cond(when.as_ref(), tool.as_deref());
                self.cond(unless.as_ref(), tool.as_deref());
                self.requirements(require);
            }
            RuleKind::Deny { target, when, unless, .. } => {
                let tool = self.target(target);
                self.cond(when.as_ref(), tool.as_deref());
                self.cond(unless.as_ref(), tool.as_deref());
            }
            RuleKind::DenyStart { when, unless, .. } => {
                self.cond(when.as_ref(), None);
                self.cond(unless.as_ref(), None);
            }
            RuleKind::RequireFor { require, target, when, unless } => {
                self.requirements(require);
                let tool = self.target(target);
                self.cond(when.as_ref(), tool.as_deref());
                self.cond(unless.as_ref(), tool.as_deref());
            }
        }
    }

    fn cond(&mut self, e: Option<&Expr>, tool: Option<&str>) {
        let Some(e) = e else { return };
        match &e.kind {
            ExprKind::Name(id) => {
                if !matches!(id.name.as_str(), "human" | "service" | "agent") {
                    self.push(id.span, SymbolKind::Argument, &id.name, tool, false);
                }
            }
            ExprKind::Field { field, .. } => {
                if !matches!(field.name.as_str(), "id" | "kind" | "roles") {
                    self.push(
                        field.span,
                        SymbolKind::Declared(Namespace::Attribute),
                        &field.name,
                        None,
                        false,
                    );
                }
            }
            ExprKind::Context(id) => {
                self.push(id.span, SymbolKind::Declared(Namespace::Context), &id.name, None, false)
            }
            ExprKind::HasRole { role, .. } => {
                self.push(role.span, SymbolKind::Declared(Namespace::Role), &role.name, None, false)
            }
            ExprKind::Compare { lhs, rhs, .. } => {
                self.cond(Some(lhs), tool);
                self.cond(Some(rhs), tool);
            }
            ExprKind::In { value: a, list: b } | ExprKind::Contains { list: a, value: b } => {
                self.cond(Some(a), tool);
                self.cond(Some(b), tool);
            }
            ExprKind::Runs { command: a, .. }
            | ExprKind::RunsOnly { command: a, .. }
            | ExprKind::Under { path: a, .. } => self.cond(Some(a), tool),
            ExprKind::Calls { target, .. } => {
                self.target(target);
            }
            ExprKind::Given(req) => self.requirements(std::slice::from_ref(&**req)),
            ExprKind::Matches { value: a, .. }
            | ExprKind::Quantified { list: a, .. }
            | ExprKind::Not(a)
            | ExprKind::Paren(a) => self.cond(Some(a), tool),
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                self.cond(Some(a), tool);
                self.cond(Some(b), tool);
            }
            ExprKind::Bool(_)
            | ExprKind::Str(_)
            | ExprKind::Int(_)
            | ExprKind::Duration(_)
            | ExprKind::List(_)
            | ExprKind::Principal(..)
            | ExprKind::Depth => {}
        }
    }
}
