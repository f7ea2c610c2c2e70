//! Helpers shared by the integration tests: fixtures, a compact dump of the syntax tree for
//! snapshots, and comparison of trees up to spans.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use writ_grammar::ast::*;

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The text of `tests/fixtures/NAME.writ`.
pub fn fixture(name: &str) -> String {
    let path = fixtures_dir().join(format!("{name}.writ"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fixtures every property is checked on.
pub const FIXTURES: &[&str] = &["engineering", "edges", "syntax", "long", "agents", "v2"];

// ---- invariants -------------------------------------------------------------------------------

/// Checks what must hold for any input: parsing and formatting do not panic, every span can
/// slice the source, every broken piece is reported, and a formatted file is a fixed point of
/// the formatter that parses to the same tree.
pub fn check_invariants(src: &str) {
    let file = writ_grammar::parse(src);
    check_spans(src, &file);
    let has_error_nodes = file.items.iter().any(|item| match item {
        Item::Error(_) => true,
        Item::Workflow(w) => w.body.iter().any(|i| matches!(i, WorkflowItem::Error(_))),
        _ => false,
    });
    assert!(!has_error_nodes || !file.errors.is_empty(), "error nodes without errors: {src:?}");
    let Some(formatted) = writ_grammar::format(src) else {
        assert!(!file.errors.is_empty(), "no errors but not formatted: {src:?}");
        return;
    };
    assert_eq!(
        writ_grammar::format(&formatted).as_deref(),
        Some(formatted.as_str()),
        "not idempotent: {src:?}"
    );
    let reparsed = writ_grammar::parse(&formatted);
    assert_eq!(
        without_spans(&reparsed),
        without_spans(&file),
        "meaning changed: {src:?}\n{formatted}"
    );
}

fn check_spans(src: &str, file: &SourceFile) {
    let valid = |span: Span, what: &str| {
        assert!(
            span.start <= span.end && src.get(span.range()).is_some(),
            "bad {what} span {span:?} in {src:?}"
        );
    };
    for item in &file.items {
        valid(item.span(), "item");
        if let Item::Workflow(w) = item {
            valid(w.name.span, "name");
            for body_item in &w.body {
                match body_item {
                    WorkflowItem::Rule(rule) => valid(rule.span, "rule"),
                    WorkflowItem::MaxDepth(n) => valid(n.span, "max_depth"),
                    WorkflowItem::Ttl(d) => valid(d.span, "ttl"),
                    WorkflowItem::Error(span) => valid(*span, "error"),
                }
            }
        }
    }
    for error in &file.errors {
        valid(error.span, "error");
        assert!(!error.message.is_empty());
        assert_ne!(error.kind, ParseErrorKind::Internal, "{error:?} in {src:?}");
    }
    for comment in &file.comments {
        valid(comment.span, "comment");
        assert_eq!(&src[comment.span.range()], comment.text);
    }
}

// ---- comparison up to spans -------------------------------------------------------------------

/// The parsed file with every span erased: items, documentation, comments (text and kind) and
/// errors (messages). Two sources mean the same thing if these are equal.
pub fn without_spans(file: &SourceFile) -> String {
    erase_spans(&format!("{:#?}", (&file.items, &file.errors)))
        + &file.comments.iter().map(|c| format!("\n{:?} {}", c.text, c.is_doc)).collect::<String>()
}

/// Replaces every `Span { start: N, end: M }` in pretty debug output with `Span`.
fn erase_spans(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let mut lines = debug.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(head) = line.strip_suffix("Span {") {
            // `start: N,`, `end: M,` and `}` or `},` follow.
            let mut tail = "";
            for _ in 0..3 {
                tail = lines.next().unwrap_or_default().trim();
            }
            out.push_str(head);
            out.push_str("Span");
            out.push_str(tail.strip_prefix('}').unwrap_or_default());
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

// ---- a compact dump of the tree ----------------------------------------------------------------

/// The tree as S-expressions with byte spans (`@start..end`), one node per line unless short.
pub fn dump(file: &SourceFile) -> String {
    let mut trees: Vec<Tree> = file.items.iter().map(item).collect();
    if !file.comments.is_empty() {
        let comments = file.comments.iter().map(|c| {
            let kind = if c.is_doc { "doc-comment" } else { "comment" };
            leaf(format!("({kind} {:?}){}", c.text, at(c.span)))
        });
        trees.push(node("comments", comments.collect()));
    }
    if !file.errors.is_empty() {
        let errors = file.errors.iter().map(|e| leaf(format!("({:?}){}", e.message, at(e.span))));
        trees.push(node("errors", errors.collect()));
    }
    trees.iter().map(|t| t.render(0) + "\n").collect()
}

/// A node `(head children...)@span`, or a leaf printed as is.
struct Tree {
    head: String,
    children: Vec<Tree>,
    span: Option<Span>,
    is_leaf: bool,
}

fn leaf(text: String) -> Tree {
    Tree { head: text, children: Vec::new(), span: None, is_leaf: true }
}

fn node(head: &str, children: Vec<Tree>) -> Tree {
    Tree { head: head.to_string(), children, span: None, is_leaf: false }
}

fn spanned(head: &str, span: Span, children: Vec<Tree>) -> Tree {
    Tree { head: head.to_string(), children, span: Some(span), is_leaf: false }
}

fn at(span: Span) -> String {
    format!("@{}..{}", span.start, span.end)
}

impl Tree {
    fn inline(&self) -> String {
        let span = self.span.map(at).unwrap_or_default();
        if self.is_leaf {
            return format!("{}{span}", self.head);
        }
        let children: String = self.children.iter().map(|c| format!(" {}", c.inline())).collect();
        format!("({}{children}){span}", self.head)
    }

    fn render(&self, indent: usize) -> String {
        let inline = self.inline();
        if inline.len() + indent * 2 <= 100 || self.children.is_empty() {
            return inline;
        }
        let pad = "  ".repeat(indent + 1);
        let children: String =
            self.children.iter().map(|c| format!("\n{pad}{}", c.render(indent + 1))).collect();
        format!("({}{children}){}", self.head, self.span.map(at).unwrap_or_default())
    }
}

fn ident(i: &Ident) -> Tree {
    leaf(format!("{}{}", i.name, at(i.span)))
}

fn idents(head: &str, list: &[Ident]) -> Tree {
    node(head, list.iter().map(ident).collect())
}

fn string(s: &StrLit) -> Tree {
    leaf(format!("{:?}{}", s.value, at(s.span)))
}

fn doc(d: &Option<Doc>) -> Option<Tree> {
    d.as_ref()
        .map(|d| spanned("doc", d.span, d.lines.iter().map(|l| leaf(format!("{l:?}"))).collect()))
}

fn with_doc(d: &Option<Doc>, mut children: Vec<Tree>) -> Vec<Tree> {
    if let Some(doc) = doc(d) {
        children.insert(0, doc);
    }
    children
}

fn item(item: &Item) -> Tree {
    match item {
        Item::Role(r) => {
            let mut children = vec![ident(&r.name)];
            if !r.extends.is_empty() {
                children.push(idents("extends", &r.extends));
            }
            if let Some(body) = &r.body {
                children.push(node("body", body.iter().map(entitlement).collect()));
            }
            spanned("role", r.span, with_doc(&r.doc, children))
        }
        Item::Attribute(d) => value_decl("attribute", d),
        Item::Context(d) => value_decl("context", d),
        Item::Tool(t) => {
            let mut children = vec![leaf(format!("{}{}", t.name.text, at(t.name.span)))];
            if let Some(params) = &t.params {
                children.push(node("params", params.iter().map(param).collect()));
            }
            if !t.tags.is_empty() {
                children.push(idents("tags", &t.tags));
            }
            spanned("tool", t.span, with_doc(&t.doc, children))
        }
        Item::Evidence(e) => {
            let mut children = vec![ident(&e.name)];
            if let Some(fields) = &e.fields {
                children.push(node("fields", fields.iter().map(param).collect()));
            }
            if let Some(kind) = &e.by_kind {
                children.push(node("by", vec![ident(kind)]));
            }
            if let Some(span) = e.by_human {
                children.push(leaf(format!("by-human{}", at(span))));
            }
            if let Some(span) = e.bound {
                children.push(leaf(format!("bound{}", at(span))));
            }
            spanned("evidence", e.span, with_doc(&e.doc, children))
        }
        Item::Workflow(w) => {
            let mut children = vec![ident(&w.name)];
            children.extend(w.body.iter().map(workflow_item));
            spanned("workflow", w.span, with_doc(&w.doc, children))
        }
        Item::Rule(r) => rule(r),
        Item::Fixture(f) => {
            let mut children = vec![ident(&f.name), ident(&f.kind)];
            if !f.roles.is_empty() {
                children.push(idents("roles", &f.roles));
            }
            if !f.attrs.is_empty() {
                children.push(node("attrs", f.attrs.iter().map(field_value).collect()));
            }
            spanned("fixture", f.span, with_doc(&f.doc, children))
        }
        Item::Test(t) => {
            let mut children = vec![string(&t.name)];
            children.extend(t.expectations.iter().map(expectation));
            spanned("test", t.span, with_doc(&t.doc, children))
        }
        Item::Assert(a) => {
            let mut children = vec![string(&a.name)];
            children.extend(a.claims.iter().map(claim));
            spanned("assert", a.span, with_doc(&a.doc, children))
        }
        Item::Error(span) => spanned("error", *span, Vec::new()),
    }
}

fn claim(c: &Claim) -> Tree {
    let mut children = Vec::new();
    let head = match &c.kind {
        ClaimKind::NeverAllow { via, target: t } => {
            children.extend(via.iter().map(|w| node("via", vec![ident(w)])));
            children.push(target(t));
            "never-allow"
        }
        ClaimKind::NeverStart { workflow } => {
            children.push(ident(workflow));
            "never-start"
        }
    };
    conditions(&mut children, &c.when, &c.unless);
    spanned(head, c.span, with_doc(&c.doc, children))
}

fn value_decl(head: &str, d: &ValueDecl) -> Tree {
    spanned(head, d.span, with_doc(&d.doc, vec![ident(&d.name), type_expr(&d.ty)]))
}

fn type_expr(t: &TypeExpr) -> Tree {
    match &t.kind {
        TypeKind::String => spanned("string", t.span, vec![]),
        TypeKind::Int => spanned("int", t.span, vec![]),
        TypeKind::Bool => spanned("bool", t.span, vec![]),
        TypeKind::Duration => spanned("duration", t.span, vec![]),
        TypeKind::StringList => spanned("list-of-string", t.span, vec![]),
        TypeKind::Command => spanned("command", t.span, vec![]),
        TypeKind::Path => spanned("path", t.span, vec![]),
        TypeKind::Enum(values) => spanned("enum", t.span, values.iter().map(string).collect()),
        TypeKind::Unknown(name) => spanned("unknown-type", t.span, vec![ident(name)]),
    }
}

fn param(p: &Param) -> Tree {
    spanned("param", p.span, vec![ident(&p.name), type_expr(&p.ty)])
}

fn entitlement(e: &Entitlement) -> Tree {
    let mut children = vec![target(&e.target)];
    conditions(&mut children, &e.when, &e.unless);
    spanned("may", e.span, with_doc(&e.doc, children))
}

fn workflow_item(i: &WorkflowItem) -> Tree {
    match i {
        WorkflowItem::Rule(r) => rule(r),
        WorkflowItem::MaxDepth(n) => {
            node("max_depth", vec![leaf(format!("{}{}", n.value, at(n.span)))])
        }
        WorkflowItem::Ttl(d) => node("ttl", vec![duration(d)]),
        WorkflowItem::Error(span) => spanned("error", *span, Vec::new()),
    }
}

fn duration(d: &DurationLit) -> Tree {
    leaf(format!("{}{}={}s{}", d.amount, d.unit, d.seconds, at(d.span)))
}

fn conditions(children: &mut Vec<Tree>, when: &Option<Expr>, unless: &Option<Expr>) {
    if let Some(e) = when {
        children.push(node("when", vec![expr(e)]));
    }
    if let Some(e) = unless {
        children.push(node("unless", vec![expr(e)]));
    }
}

fn rule(r: &Rule) -> Tree {
    let mut children = Vec::new();
    let head = match &r.kind {
        RuleKind::Start { by, when, unless, require } => {
            if !by.is_empty() {
                children.push(idents("by", by));
            }
            conditions(&mut children, when, unless);
            requirements(&mut children, require);
            "start"
        }
        RuleKind::Allow { target: t, when, unless, require } => {
            children.push(target(t));
            conditions(&mut children, when, unless);
            requirements(&mut children, require);
            "allow"
        }
        RuleKind::Deny { target: t, when, unless, because } => {
            children.push(target(t));
            conditions(&mut children, when, unless);
            children.extend(because.iter().map(|b| node("because", vec![string(b)])));
            "deny"
        }
        RuleKind::DenyStart { start, when, unless, because } => {
            children.push(leaf(format!("start{}", at(*start))));
            conditions(&mut children, when, unless);
            children.extend(because.iter().map(|b| node("because", vec![string(b)])));
            "deny-start"
        }
        RuleKind::RequireFor { require, target: t, when, unless } => {
            requirements(&mut children, require);
            children.push(target(t));
            conditions(&mut children, when, unless);
            "require-for"
        }
    };
    spanned(head, r.span, with_doc(&r.doc, children))
}

fn requirements(children: &mut Vec<Tree>, list: &[EvidenceRequirement]) {
    if list.is_empty() {
        return;
    }
    children.push(node("require", list.iter().map(requirement).collect()));
}

fn requirement(req: &EvidenceRequirement) -> Tree {
    let mut parts = Vec::new();
    if let Some(count) = &req.count {
        parts.push(leaf(format!("{}{}", count.value, at(count.span))));
    }
    parts.push(ident(&req.name));
    if !req.fields.is_empty() {
        parts.push(node("fields", req.fields.iter().map(field_value).collect()));
    }
    if let Some(by) = &req.by {
        parts.push(node("by", vec![ident(by)]));
    }
    spanned("evidence", req.span, parts)
}

fn pattern(p: &CommandPattern) -> Tree {
    let items = p.items.iter().map(|item| match item {
        PatternItem::Word(word) => string(word),
        PatternItem::Rest(span) => leaf(format!("...{}", at(*span))),
    });
    spanned("pattern", p.span, items.collect())
}

fn target(t: &Target) -> Tree {
    match &t.kind {
        TargetKind::Tool(name) => spanned("tool", t.span, vec![leaf(name.text.clone())]),
        TargetKind::Glob(pattern) => spanned("glob", t.span, vec![leaf(format!("{pattern:?}"))]),
        TargetKind::All => spanned("all-tools", t.span, vec![]),
        TargetKind::Tags(tags) => spanned("tags", t.span, tags.iter().map(ident).collect()),
        TargetKind::Start => spanned("start", t.span, vec![]),
    }
}

fn field_value(f: &FieldValue) -> Tree {
    spanned("field", f.span, vec![ident(&f.name), expr(&f.value)])
}

fn expr(e: &Expr) -> Tree {
    let s = e.span;
    let plain = |text: String| leaf(format!("{text}{}", at(s)));
    match &e.kind {
        ExprKind::Bool(b) => plain(b.to_string()),
        ExprKind::Str(v) => plain(format!("{v:?}")),
        ExprKind::Int(i) => plain(i.to_string()),
        ExprKind::Duration(d) => duration(d),
        ExprKind::List(items) => spanned("list", s, items.iter().map(string).collect()),
        ExprKind::Name(name) => spanned("name", s, vec![ident(name)]),
        ExprKind::Principal(p, span) => {
            spanned("principal", s, vec![leaf(format!("{}{}", p.as_str(), at(*span)))])
        }
        ExprKind::Field { principal, principal_span, field } => spanned(
            "field-of",
            s,
            vec![leaf(format!("{}{}", principal.as_str(), at(*principal_span))), ident(field)],
        ),
        ExprKind::Depth => plain("depth".to_string()),
        ExprKind::Context(name) => spanned("context", s, vec![ident(name)]),
        ExprKind::Compare { op, op_span, lhs, rhs } => {
            spanned(op.as_str(), s, vec![leaf(format!("op{}", at(*op_span))), expr(lhs), expr(rhs)])
        }
        ExprKind::In { value, list } => spanned("in", s, vec![expr(value), expr(list)]),
        ExprKind::Contains { list, value } => spanned("contains", s, vec![expr(list), expr(value)]),
        ExprKind::Matches { value, pattern } => {
            spanned("matches", s, vec![expr(value), string(pattern)])
        }
        ExprKind::Quantified { quantifier, list, pattern } => {
            let head = match quantifier {
                Quantifier::Any => "any-matches",
                Quantifier::All => "all-matches",
            };
            spanned(head, s, vec![expr(list), string(pattern)])
        }
        ExprKind::HasRole { principal, principal_span, role } => spanned(
            "has-role",
            s,
            vec![leaf(format!("{}{}", principal.as_str(), at(*principal_span))), ident(role)],
        ),
        ExprKind::Not(inner) => spanned("not", s, vec![expr(inner)]),
        ExprKind::And(l, r) => spanned("and", s, vec![expr(l), expr(r)]),
        ExprKind::Or(l, r) => spanned("or", s, vec![expr(l), expr(r)]),
        ExprKind::Paren(inner) => spanned("paren", s, vec![expr(inner)]),
        ExprKind::Runs { command, op_span, pattern: p } => {
            spanned("runs", s, vec![leaf(format!("op{}", at(*op_span))), expr(command), pattern(p)])
        }
        ExprKind::RunsOnly { command, op_span, patterns, list_span } => {
            let list = spanned("patterns", *list_span, patterns.iter().map(pattern).collect());
            spanned("runs-only", s, vec![leaf(format!("op{}", at(*op_span))), expr(command), list])
        }
        ExprKind::Under { path, op_span, dir } => {
            spanned("under", s, vec![leaf(format!("op{}", at(*op_span))), expr(path), string(dir)])
        }
        ExprKind::Calls { target: t, within } => {
            let mut children = vec![target(t)];
            children.extend(within.iter().map(|d| node("within", vec![duration(d)])));
            spanned("calls", s, children)
        }
        ExprKind::Given(req) => spanned("given", s, vec![requirement(req)]),
    }
}

fn expectation(e: &Expectation) -> Tree {
    let outcome = match e.outcome {
        Outcome::Allow => "allow",
        Outcome::Deny => "deny",
        Outcome::Pending => "pending",
    };
    let mut children = vec![leaf(format!("{outcome}{}", at(e.outcome_span)))];
    if let Some(missing) = &e.missing {
        children.push(idents("missing", missing));
    }
    children.push(request(&e.request));
    spanned("expect", e.span, with_doc(&e.doc, children))
}

fn request(r: &TestRequest) -> Tree {
    let mut children = vec![idents("chain", &r.chain)];
    match &r.action {
        TestAction::Call { workflow, tool, args } => {
            let mut call = vec![ident(workflow), leaf(format!("{}{}", tool.text, at(tool.span)))];
            call.extend(args.iter().map(field_value));
            children.push(node("calls", call));
        }
        TestAction::Start { workflow, ttl } => {
            let mut start = vec![ident(workflow)];
            start.extend(ttl.iter().map(|d| node("ttl", vec![duration(d)])));
            children.push(node("starts", start));
        }
    }
    if !r.evidence.is_empty() {
        let given = r.evidence.iter().map(|g| {
            let mut parts = vec![ident(&g.name)];
            parts.extend(g.fields.iter().map(field_value));
            parts.extend(g.by.iter().map(|b| node("by", vec![ident(b)])));
            spanned("given", g.span, parts)
        });
        children.push(node("with", given.collect()));
    }
    if !r.context.is_empty() {
        children.push(node("context", r.context.iter().map(field_value).collect()));
    }
    children.extend(r.cwd.iter().map(|cwd| node("in", vec![string(cwd)])));
    children.extend(r.time.iter().map(|time| node("at", vec![string(time)])));
    if let Some(history) = &r.history {
        let entries = history.iter().map(|e| {
            let mut parts = vec![leaf(format!("{}{}", e.tool.text, at(e.tool.span)))];
            match &e.at {
                Some(HistoryTime::At(time)) => parts.push(node("at", vec![string(time)])),
                Some(HistoryTime::Ago(d)) => parts.push(node("ago", vec![duration(d)])),
                None => {}
            }
            spanned("call", e.span, parts)
        });
        children.push(node("after", entries.collect()));
    }
    spanned("request", r.span, children)
}
