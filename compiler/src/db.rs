//! The salsa database: source files come in as inputs; everything else is a query.
//!
//! invariant: queries never do IO. Files are read by the caller ([`crate::load`]) and set as
//! inputs, so the same database serves the CLI, tests and the language server.

use writ_evaluator::ir::{PolicyIr, RoleId, WorkflowIr};
use writ_grammar::ast;

use std::sync::Arc;

use crate::check::{Input, check, unplaced_rules};
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
pub type ParseReuse = crate::lent::Lent<writ_grammar::Reuse>;

/// The compiler's input for one policy: its files in source order (the byte order of their
/// paths). Not to be confused with `writ_evaluator::Policy`, the compiled policy that decides.
#[salsa::input]
pub struct PolicyInput {
    #[returns(ref)]
    pub files: Vec<PolicyFile>,
    /// What the last check can lend the next one (never set, only used by [`compile`]: it
    /// changes how fast a check is, never what it returns).
    #[default]
    #[returns(ref)]
    reuse: crate::check::CheckReuse,
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
    writ_grammar::parse_reusing(file.text(db), &mut file.reuse(db).lock())
}

/// A file's line starts: built again only when its text changes, not for every file on each
/// edit of one.
#[salsa::tracked(returns(ref))]
pub fn line_index(db: &dyn salsa::Database, file: PolicyFile) -> writ_grammar::LineIndex {
    writ_grammar::LineIndex::new(file.text(db))
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
    compile_with(db, policy, Some(policy.reuse(db)), |ir, unplaced| {
        exact_findings(db, ir, unplaced)
    })
}

/// [`compile`], lending the check what `reuse` holds, with the exact lints' findings on the
/// lowered policy from `exact`. Tests pass no reuse and `verify::lint::findings`, the
/// whole-program search, for a reference to check [`compile`]'s reuse and queries against.
fn compile_with(
    db: &dyn salsa::Database,
    policy: PolicyInput,
    reuse: Option<&crate::check::CheckReuse>,
    exact: impl FnOnce(&PolicyIr, &[Arc<WorkflowIr>]) -> crate::verify::lint::Findings,
) -> Compilation {
    let files = policy.files(db);
    let asts: Vec<&ast::SourceFile> = files.iter().map(|f| parse(db, *f)).collect();
    let input = Input {
        paths: files.iter().map(|f| f.path(db).as_str()).collect(),
        texts: files.iter().map(|f| f.text(db).as_str()).collect(),
        asts,
        lines: files.iter().map(|f| line_index(db, *f)).collect(),
        reuse,
    };
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    for (file, ast) in input.asts.iter().enumerate() {
        for e in &ast.errors {
            diagnostics.push(syntax_diagnostic(file, e));
        }
    }
    let mut checked = check(&input, policy_hash(db, policy).clone());
    diagnostics.append(&mut checked.diagnostics);
    // The check lowers a policy only when it found no error; then come the exact lints.
    if let Some(ir) = &checked.policy {
        let found = exact(ir, &checked.unplaced_workflows);
        diagnostics.extend(crate::lints::exact(&found, |id| checked.sites.get(id).copied()));
    }
    diagnostics.sort_by_key(|d| (d.location.file, d.location.span.start));
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    Compilation {
        diagnostics,
        policy: if has_errors { None } else { checked.policy },
        tests: checked.tests,
        assertions: if has_errors { Vec::new() } else { checked.assertions },
    }
}

/// The exact lints' findings (`verify::lint::findings`) on `ir`, searched per part so that an
/// edit re-runs only the searches of what it changed: one query per workflow
/// ([`workflow_lint`]) and per role ([`role_lint`]), each reading only what its searches read,
/// with every rule's position left out (a search reads a rule's id, never where it was
/// written): an edit inside one workflow's rule searches that workflow again and the roles
/// entitled to the tools it allows, and nothing else; an edit to a declaration every search
/// reads (a tool, a role, an attribute, a top-level rule) searches everything again. The
/// top-level rules' own searches read every workflow and run each time.
///
/// `unplaced` holds `ir`'s workflows without their rules' positions, shared with the check's
/// memo: a workflow the check replayed is neither copied nor compared again here.
///
/// invariant: the result is `verify::lint::findings(ir)` (property-tested against a fresh
/// compiler in this module's tests).
fn exact_findings(
    db: &dyn salsa::Database,
    ir: &PolicyIr,
    unplaced: &[Arc<WorkflowIr>],
) -> crate::verify::lint::Findings {
    use crate::verify::lint;
    // Cloned part by part: the workflows go into their own units, once.
    let mut shared = PolicyIr {
        hash: String::new(),
        roles: ir.roles.clone(),
        attributes: ir.attributes.clone(),
        contexts: ir.contexts.clone(),
        tools: ir.tools.clone(),
        evidence: ir.evidence.clone(),
        workflows: Vec::new(),
        guardrails: ir.guardrails.clone(),
    };
    for role in &mut shared.roles {
        for e in &mut role.entitlements {
            crate::check::unplaced(&mut e.meta);
        }
    }
    unplaced_rules(&mut shared.guardrails);
    let context = LintContext::new(db, shared);
    let units: Vec<WorkflowLint<'_>> =
        unplaced.iter().map(|w| WorkflowLint::new(db, context, Shared(w.clone()))).collect();
    let mut found = lint::Findings::default();
    for unit in &units {
        found.append(workflow_lint(db, *unit).clone());
    }
    let g = &ir.guardrails;
    if !(g.denies.is_empty() && g.deny_starts.is_empty() && g.requires.is_empty()) {
        found.append(lint::guardrail_findings(ir, lint_holders(db, context)));
    }
    let all: Vec<&WorkflowIr> = ir.workflows.iter().collect();
    let (depth, first) = lint::whole(ir, &all);
    // For each tool, the workflows with an allow on it.
    let mut allowed_in: Vec<Vec<usize>> = vec![Vec::new(); ir.tools.len()];
    for (i, w) in ir.workflows.iter().enumerate() {
        for t in w.allows.iter().flat_map(|a| &a.target.tools) {
            if let Some(list) = allowed_in.get_mut(t.index()) {
                list.push(i);
            }
        }
    }
    for (r, role) in ir.roles.iter().enumerate() {
        // The workflows with an allow on a tool this role is entitled to, in source order.
        let mut relevant: Vec<usize> = role
            .entitlements
            .iter()
            .flat_map(|e| &e.target.tools)
            .filter_map(|t| allowed_in.get(t.index()))
            .flatten()
            .copied()
            .collect();
        relevant.sort_unstable();
        relevant.dedup();
        let workflows: Vec<WorkflowLint<'_>> =
            relevant.iter().filter_map(|i| units.get(*i)).copied().collect();
        let unit = RoleLint::new(db, context, r, depth, first.to_string(), workflows);
        found.append(role_lint(db, unit).clone());
    }
    found
}

/// What every exact-lint search reads but the workflows: the lowered policy without its
/// workflows, hash or rule positions.
#[salsa::tracked(debug)]
struct LintContext<'db> {
    #[tracked]
    #[returns(ref)]
    ir: PolicyIr,
}

/// One workflow's rules (positions left out), for [`workflow_lint`].
#[salsa::tracked(debug)]
struct WorkflowLint<'db> {
    context: LintContext<'db>,
    #[tracked]
    #[returns(ref)]
    workflow: Shared<WorkflowIr>,
}

/// A value shared with the check's memo: equal without a look inside when it is the same
/// allocation (a workflow the check replayed), compared otherwise.
#[derive(Clone, Debug)]
struct Shared<T>(Arc<T>);

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Shared<T>) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

/// One role's entitlements' search, for [`role_lint`]: what it reads besides the context.
#[salsa::tracked(debug)]
struct RoleLint<'db> {
    context: LintContext<'db>,
    role: usize,
    /// The deepest chain of any workflow, and the first workflow's name (`lint::whole`).
    #[tracked]
    depth: u32,
    #[tracked]
    #[returns(ref)]
    first: String,
    /// The workflows with an allow on a tool the role is entitled to, shared with their own
    /// searches (not copied: a role's search reads each one's rules through its unit).
    #[tracked]
    #[returns(ref)]
    workflows: Vec<WorkflowLint<'db>>,
}

/// Who holds each role (`verify::lint::holders`), computed once per lint context and shared by
/// every workflow's and role's search, not once per search.
#[salsa::tracked(returns(ref))]
fn lint_holders<'db>(db: &'db dyn salsa::Database, context: LintContext<'db>) -> Vec<Vec<RoleId>> {
    crate::verify::lint::holders(context.ir(db))
}

/// The exact lints of one workflow's own rules (`verify::lint::workflow_findings`).
#[salsa::tracked(returns(ref))]
fn workflow_lint<'db>(
    db: &'db dyn salsa::Database,
    unit: WorkflowLint<'db>,
) -> crate::verify::lint::Findings {
    let ir = unit.context(db).ir(db);
    let table = lint_holders(db, *unit.context(db));
    crate::verify::lint::workflow_findings(ir, table, &unit.workflow(db).0)
}

/// The exact lints of one role's entitlements (`verify::lint::role_findings`).
#[salsa::tracked(returns(ref))]
fn role_lint<'db>(
    db: &'db dyn salsa::Database,
    unit: RoleLint<'db>,
) -> crate::verify::lint::Findings {
    let ir = unit.context(db).ir(db);
    let table = lint_holders(db, *unit.context(db));
    let workflows: Vec<&WorkflowIr> =
        unit.workflows(db).iter().map(|w| &*w.workflow(db).0).collect();
    let (role, depth) = (*unit.role(db), *unit.depth(db));
    crate::verify::lint::role_findings(ir, table, role, &workflows, depth, unit.first(db))
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
            .map(|f| SourceText::new(f.path(&self.db).clone(), f.text(&self.db).as_str().into()))
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
                    "deny", "tool t", "\nrole r\n", "\ntool w\n", "\nworkflow dev {\n  start by dev\n}\n",
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
                let fresh = reference(&[("flow.writ", &texts[0]), ("roles.writ", &texts[1])]);
                proptest::prop_assert_eq!(compile(&db, policy), &fresh);
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
        assert_eq!(flow.reuse(&db).lock().reused(), 0);

        flow.set_text(&mut db).to(FLOW.replacen("\"frozen\"", "\"frozen!\"", 1));
        let after = compile(&db, policy);
        assert_eq!(flow.reuse(&db).lock().reused(), declarations - 1);
        // Only the `because` text changed; everything after it moved by one byte.
        assert_eq!(after.diagnostics.len(), before.diagnostics.len());
    }

    #[test]
    fn an_edit_inside_one_workflow_checks_only_that_workflow_again() {
        let mut db = Database::default();
        let a = format!("{HEADER}{}{}", team(0), team(1));
        let b = format!("{}{LINTED}", team(2));
        let fa = PolicyFile::new(&db, "a.writ".into(), a.clone());
        let fb = PolicyFile::new(&db, "b.writ".into(), b.clone());
        let policy = PolicyInput::new(&db, vec![fa, fb]);
        let _ = compile(&db, policy);
        assert_eq!(policy.reuse(&db).replayed(), 0, "nothing to replay at first");
        let check = |db: &Database, a: &str, b: &str| {
            assert_eq!(compile(db, policy), &reference(&[("a.writ", a), ("b.writ", b)]));
            policy.reuse(db).replayed()
        };

        // Inside flow_0's rule: the other three workflows (one after it in the same file, which
        // moved by a byte) are replayed.
        let a2 = a.replacen("feature/*", "feature/x*", 1);
        fa.set_text(&mut db).to(a2.clone());
        assert_eq!(check(&db, &a2, &b), 3);

        // Lines added before every workflow of both files: all four are replayed, moved.
        let (a3, b3) = (format!("\n\n{a2}"), format!("// moved\n{b}"));
        fa.set_text(&mut db).to(a3.clone());
        fb.set_text(&mut db).to(b3.clone());
        assert_eq!(check(&db, &a3, &b3), 4);

        // A workflow moved to the other file: checked again there (its path is part of what
        // it gave); the others are replayed.
        let moved = team(1);
        let flow_1 = &moved[moved.find("workflow").unwrap()..];
        let (a4, b4) = (a3.replacen(flow_1, "", 1), format!("{b3}{flow_1}"));
        fa.set_text(&mut db).to(a4.clone());
        fb.set_text(&mut db).to(b4.clone());
        assert_eq!(check(&db, &a4, &b4), 3);

        // Inside a role's `may` rule: no workflow reads it, all four are replayed.
        let a5 = a4.replacen(
            "may deploy_0 when env == \"staging\"",
            "may deploy_0 when env == \"prod\"",
            1,
        );
        assert_ne!(a4, a5);
        fa.set_text(&mut db).to(a5.clone());
        assert_eq!(check(&db, &a5, &b4), 4);
        let a4 = a5;

        // A new tool, before the others: the tools' numbering changes, so every workflow is
        // checked again.
        let a5 = format!("tool first\n{a4}");
        fa.set_text(&mut db).to(a5.clone());
        assert_eq!(check(&db, &a5, &b4), 0);

        // A workflow that does not start a line is checked every time.
        let b5 = b4.replacen("\nworkflow release", "\ntool inline workflow release", 1);
        fb.set_text(&mut db).to(b5.clone());
        let _ = check(&db, &a5, &b5);
        let b6 = format!("\n{b5}");
        fb.set_text(&mut db).to(b6.clone());
        assert_eq!(check(&db, &a5, &b6), 3);
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

    /// One team of the language server benchmark's policy (`bench/src/editing.rs`).
    fn team(n: usize) -> String {
        format!(
            "/// Team {n}.\nrole role_{n} extends base {{\n  may svc_{n}.*\n  may deploy_{n} when env == \"staging\"\n}}\n\
             tool svc_{n}.read(repo: string, branch: string) [read]\n\
             tool svc_{n}.write(repo: string, branch: string, files: [string]) [write]\n\
             tool deploy_{n}(env: \"staging\" | \"prod\", service: string) [write, prod]\n\
             evidence approval_{n} by human\n\
             workflow flow_{n} {{\n  start by role_{n}\n  max_depth 2\n  allow svc_{n}.read\n  \
             allow svc_{n}.write when branch matches \"feature/*\" require approval_{n} by role_{n}\n  \
             allow deploy_{n} when env == \"staging\" and initiator.team == \"t{n}\"\n  \
             deny svc_{n}.write when branch == \"main\" because \"never main\"\n  \
             deny deploy_{n} when context.frozen\n}}\n\n"
        )
    }

    const HEADER: &str = "role base\nattribute team: string\ncontext frozen: bool\n\n";

    /// Declarations every exact lint finds something in.
    const LINTED: &str = "tool ship(env: \"staging\" | \"prod\", service: string)\nevidence ok by human\nrole shipper {\n  may ship when env == \"prod\"\n}\nworkflow release {\n  start by shipper\n  allow ship when env == \"prod\" and env == \"staging\"\n  allow ship when env == \"staging\"\n  require ok for ship when env == \"prod\"\n}\ndeny ship when service == \"legacy\"\n";

    /// The compilation a fresh compiler gives, with every workflow checked (no memo) and the
    /// exact lints searched over the whole policy at once (`verify::lint::findings`), as
    /// before they were split into queries.
    fn reference(files: &[(&str, &str)]) -> Compilation {
        let fresh =
            Compiler::new(files.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect());
        compile_with(&fresh.db, fresh.policy, None, |ir, _| crate::verify::lint::findings(ir))
    }

    #[test]
    fn an_edit_inside_one_rule_searches_only_its_workflow_and_roles_again() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut db = Database::with_execution_log(log.clone());
        let a = format!("{HEADER}{}{}", team(0), team(1));
        let b = format!("{}{LINTED}", team(2));
        let fa = PolicyFile::new(&db, "a.writ".into(), a.clone());
        let fb = PolicyFile::new(&db, "b.writ".into(), b.clone());
        let policy = PolicyInput::new(&db, vec![fa, fb]);
        let first = compile(&db, policy).clone();
        assert!(first.policy.is_some(), "{:?}", first.diagnostics);
        assert!(first.diagnostics.iter().any(|d| d.code == Code::UnusableEntitlement));
        // How many workflows and roles were searched since the last call.
        let relint = |log: &Mutex<Vec<String>>| {
            let mut log = log.lock().unwrap();
            let w = log.iter().filter(|e| e.starts_with("workflow_lint(")).count();
            let r = log.iter().filter(|e| e.starts_with("role_lint(")).count();
            log.clear();
            (w, r)
        };
        // Four workflows; five roles (`base` too).
        assert_eq!(relint(&log), (4, 5));
        let check = |db: &Database, a: &str, b: &str| {
            assert_eq!(compile(db, policy), &reference(&[("a.writ", a), ("b.writ", b)]));
        };

        // Inside a rule of flow_0: flow_0 is searched again, and role_0 (entitled to the tools
        // it allows); flow_1, which moved, is not.
        let a2 = a.replacen("feature/*", "feature/x*", 1);
        fa.set_text(&mut db).to(a2.clone());
        check(&db, &a2, &b);
        assert_eq!(relint(&log), (1, 1));

        // A new line in flow_0 moves every rule after it a line down, and changes nothing a
        // search reads: no search runs.
        let a3 = a2.replacen("  max_depth 2\n", "\n  max_depth 2\n", 1);
        fa.set_text(&mut db).to(a3.clone());
        check(&db, &a3, &b);
        assert_eq!(relint(&log), (0, 0));

        // Renaming a tool every search reads (its name is in the shared context): everything.
        let b2 = b.replace("ship", "launch");
        fb.set_text(&mut db).to(b2.clone());
        check(&db, &a3, &b2);
        assert_eq!(relint(&log), (4, 5));

        // An edit outside every rule that changes nothing lowered (a comment): no search.
        let b3 = format!("// nothing\n{b2}");
        fb.set_text(&mut db).to(b3.clone());
        check(&db, &a3, &b3);
        assert_eq!(relint(&log), (0, 0));
    }

    /// The edits of the property test below: most keep the policy free of errors, so that
    /// the exact lints run.
    #[derive(Clone, Debug)]
    enum Edit {
        /// Swap the first `"staging"` of a file for `"prod"`, or back.
        Stage(usize),
        /// A blank line at the start of a line.
        Line(usize, f64),
        /// A new workflow at the end of a file.
        Workflow(usize),
        /// Delete a line.
        DeleteLine(usize, f64),
        /// Rename a role everywhere (or back).
        RenameRole,
        /// Rename a tool in one file only (unknown names elsewhere).
        RenameTool(usize),
        /// A syntax error.
        Junk(usize, f64),
        /// Deeper chains.
        Depth(usize),
        /// A deny that shadows an allow (or back).
        Shadow,
        /// A tool named as a workflow, at the start of a file (or gone again).
        Duplicate(usize),
        /// The first workflow of a file moved to the end of the next file.
        MoveWorkflow(usize),
    }

    fn edit() -> impl proptest::strategy::Strategy<Value = Edit> {
        use proptest::prelude::*;
        let file = 0usize..3;
        prop_oneof![
            file.clone().prop_map(Edit::Stage),
            (file.clone(), 0.0..1.0f64).prop_map(|(f, at)| Edit::Line(f, at)),
            file.clone().prop_map(Edit::Workflow),
            (file.clone(), 0.0..1.0f64).prop_map(|(f, at)| Edit::DeleteLine(f, at)),
            Just(Edit::RenameRole),
            file.clone().prop_map(Edit::RenameTool),
            (file.clone(), 0.0..1.0f64).prop_map(|(f, at)| Edit::Junk(f, at)),
            file.clone().prop_map(Edit::Depth),
            Just(Edit::Shadow),
            file.clone().prop_map(Edit::Duplicate),
            file.prop_map(Edit::MoveWorkflow),
        ]
    }

    /// The start of a line of `text`, about `at` of the way through it.
    fn line_start(text: &str, at: f64) -> usize {
        let n = ((text.len() as f64) * at) as usize;
        text.char_indices()
            .map(|(i, _)| i)
            .filter(|&i| i == 0 || text.as_bytes()[i - 1] == b'\n')
            .take_while(|&i| i <= n)
            .last()
            .unwrap_or(0)
    }

    fn apply(texts: &mut [String; 3], edit: &Edit, serial: usize) {
        let swap = |t: &mut String, a: &str, b: &str| {
            if t.contains(a) {
                *t = t.replacen(a, b, 1);
            } else {
                *t = t.replacen(b, a, 1);
            }
        };
        match edit {
            Edit::Stage(f) => swap(&mut texts[*f], "\"staging\"", "\"prod\""),
            Edit::Line(f, at) => {
                let i = line_start(&texts[*f], *at);
                texts[*f].insert(i, '\n');
            }
            Edit::Workflow(f) => texts[*f].push_str(&format!(
                "workflow extra_{serial} {{\n  start by base\n  allow svc_0.read when context.frozen\n  allow ship when service == \"x\"\n}}\n"
            )),
            Edit::DeleteLine(f, at) => {
                let t = &mut texts[*f];
                let i = line_start(t, *at);
                let end = t[i..].find('\n').map_or(t.len(), |e| i + e + 1);
                t.replace_range(i..end, "");
            }
            Edit::RenameRole => {
                for t in texts.iter_mut() {
                    *t = if t.contains("role_1x") {
                        t.replace("role_1x", "role_1")
                    } else {
                        t.replace("role_1", "role_1x")
                    };
                }
            }
            Edit::RenameTool(f) => swap(&mut texts[*f], "deploy_2", "deployx_2"),
            Edit::Junk(f, at) => {
                let i = line_start(&texts[*f], *at);
                texts[*f].insert_str(i, "}{ ");
            }
            Edit::Depth(f) => swap(&mut texts[*f], "max_depth 2", "max_depth 3"),
            Edit::Shadow => {
                for t in texts.iter_mut() {
                    swap(t, "branch == \"main\"", "branch != \"main\"");
                }
            }
            Edit::Duplicate(f) => {
                let t = &mut texts[*f];
                match t.strip_prefix("tool flow_1\n") {
                    Some(rest) => *t = rest.to_string(),
                    None => t.insert_str(0, "tool flow_1\n"),
                }
            }
            Edit::MoveWorkflow(f) => {
                let t = &texts[*f];
                let Some(start) = t.find("workflow ") else { return };
                let end = t[start..].find("\n}\n").map_or(t.len(), |e| start + e + 3);
                let workflow = t[start..end].to_string();
                texts[*f].replace_range(start..end, "");
                texts[(*f + 1) % 3].push_str(&workflow);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// After any sequence of edits across files (inside rules, new and deleted
        /// declarations, renames, syntax errors), the database gives exactly what a fresh
        /// compiler gives whose exact lints search the whole policy at once: the same
        /// diagnostics in the same order, the same lowered policy (and hash), tests and
        /// assertions.
        #[test]
        fn incremental_lints_equal_a_fresh_whole_program_check(
            edits in proptest::collection::vec(edit(), 1..8)
        ) {
            let mut texts = [
                format!("{HEADER}{}", team(0)),
                format!("{}{}", team(1), LINTED),
                team(2),
            ];
            let paths = ["a.writ", "b.writ", "c/d.writ"];
            let mut db = Database::default();
            let files: Vec<PolicyFile> = paths
                .iter()
                .zip(&texts)
                .map(|(p, t)| PolicyFile::new(&db, p.to_string(), t.clone()))
                .collect();
            let policy = PolicyInput::new(&db, files.clone());
            let _ = compile(&db, policy);
            for (serial, edit) in edits.iter().enumerate() {
                apply(&mut texts, edit, serial);
                for (f, t) in files.iter().zip(&texts) {
                    if f.text(&db) != t {
                        f.set_text(&mut db).to(t.clone());
                    }
                }
                let expected = reference(&[
                    (paths[0], &texts[0]),
                    (paths[1], &texts[1]),
                    (paths[2], &texts[2]),
                ]);
                proptest::prop_assert_eq!(compile(&db, policy), &expected);
            }
        }
    }
}
