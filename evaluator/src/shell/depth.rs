//! Cheap nesting estimates that run before the bash parser, which recurses once per nested
//! construct and would overflow the stack on, say, 10,000 nested subshells.
//!
//! - [`cheap_bound`] counts every character and word that can open a construct, wherever it
//!   stands (quotes, comments and here-document bodies included). It is an upper bound on the
//!   nesting depth, so a line under a small bound is parsed on the caller's thread.
//! - [`estimate`] follows bash's quoting, comments and here-documents to estimate the real
//!   nesting depth; a line deeper than §8's limit is unknown without being parsed, and any other
//!   line is parsed on a thread with a large stack. It errs upwards where it is unsure
//!   (a `)` or `}` that does not close what is open is ignored).

/// Words that open a compound command.
const OPENING_WORDS: [&str; 9] =
    ["if", "while", "until", "for", "case", "select", "coproc", "function", "[["];
/// Words that open a construct closed by one of [`CLOSING_WORDS`].
const KEYWORDS: [&str; 7] = ["if", "while", "until", "for", "case", "select", "[["];
/// Words that close one.
const CLOSING_WORDS: [&str; 4] = ["fi", "done", "esac", "]]"];

fn is_word_break(c: char) -> bool {
    c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')' | '<' | '>')
}

/// An upper bound on the nesting depth of any parse of `text`: the number of characters,
/// operators and words that can open a construct, or that the parser treats recursively.
pub(crate) fn cheap_bound(text: &str) -> usize {
    let mut n = 0usize;
    let mut prev = '\0';
    for c in text.chars() {
        match c {
            '(' | '{' | '`' | '[' | '!' => n += 1,
            '&' | '|' if prev == c => n += 1,
            _ => {}
        }
        prev = c;
    }
    n + text.split(is_word_break).filter(|w| OPENING_WORDS.contains(w)).count()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ctx {
    /// `(` or `$(`
    Paren,
    /// `{` (a group)
    Brace,
    /// `${`
    Param,
    /// `"`
    Quote,
    /// `` ` ``
    Backtick,
    /// `if`, `while`, `case`, ...
    Keyword,
}

/// An estimate of the nesting depth of `text` (subshells, groups, substitutions, compound
/// commands), stopping as soon as it exceeds `limit`.
pub(crate) fn estimate(text: &str, limit: usize) -> usize {
    let chars: Vec<char> = text.chars().collect();
    let mut stack: Vec<Ctx> = Vec::new();
    let mut depth = 0usize; // entries of `stack` other than `Quote`
    let mut max = 0usize;
    let mut heredocs: Vec<(String, bool)> = Vec::new(); // (delimiter, strip tabs)
    let mut word_start = true;
    let mut i = 0usize;
    let at = |k: usize| chars.get(k).copied().unwrap_or('\0');

    macro_rules! push {
        ($ctx:expr) => {{
            stack.push($ctx);
            if $ctx != Ctx::Quote {
                depth += 1;
                if depth > max {
                    max = depth;
                    if max > limit {
                        return max;
                    }
                }
            }
        }};
    }
    macro_rules! pop_if {
        ($($ctx:pat_param)|+) => {{
            if matches!(stack.last(), Some($($ctx)|+)) {
                if stack.pop() != Some(Ctx::Quote) {
                    depth = depth.saturating_sub(1);
                }
                true
            } else {
                false
            }
        }};
    }

    while i < chars.len() {
        let c = at(i);
        let in_quote = stack.last() == Some(&Ctx::Quote);
        if c == '\\' {
            i += 2;
            word_start = false;
            continue;
        }
        if in_quote {
            match (c, at(i + 1)) {
                ('"', _) => {
                    pop_if!(Ctx::Quote);
                }
                ('$', '(') => {
                    push!(Ctx::Paren);
                    i += 1;
                }
                ('$', '{') => {
                    push!(Ctx::Param);
                    i += 1;
                }
                ('`', _) => push!(Ctx::Backtick),
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            '\'' => {
                i += 1;
                while i < chars.len() && at(i) != '\'' {
                    i += 1;
                }
                word_start = false;
            }
            '$' if at(i + 1) == '\'' => {
                i += 2;
                while i < chars.len() && at(i) != '\'' {
                    if at(i) == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                word_start = false;
            }
            '"' => {
                push!(Ctx::Quote);
                word_start = false;
            }
            '$' if at(i + 1) == '(' => {
                push!(Ctx::Paren);
                i += 1;
                word_start = false;
            }
            '$' if at(i + 1) == '{' => {
                push!(Ctx::Param);
                i += 1;
                word_start = false;
            }
            '`' => {
                if !pop_if!(Ctx::Backtick) {
                    push!(Ctx::Backtick);
                }
                word_start = false;
            }
            '(' => {
                push!(Ctx::Paren);
                word_start = true;
            }
            ')' => {
                pop_if!(Ctx::Paren);
                word_start = true;
            }
            '{' if word_start => push!(Ctx::Brace),
            '}' => {
                if !pop_if!(Ctx::Param) && word_start {
                    pop_if!(Ctx::Brace);
                }
            }
            '#' if word_start => {
                while i < chars.len() && at(i) != '\n' {
                    i += 1;
                }
                continue;
            }
            '<' if at(i + 1) == '<' && at(i + 2) != '<' => {
                i += 2;
                let strip = at(i) == '-';
                if strip {
                    i += 1;
                }
                while matches!(at(i), ' ' | '\t') {
                    i += 1;
                }
                let mut delimiter = String::new();
                while i < chars.len() && !is_word_break(at(i)) {
                    let d = at(i);
                    if d == '\\' {
                        i += 1;
                        delimiter.push(at(i));
                    } else if d != '\'' && d != '"' {
                        delimiter.push(d);
                    }
                    i += 1;
                }
                heredocs.push((delimiter, strip));
                word_start = true;
                continue;
            }
            '\n' => {
                i += 1;
                for (delimiter, strip) in std::mem::take(&mut heredocs) {
                    loop {
                        let start = i;
                        while i < chars.len() && at(i) != '\n' {
                            i += 1;
                        }
                        let line: String = chars.get(start..i).unwrap_or(&[]).iter().collect();
                        let line = if strip { line.trim_start_matches('\t') } else { &line };
                        let end = i >= chars.len();
                        i += 1;
                        if line == delimiter || end {
                            break;
                        }
                    }
                }
                word_start = true;
                continue;
            }
            c if is_word_break(c) => word_start = true,
            _ if word_start => {
                let start = i;
                while i < chars.len()
                    && !is_word_break(at(i))
                    && !matches!(at(i), '"' | '\'' | '$' | '`' | '\\' | '{' | '}')
                {
                    i += 1;
                }
                let word: String = chars.get(start..i).unwrap_or(&[]).iter().collect();
                if KEYWORDS.contains(&word.as_str()) {
                    push!(Ctx::Keyword);
                } else if CLOSING_WORDS.contains(&word.as_str()) {
                    pop_if!(Ctx::Keyword);
                }
                // `{` and `}` inside a word are not groups; quotes and the rest go round again.
                word_start = false;
                if i > start {
                    continue;
                }
            }
            _ => word_start = false,
        }
        i += 1;
    }
    max
}
