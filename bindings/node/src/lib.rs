//! The native addon of the `writ` npm package (napi-rs). Its surface is JSON text in and out:
//! `index.js` turns objects into JSON (`JSON.stringify`) and back (`JSON.parse`), which V8
//! does faster than converting a JavaScript object property by property through N-API, and
//! throws the package's typed errors. Loading, checking and deciding are `writ-bindings`' (the
//! same as `writ eval`'s).
//!
//! Errors cross as a JavaScript `Error` whose `code` is `WRIT_REQUEST` or `WRIT_POLICY` and
//! whose message is a JSON object (`{"message", "field", "kind"}` or `{"message", "kind",
//! "diagnostics"}`), which `index.js` unpacks into `RequestError` or `PolicyError`.

// napi-rs's `#[napi]` expands to the unsafe glue of N-API under its own
// `#[allow(unsafe_code)]`, which `forbid` would refuse: so this crate only denies unsafe (as the
// workspace does), which lets the macro's expansions allow it for themselves and nothing else.
// No hand-written unsafe (ARCHITECTURE.md, the invariant about unsafe).
#![deny(unsafe_code)]

use std::path::Path;
use std::sync::Arc;

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use serde_json::{Value as Json, json};
use writ_bindings::{LoadError, RequestError};

type Result<T> = std::result::Result<T, napi::Error<String>>;

/// A compiled policy.
#[napi]
pub struct Policy {
    inner: Arc<writ_bindings::Policy>,
}

#[napi]
impl Policy {
    /// Compiles the policy at `path` (a `.writ` file or a directory of them).
    #[napi(factory)]
    pub fn load(path: String) -> Result<Policy> {
        writ_bindings::load(Path::new(&path)).map(Policy::new).map_err(|e| load_error(&e))
    }

    /// Loads a bundle written by `writ build`; with `verify_key` (a `writ keygen` public key's
    /// text), only one signed by that key.
    #[napi(factory)]
    pub fn from_bundle(bundle: Buffer, verify_key: Option<String>) -> Result<Policy> {
        writ_bindings::from_bundle(&bundle, verify_key.as_deref())
            .map(Policy::new)
            .map_err(|e| load_error(&e))
    }

    /// The policy digest, `sha256:<hex>`.
    #[napi(getter)]
    pub fn hash(&self) -> String {
        self.inner.hash().to_string()
    }

    /// Decides one request's JSON text; the decision's JSON text.
    #[napi]
    pub fn decide_json(&self, request: String) -> Result<String> {
        writ_bindings::decide_json(&self.inner, &request).map_err(|e| request_error(&e))
    }

    /// Decides each request's JSON text in order: a JSON array, each element the decision or
    /// `{"error", "field", "kind", "index"}` for one that is not a request.
    #[napi]
    pub fn decide_many_json(&self, requests: Vec<String>) -> String {
        let out = writ_bindings::decide_many(&self.inner, requests.iter().map(String::as_str));
        Json::Array(out).to_string()
    }

    /// The decision with its trace, as `writ eval --explain --format json` prints it.
    #[napi]
    pub fn explain_json(&self, request: String) -> Result<String> {
        writ_bindings::explain(&self.inner, &request)
            .map(|v| v.to_string())
            .map_err(|e| request_error(&e))
    }
}

impl Policy {
    fn new(policy: writ_bindings::Policy) -> Policy {
        Policy { inner: Arc::new(policy) }
    }
}

/// Every diagnostic of the policy at `path` as a JSON array (`writ check --format json`).
#[napi]
pub fn check_json(path: String) -> Result<String> {
    let diagnostics = writ_bindings::check(Path::new(&path)).map_err(|e| load_error(&e))?;
    Ok(Json::Array(diagnostics.iter().map(writ_bindings::diagnostic_json).collect()).to_string())
}

fn request_error(e: &RequestError) -> napi::Error<String> {
    let body = json!({"message": e.to_string(), "field": e.field, "kind": e.kind.as_str()});
    napi::Error::new("WRIT_REQUEST".to_string(), body.to_string())
}

fn load_error(e: &LoadError) -> napi::Error<String> {
    let diagnostics: Vec<Json> =
        e.diagnostics().iter().map(writ_bindings::diagnostic_json).collect();
    let body = json!({"message": e.to_string(), "kind": e.kind(), "diagnostics": diagnostics});
    napi::Error::new("WRIT_POLICY".to_string(), body.to_string())
}
