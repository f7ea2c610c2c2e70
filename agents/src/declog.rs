//! Opening a decision log (`writ_evaluator::log`, hash-chained JSON Lines) to append to.
//!
//! A log file may be shared by several processes (each Claude Code hook call is one; parallel
//! tool calls run hooks at the same time), so every append takes a lock file beside the log
//! (`LOG.lock`, created exclusively, removed after the write), re-reads the last line's hash,
//! and writes its one line. A lock older than 30 seconds is taken to be left by a process that
//! died, and removed.

use std::fs::{File, OpenOptions};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use writ_evaluator::log::{DecisionLog, Mode, last_hash};

use crate::gate::Judgement;

/// A decision log file that every record appends to under the lock.
pub struct LogFile {
    path: PathBuf,
    mode: Mode,
}

impl LogFile {
    /// Checks that the log can be opened and that its last line is whole.
    /// Lines are marked with `mode` (`log-only` in shadow mode, see [`Mode`]).
    pub fn open(path: &Path, mode: Mode) -> Result<LogFile, String> {
        let log = LogFile { path: path.to_path_buf(), mode };
        log.with_lock(|_| Ok(()))?;
        Ok(log)
    }

    /// Appends one line for `judgement`; returns the decision id.
    pub fn record(&self, judgement: &Judgement) -> Result<String, String> {
        self.with_lock(|log| {
            let counted = judgement.evidence.as_ref().map_or(&[][..], |e| &e.counted[..]);
            let (request, decision) = (&judgement.decoded, &judgement.decision);
            let at = std::time::SystemTime::now();
            let id = uuid_v7();
            log.record_statements(request, decision, &decision.policy, at, &id, counted)
                .map(|()| id)
                .map_err(|e| e.to_string())
        })
    }

    fn with_lock<T>(
        &self,
        f: impl FnOnce(&mut DecisionLog<File>) -> Result<T, String>,
    ) -> Result<T, String> {
        let shown = self.path.display();
        let lock = lock_path(&self.path);
        let _guard = Lock::take(&lock).map_err(|e| {
            format!("cannot lock decision log `{shown}` (`{}`): {e}", lock.display())
        })?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&self.path)
            .map_err(|e| format!("cannot open decision log `{shown}`: {e}"))?;
        let prev =
            last_hash(BufReader::new(&file)).map_err(|e| format!("decision log `{shown}`: {e}"))?;
        let mut log = DecisionLog::resume(file, prev).with_mode(self.mode);
        let out = f(&mut log).map_err(|e| format!("cannot write decision log `{shown}`: {e}"))?;
        log.flush().map_err(|e| format!("cannot write decision log `{shown}`: {e}"))?;
        Ok(out)
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    path.with_file_name(name)
}

struct Lock(PathBuf);

impl Lock {
    fn take(path: &Path) -> std::io::Result<Lock> {
        let start = SystemTime::now();
        loop {
            match OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(_) => return Ok(Lock(path.to_path_buf())),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .is_some_and(|age| age > Duration::from_secs(30));
                    if stale {
                        let _ = std::fs::remove_file(path);
                        continue;
                    }
                    if start.elapsed().unwrap_or_default() > Duration::from_secs(10) {
                        return Err(std::io::Error::other("another writer held it for 10s"));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A decision id, as [`DecisionLog::record`] makes them (a UUID v7).
fn uuid_v7() -> String {
    writ_evaluator::log::new_decision_id()
}
