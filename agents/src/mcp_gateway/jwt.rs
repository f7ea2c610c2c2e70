//! Bearer tokens: JWTs verified against a JSON Web Key Set (`--jwks FILE` or `--jwks-url URL`).
//!
//! A token is accepted only when all of these hold:
//!
//! - its header's `alg` is RS256, ES256 or EdDSA ([`ALLOWED`]): never `none` (which
//!   `jsonwebtoken` cannot even parse), never an HMAC algorithm (so a public key can never be
//!   used as an HMAC secret);
//! - a key of the set matches: by `kid` when the token names one, else the one key of the set
//!   of the algorithm's type; the key's type fits the algorithm (RSA for RS256, EC P-256 for
//!   ES256, OKP Ed25519 for EdDSA) and its own `alg`, when it has one, is the token's; `oct`
//!   keys are never loaded;
//! - the signature verifies; `iss` is `--issuer` and `aud` holds `--audience` (both claims
//!   required); `exp` is required and not past, and `nbf`, when present, not ahead, each with
//!   [`LEEWAY`] seconds of clock skew;
//! - the payload is one JSON object with unique keys (as every message writ reads).
//!
//! With `--jwks-url`, the set is fetched at start and again when a token names a `kid` the
//! set does not have, at most once per [`REFRESH_EVERY`] (so tokens with random `kid`s cannot
//! make the gateway hammer the issuer). It is fetched with the gateway's client
//! ([`crate::net`]): an `https://` URL is verified against the platform's roots and
//! `--ca-cert`; a set that cannot be fetched at start stops the gateway, one that cannot be
//! fetched later leaves the keys held (and the token naming an unknown `kid` refused).

use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, OctetKeyPairType};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value as Json};

use crate::evidence::ServerUrl;

/// The algorithms a token may be signed with.
pub const ALLOWED: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];
/// Seconds of clock skew allowed on `exp` and `nbf`.
pub const LEEWAY: u64 = 30;
/// The least time between two fetches of `--jwks-url` for unknown `kid`s.
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);
/// How long a fetch of the key set may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest key set read.
const MAX_JWKS: usize = 1024 * 1024;

/// Where the keys come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// A JWKS file, read at start.
    File(std::path::PathBuf),
    /// A JWKS URL (`https://` or `http://`), fetched at start and on unknown `kid`s.
    Url(ServerUrl),
}

/// Why a token was not accepted (the `error_description` of the 401).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// The header cannot be read (includes `alg: none` and unknown algorithms).
    BadHeader(String),
    /// The header's algorithm is not one of [`ALLOWED`].
    Algorithm(String),
    /// No key of the set fits the token.
    NoKey(String),
    /// The signature or a claim check failed (`exp`, `nbf`, `iss`, `aud`).
    Invalid(String),
    /// The payload is not one JSON object with unique keys.
    Payload(String),
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::BadHeader(e) => write!(f, "the token's header cannot be read: {e}"),
            TokenError::Algorithm(alg) => {
                write!(
                    f,
                    "the token is signed with {alg}; only RS256, ES256 and EdDSA are accepted"
                )
            }
            TokenError::NoKey(why) => write!(f, "no key verifies the token: {why}"),
            TokenError::Invalid(e) => write!(f, "the token is not valid: {e}"),
            TokenError::Payload(e) => write!(f, "the token's payload: {e}"),
        }
    }
}

impl std::error::Error for TokenError {}

/// A key of the set, ready to verify with.
struct Key {
    kid: Option<String>,
    /// The algorithm the key's type admits.
    alg: Algorithm,
    key: DecodingKey,
}

/// Verifies tokens.
pub struct Verifier {
    issuer: String,
    audience: String,
    source: KeySource,
    client: reqwest::Client,
    keys: RwLock<Vec<Key>>,
    fetched: Mutex<Option<Instant>>,
}

impl Verifier {
    /// Loads the key set; `Err` (a start-up error) when it cannot be read or has no usable key.
    pub async fn new(
        issuer: String,
        audience: String,
        source: KeySource,
        client: reqwest::Client,
    ) -> Result<Verifier, String> {
        let text = match &source {
            KeySource::File(path) => std::fs::read(path)
                .map_err(|e| format!("cannot read `--jwks {}`: {e}", path.display()))?,
            KeySource::Url(url) => fetch(&client, url)
                .await
                .map_err(|e| format!("cannot fetch `--jwks-url {url}`: {e}"))?,
        };
        let keys = parse_set(&text)?;
        if keys.is_empty() {
            return Err("the key set has no RSA, EC P-256 or Ed25519 key".to_string());
        }
        Ok(Verifier {
            issuer,
            audience,
            fetched: Mutex::new(matches!(source, KeySource::Url(_)).then(Instant::now)),
            source,
            client,
            keys: RwLock::new(keys),
        })
    }

    /// The verified payload of `token`.
    pub async fn verify(&self, token: &str) -> Result<Map<String, Json>, TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::BadHeader(e.to_string()))?;
        if !ALLOWED.contains(&header.alg) {
            return Err(TokenError::Algorithm(format!("{:?}", header.alg)));
        }
        let mut found = self.find(header.alg, header.kid.as_deref());
        if found.is_err()
            && header.kid.is_some()
            && let KeySource::Url(url) = &self.source
            && self.may_refresh()
        {
            match fetch(&self.client, url).await.and_then(|t| parse_set(&t)) {
                Ok(keys) if !keys.is_empty() => {
                    if let Ok(mut held) = self.keys.write() {
                        *held = keys;
                    }
                }
                Ok(_) => eprintln!("writ mcp-gateway: the refreshed key set has no usable key"),
                Err(e) => eprintln!("writ mcp-gateway: cannot refresh `--jwks-url {url}`: {e}"),
            }
            found = self.find(header.alg, header.kid.as_deref());
        }
        let key = found?;
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.leeway = LEEWAY;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        jsonwebtoken::decode::<Json>(token, &key, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        // Verified: read the payload again, strictly (no duplicate keys).
        let payload = token.split('.').nth(1).unwrap_or_default();
        let bytes =
            base64url(payload).ok_or_else(|| TokenError::Payload("not base64url".into()))?;
        match crate::strict::parse(&bytes) {
            Ok(Json::Object(map)) => Ok(map),
            Ok(_) => Err(TokenError::Payload("not a JSON object".into())),
            Err(e) => Err(TokenError::Payload(e)),
        }
    }

    /// The key for a token of `alg` naming `kid`.
    fn find(&self, alg: Algorithm, kid: Option<&str>) -> Result<DecodingKey, TokenError> {
        let keys = self.keys.read().map_err(|_| TokenError::NoKey("the key set is lost".into()))?;
        let fits: Vec<&Key> = match kid {
            Some(kid) => keys.iter().filter(|k| k.kid.as_deref() == Some(kid)).collect(),
            None => keys.iter().filter(|k| k.alg == alg).collect(),
        };
        match fits.as_slice() {
            [one] if one.alg == alg => Ok(one.key.clone()),
            [one] => Err(TokenError::NoKey(format!(
                "the key `{}` is for {:?}, the token is signed with {alg:?}",
                one.kid.as_deref().unwrap_or("?"),
                one.alg
            ))),
            [] => Err(TokenError::NoKey(match kid {
                Some(kid) => format!("the key set has no key `{kid}`"),
                None => format!("the key set has no {alg:?} key"),
            })),
            _ => Err(TokenError::NoKey(
                "more than one key fits; the token must name its key (`kid`)".into(),
            )),
        }
    }

    /// Whether a refetch is due (and, if so, marks it done now).
    fn may_refresh(&self) -> bool {
        let Ok(mut last) = self.fetched.lock() else { return false };
        if last.is_some_and(|at| at.elapsed() < REFRESH_EVERY) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

/// The usable keys of a JWKS document. A key that cannot be used (an `oct` key, another
/// curve, a key for encryption) is left out, with a note on standard error; a document that is
/// not a key set is an error.
fn parse_set(text: &[u8]) -> Result<Vec<Key>, String> {
    let set = crate::strict::parse(text).map_err(|e| format!("the key set: {e}"))?;
    let Some(Json::Array(items)) = set.get("keys") else {
        return Err("the key set has no `keys` list".to_string());
    };
    let mut keys = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match key(item) {
            Ok(k) => keys.push(k),
            Err(why) => eprintln!("writ mcp-gateway: key {i} of the key set is not used: {why}"),
        }
    }
    Ok(keys)
}

fn key(item: &Json) -> Result<Key, String> {
    let jwk: Jwk = serde_json::from_value(item.clone()).map_err(|e| e.to_string())?;
    if item.get("use").and_then(Json::as_str).is_some_and(|u| u != "sig") {
        return Err("its `use` is not `sig`".to_string());
    }
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        AlgorithmParameters::OctetKeyPair(p)
            if p.key_type == OctetKeyPairType::OctetKeyPair
                && p.curve == EllipticCurve::Ed25519 =>
        {
            Algorithm::EdDSA
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err("a symmetric (`oct`) key is never used".to_string());
        }
        _ => return Err("only RSA, EC P-256 and Ed25519 keys are used".to_string()),
    };
    // Sizes checked here, before any token: jsonwebtoken 10 slices an Ed25519 key's bytes
    // without checking their length (a short `x` would panic at the first token).
    let len = |text: &str| base64url(text).map_or(0, |b| b.len());
    let sized = match &jwk.algorithm {
        AlgorithmParameters::RSA(p) => len(&p.n) >= 256,
        AlgorithmParameters::EllipticCurve(p) => len(&p.x) == 32 && len(&p.y) == 32,
        AlgorithmParameters::OctetKeyPair(p) => len(&p.x) == 32,
        AlgorithmParameters::OctetKey(_) => false,
    };
    if !sized {
        return Err("its size is wrong (RSA: 2048 bits or more; P-256 and Ed25519: 32-byte \
                    coordinates)"
            .to_string());
    }
    let declared = jwk.common.key_algorithm;
    let fits = match declared {
        None => true,
        Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
        Some(KeyAlgorithm::EdDSA) => alg == Algorithm::EdDSA,
        Some(_) => false,
    };
    if !fits {
        return Err(format!("its `alg` ({declared:?}) is not RS256, ES256 or EdDSA for its type"));
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string())?;
    Ok(Key { kid: jwk.common.key_id.clone(), alg, key })
}

/// Decodes unpadded base64url (RFC 4648 §5).
fn base64url(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    Some(out)
}

/// `GET` the key set, within [`FETCH_TIMEOUT`], at most [`MAX_JWKS`] bytes.
async fn fetch(client: &reqwest::Client, url: &ServerUrl) -> Result<Vec<u8>, String> {
    tokio::time::timeout(FETCH_TIMEOUT, get(client, url))
        .await
        .map_err(|_| format!("no answer within {}s", FETCH_TIMEOUT.as_secs()))?
}

async fn get(client: &reqwest::Client, url: &ServerUrl) -> Result<Vec<u8>, String> {
    let mut response = client
        .get(url.to_string())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| crate::net::describe(&e))?;
    let status = response.status();
    let body = crate::net::read_limited(&mut response, MAX_JWKS)
        .await
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    if status != reqwest::StatusCode::OK {
        return Err(format!("answered {status}"));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::base64url;

    #[test]
    fn base64url_decodes() {
        assert_eq!(base64url("eyJhIjoxfQ").unwrap(), br#"{"a":1}"#);
        assert_eq!(base64url("").unwrap(), b"");
        assert_eq!(base64url("_-8").unwrap(), vec![0xff, 0xef]);
        assert!(base64url("a+b").is_none());
        assert!(base64url("a=").is_none());
    }
}
