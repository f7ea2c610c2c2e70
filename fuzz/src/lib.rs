//! The bodies of writ's fuzz targets, one function per input a binary reads from outside: the
//! policy parser and checker, the request decoder (with a decision), the bundle reader, the
//! decision-log verifier, and the language server's message handling. Each takes arbitrary
//! bytes and returns normally: a panic, a hang or a broken law is a finding.
//!
//! `fuzz/libfuzzer/` runs them coverage-guided with `cargo fuzz` (RELIABILITY.md says how and
//! what the long runs found); `tests/smoke.rs` runs them on the seed corpus and on random
//! inputs in every `cargo test`, so a target that stops compiling or starts panicking on its
//! seeds fails CI.
#![forbid(unsafe_code)]
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "a fuzz target reports a broken law by panicking; this crate is never shipped"
)]

use std::io::Cursor;
use std::sync::OnceLock;
use std::time::Duration;

use writ_evaluator::{Policy, Request, UnknownKeys};

/// The policy requests are decided against: every kind of rule and type of version 2.
const POLICY: &str = include_str!("../corpus/policy/full.writ");

fn policy_for_requests() -> &'static Policy {
    static POLICY_ONCE: OnceLock<Policy> = OnceLock::new();
    POLICY_ONCE.get_or_init(|| {
        let compiler = writ_compiler::Compiler::new(vec![("full.writ".into(), POLICY.into())]);
        let ir = compiler.compilation().policy.clone().expect("the fuzz policy compiles");
        Policy::from_ir(ir).expect("the compiler's IR loads")
    })
}

/// Policy text: parse, check, lower and load must not panic; what the checker accepts the
/// evaluator loads; the formatter is idempotent and keeps the meaning (the same IR hash); and
/// an edit compiles incrementally exactly as a fresh compiler compiles the edited text.
pub fn policy(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    let compiler = writ_compiler::Compiler::new(vec![("fuzz.writ".into(), text.clone())]);
    let compilation = compiler.compilation();
    let sources = compiler.sources();
    for d in &compilation.diagnostics {
        let _ = writ_compiler::JsonDiagnostic::new(d, &sources);
    }
    if let Some(ir) = &compilation.policy
        && let Err(e) = Policy::from_ir(ir.clone())
    {
        panic!("the checker accepted a policy the evaluator refuses: {e}");
    }
    if let Some(formatted) = writ_grammar::format(&text) {
        let again = writ_grammar::format(&formatted);
        assert_eq!(again.as_deref(), Some(formatted.as_str()), "fmt is not idempotent");
    }
    incremental(compiler, &text, data);
}

/// The incremental law: after an edit (a line break inserted at a place the input picks, which
/// changes the declaration it lands in and moves everything after it), the database, which
/// reuses unchanged declarations' parses and replays unchanged workflows' checks, gives what a
/// fresh compiler gives on the edited text; with the edit undone, what it gave at first.
fn incremental(compiler: writ_compiler::Compiler, text: &str, data: &[u8]) {
    use salsa::Setter;
    let writ_compiler::Compiler { mut db, policy } = compiler;
    let Some(&file) = policy.files(&db).first() else { return };
    let first = writ_compiler::compile(&db, policy).clone();
    let pick = data.iter().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(*b)));
    let at = pick % (text.len() + 1);
    let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    let mut edited = text.to_owned();
    edited.insert(at, '\n');
    file.set_text(&mut db).to(edited.clone());
    let fresh = writ_compiler::Compiler::new(vec![("fuzz.writ".into(), edited)]);
    assert!(
        writ_compiler::compile(&db, policy) == fresh.compilation(),
        "an edit compiled incrementally differs from a fresh compile"
    );
    file.set_text(&mut db).to(text.to_owned());
    assert!(
        writ_compiler::compile(&db, policy) == &first,
        "undoing an edit did not give the first compilation back"
    );
}

/// A request: decoding (lenient and strict) must not panic, what strict decoding accepts
/// lenient decoding accepts, and the fast path gives exactly the general decoder's request or
/// error; a decoded request is decided, its decision's JSON is JSON, and
/// `--explain` keeps the outcome.
pub fn request(data: &[u8]) {
    let policy = policy_for_requests();
    let _ = Request::unknown_keys(data);
    let strict = Request::from_slice_with(data, UnknownKeys::Reject);
    let lenient = Request::from_slice(data);
    // The fast path is only ever a shortcut: whatever it decodes, the general decoder decodes
    // the same, and every error is the general decoder's.
    assert_eq!(
        lenient,
        Request::from_slice_without_fast_path(data),
        "the fast path and the general decoder disagree"
    );
    assert!(strict.is_err() || lenient.is_ok(), "strict decoding accepted what lenient refused");
    if let Ok(request) = lenient {
        let decision = policy.decide(&request);
        let json = decision.to_json();
        assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok(), "bad JSON: {json}");
        assert_eq!(policy.decide_json(&request), json, "decide_json differs from decide");
        let (explained, _) = policy.decide_explained(&request);
        assert_eq!(explained.decision, decision.decision, "explain changed the outcome");
    }
}

/// Bundle bytes: loading (unsigned, and checked against a key) must not panic.
pub fn bundle(data: &[u8]) {
    static KEY: OnceLock<Option<writ_evaluator::bundle::VerifyingKey>> = OnceLock::new();
    let key = KEY.get_or_init(|| {
        writ_evaluator::bundle::parse_verifying_key(
            "writ-ed25519-public:190c4e67ca34f423f904c3ce1b2ea4675e89c05deabd66b6c6f748d72ba054e9",
        )
        .ok()
    });
    let _ = writ_evaluator::bundle::load(data, None);
    let _ = writ_evaluator::bundle::load(data, key.as_ref());
}

/// Decision-log bytes: verifying the hash chain must not panic.
pub fn decision_log(data: &[u8]) {
    let _ = writ_evaluator::log::verify(Cursor::new(data));
}

/// A language-server session: an `initialize`, a policy opened with the input's first line as
/// its text, then every further line as one message body (framed, whatever it holds), then
/// `shutdown` and `exit`. The server must answer and end within the time limit, never panic.
pub fn lsp_session(data: &[u8]) {
    let mut lines = data.split(|&b| b == b'\n');
    let text = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let mut input = Vec::new();
    let mut push = |body: &[u8]| {
        input.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        input.extend_from_slice(body);
    };
    push(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#);
    push(br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#);
    let open = serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
        "textDocument": {"uri": "file:///fuzz/policy.writ", "languageId": "writ", "version": 1,
                         "text": text}}});
    push(open.to_string().as_bytes());
    for body in lines {
        push(body);
    }
    push(br#"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"#);
    push(br#"{"jsonrpc":"2.0","method":"exit"}"#);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let session = writ_lsp::serve(Cursor::new(input), tokio::io::sink());
        tokio::time::timeout(Duration::from_secs(10), session)
            .await
            .expect("the language server ended its session");
    });
}

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target, by name (the names of `fuzz/libfuzzer/fuzz_targets/` and `corpus/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("policy", policy),
    ("request", request),
    ("bundle", bundle),
    ("decision_log", decision_log),
    ("lsp_session", lsp_session),
];
