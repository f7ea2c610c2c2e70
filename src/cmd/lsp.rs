//! `writ lsp`: the language server, speaking LSP over standard input and output.

use crate::output::{self, OK, USAGE};

pub fn run() -> u8 {
    match writ_lsp::run_stdio() {
        Ok(()) => OK,
        Err(e) => {
            output::error(format!("cannot start the language server: {e}"));
            USAGE
        }
    }
}
