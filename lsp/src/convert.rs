//! Byte offsets (the compiler's spans) to LSP positions (UTF-16 code units) and back.
//!
//! Every conversion is total: a position past the end of a line is the line's end, a line past
//! the end of the text is the text's end, and a position inside a surrogate pair or a
//! multi-byte character is that character's start. Clients that send such positions get an
//! answer, never a panic.

use tower_lsp_server::ls_types::{Position, Range};
use writ_grammar::ast::Span;

pub use writ_grammar::LineIndex;

/// LSP positions on the compiler's [`LineIndex`] (its line starts; the compiler's `line_index`
/// query keeps one per file), in the UTF-16 code units LSP counts.
pub trait Positions {
    /// The LSP position of byte `offset` (clamped into the text, floored to a character).
    fn position(&self, text: &str, offset: usize) -> Position;
    /// The byte offset of an LSP position, clamped as described in the module documentation.
    fn offset(&self, text: &str, position: Position) -> usize;
    /// The LSP range of a byte span.
    fn range(&self, text: &str, span: Span) -> Range;
    /// The byte span of an LSP range (start and end put in order).
    fn span(&self, text: &str, range: Range) -> Span;
}

impl Positions for LineIndex {
    fn position(&self, text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_of(offset);
        let start = self.line_start(line).map_or(0, |s| s.min(offset));
        let character: usize =
            text.get(start..offset).unwrap_or("").chars().map(char::len_utf16).sum();
        Position { line: line as u32, character: character as u32 }
    }

    fn offset(&self, text: &str, position: Position) -> usize {
        let Some(start) = self.line_start(position.line as usize) else {
            return text.len();
        };
        let start = start.min(text.len());
        let end = self.line_start(position.line as usize + 1).map_or(text.len(), |e| e - 1);
        let line = text.get(start..end.clamp(start, text.len())).unwrap_or("");
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut units = 0usize;
        for (i, c) in line.char_indices() {
            let next = units + c.len_utf16();
            if next > position.character as usize {
                return start + i;
            }
            units = next;
        }
        start + line.len()
    }

    fn range(&self, text: &str, span: Span) -> Range {
        Range {
            start: self.position(text, span.start as usize),
            end: self.position(text, span.end as usize),
        }
    }

    fn span(&self, text: &str, range: Range) -> Span {
        let a = self.offset(text, range.start);
        let b = self.offset(text, range.end);
        Span::new(a.min(b), a.max(b))
    }
}

/// The range of a whole text.
pub fn whole(text: &str) -> Range {
    let index = LineIndex::new(text);
    Range { start: Position::new(0, 0), end: index.position(text, text.len()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units() {
        let text = "ab\né😀x\r\nlast";
        let index = LineIndex::new(text);
        assert_eq!(index.position(text, 0), Position::new(0, 0));
        assert_eq!(index.position(text, 3), Position::new(1, 0));
        assert_eq!(index.position(text, 5), Position::new(1, 1));
        assert_eq!(index.position(text, 9), Position::new(1, 3)); // after 😀: two units
        assert_eq!(index.position(text, 7), Position::new(1, 1)); // inside 😀
        assert_eq!(index.position(text, 1000), Position::new(2, 4));
        assert_eq!(index.offset(text, Position::new(1, 3)), 9);
        assert_eq!(index.offset(text, Position::new(1, 2)), 5); // inside the surrogate pair
        assert_eq!(index.offset(text, Position::new(1, 99)), 10); // before `\r\n`
        assert_eq!(index.offset(text, Position::new(9, 0)), text.len());
        assert_eq!(LineIndex::new("").offset("", Position::new(0, 5)), 0);
    }
}
