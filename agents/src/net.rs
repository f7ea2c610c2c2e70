//! The one HTTP(S) client writ calls out with, built here and nowhere else: `writ mcp-gateway`'s
//! upstream and `--jwks-url`, every gateway's `--evidence-server`, and `writ serve`'s
//! `--bundle-url` and `--decision-log-url` (the server builds its client with [`builder`], and
//! hands [`Roots::extra_der`] to its OCI registry client), each with its `--ca-cert`.
//!
//! TLS is rustls with the ring provider (no system TLS library); a server's certificate must
//! chain to the platform's roots (the platform verifier) or to a certificate of `--ca-cert FILE`
//! ([`Roots`]). There is no way to turn verification off, and no fallback to plain http: an
//! `https://` URL that does not verify is an error, which the callers turn into a deny, a 502 or
//! a start-up failure, never into a request sent anyway.
//!
//! invariant: a TLS failure is an error answer (fail closed), never a panic and never a retry in
//! the clear.

use std::fmt;
use std::path::{Path, PathBuf};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Why the client cannot be built (a start-up error).
#[derive(Debug)]
pub enum ClientError {
    /// No rustls crypto provider could be installed.
    NoProvider,
    /// `--ca-cert FILE` cannot be read.
    CaRead { path: PathBuf, error: std::io::Error },
    /// `--ca-cert FILE` holds no PEM certificate, or one that cannot be read.
    CaInvalid { path: PathBuf, message: String },
    /// reqwest refused the configuration (a certificate the verifier cannot use, among others).
    Build(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::NoProvider => write!(f, "no TLS crypto provider could be installed"),
            ClientError::CaRead { path, error } => {
                write!(f, "cannot read `--ca-cert {}`: {error}", path.display())
            }
            ClientError::CaInvalid { path, message } => {
                write!(f, "`--ca-cert {}`: {message}", path.display())
            }
            ClientError::Build(message) => write!(f, "cannot create the HTTP client: {message}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// The certificate authorities an `https://` server's certificate may chain to: always the
/// platform's, and the certificates of `--ca-cert FILE` when given (kept as DER, so that every
/// client writ builds, reqwest's and the OCI registry client's, takes the same ones).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Roots {
    extra: Vec<CertificateDer<'static>>,
    file: Option<PathBuf>,
}

/// The file and how many certificates it gave, not their bytes (a `Roots` is printed inside
/// the server's configuration).
impl fmt::Debug for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Roots").field("file", &self.file).field("extra", &self.extra.len()).finish()
    }
}

impl Roots {
    /// The platform's roots only.
    pub fn platform() -> Roots {
        Roots::default()
    }

    /// The platform's roots and, with `Some(FILE)`, every certificate of the PEM file `FILE`
    /// (at least one; other PEM sections, such as a private key, are passed over).
    pub fn load(ca_cert: Option<&Path>) -> Result<Roots, ClientError> {
        let Some(path) = ca_cert else { return Ok(Roots::platform()) };
        let pem = std::fs::read(path)
            .map_err(|error| ClientError::CaRead { path: path.to_owned(), error })?;
        let invalid = |message: String| ClientError::CaInvalid { path: path.to_owned(), message };
        let extra = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("not PEM certificates: {e}")))?;
        if extra.is_empty() {
            return Err(invalid("holds no `BEGIN CERTIFICATE` block".to_string()));
        }
        // A client reads each certificate into its root store when it is built; read them
        // into one here, so that a block that is not a usable CA certificate is an error of
        // `--ca-cert` at start, naming the file, and never a client that fails later.
        let mut store = rustls::RootCertStore::empty();
        for (n, der) in extra.iter().enumerate() {
            store.add(der.clone()).map_err(|e| {
                invalid(format!("certificate {} of {} cannot be used: {e}", n + 1, extra.len()))
            })?;
        }
        Ok(Roots { extra, file: Some(path.to_owned()) })
    }

    /// The certificates of `--ca-cert`, DER-encoded (none for the platform's roots only).
    pub fn extra_der(&self) -> impl Iterator<Item = &[u8]> {
        self.extra.iter().map(|der| der.as_ref())
    }

    /// reqwest's form of [`Roots::extra_der`].
    fn reqwest_certificates(&self) -> Result<Vec<reqwest::Certificate>, ClientError> {
        self.extra_der()
            .map(|der| {
                reqwest::Certificate::from_der(der).map_err(|e| ClientError::Build(describe(&e)))
            })
            .collect()
    }
}

/// Installs rustls's ring provider as the process's default, for every reqwest client
/// ([`builder`]'s, and those of libraries built on reqwest with `rustls-no-provider`, such as
/// the server's OCI client).
pub fn install_provider() -> Result<(), ClientError> {
    // Installing fails when a provider is installed already: then that one is used.
    let _ = rustls::crypto::ring::default_provider().install_default();
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        return Err(ClientError::NoProvider);
    }
    Ok(())
}

/// A client builder with writ's TLS (rustls and ring, `roots`) and user agent; the caller adds
/// its timeouts and builds.
pub fn builder(roots: &Roots) -> Result<reqwest::ClientBuilder, ClientError> {
    install_provider()?;
    Ok(reqwest::Client::builder()
        .user_agent(concat!("writ/", env!("CARGO_PKG_VERSION")))
        .tls_certs_merge(roots.reqwest_certificates()?))
}

/// Whether the client keeps connections open between requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reuse {
    /// Idle connections are kept for the next request (the gateway's upstream and key set).
    Pooled,
    /// Every request has a connection of its own: for callers that run each request on a
    /// runtime of its own (the evidence fetch), where a kept connection would outlive the
    /// runtime that drives it.
    Never,
}

/// The gateways' client: no redirect followed (an upstream's `3xx` is relayed as it came, and
/// a client's message is never sent to another host), and no timeout of its own: each caller
/// bounds its requests (an SSE stream may rightly last hours).
pub fn client(roots: &Roots, reuse: Reuse) -> Result<reqwest::Client, ClientError> {
    let mut builder = builder(roots)?.redirect(reqwest::redirect::Policy::none());
    if reuse == Reuse::Never {
        builder = builder.pool_max_idle_per_host(0);
    }
    builder.build().map_err(|e| ClientError::Build(describe(&e)))
}

/// Why a body was not read whole.
#[derive(Debug)]
pub enum ReadError {
    /// It is longer than the limit.
    TooLong { limit: usize },
    /// The connection failed.
    Failed(String),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::TooLong { limit } => write!(f, "the answer is over {limit} bytes"),
            ReadError::Failed(message) => write!(f, "{message}"),
        }
    }
}

/// Reads `response`'s body whole, at most `limit` bytes (the caller bounds the time).
pub async fn read_limited(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(ReadError::TooLong { limit });
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len().saturating_add(chunk.len()) > limit {
                    return Err(ReadError::TooLong { limit });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(ReadError::Failed(describe(&e))),
        }
    }
}

/// An error with its causes (reqwest's own message is often just "error sending request"; the
/// cause says which certificate was refused, or that the connection was refused).
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}
