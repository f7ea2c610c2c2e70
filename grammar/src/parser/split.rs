//! Splitting a token stream into the pieces that are parsed one at a time: top-level
//! declarations, and the rules of a workflow body.
//!
//! A piece starts at a keyword that can only begin a declaration (or rule) there, outside any
//! braces. The exceptions below keep valid text together: `deny start`, `... for start`,
//! `never start`, `never allow`, `has role`, `context.NAME`, words after a dot (`mcp.server.test`), a keyword written where a
//! name is declared (`role allow`, reported as a reserved word), and a `require` list that is
//! not followed by `for` (a clause of the rule before it).

use std::ops::Range;

use crate::is_keyword;
use crate::lexer::{Tok, TokKind};

/// Words that start a top-level piece. `may`, `max_depth`, `ttl`, `expect` and `never` never
/// start a valid one, but starting a piece there gives the misplaced line an error of its own.
const TOP_LEVEL: &[&str] = &[
    "role",
    "attribute",
    "context",
    "tool",
    "evidence",
    "workflow",
    "deny",
    "require",
    "allow",
    "start",
    "fixture",
    "test",
    "assert",
    "may",
    "max_depth",
    "ttl",
    "expect",
    "never",
];

/// Words that start a line of a workflow body.
pub(crate) const WORKFLOW_BODY: &[&str] =
    &["start", "allow", "deny", "require", "max_depth", "ttl", "may", "expect", "never"];

/// Words that start a line of a role body.
pub(crate) const ROLE_BODY: &[&str] = &["may"];

/// Words that start a line of a test body.
pub(crate) const TEST_BODY: &[&str] = &["expect"];

/// Words that start a line (a claim) of an assertion's body.
pub(crate) const ASSERT_BODY: &[&str] = &["never"];

/// Keywords that cannot appear inside braces. First on a line inside braces, one means that a
/// brace was left open: a new declaration starts there anyway.
const DECLARATION_ONLY: &[&str] =
    &["role", "attribute", "tool", "evidence", "workflow", "fixture", "test", "assert"];

/// Keywords followed by a name (most declare it). A keyword right after one of them on the
/// same line is a misused name, reported as a reserved word, rather than a new declaration.
const NAME_INTRODUCERS: &[&str] =
    &["role", "attribute", "context", "tool", "evidence", "workflow", "fixture", "extends", "by"];

/// The deepest nesting of `(`, `[`, `{` and `not` handed to the (recursive) pest parser.
pub(crate) const MAX_NESTING: usize = 64;

/// Splits `toks` into top-level pieces (ranges of token indices). Text before the first
/// declaration is a piece of its own.
pub(crate) fn top_level(src: &str, toks: &[Tok]) -> Vec<Range<usize>> {
    let mut starts = vec![0];
    let mut depth = 0usize;
    for (i, tok) in toks.iter().enumerate() {
        match tok.kind {
            TokKind::Punct => match tok.text(src) {
                "{" => depth += 1,
                "}" => depth = depth.saturating_sub(1),
                _ => {}
            },
            TokKind::Word if depth == 0 && starts_piece(src, toks, i, TOP_LEVEL) => {
                starts.push(i);
            }
            TokKind::Word
                if depth > 0
                    && tok.first_on_line
                    && starts_piece(src, toks, i, DECLARATION_ONLY) =>
            {
                starts.push(i);
                depth = 0;
            }
            _ => {}
        }
    }
    ranges(starts, toks.len())
}

/// Splits the tokens of a body (between its braces) into lines that start with one of
/// `starters`.
pub(crate) fn body(
    src: &str,
    toks: &[Tok],
    body: Range<usize>,
    starters: &[&str],
) -> Vec<Range<usize>> {
    let mut starts = vec![body.start];
    let mut depth = 0usize;
    for (i, tok) in toks.iter().enumerate().take(body.end).skip(body.start) {
        if tok.is_punct(src, "{") {
            depth += 1;
        } else if tok.is_punct(src, "}") {
            depth = depth.saturating_sub(1);
        } else if depth == 0 && tok.kind == TokKind::Word && starts_piece(src, toks, i, starters) {
            starts.push(i);
        }
    }
    ranges(starts, body.end)
}

fn ranges(mut starts: Vec<usize>, end: usize) -> Vec<Range<usize>> {
    starts.push(end);
    starts
        .iter()
        .zip(starts.iter().skip(1))
        .map(|(&a, &b)| a..b)
        .filter(|r| !r.is_empty())
        .collect()
}

/// Whether the word at `i` starts a new piece, given the words that can.
fn starts_piece(src: &str, toks: &[Tok], i: usize, starters: &[&str]) -> bool {
    let Some(tok) = toks.get(i) else {
        return false;
    };
    let word = tok.text(src);
    if !starters.contains(&word) {
        return false;
    }
    if let Some(prev) = i.checked_sub(1).and_then(|p| toks.get(p)) {
        let prev_word = if prev.kind == TokKind::Word { prev.text(src) } else { "" };
        let after_dot = prev.is_punct(src, ".") && prev.end == tok.start;
        let declared_name = prev.line == tok.line && NAME_INTRODUCERS.contains(&prev_word);
        let continues = match word {
            "start" => matches!(prev_word, "deny" | "for" | "never"),
            "allow" => prev_word == "never",
            "role" => prev_word == "has",
            _ => false,
        };
        if after_dot || declared_name || continues {
            return false;
        }
    }
    let next_is_dot = toks.get(i + 1).is_some_and(|n| n.is_punct(src, ".") && n.start == tok.end);
    match word {
        "context" => !next_is_dot,
        "require" => require_for_follows(src, toks, i),
        _ => true,
    }
}

/// Whether the `require` at `i` is followed by an evidence list and `for`, which makes it a
/// `require ... for` rule rather than a clause of the rule before it.
fn require_for_follows(src: &str, toks: &[Tok], i: usize) -> bool {
    const LOOKAHEAD: usize = 10_000;
    let mut parens = 0usize;
    for tok in toks.iter().skip(i + 1).take(LOOKAHEAD) {
        let text = tok.text(src);
        let fits = match tok.kind {
            TokKind::Word if parens == 0 && text == "for" => return true,
            TokKind::Word if parens == 0 => text == "by" || !is_keyword(text),
            TokKind::Word => matches!(text, "true" | "false") || !is_keyword(text),
            TokKind::Number => true,
            TokKind::Str { .. } => parens > 0,
            TokKind::Punct => match text {
                "," => true,
                "(" => {
                    parens += 1;
                    true
                }
                ")" if parens > 0 => {
                    parens -= 1;
                    true
                }
                ":" | "[" | "]" => parens > 0,
                _ => false,
            },
        };
        if !fits {
            return false;
        }
    }
    false
}

/// The first token at which the nesting of `(`, `[`, `{` and `not` exceeds [`MAX_NESTING`].
///
/// Each open bracket counts one level, and so does each `not` until its operand is over for
/// sure: at `and`, `or`, a keyword that ends the condition (`when`, `allow`, ...) or the bracket
/// that closes its level. This over-estimates the depth of the parse, which is all a guard needs.
pub(crate) fn too_deep(src: &str, toks: &[Tok]) -> Option<usize> {
    /// Keywords that can appear inside a comparison, after a `not`.
    const INSIDE_CONDITIONS: &[&str] = &[
        "not",
        "runs",
        "only",
        "under",
        "calls",
        "given",
        "by",
        "in",
        "matches",
        "contains",
        "has",
        "role",
        "any",
        "all",
        "true",
        "false",
        "initiator",
        "caller",
        "principal",
        "depth",
        "context",
    ];
    // The number of pending `not`s at each open bracket level (the outermost first).
    let mut nots_per_level = vec![0usize];
    let mut nots = 0usize;
    for (i, tok) in toks.iter().enumerate() {
        let text = tok.text(src);
        match tok.kind {
            TokKind::Punct if matches!(text, "(" | "[" | "{") => nots_per_level.push(0),
            TokKind::Punct if matches!(text, ")" | "]" | "}") && nots_per_level.len() > 1 => {
                nots -= nots_per_level.pop().unwrap_or(0);
            }
            TokKind::Word if text == "not" => {
                if let Some(run) = nots_per_level.last_mut() {
                    *run += 1;
                }
                nots += 1;
            }
            TokKind::Word if is_keyword(text) && !INSIDE_CONDITIONS.contains(&text) => {
                if let Some(run) = nots_per_level.last_mut() {
                    nots -= *run;
                    *run = 0;
                }
            }
            _ => {}
        }
        if nots_per_level.len() - 1 + nots > MAX_NESTING {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::lex;

    fn pieces(src: &str) -> Vec<String> {
        let toks = lex(src).tokens;
        top_level(src, &toks)
            .into_iter()
            .map(|r| src[toks[r.start].start..toks[r.end - 1].end].to_string())
            .collect()
    }

    #[test]
    fn declarations_start_at_top_level_keywords() {
        let src =
            "role a { may x }\nattribute t: string\ndeny start when x\nrequire a, b by r for [w]";
        assert_eq!(
            pieces(src),
            vec![
                "role a { may x }",
                "attribute t: string",
                "deny start when x",
                "require a, b by r for [w]"
            ]
        );
    }

    #[test]
    fn continuations_do_not_split() {
        for src in [
            "allow x require a, ticket(p: \"x\") by r",
            "deny [s] unless initiator has role r",
            "deny x when context.y",
            "allow mcp.server.test",
            "require a for start",
            "role allow",
            "attribute test: int",
            "never allow x when a",
            "never start w",
            "role senior extends allow",
            "start by deny",
        ] {
            assert_eq!(pieces(src), vec![src], "{src}");
        }
    }

    #[test]
    fn a_require_list_followed_by_for_is_a_rule_of_its_own() {
        assert_eq!(
            pieces("allow x require a\nrequire b for y"),
            vec!["allow x require a", "require b for y"]
        );
        assert_eq!(pieces("allow x require a for y"), vec!["allow x", "require a for y"]);
    }

    #[test]
    fn assertions_are_pieces_and_claims_split_at_never() {
        let src = "assert \"a\" {\n  never allow x when y\n  never start w\n}\ndeny x";
        assert_eq!(
            pieces(src),
            vec!["assert \"a\" {\n  never allow x when y\n  never start w\n}", "deny x"]
        );
        let toks = lex(src).tokens;
        let open = toks.iter().position(|t| t.is_punct(src, "{")).unwrap();
        let close = toks.iter().position(|t| t.is_punct(src, "}")).unwrap();
        let lines: Vec<_> = body(src, &toks, open + 1..close, ASSERT_BODY)
            .iter()
            .map(|r| src[toks[r.start].start..toks[r.end - 1].end].to_string())
            .collect();
        assert_eq!(lines, vec!["never allow x when y", "never start w"]);
        // An assertion left open does not swallow the next declaration.
        assert_eq!(
            pieces("assert \"a\" {\n never start w\nrole r"),
            vec!["assert \"a\" {\n never start w", "role r"]
        );
    }

    #[test]
    fn an_unclosed_brace_does_not_swallow_later_declarations() {
        let src = "workflow w {\n  allow x\nrole r\nallow y";
        assert_eq!(pieces(src), vec!["workflow w {\n  allow x", "role r", "allow y"]);
    }

    #[test]
    fn junk_before_the_first_declaration_is_a_piece() {
        assert_eq!(pieces("junk here\nrole a"), vec!["junk here", "role a"]);
    }

    #[test]
    fn workflow_bodies_split_into_rules() {
        let src = "{ start by a\n max_depth 2 ttl 1h allow x require t deny start }";
        let toks = lex(src).tokens;
        let body = body(src, &toks, 1..toks.len() - 1, WORKFLOW_BODY);
        let texts: Vec<_> = body
            .iter()
            .map(|r| src[toks[r.start].start..toks[r.end - 1].end].to_string())
            .collect();
        assert_eq!(
            texts,
            vec!["start by a", "max_depth 2", "ttl 1h", "allow x require t", "deny start"]
        );
    }

    #[test]
    fn nesting_guard() {
        let deep = |open: &str, n: usize| open.repeat(n);
        let check = |src: &str| too_deep(src, &lex(src).tokens);
        assert_eq!(check(&deep("(", MAX_NESTING)), None);
        assert_eq!(check(&deep("(", MAX_NESTING + 1)), Some(MAX_NESTING));
        assert_eq!(check(&deep("not ", MAX_NESTING + 1)), Some(MAX_NESTING));
        assert_eq!(check(&deep("not (", 40)), Some(MAX_NESTING));
        // A `not` is pending until its operand is over for sure.
        assert!(check(&deep("not not (x) == (", 30)).is_some());
        // Sequences do not add up.
        assert_eq!(check(&deep("not a and ", 1000)), None);
        assert_eq!(check(&deep("(a) or ", 1000)), None);
        assert_eq!(check(&deep("allow x when not a\n", 1000)), None);
        // The operands of `runs`, `under`, `calls` and `given` do not end a `not`.
        let nots = deep("not ", 60);
        for tail in ["c runs only [[[[[", "c under ((((((", "calls(((((", "given(a by ((((("] {
            assert!(check(&format!("{nots}{tail}")).is_some(), "{tail}");
        }
        assert_eq!(check(&deep("x runs only [[\"a\", ...]] and ", 1000)), None);
    }
}
