//! The compiler's diagnostics as LSP diagnostics, per file.

use std::collections::HashMap;

use tower_lsp_server::ls_types::{
    self as lsp, DiagnosticRelatedInformation, DiagnosticSeverity, DiagnosticTag, Location,
    NumberOrString, Uri,
};
use writ_compiler::{Code, Severity};

use crate::convert::LineIndex;
use crate::workspace::Workspace;

/// Every file of a program with its diagnostics (an empty list clears a file's diagnostics).
pub fn program_diagnostics(ws: &Workspace, program: usize) -> Vec<(Uri, Vec<lsp::Diagnostic>)> {
    let Some(prog) = ws.program(program) else { return Vec::new() };
    let compilation = writ_compiler::compile(&ws.db, prog.policy);
    let texts: Vec<&str> = prog.files.iter().map(|f| f.input.text(&ws.db).as_str()).collect();
    let mut indexes: HashMap<usize, LineIndex> = HashMap::new();
    let mut out: Vec<(Uri, Vec<lsp::Diagnostic>)> =
        prog.files.iter().map(|f| (f.uri.clone(), Vec::new())).collect();
    for d in &compilation.diagnostics {
        let file = d.location.file;
        let Some(text) = texts.get(file) else { continue };
        let range = indexes
            .entry(file)
            .or_insert_with(|| LineIndex::new(text))
            .range(text, d.location.span);
        let mut related = Vec::new();
        for r in &d.related {
            let (Some(other), Some(other_uri)) =
                (texts.get(r.location.file), prog.files.get(r.location.file).map(|f| &f.uri))
            else {
                continue;
            };
            let range = indexes
                .entry(r.location.file)
                .or_insert_with(|| LineIndex::new(other))
                .range(other, r.location.span);
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
