//! Runs: binding an agent's calls to an admitted run, and the run's history (LANGUAGE.md §10).
//!
//! writ decides without state; the gateway keeps it. For every call of a run, [`RunGate::call`]
//!
//! 1. makes sure the run was **admitted**: its workflow's start was decided `allow` for the
//!    accountable identity (cached in the store until the start's `ttl_seconds` run out or the
//!    policy changes; then decided again). A call of a run whose start is denied or pending is
//!    denied, naming the start's reasons;
//! 2. reads the run's **history** from the store and sends it, with `time` (the gateway's clock,
//!    never the agent's), in the request;
//! 3. decides, and when the call is answered allow, **records** it (`{tool, at: time}`),
//!    all in one store transaction, so that parallel calls of one run (Claude Code runs
//!    parallel tool calls' hooks at once) cannot both pass a `calls(deploy within 24h) < 3`.
//!
//! Stores ([`RunStore`]): [`MemoryStore`] for one process (the proxy's default), [`SqliteStore`]
//! for many processes sharing a state directory (each hook call is its own process). Both keep
//! only what the policy can read ([`Retention`]): entries older than its longest `calls` window
//! (or a day, whichever is longer) are dropped, runs idle past the idle limit are forgotten.
//!
//! invariant: a call is answered allow only inside a store transaction that records it; a store
//! that cannot be read or written denies the call.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};
use writ_evaluator::history::HistoryHorizon;
use writ_evaluator::log::Mode;
use writ_evaluator::{Decision, Outcome, Request, Timestamp};

use crate::gate::{Gate, Judgement, missing_text};

/// The most calls a run's history holds; past it, calls are denied (never silently forgotten,
/// which would undercount a `calls(...)` limit).
pub const MAX_CALLS_PER_RUN: usize = 100_000;

/// How long a run that makes no call is remembered (default).
pub const DEFAULT_IDLE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The shortest time recorded calls are kept, whatever the policy reads: a policy reloaded with
/// a new `calls(... within 24h)` sees the last day.
pub const MIN_KEEP: Duration = Duration::from_secs(24 * 3600);

/// One recorded call: the history entry of §10, and the agent's id for it (Claude Code's
/// `tool_use_id`, a JSON-RPC id), so that the same call is never recorded twice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedCall {
    pub tool: String,
    /// Unix nanoseconds.
    pub at: i64,
    pub call_id: Option<String>,
}

/// A run's admission: the start decision that let it begin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admission {
    /// The hash of the policy that admitted it: another policy decides the start again.
    pub policy: String,
    pub workflow: String,
    /// The accountable principal's id.
    pub initiator: String,
    /// Unix nanoseconds; past it the start is decided again.
    pub expires_at: i64,
    /// The start rules that admitted it.
    pub rules: Vec<String>,
}

/// What a store holds of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunRecord {
    pub admission: Option<Admission>,
    /// Oldest first.
    pub calls: Vec<RecordedCall>,
}

impl RunRecord {
    /// `now`, or the time of the run's latest recorded call if that is later: the run's clock
    /// never goes back. (A process whose clock read came before another's, but whose
    /// transaction came after, would otherwise see that call in its future, and not count it
    /// in a window.)
    pub fn clock(&self, now: i64) -> i64 {
        self.calls.iter().map(|c| c.at).fold(now, i64::max)
    }
}

/// What a transaction changes in a run.
#[derive(Clone, Debug, Default)]
pub struct RunUpdate {
    pub admit: Option<Admission>,
    pub record: Option<RecordedCall>,
}

/// What is kept: calls newer than `keep` before now, runs active within `idle`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// `None`: the whole run (the policy has a `calls(...)` without a window).
    pub keep: Option<Duration>,
    pub idle: Duration,
}

impl Retention {
    /// What a policy can read: its [`HistoryHorizon`], at least [`MIN_KEEP`].
    pub fn for_policy(gate: &Gate, idle: Duration) -> Retention {
        let keep = match gate.policy.history_horizon() {
            HistoryHorizon::WholeRun => None,
            HistoryHorizon::Seconds(s) => {
                Some(Duration::from_secs(u64::try_from(s).unwrap_or(0)).max(MIN_KEEP))
            }
            HistoryHorizon::Nothing => Some(MIN_KEEP),
        };
        Retention { keep, idle }
    }

    fn oldest_kept(&self, now: i64) -> i64 {
        match self.keep {
            Some(keep) => now.saturating_sub(nanos(keep)),
            None => i64::MIN,
        }
    }

    fn idle_before(&self, now: i64) -> i64 {
        now.saturating_sub(nanos(self.idle))
    }
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// A store failure: the call it was for is denied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError {
    pub message: String,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the run store failed: {}", self.message)
    }
}

/// Where runs live.
pub trait RunStore: Send + Sync {
    /// Reads `run` (as `retention` keeps it, at `now` in unix nanoseconds), lets `decide` look
    /// at it, and applies its update, all under one lock or transaction on the run.
    fn transact(
        &self,
        run: &str,
        now: i64,
        retention: Retention,
        decide: &mut dyn FnMut(&RunRecord) -> RunUpdate,
    ) -> Result<(), StoreError>;
}

/// Runs in this process's memory (one proxy session).
#[derive(Default)]
pub struct MemoryStore {
    runs: Mutex<HashMap<String, (RunRecord, i64)>>,
}

impl RunStore for MemoryStore {
    fn transact(
        &self,
        run: &str,
        now: i64,
        retention: Retention,
        decide: &mut dyn FnMut(&RunRecord) -> RunUpdate,
    ) -> Result<(), StoreError> {
        let mut runs = self
            .runs
            .lock()
            .map_err(|_| StoreError { message: "a thread failed holding the lock".into() })?;
        let idle_before = retention.idle_before(now);
        runs.retain(|_, (_, seen)| *seen >= idle_before);
        let (record, seen) = runs.entry(run.to_string()).or_default();
        let oldest = retention.oldest_kept(now);
        record.calls.retain(|c| c.at > oldest);
        let update = decide(record);
        apply(record, update);
        *seen = now;
        Ok(())
    }
}

fn apply(record: &mut RunRecord, update: RunUpdate) {
    if let Some(admission) = update.admit {
        record.admission = Some(admission);
    }
    if let Some(call) = update.record {
        let seen = call.call_id.is_some()
            && record.calls.iter().any(|c| c.call_id.is_some() && c.call_id == call.call_id);
        if !seen {
            record.calls.push(call);
        }
    }
}

/// Runs in a SQLite database under a state directory, shared by processes: each transaction is
/// `BEGIN IMMEDIATE` (one writer at a time; others wait up to the busy timeout), in WAL mode so
/// that readers never block.
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<rusqlite::Connection>,
}

/// How long a hook waits for another process's transaction on the store.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl SqliteStore {
    /// Opens (creating) `DIR/runs.sqlite3`; the directory is created owner-only.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| StoreError {
            message: format!("{what} `{}`: {e}", dir.display()),
        };
        create_private_dir(dir).map_err(|e| fail("cannot create the state directory", &e))?;
        let path = dir.join("runs.sqlite3");
        let conn = rusqlite::Connection::open(&path)
            .map_err(|e| fail("cannot open the run store in", &e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| fail("cannot configure the run store in", &e))?;
        // Switching a new database to WAL, and creating its tables, can meet another hook doing
        // the same: SQLite then answers "locked" at once for the journal mode, without waiting
        // on the busy timeout. Both steps are idempotent, so they are retried until it passes.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        let mut pause = Duration::from_millis(2);
        loop {
            match Self::prepare(&conn) {
                Ok(()) => break,
                Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e) => return Err(fail("cannot prepare the run store in", &e)),
            }
        }
        Ok(SqliteStore { path, conn: Mutex::new(conn) })
    }

    /// WAL mode and the tables (both idempotent).
    fn prepare(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS runs (
                 run TEXT PRIMARY KEY, admission TEXT, last_seen INTEGER NOT NULL);
             CREATE INDEX IF NOT EXISTS runs_last_seen ON runs(last_seen);
             CREATE TABLE IF NOT EXISTS calls (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT, run TEXT NOT NULL, tool TEXT NOT NULL,
                 at INTEGER NOT NULL, call_id TEXT);
             CREATE INDEX IF NOT EXISTS calls_run_at ON calls(run, at);
             CREATE UNIQUE INDEX IF NOT EXISTS calls_run_id ON calls(run, call_id)
                 WHERE call_id IS NOT NULL;",
        )
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// SQLite's "busy" or "locked": another connection holds the lock.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

impl RunStore for SqliteStore {
    fn transact(
        &self,
        run: &str,
        now: i64,
        retention: Retention,
        decide: &mut dyn FnMut(&RunRecord) -> RunUpdate,
    ) -> Result<(), StoreError> {
        let sql =
            |e: rusqlite::Error| StoreError { message: format!("`{}`: {e}", self.path.display()) };
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| StoreError { message: "a thread failed holding the lock".into() })?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let idle_before = retention.idle_before(now);
        tx.execute(
            "DELETE FROM calls WHERE run IN (SELECT run FROM runs WHERE last_seen < ?1)",
            [idle_before],
        )
        .map_err(sql)?;
        tx.execute("DELETE FROM runs WHERE last_seen < ?1", [idle_before]).map_err(sql)?;
        tx.execute(
            "DELETE FROM calls WHERE run = ?1 AND at <= ?2",
            rusqlite::params![run, retention.oldest_kept(now)],
        )
        .map_err(sql)?;
        let admission: Option<String> = {
            let mut statement =
                tx.prepare("SELECT admission FROM runs WHERE run = ?1").map_err(sql)?;
            let mut rows = statement.query([run]).map_err(sql)?;
            match rows.next().map_err(sql)? {
                Some(row) => row.get(0).map_err(sql)?,
                None => None,
            }
        };
        // An admission that does not parse (another writ version, an edited file) is no
        // admission: the start is decided again.
        let admission = admission.and_then(|text| serde_json::from_str(&text).ok());
        let calls = {
            let mut statement = tx
                .prepare("SELECT tool, at, call_id FROM calls WHERE run = ?1 ORDER BY at, seq")
                .map_err(sql)?;
            let rows = statement
                .query_map([run], |row| {
                    Ok(RecordedCall { tool: row.get(0)?, at: row.get(1)?, call_id: row.get(2)? })
                })
                .map_err(sql)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(sql)?
        };
        let record = RunRecord { admission, calls };
        let update = decide(&record);
        let admission =
            match &update.admit {
                Some(a) => Some(serde_json::to_string(a).map_err(|e| StoreError {
                    message: format!("cannot encode an admission: {e}"),
                })?),
                None => None,
            };
        tx.execute(
            "INSERT INTO runs (run, admission, last_seen) VALUES (?1, ?2, ?3)
             ON CONFLICT(run) DO UPDATE SET
                 admission = COALESCE(excluded.admission, runs.admission),
                 last_seen = excluded.last_seen",
            rusqlite::params![run, admission, now],
        )
        .map_err(sql)?;
        if let Some(call) = &update.record {
            tx.execute(
                "INSERT OR IGNORE INTO calls (run, tool, at, call_id) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![run, call.tool, call.at, call.call_id],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        Ok(())
    }
}

/// A gate over runs: admission, history, recording.
pub struct RunGate<'a> {
    pub gate: &'a Gate,
    pub store: &'a dyn RunStore,
    pub retention: Retention,
    pub mode: Mode,
}

/// One call of a run, as the gateway saw it.
pub struct RunCall<'a> {
    /// The run's key in the store (a Claude Code session id, a proxy session).
    pub run: &'a str,
    /// The chain of the call: the accountable identity first, then the agents.
    pub chain: &'a [Json],
    /// How many principals of `chain` start the run (the identity and the session's agent;
    /// a sub-agent is a hop within the run, not its start).
    pub start_chain: usize,
    pub tool: &'a str,
    pub input: &'a Map<String, Json>,
    pub context: Map<String, Json>,
    /// The run fields besides `time` and `history` (`cwd`).
    pub run_fields: Map<String, Json>,
    /// The agent's own id for the call (`tool_use_id`), so that a call is recorded once.
    pub call_id: Option<&'a str>,
    pub now: Timestamp,
}

/// The outcome of a call of a run.
pub struct RunJudgement {
    /// The start decided for the run, when it was decided now (the gateway logs it).
    pub start: Option<Judgement>,
    /// The call and its decision; a call of a run that is not admitted is a `deny` whose
    /// reasons name the start's.
    pub call: Judgement,
    /// Whether the gateway answers allow (in log-only mode, always).
    pub answered_allow: bool,
}

impl RunGate<'_> {
    /// Decides `call` within its run: see the module documentation. `Err` is a failure before
    /// any decision (a store error, a call that cannot be put as a request): deny.
    pub fn call(&self, call: &RunCall<'_>) -> Result<RunJudgement, String> {
        self.within_run(call, |record, now, initiator, policy| {
            self.decide_in(call, record, now, initiator, policy)
        })
    }

    /// Runs `decide` on `call`'s run in one store transaction (with the request's time, the
    /// initiator and the policy hash it needs) and applies the update it returns.
    fn within_run<T>(
        &self,
        call: &RunCall<'_>,
        mut decide: impl FnMut(&RunRecord, i64, &str, &str) -> (Result<T, String>, RunUpdate),
    ) -> Result<T, String> {
        let now = unix_nanos(call.now)?;
        let initiator = initiator(call.chain);
        let policy = self.gate.policy.hash().to_string();
        let mut outcome = None;
        let mut step = |record: &RunRecord| -> RunUpdate {
            let (result, update) = decide(record, now, &initiator, &policy);
            outcome = Some(result);
            update
        };
        self.store.transact(call.run, now, self.retention, &mut step).map_err(|e| e.to_string())?;
        outcome.unwrap_or_else(|| Err("the run store did not run the decision".to_string()))
    }

    fn decide_in(
        &self,
        call: &RunCall<'_>,
        record: &RunRecord,
        now: i64,
        initiator: &str,
        policy: &str,
    ) -> (Result<RunJudgement, String>, RunUpdate) {
        let mut update = RunUpdate::default();
        let admitted = match self.admission(call, record, now, initiator, policy) {
            Ok(a) => a,
            Err(e) => return (Err(e), update),
        };
        update.admit = admitted.admit;
        let start = admitted.start;
        let refused = admitted.refusal;
        if record.calls.len() >= MAX_CALLS_PER_RUN {
            return (
                Err(format!(
                    "run `{}` has recorded {MAX_CALLS_PER_RUN} calls, the most writ keeps; start \
                     a new session",
                    call.run
                )),
                update,
            );
        }
        let now = record.clock(now);
        let time = Timestamp::from_unix_nanos(i128::from(now)).unwrap_or(call.now);
        let mut run = call.run_fields.clone();
        run.insert("time".into(), Json::String(time.to_string()));
        let history: Vec<Json> = record
            .calls
            .iter()
            .map(|c| {
                let at = Timestamp::from_unix_nanos(i128::from(c.at))
                    .map_or(Json::Null, |t| Json::String(t.to_string()));
                json!({"tool": c.tool, "at": at})
            })
            .collect();
        run.insert("history".into(), Json::Array(history));
        let mut judgement =
            match self.gate.decide(call.chain, call.tool, call.input, call.context.clone(), run) {
                Ok(j) => j,
                Err(e) => return (Err(e), update),
            };
        if let (Some(reason), Some(start)) = (refused, &start) {
            let d = &mut judgement.decision;
            d.decision = Outcome::Deny;
            d.missing.clear();
            d.rules = start.decision.rules.clone();
            d.reasons = vec![reason];
        }
        let answered_allow =
            self.mode == Mode::LogOnly || judgement.decision.decision == Outcome::Allow;
        if answered_allow {
            update.record = Some(RecordedCall {
                tool: call.tool.to_string(),
                at: now,
                call_id: call.call_id.map(str::to_string),
            });
        }
        (Ok(RunJudgement { start, call: judgement, answered_allow }), update)
    }

    /// Decides the run's start now, unless an admission is cached (a `SessionStart` hook, or
    /// a gateway's `initialize`).
    pub fn admit(&self, call: &RunCall<'_>) -> Result<Admitted, String> {
        self.within_run(call, |record, now, initiator, policy| {
            let result = self.admission(call, record, now, initiator, policy);
            let admit = result.as_ref().ok().and_then(|a| a.admit.clone());
            (result, RunUpdate { admit, record: None })
        })
    }

    /// Decides the start of a run whose key is not known yet, without the store: a gateway's
    /// `initialize`, where the session (and so the run's key) comes with the upstream's answer.
    /// The start is always decided (a new session is a new run); once the key is known,
    /// [`RunGate::keep_admission`] keeps the admission under it, so the session's calls find it
    /// and the start is decided, and logged, once.
    pub fn decide_start(&self, call: &RunCall<'_>) -> Result<Admitted, String> {
        let now = unix_nanos(call.now)?;
        let policy = self.gate.policy.hash().to_string();
        self.admission(call, &RunRecord::default(), now, &initiator(call.chain), &policy)
    }

    /// Keeps `admission` (from [`RunGate::decide_start`]) as `run`'s.
    pub fn keep_admission(
        &self,
        run: &str,
        admission: &Admission,
        now: Timestamp,
    ) -> Result<(), String> {
        let now = unix_nanos(now)?;
        let mut keep = |_: &RunRecord| RunUpdate { admit: Some(admission.clone()), record: None };
        self.store.transact(run, now, self.retention, &mut keep).map_err(|e| e.to_string())
    }

    /// Records `call` in its run's history without deciding it: a call that ran after a
    /// person approved it (Claude Code's `PostToolUse`). A call already recorded under the
    /// same `call_id` is not recorded again.
    pub fn record(&self, call: &RunCall<'_>) -> Result<(), String> {
        let now = unix_nanos(call.now)?;
        let mut decide = |record: &RunRecord| RunUpdate {
            admit: None,
            record: Some(RecordedCall {
                tool: call.tool.to_string(),
                at: record.clock(now),
                call_id: call.call_id.map(str::to_string),
            }),
        };
        self.store.transact(call.run, now, self.retention, &mut decide).map_err(|e| e.to_string())
    }

    /// The run's admission: cached, or decided now.
    fn admission(
        &self,
        call: &RunCall<'_>,
        record: &RunRecord,
        now: i64,
        initiator: &str,
        policy: &str,
    ) -> Result<Admitted, String> {
        let cached = record.admission.as_ref().is_some_and(|a| {
            a.policy == policy
                && a.workflow == self.gate.workflow
                && a.initiator == initiator
                && a.expires_at > now
        });
        if cached {
            return Ok(Admitted { start: None, admit: None, refusal: None });
        }
        let start_chain = call.chain.get(..call.start_chain).unwrap_or(call.chain);
        let judgement = self.start(start_chain, call)?;
        let d = &judgement.decision;
        let (admit, refusal) = if d.decision == Outcome::Allow {
            let ttl = d.ttl_seconds.unwrap_or(0).max(0);
            let admission = Admission {
                policy: policy.to_string(),
                workflow: self.gate.workflow.clone(),
                initiator: initiator.to_string(),
                expires_at: now.saturating_add(ttl.saturating_mul(1_000_000_000)),
                rules: d.rules.iter().map(|r| r.to_string()).collect(),
            };
            (Some(admission), None)
        } else {
            (None, Some(start_refusal(&judgement, &self.gate.workflow, initiator)))
        };
        Ok(Admitted { start: Some(judgement), admit, refusal })
    }

    fn start(&self, chain: &[Json], call: &RunCall<'_>) -> Result<Judgement, String> {
        let mut request = json!({
            "action": "start",
            "workflow": self.gate.workflow,
            "chain": chain,
            "context": call.context,
        });
        if let Json::Object(fields) = &mut request {
            for (key, value) in &call.run_fields {
                fields.insert(key.clone(), value.clone());
            }
            fields.insert("time".into(), Json::String(call.now.to_string()));
        }
        let decoded = Request::from_json(&request.to_string())
            .map(Request::into_owned)
            .map_err(|e| format!("invalid start request: {e}"))?;
        let decision = self.gate.policy.decide(&decoded);
        Ok(Judgement { request, decoded, decision, evidence: None })
    }
}

/// What [`RunGate::admit`] found.
pub struct Admitted {
    /// The start decided now (`None`: a cached admission holds).
    pub start: Option<Judgement>,
    /// The admission to store, when the start was decided now and allowed.
    pub admit: Option<Admission>,
    /// Why the run is not admitted (a start decided now and not allowed).
    pub refusal: Option<String>,
}

/// Now, as a request's `time`.
pub fn now() -> Result<Timestamp, String> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| Timestamp::from_unix_nanos(i128::try_from(d.as_nanos()).ok()?))
        .ok_or_else(|| "the system clock is before 1970 or after 9999".to_string())
}

fn unix_nanos(t: Timestamp) -> Result<i64, String> {
    i64::try_from(t.as_unix_nanos())
        .map_err(|_| "the clock is outside the years 1678..2262".to_string())
}

/// The accountable principal's id: the chain's first.
fn initiator(chain: &[Json]) -> String {
    chain.first().and_then(|p| p.get("id")).and_then(Json::as_str).unwrap_or_default().to_string()
}

/// Why a call is denied when its run's start is not allowed.
fn start_refusal(start: &Judgement, workflow: &str, initiator: &str) -> String {
    let d: &Decision = &start.decision;
    match d.decision {
        Outcome::Pending => format!(
            "this run of workflow `{workflow}` was not admitted: its start by `{initiator}` needs \
             evidence writ cannot see here ({}); start the run where that evidence is given",
            missing_text(d).join(", ")
        ),
        _ => format!(
            "this run of workflow `{workflow}` was not admitted: its start by `{initiator}` is \
             denied ({})",
            d.reasons.join("; ")
        ),
    }
}

#[cfg(test)]
mod tests;
