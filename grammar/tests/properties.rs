//! Properties over arbitrary and mutated input: the parser never panics, spans are valid,
//! formatting is idempotent and does not change the parsed tree.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use common::{FIXTURES, check_invariants, fixture};
use proptest::prelude::*;

/// Words and symbols of the language, so that random text gets past the first token.
fn vocabulary() -> impl Strategy<Value = String> {
    prop_oneof![
        // Every keyword (the grammar's one list), then symbols and awkward characters.
        proptest::sample::select(
            writ_grammar::KEYWORDS
                .iter()
                .copied()
                .chain([
                    "within", "at", "after", "ago", "command", "path", "...", "by", "pending",
                    "human", "string", "int", "{", "}", "(", ")", "[", "]", ",", ":", ".", "=",
                    "==", "!=", "<", ">=", "|", "*", "\"", "\\", "//", "///", "\n", " ", "\t",
                    "\0", "é", "😀", "\u{FEFF}",
                ])
                .collect::<Vec<_>>(),
        )
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

// ---- long lines ------------------------------------------------------------------------------

/// A name that is no keyword, of varied length so that lines end up on both sides of the width.
fn name() -> BoxedStrategy<String> {
    "[a-z][a-z0-9_]{0,13}".prop_map(|s| format!("n_{s}")).boxed()
}

/// A string literal without spaces (every space in generated text separates two tokens).
fn string_lit() -> BoxedStrategy<String> {
    "[a-z0-9_./*-]{0,24}".prop_map(|s| format!("\"{s}\"")).boxed()
}

fn value() -> BoxedStrategy<String> {
    prop_oneof![
        string_lit(),
        "[0-9]{1,7}",
        "[1-9][0-9]{0,2}[smhd]",
        Just("true".to_string()),
        prop::collection::vec(string_lit(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
        name(),
    ]
    .boxed()
}

/// `NAME: VALUE, ...`.
fn fields(max: usize) -> BoxedStrategy<String> {
    prop::collection::vec((name(), value()), 1..max)
        .prop_map(|fields| {
            fields.iter().map(|(n, v)| format!("{n}: {v}")).collect::<Vec<_>>().join(", ")
        })
        .boxed()
}

fn target() -> BoxedStrategy<String> {
    prop_oneof![
        prop::collection::vec(name(), 1..4).prop_map(|parts| parts.join(".")),
        name().prop_map(|n| format!("{n}.*")),
        prop::collection::vec(name(), 1..4).prop_map(|tags| format!("[{}]", tags.join(", "))),
        Just("*".to_string()),
    ]
    .boxed()
}

/// A command pattern: `["git", ..., "-*r*"]`, possibly empty.
fn pattern() -> BoxedStrategy<String> {
    let item = prop_oneof![3 => string_lit(), 1 => Just("...".to_string())];
    prop::collection::vec(item, 0..5).prop_map(|items| format!("[{}]", items.join(", "))).boxed()
}

/// `[N] NAME[(FIELDS)] [by ROLE]`.
fn evidence_item() -> BoxedStrategy<String> {
    (prop::option::of(1..4u8), name(), prop::option::of(fields(4)), prop::option::of(name()))
        .prop_map(|(count, name, fields, by)| {
            let count = count.map_or_else(String::new, |n| format!("{n} "));
            let fields = fields.map_or_else(String::new, |f| format!("({f})"));
            let by = by.map_or_else(String::new, |b| format!(" by {b}"));
            format!("{count}{name}{fields}{by}")
        })
        .boxed()
}

fn comparison() -> BoxedStrategy<String> {
    prop_oneof![
        (name(), value()).prop_map(|(n, v)| format!("{n} == {v}")),
        (name(), pattern()).prop_map(|(n, p)| format!("{n} runs {p}")),
        (name(), prop::collection::vec(pattern(), 0..14))
            .prop_map(|(n, p)| format!("{n} runs only [{}]", p.join(", "))),
        (name(), string_lit()).prop_map(|(n, d)| format!("not {n} under {d}")),
        (target(), prop::option::of("[1-9][0-9]{0,2}[smhd]"), "[0-9]{1,3}").prop_map(
            |(t, within, n)| match within {
                Some(d) => format!("calls({t} within {d}) < {n}"),
                None => format!("calls({t}) >= {n}"),
            }
        ),
        (evidence_item(), "[0-9]{1,2}").prop_map(|(e, n)| format!("given({e}) < {n}")),
        (name(), prop::collection::vec(string_lit(), 0..5))
            .prop_map(|(n, v)| format!("{n} in [{}]", v.join(", "))),
        (name(), string_lit()).prop_map(|(n, v)| format!("initiator.{n} != {v}")),
        (name(), string_lit()).prop_map(|(n, v)| format!("not ({n} matches {v})")),
        "[0-9]{1,3}".prop_map(|n| format!("depth > {n}")),
        name().prop_map(|n| format!("caller has role {n}")),
    ]
    .boxed()
}

fn condition() -> BoxedStrategy<String> {
    prop::collection::vec((comparison(), prop::bool::ANY), 1..5)
        .prop_map(|parts| {
            let mut out = String::new();
            for (i, (comparison, and)) in parts.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(if and { " and " } else { " or " });
                }
                out.push_str(&comparison);
            }
            out
        })
        .boxed()
}

/// An optional clause: `KEYWORD TEXT` or nothing.
fn optional(keyword: &'static str, text: BoxedStrategy<String>) -> BoxedStrategy<String> {
    prop::option::weighted(0.6, text)
        .prop_map(move |t| t.map_or_else(String::new, |t| format!(" {keyword} {t}")))
        .boxed()
}

/// `[N] NAME[(FIELDS)] [by ROLE], ...`.
fn evidence_list() -> BoxedStrategy<String> {
    prop::collection::vec(evidence_item(), 1..6).prop_map(|items| items.join(", ")).boxed()
}

fn conditions() -> impl Strategy<Value = String> {
    (optional("when", condition()), optional("unless", condition())).prop_map(|(w, u)| w + &u)
}

fn rule() -> BoxedStrategy<String> {
    prop_oneof![
        (
            optional("by", prop::collection::vec(name(), 1..4).prop_map(|v| v.join(", ")).boxed()),
            conditions(),
            optional("require", evidence_list())
        )
            .prop_map(|(by, c, r)| format!("start{by}{c}{r}")),
        (target(), conditions(), optional("require", evidence_list()))
            .prop_map(|(t, c, r)| format!("allow {t}{c}{r}")),
        (target(), conditions(), optional("because", string_lit()))
            .prop_map(|(t, c, b)| format!("deny {t}{c}{b}")),
        (conditions(), optional("because", string_lit()))
            .prop_map(|(c, b)| format!("deny start{c}{b}")),
        (evidence_list(), target(), conditions())
            .prop_map(|(e, t, c)| format!("require {e} for {t}{c}")),
    ]
    .boxed()
}

/// `never allow [via W] TARGET [when C] [unless C]` or `never start W [when C] [unless C]`.
fn claim() -> BoxedStrategy<String> {
    prop_oneof![
        (prop::option::of(name()), target(), conditions()).prop_map(|(via, t, c)| {
            let via = via.map_or_else(String::new, |w| format!("via {w} "));
            format!("never allow {via}{t}{c}")
        }),
        (name(), conditions()).prop_map(|(w, c)| format!("never start {w}{c}")),
    ]
    .boxed()
}

/// `in "CWD"`, `at "TIME"`, `after [TOOL [at "TIME" | DURATION ago], ...]`, each optional.
fn run_clauses() -> BoxedStrategy<String> {
    let entry = (
        target_tool(),
        prop_oneof![
            Just(String::new()),
            string_lit().prop_map(|t| format!(" at {t}")),
            "[1-9][0-9]{0,2}[smhd]".prop_map(|d| format!(" {d} ago")),
        ],
    )
        .prop_map(|(tool, at)| format!("{tool}{at}"));
    let history = prop::collection::vec(entry, 0..5).prop_map(|v| format!("[{}]", v.join(", ")));
    (optional("in", string_lit()), optional("at", string_lit()), optional("after", history.boxed()))
        .prop_map(|(cwd, time, history)| format!("{cwd}{time}{history}"))
        .boxed()
}

fn expectation() -> BoxedStrategy<String> {
    let outcome = prop_oneof![
        Just("allow".to_string()),
        Just("deny".to_string()),
        Just("pending".to_string()),
        prop::collection::vec(name(), 1..4).prop_map(|v| format!("pending({})", v.join(", "))),
    ];
    let chain = prop::collection::vec(name(), 1..4).prop_map(|v| v.join(", "));
    let given = (name(), prop::option::of(fields(4)), prop::option::of(name())).prop_map(
        |(name, fields, by)| {
            let fields = fields.map_or_else(String::new, |f| format!("({f})"));
            let by = by.map_or_else(String::new, |b| format!(" by {b}"));
            format!("{name}{fields}{by}")
        },
    );
    let with = prop::collection::vec(given, 1..6).prop_map(|v| v.join(", ")).boxed();
    let context = fields(5).prop_map(|f| format!("{{ {f} }}")).boxed();
    let call = (name(), target_tool(), prop::option::of(fields(7))).prop_map(|(w, t, args)| {
        let args = args.map_or_else(String::new, |a| format!("({a})"));
        format!("via {w} calls {t}{args}")
    });
    let action = prop_oneof![
        (call, Just(String::new())),
        (
            name().prop_map(|w| format!("starts {w}")),
            optional("ttl", "[1-9][0-9]{0,3}[smhd]".boxed())
        ),
    ];
    (outcome, chain, action, optional("with", with), optional("context", context), run_clauses())
        .prop_map(|(outcome, chain, (action, ttl), with, context, run)| {
            format!("expect {outcome}: {chain} {action}{with}{context}{ttl}{run}")
        })
        .boxed()
}

fn target_tool() -> BoxedStrategy<String> {
    prop::collection::vec(name(), 1..4).prop_map(|parts| parts.join(".")).boxed()
}

/// Where generated text has a space, what goes there instead: mostly a space, sometimes other
/// whitespace or (if `comments`) a comment.
fn separator(choice: u8, comments: bool) -> &'static str {
    match choice % 16 {
        0 => "\n",
        1 => "\n      ",
        2 => "   ",
        3 if comments => " // c\n",
        4 if comments => "\n// d\n",
        5 if comments => "\n/// e\n",
        _ => " ",
    }
}

/// A policy of rules, entitlements, claims and expectations, many of them longer than the width,
/// with its spaces replaced by other whitespace and (if `comments`) comments.
fn long_policy(comments: bool) -> impl Strategy<Value = String> {
    let entitlements = prop::collection::vec((target(), conditions()), 0..4)
        .prop_map(|v| v.into_iter().map(|(t, c)| format!("  may {t}{c}\n")).collect::<String>());
    (
        entitlements,
        prop::collection::vec(rule(), 0..5),
        prop::collection::vec(rule(), 0..3),
        prop::collection::vec(expectation(), 0..5),
        prop::collection::vec(claim(), 0..4),
        prop::collection::vec(any::<u8>(), 1..64),
    )
        .prop_map(
            move |(entitlements, in_workflow, top_level, expectations, claims, choices)| {
                let mut src = format!("role n_r {{\n{entitlements}}}\nworkflow n_w {{\n");
                for rule in in_workflow {
                    src += &format!("  {rule}\n");
                }
                src += "}\n";
                for rule in top_level {
                    src += &format!("{rule}\n");
                }
                src += "test \"t\" {\n";
                for expectation in expectations {
                    src += &format!("  {expectation}\n");
                }
                src += "}\nassert \"a\" {\n";
                for claim in claims {
                    src += &format!("  {claim}\n");
                }
                src += "}\n";
                let mut out = String::with_capacity(src.len());
                for (i, piece) in src.split(' ').enumerate() {
                    if i > 0 {
                        out.push_str(separator(choices[i % choices.len()], comments));
                    }
                    out.push_str(piece);
                }
                out
            },
        )
}

/// The words that start a clause on a continuation line, in rules, entitlements and claims.
const CLAUSES: &[&str] = &["when", "unless", "require", "because"];
/// The words that start a clause on a continuation line, in expectations.
const REQUEST_CLAUSES: &[&str] = &["with", "context", "ttl", "in", "at", "after"];

fn clauses_of(head: &str) -> &'static [&'static str] {
    if head.trim_start().starts_with("expect ") { REQUEST_CLAUSES } else { CLAUSES }
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn starts_clause(line: &str, clauses: &[&str]) -> bool {
    clauses.iter().any(|c| line.trim_start().strip_prefix(c).is_some_and(|r| r.starts_with(' ')))
}

/// The clause keywords after the first word of `line`, outside brackets (names in generated
/// text start with `n_` and strings have no spaces or brackets, so a keyword between spaces is
/// one).
fn clauses_after_first_word(line: &str, clauses: &[&str]) -> usize {
    let mut depth = 0i32;
    let mut words = Vec::new();
    for word in line.split_whitespace().skip(1) {
        if depth == 0 {
            words.push(word);
        }
        depth += word.matches(['[', '(']).count() as i32;
        depth -= word.matches([']', ')']).count() as i32;
    }
    words
        .windows(2)
        .filter(|w| clauses.contains(&w[0]) && (w[0] != "context" || w[1] == "{"))
        .count()
}

/// Lines of formatted text with every broken `runs only` list joined back into the line of
/// its `[`, each with whether it had one. Checks on the way that a list is broken only when it
/// does not fit after its `[`, and that its patterns are packed as the formatter documents.
fn join_lists(formatted: &str) -> Vec<(String, bool)> {
    let lines: Vec<&str> = formatted.lines().collect();
    let mut out: Vec<(String, bool)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let mut line = lines[i].to_string();
        let mut broken = false;
        while line.ends_with(" [") && !line.trim_start().starts_with("//") {
            let open_indent = indentation(lines[i]);
            let column = line.chars().count();
            let mut inner = Vec::new();
            i += 1;
            while !lines[i].trim_start().starts_with(']') {
                assert_eq!(indentation(lines[i]), open_indent + 2, "{}", lines[i]);
                inner.push(lines[i].trim());
                i += 1;
            }
            assert_eq!(indentation(lines[i]), open_indent, "{}", lines[i]);
            let flat = inner.join(" ");
            assert!(column + flat.chars().count() + 1 > 100, "broken but fits:\n{formatted}");
            for (n, pair) in inner.windows(2).enumerate() {
                let first_of_next = pair[1].split_inclusive("], ").next().unwrap_or(pair[1]);
                let width = open_indent + 2 + pair[0].chars().count() + 1;
                assert!(
                    width + first_of_next.trim_end().chars().count() > 100,
                    "not packed after line {n}:\n{formatted}"
                );
            }
            line = format!("{line}{flat}{}", lines[i].trim_start());
            broken = true;
        }
        out.push((line, broken));
        i += 1;
    }
    out
}

/// The layout of formatted text without comments: a rule, entitlement, claim or expectation is
/// broken exactly when its one-line form is wider than the width: only at its `runs only` lists
/// if it has one clause and that fits, else before every clause.
fn check_line_breaking(formatted: &str) {
    let lines = join_lists(formatted);
    let mut i = 0;
    while i < lines.len() {
        let (head, head_lists) = (&lines[i].0, lines[i].1);
        let first_word = head.split_whitespace().next().unwrap_or_default();
        if !["start", "allow", "deny", "require", "may", "expect", "never"].contains(&first_word) {
            i += 1;
            continue;
        }
        let clauses = clauses_of(head);
        let mut continuations = Vec::new();
        let mut lists = head_lists;
        while let Some((next, next_lists)) = lines.get(i + 1 + continuations.len()) {
            if indentation(next) != indentation(head) + 2 || !starts_clause(next, clauses) {
                break;
            }
            lists |= next_lists;
            continuations.push(next.trim_start());
        }
        i += 1 + continuations.len();
        let flat = std::iter::once(head.as_str()).chain(continuations.iter().copied());
        let flat = flat.collect::<Vec<_>>().join(" ");
        if continuations.is_empty() && head_lists {
            assert!(flat.chars().count() > 100, "lists broken but fits:\n{flat}");
            assert!(clauses_after_first_word(head, clauses) <= 1, "clauses not broken:\n{head}");
        } else if continuations.is_empty() {
            assert!(
                head.chars().count() <= 100 || clauses_after_first_word(head, clauses) == 0,
                "not broken:\n{head}"
            );
        } else {
            assert!(flat.chars().count() > 100, "broken but fits:\n{flat}\n{formatted}");
            assert_eq!(
                clauses_after_first_word(head, clauses),
                0,
                "not broken everywhere:\n{head}"
            );
            for line in &continuations {
                assert_eq!(clauses_after_first_word(line, clauses), 0, "two clauses on:\n{line}");
            }
            let _ = lists;
        }
    }
}

proptest! {
    #[test]
    fn long_lines(src in long_policy(false)) {
        check_invariants(&src);
        let formatted = writ_grammar::format(&src);
        prop_assert!(formatted.is_some(), "does not parse:\n{src}");
        check_line_breaking(&formatted.unwrap_or_default());
    }

    #[test]
    fn long_lines_with_comments(src in long_policy(true)) {
        check_invariants(&src);
    }

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

/// A comment in gaps between tokens of the syntax and long-lines fixtures (every one with
/// `WRIT_EXHAUSTIVE=1`, else a deterministic sample): the comment is kept, and formatting stays
/// idempotent and meaning-preserving.
#[test]
fn comments_anywhere() {
    let exhaustive = std::env::var_os("WRIT_EXHAUSTIVE").is_some();
    for (name, sample) in [("syntax", 7), ("long", 17), ("v2", 19)] {
        let stride = if exhaustive { 1 } else { sample };
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
