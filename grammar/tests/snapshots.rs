//! Snapshots of the parsed tree and of the formatted text of the fixtures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use common::{FIXTURES, dump, fixture};
use writ_grammar::{format, parse};

#[test]
fn fixtures_parse_without_errors() {
    for name in FIXTURES {
        let file = parse(&fixture(name));
        assert_eq!(file.errors, vec![], "{name}");
    }
}

#[test]
fn parsed_trees() {
    for name in FIXTURES {
        let file = parse(&fixture(name));
        insta::assert_snapshot!(format!("tree_{name}"), dump(&file));
    }
}

#[test]
fn formatted_fixtures() {
    for name in FIXTURES {
        let formatted = format(&fixture(name)).expect("fixtures parse");
        insta::assert_snapshot!(format!("format_{name}"), formatted);
    }
}

/// The fixtures are written in canonical layout, except that `edges` (copied from the
/// conformance corpus) lacks the blank lines between roles with bodies, and `long` has long
/// lines for the formatter to break. `agents` is the version 2 conformance policy, unchanged.
#[test]
fn canonical_fixtures_are_unchanged() {
    for name in ["engineering", "syntax", "agents", "v2"] {
        let src = fixture(name);
        assert_eq!(format(&src).as_deref(), Some(src.as_str()), "{name}");
    }
}

/// Badly laid out files, one per case in `tests/format/`: the snapshot is the formatted text,
/// which is a fixed point of the formatter.
#[test]
fn formatted() {
    insta::glob!("format/*.writ", |path| {
        let src = std::fs::read_to_string(path).unwrap();
        let formatted = format(&src).expect("parses");
        assert_eq!(format(&formatted).as_deref(), Some(formatted.as_str()), "not idempotent");
        insta::assert_snapshot!(formatted);
    });
}
