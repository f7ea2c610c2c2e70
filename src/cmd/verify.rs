//! `writ verify`: decide every assertion's claims (LANGUAGE.md §11) over every request, with the
//! compiler's decision procedure (`writ_compiler::verify`). `writ test` runs them too, through
//! [`Checked`].

use serde_json::Value as Json;
use writ_compiler::diagnostic::place;
use writ_compiler::verify::{ClaimResult, Verdict};
use writ_compiler::{Compiler, SourceText};
use writ_evaluator::Policy;

use crate::output::{self, FAILED, OK, USAGE};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum VerifyFormat {
    Human,
    /// The JSON array of §11: one object per claim, in source order.
    Json,
    /// SARIF 2.1.0: each claim that fails or is unknown is a result at its line.
    Sarif,
    /// GitHub Actions workflow commands: an annotation per claim that fails or is unknown.
    Github,
}

/// The claims of a policy, decided, with where each was written.
pub struct Checked {
    pub results: Vec<ClaimResult>,
    /// File (as shown to the user), line and column of each claim.
    pub places: Vec<(String, usize, usize)>,
}

impl Checked {
    /// Decides every claim of a compiled policy.
    pub fn run(compiler: &Compiler, policy: &Policy, sources: &[SourceText]) -> Checked {
        let results = writ_compiler::verify::verify(policy, &compiler.compilation().assertions);
        let places = results
            .iter()
            .map(|r| {
                let (file, line, column) = place(sources, r.location);
                (file.to_string(), line, column)
            })
            .collect();
        Checked { results, places }
    }

    /// Keeps the claims `keep` accepts.
    pub fn retain(&mut self, keep: impl Fn(&ClaimResult) -> bool) {
        let (results, places): (Vec<_>, Vec<_>) = std::mem::take(&mut self.results)
            .into_iter()
            .zip(std::mem::take(&mut self.places))
            .filter(|(r, _)| keep(r))
            .unzip();
        self.results = results;
        self.places = places;
    }

    /// A JUnit test suite `writ assertions`, one test case per claim (empty without claims).
    pub fn junit(&self, failures: usize) -> String {
        use crate::cmd::test::xml_escape;
        if self.results.is_empty() {
            return String::new();
        }
        let mut out = format!(
            "  <testsuite name=\"writ assertions\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">\n",
            self.results.len()
        );
        for (r, (file, line, _)) in self.results.iter().zip(&self.places) {
            out.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"writ assertions\" file=\"{}\" line=\"{line}\"",
                xml_escape(&format!("{} (claim {})", r.assert, r.claim)),
                xml_escape(file),
            ));
            if r.verdict.holds() {
                out.push_str("/>\n");
                continue;
            }
            let mut body = format!("{}\n{}\n", r.text, r.reason);
            if let Verdict::Fails { counterexample, .. } = &r.verdict {
                body.push_str(&format!("counterexample: {counterexample}\n"));
            }
            out.push_str(&format!(
                ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                xml_escape(&format!("claim {}", r.verdict.word())),
                r.verdict.word(),
                xml_escape(&body)
            ));
        }
        out.push_str("  </testsuite>\n");
        out
    }

    pub fn all_hold(&self) -> bool {
        self.results.iter().all(|r| r.verdict.holds())
    }

    /// Counts of holds, fails and unknown.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |w: &str| self.results.iter().filter(|r| r.verdict.word() == w).count();
        (count("holds"), count("fails"), count("unknown"))
    }

    /// The §11 JSON array.
    pub fn json(&self) -> Json {
        Json::Array(self.results.iter().map(ClaimResult::json).collect())
    }

    /// One block per claim: `assert "NAME" claim N ... holds`, and for the others where it
    /// was written, why, and the counterexample.
    pub fn human(&self) -> String {
        let mut out = String::new();
        for (r, (file, line, column)) in self.results.iter().zip(&self.places) {
            let word = match r.verdict {
                Verdict::Holds => "holds",
                Verdict::Fails { .. } => "FAILS",
                Verdict::Unknown { .. } => "UNKNOWN",
            };
            out.push_str(&format!("assert {:?} claim {} ... {word}\n", r.assert, r.claim));
            if r.verdict.holds() {
                continue;
            }
            out.push_str(&format!("  {file}:{line}:{column}: {}\n", r.text));
            out.push_str(&format!("    {}\n", r.reason));
            if let Verdict::Fails { counterexample, .. } = &r.verdict {
                out.push_str("    counterexample:\n");
                let text = serde_json::to_string_pretty(counterexample).unwrap_or_default();
                for l in text.lines() {
                    out.push_str(&format!("      {l}\n"));
                }
            }
        }
        let (holds, fails, unknown) = self.counts();
        out.push_str(&format!("\n{holds} hold, {fails} fail, {unknown} unknown\n"));
        out
    }

    /// Claims that fail or are unknown, as CI findings.
    pub fn findings(&self) -> Vec<crate::ci::Finding> {
        let mut out = Vec::new();
        for (r, (file, line, column)) in self.results.iter().zip(&self.places) {
            let (rule_id, rule_description, message) = match &r.verdict {
                Verdict::Holds => continue,
                Verdict::Fails { counterexample, .. } => (
                    "writ::assertion_fails",
                    "an assertion's claim that some request breaks",
                    format!(
                        "assertion {:?} claim {} fails: {}; counterexample: {counterexample}",
                        r.assert, r.claim, r.reason
                    ),
                ),
                Verdict::Unknown { reason } => (
                    "writ::assertion_unknown",
                    "an assertion's claim that writ could not decide",
                    format!("assertion {:?} claim {} is unknown: {reason}", r.assert, r.claim),
                ),
            };
            out.push(crate::ci::Finding {
                rule_id: rule_id.into(),
                rule_description: rule_description.into(),
                level: crate::ci::Level::Error,
                message,
                file: file.clone(),
                line: *line,
                column: *column,
                end_line: *line,
                end_column: column + r.text.chars().count(),
                related: Vec::new(),
            });
        }
        out
    }
}

/// `writ verify PATH [--format F]`.
#[derive(clap::Args)]
pub struct Args {
    /// A `.writ` file or a directory of them.
    path: std::path::PathBuf,
    #[arg(long, value_enum, default_value_t = VerifyFormat::Human)]
    format: VerifyFormat,
}

pub fn run(args: &Args) -> u8 {
    let (path, format) = (args.path.as_path(), args.format);
    let compiler = match output::compile(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Policy errors are exit 2 here (§11): 1 says a claim did not hold.
    let policy = match output::require_policy(&compiler, path) {
        Ok(p) => p,
        Err(_) => return USAGE,
    };
    let sources = output::display_sources(&compiler, path);
    let checked = Checked::run(&compiler, &policy, &sources);
    let printed = match format {
        VerifyFormat::Human => Ok(checked.human()),
        VerifyFormat::Json => serde_json::to_string_pretty(&checked.json()).map(|s| s + "\n"),
        VerifyFormat::Sarif => {
            serde_json::to_string_pretty(&crate::ci::sarif(&checked.findings())).map(|s| s + "\n")
        }
        VerifyFormat::Github => Ok(crate::ci::github(&checked.findings())),
    };
    match printed {
        Ok(text) => print!("{text}"),
        Err(e) => {
            output::error(e);
            return USAGE;
        }
    }
    if checked.all_hold() { OK } else { FAILED }
}
