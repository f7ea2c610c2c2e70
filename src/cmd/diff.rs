//! `writ diff OLD NEW`: what a policy change does to each role's reach, and to recorded requests.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Serialize;
use writ_compiler::reach::{self, CallPath, Reach, Subject};
use writ_compiler::verify::diff::{Unsettled, Widening};
use writ_evaluator::{Decision, Policy, Request};

use crate::output::{self, FAILED, OK, USAGE};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    Human,
    Json,
    /// For a pull-request comment.
    Markdown,
}

struct Options<'a> {
    pub old: &'a Path,
    pub new: &'a Path,
    pub requests: Option<&'a str>,
    pub format: DiffFormat,
    pub fail_on_widen: bool,
}

/// One change in one role's reach.
#[derive(Serialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ReachChange {
    role: String,
    /// `gained`, `lost` or `changed`.
    change: &'static str,
    workflow: String,
    /// `None` for a change in who may start the workflow.
    tool: Option<String>,
    /// What held before and after (conditions and evidence), where it exists.
    before: Option<String>,
    after: Option<String>,
    /// One sentence for people.
    summary: String,
}

#[derive(Serialize)]
struct DecisionChange {
    line: usize,
    request: String,
    old: serde_json::Value,
    new: serde_json::Value,
}

#[derive(Serialize)]
struct DiffReport {
    old_policy: String,
    new_policy: String,
    /// Whether some request is let further by NEW than by OLD (a widening below, an unsettled
    /// pair, or a recorded request whose decision went from deny or pending to allow).
    widened: bool,
    /// Requests NEW allows (or leaves pending) that OLD denies, or NEW allows and OLD leaves
    /// pending: one witness per workflow and tool (or start), found by the decision procedure
    /// of `writ verify` and decided by both policies.
    widenings: Vec<Widening>,
    /// Workflows and tools the procedure could not settle (counted as widened).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unsettled: Vec<Unsettled>,
    /// How each role's reach reads before and after (`writ reach`), for reviewers.
    reach: Vec<ReachChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requests: Option<RequestSummary>,
}

#[derive(Serialize)]
struct RequestSummary {
    decided: usize,
    malformed: usize,
    changed: Vec<DecisionChange>,
    /// Changed requests whose decision went from deny or pending to allow.
    widened: usize,
}

/// A path as one line: the rule's condition and its evidence.
fn path_text(p: &CallPath) -> String {
    let mut s = p.condition.clone().unwrap_or_else(|| "always".into());
    if !p.evidence.is_empty() {
        let ev: Vec<String> = p.evidence.iter().map(|r| r.text.clone()).collect();
        s.push_str(&format!(" requires {}", ev.join(", ")));
    }
    s
}

/// For one subject: (workflow, tool) → how it is reachable; workflow → how it starts.
struct Flat {
    starts: BTreeMap<String, String>,
    tools: BTreeMap<(String, String), String>,
}

fn flatten(r: &Reach) -> Flat {
    let mut starts = BTreeMap::new();
    let mut tools = BTreeMap::new();
    for w in r.workflows.iter().filter(|w| w.startable) {
        let how: Vec<String> = w
            .starts
            .iter()
            .map(|s| {
                let mut t = s.condition.clone().unwrap_or_else(|| "always".into());
                if !s.evidence.is_empty() {
                    let ev: Vec<String> = s.evidence.iter().map(|r| r.text.clone()).collect();
                    t.push_str(&format!(" requires {}", ev.join(", ")));
                }
                t
            })
            .collect();
        starts.insert(w.workflow.clone(), how.join(" | "));
        for t in w.tools.iter().filter(|t| t.reachable) {
            let how: Vec<String> = t.paths.iter().filter(|p| p.reachable).map(path_text).collect();
            tools.insert((w.workflow.clone(), t.tool.clone()), how.join(" | "));
        }
    }
    Flat { starts, tools }
}

fn compare(role: &str, old: Option<&Flat>, new: Option<&Flat>, out: &mut Vec<ReachChange>) {
    let empty = Flat { starts: BTreeMap::new(), tools: BTreeMap::new() };
    let (old, new) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
    let workflows: BTreeSet<&String> = old.starts.keys().chain(new.starts.keys()).collect();
    for w in workflows {
        match (old.starts.get(w), new.starts.get(w)) {
            (None, Some(after)) => out.push(ReachChange {
                role: role.into(),
                change: "gained",
                workflow: w.clone(),
                tool: None,
                before: None,
                after: Some(after.clone()),
                summary: format!("{role} can now start {w} ({after})"),
            }),
            (Some(before), None) => out.push(ReachChange {
                role: role.into(),
                change: "lost",
                workflow: w.clone(),
                tool: None,
                before: Some(before.clone()),
                after: None,
                summary: format!("{role} can no longer start {w}"),
            }),
            (Some(before), Some(after)) if before != after => out.push(ReachChange {
                role: role.into(),
                change: "changed",
                workflow: w.clone(),
                tool: None,
                before: Some(before.clone()),
                after: Some(after.clone()),
                summary: format!(
                    "{role} starts {w} under changed conditions: {after} (was {before})"
                ),
            }),
            _ => {}
        }
    }
    let keys: BTreeSet<&(String, String)> = old.tools.keys().chain(new.tools.keys()).collect();
    for key in keys {
        let (w, t) = key;
        match (old.tools.get(key), new.tools.get(key)) {
            (None, Some(after)) => out.push(ReachChange {
                role: role.into(),
                change: "gained",
                workflow: w.clone(),
                tool: Some(t.clone()),
                before: None,
                after: Some(after.clone()),
                summary: format!("{role} can now reach {t} via {w} ({after})"),
            }),
            (Some(before), None) => out.push(ReachChange {
                role: role.into(),
                change: "lost",
                workflow: w.clone(),
                tool: Some(t.clone()),
                before: Some(before.clone()),
                after: None,
                summary: format!("{role} can no longer reach {t} via {w}"),
            }),
            (Some(before), Some(after)) if before != after => out.push(ReachChange {
                role: role.into(),
                change: "changed",
                workflow: w.clone(),
                tool: Some(t.clone()),
                before: Some(before.clone()),
                after: Some(after.clone()),
                summary: format!(
                    "{role} reaches {t} via {w} under changed conditions: {after} (was {before})"
                ),
            }),
            _ => {}
        }
    }
}

fn load(path: &Path) -> Result<Policy, u8> {
    let compiler = output::compile(path)?;
    output::require_policy(&compiler, path)
}

fn reaches(policy: &Policy) -> BTreeMap<String, Flat> {
    Subject::roles(policy.ir())
        .iter()
        .map(|s| (s.name.clone(), flatten(&reach::reach(policy.ir(), s))))
        .collect()
}

fn outcome(d: &Decision) -> (String, BTreeSet<String>) {
    (d.decision.as_str().to_string(), d.missing.iter().map(|m| m.evidence.to_string()).collect())
}

fn replay(old: &Policy, new: &Policy, source: &str) -> Result<RequestSummary, u8> {
    let reader: Box<dyn std::io::Read> = if source == "-" {
        Box::new(std::io::stdin())
    } else {
        match std::fs::File::open(source) {
            Ok(f) => Box::new(f),
            Err(e) => {
                output::error(format_args!("cannot read requests `{source}`: {e}"));
                return Err(USAGE);
            }
        }
    };
    let mut summary = RequestSummary { decided: 0, malformed: 0, changed: Vec::new(), widened: 0 };
    for (index, line) in BufReader::new(reader).split(b'\n').enumerate() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                output::error(format_args!("cannot read requests `{source}`: {e}"));
                return Err(USAGE);
            }
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(request) = Request::from_slice(&line) else {
            summary.malformed += 1;
            continue;
        };
        summary.decided += 1;
        let (a, b) = (old.decide(&request), new.decide(&request));
        if outcome(&a) != outcome(&b) {
            if b.decision == writ_evaluator::Outcome::Allow && a.decision != b.decision {
                summary.widened += 1;
            }
            summary.changed.push(DecisionChange {
                line: index + 1,
                request: String::from_utf8_lossy(&line).trim().to_string(),
                old: a.to_value(),
                new: b.to_value(),
            });
        }
    }
    Ok(summary)
}

/// `writ diff OLD NEW [--requests FILE] [--format F] [--fail-on-widen]`.
#[derive(clap::Args)]
pub struct Args {
    /// The policy before the change (a `.writ` file or a directory).
    old: std::path::PathBuf,
    /// The policy after the change.
    new: std::path::PathBuf,
    /// JSON Lines of recorded requests (a file, or `-`): report each whose decision changes.
    #[arg(long)]
    requests: Option<String>,
    #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
    format: DiffFormat,
    /// Exit 1 when the change widens anything: some request is allowed (or left pending)
    /// under NEW that OLD denies, or allowed under NEW that OLD leaves pending.
    #[arg(long)]
    fail_on_widen: bool,
}

pub fn run(args: &Args) -> u8 {
    run_with(&Options {
        old: &args.old,
        new: &args.new,
        requests: args.requests.as_deref(),
        format: args.format,
        fail_on_widen: args.fail_on_widen,
    })
}

fn run_with(options: &Options) -> u8 {
    let old = match load(options.old) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let new = match load(options.new) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (old_reach, new_reach) = (reaches(&old), reaches(&new));
    let roles: BTreeSet<&String> = old_reach.keys().chain(new_reach.keys()).collect();
    let mut changes = Vec::new();
    for role in roles {
        compare(role, old_reach.get(role), new_reach.get(role), &mut changes);
    }
    let requests = match options.requests.map(|source| replay(&old, &new, source)).transpose() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let (widenings, unsettled) = writ_compiler::verify::diff::widenings(&old, &new);
    let widened = !widenings.is_empty()
        || !unsettled.is_empty()
        || requests.as_ref().is_some_and(|r| r.widened > 0);
    let report = DiffReport {
        old_policy: old.hash().to_string(),
        new_policy: new.hash().to_string(),
        widened,
        widenings,
        unsettled,
        reach: changes,
        requests,
    };
    match options.format {
        DiffFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                output::error(e);
                return USAGE;
            }
        },
        DiffFormat::Human => print!("{}", human(&report)),
        DiffFormat::Markdown => print!("{}", markdown(&report)),
    }
    if options.fail_on_widen && widened { FAILED } else { OK }
}

fn decision_line(d: &serde_json::Value) -> String {
    let mut s = d["decision"].as_str().unwrap_or("?").to_string();
    let missing: Vec<&str> = d["missing"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["evidence"].as_str())
        .collect();
    if !missing.is_empty() {
        s.push_str(&format!(" (missing {})", missing.join(", ")));
    }
    s
}

fn human(r: &DiffReport) -> String {
    let mut out = String::new();
    if r.reach.is_empty() {
        out.push_str("reach: no role's reach changed\n");
    } else {
        out.push_str("reach:\n");
        for c in &r.reach {
            let mark = match c.change {
                "gained" => "+",
                "lost" => "-",
                _ => "~",
            };
            out.push_str(&format!("  {mark} {}\n", c.summary));
        }
    }
    if let Some(req) = &r.requests {
        out.push_str(&format!(
            "\nrequests: {} decided, {} changed{}\n",
            req.decided,
            req.changed.len(),
            if req.malformed > 0 {
                format!(", {} malformed skipped", req.malformed)
            } else {
                String::new()
            }
        ));
        for c in &req.changed {
            out.push_str(&format!(
                "  line {}: {} -> {}\n",
                c.line,
                decision_line(&c.old),
                decision_line(&c.new)
            ));
            for reason in c
                .new
                .get("reasons")
                .and_then(|r| r.as_array())
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
            {
                out.push_str(&format!("    now: {reason}\n"));
            }
        }
    }
    widenings_human(r, &mut out);
    out.push_str(if r.widened {
        "\nreach widened: review this change for security\n"
    } else {
        "\nreach did not widen\n"
    });
    out
}

fn widening_title(w: &Widening) -> String {
    let what = match &w.tool {
        Some(t) => format!("{t} via {}", w.workflow),
        None => format!("starting {}", w.workflow),
    };
    let who = if w.roles.is_empty() { String::new() } else { format!(" ({})", w.roles.join(", ")) };
    format!("{what}{who}: {} -> {} (by {})", w.old, w.new, w.rule)
}

fn widenings_human(r: &DiffReport, out: &mut String) {
    if r.widenings.is_empty() && r.unsettled.is_empty() {
        out.push_str("\nwidenings: no request is let further\n");
        return;
    }
    out.push_str("\nwidenings:\n");
    for w in &r.widenings {
        out.push_str(&format!("  + {}\n    request: {}\n", widening_title(w), w.request));
    }
    for u in &r.unsettled {
        let what = u.tool.as_deref().map_or_else(
            || format!("starting {}", u.workflow),
            |t| format!("{t} via {}", u.workflow),
        );
        out.push_str(&format!("  ? {what}: not settled ({})\n", u.reason));
    }
}

fn markdown(r: &DiffReport) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let mut out = String::from("### writ: policy change\n\n");
    if r.reach.is_empty() {
        out.push_str("No role's reach changed.\n");
    } else {
        out.push_str(
            "| role | change | workflow | tool | before | after |\n|---|---|---|---|---|---|\n",
        );
        for c in &r.reach {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                esc(&c.role),
                c.change,
                esc(&c.workflow),
                c.tool.as_deref().map_or("(start)".to_string(), |t| format!("`{}`", esc(t))),
                c.before.as_deref().map_or("-".to_string(), |b| format!("`{}`", esc(b))),
                c.after.as_deref().map_or("-".to_string(), |a| format!("`{}`", esc(a))),
            ));
        }
    }
    if let Some(req) = &r.requests {
        out.push_str(&format!(
            "\n{} recorded requests decided, {} changed.\n",
            req.decided,
            req.changed.len()
        ));
        if !req.changed.is_empty() {
            out.push_str("\n| line | before | after |\n|---|---|---|\n");
            for c in &req.changed {
                out.push_str(&format!(
                    "| {} | {} | {} |\n",
                    c.line,
                    decision_line(&c.old),
                    decision_line(&c.new)
                ));
            }
        }
    }
    if !r.widenings.is_empty() {
        out.push_str("\nRequests let further:\n\n");
        for w in &r.widenings {
            out.push_str(&format!(
                "- {}: `{}`\n",
                esc(&widening_title(w)),
                esc(&w.request.to_string())
            ));
        }
    }
    out.push_str(if r.widened {
        "\n**Reach widened**: this change needs a security review.\n"
    } else {
        "\nReach did not widen.\n"
    });
    out
}
