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
