//! What writ's Python package (`bindings/python`) and Node package (`bindings/node`) share,
//! in the terms both speak: paths, bytes and JSON. Each binding converts its language's values
//! to and from these, and nothing else: loading a policy, checking one, deciding and explaining
//! are done here once, so the two packages cannot disagree with each other or with `writ eval`.
//!
//! Depends on the compiler (to load and check `.writ` files) and the evaluator only: nothing a
//! gateway would not ship.

#![forbid(unsafe_code)]

use std::fmt;
use std::path::Path;

use serde_json::{Map, Value as Json, json};
use writ_compiler::{Compiler, JsonDiagnostic};
use writ_evaluator::bundle::{self, BundleError, KeyError};
pub use writ_evaluator::{
    Decision, Missing, Outcome, Policy, Request, RequestError, RequestErrorKind,
};

/// Why a policy could not be loaded. Every variant means there is no policy: a caller that was
/// to decide with it denies.
#[derive(Debug)]
pub enum LoadError {
    /// The path could not be read (missing, unreadable, a directory without `.writ` files).
    Io { path: String, message: String },
    /// The policy has errors: every diagnostic of the compilation (errors and warnings), with
    /// the file paths a user can open.
    Compile { path: String, diagnostics: Vec<JsonDiagnostic> },
    /// The compiled policy was refused by the evaluator (a compiler bug, never seen in practice).
    Invalid(writ_evaluator::PolicyError),
    /// The bundle was refused: damaged, of another version, unsigned when a key was given, a
    /// signature that does not verify.
    Bundle(BundleError),
    /// The verify key given is not a public key.
    Key(KeyError),
}

impl LoadError {
    /// The error's stable name: `io`, `compile`, `invalid`, `bundle`, `key`.
    pub fn kind(&self) -> &'static str {
        match self {
            LoadError::Io { .. } => "io",
            LoadError::Compile { .. } => "compile",
            LoadError::Invalid(_) => "invalid",
            LoadError::Bundle(_) => "bundle",
            LoadError::Key(_) => "key",
        }
    }

    /// The diagnostics of a policy with errors (empty for the other kinds).
    pub fn diagnostics(&self) -> &[JsonDiagnostic] {
        match self {
            LoadError::Compile { diagnostics, .. } => diagnostics,
            _ => &[],
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io { path, message } => write!(f, "cannot read policy `{path}`: {message}"),
            LoadError::Compile { path, diagnostics } => {
                let errors: Vec<&JsonDiagnostic> = diagnostics
                    .iter()
                    .filter(|d| d.severity == writ_compiler::Severity::Error)
                    .collect();
                write!(
                    f,
                    "policy `{path}` has {} error{}",
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" }
                )?;
                for d in errors.iter().take(3) {
                    write!(
                        f,
                        "\n  {}:{}:{}: {} [{}]",
                        d.file, d.line, d.column, d.message, d.code
                    )?;
                }
                if errors.len() > 3 {
                    write!(f, "\n  ... and {} more", errors.len() - 3)?;
                }
                Ok(())
            }
            LoadError::Invalid(e) => write!(f, "policy could not be loaded: {e}"),
            LoadError::Bundle(e) => write!(f, "bundle refused: {e}"),
            LoadError::Key(e) => write!(f, "verify key: {e}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// Compiles the policy at `path` (a `.writ` file or a directory of them), as `writ eval
/// --policy` does.
pub fn load(path: &Path) -> Result<Policy, LoadError> {
    let compiler = read(path)?;
    let compilation = compiler.compilation();
    let Some(ir) = &compilation.policy else {
        return Err(LoadError::Compile {
            path: path.display().to_string(),
            diagnostics: diagnostics(&compiler, path),
        });
    };
    Policy::from_ir(ir.clone()).map_err(LoadError::Invalid)
}

/// Every diagnostic of the policy at `path`, errors and warnings, as `writ check --format json`
/// gives them. Only a path that cannot be read is an error.
pub fn check(path: &Path) -> Result<Vec<JsonDiagnostic>, LoadError> {
    let compiler = read(path)?;
    Ok(diagnostics(&compiler, path))
}

fn read(path: &Path) -> Result<Compiler, LoadError> {
    Compiler::load(path)
        .map_err(|e| LoadError::Io { path: path.display().to_string(), message: e.to_string() })
}

fn diagnostics(compiler: &Compiler, path: &Path) -> Vec<JsonDiagnostic> {
    let sources = compiler.display_sources(path);
    compiler.compilation().diagnostics.iter().map(|d| JsonDiagnostic::new(d, &sources)).collect()
}

/// Loads a bundle (`writ build`); with `verify_key` (the text of a `writ keygen` public key
/// file), an unsigned bundle or one whose signature does not verify is refused.
pub fn from_bundle(bytes: &[u8], verify_key: Option<&str>) -> Result<Policy, LoadError> {
    let key = verify_key.map(bundle::parse_verifying_key).transpose().map_err(LoadError::Key)?;
    Policy::from_bundle(bytes, key.as_ref()).map_err(LoadError::Bundle)
}

/// Decides a request given as JSON text: the decision of `writ eval`.
pub fn decide(policy: &Policy, request: &str) -> Result<Decision, RequestError> {
    Request::from_json(request).map(|r| policy.decide(&r))
}

/// Decides a request given as JSON text and answers the decision's JSON text
/// ([`Policy::decide_json`]: the text of [`decide`]'s decision, without building it).
pub fn decide_json(policy: &Policy, request: &str) -> Result<String, RequestError> {
    Request::from_json(request).map(|r| policy.decide_json(&r))
}

/// Decides a request and explains how: the decision's JSON with its trace under `explain` and
/// the request keys decoding ignored under `unknown_keys` (when there are any), as
/// `writ eval --explain --format json` prints it.
pub fn explain(policy: &Policy, request: &str) -> Result<Json, RequestError> {
    let parsed = Request::from_json(request)?;
    let (decision, trace) = policy.decide_explained(&parsed);
    let mut value = decision.to_value();
    if let Json::Object(map) = &mut value {
        map.insert("explain".into(), serde_json::to_value(&trace).unwrap_or(Json::Null));
        let unknown: Vec<Json> = Request::unknown_keys(request.as_bytes())
            .into_iter()
            .map(|k| json!({"field": k.field, "did_you_mean": k.did_you_mean}))
            .collect();
        if !unknown.is_empty() {
            map.insert("unknown_keys".into(), Json::Array(unknown));
        }
    }
    Ok(value)
}

/// Decides a batch with one policy, as `writ serve`'s `/v1/decide/batch` answers: each element
/// the decision's JSON, or `{"error", "field", "kind", "index"}` for one that is not a request
/// (treat it as deny). One bad element does not affect the others.
pub fn decide_many<'t>(policy: &Policy, requests: impl IntoIterator<Item = &'t str>) -> Vec<Json> {
    requests
        .into_iter()
        .enumerate()
        .map(|(index, text)| match decide(policy, text) {
            Ok(decision) => decision.to_value(),
            Err(e) => batch_error(&e, index),
        })
        .collect()
}

/// A batch element that is not a request, in the shape of `/v1/decide/batch`.
pub fn batch_error(error: &RequestError, index: usize) -> Json {
    let mut map = Map::new();
    map.insert("error".into(), Json::String(error.to_string()));
    map.insert("field".into(), Json::String(error.field.clone()));
    map.insert("kind".into(), Json::String(error.kind.as_str().into()));
    map.insert("index".into(), Json::from(index));
    Json::Object(map)
}

/// A diagnostic as JSON (`writ check --format json`'s elements).
pub fn diagnostic_json(d: &JsonDiagnostic) -> Json {
    serde_json::to_value(d).unwrap_or(Json::Null)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, reason = "tests")]

    use super::*;

    const POLICY: &str = "role dev { may ping }\ntool ping(n: int)\nevidence ok\n\
        workflow w { start by dev\n allow ping when n < 3\n allow ping when n >= 3 require ok }\n";

    /// A fresh directory holding `text` as `p.writ`, one per test (`name`).
    fn dir(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("writ-bindings-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("p.writ"), text).unwrap();
        dir
    }

    fn request(n: i64) -> String {
        json!({"action": "call", "workflow": "w", "tool": "ping", "args": {"n": n},
               "chain": [{"id": "ada", "kind": "human", "roles": ["dev"]},
                         {"id": "bot", "kind": "agent"}]})
        .to_string()
    }

    #[test]
    fn loads_decides_and_explains_as_writ_eval_does() {
        let policy = load(&dir("decides", POLICY)).unwrap();
        assert_eq!(decide(&policy, &request(1)).unwrap().decision.as_str(), "allow");
        assert_eq!(decide(&policy, &request(5)).unwrap().decision.as_str(), "pending");
        let explained = explain(&policy, &request(1)).unwrap();
        assert_eq!(explained["decision"], "allow");
        assert!(explained["explain"].is_object() || explained["explain"].is_array());
    }

    #[test]
    fn a_policy_with_errors_carries_its_diagnostics() {
        let path = dir("errors", "workflow w { allow nothing_declared }\n");
        let error = load(&path).unwrap_err();
        assert_eq!(error.kind(), "compile");
        assert!(!error.diagnostics().is_empty());
        assert!(error.diagnostics()[0].file.ends_with("p.writ"), "{error}");
        assert_eq!(check(&path).unwrap().len(), error.diagnostics().len());
    }

    #[test]
    fn a_batch_answers_a_bad_element_in_its_place() {
        let policy = load(&dir("batch", POLICY)).unwrap();
        let good = request(1);
        let out = decide_many(&policy, [good.as_str(), "{\"action\": \"call\"}"]);
        assert_eq!(out[0]["decision"], "allow");
        assert_eq!(out[1]["field"], "workflow");
        assert_eq!(out[1]["kind"], "missing");
        assert_eq!(out[1]["index"], 1);
    }

    #[test]
    fn a_bad_key_or_bundle_is_refused() {
        assert_eq!(from_bundle(b"nope", Some("not a key")).unwrap_err().kind(), "key");
        assert_eq!(from_bundle(b"nope", None).unwrap_err().kind(), "bundle");
    }
}
