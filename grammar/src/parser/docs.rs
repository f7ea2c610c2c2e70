//! `///` documentation: which comment block documents which node.

use std::collections::HashMap;

use crate::ast::{Comment, Doc};
use crate::lexer::{is_first_on_line, newlines_between};

/// Maps the start offset of the code directly below each `///` block to that block.
///
/// A block is a run of `///` comments, each alone on its line, on consecutive lines. It
/// documents whatever starts on the very next line; the builder asks only for declarations,
/// rules, entitlements, claims and expectations, so a block above anything else stays a plain
/// comment.
#[derive(Debug, Default)]
pub(crate) struct DocIndex {
    docs: HashMap<u32, Doc>,
}

impl DocIndex {
    pub fn new(src: &str, comments: &[Comment]) -> DocIndex {
        let mut docs = HashMap::new();
        let mut rest = comments;
        while let Some((first, after)) = rest.split_first() {
            rest = after;
            if !is_doc_line(src, first) {
                continue;
            }
            // The block runs while the next comment is a doc line on the very next line.
            let mut block = vec![first];
            let mut last = first;
            while let Some((next, after)) = rest.split_first()
                && is_doc_line(src, next)
                && next_line(src, last.span.end, next.span.start)
            {
                block.push(next);
                last = next;
                rest = after;
            }
            if let Some(target) = code_on_next_line(src, last.span.end as usize) {
                let doc = Doc {
                    lines: block.iter().map(|c| doc_text(&c.text)).collect(),
                    span: first.span.to(last.span),
                };
                docs.insert(target as u32, doc);
            }
        }
        DocIndex { docs }
    }

    /// The documentation of the node starting at `offset`, if any.
    pub fn get(&self, offset: u32) -> Option<Doc> {
        self.docs.get(&offset).cloned()
    }
}

fn is_doc_line(src: &str, comment: &Comment) -> bool {
    comment.is_doc && is_first_on_line(src, comment.span.start as usize)
}

fn next_line(src: &str, end: u32, start: u32) -> bool {
    newlines_between(src, end as usize, start as usize) == 1
}

/// The offset of the first non-blank character after `end`, if it is on the next line and is
/// not a comment.
fn code_on_next_line(src: &str, end: usize) -> Option<usize> {
    let rest = &src[end..];
    let skipped = rest.len() - rest.trim_start_matches([' ', '\t', '\r', '\n']).len();
    let target = end + skipped;
    let ok = target < src.len()
        && newlines_between(src, end, target) == 1
        && !src[target..].starts_with("//");
    ok.then_some(target)
}

/// `/// text` becomes `text`: the slashes and one leading space are removed.
fn doc_text(comment: &str) -> String {
    let text = comment.strip_prefix("///").unwrap_or(comment);
    text.strip_prefix(' ').unwrap_or(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::lex;

    fn index(src: &str) -> DocIndex {
        DocIndex::new(src, &lex(src).comments)
    }

    #[test]
    fn a_block_documents_the_next_line() {
        let src = "/// One.\n///Two.\n///\nrole a\n";
        let docs = index(src);
        let doc = docs.get(src.find("role").unwrap() as u32).unwrap();
        assert_eq!(doc.lines, vec!["One.", "Two.", ""]);
        assert_eq!(&src[doc.span.range()], "/// One.\n///Two.\n///");
    }

    #[test]
    fn blank_lines_comments_and_trailing_positions_break_the_link() {
        for src in
            ["/// x\n\nrole a", "/// x\n// y\nrole a", "role b /// x\nrole a", "//// x\nrole a"]
        {
            let docs = index(src);
            assert!(docs.get(src.rfind("role").unwrap() as u32).is_none(), "{src:?}");
        }
    }

    #[test]
    fn only_the_lines_directly_above_belong_to_the_block() {
        let src = "/// a\n\n/// b\n  may x";
        let docs = index(src);
        let doc = docs.get(src.find("may").unwrap() as u32).unwrap();
        assert_eq!(doc.lines, vec!["b"]);
    }
}
