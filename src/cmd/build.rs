//! `writ build`: a policy compiled into a bundle (docs/bundles.md); and loading bundles for
//! the commands that take `--bundle FILE [--verify-key KEY]`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use writ_evaluator::Policy;
use writ_evaluator::bundle::{self, SigningKey, VerifyingKey};

use crate::output::{self, FAILED, OK, USAGE};

#[derive(clap::Args)]
pub struct Args {
    /// The policy: a `.writ` file or a directory of them.
    #[arg(long)]
    policy: PathBuf,
    /// Where to write the bundle (replaced atomically, so a server watching it never reads
    /// half a file).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Sign the bundle with this secret key (a `.key` file from `writ keygen`).
    #[arg(long, value_name = "KEYFILE")]
    sign: Option<PathBuf>,
    /// The bundle's version, 1 or more: `writ serve` refuses to replace a bundle with one of a
    /// lower version (a rollback), or of the same version with another policy. Default: the
    /// build time in Unix seconds (`SOURCE_DATE_EPOCH` when set), which increases from one
    /// build to the next. Signed with the bundle, so it cannot be edited.
    #[arg(long = "version", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    bundle_version: Option<u64>,
}

pub fn run(args: &Args) -> u8 {
    let key = match &args.sign {
        None => None,
        Some(path) => match read_key(path, bundle::parse_signing_key) {
            Ok(key) => Some(key),
            Err(code) => return code,
        },
    };
    let compiler = match output::compile(&args.policy) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let policy = match output::require_policy(&compiler, &args.policy) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let built_at = built_at();
    let version = args
        .bundle_version
        .unwrap_or_else(|| built_at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs());
    let bytes = match bundle::write_version(policy.ir(), built_at, version, key.as_ref()) {
        Ok(b) => b,
        Err(e) => {
            output::error(e);
            return FAILED;
        }
    };
    if let Err(e) = write_atomically(&args.output, &bytes) {
        output::error(format_args!("cannot write bundle `{}`: {e}", args.output.display()));
        return USAGE;
    }
    println!(
        "built `{}`: version {version}, policy {}, {} bytes, {}",
        args.output.display(),
        policy.hash(),
        bytes.len(),
        if key.is_some() { "signed" } else { "unsigned" }
    );
    OK
}

/// Now, or `SOURCE_DATE_EPOCH` when set (reproducible builds: the same policy and time give
/// the same bytes).
fn built_at() -> SystemTime {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs)))
        .unwrap_or_else(SystemTime::now)
}

/// Writes a file beside `path`, then renames it over `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().ok_or_else(|| std::io::Error::other("not a file name"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

/// Reads a key file; `Err(exit code)` after printing the error.
pub fn read_key<K, E: std::fmt::Display>(
    path: &Path,
    parse: impl Fn(&str) -> Result<K, E>,
) -> Result<K, u8> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            output::error(format_args!("cannot read key `{}`: {e}", path.display()));
            return Err(USAGE);
        }
    };
    parse(&text).map_err(|e| {
        output::error(format_args!("key `{}`: {e}", path.display()));
        USAGE
    })
}

/// Loads a bundle, verifying its signature with the key in `verify_key` when given;
/// `Err(exit code)` after printing the error (1 for a bundle that is refused, 2 for I/O).
pub fn load_bundle(path: &Path, verify_key: Option<&Path>) -> Result<Policy, u8> {
    let key: Option<VerifyingKey> = match verify_key {
        None => None,
        Some(k) => Some(read_key(k, bundle::parse_verifying_key)?),
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            output::error(format_args!("cannot read bundle `{}`: {e}", path.display()));
            return Err(USAGE);
        }
    };
    Policy::from_bundle(&bytes, key.as_ref()).map_err(|e| {
        output::error(format_args!("bundle `{}` refused: {e}", path.display()));
        FAILED
    })
}

/// For `writ keygen`: a new secret key from the operating system's random source.
pub fn new_signing_key() -> std::io::Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(std::io::Error::other)?;
    Ok(SigningKey::from_bytes(&seed))
}
