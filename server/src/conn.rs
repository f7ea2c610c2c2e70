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

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State as Extract};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

use crate::metrics::ErrorKind;
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
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.body_limit as u64) {
        state.metrics.error(ErrorKind::TooLarge);
        let mut response =
            crate::http::error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large", Some(""));
        // The body is never read, so the connection cannot carry another request.
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    let deadline = limits.body_timeout;
    next.run(request.map(|body| Body::new(Deadline::new(body, deadline)))).await
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

/// Accepts connections and serves `router` on them until `shutdown` completes; then stops
/// accepting, and lets the connections finish their requests in flight (idle ones are closed)
/// for at most `grace`. Whether the grace period ran out.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> bool {
    let service = TowerToHyperService::new(router);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    let _ = tcp.set_nodelay(true);
                    let connection = builder.serve_connection(TokioIo::new(tcp), service.clone());
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
