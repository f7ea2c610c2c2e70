//! A real OCI registry for tests: Debian's `docker-registry` package (the CNCF distribution
//! registry, 2.8) on a free loopback port with a temporary storage directory, stopped when
//! dropped. Shared by `server/tests/oci.rs` and the CLI's `tests/bundle_cli.rs` (included
//! there by path), so there is one way to start one.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    child: Option<Child>,
    pub port: u16,
    /// The registry's storage (blobs under `docker/registry/v2/blobs/sha256/`).
    pub storage: PathBuf,
    config: PathBuf,
}

impl Registry {
    /// Starts a registry, anonymous, or with HTTP basic logins from an `htpasswd` file
    /// (bcrypt). `None` when `docker-registry` is not installed and this is not CI (the test
    /// is skipped, saying so); under CI (`CI` set) its absence fails the test.
    pub fn start(dir: &Path, htpasswd: Option<&Path>) -> Option<Registry> {
        Registry::start_with(dir, htpasswd, None)
    }

    /// Starts an anonymous registry that speaks HTTPS only, with the server certificate of
    /// `tls` (`writ_agents::test_pki`: the certificate file and its key).
    pub fn start_tls(dir: &Path, tls: (&Path, &Path)) -> Option<Registry> {
        Registry::start_with(dir, None, Some(tls))
    }

    fn start_with(
        dir: &Path,
        htpasswd: Option<&Path>,
        tls: Option<(&Path, &Path)>,
    ) -> Option<Registry> {
        let found = Command::new("docker-registry")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            assert!(
                std::env::var_os("CI").is_none(),
                "docker-registry is not installed: `.ci/run` installs Debian's `docker-registry` \
                 package"
            );
            eprintln!(
                "SKIPPED: docker-registry is not installed (apt-get install docker-registry)"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let storage = dir.join("registry-storage");
        std::fs::create_dir_all(&storage).unwrap();
        let auth = htpasswd.map_or(String::new(), |file| {
            format!("auth:\n  htpasswd:\n    realm: writ-test\n    path: {}\n", file.display())
        });
        let tls = tls.map_or(String::new(), |(cert, key)| {
            format!("  tls:\n    certificate: {}\n    key: {}\n", cert.display(), key.display())
        });
        let config = dir.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: writ-test\n{tls}{auth}",
                storage.display()
            ),
        )
        .unwrap();
        let mut registry = Registry { child: None, port, storage, config };
        registry.restart();
        Some(registry)
    }

    /// `127.0.0.1:PORT`, as a reference names it.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the registry (its port refuses connections; its storage stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and storage, and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run docker-registry");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.answers() {
            assert!(Instant::now() < deadline, "docker-registry did not answer within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether `GET /v2/` gets an HTTP answer (200, or 401 with logins; over TLS, the 400 of
    /// "an HTTP request to an HTTPS server").
    fn answers(&self) -> bool {
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request =
            format!("GET /v2/ HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", self.host());
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
    }

    /// The file holding the blob `sha256:HEX` in the registry's storage.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        self.storage.join("docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}
