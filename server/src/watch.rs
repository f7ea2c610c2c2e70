//! Reloads when the policy files, the bundle or the verification key change.
//!
//! A file is watched through its directory (editors and `mv` replace files, which a watch on
//! the file itself would lose); a policy directory is watched recursively. Events are debounced:
//! after the first, the watcher waits [`QUIET`] for more, then reloads once.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::state::State;

/// How long changes must pause before a reload.
pub const QUIET: Duration = Duration::from_millis(200);

/// What is watched, and whether an event's path is one of them.
#[derive(Clone, Debug)]
struct Target {
    /// A file (matched by its name inside `dir`), or a directory (everything under it).
    path: PathBuf,
    is_dir: bool,
}

impl Target {
    fn matches(&self, path: &Path) -> bool {
        if self.is_dir {
            path.starts_with(&self.path)
        } else {
            // Kubernetes projects config maps and secrets through `..data`, a symbolic link
            // replaced by rename: a change of it is a change of every file in the directory.
            let kubernetes =
                path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(".."));
            (path.file_name() == self.path.file_name() || kubernetes)
                && path.parent().map(absolute) == self.path.parent().map(absolute)
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    let path = if path.as_os_str().is_empty() { Path::new(".") } else { path };
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Whether the event can change what a load reads (opening or reading a file cannot).
fn relevant(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Starts watching; `None` (after a warning) when the platform cannot watch these paths.
pub fn start(state: Arc<State>) -> Option<RecommendedWatcher> {
    let targets: Vec<Target> = state
        .source
        .watched()
        .into_iter()
        .map(|p| {
            let path = absolute(&p);
            Target { is_dir: path.is_dir(), path }
        })
        .collect();
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let filter = targets.clone();
    let handler = move |event: notify::Result<notify::Event>| {
        let wanted = match &event {
            Ok(event) => {
                relevant(&event.kind)
                    && (event.paths.is_empty()
                        || event.paths.iter().any(|p| filter.iter().any(|t| t.matches(p))))
            }
            // The watcher lost events (an overflow, say): reload to be sure.
            Err(_) => true,
        };
        if wanted {
            let _ = tx.send(());
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("writ serve: warning: cannot watch the policy for changes: {e}");
            return None;
        }
    };
    for target in &targets {
        let (dir, mode) = if target.is_dir {
            (target.path.clone(), RecursiveMode::Recursive)
        } else {
            (
                target.path.parent().map(Path::to_path_buf).unwrap_or_default(),
                RecursiveMode::NonRecursive,
            )
        };
        if let Err(e) = watcher.watch(&dir, mode) {
            eprintln!("writ serve: warning: cannot watch `{}` for changes: {e}", dir.display());
        }
    }
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Debounce: wait until changes pause, then reload once.
            loop {
                tokio::time::sleep(QUIET).await;
                let mut more = false;
                while rx.try_recv().is_ok() {
                    more = true;
                }
                if !more {
                    break;
                }
            }
            state.reload("the policy changed").await;
        }
    });
    Some(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_match_by_name_in_their_directory() {
        let file = Target { path: PathBuf::from("/p/policy.writ"), is_dir: false };
        assert!(file.matches(Path::new("/p/policy.writ")));
        assert!(!file.matches(Path::new("/p/other.writ")));
        assert!(!file.matches(Path::new("/q/policy.writ")));
        assert!(file.matches(Path::new("/p/..data")));
        let dir = Target { path: PathBuf::from("/p"), is_dir: true };
        assert!(dir.matches(Path::new("/p/sub/x.writ")));
        assert!(!dir.matches(Path::new("/pq/x.writ")));
    }

    #[test]
    fn reading_is_not_a_change() {
        assert!(!relevant(&EventKind::Access(AccessKind::Open(AccessMode::Any))));
        assert!(!relevant(&EventKind::Access(AccessKind::Close(AccessMode::Read))));
        assert!(relevant(&EventKind::Access(AccessKind::Close(AccessMode::Write))));
        assert!(relevant(&EventKind::Create(notify::event::CreateKind::File)));
    }
}
