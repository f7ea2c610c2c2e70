//! The writ language server.
//!
//! [`Backend`] implements tower-lsp-server's `LanguageServer` over a [`Workspace`]: the
//! compiler's salsa database with one program per workspace folder. The language knowledge
//! (what is at an offset, what it refers to, what may be typed there) lives in
//! `writ_compiler::ide`, which knows nothing of LSP; this crate converts between byte spans
//! and LSP positions (UTF-16) and between the compiler's answers and LSP messages.
//!
//! invariant: only this crate knows LSP types.
#![forbid(unsafe_code)]

mod convert;
mod diagnostics;
mod features;
pub mod framing;
mod server;
pub mod workspace;

pub use convert::{LineIndex, Positions};
pub use server::{Backend, RUN_TEST_COMMAND, VERIFY_COMMAND};
use tower_lsp_server::{ClientSocket, LspService, Server};
pub use workspace::Workspace;

/// The service and the socket for messages to the client, for embedding and in-process tests.
pub fn service() -> (LspService<Backend>, ClientSocket) {
    LspService::new(Backend::new)
}

/// Serves LSP over standard input and output until the client says `exit` (or closes the
/// stream). `Ok(true)`: a `shutdown` request came first, as the protocol asks; `Ok(false)`: it
/// did not, and the process should exit with status 1 (LSP 3.17, `exit`).
pub fn run_stdio() -> std::io::Result<bool> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let shut_down = runtime.block_on(serve(tokio::io::stdin(), tokio::io::stdout()));
    // Standard input is read on a blocking thread that may still wait for a message.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    Ok(shut_down)
}

/// Serves one LSP session from `input` to `output` (framed JSON-RPC) until the client says
/// `exit` or `input` ends; `true` when a `shutdown` request came first. Runs on the caller's
/// tokio runtime (it spawns tasks). The fuzz target `lsp_session` drives this with arbitrary
/// bytes.
pub async fn serve(
    input: impl tokio::io::AsyncRead + Send + Unpin + 'static,
    output: impl tokio::io::AsyncWrite + Send + Unpin + 'static,
) -> bool {
    let shut_down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = shut_down.clone();
    let (service, socket) =
        LspService::new(move |client| Backend::with_shutdown_flag(client, flag.clone()));
    // The client's messages are checked before the server sees them (`framing`): one that is
    // not a JSON-RPC message is answered with an error instead of ending the session.
    let (server_in, from_guard) = tokio::io::duplex(1 << 16);
    let (to_writer, server_out) = tokio::io::duplex(1 << 16);
    let (answers, queue) = tokio::sync::mpsc::unbounded_channel();
    let input = tokio::io::BufReader::new(input);
    tokio::spawn(framing::guard_input(input, server_in, answers.clone()));
    let server_out = tokio::io::BufReader::new(server_out);
    let writer = tokio::spawn(framing::write_output(server_out, answers, queue, output));
    Server::new(from_guard, to_writer, socket).serve(service).await;
    let _ = writer.await;
    shut_down.load(std::sync::atomic::Ordering::SeqCst)
}
