//! Runs: the gateway's duty of LANGUAGE.md §5 ("a call request asserts that its run was
//! admitted by an earlier start decision") and §10 (the gateway records the run's history),
//! done by the server for requests that name their run in the `writ-run` header.
//!
//! - A **start** with a run id is decided at the server's time with an empty history; when it
//!   is answered allow, the run is admitted: its workflow, its initiator (the id of the
//!   chain's first principal), and its expiry (the granted `ttl_seconds`). A run id that names
//!   a live run is denied, whatever the policy says.
//! - A **call** with a run id is denied unless its run is admitted, live, of the request's
//!   workflow and started by the request's initiator. Otherwise the server fills `time` (its
//!   clock) and `history` (the run's recorded calls), decides, and records the call when it is
//!   answered allow and some `calls(...)` of the policy can count it
//!   ([`Policy::counts_calls_of`]), atomically per run (`history::Store::call`). A call that
//!   no history can change ([`Policy::call_reads_history`]) and that is not recorded is decided
//!   on the run alone, with `time` filled and `history` absent: it needs no read of the calls
//!   (and, in Redis, no round trip while the replica remembers the run).
//! - A request without a run id is decided as sent, statelessly.
//!
//! The mode (`--mode log-only`) changes what is *answered*, never what is decided or logged:
//! [`answer`] turns every decision into an allow that carries the real one.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value as Json, json};
use writ_evaluator::log::Mode;
use writ_evaluator::request::{Action, HistoryEntry};
use writ_evaluator::{
    Decision, Outcome, Policy, Request, RequestError, RequestErrorKind, RuleIds, Timestamp,
};

use crate::history::{Admission, HistoryConfig, Keep, Lookup, Record, Run, Store, StoreError};
use crate::metrics::{ErrorKind, Metrics};

/// The request header that names the run a request belongs to.
pub const RUN_HEADER: &str = "writ-run";

/// The longest run id, in bytes.
pub const MAX_RUN_ID: usize = 128;

/// A run's lifetime when the policy grants none (a start answered allow only because of
/// log-only mode, of a workflow the policy does not declare): the language's default ttl.
const DEFAULT_TTL_SECONDS: i64 = 3600;

/// The runs of a server: its store and its mode. (How much history to keep is the served
/// policy's own [`Policy::history_horizon`].)
pub struct Runs {
    pub store: Store,
    pub mode: Mode,
    config: HistoryConfig,
}

/// A request as it was decided (its `time` and `history` filled in for a run) and what writ
/// decided: what the decision log records.
pub struct Decided<'a> {
    pub request: Request<'a>,
    pub decision: Decision,
}

/// Checks a run id: 1 to 128 characters from `A-Z a-z 0-9 . _ ~ / @ + = -` (ids such as UUIDs,
/// ULIDs and `session/42` fit; `:` and spaces do not, so the id is safe in store keys and
/// logs).
pub fn check_run_id(text: &str) -> Result<(), RequestError> {
    let fail = |message: String| RequestError::new(RequestErrorKind::Gateway, RUN_HEADER, message);
    if text.is_empty() || text.len() > MAX_RUN_ID {
        return Err(fail(format!("a run id is 1 to {MAX_RUN_ID} characters")));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._~/@+=-".contains(c);
    match text.chars().find(|&c| !allowed(c)) {
        None => Ok(()),
        Some(c) => {
            Err(fail(format!("a run id may hold letters, digits and `._~/@+=-`, not {c:?}")))
        }
    }
}

/// A request bound to a run may not carry what the server fills in: the gateway cannot
/// replay or forge a run's history or time.
pub fn check_unbound_fields(request: &Request<'_>) -> Result<(), RequestError> {
    let fail = |field: &str| {
        RequestError::new(
            RequestErrorKind::Gateway,
            field,
            format!(
                "not allowed with a `{RUN_HEADER}` header: the server keeps the run's `time` \
                 and `history`"
            ),
        )
    };
    if request.history.is_some() {
        return Err(fail("history"));
    }
    if request.time.is_some() {
        return Err(fail("time"));
    }
    Ok(())
}

/// The server's clock, as a request time.
pub fn now() -> Timestamp {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    Timestamp::from_unix_nanos(i128::try_from(nanos).unwrap_or(i128::MAX)).unwrap_or(Timestamp::MAX)
}

impl Runs {
    pub fn new(store: Store, mode: Mode, config: HistoryConfig) -> Runs {
        Runs { store, mode, config }
    }

    /// The `history` part of `/v1/status` (no Redis URL: it may hold a password).
    pub fn status(&self) -> Json {
        match &self.config {
            HistoryConfig::Memory { max_runs } => json!({
                "store": self.store.kind(),
                "runs": self.store.runs_held(),
                "max_runs": max_runs,
            }),
            HistoryConfig::Redis { prefix, .. } => json!({
                "store": self.store.kind(),
                "prefix": prefix,
            }),
        }
    }

    /// Decides `request`, which belongs to run `id` (checked by [`check_run_id`] and
    /// [`check_unbound_fields`]).
    pub async fn decide<'a>(
        &self,
        policy: &Policy,
        metrics: &Metrics,
        id: &str,
        mut request: Request<'a>,
    ) -> Decided<'a> {
        let now = now();
        request.time = Some(now);
        match &request.action {
            Action::Start { ttl_seconds } => {
                let requested = *ttl_seconds;
                // A new run has made no call.
                request.history = Some(Vec::new());
                self.start(policy, metrics, id, request, requested, now).await
            }
            Action::Call { tool, .. } => {
                let tool = tool.to_string();
                self.call(policy, metrics, id, request, tool, now).await
            }
        }
    }

    async fn start<'a>(
        &self,
        policy: &Policy,
        metrics: &Metrics,
        id: &str,
        request: Request<'a>,
        requested_ttl: Option<i64>,
        now: Timestamp,
    ) -> Decided<'a> {
        let refuse = |request, reason| Decided { request, decision: refusal(policy, reason) };
        match self.store.lookup(id, now).await {
            Err(e) => return refuse(request, store_failed(metrics, id, &e)),
            Ok(Lookup::Live(run)) => return refuse(request, taken(id, &run)),
            Ok(Lookup::Expired(_) | Lookup::Unknown) => {}
        }
        let decision = policy.decide(&request);
        if !self.answers_allow(&decision) {
            return Decided { request, decision };
        }
        let ttl = granted_ttl(policy, &request, &decision, requested_ttl);
        let expires = request_time_plus(now, ttl);
        let initiator = request.initiator().map(|p| p.id.to_string()).unwrap_or_default();
        let run = Run { workflow: request.workflow.to_string(), initiator, admitted: now, expires };
        match self.store.admit(id, &run, now).await {
            Ok(Admission::Admitted) => Decided { request, decision },
            Ok(Admission::Taken(run)) => refuse(request, taken(id, &run)),
            Ok(Admission::Full { max_runs }) => refuse(
                request,
                format!(
                    "run `{id}` was not admitted: the server holds its maximum of {max_runs} \
                     runs (`--max-runs`)"
                ),
            ),
            Err(e) => refuse(request, store_failed(metrics, id, &e)),
        }
    }

    async fn call<'a>(
        &self,
        policy: &Policy,
        metrics: &Metrics,
        id: &str,
        request: Request<'a>,
        tool: String,
        now: Timestamp,
    ) -> Decided<'a> {
        let initiator = request.initiator().map(|p| p.id.to_string()).unwrap_or_default();
        if !policy.call_reads_history(&request.workflow, &tool) && !policy.counts_calls_of(&tool) {
            // No history can change the decision and the call is not recorded: only the run
            // is needed (which the Redis store remembers while it is live).
            let found = match self.store.lookup(id, now).await {
                Ok(found) => found,
                Err(e) => {
                    let reason = store_failed(metrics, id, &e);
                    return Decided { request, decision: refusal(policy, reason) };
                }
            };
            if let Some(reason) = why_unbound(id, &found, &request, &initiator) {
                return Decided { request, decision: refusal(policy, reason) };
            }
            let mut bound = request;
            bound.time = Some(now);
            let decision = policy.decide(&bound);
            return Decided { request: bound, decision };
        }
        let keep = Keep::new(policy.history_horizon(), now);
        let decided = self
            .store
            .call(id, now, keep, |found, history: &[HistoryEntry<'static>]| {
                if let Some(reason) = why_unbound(id, found, &request, &initiator) {
                    let decided =
                        Decided { request: request.clone(), decision: refusal(policy, reason) };
                    return (decided, Record::Nothing);
                }
                let mut bound = request.clone();
                let at = call_time(now, history);
                bound.time = Some(at);
                bound.history = Some(history.to_vec());
                let decision = policy.decide(&bound);
                // A call no `calls(...)` of the policy can count is not recorded: the store
                // holds only what can count (a run of reads keeps nothing).
                let record = if self.answers_allow(&decision) && policy.counts_calls_of(&tool) {
                    Record::Call { tool: tool.clone(), at }
                } else {
                    Record::Nothing
                };
                (Decided { request: bound, decision }, record)
            })
            .await;
        match decided {
            Ok(decided) => decided,
            Err(e) => {
                let reason = store_failed(metrics, id, &e);
                Decided { request, decision: refusal(policy, reason) }
            }
        }
    }

    /// Whether `decision` is answered allow (it is, or the mode is log-only).
    fn answers_allow(&self, decision: &Decision) -> bool {
        decision.decision == Outcome::Allow || self.mode == Mode::LogOnly
    }
}

/// Why a call of run `id` (as `found`) may not be decided for `request`, whose initiator is
/// `initiator`: the run is unknown, expired, of another workflow or started by someone else.
fn why_unbound(id: &str, found: &Lookup, request: &Request<'_>, initiator: &str) -> Option<String> {
    match found {
        Lookup::Unknown => Some(format!(
            "run `{id}` was not admitted: no start of it was allowed (or it expired and was \
             dropped)"
        )),
        Lookup::Expired(run) => Some(format!("run `{id}` expired at {}", run.expires)),
        Lookup::Live(run) if run.workflow != request.workflow => Some(format!(
            "run `{id}` belongs to workflow `{}`, not `{}`",
            run.workflow, request.workflow
        )),
        Lookup::Live(run) if run.initiator != initiator => {
            Some(format!("run `{id}` was started by `{}`, not `{initiator}`", run.initiator))
        }
        Lookup::Live(_) => None,
    }
}

/// The time of a call: the server's clock, or the run's last recorded call's time if that is
/// later. A window counts only calls at or before the request's time, so a call recorded by a
/// faster clock (another replica's), or after this request read the clock, must not be in its
/// future: a run's time never goes backwards.
fn call_time(now: Timestamp, history: &[HistoryEntry<'_>]) -> Timestamp {
    history.iter().filter_map(|e| e.at).fold(now, Timestamp::max)
}

/// The answer to a decided request. In enforce mode, the decision. In log-only mode, an
/// allow (with `ttl_seconds` on a start: the lifetime the run was given) carrying
/// `"mode": "log-only"` and the real decision under `"decided"`.
pub fn answer(mode: Mode, policy: &Policy, request: &Request<'_>, decision: &Decision) -> Json {
    let real = decision.to_value();
    match mode {
        Mode::Enforce => real,
        Mode::LogOnly => {
            let ttl = match request.action {
                Action::Start { ttl_seconds } => {
                    Some(granted_ttl(policy, request, decision, ttl_seconds))
                }
                Action::Call { .. } => None,
            };
            json!({
                "decision": "allow",
                "missing": [],
                // The rules of an allow; a deny's or a pending's are in `decided`.
                "rules": match decision.decision {
                    Outcome::Allow => decision.rules.iter().map(|r| r.as_ref()).collect(),
                    Outcome::Deny | Outcome::Pending => Vec::new(),
                },
                "reasons": [],
                "ttl_seconds": ttl,
                "policy": decision.policy.as_ref(),
                "mode": Mode::LogOnly.as_str(),
                "decided": real,
            })
        }
    }
}

/// The lifetime a run started by `request` gets: the decision's on an allow; otherwise (a
/// start answered allow in log-only mode) the requested one, capped by the workflow's.
fn granted_ttl(
    policy: &Policy,
    request: &Request<'_>,
    decision: &Decision,
    requested: Option<i64>,
) -> i64 {
    if let Some(ttl) = decision.ttl_seconds {
        return ttl;
    }
    let workflow = policy.ir().workflows.iter().find(|w| w.name == request.workflow);
    let most = workflow.map_or(DEFAULT_TTL_SECONDS, |w| w.ttl_seconds);
    requested.map_or(most, |ttl| ttl.min(most)).max(0)
}

fn request_time_plus(now: Timestamp, seconds: i64) -> Timestamp {
    let nanos = now.as_unix_nanos().saturating_add(i128::from(seconds) * 1_000_000_000);
    Timestamp::from_unix_nanos(nanos).unwrap_or(Timestamp::MAX)
}

/// A deny the server gives for the run, not a rule of the policy.
fn refusal(policy: &Policy, reason: String) -> Decision {
    Decision {
        decision: Outcome::Deny,
        missing: Vec::new(),
        rules: RuleIds::new(),
        reasons: vec![reason],
        ttl_seconds: None,
        policy: Arc::from(policy.hash()),
    }
}

fn taken(id: &str, run: &Run) -> String {
    format!(
        "run `{id}` is already admitted (workflow `{}`, started by `{}`, until {}): a run id \
         names one run",
        run.workflow, run.initiator, run.expires
    )
}

fn store_failed(metrics: &Metrics, id: &str, e: &StoreError) -> String {
    metrics.error(ErrorKind::HistoryStore);
    eprintln!("writ serve: error: run `{id}`: {e}");
    format!("run `{id}`: {e}; denied (fail closed)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_s_time_never_goes_backwards() {
        let at = |s| Timestamp::from_unix_seconds(s).unwrap();
        let entry = |s| HistoryEntry { tool: "deploy".into(), at: Some(at(s)) };
        assert_eq!(call_time(at(10), &[]), at(10));
        assert_eq!(call_time(at(10), &[entry(5), entry(8)]), at(10));
        // Recorded by a replica whose clock is ahead: the call is not before it.
        assert_eq!(call_time(at(10), &[entry(5), entry(12)]), at(12));
    }

    /// Only calls some `calls(...)` can count are recorded: a run's pings, which no condition
    /// counts, leave its history empty (the store does not grow with calls nothing reads), and
    /// deploys, which `calls(deploy ...)` counts, are recorded.
    #[test]
    fn only_calls_that_can_count_are_recorded() {
        let source = "role dev {\n  may ping\n  may deploy\n}\ntool ping\ntool deploy\n\
                      workflow w {\n  start by dev\n  allow ping\n  \
                      allow deploy when calls(deploy within 1h) < 3\n}\n";
        let ir = writ_compiler::compile_files(
            std::path::Path::new("p.writ"),
            vec![("p.writ".to_string(), source.to_string())],
        )
        .unwrap();
        let policy = Policy::from_ir(ir).unwrap();
        let store = Store::Memory(crate::history::MemoryStore::new(10));
        let runs = Runs::new(store, Mode::Enforce, HistoryConfig::Memory { max_runs: 10 });
        let metrics = Metrics::new();
        let chain =
            r#"[{"id": "ada", "kind": "human", "roles": ["dev"]}, {"id": "bot", "kind": "agent"}]"#;
        let request = |body: String| Request::from_json(&body).unwrap().into_owned();
        let start = request(format!(r#"{{"action": "start", "workflow": "w", "chain": {chain}}}"#));
        let call = |tool: &str| {
            request(format!(
                r#"{{"action": "call", "workflow": "w", "tool": "{tool}", "chain": {chain}}}"#
            ))
        };
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let recorded = |runs: &Runs| {
            let keep = Keep::new(policy.history_horizon(), now());
            let seen = runs.store.call("r1", now(), keep, |_, history| {
                (history.iter().map(|e| e.tool.clone()).collect::<Vec<_>>(), Record::Nothing)
            });
            runtime.block_on(seen).unwrap()
        };
        runtime.block_on(async {
            let started = runs.decide(&policy, &metrics, "r1", start).await;
            assert_eq!(started.decision.decision, Outcome::Allow);
            for _ in 0..5 {
                let pinged = runs.decide(&policy, &metrics, "r1", call("ping")).await;
                assert_eq!(pinged.decision.decision, Outcome::Allow);
            }
        });
        assert_eq!(recorded(&runs), Vec::<String>::new(), "pings are not recorded");
        runtime.block_on(async {
            let deployed = runs.decide(&policy, &metrics, "r1", call("deploy")).await;
            assert_eq!(deployed.decision.decision, Outcome::Allow);
            let pinged = runs.decide(&policy, &metrics, "r1", call("ping")).await;
            assert_eq!(pinged.decision.decision, Outcome::Allow);
        });
        assert_eq!(recorded(&runs), ["deploy"], "deploys are");
    }

    #[test]
    fn run_ids() {
        for good in ["r", "0193f2b8-6f3a-7d4e-9c1b-2a5e8f0c7d61", "session/42", "a.b_c~d@e+f=g"] {
            assert!(check_run_id(good).is_ok(), "{good}");
        }
        let long = "x".repeat(MAX_RUN_ID + 1);
        for bad in ["", "a:b", "a b", "é", "a\n", long.as_str()] {
            let e = check_run_id(bad).unwrap_err();
            assert_eq!(e.field, RUN_HEADER, "{bad}");
        }
    }
}
