//! A bound on the work of one parse (added by writ; not in upstream brush-parser 0.4.0).
//!
//! The PEG grammars of this crate backtrack without memoization, so some inputs take time
//! exponential in their nesting (`echo $(+(i+(i+(i…"))))` with an unclosed quote deep inside:
//! each `(` can open an extended glob, a subshell or be plain text, and the failure at the
//! bottom makes the parser try every combination). A caller that parses untrusted text gives
//! each parse a number of steps with [`with_step_budget`]: every rule that can start a
//! backtracking alternative takes one step, and the step after the last unwinds out of the
//! parse at once. Unwinding, rather than failing the rule, means that running out can never
//! let another alternative match (a different parse), nor make peg's second pass for error
//! positions disagree with the first; and the word cache keeps only finished parses.

use std::cell::Cell;

thread_local! {
    /// Steps left to the parse running on this thread; `None` when no budget is set.
    static REMAINING: Cell<Option<u64>> = const { Cell::new(None) };
}

/// A parse ran out of the steps [`with_step_budget`] gave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhausted;

/// Runs `parse` with at most `steps` steps of the grammars' backtracking rules, on this thread,
/// returning what it returned and the steps left (for a caller that shares one budget between
/// several parses).
///
/// # Errors
/// [`Exhausted`] if the steps ran out (the parse was abandoned there). A panic inside `parse`
/// goes on unwinding.
pub fn with_step_budget<T>(steps: u64, parse: impl FnOnce() -> T) -> Result<(T, u64), Exhausted> {
    // Restores the enclosing budget however `parse` ends.
    struct Restore(Option<u64>);
    impl Drop for Restore {
        fn drop(&mut self) {
            REMAINING.set(self.0);
        }
    }
    let _restore = Restore(REMAINING.replace(Some(steps)));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)) {
        Ok(parsed) => Ok((parsed, REMAINING.get().unwrap_or(0))),
        Err(payload) if payload.is::<Exhausted>() => Err(Exhausted),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Takes one step of the running parse's budget, unwinding with [`Exhausted`] (without calling
/// the panic hook) when none is left.
pub(crate) fn step() {
    match REMAINING.get() {
        None => {}
        Some(0) => std::panic::resume_unwind(Box::new(Exhausted)),
        Some(left) => REMAINING.set(Some(left - 1)),
    }
}
