//! `writ import mcp`: the reference filesystem server's `tools/list` becomes tool declarations
//! that compile; what writ cannot represent is reported, naming the tool and property.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use common::{Run, writ};

/// Writes `text` as a policy file and runs `writ check` on it.
fn check(name: &str, text: &str) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("writ-import-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tools.writ");
    std::fs::write(&file, text).unwrap();
    let Run { code, stdout, stderr } = writ(&["check", &file.display().to_string()]);
    let _ = std::fs::remove_dir_all(&dir);
    (code, format!("{stdout}{stderr}"))
}

#[test]
fn filesystem_server() {
    let fixture = "tests/fixtures/mcp/filesystem-tools.json";
    let Run { code, stdout, stderr } = writ(&["import", "mcp", fixture, "--server", "filesystem"]);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("filesystem_writ", stdout);
    insta::assert_snapshot!("filesystem_warnings", stderr);
    assert!(stdout.contains(
        "tool mcp.filesystem.read_text_file(path: path, tail: int, head: int) [read_only]"
    ));
    assert!(stdout.contains("tool mcp.filesystem.move_file(source: path, destination: path)"));
    assert!(stderr.contains("tool `edit_file`, property `edits`: not representable"), "{stderr}");
    let (code, report) = check("fs", &stdout);
    assert_eq!(code, 0, "{report}");
    // Formatted already: `writ fmt` would change nothing.
    let Run { code, stdout: formatted, .. } = writ(&["import", "mcp", fixture]);
    assert_eq!(code, 0);
    assert!(formatted.contains("tool read_multiple_files(paths: [string]) [read_only]"));
    assert_eq!(check("fs-bare", &formatted).0, 0);
}

#[test]
fn odd_names_and_schemas() {
    let Run { code, stdout, stderr } =
        writ(&["import", "mcp", "tests/fixtures/mcp/odd-tools.json"]);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("odd_writ", stdout);
    insta::assert_snapshot!("odd_warnings", stderr);
    let (code, report) = check("odd", &stdout);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn bad_input() {
    let Run { code, stderr, .. } = writ(&["import", "mcp", "Cargo.toml"]);
    assert_eq!(code, 2);
    assert!(stderr.starts_with("error: `Cargo.toml` is not JSON"), "{stderr}");
    let Run { code, stderr, .. } =
        writ(&["import", "mcp", "examples/coding-agents/requests/feature-start.json"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("expected an MCP `tools/list` result"), "{stderr}");
    let Run { code, .. } = writ(&["import", "mcp", "no/such/file.json"]);
    assert_eq!(code, 2);
}
