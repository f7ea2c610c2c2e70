//! Resolution by example (LANGUAGE.md §9), then properties against a naive model.
//!
//! The no-panic fuzz runs 4,096 cases by default; `WRIT_PROPTEST_CASES` sets another number:
//!
//! ```text
//! WRIT_PROPTEST_CASES=1000000 cargo test --release -p writ-evaluator path::tests
//! ```

use super::*;
use proptest::prelude::*;

fn r(path: &str, cwd: Option<&str>) -> Option<String> {
    resolve(path, cwd).map(Cow::into_owned)
}

const APP: Option<&str> = Some("/work/app");

#[test]
fn the_examples_of_the_reference() {
    assert_eq!(r("src/../.env", APP).as_deref(), Some("/work/app/.env"));
    assert_eq!(r("src/main.rs", None), None, "relative without cwd");
}

#[test]
fn relative_paths_join_cwd() {
    assert_eq!(r("src/main.rs", APP).as_deref(), Some("/work/app/src/main.rs"));
    assert_eq!(r(".", APP).as_deref(), Some("/work/app"));
    assert_eq!(r("./", APP).as_deref(), Some("/work/app"));
    assert_eq!(r("..", APP).as_deref(), Some("/work"));
    assert_eq!(r("../../../../x", APP).as_deref(), Some("/x"));
    assert_eq!(r("a", Some("/")).as_deref(), Some("/a"));
    assert_eq!(r(".", Some("/")).as_deref(), Some("/"));
    assert_eq!(r(".env", APP).as_deref(), Some("/work/app/.env"));
    assert_eq!(r("...", APP).as_deref(), Some("/work/app/..."));
    assert_eq!(r("a/~b", APP).as_deref(), Some("/work/app/a/~b"));
}

#[test]
fn absolute_paths_ignore_cwd() {
    assert_eq!(r("/etc/passwd", APP).as_deref(), Some("/etc/passwd"));
    assert_eq!(r("/etc/passwd", None).as_deref(), Some("/etc/passwd"));
}

#[test]
fn lexical_rules() {
    assert_eq!(r("/a//b///c", None).as_deref(), Some("/a/b/c"));
    assert_eq!(r("//a", None).as_deref(), Some("/a"), "POSIX's implementation-defined // too");
    assert_eq!(r("/a/./b/.", None).as_deref(), Some("/a/b"));
    assert_eq!(r("/a/b/../c", None).as_deref(), Some("/a/c"));
    assert_eq!(r("/a/b/../../..", None).as_deref(), Some("/"));
    assert_eq!(r("/..", None).as_deref(), Some("/"));
    assert_eq!(r("/../a", None).as_deref(), Some("/a"));
    assert_eq!(r("/a/", None).as_deref(), Some("/a"));
    assert_eq!(r("/a/b//", None).as_deref(), Some("/a/b"));
    assert_eq!(r("/", None).as_deref(), Some("/"));
    assert_eq!(r("///", None).as_deref(), Some("/"));
    assert_eq!(r("/./", None).as_deref(), Some("/"));
    assert_eq!(r("/a/.../b", None).as_deref(), Some("/a/.../b"), "`...` is a name");
    assert_eq!(r("/a/..b/c", None).as_deref(), Some("/a/..b/c"));
    assert_eq!(r("/a/ /b", None).as_deref(), Some("/a/ /b"), "spaces are characters");
    assert_eq!(r("/é/ü", None).as_deref(), Some("/é/ü"));
}

#[test]
fn unknown_paths() {
    assert_eq!(r("~/.ssh/id_rsa", APP), None);
    assert_eq!(r("~", APP), None);
    assert_eq!(r("~alice/x", APP), None);
    assert_eq!(r("/a\0b", APP), None);
    assert_eq!(r("a\0", APP), None);
    assert_eq!(r("\0", APP), None);
    assert_eq!(r("", APP), None);
    // A `~` elsewhere is an ordinary character.
    assert_eq!(r("/~", None).as_deref(), Some("/~"));
}

#[test]
fn cwd_is_resolved_too() {
    assert_eq!(r("x", Some("/work//app/./y/..")).as_deref(), Some("/work/app/x"));
    assert_eq!(r(".", Some("/work/app/")).as_deref(), Some("/work/app"));
    assert_eq!(r("..", Some("/..")).as_deref(), Some("/"));
    // A cwd that no decoded request holds: no relative path resolves against it.
    assert_eq!(r("x", Some("work/app")), None);
    assert_eq!(r("x", Some("")), None);
    assert_eq!(r("x", Some("/a\0")), None);
    assert_eq!(r("/x", Some("work/app")).as_deref(), Some("/x"));
}

#[test]
fn canonical_paths_are_borrowed() {
    for p in ["/", "/a", "/work/app/src/main.rs", "/a/.b/c..", "/~"] {
        assert!(matches!(resolve(p, None), Some(Cow::Borrowed(b)) if b == p), "{p}");
    }
    for p in ["/a/", "//a", "/a/./b", "/a/../b", "/."] {
        assert!(matches!(resolve(p, None), Some(Cow::Owned(_))), "{p}");
    }
}

#[test]
fn under() {
    assert!(is_under("/work/app/src/main.rs", "/work/app"));
    assert!(is_under("/work/app", "/work/app"));
    assert!(!is_under("/work/application", "/work/app"), "a sibling with the same prefix");
    assert!(!is_under("/work", "/work/app"));
    assert!(!is_under("/other", "/work/app"));
    assert!(is_under("/", "/"));
    assert!(is_under("/anything/at/all", "/"));
    assert!(!is_under("relative", "/"));
}

#[test]
fn a_hundred_thousand_segments() {
    let deep = "/a".repeat(100_000);
    assert!(matches!(resolve(&deep, None), Some(Cow::Borrowed(_))));
    let up = format!("{deep}{}", "/..".repeat(100_000));
    assert_eq!(r(&up, None).as_deref(), Some("/"));
    let messy = "x/./..//y/".repeat(100_000);
    let resolved = r(&messy, APP).unwrap_or_default();
    assert_eq!(resolved.len(), "/work/app".len() + 2 * 100_000);
    let climbing = format!("{}{}", "a/".repeat(100_000), "../".repeat(100_001));
    assert_eq!(r(&climbing, APP).as_deref(), Some("/work"));
    let slashes = "/".repeat(1_000_000);
    assert_eq!(r(&slashes, None).as_deref(), Some("/"));
}

// ---------------------------------------------------------------------------------------------
// Properties

/// The obvious model: a stack of segments.
fn model(path: &str, cwd: Option<&str>) -> Option<String> {
    if path.is_empty() || path.starts_with('~') || path.contains('\0') {
        return None;
    }
    let full = if path.starts_with('/') {
        path.to_owned()
    } else {
        let cwd = cwd?;
        if !cwd.starts_with('/') || cwd.contains('\0') {
            return None;
        }
        format!("{cwd}/{path}")
    };
    let mut stack: Vec<&str> = Vec::new();
    for segment in full.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                stack.pop();
            }
            s => stack.push(s),
        }
    }
    Some(format!("/{}", stack.join("/")))
}

fn segments(p: &str) -> Vec<&str> {
    p.split('/').filter(|s| !s.is_empty()).collect()
}

/// Paths made of a few interesting segments.
fn path() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["", "/", "//", "~", "./", "../"]),
        prop::collection::vec(
            prop::sample::select(vec!["a", "b", "ab", ".", "..", "", "...", ".a", "~", "é", " "]),
            0..8,
        ),
        prop::sample::select(vec!["", "/", "//"]),
    )
        .prop_map(|(head, segments, tail)| format!("{head}{}{tail}", segments.join("/")))
}

fn cwd() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        6 => path().prop_map(|p| Some(format!("/{p}"))),
        1 => path().prop_map(Some),
    ]
}

fn fuzz_cases() -> u32 {
    std::env::var("WRIT_PROPTEST_CASES").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(4096)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    /// `resolve` is the stack model.
    #[test]
    fn resolve_is_the_model(p in path(), cwd in cwd()) {
        prop_assert_eq!(r(&p, cwd.as_deref()), model(&p, cwd.as_deref()), "{:?} in {:?}", p, cwd);
    }

    /// The result is absolute and canonical, and resolving it again borrows it unchanged.
    #[test]
    fn resolve_is_idempotent_and_canonical(p in path(), cwd in cwd()) {
        if let Some(once) = resolve(&p, cwd.as_deref()) {
            prop_assert!(once.starts_with('/'), "{}", once);
            prop_assert!(!once.contains("//"), "{}", once);
            prop_assert!(once.as_ref() == "/" || !once.ends_with('/'), "{}", once);
            prop_assert!(!once.split('/').any(|s| s == "." || s == ".."), "{}", once);
            prop_assert!(is_canonical(&once), "{}", once);
            let twice = resolve(&once, None);
            prop_assert!(matches!(twice, Some(Cow::Borrowed(t)) if t == once.as_ref()), "{}", once);
            // And against any cwd: absolute paths ignore it.
            prop_assert_eq!(r(&once, Some("/elsewhere")), Some(once.into_owned()));
        }
    }

    /// `is_under` is "the directory's segments are a prefix of the path's".
    #[test]
    fn is_under_is_segment_wise(p in path(), d in path()) {
        if let (Some(p), Some(d)) = (r(&p, Some("/w")), r(&d, Some("/w"))) {
            let (ps, ds) = (segments(&p), segments(&d));
            let expected = ds.len() <= ps.len() && ps.iter().zip(&ds).all(|(a, b)| a == b);
            prop_assert_eq!(is_under(&p, &d), expected, "{} under {}", p, d);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(), ..ProptestConfig::default() })]

    /// Any text, any cwd: an answer, never a panic; an answer is canonical and is the model's.
    #[test]
    fn never_panics(
        p in "[/.a~\\x00é]{0,24}|\\PC{0,24}|\\PC*",
        cwd in proptest::option::of("[/.a~\\x00é]{0,16}|\\PC{0,16}"),
    ) {
        let got = r(&p, cwd.as_deref());
        if let Some(got) = &got {
            prop_assert!(is_canonical(got), "{:?}", got);
            prop_assert!(is_under(got, "/"));
        }
        prop_assert_eq!(got, model(&p, cwd.as_deref()));
    }
}

/// The word-at-a-time check gives the byte-by-byte answer for every text of `/`, `.`, `a` and
/// NUL up to 9 bytes (across the first word's end), with and without refusing NUL.
#[test]
fn the_word_check_is_the_byte_check_for_short_texts() {
    const ALPHABET: [u8; 4] = [b'/', b'.', b'a', 0];
    let mut text = Vec::new();
    for len in 0..=9u32 {
        for n in 0..4usize.pow(len) {
            text.clear();
            text.extend((0..len).map(|i| ALPHABET[(n >> (2 * i)) % 4]));
            for refuse_nul in [false, true] {
                assert_eq!(
                    canonical_scan(&text, refuse_nul),
                    canonical_by_bytes(&text, refuse_nul),
                    "{:?} (refusing NUL: {refuse_nul})",
                    String::from_utf8_lossy(&text)
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    /// And for longer texts, whose last word overlaps the one before.
    #[test]
    fn the_word_check_is_the_byte_check(
        text in "/[/.a\\x00]{0,40}|/([a-z]{1,9}/){0,6}[.a-z]{0,9}",
        refuse_nul: bool,
    ) {
        prop_assert_eq!(
            canonical_scan(text.as_bytes(), refuse_nul),
            canonical_by_bytes(text.as_bytes(), refuse_nul),
            "{:?}", text
        );
    }
}
