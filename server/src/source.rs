//! Where the policy comes from, and loading it: policy files compiled here, or a bundle
//! verified here. A policy that does not compile or verify is an error, never a `Policy`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use writ_compiler::{Compiler, JsonDiagnostic};
use writ_evaluator::Policy;

/// At most this many compiler errors are quoted in a load error (the rest are counted).
const QUOTED_ERRORS: usize = 5;

/// The policy a server serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A `.writ` file or a directory of them, compiled on every (re)load.
    Policy(PathBuf),
    /// A compiled bundle (`writ build`), verified on every (re)load.
    Bundle {
        path: PathBuf,
        /// A public key file (`writ keygen`): when given, the bundle's signature must verify.
        verify_key: Option<PathBuf>,
    },
}

impl Source {
    /// `policy` or `bundle`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Policy(_) => "policy",
            Source::Bundle { .. } => "bundle",
        }
    }

    /// The policy file, directory or bundle.
    pub fn path(&self) -> &Path {
        match self {
            Source::Policy(path) | Source::Bundle { path, .. } => path,
        }
    }

    /// Every path whose change means a reload: the source, and the verification key.
    pub fn watched(&self) -> Vec<PathBuf> {
        match self {
            Source::Policy(path) => vec![path.clone()],
            Source::Bundle { path, verify_key } => {
                let mut paths = vec![path.clone()];
                paths.extend(verify_key.iter().cloned());
                paths
            }
        }
    }

    /// Loads, compiles or verifies the policy. The error is one paragraph for people: what
    /// failed, naming the file.
    pub fn load(&self) -> Result<Loaded, String> {
        let policy = match self {
            Source::Policy(path) => compile(path)?,
            Source::Bundle { path, verify_key } => bundle(path, verify_key.as_deref())?,
        };
        Ok(Loaded { policy, loaded_at: SystemTime::now() })
    }
}

/// A policy being served.
#[derive(Debug)]
pub struct Loaded {
    pub policy: Policy,
    pub loaded_at: SystemTime,
}

fn compile(path: &Path) -> Result<Policy, String> {
    let files = writ_compiler::load(path)
        .map_err(|e| format!("cannot read policy `{}`: {e}", path.display()))?;
    let compiler = Compiler::new(files);
    let compilation = compiler.compilation();
    let Some(ir) = &compilation.policy else {
        let sources = compiler.sources();
        let errors: Vec<String> = compilation
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| {
                let j = JsonDiagnostic::new(d, &sources);
                let file = if path.is_dir() {
                    path.join(&j.file).display().to_string()
                } else {
                    path.display().to_string()
                };
                format!("{file}:{}:{}: {} [{}]", j.line, j.column, j.message, j.code)
            })
            .collect();
        let mut message = format!(
            "policy `{}` has {} error{}",
            path.display(),
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        );
        for e in errors.iter().take(QUOTED_ERRORS) {
            message.push_str("\n  ");
            message.push_str(e);
        }
        if errors.len() > QUOTED_ERRORS {
            message.push_str(&format!("\n  ... and {} more", errors.len() - QUOTED_ERRORS));
        }
        return Err(message);
    };
    Policy::from_ir(ir.clone())
        .map_err(|e| format!("policy `{}` could not be loaded: {e}", path.display()))
}

fn bundle(path: &Path, verify_key: Option<&Path>) -> Result<Policy, String> {
    let key = match verify_key {
        None => None,
        Some(key) => {
            let text = std::fs::read_to_string(key)
                .map_err(|e| format!("cannot read verify key `{}`: {e}", key.display()))?;
            let parsed = writ_evaluator::bundle::parse_verifying_key(&text)
                .map_err(|e| format!("verify key `{}`: {e}", key.display()))?;
            Some(parsed)
        }
    };
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read bundle `{}`: {e}", path.display()))?;
    Policy::from_bundle(&bytes, key.as_ref())
        .map_err(|e| format!("bundle `{}` refused: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("writ-server-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_policy_with_errors_is_an_error_naming_the_place() {
        let path = temp("bad.writ", "workflow w { allow nothing_declared }\n");
        let error = Source::Policy(path.clone()).load().unwrap_err();
        assert!(error.starts_with(&format!("policy `{}` has 1 error", path.display())), "{error}");
        assert!(error.contains("bad.writ:1:"), "{error}");
    }

    #[test]
    fn a_missing_policy_is_an_error() {
        let error = Source::Policy("/nonexistent/writ/policy".into()).load().unwrap_err();
        assert!(error.starts_with("cannot read policy `/nonexistent/writ/policy`"), "{error}");
    }
}
