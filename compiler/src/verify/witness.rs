//! From an assignment to a complete request (LANGUAGE.md §5, §10): the chain, arguments,
//! context, evidence (`evidence.rs`), history and time, command lines and `cwd`
//! (`commands.rs`). Values the assignment leaves out are left out of the request.

use serde_json::{Map, Value as Json, json};
use writ_evaluator::Tri;
use writ_evaluator::ir::ToolId;
use writ_evaluator::ir::{CallsIr, EvidenceRequirementIr, PolicyIr, PrincipalKind};

use super::commands::{self, Unrealized};
use super::evidence::{self, Bound, Failure};
use super::search::{Assignment, Expr, Goal, Leaf, Slot, Val, Var, final_value};

/// The request's `time` when history is needed: 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600;

/// What a request is for.
#[derive(Clone, Copy, Debug)]
pub enum Action<'a> {
    Call { tool: &'a str },
    Start,
}

/// Everything the leaf needs besides the goal.
pub struct Case<'a> {
    pub ir: &'a PolicyIr,
    pub workflow: &'a str,
    pub action: Action<'a>,
    /// The path's own evidence (`require` of the allow or start rule).
    pub needs: Vec<EvidenceRequirementIr>,
    /// `require ... for` rules: when each applies, what it requires.
    pub requires: Vec<(Expr, Vec<EvidenceRequirementIr>)>,
    /// `given(...)` variables and their items.
    pub given: Vec<(usize, EvidenceRequirementIr)>,
    /// More bounds on the evidence (`writ diff`: another policy's requirement left unmet).
    pub extra: Vec<(EvidenceRequirementIr, Bound)>,
}

fn json_of(v: &Val, var: &Var, goal: &Goal) -> Option<Json> {
    let duration = goal
        .find(var)
        .and_then(|i| goal.vars.get(i))
        .is_some_and(|info| info.ty == super::search::Ty::Duration);
    Some(match v {
        Val::Absent => return None,
        Val::Str(s) => json!(s),
        Val::Int(i) if duration => json!(format!("{i}s")),
        Val::Int(i) => json!(i),
        Val::Bool(b) => json!(b),
        Val::List(l) => json!(l),
        Val::Kind(k) => json!(k.as_str()),
    })
}

fn slot_name(s: Slot) -> &'static str {
    match s {
        Slot::Initiator => "initiator",
        Slot::Caller => "caller",
        Slot::Middle => "delegate",
    }
}

/// The request for an assignment, or why there is none.
pub fn request(goal: &Goal, case: &Case<'_>, values: &Assignment) -> Leaf<Json> {
    let get = |var: &Var| -> Option<&Val> {
        goal.find(var).and_then(|i| values.get(i)).and_then(Option::as_ref)
    };
    let depth = match get(&Var::Depth) {
        Some(Val::Int(d)) => (*d).max(0) as usize,
        _ => 0,
    };
    // Principals.
    let mut ids: Vec<String> = Vec::new();
    let mut principal = |slot: Slot, default_kind: PrincipalKind| -> Json {
        let id = match get(&Var::Id(slot)) {
            Some(Val::Str(s)) => s.clone(),
            _ => format!("writ-verify-{}", slot_name(slot)),
        };
        ids.push(id.clone());
        let kind = match get(&Var::Kind(slot)) {
            Some(Val::Kind(k)) => *k,
            _ => default_kind,
        };
        let mut roles = Vec::new();
        let mut attrs = Map::new();
        for (i, info) in goal.vars.iter().enumerate() {
            let Some(v) = values.get(i).and_then(Option::as_ref) else { continue };
            match &info.var {
                Var::Role(s, name) if *s == slot && *v == Val::Bool(true) => {
                    roles.push(json!(name));
                }
                Var::Attr(s, name) if *s == slot => {
                    if let Some(j) = json_of(v, &info.var, goal) {
                        attrs.insert(name.clone(), j);
                    }
                }
                _ => {}
            }
        }
        let mut p = Map::new();
        p.insert("id".into(), json!(id));
        p.insert("kind".into(), json!(kind.as_str()));
        if !roles.is_empty() {
            p.insert("roles".into(), Json::Array(roles));
        }
        if !attrs.is_empty() {
            p.insert("attrs".into(), Json::Object(attrs));
        }
        Json::Object(p)
    };
    let mut chain = vec![principal(Slot::Initiator, PrincipalKind::Human)];
    if depth >= 2 {
        chain.push(principal(Slot::Middle, PrincipalKind::Agent));
        for n in 0..depth.saturating_sub(2) {
            chain.push(json!({"id": format!("writ-verify-agent-{n}"), "kind": "agent"}));
        }
    }
    if depth >= 1 {
        chain.push(principal(Slot::Caller, PrincipalKind::Agent));
    }

    // Evidence.
    let mut bounds: Vec<(EvidenceRequirementIr, Bound)> = Vec::new();
    for need in &case.needs {
        bounds.push((need.clone(), Bound::AtLeast(need.count)));
    }
    for (when, needs) in &case.requires {
        if final_value(goal, values, when) != Tri::False {
            for need in needs {
                bounds.push((need.clone(), Bound::AtLeast(need.count)));
            }
        }
    }
    bounds.extend(case.extra.iter().cloned());
    for (v, item) in &case.given {
        if let Some(Val::Int(n)) = values.get(*v).and_then(Option::as_ref) {
            let n = (*n).clamp(0, i64::from(u32::MAX)) as u32;
            let top = goal.count_top(*v) as u32;
            let bound = if n > top { Bound::AtLeast(n) } else { Bound::Exactly(n) };
            bounds.push((item.clone(), bound));
        }
    }
    let items = match evidence::solve(case.ir, &bounds, &ids) {
        Ok(items) => items,
        Err(Failure::Impossible) => return Leaf::Reject,
        Err(Failure::TooLarge(why)) => return Leaf::Undecided(why),
    };

    // Commands, relative paths.
    let feature_vars: Vec<Option<usize>> =
        (0..goal.features.len()).map(|i| goal.find(&Var::Feature(i))).collect();
    let realized = match commands::realize(&goal.features, &feature_vars, values) {
        Ok(r) => r,
        Err(Unrealized::Impossible) => return Leaf::Reject,
        Err(Unrealized::Undecided(why)) => return Leaf::Undecided(why),
    };

    let mut req = Map::new();
    let action = match case.action {
        Action::Call { .. } => "call",
        Action::Start => "start",
    };
    req.insert("action".into(), json!(action));
    req.insert("workflow".into(), json!(case.workflow));
    if let Action::Call { tool } = case.action {
        req.insert("tool".into(), json!(tool));
        let mut args = Map::new();
        for (i, info) in goal.vars.iter().enumerate() {
            if let (Var::Arg(name), Some(v)) = (&info.var, values.get(i).and_then(Option::as_ref))
                && let Some(j) = json_of(v, &info.var, goal)
            {
                args.insert(name.clone(), j);
            }
        }
        for (arg, line) in &realized.commands {
            args.insert(arg.clone(), json!(line));
        }
        req.insert("args".into(), Json::Object(args));
    }
    req.insert("chain".into(), Json::Array(chain));
    req.insert("subject".into(), json!(evidence::SUBJECT));
    if !items.is_empty() {
        req.insert("evidence".into(), Json::Array(items));
    }
    let mut context = Map::new();
    for (i, info) in goal.vars.iter().enumerate() {
        if let (Var::Context(name), Some(v)) = (&info.var, values.get(i).and_then(Option::as_ref))
            && let Some(j) = json_of(v, &info.var, goal)
        {
            context.insert(name.clone(), j);
        }
    }
    if !context.is_empty() {
        req.insert("context".into(), Json::Object(context));
    }
    if let Some(Val::Int(ttl)) = get(&Var::Ttl) {
        req.insert("ttl".into(), json!(format!("{ttl}s")));
    }
    if let Some(cwd) = realized.cwd {
        req.insert("cwd".into(), json!(cwd));
    }
    match history(case.ir, goal, values) {
        Ok(None) => {}
        Ok(Some((time, entries))) => {
            if let Some(t) = time {
                req.insert("time".into(), json!(t));
            }
            req.insert("history".into(), Json::Array(entries));
        }
        Err(leaf) => return leaf,
    }
    Leaf::Found(Json::Object(req))
}

fn timestamp(seconds: i64) -> String {
    writ_evaluator::Timestamp::from_unix_seconds(seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|| "2026-01-01T00:00:00Z".to_string())
}

/// A history (and time) giving every assigned `calls(...)` its count; `None` when no count is
/// assigned (the request then has no history).
#[allow(clippy::type_complexity)]
fn history(
    ir: &PolicyIr,
    goal: &Goal,
    values: &Assignment,
) -> Result<Option<(Option<String>, Vec<Json>)>, Leaf<Json>> {
    let mut wanted: Vec<(&CallsIr, Option<(i64, bool)>)> = Vec::new();
    for (i, c) in goal.calls.iter().enumerate() {
        let Some(v) = goal.find(&Var::Calls(i)) else { continue };
        match values.get(v).and_then(Option::as_ref) {
            Some(Val::Int(n)) => {
                let more = *n > goal.count_top(v);
                wanted.push((c, Some((*n, more))));
            }
            Some(Val::Absent) => wanted.push((c, None)),
            _ => {}
        }
    }
    if wanted.is_empty() {
        return Ok(None);
    }
    let absent = wanted.iter().filter(|(_, w)| w.is_none()).count();
    if absent == wanted.len() {
        return Ok(None);
    }
    // Absent windowed counts with every whole-run count known: a history without times.
    let timeless = absent > 0;
    if timeless && wanted.iter().any(|(c, w)| w.is_none() != c.within_seconds.is_some()) {
        return Err(Leaf::Reject);
    }
    let wanted: Vec<(&CallsIr, (i64, bool))> =
        wanted.into_iter().filter_map(|(c, w)| w.map(|w| (c, w))).collect();
    // Tool names: the declared ones, and one undeclared name per glob.
    let mut names: Vec<(String, Option<ToolId>)> = ir
        .tools
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), Some(ToolId(i as u32))))
        .collect();
    for (c, _) in &wanted {
        if let Some(g) = &c.glob {
            let name = g.replace('*', "writ-verify-tool").replace('?', "x");
            if !names.iter().any(|(n, _)| *n == name) {
                names.push((name, None));
            }
        }
    }
    let counted = |c: &CallsIr, name: &str, id: Option<ToolId>| match id {
        Some(t) => c.target.tools.contains(&t),
        None => c.glob.as_ref().is_some_and(|g| writ_evaluator::Glob::new(g).is_match(name)),
    };
    // Distinct signatures, one name each.
    let mut classes: Vec<(Vec<bool>, String)> = Vec::new();
    for (name, id) in &names {
        let sig: Vec<bool> = wanted.iter().map(|(c, _)| counted(c, name, *id)).collect();
        if sig.iter().any(|b| *b) && !classes.iter().any(|(s, _)| *s == sig) {
            classes.push((sig, name.clone()));
        }
    }
    let mut windows: Vec<i64> = wanted.iter().filter_map(|(c, _)| c.within_seconds).collect();
    windows.sort();
    windows.dedup();
    // Offsets before now: 0 (inside every window), then each window's own length (just outside it).
    let mut offsets: Vec<i64> = vec![0];
    offsets.extend(windows.iter().copied());
    let cells: Vec<(usize, i64)> =
        (0..classes.len()).flat_map(|c| offsets.iter().map(move |o| (c, *o))).collect();
    let inside = |k: usize, cell: &(usize, i64)| -> bool {
        let Some((c, _)) = wanted.get(k) else { return false };
        let in_class = classes.get(cell.0).and_then(|(s, _)| s.get(k)).copied().unwrap_or(false);
        in_class && c.within_seconds.is_none_or(|w| cell.1 < w)
    };
    let cap = wanted.iter().map(|(_, (n, _))| *n).max().unwrap_or(0).clamp(0, 66) as u32;
    let mut counts = vec![0u32; cells.len()];
    let mut steps = 0u64;
    #[allow(clippy::too_many_arguments)]
    fn go(
        at: usize,
        cells: &[(usize, i64)],
        wanted: &[(&CallsIr, (i64, bool))],
        inside: &dyn Fn(usize, &(usize, i64)) -> bool,
        cap: u32,
        counts: &mut Vec<u32>,
        steps: &mut u64,
    ) -> Option<bool> {
        *steps += 1;
        if *steps > 200_000 {
            return None;
        }
        let sum = |k: usize, counts: &[u32]| -> i64 {
            cells
                .iter()
                .zip(counts)
                .filter(|(cell, _)| inside(k, cell))
                .map(|(_, n)| i64::from(*n))
                .sum()
        };
        let over =
            wanted.iter().enumerate().any(|(k, (_, (n, more)))| !more && sum(k, counts) > *n);
        if over {
            return Some(false);
        }
        if at >= cells.len() {
            let ok = wanted.iter().enumerate().all(|(k, (_, (n, more)))| {
                let s = sum(k, counts);
                if *more { s >= *n } else { s == *n }
            });
            return Some(ok);
        }
        for n in 0..=cap {
            if let Some(slot) = counts.get_mut(at) {
                *slot = n;
            }
            match go(at + 1, cells, wanted, inside, cap, counts, steps) {
                Some(true) => return Some(true),
                None => return None,
                Some(false) => {}
            }
        }
        if let Some(slot) = counts.get_mut(at) {
            *slot = 0;
        }
        Some(false)
    }
    match go(0, &cells, &wanted, &inside, cap, &mut counts, &mut steps) {
        None => return Err(Leaf::Undecided("too many ways to lay out the run's history".into())),
        Some(false) => return Err(Leaf::Reject),
        Some(true) => {}
    }
    let mut entries = Vec::new();
    for ((class, offset), n) in cells.iter().zip(&counts) {
        let Some((_, name)) = classes.get(*class) else { continue };
        for _ in 0..*n {
            if timeless {
                entries.push(json!({"tool": name}));
            } else {
                entries.push(json!({"tool": name, "at": timestamp(NOW - offset)}));
            }
        }
    }
    // Oldest first (§10).
    entries.sort_by(|a, b| a.get("at").map(Json::to_string).cmp(&b.get("at").map(Json::to_string)));
    let time = (!timeless).then(|| timestamp(NOW));
    Ok(Some((time, entries)))
}
