//! Real HTTP peers for `writ serve`, in the test process: a bundle server (for `--bundle-url`)
//! and a decision log collector (for `--decision-log-url`), both axum on loopback ports, each
//! on its own runtime, with counters the tests read; over plain HTTP, or over HTTPS with a
//! certificate of a test CA (`writ_agents::test_pki`).

#![allow(dead_code)]

use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use writ_agents::test_pki::Pki;

/// What the bundle server answers.
#[derive(Clone, Debug)]
pub enum Answer {
    /// The bundle, with its `ETag` (304 to a matching `If-None-Match`).
    Bundle { bytes: Vec<u8>, etag: Option<String> },
    /// This status, no body.
    Status(u16),
}

#[derive(Default)]
pub struct Counts {
    /// Every request.
    pub requests: u32,
    /// Requests answered 304.
    pub not_modified: u32,
    /// Requests answered 200 with the bundle.
    pub bodies: u32,
}

struct BundleState {
    answer: Answer,
    counts: Counts,
}

pub struct BundleServer {
    runtime: tokio::runtime::Runtime,
    pub addr: SocketAddr,
    scheme: &'static str,
    state: Arc<Mutex<BundleState>>,
}

impl BundleServer {
    pub fn start(answer: Answer) -> BundleServer {
        BundleServer::start_on("127.0.0.1:0".parse().unwrap(), answer)
    }

    pub fn start_on(addr: SocketAddr, answer: Answer) -> BundleServer {
        BundleServer::start_with(addr, answer, None)
    }

    /// Over HTTPS, presenting the server certificate of `pki`.
    pub fn start_tls(answer: Answer, pki: &Pki) -> BundleServer {
        BundleServer::start_with("127.0.0.1:0".parse().unwrap(), answer, Some(pki))
    }

    fn start_with(addr: SocketAddr, answer: Answer, tls: Option<&Pki>) -> BundleServer {
        let runtime = runtime();
        let state = Arc::new(Mutex::new(BundleState { answer, counts: Counts::default() }));
        let router =
            Router::new().route("/bundle.writb", get(serve_bundle)).with_state(state.clone());
        let (addr, scheme) = listen(&runtime, addr, router, tls);
        BundleServer { runtime, addr, scheme, state }
    }

    pub fn url(&self) -> String {
        format!("{}://{}/bundle.writb", self.scheme, self.addr)
    }

    pub fn set(&self, answer: Answer) {
        self.state.lock().unwrap().answer = answer;
    }

    pub fn counts<T>(&self, f: impl FnOnce(&Counts) -> T) -> T {
        f(&self.state.lock().unwrap().counts)
    }
}

async fn serve_bundle(
    State(state): State<Arc<Mutex<BundleState>>>,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().unwrap();
    state.counts.requests += 1;
    match state.answer.clone() {
        Answer::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Answer::Bundle { bytes, etag } => {
            let sent = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
            if let Some(etag) = &etag
                && sent == Some(etag.as_str())
            {
                state.counts.not_modified += 1;
                return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag.clone())]).into_response();
            }
            state.counts.bodies += 1;
            let mut response = bytes.into_response();
            if let Some(etag) = etag {
                response.headers_mut().insert(header::ETAG, etag.parse().unwrap());
            }
            response
        }
    }
}

/// A port nothing listens on (bound, then closed).
pub fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Serves `router` on `addr` on `runtime`, over TLS with `tls`'s certificate when given;
/// returns the address bound and the URL scheme.
fn listen(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
    router: Router,
    tls: Option<&Pki>,
) -> (SocketAddr, &'static str) {
    let listener = runtime.block_on(tokio::net::TcpListener::bind(addr)).unwrap();
    let addr = listener.local_addr().unwrap();
    let Some(pki) = tls else {
        runtime.spawn(async move { axum::serve(listener, router).await });
        return (addr, "http");
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config());
    runtime.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let (acceptor, router) = (acceptor.clone(), router.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends here: nothing reaches the router.
                let Ok(stream) = acceptor.accept(stream).await else { return };
                let service = hyper_util::service::TowerToHyperService::new(router);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, "https")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// A server on a raw socket that answers every connection with `head`, then writes `chunk`
/// over and over until the client goes away (a body that never ends, or lies about its size).
pub fn endless(head: &'static str, chunk: &'static [u8]) -> SocketAddr {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                if stream.write_all(head.as_bytes()).is_err() {
                    return;
                }
                while stream.write_all(chunk).is_ok() {}
            });
        }
    });
    addr
}

// ---------------------------------------------------------------------------------------------
// The collector

/// What the collector answers to the next POSTs.
#[derive(Default)]
struct CollectorState {
    /// Answer this status to the next this-many POSTs (then 200).
    fail: Vec<u16>,
    /// The lines accepted, in order.
    lines: Vec<u8>,
    /// POSTs accepted.
    accepted: u32,
    /// POSTs refused.
    refused: u32,
    /// Lines per accepted POST.
    batches: Vec<usize>,
    /// Headers seen wrong (content type, encoding).
    wrong: Vec<String>,
}

pub struct Collector {
    runtime: tokio::runtime::Runtime,
    pub addr: SocketAddr,
    scheme: &'static str,
    state: Arc<Mutex<CollectorState>>,
}

impl Collector {
    pub fn start() -> Collector {
        Collector::start_on("127.0.0.1:0".parse().unwrap())
    }

    pub fn start_on(addr: SocketAddr) -> Collector {
        Collector::start_with(addr, None)
    }

    /// Over HTTPS, presenting the server certificate of `pki`.
    pub fn start_tls(pki: &Pki) -> Collector {
        Collector::start_with("127.0.0.1:0".parse().unwrap(), Some(pki))
    }

    fn start_with(addr: SocketAddr, tls: Option<&Pki>) -> Collector {
        let runtime = runtime();
        let state = Arc::new(Mutex::new(CollectorState::default()));
        let router = Router::new().route("/ingest", post(collect)).with_state(state.clone());
        let (addr, scheme) = listen(&runtime, addr, router, tls);
        Collector { runtime, addr, scheme, state }
    }

    pub fn url(&self) -> String {
        format!("{}://{}/ingest", self.scheme, self.addr)
    }

    /// Answer these statuses to the next POSTs, in order.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.state.lock().unwrap().fail = statuses.iter().rev().copied().collect();
    }

    /// The lines accepted, concatenated in the order accepted.
    pub fn lines(&self) -> Vec<u8> {
        self.state.lock().unwrap().lines.clone()
    }

    pub fn line_count(&self) -> usize {
        self.lines().iter().filter(|b| **b == b'\n').count()
    }

    pub fn accepted(&self) -> u32 {
        self.state.lock().unwrap().accepted
    }

    pub fn refused(&self) -> u32 {
        self.state.lock().unwrap().refused
    }

    pub fn batches(&self) -> Vec<usize> {
        self.state.lock().unwrap().batches.clone()
    }

    pub fn wrong(&self) -> Vec<String> {
        self.state.lock().unwrap().wrong.clone()
    }
}

async fn collect(
    State(state): State<Arc<Mutex<CollectorState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut state = state.lock().unwrap();
    if let Some(status) = state.fail.pop() {
        state.refused += 1;
        return StatusCode::from_u16(status).unwrap();
    }
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if header(header::CONTENT_TYPE) != "application/x-ndjson" {
        state.wrong.push(format!("content-type: {}", header(header::CONTENT_TYPE)));
    }
    if header(header::CONTENT_ENCODING) != "gzip" {
        state.wrong.push(format!("content-encoding: {}", header(header::CONTENT_ENCODING)));
    }
    let mut lines = Vec::new();
    if flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut lines).is_err() {
        state.wrong.push("the body is not gzip".into());
        return StatusCode::BAD_REQUEST;
    }
    state.accepted += 1;
    state.batches.push(lines.iter().filter(|b| **b == b'\n').count());
    state.lines.extend_from_slice(&lines);
    StatusCode::OK
}
