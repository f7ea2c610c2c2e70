//! Reading a policy from disk. This is the only IO in the compiler crate, and it happens
//! before the database is built, never inside a query.

use std::io;
use std::path::{Path, PathBuf};

use writ_evaluator::ir::PolicyIr;

/// How many of a policy's errors a [`LoadError::Invalid`] message quotes.
const QUOTED_ERRORS: usize = 5;

/// Why [`compile_path`] gave no policy.
#[derive(Debug)]
pub enum LoadError {
    /// The policy's files could not be read.
    Read { path: PathBuf, error: io::Error },
    /// The policy has errors: `errors` holds the first few as one line each
    /// (`FILE:LINE:COLUMN: MESSAGE [CODE]`), `total` counts them all.
    Invalid { path: PathBuf, errors: Vec<String>, total: usize },
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Read { path, error } => {
                write!(f, "cannot read policy `{}`: {error}", path.display())
            }
            LoadError::Invalid { path, errors, total } => {
                write!(
                    f,
                    "policy `{}` has {total} error{}; `writ check {}` shows them all",
                    path.display(),
                    if *total == 1 { "" } else { "s" },
                    path.display()
                )?;
                for e in errors {
                    write!(f, "\n  {e}")?;
                }
                if *total > errors.len() {
                    write!(f, "\n  ... and {} more", total - errors.len())?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// Reads and compiles the policy at `path` (a file, or a directory of `.writ` files): how the
/// server, the hooks and the proxies load a policy from disk. The CLI and the bindings, which
/// show every diagnostic, take a [`crate::Compiler::load`] instead.
pub fn compile_path(path: &Path) -> Result<PolicyIr, LoadError> {
    let files = load(path).map_err(|error| LoadError::Read { path: path.to_path_buf(), error })?;
    compile_files(path, files)
}

/// Compiles files already read from `path` (by [`load`]).
pub fn compile_files(path: &Path, files: Vec<(String, String)>) -> Result<PolicyIr, LoadError> {
    let compiler = crate::Compiler::new(files);
    let compilation = compiler.compilation();
    if let Some(ir) = &compilation.policy {
        return Ok(ir.clone());
    }
    let sources = compiler.sources();
    let mut errors = compilation.diagnostics.iter().filter(|d| d.is_error());
    let quoted: Vec<String> = errors
        .by_ref()
        .take(QUOTED_ERRORS)
        .map(|d| {
            let j = crate::JsonDiagnostic::new(d, &sources);
            let file = if path.is_dir() {
                path.join(&j.file).display().to_string()
            } else {
                path.display().to_string()
            };
            format!("{file}:{}:{}: {} [{}]", j.line, j.column, j.message, j.code)
        })
        .collect();
    let total = quoted.len() + errors.count();
    Err(LoadError::Invalid { path: path.to_path_buf(), errors: quoted, total })
}

/// A policy's source file on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundFile {
    /// Where it is.
    pub disk_path: PathBuf,
    /// Its path in the policy: relative to the policy directory with `/` separators, or a lone
    /// file's name. This is the path in diagnostics, rule locations and the policy hash.
    pub policy_path: String,
}

/// The files of a policy: `path` itself when it is a file, or every `*.writ` file under it
/// (recursively) in the byte order of their policy paths.
pub fn find(path: &Path) -> io::Result<Vec<FoundFile>> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        let name = path
            .file_name()
            .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        return Ok(vec![FoundFile { disk_path: path.to_path_buf(), policy_path: name }]);
    }
    let mut out = Vec::new();
    walk(path, path, &mut out)?;
    if out.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no .writ files in `{}`", path.display()),
        ));
    }
    out.sort_by(|a, b| a.policy_path.as_bytes().cmp(b.policy_path.as_bytes()));
    Ok(out)
}

/// Reads a policy (see [`find`]) as (policy path, text) pairs. Text that is not UTF-8 is decoded
/// lossily; the parser then reports the replacement characters as syntax errors where they are.
pub fn load(path: &Path) -> io::Result<Vec<(String, String)>> {
    find(path)?.into_iter().map(|f| Ok((f.policy_path, read_text(&f.disk_path)?))).collect()
}

/// Reads one file as text (lossily, as [`load`] does).
pub fn read_text(path: &Path) -> io::Result<String> {
    let bytes = std::fs::read(path)?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<FoundFile>) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "writ") {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push(FoundFile { disk_path: path, policy_path: rel });
        }
    }
    Ok(())
}

impl crate::Compiler {
    /// Reads the policy at `path` (a `.writ` file or a directory of them, see [`find`]) into a
    /// compiler. The one way a policy on disk is loaded: `writ check`, `writ eval`, the other
    /// commands and the Python and Node bindings all come here.
    pub fn load(path: &Path) -> io::Result<crate::Compiler> {
        load(path).map(crate::Compiler::new)
    }

    /// The policy's sources, each named as a person finds it on disk ([`display_path`]): for
    /// diagnostics printed to people or handed to a binding's caller.
    pub fn display_sources(&self, policy: &Path) -> Vec<crate::SourceText> {
        self.sources()
            .into_iter()
            .map(|mut s| {
                s.path = display_path(policy, &s.path);
                s
            })
            .collect()
    }
}

/// How a policy file (named relative to the policy, as the compiler and the IR name it) is shown
/// to the user: under the policy directory, or the policy file as given.
pub fn display_path(policy: &Path, file: &str) -> String {
    if policy.is_dir() {
        policy.join(file).display().to_string()
    } else {
        policy.display().to_string()
    }
}
