//! `writ._writ`, the native module of the `writ` Python package (PyO3, the stable ABI of
//! CPython 3.10 and later). It converts Python values to the JSON terms of `writ-bindings` and
//! back; loading, checking and deciding are `writ-bindings`' (the same as `writ eval`'s). The
//! Python half of the package (`python/writ/`) holds the exceptions, `Diagnostic`, `check` and
//! the guard.
//!
//! Fails closed: a request that cannot be turned into JSON (a value that is not JSON, a
//! string that is not Unicode, nesting past [`MAX_DEPTH`], a cycle) is a `writ.RequestError`,
//! never a decision; nothing here panics on any input.

// PyO3's macros expand to the unsafe glue of CPython's C API, but that code is the macros' own
// (the `unsafe_code` lint does not look into it), so this crate forbids unsafe like every other.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::Value as Json;
use writ_bindings::{Decision, LoadError, RequestError};

/// How deeply a request's dicts and lists may nest before it is refused (the evaluator's
/// JSON reader refuses deeper nesting too). Also what stops a list that contains itself.
const MAX_DEPTH: usize = 64;

/// A compiled policy. Immutable: share it between threads freely.
#[pyclass(module = "writ", name = "Policy", frozen)]
struct Policy {
    inner: Arc<writ_bindings::Policy>,
    /// The digest as a Python string, made once: every decision's `policy` is this object.
    hash: Py<PyString>,
}

#[pymethods]
impl Policy {
    /// Compiles the policy at `path` (a `.writ` file or a directory of them).
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Policy> {
        let loaded = py.detach(|| writ_bindings::load(&path));
        loaded.map(|p| Policy::new(py, p)).map_err(|e| load_error(py, &e))
    }

    /// Loads a bundle written by `writ build`. With `verify_key` (the text of a `writ keygen`
    /// public key, `str` or `bytes`), an unsigned bundle or a bad signature is refused.
    #[staticmethod]
    #[pyo3(signature = (bundle, verify_key=None))]
    fn from_bundle(
        py: Python<'_>,
        bundle: &Bound<'_, PyBytes>,
        verify_key: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Policy> {
        let key = match verify_key {
            None => None,
            Some(k) => Some(match k.cast::<PyBytes>() {
                Ok(b) => String::from_utf8_lossy(b.as_bytes()).into_owned(),
                Err(_) => k.extract::<String>()?,
            }),
        };
        let bytes = bundle.as_bytes().to_vec();
        let loaded = py.detach(|| writ_bindings::from_bundle(&bytes, key.as_deref()));
        loaded.map(|p| Policy::new(py, p)).map_err(|e| load_error(py, &e))
    }

    /// The policy digest, `sha256:<hex>`.
    #[getter]
    fn hash(&self) -> &str {
        self.inner.hash()
    }

    /// Decides one request (a `dict`, or its JSON text): the decision as `writ eval` gives it.
    fn decide<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let text = request_text(request)?;
        let policy = &self.inner;
        match py.detach(|| writ_bindings::decide(policy, &text)) {
            Ok(decision) => self.decision(py, &decision),
            Err(e) => Err(request_error(py, &e)),
        }
    }

    /// Decides one request given as JSON text and answers the decision's JSON text: the
    /// fastest path, for callers that hold JSON already.
    fn decide_json(&self, py: Python<'_>, request: &str) -> PyResult<String> {
        let policy = &self.inner;
        let decided = py.detach(|| writ_bindings::decide_json(policy, request));
        decided.map_err(|e| request_error(py, &e))
    }

    /// Decides many requests with this one policy, in order. An element that is not a request
    /// is `{"error", "field", "kind", "index"}` in its place (treat it as deny), as in
    /// `writ serve`'s batch endpoint.
    fn decide_many<'py>(
        &self,
        py: Python<'py>,
        requests: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut texts = Vec::new();
        for (index, item) in requests.try_iter()?.enumerate() {
            texts.push(request_text(&item?).map_err(|e| (index, e)));
        }
        let policy = &self.inner;
        type Decided = Result<Result<Decision, Json>, (usize, PyErr)>;
        let decided: Vec<Decided> = py.detach(|| {
            texts
                .into_iter()
                .enumerate()
                .map(|(index, text)| {
                    text.map(|t| {
                        writ_bindings::decide(policy, &t)
                            .map_err(|e| writ_bindings::batch_error(&e, index))
                    })
                })
                .collect()
        });
        let out = PyList::empty(py);
        for item in decided {
            match item {
                Ok(Ok(decision)) => out.append(self.decision(py, &decision)?)?,
                Ok(Err(json)) => out.append(to_py(py, &json)?)?,
                Err((index, error)) => out.append(batch_element(py, index, &error)?)?,
            }
        }
        Ok(out)
    }

    /// Decides one request and explains how: the decision with its trace under `explain` (and
    /// the request's ignored keys under `unknown_keys`), as `writ eval --explain` gives it.
    fn explain<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let text = request_text(request)?;
        let policy = &self.inner;
        match py.detach(|| writ_bindings::explain(policy, &text)) {
            Ok(explained) => to_py(py, &explained),
            Err(e) => Err(request_error(py, &e)),
        }
    }

    /// A guard for tool functions that decides each call with this policy (`writ.Guard`).
    #[pyo3(signature = (**kwargs))]
    fn guard<'py>(
        slf: &Bound<'py, Self>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let guard = py.import("writ._guard")?.getattr("Guard")?;
        guard.call((slf,), kwargs)
    }

    fn __repr__(&self) -> String {
        format!("<writ.Policy {}>", self.inner.hash())
    }
}

impl Policy {
    fn new(py: Python<'_>, policy: writ_bindings::Policy) -> Policy {
        let hash = PyString::new(py, policy.hash()).unbind();
        Policy { inner: Arc::new(policy), hash }
    }

    /// A decision as a `dict`, built field by field: the same keys, order and values as
    /// `Decision::to_json` (the tests compare with `writ eval`), without a JSON tree between.
    fn decision<'py>(&self, py: Python<'py>, d: &Decision) -> PyResult<Bound<'py, PyAny>> {
        let out = PyDict::new(py);
        out.set_item(intern!(py, "decision"), outcome(py, d.decision))?;
        let missing = PyList::empty(py);
        for m in &d.missing {
            if m.fields.is_empty() {
                let item = PyDict::new(py);
                item.set_item(intern!(py, "evidence"), &*m.evidence)?;
                if let Some(by) = &m.by {
                    item.set_item(intern!(py, "by"), &**by)?;
                }
                item.set_item(intern!(py, "need"), m.need)?;
                item.set_item(intern!(py, "have"), m.have)?;
                missing.append(item)?;
            } else {
                // Fields are literals of the language (durations, kinds): their JSON form.
                let json = serde_json::to_value(m).unwrap_or(Json::Null);
                missing.append(to_py(py, &json)?)?;
            }
        }
        out.set_item(intern!(py, "missing"), missing)?;
        let rules = PyList::empty(py);
        for rule in &d.rules {
            rules.append(&**rule)?;
        }
        out.set_item(intern!(py, "rules"), rules)?;
        let reasons = PyList::empty(py);
        for reason in &d.reasons {
            reasons.append(reason)?;
        }
        out.set_item(intern!(py, "reasons"), reasons)?;
        out.set_item(intern!(py, "ttl_seconds"), d.ttl_seconds)?;
        out.set_item(intern!(py, "policy"), self.hash.bind(py))?;
        Ok(out.into_any())
    }
}

fn outcome(py: Python<'_>, o: writ_bindings::Outcome) -> &Bound<'_, PyString> {
    match o {
        writ_bindings::Outcome::Allow => intern!(py, "allow"),
        writ_bindings::Outcome::Deny => intern!(py, "deny"),
        writ_bindings::Outcome::Pending => intern!(py, "pending"),
    }
}

/// Every diagnostic of the policy at `path`, as dicts (`writ check --format json`'s elements);
/// `writ.check` makes them `writ.Diagnostic`s.
#[pyfunction]
fn _check(py: Python<'_>, path: PathBuf) -> PyResult<Bound<'_, PyList>> {
    let checked = py.detach(|| writ_bindings::check(&path));
    let diagnostics = checked.map_err(|e| load_error(py, &e))?;
    let out = PyList::empty(py);
    for d in &diagnostics {
        out.append(to_py(py, &writ_bindings::diagnostic_json(d))?)?;
    }
    Ok(out)
}

#[pymodule]
fn _writ(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Policy>()?;
    m.add_function(wrap_pyfunction!(_check, m)?)?;
    m.add("MAX_DEPTH", MAX_DEPTH)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Errors: the classes are Python's (`writ/_errors.py`), built here with their fields.

fn request_error(py: Python<'_>, e: &RequestError) -> PyErr {
    raise(py, "RequestError", (e.to_string(), e.field.as_str(), e.kind.as_str()))
}

fn load_error(py: Python<'_>, e: &LoadError) -> PyErr {
    let diagnostics = PyList::empty(py);
    for d in e.diagnostics() {
        let appended = to_py(py, &writ_bindings::diagnostic_json(d))
            .and_then(|value| diagnostics.append(value));
        if let Err(err) = appended {
            return err;
        }
    }
    raise(py, "PolicyError", (e.to_string(), e.kind(), diagnostics))
}

/// An instance of `writ._errors.NAME` built from `args`, as an exception to raise. Should the
/// class be missing (a broken install), the error saying so is raised instead: still an
/// exception, never a decision.
fn raise<'py, A: pyo3::call::PyCallArgs<'py>>(py: Python<'py>, name: &str, args: A) -> PyErr {
    let built =
        py.import("writ._errors").and_then(|m| m.getattr(name)).and_then(|class| class.call1(args));
    match built {
        Ok(instance) => PyErr::from_value(instance),
        Err(e) => e,
    }
}

/// A batch element that could not even be made JSON: the shape of a bad request in a batch.
fn batch_element<'py>(py: Python<'py>, index: usize, error: &PyErr) -> PyResult<Bound<'py, PyAny>> {
    let value = error.value(py);
    let field: String = value.getattr("field").and_then(|f| f.extract()).unwrap_or_default();
    let kind: String =
        value.getattr("kind").and_then(|f| f.extract()).unwrap_or_else(|_| "wrong_type".into());
    let out = PyDict::new(py);
    out.set_item("error", value.str()?)?;
    out.set_item("field", field)?;
    out.set_item("kind", kind)?;
    out.set_item("index", index)?;
    Ok(out.into_any())
}

// ---------------------------------------------------------------------------------------------
// Python to JSON text. A `str` is taken as the request's JSON text as it is; anything else is
// written as JSON here (no intermediate tree), then decoded by the evaluator like any request.

fn request_text(request: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(text) = request.cast::<PyString>() {
        return text.to_str().map(str::to_owned).map_err(|_| {
            let e = RequestError::new(
                writ_bindings::RequestErrorKind::Syntax,
                "",
                "the request text is not valid Unicode",
            );
            request_error(request.py(), &e)
        });
    }
    if let Ok(bytes) = request.cast::<PyBytes>() {
        return Ok(String::from_utf8_lossy(bytes.as_bytes()).into_owned());
    }
    if !request.is_instance_of::<PyDict>() {
        return Err(PyTypeError::new_err(format!(
            "a request is a dict or its JSON text, not `{}`",
            request.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        )));
    }
    let mut out = Vec::with_capacity(256);
    match write_json(request, &mut out, 0) {
        Ok(()) => Ok(String::from_utf8(out).unwrap_or_default()),
        Err(bad) => {
            let e = RequestError::new(bad.kind, bad.field(), bad.message);
            Err(request_error(request.py(), &e))
        }
    }
}

/// A value that is not JSON, and where (path segments, innermost last once reversed).
struct NotJson {
    kind: writ_bindings::RequestErrorKind,
    message: String,
    path: Vec<String>,
}

impl NotJson {
    fn new(message: impl Into<String>) -> NotJson {
        NotJson {
            kind: writ_bindings::RequestErrorKind::WrongType,
            message: message.into(),
            path: Vec::new(),
        }
    }

    /// Adds the enclosing key or index; nesting too deep is said of the whole request (its
    /// path would be as long as the nesting).
    fn at(mut self, segment: String) -> NotJson {
        if self.kind != writ_bindings::RequestErrorKind::Syntax {
            self.path.push(segment);
        }
        self
    }

    /// The field in the evaluator's notation: `chain[1].kind`.
    fn field(&self) -> String {
        let mut out = String::new();
        for segment in self.path.iter().rev() {
            if !segment.starts_with('[') && !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
        out
    }
}

fn write_json(value: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> Result<(), NotJson> {
    if depth > MAX_DEPTH {
        return Err(NotJson {
            kind: writ_bindings::RequestErrorKind::Syntax,
            message: format!("nested more than {MAX_DEPTH} levels deep"),
            path: Vec::new(),
        });
    }
    // The most frequent types first: strings, then dicts and lists, then the scalars.
    if let Ok(s) = value.cast::<PyString>() {
        let s = s.to_str().map_err(|_| NotJson::new("a string that is not valid Unicode"))?;
        write_str(s, out);
    } else if let Ok(d) = value.cast::<PyDict>() {
        out.push(b'{');
        for (n, (k, v)) in d.iter().enumerate() {
            let key =
                k.cast::<PyString>().map_err(|_| NotJson::new("a key that is not a string"))?;
            let key = key.to_str().map_err(|_| NotJson::new("a key that is not valid Unicode"))?;
            if n > 0 {
                out.push(b',');
            }
            write_str(key, out);
            out.push(b':');
            write_json(&v, out, depth + 1).map_err(|e| e.at(key.to_string()))?;
        }
        out.push(b'}');
    } else if let Ok(list) = value.cast::<PyList>() {
        out.push(b'[');
        for (n, item) in list.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_json(&item, out, depth + 1).map_err(|e| e.at(format!("[{n}]")))?;
        }
        out.push(b']');
    } else if let Ok(tuple) = value.cast::<PyTuple>() {
        out.push(b'[');
        for (n, item) in tuple.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_json(&item, out, depth + 1).map_err(|e| e.at(format!("[{n}]")))?;
        }
        out.push(b']');
    } else if value.is_none() {
        out.extend_from_slice(b"null");
    } else if let Ok(b) = value.cast::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if let Ok(i) = value.cast::<PyInt>() {
        match i.extract::<i64>() {
            // Writing into a Vec cannot fail.
            Ok(n) => {
                let _ = serde_json::to_writer(&mut *out, &n);
            }
            // Beyond 64 bits: its digits, which the evaluator refuses as it would in JSON.
            Err(_) => out.extend_from_slice(
                i.str().map_err(|_| NotJson::new("an integer"))?.to_string().as_bytes(),
            ),
        }
    } else if let Ok(f) = value.cast::<PyFloat>() {
        let number = serde_json::Number::from_f64(f.value())
            .ok_or_else(|| NotJson::new("a float that is not finite (JSON has no NaN)"))?;
        let _ = serde_json::to_writer(&mut *out, &number);
    } else {
        let name = value.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        return Err(NotJson::new(format!(
            "a value of type `{name}`, which is not JSON (use str, int, float, bool, None, list, \
             dict)"
        )));
    }
    Ok(())
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    // serde_json's escaping, so that the evaluator reads back exactly `s`. Writing into a
    // Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

// ---------------------------------------------------------------------------------------------
// JSON to Python.

fn to_py<'py>(py: Python<'py>, value: &Json) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Json::Null => py.None().into_bound(py),
        Json::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Json::String(s) => PyString::new(py, s).into_any(),
        Json::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Json::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}
