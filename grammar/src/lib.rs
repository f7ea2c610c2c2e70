//! The writ language's syntax: a pest grammar, a parser that never fails, the syntax tree with
//! spans, and the canonical formatter.
//!
//! - [`parse`] turns source text into an [`ast::SourceFile`], reporting syntax errors inside it.
//! - [`format()`] prints a file in the one canonical layout (or `None` if it has syntax errors);
//!   a rule, entitlement, claim or expectation wider than 100 columns is broken at its long
//!   `runs only` lists or before its clauses (see the `format` module for the exact layout).
//! - [`KEYWORDS`], [`is_keyword`] and [`line_col`] help editors and diagnostics.
//!
//! # Choices where the language specification is silent
//!
//! - Clauses of a rule may only come in the order of the table in §3, each at most once; a
//!   clause out of order or repeated is a syntax error that says so.
//! - Whitespace is not allowed inside dotted names (`repo.push`, `initiator.team`,
//!   `context.NAME`). A glob target is a dotted name containing `*` or `?`; `*` alone is every
//!   tool. `start` is a target only after `require ... for` (for the checker to reject).
//! - A string literal may contain any character but a raw newline; `\u{...}` takes 1 to 6 hex
//!   digits naming a Unicode scalar value. Integers may have leading zeros (`007` is 7).
//! - The only list type is `[string]`; any other word in a type position is kept as
//!   [`ast::TypeKind::Unknown`] for the checker to report.
//! - Tests: `fixture NAME = KIND [[ROLE, ...]] [{ ATTR: VALUE, ... }]` (empty `[]`/`{}` allowed);
//!   `expect OUTCOME[(MISSING, ...)]: REQUEST` where only `pending` takes the list; a request is
//!   `CHAIN via WORKFLOW calls TOOL[(ARG: VALUE, ...)]` or `CHAIN starts WORKFLOW`, then
//!   optionally `with EVIDENCE, ...`, `context { NAME: VALUE, ... }` and, for starts only,
//!   `ttl DURATION`, in that order. Values in fields and arguments are literals or names.
//! - Nesting of brackets and `not` is limited to 64 levels, and a condition to 256 levels of
//!   operators (long `and`/`or` chains included), so that no input can exhaust the stack.
//!   Command patterns count as brackets (`runs only [[...]]` is two levels).
//!
//! Version 2 (LANGUAGE.md §8-§11):
//!
//! - `command` and `path` are type names like `string` (not reserved); the checker allows them
//!   for tool arguments only.
//! - `runs`, `runs only` and `under` are comparison operators: they bind like `matches` and do
//!   not chain. An empty pattern (`runs []`) and an empty list (`runs only []`) parse; the
//!   checker reports them. `...` is a token of its own.
//! - `calls(TARGET [within DURATION])` and `given(ITEM)` are operands; `within` is reserved
//!   only there, and `given` is parsed anywhere (the checker allows it in assertions only).
//! - `assert "NAME" { CLAIM ... }` is a top-level declaration. A claim is
//!   `never allow [via WORKFLOW] TARGET` or `never start WORKFLOW`, then `[when C] [unless C]`
//!   in that order, as in rules (`unless U` means `and not U`). `///` documents assertions and
//!   claims; a claim that does not parse costs only itself.
//! - Tests: a request may end with `in "CWD"`, `at "TIME"` and
//!   `after [TOOL [at "TIME" | DURATION ago], ...]`, in that order, each at most once (`after []`
//!   is a run with an empty history). `at`, `after` and `ago` are not reserved.
#![forbid(unsafe_code)]

pub mod ast;
mod format;
mod lexer;
mod parser;

pub use format::{format, quote};
pub use parser::{Reuse, parse, parse_reusing};

/// The reserved words of the language (`docs/language.md`). They match whole words only:
/// `tests_passed` and `roles` are identifiers. `human`, `service` and `agent` are not reserved,
/// nor is `within` (a keyword only inside `calls(...)`), nor are `at`, `after` and `ago` (words
/// of a test request's run clauses).
pub const KEYWORDS: &[&str] = &[
    "role",
    "extends",
    "may",
    "attribute",
    "context",
    "tool",
    "evidence",
    "workflow",
    "start",
    "allow",
    "deny",
    "require",
    "for",
    "when",
    "unless",
    "because",
    "max_depth",
    "ttl",
    "and",
    "or",
    "not",
    "in",
    "matches",
    "contains",
    "has",
    "any",
    "all",
    "true",
    "false",
    "initiator",
    "caller",
    "principal",
    "depth",
    "test",
    "fixture",
    "expect",
    "via",
    "calls",
    "starts",
    "with",
    "bound",
    "runs",
    "only",
    "under",
    "assert",
    "never",
    "given",
];

/// Whether `word` is a reserved word.
pub fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

/// The 1-based line and column (counted in characters) of byte `offset` in `source`. An offset
/// past the end is taken as the end; one inside a character as that character's start.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    LineIndex::new(source).line_col(source, offset)
}

/// The line starts of a text, for many [`line_col`] lookups in it: each is a binary search
/// plus a count of the characters before the offset on its line (not a scan from the start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineIndex {
    /// Byte offset of the start of each line; the first is 0.
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(source: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(source.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// 1-based line and column (in characters) of a byte offset of `source`, the text this
    /// index was built from. Offsets past the end clamp to it; offsets inside a character floor
    /// to its start.
    pub fn line_col(&self, source: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts.get(line - 1).map_or(0, |&s| s.min(offset));
        (line, source.get(start..offset).map_or(0, |t| t.chars().count()) + 1)
    }

    /// The 0-based number of the line that holds byte `offset` (past the end: the last line).
    pub fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset).saturating_sub(1)
    }

    /// The byte offset where 0-based line `line` starts; `None` past the last line.
    pub fn line_start(&self, line: usize) -> Option<usize> {
        self.starts.get(line).copied()
    }

    /// The byte offset where 0-based line `line` starts (past the last line: the last start).
    pub fn start_of(&self, line: usize) -> usize {
        self.starts.get(line).or(self.starts.last()).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords() {
        assert_eq!(KEYWORDS.len(), 47);
        assert!(is_keyword("max_depth"));
        assert!(!is_keyword("tests_passed"));
        assert!(!is_keyword("human"));
        assert!(!is_keyword("pending"));
        for word in ["runs", "only", "under", "assert", "never", "given"] {
            assert!(is_keyword(word), "{word}");
        }
        for word in ["within", "at", "after", "ago", "command", "path"] {
            assert!(!is_keyword(word), "{word}");
        }
    }

    #[test]
    fn line_and_column() {
        let src = "ab\né😀x\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 2), (1, 3));
        assert_eq!(line_col(src, 3), (2, 1));
        assert_eq!(line_col(src, 5), (2, 2));
        assert_eq!(line_col(src, 6), (2, 2)); // inside 😀
        assert_eq!(line_col(src, 9), (2, 3));
        assert_eq!(line_col(src, 100), (3, 1));
        // The index agrees with a scan from the start at every offset.
        let index = LineIndex::new(src);
        for offset in 0..=src.len() + 2 {
            let mut o = offset.min(src.len());
            while !src.is_char_boundary(o) {
                o -= 1;
            }
            let before = &src[..o];
            let line = before.matches('\n').count() + 1;
            let column = before[before.rfind('\n').map_or(0, |i| i + 1)..].chars().count() + 1;
            assert_eq!(index.line_col(src, offset), (line, column), "offset {offset}");
        }
        assert_eq!(LineIndex::new("").line_col("", 5), (1, 1));
        assert_eq!(line_col("", 5), (1, 1));
    }
}
