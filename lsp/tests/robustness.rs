//! Any sequence of edits and requests, with positions anywhere (past line ends, inside
//! surrogate pairs, on lines that do not exist), unknown documents, stale versions and
//! half-typed text, yields answers or errors: never a panic, a hang or an internal error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use common::Harness;
use proptest::prelude::*;
use serde_json::{Value, json};

const START: &str = "role dev {\n  may ping\n}\n/// 😀 doc\ntool ping(env: \"a\" | \"b\") [t]\ntool sh(c: command, p: path) [x]\nworkflow w {\n  start by dev\n  allow ping when env == \"a\"\n  allow sh when c runs only [[\"ls\", ...]] and p under \".\" and calls([t] within 1h) < 2\n}\ndeny sh when c runs [\"rm\", ..., \"-r\"]\nassert \"a\" {\n  never allow via w sh when c runs [\"rm\", ...]\n  never start w when given(approval by dev) > 0\n}\nfixture f = human [dev]\ntest \"x\" {\n  expect allow: f via w calls ping(env: \"a\") in \"/w\" at \"2026-12-02T16:00:00Z\" after [ping 2h ago, sh at \"2026-12-02T15:00:00Z\"]\n}\n";

const FRAGMENTS: &[&str] = &[
    "role",
    "allow ",
    "deny",
    "when ",
    "require ",
    "for",
    "by ",
    "extends",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "\"",
    "\"x\"",
    ",",
    ":",
    "==",
    " in ",
    "initiator.",
    "context.",
    "😀",
    "é",
    "\n",
    "\r\n",
    "  ",
    "ping",
    "dev",
    "w",
    "///",
    "//",
    "1h",
    "99999999999999999999",
    "test \"",
    "expect ",
    "workflow x {",
    "tool a.b.",
    "*",
    "\u{0}",
    "\\",
    // Version 2.
    "runs ",
    "runs only ",
    "only",
    "under ",
    "calls(",
    " within 1h",
    "within",
    "...",
    "..",
    ".",
    "[\"git\", ...]",
    "assert \"a\" {",
    "never allow ",
    "never start ",
    "via ",
    "given(",
    "command",
    "path",
    " in \"/w\"",
    " at \"2026-12-02T16:00:00Z\"",
    "after [",
    " 2h ago",
];

#[derive(Clone, Debug)]
enum Op {
    Change { line: u32, ch: u32, len: u32, text: String },
    Full(String),
    Stale,
    Request { method: &'static str, line: u32, ch: u32 },
    Rename { line: u32, ch: u32, name: String },
    Unknown,
}

fn op() -> impl Strategy<Value = Op> {
    let frag = proptest::sample::select(FRAGMENTS).prop_map(str::to_string);
    let method = proptest::sample::select(
        &[
            "textDocument/hover",
            "textDocument/definition",
            "textDocument/references",
            "textDocument/documentHighlight",
            "textDocument/completion",
            "textDocument/prepareRename",
            "textDocument/formatting",
            "textDocument/documentSymbol",
            "textDocument/foldingRange",
            "textDocument/semanticTokens/full",
            "textDocument/codeAction",
            "textDocument/codeLens",
            "workspace/symbol",
            "workspace/executeCommand",
        ][..],
    );
    prop_oneof![
        6 => (0..20u32, 0..60u32, 0..8u32, proptest::collection::vec(frag.clone(), 0..4))
            .prop_map(|(line, ch, len, t)| Op::Change { line, ch, len, text: t.concat() }),
        1 => proptest::collection::vec(frag, 0..30).prop_map(|t| Op::Full(t.concat())),
        1 => Just(Op::Stale),
        6 => (method, 0..20u32, 0..60u32).prop_map(|(method, line, ch)| Op::Request { method, line, ch }),
        1 => (0..20u32, 0..60u32, "[a-z_.]{0,6}|allow|😀").prop_map(|(line, ch, name)| Op::Rename { line, ch, name }),
        1 => Just(Op::Unknown),
    ]
}

fn params(method: &str, uri: &str, line: u32, ch: u32) -> Value {
    let position = json!({"line": line, "character": ch});
    let doc = json!({"uri": uri});
    match method {
        "textDocument/formatting" => {
            json!({"textDocument": doc, "options": {"tabSize": 2, "insertSpaces": true}})
        }
        "textDocument/documentSymbol"
        | "textDocument/foldingRange"
        | "textDocument/semanticTokens/full"
        | "textDocument/codeLens" => json!({"textDocument": doc}),
        "textDocument/codeAction" => json!({
            "textDocument": doc,
            "range": {"start": {"line": 0, "character": 0}, "end": position},
            "context": {"diagnostics": []},
        }),
        "textDocument/references" => json!({
            "textDocument": doc, "position": position, "context": {"includeDeclaration": true},
        }),
        "workspace/symbol" => json!({"query": "d"}),
        "workspace/executeCommand" => json!({"command": "writ.runTest", "arguments": [uri, "x"]}),
        _ => json!({"textDocument": doc, "position": position}),
    }
}

fn no_internal_error(method: &str, answer: &Value) -> Result<(), TestCaseError> {
    if let Some(code) = answer.get("error").and_then(|e| e.get("code")) {
        prop_assert_ne!(code, &json!(-32603), "{} answered an internal error: {}", method, answer);
    }
    Ok(())
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut h = Harness::start(&[("a.writ", "tool other\n")]).await;
    let uri = h.uri("doc.writ");
    h.open(&uri, START).await;
    let mut version = 1;
    for op in ops {
        match op {
            Op::Change { line, ch, len, text } => {
                version += 1;
                let range = json!({
                    "start": {"line": line, "character": ch},
                    "end": {"line": line, "character": ch + len},
                });
                h.change(&uri, version, json!([{"range": range, "text": text}])).await;
            }
            Op::Full(text) => {
                version += 1;
                h.change(&uri, version, json!([{"text": text}])).await;
            }
            Op::Stale => h.change(&uri, 0, json!([{"text": "stale"}])).await,
            Op::Request { method, line, ch } => {
                let answer = h.request(method, params(method, &uri, line, ch)).await;
                no_internal_error(method, &answer)?;
            }
            Op::Rename { line, ch, name } => {
                let p = json!({
                    "textDocument": {"uri": uri},
                    "position": {"line": line, "character": ch},
                    "newName": name,
                });
                let answer = h.request("textDocument/rename", p).await;
                no_internal_error("rename", &answer)?;
            }
            Op::Unknown => {
                let other = "file:///nowhere/x.writ";
                let answer = h.request("textDocument/hover", params("hover", other, 0, 0)).await;
                prop_assert!(answer.get("error").is_some());
                h.change(other, 5, json!([{"text": "x"}])).await;
            }
        }
    }
    // Still answering, and the last published diagnostics are for the current version.
    let answer = h
        .request("textDocument/documentSymbol", params("textDocument/documentSymbol", &uri, 0, 0))
        .await;
    prop_assert!(answer.is_array(), "{}", answer);
    let answer = h.request("shutdown", Value::Null).await;
    prop_assert_eq!(answer, Value::Null);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_edits_and_requests_never_break_the_server(ops in proptest::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops))?;
    }
}

#[tokio::test]
async fn requests_before_open_and_on_unknown_documents_are_errors() {
    let mut h = Harness::start(&[]).await;
    let answer = h.request("textDocument/hover", params("hover", "file:///nope.writ", 0, 0)).await;
    insta::assert_json_snapshot!("unknown_document", answer);
    let answer = h
        .request("workspace/executeCommand", json!({"command": "writ.nothing", "arguments": []}))
        .await;
    assert!(answer["error"]["message"].as_str().unwrap().contains("unknown command"));
    // Shutdown with null params is fine (tower-lsp 0.20 rejected it).
    assert_eq!(h.request("shutdown", Value::Null).await, Value::Null);
}
