//! Connections: the accept loop, and the limits that keep slow or hostile clients from holding
//! the server's connections open.
//!
//! - A request's head must arrive within the header timeout of the connection being ready for
//!   it (a new connection, or a kept-alive one after its last answer); otherwise the
//!   connection is closed. So idle and trickling connections do not pile up.
//! - A request's body must arrive within the body timeout of its head; otherwise the request
//!   is answered 400 and its connection closed.
//! - A body whose declared `Content-Length` is over the limit is answered 413 at once, without
//!   reading it, and the connection is closed.
//!
//! The decisions (`POST /v1/decide` and `/v1/decide/batch`) are served by [`Front`] directly,
//! without the router and its layers (the hot path: route matching, extractors and boxed
//! middleware cost more than the decision); every other request goes to the axum router, which
//! also answers what the direct path does not (a `GET /v1/decide` is a 405 naming `POST`). Both
//! keep the same limits, the same error answers and the same panic answer.
//!
//! Workers: `writ serve --workers N` runs N accept loops ([`serve`]), each on its own thread
//! with a single-threaded runtime and its own listener ([`bind`]: `SO_REUSEPORT` on Linux, so
//! the kernel spreads connections over them; elsewhere the listeners are one socket shared).
//! A connection stays on the worker that accepted it, so a request never crosses threads.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State as Extract};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

use crate::state::State;

/// What a request may take.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub body_limit: usize,
}

/// `router` behind the body limits: an early 413, and the body deadline.
pub fn guarded(router: Router, state: Arc<State>, limits: Limits) -> Router {
    router.layer(axum::middleware::from_fn_with_state((state, limits), guard))
}

async fn guard(
    Extract((state, limits)): Extract<(Arc<State>, Limits)>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(refused) = declared_too_large(&state, request.headers(), limits) {
        return refused;
    }
    let deadline = limits.body_timeout;
    next.run(request.map(|body| Body::new(Deadline::new(body, deadline)))).await
}

/// The 413 of a request whose `Content-Length` is over the limit, if it is.
fn declared_too_large(state: &State, headers: &HeaderMap, limits: Limits) -> Option<Response> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_none_or(|n| n <= limits.body_limit as u64) {
        return None;
    }
    let mut response = crate::http::too_large(state);
    // The body is never read, so the connection cannot carry another request.
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    Some(response)
}

/// A request body that fails once it has taken longer than its deadline to arrive in full.
struct Deadline {
    body: Body,
    timer: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

impl Deadline {
    fn new(body: Body, limit: Duration) -> Deadline {
        Deadline { body, timer: Box::pin(tokio::time::sleep(limit)), limit }
    }
}

/// The error of a body that did not arrive in time.
#[derive(Debug)]
struct TimedOut(Duration);

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the body did not arrive within {} s", self.0.as_secs_f64())
    }
}

impl std::error::Error for TimedOut {}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if this.timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(axum::Error::new(TimedOut(this.limit)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The requests [`Front`] answers itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direct {
    Decide,
    Batch,
}

impl Direct {
    fn of(method: &Method, path: &str) -> Option<Direct> {
        if method != Method::POST {
            return None;
        }
        match path {
            "/v1/decide" => Some(Direct::Decide),
            "/v1/decide/batch" => Some(Direct::Batch),
            _ => None,
        }
    }
}

/// The HTTP service of one worker: decisions answered directly, the rest by the router.
/// Cloned for each connection; what it holds is the worker's own (its reference count is
/// touched by one thread only), so a request does not bounce a cache line between cores.
#[derive(Clone)]
pub struct Front(Arc<Worker>);

struct Worker {
    state: Arc<State>,
    limits: Limits,
    router: TowerToHyperService<Router>,
}

impl Front {
    /// `router` is the guarded router ([`guarded`]).
    pub fn new(state: Arc<State>, limits: Limits, router: Router) -> Front {
        Front(Arc::new(Worker { state, limits, router: TowerToHyperService::new(router) }))
    }

    /// The same service with a reference count of its own, for another worker.
    pub fn for_another_worker(&self) -> Front {
        let Worker { state, limits, router } = &*self.0;
        Front(Arc::new(Worker { state: state.clone(), limits: *limits, router: router.clone() }))
    }
}

type Answer = Pin<Box<dyn Future<Output = Response> + Send>>;

impl hyper::service::Service<hyper::Request<Incoming>> for Front {
    type Response = Response;
    type Error = Infallible;
    type Future = Caught;

    fn call(&self, request: hyper::Request<Incoming>) -> Caught {
        let answer: Answer = match Direct::of(request.method(), request.uri().path()) {
            Some(direct) => Box::pin(answer(self.0.clone(), direct, request)),
            None => {
                let routed = hyper::service::Service::call(&self.0.router, request);
                Box::pin(async move {
                    match routed.await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    }
                })
            }
        };
        Caught { answer, worker: self.0.clone() }
    }
}

/// A decision request read within the limits, and answered.
async fn answer(
    worker: Arc<Worker>,
    direct: Direct,
    request: hyper::Request<Incoming>,
) -> Response {
    let Worker { state, limits, .. } = &*worker;
    if let Some(refused) = declared_too_large(state, request.headers(), *limits) {
        return refused;
    }
    let (parts, body) = request.into_parts();
    let read = Limited::new(body, limits.body_limit).collect();
    let body = match tokio::time::timeout(limits.body_timeout, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return crate::http::too_large(state);
        }
        Ok(Err(e)) => return crate::http::unreadable_body(state, &e),
        Err(_) => return crate::http::unreadable_body(state, &TimedOut(limits.body_timeout)),
    };
    match direct {
        Direct::Decide => crate::http::decide_body(state, &parts.headers, &body).await,
        Direct::Batch => crate::http::batch_body(state, &parts.headers, &body).await,
    }
}

/// An answer whose handler may panic (a bug): the panic is answered 500, as the router's
/// `CatchPanicLayer` answers it, not with a dropped connection.
pub struct Caught {
    answer: Answer,
    worker: Arc<Worker>,
}

impl Future for Caught {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            this.answer.as_mut().poll(cx)
        }));
        match polled {
            Ok(Poll::Ready(response)) => Poll::Ready(Ok(response)),
            Ok(Poll::Pending) => Poll::Pending,
            // Answered: the future that panicked is never polled again.
            Err(_) => Poll::Ready(Ok(crate::http::internal_error(&this.worker.state.metrics))),
        }
    }
}

/// How the listeners of several workers share one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Share {
    /// One listener: the address is this socket's alone.
    No,
    /// `SO_REUSEPORT`: each worker's socket is bound to the address, and the kernel spreads
    /// new connections over them.
    Port,
}

/// The listeners of `workers` workers on `addr` (port 0: a free port, the same for all). On
/// Linux each has its own socket (`SO_REUSEPORT`); elsewhere they are one socket, shared.
/// One worker binds exactly as a plain listener does (no `SO_REUSEPORT`, so an address in use
/// is an error).
pub fn bind(
    addr: SocketAddr,
    workers: NonZeroUsize,
) -> std::io::Result<Vec<std::net::TcpListener>> {
    let share =
        if workers.get() > 1 && cfg!(target_os = "linux") { Share::Port } else { Share::No };
    let first = listen(addr, share)?;
    let addr = first.local_addr()?;
    let mut listeners = Vec::with_capacity(workers.get());
    for _ in 1..workers.get() {
        listeners.push(match share {
            Share::Port => listen(addr, share)?,
            Share::No => first.try_clone()?,
        });
    }
    listeners.insert(0, first);
    Ok(listeners)
}

fn listen(addr: SocketAddr, share: Share) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As tokio's and std's listeners: a restarted server can bind while old connections of
    // the address are in TIME_WAIT.
    socket.set_reuse_address(true)?;
    if share == Share::Port {
        reuse_port(&socket)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

#[cfg(target_os = "linux")]
fn reuse_port(socket: &socket2::Socket) -> std::io::Result<()> {
    socket.set_reuse_port(true)
}

#[cfg(not(target_os = "linux"))]
fn reuse_port(_: &socket2::Socket) -> std::io::Result<()> {
    Ok(())
}

/// One worker: a thread with a single-threaded runtime, serving `listener` until `stop`
/// turns true (or its sender is gone), then draining for at most `grace`.
pub struct WorkerThread {
    /// Sends whether the worker started (its runtime built, its listener registered).
    pub started: tokio::sync::oneshot::Receiver<Result<(), String>>,
    /// Sends whether the grace period ran out, once the worker has stopped and dropped every
    /// connection it had.
    pub done: tokio::sync::oneshot::Receiver<bool>,
}

/// Starts worker `index`.
pub fn spawn(
    index: usize,
    listener: std::net::TcpListener,
    front: Front,
    mut stop: tokio::sync::watch::Receiver<bool>,
    grace: Duration,
) -> Result<WorkerThread, String> {
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let (done_tx, done) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(format!("writ-worker-{index}"))
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = started_tx.send(Err(format!("cannot start worker {index}: {e}")));
                    return;
                }
            };
            let cut_short = runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(e) => {
                        let _ = started_tx.send(Err(format!("cannot start worker {index}: {e}")));
                        return false;
                    }
                };
                let _ = started_tx.send(Ok(()));
                let stopped = async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                };
                serve(listener, front, index, stopped, grace).await
            });
            // Connections cut short by the grace period are dropped here, before the worker
            // says it is done: nothing of it runs once the server flushes the log.
            drop(runtime);
            let _ = done_tx.send(cut_short);
        })
        .map_err(|e| format!("cannot start worker {index}: {e}"))?;
    Ok(WorkerThread { started, done })
}

/// Accepts connections and serves `front` on them until `shutdown` completes; then stops
/// accepting, and lets the connections finish their requests in flight (idle ones are closed)
/// for at most `grace`. Whether the grace period ran out.
pub async fn serve(
    listener: tokio::net::TcpListener,
    front: Front,
    worker: usize,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> bool {
    let limits = front.0.limits;
    let metrics = front.0.state.metrics.clone();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    metrics.connection(worker);
                    let _ = tcp.set_nodelay(true);
                    let connection = builder.serve_connection(TokioIo::new(tcp), front.clone());
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        // A connection's errors (a reset, a timeout, a malformed head) end it
                        // and concern no one else.
                        let _ = connection.await;
                    });
                }
                Err(e) => {
                    // Out of file descriptors, say: wait instead of spinning. A connection
                    // reset before it was accepted concerns only that connection.
                    if !matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::ConnectionRefused
                    ) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::time::timeout(grace, graceful.shutdown()).await.is_err()
}
