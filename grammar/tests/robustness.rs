//! Hostile input: deep nesting, huge numbers, binary garbage. The parser reports errors and
//! never panics or overflows the stack.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use common::check_invariants;
use writ_grammar::ast::ParseErrorKind;
use writ_grammar::parse;

fn single_error(src: &str) -> (String, ParseErrorKind) {
    let file = parse(src);
    assert_eq!(file.errors.len(), 1, "{:#?}", file.errors);
    (file.errors[0].message.clone(), file.errors[0].kind)
}

#[test]
fn a_hundred_thousand_open_parentheses() {
    let (message, kind) = single_error(&format!("deny x when {}", "(".repeat(100_000)));
    assert!(message.starts_with("nesting is too deep"), "{message}");
    assert_eq!(kind, ParseErrorKind::Limit);
    let (message, kind) = single_error(&"(".repeat(100_000));
    assert!(message.starts_with("nesting is too deep"), "{message}");
    assert_eq!(kind, ParseErrorKind::Limit);
}

#[test]
fn deep_nesting_of_every_kind() {
    for deep in [
        format!("deny x when {}a{}", "(".repeat(100_000), ")".repeat(100_000)),
        format!("deny x when {}a", "not ".repeat(100_000)),
        format!("deny x when {}", "not (".repeat(50_000)),
        format!("deny x when x in {}", "[".repeat(100_000)),
        format!("workflow w {}", "{".repeat(100_000)),
        format!("deny x when c runs only {}", "[".repeat(100_000)),
        format!("deny x when c runs {}\"a\"{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("deny x when {}c runs [\"a\"]", "not ".repeat(100_000)),
        format!("deny x when {}calls(x) > 0", "not (".repeat(50_000)),
        format!("assert \"a\" {{ never allow x when {} }}", "given(".repeat(100_000)),
        format!("test \"t\" {{ expect deny: a starts w after {} }}", "[".repeat(100_000)),
    ] {
        let file = parse(&deep);
        assert!(!file.errors.is_empty());
        check_invariants(&deep);
    }
}

#[test]
fn nesting_of_v2_constructs_up_to_the_limit_parses() {
    // `runs only [[...]]` is two levels; 62 parentheses around it make 64.
    let src = format!("deny x when {}c runs only [[\"a\", ...]]{}", "(".repeat(62), ")".repeat(62));
    assert!(parse(&src).errors.is_empty());
    let src = format!("deny x when {}c runs only [[\"a\", ...]]{}", "(".repeat(63), ")".repeat(63));
    let (message, kind) = single_error(&src);
    assert!(message.starts_with("nesting is too deep"), "{message}");
    assert_eq!(kind, ParseErrorKind::Limit);
}

#[test]
fn long_flat_v2_input() {
    let patterns = vec!["[\"a\", ..., \"b\"]"; 20_000].join(", ");
    let file = parse(&format!("deny x when c runs only [{patterns}]"));
    assert!(file.errors.is_empty());
    let claims = "  never allow x when calls(x within 1h) > 0\n".repeat(5_000);
    let file = parse(&format!("assert \"a\" {{\n{claims}}}"));
    assert!(file.errors.is_empty());
    let history = vec!["deploy 1h ago"; 20_000].join(", ");
    let file = parse(&format!("test \"t\" {{ expect deny: a starts w after [{history}] }}"));
    assert!(file.errors.is_empty());
}

#[test]
fn long_flat_input() {
    let chain = format!("deny x when a{}", " and a".repeat(100_000));
    let (message, kind) = single_error(&chain);
    assert!(message.contains("too complex"), "{message}");
    assert_eq!(kind, ParseErrorKind::Limit);
    let many = "allow x when a == 1\n".repeat(10_000);
    let file = parse(&format!("workflow w {{\n{many}}}"));
    assert!(file.errors.is_empty());
}

#[test]
fn huge_numbers() {
    let digits = "9".repeat(10_000);
    for src in [
        format!("workflow w {{ max_depth {digits} }}"),
        format!("workflow w {{ ttl {digits}d }}"),
        "workflow w { ttl 9223372036854775807m }".to_string(),
    ] {
        let (message, kind) = single_error(&src);
        assert!(message.contains("too large"), "{message}");
        assert_eq!(kind, ParseErrorKind::NumberTooLarge);
    }
    assert!(parse("workflow w { ttl 9223372036854775807s }").errors.is_empty());
}

#[test]
fn control_characters_and_odd_unicode() {
    for src in [
        "\0",
        "role\0r",
        "role r\0",
        "\u{FEFF}role r",
        "role r\u{FEFF}",
        "role é",
        "deny x because \"\u{202E}\u{0}\"",
        "\r\r\r",
        "role r\r\nrole s\r\n",
        "/\u{0}/",
        "\"\\",
        "\"\\u{",
        "deny x because \"\\u{1F6",
        "deny x because \"\\",
    ] {
        check_invariants(src);
    }
}

#[test]
fn binary_garbage() {
    // A fixed pseudo-random byte stream, made valid UTF-8 lossily.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let bytes: Vec<u8> = (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let src = String::from_utf8_lossy(&bytes);
    check_invariants(&src);
    for chunk in src.as_bytes().chunks(997) {
        check_invariants(&String::from_utf8_lossy(chunk));
    }
}
