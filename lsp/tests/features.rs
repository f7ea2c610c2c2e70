//! Every language feature, driven through LSP messages, with snapshots of the answers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use common::{Harness, pos};
use serde_json::{Value, json};

const ROLES: &str = r#"/// People who build the product.
role engineer {
  may repo.*
  may deploy when env == "staging"
}
/// Engineers trusted with production.
role senior extends engineer {
  may deploy
}
attribute team: string
context business_hours: bool
"#;

const TOOLS: &str = r#"/// Pushes commits.
tool repo.push(repo: string, branch: string) [write]
tool repo.read(repo: string)
/// Deploys a service.
tool deploy(env: "staging" | "prod", service: string) [write, prod]
evidence tests_passed
/// A ticket in the tracker.
evidence ticket(project: string)
evidence approval by human
"#;

const FLOW: &str = r#"workflow release {
  start by senior
  allow deploy when env == "prod" require approval by senior, ticket(project: "REL")
  allow repo.push when branch matches "rel/*"
  allow repo.read
}
deny [prod] when initiator.team == "contractors" because "no"

fixture alice = human [senior] { team: "platform" }
fixture bob = human [senior]
test "prod deploys need approval" {
  expect pending: alice via release calls deploy(env: "prod", service: "api")
  expect allow: alice via release calls deploy(env: "prod", service: "api") with approval by bob, ticket(project: "REL")
}
test "a wrong expectation" {
  expect allow: alice via release calls repo.push(repo: "a", branch: "main")
}
"#;

async fn start() -> (Harness, String) {
    let mut h =
        Harness::start(&[("roles.writ", ROLES), ("tools.writ", TOOLS), ("flow.writ", FLOW)]).await;
    let flow = h.uri("flow.writ");
    h.open(&flow, FLOW).await;
    h.take_diagnostics();
    (h, flow)
}

async fn at(h: &mut Harness, method: &'static str, uri: &str, text: &str, needle: &str) -> Value {
    let (line, ch) = pos(text, needle, 1);
    h.at(method, uri, line, ch).await
}

#[tokio::test]
async fn hover() {
    let (mut h, flow) = start().await;
    let role = at(&mut h, "textDocument/hover", &flow, FLOW, "senior\n").await;
    insta::assert_json_snapshot!("hover_role", role);
    let tool = at(&mut h, "textDocument/hover", &flow, FLOW, "deploy when").await;
    insta::assert_json_snapshot!("hover_tool", tool);
    let evidence = at(&mut h, "textDocument/hover", &flow, FLOW, "ticket(").await;
    insta::assert_json_snapshot!("hover_evidence", evidence);
    let rule = at(&mut h, "textDocument/hover", &flow, FLOW, "allow repo.push").await;
    insta::assert_json_snapshot!("hover_rule", rule);
    let guardrail = at(&mut h, "textDocument/hover", &flow, FLOW, "deny [prod]").await;
    insta::assert_json_snapshot!("hover_guardrail", guardrail);
    let argument = at(&mut h, "textDocument/hover", &flow, FLOW, "env ==").await;
    insta::assert_json_snapshot!("hover_argument", argument);
}

#[tokio::test]
async fn definition_references_highlights() {
    let (mut h, flow) = start().await;
    let def = at(&mut h, "textDocument/definition", &flow, FLOW, "senior\n").await;
    insta::assert_json_snapshot!("definition_across_files", def);
    let refs = at(&mut h, "textDocument/references", &flow, FLOW, "senior\n").await;
    insta::assert_json_snapshot!("references_across_files", refs);
    let hl = at(&mut h, "textDocument/documentHighlight", &flow, FLOW, "alice =").await;
    insta::assert_json_snapshot!("highlights", hl);
}

#[tokio::test]
async fn rename() {
    let (mut h, flow) = start().await;
    let (line, ch) = pos(FLOW, "senior\n", 1);
    let prepare = h.at("textDocument/prepareRename", &flow, line, ch).await;
    assert_eq!(prepare["placeholder"], "senior");
    let rename = |name: &'static str| json!({"textDocument": {"uri": flow}, "position": {"line": line, "character": ch}, "newName": name});
    let ok = h.request("textDocument/rename", rename("lead")).await;
    let ok = h.redact(ok);
    insta::assert_json_snapshot!("rename", common::sorted(ok));
    let reserved = h.request("textDocument/rename", rename("allow")).await;
    insta::assert_json_snapshot!("rename_reserved", reserved);
    let taken = h.request("textDocument/rename", rename("engineer")).await;
    insta::assert_json_snapshot!("rename_taken", taken);
}

/// Completion at the end of `typed`, written as a new line in the workflow.
async fn complete(typed: &str) -> Vec<String> {
    let (mut h, flow) = start().await;
    let text = FLOW.replacen("  allow repo.read\n", &format!("  allow repo.read\n{typed}\n"), 1);
    h.change(&flow, 2, json!([{"text": text}])).await;
    let (line, ch) = pos(&text, &format!("\n{typed}\n"), typed.len() + 1);
    let items = h
        .request(
            "textDocument/completion",
            json!({"textDocument": {"uri": flow}, "position": {"line": line, "character": ch}}),
        )
        .await;
    items
        .as_array()
        .unwrap_or_else(|| panic!("{typed:?}: {items}"))
        .iter()
        .map(|i| {
            format!(
                "{} -> {}",
                i["label"].as_str().unwrap(),
                i["textEdit"]["newText"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn completion_knows_where_it_is() {
    let cases = [
        "  ",
        "  start by ",
        "  start by sen",
        "  allow ",
        "  allow [",
        "  allow repo.",
        "  allow deploy when ",
        "  allow deploy when env == ",
        "  allow deploy when env in [",
        "  allow deploy when initiator.",
        "  allow deploy when context.",
        "  allow deploy when initiator.kind == ",
        "  allow deploy when initiator has role ",
        "  allow deploy require ",
        "  allow deploy require ticket(",
        "  allow deploy require approval by ",
    ];
    let mut out = Vec::new();
    for typed in cases {
        out.push(json!({"typed": typed, "items": complete(typed).await}));
    }
    insta::assert_json_snapshot!("completion", out);
}

#[tokio::test]
async fn formatting_symbols_folding_tokens() {
    let (mut h, flow) = start().await;
    let messy = "role   dev{may ping}\ntool ping\n";
    h.change(&flow, 2, json!([{"text": messy}])).await;
    let fmt = h
        .request(
            "textDocument/formatting",
            json!({"textDocument": {"uri": flow}, "options": {"tabSize": 2, "insertSpaces": true}}),
        )
        .await;
    insta::assert_json_snapshot!("formatting", fmt);
    h.change(&flow, 3, json!([{"text": FLOW}])).await;
    let doc = json!({"textDocument": {"uri": flow}});
    let symbols = h.request("textDocument/documentSymbol", doc.clone()).await;
    insta::assert_json_snapshot!("document_symbols", symbols);
    let ws = h.request("workspace/symbol", json!({"query": "rel"})).await;
    let ws = h.redact(ws);
    insta::assert_json_snapshot!("workspace_symbols", ws);
    let folds = h.request("textDocument/foldingRange", doc.clone()).await;
    insta::assert_json_snapshot!("folding", folds);
    let tokens = h.request("textDocument/semanticTokens/full", doc).await;
    assert!(tokens["data"].as_array().unwrap().len() > 50);
    let first: Vec<Value> = tokens["data"].as_array().unwrap()[..25].to_vec();
    insta::assert_json_snapshot!("semantic_tokens_start", first);
}

#[tokio::test]
async fn code_actions() {
    let (mut h, flow) = start().await;
    let broken = "workflow w {\n  start by senoir\n  allow dploy\n  allow repo.read require tikcet, audit\n}\n";
    h.change(&flow, 2, json!([{"text": broken}])).await;
    let diags = h.last_diagnostics(&flow).unwrap();
    assert_eq!(diags["diagnostics"].as_array().unwrap().len(), 4, "{diags}");
    let actions = h
        .request(
            "textDocument/codeAction",
            json!({
                "textDocument": {"uri": flow},
                "range": {"start": {"line": 0, "character": 0}, "end": {"line": 5, "character": 0}},
                "context": {"diagnostics": []},
            }),
        )
        .await;
    let actions = common::sorted(h.redact(actions));
    insta::assert_json_snapshot!("code_actions", actions);
}

#[tokio::test]
async fn remove_an_unused_declaration() {
    let (mut h, flow) = start().await;
    let text = format!("{FLOW}/// Never used.\nevidence unused_kind\n");
    h.change(&flow, 2, json!([{"text": text}])).await;
    let diags = h.last_diagnostics(&flow).unwrap();
    assert_eq!(diags["diagnostics"][0]["code"], "writ::unused_declaration", "{diags}");
    assert_eq!(diags["diagnostics"][0]["severity"], 2);
    let range = diags["diagnostics"][0]["range"].clone();
    let actions = h
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": flow}, "range": range, "context": {"diagnostics": []}}),
        )
        .await;
    let actions = common::sorted(h.redact(actions));
    insta::assert_json_snapshot!("remove_unused", actions);
}

#[tokio::test]
async fn test_code_lens_runs_the_test() {
    let (mut h, flow) = start().await;
    let lenses = h.request("textDocument/codeLens", json!({"textDocument": {"uri": flow}})).await;
    let lenses = h.redact(lenses);
    insta::assert_json_snapshot!("code_lenses", lenses);
    for name in ["prod deploys need approval", "a wrong expectation"] {
        let result = h
            .request(
                "workspace/executeCommand",
                json!({"command": "writ.runTest", "arguments": [flow, name]}),
            )
            .await;
        let shown: Vec<Value> = std::mem::take(&mut h.inbox)
            .into_iter()
            .filter(|m| m["method"] == "window/showMessage")
            .map(|m| m["params"].clone())
            .collect();
        insta::assert_json_snapshot!(
            format!("run_test_{}", name.replace(' ', "_")),
            json!({"result": result, "shown": shown})
        );
    }
    let lenses = h.request("textDocument/codeLens", json!({"textDocument": {"uri": flow}})).await;
    let titles: Vec<&str> = lenses
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["command"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["▶ run test (passed)", "▶ run test (failed)"]);
}

/// A completion sent right after an edit answers for the edited text, even while the server is
/// still publishing the diagnostics of an earlier edit (the client is not reading them). The
/// pytest-lsp suite once caught completions answered against the previous text this way.
#[tokio::test]
async fn a_request_after_an_edit_sees_the_edit_while_diagnostics_are_pending() {
    let (mut h, flow) = start().await;
    let broken = FLOW.replacen("  allow repo.read\n", "  allow repo.read when nothing\n", 1);
    let typed = "  allow deploy when env == ";
    let text = FLOW.replacen("  allow repo.read\n", &format!("  allow repo.read\n{typed}\n"), 1);
    let (line, ch) = pos(&text, &format!("\n{typed}\n"), typed.len() + 1);
    let doc = |version: i32, text: &str| json!({"textDocument": {"uri": flow, "languageId": "writ", "version": version, "text": text}});
    let answers = h
        .burst(vec![
            ("textDocument/didOpen", doc(2, &broken), false),
            ("textDocument/didOpen", doc(3, &text), false),
            (
                "textDocument/completion",
                json!({"textDocument": {"uri": flow}, "position": {"line": line, "character": ch}}),
                true,
            ),
        ])
        .await;
    let items = answers[2].as_ref().expect("an answer")["result"].clone();
    let labels: Vec<&str> = items
        .as_array()
        .unwrap_or_else(|| panic!("{items}"))
        .iter()
        .filter_map(|i| i["label"].as_str())
        .collect();
    assert!(
        labels.contains(&"\"prod\"") || labels.contains(&"prod"),
        "answered for the old text: {labels:?}"
    );
    // The diagnostics still arrive in order: the last ones published are for the last text.
    let last = h.last_diagnostics(&flow).expect("diagnostics for the document");
    assert_eq!(last["version"], 3, "{last}");
}

const V2: &str = r#"role dev {
  may sh.run
  may fs.edit
  may deploy
}
tool sh.run(command: command) [exec]
tool fs.edit(file: path) [file]
tool deploy(env: "staging" | "prod") [prod]
evidence approval by human

workflow coding {
  start by dev
  allow sh.run when command runs only [["git", "status"], ["ls", ...]]
  allow fs.edit when file under "src"
  allow deploy when calls(deploy within 24h) < 3
}
deny sh.run when command runs ["rm", ..., "-*r*", ...]

assert "no deletes" {
  never allow via coding sh.run when command runs ["rm", ...]
  never start coding when given(approval by dev) < 1
}
"#;

async fn start_v2() -> (Harness, String) {
    let mut h = Harness::start(&[("v2.writ", V2)]).await;
    let uri = h.uri("v2.writ");
    h.open(&uri, V2).await;
    let diags = h.last_diagnostics(&uri).expect("diagnostics");
    let errors: Vec<&Value> =
        diags["diagnostics"].as_array().unwrap().iter().filter(|d| d["severity"] == 1).collect();
    assert!(errors.is_empty(), "the v2 policy compiles: {errors:?}");
    (h, uri)
}

#[tokio::test]
async fn version_2_hover() {
    let (mut h, uri) = start_v2().await;
    let mut out = Vec::new();
    for needle in [
        "runs only",
        "runs [",
        "under",
        "calls(",
        "within",
        "...",
        "assert",
        "never start",
        "given",
        "command) [exec]",
        "path)",
        "command runs only",
        "file under",
    ] {
        let answer = at(&mut h, "textDocument/hover", &uri, V2, needle).await;
        out.push(json!({"at": needle, "hover": answer}));
    }
    insta::assert_json_snapshot!("hover_v2", out);
}

#[tokio::test]
async fn version_2_completion() {
    let (mut h, uri) = start_v2().await;
    let mut out = Vec::new();
    for (version, typed) in [
        "  allow sh.run when command ",
        "  allow fs.edit when file ",
        "  allow deploy when calls(",
        "  allow deploy when calls([",
        "  allow deploy when calls(deploy ",
    ]
    .into_iter()
    .enumerate()
    {
        let text = V2.replacen("  start by dev\n", &format!("  start by dev\n{typed}\n"), 1);
        h.change(&uri, version as i32 + 2, json!([{"text": text}])).await;
        let (line, ch) = pos(&text, &format!("\n{typed}\n"), typed.len() + 1);
        let items = h
            .request(
                "textDocument/completion",
                json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": ch}}),
            )
            .await;
        let items: Vec<String> = items
            .as_array()
            .unwrap_or_else(|| panic!("{typed:?}: {items}"))
            .iter()
            .map(|i| format!("{} ({})", i["label"].as_str().unwrap(), i["kind"]))
            .collect();
        out.push(json!({"typed": typed, "items": items}));
    }
    insta::assert_json_snapshot!("completion_v2", out);
}

#[tokio::test]
async fn version_2_semantic_tokens() {
    let (mut h, uri) = start_v2().await;
    let tokens =
        h.request("textDocument/semanticTokens/full", json!({"textDocument": {"uri": uri}})).await;
    let data: Vec<u64> =
        tokens["data"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    let types = [
        "keyword",
        "comment",
        "string",
        "number",
        "operator",
        "class",
        "function",
        "struct",
        "property",
        "variable",
        "namespace",
        "enumMember",
        "parameter",
        "type",
    ];
    // Decoded: one line per source line, `text:type` for each token (lines 5.. of the policy:
    // the tools, the workflow, the deny and the assertion).
    let lines: Vec<&str> = V2.lines().collect();
    let (mut line, mut col) = (0usize, 0usize);
    let mut shown: Vec<String> = vec![String::new(); lines.len()];
    for t in data.chunks(5) {
        if t[0] > 0 {
            col = 0;
        }
        line += t[0] as usize;
        col += t[1] as usize;
        let text: String = lines[line].chars().skip(col).take(t[2] as usize).collect();
        let mods = if t[4] & 1 != 0 { "+decl" } else { "" };
        shown[line].push_str(&format!("{text}:{}{mods} ", types[t[3] as usize]));
    }
    let shown: Vec<String> = shown.into_iter().skip(5).map(|s| s.trim_end().to_string()).collect();
    insta::assert_json_snapshot!("semantic_tokens_v2", shown);
}

/// Each assertion has a "verify" code lens; running it answers every claim's verdict (the
/// failing one with a counterexample request), shows it, and the lens title then carries it.
#[tokio::test]
async fn verify_code_lens_runs_the_assertion() {
    let (mut h, uri) = start_v2().await;
    let lenses = h.request("textDocument/codeLens", json!({"textDocument": {"uri": uri}})).await;
    let verify: Vec<&Value> = lenses
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["command"]["command"] == "writ.verifyAssertion")
        .collect();
    assert_eq!(verify.len(), 1, "{lenses}");
    assert_eq!(verify[0]["command"]["title"], "✓ verify this assertion");
    let args = verify[0]["command"]["arguments"].clone();
    assert_eq!(args[1], "no deletes");
    let result = h
        .request(
            "workspace/executeCommand",
            json!({"command": "writ.verifyAssertion", "arguments": args}),
        )
        .await;
    // `ls rm` runs only `ls ...` and runs `rm` (the pattern matches from any word), so the
    // first claim fails; anyone holding `dev` may start coding without approval: so does the
    // second.
    assert_eq!(result["result"], "fails", "{result}");
    let claims = result["claims"].as_array().unwrap();
    assert_eq!(claims[0]["result"], "fails", "{result}");
    assert_eq!(claims[0]["counterexample"]["tool"], "sh.run", "{result}");
    assert_eq!(claims[1]["result"], "fails", "{result}");
    assert_eq!(claims[1]["counterexample"]["action"], "start", "{result}");
    assert_eq!(claims[1]["line"], 20, "{result}");
    // Every counterexample is allowed by the policy.
    let policy = writ_compiler::Compiler::new(vec![("v2.writ".into(), V2.into())]);
    let ir = policy.compilation().policy.clone().unwrap();
    let policy = writ_evaluator::Policy::from_ir(ir).unwrap();
    for c in claims {
        let text = c["counterexample"].to_string();
        let request = writ_evaluator::Request::from_json(&text).unwrap();
        assert_eq!(policy.decide(&request).decision.as_str(), "allow", "{c}");
    }
    let shown: Vec<Value> = std::mem::take(&mut h.inbox)
        .into_iter()
        .filter(|m| m["method"] == "window/showMessage")
        .map(|m| m["params"].clone())
        .collect();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0]["type"], 1, "an error message: {shown:?}");
    let message = shown[0]["message"].as_str().unwrap();
    assert!(message.contains("fails") && message.contains("counterexample"), "{message}");
    let lenses = h.request("textDocument/codeLens", json!({"textDocument": {"uri": uri}})).await;
    let titles: Vec<&str> = lenses
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["command"]["command"] == "writ.verifyAssertion")
        .map(|l| l["command"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["✓ verify this assertion (fails)"]);
    // Hovering the assertion's name lists its claims in words.
    let (line, ch) = pos(V2, "\"no deletes\"", 2);
    let hover = h.at("textDocument/hover", &uri, line, ch).await;
    let text = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(
        text.contains("assert \"no deletes\"") && text.contains("no start of workflow `coding`"),
        "{hover}"
    );
}
