//! Diagnostics: plain data inside the database (so that salsa can compare them), turned into
//! miette [`miette::Diagnostic`]s with their source text for rendering.

use std::fmt;
use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;
use writ_grammar::ast::Span;

/// Every diagnostic writ reports has one of these codes (shown as `writ::NAME`). Codes are
/// stable: tools and users may match on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    // Syntax.
    Syntax,
    ReservedWord,
    // Declarations.
    DuplicateDeclaration,
    DuplicateArgument,
    DuplicateClause,
    DuplicateEnumValue,
    BuiltinAttribute,
    UnknownType,
    ExtendsCycle,
    InvalidKind,
    // Names.
    UnknownRole,
    UnknownTool,
    UnknownTag,
    UnknownEvidence,
    UnknownAttribute,
    UnknownContext,
    UnknownWorkflow,
    UnknownName,
    UnknownField,
    UnknownFixture,
    // Rules.
    MisplacedRule,
    StartTarget,
    TargetMatchesNothing,
    InvalidCount,
    ZeroDuration,
    ByWithoutHuman,
    // Conditions.
    TypeMismatch,
    NotOrdered,
    EnumValue,
    MissingArgument,
    PrincipalOutsideMay,
    NotACondition,
    EmptyPattern,
    ArgumentOnlyType,
    GivenOutsideAssertion,
    // Warnings.
    UnstartableWorkflow,
    NeverAllows,
    UnusedDeclaration,
    RunsInAllow,
    AdmitsAnyProgram,
    VacuousClaim,
    UnsatisfiableCondition,
    ShadowedAllow,
    UnreachedRequire,
    UnusableEntitlement,
}

impl Code {
    pub fn name(self) -> &'static str {
        match self {
            Code::Syntax => "syntax",
            Code::ReservedWord => "reserved_word",
            Code::DuplicateDeclaration => "duplicate_declaration",
            Code::DuplicateArgument => "duplicate_argument",
            Code::DuplicateClause => "duplicate_clause",
            Code::DuplicateEnumValue => "duplicate_enum_value",
            Code::BuiltinAttribute => "builtin_attribute",
            Code::UnknownType => "unknown_type",
            Code::ExtendsCycle => "extends_cycle",
            Code::InvalidKind => "invalid_kind",
            Code::UnknownRole => "unknown_role",
            Code::UnknownTool => "unknown_tool",
            Code::UnknownTag => "unknown_tag",
            Code::UnknownEvidence => "unknown_evidence",
            Code::UnknownAttribute => "unknown_attribute",
            Code::UnknownContext => "unknown_context",
            Code::UnknownWorkflow => "unknown_workflow",
            Code::UnknownName => "unknown_name",
            Code::UnknownField => "unknown_field",
            Code::UnknownFixture => "unknown_fixture",
            Code::MisplacedRule => "misplaced_rule",
            Code::StartTarget => "start_target",
            Code::TargetMatchesNothing => "target_matches_nothing",
            Code::InvalidCount => "invalid_count",
            Code::ZeroDuration => "zero_duration",
            Code::ByWithoutHuman => "by_without_human",
            Code::TypeMismatch => "type_mismatch",
            Code::NotOrdered => "not_ordered",
            Code::EnumValue => "enum_value",
            Code::MissingArgument => "missing_argument",
            Code::PrincipalOutsideMay => "principal_outside_may",
            Code::NotACondition => "not_a_condition",
            Code::UnstartableWorkflow => "unstartable_workflow",
            Code::NeverAllows => "never_allows",
            Code::UnusedDeclaration => "unused_declaration",
            Code::EmptyPattern => "empty_pattern",
            Code::ArgumentOnlyType => "argument_only_type",
            Code::GivenOutsideAssertion => "given_outside_assertion",
            Code::RunsInAllow => "runs_in_allow",
            Code::AdmitsAnyProgram => "admits_any_program",
            Code::VacuousClaim => "vacuous_claim",
            Code::UnsatisfiableCondition => "unsatisfiable_condition",
            Code::ShadowedAllow => "shadowed_allow",
            Code::UnreachedRequire => "unreached_require",
            Code::UnusableEntitlement => "unusable_entitlement",
        }
    }

    /// A short description of what the code is about (for rule tables, e.g. in SARIF).
    pub fn description(self) -> &'static str {
        match self {
            Code::Syntax => "the text does not parse",
            Code::ReservedWord => "a reserved word used as a name",
            Code::DuplicateDeclaration => "a name declared twice",
            Code::DuplicateArgument => "an argument, field or value given twice",
            Code::DuplicateClause => "a workflow clause set twice",
            Code::DuplicateEnumValue => "an enumeration lists a value twice",
            Code::BuiltinAttribute => "a built-in attribute declared",
            Code::UnknownType => "an unknown type",
            Code::ExtendsCycle => "roles that extend themselves",
            Code::InvalidKind => "not a principal kind",
            Code::UnknownRole => "an unknown role",
            Code::UnknownTool => "an unknown tool",
            Code::UnknownTag => "a tag no tool has",
            Code::UnknownEvidence => "an unknown evidence kind",
            Code::UnknownAttribute => "an unknown attribute",
            Code::UnknownContext => "an unknown context value",
            Code::UnknownWorkflow => "an unknown workflow",
            Code::UnknownName => "a name that is not defined here",
            Code::UnknownField => "a field the declaration lacks",
            Code::UnknownFixture => "an unknown fixture",
            Code::MisplacedRule => "a rule outside the block it belongs to",
            Code::StartTarget => "`start` used as a tool target",
            Code::TargetMatchesNothing => "a target that matches no tool",
            Code::InvalidCount => "a count out of range",
            Code::ZeroDuration => "a duration that must be positive",
            Code::ByWithoutHuman => "`by ROLE` on evidence without givers",
            Code::TypeMismatch => "values of different types",
            Code::NotOrdered => "ordering on a type without order",
            Code::EnumValue => "a value the enumeration cannot take",
            Code::MissingArgument => "an argument some targeted tools lack",
            Code::PrincipalOutsideMay => "`principal` outside a role's `may`",
            Code::NotACondition => "a value where a condition is expected",
            Code::UnstartableWorkflow => "a workflow nobody can start",
            Code::NeverAllows => "an allow no starting role is entitled to",
            Code::UnusedDeclaration => "a declaration nothing uses",
            Code::EmptyPattern => "a command pattern or pattern list with nothing in it",
            Code::ArgumentOnlyType => "`command` or `path` outside a tool's arguments",
            Code::GivenOutsideAssertion => "`given(...)` outside an assertion",
            Code::RunsInAllow => "an allow on `runs`, which admits anything that also runs it",
            Code::AdmitsAnyProgram => "a `runs only` pattern that admits a shell or interpreter",
            Code::VacuousClaim => "a claim no request can apply to",
            Code::UnsatisfiableCondition => "a rule whose condition no request makes true",
            Code::ShadowedAllow => "an allow whose every request a deny applies to",
            Code::UnreachedRequire => "a `require ... for` no allowed request reaches",
            Code::UnusableEntitlement => "an entitlement no workflow can use",
        }
    }

    /// Warnings do not stop a policy from compiling.
    pub fn severity(self) -> Severity {
        match self {
            Code::UnstartableWorkflow
            | Code::NeverAllows
            | Code::UnusedDeclaration
            | Code::RunsInAllow
            | Code::AdmitsAnyProgram
            | Code::VacuousClaim
            | Code::UnsatisfiableCondition
            | Code::ShadowedAllow
            | Code::UnreachedRequire
            | Code::UnusableEntitlement => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// Every code, for documentation and tests.
    pub const ALL: &'static [Code] = &[
        Code::Syntax,
        Code::ReservedWord,
        Code::DuplicateDeclaration,
        Code::DuplicateArgument,
        Code::DuplicateClause,
        Code::DuplicateEnumValue,
        Code::BuiltinAttribute,
        Code::UnknownType,
        Code::ExtendsCycle,
        Code::InvalidKind,
        Code::UnknownRole,
        Code::UnknownTool,
        Code::UnknownTag,
        Code::UnknownEvidence,
        Code::UnknownAttribute,
        Code::UnknownContext,
        Code::UnknownWorkflow,
        Code::UnknownName,
        Code::UnknownField,
        Code::UnknownFixture,
        Code::MisplacedRule,
        Code::StartTarget,
        Code::TargetMatchesNothing,
        Code::InvalidCount,
        Code::ZeroDuration,
        Code::ByWithoutHuman,
        Code::TypeMismatch,
        Code::NotOrdered,
        Code::EnumValue,
        Code::MissingArgument,
        Code::PrincipalOutsideMay,
        Code::NotACondition,
        Code::EmptyPattern,
        Code::ArgumentOnlyType,
        Code::GivenOutsideAssertion,
        Code::UnstartableWorkflow,
        Code::NeverAllows,
        Code::UnusedDeclaration,
        Code::RunsInAllow,
        Code::AdmitsAnyProgram,
        Code::VacuousClaim,
        Code::UnsatisfiableCondition,
        Code::ShadowedAllow,
        Code::UnreachedRequire,
        Code::UnusableEntitlement,
    ];
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "writ::{}", self.name())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A place in the policy: the file (its index in the workspace, in source order) and a span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub file: usize,
    pub span: Span,
}

/// A secondary label: "declared here", "the cycle goes through here".
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Related {
    pub location: Location,
    pub message: String,
}

/// One problem in a policy. Messages are lowercase with user text in backticks (Cedar's style).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    pub location: Location,
    /// Text under the primary span; defaults to nothing.
    pub label: Option<String>,
    pub related: Vec<Related>,
    pub help: Option<String>,
    /// The text the checker is sure was meant ("did you mean"), and where it goes: editors
    /// offer it as the preferred quick fix, and `--format json` prints it as `fix`.
    pub replacement: Option<Replacement>,
}

/// A machine-applicable fix: replace `location` with `text`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Replacement {
    pub location: Location,
    pub text: String,
}

impl Diagnostic {
    pub fn new(code: Code, location: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            message: message.into(),
            location,
            label: None,
            related: Vec::new(),
            help: None,
            replacement: None,
        }
    }
    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }
    /// The help line. A help written by [`did_you_mean`] also sets the replacement: the name
    /// it suggests, in place of the diagnostic's location (always the misspelt name).
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        let help = help.into();
        if self.replacement.is_none()
            && let Some(name) = suggested_name(&help)
        {
            self.replacement =
                Some(Replacement { location: self.location, text: name.to_string() });
        }
        self.help = Some(help);
        self
    }
    pub fn maybe_help(self, help: Option<String>) -> Diagnostic {
        match help {
            Some(help) => self.help(help),
            None => self,
        }
    }
    /// The fix an editor may apply without asking: `text` in place of `location`.
    pub fn replace_with(mut self, location: Location, text: impl Into<String>) -> Diagnostic {
        self.replacement = Some(Replacement { location, text: text.into() });
        self
    }
    pub fn related(mut self, location: Location, message: impl Into<String>) -> Diagnostic {
        self.related.push(Related { location, message: message.into() });
        self
    }
    pub fn severity(&self) -> Severity {
        self.code.severity()
    }
    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }
}

/// A source file's name and text, as needed to render diagnostics.
#[derive(Clone, Debug)]
pub struct SourceText {
    pub path: String,
    pub text: Arc<str>,
}

/// 1-based line and column (in characters) of a byte offset.
pub use writ_grammar::line_col;

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn source_span(text: &str, span: Span) -> SourceSpan {
    let start = floor_char_boundary(text, span.start as usize);
    let end = floor_char_boundary(text, span.end as usize).max(start);
    SourceSpan::new(start.into(), end - start)
}

/// A diagnostic joined with its source text: what miette renders.
#[derive(Debug)]
pub struct Report {
    diagnostic: Diagnostic,
    source: NamedSource<Arc<str>>,
    text: Arc<str>,
    /// Labels in other files become related reports of their own.
    elsewhere: Vec<Report>,
}

impl Report {
    pub fn new(diagnostic: &Diagnostic, sources: &[SourceText]) -> Option<Report> {
        let file = sources.get(diagnostic.location.file)?;
        let elsewhere = diagnostic
            .related
            .iter()
            .filter(|r| r.location.file != diagnostic.location.file)
            .filter_map(|r| {
                let note = Diagnostic {
                    code: diagnostic.code,
                    message: r.message.clone(),
                    location: r.location,
                    label: Some(r.message.clone()),
                    related: Vec::new(),
                    help: None,
                    replacement: None,
                };
                let other = sources.get(r.location.file)?;
                Some(Report {
                    diagnostic: note,
                    source: NamedSource::new(other.path.clone(), other.text.clone())
                        .with_language("writ"),
                    text: other.text.clone(),
                    elsewhere: Vec::new(),
                })
            })
            .collect();
        Some(Report {
            diagnostic: diagnostic.clone(),
            source: NamedSource::new(file.path.clone(), file.text.clone()).with_language("writ"),
            text: file.text.clone(),
            elsewhere,
        })
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        if self.diagnostic.related.is_empty() && self.elsewhere.is_empty() && self.is_note() {
            return None;
        }
        Some(Box::new(self.diagnostic.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match (self.is_note(), self.diagnostic.severity()) {
            (true, _) => miette::Severity::Advice,
            (false, Severity::Error) => miette::Severity::Error,
            (false, Severity::Warning) => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let d = &self.diagnostic;
        let primary = LabeledSpan::new_primary_with_span(
            d.label.clone(),
            source_span(&self.text, d.location.span),
        );
        let secondary = d.related.iter().filter(|r| r.location.file == d.location.file).map(|r| {
            LabeledSpan::new_with_span(
                Some(r.message.clone()),
                source_span(&self.text, r.location.span),
            )
        });
        Some(Box::new(std::iter::once(primary).chain(secondary)))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.elsewhere.is_empty() {
            return None;
        }
        Some(Box::new(self.elsewhere.iter().map(|r| r as &dyn miette::Diagnostic)))
    }
}

impl Report {
    fn is_note(&self) -> bool {
        // Related reports built for labels in other files carry the message as their label.
        self.diagnostic.label.as_deref() == Some(self.diagnostic.message.as_str())
            && self.diagnostic.help.is_none()
            && self.elsewhere.is_empty()
            && self.diagnostic.related.is_empty()
    }
}

/// The machine-readable form of a diagnostic (`writ check --format json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JsonDiagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    /// Byte offsets into the file.
    pub start: u32,
    pub end: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<JsonRelated>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// The replacement an editor may apply without asking (see [`Diagnostic::replacement`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<JsonFix>,
}

/// `text` in place of the bytes `start..end` (lines and columns from 1, columns in characters).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JsonFix {
    pub text: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub start: u32,
    pub end: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JsonRelated {
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl JsonDiagnostic {
    pub fn new(d: &Diagnostic, sources: &[SourceText]) -> JsonDiagnostic {
        let (path, text) =
            sources.get(d.location.file).map_or(("", ""), |s| (s.path.as_str(), &*s.text));
        let (line, column) = line_col(text, d.location.span.start as usize);
        let (end_line, end_column) = line_col(text, d.location.span.end as usize);
        JsonDiagnostic {
            code: d.code,
            severity: d.severity(),
            message: d.message.clone(),
            file: path.to_string(),
            line,
            column,
            end_line,
            end_column,
            start: d.location.span.start,
            end: d.location.span.end,
            label: d.label.clone(),
            related: d
                .related
                .iter()
                .map(|r| {
                    let (path, text) = sources
                        .get(r.location.file)
                        .map_or(("", ""), |s| (s.path.as_str(), &*s.text));
                    let (line, column) = line_col(text, r.location.span.start as usize);
                    JsonRelated { message: r.message.clone(), file: path.to_string(), line, column }
                })
                .collect(),
            help: d.help.clone(),
            fix: d.replacement.as_ref().map(|r| {
                let text = sources.get(r.location.file).map_or("", |s| &*s.text);
                let (line, column) = line_col(text, r.location.span.start as usize);
                let (end_line, end_column) = line_col(text, r.location.span.end as usize);
                JsonFix {
                    text: r.text.clone(),
                    line,
                    column,
                    end_line,
                    end_column,
                    start: r.location.span.start,
                    end: r.location.span.end,
                }
            }),
        }
    }
}

/// "did you mean `x`?" for the candidate closest to `name`, if one is close enough.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    suggest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The name in a help that [`did_you_mean`] wrote.
fn suggested_name(help: &str) -> Option<&str> {
    let rest = help.strip_prefix("did you mean `")?;
    rest.strip_suffix("`?").filter(|name| !name.contains('`'))
}

/// The candidate closest to `name` by edit distance, if close enough to be a likely typo.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_close_names_only() {
        let names = ["engineer", "senior_engineer", "security_reviewer"];
        assert_eq!(suggest("enginer", names), Some("engineer"));
        assert_eq!(suggest("security_reviewr", names), Some("security_reviewer"));
        assert_eq!(suggest("xyz", names), None);
        assert_eq!(suggest("engineer", names), None);
    }

    #[test]
    fn a_did_you_mean_help_carries_its_replacement() {
        let at = Location { file: 0, span: Span::new(4, 11) };
        let d = Diagnostic::new(Code::UnknownRole, at, "unknown role `enginer`")
            .help(did_you_mean("enginer", ["engineer", "lead"]).unwrap_or_default());
        assert_eq!(d.replacement, Some(Replacement { location: at, text: "engineer".into() }));
        let d = Diagnostic::new(Code::UnknownRole, at, "x").help("declare it: `role x`");
        assert_eq!(d.replacement, None);
        let d = Diagnostic::new(Code::UnknownName, at, "x")
            .help("did you mean `initiator.team` or `caller.team`?");
        assert_eq!(d.replacement, None, "two names are not one fix");
    }

    #[test]
    fn line_col_counts_characters_and_survives_bad_offsets() {
        let text = "ab\ncé\nd";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, 6), (2, 3));
        assert_eq!(line_col(text, 5), (2, 2)); // inside `é`: floors to its start
        assert_eq!(line_col(text, 1000), (3, 2));
    }

    #[test]
    fn every_code_has_a_distinct_name() {
        let mut names: Vec<_> = Code::ALL.iter().map(|c| c.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Code::ALL.len());
    }
}
