//! The Cedar encoding (cedar-policy 4.14, schema-free) and the gateway code that turns a writ
//! request into Cedar requests.
//!
//! Encoding (see `bench/README.md` for the reasons):
//! - principals are entities `Human::"id"`, `Service::"id"`, `Agent::"id"` whose parents are
//!   `Role::"name"` entities; a role's parents are the roles it `extends`, so `principal in
//!   Role::"dev_3"` follows `extends`. Declared attributes are entity attributes.
//! - tools are actions `Action::"s3.deploy"`, members of action groups `Action::"tag:write"`,
//!   so tag targets are `action in Action::"tag:write"`. Starting is `Action::"start"`.
//! - the resource is the workflow, `Workflow::"wf_3"`, with attributes `max_depth` and `ttl`.
//! - the context holds `args` (the call's arguments), `env` (writ's context values), `depth`,
//!   `caller_kind`, `accountable`, `ttl` (a start's requested seconds) and `evidence`: counts
//!   pre-computed by the gateway the way writ counts (distinct human givers outside the chain,
//!   per role they hold through `extends`; bound items only for the request's subject).
//! - two policy sets: the workflow policies (allows, starts, denies, guardrails, depth and ttl)
//!   decided once with the initiator as principal, and the entitlements (`may`), decided once per
//!   human or service principal of the chain (delegation never amplifies). Allowed iff all allow.
//! - writ's three-valued logic: permits need the condition true (a missing attribute is an
//!   evaluation error, which skips the policy: the same as unknown); forbids must also apply when
//!   a value is unknown, so their atoms are guarded `(!(x has a) || ...)`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request, RestrictedExpression,
};
use serde_json::Value as Json;

use crate::model::{Cond, Condition, Kind, Operand, PolicyModel, Requirement, Target, Who};

/// The emitted text: workflow policies and entitlement policies.
pub struct CedarText {
    pub workflows: String,
    pub entitlements: String,
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Whether a string can be used after `has` / `.` as an attribute name.
fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The context key under which the gateway counts the evidence a requirement asks for.
pub fn evidence_key(r: &Requirement) -> String {
    match (&r.by, &r.field) {
        (Some(role), _) => format!("{}__by__{role}", r.kind),
        (None, Some((f, v))) => format!("{}__{f}__{v}", r.kind),
        (None, None) => r.kind.clone(),
    }
}

fn action_target(t: &Target) -> String {
    match t {
        Target::Tool(name) => format!("action == Action::{}", quote(name)),
        Target::Tag(tag) => format!("action in Action::{}", quote(&format!("tag:{tag}"))),
    }
}

fn operand(o: &Operand) -> (String, String) {
    // (value expression, `has` test)
    match o {
        Operand::Arg(a) => (format!("context.args.{a}"), format!("context.args has {a}")),
        Operand::Attr(Who::Initiator | Who::Principal, a) => {
            (format!("principal.{a}"), format!("principal has {a}"))
        }
        Operand::Attr(Who::Caller, _) => panic!("Cedar encoding: caller attributes not modelled"),
        Operand::Context(c) => (format!("context.env.{c}"), format!("context.env has {c}")),
        Operand::Depth => ("context.depth".into(), "true".into()),
    }
}

fn atom(c: &Cond) -> String {
    match c {
        Cond::EqStr(o, v) => format!("{} == {}", operand(o).0, quote(v)),
        Cond::Gt(o, n) => format!("{} > {n}", operand(o).0),
        Cond::In(o, items) => {
            let list: Vec<String> = items.iter().map(|i| quote(i)).collect();
            format!("[{}].contains({})", list.join(", "), operand(o).0)
        }
        Cond::Contains(o, v) => format!("{}.contains({})", operand(o).0, quote(v)),
        Cond::Prefix(o, p) => {
            // `like` treats `*` as a wildcard; escape any literal one.
            format!("{} like {}", operand(o).0, quote(&format!("{}*", p.replace('*', "\\*"))))
        }
        Cond::IsTrue(o) => format!("{} == true", operand(o).0),
        Cond::KindIs(Who::Initiator | Who::Principal, k) => {
            format!("principal is {}", kind_type(*k))
        }
        Cond::KindIs(Who::Caller, k) => format!("context.caller_kind == {}", quote(k.as_str())),
        Cond::HasRole(Who::Initiator | Who::Principal, r) => {
            format!("principal in Role::{}", quote(r))
        }
        Cond::HasRole(Who::Caller, _) => panic!("Cedar encoding: caller roles not modelled"),
        Cond::Not(_) | Cond::And(_) | Cond::Or(_) => unreachable!("not an atom"),
    }
}

/// `T(c)`: the condition is true (for permits). An evaluation error skips the policy, which is
/// what "unknown" means for a permit, except inside `||` where a guard is needed.
fn t(c: &Cond, guarded: bool) -> String {
    match c {
        Cond::Not(inner) => f(inner),
        Cond::And(cs) => cs.iter().map(|c| t(c, guarded)).collect::<Vec<_>>().join(" && "),
        Cond::Or(cs) => {
            format!("({})", cs.iter().map(|c| t(c, true)).collect::<Vec<_>>().join(" || "))
        }
        _ => match c.optional_operand() {
            Some(o) if guarded => format!("({} && {})", operand(o).1, atom(c)),
            _ => format!("({})", atom(c)),
        },
    }
}

/// `F(c)`: the condition is known to be false.
fn f(c: &Cond) -> String {
    match c {
        Cond::Not(inner) => t(inner, true),
        Cond::And(cs) => format!("({})", cs.iter().map(f).collect::<Vec<_>>().join(" || ")),
        Cond::Or(cs) => cs.iter().map(f).collect::<Vec<_>>().join(" && "),
        _ => match c.optional_operand() {
            Some(o) => format!("({} && !({}))", operand(o).1, atom(c)),
            None => format!("!({})", atom(c)),
        },
    }
}

/// `P(c)`: the condition is true or unknown (for forbids: writ fails closed).
fn p(c: &Cond) -> String {
    match c {
        Cond::Not(inner) => format!("!({})", t(inner, true)),
        Cond::And(cs) => cs.iter().map(p).collect::<Vec<_>>().join(" && "),
        Cond::Or(cs) => format!("({})", cs.iter().map(p).collect::<Vec<_>>().join(" || ")),
        _ => match c.optional_operand() {
            Some(o) => format!("(!({}) || {})", operand(o).1, atom(c)),
            None => format!("({})", atom(c)),
        },
    }
}

fn kind_type(k: Kind) -> &'static str {
    match k {
        Kind::Human => "Human",
        Kind::Service => "Service",
        Kind::Agent => "Agent",
    }
}

fn evidence(reqs: &[Requirement]) -> Vec<String> {
    reqs.iter()
        .map(|r| {
            let key = evidence_key(r);
            assert!(is_ident(&key), "evidence key `{key}` is not an identifier");
            format!("(context.evidence has {key} && context.evidence.{key} >= {})", r.count)
        })
        .collect()
}

/// `when { ... }` for a permit: the condition is true and the evidence is there.
fn permit_when(c: &Condition, reqs: &[Requirement]) -> String {
    let mut parts: Vec<String> = c.cond().map(|c| t(&c, false)).into_iter().collect();
    parts.extend(evidence(reqs));
    if parts.is_empty() { String::new() } else { format!(" when {{ {} }}", parts.join(" && ")) }
}

/// `when { ... }` for a forbid: the condition is true or unknown.
fn forbid_when(c: &Condition) -> String {
    c.cond().map_or(String::new(), |c| format!(" when {{ {} }}", p(&c)))
}

fn resource(workflow: Option<&str>) -> String {
    workflow.map_or("resource".into(), |w| format!("resource == Workflow::{}", quote(w)))
}

fn rule_set(out: &mut String, workflow: Option<&str>, rules: &crate::model::RuleSet) {
    let res = resource(workflow);
    for d in &rules.denies {
        let _ = writeln!(out, "// {}", d.because);
        let _ = writeln!(
            out,
            "forbid (principal, {}, {res}){};",
            action_target(&d.target),
            forbid_when(&d.condition)
        );
    }
    for d in &rules.deny_starts {
        let _ = writeln!(out, "// {}", d.because);
        let _ = writeln!(
            out,
            "forbid (principal, action == Action::\"start\", {res}){};",
            forbid_when(&d.condition)
        );
    }
    for r in &rules.requires {
        // Applies when true or unknown; then the evidence must be there.
        let when = r.condition.cond().map(|c| p(&c)).unwrap_or_else(|| "true".into());
        let _ = writeln!(
            out,
            "forbid (principal, {}, {res}) when {{ {when} }} unless {{ {} }};",
            action_target(&r.target),
            evidence(&r.require).join(" && ")
        );
    }
}

/// Emits the Cedar policies.
pub fn emit(m: &PolicyModel) -> CedarText {
    let mut w = String::from(
        "// Generated by writ-bench: workflow policies, decided with the initiator as principal.\n\
         forbid (principal, action, resource) unless { context.accountable };\n\
         forbid (principal, action, resource) when { context.depth > resource.max_depth };\n\
         forbid (principal, action == Action::\"start\", resource)\n  \
         when { context has ttl && context.ttl > resource.ttl };\n",
    );
    rule_set(&mut w, None, &m.guardrails);
    for wf in &m.workflows {
        let res = resource(Some(&wf.name));
        let _ = writeln!(w, "\n// workflow {}", wf.name);
        for s in &wf.starts {
            let principal =
                s.by.as_ref()
                    .map_or("principal".into(), |r| format!("principal in Role::{}", quote(r)));
            let _ = writeln!(
                w,
                "permit ({principal}, action == Action::\"start\", {res}){};",
                permit_when(&s.condition, &s.require)
            );
        }
        for a in &wf.allows {
            let _ = writeln!(
                w,
                "permit (principal, {}, {res}){};",
                action_target(&a.target),
                permit_when(&a.condition, &a.require)
            );
        }
        rule_set(&mut w, Some(&wf.name), &wf.rules);
    }

    let mut e = String::from(
        "// Generated by writ-bench: entitlements, decided once per human or service principal.\n",
    );
    for role in &m.roles {
        let _ = writeln!(e, "\n// role {}", role.name);
        for may in &role.mays {
            let _ = writeln!(
                e,
                "permit (principal in Role::{}, {}, resource){};",
                quote(&role.name),
                action_target(&may.target),
                permit_when(&may.condition, &[])
            );
        }
    }
    CedarText { workflows: w, entitlements: e }
}

// ---------------------------------------------------------------------------------------------
// The gateway side: what a gateway keeps from the policy to build Cedar requests.

fn uid(ty: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(
        EntityTypeName::from_str(ty).expect("valid type name"),
        EntityId::new(id),
    )
}

/// The loaded Cedar policy plus the static tables the gateway needs.
pub struct CedarEngine {
    pub workflows: PolicySet,
    pub entitlements: PolicySet,
    authorizer: Authorizer,
    /// Role → itself and every role it extends (for evidence counting).
    closure: HashMap<String, Vec<String>>,
    /// Role entities (parents: the roles they extend).
    roles: HashMap<String, Entity>,
    /// Action entities of the tools (parents: their tag groups).
    actions: HashMap<String, Entity>,
    /// Workflow entities (attributes `max_depth`, `ttl`).
    workflow_entities: HashMap<String, Entity>,
    /// Evidence kinds: (by human, bound).
    evidence_kinds: HashMap<String, (bool, bool)>,
}

/// A prepared query: the workflow request, one entitlement request per accountable principal,
/// and the entities they need.
pub struct CedarQuery {
    pub call: Request,
    /// Empty on starts: the delegation check belongs to calls.
    pub entitlements: Vec<Request>,
    pub entities: Entities,
}

impl CedarEngine {
    pub fn load(m: &PolicyModel, text: &CedarText) -> CedarEngine {
        let workflows = PolicySet::from_str(&text.workflows)
            .unwrap_or_else(|e| panic!("Cedar workflow policies: {e:?}"));
        let entitlements = PolicySet::from_str(&text.entitlements)
            .unwrap_or_else(|e| panic!("Cedar entitlement policies: {e:?}"));
        let closure: HashMap<String, Vec<String>> = m.role_closures().into_iter().collect();
        let roles = m
            .roles
            .iter()
            .map(|r| {
                let parents = r.extends.iter().map(|p| uid("Role", p)).collect();
                (r.name.clone(), Entity::new_no_attrs(uid("Role", &r.name), parents))
            })
            .collect();
        let actions = m
            .tools
            .iter()
            .map(|t| {
                let parents =
                    t.tags.iter().map(|tag| uid("Action", &format!("tag:{tag}"))).collect();
                (t.name.clone(), Entity::new_no_attrs(uid("Action", &t.name), parents))
            })
            .collect();
        let workflow_entities = m
            .workflows
            .iter()
            .map(|w| {
                let attrs = HashMap::from([
                    ("max_depth".to_owned(), RestrictedExpression::new_long(w.max_depth.into())),
                    ("ttl".to_owned(), RestrictedExpression::new_long(w.ttl_seconds)),
                ]);
                let entity = Entity::new(uid("Workflow", &w.name), attrs, HashSet::new())
                    .expect("workflow entity");
                (w.name.clone(), entity)
            })
            .collect();
        let evidence_kinds =
            m.evidence.iter().map(|e| (e.name.clone(), (e.by_human, e.bound))).collect();
        CedarEngine {
            workflows,
            entitlements,
            authorizer: Authorizer::new(),
            closure,
            roles,
            actions,
            workflow_entities,
            evidence_kinds,
        }
    }

    /// Allowed iff the workflow policies allow and every entitlement request is allowed.
    pub fn decide(&self, q: &CedarQuery) -> bool {
        self.authorizer.is_authorized(&q.call, &self.workflows, &q.entities).decision()
            == Decision::Allow
            && q.entitlements.iter().all(|r| {
                self.authorizer.is_authorized(r, &self.entitlements, &q.entities).decision()
                    == Decision::Allow
            })
    }

    /// JSON in, decision out: parse, build the Cedar requests, authorize.
    pub fn decide_json(&self, json: &str) -> bool {
        match serde_json::from_str::<Json>(json).ok().and_then(|v| self.prepare(&v)) {
            Some(q) => self.decide(&q),
            None => false,
        }
    }

    pub fn prepare_str(&self, json: &str) -> CedarQuery {
        let v: Json = serde_json::from_str(json).expect("generated requests are JSON");
        self.prepare(&v).expect("generated requests fit the Cedar encoding")
    }

    /// Builds the Cedar requests for one writ request (the gateway's work). `None` for a request
    /// the gateway rejects as malformed (treated as deny).
    pub fn prepare(&self, req: &Json) -> Option<CedarQuery> {
        let chain = req.get("chain")?.as_array()?;
        let workflow = req.get("workflow")?.as_str()?;
        let is_call = req.get("action")?.as_str()? == "call";
        let mut entities: Vec<Entity> = Vec::with_capacity(chain.len() + 8);
        let mut seen_roles: HashSet<&str> = HashSet::new();
        let mut principals: Vec<(EntityUid, &str)> = Vec::with_capacity(chain.len());
        for p in chain {
            let id = p.get("id")?.as_str()?;
            let kind = p.get("kind")?.as_str()?;
            let ty = match kind {
                "human" => "Human",
                "service" => "Service",
                "agent" => "Agent",
                _ => return None,
            };
            let mut parents = HashSet::new();
            for role in p.get("roles").and_then(Json::as_array).into_iter().flatten() {
                let role = role.as_str()?;
                if let Some(closure) = self.closure.get(role) {
                    parents.insert(uid("Role", role));
                    for r in closure {
                        if seen_roles.insert(r) {
                            entities.push(self.roles.get(r)?.clone());
                        }
                    }
                }
            }
            let mut attrs = HashMap::new();
            if let Some(obj) = p.get("attrs").and_then(Json::as_object) {
                for (k, v) in obj {
                    if let Some(v) = restricted(v) {
                        attrs.insert(k.clone(), v);
                    }
                }
            }
            let puid = uid(ty, id);
            entities.push(Entity::new(puid.clone(), attrs, parents).ok()?);
            principals.push((puid, kind));
        }
        let initiator = principals.first()?.0.clone();
        let caller_kind = principals.last()?.1;
        let accountable = principals.iter().any(|(_, k)| *k == "human" || *k == "service");
        if let Some(w) = self.workflow_entities.get(workflow) {
            entities.push(w.clone());
        }

        let mut context: Vec<(String, RestrictedExpression)> = vec![
            ("depth".into(), RestrictedExpression::new_long(chain.len() as i64 - 1)),
            ("caller_kind".into(), RestrictedExpression::new_string(caller_kind.into())),
            ("accountable".into(), RestrictedExpression::new_bool(accountable)),
            ("evidence".into(), self.evidence_counts(req, chain)?),
        ];
        let env = req.get("context").and_then(Json::as_object);
        context.push(("env".into(), record(env)?));
        let action = if is_call {
            let tool = req.get("tool")?.as_str()?;
            if let Some(a) = self.actions.get(tool) {
                entities.push(a.clone());
            }
            context.push(("args".into(), record(req.get("args").and_then(Json::as_object))?));
            uid("Action", tool)
        } else {
            if let Some(ttl) = req.get("ttl").and_then(Json::as_str) {
                context.push(("ttl".into(), RestrictedExpression::new_long(parse_duration(ttl)?)));
            }
            uid("Action", "start")
        };
        let context = Context::from_pairs(context).ok()?;
        let resource = uid("Workflow", workflow);
        let entitlements = if is_call {
            principals
                .iter()
                .filter(|(_, k)| *k != "agent")
                .map(|(p, _)| {
                    Request::new(p.clone(), action.clone(), resource.clone(), context.clone(), None)
                        .ok()
                })
                .collect::<Option<Vec<_>>>()?
        } else {
            Vec::new()
        };
        let call = Request::new(initiator, action, resource, context, None).ok()?;
        let entities = Entities::from_entities(entities, None).ok()?;
        Some(CedarQuery { call, entitlements, entities })
    }

    /// Evidence counts the way writ counts them: items of plain kinds (and per field value);
    /// distinct human givers outside the chain (in all and per role they hold through
    /// `extends`) for `by human` kinds; bound kinds only for the request's subject.
    fn evidence_counts(&self, req: &Json, chain: &[Json]) -> Option<RestrictedExpression> {
        let subject = req.get("subject").and_then(Json::as_str);
        let in_chain =
            |id: &str| chain.iter().any(|p| p.get("id").and_then(Json::as_str) == Some(id));
        let mut counts: HashMap<String, i64> = HashMap::new();
        let mut givers: HashMap<String, HashSet<&str>> = HashMap::new();
        for item in req.get("evidence").and_then(Json::as_array).into_iter().flatten() {
            let Some(kind) = item.get("kind").and_then(Json::as_str) else { continue };
            let Some(&(by_human, bound)) = self.evidence_kinds.get(kind) else { continue };
            if bound && (subject.is_none() || item.get("subject").and_then(Json::as_str) != subject)
            {
                continue;
            }
            if by_human {
                let Some(by) = item.get("by").filter(|b| !b.is_null()) else { continue };
                let id = by.get("id")?.as_str()?;
                if by.get("kind")?.as_str()? != "human" || in_chain(id) {
                    continue;
                }
                givers.entry(kind.to_owned()).or_default().insert(id);
                for role in by.get("roles").and_then(Json::as_array).into_iter().flatten() {
                    for r in role.as_str().and_then(|r| self.closure.get(r)).into_iter().flatten() {
                        givers.entry(format!("{kind}__by__{r}")).or_default().insert(id);
                    }
                }
            } else {
                *counts.entry(kind.to_owned()).or_default() += 1;
                if let Some(fields) = item.get("fields").and_then(Json::as_object) {
                    for (f, v) in fields {
                        if let Some(v) = v.as_str() {
                            *counts.entry(format!("{kind}__{f}__{v}")).or_default() += 1;
                        }
                    }
                }
            }
        }
        counts.extend(givers.into_iter().map(|(k, set)| (k, set.len() as i64)));
        RestrictedExpression::new_record(
            counts.into_iter().map(|(k, n)| (k, RestrictedExpression::new_long(n))),
        )
        .ok()
    }
}

/// A JSON value as a Cedar value: strings, integers, booleans, lists (as sets), records.
fn restricted(v: &Json) -> Option<RestrictedExpression> {
    Some(match v {
        Json::String(s) => RestrictedExpression::new_string(s.clone()),
        Json::Bool(b) => RestrictedExpression::new_bool(*b),
        Json::Number(n) => RestrictedExpression::new_long(n.as_i64()?),
        Json::Array(items) => {
            RestrictedExpression::new_set(items.iter().filter_map(restricted).collect::<Vec<_>>())
        }
        Json::Object(obj) => return record(Some(obj)),
        Json::Null => return None,
    })
}

fn record(obj: Option<&serde_json::Map<String, Json>>) -> Option<RestrictedExpression> {
    let pairs: Vec<(String, RestrictedExpression)> =
        obj.into_iter().flatten().filter_map(|(k, v)| Some((k.clone(), restricted(v)?))).collect();
    RestrictedExpression::new_record(pairs).ok()
}

/// `"30m"` → 1800.
pub fn parse_duration(s: &str) -> Option<i64> {
    let (digits, unit) = s.split_at(s.len().checked_sub(1)?);
    let n: i64 = digits.parse().ok()?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    n.checked_mul(unit)
}
