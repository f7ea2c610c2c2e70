//! The policy gate both commands share: a compiled policy, one workflow, and the step from an
//! agent's tool call (a writ tool name and a JSON object of inputs) to a writ `call` request and
//! its decision.
//!
//! Inputs become arguments by name (each key made a writ word, see [`crate::names`]). Only the
//! arguments the policy's tool declares are passed on: an agent's tools carry many fields a
//! policy has no use for (`description`, `timeout`, `offset`), and Claude Code adds new ones
//! between releases, so an undeclared field is **ignored** rather than denied. A declared
//! argument is passed as it came, and the evaluator denies it when its JSON value is not of the
//! declared type (LANGUAGE.md §5 call step 1); a declared argument the call lacks is unknown, so
//! denies and `require ... for` rules that read it apply (fail closed).

use std::path::Path;

use serde_json::{Map, Value as Json, json};
use writ_evaluator::ir::PolicyIr;
use writ_evaluator::statement::{Counted, Rejection, request_call_subject};
use writ_evaluator::{Decision, Policy, Request};

use crate::evidence::{self, GateEvidence};
use crate::names;

/// A compiled policy and the workflow the agent runs in.
pub struct Gate {
    pub policy: Policy,
    pub workflow: String,
    /// Signed statements to decide calls with (`--trust` with `--evidence` or
    /// `--evidence-server`).
    pub evidence: Option<GateEvidence>,
}

/// A request and the decision on it.
#[derive(Clone, Debug)]
pub struct Judgement {
    /// The request as decided, in the JSON of LANGUAGE.md §5.
    pub request: Json,
    /// The same, decoded (what the decision log records).
    pub decoded: Request<'static>,
    pub decision: Decision,
    /// What signed statements did for a call, when the gate has evidence configured.
    pub evidence: Option<EvidenceUse>,
}

/// The statements a call was decided with.
#[derive(Clone, Debug, Default)]
pub struct EvidenceUse {
    /// Added to the request's evidence.
    pub counted: Vec<Counted>,
    /// Statements for this call that were ignored, and why (statements for other calls are
    /// not listed), and evidence that could not be read.
    pub ignored: Vec<String>,
}

impl Gate {
    /// Loads and compiles the policy at `path` and checks that it has `workflow`. The error is a
    /// message for a person: unreadable files, the first errors of the policy, a workflow that is
    /// not declared.
    pub fn load(path: &Path, workflow: &str) -> Result<Gate, String> {
        let ir = writ_compiler::compile_path(path).map_err(|e| e.to_string())?;
        let gate =
            Gate::new(ir, workflow).map_err(|e| format!("policy `{}`: {e}", path.display()))?;
        Ok(gate)
    }

    /// A gate over an already compiled policy.
    pub fn new(ir: PolicyIr, workflow: &str) -> Result<Gate, String> {
        let policy = Policy::from_ir(ir).map_err(|e| format!("could not be loaded: {e}"))?;
        if policy.workflow_id(workflow).is_none() {
            let known: Vec<&str> = policy.ir().workflows.iter().map(|w| w.name.as_str()).collect();
            return Err(format!(
                "unknown workflow `{workflow}` (the policy declares {})",
                if known.is_empty() { "none".to_string() } else { quoted(&known) }
            ));
        }
        Ok(Gate { policy, workflow: workflow.to_string(), evidence: None })
    }

    /// The same gate, deciding calls with the statements of `evidence`.
    pub fn with_evidence(mut self, evidence: Option<GateEvidence>) -> Gate {
        self.evidence = evidence;
        self
    }

    /// Decides a call of `tool` with `input` by `chain` (principals as LANGUAGE.md §5 JSON).
    /// `run` holds the request's run fields (`cwd`, `time`, `history`, docs/language.md "The
    /// run's history"), put at the top of the request as they are. `Err` is a call that cannot
    /// be put as a request (two input keys that name one argument, a malformed principal): the
    /// caller answers deny with it.
    pub fn decide(
        &self,
        chain: &[Json],
        tool: &str,
        input: &Map<String, Json>,
        context: Map<String, Json>,
        run: Map<String, Json>,
    ) -> Result<Judgement, String> {
        let declared = self.declares(tool);
        let args = call_args(self.policy.ir(), tool, input).map_err(|e| e.to_string())?;
        let mut request = json!({
            "action": "call",
            "workflow": self.workflow,
            "tool": tool,
            "args": args,
            "chain": chain,
            "context": context,
        });
        if let Json::Object(fields) = &mut request {
            for (key, value) in run {
                if matches!(key.as_str(), "cwd" | "time" | "history") {
                    fields.insert(key, value);
                }
            }
        }
        let mut parsed = Request::from_json(&request.to_string())
            .map(Request::into_owned)
            .map_err(|e| format!("invalid request: {e}"))?;
        // With evidence, the call's subject (docs/evidence.md): what a statement for this
        // very call names.
        let mut used = None;
        if let Some(evidence) = &self.evidence {
            parsed.subject = request_call_subject(&parsed).map(Into::into);
            if let Some(subject) = parsed.subject.clone() {
                used = Some(add_statements(evidence, &subject, &mut parsed));
            }
        }
        if let Json::Object(fields) = &mut request {
            if let Some(subject) = &parsed.subject {
                fields.insert("subject".into(), Json::String(subject.to_string()));
            }
            if !parsed.evidence.is_empty() {
                let items = serde_json::to_value(&parsed.evidence).unwrap_or(Json::Null);
                fields.insert("evidence".into(), items);
            }
        }
        let mut decision = self.policy.decide(&parsed);
        if !declared {
            decision.reasons.push(declare_hint(tool, input, &self.workflow));
        }
        Ok(Judgement { request, decoded: parsed, decision, evidence: used })
    }

    /// Whether the policy declares `tool`.
    pub fn declares(&self, tool: &str) -> bool {
        self.policy.tool_id(tool).is_some()
    }
}

/// Two inputs of a call that name one argument once made writ words (`file-path` and
/// `file_path`): the call cannot be put as a request, and is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgsClash {
    pub tool: String,
    /// The input seen first, and the one that clashed with it.
    pub first: String,
    pub second: String,
    /// The argument both name.
    pub argument: String,
}

impl std::fmt::Display for ArgsClash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the inputs `{}` and `{}` of `{}` both name the argument `{}`",
            self.first, self.second, self.tool, self.argument
        )
    }
}

impl std::error::Error for ArgsClash {}

/// A tool call's inputs (a JSON object, as an agent or an MCP client sends them) as the `args`
/// of a writ `call` request to `tool`: each key made a writ word ([`names::word`]), and only the
/// arguments the policy's `tool` declares passed on (none when the policy does not declare
/// the tool). Every gateway of MCP calls (the proxy, the hooks, `writ serve --grpc` behind
/// Envoy) maps a call this way.
pub fn call_args(
    ir: &PolicyIr,
    tool: &str,
    input: &Map<String, Json>,
) -> Result<Map<String, Json>, ArgsClash> {
    let mut args = Map::new();
    // Not passed on when the tool is unknown: the policy denies it whatever the inputs.
    let Some(declared) = ir.tools.iter().find(|t| t.name == tool) else { return Ok(args) };
    let mut from: Vec<(String, &str)> = Vec::new();
    for (key, value) in input {
        let name = names::word(key);
        if !declared.params.iter().any(|p| p.name == name) {
            continue;
        }
        if let Some((_, other)) = from.iter().find(|(n, _)| *n == name) {
            return Err(ArgsClash {
                tool: tool.to_string(),
                first: (*other).to_string(),
                second: key.clone(),
                argument: name,
            });
        }
        from.push((name.clone(), key));
        args.insert(name, value.clone());
    }
    Ok(args)
}

/// For a pending call decided with evidence: what is missing, the call's subject, the
/// `writ attest` command a reviewer runs for each missing kind, and the statements ignored.
/// `None` without evidence or a subject.
pub fn reviewer_steps(gate: &Gate, judgement: &Judgement) -> Option<String> {
    let evidence = gate.evidence.as_ref()?;
    let subject = judgement.decoded.subject.as_deref()?;
    let delivery = evidence.delivery();
    let mut text = format!(
        "it needs {}. Its subject is {subject}. A reviewer whose key is in the trust file runs: ",
        missing_text(&judgement.decision).join(", ")
    );
    let commands: Vec<String> = judgement
        .decision
        .missing
        .iter()
        .map(|m| {
            let mut command =
                format!("writ attest {} --key REVIEWER.key --subject {subject}", m.evidence);
            if let Ok(Json::Object(entry)) = serde_json::to_value(m)
                && let Some(Json::Object(fields)) = entry.get("fields")
            {
                for (name, value) in fields {
                    let value = match value {
                        Json::String(s) if serde_json::from_str::<Json>(s).is_err() => s.clone(),
                        other => other.to_string(),
                    };
                    command
                        .push_str(&format!(" --field '{name}={}'", value.replace('\'', "'\\''")));
                }
            }
            if !delivery.is_empty() {
                command.push(' ');
                command.push_str(&delivery);
            }
            format!("`{command}`")
        })
        .collect();
    text.push_str(&commands.join(" and "));
    text.push_str("; then retry the call");
    if let Some(used) = &judgement.evidence
        && !used.ignored.is_empty()
    {
        text.push_str(&format!(" ({})", used.ignored.join("; ")));
    }
    Some(text)
}

/// Reads the statements for `subject` and adds those that verify to `request`'s evidence.
fn add_statements(evidence: &GateEvidence, subject: &str, request: &mut Request) -> EvidenceUse {
    let read = evidence.statements(subject);
    let admitted = evidence::admit(&evidence.trust, request, &read.loaded);
    let mut ignored: Vec<String> = read.problems.iter().map(ToString::to_string).collect();
    for rejected in &admitted.rejected {
        if matches!(rejected.reason, Rejection::OtherSubject { .. }) {
            continue;
        }
        let source = read.loaded.get(rejected.index).map_or("?", |s| s.source.as_str());
        ignored.push(format!("statement `{source}` ignored: {}", rejected.reason));
    }
    EvidenceUse { counted: admitted.counted, ignored }
}

/// How to govern a tool the policy does not declare: a declaration built from the call's inputs.
pub fn declare_hint(tool: &str, input: &Map<String, Json>, workflow: &str) -> String {
    let mut params = Vec::new();
    for (key, value) in input {
        let name = names::word(key);
        if writ_grammar::is_keyword(&name) || params.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let ty = match value {
            Json::String(_) => "string",
            Json::Bool(_) => "bool",
            Json::Number(n) if n.is_i64() => "int",
            Json::Array(items) if items.iter().all(Json::is_string) => "[string]",
            _ => continue,
        };
        params.push((name, ty));
    }
    let params: Vec<String> = params.iter().map(|(n, t)| format!("{n}: {t}")).collect();
    let declaration = if params.is_empty() {
        format!("tool {tool}")
    } else {
        format!("tool {tool}({})", params.join(", "))
    };
    format!(
        "to govern `{tool}`, declare it (e.g. `{declaration}`), entitle a role to it (`may {tool}`) \
         and allow it in workflow `{workflow}` (`allow {tool}`)"
    )
}

/// `` `a`, `b`, `c` ``
fn quoted(items: &[&str]) -> String {
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}

/// A principal file (LANGUAGE.md §5 principal JSON: `{"id", "kind", "roles", "attrs"}`), checked
/// by the evaluator's own request decoder. The kind must be `human` or `service`: the identity
/// is who is accountable for the agent's work.
pub fn load_identity(path: &Path) -> Result<Json, String> {
    let text = std::fs::read(path)
        .map_err(|e| format!("cannot read identity `{}`: {e}", path.display()))?;
    identity_from_json(&text).map_err(|e| format!("identity `{}`: {e}", path.display()))
}

/// See [`load_identity`].
pub fn identity_from_json(bytes: &[u8]) -> Result<Json, String> {
    let value = crate::strict::parse(bytes)?;
    let request = json!({"action": "call", "workflow": "_", "tool": "_", "chain": [value]});
    if let Err(e) = Request::from_json(&request.to_string()) {
        let field = e.field.strip_prefix("chain[0]").unwrap_or(&e.field);
        let field = field.strip_prefix('.').unwrap_or(field);
        return Err(if field.is_empty() { e.message } else { format!("`{field}`: {}", e.message) });
    }
    match value.get("kind").and_then(Json::as_str) {
        Some("human" | "service") => Ok(value),
        _ => Err("`kind`: an identity must be a `human` or a `service` (the accountable \
                  principal the agent acts for)"
            .to_string()),
    }
}

/// The `missing` entries as words: `2 approval by security_reviewer (1 given)`,
/// `1 ticket(project: "REL") (0 given)`.
pub fn missing_text(decision: &Decision) -> Vec<String> {
    decision
        .missing
        .iter()
        .map(|m| {
            let mut text = format!("{} {}", m.need, m.evidence);
            if let Ok(Json::Object(entry)) = serde_json::to_value(m)
                && let Some(Json::Object(fields)) = entry.get("fields")
            {
                let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                text.push_str(&format!("({})", fields.join(", ")));
            }
            if let Some(by) = &m.by {
                text.push_str(&format!(" by {by}"));
            }
            text.push_str(&format!(" ({} given)", m.have));
            text
        })
        .collect()
}
