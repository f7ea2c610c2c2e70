//! The playground (`writ serve --playground`): one page (`GET /playground`) to edit a policy
//! and a request, with the real compiler's diagnostics, the decision with its trace, and the
//! reach table; and the two endpoints behind it. See `docs/playground.md`.
//!
//! The endpoints compile text from anyone who can reach the server, so:
//!
//! - they exist only with `--playground` (the router has no such routes otherwise);
//! - a body is at most [`MAX_BODY`] bytes (413 past it), a request at most [`MAX_REQUEST`];
//! - the compiler runs on a blocking thread with a deadline of [`TIME_LIMIT`] (503 past it: the
//!   thread finishes on its own, but at most [`MAX_RUNNING`] compilations run at once, so
//!   overrunning ones cannot take the blocking pool, and a request finding none free gets 503);
//! - the policy is one in-memory file given to `Compiler::new`: the compiler's queries never
//!   do IO (an invariant of ARCHITECTURE.md), and `writ_compiler::load`, the only code that
//!   reads policy files, is never called, so no text can make the server read its disk.
//!
//! `POST /v1/playground/check` `{"policy": TEXT}` answers
//! `{"ok", "diagnostics": [...], "reach": REPORT | null}`; `POST /v1/playground/decide`
//! `{"policy": TEXT, "request": REQUEST}` answers the same plus `"decision"`, `"trace"` (the
//! explanation, as `writ eval --explain` prints it) and `"request_error"` (a request that does
//! not decode).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State as Extract};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value as Json, json};
use tokio::sync::Semaphore;
use writ_compiler::{Compiler, JsonDiagnostic};
use writ_evaluator::{Policy, Request};

use crate::http::error;

/// The largest body the endpoints read: 256 KiB.
pub const MAX_BODY: usize = 256 * 1024;
/// The largest request (its JSON text) decided: 64 KiB.
pub const MAX_REQUEST: usize = 64 * 1024;
/// How long one compilation (and decision) may take.
pub const TIME_LIMIT: Duration = Duration::from_secs(2);
/// Compilations at once.
pub const MAX_RUNNING: usize = 2;
/// The name the policy's file has in diagnostics.
pub const FILE_NAME: &str = "playground.writ";

const PAGE: &str = include_str!("../assets/playground.html");
const SCRIPT: &str = include_str!("../assets/playground.js");
const STYLE: &str = include_str!("../assets/playground.css");

#[derive(Clone)]
struct Playground {
    running: Arc<Semaphore>,
}

/// The playground's routes, to be merged into the server's router.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let playground = Playground { running: Arc::new(Semaphore::new(MAX_RUNNING)) };
    Router::new()
        .route("/playground", get(page))
        .route("/playground/playground.js", get(script))
        .route("/playground/playground.css", get(style))
        .route("/v1/playground/check", post(check))
        .route("/v1/playground/decide", post(decide))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(playground)
}

fn asset(content_type: &'static str, text: String) -> Response {
    let mut response = text.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn page() -> Response {
    let keywords = Json::from(writ_grammar::KEYWORDS.to_vec()).to_string();
    let mut response =
        asset("text/html; charset=utf-8", PAGE.replace("\"__WRIT_KEYWORDS__\"", &keywords));
    // The page loads only its own script and style, and talks only to this server.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             img-src 'self' data:",
        ),
    );
    response
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT.to_string())
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE.to_string())
}

fn json_response(status: StatusCode, body: &Json) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// What a body holds: the policy's text, and the request (for `decide`).
struct Input {
    policy: String,
    request: Option<String>,
}

fn input(body: Result<Bytes, BytesRejection>, want_request: bool) -> Result<Input, Box<Response>> {
    let body = body.map_err(|rejection| {
        Box::new(if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            let message = format!("the playground reads at most {MAX_BODY} bytes");
            error(StatusCode::PAYLOAD_TOO_LARGE, &message, Some(""))
        } else {
            error(StatusCode::BAD_REQUEST, &format!("cannot read the body: {rejection}"), Some(""))
        })
    })?;
    let bad =
        |message: &str, field: &str| Box::new(error(StatusCode::BAD_REQUEST, message, Some(field)));
    let value: Json =
        serde_json::from_slice(&body).map_err(|e| bad(&format!("invalid JSON: {e}"), ""))?;
    let Json::Object(mut fields) = value else {
        return Err(bad("expected an object with `policy`", ""));
    };
    let Some(Json::String(policy)) = fields.remove("policy") else {
        return Err(bad("expected the policy's text (a string)", "policy"));
    };
    let request = match fields.remove("request") {
        None if want_request => return Err(bad("missing required field", "request")),
        None => None,
        // The request as the user wrote it (text), or as JSON.
        Some(Json::String(text)) => Some(text),
        Some(value) => Some(value.to_string()),
    };
    if let Some(text) = &request
        && text.len() > MAX_REQUEST
    {
        let message = format!("the request is over {MAX_REQUEST} bytes");
        return Err(Box::new(error(StatusCode::PAYLOAD_TOO_LARGE, &message, Some("request"))));
    }
    Ok(Input { policy, request })
}

/// Compiles (and decides) on a blocking thread within the time limit.
async fn run(playground: &Playground, input: Input) -> Response {
    let Ok(permit) = playground.running.clone().try_acquire_owned() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the playground is busy compiling; try again",
            None,
        );
    };
    let task = tokio::task::spawn_blocking(move || {
        let answer = compile_and_decide(&input);
        drop(permit);
        answer
    });
    match tokio::time::timeout(TIME_LIMIT, task).await {
        Ok(Ok(answer)) => json_response(StatusCode::OK, &answer),
        Ok(Err(_)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the compiler failed on this text (a bug in writ)",
            None,
        ),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("compiling took longer than {} s", TIME_LIMIT.as_secs()),
            None,
        ),
    }
}

async fn check(
    Extract(playground): Extract<Playground>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match input(body, false) {
        Ok(input) => run(&playground, input).await,
        Err(response) => *response,
    }
}

async fn decide(
    Extract(playground): Extract<Playground>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match input(body, true) {
        Ok(input) => run(&playground, input).await,
        Err(response) => *response,
    }
}

/// The answer: diagnostics, the reach report, and (with a request) the decision and trace.
fn compile_and_decide(input: &Input) -> Json {
    let compiler = Compiler::new(vec![(FILE_NAME.to_string(), input.policy.clone())]);
    let compilation = compiler.compilation();
    let sources = compiler.sources();
    let diagnostics: Vec<JsonDiagnostic> =
        compilation.diagnostics.iter().map(|d| JsonDiagnostic::new(d, &sources)).collect();
    let mut answer = serde_json::Map::new();
    answer.insert("ok".into(), Json::Bool(compilation.policy.is_some()));
    answer.insert("diagnostics".into(), serde_json::to_value(diagnostics).unwrap_or_default());
    answer.insert("reach".into(), Json::Null);
    let Some(ir) = &compilation.policy else { return Json::Object(answer) };
    let subjects = writ_compiler::reach::Subject::roles(ir);
    let reach = writ_compiler::reach::report(ir, &subjects);
    answer.insert("reach".into(), serde_json::to_value(reach).unwrap_or(Json::Null));
    let Some(text) = &input.request else { return Json::Object(answer) };
    let decided = Policy::from_ir(ir.clone())
        .map_err(|e| json!({"error": e.to_string(), "field": ""}))
        .and_then(|policy| {
            let request = Request::from_json(text)
                .map_err(|e| json!({"error": e.to_string(), "field": e.field}))?;
            Ok(policy.decide_explained(&request))
        });
    match decided {
        Ok((decision, trace)) => {
            answer.insert("decision".into(), decision.to_value());
            answer.insert("trace".into(), Json::String(trace.to_string()));
        }
        Err(request_error) => {
            answer.insert("request_error".into(), request_error);
        }
    }
    Json::Object(answer)
}
