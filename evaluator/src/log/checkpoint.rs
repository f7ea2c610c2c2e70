//! Signed checkpoints of a decision log: "the log had N lines, the last hashing to H, at T",
//! signed with ed25519 (the keys of `writ keygen`). Kept apart from the log, a checkpoint lets
//! `writ log verify --checkpoint` detect what the hash chain alone cannot: lines deleted from the
//! end, or the whole chain rewritten (every `prev` recomputed) (`docs/decision-log.md`).
//!
//! ```text
//! {"writ_checkpoint":1,"lines":42,"last":"sha256:…","at":"2026-12-03T12:00:00Z",
//!  "signer":"writ-ed25519-public:…","signature":"ed25519:<128 hex>"}
//! ```
//!
//! The signature covers `writ-checkpoint-v1` and a newline, then the JSON above without
//! `signature`, compact, keys in that order (`last` is `null` for an empty log). Like
//! statements ([`crate::statement`]), a checkpoint has exactly these keys.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{Map, Value};

use crate::bundle;
use crate::json::Json;
use crate::statement::{SIGNATURE_PREFIX, parse_signature};
use crate::time::Timestamp;

/// What the signed bytes start with.
pub const DOMAIN: &[u8] = b"writ-checkpoint-v1\n";
/// The checkpoint format's version.
pub const VERSION: i64 = 1;
const KEYS: [&str; 6] = ["writ_checkpoint", "lines", "last", "at", "signer", "signature"];

/// A signed checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// How many lines the log had when the checkpoint was signed.
    pub lines: u64,
    /// `sha256:<hex>` of line `lines`; `None` when `lines` is 0.
    pub last: Option<String>,
    /// When the checkpoint was signed, as it states.
    pub at: Timestamp,
    at_text: String,
    signer: String,
    key: VerifyingKey,
    signature: Signature,
}

/// Why a checkpoint cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckpointError {
    /// Not a checkpoint.
    Malformed {
        /// What is wrong with it.
        message: String,
    },
    /// Signed by another key than the one given.
    OtherSigner {
        /// The public key the checkpoint names as its signer (`writ-ed25519-public:...`).
        signer: String,
    },
    /// The signature does not verify: the checkpoint was altered.
    BadSignature,
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Malformed { message } => write!(f, "malformed checkpoint: {message}"),
            CheckpointError::OtherSigner { signer } => {
                write!(f, "the checkpoint is signed by `{signer}`, not by the key given")
            }
            CheckpointError::BadSignature => {
                f.write_str("the checkpoint's signature does not verify: it was altered")
            }
        }
    }
}

impl std::error::Error for CheckpointError {}

fn malformed(message: impl Into<String>) -> CheckpointError {
    CheckpointError::Malformed { message: message.into() }
}

impl Checkpoint {
    /// Signs "the log has `lines` lines, the last hashing to `last`, at `at`".
    pub fn sign(key: &SigningKey, lines: u64, last: Option<&str>, at: Timestamp) -> Checkpoint {
        let verifying = key.verifying_key();
        let mut checkpoint = Checkpoint {
            lines,
            last: last.map(str::to_owned),
            at,
            at_text: at.to_string(),
            signer: bundle::encode_verifying_key(&verifying).trim_end().to_owned(),
            key: verifying,
            signature: Signature::from_bytes(&[0; 64]),
        };
        checkpoint.signature = key.sign(&checkpoint.signed_bytes());
        checkpoint
    }

    /// Reads a checkpoint (its signature is checked by [`Checkpoint::verify`]).
    pub fn parse(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let json = Json::parse(bytes).map_err(|(_, problem)| malformed(problem.to_string()))?;
        let Json::Object(entries) = json else {
            return Err(malformed("expected a JSON object"));
        };
        let mut slots: [Option<Json>; 6] = Default::default();
        for (key, value) in entries {
            let Some(at) = KEYS.iter().position(|k| *k == key) else {
                return Err(malformed(format!("unknown key `{key}`")));
            };
            if let Some(slot) = slots.get_mut(at) {
                *slot = Some(value);
            }
        }
        let [version, lines, last, at, signer, signature] = slots;
        if version != Some(Json::Int(VERSION)) {
            return Err(malformed(format!("`writ_checkpoint` is not {VERSION}")));
        }
        let lines = match lines {
            Some(Json::Int(n)) => u64::try_from(n).map_err(|_| malformed("`lines` is negative"))?,
            _ => return Err(malformed("`lines`: expected an integer")),
        };
        let last = match last {
            Some(Json::Null) => None,
            Some(Json::Str(s)) => Some(s),
            _ => return Err(malformed("`last`: expected a string or null")),
        };
        if last.is_none() != (lines == 0) {
            return Err(malformed("`last` is null exactly when `lines` is 0"));
        }
        let string = |key: &str, json: Option<Json>| match json {
            Some(Json::Str(s)) => Ok(s),
            _ => Err(malformed(format!("`{key}`: expected a string"))),
        };
        let at_text = string("at", at)?;
        let at = Timestamp::parse(&at_text)
            .map_err(|e| malformed(format!("`at`: not an RFC 3339 timestamp ({e})")))?;
        let signer = string("signer", signer)?;
        let key = bundle::parse_verifying_key(&signer)
            .map_err(|e| malformed(format!("`signer`: {e}")))?;
        let signature = parse_signature(&string("signature", signature)?).ok_or_else(|| {
            malformed("`signature`: expected `ed25519:` and 128 lowercase hex digits")
        })?;
        Ok(Checkpoint { lines, last, at, at_text, signer, key, signature })
    }

    /// Checks that `key` signed it.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), CheckpointError> {
        if key != &self.key {
            return Err(CheckpointError::OtherSigner { signer: self.signer.clone() });
        }
        self.key
            .verify(&self.signed_bytes(), &self.signature)
            .map_err(|_| CheckpointError::BadSignature)
    }

    fn canonical(&self, with_signature: Part) -> String {
        let mut map = Map::new();
        map.insert("writ_checkpoint".into(), VERSION.into());
        map.insert("lines".into(), self.lines.into());
        map.insert("last".into(), self.last.clone().map_or(Value::Null, Value::String));
        map.insert("at".into(), self.at_text.clone().into());
        map.insert("signer".into(), self.signer.clone().into());
        if with_signature == Part::Whole {
            let signature =
                format!("{SIGNATURE_PREFIX}{}", writ_stdx::hex(&self.signature.to_bytes()));
            map.insert("signature".into(), signature.into());
        }
        Value::Object(map).to_string()
    }

    /// The bytes the signature covers.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = DOMAIN.to_vec();
        out.extend_from_slice(self.canonical(Part::Signed).as_bytes());
        out
    }

    /// One line of JSON (without the newline).
    pub fn to_json(&self) -> String {
        self.canonical(Part::Whole)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Signed,
    Whole,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{VerifyOptions, digest, verify_with};

    fn at() -> Timestamp {
        Timestamp::parse("2026-12-03T12:00:00Z").unwrap()
    }

    #[test]
    fn a_checkpoint_round_trips_and_rejects_changes() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let c = Checkpoint::sign(&key, 3, Some(&digest(b"x")), at());
        let parsed = Checkpoint::parse(c.to_json().as_bytes()).unwrap();
        assert_eq!(parsed, c);
        assert_eq!(parsed.verify(&key.verifying_key()), Ok(()));
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert!(matches!(parsed.verify(&other), Err(CheckpointError::OtherSigner { .. })));
        let text = c.to_json();
        for i in 0..text.len() {
            let mut bytes = text.clone().into_bytes();
            bytes[i] ^= 1;
            let verified = Checkpoint::parse(&bytes).and_then(|c| c.verify(&key.verifying_key()));
            assert!(verified.is_err(), "byte {i}");
        }
        for bad in ["", "{}", "[]", r#"{"writ_checkpoint":1,"lines":0,"last":"sha256:00"}"#] {
            assert!(Checkpoint::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_empty_log_meets_only_an_empty_checkpoint() {
        // (Logs with lines, cut and rewritten, are tested end to end in tests/evidence.rs.)
        let empty = |checkpoint| {
            verify_with(&b""[..], VerifyOptions { checkpoint, ..VerifyOptions::default() })
        };
        assert_eq!(empty(Some((0, None))).unwrap().lines, 0);
        assert!(empty(Some((1, Some(&digest(b"x"))))).is_err());
    }
}
