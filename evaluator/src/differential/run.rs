//! Generators for the v2 parts of a request (LANGUAGE.md §8–§10): command-line text, path
//! text, and the run's `cwd`, `time` and `history`.
//!
//! Command lines are *text* from a small grammar of shell constructs (plus garbage); the
//! generator knows nothing of how they parse: both evaluators parse them with
//! [`crate::shell::parse`] and match them with their own matcher.

use serde_json::{Value as J, json};

use super::Tape;

// ---------------------------------------------------------------------------------------------
// Command lines

/// Words of simple commands; the pattern pool ([`super::PATTERN_WORDS`]) is made to hit them.
const WORDS: &[&str] = &[
    "git",
    "push",
    "--force",
    "-f",
    "rm",
    "-rf",
    "ls",
    "sudo",
    "/bin/rm",
    "xargs",
    "env",
    "status",
    "origin",
    "main",
    "x",
    "-la",
    "cat",
    "--force-with-lease",
    "-r",
    "diff",
    "--",
    "a b",
    "[",
    "]",
    "é",
];

/// First words: mostly commands that patterns name.
const HEADS: &[&str] =
    &["git", "rm", "ls", "sudo", "/bin/rm", "xargs", "env", "cat", "echo", "git", "rm", "./run"];

/// Leading assignments.
const ASSIGNS: &[&str] = &["A=1 ", "X=\"a b\" ", "GIT_DIR=x ", "Y=$(rm -rf x) ", "Z= "];

/// Redirections, `[OPERATOR, TARGET]` or duplications.
const REDIRS: &[&str] = &[
    " > out",
    " 2>&1",
    " >> log",
    " &> /dev/null",
    " < in",
    " >&2",
    " 2> err",
    " >& out.txt",
    " <<< \"$X\"",
    " <<< word",
    " >&-",
    " > \"$F\"",
    " <(ls)",
    " >(rm -rf x)",
];

/// The whole command line (a `command` argument's text).
pub(super) fn command_line(t: &mut Tape<'_>) -> String {
    match t.weighted(&[45, 38, 5, 4, 3, 3, 2]) {
        0 => plain(t),
        1 => list(t, 0),
        2 => (*t.pick(&["", " ", "# rm -rf /", "A=1", "> out", "\n\n", "X=1 Y=2 # git push"]))
            .to_owned(),
        3 => heredoc(t),
        4 => garbage(t),
        5 => {
            let mut s = list(t, 0);
            let at = t.below(s.len() + 1);
            let at = (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
            s.insert(at, '\0');
            s
        }
        _ => {
            // Deep nesting: past the parser's limits, or just under.
            let n = *t.pick(&[300, 100, 9, 255, 257]);
            match t.below(4) {
                0 => format!("{}ls{}", "(".repeat(n), ")".repeat(n)),
                // `-c` and `eval` nested around the limit of 8 (quoting with `"` grows the text
                // about twofold per level; `'` would grow it fourfold).
                1 => {
                    let mut s = "rm -rf x".to_owned();
                    for _ in 0..n % 4 + 6 {
                        s = format!("bash -c {}", double(&s));
                    }
                    s
                }
                2 => format!("{}git push --force", "eval ".repeat(n % 4 + 6)),
                _ => format!("{}git push{}", "$(".repeat(n.min(40)), ")".repeat(n.min(40))),
            }
        }
    }
}

/// Plain words and plain operators only (no quotes, expansions or redirections): a command
/// line any parser knows, so that `runs` and `runs only` decide.
fn plain(t: &mut Tape<'_>) -> String {
    let mut s = String::new();
    for i in 0..1 + t.weighted(&[50, 30, 15, 5]) {
        if i > 0 {
            s.push_str(one(t, &["; ", " && ", " || ", " | ", " & ", "\n"]));
        }
        s.push_str(t_pick_head(t));
        for _ in 0..t.weighted(&[15, 30, 30, 15, 10]) {
            s.push(' ');
            s.push_str(one(t, &WORDS[..WORDS.len() - 4]));
        }
    }
    s
}

/// `pipeline (SEP pipeline)*`.
fn list(t: &mut Tape<'_>, depth: usize) -> String {
    let mut s = pipeline(t, depth);
    for _ in 0..t.weighted(&[50, 30, 15, 5]) {
        s.push_str(one(t, &["; ", " && ", " || ", " & ", "\n", ";", "&&"]));
        s.push_str(&pipeline(t, depth));
    }
    match t.weighted(&[85, 5, 5, 5]) {
        0 => {}
        1 => s.push_str(" &"),
        2 => s.push(';'),
        _ => s.push_str(one(t, &[" # git push --force", " #", "\n# rm -rf /"])),
    }
    s
}

fn pipeline(t: &mut Tape<'_>, depth: usize) -> String {
    let mut s = String::new();
    if t.chance(5) {
        s.push_str("! ");
    }
    if t.chance(5) {
        s.push_str(one(t, &["time ", "time -p "]));
    }
    s.push_str(&command(t, depth));
    for _ in 0..t.weighted(&[75, 18, 7]) {
        s.push_str(one(t, &[" | ", " |& ", "|"]));
        s.push_str(&command(t, depth));
    }
    s
}

fn command(t: &mut Tape<'_>, depth: usize) -> String {
    if depth < 3 && t.chance(18) {
        return compound(t, depth + 1);
    }
    simple(t, depth)
}

fn compound(t: &mut Tape<'_>, depth: usize) -> String {
    let l = |t: &mut Tape<'_>| list(t, depth);
    match t.below(14) {
        0 => format!("({})", l(t)),
        1 => format!("{{ {}; }}", l(t)),
        2 => {
            let (c, a) = (l(t), l(t));
            if t.chance(40) {
                format!("if {c}; then {a}; else {}; fi", l(t))
            } else {
                format!("if {c}; then {a}; fi")
            }
        }
        3 => format!("for f in a *.rs {{1..3}}; do {}; done", l(t)),
        4 => {
            let kw = *t.pick(&["while", "until"]);
            format!("{kw} {}; do {}; done", l(t), l(t))
        }
        5 => format!("case \"$x\" in a|b) {};; *) {};; esac", l(t), l(t)),
        6 => format!("[[ -f x && $({}) == y ]]", l(t)),
        7 => (*t.pick(&["(( x > 1 ))", "(( $(rm -rf x) ))", "((i++))"])).to_owned(),
        8 => format!("coproc {}", simple(t, depth)),
        9 => format!("f() {{ {}; }}", l(t)),
        10 => format!("select x in a b; do {}; done", l(t)),
        11 => format!("${{ {}; }}", l(t)),
        12 => format!("ls @(a|b) && {}", l(t)),
        _ => format!("for ((i=0; i<3; i++)); do {}; done", l(t)),
    }
}

/// `[ASSIGN] WORD... [REDIR]`, or a shell run through `-c` or `eval`.
fn simple(t: &mut Tape<'_>, depth: usize) -> String {
    let mut s = String::new();
    if t.chance(10) {
        s.push_str(one(t, ASSIGNS));
    }
    match t.weighted(&[80, 8, 5, 3, 4]) {
        0 => {
            let head = t_pick_head(t);
            s.push_str(&word_form(t, head, depth));
            for _ in 0..t.weighted(&[15, 30, 30, 15, 10]) {
                s.push(' ');
                let w = *t.pick(WORDS);
                s.push_str(&word_form(t, w, depth));
            }
        }
        1 => {
            // A shell with `-c`: its argument is a command line too.
            let inner = if depth < 3 { list(t, depth + 1) } else { "rm -rf x".to_owned() };
            let shell = *t.pick(&[
                "bash -c",
                "sh -lc",
                "xargs sh -c",
                "env bash -ec",
                "/bin/sh -c",
                "sudo zsh -c",
                "bash -x -c",
                "$SH -c",
                "bash -c -x",
            ]);
            let arg = if t.chance(50) { single(&inner) } else { double(&inner) };
            s.push_str(&format!("{shell} {arg}"));
            if t.chance(20) {
                s.push_str(" name arg");
            }
        }
        2 => {
            let inner = if depth < 3 { pipeline(t, depth + 1) } else { "git push".to_owned() };
            match t.below(3) {
                0 => s.push_str(&format!("eval {inner}")),
                1 => s.push_str(&format!("eval {}", double(&inner))),
                _ => s.push_str("eval \"$CMD\""),
            }
        }
        3 => s.push_str(one(t, &["$CMD -rf x", "${GIT} push", "`which rm` -rf x", "$(echo rm) x"])),
        _ => s.push_str(one(t, &["sudo rm -rf /", "git push --force origin main", "ls -la"])),
    }
    for _ in 0..t.weighted(&[85, 12, 3]) {
        s.push_str(one(t, REDIRS));
    }
    s
}

fn t_pick_head(t: &mut Tape<'_>) -> &'static str {
    if t.chance(80) { one(t, HEADS) } else { one(t, WORDS) }
}

/// `w` as typed: plain, quoted, split by empty quotes, escaped, or replaced by a dynamic form.
fn word_form(t: &mut Tape<'_>, w: &str, depth: usize) -> String {
    let plain = |w: &str| if w.contains(' ') { single(w) } else { w.to_owned() };
    match t.weighted(&[62, 5, 5, 5, 3, 4, 3, 2, 2, 3, 1, 1, 1]) {
        0 => plain(w),
        1 => single(w),
        2 => double(w),
        3 => {
            // `g''it`: quotes splitting a word.
            let at = w.char_indices().nth(1).map_or(w.len(), |(i, _)| i);
            let q = *t.pick(&["''", "\"\""]);
            format!("{}{q}{}", &w[..at], plain(&w[at..]))
        }
        4 => format!("\\{}", plain(w)),
        5 => (*t.pick(&["$X", "${X}", "$1", "\"$@\"", "${X:-rm}", "\"$X\""])).to_owned(),
        6 => format!("{}{}", plain(w), t.pick(&["*", "?", "[ab]", "[x"])),
        7 => (*t.pick(&["{a,b}", "{1..3}", "x{a,b}", "{a}", "'{a,b}'"])).to_owned(),
        8 => (*t.pick(&["~", "~/x", "a~"])).to_owned(),
        9 => {
            let inner = if depth < 3 { pipeline(t, depth + 1) } else { "rm -rf x".to_owned() };
            if t.chance(60) { format!("$({inner})") } else { format!("`{inner}`") }
        }
        10 => (*t.pick(&["$'rm'", "$\"rm\"", "$'\\x72m'"])).to_owned(),
        11 => (*t.pick(&["@(a|b)", "!(x)", "+(y)"])).to_owned(),
        _ => (*t.pick(&["$((1+2))", "<(ls)", "\"a\"'b'c"])).to_owned(),
    }
}

/// One of `items`.
fn one(t: &mut Tape<'_>, items: &[&'static str]) -> &'static str {
    items.get(t.below(items.len())).copied().unwrap_or_default()
}

/// `'...'`, closing and reopening around single quotes.
fn single(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `"..."`, with `"`, `\`, `$` and `` ` `` escaped.
fn double(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A here-document: quoted or unquoted delimiter, with or without `$` in the body, with or
/// without its end.
fn heredoc(t: &mut Tape<'_>) -> String {
    let (op, delim) = *t.pick(&[
        ("<<", "EOF"),
        ("<<", "'EOF'"),
        ("<<-", "EOF"),
        ("<<", "\"EOF\""),
        ("<< ", "E\\OF"),
    ]);
    let head = list(t, 1);
    let body = *t.pick(&["hello", "rm -rf $HOME", "`rm -rf x`", "plain\ntext", "$(git push)", ""]);
    let end = if t.chance(85) { "\nEOF" } else { "" };
    let after = if t.chance(40) { format!("\n{}", list(t, 1)) } else { String::new() };
    format!("cat {op}{delim} && {head}\n{body}{end}{after}")
}

/// Random characters, shell metacharacters and control characters among them.
fn garbage(t: &mut Tape<'_>) -> String {
    const CHARS: &[char] = &[
        'a',
        'r',
        'm',
        ' ',
        '(',
        ')',
        '\'',
        '"',
        '`',
        '$',
        '{',
        '}',
        ';',
        '|',
        '&',
        '<',
        '>',
        '\\',
        '\n',
        '#',
        '*',
        '?',
        '[',
        ']',
        '=',
        '~',
        '!',
        'é',
        '\u{1F600}',
        '\0',
        '\u{1}',
        '\u{7f}',
        '\u{85}',
        '\t',
        '-',
        '/',
    ];
    (0..t.below(24)).map(|_| *t.pick(CHARS)).collect()
}

// ---------------------------------------------------------------------------------------------
// Paths

const SEGMENTS: &[&str] =
    &["src", "..", ".", "", "work", "app", ".env", "x", "~", "main.rs", ".github", "workflows"];

/// A `path` argument's text.
pub(super) fn path_text(t: &mut Tape<'_>) -> String {
    match t.weighted(&[30, 25, 35, 10]) {
        0 => (*t.pick(&[
            "/work/app/src/main.rs",
            "/work/app/.env",
            "/etc/passwd",
            "/work/app",
            "/",
            "/work/application/x",
            "/work/app/.github/workflows/ci.yml",
            "/work/x",
        ]))
        .to_owned(),
        1 => (*t.pick(&[
            "src/main.rs",
            ".env",
            "src/../.env",
            "./src/lib.rs",
            "../x/y",
            "../../..",
            ".",
            "..",
            ".github/workflows/ci.yml",
            "src/",
            "a//b",
        ]))
        .to_owned(),
        2 => {
            let n = 1 + t.below(5);
            let mut s: String = if t.chance(50) { "/".to_owned() } else { String::new() };
            let segs: Vec<&str> = (0..n).map(|_| *t.pick(SEGMENTS)).collect();
            s.push_str(&segs.join("/"));
            if t.chance(15) {
                s.push('/');
            }
            s
        }
        _ => (*t.pick(&[
            "",
            "~",
            "~/x",
            "~alice/.ssh",
            "/a\0b",
            "a\0",
            "//",
            "///work//app//",
            "/~",
            "a/~b",
            "/work/app/..",
            "src/./../../app",
        ]))
        .to_owned(),
    }
}

/// The request's `cwd`: `None` for absent; `Some((json, malformed))`.
pub(super) fn cwd(t: &mut Tape<'_>) -> Option<(J, bool)> {
    match t.weighted(&[30, 40, 5, 5, 5, 5, 3, 2, 1, 1]) {
        0 => None,
        1 => Some((json!("/work/app"), false)),
        2 => Some((json!("/work/app/"), false)),
        3 => Some((json!("/work//app/./src/.."), false)),
        4 => Some((json!("/"), false)),
        5 => Some((J::Null, false)),
        6 => Some((json!(*t.pick(&["/work/app/src", "/..", "/work/x/../app", "/tmp"])), false)),
        7 => Some((json!("/work/a\0pp"), false)),
        8 => Some((json!(*t.pick(&["work/app", "", "~/app", "./x"])), true)),
        _ => Some((json!(*t.pick(&[J::from(3), json!(["/"]), json!({"a": 1})])), true)),
    }
}

// ---------------------------------------------------------------------------------------------
// Time and history

/// Nanoseconds in a second.
const NANOS: i128 = 1_000_000_000;

/// 2026-12-02T16:00:00Z, in nanoseconds since the epoch: the time of most requests.
pub(super) const NOW: i128 = 1_796_227_200 * NANOS;

/// `nanos` as RFC 3339, with `offset_minutes` (east of UTC), in one of its spellings: `t`/`z`
/// in either case, `-00:00` for UTC sometimes, fraction digits when needed (and sometimes
/// zeros when not).
pub(super) fn rfc3339(t: &mut Tape<'_>, nanos: i128, offset_minutes: i32) -> String {
    let local = nanos + i128::from(offset_minutes) * 60 * NANOS;
    let secs = local.div_euclid(NANOS);
    let frac = local.rem_euclid(NANOS);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days as i64);
    let lower = t.chance(15);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}{}{:02}:{:02}:{:02}",
        if lower { 't' } else { 'T' },
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    if frac != 0 {
        let digits = format!("{frac:09}");
        if t.chance(50) {
            s.push('.');
            s.push_str(&digits);
        } else {
            s.push('.');
            s.push_str(digits.trim_end_matches('0'));
        }
    } else if t.chance(10) {
        s.push_str(one(t, &[".0", ".000", ".000000000"]));
    }
    if offset_minutes == 0 {
        s.push_str(one(t, &["Z", "Z", "z", "+00:00", "-00:00"]));
    } else {
        let sign = if offset_minutes < 0 { '-' } else { '+' };
        let a = offset_minutes.abs();
        s.push_str(&format!("{sign}{:02}:{:02}", a / 60, a % 60));
    }
    s
}

/// Days since 1970-01-01 as a proleptic Gregorian date.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// An offset to write a timestamp with, in minutes east of UTC.
fn offset(t: &mut Tape<'_>) -> i32 {
    [0, 60, -330, 840, -720, 1][t.weighted(&[70, 10, 8, 5, 4, 3])]
}

/// Timestamps that are not RFC 3339 as §10 accepts it.
const BAD_TIMES: &[&str] = &[
    "2026-12-02 16:00:00Z",
    "2026-12-02T16:00:60Z",
    "2026-02-30T00:00:00Z",
    "2026-12-02T16:00:00",
    "2026-12-02T16:00:00.1234567890Z",
    "2026-12-02T24:00:00Z",
    "2026-12-02T16:00:00+0100",
    "yesterday",
    "",
];

/// The request's `time`: `(nanos it stands for, its JSON, malformed)`; `None` when absent.
pub(super) fn time(t: &mut Tape<'_>) -> Option<(Option<i128>, J, bool)> {
    match t.weighted(&[20, 70, 5, 3, 2]) {
        0 => None,
        1 => {
            let now = NOW + [0, NANOS / 2, 1][t.weighted(&[80, 10, 10])];
            let off = offset(t);
            Some((Some(now), json!(rfc3339(t, now, off)), false))
        }
        2 => Some((None, J::Null, false)),
        3 => Some((None, json!(*t.pick(BAD_TIMES)), true)),
        _ => Some((None, json!(*t.pick(&[J::from(1_796_227_200), json!(true)])), true)),
    }
}

/// Undeclared tool names for history entries (some matching the glob targets of `calls`).
const OTHER_TOOLS: &[&str] = &["repo.write", "http.post", "nope", "deploy.x", "secrets.list", ""];

/// The request's `history`: `None` when absent, else `(json, malformed)`. Entry times lie near
/// the edges of the policy's `windows` (seconds) before `now`.
pub(super) fn history(
    t: &mut Tape<'_>,
    tools: &[&str],
    windows: &[i64],
    now: Option<i128>,
) -> Option<(J, bool)> {
    let n = match t.weighted(&[25, 5, 10, 60]) {
        0 => return None,
        1 => return Some((J::Null, false)),
        2 => 0,
        _ => 1 + t.below(6),
    };
    let now = now.unwrap_or(NOW);
    let mut malformed = false;
    let mut entries = Vec::new();
    for _ in 0..n {
        let tool =
            if !tools.is_empty() && t.chance(75) { *t.pick(tools) } else { *t.pick(OTHER_TOOLS) };
        let mut e = json!({"tool": tool});
        match t.weighted(&[80, 10, 6, 1, 1, 1, 1]) {
            0 => {
                let window =
                    i128::from(windows.get(t.below(windows.len())).copied().unwrap_or(3600));
                let at = match t.below(10) {
                    0 => now - window * NANOS,
                    1 => now - window * NANOS + 1,
                    2 => now - window * NANOS - NANOS,
                    3 => now,
                    4 => now + 1,
                    5 => now + 60 * NANOS,
                    6 => now - window * NANOS / 2,
                    7 => now - 10 * NANOS,
                    8 => now - 3 * 86_400 * NANOS,
                    _ => now - window * NANOS + NANOS / 2,
                };
                let off = offset(t);
                e["at"] = json!(rfc3339(t, at, off));
            }
            1 => {}
            2 => e["at"] = J::Null,
            3 => {
                e["at"] = json!(*t.pick(BAD_TIMES));
                malformed = true;
            }
            4 => {
                e["at"] = json!(5);
                malformed = true;
            }
            5 => {
                e = json!({"at": rfc3339(t, now, 0)});
                malformed = true;
            }
            _ => {
                e["tool"] = json!(*t.pick(&[J::Null, json!(3)]));
                malformed = true;
            }
        }
        if t.chance(5) {
            e["note"] = json!("ignored");
        }
        entries.push(e);
    }
    if t.chance(2) {
        return Some((json!("deploy"), true));
    }
    Some((J::Array(entries), malformed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    #[test]
    fn timestamps_are_written_right() {
        let data: Vec<u32> = (0..4000u32).map(|i| i.wrapping_mul(2_654_435_761)).collect();
        let mut t = Tape::new(&data);
        for delta in [0, 1, NANOS / 2, -86_400 * NANOS * 400, 7 * NANOS + 123, -1] {
            for off in [0, 60, -330, 840, -720, 1] {
                let text = rfc3339(&mut t, NOW + delta, off);
                let parsed = Timestamp::parse(&text).map(Timestamp::as_unix_nanos);
                assert_eq!(parsed, Ok(NOW + delta), "{text}");
            }
        }
        assert_eq!(Timestamp::parse("2026-12-02T16:00:00Z").map(Timestamp::as_unix_nanos), Ok(NOW));
        for bad in BAD_TIMES {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }
}
