//! The writ evaluator: the compiled policy, requests, decisions and `decide`.
//!
//! Depends on neither pest, salsa nor miette, so that a gateway can embed it cheaply.
#![forbid(unsafe_code)]

pub mod ir;
