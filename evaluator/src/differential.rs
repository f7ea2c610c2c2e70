//! Differential testing: [`crate::Policy::decide`] against the reference evaluator
//! [`crate::reference::decide`], on random well-typed policies and random requests against
//! them.
//!
//! Policies and requests are built from *tapes*: fixed-length lists of random `u32` choices that
//! proptest generates and shrinks. A generator reads choices off its tape (past the end every
//! choice is 0, and 0 always means the simplest option), so shrinking a failing case towards
//! zeros shrinks it towards a smaller policy and a plainer request. The policy and each request
//! have tapes of their own, so a request shrinks without changing the policy.
//!
//! The generated policies pass [`crate::Policy::from_ir`] by construction: a few roles whose
//! `extends` form a DAG, attributes and context values of every type, tools with typed
//! arguments (enumerations and `[string]` included), evidence kinds with and without `by human`,
//! `bound` and fields; workflows with start rules (roles, conditions, requirements with counts,
//! roles and fields), allows, denies, deny starts and `require ... for` rules; top-level
//! guardrails; rules spread over several files and interleaved as in source. Conditions use
//! every operand and operator, are well typed by construction, read `principal` only inside
//! entitlements and arguments only where every targeted tool has them with one type.
//!
//! Language version 2 is in both: tools often have a `command` argument (`cmd`) and a `path`
//! argument (`file`), and an argument `v` may be a `path` on one tool and a `string` on another.
//! Conditions use `runs` (patterns of 1 to 4 items from a pool of words and globs such as
//! `"-*f*"` and `"--force*"`, with `...` anywhere), `runs only` (1 to 5 patterns, mostly naming a
//! command first), `under` (absolute and relative directories, some not in resolved form),
//! `==`, `!=`, `in`, `contains` and `matches` on paths, and `calls(...)` (a tool, a glob, which
//! also counts undeclared tools, or tags; half with `within` 60s to 48h) compared with small
//! integers, in every kind of rule. The command-line *text* of requests comes from [`run`]: a
//! small grammar of shell constructs (lists, pipelines, `!`, `time`, subshells, groups,
//! compound commands, `[[ ]]`, `(( ))`, `coproc`, substitutions, quotes and words split by
//! them, expansions, globs, brace expansion, redirections, here-documents with and without
//! their end, `bash -c`, `eval`, leading assignments, comments, extended globs, nesting past
//! the limits), plain command lines that any parser knows (a fair share, so that `runs`
//! decides), random characters and NUL. The generator knows nothing of how text parses: both
//! evaluators parse it with [`crate::shell::parse`]. Paths have `.`, `..`, `//`, a trailing
//! `/`, a leading `~`, NUL, or are empty; `cwd` is absent, `null`, absolute (sometimes with
//! `..`, `//`, a trailing `/` or NUL) or malformed; `time` is absent, `null`, RFC 3339 in its
//! spellings (`t`/`z`, offsets, fractions) or malformed; `history` is absent, `null`, `[]`, or
//! entries naming declared and undeclared tools, with `at` absent, `null`, malformed, or at the
//! edges of the policy's windows (exactly `time - D`, a nanosecond after, exactly `time`, a
//! nanosecond after). A request made malformed on purpose must fail to decode (also through
//! [`crate::Policy::decide_many_json`]); every other one must decode.
//!
//! Requests are aimed at the policy so that every step of LANGUAGE.md §5 decides a fair share
//! of them: mostly known workflows and tools the workflow allows, principals holding the roles
//! that entitle them, well-typed values; but also missing, `null` and wrong-typed values,
//! undeclared keys and roles, chains deeper than `max_depth` or without an accountable
//! principal, ttls over the limit, and evidence with duplicate givers, self-approval, non-human
//! givers, wrong subjects, mismatched fields and missing givers.
//!
//! # Running more cases
//!
//! `cargo test` runs 20,000 cases (a policy and up to four requests each), split over two test
//! functions that run in parallel. `WRIT_PROPTEST_CASES` sets the total, for example:
//!
//! ```text
//! WRIT_PROPTEST_CASES=2000000 cargo test --release -p writ-evaluator differential
//! ```
//!
//! A failure prints the policy IR and the request as JSON and both decisions, after
//! shrinking; proptest saves its seed under `evaluator/proptest-regressions/`.
//!
//! `differential_generator_mix_is_healthy` checks the mix over a fixed batch: outcomes, deny
//! steps, evidence rejections, and that each v2 condition kind (`runs`, `runs only`, `under`,
//! path comparisons, `calls`, windowed `calls`) is true, false and unknown in a fair share of
//! the calls that reach the rules.

use std::collections::BTreeMap;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value as J, json};

use crate::ir::*;
use crate::request::{Action, Request};
use crate::{Decision, Outcome, Policy, RejectReason, TraceStep, reference};

mod run;

// ---------------------------------------------------------------------------------------------
// Tapes

const POLICY_TAPE: usize = 1024;
const REQUEST_TAPE: usize = 480;
const REQUESTS_PER_POLICY: usize = 4;

/// Random choices, read in order; 0 past the end.
struct Tape<'a> {
    data: &'a [u32],
    at: usize,
}

impl<'a> Tape<'a> {
    fn new(data: &'a [u32]) -> Tape<'a> {
        Tape { data, at: 0 }
    }

    fn next(&mut self) -> u32 {
        let v = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        v
    }

    /// `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { self.next() as usize % n }
    }

    /// True `percent`% of the time; false on a zero choice.
    fn chance(&mut self, percent: u32) -> bool {
        self.next() % 100 >= 100 - percent.min(100)
    }

    /// One of `items`, which must not be empty.
    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.below(items.len())]
    }

    /// An index, with the given weights; index 0 on a zero choice.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut r = self.next() % total.max(1);
        for (i, &w) in weights.iter().enumerate() {
            if r < w {
                return i;
            }
            r -= w;
        }
        0
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pools of names and values

const ROLES: &[&str] = &["dev", "senior", "lead", "sec", "ops", "platform"];
const ATTRS: &[(&str, Ty)] = &[
    ("team", Ty::Str),
    ("level", Ty::Int),
    ("oncall", Ty::Bool),
    ("shift", Ty::Dur),
    ("groups", Ty::List),
    ("tier", Ty::Enum(&["gold", "silver"])),
];
const CONTEXTS: &[(&str, Ty)] = &[
    ("hours", Ty::Bool),
    ("risk", Ty::Int),
    ("window", Ty::Dur),
    ("region", Ty::Enum(&["eu", "us"])),
    ("labels", Ty::List),
    ("note", Ty::Str),
];
const TOOLS: &[&str] = &["repo.read", "repo.push", "deploy", "secrets.read", "http.get"];
const PARAMS: &[(&str, Ty)] = &[
    ("branch", Ty::Str),
    ("env", Ty::Enum(&["staging", "prod"])),
    ("count", Ty::Int),
    ("force", Ty::Bool),
    ("timeout", Ty::Dur),
    ("files", Ty::List),
    ("name", Ty::Str),
    ("cmd", Ty::Cmd),
    ("file", Ty::Path),
];
const TAGS: &[&str] = &["write", "prod", "secret", "network"];
const EVIDENCE: &[&str] = &["tests_passed", "approval", "code_review", "ticket", "signoff"];
const FIELDS: &[(&str, Ty)] = &[
    ("project", Ty::Str),
    ("prio", Ty::Int),
    ("urgent", Ty::Bool),
    ("within", Ty::Dur),
    ("labels", Ty::List),
    ("sev", Ty::Enum(&["low", "high"])),
];
const WORKFLOWS: &[&str] = &["release", "deps", "incident"];
const FILES: &[&str] = &["a.writ", "b.writ", "sub/c.writ"];

/// Items of command patterns (besides `...`): words of [`run`]'s command lines and globs.
const PATTERN_WORDS: &[&str] = &[
    "rm", "git", "push", "*", "-*f*", "--force*", "-*r*", "ls", "status", "sudo", "xargs", "-la",
    "/bin/rm", "x", "-f", "-rf", "origin", "main", "cat", "env", "?", "--",
];
/// Directories of `under`: absolute and relative, some not in resolved form.
const DIRS: &[&str] = &[
    ".",
    "src",
    "/work/app",
    "/",
    "../x",
    "/work/app/src",
    ".github/workflows",
    "/etc",
    "./src/",
    "..",
    "/work//app/",
    "/work/app/.env",
];
/// Resolved paths, for `==` and `in` on `path` arguments.
const PATH_LITS: &[&str] = &[
    "/work/app/src/main.rs",
    "/work/app",
    "/work/app/.env",
    "/",
    "/etc/passwd",
    "/work/x",
    "src/main.rs",
];
/// Globs over resolved paths.
const PATH_GLOBS: &[&str] =
    &["/work/app/*", "*.rs", "/work/*", "*/.env", "/etc/*", "*", "/work/app/src/?*", "/?"];
/// Globs of `calls(...)` targets.
const CALL_GLOBS: &[&str] = &["repo.*", "*", "*.read", "de*", "secrets.*", "http.*"];
/// `within` windows of `calls(...)`, in seconds (60s to 48h).
const WINDOWS: &[i64] = &[60, 300, 3600, 7200, 86_400, 172_800, 1800];
const STRS: &[&str] = &["a", "b", "main", "deps/x", "release/1", "", "alice", "svc1", "é?"];
const INTS: &[i64] = &[-1, 0, 1, 2, 3, 5];
const DURS: &[i64] = &[0, 60, 1800, 3600, 7200];
const LISTS: &[&[&str]] = &[&[], &["a"], &["a", "b"], &["deps/x", "b"], &["main"]];
const GLOBS: &[&str] =
    &["*", "a*", "deps/*", "?", "*/*", "release/?", "", "a", "*b*", "[a]", "*x", "é*", "*?"];
const KINDS: &[PrincipalKind] =
    &[PrincipalKind::Human, PrincipalKind::Service, PrincipalKind::Agent];

const HUMANS: &[&str] = &["alice", "bob", "carol"];
const SERVICES: &[&str] = &["svc1", "svc2"];
const AGENTS: &[&str] = &["agent/1", "agent/2"];
/// Evidence givers: the humans of chains too, so that self-approval happens.
const GIVERS: &[&str] = &["dave", "erin", "frank", "grace", "bob", "alice"];

/// A declared type, as the generator sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ty {
    Str,
    Int,
    Bool,
    Dur,
    List,
    Enum(&'static [&'static str]),
    Cmd,
    Path,
}

impl Ty {
    fn value_type(self) -> ValueType {
        match self {
            Ty::Str => ValueType::String,
            Ty::Int => ValueType::Int,
            Ty::Bool => ValueType::Bool,
            Ty::Dur => ValueType::Duration,
            Ty::List => ValueType::StringList,
            Ty::Enum(vs) => ValueType::Enum(vs.iter().map(|v| (*v).to_owned()).collect()),
            Ty::Cmd => ValueType::Command,
            Ty::Path => ValueType::Path,
        }
    }

    fn of(ty: &ValueType) -> Class {
        match ty {
            // A path is string-like (its resolved form); a command is read by `runs` only.
            ValueType::String | ValueType::Enum(_) | ValueType::Path => Class::Str,
            ValueType::Command => Class::Cmd,
            ValueType::Int => Class::Int,
            ValueType::Bool => Class::Bool,
            ValueType::Duration => Class::Dur,
            ValueType::StringList => Class::List,
        }
    }
}

/// The static type of an operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Str,
    Int,
    Bool,
    Dur,
    List,
    Kind,
    /// A `command` argument: only `runs` and `runs only` read it.
    Cmd,
}

// ---------------------------------------------------------------------------------------------
// Policies

fn policy(t: &mut Tape<'_>) -> PolicyIr {
    // Roles: `extends` only towards roles earlier in a random rank, so it is a DAG.
    let n_roles = 1 + t.below(5);
    let mut rank: Vec<usize> = (0..n_roles).collect();
    t.shuffle(&mut rank);
    let mut roles: Vec<RoleIr> = (0..n_roles)
        .map(|i| RoleIr {
            name: ROLES[i].to_owned(),
            extends: Vec::new(),
            entitlements: Vec::new(),
        })
        .collect();
    for i in 0..n_roles {
        for j in 0..n_roles {
            if rank[j] < rank[i] && t.chance(35) {
                roles[i].extends.push(RoleId(j as u32));
            }
        }
    }

    let decls = |t: &mut Tape<'_>, pool: &[(&str, Ty)]| -> Vec<ValueDeclIr> {
        pool.iter()
            .filter(|_| t.chance(65))
            .map(|(n, ty)| ValueDeclIr { name: (*n).to_owned(), ty: ty.value_type() })
            .collect()
    };
    let attributes = decls(t, ATTRS);
    let contexts = decls(t, CONTEXTS);

    let n_tools = 1 + t.below(TOOLS.len());
    let mut tools = Vec::new();
    for name in &TOOLS[..n_tools] {
        let mut params: Vec<ParamIr> = PARAMS
            .iter()
            .filter(|(_, ty)| t.chance(if matches!(ty, Ty::Cmd | Ty::Path) { 60 } else { 45 }))
            .map(|(n, ty)| ParamIr { name: (*n).to_owned(), ty: ty.value_type() })
            .collect();
        if t.chance(25) {
            // `v` has a different type on different tools: usable only where it agrees.
            // A `path` here and a `string` there is one class (string-like) for conditions.
            let ty = [ValueType::Int, ValueType::String, ValueType::Path][t.below(3)].clone();
            params.push(ParamIr { name: "v".to_owned(), ty });
        }
        t.shuffle(&mut params);
        let tags = TAGS.iter().filter(|_| t.chance(30)).map(|s| (*s).to_owned()).collect();
        tools.push(ToolIr { name: (*name).to_owned(), params, tags });
    }

    let n_evidence = 1 + t.below(4);
    let mut evidence = Vec::new();
    for name in &EVIDENCE[..n_evidence] {
        let mut fields: Vec<ParamIr> = FIELDS
            .iter()
            .filter(|_| t.chance(30))
            .map(|(n, ty)| ParamIr { name: (*n).to_owned(), ty: ty.value_type() })
            .collect();
        t.shuffle(&mut fields);
        evidence.push(EvidenceKindIr {
            name: (*name).to_owned(),
            fields,
            by_human: t.chance(50),
            bound: t.chance(30),
        });
    }

    let mut ir = PolicyIr {
        hash: "sha256:generated".to_owned(),
        roles,
        attributes,
        contexts,
        tools,
        evidence,
        workflows: Vec::new(),
        guardrails: RuleSetIr::default(),
    };

    // Entitlements.
    for r in 0..n_roles {
        let n = t.weighted(&[20, 40, 30, 10]);
        for i in 0..n {
            let target = target(t, &ir);
            let scope = Scope { tools: Some(&target.tools), principal: true };
            let condition = opt_cond(t, &ir, scope, 40);
            let id = format!("{}/may/{}", ir.roles[r].name, i + 1);
            ir.roles[r].entitlements.push(EntitlementIr { meta: meta(&id), target, condition });
        }
    }

    // Workflows.
    let n_workflows = 1 + t.below(WORKFLOWS.len());
    for name in &WORKFLOWS[..n_workflows] {
        let mut wf = WorkflowIr {
            name: (*name).to_owned(),
            max_depth: [1, 0, 1, 2, 3][t.weighted(&[30, 10, 20, 25, 15])],
            ttl_seconds: *t.pick(&[3600, 60, 1800, 86_400]),
            starts: Vec::new(),
            allows: Vec::new(),
            rules: RuleSetIr::default(),
        };
        let n_starts = [1, 0, 2, 3][t.weighted(&[50, 4, 30, 16])];
        for i in 0..n_starts {
            let by = match t.weighted(&[40, 45, 15]) {
                0 => Vec::new(),
                1 => vec![RoleId(t.below(n_roles) as u32)],
                _ => {
                    let mut by =
                        vec![RoleId(t.below(n_roles) as u32), RoleId(t.below(n_roles) as u32)];
                    by.dedup();
                    by
                }
            };
            let scope = Scope { tools: None, principal: false };
            wf.starts.push(StartRuleIr {
                meta: meta(&format!("{name}/start/{}", i + 1)),
                by,
                condition: opt_cond(t, &ir, scope, 50),
                require: requirements(t, &ir, &[35, 40, 25]),
            });
        }
        let n_allows = 1 + t.weighted(&[35, 35, 20, 10]);
        for i in 0..n_allows {
            let target = target(t, &ir);
            let scope = Scope { tools: Some(&target.tools), principal: false };
            let condition = opt_cond(t, &ir, scope, 45);
            wf.allows.push(AllowRuleIr {
                meta: meta(&format!("{name}/allow/{}", i + 1)),
                target,
                condition,
                require: requirements(t, &ir, &[30, 40, 30]),
            });
        }
        wf.rules = rule_set(t, &ir, &format!("{name}/"));
        ir.workflows.push(wf);
    }
    ir.guardrails = rule_set(t, &ir, "");

    place(t, &mut ir);
    ir
}

/// Denies, deny starts and `require ... for` rules, with ids under `prefix`.
fn rule_set(t: &mut Tape<'_>, ir: &PolicyIr, prefix: &str) -> RuleSetIr {
    let mut rules = RuleSetIr::default();
    for i in 0..t.weighted(&[60, 30, 10]) {
        let target = target(t, ir);
        let scope = Scope { tools: Some(&target.tools), principal: false };
        let condition = opt_cond(t, ir, scope, 92);
        let because = t.chance(50).then(|| format!("because {prefix}{}", i + 1));
        rules.denies.push(DenyRuleIr {
            meta: meta(&format!("{prefix}deny/{}", i + 1)),
            target,
            condition,
            because,
        });
    }
    for i in 0..t.weighted(&[80, 20]) {
        let scope = Scope { tools: None, principal: false };
        let condition = opt_cond(t, ir, scope, 92);
        let because = t.chance(50).then(|| format!("no start {prefix}{}", i + 1));
        rules.deny_starts.push(DenyStartRuleIr {
            meta: meta(&format!("{prefix}deny_start/{}", i + 1)),
            condition,
            because,
        });
    }
    for i in 0..t.weighted(&[50, 35, 15]) {
        let target = target(t, ir);
        let scope = Scope { tools: Some(&target.tools), principal: false };
        let condition = opt_cond(t, ir, scope, 60);
        rules.requires.push(RequireForRuleIr {
            meta: meta(&format!("{prefix}require/{}", i + 1)),
            target,
            condition,
            require: requirements(t, ir, &[0, 75, 25]),
        });
    }
    rules
}

fn meta(id: &str) -> RuleMeta {
    RuleMeta {
        id: id.to_owned(),
        file: FILES[0].to_owned(),
        line: 1,
        column: 1,
        text: id.to_owned(),
    }
}

/// Places the workflows and the top-level rules in files, in a random order, with each
/// workflow's rules interleaved as in source; then numbers the top-level rules in source order.
fn place(t: &mut Tape<'_>, ir: &mut PolicyIr) {
    #[derive(Clone, Copy)]
    enum Item {
        Workflow(usize),
        Deny(usize),
        DenyStart(usize),
        Require(usize),
    }
    let mut items: Vec<Item> = (0..ir.workflows.len()).map(Item::Workflow).collect();
    items.extend((0..ir.guardrails.denies.len()).map(Item::Deny));
    items.extend((0..ir.guardrails.deny_starts.len()).map(Item::DenyStart));
    items.extend((0..ir.guardrails.requires.len()).map(Item::Require));
    t.shuffle(&mut items);

    let mut file = 0;
    let mut line = 1;
    let put = |m: &mut RuleMeta, file: usize, line: u32, column: u32| {
        m.file = FILES[file].to_owned();
        m.line = line;
        m.column = column;
    };
    for item in items {
        if file + 1 < FILES.len() && t.chance(25) {
            file += 1;
            line = 1;
        }
        match item {
            Item::Deny(i) => put(&mut ir.guardrails.denies[i].meta, file, line, 1),
            Item::DenyStart(i) => put(&mut ir.guardrails.deny_starts[i].meta, file, line, 1),
            Item::Require(i) => put(&mut ir.guardrails.requires[i].meta, file, line, 1),
            Item::Workflow(w) => {
                let wf = &mut ir.workflows[w];
                line += 1; // `workflow NAME {`
                let mut left = [
                    wf.starts.len(),
                    wf.allows.len(),
                    wf.rules.denies.len(),
                    wf.rules.deny_starts.len(),
                    wf.rules.requires.len(),
                ];
                let mut next = [0usize; 5];
                let mut column = 3;
                while left.iter().any(|&n| n > 0) {
                    let kind = t.weighted(&left.map(|n| n as u32));
                    let i = next[kind];
                    next[kind] += 1;
                    left[kind] -= 1;
                    // Now and then two rules on one line.
                    if t.chance(10) {
                        column += 20;
                    } else {
                        line += 1;
                        column = 3;
                    }
                    let m = match kind {
                        0 => &mut wf.starts[i].meta,
                        1 => &mut wf.allows[i].meta,
                        2 => &mut wf.rules.denies[i].meta,
                        3 => &mut wf.rules.deny_starts[i].meta,
                        _ => &mut wf.rules.requires[i].meta,
                    };
                    put(m, file, line, column);
                }
                line += 1; // `}`
            }
        }
        line += 1 + t.below(2) as u32;
    }

    // Top-level rules are numbered in source order (as the compiler lowers them).
    let key = |m: &RuleMeta| (m.file.clone(), m.line, m.column);
    ir.guardrails.denies.sort_by_key(|r| key(&r.meta));
    ir.guardrails.deny_starts.sort_by_key(|r| key(&r.meta));
    ir.guardrails.requires.sort_by_key(|r| key(&r.meta));
    for (i, r) in ir.guardrails.denies.iter_mut().enumerate() {
        r.meta.id = format!("deny/{}", i + 1);
    }
    for (i, r) in ir.guardrails.deny_starts.iter_mut().enumerate() {
        r.meta.id = format!("deny_start/{}", i + 1);
    }
    for (i, r) in ir.guardrails.requires.iter_mut().enumerate() {
        r.meta.id = format!("require/{}", i + 1);
    }
}

/// A target: one tool, a set of tools (as a tag would give), or every tool.
fn target(t: &mut Tape<'_>, ir: &PolicyIr) -> TargetIr {
    let n = ir.tools.len();
    match t.weighted(&[60, 25, 15]) {
        0 => {
            let tool = t.below(n);
            TargetIr { tools: vec![ToolId(tool as u32)], text: ir.tools[tool].name.clone() }
        }
        1 => {
            let mut tools: Vec<ToolId> =
                (0..n).filter(|_| t.chance(50)).map(|i| ToolId(i as u32)).collect();
            if tools.is_empty() {
                tools.push(ToolId(t.below(n) as u32));
            }
            TargetIr { tools, text: "[tagged]".to_owned() }
        }
        _ => TargetIr { tools: (0..n).map(|i| ToolId(i as u32)).collect(), text: "*".to_owned() },
    }
}

/// Requirement lists: `weights` for 0, 1, 2 requirements.
fn requirements(t: &mut Tape<'_>, ir: &PolicyIr, weights: &[u32]) -> Vec<EvidenceRequirementIr> {
    (0..t.weighted(weights)).map(|_| requirement(t, ir)).collect()
}

fn requirement(t: &mut Tape<'_>, ir: &PolicyIr) -> EvidenceRequirementIr {
    let e = t.below(ir.evidence.len());
    let kind = &ir.evidence[e];
    let count = 1 + t.weighted(&[75, 20, 5]) as u32;
    let by = (kind.by_human && t.chance(60)).then(|| RoleId(t.below(ir.roles.len()) as u32));
    let mut fields: Vec<(String, Value)> = Vec::new();
    for f in &kind.fields {
        if t.chance(45) {
            fields.push((f.name.clone(), literal_of(t, &f.ty)));
        }
    }
    t.shuffle(&mut fields);
    EvidenceRequirementIr { evidence: EvidenceId(e as u32), count, by, fields }
}

/// A literal of a declared type (an enumeration's own values).
fn literal_of(t: &mut Tape<'_>, ty: &ValueType) -> Value {
    match ty {
        ValueType::Enum(variants) => Value::Str(t.pick(variants).clone()),
        other => literal(t, Ty::of(other), None),
    }
}

fn literal(t: &mut Tape<'_>, class: Class, variants: Option<&[String]>) -> Value {
    match class {
        Class::Str => match variants {
            Some(vs) if !vs.is_empty() => Value::Str(t.pick(vs).clone()),
            _ => Value::Str((*t.pick(STRS)).to_owned()),
        },
        Class::Int => Value::Int(*t.pick(INTS)),
        Class::Bool => Value::Bool(t.chance(50)),
        Class::Dur => Value::Duration(*t.pick(DURS)),
        Class::List => Value::StringList(t.pick(LISTS).iter().map(|s| (*s).to_owned()).collect()),
        Class::Kind => Value::Kind(*t.pick(KINDS)),
        Class::Cmd => Value::Str("ls".to_owned()),
    }
}

// ---------------------------------------------------------------------------------------------
// Conditions

/// What a condition may read.
#[derive(Clone, Copy)]
struct Scope<'a> {
    /// The rule's targeted tools; `None` in start rules (no arguments).
    tools: Option<&'a [ToolId]>,
    /// Inside `may`: `principal`.
    principal: bool,
}

/// A condition, present `percent`% of the time.
fn opt_cond(t: &mut Tape<'_>, ir: &PolicyIr, scope: Scope<'_>, percent: u32) -> Option<Cond> {
    t.chance(percent).then(|| cond(t, ir, scope, 0))
}

fn cond(t: &mut Tape<'_>, ir: &PolicyIr, scope: Scope<'_>, depth: usize) -> Cond {
    if depth < 3 && t.chance(30) {
        return match t.weighted(&[2, 3, 3, 1]) {
            0 => Cond::Not(Box::new(cond(t, ir, scope, depth + 1))),
            1 => Cond::And((0..2 + t.below(2)).map(|_| cond(t, ir, scope, depth + 1)).collect()),
            2 => Cond::Or((0..2 + t.below(2)).map(|_| cond(t, ir, scope, depth + 1)).collect()),
            // Rare shapes a compiler may still lower: empty and single-item lists.
            _ => {
                let items = (0..t.below(2)).map(|_| cond(t, ir, scope, depth + 1)).collect();
                if t.chance(50) { Cond::And(items) } else { Cond::Or(items) }
            }
        };
    }
    let who = |t: &mut Tape<'_>| who(t, scope);
    match t.weighted(&[10, 35, 10, 5, 10, 6, 6, 8, 12, 10, 12, 10]) {
        0 => Cond::Truth(operand(t, ir, scope, Class::Bool, 80).0),
        1 => {
            let class = [Class::Str, Class::Int, Class::Bool, Class::Dur, Class::List, Class::Kind]
                [t.weighted(&[30, 20, 10, 15, 10, 15])];
            let (a, variants) = operand(t, ir, scope, class, 90);
            let (b, _) = match variants {
                Some(vs) if t.chance(80) => (Operand::Literal(literal(t, class, Some(&vs))), None),
                _ => operand(t, ir, scope, class, 25),
            };
            let op = if matches!(class, Class::Int | Class::Dur) {
                *t.pick(&[CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge])
            } else {
                *t.pick(&[CmpOp::Eq, CmpOp::Ne])
            };
            if t.chance(20) { Cond::Compare(op, b, a) } else { Cond::Compare(op, a, b) }
        }
        2 => {
            let (value, _) = operand(t, ir, scope, Class::Str, 80);
            let (list, _) = operand(t, ir, scope, Class::List, 40);
            Cond::In(value, list)
        }
        3 => {
            let (list, _) = operand(t, ir, scope, Class::List, 80);
            let (value, _) = operand(t, ir, scope, Class::Str, 30);
            Cond::Contains(list, value)
        }
        4 => Cond::Matches(operand(t, ir, scope, Class::Str, 90).0, glob(t)),
        5 => Cond::AnyMatches(operand(t, ir, scope, Class::List, 90).0, glob(t)),
        6 => Cond::AllMatches(operand(t, ir, scope, Class::List, 90).0, glob(t)),
        7 => Cond::HasRole(who(t), RoleId(t.below(ir.roles.len()) as u32)),
        // v2: where the targeted tools lack a `command` or `path` argument, a `calls(...)`.
        8 => runs(t, ir, scope).unwrap_or_else(|| calls_cond(t, ir)),
        9 => runs_only(t, ir, scope).unwrap_or_else(|| calls_cond(t, ir)),
        10 => path_cond(t, ir, scope).unwrap_or_else(|| calls_cond(t, ir)),
        _ => calls_cond(t, ir),
    }
}

/// The arguments that have type `ty` on every tool the rule targets.
fn args_of(ir: &PolicyIr, scope: Scope<'_>, ty: &ValueType) -> Vec<String> {
    let Some(tools) = scope.tools else { return Vec::new() };
    let Some(&first) = tools.first() else { return Vec::new() };
    let has = |tool: ToolId, name: &str| {
        ir.tools[tool.index()].params.iter().any(|q| q.name == name && q.ty == *ty)
    };
    ir.tools[first.index()]
        .params
        .iter()
        .filter(|p| p.ty == *ty && tools.iter().all(|&tool| has(tool, &p.name)))
        .map(|p| p.name.clone())
        .collect()
}

/// A command pattern: 1 to 4 items from [`PATTERN_WORDS`], `...` anywhere.
fn pattern(t: &mut Tape<'_>) -> CommandPatternIr {
    let n = 1 + t.weighted(&[30, 35, 25, 10]);
    let mut items: Vec<PatternItemIr> = (0..n)
        .map(|_| {
            if t.chance(20) {
                PatternItemIr::Rest
            } else {
                PatternItemIr::Word((*t.pick(PATTERN_WORDS)).to_owned())
            }
        })
        .collect();
    // Often open-ended, as rules are written: `["git", "push", ...]`.
    if n < 4 && items.last() != Some(&PatternItemIr::Rest) && t.chance(45) {
        items.push(PatternItemIr::Rest);
    }
    CommandPatternIr { items }
}

/// `CMD runs PATTERN`, if every targeted tool has a `command` argument.
fn runs(t: &mut Tape<'_>, ir: &PolicyIr, scope: Scope<'_>) -> Option<Cond> {
    let args = args_of(ir, scope, &ValueType::Command);
    if args.is_empty() {
        return None;
    }
    let arg = Operand::Arg(t.pick(&args).clone());
    Some(Cond::Runs(arg, pattern(t)))
}

/// `CMD runs only [PATTERN, ...]` with 1 to 5 patterns.
fn runs_only(t: &mut Tape<'_>, ir: &PolicyIr, scope: Scope<'_>) -> Option<Cond> {
    let args = args_of(ir, scope, &ValueType::Command);
    if args.is_empty() {
        return None;
    }
    let arg = Operand::Arg(t.pick(&args).clone());
    let n = 1 + t.weighted(&[20, 30, 25, 15, 10]);
    let mut patterns: Vec<CommandPatternIr> = (0..n).map(|_| pattern(t)).collect();
    // An allow list names commands from their first word, as rules do: `["git", "diff", ...]`.
    for p in &mut patterns {
        if t.chance(60)
            && let Some(first) = p.items.first_mut()
        {
            *first = PatternItemIr::Word((*t.pick(&["git", "rm", "ls", "cat", "env", "*"])).into());
        }
    }
    Some(Cond::RunsOnly(arg, patterns))
}

/// `under`, `==`, `!=`, `in`, `contains` or `matches` on a `path` argument.
fn path_cond(t: &mut Tape<'_>, ir: &PolicyIr, scope: Scope<'_>) -> Option<Cond> {
    let args = args_of(ir, scope, &ValueType::Path);
    if args.is_empty() {
        return None;
    }
    let arg = Operand::Arg(t.pick(&args).clone());
    let path_lit = |t: &mut Tape<'_>| (*t.pick(PATH_LITS)).to_owned();
    Some(match t.weighted(&[45, 20, 15, 20]) {
        0 => Cond::Under(arg, (*t.pick(DIRS)).to_owned()),
        1 => {
            let lit = Operand::Literal(Value::Str(path_lit(t)));
            let op = if t.chance(70) { CmpOp::Eq } else { CmpOp::Ne };
            if t.chance(20) { Cond::Compare(op, lit, arg) } else { Cond::Compare(op, arg, lit) }
        }
        2 => {
            let list: Vec<String> = (0..t.below(4)).map(|_| path_lit(t)).collect();
            let list = Operand::Literal(Value::StringList(list));
            if t.chance(70) { Cond::In(arg, list) } else { Cond::Contains(list, arg) }
        }
        _ => Cond::Matches(arg, (*t.pick(PATH_GLOBS)).to_owned()),
    })
}

/// `calls(TARGET [within D])`: a tool, a glob over tool names or tags; half of them windowed.
fn calls(t: &mut Tape<'_>, ir: &PolicyIr) -> CallsIr {
    let n = ir.tools.len();
    let single = |t: &mut Tape<'_>| {
        let tool = t.below(n);
        TargetIr { tools: vec![ToolId(tool as u32)], text: ir.tools[tool].name.clone() }
    };
    let (target, glob) = match t.weighted(&[45, 30, 25]) {
        0 => (single(t), None),
        1 => {
            let g = *t.pick(CALL_GLOBS);
            let matcher = crate::glob::Glob::new(g);
            let tools: Vec<ToolId> = (0..n)
                .filter(|&i| matcher.is_match(&ir.tools[i].name))
                .map(|i| ToolId(i as u32))
                .collect();
            if tools.is_empty() {
                // The compiler refuses a target that matches no declared tool.
                (single(t), None)
            } else {
                (TargetIr { tools, text: g.to_owned() }, Some(g.to_owned()))
            }
        }
        _ => {
            let tags: Vec<&str> = TAGS.iter().copied().filter(|_| t.chance(40)).collect();
            let tools: Vec<ToolId> = (0..n)
                .filter(|&i| ir.tools[i].tags.iter().any(|g| tags.contains(&g.as_str())))
                .map(|i| ToolId(i as u32))
                .collect();
            if tools.is_empty() {
                (single(t), None)
            } else {
                (TargetIr { tools, text: format!("[{}]", tags.join(", ")) }, None)
            }
        }
    };
    let within_seconds = t.chance(50).then(|| *t.pick(WINDOWS));
    CallsIr { target, glob, within_seconds }
}

/// `calls(...)` compared with a small integer.
fn calls_cond(t: &mut Tape<'_>, ir: &PolicyIr) -> Cond {
    let a = Operand::Calls(calls(t, ir));
    let b = Operand::Literal(Value::Int(*t.pick(&[0, 1, 2, 3])));
    let op = *t.pick(&[CmpOp::Lt, CmpOp::Gt, CmpOp::Eq, CmpOp::Le, CmpOp::Ge, CmpOp::Ne]);
    if t.chance(20) { Cond::Compare(op, b, a) } else { Cond::Compare(op, a, b) }
}

/// Every condition of the policy (of every rule and entitlement), as written.
fn conditions(ir: &PolicyIr) -> Vec<&Cond> {
    let mut out: Vec<&Cond> = Vec::new();
    for rules in std::iter::once(&ir.guardrails).chain(ir.workflows.iter().map(|w| &w.rules)) {
        out.extend(rules.denies.iter().filter_map(|r| r.condition.as_ref()));
        out.extend(rules.deny_starts.iter().filter_map(|r| r.condition.as_ref()));
        out.extend(rules.requires.iter().filter_map(|r| r.condition.as_ref()));
    }
    for w in &ir.workflows {
        out.extend(w.starts.iter().filter_map(|r| r.condition.as_ref()));
        out.extend(w.allows.iter().filter_map(|r| r.condition.as_ref()));
    }
    for r in &ir.roles {
        out.extend(r.entitlements.iter().filter_map(|e| e.condition.as_ref()));
    }
    out
}

/// The leaves of a condition.
fn leaves<'c>(c: &'c Cond, out: &mut Vec<&'c Cond>) {
    match c {
        Cond::Not(inner) => leaves(inner, out),
        Cond::And(items) | Cond::Or(items) => items.iter().for_each(|i| leaves(i, out)),
        leaf => out.push(leaf),
    }
}

/// The `within` windows the policy's `calls(...)` use, in seconds.
fn windows(ir: &PolicyIr) -> Vec<i64> {
    let mut out = Vec::new();
    for c in conditions(ir) {
        let mut ls = Vec::new();
        leaves(c, &mut ls);
        for leaf in ls {
            if let Cond::Compare(_, a, b) = leaf {
                for op in [a, b] {
                    if let Operand::Calls(CallsIr { within_seconds: Some(w), .. }) = op
                        && !out.contains(w)
                    {
                        out.push(*w);
                    }
                }
            }
        }
    }
    out
}

fn glob(t: &mut Tape<'_>) -> String {
    (*t.pick(GLOBS)).to_owned()
}

fn who(t: &mut Tape<'_>, scope: Scope<'_>) -> Who {
    if scope.principal && t.chance(50) {
        Who::Principal
    } else if t.chance(50) {
        Who::Caller
    } else {
        Who::Initiator
    }
}

/// An operand of `class`: one that reads the request `percent`% of the time (when there is
/// one), else a literal. With the enumeration values it can take, if it has an enumeration type.
fn operand(
    t: &mut Tape<'_>,
    ir: &PolicyIr,
    scope: Scope<'_>,
    class: Class,
    percent: u32,
) -> (Operand, Option<Vec<String>>) {
    let mut reads: Vec<(Operand, Option<Vec<String>>)> = Vec::new();
    let variants = |ty: &ValueType| match ty {
        ValueType::Enum(vs) => Some(vs.clone()),
        _ => None,
    };
    // Arguments every targeted tool has, with one type.
    if let Some(tools) = scope.tools
        && let Some(&first) = tools.first()
    {
        for p in &ir.tools[first.index()].params {
            if Ty::of(&p.ty) != class {
                continue;
            }
            let everywhere = tools.iter().all(|&tool| {
                ir.tools[tool.index()]
                    .params
                    .iter()
                    .any(|q| q.name == p.name && Ty::of(&q.ty) == class)
            });
            if everywhere {
                let same = tools.iter().all(|&tool| {
                    ir.tools[tool.index()].params.iter().any(|q| q.name == p.name && q.ty == p.ty)
                });
                reads.push((
                    Operand::Arg(p.name.clone()),
                    if same { variants(&p.ty) } else { None },
                ));
            }
        }
    }
    for (i, c) in ir.contexts.iter().enumerate() {
        if Ty::of(&c.ty) == class {
            reads.push((Operand::Context(ContextId(i as u32)), variants(&c.ty)));
        }
    }
    let mut whos = vec![Who::Initiator, Who::Caller];
    if scope.principal {
        whos.push(Who::Principal);
    }
    for (i, a) in ir.attributes.iter().enumerate() {
        if Ty::of(&a.ty) == class {
            for &w in &whos {
                reads.push((Operand::Attribute(w, AttributeId(i as u32)), variants(&a.ty)));
            }
        }
    }
    match class {
        Class::Str => whos.iter().for_each(|&w| reads.push((Operand::Id(w), None))),
        Class::Kind => whos.iter().for_each(|&w| reads.push((Operand::Kind(w), None))),
        Class::Int => {
            reads.push((Operand::Depth, None));
            if t.chance(30) {
                reads.push((Operand::Calls(calls(t, ir)), None));
            }
        }
        _ => {}
    }
    if !reads.is_empty() && t.chance(percent) {
        let i = t.below(reads.len());
        reads.swap_remove(i)
    } else {
        (Operand::Literal(literal(t, class, None)), None)
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

/// The roles that hold `role` (it, and every role extending it, transitively).
fn holders(ir: &PolicyIr, role: RoleId) -> Vec<RoleId> {
    let mut out = vec![role];
    loop {
        let before = out.len();
        for (i, r) in ir.roles.iter().enumerate() {
            let i = RoleId(i as u32);
            if !out.contains(&i) && r.extends.iter().any(|p| out.contains(p)) {
                out.push(i);
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

/// A request against `ir`, as JSON (decoded by the caller, as a gateway would), and whether it
/// was made malformed on purpose (a shape error of `cwd`, `time` or `history`). `windows` are
/// the policy's `calls(... within D)` windows, to put history entries at their edges.
fn request(t: &mut Tape<'_>, ir: &PolicyIr, windows: &[i64]) -> (J, bool) {
    let is_call = t.chance(60);
    // A request with wrong-typed values here and there (denied at step 1).
    let corrupt = t.chance(8);
    let wf = if t.chance(97) { Some(t.pick(&ir.workflows)) } else { None };
    let wf_name = wf.map_or("nope".to_owned(), |w| w.name.clone());

    // The tool: mostly one the workflow allows.
    let allowed: Vec<ToolId> = wf
        .map(|w| w.allows.iter().flat_map(|a| a.target.tools.iter().copied()).collect())
        .unwrap_or_default();
    let tool: Option<ToolId> = if !is_call {
        None
    } else if !allowed.is_empty() && t.chance(92) {
        Some(*t.pick(&allowed))
    } else if t.chance(80) {
        Some(ToolId(t.below(ir.tools.len()) as u32))
    } else {
        None
    };

    // Roles that open the door: a `may` for the tool (calls), a start rule's roles (starts).
    let enabling: Vec<RoleId> = match (is_call, tool, wf) {
        (true, Some(tool), _) => (0..ir.roles.len())
            .filter(|&r| ir.roles[r].entitlements.iter().any(|e| e.target.tools.contains(&tool)))
            .map(|r| RoleId(r as u32))
            .flat_map(|r| holders(ir, r))
            .collect(),
        (false, _, Some(wf)) => {
            wf.starts.iter().flat_map(|s| s.by.iter().flat_map(|&r| holders(ir, r))).collect()
        }
        _ => Vec::new(),
    };

    // The chain: mostly within max_depth.
    let max_depth = wf.map_or(1, |w| w.max_depth as usize);
    let depth = if t.chance(92) { t.below(max_depth + 1) } else { max_depth + 1 + t.below(2) };
    let mut chain = Vec::new();
    for hop in 0..=depth {
        let kind = if hop == 0 {
            KINDS[t.weighted(&[66, 30, 4])]
        } else {
            [PrincipalKind::Agent, PrincipalKind::Human, PrincipalKind::Service]
                [t.weighted(&[70, 15, 15])]
        };
        chain.push(principal(t, ir, kind, &enabling, corrupt));
    }
    let chain_ids: Vec<String> =
        chain.iter().map(|p| p["id"].as_str().unwrap_or_default().to_owned()).collect();

    let mut r = json!({"action": if is_call { "call" } else { "start" }, "workflow": wf_name});
    r["chain"] = J::Array(chain);

    let mut context = serde_json::Map::new();
    for c in &ir.contexts {
        if let Some(v) = maybe_value(t, &c.ty, corrupt) {
            context.insert(c.name.clone(), v);
        }
    }
    if t.chance(8) {
        // Undeclared: ignored, whatever it holds.
        context.insert("junk".to_owned(), json!({"a": 1.5}));
    }
    if !context.is_empty() || t.chance(50) {
        r["context"] = J::Object(context);
    }

    let subject = match t.weighted(&[85, 10, 5]) {
        0 => Some("sha256:a"),
        1 => None,
        _ => Some("sha256:b"),
    };
    if let Some(s) = subject {
        r["subject"] = json!(s);
    }

    // The run (§10): `cwd`, `time`, `history`, each well formed most of the time.
    let mut malformed = false;
    if let Some((cwd, bad)) = run::cwd(t) {
        r["cwd"] = cwd;
        malformed |= bad;
    }
    let now = match run::time(t) {
        None => None,
        Some((now, text, bad)) => {
            r["time"] = text;
            malformed |= bad;
            now
        }
    };
    let names: Vec<&str> = ir.tools.iter().map(|tool| tool.name.as_str()).collect();
    if let Some((history, bad)) = run::history(t, &names, windows, now) {
        r["history"] = history;
        malformed |= bad;
    }

    if is_call {
        match tool {
            Some(tool) => {
                let decl = &ir.tools[tool.index()];
                r["tool"] = json!(decl.name);
                let mut args = serde_json::Map::new();
                for p in &decl.params {
                    if let Some(v) = maybe_value(t, &p.ty, corrupt) {
                        args.insert(p.name.clone(), v);
                    }
                }
                if corrupt && t.chance(20) {
                    args.insert("bogus".to_owned(), json!(1));
                }
                if !args.is_empty() || t.chance(50) {
                    r["args"] = J::Object(args);
                }
            }
            None => r["tool"] = json!("nope.tool"),
        }
        if t.chance(5) {
            r["ttl"] = json!("not checked on calls");
        }
    } else {
        let limit = wf.map_or(3600, |w| w.ttl_seconds);
        match t.weighted(&[45, 40, 15]) {
            0 => {}
            1 => {
                let secs = *t.pick(&[limit, 0, limit / 2, limit.min(60)]);
                r["ttl"] = json!(spell(t, secs));
            }
            _ => {
                let secs = *t.pick(&[limit + 1, limit + 60, limit * 2]);
                r["ttl"] = json!(spell(t, secs));
            }
        }
        if t.chance(10) {
            r["tool"] = json!(7);
            r["args"] = json!("not checked on starts");
        }
    }

    // Evidence for the requirements that can apply.
    let mut paths: Vec<&[EvidenceRequirementIr]> = Vec::new();
    let mut extras: Vec<&[EvidenceRequirementIr]> = Vec::new();
    if let Some(wf) = wf {
        if is_call {
            if let Some(tool) = tool {
                for a in wf.allows.iter().filter(|a| a.target.tools.contains(&tool)) {
                    paths.push(&a.require);
                }
                for rf in ir.guardrails.requires.iter().chain(&wf.rules.requires) {
                    if rf.target.tools.contains(&tool) {
                        extras.push(&rf.require);
                    }
                }
            }
        } else {
            paths.extend(wf.starts.iter().map(|s| &s.require[..]));
        }
    }
    let mut items = Vec::new();
    let mut all: Vec<&EvidenceRequirementIr> = extras.iter().flat_map(|x| x.iter()).collect();
    all.extend(paths.iter().flat_map(|p| p.iter()));
    let mode = t.weighted(&[40, 40, 20]);
    if mode < 2 && !paths.is_empty() {
        let path = *t.pick(&paths);
        for r in path.iter().chain(extras.iter().flat_map(|x| x.iter())) {
            if mode == 0 || t.chance(50) {
                let n = r.count as usize + usize::from(t.chance(15));
                let offset = t.below(GIVERS.len());
                for k in 0..n {
                    items.push(item(t, ir, r, subject, &chain_ids, offset + k, None));
                }
            }
        }
    }
    for _ in 0..t.weighted(&[45, 30, 25]) {
        if all.is_empty() || t.chance(10) {
            items.push(json!({"kind": if t.chance(50) { "vibes" } else { "tests_passed" }}));
            continue;
        }
        // Mostly a `by human` requirement, where most flaws matter.
        let human: Vec<&EvidenceRequirementIr> =
            all.iter().copied().filter(|r| ir.evidence[r.evidence.index()].by_human).collect();
        let r = if !human.is_empty() && t.chance(60) { *t.pick(&human) } else { *t.pick(&all) };
        let flaw = t.below(Flaw::ALL.len());
        let offset = t.below(GIVERS.len());
        items.push(item(t, ir, r, subject, &chain_ids, offset, Some(Flaw::ALL[flaw])));
    }
    if t.chance(50) {
        t.shuffle(&mut items);
    }
    if !items.is_empty() || t.chance(50) {
        r["evidence"] = J::Array(items);
    }
    (r, malformed)
}

fn principal(
    t: &mut Tape<'_>,
    ir: &PolicyIr,
    kind: PrincipalKind,
    enabling: &[RoleId],
    corrupt: bool,
) -> J {
    let id = match kind {
        PrincipalKind::Human => *t.pick(HUMANS),
        PrincipalKind::Service => *t.pick(SERVICES),
        PrincipalKind::Agent => *t.pick(AGENTS),
    };
    let mut p = json!({"id": id, "kind": kind.as_str()});
    let mut roles: Vec<String> = Vec::new();
    if kind != PrincipalKind::Agent {
        if !enabling.is_empty() && t.chance(90) {
            roles.push(ir.roles[t.pick(enabling).index()].name.clone());
        }
        if t.chance(25) {
            roles.push(t.pick(&ir.roles).name.clone());
        }
        if t.chance(5) {
            roles.push("ghost".to_owned());
        }
    } else if t.chance(10) {
        roles.push(t.pick(&ir.roles).name.clone());
    }
    if !roles.is_empty() || t.chance(30) {
        p["roles"] = json!(roles);
    }
    let mut attrs = serde_json::Map::new();
    for a in &ir.attributes {
        if let Some(v) = maybe_value(t, &a.ty, corrupt) {
            attrs.insert(a.name.clone(), v);
        }
    }
    if t.chance(8) {
        attrs.insert("junk".to_owned(), json!([1, "a"]));
    }
    if !attrs.is_empty() {
        p["attrs"] = J::Object(attrs);
    }
    p
}

/// A value for a declared slot: mostly well typed; sometimes absent or `null`; wrong-typed
/// now and then in a request chosen to be `corrupt`.
fn maybe_value(t: &mut Tape<'_>, ty: &ValueType, corrupt: bool) -> Option<J> {
    match t.weighted(&[84, 10, 3, if corrupt { 12 } else { 0 }]) {
        0 => Some(good_value(t, ty)),
        1 => None,
        2 => Some(J::Null),
        _ => Some(wrong_value(t, ty)),
    }
}

fn good_value(t: &mut Tape<'_>, ty: &ValueType) -> J {
    match ty {
        ValueType::String => json!(t.pick(STRS)),
        ValueType::Int => {
            if t.chance(3) {
                json!(i64::MAX)
            } else {
                json!(t.pick(INTS))
            }
        }
        ValueType::Bool => json!(t.chance(50)),
        ValueType::Duration => {
            let secs = *t.pick(DURS);
            json!(spell(t, secs))
        }
        ValueType::StringList => json!(t.pick(LISTS)),
        ValueType::Enum(variants) => json!(t.pick(variants)),
        ValueType::Command => json!(run::command_line(t)),
        ValueType::Path => json!(run::path_text(t)),
    }
}

fn wrong_value(t: &mut Tape<'_>, ty: &ValueType) -> J {
    match t.weighted(&[60, 15, 15, 10]) {
        0 => match ty {
            ValueType::String | ValueType::StringList | ValueType::Command | ValueType::Path => {
                json!(3)
            }
            ValueType::Int => json!(*t.pick(&["3", "1e2"])),
            ValueType::Bool => json!("true"),
            ValueType::Duration => json!(*t.pick(&["soon", "30", "5w", "99999999999999999999d"])),
            ValueType::Enum(_) => json!("qa"),
        },
        1 => json!(1.5),
        2 => json!({"a": 1}),
        _ => json!(["a", 1]),
    }
}

/// `secs` as a duration string, in one of its spellings.
fn spell(t: &mut Tape<'_>, secs: i64) -> String {
    let mut spellings = vec![format!("{secs}s")];
    for (scale, unit) in [(60, 'm'), (3600, 'h'), (86_400, 'd')] {
        if secs % scale == 0 {
            spellings.push(format!("{}{unit}", secs / scale));
        }
    }
    if t.chance(5) {
        spellings.push(format!("0{secs}s"));
    }
    t.pick(&spellings).clone()
}

/// How an evidence item misses a requirement.
#[derive(Clone, Copy, Debug)]
enum Flaw {
    /// It meets it (a duplicate of the giver at `offset` if one was given already).
    None,
    SelfApproval,
    NotHuman,
    WrongSubject,
    NoSubject,
    WrongField,
    WrongFieldType,
    MissingField,
    NoGiver,
    LacksRole,
    NullFields,
}

impl Flaw {
    const ALL: &[Flaw] = &[
        Flaw::None,
        Flaw::SelfApproval,
        Flaw::NotHuman,
        Flaw::WrongSubject,
        Flaw::NoSubject,
        Flaw::WrongField,
        Flaw::WrongFieldType,
        Flaw::MissingField,
        Flaw::NoGiver,
        Flaw::LacksRole,
        Flaw::NullFields,
    ];
}

/// An evidence item for requirement `r`, meeting it unless `flaw` says otherwise. Givers are
/// taken from [`GIVERS`] at `giver`, skipping ids in the chain.
fn item(
    t: &mut Tape<'_>,
    ir: &PolicyIr,
    r: &EvidenceRequirementIr,
    subject: Option<&str>,
    chain: &[String],
    giver: usize,
    flaw: Option<Flaw>,
) -> J {
    let kind = &ir.evidence[r.evidence.index()];
    let flaw = flaw.unwrap_or(Flaw::None);
    let mut it = json!({"kind": kind.name});

    let subject = match flaw {
        Flaw::WrongSubject => Some("sha256:zzz"),
        Flaw::NoSubject => None,
        _ => subject.or(Some("sha256:a")),
    };
    if (kind.bound || t.chance(20))
        && let Some(s) = subject
    {
        it["subject"] = json!(s);
    }

    let mut fields = serde_json::Map::new();
    for (i, (name, value)) in r.fields.iter().enumerate() {
        let v = match flaw {
            Flaw::WrongField if i == 0 => other_value(t, value),
            Flaw::WrongFieldType if i == 0 => json!(1.5),
            Flaw::MissingField if i == 0 => continue,
            _ => value_json(t, value),
        };
        fields.insert(name.clone(), v);
    }
    if t.chance(15)
        && let Some(f) = kind.fields.first()
        && !fields.contains_key(&f.name)
    {
        fields.insert(f.name.clone(), good_value(t, &f.ty));
    }
    if matches!(flaw, Flaw::NullFields) {
        it["fields"] = J::Null;
    } else if !fields.is_empty() {
        it["fields"] = J::Object(fields);
    }

    if kind.by_human || t.chance(10) {
        let free: Vec<&str> =
            GIVERS.iter().copied().filter(|g| !chain.iter().any(|c| c == g)).collect();
        let id = match flaw {
            Flaw::SelfApproval => chain[t.below(chain.len())].clone(),
            _ => free[giver % free.len().max(1)].to_owned(),
        };
        let kind = match flaw {
            Flaw::NotHuman => *t.pick(&["service", "agent"]),
            _ => "human",
        };
        let mut roles: Vec<String> = Vec::new();
        match (r.by, flaw) {
            (Some(_), Flaw::LacksRole) => {}
            (Some(role), _) => {
                let holders = holders(ir, role);
                roles.push(ir.roles[t.pick(&holders).index()].name.clone());
            }
            (None, _) => {
                if t.chance(30) {
                    roles.push(t.pick(&ir.roles).name.clone());
                }
            }
        }
        if !matches!(flaw, Flaw::NoGiver) {
            it["by"] = json!({"id": id, "kind": kind, "roles": roles});
        } else if t.chance(50) {
            it["by"] = J::Null;
        }
    }
    it
}

/// A literal as it appears in a request (durations in some spelling).
fn value_json(t: &mut Tape<'_>, v: &Value) -> J {
    match v {
        Value::Str(s) => json!(s),
        Value::Int(i) => json!(i),
        Value::Bool(b) => json!(b),
        Value::Duration(d) => json!(spell(t, *d)),
        Value::StringList(items) => json!(items),
        Value::Kind(k) => json!(k.as_str()),
    }
}

/// A value of the same type as `v` but (usually) another value.
fn other_value(t: &mut Tape<'_>, v: &Value) -> J {
    match v {
        Value::Str(s) => json!(format!("{s}!")),
        Value::Int(i) => json!(i.wrapping_add(1)),
        Value::Bool(b) => json!(!b),
        Value::Duration(d) => json!(spell(t, d.saturating_add(1))),
        Value::StringList(items) => {
            let mut items = items.clone();
            items.push("z".to_owned());
            json!(items)
        }
        Value::Kind(_) => json!("nobody"),
    }
}

// ---------------------------------------------------------------------------------------------
// The property

/// A generated case: the policy and its requests, decoded (with, rarely, a request only code
/// can build: an empty chain, a negative ttl), and the texts of the requests made malformed on
/// purpose (which must not decode).
struct Case {
    ir: PolicyIr,
    policy: Policy,
    requests: Vec<Generated>,
    malformed: Vec<String>,
}

/// A generated request: its JSON text and what it decodes to.
struct Generated {
    text: String,
    req: Request<'static>,
    /// Changed after decoding, in a way JSON cannot say (so `text` is not `req`).
    edited: bool,
}

fn case(policy_tape: &[u32], request_tapes: &[Vec<u32>]) -> Result<Case, String> {
    let ir = policy(&mut Tape::new(policy_tape));
    let policy = Policy::from_ir(ir.clone()).map_err(|e| {
        format!(
            "generated policy rejected: {e}\n{}",
            serde_json::to_string(&ir).unwrap_or_default()
        )
    })?;
    let windows = windows(&ir);
    let mut requests = Vec::new();
    let mut malformed = Vec::new();
    for tape in request_tapes {
        let mut t = Tape::new(tape);
        let (json, bad) = request(&mut t, &ir, &windows);
        let text = json.to_string();
        let mut req = match (Request::from_json(&text).map(Request::into_owned), bad) {
            (Ok(req), false) => req,
            (Err(_), true) => {
                malformed.push(text);
                continue;
            }
            (Ok(_), true) => {
                return Err(format!("a request meant to be malformed decodes\n{text}"));
            }
            (Err(e), false) => {
                return Err(format!("generated request does not decode: {e}\n{text}"));
            }
        };
        let edited = match t.weighted(&[198, 1, 1]) {
            0 => false,
            1 => {
                req.chain.clear();
                true
            }
            _ => match &mut req.action {
                Action::Start { ttl_seconds } => {
                    *ttl_seconds = Some(-60);
                    true
                }
                Action::Call { .. } => false,
            },
        };
        requests.push(Generated { text, req, edited });
    }
    Ok(Case { ir, policy, requests, malformed })
}

fn tapes() -> impl Strategy<Value = (Vec<u32>, Vec<Vec<u32>>)> {
    (vec(any::<u32>(), POLICY_TAPE), vec(vec(any::<u32>(), REQUEST_TAPE), 1..=REQUESTS_PER_POLICY))
}

fn check(policy_tape: &[u32], request_tapes: &[Vec<u32>]) -> Result<(), TestCaseError> {
    let case = case(policy_tape, request_tapes).map_err(TestCaseError::fail)?;
    // The batch APIs answer as one call per request would, JSON in included; malformed
    // requests are errors there too.
    let batch = case.policy.decide_many(case.requests.iter().map(|g| &g.req));
    let texts = case.requests.iter().map(|g| g.text.as_str());
    let mut from_json =
        case.policy.decide_many_json(texts.chain(case.malformed.iter().map(String::as_str)));
    let bad = from_json.split_off(case.requests.len());
    for (text, decoded) in case.malformed.iter().zip(bad) {
        prop_assert!(decoded.is_err(), "a malformed request decides: {}", text);
    }
    for ((g, batched), decoded) in case.requests.iter().zip(&batch).zip(from_json) {
        let fast = case.policy.decide(&g.req);
        prop_assert_eq!(&fast, batched, "decide_many differs on {}", g.text);
        let text = case.policy.decide_json(&g.req);
        prop_assert_eq!(text, fast.to_json(), "decide_json differs on {}", g.text);
        if !g.edited {
            prop_assert_eq!(Ok(&fast), decoded.as_ref(), "decide_many_json differs on {}", g.text);
        }
        let slow = reference::decide(&case.ir, &g.req);
        if fast != slow {
            return Err(TestCaseError::fail(format!(
                "the evaluators disagree\npolicy IR: {}\nrequest: {}\n(decoded: {:?})\n\
                 fast:      {}\nreference: {}",
                serde_json::to_string(&case.ir).unwrap_or_default(),
                g.text,
                g.req,
                fast.to_json(),
                slow.to_json(),
            )));
        }
    }
    Ok(())
}

/// Total cases: `WRIT_PROPTEST_CASES`, or 20,000.
fn total_cases() -> u32 {
    std::env::var("WRIT_PROPTEST_CASES").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(20_000)
}

const SHARDS: u32 = 2;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: total_cases().div_ceil(SHARDS),
        max_shrink_iters: 20_000,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Shard 1 of 2: the compiled evaluator and the reference decide alike.
    #[test]
    fn differential_fast_and_reference_agree_1((p, rs) in tapes()) {
        check(&p, &rs)?;
    }

    /// Shard 2 of 2 (a separate test so that the two run in parallel).
    #[test]
    fn differential_fast_and_reference_agree_2((p, rs) in tapes()) {
        check(&p, &rs)?;
    }
}

// ---------------------------------------------------------------------------------------------
// The generator's mix

/// Which step of LANGUAGE.md §5 decided, from the reasons.
fn step(d: &Decision, is_call: bool) -> &'static str {
    let first = d.reasons.first().map_or("", String::as_str);
    match d.decision {
        Outcome::Allow => "allow",
        Outcome::Pending => "pending",
        Outcome::Deny if first.starts_with("depth ") => "deny: depth",
        Outcome::Deny if first.starts_with("no rule in ") => "deny: no allow",
        Outcome::Deny if first.contains(" is not entitled to ") => "deny: delegation",
        Outcome::Deny if first.starts_with("no start rule ") => "deny: no start rule",
        Outcome::Deny
            if first.starts_with("the requested ttl ") && !first.ends_with("negative") =>
        {
            "deny: ttl"
        }
        Outcome::Deny if !d.rules.is_empty() && is_call => "deny: deny rule",
        Outcome::Deny if !d.rules.is_empty() => "deny: deny start",
        Outcome::Deny => "deny: step 1",
    }
}

/// The v2 leaves (`runs`, `runs only`, `under`, comparisons of `path` arguments, `calls`)
/// of the conditions of rules that target the tool `req` calls, with their kind.
fn v2_leaves<'i>(ir: &'i PolicyIr, req: &Request<'_>) -> Vec<(&'static str, &'i Cond)> {
    let Action::Call { tool, .. } = &req.action else { return Vec::new() };
    let Some(t) = ir.tools.iter().position(|x| x.name == *tool) else { return Vec::new() };
    let t = ToolId(t as u32);
    let is_path = |op: &Operand| {
        matches!(op, Operand::Arg(name)
            if ir.tools[t.index()].params.iter().any(|p| p.name == *name && p.ty == ValueType::Path))
    };
    let mut conds: Vec<&Cond> = Vec::new();
    for rules in std::iter::once(&ir.guardrails).chain(ir.workflows.iter().map(|w| &w.rules)) {
        let targeted = |target: &TargetIr| target.tools.contains(&t);
        conds.extend(
            rules
                .denies
                .iter()
                .filter(|r| targeted(&r.target))
                .filter_map(|r| r.condition.as_ref()),
        );
        conds.extend(
            rules
                .requires
                .iter()
                .filter(|r| targeted(&r.target))
                .filter_map(|r| r.condition.as_ref()),
        );
    }
    for w in &ir.workflows {
        conds.extend(
            w.allows
                .iter()
                .filter(|r| r.target.tools.contains(&t))
                .filter_map(|r| r.condition.as_ref()),
        );
    }
    let mut ls = Vec::new();
    for c in conds {
        leaves(c, &mut ls);
    }
    ls.into_iter()
        .filter_map(|leaf| {
            let kind = match leaf {
                Cond::Runs(..) => "runs",
                Cond::RunsOnly(..) => "runs only",
                Cond::Under(..) => "under",
                Cond::Compare(_, a, b) | Cond::In(a, b) | Cond::Contains(b, a)
                    if is_path(a) || is_path(b) =>
                {
                    "path compare"
                }
                Cond::Matches(a, _) if is_path(a) => "path compare",
                Cond::Compare(_, Operand::Calls(c), _) | Cond::Compare(_, _, Operand::Calls(c)) => {
                    if c.within_seconds.is_some() {
                        "calls within"
                    } else {
                        "calls"
                    }
                }
                _ => return None,
            };
            Some((kind, leaf))
        })
        .collect()
}

/// Over a fixed batch of generated cases, every outcome of calls and of starts is at least 5%
/// of its action's decisions, every deny step and every reason an evidence item can fail to
/// count occurs, and the two evaluators agree.
#[test]
fn differential_generator_mix_is_healthy() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let mut outcomes: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    let mut steps: BTreeMap<&str, u32> = BTreeMap::new();
    let mut rejects: BTreeMap<&str, u32> = BTreeMap::new();
    let mut totals: BTreeMap<&str, u32> = BTreeMap::new();
    let mut v2: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    for _ in 0..2000 {
        let (p, rs) = tapes().new_tree(&mut runner).expect("tapes").current();
        let case = case(&p, &rs).unwrap_or_else(|e| panic!("{e}"));
        for Generated { req, .. } in &case.requests {
            let is_call = matches!(req.action, Action::Call { .. });
            let action = if is_call { "call" } else { "start" };
            let (d, trace) = case.policy.decide_explained(req);
            assert_eq!(d, reference::decide(&case.ir, req), "request {req:?}");
            *totals.entry(action).or_default() += 1;
            *outcomes.entry((action, d.decision.as_str())).or_default() += 1;
            *steps.entry(step(&d, is_call)).or_default() += 1;
            if is_call && !matches!(step(&d, is_call), "deny: step 1") {
                for (kind, leaf) in v2_leaves(&case.ir, req) {
                    let truth = match reference::call_condition(&case.ir, req, leaf) {
                        Some(true) => "true",
                        Some(false) => "false",
                        None => "unknown",
                    };
                    *v2.entry((kind, truth)).or_default() += 1;
                }
            }
            if d.decision == Outcome::Allow
                && trace.steps.iter().any(|s| {
                    matches!(s, TraceStep::Evidence { path, need, .. }
                        if *need > 0 && d.rules.first().is_some_and(|r| **r == **path))
                })
            {
                *steps.entry("allow with evidence").or_default() += 1;
            }
            for s in &trace.steps {
                if let TraceStep::Evidence { rejected, .. } = s {
                    for r in rejected {
                        let name = match r.reason {
                            RejectReason::WrongSubject => "wrong subject",
                            RejectReason::FieldMismatch { .. } => "field mismatch",
                            RejectReason::NoGiver => "no giver",
                            RejectReason::GiverNotHuman { .. } => "giver not human",
                            RejectReason::SelfApproval => "self-approval",
                            RejectReason::GiverLacksRole { .. } => "giver lacks role",
                            RejectReason::DuplicateGiver => "duplicate giver",
                        };
                        *rejects.entry(name).or_default() += 1;
                    }
                }
            }
        }
    }
    eprintln!("totals {totals:?}\noutcomes {outcomes:?}\nsteps {steps:?}\nrejections {rejects:?}");
    eprintln!("v2 conditions {v2:?}");
    for kind in ["runs", "runs only", "under", "path compare", "calls", "calls within"] {
        let n = |truth: &str| v2.get(&(kind, truth)).copied().unwrap_or(0);
        let total = n("true") + n("false") + n("unknown");
        for truth in ["true", "false", "unknown"] {
            assert!(
                n(truth) * 40 >= total && n(truth) >= 10,
                "{kind} is {truth} in {} of {total}, under 2.5%\n{v2:?}",
                n(truth)
            );
        }
    }
    for action in ["call", "start"] {
        let total = totals.get(action).copied().unwrap_or(0);
        for outcome in ["allow", "deny", "pending"] {
            let n = outcomes.get(&(action, outcome)).copied().unwrap_or(0);
            assert!(n * 20 >= total, "{action} {outcome}: {n} of {total}, under 5%\n{outcomes:?}");
        }
    }
    for s in [
        "allow with evidence",
        "deny: step 1",
        "deny: depth",
        "deny: deny rule",
        "deny: no allow",
        "deny: delegation",
        "deny: deny start",
        "deny: no start rule",
        "deny: ttl",
    ] {
        assert!(steps.get(s).copied().unwrap_or(0) >= 20, "{s} too rare: {steps:?}");
    }
    for r in [
        "wrong subject",
        "field mismatch",
        "no giver",
        "giver not human",
        "self-approval",
        "giver lacks role",
        "duplicate giver",
    ] {
        assert!(rejects.get(r).copied().unwrap_or(0) >= 20, "{r} too rare: {rejects:?}");
    }
}

/// The reference passes the conformance corpus on its own, and agrees with the compiled
/// evaluator on every case exactly.
#[test]
fn differential_reference_passes_the_conformance_corpus() {
    use std::collections::BTreeSet;
    let corpora = [
        (crate::testing::edges(), include_str!("../tests/conformance/edges/cases.jsonl")),
        (
            crate::testing::engineering(),
            include_str!("../tests/conformance/engineering/cases.jsonl"),
        ),
    ];
    let mut count = 0;
    for (ir, cases) in corpora {
        let policy = ir.policy();
        for line in cases.lines().filter(|l| !l.trim().is_empty()) {
            let case: J = serde_json::from_str(line).expect("case is JSON");
            let name = case["name"].as_str().unwrap_or("?");
            let text = case["request"].to_string();
            let Ok(req) = Request::from_json(&text) else {
                assert_eq!(case["expect"]["decision"], "error", "{name}: request does not decode");
                count += 1;
                continue;
            };
            let d = reference::decide(&ir.ir, &req);
            assert_eq!(d, policy.decide(&req), "{name}");
            let expect = &case["expect"];
            assert_eq!(Some(d.decision.as_str()), expect["decision"].as_str(), "{name}");
            let want: BTreeSet<&str> = expect["missing"]
                .as_array()
                .map(|m| m.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            let got: BTreeSet<&str> = d.missing.iter().map(|m| &*m.evidence).collect();
            assert_eq!(got, want, "{name}");
            if let Some(ttl) = expect.get("ttl_seconds") {
                assert_eq!(json!(d.ttl_seconds), *ttl, "{name}");
            }
            count += 1;
        }
    }
    assert_eq!(count, 105);
}
