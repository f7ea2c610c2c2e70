//! Running a policy's tests through the evaluator: `writ test` and the editors' "run test"
//! code lens.
//!
//! [`run_expectation`] is the one place that decides whether an expectation passed: the
//! compiler lowers it to request JSON, the evaluator decides it, and the outcome (and, for
//! `expect pending(...)`, the missing evidence kinds) must match.

use std::collections::BTreeSet;

use writ_evaluator::{Decision, Policy, Request, Trace};
use writ_grammar::ast::Outcome;

use crate::db::{PolicyInput, compile};
use crate::diagnostic::Location;
use crate::test_blocks::TestExpectation;
use crate::verify::{ClaimResult, Verdict};

/// The result of one `expect` line.
#[derive(Clone, Debug)]
pub struct ExpectationRun {
    pub location: Location,
    /// The expectation as written, whitespace collapsed.
    pub text: String,
    pub passed: bool,
    /// The decision, or `None` when the request did not decode (a bug in writ).
    pub decision: Option<Decision>,
    pub trace: Option<Trace>,
    /// Why it failed, in words: "expected allow, got deny: no rule allows ...".
    pub why: Option<String>,
}

/// The result of one test.
#[derive(Clone, Debug)]
pub struct TestRun {
    pub name: String,
    pub passed: bool,
    pub expectations: Vec<ExpectationRun>,
}

impl TestRun {
    /// One line for a person: `test "x" passed (2 expectations)` or why it failed.
    pub fn summary(&self) -> String {
        let n = self.expectations.len();
        if self.passed {
            return format!(
                "test \"{}\" passed ({n} expectation{})",
                self.name,
                if n == 1 { "" } else { "s" }
            );
        }
        let failed: Vec<String> = self
            .expectations
            .iter()
            .filter(|e| !e.passed)
            .map(|e| format!("`{}`: {}", e.text, e.why.as_deref().unwrap_or("failed")))
            .collect();
        format!("test \"{}\" failed: {}", self.name, failed.join("; "))
    }
}

pub fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Allow => "allow",
        Outcome::Deny => "deny",
        Outcome::Pending => "pending",
    }
}

/// Decides one expectation's request and compares the decision with what it expects.
pub fn run_expectation(policy: &Policy, e: &TestExpectation) -> ExpectationRun {
    let (decision, trace, why) = match Request::from_json(&e.request) {
        Ok(request) => {
            let (decision, trace) = policy.decide_explained(&request);
            let mut why = None;
            let got = decision.decision.as_str();
            if got != outcome_name(e.outcome) {
                let mut w = format!("expected {}, got {got}", outcome_name(e.outcome));
                if !decision.reasons.is_empty() {
                    w.push_str(&format!(": {}", decision.reasons.join("; ")));
                }
                why = Some(w);
            } else if let Some(want) = &e.missing {
                let have: BTreeSet<String> =
                    decision.missing.iter().map(|m| m.evidence.to_string()).collect();
                let want: BTreeSet<String> = want.iter().cloned().collect();
                if have != want {
                    let list =
                        |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
                    why = Some(format!(
                        "expected missing {}, got missing {}",
                        list(&want),
                        list(&have)
                    ));
                }
            }
            (Some(decision), Some(trace), why)
        }
        Err(err) => (None, None, Some(format!("the test request does not decode: {err}"))),
    };
    ExpectationRun {
        location: e.location,
        text: e.text.clone(),
        passed: why.is_none(),
        decision,
        trace,
        why,
    }
}

/// Why a test could not be run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunTestError {
    /// No test of the policy has this name.
    NoSuchTest(String),
    /// The policy has errors, so there is nothing to run the test against.
    PolicyHasErrors,
    /// The compiled policy did not load (a bug in writ): why.
    InvalidPolicy(String),
}

impl std::fmt::Display for RunTestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunTestError::NoSuchTest(name) => write!(f, "there is no test `{name}` in this policy"),
            RunTestError::PolicyHasErrors => {
                write!(f, "the policy has errors; fix them to run its tests")
            }
            RunTestError::InvalidPolicy(why) => write!(f, "the compiled policy is invalid: {why}"),
        }
    }
}

impl std::error::Error for RunTestError {}

/// Runs the test called `name` of a policy; an error when the policy has no such test or does
/// not compile.
pub fn run_test(
    db: &dyn salsa::Database,
    policy: PolicyInput,
    name: &str,
) -> Result<TestRun, RunTestError> {
    let compilation = compile(db, policy);
    let test = compilation
        .tests
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| RunTestError::NoSuchTest(name.to_string()))?;
    let ir = compilation.policy.as_ref().ok_or(RunTestError::PolicyHasErrors)?;
    let policy =
        Policy::from_ir(ir.clone()).map_err(|e| RunTestError::InvalidPolicy(e.to_string()))?;
    let expectations: Vec<ExpectationRun> =
        test.expectations.iter().map(|e| run_expectation(&policy, e)).collect();
    Ok(TestRun {
        name: name.to_string(),
        passed: expectations.iter().all(|e| e.passed),
        expectations,
    })
}

/// Why an assertion could not be verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// No assertion of the policy has this name.
    NoSuchAssertion(String),
    /// The policy has errors, so there is nothing to verify against.
    PolicyHasErrors,
    /// The compiled policy did not load (a bug in writ): why.
    InvalidPolicy(String),
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyError::NoSuchAssertion(name) => {
                write!(f, "there is no assertion `{name}` in this policy")
            }
            VerifyError::PolicyHasErrors => {
                write!(f, "the policy has errors; fix them to verify its assertions")
            }
            VerifyError::InvalidPolicy(why) => write!(f, "the compiled policy is invalid: {why}"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// The result of verifying one assertion: each claim's verdict.
#[derive(Clone, Debug)]
pub struct AssertionRun {
    pub name: String,
    pub claims: Vec<ClaimResult>,
}

impl AssertionRun {
    /// Every claim holds.
    pub fn holds(&self) -> bool {
        self.claims.iter().all(|c| c.verdict.holds())
    }

    /// The first claim that fails (with a counterexample), if any.
    pub fn failing(&self) -> Option<&ClaimResult> {
        self.claims.iter().find(|c| matches!(c.verdict, Verdict::Fails { .. }))
    }

    /// `holds`, `fails` or `unknown`, for the whole assertion: fails when any claim fails.
    pub fn word(&self) -> &'static str {
        if self.failing().is_some() {
            "fails"
        } else if self.holds() {
            "holds"
        } else {
            "unknown"
        }
    }

    /// One line for a person, with each claim that does not hold and its counterexample.
    pub fn summary(&self) -> String {
        let n = self.claims.len();
        if self.holds() {
            return format!(
                "assertion \"{}\" holds ({n} claim{}, every request)",
                self.name,
                if n == 1 { "" } else { "s" }
            );
        }
        let mut parts = Vec::new();
        for c in self.claims.iter().filter(|c| !c.verdict.holds()) {
            match &c.verdict {
                Verdict::Fails { counterexample, .. } => parts.push(format!(
                    "`{}` fails: {}; counterexample: {}",
                    c.text, c.reason, counterexample
                )),
                _ => parts.push(format!("`{}` is unknown: {}", c.text, c.reason)),
            }
        }
        format!("assertion \"{}\" {}: {}", self.name, self.word(), parts.join("; "))
    }
}

/// Verifies the assertion called `name` of a policy (every claim, over every request).
pub fn verify_assertion(
    db: &dyn salsa::Database,
    policy: PolicyInput,
    name: &str,
) -> Result<AssertionRun, VerifyError> {
    let compilation = compile(db, policy);
    let ir = compilation.policy.as_ref().ok_or(VerifyError::PolicyHasErrors)?;
    let assertion = compilation
        .assertions
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| VerifyError::NoSuchAssertion(name.to_string()))?;
    let policy =
        Policy::from_ir(ir.clone()).map_err(|e| VerifyError::InvalidPolicy(e.to_string()))?;
    let claims = crate::verify::verify(&policy, std::slice::from_ref(assertion));
    Ok(AssertionRun { name: name.to_string(), claims })
}
