//! Requests (`docs/language.md`, "Requests"): decoding, shape checking, and the data model.
//!
//! Decoding is independent of any policy: it checks the request's *shape* (the schema of §5 and
//! §7) and keeps values as they came. Whether values fit the policy's declarations (argument,
//! attribute and context types) is part of deciding (call step 1, start step 1), because the
//! answer to a request that does not fit the policy is a decision (deny), while a request that
//! does not fit the schema is an error.
//!
//! # Values that are not writ values
//!
//! writ values in JSON are strings, integers (within 64 bits, without fraction or exponent),
//! booleans and lists of strings; durations are strings such as `"30m"`. Any other well-formed
//! JSON value (a number such as `3.0`, `1e2` or `2^64`, an object, a list holding anything but
//! strings) in `args`, `attrs`, `context` or evidence `fields` is *not a writ value*. It is not a
//! shape error; it decodes to [`RequestValue::Other`], and then:
//!
//! - an **argument** of the call, or a **declared** attribute (on a chain principal) or
//!   **declared** context value, holding one is wrong-typed: the call or start is denied (step 1)
//!   with a reason naming it;
//! - an **undeclared** attribute or context key holding one is ignored, like every undeclared key;
//! - an evidence **field** holding one never equals a requirement's value, so the item does not
//!   match that requirement (like any field of the wrong type).
//!
//! `null` is never a value: a key whose value is `null` is dropped while decoding (absent, hence
//! unknown to conditions).
//!
//! # Ids and subjects (§7)
//!
//! An `id` of a chain principal or an evidence giver that is empty, starts or ends with
//! whitespace (Unicode `White_Space`, [`char::is_whitespace`]) or contains a control character
//! (U+0000–U+001F, U+007F–U+009F) is a shape error naming it (`chain[1].id`,
//! `evidence[0].by.id`). An empty `subject`, on the request or an evidence item, decodes as
//! absent.
//!
//! # The run: `cwd`, `time`, `history` (§10)
//!
//! `cwd` must be a string starting with `/`; it is kept as sent, and resolved lexically
//! wherever it is used ([`crate::path::resolve`]). `time` and each history entry's `at` are
//! RFC 3339 timestamps ([`crate::time`]). `null` in `cwd`, `time`, `history` or an entry's `at`
//! means absent; a `history` of `[]` is present and empty (every `calls(...)` is 0), which is
//! not the same as no `history` (every `calls(...)` is unknown).

use std::borrow::Cow;
use std::fmt;

use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::ir::PrincipalKind;
use crate::json::{Json, Path};
use crate::time::Timestamp;

/// A string of a request: borrowed from the JSON text when the text spells it without escapes
/// (the fast path of [`Request::from_json`] never copies such a string), owned otherwise.
pub type Str<'a> = Cow<'a, str>;

/// The values of `args`, `attrs`, `context` or evidence `fields`, by key, in request order.
pub type Values<'a> = Vec<(Str<'a>, RequestValue<'a>)>;

/// A decoded request. Its strings borrow from the JSON text it was decoded from (`'a`) where
/// they can; [`Request::into_owned`] makes one that outlives the text.
#[derive(Clone, Debug, PartialEq)]
pub struct Request<'a> {
    /// A start or a call, with what is specific to each.
    pub action: Action<'a>,
    /// The workflow's name; an undeclared one is denied (step 1).
    pub workflow: Str<'a>,
    /// Never empty. `chain[0]` is the initiator, the last element the caller.
    pub chain: Vec<Principal<'a>>,
    /// A digest of the change the request is about; bound evidence must carry the same.
    pub subject: Option<Str<'a>>,
    /// The review evidence given, in request order; items that do not count are ignored (see
    /// "Counting evidence" in `docs/language.md`).
    pub evidence: Vec<EvidenceItem<'a>>,
    /// Context values, as given (`null` ones dropped), in request order.
    pub context: Values<'a>,
    /// The run's working directory (§9, §10): starts with `/`, kept as sent (not resolved).
    pub cwd: Option<Str<'a>>,
    /// When the request is made (§10).
    pub time: Option<Timestamp>,
    /// The calls the run made before, oldest first (§10). `None` (no `history`) is not
    /// `Some(vec![])` (a run that has called nothing yet).
    pub history: Option<Vec<HistoryEntry<'a>>>,
}

/// One earlier call of the run (§10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry<'a> {
    /// The tool called, by name (possibly one the policy does not declare).
    pub tool: Str<'a>,
    /// When it was called.
    pub at: Option<Timestamp>,
}

/// What the request asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Action<'a> {
    /// Start a run of the workflow.
    Start {
        /// The requested credential lifetime, in seconds.
        ttl_seconds: Option<i64>,
    },
    /// Call a tool inside a run of the workflow.
    Call {
        /// The tool's name; an undeclared one is denied (step 1).
        tool: Str<'a>,
        /// The arguments, as given (`null` ones dropped), in request order.
        args: Values<'a>,
    },
}

/// A principal of the chain, or the giver of an evidence item.
#[derive(Clone, Debug, PartialEq)]
pub struct Principal<'a> {
    /// The identity, compared byte for byte (decoding refuses an empty one, one with
    /// surrounding whitespace or control characters).
    pub id: Str<'a>,
    /// Human, service or agent: what rules and delegation treat it as.
    pub kind: PrincipalKind,
    /// Role names as given; names the policy does not declare are ignored when deciding.
    pub roles: Vec<Str<'a>>,
    /// Attributes as given (`null` ones dropped), in request order.
    pub attrs: Values<'a>,
}

/// One item of review evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct EvidenceItem<'a> {
    /// The evidence kind's name; items of undeclared kinds never count.
    pub kind: Str<'a>,
    /// The giver (for `by human` kinds; ignored on other kinds).
    pub by: Option<Principal<'a>>,
    /// The change the item is about; an item of a `bound` kind counts only when this equals
    /// the request's `subject` (`None` never does).
    pub subject: Option<Str<'a>>,
    /// Fields as given (`null` ones dropped), in request order.
    pub fields: Values<'a>,
}

/// A value in `args`, `attrs`, `context` or evidence `fields`. See the module documentation for
/// what [`RequestValue::Other`] means.
#[derive(Clone, Debug, PartialEq)]
pub enum RequestValue<'a> {
    /// A string; also the JSON form of durations (`"30m"`) and enumeration values.
    Str(Str<'a>),
    /// A JSON integer within `i64`.
    Int(i64),
    /// A JSON boolean.
    Bool(bool),
    /// A list whose elements are all strings (`[]` included).
    StrList(Vec<Str<'a>>),
    /// Well-formed JSON that is not a writ value: a number that is not a 64-bit integer, an
    /// object, or a list holding anything but strings. Boxed: such values are rare (every
    /// condition on one is unknown), and a `serde_json::Value` inline would more than double
    /// the size of every value, and so the memory a decision reads.
    Other(Box<serde_json::Value>),
}

/// A string that outlives the text it was decoded from.
fn owned(s: Str<'_>) -> Str<'static> {
    Cow::Owned(s.into_owned())
}

fn owned_values(values: Values<'_>) -> Values<'static> {
    values.into_iter().map(|(k, v)| (owned(k), v.into_owned())).collect()
}

impl Request<'_> {
    /// The same request, with every string owned: one that outlives the JSON text it was
    /// decoded from (to keep, or to send to another thread).
    pub fn into_owned(self) -> Request<'static> {
        Request {
            action: match self.action {
                Action::Start { ttl_seconds } => Action::Start { ttl_seconds },
                Action::Call { tool, args } => {
                    Action::Call { tool: owned(tool), args: owned_values(args) }
                }
            },
            workflow: owned(self.workflow),
            chain: self.chain.into_iter().map(Principal::into_owned).collect(),
            subject: self.subject.map(owned),
            evidence: self.evidence.into_iter().map(EvidenceItem::into_owned).collect(),
            context: owned_values(self.context),
            cwd: self.cwd.map(owned),
            time: self.time,
            history: self.history.map(|h| h.into_iter().map(HistoryEntry::into_owned).collect()),
        }
    }
}

impl HistoryEntry<'_> {
    /// The same entry, with its tool's name owned.
    pub fn into_owned(self) -> HistoryEntry<'static> {
        HistoryEntry { tool: owned(self.tool), at: self.at }
    }
}

impl Principal<'_> {
    /// The same principal, with every string owned.
    pub fn into_owned(self) -> Principal<'static> {
        Principal {
            id: owned(self.id),
            kind: self.kind,
            roles: self.roles.into_iter().map(owned).collect(),
            attrs: owned_values(self.attrs),
        }
    }
}

impl EvidenceItem<'_> {
    /// The same item, with every string owned.
    pub fn into_owned(self) -> EvidenceItem<'static> {
        EvidenceItem {
            kind: owned(self.kind),
            by: self.by.map(Principal::into_owned),
            subject: self.subject.map(owned),
            fields: owned_values(self.fields),
        }
    }
}

impl RequestValue<'_> {
    /// The same value, with every string owned.
    pub fn into_owned(self) -> RequestValue<'static> {
        match self {
            RequestValue::Str(s) => RequestValue::Str(owned(s)),
            RequestValue::Int(i) => RequestValue::Int(i),
            RequestValue::Bool(b) => RequestValue::Bool(b),
            RequestValue::StrList(items) => {
                RequestValue::StrList(items.into_iter().map(owned).collect())
            }
            RequestValue::Other(v) => RequestValue::Other(v),
        }
    }
}

/// A request that is not valid JSON or does not fit the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestError {
    /// What is wrong, for callers that act on it (a gateway answers every kind with a deny).
    pub kind: RequestErrorKind,
    /// Where: `chain[1].kind`, `args`, `evidence[0].by.roles[2]`; empty for a JSON syntax error
    /// or a top level that is not an object.
    pub field: String,
    /// What is wrong, in words, as `writ eval` and `writ serve` print it.
    pub message: String,
}

/// What is wrong with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestErrorKind {
    /// Not JSON (or not UTF-8, or nested too deeply).
    Syntax,
    /// A key given twice in one object.
    DuplicateKey,
    /// A required field is absent.
    Missing,
    /// A field holds the wrong kind of JSON value (a number where a string goes).
    WrongType,
    /// A field of the right type holds a value the schema rules out: an empty chain, an id
    /// with whitespace at an end, a timestamp or duration that does not parse, a relative
    /// `cwd`, an unknown `action` or principal kind.
    InvalidValue,
    /// A key the schema does not have, when unknown keys are rejected
    /// ([`Request::from_slice_strict`]).
    UnknownKey,
    /// Set by a gateway for a request it assembles from more than the JSON body (a run
    /// header, a run's history), when that part is wrong.
    Gateway,
}

impl RequestErrorKind {
    /// The kind's stable name, `snake_case` (`missing`, `wrong_type`): what the Python and Node
    /// bindings put in their errors' `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestErrorKind::Syntax => "syntax",
            RequestErrorKind::DuplicateKey => "duplicate_key",
            RequestErrorKind::Missing => "missing",
            RequestErrorKind::WrongType => "wrong_type",
            RequestErrorKind::InvalidValue => "invalid_value",
            RequestErrorKind::UnknownKey => "unknown_key",
            RequestErrorKind::Gateway => "gateway",
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "`{}`: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for RequestError {}

impl RequestError {
    /// An error of `kind` at `field` (empty for the whole request), for a gateway that
    /// assembles a request from more than its JSON body.
    pub fn new(
        kind: RequestErrorKind,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        RequestError { kind, field: field.into(), message: message.into() }
    }
}

impl<'a> Request<'a> {
    /// Decodes a request from JSON text. Strings spelt without escapes are borrowed from
    /// `text` on the fast path (see [`Request::into_owned`]).
    pub fn from_json(text: &'a str) -> Result<Request<'a>, RequestError> {
        match fast::decode_str(text) {
            Some(request) => Ok(request),
            None => Request::from_slice_general(text.as_bytes()),
        }
    }

    /// Decodes a request from JSON bytes (which must be UTF-8).
    pub fn from_slice(bytes: &'a [u8]) -> Result<Request<'a>, RequestError> {
        match fast::decode(bytes) {
            Some(request) => Ok(request),
            None => Request::from_slice_general(bytes),
        }
    }

    /// The general decoder: a JSON tree (duplicate keys kept), checked, then read field by
    /// field in a fixed order so that every error names the first problem. `from_slice` tries
    /// the fast path first and comes here when the request is anything but plain.
    fn from_slice_general(bytes: &[u8]) -> Result<Request<'a>, RequestError> {
        decode_request(Json::parse(bytes).map_err(parse_error)?, &mut IgnoredKeys::default())
    }

    /// The general decoder alone, without the fast path: the oracle that the fuzzer holds the
    /// fast path to (`fuzz/`: [`Request::from_slice`] must give exactly this). Only with the
    /// `reference` feature, never in what a gateway embeds.
    #[cfg(feature = "reference")]
    pub fn from_slice_without_fast_path(bytes: &'a [u8]) -> Result<Request<'a>, RequestError> {
        Request::from_slice_general(bytes)
    }

    /// Decodes a request as [`Request::from_slice`] does, but a key the schema does not have
    /// (`evidance`, `chain[0].rolse`) is an error ([`RequestErrorKind::UnknownKey`], naming the
    /// closest key the schema has) instead of being ignored: `writ eval --strict`,
    /// `writ serve --strict`. Another error found first is reported first.
    pub fn from_slice_strict(bytes: &[u8]) -> Result<Request<'a>, RequestError> {
        let json = Json::parse(bytes).map_err(parse_error)?;
        let mut unknown = IgnoredKeys::default();
        let request = decode_request(json, &mut unknown);
        let Some(key) = unknown.first() else { return request };
        match request {
            // A required field missing beside an unknown key is most likely that key
            // misspelt: the unknown key, with its "did you mean", says more.
            Ok(_) => Err(key.error()),
            Err(e) if e.kind == RequestErrorKind::Missing => Err(key.error()),
            Err(e) => Err(e),
        }
    }

    /// Decodes with [`Request::from_slice`] or [`Request::from_slice_strict`], as `unknown`
    /// says.
    pub fn from_slice_with(
        bytes: &'a [u8],
        unknown: UnknownKeys,
    ) -> Result<Request<'a>, RequestError> {
        match unknown {
            UnknownKeys::Ignore => Request::from_slice(bytes),
            UnknownKeys::Reject => Request::from_slice_strict(bytes),
        }
    }

    /// The keys of a request that the schema does not have and decoding ignores, by path
    /// (`evidance`, `chain[0].rolse`), each with the closest key the schema has, if one is
    /// close: what `writ eval --explain` notes. Empty for a request that does not decode.
    pub fn unknown_keys(bytes: &[u8]) -> Vec<UnknownKey> {
        let Ok(json) = Json::parse(bytes) else { return Vec::new() };
        let mut unknown = IgnoredKeys::default();
        match decode_request(json, &mut unknown) {
            Ok(_) => unknown.keys,
            Err(_) => Vec::new(),
        }
    }

    /// The first principal of the chain: the accountable identity that set the work going.
    pub fn initiator(&self) -> Option<&Principal<'a>> {
        self.chain.first()
    }

    /// The last principal of the chain: who makes this request.
    pub fn caller(&self) -> Option<&Principal<'a>> {
        self.chain.last()
    }

    /// Delegation hops: the chain's length minus one.
    pub fn depth(&self) -> usize {
        self.chain.len().saturating_sub(1)
    }

    /// The request as JSON text, in the schema of LANGUAGE.md §5.
    pub fn to_json(&self) -> String {
        // Serializing strings, integers and JSON values into a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl<'a> Principal<'a> {
    /// A principal with no roles and no attributes.
    pub fn new(id: impl Into<Str<'a>>, kind: PrincipalKind) -> Principal<'a> {
        Principal { id: id.into(), kind, roles: Vec::new(), attrs: Vec::new() }
    }
}

impl RequestValue<'_> {
    /// What kind of value this is, for messages.
    pub fn describe(&self) -> &'static str {
        match self {
            RequestValue::Str(_) => "a string",
            RequestValue::Int(_) => "an integer",
            RequestValue::Bool(_) => "a boolean",
            RequestValue::StrList(_) => "a list of strings",
            RequestValue::Other(other) => match &**other {
                serde_json::Value::Object(_) => "an object",
                serde_json::Value::Array(_) => "a list that is not all strings",
                serde_json::Value::Number(n) if n.is_f64() => {
                    crate::json::describe_float(n.as_f64().unwrap_or(f64::NAN))
                }
                serde_json::Value::Number(_) => "an integer outside the 64-bit range",
                _ => "a value that is not a writ value",
            },
        }
    }
}

impl fmt::Display for RequestValue<'_> {
    /// The value as JSON (compact; long values are shortened).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        self.write_shown(&mut text);
        f.write_str(&text)
    }
}

impl RequestValue<'_> {
    /// The most characters of a value shown in a reason: longer ones are cut, marked `…`.
    const SHOWN: usize = 80;

    /// Appends the value as [`fmt::Display`] shows it (compact JSON, cut to
    /// [`Self::SHOWN`] characters), without a text of its own: reasons name values often.
    pub(crate) fn write_shown(&self, out: &mut String) {
        let start = out.len();
        match self {
            RequestValue::Str(s) => crate::json::write_string(out, s),
            RequestValue::Int(i) => {
                use fmt::Write as _;
                let _ = write!(out, "{i}");
            }
            RequestValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            RequestValue::StrList(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    crate::json::write_string(out, item);
                }
                out.push(']');
            }
            RequestValue::Other(v) => out.push_str(&v.to_string()),
        }
        let cut = out.get(start..).and_then(|shown| shown.char_indices().nth(Self::SHOWN));
        if let Some((at, _)) = cut {
            out.truncate(start + at);
            out.push('…');
        }
    }
}

/// Cuts `text` to at most `max` characters, marking the cut with `…`.
pub(crate) fn shorten(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => text.into(),
        Some((at, _)) => format!("{}…", &text[..at]).into(),
    }
}

/// Parses a duration in the syntax of LANGUAGE.md §1 (`[0-9]+[smhd]`), in seconds; `None` when
/// the text is not one or its seconds do not fit in an `i64`.
pub fn parse_duration(text: &str) -> Option<i64> {
    let unit = text.chars().last()?;
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let scale: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    let mut n: i64 = 0;
    for b in digits.bytes() {
        n = n.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    n.checked_mul(scale)
}

/// Formats seconds in the largest unit that divides them exactly (`1800` is `30m`).
pub fn format_duration(seconds: i64) -> String {
    for (scale, unit) in [(86_400, 'd'), (3600, 'h'), (60, 'm')] {
        if seconds != 0 && seconds % scale == 0 {
            return format!("{}{unit}", seconds / scale);
        }
    }
    format!("{seconds}s")
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// A key the request schema does not have, found while decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownKey {
    /// Where: `evidance`, `chain[0].rolse`.
    pub field: String,
    /// The key the schema has at that place that is closest to it, if one is close.
    pub did_you_mean: Option<&'static str>,
}

impl UnknownKey {
    fn error(&self) -> RequestError {
        let message = match self.did_you_mean {
            Some(key) => format!("unknown key; did you mean `{key}`?"),
            None => "unknown key".to_owned(),
        };
        RequestError { kind: RequestErrorKind::UnknownKey, field: self.field.clone(), message }
    }
}

/// What a request key that the schema does not have is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownKeys {
    /// Ignored, as LANGUAGE.md §7 says (the default).
    #[default]
    Ignore,
    /// An error ([`RequestErrorKind::UnknownKey`]): `--strict`.
    Reject,
}

/// The unknown keys met while decoding, in document order (no allocation until there is one).
#[derive(Default)]
pub(crate) struct IgnoredKeys {
    keys: Vec<UnknownKey>,
}

impl IgnoredKeys {
    /// Notes `key` of the object at `path`, whose schema has the keys `known`.
    fn note(&mut self, path: &Path<'_>, key: &str, known: &'static [&'static str]) {
        if self.keys.len() >= 64 {
            return;
        }
        let did_you_mean = known
            .iter()
            .map(|k| (strsim::damerau_levenshtein(k, key), *k))
            .filter(|&(distance, k)| distance <= (k.len() / 3).max(1))
            .min_by_key(|&(distance, _)| distance)
            .map(|(_, k)| k);
        self.keys.push(UnknownKey { field: Path::Key(path, key).render(), did_you_mean });
    }

    fn first(&self) -> Option<&UnknownKey> {
        self.keys.first()
    }
}

/// The keys of a request object, of a principal, of an evidence item and of a history entry
/// (LANGUAGE.md §5): what the decoders below read, and nothing else.
const REQUEST_KEYS: &[&str] = &[
    "action", "workflow", "tool", "args", "chain", "subject", "evidence", "context", "ttl", "cwd",
    "time", "history",
];
const PRINCIPAL_KEYS: &[&str] = &["id", "kind", "roles", "attrs"];
const EVIDENCE_KEYS: &[&str] = &["kind", "by", "subject", "fields"];
const HISTORY_KEYS: &[&str] = &["tool", "at"];

/// The error of a text that `Json::parse` refuses.
fn parse_error((path, problem): (Path<'static>, crate::json::ParseProblem)) -> RequestError {
    let kind = match problem {
        crate::json::ParseProblem::Syntax(_) => RequestErrorKind::Syntax,
        crate::json::ParseProblem::DuplicateKey(_) => RequestErrorKind::DuplicateKey,
    };
    RequestError { kind, field: path.render(), message: problem.to_string() }
}

fn err(path: &Path<'_>, message: impl Into<String>) -> RequestError {
    RequestError {
        kind: RequestErrorKind::InvalidValue,
        field: path.render(),
        message: message.into(),
    }
}

fn missing(path: &Path<'_>) -> RequestError {
    RequestError {
        kind: RequestErrorKind::Missing,
        field: path.render(),
        message: "missing required field".to_owned(),
    }
}

/// `expected a string, found an integer`: what the value is, not what it says.
fn expected(path: &Path<'_>, what: &str, found: &Json) -> RequestError {
    RequestError {
        kind: RequestErrorKind::WrongType,
        field: path.render(),
        message: format!("expected {what}, found {}", found.describe()),
    }
}

/// `expected one of `human`, `service`, `agent`, found `robot``: for a choice among words (or
/// a string of some form), a string found is quoted.
fn expected_one_of(path: &Path<'_>, what: &str, found: &Json) -> RequestError {
    match found {
        Json::Str(s) => err(path, format!("expected {what}, found `{}`", shorten(s, 60))),
        other => expected(path, what, other),
    }
}

type Entries = Vec<(String, Json)>;

fn object(path: &Path<'_>, json: Json) -> Result<Entries, RequestError> {
    match json {
        Json::Object(entries) => Ok(entries),
        other => Err(expected(path, "an object", &other)),
    }
}

/// An optional object: absent or `null` is empty.
fn optional_object(path: &Path<'_>, json: Option<Json>) -> Result<Entries, RequestError> {
    match json {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(json) => object(path, json),
    }
}

fn string(path: &Path<'_>, json: Json) -> Result<Str<'static>, RequestError> {
    match json {
        Json::Str(s) => Ok(Cow::Owned(s)),
        other => Err(expected(path, "a string", &other)),
    }
}

fn required<'a>(
    parent: &'a Path<'a>,
    key: &'a str,
    json: Option<Json>,
) -> Result<(Path<'a>, Json), RequestError> {
    let path = Path::Key(parent, key);
    match json {
        Some(json) => Ok((path, json)),
        None => Err(missing(&path)),
    }
}

fn optional_string(
    path: &Path<'_>,
    json: Option<Json>,
) -> Result<Option<Str<'static>>, RequestError> {
    match json {
        None | Some(Json::Null) => Ok(None),
        Some(json) => string(path, json).map(Some),
    }
}

fn decode_request(json: Json, unknown: &mut IgnoredKeys) -> Result<Request<'static>, RequestError> {
    let root = Path::Root;
    let entries = match json {
        Json::Object(entries) => entries,
        other => {
            return Err(RequestError {
                kind: RequestErrorKind::WrongType,
                field: String::new(),
                message: format!("expected a JSON object, found {}", other.describe()),
            });
        }
    };
    let mut action = None;
    let mut workflow = None;
    let mut tool = None;
    let mut args = None;
    let mut chain = None;
    let mut subject = None;
    let mut evidence = None;
    let mut context = None;
    let mut ttl = None;
    let mut cwd = None;
    let mut time = None;
    let mut history = None;
    for (key, value) in entries {
        let slot = match key.as_str() {
            "action" => &mut action,
            "workflow" => &mut workflow,
            "tool" => &mut tool,
            "args" => &mut args,
            "chain" => &mut chain,
            "subject" => &mut subject,
            "evidence" => &mut evidence,
            "context" => &mut context,
            "ttl" => &mut ttl,
            "cwd" => &mut cwd,
            "time" => &mut time,
            "history" => &mut history,
            _ => {
                unknown.note(&root, &key, REQUEST_KEYS);
                continue;
            }
        };
        *slot = Some(value);
    }

    // `action` first: it decides which of `tool`, `args` and `ttl` are checked. Then the
    // fields in a fixed order, so that a request with several problems always reports the same.
    let (path, action) = required(&root, "action", action)?;
    let is_call = match &action {
        Json::Str(s) if s == "call" => true,
        Json::Str(s) if s == "start" => false,
        other => return Err(expected_one_of(&path, "one of `start`, `call`", other)),
    };
    let (path, workflow) = required(&root, "workflow", workflow)?;
    let workflow = string(&path, workflow)?;
    let action = if is_call {
        let (path, tool) = required(&root, "tool", tool)?;
        let tool = string(&path, tool)?;
        let path = Path::Key(&root, "args");
        let args = values(optional_object(&path, args)?);
        Action::Call { tool, args }
    } else {
        let path = Path::Key(&root, "ttl");
        let ttl_seconds = match ttl {
            None | Some(Json::Null) => None,
            Some(Json::Str(s)) => Some(parse_duration(&s).ok_or_else(|| {
                err(
                    &path,
                    format!(
                        "expected a duration such as \"20m\" (digits and one of s, m, h, d, \
                         within 64 bits of seconds), found `{}`",
                        shorten(&s, 60)
                    ),
                )
            })?),
            Some(other) => return Err(expected(&path, "a duration such as \"20m\"", &other)),
        };
        Action::Start { ttl_seconds }
    };

    let (path, chain) = required(&root, "chain", chain)?;
    let chain = match chain {
        Json::Array(items) if items.is_empty() => {
            return Err(err(&path, "expected at least one principal, found an empty list"));
        }
        Json::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| principal(&Path::Index(&path, i), item, unknown))
            .collect::<Result<Vec<_>, _>>()?,
        other => return Err(expected(&path, "a list of principals", &other)),
    };

    let subject = non_empty(optional_string(&Path::Key(&root, "subject"), subject)?);

    let path = Path::Key(&root, "evidence");
    let evidence = match evidence {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| evidence_item(&Path::Index(&path, i), item, unknown))
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => return Err(expected(&path, "a list of evidence items", &other)),
    };

    let path = Path::Key(&root, "context");
    let context = values(optional_object(&path, context)?);

    let cwd = match cwd {
        None | Some(Json::Null) => None,
        Some(Json::Str(s)) if s.starts_with('/') => Some(Cow::Owned(s)),
        Some(other) => return Err(expected_one_of(&Path::Key(&root, "cwd"), ABSOLUTE, &other)),
    };
    let time = optional_timestamp(&Path::Key(&root, "time"), time)?;

    let path = Path::Key(&root, "history");
    let history = match history {
        None | Some(Json::Null) => None,
        Some(Json::Array(items)) => Some(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| history_entry(&Path::Index(&path, i), item, unknown))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(other) => return Err(expected(&path, "a list of history entries", &other)),
    };

    Ok(Request { action, workflow, chain, subject, evidence, context, cwd, time, history })
}

/// What a `cwd` must be.
const ABSOLUTE: &str = "an absolute path (a string starting with `/`)";

/// What a `time` or `at` must be.
const TIMESTAMP: &str = "an RFC 3339 timestamp such as \"2026-12-02T16:00:00Z\"";

/// §7: an empty `subject` is absent.
fn non_empty(subject: Option<Str<'_>>) -> Option<Str<'_>> {
    subject.filter(|s| !s.is_empty())
}

/// §7: why `id` is not a canonical spelling of an identity (empty, whitespace at either end,
/// a control character), or `None` if it is one.
///
/// Inlined: its common case is a few instructions, and the request scanner asks it of every id.
#[inline]
pub(crate) fn id_problem(id: &str) -> Option<String> {
    if plain_id(id) { None } else { exact_id_problem(id) }
}

/// [`id_problem`] character by character.
#[inline(never)]
fn exact_id_problem(id: &str) -> Option<String> {
    let (Some(first), Some(last)) = (id.chars().next(), id.chars().next_back()) else {
        return Some("expected an id, found an empty string".to_owned());
    };
    if let Some((at, c)) = id.char_indices().find(|&(_, c)| is_control(c)) {
        return Some(format!(
            "an id may not contain a control character, found U+{:04X} at byte {at}",
            u32::from(c)
        ));
    }
    if first.is_whitespace() {
        return Some(format!(
            "an id may not start with whitespace, found U+{:04X}",
            u32::from(first)
        ));
    }
    if last.is_whitespace() {
        return Some(format!("an id may not end with whitespace, found U+{:04X}", u32::from(last)));
    }
    None
}

/// The common case of [`id_problem`], a word at a time: not empty, no space at either end, and
/// every byte from 0x20 to 0x7E (so no whitespace at the ends and no control character). It may
/// say no to a good id, which [`id_problem`] then reads character by character.
fn plain_id(id: &str) -> bool {
    use crate::bytes::{HIGH, ONES};
    let bytes = id.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if first <= b' ' || last <= b' ' {
        return false;
    }
    let mut chunks = bytes.chunks_exact(8);
    // A byte at or above 0x7F sets its high bit in `x` or in `x + 1`, and one below 0x20 in
    // `x - 0x20` (a carry or borrow can only mark another byte, which sends a good id to the
    // exact test, no more).
    let high = chunks.by_ref().fold(0, |acc, chunk| {
        let x = <[u8; 8]>::try_from(chunk).map_or(HIGH, u64::from_le_bytes);
        acc | ((x | x.wrapping_add(ONES) | x.wrapping_sub(ONES * 0x20)) & HIGH)
    });
    high == 0 && chunks.remainder().iter().all(|b| (b' '..0x7F).contains(b))
}

/// U+0000–U+001F and U+007F–U+009F (Unicode's `Cc`).
fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

fn optional_timestamp(
    path: &Path<'_>,
    json: Option<Json>,
) -> Result<Option<Timestamp>, RequestError> {
    match json {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Str(s)) => match Timestamp::parse(&s) {
            Ok(t) => Ok(Some(t)),
            Err(why) => {
                Err(err(path, format!("expected {TIMESTAMP}, found `{}` ({why})", shorten(&s, 60))))
            }
        },
        Some(other) => Err(expected(path, TIMESTAMP, &other)),
    }
}

fn history_entry(
    path: &Path<'_>,
    json: Json,
    unknown: &mut IgnoredKeys,
) -> Result<HistoryEntry<'static>, RequestError> {
    let entries = object(path, json)?;
    let mut tool = None;
    let mut at = None;
    for (key, value) in entries {
        let slot = match key.as_str() {
            "tool" => &mut tool,
            "at" => &mut at,
            _ => {
                unknown.note(path, &key, HISTORY_KEYS);
                continue;
            }
        };
        *slot = Some(value);
    }
    let (tool_path, tool) = required(path, "tool", tool)?;
    let tool = string(&tool_path, tool)?;
    let at = optional_timestamp(&Path::Key(path, "at"), at)?;
    Ok(HistoryEntry { tool, at })
}

pub(crate) fn principal(
    path: &Path<'_>,
    json: Json,
    unknown: &mut IgnoredKeys,
) -> Result<Principal<'static>, RequestError> {
    let entries = object(path, json)?;
    let mut id = None;
    let mut kind = None;
    let mut roles = None;
    let mut attrs = None;
    for (key, value) in entries {
        let slot = match key.as_str() {
            "id" => &mut id,
            "kind" => &mut kind,
            "roles" => &mut roles,
            "attrs" => &mut attrs,
            _ => {
                unknown.note(path, &key, PRINCIPAL_KEYS);
                continue;
            }
        };
        *slot = Some(value);
    }
    let (id_path, id) = required(path, "id", id)?;
    let id = string(&id_path, id)?;
    if let Some(problem) = id_problem(&id) {
        return Err(err(&id_path, problem));
    }
    let (kind_path, kind) = required(path, "kind", kind)?;
    let kind = match &kind {
        Json::Str(s) if s == "human" => PrincipalKind::Human,
        Json::Str(s) if s == "service" => PrincipalKind::Service,
        Json::Str(s) if s == "agent" => PrincipalKind::Agent,
        other => {
            return Err(expected_one_of(&kind_path, "one of `human`, `service`, `agent`", other));
        }
    };
    let roles_path = Path::Key(path, "roles");
    let roles = match roles {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| string(&Path::Index(&roles_path, i), item))
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => return Err(expected(&roles_path, "a list of strings", &other)),
    };
    let attrs_path = Path::Key(path, "attrs");
    let attrs = values(optional_object(&attrs_path, attrs)?);
    Ok(Principal { id, kind, roles, attrs })
}

fn evidence_item(
    path: &Path<'_>,
    json: Json,
    unknown: &mut IgnoredKeys,
) -> Result<EvidenceItem<'static>, RequestError> {
    let entries = object(path, json)?;
    let mut kind = None;
    let mut by = None;
    let mut subject = None;
    let mut fields = None;
    for (key, value) in entries {
        let slot = match key.as_str() {
            "kind" => &mut kind,
            "by" => &mut by,
            "subject" => &mut subject,
            "fields" => &mut fields,
            _ => {
                unknown.note(path, &key, EVIDENCE_KEYS);
                continue;
            }
        };
        *slot = Some(value);
    }
    let (kind_path, kind) = required(path, "kind", kind)?;
    let kind = string(&kind_path, kind)?;
    let by = match by {
        None | Some(Json::Null) => None,
        Some(json) => Some(principal(&Path::Key(path, "by"), json, unknown)?),
    };
    let subject = non_empty(optional_string(&Path::Key(path, "subject"), subject)?);
    let fields_path = Path::Key(path, "fields");
    let fields = values(optional_object(&fields_path, fields)?);
    Ok(EvidenceItem { kind, by, subject, fields })
}

/// The values of an object, `null` ones dropped. Never fails: a value that is not a writ
/// value is kept as [`RequestValue::Other`].
pub(crate) fn values(entries: Entries) -> Values<'static> {
    entries
        .into_iter()
        .filter_map(|(key, json)| value(json).map(|v| (Cow::Owned(key), v)))
        .collect()
}

pub(crate) fn value(json: Json) -> Option<RequestValue<'static>> {
    Some(match json {
        Json::Null => return None,
        Json::Str(s) => RequestValue::Str(Cow::Owned(s)),
        Json::Int(i) => RequestValue::Int(i),
        Json::Bool(b) => RequestValue::Bool(b),
        Json::Array(items) if items.iter().all(|i| matches!(i, Json::Str(_))) => {
            RequestValue::StrList(
                items
                    .into_iter()
                    .filter_map(|i| match i {
                        Json::Str(s) => Some(Cow::Owned(s)),
                        _ => None,
                    })
                    .collect(),
            )
        }
        other => RequestValue::Other(Box::new(other.into_value())),
    })
}

// ---------------------------------------------------------------------------------------------
// Encoding (the same schema)

struct Pairs<'a>(&'a [(Str<'a>, RequestValue<'a>)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Serialize for RequestValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RequestValue::Str(v) => s.serialize_str(v),
            RequestValue::Int(v) => s.serialize_i64(*v),
            RequestValue::Bool(v) => s.serialize_bool(*v),
            RequestValue::StrList(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            RequestValue::Other(v) => v.serialize(s),
        }
    }
}

impl Serialize for Principal<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Principal", 4)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("kind", self.kind.as_str())?;
        if !self.roles.is_empty() {
            st.serialize_field("roles", &self.roles)?;
        }
        if !self.attrs.is_empty() {
            st.serialize_field("attrs", &Pairs(&self.attrs))?;
        }
        st.end()
    }
}

impl Serialize for EvidenceItem<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("EvidenceItem", 4)?;
        st.serialize_field("kind", &self.kind)?;
        if let Some(by) = &self.by {
            st.serialize_field("by", by)?;
        }
        if let Some(subject) = &self.subject {
            st.serialize_field("subject", subject)?;
        }
        if !self.fields.is_empty() {
            st.serialize_field("fields", &Pairs(&self.fields))?;
        }
        st.end()
    }
}

impl Serialize for HistoryEntry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("HistoryEntry", 2)?;
        st.serialize_field("tool", &self.tool)?;
        if let Some(at) = &self.at {
            st.serialize_field("at", at)?;
        }
        st.end()
    }
}

impl Serialize for Request<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Request", 12)?;
        match &self.action {
            Action::Start { ttl_seconds } => {
                st.serialize_field("action", "start")?;
                st.serialize_field("workflow", &self.workflow)?;
                if let Some(ttl) = ttl_seconds {
                    st.serialize_field("ttl", &format_duration(*ttl))?;
                }
            }
            Action::Call { tool, args } => {
                st.serialize_field("action", "call")?;
                st.serialize_field("workflow", &self.workflow)?;
                st.serialize_field("tool", tool)?;
                st.serialize_field("args", &Pairs(args))?;
            }
        }
        st.serialize_field("chain", &self.chain)?;
        if let Some(subject) = &self.subject {
            st.serialize_field("subject", subject)?;
        }
        if !self.evidence.is_empty() {
            st.serialize_field("evidence", &self.evidence)?;
        }
        if !self.context.is_empty() {
            st.serialize_field("context", &Pairs(&self.context))?;
        }
        if let Some(cwd) = &self.cwd {
            st.serialize_field("cwd", cwd)?;
        }
        if let Some(time) = &self.time {
            st.serialize_field("time", time)?;
        }
        if let Some(history) = &self.history {
            st.serialize_field("history", history)?;
        }
        st.end()
    }
}

mod fast;

#[cfg(test)]
mod tests;
