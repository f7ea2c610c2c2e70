//! The `LanguageServer` implementation.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use crate::convert::{LineIndex, Positions, whole};
use crate::diagnostics::program_diagnostics;
use crate::features::{self, analysis};
use crate::workspace::{FileId, Workspace};

/// The command a test's code lens runs: arguments are the document URI and the test's name.
pub const RUN_TEST_COMMAND: &str = "writ.runTest";

/// The command an assertion's code lens runs: arguments are the document URI and the
/// assertion's name. It answers each claim's verdict, with the counterexample request of a
/// claim that fails.
pub const VERIFY_COMMAND: &str = "writ.verifyAssertion";

#[derive(Default)]
struct State {
    ws: Workspace,
    /// What was last published per document, so that unchanged lists are not sent again.
    published: HashMap<Uri, Vec<Diagnostic>>,
    /// Whether each test passed when last run from its code lens, by document and name.
    test_results: HashMap<(Uri, String), bool>,
    /// What each assertion was found to be (`holds`, `fails`, `unknown`) when last verified
    /// from its code lens, by document and name.
    verify_results: HashMap<(Uri, String), &'static str>,
    /// The client asks to be told when code lenses change (`workspace/codeLens/refresh`).
    lens_refresh: bool,
}

pub struct Backend {
    client: Client,
    state: Mutex<State>,
    /// Taken by every notification that changes the workspace, after it has applied its change
    /// and before it publishes, so that diagnostics go out in the order the client sent edits.
    ///
    /// invariant: a notification changes the workspace before its first `.await`. tower-lsp
    /// polls each message's future for the first time in the order the messages arrived, so a
    /// request that follows an edit always sees it, however long an earlier publish is taking.
    /// (Waiting for this lock first let a completion run against the previous text.)
    order: tokio::sync::Mutex<()>,
    /// Set by `shutdown`: an `exit` before it ends the process with status 1 (LSP 3.17).
    shut_down: Arc<AtomicBool>,
}

/// Runs `f`, turning a panic into an internal error instead of a dead server.
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(Error::internal_error()))
}

impl Backend {
    pub fn new(client: Client) -> Backend {
        Backend::with_shutdown_flag(client, Arc::default())
    }

    /// A backend that sets `shut_down` when the client asks it to shut down, so that whoever
    /// runs the server can tell a clean `shutdown`/`exit` from an `exit` alone.
    pub fn with_shutdown_flag(client: Client, shut_down: Arc<AtomicBool>) -> Backend {
        Backend {
            client,
            state: Mutex::new(State::default()),
            order: tokio::sync::Mutex::new(()),
            shut_down,
        }
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
        let (Some(text), Some(index)) = (state.ws.text(id), state.ws.line_index(id)) else {
            return Err(Error::invalid_params(format!("unknown document `{}`", uri.as_str())));
        };
        guarded(|| f(&state.ws, id, text, index))
    }
}

impl Backend {
    /// `writ.verifyAssertion URI NAME`: verifies the assertion, shows the verdict (with the
    /// counterexample request of a claim that fails) and answers each claim's result as the
    /// JSON of `writ verify --format json`.
    async fn verify_assertion(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        let (uri, name) = match params.arguments.as_slice() {
            [serde_json::Value::String(uri), serde_json::Value::String(name)] => {
                (uri.clone(), name.clone())
            }
            _ => {
                return Err(Error::invalid_params(format!(
                    "`{VERIFY_COMMAND}` takes a document URI and an assertion name"
                )));
            }
        };
        let uri: Uri =
            uri.parse().map_err(|_| Error::invalid_params(format!("`{uri}` is not a URI")))?;
        let outcome = self.with_file(&uri, |ws, id, _, _| {
            let run = writ_compiler::ide::verify_assertion(&ws.db, id.policy, &name)
                .map_err(|e| Error::invalid_params(e.to_string()))?;
            let claims: Vec<serde_json::Value> = run
                .claims
                .iter()
                .map(|c| {
                    let mut j = c.json();
                    let line =
                        features::location(ws, id.program, c.location).map(|l| l.range.start.line);
                    if let Some(obj) = j.as_object_mut() {
                        obj.insert("text".into(), serde_json::json!(c.text));
                        obj.insert("line".into(), serde_json::json!(line));
                    }
                    j
                })
                .collect();
            Ok((run.word(), run.summary(), claims))
        });
        match outcome {
            Ok((word, summary, claims)) => {
                self.lock().verify_results.insert((uri, name.clone()), word);
                let kind = match word {
                    "holds" => MessageType::INFO,
                    "fails" => MessageType::ERROR,
                    _ => MessageType::WARNING,
                };
                self.client.show_message(kind, &summary).await;
                // The lenses' titles carry the verdict: ask the client to fetch them again (only
                // a client that said it answers; another would leave the request waiting).
                let refresh = self.lock().lens_refresh;
                if refresh {
                    let client = self.client.clone();
                    tokio::spawn(async move {
                        let _ = client.code_lens_refresh().await;
                    });
                }
                Ok(Some(serde_json::json!({
                    "name": name,
                    "result": word,
                    "summary": summary,
                    "claims": claims,
                })))
            }
            Err(e) => {
                self.client.show_message(MessageType::ERROR, &e.message).await;
                Err(e)
            }
        }
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
        let lens_refresh = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.code_lens.as_ref())
            .and_then(|c| c.refresh_support)
            .unwrap_or(false);
        self.lock().lens_refresh = lens_refresh;
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
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                definition_provider: Some(OneOf::Left(true)),
                references_provider: Some(OneOf::Left(true)),
                document_highlight_provider: Some(OneOf::Left(true)),
                rename_provider: Some(OneOf::Right(RenameOptions {
                    prepare_provider: Some(true),
                    work_done_progress_options: Default::default(),
                })),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some(
                        [".", " ", "(", "[", "\"", ","].iter().map(|s| s.to_string()).collect(),
                    ),
                    ..Default::default()
                }),
                document_formatting_provider: Some(OneOf::Left(true)),
                document_symbol_provider: Some(OneOf::Left(true)),
                workspace_symbol_provider: Some(OneOf::Left(true)),
                folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
                semantic_tokens_provider: Some(
                    SemanticTokensServerCapabilities::SemanticTokensOptions(
                        SemanticTokensOptions {
                            legend: SemanticTokensLegend {
                                token_types: features::TOKEN_TYPES.to_vec(),
                                token_modifiers: features::TOKEN_MODIFIERS.to_vec(),
                            },
                            full: Some(SemanticTokensFullOptions::Bool(true)),
                            range: None,
                            work_done_progress_options: Default::default(),
                        },
                    ),
                ),
                code_action_provider: Some(CodeActionProviderCapability::Options(
                    CodeActionOptions {
                        code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                        ..Default::default()
                    },
                )),
                code_lens_provider: Some(CodeLensOptions { resolve_provider: Some(false) }),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: vec![RUN_TEST_COMMAND.to_string(), VERIFY_COMMAND.to_string()],
                    ..Default::default()
                }),
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
        self.shut_down.store(true, Ordering::SeqCst);
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let doc = params.text_document;
        let program = self.lock().ws.open(doc.uri.clone(), doc.version, doc.text);
        let _order = self.order.lock().await;
        self.publish(vec![program], Vec::new(), Some(&doc.uri)).await;
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
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
        let _order = self.order.lock().await;
        self.publish(vec![program], Vec::new(), Some(&uri)).await;
    }

    async fn did_save(&self, _: DidSaveTextDocumentParams) {}

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        let (cleared, program) = self.lock().ws.close(&uri);
        let _order = self.order.lock().await;
        self.publish(program.into_iter().collect(), cleared, None).await;
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
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
        let _order = self.order.lock().await;
        self.publish(programs, cleared, None).await;
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let p = params.text_document_position_params;
        self.with_file(&p.text_document.uri, |ws, id, text, index| {
            let offset = index.offset(text, p.position);
            Ok(analysis(ws, id).hover(id.file, offset).map(|(span, value)| Hover {
                contents: HoverContents::Markup(MarkupContent {
                    kind: MarkupKind::Markdown,
                    value,
                }),
                range: Some(index.range(text, span)),
            }))
        })
    }

    async fn goto_definition(
        &self,
        params: GotoDefinitionParams,
    ) -> Result<Option<GotoDefinitionResponse>> {
        let p = params.text_document_position_params;
        self.with_file(&p.text_document.uri, |ws, id, text, index| {
            let offset = index.offset(text, p.position);
            let place = analysis(ws, id).definition(id.file, offset);
            Ok(place
                .and_then(|place| features::location(ws, id.program, place))
                .map(GotoDefinitionResponse::Scalar))
        })
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let p = params.text_document_position;
        let include = params.context.include_declaration;
        self.with_file(&p.text_document.uri, |ws, id, text, index| {
            let offset = index.offset(text, p.position);
            let places = analysis(ws, id).references(id.file, offset, include);
            Ok(Some(
                places
                    .into_iter()
                    .filter_map(|pl| features::location(ws, id.program, pl))
                    .collect(),
            ))
        })
    }

    async fn document_highlight(
        &self,
        params: DocumentHighlightParams,
    ) -> Result<Option<Vec<DocumentHighlight>>> {
        let p = params.text_document_position_params;
        self.with_file(&p.text_document.uri, |ws, id, text, index| {
            let offset = index.offset(text, p.position);
            let spans = analysis(ws, id).highlights(id.file, offset);
            Ok(Some(
                spans
                    .into_iter()
                    .map(|(span, def)| DocumentHighlight {
                        range: index.range(text, span),
                        kind: Some(if def {
                            DocumentHighlightKind::WRITE
                        } else {
                            DocumentHighlightKind::READ
                        }),
                    })
                    .collect(),
            ))
        })
    }

    async fn prepare_rename(
        &self,
        params: TextDocumentPositionParams,
    ) -> Result<Option<PrepareRenameResponse>> {
        self.with_file(&params.text_document.uri, |ws, id, text, index| {
            let offset = index.offset(text, params.position);
            match analysis(ws, id).prepare_rename(id.file, offset) {
                Ok((span, name)) => Ok(Some(PrepareRenameResponse::RangeWithPlaceholder {
                    range: index.range(text, span),
                    placeholder: name.to_string(),
                })),
                Err(message) => Err(Error::invalid_params(message)),
            }
        })
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        let p = params.text_document_position;
        self.with_file(&p.text_document.uri, |ws, id, text, index| {
            let offset = index.offset(text, p.position);
            match analysis(ws, id).rename(id.file, offset, &params.new_name) {
                Ok(edits) => Ok(Some(features::workspace_edit(ws, id.program, &edits))),
                Err(message) => Err(Error::invalid_params(message)),
            }
        })
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let p = params.text_document_position;
        self.with_file(&p.text_document.uri, |ws, id, text, index| {
            let offset = index.offset(text, p.position);
            let found = analysis(ws, id).completions(id.file, offset);
            let range = index.range(text, found.replace);
            let items = found
                .items
                .into_iter()
                .map(|c| CompletionItem {
                    kind: Some(features::completion_kind(c.kind)),
                    detail: c.detail,
                    text_edit: Some(CompletionTextEdit::Edit(TextEdit {
                        range,
                        new_text: c.insert.unwrap_or_else(|| c.label.clone()),
                    })),
                    label: c.label,
                    ..Default::default()
                })
                .collect();
            Ok(Some(CompletionResponse::Array(items)))
        })
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        self.with_file(&params.text_document.uri, |ws, id, text, _| {
            Ok(analysis(ws, id).format(id.file).map(|formatted| {
                if formatted == text {
                    Vec::new()
                } else {
                    vec![TextEdit { range: whole(text), new_text: formatted }]
                }
            }))
        })
    }

    async fn document_symbol(
        &self,
        params: DocumentSymbolParams,
    ) -> Result<Option<DocumentSymbolResponse>> {
        self.with_file(&params.text_document.uri, |ws, id, text, index| {
            let symbols = analysis(ws, id).document_symbols(id.file);
            Ok(Some(DocumentSymbolResponse::Nested(
                symbols.iter().map(|s| features::document_symbol(s, text, index)).collect(),
            )))
        })
    }

    async fn symbol(
        &self,
        params: WorkspaceSymbolParams,
    ) -> Result<Option<WorkspaceSymbolResponse>> {
        let state = self.lock();
        let ws = &state.ws;
        guarded(|| {
            let mut out = Vec::new();
            for (p, prog) in ws.programs.iter().enumerate() {
                let a = writ_compiler::ide::Analysis::new(&ws.db, prog.policy);
                for (file, s) in a.workspace_symbols(&params.query) {
                    let place = writ_compiler::diagnostic::Location { file, span: s.selection };
                    let Some(location) = features::location(ws, p, place) else { continue };
                    out.push(WorkspaceSymbol {
                        name: s.name,
                        kind: features::symbol_kind(s.kind),
                        tags: None,
                        container_name: Some(s.detail),
                        location: OneOf::Left(location),
                        data: None,
                    });
                }
            }
            Ok(Some(WorkspaceSymbolResponse::Nested(out)))
        })
    }

    async fn folding_range(&self, params: FoldingRangeParams) -> Result<Option<Vec<FoldingRange>>> {
        self.with_file(&params.text_document.uri, |ws, id, text, index| {
            let folds = analysis(ws, id).folds(id.file);
            Ok(Some(folds.into_iter().filter_map(|f| features::folding(f, text, index)).collect()))
        })
    }

    async fn semantic_tokens_full(
        &self,
        params: SemanticTokensParams,
    ) -> Result<Option<SemanticTokensResult>> {
        self.with_file(&params.text_document.uri, |ws, id, text, index| {
            let data = features::semantic_tokens(&analysis(ws, id), id.file, text, index);
            Ok(Some(SemanticTokensResult::Tokens(SemanticTokens { result_id: None, data })))
        })
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let uri = params.text_document.uri.clone();
        self.with_file(&uri, |ws, id, text, index| {
            let span = index.span(text, params.range);
            let fixes = analysis(ws, id).fixes(id.file, span);
            Ok(Some(
                fixes
                    .into_iter()
                    .map(|f| {
                        CodeActionOrCommand::CodeAction(CodeAction {
                            title: f.title,
                            kind: Some(CodeActionKind::QUICKFIX),
                            edit: Some(features::workspace_edit(ws, id.program, &f.edits)),
                            is_preferred: f.preferred.then_some(true),
                            ..Default::default()
                        })
                    })
                    .collect(),
            ))
        })
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        let uri = params.text_document.uri.clone();
        let (results, verified) = {
            let state = self.lock();
            (state.test_results.clone(), state.verify_results.clone())
        };
        self.with_file(&uri, |ws, id, text, index| {
            let a = analysis(ws, id);
            let lens = |span, title: &str, command: &str, name: &str| CodeLens {
                range: index.range(text, span),
                command: Some(Command {
                    title: title.to_string(),
                    command: command.to_string(),
                    arguments: Some(vec![serde_json::json!(uri.as_str()), serde_json::json!(name)]),
                }),
                data: None,
            };
            let mut out = Vec::new();
            for (name, span) in a.tests_in(id.file) {
                let title = match results.get(&(uri.clone(), name.clone())) {
                    Some(true) => "▶ run test (passed)",
                    Some(false) => "▶ run test (failed)",
                    None => "▶ run test",
                };
                out.push(lens(span, title, RUN_TEST_COMMAND, &name));
            }
            for (name, span) in a.asserts_in(id.file) {
                let title = match verified.get(&(uri.clone(), name.clone())) {
                    Some(word) => format!("✓ verify this assertion ({word})"),
                    None => "✓ verify this assertion".to_string(),
                };
                out.push(lens(span, &title, VERIFY_COMMAND, &name));
            }
            Ok(Some(out))
        })
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        if params.command == VERIFY_COMMAND {
            return self.verify_assertion(params).await;
        }
        if params.command != RUN_TEST_COMMAND {
            return Err(Error::invalid_params(format!("unknown command `{}`", params.command)));
        }
        let (uri, name) = match params.arguments.as_slice() {
            [serde_json::Value::String(uri), serde_json::Value::String(name)] => {
                (uri.clone(), name.clone())
            }
            _ => {
                return Err(Error::invalid_params(format!(
                    "`{RUN_TEST_COMMAND}` takes a document URI and a test name"
                )));
            }
        };
        let uri: Uri =
            uri.parse().map_err(|_| Error::invalid_params(format!("`{uri}` is not a URI")))?;
        let outcome = self.with_file(&uri, |ws, id, _, _| {
            let run = writ_compiler::ide::run_test(&ws.db, id.policy, &name)
                .map_err(|e| Error::invalid_params(e.to_string()))?;
            let expectations: Vec<serde_json::Value> = run
                .expectations
                .iter()
                .map(|e| {
                    let line =
                        features::location(ws, id.program, e.location).map(|l| l.range.start.line);
                    serde_json::json!({
                        "text": e.text,
                        "passed": e.passed,
                        "line": line,
                        "why": e.why,
                    })
                })
                .collect();
            Ok((run.passed, run.summary(), expectations))
        });
        match outcome {
            Ok((passed, summary, expectations)) => {
                self.lock().test_results.insert((uri, name.clone()), passed);
                let kind = if passed { MessageType::INFO } else { MessageType::ERROR };
                self.client.show_message(kind, &summary).await;
                Ok(Some(serde_json::json!({
                    "name": name,
                    "passed": passed,
                    "summary": summary,
                    "expectations": expectations,
                })))
            }
            Err(e) => {
                self.client.show_message(MessageType::ERROR, &e.message).await;
                Err(e)
            }
        }
    }
}
