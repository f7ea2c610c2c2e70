//! Starting a real server on a loopback port, and a small HTTP/1.1 client over `TcpStream`
//! (raw, so tests can send what no well-behaved client would).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use writ_server::{Config, Error, Handle, Server, Source, Summary};

/// A small policy: `ping` for developers, `deploy` to prod with an approval.
pub const POLICY: &str = r#"role dev {
  may ping
  may deploy
}

tool ping
tool deploy(env: "staging" | "prod")

evidence approval by human

workflow w {
  start by dev
  allow ping
  allow deploy when env == "staging"
  allow deploy when env == "prod" require approval by dev
  deny deploy when env == "prod" and context.frozen because "production is frozen"
}

context frozen: bool
"#;

/// The same policy after a change: `ping` is no longer allowed.
pub const POLICY_V2: &str = r#"role dev {
  may ping
  may deploy
}

tool ping
tool deploy(env: "staging" | "prod")

evidence approval by human

workflow w {
  start by dev
  allow deploy when env == "staging"
}
"#;

/// Does not compile: `pong` is not declared.
pub const BROKEN: &str = "role dev {\n  may pong\n}\n";

pub const ALLOW: &str = r#"{"action": "call", "workflow": "w", "tool": "ping",
  "chain": [{"id": "ada", "kind": "human", "roles": ["dev"]}, {"id": "bot/1", "kind": "agent"}]}"#;
pub const PENDING: &str = r#"{"action": "call", "workflow": "w", "tool": "deploy",
  "args": {"env": "prod"}, "context": {"frozen": false},
  "chain": [{"id": "ada", "kind": "human", "roles": ["dev"]}, {"id": "bot/1", "kind": "agent"}]}"#;
pub const DENY: &str = r#"{"action": "call", "workflow": "w", "tool": "deploy",
  "args": {"env": "prod"}, "context": {"frozen": true},
  "chain": [{"id": "ada", "kind": "human", "roles": ["dev"]}, {"id": "bot/1", "kind": "agent"}]}"#;

/// A fresh directory under the system's temporary directory.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "writ-server-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

/// `DIR/policy.writ` holding `text`.
pub fn policy_file(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("policy.writ");
    std::fs::write(&path, text).expect("write the policy");
    path
}

pub fn config(source: Source) -> Config {
    let mut config = Config::new(source, "127.0.0.1:0".parse().unwrap());
    config.watch = false;
    config
}

pub struct TestServer {
    pub runtime: tokio::runtime::Runtime,
    pub addr: SocketAddr,
    /// The gRPC listener's (`Config::envoy`).
    pub grpc: Option<SocketAddr>,
    pub handle: Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<Summary, Error>>>,
}

impl TestServer {
    pub fn start(config: Config) -> TestServer {
        TestServer::try_start(config).expect("the server starts")
    }

    pub fn try_start(config: Config) -> Result<TestServer, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let server = runtime.block_on(Server::start(config))?;
        let addr = server.local_addr();
        let grpc = server.grpc_addr();
        let handle = server.handle();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = runtime.spawn(server.serve(async move {
            let _ = stopped.await;
        }));
        Ok(TestServer { runtime, addr, grpc, handle, stop: Some(stop), task: Some(task) })
    }

    /// Shuts down gracefully; what the server reports.
    pub fn stop(mut self) -> Summary {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("a running server");
        self.runtime.block_on(task).expect("the server task").expect("a clean stop")
    }

    pub fn reload(&self) -> writ_server::Reloaded {
        self.runtime.block_on(self.handle.reload("test"))
    }

    pub fn get(&self, path: &str) -> Answer {
        request(self.addr, "GET", path, None)
    }

    pub fn post(&self, path: &str, body: &str) -> Answer {
        request(self.addr, "POST", path, Some(body.as_bytes()))
    }

    /// A POST with extra headers (`("writ-run", "r1")`).
    pub fn post_with(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        raw(self.addr, format!("{head}{body}").as_bytes())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Header names lowercase.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Json {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One request on its own connection (`Connection: close`).
pub fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&[u8]>) -> Answer {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    raw(addr, &bytes)
}

/// Sends `bytes` and reads the answer to the end of the connection.
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    stream.write_all(bytes).expect("send");
    read_answer(&mut stream)
}

pub fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).expect("read the answer");
    parse_answer(&out)
}

pub fn parse_answer(bytes: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head: {text}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer { status, headers, body: body.to_string() }
}

/// `value` with timestamps and decision ids replaced, for snapshots.
pub fn redact(mut value: Json) -> Json {
    fn walk(value: &mut Json) {
        match value {
            Json::Object(map) => {
                for (key, v) in map.iter_mut() {
                    if matches!(key.as_str(), "loaded_at" | "started_at" | "at" | "id")
                        && v.is_string()
                        && (key != "id" || v.as_str().is_some_and(|s| s.len() == 36))
                    {
                        *v = Json::String(format!("[{key}]"));
                    } else {
                        walk(v);
                    }
                }
            }
            Json::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

/// Waits (at most a minute) until `check` holds.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
