//! Rendering diagnostics and errors for people and machines.

use std::io::IsTerminal;
use std::path::Path;

use miette::{GraphicalReportHandler, GraphicalTheme};
use writ_compiler::{Compilation, Compiler, Diagnostic, JsonDiagnostic, Report, SourceText};

/// Exit codes shared by every command.
pub const OK: u8 = 0;
pub const FAILED: u8 = 1;
pub const USAGE: u8 = 2;

/// Prints `error: MESSAGE` on standard error.
pub fn error(message: impl std::fmt::Display) {
    eprintln!("error: {message}");
}

/// The policy's sources with the paths a user can open: `DIR/RELATIVE` for a directory
/// policy, the path as given for a single file. (Rule ids and the policy digest keep the
/// policy-relative paths.) The compiler's, shared with the bindings.
pub fn display_sources(compiler: &Compiler, policy: &Path) -> Vec<SourceText> {
    compiler.display_sources(policy)
}

pub use writ_compiler::load::display_path;

/// Diagnostics as CI findings.
pub fn findings(diagnostics: &[Diagnostic], sources: &[SourceText]) -> Vec<crate::ci::Finding> {
    json_diagnostics(diagnostics, sources)
        .into_iter()
        .zip(diagnostics)
        .map(|(j, d)| crate::ci::Finding {
            rule_id: d.code.to_string(),
            rule_description: d.code.description().to_string(),
            level: if d.is_error() { crate::ci::Level::Error } else { crate::ci::Level::Warning },
            message: match &j.help {
                Some(help) => format!("{} (help: {help})", j.message),
                None => j.message.clone(),
            },
            file: j.file,
            line: j.line,
            column: j.column,
            end_line: j.end_line,
            end_column: j.end_column,
            related: j
                .related
                .into_iter()
                .map(|r| crate::ci::RelatedPlace {
                    message: r.message,
                    file: r.file,
                    line: r.line,
                    column: r.column,
                })
                .collect(),
        })
        .collect()
}

/// Loads and compiles a policy; `Err(exit code)` after printing an I/O error.
pub fn compile(path: &Path) -> Result<Compiler, u8> {
    Compiler::load(path).map_err(|e| {
        error(format_args!("cannot read policy `{}`: {e}", path.display()));
        USAGE
    })
}

fn handler(color: bool) -> GraphicalReportHandler {
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    GraphicalReportHandler::new_themed(theme).with_width(100)
}

/// Renders diagnostics as miette's graphical reports (file:line:column and source snippets).
pub fn render_human(diagnostics: &[Diagnostic], sources: &[SourceText], color: bool) -> String {
    let handler = handler(color);
    let mut out = String::new();
    for d in diagnostics {
        if let Some(report) = Report::new(d, sources) {
            let mut text = String::new();
            if handler.render_report(&mut text, &report).is_ok() {
                out.push_str(&text);
                if !text.ends_with('\n') {
                    out.push('\n');
                }
            }
        }
    }
    out
}

pub fn json_diagnostics(diagnostics: &[Diagnostic], sources: &[SourceText]) -> Vec<JsonDiagnostic> {
    diagnostics.iter().map(|d| JsonDiagnostic::new(d, sources)).collect()
}

/// Whether colour suits standard error (a terminal, and `NO_COLOR` unset).
pub fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

pub fn stdout_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// "2 errors, 1 warning"
pub fn summary(compilation: &Compilation) -> String {
    let errors = compilation.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = compilation.diagnostics.len() - errors;
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!("{}, {}", plural(errors, "error"), plural(warnings, "warning"))
}

/// For commands that need a compiled policy: prints its diagnostics on standard error and
/// returns the exit code when it has errors.
pub fn require_policy(compiler: &Compiler, path: &Path) -> Result<writ_evaluator::Policy, u8> {
    let compilation = compiler.compilation();
    let Some(ir) = &compilation.policy else {
        let sources = display_sources(compiler, path);
        let errors: Vec<Diagnostic> =
            compilation.diagnostics.iter().filter(|d| d.is_error()).cloned().collect();
        eprint!("{}", render_human(&errors, &sources, stderr_color()));
        error(format_args!("policy `{}` has errors ({})", path.display(), summary(compilation)));
        return Err(FAILED);
    };
    writ_evaluator::Policy::from_ir(ir.clone()).map_err(|e| {
        error(format_args!("policy `{}` could not be loaded: {e}", path.display()));
        FAILED
    })
}
