//! writ beside coding agents: the policy gate behind `writ hook claude-code`, `writ hook codex`
//! and `writ hook gemini` (the agents' tool hooks) and `writ mcp-proxy` (a stdio MCP proxy).
//!
//! - [`names`]: how agent tool and argument names become writ names.
//! - [`gate`]: a compiled policy and workflow; a tool call to a writ request and decision;
//!   identity files.
//! - [`hook`]: what every agent's hook shares: the run, the chain, the decision and its answer.
//! - [`claude`], [`codex`], [`gemini`]: each agent's hook input and answer format.
//! - [`mcp`]: the proxy.
//! - [`strict`]: JSON parsing that rejects duplicate keys.
//!
//! invariant: no call is let through without an `allow` decision from the evaluator on the very
//! arguments the tool receives; every failure answers deny.
#![forbid(unsafe_code)]

pub mod claude;
pub mod codex;
pub mod declog;
pub mod evidence;
pub mod gate;
pub mod gemini;
pub mod hook;
pub mod mcp;
pub mod names;
pub mod run;
pub mod strict;
