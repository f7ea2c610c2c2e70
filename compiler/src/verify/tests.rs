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

#[test]
fn history_depth_and_conditional_evidence() {
    let text = r#"
role eng { may deploy when principal.team == "ops" or depth == 0 }
attribute team: string
tool deploy(env: "staging" | "prod") [write]
tool secrets.read(name: string) [secret]
evidence approval by human
workflow w {
  start by eng
  max_depth 2
  allow deploy when calls(deploy within 24h) < 3
}
require approval for deploy when env == "prod"
deny deploy when calls([secret]) > 0
assert "a" {
  never allow deploy when calls(deploy within 24h) >= 3
  never allow deploy when calls(deploy) >= 3
  never allow deploy when calls(secrets.read) > 0
  never allow deploy when env == "prod" and given(approval) == 0
  never allow deploy when env == "staging" and given(approval) == 0
  never allow deploy when depth == 2 and initiator.team != "ops"
  never allow deploy when depth == 1 and caller.kind == agent and initiator.team != "ops"
}
"#;
    assert_eq!(words(text), ["holds", "fails", "holds", "holds", "fails", "fails", "holds"]);
}

#[test]
fn paths_lists_and_ints() {
    let text = r#"
role dev { may edit
  may pay when amount <= 100 }
tool edit(file_path: path, tags: [string])
tool pay(amount: int)
workflow coding {
  start by dev
  allow edit when file_path under "/work" and all tags matches "ok-*"
  allow pay when amount > 10
}
deny edit when file_path under "/work/.github"
deny edit when tags contains "ok-secret"
assert "a" {
  never allow edit when file_path under "/work/.github/workflows"
  never allow edit when file_path matches "/etc/*"
  never allow edit when file_path matches "/work/*"
  never allow edit when any tags matches "ok-s*"
  never allow edit when tags contains "ok-secret"
  never allow pay when amount > 100
  never allow pay when amount == 100
  never allow pay when amount < 11
}
"#;
    assert_eq!(
        words(text),
        ["holds", "holds", "fails", "fails", "holds", "holds", "fails", "holds"]
    );
}

#[test]
fn relative_under_depends_on_the_cwd() {
    let text = r#"
role dev { may edit }
tool edit(file_path: path)
workflow coding {
  start by dev
  allow edit when file_path under "."
}
deny edit when file_path under ".github/workflows"
assert "a" {
  never allow edit when file_path matches "/etc/*"
  never allow edit when file_path matches "*/.github/workflows/*"
}
"#;
    // With cwd /etc, /etc/x is under "."; the second: with cwd /w, /w/a/.github/workflows/x
    // is not under /w/.github/workflows.
    let v = verdicts(text);
    assert_eq!(v.first().map(Verdict::word), Some("fails"));
    assert_ne!(v.get(1).map(Verdict::word), Some("holds"));
}
