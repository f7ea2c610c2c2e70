//! The compiled policy: the IR validated, names interned and rules indexed for dispatch.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use crate::cond::{CCond, COperand, Calls, Class, CommandCond, Lit, UnderCond};
use crate::glob::Glob;
use crate::history::{CountedCalls, HistoryHorizon, HistoryReaders, history_horizon};
use crate::ir::{
    AttributeId, CmpOp, CommandPatternIr, Cond, ContextId, EvidenceId, EvidenceRequirementIr,
    Operand, PatternItemIr, PolicyIr, RoleId, RuleMeta, TargetIr, ToolId, Value, ValueType, Who,
    WorkflowId,
};
use crate::render;
use crate::request::Principal;
use crate::shell::{Pattern, PatternItem};

/// An IR that breaks the contract of [`crate::ir`]: an index out of range, a cycle in
/// `extends`, an ill-typed condition, a name declared twice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// What is wrong, for callers that act on it (every kind means the policy is not loaded).
    pub kind: PolicyErrorKind,
    /// Where in the IR: `workflows[1].allows[0].condition`, `roles[2].extends`.
    pub path: String,
    /// What is wrong, in words.
    pub message: String,
}

/// What is wrong with a policy IR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyErrorKind {
    /// An index (of a role, tool, evidence kind, attribute, context value, rule) past the end
    /// of its list.
    OutOfRange,
    /// A name declared twice (two tools, two roles...).
    Duplicate,
    /// A cycle in `extends`.
    Cycle,
    /// More declarations or rules than the evaluator indexes, or a condition nested too deeply.
    TooLarge,
    /// Anything else the IR's contract rules out: an ill-typed condition, an empty target,
    /// a negative ttl, a count below 1, an argument a tool does not have.
    Malformed,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid policy IR at `{}`: {}", self.path, self.message)
    }
}

impl std::error::Error for PolicyError {}

fn perr(kind: PolicyErrorKind, path: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError { kind, path: path.into(), message: message.into() }
}

// ---------------------------------------------------------------------------------------------
// Interning

/// How many names a [`NameMap`] compares one by one before it hashes them instead.
const LINEAR_NAMES: usize = 8;

/// Name → id (a table's index: an id type, or `u32` for a tool's arguments). A handful of
/// names (a tool's arguments, most policies' attributes and context) are compared in turn,
/// lengths first, which costs a decision less than hashing every name it looks up; beyond
/// [`LINEAR_NAMES`] they are hashed.
#[derive(Clone, Debug)]
pub(crate) struct NameMap<I> {
    /// Every name while there are at most [`LINEAR_NAMES`], in insertion order; then empty.
    few: Vec<(Box<str>, I)>,
    /// Every name once there are more; empty before.
    /// Hashed with `rustc-hash`'s FxHash, which reads a name of up to 16 bytes in two loads
    /// and one multiplication. Keys come from the policy, never from requests, so a lookup
    /// with a hostile name cannot be driven into collisions.
    hashed: HashMap<Box<str>, I, rustc_hash::FxBuildHasher>,
}

impl<I> Default for NameMap<I> {
    fn default() -> Self {
        NameMap { few: Vec::new(), hashed: HashMap::default() }
    }
}

impl<I> NameMap<I> {
    pub(crate) fn get(&self, name: &str) -> Option<&I> {
        if self.hashed.is_empty() {
            self.few.iter().find(|(known, _)| crate::same::same(known, name)).map(|(_, id)| id)
        } else {
            self.hashed.get(name)
        }
    }

    /// Maps `name` to `id`; the id it had before, if any.
    pub(crate) fn insert(&mut self, name: Box<str>, id: I) -> Option<I> {
        if self.hashed.is_empty() {
            if let Some(slot) = self.few.iter_mut().find(|(known, _)| *known == name) {
                return Some(std::mem::replace(&mut slot.1, id));
            }
            if self.few.len() < LINEAR_NAMES {
                self.few.push((name, id));
                return None;
            }
            self.hashed.extend(self.few.drain(..));
        }
        self.hashed.insert(name, id)
    }
}

/// The name map of one table; `id` makes the id of an index (`None` past `u32`).
fn intern<'a, I>(
    what: &str,
    path: &str,
    names: impl Iterator<Item = &'a str>,
    id: impl Fn(usize) -> Option<I>,
) -> Result<NameMap<I>, PolicyError> {
    let mut map = NameMap::default();
    for (i, name) in names.enumerate() {
        let index = id(i)
            .ok_or_else(|| perr(PolicyErrorKind::TooLarge, path, format!("too many {what}s")))?;
        if map.insert(name.into(), index).is_some() {
            return Err(perr(
                PolicyErrorKind::Duplicate,
                format!("{path}[{i}]"),
                format!("{what} `{name}` is declared twice"),
            ));
        }
    }
    Ok(map)
}

// ---------------------------------------------------------------------------------------------
// Role sets

/// How many roles a principal may name for [`Policy::role_set`] to keep their closures rather
/// than build their union.
const FEW_ROLES: usize = 4;

/// The roles a principal holds ([`Policy::role_set`]): the union of the closures of the roles
/// it names, or, in a policy of over 128 roles, those closures themselves (borrowed from the
/// policy) when it names at most [`FEW_ROLES`].
#[derive(Debug)]
pub(crate) enum HeldRoles<'p> {
    Union(RoleSet),
    Few([Option<&'p RoleSet>; FEW_ROLES]),
}

impl HeldRoles<'_> {
    pub(crate) fn contains(&self, role: RoleId) -> bool {
        match self {
            HeldRoles::Union(set) => set.contains(role),
            HeldRoles::Few(closures) => closures.iter().flatten().any(|c| c.contains(role)),
        }
    }
}

/// A set of roles, as a bitset. Policies with at most 128 roles never allocate one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RoleSet {
    Small(u128),
    Large(Box<[u64]>),
}

impl RoleSet {
    pub(crate) fn empty(roles: usize) -> RoleSet {
        if roles <= 128 {
            RoleSet::Small(0)
        } else {
            RoleSet::Large(vec![0; roles.div_ceil(64)].into())
        }
    }

    pub(crate) fn contains(&self, role: RoleId) -> bool {
        match self {
            RoleSet::Small(bits) => role.0 < 128 && bits & (1u128 << role.0) != 0,
            RoleSet::Large(words) => {
                words.get(role.index() / 64).is_some_and(|w| w & (1u64 << (role.0 % 64)) != 0)
            }
        }
    }

    pub(crate) fn insert(&mut self, role: RoleId) {
        match self {
            RoleSet::Small(bits) => {
                if role.0 < 128 {
                    *bits |= 1u128 << role.0;
                }
            }
            RoleSet::Large(words) => {
                if let Some(w) = words.get_mut(role.index() / 64) {
                    *w |= 1u64 << (role.0 % 64);
                }
            }
        }
    }

    pub(crate) fn union_with(&mut self, other: &RoleSet) {
        match (self, other) {
            (RoleSet::Small(a), RoleSet::Small(b)) => *a |= b,
            (RoleSet::Large(a), RoleSet::Large(b)) => {
                for (x, y) in a.iter_mut().zip(b.iter()) {
                    *x |= y;
                }
            }
            // Both sets of one policy have the same representation.
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Compiled rules

/// A rule's identity, for decisions (`id`) and traces (`meta`).
#[derive(Clone, Debug)]
pub(crate) struct Rule {
    pub id: Arc<str>,
    /// The id written as a JSON string, for [`crate::Policy::decide_json`].
    pub id_json: Box<str>,
    pub meta: RuleMeta,
}

impl Rule {
    fn new(meta: &RuleMeta) -> Rule {
        Rule {
            id: meta.id.as_str().into(),
            id_json: crate::json::string(&meta.id).into(),
            meta: meta.clone(),
        }
    }

    /// Source order across files: files in byte order of their paths, then line and column.
    fn source_key(&self) -> (&str, u32, u32) {
        (&self.meta.file, self.meta.line, self.meta.column)
    }
}

/// An evidence requirement, names resolved and rendered once.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Requirement {
    pub evidence: EvidenceId,
    pub count: u32,
    pub by: Option<RoleId>,
    pub fields: Box<[(String, Value)]>,
}

impl Requirement {
    /// Same kind, role and fields (LANGUAGE.md §7: such requirements are merged). Fields are
    /// compared as sets: `ticket(project: "REL", prio: 1)` and `ticket(prio: 1, project: "REL")`
    /// are met by the same items, so they are one requirement.
    pub(crate) fn same_as(&self, other: &Requirement) -> bool {
        self.evidence == other.evidence
            && self.by == other.by
            && self.fields.iter().all(|f| other.fields.contains(f))
            && other.fields.iter().all(|f| self.fields.contains(f))
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Allow {
    pub rule: Rule,
    pub condition: Option<CCond>,
    /// Identical requirements already merged.
    pub require: Box<[Requirement]>,
}

#[derive(Clone, Debug)]
pub(crate) struct Deny {
    pub rule: Rule,
    pub condition: Option<CCond>,
    /// Its reason in a decision: the `because` text, or `denied by RULE`.
    pub reason: Box<str>,
}

impl Deny {
    /// [`Deny::reason`] of a rule with `because` text (or none) and id `id`.
    fn reason(because: Option<&str>, id: &str) -> Box<str> {
        match because {
            Some(text) => text.into(),
            None => ["denied by ", id].concat().into(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct RequireFor {
    pub rule: Rule,
    pub condition: Option<CCond>,
    pub require: Box<[Requirement]>,
}

#[derive(Clone, Debug)]
pub(crate) struct Start {
    pub rule: Rule,
    pub by: Box<[RoleId]>,
    pub condition: Option<CCond>,
    pub require: Box<[Requirement]>,
}

#[derive(Clone, Debug)]
pub(crate) struct May {
    pub rule: Rule,
    pub condition: Option<CCond>,
}

#[derive(Clone, Debug)]
pub(crate) struct Workflow {
    pub max_depth: u32,
    pub ttl_seconds: i64,
    pub starts: Box<[Start]>,
    /// Indices into [`Policy::deny_starts`]: the workflow's and the top-level ones, in source
    /// order.
    pub deny_starts: Box<[u32]>,
}

/// One workflow's own rules by tool: the tools its rules name, sorted, each with its rules.
pub(crate) type WorkflowDispatch = Box<[(ToolId, Dispatch)]>;

/// Rule lists by tool while building: (allows, denies, require-fors).
type RuleLists = BTreeMap<ToolId, (Vec<u32>, Vec<u32>, Vec<u32>)>;

/// `(role, index into [`Policy::mays`])` pairs.
pub(crate) type MayList = Box<[(RoleId, u32)]>;

/// The rules that can apply to a call of one tool, each list ascending. [`Policy::denies`] and
/// [`Policy::requires`] are in source order, so ascending indices are source order. A
/// workflow's entry for a tool it names holds its own rules and the top-level ones, merged
/// once when the policy loads (a decision reads one list, never merges); the top-level entry
/// of a tool holds only the top-level rules (and no allows: every allow is a workflow's).
#[derive(Clone, Debug, Default)]
pub(crate) struct Dispatch {
    /// Indices into [`Policy::allows`].
    pub allows: Box<[u32]>,
    /// Indices into [`Policy::denies`].
    pub denies: Box<[u32]>,
    /// Indices into [`Policy::requires`].
    pub requires: Box<[u32]>,
}

/// Two ascending lists of distinct indices as one ascending list (once, when loading).
fn merge_ascending(a: &[u32], b: &[u32]) -> Box<[u32]> {
    let mut out = [a, b].concat();
    out.sort_unstable();
    out.into()
}

/// Whether a tool has `path` and `command` parameters ([`Policy::param_kinds`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ParamKinds {
    pub(crate) path: bool,
    pub(crate) command: bool,
}

/// A checked, compiled policy, ready to decide requests. Cheap to share across threads
/// (`Policy` is `Send + Sync`; deciding takes `&self`).
#[derive(Clone, Debug)]
pub struct Policy {
    pub(crate) ir: PolicyIr,
    pub(crate) hash: Arc<str>,
    /// [`Policy::hash`] written as a JSON string, for [`Policy::decide_json`].
    pub(crate) hash_json: Box<str>,
    pub(crate) tools_by_name: NameMap<ToolId>,
    pub(crate) workflows_by_name: NameMap<WorkflowId>,
    pub(crate) roles_by_name: NameMap<RoleId>,
    pub(crate) attributes_by_name: NameMap<AttributeId>,
    pub(crate) contexts_by_name: NameMap<ContextId>,
    pub(crate) evidence_by_name: NameMap<EvidenceId>,
    /// Per tool: parameter name → index into the tool's `params`.
    pub(crate) params_by_name: Box<[NameMap<u32>]>,
    /// Per tool: which kinds of parameter a call's arguments must be prepared for (paths
    /// resolved, command lines parsed), so that a call of a tool with neither skips both.
    pub(crate) param_kinds: Box<[ParamKinds]>,
    /// `closure[r]`: `r` and every role it extends, transitively.
    pub(crate) closure: Box<[RoleSet]>,
    pub(crate) workflows: Box<[Workflow]>,
    pub(crate) allows: Box<[Allow]>,
    pub(crate) denies: Box<[Deny]>,
    pub(crate) requires: Box<[RequireFor]>,
    pub(crate) deny_starts: Box<[Deny]>,
    pub(crate) mays: Box<[May]>,
    /// Per tool: `(role, index into mays)` for every entitlement whose target has the tool,
    /// ordered by role, then source order.
    pub(crate) mays_by_tool: Box<[MayList]>,
    /// Per workflow: the tools its own rules target (sorted by tool), with those rules. Sparse:
    /// a policy of many workflows and tools holds only the pairs some rule names.
    pub(crate) dispatch: Box<[WorkflowDispatch]>,
    /// Per tool: the top-level denies and require-fors that target it.
    pub(crate) top_level: Box<[Dispatch]>,
    /// Display names of requirements, by (kind) — evidence names as `Arc<str>` for decisions.
    pub(crate) evidence_names: Box<[Arc<str>]>,
    pub(crate) role_names: Box<[Arc<str>]>,
    /// How far back the policy's `calls(...)` look; only when some condition counts calls
    /// (not [`HistoryHorizon::Nothing`]) is a request's history resolved to tools.
    pub(crate) history_horizon: HistoryHorizon,
    /// The tools whose calls some `calls(...)` counts.
    counted_calls: CountedCalls,
    /// The calls whose decision can read the history.
    history_readers: HistoryReaders,
}

impl Policy {
    /// Validates `ir` and builds the policy. Every index is checked and every condition
    /// type-checked; a corrupt IR is an error, never a panic.
    pub fn from_ir(ir: PolicyIr) -> Result<Policy, PolicyError> {
        Builder::new(&ir)?.build(ir)
    }

    /// The IR this policy was built from.
    pub fn ir(&self) -> &PolicyIr {
        &self.ir
    }

    /// `sha256:<hex>`: the policy digest (LANGUAGE.md §7).
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// How much of a run's history the policy can ever read: what a gateway that records
    /// history must keep (computed once, when the policy is built).
    pub fn history_horizon(&self) -> HistoryHorizon {
        self.history_horizon
    }

    /// Whether some `calls(...)` of the policy can count a call of `tool`: a gateway that
    /// records a run's history need record only such calls (with [`Policy::history_horizon`],
    /// how long to keep them). Computed once, when the policy is built.
    pub fn counts_calls_of(&self, tool: &str) -> bool {
        self.counted_calls.counts(self.tools_by_name.get(tool).copied(), tool)
    }

    /// Whether deciding a call of `tool` in `workflow` can read the request's `history`: some
    /// condition that applies to such a call (an allow, deny or require-for of the workflow or
    /// the top level, or an entitlement, that targets the tool) has a `calls(...)`. When it
    /// cannot, a gateway may decide the call without the run's history (its `history` absent):
    /// the decision is the same for every history. A workflow or tool the policy does not
    /// declare is answered `true`. Computed once, when the policy is built.
    pub fn call_reads_history(&self, workflow: &str, tool: &str) -> bool {
        self.history_readers.reads(self.workflow_id(workflow), self.tool_id(tool))
    }

    /// The index of a workflow, by name.
    pub fn workflow_id(&self, name: &str) -> Option<WorkflowId> {
        self.workflows_by_name.get(name).copied()
    }

    /// The index of a tool, by name.
    pub fn tool_id(&self, name: &str) -> Option<ToolId> {
        self.tools_by_name.get(name).copied()
    }

    /// The index of a role, by name.
    pub fn role_id(&self, name: &str) -> Option<RoleId> {
        self.roles_by_name.get(name).copied()
    }

    /// The index of an evidence kind, by name.
    pub fn evidence_id(&self, name: &str) -> Option<EvidenceId> {
        self.evidence_by_name.get(name).copied()
    }

    /// The roles a principal holds, through `extends`. Undeclared role names are ignored.
    pub(crate) fn role_set(&self, p: &Principal<'_>) -> HeldRoles<'_> {
        let closures = || {
            p.roles
                .iter()
                .filter_map(|name| self.roles_by_name.get(name))
                .filter_map(|&r| self.closure.get(r.index()))
        };
        // Beyond 128 roles a union is a heap bitset: a principal naming a few roles keeps
        // their closures instead, and a decision allocates nothing for its roles.
        if self.closure.len() > 128 && p.roles.len() <= FEW_ROLES {
            let mut few = [None; FEW_ROLES];
            for (slot, closure) in few.iter_mut().zip(closures()) {
                *slot = Some(closure);
            }
            return HeldRoles::Few(few);
        }
        let mut set = RoleSet::empty(self.closure.len());
        for closure in closures() {
            set.union_with(closure);
        }
        HeldRoles::Union(set)
    }

    /// Whether a principal holds `role` (directly or through `extends`), without building its
    /// whole role set.
    pub(crate) fn holds(&self, p: &Principal<'_>, role: RoleId) -> bool {
        p.roles.iter().any(|name| {
            self.roles_by_name
                .get(name)
                .and_then(|&r| self.closure.get(r.index()))
                .is_some_and(|c| c.contains(role))
        })
    }

    /// The rules that can apply to a call of `tool` in `workflow`: the workflow's entry for the
    /// tool when its rules name it, else the tool's top-level entry (`None`: either id is out
    /// of range).
    pub(crate) fn dispatch(&self, workflow: WorkflowId, tool: ToolId) -> Option<&Dispatch> {
        let top = self.top_level.get(tool.index())?;
        let own = self.dispatch.get(workflow.index())?;
        let local = own.binary_search_by_key(&tool, |(t, _)| *t).ok().and_then(|i| own.get(i));
        Some(local.map_or(top, |(_, rules)| rules))
    }
}

// ---------------------------------------------------------------------------------------------
// Validation and compilation

struct Builder {
    tools_by_name: NameMap<ToolId>,
    workflows_by_name: NameMap<WorkflowId>,
    roles_by_name: NameMap<RoleId>,
    attributes_by_name: NameMap<AttributeId>,
    contexts_by_name: NameMap<ContextId>,
    evidence_by_name: NameMap<EvidenceId>,
    params_by_name: Vec<NameMap<u32>>,
}

/// What a condition may read.
#[derive(Clone, Copy)]
enum Ctx<'a> {
    /// A rule targeting these tools (allow, deny, require-for).
    Tools(&'a [ToolId]),
    /// An entitlement: `principal` too.
    May(&'a [ToolId]),
    /// A start or deny start: no arguments.
    Start,
}

impl Builder {
    fn new(ir: &PolicyIr) -> Result<Builder, PolicyError> {
        let mut params_by_name = Vec::with_capacity(ir.tools.len());
        for (i, tool) in ir.tools.iter().enumerate() {
            params_by_name.push(intern(
                "argument",
                &format!("tools[{i}].params"),
                tool.params.iter().map(|p| p.name.as_str()),
                |i| u32::try_from(i).ok(),
            )?);
        }
        Ok(Builder {
            tools_by_name: intern(
                "tool",
                "tools",
                ir.tools.iter().map(|t| t.name.as_str()),
                ToolId::at,
            )?,
            workflows_by_name: intern(
                "workflow",
                "workflows",
                ir.workflows.iter().map(|w| w.name.as_str()),
                WorkflowId::at,
            )?,
            roles_by_name: intern(
                "role",
                "roles",
                ir.roles.iter().map(|r| r.name.as_str()),
                RoleId::at,
            )?,
            attributes_by_name: intern(
                "attribute",
                "attributes",
                ir.attributes.iter().map(|a| a.name.as_str()),
                AttributeId::at,
            )?,
            contexts_by_name: intern(
                "context value",
                "contexts",
                ir.contexts.iter().map(|c| c.name.as_str()),
                ContextId::at,
            )?,
            evidence_by_name: intern(
                "evidence kind",
                "evidence",
                ir.evidence.iter().map(|e| e.name.as_str()),
                EvidenceId::at,
            )?,
            params_by_name,
        })
    }

    fn build(self, ir: PolicyIr) -> Result<Policy, PolicyError> {
        let tools = ir.tools.len();
        let roles = ir.roles.len();
        u32::try_from(tools)
            .ok()
            .and(u32::try_from(roles).ok())
            .and(u32::try_from(ir.workflows.len()).ok())
            .ok_or_else(|| perr(PolicyErrorKind::TooLarge, "", "too many declarations"))?;

        for (i, decl) in ir.attributes.iter().chain(&ir.contexts).enumerate() {
            if let ValueType::Enum(variants) = &decl.ty
                && variants.is_empty()
            {
                return Err(perr(
                    PolicyErrorKind::Malformed,
                    format!("attributes/contexts[{i}]"),
                    "empty enumeration",
                ));
            }
            if matches!(decl.ty, ValueType::Command | ValueType::Path) {
                return Err(perr(
                    PolicyErrorKind::Malformed,
                    format!("attributes/contexts[{i}]"),
                    "`command` and `path` are types of tool arguments only",
                ));
            }
        }
        for (i, kind) in ir.evidence.iter().enumerate() {
            if kind.fields.iter().any(|f| matches!(f.ty, ValueType::Command | ValueType::Path)) {
                return Err(perr(
                    PolicyErrorKind::Malformed,
                    format!("evidence[{i}]"),
                    "`command` and `path` are types of tool arguments only",
                ));
            }
        }

        // Roles: the transitive closure of `extends`, rejecting cycles.
        let closure = self.closure(&ir)?;

        // Entitlements.
        let mut mays = Vec::new();
        let mut mays_by_tool: Vec<Vec<(RoleId, u32)>> = vec![Vec::new(); tools];
        for (r, role) in ir.roles.iter().enumerate() {
            for (e, ent) in role.entitlements.iter().enumerate() {
                let path = format!("roles[{r}].entitlements[{e}]");
                let target = self.target(&ir, &path, &ent.target)?;
                let condition =
                    self.cond_opt(&ir, &path, ent.condition.as_ref(), Ctx::May(&target))?;
                let index = u32::try_from(mays.len())
                    .map_err(|_| perr(PolicyErrorKind::TooLarge, &path, "too many rules"))?;
                mays.push(May { rule: Rule::new(&ent.meta), condition });
                for &t in &target {
                    if let Some(list) = mays_by_tool.get_mut(t.index()) {
                        list.push((RoleId(r as u32), index));
                    }
                }
            }
        }

        // Top-level rules.
        let mut denies = Vec::new();
        let mut requires = Vec::new();
        let mut deny_starts = Vec::new();
        // (tools, index) per deny / require-for, per scope: None = top level.
        let mut deny_targets: Vec<(Option<WorkflowId>, Vec<ToolId>)> = Vec::new();
        let mut require_targets: Vec<(Option<WorkflowId>, Vec<ToolId>)> = Vec::new();
        let mut deny_start_scope: Vec<Option<WorkflowId>> = Vec::new();

        let scopes = std::iter::once((None, "guardrails".to_owned(), &ir.guardrails)).chain(
            ir.workflows.iter().enumerate().map(|(w, wf)| {
                (Some(WorkflowId(w as u32)), format!("workflows[{w}].rules"), &wf.rules)
            }),
        );
        for (scope, base, rules) in scopes {
            for (i, deny) in rules.denies.iter().enumerate() {
                let path = format!("{base}.denies[{i}]");
                let target = self.target(&ir, &path, &deny.target)?;
                let condition =
                    self.cond_opt(&ir, &path, deny.condition.as_ref(), Ctx::Tools(&target))?;
                denies.push(Deny {
                    rule: Rule::new(&deny.meta),
                    condition,
                    reason: Deny::reason(deny.because.as_deref(), &deny.meta.id),
                });
                deny_targets.push((scope, target));
            }
            for (i, req) in rules.requires.iter().enumerate() {
                let path = format!("{base}.requires[{i}]");
                let target = self.target(&ir, &path, &req.target)?;
                let condition =
                    self.cond_opt(&ir, &path, req.condition.as_ref(), Ctx::Tools(&target))?;
                let require = self.requirements(&ir, &path, &req.require)?;
                requires.push(RequireFor { rule: Rule::new(&req.meta), condition, require });
                require_targets.push((scope, target));
            }
            for (i, deny) in rules.deny_starts.iter().enumerate() {
                let path = format!("{base}.deny_starts[{i}]");
                let condition = self.cond_opt(&ir, &path, deny.condition.as_ref(), Ctx::Start)?;
                deny_starts.push(Deny {
                    rule: Rule::new(&deny.meta),
                    condition,
                    reason: Deny::reason(deny.because.as_deref(), &deny.meta.id),
                });
                deny_start_scope.push(scope);
            }
        }

        // Denies and require-fors in source order across scopes and files, so that ascending
        // indices are source order (dispatch lists merge without sorting, once, below).
        let deny_order = source_order(denies.iter().map(|d| &d.rule));
        let (denies, deny_targets) = reorder(denies, deny_targets, &deny_order);
        let require_order = source_order(requires.iter().map(|r| &r.rule));
        let (requires, require_targets) = reorder(requires, require_targets, &require_order);
        let deny_start_order = source_order(deny_starts.iter().map(|d| &d.rule));

        // The rules each scope has for each tool: top level per tool, a workflow's per
        // (workflow, tool) it names.
        let workflow_count = ir.workflows.len();
        let mut top_level: Vec<(Vec<u32>, Vec<u32>)> = vec![(Vec::new(), Vec::new()); tools];
        let mut own: Vec<RuleLists> = vec![BTreeMap::new(); workflow_count];
        for (d, (scope, target)) in deny_targets.iter().enumerate() {
            for &t in target {
                match scope {
                    None => top_level.get_mut(t.index()).map(|e| e.0.push(d as u32)),
                    Some(w) => {
                        own.get_mut(w.index()).map(|m| m.entry(t).or_default().1.push(d as u32))
                    }
                };
            }
        }
        for (r, (scope, target)) in require_targets.iter().enumerate() {
            for &t in target {
                match scope {
                    None => top_level.get_mut(t.index()).map(|e| e.1.push(r as u32)),
                    Some(w) => {
                        own.get_mut(w.index()).map(|m| m.entry(t).or_default().2.push(r as u32))
                    }
                };
            }
        }

        // Workflows: starts, allows, and the dispatch index.
        let mut workflows = Vec::with_capacity(workflow_count);
        let mut allows = Vec::new();
        for (w, wf) in ir.workflows.iter().enumerate() {
            let base = format!("workflows[{w}]");
            if wf.ttl_seconds < 0 {
                return Err(perr(
                    PolicyErrorKind::Malformed,
                    format!("{base}.ttl_seconds"),
                    "negative ttl",
                ));
            }
            let mut starts = Vec::with_capacity(wf.starts.len());
            for (i, start) in wf.starts.iter().enumerate() {
                let path = format!("{base}.starts[{i}]");
                for &r in &start.by {
                    if r.index() >= roles {
                        return Err(perr(
                            PolicyErrorKind::OutOfRange,
                            format!("{path}.by"),
                            format!("role {r} out of range"),
                        ));
                    }
                }
                starts.push(Start {
                    rule: Rule::new(&start.meta),
                    by: start.by.clone().into(),
                    condition: self.cond_opt(&ir, &path, start.condition.as_ref(), Ctx::Start)?,
                    require: self.requirements(&ir, &path, &start.require)?,
                });
            }

            for (i, allow) in wf.allows.iter().enumerate() {
                let path = format!("{base}.allows[{i}]");
                let target = self.target(&ir, &path, &allow.target)?;
                let condition =
                    self.cond_opt(&ir, &path, allow.condition.as_ref(), Ctx::Tools(&target))?;
                let index = u32::try_from(allows.len())
                    .map_err(|_| perr(PolicyErrorKind::TooLarge, &path, "too many rules"))?;
                allows.push(Allow {
                    rule: Rule::new(&allow.meta),
                    condition,
                    require: self.requirements(&ir, &path, &allow.require)?,
                });
                if let Some(map) = own.get_mut(w) {
                    for &t in &target {
                        map.entry(t).or_default().0.push(index);
                    }
                }
            }

            let in_scope = |scope: Option<WorkflowId>| scope.is_none_or(|s| s.index() == w);
            let deny_start_list: Vec<u32> = deny_start_order
                .iter()
                .copied()
                .filter(|&d| deny_start_scope.get(d as usize).is_some_and(|s| in_scope(*s)))
                .collect();
            workflows.push(Workflow {
                max_depth: wf.max_depth,
                ttl_seconds: wf.ttl_seconds,
                starts: starts.into(),
                deny_starts: deny_start_list.into(),
            });
        }
        let top_level: Box<[Dispatch]> = top_level
            .into_iter()
            .map(|(d, r)| Dispatch { allows: Box::new([]), denies: d.into(), requires: r.into() })
            .collect();
        let dispatch: Box<[WorkflowDispatch]> = own
            .into_iter()
            .map(|map| {
                map.into_iter()
                    .map(|(t, (a, d, r))| {
                        let top = top_level.get(t.index());
                        let denies = merge_ascending(&d, top.map_or(&[], |top| &top.denies));
                        let requires = merge_ascending(&r, top.map_or(&[], |top| &top.requires));
                        (t, Dispatch { allows: a.into(), denies, requires })
                    })
                    .collect()
            })
            .collect();

        // Entitlements by tool: by role, then source order (they already are, by construction).
        let mays_by_tool = mays_by_tool.into_iter().map(Into::into).collect();

        Ok(Policy {
            hash: ir.hash.as_str().into(),
            hash_json: crate::json::string(&ir.hash).into(),
            tools_by_name: self.tools_by_name,
            workflows_by_name: self.workflows_by_name,
            roles_by_name: self.roles_by_name,
            attributes_by_name: self.attributes_by_name,
            contexts_by_name: self.contexts_by_name,
            evidence_by_name: self.evidence_by_name,
            params_by_name: self.params_by_name.into(),
            param_kinds: ir
                .tools
                .iter()
                .map(|t| ParamKinds {
                    path: t.params.iter().any(|p| p.ty == ValueType::Path),
                    command: t.params.iter().any(|p| p.ty == ValueType::Command),
                })
                .collect(),
            closure,
            workflows: workflows.into(),
            allows: allows.into(),
            denies: denies.into(),
            requires: requires.into(),
            deny_starts: deny_starts.into(),
            mays: mays.into(),
            mays_by_tool,
            dispatch,
            top_level,
            evidence_names: ir.evidence.iter().map(|e| e.name.as_str().into()).collect(),
            role_names: ir.roles.iter().map(|r| r.name.as_str().into()).collect(),
            history_horizon: history_horizon(&ir),
            counted_calls: CountedCalls::of(&ir),
            history_readers: HistoryReaders::of(&ir),
            ir,
        })
    }

    fn closure(&self, ir: &PolicyIr) -> Result<Box<[RoleSet]>, PolicyError> {
        let n = ir.roles.len();
        for (r, role) in ir.roles.iter().enumerate() {
            for &parent in &role.extends {
                if parent.index() >= n {
                    return Err(perr(
                        PolicyErrorKind::OutOfRange,
                        format!("roles[{r}].extends"),
                        format!("role {parent} out of range"),
                    ));
                }
            }
        }
        // Depth-first, iteratively (no recursion on IR depth). Every index below was checked
        // against `n` above; an index out of range would be a corrupt IR, reported as such.
        #[derive(Clone, Copy, PartialEq)]
        enum Visit {
            New,
            OnStack,
            Done,
        }
        let out_of_range = |r: usize| {
            perr(PolicyErrorKind::OutOfRange, format!("roles[{r}].extends"), "role out of range")
        };
        let mut state = vec![Visit::New; n];
        let mut closure: Vec<RoleSet> = vec![RoleSet::empty(n); n];
        for root in 0..n {
            match state.get_mut(root) {
                Some(Visit::Done) => continue,
                Some(visit) => *visit = Visit::OnStack,
                None => return Err(out_of_range(root)),
            }
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            while let Some(&mut (r, ref mut next)) = stack.last_mut() {
                let parents = &ir.roles.get(r).ok_or_else(|| out_of_range(r))?.extends;
                if let Some(&p) = parents.get(*next) {
                    *next += 1;
                    let p = p.index();
                    match state.get_mut(p).ok_or_else(|| out_of_range(r))? {
                        visit @ Visit::New => {
                            *visit = Visit::OnStack;
                            stack.push((p, 0));
                        }
                        Visit::OnStack => {
                            let name = ir.roles.get(p).map_or("?", |role| role.name.as_str());
                            return Err(perr(
                                PolicyErrorKind::Cycle,
                                format!("roles[{r}].extends"),
                                format!("`extends` has a cycle through `{name}`"),
                            ));
                        }
                        Visit::Done => {}
                    }
                } else {
                    let mut set = RoleSet::empty(n);
                    set.insert(RoleId(r as u32));
                    for &p in parents {
                        let parent = closure.get(p.index()).ok_or_else(|| out_of_range(r))?;
                        set.union_with(&parent.clone());
                    }
                    if let (Some(slot), Some(visit)) = (closure.get_mut(r), state.get_mut(r)) {
                        *slot = set;
                        *visit = Visit::Done;
                    }
                    stack.pop();
                }
            }
        }
        Ok(closure.into())
    }

    /// The target's tools, checked, sorted and deduplicated. An empty target is corrupt (the
    /// compiler rejects targets that match no tool).
    fn target(
        &self,
        ir: &PolicyIr,
        path: &str,
        target: &TargetIr,
    ) -> Result<Vec<ToolId>, PolicyError> {
        let mut tools = target.tools.clone();
        for &t in &tools {
            if t.index() >= ir.tools.len() {
                return Err(perr(
                    PolicyErrorKind::OutOfRange,
                    format!("{path}.target"),
                    format!("tool {t} out of range"),
                ));
            }
        }
        if tools.is_empty() {
            return Err(perr(
                PolicyErrorKind::Malformed,
                format!("{path}.target"),
                format!("target `{}` matches no tool", target.text),
            ));
        }
        tools.sort_unstable();
        tools.dedup();
        Ok(tools)
    }

    fn requirements(
        &self,
        ir: &PolicyIr,
        path: &str,
        reqs: &[EvidenceRequirementIr],
    ) -> Result<Box<[Requirement]>, PolicyError> {
        let mut out: Vec<Requirement> = Vec::with_capacity(reqs.len());
        for (i, req) in reqs.iter().enumerate() {
            let path = format!("{path}.require[{i}]");
            let kind = ir.evidence.get(req.evidence.index()).ok_or_else(|| {
                perr(
                    PolicyErrorKind::OutOfRange,
                    &path,
                    format!("evidence kind {} out of range", req.evidence),
                )
            })?;
            if req.count == 0 {
                return Err(perr(PolicyErrorKind::Malformed, &path, "count must be at least 1"));
            }
            if let Some(r) = req.by {
                if r.index() >= ir.roles.len() {
                    return Err(perr(
                        PolicyErrorKind::OutOfRange,
                        &path,
                        format!("role {r} out of range"),
                    ));
                }
                if !kind.by_human {
                    return Err(perr(
                        PolicyErrorKind::Malformed,
                        &path,
                        format!("`by` on `{}`, which is not declared `by human`", kind.name),
                    ));
                }
            }
            for (name, value) in &req.fields {
                let field = kind.fields.iter().find(|f| &f.name == name).ok_or_else(|| {
                    perr(
                        PolicyErrorKind::Malformed,
                        &path,
                        format!("evidence `{}` has no field `{name}`", kind.name),
                    )
                })?;
                let want = class_of_type(&field.ty);
                if class_of_value(value) != want {
                    return Err(perr(
                        PolicyErrorKind::Malformed,
                        &path,
                        format!(
                            "field `{name}` is a {}, not a {}",
                            want.name(),
                            class_of_value(value).name()
                        ),
                    ));
                }
            }
            let req = Requirement {
                evidence: req.evidence,
                count: req.count,
                by: req.by,
                fields: req.fields.clone().into(),
            };
            match out.iter_mut().find(|r| r.same_as(&req)) {
                Some(existing) => existing.count = existing.count.max(req.count),
                None => out.push(req),
            }
        }
        Ok(out.into())
    }

    fn cond_opt(
        &self,
        ir: &PolicyIr,
        path: &str,
        cond: Option<&Cond>,
        ctx: Ctx<'_>,
    ) -> Result<Option<CCond>, PolicyError> {
        let path = format!("{path}.condition");
        cond.map(|c| self.cond(ir, &path, c, ctx, 0)).transpose()
    }

    fn cond(
        &self,
        ir: &PolicyIr,
        path: &str,
        cond: &Cond,
        ctx: Ctx<'_>,
        depth: usize,
    ) -> Result<CCond, PolicyError> {
        if depth > 256 {
            return Err(perr(PolicyErrorKind::TooLarge, path, "condition nested too deeply"));
        }
        // Only the connectives recurse; leaves are compiled in a frame of their own, so that
        // 256 levels stay far from the stack's end even in a debug build.
        Ok(match cond {
            Cond::Not(inner) => CCond::Not(Box::new(self.cond(ir, path, inner, ctx, depth + 1)?)),
            Cond::And(items) => CCond::And(
                flatten(items, true)
                    .into_iter()
                    .map(|c| self.cond(ir, path, c, ctx, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            Cond::Or(items) => CCond::Or(
                flatten(items, false)
                    .into_iter()
                    .map(|c| self.cond(ir, path, c, ctx, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            leaf => self.leaf(ir, path, leaf, ctx)?,
        })
    }

    /// A condition other than `not`, `and` and `or`.
    #[inline(never)]
    fn leaf(
        &self,
        ir: &PolicyIr,
        path: &str,
        cond: &Cond,
        ctx: Ctx<'_>,
    ) -> Result<CCond, PolicyError> {
        let e = |message: String| perr(PolicyErrorKind::Malformed, path, message);
        Ok(match cond {
            Cond::Truth(op) => {
                let op = self.operand(ir, path, op, ctx)?;
                expect_class(path, &op.1, Class::Bool)?;
                CCond::Truth(op.0)
            }
            Cond::Compare(cmp, a, b) => {
                let (a, ca) = self.operand(ir, path, a, ctx)?;
                let (b, cb) = self.operand(ir, path, b, ctx)?;
                if ca != cb {
                    return Err(e(format!("compares a {} with a {}", ca.name(), cb.name())));
                }
                if !matches!(cmp, CmpOp::Eq | CmpOp::Ne)
                    && !matches!(ca, Class::Int | Class::Duration)
                {
                    return Err(e(format!("orders values of type {}", ca.name())));
                }
                CCond::Compare(*cmp, a, b).specialized()
            }
            Cond::In(value, list) | Cond::Contains(list, value) => {
                let (value, cv) = self.operand(ir, path, value, ctx)?;
                let (list, cl) = self.operand(ir, path, list, ctx)?;
                expect_class(path, &cv, Class::Str)?;
                expect_class(path, &cl, Class::List)?;
                if matches!(cond, Cond::In(..)) {
                    CCond::In(value, list).specialized()
                } else {
                    CCond::Contains(list, value).specialized()
                }
            }
            Cond::Matches(op, glob) => {
                let (op, c) = self.operand(ir, path, op, ctx)?;
                expect_class(path, &c, Class::Str)?;
                CCond::Matches(op, Glob::new(glob))
            }
            Cond::AnyMatches(op, glob) | Cond::AllMatches(op, glob) => {
                let (op, c) = self.operand(ir, path, op, ctx)?;
                expect_class(path, &c, Class::List)?;
                if matches!(cond, Cond::AnyMatches(..)) {
                    CCond::AnyMatches(op, Glob::new(glob))
                } else {
                    CCond::AllMatches(op, Glob::new(glob))
                }
            }
            Cond::HasRole(who, role) => {
                self.who(path, *who, ctx)?;
                if role.index() >= ir.roles.len() {
                    return Err(perr(
                        PolicyErrorKind::OutOfRange,
                        path,
                        format!("role {role} out of range"),
                    ));
                }
                CCond::HasRole(*who, *role)
            }
            Cond::Runs(op, pattern) => {
                let arg = self.command_arg(ir, path, op, ctx)?;
                let text = format!("{arg} runs {}", render::command_pattern(pattern)).into();
                let patterns = Box::new([compile_pattern(path, pattern)?]);
                CCond::Runs(Box::new(CommandCond { arg, patterns, text }))
            }
            Cond::RunsOnly(op, patterns) => {
                let arg = self.command_arg(ir, path, op, ctx)?;
                if patterns.is_empty() {
                    return Err(e("`runs only` without patterns".to_owned()));
                }
                let listed: Vec<String> = patterns.iter().map(render::command_pattern).collect();
                let text = format!("{arg} runs only [{}]", listed.join(", ")).into();
                let patterns =
                    patterns.iter().map(|p| compile_pattern(path, p)).collect::<Result<_, _>>()?;
                CCond::RunsOnly(Box::new(CommandCond { arg, patterns, text }))
            }
            Cond::Under(op, dir) => {
                let Operand::Arg(name) = op else {
                    return Err(e("`under` needs a `path` argument".to_owned()));
                };
                if !self.arg_types(ir, path, name, ctx)?.iter().all(|t| **t == ValueType::Path) {
                    return Err(e(format!("`under` needs a `path` argument; `{name}` is not one")));
                }
                CCond::Under(Box::new(UnderCond {
                    arg: name.as_str().into(),
                    dir: dir.as_str().into(),
                    text: format!("{name} under {}", render::quote(dir)).into(),
                }))
            }
            Cond::Not(_) | Cond::And(_) | Cond::Or(_) => {
                return Err(e("a connective reached the leaf compiler".to_owned()));
            }
        })
    }

    /// The declared types of argument `name` on every tool the rule targets.
    fn arg_types<'i>(
        &self,
        ir: &'i PolicyIr,
        path: &str,
        name: &str,
        ctx: Ctx<'_>,
    ) -> Result<Vec<&'i ValueType>, PolicyError> {
        let tools = match ctx {
            Ctx::Tools(tools) | Ctx::May(tools) => tools,
            Ctx::Start => {
                return Err(perr(
                    PolicyErrorKind::Malformed,
                    path,
                    format!("reads argument `{name}` in a start rule"),
                ));
            }
        };
        let mut types = Vec::with_capacity(tools.len());
        for &t in tools {
            let tool = ir.tools.get(t.index()).ok_or_else(|| {
                perr(PolicyErrorKind::OutOfRange, path, format!("tool {t} out of range"))
            })?;
            let param = self
                .params_by_name
                .get(t.index())
                .and_then(|params| params.get(name))
                .and_then(|&p| tool.params.get(p as usize))
                .ok_or_else(|| {
                    perr(
                        PolicyErrorKind::Malformed,
                        path,
                        format!("tool `{}` has no argument `{name}`", tool.name),
                    )
                })?;
            types.push(&param.ty);
        }
        if types.is_empty() {
            return Err(perr(PolicyErrorKind::Malformed, path, "empty target"));
        }
        Ok(types)
    }

    /// The operand of `runs` / `runs only`: a `command` argument of every targeted tool.
    fn command_arg(
        &self,
        ir: &PolicyIr,
        path: &str,
        op: &Operand,
        ctx: Ctx<'_>,
    ) -> Result<Box<str>, PolicyError> {
        let Operand::Arg(name) = op else {
            return Err(perr(
                PolicyErrorKind::Malformed,
                path,
                "`runs` needs a `command` argument",
            ));
        };
        if !self.arg_types(ir, path, name, ctx)?.iter().all(|t| **t == ValueType::Command) {
            return Err(perr(
                PolicyErrorKind::Malformed,
                path,
                format!("`runs` needs a `command` argument; `{name}` is not one"),
            ));
        }
        Ok(name.as_str().into())
    }

    fn who(&self, path: &str, who: Who, ctx: Ctx<'_>) -> Result<(), PolicyError> {
        if who == Who::Principal && !matches!(ctx, Ctx::May(_)) {
            return Err(perr(
                PolicyErrorKind::Malformed,
                path,
                "`principal` outside an entitlement",
            ));
        }
        Ok(())
    }

    fn operand(
        &self,
        ir: &PolicyIr,
        path: &str,
        op: &Operand,
        ctx: Ctx<'_>,
    ) -> Result<(COperand, Class), PolicyError> {
        Ok(match op {
            Operand::Literal(v) => (COperand::Literal(lit(v)), class_of_value(v)),
            Operand::Arg(name) => {
                let tools = match ctx {
                    Ctx::Tools(tools) | Ctx::May(tools) => tools,
                    Ctx::Start => {
                        return Err(perr(
                            PolicyErrorKind::Malformed,
                            path,
                            format!("reads argument `{name}` in a start rule"),
                        ));
                    }
                };
                let mut class = None;
                for &t in tools {
                    let (Some(tool), Some(params)) =
                        (ir.tools.get(t.index()), self.params_by_name.get(t.index()))
                    else {
                        return Err(perr(
                            PolicyErrorKind::OutOfRange,
                            path,
                            format!("tool {t} out of range"),
                        ));
                    };
                    let param = params
                        .get(name)
                        .and_then(|&p| tool.params.get(p as usize))
                        .ok_or_else(|| {
                            perr(
                                PolicyErrorKind::Malformed,
                                path,
                                format!("tool `{}` has no argument `{name}`", tool.name),
                            )
                        })?;
                    let c = class_of_type(&param.ty);
                    if class.is_some_and(|prev| prev != c) {
                        return Err(perr(
                            PolicyErrorKind::Malformed,
                            path,
                            format!("argument `{name}` has different types on the targeted tools"),
                        ));
                    }
                    class = Some(c);
                }
                let class =
                    class.ok_or_else(|| perr(PolicyErrorKind::Malformed, path, "empty target"))?;
                (COperand::Arg(name.as_str().into(), class), class)
            }
            Operand::Context(id) => {
                let decl = ir.contexts.get(id.index()).ok_or_else(|| {
                    perr(PolicyErrorKind::OutOfRange, path, format!("context {id} out of range"))
                })?;
                let class = class_of_type(&decl.ty);
                (COperand::Context(decl.name.as_str().into(), class), class)
            }
            Operand::Attribute(who, id) => {
                self.who(path, *who, ctx)?;
                let decl = ir.attributes.get(id.index()).ok_or_else(|| {
                    perr(PolicyErrorKind::OutOfRange, path, format!("attribute {id} out of range"))
                })?;
                let class = class_of_type(&decl.ty);
                (COperand::Attribute(*who, decl.name.as_str().into(), class), class)
            }
            Operand::Id(who) => {
                self.who(path, *who, ctx)?;
                (COperand::Id(*who), Class::Str)
            }
            Operand::Kind(who) => {
                self.who(path, *who, ctx)?;
                (COperand::Kind(*who), Class::Kind)
            }
            Operand::Depth => (COperand::Depth, Class::Int),
            Operand::Calls(calls) => {
                let tools = self.target(ir, path, &calls.target)?;
                if calls.within_seconds.is_some_and(|s| s <= 0) {
                    return Err(perr(
                        PolicyErrorKind::Malformed,
                        path,
                        "`calls(... within D)` needs D greater than zero",
                    ));
                }
                let calls = Calls {
                    tools: tools.into(),
                    glob: calls.glob.as_deref().map(Glob::new),
                    within_seconds: calls.within_seconds,
                    text: render::calls(calls).into(),
                };
                (COperand::Calls(Box::new(calls)), Class::Int)
            }
            Operand::Given(_) => {
                return Err(perr(
                    PolicyErrorKind::Malformed,
                    path,
                    "`given(...)` belongs to assertions, not to rules",
                ));
            }
        })
    }
}

/// The operands of nested `and`s (or `or`s), flattened without recursion: a compiler that lowers
/// `a and b and c` as `And[And[a, b], c]` gets `And[a, b, c]`, so long chains nest no deeper.
fn flatten(items: &[Cond], and: bool) -> Vec<&Cond> {
    let mut out = Vec::with_capacity(items.len());
    let mut stack: Vec<std::slice::Iter<'_, Cond>> = vec![items.iter()];
    while let Some(top) = stack.last_mut() {
        match top.next() {
            None => {
                stack.pop();
            }
            Some(Cond::And(inner)) if and => stack.push(inner.iter()),
            Some(Cond::Or(inner)) if !and => stack.push(inner.iter()),
            Some(other) => out.push(other),
        }
    }
    out
}

/// Indices of `rules` sorted by source position (stable: ties keep their order).
/// `items` and their `targets` permuted into `order` (a permutation of their indices).
fn reorder<T, U>(items: Vec<T>, targets: Vec<U>, order: &[u32]) -> (Vec<T>, Vec<U>) {
    let mut slots: Vec<Option<(T, U)>> = items.into_iter().zip(targets).map(Some).collect();
    order.iter().filter_map(|&i| slots.get_mut(i as usize).and_then(Option::take)).unzip()
}

fn source_order<'a>(rules: impl Iterator<Item = &'a Rule>) -> Vec<u32> {
    let mut keyed: Vec<((&str, u32, u32), u32)> =
        rules.enumerate().map(|(i, rule)| (rule.source_key(), i as u32)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, i)| i).collect()
}

fn expect_class(path: &str, got: &Class, want: Class) -> Result<(), PolicyError> {
    if *got != want {
        return Err(perr(
            PolicyErrorKind::Malformed,
            path,
            format!("expected a {} operand, found a {}", want.name(), got.name()),
        ));
    }
    Ok(())
}

/// A command pattern of the IR, compiled. Patterns have at least one item.
fn compile_pattern(path: &str, pattern: &CommandPatternIr) -> Result<Pattern, PolicyError> {
    if pattern.items.is_empty() {
        return Err(perr(PolicyErrorKind::Malformed, path, "an empty command pattern"));
    }
    Ok(Pattern::new(
        pattern
            .items
            .iter()
            .map(|item| match item {
                PatternItemIr::Word(w) => PatternItem::Word(w.clone()),
                PatternItemIr::Rest => PatternItem::Rest,
            })
            .collect(),
    ))
}

/// The class an argument of this type is read as. A `path` is a string (its resolved form);
/// a `command` is readable only by `runs` and `runs only`.
pub(crate) fn class_of_type(ty: &ValueType) -> Class {
    match ty {
        ValueType::String | ValueType::Enum(_) | ValueType::Path => Class::Str,
        ValueType::Command => Class::Command,
        ValueType::Int => Class::Int,
        ValueType::Bool => Class::Bool,
        ValueType::Duration => Class::Duration,
        ValueType::StringList => Class::List,
    }
}

pub(crate) fn class_of_value(v: &Value) -> Class {
    match v {
        Value::Str(_) => Class::Str,
        Value::Int(_) => Class::Int,
        Value::Bool(_) => Class::Bool,
        Value::Duration(_) => Class::Duration,
        Value::StringList(_) => Class::List,
        Value::Kind(_) => Class::Kind,
    }
}

fn lit(v: &Value) -> Lit {
    match v {
        Value::Str(s) => Lit::Str(s.as_str().into()),
        Value::Int(i) => Lit::Int(*i),
        Value::Bool(b) => Lit::Bool(*b),
        Value::Duration(d) => Lit::Duration(*d),
        Value::StringList(items) => Lit::List(items.clone().into()),
        Value::Kind(k) => Lit::Kind(*k),
    }
}

#[cfg(test)]
mod tests;
