//! Bundles: a compiled policy ([`PolicyIr`]) in a versioned binary file, with a checksum and
//! an optional ed25519 signature, loadable without the compiler.
//!
//! ```text
//! offset        size  field
//! 0             8     magic `WRITBNDL`
//! 8             2     format version, u16 little-endian (2; 1 is still read)
//! 10            2     flags, u16 little-endian (bit 0: signed; other bits must be 0)
//! 12            4     header length H, u32 little-endian
//! 16            H     header: postcard of { writ_version, policy_hash, built_at (unix s),
//!                     version } (format 1: no version, read as version 0)
//! 16+H          8     payload length P, u64 little-endian
//! 24+H          P     payload: postcard of the PolicyIr
//! 24+H+P        32    sha256 of every byte before it
//! 56+H+P        64    ed25519 signature of the same bytes (only when signed)
//! ```
//!
//! Nothing may follow. The checksum and the signature cover the format version and the header,
//! so a bundle's version (what servers refuse to roll back, `docs/bundles.md`) cannot be
//! changed, nor a format-2 bundle passed off as an unversioned format-1 one.
//!
//! [`read`] checks, in order: length, magic, version, flags, lengths,
//! checksum, signature (when a key is given: an unsigned bundle is then refused), header,
//! payload, that the header's policy hash is the payload's, and [`Policy::from_ir`]'s checks.
//! Any bytes give a [`BundleError`], never a panic. See `docs/bundles.md`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signature, Signer};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::ir::PolicyIr;
use crate::policy::{Policy, PolicyError};

/// The first eight bytes of every bundle.
pub const MAGIC: [u8; 8] = *b"WRITBNDL";
/// The format version this crate writes (it reads this one and [`FORMAT_VERSION_1`]).
pub const FORMAT_VERSION: u16 = 2;
/// The format before bundles had a version: still read, as version 0.
pub const FORMAT_VERSION_1: u16 = 1;
/// The writ version written into bundles (this crate's version).
pub const WRIT_VERSION: &str = env!("CARGO_PKG_VERSION");

const FLAG_SIGNED: u16 = 1;
const FIXED: usize = 16;
const CHECKSUM: usize = 32;
const SIGNATURE: usize = 64;
/// How much stack decoding the payload may use before it is refused as nested too deeply
/// (the compiler's IR nests at most 256 conditions deep, far less than this allows).
const STACK_BUDGET: usize = 256 * 1024;

/// What a bundle's header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleInfo {
    /// The bundle format it is in: [`FORMAT_VERSION`] or [`FORMAT_VERSION_1`].
    pub format_version: u16,
    /// The version of writ that built it.
    pub writ_version: String,
    /// `sha256:<hex>`: the policy digest (LANGUAGE.md §7), the same as the payload's.
    pub policy_hash: String,
    /// When it was built (whole seconds).
    pub built_at: SystemTime,
    /// The bundle's version (`writ build --version`, by default the build time in Unix
    /// seconds); 0 for a format-1 bundle, which has none. A server never replaces a bundle
    /// with one of a lower version.
    pub version: u64,
    /// Whether it carries a signature (checked only when a key is given).
    pub signed: bool,
}

#[derive(Serialize, Deserialize)]
struct Header {
    writ_version: String,
    policy_hash: String,
    built_at: u64,
    version: u64,
}

/// A format-1 header (no version).
#[derive(Deserialize)]
struct HeaderV1 {
    writ_version: String,
    policy_hash: String,
    built_at: u64,
}

/// Why a bundle was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BundleError {
    /// Fewer bytes than the lengths in the bundle call for.
    Truncated {
        /// How many bytes the bundle needs, as far as it was read (at least this many).
        expected: u64,
        /// The bytes given.
        found: usize,
    },
    /// More bytes than the lengths in the bundle call for.
    TrailingBytes {
        /// The length in bytes the bundle's lengths call for.
        expected: u64,
        /// The bytes given.
        found: usize,
    },
    /// Not a writ bundle.
    BadMagic,
    /// A format version this crate does not read.
    UnsupportedVersion {
        /// The format version the bundle states.
        found: u16,
    },
    /// Flag bits this crate does not know.
    UnknownFlags {
        /// The whole flags field as read.
        flags: u16,
    },
    /// The checksum does not match the contents: the bundle was damaged or altered.
    Checksum,
    /// A key was given but the bundle is not signed.
    Unsigned,
    /// The signature does not verify with the key given.
    Signature,
    /// The header or payload does not decode.
    Malformed {
        /// Which part: `header` or `payload`.
        part: &'static str,
        /// The decoder's message.
        message: String,
    },
    /// The header's policy hash is not the payload's.
    HashMismatch {
        /// The policy hash the header states.
        header: String,
        /// The hash of the policy the payload holds.
        payload: String,
    },
    /// The payload decodes but is not a valid policy.
    Policy(PolicyError),
    /// The policy could not be encoded (writing only).
    Encode(String),
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::Truncated { expected, found } => write!(
                f,
                "the bundle is truncated: its lengths call for {expected} bytes, found {found}"
            ),
            BundleError::TrailingBytes { expected, found } => write!(
                f,
                "the bundle has trailing bytes: its lengths call for {expected} bytes, found {found}"
            ),
            BundleError::BadMagic => {
                f.write_str("not a writ bundle: it does not start with `WRITBNDL`")
            }
            BundleError::UnsupportedVersion { found } => write!(
                f,
                "bundle format version {found} is not supported (this writ reads versions \
                 {FORMAT_VERSION_1} and {FORMAT_VERSION}); rebuild the bundle with this writ"
            ),
            BundleError::UnknownFlags { flags } => {
                write!(f, "the bundle has unknown flags `{flags:#06x}`")
            }
            BundleError::Checksum => f.write_str(
                "the bundle's checksum does not match its contents: it was damaged or altered",
            ),
            BundleError::Unsigned => {
                f.write_str("the bundle is not signed, but a verify key was given")
            }
            BundleError::Signature => f.write_str(
                "the bundle's signature does not verify with the given key: it was signed by \
                 another key, or altered",
            ),
            BundleError::Malformed { part, message } => {
                write!(f, "the bundle's {part} is malformed: {message}")
            }
            BundleError::HashMismatch { header, payload } => write!(
                f,
                "the bundle's header names policy `{header}`, but its payload is policy `{payload}`"
            ),
            BundleError::Policy(e) => write!(f, "the bundle's policy is invalid: {e}"),
            BundleError::Encode(message) => write!(f, "cannot encode the bundle: {message}"),
        }
    }
}

impl std::error::Error for BundleError {}

/// Encodes `ir` as a bundle built at `built_at`, signed with `key` when given. Its version is
/// `built_at` in Unix seconds (as `writ build` without `--version`); see [`write_version`].
pub fn write(
    ir: &PolicyIr,
    built_at: SystemTime,
    key: Option<&SigningKey>,
) -> Result<Vec<u8>, BundleError> {
    let version = built_at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    write_version(ir, built_at, version, key)
}

/// Encodes `ir` as a bundle of version `version` built at `built_at`, signed with `key` when
/// given. Versions must increase from one release of a policy to the next: servers refuse to
/// go back to a lower one.
pub fn write_version(
    ir: &PolicyIr,
    built_at: SystemTime,
    version: u64,
    key: Option<&SigningKey>,
) -> Result<Vec<u8>, BundleError> {
    let encode = |e: postcard::Error| BundleError::Encode(e.to_string());
    let header = postcard::to_allocvec(&Header {
        writ_version: WRIT_VERSION.to_string(),
        policy_hash: ir.hash.clone(),
        built_at: built_at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs(),
        version,
    })
    .map_err(encode)?;
    let payload = postcard::to_allocvec(ir).map_err(encode)?;
    let header_len = u32::try_from(header.len())
        .map_err(|_| BundleError::Encode("the header is larger than 4 GiB".into()))?;
    let mut out =
        Vec::with_capacity(FIXED + header.len() + 8 + payload.len() + CHECKSUM + SIGNATURE);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(if key.is_some() { FLAG_SIGNED } else { 0 }).to_le_bytes());
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&payload);
    let checksum = Sha256::digest(&out);
    if let Some(key) = key {
        let signature = key.sign(&out);
        out.extend_from_slice(&checksum);
        out.extend_from_slice(&signature.to_bytes());
    } else {
        out.extend_from_slice(&checksum);
    }
    Ok(out)
}

/// The parts of a bundle, located and length-checked (nothing verified yet).
struct Layout<'a> {
    format_version: u16,
    flags: u16,
    header: &'a [u8],
    payload: &'a [u8],
    /// Every byte the checksum and signature cover.
    covered: &'a [u8],
    checksum: &'a [u8],
    signature: Option<&'a [u8]>,
}

fn layout(bytes: &[u8]) -> Result<Layout<'_>, BundleError> {
    let found = bytes.len();
    if bytes.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
        // A prefix of the magic is a truncated bundle; anything else is not a bundle.
        return Err(if MAGIC.starts_with(bytes) && !bytes.is_empty() {
            BundleError::Truncated { expected: FIXED as u64, found }
        } else {
            BundleError::BadMagic
        });
    }
    let u16_at = |at: usize| le_bytes(bytes, at).map(u16::from_le_bytes);
    let Some(version) = u16_at(8) else {
        return Err(BundleError::Truncated { expected: FIXED as u64, found });
    };
    if version != FORMAT_VERSION && version != FORMAT_VERSION_1 {
        return Err(BundleError::UnsupportedVersion { found: version });
    }
    let (Some(flags), Some(header_len)) = (u16_at(10), le_bytes(bytes, 12).map(u32::from_le_bytes))
    else {
        return Err(BundleError::Truncated { expected: FIXED as u64, found });
    };
    if flags & !FLAG_SIGNED != 0 {
        return Err(BundleError::UnknownFlags { flags });
    }
    let header_len = u64::from(header_len);
    let payload_at = FIXED as u64 + header_len + 8;
    let truncated = |expected: u64| BundleError::Truncated { expected, found };
    let payload_len = usize::try_from(payload_at - 8)
        .ok()
        .and_then(|at| le_bytes(bytes, at))
        .map(u64::from_le_bytes)
        .ok_or_else(|| truncated(payload_at))?;
    let tail = (CHECKSUM + if flags & FLAG_SIGNED != 0 { SIGNATURE } else { 0 }) as u64;
    let expected = payload_at.checked_add(payload_len).and_then(|n| n.checked_add(tail));
    let Some(expected) = expected else {
        return Err(truncated(u64::MAX));
    };
    match usize::try_from(expected) {
        Ok(n) if n == found => {}
        Ok(n) if n < found => return Err(BundleError::TrailingBytes { expected, found }),
        _ => return Err(truncated(expected)),
    }
    // Every length now fits in `found`, so no slice below is out of range; `get` says so
    // without a panic path.
    let payload_at = payload_at as usize;
    let checksum_at = payload_at + payload_len as usize;
    let part = |range: std::ops::Range<usize>| bytes.get(range).ok_or_else(|| truncated(expected));
    Ok(Layout {
        format_version: version,
        flags,
        header: part(FIXED..payload_at - 8)?,
        payload: part(payload_at..checksum_at)?,
        covered: part(0..checksum_at)?,
        checksum: part(checksum_at..checksum_at + CHECKSUM)?,
        signature: match flags & FLAG_SIGNED {
            0 => None,
            _ => Some(part(checksum_at + CHECKSUM..found)?),
        },
    })
}

/// The `N` bytes at `at`, for `from_le_bytes`; `None` past the end.
fn le_bytes<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// Checks a bundle (with `key`, its signature too) and decodes it.
pub fn read(
    bytes: &[u8],
    key: Option<&VerifyingKey>,
) -> Result<(BundleInfo, PolicyIr), BundleError> {
    let parts = layout(bytes)?;
    if Sha256::digest(parts.covered).as_slice() != parts.checksum {
        return Err(BundleError::Checksum);
    }
    if let Some(key) = key {
        let Some(signature) = parts.signature else {
            return Err(BundleError::Unsigned);
        };
        let signature = Signature::from_slice(signature).map_err(|_| BundleError::Signature)?;
        key.verify_strict(parts.covered, &signature).map_err(|_| BundleError::Signature)?;
    }
    let info = decode_header(&parts)?;
    let ir: PolicyIr = decode(parts.payload, "payload")?;
    if ir.hash != info.policy_hash {
        return Err(BundleError::HashMismatch { header: info.policy_hash, payload: ir.hash });
    }
    Ok((info, ir))
}

/// The header of a bundle whose layout and checksum are sound; the signature and payload are
/// not checked (for `writ` to show what a file is).
pub fn inspect(bytes: &[u8]) -> Result<BundleInfo, BundleError> {
    let parts = layout(bytes)?;
    if Sha256::digest(parts.covered).as_slice() != parts.checksum {
        return Err(BundleError::Checksum);
    }
    decode_header(&parts)
}

fn decode_header(parts: &Layout<'_>) -> Result<BundleInfo, BundleError> {
    let header: Header = if parts.format_version == FORMAT_VERSION_1 {
        let old: HeaderV1 = decode(parts.header, "header")?;
        Header {
            writ_version: old.writ_version,
            policy_hash: old.policy_hash,
            built_at: old.built_at,
            version: 0,
        }
    } else {
        decode(parts.header, "header")?
    };
    Ok(BundleInfo {
        format_version: parts.format_version,
        writ_version: header.writ_version,
        policy_hash: header.policy_hash,
        built_at: UNIX_EPOCH
            .checked_add(Duration::from_secs(header.built_at))
            .unwrap_or(UNIX_EPOCH),
        signed: parts.flags & FLAG_SIGNED != 0,
        version: header.version,
    })
}

/// Decodes all of `bytes` as a `T`, refusing nesting that would use more than
/// [`STACK_BUDGET`] of stack.
fn decode<'de, T: Deserialize<'de>>(
    bytes: &'de [u8],
    part: &'static str,
) -> Result<T, BundleError> {
    let malformed = |message: String| BundleError::Malformed { part, message };
    let guard = Guarded { bytes, at: 0, base: stack_address(), too_deep: false };
    let mut de = postcard::Deserializer::from_flavor(guard);
    let value = T::deserialize(&mut de);
    let rest = de.finalize();
    match (value, rest) {
        (_, Ok((_, true))) => Err(malformed("it nests too deeply".into())),
        (Ok(value), Ok((0, false))) => Ok(value),
        (Ok(_), Ok((n, false))) => Err(malformed(format!("{n} bytes follow its end"))),
        (Err(e), _) | (Ok(_), Err(e)) => {
            // postcard's messages start with a capital: ours do not.
            let text = e.to_string();
            let mut chars = text.chars();
            let first = chars.next().map(|c| c.to_lowercase().collect::<String>());
            Err(malformed(first.unwrap_or_default() + chars.as_str()))
        }
    }
}

/// The address of a local: how deep the stack is, compared with another call's.
#[inline(never)]
fn stack_address() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// A postcard input over a slice that fails once decoding has used more than
/// [`STACK_BUDGET`] of stack. Every level of nesting reads at least one byte (an enum
/// variant, a length), so the check runs at every level.
struct Guarded<'de> {
    bytes: &'de [u8],
    at: usize,
    base: usize,
    too_deep: bool,
}

impl Guarded<'_> {
    fn check(&mut self) -> postcard::Result<()> {
        if self.too_deep || stack_address().abs_diff(self.base) > STACK_BUDGET {
            self.too_deep = true;
            return Err(postcard::Error::DeserializeUnexpectedEnd);
        }
        Ok(())
    }
}

impl<'de> postcard::de_flavors::Flavor<'de> for Guarded<'de> {
    /// (Unread bytes, whether decoding was stopped for nesting too deeply.)
    type Remainder = (usize, bool);
    type Source = &'de [u8];

    fn pop(&mut self) -> postcard::Result<u8> {
        self.check()?;
        let byte = *self.bytes.get(self.at).ok_or(postcard::Error::DeserializeUnexpectedEnd)?;
        self.at += 1;
        Ok(byte)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.bytes.len() - self.at)
    }

    fn try_take_n(&mut self, ct: usize) -> postcard::Result<&'de [u8]> {
        self.check()?;
        let end = self.at.checked_add(ct).ok_or(postcard::Error::DeserializeUnexpectedEnd)?;
        let taken =
            self.bytes.get(self.at..end).ok_or(postcard::Error::DeserializeUnexpectedEnd)?;
        self.at = end;
        Ok(taken)
    }

    fn finalize(self) -> postcard::Result<(usize, bool)> {
        Ok((self.bytes.len() - self.at, self.too_deep))
    }
}

impl Policy {
    /// Loads a bundle written by [`write()`] (`writ build`): checks it (with `key`, its
    /// signature too: an unsigned bundle is then refused) and builds the policy.
    pub fn from_bundle(bytes: &[u8], key: Option<&VerifyingKey>) -> Result<Policy, BundleError> {
        load(bytes, key).map(|(_, policy)| policy)
    }
}

/// [`Policy::from_bundle`], with what the bundle's header says (its version, for a server to
/// refuse rollbacks).
pub fn load(bytes: &[u8], key: Option<&VerifyingKey>) -> Result<(BundleInfo, Policy), BundleError> {
    let (info, ir) = read(bytes, key)?;
    Ok((info, Policy::from_ir(ir).map_err(BundleError::Policy)?))
}

// ---------------------------------------------------------------------------------------------
// Keys

const PUBLIC_PREFIX: &str = "writ-ed25519-public:";
const SECRET_PREFIX: &str = "writ-ed25519-secret:";

/// Which half of a key pair a key file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyHalf {
    /// A `.pub` file: `writ-ed25519-public:...`, for `--verify-key`.
    Public,
    /// A `.key` file: `writ-ed25519-secret:...`, for `--key`.
    Secret,
}

impl KeyHalf {
    fn prefix(self) -> &'static str {
        match self {
            KeyHalf::Public => PUBLIC_PREFIX,
            KeyHalf::Secret => SECRET_PREFIX,
        }
    }

    fn other(self) -> KeyHalf {
        match self {
            KeyHalf::Public => KeyHalf::Secret,
            KeyHalf::Secret => KeyHalf::Public,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            KeyHalf::Public => "public",
            KeyHalf::Secret => "secret",
        }
    }
}

/// A key file that does not hold the key asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The file holds the other half of the pair (a secret key given as `--verify-key`).
    OtherHalf {
        /// The half that was asked for.
        expected: KeyHalf,
    },
    /// The text does not start with the key's prefix.
    NotAKey {
        /// The half that was asked for.
        expected: KeyHalf,
    },
    /// Not 64 hex digits after the prefix (`found` characters).
    Length {
        /// The half that was asked for.
        expected: KeyHalf,
        /// How many characters follow the prefix.
        found: usize,
    },
    /// Something other than hex digits after the prefix.
    NotHex {
        /// The half that was asked for.
        expected: KeyHalf,
    },
    /// 32 bytes that are not an ed25519 public key.
    NotOnCurve,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            KeyError::OtherHalf { expected } => write!(
                f,
                "this is not a {} key (the key file holds the other half of the pair)",
                expected.as_str()
            ),
            KeyError::NotAKey { expected } => write!(
                f,
                "not a writ {} key: it does not start with `{}`",
                expected.as_str(),
                expected.prefix()
            ),
            KeyError::Length { expected, found } => write!(
                f,
                "a {} key has 64 hex digits after `{}`, found {found}",
                expected.as_str(),
                expected.prefix()
            ),
            KeyError::NotHex { expected } => write!(
                f,
                "a {} key holds only hex digits after `{}`",
                expected.as_str(),
                expected.prefix()
            ),
            KeyError::NotOnCurve => f.write_str("not a valid ed25519 public key"),
        }
    }
}

impl std::error::Error for KeyError {}

/// `writ-ed25519-public:<64 hex digits>` and a newline: the text of a `.pub` file.
pub fn encode_verifying_key(key: &VerifyingKey) -> String {
    format!("{PUBLIC_PREFIX}{}\n", writ_stdx::hex(key.as_bytes()))
}

/// `writ-ed25519-secret:<64 hex digits>` and a newline: the text of a `.key` file.
pub fn encode_signing_key(key: &SigningKey) -> String {
    format!("{SECRET_PREFIX}{}\n", writ_stdx::hex(&key.to_bytes()))
}

/// Reads the text of a `.pub` file (surrounding whitespace allowed).
pub fn parse_verifying_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let bytes = parse_key(text, KeyHalf::Public)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::NotOnCurve)
}

/// Reads the text of a `.key` file (surrounding whitespace allowed).
pub fn parse_signing_key(text: &str) -> Result<SigningKey, KeyError> {
    let bytes = parse_key(text, KeyHalf::Secret)?;
    Ok(SigningKey::from_bytes(&bytes))
}

fn parse_key(text: &str, expected: KeyHalf) -> Result<[u8; 32], KeyError> {
    let text = text.trim();
    let Some(digits) = text.strip_prefix(expected.prefix()) else {
        return Err(if text.starts_with(expected.other().prefix()) {
            KeyError::OtherHalf { expected }
        } else {
            KeyError::NotAKey { expected }
        });
    };
    let bytes = digits.as_bytes();
    if bytes.len() != 64 {
        return Err(KeyError::Length { expected, found: digits.chars().count() });
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let (Some(hi), Some(lo)) =
            (pair.first().and_then(|&b| nibble(b)), pair.get(1).and_then(|&b| nibble(b)))
        else {
            return Err(KeyError::NotHex { expected });
        };
        *byte = hi << 4 | lo;
    }
    Ok(out)
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ir() -> PolicyIr {
        let meta = |id: &str| serde_json::json!({"id": id, "file": "p.writ", "line": 1, "column": 1, "text": "t"});
        let no_rules = serde_json::json!({"denies": [], "deny_starts": [], "requires": []});
        serde_json::from_value(serde_json::json!({
            "hash": "sha256:00",
            "roles": [{"name": "dev", "extends": [], "entitlements": [
                {"meta": meta("dev/may/1"), "target": {"tools": [0], "text": "ping"},
                 "condition": null}]}],
            "attributes": [], "contexts": [], "evidence": [],
            "tools": [{"name": "ping", "params": [], "tags": []}],
            "workflows": [{"name": "w", "max_depth": 1, "ttl_seconds": 3600, "starts": [],
                "allows": [{"meta": meta("w/allow/1"),
                            "target": {"tools": [0], "text": "ping"}, "condition": null,
                            "require": []}],
                "rules": no_rules}],
            "guardrails": no_rules,
        }))
        .unwrap()
    }

    #[test]
    fn round_trip_signed_and_unsigned() {
        let at = UNIX_EPOCH + Duration::from_secs(1_796_077_800);
        let secret = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        let unsigned = write(&ir(), at, None).unwrap();
        let signed = write(&ir(), at, Some(&secret)).unwrap();
        assert_eq!(signed.len(), unsigned.len() + SIGNATURE);
        let (info, decoded) = read(&unsigned, None).unwrap();
        assert_eq!(decoded, ir());
        assert_eq!(info.built_at, at);
        assert_eq!(info.policy_hash, "sha256:00");
        assert!(!info.signed);
        assert!(read(&signed, Some(&secret.verifying_key())).unwrap().0.signed);
        assert!(read(&signed, None).is_ok());
        assert_eq!(
            read(&unsigned, Some(&secret.verifying_key())).unwrap_err(),
            BundleError::Unsigned
        );
        assert_eq!(read(&signed, Some(&other)).unwrap_err(), BundleError::Signature);
        assert!(Policy::from_bundle(&signed, Some(&secret.verifying_key())).is_ok());
        for i in 0..signed.len() {
            let mut b = signed.clone();
            b[i] ^= 1;
            assert!(read(&b, Some(&secret.verifying_key())).is_err(), "byte {i}");
            assert!(read(&signed[..i], None).is_err(), "prefix {i}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        // A payload of a million `Not`s, with a valid checksum.
        let mut ir = ir();
        let mut cond =
            crate::ir::Cond::Truth(crate::ir::Operand::Literal(crate::ir::Value::Bool(true)));
        for _ in 0..300 {
            cond = crate::ir::Cond::Not(Box::new(cond));
        }
        ir.workflows[0].allows[0].condition = Some(cond);
        let bytes = write(&ir, UNIX_EPOCH, None).unwrap();
        // 300 deep decodes (and the policy check refuses it).
        assert!(read(&bytes, None).is_ok());
        assert!(matches!(Policy::from_bundle(&bytes, None), Err(BundleError::Policy(_))));
        // Splice in a million more `Not` tags (variant index of `Not`).
        let not_tag = postcard::to_allocvec(&crate::ir::Cond::Not(Box::new(
            crate::ir::Cond::Truth(crate::ir::Operand::Literal(crate::ir::Value::Bool(true))),
        )))
        .unwrap()[0];
        let payload: Vec<u8> = postcard::to_allocvec(&ir).unwrap();
        let at = payload.windows(300).position(|w| w.iter().all(|&b| b == not_tag)).unwrap();
        let mut deep = payload[..at].to_vec();
        deep.extend(std::iter::repeat_n(not_tag, 1_000_000));
        deep.extend_from_slice(&payload[at..]);
        let bytes = frame(&bytes, &deep);
        match read(&bytes, None) {
            Err(BundleError::Malformed { part: "payload", message }) => {
                assert!(message.contains("nests too deeply"), "{message}")
            }
            other => panic!("expected too deep, got {other:?}"),
        }
    }

    /// `bundle` with its payload replaced by `payload` (unsigned, checksum recomputed).
    fn frame(bundle: &[u8], payload: &[u8]) -> Vec<u8> {
        let header_len = u32::from_le_bytes(bundle[12..16].try_into().unwrap()) as usize;
        let mut out = bundle[..FIXED + header_len].to_vec();
        out[10] = 0;
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(payload);
        let checksum = Sha256::digest(&out);
        out.extend_from_slice(&checksum);
        out
    }

    #[test]
    fn the_version_is_in_the_signed_header() {
        let at = UNIX_EPOCH + Duration::from_secs(1_796_077_800);
        let secret = SigningKey::from_bytes(&[7; 32]);
        let public = secret.verifying_key();
        // By default, the build time.
        let default = write(&ir(), at, Some(&secret)).unwrap();
        assert_eq!(read(&default, Some(&public)).unwrap().0.version, 1_796_077_800);
        let seven = write_version(&ir(), at, 7, Some(&secret)).unwrap();
        let info = inspect(&seven).unwrap();
        assert_eq!((info.version, info.format_version), (7, FORMAT_VERSION));
        assert_eq!(load(&seven, Some(&public)).unwrap().0.version, 7);
        // The version cannot be edited: every byte of the header is covered. (Here: re-encode
        // the header with version 8, keeping the signature.)
        let header_len = u32::from_le_bytes(seven[12..16].try_into().unwrap()) as usize;
        let mut header: Header = postcard::from_bytes(&seven[FIXED..FIXED + header_len]).unwrap();
        header.version = 8;
        let edited_header = postcard::to_allocvec(&header).unwrap();
        assert_eq!(edited_header.len(), header_len);
        let mut edited = seven.clone();
        edited[FIXED..FIXED + header_len].copy_from_slice(&edited_header);
        assert_eq!(read(&edited, Some(&public)).unwrap_err(), BundleError::Checksum);
        // Nor can the format version be lowered to 1 to pass it off as unversioned.
        let mut downgraded = seven.clone();
        downgraded[8] = 1;
        assert_eq!(read(&downgraded, Some(&public)).unwrap_err(), BundleError::Checksum);
    }

    /// A format-1 bundle, as writ wrote them before versions (unsigned).
    fn format_1(ir: &PolicyIr, built_at: u64) -> Vec<u8> {
        let header =
            postcard::to_allocvec(&(WRIT_VERSION.to_string(), ir.hash.clone(), built_at)).unwrap();
        let payload = postcard::to_allocvec(ir).unwrap();
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&payload);
        let checksum = Sha256::digest(&out);
        out.extend_from_slice(&checksum);
        out
    }

    #[test]
    fn format_1_bundles_read_as_version_0() {
        let old = format_1(&ir(), 1_700_000_000);
        let (info, decoded) = read(&old, None).unwrap();
        assert_eq!(decoded, ir());
        assert_eq!((info.format_version, info.version), (1, 0));
        assert_eq!(info.built_at, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let mut future = old.clone();
        future[8] = 3;
        assert_eq!(read(&future, None).unwrap_err(), BundleError::UnsupportedVersion { found: 3 });
    }

    #[test]
    fn keys_round_trip() {
        let secret = SigningKey::from_bytes(&[7; 32]);
        let text = encode_signing_key(&secret);
        assert!(text.starts_with("writ-ed25519-secret:0707"));
        assert_eq!(parse_signing_key(&text).unwrap().to_bytes(), secret.to_bytes());
        let public = secret.verifying_key();
        let text = encode_verifying_key(&public);
        assert_eq!(parse_verifying_key(&format!("  {text}\n")).unwrap(), public);
        let other = parse_verifying_key(&encode_signing_key(&secret)).unwrap_err();
        assert_eq!(other, KeyError::OtherHalf { expected: KeyHalf::Public });
        assert!(other.to_string().contains("other half"), "{other}");
        assert_eq!(
            parse_signing_key("writ-ed25519-secret:zz"),
            Err(KeyError::Length { expected: KeyHalf::Secret, found: 2 })
        );
        assert_eq!(
            parse_signing_key(&format!("{SECRET_PREFIX}{}", "g".repeat(64))).map(|_| ()),
            Err(KeyError::NotHex { expected: KeyHalf::Secret })
        );
        assert_eq!(parse_verifying_key(""), Err(KeyError::NotAKey { expected: KeyHalf::Public }));
        assert_eq!(
            parse_verifying_key(&format!("{PUBLIC_PREFIX}{}", "é".repeat(32))),
            Err(KeyError::NotHex { expected: KeyHalf::Public })
        );
    }
}
