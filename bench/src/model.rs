//! The engine-neutral scenario model: one policy, described once, that every emitter
//! (writ, Cedar, Rego) translates.
//!
//! The model only has what all three engines can express faithfully (see `bench/README.md`):
//! conditions are comparisons of call arguments, principal attributes, context values and the
//! delegation depth with literals, membership in literal lists, `contains` on list arguments,
//! prefix globs (`"deploy/*"`), principal kinds and roles, combined with `and`, `or` and `not`.

/// Whose data an operand reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// `chain[0]`.
    Initiator,
    /// The last principal of the chain.
    Caller,
    /// Inside `may` only: the principal whose entitlement is checked.
    Principal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Human,
    Service,
    Agent,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Human => "human",
            Kind::Service => "service",
            Kind::Agent => "agent",
        }
    }
}

/// A value read at decision time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    /// A call argument (unknown when absent).
    Arg(String),
    /// A declared principal attribute (unknown when absent).
    Attr(Who, String),
    /// A declared context value (unknown when absent).
    Context(String),
    /// Delegation hops: always known.
    Depth,
}

impl Operand {
    /// Whether the operand can be unknown (absent from a request).
    pub fn optional(&self) -> bool {
        !matches!(self, Operand::Depth)
    }
}

/// A condition. Atoms are everything but `Not`, `And` and `Or`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cond {
    /// `op == "lit"`
    EqStr(Operand, String),
    /// `op > n` (integers)
    Gt(Operand, i64),
    /// `op in ["a", "b"]`
    In(Operand, Vec<String>),
    /// `op contains "s"` (a list argument)
    Contains(Operand, String),
    /// `op matches "prefix*"`
    Prefix(Operand, String),
    /// a boolean operand on its own
    IsTrue(Operand),
    /// `who.kind == kind`: always known
    KindIs(Who, Kind),
    /// `who has role R`: always known
    HasRole(Who, String),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

impl Cond {
    /// The operand an atom reads, if it can be unknown.
    pub fn optional_operand(&self) -> Option<&Operand> {
        match self {
            Cond::EqStr(o, _)
            | Cond::Gt(o, _)
            | Cond::In(o, _)
            | Cond::Contains(o, _)
            | Cond::Prefix(o, _)
            | Cond::IsTrue(o) => o.optional().then_some(o),
            _ => None,
        }
    }

    pub fn is_atom(&self) -> bool {
        !matches!(self, Cond::Not(_) | Cond::And(_) | Cond::Or(_))
    }
}

/// A rule's condition: `when W unless U` means `W and not U`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Condition {
    pub when: Option<Cond>,
    pub unless: Option<Cond>,
}

impl Condition {
    pub fn always() -> Condition {
        Condition::default()
    }

    pub fn when(c: Cond) -> Condition {
        Condition { when: Some(c), unless: None }
    }

    pub fn unless(mut self, c: Cond) -> Condition {
        self.unless = Some(c);
        self
    }

    /// The whole condition as one `Cond` (`None`: always true).
    pub fn cond(&self) -> Option<Cond> {
        match (&self.when, &self.unless) {
            (None, None) => None,
            (Some(w), None) => Some(w.clone()),
            (None, Some(u)) => Some(Cond::Not(Box::new(u.clone()))),
            (Some(w), Some(u)) => Some(Cond::And(vec![w.clone(), Cond::Not(Box::new(u.clone()))])),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Tool(String),
    Tag(String),
}

/// `[count] kind[(field: "value")] [by role]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub count: u32,
    pub kind: String,
    pub by: Option<String>,
    pub field: Option<(String, String)>,
}

impl Requirement {
    pub fn plain(kind: &str) -> Requirement {
        Requirement { count: 1, kind: kind.into(), by: None, field: None }
    }

    pub fn by(count: u32, kind: &str, role: &str) -> Requirement {
        Requirement { count, kind: kind.into(), by: Some(role.into()), field: None }
    }

    pub fn field(kind: &str, field: &str, value: &str) -> Requirement {
        Requirement {
            count: 1,
            kind: kind.into(),
            by: None,
            field: Some((field.into(), value.into())),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    Str,
    StrList,
    Bool,
    Enum(Vec<String>),
}

#[derive(Clone, Debug)]
pub struct Tool {
    pub name: String,
    pub params: Vec<(String, Type)>,
    pub tags: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct EvidenceKind {
    pub name: String,
    pub by_human: bool,
    pub bound: bool,
    pub fields: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct May {
    pub target: Target,
    pub condition: Condition,
}

#[derive(Clone, Debug)]
pub struct Role {
    pub name: String,
    pub extends: Vec<String>,
    pub mays: Vec<May>,
}

#[derive(Clone, Debug)]
pub struct Start {
    pub by: Option<String>,
    pub condition: Condition,
    pub require: Vec<Requirement>,
}

#[derive(Clone, Debug)]
pub struct Allow {
    pub target: Target,
    pub condition: Condition,
    pub require: Vec<Requirement>,
}

#[derive(Clone, Debug)]
pub struct Deny {
    pub target: Target,
    pub condition: Condition,
    pub because: String,
}

#[derive(Clone, Debug)]
pub struct DenyStart {
    pub condition: Condition,
    pub because: String,
}

#[derive(Clone, Debug)]
pub struct RequireFor {
    pub target: Target,
    pub condition: Condition,
    pub require: Vec<Requirement>,
}

/// Denies, deny-starts and `require ... for` rules of a workflow or of the top level.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pub denies: Vec<Deny>,
    pub deny_starts: Vec<DenyStart>,
    pub requires: Vec<RequireFor>,
}

impl RuleSet {
    pub fn len(&self) -> usize {
        self.denies.len() + self.deny_starts.len() + self.requires.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, Debug)]
pub struct Workflow {
    pub name: String,
    pub max_depth: u32,
    pub ttl_seconds: i64,
    pub starts: Vec<Start>,
    pub allows: Vec<Allow>,
    pub rules: RuleSet,
}

/// The whole policy, engine-neutral.
#[derive(Clone, Debug, Default)]
pub struct PolicyModel {
    /// Declared principal attributes (`attribute NAME: TYPE`).
    pub attributes: Vec<(String, Type)>,
    /// Declared context values (`context NAME: TYPE`).
    pub contexts: Vec<(String, Type)>,
    pub evidence: Vec<EvidenceKind>,
    pub tools: Vec<Tool>,
    pub roles: Vec<Role>,
    pub workflows: Vec<Workflow>,
    pub guardrails: RuleSet,
}

impl PolicyModel {
    /// Rules in the sense of the benchmark's sizes: every `may`, `start`, `allow`, `deny`,
    /// `deny start` and `require ... for`.
    pub fn rule_count(&self) -> usize {
        let mays: usize = self.roles.iter().map(|r| r.mays.len()).sum();
        let workflows: usize =
            self.workflows.iter().map(|w| w.starts.len() + w.allows.len() + w.rules.len()).sum();
        mays + workflows + self.guardrails.len()
    }

    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }

    pub fn evidence_kind(&self, name: &str) -> Option<&EvidenceKind> {
        self.evidence.iter().find(|e| e.name == name)
    }

    /// `closure[i]`: role `i`'s name and every role it extends, transitively (in a stable order).
    pub fn role_closures(&self) -> Vec<(String, Vec<String>)> {
        let index: std::collections::HashMap<&str, usize> =
            self.roles.iter().enumerate().map(|(i, r)| (r.name.as_str(), i)).collect();
        self.roles
            .iter()
            .map(|role| {
                let mut out: Vec<String> = Vec::new();
                let mut stack = vec![role.name.as_str()];
                while let Some(r) = stack.pop() {
                    if out.iter().any(|o| o == r) {
                        continue;
                    }
                    out.push(r.to_owned());
                    if let Some(&i) = index.get(r) {
                        stack.extend(self.roles[i].extends.iter().map(String::as_str));
                    }
                }
                (role.name.clone(), out)
            })
            .collect()
    }
}
