//! `writ mcp-proxy`: a stdio MCP proxy that decides every `tools/call` with writ.
//!
//! The client (an agent) speaks to the proxy on standard input and output; the proxy starts the
//! upstream MCP server as a child and speaks to it on the child's standard input and output.
//! Messages are newline-delimited JSON-RPC (the MCP stdio transport). The proxy relays every
//! message unchanged (the same bytes), except:
//!
//! - a `tools/call` request is decided first, with its arguments: on `allow` it is forwarded;
//!   on `deny` or `pending` the client gets a tool result with `isError: true` whose text gives
//!   writ's reasons or the missing evidence, and the upstream never sees the call;
//! - the upstream's answer to a `tools/list` request lists only the tools this run could ever
//!   be allowed to call (`writ_compiler::reach::visible_tools` for the chain);
//! - a line that is not one JSON object with unique keys is never forwarded: from the client it
//!   gets a JSON-RPC error (`-32700` parse error, `-32600` for a batch or a non-object); from
//!   the upstream it is dropped (and reported on standard error);
//! - a forwarded `tools/call` the upstream does not answer within the timeout gets a JSON-RPC
//!   error, and the upstream a `notifications/cancelled`; a late answer is then dropped, as is
//!   any answer to a request the proxy is not waiting for (so the client never gets two
//!   answers);
//! - when the upstream exits, every request it left unanswered gets a JSON-RPC error and the
//!   proxy exits (status 1); when the client disconnects, the proxy closes the upstream's
//!   input, gives it a moment to finish, and exits (status 0).
//!
//! Each decision is written to the decision log (when one is given) before the call is
//! forwarded or refused; a decision that cannot be logged is not acted on (the call is refused).
//!
//! The relay works on `serde_json::Value` and raw lines rather than a typed MCP model (such as
//! `rmcp`'s): the proxy must pass on messages of protocol versions and extensions it does not
//! know, byte for byte, and reads only `method`, `id`, `params.name`, `params.arguments` and
//! `result.tools[].name`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Map, Value as Json, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;
use writ_evaluator::log::Mode;

use crate::declog::LogFile;
use crate::gate::Gate;
use crate::mcp_core::{
    INTERNAL_ERROR, INVALID_REQUEST, Judge, NOT_ADMITTED, Verdict, id_key, lists_tools,
};
use crate::run::RunStore;

/// What the proxy needs.
pub struct Options {
    pub gate: Gate,
    /// The accountable principal (LANGUAGE.md §5 JSON).
    pub identity: Json,
    /// The agent principal's id; default `mcp-client/NAME` from the client's `initialize`
    /// (`clientInfo.name`), or `mcp-client` before it.
    pub agent: Option<String>,
    /// The server name in writ tool names: `mcp.SERVER.TOOL`.
    pub server: String,
    /// How long to wait for the upstream's answer to a request.
    pub timeout: Duration,
    /// The longest message (one line) the proxy reads from either side.
    pub max_message_bytes: usize,
    pub log: Option<LogFile>,
    /// The upstream command and its arguments.
    pub command: Vec<OsString>,
    /// Where the run's admission and history are kept ([`crate::run::MemoryStore`] by
    /// default; a [`crate::run::SqliteStore`] shares them with other processes).
    pub store: Box<dyn RunStore>,
    /// The run's key in the store (a fresh id per proxy by default).
    pub run: String,
    /// The directory relative `path` arguments resolve against: the proxy's own, in which the
    /// upstream is started (so it resolves them the same way).
    pub cwd: Option<String>,
    /// Enforce, or log only.
    pub mode: Mode,
}

/// Runs the proxy on this process's standard input and output. Returns the exit status.
pub fn run(options: Options) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the proxy: {e}");
            return 2;
        }
    };
    let code = runtime.block_on(relay(options, tokio::io::stdin(), tokio::io::stdout()));
    // Standard input is read on a blocking thread that may still wait for a line.
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}

/// The proxy over any client streams.
pub async fn relay(
    options: Options,
    client_in: impl AsyncRead + Unpin + Send + 'static,
    client_out: impl AsyncWrite + Unpin + Send + 'static,
) -> u8 {
    let Some((program, args)) = options.command.split_first() else {
        eprintln!("error: give the upstream MCP server's command after `--`");
        return 2;
    };
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "error: cannot start the upstream MCP server `{}`: {e}",
                program.to_string_lossy()
            );
            return 2;
        }
    };
    let (Some(up_in), Some(up_out)) = (child.stdin.take(), child.stdout.take()) else {
        eprintln!("error: the upstream MCP server has no standard input or output");
        return 2;
    };
    let (to_client, client_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let (to_upstream, upstream_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let client_writer = tokio::spawn(writer(client_out, client_rx));
    let upstream_writer = tokio::spawn(writer(up_in, upstream_rx));
    let max = options.max_message_bytes;
    let mut from_client = lines(client_in, max);
    let mut from_upstream = lines(up_out, max);

    let mut proxy = Proxy {
        options,
        to_client,
        to_upstream: Some(to_upstream),
        pending: HashMap::new(),
        client_name: None,
    };
    let code = loop {
        let deadline = proxy.next_deadline();
        tokio::select! {
            line = from_client.recv() => match line {
                Some(Ok(line)) => proxy.on_client(&line),
                Some(Err(length)) => proxy.client_too_long(length),
                None => {
                    // The client is gone: let the upstream finish what it has, then stop.
                    proxy.to_upstream = None;
                    break proxy.drain(&mut from_upstream, &mut child).await;
                }
            },
            line = from_upstream.recv() => match line {
                Some(Ok(line)) => proxy.on_upstream(&line),
                Some(Err(length)) => eprintln!(
                    "writ mcp-proxy: dropped a message of {length} bytes from the upstream (over \
                     --max-message-bytes)"
                ),
                None => break proxy.upstream_gone(&mut child).await,
            },
            () = sleep_until(deadline) => proxy.expire(),
        }
    };
    drop(proxy);
    let _ = upstream_writer.await;
    let _ = client_writer.await;
    code
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// A line read from one side: its bytes (without the newline), or, for a line longer than the
/// limit, how many bytes it had (they were not kept).
type Line = Result<Vec<u8>, usize>;

/// Reads newline-delimited lines on a task of its own, keeping at most `max` bytes of any one:
/// a longer line is read to its end and reported by length, so no message can make the proxy
/// hold more than `max` bytes of it.
fn lines(
    input: impl AsyncRead + Unpin + Send + 'static,
    max: usize,
) -> mpsc::UnboundedReceiver<Line> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut reader = BufReader::new(input);
        let mut line = Vec::new();
        let mut length = 0usize;
        loop {
            let buf = match reader.fill_buf().await {
                Ok([]) | Err(_) => break,
                Ok(buf) => buf,
            };
            let (chunk, ends) = match buf.iter().position(|&b| b == b'\n') {
                Some(at) => (buf.get(..at).unwrap_or_default(), Some(at + 1)),
                None => (buf, None),
            };
            length = length.saturating_add(chunk.len());
            if length <= max {
                line.extend_from_slice(chunk);
            } else {
                line = Vec::new();
            }
            let used = ends.unwrap_or(buf.len());
            reader.consume(used);
            if ends.is_some() {
                let out = if length <= max { Ok(std::mem::take(&mut line)) } else { Err(length) };
                length = 0;
                if tx.send(out).is_err() {
                    break;
                }
            }
        }
    });
    rx
}

/// Writes each message followed by a newline; stops when the channel closes or writing fails.
async fn writer(mut out: impl AsyncWrite + Unpin, mut rx: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(mut message) = rx.recv().await {
        message.push(b'\n');
        if out.write_all(&message).await.is_err() || out.flush().await.is_err() {
            break;
        }
    }
    let _ = out.shutdown().await;
}

/// A request of the client's that the upstream has not answered yet.
struct Pending {
    method: String,
    deadline: Option<Instant>,
}

struct Proxy {
    options: Options,
    to_client: mpsc::UnboundedSender<Vec<u8>>,
    /// `None` once the client is gone (the upstream's input is closed).
    to_upstream: Option<mpsc::UnboundedSender<Vec<u8>>>,
    /// By the JSON text of the request id.
    pending: HashMap<String, Pending>,
    client_name: Option<String>,
}

impl Proxy {
    fn send_client(&self, message: &Json) {
        // `Value`'s `Display` is its JSON text and cannot fail: never an empty message.
        let _ = self.to_client.send(message.to_string().into_bytes());
    }

    fn send_upstream(&self, bytes: Vec<u8>) {
        if let Some(up) = &self.to_upstream {
            let _ = up.send(bytes);
        }
    }

    fn error(&self, id: &Json, code: i64, message: String) {
        self.send_client(&crate::mcp_core::error(id, code, &message));
    }

    /// The policy side of this proxy's run.
    fn judge(&self) -> Judge<'_> {
        Judge {
            gate: &self.options.gate,
            store: &*self.options.store,
            log: self.options.log.as_ref(),
            mode: self.options.mode,
            server: &self.options.server,
            run: &self.options.run,
            cwd: self.options.cwd.as_deref(),
            name: "writ mcp-proxy",
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().filter_map(|p| p.deadline).min()
    }

    /// The chain of this run: the identity, then the agent.
    fn chain(&self) -> Vec<Json> {
        let id = match (&self.options.agent, &self.client_name) {
            (Some(id), _) => id.clone(),
            (None, Some(name)) => format!("mcp-client/{name}"),
            (None, None) => "mcp-client".to_string(),
        };
        let mut attrs = Map::new();
        if let Some(name) = &self.client_name {
            attrs.insert("client".into(), Json::String(name.clone()));
        }
        vec![self.options.identity.clone(), json!({"id": id, "kind": "agent", "attrs": attrs})]
    }

    /// A client message over `--max-message-bytes`: never parsed, never forwarded.
    fn client_too_long(&self, length: usize) {
        eprintln!("writ mcp-proxy: refused a message of {length} bytes from the client");
        self.error(
            &Json::Null,
            INVALID_REQUEST,
            format!(
                "the message has {length} bytes, over the proxy's limit of {} \
                 (--max-message-bytes)",
                self.options.max_message_bytes
            ),
        );
    }

    fn on_client(&mut self, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let message = match crate::mcp_core::parse_client(line, "writ mcp-proxy") {
            Ok(m) => m,
            Err(e) => {
                eprintln!("writ mcp-proxy: refused a message from the client: {e}");
                return self.send_client(&e.answer());
            }
        };
        let method = message.get("method").and_then(Json::as_str).map(str::to_string);
        let id = message.get("id").filter(|id| !id.is_null()).cloned();
        match (method.as_deref(), id) {
            (Some("tools/call"), Some(id)) => self.call(line, &message, id),
            (Some("tools/call"), None) => {
                eprintln!("writ mcp-proxy: dropped a `tools/call` without an id (not forwarded)");
            }
            (Some(method), Some(id)) => {
                if method == "initialize" {
                    self.client_name = message
                        .get("params")
                        .and_then(|p| p.get("clientInfo"))
                        .and_then(|c| c.get("name"))
                        .and_then(Json::as_str)
                        .map(str::to_string);
                    if let Some(refusal) = self.judge().admit(&self.chain())
                        && self.options.mode == Mode::Enforce
                    {
                        return self.error(&id, NOT_ADMITTED, refusal);
                    }
                }
                self.forward_request(line, method, &id);
            }
            (Some(method), None) => {
                if method == "notifications/cancelled"
                    && let Some(request) = message.get("params").and_then(|p| p.get("requestId"))
                {
                    // The client no longer waits: neither a timeout error nor a late answer.
                    if let Some(key) = id_key(request) {
                        self.pending.remove(&key);
                    }
                }
                self.send_upstream(line.to_vec());
            }
            // A response to one of the upstream's requests (sampling, roots, elicitation).
            (None, _) => self.send_upstream(line.to_vec()),
        }
    }

    fn forward_request(&mut self, line: &[u8], method: &str, id: &Json) {
        let Some(key) = id_key(id) else {
            return self.error(
                id,
                INVALID_REQUEST,
                "a request id must be a string or an integer".into(),
            );
        };
        if self.pending.contains_key(&key) {
            return self.error(
                id,
                INVALID_REQUEST,
                format!("request id {key} is already in use by a request still being answered"),
            );
        }
        if self.to_upstream.is_none() {
            return;
        }
        // Only tool calls have a deadline: they are what writ decided on, and the ones a hung
        // upstream would otherwise leave undecided for the client. Other requests wait (the
        // client's own timeouts apply), so a slow start-up is never cut short.
        let deadline = (method == "tools/call").then(|| Instant::now() + self.options.timeout);
        self.pending.insert(key, Pending { method: method.to_string(), deadline });
        self.send_upstream(line.to_vec());
    }

    /// Decides a `tools/call`: forwards it on allow, answers it on anything else.
    fn call(&mut self, line: &[u8], message: &Map<String, Json>, id: Json) {
        let (name, arguments) = match crate::mcp_core::tool_call(message) {
            Ok(call) => call,
            Err(e) => return self.error(&id, e.code, e.message),
        };
        if id_key(&id).is_some_and(|key| self.pending.contains_key(&key)) {
            return self.error(
                &id,
                INVALID_REQUEST,
                format!("request id {id} is already in use by a request still being answered"),
            );
        }
        match self.judge().call(&self.chain(), &id, name, &arguments) {
            Verdict::Forward => self.forward_request(line, "tools/call", &id),
            Verdict::Answer(answer) => self.send_client(&answer),
        }
    }

    fn on_upstream(&mut self, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let message = match crate::strict::parse(line) {
            Ok(Json::Object(m)) => m,
            Ok(_) => {
                eprintln!(
                    "writ mcp-proxy: dropped a message from the upstream that is not one JSON object"
                );
                return;
            }
            Err(e) => {
                eprintln!("writ mcp-proxy: dropped a malformed message from the upstream: {e}");
                return;
            }
        };
        if message.contains_key("method") {
            // The upstream's own requests and notifications.
            let _ = self.to_client.send(line.to_vec());
            return;
        }
        let key = message.get("id").and_then(id_key).unwrap_or_default();
        let Some(pending) = self.pending.remove(&key) else {
            eprintln!(
                "writ mcp-proxy: dropped an answer from the upstream to request id {key}, which \
                 is not waiting for one (timed out, cancelled, or never sent)"
            );
            return;
        };
        if pending.method == "tools/list" && lists_tools(&message) {
            let mut message = message;
            self.judge().filter_tools(&self.chain(), &mut message);
            self.send_client(&Json::Object(message));
        } else {
            let _ = self.to_client.send(line.to_vec());
        }
    }

    /// Answers every request whose time is up, and tells the upstream to stop working on it.
    fn expire(&mut self) {
        let now = Instant::now();
        let expired: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline.is_some_and(|d| d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in expired {
            let Some(pending) = self.pending.remove(&key) else { continue };
            let id: Json = serde_json::from_str(&key).unwrap_or(Json::Null);
            let secs = self.options.timeout.as_secs_f64();
            let note = if pending.method == "tools/call" {
                " (the call was allowed and forwarded; it may or may not have run)"
            } else {
                ""
            };
            eprintln!("writ mcp-proxy: the upstream did not answer request {key} in {secs}s");
            self.error(
                &id,
                INTERNAL_ERROR,
                format!(
                    "the upstream MCP server did not answer `{}` within {secs}s{note}",
                    pending.method
                ),
            );
            let cancel = json!({
                "jsonrpc": "2.0",
                "method": "notifications/cancelled",
                "params": {"requestId": id, "reason": "writ mcp-proxy: timed out"},
            });
            self.send_upstream(cancel.to_string().into_bytes());
        }
    }

    /// The upstream closed its output: answer what it left unanswered, and stop.
    async fn upstream_gone(&mut self, child: &mut Child) -> u8 {
        self.to_upstream = None;
        let status = match tokio::time::timeout(Duration::from_secs(2), child.wait()).await {
            Ok(Ok(status)) => status.to_string(),
            _ => {
                let _ = child.kill().await;
                "closed its output".to_string()
            }
        };
        eprintln!("writ mcp-proxy: the upstream MCP server exited ({status})");
        for (key, pending) in std::mem::take(&mut self.pending) {
            let id: Json = serde_json::from_str(&key).unwrap_or(Json::Null);
            let note = if pending.method == "tools/call" {
                " (the call was allowed and forwarded; it may or may not have run)"
            } else {
                ""
            };
            self.error(
                &id,
                INTERNAL_ERROR,
                format!(
                    "the upstream MCP server exited ({status}) before answering `{}`{note}",
                    pending.method
                ),
            );
        }
        1
    }

    /// The client is gone: relay what the upstream still says (nobody may read it) until it
    /// exits, at most a few seconds, then end it.
    async fn drain(
        &mut self,
        from_upstream: &mut mpsc::UnboundedReceiver<Line>,
        child: &mut Child,
    ) -> u8 {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            tokio::select! {
                line = from_upstream.recv() => match line {
                    Some(Ok(line)) => self.on_upstream(&line),
                    Some(Err(_)) => {}
                    None => break,
                },
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        match tokio::time::timeout(Duration::from_secs(1), child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill().await;
            }
        }
        0
    }
}

pub use crate::mcp_core::refusal;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use writ_evaluator::Outcome;

    use super::*;
    use crate::names;

    const POLICY: &str = r#"
tool mcp.fs.read(path: string)
tool mcp.fs.write(path: string, size: int) [write]
evidence approval by human
role dev {
  may mcp.fs.*
}
workflow w {
  start by dev
  allow mcp.fs.read when path matches "/ok/*"
  allow mcp.fs.write when size < 10 require approval
  allow mcp.fs.write when path == "/ok/free"
}
"#;

    fn proxy() -> (Proxy, mpsc::UnboundedReceiver<Vec<u8>>, mpsc::UnboundedReceiver<Vec<u8>>) {
        let compiler = writ_compiler::Compiler::new(vec![("p.writ".into(), POLICY.into())]);
        let ir = compiler.compilation().policy.clone().expect("the test policy compiles");
        let (to_client, client) = mpsc::unbounded_channel();
        let (to_upstream, upstream) = mpsc::unbounded_channel();
        let options = Options {
            gate: Gate::new(ir, "w").unwrap(),
            identity: json!({"id": "ada", "kind": "human", "roles": ["dev"]}),
            agent: None,
            server: "fs".into(),
            timeout: Duration::from_secs(60),
            max_message_bytes: 4 * 1024 * 1024,
            log: None,
            command: Vec::new(),
            store: Box::new(crate::run::MemoryStore::default()),
            run: "test-run".into(),
            cwd: Some("/work".into()),
            mode: Mode::Enforce,
        };
        let proxy = Proxy {
            options,
            to_client,
            to_upstream: Some(to_upstream),
            pending: HashMap::new(),
            client_name: None,
        };
        (proxy, client, upstream)
    }

    /// A line a client might send: well-formed calls with arbitrary names, ids and arguments,
    /// other requests, and garbage.
    fn line() -> impl Strategy<Value = String> {
        let value = prop_oneof![
            any::<i64>().prop_map(|i| json!(i)),
            any::<bool>().prop_map(|b| json!(b)),
            "(/ok/|/etc/|)[a-z]{0,6}".prop_map(|s| json!(s)),
            Just(json!("/ok/free")),
            Just(json!(null)),
            Just(json!(1.5)),
            Just(json!(["/ok/x"])),
            Just(json!({"path": "/ok/x"})),
        ];
        let args = proptest::collection::btree_map(
            prop_oneof![Just("path".to_string()), Just("size".to_string()), "[a-z-]{1,5}"],
            value,
            0..4,
        );
        let name = prop_oneof![Just("read"), Just("write"), Just("delete"), Just("")];
        let id = prop_oneof![(0i64..5).prop_map(|i| json!(i)), Just(json!("a")), Just(json!(null))];
        let call = (id.clone(), name, args).prop_map(|(id, name, args)| {
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                   "params": {"name": name, "arguments": args}})
            .to_string()
        });
        let other =
            id.prop_map(|id| json!({"jsonrpc": "2.0", "id": id, "method": "ping"}).to_string());
        let garbage = prop_oneof![
            "[ -~]{0,40}",
            Just(r#"{"id": 1, "id": 2, "method": "tools/call"}"#.to_string()),
            Just(r#"[{"id": 1, "method": "tools/call"}]"#.to_string()),
            Just(
                r#"{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": []}"#.to_string()
            ),
        ];
        prop_oneof![4 => call, 1 => other, 1 => garbage]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Whatever the client sends, nothing panics, every `tools/call` that reaches the
        /// upstream is one the evaluator allows on exactly its arguments, and every call gets
        /// exactly one answer from the proxy or is forwarded.
        #[test]
        fn only_allowed_calls_are_forwarded(lines in proptest::collection::vec(line(), 1..20)) {
            let (mut proxy, mut client, mut upstream) = proxy();
            for l in &lines {
                proxy.on_client(l.as_bytes());
            }
            let gate = &proxy.options.gate;
            let chain = proxy.chain();
            while let Ok(sent) = upstream.try_recv() {
                let m: Json = serde_json::from_slice(&sent).expect("only JSON is forwarded");
                prop_assert!(lines.iter().any(|l| l.as_bytes() == &sent[..]), "forwarded unchanged");
                if m["method"] == "tools/call" {
                    let name = m["params"]["name"].as_str().unwrap();
                    let empty = Map::new();
                    let args = m["params"]["arguments"].as_object().unwrap_or(&empty);
                    let tool = names::mcp_tool("fs", name);
                    let j = gate.decide(&chain, &tool, args, Map::new(), Map::new()).unwrap();
                    prop_assert_eq!(j.decision.decision, Outcome::Allow, "{}", m);
                }
            }
            while let Ok(answer) = client.try_recv() {
                let m: Json = serde_json::from_slice(&answer).expect("answers are JSON");
                prop_assert!(m.get("result").is_some() != m.get("error").is_some());
            }
        }
    }

    #[test]
    fn a_refused_call_is_answered_and_not_forwarded() {
        let (mut proxy, mut client, mut upstream) = proxy();
        let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                          "params": {"name": "write", "arguments": {"path": "/x", "size": 3}}});
        proxy.on_client(call.to_string().as_bytes());
        assert!(upstream.try_recv().is_err());
        let answer: Json = serde_json::from_slice(&client.try_recv().unwrap()).unwrap();
        assert_eq!(answer["id"], 7);
        assert_eq!(answer["result"]["isError"], true);
        let text = answer["result"]["content"][0]["text"].as_str().unwrap();
        assert!(text.contains("1 approval (0 given)"), "{text}");

        let call = json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
                          "params": {"name": "read", "arguments": {"path": "/ok/a", "x": 1}}});
        proxy.on_client(call.to_string().as_bytes());
        assert_eq!(upstream.try_recv().unwrap(), call.to_string().into_bytes());
        assert!(client.try_recv().is_err());
        assert!(proxy.pending.contains_key("8"));
    }
}
