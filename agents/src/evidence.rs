//! Where enforcement points find signed statements (`docs/evidence.md`): the trust file, files
//! and directories of statements, and a `writ serve`'s `GET /v1/evidence`. Verifying them is
//! the evaluator's ([`writ_evaluator::statement`]); this module only reads bytes, boundedly.
//!
//! invariant: reading evidence never fails a decision: what cannot be read is reported and
//! gives no statements (fail closed: a pending call stays pending).

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use writ_evaluator::Request;
use writ_evaluator::statement::{self, Admitted, Trust, TrustError};

/// At most this many statement files are read per decision, over all `--evidence` paths (in
/// path order, then file-name order within a directory).
pub const MAX_FILES: usize = 20_000;
/// At most this many statements are taken from one file of JSON Lines.
pub const MAX_PER_FILE: usize = 10_000;
/// A file longer than this is not read (a JSON Lines file of at most [`MAX_PER_FILE`]
/// statements of at most [`statement::MAX_STATEMENT_BYTES`] each, with room to spare, is shorter).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// One statement read, with where it came from (`dir/lee.json`, `all.jsonl:3`, the server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub source: String,
    pub bytes: Vec<u8>,
}

/// Something that could not be read: reported, never fatal to a decision.
#[derive(Debug)]
pub enum ReadProblem {
    /// A path could not be read.
    Io { path: PathBuf, error: std::io::Error },
    /// A file is longer than [`MAX_FILE_BYTES`].
    TooLarge { path: PathBuf, bytes: u64 },
    /// More files than [`MAX_FILES`]: the rest were not read.
    TooManyFiles { skipped: usize },
    /// The evidence server did not answer with statements.
    Server { url: String, message: String },
}

impl fmt::Display for ReadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadProblem::Io { path, error } => {
                write!(f, "cannot read evidence `{}`: {error}", path.display())
            }
            ReadProblem::TooLarge { path, bytes } => write!(
                f,
                "evidence file `{}` is {bytes} bytes long, more than the {MAX_FILE_BYTES} read",
                path.display()
            ),
            ReadProblem::TooManyFiles { skipped } => {
                write!(f, "more than {MAX_FILES} evidence files: {skipped} were not read")
            }
            ReadProblem::Server { url, message } => {
                write!(f, "no statements from the evidence server `{url}`: {message}")
            }
        }
    }
}

/// Statements read, and what could not be read.
#[derive(Debug, Default)]
pub struct Statements {
    pub loaded: Vec<Loaded>,
    pub problems: Vec<ReadProblem>,
}

/// A trust file that cannot be used: a start-up error.
#[derive(Debug)]
pub enum TrustLoadError {
    Io { path: PathBuf, error: std::io::Error },
    Invalid { path: PathBuf, error: TrustError },
}

impl fmt::Display for TrustLoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustLoadError::Io { path, error } => {
                write!(f, "cannot read trust file `{}`: {error}", path.display())
            }
            TrustLoadError::Invalid { path, error } => {
                write!(f, "trust file `{}`: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for TrustLoadError {}

/// Reads and checks a trust file.
pub fn load_trust(path: &Path) -> Result<Trust, TrustLoadError> {
    let bytes =
        std::fs::read(path).map_err(|error| TrustLoadError::Io { path: path.to_owned(), error })?;
    Trust::from_json(&bytes)
        .map_err(|error| TrustLoadError::Invalid { path: path.to_owned(), error })
}

/// Reads the statements in `paths`: a file holds one statement (one JSON document, however
/// laid out) or JSON Lines of statements (one per non-blank line); a directory holds such
/// files (not its subdirectories, not names starting with `.`), read in name order.
pub fn read_paths(paths: &[PathBuf]) -> Statements {
    let mut out = Statements::default();
    let mut files = 0usize;
    let mut skipped = 0usize;
    for path in paths {
        let mut take = |file: &Path, out: &mut Statements| {
            if files >= MAX_FILES {
                skipped += 1;
            } else {
                files += 1;
                read_file(file, out);
            }
        };
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => match list_dir(path) {
                Ok(entries) => {
                    for entry in entries {
                        take(&entry, &mut out);
                    }
                }
                Err(error) => out.problems.push(ReadProblem::Io { path: path.clone(), error }),
            },
            Ok(_) => take(path, &mut out),
            Err(error) => out.problems.push(ReadProblem::Io { path: path.clone(), error }),
        }
    }
    if skipped > 0 {
        out.problems.push(ReadProblem::TooManyFiles { skipped });
    }
    out
}

/// The regular files of `dir` whose names do not start with `.`, sorted by name.
fn list_dir(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn read_file(path: &Path, out: &mut Statements) {
    let mut bytes = Vec::new();
    let read =
        std::fs::File::open(path).and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes));
    if let Err(error) = read {
        out.problems.push(ReadProblem::Io { path: path.to_owned(), error });
        return;
    }
    let length = bytes.len() as u64;
    if length > MAX_FILE_BYTES {
        out.problems.push(ReadProblem::TooLarge { path: path.to_owned(), bytes: length });
        return;
    }
    let name = path.display().to_string();
    split_statements(&name, bytes, &mut out.loaded);
}

/// One JSON document is one statement; anything else is read as JSON Lines.
pub fn split_statements(name: &str, bytes: Vec<u8>, out: &mut Vec<Loaded>) {
    if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok() {
        out.push(Loaded { source: name.to_owned(), bytes });
        return;
    }
    let lines = bytes.split(|&b| b == b'\n').enumerate();
    for (i, line) in
        lines.filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace)).take(MAX_PER_FILE)
    {
        out.push(Loaded { source: format!("{name}:{}", i + 1), bytes: line.to_vec() });
    }
}

/// Verifies `statements` against `trust` for `request` now, adding the valid ones to its
/// evidence (see [`Trust::admit`]).
pub fn admit(trust: &Trust, request: &mut Request, statements: &[Loaded]) -> Admitted {
    trust.admit(request, statements.iter().map(|s| s.bytes.as_slice()), statement::now())
}

/// What [`admit`] did, as lines for standard error: each statement ignored and why.
pub fn rejections(admitted: &Admitted, statements: &[Loaded]) -> Vec<String> {
    let mut lines: Vec<String> = admitted
        .rejected
        .iter()
        .map(|r| {
            let source = statements.get(r.index).map_or("?", |s| s.source.as_str());
            format!("statement `{source}` ignored: {}", r.reason)
        })
        .collect();
    if admitted.skipped > 0 {
        lines.push(format!(
            "{} statements for the subject were not verified (at most {} are)",
            admitted.skipped,
            statement::MAX_CONSIDERED
        ));
    }
    lines
}

/// What [`admit`] did, as JSON for traces: `counted` and `rejected` statements with their
/// source, digest, signer or reason.
pub fn report_json(admitted: &Admitted, statements: &[Loaded]) -> serde_json::Value {
    let source = |i: usize| statements.get(i).map(|s| s.source.clone());
    serde_json::json!({
        "counted": admitted.counted.iter().map(|c| serde_json::json!({
            "source": source(c.index),
            "digest": c.digest,
            "signer": c.signer,
            "kind": c.kind,
        })).collect::<Vec<_>>(),
        "rejected": admitted.rejected.iter().map(|r| serde_json::json!({
            "source": source(r.index),
            "digest": r.digest,
            "reason": r.reason.code(),
            "message": r.reason.to_string(),
        })).collect::<Vec<_>>(),
        "skipped": admitted.skipped,
    })
}

// ---------------------------------------------------------------------------------------------
// Where a gateway finds statements

/// How long asking an evidence server may take before the call is decided without its
/// statements.
pub const SERVER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
/// The longest answer read from an evidence server.
pub const MAX_SERVER_ANSWER: usize = 32 * 1024 * 1024;

/// `--evidence-server URL`, `--upstream URL`, `--jwks-url URL`: `http://` or `https://`,
/// `HOST[:PORT]` and an optional path, checked at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUrl {
    pub scheme: Scheme,
    /// `HOST:PORT` (the scheme's port when the URL names none).
    pub authority: String,
    /// The path, without a trailing `/` (for the evidence server: the prefix before
    /// `/v1/evidence`).
    pub base: String,
}

/// How a [`ServerUrl`] is spoken to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    /// TLS, verified against the platform's roots and `--ca-cert` ([`crate::net`]).
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A URL that is not `http(s)://HOST[:PORT][/PATH]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadServerUrl {
    pub url: String,
}

impl fmt::Display for BadServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: expected `http://HOST:PORT/PATH` or `https://HOST:PORT/PATH`", self.url)
    }
}

impl std::error::Error for BadServerUrl {}

impl ServerUrl {
    /// Reads `http(s)://HOST[:PORT][/PATH]` (no user, query or fragment).
    pub fn parse(text: &str) -> Result<ServerUrl, BadServerUrl> {
        let bad = || BadServerUrl { url: text.to_owned() };
        let (scheme, rest) = if let Some(rest) = text.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else if let Some(rest) = text.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else {
            return Err(bad());
        };
        let (authority, base) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        if authority.is_empty()
            || authority.contains(['@', ' ', '?', '#'])
            || base.contains(['?', '#', ' '])
        {
            return Err(bad());
        }
        let port = match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        };
        // A port after the host (an IPv6 host is in brackets: `[::1]:8080`).
        let has_port = authority.rsplit_once(':').is_some_and(|(_, p)| !p.contains(']'));
        let authority = if has_port { authority.to_owned() } else { format!("{authority}:{port}") };
        Ok(ServerUrl { scheme, authority, base: base.trim_end_matches('/').to_owned() })
    }

    /// The URL of `path` (with its query) on this server.
    pub fn at(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme.as_str(), self.authority)
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.at(&self.base))
    }
}

/// Where a hook or proxy reads statements.
#[derive(Clone, Debug)]
pub enum Source {
    /// `--evidence PATH...`: files and directories.
    Paths(Vec<PathBuf>),
    /// `--evidence-server URL`: a `writ serve --trust`'s `GET /v1/evidence`, asked with
    /// `client` (built by [`crate::net::client`] at start, with `--ca-cert`).
    Server { url: ServerUrl, client: reqwest::Client },
}

/// The statements a gateway decides with: the trust file and where statements are.
#[derive(Clone, Debug)]
pub struct GateEvidence {
    pub trust: Trust,
    pub source: Source,
}

impl GateEvidence {
    /// The statements for `subject` (files: all of them; the server: those it holds for the
    /// subject). Never fails: what cannot be read is a problem, and gives no statements.
    pub fn statements(&self, subject: &str) -> Statements {
        match &self.source {
            Source::Paths(paths) => read_paths(paths),
            Source::Server { url, client } => match fetch(client, url, subject) {
                Ok(loaded) => Statements { loaded, problems: Vec::new() },
                Err(message) => Statements {
                    loaded: Vec::new(),
                    problems: vec![ReadProblem::Server { url: url.to_string(), message }],
                },
            },
        }
    }

    /// How a reviewer gets a statement to this gateway: the end of a `writ attest` command
    /// (the evidence directory as an absolute path: the reviewer runs it elsewhere).
    pub fn delivery(&self) -> String {
        match &self.source {
            Source::Paths(paths) => match paths.first() {
                Some(p) => {
                    let shown = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
                    if std::fs::metadata(p).is_ok_and(|m| m.is_dir()) {
                        format!("-o {}/NAME.json", shown.display())
                    } else {
                        format!(">> {}", shown.display())
                    }
                }
                None => String::new(),
            },
            Source::Server { url, .. } => {
                format!("| curl --data-binary @- {url}/v1/evidence")
            }
        }
    }
}

/// `%XX` for every byte but unreserved ones (RFC 3986).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET URL/v1/evidence?subject=S`, on a thread of its own (callers may be inside a runtime),
/// within [`SERVER_TIMEOUT`].
fn fetch(client: &reqwest::Client, url: &ServerUrl, subject: &str) -> Result<Vec<Loaded>, String> {
    let client = client.clone();
    let url = url.at(&format!("{}/v1/evidence?subject={}", url.base, percent_encode(subject)));
    let worker = std::thread::Builder::new()
        .name("writ-evidence-fetch".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start a runtime: {e}"))?;
            runtime.block_on(async {
                tokio::time::timeout(SERVER_TIMEOUT, get(&client, &url))
                    .await
                    .map_err(|_| format!("no answer within {}s", SERVER_TIMEOUT.as_secs()))?
            })
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    let body = worker.join().map_err(|_| "the request failed (a bug)".to_string())??;
    let answer: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let Some(items) = answer.get("statements").and_then(serde_json::Value::as_array) else {
        return Err("the answer has no `statements` list".into());
    };
    Ok(items
        .iter()
        .enumerate()
        .map(|(i, item)| Loaded {
            source: format!("evidence server statement {}", i + 1),
            bytes: item.to_string().into_bytes(),
        })
        .collect())
}

async fn get(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let mut response = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| crate::net::describe(&e))?;
    let status = response.status();
    let body = crate::net::read_limited(&mut response, MAX_SERVER_ANSWER)
        .await
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    if status != reqwest::StatusCode::OK {
        let text = String::from_utf8_lossy(&body);
        return Err(format!("answered {status}: {}", crate::evidence::first_line(&text)));
    }
    Ok(body)
}

fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or_default();
    match line.char_indices().nth(200) {
        Some((at, _)) => line.get(..at).unwrap_or(line),
        None => line,
    }
}
