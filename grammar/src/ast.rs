//! The syntax tree of a writ source file.
//!
//! Every node carries a byte [`Span`] into the source text it was parsed from. The tree is
//! lossless enough for the formatter and the language server: comments are kept (in
//! [`SourceFile::comments`]) and `///` documentation is attached to the node it documents.
//! Parsing never fails: text that does not parse becomes an [`Item::Error`] plus a
//! [`ParseError`], and parsing resumes at the next declaration.

use std::fmt;

/// A half-open byte range `start..end` into the source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start: start as u32, end: end as u32 }
    }
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
    pub fn contains(self, offset: usize) -> bool {
        (self.start as usize) <= offset && offset <= (self.end as usize)
    }
}

/// A name with its span: an identifier, or a principal-kind word.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// A dotted tool name (`repo.push`, `mcp.fs.read_file`), kept as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ToolName {
    pub text: String,
    pub span: Span,
}

/// A string literal: `value` is the unescaped content, `span` covers the quotes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

/// A comment as written (`// ...` or `/// ...`), including its slashes, without the newline.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Comment {
    pub text: String,
    pub span: Span,
    /// `///` comments. Those directly above a declaration, rule or entitlement are also its [`Doc`].
    pub is_doc: bool,
}

/// The `///` block directly above a node: one entry per line, with `///` and one leading space
/// removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Doc {
    pub lines: Vec<String>,
    pub span: Span,
}

impl Doc {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// A syntax error. The parser reports one per unparsable region and carries on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ParseError {
    /// Lowercase, with user text in backticks: "expected `)` or `,`, found `=`".
    pub message: String,
    /// Where the problem is (often empty-width at the offending position).
    pub span: Span,
    /// What the parser expected there, for editors and help text.
    pub expected: Vec<String>,
    /// What kind of mistake it is, for tools that must not depend on the wording of messages.
    pub kind: ParseErrorKind,
}

/// The kinds of [`ParseError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// The text does not follow the grammar: a missing or unexpected token, clauses out of
    /// order or repeated, a chained comparison, a bad escape, a trailing comma, ...
    Syntax,
    /// A reserved word where a name belongs: `role allow`, `tool t(for: string)`.
    ReservedWord,
    /// An integer or a duration too large for 64 bits (LANGUAGE.md §1).
    NumberTooLarge,
    /// Input beyond the parser's limits rather than a mistake: brackets and `not` nested more
    /// than 64 levels deep, a condition of more than 256 levels of operators, a declaration too
    /// complex for the parser's own limits, a file over 4 GiB.
    Limit,
    /// A bug in the parser (a parse that does not have the shape the grammar promises).
    Internal,
}

/// One parsed file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SourceFile {
    pub items: Vec<Item>,
    /// Every comment in the file, in order (doc comments included).
    pub comments: Vec<Comment>,
    pub errors: Vec<ParseError>,
}

/// A top-level declaration or rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Item {
    Role(RoleDecl),
    Attribute(ValueDecl),
    Context(ValueDecl),
    Tool(ToolDecl),
    Evidence(EvidenceDecl),
    Workflow(WorkflowDecl),
    /// A guardrail: `deny`, `deny start` or `require ... for` outside any workflow. Other rule
    /// kinds at top level are parsed too (so that the checker can say where they belong).
    Rule(Rule),
    Fixture(FixtureDecl),
    Test(TestDecl),
    /// `assert "NAME" { never ... }` (§11).
    Assert(AssertDecl),
    /// Text that did not parse; the matching [`ParseError`] is in [`SourceFile::errors`].
    Error(Span),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Role(d) => d.span,
            Item::Attribute(d) | Item::Context(d) => d.span,
            Item::Tool(d) => d.span,
            Item::Evidence(d) => d.span,
            Item::Workflow(d) => d.span,
            Item::Rule(d) => d.span,
            Item::Fixture(d) => d.span,
            Item::Test(d) => d.span,
            Item::Assert(d) => d.span,
            Item::Error(s) => *s,
        }
    }
}

/// `role NAME [extends ROLE, ...] [{ may ... }]`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RoleDecl {
    pub doc: Option<Doc>,
    pub name: Ident,
    pub extends: Vec<Ident>,
    /// `None` when written without braces; `Some(vec![])` for `{}`.
    pub body: Option<Vec<Entitlement>>,
    pub span: Span,
}

/// `may TARGET [when C] [unless C]`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entitlement {
    pub doc: Option<Doc>,
    pub target: Target,
    pub when: Option<Expr>,
    pub unless: Option<Expr>,
    pub span: Span,
}

/// `attribute NAME: TYPE` and `context NAME: TYPE`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ValueDecl {
    pub doc: Option<Doc>,
    pub name: Ident,
    pub ty: TypeExpr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TypeExpr {
    pub kind: TypeKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TypeKind {
    String,
    Int,
    Bool,
    Duration,
    /// `[string]`
    StringList,
    /// `"a" | "b"`
    Enum(Vec<StrLit>),
    /// `command`: a shell command line (LANGUAGE.md §8); tool arguments only.
    Command,
    /// `path`: a file path, resolved before conditions see it (§9); tool arguments only.
    Path,
    /// A word that names no type (`strng`); the checker reports it.
    Unknown(Ident),
}

/// `tool NAME[(ARG: TYPE, ...)] [[TAG, ...]]`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ToolDecl {
    pub doc: Option<Doc>,
    pub name: ToolName,
    /// `None` when declared without parentheses (`tool ping`).
    pub params: Option<Vec<Param>>,
    pub tags: Vec<Ident>,
    pub span: Span,
}

/// `NAME: TYPE` in a tool's or evidence kind's parameter list.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeExpr,
    pub span: Span,
}

/// `evidence NAME[(FIELD: TYPE, ...)] [by human] [bound]`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EvidenceDecl {
    pub doc: Option<Doc>,
    pub name: Ident,
    pub fields: Option<Vec<Param>>,
    /// The span of `by human` when present. `by` followed by another word is kept as
    /// `by_kind` so that the checker can report it.
    pub by_human: Option<Span>,
    /// The word after `by`, as written (normally `human`).
    pub by_kind: Option<Ident>,
    pub bound: Option<Span>,
    pub span: Span,
}

/// `workflow NAME { ... }`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WorkflowDecl {
    pub doc: Option<Doc>,
    pub name: Ident,
    pub body: Vec<WorkflowItem>,
    pub span: Span,
}

// Nearly every item of a workflow is a rule: boxing rules to spare `max_depth` and `ttl` some
// bytes would cost an allocation per rule.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum WorkflowItem {
    Rule(Rule),
    /// `max_depth N`
    MaxDepth(IntLit),
    /// `ttl DURATION`
    Ttl(DurationLit),
    /// Unparsable text inside the workflow body.
    Error(Span),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IntLit {
    pub value: i64,
    pub span: Span,
}

/// `90s`, `30m`, `1h`, `7d`: kept as written plus its length in seconds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DurationLit {
    pub amount: i64,
    pub unit: char,
    pub seconds: i64,
    pub span: Span,
}

/// A rule: in a workflow or at top level.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    pub doc: Option<Doc>,
    pub kind: RuleKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// `start [by ROLE, ...] [when C] [unless C] [require E, ...]`
    Start {
        by: Vec<Ident>,
        when: Option<Expr>,
        unless: Option<Expr>,
        require: Vec<EvidenceRequirement>,
    },
    /// `allow TARGET [when C] [unless C] [require E, ...]`
    Allow {
        target: Target,
        when: Option<Expr>,
        unless: Option<Expr>,
        require: Vec<EvidenceRequirement>,
    },
    /// `deny TARGET [when C] [unless C] [because "why"]`
    Deny { target: Target, when: Option<Expr>, unless: Option<Expr>, because: Option<StrLit> },
    /// `deny start [when C] [unless C] [because "why"]`
    DenyStart {
        /// The span of the `start` word.
        start: Span,
        when: Option<Expr>,
        unless: Option<Expr>,
        because: Option<StrLit>,
    },
    /// `require E, ... for TARGET [when C] [unless C]`
    RequireFor {
        require: Vec<EvidenceRequirement>,
        target: Target,
        when: Option<Expr>,
        unless: Option<Expr>,
    },
}

/// What a rule or entitlement applies to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    pub kind: TargetKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// One tool name: `deploy`, `repo.push`.
    Tool(ToolName),
    /// A glob over tool names containing `*` or `?`: `repo.*`. `pattern` is as written.
    Glob(String),
    /// `*`: every tool.
    All,
    /// `[secret]`, `[write, prod]`: any tool with any of the tags.
    Tags(Vec<Ident>),
    /// `start` where a tool target was expected (`require x for start`); reported by the checker.
    Start,
}

/// One item of a `require` list: `[N] NAME[(FIELD: VALUE, ...)] [by ROLE]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EvidenceRequirement {
    pub count: Option<IntLit>,
    pub name: Ident,
    pub fields: Vec<FieldValue>,
    pub by: Option<Ident>,
    pub span: Span,
}

/// `FIELD: VALUE` in an evidence requirement, a fixture or a test request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldValue {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

/// An expression. Conditions and values share one type; the checker tells them apart.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quantifier {
    Any,
    All,
}

/// `initiator`, `caller` or `principal`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrincipalRef {
    Initiator,
    Caller,
    Principal,
}

impl PrincipalRef {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalRef::Initiator => "initiator",
            PrincipalRef::Caller => "caller",
            PrincipalRef::Principal => "principal",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExprKind {
    /// `true` / `false`
    Bool(bool),
    Str(String),
    Int(i64),
    Duration(DurationLit),
    /// `["a", "b"]` (string literals only; `[]` allowed)
    List(Vec<StrLit>),
    /// A bare identifier: a tool argument, or one of the kind words `human`, `service`,
    /// `agent` (the checker decides from context).
    Name(Ident),
    /// `initiator`, `caller`, `principal` on their own (only meaningful before `has role`).
    Principal(PrincipalRef, Span),
    /// `initiator.team`, `caller.kind`, `principal.id`
    Field {
        principal: PrincipalRef,
        principal_span: Span,
        field: Ident,
    },
    /// `depth`
    Depth,
    /// `context.NAME`
    Context(Ident),
    /// `a == b` and the other comparisons.
    Compare {
        op: CompareOp,
        op_span: Span,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `V in LIST`
    In {
        value: Box<Expr>,
        list: Box<Expr>,
    },
    /// `LIST contains V`
    Contains {
        list: Box<Expr>,
        value: Box<Expr>,
    },
    /// `V matches "glob"`
    Matches {
        value: Box<Expr>,
        pattern: StrLit,
    },
    /// `any LIST matches "glob"` / `all LIST matches "glob"`
    Quantified {
        quantifier: Quantifier,
        list: Box<Expr>,
        pattern: StrLit,
    },
    /// `X has role R`
    HasRole {
        principal: PrincipalRef,
        principal_span: Span,
        role: Ident,
    },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// `( e )`, kept so that the formatter preserves the author's grouping.
    Paren(Box<Expr>),
    /// `CMD runs PATTERN` (§8). `command` is an operand (the checker requires a `command`
    /// argument).
    Runs {
        command: Box<Expr>,
        /// The span of `runs`.
        op_span: Span,
        pattern: CommandPattern,
    },
    /// `CMD runs only [PATTERN, ...]` (§8). The list may be written empty; the checker reports it.
    RunsOnly {
        command: Box<Expr>,
        /// The span of `runs only`.
        op_span: Span,
        patterns: Vec<CommandPattern>,
        /// The span of the list, `[` to `]`.
        list_span: Span,
    },
    /// `P under "dir"` (§9).
    Under {
        path: Box<Expr>,
        op_span: Span,
        dir: StrLit,
    },
    /// `calls(TARGET)` / `calls(TARGET within DURATION)` (§10): an integer.
    Calls {
        target: Target,
        within: Option<DurationLit>,
    },
    /// `given(ITEM)` (§11, assertions only): an integer. `ITEM` is written as in `require`;
    /// a count (`2 approval`) is kept for the checker to report. Boxed: it is the largest
    /// expression by far, and every [`Expr`] would pay for it.
    Given(Box<EvidenceRequirement>),
}

/// A command pattern (§8): `["git", "push", ...]`. It may be written empty; the checker
/// reports it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CommandPattern {
    pub items: Vec<PatternItem>,
    pub span: Span,
}

/// One item of a [`CommandPattern`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PatternItem {
    /// A string literal: a glob (§4) over one word.
    Word(StrLit),
    /// `...`: any number of words, zero included.
    Rest(Span),
}

/// `assert "NAME" { CLAIM ... }` (§11).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AssertDecl {
    pub doc: Option<Doc>,
    pub name: StrLit,
    pub claims: Vec<Claim>,
    pub span: Span,
}

/// One claim of an assertion: `never allow [via W] TARGET [when C] [unless U]` or
/// `never start W [when C] [unless U]`. As in rules, `unless U` means `and not U`: only a
/// request for which `when` is true and `unless` is false can break the claim.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Claim {
    pub doc: Option<Doc>,
    pub kind: ClaimKind,
    pub when: Option<Expr>,
    pub unless: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClaimKind {
    /// `never allow [via WORKFLOW] TARGET`
    NeverAllow { via: Option<Ident>, target: Target },
    /// `never start WORKFLOW`
    NeverStart { workflow: Ident },
}

/// `fixture NAME = KIND [[ROLE, ...]] [{ ATTR: VALUE, ... }]`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FixtureDecl {
    pub doc: Option<Doc>,
    pub name: Ident,
    /// `human`, `service` or `agent` (anything else is kept and reported by the checker).
    pub kind: Ident,
    pub roles: Vec<Ident>,
    pub attrs: Vec<FieldValue>,
    pub span: Span,
}

/// `test "name" { expect ... }`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TestDecl {
    pub doc: Option<Doc>,
    pub name: StrLit,
    pub expectations: Vec<Expectation>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Allow,
    Deny,
    Pending,
}

/// `expect OUTCOME [(MISSING, ...)]: REQUEST`
///
/// `expect pending(approval, tests_passed): ...` also checks which evidence kinds are missing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Expectation {
    pub doc: Option<Doc>,
    pub outcome: Outcome,
    pub outcome_span: Span,
    /// `Some` when the missing evidence kinds are listed after `pending`.
    pub missing: Option<Vec<Ident>>,
    pub request: TestRequest,
    pub span: Span,
}

/// A request written in the language's own terms:
///
/// ```text
/// CHAIN via WORKFLOW calls TOOL(ARG: VALUE, ...) [with EVIDENCE, ...] [context { NAME: VALUE, ... }] [RUN]
/// CHAIN starts WORKFLOW [with EVIDENCE, ...] [context { ... }] [ttl DURATION] [RUN]
/// RUN: [in "CWD"] [at "RFC 3339 TIME"] [after [TOOL [at "TIME" | DURATION ago], ...]]
/// ```
///
/// CHAIN is one or more fixture names separated by `,` (`alice, helper`). For a call, `via W`
/// appends the workflow's own agent to the chain, so `alice via release calls ...` is the chain
/// `[alice, <release agent>]` (depth 1) and `alice, helper via release calls ...` has depth 2.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TestRequest {
    pub chain: Vec<Ident>,
    pub action: TestAction,
    pub evidence: Vec<TestEvidence>,
    pub context: Vec<FieldValue>,
    /// `in "/work/app"`: the request's `cwd` (§10).
    pub cwd: Option<StrLit>,
    /// `at "2026-12-02T16:00:00Z"`: the request's `time` (§10).
    pub time: Option<StrLit>,
    /// `after [TOOL at "...", TOOL 2h ago, TOOL]`: the run's `history`, oldest first (§10).
    /// `None` when not written (the request has no history); `Some(vec![])` for `after []`.
    pub history: Option<Vec<TestHistoryEntry>>,
    pub span: Span,
}

/// One earlier call in a test request's `after [...]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TestHistoryEntry {
    pub tool: ToolName,
    pub at: Option<HistoryTime>,
    pub span: Span,
}

/// When an earlier call was made.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HistoryTime {
    /// `at "2026-12-02T15:00:00Z"`
    At(StrLit),
    /// `2h ago`: that long before the request's `at` (which must then be given).
    Ago(DurationLit),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TestAction {
    Call { workflow: Ident, tool: ToolName, args: Vec<FieldValue> },
    Start { workflow: Ident, ttl: Option<DurationLit> },
}

/// One evidence item given in a test request: `NAME[(FIELD: VALUE, ...)] [by FIXTURE]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TestEvidence {
    pub name: Ident,
    pub fields: Vec<FieldValue>,
    pub by: Option<Ident>,
    pub span: Span,
}
