//! The decision procedure of LANGUAGE.md §5, step by step.
//!
//! One implementation serves [`Policy::decide`] and [`Policy::decide_explained`]: it is generic
//! over a [`Tracer`], and with [`NoTrace`] every trace step compiles away.
//!
//! On the allow path nothing is allocated but the decision itself (its `rules` vector): names
//! are looked up by `&str`, role sets are inline bitsets (up to 128 roles), the sets of matched
//! allows and applying `require ... for` rules are inline bitmasks (up to 64 per tool), and the
//! distinct givers of a requirement are kept in an inline array (up to 8).

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

/// The reason of the deny that an impossible state (a rule index out of range in a policy that
/// `Policy::from_ir` accepted) gives: failing closed, never skipping the rule.
const MISSING_RULE: &str = "internal error: a deny rule of the policy is missing";

use crate::cond::{CCond, RunFacts, Scope, Tri, eval_opt, lookup};
use crate::decision::{
    BorrowedDecision, BorrowedRuleIds, Decision, MakeDecision, PendingAction, Unmet,
};
use crate::history::HistoryHorizon;
use crate::ir::{EvidenceKindIr, PrincipalKind, RoleId, ToolId, Value, ValueType, WorkflowId};
use crate::policy::{Deny, Policy, RequireFor, Requirement, Rule, Workflow};
use crate::render;
use crate::request::{
    Action, EvidenceItem, HistoryEntry, Principal, Request, RequestValue, Str, Values,
    format_duration, parse_duration,
};
use crate::shell::CommandLine;
use crate::trace::{
    ItemRef, MayTried, NoTrace, RejectReason, Rejection, RuleRef, Trace, TraceStep, Tracer,
};

impl Policy {
    /// Decides a request, by the decision procedure of `docs/language.md`.
    pub fn decide(&self, req: &Request<'_>) -> Decision {
        self.decide_with(req, &mut NoTrace)
    }

    /// The decision's JSON text: exactly `self.decide(req).to_json()`, written without building
    /// the owned [`Decision`] (no reference count is touched, a deny's reason is not copied).
    /// For a gateway that answers with the text and keeps nothing else.
    pub fn decide_json(&self, req: &Request<'_>) -> String {
        self.decide_with::<_, BorrowedDecision<'_>>(req, &mut NoTrace).to_json(self)
    }

    /// Decides many requests with this one policy: the decisions of [`Policy::decide`], in the
    /// order of the requests. For callers that hold a batch (a gateway answering
    /// `/v1/decide/batch`, a replay of a decision log): one call, one output allocation, and
    /// every decision made against the same policy even if the caller swaps policies meanwhile.
    pub fn decide_many<'r>(
        &self,
        requests: impl IntoIterator<Item = &'r Request<'r>>,
    ) -> Vec<Decision> {
        let requests = requests.into_iter();
        let mut out = Vec::with_capacity(requests.size_hint().0);
        out.extend(requests.map(|r| self.decide(r)));
        out
    }

    /// [`Policy::decide_many`] from JSON texts: each is decoded (the fast path of
    /// [`Request::from_json`] for plain requests) and decided; one that is not a request gives
    /// its error in its place (a gateway answers deny for it), the others are unaffected.
    pub fn decide_many_json<'t>(
        &self,
        texts: impl IntoIterator<Item = &'t str>,
    ) -> Vec<Result<Decision, crate::request::RequestError>> {
        let texts = texts.into_iter();
        let mut out = Vec::with_capacity(texts.size_hint().0);
        out.extend(texts.map(|t| Request::from_json(t).map(|r| self.decide(&r))));
        out
    }

    /// Decides a request and explains how: the same decision as [`Policy::decide`], and the
    /// steps that led to it.
    pub fn decide_explained(&self, req: &Request<'_>) -> (Decision, Trace) {
        let mut trace = Trace::default();
        let decision: Decision = self.decide_with(req, &mut trace);
        trace.record(|| TraceStep::Decided {
            decision: decision.decision,
            rules: decision.rules.iter().map(|r| r.to_string()).collect(),
            reasons: decision.reasons.clone(),
        });
        (decision, trace)
    }

    fn decide_with<'p, T: Tracer, D: MakeDecision<'p>>(
        &'p self,
        req: &Request<'_>,
        t: &mut T,
    ) -> D {
        t.record(|| self.request_step(req));
        // The trace's last step, `Decided`, is recorded by `decide_explained`, from the owned
        // decision it makes.
        match &req.action {
            Action::Call { tool, args } => self.decide_call(req, tool, args, t),
            Action::Start { ttl_seconds } => self.decide_start(req, *ttl_seconds, t),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Calls

    fn decide_call<'p, T: Tracer, D: MakeDecision<'p>>(
        &'p self,
        req: &Request<'_>,
        tool_name: &str,
        args: &[(Str<'_>, RequestValue<'_>)],
        t: &mut T,
    ) -> D {
        // Step 1: the request fits the policy.
        let mut problems = Vec::new();
        let workflow = self.workflow(&req.workflow, &mut problems);
        let tool = self.tools_by_name.get(tool_name).copied();
        match tool {
            Some(tool) => self.check_args(tool, tool_name, args, &mut problems),
            None => problems.push(format!("unknown tool `{tool_name}`")),
        }
        self.check_request(req, &mut problems);
        t.record(|| TraceStep::Fits { problems: problems.clone() });
        let (true, Some((w, wf)), Some(tool), Some(initiator), Some(caller)) =
            (problems.is_empty(), workflow, tool, req.chain.first(), req.chain.last())
        else {
            return self.deny([], problems);
        };

        // Step 2: depth.
        let Some(depth) = self.check_depth(req, wf, t) else {
            return self.deny([], vec![self.depth_reason(req, wf)]);
        };

        // Paths are resolved and command lines parsed once, before any condition reads them
        // (LANGUAGE.md §8, §9); reasons and traces show the resolved paths.
        let args_before_resolution = args;
        let resolved = self.resolve_paths(tool, args, req.cwd.as_deref());
        let args: &[(Str<'_>, RequestValue<'_>)] = &resolved;
        let run = self.run_facts(req, Some((tool, args)));
        if T::ENABLED
            && let Some(step) = self.run_step(req, tool, args_before_resolution, args, &run)
        {
            t.record(|| step);
        }
        let holds = |p: &Principal<'_>, r: RoleId| self.holds(p, r);
        let scope = Scope {
            args,
            context: &req.context,
            initiator,
            caller,
            principal: None,
            depth,
            holds: &holds,
            run: &run,
        };
        let Some(dispatch) = self.dispatch(w, tool) else {
            return self.deny([], vec!["internal error: no dispatch entry".to_owned()]);
        };

        // Step 3: denies (true or unknown).
        if let Some(denied) =
            self.denied(dispatch.denies.iter().copied(), &self.denies, &scope, t, Step::Deny)
        {
            return denied;
        }

        // Step 4: allows (true).
        let mut matched = PosSet::new(dispatch.allows.len());
        let mut undecided: Option<&Rule> = None;
        for (i, allow) in dispatch
            .allows
            .iter()
            .enumerate()
            .filter_map(|(i, &a)| Some((i, self.allows.get(a as usize)?)))
        {
            let result = eval_opt(allow.condition.as_ref(), &scope);
            t.record(|| TraceStep::Allow {
                rule: RuleRef::new(&allow.rule.meta),
                result,
                matches: result == Tri::True,
                facts: facts(allow.condition.as_ref(), &scope),
            });
            if result == Tri::True {
                matched.insert(i);
            } else if result == Tri::Unknown && undecided.is_none() {
                undecided = Some(&allow.rule);
            }
        }
        let matched_allows = || {
            dispatch
                .allows
                .iter()
                .enumerate()
                .filter(|(i, _)| matched.contains(*i))
                .filter_map(|(_, &a)| self.allows.get(a as usize))
        };
        if matched.is_empty() {
            return self.deny(
                [],
                vec![
                    [
                        "no rule in ",
                        &req.workflow,
                        " allows ",
                        &render::call(self, tool_name, args),
                        &lacks_value(undecided),
                    ]
                    .concat(),
                ],
            );
        }

        // Step 5: delegation never amplifies.
        let mut unentitled: Vec<(&Principal<'_>, Option<&Rule>)> = Vec::new();
        for p in &req.chain {
            if p.kind != PrincipalKind::Agent
                && let Err(undecided) = self.entitled(tool, p, &scope, t)
            {
                unentitled.push((p, undecided));
            }
        }
        if !unentitled.is_empty() {
            let call = render::call(self, tool_name, args);
            return self.deny(
                matched_allows().map(|a| &a.rule),
                unentitled.iter().map(|(p, undecided)| {
                    [
                        &*p.id,
                        " is not entitled to ",
                        &call,
                        ": delegation cannot widen access",
                        &lacks_value(*undecided),
                    ]
                    .concat()
                }),
            );
        }

        // Step 6: evidence. `require ... for` rules apply when true or unknown.
        let mut applies = PosSet::new(dispatch.requires.len());
        for (i, rule) in dispatch
            .requires
            .iter()
            .enumerate()
            .filter_map(|(i, &r)| Some((i, self.requires.get(r as usize)?)))
        {
            let result = eval_opt(rule.condition.as_ref(), &scope);
            t.record(|| TraceStep::RequireFor {
                rule: RuleRef::new(&rule.rule.meta),
                result,
                applies: result != Tri::False,
                facts: facts(rule.condition.as_ref(), &scope),
            });
            if result != Tri::False {
                applies.insert(i);
            }
        }
        let extras = dispatch
            .requires
            .iter()
            .enumerate()
            .filter(|(i, _)| applies.contains(*i))
            .filter_map(|(_, &r)| self.requires.get(r as usize));
        let paths = matched_allows().map(|a| (&a.rule, &a.require[..]));
        let action =
            PendingAction::Call { tool: self.tool_name(tool), workflow: self.workflow_name(w) };
        self.evidence(req, paths, extras, action, None, t)
    }

    /// The declared type of argument `name` of `tool`.
    fn param_type(&self, tool: ToolId, name: &str) -> Option<&ValueType> {
        let decl = self.ir.tools.get(tool.index())?;
        let index = *self.params_by_name.get(tool.index())?.get(name)?;
        decl.params.get(index as usize).map(|p| &p.ty)
    }

    /// The call's arguments with every `path` argument resolved (LANGUAGE.md §9). A path that
    /// cannot be resolved (relative without `cwd`, `~`, NUL) becomes a value that is not a
    /// string, so every condition on it is unknown. Borrows when nothing changes, which is the
    /// case for tools without `path` arguments and for paths already in canonical form.
    #[inline]
    fn resolve_paths<'a>(
        &self,
        tool: ToolId,
        args: &'a [(Str<'a>, RequestValue<'a>)],
        cwd: Option<&str>,
    ) -> Cow<'a, [(Str<'a>, RequestValue<'a>)]> {
        if !self.param_kinds.get(tool.index()).is_some_and(|k| k.path) {
            return Cow::Borrowed(args);
        }
        self.resolve_path_args(tool, args, cwd)
    }

    /// [`Self::resolve_paths`] for a tool with `path` parameters.
    fn resolve_path_args<'a>(
        &self,
        tool: ToolId,
        args: &'a [(Str<'a>, RequestValue<'a>)],
        cwd: Option<&str>,
    ) -> Cow<'a, [(Str<'a>, RequestValue<'a>)]> {
        let Some(decl) = self.ir.tools.get(tool.index()) else {
            return Cow::Borrowed(args);
        };
        let mut out: Option<Values<'a>> = None;
        // A tool has few parameters: walk its `path` ones and find each among the arguments
        // (compared by name, no hashing).
        for param in decl.params.iter().filter(|p| matches!(p.ty, ValueType::Path)) {
            let Some((i, text)) =
                args.iter().enumerate().find_map(|(i, (name, value))| match value {
                    RequestValue::Str(text) if crate::same::same(name, &param.name) => {
                        Some((i, text))
                    }
                    _ => None,
                })
            else {
                continue;
            };
            let replacement = match crate::path::resolve(text, cwd) {
                Some(Cow::Borrowed(_)) => continue,
                Some(Cow::Owned(resolved)) => RequestValue::Str(Cow::Owned(resolved)),
                None => RequestValue::Other(Box::new(serde_json::Value::String(text.to_string()))),
            };
            if let Some(slot) = out.get_or_insert_with(|| args.to_vec()).get_mut(i) {
                slot.1 = replacement;
            }
        }
        out.map_or(Cow::Borrowed(args), Cow::Owned)
    }

    /// The run's facts for conditions: `cwd`, `time`, the history with its tools resolved (only
    /// when some condition counts calls), and the call's `command` arguments, parsed.
    #[inline]
    fn run_facts<'a>(
        &self,
        req: &'a Request<'a>,
        call: Option<(ToolId, &'a [(Str<'a>, RequestValue<'a>)])>,
    ) -> RunFacts<'a> {
        let history = req.history.as_deref();
        let history_tools = match history {
            Some(entries) if self.history_horizon != HistoryHorizon::Nothing => {
                self.history_tools(entries)
            }
            _ => Vec::new(),
        };
        let commands = match call {
            Some((tool, args)) if self.param_kinds.get(tool.index()).is_some_and(|k| k.command) => {
                self.parse_commands(tool, args)
            }
            _ => Vec::new(),
        };
        RunFacts { cwd: req.cwd.as_deref(), time: req.time, history, history_tools, commands }
    }

    /// For each history entry, the declared tool it names.
    fn history_tools(&self, entries: &[HistoryEntry<'_>]) -> Vec<Option<ToolId>> {
        entries.iter().map(|e| self.tools_by_name.get(&e.tool).copied()).collect()
    }

    /// The call's `command` arguments, parsed.
    fn parse_commands<'a>(
        &self,
        tool: ToolId,
        args: &'a [(Str<'a>, RequestValue<'a>)],
    ) -> Vec<(&'a str, CommandLine)> {
        let mut commands = Vec::new();
        let Some(decl) = self.ir.tools.get(tool.index()) else {
            return commands;
        };
        for param in decl.params.iter().filter(|p| matches!(p.ty, ValueType::Command)) {
            for (name, value) in args {
                if let RequestValue::Str(text) = value
                    && crate::same::same(name, &param.name)
                {
                    commands.push((&**name, crate::shell::parse(text)));
                }
            }
        }
        commands
    }

    /// Call step 1: every argument is declared and fits its type.
    fn check_args(
        &self,
        tool: ToolId,
        tool_name: &str,
        args: &[(Str<'_>, RequestValue<'_>)],
        problems: &mut Vec<String>,
    ) {
        let (Some(decl), Some(params)) =
            (self.ir.tools.get(tool.index()), self.params_by_name.get(tool.index()))
        else {
            return;
        };
        for (i, (name, value)) in args.iter().enumerate() {
            // Callers mostly send arguments in the order the tool declares them: try the
            // parameter at the argument's position before looking the name up.
            let param = match decl.params.get(i) {
                Some(param) if crate::same::same(&param.name, name) => Some(param),
                _ => params.get(name).and_then(|&p| decl.params.get(p as usize)),
            };
            match param {
                None => problems.push(format!("{tool_name} has no argument `{name}`")),
                Some(param) if !render::fits(&param.ty, value) => problems.push(format!(
                    "argument `{name}` of {tool_name} must be {}; {}",
                    render::type_text(&param.ty),
                    render::found_text(value)
                )),
                Some(_) => {}
            }
        }
    }

    /// Step 1 checks shared by calls and starts: declared attributes of the chain's principals
    /// and declared context values have their types; somebody in the chain is accountable.
    fn check_request(&self, req: &Request<'_>, problems: &mut Vec<String>) {
        if req.chain.is_empty() {
            problems.push("the chain is empty".to_owned());
        }
        for p in &req.chain {
            for (name, value) in &p.attrs {
                if let Some(decl) = self
                    .attributes_by_name
                    .get(name)
                    .and_then(|&a| self.ir.attributes.get(a.index()))
                    && !render::fits(&decl.ty, value)
                {
                    problems.push(format!(
                        "attribute `{name}` of {} must be {}; {}",
                        p.id,
                        render::type_text(&decl.ty),
                        render::found_text(value)
                    ));
                }
            }
        }
        for (name, value) in &req.context {
            if let Some(decl) =
                self.contexts_by_name.get(name).and_then(|&c| self.ir.contexts.get(c.index()))
                && !render::fits(&decl.ty, value)
            {
                problems.push(format!(
                    "context value `{name}` must be {}; {}",
                    render::type_text(&decl.ty),
                    render::found_text(value)
                ));
            }
        }
        if !req.chain.is_empty()
            && !req
                .chain
                .iter()
                .any(|p| matches!(p.kind, PrincipalKind::Human | PrincipalKind::Service))
        {
            problems.push(
                "nobody in the chain is accountable: a chain needs a human or service principal"
                    .to_owned(),
            );
        }
    }

    /// The name of tool `t` as the policy declares it (`?` out of range, which `from_ir` rules
    /// out).
    fn tool_name(&self, t: ToolId) -> &str {
        self.ir.tools.get(t.index()).map_or_else(
            || {
                writ_stdx::never!("tool {t:?} out of range");
                "?"
            },
            |decl| &decl.name,
        )
    }

    /// The name of workflow `w` as the policy declares it (`?` out of range, as for tools).
    fn workflow_name(&self, w: WorkflowId) -> &str {
        self.ir.workflows.get(w.index()).map_or_else(
            || {
                writ_stdx::never!("workflow {w:?} out of range");
                "?"
            },
            |decl| &decl.name,
        )
    }

    fn workflow(&self, name: &str, problems: &mut Vec<String>) -> Option<(WorkflowId, &Workflow)> {
        let found = self
            .workflows_by_name
            .get(name)
            .and_then(|&w| Some((w, self.workflows.get(w.index())?)));
        if found.is_none() {
            problems.push(format!("unknown workflow `{name}`"));
        }
        found
    }

    /// Depth within the workflow's `max_depth`: the depth as a condition value, or `None`.
    fn check_depth<T: Tracer>(&self, req: &Request<'_>, wf: &Workflow, t: &mut T) -> Option<i64> {
        let depth = req.depth();
        let ok = depth <= wf.max_depth as usize;
        t.record(|| TraceStep::Depth { depth, max_depth: wf.max_depth, ok });
        ok.then(|| i64::try_from(depth).unwrap_or(i64::MAX))
    }

    fn depth_reason(&self, req: &Request<'_>, wf: &Workflow) -> String {
        format!("depth {} exceeds max_depth {} of {}", req.depth(), wf.max_depth, req.workflow)
    }

    /// Call step 5 for one principal: a `may` of a role it holds targets the tool and is true
    /// with `principal` bound to it. When not, the first `may` whose condition was unknown.
    fn entitled<T: Tracer>(
        &self,
        tool: ToolId,
        p: &Principal<'_>,
        scope: &Scope<'_>,
        t: &mut T,
    ) -> Result<(), Option<&Rule>> {
        let roles = self.role_set(p);
        let scope = Scope { principal: Some(p), ..*scope };
        let mut tried = Vec::new();
        let mut entitled = false;
        let mut undecided = None;
        let candidates = self.mays_by_tool.get(tool.index()).map_or(&[][..], |l| &l[..]);
        for &(role, m) in candidates {
            if !roles.contains(role) {
                continue;
            }
            let Some(may) = self.mays.get(m as usize) else {
                continue;
            };
            let result = eval_opt(may.condition.as_ref(), &scope);
            if T::ENABLED {
                tried.push(MayTried {
                    rule: RuleRef::new(&may.rule.meta),
                    role: self
                        .role_names
                        .get(role.index())
                        .map_or_else(String::new, |r| r.to_string()),
                    result,
                });
            }
            if result == Tri::True {
                entitled = true;
                break;
            }
            if result == Tri::Unknown && undecided.is_none() {
                undecided = Some(&may.rule);
            }
        }
        t.record(|| TraceStep::Entitlement {
            principal: p.id.to_string(),
            kind: p.kind,
            tried,
            entitled,
        });
        if entitled { Ok(()) } else { Err(undecided) }
    }

    // -----------------------------------------------------------------------------------------
    // Starts

    fn decide_start<'p, T: Tracer, D: MakeDecision<'p>>(
        &'p self,
        req: &Request<'_>,
        ttl: Option<i64>,
        t: &mut T,
    ) -> D {
        // Step 1: the request fits the policy; depth.
        let mut problems = Vec::new();
        let workflow = self.workflow(&req.workflow, &mut problems);
        self.check_request(req, &mut problems);
        if ttl.is_some_and(|ttl| ttl < 0) {
            problems.push("the requested ttl is negative".to_owned());
        }
        t.record(|| TraceStep::Fits { problems: problems.clone() });
        let (true, Some((w, wf)), Some(initiator), Some(caller)) =
            (problems.is_empty(), workflow, req.chain.first(), req.chain.last())
        else {
            return self.deny([], problems);
        };
        let Some(depth) = self.check_depth(req, wf, t) else {
            return self.deny([], vec![self.depth_reason(req, wf)]);
        };

        let run = self.run_facts(req, None);
        let holds = |p: &Principal<'_>, r: RoleId| self.holds(p, r);
        let scope = Scope {
            args: &[],
            context: &req.context,
            initiator,
            caller,
            principal: None,
            depth,
            holds: &holds,
            run: &run,
        };

        // Step 2: deny starts (true or unknown).
        let deny_starts = wf.deny_starts.iter().copied();
        if let Some(denied) =
            self.denied(deny_starts, &self.deny_starts, &scope, t, Step::DenyStart)
        {
            return denied;
        }

        // Step 3: a start rule whose roles the initiator holds and whose condition is true.
        let roles = self.role_set(initiator);
        let mut matched = PosSet::new(wf.starts.len());
        let mut undecided: Option<&Rule> = None;
        for (i, start) in wf.starts.iter().enumerate() {
            let roles_met = start.by.is_empty() || start.by.iter().any(|&r| roles.contains(r));
            let result = roles_met.then(|| eval_opt(start.condition.as_ref(), &scope));
            let matches = result == Some(Tri::True);
            t.record(|| TraceStep::Start {
                rule: RuleRef::new(&start.rule.meta),
                roles_met,
                result,
                matches,
                facts: if roles_met { facts(start.condition.as_ref(), &scope) } else { Vec::new() },
            });
            if matches {
                matched.insert(i);
            } else if result == Some(Tri::Unknown) && undecided.is_none() {
                undecided = Some(&start.rule);
            }
        }
        if matched.is_empty() {
            return self.deny(
                [],
                vec![format!(
                    "no start rule of {} admits {}{}",
                    req.workflow,
                    initiator.id,
                    lacks_value(undecided)
                )],
            );
        }

        // Step 4: the requested ttl.
        let ok = ttl.is_none_or(|ttl| ttl <= wf.ttl_seconds);
        t.record(|| TraceStep::Ttl { requested: ttl, limit: wf.ttl_seconds, ok });
        if !ok {
            return self.deny(
                [],
                vec![format!(
                    "the requested ttl {} exceeds the ttl {} of {}",
                    format_duration(ttl.unwrap_or_default()),
                    format_duration(wf.ttl_seconds),
                    req.workflow
                )],
            );
        }

        // Step 5: evidence over the matching start rules.
        let paths = wf
            .starts
            .iter()
            .enumerate()
            .filter(|(i, _)| matched.contains(*i))
            .map(|(_, s)| (&s.rule, &s.require[..]));
        self.evidence(
            req,
            paths,
            std::iter::empty(),
            PendingAction::Start { workflow: self.workflow_name(w) },
            Some(ttl.unwrap_or(wf.ttl_seconds)),
            t,
        )
    }

    // -----------------------------------------------------------------------------------------
    // Evidence

    /// Call step 6 / start step 5. `paths` are the matching allow (start) rules with their own
    /// requirements, in source order; `extras` the applying `require ... for` rules, whose
    /// requirements every path needs too. `action` names the action in reasons.
    fn evidence<'p, T: Tracer, D: MakeDecision<'p>>(
        &'p self,
        req: &Request<'_>,
        paths: impl Iterator<Item = (&'p Rule, &'p [Requirement])> + Clone,
        extras: impl Iterator<Item = &'p RequireFor> + Clone,
        action: PendingAction<'p>,
        ttl_on_allow: Option<i64>,
        t: &mut T,
    ) -> D {
        // The first path with all its evidence allows. Requirements are independent, so a path
        // is complete exactly when each of its requirements, unmerged, is met.
        for (rule, own) in paths.clone() {
            let needs = own
                .iter()
                .map(|r| (rule, r))
                .chain(extras.clone().flat_map(|x| x.require.iter().map(move |r| (&x.rule, r))));
            let mut complete = true;
            for (from, r) in needs {
                let have = self.count(req, r, rule, from, t);
                if have < r.count {
                    complete = false;
                    if !T::ENABLED {
                        break;
                    }
                }
            }
            if complete {
                return D::allow(self, rule, ttl_on_allow);
            }
        }

        // Pending: the path lacking the fewest items (first on a tie), identical requirements
        // merged keeping the larger count.
        let mut best: Option<(u64, &Rule, MergedPath<'p>)> = None;
        for (rule, own) in paths {
            let mut merged: MergedPath<'p> = own
                .iter()
                .map(|r| Merged {
                    req: r,
                    count: r.count,
                    sources: smallvec::smallvec![rule],
                    have: 0,
                })
                .collect();
            for x in extras.clone() {
                for r in x.require.iter() {
                    match merged.iter_mut().find(|m| m.req.same_as(r)) {
                        Some(m) => {
                            m.count = m.count.max(r.count);
                            if !m.sources.iter().any(|s| Arc::ptr_eq(&s.id, &x.rule.id)) {
                                m.sources.push(&x.rule);
                            }
                        }
                        None => merged.push(Merged {
                            req: r,
                            count: r.count,
                            sources: smallvec::smallvec![&x.rule],
                            have: 0,
                        }),
                    }
                }
            }
            let mut lacking: u64 = 0;
            for m in &mut merged {
                m.have = self.count_items(req, m.req, Some(m.count), None);
                lacking += u64::from(m.count.saturating_sub(m.have));
            }
            t.record(|| TraceStep::Path { rule: RuleRef::new(&rule.meta), lacking });
            if best.as_ref().is_none_or(|(l, _, _)| lacking < *l) {
                best = Some((lacking, rule, merged));
            }
        }
        let Some((_, rule, merged)) = best else {
            return self.deny([], vec!["internal error: no evidence path".to_owned()]);
        };

        // The path's rule, then the `require ... for` rules that state an unmet requirement, in
        // source order (not in the order their requirements were merged).
        let mut rules: BorrowedRuleIds<'p> = smallvec::smallvec![rule];
        for x in extras {
            let contributes = merged.iter().any(|m| {
                m.have < m.count && m.sources.iter().any(|s| Arc::ptr_eq(&s.id, &x.rule.id))
            });
            if contributes && !rules.iter().any(|r| r.id == x.rule.id) {
                rules.push(&x.rule);
            }
        }
        let unmet: smallvec::SmallVec<[Unmet<'p>; 2]> = merged
            .iter()
            .filter(|m| m.have < m.count)
            .map(|m| Unmet { req: m.req, need: m.count, have: m.have })
            .collect();
        D::pending(self, action, &unmet, &rules)
    }

    /// Counts the items meeting one requirement of one path, recording the count (and, when
    /// tracing, every item counted or rejected).
    fn count<T: Tracer>(
        &self,
        req: &Request<'_>,
        r: &Requirement,
        path: &Rule,
        from: &Rule,
        t: &mut T,
    ) -> u32 {
        if !T::ENABLED {
            return self.count_items(req, r, Some(r.count), None);
        }
        let mut log = ItemLog::default();
        let have = self.count_items(req, r, None, Some(&mut log));
        t.record(|| TraceStep::Evidence {
            path: path.id.to_string(),
            from: from.id.to_string(),
            requirement: render::requirement(self, r, r.count),
            need: r.count,
            have,
            counted: log.counted,
            rejected: log
                .rejected
                .into_iter()
                .map(|(item, giver, reject)| Rejection {
                    item,
                    giver,
                    reason: self.reject_reason(r, reject),
                })
                .collect(),
        });
        have
    }

    /// The items of the requirement's kind that meet it, distinct givers counted once; stops
    /// at `stop_at` when given.
    fn count_items(
        &self,
        req: &Request<'_>,
        r: &Requirement,
        stop_at: Option<u32>,
        mut log: Option<&mut ItemLog>,
    ) -> u32 {
        let Some(kind) = self.ir.evidence.get(r.evidence.index()) else {
            return 0;
        };
        let mut have: u32 = 0;
        let mut givers = GiverSet::default();
        for (i, item) in req.evidence.iter().enumerate() {
            if stop_at.is_some_and(|n| have >= n) {
                break;
            }
            if !crate::same::same(&item.kind, &kind.name) {
                continue;
            }
            let giver = if kind.by_human { item.by.as_ref() } else { None };
            match self.qualify(req, kind, r, item, &givers) {
                Ok(()) => {
                    if let Some(g) = giver {
                        givers.insert(&g.id);
                    }
                    have = have.saturating_add(1);
                    if let Some(log) = log.as_deref_mut() {
                        log.counted
                            .push(ItemRef { item: i, giver: giver.map(|g| g.id.to_string()) });
                    }
                }
                Err(reject) => {
                    if let Some(log) = log.as_deref_mut() {
                        log.rejected.push((i, giver.map(|g| g.id.to_string()), reject));
                    }
                }
            }
        }
        have
    }

    /// Whether one item of the requirement's kind counts for it.
    fn qualify<'r>(
        &self,
        req: &'r Request<'r>,
        kind: &EvidenceKindIr,
        r: &Requirement,
        item: &'r EvidenceItem<'r>,
        givers: &GiverSet<'r>,
    ) -> Result<(), Reject> {
        if kind.bound {
            match (&req.subject, &item.subject) {
                (Some(a), Some(b)) if a == b => {}
                _ => return Err(Reject::WrongSubject),
            }
        }
        for (i, (name, value)) in r.fields.iter().enumerate() {
            if !lookup(&item.fields, name).is_some_and(|v| field_matches(v, value)) {
                return Err(Reject::Field(i));
            }
        }
        if kind.by_human {
            let Some(giver) = &item.by else {
                return Err(Reject::NoGiver);
            };
            if giver.kind != PrincipalKind::Human {
                return Err(Reject::NotHuman(giver.kind));
            }
            if req.chain.iter().any(|p| crate::same::same(&p.id, &giver.id)) {
                return Err(Reject::SelfApproval);
            }
            if let Some(role) = r.by
                && !self.holds(giver, role)
            {
                return Err(Reject::LacksRole(role));
            }
            if givers.contains(&giver.id) {
                return Err(Reject::Duplicate);
            }
        }
        Ok(())
    }

    fn reject_reason(&self, r: &Requirement, reject: Reject) -> RejectReason {
        match reject {
            Reject::WrongSubject => RejectReason::WrongSubject,
            Reject::Field(i) => RejectReason::FieldMismatch {
                field: r.fields.get(i).map_or_else(String::new, |(n, _)| n.clone()),
            },
            Reject::NoGiver => RejectReason::NoGiver,
            Reject::NotHuman(kind) => RejectReason::GiverNotHuman { kind },
            Reject::SelfApproval => RejectReason::SelfApproval,
            Reject::LacksRole(role) => RejectReason::GiverLacksRole {
                role: self.role_names.get(role.index()).map_or_else(String::new, |n| n.to_string()),
            },
            Reject::Duplicate => RejectReason::DuplicateGiver,
        }
    }

    // -----------------------------------------------------------------------------------------

    /// Step 3 of a call, step 2 of a start: the rules `ids` of `table` whose condition is true
    /// or unknown deny, all of them named; `None` when none applies. Each is traced as `step`.
    fn denied<'p, T: Tracer, D: MakeDecision<'p>>(
        &'p self,
        ids: impl IntoIterator<Item = u32>,
        table: &'p [Deny],
        scope: &Scope<'_>,
        t: &mut T,
        step: Step,
    ) -> Option<D> {
        // Inline: a deny usually has one rule that applies, and its decision's own lists are
        // the only allocations it needs.
        let mut denied: smallvec::SmallVec<[(&Deny, Tri); 2]> = smallvec::SmallVec::new();
        for d in ids {
            let Some(deny) = table.get(d as usize) else {
                // `Policy::from_ir` checked every index; a rule that is not there denies.
                writ_stdx::never!("deny rule {d} out of range");
                return Some(self.deny([], [MISSING_RULE]));
            };
            let result = eval_opt(deny.condition.as_ref(), scope);
            let applies = result != Tri::False;
            t.record(|| {
                let rule = RuleRef::new(&deny.rule.meta);
                let facts = facts(deny.condition.as_ref(), scope);
                match step {
                    Step::Deny => TraceStep::Deny { rule, result, applies, facts },
                    Step::DenyStart => TraceStep::DenyStart { rule, result, applies, facts },
                }
            });
            if applies {
                denied.push((deny, result));
            }
        }
        (!denied.is_empty()).then(|| {
            self.deny(
                denied.iter().map(|(d, _)| &d.rule),
                denied.iter().map(|(d, r)| deny_reason(d, *r)),
            )
        })
    }

    fn deny<'p, D: MakeDecision<'p>, R: Into<Cow<'p, str>>>(
        &'p self,
        rules: impl IntoIterator<Item = &'p Rule>,
        reasons: impl IntoIterator<Item = R>,
    ) -> D {
        D::deny(self, rules, reasons)
    }

    /// The `run` step of a call's trace ([`TraceStep::Run`]); `None` when the call has no
    /// `command` or `path` argument and the request does not describe its run.
    fn run_step(
        &self,
        req: &Request<'_>,
        tool: ToolId,
        given: &[(Str<'_>, RequestValue<'_>)],
        resolved: &[(Str<'_>, RequestValue<'_>)],
        run: &RunFacts<'_>,
    ) -> Option<TraceStep> {
        let mut paths = Vec::new();
        for ((name, before), (_, after)) in given.iter().zip(resolved) {
            if self.param_type(tool, name) != Some(&ValueType::Path) {
                continue;
            }
            paths.push(match after {
                RequestValue::Str(p) => format!("{name}: {before} -> {}", render::quote(p)),
                _ => format!("{name}: {before} cannot be resolved: unknown"),
            });
        }
        let commands: Vec<String> = run
            .commands
            .iter()
            .map(|(name, line)| match line {
                CommandLine::Known(cs) if cs.is_empty() => format!("{name}: no simple command"),
                CommandLine::Known(cs) => {
                    let cs: Vec<String> = cs.iter().map(render::simple_command).collect();
                    format!("{name}: {}", cs.join(", "))
                }
                CommandLine::Unknown(why) => format!("{name}: unknown ({})", why.reason),
            })
            .collect();
        if paths.is_empty()
            && commands.is_empty()
            && req.cwd.is_none()
            && req.time.is_none()
            && req.history.is_none()
        {
            return None;
        }
        Some(TraceStep::Run {
            cwd: req.cwd.as_deref().map(str::to_owned),
            time: req.time.map(|t| t.to_string()),
            history: req.history.as_ref().map(Vec::len),
            paths,
            commands,
        })
    }

    fn request_step(&self, req: &Request<'_>) -> TraceStep {
        let (action, call) = match &req.action {
            Action::Call { tool, args } => ("call", Some(render::call(self, tool, args))),
            Action::Start { .. } => ("start", None),
        };
        TraceStep::Request {
            action,
            workflow: req.workflow.to_string(),
            call,
            chain: req.chain.iter().map(|p| format!("{} ({})", p.id, p.kind.as_str())).collect(),
            depth: req.depth(),
        }
    }
}

/// For traces: what the conditions on the run's facts in `cond` found.
/// Which deny rules [`Policy::denied`] tries, for the trace.
#[derive(Clone, Copy)]
enum Step {
    /// A call's `deny` rules.
    Deny,
    /// A start's `deny start` rules.
    DenyStart,
}

fn facts(cond: Option<&CCond>, scope: &Scope<'_>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(cond) = cond {
        cond.facts(scope, &mut out);
    }
    out
}

/// A deny's reason ([`Deny::reason`]). When the condition was unknown, say so: the fix is to
/// supply the missing value.
fn deny_reason(deny: &Deny, result: Tri) -> Cow<'_, str> {
    if result == Tri::Unknown {
        Cow::Owned(format!(
            "{} (a value this rule reads is missing or cannot be known, and denies fail closed)",
            deny.reason
        ))
    } else {
        Cow::Borrowed(&deny.reason)
    }
}

/// ` (RULE reads a value the request lacks)` when a rule failed only for want of data: the
/// fix is to supply it.
fn lacks_value(undecided: Option<&Rule>) -> String {
    match undecided {
        Some(rule) => format!(" ({} reads a value the request lacks)", rule.id),
        None => String::new(),
    }
}

/// Whether an evidence item's field equals a requirement's value. A value of another type
/// (or not a writ value) never matches.
fn field_matches(value: &RequestValue<'_>, want: &Value) -> bool {
    match (want, value) {
        (Value::Str(a), RequestValue::Str(b)) => a == b,
        (Value::Int(a), RequestValue::Int(b)) => a == b,
        (Value::Bool(a), RequestValue::Bool(b)) => a == b,
        (Value::Duration(a), RequestValue::Str(b)) => parse_duration(b) == Some(*a),
        (Value::StringList(a), RequestValue::StrList(b)) => a == b,
        (Value::Kind(k), RequestValue::Str(b)) => k.as_str() == b,
        _ => false,
    }
}

/// Why an item did not count (cheap to build; turned into a [`RejectReason`] only for traces).
#[derive(Clone, Copy, Debug)]
enum Reject {
    WrongSubject,
    Field(usize),
    NoGiver,
    NotHuman(PrincipalKind),
    SelfApproval,
    LacksRole(RoleId),
    Duplicate,
}

#[derive(Default)]
struct ItemLog {
    counted: Vec<ItemRef>,
    rejected: Vec<(usize, Option<String>, Reject)>,
}

/// A path's requirements, identical ones merged (inline: paths rarely have more than four).
type MergedPath<'p> = smallvec::SmallVec<[Merged<'p>; 4]>;

/// A requirement of a path, identical ones merged.
struct Merged<'p> {
    req: &'p Requirement,
    count: u32,
    /// The rules it comes from, in order (inline: usually the path's rule and at most one
    /// `require ... for`).
    sources: smallvec::SmallVec<[&'p Rule; 2]>,
    have: u32,
}

/// A set of positions in a short list: inline up to 64, on the heap beyond.
struct PosSet {
    small: u64,
    large: Vec<bool>,
}

impl PosSet {
    #[inline]
    fn new(len: usize) -> PosSet {
        if len > 64 { PosSet::large(len) } else { PosSet { small: 0, large: Vec::new() } }
    }

    #[cold]
    fn large(len: usize) -> PosSet {
        PosSet { small: 0, large: vec![false; len] }
    }

    fn insert(&mut self, i: usize) {
        if self.large.is_empty() {
            if i < 64 {
                self.small |= 1 << i;
            }
        } else if let Some(slot) = self.large.get_mut(i) {
            *slot = true;
        }
    }

    fn contains(&self, i: usize) -> bool {
        if self.large.is_empty() {
            i < 64 && self.small & (1 << i) != 0
        } else {
            self.large.get(i).copied().unwrap_or(false)
        }
    }

    fn is_empty(&self) -> bool {
        self.small == 0 && !self.large.contains(&true)
    }
}

/// Giver ids already counted for a requirement: inline up to 8, hashed beyond (so that a
/// request with many approvals is not counted in quadratic time). Making an empty one writes
/// no inline slots.
#[derive(Default)]
struct GiverSet<'a> {
    inline: smallvec::SmallVec<[&'a str; 8]>,
    spill: Option<HashSet<&'a str>>,
}

impl<'a> GiverSet<'a> {
    fn contains(&self, id: &str) -> bool {
        self.inline.iter().any(|g| crate::same::same(g, id))
            || self.spill.as_ref().is_some_and(|s| s.contains(id))
    }

    fn insert(&mut self, id: &'a str) {
        if self.inline.len() < self.inline.inline_size() {
            self.inline.push(id);
        } else {
            self.spill.get_or_insert_with(HashSet::new).insert(id);
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod set_tests {
    use super::{GiverSet, PosSet};

    #[test]
    fn giver_set_spills_beyond_eight() {
        let ids: Vec<String> = (0..40).map(|i| format!("g{i}")).collect();
        let mut set = GiverSet::default();
        for (n, id) in ids.iter().enumerate() {
            assert!(!set.contains(id));
            set.insert(id);
            assert!(ids[..=n].iter().all(|i| set.contains(i)));
        }
        assert!(!set.contains("g40"));
    }

    #[test]
    fn pos_set_small_and_large() {
        for len in [0, 1, 64, 65, 200] {
            let mut set = PosSet::new(len);
            assert!(set.is_empty());
            for i in (0..len).step_by(3) {
                set.insert(i);
            }
            for i in 0..len {
                assert_eq!(set.contains(i), i % 3 == 0, "{len} {i}");
            }
            assert_eq!(set.is_empty(), len == 0);
            assert!(!set.contains(len + 1000));
        }
    }
}
