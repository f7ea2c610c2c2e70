//! writ beside coding agents: the policy gate behind `writ hook claude-code`, `writ hook codex`
//! and `writ hook gemini` (the agents' tool hooks), `writ mcp-proxy` (a stdio MCP proxy) and
//! `writ mcp-gateway` (an HTTP gateway in front of a Streamable-HTTP MCP server).
//!
//! - [`names`]: how agent tool and argument names become writ names.
//! - [`gate`]: a compiled policy and workflow; a tool call to a writ request and decision;
//!   identity files.
//! - [`hook`]: what every agent's hook shares: the run, the chain, the decision and its answer.
//! - [`claude`], [`codex`], [`gemini`]: each agent's hook input and answer format.
//! - [`mcp_core`]: what the proxy and the gateway share, message by message: strict reading,
//!   the decision of a `tools/call`, the refusal, the `tools/list` filter.
//! - [`mcp`]: the stdio proxy.
//! - [`mcp_gateway`]: the HTTP gateway (bearer JWTs, sessions, JSON and SSE relay).
//! - [`claims`]: a verified token's claims as a chain (shared with `writ serve --grpc`).
//! - [`strict`]: JSON parsing that rejects duplicate keys.
//! - [`net`]: the one HTTP(S) client (rustls; the platform's roots and `--ca-cert`).
//! - `test_pki` (feature `test-util`, tests only): a CA and a server certificate for TLS tests.
//!
//! invariant: no call is let through without an `allow` decision from the evaluator on the very
//! arguments the tool receives; every failure answers deny.
#![forbid(unsafe_code)]

pub mod claims;
pub mod claude;
pub mod codex;
pub mod declog;
pub mod evidence;
pub mod gate;
pub mod gemini;
pub mod hook;
pub mod mcp;
pub mod mcp_core;
pub mod mcp_gateway;
pub mod names;
pub mod net;
pub mod run;
pub mod strict;
#[cfg(feature = "test-util")]
pub mod test_pki;
