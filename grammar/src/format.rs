//! The canonical formatter.
//!
//! Layout: two-space indentation; one declaration, rule, entitlement or expectation per line,
//! with its clauses on that line; single spaces around operators; `[a, b]` lists; strings
//! re-escaped canonically; parentheses as written. A blank line separates declarations with a
//! body (roles with entitlements, workflows, tests) from their neighbours; elsewhere the
//! author's blank lines are kept, several collapsing into one.
//!
//! Long lines: a rule, entitlement, claim or expectation whose code does not fit in [`WIDTH`]
//! columns (counted in characters, indentation included, comments not included) is laid out
//! again, in the first of these ways whose every line fits (the last one otherwise):
//!
//! 1. If it has a `runs only [...]` list of patterns and at most one clause (the usual
//!    `allow TOOL when CMD runs only [...]`): the clause stays on its line, and each `runs only`
//!    list that does not fit after its `[` is broken (see below).
//! 2. It is broken before each of its clauses at once, every clause on a continuation line
//!    indented one more level than the rule: before `when`, `unless`, `require` and `because`
//!    in rules, entitlements and claims (not before the `require` that starts a
//!    `require ... for` rule), before `with`, `context`, `ttl`, `in`, `at` and `after` in
//!    expectations. A `runs only` list that still does not fit after its `[` is broken too.
//!
//! A broken `runs only` list has its patterns on the lines after its `[`, indented one more
//! level than the line of the `[`, packed: as many on a line as fit in the width (a pattern
//! wider than that on a line of its own), each followed by `,` except the last; its `]` starts
//! the line after the last pattern, at the level of the line of the `[`:
//!
//! ```text
//!   allow sh.run when command runs only [
//!     ["git", "status"], ["git", "diff", ...], ["git", "log", ...], ["git", "add", ...],
//!     ["cargo", "test", ...]
//!   ]
//! ```
//!
//! Nothing else is ever broken, so a clause that is too long by itself (a long `runs` pattern,
//! say) stays on one line. Which layout a node gets depends only on its tree and its comments,
//! which are the same for the output as for the input: formatting stays idempotent.
//!
//! Every comment is kept where it was: a comment above a node stays above it (so `///`
//! documentation stays attached), a comment at the end of a line stays at the end of that line.
//! A comment inside a node (between two of its tokens) ends the output line there and the node
//! continues on the next line, indented one more level.
//!
//! The printer emits tokens, each with the source offset it stands for; before a token it
//! prints the comments that come before that offset in the source. Formatting is idempotent and
//! does not change the parsed tree (the tests check both).

use crate::ast::*;
use crate::lexer::{is_first_on_line, newlines_between};
use crate::parse;

/// Formats `source` in the canonical layout, or `None` if it has syntax errors (broken files
/// are never reformatted).
pub fn format(source: &str) -> Option<String> {
    let file = parse(source);
    if !file.errors.is_empty() || has_error_nodes(&file) {
        return None;
    }
    let mut printer = Printer::new(source, &file.comments);
    printer.file(&file);
    Some(printer.finish())
}

/// The widest a line of code may be, in characters, before the node on it is broken before
/// its clauses.
const WIDTH: usize = 100;

fn has_error_nodes(file: &SourceFile) -> bool {
    file.items.iter().any(|item| match item {
        Item::Error(_) => true,
        Item::Workflow(w) => w.body.iter().any(|i| matches!(i, WorkflowItem::Error(_))),
        _ => false,
    })
}

pub use writ_stdx::quote;

struct Printer<'a> {
    src: &'a str,
    comments: &'a [Comment],
    /// The next comment to print.
    next: usize,
    out: String,
    /// Block nesting of the current line unit.
    indent: usize,
    /// Something has been written on the current output line.
    line_open: bool,
    /// The current unit was broken across lines by a comment: its next lines are indented
    /// one more level.
    continued: bool,
    /// Nothing has been printed yet in the current block (no blank line goes there).
    block_start: bool,
    /// Where in the source the last printed unit or comment ended.
    last_end: usize,
    /// The characters on the current output line.
    column: usize,
    /// The widest line of code (its comments left out) printed since [`Printer::breakable`]
    /// started the current node.
    widest: usize,
    /// Whether clauses start continuation lines.
    layout: Layout,
    /// Whether a `runs only` list that does not fit after its `[` is broken.
    break_lists: bool,
    /// A `runs only` list with patterns was printed since [`Printer::breakable`] started the
    /// current node.
    has_lists: bool,
    /// The clauses printed since [`Printer::breakable`] started the current node.
    clauses: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Clauses on the line of the node they belong to.
    Flat,
    /// Each clause on a line of its own.
    Broken,
}

/// What [`Printer::breakable`] restores to print a node again.
struct Checkpoint {
    out: usize,
    next: usize,
    line_open: bool,
    continued: bool,
    block_start: bool,
    last_end: usize,
    column: usize,
}

impl<'a> Printer<'a> {
    fn new(src: &'a str, comments: &'a [Comment]) -> Self {
        Printer {
            src,
            comments,
            next: 0,
            out: String::with_capacity(src.len() + src.len() / 8),
            indent: 0,
            line_open: false,
            continued: false,
            block_start: true,
            last_end: 0,
            column: 0,
            widest: 0,
            layout: Layout::Flat,
            break_lists: false,
            has_lists: false,
            clauses: 0,
        }
    }

    fn finish(mut self) -> String {
        if self.line_open {
            self.end_line();
        }
        self.out
    }

    // ---- lines, tokens and comments -----------------------------------------------------------

    fn start_line(&mut self, level: usize) {
        for _ in 0..level {
            self.out.push_str("  ");
        }
        self.line_open = true;
        self.column = 2 * level;
    }

    fn end_line(&mut self) {
        self.out.push('\n');
        self.line_open = false;
        self.column = 0;
    }

    /// Prints `text`, which stands for source offset `pos`, after a space if `space`.
    fn tok(&mut self, pos: u32, space: bool, text: &str) {
        self.comments_inside(pos as usize);
        if !self.line_open {
            self.start_line(self.indent + usize::from(self.continued));
        } else if space {
            self.out.push(' ');
            self.column += 1;
        }
        self.out.push_str(text);
        self.column += text.chars().count();
        self.widest = self.widest.max(self.column);
    }

    /// Prints the keyword that starts a clause, on a continuation line if the node is broken.
    /// The comments before it stay where they are: one that ends the previous line stays at
    /// the end of that line.
    fn clause(&mut self, pos: u32, keyword: &str) {
        self.clauses += 1;
        if self.layout == Layout::Broken {
            self.comments_inside(pos as usize);
            if self.line_open {
                self.end_line();
            }
            self.continued = true;
        }
        self.tok(pos, true, keyword);
    }

    /// Prints a rule, entitlement, claim or expectation with `print`: on one line if its code
    /// fits in [`WIDTH`] columns, else in the first of the layouts described in the module
    /// documentation that fits (or the last).
    fn breakable<T>(&mut self, node: &T, print: fn(&mut Self, &T)) {
        let checkpoint = Checkpoint {
            out: self.out.len(),
            next: self.next,
            line_open: self.line_open,
            continued: self.continued,
            block_start: self.block_start,
            last_end: self.last_end,
            column: self.column,
        };
        self.has_lists = false;
        self.clauses = 0;
        let layouts = [(Layout::Flat, false), (Layout::Flat, true), (Layout::Broken, true)];
        for (i, &(layout, break_lists)) in layouts.iter().enumerate() {
            if i > 0 {
                if self.widest <= WIDTH {
                    break;
                }
                if break_lists && layout == Layout::Flat && !(self.has_lists && self.clauses <= 1) {
                    continue;
                }
                self.out.truncate(checkpoint.out);
                self.next = checkpoint.next;
                self.line_open = checkpoint.line_open;
                self.continued = checkpoint.continued;
                self.block_start = checkpoint.block_start;
                self.last_end = checkpoint.last_end;
                self.column = checkpoint.column;
            }
            self.layout = layout;
            self.break_lists = break_lists;
            self.widest = self.column;
            print(self, node);
        }
        self.layout = Layout::Flat;
        self.break_lists = false;
    }

    fn ident(&mut self, ident: &Ident, space: bool) {
        self.tok(ident.span.start, space, &ident.name);
    }

    fn string(&mut self, lit: &StrLit, space: bool) {
        self.tok(lit.span.start, space, &quote(&lit.value));
    }

    /// `,` after the element that ended at `prev_end`.
    fn comma(&mut self, prev_end: u32) {
        self.tok(prev_end, false, ",");
    }

    /// Prints the comments before `pos` inside a unit: at the end of the current line if they
    /// were at the end of a line, else on lines of their own; the unit then continues on a new
    /// line.
    fn comments_inside(&mut self, pos: usize) {
        while let Some(comment) = self.comments.get(self.next) {
            if comment.span.start as usize >= pos {
                break;
            }
            let trailing = !is_first_on_line(self.src, comment.span.start as usize);
            if !(trailing && self.line_open) {
                if self.line_open {
                    self.end_line();
                }
                self.start_line(self.indent + 1);
            } else {
                self.out.push(' ');
            }
            self.out.push_str(&comment.text);
            self.end_line();
            self.continued = true;
            self.next += 1;
        }
    }

    /// Ends the unit whose source ends at `end`: prints what is left of its comments, and the
    /// comment that follows it on its last source line, if any.
    fn end_unit(&mut self, end: u32) {
        let end = end as usize;
        self.comments_inside(end);
        self.last_end = end;
        if let Some(comment) = self.comments.get(self.next) {
            let start = comment.span.start as usize;
            let between = self.src.get(end..start).unwrap_or("\n");
            if between.chars().all(crate::lexer::is_blank) {
                if !self.line_open {
                    self.start_line(self.indent + 1);
                } else {
                    self.out.push(' ');
                }
                self.out.push_str(&comment.text);
                self.last_end = comment.span.end as usize;
                self.next += 1;
            }
        }
        if self.line_open {
            self.end_line();
        }
        self.continued = false;
        self.block_start = false;
    }

    /// A comment on a line of its own, in a block.
    fn own_line_comment(&mut self, blank_before: bool) {
        let Some(comment) = self.comments.get(self.next) else {
            writ_stdx::never!("own_line_comment called with no comment left");
            return;
        };
        let blank = blank_before || self.blank_in_source(comment.span.start as usize);
        self.blank_line_if(blank);
        self.start_line(self.indent);
        self.out.push_str(&comment.text);
        self.end_line();
        self.last_end = comment.span.end as usize;
        self.block_start = false;
        self.next += 1;
    }

    fn blank_in_source(&self, start: usize) -> bool {
        newlines_between(self.src, self.last_end, start) >= 2
    }

    fn blank_line_if(&mut self, blank: bool) {
        if blank && !self.block_start {
            self.out.push('\n');
        }
    }

    fn has_comment_before(&self, pos: u32) -> bool {
        self.comments.get(self.next).is_some_and(|c| c.span.start < pos)
    }

    // ---- blocks -------------------------------------------------------------------------------

    /// The comments above the node starting at `start`, and the blank line before it.
    /// `blank_first` forces a blank line before the first of them (after a declaration with a
    /// body); `blank_attached` forces one before the comments that touch the node (before a
    /// declaration with a body), or before the node itself if none do.
    fn leading(&mut self, start: u32, blank_first: bool, blank_attached: bool) {
        let first = self.next;
        let rest = self.comments.get(first..).unwrap_or_default();
        let end = first + rest.partition_point(|c| c.span.start < start);
        // The comments with no blank line between them and the node.
        let mut attached = end;
        let mut below = start;
        while let Some(above) = attached.checked_sub(1).filter(|&a| a >= first)
            && let Some(comment) = self.comments.get(above)
            && newlines_between(self.src, comment.span.end as usize, below as usize) <= 1
        {
            attached = above;
            below = comment.span.start;
        }
        for i in first..end {
            let forced = (i == first && blank_first) || (i == attached && blank_attached);
            self.own_line_comment(forced);
        }
        let forced = first == end && (blank_first || blank_attached);
        let blank = forced || self.blank_in_source(start as usize);
        self.blank_line_if(blank);
    }

    /// The comments left in a block before `limit` (its `}` or the end of the file).
    fn closing_comments(&mut self, limit: usize, blank_first: bool) {
        let mut first = true;
        while self.comments.get(self.next).is_some_and(|c| (c.span.start as usize) < limit) {
            self.own_line_comment(first && blank_first);
            first = false;
        }
    }

    /// `{ ... }` with one unit per line inside, or `{}` when there is nothing inside.
    fn braces<T>(
        &mut self,
        open: u32,
        close: u32,
        items: &[T],
        span_of: impl Fn(&Self, &T) -> Span,
        print: impl Fn(&mut Self, &T),
    ) {
        self.tok(open, true, "{");
        if items.is_empty() && !self.has_comment_before(close) {
            self.tok(close, false, "}");
            return;
        }
        self.end_unit(open + 1);
        self.block_start = true;
        self.indent += 1;
        for item in items {
            self.leading(span_of(self, item).start, false, false);
            print(self, item);
        }
        self.closing_comments(close as usize, false);
        self.indent -= 1;
        self.tok(close, false, "}");
    }

    /// The offset of `ch` if it is the next character after `from` other than whitespace and
    /// comments, else `from`. Used for punctuation that has no span in the tree.
    fn find(&self, from: u32, ch: u8) -> u32 {
        self.try_find(from, ch).unwrap_or(from)
    }

    fn try_find(&self, from: u32, ch: u8) -> Option<u32> {
        let bytes = self.src.as_bytes();
        let mut i = from as usize;
        while let Some(&b) = bytes.get(i) {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => i += 1,
                // A byte order mark is whitespace wherever it is, as the lexer reads it.
                _ if self.src.get(i..).is_some_and(|rest| rest.starts_with(crate::lexer::BOM)) => {
                    i += crate::lexer::BOM.len_utf8();
                }
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    i = crate::lexer::line_end(bytes, i);
                }
                b if b == ch => return u32::try_from(i).ok(),
                _ => break,
            }
        }
        None
    }

    /// Whether a declaration is printed with a multi-line body.
    fn has_block(&self, item: &Item) -> bool {
        let (open_after, items, span) = match item {
            Item::Role(RoleDecl { body: Some(body), extends, name, span, .. }) => {
                (extends.last().map_or(name.span.end, |e| e.span.end), body.len(), *span)
            }
            Item::Workflow(w) => (w.name.span.end, w.body.len(), w.span),
            Item::Test(t) => (t.name.span.end, t.expectations.len(), t.span),
            Item::Assert(a) => (a.name.span.end, a.claims.len(), a.span),
            _ => return false,
        };
        let open = self.find(open_after, b'{');
        let close = span.end.saturating_sub(1);
        items > 0 || self.comments.iter().any(|c| c.span.start > open && c.span.start < close)
    }

    // ---- declarations -------------------------------------------------------------------------

    fn file(&mut self, file: &SourceFile) {
        let mut after_block = false;
        for item in &file.items {
            let block = self.has_block(item);
            self.leading(item.span().start, after_block, block);
            self.item(item);
            after_block = block;
        }
        self.closing_comments(self.src.len() + 1, after_block);
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Role(role) => self.role(role),
            Item::Attribute(decl) => self.value_decl("attribute", decl),
            Item::Context(decl) => self.value_decl("context", decl),
            Item::Tool(tool) => self.tool(tool),
            Item::Evidence(evidence) => self.evidence(evidence),
            Item::Workflow(workflow) => self.workflow(workflow),
            Item::Rule(rule) => self.rule(rule),
            Item::Fixture(fixture) => self.fixture(fixture),
            Item::Test(test) => self.test(test),
            Item::Assert(assert) => self.assert(assert),
            // `format` refuses files with errors.
            Item::Error(_) => {}
        }
    }

    fn role(&mut self, role: &RoleDecl) {
        self.tok(role.span.start, false, "role");
        self.ident(&role.name, true);
        if let Some(first) = role.extends.first() {
            self.tok(first.span.start, true, "extends");
            self.idents(&role.extends, true);
        }
        if let Some(body) = &role.body {
            let header_end = role.extends.last().map_or(role.name.span.end, |e| e.span.end);
            let open = self.find(header_end, b'{');
            let close = role.span.end - 1;
            self.braces(open, close, body, |_, e| e.span, Self::entitlement);
        }
        self.end_unit(role.span.end);
    }

    fn entitlement(&mut self, entitlement: &Entitlement) {
        self.breakable(entitlement, Self::entitlement_line);
    }

    fn entitlement_line(&mut self, entitlement: &Entitlement) {
        self.tok(entitlement.span.start, false, "may");
        self.target(&entitlement.target);
        self.conditions(&entitlement.when, &entitlement.unless);
        self.end_unit(entitlement.span.end);
    }

    fn value_decl(&mut self, keyword: &str, decl: &ValueDecl) {
        self.tok(decl.span.start, false, keyword);
        self.ident(&decl.name, true);
        self.tok(decl.name.span.end, false, ":");
        self.type_expr(&decl.ty);
        self.end_unit(decl.span.end);
    }

    fn type_expr(&mut self, ty: &TypeExpr) {
        let at = ty.span.start;
        match &ty.kind {
            TypeKind::String => self.tok(at, true, "string"),
            TypeKind::Int => self.tok(at, true, "int"),
            TypeKind::Bool => self.tok(at, true, "bool"),
            TypeKind::Duration => self.tok(at, true, "duration"),
            TypeKind::Command => self.tok(at, true, "command"),
            TypeKind::Path => self.tok(at, true, "path"),
            TypeKind::StringList => {
                self.tok(at, true, "[");
                self.tok(at + 1, false, "string");
                self.tok(ty.span.end - 1, false, "]");
            }
            TypeKind::Enum(values) => {
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        self.tok(value.span.start, true, "|");
                    }
                    self.string(value, true);
                }
            }
            TypeKind::Unknown(name) => self.ident(name, true),
        }
    }

    fn tool(&mut self, tool: &ToolDecl) {
        self.tok(tool.span.start, false, "tool");
        self.tok(tool.name.span.start, true, &tool.name.text);
        let mut end = tool.name.span.end;
        if let Some(params) = &tool.params {
            end = self.params(end, params);
        }
        if !tool.tags.is_empty() {
            self.bracketed(end, &tool.tags, true);
        }
        self.end_unit(tool.span.end);
    }

    /// `(NAME: TYPE, ...)` after offset `after`; returns the offset after `)`.
    fn params(&mut self, after: u32, params: &[Param]) -> u32 {
        let open = self.find(after, b'(');
        self.tok(open, false, "(");
        for (i, param) in params.iter().enumerate() {
            if let Some(prev) = i.checked_sub(1).and_then(|p| params.get(p)) {
                self.comma(prev.span.end);
            }
            self.ident(&param.name, i > 0);
            self.tok(param.name.span.end, false, ":");
            self.type_expr(&param.ty);
        }
        let close = self.find(params.last().map_or(open + 1, |p| p.span.end), b')');
        self.tok(close, false, ")");
        close + 1
    }

    /// `[a, b]` after offset `after`.
    fn bracketed(&mut self, after: u32, names: &[Ident], space: bool) {
        let open = self.find(after, b'[');
        self.tok(open, space, "[");
        self.idents(names, false);
        let close = self.find(names.last().map_or(open + 1, |n| n.span.end), b']');
        self.tok(close, false, "]");
    }

    /// `a, b, c`.
    fn idents(&mut self, names: &[Ident], space: bool) {
        for (i, name) in names.iter().enumerate() {
            if let Some(prev) = i.checked_sub(1).and_then(|p| names.get(p)) {
                self.comma(prev.span.end);
            }
            self.ident(name, space || i > 0);
        }
    }

    fn evidence(&mut self, evidence: &EvidenceDecl) {
        self.tok(evidence.span.start, false, "evidence");
        self.ident(&evidence.name, true);
        if let Some(fields) = &evidence.fields {
            self.params(evidence.name.span.end, fields);
        }
        if let Some(kind) = &evidence.by_kind {
            let by = evidence.by_human.map_or(kind.span.start, |span| span.start);
            self.tok(by, true, "by");
            self.ident(kind, true);
        }
        if let Some(bound) = evidence.bound {
            self.tok(bound.start, true, "bound");
        }
        self.end_unit(evidence.span.end);
    }

    fn workflow(&mut self, workflow: &WorkflowDecl) {
        self.tok(workflow.span.start, false, "workflow");
        self.ident(&workflow.name, true);
        let open = self.find(workflow.name.span.end, b'{');
        let close = workflow.span.end - 1;
        self.braces(open, close, &workflow.body, Self::workflow_item_span, Self::workflow_item);
        self.end_unit(workflow.span.end);
    }

    /// The span of a workflow item, from its keyword on (`max_depth` and `ttl` have no span of
    /// their own in the tree).
    fn workflow_item_span(&self, item: &WorkflowItem) -> Span {
        let from_keyword = |keyword: &str, value: Span| {
            let before = self.src[..value.start as usize].trim_end();
            match before.strip_suffix(keyword) {
                Some(rest) => Span::new(rest.len(), value.end as usize),
                None => value,
            }
        };
        match item {
            WorkflowItem::Rule(rule) => rule.span,
            WorkflowItem::MaxDepth(value) => from_keyword("max_depth", value.span),
            WorkflowItem::Ttl(value) => from_keyword("ttl", value.span),
            WorkflowItem::Error(span) => *span,
        }
    }

    fn workflow_item(&mut self, item: &WorkflowItem) {
        let span = self.workflow_item_span(item);
        match item {
            WorkflowItem::Rule(rule) => return self.rule(rule),
            WorkflowItem::MaxDepth(value) => {
                self.tok(span.start, false, "max_depth");
                self.tok(value.span.start, true, &value.value.to_string());
            }
            WorkflowItem::Ttl(value) => {
                self.tok(span.start, false, "ttl");
                self.duration(value, true);
            }
            WorkflowItem::Error(_) => {}
        }
        self.end_unit(span.end);
    }

    // ---- rules --------------------------------------------------------------------------------

    fn rule(&mut self, rule: &Rule) {
        self.breakable(rule, Self::rule_line);
    }

    fn rule_line(&mut self, rule: &Rule) {
        let at = rule.span.start;
        match &rule.kind {
            RuleKind::Start { by, when, unless, require } => {
                self.tok(at, false, "start");
                if let Some(first) = by.first() {
                    self.tok(first.span.start, true, "by");
                    self.idents(by, true);
                }
                self.conditions(when, unless);
                self.require(require);
            }
            RuleKind::Allow { target, when, unless, require } => {
                self.tok(at, false, "allow");
                self.target(target);
                self.conditions(when, unless);
                self.require(require);
            }
            RuleKind::Deny { target, when, unless, because } => {
                self.tok(at, false, "deny");
                self.target(target);
                self.conditions(when, unless);
                self.because(because);
            }
            RuleKind::DenyStart { start, when, unless, because } => {
                self.tok(at, false, "deny");
                self.tok(start.start, true, "start");
                self.conditions(when, unless);
                self.because(because);
            }
            RuleKind::RequireFor { require, target, when, unless } => {
                self.tok(at, false, "require");
                self.evidence_list(require);
                self.tok(target.span.start, true, "for");
                self.target(target);
                self.conditions(when, unless);
            }
        }
        self.end_unit(rule.span.end);
    }

    fn target(&mut self, target: &Target) {
        self.target_spaced(target, true);
    }

    fn target_spaced(&mut self, target: &Target, space: bool) {
        let at = target.span.start;
        match &target.kind {
            TargetKind::Tool(name) => self.tok(at, space, &name.text),
            TargetKind::Glob(pattern) => self.tok(at, space, pattern),
            TargetKind::All => self.tok(at, space, "*"),
            TargetKind::Start => self.tok(at, space, "start"),
            TargetKind::Tags(tags) => {
                self.tok(at, space, "[");
                self.idents(tags, false);
                self.tok(target.span.end - 1, false, "]");
            }
        }
    }

    fn conditions(&mut self, when: &Option<Expr>, unless: &Option<Expr>) {
        for (keyword, condition) in [("when", when), ("unless", unless)] {
            if let Some(condition) = condition {
                self.clause(condition.span.start, keyword);
                self.expr(condition, true);
            }
        }
    }

    fn require(&mut self, require: &[EvidenceRequirement]) {
        if let Some(first) = require.first() {
            self.clause(first.span.start, "require");
            self.evidence_list(require);
        }
    }

    fn because(&mut self, because: &Option<StrLit>) {
        if let Some(reason) = because {
            self.clause(reason.span.start, "because");
            self.string(reason, true);
        }
    }

    fn evidence_list(&mut self, list: &[EvidenceRequirement]) {
        for (i, requirement) in list.iter().enumerate() {
            if let Some(prev) = i.checked_sub(1).and_then(|p| list.get(p)) {
                self.comma(prev.span.end);
            }
            self.requirement(requirement, true);
        }
    }

    /// `[N] NAME[(FIELD: VALUE, ...)] [by ROLE]`.
    fn requirement(&mut self, requirement: &EvidenceRequirement, space: bool) {
        let mut space = space;
        if let Some(count) = &requirement.count {
            self.tok(count.span.start, space, &count.value.to_string());
            space = true;
        }
        self.ident(&requirement.name, space);
        self.field_args(requirement.name.span.end, &requirement.fields);
        if let Some(by) = &requirement.by {
            self.tok(by.span.start, true, "by");
            self.ident(by, true);
        }
    }

    /// `(NAME: VALUE, ...)` after offset `after`, if there are any.
    fn field_args(&mut self, after: u32, fields: &[FieldValue]) {
        if fields.is_empty() {
            return;
        }
        let open = self.find(after, b'(');
        self.tok(open, false, "(");
        self.field_values(fields, false);
        let close = self.find(fields.last().map_or(open + 1, |f| f.span.end), b')');
        self.tok(close, false, ")");
    }

    fn field_values(&mut self, fields: &[FieldValue], space: bool) {
        for (i, field) in fields.iter().enumerate() {
            if let Some(prev) = i.checked_sub(1).and_then(|p| fields.get(p)) {
                self.comma(prev.span.end);
            }
            self.ident(&field.name, space || i > 0);
            self.tok(field.name.span.end, false, ":");
            self.expr(&field.value, true);
        }
    }

    // ---- conditions ---------------------------------------------------------------------------

    fn expr(&mut self, expr: &Expr, space: bool) {
        let at = expr.span.start;
        match &expr.kind {
            ExprKind::Bool(value) => self.tok(at, space, if *value { "true" } else { "false" }),
            ExprKind::Str(value) => self.tok(at, space, &quote(value)),
            ExprKind::Int(value) => self.tok(at, space, &value.to_string()),
            ExprKind::Duration(duration) => self.duration(duration, space),
            ExprKind::List(items) => {
                self.tok(at, space, "[");
                for (i, item) in items.iter().enumerate() {
                    if let Some(prev) = i.checked_sub(1).and_then(|p| items.get(p)) {
                        self.comma(prev.span.end);
                    }
                    self.string(item, i > 0);
                }
                self.tok(expr.span.end - 1, false, "]");
            }
            ExprKind::Name(name) => self.ident(name, space),
            ExprKind::Principal(principal, _) => self.tok(at, space, principal.as_str()),
            ExprKind::Field { principal, field, .. } => {
                self.tok(at, space, &format!("{}.{}", principal.as_str(), field.name));
            }
            ExprKind::Depth => self.tok(at, space, "depth"),
            ExprKind::Context(name) => self.tok(at, space, &format!("context.{}", name.name)),
            ExprKind::Compare { op, op_span, lhs, rhs } => {
                self.expr(lhs, space);
                self.tok(op_span.start, true, op.as_str());
                self.expr(rhs, true);
            }
            ExprKind::In { value, list } => self.infix(value, "in", list, space),
            ExprKind::Contains { list, value } => self.infix(list, "contains", value, space),
            ExprKind::Matches { value, pattern } => {
                self.expr(value, space);
                self.tok(pattern.span.start, true, "matches");
                self.string(pattern, true);
            }
            ExprKind::Quantified { quantifier, list, pattern } => {
                let word = match quantifier {
                    Quantifier::Any => "any",
                    Quantifier::All => "all",
                };
                self.tok(at, space, word);
                self.expr(list, true);
                self.tok(pattern.span.start, true, "matches");
                self.string(pattern, true);
            }
            ExprKind::HasRole { principal, principal_span, role } => {
                self.tok(principal_span.start, space, principal.as_str());
                self.tok(role.span.start, true, "has");
                self.tok(role.span.start, true, "role");
                self.ident(role, true);
            }
            ExprKind::Not(operand) => {
                self.tok(at, space, "not");
                self.expr(operand, true);
            }
            ExprKind::And(lhs, rhs) => self.infix(lhs, "and", rhs, space),
            ExprKind::Or(lhs, rhs) => self.infix(lhs, "or", rhs, space),
            ExprKind::Paren(inner) => {
                self.tok(at, space, "(");
                self.expr(inner, false);
                self.tok(expr.span.end - 1, false, ")");
            }
            ExprKind::Runs { command, op_span, pattern } => {
                self.expr(command, space);
                self.tok(op_span.start, true, "runs");
                self.pattern(pattern, true);
            }
            ExprKind::RunsOnly { command, op_span, patterns, list_span } => {
                self.expr(command, space);
                self.tok(op_span.start, true, "runs");
                self.tok(op_span.end.saturating_sub(4), true, "only");
                self.pattern_list(patterns, *list_span);
            }
            ExprKind::Under { path, op_span, dir } => {
                self.expr(path, space);
                self.tok(op_span.start, true, "under");
                self.string(dir, true);
            }
            ExprKind::Calls { target, within } => {
                self.tok(at, space, "calls");
                self.tok(self.find(at + 5, b'('), false, "(");
                self.target_spaced(target, false);
                if let Some(within) = within {
                    self.tok(within.span.start, true, "within");
                    self.duration(within, true);
                }
                self.tok(expr.span.end - 1, false, ")");
            }
            ExprKind::Given(requirement) => {
                self.tok(at, space, "given");
                self.tok(self.find(at + 5, b'('), false, "(");
                self.requirement(requirement, false);
                self.tok(expr.span.end - 1, false, ")");
            }
        }
    }

    /// A command pattern: `["git", "push", ...]`.
    fn pattern(&mut self, pattern: &CommandPattern, space: bool) {
        self.tok(pattern.span.start, space, "[");
        for (i, item) in pattern.items.iter().enumerate() {
            if let Some(prev) = i.checked_sub(1).and_then(|p| pattern.items.get(p)) {
                self.comma(pattern_item_span(prev).end);
            }
            match item {
                PatternItem::Word(word) => self.string(word, i > 0),
                PatternItem::Rest(span) => self.tok(span.start, i > 0, "..."),
            }
        }
        self.tok(pattern.span.end - 1, false, "]");
    }

    /// The list of patterns after `runs only`: on one line, or broken as the module
    /// documentation describes.
    fn pattern_list(&mut self, patterns: &[CommandPattern], list: Span) {
        self.tok(list.start, true, "[");
        let close = list.end - 1;
        if patterns.is_empty() {
            self.tok(close, false, "]");
            return;
        }
        self.has_lists = true;
        let widths: Vec<usize> = patterns.iter().map(pattern_width).collect();
        let flat = widths.iter().sum::<usize>() + 2 * (patterns.len() - 1) + 1;
        if !self.break_lists || self.column + flat <= WIDTH {
            for (i, pattern) in patterns.iter().enumerate() {
                if let Some(prev) = i.checked_sub(1).and_then(|p| patterns.get(p)) {
                    self.comma(prev.span.end);
                }
                self.pattern(pattern, i > 0);
            }
            self.tok(close, false, "]");
            return;
        }
        // The patterns go on lines one level deeper than the line of the `[`.
        let (indent, continued) = (self.indent, self.continued);
        self.indent = indent + usize::from(continued);
        self.continued = true;
        for (i, pattern) in patterns.iter().enumerate() {
            if let Some(prev) = i.checked_sub(1).and_then(|p| patterns.get(p)) {
                self.comma(prev.span.end);
            }
            self.comments_inside(pattern.span.start as usize);
            let comma = usize::from(i + 1 < patterns.len());
            let width = widths.get(i).copied().unwrap_or_default();
            let fits = self.column + 1 + width + comma <= WIDTH;
            if self.line_open && (i == 0 || !fits) {
                self.end_line();
            }
            self.pattern(pattern, self.line_open);
        }
        self.comments_inside(close as usize);
        if self.line_open {
            self.end_line();
        }
        self.indent = indent;
        self.continued = continued;
        self.tok(close, false, "]");
    }

    fn infix(&mut self, lhs: &Expr, operator: &str, rhs: &Expr, space: bool) {
        self.expr(lhs, space);
        self.tok(rhs.span.start, true, operator);
        self.expr(rhs, true);
    }

    fn duration(&mut self, duration: &DurationLit, space: bool) {
        self.tok(duration.span.start, space, &format!("{}{}", duration.amount, duration.unit));
    }

    // ---- assertions ---------------------------------------------------------------------------

    fn assert(&mut self, assert: &AssertDecl) {
        self.tok(assert.span.start, false, "assert");
        self.string(&assert.name, true);
        let open = self.find(assert.name.span.end, b'{');
        let close = assert.span.end - 1;
        self.braces(open, close, &assert.claims, |_, c| c.span, Self::claim);
        self.end_unit(assert.span.end);
    }

    fn claim(&mut self, claim: &Claim) {
        self.breakable(claim, Self::claim_line);
    }

    fn claim_line(&mut self, claim: &Claim) {
        self.tok(claim.span.start, false, "never");
        match &claim.kind {
            ClaimKind::NeverAllow { via, target } => {
                let after = via.as_ref().map_or(target.span.start, |via| via.span.start);
                self.tok(after, true, "allow");
                if let Some(via) = via {
                    self.tok(via.span.start, true, "via");
                    self.ident(via, true);
                }
                self.target(target);
            }
            ClaimKind::NeverStart { workflow } => {
                self.tok(workflow.span.start, true, "start");
                self.ident(workflow, true);
            }
        }
        self.conditions(&claim.when, &claim.unless);
        self.end_unit(claim.span.end);
    }

    // ---- tests --------------------------------------------------------------------------------

    fn fixture(&mut self, fixture: &FixtureDecl) {
        self.tok(fixture.span.start, false, "fixture");
        self.ident(&fixture.name, true);
        self.tok(fixture.kind.span.start, true, "=");
        self.ident(&fixture.kind, true);
        let mut end = fixture.kind.span.end;
        if let Some(last) = fixture.roles.last() {
            self.bracketed(end, &fixture.roles, true);
            end = last.span.end;
        }
        if let Some(last) = fixture.attrs.last() {
            let after_roles = self.try_find(end, b']').map_or(end, |close| close + 1);
            let open = self.find(after_roles, b'{');
            self.tok(open, true, "{");
            self.field_values(&fixture.attrs, true);
            self.tok(self.find(last.span.end, b'}'), true, "}");
        }
        self.end_unit(fixture.span.end);
    }

    fn test(&mut self, test: &TestDecl) {
        self.tok(test.span.start, false, "test");
        self.string(&test.name, true);
        let open = self.find(test.name.span.end, b'{');
        let close = test.span.end - 1;
        self.braces(open, close, &test.expectations, |_, e| e.span, Self::expectation);
        self.end_unit(test.span.end);
    }

    fn expectation(&mut self, expectation: &Expectation) {
        self.breakable(expectation, Self::expectation_line);
    }

    fn expectation_line(&mut self, expectation: &Expectation) {
        self.tok(expectation.span.start, false, "expect");
        let outcome = match expectation.outcome {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::Pending => "pending",
        };
        let mut end = expectation.outcome_span.end;
        self.tok(expectation.outcome_span.start, true, outcome);
        if let Some(missing) = &expectation.missing {
            let open = self.find(end, b'(');
            self.tok(open, false, "(");
            self.idents(missing, false);
            end = self.find(missing.last().map_or(open + 1, |m| m.span.end), b')');
            self.tok(end, false, ")");
            end += 1;
        }
        self.tok(self.find(end, b':'), false, ":");
        self.request(&expectation.request);
        self.end_unit(expectation.span.end);
    }

    fn request(&mut self, request: &TestRequest) {
        self.idents(&request.chain, true);
        let mut ttl = None;
        match &request.action {
            TestAction::Call { workflow, tool, args } => {
                self.tok(workflow.span.start, true, "via");
                self.ident(workflow, true);
                self.tok(tool.span.start, true, "calls");
                self.tok(tool.span.start, true, &tool.text);
                self.field_args(tool.span.end, args);
            }
            TestAction::Start { workflow, ttl: requested } => {
                self.tok(workflow.span.start, true, "starts");
                self.ident(workflow, true);
                ttl = requested.as_ref();
            }
        }
        if let Some(first) = request.evidence.first() {
            self.clause(first.span.start, "with");
            for (i, given) in request.evidence.iter().enumerate() {
                if let Some(prev) = i.checked_sub(1).and_then(|p| request.evidence.get(p)) {
                    self.comma(prev.span.end);
                }
                self.ident(&given.name, true);
                self.field_args(given.name.span.end, &given.fields);
                if let Some(by) = &given.by {
                    self.tok(by.span.start, true, "by");
                    self.ident(by, true);
                }
            }
        }
        if let Some(last) = request.context.last() {
            let at = request.context.first().map_or(last.span.start, |first| first.span.start);
            self.clause(at, "context");
            self.tok(at, true, "{");
            self.field_values(&request.context, true);
            self.tok(self.find(last.span.end, b'}'), true, "}");
        }
        if let Some(ttl) = ttl {
            self.clause(ttl.span.start, "ttl");
            self.duration(ttl, true);
        }
        if let Some(cwd) = &request.cwd {
            self.clause(cwd.span.start, "in");
            self.string(cwd, true);
        }
        if let Some(time) = &request.time {
            self.clause(time.span.start, "at");
            self.string(time, true);
        }
        if let Some(history) = &request.history {
            // The `after [...]` clause ends the request.
            let close = request.span.end - 1;
            let at = history.first().map_or(close, |entry| entry.span.start);
            self.clause(at, "after");
            self.tok(at, true, "[");
            for (i, entry) in history.iter().enumerate() {
                if let Some(prev) = i.checked_sub(1).and_then(|p| history.get(p)) {
                    self.comma(prev.span.end);
                }
                self.tok(entry.tool.span.start, i > 0, &entry.tool.text);
                match &entry.at {
                    Some(HistoryTime::At(time)) => {
                        self.tok(time.span.start, true, "at");
                        self.string(time, true);
                    }
                    Some(HistoryTime::Ago(duration)) => {
                        self.duration(duration, true);
                        // The entry ends with `ago`.
                        self.tok(entry.span.end.saturating_sub(3), true, "ago");
                    }
                    None => {}
                }
            }
            self.tok(close, false, "]");
        }
    }
}

fn pattern_item_span(item: &PatternItem) -> Span {
    match item {
        PatternItem::Word(word) => word.span,
        PatternItem::Rest(span) => *span,
    }
}

/// The width of a pattern on one line, in characters.
fn pattern_width(pattern: &CommandPattern) -> usize {
    let items = pattern.items.iter().map(|item| match item {
        PatternItem::Word(word) => quote(&word.value).chars().count(),
        PatternItem::Rest(_) => 3,
    });
    2 + items.sum::<usize>() + 2 * pattern.items.len().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(src: &str) -> String {
        format(src).unwrap_or_else(|| panic!("does not parse: {:?}", parse(src).errors))
    }

    #[test]
    fn strings_are_escaped_canonically() {
        assert_eq!(quote("a\"b\\c\nd\te"), r#""a\"b\\c\nd\te""#);
        assert_eq!(quote("\u{0}\r\u{202E}é😀"), "\"\\u{0}\\u{D}\\u{202E}é😀\"");
    }

    #[test]
    fn broken_files_are_not_formatted() {
        assert_eq!(format("role"), None);
        assert_eq!(format("workflow w { allow x when }"), None);
    }

    #[test]
    fn empty_and_comment_only_files() {
        assert_eq!(fmt(""), "");
        assert_eq!(fmt("\n\n"), "");
        assert_eq!(fmt("// a\n\n\n// b   \n"), "// a\n\n// b\n");
    }

    #[test]
    fn rules_go_on_one_line() {
        let src = "workflow release{start  by release_manager\n require ticket( project :\"REL\")\n\
                   allow deploy when env==\"prod\"\n   require 2 approval by security_reviewer,tests_passed}";
        assert_eq!(
            fmt(src),
            "workflow release {\n  start by release_manager require ticket(project: \"REL\")\n  \
             allow deploy when env == \"prod\" require 2 approval by security_reviewer, tests_passed\n}\n"
        );
    }

    #[test]
    fn blank_lines_separate_declarations_with_bodies() {
        let src = "attribute a: int\n\n\n\nattribute b: int\nrole r { may x }\nrole s\n// about w\nworkflow w { ttl 1h }\n";
        assert_eq!(
            fmt(src),
            "attribute a: int\n\nattribute b: int\n\nrole r {\n  may x\n}\n\nrole s\n\n// about w\n\
             workflow w {\n  ttl 1h\n}\n"
        );
    }

    #[test]
    fn comments_stay_in_place() {
        let src = "/// Doc.\nrole r { // opening\n  // above\n  may x // trailing\n\n  // closing\n} // after\n";
        assert_eq!(fmt(src), src);
    }

    #[test]
    fn a_comment_inside_a_rule_breaks_the_line() {
        let src = "deny x // why\n  when a == 1\n";
        assert_eq!(fmt(src), "deny x // why\n  when a == 1\n");
        let src = "deny x when (a ==\n// one\n1)";
        assert_eq!(fmt(src), "deny x when (a ==\n  // one\n  1)\n");
    }

    #[test]
    fn a_comment_after_a_one_line_body_stays_after_it() {
        assert_eq!(fmt("role r {may x} // c\n"), "role r {\n  may x\n} // c\n");
        assert_eq!(fmt("role r {} // c\n"), "role r {} // c\n");
    }

    #[test]
    fn empty_bodies_stay_on_one_line() {
        assert_eq!(fmt("role r {\n}\nworkflow w {}"), "role r {}\nworkflow w {}\n");
    }

    /// `prefix` followed by a name that makes a line of exactly `width` characters.
    fn padded(prefix: &str, width: usize) -> String {
        let name = format!("n{}", "x".repeat(width - prefix.chars().count() - 1));
        format!("{prefix}{name}")
    }

    #[test]
    fn a_line_of_exactly_the_width_is_not_broken() {
        let fits = padded("deny x when a unless ", WIDTH);
        assert_eq!(fits.chars().count(), WIDTH);
        assert_eq!(fmt(&fits), format!("{fits}\n"));
        let long = padded("deny x when a unless ", WIDTH + 1);
        let (head, tail) = long.split_once(" unless ").unwrap();
        let (keyword, condition) = head.split_once(" when ").unwrap();
        assert_eq!(fmt(&long), format!("{keyword}\n  when {condition}\n  unless {tail}\n"));
    }

    #[test]
    fn columns_count_characters_and_indentation() {
        // 99 characters of code, one of them two bytes long, fits at the top level; indented
        // by a workflow it does not.
        let rule = padded("deny x when s == \"é\" unless ", WIDTH - 1);
        assert_eq!(rule.chars().count(), WIDTH - 1);
        assert_eq!(fmt(&rule), format!("{rule}\n"));
        let broken = rule.replacen(" when", "\n    when", 1).replacen(" unless", "\n    unless", 1);
        assert_eq!(
            fmt(&format!("workflow w {{ {rule} }}")),
            format!("workflow w {{\n  {broken}\n}}\n")
        );
    }

    #[test]
    fn long_rules_break_before_every_clause() {
        let long = "x".repeat(70);
        let src = format!(
            "workflow w {{ start by a, b when initiator.team == \"{long}\" require ticket(project: \"R\") \
             allow t when a == 1 unless b == \"{long}\" require 2 approval by r, tests_passed \
             deny start when depth > 1 because \"{long}\" }} \
             require ticket(project: \"{long}\"), tests_passed for [write] when depth > 1 \
             role r {{ may t when principal.team == \"{long}\" unless depth > 0 }}"
        );
        assert_eq!(
            fmt(&src),
            format!(
                "workflow w {{\n  \
                 start by a, b\n    when initiator.team == \"{long}\"\n    require ticket(project: \"R\")\n  \
                 allow t\n    when a == 1\n    unless b == \"{long}\"\n    require 2 approval by r, tests_passed\n  \
                 deny start\n    when depth > 1\n    because \"{long}\"\n\
                 }}\n\n\
                 require ticket(project: \"{long}\"), tests_passed for [write]\n  when depth > 1\n\n\
                 role r {{\n  may t\n    when principal.team == \"{long}\"\n    unless depth > 0\n}}\n"
            )
        );
    }

    #[test]
    fn a_clause_too_long_by_itself_stays_on_one_line() {
        let long = "x".repeat(120);
        let src = format!("deny t because \"{long}\"");
        assert_eq!(fmt(&src), format!("deny t\n  because \"{long}\"\n"));
        let src = format!("allow t.{long}");
        assert_eq!(fmt(&src), format!("{src}\n"));
    }

    #[test]
    fn comments_stay_on_their_lines_when_a_rule_is_broken() {
        let long = "x".repeat(80);
        let src = format!(
            "deny t // after the target\n  when a == \"{long}\" // after when\n  // before unless\n  unless b == \"{long}\" because \"c\" // after\n"
        );
        assert_eq!(
            fmt(&src),
            format!(
                "deny t // after the target\n  when a == \"{long}\" // after when\n  // before unless\n  \
                 unless b == \"{long}\"\n  because \"c\" // after\n"
            )
        );
        // Comments do not count towards the width.
        let src = format!("deny t when a == \"{}\" // {long}\n", "x".repeat(60));
        assert_eq!(fmt(&src), src);
    }

    #[test]
    fn v2_constructs_are_spaced_canonically() {
        let src = "tool t(c:command,p:path)\ndeny t when c runs[\"rm\",...,\"-*r*\"]or c runs only[[ \"ls\" ],[...]]\
                   \n  or p under\"src\"\ndeny t when calls ( [a,b] within 1h )>calls(*)or given( 2 ok ( p : \"x\" ) by r )<1";
        assert_eq!(
            fmt(src),
            "tool t(c: command, p: path)\ndeny t when c runs [\"rm\", ..., \"-*r*\"] or c runs only [[\"ls\"], [...]] \
             or p under \"src\"\ndeny t when calls([a, b] within 1h) > calls(*) or given(2 ok(p: \"x\") by r) < 1\n"
        );
    }

    #[test]
    fn a_long_runs_only_list_is_packed_after_its_bracket() {
        let patterns: Vec<String> = (0..12).map(|i| format!("[\"cmd{i}\", ...]")).collect();
        let src = format!("workflow w {{ allow t when c runs only [{}] }}", patterns.join(", "));
        let line = |range: std::ops::Range<usize>| patterns[range].join(", ");
        assert_eq!(
            fmt(&src),
            format!(
                "workflow w {{\n  allow t when c runs only [\n    {},\n    {}\n  ]\n}}\n",
                line(0..6),
                line(6..12)
            )
        );
    }

    #[test]
    fn a_comment_before_ago_stays_before_it() {
        let src = "test \"t\" {\n  expect deny: a starts w after [x 9s // c\n    ago, y]\n}\n";
        assert_eq!(fmt(src), src);
    }

    #[test]
    fn tests_and_fixtures() {
        let src = "fixture alice=human[release_manager]{team:\"platform\",level:3}\n\
                   test \"t\" { expect pending ( approval ) : alice via release calls deploy(env:\"prod\")\n\
                   with approval by bob,tests_passed context{business_hours:true}\n\
                   expect deny: alice, bot starts release with ticket(project: \"REL\") ttl 20m\n\
                   expect allow: alice via w calls ping() }";
        assert_eq!(
            fmt(src),
            "fixture alice = human [release_manager] { team: \"platform\", level: 3 }\n\n\
             test \"t\" {\n  \
             expect pending(approval): alice via release calls deploy(env: \"prod\")\n    \
             with approval by bob, tests_passed\n    \
             context { business_hours: true }\n  \
             expect deny: alice, bot starts release with ticket(project: \"REL\") ttl 20m\n  \
             expect allow: alice via w calls ping\n}\n"
        );
    }
}
