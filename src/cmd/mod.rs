pub mod check;
pub mod diff;
pub mod eval;
pub mod fmt;
pub mod reach;
pub mod test;
