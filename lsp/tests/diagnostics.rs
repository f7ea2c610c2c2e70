//! Diagnostics: the workspace folder is one program; open documents override the disk.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use common::Harness;
use serde_json::json;

const ROLES: &str = "role dev {\n  may ping\n}\n";
const FLOW: &str = "tool ping\nworkflow w {\n  start by dev\n  allow ping\n}\n";

#[tokio::test]
async fn the_folder_is_one_program_and_edits_publish_and_clear() {
    let mut h = Harness::start(&[("roles.writ", ROLES), ("flows/flow.writ", FLOW)]).await;
    // At start-up every file was checked; a clean program publishes empty lists.
    let initial = h.take_diagnostics();
    assert_eq!(initial.len(), 2, "{initial:?}");
    assert!(initial.iter().all(|p| p["diagnostics"] == json!([])));

    let flow = h.uri("flows/flow.writ");
    h.open(&flow, FLOW).await;
    // A typo in a role name that is declared in another file: an error with a suggestion.
    h.change(
        &flow,
        2,
        json!([{"range": {"start": {"line": 2, "character": 14}, "end": {"line": 2, "character": 14}}, "text": "v"}]),
    )
    .await;
    let published = h.last_diagnostics(&flow).expect("diagnostics for the edited file");
    insta::assert_json_snapshot!("unknown_role", published);

    // Fixed again: the list is cleared.
    h.change(
        &flow,
        3,
        json!([{"range": {"start": {"line": 2, "character": 14}, "end": {"line": 2, "character": 15}}, "text": ""}]),
    )
    .await;
    let published = h.last_diagnostics(&flow).unwrap();
    assert_eq!(published["diagnostics"], json!([]));
    assert_eq!(published["version"], 3);
}

#[tokio::test]
async fn cross_file_related_information_and_warnings() {
    let mut h = Harness::start(&[
        ("a.writ", "tool ping\n"),
        ("b.writ", "tool ping\nevidence unused_kind\n"),
    ])
    .await;
    let published = h.take_diagnostics();
    insta::assert_json_snapshot!("duplicate_and_unused", published);
}

#[tokio::test]
async fn a_document_outside_the_folder_is_its_own_program() {
    let mut h = Harness::start(&[("roles.writ", ROLES)]).await;
    h.take_diagnostics();
    // `dev` is declared in the folder, but this file is not in it.
    h.open("untitled:Untitled-1", FLOW).await;
    let published = h.last_diagnostics("untitled:Untitled-1").unwrap();
    assert_eq!(published["diagnostics"][0]["code"], "writ::unknown_role");
    h.notify("textDocument/didClose", json!({"textDocument": {"uri": "untitled:Untitled-1"}}))
        .await;
    let published = h.last_diagnostics("untitled:Untitled-1").unwrap();
    assert_eq!(published["diagnostics"], json!([]));
}

#[tokio::test]
async fn a_new_unsaved_file_in_the_folder_joins_its_program() {
    let mut h = Harness::start(&[("roles.writ", ROLES)]).await;
    h.take_diagnostics();
    let flow = h.uri("new.writ");
    h.open(&flow, FLOW).await;
    let published = h.last_diagnostics(&flow).unwrap();
    assert_eq!(published["diagnostics"], json!([]), "`dev` comes from roles.writ");
}
