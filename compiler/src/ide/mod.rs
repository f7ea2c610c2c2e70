//! Queries for editors, in the compiler's terms: files are indexes into a policy's files,
//! positions are byte offsets, places are [`Location`]s. Nothing here knows LSP; the language
//! server (`lsp/`) converts.
//!
//! - [`Analysis::definition`], [`Analysis::references`], [`Analysis::highlights`] and
//!   [`Analysis::rename`] work on the per-file [`file_index`] of names.
//! - [`Analysis::hover`] describes declarations (doc comments, signatures, a role's `extends`
//!   chain and effective entitlements) and rules (in words).
//! - [`Analysis::completions`] looks at the tokens before the cursor ([`lex`]) so that it works
//!   on half-typed text the parser cannot make sense of.
//! - [`Analysis::fixes`] turns diagnostics into edits; [`Analysis::run_test`] runs one test.

mod complete;
mod hover;
mod index;
pub mod lex;
mod outline;

use writ_grammar::ast::{Item, SourceFile, Span};

pub use crate::test_blocks::run::{
    AssertionRun, ExpectationRun, RunTestError, TestRun, VerifyError, run_test, verify_assertion,
};
pub use complete::{Completion, CompletionKind, Completions};
pub use index::{Occurrence, SymbolKind, file_index};
pub use outline::{Fold, SymbolInfo, TokenClass};

use crate::db::{PolicyFile, PolicyInput, compile, parse};
use crate::diagnostic::{Code, Location};
pub use crate::symbols::Namespace;

/// A text edit: replace `location` with `text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub location: Location,
    pub text: String,
}

/// A fix for a diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    pub title: String,
    pub edits: Vec<Edit>,
    /// The one fix an editor may apply without asking ("did you mean").
    pub preferred: bool,
}

/// Editor queries over one policy in a database.
pub struct Analysis<'db> {
    pub db: &'db dyn salsa::Database,
    pub policy: PolicyInput,
}

impl<'db> Analysis<'db> {
    pub fn new(db: &'db dyn salsa::Database, policy: PolicyInput) -> Analysis<'db> {
        Analysis { db, policy }
    }

    fn files(&self) -> &'db [PolicyFile] {
        self.policy.files(self.db)
    }

    pub fn text(&self, file: usize) -> &'db str {
        self.files().get(file).map_or("", |f| f.text(self.db).as_str())
    }

    pub fn ast(&self, file: usize) -> Option<&'db SourceFile> {
        self.files().get(file).map(|f| parse(self.db, *f))
    }

    fn index(&self, file: usize) -> &'db [Occurrence] {
        self.files().get(file).map_or(&[], |f| file_index(self.db, *f).as_slice())
    }

    /// Every declaration in the policy, in source order, with its file.
    pub fn items(&self) -> impl Iterator<Item = (usize, &'db Item)> + 'db {
        let db = self.db;
        self.files()
            .iter()
            .enumerate()
            .flat_map(move |(i, f)| parse(db, *f).items.iter().map(move |item| (i, item)))
    }

    /// The name at `offset` (touching it from either side).
    pub fn occurrence_at(&self, file: usize, offset: usize) -> Option<&'db Occurrence> {
        let index = self.index(file);
        let inside = index
            .iter()
            .find(|o| (o.span.start as usize) <= offset && offset < o.span.end as usize);
        inside.or_else(|| index.iter().find(|o| o.span.end as usize == offset))
    }

    /// Every occurrence of the symbol `occ` names, across the policy's files.
    fn all_of(&self, occ: &Occurrence) -> Vec<(usize, &'db Occurrence)> {
        (0..self.files().len())
            .flat_map(|f| self.index(f).iter().map(move |o| (f, o)))
            .filter(|(_, o)| o.same_symbol(occ))
            .collect()
    }

    /// Where the name at `offset` is declared.
    pub fn definition(&self, file: usize, offset: usize) -> Option<Location> {
        let occ = self.occurrence_at(file, offset)?;
        let defs = self.all_of(occ);
        let (f, o) = defs.iter().find(|(_, o)| o.is_definition && o.kind != SymbolKind::Tag)?;
        Some(Location { file: *f, span: o.span })
    }

    /// Every place the symbol at `offset` is named, across files.
    pub fn references(
        &self,
        file: usize,
        offset: usize,
        include_declaration: bool,
    ) -> Vec<Location> {
        let Some(occ) = self.occurrence_at(file, offset) else { return Vec::new() };
        self.all_of(occ)
            .into_iter()
            .filter(|(_, o)| include_declaration || !o.is_definition)
            .map(|(f, o)| Location { file: f, span: o.span })
            .collect()
    }

    /// The places in `file` that name the symbol at `offset`; `true` marks declarations.
    pub fn highlights(&self, file: usize, offset: usize) -> Vec<(Span, bool)> {
        let Some(occ) = self.occurrence_at(file, offset) else { return Vec::new() };
        self.index(file)
            .iter()
            .filter(|o| o.same_symbol(occ))
            .map(|o| (o.span, o.is_definition))
            .collect()
    }

    /// The span of a renamable name at `offset`, or why it cannot be renamed.
    pub fn prepare_rename(&self, file: usize, offset: usize) -> Result<(Span, &'db str), String> {
        let occ = self.occurrence_at(file, offset).ok_or("there is no name here to rename")?;
        if !occ.kind.is_global() {
            return Err(format!("{} cannot be renamed", occ.kind.a()));
        }
        if self.definition(file, offset).is_none() {
            return Err(format!("`{}` is not declared, so it cannot be renamed", occ.name));
        }
        Ok((occ.span, occ.name.as_str()))
    }

    /// The edits that rename the symbol at `offset` to `new_name`, or why not.
    pub fn rename(&self, file: usize, offset: usize, new_name: &str) -> Result<Vec<Edit>, String> {
        let (_, old) = self.prepare_rename(file, offset)?;
        let occ = self.occurrence_at(file, offset).ok_or("there is no name here to rename")?;
        if new_name == old {
            return Ok(Vec::new());
        }
        let valid = if occ.kind == SymbolKind::Declared(Namespace::Tool) {
            let mut words = new_name.split('.');
            words.next().is_some_and(is_identifier) && words.all(is_word)
        } else {
            is_identifier(new_name)
        };
        if writ_grammar::is_keyword(new_name) {
            return Err(format!(
                "`{new_name}` is a reserved word and cannot name {}",
                occ.kind.a()
            ));
        }
        if !valid {
            return Err(format!("`{new_name}` cannot name {}", occ.kind.a()));
        }
        if let Some((kind, _)) = self.declared(new_name) {
            return Err(format!("`{new_name}` is already declared as {}", kind.a()));
        }
        Ok(self
            .references(file, offset, true)
            .into_iter()
            .map(|location| Edit { location, text: new_name.to_string() })
            .collect())
    }

    /// The declaration of a name in the shared namespace.
    pub fn declared(&self, name: &str) -> Option<(SymbolKind, Location)> {
        (0..self.files().len()).find_map(|f| {
            self.index(f)
                .iter()
                .find(|o| o.is_definition && o.kind.is_global() && o.name == name)
                .map(|o| (o.kind, Location { file: f, span: o.span }))
        })
    }

    /// Names of every declaration of a kind, in source order.
    pub fn names(&self, kind: SymbolKind) -> Vec<&'db str> {
        let mut out: Vec<&str> = Vec::new();
        for f in 0..self.files().len() {
            for o in self.index(f) {
                if o.is_definition && o.kind == kind && !out.contains(&o.name.as_str()) {
                    out.push(&o.name);
                }
            }
        }
        out
    }

    /// The file's text in the canonical layout; `None` when it has syntax errors.
    pub fn format(&self, file: usize) -> Option<String> {
        writ_grammar::format(self.text(file))
    }

    /// Fixes for the diagnostics of `file` that overlap `span`.
    pub fn fixes(&self, file: usize, span: Span) -> Vec<Fix> {
        let compilation = compile(self.db, self.policy);
        let mut out = Vec::new();
        for d in &compilation.diagnostics {
            let at = d.location.span;
            if d.location.file != file || at.end < span.start || at.start > span.end {
                continue;
            }
            let name = backticked(&d.message);
            if let Some(r) = &d.replacement {
                out.push(Fix {
                    title: format!("change to `{}`", r.text),
                    edits: vec![Edit { location: r.location, text: r.text.clone() }],
                    preferred: true,
                });
            }
            let declare = match d.code {
                Code::UnknownRole => name.map(|n| format!("role {n}")),
                Code::UnknownTool => name.map(|n| format!("tool {n}")),
                Code::UnknownEvidence => name.map(|n| format!("evidence {n}")),
                _ => None,
            };
            if let Some(decl) = declare {
                let text = self.text(file);
                let prefix = if text.is_empty() || text.ends_with('\n') { "" } else { "\n" };
                out.push(Fix {
                    title: format!("declare `{decl}`"),
                    edits: vec![Edit {
                        location: Location { file, span: Span::new(text.len(), text.len()) },
                        text: format!("{prefix}{decl}\n"),
                    }],
                    preferred: false,
                });
            }
            if d.code == Code::UnusedDeclaration
                && let Some(item_span) = self.item_at(file, at.start as usize).map(|i| i.span())
            {
                let text = self.text(file);
                let span = whole_lines(text, self.with_doc(file, item_span));
                out.push(Fix {
                    title: format!(
                        "remove the unused declaration{}",
                        name.map_or(String::new(), |n| format!(" `{n}`"))
                    ),
                    edits: vec![Edit { location: Location { file, span }, text: String::new() }],
                    preferred: false,
                });
            }
        }
        out
    }

    /// The top-level item whose span contains `offset`.
    pub fn item_at(&self, file: usize, offset: usize) -> Option<&'db Item> {
        self.ast(file)?
            .items
            .iter()
            .find(|i| i.span().contains(offset) && !matches!(i, Item::Error(_)))
    }

    /// A span widened to include the `///` block above it.
    fn with_doc(&self, file: usize, span: Span) -> Span {
        let doc = self.ast(file).and_then(|ast| {
            ast.items.iter().find(|i| i.span() == span).and_then(|i| match i {
                Item::Role(d) => d.doc.as_ref(),
                Item::Attribute(d) | Item::Context(d) => d.doc.as_ref(),
                Item::Tool(d) => d.doc.as_ref(),
                Item::Evidence(d) => d.doc.as_ref(),
                Item::Workflow(d) => d.doc.as_ref(),
                Item::Rule(d) => d.doc.as_ref(),
                Item::Fixture(d) => d.doc.as_ref(),
                Item::Test(d) => d.doc.as_ref(),
                Item::Assert(d) => d.doc.as_ref(),
                Item::Error(_) => None,
            })
        });
        doc.map_or(span, |d| span.to(d.span))
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !writ_grammar::is_keyword(s)
}

fn is_word(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The first text in backticks.
fn backticked(message: &str) -> Option<&str> {
    let rest = message.split('`').nth(1)?;
    message.contains('`').then_some(rest)
}

/// A span widened to whole lines: from the start of its first line to after its last newline.
fn whole_lines(text: &str, span: Span) -> Span {
    let start = text.get(..span.start as usize).and_then(|t| t.rfind('\n')).map_or(0, |i| i + 1);
    let end = text
        .get(span.end as usize..)
        .and_then(|t| t.find('\n'))
        .map_or(text.len(), |i| span.end as usize + i + 1);
    Span::new(start, end)
}

#[cfg(test)]
mod tests;
