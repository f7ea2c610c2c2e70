//! Claims decided on small policies: each answer, and every counterexample checked again.

use super::*;
use crate::Compiler;

/// The verdicts of a policy's claims, in source order.
pub(crate) fn verdicts(text: &str) -> Vec<Verdict> {
    let compiler = Compiler::new(vec![("p.writ".into(), text.into())]);
    let c = compiler.compilation();
    let errors: Vec<String> =
        c.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.clone()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let ir = c.policy.clone().expect("compiles");
    let policy = Policy::from_ir(ir).expect("loads");
    verify(&policy, &c.assertions).into_iter().map(|r| r.verdict).collect()
}

fn words(text: &str) -> Vec<&'static str> {
    verdicts(text).iter().map(Verdict::word).collect()
}

const RELEASE: &str = r#"
role engineer { may deploy }
role lead extends engineer
role security_reviewer
attribute team: string
tool deploy(env: "staging" | "prod", service: string) [write]
evidence approval by human
evidence tests_passed
workflow release {
  start by engineer
  ttl 30m
  allow deploy when env == "staging" require tests_passed
  allow deploy when env == "prod" require 2 approval by lead, tests_passed
}
deny start when initiator.kind == agent
"#;

#[test]
fn two_lead_approvals_hold_and_one_fails() {
    let text = format!(
        "{RELEASE}\nassert \"two leads\" {{\n  never allow deploy when env == \"prod\" and given(approval by lead) < 2\n  never allow deploy when env == \"prod\" and given(approval by lead) < 3\n  never allow deploy when given(tests_passed) == 0\n  never allow deploy when env == \"staging\"\n}}\n"
    );
    assert_eq!(words(&text), ["holds", "fails", "holds", "fails"]);
}

#[test]
fn starts() {
    let text = format!(
        "{RELEASE}\nassert \"s\" {{\n  never start release when initiator.kind == agent\n  never start release when initiator.kind == human\n  never start release when not initiator has role engineer\n}}\n"
    );
    assert_eq!(words(&text), ["holds", "fails", "holds"]);
}

#[test]
fn shell_claims_implied_by_a_deny() {
    let text = r#"
role dev { may sh.run }
tool sh.run(command: command)
workflow coding {
  start by dev
  allow sh.run when command runs only [["git", ...], ["rm", ...], ["ls"]]
}
deny sh.run when command runs ["rm", ..., "-*r*", ...]
assert "shell" {
  never allow via coding sh.run when command runs ["rm", "-rf", ...]
  never allow via coding sh.run when command runs ["rm", ...]
  never allow via coding sh.run when command runs ["curl", ...]
}
"#;
    // `git curl` runs only git and runs curl (from its second word).
    assert_eq!(words(text), ["holds", "fails", "fails"]);
}
