//! Envoy's external authorization (`writ serve --grpc ADDR`): the gRPC service
//! `envoy.service.auth.v3.Authorization/Check`, for MCP traffic (streamable HTTP) behind Envoy.
//!
//! Envoy's `ext_authz` filter sends every request on a route here, with its body
//! (`with_request_body`) and the verified JWT payload that the `jwt_authn` filter put in the
//! metadata (`metadata_context_namespaces`). The body is one JSON-RPC message:
//!
//! - `tools/call`: decided. The tool is `mcp.SERVER.TOOL` and the arguments are mapped exactly as
//!   `writ mcp-proxy` maps them (`writ_agents::names::mcp_tool`, `writ_agents::gate::call_args`);
//!   the chain is the principal made from the JWT's claims ([`Claims`]), then (optionally) the
//!   agent named by another claim; the workflow comes from the route's `context_extensions`,
//!   else the `x-writ-workflow` header, else `--envoy-workflow`. The request goes through the
//!   server's one decision path (`http::decide_request`): held statements, runs (`writ-run`),
//!   the mode, the decision log, the metrics, all as for `/v1/decide`.
//! - `initialize` with a `writ-run` header: the run's start, decided and admitted the same way;
//!   without one, let through.
//! - anything else (`tools/list`, `ping`, notifications, responses, a `GET` for the event
//!   stream, a `DELETE` of the session): let through without a decision. writ governs tool
//!   calls; the other methods act on nothing.
//!
//! The answers (the `CheckResponse`'s `status` is what Envoy reads; any code but OK denies):
//!
//! | case | gRPC status in the `CheckResponse` | HTTP answer to the client |
//! | --- | --- | --- |
//! | allow (or log-only) | `OK` (0) | forwarded, with `x-writ-decision-id` (and `x-writ-decision`) |
//! | deny, pending | `PERMISSION_DENIED` (7) | 403, JSON: the decision, its reasons or missing evidence |
//! | malformed body, no workflow | `INVALID_ARGUMENT` (3) | 400, JSON `{"error", "field"}` |
//! | body over `--max-body` or cut short by Envoy | `INVALID_ARGUMENT` (3) | 413 |
//! | no identity in the metadata, unusable claims | `UNAUTHENTICATED` (16) | 401 |
//! | writ cannot decide (no policy, no MCP server name, a bug) | `UNAVAILABLE` (14) | 503 |
//!
//! These are all answers, not gRPC errors, so they deny whatever `failure_mode_allow` says. A
//! gRPC error (a `CheckRequest` over the message limit, a timeout, writ down) is Envoy's
//! failure case, which `failure_mode_allow: false` turns into a deny (`docs/envoy.md`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use envoy_types::ext_authz::v3::pb::{
    Authorization, AuthorizationServer, CheckRequest, CheckResponse, DeniedHttpResponse,
    HeaderAppendAction, HeaderValue, HeaderValueOption, HttpResponse, HttpStatus, OkHttpResponse,
};
use envoy_types::pb::google::protobuf::{Struct, Value as PbValue, value::Kind};
use envoy_types::pb::google::rpc::Status as RpcStatus;
use serde_json::{Map, Value as Json, json};
use writ_evaluator::{Outcome, Request, RequestError, RequestErrorKind};

use crate::http::{Answered, DECISION_ID, NotDecided, decide_request};
use crate::metrics::{Endpoint, ErrorKind};
use crate::runs::{self, RUN_HEADER};
use crate::state::State;

/// The metadata namespace of Envoy's `jwt_authn` filter.
pub const JWT_AUTHN: &str = "envoy.filters.http.jwt_authn";
/// The default key under [`JWT_AUTHN`] of the verified payload (`jwt_authn`'s
/// `payload_in_metadata`).
pub const DEFAULT_PAYLOAD_KEY: &str = "jwt_payload";
/// The request header naming the workflow (when the route's metadata does not).
pub const WORKFLOW_HEADER: &str = "x-writ-workflow";
/// The route's `context_extensions` key naming the workflow.
pub const WORKFLOW_EXTENSION: &str = "writ_workflow";
/// The route's `context_extensions` key naming the MCP server (`mcp.SERVER.TOOL`).
pub const SERVER_EXTENSION: &str = "writ_mcp_server";
/// The header, on allowed requests, carrying writ's decision (`allow`; in log-only mode what
/// writ decided).
pub const DECISION_HEADER: &str = "x-writ-decision";
/// The header Envoy adds to a check request whose body it cut at `max_request_bytes`
/// (`allow_partial_message: true`).
const PARTIAL_BODY_HEADER: &str = "x-envoy-auth-partial-body";

/// How a principal is made from the JWT's claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// The metadata namespace holding the payload ([`JWT_AUTHN`]).
    pub namespace: String,
    /// The key of the payload in that namespace (`payload_in_metadata`).
    pub payload_key: String,
    /// The claim that is the principal's `id` (`sub`).
    pub id: String,
    /// The claim holding the principal's roles: a list of strings, or one string of
    /// space-separated names (as OAuth's `scope`). Absent: no roles.
    pub roles: Option<String>,
    /// The principal's kind.
    pub kind: KindFrom,
    /// Claims copied into the principal's `attrs` (under their names made writ words).
    pub attrs: Vec<String>,
    /// A claim naming the agent acting for the principal (`azp`, `client_id`): when the token
    /// has it, the chain is the principal, then `{"id": VALUE, "kind": "agent"}`.
    pub agent: Option<String>,
}

impl Claims {
    /// The claim mapping (`writ_agents::claims`, the one `writ mcp-gateway` uses too).
    pub fn map(&self) -> writ_agents::claims::ClaimMap {
        writ_agents::claims::ClaimMap {
            id: self.id.clone(),
            roles: self.roles.clone(),
            kind: self.kind.clone(),
            attrs: self.attrs.clone(),
            agent: self.agent.clone(),
        }
    }
}

impl Default for Claims {
    fn default() -> Claims {
        Claims {
            namespace: JWT_AUTHN.to_string(),
            payload_key: DEFAULT_PAYLOAD_KEY.to_string(),
            id: "sub".to_string(),
            roles: Some("roles".to_string()),
            kind: KindFrom::Fixed(writ_evaluator::ir::PrincipalKind::Human),
            attrs: Vec::new(),
            agent: None,
        }
    }
}

/// Where the principal's kind comes from (the mapping is `writ_agents::claims`, shared with
/// `writ mcp-gateway`).
pub use writ_agents::claims::KindFrom;

/// `writ serve --grpc`.
#[derive(Clone, Debug)]
pub struct EnvoyConfig {
    pub addr: SocketAddr,
    pub claims: Claims,
    /// The MCP server's name in tool names, for routes whose `context_extensions` do not give
    /// `writ_mcp_server`.
    pub mcp_server: Option<String>,
    /// The workflow for requests whose route and headers name none.
    pub workflow: Option<String>,
}

impl EnvoyConfig {
    pub fn new(addr: SocketAddr) -> EnvoyConfig {
        EnvoyConfig { addr, claims: Claims::default(), mcp_server: None, workflow: None }
    }
}

/// The gRPC service.
pub struct Check {
    state: Arc<State>,
    config: Arc<EnvoyConfig>,
    body_limit: usize,
}

/// The service, with a decoding limit that admits a body of `body_limit` bytes and its
/// headers and metadata.
pub fn service(
    state: Arc<State>,
    config: EnvoyConfig,
    body_limit: usize,
) -> AuthorizationServer<Check> {
    let limit = body_limit.saturating_add(MESSAGE_HEADROOM);
    AuthorizationServer::new(Check { state, config: Arc::new(config), body_limit })
        .max_decoding_message_size(limit)
}

/// What a check request may hold beside its body: headers, metadata, peers.
pub const MESSAGE_HEADROOM: usize = 256 * 1024;

#[tonic::async_trait]
impl Authorization for Check {
    async fn check(
        &self,
        request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        let state = self.state.clone();
        let config = self.config.clone();
        let limit = self.body_limit;
        let started = Instant::now();
        // On a task of its own, so that a bug (a panic) is an answer that denies, not a reset
        // stream.
        let task = tokio::spawn(async move {
            let check = request.into_inner();
            answer(&state, &config, limit, &check).await
        });
        let response = match task.await {
            Ok(response) => response,
            Err(_) => {
                self.state.metrics.error(ErrorKind::Internal);
                refuse(
                    Refusal::Unavailable,
                    &json!({"error": "internal error (a bug in writ); denied"}),
                    None,
                )
            }
        };
        self.state.metrics.latency(Endpoint::Envoy, started.elapsed());
        Ok(tonic::Response::new(response))
    }
}

/// Why a request is not let through, other than a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// Deny or pending.
    Decided,
    Malformed,
    TooLarge,
    Unauthenticated,
    Unavailable,
}

impl Refusal {
    /// The gRPC code of the `CheckResponse` and the HTTP status of the client's answer.
    fn codes(self) -> (tonic::Code, i32) {
        match self {
            Refusal::Decided => (tonic::Code::PermissionDenied, 403),
            Refusal::Malformed => (tonic::Code::InvalidArgument, 400),
            Refusal::TooLarge => (tonic::Code::InvalidArgument, 413),
            Refusal::Unauthenticated => (tonic::Code::Unauthenticated, 401),
            Refusal::Unavailable => (tonic::Code::Unavailable, 503),
        }
    }
}

/// A header to set, replacing any the client sent under that name (so that a client cannot
/// pass the upstream a decision id of its own).
fn header(key: &str, value: &str) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: key.to_string(),
            value: value.to_string(),
            ..Default::default()
        }),
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
        ..Default::default()
    }
}

fn status(code: tonic::Code, message: &str) -> Option<RpcStatus> {
    Some(RpcStatus { code: code as i32, message: message.to_string(), details: Vec::new() })
}

fn refuse(why: Refusal, body: &Json, id: Option<&str>) -> CheckResponse {
    let (code, http) = why.codes();
    let mut headers = vec![header("content-type", "application/json")];
    if let Some(id) = id {
        headers.push(header(DECISION_ID, id));
    }
    let message = body.get("error").and_then(Json::as_str).unwrap_or("denied by writ");
    CheckResponse {
        status: status(code, message),
        http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
            status: Some(HttpStatus { code: http }),
            headers,
            body: body.to_string(),
        })),
        dynamic_metadata: None,
    }
}

fn let_through(headers: Vec<HeaderValueOption>, metadata: Option<Struct>) -> CheckResponse {
    CheckResponse {
        status: status(tonic::Code::Ok, ""),
        http_response: Some(HttpResponse::OkResponse(OkHttpResponse {
            headers,
            ..Default::default()
        })),
        dynamic_metadata: metadata,
    }
}

fn error_body(message: &str, field: Option<&str>) -> Json {
    match field {
        Some(field) => json!({"error": message, "field": field}),
        None => json!({"error": message}),
    }
}

/// A refusal that is not a decision, counted.
fn refuse_error(state: &State, why: Refusal, message: &str, field: Option<&str>) -> CheckResponse {
    state.metrics.error(match why {
        Refusal::TooLarge => ErrorKind::TooLarge,
        Refusal::Unavailable => ErrorKind::NoPolicy,
        Refusal::Decided | Refusal::Malformed | Refusal::Unauthenticated => ErrorKind::BadRequest,
    });
    refuse(why, &error_body(message, field), None)
}

/// A request's headers: Envoy sends them as a map, or (with `encode_raw_headers`) as a list.
struct Headers<'a>(&'a envoy_types::pb::envoy::service::auth::v3::attribute_context::HttpRequest);

impl Headers<'_> {
    /// Every value of `name` (lower case).
    fn all(&self, name: &str) -> Vec<String> {
        if let Some(value) = self.0.headers.get(name) {
            return vec![value.clone()];
        }
        let Some(map) = &self.0.header_map else { return Vec::new() };
        map.headers
            .iter()
            .filter(|h| h.key.eq_ignore_ascii_case(name))
            .map(|h| {
                if h.raw_value.is_empty() {
                    h.value.clone()
                } else {
                    String::from_utf8_lossy(&h.raw_value).into_owned()
                }
            })
            .collect()
    }

    fn get(&self, name: &str) -> Option<String> {
        self.all(name).into_iter().next()
    }
}

async fn answer(
    state: &State,
    config: &EnvoyConfig,
    limit: usize,
    check: &CheckRequest,
) -> CheckResponse {
    let Some(attributes) = &check.attributes else {
        return refuse_error(
            state,
            Refusal::Malformed,
            "the check request has no attributes",
            None,
        );
    };
    let Some(http) = attributes.request.as_ref().and_then(|r| r.http.as_ref()) else {
        return refuse_error(
            state,
            Refusal::Malformed,
            "the check request has no HTTP request (`attributes.request.http`)",
            None,
        );
    };
    let headers = Headers(http);
    // Only a POST carries a JSON-RPC message; a GET (the server's event stream) and a DELETE
    // (the session's end) make no call.
    if !http.method.eq_ignore_ascii_case("POST") {
        return let_through(Vec::new(), None);
    }
    if headers.get(PARTIAL_BODY_HEADER).is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return refuse_error(
            state,
            Refusal::TooLarge,
            "the request body was cut short by Envoy (`max_request_bytes`): writ decides only \
             whole messages",
            Some(""),
        );
    }
    let body: &[u8] = if http.raw_body.is_empty() { http.body.as_bytes() } else { &http.raw_body };
    if body.len() > limit {
        return refuse_error(
            state,
            Refusal::TooLarge,
            &format!("the request body has {} bytes, over writ's limit of {limit}", body.len()),
            Some(""),
        );
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return refuse_error(
            state,
            Refusal::Malformed,
            "the request has no body: a JSON-RPC message is expected (is `with_request_body` \
             set?)",
            Some(""),
        );
    }
    let message = match writ_agents::strict::parse(body) {
        Ok(Json::Object(message)) => message,
        Ok(Json::Array(_)) => {
            return refuse_error(
                state,
                Refusal::Malformed,
                "JSON-RPC batches are not accepted: send one message per request",
                Some(""),
            );
        }
        Ok(_) => {
            return refuse_error(
                state,
                Refusal::Malformed,
                "a JSON-RPC message is a JSON object",
                Some(""),
            );
        }
        Err(e) => {
            return refuse_error(
                state,
                Refusal::Malformed,
                &format!("invalid JSON: {e}"),
                Some(""),
            );
        }
    };
    let run = match run_id(&headers) {
        Ok(run) => run,
        Err(e) => return refuse_error(state, Refusal::Malformed, &e.to_string(), Some(&e.field)),
    };
    match message.get("method").and_then(Json::as_str) {
        Some("tools/call") => call(state, config, attributes, &headers, &message, run).await,
        Some("initialize") if run.is_some() => {
            start(state, config, attributes, &headers, run).await
        }
        _ => let_through(Vec::new(), None),
    }
}

/// The run a request names (the `writ-run` header), if any.
fn run_id(headers: &Headers<'_>) -> Result<Option<String>, RequestError> {
    let values = headers.all(RUN_HEADER);
    match values.as_slice() {
        [] => Ok(None),
        [one] => {
            runs::check_run_id(one)?;
            Ok(Some(one.clone()))
        }
        _ => Err(RequestError::new(
            RequestErrorKind::Gateway,
            RUN_HEADER,
            "more than one `writ-run` header",
        )),
    }
}

type Attributes = envoy_types::pb::envoy::service::auth::v3::AttributeContext;

/// The workflow: the route's `writ_workflow`, the `x-writ-workflow` header, the default.
fn workflow(
    config: &EnvoyConfig,
    attributes: &Attributes,
    headers: &Headers<'_>,
) -> Option<String> {
    attributes
        .context_extensions
        .get(WORKFLOW_EXTENSION)
        .cloned()
        .or_else(|| headers.get(WORKFLOW_HEADER))
        .or_else(|| config.workflow.clone())
        .filter(|w| !w.is_empty())
}

/// A `tools/call`: decided.
async fn call(
    state: &State,
    config: &EnvoyConfig,
    attributes: &Attributes,
    headers: &Headers<'_>,
    message: &Map<String, Json>,
    run: Option<String>,
) -> CheckResponse {
    let params = message.get("params").and_then(Json::as_object);
    let Some(name) = params.and_then(|p| p.get("name")).and_then(Json::as_str) else {
        return refuse_error(
            state,
            Refusal::Malformed,
            "a `tools/call` needs the tool's name (a string)",
            Some("params.name"),
        );
    };
    let empty = Map::new();
    let arguments = match params.and_then(|p| p.get("arguments")) {
        None | Some(Json::Null) => &empty,
        Some(Json::Object(args)) => args,
        Some(_) => {
            return refuse_error(
                state,
                Refusal::Malformed,
                "expected an object",
                Some("params.arguments"),
            );
        }
    };
    let Some(server) = attributes
        .context_extensions
        .get(SERVER_EXTENSION)
        .cloned()
        .or_else(|| config.mcp_server.clone())
    else {
        eprintln!(
            "writ serve: error: a `tools/call` on a route without `{SERVER_EXTENSION}`, and no \
             `--envoy-mcp-server`: denied"
        );
        return refuse_error(
            state,
            Refusal::Unavailable,
            "writ does not know this route's MCP server (`writ_mcp_server` in the route's \
             context_extensions, or `--envoy-mcp-server`); denied",
            None,
        );
    };
    let tool = writ_agents::names::mcp_tool(&server, name);
    let Some(workflow) = workflow(config, attributes, headers) else {
        return no_workflow(state);
    };
    let chain = match identity(&config.claims, attributes) {
        Ok(chain) => chain,
        Err(message) => return refuse_error(state, Refusal::Unauthenticated, &message, None),
    };
    let Some(loaded) = state.policy.load_full() else {
        return refuse_error(state, Refusal::Unavailable, "no policy is loaded; denied", None);
    };
    let args = match writ_agents::gate::call_args(loaded.policy.ir(), &tool, arguments) {
        Ok(args) => args,
        Err(e) => {
            return refuse_error(
                state,
                Refusal::Malformed,
                &e.to_string(),
                Some("params.arguments"),
            );
        }
    };
    drop(loaded);
    let request = json!({
        "action": "call",
        "workflow": workflow,
        "tool": tool,
        "args": args,
        "chain": chain,
    });
    let mut request = match decode(state, &request) {
        Ok(request) => request,
        Err(refused) => return *refused,
    };
    // With held statements, the call's subject (docs/evidence.md), as the proxy computes it.
    if state.evidence.is_some() {
        request.subject = writ_evaluator::statement::request_call_subject(&request).map(Into::into);
    }
    let decided = decide_request(state, run.as_deref(), request).await;
    respond(state, decided, &json!({"tool": tool, "workflow": workflow}))
}

/// An `initialize` that names its run: the run's start.
async fn start(
    state: &State,
    config: &EnvoyConfig,
    attributes: &Attributes,
    headers: &Headers<'_>,
    run: Option<String>,
) -> CheckResponse {
    let Some(workflow) = workflow(config, attributes, headers) else {
        return no_workflow(state);
    };
    let chain = match identity(&config.claims, attributes) {
        Ok(chain) => chain,
        Err(message) => return refuse_error(state, Refusal::Unauthenticated, &message, None),
    };
    let request = json!({"action": "start", "workflow": workflow, "chain": chain});
    let request = match decode(state, &request) {
        Ok(request) => request,
        Err(refused) => return *refused,
    };
    let decided = decide_request(state, run.as_deref(), request).await;
    respond(state, decided, &json!({"start": workflow}))
}

fn no_workflow(state: &State) -> CheckResponse {
    refuse_error(
        state,
        Refusal::Malformed,
        "no workflow: the route's context_extensions give none (`writ_workflow`), the request \
         has no `x-writ-workflow` header, and writ has no `--envoy-workflow`",
        Some(WORKFLOW_HEADER),
    )
}

/// The assembled request, decoded as `/v1/decide` decodes a body. A principal that the claims
/// made wrong is the token's fault (401); anything else is the message's (400).
fn decode(state: &State, request: &Json) -> Result<Request<'static>, Box<CheckResponse>> {
    Request::from_json(&request.to_string()).map(Request::into_owned).map_err(|e| {
        let why = if e.field.starts_with("chain") {
            Refusal::Unauthenticated
        } else {
            Refusal::Malformed
        };
        Box::new(refuse_error(state, why, &e.to_string(), Some(&e.field)))
    })
}

/// The answer to a decided request.
fn respond(state: &State, decided: Result<Answered, NotDecided>, what: &Json) -> CheckResponse {
    let answered = match decided {
        Ok(answered) => answered,
        Err(NotDecided::BadRequest(e)) => {
            return refuse_error(state, Refusal::Malformed, &e.to_string(), Some(&e.field));
        }
        Err(NotDecided::NoPolicy) => {
            return refuse_error(state, Refusal::Unavailable, "no policy is loaded; denied", None);
        }
    };
    let outcome = outcome_word(answered.outcome);
    if answered.allowed {
        let metadata = Struct {
            fields: HashMap::from([
                ("decision_id".to_string(), string_value(&answered.id)),
                ("decision".to_string(), string_value(outcome)),
            ]),
        };
        let headers = vec![header(DECISION_ID, &answered.id), header(DECISION_HEADER, outcome)];
        return let_through(headers, Some(metadata));
    }
    let mut body = serde_json::from_str::<Json>(&answered.text).unwrap_or_else(|_| json!({}));
    if let (Json::Object(body), Json::Object(what)) = (&mut body, what) {
        body.insert("id".into(), Json::String(answered.id.clone()));
        for (key, value) in what {
            body.insert(key.clone(), value.clone());
        }
    }
    refuse(Refusal::Decided, &body, Some(&answered.id))
}

fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Allow => "allow",
        Outcome::Deny => "deny",
        Outcome::Pending => "pending",
    }
}

fn string_value(text: &str) -> PbValue {
    PbValue { kind: Some(Kind::StringValue(text.to_string())) }
}

/// The chain from the verified JWT payload in the metadata (LANGUAGE.md §5 principal JSON).
fn identity(claims: &Claims, attributes: &Attributes) -> Result<Vec<Json>, String> {
    let payload = attributes
        .metadata_context
        .as_ref()
        .and_then(|m| m.filter_metadata.get(&claims.namespace))
        .and_then(|s| s.fields.get(&claims.payload_key))
        .ok_or_else(|| {
            format!(
                "no verified identity: the metadata has no `{}` under `{}` (is the request \
                 authenticated by jwt_authn with `payload_in_metadata: {}`, and the namespace in \
                 ext_authz's `metadata_context_namespaces`?)",
                claims.payload_key, claims.namespace, claims.payload_key
            )
        })?;
    let Json::Object(payload) = to_json(payload, 0) else {
        return Err(format!(
            "the verified JWT payload (`{}`) is not an object",
            claims.payload_key
        ));
    };
    claims.map().chain(&payload).map_err(|e| e.to_string())
}

/// A protobuf `Value` as JSON. Whole numbers become integers (claims such as `exp` are numbers
/// in JSON, doubles in a `Struct`). Nesting past 64 levels is cut to `null`.
fn to_json(value: &PbValue, depth: usize) -> Json {
    if depth > 64 {
        return Json::Null;
    }
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(b)) => Json::Bool(*b),
        Some(Kind::StringValue(s)) => Json::String(s.clone()),
        Some(Kind::NumberValue(n)) => {
            if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 {
                Json::from(*n as i64)
            } else {
                serde_json::Number::from_f64(*n).map_or(Json::Null, Json::Number)
            }
        }
        Some(Kind::ListValue(list)) => {
            Json::Array(list.values.iter().map(|v| to_json(v, depth + 1)).collect())
        }
        Some(Kind::StructValue(s)) => {
            let mut keys: Vec<&String> = s.fields.keys().collect();
            keys.sort();
            Json::Object(
                keys.into_iter()
                    .filter_map(|k| s.fields.get(k).map(|v| (k.clone(), to_json(v, depth + 1))))
                    .collect(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(n: f64) -> PbValue {
        PbValue { kind: Some(Kind::NumberValue(n)) }
    }

    #[test]
    fn numbers_in_claims() {
        assert_eq!(to_json(&number(1_700_000_000.0), 0), json!(1_700_000_000));
        assert_eq!(to_json(&number(1.5), 0), json!(1.5));
        assert_eq!(to_json(&number(f64::NAN), 0), Json::Null);
        assert_eq!(to_json(&number(1e300), 0), json!(1e300));
    }
}
