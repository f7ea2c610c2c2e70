//! PLACEHOLDER until the `v2-request` branch lands: timestamps and history (LANGUAGE.md §10).

/// An instant, in nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i128);

/// One earlier call of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub tool: String,
    pub at: Option<Timestamp>,
}

/// `calls(...)` over the history: `None` when unknown.
pub fn count_calls(
    history: Option<&[HistoryEntry]>,
    now: Option<Timestamp>,
    within_seconds: Option<i64>,
    mut matches: impl FnMut(&str) -> bool,
) -> Option<i64> {
    let history = history?;
    let window = match within_seconds {
        None => None,
        Some(s) => Some((now?, i128::from(s) * 1_000_000_000)),
    };
    let mut n = 0i64;
    for entry in history {
        if !matches(&entry.tool) {
            continue;
        }
        match window {
            None => n += 1,
            Some((now, span)) => {
                let at = entry.at?;
                if now.0 - span < at.0 && at.0 <= now.0 {
                    n += 1;
                }
            }
        }
    }
    Some(n)
}
