//! Glob patterns of `matches` (LANGUAGE.md §4).
//!
//! `*` matches any run of characters (`/` and `.` included), `?` exactly one Unicode scalar,
//! and every other character (`[` and `\` included) only itself. A pattern matches the whole
//! string, case-sensitively.
//!
//! Matching is the classic greedy star-backtracking algorithm: on a mismatch it only ever
//! returns to the most recent `*`, so a match costs at most O(pattern × text) steps, never
//! exponential time, whatever the input.

/// One element of a compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// A run of literal characters (as UTF-8).
    Literal(Box<str>),
    /// `?`
    One,
    /// `*` (consecutive stars are collapsed into one)
    Star,
}

/// A glob compiled once, when the policy is loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    source: Box<str>,
    tokens: Box<[Token]>,
}

impl Glob {
    /// Compiles `pattern`. Every string is a valid pattern.
    pub fn new(pattern: &str) -> Glob {
        let mut tokens: Vec<Token> = Vec::new();
        let mut literal = String::new();
        for c in pattern.chars() {
            match c {
                '*' | '?' => {
                    if !literal.is_empty() {
                        tokens.push(Token::Literal(std::mem::take(&mut literal).into()));
                    }
                    if c == '?' {
                        tokens.push(Token::One);
                    } else if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                _ => literal.push(c),
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal.into()));
        }
        Glob { source: pattern.into(), tokens: tokens.into() }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        let tokens = &self.tokens[..];
        // Fast paths for the common shapes: a literal, `prefix*`, `*suffix`.
        match tokens {
            [] => return text.is_empty(),
            [Token::Literal(l)] => return text == &**l,
            [Token::Star] => return true,
            [Token::Literal(l), Token::Star] => return text.starts_with(&**l),
            [Token::Star, Token::Literal(l)] => return text.ends_with(&**l),
            _ => {}
        }

        let mut p = 0usize; // next token
        let mut t = 0usize; // byte offset into text
        // After the last star seen: (token after it, text offset it is currently tried at).
        let mut backtrack: Option<(usize, usize)> = None;
        loop {
            if let Some(token) = tokens.get(p) {
                let rest = text.get(t..).unwrap_or("");
                match token {
                    Token::Star => {
                        p += 1;
                        if p == tokens.len() {
                            return true; // a trailing star swallows the rest
                        }
                        backtrack = Some((p, t));
                        continue;
                    }
                    Token::One => {
                        if let Some(c) = rest.chars().next() {
                            t += c.len_utf8();
                            p += 1;
                            continue;
                        }
                    }
                    Token::Literal(l) => {
                        if rest.starts_with(&**l) {
                            t += l.len();
                            p += 1;
                            continue;
                        }
                    }
                }
            } else if t == text.len() {
                return true;
            }
            // Mismatch: let the last star swallow one more character, or fail.
            match backtrack {
                Some((after_star, at)) => {
                    let Some(c) = text.get(at..).and_then(|r| r.chars().next()) else {
                        return false;
                    };
                    let at = at + c.len_utf8();
                    backtrack = Some((after_star, at));
                    p = after_star;
                    t = at;
                }
                None => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p).is_match(t)
    }

    #[test]
    fn literals_match_whole_strings_only() {
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abcd"));
        assert!(!m("abc", "xabc"));
        assert!(!m("abc", "ABC"), "case-sensitive");
        assert!(m("", ""));
        assert!(!m("", "a"));
    }

    #[test]
    fn star_matches_any_run_including_separators() {
        assert!(m("release/*", "release/"));
        assert!(m("release/*", "release/a/b.c"));
        assert!(!m("release/*", "release"));
        assert!(!m("release/*", "prod/release/x"));
        assert!(m("*", ""));
        assert!(m("*", "anything/at.all"));
        assert!(m("**", "x"));
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "aXbYc"));
        assert!(m("a*b*c", "abbbcbc"));
        assert!(!m("a*b*c", "abcb"));
        assert!(m("*.yml", ".github/workflows/ci.yml"));
        assert!(m(".github/workflows/*", ".github/workflows/ci.yml"));
        assert!(m("*a", "aaa"));
        assert!(!m("*a", "aab"));
        assert!(m("a*", "a"));
        assert!(m("*mid*", "a mid b"));
        assert!(!m("*mid*", "a mi d b"));
    }

    #[test]
    fn question_mark_is_one_unicode_scalar() {
        assert!(m("?", "é"));
        assert!(m("?", "😀"));
        assert!(!m("?", ""));
        assert!(!m("?", "ab"));
        assert!(m("a?c", "a/c"));
        assert!(m("??", "日本"));
        assert!(!m("???", "日本"));
        assert!(m("*?", "x"));
        assert!(!m("*?", ""));
        assert!(m("?*?", "ab"));
    }

    #[test]
    fn brackets_and_backslashes_are_literal() {
        assert!(m("[abc]", "[abc]"));
        assert!(!m("[abc]", "a"));
        assert!(m("a\\*", "a\\xyz"));
        assert!(!m("a\\*", "a*"));
        assert!(m("{a,b}", "{a,b}"));
    }

    #[test]
    fn unicode_text_and_patterns() {
        assert!(m("日*語", "日本語"));
        assert!(m("*é", "café"));
        assert!(!m("*é", "cafe"));
        assert!(m("ü?", "üx"));
    }

    #[test]
    fn pathological_patterns_are_fast() {
        // Exponential for naive backtracking; linear-ish here.
        let text = "a".repeat(10_000);
        let pattern = format!("{}b", "a*".repeat(50));
        let start = std::time::Instant::now();
        assert!(!m(&pattern, &text));
        assert!(m(&format!("{}a", "*a".repeat(50)), &text));
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn collapses_consecutive_stars() {
        assert_eq!(Glob::new("a***b"), Glob::new("a*b").with_source("a***b"));
        assert_eq!(Glob::new("a***b").as_str(), "a***b");
    }

    impl Glob {
        fn with_source(mut self, s: &str) -> Glob {
            self.source = s.into();
            self
        }
    }
}
