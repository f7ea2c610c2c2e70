//! The writ compiler.
