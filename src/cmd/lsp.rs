//! `writ lsp`: the language server, speaking LSP over standard input and output.

use crate::output::{self, FAILED, OK, USAGE};

/// Exit status 0 after `shutdown` then `exit`; 1 after an `exit` without `shutdown` (as LSP
/// 3.17 asks); 2 when the server cannot start.
pub fn run() -> u8 {
    match writ_lsp::run_stdio() {
        Ok(true) => OK,
        Ok(false) => FAILED,
        Err(e) => {
            output::error(format!("cannot start the language server: {e}"));
            USAGE
        }
    }
}
