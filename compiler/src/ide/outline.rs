//! The shape of a file: symbols for outlines and workspace search, folding ranges, semantic
//! token classes, and the tests a code lens can run.

use writ_grammar::ast::{Item, RuleKind, Span, WorkflowItem};

use super::lex::{TokenKind, keyword_at, tokens, type_at};
use super::{Analysis, SymbolKind};
use crate::symbols::Namespace;

/// A declaration for an outline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolInfo {
    pub name: String,
    /// `None` for rules (which have no name of their own).
    pub kind: Option<SymbolKind>,
    /// What it is, in a word or two: `role`, `allow`, `deny start`.
    pub detail: String,
    /// The whole declaration.
    pub span: Span,
    /// Its name.
    pub selection: Span,
    pub children: Vec<SymbolInfo>,
}

/// A region an editor can fold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fold {
    pub span: Span,
    pub is_comment: bool,
}

/// How to colour a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenClass {
    Keyword,
    Comment,
    /// `///` documentation.
    Doc,
    String,
    Number,
    Operator,
    Symbol(SymbolKind),
    /// `human`, `service`, `agent`, `pending`, types (`string`, ..., `command`, `path`) where a
    /// type is written.
    Builtin,
}

fn rule_detail(kind: &RuleKind) -> &'static str {
    match kind {
        RuleKind::Start { .. } => "start",
        RuleKind::Allow { .. } => "allow",
        RuleKind::Deny { .. } => "deny",
        RuleKind::DenyStart { .. } => "deny start",
        RuleKind::RequireFor { .. } => "require",
    }
}

impl Analysis<'_> {
    fn rule_symbol(&self, file: usize, r: &writ_grammar::ast::Rule) -> SymbolInfo {
        let text = self.text(file).get(r.span.range()).unwrap_or("");
        let name: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let name = if name.chars().count() > 60 {
            format!("{}…", name.chars().take(59).collect::<String>())
        } else {
            name
        };
        SymbolInfo {
            name,
            kind: None,
            detail: rule_detail(&r.kind).to_string(),
            span: r.span,
            selection: r.span,
            children: Vec::new(),
        }
    }

    /// The declarations of a file, with workflow rules, role entitlements and tests nested.
    pub fn document_symbols(&self, file: usize) -> Vec<SymbolInfo> {
        let Some(ast) = self.ast(file) else { return Vec::new() };
        let mut out = Vec::new();
        for item in &ast.items {
            let sym = |name: &str, kind: Option<SymbolKind>, detail: &str, sel: Span| SymbolInfo {
                name: name.to_string(),
                kind,
                detail: detail.to_string(),
                span: item.span(),
                selection: sel,
                children: Vec::new(),
            };
            let s = match item {
                Item::Role(r) => {
                    let mut s = sym(
                        &r.name.name,
                        Some(SymbolKind::Declared(Namespace::Role)),
                        "role",
                        r.name.span,
                    );
                    for e in r.body.iter().flatten() {
                        let text = self.text(file).get(e.span.range()).unwrap_or("");
                        s.children.push(SymbolInfo {
                            name: text.split_whitespace().collect::<Vec<_>>().join(" "),
                            kind: None,
                            detail: "may".into(),
                            span: e.span,
                            selection: e.span,
                            children: Vec::new(),
                        });
                    }
                    s
                }
                Item::Attribute(d) => sym(
                    &d.name.name,
                    Some(SymbolKind::Declared(Namespace::Attribute)),
                    "attribute",
                    d.name.span,
                ),
                Item::Context(d) => sym(
                    &d.name.name,
                    Some(SymbolKind::Declared(Namespace::Context)),
                    "context",
                    d.name.span,
                ),
                Item::Tool(t) => sym(
                    &t.name.text,
                    Some(SymbolKind::Declared(Namespace::Tool)),
                    "tool",
                    t.name.span,
                ),
                Item::Evidence(e) => sym(
                    &e.name.name,
                    Some(SymbolKind::Declared(Namespace::Evidence)),
                    "evidence",
                    e.name.span,
                ),
                Item::Workflow(w) => {
                    let mut s = sym(
                        &w.name.name,
                        Some(SymbolKind::Declared(Namespace::Workflow)),
                        "workflow",
                        w.name.span,
                    );
                    for i in &w.body {
                        if let WorkflowItem::Rule(r) = i {
                            s.children.push(self.rule_symbol(file, r));
                        }
                    }
                    s
                }
                Item::Rule(r) => self.rule_symbol(file, r),
                Item::Fixture(f) => sym(
                    &f.name.name,
                    Some(SymbolKind::Declared(Namespace::Fixture)),
                    "fixture",
                    f.name.span,
                ),
                Item::Test(t) => sym(&t.name.value, Some(SymbolKind::Test), "test", t.name.span),
                Item::Assert(a) => {
                    sym(&a.name.value, Some(SymbolKind::Test), "assert", a.name.span)
                }
                Item::Error(_) => continue,
            };
            out.push(s);
        }
        out
    }

    /// Declarations in every file whose name contains `query` (case-insensitive), with files.
    pub fn workspace_symbols(&self, query: &str) -> Vec<(usize, SymbolInfo)> {
        let query = query.to_lowercase();
        let mut out = Vec::new();
        for file in 0..self.policy.files(self.db).len() {
            for s in self.document_symbols(file) {
                if s.kind.is_some() && s.name.to_lowercase().contains(&query) {
                    out.push((file, SymbolInfo { children: Vec::new(), ..s }));
                }
            }
        }
        out
    }

    /// Multi-line declarations and blocks of comment lines.
    pub fn folds(&self, file: usize) -> Vec<Fold> {
        let text = self.text(file);
        let multiline = |s: Span| text.get(s.range()).is_some_and(|t| t.contains('\n'));
        let mut out = Vec::new();
        if let Some(ast) = self.ast(file) {
            for item in &ast.items {
                if multiline(item.span()) && !matches!(item, Item::Error(_)) {
                    out.push(Fold { span: item.span(), is_comment: false });
                }
                if let Item::Workflow(w) = item {
                    for i in &w.body {
                        if let WorkflowItem::Rule(r) = i
                            && multiline(r.span)
                        {
                            out.push(Fold { span: r.span, is_comment: false });
                        }
                    }
                }
            }
            // Runs of two or more comment lines.
            let mut run: Option<(Span, usize)> = None;
            for c in &ast.comments {
                run = match run {
                    Some((s, n))
                        if text.get(s.end as usize..c.span.start as usize).is_some_and(|g| {
                            g.trim().is_empty() && g.matches('\n').count() == 1
                        }) =>
                    {
                        Some((s.to(c.span), n + 1))
                    }
                    Some((s, n)) => {
                        if n > 1 {
                            out.push(Fold { span: s, is_comment: true });
                        }
                        Some((c.span, 1))
                    }
                    None => Some((c.span, 1)),
                };
            }
            if let Some((s, n)) = run
                && n > 1
            {
                out.push(Fold { span: s, is_comment: true });
            }
        }
        out.sort_by_key(|f| (f.span.start, f.span.end));
        out
    }

    /// Every token of a file with its class, in order, non-overlapping.
    pub fn semantic_tokens(&self, file: usize) -> Vec<(Span, TokenClass, bool)> {
        let text = self.text(file);
        let index = self.index(file);
        let mut out = Vec::new();
        let toks = tokens(text);
        for (i, t) in toks.iter().copied().enumerate() {
            let class = match t.kind {
                TokenKind::Comment => TokenClass::Comment,
                TokenKind::DocComment => TokenClass::Doc,
                TokenKind::Str => TokenClass::String,
                TokenKind::Number => TokenClass::Number,
                // `...` in a command pattern, coloured like the editors' grammar does
                // (`keyword.operator.rest`).
                TokenKind::Operator | TokenKind::Rest => TokenClass::Operator,
                TokenKind::Punct => continue,
                TokenKind::Word => {
                    let word = t.text(text);
                    // Names first: a dotted tool name may contain keywords (`deploy.start`).
                    if let Some(o) = index.iter().find(|o| o.span == t.span) {
                        out.push((t.span, TokenClass::Symbol(o.kind), o.is_definition));
                        continue;
                    }
                    // `initiator.team`: the principal, then the attribute.
                    if let Some((head, _)) = word.split_once('.')
                        && writ_grammar::is_keyword(head)
                    {
                        let head_span =
                            Span::new(t.span.start as usize, t.span.start as usize + head.len());
                        out.push((head_span, TokenClass::Keyword, false));
                        if let Some(o) = index
                            .iter()
                            .find(|o| o.span.start > t.span.start && o.span.end <= t.span.end)
                        {
                            out.push((o.span, TokenClass::Symbol(o.kind), o.is_definition));
                        }
                        continue;
                    }
                    // Reserved words, and `within`/`at`/`after`/`ago` where they are clauses.
                    if keyword_at(text, &toks, i) {
                        TokenClass::Keyword
                    } else if matches!(word, "human" | "service" | "agent" | "pending")
                        || type_at(text, &toks, i)
                    {
                        TokenClass::Builtin
                    } else if let Some(o) = index
                        .iter()
                        .find(|o| o.span.start >= t.span.start && o.span.end <= t.span.end)
                    {
                        out.push((o.span, TokenClass::Symbol(o.kind), o.is_definition));
                        continue;
                    } else {
                        continue;
                    }
                }
            };
            out.push((t.span, class, false));
        }
        out
    }

    /// The tests of a file: their names and where their names are.
    pub fn tests_in(&self, file: usize) -> Vec<(String, Span)> {
        let Some(ast) = self.ast(file) else { return Vec::new() };
        ast.items
            .iter()
            .filter_map(|i| match i {
                Item::Test(t) => Some((t.name.value.clone(), t.name.span)),
                _ => None,
            })
            .collect()
    }

    /// The assertions of a file: name and the span of the name (for "verify" code lenses).
    pub fn asserts_in(&self, file: usize) -> Vec<(String, Span)> {
        let Some(ast) = self.ast(file) else { return Vec::new() };
        ast.items
            .iter()
            .filter_map(|i| match i {
                Item::Assert(a) => Some((a.name.value.clone(), a.name.span)),
                _ => None,
            })
            .collect()
    }
}
