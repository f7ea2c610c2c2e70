pub mod check;
pub mod diff;
pub mod eval;
pub mod fmt;
pub mod lsp;
pub mod reach;
pub mod serve;
pub mod test;
