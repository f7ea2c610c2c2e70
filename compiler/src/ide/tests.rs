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
fn enum_typos_and_quoted_literals_have_preferred_fixes() {
    let text = "tool deploy(env: \"staging\" | \"prod\", pr: int)\nrole dev {\n  may deploy when env == \"stagin\"\n  may deploy when pr == \"17\"\n}\nworkflow w {\n  start by dev\n  allow deploy when caller.kind == \"agent\"\n}\n";
    with(text, |a| {
        let fixes = a.fixes(0, Span::new(0, text.len()));
        let applied: Vec<(String, String)> = fixes
            .iter()
            .filter(|f| f.preferred)
            .flat_map(|f| &f.edits)
            .map(|e| {
                let span = e.location.span;
                (text[span.start as usize..span.end as usize].to_string(), e.text.clone())
            })
            .collect();
        for want in [("\"stagin\"", "\"staging\""), ("\"17\"", "17"), ("\"agent\"", "agent")] {
            assert!(
                applied.contains(&(want.0.to_string(), want.1.to_string())),
                "{want:?} not in {applied:?}"
            );
        }
    });
}

#[test]
fn tests_run() {
    with(POLICY, |a| {
        let run = run_test(a.db, a.policy, "t").unwrap();
        assert!(run.passed, "{}", run.summary());
        let missing = run_test(a.db, a.policy, "no such test").unwrap_err();
        assert_eq!(missing, RunTestError::NoSuchTest("no such test".into()));
        assert_eq!(missing.to_string(), "there is no test `no such test` in this policy");
    });
}

const V2: &str = r#"role dev {
  may sh.run
  may fs.edit
  may deploy
}
role lead
tool sh.run(command: command) [exec]
tool fs.edit(file: path, text: string) [file]
tool deploy(env: "staging" | "prod") [prod]
tool secrets.get(name: string) [secret]
evidence approval by human

workflow coding {
  start by dev
  allow sh.run when command runs only [["git", "status"], ["ls", ...]]
  allow fs.edit when file under "src"
  allow deploy when calls(deploy within 24h) < 3
}
deny sh.run when command runs ["rm", ..., "-*r*", ...]
deny [secret] when calls([secret]) > 0

assert "no deletes" {
  never allow via coding sh.run when command runs ["rm", ...]
  never start coding when given(approval by lead) < 1
}

fixture ann = human [dev]
test "history" {
  expect allow: ann via coding calls deploy(env: "prod") in "/w" at "2026-12-02T16:00:00Z" after [deploy 2h ago, secrets.get at "2026-12-02T15:00:00Z"]
}
"#;

/// The labels offered at the end of `typed`, added as a new line of the workflow `coding`.
fn labels_in_workflow(typed: &str) -> Vec<String> {
    let text = V2.replacen("  start by dev\n", &format!("  start by dev\n{typed}\n"), 1);
    let at = text.find(&format!("{typed}\n")).unwrap() + typed.len();
    with(&text, |a| a.completions(0, at).items.into_iter().map(|c| c.label).collect())
}

/// The labels offered at the end of `typed`, appended to the file.
fn labels_at_end(typed: &str) -> Vec<String> {
    let text = format!("{V2}{typed}");
    with(&text, |a| a.completions(0, text.len()).items.into_iter().map(|c| c.label).collect())
}

#[test]
fn completion_of_v2_operators_after_command_and_path_arguments() {
    assert_eq!(labels_in_workflow("  allow sh.run when command "), ["runs", "runs only"]);
    assert_eq!(labels_in_workflow("  allow sh.run when not command "), ["runs", "runs only"]);
    assert_eq!(labels_in_workflow("  allow fs.edit when file "), ["under"]);
    assert_eq!(labels_in_workflow("  allow sh.run when command runs "), ["only"]);
    // A string argument gets no v2 operator.
    let text = labels_in_workflow("  allow fs.edit when text ");
    assert!(!text.iter().any(|l| l == "under" || l == "runs"), "{text:?}");
    // Condition starts offer `calls(`; `given(` only inside an assertion.
    let starts = labels_in_workflow("  allow sh.run when ");
    assert!(starts.contains(&"command".to_string()), "{starts:?}");
    assert!(starts.contains(&"calls(".to_string()), "{starts:?}");
    assert!(!starts.contains(&"given(".to_string()), "{starts:?}");
}

#[test]
fn completion_inside_calls() {
    let target = labels_in_workflow("  allow deploy when calls(");
    for want in ["deploy", "sh.run", "secrets.*", "[secret]", "[exec]", "*"] {
        assert!(target.contains(&want.to_string()), "{want}: {target:?}");
    }
    assert!(!target.contains(&"initiator".to_string()), "not a condition: {target:?}");
    assert_eq!(
        labels_in_workflow("  allow deploy when calls(["),
        ["exec", "file", "prod", "secret"]
    );
    assert_eq!(
        labels_in_workflow("  allow deploy when calls([exec, "),
        ["exec", "file", "prod", "secret"]
    );
    assert_eq!(labels_in_workflow("  allow deploy when calls(deploy "), ["within"]);
    assert_eq!(labels_in_workflow("  allow deploy when calls([prod] "), ["within"]);
    assert!(labels_in_workflow("  allow deploy when calls(deploy within ").is_empty());
}

#[test]
fn completion_of_assertions_types_and_test_clauses() {
    assert!(labels_at_end("").contains(&"assert".to_string()));
    assert_eq!(labels_at_end("assert \"x\" {\n  "), ["never allow", "never start"]);
    assert_eq!(labels_at_end("assert \"x\" {\n  never "), ["allow", "start"]);
    assert_eq!(labels_at_end("assert \"x\" {\n  never start "), ["coding"]);
    let allow = labels_at_end("assert \"x\" {\n  never allow ");
    assert_eq!(allow.first().map(String::as_str), Some("via"), "{allow:?}");
    assert!(allow.contains(&"sh.run".to_string()), "{allow:?}");
    let via = labels_at_end("assert \"x\" {\n  never allow via coding ");
    assert!(via.contains(&"sh.run".to_string()) && !via.contains(&"via".to_string()), "{via:?}");
    assert_eq!(labels_at_end("assert \"x\" {\n  never allow sh.run "), ["when", "unless"]);
    // In a claim's condition: the target's arguments, and `given(`.
    let cond = labels_at_end("assert \"x\" {\n  never allow via coding sh.run when ");
    assert!(
        cond.contains(&"command".to_string()) && cond.contains(&"given(".to_string()),
        "{cond:?}"
    );
    assert_eq!(
        labels_at_end("assert \"x\" {\n  never allow via coding sh.run when command "),
        ["runs", "runs only"]
    );
    assert_eq!(labels_at_end("assert \"x\" {\n  never start coding when given("), ["approval"]);
    // Types: `command` and `path` for tools only.
    assert_eq!(
        labels_at_end("tool t(a: "),
        ["string", "int", "bool", "duration", "[string]", "command", "path"]
    );
    assert_eq!(labels_at_end("attribute a: "), ["string", "int", "bool", "duration", "[string]"]);
    // Test requests: the clauses after the last one written, in order.
    let req = "test \"t\" {\n  expect allow: ann via coding calls deploy(env: \"prod\") ";
    assert_eq!(labels_at_end(req), ["with", "context", "in", "at", "after"]);
    assert_eq!(labels_at_end(&format!("{req}in \"/w\" ")), ["at", "after"]);
    assert_eq!(labels_at_end(&format!("{req}at \"T\" ")), ["after"]);
    let after = labels_at_end(&format!("{req}after ["));
    assert!(after.contains(&"deploy".to_string()) && after.contains(&"sh.run".to_string()));
    assert_eq!(labels_at_end(&format!("{req}after [deploy ")), ["at"]);
    assert_eq!(labels_at_end(&format!("{req}after [deploy 2h ")), ["ago"]);
    assert!(labels_at_end(&format!("{req}after [deploy 2h ago, ")).contains(&"deploy".to_string()));
    // On the next line: another expectation, or the request goes on.
    assert_eq!(
        labels_at_end(&format!("{req}\n    ")),
        ["expect", "with", "context", "in", "at", "after"]
    );
}

#[test]
fn hover_on_v2_keywords_types_and_arguments() {
    with(V2, |a| {
        let hover = |needle: &str, delta: usize| {
            let (span, text) = a.hover(0, at(V2, needle) + delta).unwrap();
            (V2.get(span.range()).unwrap().to_string(), text)
        };
        let (w, t) = hover("runs only", 0);
        assert_eq!(w, "runs");
        assert!(
            t.starts_with("```writ\nCOMMAND runs only") && t.contains("meant for allows"),
            "{t}"
        );
        let (w, t) = hover("only [[", 1);
        assert_eq!(w, "only");
        assert!(t.contains("runs only"), "{t}");
        let (_, t) = hover("runs [\"rm\"", 0);
        assert!(t.starts_with("```writ\nCOMMAND runs [") && t.contains("meant for denies"), "{t}");
        assert!(t.contains("not dynamic"), "{t}");
        let (w, t) = hover("under", 2);
        assert_eq!(w, "under");
        assert!(t.contains("`cwd`"), "{t}");
        let (w, t) = hover("calls(deploy", 0);
        assert_eq!(w, "calls");
        assert!(t.contains("history"), "{t}");
        let (_, t) = hover("within", 0);
        assert!(t.contains("`time`"), "{t}");
        let (w, t) = hover("...", 1);
        assert_eq!(w, "...");
        assert!(t.contains("any number of words"), "{t}");
        let (_, t) = hover("assert", 0);
        assert!(t.contains("writ verify"), "{t}");
        let (_, t) = hover("never allow", 0);
        assert!(t.starts_with("```writ\nnever allow"), "{t}");
        let (_, t) = hover("never start", 0);
        assert!(t.starts_with("```writ\nnever start"), "{t}");
        let (_, t) = hover("given", 0);
        assert!(t.contains("distinct givers"), "{t}");
        let (w, t) = hover(" ago", 1);
        assert_eq!(w, "ago");
        assert!(t.contains("`at`"), "{t}");
        let (w, t) = hover("after [", 0);
        assert_eq!(w, "after");
        assert!(t.contains("history"), "{t}");
        // Types where they are written, and arguments of those types.
        let (w, t) = hover("command) [exec]", 0);
        assert_eq!(w, "command");
        assert!(t.starts_with("```writ\ncommand\n```") && t.contains("bash"), "{t}");
        let (_, t) = hover("path,", 0);
        assert!(t.starts_with("```writ\npath\n```"), "{t}");
        let (w, t) = hover("command runs only", 0);
        assert_eq!(w, "command");
        assert!(t.starts_with("```writ\ncommand: command  // argument of sh.run\n```"), "{t}");
        assert!(t.contains("`runs only`"), "{t}");
        let (_, t) = hover("file under", 0);
        assert!(t.starts_with("```writ\nfile: path  // argument of fs.edit"), "{t}");
        assert!(t.contains("resolved"), "{t}");
        // The v1 keywords still describe their rule.
        let (_, t) = hover("allow fs.edit", 0);
        assert!(t.starts_with("**allow:**"), "{t}");
    });
}

#[test]
fn semantic_tokens_of_v2() {
    with(V2, |a| {
        let classes: Vec<(String, TokenClass)> = a
            .semantic_tokens(0)
            .into_iter()
            .map(|(s, c, _)| (V2.get(s.range()).unwrap().to_string(), c))
            .collect();
        let class_of = |word: &str, nth: usize| {
            classes
                .iter()
                .filter(|(w, _)| w == word)
                .nth(nth)
                .map(|(_, c)| *c)
                .unwrap_or_else(|| panic!("no {word} #{nth}"))
        };
        for kw in ["runs", "only", "under", "calls", "within", "assert", "never", "given"] {
            assert_eq!(class_of(kw, 0), TokenClass::Keyword, "{kw}");
        }
        assert_eq!(class_of("...", 0), TokenClass::Operator);
        assert_eq!(classes.iter().filter(|(w, _)| w == "...").count(), 4);
        assert!(!classes.iter().any(|(w, _)| w == "."), "`...` is one token");
        assert_eq!(class_of("\"git\"", 0), TokenClass::String);
        assert_eq!(class_of("\"-*r*\"", 0), TokenClass::String);
        // `command: command`: the argument, then its type.
        assert_eq!(class_of("command", 0), TokenClass::Symbol(SymbolKind::Argument));
        assert_eq!(class_of("command", 1), TokenClass::Builtin);
        assert_eq!(class_of("path", 0), TokenClass::Builtin);
        assert_eq!(class_of("command", 2), TokenClass::Symbol(SymbolKind::Argument));
        assert_eq!(class_of("file", 1), TokenClass::Symbol(SymbolKind::Tag));
        assert_eq!(class_of("file", 2), TokenClass::Symbol(SymbolKind::Argument));
        // Run clauses: keywords there; the tools of `after` are tools.
        for kw in ["at", "after", "ago"] {
            assert_eq!(class_of(kw, 0), TokenClass::Keyword, "{kw}");
        }
        assert_eq!(
            class_of("secrets.get", 1),
            TokenClass::Symbol(SymbolKind::Declared(Namespace::Tool))
        );
        assert_eq!(class_of("secret", 1), TokenClass::Symbol(SymbolKind::Tag));
    });
    // Elsewhere the contextual words are names.
    let text = "tool t(within: int, at: int, after: int, ago: int)\ndeny t when within == at and after > ago\n";
    with(text, |a| {
        let keywords: Vec<&str> = a
            .semantic_tokens(0)
            .into_iter()
            .filter(|(_, c, _)| *c == TokenClass::Keyword)
            .filter_map(|(s, _, _)| text.get(s.range()))
            .collect();
        assert_eq!(keywords, ["tool", "deny", "when", "and"]);
    });
}

#[test]
fn history_entries_name_tools() {
    with(V2, |a| {
        let refs = a.references(0, at(V2, "secrets.get("), false);
        assert_eq!(refs.len(), 1, "{refs:?}");
        assert_eq!(refs[0].span.start as usize, at(V2, "secrets.get at"));
    });
}
