//! The Redis store, for replicas that share runs.
//!
//! Keys, for a run id `ID` (which never contains `:`, see `runs::run_id`) and the prefix `P`
//! (`writ:` by default):
//!
//! - `P run:ID:meta`, a hash: `workflow`, `initiator`, `admitted` and `expires` (Unix
//!   milliseconds), and `version`, the number of calls recorded; it expires (`PEXPIREAT`) when
//!   the run does.
//! - `P run:ID:calls`, a sorted set of the run's calls, scored by their time in Unix
//!   milliseconds, each member `VERSION|AT_NANOS|TOOL` (the version zero-padded, so that
//!   calls of the same millisecond stay in order); it expires with the run, and every call
//!   recorded drops the members older than the policy's longest window (`ZREMRANGEBYSCORE`).
//!
//! Atomicity without holding a lock across the network: a call reads the run and its calls
//! in one script (so the read is one instant of the run), decides, and records with a script
//! that adds the call only if `version` is still the one it read, bumping it. If another
//! replica (or task) recorded a call in between, nothing is written and the call is decided
//! again on the new history, up to [`ATTEMPTS`] times. A denied call writes nothing; it was
//! decided on a consistent read. Scripts run atomically in Redis, and each is one command, so
//! they are safe on the one multiplexed connection every handler shares (a `WATCH` is not: it
//! belongs to a connection, which the handlers' commands interleave on).
//!
//! Each replica remembers the runs it saw live ([`LIVE_CACHED`] at most): a live run is never
//! replaced (the admission script refuses a live id) and its workflow, initiator and expiry
//! never change, so until its expiry a lookup of it needs no round trip. A call that reads no
//! history and records nothing is decided on that alone (`runs.rs`); every other call reads the
//! run from Redis as above.
//!
//! The connection is a `redis::aio::ConnectionManager`, which reconnects after a failure.
//! Every command has a timeout; a failure is a [`StoreError`] and the call is denied.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Script, Value};
use writ_evaluator::Timestamp;
use writ_evaluator::request::HistoryEntry;

use super::{Admission, Keep, Lookup, Record, Run, StoreError};

/// The most live runs a replica remembers ([`RedisStore::lookup`]); past it the least used are
/// forgotten (and read from Redis again when needed).
const LIVE_CACHED: usize = 100_000;

/// How many times a call is decided again after losing a race to record.
const ATTEMPTS: u32 = 64;
/// How long a command may take before the call is denied.
const TIMEOUT: Duration = Duration::from_secs(2);

const NANOS_PER_MS: i128 = 1_000_000;

/// ARGV: workflow, initiator, admitted, expires (ms), now (ms). Admits the run unless a live
/// one holds the id; `{"admitted"}` or `{"taken", workflow, initiator, admitted, expires}`.
const ADMIT: &str = r"
local old = redis.call('HMGET', KEYS[1], 'workflow', 'initiator', 'admitted', 'expires')
if old[1] and old[4] and tonumber(old[4]) > tonumber(ARGV[5]) then
  return {'taken', old[1], old[2], old[3], old[4]}
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'workflow', ARGV[1], 'initiator', ARGV[2], 'admitted', ARGV[3],
  'expires', ARGV[4], 'version', '0')
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return {'admitted'}
";

/// ARGV: the lowest score kept (`-inf` for all). `{}` for an unknown run, or
/// `{workflow, initiator, admitted, expires, version, member...}`.
const READ: &str = r"
local meta = redis.call('HMGET', KEYS[1], 'workflow', 'initiator', 'admitted', 'expires', 'version')
if not meta[1] then return {} end
local out = {meta[1], meta[2], meta[3], meta[4], meta[5]}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[1], '+inf')) do
  out[#out + 1] = member
end
return out
";

/// ARGV: the version read, the call's score and member, the score below which calls are
/// dropped (`-inf` for none), the run's expiry (ms). 1 when recorded, 0 on a conflict.
const RECORD: &str = r"
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4])
redis.call('PEXPIREAT', KEYS[2], ARGV[5])
return 1
";

pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    admit: Script,
    read: Script,
    record: Script,
    /// Runs seen live, by id, until their expiry (see the module's documentation).
    live: quick_cache::sync::Cache<String, Run>,
}

/// A run as read, with the version its calls are at.
struct Read {
    run: Run,
    version: String,
    history: Vec<HistoryEntry<'static>>,
}

impl RedisStore {
    /// Connects to `url` and checks that the server answers.
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisStore, String> {
        let fail = |e: &dyn std::fmt::Display| format!("cannot reach the history store: {e}");
        let client = redis::Client::open(url).map_err(|e| fail(&e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(2);
        let mut connection =
            ConnectionManager::new_with_config(client, config).await.map_err(|e| fail(&e))?;
        let pong: String =
            redis::cmd("PING").query_async(&mut connection).await.map_err(|e| fail(&e))?;
        if pong != "PONG" {
            return Err(fail(&format!("PING was answered `{pong}`")));
        }
        Ok(RedisStore {
            connection,
            prefix: prefix.to_owned(),
            admit: Script::new(ADMIT),
            read: Script::new(READ),
            record: Script::new(RECORD),
            live: quick_cache::sync::Cache::new(LIVE_CACHED),
        })
    }

    /// The shared connection (multiplexed; cloning it is cheap) and the key prefix, for the
    /// other things a server keeps beside runs (held evidence statements).
    pub fn connection(&self) -> (ConnectionManager, String) {
        (self.connection.clone(), self.prefix.clone())
    }

    fn keys(&self, id: &str) -> (String, String) {
        (format!("{}run:{id}:meta", self.prefix), format!("{}run:{id}:calls", self.prefix))
    }

    pub async fn admit(
        &self,
        id: &str,
        run: &Run,
        now: Timestamp,
    ) -> Result<Admission, StoreError> {
        let (meta, calls) = self.keys(id);
        let mut invocation = self.admit.key(meta);
        invocation
            .key(calls)
            .arg(&run.workflow)
            .arg(&run.initiator)
            .arg(millis(run.admitted))
            .arg(millis(run.expires))
            .arg(millis(now));
        let mut connection = self.connection.clone();
        let answer: Vec<String> = invocation
            .invoke_async(&mut connection)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        match answer.as_slice() {
            [status] if status == "admitted" => {
                // As the other replicas will read it: times to the millisecond.
                let stored = Run {
                    workflow: run.workflow.clone(),
                    initiator: run.initiator.clone(),
                    admitted: at_millis(millis(run.admitted))?,
                    expires: at_millis(millis(run.expires))?,
                };
                self.classify(id, stored, now);
                Ok(Admission::Admitted)
            }
            [status, workflow, initiator, admitted, expires] if status == "taken" => {
                Ok(Admission::Taken(Run {
                    workflow: workflow.clone(),
                    initiator: initiator.clone(),
                    admitted: from_millis(admitted)?,
                    expires: from_millis(expires)?,
                }))
            }
            _ => Err(unexpected("the admission script")),
        }
    }

    /// What Redis knows of run `id`, or, for a run this replica saw live and that has not
    /// expired, what it remembers (the same answer: a live run never changes).
    pub async fn lookup(&self, id: &str, now: Timestamp) -> Result<Lookup, StoreError> {
        if let Some(run) = self.live.get(id) {
            if run.expires > now {
                return Ok(Lookup::Live(run));
            }
            self.live.remove(id);
        }
        Ok(match self.read(id, Keep::Nothing).await? {
            None => Lookup::Unknown,
            Some(read) => self.classify(id, read.run, now),
        })
    }

    pub async fn call<T>(
        &self,
        id: &str,
        now: Timestamp,
        keep: Keep,
        mut decide: impl FnMut(&Lookup, &[HistoryEntry<'static>]) -> (T, Record),
    ) -> Result<T, StoreError> {
        for attempt in 0..ATTEMPTS {
            let Some(read) = self.read(id, keep).await? else {
                return Ok(decide(&Lookup::Unknown, &[]).0);
            };
            let found = self.classify(id, read.run.clone(), now);
            if !matches!(found, Lookup::Live(_)) {
                return Ok(decide(&found, &[]).0);
            }
            let history: Vec<HistoryEntry<'static>> =
                read.history.into_iter().filter(|e| keep.keeps(e.at)).collect();
            let (answer, record) = decide(&found, &history);
            let Record::Call { tool, at } = record else { return Ok(answer) };
            if !keep.keeps(Some(at)) {
                return Ok(answer);
            }
            if self.record(id, &read.version, &tool, at, keep, read.run.expires).await? {
                return Ok(answer);
            }
            // Another call of the run was recorded since the read: decide again. Back off a
            // little, growing, so that a burst of calls on one run settles.
            let pause = Duration::from_micros(100 * u64::from(attempt.min(20) + 1));
            tokio::time::sleep(pause).await;
        }
        Err(StoreError::Contended { attempts: ATTEMPTS })
    }

    /// Live or expired at `now`; a live run is remembered (once: a live run never changes).
    fn classify(&self, id: &str, run: Run, now: Timestamp) -> Lookup {
        if run.expires > now {
            if !self.live.contains_key(id) {
                self.live.insert(id.to_owned(), run.clone());
            }
            Lookup::Live(run)
        } else {
            Lookup::Expired(run)
        }
    }

    async fn read(&self, id: &str, keep: Keep) -> Result<Option<Read>, StoreError> {
        let (meta, calls) = self.keys(id);
        let lowest = match keep {
            Keep::After(cutoff) => millis(cutoff).to_string(),
            Keep::All | Keep::Nothing => "-inf".to_owned(),
        };
        let mut invocation = self.read.key(meta);
        invocation.key(calls).arg(lowest);
        let mut connection = self.connection.clone();
        let value: Value = invocation
            .invoke_async(&mut connection)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let items: Vec<String> =
            redis::from_redis_value(value).map_err(|_| unexpected("the read script"))?;
        let [workflow, initiator, admitted, expires, version, members @ ..] = items.as_slice()
        else {
            return if items.is_empty() { Ok(None) } else { Err(unexpected("the read script")) };
        };
        let mut history = Vec::with_capacity(members.len());
        if keep != Keep::Nothing {
            for member in members {
                history.push(entry(member)?);
            }
        }
        Ok(Some(Read {
            run: Run {
                workflow: workflow.clone(),
                initiator: initiator.clone(),
                admitted: from_millis(admitted)?,
                expires: from_millis(expires)?,
            },
            version: version.clone(),
            history,
        }))
    }

    /// Records a call if the run's version is still `version`; whether it did.
    async fn record(
        &self,
        id: &str,
        version: &str,
        tool: &str,
        at: Timestamp,
        keep: Keep,
        expires: Timestamp,
    ) -> Result<bool, StoreError> {
        let (meta, calls) = self.keys(id);
        let sequence: u64 = version.parse().map_err(|_| unexpected("the run's version"))?;
        let member = format!("{sequence:020}|{}|{tool}", at.as_unix_nanos());
        let below = match keep {
            Keep::After(cutoff) => millis(cutoff).to_string(),
            Keep::All | Keep::Nothing => "-inf".to_owned(),
        };
        let mut invocation = self.record.key(meta);
        invocation
            .key(calls)
            .arg(version)
            .arg(millis(at))
            .arg(member)
            .arg(below)
            .arg(millis(expires));
        let mut connection = self.connection.clone();
        let recorded: i64 = invocation
            .invoke_async(&mut connection)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(recorded == 1)
    }
}

fn millis(at: Timestamp) -> i64 {
    i64::try_from(at.as_unix_nanos().div_euclid(NANOS_PER_MS)).unwrap_or(i64::MAX)
}

fn from_millis(text: &str) -> Result<Timestamp, StoreError> {
    at_millis(text.parse::<i64>().map_err(|_| unexpected("a run's time"))?)
}

/// The instant `ms` milliseconds after the epoch.
fn at_millis(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_unix_nanos(i128::from(ms) * NANOS_PER_MS)
        .ok_or_else(|| unexpected("a run's time"))
}

/// `VERSION|AT_NANOS|TOOL`.
fn entry(member: &str) -> Result<HistoryEntry<'static>, StoreError> {
    let mut parts = member.splitn(3, '|');
    let (Some(_), Some(at), Some(tool)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(unexpected("a recorded call"));
    };
    let at = at
        .parse::<i128>()
        .ok()
        .and_then(Timestamp::from_unix_nanos)
        .ok_or_else(|| unexpected("a recorded call's time"))?;
    Ok(HistoryEntry { tool: tool.to_owned().into(), at: Some(at) })
}

fn unexpected(what: &str) -> StoreError {
    StoreError::Unavailable(format!("{what} answered something unexpected"))
}
