//! A forgiving tokenizer for editors: it never fails and works on half-typed text, where the
//! parser's tree may have holes. Used for completion contexts and semantic tokens.

use writ_grammar::ast::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A word, possibly dotted or a glob: `role`, `repo.push`, `initiator.team`, `repo.*`, `*`.
    Word,
    /// A string literal (possibly unterminated at the end of a line).
    Str,
    /// An integer or a duration.
    Number,
    /// `// ...`
    Comment,
    /// `/// ...`
    DocComment,
    /// `==`, `!=`, `<=`, `>=`, `<`, `>`, `|`.
    Operator,
    /// Any other single character: `{ } ( ) [ ] , : =`.
    Punct,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

impl Token {
    pub fn text(self, source: &str) -> &str {
        source.get(self.span.range()).unwrap_or("")
    }
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Tokenizes `text`; whitespace and unknown characters are skipped.
pub fn tokens(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let next_char = |i: usize| text[i..].chars().next();
    while i < bytes.len() {
        let Some(c) = next_char(i) else { break };
        let start = i;
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let kind = if text[i..].starts_with("//") {
            let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
            let doc = text[i..].starts_with("///") && !text[i..].starts_with("////");
            i = end;
            if doc { TokenKind::DocComment } else { TokenKind::Comment }
        } else if c == '"' {
            i += 1;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'"' => {
                        i += 1;
                        break;
                    }
                    b'\n' => break,
                    _ => i += 1,
                }
            }
            i = i.min(text.len());
            while !text.is_char_boundary(i) {
                i += 1;
            }
            TokenKind::Str
        } else if c.is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i < bytes.len() && matches!(bytes[i], b's' | b'm' | b'h' | b'd') {
                i += 1;
            }
            TokenKind::Number
        } else if is_word_start(c) || c == '*' || c == '?' {
            // Dotted words and globs: `repo.push`, `repo.*`, `*`, `initiator.` (half-typed).
            loop {
                while i < bytes.len()
                    && (is_word_char(bytes[i] as char) || matches!(bytes[i], b'*' | b'?'))
                {
                    i += 1;
                }
                if i < bytes.len() && bytes[i] == b'.' {
                    i += 1;
                    continue;
                }
                break;
            }
            TokenKind::Word
        } else if matches!(c, '=' | '!' | '<' | '>') {
            i += 1;
            if i < bytes.len() && bytes[i] == b'=' {
                i += 1;
            }
            if &text[start..i] == "=" { TokenKind::Punct } else { TokenKind::Operator }
        } else if c == '|' {
            i += 1;
            TokenKind::Operator
        } else {
            i += c.len_utf8();
            TokenKind::Punct
        };
        out.push(Token { kind, span: Span::new(start, i) });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_half_typed_text() {
        let text = "allow repo.* when initiator. == \"x\n/// doc\n7d é";
        let toks: Vec<(TokenKind, &str)> =
            tokens(text).into_iter().map(|t| (t.kind, t.text(text))).collect();
        assert_eq!(
            toks,
            vec![
                (TokenKind::Word, "allow"),
                (TokenKind::Word, "repo.*"),
                (TokenKind::Word, "when"),
                (TokenKind::Word, "initiator."),
                (TokenKind::Operator, "=="),
                (TokenKind::Str, "\"x"),
                (TokenKind::DocComment, "/// doc"),
                (TokenKind::Number, "7d"),
                (TokenKind::Punct, "é"),
            ]
        );
        assert!(tokens("\"\\").len() == 1);
    }
}
