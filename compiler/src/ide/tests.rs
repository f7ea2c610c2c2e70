use super::*;
use crate::db::Compiler;

const POLICY: &str = r#"/// People who build.
role engineer {
  may repo.*
  may deploy when env == "staging"
}
role senior extends engineer {
  may deploy
}
attribute team: string
context business_hours: bool
tool repo.push(repo: string, branch: string) [write]
tool deploy(env: "staging" | "prod", service: string) [write, prod]
evidence ticket(project: string)
evidence approval by human

workflow release {
  start by senior
  allow deploy when env == "prod" require approval by senior, ticket(project: "REL")
  allow repo.push
}
deny [prod] when initiator.team == "x"

fixture alice = human [senior] { team: "platform" }
test "t" {
  expect pending: alice via release calls deploy(env: "prod", service: "a")
}
"#;

fn at(text: &str, needle: &str) -> usize {
    text.find(needle).unwrap()
}

fn with<T>(text: &str, f: impl FnOnce(&Analysis) -> T) -> T {
    let c = Compiler::new(vec![("p.writ".into(), text.into())]);
    let a = Analysis::new(&c.db, c.policy);
    f(&a)
}

#[test]
fn definitions_and_references() {
    with(POLICY, |a| {
        let use_ = at(POLICY, "engineer {");
        let def = a.definition(0, at(POLICY, "extends engineer") + 9).unwrap();
        assert_eq!(def.span.start as usize, use_);
        let refs = a.references(0, use_, true);
        assert_eq!(refs.len(), 2);
        let senior = a.references(0, at(POLICY, "senior extends"), false);
        assert_eq!(senior.len(), 3, "start by, approval by, fixture roles");
    });
}

#[test]
fn rename_is_refused_for_keywords_and_taken_names() {
    with(POLICY, |a| {
        let o = at(POLICY, "senior extends");
        assert!(a.rename(0, o, "allow").unwrap_err().contains("reserved"));
        assert!(a.rename(0, o, "engineer").unwrap_err().contains("already declared"));
        assert_eq!(a.rename(0, o, "lead").unwrap().len(), 4);
    });
}

#[test]
fn hover_describes_roles_and_rules() {
    with(POLICY, |a| {
        let (_, text) = a.hover(0, at(POLICY, "senior extends")).unwrap();
        assert!(text.contains("(from `engineer`)"), "{text}");
        let (_, rule) = a.hover(0, at(POLICY, "allow deploy")).unwrap();
        assert!(rule.starts_with("**allow:** workflow `release` may call `deploy`"), "{rule}");
    });
}

#[test]
fn completion_contexts() {
    let cases = [
        ("start by ", "senior", "  start by se"),
        ("allow ", "repo.*", "  allow "),
        ("require ", "ticket", "require app"),
        ("ticket(", "project", "ticket("),
        ("env == ", "\"prod\"", "when env == "),
        ("initiator.", "team", "initiator.t"),
    ];
    for (_, want, typed) in cases {
        let text = format!(
            "{POLICY}\nworkflow w2 {{\n  allow deploy when env == \"x\" require ticket(project: \"a\")\n{typed}"
        );
        let text = text.as_str();
        with(text, |a| {
            let got = a.completions(0, text.len());
            assert!(got.items.iter().any(|c| c.label == want), "{typed}: {:?}", got.items);
        });
    }
}

#[test]
fn fixes_from_diagnostics() {
    let text = "role dev\ntool ping\nworkflow w {\n  start by devv\n  allow pingg\n}\n";
    with(text, |a| {
        let fixes = a.fixes(0, Span::new(0, text.len()));
        let titles: Vec<&str> = fixes.iter().map(|f| f.title.as_str()).collect();
        assert!(titles.contains(&"change to `dev`"), "{titles:?}");
        assert!(titles.contains(&"declare `tool pingg`"), "{titles:?}");
    });
}

#[test]
fn tests_run() {
    with(POLICY, |a| {
        let run = run_test(a.db, a.policy, "t").unwrap();
        assert!(run.passed, "{}", run.summary());
    });
}

#[test]
fn did_you_mean_is_parsed() {
    assert_eq!(did_you_mean("did you mean `dev`?"), Some("dev"));
    assert_eq!(did_you_mean("declare it"), None);
}
