//! The writ language server.
//!
//! [`Backend`] implements tower-lsp-server's `LanguageServer` over a [`Workspace`]: the
//! compiler's salsa database with one program per workspace folder. The language knowledge
//! (what is at an offset, what it refers to, what may be typed there) lives in
//! `writ_compiler::ide`, which knows nothing of LSP; this crate converts between byte spans
//! and LSP positions (UTF-16) and between the compiler's answers and LSP messages.
//!
//! invariant: only this crate knows LSP types.

mod convert;
mod diagnostics;
mod features;
mod server;
pub mod workspace;

pub use convert::LineIndex;
pub use server::{Backend, RUN_TEST_COMMAND};
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
    let shut_down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = shut_down.clone();
    runtime.block_on(async move {
        let (service, socket) =
            LspService::new(move |client| Backend::with_shutdown_flag(client, flag.clone()));
        Server::new(tokio::io::stdin(), tokio::io::stdout(), socket).serve(service).await;
    });
    Ok(shut_down.load(std::sync::atomic::Ordering::SeqCst))
}
