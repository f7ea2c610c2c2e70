//! The report end to end, in quick mode on the smallest policy: it agrees, keeps the parts of
//! `BENCHMARKS.md` it does not own, replaces its own section on a second run, and draws a plot
//! with a line per engine in both panels.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use std::process::Command;

fn run(dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_writ-bench"))
        .arg("report")
        .arg("--quick")
        .arg("--sizes=10")
        .arg(format!("--out={}", dir.join("BENCHMARKS.md").display()))
        .arg(format!("--plot={}", dir.join("latency.svg").display()))
        .output()
        .expect("runs writ-bench")
}

#[test]
fn the_report_updates_its_section_and_draws_the_plot() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("BENCHMARKS.md");
    std::fs::write(&md, "# Benchmarks\n\n## `writ serve` under load\n\nhand-written numbers\n")
        .unwrap();
    for _ in 0..2 {
        let out = run(dir.path());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let text = std::fs::read_to_string(&md).unwrap();
    assert_eq!(text.matches("## writ, Cedar and Rego side by side").count(), 1, "{text}");
    assert!(text.starts_with("# Benchmarks\n\n<!-- writ-bench report: begin."), "{text}");
    assert!(text.ends_with("## `writ serve` under load\n\nhand-written numbers\n"), "{text}");
    assert!(text.contains("| 10 (27) | 300 |"), "{text}");
    assert!(text.contains("| 0 |\n"), "no disagreement column of 0: {text}");
    // Each request once per pass: a row for the policy, a time for every engine.
    let fresh = text.split("Each request once per pass").nth(1).expect("the pass table");
    let row = fresh.lines().find(|l| l.starts_with("| 10 (27) |")).expect("its row");
    assert!(!row.contains("n/a"), "{row}");

    let svg = std::fs::read_to_string(dir.path().join("latency.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the plot is well-formed SVG");
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    for label in ["Decision alone (prepared request)", "JSON request in to decision out"] {
        assert!(texts.contains(&label), "{label} missing: {texts:?}");
    }
    for engine in ["writ", "Cedar", "Rego VM", "Rego interp."] {
        assert_eq!(texts.iter().filter(|t| **t == engine).count(), 2, "legend of {engine}");
    }
}

#[test]
fn bad_arguments_are_usage_errors() {
    for args in [&["nothing"][..], &["report", "--sizes=ten"], &["report", "--colour"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_writ-bench")).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
