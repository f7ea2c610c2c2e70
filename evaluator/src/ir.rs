//! The checked, lowered policy: what the compiler hands to the evaluator.
//!
//! This is plain data (serde, so that bundles can carry it). Every name has been resolved to an
//! index: a `RoleId` indexes [`PolicyIr::roles`], a `ToolId` [`PolicyIr::tools`], and so on.
//! Targets are already expanded to the set of declared tools they match. The compiler guarantees
//! that the IR is well typed (every operand of a comparison has the same type, every argument a
//! condition reads exists on every tool its rule targets); [`crate::Policy::from_ir`] still checks
//! every index, so a corrupt IR is an error, never a panic.

use serde::{Deserialize, Serialize};

/// Declares an id: a `u32` index into one of [`PolicyIr`]'s tables, its own type so that one
/// kind of id cannot be passed for another. Written in the IR as the bare number
/// (`#[serde(transparent)]`), so bundles are unchanged by the type.
macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl $name {
            /// The position in its table.
            #[inline]
            #[must_use]
            pub fn index(self) -> usize {
                self.0 as usize
            }

            /// The id of a table's `index`th entry, if `index` fits an id.
            #[must_use]
            pub fn at(index: usize) -> Option<Self> {
                u32::try_from(index).ok().map(Self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id!(
    /// An index into [`PolicyIr::roles`].
    RoleId
);
id!(
    /// An index into [`PolicyIr::tools`].
    ToolId
);
id!(
    /// An index into [`PolicyIr::workflows`].
    WorkflowId
);
id!(
    /// An index into [`PolicyIr::evidence`].
    EvidenceId
);
id!(
    /// An index into [`PolicyIr::attributes`].
    AttributeId
);
id!(
    /// An index into [`PolicyIr::contexts`].
    ContextId
);

/// A whole compiled policy. The tables below are what the ids index; their order is the
/// compiler's and carries no meaning except where a field says so.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyIr {
    /// `sha256:<hex>` over the policy's files (LANGUAGE.md §7).
    pub hash: String,
    /// The declared roles, indexed by [`RoleId`]. Names are unique. Their order is the role
    /// (declaration) order in which delegation tries a principal's `may` rules.
    pub roles: Vec<RoleIr>,
    /// The declared principal attributes (`X.ATTR`), indexed by [`AttributeId`]. Names are unique.
    pub attributes: Vec<ValueDeclIr>,
    /// The declared context values (`context.NAME`), indexed by [`ContextId`]. Names are unique.
    pub contexts: Vec<ValueDeclIr>,
    /// The declared tools, indexed by [`ToolId`]. Names are unique.
    pub tools: Vec<ToolIr>,
    /// The declared evidence kinds, indexed by [`EvidenceId`]. Names are unique.
    pub evidence: Vec<EvidenceKindIr>,
    /// The declared workflows, indexed by [`WorkflowId`]. Names are unique.
    pub workflows: Vec<WorkflowIr>,
    /// Top-level rules: they apply to every workflow.
    pub guardrails: RuleSetIr,
}

/// Where a rule or entitlement was written, for decisions and traces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleMeta {
    /// The stable rule id of LANGUAGE.md §5: `release/allow/2`, `engineer/may/1`, `deny/1`.
    pub id: String,
    /// Path of the file as given to the compiler (relative to the policy directory).
    pub file: String,
    /// 1-based line of the rule's first character.
    pub line: u32,
    /// 1-based column of the rule's first character. With `file` and `line`, the source
    /// order in which denies and `require ... for` rules are reported.
    pub column: u32,
    /// The rule's source text, whitespace collapsed to single spaces (for traces).
    pub text: String,
}

/// A declared role: its parents and its own `may` rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoleIr {
    /// The role's name as declared (what requests list in a principal's `roles`).
    pub name: String,
    /// Direct parents only; the evaluator computes the transitive closure. No cycles.
    pub extends: Vec<RoleId>,
    /// The role's own `may` rules in source order (not those inherited through `extends`).
    pub entitlements: Vec<EntitlementIr>,
}

/// `may TARGET [when C] [unless C]`; `unless U` is already folded into `condition` as `and not U`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntitlementIr {
    /// Where the rule was written; its id is `ROLE/may/N`.
    pub meta: RuleMeta,
    /// The tools the principal is entitled to call.
    pub target: TargetIr,
    /// `None` means always true. The only place [`Who::Principal`] may appear.
    pub condition: Option<Cond>,
}

/// A declared attribute or context value: its name and type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueDeclIr {
    /// The key requests send it under.
    pub name: String,
    /// The type a request's value must have; a wrong-typed value denies the request (step 1).
    pub ty: ValueType,
}

/// The type of a declared value, tool argument or evidence field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueType {
    /// A JSON string.
    String,
    /// A JSON integer (64-bit).
    Int,
    /// A JSON boolean.
    Bool,
    /// A duration, sent as a JSON string such as `"30m"`; held in seconds.
    Duration,
    /// A JSON array of strings.
    StringList,
    /// A string that must be one of these.
    Enum(Vec<String>),
    /// A shell command line, sent as a JSON string and read as the simple commands bash would
    /// run (LANGUAGE.md §8). Tool arguments only.
    Command,
    /// A file path, sent as a JSON string and resolved against the request's `cwd` before any
    /// condition sees it (§9). Tool arguments only.
    Path,
}

/// A declared tool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolIr {
    /// The tool's name as requests send it (`repo.push`).
    pub name: String,
    /// The declared arguments; a request's argument of another type denies it (step 1), an
    /// undeclared one is ignored.
    pub params: Vec<ParamIr>,
    /// The tool's tags, as written. Targets are already expanded, so the evaluator does not
    /// read them when deciding.
    pub tags: Vec<String>,
}

/// A named, typed slot: a tool argument or an evidence field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamIr {
    /// The argument's or field's name.
    pub name: String,
    /// Its declared type.
    pub ty: ValueType,
}

/// A declared evidence kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvidenceKindIr {
    /// The kind's name, as evidence items name it.
    pub name: String,
    /// The declared fields, which requirements may constrain (`ticket(id: "REL-1")`).
    pub fields: Vec<ParamIr>,
    /// `by human`: items carry their giver.
    pub by_human: bool,
    /// `bound`: items count only for the request's `subject`.
    pub bound: bool,
}

/// A declared workflow and its own rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowIr {
    /// The name requests send in `workflow`.
    pub name: String,
    /// The greatest depth (chain length minus one) a request may have. Default 1.
    pub max_depth: u32,
    /// The longest ttl a start may request, in seconds, and the one granted when it requests
    /// none. Default 3600; never negative ([`crate::Policy::from_ir`] rejects it).
    pub ttl_seconds: i64,
    /// The `start` rules, in source order; each that admits a start is a path for its evidence.
    pub starts: Vec<StartRuleIr>,
    /// The `allow` rules, in source order; each that matches a call is a path for its evidence.
    pub allows: Vec<AllowRuleIr>,
    /// The workflow's own denies, deny-starts and `require ... for` rules (the top-level
    /// [`PolicyIr::guardrails`] apply too).
    pub rules: RuleSetIr,
}

/// Denies, deny-starts and `require ... for` rules: a workflow's own, or the top-level guardrails.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleSetIr {
    /// `deny TARGET` rules, applying to calls. Any order: [`crate::Policy::from_ir`] sorts
    /// rules by source position (file, line, column) before reporting them.
    pub denies: Vec<DenyRuleIr>,
    /// `deny start` rules, applying to starts. Any order, as for `denies`.
    pub deny_starts: Vec<DenyStartRuleIr>,
    /// `require ... for TARGET` rules, adding requirements to calls. Any order, as for `denies`.
    pub requires: Vec<RequireForRuleIr>,
}

/// A `start [by ROLE, ...] [when C] [require ...]` rule: who may start the workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartRuleIr {
    /// Where the rule was written; its id is `WORKFLOW/start/N`.
    pub meta: RuleMeta,
    /// Met when the initiator holds at least one (through `extends`); empty means anyone.
    pub by: Vec<RoleId>,
    /// `None` means always true. Never reads an argument (a start has none).
    pub condition: Option<Cond>,
    /// The evidence the start needs; empty means none.
    pub require: Vec<EvidenceRequirementIr>,
}

/// An `allow TARGET [when C] [require ...]` rule of a workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AllowRuleIr {
    /// Where the rule was written; its id is `WORKFLOW/allow/N`.
    pub meta: RuleMeta,
    /// The tools the rule allows.
    pub target: TargetIr,
    /// `None` means always true.
    pub condition: Option<Cond>,
    /// The evidence a call on this path needs; empty means none.
    pub require: Vec<EvidenceRequirementIr>,
}

/// A `deny TARGET [when C] [because "..."]` rule: a call it applies to is denied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DenyRuleIr {
    /// Where the rule was written; its id is `WORKFLOW/deny/N` or `deny/N` at top level.
    pub meta: RuleMeta,
    /// The tools the rule denies.
    pub target: TargetIr,
    /// `None` means always true. An unknown condition applies the deny (fail closed).
    pub condition: Option<Cond>,
    /// The reason reported in the decision; `None` reports the rule itself instead.
    pub because: Option<String>,
}

/// A `deny start [when C] [because "..."]` rule: a start it applies to is denied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DenyStartRuleIr {
    /// Where the rule was written; its id is `WORKFLOW/deny_start/N` or `deny_start/N`.
    pub meta: RuleMeta,
    /// `None` means always true. An unknown condition applies the deny (fail closed).
    pub condition: Option<Cond>,
    /// The reason reported in the decision; `None` reports the rule itself instead.
    pub because: Option<String>,
}

/// A `require ITEM, ... for TARGET [when C]` rule: requirements added to every path of a call
/// it applies to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequireForRuleIr {
    /// Where the rule was written; its id is `WORKFLOW/require/N` or `require/N`.
    pub meta: RuleMeta,
    /// The tools whose calls need the evidence.
    pub target: TargetIr,
    /// `None` means always true. An unknown condition applies the rule (fail closed).
    pub condition: Option<Cond>,
    /// The evidence the rule adds.
    pub require: Vec<EvidenceRequirementIr>,
}

/// The declared tools a target matches, already expanded, plus the target as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TargetIr {
    /// Sorted, no duplicates.
    pub tools: Vec<ToolId>,
    /// `deploy`, `repo.*`, `[write, prod]`, `*`.
    pub text: String,
}

/// `[N] NAME[(FIELD: VALUE, ...)] [by ROLE]`
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EvidenceRequirementIr {
    /// The kind of item that counts.
    pub evidence: EvidenceId,
    /// At least 1.
    pub count: u32,
    /// The role the giver must hold (through `extends`); only on `by human` kinds. `None`
    /// means any giver the kind allows.
    pub by: Option<RoleId>,
    /// Field name (a declared field of the kind) and the value the item's field must equal, in
    /// the order written; empty means any item of the kind.
    pub fields: Vec<(String, Value)>,
}

/// A literal value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Value {
    /// A string (also an enumeration value).
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A duration in seconds.
    Duration(i64),
    /// A list of strings.
    StringList(Vec<String>),
    /// A principal kind (`human`, `service`, `agent`), compared with `X.kind`.
    Kind(PrincipalKind),
}

/// The value as a writ literal: `"REL"`, `3`, `true`, `30m`, `["a", "b"]`, `human`. The one
/// printer of values, used by decisions, traces, the compiler's reports and `writ import`.
impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Str(s) => f.write_str(&writ_stdx::quote(s)),
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Duration(d) => f.write_str(&crate::format_duration(*d)),
            Value::StringList(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&writ_stdx::quote(item))?;
                }
                f.write_str("]")
            }
            Value::Kind(k) => f.write_str(k.as_str()),
        }
    }
}

/// What a principal of a chain is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PrincipalKind {
    /// A person; the only kind that can give `by human` evidence.
    Human,
    /// A non-human identity that is accountable like a human: delegation checks its
    /// entitlements.
    Service,
    /// An AI agent: never accountable, so delegation does not check its entitlements.
    Agent,
}

impl PrincipalKind {
    /// The kind as written in policies and requests: `human`, `service`, `agent`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Human => "human",
            PrincipalKind::Service => "service",
            PrincipalKind::Agent => "agent",
        }
    }

    /// The kind with its article, for messages: `a human`, `a service`, `an agent`.
    pub fn with_article(self) -> &'static str {
        match self {
            PrincipalKind::Human => "a human",
            PrincipalKind::Service => "a service",
            PrincipalKind::Agent => "an agent",
        }
    }
}

/// Which principal an expression reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Who {
    /// `chain[0]`
    Initiator,
    /// The last principal of the chain.
    Caller,
    /// Inside `may` only: the principal whose entitlement is checked.
    Principal,
}

/// A value read at decision time. Its type is known statically (the compiler checked it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Operand {
    /// A literal, always known.
    Literal(Value),
    /// A call argument, by name (the compiler checked that every targeted tool has it, with one
    /// type). Unknown when absent.
    Arg(String),
    /// `context.NAME`; unknown when absent.
    Context(ContextId),
    /// `X.ATTR`; unknown when absent.
    Attribute(Who, AttributeId),
    /// `X.id`: a string, always known.
    Id(Who),
    /// `X.kind`: a principal kind, always known.
    Kind(Who),
    /// `depth`: an integer, always known.
    Depth,
    /// `calls(TARGET [within D])`: an integer, the number of earlier calls of the run that the
    /// target matches (§10); unknown without `history` (and, windowed, without `time` or when a
    /// matching entry has no `at`).
    Calls(CallsIr),
    /// `given(ITEM)` (§11, assertions only): an integer, the number of distinct givers (items,
    /// for kinds without givers) in the request's evidence that count for the requirement by
    /// §5 step 6's rules (its `count` is 1 and unused). Never in a policy's rules:
    /// [`crate::Policy::from_ir`] refuses it there; `reference::claim_condition` (the `reference`
    /// feature) reads it.
    Given(EvidenceRequirementIr),
}

/// What `calls(...)` counts.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CallsIr {
    /// The declared tools the target matches. A history entry naming a declared tool counts
    /// when that tool is here.
    pub target: TargetIr,
    /// For a glob target (`repo.*`, `*`): the glob as written. A history entry naming a tool
    /// the policy does not declare counts only when this glob matches its name (never by tags,
    /// never by a plain tool name, which always names a declared tool).
    pub glob: Option<String>,
    /// `within D`, in seconds (greater than zero).
    pub within_seconds: Option<i64>,
}

/// A command pattern (§8): `["git", "push", ...]`, at least one item.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CommandPatternIr {
    /// The words the simple command's words must match, in order.
    pub items: Vec<PatternItemIr>,
}

/// One item of a command pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PatternItemIr {
    /// A glob (§4) over one word.
    Word(String),
    /// `...`: any number of words, zero included.
    Rest,
}

/// A comparison operator of [`Cond::Compare`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A three-valued condition (true, false, unknown).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Cond {
    /// A boolean operand on its own (`when dry_run`, `true`).
    Truth(Operand),
    /// Ordering only on `Int` and `Duration` operands; `Eq`/`Ne` on any two of one type
    /// (lists compare element by element).
    Compare(CmpOp, Operand, Operand),
    /// `value in list`; the list operand is a `StringList` (a literal or an argument, ...).
    In(Operand, Operand),
    /// `list contains value`
    Contains(Operand, Operand),
    /// `value matches "glob"` (LANGUAGE.md §4 glob rules).
    Matches(Operand, String),
    /// `any list matches "glob"`
    AnyMatches(Operand, String),
    /// `all list matches "glob"`
    AllMatches(Operand, String),
    /// `X has role R` (through `extends`). Always known.
    HasRole(Who, RoleId),
    /// `CMD runs PATTERN`: the operand is a `command` argument (§8).
    Runs(Operand, CommandPatternIr),
    /// `CMD runs only [PATTERN, ...]`: the operand is a `command` argument; at least one
    /// pattern (§8).
    RunsOnly(Operand, Vec<CommandPatternIr>),
    /// `P under "dir"`: the operand is a `path` argument; the directory is as written, resolved
    /// against the request's `cwd` when relative (§9).
    Under(Operand, String),
    /// `not C`: true and false swap, unknown stays unknown.
    Not(Box<Cond>),
    /// `A and B and ...`: false if any is false, else unknown if any is unknown, else true.
    And(Vec<Cond>),
    /// `A or B or ...`: true if any is true, else unknown if any is unknown, else false.
    Or(Vec<Cond>),
}
