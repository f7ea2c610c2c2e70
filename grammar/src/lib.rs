//! The writ language's syntax: a pest grammar, a parser that never fails, the syntax tree with
//! spans, and the canonical formatter.

pub mod ast;
