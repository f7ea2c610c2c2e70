//! `writ mcp-gateway` in process, between a hyper client and a fake Streamable-HTTP MCP
//! server (JSON and SSE answers) that records everything it receives. Tokens are signed with an
//! Ed25519 key made in the test, and verified against a JWKS file built from it; RS256 and
//! ES256 tokens with RSA and P-256 keys made by the openssl CLI in the test. The TLS tests
//! serve the upstream and the key set over https with a CA and a server certificate made by
//! the openssl CLI in the test (the CLI is required: a missing one fails the tests).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers: a failure is a test failure"
)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderMap;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value as Json, json};
use writ_agents::claims::ClaimMap;
use writ_agents::evidence::ServerUrl;
use writ_agents::gate::Gate;
use writ_agents::mcp_gateway::{self, KeySource, Limits, Options, TokenForwarding};
use writ_agents::net::Roots;
use writ_agents::test_pki::{Pki, openssl};

const POLICY: &str = r#"
tool mcp.fs.read(path: path)
tool mcp.fs.read_many(file_path: path)
tool mcp.fs.write(path: path, size: int) [write]
tool mcp.fs.delete(path: path) [write]
tool mcp.fs.run(command: command)
evidence approval by human
role dev {
  may mcp.fs.read
  may mcp.fs.read_many
  may mcp.fs.write
  may mcp.fs.run
}
workflow w {
  start by dev
  allow mcp.fs.read when path under "/ok"
  allow mcp.fs.read_many when file_path under "/ok"
  allow mcp.fs.write when size < 10 require approval
  allow mcp.fs.run when command runs only [["ls", ...]]
}
"#;

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "https://gateway.test/mcp";

// ---------------------------------------------------------------- keys and tokens

fn b64url(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

struct Keys {
    der: Vec<u8>,
    public: [u8; 32],
}

fn keys() -> Keys {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).unwrap();
    let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
    // PKCS#8 for an Ed25519 private key (RFC 8410): a fixed prefix, then the seed.
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&seed);
    Keys { der, public }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn claims(sub: &str) -> Json {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "roles": ["dev"], "exp": now() + 600})
}

fn token(keys: &Keys, claims: &Json) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&keys.der)).unwrap()
}

fn jwks(keys: &Keys) -> Json {
    json!({"keys": [
        {"kty": "OKP", "crv": "Ed25519", "x": b64url(&keys.public), "kid": "k1", "alg": "EdDSA", "use": "sig"},
        // A symmetric key in the set is never used (an HS256 token naming it is refused).
        {"kty": "oct", "k": b64url(b"secret"), "kid": "hs"},
    ]})
}

// ---------------------------------------------------------------- the fake upstream

#[derive(Clone, Debug)]
struct Seen {
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Upstream {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Served at `GET /jwks` (not recorded in `seen`).
    jwks: Arc<Mutex<Json>>,
    /// TLS handshakes that failed (the client refused the certificate).
    refused_handshakes: Arc<AtomicUsize>,
    /// The second event of the `slow` stream is sent when this is notified.
    release: Arc<tokio::sync::Notify>,
}

type UpBody = BoxBody<Bytes, Infallible>;

/// The upstream's answer to `tools/call`, in a layout of its own (spaces, escapes, key order):
/// the client must get exactly these bytes.
const CALL_ANSWER: &str = "{ \"result\" : {\"content\":[{\"type\":\"text\",\"text\":\"caf\\u00e9\"}]} ,\"jsonrpc\":\"2.0\",  \"id\":ID }";

fn tools() -> Json {
    json!([
        {"name": "read", "inputSchema": {"type": "object"}},
        {"name": "write", "inputSchema": {"type": "object"}},
        {"name": "delete", "inputSchema": {"type": "object"}},
        {"name": "secret_admin", "inputSchema": {"type": "object"}},
    ])
}

fn sse(body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn boxed(response: Response<Full<Bytes>>) -> Response<UpBody> {
    response.map(|b| b.boxed())
}

impl Upstream {
    fn calls(&self, method: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| {
                serde_json::from_slice::<Json>(&s.body)
                    .ok()
                    .and_then(|m| m["method"].as_str().map(str::to_string))
                    == Some(method.to_string())
            })
            .cloned()
            .collect()
    }

    async fn answer(self, request: Request<Incoming>) -> Response<UpBody> {
        if request.uri().path() == "/v1/evidence" {
            // The evidence server's answer (the subject is not checked here).
            return boxed(
                Response::builder()
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(r#"{"statements": [{"a": 1}]}"#)))
                    .unwrap(),
            );
        }
        if request.uri().path() == "/jwks" {
            let jwks = self.jwks.lock().unwrap().to_string();
            return boxed(
                Response::builder()
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(jwks)))
                    .unwrap(),
            );
        }
        let release = self.release.clone();
        let seen = self.seen.clone();
        let answer = self.answer_whole(request).await;
        // A message with the id "slow" is answered by a stream held open.
        let slow = seen.lock().unwrap().last().is_some_and(|s| {
            serde_json::from_slice::<Json>(&s.body).is_ok_and(|m| m["id"] == "slow")
        });
        if !slow {
            return boxed(answer);
        }
        // An SSE stream whose second event comes only when the test says so: the client must
        // get the first before.
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        tokio::spawn(async move {
            let first = json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": 1}});
            let _ = tx.send(Bytes::from(format!("data: {first}\n\n"))).await;
            release.notified().await;
            let last = json!({"jsonrpc": "2.0", "id": "slow", "result": {}});
            let _ = tx.send(Bytes::from(format!("data: {last}\n\n"))).await;
        });
        Response::builder()
            .header("content-type", "text/event-stream")
            .body(Channel(rx).boxed())
            .unwrap()
    }

    async fn answer_whole(self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = request.method().to_string();
        let headers = request.headers().clone();
        let body = request.into_body().collect().await.unwrap().to_bytes();
        self.seen.lock().unwrap().push(Seen { headers, body: body.clone() });
        if method == "GET" {
            // A resumed stream replaying a tools/list answer: filtered too.
            let list = json!({"jsonrpc": "2.0", "id": 99, "result": {"tools": tools()}});
            return sse(format!("id: 5\ndata: {list}\n\n"));
        }
        if method == "DELETE" {
            return Response::new(Full::new(Bytes::new()));
        }
        let message: Json = serde_json::from_slice(&body).unwrap();
        let id = message["id"].clone();
        match message["method"].as_str() {
            Some("initialize") => Response::builder()
                .header("content-type", "application/json")
                .header("mcp-session-id", "sess-1")
                .body(Full::new(Bytes::from(
                    json!({"jsonrpc": "2.0", "id": id, "result": {
                        "protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                        "serverInfo": {"name": "fake", "version": "1"}}})
                    .to_string(),
                )))
                .unwrap(),
            Some("tools/list") if id.as_str().is_some_and(|s| s.starts_with("sse")) => {
                let list = json!({"jsonrpc": "2.0", "id": id, "result": {"tools": tools()}});
                let note = json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "x"}});
                // A priming event (an id, empty data), a notification, then the answer split
                // over two data lines, with CRLF line ends.
                let text = list.to_string();
                let (a, b) = text.split_at(text.len() / 2);
                sse(format!(
                    "id: 1\ndata:\n\n: a comment\ndata: {note}\n\nid: 2\r\nevent: message\r\ndata: {a}\r\ndata: {b}\r\n\r\n"
                ))
            }
            Some("tools/list") => Response::builder()
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(
                    json!({"jsonrpc": "2.0", "id": id, "result": {"tools": tools()}}).to_string(),
                )))
                .unwrap(),
            Some("tools/call") => Response::builder()
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(CALL_ANSWER.replace("ID", &id.to_string()))))
                .unwrap(),
            _ => Response::builder().status(202).body(Full::new(Bytes::new())).unwrap(),
        }
    }
}

/// A response body fed by a channel, chunk by chunk.
struct Channel(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for Channel {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

/// The fake upstream on a port of its own; over TLS with `tls`.
async fn start_upstream(tls: Option<tokio_rustls::TlsAcceptor>) -> (Upstream, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let upstream = Upstream::default();
    let served = upstream.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let u = served.clone();
            let refused = served.refused_handshakes.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |r| {
                    let u = u.clone();
                    async move { Ok::<_, Infallible>(u.answer(r).await) }
                });
                let http = hyper::server::conn::http1::Builder::new();
                match tls {
                    None => {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                    Some(tls) => match tls.accept(stream).await {
                        Ok(stream) => {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                        Err(_) => {
                            refused.fetch_add(1, Ordering::SeqCst);
                        }
                    },
                }
            });
        }
    });
    (upstream, addr)
}

// ---------------------------------------------------------------- the gateway

struct Setup {
    keys: Keys,
    upstream: Upstream,
    gateway: SocketAddr,
    /// The decision log, with `Config::log`.
    log: Option<PathBuf>,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    let mut nonce = [0u8; 6];
    getrandom::fill(&mut nonce).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "writ-gateway-test-{}-{tag}-{}",
        std::process::id(),
        b64url(&nonce)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// How a test's gateway is set up.
struct Config {
    forwarding: TokenForwarding,
    /// The gateway's upstream, when not the fake one (a closed port).
    upstream_addr: Option<SocketAddr>,
    /// The fake upstream (and its key set) speaks TLS, with a certificate of the test CA.
    tls: Option<Arc<Pki>>,
    /// The gateway trusts the test CA (`--ca-cert`).
    trust_ca: bool,
    /// The gateway fetches the keys from the upstream's `/jwks` (else reads a file).
    jwks_url: bool,
    /// More keys in the set.
    extra_keys: Vec<Json>,
    /// Keep a decision log.
    log: bool,
    max_connections: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            forwarding: TokenForwarding::Strip,
            upstream_addr: None,
            tls: None,
            trust_ca: false,
            jwks_url: false,
            extra_keys: Vec::new(),
            log: false,
            max_connections: Limits::default().max_connections,
        }
    }
}

/// The options and the upstream for `config` (the gateway not started).
async fn prepare(
    config: &Config,
) -> (Options, Keys, Upstream, SocketAddr, Option<PathBuf>, TempDir) {
    let acceptor = config.tls.as_ref().map(|pki| acceptor(pki));
    let (upstream, addr) = start_upstream(acceptor).await;
    let keys = keys();
    let mut set = jwks(&keys);
    set["keys"].as_array_mut().unwrap().extend(config.extra_keys.iter().cloned());
    *upstream.jwks.lock().unwrap() = set.clone();
    let dir = temp_dir("gw");
    let jwks_path = dir.0.join("jwks.json");
    std::fs::write(&jwks_path, set.to_string()).unwrap();
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    // By address: the test certificate names 127.0.0.1 (and `localhost`, which e2e.py uses).
    let host = |a: SocketAddr| a.to_string();
    let target = config.upstream_addr.unwrap_or(addr);
    let keys_source = if config.jwks_url {
        KeySource::Url(ServerUrl::parse(&format!("{scheme}://{}/jwks", host(addr))).unwrap())
    } else {
        KeySource::File(jwks_path)
    };
    let roots = match (&config.tls, config.trust_ca) {
        (Some(pki), true) => Roots::load(Some(pki.ca.as_path())).unwrap(),
        _ => Roots::platform(),
    };
    let log = config.log.then(|| dir.0.join("decisions.jsonl"));
    let compiler = writ_compiler::Compiler::new(vec![("p.writ".into(), POLICY.into())]);
    let ir = compiler.compilation().policy.clone().expect("the test policy compiles");
    let mode = writ_evaluator::log::Mode::Enforce;
    let options = Options {
        gate: Gate::new(ir, "w").unwrap(),
        upstream: ServerUrl::parse(&format!("{scheme}://{}/mcp", host(target))).unwrap(),
        server: "fs".into(),
        path: "/mcp".into(),
        resource: Some(AUDIENCE.into()),
        authorization_servers: vec![ISSUER.into()],
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        keys: keys_source,
        claims: ClaimMap::default(),
        agent: "mcp-client".into(),
        forwarding: config.forwarding,
        limits: Limits {
            max_body: 64 * 1024,
            upstream_timeout: Duration::from_secs(5),
            max_connections: config.max_connections,
            ..Limits::default()
        },
        log: log.as_deref().map(|p| writ_agents::declog::LogFile::open(p, mode).unwrap()),
        store: Box::new(writ_agents::run::MemoryStore::default()),
        cwd: Some("/ok".into()),
        mode,
        roots,
    };
    (options, keys, upstream, addr, log, dir)
}

async fn setup_config(config: Config) -> Setup {
    let (options, keys, upstream, _, log, dir) = prepare(&config).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let Err(e) = mcp_gateway::serve(options, listener).await;
        panic!("the gateway did not start: {e}");
    });
    Setup { keys, upstream, gateway, log, _dir: dir }
}

async fn setup_with(forwarding: TokenForwarding, upstream_addr: Option<SocketAddr>) -> Setup {
    setup_config(Config { forwarding, upstream_addr, ..Config::default() }).await
}

async fn setup() -> Setup {
    setup_with(TokenForwarding::Strip, None).await
}

// ---------------------------------------------------------------- certificates (openssl CLI)

/// A TLS acceptor presenting the test server certificate of `pki`.
fn acceptor(pki: &Pki) -> tokio_rustls::TlsAcceptor {
    tokio_rustls::TlsAcceptor::from(pki.server_config())
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
}

async fn send(
    addr: SocketAddr,
    method: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut request =
        Request::builder().method(method).uri("/mcp").header("host", addr.to_string());
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response =
        sender.send_request(request.body(Full::new(body.into())).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer { status, headers, body }
}

impl Setup {
    fn bearer(&self, sub: &str) -> String {
        format!("Bearer {}", token(&self.keys, &claims(sub)))
    }

    async fn post(&self, auth: &str, session: Option<&str>, body: impl Into<Bytes>) -> Answer {
        let mut headers = vec![
            ("authorization", auth),
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", "2025-06-18"),
        ];
        if let Some(s) = session {
            headers.push(("mcp-session-id", s));
        }
        send(self.gateway, "POST", &headers, body).await
    }

    /// `initialize` as `sub`; returns the session.
    async fn initialize(&self, auth: &str) -> String {
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
        let answer = self.post(auth, None, init.to_string()).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        answer.headers.get("mcp-session-id").unwrap().to_str().unwrap().to_string()
    }

    async fn call(&self, auth: &str, session: &str, id: u64, name: &str, args: Json) -> Answer {
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": args}});
        self.post(auth, Some(session), call.to_string()).await
    }
}

fn refused(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let m = answer.json();
    assert_eq!(m["result"]["isError"], true, "{m}");
    m["result"]["content"][0]["text"].as_str().unwrap().to_string()
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn an_allowed_call_is_relayed_byte_for_byte_without_the_token() {
    let s = setup().await;
    let auth = s.bearer("ada");
    let session = s.initialize(&auth).await;
    assert_eq!(session, "sess-1");
    // The client's own layout: spaces, an escape, an unknown field, keys out of order.
    let sent = "{ \"params\": {\"arguments\": {\"path\": \"/ok/caf\\u00e9\", \"extra\": [1, 2.50]}, \"name\": \"read\"},\n \"method\":\"tools/call\", \"id\": 7, \"jsonrpc\": \"2.0\" }";
    let answer = s.post(&auth, Some(&session), sent).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, CALL_ANSWER.replace("ID", "7").as_bytes(), "the upstream's bytes");
    let calls = s.upstream.calls("tools/call");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].body, sent.as_bytes(), "the client's bytes");
    assert!(calls[0].headers.get("authorization").is_none(), "the token is stripped");
    assert_eq!(calls[0].headers.get("mcp-session-id").unwrap(), "sess-1");
    assert_eq!(calls[0].headers.get("mcp-protocol-version").unwrap(), "2025-06-18");
    // A relative path resolves against --cwd (/ok), as the upstream would resolve it.
    let answer = s.call(&auth, &session, 8, "read", json!({"path": "docs/a.txt"})).await;
    assert_eq!(answer.json()["result"]["content"][0]["text"], "café");
    assert_eq!(s.upstream.calls("tools/call").len(), 2);
}

#[tokio::test]
async fn refused_calls_never_reach_the_upstream() {
    let s = setup().await;
    let auth = s.bearer("ada");
    let session = s.initialize(&auth).await;
    let cases = [
        ("read", json!({"path": "/etc/passwd"}), "denied"),
        // `..` is resolved before the rule reads the path.
        ("read", json!({"path": "/ok/../etc/passwd"}), "denied"),
        ("read", json!({"path": "../etc/passwd"}), "denied"),
        // Two spellings of one argument: the call cannot be put as one request.
        ("read_many", json!({"file_path": "/ok/a", "file-path": "/etc/passwd"}), "both name"),
        // Needs evidence: pending is not allow.
        ("write", json!({"path": "/ok/a", "size": 3}), "approval"),
        ("delete", json!({"path": "/ok/a"}), "denied"),
        ("secret_admin", json!({}), "denied"),
        ("run", json!({"command": "ls; rm -rf /"}), "denied"),
        ("run", json!({"command": "ls $(rm -rf /)"}), "denied"),
        // A declared argument of the wrong type.
        ("read", json!({"path": 7}), "denied"),
    ];
    for (i, (name, args, says)) in cases.into_iter().enumerate() {
        let answer = s.call(&auth, &session, 100 + i as u64, name, args.clone()).await;
        let text = refused(&answer);
        assert!(text.contains(says), "{name} {args}: {text}");
        assert_eq!(answer.json()["id"], 100 + i as u64);
    }
    assert!(s.upstream.calls("tools/call").is_empty(), "no refused call reached the upstream");
    // And an allowed command does.
    let answer = s.call(&auth, &session, 1, "run", json!({"command": "ls -la /ok"})).await;
    assert_eq!(answer.status, 200);
    assert_eq!(s.upstream.calls("tools/call").len(), 1);
}

#[tokio::test]
async fn tools_lists_are_filtered_in_json_and_in_sse() {
    let s = setup().await;
    let auth = s.bearer("ada");
    let session = s.initialize(&auth).await;
    let names = |m: &Json| -> Vec<String> {
        m["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();
    let answer = s.post(&auth, Some(&session), list).await;
    assert_eq!(names(&answer.json()), ["read", "write"]);

    let list = json!({"jsonrpc": "2.0", "id": "sse-1", "method": "tools/list"}).to_string();
    let answer = s.post(&auth, Some(&session), list).await;
    assert_eq!(answer.headers.get("content-type").unwrap(), "text/event-stream");
    let text = String::from_utf8(answer.body.to_vec()).unwrap();
    let events: Vec<&str> = text.split_inclusive("\n\n").collect();
    assert_eq!(events.len(), 3, "{text}");
    // The priming event and the notification are relayed as they came.
    assert_eq!(events[0], "id: 1\ndata:\n\n");
    assert!(events[1].starts_with(
        ": a comment\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\""
    ));
    // The answer keeps its id and event lines; its data is filtered.
    assert!(events[2].starts_with("id: 2\nevent: message\ndata: "), "{}", events[2]);
    let data = events[2].lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    assert_eq!(names(&serde_json::from_str(data).unwrap()), ["read", "write"]);

    // The GET stream (here: a replayed answer) is filtered too.
    let answer = send(
        s.gateway,
        "GET",
        &[("authorization", &auth), ("accept", "text/event-stream"), ("mcp-session-id", &session)],
        Bytes::new(),
    )
    .await;
    assert_eq!(answer.status, 200);
    let text = String::from_utf8(answer.body.to_vec()).unwrap();
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    assert_eq!(names(&serde_json::from_str(data).unwrap()), ["read", "write"]);
    assert!(!text.contains("secret_admin"));
}

#[tokio::test]
async fn bad_tokens_are_401_with_the_metadata_challenge() {
    let s = setup().await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();
    let metadata =
        "resource_metadata=\"https://gateway.test/.well-known/oauth-protected-resource/mcp\"";

    let answer =
        send(s.gateway, "POST", &[("content-type", "application/json")], list.clone()).await;
    assert_eq!(answer.status, 401);
    let challenge = answer.headers.get("www-authenticate").unwrap().to_str().unwrap();
    assert_eq!(challenge, format!("Bearer {metadata}"));

    let with = |f: &dyn Fn(&mut Json)| {
        let mut c = claims("ada");
        f(&mut c);
        format!("Bearer {}", token(&s.keys, &c))
    };
    let header = |h: Json| b64url(h.to_string().as_bytes());
    let payload = b64url(claims("ada").to_string().as_bytes());
    let hs256 = |secret: &[u8], kid: &str| {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(kid.into());
        format!(
            "Bearer {}",
            jsonwebtoken::encode(&h, &claims("ada"), &EncodingKey::from_secret(secret)).unwrap()
        )
    };
    let valid = token(&s.keys, &claims("ada"));
    let mut tampered: Vec<&str> = valid.split('.').collect();
    let admin = b64url(json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "root", "roles": ["dev"], "exp": now() + 600}).to_string().as_bytes());
    tampered[1] = &admin;
    let other_keys = keys();
    let cases: Vec<(&str, String)> = vec![
        ("expired", with(&|c| c["exp"] = json!(now() - 3600))),
        ("not yet valid", with(&|c| c["nbf"] = json!(now() + 3600))),
        (
            "no exp",
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        ("wrong issuer", with(&|c| c["iss"] = json!("https://evil.test"))),
        (
            "no issuer",
            with(&|c| {
                c.as_object_mut().unwrap().remove("iss");
            }),
        ),
        ("wrong audience", with(&|c| c["aud"] = json!("https://other.test"))),
        (
            "no audience",
            with(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
        ),
        ("alg none", format!("Bearer {}.{payload}.", header(json!({"alg": "none", "typ": "JWT"})))),
        ("HS256 with the public key", hs256(&s.keys.public, "k1")),
        ("HS256 with the public key as base64url", hs256(b64url(&s.keys.public).as_bytes(), "k1")),
        ("HS256 naming the oct key", hs256(b"secret", "hs")),
        ("another key", format!("Bearer {}", token(&other_keys, &claims("ada")))),
        ("tampered payload", format!("Bearer {}", tampered.join("."))),
        ("garbage", "Bearer not-a-token".into()),
        ("unknown kid", {
            let mut h = Header::new(Algorithm::EdDSA);
            h.kid = Some("k9".into());
            format!(
                "Bearer {}",
                jsonwebtoken::encode(&h, &claims("ada"), &EncodingKey::from_ed_der(&s.keys.der))
                    .unwrap()
            )
        }),
        (
            "no sub",
            with(&|c| {
                c.as_object_mut().unwrap().remove("sub");
            }),
        ),
        ("roles not strings", with(&|c| c["roles"] = json!([1]))),
    ];
    for (what, auth) in cases {
        let answer = s.post(&auth, None, list.clone()).await;
        assert_eq!(answer.status, 401, "{what}: {:?}", answer.body);
        let challenge = answer.headers.get("www-authenticate").unwrap().to_str().unwrap();
        assert!(
            challenge.starts_with(&format!("Bearer {metadata}, error=\"invalid_token\"")),
            "{what}: {challenge}"
        );
        assert_eq!(answer.json()["error"]["code"], -32600, "{what}");
    }
    // A token with the same key twice in its payload, validly signed, is refused too.
    let dup = format!(
        "{{\"iss\":\"{ISSUER}\",\"aud\":\"{AUDIENCE}\",\"sub\":\"ada\",\"sub\":\"root\",\"roles\":[\"dev\"],\"exp\":{}}}",
        now() + 600
    );
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some("k1".into());
    let signing_input = format!(
        "{}.{}",
        b64url(serde_json::to_string(&h).unwrap().as_bytes()),
        b64url(dup.as_bytes())
    );
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_ed_der(&s.keys.der),
        Algorithm::EdDSA,
    )
    .unwrap();
    let answer = s.post(&format!("Bearer {signing_input}.{signature}"), None, list.clone()).await;
    assert_eq!(answer.status, 401, "{:?}", answer.body);
    assert!(
        s.upstream.seen.lock().unwrap().is_empty(),
        "nothing unauthenticated reached the upstream"
    );

    // The metadata document.
    for path in
        ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"]
    {
        let stream = tokio::net::TcpStream::connect(s.gateway).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let r = Request::get(path).header("host", "x").body(Full::new(Bytes::new())).unwrap();
        let response = sender.send_request(r).await.unwrap();
        assert_eq!(response.status(), 200);
        let doc: Json =
            serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes())
                .unwrap();
        assert_eq!(
            doc,
            json!({"resource": AUDIENCE, "authorization_servers": [ISSUER], "bearer_methods_supported": ["header"]})
        );
    }
}

#[tokio::test]
async fn malformed_messages_are_refused_and_not_forwarded() {
    let s = setup().await;
    let auth = s.bearer("ada");
    let session = s.initialize(&auth).await;
    let before = s.upstream.seen.lock().unwrap().len();
    let cases: Vec<(&str, String, i64)> = vec![
        ("invalid JSON", "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"tools/call\"".into(), -32700),
        // A parser that keeps the first `name` and one that keeps the last see different calls.
        ("duplicate keys", r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","name":"delete","arguments":{"path":"/ok/a"}}}"#.into(), -32700),
        ("duplicate argument", r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","arguments":{"path":"/ok/a","path":"/etc/passwd"}}}"#.into(), -32700),
        ("batch", json!([{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "read", "arguments": {"path": "/ok/a"}}}]).to_string(), -32600),
        ("not an object", "\"tools/call\"".into(), -32600),
        ("object id", json!({"jsonrpc": "2.0", "id": {"a": 1}, "method": "tools/call", "params": {"name": "read"}}).to_string(), -32600),
        ("call without id", json!({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "read", "arguments": {"path": "/ok/a"}}}).to_string(), -32600),
        ("arguments not an object", json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "read", "arguments": ["/ok/a"]}}).to_string(), -32602),
        ("empty", String::new(), -32700),
    ];
    for (what, body, code) in cases {
        let answer = s.post(&auth, Some(&session), body).await;
        assert_eq!(answer.status, 400, "{what}");
        assert_eq!(answer.json()["error"]["code"], code, "{what}");
    }
    let big = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "read", "arguments": {"path": "/ok/a", "pad": "x".repeat(70 * 1024)}}}).to_string();
    let answer = s.post(&auth, Some(&session), big).await;
    assert_eq!(answer.status, 413);
    assert_eq!(
        s.upstream.seen.lock().unwrap().len(),
        before,
        "nothing malformed reached the upstream"
    );
}

#[tokio::test]
async fn a_session_belongs_to_the_identity_it_was_issued_to() {
    let s = setup().await;
    let ada = s.bearer("ada");
    let session = s.initialize(&ada).await;
    let eve = s.bearer("eve");
    let answer = s.call(&eve, &session, 1, "read", json!({"path": "/ok/a"})).await;
    assert_eq!(answer.status, 404);
    let answer = s.call(&ada, "sess-invented", 1, "read", json!({"path": "/ok/a"})).await;
    assert_eq!(answer.status, 404);
    assert!(s.upstream.calls("tools/call").is_empty());
    // Ending the session: the next request on it is refused.
    let answer = send(
        s.gateway,
        "DELETE",
        &[("authorization", &ada), ("mcp-session-id", &session)],
        Bytes::new(),
    )
    .await;
    assert_eq!(answer.status, 200);
    let answer = s.call(&ada, &session, 2, "read", json!({"path": "/ok/a"})).await;
    assert_eq!(answer.status, 404);
}

#[tokio::test]
async fn a_principal_the_workflow_does_not_start_for_sees_no_tools() {
    let s = setup().await;
    let guest = format!(
        "Bearer {}",
        token(
            &s.keys,
            &json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "guest", "exp": now() + 600})
        )
    );
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}});
    let answer = s.post(&guest, None, init.to_string()).await;
    assert_eq!(answer.json()["error"]["code"], -32001, "{:?}", answer.body);
    assert!(s.upstream.calls("initialize").is_empty());
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();
    let answer = s.post(&guest, None, list).await;
    assert_eq!(answer.json()["result"]["tools"], json!([]));
}

#[tokio::test]
async fn the_token_goes_upstream_only_when_asked() {
    let s = setup_with(TokenForwarding::Forward, None).await;
    let auth = s.bearer("ada");
    let session = s.initialize(&auth).await;
    s.call(&auth, &session, 1, "read", json!({"path": "/ok/a"})).await;
    let calls = s.upstream.calls("tools/call");
    assert_eq!(calls[0].headers.get("authorization").unwrap().to_str().unwrap(), auth);
}

#[tokio::test]
async fn an_upstream_that_is_down_is_a_502_json_rpc_error() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let s = setup_with(TokenForwarding::Strip, Some(closed)).await;
    let auth = s.bearer("ada");
    let init = json!({"jsonrpc": "2.0", "id": 5, "method": "initialize", "params": {}});
    let answer = s.post(&auth, None, init.to_string()).await;
    assert_eq!(answer.status, 502);
    let m = answer.json();
    assert_eq!(m["id"], 5);
    assert_eq!(m["error"]["code"], -32603);
}

// ---------------------------------------------------------------- TLS

#[tokio::test]
async fn an_https_upstream_and_key_set_signed_by_the_ca_cert_work_end_to_end() {
    let pki = Arc::new(Pki::new());
    let s = setup_config(Config {
        tls: Some(pki.clone()),
        trust_ca: true,
        jwks_url: true,
        ..Config::default()
    })
    .await;
    let auth = s.bearer("ada");
    let session = s.initialize(&auth).await;
    assert_eq!(session, "sess-1");
    // Byte for byte, both ways, over TLS.
    let sent = "{\"jsonrpc\":\"2.0\",  \"id\": 7, \"method\":\"tools/call\", \"params\": {\"name\": \"read\", \"arguments\": {\"path\": \"/ok/a\"}}}";
    let answer = s.post(&auth, Some(&session), sent).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, CALL_ANSWER.replace("ID", "7").as_bytes());
    assert_eq!(s.upstream.calls("tools/call")[0].body, sent.as_bytes());
    // A denied call still never leaves the gateway.
    let answer = s.call(&auth, &session, 8, "read", json!({"path": "/etc/passwd"})).await;
    assert!(refused(&answer).contains("denied"));
    assert_eq!(s.upstream.calls("tools/call").len(), 1);
    // SSE over TLS: filtered, event by event.
    let list = json!({"jsonrpc": "2.0", "id": "sse-1", "method": "tools/list"}).to_string();
    let answer = s.post(&auth, Some(&session), list).await;
    let text = String::from_utf8(answer.body.to_vec()).unwrap();
    assert_eq!(text.split_inclusive("\n\n").count(), 3, "{text}");
    assert!(!text.contains("secret_admin"));
    // An SSE stream is passed on as it arrives: the first event reaches the client while the
    // upstream holds the second.
    let list = json!({"jsonrpc": "2.0", "id": "slow", "method": "tools/list"}).to_string();
    let (first, body) = first_event_only(s.gateway, &auth, &session, list).await;
    assert!(first.contains("notifications/progress"), "{first}");
    s.upstream.release.notify_one();
    let rest = tokio::time::timeout(Duration::from_secs(20), body).await.unwrap().unwrap();
    assert!(String::from_utf8(rest.to_vec()).unwrap().contains("\"id\":\"slow\""));
    assert_eq!(s.upstream.refused_handshakes.load(Ordering::SeqCst), 0);
}

/// Posts `body`, returns the first event as soon as it arrives, and the rest of the body to
/// come.
async fn first_event_only(
    gateway: SocketAddr,
    auth: &str,
    session: &str,
    body: String,
) -> (String, tokio::task::JoinHandle<Bytes>) {
    let stream = tokio::net::TcpStream::connect(gateway).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = Request::post("/mcp")
        .header("host", gateway.to_string())
        .header("authorization", auth)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", session)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get("content-type").unwrap(), "text/event-stream");
    let mut body = response.into_body();
    let mut text = Vec::new();
    // Only the first event is sent until the test releases the second: a gateway that buffered
    // the stream would never get past this loop.
    while !text.ends_with(b"\n\n") {
        let frame = tokio::time::timeout(Duration::from_secs(20), body.frame())
            .await
            .expect("the first event arrives while the upstream holds the stream open")
            .unwrap()
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.extend_from_slice(&data);
        }
    }
    let rest = tokio::spawn(async move { body.collect().await.unwrap().to_bytes() });
    (String::from_utf8(text).unwrap(), rest)
}

/// Waits until the upstream has seen a TLS handshake fail (its side learns of the client's
/// alert after the client has given up).
async fn refused_handshake(upstream: &Upstream) {
    for _ in 0..200 {
        if upstream.refused_handshakes.load(Ordering::SeqCst) >= 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the upstream saw no refused handshake");
}

#[tokio::test]
async fn an_untrusted_upstream_certificate_is_a_502_and_nothing_is_sent() {
    // The upstream's certificate is signed by the test CA, which the gateway is not given.
    let pki = Arc::new(Pki::new());
    let s = setup_config(Config { tls: Some(pki), ..Config::default() }).await;
    let auth = s.bearer("ada");
    let init = json!({"jsonrpc": "2.0", "id": 5, "method": "initialize", "params": {}});
    let answer = s.post(&auth, None, init.to_string()).await;
    assert_eq!(answer.status, 502, "{:?}", answer.body);
    let m = answer.json();
    assert_eq!(m["id"], 5);
    assert_eq!(m["error"]["code"], -32603);
    let message = m["error"]["message"].as_str().unwrap();
    assert!(message.contains("certificate"), "{message}");
    // The handshake was refused, and nothing went in the clear instead.
    refused_handshake(&s.upstream).await;
    assert!(s.upstream.seen.lock().unwrap().is_empty());
    // The gateway is still there.
    let answer = s.post(&auth, None, init.to_string()).await;
    assert_eq!(answer.status, 502);
}

#[tokio::test]
async fn an_untrusted_key_set_url_stops_the_gateway_at_start() {
    let pki = Arc::new(Pki::new());
    let config = Config { tls: Some(pki.clone()), jwks_url: true, ..Config::default() };
    let (options, _keys, upstream, _, _, _dir) = prepare(&config).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let started =
        tokio::time::timeout(Duration::from_secs(20), mcp_gateway::serve(options, listener))
            .await
            .expect("a start-up error, not a hang");
    let Err(e) = started;
    assert!(e.contains("--jwks-url") && e.contains("certificate"), "{e}");
    refused_handshake(&upstream).await;
    // A `--ca-cert` that is not a certificate is a start-up error too.
    let bad = pki.ca.with_file_name("not-a-cert.pem");
    std::fs::write(&bad, "hello").unwrap();
    let e = Roots::load(Some(bad.as_path())).unwrap_err().to_string();
    assert!(e.contains("--ca-cert"), "{e}");
    // PEM blocks: a key alone holds no certificate; a block that is not a certificate is
    // refused at load (not when a client is built); a key beside the CA is passed over.
    let pem = |name: &str, text: String| {
        let path = pki.ca.with_file_name(name);
        std::fs::write(&path, text).unwrap();
        Roots::load(Some(path.as_path()))
    };
    let read = |path: &Path| std::fs::read_to_string(path).unwrap();
    let e = pem("key.pem", read(&pki.key)).unwrap_err().to_string();
    assert!(e.contains("holds no `BEGIN CERTIFICATE` block"), "{e}");
    let garbage = "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n";
    let e = pem("garbage.pem", format!("{}{garbage}", read(&pki.ca))).unwrap_err().to_string();
    assert!(e.contains("certificate 2 of 2 cannot be used"), "{e}");
    let both = pem("both.pem", format!("{}{}", read(&pki.key), read(&pki.ca))).unwrap();
    assert_eq!(both.extra_der().count(), 1);
    let ca = Roots::load(Some(pki.ca.as_path())).unwrap_or_else(|e| panic!("{e}"));
    assert!(both.extra_der().eq(ca.extra_der()));
}

// ---------------------------------------------------------------- the decision log

#[tokio::test]
async fn a_session_start_is_logged_once() {
    let s = setup_config(Config { log: true, ..Config::default() }).await;
    let auth = s.bearer("ada");
    let session = s.initialize(&auth).await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();
    let answer = s.post(&auth, Some(&session), list).await;
    assert_eq!(answer.json()["result"]["tools"].as_array().unwrap().len(), 2);
    s.call(&auth, &session, 2, "read", json!({"path": "/ok/a"})).await;
    s.call(&auth, &session, 3, "read", json!({"path": "/etc/passwd"})).await;
    let lines = || -> Vec<Json> {
        std::fs::read_to_string(s.log.as_ref().unwrap())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let actions: Vec<String> =
        lines().iter().map(|l| l["action"].as_str().unwrap().to_string()).collect();
    assert_eq!(actions, ["start", "call", "call"], "{:#?}", lines());
    // A second session of the same identity is a run of its own: its start is logged, once.
    let second = s.initialize(&auth).await;
    s.call(&auth, &second, 4, "read", json!({"path": "/ok/b"})).await;
    let actions: Vec<String> =
        lines().iter().map(|l| l["action"].as_str().unwrap().to_string()).collect();
    assert_eq!(actions, ["start", "call", "call", "start", "call"]);
}

// ---------------------------------------------------------------- the connection limit

#[tokio::test]
async fn connections_over_the_limit_wait_until_one_closes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const N: usize = 3;
    let s = setup_config(Config { max_connections: N, ..Config::default() }).await;
    let request = b"GET /.well-known/oauth-protected-resource HTTP/1.1\r\nhost: x\r\n\r\n";
    // Whether `stream` gets an answer within `wait`.
    async fn answered(stream: &mut tokio::net::TcpStream, wait: Duration) -> bool {
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Ok(Ok(n)) => buf[..n].starts_with(b"HTTP/1.1 200"),
            _ => false,
        }
    }
    let mut held = Vec::new();
    for _ in 0..N {
        let mut c = tokio::net::TcpStream::connect(s.gateway).await.unwrap();
        c.write_all(request).await.unwrap();
        assert!(answered(&mut c, Duration::from_secs(10)).await);
        held.push(c); // kept open (keep-alive): each holds one of the N
    }
    let mut waiting = Vec::new();
    for _ in 0..2 {
        // The kernel completes the connection (the listen backlog); the gateway does not read it.
        let mut c = tokio::net::TcpStream::connect(s.gateway).await.unwrap();
        c.write_all(request).await.unwrap();
        waiting.push(c);
    }
    for c in &mut waiting {
        assert!(!answered(c, Duration::from_millis(500)).await, "over the limit: not served");
    }
    // One closes: the first waiting connection is served.
    drop(held.pop());
    assert!(answered(&mut waiting[0], Duration::from_secs(10)).await);
    // All close: the gateway answers new connections as before.
    drop(held);
    drop(waiting);
    for _ in 0..N + 2 {
        let mut c = tokio::net::TcpStream::connect(s.gateway).await.unwrap();
        c.write_all(request).await.unwrap();
        assert!(answered(&mut c, Duration::from_secs(10)).await);
    }
}

// ---------------------------------------------------------------- RS256 and ES256

/// A private key made by the openssl CLI, as jsonwebtoken signs with it (DER: PKCS#1 for RSA,
/// PKCS#8 for P-256), and its public JWK.
struct PemKey {
    der: Vec<u8>,
    jwk: Json,
}

fn rsa_key(dir: &Path, name: &str, kid: &str) -> PemKey {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let file = format!("{name}.pem");
    openssl(
        dir,
        &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", &file],
    );
    let pem = std::fs::read(dir.join(&file)).unwrap();
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(std::str::from_utf8(&pem).unwrap()).unwrap();
    let jwk = json!({"kty": "RSA", "n": b64url(&key.n().to_bytes_be()), "e": b64url(&key.e().to_bytes_be()),
        "kid": kid, "alg": "RS256", "use": "sig"});
    PemKey { der: key.to_pkcs1_der().unwrap().as_bytes().to_vec(), jwk }
}

fn ec_key(dir: &Path, name: &str, kid: &str, alg: &str) -> PemKey {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
    let file = format!("{name}.pem");
    openssl(
        dir,
        &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", &file],
    );
    let pem = std::fs::read(dir.join(&file)).unwrap();
    let key = p256::SecretKey::from_pkcs8_pem(std::str::from_utf8(&pem).unwrap()).unwrap();
    let point = key.public_key().to_encoded_point(false);
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64url(point.x().unwrap()),
        "y": b64url(point.y().unwrap()), "kid": kid, "alg": alg, "use": "sig"});
    PemKey { der: key.to_pkcs8_der().unwrap().as_bytes().to_vec(), jwk }
}

fn signed(alg: Algorithm, kid: Option<&str>, key: &PemKey, claims: &Json) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_der(&key.der),
        _ => EncodingKey::from_rsa_der(&key.der),
    };
    format!("Bearer {}", jsonwebtoken::encode(&header, claims, &key).unwrap())
}

/// RS256 and ES256 tokens signed with real keys: accepted with the right key, refused
/// otherwise, with the key set read from a file or fetched over https.
async fn rs256_and_es256(jwks_url: bool) {
    let dir = temp_dir("keys");
    let d = &dir.0;
    let rsa = rsa_key(d, "rsa", "rsa");
    let ec = ec_key(d, "ec", "ec", "ES256");
    let other_rsa = rsa_key(d, "other-rsa", "rsa");
    let other_ec = ec_key(d, "other-ec", "ec", "ES256");
    // A P-256 key whose JWK says RS256: never loaded, so a token naming it is refused.
    let mislabelled = ec_key(d, "mislabelled", "mis", "RS256");
    let pki = Arc::new(Pki::new());
    let s = setup_config(Config {
        extra_keys: vec![rsa.jwk.clone(), ec.jwk.clone(), mislabelled.jwk.clone()],
        jwks_url,
        tls: jwks_url.then(|| pki.clone()),
        trust_ca: true,
        ..Config::default()
    })
    .await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();
    let with = |f: &dyn Fn(&mut Json)| {
        let mut c = claims("ada");
        f(&mut c);
        c
    };
    let good = claims("ada");
    let header = |h: Json| b64url(h.to_string().as_bytes());
    let payload = b64url(good.to_string().as_bytes());
    for (alg, kid, key, other, foreign) in [
        (Algorithm::RS256, "rsa", &rsa, &other_rsa, (Algorithm::ES256, &ec)),
        (Algorithm::ES256, "ec", &ec, &other_ec, (Algorithm::RS256, &rsa)),
    ] {
        for accepted in [signed(alg, Some(kid), key, &good), signed(alg, None, key, &good)] {
            let answer = s.post(&accepted, None, list.clone()).await;
            assert_eq!(answer.status, 200, "{alg:?}: {:?}", answer.body);
            assert_eq!(answer.json()["result"]["tools"].as_array().unwrap().len(), 2);
        }
        let mut cases: Vec<(&str, String)> = vec![
            ("another key", signed(alg, Some(kid), other, &good)),
            ("another key, no kid", signed(alg, None, other, &good)),
            // Validly signed with the other key type, naming this key: the JWK's `alg` is not
            // the token's.
            ("the JWK's alg is not the token's", signed(foreign.0, Some(kid), foreign.1, &good)),
            (
                "alg none",
                format!("Bearer {}.{payload}.", header(json!({"alg": "none", "kid": kid}))),
            ),
            ("alg none, signed", {
                let real = signed(alg, Some(kid), key, &good);
                let signature = real.rsplit('.').next().unwrap().to_string();
                format!(
                    "Bearer {}.{payload}.{signature}",
                    header(json!({"alg": "none", "kid": kid}))
                )
            }),
            ("expired", signed(alg, Some(kid), key, &with(&|c| c["exp"] = json!(now() - 3600)))),
            (
                "wrong audience",
                signed(alg, Some(kid), key, &with(&|c| c["aud"] = json!("https://other.test"))),
            ),
            (
                "wrong issuer",
                signed(alg, Some(kid), key, &with(&|c| c["iss"] = json!("https://evil.test"))),
            ),
            (
                "a key whose JWK is mislabelled",
                signed(Algorithm::ES256, Some("mis"), &mislabelled, &good),
            ),
        ];
        if alg == Algorithm::RS256 {
            // RSA-PSS with the very key: not an accepted algorithm.
            cases.push(("PS256 with the key", signed(Algorithm::PS256, Some(kid), key, &good)));
        }
        for (what, auth) in cases {
            let answer = s.post(&auth, None, list.clone()).await;
            assert_eq!(answer.status, 401, "{alg:?} {what}: {:?}", answer.body);
            let challenge = answer.headers.get("www-authenticate").unwrap().to_str().unwrap();
            assert!(challenge.contains("error=\"invalid_token\""), "{alg:?} {what}: {challenge}");
        }
    }
    assert!(s.upstream.calls("tools/list").len() == 4, "only the accepted tokens' lists went up");
}

#[tokio::test]
async fn rs256_and_es256_tokens_with_real_keys_from_a_jwks_file() {
    rs256_and_es256(false).await;
}

#[tokio::test]
async fn rs256_and_es256_tokens_with_real_keys_from_an_https_jwks_url() {
    rs256_and_es256(true).await;
}

#[tokio::test]
async fn an_https_evidence_server_is_asked_only_when_its_certificate_verifies() {
    use writ_agents::evidence::{GateEvidence, Source};
    use writ_agents::net::{self, Reuse};
    let pki = Arc::new(Pki::new());
    let (upstream, addr) = start_upstream(Some(acceptor(&pki))).await;
    let trust = writ_evaluator::statement::Trust::from_json(br#"{"signers": []}"#);
    let ask = |roots: Roots| {
        let evidence = GateEvidence {
            trust: trust.clone().unwrap(),
            source: Source::Server {
                url: ServerUrl::parse(&format!("https://{addr}")).unwrap(),
                client: net::client(&roots, Reuse::Never).unwrap(),
            },
        };
        tokio::task::spawn_blocking(move || evidence.statements("git:abc"))
    };
    let trusted = ask(Roots::load(Some(pki.ca.as_path())).unwrap()).await.unwrap();
    assert!(trusted.problems.is_empty(), "{:?}", trusted.problems);
    assert_eq!(trusted.loaded.len(), 1);
    // Without the CA: no statements (a pending call stays pending), and the reason says why.
    let untrusted = ask(Roots::platform()).await.unwrap();
    assert!(untrusted.loaded.is_empty());
    let problem = untrusted.problems.iter().map(ToString::to_string).collect::<String>();
    assert!(problem.contains("certificate"), "{problem}");
    refused_handshake(&upstream).await;
}
