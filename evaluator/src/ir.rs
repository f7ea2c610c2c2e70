//! The checked, lowered policy: what the compiler hands to the evaluator.
//!
//! This is plain data (serde, so that bundles can carry it). Every name has been resolved to an
//! index: a `RoleId` indexes [`PolicyIr::roles`], a `ToolId` [`PolicyIr::tools`], and so on.
//! Targets are already expanded to the set of declared tools they match. The compiler guarantees
//! that the IR is well typed (every operand of a comparison has the same type, every argument a
//! condition reads exists on every tool its rule targets); [`crate::Policy::from_ir`] still checks
//! every index, so a corrupt IR is an error, never a panic.

use serde::{Deserialize, Serialize};

pub type RoleId = u32;
pub type ToolId = u32;
pub type WorkflowId = u32;
pub type EvidenceId = u32;
pub type AttributeId = u32;
pub type ContextId = u32;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyIr {
    /// `sha256:<hex>` over the policy's files (LANGUAGE.md §7).
    pub hash: String,
    pub roles: Vec<RoleIr>,
    pub attributes: Vec<ValueDeclIr>,
    pub contexts: Vec<ValueDeclIr>,
    pub tools: Vec<ToolIr>,
    pub evidence: Vec<EvidenceKindIr>,
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
    /// 1-based line and column of the rule's first character.
    pub line: u32,
    pub column: u32,
    /// The rule's source text, whitespace collapsed to single spaces (for traces).
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoleIr {
    pub name: String,
    /// Direct parents only; the evaluator computes the transitive closure. No cycles.
    pub extends: Vec<RoleId>,
    pub entitlements: Vec<EntitlementIr>,
}

/// `may TARGET [when C] [unless C]`; `unless U` is already folded into `condition` as `and not U`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntitlementIr {
    pub meta: RuleMeta,
    pub target: TargetIr,
    /// `None` means always true.
    pub condition: Option<Cond>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueDeclIr {
    pub name: String,
    pub ty: ValueType,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueType {
    String,
    Int,
    Bool,
    Duration,
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolIr {
    pub name: String,
    pub params: Vec<ParamIr>,
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamIr {
    pub name: String,
    pub ty: ValueType,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvidenceKindIr {
    pub name: String,
    pub fields: Vec<ParamIr>,
    /// `by human`: items carry their giver.
    pub by_human: bool,
    /// `bound`: items count only for the request's `subject`.
    pub bound: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowIr {
    pub name: String,
    /// Default 1.
    pub max_depth: u32,
    /// Default 3600.
    pub ttl_seconds: i64,
    pub starts: Vec<StartRuleIr>,
    pub allows: Vec<AllowRuleIr>,
    pub rules: RuleSetIr,
}

/// Denies, deny-starts and `require ... for` rules: a workflow's own, or the top-level guardrails.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleSetIr {
    pub denies: Vec<DenyRuleIr>,
    pub deny_starts: Vec<DenyStartRuleIr>,
    pub requires: Vec<RequireForRuleIr>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartRuleIr {
    pub meta: RuleMeta,
    /// Met when the initiator holds at least one (through `extends`); empty means anyone.
    pub by: Vec<RoleId>,
    pub condition: Option<Cond>,
    pub require: Vec<EvidenceRequirementIr>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AllowRuleIr {
    pub meta: RuleMeta,
    pub target: TargetIr,
    pub condition: Option<Cond>,
    pub require: Vec<EvidenceRequirementIr>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DenyRuleIr {
    pub meta: RuleMeta,
    pub target: TargetIr,
    pub condition: Option<Cond>,
    pub because: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DenyStartRuleIr {
    pub meta: RuleMeta,
    pub condition: Option<Cond>,
    pub because: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequireForRuleIr {
    pub meta: RuleMeta,
    pub target: TargetIr,
    pub condition: Option<Cond>,
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
    pub evidence: EvidenceId,
    /// At least 1.
    pub count: u32,
    /// Only on `by human` kinds.
    pub by: Option<RoleId>,
    /// Field name and the value the item's field must equal.
    pub fields: Vec<(String, Value)>,
}

/// A literal value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    /// Seconds.
    Duration(i64),
    StringList(Vec<String>),
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PrincipalKind {
    Human,
    Service,
    Agent,
}

impl PrincipalKind {
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
    /// [`crate::Policy::from_ir`] refuses it there; [`crate::reference::claim_condition`] reads it.
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
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
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}
