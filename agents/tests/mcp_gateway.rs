//! `writ mcp-gateway` in process, between a hyper client and a fake Streamable-HTTP MCP
//! server (JSON and SSE answers) that records everything it receives. Tokens are signed with an
//! Ed25519 key made in the test, and verified against a JWKS file built from it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers: a failure is a test failure"
)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
}

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

    async fn answer(self, request: Request<Incoming>) -> Response<Full<Bytes>> {
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

async fn start_upstream() -> (Upstream, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let upstream = Upstream::default();
    let served = upstream.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let u = served.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |r| {
                    let u = u.clone();
                    async move { Ok::<_, std::convert::Infallible>(u.answer(r).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
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
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn setup_with(forwarding: TokenForwarding, upstream_addr: Option<SocketAddr>) -> Setup {
    let (upstream, addr) = start_upstream().await;
    let addr = upstream_addr.unwrap_or(addr);
    let keys = keys();
    let dir = std::env::temp_dir().join(format!(
        "writ-gateway-test-{}-{}",
        std::process::id(),
        b64url(&keys.public[..6])
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let jwks_path = dir.join("jwks.json");
    std::fs::write(&jwks_path, jwks(&keys).to_string()).unwrap();
    let compiler = writ_compiler::Compiler::new(vec![("p.writ".into(), POLICY.into())]);
    let ir = compiler.compilation().policy.clone().expect("the test policy compiles");
    let options = Options {
        gate: Gate::new(ir, "w").unwrap(),
        upstream: ServerUrl::parse(&format!("http://{addr}/mcp")).unwrap(),
        server: "fs".into(),
        path: "/mcp".into(),
        resource: Some(AUDIENCE.into()),
        authorization_servers: vec![ISSUER.into()],
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        keys: KeySource::File(jwks_path),
        claims: ClaimMap::default(),
        agent: "mcp-client".into(),
        forwarding,
        limits: Limits {
            max_body: 64 * 1024,
            upstream_timeout: Duration::from_secs(5),
            ..Limits::default()
        },
        log: None,
        store: Box::new(writ_agents::run::MemoryStore::default()),
        cwd: Some("/ok".into()),
        mode: writ_evaluator::log::Mode::Enforce,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let Err(e) = mcp_gateway::serve(options, listener).await;
        panic!("the gateway did not start: {e}");
    });
    Setup { keys, upstream, gateway, _dir: TempDir(dir) }
}

async fn setup() -> Setup {
    setup_with(TokenForwarding::Strip, None).await
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
