//! writ-bench: writ against Cedar (cedar-policy) and Rego (regorus) on generated
//! agent-workflow policies. See `bench/README.md`.
//!
//! ```text
//! scenario::generate(rules, seed) ──▶ model::PolicyModel ──┬─ writ::emit  ──▶ .writ text ──▶ writ_compiler ──▶ Policy
//!                                                          ├─ cedar::emit ──▶ policy sets + gateway tables
//!                                                          └─ rego::emit  ──▶ modules + data (VM and interpreter)
//! requests::generate(scenario, n, seed) ──▶ writ request JSON + expected outcome
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a measuring tool, never shipped: a broken scenario should stop the run loudly"
)]

pub mod cedar;
pub mod counting;
pub mod editing;
pub mod measure;
pub mod model;
pub mod rego;
pub mod requests;
pub mod rng;
pub mod scenario;
pub mod v2;
pub mod verify;
pub mod writ;

use std::collections::BTreeMap;

use writ_evaluator::Outcome;

use crate::requests::{Expect, GenRequest, Group};
use crate::scenario::Scenario;

/// Every engine, loaded for one scenario.
pub struct Engines {
    pub writ: writ::WritEngine,
    pub cedar: cedar::CedarEngine,
    /// `Err` when regorus cannot compile the policy to bytecode.
    pub rego_vm: Result<rego::RegoVm, String>,
    pub rego: rego::RegoInterpreter,
}

/// The policy texts for one scenario.
pub struct Texts {
    pub writ: Vec<(String, String)>,
    pub cedar: cedar::CedarText,
    /// Rego modules: `(path, text)`.
    pub rego: Vec<(String, String)>,
    pub rego_data: serde_json::Value,
}

impl Texts {
    pub fn new(s: &Scenario) -> Texts {
        Texts {
            writ: writ::emit(&s.model),
            cedar: cedar::emit(&s.model),
            rego: rego::emit(&s.model),
            rego_data: rego::data(&s.model),
        }
    }
}

impl Engines {
    pub fn load(s: &Scenario, t: &Texts) -> Engines {
        Engines {
            writ: writ::WritEngine::load(&t.writ),
            cedar: cedar::CedarEngine::load(&s.model, &t.cedar),
            rego_vm: rego::RegoVm::load(&t.rego, &t.rego_data),
            rego: rego::RegoInterpreter::load(&t.rego, &t.rego_data),
        }
    }
}

/// One request on which the engines did not all agree with the expected outcome.
#[derive(Clone, Debug)]
pub struct Disagreement {
    pub case: &'static str,
    pub expect: Expect,
    pub writ: Outcome,
    pub cedar: bool,
    /// `None` when the VM could not load the policy.
    pub rego_vm: Option<bool>,
    pub rego: bool,
    pub json: String,
}

/// The result of the agreement check.
#[derive(Clone, Debug, Default)]
pub struct Agreement {
    pub requests: usize,
    /// writ's outcomes: allow, deny, pending.
    pub outcomes: BTreeMap<&'static str, usize>,
    pub groups: BTreeMap<Group, usize>,
    pub disagreements: Vec<Disagreement>,
}

impl Agreement {
    pub fn ok(&self) -> bool {
        self.disagreements.is_empty()
    }

    /// Every group of requests was exercised.
    pub fn covers_all_groups(&self) -> bool {
        Group::ALL.iter().all(|g| self.groups.get(g).copied().unwrap_or(0) > 0)
    }
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Allow => "allow",
        Outcome::Deny => "deny",
        Outcome::Pending => "pending",
    }
}

/// Decides every request with every engine (through JSON, the gateway path, and with prepared
/// requests) and checks: writ's outcome is the expected one (allow, deny or pending), and Cedar,
/// the Rego VM and the Rego interpreter allow exactly when writ allows (pending counts as not
/// allowed).
pub fn check_agreement(e: &mut Engines, requests: &[GenRequest]) -> Agreement {
    let mut a = Agreement { requests: requests.len(), ..Agreement::default() };
    for r in requests {
        let writ = e.writ.decide_json(&r.json);
        let prepared = e.writ.decide(&e.writ.prepare(&r.json));
        let cedar = e.cedar.decide_json(&r.json);
        let cedar_prepared = e.cedar.decide(&e.cedar.prepare_str(&r.json));
        let input = rego::RegoVm::prepare(&r.json);
        let (rego_vm, rego_vm_json) = match &mut e.rego_vm {
            Ok(vm) => (Some(vm.decide(&input)), Some(vm.decide_json(&r.json))),
            Err(_) => (None, None),
        };
        let rego = e.rego.decide(&input);
        *a.outcomes.entry(outcome_name(writ)).or_default() += 1;
        *a.groups.entry(r.group).or_default() += 1;
        let expected = match r.expect {
            Expect::Allow => Outcome::Allow,
            Expect::Deny => Outcome::Deny,
            Expect::Pending => Outcome::Pending,
        };
        let allowed = r.expect.allowed();
        let agree = writ == expected
            && prepared == writ
            && cedar == allowed
            && cedar_prepared == allowed
            && rego_vm.is_none_or(|d| d == allowed)
            && rego_vm_json.is_none_or(|d| d == allowed)
            && rego == allowed;
        if !agree {
            a.disagreements.push(Disagreement {
                case: r.case,
                expect: r.expect,
                writ,
                cedar: cedar && cedar_prepared,
                rego_vm: rego_vm.zip(rego_vm_json).map(|(a, b)| a && b),
                rego,
                json: r.json.clone(),
            });
        }
    }
    a
}
