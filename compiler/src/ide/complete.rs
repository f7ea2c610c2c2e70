//! Completion that knows where it is, from the tokens before the cursor (so that it works on
//! half-typed text): keywords where a declaration or rule starts, roles after `by`/`extends`/
//! `has role`, targets after `allow`/`deny`/`may`/`for`, evidence after `require`/`with`, fields
//! and arguments inside their parentheses, condition operands, principal and context members,
//! and the values an enumeration can take after `==`/`in`.

use writ_grammar::ast::{Item, Span, ToolDecl, TypeKind};

use super::Analysis;
use super::hover::{target_covers, tool_signature, type_text};
use super::lex::{Token, TokenKind, tokens};
use crate::symbols::Namespace;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompletionKind {
    Keyword,
    Role,
    Tool,
    Glob,
    Tag,
    Evidence,
    Field,
    Argument,
    Attribute,
    Context,
    Workflow,
    Fixture,
    /// A literal value (an enumeration's string, a principal kind, an outcome).
    Value,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    pub detail: Option<String>,
    /// The text to insert when it differs from the label.
    pub insert: Option<String>,
}

/// Completions and the span of text they replace (the partly typed word).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Completions {
    pub replace: Span,
    pub items: Vec<Completion>,
}

const TOP_KEYWORDS: &[&str] = &[
    "role",
    "attribute",
    "context",
    "tool",
    "evidence",
    "workflow",
    "deny",
    "require",
    "fixture",
    "test",
    "assert",
];
const WORKFLOW_KEYWORDS: &[&str] = &["start", "allow", "deny", "require", "max_depth", "ttl"];
const CLAUSE_KEYWORDS: &[&str] = &["when", "unless", "require", "because", "for"];
/// A claim's clauses (`never allow x when ... unless ...`).
const CLAIM_CLAUSES: &[&str] = &["when", "unless"];
/// Type names where a declaration's type is written; `command` and `path` for tools only.
const VALUE_TYPES: &[&str] = &["string", "int", "bool", "duration", "[string]"];
const TOOL_TYPES: &[&str] = &["command", "path"];

fn item(label: &str, kind: CompletionKind, detail: Option<String>) -> Completion {
    Completion { label: label.to_string(), kind, detail, insert: None }
}

fn keywords(words: &[&str]) -> Vec<Completion> {
    words.iter().map(|w| item(w, CompletionKind::Keyword, None)).collect()
}

/// The block the cursor is in, from the braces before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    Top,
    Role,
    Workflow,
    Test,
    Fixture,
    /// `context { ... }` inside a test request.
    TestContext,
    /// `assert "name" { ... }`: claims.
    Assert,
}

struct Before<'t> {
    text: &'t str,
    toks: Vec<Token>,
}

impl<'t> Before<'t> {
    fn word(&self, i: usize) -> Option<&'t str> {
        let t = *self.toks.get(i)?;
        (t.kind == TokenKind::Word).then(|| t.text(self.text))
    }
    fn text_of(&self, i: usize) -> &'t str {
        self.toks.get(i).map_or("", |t| t.text(self.text))
    }
    /// Token `n` back from the cursor (0 is the last one).
    fn back(&self, n: usize) -> Option<usize> {
        self.toks.len().checked_sub(n + 1)
    }
    fn back_text(&self, n: usize) -> &'t str {
        self.back(n).map_or("", |i| self.text_of(i))
    }

    fn block(&self) -> Block {
        let mut stack: Vec<Block> = Vec::new();
        for (i, t) in self.toks.iter().enumerate() {
            match t.text(self.text) {
                "{" => {
                    let opener = self
                        .toks
                        .iter()
                        .take(i)
                        .rev()
                        .take(64)
                        .filter(|t| t.kind == TokenKind::Word)
                        .map(|t| t.text(self.text))
                        .find(|w| {
                            matches!(
                                *w,
                                "role" | "workflow" | "test" | "fixture" | "context" | "assert"
                            )
                        });
                    stack.push(match opener {
                        Some("role") => Block::Role,
                        Some("workflow") => Block::Workflow,
                        Some("test") => Block::Test,
                        Some("fixture") => Block::Fixture,
                        Some("assert") => Block::Assert,
                        Some("context") if stack.last() == Some(&Block::Test) => Block::TestContext,
                        _ => Block::Top,
                    });
                }
                "}" => {
                    stack.pop();
                }
                _ => {}
            }
        }
        stack.last().copied().unwrap_or(Block::Top)
    }

    /// For a comma-separated list ending at the cursor, the token before the list: the `by`
    /// of `by a, b, `. Skips items of one or more tokens (`2 approval by x`, `name: "v"`).
    fn list_head(&self) -> Option<usize> {
        let mut i = self.back(0)?;
        if self.text_of(i) != "," {
            return None;
        }
        // Walk back over `item ,` pairs until a keyword that starts a list.
        loop {
            i = i.checked_sub(1)?;
            let t = self.text_of(i);
            if matches!(t, "by" | "extends" | "require" | "with" | "[" | "(") {
                return Some(i);
            }
            if matches!(t, "{" | "}") || (self.word(i).is_some() && is_statement_keyword(t)) {
                return None;
            }
        }
    }

    /// The innermost `open` bracket still open at the cursor (within the current braces), and
    /// the text of the token before it: `("(", "calls")` inside `calls(`.
    fn open_bracket(&self, open: &str, close: &str) -> Option<(usize, &'t str)> {
        let mut depth = 0usize;
        for j in (0..self.toks.len()).rev() {
            let t = self.text_of(j);
            if t == close {
                depth += 1;
            } else if t == open {
                if depth == 0 {
                    return Some((j, j.checked_sub(1).map_or("", |p| self.text_of(p))));
                }
                depth -= 1;
            } else if matches!(t, "{" | "}") {
                return None;
            }
        }
        None
    }

    /// Whether token `i` is a number (an integer or a duration).
    fn is_number(&self, i: Option<usize>) -> bool {
        i.and_then(|i| self.toks.get(i)).is_some_and(|t| t.kind == TokenKind::Number)
    }

    fn starts_line(&self, i: usize) -> bool {
        let Some(prev) = i.checked_sub(1).and_then(|p| self.toks.get(p)) else { return true };
        let Some(this) = self.toks.get(i) else { return true };
        matches!(prev.text(self.text), "{" | "}")
            || self
                .text
                .get(prev.span.end as usize..this.span.start as usize)
                .is_some_and(|g| g.contains('\n'))
    }

    /// The index of the token that starts the current statement (a rule, entitlement or
    /// declaration keyword), looking back from the cursor.
    fn statement_start(&self) -> Option<usize> {
        let mut i = self.toks.len();
        while i > 0 {
            i -= 1;
            let t = self.text_of(i);
            if matches!(t, "{" | "}") {
                return None;
            }
            if self.word(i).is_some() && is_statement_keyword(t) {
                // `deny start`, `require x for`: the first keyword of the statement.
                if t == "start" && i > 0 && self.text_of(i - 1) == "deny" {
                    return Some(i - 1);
                }
                // `require` inside a start or allow is a clause; it starts a rule only at the
                // start of a line (or after a brace).
                if t == "require" && !self.starts_line(i) {
                    continue;
                }
                return Some(i);
            }
        }
        None
    }
}

fn is_statement_keyword(w: &str) -> bool {
    matches!(
        w,
        "role"
            | "attribute"
            | "context"
            | "tool"
            | "evidence"
            | "workflow"
            | "start"
            | "allow"
            | "deny"
            | "require"
            | "may"
            | "max_depth"
            | "ttl"
            | "fixture"
            | "test"
            | "expect"
            | "assert"
    )
}

impl Analysis<'_> {
    fn evidence_decls(&self) -> Vec<&writ_grammar::ast::EvidenceDecl> {
        self.items()
            .filter_map(|(_, i)| match i {
                Item::Evidence(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn tool_decls(&self) -> Vec<&ToolDecl> {
        self.items()
            .filter_map(|(_, i)| match i {
                Item::Tool(t) => Some(t),
                _ => None,
            })
            .collect()
    }

    fn value_type(&self, attribute: bool, name: &str) -> Option<&TypeKind> {
        self.items().find_map(|(_, i)| match i {
            Item::Attribute(d) if attribute && d.name.name == name => Some(&d.ty.kind),
            Item::Context(d) if !attribute && d.name.name == name => Some(&d.ty.kind),
            _ => None,
        })
    }

    fn roles(&self) -> Vec<Completion> {
        self.names(super::SymbolKind::Declared(Namespace::Role))
            .into_iter()
            .map(|r| item(r, CompletionKind::Role, Some("role".into())))
            .collect()
    }

    fn fixtures(&self) -> Vec<Completion> {
        self.names(super::SymbolKind::Declared(Namespace::Fixture))
            .into_iter()
            .map(|r| item(r, CompletionKind::Fixture, Some("fixture".into())))
            .collect()
    }

    fn workflows(&self) -> Vec<Completion> {
        self.names(super::SymbolKind::Declared(Namespace::Workflow))
            .into_iter()
            .map(|r| item(r, CompletionKind::Workflow, Some("workflow".into())))
            .collect()
    }

    fn evidence(&self) -> Vec<Completion> {
        self.evidence_decls()
            .into_iter()
            .map(|e| {
                let mut detail = format!("evidence {}", e.name.name);
                if e.by_human.is_some() {
                    detail.push_str(" by human");
                }
                let detail = Some(detail);
                item(&e.name.name, CompletionKind::Evidence, detail)
            })
            .collect()
    }

    fn targets(&self, deny: bool) -> Vec<Completion> {
        let tools = self.tool_decls();
        let mut out: Vec<Completion> = tools
            .iter()
            .map(|t| item(&t.name.text, CompletionKind::Tool, Some(tool_signature(t))))
            .collect();
        let mut globs: Vec<String> = Vec::new();
        for t in &tools {
            let parts: Vec<&str> = t.name.text.split('.').collect();
            for n in 1..parts.len() {
                let prefix: Vec<&str> = parts.iter().take(n).copied().collect();
                let g = format!("{}.*", prefix.join("."));
                if !globs.contains(&g) {
                    globs.push(g);
                }
            }
        }
        out.extend(
            globs
                .iter()
                .map(|g| item(g, CompletionKind::Glob, Some("glob over tool names".into()))),
        );
        let mut tags: Vec<&str> = Vec::new();
        for t in &tools {
            for tag in &t.tags {
                if !tags.contains(&tag.name.as_str()) {
                    tags.push(&tag.name);
                }
            }
        }
        out.extend(tags.iter().map(|t| {
            item(&format!("[{t}]"), CompletionKind::Tag, Some("tools with this tag".into()))
        }));
        out.push(item("*", CompletionKind::Glob, Some("every tool".into())));
        if deny {
            out.push(item(
                "start",
                CompletionKind::Keyword,
                Some("deny starting the workflow".into()),
            ));
        }
        out
    }

    fn tags(&self) -> Vec<Completion> {
        let mut out: Vec<Completion> = Vec::new();
        for t in self.tool_decls() {
            for tag in &t.tags {
                if !out.iter().any(|c| c.label == tag.name) {
                    out.push(item(&tag.name, CompletionKind::Tag, Some("tag".into())));
                }
            }
        }
        out
    }

    /// The tools the statement before the cursor targets.
    fn targeted_tools(&self, b: &Before) -> Vec<&ToolDecl> {
        let Some(start) = b.statement_start() else { return Vec::new() };
        let head = b.text_of(start);
        let target_at = match head {
            // `never allow via coding sh.run`: the target follows the workflow.
            "allow" if b.text_of(start + 1) == "via" => Some(start + 3),
            "allow" | "may" => Some(start + 1),
            "deny" if b.text_of(start + 1) != "start" => Some(start + 1),
            "require" => (start..b.toks.len()).find(|i| b.text_of(*i) == "for").map(|i| i + 1),
            _ => None,
        };
        let Some(t) = target_at.filter(|t| *t < b.toks.len()) else { return Vec::new() };
        let kind = if b.text_of(t) == "[" {
            let mut tags = Vec::new();
            let mut i = t + 1;
            while i < b.toks.len() && b.text_of(i) != "]" {
                if let Some(w) = b.word(i) {
                    tags.push(writ_grammar::ast::Ident {
                        name: w.to_string(),
                        span: Span::default(),
                    });
                }
                i += 1;
            }
            writ_grammar::ast::TargetKind::Tags(tags)
        } else {
            let w = b.text_of(t);
            if w == "*" {
                writ_grammar::ast::TargetKind::All
            } else if w.contains(['*', '?']) {
                writ_grammar::ast::TargetKind::Glob(w.to_string())
            } else {
                writ_grammar::ast::TargetKind::Tool(writ_grammar::ast::ToolName {
                    text: w.to_string(),
                    span: Span::default(),
                })
            }
        };
        self.tool_decls().into_iter().filter(|tool| target_covers(&kind, tool)).collect()
    }

    fn condition_starts(&self, b: &Before, block: Block) -> Vec<Completion> {
        let mut out = Vec::new();
        let tools = self.targeted_tools(b);
        let mut seen: Vec<&str> = Vec::new();
        for t in &tools {
            for p in t.params.iter().flatten() {
                // Only arguments every targeted tool has are visible (LANGUAGE.md §4).
                let everywhere = tools
                    .iter()
                    .all(|o| o.params.iter().flatten().any(|q| q.name.name == p.name.name));
                if everywhere && !seen.contains(&p.name.name.as_str()) {
                    seen.push(&p.name.name);
                    out.push(item(
                        &p.name.name,
                        CompletionKind::Argument,
                        Some(format!("{}: {}", p.name.name, type_text(&p.ty.kind))),
                    ));
                }
            }
        }
        for (w, d) in [
            ("initiator", "the identity that set the work going"),
            ("caller", "who makes this request"),
            ("depth", "delegation hops"),
        ] {
            out.push(item(w, CompletionKind::Keyword, Some(d.into())));
        }
        if block == Block::Role {
            out.push(item(
                "principal",
                CompletionKind::Keyword,
                Some("the principal whose entitlement is checked".into()),
            ));
        }
        out.push(Completion {
            label: "context.".into(),
            kind: CompletionKind::Keyword,
            detail: Some("a declared context value".into()),
            insert: Some("context.".into()),
        });
        out.push(Completion {
            label: "calls(".into(),
            kind: CompletionKind::Keyword,
            detail: Some("how many calls of a tool the run's history has".into()),
            insert: Some("calls(".into()),
        });
        if block == Block::Assert {
            out.push(Completion {
                label: "given(".into(),
                kind: CompletionKind::Keyword,
                detail: Some("how many givers of an evidence requirement".into()),
                insert: Some("given(".into()),
            });
        }
        out.extend(keywords(&["not", "any", "all", "true", "false"]));
        out
    }

    /// The operators a `command` or `path` argument takes, after `ARG `.
    fn operators_after(&self, b: &Before, arg: &str) -> Option<Vec<Completion>> {
        let ty = self.targeted_tools(b).into_iter().find_map(|t| {
            t.params.iter().flatten().find(|p| p.name.name == arg).map(|p| &p.ty.kind)
        })?;
        let op =
            |label: &str, detail: &str| item(label, CompletionKind::Keyword, Some(detail.into()));
        match ty {
            TypeKind::Command => Some(vec![
                op("runs", "some simple command matches the pattern (for denies)"),
                op("runs only", "every simple command matches one of the patterns (for allows)"),
            ]),
            TypeKind::Path => Some(vec![op("under", "the resolved path is in this directory")]),
            _ => None,
        }
    }

    /// Inside `calls(`: a target, then `within`.
    fn in_calls(&self, b: &Before, open: usize) -> Vec<Completion> {
        let p1 = b.back_text(0);
        let tags_open = b.open_bracket("[", "]").is_some_and(|(i, _)| i > open);
        if tags_open {
            self.tags()
        } else if p1 == "(" {
            self.targets(false)
        } else if p1 == "within" || p1 == "," {
            Vec::new()
        } else if b.toks.len().checked_sub(open + 1) == Some(1) || p1 == "]" {
            // One target written: `calls(deploy ` or `calls([secret] `.
            vec![item("within", CompletionKind::Keyword, Some("count only recent calls".into()))]
        } else {
            Vec::new()
        }
    }

    /// The run clauses and the other clauses a test request may still take, in their order:
    /// those after the last one written.
    fn request_clauses(&self, b: &Before) -> Vec<Completion> {
        const ORDER: &[&str] = &["with", "context", "in", "at", "after"];
        // The `expect` of this request (its outcome, `allow` or `deny`, is a statement keyword).
        let Some(start) = (0..b.toks.len())
            .rev()
            .take_while(|i| !matches!(b.text_of(*i), "{" | "}"))
            .find(|i| b.text_of(*i) == "expect")
        else {
            return Vec::new();
        };
        let written = (start..b.toks.len()).map(|i| b.text_of(i));
        if !written.clone().any(|w| matches!(w, "calls" | "starts")) {
            return Vec::new();
        }
        let last = written.filter_map(|w| ORDER.iter().position(|c| *c == w)).max();
        let from = last.map_or(0, |l| l + 1);
        ORDER.get(from..).map_or_else(Vec::new, keywords)
    }

    fn members(&self, principal: bool) -> Vec<Completion> {
        let mut out = Vec::new();
        if principal {
            out.push(item("id", CompletionKind::Attribute, Some("id: string".into())));
            out.push(item(
                "kind",
                CompletionKind::Attribute,
                Some("kind: human | service | agent".into()),
            ));
            for (_, i) in self.items() {
                if let Item::Attribute(d) = i {
                    out.push(item(
                        &d.name.name,
                        CompletionKind::Attribute,
                        Some(format!("{}: {}", d.name.name, type_text(&d.ty.kind))),
                    ));
                }
            }
        } else {
            for (_, i) in self.items() {
                if let Item::Context(d) = i {
                    out.push(item(
                        &d.name.name,
                        CompletionKind::Context,
                        Some(format!("{}: {}", d.name.name, type_text(&d.ty.kind))),
                    ));
                }
            }
        }
        out
    }

    /// The enumeration values (or principal kinds) a left-hand side can be compared with.
    fn values_for(&self, b: &Before, lhs: &str, quoted: bool) -> Vec<Completion> {
        let kinds = || {
            ["human", "service", "agent"]
                .iter()
                .map(|k| item(k, CompletionKind::Value, Some("principal kind".into())))
                .collect()
        };
        let ty: Option<&TypeKind> = if let Some((who, field)) = lhs.split_once('.') {
            match who {
                "initiator" | "caller" | "principal" if field == "kind" => return kinds(),
                "initiator" | "caller" | "principal" => self.value_type(true, field),
                "context" => self.value_type(false, field),
                _ => None,
            }
        } else {
            self.targeted_tools(b).into_iter().find_map(|t| {
                t.params.iter().flatten().find(|p| p.name.name == lhs).map(|p| &p.ty.kind)
            })
        };
        match ty {
            Some(TypeKind::Enum(values)) => values
                .iter()
                .map(|v| {
                    let q = writ_grammar::quote(&v.value);
                    Completion {
                        label: q.clone(),
                        kind: CompletionKind::Value,
                        detail: Some(format!("value of `{lhs}`")),
                        insert: Some(if quoted { v.value.clone() } else { q }),
                    }
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// What may be typed at `offset` in `file`.
    pub fn completions(&self, file: usize, offset: usize) -> Completions {
        let text = self.text(file);
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let all: Vec<Token> = tokens(text)
            .into_iter()
            .filter(|t| !matches!(t.kind, TokenKind::Comment | TokenKind::DocComment))
            .collect();
        // A comment at the cursor: nothing to complete.
        if tokens(text).iter().any(|t| {
            matches!(t.kind, TokenKind::Comment | TokenKind::DocComment)
                && (t.span.start as usize) < offset
                && offset <= t.span.end as usize
        }) {
            return Completions { replace: Span::new(offset, offset), items: Vec::new() };
        }
        let current = all.iter().find(|t| {
            (t.span.start as usize) < offset
                && offset <= t.span.end as usize
                && matches!(t.kind, TokenKind::Word | TokenKind::Str)
        });
        let (prefix_start, in_string) = match current {
            Some(t) if t.kind == TokenKind::Str => (t.span.start as usize + 1, true),
            Some(t) => (t.span.start as usize, false),
            None => (offset, false),
        };
        let prefix = &text[prefix_start..offset];
        let before = Before {
            text,
            toks: all
                .into_iter()
                .filter(|t| {
                    (t.span.end as usize) <= prefix_start.saturating_sub(in_string as usize)
                })
                .collect(),
        };
        let replace = Span::new(prefix_start, offset);
        let block = before.block();

        // Members: `initiator.`, `context.`.
        if let Some(dot) = prefix.rfind('.') {
            let head = &prefix[..dot];
            let replace = Span::new(prefix_start + dot + 1, offset);
            let items = match head {
                "initiator" | "caller" | "principal" => self.members(true),
                "context" => self.members(false),
                _ => {
                    // A dotted tool name being typed after a target keyword.
                    return self.complete_at(
                        &before,
                        block,
                        Span::new(prefix_start, offset),
                        false,
                    );
                }
            };
            return Completions { replace, items };
        }
        self.complete_at(&before, block, replace, in_string)
    }

    fn complete_at(&self, b: &Before, block: Block, replace: Span, in_string: bool) -> Completions {
        let p1 = b.back_text(0);
        let p2 = b.back_text(1);
        let head =
            b.list_head().map(|i| (b.text_of(i), i.checked_sub(1).map_or("", |j| b.text_of(j))));
        let statement = b.statement_start().map(|i| b.text_of(i));
        let items: Vec<Completion> = if in_string {
            // Inside quotes after `==`/`!=`/`in [`: enumeration values without quotes.
            match (p1, p2) {
                ("==" | "!=", lhs) => self.values_for(b, lhs, true),
                ("[" | ",", _) => {
                    let lhs = (0..b.toks.len())
                        .rev()
                        .find(|i| b.text_of(*i) == "in")
                        .and_then(|i| i.checked_sub(1))
                        .map_or("", |i| b.text_of(i));
                    self.values_for(b, lhs, true)
                }
                _ => Vec::new(),
            }
        } else if p1 == "by" || matches!(head, Some(("by", _))) {
            match (block, statement) {
                (Block::Test, _) => self.fixtures(),
                (_, Some("evidence")) => vec![item(
                    "human",
                    CompletionKind::Value,
                    Some("each item carries its giver".into()),
                )],
                _ => self.roles(),
            }
        } else if p1 == "extends"
            || matches!(head, Some(("extends", _)))
            || (p1 == "role" && p2 == "has")
            // The roles of a fixture: `fixture f = human [`.
            || (block != Block::Test
                && statement == Some("fixture")
                && (p1 == "[" || matches!(head, Some(("[", _)))))
        {
            self.roles()
        } else if let Some((open, _)) = b.open_bracket("(", ")").filter(|(_, h)| *h == "calls") {
            self.in_calls(b, open)
        } else if b.open_bracket("(", ")").is_some_and(|(_, h)| h == "given")
            && (p1 == "(" || b.is_number(b.back(0)))
        {
            self.evidence()
        } else if block == Block::Test
            && b.open_bracket("[", "]").is_some_and(|(_, h)| h == "after")
        {
            // `after [deploy 2h ago, secrets.read at "...", ...]`
            if matches!(p1, "[" | ",") {
                self.tool_decls()
                    .iter()
                    .map(|t| item(&t.name.text, CompletionKind::Tool, Some(tool_signature(t))))
                    .collect()
            } else if b.is_number(b.back(0)) {
                keywords(&["ago"])
            } else if b.back(0).and_then(|i| b.word(i)).is_some() && matches!(p2, "[" | ",") {
                keywords(&["at"])
            } else {
                Vec::new()
            }
        } else if block == Block::Assert && p1 == "never" {
            keywords(&["allow", "start"])
        } else if block == Block::Assert && p1 == "start" && p2 == "never" {
            self.workflows()
        } else if block == Block::Assert && (p1 == "allow" || p2 == "via") {
            // `never allow ` and `never allow via coding `: a target, or a workflow first.
            let mut out = self.targets(false);
            if p1 == "allow" {
                out.insert(
                    0,
                    item("via", CompletionKind::Keyword, Some("through one workflow".into())),
                );
            }
            out
        } else if matches!(p1, "allow" | "may" | "for") || (p1 == "deny" && block != Block::Test) {
            self.targets(p1 == "deny")
        } else if (p1 == "[" && matches!(p2, "allow" | "may" | "for" | "deny"))
            || matches!(head, Some(("[", "allow" | "may" | "for" | "deny")))
        {
            self.tags()
        } else if matches!(p1, "require" | "with")
            || matches!(head, Some(("require" | "with", _)))
            || (b.back(0).and_then(|i| b.toks.get(i)).is_some_and(|t| t.kind == TokenKind::Number)
                && matches!(p2, "require" | ","))
        {
            if head.is_some()
                && p1 == ","
                && statement == Some("require")
                && b.toks
                    .iter()
                    .rev()
                    .take_while(|t| t.text(b.text) != "require")
                    .any(|t| t.text(b.text) == "for")
            {
                Vec::new()
            } else {
                self.evidence()
            }
        } else if p1 == "(" || matches!(head, Some(("(", _))) {
            let open = match head {
                Some(("(", _)) => b.list_head(),
                _ => b.back(0),
            };
            let owner = open.and_then(|i| i.checked_sub(1)).map_or("", |i| b.text_of(i));
            self.fields_of(owner).unwrap_or_else(|| self.condition_starts(b, block))
        } else if matches!(p1, "==" | "!=") {
            self.values_for(b, p2, false)
        } else if matches!(p2, "when" | "unless" | "and" | "or" | "not" | "(")
            && let Some(ops) = self.operators_after(b, p1)
        {
            ops
        } else if p1 == "runs" {
            keywords(&["only"])
        } else if p1 == "in"
            || (p1 == "[" && p2 == "in")
            || (p1 == "," && matches!(head, Some(("[", "in"))))
        {
            let lhs = (0..b.toks.len())
                .rev()
                .find(|i| b.text_of(*i) == "in")
                .and_then(|i| i.checked_sub(1))
                .map_or("", |i| b.text_of(i));
            self.values_for(b, lhs, false)
        } else if matches!(p1, "when" | "unless" | "and" | "or" | "not") {
            self.condition_starts(b, block)
        } else if p1 == "calls" {
            self.tool_decls()
                .iter()
                .map(|t| item(&t.name.text, CompletionKind::Tool, Some(tool_signature(t))))
                .collect()
        } else if matches!(p1, "via" | "starts") {
            self.workflows()
        } else if p1 == "expect" {
            keywords(&["allow", "deny", "pending"])
                .into_iter()
                .map(|mut c| {
                    c.kind = CompletionKind::Value;
                    c
                })
                .collect()
        } else if p1 == ":"
            && block == Block::Top
            && matches!(statement, Some("tool" | "evidence" | "attribute" | "context"))
        {
            // A declaration's type; `command` and `path` are for tool arguments only.
            let mut out = keywords(VALUE_TYPES);
            if statement == Some("tool") {
                out.extend(keywords(TOOL_TYPES));
            }
            for c in &mut out {
                c.kind = CompletionKind::Value;
                c.detail = Some("type".into());
            }
            out
        } else if block == Block::Test && p1 == ":" {
            self.fixtures()
        } else if p1 == "=" && statement == Some("fixture") {
            ["human", "service", "agent"]
                .iter()
                .map(|k| item(k, CompletionKind::Value, Some("principal kind".into())))
                .collect()
        } else if p1 == "has" {
            keywords(&["role"])
        } else if self.at_statement_start(b, replace) {
            match block {
                Block::Top => keywords(TOP_KEYWORDS),
                Block::Workflow => keywords(WORKFLOW_KEYWORDS),
                Block::Role => keywords(&["may"]),
                // A request may go on on the next line (`with ...`, `after [...]`).
                Block::Test => {
                    let mut out = keywords(&["expect"]);
                    if self.request_done(b) {
                        out.extend(self.request_clauses(b));
                    }
                    out
                }
                Block::Assert => vec![
                    Completion {
                        label: "never allow".into(),
                        kind: CompletionKind::Keyword,
                        detail: Some("no such call is allowed".into()),
                        insert: Some("never allow ".into()),
                    },
                    Completion {
                        label: "never start".into(),
                        kind: CompletionKind::Keyword,
                        detail: Some("no such start is allowed".into()),
                        insert: Some("never start ".into()),
                    },
                ],
                Block::Fixture | Block::TestContext => Vec::new(),
            }
        } else if block == Block::Test && self.request_done(b) {
            self.request_clauses(b)
        } else if block == Block::Assert
            && statement.is_some_and(|s| matches!(s, "allow" | "start"))
        {
            keywords(CLAIM_CLAUSES)
        } else if statement
            .is_some_and(|s| matches!(s, "allow" | "deny" | "may" | "start" | "require"))
        {
            keywords(CLAUSE_KEYWORDS)
        } else {
            Vec::new()
        };
        Completions { replace, items }
    }

    /// Whether the cursor follows a complete part of a test request (its tool or arguments, an
    /// evidence item, a context block, a run clause), where another clause may start.
    fn request_done(&self, b: &Before) -> bool {
        if b.open_bracket("(", ")").is_some() || b.open_bracket("[", "]").is_some() {
            return false;
        }
        let last = b.back(0).and_then(|i| b.toks.get(i));
        let p1 = b.back_text(0);
        let p2 = b.back_text(1);
        matches!(p1, ")" | "]" | "}")
            || last.is_some_and(|t| matches!(t.kind, TokenKind::Str | TokenKind::Number))
            || (b.back(0).and_then(|i| b.word(i)).is_some()
                && !writ_grammar::is_keyword(p1)
                && matches!(p2, "calls" | "starts" | "with" | "by" | ","))
    }

    /// The fields of an evidence kind or the arguments of a tool, as `name: ` items.
    fn fields_of(&self, owner: &str) -> Option<Vec<Completion>> {
        if let Some(e) = self.evidence_decls().into_iter().find(|e| e.name.name == owner) {
            return Some(
                e.fields
                    .iter()
                    .flatten()
                    .map(|p| Completion {
                        label: p.name.name.clone(),
                        kind: CompletionKind::Field,
                        detail: Some(format!("{}: {}", p.name.name, type_text(&p.ty.kind))),
                        insert: Some(format!("{}: ", p.name.name)),
                    })
                    .collect(),
            );
        }
        let t = self.tool_decls().into_iter().find(|t| t.name.text == owner)?;
        Some(
            t.params
                .iter()
                .flatten()
                .map(|p| Completion {
                    label: p.name.name.clone(),
                    kind: CompletionKind::Argument,
                    detail: Some(format!("{}: {}", p.name.name, type_text(&p.ty.kind))),
                    insert: Some(format!("{}: ", p.name.name)),
                })
                .collect(),
        )
    }

    /// The cursor starts a line (only whitespace before the word being typed), or follows a
    /// brace.
    fn at_statement_start(&self, b: &Before, replace: Span) -> bool {
        let Some(last) = b.toks.last() else { return true };
        if matches!(last.text(b.text), "{" | "}") {
            return true;
        }
        let between = b.text.get(last.span.end as usize..replace.start as usize).unwrap_or("");
        between.contains('\n')
    }
}
