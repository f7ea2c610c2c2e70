//! `writ mcp-gateway`: an HTTP gateway in front of a Streamable-HTTP MCP server (MCP
//! 2025-06-18 and 2025-11-25 transport) that decides every `tools/call` with writ.
//!
//! The client (an MCP client with a bearer token) speaks to the gateway's one endpoint; the
//! gateway speaks to the upstream's. What it keeps (the stdio proxy's guarantees,
//! [`crate::mcp`], over HTTP; the message-level logic is [`crate::mcp_core`], shared with it):
//!
//! - every request needs `Authorization: Bearer JWT`, verified against the issuer's keys
//!   ([`jwt`]); without one, or with one that fails, the answer is 401 with
//!   `WWW-Authenticate: Bearer resource_metadata="…"` pointing at the protected-resource
//!   metadata (RFC 9728) the gateway serves at `/.well-known/oauth-protected-resource`. The
//!   token's claims make the chain exactly as `writ serve --grpc` makes it for Envoy
//!   ([`crate::claims`]); the token is not forwarded upstream unless asked;
//! - a `POST`ed message is read whole (at most the body limit, within the body timeout) and
//!   strictly: one JSON object with unique keys, no batches; anything else is answered 400
//!   with a JSON-RPC error and never forwarded;
//! - a `tools/call` is decided with its arguments before the upstream sees it: on `allow` the
//!   client's bytes are forwarded as they came; on `deny`, `pending` or any error the client
//!   gets a tool result with `isError: true` giving writ's reasons, and the upstream never
//!   sees the call;
//! - every answer listing tools (`result.tools`), in a JSON body or in an event of an SSE
//!   stream (a `POST`'s answer, the `GET` stream, a resumed stream), lists only the tools the
//!   chain may ever be allowed to call; every other message is relayed byte for byte, SSE
//!   streams event by event as they arrive; an upstream message that is not strict JSON is
//!   dropped;
//! - the session (`Mcp-Session-Id`, issued by the upstream in its answer to `initialize`) is
//!   bound to the token's principal: a request naming a session the gateway did not see issued
//!   to that principal is answered 404, so one identity cannot ride another's session;
//! - bounded: the request head and body have timeouts, the body a size limit, the upstream a
//!   time to answer; an upstream that is down or too slow is a 502 or 504 with a JSON-RPC
//!   error, never a hang; at most [`Limits::max_connections`] client connections are served at
//!   once (the next ones wait in the listen backlog until one closes);
//! - the upstream and `--jwks-url` may be `https://`: the one client of [`crate::net`]
//!   (rustls; the platform's roots and `--ca-cert`). A certificate that does not verify is a
//!   502 (or, for the key set at start, a start-up error), never a request sent in the clear.

mod http;
pub mod jwt;
pub mod sse;

use std::net::SocketAddr;
use std::time::Duration;

use writ_evaluator::log::Mode;

use crate::claims::ClaimMap;
use crate::declog::LogFile;
use crate::evidence::ServerUrl;
use crate::gate::Gate;
use crate::net::Roots;
use crate::run::RunStore;

pub use jwt::KeySource;

/// Whether the client's bearer token goes upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenForwarding {
    /// The `Authorization` header is removed (the default: the upstream never gets a token
    /// issued for the gateway, so it cannot replay it elsewhere).
    Strip,
    /// The `Authorization` header is passed on as the client sent it.
    Forward,
}

/// The default of `--max-connections`: well under a default open-file limit of 1024 less the
/// gateway's own files, with the upstream connections each client connection may hold.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// How long and how much.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest request body; larger ones are answered 413.
    pub max_body: usize,
    /// The largest message read from the upstream (a JSON body, one SSE event).
    pub max_message: usize,
    /// A request's head must arrive within this.
    pub header_timeout: Duration,
    /// A request's body must arrive within this of its head.
    pub body_timeout: Duration,
    /// The upstream must connect and answer (the head, and a JSON body in full) within this;
    /// an SSE stream answering a `POST` must not stay silent longer.
    pub upstream_timeout: Duration,
    /// The most client connections served at once; the next ones are accepted only when one
    /// closes (they wait in the listen backlog, their requests unanswered until then).
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body: 4 * 1024 * 1024,
            max_message: 16 * 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            upstream_timeout: Duration::from_secs(120),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// What the gateway needs.
pub struct Options {
    pub gate: Gate,
    /// The upstream MCP endpoint (`http(s)://HOST:PORT/PATH`).
    pub upstream: ServerUrl,
    /// The server name in writ tool names: `mcp.SERVER.TOOL`.
    pub server: String,
    /// The path the gateway serves the MCP endpoint on (`/mcp`).
    pub path: String,
    /// This endpoint's public URL: the protected resource (`resource` in the metadata).
    /// `None`: `http://LISTEN-ADDRESS/PATH`.
    pub resource: Option<String>,
    /// The authorization servers named in the metadata.
    pub authorization_servers: Vec<String>,
    pub issuer: String,
    pub audience: String,
    pub keys: KeySource,
    pub claims: ClaimMap,
    /// The agent's id when the token names none (the chain is then the token's principal and
    /// this agent).
    pub agent: String,
    pub forwarding: TokenForwarding,
    pub limits: Limits,
    pub log: Option<LogFile>,
    pub store: Box<dyn RunStore>,
    /// The directory relative `path` arguments resolve against (the upstream's).
    pub cwd: Option<String>,
    pub mode: Mode,
    /// What `https://` servers (the upstream, `--jwks-url`) are verified against.
    pub roots: Roots,
}

/// Serves on `listener` until the process ends. `Err`: a start-up failure (the key set).
pub async fn serve(
    options: Options,
    listener: tokio::net::TcpListener,
) -> Result<std::convert::Infallible, String> {
    http::serve(options, listener).await
}

/// Runs the gateway on `listen`. Returns the exit status (2: it could not start).
pub fn run(options: Options, listen: SocketAddr) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the gateway: {e}");
            return 2;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on `{listen}`: {e}");
                return 2;
            }
        };
        match serve(options, listener).await {
            Err(e) => {
                eprintln!("error: {e}");
                2
            }
        }
    })
}
