//! The compiler's diagnostics as LSP diagnostics, per file.

use tower_lsp_server::ls_types::{
    self as lsp, DiagnosticRelatedInformation, DiagnosticSeverity, DiagnosticTag, Location,
    NumberOrString, Uri,
};
use writ_compiler::{Code, Severity};

use crate::convert::{LineIndex, Positions};
use crate::workspace::Workspace;

/// Every file of a program with its diagnostics (an empty list clears a file's diagnostics).
pub fn program_diagnostics(ws: &Workspace, program: usize) -> Vec<(Uri, Vec<lsp::Diagnostic>)> {
    let Some(prog) = ws.program(program) else { return Vec::new() };
    let compilation = writ_compiler::compile(&ws.db, prog.policy);
    let texts: Vec<&str> = prog.files.iter().map(|f| f.input.text(&ws.db).as_str()).collect();
    // Each file's line starts, as the compiler keeps them (built again only for edited files).
    let indexes: Vec<&LineIndex> =
        prog.files.iter().map(|f| writ_compiler::db::line_index(&ws.db, f.input)).collect();
    let mut out: Vec<(Uri, Vec<lsp::Diagnostic>)> =
        prog.files.iter().map(|f| (f.uri.clone(), Vec::new())).collect();
    for d in &compilation.diagnostics {
        let file = d.location.file;
        let (Some(text), Some(index)) = (texts.get(file), indexes.get(file)) else { continue };
        let range = index.range(text, d.location.span);
        let mut related = Vec::new();
        for r in &d.related {
            let at = r.location.file;
            let (Some(other), Some(index), Some(other_uri)) =
                (texts.get(at), indexes.get(at), prog.files.get(at).map(|f| &f.uri))
            else {
                continue;
            };
            let range = index.range(other, r.location.span);
            related.push(DiagnosticRelatedInformation {
                location: Location { uri: other_uri.clone(), range },
                message: r.message.clone(),
            });
        }
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        let diagnostic = lsp::Diagnostic {
            range,
            severity: Some(match d.severity() {
                Severity::Error => DiagnosticSeverity::ERROR,
                Severity::Warning => DiagnosticSeverity::WARNING,
            }),
            code: Some(NumberOrString::String(d.code.to_string())),
            source: Some("writ".to_string()),
            message,
            related_information: (!related.is_empty()).then_some(related),
            tags: (d.code == Code::UnusedDeclaration).then(|| vec![DiagnosticTag::UNNECESSARY]),
            ..Default::default()
        };
        if let Some((_, diagnostics)) = out.get_mut(file) {
            diagnostics.push(diagnostic);
        }
    }
    out
}
