//! Drives the language server in process: LSP messages in through `LspService`, everything
//! the server sends to the client collected in order.

#![allow(dead_code)]

use futures::{FutureExt, StreamExt};
use serde_json::{Value, json};
use tower::{Service, ServiceExt};
use tower_lsp_server::jsonrpc::Request;
use tower_lsp_server::{ClientSocket, LspService};
use writ_lsp::Backend;

pub struct Harness {
    service: LspService<Backend>,
    socket: ClientSocket,
    next_id: i64,
    /// Messages from the server (notifications and requests), oldest first, not yet taken.
    pub inbox: Vec<Value>,
    pub dir: tempfile::TempDir,
    root_uri: String,
}

impl Harness {
    /// A server whose workspace folder holds `files` (relative path, text).
    pub async fn start(files: &[(&str, &str)]) -> Harness {
        let dir = tempfile::tempdir().expect("temporary directory");
        for (path, text) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
        let root = dir.path().canonicalize().unwrap();
        let root_uri = format!("file://{}", root.display());
        let (service, socket) = writ_lsp::service();
        let mut h = Harness { service, socket, next_id: 0, inbox: Vec::new(), dir, root_uri };
        let root_uri = h.root_uri.clone();
        let result = h
            .request(
                "initialize",
                json!({
                    "capabilities": {},
                    "workspaceFolders": [{"uri": root_uri, "name": "ws"}],
                }),
            )
            .await;
        assert!(result.get("capabilities").is_some(), "{result}");
        h.notify("initialized", json!({})).await;
        h
    }

    /// The URI of a file in the workspace folder.
    pub fn uri(&self, path: &str) -> String {
        format!("{}/{path}", self.root_uri)
    }

    /// Replaces the workspace folder's URI with `file:///ws` so that snapshots are stable.
    pub fn redact(&self, v: Value) -> Value {
        let text = v.to_string().replace(&self.root_uri, "file:///ws");
        serde_json::from_str(&text).unwrap()
    }

    async fn call(&mut self, request: Request) -> Option<Value> {
        let service = self.service.ready().await.expect("service ready");
        let fut = service.call(request);
        tokio::pin!(fut);
        let response = loop {
            tokio::select! {
                r = &mut fut => break r,
                Some(m) = self.socket.next() => self.inbox.push(serde_json::to_value(m).unwrap()),
            }
        };
        while let Some(Some(m)) = self.socket.next().now_or_never() {
            self.inbox.push(serde_json::to_value(m).unwrap());
        }
        response.expect("server alive").map(|r| serde_json::to_value(r).unwrap())
    }

    /// Hands `messages` (method, params; requests when `Some(id)`) to the server the way the
    /// transport does: each future is created and polled once, in arrival order, before any
    /// of them is driven further, and nothing the server sends is read in the meantime. Then
    /// everything is driven to the end, reading the client socket. Returns the answers in order.
    pub async fn burst(
        &mut self,
        messages: Vec<(&'static str, Value, bool)>,
    ) -> Vec<Option<Value>> {
        let mut futures = Vec::new();
        for (method, params, is_request) in messages {
            let mut builder = Request::build(method).params(params);
            if is_request {
                self.next_id += 1;
                builder = builder.id(self.next_id);
            }
            let service = self.service.ready().await.expect("service ready");
            let mut fut = service.call(builder.finish());
            let first = futures::poll!(&mut fut);
            futures.push((fut, first));
        }
        let mut out = Vec::new();
        for (mut fut, first) in futures {
            let response = match first {
                std::task::Poll::Ready(r) => r,
                std::task::Poll::Pending => loop {
                    tokio::select! {
                        r = &mut fut => break r,
                        Some(m) = self.socket.next() => self.inbox.push(serde_json::to_value(m).unwrap()),
                    }
                },
            };
            out.push(response.expect("server alive").map(|r| serde_json::to_value(r).unwrap()));
        }
        while let Some(Some(m)) = self.socket.next().now_or_never() {
            self.inbox.push(serde_json::to_value(m).unwrap());
        }
        out
    }

    /// Sends a request; returns its `result`, or `{"error": ...}`.
    pub async fn request(&mut self, method: &'static str, params: Value) -> Value {
        self.next_id += 1;
        let req = Request::build(method).id(self.next_id).params(params).finish();
        let response = self.call(req).await.expect("a response");
        match response.get("error") {
            Some(e) => json!({ "error": e }),
            None => response["result"].clone(),
        }
    }

    pub async fn notify(&mut self, method: &'static str, params: Value) {
        let req = Request::build(method).params(params).finish();
        assert!(self.call(req).await.is_none());
    }

    pub async fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "writ", "version": 1, "text": text}}),
        )
        .await;
    }

    pub async fn change(&mut self, uri: &str, version: i32, changes: Value) {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": changes}),
        )
        .await;
    }

    /// Takes every `textDocument/publishDiagnostics` received so far (redacted).
    pub fn take_diagnostics(&mut self) -> Vec<Value> {
        let (diags, rest): (Vec<Value>, Vec<Value>) = std::mem::take(&mut self.inbox)
            .into_iter()
            .partition(|m| m["method"] == "textDocument/publishDiagnostics");
        self.inbox = rest;
        diags.into_iter().map(|m| self.redact(m["params"].clone())).collect()
    }

    /// The last diagnostics published for `uri` so far (draining the inbox of diagnostics).
    pub fn last_diagnostics(&mut self, uri: &str) -> Option<Value> {
        let uri = self.redact(json!(uri));
        self.take_diagnostics().into_iter().rev().find(|p| p["uri"] == uri)
    }

    /// A position-based request on `uri`.
    pub async fn at(
        &mut self,
        method: &'static str,
        uri: &str,
        line: u32,
        character: u32,
    ) -> Value {
        let r = self
            .request(
                method,
                json!({
                    "textDocument": {"uri": uri},
                    "position": {"line": line, "character": character},
                    "context": {"includeDeclaration": true},
                }),
            )
            .await;
        self.redact(r)
    }
}

/// The (line, UTF-16 column) of the first occurrence of `needle` in `text`, plus `delta` characters.
pub fn pos(text: &str, needle: &str, delta: usize) -> (u32, u32) {
    let offset = text.find(needle).unwrap_or_else(|| panic!("`{needle}` not in text")) + delta;
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line as u32, before[start..].encode_utf16().count() as u32)
}

/// The value with every object's keys in order (for maps the server builds from hash maps).
pub fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}
