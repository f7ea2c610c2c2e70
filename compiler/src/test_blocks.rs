//! Fixtures and tests (LANGUAGE.md §6): checked like the rest of the policy, and lowered to
//! requests in the JSON of §5 so that `writ test` runs them through the real evaluator.

use serde_json::{Map, Value as Json, json};
use writ_evaluator::ir::Value;
use writ_grammar::ast::{Expectation, FieldValue, Ident, Outcome, TestAction, TestDecl};

pub mod run;

use crate::check::{Checker, Namespace};
use crate::diagnostic::{Code, Diagnostic, Location};
use crate::symbols::at;
use crate::types::Ty;

/// The subject every test request carries; evidence given in a test is given for it.
pub const TEST_SUBJECT: &str = "writ-test-subject";

/// One `test "..." { ... }` block.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TestCase {
    pub name: String,
    pub location: Location,
    pub expectations: Vec<TestExpectation>,
}

/// One `expect OUTCOME: REQUEST` line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TestExpectation {
    pub outcome: Outcome,
    /// Evidence kinds expected missing, when listed (`expect pending(approval): ...`).
    pub missing: Option<Vec<String>>,
    /// The request, as JSON text in the schema of LANGUAGE.md §5.
    pub request: String,
    /// The expectation as written, whitespace collapsed.
    pub text: String,
    pub location: Location,
}

pub(crate) fn check(c: &mut Checker<'_>) -> Vec<TestCase> {
    let fixtures: Vec<Option<Json>> =
        c.symbols().fixtures.clone().iter().map(|f| fixture(c, f.file, f.decl)).collect();
    let tests = c.symbols().tests.clone();
    tests.iter().map(|t| test(c, t.file, t.decl, &fixtures)).collect()
}

pub(crate) fn value_json(v: &Value) -> Json {
    match v {
        Value::Str(s) => json!(s),
        Value::Int(i) => json!(i),
        Value::Bool(b) => json!(b),
        Value::Duration(s) => json!(format!("{s}s")),
        Value::StringList(l) => json!(l),
        Value::Kind(k) => json!(k.as_str()),
    }
}

/// A fixture as a principal in request JSON; `None` when it has errors.
fn fixture(c: &mut Checker<'_>, file: usize, f: &writ_grammar::ast::FixtureDecl) -> Option<Json> {
    let mut ok = true;
    if !matches!(f.kind.name.as_str(), "human" | "service" | "agent") {
        ok = false;
        c.report(
            Diagnostic::new(
                Code::InvalidKind,
                at(file, f.kind.span),
                format!("`{}` is not a principal kind", f.kind.name),
            )
            .label("expected `human`, `service` or `agent`")
            .help(format!("write `fixture {} = human [ROLE, ...]`", f.name.name)),
        );
    }
    for r in &f.roles {
        ok &= c.find(Namespace::Role, file, r.span, &r.name).is_some();
    }
    let mut attrs = Map::new();
    for a in &f.attrs {
        if attrs.contains_key(&a.name.name) {
            ok = false;
            c.report(
                Diagnostic::new(
                    Code::DuplicateArgument,
                    at(file, a.name.span),
                    format!("`{}` is given twice", a.name.name),
                )
                .label("given again here")
                .help("give each attribute once"),
            );
            continue;
        }
        let Some(index) = c.find(Namespace::Attribute, file, a.name.span, &a.name.name) else {
            ok = false;
            continue;
        };
        let Some(&decl) = c.symbols().attributes.get(index) else { continue };
        let ty = Ty::from_type_expr(&decl.decl.ty).unwrap_or(Ty::Str);
        match c.literal(file, &a.value, &ty, &a.name.name) {
            Some(v) => {
                attrs.insert(a.name.name.clone(), value_json(&v));
            }
            None => ok = false,
        }
    }
    ok.then(|| {
        json!({
            "id": f.name.name,
            "kind": f.kind.name,
            "roles": f.roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            "attrs": attrs,
        })
    })
}

fn test(c: &mut Checker<'_>, file: usize, t: &TestDecl, fixtures: &[Option<Json>]) -> TestCase {
    TestCase {
        name: t.name.value.clone(),
        location: at(file, t.name.span),
        expectations: t
            .expectations
            .iter()
            .filter_map(|e| expectation(c, file, e, fixtures))
            .collect(),
    }
}

fn resolve_fixture(
    c: &mut Checker<'_>,
    file: usize,
    name: &Ident,
    fixtures: &[Option<Json>],
) -> Option<Json> {
    let i = c.find(Namespace::Fixture, file, name.span, &name.name)?;
    fixtures.get(i).cloned().flatten()
}

fn values_json(values: Vec<(String, Value)>) -> Json {
    Json::Object(values.into_iter().map(|(k, v)| (k, value_json(&v))).collect())
}

fn expectation(
    c: &mut Checker<'_>,
    file: usize,
    e: &Expectation,
    fixtures: &[Option<Json>],
) -> Option<TestExpectation> {
    let mut ok = true;
    // The grammar admits a missing-evidence list after `pending` only.
    for m in e.missing.iter().flatten() {
        if c.find(Namespace::Evidence, file, m.span, &m.name).is_none() {
            ok = false;
        }
    }
    let mut chain = Vec::new();
    for p in &e.request.chain {
        match resolve_fixture(c, file, p, fixtures) {
            Some(j) => chain.push(j),
            None => ok = false,
        }
    }
    let mut request = Map::new();
    match &e.request.action {
        TestAction::Call { workflow, tool, args } => {
            ok &= c.find(Namespace::Workflow, file, workflow.span, &workflow.name).is_some();
            request.insert("action".into(), json!("call"));
            request.insert("workflow".into(), json!(workflow.name));
            request.insert("tool".into(), json!(tool.text));
            chain.push(json!({"id": format!("{}-agent", workflow.name), "kind": "agent"}));
            let decl = c
                .find(Namespace::Tool, file, tool.span, &tool.text)
                .and_then(|t| c.symbols().tools.get(t).copied());
            match decl {
                Some(decl) => {
                    let params = decl.decl.params.as_deref().unwrap_or(&[]);
                    let owner = format!("tool `{}`", tool.text);
                    match c.field_values(
                        file,
                        args,
                        params,
                        &owner,
                        at(decl.file, decl.decl.name.span),
                    ) {
                        Some(v) => {
                            request.insert("args".into(), values_json(v));
                        }
                        None => ok = false,
                    }
                }
                None => ok = false,
            }
        }
        TestAction::Start { workflow, ttl } => {
            ok &= c.find(Namespace::Workflow, file, workflow.span, &workflow.name).is_some();
            request.insert("action".into(), json!("start"));
            request.insert("workflow".into(), json!(workflow.name));
            if let Some(ttl) = ttl {
                request.insert("ttl".into(), json!(format!("{}s", ttl.seconds)));
            }
        }
    }
    request.insert("chain".into(), Json::Array(chain));
    request.insert("subject".into(), json!(TEST_SUBJECT));
    let mut evidence = Vec::new();
    for item in &e.request.evidence {
        let Some(kind) = c.find(Namespace::Evidence, file, item.name.span, &item.name.name) else {
            ok = false;
            continue;
        };
        let Some(&decl) = c.symbols().evidence.get(kind) else { continue };
        let mut j = Map::new();
        j.insert("kind".into(), json!(item.name.name));
        let params = decl.decl.fields.as_deref().unwrap_or(&[]);
        let owner = format!("evidence `{}`", item.name.name);
        match c.field_values(file, &item.fields, params, &owner, at(decl.file, decl.decl.name.span))
        {
            Some(v) if !v.is_empty() => {
                j.insert("fields".into(), values_json(v));
            }
            Some(_) => {}
            None => ok = false,
        }
        if let Some(by) = &item.by {
            if decl.decl.by_human.is_none() {
                ok = false;
                c.report(
                    Diagnostic::new(
                        Code::ByWithoutHuman,
                        at(file, by.span),
                        format!("`{}` items carry no giver", item.name.name),
                    )
                    .label("this evidence kind is not `by human`")
                    .related(at(decl.file, decl.decl.name.span), "declared here without `by human`")
                    .help(format!("write `{}` without `by`", item.name.name)),
                );
            } else {
                match resolve_fixture(c, file, by, fixtures) {
                    Some(p) => {
                        j.insert("by".into(), p);
                    }
                    None => ok = false,
                }
            }
        }
        if decl.decl.bound.is_some() {
            j.insert("subject".into(), json!(TEST_SUBJECT));
        }
        evidence.push(Json::Object(j));
    }
    request.insert("evidence".into(), Json::Array(evidence));
    let mut context = Map::new();
    for fv in &e.request.context {
        match context_value(c, file, fv) {
            Some(v) => {
                context.insert(fv.name.name.clone(), value_json(&v));
            }
            None => ok = false,
        }
    }
    request.insert("context".into(), Json::Object(context));
    ok &= run_clauses(c, file, &e.request, &mut request);
    let text = c.snippet(file, e.span);
    ok.then(|| TestExpectation {
        outcome: e.outcome,
        missing: e.missing.as_ref().map(|m| m.iter().map(|i| i.name.clone()).collect()),
        request: Json::Object(request).to_string(),
        text: text.split_whitespace().collect::<Vec<_>>().join(" "),
        location: at(file, e.span),
    })
}

/// A test request's `in "CWD"`, `at "TIME"` and `after [...]` (LANGUAGE.md §10), checked and
/// written into the request. `DURATION ago` is that long before the request's `at`.
fn run_clauses(
    c: &mut Checker<'_>,
    file: usize,
    r: &writ_grammar::ast::TestRequest,
    request: &mut Map<String, Json>,
) -> bool {
    use writ_evaluator::time::Timestamp;
    let mut ok = true;
    if let Some(cwd) = &r.cwd {
        if cwd.value.starts_with('/') {
            request.insert("cwd".into(), json!(cwd.value));
        } else {
            ok = false;
            c.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    at(file, cwd.span),
                    format!("the working directory must be absolute, not {:?}", cwd.value),
                )
                .label("not an absolute path")
                .help("write a path that starts with `/`: `in \"/work/app\"`"),
            );
        }
    }
    let time_error = |c: &mut Checker<'_>, lit: &writ_grammar::ast::StrLit, why: &str| {
        c.report(
            Diagnostic::new(
                Code::TypeMismatch,
                at(file, lit.span),
                format!("{:?} is not an RFC 3339 time: {why}", lit.value),
            )
            .label("not a time")
            .help("write a time such as `\"2026-12-02T16:00:00Z\"`"),
        );
    };
    let mut now = None;
    if let Some(time) = &r.time {
        match Timestamp::parse(&time.value) {
            Ok(t) => {
                now = Some(t);
                request.insert("time".into(), json!(t.to_string()));
            }
            Err(e) => {
                ok = false;
                time_error(c, time, e.reason());
            }
        }
    }
    if let Some(entries) = &r.history {
        let mut history = Vec::new();
        for entry in entries {
            let tool = &entry.tool;
            if c.symbols().tool(&tool.text).is_none() {
                ok = false;
                let ns = Namespace::Tool;
                let help = c.hint(ns, &tool.text);
                let help =
                    help.unwrap_or_else(|| "a test's history names the policy's tools".into());
                c.unknown_helped(ns, file, tool.span, &tool.text, help);
                continue;
            }
            let mut j = Map::new();
            j.insert("tool".into(), json!(entry.tool.text));
            match &entry.at {
                None => {}
                Some(writ_grammar::ast::HistoryTime::At(lit)) => match Timestamp::parse(&lit.value)
                {
                    Ok(t) => {
                        j.insert("at".into(), json!(t.to_string()));
                    }
                    Err(e) => {
                        ok = false;
                        time_error(c, lit, e.reason());
                    }
                },
                Some(writ_grammar::ast::HistoryTime::Ago(d)) => {
                    let at_time = now.and_then(|n| {
                        Timestamp::from_unix_nanos(
                            n.as_unix_nanos() - i128::from(d.seconds) * 1_000_000_000,
                        )
                    });
                    match at_time {
                        Some(t) => {
                            j.insert("at".into(), json!(t.to_string()));
                        }
                        None => {
                            ok = false;
                            c.report(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    at(file, d.span),
                                    "`ago` counts back from the request's time, which is not given",
                                )
                                .label("ago from when?")
                                .help("give the request a time: `at \"2026-12-02T16:00:00Z\"` before `after [...]`"),
                            );
                        }
                    }
                }
            }
            history.push(Json::Object(j));
        }
        request.insert("history".into(), Json::Array(history));
    }
    ok
}

fn context_value(c: &mut Checker<'_>, file: usize, fv: &FieldValue) -> Option<Value> {
    let index = c.find(Namespace::Context, file, fv.name.span, &fv.name.name)?;
    let decl = c.symbols().contexts.get(index)?;
    let ty = Ty::from_type_expr(&decl.decl.ty).unwrap_or(Ty::Str);
    c.literal(file, &fv.value, &ty, &fv.name.name)
}
