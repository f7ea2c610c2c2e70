//! The salsa database: source files come in as inputs; everything else is a query.
//!
//! invariant: queries never do IO. Files are read by the caller ([`crate::load`]) and set as
//! inputs, so the same database serves the CLI, tests and the language server.

use writ_evaluator::ir::PolicyIr;
use writ_grammar::ast;

use crate::check::{Input, check};
use crate::diagnostic::{Code, Diagnostic, Location, SourceText};
use crate::test_blocks::TestCase;

/// One source file of a policy.
#[salsa::input]
pub struct PolicyFile {
    /// Relative to the policy directory (or the file's name), with `/` separators.
    #[returns(ref)]
    pub path: String,
    #[returns(ref)]
    pub text: String,
    /// What the last parse of this file can lend the next one (never set, only used by
    /// [`parse`]: it changes how fast a parse is, never what it returns).
    #[default]
    #[returns(ref)]
    reuse: ParseReuse,
}

/// The declarations of a file's last parse, for [`parse`] to take unchanged ones from.
#[derive(Clone, Default)]
pub struct ParseReuse(std::sync::Arc<std::sync::Mutex<writ_grammar::Reuse>>);

impl std::fmt::Debug for ParseReuse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ParseReuse")
    }
}

/// Any two are equal: what a reuse holds never changes what [`parse`] returns.
impl PartialEq for ParseReuse {
    fn eq(&self, _: &ParseReuse) -> bool {
        true
    }
}

impl Eq for ParseReuse {}

/// The compiler's input for one policy: its files in source order (the byte order of their
/// paths). Not to be confused with `writ_evaluator::Policy`, the compiled policy that decides.
#[salsa::input]
pub struct PolicyInput {
    #[returns(ref)]
    pub files: Vec<PolicyFile>,
}

/// The result of compiling a whole policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Compilation {
    /// Errors and warnings, ordered by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// The lowered policy; `None` when there are errors.
    pub policy: Option<PolicyIr>,
    /// The policy's tests, lowered to requests.
    pub tests: Vec<TestCase>,
    /// The policy's assertions, lowered (§11); empty when there are errors.
    pub assertions: Vec<crate::verify::Assertion>,
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses one file. Never fails: syntax errors are part of the tree.
#[salsa::tracked(returns(ref))]
///
/// An edit re-parses only the declarations whose text changed: the others come from the file's
/// previous parse (see [`writ_grammar::parse_reusing`]), which the result never depends on.
pub fn parse(db: &dyn salsa::Database, file: PolicyFile) -> ast::SourceFile {
    let reuse = file.reuse(db);
    let mut reuse = reuse.0.lock().unwrap_or_else(|poisoned| {
        let mut guard = poisoned.into_inner();
        *guard = writ_grammar::Reuse::default();
        guard
    });
    writ_grammar::parse_reusing(file.text(db), &mut reuse)
}

/// The SHA-256 digest that identifies a policy's text (LANGUAGE.md §7).
#[salsa::tracked(returns(ref))]
pub fn policy_hash(db: &dyn salsa::Database, policy: PolicyInput) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for f in policy.files(db) {
        h.update(f.path(db).as_bytes());
        h.update([0u8]);
        h.update(f.text(db).as_bytes());
        h.update([0u8]);
    }
    format!("sha256:{}", writ_stdx::hex(&h.finalize()))
}

/// Resolves, type-checks, lints and lowers the whole policy.
#[salsa::tracked(returns(ref))]
pub fn compile(db: &dyn salsa::Database, policy: PolicyInput) -> Compilation {
    let files = policy.files(db);
    let asts: Vec<&ast::SourceFile> = files.iter().map(|f| parse(db, *f)).collect();
    let input = Input {
        paths: files.iter().map(|f| f.path(db).as_str()).collect(),
        texts: files.iter().map(|f| f.text(db).as_str()).collect(),
        asts,
    };
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    for (file, ast) in input.asts.iter().enumerate() {
        for e in &ast.errors {
            diagnostics.push(syntax_diagnostic(file, e));
        }
    }
    let mut checked = check(&input, policy_hash(db, policy).clone());
    diagnostics.append(&mut checked.diagnostics);
    diagnostics.sort_by_key(|d| (d.location.file, d.location.span.start));
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    Compilation {
        diagnostics,
        policy: if has_errors { None } else { checked.policy },
        tests: checked.tests,
        assertions: if has_errors { Vec::new() } else { checked.assertions },
    }
}

fn syntax_diagnostic(file: usize, e: &ast::ParseError) -> Diagnostic {
    use ast::ParseErrorKind as Kind;
    let code = match e.kind {
        Kind::ReservedWord => Code::ReservedWord,
        Kind::Syntax | Kind::NumberTooLarge | Kind::Limit | Kind::Internal => Code::Syntax,
    };
    let help = if code == Code::ReservedWord {
        "reserved words cannot name things; choose another name (for example with a suffix: `test_`)".to_string()
    } else if e.expected.is_empty() {
        "see the language reference for the syntax of declarations and rules".to_string()
    } else {
        format!("expected {}", e.expected.join(", "))
    };
    Diagnostic::new(code, Location { file, span: e.span }, e.message.clone())
        .label("here")
        .help(help)
}

/// The database.
#[salsa::db]
#[derive(Clone, Default)]
pub struct Database {
    storage: salsa::Storage<Self>,
}

#[salsa::db]
impl salsa::Database for Database {}

/// A policy loaded into a database: the convenient entry point for the CLI and tests.
pub struct Compiler {
    pub db: Database,
    pub policy: PolicyInput,
}

impl Compiler {
    /// `files`: (path, text) pairs; they are put in source order (byte order of paths).
    pub fn new(mut files: Vec<(String, String)>) -> Compiler {
        files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let db = Database::default();
        let inputs = files.into_iter().map(|(p, t)| PolicyFile::new(&db, p, t)).collect();
        let policy = PolicyInput::new(&db, inputs);
        Compiler { db, policy }
    }

    pub fn compilation(&self) -> &Compilation {
        compile(&self.db, self.policy)
    }

    /// The files' paths and texts, for rendering diagnostics.
    pub fn sources(&self) -> Vec<SourceText> {
        self.policy
            .files(&self.db)
            .iter()
            .map(|f| SourceText {
                path: f.path(&self.db).clone(),
                text: f.text(&self.db).as_str().into(),
            })
            .collect()
    }
}

impl Database {
    /// A database that reports each query execution to `log` (for tests of incrementality).
    pub fn with_execution_log(log: std::sync::Arc<std::sync::Mutex<Vec<String>>>) -> Database {
        let callback = move |event: salsa::Event| {
            if let salsa::EventKind::WillExecute { database_key } = event.kind
                && let Ok(mut log) = log.lock()
            {
                log.push(format!("{database_key:?}"));
            }
        };
        Database { storage: salsa::Storage::new(Some(Box::new(callback))) }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use salsa::Setter;

    use super::*;

    fn executions(log: &Mutex<Vec<String>>, query: &str) -> usize {
        let mut log = log.lock().unwrap();
        let n = log.iter().filter(|e| e.starts_with(query)).count();
        log.clear();
        n
    }

    #[test]
    fn an_edit_reparses_only_the_edited_file() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut db = Database::with_execution_log(log.clone());
        let roles = PolicyFile::new(&db, "roles.writ".into(), "role dev {\n  may ping\n}\n".into());
        let flow = PolicyFile::new(
            &db,
            "flow.writ".into(),
            "tool ping\nworkflow w {\n  start by dev\n  allow ping\n}\n".into(),
        );
        let policy = PolicyInput::new(&db, vec![flow, roles]);
        assert!(!compile(&db, policy).has_errors());
        assert_eq!(executions(&log, "parse("), 2);

        flow.set_text(&mut db)
            .to("tool ping\nworkflow w {\n  start by devv\n  allow ping\n}\n".into());
        let compilation = compile(&db, policy);
        assert_eq!(compilation.diagnostics[0].code, Code::UnknownRole);
        assert_eq!(executions(&log, "parse("), 1, "only flow.writ is parsed again");

        // Nothing changed: nothing runs.
        let _ = compile(&db, policy);
        assert_eq!(executions(&log, "compile("), 0);
    }

    const FLOW: &str = "/// Deploys.\ntool deploy(env: \"staging\" | \"prod\") [write]\ntool ping\nevidence ok by human\n/// The flow.\nworkflow w {\n  start by dev\n  allow deploy when env == \"staging\" require ok by dev\n  deny deploy when context.frozen because \"frozen\"\n  allow ping\n}\ntest \"t\" {\n  expect allow: f via w calls ping\n}\n";
    const ROLES: &str = "role base\nrole dev extends base {\n  may deploy when env == \"staging\"\n  may ping\n}\ncontext frozen: bool\nfixture f = human [dev]\n";

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// After any sequence of edits, the database (which reuses what it can) compiles a policy
        /// exactly as a fresh compiler does.
        #[test]
        fn edits_compile_like_a_fresh_compiler(
            edits in proptest::collection::vec(
                (proptest::bool::ANY, 0.0..1.0f64, 0usize..6, proptest::sample::select(vec![
                    "", "x", "\n", "}", "{", "\"", "/// d\n", " when depth > 1", "\ndeny ping\n",
                    "deny", "tool t", "\nrole r\n",
                ])),
                1..10,
            )
        ) {
            let mut db = Database::default();
            let flow = PolicyFile::new(&db, "flow.writ".into(), FLOW.into());
            let roles = PolicyFile::new(&db, "roles.writ".into(), ROLES.into());
            let policy = PolicyInput::new(&db, vec![flow, roles]);
            let mut texts = [FLOW.to_string(), ROLES.to_string()];
            let _ = compile(&db, policy);
            for (second, at, delete, insert) in edits {
                let which = usize::from(second);
                let text = &mut texts[which];
                let mut start = ((text.len() as f64) * at) as usize;
                while !text.is_char_boundary(start) {
                    start -= 1;
                }
                let end = (start + delete).min(text.len());
                let end = (end..=text.len()).find(|&e| text.is_char_boundary(e)).unwrap_or(start);
                text.replace_range(start..end, insert);
                [flow, roles][which].set_text(&mut db).to(text.clone());
                let fresh = Compiler::new(vec![
                    ("flow.writ".into(), texts[0].clone()),
                    ("roles.writ".into(), texts[1].clone()),
                ]);
                proptest::prop_assert_eq!(compile(&db, policy), fresh.compilation());
            }
        }
    }

    #[test]
    fn an_edit_inside_one_rule_reparses_only_its_declaration() {
        let mut db = Database::default();
        let flow = PolicyFile::new(&db, "flow.writ".into(), FLOW.into());
        let roles = PolicyFile::new(&db, "roles.writ".into(), ROLES.into());
        let policy = PolicyInput::new(&db, vec![flow, roles]);
        let before = compile(&db, policy).clone();
        let declarations = parse(&db, flow).items.len();
        assert_eq!(flow.reuse(&db).0.lock().unwrap().reused(), 0);

        flow.set_text(&mut db).to(FLOW.replacen("\"frozen\"", "\"frozen!\"", 1));
        let after = compile(&db, policy);
        assert_eq!(flow.reuse(&db).0.lock().unwrap().reused(), declarations - 1);
        // Only the `because` text changed; everything after it moved by one byte.
        assert_eq!(after.diagnostics.len(), before.diagnostics.len());
    }

    #[test]
    fn the_policy_hash_covers_paths_and_contents() {
        let db = Database::default();
        let a = PolicyFile::new(&db, "a.writ".into(), "tool x".into());
        let b = PolicyFile::new(&db, "b.writ".into(), "tool x".into());
        let h1 = policy_hash(&db, PolicyInput::new(&db, vec![a])).clone();
        let h2 = policy_hash(&db, PolicyInput::new(&db, vec![b])).clone();
        assert_ne!(h1, h2);
        assert!(h1.starts_with("sha256:") && h1.len() == 7 + 64);
        // sha256("a.writ\0tool x\0")
        use sha2::{Digest, Sha256};
        let expected: String =
            Sha256::digest(b"a.writ\0tool x\0").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(h1, format!("sha256:{expected}"));
    }
}
