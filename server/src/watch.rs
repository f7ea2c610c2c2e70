//! Reloads when the policy files, the bundle or the verification key change.
//!
//! A file is watched through its directory (editors and `mv` replace files, which a watch on
//! the file itself would lose); a policy directory is watched recursively. Events are debounced:
//! after the first, the watcher waits [`QUIET`] for more, then reloads once.
//!
//! Where the platform reports closes (Linux), a file a load reads that was written to and not
//! yet closed is being written: the reload waits for it to be closed (at most
//! [`WRITING_LIMIT`]), so a file written in parts with pauses between is not loaded half
//! written. The load itself then reads the files until two reads agree
//! ([`crate::source::SETTLE`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::state::State;

/// How long changes must pause before a reload.
pub const QUIET: Duration = Duration::from_millis(200);
/// How long a reload waits, at most, for changes to stop and files being written to be closed.
pub const WRITING_LIMIT: Duration = Duration::from_secs(10);
/// Whether the platform's watcher reports files closed after writing (inotify does).
const REPORTS_CLOSES: bool = cfg!(any(target_os = "linux", target_os = "android"));

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

    /// Whether a load reads `path` (an editor's swap file in a policy directory, say, is not).
    fn read_by_load(&self, path: &Path) -> bool {
        if self.is_dir {
            path.starts_with(&self.path) && path.extension().is_some_and(|e| e == "writ")
        } else {
            path.file_name() == self.path.file_name()
                && path.parent().map(absolute) == self.path.parent().map(absolute)
        }
    }
}

/// The files a load reads that are being written: written to, and not closed since.
#[derive(Default)]
struct Writing(HashSet<PathBuf>);

impl Writing {
    /// Takes in an event on `targets`; whether any file is being written after it.
    fn event(&mut self, kind: &EventKind, paths: &[PathBuf], targets: &[Target]) -> bool {
        if REPORTS_CLOSES {
            for path in paths.iter().filter(|p| targets.iter().any(|t| t.read_by_load(p))) {
                match kind {
                    EventKind::Modify(ModifyKind::Data(_)) => {
                        self.0.insert(path.clone());
                    }
                    // Closed, removed, or renamed away: no longer written through this name.
                    EventKind::Access(AccessKind::Close(AccessMode::Write))
                    | EventKind::Remove(_)
                    | EventKind::Modify(ModifyKind::Name(_)) => {
                        self.0.remove(path);
                    }
                    _ => {}
                }
            }
        }
        !self.0.is_empty()
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
    // Each message: whether a file a load reads is being written.
    let (tx, mut rx) = mpsc::unbounded_channel::<bool>();
    let filter = targets.clone();
    let mut writing = Writing::default();
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
            let busy = match &event {
                Ok(event) => writing.event(&event.kind, &event.paths, &filter),
                Err(_) => !writing.0.is_empty(),
            };
            let _ = tx.send(busy);
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
        while let Some(mut busy) = rx.recv().await {
            // Debounce: wait until changes pause and no file is being written, then reload
            // once; after `WRITING_LIMIT`, reload anyway (the load still needs two reads that
            // agree).
            let first = tokio::time::Instant::now();
            loop {
                match tokio::time::timeout(QUIET, rx.recv()).await {
                    Ok(None) => return,
                    Ok(Some(now)) => busy = now,
                    Err(_) if !busy => break,
                    Err(_) => {}
                }
                if first.elapsed() >= WRITING_LIMIT {
                    if busy {
                        eprintln!(
                            "writ serve: warning: a policy file is still open for writing after \
                             {} s; loading it anyway",
                            WRITING_LIMIT.as_secs()
                        );
                    }
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
    fn a_file_written_and_not_closed_is_being_written() {
        use notify::event::{DataChange, RemoveKind};
        let dir = Target { path: PathBuf::from("/p"), is_dir: true };
        let targets = [dir];
        let policy = vec![PathBuf::from("/p/a.writ")];
        let swap = vec![PathBuf::from("/p/.a.writ.swp")];
        let written = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        let closed = EventKind::Access(AccessKind::Close(AccessMode::Write));
        let mut writing = Writing::default();
        assert!(!writing.event(&written, &swap, &targets), "not read by a load");
        assert_eq!(writing.event(&written, &policy, &targets), REPORTS_CLOSES);
        assert_eq!(writing.event(&written, &policy, &targets), REPORTS_CLOSES);
        assert!(!writing.event(&closed, &policy, &targets));
        writing.event(&written, &policy, &targets);
        assert!(!writing.event(&EventKind::Remove(RemoveKind::File), &policy, &targets));
    }

    #[test]
    fn reading_is_not_a_change() {
        assert!(!relevant(&EventKind::Access(AccessKind::Open(AccessMode::Any))));
        assert!(!relevant(&EventKind::Access(AccessKind::Close(AccessMode::Read))));
        assert!(relevant(&EventKind::Access(AccessKind::Close(AccessMode::Write))));
        assert!(relevant(&EventKind::Create(notify::event::CreateKind::File)));
    }
}
