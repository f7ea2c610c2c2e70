//! The HTTP API: routes, handlers, and the error answers.
//!
//! Every answer is JSON (metrics aside). Errors are `{"error": MESSAGE}` plus `"field"` when a
//! field of the body is at fault (`chain[0].kind`; `""` for the body as a whole), and `"kind"`
//! when the body is not a request (the evaluator's `RequestErrorKind`: `syntax`, `missing`,
//! `wrong_type`, ...). Bad input is
//! always a 4xx: 400 malformed, 404 no such endpoint, 405 wrong method, 413 too large; 503
//! means no policy is loaded. A gateway must treat any answer but a 200 decision as deny.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State as Extract};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Value as Json, json};
use tower_http::catch_panic::CatchPanicLayer;
use writ_evaluator::log::Mode;
use writ_evaluator::{Decision, Policy, Request, RequestError, RequestErrorKind};

use writ_evaluator::statement::{self, Counted, Rejection, Statement};

use crate::evidence::{Hold, SignedOnly};
use crate::history::Lookup;
use crate::id::new_id;
use crate::metrics::{Endpoint, ErrorKind};
use crate::runs::{self, RUN_HEADER};
use crate::state::State;

/// The header that carries a decision's id (the `id` of its decision log line).
pub const DECISION_ID: &str = "x-writ-decision-id";

type Shared = Arc<State>;

pub fn router(state: Shared, body_limit: usize, playground: bool) -> Router {
    let panic_metrics = state.metrics.clone();
    let routes = if playground { crate::playground::router() } else { Router::new() };
    routes
        .route("/v1/decide", post(decide))
        .route("/v1/decide/batch", post(batch))
        .route("/v1/tools", post(tools))
        .route("/v1/evidence", post(post_evidence).get(get_evidence))
        .route("/v1/health", get(health))
        .route("/v1/status", get(status))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(move |_: Box<dyn std::any::Any + Send + 'static>| {
            internal_error(&panic_metrics)
        }))
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// Answers

fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub(crate) fn error(status: StatusCode, message: &str, field: Option<&str>) -> Response {
    let body = match field {
        Some(field) => json!({"error": message, "field": field}),
        None => json!({"error": message}),
    };
    json_response(status, body.to_string())
}

/// 500 for a handler that panicked (a bug, never input).
pub(crate) fn internal_error(metrics: &crate::metrics::Metrics) -> Response {
    metrics.error(ErrorKind::Internal);
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error (a bug in writ); treat this as deny",
        None,
    )
}

/// A request error as JSON: `{"error", "field", "kind"}`, its kind by its stable name
/// (`RequestErrorKind::as_str`: `missing`, `wrong_type`, ...).
fn request_error_json(e: &RequestError) -> serde_json::Map<String, Json> {
    let mut map = serde_json::Map::new();
    map.insert("error".into(), Json::String(e.to_string()));
    map.insert("field".into(), Json::String(e.field.clone()));
    map.insert("kind".into(), Json::String(e.kind.as_str().into()));
    map
}

/// 400 for a request that does not fit the schema, naming the field and the error's kind.
fn bad_request(state: &State, e: &RequestError) -> Response {
    state.metrics.error(ErrorKind::BadRequest);
    json_response(StatusCode::BAD_REQUEST, Json::Object(request_error_json(e)).to_string())
}

/// 413: the body is over the limit.
pub(crate) fn too_large(state: &State) -> Response {
    state.metrics.error(ErrorKind::TooLarge);
    error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large", Some(""))
}

/// 400: the body could not be read (it did not arrive in time, the connection failed).
fn unreadable(state: &State, message: &str) -> Response {
    state.metrics.error(ErrorKind::BadRequest);
    error(StatusCode::BAD_REQUEST, &format!("cannot read the request body: {message}"), Some(""))
}

/// 400 for a body `conn::Front` could not read, in the words of axum's rejection (what the
/// router's endpoints answer), so that every endpoint answers alike.
pub(crate) fn unreadable_body(state: &State, reason: &dyn std::fmt::Display) -> Response {
    unreadable(state, &format!("Failed to buffer the request body: {reason}"))
}

/// The body could not be read: 413 over the limit, 400 otherwise.
fn body_rejection(state: &State, rejection: &BytesRejection) -> Response {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(state)
    } else {
        unreadable(state, &rejection.to_string())
    }
}

fn no_policy(state: &State) -> Response {
    state.metrics.error(ErrorKind::NoPolicy);
    error(StatusCode::SERVICE_UNAVAILABLE, "no policy is loaded; treat this as deny", None)
}

// ---------------------------------------------------------------------------------------------
// Decisions

/// Counts and logs a decision; its id.
async fn record(
    state: &State,
    request: Request<'_>,
    decision: Decision,
    statements: Vec<Counted>,
) -> String {
    state.metrics.decision(decision.decision);
    let at = SystemTime::now();
    let id = new_id(at);
    if let Some(log) = &state.log {
        log.send(&request, &decision, at, &id, &statements).await;
    }
    id
}

/// With `--trust`: adds the held statements for the request's subject that verify now to its
/// evidence; those counted. A store that fails gives none (the decision stays as it would be
/// without them), reported on standard error.
async fn add_held(state: &State, request: &mut Request<'_>) -> Vec<Counted> {
    if state.evidence.is_some() && state.signed_evidence_only == SignedOnly::Yes {
        request.evidence.clear();
    }
    let (Some(evidence), Some(subject)) = (&state.evidence, request.subject.clone()) else {
        return Vec::new();
    };
    let now = statement::now();
    match evidence.held(&subject, now).await {
        Ok(held) => {
            let admitted = evidence.trust.admit(request, held.iter().map(|s| s.as_bytes()), now);
            admitted.counted
        }
        Err(e) => {
            eprintln!("writ serve: error: {e}; deciding without held statements");
            Vec::new()
        }
    }
}

/// The run a request names (the `writ-run` header), if any.
fn run_id(headers: &HeaderMap) -> Result<Option<String>, RequestError> {
    let fail = |message: &str| RequestError::new(RequestErrorKind::Gateway, RUN_HEADER, message);
    let mut values = headers.get_all(RUN_HEADER).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(fail("more than one `writ-run` header"));
    }
    let text = value.to_str().map_err(|_| fail("a run id is visible ASCII"))?;
    runs::check_run_id(text)?;
    Ok(Some(text.to_owned()))
}

/// Decides `request`: as sent, or bound to its run. The request as decided (with the run's
/// `time` and `history`) and the decision.
async fn decide_one<'a>(
    state: &State,
    policy: &Policy,
    run: Option<&str>,
    request: Request<'a>,
) -> (Request<'a>, Decision) {
    match run {
        None => {
            let decision = policy.decide(&request);
            (request, decision)
        }
        Some(id) => {
            let decided = state.runs.decide(policy, &state.metrics, id, request).await;
            (decided.request, decided.decision)
        }
    }
}

/// Why a request was not decided.
pub(crate) enum NotDecided {
    /// It does not fit the schema (or its run fields are the server's): a 400.
    BadRequest(RequestError),
    /// No policy is loaded: a 503.
    NoPolicy,
}

/// A request decided, logged and counted: what `/v1/decide` answers, and what every other
/// front of the server (Envoy's ext_authz) derives its answer from.
pub(crate) struct Answered {
    /// The answer's JSON text (the decision; in log-only mode an allow carrying it).
    pub text: String,
    /// The decision's id (its decision log line's).
    pub id: String,
    /// What writ decided.
    pub outcome: writ_evaluator::Outcome,
    /// Whether the answer is allow (writ allowed, or the mode is log-only).
    pub allowed: bool,
}

/// The one decision path of the server: the held statements added, the request bound to its
/// run (if it names one), decided by the policy served, answered in the server's mode, logged
/// and counted.
pub(crate) async fn decide_request(
    state: &State,
    run: Option<&str>,
    mut request: Request<'_>,
) -> Result<Answered, NotDecided> {
    let statements = add_held(state, &mut request).await;
    if run.is_some()
        && let Err(e) = runs::check_unbound_fields(&request)
    {
        return Err(NotDecided::BadRequest(e));
    }
    let mode = state.runs.mode;
    let (request, decision, text) = match (run, mode) {
        // The common case, on the policy's guard (no reference count touched).
        (None, Mode::Enforce) => {
            let decision = match state.policy.load().as_ref() {
                Some(loaded) => loaded.policy.decide(&request),
                None => return Err(NotDecided::NoPolicy),
            };
            let text = decision.to_json();
            (request, decision, text)
        }
        (run, mode) => {
            let Some(loaded) = state.policy.load_full() else { return Err(NotDecided::NoPolicy) };
            let (request, decision) = decide_one(state, &loaded.policy, run, request).await;
            let text = runs::answer(mode, &loaded.policy, &request, &decision).to_string();
            (request, decision, text)
        }
    };
    let outcome = decision.decision;
    let allowed = outcome == writ_evaluator::Outcome::Allow || mode == Mode::LogOnly;
    let id = record(state, request, decision, statements).await;
    Ok(Answered { text, id, outcome, allowed })
}

async fn decide(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match body {
        Ok(body) => decide_body(&state, &headers, &body).await,
        Err(rejection) => body_rejection(&state, &rejection),
    }
}

/// `POST /v1/decide` once its body is read (by the router, or directly by `conn::Front`).
pub(crate) async fn decide_body(state: &State, headers: &HeaderMap, body: &[u8]) -> Response {
    let started = Instant::now();
    let run = match run_id(headers) {
        Ok(run) => run,
        Err(e) => return bad_request(state, &e),
    };
    let request = match Request::from_slice_with(body, state.unknown_keys) {
        Ok(request) => request,
        Err(e) => return bad_request(state, &e),
    };
    let answered = match decide_request(state, run.as_deref(), request).await {
        Ok(answered) => answered,
        Err(NotDecided::BadRequest(e)) => return bad_request(state, &e),
        Err(NotDecided::NoPolicy) => return no_policy(state),
    };
    let mut response = json_response(StatusCode::OK, answered.text);
    if let Ok(value) = HeaderValue::from_str(&answered.id) {
        response.headers_mut().insert(DECISION_ID, value);
    }
    state.metrics.latency(Endpoint::Decide, started.elapsed());
    response
}

/// An array of requests, decided by one policy; an array of answers in the same order, each a
/// decision (with its `id`) or `{"error", "field", "index"}`. With a `writ-run` header, every
/// element belongs to that run, and they are decided in order (each sees the calls before it).
async fn batch(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match body {
        Ok(body) => batch_body(&state, &headers, &body).await,
        Err(rejection) => body_rejection(&state, &rejection),
    }
}

/// `POST /v1/decide/batch` once its body is read (by the router, or directly by
/// `conn::Front`).
pub(crate) async fn batch_body(state: &State, headers: &HeaderMap, body: &[u8]) -> Response {
    let started = Instant::now();
    let run = match run_id(headers) {
        Ok(run) => run,
        Err(e) => return bad_request(state, &e),
    };
    let items: Vec<&RawValue> = match serde_json::from_slice(body) {
        Ok(items) => items,
        Err(e) if e.is_data() => {
            let found =
                serde_json::from_slice::<Json>(body).map_or("something else", |v| describe(&v));
            let message = format!("expected an array of requests, found {found}");
            return bad_request(
                state,
                &RequestError::new(RequestErrorKind::WrongType, "", message),
            );
        }
        Err(e) => {
            let message = format!("invalid JSON: {e}");
            return bad_request(state, &RequestError::new(RequestErrorKind::Syntax, "", message));
        }
    };
    let Some(loaded) = state.policy.load_full() else { return no_policy(state) };
    let mut answers = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let item = item.get().as_bytes();
        let request = Request::from_slice_with(item, state.unknown_keys).and_then(|request| {
            if run.is_some() {
                runs::check_unbound_fields(&request)?;
            }
            Ok(request)
        });
        match request {
            Ok(mut request) => {
                let statements = add_held(state, &mut request).await;
                let (request, decision) =
                    decide_one(state, &loaded.policy, run.as_deref(), request).await;
                let mut value = runs::answer(state.runs.mode, &loaded.policy, &request, &decision);
                let id = record(state, request, decision, statements).await;
                if let Json::Object(map) = &mut value {
                    map.insert("id".into(), Json::String(id));
                }
                answers.push(value);
            }
            Err(e) => {
                state.metrics.error(ErrorKind::BadRequest);
                let mut answer = request_error_json(&e);
                answer.insert("index".into(), json!(index));
                answers.push(Json::Object(answer));
            }
        }
    }
    let text = Json::Array(answers).to_string();
    state.metrics.latency(Endpoint::Batch, started.elapsed());
    json_response(StatusCode::OK, text)
}

// ---------------------------------------------------------------------------------------------
// Evidence (`--trust`)

fn no_trust(state: &State) -> Response {
    state.metrics.error(ErrorKind::BadRequest);
    error(
        StatusCode::NOT_FOUND,
        "this server holds no evidence: start it with `--trust FILE`",
        None,
    )
}

fn rejected(status: StatusCode, reason: &Rejection) -> Response {
    let body = json!({"error": reason.to_string(), "reason": reason.code()});
    json_response(status, body.to_string())
}

/// `POST /v1/evidence`: a statement. 201 when it verifies (held, or held already), 400 when it
/// is not a statement, 403 with the reason when it does not verify, 507 when its subject holds
/// the most statements it may, 503 when the store fails.
async fn post_evidence(
    Extract(state): Extract<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(evidence) = &state.evidence else { return no_trust(&state) };
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_rejection(&state, &rejection),
    };
    let parsed = match Statement::parse(&body) {
        Ok(s) => s,
        Err(reason) => {
            state.metrics.error(ErrorKind::BadRequest);
            return rejected(StatusCode::BAD_REQUEST, &reason);
        }
    };
    let now = statement::now();
    let subject = parsed.subject().to_owned();
    let verified = match evidence.trust.verify_parsed(parsed, Some(&subject), now) {
        Ok(v) => v,
        Err(reason) => return rejected(StatusCode::FORBIDDEN, &reason),
    };
    let held = match evidence.hold(&verified.statement, now).await {
        Ok(Hold::Added) => "new",
        Ok(Hold::AlreadyHeld) => "already",
        Ok(Hold::Full) => {
            let message = format!(
                "the server holds the most statements it may for this subject ({})",
                crate::evidence::MAX_PER_SUBJECT
            );
            return error(StatusCode::INSUFFICIENT_STORAGE, &message, None);
        }
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string(), None),
    };
    let body = json!({
        "digest": verified.digest,
        "subject": subject,
        "signer": verified.signer,
        "kind": verified.statement.kind(),
        "expires_at": verified.statement.expires_at().to_string(),
        "held": held,
    });
    json_response(StatusCode::CREATED, body.to_string())
}

/// `GET /v1/evidence?subject=S`: `{"subject": S, "statements": [...]}`, the statements held
/// for S that are still valid, as they were posted (canonical form).
async fn get_evidence(Extract(state): Extract<Shared>, uri: Uri) -> Response {
    let Some(evidence) = &state.evidence else { return no_trust(&state) };
    let subject = uri.query().and_then(|q| {
        q.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == "subject").then(|| percent_decode(value)).flatten()
        })
    });
    let Some(subject) = subject.filter(|s| !s.is_empty()) else {
        state.metrics.error(ErrorKind::BadRequest);
        return error(
            StatusCode::BAD_REQUEST,
            "give the subject: `/v1/evidence?subject=S` (percent-encoded)",
            Some("subject"),
        );
    };
    match evidence.held(&subject, statement::now()).await {
        Ok(held) => {
            let statements: Vec<Box<RawValue>> = held
                .into_iter()
                .filter(|text| Statement::parse(text.as_bytes()).is_ok())
                .filter_map(|text| RawValue::from_string(text).ok())
                .collect();
            let body = json!({"subject": subject, "statements": statements});
            json_response(StatusCode::OK, body.to_string())
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string(), None),
    }
}

/// `%XX` escapes and `+` for a space; `None` for a bad escape or text that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
            }
            b'+' => out.push(b' '),
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok()
}

fn describe(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

// ---------------------------------------------------------------------------------------------
// Tool visibility

/// The top-level entries of a JSON object, in order and with duplicates kept (so that a
/// duplicate key is an error, as in requests).
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Entries<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Entries<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Entries<'a>, M::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// `{"workflow": NAME, "chain": [...]}`: the workflow and the decoded chain.
fn tools_body(
    body: &[u8],
) -> Result<(String, Vec<writ_evaluator::Principal<'static>>), RequestError> {
    use RequestErrorKind::{DuplicateKey, Missing, Syntax, UnknownKey, WrongType};
    let fail = |kind, field: &str, message: String| RequestError::new(kind, field, message);
    let entries = match serde_json::from_slice::<Entries<'_>>(body) {
        Ok(Entries(entries)) => entries,
        Err(e) if e.is_data() => {
            return Err(fail(
                WrongType,
                "",
                "expected an object with `workflow` and `chain`".into(),
            ));
        }
        Err(e) => return Err(fail(Syntax, "", format!("invalid JSON: {e}"))),
    };
    let (mut workflow, mut chain) = (None, None);
    for (key, value) in entries {
        let slot = match key.as_str() {
            "workflow" => &mut workflow,
            "chain" => &mut chain,
            _ => {
                let message = "unknown field (expected `workflow` or `chain`)".into();
                return Err(fail(UnknownKey, &key, message));
            }
        };
        if slot.replace(value).is_some() {
            return Err(fail(DuplicateKey, &key, "duplicate key".into()));
        }
    }
    let workflow =
        workflow.ok_or_else(|| fail(Missing, "workflow", "missing required field".into()))?;
    let workflow: String = serde_json::from_str(workflow.get())
        .map_err(|_| fail(WrongType, "workflow", "expected a string".into()))?;
    let chain = chain.ok_or_else(|| fail(Missing, "chain", "missing required field".into()))?;
    // The chain is decoded exactly as a request's, with the same errors and field names.
    let request = format!(
        r#"{{"action":"start","workflow":{},"chain":{}}}"#,
        Json::String(workflow.clone()),
        chain.get()
    );
    Ok((workflow, Request::from_json(&request)?.into_owned().chain))
}

async fn tools(
    Extract(state): Extract<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_rejection(&state, &rejection),
    };
    let run = match run_id(&headers) {
        Ok(run) => run,
        Err(e) => return bad_request(&state, &e),
    };
    let (workflow, chain) = match tools_body(&body) {
        Ok(parsed) => parsed,
        Err(e) => return bad_request(&state, &e),
    };
    let Some(loaded) = state.policy.load_full() else { return no_policy(&state) };
    if let Some(id) = &run {
        let initiator = chain.first().map_or("", |p| &*p.id);
        if let Some(refused) = tools_run_check(&state, id, &workflow, initiator).await {
            return refused;
        }
    }
    let ir = loaded.policy.ir();
    let response = match writ_compiler::reach::visible_tools(ir, &workflow, &chain) {
        Ok(tools) => {
            let body =
                json!({"policy": loaded.policy.hash(), "workflow": workflow, "tools": tools});
            json_response(StatusCode::OK, body.to_string())
        }
        Err(message) => {
            state.metrics.error(ErrorKind::BadRequest);
            error(StatusCode::BAD_REQUEST, &message, Some("workflow"))
        }
    };
    state.metrics.latency(Endpoint::Tools, started.elapsed());
    response
}

/// `/v1/tools` for run `id`: `None` when the run is admitted, live, of `workflow` and started by
/// `initiator`; otherwise the answer (403 naming what failed; 503 when the store fails).
async fn tools_run_check(
    state: &State,
    id: &str,
    workflow: &str,
    initiator: &str,
) -> Option<Response> {
    let forbidden = |message: String| {
        state.metrics.error(ErrorKind::BadRequest);
        Some(error(StatusCode::FORBIDDEN, &message, Some(RUN_HEADER)))
    };
    match state.runs.store.lookup(id, runs::now()).await {
        Ok(Lookup::Live(run)) if run.workflow != workflow => forbidden(format!(
            "run `{id}` belongs to workflow `{}`, not `{workflow}`",
            run.workflow
        )),
        Ok(Lookup::Live(run)) if run.initiator != initiator => {
            forbidden(format!("run `{id}` was started by `{}`, not `{initiator}`", run.initiator))
        }
        Ok(Lookup::Live(_)) => None,
        Ok(Lookup::Expired(run)) => forbidden(format!("run `{id}` expired at {}", run.expires)),
        Ok(Lookup::Unknown) => forbidden(format!(
            "run `{id}` was not admitted: no start of it was allowed (or it expired and was \
             dropped)"
        )),
        Err(e) => {
            state.metrics.error(ErrorKind::HistoryStore);
            eprintln!("writ serve: error: run `{id}`: {e}");
            let message = format!("run `{id}`: {e}; treat this as deny");
            Some(error(StatusCode::SERVICE_UNAVAILABLE, &message, None))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Operations

/// 200 once a policy is loaded; 503 before.
async fn health(Extract(state): Extract<Shared>) -> Response {
    match state.policy.load().as_ref() {
        Some(loaded) => json_response(
            StatusCode::OK,
            json!({"status": "ok", "policy": loaded.policy.hash()}).to_string(),
        ),
        None => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable", "error": "no policy is loaded"}).to_string(),
        ),
    }
}

async fn status(Extract(state): Extract<Shared>) -> Response {
    json_response(StatusCode::OK, state.status().to_string())
}

async fn metrics(Extract(state): Extract<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.metrics.encode(),
    )
        .into_response()
}

async fn not_found(Extract(state): Extract<Shared>, uri: Uri) -> Response {
    state.metrics.error(ErrorKind::NotFound);
    let path = uri.path();
    let shown: String = path.chars().take(200).collect();
    error(StatusCode::NOT_FOUND, &format!("no endpoint `{shown}`"), None)
}

async fn method_not_allowed(Extract(state): Extract<Shared>, method: Method, uri: Uri) -> Response {
    state.metrics.error(ErrorKind::NotFound);
    let shown: String = uri.path().chars().take(200).collect();
    let message = format!("method `{method}` is not allowed on `{shown}`");
    error(StatusCode::METHOD_NOT_ALLOWED, &message, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        tools_body(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn tools_bodies_name_the_field_at_fault() {
        assert_eq!(err("[]"), "expected an object with `workflow` and `chain`");
        assert_eq!(err("{"), "invalid JSON: EOF while parsing an object at line 1 column 1");
        assert_eq!(err(r#"{"chain": []}"#), "`workflow`: missing required field");
        assert_eq!(err(r#"{"workflow": 1, "chain": []}"#), "`workflow`: expected a string");
        assert_eq!(err(r#"{"workflow": "w"}"#), "`chain`: missing required field");
        assert_eq!(
            err(r#"{"workflow": "w", "chain": [], "x": 1}"#),
            "`x`: unknown field (expected `workflow` or `chain`)"
        );
        assert_eq!(
            err(r#"{"workflow": "w", "workflow": "v", "chain": []}"#),
            "`workflow`: duplicate key"
        );
        assert!(
            err(r#"{"workflow": "w", "chain": [{"id": "a", "kind": "robot"}]}"#)
                .starts_with("`chain[0].kind`: expected one of")
        );
        assert!(
            err(r#"{"workflow": "w", "chain": [{"id": "a", "id": "b", "kind": "human"}]}"#)
                .starts_with("`chain[0].id`")
        );
    }

    #[test]
    fn tools_bodies_decode_the_chain() {
        let (workflow, chain) = tools_body(
            br#"{"workflow": "w\"", "chain": [{"id": "ada", "kind": "human", "roles": ["dev"]}]}"#,
        )
        .unwrap();
        assert_eq!(workflow, "w\"");
        assert_eq!(chain.len(), 1);
        assert_eq!(chain[0].roles, vec!["dev".to_string()]);
    }
}
