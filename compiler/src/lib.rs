//! The writ compiler: a salsa database whose inputs are a policy's source files, with queries
//! for parsing, name resolution, type checking, lints and lowering to the evaluator's IR.
//! Diagnostics are data inside the database and miette [`miette::Diagnostic`]s when rendered.
#![forbid(unsafe_code)]

mod check;
pub mod db;
pub mod diagnostic;
pub mod ide;
mod lent;
mod lints;
pub mod load;
pub mod reach;
mod symbols;
pub mod test_blocks;
mod types;
pub mod verify;

pub use db::{
    Compilation, Compiler, Database, PolicyFile, PolicyInput, compile, parse, policy_hash,
};
pub use diagnostic::{Code, Diagnostic, JsonDiagnostic, Report, Severity, SourceText};
pub use load::{LoadError, compile_files, compile_path, load};
