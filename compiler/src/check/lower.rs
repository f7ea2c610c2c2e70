//! Lowering helpers: a rule's metadata (and where it was written, for lints), and the small
//! conversions from syntax to IR that every kind of rule shares.

use writ_evaluator::ir::{CmpOp, Cond, RuleMeta, Who};
use writ_grammar::ast::{CompareOp, Expr, PrincipalRef, Span};

use super::{Checker, Site};
use crate::symbols::at;

impl<'a> Checker<'a> {
    pub(super) fn meta(
        &mut self,
        id: String,
        file: usize,
        span: Span,
        condition: Option<Span>,
    ) -> RuleMeta {
        self.sites.insert(
            id.clone(),
            Site { rule: at(file, span), condition: condition.map(|c| at(file, c)) },
        );
        let text = self.input.texts.get(file).copied().unwrap_or("");
        let (line, column) = match self.input.lines.get(file) {
            Some(index) => index.line_col(text, span.start as usize),
            None => crate::diagnostic::line_col(text, span.start as usize),
        };
        RuleMeta {
            id,
            file: self.input.paths.get(file).copied().unwrap_or("").to_string(),
            line: line as u32,
            column: column as u32,
            text: collapse(self.snippet(file, span)),
        }
    }
}

/// The span of `when C unless U` (either may be missing).
pub(super) fn condition_span(when: Option<&Expr>, unless: Option<&Expr>) -> Option<Span> {
    match (when, unless) {
        (Some(w), Some(u)) => Some(w.span.to(u.span)),
        (Some(e), None) | (None, Some(e)) => Some(e.span),
        (None, None) => None,
    }
}

pub(super) fn who(p: PrincipalRef) -> Who {
    match p {
        PrincipalRef::Initiator => Who::Initiator,
        PrincipalRef::Caller => Who::Caller,
        PrincipalRef::Principal => Who::Principal,
    }
}

pub(super) fn cmp_op(op: CompareOp) -> CmpOp {
    match op {
        CompareOp::Eq => CmpOp::Eq,
        CompareOp::Ne => CmpOp::Ne,
        CompareOp::Lt => CmpOp::Lt,
        CompareOp::Le => CmpOp::Le,
        CompareOp::Gt => CmpOp::Gt,
        CompareOp::Ge => CmpOp::Ge,
    }
}

/// `when C unless U` as one condition: `C and not U`.
pub(super) fn when_unless(when: Option<Cond>, unless: Option<Cond>) -> Option<Cond> {
    match (when, unless) {
        (None, None) => None,
        (Some(c), None) => Some(c),
        (None, Some(u)) => Some(Cond::Not(Box::new(u))),
        (Some(c), Some(u)) => Some(and(c, Cond::Not(Box::new(u)))),
    }
}

pub(super) fn and(a: Cond, b: Cond) -> Cond {
    let mut items = Vec::new();
    for c in [a, b] {
        match c {
            Cond::And(inner) => items.extend(inner),
            other => items.push(other),
        }
    }
    Cond::And(items)
}

pub(super) fn or(a: Cond, b: Cond) -> Cond {
    let mut items = Vec::new();
    for c in [a, b] {
        match c {
            Cond::Or(inner) => items.extend(inner),
            other => items.push(other),
        }
    }
    Cond::Or(items)
}

/// Collapses runs of whitespace (`char::is_whitespace`) to single spaces, trimming both ends.
/// Every lowered rule's text goes through here on each check, so ASCII text (nearly all of it)
/// is split on bytes rather than decoded into characters.
pub(super) fn collapse(text: &str) -> String {
    let by_chars = || text.split_whitespace().collect::<Vec<_>>().join(" ");
    if !text.is_ascii() {
        return by_chars();
    }
    let mut out: Vec<u8> = Vec::with_capacity(text.len());
    // The ASCII characters that are `char::is_whitespace`: U+0009 to U+000D and space.
    for word in text.as_bytes().split(|b| matches!(b, b'\t'..=b'\r' | b' ')) {
        if !word.is_empty() {
            if !out.is_empty() {
                out.push(b' ');
            }
            out.extend_from_slice(word);
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| {
        writ_stdx::never!("ASCII text split on ASCII bytes is ASCII");
        by_chars()
    })
}

#[cfg(test)]
mod collapse_tests {
    use super::collapse;

    #[test]
    fn ascii_and_unicode_whitespace_collapse_alike() {
        for text in [
            "",
            "   ",
            "allow  x\n  when a ==\t\"b  c\"\r\n",
            "\x0b\x0callow x\x0b",
            "allow x when a == \"\u{a0}b\u{2003} c\"",
            "allow\u{3000}x\u{85}",
        ] {
            let words: Vec<&str> = text.split_whitespace().collect();
            assert_eq!(collapse(text), words.join(" "), "{text:?}");
        }
    }
}
