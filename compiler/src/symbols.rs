//! The policy's declarations, collected across files into one namespace.

use std::collections::HashMap;

use writ_grammar::ast::{
    EvidenceDecl, FixtureDecl, Item, RoleDecl, Rule, SourceFile, Span, TestDecl, ToolDecl,
    ValueDecl, WorkflowDecl,
};

use crate::diagnostic::{Code, Diagnostic, Location};

/// A declaration and the file (index in source order) it was written in.
#[derive(Debug)]
pub struct Declared<'a, T> {
    pub decl: &'a T,
    pub file: usize,
}

impl<T> Clone for Declared<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Declared<'_, T> {}

/// What a name in the shared namespace refers to (an index into the matching list).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symbol {
    Role(usize),
    Attribute(usize),
    Context(usize),
    Tool(usize),
    Evidence(usize),
    Workflow(usize),
    Fixture(usize),
}

/// The kinds of declaration, which share one namespace (LANGUAGE.md §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Namespace {
    Role,
    Tool,
    Evidence,
    Attribute,
    Context,
    Workflow,
    Fixture,
}

impl Namespace {
    /// With an article, for messages: "a role", "an evidence kind".
    pub fn a_noun(self) -> &'static str {
        match self {
            Namespace::Role => "a role",
            Namespace::Tool => "a tool",
            Namespace::Evidence => "an evidence kind",
            Namespace::Attribute => "an attribute",
            Namespace::Context => "a context value",
            Namespace::Workflow => "a workflow",
            Namespace::Fixture => "a fixture",
        }
    }

    /// The keyword that declares it: `role`, `evidence`, `context`.
    pub fn keyword(self) -> &'static str {
        match self {
            Namespace::Role => "role",
            Namespace::Tool => "tool",
            Namespace::Evidence => "evidence",
            Namespace::Attribute => "attribute",
            Namespace::Context => "context",
            Namespace::Workflow => "workflow",
            Namespace::Fixture => "fixture",
        }
    }

    /// Without the article: "role", "evidence kind".
    pub fn noun(self) -> &'static str {
        let a = self.a_noun();
        a.split_once(' ').map_or(a, |(_, noun)| noun)
    }
}

impl Symbol {
    pub fn namespace(self) -> Namespace {
        match self {
            Symbol::Role(_) => Namespace::Role,
            Symbol::Attribute(_) => Namespace::Attribute,
            Symbol::Context(_) => Namespace::Context,
            Symbol::Tool(_) => Namespace::Tool,
            Symbol::Evidence(_) => Namespace::Evidence,
            Symbol::Workflow(_) => Namespace::Workflow,
            Symbol::Fixture(_) => Namespace::Fixture,
        }
    }

    /// The index into the list of its kind.
    pub fn index(self) -> usize {
        match self {
            Symbol::Role(i)
            | Symbol::Attribute(i)
            | Symbol::Context(i)
            | Symbol::Tool(i)
            | Symbol::Evidence(i)
            | Symbol::Workflow(i)
            | Symbol::Fixture(i) => i,
        }
    }

    pub fn describe(self) -> &'static str {
        self.namespace().a_noun()
    }
}

/// Every declaration of a policy, in source order, first declaration of each name only.
#[derive(Debug, Default)]
pub struct Symbols<'a> {
    /// Every declared name (FxHash: a name is looked up for every reference to it).
    pub names: rustc_hash::FxHashMap<&'a str, (Symbol, Location)>,
    pub roles: Vec<Declared<'a, RoleDecl>>,
    pub attributes: Vec<Declared<'a, ValueDecl>>,
    pub contexts: Vec<Declared<'a, ValueDecl>>,
    pub tools: Vec<Declared<'a, ToolDecl>>,
    pub evidence: Vec<Declared<'a, EvidenceDecl>>,
    pub workflows: Vec<Declared<'a, WorkflowDecl>>,
    pub fixtures: Vec<Declared<'a, FixtureDecl>>,
    pub tests: Vec<Declared<'a, TestDecl>>,
    /// Assertions (§11), in source order.
    pub assertions: Vec<Declared<'a, writ_grammar::ast::AssertDecl>>,
    /// Top-level rules, in source order.
    pub rules: Vec<Declared<'a, Rule>>,
}

impl<'a> Symbols<'a> {
    /// Collects the declarations of all files, reporting names declared twice.
    pub fn collect(files: &[&'a SourceFile], diagnostics: &mut Vec<Diagnostic>) -> Symbols<'a> {
        let mut symbols = Symbols::default();
        let mut test_names: HashMap<&'a str, Location> = HashMap::new();
        let mut assertion_names: HashMap<&'a str, Location> = HashMap::new();
        for (file, ast) in files.iter().enumerate() {
            for item in &ast.items {
                let (name, span, symbol) = match item {
                    Item::Role(d) => {
                        (d.name.name.as_str(), d.name.span, Symbol::Role(symbols.roles.len()))
                    }
                    Item::Attribute(d) => (
                        d.name.name.as_str(),
                        d.name.span,
                        Symbol::Attribute(symbols.attributes.len()),
                    ),
                    Item::Context(d) => {
                        (d.name.name.as_str(), d.name.span, Symbol::Context(symbols.contexts.len()))
                    }
                    Item::Tool(d) => {
                        (d.name.text.as_str(), d.name.span, Symbol::Tool(symbols.tools.len()))
                    }
                    Item::Evidence(d) => (
                        d.name.name.as_str(),
                        d.name.span,
                        Symbol::Evidence(symbols.evidence.len()),
                    ),
                    Item::Workflow(d) => (
                        d.name.name.as_str(),
                        d.name.span,
                        Symbol::Workflow(symbols.workflows.len()),
                    ),
                    Item::Fixture(d) => {
                        (d.name.name.as_str(), d.name.span, Symbol::Fixture(symbols.fixtures.len()))
                    }
                    Item::Test(d) => {
                        let here = Location { file, span: d.name.span };
                        if let Some(first) = test_names.get(d.name.value.as_str()) {
                            diagnostics.push(
                                Diagnostic::new(
                                    Code::DuplicateDeclaration,
                                    here,
                                    format!("test `{}` is declared twice", d.name.value),
                                )
                                .label("declared again here")
                                .related(*first, "first declared here")
                                .help("give each test its own name"),
                            );
                        } else {
                            test_names.insert(&d.name.value, here);
                        }
                        symbols.tests.push(Declared { decl: d, file });
                        continue;
                    }
                    Item::Rule(r) => {
                        symbols.rules.push(Declared { decl: r, file });
                        continue;
                    }
                    Item::Assert(d) => {
                        let here = Location { file, span: d.name.span };
                        if let Some(first) = assertion_names.get(d.name.value.as_str()) {
                            diagnostics.push(
                                Diagnostic::new(
                                    Code::DuplicateDeclaration,
                                    here,
                                    format!("assertion `{}` is declared twice", d.name.value),
                                )
                                .label("declared again here")
                                .related(*first, "first declared here")
                                .help("give each assertion its own name"),
                            );
                        } else {
                            assertion_names.insert(&d.name.value, here);
                        }
                        symbols.assertions.push(Declared { decl: d, file });
                        continue;
                    }
                    Item::Error(_) => continue,
                };
                let here = Location { file, span };
                if let Some((previous, first)) = symbols.names.get(name) {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::DuplicateDeclaration,
                            here,
                            format!("`{name}` is declared twice"),
                        )
                        .label("declared again here")
                        .related(*first, format!("first declared here as {}", previous.describe()))
                        .help(
                            "roles, tools, evidence kinds, attributes, context values, workflows and \
                             fixtures share one namespace: rename one of them",
                        ),
                    );
                    continue;
                }
                symbols.names.insert(name, (symbol, here));
                match item {
                    Item::Role(d) => symbols.roles.push(Declared { decl: d, file }),
                    Item::Attribute(d) => symbols.attributes.push(Declared { decl: d, file }),
                    Item::Context(d) => symbols.contexts.push(Declared { decl: d, file }),
                    Item::Tool(d) => symbols.tools.push(Declared { decl: d, file }),
                    Item::Evidence(d) => symbols.evidence.push(Declared { decl: d, file }),
                    Item::Workflow(d) => symbols.workflows.push(Declared { decl: d, file }),
                    Item::Fixture(d) => symbols.fixtures.push(Declared { decl: d, file }),
                    Item::Test(_) | Item::Rule(_) | Item::Assert(_) | Item::Error(_) => {}
                }
            }
        }
        symbols
    }

    pub fn lookup(&self, name: &str) -> Option<(Symbol, Location)> {
        self.names.get(name).copied()
    }

    /// The declaration of kind `ns` called `name`, by its index in the list of its kind.
    pub fn find(&self, ns: Namespace, name: &str) -> Option<usize> {
        let (symbol, _) = self.lookup(name)?;
        (symbol.namespace() == ns).then_some(symbol.index())
    }

    pub fn role(&self, name: &str) -> Option<usize> {
        self.find(Namespace::Role, name)
    }
    pub fn tool(&self, name: &str) -> Option<usize> {
        self.find(Namespace::Tool, name)
    }
    pub fn attribute(&self, name: &str) -> Option<usize> {
        self.find(Namespace::Attribute, name)
    }
    pub fn context(&self, name: &str) -> Option<usize> {
        self.find(Namespace::Context, name)
    }

    /// The names declared as `ns`, in source order.
    pub fn names(&self, ns: Namespace) -> Vec<&'a str> {
        fn named<'a, T>(
            decls: &[Declared<'a, T>],
            name: impl Fn(&'a T) -> &'a str,
        ) -> Vec<&'a str> {
            decls.iter().map(|d| name(d.decl)).collect()
        }
        match ns {
            Namespace::Role => named(&self.roles, |d| d.name.name.as_str()),
            Namespace::Tool => named(&self.tools, |d| d.name.text.as_str()),
            Namespace::Evidence => named(&self.evidence, |d| d.name.name.as_str()),
            Namespace::Attribute => named(&self.attributes, |d| d.name.name.as_str()),
            Namespace::Context => named(&self.contexts, |d| d.name.name.as_str()),
            Namespace::Workflow => named(&self.workflows, |d| d.name.name.as_str()),
            Namespace::Fixture => named(&self.fixtures, |d| d.name.name.as_str()),
        }
    }

    /// Where a symbol was declared.
    pub fn location_of(&self, name: &str) -> Option<Location> {
        self.lookup(name).map(|(_, l)| l)
    }

    /// The name of tool `t`, as written (`?` for an index that is not a tool's).
    pub fn tool_name(&self, t: usize) -> &'a str {
        self.tools.get(t).map_or("?", |d| d.decl.name.text.as_str())
    }

    /// The name of role `r` (`?` for an index that is not a role's).
    pub fn role_name(&self, r: usize) -> &'a str {
        self.roles.get(r).map_or("?", |d| d.decl.name.name.as_str())
    }
}

/// A location in file `file`.
pub fn at(file: usize, span: Span) -> Location {
    Location { file, span }
}
