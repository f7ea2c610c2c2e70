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

impl Symbol {
    pub fn describe(self) -> &'static str {
        match self {
            Symbol::Role(_) => "a role",
            Symbol::Attribute(_) => "an attribute",
            Symbol::Context(_) => "a context value",
            Symbol::Tool(_) => "a tool",
            Symbol::Evidence(_) => "an evidence kind",
            Symbol::Workflow(_) => "a workflow",
            Symbol::Fixture(_) => "a fixture",
        }
    }
}

/// Every declaration of a policy, in source order, first declaration of each name only.
#[derive(Debug, Default)]
pub struct Symbols<'a> {
    pub names: HashMap<&'a str, (Symbol, Location)>,
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

    pub fn role(&self, name: &str) -> Option<usize> {
        match self.lookup(name)?.0 {
            Symbol::Role(i) => Some(i),
            _ => None,
        }
    }
    pub fn tool(&self, name: &str) -> Option<usize> {
        match self.lookup(name)?.0 {
            Symbol::Tool(i) => Some(i),
            _ => None,
        }
    }
    pub fn evidence_kind(&self, name: &str) -> Option<usize> {
        match self.lookup(name)?.0 {
            Symbol::Evidence(i) => Some(i),
            _ => None,
        }
    }
    pub fn attribute(&self, name: &str) -> Option<usize> {
        match self.lookup(name)?.0 {
            Symbol::Attribute(i) => Some(i),
            _ => None,
        }
    }
    pub fn context(&self, name: &str) -> Option<usize> {
        match self.lookup(name)?.0 {
            Symbol::Context(i) => Some(i),
            _ => None,
        }
    }
    pub fn workflow(&self, name: &str) -> Option<usize> {
        match self.lookup(name)?.0 {
            Symbol::Workflow(i) => Some(i),
            _ => None,
        }
    }
    pub fn fixture(&self, name: &str) -> Option<usize> {
        match self.lookup(name)?.0 {
            Symbol::Fixture(i) => Some(i),
            _ => None,
        }
    }

    pub fn role_names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.roles.iter().map(|d| d.decl.name.name.as_str())
    }
    pub fn tool_names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.tools.iter().map(|d| d.decl.name.text.as_str())
    }
    pub fn evidence_names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.evidence.iter().map(|d| d.decl.name.name.as_str())
    }
    pub fn attribute_names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.attributes.iter().map(|d| d.decl.name.name.as_str())
    }
    pub fn context_names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.contexts.iter().map(|d| d.decl.name.name.as_str())
    }
    pub fn workflow_names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.workflows.iter().map(|d| d.decl.name.name.as_str())
    }
    pub fn fixture_names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.fixtures.iter().map(|d| d.decl.name.name.as_str())
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
