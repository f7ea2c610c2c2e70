//! Syntax error messages: pest's failure report turned into one readable [`ParseError`].
//!
//! Messages are lowercase and quote user text in backticks, in the style of Cedar:
//! "expected `:`, found `=`", "`allow` is a reserved word and cannot be used as a name".

use std::ops::Range;

use pest::error::{Error, ErrorVariant, InputLocation};

use super::Rule;
use super::split::MAX_NESTING;
use crate::ast::{ParseError, ParseErrorKind, Span};
use crate::is_keyword;
use crate::lexer::{Tok, TokKind};

/// Where a piece of text sits; it decides what may follow a complete piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Within {
    File,
    Workflow,
    Role,
    Test,
    Assert,
}

/// A piece of the source being parsed: a range of tokens of the whole file.
pub(crate) struct PieceCtx<'a> {
    pub src: &'a str,
    pub toks: &'a [Tok],
    pub range: Range<usize>,
    pub within: Within,
}

impl PieceCtx<'_> {
    /// Where the piece starts (pieces are never empty: `split` drops empty ranges).
    fn start(&self) -> usize {
        self.toks.get(self.range.start).map_or(0, |t| t.start)
    }

    fn end(&self) -> usize {
        let last = self.range.end.checked_sub(1).and_then(|i| self.toks.get(i));
        last.map_or_else(|| self.start(), |t| t.end)
    }

    /// The token at `offset` and the span to report. At the end of the piece, the token is
    /// whatever follows the piece (the next declaration, or nothing) and the span is empty, right
    /// after the piece's last token.
    fn found(&self, offset: usize) -> (Option<&Tok>, Span) {
        if offset >= self.end() {
            let end = self.end();
            return (self.toks.get(self.range.end), Span::new(end, end));
        }
        let toks = self.toks.get(self.range.clone()).unwrap_or_default();
        let index = toks.partition_point(|t| t.end <= offset);
        match toks.get(index) {
            Some(tok) => (Some(tok), tok.span()),
            None => (None, Span::new(offset, offset)),
        }
    }
}

/// The message for a piece that pest could not parse.
pub(crate) fn from_pest(error: &Error<Rule>, piece: &PieceCtx<'_>) -> ParseError {
    let relative = match error.location {
        InputLocation::Pos(pos) => pos,
        InputLocation::Span((start, _)) => start,
    };
    let offset = piece.start() + relative;
    match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => expected(piece, offset, positives),
        // pest's own call and stack limits.
        ErrorVariant::CustomError { .. } => ParseError {
            message: "this declaration is too complex to parse".to_string(),
            span: Span::new(piece.start(), piece.end()),
            expected: Vec::new(),
            kind: ParseErrorKind::Limit,
        },
    }
}

fn expected(piece: &PieceCtx<'_>, offset: usize, positives: &[Rule]) -> ParseError {
    let (tok, span) = piece.found(offset);
    let expected = expected_names(positives, piece.within);
    let (message, span, kind) =
        tok.and_then(|tok| special_case(piece, tok, positives)).unwrap_or_else(|| {
            let found = describe(piece.src, tok);
            let message = if expected.is_empty() {
                format!("unexpected {found}")
            } else {
                format!("expected {}, found {found}", one_of(&expected))
            };
            (message, span, ParseErrorKind::Syntax)
        });
    ParseError { message, span, expected, kind }
}

/// Mistakes common enough to deserve a message of their own, and where to point.
fn special_case(
    piece: &PieceCtx<'_>,
    tok: &Tok,
    positives: &[Rule],
) -> Option<(String, Span, ParseErrorKind)> {
    let text = tok.text(piece.src);
    let message = if tok.kind == (TokKind::Str { terminated: false }) {
        "unterminated string: a string must end with `\"` on the same line".to_string()
    } else if tok.kind == TokKind::Word && is_keyword(text) && wants_a_name(positives) {
        let message = format!("`{text}` is a reserved word and cannot be used as a name");
        return Some((message, tok.span(), ParseErrorKind::ReservedWord));
    } else if is_comparison(piece.src, tok) && is_chained(positives) {
        "comparisons cannot be chained: combine them with `and` or `or`, or add parentheses"
            .to_string()
    } else if let Some(comma) = trailing_comma(piece, tok) {
        let message = "trailing commas are not allowed: remove this `,`";
        return Some((message.to_string(), comma.span(), ParseErrorKind::Syntax));
    } else if tok.is_punct(piece.src, "=") && positives.contains(&Rule::compare_op) {
        "expected a comparison operator, found `=`: write `==` to compare".to_string()
    } else if let Some(message) = pattern_mistake(piece.src, tok, positives) {
        message
    } else if tok.kind == TokKind::Word {
        misplaced(text, positives)?.to_string()
    } else {
        return None;
    };
    Some((message, tok.span(), ParseErrorKind::Syntax))
}

/// A command pattern written where a list of them belongs, or the other way round, or a
/// command written as one string.
fn pattern_mistake(src: &str, tok: &Tok, positives: &[Rule]) -> Option<String> {
    let string = matches!(tok.kind, TokKind::Str { .. });
    let wants_pattern = positives.contains(&Rule::pattern_open);
    Some(if string && wants_pattern && positives.contains(&Rule::rbracket) {
        // `runs only ["git", "status"]`
        "`runs only` takes a list of patterns, each in its own brackets: \
         `runs only [[\"git\", \"status\"], [\"ls\", ...]]`"
            .to_string()
    } else if tok.is_punct(src, "[") && positives.contains(&Rule::pattern_item) {
        // `runs [["git", "status"]]`
        "expected a string or `...`, found `[`: `runs` takes one pattern such as \
         `[\"rm\", ...]`; to admit only listed commands, write `runs only [[...], ...]`"
            .to_string()
    } else if tok.kind == TokKind::Word && positives.contains(&Rule::pattern_item) {
        // `runs [rm, ...]`
        format!(
            "expected a string or `...`, found {}: each word of a pattern is a string, such as \
             `\"rm\"`",
            describe(src, Some(tok))
        )
    } else if string && wants_pattern {
        // `runs "rm -rf"`
        format!(
            "expected a pattern such as `[\"git\", \"status\"]`, found {}: a pattern has one \
             string per word",
            describe(src, Some(tok))
        )
    } else {
        return None;
    })
}

/// The error for text nested deeper than the parser accepts.
pub(crate) fn too_deep(span: Span) -> ParseError {
    ParseError {
        message: format!(
            "nesting is too deep: at most {MAX_NESTING} levels of brackets and `not` are allowed"
        ),
        span,
        expected: Vec::new(),
        kind: ParseErrorKind::Limit,
    }
}

/// The error for a body whose `{` is never closed (`what` names the declaration); `next` is
/// what follows it.
pub(crate) fn unclosed(src: &str, what: &str, end: usize, next: Option<&Tok>) -> ParseError {
    ParseError {
        message: format!("expected `}}` to close {what}, found {}", describe(src, next)),
        span: Span::new(end, end),
        expected: vec!["`}`".to_string()],
        kind: ParseErrorKind::Syntax,
    }
}

/// The error for text after a complete declaration, such as junk after a workflow's `}`.
pub(crate) fn unexpected(src: &str, tok: &Tok, within: Within) -> ParseError {
    let next = eoi_name(within).to_string();
    ParseError {
        message: format!("expected {next}, found {}", describe(src, Some(tok))),
        span: tok.span(),
        expected: vec![next],
        kind: ParseErrorKind::Syntax,
    }
}

/// A token as it appears in a message: `` `text` `` (control characters escaped, long text
/// shortened), or "end of file".
pub(crate) fn describe(src: &str, tok: Option<&Tok>) -> String {
    let Some(tok) = tok else {
        return "end of file".to_string();
    };
    format!("`{}`", shorten(tok.text(src)))
}

/// User text for a message: control characters escaped, at most 32 characters.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 32;
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == MAX {
            out.push('…');
            break;
        }
        if c.is_control() || c == '\u{FEFF}' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// "a", "a or b", "a, b or c".
fn one_of(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The `,` just before `tok` when `tok` closes a list.
fn trailing_comma<'t>(piece: &PieceCtx<'t>, tok: &Tok) -> Option<&'t Tok> {
    if !matches!(tok.text(piece.src), ")" | "]" | "}") {
        return None;
    }
    let index = piece.toks.partition_point(|t| t.start < tok.start);
    let before = piece.toks.get(index.checked_sub(1)?)?;
    before.is_punct(piece.src, ",").then_some(before)
}

fn is_comparison(src: &str, tok: &Tok) -> bool {
    matches!(
        (tok.kind, tok.text(src)),
        (TokKind::Punct, "==" | "!=" | "<" | "<=" | ">" | ">=")
            | (TokKind::Word, "in" | "contains" | "matches" | "has" | "runs" | "under")
    )
}

/// After a complete comparison the parser wants `and`/`or` but no other operator.
fn is_chained(positives: &[Rule]) -> bool {
    positives.iter().any(|r| matches!(r, Rule::kw_and | Rule::kw_or))
        && !positives.contains(&Rule::compare_op)
}

/// Whether the parser wanted a name (so that a keyword there is a misused reserved word).
fn wants_a_name(positives: &[Rule]) -> bool {
    let is_name = |r: &Rule| matches!(r, Rule::ident | Rule::decl_name | Rule::tool_decl_name);
    let declares = positives.iter().any(|r| matches!(r, Rule::decl_name | Rule::tool_decl_name));
    declares || (!positives.is_empty() && positives.iter().all(is_name))
}

/// A line that belongs in another kind of block.
fn misplaced(word: &str, positives: &[Rule]) -> Option<&'static str> {
    let wants_item = positives.iter().any(|r| matches!(r, Rule::item | Rule::workflow_item));
    if !wants_item {
        return None;
    }
    Some(match word {
        "may" => "`may` belongs inside a role body: `role NAME { may ... }`",
        "max_depth" => "`max_depth` belongs inside a workflow body",
        "ttl" => "`ttl` belongs inside a workflow body",
        "expect" => "`expect` belongs inside a test: `test \"name\" { expect ... }`",
        "never" => "`never` belongs inside an assertion: `assert \"name\" { never ... }`",
        _ => return None,
    })
}

/// What may follow a complete piece.
fn eoi_name(within: Within) -> &'static str {
    match within {
        Within::File => "a new declaration",
        Within::Workflow => "a new rule",
        Within::Role => "another `may`",
        Within::Test => "another `expect`",
        Within::Assert => "another `never`",
    }
}

/// Readable names of the rules pest tried, deduplicated and in a stable order: operators and
/// keywords first, then punctuation, then larger constructs.
fn expected_names(positives: &[Rule], within: Within) -> Vec<String> {
    let operator = positives.contains(&Rule::compare_op);
    let mut names: Vec<(u8, &str)> = positives
        .iter()
        .filter(|r| {
            // `in`, `contains`, `matches`, `has`, `runs` and `under` are operators too.
            !(operator
                && matches!(
                    r,
                    Rule::kw_in
                        | Rule::kw_contains
                        | Rule::kw_matches
                        | Rule::kw_has
                        | Rule::kw_runs
                        | Rule::kw_under
                ))
        })
        .filter_map(|&r| if r == Rule::EOI { Some((4, eoi_name(within))) } else { name(r) })
        .collect();
    names.sort_by_key(|&(rank, _)| rank);
    let mut out: Vec<String> = Vec::new();
    for (_, name) in names {
        if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// The readable name of a grammar rule, with its rank in lists; `None` for rules that never
/// show up in messages.
fn name(of: Rule) -> Option<(u8, &'static str)> {
    use Rule::*;
    let as_keyword = |text: &'static str| Some((1u8, text));
    let as_punct = |text: &'static str| Some((2u8, text));
    let as_construct = |text: &'static str| Some((3u8, text));
    match of {
        compare_op => Some((0, "an operator")),
        kw_and => as_keyword("`and`"),
        kw_or => as_keyword("`or`"),
        kw_not => as_keyword("`not`"),
        kw_extends => as_keyword("`extends`"),
        kw_by => as_keyword("`by`"),
        kw_bound => as_keyword("`bound`"),
        kw_for => as_keyword("`for`"),
        kw_when => as_keyword("`when`"),
        kw_unless => as_keyword("`unless`"),
        kw_require => as_keyword("`require`"),
        kw_because => as_keyword("`because`"),
        kw_via => as_keyword("`via`"),
        kw_calls | calls_expr => as_keyword("`calls`"),
        kw_starts => as_keyword("`starts`"),
        kw_with => as_keyword("`with`"),
        kw_context => as_keyword("`context`"),
        kw_ttl => as_keyword("`ttl`"),
        kw_role => as_keyword("`role`"),
        kw_may | entitlement => as_keyword("`may`"),
        kw_attribute => as_keyword("`attribute`"),
        kw_tool => as_keyword("`tool`"),
        kw_evidence => as_keyword("`evidence`"),
        kw_workflow => as_keyword("`workflow`"),
        kw_start | start_target => as_keyword("`start`"),
        kw_allow => as_keyword("`allow`"),
        kw_deny => as_keyword("`deny`"),
        kw_max_depth => as_keyword("`max_depth`"),
        kw_in => as_keyword("`in`"),
        kw_matches => as_keyword("`matches`"),
        kw_contains => as_keyword("`contains`"),
        kw_has => as_keyword("`has`"),
        kw_any => as_keyword("`any`"),
        kw_all => as_keyword("`all`"),
        kw_true => as_keyword("`true`"),
        kw_false => as_keyword("`false`"),
        kw_initiator => as_keyword("`initiator`"),
        kw_caller => as_keyword("`caller`"),
        kw_principal => as_keyword("`principal`"),
        kw_depth => as_keyword("`depth`"),
        kw_test => as_keyword("`test`"),
        kw_fixture => as_keyword("`fixture`"),
        kw_expect | expectation => as_keyword("`expect`"),
        kw_runs | runs_tail => as_keyword("`runs`"),
        kw_only => as_keyword("`only`"),
        runs_only_tail => as_keyword("`runs only`"),
        kw_under | under_tail => as_keyword("`under`"),
        kw_assert | assert_decl => as_keyword("`assert`"),
        kw_never | claim => as_keyword("`never`"),
        kw_given | given_expr => as_keyword("`given`"),
        kw_within => as_keyword("`within`"),
        kw_at | time_clause => as_keyword("`at`"),
        kw_after | history_clause => as_keyword("`after`"),
        kw_ago => as_keyword("`ago`"),
        cwd_clause => as_keyword("`in`"),
        rest => as_punct("`...`"),
        lparen | params | field_args | call_args | missing_list | paren => as_punct("`(`"),
        rparen => as_punct("`)`"),
        lbracket | tag_list | tag_target | fixture_roles | list_type => as_punct("`[`"),
        pattern | pattern_open => as_construct("a pattern such as `[\"git\", \"status\"]`"),
        pattern_list | list_open => {
            as_construct("a list of patterns such as `[[\"git\", \"status\"]]`")
        }
        pattern_item => as_construct("a string or `...`"),
        under_dir => as_construct("a directory as a string, such as `\"src\"`"),
        assert_name => as_construct("the assertion's name as a string"),
        never_allow => as_keyword("`allow`"),
        never_start => as_keyword("`start`"),
        cwd_value => as_construct("a directory as a string, such as `\"/work/app\"`"),
        time_value => as_construct("a time as a string, such as `\"2026-12-02T16:00:00Z\"`"),
        history_list => as_construct("a list of earlier calls such as `[deploy 2h ago]`"),
        history_entry => as_construct("a tool name"),
        rbracket => as_punct("`]`"),
        lbrace | role_body | fixture_attrs => as_punct("`{`"),
        rbrace => as_punct("`}`"),
        comma => as_punct("`,`"),
        colon => as_punct("`:`"),
        equals => as_punct("`=`"),
        pipe => as_punct("`|`"),
        ident | decl_name | field_name | param | field_value => as_construct("a name"),
        tool_decl_name | tool_name => as_construct("a tool name"),
        type_name | type_expr | enum_type => as_construct("a type"),
        string => as_construct("a string"),
        integer => as_construct("an integer"),
        duration => as_construct("a duration such as `30m`"),
        item => as_construct("a declaration"),
        rule | workflow_item | start_rule | allow_rule | deny_rule | deny_start_rule
        | require_for_rule | max_depth_item | ttl_item => as_construct("a rule"),
        target | glob => as_construct("a target (a tool name, a glob or `[tags]`)"),
        expr | and_expr | not_expr | cmp_expr => as_construct("a condition"),
        operand | value | list | field_ref | context_ref | principal_ref => as_construct("a value"),
        evidence_list | requirement | test_evidence | with_clause => {
            as_construct("an evidence name")
        }
        outcome | pending => as_construct("`allow`, `deny` or `pending`"),
        chain => as_construct("a fixture name"),
        request | call_action | start_action => as_construct("`via` or `starts`"),
        extends => as_keyword("`extends`"),
        evidence_by | by_clause => as_keyword("`by`"),
        when_clause => as_keyword("`when`"),
        unless_clause => as_keyword("`unless`"),
        require_clause => as_keyword("`require`"),
        because_clause => as_keyword("`because`"),
        context_clause => as_keyword("`context`"),
        ttl_clause => as_keyword("`ttl`"),
        compare => Some((0, "an operator")),
        in_tail => as_keyword("`in`"),
        contains_tail => as_keyword("`contains`"),
        matches_tail => as_keyword("`matches`"),
        has_role_tail => as_keyword("`has`"),
        quantified => as_keyword("`any` or `all`"),
        role_decl | attribute_decl | context_decl | tool_decl | evidence_decl | workflow_decl
        | fixture_decl | test_decl => as_construct("a declaration"),
        EOI | file | item_only | item_prefix | workflow_item_only | workflow_item_prefix
        | workflow_head | role_head | test_head | assert_head | entitlement_only
        | entitlement_prefix | expectation_only | expectation_prefix | claim_only
        | claim_prefix | WHITESPACE | COMMENT | word_char | word | reserved | glob_part
        | string_body => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_naturally() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(one_of(&names(&["`)`"])), "`)`");
        assert_eq!(one_of(&names(&["`)`", "`,`"])), "`)` or `,`");
        assert_eq!(one_of(&names(&["a", "b", "c"])), "a, b or c");
    }

    #[test]
    fn user_text_is_escaped_and_shortened() {
        assert_eq!(shorten("a\u{0}b"), "a\\u{0}b");
        assert_eq!(shorten(&"x".repeat(40)), format!("{}…", "x".repeat(32)));
    }

    #[test]
    fn operators_are_grouped() {
        let names = expected_names(
            &[Rule::kw_in, Rule::compare_op, Rule::kw_and, Rule::kw_or, Rule::EOI],
            Within::Workflow,
        );
        assert_eq!(names, vec!["an operator", "`and`", "`or`", "a new rule"]);
    }
}
