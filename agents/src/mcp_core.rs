//! What the stdio proxy (`writ mcp-proxy`, [`crate::mcp`]) and the HTTP gateway
//! (`writ mcp-gateway`, [`crate::mcp_gateway`]) share, message by message: reading a client's
//! JSON-RPC message strictly, deciding a `tools/call` with its arguments within the run,
//! logging the decision, the answer to a refused call, and filtering a `tools/list` answer.
//!
//! Both transports read only `method`, `id`, `params.name`, `params.arguments` and
//! `result.tools[].name`, and pass everything else on as it came.

use std::collections::HashSet;

use serde_json::{Map, Value as Json, json};
use writ_evaluator::log::Mode;
use writ_evaluator::{Outcome, Request, Timestamp};

use crate::declog::LogFile;
use crate::gate::{Gate, Judgement, missing_text};
use crate::names;
use crate::run::{Admission, DEFAULT_IDLE, Retention, RunCall, RunGate, RunStore, now};
use writ_stdx::never;

/// JSON-RPC error codes.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// The answer to an `initialize` of a run whose start writ does not allow (a server error in
/// JSON-RPC's implementation-defined range).
pub const NOT_ADMITTED: i64 = -32001;

/// The key of a request id: its JSON text, with numerically equal numbers made one (`7` and
/// `7.0` are the same id). `None` for an id JSON-RPC does not allow here: not a string or an
/// integer (an object, a list, a boolean, a fraction such as `7.5`, or past 2^53).
pub fn id_key(id: &Json) -> Option<String> {
    match id {
        Json::String(_) => Some(id.to_string()),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Some(i.to_string());
            }
            if let Some(u) = n.as_u64() {
                return Some(u.to_string());
            }
            let f = n.as_f64()?;
            // Integral and exactly representable: the same id as the integer.
            (f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0).then(|| (f as i64).to_string())
        }
        _ => None,
    }
}

/// A JSON-RPC error answer.
pub fn error(id: &Json, code: i64, message: &str) -> Json {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// A tool result with `isError: true`: the answer to a call that did not reach the upstream.
pub fn refused(id: &Json, text: &str) -> Json {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "result": {"content": [{"type": "text", "text": text}], "isError": true},
    })
}

/// A client message that is not forwarded: the JSON-RPC error code and message it is answered
/// with (`id` null: the message could not be read far enough to know its id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    pub code: i64,
    pub message: String,
}

impl Malformed {
    fn new(code: i64, message: impl Into<String>) -> Malformed {
        Malformed { code, message: message.into() }
    }

    /// The answer to the client.
    pub fn answer(&self) -> Json {
        error(&Json::Null, self.code, &self.message)
    }
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Reads one message from a client: one JSON object with unique keys (anywhere) whose request
/// id, if it has one, is a string or an integer. Batches are refused (one message at a time:
/// MCP 2025-06-18 and later have none, and a batch would be decided as one).
pub fn parse_client(bytes: &[u8], transport: &str) -> Result<Map<String, Json>, Malformed> {
    let message = match crate::strict::parse(bytes) {
        Ok(Json::Object(m)) => m,
        Ok(Json::Array(_)) => {
            return Err(Malformed::new(
                INVALID_REQUEST,
                format!("{transport} does not accept JSON-RPC batches; send one message at a time"),
            ));
        }
        Ok(_) => return Err(Malformed::new(INVALID_REQUEST, "a message must be a JSON object")),
        Err(e) => return Err(Malformed::new(PARSE_ERROR, format!("parse error: {e}"))),
    };
    if message.contains_key("method")
        && let Some(bad) = message.get("id").filter(|id| !id.is_null())
        && id_key(bad).is_none()
    {
        // Never forwarded: an id an answer cannot be matched to, or one a client could use to
        // make two requests look like one.
        return Err(Malformed::new(
            INVALID_REQUEST,
            format!("a request id must be a string or an integer, found {bad}"),
        ));
    }
    Ok(message)
}

/// A `tools/call`'s tool name and arguments, or the error answering it (`-32602`).
pub fn tool_call(message: &Map<String, Json>) -> Result<(&str, Map<String, Json>), Malformed> {
    let params = message.get("params").and_then(Json::as_object);
    let Some(name) = params.and_then(|p| p.get("name")).and_then(Json::as_str) else {
        return Err(Malformed::new(
            INVALID_PARAMS,
            "`params.name`: a `tools/call` needs the tool's name (a string)",
        ));
    };
    match params.and_then(|p| p.get("arguments")) {
        None | Some(Json::Null) => Ok((name, Map::new())),
        Some(Json::Object(args)) => Ok((name, args.clone())),
        Some(_) => Err(Malformed::new(INVALID_PARAMS, "`params.arguments`: expected an object")),
    }
}

/// What a decided `tools/call` comes to.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Allowed (or log-only): forward the client's bytes.
    Forward,
    /// Refused: answer the client with this (a tool result with `isError: true`); the
    /// upstream never sees the call.
    Answer(Json),
}

/// The policy side of one MCP server's traffic: the gate, the run store, the decision log.
pub struct Judge<'a> {
    pub gate: &'a Gate,
    pub store: &'a dyn RunStore,
    pub log: Option<&'a LogFile>,
    pub mode: Mode,
    /// The server name in writ tool names: `mcp.SERVER.TOOL`.
    pub server: &'a str,
    /// The run's key in the store.
    pub run: &'a str,
    /// Relative `path` arguments resolve against this directory.
    pub cwd: Option<&'a str>,
    /// Who writes to standard error (`writ mcp-proxy`, `writ mcp-gateway`).
    pub name: &'a str,
}

impl Judge<'_> {
    fn run_gate(&self) -> RunGate<'_> {
        RunGate {
            gate: self.gate,
            store: self.store,
            retention: Retention::for_policy(self.gate, DEFAULT_IDLE),
            mode: self.mode,
        }
    }

    fn run_fields(&self) -> Map<String, Json> {
        let mut fields = Map::new();
        if let Some(cwd) = self.cwd {
            fields.insert("cwd".into(), Json::String(cwd.to_string()));
        }
        fields
    }

    /// Decides the run's start for `chain` (unless it is admitted already); `Some(reason)`
    /// when it is not admitted. The start is logged.
    pub fn admit(&self, chain: &[Json]) -> Option<String> {
        let empty = Map::new();
        let now = match now() {
            Ok(now) => now,
            Err(e) => return Some(format!("writ could not decide the run's start: {e}")),
        };
        let call = self.start_call(chain, &empty, now);
        match self.run_gate().admit(&call) {
            Ok(admitted) => {
                if let (Some(log), Some(start)) = (self.log, &admitted.start)
                    && let Err(e) = log.record(start)
                {
                    eprintln!("{}: {e}", self.name);
                    return Some(format!("writ could not log the run's start: {e}"));
                }
                admitted.refusal
            }
            Err(e) => Some(format!("writ could not decide the run's start: {e}")),
        }
    }

    /// The run's start as `chain` asks for it at `now` (no tool, no arguments: `empty`).
    fn start_call<'c>(
        &'c self,
        chain: &'c [Json],
        empty: &'c Map<String, Json>,
        now: Timestamp,
    ) -> RunCall<'c> {
        RunCall {
            run: self.run,
            chain,
            start_chain: chain.len(),
            tool: "",
            input: empty,
            context: Map::new(),
            run_fields: self.run_fields(),
            call_id: None,
            now,
        }
    }

    /// Decides the start of a new run for `chain` whose key is not known yet (a gateway's
    /// `initialize`), and logs it: `Ok(admission)` to keep with [`Judge::keep`] under the key
    /// once known, `Err(reason)` when the run is not admitted.
    pub fn start(&self, chain: &[Json]) -> Result<Admission, String> {
        let empty = Map::new();
        let now = now().map_err(|e| format!("writ could not decide the run's start: {e}"))?;
        let call = self.start_call(chain, &empty, now);
        let admitted = self
            .run_gate()
            .decide_start(&call)
            .map_err(|e| format!("writ could not decide the run's start: {e}"))?;
        if let (Some(log), Some(start)) = (self.log, &admitted.start)
            && let Err(e) = log.record(start)
        {
            eprintln!("{}: {e}", self.name);
            return Err(format!("writ could not log the run's start: {e}"));
        }
        match (admitted.admit, admitted.refusal) {
            (Some(admission), None) => Ok(admission),
            (_, Some(refusal)) => Err(refusal),
            (None, None) => {
                never!("a start decided now is admitted or refused");
                Err("writ could not decide the run's start (a bug)".to_string())
            }
        }
    }

    /// Keeps `admission` (from [`Judge::start`]) as this judge's run's. `Err`: the store
    /// failed (the run's calls will decide the start again).
    pub fn keep(&self, admission: &Admission) -> Result<(), String> {
        let now = now().map_err(|e| e.to_string())?;
        self.run_gate().keep_admission(self.run, admission, now)
    }

    /// Decides a `tools/call` of `name` with `arguments` by `chain`, within the run; every
    /// decision is logged before it is acted on (a decision that cannot be logged refuses).
    pub fn call(
        &self,
        chain: &[Json],
        id: &Json,
        name: &str,
        arguments: &Map<String, Json>,
    ) -> Verdict {
        let tool = names::mcp_tool(self.server, name);
        let call_id = id_key(id);
        let now = match now() {
            Ok(now) => now,
            Err(e) => {
                return Verdict::Answer(refused(
                    id,
                    &format!("writ could not decide `{tool}`: {e}"),
                ));
            }
        };
        let call = RunCall {
            run: self.run,
            chain,
            start_chain: chain.len(),
            tool: &tool,
            input: arguments,
            context: Map::new(),
            run_fields: self.run_fields(),
            call_id: call_id.as_deref(),
            now,
        };
        let judged = match self.run_gate().call(&call) {
            Ok(j) => j,
            Err(e) => {
                return Verdict::Answer(refused(
                    id,
                    &format!("writ could not decide `{tool}`: {e}"),
                ));
            }
        };
        for judgement in judged.start.iter().chain([&judged.call]) {
            if let Some(log) = self.log
                && let Err(e) = log.record(judgement)
            {
                eprintln!("{}: {e}", self.name);
                return Verdict::Answer(refused(
                    id,
                    &format!("writ refused `{tool}`: the decision log failed: {e}"),
                ));
            }
        }
        if judged.answered_allow {
            return Verdict::Forward;
        }
        let text = match crate::gate::reviewer_steps(self.gate, &judged.call) {
            Some(steps) if judged.call.decision.decision == Outcome::Pending => format!(
                "writ: `{tool}` in workflow `{}` is pending; the call was not made: {steps}",
                self.gate.workflow
            ),
            _ => refusal(&judged.call, &tool, &self.gate.workflow),
        };
        Verdict::Answer(refused(id, &text))
    }

    /// Keeps in `result.tools` only the tools `chain` may ever be allowed to call in this run
    /// (none when the run is not admitted); in log-only mode, all.
    pub fn filter_tools(&self, chain: &[Json], message: &mut Map<String, Json>) {
        if self.mode == Mode::LogOnly {
            return;
        }
        let visible =
            if self.admit(chain).is_some() { HashSet::new() } else { self.visible(chain) };
        if let Some(Json::Array(tools)) = message.get_mut("result").and_then(|r| r.get_mut("tools"))
        {
            tools.retain(|t| {
                t.get("name")
                    .and_then(Json::as_str)
                    .is_some_and(|name| visible.contains(&names::mcp_tool(self.server, name)))
            });
        }
    }

    fn visible(&self, chain: &[Json]) -> HashSet<String> {
        let request = json!({"action": "call", "workflow": "_", "tool": "_", "chain": chain});
        let text = request.to_string();
        let Ok(request) = Request::from_json(&text) else {
            return HashSet::new();
        };
        let ir = self.gate.policy.ir();
        match writ_compiler::reach::visible_tools(ir, &self.gate.workflow, &request.chain) {
            Ok(tools) => tools.into_iter().map(|t| t.tool).collect(),
            Err(e) => {
                eprintln!("{}: listing no tools: {e}", self.name);
                HashSet::new()
            }
        }
    }
}

/// Whether an upstream message is an answer listing tools (`result.tools` a list): the one
/// kind of answer that is filtered, wherever it comes from.
pub fn lists_tools(message: &Map<String, Json>) -> bool {
    !message.contains_key("method")
        && matches!(message.get("result").and_then(|r| r.get("tools")), Some(Json::Array(_)))
}

/// The text of a refused call: writ's reasons, or the evidence still missing.
pub fn refusal(judgement: &Judgement, tool: &str, workflow: &str) -> String {
    let d = &judgement.decision;
    match d.decision {
        Outcome::Pending => format!(
            "writ: `{tool}` in workflow `{workflow}` needs evidence before it can run: {}. The \
             call was not made. ({})",
            missing_text(d).join(", "),
            d.reasons.join("; ")
        ),
        _ => format!(
            "writ denied `{tool}` in workflow `{workflow}`; the call was not made: {}",
            d.reasons.join("; ")
        ),
    }
}
