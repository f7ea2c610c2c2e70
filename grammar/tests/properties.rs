//! Properties over arbitrary and mutated input: the parser never panics, spans are valid,
//! formatting is idempotent and does not change the parsed tree.

mod common;

use common::{FIXTURES, check_invariants, fixture};
use proptest::prelude::*;

/// Words and symbols of the language, so that random text gets past the first token.
fn vocabulary() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
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
            "by",
            "pending",
            "human",
            "string",
            "int",
            "{",
            "}",
            "(",
            ")",
            "[",
            "]",
            ",",
            ":",
            ".",
            "=",
            "==",
            "!=",
            "<",
            ">=",
            "|",
            "*",
            "\"",
            "\\",
            "//",
            "///",
            "\n",
            " ",
            "\t",
            "\0",
            "é",
            "😀",
            "\u{FEFF}",
        ])
        .prop_map(str::to_string),
        "[a-z_][a-z0-9_.]{0,8}",
        "[0-9]{1,22}[smhd]?",
        "\"[^\"\n]{0,6}\"",
        any::<char>().prop_map(String::from),
    ]
}

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec((vocabulary(), prop::bool::ANY), 0..60).prop_map(|tokens| {
        tokens.into_iter().map(|(t, space)| if space { t + " " } else { t }).collect()
    })
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A fixture changed in one of several ways that editing (or a bad merge) produces.
fn mutated_fixture() -> impl Strategy<Value = String> {
    let sources: Vec<String> = FIXTURES.iter().map(|name| fixture(name)).collect();
    proptest::sample::select(sources).prop_flat_map(|src| {
        let len = src.len();
        let lines: Vec<String> = src.lines().map(str::to_string).collect();
        let n_lines = lines.len();
        prop_oneof![
            // Truncated anywhere.
            (Just(src.clone()), 0..=len)
                .prop_map(|(s, at)| s[..floor_char_boundary(&s, at)].to_string()),
            // Lines shuffled.
            Just(lines.clone()).prop_shuffle().prop_map(|lines| lines.join("\n")),
            // Junk inserted.
            (Just(src.clone()), 0..=len, vocabulary()).prop_map(|(s, at, junk)| {
                let at = floor_char_boundary(&s, at);
                format!("{}{junk}{}", &s[..at], &s[at..])
            }),
            // A range deleted.
            (Just(src.clone()), 0..=len, 0..40usize).prop_map(|(s, at, n)| {
                let (a, b) = (floor_char_boundary(&s, at), floor_char_boundary(&s, at + n));
                format!("{}{}", &s[..a], &s[b..])
            }),
            // A line duplicated or dropped.
            (Just(lines), 0..n_lines, prop::bool::ANY).prop_map(|(mut lines, i, dup)| {
                if dup {
                    lines.insert(i, lines[i].clone());
                } else {
                    lines.remove(i);
                }
                lines.join("\n")
            }),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_strings(src in any::<String>()) {
        check_invariants(&src);
    }

    #[test]
    fn token_soups(src in token_soup()) {
        check_invariants(&src);
    }

    #[test]
    fn mutated_fixtures(src in mutated_fixture()) {
        check_invariants(&src);
    }
}

#[test]
fn fixtures_and_their_line_prefixes() {
    for name in FIXTURES {
        let src = fixture(name);
        check_invariants(&src);
        let mut end = 0;
        for line in src.split_inclusive('\n') {
            end += line.len();
            check_invariants(&src[..end]);
        }
    }
}

/// A comment in gaps between tokens of the syntax fixture (every one with
/// `WRIT_EXHAUSTIVE=1`, else a deterministic sample): the comment is kept, and formatting stays
/// idempotent and meaning-preserving.
#[test]
fn comments_anywhere() {
    let stride = if std::env::var_os("WRIT_EXHAUSTIVE").is_some() { 1 } else { 7 };
    for name in ["syntax"] {
        let src = fixture(name);
        let gaps = src.char_indices().filter(|&(i, c)| {
            let prev = src[..i].chars().next_back().unwrap_or(' ');
            c.is_whitespace() || "()[]{},:|".contains(prev) || "()[]{},:|".contains(c)
        });
        for (at, _) in gaps.step_by(stride) {
            for comment in ["// c\n", "/// d\n", "\n// e\n\n"] {
                let edited = format!("{}{comment}{}", &src[..at], &src[at..]);
                check_invariants(&edited);
                if let Some(formatted) = writ_grammar::format(&edited) {
                    assert!(formatted.contains(comment.trim()), "{edited}");
                }
            }
        }
    }
}
