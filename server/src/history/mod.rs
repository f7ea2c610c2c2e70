//! Where `writ serve` keeps runs: which run ids were admitted (by a start the server allowed)
//! and each run's history of allowed calls, in memory (the default) or in Redis (shared by
//! replicas). `runs.rs` decides with it; this module only stores.
//!
//! Every store keeps the same promises (docs/server.md, "Runs"):
//!
//! - A run id names one run: [`Store::admit`] never replaces a live run.
//! - [`Store::call`] is atomic per run: the history it hands to the decision is the run's
//!   whole history at that moment, and the call it records is added only if no other call of
//!   the run was recorded in between (in memory: a lock per run; in Redis: a version checked
//!   by the script that records, with the decision retried on a conflict).
//! - Nothing outlives its use: a run is dropped at its expiry, and a call once no window of
//!   the policy can count it ([`Keep`]).
//! - A store that fails says so ([`StoreError`]); the caller denies.

mod memory;
mod redis;

use writ_evaluator::Timestamp;
use writ_evaluator::history::HistoryHorizon;
use writ_evaluator::request::HistoryEntry;

pub use memory::MemoryStore;
pub use redis::RedisStore;

/// The default cap on runs held in memory (`--max-runs`).
pub const DEFAULT_MAX_RUNS: usize = 100_000;

/// The default prefix of Redis keys (`--history-prefix`).
pub const DEFAULT_PREFIX: &str = "writ:";

/// Where runs are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryConfig {
    /// In this process, at most `max_runs` live runs at once.
    Memory { max_runs: usize },
    /// In Redis at `url` (`redis://host:port/db`), keys starting with `prefix`.
    Redis { url: String, prefix: String },
}

impl Default for HistoryConfig {
    fn default() -> HistoryConfig {
        HistoryConfig::Memory { max_runs: DEFAULT_MAX_RUNS }
    }
}

/// An admitted run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub workflow: String,
    /// The id of the chain's first principal on the start that admitted it.
    pub initiator: String,
    pub admitted: Timestamp,
    /// The run may make no call from this instant on.
    pub expires: Timestamp,
}

/// What a store knows of a run id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    Live(Run),
    /// Admitted, but past its expiry (and not yet dropped).
    Expired(Run),
    /// Never admitted, or dropped after it expired.
    Unknown,
}

/// What [`Store::admit`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// The run id names a live run already (this one): nothing changed.
    Taken(Run),
    /// The memory store holds its maximum of live runs.
    Full {
        max_runs: usize,
    },
}

/// Which entries of a run's history can still count, given the policy's [`HistoryHorizon`]
/// at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// No rule reads `calls(...)`: keep nothing.
    Nothing,
    /// Only entries after this instant (a window is `time - D < at <= time`).
    After(Timestamp),
    /// Every entry, for the run's life.
    All,
}

impl Keep {
    pub fn new(horizon: HistoryHorizon, now: Timestamp) -> Keep {
        match horizon {
            HistoryHorizon::Nothing => Keep::Nothing,
            HistoryHorizon::WholeRun => Keep::All,
            HistoryHorizon::Seconds(seconds) => {
                let cutoff = now.as_unix_nanos() - i128::from(seconds) * 1_000_000_000;
                Keep::After(Timestamp::from_unix_nanos(cutoff).unwrap_or(Timestamp::MIN))
            }
        }
    }

    /// Whether an entry made at `at` (an entry without a time is kept while anything is).
    pub fn keeps(self, at: Option<Timestamp>) -> bool {
        match (self, at) {
            (Keep::Nothing, _) => false,
            (Keep::All, _) | (Keep::After(_), None) => true,
            (Keep::After(cutoff), Some(at)) => at > cutoff,
        }
    }
}

/// What a decision made inside [`Store::call`] asks the store to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// Nothing: the call was not made.
    Nothing,
    /// The call of `tool` was made (answered allow) at `at`: add it to the run's history.
    /// `at` is the request's time, which must be no earlier than the history's last entry
    /// (see `runs::call_time`).
    Call { tool: String, at: Timestamp },
}

/// Why a store could not answer. The caller denies (fail closed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The store did not answer, or answered something unexpected.
    Unavailable(String),
    /// Other calls of the same run kept being recorded first (Redis only); nothing was
    /// recorded.
    Contended { attempts: u32 },
    /// A lock was poisoned (only a bug can cause it).
    Poisoned,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Unavailable(message) => write!(f, "the history store failed: {message}"),
            StoreError::Contended { attempts } => write!(
                f,
                "the history store was contended: other calls of the run were recorded first \
                 {attempts} times"
            ),
            StoreError::Poisoned => f.write_str("the history store's lock was poisoned"),
        }
    }
}

impl std::error::Error for StoreError {}

/// The store a server uses.
pub enum Store {
    Memory(MemoryStore),
    Redis(RedisStore),
}

impl Store {
    /// Opens the store; for Redis, connects and checks the server answers.
    pub async fn open(config: &HistoryConfig) -> Result<Store, String> {
        match config {
            HistoryConfig::Memory { max_runs } => Ok(Store::Memory(MemoryStore::new(*max_runs))),
            HistoryConfig::Redis { url, prefix } => {
                Ok(Store::Redis(RedisStore::connect(url, prefix).await?))
            }
        }
    }

    /// `memory` or `redis`.
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Memory(_) => "memory",
            Store::Redis(_) => "redis",
        }
    }

    /// Runs held (memory only; Redis keys expire on their own).
    pub fn runs_held(&self) -> Option<usize> {
        match self {
            Store::Memory(store) => Some(store.len()),
            Store::Redis(_) => None,
        }
    }

    /// Admits `id` as `run` unless it names a live run (an expired run's id starts over, its
    /// history empty).
    pub async fn admit(
        &self,
        id: &str,
        run: &Run,
        now: Timestamp,
    ) -> Result<Admission, StoreError> {
        match self {
            Store::Memory(store) => store.admit(id, run, now),
            Store::Redis(store) => store.admit(id, run, now).await,
        }
    }

    pub async fn lookup(&self, id: &str, now: Timestamp) -> Result<Lookup, StoreError> {
        match self {
            Store::Memory(store) => store.lookup(id, now),
            Store::Redis(store) => store.lookup(id, now).await,
        }
    }

    /// Decides a call of run `id` at `now`, atomically: `decide` sees what the store knows of
    /// the run and its history (the entries `keep` keeps, oldest first; empty unless the run
    /// is live), and its [`Record`] is applied before any other call of the run is decided.
    /// `decide` may be called more than once (Redis retries it on a conflict); only the last
    /// call's answer counts.
    pub async fn call<T>(
        &self,
        id: &str,
        now: Timestamp,
        keep: Keep,
        decide: impl FnMut(&Lookup, &[HistoryEntry<'static>]) -> (T, Record),
    ) -> Result<T, StoreError> {
        match self {
            Store::Memory(store) => store.call(id, now, keep, decide),
            Store::Redis(store) => store.call(id, now, keep, decide).await,
        }
    }
}
