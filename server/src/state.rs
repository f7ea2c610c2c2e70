//! What every handler shares: the policy being served (swapped atomically on reload), the
//! reload status, metrics and the decision log's sender.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use serde_json::{Value as Json, json};
use writ_evaluator::log::rfc3339_millis;

use crate::declog::{LogSender, LogTarget};
use crate::metrics::Metrics;
use crate::runs::Runs;
use crate::source::{Loaded, Source};

/// A failed load, kept for `/v1/status`.
#[derive(Clone, Debug)]
pub struct LoadError {
    pub at: SystemTime,
    pub message: String,
}

pub struct State {
    pub source: Source,
    pub policy: ArcSwapOption<Loaded>,
    /// The error of the latest load attempt, if it failed (cleared by a load that succeeds).
    pub last_error: Mutex<Option<LoadError>>,
    pub metrics: Arc<Metrics>,
    pub log: Option<LogSender>,
    pub log_target: Option<LogTarget>,
    pub started_at: SystemTime,
    /// One reload at a time.
    pub reloading: tokio::sync::Mutex<()>,
    /// Admitted runs and their history; the mode.
    pub runs: Runs,
    /// Whether a request key the schema does not have is ignored or an error (`--strict`).
    pub unknown_keys: writ_evaluator::UnknownKeys,
    /// With `--trust`: the trust file and the statements held.
    pub evidence: Option<crate::evidence::Evidence>,
    /// Whether a request's own evidence items are dropped (only statements count).
    pub signed_evidence_only: crate::evidence::SignedOnly,
    /// With `--bundle-url`: the fetches' client and state.
    pub poller: Option<crate::remote::Poller>,
    /// With `--decision-log-url`: the shipper's counters for `/v1/status`.
    pub shipping: Option<Arc<crate::ship::Shipping>>,
    /// How many workers serve HTTP (`--workers`), all on this one state.
    pub workers: usize,
}

/// What a reload did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reloaded {
    /// A policy with this hash is now served.
    Ok(String),
    /// The previous policy (if any) keeps serving.
    Failed(String),
    /// The bundle URL answered `304 Not Modified`, or sent the bundle served: nothing was
    /// verified or reloaded. The hash of the policy served.
    Unchanged(String),
}

impl State {
    pub fn new(
        source: Source,
        metrics: Arc<Metrics>,
        log: Option<LogSender>,
        log_target: Option<LogTarget>,
        runs: Runs,
    ) -> State {
        let poller = match &source {
            Source::Url(remote) => Some(crate::remote::Poller::new(remote)),
            _ => None,
        };
        State {
            source,
            policy: ArcSwapOption::empty(),
            last_error: Mutex::new(None),
            metrics,
            log,
            log_target,
            started_at: SystemTime::now(),
            reloading: tokio::sync::Mutex::new(()),
            runs,
            unknown_keys: writ_evaluator::UnknownKeys::Ignore,
            evidence: None,
            signed_evidence_only: crate::evidence::SignedOnly::No,
            poller,
            shipping: None,
            workers: 1,
        }
    }

    /// Loads the source again (compiling or verifying it on a blocking thread) and, if it
    /// loads and may replace the policy served ([`Source::admit`]: no bundle rollbacks), serves
    /// it from the next request on. A failure leaves the served policy alone and is reported on
    /// standard error and in `/v1/status`.
    pub async fn reload(self: &Arc<State>, why: &str) -> Reloaded {
        let _one = self.reloading.lock().await;
        if let Some(poller) = &self.poller {
            return self.poll(poller, why).await;
        }
        let source = self.source.clone();
        let result = tokio::task::spawn_blocking(move || source.load())
            .await
            .unwrap_or_else(|_| Err("loading the policy panicked".to_string()))
            .and_then(|next| self.source.admit(self.policy.load().as_deref(), next));
        self.install(result, why)
    }

    /// A reload of a bundle URL: fetch it; verify and admit what is new.
    async fn poll(self: &Arc<State>, poller: &crate::remote::Poller, why: &str) -> Reloaded {
        use crate::metrics::Fetch;
        use crate::remote::Fetched;
        let served = self.policy.load_full();
        let unchanged = |poller: &crate::remote::Poller| {
            poller.succeeded(None);
            self.metrics.fetch(Fetch::Unchanged);
            Reloaded::Unchanged(
                served.as_ref().map(|l| l.policy.hash().to_string()).unwrap_or_default(),
            )
        };
        let (bytes, etag) = match poller.fetch().await {
            Err(message) => {
                poller.failed(&message);
                self.metrics.fetch(Fetch::Failed);
                return self.install(Err(message), why);
            }
            Ok(Fetched::NotModified) if served.is_some() => return unchanged(poller),
            Ok(Fetched::NotModified) => {
                // Only the ETag of a bundle served is sent: a 304 without one is the server's
                // mistake, and there is nothing to serve.
                let message = format!(
                    "the bundle at `{}` answered 304 Not Modified, but no bundle is served",
                    self.source.origin()
                );
                poller.failed(&message);
                self.metrics.fetch(Fetch::Failed);
                return self.install(Err(message), why);
            }
            Ok(Fetched::Body { bytes, etag }) => (bytes, etag),
        };
        let digest = writ_evaluator::log::digest(&bytes);
        if served.is_some() && poller.is_served(&digest) {
            return unchanged(poller);
        }
        let source = self.source.clone();
        let result = tokio::task::spawn_blocking(move || source.verify(&bytes))
            .await
            .unwrap_or_else(|_| Err("verifying the bundle panicked".to_string()))
            .and_then(|next| self.source.admit(served.as_deref(), next));
        match &result {
            Ok(_) => {
                poller.succeeded(Some((etag, digest)));
                self.metrics.fetch(Fetch::Updated);
            }
            Err(message) => {
                poller.failed(message);
                self.metrics.fetch(Fetch::Refused);
            }
        }
        self.install(result, why)
    }

    /// Serves `result` if it is a policy; records the error otherwise.
    pub fn install(&self, result: Result<Loaded, String>, why: &str) -> Reloaded {
        match result {
            Ok(loaded) => {
                let hash = loaded.policy.hash().to_string();
                let unix = loaded.loaded_at.duration_since(UNIX_EPOCH).unwrap_or_default();
                if let Ok(mut last) = self.last_error.lock() {
                    *last = None;
                }
                self.policy.store(Some(Arc::new(loaded)));
                self.metrics.loaded(unix.as_secs_f64());
                self.metrics.reload(true);
                eprintln!("writ serve: loaded {} ({why})", hash);
                Reloaded::Ok(hash)
            }
            Err(message) => {
                // The error first, then the count: whoever sees the failed reload counted (as
                // `/v1/status` readers polling it do) also sees its error.
                if let Ok(mut last) = self.last_error.lock() {
                    *last = Some(LoadError { at: SystemTime::now(), message: message.clone() });
                }
                self.metrics.reload(false);
                let keeps = match self.policy.load().as_ref() {
                    Some(current) => format!("still serving {}", current.policy.hash()),
                    None => "no policy is loaded".to_string(),
                };
                eprintln!("writ serve: error: reload failed ({why}); {keeps}: {message}");
                Reloaded::Failed(message)
            }
        }
    }

    /// The body of `/v1/status`.
    pub fn status(&self) -> Json {
        let current = self.policy.load_full();
        let policy = current.as_ref().map(|loaded| {
            let mut policy = json!({
                "hash": loaded.policy.hash(),
                "loaded_at": rfc3339_millis(loaded.loaded_at),
            });
            if let (Some(version), Json::Object(map)) = (loaded.bundle_version, &mut policy) {
                map.insert("bundle_version".into(), json!(version));
            }
            policy
        });
        let last_error = self
            .last_error
            .lock()
            .ok()
            .and_then(|e| e.clone())
            .map(|e| json!({"at": rfc3339_millis(e.at), "message": e.message}));
        let (ok, failed) = self.metrics.reloads();
        let source = match &self.poller {
            Some(poller) => {
                let mut source = poller.status();
                if let Json::Object(map) = &mut source {
                    let fetches: serde_json::Map<String, Json> = self
                        .metrics
                        .fetches()
                        .into_iter()
                        .map(|(outcome, n)| (outcome.to_string(), json!(n)))
                        .collect();
                    map.insert("fetches".into(), Json::Object(fetches));
                }
                source
            }
            None => json!({"kind": self.source.kind(), "path": self.source.origin()}),
        };
        let decision_log = match &self.shipping {
            None => json!(self.log_target.as_ref().map(|t| t.to_string())),
            Some(shipping) => {
                let mut status = shipping.status(&self.metrics);
                if let (Json::Object(map), Some(target)) = (&mut status, &self.log_target) {
                    map.insert("file".into(), json!(target.to_string()));
                }
                status
            }
        };
        json!({
            "ready": current.is_some(),
            "policy": policy,
            "source": source,
            "last_reload_error": last_error,
            "reloads": {"ok": ok, "failed": failed},
            "decision_log": decision_log,
            "mode": self.runs.mode.as_str(),
            "history": self.runs.status(),
            "workers": self.workers,
            "started_at": rfc3339_millis(self.started_at),
            "version": env!("CARGO_PKG_VERSION"),
        })
    }
}
