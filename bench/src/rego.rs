//! The Rego encoding (regorus 0.14): modules of one package `writ` plus a data document, and two
//! ways to run them, the bytecode VM (RVM) and the tree-walking interpreter.
//!
//! Encoding (see `bench/README.md`): the input is writ's request JSON unchanged; `data.model`
//! holds what Rego cannot read from the policy text cheaply (role closures for `extends`, tool
//! tags, workflow `max_depth` and `ttl`). Every writ rule is one rule body, guarded first by
//! `input.workflow == ...` and the tool or tag, so a body fails fast when it does not apply.
//! Evidence is counted in Rego itself with comprehensions (distinct human givers outside the
//! chain holding the role; bound items only for the request's subject). Three-valued logic: a
//! body that reads an undefined value fails, which is "unknown" for allows; denies and
//! `require ... for` rules are written as `not F` where `F` means "known to be false", so that
//! they apply when a value is unknown.

use std::fmt::Write as _;
use std::sync::Arc;

use regorus::languages::rego::compiler::Compiler as RvmCompiler;
use regorus::rvm::program::Program;
use regorus::rvm::vm::RegoVM;
use regorus::{Engine, Rc, Value};

use crate::model::{Cond, Condition, Operand, PolicyModel, Requirement, RuleSet, Target, Who};

pub const ENTRY: &str = "data.writ.allow";

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Emits Rego with helper rules for disjunctions (Rego's `or` is several bodies).
struct Emitter {
    helpers: String,
    next: usize,
}

impl Emitter {
    fn operand(&self, o: &Operand) -> String {
        match o {
            Operand::Arg(a) => format!("input.args.{a}"),
            Operand::Attr(Who::Initiator, a) => format!("initiator.attrs.{a}"),
            Operand::Attr(Who::Caller, a) => format!("caller.attrs.{a}"),
            Operand::Attr(Who::Principal, a) => format!("p.attrs.{a}"),
            Operand::Context(c) => format!("input.context.{c}"),
            Operand::Depth => "depth".into(),
        }
    }

    fn who(w: Who) -> &'static str {
        match w {
            Who::Initiator => "initiator",
            Who::Caller => "caller",
            Who::Principal => "p",
        }
    }

    fn atom(&self, c: &Cond) -> String {
        match c {
            Cond::EqStr(o, v) => format!("{} == {}", self.operand(o), quote(v)),
            Cond::Gt(o, n) => format!("{} > {n}", self.operand(o)),
            Cond::In(o, items) => {
                let set: Vec<String> = items.iter().map(|i| quote(i)).collect();
                format!("{} in {{{}}}", self.operand(o), set.join(", "))
            }
            Cond::Contains(o, v) => format!("{} in {}", quote(v), self.operand(o)),
            Cond::Prefix(o, p) => format!("startswith({}, {})", self.operand(o), quote(p)),
            Cond::IsTrue(o) => format!("{} == true", self.operand(o)),
            Cond::KindIs(w, k) => format!("{}.kind == {}", Self::who(*w), quote(k.as_str())),
            Cond::HasRole(w, r) => format!("holds({}, {})", Self::who(*w), quote(r)),
            Cond::Not(_) | Cond::And(_) | Cond::Or(_) => unreachable!("not an atom"),
        }
    }

    /// A helper rule with one body per alternative; returns the expression that calls it.
    fn helper(&mut self, bodies: Vec<Vec<String>>, may: bool) -> String {
        self.next += 1;
        let name = format!("c{}", self.next);
        let head = if may { format!("{name}(p)") } else { name.clone() };
        for body in bodies {
            let _ = writeln!(self.helpers, "{head} if {{ {} }}", body.join("; "));
        }
        head
    }

    /// Expressions whose conjunction means "`c` is true".
    fn t(&mut self, c: &Cond, may: bool) -> Vec<String> {
        match c {
            Cond::Not(inner) => self.f(inner, may),
            Cond::And(cs) => cs.iter().flat_map(|c| self.t(c, may)).collect(),
            Cond::Or(cs) => {
                let bodies = cs.iter().map(|c| self.t(c, may)).collect();
                vec![self.helper(bodies, may)]
            }
            _ => vec![self.atom(c)],
        }
    }

    /// Expressions whose conjunction means "`c` is known to be false".
    fn f(&mut self, c: &Cond, may: bool) -> Vec<String> {
        match c {
            Cond::Not(inner) => self.t(inner, may),
            Cond::And(cs) => {
                let bodies = cs.iter().map(|c| self.f(c, may)).collect();
                vec![self.helper(bodies, may)]
            }
            Cond::Or(cs) => cs.iter().flat_map(|c| self.f(c, may)).collect(),
            _ => match c.optional_operand() {
                // `x != null` fails when x is undefined (and JSON null is unknown too).
                Some(o) => {
                    vec![format!("{} != null", self.operand(o)), format!("not {}", self.atom(c))]
                }
                None => vec![format!("not {}", self.atom(c))],
            },
        }
    }

    /// Expressions whose conjunction means "`c` is true or unknown": `not F(c)`.
    fn p(&mut self, c: &Cond, may: bool) -> Vec<String> {
        match c {
            Cond::And(cs) => cs.iter().flat_map(|c| self.p(c, may)).collect(),
            Cond::IsTrue(o) => vec![format!("not {} == false", self.operand(o))],
            _ if c.is_atom() && c.optional_operand().is_none() => vec![self.atom(c)],
            _ => {
                let f = self.f(c, may);
                if f.len() == 1 && !f[0].starts_with("not ") {
                    vec![format!("not {}", f[0])]
                } else {
                    vec![format!("not {}", self.helper(vec![f], may))]
                }
            }
        }
    }

    fn cond_t(&mut self, c: &Condition, may: bool) -> Vec<String> {
        c.cond().map(|c| self.t(&c, may)).unwrap_or_default()
    }

    fn cond_p(&mut self, c: &Condition) -> Vec<String> {
        c.cond().map(|c| self.p(&c, false)).unwrap_or_default()
    }
}

fn target(t: &Target) -> String {
    match t {
        Target::Tool(name) => format!("input.tool == {}", quote(name)),
        Target::Tag(tag) => format!("{} in tags", quote(tag)),
    }
}

fn evidence(m: &PolicyModel, r: &Requirement) -> String {
    let kind = m.evidence_kind(&r.kind).expect("declared evidence kind");
    let k = quote(&r.kind);
    let n = r.count;
    if kind.by_human {
        assert!(r.field.is_none(), "Rego encoding: fields on `by human` kinds not modelled");
        let bound = if kind.bound { "bound_" } else { "" };
        match &r.by {
            Some(role) => format!("count({bound}givers({k}, {})) >= {n}", quote(role)),
            None => format!("count({bound}any_givers({k})) >= {n}"),
        }
    } else {
        assert!(!kind.bound, "Rego encoding: bound kinds without givers not modelled");
        match &r.field {
            Some((f, v)) => format!("field_items({k}, {}, {}) >= {n}", quote(f), quote(v)),
            None => format!("items({k}) >= {n}"),
        }
    }
}

const PRELUDE: &str = r#"package writ

import rego.v1

# Generated by writ-bench. Input: a writ request, unchanged. Data: data.model.
# The rules of the policy are in the other modules of package writ.

default allow := false

allow if {
	input.action == "call"
	accountable
	depth_ok
	not call_denied
	call_allowed
	not require_unmet
	not unentitled
}

allow if {
	input.action == "start"
	accountable
	depth_ok
	not start_denied
	start_allowed
	ttl_ok
}

initiator := input.chain[0]

caller := input.chain[count(input.chain) - 1]

depth := count(input.chain) - 1

tags := data.model.tools[input.tool].tags

accountable if {
	some q in input.chain
	q.kind in {"human", "service"}
}

depth_ok if depth <= data.model.workflows[input.workflow].max_depth

unit_seconds := {"s": 1, "m": 60, "h": 3600, "d": 86400}

ttl_ok if not input.ttl

ttl_ok if {
	n := count(input.ttl)
	seconds := to_number(substring(input.ttl, 0, n - 1)) * unit_seconds[substring(input.ttl, n - 1, 1)]
	seconds <= data.model.workflows[input.workflow].ttl
}

# Delegation never amplifies: every human or service principal must be entitled.
unentitled if {
	some q in input.chain
	q.kind != "agent"
	not may(q)
}

holds(q, role) if {
	some r in q.roles
	data.model.closure[r][role]
}

in_chain(id) if {
	some q in input.chain
	q.id == id
}

eligible(e) if {
	e.by.kind == "human"
	not in_chain(e.by.id)
}

items(kind) := count([e | some e in input.evidence; e.kind == kind])

field_items(kind, field, value) := count([e | some e in input.evidence; e.kind == kind; e.fields[field] == value])

givers(kind, role) := {e.by.id | some e in input.evidence; e.kind == kind; eligible(e); holds(e.by, role)}

any_givers(kind) := {e.by.id | some e in input.evidence; e.kind == kind; eligible(e)}

bound_givers(kind, role) := {e.by.id |
	some e in input.evidence
	e.kind == kind
	e.subject == input.subject
	eligible(e)
	holds(e.by, role)
}

bound_any_givers(kind) := {e.by.id | some e in input.evidence; e.kind == kind; e.subject == input.subject; eligible(e)}

"#;

/// Rego modules, split so that none exceeds regorus' policy size limit (1 MiB): every module
/// is `package writ`, and Rego merges the rules of one package across modules.
struct Modules {
    done: Vec<(String, String)>,
    current: String,
    /// Keep adding to the current module: regorus' interpreter needs every definition of a
    /// function (`may(p)`) in one module (see `bench/README.md`).
    no_split: bool,
}

/// Start a new module once the current one is this large.
const MODULE_BYTES: usize = 256 * 1024;

impl Modules {
    fn push(&mut self, text: &str) {
        if !self.no_split
            && self.current.len() + text.len() > MODULE_BYTES
            && !self.current.is_empty()
        {
            self.roll();
        }
        self.current.push_str(text);
    }

    fn roll(&mut self) {
        let text = std::mem::take(&mut self.current);
        let name = format!("writ_{:03}.rego", self.done.len());
        self.done.push((name, format!("package writ\n\nimport rego.v1\n\n{text}")));
    }
}

/// One rule body, then any helper rules it needs.
fn body(out: &mut Modules, e: &mut Emitter, head: &str, exprs: &[String]) {
    // One line per body: regorus limits a module to 20,000 lines.
    let mut text = format!("{head} if {{ {} }}\n", exprs.join("; "));
    text.push_str(&std::mem::take(&mut e.helpers));
    out.push(&text);
}

fn rule_set(
    out: &mut Modules,
    e: &mut Emitter,
    m: &PolicyModel,
    wf: Option<&str>,
    rules: &RuleSet,
) {
    let scope: Vec<String> =
        wf.map(|w| format!("input.workflow == {}", quote(w))).into_iter().collect();
    for d in &rules.denies {
        out.push(&format!("# {}\n", d.because));
        let mut x = scope.clone();
        x.push(target(&d.target));
        x.extend(e.cond_p(&d.condition));
        body(out, e, "call_denied", &x);
    }
    for d in &rules.deny_starts {
        out.push(&format!("# {}\n", d.because));
        let mut x = scope.clone();
        x.extend(e.cond_p(&d.condition));
        if x.is_empty() {
            x.push("true".into());
        }
        body(out, e, "start_denied", &x);
    }
    for r in &rules.requires {
        // Applies when true or unknown; unmet when some requirement is not met.
        for req in &r.require {
            let mut x = scope.clone();
            x.push(target(&r.target));
            x.extend(e.cond_p(&r.condition));
            x.push(format!("not {}", evidence(m, req)));
            body(out, e, "require_unmet", &x);
        }
    }
}

/// The Rego modules: `(path, text)` pairs. The first holds `allow` and the shared functions
/// (roles, evidence counting), the last every entitlement (`may(p)`).
pub fn emit(m: &PolicyModel) -> Vec<(String, String)> {
    let mut out = Modules { done: Vec::new(), current: String::new(), no_split: false };
    let mut e = Emitter { helpers: String::new(), next: 0 };
    out.done.push(("writ.rego".into(), PRELUDE.into()));
    out.push("# Guardrails.\n\n");
    rule_set(&mut out, &mut e, m, None, &m.guardrails);
    for wf in &m.workflows {
        out.push(&format!("# Workflow {}.\n\n", wf.name));
        let scope = format!("input.workflow == {}", quote(&wf.name));
        for s in &wf.starts {
            let mut x = vec![scope.clone()];
            if let Some(role) = &s.by {
                x.push(format!("holds(initiator, {})", quote(role)));
            }
            x.extend(e.cond_t(&s.condition, false));
            x.extend(s.require.iter().map(|r| evidence(m, r)));
            body(&mut out, &mut e, "start_allowed", &x);
        }
        for a in &wf.allows {
            let mut x = vec![scope.clone(), target(&a.target)];
            x.extend(e.cond_t(&a.condition, false));
            x.extend(a.require.iter().map(|r| evidence(m, r)));
            body(&mut out, &mut e, "call_allowed", &x);
        }
        rule_set(&mut out, &mut e, m, Some(&wf.name), &wf.rules);
    }
    // Every `may(p)` body in one module of its own.
    if !out.current.is_empty() {
        out.roll();
    }
    out.no_split = true;
    out.push("# Entitlements.\n\n");
    for role in &m.roles {
        for may in &role.mays {
            let mut x = vec![target(&may.target), format!("holds(p, {})", quote(&role.name))];
            x.extend(e.cond_t(&may.condition, true));
            body(&mut out, &mut e, "may(p)", &x);
        }
    }
    out.roll();
    out.done
}

/// `data.model`: role closures, tool tags, workflow limits.
pub fn data(m: &PolicyModel) -> serde_json::Value {
    use serde_json::{Map, Value as J, json};
    let closure: Map<String, J> = m
        .role_closures()
        .into_iter()
        .map(|(r, c)| (r, J::Object(c.into_iter().map(|x| (x, J::Bool(true))).collect())))
        .collect();
    let tools: Map<String, J> =
        m.tools.iter().map(|t| (t.name.clone(), json!({"tags": t.tags}))).collect();
    let workflows: Map<String, J> = m
        .workflows
        .iter()
        .map(|w| (w.name.clone(), json!({"max_depth": w.max_depth, "ttl": w.ttl_seconds})))
        .collect();
    json!({"model": {"closure": closure, "tools": tools, "workflows": workflows}})
}

fn value(json: &serde_json::Value) -> Value {
    Value::from_json_str(&json.to_string()).expect("valid JSON")
}

/// The Rego policy run by regorus' bytecode VM.
pub struct RegoVm {
    pub program: Arc<Program>,
    vm: RegoVM,
}

impl RegoVm {
    /// Parses, compiles to RVM bytecode and loads program and data. An error when regorus
    /// cannot compile the policy to bytecode (the RVM has a limit of 65,535 instructions per
    /// program, which the 10,000-rule policy exceeds).
    pub fn load(modules: &[(String, String)], data: &serde_json::Value) -> Result<RegoVm, String> {
        let mut engine = Engine::new();
        for (path, text) in modules {
            engine.add_policy(path.clone(), text.clone()).expect("the Rego modules parse");
        }
        let entry: Rc<str> = ENTRY.into();
        let compiled = engine.compile_with_entrypoint(&entry).expect("the Rego modules compile");
        let program = RvmCompiler::compile_from_policy(&compiled, &[ENTRY])
            .map_err(|e| format!("regorus cannot compile the policy to RVM bytecode: {e}"))?;
        let mut vm = RegoVM::new();
        vm.load_program(program.clone());
        vm.set_data(value(data)).expect("data loads");
        Ok(RegoVm { program, vm })
    }

    pub fn prepare(json: &str) -> Value {
        Value::from_json_str(json).expect("generated requests are JSON")
    }

    pub fn decide(&mut self, input: &Value) -> bool {
        self.vm.set_input(input.clone());
        matches!(self.vm.execute(), Ok(Value::Bool(true)))
    }

    pub fn decide_json(&mut self, json: &str) -> bool {
        match Value::from_json_str(json) {
            Ok(input) => {
                self.vm.set_input(input);
                matches!(self.vm.execute(), Ok(Value::Bool(true)))
            }
            Err(_) => false,
        }
    }
}

/// The Rego policy run by regorus' interpreter.
pub struct RegoInterpreter {
    pub engine: Engine,
}

impl RegoInterpreter {
    pub fn load(modules: &[(String, String)], data: &serde_json::Value) -> RegoInterpreter {
        let mut engine = Engine::new();
        for (path, text) in modules {
            engine.add_policy(path.clone(), text.clone()).expect("the Rego modules parse");
        }
        engine.add_data(value(data)).expect("data loads");
        let mut interpreter = RegoInterpreter { engine };
        // The first evaluation prepares the engine (analysis, scheduling): part of loading.
        interpreter.decide(&Value::new_object());
        interpreter
    }

    pub fn decide(&mut self, input: &Value) -> bool {
        self.engine.set_input(input.clone());
        matches!(self.engine.eval_rule(ENTRY.into()), Ok(Value::Bool(true)))
    }

    pub fn decide_json(&mut self, json: &str) -> bool {
        match Value::from_json_str(json) {
            Ok(input) => {
                self.engine.set_input(input);
                matches!(self.engine.eval_rule(ENTRY.into()), Ok(Value::Bool(true)))
            }
            Err(_) => false,
        }
    }
}
