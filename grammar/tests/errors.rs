//! Syntax errors: one case per file in `tests/errors/`, each with one mistake. The snapshot
//! shows what the parser kept and the error, located in the source.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use std::path::Path;

use writ_grammar::ast::{Item, ParseError, SourceFile, WorkflowItem};
use writ_grammar::{line_col, parse};

#[test]
fn one_mistake_one_error() {
    insta::glob!("errors/*.writ", |path| {
        let src = std::fs::read_to_string(path).unwrap();
        let file = parse(&src);
        let name = path.file_name().unwrap().to_string_lossy();
        assert_eq!(file.errors.len(), 1, "{name}: {:#?}", file.errors);
        insta::assert_snapshot!(report(&src, &file));
    });
}

#[test]
fn every_case_has_a_snapshot() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    for entry in std::fs::read_dir(dir.join("errors")).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let snap = dir.join(format!("snapshots/errors__one_mistake_one_error@{stem}.writ.snap"));
        // A new case is accepted with `INSTA_UPDATE=always`; this catches deleted snapshots.
        assert!(snap.exists() || std::env::var("INSTA_UPDATE").is_ok(), "{}", snap.display());
    }
}

/// What was parsed, and each error with its location and the source line.
fn report(src: &str, file: &SourceFile) -> String {
    let items: Vec<String> = file.items.iter().map(item_kind).collect();
    let mut out = format!("items: {}\n", items.join(", "));
    for error in &file.errors {
        out.push_str(&render(src, error));
    }
    out
}

fn item_kind(item: &Item) -> String {
    match item {
        Item::Role(_) => "role".into(),
        Item::Attribute(_) => "attribute".into(),
        Item::Context(_) => "context".into(),
        Item::Tool(_) => "tool".into(),
        Item::Evidence(_) => "evidence".into(),
        Item::Workflow(w) => {
            let body: Vec<&str> = w
                .body
                .iter()
                .map(|i| match i {
                    WorkflowItem::Rule(_) => "rule",
                    WorkflowItem::MaxDepth(_) => "max_depth",
                    WorkflowItem::Ttl(_) => "ttl",
                    WorkflowItem::Error(_) => "ERROR",
                })
                .collect();
            format!("workflow({})", body.join(", "))
        }
        Item::Rule(_) => "rule".into(),
        Item::Fixture(_) => "fixture".into(),
        Item::Test(_) => "test".into(),
        Item::Assert(a) => format!("assert({} claims)", a.claims.len()),
        Item::Error(_) => "ERROR".into(),
    }
}

/// ```text
/// error[Syntax]: expected `:`, found `=`
///  --> 1:16
///   |
/// 1 | attribute team = string
///   |                ^
/// ```
fn render(src: &str, error: &ParseError) -> String {
    let (line, col) = line_col(src, error.span.start as usize);
    let text = src.lines().nth(line - 1).unwrap_or("");
    let shown: String = text.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    let rest = shown.chars().count().saturating_sub(col - 1);
    let width = src[error.span.range()].chars().count().clamp(1, rest.max(1));
    let gutter = " ".repeat(line.to_string().len());
    format!(
        "error[{:?}]: {}\n{gutter}--> {line}:{col}\n{gutter} |\n{line} | {shown}\n{gutter} | {}{}\n",
        error.kind,
        error.message,
        " ".repeat(col - 1),
        "^".repeat(width)
    )
}
