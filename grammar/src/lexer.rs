//! A coarse scanner over writ source.
//!
//! It does not replace the pest grammar: it finds comments (which the grammar skips) and the
//! tokens the parser needs to split a file into declarations, to guard against deep nesting and
//! to name the offending token in error messages. It accepts any input.

use crate::ast::{Comment, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokKind {
    /// `[A-Za-z_][A-Za-z0-9_]*`
    Word,
    /// Digits and any word characters glued to them: `42`, `30m`, `30ms`.
    Number,
    /// A string literal. `terminated` is false when the line or the input ends first.
    Str { terminated: bool },
    /// `==`, `!=`, `<=`, `>=`, `...`, or any other single character.
    Punct,
}

/// A token other than whitespace or a comment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tok {
    pub kind: TokKind,
    pub start: usize,
    pub end: usize,
    /// 0-based line number.
    pub line: u32,
    /// Only whitespace precedes the token on its line.
    pub first_on_line: bool,
}

impl Tok {
    pub fn text<'s>(&self, src: &'s str) -> &'s str {
        &src[self.start..self.end]
    }

    pub fn span(&self) -> Span {
        Span::new(self.start, self.end)
    }

    pub fn is_punct(&self, src: &str, punct: &str) -> bool {
        self.kind == TokKind::Punct && self.text(src) == punct
    }
}

pub(crate) struct Lexed {
    /// Significant tokens in source order (no whitespace, no comments).
    pub tokens: Vec<Tok>,
    /// Every comment in source order.
    pub comments: Vec<Comment>,
}

pub(crate) const BOM: char = '\u{FEFF}';

/// Whitespace within a line, as the lexer skips it: spaces, tabs, carriage returns and byte
/// order marks (a line break ends the line).
pub(crate) fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | BOM)
}

/// Splits `src` into tokens and comments.
pub(crate) fn lex(src: &str) -> Lexed {
    let bytes = src.as_bytes();
    let mut tokens = Vec::new();
    let mut comments = Vec::new();
    let mut line = 0u32;
    let mut line_has_token = false;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let start = i;
        let kind = match byte {
            b'\n' => {
                line += 1;
                line_has_token = false;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = line_end(bytes, i);
                comments.push(comment(src, start, i));
                continue;
            }
            b'"' => {
                let (end, terminated) = string_end(bytes, i);
                i = end;
                TokKind::Str { terminated }
            }
            b'0'..=b'9' => {
                i = word_end(bytes, i + 1);
                TokKind::Number
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                i = word_end(bytes, i + 1);
                TokKind::Word
            }
            _ => {
                let c = src[i..].chars().next().unwrap_or(' ');
                if c == BOM {
                    i += c.len_utf8();
                    continue;
                }
                let two = bytes.get(i..i + 2);
                let is_op = matches!(two, Some(b"==" | b"!=" | b"<=" | b">="));
                i += if bytes.get(i..i + 3) == Some(b"...") {
                    3
                } else if is_op {
                    2
                } else {
                    c.len_utf8()
                };
                TokKind::Punct
            }
        };
        tokens.push(Tok { kind, start, end: i, line, first_on_line: !line_has_token });
        line_has_token = true;
    }
    Lexed { tokens, comments }
}

/// The offset of the end of the line that `from` is on (its `\n`, or the end of `bytes`).
pub(crate) fn line_end(bytes: &[u8], from: usize) -> usize {
    let rest = bytes.get(from..).unwrap_or_default();
    rest.iter().position(|&b| b == b'\n').map_or(bytes.len(), |n| from + n)
}

fn word_end(bytes: &[u8], from: usize) -> usize {
    bytes
        .get(from..)
        .unwrap_or_default()
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
        .map_or(bytes.len(), |n| from + n)
}

/// The end of the string literal opening at `from`, and whether it was closed. Strings do not
/// span lines. Only ASCII bytes are compared, so the end is always a char boundary.
fn string_end(bytes: &[u8], from: usize) -> (usize, bool) {
    let mut i = from + 1;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'"' => return (i + 1, true),
            b'\n' => return (i, false),
            b'\\' if bytes.get(i + 1).is_some_and(|&b| b != b'\n') => i += 2,
            _ => i += 1,
        }
    }
    (bytes.len(), false)
}

fn comment(src: &str, start: usize, end: usize) -> Comment {
    let text = src[start..end].trim_end_matches([' ', '\t', '\r']);
    Comment {
        text: text.to_string(),
        span: Span::new(start, start + text.len()),
        is_doc: text.starts_with("///") && !text.starts_with("////"),
    }
}

/// Whether only whitespace precedes `offset` on its line.
pub(crate) fn is_first_on_line(src: &str, offset: usize) -> bool {
    let before = &src[..offset.min(src.len())];
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    before[line_start..].chars().all(is_blank)
}

/// Number of line breaks in `src[from..to]`.
pub(crate) fn newlines_between(src: &str, from: usize, to: usize) -> usize {
    src.as_bytes().get(from..to).map_or(0, |b| b.iter().filter(|&&b| b == b'\n').count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokKind, &str)> {
        lex(src).tokens.iter().map(|t| (t.kind, t.text(src))).collect()
    }

    #[test]
    fn words_numbers_strings_and_punctuation() {
        use TokKind::*;
        assert_eq!(
            kinds(r#"allow repo.* when n >= 30m and x == "a\"b" // c"#),
            vec![
                (Word, "allow"),
                (Word, "repo"),
                (Punct, "."),
                (Punct, "*"),
                (Word, "when"),
                (Word, "n"),
                (Punct, ">="),
                (Number, "30m"),
                (Word, "and"),
                (Word, "x"),
                (Punct, "=="),
                (Str { terminated: true }, r#""a\"b""#),
            ]
        );
    }

    #[test]
    fn an_ellipsis_is_one_token() {
        use TokKind::*;
        assert_eq!(
            kinds(r#"["rm", ..., "-r"] ...."#),
            vec![
                (Punct, "["),
                (Str { terminated: true }, r#""rm""#),
                (Punct, ","),
                (Punct, "..."),
                (Punct, ","),
                (Str { terminated: true }, r#""-r""#),
                (Punct, "]"),
                (Punct, "..."),
                (Punct, "."),
            ]
        );
    }

    #[test]
    fn comments_are_collected_without_trailing_whitespace() {
        let src = "role a // trailing  \r\n/// doc\n//// rule\n\"//not a comment\"";
        let lexed = lex(src);
        let texts: Vec<_> = lexed.comments.iter().map(|c| (c.text.as_str(), c.is_doc)).collect();
        assert_eq!(texts, vec![("// trailing", false), ("/// doc", true), ("//// rule", false)]);
        let c = &lexed.comments[0];
        assert_eq!(&src[c.span.range()], "// trailing");
        assert_eq!(lexed.tokens.len(), 3);
    }

    #[test]
    fn unterminated_strings_stop_at_the_end_of_the_line() {
        let src = "deny x because \"oops\nallow y";
        let toks = lex(src).tokens;
        assert_eq!(toks[3].kind, TokKind::Str { terminated: false });
        assert_eq!(toks[3].text(src), "\"oops");
        assert_eq!(toks[4].text(src), "allow");
        assert!(toks[4].first_on_line);
        assert_eq!(toks[4].line, 1);
        // A backslash before the newline does not escape it.
        let src = "\"abc\\\nrole";
        let toks = lex(src).tokens;
        assert_eq!(toks[0].text(src), "\"abc\\");
        assert_eq!(toks[1].text(src), "role");
    }

    #[test]
    fn odd_input_is_tokenized_without_panicking() {
        let src = "\u{0}é\u{FEFF}🎉\"\\";
        let toks = lex(src).tokens;
        let texts: Vec<_> = toks.iter().map(|t| t.text(src)).collect();
        assert_eq!(texts, vec!["\u{0}", "é", "🎉", "\"\\"]);
    }

    #[test]
    fn first_on_line() {
        let src = "a\n  b c\n";
        assert!(is_first_on_line(src, 0));
        assert!(is_first_on_line(src, 4));
        assert!(!is_first_on_line(src, 6));
        assert_eq!(newlines_between(src, 0, src.len()), 2);
    }
}
