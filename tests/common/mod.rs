//! What the root integration tests share: running the `writ` binary and where files are. Each
//! test crate declares `mod common;` and uses the part it needs.
#![allow(dead_code, reason = "each test crate uses a part of this module")]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What a run of `writ` gave: its exit code (-1 when a signal ended it) and its output.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The repository's root: where the examples and fixtures are.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `writ ARGS` in the repository's root, without colour and with no standard input.
pub fn writ(args: &[&str]) -> Run {
    Writ::new(args).run()
}

/// A run of `writ` with more than arguments: another directory, input, environment.
pub struct Writ<'a> {
    args: &'a [&'a str],
    dir: Option<&'a Path>,
    stdin: Option<&'a str>,
    env: Vec<(&'a str, &'a str)>,
}

impl<'a> Writ<'a> {
    pub fn new(args: &'a [&'a str]) -> Writ<'a> {
        Writ { args, dir: None, stdin: None, env: Vec::new() }
    }

    /// Runs in `dir` instead of the repository's root.
    pub fn dir(mut self, dir: &'a Path) -> Writ<'a> {
        self.dir = Some(dir);
        self
    }

    /// Gives `text` on standard input (none when `None`).
    pub fn stdin(mut self, text: Option<&'a str>) -> Writ<'a> {
        self.stdin = text;
        self
    }

    pub fn env(mut self, name: &'a str, value: &'a str) -> Writ<'a> {
        self.env.push((name, value));
        self
    }

    /// Runs it to the end. Whatever the arguments, writ must never panic: a panic fails the
    /// test that ran it.
    pub fn run(self) -> Run {
        let root = root();
        let mut command = Command::new(env!("CARGO_BIN_EXE_writ"));
        command
            .args(self.args)
            .current_dir(self.dir.unwrap_or(&root))
            .env("NO_COLOR", "1")
            .envs(self.env.iter().copied())
            .stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("run writ");
        if let Some(text) = self.stdin {
            child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write stdin");
        }
        let out = child.wait_with_output().expect("wait for writ");
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(!run.stderr.contains("panicked"), "writ {:?} panicked: {}", self.args, run.stderr);
        run
    }
}

/// A new empty directory for one test: `writ-KIND-NAME-PID-NANOS` under the system's temporary
/// directory, so that parallel tests and repeated runs never share one.
pub fn temp_dir(kind: &str, name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let dir =
        std::env::temp_dir().join(format!("writ-{kind}-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

/// `writ ARGS` in `dir`.
pub fn writ_in(dir: &Path, args: &[&str]) -> Run {
    Writ::new(args).dir(dir).run()
}

/// A `redis-server` on a free loopback port, stopped when dropped.
pub struct Redis {
    pub child: Child,
    pub port: u16,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `redis-server` (Debian's package; `.ci/run` installs it) and waits until it answers
/// PING. Without it the test fails under CI (`CI` set) and is skipped, saying so, elsewhere.
pub fn redis_server() -> Option<Redis> {
    let found =
        Command::new("redis-server").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-server is not installed: `.ci/run` installs Debian's `redis-server` package"
        );
        eprintln!("SKIPPED: redis-server is not installed (apt-get install redis-server)");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
        .args(["--appendonly", "no", "--daemonize", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run redis-server");
    let redis = Redis { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pong = std::net::TcpStream::connect(("127.0.0.1", port)).ok().and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
            s.write_all(b"PING\r\n").ok()?;
            let mut reply = [0u8; 7];
            s.read_exact(&mut reply).ok()?;
            Some(reply == *b"+PONG\r\n")
        });
        if pong == Some(true) {
            return Some(redis);
        }
        assert!(Instant::now() < deadline, "redis-server did not answer PING within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}
