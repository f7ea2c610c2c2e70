//! Snapshots of the parsed tree and of the formatted text of the fixtures.

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
/// lines for the formatter to break.
#[test]
fn canonical_fixtures_are_unchanged() {
    for name in ["engineering", "syntax"] {
        let src = fixture(name);
        assert_eq!(format(&src).as_deref(), Some(src.as_str()), "{name}");
    }
}

/// A badly laid out file with comments everywhere.
#[test]
fn formatted_messy_file() {
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/format/messy.writ"),
    )
    .unwrap();
    let formatted = format(&src).expect("parses");
    insta::assert_snapshot!(formatted);
}
