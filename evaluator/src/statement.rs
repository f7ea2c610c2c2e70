//! Signed evidence statements and the trust file (`docs/evidence.md`).
//!
//! A *statement* says "SIGNER attests KIND (with FIELDS) for SUBJECT, issued at T, valid until
//! E", signed with ed25519 (the keys of `writ keygen`, [`crate::bundle`]). A *trust file* names
//! the signers a gateway believes and the principal each speaks for. [`Trust::admit`] verifies
//! statements for one request and adds the valid ones to its evidence; the giver of each item
//! comes from the trust file, never from the statement or the request. Everything here is pure
//! (no IO): the CLI, the hook, the MCP proxy and the server read the bytes and pass them in.
//!
//! ```text
//! {"writ_statement":1,"signer":"writ-ed25519-public:<64 hex>","kind":"approval",
//!  "subject":"sha256:…","fields":{},"issued_at":"2026-12-03T11:00:00Z",
//!  "expires_at":"2026-12-04T11:00:00Z","signature":"ed25519:<128 hex>"}
//! ```
//!
//! # The signed bytes
//!
//! The signature covers [`DOMAIN`] (`writ-statement-v1` and a newline) followed by the
//! statement's *canonical form*: the JSON object above without `signature`, with no whitespace,
//! its keys in the order shown, the keys of `fields` sorted by their UTF-8 bytes, and strings
//! escaped as `serde_json` escapes them (`"` and `\` with a backslash; control characters as
//! `\n`, `\t`, ... or `\u00XX` in lowercase hex; everything else as is). Timestamps and the
//! signer's key are signed as written, so a verifier re-encodes the parsed statement and checks
//! the signature over those bytes: changing any value changes the signed bytes. The statement's
//! *digest* is `sha256:<hex>` of its canonical form with the signature (the line `writ attest`
//! writes, without its newline): the statement's name in logs and in the server.
//!
//! # Strictness
//!
//! A statement is one JSON object with exactly the eight keys above (an unknown or duplicate key
//! is malformed, so a field added beside the signed ones cannot pass unnoticed), at most
//! [`MAX_STATEMENT_BYTES`] long. `fields` values are writ values: strings, 64-bit integers,
//! booleans and lists of strings. `subject` and `kind` are non-empty. `expires_at` is not
//! before `issued_at`. The signature's hex digits are lowercase.
//!
//! # Bounds
//!
//! Each statement costs one JSON parse of at most [`MAX_STATEMENT_BYTES`]. Of those for the
//! request's subject, [`Trust::admit`] verifies at most [`MAX_CONSIDERED`] (in the order given;
//! the rest are counted in [`Admitted::skipped`]), each one ed25519 verification when its signer
//! is trusted. 10,000 statements for one subject therefore cost 10,000 parses and at most 1,000
//! verifications (about 50 ms), and add at most 1,000 evidence items to the request. Callers
//! bound how many statements they read (files, a server's store).

use std::collections::{HashMap, HashSet};
use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{Map, Value};

use crate::bundle::{self, KeyError};
use crate::json::{Json, Path};
use crate::log::digest;
use crate::request::{self, EvidenceItem, Principal, Request, RequestValue, Str, Values};
use crate::time::Timestamp;

/// The version of the statement format (`writ_statement`).
pub const STATEMENT_VERSION: i64 = 1;
/// What the signed bytes start with, so that a statement's signature can never be mistaken for
/// one over a bundle, a log checkpoint or anything else signed with the same key.
pub const DOMAIN: &[u8] = b"writ-statement-v1\n";
/// The longest statement read, in bytes; a longer one is rejected unread.
pub const MAX_STATEMENT_BYTES: usize = 16 * 1024;
/// How many statements [`Trust::admit`] considers for one request.
pub const MAX_CONSIDERED: usize = 1_000;
/// How far in the future `issued_at` may lie (clocks differ between machines).
pub const CLOCK_SKEW_SECONDS: i64 = 60;

pub(crate) const SIGNATURE_PREFIX: &str = "ed25519:";
const KEYS: [&str; 8] = [
    "writ_statement",
    "signer",
    "kind",
    "subject",
    "fields",
    "issued_at",
    "expires_at",
    "signature",
];

/// A statement, parsed (its signature not yet checked: see [`Trust::admit`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    /// The signer's public key as written (`writ-ed25519-public:<hex>`).
    signer: String,
    key: VerifyingKey,
    kind: String,
    subject: String,
    /// Sorted by key, keys unique.
    fields: Values<'static>,
    issued_at_text: String,
    issued_at: Timestamp,
    expires_at_text: String,
    expires_at: Timestamp,
    signature: Signature,
}

/// Why a statement does not count. Never an error that blocks a decision: the statement is
/// ignored and the reason reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Not a statement: bad JSON, a missing, unknown or duplicate key, a value of the wrong
    /// type or form.
    Malformed {
        /// What is wrong with it.
        message: String,
    },
    /// Longer than [`MAX_STATEMENT_BYTES`].
    TooLarge {
        /// Its length in bytes.
        bytes: usize,
    },
    /// A `writ_statement` version this writ does not read.
    UnsupportedVersion {
        /// The version as written.
        found: String,
    },
    /// Its signer's key is not in the trust file.
    UnknownSigner {
        /// The signer's public key as the statement writes it.
        key: String,
    },
    /// The signature does not verify: the statement was altered, or signed by another key.
    BadSignature,
    /// The trust file does not let this signer attest this kind (`may_attest`).
    NotAttestable {
        /// The id of the principal the signer speaks for (from the trust file).
        signer: String,
        /// The kind the statement attests.
        kind: String,
    },
    /// Its validity ended (`expires_at` is not after now).
    Expired {
        /// When it ended.
        expires_at: Timestamp,
    },
    /// Its validity has not begun (`issued_at` lies ahead, beyond [`CLOCK_SKEW_SECONDS`]).
    NotYetValid {
        /// When it begins.
        issued_at: Timestamp,
    },
    /// It is for another subject than the request's (or the request has none).
    OtherSubject {
        /// The statement's subject.
        statement: String,
        /// The request's subject; `None` when it has none.
        request: Option<String>,
    },
    /// The same statement (same digest) was already counted for this request.
    Duplicate,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Malformed { message } => write!(f, "malformed statement: {message}"),
            Rejection::TooLarge { bytes } => write!(
                f,
                "the statement is {bytes} bytes long, more than the {MAX_STATEMENT_BYTES} allowed"
            ),
            Rejection::UnsupportedVersion { found } => write!(
                f,
                "statement version {found} is not supported (this writ reads version \
                 {STATEMENT_VERSION})"
            ),
            Rejection::UnknownSigner { key } => {
                write!(f, "the signer `{key}` is not in the trust file")
            }
            Rejection::BadSignature => f.write_str(
                "the signature does not verify: the statement was altered, or signed by another key",
            ),
            Rejection::NotAttestable { signer, kind } => {
                write!(f, "the trust file does not let `{signer}` attest `{kind}`")
            }
            Rejection::Expired { expires_at } => write!(f, "the statement expired at {expires_at}"),
            Rejection::NotYetValid { issued_at } => {
                write!(f, "the statement is not valid before {issued_at}")
            }
            Rejection::OtherSubject { statement, request: Some(request) } => write!(
                f,
                "the statement is for subject `{statement}`, not the request's `{request}`"
            ),
            Rejection::OtherSubject { statement, request: None } => write!(
                f,
                "the statement is for subject `{statement}`, and the request names no subject"
            ),
            Rejection::Duplicate => f.write_str("the same statement was given twice"),
        }
    }
}

impl std::error::Error for Rejection {}

impl Rejection {
    /// A short stable name for the reason (`bad_signature`, `expired`, ...), for JSON answers.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Malformed { .. } => "malformed",
            Rejection::TooLarge { .. } => "too_large",
            Rejection::UnsupportedVersion { .. } => "unsupported_version",
            Rejection::UnknownSigner { .. } => "unknown_signer",
            Rejection::BadSignature => "bad_signature",
            Rejection::NotAttestable { .. } => "not_attestable",
            Rejection::Expired { .. } => "expired",
            Rejection::NotYetValid { .. } => "not_yet_valid",
            Rejection::OtherSubject { .. } => "other_subject",
            Rejection::Duplicate => "duplicate",
        }
    }
}

fn malformed(message: impl Into<String>) -> Rejection {
    Rejection::Malformed { message: message.into() }
}

impl Statement {
    /// Signs a new statement with `key`. `fields` are sorted by key (a later duplicate
    /// replaces an earlier one). Returns `None` when `expires_at` is before `issued_at`, the
    /// kind or subject is empty, or a field holds a value that is not a writ value.
    pub fn sign(
        key: &SigningKey,
        kind: &str,
        subject: &str,
        fields: Values<'static>,
        issued_at: Timestamp,
        expires_at: Timestamp,
    ) -> Option<Statement> {
        if kind.is_empty() || subject.is_empty() || expires_at < issued_at {
            return None;
        }
        let mut sorted: Values<'_> = Vec::with_capacity(fields.len());
        for (name, value) in fields {
            if matches!(value, RequestValue::Other(_)) {
                return None;
            }
            match sorted.binary_search_by(|(k, _)| k.as_bytes().cmp(name.as_bytes())) {
                Ok(at) => {
                    if let Some(slot) = sorted.get_mut(at) {
                        slot.1 = value;
                    }
                }
                Err(at) => sorted.insert(at, (name, value)),
            }
        }
        let verifying = key.verifying_key();
        let mut statement = Statement {
            signer: bundle::encode_verifying_key(&verifying).trim_end().to_owned(),
            key: verifying,
            kind: kind.to_owned(),
            subject: subject.to_owned(),
            fields: sorted,
            issued_at_text: issued_at.to_string(),
            issued_at,
            expires_at_text: expires_at.to_string(),
            expires_at,
            signature: Signature::from_bytes(&[0; 64]),
        };
        statement.signature = key.sign(&statement.signed_bytes());
        Some(statement)
    }

    /// Parses a statement (see the module documentation for what is accepted). Does not check
    /// the signature.
    pub fn parse(bytes: &[u8]) -> Result<Statement, Rejection> {
        if bytes.len() > MAX_STATEMENT_BYTES {
            return Err(Rejection::TooLarge { bytes: bytes.len() });
        }
        let json = Json::parse(bytes).map_err(|(path, message)| {
            let at = path.render();
            malformed(if at.is_empty() {
                message.to_string()
            } else {
                format!("`{at}`: {message}")
            })
        })?;
        let Json::Object(entries) = json else {
            return Err(malformed(format!("expected a JSON object, found {}", json.describe())));
        };
        let mut slots: [Option<Json>; 8] = Default::default();
        for (key, value) in entries {
            let Some(at) = KEYS.iter().position(|k| *k == key) else {
                return Err(malformed(format!(
                    "unknown key `{}` (a statement has exactly: {})",
                    request::shorten(&key, 40),
                    KEYS.join(", ")
                )));
            };
            if let Some(slot) = slots.get_mut(at) {
                *slot = Some(value);
            }
        }
        let [version, signer, kind, subject, fields, issued_at, expires_at, signature] = slots;
        let missing = |key: &str| malformed(format!("`{key}`: missing required field"));
        match version {
            Some(Json::Int(STATEMENT_VERSION)) => {}
            Some(Json::Int(other)) => {
                return Err(Rejection::UnsupportedVersion { found: other.to_string() });
            }
            Some(other) => {
                return Err(malformed(format!(
                    "`writ_statement`: expected the integer {STATEMENT_VERSION}, found {}",
                    other.describe()
                )));
            }
            None => return Err(missing("writ_statement")),
        }
        let text = |key: &str, json: Option<Json>| -> Result<String, Rejection> {
            match json {
                Some(Json::Str(s)) if s.is_empty() => {
                    Err(malformed(format!("`{key}`: expected a non-empty string")))
                }
                Some(Json::Str(s)) => Ok(s),
                Some(other) => Err(malformed(format!(
                    "`{key}`: expected a string, found {}",
                    other.describe()
                ))),
                None => Err(missing(key)),
            }
        };
        let signer = text("signer", signer)?;
        let key = bundle::parse_verifying_key(&signer)
            .map_err(|e: KeyError| malformed(format!("`signer`: {e}")))?;
        if signer.trim() != signer {
            return Err(malformed("`signer`: surrounding whitespace"));
        }
        let kind = text("kind", kind)?;
        let subject = text("subject", subject)?;
        let fields = match fields {
            Some(Json::Object(entries)) => {
                let mut out = request::values(entries);
                if let Some((name, value)) =
                    out.iter().find(|(_, v)| matches!(v, RequestValue::Other(_)))
                {
                    return Err(malformed(format!(
                        "`fields.{name}`: expected a string, integer, boolean or list of strings, \
                         found {}",
                        value.describe()
                    )));
                }
                out.sort_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
                out
            }
            Some(other) => {
                return Err(malformed(format!(
                    "`fields`: expected an object, found {}",
                    other.describe()
                )));
            }
            None => return Err(missing("fields")),
        };
        let time = |key: &str, json: Option<Json>| -> Result<(String, Timestamp), Rejection> {
            let text = text(key, json)?;
            match Timestamp::parse(&text) {
                Ok(t) => Ok((text, t)),
                Err(e) => Err(malformed(format!("`{key}`: not an RFC 3339 timestamp ({e})"))),
            }
        };
        let (issued_at_text, issued_at) = time("issued_at", issued_at)?;
        let (expires_at_text, expires_at) = time("expires_at", expires_at)?;
        if expires_at < issued_at {
            return Err(malformed("`expires_at` is before `issued_at`"));
        }
        let signature = text("signature", signature)?;
        let signature = parse_signature(&signature).ok_or_else(|| {
            malformed(format!(
                "`signature`: expected `{SIGNATURE_PREFIX}` and 128 lowercase hex digits"
            ))
        })?;
        Ok(Statement {
            signer,
            key,
            kind,
            subject,
            fields,
            issued_at_text,
            issued_at,
            expires_at_text,
            expires_at,
            signature,
        })
    }

    /// The canonical form, with the signature or without it (the signed part).
    fn canonical(&self, part: Part) -> String {
        let mut map = Map::new();
        map.insert("writ_statement".into(), STATEMENT_VERSION.into());
        map.insert("signer".into(), self.signer.clone().into());
        map.insert("kind".into(), self.kind.clone().into());
        map.insert("subject".into(), self.subject.clone().into());
        let fields: Map<String, Value> = self
            .fields
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::to_value(v).unwrap_or(Value::Null)))
            .collect();
        map.insert("fields".into(), Value::Object(fields));
        map.insert("issued_at".into(), self.issued_at_text.clone().into());
        map.insert("expires_at".into(), self.expires_at_text.clone().into());
        if part == Part::Whole {
            let signature =
                format!("{SIGNATURE_PREFIX}{}", writ_stdx::hex(&self.signature.to_bytes()));
            map.insert("signature".into(), signature.into());
        }
        Value::Object(map).to_string()
    }

    /// The bytes the signature covers: [`DOMAIN`] and the canonical form without `signature`.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let body = self.canonical(Part::Signed);
        let mut out = Vec::with_capacity(DOMAIN.len() + body.len());
        out.extend_from_slice(DOMAIN);
        out.extend_from_slice(body.as_bytes());
        out
    }

    /// The statement as `writ attest` writes it (one line of JSON, without the newline).
    pub fn to_json(&self) -> String {
        self.canonical(Part::Whole)
    }

    /// `sha256:<hex>` of [`Statement::to_json`]: the statement's name.
    pub fn digest(&self) -> String {
        digest(self.to_json().as_bytes())
    }

    /// Whether the signature verifies with the signer's key named in the statement.
    pub(crate) fn signature_verifies(&self) -> bool {
        self.key.verify(&self.signed_bytes(), &self.signature).is_ok()
    }

    /// The signer's public key as the statement writes it (`writ-ed25519-public:<hex>`); not
    /// yet known to be trusted.
    pub fn signer(&self) -> &str {
        &self.signer
    }

    /// The evidence kind it attests.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The change it is about (for a tool call, [`call_subject`]); never empty.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The evidence item's fields, sorted by name, names unique.
    pub fn fields(&self) -> &[(Str<'_>, RequestValue<'_>)] {
        &self.fields
    }

    /// When it was issued; it is not valid before (give or take [`CLOCK_SKEW_SECONDS`]).
    pub fn issued_at(&self) -> Timestamp {
        self.issued_at
    }

    /// When its validity ends (it is expired at this instant and after).
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// Whether it is still valid at `now` (it may not yet be valid: see [`Trust::verify`]).
    pub fn expired_at(&self, now: Timestamp) -> bool {
        self.expires_at <= now
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Signed,
    Whole,
}

pub(crate) fn parse_signature(text: &str) -> Option<Signature> {
    let digits = text.strip_prefix(SIGNATURE_PREFIX)?.as_bytes();
    if digits.len() != 128 {
        return None;
    }
    let mut bytes = [0u8; 64];
    for (slot, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        let mut value = 0u8;
        for &b in pair {
            let nibble = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                _ => return None,
            };
            value = value << 4 | nibble;
        }
        *slot = value;
    }
    Some(Signature::from_bytes(&bytes))
}

// ---------------------------------------------------------------------------------------------
// The trust file

/// One signer of the trust file.
#[derive(Clone, Debug, PartialEq)]
pub struct TrustedSigner {
    /// The public key as written in the trust file.
    pub key_text: String,
    /// The public key, parsed: statements signed with it are this signer's.
    pub key: VerifyingKey,
    /// The giver of the evidence this signer attests.
    pub principal: Principal<'static>,
    /// The kinds it may attest; `None`: any kind.
    pub may_attest: Option<Vec<String>>,
}

/// The signers a gateway believes (`--trust FILE`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trust {
    signers: Vec<TrustedSigner>,
    by_key: HashMap<[u8; 32], usize>,
}

/// A trust file that cannot be used: a start-up error, naming the entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustError {
    /// Not JSON, or not of the trust file's shape; `at` is the path (`signers[2].principal.id`).
    Malformed {
        /// Where in the file (empty for the whole file).
        at: String,
        /// What is wrong there.
        message: String,
    },
    /// Entry `entry` (0-based) holds a key that is not a `writ-ed25519-public:` key.
    BadKey {
        /// The entry's 0-based index in `signers`.
        entry: usize,
        /// The id of the principal the entry names, when it names one.
        id: Option<String>,
        /// Why the key is not one.
        message: String,
    },
    /// Entry `entry` repeats the key of entry `first`.
    DuplicateKey {
        /// The 0-based index of the repeating entry.
        entry: usize,
        /// The 0-based index of the entry that holds the key first.
        first: usize,
        /// The repeated key as written.
        key: String,
    },
}

impl fmt::Display for TrustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustError::Malformed { at, message } if at.is_empty() => f.write_str(message),
            TrustError::Malformed { at, message } => write!(f, "`{at}`: {message}"),
            TrustError::BadKey { entry, id, message } => {
                write!(f, "`signers[{entry}].key`")?;
                if let Some(id) = id {
                    write!(f, " (signer `{id}`)")?;
                }
                write!(f, ": {message}")
            }
            TrustError::DuplicateKey { entry, first, key } => write!(
                f,
                "`signers[{entry}].key`: the key `{key}` is already that of `signers[{first}]`; \
                 each key may appear once"
            ),
        }
    }
}

impl std::error::Error for TrustError {}

impl Trust {
    /// Reads a trust file:
    ///
    /// ```text
    /// {"signers": [{"key": "writ-ed25519-public:…",
    ///               "principal": {"id": "lead", "kind": "human", "roles": ["lead"]},
    ///               "may_attest": ["approval"]}]}
    /// ```
    ///
    /// Unknown keys, a duplicate key anywhere, a malformed or repeated public key are errors.
    pub fn from_json(bytes: &[u8]) -> Result<Trust, TrustError> {
        let bad = |at: String, message: String| TrustError::Malformed { at, message };
        let json = Json::parse(bytes)
            .map_err(|(path, problem)| bad(path.render(), problem.to_string()))?;
        let root = Path::Root;
        let Json::Object(entries) = json else {
            return Err(bad(
                String::new(),
                format!("expected a JSON object, found {}", json.describe()),
            ));
        };
        let mut signers = None;
        for (key, value) in entries {
            match key.as_str() {
                "signers" => signers = Some(value),
                other => {
                    return Err(bad(
                        String::new(),
                        format!(
                            "unknown key `{}` (a trust file has `signers`)",
                            request::shorten(other, 40)
                        ),
                    ));
                }
            }
        }
        let list_path = Path::Key(&root, "signers");
        let items = match signers {
            Some(Json::Array(items)) => items,
            Some(other) => {
                return Err(bad(
                    list_path.render(),
                    format!("expected a list, found {}", other.describe()),
                ));
            }
            None => return Err(bad(list_path.render(), "missing required field".into())),
        };
        let mut trust = Trust::default();
        for (entry, item) in items.into_iter().enumerate() {
            let path = Path::Index(&list_path, entry);
            let Json::Object(fields) = item else {
                return Err(bad(
                    path.render(),
                    format!("expected an object, found {}", item.describe()),
                ));
            };
            let (mut key, mut principal, mut may_attest) = (None, None, None);
            for (name, value) in fields {
                match name.as_str() {
                    "key" => key = Some(value),
                    "principal" => principal = Some(value),
                    "may_attest" => may_attest = Some(value),
                    other => {
                        return Err(bad(
                            path.render(),
                            format!(
                                "unknown key `{}` (a signer has `key`, `principal` and \
                                 `may_attest`)",
                                request::shorten(other, 40)
                            ),
                        ));
                    }
                }
            }
            let principal_path = Path::Key(&path, "principal");
            let principal = match principal {
                Some(json) => {
                    request::principal(&principal_path, json, &mut request::IgnoredKeys::default())
                        .map_err(|e| bad(e.field, e.message))?
                }
                None => return Err(bad(principal_path.render(), "missing required field".into())),
            };
            let key_path = Path::Key(&path, "key");
            let key_text = match key {
                Some(Json::Str(s)) => s,
                Some(other) => {
                    return Err(TrustError::BadKey {
                        entry,
                        id: Some(principal.id.into_owned()),
                        message: format!("expected a string, found {}", other.describe()),
                    });
                }
                None => return Err(bad(key_path.render(), "missing required field".into())),
            };
            let parsed = bundle::parse_verifying_key(&key_text).map_err(|message: KeyError| {
                TrustError::BadKey {
                    entry,
                    id: Some(principal.id.to_string()),
                    message: message.to_string(),
                }
            })?;
            let may_path = Path::Key(&path, "may_attest");
            let may_attest = match may_attest {
                None | Some(Json::Null) => None,
                Some(Json::Array(kinds)) => {
                    let mut out = Vec::with_capacity(kinds.len());
                    for (i, kind) in kinds.into_iter().enumerate() {
                        match kind {
                            Json::Str(s) => out.push(s),
                            other => {
                                return Err(bad(
                                    Path::Index(&may_path, i).render(),
                                    format!("expected a string, found {}", other.describe()),
                                ));
                            }
                        }
                    }
                    Some(out)
                }
                Some(other) => {
                    return Err(bad(
                        may_path.render(),
                        format!("expected a list of evidence kinds, found {}", other.describe()),
                    ));
                }
            };
            let bytes = parsed.to_bytes();
            if let Some(&first) = trust.by_key.get(&bytes) {
                return Err(TrustError::DuplicateKey {
                    entry,
                    first,
                    key: key_text.trim().to_owned(),
                });
            }
            trust.by_key.insert(bytes, trust.signers.len());
            trust.signers.push(TrustedSigner {
                key_text: key_text.trim().to_owned(),
                key: parsed,
                principal,
                may_attest,
            });
        }
        Ok(trust)
    }

    /// Every trusted signer, in the trust file's order.
    pub fn signers(&self) -> &[TrustedSigner] {
        &self.signers
    }

    /// The signer of this key, if trusted.
    pub fn signer(&self, key: &VerifyingKey) -> Option<&TrustedSigner> {
        self.by_key.get(key.as_bytes()).and_then(|&i| self.signers.get(i))
    }

    /// Verifies one statement for a request with subject `subject` at `now`. Checks, in order:
    /// size and form, subject, signer trusted, signature, kind attestable, validity in time.
    pub fn verify(
        &self,
        bytes: &[u8],
        subject: Option<&str>,
        now: Timestamp,
    ) -> Result<Verified, Rejection> {
        let statement = Statement::parse(bytes)?;
        self.verify_parsed(statement, subject, now)
    }

    /// [`Trust::verify`] of a parsed statement.
    pub fn verify_parsed(
        &self,
        statement: Statement,
        subject: Option<&str>,
        now: Timestamp,
    ) -> Result<Verified, Rejection> {
        if subject != Some(statement.subject.as_str()) {
            return Err(Rejection::OtherSubject {
                statement: statement.subject,
                request: subject.map(str::to_owned),
            });
        }
        let signer = self
            .signer(&statement.key)
            .ok_or_else(|| Rejection::UnknownSigner { key: statement.signer.clone() })?;
        if !statement.signature_verifies() {
            return Err(Rejection::BadSignature);
        }
        if let Some(kinds) = &signer.may_attest
            && !kinds.contains(&statement.kind)
        {
            return Err(Rejection::NotAttestable {
                signer: signer.principal.id.to_string(),
                kind: statement.kind,
            });
        }
        let skew = i128::from(CLOCK_SKEW_SECONDS) * 1_000_000_000;
        if statement.issued_at.as_unix_nanos() > now.as_unix_nanos().saturating_add(skew) {
            return Err(Rejection::NotYetValid { issued_at: statement.issued_at });
        }
        if statement.expired_at(now) {
            return Err(Rejection::Expired { expires_at: statement.expires_at });
        }
        let digest = statement.digest();
        let item = EvidenceItem {
            kind: statement.kind.clone().into(),
            by: Some(signer.principal.clone()),
            subject: Some(statement.subject.clone().into()),
            fields: statement.fields.clone(),
        };
        Ok(Verified { item, digest, signer: signer.principal.id.to_string(), statement })
    }

    /// Verifies `statements` for `request` (its `subject`, at `now`) and appends an evidence
    /// item to its `evidence` for each one that verifies (once per digest). Of the statements
    /// for the request's subject, at most [`MAX_CONSIDERED`] are verified; the rest are counted
    /// in [`Admitted::skipped`]. Never fails: what does not verify is reported in
    /// [`Admitted::rejected`], by its index in `statements`.
    pub fn admit<'a>(
        &self,
        request: &mut Request,
        statements: impl IntoIterator<Item = &'a [u8]>,
        now: Timestamp,
    ) -> Admitted {
        let mut admitted = Admitted::default();
        let mut seen = HashSet::new();
        let mut considered = 0usize;
        let subject = request.subject.clone();
        for (index, bytes) in statements.into_iter().enumerate() {
            let statement = match Statement::parse(bytes) {
                Ok(s) => s,
                Err(reason) => {
                    admitted.rejected.push(Rejected { index, digest: None, reason });
                    continue;
                }
            };
            let digest = statement.digest();
            if subject.as_deref() == Some(statement.subject()) {
                if considered >= MAX_CONSIDERED {
                    admitted.skipped += 1;
                    continue;
                }
                considered += 1;
            }
            match self.verify_parsed(statement, subject.as_deref(), now) {
                Ok(_) if !seen.insert(digest.clone()) => admitted.rejected.push(Rejected {
                    index,
                    digest: Some(digest),
                    reason: Rejection::Duplicate,
                }),
                Ok(verified) => {
                    request.evidence.push(verified.item);
                    admitted.counted.push(Counted {
                        index,
                        digest: verified.digest,
                        signer: verified.signer,
                        kind: verified.statement.kind,
                    });
                }
                Err(reason) => {
                    admitted.rejected.push(Rejected { index, digest: Some(digest), reason })
                }
            }
        }
        admitted
    }
}

/// The current time, as statements are checked against it.
pub fn now() -> Timestamp {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX));
    Timestamp::from_unix_nanos(nanos).unwrap_or(Timestamp::MAX)
}

/// A statement that verified, and the evidence item it gives.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    /// `kind`, `fields` and `subject` from the statement; `by` from the trust file.
    pub item: EvidenceItem<'static>,
    /// The statement's digest (`sha256:<hex>`), its name in logs.
    pub digest: String,
    /// The giver's id (from the trust file).
    pub signer: String,
    /// The statement itself.
    pub statement: Statement,
}

/// What [`Trust::admit`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Admitted {
    /// The statements added as evidence, in the order given.
    pub counted: Vec<Counted>,
    /// The statements ignored, and why.
    pub rejected: Vec<Rejected>,
    /// How many statements for the request's subject were not verified (beyond
    /// [`MAX_CONSIDERED`]).
    pub skipped: usize,
}

/// A statement added to a request's evidence.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Counted {
    /// Its index among the statements given.
    #[serde(skip)]
    pub index: usize,
    /// The statement's digest (`sha256:<hex>`), its name in logs.
    pub digest: String,
    /// The giver's id, from the trust file.
    pub signer: String,
    /// The evidence kind it attests.
    pub kind: String,
}

/// A statement ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// Its index among the statements given.
    pub index: usize,
    /// Its digest, when it parses.
    pub digest: Option<String>,
    /// Why it does not count.
    pub reason: Rejection,
}

// ---------------------------------------------------------------------------------------------
// Subjects of tool calls

/// The subject of a tool call, as the hook and the MCP proxy compute it: `sha256:<hex>` of
/// the canonical JSON `{"workflow":W,"tool":T,"args":{...},"cwd":C}` (no whitespace, object
/// keys sorted by their UTF-8 bytes at every depth, strings escaped as `serde_json` does;
/// `cwd` only when the call has one), where `args` are the call's arguments as the gate
/// resolved them (the request's `args`: the agent's path inputs already resolved, undeclared
/// inputs dropped) and `cwd` the run's working directory. A statement for one call therefore
/// never counts for another: another command, another file, another directory, another
/// workflow.
pub fn call_subject(
    workflow: &str,
    tool: &str,
    args: &[(Str<'_>, RequestValue<'_>)],
    cwd: Option<&str>,
) -> String {
    let mut sorted: Vec<&(Str<'_>, RequestValue<'_>)> = args.iter().collect();
    sorted.sort_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
    let mut arg_map = Map::new();
    for (name, value) in sorted {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        arg_map.insert(name.to_string(), canonical_value(value));
    }
    let mut map = Map::new();
    map.insert("workflow".into(), workflow.into());
    map.insert("tool".into(), tool.into());
    map.insert("args".into(), Value::Object(arg_map));
    if let Some(cwd) = cwd {
        map.insert("cwd".into(), cwd.into());
    }
    digest(Value::Object(map).to_string().as_bytes())
}

/// The subject of a request that is a call (see [`call_subject`]); `None` for a start.
pub fn request_call_subject(request: &Request<'_>) -> Option<String> {
    match &request.action {
        crate::Action::Call { tool, args } => {
            Some(call_subject(&request.workflow, tool, args, request.cwd.as_deref()))
        }
        crate::Action::Start { .. } => None,
    }
}

/// `value` with the keys of every object sorted by their bytes.
fn canonical_value(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
            Value::Object(entries.into_iter().map(|(k, v)| (k, canonical_value(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical_value).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests;
