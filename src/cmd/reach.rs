//! `writ reach`: access review. What each role (or one role, or one fixture principal) can
//! reach through the policy's agent workflows, computed statically from the compiled policy.
//! The analysis is `writ_compiler::reach`; this module picks the subjects and renders the
//! result as a table, JSON, Markdown, Graphviz DOT or a self-contained HTML page.

mod html;

use std::fmt::Write as _;
use std::path::Path;

use clap::ValueEnum;
use writ_compiler::reach::{
    self, CallPath, Reach, Report, Requirement, Subject, ToolReach, WorkflowReach,
};

use crate::output::{self, OK, USAGE};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReachFormat {
    /// For people: one block per subject, one aligned table per workflow.
    Table,
    /// The `writ_compiler::reach::Report` document (see docs/reach.md).
    Json,
    /// For pasting into a pull request.
    Markdown,
    /// Graphviz: subjects -> workflows -> tools.
    Dot,
    /// One self-contained page: the graph drawn as SVG, secret and prod tools marked, and the
    /// tables.
    Html,
}

struct Options<'a> {
    pub policy: &'a Path,
    pub role: Option<&'a str>,
    pub fixture: Option<&'a str>,
    pub format: ReachFormat,
}

/// `writ reach --policy PATH [--role R | --fixture F] [--format F]`.
#[derive(clap::Args)]
pub struct Args {
    /// The policy: a `.writ` file or a directory of them.
    #[arg(long)]
    policy: std::path::PathBuf,
    /// Only this role (default: every role).
    #[arg(long, conflicts_with = "fixture")]
    role: Option<String>,
    /// A `fixture` of the policy instead: its roles and attributes are known.
    #[arg(long)]
    fixture: Option<String>,
    #[arg(long, value_enum, default_value_t = ReachFormat::Table)]
    format: ReachFormat,
}

pub fn run(args: &Args) -> u8 {
    run_with(&Options {
        policy: &args.policy,
        role: args.role.as_deref(),
        fixture: args.fixture.as_deref(),
        format: args.format,
    })
}

fn run_with(o: &Options<'_>) -> u8 {
    let compiler = match output::compile(o.policy) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(code) = output::require_policy(&compiler, o.policy) {
        return code;
    }
    let Some(ir) = &compiler.compilation().policy else {
        return output::FAILED;
    };
    let subjects = match (o.role, o.fixture) {
        (Some(name), _) => match Subject::find_role(ir, name) {
            Some(s) => vec![s],
            None => {
                let names: Vec<&str> = ir.roles.iter().map(|r| r.name.as_str()).collect();
                unknown("role", name, &names);
                return USAGE;
            }
        },
        (None, Some(name)) => {
            let fixtures = reach::fixtures(&compiler, ir);
            match fixtures.iter().find(|f| f.name == name) {
                Some(f) => vec![f.clone()],
                None => {
                    let names: Vec<&str> = fixtures.iter().map(|f| f.name.as_str()).collect();
                    unknown("fixture", name, &names);
                    return USAGE;
                }
            }
        }
        (None, None) => Subject::roles(ir),
    };
    let report = reach::report(ir, &subjects);
    let text = match o.format {
        ReachFormat::Table => table(&report),
        ReachFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(s) => s + "\n",
            Err(e) => {
                output::error(e);
                return output::FAILED;
            }
        },
        ReachFormat::Markdown => markdown(&report),
        ReachFormat::Dot => dot(&report),
        ReachFormat::Html => html::page(&report),
    };
    print!("{text}");
    OK
}

fn unknown(what: &str, name: &str, names: &[&str]) {
    let hint = match writ_compiler::diagnostic::did_you_mean(name, names.iter().copied()) {
        Some(h) => h,
        None if names.is_empty() => format!("the policy declares no {what}s"),
        None => format!("the {what}s are: {}", names.join(", ")),
    };
    output::error(format_args!("unknown {what} `{name}`: {hint}"));
}

// ---------------------------------------------------------------------------------------------
// Shared wording

fn subject_line(r: &Reach) -> String {
    let s = &r.subject;
    let mut out = String::new();
    match s.origin {
        reach::Origin::Role => {
            let _ = write!(out, "role {}", s.name);
        }
        reach::Origin::Fixture => {
            let _ = write!(out, "fixture {} = {}", s.name, s.kind.as_deref().unwrap_or("?"));
            if !s.roles.is_empty() {
                let _ = write!(out, " [{}]", s.roles.join(", "));
            }
            if let Some(attrs) = &s.attributes
                && !attrs.is_empty()
            {
                let attrs: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                let _ = write!(out, " {{ {} }}", attrs.join(", "));
            }
        }
    }
    if s.holds.is_empty() {
        out.push_str(": holds no role");
    } else {
        let _ = write!(out, ": holds {}", s.holds.join(", "));
    }
    out
}

fn needs(evidence: &[Requirement]) -> String {
    needs_as(evidence, str::to_string)
}

/// The evidence of a path, `EVIDENCE` or `EVIDENCE when CONDITION`, each piece of writ syntax
/// passed through `code` (as is, Markdown or HTML).
fn needs_as(evidence: &[Requirement], code: impl Fn(&str) -> String) -> String {
    let items: Vec<String> = evidence
        .iter()
        .map(|r| match &r.when {
            Some(w) => format!("{} when {}", code(&r.text), code(w)),
            None => code(&r.text),
        })
        .collect();
    items.join(", ")
}

/// The cells of one path in a workflow's tools table: tool, tags, rule, needs, when. The tool
/// and its tags only on the tool's first path (`first`). Every renderer shares it; they differ
/// in how writ syntax is marked up (`code`), how a reason a path never applies is shown
/// (`never`), and what an empty cell holds (`none`).
fn path_cells(
    t: &ToolReach,
    first: bool,
    p: &CallPath,
    code: impl Fn(&str) -> String + Copy,
    never: impl Fn(&str) -> String,
    none: &str,
) -> [String; 5] {
    let (tool, tags) = if !first {
        (String::new(), String::new())
    } else if t.tags.is_empty() {
        (code(&t.tool), none.to_string())
    } else {
        let tags: Vec<String> = t.tags.iter().map(|t| code(t)).collect();
        (code(&t.tool), tags.join(", "))
    };
    let needs = if p.reachable && !p.evidence.is_empty() {
        needs_as(&p.evidence, code)
    } else {
        none.to_string()
    };
    let when = match (&p.never, &p.condition) {
        (Some(reason), _) => never(reason),
        (None, Some(c)) => code(c),
        (None, None) => "always".to_string(),
    };
    [tool, tags, code(&p.rule), needs, when]
}

fn start_text(w: &WorkflowReach) -> Vec<String> {
    starts_as(w, str::to_string)
}

/// One line per way to start `w`: `RULE when CONDITION, needs EVIDENCE` (or `RULE always`),
/// each piece of writ syntax passed through `code` (as is, Markdown or HTML).
fn starts_as(w: &WorkflowReach, code: impl Fn(&str) -> String + Copy) -> Vec<String> {
    w.starts
        .iter()
        .map(|s| {
            let mut line = match &s.condition {
                Some(c) => format!("{} when {}", code(&s.rule), code(c)),
                None => format!("{} always", code(&s.rule)),
            };
            if !s.evidence.is_empty() {
                let _ = write!(line, ", needs {}", needs_as(&s.evidence, code));
            }
            line
        })
        .collect()
}

fn tag_counts(r: &Reach) -> String {
    let tags: Vec<String> =
        r.summary.tags.iter().map(|t| format!("{} {}", t.tag, t.count)).collect();
    let n = r.summary.reachable_tools.len();
    if tags.is_empty() { n.to_string() } else { format!("{n} ({})", tags.join(", ")) }
}

fn secrets(r: &Reach) -> Vec<String> {
    r.summary
        .secrets
        .iter()
        .map(|s| {
            let what = if s.any {
                "any arguments".to_string()
            } else {
                s.patterns.iter().map(|p| p.text()).collect::<Vec<_>>().join(" or ")
            };
            format!("{} {what} via {}", s.tool, s.workflow)
        })
        .collect()
}

fn longest(r: &Reach) -> (String, String) {
    let depth = match &r.summary.max_depth {
        Some(d) => format!("{} ({})", d.depth, d.workflows.join(", ")),
        None => "none".to_string(),
    };
    let ttl = match &r.summary.max_ttl {
        Some(t) => format!("{} ({})", t.ttl, t.workflows.join(", ")),
        None => "none".to_string(),
    };
    (depth, ttl)
}

// ---------------------------------------------------------------------------------------------
// Table

/// Rows of cells, aligned on their widths (in characters); the last column is not padded.
fn aligned(rows: &[Vec<String>], indent: &str) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = indent.to_string();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let width = widths.get(i).copied().unwrap_or_default();
                let pad = width.saturating_sub(cell.chars().count()) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn table(report: &Report) -> String {
    let mut out = String::new();
    if report.subjects.is_empty() {
        out.push_str("the policy declares no roles\n");
    }
    for (i, r) in report.subjects.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&subject_line(r));
        out.push('\n');
        for note in &r.notes {
            let _ = writeln!(out, "  note: {note}");
        }
        for w in &r.workflows {
            out.push('\n');
            if !w.startable {
                let _ = writeln!(
                    out,
                    "  {}: cannot start ({})",
                    w.workflow,
                    w.never.as_deref().unwrap_or("")
                );
                continue;
            }
            let _ = writeln!(out, "  {}: max_depth {}, ttl {}", w.workflow, w.max_depth, w.ttl);
            for s in start_text(w) {
                let _ = writeln!(out, "    start {s}");
            }
            if w.tools.is_empty() {
                out.push_str("    it allows no tool\n");
                continue;
            }
            let mut rows = vec![vec![
                "TOOL".to_string(),
                "TAGS".to_string(),
                "RULE".to_string(),
                "NEEDS".to_string(),
                "WHEN".to_string(),
            ]];
            for t in &w.tools {
                for (n, p) in t.paths.iter().enumerate() {
                    let never = |reason: &str| format!("never: {reason}");
                    rows.push(path_cells(t, n == 0, p, str::to_string, never, "-").to_vec());
                }
            }
            out.push_str(&aligned(&rows, "    "));
        }
        let (depth, ttl) = longest(r);
        let startable = if r.summary.startable.is_empty() {
            "none".to_string()
        } else {
            r.summary.startable.join(", ")
        };
        let secrets = secrets(r);
        out.push('\n');
        out.push_str("  summary\n");
        let _ = writeln!(out, "    startable workflows: {startable}");
        let _ = writeln!(out, "    reachable tools: {}", tag_counts(r));
        if secrets.is_empty() {
            out.push_str("    secrets: none\n");
        } else {
            for s in secrets {
                let _ = writeln!(out, "    secrets: {s}");
            }
        }
        let _ = writeln!(out, "    longest delegation depth: {depth}");
        let _ = writeln!(out, "    longest ttl: {ttl}");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Markdown

/// Inline code, safe inside a table cell.
fn code(text: &str) -> String {
    let text = text.replace('|', "\\|");
    if text.contains('`') { format!("`` {text} ``") } else { format!("`{text}`") }
}

/// Plain text, safe inside a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Access review\n\nPolicy {}.", code(&report.policy));
    for r in &report.subjects {
        let s = &r.subject;
        let title = match s.origin {
            reach::Origin::Role => format!("Role {}", code(&s.name)),
            reach::Origin::Fixture => format!("Fixture {}", code(&s.name)),
        };
        let _ = writeln!(out, "\n## {title}\n");
        let _ = writeln!(out, "{}", cell(&subject_line(r)));
        for note in &r.notes {
            let _ = writeln!(out, "\n> {note}");
        }
        out.push_str("\n| Workflow | Start | max_depth | ttl |\n| --- | --- | --- | --- |\n");
        for w in &r.workflows {
            let start = if w.startable {
                starts_as(w, code).join("<br>")
            } else {
                format!("**cannot start**: {}", cell(w.never.as_deref().unwrap_or("")))
            };
            let _ =
                writeln!(out, "| {} | {start} | {} | {} |", code(&w.workflow), w.max_depth, w.ttl);
        }
        for w in r.workflows.iter().filter(|w| w.startable) {
            let _ = writeln!(out, "\n### {}\n", code(&w.workflow));
            out.push_str(
                "| Tool | Tags | Rule | Needs | When |\n| --- | --- | --- | --- | --- |\n",
            );
            for t in &w.tools {
                for (n, p) in t.paths.iter().enumerate() {
                    let never = |reason: &str| format!("**never**: {}", cell(reason));
                    let [tool, tags, rule, needs, when] = path_cells(t, n == 0, p, code, never, "");
                    let _ = writeln!(out, "| {tool} | {tags} | {rule} | {needs} | {when} |");
                }
            }
        }
        let (depth, ttl) = longest(r);
        out.push_str("\n**Summary**\n\n");
        let startable: Vec<String> = r.summary.startable.iter().map(|w| code(w)).collect();
        let _ = writeln!(
            out,
            "- Startable workflows: {}",
            if startable.is_empty() { "none".to_string() } else { startable.join(", ") }
        );
        let _ = writeln!(out, "- Reachable tools: {}", tag_counts(r));
        let secrets = secrets(r);
        let _ = writeln!(
            out,
            "- Secrets: {}",
            if secrets.is_empty() {
                "none".to_string()
            } else {
                secrets.iter().map(|s| code(s)).collect::<Vec<_>>().join("; ")
            }
        );
        let _ = writeln!(out, "- Longest delegation depth: {depth}");
        let _ = writeln!(out, "- Longest ttl: {ttl}");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// DOT

/// A DOT string literal (`\n` inside `label` stays a line break).
fn q(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn dot(report: &Report) -> String {
    let mut out = String::new();
    out.push_str("digraph reach {\n  rankdir=LR;\n");
    out.push_str("  node [fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    // Tools are shared by every subject: who reaches a secret shows at a glance.
    let mut tools: Vec<(&str, &[String])> = Vec::new();
    for r in &report.subjects {
        for w in r.workflows.iter().filter(|w| w.startable) {
            for t in w.tools.iter().filter(|t| t.reachable) {
                if !tools.iter().any(|(name, _)| *name == t.tool) {
                    tools.push((&t.tool, &t.tags));
                }
            }
        }
    }
    for (name, tags) in &tools {
        let secret = tags.iter().any(|t| t == "secret");
        let prod = tags.iter().any(|t| t == "prod");
        let label = if tags.is_empty() {
            name.to_string()
        } else {
            format!("{name}\n[{}]", tags.join(", "))
        };
        let style = if secret {
            ", style=filled, fillcolor=\"#f4b6b6\", color=\"#b00020\", penwidth=2"
        } else if prod {
            ", style=filled, fillcolor=\"#fbd9a6\", color=\"#c05800\", penwidth=2"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} [label={}, shape=box{style}];",
            q(&format!("tool:{name}")),
            q(&label)
        );
    }
    for r in &report.subjects {
        let s = &r.subject;
        let id = format!("subject:{}", s.name);
        let label = match s.origin {
            reach::Origin::Role => format!("role {}", s.name),
            reach::Origin::Fixture => format!("fixture {}", s.name),
        };
        let _ = writeln!(
            out,
            "  {} [label={}, shape=box, style=\"rounded,filled\", fillcolor=\"#dde7f7\"];",
            q(&id),
            q(&label)
        );
        for w in r.workflows.iter().filter(|w| w.startable) {
            let wid = format!("{}/{}", s.name, w.workflow);
            let _ = writeln!(
                out,
                "  {} [label={}, shape=ellipse];",
                q(&wid),
                q(&format!("{}\nmax_depth {}, ttl {}", w.workflow, w.max_depth, w.ttl))
            );
            let start = start_text(w).join("\n");
            let _ = writeln!(out, "  {} -> {} [label={}];", q(&id), q(&wid), q(&start));
            for t in w.tools.iter().filter(|t| t.reachable) {
                for p in t.paths.iter().filter(|p| p.reachable) {
                    let mut label = p.condition.clone().unwrap_or_else(|| "always".to_string());
                    if !p.evidence.is_empty() {
                        let _ = write!(label, "\nneeds {}", needs(&p.evidence));
                    }
                    let _ = writeln!(
                        out,
                        "  {} -> {} [label={}];",
                        q(&wid),
                        q(&format!("tool:{}", t.tool)),
                        q(&label)
                    );
                }
            }
        }
    }
    out.push_str("}\n");
    out
}
