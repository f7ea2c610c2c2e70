//! The compiler's editor answers (`writ_compiler::ide`) as LSP values.

use std::collections::HashMap;

use tower_lsp_server::ls_types::{self as lsp, *};
use writ_compiler::diagnostic::Location as Place;
use writ_compiler::ide::Namespace;
use writ_compiler::ide::{self, Analysis, CompletionKind, TokenClass};

use crate::convert::{LineIndex, Positions};
use crate::workspace::{FileId, Workspace};

pub const TOKEN_TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::KEYWORD,
    SemanticTokenType::COMMENT,
    SemanticTokenType::STRING,
    SemanticTokenType::NUMBER,
    SemanticTokenType::OPERATOR,
    SemanticTokenType::CLASS,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::STRUCT,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::NAMESPACE,
    SemanticTokenType::ENUM_MEMBER,
    SemanticTokenType::PARAMETER,
    SemanticTokenType::TYPE,
];

pub const TOKEN_MODIFIERS: &[SemanticTokenModifier] = &[
    SemanticTokenModifier::DECLARATION,
    SemanticTokenModifier::DOCUMENTATION,
    SemanticTokenModifier::DEFAULT_LIBRARY,
];

fn token_type(class: TokenClass) -> (u32, u32) {
    use ide::SymbolKind as K;
    match class {
        TokenClass::Keyword => (0, 0),
        TokenClass::Comment => (1, 0),
        TokenClass::Doc => (1, 0b10),
        TokenClass::String => (2, 0),
        TokenClass::Number => (3, 0),
        TokenClass::Operator => (4, 0),
        TokenClass::Symbol(K::Declared(Namespace::Role)) => (5, 0),
        TokenClass::Symbol(K::Declared(Namespace::Tool)) => (6, 0),
        TokenClass::Symbol(K::Declared(Namespace::Evidence)) => (7, 0),
        TokenClass::Symbol(K::Declared(Namespace::Attribute) | K::Field) => (8, 0),
        TokenClass::Symbol(K::Declared(Namespace::Context) | K::Declared(Namespace::Fixture)) => {
            (9, 0)
        }
        TokenClass::Symbol(K::Declared(Namespace::Workflow)) => (10, 0),
        TokenClass::Symbol(K::Tag) => (11, 0),
        TokenClass::Symbol(K::Argument) => (12, 0),
        TokenClass::Symbol(K::Test) => (2, 0),
        TokenClass::Builtin => (13, 0b100),
    }
}

pub fn semantic_tokens(
    a: &Analysis,
    file: usize,
    text: &str,
    index: &LineIndex,
) -> Vec<SemanticToken> {
    let mut out = Vec::new();
    let (mut line, mut col) = (0u32, 0u32);
    for (span, class, decl) in a.semantic_tokens(file) {
        let start = index.position(text, span.start as usize);
        let end = index.position(text, span.end as usize);
        let backwards = start.line < line || (start.line == line && start.character < col);
        if start.line != end.line || end.character <= start.character || backwards {
            continue;
        }
        let (ty, mut mods) = token_type(class);
        if decl {
            mods |= 1;
        }
        let delta_line = start.line - line;
        let delta_start = if delta_line == 0 { start.character - col } else { start.character };
        out.push(SemanticToken {
            delta_line,
            delta_start,
            length: end.character - start.character,
            token_type: ty,
            token_modifiers_bitset: mods,
        });
        line = start.line;
        col = start.character;
    }
    out
}

/// A compiler place as an LSP location.
pub fn location(ws: &Workspace, program: usize, place: Place) -> Option<lsp::Location> {
    let file = ws.program(program)?.files.get(place.file)?;
    let text = file.input.text(&ws.db);
    Some(lsp::Location {
        uri: file.uri.clone(),
        range: writ_compiler::db::line_index(&ws.db, file.input).range(text, place.span),
    })
}

/// Edits grouped per document.
pub fn workspace_edit(ws: &Workspace, program: usize, edits: &[ide::Edit]) -> WorkspaceEdit {
    let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    for e in edits {
        if let Some(loc) = location(ws, program, e.location) {
            changes
                .entry(loc.uri)
                .or_default()
                .push(TextEdit { range: loc.range, new_text: e.text.clone() });
        }
    }
    WorkspaceEdit { changes: Some(changes), ..Default::default() }
}

pub fn completion_kind(k: CompletionKind) -> CompletionItemKind {
    match k {
        CompletionKind::Keyword => CompletionItemKind::KEYWORD,
        CompletionKind::Role => CompletionItemKind::CLASS,
        CompletionKind::Tool => CompletionItemKind::FUNCTION,
        CompletionKind::Glob => CompletionItemKind::FOLDER,
        CompletionKind::Tag => CompletionItemKind::ENUM_MEMBER,
        CompletionKind::Evidence => CompletionItemKind::STRUCT,
        CompletionKind::Field => CompletionItemKind::FIELD,
        CompletionKind::Argument => CompletionItemKind::VARIABLE,
        CompletionKind::Attribute => CompletionItemKind::PROPERTY,
        CompletionKind::Context => CompletionItemKind::VARIABLE,
        CompletionKind::Workflow => CompletionItemKind::MODULE,
        CompletionKind::Fixture => CompletionItemKind::CONSTANT,
        CompletionKind::Value => CompletionItemKind::VALUE,
    }
}

pub fn symbol_kind(k: Option<ide::SymbolKind>) -> lsp::SymbolKind {
    use ide::SymbolKind as K;
    match k {
        Some(K::Declared(Namespace::Role)) => lsp::SymbolKind::CLASS,
        Some(K::Declared(Namespace::Tool)) => lsp::SymbolKind::FUNCTION,
        Some(K::Declared(Namespace::Evidence)) => lsp::SymbolKind::STRUCT,
        Some(K::Declared(Namespace::Attribute) | K::Field) => lsp::SymbolKind::PROPERTY,
        Some(K::Declared(Namespace::Context)) => lsp::SymbolKind::VARIABLE,
        Some(K::Declared(Namespace::Workflow)) => lsp::SymbolKind::NAMESPACE,
        Some(K::Declared(Namespace::Fixture)) => lsp::SymbolKind::OBJECT,
        Some(K::Test) => lsp::SymbolKind::METHOD,
        Some(K::Tag) => lsp::SymbolKind::ENUM_MEMBER,
        Some(K::Argument) => lsp::SymbolKind::VARIABLE,
        None => lsp::SymbolKind::EVENT,
    }
}

#[allow(deprecated)]
pub fn document_symbol(s: &ide::SymbolInfo, text: &str, index: &LineIndex) -> DocumentSymbol {
    DocumentSymbol {
        name: if s.name.is_empty() { s.detail.clone() } else { s.name.clone() },
        detail: Some(s.detail.clone()),
        kind: symbol_kind(s.kind),
        tags: None,
        deprecated: None,
        range: index.range(text, s.span),
        selection_range: index.range(text, s.selection),
        children: (!s.children.is_empty())
            .then(|| s.children.iter().map(|c| document_symbol(c, text, index)).collect()),
    }
}

pub fn folding(f: ide::Fold, text: &str, index: &LineIndex) -> Option<FoldingRange> {
    let start = index.position(text, f.span.start as usize);
    let end = index.position(text, f.span.end as usize);
    (end.line > start.line).then(|| FoldingRange {
        start_line: start.line,
        end_line: end.line,
        kind: Some(if f.is_comment { FoldingRangeKind::Comment } else { FoldingRangeKind::Region }),
        ..Default::default()
    })
}

/// The file's analysis.
pub fn analysis(ws: &Workspace, id: FileId) -> Analysis<'_> {
    Analysis::new(&ws.db, id.policy)
}
