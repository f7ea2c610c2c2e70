//! Traces: how a decision was reached (`writ eval --explain`).
//!
//! A [`Trace`] is the ordered list of the steps of LANGUAGE.md §5 that the evaluator went
//! through: the checks that the request fits the policy, every deny tried with its three-valued
//! result, the allow (or start) rules tried, each principal's entitlement check with the `may`
//! rules tried, the evidence counted for every requirement of every path and the items rejected
//! with the reason, and the outcome. It serializes to JSON and displays as indented text citing
//! rules by id and `file:line:column`.
//!
//! Tracing costs nothing when not asked for: the procedure is generic over a [`Tracer`], and the
//! one used by [`crate::Policy::decide`] records nothing (its steps are built by closures that
//! are never called).

use std::fmt;

use serde::Serialize;

use crate::cond::Tri;
use crate::decision::Outcome;
use crate::ir::{PrincipalKind, RuleMeta};
use crate::request::format_duration;

/// The steps a decision went through, in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Trace {
    /// The steps, in the order the procedure took them; the last is [`TraceStep::Decided`].
    pub steps: Vec<TraceStep>,
}

/// A rule, as cited in traces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    /// The stable rule id (`release/allow/2`).
    pub id: String,
    /// The file it was written in, as given to the compiler.
    pub file: String,
    /// The 1-based line of its first character.
    pub line: u32,
    /// The 1-based column of its first character.
    pub column: u32,
    /// The rule's source text, whitespace collapsed.
    pub text: String,
}

impl RuleRef {
    pub(crate) fn new(meta: &RuleMeta) -> RuleRef {
        RuleRef {
            id: meta.id.clone(),
            file: meta.file.clone(),
            line: meta.line,
            column: meta.column,
            text: meta.text.clone(),
        }
    }
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}:{}:{})", self.id, self.file, self.line, self.column)?;
        if !self.text.is_empty() {
            write!(f, " `{}`", self.text)?;
        }
        Ok(())
    }
}

/// One step of the procedure.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum TraceStep {
    /// What is being decided.
    Request {
        /// `start` or `call`.
        action: &'static str,
        /// The workflow's name as requested.
        workflow: String,
        /// On calls: the call as `tool(arg: value, ...)`.
        call: Option<String>,
        /// `id (kind)` of each principal, initiator first.
        chain: Vec<String>,
        /// The chain's length minus one.
        depth: usize,
    },
    /// Call step 1 / start step 1: the request fits the policy. Empty `problems` means it does.
    Fits {
        /// Every way the request does not fit, in words (the decision's reasons).
        problems: Vec<String>,
    },
    /// Call step 2 / start step 1: delegation depth.
    Depth {
        /// The chain's length minus one.
        depth: usize,
        /// The workflow's `max_depth`.
        max_depth: u32,
        /// Whether `depth` is within `max_depth`.
        ok: bool,
    },
    /// What the request says about its run, as conditions see it (LANGUAGE.md §8–10): each
    /// `path` argument resolved, each `command` argument's simple commands (or why it is
    /// unknown), `cwd`, `time` and the history's length. Recorded only when the call has a
    /// `command` or `path` argument or the request describes its run.
    Run {
        /// The request's `cwd`, as sent.
        cwd: Option<String>,
        /// The request's `time`, in RFC 3339 (UTC).
        time: Option<String>,
        /// How many history entries the request carries; `None` when it has no `history`.
        history: Option<usize>,
        /// `file: "src/../.env" -> "/work/app/.env"`.
        paths: Vec<String>,
        /// `command: ["git", "status"], ["rm", "-rf", "/"]` or `command: unknown (...)`.
        commands: Vec<String>,
    },
    /// Call step 3: a deny whose target has the tool. It applies when true or unknown.
    Deny {
        /// The rule tried.
        rule: RuleRef,
        /// The condition's value (true when the rule has none).
        result: Tri,
        /// Whether it applies (its result is not false).
        applies: bool,
        /// What each condition on the run found (`runs`, `runs only`, `under`, `calls`):
        /// the simple command that decided, the resolved path, the count. Absent when none.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        facts: Vec<String>,
    },
    /// Start step 2: a deny start. It applies when true or unknown.
    DenyStart {
        /// The rule tried.
        rule: RuleRef,
        /// The condition's value (true when the rule has none).
        result: Tri,
        /// Whether it applies (its result is not false).
        applies: bool,
        /// What each condition on the run found (`runs`, `runs only`, `under`, `calls`):
        /// the simple command that decided, the resolved path, the count. Absent when none.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        facts: Vec<String>,
    },
    /// Call step 4: an allow whose target has the tool. It matches when true.
    Allow {
        /// The rule tried.
        rule: RuleRef,
        /// The condition's value (true when the rule has none).
        result: Tri,
        /// Whether it matches (its result is true).
        matches: bool,
        /// What each condition on the run found (`runs`, `runs only`, `under`, `calls`):
        /// the simple command that decided, the resolved path, the count. Absent when none.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        facts: Vec<String>,
    },
    /// Start step 3: a start rule. It matches when the initiator holds one of its roles (if it
    /// names any) and its condition is true. The condition is not evaluated when the roles
    /// are not met (`result` is then absent).
    Start {
        /// The rule tried.
        rule: RuleRef,
        /// Whether the initiator holds one of the rule's roles (true when it names none).
        roles_met: bool,
        /// The condition's value (true when the rule has none); `None` when the roles are not met.
        result: Option<Tri>,
        /// Whether it matches (roles met and result true).
        matches: bool,
        /// What each condition on the run found (`runs`, `runs only`, `under`, `calls`):
        /// the simple command that decided, the resolved path, the count. Absent when none.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        facts: Vec<String>,
    },
    /// Start step 4: the requested ttl against the workflow's.
    Ttl {
        /// The requested ttl in seconds; `None` when the request asks for none.
        requested: Option<i64>,
        /// The workflow's ttl in seconds.
        limit: i64,
        /// Whether the request is within it.
        ok: bool,
    },
    /// Call step 5: one human or service principal's entitlement, with the `may` rules of the
    /// roles it holds that were tried, in order, until one was true.
    Entitlement {
        /// The principal's id.
        principal: String,
        /// The principal's kind (human or service).
        #[serde(serialize_with = "kind_str")]
        kind: PrincipalKind,
        /// The `may` rules tried, in order; the last is the true one when `entitled`.
        tried: Vec<MayTried>,
        /// Whether one was true.
        entitled: bool,
    },
    /// Call step 6: a `require ... for` rule whose target has the tool. It applies when true or
    /// unknown.
    RequireFor {
        /// The rule tried.
        rule: RuleRef,
        /// The condition's value (true when the rule has none).
        result: Tri,
        /// Whether it applies (its result is not false).
        applies: bool,
        /// What each condition on the run found (`runs`, `runs only`, `under`, `calls`):
        /// the simple command that decided, the resolved path, the count. Absent when none.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        facts: Vec<String>,
    },
    /// Evidence for one requirement of one path (an allow or start rule).
    Evidence {
        /// The allow or start rule whose path this is.
        path: String,
        /// The rule the requirement comes from (the path's rule or a `require ... for`).
        from: String,
        /// The requirement as written: `2 approval by security_reviewer`.
        requirement: String,
        /// How many items (givers, for `by human` kinds) it asks for.
        need: u32,
        /// How many counted.
        have: u32,
        /// The items that counted, in request order.
        counted: Vec<ItemRef>,
        /// The items of the kind that did not count, each with the first check it failed.
        rejected: Vec<Rejection>,
    },
    /// A path that lacks evidence: the sum of `need - have` over its unmet requirements
    /// (identical requirements merged).
    Path {
        /// The path's allow or start rule.
        rule: RuleRef,
        /// How many items it still lacks.
        lacking: u64,
    },
    /// The outcome.
    Decided {
        /// As [`crate::Decision::decision`].
        decision: Outcome,
        /// As [`crate::Decision::rules`].
        rules: Vec<String>,
        /// As [`crate::Decision::reasons`].
        reasons: Vec<String>,
    },
}

/// A `may` rule tried for a principal.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MayTried {
    /// The `may` rule.
    pub rule: RuleRef,
    /// The role (held by the principal) the entitlement belongs to.
    pub role: String,
    /// Its condition's value (true when it has none); only true entitles.
    pub result: Tri,
}

/// An evidence item, by its index in the request's `evidence`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ItemRef {
    /// The 0-based index in the request's `evidence`.
    pub item: usize,
    /// The giver's id; `None` when the item has none.
    pub giver: Option<String>,
}

/// An item of the required kind that did not count, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// The 0-based index in the request's `evidence`.
    pub item: usize,
    /// The giver's id; `None` when the item has none.
    pub giver: Option<String>,
    /// The first check it failed.
    pub reason: RejectReason,
}

/// Why an evidence item of the required kind did not count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum RejectReason {
    /// A `bound` kind: the item's subject is absent or not the request's (or the request has
    /// none).
    WrongSubject,
    /// The item lacks a field the requirement names, or has another value (or type) there.
    FieldMismatch {
        /// The field's name.
        field: String,
    },
    /// A `by human` kind without `by`.
    NoGiver,
    /// The giver is not a human.
    GiverNotHuman {
        /// The giver's kind.
        #[serde(serialize_with = "kind_str")]
        kind: PrincipalKind,
    },
    /// The giver is in the chain (no self-approval).
    SelfApproval,
    /// The giver lacks the role the requirement names.
    GiverLacksRole {
        /// The role's name.
        role: String,
    },
    /// The giver already counted for this requirement.
    DuplicateGiver,
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::WrongSubject => {
                f.write_str("its subject is not the request's subject (bound evidence)")
            }
            RejectReason::FieldMismatch { field } => {
                write!(f, "field `{field}` is absent or has another value")
            }
            RejectReason::NoGiver => f.write_str("it has no giver (`by`)"),
            RejectReason::GiverNotHuman { kind } => {
                write!(f, "the giver is {}, not a human", kind.with_article())
            }
            RejectReason::SelfApproval => {
                f.write_str("the giver is in the chain (no self-approval)")
            }
            RejectReason::GiverLacksRole { role } => write!(f, "the giver lacks role {role}"),
            RejectReason::DuplicateGiver => f.write_str("the giver already counted"),
        }
    }
}

/// Principal kinds as in requests: `human`, `service`, `agent`.
fn kind_str<S: serde::Serializer>(kind: &PrincipalKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str())
}

/// Receives the steps of the procedure.
pub(crate) trait Tracer {
    /// Whether steps are recorded (the procedure skips trace-only work when not).
    const ENABLED: bool;
    fn record(&mut self, step: impl FnOnce() -> TraceStep);
}

/// Records nothing.
pub(crate) struct NoTrace;

impl Tracer for NoTrace {
    const ENABLED: bool = false;

    #[inline(always)]
    fn record(&mut self, _step: impl FnOnce() -> TraceStep) {}
}

impl Tracer for Trace {
    const ENABLED: bool = true;

    fn record(&mut self, step: impl FnOnce() -> TraceStep) {
        self.steps.push(step());
    }
}

impl Trace {
    /// The trace as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

fn verdict(yes: bool, yes_text: &'static str, no_text: &'static str) -> &'static str {
    if yes { yes_text } else { no_text }
}

fn item(item: usize, giver: &Option<String>) -> String {
    match giver {
        Some(g) => format!("evidence[{item}] by {g}"),
        None => format!("evidence[{item}]"),
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            match step {
                TraceStep::Request { action, workflow, call, chain, depth } => {
                    match call {
                        Some(call) => writeln!(f, "{action} {call} in workflow {workflow}")?,
                        None => writeln!(f, "{action} workflow {workflow}")?,
                    }
                    writeln!(f, "  chain: {} (depth {depth})", chain.join(" -> "))?;
                }
                TraceStep::Fits { problems } => {
                    if problems.is_empty() {
                        writeln!(f, "  fits the policy: yes")?;
                    } else {
                        writeln!(f, "  fits the policy: no")?;
                        for p in problems {
                            writeln!(f, "    - {p}")?;
                        }
                    }
                }
                TraceStep::Depth { depth, max_depth, ok } => writeln!(
                    f,
                    "  depth {depth} {} max_depth {max_depth}",
                    verdict(*ok, "within", "exceeds")
                )?,
                TraceStep::Run { cwd, time, history, paths, commands } => {
                    if let Some(cwd) = cwd {
                        writeln!(f, "  cwd: {cwd}")?;
                    }
                    if let Some(time) = time {
                        writeln!(f, "  time: {time}")?;
                    }
                    if let Some(n) = history {
                        writeln!(f, "  history: {}", crate::render::count(*n, "entry"))?;
                    }
                    for p in paths.iter().chain(commands) {
                        writeln!(f, "  {p}")?;
                    }
                }
                TraceStep::Deny { rule, result, applies, facts } => {
                    writeln!(
                        f,
                        "  deny {rule}: {result} -> {}",
                        verdict(*applies, "applies", "does not apply")
                    )?;
                    write_facts(f, facts)?;
                }
                TraceStep::DenyStart { rule, result, applies, facts } => {
                    writeln!(
                        f,
                        "  deny start {rule}: {result} -> {}",
                        verdict(*applies, "applies", "does not apply")
                    )?;
                    write_facts(f, facts)?;
                }
                TraceStep::Allow { rule, result, matches, facts } => {
                    writeln!(
                        f,
                        "  allow {rule}: {result} -> {}",
                        verdict(*matches, "matches", "does not match")
                    )?;
                    write_facts(f, facts)?;
                }
                TraceStep::Start { rule, roles_met, result, matches, facts } => {
                    let cond = match result {
                        Some(r) => format!("condition {r}"),
                        None => "condition not evaluated".to_owned(),
                    };
                    writeln!(
                        f,
                        "  start {rule}: roles {}, {cond} -> {}",
                        verdict(*roles_met, "met", "not met"),
                        verdict(*matches, "matches", "does not match")
                    )?;
                    write_facts(f, facts)?;
                }
                TraceStep::Ttl { requested, limit, ok } => match requested {
                    Some(r) => writeln!(
                        f,
                        "  ttl {} {} the workflow's {}",
                        format_duration(*r),
                        verdict(*ok, "within", "exceeds"),
                        format_duration(*limit)
                    )?,
                    None => writeln!(f, "  ttl: the workflow's {}", format_duration(*limit))?,
                },
                TraceStep::Entitlement { principal, kind, tried, entitled } => {
                    writeln!(
                        f,
                        "  entitlement of {principal} ({}): {}",
                        kind.as_str(),
                        verdict(*entitled, "entitled", "NOT entitled")
                    )?;
                    if tried.is_empty() {
                        writeln!(f, "    no `may` of its roles targets the tool")?;
                    }
                    for t in tried {
                        writeln!(f, "    {} (role {}): {}", t.rule, t.role, t.result)?;
                    }
                }
                TraceStep::RequireFor { rule, result, applies, facts } => {
                    writeln!(
                        f,
                        "  require {rule}: {result} -> {}",
                        verdict(*applies, "applies", "does not apply")
                    )?;
                    write_facts(f, facts)?;
                }
                TraceStep::Evidence { path, from, requirement, need, have, counted, rejected } => {
                    let source =
                        if from == path { String::new() } else { format!(" (from {from})") };
                    writeln!(
                        f,
                        "  evidence for {path}: {requirement}{source}: {have} of {need} {}",
                        verdict(have >= need, "met", "unmet")
                    )?;
                    for c in counted {
                        writeln!(f, "    counted {}", item(c.item, &c.giver))?;
                    }
                    for r in rejected {
                        writeln!(f, "    rejected {}: {}", item(r.item, &r.giver), r.reason)?;
                    }
                }
                TraceStep::Path { rule, lacking } => {
                    writeln!(f, "  path {rule} lacks {lacking} item(s)")?
                }
                TraceStep::Decided { decision, rules, reasons } => {
                    write!(f, "=> {decision}")?;
                    if !rules.is_empty() {
                        write!(f, " [{}]", rules.join(", "))?;
                    }
                    writeln!(f)?;
                    for r in reasons {
                        writeln!(f, "   {r}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn write_facts(f: &mut fmt::Formatter<'_>, facts: &[String]) -> fmt::Result {
    for fact in facts {
        writeln!(f, "    {fact}")?;
    }
    Ok(())
}
