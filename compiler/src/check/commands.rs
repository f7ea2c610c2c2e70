//! `runs` and `runs only` (LANGUAGE.md §10): `command` arguments matched by command patterns.

use writ_evaluator::ir::{CommandPatternIr, Cond, Operand, PatternItemIr};
use writ_grammar::ast::{CommandPattern, Expr, PatternItem, Span};

use super::{Checker, Scope};
use crate::diagnostic::{Code, Diagnostic};
use crate::symbols::at;
use crate::types::Ty;

impl<'a> Checker<'a> {
    /// `COMMAND runs PATTERN`.
    pub(super) fn runs(
        &mut self,
        command: &Expr,
        op_span: Span,
        pattern: &CommandPattern,
        sc: Scope,
    ) -> Option<Cond> {
        let operand = self.command_operand(command, op_span, "runs", sc);
        let pattern = self.pattern(sc.file, pattern);
        Some(Cond::Runs(operand?, pattern?))
    }

    /// `COMMAND runs only [PATTERN, ...]`: at least one pattern, each checked.
    pub(super) fn runs_only(
        &mut self,
        command: &Expr,
        op_span: Span,
        patterns: &[CommandPattern],
        list_span: Span,
        sc: Scope,
    ) -> Option<Cond> {
        let operand = self.command_operand(command, op_span, "runs only", sc);
        if patterns.is_empty() {
            self.report(
                Diagnostic::new(
                    Code::EmptyPattern,
                    at(sc.file, list_span),
                    "`runs only []` admits no command at all",
                )
                .label("no patterns")
                .help("list the commands to admit: `runs only [[\"git\", \"status\"], [\"ls\", ...]]`"),
            );
            return None;
        }
        let patterns: Vec<Option<CommandPatternIr>> =
            patterns.iter().map(|p| self.pattern(sc.file, p)).collect();
        let patterns: Option<Vec<CommandPatternIr>> = patterns.into_iter().collect();
        Some(Cond::RunsOnly(operand?, patterns?))
    }

    /// The left side of `runs` / `runs only`: a `command` argument.
    fn command_operand(&mut self, e: &Expr, op_span: Span, op: &str, sc: Scope) -> Option<Operand> {
        let v = self.value(e, sc)?;
        if v.ty == Ty::Command {
            return Some(v.operand);
        }
        self.report(
            self.needs(sc.file, e.span, op, "a command", &v.ty)
            .related(
                at(sc.file, op_span),
                format!("`{op}` reads the simple commands of a command line"),
            )
            .help(if v.ty.is_string() {
                "declare the tool's argument as `command` (`tool sh(command: command)`) so that \
                 writ parses it as bash would"
                    .to_string()
            } else {
                format!("`{op}` takes a `command` argument on the left")
            }),
        );
        None
    }

    /// A command pattern, checked: at least one item.
    fn pattern(&mut self, file: usize, pattern: &CommandPattern) -> Option<CommandPatternIr> {
        if pattern.items.is_empty() {
            self.report(
                Diagnostic::new(Code::EmptyPattern, at(file, pattern.span), "an empty command pattern")
                    .label("matches no command")
                    .help("a pattern lists words: `[\"git\", \"push\", ...]`; `...` stands for any number of words"),
            );
            return None;
        }
        Some(CommandPatternIr {
            items: pattern
                .items
                .iter()
                .map(|item| match item {
                    PatternItem::Word(w) => PatternItemIr::Word(w.value.clone()),
                    PatternItem::Rest(_) => PatternItemIr::Rest,
                })
                .collect(),
        })
    }
}

/// The help for a command used as text: use `runs` (or `runs only`), with the words given
/// (`command == "git push"`) turned into a pattern.
pub(super) fn command_help<'w>(words: impl Iterator<Item = &'w str>) -> String {
    let items: Vec<String> =
        words.filter(|w| *w != "*").map(|w| writ_grammar::quote(w.trim_end_matches('*'))).collect();
    let pattern = if items.is_empty() {
        "[\"git\", \"push\", ...]".to_string()
    } else {
        format!("[{}, ...]", items.join(", "))
    };
    format!(
        "a command is matched by the simple commands it runs, never by its text: write \
         `command runs {pattern}` (in a deny) or `command runs only [{pattern}]` (in an allow)"
    )
}
