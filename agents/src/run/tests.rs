//! Runs: admission, history, recording, retention, and the stores' atomicity.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value as Json, json};
use writ_compiler::Compiler;
use writ_evaluator::log::Mode;
use writ_evaluator::{Outcome, Timestamp};

use super::*;
use crate::gate::Gate;

const POLICY: &str = r#"
tool deploy(env: string)
tool read
role dev { may deploy may read }
workflow ship {
  start by dev
  ttl 1h
  allow deploy when calls(deploy within 24h) < 3
  allow read
}
"#;

fn gate(text: &str) -> Gate {
    let compiler = Compiler::new(vec![("p.writ".to_string(), text.to_string())]);
    let ir = compiler.compilation().policy.clone().expect("the test policy compiles");
    Gate::new(ir, "ship").expect("a gate")
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000 + seconds).expect("a time")
}

fn chain(role: &str) -> Vec<Json> {
    vec![
        json!({"id": "ana", "kind": "human", "roles": [role]}),
        json!({"id": "claude-code/s1", "kind": "agent"}),
    ]
}

struct Call {
    tool: &'static str,
    role: &'static str,
    now: Timestamp,
    id: Option<&'static str>,
}

fn decide(gate: &Gate, store: &dyn RunStore, mode: Mode, call: Call) -> RunJudgement {
    let retention = Retention::for_policy(gate, DEFAULT_IDLE);
    let run_gate = RunGate { gate, store, retention, mode };
    let chain = chain(call.role);
    let mut input = Map::new();
    input.insert("env".into(), json!("prod"));
    let run_fields = Map::new();
    let run_call = RunCall {
        run: "s1",
        chain: &chain,
        start_chain: 2,
        tool: call.tool,
        input: &input,
        context: Map::new(),
        run_fields,
        call_id: call.id,
        now: call.now,
    };
    run_gate.call(&run_call).expect("decided")
}

fn outcome(j: &RunJudgement) -> Outcome {
    j.call.decision.decision
}

#[test]
fn a_run_is_admitted_once_and_its_calls_counted() {
    let gate = gate(POLICY);
    let store = MemoryStore::default();
    let first = decide(
        &gate,
        &store,
        Mode::Enforce,
        Call { tool: "deploy", role: "dev", now: at(0), id: None },
    );
    assert_eq!(outcome(&first), Outcome::Allow);
    assert!(first.start.is_some(), "the first call decides the start");
    let mut outcomes = vec![];
    for i in 1..5 {
        let j = decide(
            &gate,
            &store,
            Mode::Enforce,
            Call { tool: "deploy", role: "dev", now: at(i), id: None },
        );
        assert!(j.start.is_none(), "the admission is cached");
        outcomes.push(outcome(&j));
    }
    assert_eq!(outcomes, [Outcome::Allow, Outcome::Allow, Outcome::Deny, Outcome::Deny]);
    // Reads are not deploys; a day later the window has moved on.
    assert_eq!(
        outcome(&decide(
            &gate,
            &store,
            Mode::Enforce,
            Call { tool: "read", role: "dev", now: at(5), id: None }
        )),
        Outcome::Allow
    );
}

#[test]
fn the_window_moves_and_the_admission_expires() {
    let gate = gate(POLICY);
    let store = MemoryStore::default();
    for i in 0..3 {
        decide(
            &gate,
            &store,
            Mode::Enforce,
            Call { tool: "deploy", role: "dev", now: at(i), id: None },
        );
    }
    let later = decide(
        &gate,
        &store,
        Mode::Enforce,
        Call { tool: "deploy", role: "dev", now: at(86_400 + 3), id: None },
    );
    assert_eq!(outcome(&later), Outcome::Allow, "the first three left the 24h window");
    assert!(later.start.is_some(), "past the 1h ttl, the start is decided again");
}

#[test]
fn a_run_whose_start_is_denied_has_every_call_denied() {
    let gate = gate(POLICY);
    let store = MemoryStore::default();
    let j = decide(
        &gate,
        &store,
        Mode::Enforce,
        Call { tool: "read", role: "guest", now: at(0), id: None },
    );
    assert_eq!(outcome(&j), Outcome::Deny);
    let reason = j.call.decision.reasons.join("; ");
    assert!(reason.contains("was not admitted"), "{reason}");
    assert!(!j.answered_allow);
    let start = j.start.expect("the start was decided");
    assert_eq!(start.decision.decision, Outcome::Deny);
    // Nothing was recorded, nothing admitted: the next call decides the start again.
    let again = decide(
        &gate,
        &store,
        Mode::Enforce,
        Call { tool: "read", role: "guest", now: at(1), id: None },
    );
    assert!(again.start.is_some());
}

#[test]
fn log_only_answers_allow_records_and_keeps_the_real_decision() {
    let gate = gate(POLICY);
    let store = MemoryStore::default();
    let j = decide(
        &gate,
        &store,
        Mode::LogOnly,
        Call { tool: "read", role: "guest", now: at(0), id: None },
    );
    assert!(j.answered_allow);
    assert_eq!(outcome(&j), Outcome::Deny, "the decision logged is the real one");
}

#[test]
fn a_call_id_is_recorded_once() {
    let gate = gate(POLICY);
    let store = MemoryStore::default();
    for i in 0..5 {
        decide(
            &gate,
            &store,
            Mode::Enforce,
            Call { tool: "deploy", role: "dev", now: at(i), id: Some("toolu_1") },
        );
    }
    let mut calls = 0;
    store
        .transact(
            "s1",
            1_800_000_010_000_000_000,
            Retention::for_policy(&gate, DEFAULT_IDLE),
            &mut |r| {
                calls = r.calls.len();
                RunUpdate::default()
            },
        )
        .expect("read");
    assert_eq!(calls, 1);
}

#[test]
fn a_policy_without_calls_keeps_a_day() {
    let gate =
        gate("tool read\nrole dev { may read }\nworkflow ship { start by dev\n allow read }");
    let r = Retention::for_policy(&gate, DEFAULT_IDLE);
    assert_eq!(r.keep, Some(MIN_KEEP));
    let whole = gate_with("allow deploy when calls(deploy) < 3");
    assert_eq!(Retention::for_policy(&whole, DEFAULT_IDLE).keep, None);
}

fn gate_with(rule: &str) -> Gate {
    gate(&format!(
        "tool deploy\nrole dev {{ may deploy }}\nworkflow ship {{ start by dev\n {rule} }}"
    ))
}

#[test]
fn idle_runs_are_forgotten() {
    let gate = gate(POLICY);
    let store = MemoryStore::default();
    decide(
        &gate,
        &store,
        Mode::Enforce,
        Call { tool: "deploy", role: "dev", now: at(0), id: None },
    );
    let retention = Retention { keep: None, idle: Duration::from_secs(60) };
    let mut calls = usize::MAX;
    store
        .transact("s1", at(120).as_unix_nanos() as i64, retention, &mut |r| {
            calls = r.calls.len();
            RunUpdate::default()
        })
        .expect("read");
    assert_eq!(calls, 0);
}

/// Parallel hooks are parallel processes, each with its own connection to one database: the
/// limit holds across them.
#[test]
fn sqlite_stores_share_a_run_and_count_atomically() {
    let dir = std::env::temp_dir().join(format!("writ-run-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let gate = Arc::new(gate(POLICY));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let gate = Arc::clone(&gate);
            let dir = dir.clone();
            std::thread::spawn(move || {
                let store = SqliteStore::open(&dir).expect("open");
                outcome(&decide(
                    &gate,
                    &store,
                    Mode::Enforce,
                    Call { tool: "deploy", role: "dev", now: at(i), id: None },
                ))
            })
        })
        .collect();
    let outcomes: Vec<Outcome> = threads.into_iter().map(|t| t.join().expect("thread")).collect();
    let allowed = outcomes.iter().filter(|o| **o == Outcome::Allow).count();
    assert_eq!(allowed, 3, "{outcomes:?}");
    // And a fresh connection sees the admission and the three calls.
    let store = SqliteStore::open(&dir).expect("open");
    let j = decide(
        &gate,
        &store,
        Mode::Enforce,
        Call { tool: "deploy", role: "dev", now: at(9), id: None },
    );
    assert!(j.start.is_none());
    assert_eq!(outcome(&j), Outcome::Deny);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_store_denies_rather_than_forgets() {
    let dir = std::env::temp_dir().join(format!("writ-run-store-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("runs.sqlite3"), b"this is not a database, it is a long enough text")
        .expect("write");
    assert!(SqliteStore::open(&dir).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Hooks that start at once on a new state directory all open the store: creating it, switching
/// it to WAL and making its tables race, and none may fail with "database is locked".
#[test]
fn many_processes_can_create_the_store_at_once() {
    for round in 0..5 {
        let dir = std::env::temp_dir()
            .join(format!("writ-run-store-race-{}-{round}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let barrier = Arc::new(std::sync::Barrier::new(16));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (dir, barrier) = (dir.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    SqliteStore::open(&dir).map(|_| ())
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().expect("thread"), Ok(()), "round {round}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
