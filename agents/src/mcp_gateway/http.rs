//! The gateway's HTTP side: the accept loop, authentication, sessions, the decision before
//! forwarding, and the relay of the upstream's answer (JSON or SSE), filtered where it lists
//! tools.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Map, Value as Json, json};
use tokio::sync::{Semaphore, mpsc};
use writ_stdx::never;

use super::jwt::Verifier;
use super::sse::{self, Splitter};
use super::{Options, TokenForwarding};
use crate::mcp_core::{
    self, INTERNAL_ERROR, INVALID_REQUEST, Judge, NOT_ADMITTED, Verdict, lists_tools,
};
use crate::net::{self, ReadError, Reuse};

const NAME: &str = "writ mcp-gateway";
/// The session header of the Streamable HTTP transport.
const SESSION: &str = "mcp-session-id";
/// The well-known path of the protected-resource metadata (RFC 9728 §3).
const METADATA: &str = "/.well-known/oauth-protected-resource";
/// The most sessions remembered; past it the least recently used is forgotten (its client
/// gets 404 and starts a new one, as after an upstream restart).
const MAX_SESSIONS: usize = 100_000;
/// The client request headers passed upstream (besides `Authorization` with
/// `--forward-token`): what the transport needs, nothing the client's other services see
/// (cookies, proxies' headers).
const FORWARDED: [&str; 5] =
    ["content-type", "accept", SESSION, "mcp-protocol-version", "last-event-id"];
/// Response headers not relayed (hop by hop; the length is the gateway's own).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authenticate",
    "content-length",
];

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

struct Gateway {
    options: Options,
    /// The upstream's client (also the key set's): [`net::client`].
    client: reqwest::Client,
    verifier: Verifier,
    /// `resource` of the metadata.
    resource: String,
    /// Where the metadata is, for `WWW-Authenticate`.
    metadata_url: String,
    /// The metadata's paths on this gateway.
    metadata_paths: Vec<String>,
    /// Session id → the principal it was issued to, and when it was last used.
    sessions: Mutex<HashMap<String, (String, Instant)>>,
}

pub async fn serve(
    options: Options,
    listener: tokio::net::TcpListener,
) -> Result<Infallible, String> {
    let client = net::client(&options.roots, Reuse::Pooled).map_err(|e| e.to_string())?;
    let verifier = Verifier::new(
        options.issuer.clone(),
        options.audience.clone(),
        options.keys.clone(),
        client.clone(),
    )
    .await?;
    let local = listener.local_addr().map_err(|e| format!("cannot read the address: {e}"))?;
    let resource =
        options.resource.clone().unwrap_or_else(|| format!("http://{local}{}", options.path));
    let (origin, resource_path) = split_url(&resource);
    let metadata_url = format!("{origin}{METADATA}{resource_path}");
    let mut metadata_paths = vec![METADATA.to_string()];
    if !resource_path.is_empty() && resource_path != "/" {
        metadata_paths.push(format!("{METADATA}{resource_path}"));
    }
    let gateway = Arc::new(Gateway {
        options,
        client,
        verifier,
        resource,
        metadata_url,
        metadata_paths,
        sessions: Mutex::new(HashMap::new()),
    });
    eprintln!(
        "{NAME}: listening on http://{local}{} for {} (upstream {})",
        gateway.options.path, gateway.resource, gateway.options.upstream
    );
    // `--max-connections`: a permit is taken before a connection is accepted and given back
    // when it closes, so past the limit connections wait in the kernel's listen backlog (their
    // requests unread) until one closes, and the gateway never holds more sockets than that.
    let permits = Arc::new(Semaphore::new(gateway.options.limits.max_connections.max(1)));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            never!("the connection semaphore is never closed");
            return Err("the connection limit failed (a bug in writ)".to_string());
        };
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("{NAME}: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let gateway = gateway.clone();
        let gateway_timeout = gateway.options.limits.header_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |request| {
                let gateway = gateway.clone();
                async move { Ok::<_, Infallible>(answer(gateway, request).await) }
            });
            let timeout = gateway_timeout;
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(timeout)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The run of a caller's session: each session is a run of its own; requests without a session
/// (a stateless upstream) share the caller's run `-`.
fn run_key(caller: &str, session: Option<&str>) -> String {
    format!("mcp-gateway/{caller}/{}", session.unwrap_or("-"))
}

/// `http://host:port/path` → (`http://host:port`, `/path`).
fn split_url(url: &str) -> (&str, &str) {
    let after = url.find("://").map_or(0, |at| at + 3);
    match url.get(after..).and_then(|rest| rest.find('/')) {
        Some(at) => url.split_at(after + at),
        None => (url, ""),
    }
}

/// Runs the handler on a task of its own, so that a bug is a 500, not a dropped connection.
async fn answer(gateway: Arc<Gateway>, request: Request<Incoming>) -> Response<Body> {
    match tokio::spawn(handle(gateway, request)).await {
        Ok(response) => response,
        Err(_) => rpc_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &Json::Null,
            INTERNAL_ERROR,
            "internal error (a bug in writ); nothing was forwarded",
        ),
    }
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

fn json_response(status: StatusCode, body: &Json) -> Response<Body> {
    let mut response = Response::new(full(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn rpc_error(status: StatusCode, id: &Json, code: i64, message: &str) -> Response<Body> {
    json_response(status, &mcp_core::error(id, code, message))
}

/// The 401: no token, or one that is not accepted.
fn unauthorized(gateway: &Gateway, problem: Option<&str>) -> Response<Body> {
    let mut challenge = format!("Bearer resource_metadata=\"{}\"", gateway.metadata_url);
    if let Some(problem) = problem {
        let description: String = problem
            .chars()
            .map(|c| if c == '"' || c == '\\' || c.is_control() { '\'' } else { c })
            .collect();
        challenge
            .push_str(&format!(", error=\"invalid_token\", error_description=\"{description}\""));
    }
    let message = problem.unwrap_or("this MCP server needs `Authorization: Bearer TOKEN`");
    let mut response = rpc_error(StatusCode::UNAUTHORIZED, &Json::Null, INVALID_REQUEST, message);
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// Who is calling: the chain from the token, and the key its sessions and runs are kept under.
struct Caller {
    chain: Vec<Json>,
    /// The principal and agent ids (what a session is bound to).
    key: String,
}

async fn authenticate(gateway: &Gateway, headers: &HeaderMap) -> Result<Caller, Response<Body>> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(header::AUTHORIZATION) {
            unauthorized(gateway, Some("more than one Authorization header"))
        } else {
            unauthorized(gateway, None)
        });
    };
    let Some(token) = value.to_str().ok().and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }) else {
        return Err(unauthorized(gateway, None));
    };
    let payload = match gateway.verifier.verify(token).await {
        Ok(payload) => payload,
        Err(e) => return Err(unauthorized(gateway, Some(&e.to_string()))),
    };
    let mut chain = match gateway.options.claims.chain(&payload) {
        Ok(chain) => chain,
        Err(e) => return Err(unauthorized(gateway, Some(&e.to_string()))),
    };
    let principal_is_agent =
        chain.first().and_then(|p| p.get("kind")).and_then(Json::as_str) == Some("agent");
    if chain.len() == 1 && !principal_is_agent {
        chain.push(json!({"id": gateway.options.agent, "kind": "agent"}));
    }
    let ids: Vec<&str> = chain.iter().filter_map(|p| p.get("id").and_then(Json::as_str)).collect();
    let issuer = payload.get("iss").and_then(Json::as_str).unwrap_or_default();
    let key = serde_json::to_string(&json!([issuer, ids])).unwrap_or_default();
    Ok(Caller { chain, key })
}

async fn handle(gateway: Arc<Gateway>, request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path().to_string();
    if gateway.metadata_paths.contains(&path) {
        if request.method() != Method::GET {
            return rpc_error(StatusCode::METHOD_NOT_ALLOWED, &Json::Null, INVALID_REQUEST, "GET");
        }
        return json_response(
            StatusCode::OK,
            &json!({
                "resource": gateway.resource,
                "authorization_servers": gateway.options.authorization_servers,
                "bearer_methods_supported": ["header"],
            }),
        );
    }
    if path != gateway.options.path {
        return rpc_error(
            StatusCode::NOT_FOUND,
            &Json::Null,
            INVALID_REQUEST,
            &format!("the MCP endpoint is `{}`", gateway.options.path),
        );
    }
    let caller = match authenticate(&gateway, request.headers()).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let session = {
        let mut values = request.headers().get_all(SESSION).iter();
        match (values.next(), values.next()) {
            (None, _) => None,
            (Some(v), None) => match v.to_str() {
                Ok(v) => Some(v.to_string()),
                Err(_) => {
                    return rpc_error(
                        StatusCode::BAD_REQUEST,
                        &Json::Null,
                        INVALID_REQUEST,
                        "the Mcp-Session-Id header is not visible ASCII",
                    );
                }
            },
            (Some(_), Some(_)) => {
                return rpc_error(
                    StatusCode::BAD_REQUEST,
                    &Json::Null,
                    INVALID_REQUEST,
                    "more than one Mcp-Session-Id header",
                );
            }
        }
    };
    if let Some(session) = &session
        && !gateway.owns(session, &caller.key)
    {
        return rpc_error(
            StatusCode::NOT_FOUND,
            &Json::Null,
            INVALID_REQUEST,
            "unknown session (not issued to this identity through this gateway, or ended); \
             start a new one with `initialize`",
        );
    }
    let run = run_key(&caller.key, session.as_deref());
    let call = Call { gateway, caller, run, session };
    match *request.method() {
        Method::POST => call.post(request).await,
        Method::GET => {
            call.forward(
                request.headers().clone(),
                Method::GET,
                None,
                &Json::Null,
                Forwarded::Other,
            )
            .await
        }
        Method::DELETE => {
            let response = call
                .forward(
                    request.headers().clone(),
                    Method::DELETE,
                    None,
                    &Json::Null,
                    Forwarded::Other,
                )
                .await;
            if response.status().is_success()
                && let (Some(session), Ok(mut sessions)) =
                    (&call.session, call.gateway.sessions.lock())
            {
                sessions.remove(session);
            }
            response
        }
        _ => rpc_error(
            StatusCode::METHOD_NOT_ALLOWED,
            &Json::Null,
            INVALID_REQUEST,
            "the MCP endpoint takes POST, GET and DELETE",
        ),
    }
}

impl Gateway {
    /// Whether `session` was issued to `owner` (and marks it used).
    fn owns(&self, session: &str, owner: &str) -> bool {
        let Ok(mut sessions) = self.sessions.lock() else { return false };
        match sessions.get_mut(session) {
            Some((who, used)) if who == owner => {
                *used = Instant::now();
                true
            }
            _ => false,
        }
    }

    fn bind_session(&self, session: &str, owner: &str) {
        let Ok(mut sessions) = self.sessions.lock() else { return };
        if sessions.len() >= MAX_SESSIONS && !sessions.contains_key(session) {
            let oldest = sessions.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                sessions.remove(&oldest);
            }
        }
        // A session id already bound to someone else is never rebound.
        match sessions.get(session) {
            Some((who, _)) if who != owner => {}
            _ => {
                sessions.insert(session.to_string(), (owner.to_string(), Instant::now()));
            }
        }
    }
}

/// What a forwarded request is (for the note on failures).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Forwarded {
    /// An allowed `tools/call`: a failure after forwarding may leave it run.
    ToolCall,
    Other,
}

/// One authenticated request.
struct Call {
    gateway: Arc<Gateway>,
    caller: Caller,
    run: String,
    session: Option<String>,
}

impl Call {
    /// Runs `f` with the judge of this call's run, on a blocking thread (the run store and
    /// the decision log are files).
    async fn judge<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Judge<'_>, &[Json]) -> T + Send + 'static,
    ) -> Option<T> {
        self.judge_in(self.run.clone(), f).await
    }

    /// [`Call::judge`] in the run `run`.
    async fn judge_in<T: Send + 'static>(
        &self,
        run: String,
        f: impl FnOnce(&Judge<'_>, &[Json]) -> T + Send + 'static,
    ) -> Option<T> {
        let gateway = self.gateway.clone();
        let chain = self.caller.chain.clone();
        tokio::task::spawn_blocking(move || {
            let o = &gateway.options;
            let judge = Judge {
                gate: &o.gate,
                store: &*o.store,
                log: o.log.as_ref(),
                mode: o.mode,
                server: &o.server,
                run: &run,
                cwd: o.cwd.as_deref(),
                name: NAME,
            };
            f(&judge, &chain)
        })
        .await
        .ok()
    }

    async fn post(&self, request: Request<Incoming>) -> Response<Body> {
        let limits = self.gateway.options.limits;
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > limits.max_body as u64) {
            return too_large(limits.max_body);
        }
        let headers = request.headers().clone();
        let read = Limited::new(request.into_body(), limits.max_body).collect();
        let body = match tokio::time::timeout(limits.body_timeout, read).await {
            Err(_) => {
                return rpc_error(
                    StatusCode::REQUEST_TIMEOUT,
                    &Json::Null,
                    INVALID_REQUEST,
                    &format!(
                        "the request body did not arrive within {}s",
                        limits.body_timeout.as_secs()
                    ),
                );
            }
            Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
                return too_large(limits.max_body);
            }
            Ok(Err(e)) => {
                return rpc_error(
                    StatusCode::BAD_REQUEST,
                    &Json::Null,
                    INVALID_REQUEST,
                    &format!("cannot read the request body: {e}"),
                );
            }
            Ok(Ok(collected)) => collected.to_bytes(),
        };
        let message = match mcp_core::parse_client(&body, NAME) {
            Ok(message) => message,
            Err(e) => {
                eprintln!("{NAME}: refused a message: {e}");
                return json_response(StatusCode::BAD_REQUEST, &e.answer());
            }
        };
        let method = message.get("method").and_then(Json::as_str).map(str::to_string);
        let id = message.get("id").filter(|id| !id.is_null()).cloned();
        match (method.as_deref(), id) {
            (Some("tools/call"), Some(id)) => {
                let (name, arguments) = match mcp_core::tool_call(&message) {
                    Ok((name, arguments)) => (name.to_string(), arguments),
                    Err(e) => {
                        return json_response(
                            StatusCode::BAD_REQUEST,
                            &mcp_core::error(&id, e.code, &e.message),
                        );
                    }
                };
                let at = id.clone();
                let verdict =
                    self.judge(move |judge, chain| judge.call(chain, &at, &name, &arguments)).await;
                match verdict {
                    Some(Verdict::Forward) => {
                        self.forward(headers, Method::POST, Some(body), &id, Forwarded::ToolCall)
                            .await
                    }
                    Some(Verdict::Answer(answer)) => json_response(StatusCode::OK, &answer),
                    None => json_response(
                        StatusCode::OK,
                        &mcp_core::refused(
                            &id,
                            "writ could not decide the call (a bug); it was not made",
                        ),
                    ),
                }
            }
            (Some("tools/call"), None) => rpc_error(
                StatusCode::BAD_REQUEST,
                &Json::Null,
                INVALID_REQUEST,
                "a `tools/call` needs an id; not forwarded",
            ),
            (Some("initialize"), Some(id)) => {
                // The start is decided (and logged) here, once; the run it starts is the
                // session the upstream's answer issues, so its admission is kept under that
                // session's run only once the answer is in.
                let started = self.judge(|judge, chain| judge.start(chain)).await;
                let started = started
                    .unwrap_or_else(|| Err("writ could not decide the run's start (a bug)".into()));
                if let Err(refusal) = &started
                    && self.gateway.options.mode == writ_evaluator::log::Mode::Enforce
                {
                    return rpc_error(StatusCode::OK, &id, NOT_ADMITTED, refusal);
                }
                let response =
                    self.forward(headers, Method::POST, Some(body), &id, Forwarded::Other).await;
                if let Ok(admission) = started
                    && response.status().is_success()
                {
                    let issued = response.headers().get(SESSION).and_then(|v| v.to_str().ok());
                    let run = run_key(&self.caller.key, issued.or(self.session.as_deref()));
                    let kept = self.judge_in(run, move |judge, _| judge.keep(&admission)).await;
                    if let Some(Err(e)) = kept {
                        // Not fatal: the session's first call decides the start again.
                        eprintln!("{NAME}: cannot keep the session's admission: {e}");
                    }
                }
                response
            }
            (_, id) => {
                let id = id.unwrap_or(Json::Null);
                self.forward(headers, Method::POST, Some(body), &id, Forwarded::Other).await
            }
        }
    }

    /// Sends the request upstream and relays its answer, filtered where it lists tools.
    async fn forward(
        &self,
        client_headers: HeaderMap,
        method: Method,
        body: Option<Bytes>,
        id: &Json,
        what: Forwarded,
    ) -> Response<Body> {
        let options = &self.gateway.options;
        let limits = options.limits;
        let upstream = &options.upstream;
        let path = if upstream.base.is_empty() { "/" } else { upstream.base.as_str() };
        let mut headers = HeaderMap::new();
        for name in FORWARDED {
            for value in client_headers.get_all(name) {
                headers.append(name, value.clone());
            }
        }
        if options.forwarding == TokenForwarding::Forward {
            for value in client_headers.get_all(header::AUTHORIZATION) {
                headers.append(header::AUTHORIZATION, value.clone());
            }
        }
        let mut request =
            self.gateway.client.request(method.clone(), upstream.at(path)).headers(headers);
        if let Some(body) = body {
            request = request.body(body);
        }
        let sent = tokio::time::timeout(limits.upstream_timeout, request.send()).await;
        let note = if what == Forwarded::ToolCall {
            " (the call was allowed and forwarded; it may or may not have run)"
        } else {
            ""
        };
        let mut response = match sent {
            Err(_) => {
                return rpc_error(
                    StatusCode::GATEWAY_TIMEOUT,
                    id,
                    INTERNAL_ERROR,
                    &format!(
                        "the upstream MCP server did not answer within {}s{note}",
                        limits.upstream_timeout.as_secs()
                    ),
                );
            }
            Ok(Err(e)) => {
                let e = format!(
                    "the upstream MCP server {upstream} failed to answer: {}",
                    net::describe(&e)
                );
                eprintln!("{NAME}: {e}");
                return rpc_error(
                    StatusCode::BAD_GATEWAY,
                    id,
                    INTERNAL_ERROR,
                    &format!("{e}{note}"),
                );
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if let Some(issued) = response.headers().get(SESSION).and_then(|v| v.to_str().ok())
            && status.is_success()
        {
            self.gateway.bind_session(issued, &self.caller.key);
        }
        let mut headers = HeaderMap::new();
        for (name, value) in response.headers() {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                headers.append(name.clone(), value.clone());
            }
        }
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
            .unwrap_or_default();
        let body = if content_type == "text/event-stream" {
            let idle = (method == Method::POST).then_some(limits.upstream_timeout);
            self.relay_events(response, idle)
        } else {
            let read = net::read_limited(&mut response, limits.max_message);
            let bytes = match tokio::time::timeout(limits.upstream_timeout, read).await {
                Ok(Ok(bytes)) => Bytes::from(bytes),
                Ok(Err(e)) => {
                    let e = match e {
                        ReadError::TooLong { limit } => {
                            format!("the upstream's answer is over {limit} bytes")
                        }
                        ReadError::Failed(e) => format!("cannot read the upstream's answer: {e}"),
                    };
                    return rpc_error(
                        StatusCode::BAD_GATEWAY,
                        id,
                        INTERNAL_ERROR,
                        &format!("{e}{note}"),
                    );
                }
                Err(_) => {
                    return rpc_error(
                        StatusCode::GATEWAY_TIMEOUT,
                        id,
                        INTERNAL_ERROR,
                        &format!(
                            "the upstream's answer did not arrive within {}s{note}",
                            limits.upstream_timeout.as_secs()
                        ),
                    );
                }
            };
            if content_type == "application/json" && !bytes.iter().all(u8::is_ascii_whitespace) {
                match self.checked(&bytes).await {
                    Ok(bytes) => full(bytes),
                    Err(e) => {
                        eprintln!("{NAME}: dropped an upstream answer: {e}");
                        return rpc_error(
                            StatusCode::BAD_GATEWAY,
                            id,
                            INTERNAL_ERROR,
                            &format!(
                                "the upstream MCP server's answer is not one strict JSON message: {e}"
                            ),
                        );
                    }
                }
            } else {
                full(bytes)
            }
        };
        let mut answer = Response::new(body);
        *answer.status_mut() = status;
        *answer.headers_mut() = headers;
        answer
    }

    /// An upstream JSON message: relayed as it came, or filtered when it lists tools.
    async fn checked(&self, bytes: &Bytes) -> Result<Bytes, String> {
        match crate::strict::parse(bytes)? {
            Json::Object(message) if lists_tools(&message) => {
                let filtered = self.filter(message).await?;
                Ok(Bytes::from(filtered))
            }
            Json::Object(_) => Ok(bytes.clone()),
            _ => Err("not a JSON object".to_string()),
        }
    }

    async fn filter(&self, message: Map<String, Json>) -> Result<Vec<u8>, String> {
        self.judge(move |judge, chain| {
            let mut message = message;
            judge.filter_tools(chain, &mut message);
            Json::Object(message).to_string().into_bytes()
        })
        .await
        .ok_or_else(|| "could not filter the tools (a bug)".to_string())
    }

    /// Relays an SSE stream event by event: each as it came, but an event listing tools
    /// filtered, and one whose data is not a strict JSON object dropped.
    fn relay_events(
        &self,
        mut upstream: reqwest::Response,
        idle: Option<std::time::Duration>,
    ) -> Body {
        let (tx, rx) = mpsc::channel::<Bytes>(16);
        let this = Call {
            gateway: self.gateway.clone(),
            caller: Caller { chain: self.caller.chain.clone(), key: self.caller.key.clone() },
            run: self.run.clone(),
            session: self.session.clone(),
        };
        let max = self.gateway.options.limits.max_message;
        tokio::spawn(async move {
            let mut splitter = Splitter::default();
            loop {
                let chunk = match idle {
                    Some(idle) => match tokio::time::timeout(idle, upstream.chunk()).await {
                        Ok(chunk) => chunk,
                        Err(_) => {
                            eprintln!(
                                "{NAME}: the upstream's event stream was silent for {}s; closed",
                                idle.as_secs()
                            );
                            break;
                        }
                    },
                    None => upstream.chunk().await,
                };
                let data = match chunk {
                    Ok(Some(data)) => data,
                    Err(e) => {
                        eprintln!(
                            "{NAME}: the upstream's event stream failed: {}",
                            net::describe(&e)
                        );
                        break;
                    }
                    Ok(None) => break,
                };
                let events = match splitter.push(&data, max) {
                    Ok(events) => events,
                    Err(length) => {
                        eprintln!(
                            "{NAME}: an upstream event of over {length} bytes; the stream is closed"
                        );
                        break;
                    }
                };
                for event in events {
                    let Some(out) = this.event(event).await else { continue };
                    if tx.send(out).await.is_err() {
                        return; // the client is gone: dropping the body ends the upstream's
                    }
                }
            }
        });
        BodyExt::boxed(Channel(rx))
    }

    /// One SSE event as the client gets it, or `None` to drop it.
    async fn event(&self, event: Vec<u8>) -> Option<Bytes> {
        let Some(data) = sse::data(&event).filter(|d| !d.iter().all(u8::is_ascii_whitespace))
        else {
            // No data (a comment, a priming event with an id): nothing to decide.
            return Some(Bytes::from(event));
        };
        match crate::strict::parse(&data) {
            Ok(Json::Object(message)) if lists_tools(&message) => {
                match self.filter(message).await {
                    Ok(json) => Some(Bytes::from(sse::with_data(&event, &json))),
                    Err(e) => {
                        eprintln!("{NAME}: dropped an event: {e}");
                        None
                    }
                }
            }
            Ok(Json::Object(_)) => Some(Bytes::from(event)),
            Ok(_) => {
                eprintln!("{NAME}: dropped an upstream event that is not one JSON object");
                None
            }
            Err(e) => {
                eprintln!("{NAME}: dropped a malformed upstream event: {e}");
                None
            }
        }
    }
}

fn too_large(max: usize) -> Response<Body> {
    let mut response = rpc_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &Json::Null,
        INVALID_REQUEST,
        &format!("the request body is over the gateway's limit of {max} bytes; not forwarded"),
    );
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A response body fed by a channel, frame by frame.
struct Channel(mpsc::Receiver<Bytes>);

impl hyper::body::Body for Channel {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|bytes| bytes.map(|b| Ok(Frame::data(b))))
    }
}
