//! The writ decision server (`writ serve`): decisions over HTTP for gateways.
//!
//! ```text
//!               ┌──────────── SIGHUP, file changes (debounced) ─────────────┐
//!               ▼                                                           │
//! Source::load (compile or verify, on a blocking thread) ──ok──▶ ArcSwap<Loaded> ◀── handlers
//!               └──error──▶ /v1/status, stderr; the old policy keeps serving     │
//!                                                                                ▼
//!                      decision log thread ◀── bounded channel ◀── one line per decision
//! ```
//!
//! - HTTP is served by `--workers` threads, each with a single-threaded runtime and its own
//!   listener on the address (`SO_REUSEPORT`), all on one `State` (`conn`); decisions are
//!   answered by a bare hyper service, the rest by the axum router (`http`).
//! - Every request reads the policy once (`ArcSwap::load`), so a reload replaces the policy
//!   atomically between decisions and a batch is decided by one policy.
//! - A handler renders its decision's log line and queues it before it answers, and shutdown
//!   (SIGTERM, SIGINT) stops every worker accepting connections, lets requests in flight
//!   finish, then, once the last worker has stopped, drains and flushes the log: every answered
//!   decision is logged.
//! - Bad input is a 4xx naming the field, never a 5xx and never a panic; a panic (a bug) is
//!   caught and answered 500, which a gateway treats as deny like every non-decision.
//! - A client cannot hold a connection: a request's head and its body each have a deadline,
//!   and a body declared too large is answered 413 before it is read (`conn`).
//! - A reload loads only files that read the same twice in a row, and never a bundle of a
//!   lower version than the one served (`source`).
//!
//! - `--bundle-url`: a poll is a reload whose bytes come from HTTP (`remote.rs`) or from an
//!   OCI registry (`oci.rs`, `oci://`): the same verification and rollback check; `304`s (an
//!   unchanged manifest digest) and failures keep the bundle served.
//! - `--decision-log-url`: the log writer also hands each line to the shipper (`ship.rs`),
//!   which POSTs them in order, in gzip batches, spilling to a file when its queue is full.
//!
//! - Requests that name their run (the `writ-run` header) are bound to it: a start admits the
//!   run, a call is decided on the run's history and recorded atomically per run, in memory or
//!   in Redis (`runs.rs`, `history/`).
//!
//! Endpoints and semantics: `docs/server.md`.

#![forbid(unsafe_code)]

mod backoff;
mod conn;
mod declog;
pub mod envoy;
mod evidence;
mod history;
mod http;
mod id;
mod metrics;
pub mod oci;
mod playground;
mod remote;
mod runs;
mod ship;
mod source;
mod state;
mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

pub use declog::{CheckpointConfig, LogTarget};
pub use envoy::{Claims, EnvoyConfig, KindFrom};
pub use evidence::SignedOnly;
pub use history::{DEFAULT_MAX_RUNS, DEFAULT_PREFIX, HistoryConfig};
pub use http::DECISION_ID;
pub use runs::RUN_HEADER;
pub use ship::ShipConfig;
pub use source::{
    DEFAULT_FETCH_TIMEOUT, DEFAULT_MAX_BUNDLE_BYTES, DEFAULT_POLL, Loaded, Remote, Source,
};
pub use state::Reloaded;
pub use writ_evaluator::log::Mode;

use crate::metrics::Metrics;
use crate::state::State;

/// The default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// The default time a client has to send a request's head: 10 s.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time a client has to send a request's body, once its head is in: 30 s.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// How a server runs.
#[derive(Clone, Debug)]
pub struct Config {
    pub source: Source,
    /// Port 0 picks a free port (see [`Server::local_addr`]).
    pub addr: SocketAddr,
    pub decision_log: Option<LogTarget>,
    /// Also ship the decision log's lines to a collector (`--decision-log-url`).
    pub ship: Option<ShipConfig>,
    /// Request fields masked in every decision log line (`--log-mask`).
    pub log_mask: writ_evaluator::log::Mask,
    /// Larger request bodies are answered 413 (at once when their `Content-Length` says so).
    pub body_limit: usize,
    /// How long a connection may take to send a request's head (from its opening, or from the
    /// previous answer on a kept-alive connection) before it is closed.
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive, once its head is in, before the request
    /// is answered 400 and its connection closed.
    pub body_timeout: Duration,
    /// Reload when the policy files, the bundle or the verification key change.
    pub watch: bool,
    /// Refuse to start when the policy does not load (otherwise start unready: `/v1/health`
    /// answers 503 and decisions 503 until a reload succeeds).
    pub require_policy: bool,
    /// After a shutdown signal, how long requests in flight may take before their connections
    /// are dropped.
    pub grace: Duration,
    /// Enforce decisions, or answer allow and log what was decided (shadow mode).
    pub mode: Mode,
    /// Where runs named by the `writ-run` header are kept.
    pub history: HistoryConfig,
    /// Whether a request key the schema does not have is ignored or answered 400 (`--strict`).
    pub unknown_keys: writ_evaluator::UnknownKeys,
    /// The trust file (`--trust`): with it, `/v1/evidence` takes signed statements and
    /// `/v1/decide` adds the held ones for the request's subject (`docs/evidence.md`). They
    /// are held where runs are (memory, or the same Redis).
    pub trust: Option<writ_evaluator::statement::Trust>,
    /// With a trust file, drop the evidence items a request carries itself, so that only
    /// signed statements count (`--signed-evidence-only`).
    pub signed_evidence_only: SignedOnly,
    /// Sign a checkpoint of the decision log file periodically (`--checkpoint-every`).
    pub checkpoint: Option<CheckpointConfig>,
    /// Also serve Envoy's ext_authz over gRPC (`--grpc ADDR`; `docs/envoy.md`).
    pub envoy: Option<EnvoyConfig>,
    /// Serve the playground page and its endpoints (`--playground`; `docs/playground.md`).
    pub playground: bool,
    /// How many workers serve HTTP (`--workers`): each a thread with a single-threaded runtime
    /// and its own listener on `addr` (`SO_REUSEPORT` on Linux), all sharing one state.
    pub workers: NonZeroUsize,
}

impl Config {
    pub fn new(source: Source, addr: SocketAddr) -> Config {
        Config {
            source,
            addr,
            decision_log: None,
            ship: None,
            log_mask: writ_evaluator::log::Mask::default(),
            body_limit: DEFAULT_BODY_LIMIT,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            watch: true,
            require_policy: true,
            grace: Duration::from_secs(30),
            mode: Mode::Enforce,
            history: HistoryConfig::default(),
            unknown_keys: writ_evaluator::UnknownKeys::Ignore,
            trust: None,
            signed_evidence_only: SignedOnly::No,
            checkpoint: None,
            envoy: None,
            playground: false,
            workers: NonZeroUsize::MIN,
        }
    }
}

/// A server bound to its address with its first policy loaded (or not, see
/// [`Config::require_policy`]), not yet serving.
pub struct Server {
    config: Config,
    state: Arc<State>,
    /// One per worker, on the same address (the first's).
    listeners: Vec<std::net::TcpListener>,
    /// The gRPC listener of `--grpc`.
    grpc: Option<tokio::net::TcpListener>,
    writer: Option<declog::LogWriter>,
}

/// Controls a running server from outside its handlers.
#[derive(Clone)]
pub struct Handle {
    state: Arc<State>,
}

impl Handle {
    /// Loads the policy again, as SIGHUP does.
    pub async fn reload(&self, why: &str) -> Reloaded {
        self.state.reload(why).await
    }

    /// The `/v1/status` document.
    pub fn status(&self) -> serde_json::Value {
        self.state.status()
    }
}

/// Why a server could not start or stopped badly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The policy did not compile, or the bundle did not verify.
    Policy(String),
    /// The address, the decision log, the runtime.
    Io(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Policy(message) | Error::Io(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

/// What a server did, when it stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Lines written to the decision log (0 without one).
    pub logged: u64,
    /// Whether the grace period ran out with requests still in flight.
    pub cut_short: bool,
}

impl Server {
    /// Loads the policy, opens the decision log, and binds the address.
    pub async fn start(config: Config) -> Result<Server, Error> {
        let metrics = Arc::new(Metrics::with_workers(config.workers.get()));
        // Before the log is opened: a store that cannot be reached stops the start.
        let store = history::Store::open(&config.history).await.map_err(Error::Io)?;
        let evidence = config.trust.clone().map(|trust| match &store {
            history::Store::Redis(redis) => {
                let (connection, prefix) = redis.connection();
                evidence::Evidence::in_redis(trust, connection, prefix)
            }
            history::Store::Memory(_) => evidence::Evidence::in_memory(trust),
        });
        let runs = runs::Runs::new(store, config.mode, config.history.clone());
        let (log, writer, shipping) = if config.decision_log.is_some() || config.ship.is_some() {
            let (sender, writer, shipping) = declog::start(
                config.decision_log.as_ref(),
                config.ship.as_ref(),
                config.mode,
                metrics.clone(),
                config.checkpoint.clone(),
                config.grace,
                config.log_mask.clone(),
            )
            .map_err(Error::Io)?;
            (Some(sender), Some(writer), shipping)
        } else {
            (None, None, None)
        };
        let mut state =
            State::new(config.source.clone(), metrics, log, config.decision_log.clone(), runs);
        state.unknown_keys = config.unknown_keys;
        state.evidence = evidence;
        state.signed_evidence_only = config.signed_evidence_only;
        state.shipping = shipping;
        state.workers = config.workers.get();
        let state = Arc::new(state);
        // The first load: a bundle URL is fetched (the same path as every poll), anything else
        // read from its files.
        let first = if state.poller.is_some() {
            match state.reload("start").await {
                Reloaded::Failed(message) => Err(message),
                Reloaded::Ok(_) | Reloaded::Unchanged(_) => Ok(()),
            }
        } else {
            let source = config.source.clone();
            let first = tokio::task::spawn_blocking(move || source.load())
                .await
                .unwrap_or_else(|_| Err("loading the policy panicked".to_string()));
            match first {
                Ok(loaded) => {
                    state.install(Ok(loaded), "start");
                    Ok(())
                }
                Err(message) if !config.require_policy => {
                    state.install(Err(message.clone()), "start");
                    Err(message)
                }
                Err(message) => Err(message),
            }
        };
        if let Err(message) = first
            && config.require_policy
        {
            if let Some(writer) = writer {
                let _ = writer.close().await;
            }
            return Err(Error::Policy(message));
        }
        let listeners = match conn::bind(config.addr, config.workers) {
            Ok(listeners) => listeners,
            Err(e) => {
                if let Some(writer) = writer {
                    let _ = writer.close().await;
                }
                return Err(Error::Io(format!("cannot listen on `{}`: {e}", config.addr)));
            }
        };
        let grpc = match &config.envoy {
            None => None,
            Some(envoy) => match tokio::net::TcpListener::bind(envoy.addr).await {
                Ok(listener) => Some(listener),
                Err(e) => {
                    if let Some(writer) = writer {
                        let _ = writer.close().await;
                    }
                    return Err(Error::Io(format!("cannot listen on `{}`: {e}", envoy.addr)));
                }
            },
        };
        Ok(Server { config, state, listeners, grpc, writer })
    }

    pub fn local_addr(&self) -> SocketAddr {
        let bound = self.listeners.first().and_then(|l| l.local_addr().ok());
        bound.unwrap_or(self.config.addr)
    }

    /// The address of the gRPC listener (`--grpc`), if there is one.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn handle(&self) -> Handle {
        Handle { state: self.state.clone() }
    }

    /// Serves until `shutdown` completes, then stops accepting, lets requests in flight finish
    /// (within the grace period), and flushes the decision log.
    ///
    /// HTTP is served by the workers (`Config::workers`), each on a thread of its own; the
    /// caller's runtime keeps the rest: the gRPC server, the file watcher, the bundle poller,
    /// the log shipper. Shutdown stops every worker at once; the log is flushed once, after the
    /// last worker has drained and dropped its connections.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Summary, Error> {
        let Server { config, state, listeners, grpc, writer } = self;
        let watcher = if config.watch { watch::start(state.clone()) } else { None };
        // `--bundle-url`: poll (the first fetch was at start).
        let poller = state.poller.is_some().then(|| {
            let state = state.clone();
            tokio::spawn(async move {
                loop {
                    let wait =
                        state.poller.as_ref().map_or(source::DEFAULT_POLL, |p| p.next_poll());
                    tokio::time::sleep(wait).await;
                    state.reload("poll").await;
                }
            })
        });
        let limits = conn::Limits {
            header_timeout: config.header_timeout,
            body_timeout: config.body_timeout,
            body_limit: config.body_limit,
        };
        // One shutdown for the workers and the gRPC listener.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let grpc = match (grpc, &config.envoy) {
            (Some(listener), Some(envoy)) => {
                let service = envoy::service(state.clone(), envoy.clone(), config.body_limit);
                let mut stopped = stopped.clone();
                let signal = async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                };
                let server = tonic::transport::Server::builder()
                    .timeout(config.body_timeout)
                    .add_service(service)
                    .serve_with_incoming_shutdown(
                        tonic::transport::server::TcpIncoming::from(listener),
                        signal,
                    );
                Some(tokio::spawn(server))
            }
            _ => None,
        };
        let router = conn::guarded(
            http::router(state.clone(), config.body_limit, config.playground),
            state.clone(),
            limits,
        );
        let front = conn::Front::new(state, limits, router);
        let mut workers = Vec::with_capacity(listeners.len());
        let mut failed = None;
        for (index, listener) in listeners.into_iter().enumerate() {
            let front = front.for_another_worker();
            match conn::spawn(index, listener, front, stopped.clone(), config.grace) {
                Ok(worker) => workers.push(worker),
                Err(message) => {
                    failed = Some(message);
                    break;
                }
            }
        }
        drop(front);
        let mut done = Vec::with_capacity(workers.len());
        for worker in workers {
            match worker.started.await {
                Ok(Ok(())) => {}
                Ok(Err(message)) => failed = failed.or(Some(message)),
                Err(_) => failed = failed.or(Some("a worker stopped as it started".to_string())),
            }
            done.push(worker.done);
        }
        if failed.is_none() {
            shutdown.await;
        }
        let _ = stop.send(true);
        let mut cut_short = false;
        for worker in done {
            match worker.await {
                Ok(cut) => cut_short |= cut,
                Err(_) => {
                    // Its thread ended without saying so: a panic outside any request.
                    failed = failed.or(Some("a worker stopped unexpectedly".to_string()));
                }
            }
        }
        if let Some(grpc) = grpc {
            // Checks in flight finish within the grace period, then are dropped.
            match tokio::time::timeout(config.grace, grpc).await {
                Ok(Ok(Ok(()))) | Err(_) => {}
                Ok(Ok(Err(e))) => eprintln!("writ serve: the gRPC server stopped: {e}"),
                Ok(Err(_)) => eprintln!("writ serve: the gRPC server stopped unexpectedly"),
            }
        }
        drop(watcher);
        if let Some(poller) = poller {
            poller.abort();
        }
        let logged = match writer {
            Some(writer) => writer.close().await.map_err(Error::Io)?,
            None => 0,
        };
        if let Some(message) = failed {
            return Err(Error::Io(message));
        }
        Ok(Summary { logged, cut_short })
    }
}

/// `writ serve`: runs a server until SIGTERM or SIGINT, reloading on SIGHUP. Progress and
/// errors go to standard error (standard output may be the decision log).
pub fn run(config: Config) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let listen =
            |kind, name| signal(kind).map_err(|e| Error::Io(format!("cannot handle {name}: {e}")));
        let mut hangup = listen(SignalKind::hangup(), "SIGHUP")?;
        let mut terminate = listen(SignalKind::terminate(), "SIGTERM")?;
        let mut interrupt = listen(SignalKind::interrupt(), "SIGINT")?;

        let playground = config.playground;
        let server = Server::start(config).await?;
        let handle = server.handle();
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                handle.reload("SIGHUP").await;
            }
        });
        eprintln!("writ serve: listening on http://{}", server.local_addr());
        if playground {
            eprintln!("writ serve: the playground is on http://{}/playground", server.local_addr());
        }
        if let Some(addr) = server.grpc_addr() {
            eprintln!("writ serve: Envoy ext_authz (gRPC) on {addr}");
        }
        let shutdown = async move {
            let name = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            };
            eprintln!("writ serve: {name}: finishing requests in flight");
        };
        let summary = server.serve(shutdown).await?;
        if summary.cut_short {
            eprintln!(
                "writ serve: the grace period ran out; requests still in flight were dropped"
            );
        }
        eprintln!("writ serve: stopped ({} decisions logged)", summary.logged);
        Ok(())
    })
}
