//! Data-driven diagnostics tests: every `diagnostics/*.writ` file is checked and its
//! diagnostics are snapshotted, rendered for people (miette's graphical report) and as JSON.
//! A file named after a diagnostic code must produce that code. A new case is a new file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use std::path::Path;

use miette::{GraphicalReportHandler, GraphicalTheme};
use writ_compiler::{Code, Compiler, JsonDiagnostic, Report};

fn render(compiler: &Compiler) -> (String, String) {
    let sources = compiler.sources();
    let compilation = compiler.compilation();
    let handler =
        GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
    let mut human = String::new();
    for d in &compilation.diagnostics {
        let report = Report::new(d, &sources).expect("diagnostic in a known file");
        handler.render_report(&mut human, &report).expect("render");
    }
    let json: Vec<JsonDiagnostic> =
        compilation.diagnostics.iter().map(|d| JsonDiagnostic::new(d, &sources)).collect();
    (human, serde_json::to_string_pretty(&json).expect("json"))
}

#[test]
fn diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    let mut seen_codes = std::collections::BTreeSet::new();
    for path in entries.iter().filter(|p| p.extension().is_some_and(|e| e == "writ")) {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let compiler = Compiler::new(vec![(format!("{name}.writ"), text)]);
        let compilation = compiler.compilation();
        for d in &compilation.diagnostics {
            seen_codes.insert(d.code.name());
        }
        if let Some(code) = Code::ALL.iter().find(|c| c.name() == name) {
            assert!(
                compilation.diagnostics.iter().any(|d| d.code == *code),
                "{name}.writ should report {code}, got {:?}",
                compilation.diagnostics.iter().map(|d| d.code.name()).collect::<Vec<_>>()
            );
        }
        let (human, json) = render(&compiler);
        insta::with_settings!({snapshot_path => "diagnostics/snapshots", prepend_module_to_snapshot => false, snapshot_suffix => "human"}, {
            insta::assert_snapshot!(name.clone(), human);
        });
        insta::with_settings!({snapshot_path => "diagnostics/snapshots", prepend_module_to_snapshot => false, snapshot_suffix => "json"}, {
            insta::assert_snapshot!(name.clone(), json);
        });
    }
    for code in Code::ALL {
        assert!(seen_codes.contains(code.name()), "no case in tests/diagnostics reports {code}");
    }
}

/// The table of codes in docs/language.md ("Diagnostic codes") is the codes' declarations
/// (`Code::ALL`, each code's doc comment its description): one place, so the two cannot drift.
/// `UPDATE_DOCS=1` rewrites the table.
#[test]
fn the_reference_lists_every_code_as_declared() {
    let mut table = String::from("| code | severity | what it reports |\n| --- | --- | --- |\n");
    for code in Code::ALL {
        let severity = match code.severity() {
            writ_compiler::Severity::Error => "error",
            writ_compiler::Severity::Warning => "warning",
        };
        table.push_str(&format!(
            "| `writ::{}` | {severity} | {} |\n",
            code.name(),
            code.description()
        ));
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/language.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- codes: begin -->\n", "<!-- codes: end -->");
    let start = text.find(begin).expect("the codes' begin marker") + begin.len();
    let stop = text.find(end).expect("the codes' end marker");
    if text[start..stop] != table {
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, format!("{}{table}{}", &text[..start], &text[stop..])).unwrap();
        } else {
            panic!(
                "docs/language.md's table of codes is not Code::ALL (UPDATE_DOCS=1 rewrites it):\n{table}"
            );
        }
    }
}
