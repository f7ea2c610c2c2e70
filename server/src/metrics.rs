//! Prometheus metrics (OpenMetrics text at `GET /metrics`).
//!
//! Every series is created when the server starts, so a scrape shows zeros rather than
//! missing series, and the hot path only touches atomics it already holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;
use writ_evaluator::Outcome;

type Labels = Vec<(&'static str, &'static str)>;

/// What went wrong, as the `kind` label of `writ_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A body that is not a request (400), per request (a batch counts each bad element).
    BadRequest,
    /// A body over the size limit (413).
    TooLarge,
    /// No endpoint at that path (404) or not with that method (405).
    NotFound,
    /// A decision asked for while no policy is loaded (503).
    NoPolicy,
    /// A decision that could not be written to the decision log.
    DecisionLog,
    /// A handler that panicked (500; a bug, never input).
    Internal,
    /// The history store failed (Redis unreachable, say): the call was denied.
    HistoryStore,
}

impl ErrorKind {
    const ALL: [ErrorKind; 7] = [
        ErrorKind::BadRequest,
        ErrorKind::TooLarge,
        ErrorKind::NotFound,
        ErrorKind::NoPolicy,
        ErrorKind::DecisionLog,
        ErrorKind::Internal,
        ErrorKind::HistoryStore,
    ];

    fn label(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::NotFound => "not_found",
            ErrorKind::NoPolicy => "no_policy",
            ErrorKind::DecisionLog => "decision_log",
            ErrorKind::Internal => "internal",
            ErrorKind::HistoryStore => "history_store",
        }
    }
}

/// What a fetch of `--bundle-url` did, as the `outcome` label of `writ_bundle_fetches_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fetch {
    /// A new bundle was verified and is served.
    Updated,
    /// `304 Not Modified`, or the bytes of the bundle served: nothing verified or reloaded.
    Unchanged,
    /// No bundle: the server could not be reached, answered an error, timed out, or sent a
    /// body over the limit.
    Failed,
    /// A bundle that does not verify, is below the minimum version, or would roll back.
    Refused,
}

impl Fetch {
    const ALL: [Fetch; 4] = [Fetch::Updated, Fetch::Unchanged, Fetch::Failed, Fetch::Refused];

    pub fn label(self) -> &'static str {
        match self {
            Fetch::Updated => "updated",
            Fetch::Unchanged => "unchanged",
            Fetch::Failed => "failed",
            Fetch::Refused => "refused",
        }
    }
}

/// The decision log shipper's counters (`--decision-log-url`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ship {
    /// Batches the collector accepted.
    Sent,
    /// Attempts that failed and were tried again.
    Retried,
    /// Lines written to the spill file.
    Spilled,
    /// Lines lost (only when the spill file cannot be written).
    Dropped,
}

impl Ship {
    const ALL: [Ship; 4] = [Ship::Sent, Ship::Retried, Ship::Spilled, Ship::Dropped];
}

/// The endpoints whose latency is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Decide,
    Batch,
    Tools,
    /// Envoy's ext_authz `Check` (`writ serve --grpc`).
    Envoy,
}

/// Latency bucket bounds: 5 µs doubling to 40.96 ms, in nanoseconds (then +Inf).
const BOUNDS_NS: [u64; 14] = [
    5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 640_000, 1_280_000, 2_560_000,
    5_120_000, 10_240_000, 20_480_000, 40_960_000,
];

/// A latency histogram on plain atomics. (`prometheus_client`'s takes a lock for every
/// observation, which two worker threads answering tens of thousands of requests a second
/// contend on.) A scrape reads each bucket once and derives the count from them, so the
/// count always equals the +Inf bucket.
#[derive(Clone, Debug, Default)]
struct Latency(Arc<LatencyInner>);

#[derive(Debug, Default)]
struct LatencyInner {
    /// Per bucket (not cumulative); the last is +Inf.
    buckets: [AtomicU64; BOUNDS_NS.len() + 1],
    sum_ns: AtomicU64,
}

impl Latency {
    fn observe(&self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        // The first bucket whose bound is at least `ns`, else the last (+Inf) bucket.
        let bucket = BOUNDS_NS.iter().position(|&bound| ns <= bound);
        let counter = bucket.and_then(|b| self.0.buckets.get(b)).or(self.0.buckets.last());
        if let Some(counter) = counter {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.0.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

impl TypedMetric for Latency {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Latency {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let buckets: Vec<(f64, u64)> = self
            .0
            .buckets
            .iter()
            .enumerate()
            .map(|(i, count)| {
                // The encoder writes f64::MAX as +Inf.
                let bound = BOUNDS_NS.get(i).map_or(f64::MAX, |&ns| ns as f64 / 1e9);
                (bound, count.load(Ordering::Relaxed))
            })
            .collect();
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = self.0.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

pub struct Metrics {
    registry: Registry,
    allow: Counter,
    deny: Counter,
    pending: Counter,
    decide_latency: Latency,
    batch_latency: Latency,
    tools_latency: Latency,
    envoy_latency: Latency,
    reload_ok: Counter,
    reload_failed: Counter,
    errors: [Counter; ErrorKind::ALL.len()],
    loaded: Gauge,
    loaded_at: Gauge<f64, AtomicU64>,
    fetches: [Counter; Fetch::ALL.len()],
    shipped: [Counter; Ship::ALL.len()],
    ship_queue: Gauge,
    /// Connections accepted, per worker.
    connections: Vec<Counter>,
}

impl Metrics {
    /// The metrics of a server with one worker.
    pub fn new() -> Metrics {
        Metrics::with_workers(1)
    }

    /// The metrics of a server with `workers` workers (`writ_connections_total` has one series
    /// per worker).
    pub fn with_workers(workers: usize) -> Metrics {
        let mut registry = Registry::default();

        let decisions = Family::<Labels, Counter>::default();
        registry.register("writ_decisions", "Decisions made, by outcome", decisions.clone());
        let outcome = |o: &'static str| decisions.get_or_create(&vec![("outcome", o)]).clone();
        let (allow, deny, pending) = (outcome("allow"), outcome("deny"), outcome("pending"));

        // 5 µs to 40 ms.
        let latency = Family::<Labels, Latency>::default();
        registry.register(
            "writ_request_duration_seconds",
            "Time to answer a decision, batch, tools or Envoy check request, from its body read to its \
             answer (decision logging included)",
            latency.clone(),
        );
        let endpoint = |e: &'static str| latency.get_or_create(&vec![("endpoint", e)]).clone();
        let (decide_latency, batch_latency, tools_latency, envoy_latency) =
            (endpoint("decide"), endpoint("batch"), endpoint("tools"), endpoint("envoy_check"));

        let reloads = Family::<Labels, Counter>::default();
        registry.register(
            "writ_reloads",
            "Policy reloads, by result (a failed reload keeps the previous policy)",
            reloads.clone(),
        );
        let reload_ok = reloads.get_or_create(&vec![("result", "ok")]).clone();
        let reload_failed = reloads.get_or_create(&vec![("result", "failed")]).clone();

        let error_family = Family::<Labels, Counter>::default();
        registry.register(
            "writ_errors",
            "Requests answered with an error, and decisions the log could not record, by kind",
            error_family.clone(),
        );
        let errors =
            ErrorKind::ALL.map(|k| error_family.get_or_create(&vec![("kind", k.label())]).clone());

        let loaded = Gauge::default();
        registry.register(
            "writ_policy_loaded",
            "1 when a policy is loaded and serving",
            loaded.clone(),
        );
        let loaded_at = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "writ_policy_loaded_timestamp_seconds",
            "When the policy being served was loaded (Unix time)",
            loaded_at.clone(),
        );

        let fetch_family = Family::<Labels, Counter>::default();
        registry.register(
            "writ_bundle_fetches",
            "Fetches of the bundle URL (--bundle-url), by outcome",
            fetch_family.clone(),
        );
        let fetches =
            Fetch::ALL.map(|f| fetch_family.get_or_create(&vec![("outcome", f.label())]).clone());

        let batches = Counter::default();
        registry.register(
            "writ_decision_log_batches_sent",
            "Batches of decision log lines the collector (--decision-log-url) accepted",
            batches.clone(),
        );
        let retried = Counter::default();
        registry.register(
            "writ_decision_log_batches_retried",
            "Attempts to ship a batch of decision log lines that failed and were retried",
            retried.clone(),
        );
        let spilled = Counter::default();
        registry.register(
            "writ_decision_log_lines_spilled",
            "Decision log lines written to the spill file (--decision-log-spill) because the \
             queue to the collector was full or the server was stopping",
            spilled.clone(),
        );
        let dropped = Counter::default();
        registry.register(
            "writ_decision_log_lines_dropped",
            "Decision log lines lost: neither shipped nor spilled (no spill file at shutdown, or it \
             could not be written)",
            dropped.clone(),
        );
        let ship_queue = Gauge::default();
        registry.register(
            "writ_decision_log_queue_depth",
            "Decision log lines waiting to be shipped to the collector",
            ship_queue.clone(),
        );

        let connection_family = Family::<Vec<(&'static str, String)>, Counter>::default();
        registry.register(
            "writ_connections",
            "Connections accepted, by worker (`writ serve --workers`)",
            connection_family.clone(),
        );
        let connections = (0..workers.max(1))
            .map(|w| connection_family.get_or_create(&vec![("worker", w.to_string())]).clone())
            .collect();

        Metrics {
            connections,
            fetches,
            shipped: [batches, retried, spilled, dropped],
            ship_queue,
            registry,
            allow,
            deny,
            pending,
            decide_latency,
            batch_latency,
            tools_latency,
            envoy_latency,
            reload_ok,
            reload_failed,
            errors,
            loaded,
            loaded_at,
        }
    }

    pub fn decision(&self, outcome: Outcome) {
        match outcome {
            Outcome::Allow => self.allow.inc(),
            Outcome::Deny => self.deny.inc(),
            Outcome::Pending => self.pending.inc(),
        };
    }

    pub fn latency(&self, endpoint: Endpoint, elapsed: Duration) {
        let histogram = match endpoint {
            Endpoint::Decide => &self.decide_latency,
            Endpoint::Batch => &self.batch_latency,
            Endpoint::Tools => &self.tools_latency,
            Endpoint::Envoy => &self.envoy_latency,
        };
        histogram.observe(elapsed);
    }

    /// Worker `worker` accepted a connection.
    pub fn connection(&self, worker: usize) {
        if let Some(counter) = self.connections.get(worker) {
            counter.inc();
        }
    }

    pub fn error(&self, kind: ErrorKind) {
        let index = ErrorKind::ALL.iter().position(|k| *k == kind);
        if let Some(counter) = index.and_then(|i| self.errors.get(i)) {
            counter.inc();
        }
    }

    pub fn reload(&self, ok: bool) {
        if ok {
            self.reload_ok.inc()
        } else {
            self.reload_failed.inc()
        };
    }

    pub fn reloads(&self) -> (u64, u64) {
        (self.reload_ok.get(), self.reload_failed.get())
    }

    /// A policy is being served, loaded at `unix_seconds`.
    pub fn loaded(&self, unix_seconds: f64) {
        self.loaded.set(1);
        self.loaded_at.set(unix_seconds);
    }

    pub fn fetch(&self, outcome: Fetch) {
        let index = Fetch::ALL.iter().position(|f| *f == outcome);
        if let Some(counter) = index.and_then(|i| self.fetches.get(i)) {
            counter.inc();
        }
    }

    /// The fetches counted, by outcome (`updated`, `unchanged`, `failed`, `refused`).
    pub fn fetches(&self) -> [(&'static str, u64); 4] {
        Fetch::ALL.map(|f| {
            let index = Fetch::ALL.iter().position(|g| *g == f);
            (f.label(), index.and_then(|i| self.fetches.get(i)).map_or(0, Counter::get))
        })
    }

    pub fn ship(&self, what: Ship, n: u64) {
        let index = Ship::ALL.iter().position(|s| *s == what);
        if let Some(counter) = index.and_then(|i| self.shipped.get(i)) {
            counter.inc_by(n);
        }
    }

    pub fn shipped(&self, what: Ship) -> u64 {
        let index = Ship::ALL.iter().position(|s| *s == what);
        index.and_then(|i| self.shipped.get(i)).map_or(0, Counter::get)
    }

    pub fn ship_queue(&self, depth: usize) {
        self.ship_queue.set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_exists_from_the_start() {
        let metrics = Metrics::new();
        metrics.decision(Outcome::Pending);
        metrics.error(ErrorKind::TooLarge);
        let text = metrics.encode();
        for line in [
            "writ_decisions_total{outcome=\"allow\"} 0",
            "writ_decisions_total{outcome=\"pending\"} 1",
            "writ_reloads_total{result=\"failed\"} 0",
            "writ_errors_total{kind=\"too_large\"} 1",
            "writ_errors_total{kind=\"internal\"} 0",
            "writ_policy_loaded 0",
            "writ_request_duration_seconds_count{endpoint=\"decide\"} 0",
            "writ_request_duration_seconds_bucket{le=\"0.000005\",endpoint=\"batch\"} 0",
            "writ_request_duration_seconds_bucket{le=\"0.04096\",endpoint=\"batch\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn latencies_fall_in_cumulative_buckets() {
        let metrics = Metrics::new();
        for micros in [3, 5, 7, 1_000_000] {
            metrics.latency(Endpoint::Tools, Duration::from_micros(micros));
        }
        let text = metrics.encode();
        for line in [
            "writ_request_duration_seconds_bucket{le=\"0.000005\",endpoint=\"tools\"} 2",
            "writ_request_duration_seconds_bucket{le=\"0.00001\",endpoint=\"tools\"} 3",
            "writ_request_duration_seconds_bucket{le=\"0.04096\",endpoint=\"tools\"} 3",
            "writ_request_duration_seconds_bucket{le=\"+Inf\",endpoint=\"tools\"} 4",
            "writ_request_duration_seconds_count{endpoint=\"tools\"} 4",
            "writ_request_duration_seconds_sum{endpoint=\"tools\"} 1.000015",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
        }
    }
}
