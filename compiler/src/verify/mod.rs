//! `writ verify`: assertions (LANGUAGE.md §11) decided over every possible request.
//!
//! A claim `never allow [via W] TARGET when C` breaks exactly when some request is allowed with
//! C true. §5 allows a call through one allow rule (a *path*) at a time, so the claim holds when
//! no path can be taken with C true: for each workflow, targeted tool and allow rule, the search
//! (`search.rs`) looks for a request for which C, the allow's condition, the delegation check,
//! an accountable chain and the negation of every deny that targets the tool are all true, and
//! whose evidence (`evidence.rs`) meets the allow's `require` and every `require ... for` that
//! applies, beside the counts that C's `given(...)` asks for. Starts likewise, per start rule.
//!
//! The search is exact over the decidable fragment (see `docs/language.md`, "Assertions"): every
//! value it does not try behaves like one it does. Where that cannot be promised (shell command
//! lines the realizer cannot build, counts compared with each other, search limits) a claim with
//! no counterexample is **unknown**, with the reason, never "holds". Every counterexample is a
//! request JSON that is decided again by the evaluator ([`writ_evaluator::Policy::decide`]) and
//! whose condition is evaluated by the reference reading of §4
//! ([`writ_evaluator::reference::claim_condition`]) before it is reported; one that does not
//! check out is a bug, reported as unknown.
//!
//! The same search answers `writ diff` (`diff.rs`: a request allowed under one policy and not
//! under another) and the lints that need exact reasoning (`lints.rs`).

mod commands;
pub mod diff;
mod evidence;
pub mod lint;
mod lower;
mod search;
mod strings;
mod witness;

use serde::Serialize;
use serde_json::Value as Json;
use writ_evaluator::ir::{Cond, PolicyIr, TargetIr, ToolId, WorkflowId};
use writ_evaluator::{Outcome as Decided, Policy, Request, Tri};

use crate::diagnostic::Location;
use lower::Lowering;
use search::{Absence, Expr, Goal, Leaf, Outcome};
use witness::{Action, Case};

/// An `assert "NAME" { ... }`, lowered.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Assertion {
    pub name: String,
    pub location: Location,
    pub claims: Vec<Claim>,
}

/// One claim of an assertion.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Claim {
    pub location: Location,
    /// The claim as written, whitespace collapsed.
    pub text: String,
    pub kind: ClaimKind,
    /// `when C unless U` as one condition; `None`: always.
    pub condition: Option<Cond>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClaimKind {
    /// `never allow [via W] TARGET`
    NeverAllow { via: Option<WorkflowId>, target: TargetIr },
    /// `never start W`
    NeverStart { workflow: WorkflowId },
}

/// The answer for one claim.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "lowercase", tag = "result")]
pub enum Verdict {
    Holds,
    /// A request that is allowed with the claim's condition true.
    Fails {
        counterexample: Json,
        rule: String,
    },
    Unknown {
        reason: String,
    },
}

impl Verdict {
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Fails { .. } => "fails",
            Verdict::Unknown { .. } => "unknown",
        }
    }

    pub fn holds(&self) -> bool {
        matches!(self, Verdict::Holds)
    }
}

/// One claim's result, for reports.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimResult {
    /// The assertion's name.
    pub assert: String,
    /// From 1 within its assertion.
    pub claim: usize,
    pub text: String,
    pub location: Location,
    pub verdict: Verdict,
    /// Why, in words.
    pub reason: String,
    /// The ids of the rules and entitlements the claim was decided against (for `writ test
    /// --coverage`).
    pub exercised: Vec<String>,
}

impl ClaimResult {
    /// The JSON of LANGUAGE.md §11: `{"assert", "claim", "result", "counterexample", "reason"}`.
    pub fn json(&self) -> Json {
        let counterexample = match &self.verdict {
            Verdict::Fails { counterexample, .. } => counterexample.clone(),
            _ => Json::Null,
        };
        serde_json::json!({
            "assert": self.assert,
            "claim": self.claim,
            "result": self.verdict.word(),
            "counterexample": counterexample,
            "reason": self.reason,
        })
    }
}

/// Verifies every claim of every assertion, in source order.
pub fn verify(policy: &Policy, assertions: &[Assertion]) -> Vec<ClaimResult> {
    let mut out = Vec::new();
    for a in assertions {
        for (i, claim) in a.claims.iter().enumerate() {
            let verdict = verify_claim(policy, claim);
            let reason = reason(policy.ir(), claim, &verdict);
            let exercised = exercised(policy.ir(), &claim.kind);
            out.push(ClaimResult {
                exercised,
                assert: a.name.clone(),
                claim: i + 1,
                text: claim.text.clone(),
                location: claim.location,
                verdict,
                reason,
            });
        }
    }
    out
}

fn reason(ir: &PolicyIr, claim: &Claim, verdict: &Verdict) -> String {
    match (verdict, &claim.kind) {
        (Verdict::Holds, ClaimKind::NeverAllow { .. }) => {
            "no request is allowed with the condition true".to_string()
        }
        (Verdict::Holds, ClaimKind::NeverStart { workflow }) => format!(
            "no request starts {} with the condition true",
            ir.workflows.get(workflow.index()).map_or("", |w| w.name.as_str())
        ),
        (Verdict::Fails { rule, .. }, _) => {
            format!("the counterexample is allowed (by {rule}) and the condition is true")
        }
        (Verdict::Unknown { reason }, _) => reason.clone(),
    }
}

/// One way for a request to be allowed: a workflow, and the tool and allow rule (or the start
/// rule), by index.
#[derive(Clone, Copy, Debug)]
enum Way {
    Call { workflow: usize, tool: ToolId, allow: usize },
    Start { workflow: usize, start: usize },
}

fn ways(ir: &PolicyIr, kind: &ClaimKind) -> Vec<Way> {
    let mut out = Vec::new();
    match kind {
        ClaimKind::NeverAllow { via, target } => {
            for (w, wf) in ir.workflows.iter().enumerate() {
                if via.is_some_and(|v| v.index() != w) {
                    continue;
                }
                for &tool in &target.tools {
                    for (a, allow) in wf.allows.iter().enumerate() {
                        if allow.target.tools.binary_search(&tool).is_ok() {
                            out.push(Way::Call { workflow: w, tool, allow: a });
                        }
                    }
                }
            }
        }
        ClaimKind::NeverStart { workflow } => {
            if let Some(wf) = ir.workflows.get(workflow.index()) {
                for s in 0..wf.starts.len() {
                    out.push(Way::Start { workflow: workflow.index(), start: s });
                }
            }
        }
    }
    out
}

/// The rules each way of the claim reads: its allow (start) rule, the denies (deny-starts) and
/// `require ... for` rules that target the tool, and the entitlements for it.
fn exercised(ir: &PolicyIr, kind: &ClaimKind) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |id: &str| {
        if !out.iter().any(|x| x == id) {
            out.push(id.to_string());
        }
    };
    for way in ways(ir, kind) {
        match way {
            Way::Call { workflow, tool, allow } => {
                let Some(wf) = ir.workflows.get(workflow) else { continue };
                let targets = |t: &TargetIr| t.tools.binary_search(&tool).is_ok();
                if let Some(a) = wf.allows.get(allow) {
                    add(&a.meta.id);
                }
                for d in wf.rules.denies.iter().chain(&ir.guardrails.denies) {
                    if targets(&d.target) {
                        add(&d.meta.id);
                    }
                }
                for r in wf.rules.requires.iter().chain(&ir.guardrails.requires) {
                    if targets(&r.target) {
                        add(&r.meta.id);
                    }
                }
                for role in &ir.roles {
                    for e in role.entitlements.iter().filter(|e| targets(&e.target)) {
                        add(&e.meta.id);
                    }
                }
            }
            Way::Start { workflow, start } => {
                let Some(wf) = ir.workflows.get(workflow) else { continue };
                if let Some(s) = wf.starts.get(start) {
                    add(&s.meta.id);
                }
                for d in wf.rules.deny_starts.iter().chain(&ir.guardrails.deny_starts) {
                    add(&d.meta.id);
                }
            }
        }
    }
    out
}

/// Decides one claim.
pub fn verify_claim(policy: &Policy, claim: &Claim) -> Verdict {
    let ir = policy.ir();
    let mut unknown: Option<String> = None;
    for way in ways(ir, &claim.kind) {
        match counterexample(policy, claim.condition.as_ref(), way) {
            Outcome::Found((counterexample, rule)) => {
                return Verdict::Fails { counterexample, rule };
            }
            Outcome::Unknown(reason) => {
                unknown.get_or_insert(reason);
            }
            Outcome::None => {}
        }
    }
    match unknown {
        Some(reason) => Verdict::Unknown { reason },
        None => Verdict::Holds,
    }
}

/// A request allowed through `way` with `condition` true, confirmed by the evaluator.
fn counterexample(policy: &Policy, condition: Option<&Cond>, way: Way) -> Outcome<(Json, String)> {
    let ir = policy.ir();
    let mut g = Goal::default();
    let (expr, case) = match way {
        Way::Call { workflow, tool, allow } => {
            let (Some(wf), Some(t), Some(rule)) = (
                ir.workflows.get(workflow),
                ir.tools.get(tool.index()),
                ir.workflows.get(workflow).and_then(|w| w.allows.get(allow)),
            ) else {
                return Outcome::None;
            };
            let mut low = Lowering::new(ir, Some(&t.params), wf.max_depth);
            let claim = low.cond(&mut g, condition, None);
            let allows = low.cond(&mut g, rule.condition.as_ref(), None);
            let no_deny = low.no_deny(&mut g, wf, tool);
            let accountable = low.accountable(&mut g);
            let delegation = low.delegation(&mut g, tool);
            let requires = low.requires(&mut g, wf, tool);
            let expr = Expr::And(vec![claim, allows, no_deny, accountable, delegation]);
            let case = Case {
                ir,
                workflow: &wf.name,
                action: Action::Call { tool: &t.name },
                needs: rule.require.clone(),
                requires,
                given: low.given,
                extra: Vec::new(),
            };
            (expr, case)
        }
        Way::Start { workflow, start } => {
            let (Some(wf), Some(rule)) = (
                ir.workflows.get(workflow),
                ir.workflows.get(workflow).and_then(|w| w.starts.get(start)),
            ) else {
                return Outcome::None;
            };
            let mut low = Lowering::new(ir, None, wf.max_depth);
            let claim = low.cond(&mut g, condition, None);
            let starts = low.cond(&mut g, rule.condition.as_ref(), None);
            let roles = low.start_roles(&mut g, &rule.by);
            let no_deny = low.no_deny_start(&mut g, wf);
            let accountable = low.accountable(&mut g);
            let expr = Expr::And(vec![claim, starts, roles, no_deny, accountable]);
            let case = Case {
                ir,
                workflow: &wf.name,
                action: Action::Start,
                needs: rule.require.clone(),
                requires: Vec::new(),
                given: low.given,
                extra: Vec::new(),
            };
            (expr, case)
        }
    };
    let mut leaf = |values: &search::Assignment| match witness::request(&g, &case, values) {
        Leaf::Found(json) => match confirm(policy, condition, &json) {
            Ok(rule) => Leaf::Found((json, rule)),
            Err(why) => Leaf::Undecided(why),
        },
        Leaf::Reject => Leaf::Reject,
        Leaf::Undecided(why) => Leaf::Undecided(why),
    };
    g.search(&expr, Absence::Excluded, &mut leaf)
}

/// Whether no request at all (allowed or not) makes the claim's condition true: a claim that can
/// never apply says nothing (`env == "prod" and env == "staging"`). `false` when unsure.
pub fn never_applies(ir: &PolicyIr, claim: &Claim) -> bool {
    let Some(condition) = claim.condition.as_ref() else { return false };
    let mut places: Vec<(Option<&writ_evaluator::ir::ToolIr>, &str, u32)> = Vec::new();
    match &claim.kind {
        ClaimKind::NeverAllow { via, target } => {
            for (w, wf) in ir.workflows.iter().enumerate() {
                if via.is_some_and(|v| v.index() != w) {
                    continue;
                }
                for t in &target.tools {
                    places.push((ir.tools.get(t.index()), &wf.name, wf.max_depth));
                }
            }
        }
        ClaimKind::NeverStart { workflow } => {
            if let Some(wf) = ir.workflows.get(workflow.index()) {
                places.push((None, &wf.name, wf.max_depth));
            }
        }
    }
    for (tool, workflow, max_depth) in places {
        let mut g = Goal::default();
        let mut low = Lowering::new(ir, tool.map(|t| &t.params[..]), max_depth);
        let expr = low.cond(&mut g, Some(condition), None);
        let case = Case {
            ir,
            workflow,
            action: match tool {
                Some(t) => Action::Call { tool: &t.name },
                None => Action::Start,
            },
            needs: Vec::new(),
            requires: Vec::new(),
            given: low.given,
            extra: Vec::new(),
        };
        let mut leaf = |values: &search::Assignment| witness::request(&g, &case, values);
        match g.search(&expr, Absence::Excluded, &mut leaf) {
            Outcome::None => {}
            Outcome::Found(_) | Outcome::Unknown(_) => return false,
        }
    }
    true
}

/// Checks a counterexample with the evaluator: allowed, and the condition true. The rule that
/// allowed it, or why it does not check out.
pub fn confirm(
    policy: &Policy,
    condition: Option<&Cond>,
    request: &Json,
) -> Result<String, String> {
    let text = request.to_string();
    let req = Request::from_json(&text).map_err(|e| {
        format!("internal error: a counterexample was not a valid request ({e}); please report it")
    })?;
    let decision = policy.decide(&req);
    if decision.decision != Decided::Allow {
        return Err(format!(
            "internal error: a counterexample was decided {} by the evaluator ({}); please report it",
            decision.decision.as_str(),
            decision.reasons.join("; ")
        ));
    }
    if let Some(c) = condition {
        let value = writ_evaluator::reference::claim_condition(policy.ir(), &req, c);
        if value != Tri::True {
            return Err(format!(
                "internal error: a counterexample's condition is {value}, not true; please report it"
            ));
        }
    }
    Ok(decision.rules.first().map(|r| r.to_string()).unwrap_or_default())
}

#[cfg(test)]
mod tests;
