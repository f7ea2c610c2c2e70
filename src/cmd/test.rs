//! `writ test`: run the `test` blocks of a policy through the real evaluator.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use serde_json::Value as Json;
use writ_compiler::diagnostic::place;
use writ_compiler::test_blocks::{TestCase, TestExpectation};
use writ_evaluator::ir::PolicyIr;
use writ_evaluator::{Policy, Trace, TraceStep, Tri};

use crate::output::{self, FAILED, OK, USAGE};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TestFormat {
    Human,
    Json,
    /// JUnit XML, as GitHub, GitLab and Jenkins read it.
    Junit,
    /// SARIF 2.1.0: each failing expectation is a result at its line.
    Sarif,
    /// GitHub Actions workflow commands: an annotation per failing expectation.
    Github,
}

struct Options<'a> {
    pub path: &'a Path,
    pub format: TestFormat,
    pub filter: Option<&'a str>,
    pub coverage: bool,
    pub coverage_min: Option<f64>,
}

/// The result of one expectation.
#[derive(Serialize)]
struct ExpectationResult {
    text: String,
    file: String,
    line: usize,
    column: usize,
    expected: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_missing: Option<Vec<String>>,
    actual: Json,
    passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<Json>,
    #[serde(skip)]
    trace_text: Option<String>,
}

#[derive(Serialize)]
struct TestResult {
    name: String,
    file: String,
    line: usize,
    passed: bool,
    expectations: Vec<ExpectationResult>,
}

#[derive(Serialize)]
struct UncoveredRule {
    id: String,
    file: String,
    line: u32,
    text: String,
}

#[derive(Serialize)]
struct Coverage {
    rules: usize,
    covered: usize,
    percent: f64,
    uncovered: Vec<UncoveredRule>,
    /// `--coverage-min`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    minimum: Option<f64>,
    /// Whether `percent` is below `minimum` (so the run fails).
    below_minimum: bool,
}

impl Coverage {
    /// `coverage 62.5% is below the minimum of 80% (5 of 8 rules exercised)`, when it is.
    fn shortfall(&self) -> Option<String> {
        let minimum = self.minimum.filter(|_| self.below_minimum)?;
        Some(format!(
            "coverage {:.1}% is below the minimum of {minimum}% ({} of {} rules exercised)",
            self.percent, self.covered, self.rules
        ))
    }
}

#[derive(Serialize)]
struct Report {
    passed: usize,
    failed: usize,
    tests: Vec<TestResult>,
    /// The assertions' claims (§11), as `writ verify --format json` prints them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    assertions: Vec<Json>,
    /// Claims that fail or are unknown.
    #[serde(skip_serializing_if = "is_zero")]
    assertions_failed: usize,
    #[serde(skip)]
    checked: crate::cmd::verify::Checked,
    #[serde(skip_serializing_if = "Option::is_none")]
    coverage: Option<Coverage>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Rules whose step in a trace shows that they took effect.
fn exercised(trace: &Trace, into: &mut BTreeSet<String>) {
    for step in &trace.steps {
        match step {
            TraceStep::Deny { rule, applies: true, .. }
            | TraceStep::DenyStart { rule, applies: true, .. }
            | TraceStep::Allow { rule, matches: true, .. }
            | TraceStep::Start { rule, matches: true, .. }
            | TraceStep::RequireFor { rule, applies: true, .. } => {
                into.insert(rule.id.clone());
            }
            TraceStep::Entitlement { tried, .. } => {
                for t in tried.iter().filter(|t| t.result == Tri::True) {
                    into.insert(t.rule.id.clone());
                }
            }
            _ => {}
        }
    }
}

/// Every rule of the policy, as (id, file, line, text).
fn all_rules(ir: &PolicyIr) -> Vec<&writ_evaluator::ir::RuleMeta> {
    let mut out = Vec::new();
    for r in &ir.roles {
        out.extend(r.entitlements.iter().map(|e| &e.meta));
    }
    let sets = std::iter::once(&ir.guardrails).chain(ir.workflows.iter().map(|w| &w.rules));
    for w in &ir.workflows {
        out.extend(w.starts.iter().map(|s| &s.meta));
        out.extend(w.allows.iter().map(|a| &a.meta));
    }
    for set in sets {
        out.extend(set.denies.iter().map(|d| &d.meta));
        out.extend(set.deny_starts.iter().map(|d| &d.meta));
        out.extend(set.requires.iter().map(|r| &r.meta));
    }
    out.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    out
}

fn run_expectation(
    policy: &Policy,
    e: &TestExpectation,
    sources: &[writ_compiler::SourceText],
    covered: &mut BTreeSet<String>,
) -> ExpectationResult {
    let (file, line, column) = place(sources, e.location);
    let expected_missing = e.missing.clone();
    // Whether it passed is decided in one place, shared with the editors' "run test" lens.
    let run = writ_compiler::test_blocks::run::run_expectation(policy, e);
    if let Some(trace) = &run.trace {
        exercised(trace, covered);
    }
    let passed = run.passed;
    let trace = run.trace;
    let actual = match (&run.decision, &run.why) {
        (Some(decision), _) => decision.to_value(),
        // The compiler builds these requests; one that does not decode is a bug in writ.
        (None, why) => serde_json::json!({"error": why.as_deref().unwrap_or("")}),
    };
    ExpectationResult {
        text: e.text.clone(),
        file: file.to_string(),
        line,
        column,
        expected: writ_compiler::test_blocks::run::outcome_name(e.outcome).to_string(),
        expected_missing,
        actual,
        passed,
        request: (!passed).then(|| serde_json::from_str(&e.request).unwrap_or(Json::Null)),
        explain: (!passed)
            .then(|| trace.as_ref().and_then(|t| serde_json::to_value(t).ok()))
            .flatten(),
        trace_text: (!passed).then(|| trace.map(|t| t.to_string())).flatten(),
    }
}

/// `writ test [PATH] [--format F] [--filter TEXT] [--coverage] [--coverage-min PERCENT]`.
#[derive(clap::Args)]
pub struct Args {
    /// The policy: a `.writ` file or a directory of them. Default: the current directory.
    path: Option<std::path::PathBuf>,
    #[arg(long, value_enum, default_value_t = TestFormat::Human)]
    format: TestFormat,
    /// Run only the tests (and assertions) whose name contains this text; a filter that
    /// matches nothing is an error (exit 2).
    #[arg(long)]
    filter: Option<String>,
    /// Report the rules no test exercised.
    #[arg(long)]
    coverage: bool,
    /// Fail when fewer than this percentage of the rules were exercised (implies --coverage).
    #[arg(long, value_name = "PERCENT", value_parser = percent)]
    coverage_min: Option<f64>,
}

fn percent(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("expected a percentage from 0 to 100, found `{text}`")),
    }
}

pub fn run(args: &Args) -> u8 {
    let path = args.path.clone().unwrap_or_else(|| ".".into());
    run_with(&Options {
        path: &path,
        format: args.format,
        filter: args.filter.as_deref(),
        coverage: args.coverage,
        coverage_min: args.coverage_min,
    })
}

fn run_with(options: &Options) -> u8 {
    let compiler = match output::compile(options.path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let policy = match output::require_policy(&compiler, options.path) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let sources = output::display_sources(&compiler, options.path);
    let compilation = compiler.compilation();
    let mut covered = BTreeSet::new();
    let tests: Vec<TestResult> = compilation
        .tests
        .iter()
        .filter(|t| options.filter.is_none_or(|f| t.name.contains(f)))
        .map(|t| run_test(&policy, t, &sources, &mut covered))
        .collect();
    // The assertions run with the tests (a filter selects them by name too); the rules they
    // are decided against count as exercised.
    let mut checked = crate::cmd::verify::Checked::run(&compiler, &policy, &sources);
    if let Some(filter) = options.filter {
        checked.retain(|r| r.assert.contains(filter));
    }
    for r in &checked.results {
        covered.extend(r.exercised.iter().cloned());
    }
    if let Some(filter) = options.filter
        && tests.is_empty()
        && checked.results.is_empty()
    {
        // A typo in a filter must not pass as a green run.
        let names: Vec<String> =
            compilation.tests.iter().take(5).map(|t| format!("{:?}", t.name)).collect();
        let more = compilation.tests.len().saturating_sub(names.len());
        output::error(format!(
            "no test name contains `{filter}` (`--filter`); the policy's tests are {}{}",
            if names.is_empty() { "none".to_string() } else { names.join(", ") },
            if more > 0 { format!(" and {more} more") } else { String::new() }
        ));
        return USAGE;
    }
    let passed = tests.iter().filter(|t| t.passed).count();
    let failed = tests.len() - passed;
    let coverage = (options.coverage || options.coverage_min.is_some())
        .then(|| coverage(policy.ir(), &covered, options.coverage_min, options.path));
    let assertions_failed = checked.results.iter().filter(|r| !r.verdict.holds()).count();
    let assertions = checked.results.iter().map(|r| r.json()).collect();
    let report = Report { passed, failed, tests, assertions, assertions_failed, checked, coverage };
    match options.format {
        TestFormat::Human => print!("{}", human(&report, options)),
        TestFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                output::error(e);
                return USAGE;
            }
        },
        TestFormat::Junit => print!("{}", junit(&report)),
        TestFormat::Sarif => {
            match serde_json::to_string_pretty(&crate::ci::sarif(&findings(&report))) {
                Ok(s) => println!("{s}"),
                Err(e) => {
                    output::error(e);
                    return USAGE;
                }
            }
        }
        TestFormat::Github => print!("{}", crate::ci::github(&findings(&report))),
    }
    let below_min = report.coverage.as_ref().is_some_and(|c| c.below_minimum);
    if report.failed > 0 || report.assertions_failed > 0 || below_min { FAILED } else { OK }
}

fn run_test(
    policy: &Policy,
    t: &TestCase,
    sources: &[writ_compiler::SourceText],
    covered: &mut BTreeSet<String>,
) -> TestResult {
    let (file, line, _) = place(sources, t.location);
    let expectations: Vec<ExpectationResult> =
        t.expectations.iter().map(|e| run_expectation(policy, e, sources, covered)).collect();
    TestResult {
        name: t.name.clone(),
        file: file.to_string(),
        line,
        passed: expectations.iter().all(|e| e.passed),
        expectations,
    }
}

fn coverage(
    ir: &PolicyIr,
    covered: &BTreeSet<String>,
    minimum: Option<f64>,
    policy: &Path,
) -> Coverage {
    let rules = all_rules(ir);
    let uncovered: Vec<UncoveredRule> = rules
        .iter()
        .filter(|r| !covered.contains(&r.id))
        .map(|r| UncoveredRule {
            id: r.id.clone(),
            file: output::display_path(policy, &r.file),
            line: r.line,
            text: r.text.clone(),
        })
        .collect();
    let total = rules.len();
    let hit = total - uncovered.len();
    let percent = if total == 0 { 100.0 } else { (hit as f64) * 100.0 / (total as f64) };
    let percent = (percent * 10.0).round() / 10.0;
    let below_minimum = minimum.is_some_and(|m| percent < m);
    Coverage { rules: total, covered: hit, percent, uncovered, minimum, below_minimum }
}

fn describe_actual(actual: &Json) -> String {
    if let Some(err) = actual.get("error").and_then(Json::as_str) {
        return format!("error: {err}");
    }
    let mut s = actual["decision"].as_str().unwrap_or("?").to_string();
    let missing: Vec<&str> = actual["missing"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["evidence"].as_str())
        .collect();
    if !missing.is_empty() {
        s.push_str(&format!(" (missing {})", missing.join(", ")));
    }
    for r in actual["reasons"].as_array().into_iter().flatten().filter_map(Json::as_str) {
        s.push_str(&format!("\n                {r}"));
    }
    s
}

fn human(report: &Report, options: &Options) -> String {
    let mut out = String::new();
    for t in &report.tests {
        let n = t.expectations.len();
        if t.passed {
            out.push_str(&format!(
                "test {:?} ... ok ({n} expectation{})\n",
                t.name,
                if n == 1 { "" } else { "s" }
            ));
            continue;
        }
        out.push_str(&format!("test {:?} ... FAILED\n", t.name));
        for e in t.expectations.iter().filter(|e| !e.passed) {
            let expected = match &e.expected_missing {
                Some(m) => format!("{} (missing {})", e.expected, m.join(", ")),
                None => e.expected.clone(),
            };
            out.push_str(&format!("  {}:{}:{}: {}\n", e.file, e.line, e.column, e.text));
            out.push_str(&format!("    expected: {expected}\n"));
            out.push_str(&format!("    actual:   {}\n", describe_actual(&e.actual)));
            if let Some(req) = &e.request {
                out.push_str(&format!("    request:  {req}\n"));
            }
            if let Some(trace) = &e.trace_text {
                out.push_str("    trace:\n");
                for line in trace.lines() {
                    out.push_str(&format!("      {line}\n"));
                }
            }
        }
    }
    if let Some(c) = &report.coverage {
        out.push_str(&format!(
            "\ncoverage: {} of {} rules exercised ({:.1}%)\n",
            c.covered, c.rules, c.percent
        ));
        let mut by_file: BTreeMap<&str, Vec<&UncoveredRule>> = BTreeMap::new();
        for u in &c.uncovered {
            by_file.entry(&u.file).or_default().push(u);
        }
        for (file, rules) in by_file {
            out.push_str(&format!("  {file}: not exercised\n"));
            for r in rules {
                out.push_str(&format!("    line {}: {} `{}`\n", r.line, r.id, r.text));
            }
        }
        if let Some(shortfall) = c.shortfall() {
            out.push_str(&format!("{shortfall}\n"));
        }
    }
    if !report.checked.results.is_empty() {
        out.push('\n');
        out.push_str(&report.checked.human());
    }
    if report.tests.is_empty() {
        out.push_str(match options.filter {
            Some(_) => "no test matches the filter\n",
            None => "the policy has no tests\n",
        });
    }
    out.push_str(&format!("\n{} passed, {} failed\n", report.passed, report.failed));
    out
}

/// Failing expectations as CI findings.
fn findings(report: &Report) -> Vec<crate::ci::Finding> {
    let mut out = Vec::new();
    for t in &report.tests {
        for e in t.expectations.iter().filter(|e| !e.passed) {
            let expected = match &e.expected_missing {
                Some(m) => format!("{} (missing {})", e.expected, m.join(", ")),
                None => e.expected.clone(),
            };
            let actual = describe_actual(&e.actual).replace("\n                ", "; ");
            out.push(crate::ci::Finding {
                rule_id: "writ::test_failed".into(),
                rule_description: "a policy test expectation that does not hold".into(),
                level: crate::ci::Level::Error,
                message: format!("test {:?}: expected {expected}, got {actual}", t.name),
                file: e.file.clone(),
                line: e.line,
                column: e.column,
                end_line: e.line,
                end_column: e.column + e.text.chars().count(),
                related: Vec::new(),
            });
        }
    }
    out.extend(report.checked.findings());
    if let Some(c) = &report.coverage
        && let Some(shortfall) = c.shortfall()
    {
        // Annotated on the first rule no test exercises, listing them all.
        let first = c.uncovered.first();
        let ids: Vec<&str> = c.uncovered.iter().map(|u| u.id.as_str()).collect();
        out.push(crate::ci::Finding {
            rule_id: "writ::coverage_below_minimum".into(),
            rule_description: "policy tests exercise fewer rules than `--coverage-min` asks".into(),
            level: crate::ci::Level::Error,
            message: format!("{shortfall}; not exercised: {}", ids.join(", ")),
            file: first.map(|u| u.file.clone()).unwrap_or_default(),
            line: first.map_or(1, |u| u.line as usize),
            column: 1,
            end_line: first.map_or(1, |u| u.line as usize),
            end_column: 1,
            related: Vec::new(),
        });
    }
    out
}

pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

fn junit(report: &Report) -> String {
    // A coverage shortfall is one more failing test case, in a suite of its own.
    let short = report.coverage.as_ref().is_some_and(|c| c.below_minimum);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"writ\" tests=\"{}\" failures=\"{}\">\n",
        report.tests.len() + usize::from(short) + report.checked.results.len(),
        report.failed + usize::from(short) + report.assertions_failed
    ));
    let mut by_file: BTreeMap<&str, Vec<&TestResult>> = BTreeMap::new();
    for t in &report.tests {
        by_file.entry(&t.file).or_default().push(t);
    }
    for (file, tests) in by_file {
        let failures = tests.iter().filter(|t| !t.passed).count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">\n",
            xml_escape(file),
            tests.len()
        ));
        for t in tests {
            out.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\"",
                xml_escape(&t.name),
                xml_escape(file),
                xml_escape(file),
                t.line
            ));
            if t.passed {
                out.push_str("/>\n");
                continue;
            }
            out.push_str(">\n");
            for e in t.expectations.iter().filter(|e| !e.passed) {
                let message = format!(
                    "{}:{}: expected {}, got {}",
                    e.file,
                    e.line,
                    e.expected,
                    e.actual.get("decision").and_then(|d| d.as_str()).unwrap_or("an error")
                );
                let mut body = format!("{}\nactual: {}\n", e.text, describe_actual(&e.actual));
                if let Some(trace) = &e.trace_text {
                    body.push_str(trace);
                }
                out.push_str(&format!(
                    "      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
                    xml_escape(&message),
                    e.expected,
                    xml_escape(&body)
                ));
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str(&report.checked.junit(report.assertions_failed));
    if let Some(c) = &report.coverage
        && let Some(shortfall) = c.shortfall()
    {
        let ids: Vec<&str> = c.uncovered.iter().map(|u| u.id.as_str()).collect();
        out.push_str(
            "  <testsuite name=\"writ coverage\" tests=\"1\" failures=\"1\" errors=\"0\">\n",
        );
        out.push_str(&format!(
            "    <testcase name=\"coverage\" classname=\"writ coverage\">\n      <failure message=\"{}\" type=\"coverage\">not exercised: {}</failure>\n    </testcase>\n",
            xml_escape(&shortfall),
            xml_escape(&ids.join(", "))
        ));
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
