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
}

/// What a reload did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reloaded {
    /// A policy with this hash is now served.
    Ok(String),
    /// The previous policy (if any) keeps serving.
    Failed(String),
}

impl State {
    pub fn new(
        source: Source,
        metrics: Arc<Metrics>,
        log: Option<(LogSender, LogTarget)>,
        runs: Runs,
    ) -> State {
        let (log, log_target) = match log {
            Some((sender, target)) => (Some(sender), Some(target)),
            None => (None, None),
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
        }
    }

    /// Loads the source again (compiling or verifying it on a blocking thread) and, if it
    /// loads and may replace the policy served ([`Source::admit`]: no bundle rollbacks), serves
    /// it from the next request on. A failure leaves the served policy alone and is reported on
    /// standard error and in `/v1/status`.
    pub async fn reload(self: &Arc<State>, why: &str) -> Reloaded {
        let _one = self.reloading.lock().await;
        let source = self.source.clone();
        let result = tokio::task::spawn_blocking(move || source.load())
            .await
            .unwrap_or_else(|_| Err("loading the policy panicked".to_string()))
            .and_then(|next| self.source.admit(self.policy.load().as_deref(), next));
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
        json!({
            "ready": current.is_some(),
            "policy": policy,
            "source": {"kind": self.source.kind(), "path": self.source.path().display().to_string()},
            "last_reload_error": last_error,
            "reloads": {"ok": ok, "failed": failed},
            "decision_log": self.log_target.as_ref().map(|t| t.to_string()),
            "mode": self.runs.mode.as_str(),
            "history": self.runs.status(),
            "started_at": rfc3339_millis(self.started_at),
            "version": env!("CARGO_PKG_VERSION"),
        })
    }
}
