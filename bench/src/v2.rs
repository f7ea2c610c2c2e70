//! Language version 2 workloads (LANGUAGE.md §8–10), measured for the report's "Commands,
//! paths and history" section against the targets of the v2 issue:
//!
//! - **Shell**: parsing a 200-character command line of 5 simple commands and matching it
//!   against a 20-pattern `runs only` list and 5 `runs` denies (the analysis alone: one
//!   `shell::parse`, one `runs_only`, five `runs`), median under 5 µs; and the whole decision
//!   through a compiled policy with those rules.
//! - **Paths**: a decision on a `path` argument within 1.2× of the same decision on a `string`
//!   argument (same rules, same value: a canonical absolute path, which resolution borrows);
//!   and, for information, a relative path joined to `cwd`.
//! - **History**: a decision whose allow reads `calls(deploy within 24h)` over a 1,000-entry
//!   history, under 20 µs.
//!
//! Every request is decoded once, outside the timed loop; what is timed is `Policy::decide`.

use std::fmt::Write;

use writ_evaluator::shell::{self, CommandLine, Pattern, PatternItem};
use writ_evaluator::{Outcome, Policy, Request, Timestamp};

use crate::measure::{Budget, Stats, fmt_ns, sample};
use crate::writ::compile;

/// The 20 patterns of the shell workload's `runs only` list.
const ALLOWED: &[&[&str]] = &[
    &["git", "status"],
    &["git", "diff", "..."],
    &["git", "log", "..."],
    &["git", "add", "..."],
    &["git", "commit", "..."],
    &["git", "show", "..."],
    &["git", "branch", "..."],
    &["cargo", "test", "..."],
    &["cargo", "build", "..."],
    &["cargo", "clippy", "..."],
    &["cargo", "fmt", "..."],
    &["ls", "..."],
    &["cat", "..."],
    &["head", "..."],
    &["tail", "..."],
    &["grep", "..."],
    &["rg", "..."],
    &["wc", "..."],
    &["sort", "..."],
    &["echo", "..."],
];

/// The 5 `runs` denies of the shell workload.
const DENIED: &[&[&str]] = &[
    &["rm", "...", "-*r*", "..."],
    &["git", "push", "...", "--force*", "..."],
    &["curl", "..."],
    &["sudo", "..."],
    &["chmod", "...", "777", "..."],
];

/// 200 characters, 5 simple commands, quotes, a pipe, `&&` and `;`.
const COMMAND_LINE: &str = "git status && cargo test --workspace --release -- --nocapture 2>&1 | grep -v 'warning: unused' ; git diff --stat HEAD~3 -- src/ tests/ && rg --line-number \"fn main\" src/bin/ examples/";

fn pattern_text(items: &[&str]) -> String {
    let items: Vec<String> = items
        .iter()
        .map(|i| if *i == "..." { "...".to_owned() } else { format!("{i:?}") })
        .collect();
    format!("[{}]", items.join(", "))
}

fn pattern(items: &[&str]) -> Pattern {
    Pattern::new(
        items
            .iter()
            .map(
                |i| {
                    if *i == "..." { PatternItem::Rest } else { PatternItem::Word((*i).to_owned()) }
                },
            )
            .collect(),
    )
}

fn shell_policy() -> String {
    let allowed: Vec<String> = ALLOWED.iter().map(|p| pattern_text(p)).collect();
    let mut text = format!(
        "tool sh.run(command: command) [exec]\n\
         role dev {{\n  may sh.run\n}}\n\
         workflow coding {{\n  start by dev\n  allow sh.run when command runs only [{}]\n}}\n",
        allowed.join(", ")
    );
    for p in DENIED {
        let _ = writeln!(text, "deny sh.run when command runs {}", pattern_text(p));
    }
    text
}

const PATH_POLICY: &str = "\
tool fs.read(file: path)
tool fs.read_text(file: string)
role dev {
  may fs.read
  may fs.read_text
}
workflow coding {
  start by dev
  allow fs.read when file matches \"/work/app/*\"
  allow fs.read_text when file matches \"/work/app/*\"
}
deny fs.read when file matches \"/work/app/.env*\"
deny fs.read_text when file matches \"/work/app/.env*\"
";

const HISTORY_POLICY: &str = "\
tool deploy(env: string) [prod]
tool sh.run(command: string) [exec]
tool fs.read(file: string)
role dev {
  may deploy
}
workflow release {
  start by dev
  allow deploy when calls(deploy within 24h) < 3
}
";

const CHAIN: &str =
    r#"[{"id": "alice", "kind": "human", "roles": ["dev"]}, {"id": "agent/1", "kind": "agent"}]"#;

fn load(text: &str) -> Policy {
    let ir = compile(&[("v2.writ".to_owned(), text.to_owned())]);
    match Policy::from_ir(ir) {
        Ok(policy) => policy,
        Err(e) => panic!("the v2 bench policy loads: {e}"),
    }
}

fn request(json: &str) -> Request<'static> {
    match Request::from_json(json) {
        Ok(r) => r.into_owned(),
        Err(e) => panic!("the v2 bench request decodes: {e}"),
    }
}

fn call(workflow: &str, tool: &str, args: &str, extra: &str) -> Request<'static> {
    request(&format!(
        r#"{{"action": "call", "workflow": "{workflow}", "tool": "{tool}", "args": {args}, "chain": {CHAIN}{extra}}}"#
    ))
}

/// The results of the v2 workloads.
pub struct V2Results {
    /// Parse + `runs only` (20 patterns) + 5 `runs`, no policy.
    pub shell_analysis: Stats,
    /// The whole decision with those rules.
    pub shell_decision: Stats,
    /// Parse alone (the fast path takes this line).
    pub shell_parse: Stats,
    /// Parse alone of a line the fast path leaves to brush-parser (the same line with one
    /// `$HOME` word).
    pub shell_parse_brush: Stats,
    pub string_decision: Stats,
    pub path_decision: Stats,
    pub relative_path_decision: Stats,
    pub history_decision: Stats,
    pub history_entries: usize,
}

/// Runs the workloads (a few seconds each; fewer samples with `quick`).
pub fn run(overhead: f64, quick: bool) -> V2Results {
    let budget = if quick {
        Budget { measure: std::time::Duration::from_millis(300), ..Budget::default() }
    } else {
        Budget::default()
    };

    // Shell.
    let allowed: Vec<Pattern> = ALLOWED.iter().map(|p| pattern(p)).collect();
    let denied: Vec<Pattern> = DENIED.iter().map(|p| pattern(p)).collect();
    let analysis = || {
        let CommandLine::Known(commands) = shell::parse(COMMAND_LINE) else {
            panic!("the bench command line parses");
        };
        let mut any = shell::runs_only(&commands, &allowed).result;
        for p in &denied {
            any = any.or(shell::runs(&commands, p).result);
        }
        any
    };
    if let CommandLine::Known(commands) = shell::parse(COMMAND_LINE) {
        assert_eq!(commands.len(), 5, "the bench command line has 5 simple commands");
    } else {
        panic!("the bench command line parses");
    }
    let shell_analysis = sample(1, budget, overhead, |_| {
        std::hint::black_box(analysis());
    });
    let shell_parse = sample(1, budget, overhead, |_| {
        std::hint::black_box(shell::parse(std::hint::black_box(COMMAND_LINE)));
    });
    let brush_line = COMMAND_LINE.replace("src/bin/", "$HOME/src/bin/");
    let shell_parse_brush = sample(1, budget, overhead, |_| {
        std::hint::black_box(shell::parse(std::hint::black_box(&brush_line)));
    });
    let policy = load(&shell_policy());
    let args = serde_json::json!({ "command": COMMAND_LINE }).to_string();
    let req = call("coding", "sh.run", &args, "");
    assert_eq!(policy.decide(&req).decision, Outcome::Allow, "the shell bench request is allowed");
    let shell_decision = sample(1, budget, overhead, |_| {
        std::hint::black_box(policy.decide(&req));
    });

    // Paths.
    let policy = load(PATH_POLICY);
    let as_string = call("coding", "fs.read_text", r#"{"file": "/work/app/src/main.rs"}"#, "");
    let as_path = call("coding", "fs.read", r#"{"file": "/work/app/src/main.rs"}"#, "");
    let relative =
        call("coding", "fs.read", r#"{"file": "src/../src/main.rs"}"#, r#", "cwd": "/work/app""#);
    for r in [&as_string, &as_path, &relative] {
        assert_eq!(
            policy.decide(r).decision,
            Outcome::Allow,
            "the path bench requests are allowed"
        );
    }
    let string_decision = sample(1, budget, overhead, |_| {
        std::hint::black_box(policy.decide(&as_string));
    });
    let path_decision = sample(1, budget, overhead, |_| {
        std::hint::black_box(policy.decide(&as_path));
    });
    let relative_path_decision = sample(1, budget, overhead, |_| {
        std::hint::black_box(policy.decide(&relative));
    });

    // History: 1,000 entries over the last 2 days, two deploys among them.
    let history_entries = 1_000;
    let Ok(now) = Timestamp::parse("2026-12-03T00:00:00Z") else {
        panic!("the bench time parses");
    };
    let mut entries = Vec::with_capacity(history_entries);
    for i in 0..history_entries {
        let tool = match i {
            100 | 900 => "deploy",
            i if i % 3 == 0 => "fs.read",
            _ => "sh.run",
        };
        // Oldest first, spread over the two days before the request's time.
        let ago = 2 * 86_400 - (i as i128) * 172;
        let at = Timestamp::from_unix_nanos(now.as_unix_nanos() - ago * 1_000_000_000);
        entries.push(serde_json::json!({
            "tool": tool,
            "at": at.map(|t| t.to_string()),
        }));
    }
    let extra = format!(
        r#", "time": "2026-12-03T00:00:00Z", "history": {}"#,
        serde_json::Value::from(entries)
    );
    let policy = load(HISTORY_POLICY);
    let req = call("release", "deploy", r#"{"env": "prod"}"#, &extra);
    assert_eq!(
        policy.decide(&req).decision,
        Outcome::Allow,
        "the history bench request is allowed"
    );
    let history_decision = sample(1, budget, overhead, |_| {
        std::hint::black_box(policy.decide(&req));
    });

    V2Results {
        shell_analysis,
        shell_decision,
        shell_parse,
        shell_parse_brush,
        string_decision,
        path_decision,
        relative_path_decision,
        history_decision,
        history_entries,
    }
}

fn met(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}

/// The report's section.
pub fn section(r: &V2Results) -> String {
    let mut out = String::from("## Commands, paths and history (language version 2)\n\n");
    out.push_str(
        "`Policy::decide` on prepared requests (and, for the shell, the analysis alone), timed \
         like the engines above; see `bench/src/v2.rs` for the policies and requests.\n\n",
    );
    let path_ratio = r.path_decision.median / r.string_decision.median;
    out.push_str("| target | measured | met |\n|---|---:|---|\n");
    let _ = writeln!(
        out,
        "| parse a 200-character line of 5 simple commands and match it against 20 `runs only` patterns and 5 `runs` denies: median < 5 µs | {} | {} |",
        fmt_ns(r.shell_analysis.median),
        met(r.shell_analysis.median < 5_000.0)
    );
    let _ = writeln!(
        out,
        "| a decision on a `path` argument within 1.2× of the same decision on a `string` | {path_ratio:.2}× | {} |",
        met(path_ratio <= 1.2)
    );
    let _ = writeln!(
        out,
        "| a decision reading `calls(deploy within 24h)` over {} history entries: < 20 µs | {} | {} |",
        r.history_entries,
        fmt_ns(r.history_decision.median),
        met(r.history_decision.median < 20_000.0)
    );
    out.push_str("\n| workload | median | p99 |\n|---|---:|---:|\n");
    for (name, s) in [
        ("shell: parse alone (the fast path)", &r.shell_parse),
        (
            "shell: parse alone of the line with one `$HOME` word (brush-parser)",
            &r.shell_parse_brush,
        ),
        ("shell: parse + 1 `runs only` (20 patterns) + 5 `runs`", &r.shell_analysis),
        ("shell: the whole decision with those rules", &r.shell_decision),
        ("path: the decision on a `string` argument", &r.string_decision),
        ("path: the same decision on a canonical `path` argument", &r.path_decision),
        ("path: a relative `path` joined to `cwd`", &r.relative_path_decision),
        ("history: `calls(deploy within 24h)` over 1,000 entries", &r.history_decision),
    ] {
        let _ = writeln!(out, "| {name} | {} | {} |", fmt_ns(s.median), fmt_ns(s.p99));
    }
    out.push('\n');
    out.push_str(
        "Command lines made only of plain words, simple quotes, `&&`, `||`, `;`, `|` and file \
         redirections (what agents send most) are read by a fast path; any other line \
         (expansions, globs, assignments, compound commands, `-c`, ...) is parsed by \
         brush-parser, whose tokenizer and PEG grammar allocate per token and per node. The fast \
         path is checked against brush-parser on every line it accepts by a differential test \
         (`evaluator/src/shell/tests.rs`), so the two cannot disagree on what a line runs.\n\n",
    );
    if r.shell_analysis.median >= 5_000.0 {
        out.push_str("The shell target is missed on this machine in this run.\n\n");
    }
    out
}
