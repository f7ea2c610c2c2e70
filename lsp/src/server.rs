//! The `LanguageServer` implementation.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, MutexGuard};

use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use crate::convert::LineIndex;
use crate::diagnostics::program_diagnostics;
use crate::workspace::{FileId, Workspace};

/// The command a test's code lens runs: arguments are the document URI and the test's name.
pub const RUN_TEST_COMMAND: &str = "writ.runTest";

#[derive(Default)]
struct State {
    ws: Workspace,
    /// What was last published per document, so that unchanged lists are not sent again.
    published: HashMap<Uri, Vec<Diagnostic>>,
}

pub struct Backend {
    client: Client,
    state: Mutex<State>,
    /// Taken first by every notification that changes the workspace, so that edits are applied
    /// and their diagnostics published in the order the client sent them.
    order: tokio::sync::Mutex<()>,
}

/// Runs `f`, turning a panic into an internal error instead of a dead server.
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(Error::internal_error()))
}

impl Backend {
    pub fn new(client: Client) -> Backend {
        Backend { client, state: Mutex::new(State::default()), order: tokio::sync::Mutex::new(()) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Re-checks programs and publishes what changed; `edited` is always published (with its
    /// version) so that a client waiting for an edit's diagnostics gets an answer.
    async fn publish(&self, programs: Vec<usize>, cleared: Vec<Uri>, edited: Option<&Uri>) {
        let messages = {
            let mut state = self.lock();
            let state = &mut *state;
            let mut out = Vec::new();
            for uri in cleared {
                if state.published.remove(&uri).is_some_and(|d| !d.is_empty()) {
                    out.push(PublishDiagnosticsParams::new(uri, Vec::new(), None));
                }
            }
            let mut programs = programs;
            programs.sort_unstable();
            programs.dedup();
            for program in programs {
                if program >= state.ws.programs.len() {
                    continue;
                }
                let Ok(files) =
                    catch_unwind(AssertUnwindSafe(|| program_diagnostics(&state.ws, program)))
                else {
                    continue;
                };
                for (uri, diagnostics) in files {
                    let changed = state.published.get(&uri) != Some(&diagnostics);
                    if changed || edited == Some(&uri) {
                        let version = state.ws.open.get(&uri).map(|d| d.version);
                        state.published.insert(uri.clone(), diagnostics.clone());
                        out.push(PublishDiagnosticsParams::new(uri, diagnostics, version));
                    }
                }
            }
            out
        };
        for m in messages {
            self.client.publish_diagnostics(m.uri, m.diagnostics, m.version).await;
        }
    }

    /// Runs a query against the file of `uri` with its line index.
    fn with_file<T>(
        &self,
        uri: &Uri,
        f: impl FnOnce(&Workspace, FileId, &str, &LineIndex) -> Result<T>,
    ) -> Result<T> {
        let state = self.lock();
        let Some(id) = state.ws.locate(uri) else {
            return Err(Error::invalid_params(format!("unknown document `{}`", uri.as_str())));
        };
        let text = state.ws.text(id);
        let index = LineIndex::new(text);
        guarded(|| f(&state.ws, id, text, &index))
    }
}

fn apply_change(text: &mut String, change: &TextDocumentContentChangeEvent) {
    match change.range {
        None => *text = change.text.clone(),
        Some(range) => {
            let index = LineIndex::new(text);
            let span = index.span(text, range);
            text.replace_range(span.range(), &change.text);
        }
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let mut folders: Vec<std::path::PathBuf> = params
            .workspace_folders
            .unwrap_or_default()
            .iter()
            .filter_map(|f| f.uri.to_file_path().map(|p| p.into_owned()))
            .collect();
        #[allow(deprecated)]
        if folders.is_empty()
            && let Some(root) = params.root_uri.as_ref().and_then(|u| u.to_file_path())
        {
            folders.push(root.into_owned());
        }
        {
            let mut state = self.lock();
            for folder in folders {
                state.ws.add_folder(folder);
            }
        }
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                position_encoding: Some(PositionEncodingKind::UTF16),
                text_document_sync: Some(TextDocumentSyncCapability::Options(
                    TextDocumentSyncOptions {
                        open_close: Some(true),
                        change: Some(TextDocumentSyncKind::INCREMENTAL),
                        save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                        ..Default::default()
                    },
                )),
                ..Default::default()
            },
            server_info: Some(ServerInfo {
                name: "writ".to_string(),
                version: Some(env!("CARGO_PKG_VERSION").to_string()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        let _order = self.order.lock().await;
        let programs = (0..self.lock().ws.programs.len()).collect();
        self.publish(programs, Vec::new(), None).await;
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let _order = self.order.lock().await;
        let doc = params.text_document;
        let program = self.lock().ws.open(doc.uri.clone(), doc.version, doc.text);
        self.publish(vec![program], Vec::new(), Some(&doc.uri)).await;
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let _order = self.order.lock().await;
        let uri = params.text_document.uri;
        let version = params.text_document.version;
        let outcome = {
            let mut state = self.lock();
            match state.ws.open.get_mut(&uri) {
                None => Err(format!("change to `{}`, which is not open: ignored", uri.as_str())),
                Some(doc) if version <= doc.version => {
                    Err(format!("stale change (version {version}) to `{}`: ignored", uri.as_str()))
                }
                Some(doc) => {
                    doc.version = version;
                    let mut text = std::mem::take(&mut doc.text);
                    for change in &params.content_changes {
                        apply_change(&mut text, change);
                    }
                    doc.text = text.clone();
                    Ok(state.ws.set_text(uri.clone(), text))
                }
            }
        };
        let program = match outcome {
            Ok(program) => program,
            Err(message) => {
                self.client.log_message(MessageType::WARNING, message).await;
                return;
            }
        };
        self.publish(vec![program], Vec::new(), Some(&uri)).await;
    }

    async fn did_save(&self, _: DidSaveTextDocumentParams) {}

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let _order = self.order.lock().await;
        let uri = params.text_document.uri;
        let (cleared, program) = self.lock().ws.close(&uri);
        self.publish(program.into_iter().collect(), cleared, None).await;
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        let _order = self.order.lock().await;
        let mut programs = Vec::new();
        let mut cleared = Vec::new();
        {
            let mut state = self.lock();
            for change in &params.changes {
                let (c, p) = state.ws.disk_changed(&change.uri);
                cleared.extend(c);
                programs.extend(p);
            }
        }
        self.publish(programs, cleared, None).await;
    }
}
