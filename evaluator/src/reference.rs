//! A reference evaluator: LANGUAGE.md §5 read literally, directly over the [`PolicyIr`].
//!
//! [`decide`] gives the same [`Decision`] as [`crate::Policy::decide`] (outcome, `missing`,
//! `rules`, `reasons`, `ttl_seconds`, `policy`), following the choices listed in the crate
//! documentation, but it is written to be obviously right rather than fast. It shares nothing
//! with the compiled evaluator beyond the data types (the IR, [`Request`], [`Decision`]), the
//! display of request values in messages, and [`format_duration`]:
//!
//! - names are looked up by scanning the IR's lists; nothing is interned or indexed;
//! - the roles a principal holds are found by walking `extends` again and again until no new
//!   role turns up;
//! - every rule of the policy is scanned, in order, for every request, and its target checked
//!   with `contains`;
//! - conditions are interpreted recursively over [`Cond`] with a plain three-valued enum,
//!   operands read afresh (and copied) each time, their types taken from the declarations;
//! - globs are matched by naive recursion over characters; durations parsed by hand;
//! - evidence is counted with plain loops; identical requirements are merged by a linear
//!   search, comparing fields as sets (their order as written does not matter).
//!
//! It is slow (quadratic in places, exponential for globs with many stars) and meant for tests:
//! `proptest`s assert that the two evaluators agree on random well-typed policies and requests.
//!
//! The IR must be one that [`crate::Policy::from_ir`] accepts; on a corrupt IR (an index out of
//! range, a cycle in `extends`) this function may panic or loop. That is why it is compiled only
//! for tests and with the `reference` feature, never into what a gateway embeds, and why it alone
//! may index the IR directly, as the specification reads.
#![allow(
    clippy::indexing_slicing,
    reason = "the oracle indexes the IR as LANGUAGE.md reads; not shipped (the `reference` feature)"
)]

use std::sync::Arc;

use crate::decision::{Decision, Missing, Outcome, RuleIds};
use crate::ir::{
    AllowRuleIr, CmpOp, CommandPatternIr, Cond, DenyRuleIr, DenyStartRuleIr, EvidenceRequirementIr,
    Operand, PolicyIr, PrincipalKind, RequireForRuleIr, RoleId, RuleMeta, ToolId, ToolIr, Value,
    ValueType, Who, WorkflowIr,
};
use crate::request::{Action, Principal, Request, RequestValue, Str, Values, format_duration};
use crate::shell::{self, CommandLine};

/// Decides `request` against `ir`, LANGUAGE.md §5 step by step.
pub fn decide(ir: &PolicyIr, request: &Request<'_>) -> Decision {
    match &request.action {
        Action::Call { tool, args } => decide_call(ir, request, tool, args),
        Action::Start { ttl_seconds } => decide_start(ir, request, *ttl_seconds),
    }
}

// ---------------------------------------------------------------------------------------------
// Calls

fn decide_call(
    ir: &PolicyIr,
    req: &Request<'_>,
    tool_name: &str,
    args: &[(Str<'_>, RequestValue<'_>)],
) -> Decision {
    // Step 1: the request fits the policy (every problem is reported).
    let mut problems = Vec::new();
    let workflow = ir.workflows.iter().find(|w| w.name == req.workflow);
    if workflow.is_none() {
        problems.push(format!("unknown workflow `{}`", req.workflow));
    }
    let tool = ir.tools.iter().position(|t| t.name == tool_name);
    match tool {
        None => problems.push(format!("unknown tool `{tool_name}`")),
        Some(t) => {
            let decl = &ir.tools[t];
            for (name, value) in args {
                match decl.params.iter().find(|p| p.name == *name) {
                    None => problems.push(format!("{tool_name} has no argument `{name}`")),
                    Some(param) => {
                        if !fits(&param.ty, value) {
                            problems.push(format!(
                                "argument `{name}` of {tool_name} must be {}; {}",
                                type_text(&param.ty),
                                found_text(value)
                            ));
                        }
                    }
                }
            }
        }
    }
    request_problems(ir, req, &mut problems);
    let (Some(wf), Some(tool)) = (workflow, tool) else {
        return deny(ir, RuleIds::new(), problems);
    };
    if !problems.is_empty() {
        return deny(ir, RuleIds::new(), problems);
    }
    let decl = &ir.tools[tool];
    let tool = ToolId(tool as u32);

    // Step 2: depth.
    let depth = req.chain.len() - 1;
    if depth > wf.max_depth as usize {
        return deny(ir, RuleIds::new(), vec![depth_reason(req, wf)]);
    }

    let resolved = resolve_args(decl, args, req.cwd.as_deref());
    let args = &resolved[..];
    let env = Env { ir, req, tool: Some(decl), args, principal: None };

    // Step 3: every deny (top level or in the workflow) whose target has the tool and whose
    // condition is true or unknown, in source order.
    let mut denies: Vec<&DenyRuleIr> = Vec::new();
    for d in ir.guardrails.denies.iter().chain(&wf.rules.denies) {
        if d.target.tools.contains(&tool) {
            denies.push(d);
        }
    }
    denies.sort_by(|a, b| source_key(&a.meta).cmp(&source_key(&b.meta)));
    let mut applying = Vec::new();
    for d in denies {
        let result = eval_opt(&env, d.condition.as_ref());
        if result != Truth::False {
            applying.push((&d.meta, &d.because, result));
        }
    }
    if !applying.is_empty() {
        return deny(
            ir,
            applying.iter().map(|(meta, _, _)| Arc::from(meta.id.as_ref())).collect(),
            applying.iter().map(|(meta, because, r)| deny_reason(meta, because, *r)).collect(),
        );
    }

    // Step 4: the allows of the workflow whose target has the tool and whose condition is true.
    let mut matched: Vec<&AllowRuleIr> = Vec::new();
    let mut undecided: Option<&RuleMeta> = None;
    for a in &wf.allows {
        if !a.target.tools.contains(&tool) {
            continue;
        }
        match eval_opt(&env, a.condition.as_ref()) {
            Truth::True => matched.push(a),
            Truth::Unknown => {
                if undecided.is_none() {
                    undecided = Some(&a.meta);
                }
            }
            Truth::False => {}
        }
    }
    let call = render_call(decl, args);
    if matched.is_empty() {
        return deny(
            ir,
            RuleIds::new(),
            vec![format!("no rule in {} allows {call}{}", req.workflow, lacks_value(undecided))],
        );
    }

    // Step 5: every human or service principal of the chain holds a true `may` for the tool.
    let mut reasons = Vec::new();
    for p in &req.chain {
        if p.kind == PrincipalKind::Agent {
            continue;
        }
        let env = Env { principal: Some(p), ..env };
        let mut entitled = false;
        let mut undecided: Option<&RuleMeta> = None;
        // The roles it holds in declaration order; each role's entitlements in source order.
        for r in roles_of(ir, p) {
            for may in &ir.roles[r.index()].entitlements {
                if !may.target.tools.contains(&tool) {
                    continue;
                }
                match eval_opt(&env, may.condition.as_ref()) {
                    Truth::True => entitled = true,
                    Truth::Unknown => {
                        if undecided.is_none() {
                            undecided = Some(&may.meta);
                        }
                    }
                    Truth::False => {}
                }
            }
        }
        if !entitled {
            reasons.push(format!(
                "{} is not entitled to {call}: delegation cannot widen access{}",
                p.id,
                lacks_value(undecided)
            ));
        }
    }
    if !reasons.is_empty() {
        return deny(ir, matched.iter().map(|a| Arc::from(a.meta.id.as_ref())).collect(), reasons);
    }

    // Step 6: evidence. The `require ... for` rules whose target has the tool and whose
    // condition is true or unknown, in source order, add to every path.
    let mut requires: Vec<&RequireForRuleIr> = Vec::new();
    for r in ir.guardrails.requires.iter().chain(&wf.rules.requires) {
        if r.target.tools.contains(&tool) {
            requires.push(r);
        }
    }
    requires.sort_by(|a, b| source_key(&a.meta).cmp(&source_key(&b.meta)));
    let mut extras = Vec::new();
    for r in requires {
        if eval_opt(&env, r.condition.as_ref()) != Truth::False {
            extras.push((&r.meta, &r.require[..]));
        }
    }
    let paths: Vec<(&RuleMeta, &[EvidenceRequirementIr])> =
        matched.iter().map(|a| (&a.meta, &a.require[..])).collect();
    evidence(ir, req, &paths, &extras, &format!("{tool_name} in {}", req.workflow), None)
}

// ---------------------------------------------------------------------------------------------
// Starts

fn decide_start(ir: &PolicyIr, req: &Request<'_>, ttl: Option<i64>) -> Decision {
    // Step 1: the request fits the policy; depth.
    let mut problems = Vec::new();
    let workflow = ir.workflows.iter().find(|w| w.name == req.workflow);
    if workflow.is_none() {
        problems.push(format!("unknown workflow `{}`", req.workflow));
    }
    request_problems(ir, req, &mut problems);
    if let Some(ttl) = ttl
        && ttl < 0
    {
        problems.push("the requested ttl is negative".to_owned());
    }
    let Some(wf) = workflow else {
        return deny(ir, RuleIds::new(), problems);
    };
    if !problems.is_empty() {
        return deny(ir, RuleIds::new(), problems);
    }
    let depth = req.chain.len() - 1;
    if depth > wf.max_depth as usize {
        return deny(ir, RuleIds::new(), vec![depth_reason(req, wf)]);
    }

    let env = Env { ir, req, tool: None, args: &[], principal: None };

    // Step 2: deny starts (top level or in the workflow), true or unknown, in source order.
    let mut denies: Vec<&DenyStartRuleIr> =
        ir.guardrails.deny_starts.iter().chain(&wf.rules.deny_starts).collect();
    denies.sort_by(|a, b| source_key(&a.meta).cmp(&source_key(&b.meta)));
    let mut applying = Vec::new();
    for d in denies {
        let result = eval_opt(&env, d.condition.as_ref());
        if result != Truth::False {
            applying.push((&d.meta, &d.because, result));
        }
    }
    if !applying.is_empty() {
        return deny(
            ir,
            applying.iter().map(|(meta, _, _)| Arc::from(meta.id.as_ref())).collect(),
            applying.iter().map(|(meta, because, r)| deny_reason(meta, because, *r)).collect(),
        );
    }

    // Step 3: start rules whose roles the initiator holds (if they name any) and whose
    // condition is true.
    let initiator = &req.chain[0];
    let held = roles_of(ir, initiator);
    let mut matched = Vec::new();
    let mut undecided: Option<&RuleMeta> = None;
    for s in &wf.starts {
        let roles_met = s.by.is_empty() || s.by.iter().any(|r| held.contains(r));
        if !roles_met {
            continue;
        }
        match eval_opt(&env, s.condition.as_ref()) {
            Truth::True => matched.push((&s.meta, &s.require[..])),
            Truth::Unknown => {
                if undecided.is_none() {
                    undecided = Some(&s.meta);
                }
            }
            Truth::False => {}
        }
    }
    if matched.is_empty() {
        return deny(
            ir,
            RuleIds::new(),
            vec![format!(
                "no start rule of {} admits {}{}",
                req.workflow,
                initiator.id,
                lacks_value(undecided)
            )],
        );
    }

    // Step 4: the requested ttl.
    if let Some(ttl) = ttl
        && ttl > wf.ttl_seconds
    {
        return deny(
            ir,
            RuleIds::new(),
            vec![format!(
                "the requested ttl {} exceeds the ttl {} of {}",
                format_duration(ttl),
                format_duration(wf.ttl_seconds),
                req.workflow
            )],
        );
    }

    // Step 5: evidence over the matching start rules.
    let granted = ttl.unwrap_or(wf.ttl_seconds);
    evidence(ir, req, &matched, &[], &format!("starting {}", req.workflow), Some(granted))
}

/// One condition, evaluated as [`decide`] evaluates a call's conditions outside `may` (paths
/// resolved, `principal` unknown): `Some(true)`, `Some(false)`, or `None` for unknown. For
/// tests that measure how often generated conditions decide; `None` on a start or an unknown
/// tool.
#[cfg(test)]
pub(crate) fn call_condition(ir: &PolicyIr, req: &Request<'_>, cond: &Cond) -> Option<bool> {
    let Action::Call { tool, args } = &req.action else { return None };
    let decl = ir.tools.iter().find(|t| t.name == *tool)?;
    let resolved = resolve_args(decl, args, req.cwd.as_deref());
    let env = Env { ir, req, tool: Some(decl), args: &resolved, principal: None };
    match eval(&env, cond) {
        Truth::True => Some(true),
        Truth::False => Some(false),
        Truth::Unknown => None,
    }
}

/// The condition of an assertion's claim (§11), read literally over a request: the call's
/// arguments (paths resolved against `cwd`) on a call, none on a start; `given(ITEM)` counts the
/// request's evidence by §5 step 6's rules. `writ verify` checks every counterexample with this
/// (and the request's decision with [`crate::Policy::decide`]) before it reports one.
pub fn claim_condition(ir: &PolicyIr, req: &Request<'_>, cond: &Cond) -> crate::Tri {
    let (decl, resolved) = match &req.action {
        Action::Call { tool, args } => match ir.tools.iter().find(|t| t.name == *tool) {
            Some(decl) => (Some(decl), resolve_args(decl, args, req.cwd.as_deref())),
            None => return crate::Tri::Unknown,
        },
        Action::Start { .. } => (None, Vec::new()),
    };
    let env = Env { ir, req, tool: decl, args: &resolved, principal: None };
    match eval(&env, cond) {
        Truth::True => crate::Tri::True,
        Truth::False => crate::Tri::False,
        Truth::Unknown => crate::Tri::Unknown,
    }
}

// ---------------------------------------------------------------------------------------------
// Step 1 checks

/// The checks shared by calls and starts: declared attributes of the chain's principals and
/// declared context values have their declared types; someone in the chain is accountable.
fn request_problems(ir: &PolicyIr, req: &Request<'_>, problems: &mut Vec<String>) {
    if req.chain.is_empty() {
        problems.push("the chain is empty".to_owned());
    }
    for p in &req.chain {
        for (name, value) in &p.attrs {
            if let Some(decl) = ir.attributes.iter().find(|a| a.name == *name)
                && !fits(&decl.ty, value)
            {
                problems.push(format!(
                    "attribute `{name}` of {} must be {}; {}",
                    p.id,
                    type_text(&decl.ty),
                    found_text(value)
                ));
            }
        }
    }
    for (name, value) in &req.context {
        if let Some(decl) = ir.contexts.iter().find(|c| c.name == *name)
            && !fits(&decl.ty, value)
        {
            problems.push(format!(
                "context value `{name}` must be {}; {}",
                type_text(&decl.ty),
                found_text(value)
            ));
        }
    }
    let accountable = req.chain.iter().any(|p| p.kind != PrincipalKind::Agent);
    if !req.chain.is_empty() && !accountable {
        problems.push(
            "nobody in the chain is accountable: a chain needs a human or service principal"
                .to_owned(),
        );
    }
}

/// Whether a request value has the declared type.
fn fits(ty: &ValueType, value: &RequestValue<'_>) -> bool {
    match ty {
        ValueType::String => matches!(value, RequestValue::Str(_)),
        ValueType::Int => matches!(value, RequestValue::Int(_)),
        ValueType::Bool => matches!(value, RequestValue::Bool(_)),
        ValueType::Duration => match value {
            RequestValue::Str(s) => seconds(s).is_some(),
            _ => false,
        },
        ValueType::StringList => matches!(value, RequestValue::StrList(_)),
        ValueType::Enum(variants) => match value {
            RequestValue::Str(s) => variants.iter().any(|v| v == s),
            _ => false,
        },
        ValueType::Command | ValueType::Path => matches!(value, RequestValue::Str(_)),
    }
}

/// A duration in the syntax `[0-9]+[smhd]`, in seconds, if it fits in an `i64`.
fn seconds(text: &str) -> Option<i64> {
    let mut chars: Vec<char> = text.chars().collect();
    let unit = chars.pop()?;
    let scale: i128 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 60 * 60,
        'd' => 24 * 60 * 60,
        _ => return None,
    };
    if chars.is_empty() {
        return None;
    }
    let mut n: i128 = 0;
    for c in chars {
        let digit = c.to_digit(10)?;
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i128::from(digit);
        if n > i128::from(i64::MAX) {
            return None;
        }
    }
    i64::try_from(n * scale).ok()
}

// ---------------------------------------------------------------------------------------------
// Roles

/// The roles `p` holds, in declaration order: the declared roles it names, and every role
/// they extend, found by walking `extends` until nothing new turns up.
fn roles_of(ir: &PolicyIr, p: &Principal<'_>) -> Vec<RoleId> {
    let mut held: Vec<RoleId> = Vec::new();
    for name in &p.roles {
        for (i, role) in ir.roles.iter().enumerate() {
            if role.name == *name && !held.contains(&RoleId(i as u32)) {
                held.push(RoleId(i as u32));
            }
        }
    }
    loop {
        let mut grew = false;
        for r in held.clone() {
            for &parent in &ir.roles[r.index()].extends {
                if !held.contains(&parent) {
                    held.push(parent);
                    grew = true;
                }
            }
        }
        if !grew {
            break;
        }
    }
    held.sort_unstable();
    held
}

fn holds(ir: &PolicyIr, p: &Principal<'_>, role: RoleId) -> bool {
    roles_of(ir, p).contains(&role)
}

// ---------------------------------------------------------------------------------------------
// Conditions

/// Three-valued truth (LANGUAGE.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Truth {
    True,
    False,
    Unknown,
}

impl Truth {
    fn of(b: bool) -> Truth {
        if b { Truth::True } else { Truth::False }
    }
}

fn and(a: Truth, b: Truth) -> Truth {
    if a == Truth::False || b == Truth::False {
        Truth::False
    } else if a == Truth::True && b == Truth::True {
        Truth::True
    } else {
        Truth::Unknown
    }
}

fn or(a: Truth, b: Truth) -> Truth {
    if a == Truth::True || b == Truth::True {
        Truth::True
    } else if a == Truth::False && b == Truth::False {
        Truth::False
    } else {
        Truth::Unknown
    }
}

fn not(a: Truth) -> Truth {
    match a {
        Truth::True => Truth::False,
        Truth::False => Truth::True,
        Truth::Unknown => Truth::Unknown,
    }
}

/// A value a condition reads.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Str(String),
    Int(i64),
    Bool(bool),
    Duration(i64),
    List(Vec<String>),
    Kind(PrincipalKind),
}

/// What conditions see.
#[derive(Clone, Copy)]
struct Env<'a> {
    ir: &'a PolicyIr,
    req: &'a Request<'a>,
    /// The tool called (arguments are read with its parameter types); `None` on starts.
    tool: Option<&'a ToolIr>,
    args: &'a [(Str<'a>, RequestValue<'a>)],
    /// Inside `may` only.
    principal: Option<&'a Principal<'a>>,
}

impl<'a> Env<'a> {
    fn who(&self, who: Who) -> Option<&'a Principal<'a>> {
        match who {
            Who::Initiator => self.req.chain.first(),
            Who::Caller => self.req.chain.last(),
            Who::Principal => self.principal,
        }
    }
}

fn eval_opt(env: &Env<'_>, cond: Option<&Cond>) -> Truth {
    match cond {
        None => Truth::True,
        Some(c) => eval(env, c),
    }
}

fn eval(env: &Env<'_>, cond: &Cond) -> Truth {
    match cond {
        Cond::Truth(op) => match read(env, op) {
            Some(Val::Bool(b)) => Truth::of(b),
            _ => Truth::Unknown,
        },
        Cond::Compare(cmp, a, b) => match (read(env, a), read(env, b)) {
            (Some(a), Some(b)) => compare(*cmp, &a, &b),
            _ => Truth::Unknown,
        },
        Cond::In(value, list) | Cond::Contains(list, value) => {
            match (read(env, value), read(env, list)) {
                (Some(Val::Str(s)), Some(Val::List(items))) => Truth::of(items.contains(&s)),
                _ => Truth::Unknown,
            }
        }
        Cond::Matches(op, pattern) => match read(env, op) {
            Some(Val::Str(s)) => Truth::of(glob(pattern, &s)),
            _ => Truth::Unknown,
        },
        Cond::AnyMatches(op, pattern) => match read(env, op) {
            Some(Val::List(items)) => Truth::of(items.iter().any(|s| glob(pattern, s))),
            _ => Truth::Unknown,
        },
        Cond::AllMatches(op, pattern) => match read(env, op) {
            Some(Val::List(items)) => Truth::of(items.iter().all(|s| glob(pattern, s))),
            _ => Truth::Unknown,
        },
        Cond::HasRole(who, role) => match env.who(*who) {
            Some(p) => Truth::of(holds(env.ir, p, *role)),
            None => Truth::Unknown,
        },
        Cond::Runs(op, pattern) => match command_line(env, op) {
            Some(CommandLine::Known(commands)) => {
                from_tri(shell::runs_reference(&commands, &shell_pattern(pattern)))
            }
            _ => Truth::Unknown,
        },
        Cond::RunsOnly(op, patterns) => match command_line(env, op) {
            Some(CommandLine::Known(commands)) => {
                let patterns: Vec<shell::Pattern> = patterns.iter().map(shell_pattern).collect();
                from_tri(shell::runs_only_reference(&commands, &patterns))
            }
            _ => Truth::Unknown,
        },
        Cond::Under(op, dir) => match (read(env, op), resolve_path(dir, env.req.cwd.as_deref())) {
            (Some(Val::Str(path)), Some(dir)) => {
                let path_segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
                let dir_segments: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
                Truth::of(path_segments.starts_with(&dir_segments))
            }
            _ => Truth::Unknown,
        },
        Cond::Not(inner) => not(eval(env, inner)),
        Cond::And(items) => {
            let mut result = Truth::True;
            for item in items {
                result = and(result, eval(env, item));
            }
            result
        }
        Cond::Or(items) => {
            let mut result = Truth::False;
            for item in items {
                result = or(result, eval(env, item));
            }
            result
        }
    }
}

fn compare(cmp: CmpOp, a: &Val, b: &Val) -> Truth {
    let order = match (a, b) {
        (Val::Int(x), Val::Int(y)) | (Val::Duration(x), Val::Duration(y)) => Some(x.cmp(y)),
        _ => None,
    };
    match cmp {
        CmpOp::Eq => Truth::of(a == b),
        CmpOp::Ne => Truth::of(a != b),
        CmpOp::Lt => order.map_or(Truth::Unknown, |o| Truth::of(o.is_lt())),
        CmpOp::Le => order.map_or(Truth::Unknown, |o| Truth::of(o.is_le())),
        CmpOp::Gt => order.map_or(Truth::Unknown, |o| Truth::of(o.is_gt())),
        CmpOp::Ge => order.map_or(Truth::Unknown, |o| Truth::of(o.is_ge())),
    }
}

/// An operand's value; `None` when unknown (absent, or not of the declared type).
fn read(env: &Env<'_>, op: &Operand) -> Option<Val> {
    match op {
        Operand::Literal(v) => Some(literal_val(v)),
        Operand::Arg(name) => {
            let param = env.tool?.params.iter().find(|p| p.name == *name)?;
            let (_, value) = env.args.iter().find(|(k, _)| k == name)?;
            typed(&param.ty, value)
        }
        Operand::Context(id) => {
            let decl = &env.ir.contexts[id.index()];
            let (_, value) = env.req.context.iter().find(|(k, _)| *k == decl.name)?;
            typed(&decl.ty, value)
        }
        Operand::Attribute(who, id) => {
            let decl = &env.ir.attributes[id.index()];
            let p = env.who(*who)?;
            let (_, value) = p.attrs.iter().find(|(k, _)| *k == decl.name)?;
            typed(&decl.ty, value)
        }
        Operand::Id(who) => Some(Val::Str(env.who(*who)?.id.to_string())),
        Operand::Kind(who) => Some(Val::Kind(env.who(*who)?.kind)),
        Operand::Depth => Some(Val::Int(env.req.chain.len() as i64 - 1)),
        Operand::Calls(calls) => {
            // §10: unknown without `history`; the windowed form also without `time`, whether or
            // not any entry matches.
            let history = env.req.history.as_ref()?;
            if calls.within_seconds.is_some() && env.req.time.is_none() {
                return None;
            }
            let mut count = 0;
            for entry in history {
                let counted = match env.ir.tools.iter().position(|t| t.name == entry.tool) {
                    Some(t) => calls.target.tools.contains(&ToolId(t as u32)),
                    None => calls.glob.as_ref().is_some_and(|g| glob(g, &entry.tool)),
                };
                if !counted {
                    continue;
                }
                match calls.within_seconds {
                    None => count += 1,
                    Some(window) => {
                        let now = env.req.time?.as_unix_nanos();
                        let at = entry.at?.as_unix_nanos();
                        let window = i128::from(window) * 1_000_000_000;
                        if now - window < at && at <= now {
                            count += 1;
                        }
                    }
                }
            }
            Some(Val::Int(count))
        }
        Operand::Given(r) => Some(Val::Int(i64::from(count(env.ir, env.req, r)))),
    }
}

/// A `command` argument's command line (parsed by the one parser writ has: the reference
/// checks the decision procedure and the matcher, not bash's grammar).
fn command_line(env: &Env<'_>, op: &Operand) -> Option<CommandLine> {
    let Operand::Arg(name) = op else { return None };
    match env.args.iter().find(|(k, _)| k == name) {
        Some((_, RequestValue::Str(text))) => Some(shell::parse(text)),
        _ => None,
    }
}

fn shell_pattern(pattern: &CommandPatternIr) -> shell::Pattern {
    shell::Pattern::from(pattern)
}

fn from_tri(t: crate::Tri) -> Truth {
    match t {
        crate::Tri::True => Truth::True,
        crate::Tri::False => Truth::False,
        crate::Tri::Unknown => Truth::Unknown,
    }
}

/// LANGUAGE.md §9, literally: join a relative path to `cwd`, then walk the segments. Unknown
/// (`None`): a path with NUL or a leading `~`; a relative path without `cwd`, or joined to a
/// `cwd` that holds NUL (the joined path does) or is not absolute; and, as [`crate::path`]
/// chooses where the spec is silent, the empty path.
fn resolve_path(path: &str, cwd: Option<&str>) -> Option<String> {
    if path.is_empty() || path.contains('\0') || path.starts_with('~') {
        return None;
    }
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else {
        let cwd = cwd?;
        if !cwd.starts_with('/') {
            return None;
        }
        format!("{cwd}/{path}")
    };
    if joined.contains('\0') {
        return None;
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in joined.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    Some(format!("/{}", segments.join("/")))
}

/// The call's arguments with `path` arguments resolved; an unresolvable one is not a string.
fn resolve_args<'a>(
    tool: &ToolIr,
    args: &[(Str<'a>, RequestValue<'a>)],
    cwd: Option<&str>,
) -> Values<'a> {
    args.iter()
        .map(|(name, value)| {
            let is_path = tool.params.iter().any(|p| p.name == *name && p.ty == ValueType::Path);
            match value {
                RequestValue::Str(text) if is_path => match resolve_path(text, cwd) {
                    Some(resolved) => (name.clone(), RequestValue::Str(resolved.into())),
                    None => (
                        name.clone(),
                        RequestValue::Other(Box::new(serde_json::Value::String(text.to_string()))),
                    ),
                },
                _ => (name.clone(), value.clone()),
            }
        })
        .collect()
}

fn literal_val(v: &Value) -> Val {
    match v {
        Value::Str(s) => Val::Str(s.clone()),
        Value::Int(i) => Val::Int(*i),
        Value::Bool(b) => Val::Bool(*b),
        Value::Duration(d) => Val::Duration(*d),
        Value::StringList(items) => Val::List(items.clone()),
        Value::Kind(k) => Val::Kind(*k),
    }
}

/// A request value read as a value of the declared type; `None` when it does not fit.
fn typed(ty: &ValueType, value: &RequestValue<'_>) -> Option<Val> {
    if !fits(ty, value) {
        return None;
    }
    match (ty, value) {
        (ValueType::Duration, RequestValue::Str(s)) => seconds(s).map(Val::Duration),
        (_, RequestValue::Str(s)) => Some(Val::Str(s.to_string())),
        (_, RequestValue::Int(i)) => Some(Val::Int(*i)),
        (_, RequestValue::Bool(b)) => Some(Val::Bool(*b)),
        (_, RequestValue::StrList(items)) => {
            Some(Val::List(items.iter().map(|i| i.to_string()).collect()))
        }
        (_, RequestValue::Other(_)) => None,
    }
}

/// `matches`: `*` any run of characters, `?` one character, everything else itself; the whole
/// string. Plain recursion over characters.
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|k| go(rest, &t[k..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

// ---------------------------------------------------------------------------------------------
// Evidence

/// Call step 6 / start step 5. `paths` are the matching allow (start) rules in source order,
/// with their own requirements; `extras` the applying `require ... for` rules in source order,
/// whose requirements every path needs too.
fn evidence(
    ir: &PolicyIr,
    req: &Request<'_>,
    paths: &[(&RuleMeta, &[EvidenceRequirementIr])],
    extras: &[(&RuleMeta, &[EvidenceRequirementIr])],
    what: &str,
    ttl_on_allow: Option<i64>,
) -> Decision {
    // The first path all of whose requirements (its own and the extras) are met allows.
    for (rule, own) in paths {
        let mut complete = true;
        for r in own.iter().chain(extras.iter().flat_map(|(_, reqs)| reqs.iter())) {
            if count(ir, req, r) < r.count {
                complete = false;
            }
        }
        if complete {
            return Decision {
                decision: Outcome::Allow,
                missing: Vec::new(),
                rules: smallvec::smallvec![Arc::from(rule.id.as_ref())],
                reasons: Vec::new(),
                ttl_seconds: ttl_on_allow,
                policy: Arc::from(ir.hash.as_str()),
            };
        }
    }

    // Pending: each path's requirements, identical ones merged keeping the larger count; the
    // path lacking the fewest items wins, the first on a tie.
    let mut best: Option<(u64, &RuleMeta, Vec<Need<'_>>)> = None;
    for (rule, own) in paths {
        let mut needs: Vec<Need<'_>> = Vec::new();
        let stated = own.iter().map(|r| (*rule, r));
        let stated = stated
            .chain(extras.iter().flat_map(|(from, reqs)| reqs.iter().map(move |r| (*from, r))));
        for (from, r) in stated {
            match needs.iter_mut().find(|n| same_requirement(n.req, r)) {
                Some(n) => {
                    n.count = n.count.max(r.count);
                    n.from.push(from);
                }
                None => needs.push(Need { req: r, count: r.count, from: vec![from], have: 0 }),
            }
        }
        let mut lacking: u64 = 0;
        for n in &mut needs {
            n.have = count(ir, req, n.req);
            if n.have < n.count {
                lacking += u64::from(n.count - n.have);
            }
        }
        let better = match &best {
            None => true,
            Some((fewest, _, _)) => lacking < *fewest,
        };
        if better {
            best = Some((lacking, rule, needs));
        }
    }
    let Some((_, rule, needs)) = best else {
        return deny(ir, RuleIds::new(), vec!["internal error: no evidence path".to_owned()]);
    };

    let unmet: Vec<&Need<'_>> = needs.iter().filter(|n| n.have < n.count).collect();
    // The path's rule, then the `require ... for` rules that state an unmet requirement, in
    // source order.
    let mut rules: RuleIds = smallvec::smallvec![Arc::from(rule.id.as_ref())];
    for (from, _) in extras {
        let contributes = unmet.iter().any(|n| n.from.iter().any(|m| m.id == from.id));
        if contributes && !rules.iter().any(|id| **id == *from.id) {
            rules.push(Arc::from(from.id.as_ref()));
        }
    }
    let mut missing = Vec::new();
    let mut reasons = Vec::new();
    for n in unmet {
        missing.push(Missing {
            evidence: Arc::from(ir.evidence[n.req.evidence.index()].name.as_str()),
            by: n.req.by.map(|r| Arc::from(ir.roles[r.index()].name.as_str())),
            fields: n.req.fields.clone(),
            need: n.count,
            have: n.have,
        });
        reasons.push(format!(
            "{what} needs {}; {} given",
            requirement_text(ir, n.req, n.count),
            n.have
        ));
    }
    Decision {
        decision: Outcome::Pending,
        missing,
        rules,
        reasons,
        ttl_seconds: None,
        policy: Arc::from(ir.hash.as_str()),
    }
}

/// A requirement of a path, identical ones merged.
struct Need<'a> {
    /// The first of the identical requirements (its fields are shown in `missing`).
    req: &'a EvidenceRequirementIr,
    /// The largest count among them.
    count: u32,
    /// The rules that state it.
    from: Vec<&'a RuleMeta>,
    have: u32,
}

/// Same kind, same role, same fields (as sets: the order they are written in does not matter).
fn same_requirement(a: &EvidenceRequirementIr, b: &EvidenceRequirementIr) -> bool {
    a.evidence == b.evidence
        && a.by == b.by
        && a.fields.iter().all(|f| b.fields.contains(f))
        && b.fields.iter().all(|f| a.fields.contains(f))
}

/// The items of the request that meet requirement `r`: of its kind; for a `bound` kind with
/// the request's subject; with the fields it names; for a `by human` kind given by a human
/// not in the chain who holds the role it names, each giver counted once.
fn count(ir: &PolicyIr, req: &Request<'_>, r: &EvidenceRequirementIr) -> u32 {
    let kind = &ir.evidence[r.evidence.index()];
    let mut items: u32 = 0;
    let mut givers: Vec<&str> = Vec::new();
    for item in &req.evidence {
        if item.kind != kind.name {
            continue;
        }
        if kind.bound {
            let same = match (&req.subject, &item.subject) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            };
            if !same {
                continue;
            }
        }
        let mut fields_ok = true;
        for (name, want) in &r.fields {
            let found = item.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
            if !found.is_some_and(|v| field_equals(v, want)) {
                fields_ok = false;
            }
        }
        if !fields_ok {
            continue;
        }
        if kind.by_human {
            let Some(giver) = &item.by else {
                continue;
            };
            if giver.kind != PrincipalKind::Human {
                continue;
            }
            if req.chain.iter().any(|p| p.id == giver.id) {
                continue;
            }
            if let Some(role) = r.by
                && !holds(ir, giver, role)
            {
                continue;
            }
            if !givers.contains(&giver.id.as_ref()) {
                givers.push(&giver.id);
            }
        } else {
            items += 1;
        }
    }
    if kind.by_human { givers.len() as u32 } else { items }
}

/// Whether an evidence item's field has the value a requirement names (a value of another
/// type never does).
fn field_equals(value: &RequestValue<'_>, want: &Value) -> bool {
    match (want, value) {
        (Value::Str(a), RequestValue::Str(b)) => a == b,
        (Value::Int(a), RequestValue::Int(b)) => a == b,
        (Value::Bool(a), RequestValue::Bool(b)) => a == b,
        (Value::Duration(a), RequestValue::Str(b)) => seconds(b) == Some(*a),
        (Value::StringList(a), RequestValue::StrList(b)) => a == b,
        (Value::Kind(k), RequestValue::Str(b)) => k.as_str() == b,
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Decisions and messages

fn deny(ir: &PolicyIr, rules: RuleIds, reasons: Vec<String>) -> Decision {
    Decision {
        decision: Outcome::Deny,
        missing: Vec::new(),
        rules,
        reasons,
        ttl_seconds: None,
        policy: Arc::from(ir.hash.as_str()),
    }
}

/// Source order: files in byte order of their paths, then line, then column.
fn source_key(meta: &RuleMeta) -> (&str, u32, u32) {
    (meta.file.as_str(), meta.line, meta.column)
}

fn depth_reason(req: &Request<'_>, wf: &WorkflowIr) -> String {
    format!("depth {} exceeds max_depth {} of {}", req.chain.len() - 1, wf.max_depth, req.workflow)
}

fn deny_reason(meta: &RuleMeta, because: &Option<String>, result: Truth) -> String {
    let base = match because {
        Some(text) => text.clone(),
        None => format!("denied by {}", meta.id),
    };
    if result == Truth::Unknown {
        format!(
            "{base} (a value this rule reads is missing or cannot be known, and denies fail closed)"
        )
    } else {
        base
    }
}

fn lacks_value(undecided: Option<&RuleMeta>) -> String {
    match undecided {
        Some(meta) => format!(" ({} reads a value the request lacks)", meta.id),
        None => String::new(),
    }
}

fn type_text(ty: &ValueType) -> String {
    match ty {
        ValueType::String => "a string".to_owned(),
        ValueType::Int => "an integer".to_owned(),
        ValueType::Bool => "a boolean".to_owned(),
        ValueType::Duration => "a duration such as \"30m\"".to_owned(),
        ValueType::StringList => "a list of strings".to_owned(),
        ValueType::Command => "a command line (a string)".to_owned(),
        ValueType::Path => "a path (a string)".to_owned(),
        ValueType::Enum(variants) => {
            let quoted: Vec<String> = variants.iter().map(|v| quote(v)).collect();
            format!("one of {}", quoted.join(", "))
        }
    }
}

fn found_text(value: &RequestValue<'_>) -> String {
    match value {
        RequestValue::Other(_) => format!("found {value} ({})", value.describe()),
        _ => format!("found {value}"),
    }
}

use writ_stdx::quote;

/// `deploy(env: "prod", service: "api")`: declared arguments in parameter order.
fn render_call(tool: &ToolIr, args: &[(Str<'_>, RequestValue<'_>)]) -> String {
    if args.is_empty() {
        return tool.name.clone();
    }
    let mut parts = Vec::new();
    for p in &tool.params {
        if let Some((name, value)) = args.iter().find(|(k, _)| *k == p.name) {
            parts.push(format!("{name}: {value}"));
        }
    }
    format!("{}({})", tool.name, parts.join(", "))
}

/// `2 approval by security_reviewer`, `ticket(project: "REL")`.
fn requirement_text(ir: &PolicyIr, r: &EvidenceRequirementIr, count: u32) -> String {
    let mut out = String::new();
    if count != 1 {
        out.push_str(&format!("{count} "));
    }
    out.push_str(&ir.evidence[r.evidence.index()].name);
    if !r.fields.is_empty() {
        let fields: Vec<String> =
            r.fields.iter().map(|(name, v)| format!("{name}: {}", v)).collect();
        out.push_str(&format!("({})", fields.join(", ")));
    }
    if let Some(role) = r.by {
        out.push_str(&format!(" by {}", ir.roles[role.index()].name));
    }
    out
}
