//! What one run of a query lends the next: kept beside a salsa input, used only to go faster.

use std::sync::{Arc, Mutex, MutexGuard};

/// State a query keeps for its next run beside a salsa input (the parser's unchanged
/// declarations, the checker's memo). Never set by callers, and invisible to salsa: any two
/// are equal, so holding one never makes an input look changed.
///
/// invariant: what a `Lent` holds changes how fast its query runs, never what it returns.
#[derive(Default)]
pub struct Lent<T>(Arc<Mutex<T>>);

impl<T> Clone for Lent<T> {
    fn clone(&self) -> Self {
        Lent(Arc::clone(&self.0))
    }
}

impl<T> std::fmt::Debug for Lent<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lent")
    }
}

/// Any two are equal: what a `Lent` holds never changes what its query returns.
impl<T> PartialEq for Lent<T> {
    fn eq(&self, _: &Lent<T>) -> bool {
        true
    }
}

impl<T> Eq for Lent<T> {}

impl<T: Default> Lent<T> {
    /// The state, for one run of the query. A run that panicked while holding it (a
    /// cancelled query) may have left it half updated: it starts again from empty.
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|poisoned| {
            let mut guard = poisoned.into_inner();
            *guard = T::default();
            guard
        })
    }
}
