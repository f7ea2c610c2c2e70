//! Access review: what a role (or a fixture principal) can reach through agent workflows,
//! computed statically from the compiled policy (`writ reach`).
//!
//! An agent amplifies what its initiator's credentials can reach. For a subject this module
//! works out, without any request:
//!
//! - the workflows it can start: the start rules whose `by` roles it holds (a role holds
//!   itself and everything it extends, transitively) and whose conditions can still be true,
//!   minus the `deny start` rules that certainly apply, with the residual condition and the
//!   evidence of each way to start;
//! - for each such workflow, every tool the workflow allows and, for each allow, whether a call
//!   can pass and under which residual condition: the allow's condition, the subject's own
//!   entitlement (`may`, through `extends`; other principals of the chain can only narrow it)
//!   and the negation of every deny that may apply, partially evaluated with what is known
//!   about the subject and simplified ([`simplify`]); or `never`, with the reason;
//! - the evidence of each allow path: the allow's `require` plus every `require ... for` that
//!   targets the tool, the latter with its residual condition when it is conditional;
//! - a summary: reachable tools per tag, the secret-name patterns reachable, the longest
//!   delegation depth and ttl.
//!
//! A residual is a condition in writ syntax that must be **true** for the call (start) to pass;
//! a requirement's `when` is a condition under which the evidence is needed (true or unknown,
//! like a `require ... for`). See `docs/reach.md`.

pub(crate) mod globs;
pub mod print;
pub mod simplify;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as Json;
use writ_evaluator::ir::{
    AllowRuleIr, AttributeId, Cond, DenyRuleIr, DenyStartRuleIr, EntitlementIr,
    EvidenceRequirementIr, Operand, PolicyIr, PrincipalKind, RequireForRuleIr, RoleId, ToolId,
    ToolIr, Value, ValueType, WorkflowIr,
};

pub use simplify::{Knowledge, Mode, Scope, Simple};

/// Whose reach is analysed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A role: a human or service principal holding it, nothing else known.
    Role,
    /// A `fixture` of the policy: its kind, id (its name), roles and attributes are known.
    Fixture,
}

/// The principal whose reach is computed, as the initiator of a chain.
#[derive(Clone, Debug, PartialEq)]
pub struct Subject {
    pub name: String,
    pub origin: Origin,
    /// `None`: a human or a service, unknown which.
    pub kind: Option<PrincipalKind>,
    /// `None`: unknown (stays in conditions as `initiator.id`).
    pub id: Option<String>,
    /// The roles it is given directly.
    pub roles: Vec<RoleId>,
    /// `None`: attributes unknown (they stay in conditions). `Some`: the attributes it has;
    /// any other is absent at decision time, hence unknown, which fails closed.
    pub attributes: Option<Vec<(AttributeId, Value)>>,
}

impl Subject {
    /// A principal holding role `role` (and what it extends), of unknown id and attributes.
    pub fn role(ir: &PolicyIr, role: RoleId) -> Subject {
        Subject {
            name: print::role(ir, role),
            origin: Origin::Role,
            kind: None,
            id: None,
            roles: vec![role],
            attributes: None,
        }
    }

    /// Every role of the policy, in declaration order.
    pub fn roles(ir: &PolicyIr) -> Vec<Subject> {
        (0..ir.roles.len()).map(|r| Subject::role(ir, RoleId(r as u32))).collect()
    }

    /// The role named `name`.
    pub fn find_role(ir: &PolicyIr, name: &str) -> Option<Subject> {
        let index = ir.roles.iter().position(|r| r.name == name)?;
        Some(Subject::role(ir, RoleId(index as u32)))
    }
}

/// The `fixture` declarations of a compiled policy as subjects (kind, roles and attributes
/// from the syntax tree, resolved against the IR). Fixtures with errors are skipped (a policy
/// with errors has no IR anyway).
pub fn fixtures(compiler: &crate::Compiler, ir: &PolicyIr) -> Vec<Subject> {
    use writ_grammar::ast::Item;
    let db = &compiler.db;
    let mut out = Vec::new();
    for file in compiler.policy.files(db) {
        for item in &crate::db::parse(db, *file).items {
            let Item::Fixture(f) = item else { continue };
            let kind = match f.kind.name.as_str() {
                "human" => PrincipalKind::Human,
                "service" => PrincipalKind::Service,
                "agent" => PrincipalKind::Agent,
                _ => continue,
            };
            let roles = f
                .roles
                .iter()
                .filter_map(|r| ir.roles.iter().position(|x| x.name == r.name))
                .map(|i| RoleId(i as u32))
                .collect();
            let attributes = f
                .attrs
                .iter()
                .filter_map(|fv| {
                    let (index, decl) =
                        ir.attributes.iter().enumerate().find(|(_, a)| a.name == fv.name.name)?;
                    let value = literal(&fv.value, &decl.ty)?;
                    Some((AttributeId(index as u32), value))
                })
                .collect();
            out.push(Subject {
                name: f.name.name.clone(),
                origin: Origin::Fixture,
                kind: Some(kind),
                id: Some(f.name.name.clone()),
                roles,
                attributes: Some(attributes),
            });
        }
    }
    out
}

fn literal(e: &writ_grammar::ast::Expr, ty: &ValueType) -> Option<Value> {
    use writ_grammar::ast::ExprKind;
    Some(match (&e.kind, ty) {
        (ExprKind::Str(s), ValueType::String | ValueType::Enum(_)) => Value::Str(s.clone()),
        (ExprKind::Int(i), ValueType::Int) => Value::Int(*i),
        (ExprKind::Bool(b), ValueType::Bool) => Value::Bool(*b),
        (ExprKind::Duration(d), ValueType::Duration) => Value::Duration(d.seconds),
        (ExprKind::List(items), ValueType::StringList) => {
            Value::StringList(items.iter().map(|s| s.value.clone()).collect())
        }
        (ExprKind::Paren(inner), _) => return literal(inner, ty),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Results

/// The reach of several subjects in one policy: the JSON document of `writ reach`.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The policy digest (`sha256:...`).
    pub policy: String,
    pub subjects: Vec<Reach>,
}

/// What one subject can reach.
#[derive(Clone, Debug, Serialize)]
pub struct Reach {
    pub subject: SubjectInfo,
    /// Caveats about this analysis (for an agent subject, say).
    pub notes: Vec<String>,
    /// Every workflow of the policy, in declaration order.
    pub workflows: Vec<WorkflowReach>,
    pub summary: Summary,
}

#[derive(Clone, Debug, Serialize)]
pub struct SubjectInfo {
    pub name: String,
    pub origin: Origin,
    /// `human`, `service`, `agent`, or `null` for "a human or a service".
    pub kind: Option<String>,
    /// The roles given directly.
    pub roles: Vec<String>,
    /// Every role held, through `extends` (declaration order).
    pub holds: Vec<String>,
    /// A fixture's attributes; `null` when unknown (a role).
    pub attributes: Option<BTreeMap<String, Json>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct WorkflowReach {
    pub workflow: String,
    pub startable: bool,
    /// Why it cannot be started (when `startable` is false).
    pub never: Option<String>,
    pub max_depth: u32,
    /// `30m`, `2h`, ...
    pub ttl: String,
    pub ttl_seconds: i64,
    /// The ways it can start it (start rules that can pass).
    pub starts: Vec<StartPath>,
    /// Every tool the workflow allows (empty when it cannot be started).
    pub tools: Vec<ToolReach>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StartPath {
    /// The start rule's id.
    pub rule: String,
    /// The residual condition (writ syntax) that must be true; `null` for always.
    pub condition: Option<String>,
    #[serde(skip)]
    pub residual: Option<Cond>,
    pub evidence: Vec<Requirement>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ToolReach {
    pub tool: String,
    pub tags: Vec<String>,
    /// Some allow path can pass.
    pub reachable: bool,
    /// Why no path can pass, when that has one reason for the whole tool (no entitlement, a
    /// deny that always applies) or when every path fails.
    pub never: Option<String>,
    /// One per allow rule of the workflow that targets the tool, in source order.
    pub paths: Vec<CallPath>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CallPath {
    /// The allow rule's id.
    pub rule: String,
    /// The allow as written (whitespace collapsed).
    pub allow: String,
    pub reachable: bool,
    /// The residual condition (writ syntax) that must be true; `null` for always. Only on
    /// reachable paths.
    pub condition: Option<String>,
    #[serde(skip)]
    pub residual: Option<Cond>,
    /// Only on reachable paths.
    pub evidence: Vec<Requirement>,
    /// Why this path can never pass.
    pub never: Option<String>,
}

/// One evidence requirement of a path.
#[derive(Clone, Debug, Serialize)]
pub struct Requirement {
    /// As in a `require` list: `2 approval by release_captain`.
    pub text: String,
    pub evidence: String,
    pub count: u32,
    pub by: Option<String>,
    pub fields: BTreeMap<String, Json>,
    /// The rule that asks for it (the allow or start itself, or a `require ... for`).
    pub rule: String,
    /// For a conditional `require ... for`: the residual condition under which it is needed
    /// (writ syntax; needed when true or unknown). `null`: always needed.
    pub when: Option<String>,
    #[serde(skip)]
    pub residual: Option<Cond>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The workflows it can start.
    pub startable: Vec<String>,
    /// The tools it can reach in some startable workflow (declaration order).
    pub reachable_tools: Vec<String>,
    /// Every tag of the policy (sorted), with the reachable tools that carry it.
    pub tags: Vec<TagReach>,
    /// Reachable tools tagged `secret`, per workflow, with the names they can be called with.
    pub secrets: Vec<SecretReach>,
    /// The longest delegation depth allowed over the startable workflows.
    pub max_depth: Option<LongestDepth>,
    /// The longest credential lifetime over the startable workflows.
    pub max_ttl: Option<LongestTtl>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TagReach {
    pub tag: String,
    pub count: usize,
    pub tools: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SecretReach {
    pub tool: String,
    pub workflow: String,
    /// True when some path leaves the arguments unconstrained.
    pub any: bool,
    /// The patterns some path constrains an argument to (when `any` is false).
    pub patterns: Vec<SecretPattern>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecretPattern {
    pub argument: String,
    /// `matches` (a glob) or `==` (an exact value).
    pub op: String,
    pub value: String,
}

impl SecretPattern {
    /// `name matches "deploy/*"`
    pub fn text(&self) -> String {
        format!("{} {} {}", self.argument, self.op, print::quote(&self.value))
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct LongestDepth {
    pub depth: u32,
    pub workflows: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LongestTtl {
    pub ttl: String,
    pub ttl_seconds: i64,
    pub workflows: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// The analysis

/// The reach of every subject in `subjects`.
pub fn report(ir: &PolicyIr, subjects: &[Subject]) -> Report {
    Report { policy: ir.hash.clone(), subjects: subjects.iter().map(|s| reach(ir, s)).collect() }
}

/// Roles held through `extends`, by role id.
fn closure(ir: &PolicyIr, roles: &[RoleId]) -> Vec<bool> {
    let mut holds = vec![false; ir.roles.len()];
    let mut stack: Vec<RoleId> = roles.to_vec();
    while let Some(r) = stack.pop() {
        if let Some(h) = holds.get_mut(r.index())
            && !*h
        {
            *h = true;
            if let Some(role) = ir.roles.get(r.index()) {
                stack.extend(role.extends.iter().copied());
            }
        }
    }
    holds
}

fn value_json(v: &Value) -> Json {
    match v {
        Value::Str(s) => Json::from(s.as_str()),
        Value::Int(i) => Json::from(*i),
        Value::Bool(b) => Json::from(*b),
        Value::Duration(s) => Json::from(print::duration(*s)),
        Value::StringList(l) => Json::from(l.clone()),
        Value::Kind(k) => Json::from(k.as_str()),
    }
}

/// `true` as a condition.
fn always() -> Cond {
    Cond::And(Vec::new())
}

fn not(c: &Option<Cond>) -> Cond {
    Cond::Not(Box::new(c.clone().unwrap_or_else(always)))
}

fn because(text: &Option<String>) -> String {
    match text {
        Some(t) => format!(" ({})", print::quote(t)),
        None => String::new(),
    }
}

struct Analysis<'a> {
    ir: &'a PolicyIr,
    known: Knowledge,
    /// An agent's own entitlements are not checked (LANGUAGE.md §5, call step 5).
    agent: bool,
}

/// What `subject` can reach as the initiator of a chain.
pub fn reach(ir: &PolicyIr, subject: &Subject) -> Reach {
    let analysis = Analysis::new(ir, subject);
    let mut notes = Vec::new();
    if analysis.agent {
        notes.push(format!(
            "`{}` is an agent: a call checks the entitlements of the human and service principals \
             in the chain only, so its reach is bounded by theirs, which this analysis does not \
             know; its own entitlements are not applied",
            subject.name
        ));
    }
    let workflows: Vec<WorkflowReach> = ir.workflows.iter().map(|w| analysis.workflow(w)).collect();
    let summary = summary(ir, &workflows);
    Reach { subject: analysis.subject_info(subject), notes, workflows, summary }
}

impl<'a> Analysis<'a> {
    fn new(ir: &'a PolicyIr, subject: &Subject) -> Analysis<'a> {
        let holds = closure(ir, &subject.roles);
        let attributes = subject.attributes.as_ref().map(|given| {
            let mut values = vec![None; ir.attributes.len()];
            for (id, v) in given {
                if let Some(slot) = values.get_mut(id.index()) {
                    *slot = Some(v.clone());
                }
            }
            values
        });
        let known = Knowledge {
            holds,
            kind: subject.kind,
            id: subject.id.clone(),
            attributes,
            ..Knowledge::default()
        };
        Analysis { ir, known, agent: subject.kind == Some(PrincipalKind::Agent) }
    }

    fn scope<'s>(&'s self, w: &WorkflowIr, tool: Option<&'s ToolIr>) -> Scope<'s> {
        Scope {
            ir: self.ir,
            known: &self.known,
            max_depth: w.max_depth,
            params: tool.map_or(&[][..], |t| &t.params[..]),
        }
    }

    fn holds(&self, role: RoleId) -> bool {
        self.known.holds.get(role.index()).copied().unwrap_or(false)
    }

    fn held_names(&self) -> Vec<String> {
        self.ir
            .roles
            .iter()
            .enumerate()
            .filter(|(i, _)| self.holds(RoleId(*i as u32)))
            .map(|(_, r)| r.name.clone())
            .collect()
    }

    fn subject_info(&self, s: &Subject) -> SubjectInfo {
        SubjectInfo {
            name: s.name.clone(),
            origin: s.origin,
            kind: s.kind.map(|k| k.as_str().to_string()),
            roles: s.roles.iter().map(|r| print::role(self.ir, *r)).collect(),
            holds: self.held_names(),
            attributes: s.attributes.as_ref().map(|attrs| {
                attrs
                    .iter()
                    .map(|(id, v)| {
                        let name = self
                            .ir
                            .attributes
                            .get(id.index())
                            .map_or_else(|| format!("#{id}"), |a| a.name.clone());
                        (name, value_json(v))
                    })
                    .collect()
            }),
        }
    }

    fn text(&self, c: &Cond) -> String {
        print::condition(self.ir, c)
    }

    fn workflow(&self, w: &WorkflowIr) -> WorkflowReach {
        let scope = self.scope(w, None);
        let mut blocked = None;
        let mut denies: Vec<&DenyStartRuleIr> = Vec::new();
        for d in w.rules.deny_starts.iter().chain(&self.ir.guardrails.deny_starts) {
            let condition = d.condition.clone().unwrap_or_else(always);
            match scope.residual(&condition, Mode::MayApply, &[]) {
                Simple::True => {
                    blocked.get_or_insert_with(|| {
                        format!("denied by {}{}", d.meta.id, because(&d.because))
                    });
                }
                Simple::False => {}
                Simple::Residual(_) => denies.push(d),
            }
        }
        let mut starts = Vec::new();
        let mut reasons = Vec::new();
        if blocked.is_none() {
            for s in &w.starts {
                if !s.by.is_empty() && !s.by.iter().any(|r| self.holds(*r)) {
                    let roles: Vec<String> =
                        s.by.iter().map(|r| print::role(self.ir, *r)).collect();
                    reasons.push(format!("{} is for {}", s.meta.id, roles.join(" or ")));
                    continue;
                }
                let mut parts: Vec<Cond> = s.condition.iter().cloned().collect();
                parts.extend(denies.iter().map(|d| not(&d.condition)));
                match scope.residual(&Cond::And(parts), Mode::MustHold, &[]) {
                    Simple::False => reasons.push(self.start_failure(&scope, s, &denies)),
                    result => {
                        let residual = result.cond();
                        starts.push(StartPath {
                            rule: s.meta.id.clone(),
                            condition: residual.as_ref().map(|c| self.text(c)),
                            residual,
                            evidence: merge(
                                s.require
                                    .iter()
                                    .map(|r| self.requirement(r, &s.meta.id, None))
                                    .collect(),
                            ),
                        });
                    }
                }
            }
        }
        let startable = !starts.is_empty();
        let never = if startable {
            None
        } else if let Some(b) = blocked {
            Some(b)
        } else if w.starts.is_empty() {
            Some("it has no start rule".to_string())
        } else {
            Some(reasons.join("; "))
        };
        let tools = if startable { self.tools(w) } else { Vec::new() };
        WorkflowReach {
            workflow: w.name.clone(),
            startable,
            never,
            max_depth: w.max_depth,
            ttl: print::duration(w.ttl_seconds),
            ttl_seconds: w.ttl_seconds,
            starts,
            tools,
        }
    }

    fn start_failure(
        &self,
        scope: &Scope<'_>,
        s: &writ_evaluator::ir::StartRuleIr,
        denies: &[&DenyStartRuleIr],
    ) -> String {
        let own = s.condition.clone().unwrap_or_else(always);
        if scope.residual(&own, Mode::MustHold, &[]) == Simple::False {
            return format!("{}: its condition `{}` can never be true", s.meta.id, self.text(&own));
        }
        let mut parts = vec![own];
        for d in denies {
            parts.push(not(&d.condition));
            if scope.residual(&Cond::And(parts.clone()), Mode::MustHold, &[]) == Simple::False {
                return format!("{}: denied by {}{}", s.meta.id, d.meta.id, because(&d.because));
            }
        }
        format!("{}: its condition can never be true", s.meta.id)
    }

    fn tools(&self, w: &WorkflowIr) -> Vec<ToolReach> {
        let mut ids: Vec<ToolId> =
            w.allows.iter().flat_map(|a| a.target.tools.iter().copied()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .filter_map(|t| self.ir.tools.get(t.index()).map(|tool| self.tool(w, t, tool)))
            .collect()
    }

    fn tool(&self, w: &WorkflowIr, t: ToolId, tool: &ToolIr) -> ToolReach {
        let scope = self.scope(w, Some(tool));
        let mays: Vec<&EntitlementIr> = self
            .ir
            .roles
            .iter()
            .enumerate()
            .filter(|(i, _)| self.holds(RoleId(*i as u32)))
            .flat_map(|(_, r)| &r.entitlements)
            .filter(|e| e.target.tools.contains(&t))
            .collect();
        let mut never = None;
        if mays.is_empty() && !self.agent {
            let held = self.held_names();
            never = Some(if held.is_empty() {
                format!("not entitled: it holds no role, so no `may` covers {}", tool.name)
            } else {
                format!("not entitled: no `may` of {} covers {}", held.join(", "), tool.name)
            });
        }
        // The entitlement as one condition: any `may` that is true (`None`: always).
        let entitlement: Option<Cond> = if self.agent || mays.iter().any(|m| m.condition.is_none())
        {
            None
        } else {
            Some(Cond::Or(mays.iter().filter_map(|m| m.condition.clone()).collect()))
        };
        let mut denies: Vec<&DenyRuleIr> = Vec::new();
        for d in w.rules.denies.iter().chain(&self.ir.guardrails.denies) {
            if !d.target.tools.contains(&t) {
                continue;
            }
            let condition = d.condition.clone().unwrap_or_else(always);
            match scope.residual(&condition, Mode::MayApply, &[]) {
                Simple::True => {
                    never.get_or_insert_with(|| {
                        format!("denied by {}{}", d.meta.id, because(&d.because))
                    });
                }
                Simple::False => {}
                Simple::Residual(_) => denies.push(d),
            }
        }
        let requires: Vec<&RequireForRuleIr> = w
            .rules
            .requires
            .iter()
            .chain(&self.ir.guardrails.requires)
            .filter(|r| r.target.tools.contains(&t))
            .collect();
        let mut paths = Vec::new();
        for a in w.allows.iter().filter(|a| a.target.tools.contains(&t)) {
            let mut path = CallPath {
                rule: a.meta.id.clone(),
                allow: a.meta.text.clone(),
                reachable: false,
                condition: None,
                residual: None,
                evidence: Vec::new(),
                never: None,
            };
            if let Some(reason) = &never {
                path.never = Some(reason.clone());
                paths.push(path);
                continue;
            }
            let mut parts: Vec<Cond> = a.condition.iter().cloned().collect();
            parts.extend(entitlement.iter().cloned());
            parts.extend(denies.iter().map(|d| not(&d.condition)));
            match scope.residual(&Cond::And(parts), Mode::MustHold, &[]) {
                Simple::False => {
                    path.never =
                        Some(self.call_failure(&scope, a, entitlement.as_ref(), &mays, &denies));
                }
                result => {
                    let residual = result.cond();
                    let assume = residual.as_ref().map(simplify::conjuncts).unwrap_or_default();
                    path.reachable = true;
                    path.condition = residual.as_ref().map(|c| self.text(c));
                    path.evidence = self.evidence(&scope, a, &requires, &assume);
                    path.residual = residual;
                }
            }
            paths.push(path);
        }
        let reachable = paths.iter().any(|p| p.reachable);
        if !reachable && never.is_none() {
            let mut reasons: Vec<String> = Vec::new();
            for p in &paths {
                if let Some(r) = &p.never
                    && !reasons.contains(r)
                {
                    reasons.push(r.clone());
                }
            }
            never = Some(if paths.len() == 1 {
                reasons.join("; ")
            } else {
                format!("no allow can pass: {}", reasons.join("; "))
            });
        }
        ToolReach {
            tool: tool.name.clone(),
            tags: tool.tags.clone(),
            reachable,
            never: if reachable { None } else { never },
            paths,
        }
    }

    fn call_failure(
        &self,
        scope: &Scope<'_>,
        a: &AllowRuleIr,
        entitlement: Option<&Cond>,
        mays: &[&EntitlementIr],
        denies: &[&DenyRuleIr],
    ) -> String {
        let mut parts: Vec<Cond> = a.condition.iter().cloned().collect();
        let is_false = |parts: &[Cond]| {
            scope.residual(&Cond::And(parts.to_vec()), Mode::MustHold, &[]) == Simple::False
        };
        if is_false(&parts) {
            return "its condition can never be true".to_string();
        }
        if let Some(e) = entitlement {
            parts.push(e.clone());
            if is_false(&parts) {
                let mays: Vec<String> =
                    mays.iter().map(|m| format!("{} `{}`", m.meta.id, m.meta.text)).collect();
                return format!("outside the entitlement ({})", mays.join(", "));
            }
        }
        for d in denies {
            parts.push(not(&d.condition));
            if is_false(&parts) {
                return format!(
                    "denied by {}{} whenever it applies",
                    d.meta.id,
                    because(&d.because)
                );
            }
        }
        "its condition can never be true".to_string()
    }

    fn requirement(
        &self,
        r: &EvidenceRequirementIr,
        rule: &str,
        when: Option<Cond>,
    ) -> Requirement {
        Requirement {
            text: print::requirement(self.ir, r),
            evidence: self
                .ir
                .evidence
                .get(r.evidence.index())
                .map_or_else(|| format!("#{}", r.evidence), |e| e.name.clone()),
            count: r.count,
            by: r.by.map(|b| print::role(self.ir, b)),
            fields: r.fields.iter().map(|(k, v)| (k.clone(), value_json(v))).collect(),
            rule: rule.to_string(),
            when: when.as_ref().map(|c| self.text(c)),
            residual: when,
        }
    }

    /// The evidence of one allow path: its own `require` and the `require ... for` rules that
    /// may apply to a request satisfying the path's residual (`assume`: its conjuncts).
    fn evidence(
        &self,
        scope: &Scope<'_>,
        a: &AllowRuleIr,
        requires: &[&RequireForRuleIr],
        assume: &[Cond],
    ) -> Vec<Requirement> {
        let mut out: Vec<Requirement> =
            a.require.iter().map(|r| self.requirement(r, &a.meta.id, None)).collect();
        for rf in requires {
            let condition = rf.condition.clone().unwrap_or_else(always);
            let when = match scope.residual(&condition, Mode::MayApply, assume) {
                Simple::False => continue,
                Simple::True => None,
                Simple::Residual(c) => Some(c),
            };
            out.extend(rf.require.iter().map(|r| self.requirement(r, &rf.meta.id, when.clone())));
        }
        merge(out)
    }
}

/// Identical requirements (kind, role, fields) are one, with the larger count (LANGUAGE.md §7);
/// a conditional one is dropped when the same is needed always with at least its count.
fn merge(items: Vec<Requirement>) -> Vec<Requirement> {
    let key = |r: &Requirement| (r.evidence.clone(), r.by.clone(), r.fields.clone());
    let mut out: Vec<Requirement> = Vec::new();
    for r in items.iter().filter(|r| r.when.is_none()) {
        match out.iter_mut().find(|o| key(o) == key(r)) {
            Some(o) if o.count < r.count => {
                o.count = r.count;
                o.text = r.text.clone();
            }
            Some(_) => {}
            None => out.push(r.clone()),
        }
    }
    for r in items.iter().filter(|r| r.when.is_some()) {
        let always = out.iter().any(|o| o.when.is_none() && key(o) == key(r) && o.count >= r.count);
        let same = out.iter_mut().find(|o| o.when == r.when && key(o) == key(r));
        match (always, same) {
            (true, _) => {}
            (false, Some(o)) => {
                if o.count < r.count {
                    o.count = r.count;
                    o.text = r.text.clone();
                }
            }
            (false, None) => out.push(r.clone()),
        }
    }
    out
}

/// The patterns a residual constrains a string argument to: `Some` when every way for it to
/// be true pins an argument with `matches`, `==` or `in`.
fn patterns(c: &Cond) -> Option<Vec<SecretPattern>> {
    let pattern = |arg: &str, op: &str, value: &str| SecretPattern {
        argument: arg.to_string(),
        op: op.to_string(),
        value: value.to_string(),
    };
    match c {
        Cond::Matches(Operand::Arg(a), g) => Some(vec![pattern(a, "matches", g)]),
        Cond::Compare(
            writ_evaluator::ir::CmpOp::Eq,
            Operand::Arg(a),
            Operand::Literal(Value::Str(s)),
        ) => Some(vec![pattern(a, "==", s)]),
        Cond::In(Operand::Arg(a), Operand::Literal(Value::StringList(items))) => {
            Some(items.iter().map(|s| pattern(a, "==", s)).collect())
        }
        Cond::And(items) => items.iter().find_map(patterns),
        Cond::Or(items) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(patterns(i)?);
            }
            Some(out)
        }
        _ => None,
    }
}

fn summary(ir: &PolicyIr, workflows: &[WorkflowReach]) -> Summary {
    let startable: Vec<&WorkflowReach> = workflows.iter().filter(|w| w.startable).collect();
    let reached: Vec<&str> = startable
        .iter()
        .flat_map(|w| &w.tools)
        .filter(|t| t.reachable)
        .map(|t| t.tool.as_str())
        .collect();
    let reachable_tools: Vec<String> = ir
        .tools
        .iter()
        .filter(|t| reached.contains(&t.name.as_str()))
        .map(|t| t.name.clone())
        .collect();
    let mut tag_names: Vec<&str> =
        ir.tools.iter().flat_map(|t| t.tags.iter().map(String::as_str)).collect();
    tag_names.sort_unstable();
    tag_names.dedup();
    let tags = tag_names
        .into_iter()
        .map(|tag| {
            let tools: Vec<String> = ir
                .tools
                .iter()
                .filter(|t| t.tags.iter().any(|x| x == tag) && reachable_tools.contains(&t.name))
                .map(|t| t.name.clone())
                .collect();
            TagReach { tag: tag.to_string(), count: tools.len(), tools }
        })
        .collect();
    let mut secrets = Vec::new();
    for w in &startable {
        for t in w.tools.iter().filter(|t| t.reachable && t.tags.iter().any(|x| x == "secret")) {
            let mut any = false;
            let mut found: Vec<SecretPattern> = Vec::new();
            for p in t.paths.iter().filter(|p| p.reachable) {
                match p.residual.as_ref().and_then(patterns) {
                    Some(ps) => {
                        for p in ps {
                            if !found.contains(&p) {
                                found.push(p);
                            }
                        }
                    }
                    None => any = true,
                }
            }
            secrets.push(SecretReach {
                tool: t.tool.clone(),
                workflow: w.workflow.clone(),
                any,
                patterns: if any { Vec::new() } else { found },
            });
        }
    }
    let max_depth = startable.iter().map(|w| w.max_depth).max().map(|depth| LongestDepth {
        depth,
        workflows: startable
            .iter()
            .filter(|w| w.max_depth == depth)
            .map(|w| w.workflow.clone())
            .collect(),
    });
    let max_ttl = startable.iter().map(|w| w.ttl_seconds).max().map(|s| LongestTtl {
        ttl: print::duration(s),
        ttl_seconds: s,
        workflows: startable
            .iter()
            .filter(|w| w.ttl_seconds == s)
            .map(|w| w.workflow.clone())
            .collect(),
    });
    Summary {
        startable: startable.iter().map(|w| w.workflow.clone()).collect(),
        reachable_tools,
        tags,
        secrets,
        max_depth,
        max_ttl,
    }
}

// ---------------------------------------------------------------------------------------------
// Tool visibility for a known chain

/// The tools a run of `workflow` whose chain is `chain` may ever be allowed to call: what an MCP
/// gateway lists in `tools/list` so that listing agrees with call-time decisions.
///
/// Everything about the chain is known here (ids, kinds, roles, attributes, the caller, the
/// depth); what stays open is what a call brings: arguments, context, evidence and subject. A
/// tool is listed when some call could be allowed or pending: a deny that certainly applies, an
/// allow or entitlement that can never hold, or a chain that fails §5 step 1 or 2 (no human or
/// service, a declared attribute of the wrong type, too deep) hide it. Each listed tool comes with
/// its allow paths, residual conditions and evidence, as in `writ reach`.
///
/// The answer errs only towards listing: a listed tool may still be denied for every argument
/// when two conditions that each can hold cannot hold together across principals (the
/// entitlement of a principal after the first is checked on its own). A tool that is not listed is
/// denied on every call with this chain.
///
/// `Err` names an unknown workflow (a misconfigured gateway, not a decision).
pub fn visible_tools(
    ir: &PolicyIr,
    workflow: &str,
    chain: &[writ_evaluator::Principal<'_>],
) -> Result<Vec<ToolReach>, String> {
    let w = ir
        .workflows
        .iter()
        .find(|w| w.name == workflow)
        .ok_or_else(|| format!("unknown workflow `{workflow}`"))?;
    let (Some(first), Some(last)) = (chain.first(), chain.last()) else {
        return Ok(Vec::new());
    };
    if !chain.iter().any(|p| p.kind != PrincipalKind::Agent) {
        return Ok(Vec::new());
    }
    let depth = u32::try_from(chain.len() - 1).unwrap_or(u32::MAX);
    if depth > w.max_depth {
        return Ok(Vec::new());
    }
    let mut known: Vec<Knowledge> = Vec::with_capacity(chain.len());
    for p in chain {
        match chain_knowledge(ir, p) {
            Some(k) => known.push(k),
            // §5 step 1: a declared attribute of the wrong type denies every call.
            None => return Ok(Vec::new()),
        }
    }
    let Some(mut initiator) = known.first().cloned() else {
        return Ok(Vec::new());
    };
    initiator.caller = Some(Box::new(chain_knowledge(ir, last).unwrap_or_default()));
    initiator.depth = Some(depth);
    let analysis = Analysis { ir, known: initiator, agent: first.kind == PrincipalKind::Agent };
    let mut visible = Vec::new();
    for reach in analysis.tools(w) {
        if !reach.reachable {
            continue;
        }
        let Some((t, tool)) = ir.tools.iter().enumerate().find(|(_, t)| t.name == reach.tool)
        else {
            continue;
        };
        let others_entitled = chain.iter().zip(&known).skip(1).all(|(p, k)| {
            p.kind == PrincipalKind::Agent || analysis.entitled(w, tool, ToolId(t as u32), k)
        });
        if others_entitled {
            visible.push(reach);
        }
    }
    Ok(visible)
}

impl Analysis<'_> {
    /// Whether `principal` (a later principal of the chain) holds a `may` for the tool whose
    /// condition can still be true with `principal` bound to it.
    fn entitled(&self, w: &WorkflowIr, tool: &ToolIr, t: ToolId, principal: &Knowledge) -> bool {
        let mut known = self.known.clone();
        known.principal = Some(Box::new(principal.clone()));
        let scope =
            Scope { ir: self.ir, known: &known, max_depth: w.max_depth, params: &tool.params[..] };
        self.ir
            .roles
            .iter()
            .enumerate()
            .filter(|(i, _)| principal.holds.get(*i).copied().unwrap_or(false))
            .flat_map(|(_, r)| &r.entitlements)
            .filter(|e| e.target.tools.contains(&t))
            .any(|e| match &e.condition {
                None => true,
                Some(c) => scope.residual(c, Mode::MustHold, &[]) != Simple::False,
            })
    }
}

/// What a request's principal tells the analysis, or `None` when one of its declared
/// attributes has the wrong type (which denies every request, §5).
fn chain_knowledge(ir: &PolicyIr, p: &writ_evaluator::Principal<'_>) -> Option<Knowledge> {
    let roles: Vec<RoleId> = p
        .roles
        .iter()
        .filter_map(|name| ir.roles.iter().position(|r| &r.name == name))
        .map(|i| RoleId(i as u32))
        .collect();
    let mut attributes = vec![None; ir.attributes.len()];
    for (name, value) in &p.attrs {
        let Some((index, decl)) = ir.attributes.iter().enumerate().find(|(_, a)| &a.name == name)
        else {
            continue;
        };
        let value = request_value(value, &decl.ty)?;
        if let Some(slot) = attributes.get_mut(index) {
            *slot = Some(value);
        }
    }
    Some(Knowledge {
        holds: closure(ir, &roles),
        kind: Some(p.kind),
        id: Some(p.id.to_string()),
        attributes: Some(attributes),
        ..Knowledge::default()
    })
}

/// A request value as a value of type `ty`, or `None` when it does not fit.
fn request_value(v: &writ_evaluator::RequestValue<'_>, ty: &ValueType) -> Option<Value> {
    use writ_evaluator::RequestValue as R;
    Some(match (v, ty) {
        (R::Str(s), ValueType::String) => Value::Str(s.to_string()),
        (R::Str(s), ValueType::Enum(values)) if values.iter().any(|v| v == s) => {
            Value::Str(s.to_string())
        }
        (R::Str(s), ValueType::Duration) => Value::Duration(writ_evaluator::parse_duration(s)?),
        (R::Int(i), ValueType::Int) => Value::Int(*i),
        (R::Bool(b), ValueType::Bool) => Value::Bool(*b),
        (R::StrList(l), ValueType::StringList) => {
            Value::StringList(l.iter().map(|s| s.to_string()).collect())
        }
        _ => return None,
    })
}
