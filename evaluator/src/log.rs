//! The decision log: one JSON line per decision, each line carrying the hash of the line before
//! it, so that a deleted, inserted, altered or reordered line is detectable.
//!
//! ```text
//! {"ts":"2026-11-29T22:30:00.123Z","id":"019…","prev":null,"request":"sha256:…",
//!  "policy":"sha256:…","action":"call","workflow":"release","tool":"deploy",
//!  "chain":[{"id":"ada","kind":"human"},{"id":"bot","kind":"agent"}],
//!  "decision":"pending","missing":[…],"rules":["release/allow/1"]}
//! ```
//!
//! (one line in the file). `prev` is `sha256:<hex>` of the previous line's bytes (without its
//! newline), `null` on the first line of a log. The format and its limits are documented in
//! `docs/decision-log.md`.
//!
//! ```
//! use writ_evaluator::log::{DecisionLog, verify};
//! # use writ_evaluator::{Decision, Outcome, Request};
//! # let request = Request::from_json(r#"{"action": "start", "workflow": "w",
//! #     "chain": [{"id": "ada", "kind": "human"}]}"#)?;
//! # let hash = writ_evaluator::log::digest(b"a policy");
//! # let decision = Decision { decision: Outcome::Deny, missing: vec![], rules: Default::default(),
//! #     reasons: vec![], ttl_seconds: None, policy: hash.as_str().into() };
//! let mut log = DecisionLog::new(Vec::new());
//! let id = log.record(&request, &decision, &hash)?;
//! log.record(&request, &decision, &hash)?;
//! let bytes = log.into_inner();
//! let summary = verify(&bytes[..])?;
//! assert_eq!(summary.lines, 2);
//! assert!(id.len() == 36);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod checkpoint;

use std::fmt;
use std::io::{self, BufRead, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::ser::SerializeMap;
use sha2::{Digest, Sha256};

use crate::decision::{Decision, Missing};
use crate::request::{Action, Request};
use crate::statement::Counted;

/// The fields of a log line, in the order they are written. A decision that counted signed
/// statements adds `"statements": [{"digest", "signer"}, ...]`
/// ([`DecisionLog::record_statements`]); a line of a log with a [`Mask`] whose request had
/// masked values adds `"masked": ["args.token", ...]`; a line written in shadow mode ends with
/// one more, `"mode": "log-only"` ([`Mode::LogOnly`]).
pub const FIELDS: [&str; 12] = [
    "ts", "id", "prev", "request", "policy", "action", "workflow", "tool", "chain", "decision",
    "missing", "rules",
];

/// Writes decision log lines to `out`, chaining each to the one before.
///
/// Every [`record`](DecisionLog::record) writes one whole line with a single `write_all`;
/// wrap a file in a [`std::io::BufWriter`] for throughput and call
/// [`flush`](DecisionLog::flush) before exiting (dropping a `BufWriter` flushes it too, but
/// swallows the error).
#[derive(Debug)]
pub struct DecisionLog<W: Write> {
    out: W,
    prev: Option<String>,
    line: Vec<u8>,
    format: LineFormat,
}

/// How a log's lines are rendered: the mode they are marked with and the mask applied to
/// their requests. A line is rendered whole but for its `prev` ([`LineFormat::render`]) by
/// whoever has the decision (any thread), then chained by the log, in the order lines reach
/// it ([`DecisionLog::append`]): the costly part of a line (the request digest, the JSON) does
/// not wait for the one writer, and the chain is still one sequence.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineFormat {
    mode: Mode,
    mask: Mask,
}

/// A decision log line rendered without its `prev` ([`LineFormat::render`]): the text before
/// the value of `prev` and the text after it. Only [`DecisionLog::append`] can complete it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unchained {
    /// `{"ts":…,"id":…,"prev":` then `,"request":…}`.
    bytes: Vec<u8>,
    /// Where `prev`'s value goes.
    split: usize,
}

impl LineFormat {
    /// Lines marked with `mode`, their requests masked with `mask`.
    pub fn new(mode: Mode, mask: Mask) -> LineFormat {
        LineFormat { mode, mask }
    }

    /// The mode lines are marked with.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The line for `decision` on `request`, but for its `prev`: what
    /// [`DecisionLog::record_statements`] writes, once [`DecisionLog::append`] chains it.
    pub fn render(
        &self,
        request: &Request,
        decision: &Decision,
        policy_hash: &str,
        at: SystemTime,
        id: &str,
        statements: &[Counted],
    ) -> io::Result<Unchained> {
        let (request_digest, masked, chain_masked) = if self.mask.is_empty() {
            (digest(request.to_json().as_bytes()), Vec::new(), false)
        } else {
            let (value, masked) = self.mask.apply(request);
            if masked.is_empty() {
                (digest(request.to_json().as_bytes()), masked, false)
            } else {
                let chain = masked.contains(&"chain.id");
                (digest(value.to_string().as_bytes()), masked, chain)
            }
        };
        let rest = Rest {
            statements,
            request: request_digest,
            policy: policy_hash,
            request_value: request,
            decision,
            mode: self.mode,
            masked: &masked,
            chain_masked,
        };
        // Serializing strings and numbers cannot fail; a failure would be a bug, not input.
        let mut bytes = Vec::with_capacity(512);
        bytes.extend_from_slice(b"{\"ts\":");
        serde_json::to_writer(&mut bytes, &rfc3339_millis(at)).map_err(io::Error::other)?;
        bytes.extend_from_slice(b",\"id\":");
        serde_json::to_writer(&mut bytes, id).map_err(io::Error::other)?;
        bytes.extend_from_slice(b",\"prev\":");
        let split = bytes.len();
        serde_json::to_writer(&mut bytes, &rest).map_err(io::Error::other)?;
        // `rest` is an object: its `{` becomes the `,` after `prev`.
        match bytes.get_mut(split) {
            Some(open) if *open == b'{' => *open = b',',
            _ => {
                writ_stdx::never!("a line's fields after `prev` are an object");
                return Err(io::Error::other("a decision log line could not be rendered"));
            }
        }
        Ok(Unchained { bytes, split })
    }
}

/// What masked values are replaced with.
pub const MASKED: &str = "[masked]";

/// Fields of the request whose values are replaced with [`MASKED`] before a line is written
/// (`--log-mask`). A line holds no argument, context or attribute values anyway, but its
/// `request` digest is taken over all of them, and a digest of a guessable value (an email, a
/// short token) lets whoever has the log confirm a guess; a masked value is digested as
/// `"[masked]"`. `chain.id` also replaces the ids in the line's `chain`.
///
/// A path is keys separated by dots, from the request's top level: `args.NAME`, `context.NAME`,
/// `chain.id`, `chain.roles`, `chain.attrs.NAME`, `evidence.fields`, `subject`, `cwd`; under
/// `chain` and `evidence`, it applies to every element; past an argument's or attribute's
/// name, keys go into JSON objects (`args.config.password`), through lists. A key cannot
/// contain a dot. `action`, `workflow`, `tool` and `chain.kind` cannot be masked: the line
/// needs them to mean anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mask {
    paths: Vec<(String, Vec<String>)>,
}

impl Mask {
    /// The mask of `paths`; an error names the first path that is not one.
    pub fn new<S: AsRef<str>>(paths: &[S]) -> Result<Mask, String> {
        let mut mask = Mask::default();
        for path in paths {
            let path = path.as_ref();
            let keys: Vec<String> = path.split('.').map(str::to_string).collect();
            if keys.iter().any(String::is_empty) {
                return Err(format!("`{path}`: expected keys separated by dots (`args.token`)"));
            }
            let root = keys.first().map(String::as_str).unwrap_or_default();
            let second = keys.get(1).map(String::as_str);
            let allowed = match root {
                "args" | "context" => keys.len() >= 2,
                "chain" => match second {
                    Some("id" | "roles") => keys.len() == 2,
                    Some("attrs") => keys.len() >= 3,
                    _ => false,
                },
                "evidence" => second.is_some(),
                "subject" | "cwd" | "time" | "history" | "ttl" => keys.len() == 1,
                _ => false,
            };
            if !allowed {
                return Err(format!(
                    "`{path}` cannot be masked: expected `args.NAME`, `context.NAME`, \
                     `chain.id`, `chain.roles`, `chain.attrs.NAME`, `evidence.FIELD`, `subject`, \
                     `cwd`, `time`, `history` or `ttl` (`action`, `workflow`, `tool` and \
                     `chain.kind` are kept)"
                ));
            }
            if !mask.paths.iter().any(|(p, _)| p == path) {
                mask.paths.push((path.to_string(), keys));
            }
        }
        Ok(mask)
    }

    /// Whether the mask masks nothing (the default).
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The request as JSON ([`Request::to_json`]'s shape) with the masked values replaced,
    /// and the paths that masked something (none: the JSON is unchanged).
    pub fn apply(&self, request: &Request<'_>) -> (serde_json::Value, Vec<&str>) {
        let mut value = serde_json::to_value(request).unwrap_or_default();
        let mut masked = Vec::new();
        for (path, keys) in &self.paths {
            if mask_at(&mut value, keys) {
                masked.push(path.as_str());
            }
        }
        (value, masked)
    }
}

/// Replaces the value at `keys` under `value` (every element of a list on the way); whether
/// there was one.
fn mask_at(value: &mut serde_json::Value, keys: &[String]) -> bool {
    use serde_json::Value;
    match (value, keys.split_first()) {
        (value, None) => {
            *value = Value::String(MASKED.to_string());
            true
        }
        (Value::Array(items), Some(_)) => {
            let mut any = false;
            for item in items {
                any |= mask_at(item, keys);
            }
            any
        }
        (Value::Object(map), Some((key, rest))) => match map.get_mut(key.as_str()) {
            Some(inner) => mask_at(inner, rest),
            None => false,
        },
        _ => false,
    }
}

/// Whether the gateway writing a log acts on its decisions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// The gateway answers what writ decided (the default; lines carry no `mode`).
    #[default]
    Enforce,
    /// Shadow mode (`--mode log-only`): the gateway answers allow whatever writ decided, and
    /// logs what it decided. Lines carry `"mode": "log-only"`, so that a log reader can tell
    /// a deny that was enforced from one that was only recorded.
    LogOnly,
}

impl Mode {
    /// The mode as the CLI and the log spell it: `enforce`, `log-only`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::LogOnly => "log-only",
        }
    }
}

impl<W: Write> DecisionLog<W> {
    /// A new log: its first line has `"prev": null`.
    pub fn new(out: W) -> DecisionLog<W> {
        DecisionLog { out, prev: None, line: Vec::new(), format: LineFormat::default() }
    }

    /// The same log, masking the request's fields in `mask` on every line (see [`Mask`]).
    pub fn with_mask(mut self, mask: Mask) -> DecisionLog<W> {
        self.format.mask = mask;
        self
    }

    /// The same log, its lines marked with `mode` (see [`Mode`]).
    pub fn with_mode(mut self, mode: Mode) -> DecisionLog<W> {
        self.format.mode = mode;
        self
    }

    /// Appends to an existing log whose last line hashes to `prev` (see [`last_hash`]); with
    /// `None`, the same as [`DecisionLog::new`].
    pub fn resume(out: W, prev: Option<String>) -> DecisionLog<W> {
        DecisionLog { out, prev, line: Vec::new(), format: LineFormat::default() }
    }

    /// Writes one line for `decision` on `request` and returns the decision id (a UUID v7:
    /// unique, and ordered by time).
    pub fn record(
        &mut self,
        request: &Request<'_>,
        decision: &Decision,
        policy_hash: &str,
    ) -> io::Result<String> {
        let id = new_decision_id();
        self.record_with(request, decision, policy_hash, SystemTime::now(), &id)?;
        Ok(id)
    }

    /// [`record`](DecisionLog::record) with the timestamp and decision id given (for tests,
    /// and for callers that hand out the id before logging).
    pub fn record_with(
        &mut self,
        request: &Request<'_>,
        decision: &Decision,
        policy_hash: &str,
        at: SystemTime,
        id: &str,
    ) -> io::Result<()> {
        self.record_statements(request, decision, policy_hash, at, id, &[])
    }

    /// [`record_with`](DecisionLog::record_with) for a request whose evidence includes signed
    /// statements: the line ends with `"statements": [{"digest", "signer"}, ...]`, those that
    /// were added to the request's evidence (none: no `statements` field).
    pub fn record_statements(
        &mut self,
        request: &Request<'_>,
        decision: &Decision,
        policy_hash: &str,
        at: SystemTime,
        id: &str,
        statements: &[Counted],
    ) -> io::Result<()> {
        let line = self.format.render(request, decision, policy_hash, at, id, statements)?;
        self.append(&line)
    }

    /// How this log renders its lines (to render them elsewhere, for [`append`]).
    ///
    /// [`append`]: DecisionLog::append
    pub fn format(&self) -> &LineFormat {
        &self.format
    }

    /// Writes `line` (rendered by a [`LineFormat`], normally this log's [`format`]) as the
    /// next line, chained to the one before.
    ///
    /// [`format`]: DecisionLog::format
    pub fn append(&mut self, line: &Unchained) -> io::Result<()> {
        let Some((head, tail)) = line.bytes.split_at_checked(line.split) else {
            writ_stdx::never!("a rendered line splits within its bytes");
            return Err(io::Error::other("a decision log line was not rendered whole"));
        };
        self.line.clear();
        self.line.extend_from_slice(head);
        match &self.prev {
            Some(prev) => {
                self.line.push(b'"');
                self.line.extend_from_slice(prev.as_bytes());
                self.line.push(b'"');
            }
            None => self.line.extend_from_slice(b"null"),
        }
        self.line.extend_from_slice(tail);
        let hash = digest(&self.line);
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.prev = Some(hash);
        Ok(())
    }

    /// `sha256:<hex>` of the last line written (or the hash this log resumed from).
    pub fn last_hash(&self) -> Option<&str> {
        self.prev.as_deref()
    }

    /// Flushes the writer. An error means lines may not have reached the log.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The writer the log writes to.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The writer the log writes to, mutably; writing to it directly breaks the hash chain.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// The writer back, the log given up (a buffering writer may still hold lines: flush it).
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// A new decision id: a UUID v7 (unique, and ordered by time).
pub fn new_decision_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// The fields of a line after `prev`, serialized in the order of [`FIELDS`].
struct Rest<'a> {
    statements: &'a [Counted],
    request: String,
    policy: &'a str,
    request_value: &'a Request<'a>,
    decision: &'a Decision,
    mode: Mode,
    /// The mask paths that replaced a value of this request.
    masked: &'a [&'a str],
    /// Whether the chain's ids are masked.
    chain_masked: bool,
}

impl Serialize for Rest<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let call_tool = match &self.request_value.action {
            Action::Call { tool, .. } => Some(&**tool),
            Action::Start { .. } => None,
        };
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("request", &self.request)?;
        map.serialize_entry("policy", self.policy)?;
        map.serialize_entry("action", if call_tool.is_some() { "call" } else { "start" })?;
        map.serialize_entry("workflow", &self.request_value.workflow)?;
        if let Some(tool) = call_tool {
            map.serialize_entry("tool", tool)?;
        }
        map.serialize_entry("chain", &Chain(self.request_value, self.chain_masked))?;
        map.serialize_entry("decision", &self.decision.decision)?;
        map.serialize_entry("missing", &self.decision.missing as &[Missing])?;
        map.serialize_entry("rules", &Rules(self.decision))?;
        if !self.statements.is_empty() {
            let statements: Vec<serde_json::Value> = self
                .statements
                .iter()
                .map(|c| serde_json::json!({"digest": c.digest, "signer": c.signer}))
                .collect();
            map.serialize_entry("statements", &statements)?;
        }
        if !self.masked.is_empty() {
            map.serialize_entry("masked", self.masked)?;
        }
        if self.mode == Mode::LogOnly {
            map.serialize_entry("mode", Mode::LogOnly.as_str())?;
        }
        map.end()
    }
}

/// The request's chain; its ids replaced with [`MASKED`] when they are masked.
struct Chain<'a>(&'a Request<'a>, bool);

impl Serialize for Chain<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.chain.iter().map(|p| {
            let mut m = serde_json::Map::new();
            let id = if self.1 { MASKED } else { &*p.id };
            m.insert("id".into(), id.into());
            m.insert("kind".into(), p.kind.as_str().into());
            m
        }))
    }
}

struct Rules<'a>(&'a Decision);

impl Serialize for Rules<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.rules.iter().map(|r| &**r))
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    format!("sha256:{}", writ_stdx::hex(&hash))
}

/// `2026-11-29T22:30:00.123Z`: RFC 3339, UTC, milliseconds. Times before 1970 print as 1970.
pub fn rfc3339_millis(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let millis = since.subsec_millis();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

// ---------------------------------------------------------------------------------------------
// Verification

/// A log that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifySummary {
    /// How many lines (decisions) the log holds.
    pub lines: usize,
    /// The first line's `prev`: `None` for a log that starts a chain, the last hash of the
    /// previous file for a log that continues one (after rotation).
    pub first_prev: Option<String>,
    /// `sha256:<hex>` of the last line: keep it elsewhere, and check it with
    /// [`VerifyOptions::last`] later, to detect a truncated tail. `None` for an empty log.
    pub last_hash: Option<String>,
}

/// What [`verify_with`] checks beyond the chain itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct VerifyOptions<'a> {
    /// The log continues another whose last line hashes to this: the first line's `prev`
    /// must be it (instead of `null`).
    pub after: Option<&'a str>,
    /// The hash of the last line, kept outside the log: the log must end with that line.
    pub last: Option<&'a str>,
    /// A checkpoint's claim (`lines`, `last`): the log has at least that many lines, and that
    /// line hashes to `last` (lines appended after the checkpoint are fine). Check the
    /// checkpoint's signature first ([`checkpoint::Checkpoint::verify`]).
    pub checkpoint: Option<(u64, Option<&'a str>)>,
}

/// Why a log does not verify.
#[derive(Debug)]
pub enum LogError {
    /// The log could not be read.
    Io(io::Error),
    /// Line `line` (1-based) is malformed or does not follow the line before it.
    Line {
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The log ends somewhere other than the expected last line, or has fewer lines than a
    /// checkpoint saw, or differs from it at its line: lines were removed or rewritten.
    Tail {
        /// How many lines the log holds.
        lines: usize,
        /// What was expected and found.
        message: String,
    },
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Io(e) => write!(f, "cannot read the log: {e}"),
            LogError::Line { line, message } => write!(f, "line {line}: {message}"),
            LogError::Tail { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for LogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LogError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for LogError {
    fn from(e: io::Error) -> LogError {
        LogError::Io(e)
    }
}

/// Checks a whole log that starts a chain (its first line's `prev` is `null`).
pub fn verify(reader: impl BufRead) -> Result<VerifySummary, LogError> {
    verify_with(reader, VerifyOptions::default())
}

/// Checks every line of a log: each is a JSON object with the fields of [`FIELDS`] of the
/// right types, and each line's `prev` is the hash of the line before it (the first line's
/// `prev` is `null`, or [`VerifyOptions::after`]). Stops at the first problem, naming its line.
pub fn verify_with(
    mut reader: impl BufRead,
    options: VerifyOptions<'_>,
) -> Result<VerifySummary, LogError> {
    let mut buf = Vec::new();
    let mut prev: Option<String> = None;
    let mut first_prev = None;
    let mut lines = 0usize;
    let mut at_checkpoint: Option<String> = None;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        lines += 1;
        let err = |message: String| LogError::Line { line: lines, message };
        let Some(body) = buf.strip_suffix(b"\n") else {
            return Err(err("is incomplete: no newline at its end (a write was cut short)".into()));
        };
        let line_prev = check_line(body).map_err(err)?;
        if lines == 1 {
            match (options.after, line_prev.as_deref()) {
                (None, None) => {}
                (None, Some(p)) => {
                    return Err(err(format!(
                        "the first line's `prev` is `{p}`, not null: lines were deleted before \
                         it, or the log continues another (give the other log's last hash)"
                    )));
                }
                (Some(after), p) if p == Some(after) => {}
                (Some(after), p) => {
                    return Err(err(format!(
                        "the first line's `prev` is {}, not `{after}`: it does not continue that log",
                        p.map_or("null".to_string(), |p| format!("`{p}`"))
                    )));
                }
            }
            first_prev = line_prev;
        } else if line_prev != prev {
            let previous = lines - 1;
            return Err(err(format!(
                "`prev` is {}, but line {previous} hashes to `{}`: line {previous} was altered, \
                 or lines were deleted, inserted or reordered here",
                line_prev.map_or("null".to_string(), |p| format!("`{p}`")),
                prev.unwrap_or_default()
            )));
        }
        prev = Some(digest(body));
        if options.checkpoint.is_some_and(|(n, _)| n == lines as u64) {
            at_checkpoint.clone_from(&prev);
        }
    }
    if let Some((n, expected)) = options.checkpoint {
        if (lines as u64) < n {
            return Err(LogError::Tail {
                lines,
                message: format!(
                    "the log has {lines} lines, but the checkpoint saw {n}: lines were removed \
                     from its end"
                ),
            });
        }
        if at_checkpoint.as_deref() != expected {
            return Err(LogError::Tail {
                lines,
                message: format!(
                    "line {n} hashes to `{}`, but the checkpoint says `{}`: the log was \
                     rewritten up to that line",
                    at_checkpoint.unwrap_or_else(|| "nothing".into()),
                    expected.unwrap_or("nothing")
                ),
            });
        }
    }
    if let Some(last) = options.last {
        match &prev {
            Some(p) if p == last => {}
            Some(p) => {
                return Err(LogError::Tail {
                    lines,
                    message: format!(
                        "the log does not end with the expected line: its last line (line \
                         {lines}) hashes to `{p}`, not `{last}` (lines were removed from its \
                         end, or appended after the hash was taken)"
                    ),
                });
            }
            None => {
                return Err(LogError::Tail {
                    lines,
                    message: format!("the log is empty, but its last line should hash to `{last}`"),
                });
            }
        }
    }
    Ok(VerifySummary { lines, first_prev, last_hash: prev })
}

/// The hash to [`DecisionLog::resume`] from: `sha256:<hex>` of the last line of `reader`
/// (`None` when it is empty). It does not verify the log (see [`verify`]); a last line without
/// its newline (a cut-short write) is an error.
pub fn last_hash(reader: impl BufRead) -> Result<Option<String>, LogError> {
    tail(reader).map(|(_, last)| last)
}

/// How many lines `reader` holds, and the hash of its last (see [`last_hash`]).
pub fn tail(mut reader: impl BufRead) -> Result<(u64, Option<String>), LogError> {
    let mut buf = Vec::new();
    let mut last = None;
    let mut lines = 0usize;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok((lines as u64, last));
        }
        lines += 1;
        let Some(body) = buf.strip_suffix(b"\n") else {
            return Err(LogError::Line {
                line: lines,
                message: "is incomplete: no newline at its end (a write was cut short)".into(),
            });
        };
        last = Some(digest(body));
    }
}

/// Checks one line's shape; returns its `prev`.
fn check_line(body: &[u8]) -> Result<Option<String>, String> {
    use serde_json::Value;
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("is not JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("is not a JSON object".into());
    };
    let string = |name: &str| -> Result<&str, String> {
        match map.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(format!("`{name}` is not a string")),
            None => Err(format!("`{name}`: missing field")),
        }
    };
    let hash = |name: &str| -> Result<(), String> {
        let s = string(name)?;
        if is_sha256(s) { Ok(()) } else { Err(format!("`{name}` is `{s}`, not a sha256 digest")) }
    };
    let ts = string("ts")?;
    if !is_timestamp(ts) {
        return Err(format!("`ts` is `{ts}`, not an RFC 3339 UTC timestamp"));
    }
    if string("id")?.is_empty() {
        return Err("`id` is empty".into());
    }
    hash("request")?;
    hash("policy")?;
    string("workflow")?;
    match string("action")? {
        "call" => {
            string("tool")?;
        }
        "start" => {
            if map.contains_key("tool") {
                return Err("`tool` on a start".into());
            }
        }
        other => return Err(format!("`action` is `{other}`, not `call` or `start`")),
    }
    match string("decision")? {
        "allow" | "deny" | "pending" => {}
        other => return Err(format!("`decision` is `{other}`, not `allow`, `deny` or `pending`")),
    }
    match map.get("statements") {
        None | Some(Value::Array(_)) => {}
        Some(_) => return Err("`statements` is not a list".into()),
    }
    match map.get("masked") {
        None => {}
        Some(Value::Array(paths)) if !paths.is_empty() && paths.iter().all(Value::is_string) => {}
        Some(_) => return Err("`masked` is not a list of field paths".into()),
    }
    for name in ["chain", "missing", "rules"] {
        match map.get(name) {
            Some(Value::Array(_)) => {}
            Some(_) => return Err(format!("`{name}` is not a list")),
            None => return Err(format!("`{name}`: missing field")),
        }
    }
    match map.get("mode") {
        None => {}
        Some(Value::String(m)) if m == Mode::LogOnly.as_str() => {}
        Some(other) => return Err(format!("`mode` is {other}, not `\"log-only\"`")),
    }
    let known = |k: &str| FIELDS.contains(&k) || matches!(k, "mode" | "statements" | "masked");
    if let Some(unknown) = map.keys().find(|k| !known(k)) {
        return Err(format!("unknown field `{unknown}`"));
    }
    match map.get("prev") {
        Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if is_sha256(s) => Ok(Some(s.clone())),
        Some(Value::String(s)) => Err(format!("`prev` is `{s}`, not a sha256 digest")),
        Some(_) => Err("`prev` is neither null nor a string".into()),
        None => Err("`prev`: missing field".into()),
    }
}

fn is_sha256(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    b.len() >= 20
        && digits(0..4)
        && at(4, b'-')
        && digits(5..7)
        && at(7, b'-')
        && digits(8..10)
        && at(10, b'T')
        && digits(11..13)
        && at(13, b':')
        && digits(14..16)
        && at(16, b':')
        && digits(17..19)
        && b.last() == Some(&b'Z')
        && (b.len() == 20 || (at(19, b'.') && b.len() > 21 && digits(20..b.len() - 1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps() {
        let at = |s: u64, ms: u64| UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms);
        assert_eq!(rfc3339_millis(at(0, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(at(951_782_400, 5)), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339_millis(at(1_796_077_800, 123)), "2026-11-30T22:30:00.123Z");
        assert_eq!(rfc3339_millis(at(4_102_444_799, 999)), "2099-12-31T23:59:59.999Z");
        assert!(is_timestamp(&rfc3339_millis(SystemTime::now())));
        assert!(!is_timestamp("2026-11-29 22:30:00Z"));
        assert!(!is_timestamp("2026-11-29T22:30:00.Z"));
    }

    #[test]
    fn digests() {
        assert_eq!(
            digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(is_sha256(&digest(b"x")));
        assert!(!is_sha256("sha256:E3B0"));
    }

    #[test]
    fn masked_values_leave_the_digest_and_the_chain_still_verifies() {
        use crate::{Decision, Outcome};
        let request = Request::from_json(
            r#"{"action": "call", "workflow": "w", "tool": "send",
                "args": {"to": "ada@example.com", "body": {"token": "s3cret", "n": 1}},
                "chain": [{"id": "ada@example.com", "kind": "human",
                           "attrs": {"email": "ada@example.com"}}]}"#,
        )
        .unwrap();
        let hash = digest(b"a policy");
        let decision = Decision {
            decision: Outcome::Deny,
            missing: vec![],
            rules: crate::RuleIds::new(),
            reasons: vec![],
            ttl_seconds: None,
            policy: hash.as_str().into(),
        };
        let mask =
            Mask::new(&["args.body.token", "chain.attrs.email", "chain.id", "context.x"]).unwrap();
        let mut log = DecisionLog::new(Vec::new()).with_mask(mask);
        log.record(&request, &decision, &hash).unwrap();
        log.record(&request, &decision, &hash).unwrap();
        let bytes = log.into_inner();
        assert_eq!(verify(&bytes[..]).unwrap().lines, 2);
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("ada@example.com"), "{text}");
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(
            line["masked"],
            serde_json::json!(["args.body.token", "chain.attrs.email", "chain.id"])
        );
        assert_eq!(line["chain"][0]["id"], MASKED);
        // The digest is the masked request's: not the request's, and reproducible from it.
        assert_ne!(line["request"], digest(request.to_json().as_bytes()));
        let masked = r#"{"action":"call","workflow":"w","tool":"send","args":{"to":"ada@example.com","body":{"token":"[masked]","n":1}},"chain":[{"id":"[masked]","kind":"human","attrs":{"email":"[masked]"}}]}"#;
        assert_eq!(line["request"], digest(masked.as_bytes()));
        // Unmasked requests keep the plain digest and have no `masked`.
        let mut plain =
            DecisionLog::new(Vec::new()).with_mask(Mask::new(&["args.nothing"]).unwrap());
        plain.record(&request, &decision, &hash).unwrap();
        let line: serde_json::Value = serde_json::from_slice(&plain.into_inner()).unwrap();
        assert_eq!(line["request"], digest(request.to_json().as_bytes()));
        assert!(line.get("masked").is_none());
        for bad in ["tool", "workflow", "chain.kind", "args", "args..x", "nope.x"] {
            assert!(Mask::new(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_log() {
        let summary = verify(&b""[..]).unwrap();
        assert_eq!(summary, VerifySummary { lines: 0, first_prev: None, last_hash: None });
        assert_eq!(last_hash(&b""[..]).unwrap(), None);
        let err = verify_with(
            &b""[..],
            VerifyOptions { last: Some("sha256:00"), ..VerifyOptions::default() },
        );
        assert!(matches!(err, Err(LogError::Tail { lines: 0, .. })));
    }
}
