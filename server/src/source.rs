//! Where the policy comes from, and loading it: policy files compiled here, or a bundle
//! verified here. A policy that does not compile or verify is an error, never a `Policy`.
//!
//! A load reads its files until two reads [`SETTLE`] apart agree byte for byte, so a file
//! caught in the middle of being written is not compiled; and a bundle is refused when its
//! version is lower than the one served (a rollback), see [`Source::admit`].

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use writ_evaluator::Policy;

/// How long apart two reads of a load's files must agree before they are compiled or verified.
pub const SETTLE: Duration = Duration::from_millis(100);
/// How many times a load reads its files, at most, looking for two reads in a row that agree
/// (about two seconds of reads); then it fails, and the served policy stays.
pub const SETTLE_READS: u32 = 20;

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
        /// Bundles of a lower version are refused, at start as on reloads (0: any version).
        min_version: u64,
    },
    /// A bundle fetched from a URL (`--bundle-url`), polled, and verified as a bundle file is
    /// (`remote.rs`).
    Url(Remote),
}

/// `--bundle-url URL --poll D`: where a bundle is fetched from, how often, and the limits of a
/// fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    /// `http://`, `https://`, or `oci://HOST[:PORT]/REPOSITORY:TAG` (or `@sha256:...`) for a
    /// bundle in an OCI registry (`oci.rs`).
    pub url: String,
    /// For `oci://`: credentials, and the registries reached over plain HTTP.
    pub registry: crate::oci::Registry,
    /// The certificate authorities an `https://` server or registry may chain to: the
    /// platform's, and those of `--ca-cert`.
    pub roots: writ_agents::net::Roots,
    /// A public key file (`writ keygen`): when given, the bundle's signature must verify.
    pub verify_key: Option<PathBuf>,
    /// Bundles of a lower version are refused, at start as on reloads (0: any version).
    pub min_version: u64,
    /// How long after a fetch the next one starts (failures back off from here).
    pub poll: Duration,
    /// How long one fetch may take, from connecting to the last byte of the body.
    pub timeout: Duration,
    /// A larger body is refused: at once when its `Content-Length` says so, otherwise as soon
    /// as this many bytes have arrived.
    pub max_bytes: u64,
}

/// The default time between polls of `--bundle-url`.
pub const DEFAULT_POLL: Duration = Duration::from_secs(30);
/// The default time one fetch of `--bundle-url` may take.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The default largest bundle fetched from `--bundle-url`: 16 MiB.
pub const DEFAULT_MAX_BUNDLE_BYTES: u64 = 16 * 1024 * 1024;

impl Remote {
    /// `url` with the default poll interval and limits, no key and no minimum version.
    pub fn new(url: impl Into<String>) -> Remote {
        Remote {
            url: url.into(),
            registry: crate::oci::Registry::default(),
            roots: writ_agents::net::Roots::platform(),
            verify_key: None,
            min_version: 0,
            poll: DEFAULT_POLL,
            timeout: DEFAULT_FETCH_TIMEOUT,
            max_bytes: DEFAULT_MAX_BUNDLE_BYTES,
        }
    }
}

impl Source {
    /// `policy`, `bundle` or `bundle-url`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Policy(_) => "policy",
            Source::Bundle { .. } => "bundle",
            Source::Url(_) => "bundle-url",
        }
    }

    /// The policy file, directory or bundle; the URL of a fetched bundle.
    pub fn origin(&self) -> String {
        match self {
            Source::Policy(path) | Source::Bundle { path, .. } => path.display().to_string(),
            Source::Url(remote) => remote.url.clone(),
        }
    }

    /// Every path whose change means a reload: the source, and the verification key (for a
    /// URL, the key only: the URL is polled).
    pub fn watched(&self) -> Vec<PathBuf> {
        match self {
            Source::Policy(path) => vec![path.clone()],
            Source::Bundle { path, verify_key, .. } => {
                let mut paths = vec![path.clone()];
                paths.extend(verify_key.iter().cloned());
                paths
            }
            Source::Url(remote) => remote.verify_key.iter().cloned().collect(),
        }
    }

    /// Loads, compiles or verifies the policy, once its files read the same twice in a row.
    /// The error is one paragraph for people: what failed, naming the file. A bundle URL is
    /// fetched first (`remote.rs`), then its bytes are verified by [`Source::verify`].
    pub fn load(&self) -> Result<Loaded, String> {
        match self {
            Source::Policy(path) => {
                let files = settled(path, || {
                    writ_compiler::load(path)
                        .map_err(|e| format!("cannot read policy `{}`: {e}", path.display()))
                })?;
                let policy = compile(path, files)?;
                Ok(Loaded { policy, loaded_at: SystemTime::now(), bundle_version: None })
            }
            Source::Bundle { path, verify_key, .. } => {
                let key = verify_key.as_deref();
                let (bytes, key_text) = settled(path, || read_bundle(path, key))?;
                self.verify_with(&bytes, key.zip(key_text.as_deref()))
            }
            Source::Url(remote) => Err(format!(
                "the bundle at `{}` is fetched, not read from a file (a bug)",
                remote.url
            )),
        }
    }

    /// Verifies the bytes of a bundle of this source (read from its file, or fetched from its
    /// URL): its checksum, its signature when the source has a verify key (read now, so that a
    /// replaced key counts), and its version against `--min-bundle-version`. One path for
    /// every bundle, wherever it came from.
    pub fn verify(&self, bytes: &[u8]) -> Result<Loaded, String> {
        let key = match self {
            Source::Bundle { verify_key, .. } => verify_key.as_deref(),
            Source::Url(remote) => remote.verify_key.as_deref(),
            Source::Policy(path) => {
                return Err(format!("`{}` is a policy, not a bundle (a bug)", path.display()));
            }
        };
        let key_text = match key {
            None => None,
            Some(key) => Some(
                std::fs::read_to_string(key)
                    .map_err(|e| format!("cannot read verify key `{}`: {e}", key.display()))?,
            ),
        };
        self.verify_with(bytes, key.zip(key_text.as_deref()))
    }

    fn verify_with(&self, bytes: &[u8], key: Option<(&Path, &str)>) -> Result<Loaded, String> {
        let min_version = match self {
            Source::Bundle { min_version, .. } => *min_version,
            Source::Url(remote) => remote.min_version,
            Source::Policy(_) => 0,
        };
        let origin = self.origin();
        let (version, policy) = bundle(&origin, bytes, key)?;
        if version < min_version {
            return Err(format!(
                "bundle `{origin}` refused: its version {version} is lower than the minimum \
                 version {min_version} (`--min-bundle-version`)"
            ));
        }
        Ok(Loaded { policy, loaded_at: SystemTime::now(), bundle_version: Some(version) })
    }

    /// `next` if it may replace `current`: a bundle of a lower version than the one served is
    /// refused (a rollback), as is one of the same version with another policy (a version
    /// names one policy). The same bundle again is accepted: it changes nothing.
    pub fn admit(&self, current: Option<&Loaded>, next: Loaded) -> Result<Loaded, String> {
        let (Some(current), Some(version)) = (current, next.bundle_version) else {
            return Ok(next);
        };
        let Some(serving) = current.bundle_version else { return Ok(next) };
        let path = self.origin();
        if version < serving {
            return Err(format!(
                "bundle `{path}` refused: its version {version} is lower than version \
                 {serving}, which is served (a rollback)"
            ));
        }
        if version == serving && next.policy.hash() != current.policy.hash() {
            return Err(format!(
                "bundle `{path}` refused: it has version {version}, as the bundle served, but \
                 another policy ({} instead of {}); a changed policy needs a higher version",
                next.policy.hash(),
                current.policy.hash()
            ));
        }
        Ok(next)
    }
}

/// A policy being served.
#[derive(Debug)]
pub struct Loaded {
    pub policy: Policy,
    pub loaded_at: SystemTime,
    /// The bundle's version (`None` for policy files).
    pub bundle_version: Option<u64>,
}

/// What `read` returns once two reads [`SETTLE`] apart agree; an error after
/// [`SETTLE_READS`] reads without two in a row that agree (or when a read fails).
fn settled<T: PartialEq>(path: &Path, read: impl Fn() -> Result<T, String>) -> Result<T, String> {
    let mut last = read()?;
    for _ in 1..SETTLE_READS {
        std::thread::sleep(SETTLE);
        let next = read()?;
        if next == last {
            return Ok(next);
        }
        last = next;
    }
    Err(format!(
        "`{}` kept changing while it was read ({SETTLE_READS} reads {} ms apart, no two in a \
         row the same): it is still being written; replace files by renaming a finished file \
         over them",
        path.display(),
        SETTLE.as_millis()
    ))
}

/// The bytes of a bundle and the text of its verify key.
fn read_bundle(
    path: &Path,
    verify_key: Option<&Path>,
) -> Result<(Vec<u8>, Option<String>), String> {
    let key = match verify_key {
        None => None,
        Some(key) => Some(
            std::fs::read_to_string(key)
                .map_err(|e| format!("cannot read verify key `{}`: {e}", key.display()))?,
        ),
    };
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read bundle `{}`: {e}", path.display()))?;
    Ok((bytes, key))
}

fn compile(path: &Path, files: Vec<(String, String)>) -> Result<Policy, String> {
    let ir = writ_compiler::compile_files(path, files).map_err(|e| e.to_string())?;
    Policy::from_ir(ir).map_err(|e| format!("policy `{}` could not be loaded: {e}", path.display()))
}

/// The bundle's version and policy, verified with the key (its file and text) when given.
/// `origin` (a path or URL) names the bundle in errors.
fn bundle(origin: &str, bytes: &[u8], key: Option<(&Path, &str)>) -> Result<(u64, Policy), String> {
    let key = match key {
        None => None,
        Some((file, text)) => Some(
            writ_evaluator::bundle::parse_verifying_key(text)
                .map_err(|e| format!("verify key `{}`: {e}", file.display()))?,
        ),
    };
    writ_evaluator::bundle::load(bytes, key.as_ref())
        .map(|(info, policy)| (info.version, policy))
        .map_err(|e| format!("bundle `{origin}` refused: {e}"))
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
    fn files_load_once_two_reads_in_a_row_agree() {
        // Changes on the first three reads, then stays: the fifth read agrees with the fourth.
        let reads = std::cell::Cell::new(0);
        let read = || {
            reads.set(reads.get() + 1);
            Ok(reads.get().min(4))
        };
        assert_eq!(settled(Path::new("p.writ"), read), Ok(4));
        assert_eq!(reads.get(), 5);
    }

    #[test]
    fn files_that_keep_changing_are_not_loaded() {
        let reads = std::cell::Cell::new(0);
        let read = || {
            reads.set(reads.get() + 1);
            Ok(reads.get())
        };
        let error = settled(Path::new("p.writ"), read).unwrap_err();
        assert_eq!(reads.get(), SETTLE_READS);
        assert!(error.starts_with("`p.writ` kept changing while it was read (20 reads"), "{error}");
        // A read that fails fails the load at once.
        let failing = || Err::<u32, _>("cannot read policy `p.writ`".to_string());
        assert_eq!(
            settled(Path::new("p.writ"), failing),
            Err("cannot read policy `p.writ`".into())
        );
    }

    #[test]
    fn a_missing_policy_is_an_error() {
        let error = Source::Policy("/nonexistent/writ/policy".into()).load().unwrap_err();
        assert!(error.starts_with("cannot read policy `/nonexistent/writ/policy`"), "{error}");
    }
}
