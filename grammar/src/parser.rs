//! The parser: source text to [`SourceFile`]. It never fails and never panics.
//!
//! # Strategy
//!
//! 1. [`crate::lexer`] finds the comments and coarse tokens of the whole file.
//! 2. [`split::top_level`] cuts the tokens into pieces, one per declaration: a piece starts at
//!    a keyword that begins a declaration or top-level rule, outside braces.
//! 3. Each piece is checked for excessive nesting (the pest parser is recursive), parsed with
//!    the pest grammar and turned into a node by [`build::Builder`].
//! 4. A piece that fails becomes [`Item::Error`] with exactly one [`ParseError`], and parsing
//!    goes on with the next piece. Two refinements keep good text around a mistake:
//!    - a declaration with a body (workflow, role, test, assertion) is re-parsed line by line,
//!      so that a typo in one rule costs only that rule ([`WorkflowItem::Error`]; for an
//!      entitlement, an expectation or a claim, an [`Item::Error`] right after its role, test
//!      or assertion);
//!    - when a complete node is followed by lines that do not parse (a misspelled keyword does
//!      not start a new piece), the node is kept and only the rest is an error.

mod build;
mod docs;
mod errors;
mod reuse;
mod split;

use std::ops::Range;

use pest::Parser as _;
use pest::iterators::Pair;

use crate::ast::{
    AssertDecl, Claim, Entitlement, Expectation, Ident, Item, ParseError, ParseErrorKind, RoleDecl,
    SourceFile, Span, StrLit, TestDecl, WorkflowDecl, WorkflowItem,
};
use crate::lexer::{self, Tok};
use build::Builder;
use docs::DocIndex;
use errors::{PieceCtx, Within};
pub use reuse::Reuse;

#[derive(pest_derive::Parser)]
#[grammar = "writ.pest"]
pub(crate) struct WritParser;

/// Parses a writ source file. Never fails: syntax errors are reported in
/// [`SourceFile::errors`], and the text they cover becomes [`Item::Error`] (or
/// [`WorkflowItem::Error`]) while the rest of the file is parsed normally.
pub fn parse(source: &str) -> SourceFile {
    parse_reusing(source, &mut Reuse::default())
}

/// Parses like [`parse`], taking the declarations whose text is unchanged since the parse that
/// filled `reuse` from it instead of parsing them again, and leaving in `reuse` the
/// declarations of `source` for the next call. The result is always the same as [`parse`]'s.
pub fn parse_reusing(source: &str, reuse: &mut Reuse) -> SourceFile {
    if u32::try_from(source.len()).is_err() {
        *reuse = Reuse::default();
        return too_large(source);
    }
    let lexed = lexer::lex(source);
    let docs = DocIndex::new(source, &lexed.comments);
    let mut parser = Parser { src: source, toks: &lexed.tokens, docs: &docs, errors: Vec::new() };
    let mut items = Vec::new();
    let mut next = Reuse::default();
    for piece in split::top_level(source, &lexed.tokens) {
        let span = parser.span_of(&piece);
        let text = &source[span.range()];
        let doc = docs.get(span.start);
        if let Some((key, mut cached)) = reuse.pieces.remove_entry(text)
            && cached.move_to(span.start, &doc)
        {
            items.push(cached.item.clone());
            next.pieces.insert(key, cached);
            next.reused += 1;
            continue;
        }
        let errors = parser.errors.len();
        let parsed = parser.piece::<Item>(piece);
        if let ([Parsed::Node(item)], true) = (parsed.as_slice(), parser.errors.len() == errors) {
            let cached = reuse::Cached { base: span.start, doc, item: item.clone() };
            next.pieces.insert(text.into(), cached);
        }
        items.extend(parsed.into_iter().map(|parsed| match parsed {
            Parsed::Node(item) => item,
            Parsed::Error(span) => Item::Error(span),
        }));
    }
    *reuse = next;
    SourceFile { items, comments: lexed.comments, errors: parser.errors }
}

fn too_large(source: &str) -> SourceFile {
    let span = Span::new(0, source.len().min(u32::MAX as usize));
    SourceFile {
        items: vec![Item::Error(span)],
        comments: Vec::new(),
        errors: vec![ParseError {
            message: "the file is too large: writ files are limited to 4 GiB".to_string(),
            span: Span::new(0, 0),
            expected: Vec::new(),
            kind: ParseErrorKind::Limit,
        }],
    }
}

struct Parser<'a> {
    src: &'a str,
    toks: &'a [Tok],
    docs: &'a DocIndex,
    errors: Vec<ParseError>,
}

/// A piece of text parsed as a node, or the span of text that did not parse (its error is in
/// [`Parser::errors`]).
enum Parsed<T> {
    Node(T),
    Error(Span),
}

/// Why a piece did not become a node.
enum Failure {
    /// pest could not parse it.
    Syntax(ParseError),
    /// Too deeply nested to hand to pest, or parsed but rejected by the builder.
    Other(ParseError),
}

impl Failure {
    fn into_error(self) -> ParseError {
        match self {
            Failure::Syntax(e) | Failure::Other(e) => e,
        }
    }
}

/// What a piece parses into: a top-level item, or a line of a declaration's body.
trait Node: Sized {
    const WITHIN: Within;
    /// The grammar rule for exactly one node.
    const WHOLE: Rule;
    /// The grammar rule for one node followed by anything.
    const PREFIX: Rule;
    /// The rule of the node itself inside `WHOLE` and `PREFIX`.
    const NODE: Rule;

    fn build(builder: &Builder<'_>, pair: Pair<'_, Rule>) -> Result<Self, ParseError>;

    /// A finer recovery than "the whole piece is an error", if there is one.
    fn recover(_parser: &mut Parser<'_>, _range: &Range<usize>) -> Option<Vec<Parsed<Self>>> {
        None
    }
}

impl Node for Item {
    const WITHIN: Within = Within::File;
    const WHOLE: Rule = Rule::item_only;
    const PREFIX: Rule = Rule::item_prefix;
    const NODE: Rule = Rule::item;

    fn build(builder: &Builder<'_>, pair: Pair<'_, Rule>) -> Result<Self, ParseError> {
        builder.item(pair)
    }

    fn recover(parser: &mut Parser<'_>, range: &Range<usize>) -> Option<Vec<Parsed<Self>>> {
        parser.recover_block(range)
    }
}

impl Node for WorkflowItem {
    const WITHIN: Within = Within::Workflow;
    const WHOLE: Rule = Rule::workflow_item_only;
    const PREFIX: Rule = Rule::workflow_item_prefix;
    const NODE: Rule = Rule::workflow_item;

    fn build(builder: &Builder<'_>, pair: Pair<'_, Rule>) -> Result<Self, ParseError> {
        builder.workflow_item(pair)
    }
}

impl Node for Entitlement {
    const WITHIN: Within = Within::Role;
    const WHOLE: Rule = Rule::entitlement_only;
    const PREFIX: Rule = Rule::entitlement_prefix;
    const NODE: Rule = Rule::entitlement;

    fn build(builder: &Builder<'_>, pair: Pair<'_, Rule>) -> Result<Self, ParseError> {
        builder.entitlement(pair)
    }
}

impl Node for Expectation {
    const WITHIN: Within = Within::Test;
    const WHOLE: Rule = Rule::expectation_only;
    const PREFIX: Rule = Rule::expectation_prefix;
    const NODE: Rule = Rule::expectation;

    fn build(builder: &Builder<'_>, pair: Pair<'_, Rule>) -> Result<Self, ParseError> {
        builder.expectation(pair)
    }
}

impl Node for Claim {
    const WITHIN: Within = Within::Assert;
    const WHOLE: Rule = Rule::claim_only;
    const PREFIX: Rule = Rule::claim_prefix;
    const NODE: Rule = Rule::claim;

    fn build(builder: &Builder<'_>, pair: Pair<'_, Rule>) -> Result<Self, ParseError> {
        builder.claim(pair)
    }
}

impl<'a> Parser<'a> {
    /// Parses the tokens `range` as one node, recovering as well as possible.
    fn piece<T: Node>(&mut self, range: Range<usize>) -> Vec<Parsed<T>> {
        let failure = match self.whole::<T>(&range) {
            Ok(node) => return vec![Parsed::Node(node)],
            Err(failure) => failure,
        };
        if let Some(nodes) = T::recover(self, &range) {
            return nodes;
        }
        let nodes = match &failure {
            Failure::Syntax(error) => self.keep_complete_prefix::<T>(&range, error),
            Failure::Other(_) => None,
        };
        self.errors.push(failure.into_error());
        nodes.unwrap_or_else(|| vec![Parsed::Error(self.span_of(&range))])
    }

    /// Parses the tokens `range` as exactly one node.
    fn whole<T: Node>(&self, range: &Range<usize>) -> Result<T, Failure> {
        let span = self.span_of(range);
        if let Some(deep) = split::too_deep(self.src, self.tokens(range)) {
            let deep = self.toks.get(range.start + deep).map_or(span, Tok::span);
            return Err(Failure::Other(errors::too_deep(deep)));
        }
        let text = &self.src[span.range()];
        let pairs = WritParser::parse(T::WHOLE, text).map_err(|e| {
            let piece = PieceCtx {
                src: self.src,
                toks: self.toks,
                range: range.clone(),
                within: T::WITHIN,
            };
            Failure::Syntax(errors::from_pest(&e, &piece))
        })?;
        let node = pairs.flatten().find(|p| p.as_rule() == T::NODE);
        let node = node.ok_or_else(|| Failure::Other(build_failure(span)))?;
        T::build(&self.builder(range), node).map_err(Failure::Other)
    }

    /// When a piece starts with a complete node and the syntax error is on a later line (a
    /// misspelled keyword does not start a new piece), keeps the node and makes only the rest
    /// of the piece an error.
    fn keep_complete_prefix<T: Node>(
        &self,
        range: &Range<usize>,
        error: &ParseError,
    ) -> Option<Vec<Parsed<T>>> {
        let at = error.span.start as usize;
        let rest = range.clone().find(|&i| self.toks.get(i).is_some_and(|t| t.start == at))?;
        if rest == range.start || !self.toks.get(rest).is_some_and(|t| t.first_on_line) {
            return None;
        }
        let span = self.span_of(range);
        let pairs = WritParser::parse(T::PREFIX, &self.src[span.range()]).ok()?;
        let node = pairs.flatten().find(|p| p.as_rule() == T::NODE)?;
        let builder = self.builder(range);
        let node_end = builder.span(&node).end as usize;
        if node_end > at || !self.src[node_end..at].contains('\n') {
            return None;
        }
        let node = T::build(&builder, node).ok()?;
        Some(vec![Parsed::Node(node), Parsed::Error(self.span_of(&(rest..range.end)))])
    }

    /// Re-parses a declaration with a body (workflow, role, test or assertion) that failed as a
    /// whole, one
    /// body line at a time. `None` if its header does not parse or nothing in it fails (then the
    /// whole piece is one error).
    fn recover_block(&mut self, range: &Range<usize>) -> Option<Vec<Parsed<Item>>> {
        let (src, toks) = (self.src, self.toks);
        let keyword = toks.get(range.start)?.text(src);
        let (head_rule, starters): (Rule, &[&str]) = match keyword {
            "workflow" => (Rule::workflow_head, split::WORKFLOW_BODY),
            "role" => (Rule::role_head, split::ROLE_BODY),
            "test" => (Rule::test_head, split::TEST_BODY),
            "assert" => (Rule::assert_head, split::ASSERT_BODY),
            _ => return None,
        };
        let open = range.clone().find(|&i| toks.get(i).is_some_and(|t| t.is_punct(src, "{")))?;
        let start = self.start_of(range);
        let head = WritParser::parse(head_rule, src.get(start..toks.get(open)?.end)?).ok()?;
        let head = block_head(&self.builder(range), keyword, head.flatten().collect())?;

        let errors_before = self.errors.len();
        let doc = self.docs.get(start as u32);
        let close = matching_brace(src, toks, open, range.end);
        let end = close.and_then(|close| toks.get(close)).map_or(self.end_of(range), |t| t.end);
        let span = Span::new(start, end);
        let lines = split::body(src, toks, open + 1..close.unwrap_or(range.end), starters);
        // Broken entitlements, expectations and claims (which have no error node of their own).
        let mut broken = Vec::new();
        let (item, name) = match head {
            BlockHead::Workflow(name) => {
                let body = self.lines::<WorkflowItem>(lines);
                let body = body.into_iter().map(|line| line.or_else(WorkflowItem::Error));
                let body = body.collect();
                let label = format!("workflow `{}`", name.name);
                (Item::Workflow(WorkflowDecl { doc, name, body, span }), label)
            }
            BlockHead::Role(name, extends) => {
                let (body, errors) = partition(self.lines::<Entitlement>(lines));
                broken = errors;
                let label = format!("role `{}`", name.name);
                let body = Some(body);
                (Item::Role(RoleDecl { doc, name, extends, body, span }), label)
            }
            BlockHead::Test(name) => {
                let (expectations, errors) = partition(self.lines::<Expectation>(lines));
                broken = errors;
                let label = format!("test {}", describe_string(&name));
                (Item::Test(TestDecl { doc, name, expectations, span }), label)
            }
            BlockHead::Assert(name) => {
                let (claims, errors) = partition(self.lines::<Claim>(lines));
                broken = errors;
                let label = format!("assertion {}", describe_string(&name));
                (Item::Assert(AssertDecl { doc, name, claims, span }), label)
            }
        };
        let mut parsed = vec![Parsed::Node(item)];
        parsed.extend(broken.into_iter().map(Parsed::Error));
        parsed.extend(self.after_block(range, close, &name).map(Parsed::Error));
        (self.errors.len() > errors_before).then_some(parsed)
    }

    /// Parses the lines of a body.
    fn lines<T: Node>(&mut self, lines: Vec<Range<usize>>) -> Vec<Parsed<T>> {
        lines.into_iter().flat_map(|line| self.piece::<T>(line)).collect()
    }

    /// Reports a body's missing `}` or the text after it, in a piece that ends at
    /// `range.end`; returns the span of that text.
    fn after_block(
        &mut self,
        range: &Range<usize>,
        close: Option<usize>,
        what: &str,
    ) -> Option<Span> {
        let (src, toks) = (self.src, self.toks);
        let Some(close) = close else {
            let end = self.end_of(range);
            self.errors.push(errors::unclosed(src, what, end, toks.get(range.end)));
            return None;
        };
        let rest = close + 1..range.end;
        if rest.is_empty() {
            return None;
        }
        if let Some(first) = toks.get(rest.start) {
            self.errors.push(errors::unexpected(src, first, Within::File));
        }
        Some(self.span_of(&rest))
    }

    /// A builder for the piece of tokens `range`.
    fn builder(&self, range: &Range<usize>) -> Builder<'_> {
        Builder { base: self.start_of(range), docs: self.docs, toks: self.tokens(range) }
    }

    /// The tokens of the piece `range` (pieces come from `split` and lie within `toks`).
    fn tokens(&self, range: &Range<usize>) -> &'a [Tok] {
        self.toks.get(range.clone()).unwrap_or_default()
    }

    /// Where the piece `range` starts: its first token's start.
    fn start_of(&self, range: &Range<usize>) -> usize {
        self.toks.get(range.start).map_or(0, |t| t.start)
    }

    /// Where the piece `range` ends: its last token's end (its start if it has no token).
    fn end_of(&self, range: &Range<usize>) -> usize {
        let last = range.end.checked_sub(1).and_then(|i| self.toks.get(i));
        last.map_or_else(|| self.start_of(range), |t| t.end)
    }

    /// From the start of the first token to the end of the last one.
    fn span_of(&self, range: &Range<usize>) -> Span {
        Span::new(self.start_of(range), self.end_of(range))
    }
}

/// The header of a declaration with a body.
enum BlockHead {
    Workflow(Ident),
    Role(Ident, Vec<Ident>),
    Test(StrLit),
    Assert(StrLit),
}

/// The parts of a block's header (`workflow NAME {`, `role NAME extends ... {`, `test "NAME" {`,
/// `assert "NAME" {`).
fn block_head(
    builder: &Builder<'_>,
    keyword: &str,
    head: Vec<Pair<'_, Rule>>,
) -> Option<BlockHead> {
    let find = |of: Rule| head.iter().find(|p| p.as_rule() == of);
    Some(match keyword {
        "workflow" => BlockHead::Workflow(builder.ident(find(Rule::decl_name)?)),
        "role" => {
            let extends = find(Rule::extends).map(|p| builder.idents(p.clone()));
            BlockHead::Role(builder.ident(find(Rule::decl_name)?), extends.unwrap_or_default())
        }
        "assert" => BlockHead::Assert(builder.string(find(Rule::assert_name)?).ok()?),
        _ => BlockHead::Test(builder.string(find(Rule::string)?).ok()?),
    })
}

impl<T> Parsed<T> {
    /// The node, or one made from the error's span.
    fn or_else(self, error: impl FnOnce(Span) -> T) -> T {
        match self {
            Parsed::Node(node) => node,
            Parsed::Error(span) => error(span),
        }
    }
}

/// The nodes, and the spans of the errors.
fn partition<T>(parsed: Vec<Parsed<T>>) -> (Vec<T>, Vec<Span>) {
    let mut nodes = Vec::new();
    let mut errors = Vec::new();
    for p in parsed {
        match p {
            Parsed::Node(node) => nodes.push(node),
            Parsed::Error(span) => errors.push(span),
        }
    }
    (nodes, errors)
}

/// A test's or an assertion's name in a message: `"name"`, shortened.
fn describe_string(name: &StrLit) -> String {
    format!("`\"{}\"`", errors::shorten(&name.value))
}

/// The index of the `}` that closes the `{` at `open`, looking no further than `end`.
fn matching_brace(src: &str, toks: &[Tok], open: usize, end: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, tok) in toks.iter().enumerate().take(end).skip(open) {
        if tok.is_punct(src, "{") {
            depth += 1;
        } else if tok.is_punct(src, "}") {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

fn build_failure(span: Span) -> ParseError {
    ParseError {
        message: "internal error: unexpected syntax tree (please report this)".to_string(),
        span,
        expected: Vec::new(),
        kind: ParseErrorKind::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::*;

    fn parse_ok(src: &str) -> SourceFile {
        let file = parse(src);
        assert_eq!(file.errors, vec![], "{src}");
        file
    }

    fn rules(src: &str) -> Vec<RuleKind> {
        let file = parse_ok(src);
        file.items
            .into_iter()
            .flat_map(|item| match item {
                Item::Rule(rule) => vec![rule],
                Item::Workflow(w) => w
                    .body
                    .into_iter()
                    .filter_map(|i| if let WorkflowItem::Rule(r) = i { Some(r) } else { None })
                    .collect(),
                _ => vec![],
            })
            .map(|rule| rule.kind)
            .collect()
    }

    /// The condition of the single `deny x when ...` rule in `src`, as an S-expression.
    fn condition(cond: &str) -> String {
        let src = format!("deny x when {cond}");
        match rules(&src).pop() {
            Some(RuleKind::Deny { when: Some(expr), .. }) => sexp(&expr),
            other => panic!("{other:?}"),
        }
    }

    fn sexp(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Name(n) => n.name.clone(),
            ExprKind::Int(i) => i.to_string(),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Compare { op, lhs, rhs, .. } => {
                format!("({} {} {})", op.as_str(), sexp(lhs), sexp(rhs))
            }
            ExprKind::Not(x) => format!("(not {})", sexp(x)),
            ExprKind::And(a, b) => format!("(and {} {})", sexp(a), sexp(b)),
            ExprKind::Or(a, b) => format!("(or {} {})", sexp(a), sexp(b)),
            ExprKind::Paren(x) => format!("[{}]", sexp(x)),
            ExprKind::In { value, list } => format!("(in {} {})", sexp(value), sexp(list)),
            ExprKind::Matches { value, pattern } => {
                format!("(matches {} {:?})", sexp(value), pattern.value)
            }
            ExprKind::HasRole { principal, role, .. } => {
                format!("(has {} {})", principal.as_str(), role.name)
            }
            ExprKind::Runs { command, pattern, .. } => {
                format!("(runs {} {})", sexp(command), pattern_sexp(pattern))
            }
            ExprKind::RunsOnly { command, patterns, .. } => {
                let patterns: Vec<String> = patterns.iter().map(pattern_sexp).collect();
                format!("(runs-only {} {})", sexp(command), patterns.join(" "))
            }
            ExprKind::Under { path, dir, .. } => format!("(under {} {:?})", sexp(path), dir.value),
            ExprKind::Calls { target, within } => {
                let target = match &target.kind {
                    TargetKind::Tool(t) => t.text.clone(),
                    TargetKind::Glob(g) => g.clone(),
                    TargetKind::All => "*".to_string(),
                    TargetKind::Tags(tags) => {
                        let tags: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
                        format!("[{}]", tags.join(" "))
                    }
                    TargetKind::Start => "start".to_string(),
                };
                match within {
                    Some(d) => format!("(calls {target} {}s)", d.seconds),
                    None => format!("(calls {target})"),
                }
            }
            ExprKind::Given(req) => {
                let count = req.count.as_ref().map_or(String::new(), |c| format!("{} ", c.value));
                let by = req.by.as_ref().map_or(String::new(), |b| format!(" by {}", b.name));
                let fields = if req.fields.is_empty() { "" } else { "(..)" };
                format!("(given {count}{}{fields}{by})", req.name.name)
            }
            other => format!("{other:?}"),
        }
    }

    fn pattern_sexp(pattern: &CommandPattern) -> String {
        let items: Vec<String> = pattern
            .items
            .iter()
            .map(|item| match item {
                PatternItem::Word(word) => format!("{:?}", word.value),
                PatternItem::Rest(_) => "...".to_string(),
            })
            .collect();
        format!("[{}]", items.join(" "))
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(condition("not a == b"), "(not (== a b))");
        assert_eq!(condition("a or b and c"), "(or a (and b c))");
        assert_eq!(condition("a and b or c"), "(or (and a b) c)");
        assert_eq!(condition("a or b or c"), "(or (or a b) c)");
        assert_eq!(condition("a and b and c"), "(and (and a b) c)");
        assert_eq!(condition("not not a"), "(not (not a))");
        assert_eq!(condition("not (a or b) and c"), "(and (not [(or a b)]) c)");
        assert_eq!(condition("not x matches \"a*\""), "(not (matches x \"a*\"))");
        assert_eq!(condition("initiator has role r or x in y"), "(or (has initiator r) (in x y))");
    }

    #[test]
    fn commands_paths_and_history_bind_like_comparisons() {
        assert_eq!(condition(r#"c runs ["rm", ..., "-*r*"]"#), r#"(runs c ["rm" ... "-*r*"])"#);
        assert_eq!(condition(r#"c runs only [["ls"], [...]]"#), r#"(runs-only c ["ls"] [...])"#);
        assert_eq!(condition(r#"c runs ["only"]"#), r#"(runs c ["only"])"#);
        assert_eq!(condition("c runs only [] or c runs []"), "(or (runs-only c ) (runs c []))");
        assert_eq!(
            condition(r#"not c runs ["a"] and f under "src" or x"#),
            r#"(or (and (not (runs c ["a"])) (under f "src")) x)"#
        );
        assert_eq!(condition("calls(deploy within 24h) < 3"), "(< (calls deploy 86400s) 3)");
        assert_eq!(
            condition("calls([secret, prod]) > calls(*)"),
            "(> (calls [secret prod]) (calls *))"
        );
        assert_eq!(condition("calls(repo.*) == 0"), "(== (calls repo.*) 0)");
        assert_eq!(condition("not calls(x) > 0"), "(not (> (calls x) 0))");
        assert_eq!(
            condition(r#"given(2 ticket(p: "R") by lead) < 2"#),
            "(< (given 2 ticket(..) by lead) 2)"
        );
        for cond in [r#"c runs ["a"] == true"#, r#"f under "a" under "b""#, r#"a == b runs ["c"]"#]
        {
            let file = parse(&format!("deny x when {cond}"));
            assert!(file.errors[0].message.starts_with("comparisons cannot be chained"), "{cond}");
        }
    }

    #[test]
    fn operator_spans() {
        let src = r#"deny x when c runs  only [["a", ...]] or f under "d""#;
        let Some(RuleKind::Deny { when: Some(expr), .. }) = rules(src).pop() else { panic!() };
        let ExprKind::Or(lhs, rhs) = expr.kind else { panic!() };
        let ExprKind::RunsOnly { op_span, list_span, patterns, .. } = lhs.kind else { panic!() };
        assert_eq!(&src[op_span.range()], "runs  only");
        assert_eq!(&src[list_span.range()], r#"[["a", ...]]"#);
        assert_eq!(&src[patterns[0].span.range()], r#"["a", ...]"#);
        let PatternItem::Rest(rest) = patterns[0].items[1] else { panic!() };
        assert_eq!(&src[rest.range()], "...");
        let ExprKind::Under { op_span, dir, .. } = rhs.kind else { panic!() };
        assert_eq!((&src[op_span.range()], &src[dir.span.range()]), ("under", r#""d""#));
    }

    #[test]
    fn command_and_path_are_types_but_not_keywords() {
        let file = parse_ok("tool t(command: command, path: path, s: [string])");
        let Item::Tool(tool) = &file.items[0] else { panic!() };
        let types: Vec<&TypeKind> = tool.params.iter().flatten().map(|p| &p.ty.kind).collect();
        assert_eq!(types, vec![&TypeKind::Command, &TypeKind::Path, &TypeKind::StringList]);
    }

    #[test]
    fn within_at_after_and_ago_are_contextual() {
        parse_ok(
            "tool within
tool at
tool after.ago
fixture ago = human",
        );
        assert_eq!(
            condition("calls(within within 1h) > within"),
            "(> (calls within 3600s) within)"
        );
        let file = parse_ok(
            "test \"t\" {\n  expect allow: at via after calls ago(at: \"x\") at \"t\" after [at at \"u\", ago 1h ago, after]\n}",
        );
        let Item::Test(test) = &file.items[0] else { panic!() };
        let request = &test.expectations[0].request;
        assert_eq!(request.chain[0].name, "at");
        assert_eq!(request.time.as_ref().map(|t| t.value.as_str()), Some("t"));
        let history = request.history.as_ref().unwrap();
        let tools: Vec<&str> = history.iter().map(|e| e.tool.text.as_str()).collect();
        assert_eq!(tools, vec!["at", "ago", "after"]);
        assert!(matches!(&history[0].at, Some(HistoryTime::At(t)) if t.value == "u"));
        assert!(matches!(&history[1].at, Some(HistoryTime::Ago(d)) if d.seconds == 3600));
        assert_eq!(history[2].at, None);
    }

    #[test]
    fn test_run_clauses() {
        let request = |clauses: &str| {
            let src = format!("test \"t\" {{ expect deny: a starts w {clauses} }}");
            let file = parse_ok(&src);
            let Some(Item::Test(test)) = file.items.into_iter().next() else { panic!() };
            test.expectations.into_iter().next().unwrap().request
        };
        let none = request("");
        assert_eq!((none.cwd, none.time, none.history), (None, None, None));
        let empty = request(r#"ttl 1h in "/w" after []"#);
        assert_eq!(empty.cwd.map(|c| c.value), Some("/w".to_string()));
        assert_eq!(empty.history, Some(vec![]));
        assert!(matches!(empty.action, TestAction::Start { ttl: Some(_), .. }));
        for (clauses, message) in [
            (r#"at "t" in "/w""#, "`in` must come before `at`"),
            (r#"after [] at "t""#, "`at` must come before `after`"),
            (r#"in "/a" in "/b""#, "duplicate `in` clause"),
        ] {
            let file = parse(&format!("test \"t\" {{ expect deny: a starts w {clauses} }}"));
            assert_eq!(file.errors.len(), 1, "{clauses}");
            assert_eq!(file.errors[0].message, message);
        }
    }

    #[test]
    fn assertions_and_claims() {
        let src = "/// A.\nassert \"a\" {\n  /// C.\n  never allow via w repo.* when x unless y\n  never start w\n  never allow [s]\n}\nassert \"b\" {}";
        let file = parse_ok(src);
        let Item::Assert(a) = &file.items[0] else { panic!("{:?}", file.items) };
        assert_eq!(a.name.value, "a");
        assert_eq!(a.doc.as_ref().unwrap().text(), "A.");
        assert_eq!(a.claims.len(), 3);
        let claim = &a.claims[0];
        assert_eq!(claim.doc.as_ref().unwrap().text(), "C.");
        assert_eq!(&src[claim.span.range()], "never allow via w repo.* when x unless y");
        let ClaimKind::NeverAllow { via: Some(via), target } = &claim.kind else { panic!() };
        assert_eq!((via.name.as_str(), &target.kind), ("w", &TargetKind::Glob("repo.*".into())));
        assert!(claim.when.is_some() && claim.unless.is_some());
        assert!(
            matches!(&a.claims[1].kind, ClaimKind::NeverStart { workflow } if workflow.name == "w")
        );
        assert!(
            matches!(&a.claims[2].kind, ClaimKind::NeverAllow { via: None, target } if matches!(target.kind, TargetKind::Tags(_)))
        );
        assert!(matches!(&file.items[1], Item::Assert(b) if b.claims.is_empty()));
    }

    #[test]
    fn a_typo_in_one_claim_keeps_the_others() {
        let src = "assert \"a\" {\n  never allow a\n  never allow b when x = 1\n  never start w\n}\nrole r";
        let file = parse(src);
        assert_eq!(file.errors.len(), 1);
        let [Item::Assert(a), Item::Error(span), Item::Role(_)] = file.items.as_slice() else {
            panic!("{:?}", file.items)
        };
        assert_eq!(a.claims.len(), 2);
        assert_eq!(&src[span.range()], "never allow b when x = 1");
    }

    #[test]
    fn comparisons_do_not_chain() {
        for cond in ["a == b == c", "a < b < c", "x in y in z", "x matches \"a\" == true"] {
            let file = parse(&format!("deny x when {cond}"));
            assert_eq!(file.errors.len(), 1, "{cond}");
            assert!(file.errors[0].message.starts_with("comparisons cannot be chained"), "{cond}");
            assert_eq!(file.errors[0].kind, ParseErrorKind::Syntax);
        }
        condition("(a == b) == c");
    }

    #[test]
    fn every_keyword_is_reserved_and_only_keywords_are() {
        for keyword in crate::KEYWORDS {
            let file = parse(&format!("fixture {keyword} = human"));
            assert_eq!(file.errors.len(), 1, "{keyword}");
            let message = format!("`{keyword}` is a reserved word and cannot be used as a name");
            assert_eq!(file.errors[0].message, message);
            assert_eq!(file.errors[0].kind, ParseErrorKind::ReservedWord);
            for word in [format!("{keyword}x"), format!("{keyword}_"), format!("x{keyword}")] {
                parse_ok(&format!("fixture {word} = human"));
            }
        }
    }

    #[test]
    fn keywords_match_whole_words_only() {
        let file = parse_ok("role roles { may tests_passed when initiator_x == anything }");
        let Item::Role(role) = &file.items[0] else { panic!() };
        assert_eq!(role.name.name, "roles");
        assert_eq!(condition("human == service"), "(== human service)");
        assert_eq!(condition("notx"), "notx");
    }

    #[test]
    fn tool_names_may_contain_keywords_after_a_dot() {
        let file =
            parse_ok("tool mcp.server.test(x: int)\nallow deploy.start when context.test == 1");
        let Item::Tool(tool) = &file.items[0] else { panic!() };
        assert_eq!(tool.name.text, "mcp.server.test");
        assert!(
            matches!(&rules("allow deploy.start")[0], RuleKind::Allow { target: Target { kind: TargetKind::Tool(t), .. }, .. } if t.text == "deploy.start")
        );
    }

    #[test]
    fn targets() {
        let target = |src: &str| match rules(src).pop() {
            Some(RuleKind::Deny { target, .. }) => target.kind,
            Some(RuleKind::RequireFor { target, .. }) => target.kind,
            other => panic!("{other:?}"),
        };
        assert_eq!(target("deny *"), TargetKind::All);
        assert_eq!(target("deny repo.*"), TargetKind::Glob("repo.*".into()));
        assert_eq!(target("deny mcp.*.read?"), TargetKind::Glob("mcp.*.read?".into()));
        assert!(matches!(target("deny [a, b]"), TargetKind::Tags(t) if t.len() == 2));
        assert_eq!(target("require x for start"), TargetKind::Start);
        assert!(matches!(rules("deny start")[0], RuleKind::DenyStart { .. }));
        assert!(matches!(target("deny start_x"), TargetKind::Tool(t) if t.text == "start_x"));
    }

    #[test]
    fn a_require_list_followed_by_for_is_its_own_rule() {
        let kinds = rules("workflow w {\n allow x require a, b by r\n require c for y\n}");
        assert!(matches!(&kinds[0], RuleKind::Allow { require, .. } if require.len() == 2));
        assert!(matches!(&kinds[1], RuleKind::RequireFor { require, .. } if require.len() == 1));
        let kinds = rules("allow x require a for y");
        assert!(matches!(&kinds[0], RuleKind::Allow { require, .. } if require.is_empty()));
        assert!(matches!(&kinds[1], RuleKind::RequireFor { .. }));
    }

    #[test]
    fn literals() {
        assert_eq!(condition("x == 9223372036854775807"), "(== x 9223372036854775807)");
        let file = parse("deny x when x == 9223372036854775808");
        assert!(file.errors[0].message.contains("too large"));
        let ttl = |src: &str| match &parse_ok(src).items[0] {
            Item::Workflow(w) => w.body[0].clone(),
            _ => panic!(),
        };
        match ttl("workflow w { ttl 7d }") {
            WorkflowItem::Ttl(d) => assert_eq!((d.amount, d.unit, d.seconds), (7, 'd', 604_800)),
            other => panic!("{other:?}"),
        }
        assert_eq!(condition(r#"x == "a\"\\\n\t\u{41}""#), r#"(== x "a\"\\\n\tA")"#);
        assert_eq!(parse("deny x when x == 30ms").errors.len(), 1);
    }

    #[test]
    fn declarations_without_parentheses_or_bodies() {
        let file = parse_ok("tool ping\ntool pong()\nrole r\nrole s {}\nevidence e by robot");
        assert!(matches!(&file.items[0], Item::Tool(t) if t.params.is_none()));
        assert!(matches!(&file.items[1], Item::Tool(t) if t.params == Some(vec![])));
        assert!(matches!(&file.items[2], Item::Role(r) if r.body.is_none()));
        assert!(matches!(&file.items[3], Item::Role(r) if r.body == Some(vec![])));
        let Item::Evidence(e) = &file.items[4] else { panic!() };
        assert_eq!(
            (e.by_human, e.by_kind.as_ref().map(|k| k.name.as_str())),
            (None, Some("robot"))
        );
    }

    #[test]
    fn spans_cover_the_source_of_each_node() {
        let src = "/// Doc\nworkflow w {\n  allow deploy when env == \"prod\" // c\n  ttl 1h\n}";
        let file = parse_ok(src);
        let Item::Workflow(w) = &file.items[0] else { panic!() };
        assert_eq!(&src[w.span.range()], &src[8..]);
        assert_eq!(&src[w.name.span.range()], "w");
        let WorkflowItem::Rule(rule) = &w.body[0] else { panic!() };
        assert_eq!(&src[rule.span.range()], "allow deploy when env == \"prod\"");
        let RuleKind::Allow { when: Some(cond), target, .. } = &rule.kind else { panic!() };
        assert_eq!(&src[target.span.range()], "deploy");
        assert_eq!(&src[cond.span.range()], "env == \"prod\"");
        let WorkflowItem::Ttl(ttl) = &w.body[1] else { panic!() };
        assert_eq!(&src[ttl.span.range()], "1h");
        assert_eq!(&src[w.doc.as_ref().unwrap().span.range()], "/// Doc");
        assert_eq!(file.comments.len(), 2);
    }

    #[test]
    fn documentation_attaches_to_rules_entitlements_and_expectations() {
        let src = "role r {\n  /// may doc\n  may x\n}\nworkflow w {\n  /// rule doc\n  allow x\n  /// not a doc\n  ttl 1h\n}\n\
                   test \"t\" {\n  /// expect doc\n  expect allow: a via w calls x\n}";
        let file = parse_ok(src);
        let Item::Role(RoleDecl { body: Some(body), .. }) = &file.items[0] else { panic!() };
        assert_eq!(body[0].doc.as_ref().unwrap().lines, vec!["may doc"]);
        let Item::Workflow(w) = &file.items[1] else { panic!() };
        let WorkflowItem::Rule(rule) = &w.body[0] else { panic!() };
        assert_eq!(rule.doc.as_ref().unwrap().text(), "rule doc");
        let Item::Test(t) = &file.items[2] else { panic!() };
        assert_eq!(t.expectations[0].doc.as_ref().unwrap().text(), "expect doc");
        assert_eq!(file.comments.iter().filter(|c| c.is_doc).count(), 4);
    }

    #[test]
    fn a_complete_declaration_survives_junk_on_the_lines_after_it() {
        for src in [
            "role r { may x }\nrol s { may y }",
            "deny x\n  wen a == b",
            "attribute a: int\nattribut b: int",
        ] {
            let file = parse(src);
            assert_eq!(file.errors.len(), 1, "{src}");
            assert!(
                matches!(
                    file.items.as_slice(),
                    [Item::Role(_) | Item::Rule(_) | Item::Attribute(_), Item::Error(_)]
                ),
                "{src}: {:?}",
                file.items
            );
            let Item::Error(span) = file.items[1] else { unreachable!() };
            assert_eq!(
                &src[span.range()],
                src.lines().skip(1).collect::<Vec<_>>().join("\n").trim()
            );
        }
    }

    #[test]
    fn a_typo_in_one_rule_keeps_the_others() {
        let src = "workflow w {\n  allow a\n  allow b when x = 1\n  allow c\n}\nrole r";
        let file = parse(src);
        assert_eq!(file.errors.len(), 1);
        let Item::Workflow(w) = &file.items[0] else { panic!("{:?}", file.items) };
        assert!(matches!(
            w.body.as_slice(),
            [WorkflowItem::Rule(_), WorkflowItem::Error(_), WorkflowItem::Rule(_)]
        ));
        let WorkflowItem::Error(span) = w.body[1] else { panic!() };
        assert_eq!(&src[span.range()], "allow b when x = 1");
        assert!(matches!(file.items[1], Item::Role(_)));
    }

    #[test]
    fn the_whole_file_rule_agrees_with_the_chunked_parser() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        for entry in std::fs::read_dir(dir).unwrap() {
            let src = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            assert!(WritParser::parse(super::Rule::file, &src).is_ok());
            assert_eq!(parse(&src).errors, vec![]);
        }
        for broken in ["role", "allow x when", "deny x because", "workflow w {"] {
            assert!(WritParser::parse(super::Rule::file, broken).is_err());
            assert!(!parse(broken).errors.is_empty());
        }
    }

    #[test]
    fn nesting_up_to_the_limit_parses() {
        let depth = split::MAX_NESTING;
        let cond = format!("{}a{}", "(".repeat(depth - 1), ")".repeat(depth - 1));
        parse_ok(&format!("deny x when {cond}"));
        let nots = format!("deny x when {}a", "not ".repeat(depth));
        parse_ok(&nots);
        let too_deep = parse(&format!("deny x when {}a", "not ".repeat(depth + 1)));
        assert!(too_deep.errors[0].message.starts_with("nesting is too deep"));
    }

    #[test]
    fn long_chains_are_bounded() {
        let ok = format!("deny x when a{}", " or a".repeat(build::MAX_EXPR_DEPTH - 1));
        parse_ok(&ok);
        let long = parse(&format!("deny x when a{}", " or a".repeat(100_000)));
        assert_eq!(long.errors.len(), 1);
        assert!(long.errors[0].message.contains("too complex"));
    }
}
