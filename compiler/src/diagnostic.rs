//! Diagnostics: plain data inside the database (so that salsa can compare them), turned into
//! miette [`miette::Diagnostic`]s with their source text for rendering.

use std::fmt;
use std::sync::Arc;

use miette::{LabeledSpan, MietteError, MietteSpanContents, NamedSource, SourceSpan, SpanContents};
use serde::Serialize;
use writ_grammar::ast::Span;

/// Declares [`Code`]: one entry per code, its doc comment (the description), its variant, its
/// stable name (shown as `writ::NAME`) and its default severity. A new code is one entry.
macro_rules! codes {
    ($($(#[doc = $doc:literal])+ $variant:ident = $name:literal, $severity:ident;)+) => {
        /// Every diagnostic writ reports has one of these codes (shown as `writ::NAME`). Codes are
        /// stable: tools and users may match on them.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl Code {
            /// Every code, in declaration order, for documentation and tests.
            pub const ALL: &'static [Code] = &[$(Code::$variant),+];

            /// The stable name, without the `writ::` prefix.
            pub fn name(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)+
                }
            }

            /// A short description of what the code is about (for rule tables, e.g. in SARIF):
            /// the code's doc comment.
            pub fn description(self) -> &'static str {
                match self {
                    $(Code::$variant => concat!($($doc),+).trim(),)+
                }
            }

            /// Warnings do not stop a policy from compiling.
            pub fn severity(self) -> Severity {
                match self {
                    $(Code::$variant => Severity::$severity,)+
                }
            }
        }
    };
}

codes! {
    // Syntax.
    /// the text does not parse
    Syntax = "syntax", Error;
    /// a reserved word used as a name
    ReservedWord = "reserved_word", Error;
    // Declarations.
    /// a name declared twice
    DuplicateDeclaration = "duplicate_declaration", Error;
    /// an argument, field or value given twice
    DuplicateArgument = "duplicate_argument", Error;
    /// a workflow clause set twice
    DuplicateClause = "duplicate_clause", Error;
    /// an enumeration lists a value twice
    DuplicateEnumValue = "duplicate_enum_value", Error;
    /// a built-in attribute declared
    BuiltinAttribute = "builtin_attribute", Error;
    /// an unknown type
    UnknownType = "unknown_type", Error;
    /// roles that extend themselves
    ExtendsCycle = "extends_cycle", Error;
    /// not a principal kind
    InvalidKind = "invalid_kind", Error;
    // Names.
    /// an unknown role
    UnknownRole = "unknown_role", Error;
    /// an unknown tool
    UnknownTool = "unknown_tool", Error;
    /// a tag no tool has
    UnknownTag = "unknown_tag", Error;
    /// an unknown evidence kind
    UnknownEvidence = "unknown_evidence", Error;
    /// an unknown attribute
    UnknownAttribute = "unknown_attribute", Error;
    /// an unknown context value
    UnknownContext = "unknown_context", Error;
    /// an unknown workflow
    UnknownWorkflow = "unknown_workflow", Error;
    /// a name that is not defined here
    UnknownName = "unknown_name", Error;
    /// a field the declaration lacks
    UnknownField = "unknown_field", Error;
    /// an unknown fixture
    UnknownFixture = "unknown_fixture", Error;
    // Rules.
    /// a rule outside the block it belongs to
    MisplacedRule = "misplaced_rule", Error;
    /// `start` used as a tool target
    StartTarget = "start_target", Error;
    /// a target that matches no tool
    TargetMatchesNothing = "target_matches_nothing", Error;
    /// a count out of range
    InvalidCount = "invalid_count", Error;
    /// a duration that must be positive
    ZeroDuration = "zero_duration", Error;
    /// `by ROLE` on evidence without givers
    ByWithoutHuman = "by_without_human", Error;
    // Conditions.
    /// values of different types
    TypeMismatch = "type_mismatch", Error;
    /// ordering on a type without order
    NotOrdered = "not_ordered", Error;
    /// a value the enumeration cannot take
    EnumValue = "enum_value", Error;
    /// an argument some targeted tools lack
    MissingArgument = "missing_argument", Error;
    /// `principal` outside a role's `may`
    PrincipalOutsideMay = "principal_outside_may", Error;
    /// a value where a condition is expected
    NotACondition = "not_a_condition", Error;
    /// a command pattern or pattern list with nothing in it
    EmptyPattern = "empty_pattern", Error;
    /// `command` or `path` outside a tool's arguments
    ArgumentOnlyType = "argument_only_type", Error;
    /// `given(...)` outside an assertion
    GivenOutsideAssertion = "given_outside_assertion", Error;
    // Warnings.
    /// a workflow nobody can start
    UnstartableWorkflow = "unstartable_workflow", Warning;
    /// an allow no starting role is entitled to
    NeverAllows = "never_allows", Warning;
    /// a declaration nothing uses
    UnusedDeclaration = "unused_declaration", Warning;
    /// an allow on `runs`, which admits anything that also runs it
    RunsInAllow = "runs_in_allow", Warning;
    /// a `runs only` pattern that admits a shell or interpreter
    AdmitsAnyProgram = "admits_any_program", Warning;
    /// a claim no request can apply to
    VacuousClaim = "vacuous_claim", Warning;
    /// a rule whose condition no request makes true
    UnsatisfiableCondition = "unsatisfiable_condition", Warning;
    /// an allow whose every request a deny applies to
    ShadowedAllow = "shadowed_allow", Warning;
    /// a `require ... for` no allowed request reaches
    UnreachedRequire = "unreached_require", Warning;
    /// an entitlement no workflow can use
    UnusableEntitlement = "unusable_entitlement", Warning;
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

/// A source file's name and text, as needed to render diagnostics, with where its lines start
/// (built once, so that placing many diagnostics in a large file is not a scan each).
#[derive(Clone, Debug)]
pub struct SourceText {
    pub path: String,
    pub text: Arc<str>,
    lines: Arc<writ_grammar::LineIndex>,
}

impl SourceText {
    pub fn new(path: String, text: Arc<str>) -> SourceText {
        let lines = Arc::new(writ_grammar::LineIndex::new(&text));
        SourceText { path, text, lines }
    }

    /// The 1-based line and column (in characters) of byte `offset` (see [`line_col`]).
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        self.lines.line_col(&self.text, offset as usize)
    }

    /// The text as miette reads it, named by its path.
    fn named(&self) -> NamedSource<Indexed> {
        let indexed = Indexed { text: self.text.clone(), lines: self.lines.clone() };
        NamedSource::new(self.path.clone(), indexed).with_language("writ")
    }
}

/// A text with its line starts, as miette reads it. miette's own `str` source finds a span's
/// lines by scanning from the start of the text, which made rendering N diagnostics of a large
/// file quadratic; this one starts its scan a line before the span's context and answers as if
/// it had scanned from the start (the same lines, columns and counts).
#[derive(Clone, Debug)]
struct Indexed {
    text: Arc<str>,
    lines: Arc<writ_grammar::LineIndex>,
}

impl miette::SourceCode for Indexed {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let first = self.lines.line_of(span.offset()).saturating_sub(context_lines_before + 1);
        let base = self.lines.start_of(first).min(span.offset());
        let rest = self.text.as_bytes().get(base..).unwrap_or_default();
        let local = SourceSpan::new((span.offset() - base).into(), span.len());
        let found = rest.read_span(&local, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new(
            found.data(),
            SourceSpan::new((found.span().offset() + base).into(), found.span().len()),
            found.line() + first,
            found.column(),
            // miette's own sources count lines from the text's start here too (its renderer
            // merges two labels' snippets by comparing this with the next one's line).
            found.line_count() + first,
        )))
    }
}

/// Where `location`'s start is: its file's path, line and column; a file that is not in
/// `sources` is `""` at 1:1.
pub fn place(sources: &[SourceText], location: Location) -> (&str, usize, usize) {
    place_of(sources, location.file, location.span.start)
}

/// The path of `sources[file]` and the line and column of `offset` in it (`""`, 1:1 if absent).
fn place_of(sources: &[SourceText], file: usize, offset: u32) -> (&str, usize, usize) {
    match sources.get(file) {
        Some(s) => {
            let (line, column) = s.line_col(offset);
            (s.path.as_str(), line, column)
        }
        None => ("", 1, 1),
    }
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
    source: NamedSource<Indexed>,
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
                    source: other.named(),
                    text: other.text.clone(),
                    elsewhere: Vec::new(),
                })
            })
            .collect();
        Some(Report {
            diagnostic: diagnostic.clone(),
            source: file.named(),
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
        let (path, line, column) = place(sources, d.location);
        let (_, end_line, end_column) = place_of(sources, d.location.file, d.location.span.end);
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
                    let (path, line, column) = place(sources, r.location);
                    JsonRelated { message: r.message.clone(), file: path.to_string(), line, column }
                })
                .collect(),
            help: d.help.clone(),
            fix: d.replacement.as_ref().map(|r| {
                let (_, line, column) = place(sources, r.location);
                let (_, end_line, end_column) =
                    place_of(sources, r.location.file, r.location.span.end);
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

    proptest::proptest! {
        /// The indexed source answers every span exactly as miette's own `str` source does
        /// (lines and `\r\n` ends; a lone `\r`, which writ does not count as a line end,
        /// is left out of the texts).
        #[test]
        fn the_indexed_source_reads_spans_as_miettes_own(
            text in "(ab|c|\\n|\\r\\n|é| )*",
            start in 0usize..80,
            len in 0usize..20,
            before in 0usize..4,
            after in 0usize..4,
        ) {
            use miette::SourceCode;
            let source = SourceText::new("f.writ".into(), text.as_str().into());
            let indexed = Indexed { text: source.text.clone(), lines: source.lines.clone() };
            let start = floor_char_boundary(&text, start);
            let len = len.min(text.len() - start);
            let span = SourceSpan::new(start.into(), len);
            let theirs = text.as_str().read_span(&span, before, after);
            let ours = indexed.read_span(&span, before, after);
            match (theirs, ours) {
                (Ok(a), Ok(b)) => {
                    proptest::prop_assert_eq!(a.data(), b.data());
                    proptest::prop_assert_eq!(a.span(), b.span());
                    proptest::prop_assert_eq!(a.line(), b.line());
                    proptest::prop_assert_eq!(a.column(), b.column());
                    proptest::prop_assert_eq!(a.line_count(), b.line_count());
                }
                (a, b) => proptest::prop_assert_eq!(a.is_err(), b.is_err()),
            }
        }
    }

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
    fn every_code_has_a_description_and_a_distinct_name() {
        let mut names = std::collections::BTreeSet::new();
        for code in Code::ALL {
            let (name, description) = (code.name(), code.description());
            assert!(!description.is_empty(), "{code} has no doc comment");
            assert_eq!(description, description.trim(), "{code}: the description is trimmed");
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}: a stable name is lowercase snake case"
            );
            assert!(names.insert(name), "two codes are named `{name}`");
        }
        assert_eq!(Code::Syntax.description(), "the text does not parse");
        assert_eq!(Code::ShadowedAllow.severity(), Severity::Warning);
        assert_eq!(Code::UnknownRole.severity(), Severity::Error);
        assert_eq!(Code::ShadowedAllow.to_string(), "writ::shadowed_allow");
    }
}
