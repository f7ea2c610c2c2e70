//! Test support, behind the `test-util` feature (never built into a shipped binary): a
//! certificate authority and a server certificate it signed, for `localhost` and 127.0.0.1,
//! made with the openssl CLI in a temporary directory, and a TLS server configuration
//! presenting it. The gateway's, the server's and the CLI's tests (`--ca-cert`) share it.
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a test utility: a failure to set up is the calling test's failure"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A CA (`ca`, PEM) and a server certificate (`cert`, `key`) it signed, for `localhost` and
/// 127.0.0.1 ([`Pki::new`]) or other names ([`Pki::for_names`]), valid for two days. The
/// directory holding them is removed on drop.
pub struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    dir: PathBuf,
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// openssl's arguments for a new P-256 key written to `out`.
fn new_key(out: &'static str) -> impl Iterator<Item = &'static str> {
    ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", out].into_iter()
}

/// Runs the openssl CLI with `args` in `dir`; a failure fails the test.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("these tests need the openssl CLI (Debian: apt-get install openssl)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl Pki {
    /// A new CA and a server certificate for `localhost` and 127.0.0.1.
    pub fn new() -> Pki {
        Pki::for_names("DNS:localhost,IP:127.0.0.1")
    }

    /// A new CA and a server certificate for `names`, an openssl `subjectAltName` list
    /// (`DNS:other.example`): a certificate the CA vouches for, but for another host than
    /// the one a test connects to.
    pub fn for_names(names: &str) -> Pki {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "writ-test-pki-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let ca: Vec<&str> = ["req", "-x509"]
            .into_iter()
            .chain(new_key("ca.key"))
            .chain(["-out", "ca.pem", "-days", "2", "-subj", "/CN=writ test CA"])
            .chain(["-addext", "basicConstraints=critical,CA:TRUE"])
            .chain(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            .collect();
        openssl(&dir, &ca);
        let csr: Vec<&str> = ["req"]
            .into_iter()
            .chain(new_key("server.key"))
            .chain(["-out", "server.csr", "-subj", "/CN=writ test server"])
            .collect();
        openssl(&dir, &csr);
        std::fs::write(
            dir.join("ext.cnf"),
            format!(
                "subjectAltName={names}\nbasicConstraints=critical,CA:FALSE\n\
                 keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
            ),
        )
        .expect("the extensions file");
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
        );
        Pki {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            dir,
        }
    }

    /// A TLS server configuration presenting the server certificate.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.cert)
            .expect("the server certificate")
            .collect::<Result<_, _>>()
            .expect("the server certificate's PEM");
        let key = PrivateKeyDer::from_pem_file(&self.key).expect("the server key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("the certificate and key");
        Arc::new(config)
    }
}

impl Default for Pki {
    fn default() -> Pki {
        Pki::new()
    }
}
