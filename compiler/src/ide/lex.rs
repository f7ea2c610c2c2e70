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
    /// `...`, the rest item of a command pattern (`["git", "diff", ...]`): one token, never
    /// three dots.
    Rest,
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
            while let Some(&byte) = bytes.get(i) {
                match byte {
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
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if matches!(bytes.get(i), Some(b's' | b'm' | b'h' | b'd')) {
                i += 1;
            }
            TokenKind::Number
        } else if is_word_start(c) || c == '*' || c == '?' {
            // Dotted words and globs: `repo.push`, `repo.*`, `*`, `initiator.` (half-typed).
            loop {
                while bytes
                    .get(i)
                    .is_some_and(|&b| is_word_char(b as char) || matches!(b, b'*' | b'?'))
                {
                    i += 1;
                }
                // A dot continues the word (`repo.push`, `initiator.`), but `..` never does: in
                // `x...` the word is `x` and `...` is a token of its own.
                if bytes.get(i) == Some(&b'.')
                    && !text.get(i..).is_some_and(|t| t.starts_with(".."))
                {
                    i += 1;
                    continue;
                }
                break;
            }
            TokenKind::Word
        } else if text.get(i..).is_some_and(|t| t.starts_with("...")) {
            i += 3;
            TokenKind::Rest
        } else if matches!(c, '=' | '!' | '<' | '>') {
            i += 1;
            if bytes.get(i) == Some(&b'=') {
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

/// Words that are keywords in one place only (`docs/language.md`, "Words, identifiers and
/// keywords"): `within` inside `calls(...)`; `at`, `after` and `ago` in a test request's run
/// clauses. Everywhere else they are ordinary names.
pub const CONTEXTUAL_KEYWORDS: &[&str] = &["within", "at", "after", "ago"];

/// The type names (not reserved: `tool sh.run(command: command)`).
pub const TYPE_NAMES: &[&str] = &["string", "int", "bool", "duration", "command", "path"];

/// Whether the word token `toks[i]` acts as a keyword.
///
/// Reserved words always do (also in half-typed text the parser cannot place). For the
/// contextual words the tokenizer has no parse, so it decides from the neighbouring tokens,
/// choosing shapes in which the word can never be a name:
/// - `within` followed by a number (`calls(deploy within 24h)`), inside a `(` that follows
///   `calls`;
/// - `at` followed by a string (`at "2026-12-02T16:00:00Z"`, in a request or an `after` entry);
///   a name is followed by an operator, `,`, `:` or a bracket, never by a string;
/// - `after` followed by `[` (`after [deploy 2h ago]`);
/// - `ago` after a number (`2h ago`).
///
/// So a name is never shown as a keyword; a clause still being typed (`after` with nothing after
/// it yet) reads as a name until the token that makes it a clause is there.
pub fn keyword_at(text: &str, toks: &[Token], i: usize) -> bool {
    let Some(t) = toks.get(i).filter(|t| t.kind == TokenKind::Word) else { return false };
    let word = t.text(text);
    if writ_grammar::is_keyword(word) {
        return true;
    }
    let next = i.checked_add(1).and_then(|n| toks.get(n));
    let prev = i.checked_sub(1).and_then(|p| toks.get(p));
    match word {
        "within" => {
            next.is_some_and(|n| n.kind == TokenKind::Number)
                && open_paren_before(text, toks, i)
                    .and_then(|p| p.checked_sub(1))
                    .and_then(|p| toks.get(p))
                    .is_some_and(|w| w.text(text) == "calls")
        }
        "at" => next.is_some_and(|n| n.kind == TokenKind::Str),
        "after" => next.is_some_and(|n| n.text(text) == "["),
        "ago" => prev.is_some_and(|p| p.kind == TokenKind::Number),
        _ => false,
    }
}

/// Whether the word token `toks[i]` is a type name in a type position: after the `:` of a
/// tool argument, an evidence field, an attribute or a context value (`[string]` included).
pub fn type_at(text: &str, toks: &[Token], i: usize) -> bool {
    let Some(t) = toks.get(i).filter(|t| t.kind == TokenKind::Word) else { return false };
    if !TYPE_NAMES.contains(&t.text(text)) {
        return false;
    }
    let back = |n: usize| i.checked_sub(n).and_then(|p| toks.get(p)).map(|t| t.text(text));
    back(1) == Some(":") || (back(1) == Some("[") && back(2) == Some(":"))
}

/// The index of the innermost `(` still open at token `i` (within the current braces).
pub fn open_paren_before(text: &str, toks: &[Token], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    for j in (0..i.min(toks.len())).rev() {
        match toks.get(j).map(|t| t.text(text)) {
            Some(")") => depth += 1,
            Some("(") if depth == 0 => return Some(j),
            Some("(") => depth -= 1,
            Some("{" | "}") => return None,
            _ => {}
        }
    }
    None
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

    #[test]
    fn rest_is_one_token() {
        let text = "[\"git\", ...] x... ....";
        let toks: Vec<(TokenKind, &str)> =
            tokens(text).into_iter().map(|t| (t.kind, t.text(text))).collect();
        assert_eq!(
            toks,
            vec![
                (TokenKind::Punct, "["),
                (TokenKind::Str, "\"git\""),
                (TokenKind::Punct, ","),
                (TokenKind::Rest, "..."),
                (TokenKind::Punct, "]"),
                (TokenKind::Word, "x"),
                (TokenKind::Rest, "..."),
                (TokenKind::Rest, "..."),
                (TokenKind::Punct, "."),
            ]
        );
    }

    fn keywords_in(text: &str) -> Vec<&str> {
        let toks = tokens(text);
        (0..toks.len())
            .filter(|i| keyword_at(text, &toks, *i))
            .filter_map(|i| toks.get(i).map(|t| t.text(text)))
            .collect()
    }

    #[test]
    fn v2_keywords_and_contextual_words() {
        assert_eq!(
            keywords_in("deny sh.run when command runs only [] or file under \"x\""),
            ["deny", "when", "runs", "only", "or", "under"]
        );
        assert_eq!(
            keywords_in("assert \"a\" { never allow x when given(approval) < 1 }"),
            ["assert", "never", "allow", "when", "given"]
        );
        // Contextual words: keywords in their construct only.
        assert_eq!(keywords_in("calls(within within 1h) > within"), ["calls", "within"]);
        assert_eq!(keywords_in("x(within within 1h)"), Vec::<&str>::new());
        assert_eq!(
            keywords_in("calls at(x: 1) at \"T\" after [at at \"T\", ago 2h ago, after]"),
            ["calls", "at", "after", "at", "ago"]
        );
        assert_eq!(keywords_in("when at == after and ago in [within]"), ["when", "and", "in"]);
        let text = "tool t(command: command, p: path, l: [string]) when command";
        let toks = tokens(text);
        let types: Vec<&str> = (0..toks.len())
            .filter(|i| type_at(text, &toks, *i))
            .filter_map(|i| toks.get(i).map(|t| t.text(text)))
            .collect();
        assert_eq!(types, ["command", "path", "string"]);
    }
}
