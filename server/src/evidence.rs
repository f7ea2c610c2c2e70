//! Signed evidence statements held by `writ serve --trust FILE` (`docs/evidence.md`):
//! `POST /v1/evidence` verifies one and holds it, `GET /v1/evidence?subject=S` lists those held
//! for S, and `/v1/decide` adds the held, still valid ones for the request's subject.
//!
//! Only statements that verified when posted are held, in memory or, with
//! `--history redis://...`, in the same Redis (same connection, same key prefix) so that
//! replicas share them. Whatever is held is verified again, with [`Trust::admit`], every time
//! it is used: the store is not trusted, the trust file is. Expired statements are dropped.
//!
//! Bounds: at most [`MAX_PER_SUBJECT`] statements per subject (more is answered 507), and in
//! memory at most [`MAX_HELD`] in all.
//!
//! Redis keys: `P evidence:HASH`, where HASH is the hex SHA-256 of the subject (so that any
//! subject makes a short key): a sorted set of the statements' canonical JSON, scored by their
//! expiry in Unix milliseconds; the key expires with its last statement.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;
use writ_evaluator::Timestamp;
use writ_evaluator::statement::{Statement, Trust};

/// The most statements held for one subject.
pub const MAX_PER_SUBJECT: usize = writ_evaluator::statement::MAX_CONSIDERED;
/// The most statements held in memory, over all subjects.
pub const MAX_HELD: usize = 100_000;

const TIMEOUT: Duration = Duration::from_secs(2);

/// ARGV: now (ms), expiry (ms), member, the most held. 1 added, 0 held already, -1 full.
const HOLD: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 0 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return -1 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return 1
";

/// Whether the evidence items a request carries itself count beside the statements held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SignedOnly {
    /// They count (the gateway that sends the request is trusted for them).
    #[default]
    No,
    /// They are dropped: only verified statements are evidence.
    Yes,
}

/// What the server does with statements.
pub struct Evidence {
    pub trust: Trust,
    store: Held,
}

/// Statements held in memory: per subject, (expiry, canonical JSON); and how many in all.
#[derive(Default)]
struct Memory {
    by_subject: HashMap<String, Vec<(Timestamp, String)>>,
    total: usize,
}

impl Memory {
    /// Drops the expired statements of `subject`.
    fn expire(&mut self, subject: &str, now: Timestamp) {
        if let Some(list) = self.by_subject.get_mut(subject) {
            let before = list.len();
            list.retain(|(expires, _)| *expires > now);
            self.total = self.total.saturating_sub(before - list.len());
            if list.is_empty() {
                self.by_subject.remove(subject);
            }
        }
    }

    /// Drops every expired statement.
    fn sweep(&mut self, now: Timestamp) {
        self.by_subject.retain(|_, list| {
            list.retain(|(expires, _)| *expires > now);
            !list.is_empty()
        });
        self.total = self.by_subject.values().map(Vec::len).sum();
    }
}

enum Held {
    Memory(Mutex<Memory>),
    Redis { connection: ConnectionManager, prefix: String, hold: Script },
}

/// What holding a statement did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hold {
    Added,
    AlreadyHeld,
    /// The subject (or, in memory, the server) holds the most statements it may.
    Full,
}

/// The store failed (Redis); the caller answers 503 (and decides without held statements).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldError(pub String);

impl std::fmt::Display for HeldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the evidence store failed: {}", self.0)
    }
}

fn millis(t: Timestamp) -> i64 {
    i64::try_from(t.as_unix_nanos().div_euclid(1_000_000)).unwrap_or(i64::MAX)
}

impl Evidence {
    pub fn in_memory(trust: Trust) -> Evidence {
        Evidence { trust, store: Held::Memory(Mutex::new(Memory::default())) }
    }

    pub fn in_redis(trust: Trust, connection: ConnectionManager, prefix: String) -> Evidence {
        Evidence { trust, store: Held::Redis { connection, prefix, hold: Script::new(HOLD) } }
    }

    fn key(prefix: &str, subject: &str) -> String {
        let digest = writ_evaluator::log::digest(subject.as_bytes());
        format!("{prefix}evidence:{}", digest.trim_start_matches("sha256:"))
    }

    /// Holds a statement that verified.
    pub async fn hold(&self, statement: &Statement, now: Timestamp) -> Result<Hold, HeldError> {
        let text = statement.to_json();
        match &self.store {
            Held::Memory(map) => {
                let mut memory = map.lock().map_err(|_| HeldError("a lock was poisoned".into()))?;
                if memory.total >= MAX_HELD {
                    memory.sweep(now);
                }
                memory.expire(statement.subject(), now);
                let full = memory.total >= MAX_HELD;
                let list = memory.by_subject.entry(statement.subject().to_owned()).or_default();
                if list.iter().any(|(_, t)| *t == text) {
                    return Ok(Hold::AlreadyHeld);
                }
                if list.len() >= MAX_PER_SUBJECT || full {
                    return Ok(Hold::Full);
                }
                list.push((statement.expires_at(), text));
                memory.total += 1;
                Ok(Hold::Added)
            }
            Held::Redis { connection, prefix, hold } => {
                let mut connection = connection.clone();
                let key = Evidence::key(prefix, statement.subject());
                let mut invocation = hold.key(key);
                invocation
                    .arg(millis(now))
                    .arg(millis(statement.expires_at()))
                    .arg(text)
                    .arg(MAX_PER_SUBJECT);
                let answer: i64 =
                    tokio::time::timeout(TIMEOUT, invocation.invoke_async(&mut connection))
                        .await
                        .map_err(|_| HeldError("Redis did not answer in time".into()))?
                        .map_err(|e| HeldError(e.to_string()))?;
                Ok(match answer {
                    1 => Hold::Added,
                    0 => Hold::AlreadyHeld,
                    _ => Hold::Full,
                })
            }
        }
    }

    /// The statements held for `subject` that are still valid at `now` (at most
    /// [`MAX_PER_SUBJECT`]), as their canonical JSON, earliest expiry first.
    pub async fn held(&self, subject: &str, now: Timestamp) -> Result<Vec<String>, HeldError> {
        match &self.store {
            Held::Memory(map) => {
                let mut memory = map.lock().map_err(|_| HeldError("a lock was poisoned".into()))?;
                memory.expire(subject, now);
                let Some(list) = memory.by_subject.get(subject) else { return Ok(Vec::new()) };
                let mut out: Vec<(Timestamp, String)> = list.clone();
                out.sort();
                Ok(out.into_iter().map(|(_, t)| t).take(MAX_PER_SUBJECT).collect())
            }
            Held::Redis { connection, prefix, .. } => {
                let mut connection = connection.clone();
                let key = Evidence::key(prefix, subject);
                let mut command = redis::cmd("ZRANGEBYSCORE");
                command
                    .arg(&key)
                    .arg(format!("({}", millis(now)))
                    .arg("+inf")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(MAX_PER_SUBJECT);
                tokio::time::timeout(TIMEOUT, command.query_async(&mut connection))
                    .await
                    .map_err(|_| HeldError("Redis did not answer in time".into()))?
                    .map_err(|e| HeldError(e.to_string()))
            }
        }
    }
}
