//! The gate behind every coding agent's hook: one tool call (or session start) in, one answer
//! out, whatever the agent's format.
//!
//! Each agent's module ([`crate::claude`], [`crate::codex`], [`crate::gemini`]) only reads its
//! payload into a [`HookCall`] (on top of the fields every format shares, [`Common`]) and puts an
//! [`Answer`] in its own JSON; everything between is here:
//!
//! - the **run**: the agent's session id is the run's key in the store, so its admission (the
//!   workflow's `start`, decided once and cached), its history and the calls it records are
//!   shared by every hook process of the session, whichever agent it is ([`RunGate`]);
//! - the **chain**: the identity (the accountable human or service), then the session as an
//!   agent (`AGENT/SESSION_ID`), then, for formats that say so, the sub-agent
//!   (`AGENT/SESSION_ID/AGENT_ID`) ([`session_agents`]);
//! - `cwd` (required and absolute: a payload without one is denied, as is one without an event
//!   name or a session id) and `time` as the request's run fields, and `cwd` as a context value;
//! - the **answer**: `allow`, `deny` with writ's reasons, and for `pending` either `ask` (when
//!   the agent can ask the person from a hook) or `deny` naming the missing evidence (when it
//!   cannot: an `ask` it does not understand would let the call through). In log-only mode no
//!   decision is given, so the agent's own permissions apply.
//!
//! Any failure (input that is not the hook's JSON, a policy that does not compile, an unreadable
//! identity, a store that cannot be written) answers deny in the agent's format, with the reason.

use serde_json::{Map, Value as Json, json};
use writ_evaluator::Outcome;
use writ_evaluator::log::Mode;

use crate::gate::{Judgement, missing_text};
use crate::run::{RunCall, RunGate};

/// The coding agents writ has a hook for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agent {
    /// Claude Code (`writ hook claude-code`).
    ClaudeCode,
    /// OpenAI Codex CLI (`writ hook codex`).
    Codex,
    /// Gemini CLI (`writ hook gemini`).
    Gemini,
}

impl Agent {
    /// The hook's subcommand, also the first segment of the session's principal id
    /// (`codex/SESSION_ID`).
    pub fn name(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude-code",
            Agent::Codex => "codex",
            Agent::Gemini => "gemini",
        }
    }

    /// The agent's names for the events the hook answers, in the order they are listed to a
    /// person who installed the hook under another.
    fn events(self) -> [(&'static str, HookEvent); 3] {
        match self {
            Agent::ClaudeCode | Agent::Codex => [
                ("PreToolUse", HookEvent::BeforeTool),
                ("PostToolUse", HookEvent::AfterTool),
                ("SessionStart", HookEvent::SessionStart),
            ],
            Agent::Gemini => [
                ("BeforeTool", HookEvent::BeforeTool),
                ("AfterTool", HookEvent::AfterTool),
                ("SessionStart", HookEvent::SessionStart),
            ],
        }
    }

    /// Whether the agent asks its person when a hook answers "ask". Codex fails open on a
    /// `PreToolUse` `ask` (it treats it as an unsupported answer and runs the call), and Gemini
    /// CLI documents only allow and deny: for them, a call that needs evidence is denied.
    fn can_ask(self) -> bool {
        matches!(self, Agent::ClaudeCode)
    }

    fn call(self, common: Common, payload: &Payload<'_>) -> Result<HookCall, String> {
        match self {
            Agent::ClaudeCode => crate::claude::call(common, payload),
            Agent::Codex => crate::codex::call(common, payload),
            Agent::Gemini => crate::gemini::call(common, payload),
        }
    }

    fn render(self, answer: &Answer) -> Json {
        match self {
            Agent::ClaudeCode => crate::claude::render(answer),
            Agent::Codex => crate::codex::render(answer),
            Agent::Gemini => crate::gemini::render(answer),
        }
    }
}

/// The hook events writ answers, whatever the agent calls them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookEvent {
    /// Before a tool runs (`PreToolUse`, `BeforeTool`): writ decides it.
    BeforeTool,
    /// After a tool ran (`PostToolUse`, `AfterTool`): the call is recorded in the run's history
    /// if the agent gave it an id and it was not recorded already (a call answered `ask` that the
    /// person approved). Without an id nothing is recorded: the call was recorded when it was
    /// allowed, and recording it again would count it twice.
    AfterTool,
    /// A session begins: its start is decided up front and the admission cached (no agent can
    /// block a session here; a session that is not admitted has every call denied).
    SessionStart,
}

/// A decision the hook gives the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    Allow,
    Deny,
    /// The person decides (only for agents that can ask from a hook).
    Ask,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Allow => "allow",
            Permission::Deny => "deny",
            Permission::Ask => "ask",
        }
    }
}

/// What the hook answers, before the agent's format is put on it ([`Answer::to_json`]).
#[derive(Clone, Debug)]
pub struct Answer {
    pub agent: Agent,
    pub event: HookEvent,
    /// The decision on a tool call; `None` when the hook leaves the decision to the agent (in
    /// log-only mode, and on the other events).
    pub permission: Option<Permission>,
    pub reason: String,
    /// The run's start, when it was decided for this input.
    pub start: Option<Judgement>,
    /// The call's request and decision, when writ got as far as deciding.
    pub judgement: Option<Judgement>,
}

impl Answer {
    /// A deny for a failure before any decision.
    pub fn failure(agent: Agent, reason: impl std::fmt::Display) -> Answer {
        Answer {
            agent,
            event: HookEvent::BeforeTool,
            permission: Some(Permission::Deny),
            reason: format!("writ could not decide, so the call is denied: {reason}"),
            start: None,
            judgement: None,
        }
    }

    /// The hook's output JSON, in the agent's format.
    pub fn to_json(&self) -> Json {
        self.agent.render(self)
    }
}

/// A tool call (or session start) as every agent's hook sees it.
pub struct HookCall {
    pub event: HookEvent,
    /// The run's key: the agent's session id, never empty.
    pub session: String,
    /// The agent's own id for the call (`tool_use_id`), so that it is recorded once.
    pub tool_use_id: Option<String>,
    /// The tool as the agent named it (for messages).
    pub tool_name: String,
    /// The writ tool ([`crate::names`]).
    pub tool: String,
    /// The inputs that become arguments, after the agent's module resolved its path inputs.
    pub input: Map<String, Json>,
    /// Absolute: a payload without one is refused.
    pub cwd: String,
    /// Context values besides `cwd` (`permission_mode`, ...).
    pub context: Map<String, Json>,
    /// The chain after the identity: the session, then the sub-agent if any.
    pub agents: Vec<Json>,
}

/// A hook payload: a JSON object, read field by field with errors naming the field.
pub struct Payload<'a> {
    map: &'a Map<String, Json>,
}

impl<'a> Payload<'a> {
    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&'a Json> {
        self.map.get(key)
    }

    /// A string field that must be there.
    pub fn required_string(&self, key: &str) -> Result<String, String> {
        self.optional_string(key)?.ok_or_else(|| format!("`{key}`: missing required field"))
    }

    /// A string field that may be absent or `null`.
    pub fn optional_string(&self, key: &str) -> Result<Option<String>, String> {
        match self.map.get(key) {
            Some(Json::String(s)) => Ok(Some(s.clone())),
            None | Some(Json::Null) => Ok(None),
            Some(other) => Err(format!("`{key}`: expected a string, found {}", kind(other))),
        }
    }
}

/// The fields every agent's payload has, checked.
pub struct Common {
    pub event: HookEvent,
    pub session: String,
    /// Empty for `SessionStart` (which has no tool).
    pub tool_name: String,
    pub cwd: String,
    pub input: Map<String, Json>,
    pub tool_use_id: Option<String>,
}

impl Common {
    /// Reads `hook_event_name`, `session_id`, `tool_name`, `cwd`, `tool_input` and
    /// `tool_use_id`, in that order (the first problem is the one reported).
    fn read(agent: Agent, p: &Payload<'_>) -> Result<Common, String> {
        // Without the event name the payload may be any hook's (or none's): refuse it.
        let name = p.required_string("hook_event_name")?;
        let events = agent.events();
        let Some(event) = events.iter().find(|(n, _)| *n == name).map(|(_, e)| *e) else {
            let [(a, _), (b, _), (c, _)] = events;
            return Err(format!(
                "`hook_event_name`: `writ hook {}` answers `{a}`, `{b}` and `{c}` hooks, found \
                 `{name}`; install it under those in the settings",
                agent.name()
            ));
        };
        // The session is the run: its admission and history are kept under its id.
        let session = p.required_string("session_id")?;
        if session.is_empty() {
            return Err(
                "`session_id`: empty (the session is the run writ keeps history for)".into()
            );
        }
        let tool_name = match event {
            HookEvent::SessionStart => p.optional_string("tool_name")?.unwrap_or_default(),
            HookEvent::BeforeTool | HookEvent::AfterTool => p.required_string("tool_name")?,
        };
        // Relative paths are resolved against `cwd`, and `under "."` compares with it: a
        // missing or relative one would let `src/../.env` escape, so it is refused.
        let cwd = match p.optional_string("cwd")? {
            Some(cwd) if cwd.starts_with('/') && !cwd.contains('\0') => cwd,
            Some(cwd) => {
                return Err(format!("`cwd`: expected an absolute directory, found {cwd:?}"));
            }
            None => return Err("`cwd`: missing required field".to_string()),
        };
        let input = match p.get("tool_input") {
            Some(Json::Object(m)) => m.clone(),
            None | Some(Json::Null) => Map::new(),
            Some(other) => {
                return Err(format!("`tool_input`: expected an object, found {}", kind(other)));
            }
        };
        let tool_use_id = p.optional_string("tool_use_id")?;
        Ok(Common { event, session, tool_name, cwd, input, tool_use_id })
    }
}

/// The hook's answer to one input of `agent`, made at `now` (the request's `time`). `identity`
/// is the principal JSON of the identity file, or the reason there is none.
pub fn answer(
    agent: Agent,
    gate: &RunGate<'_>,
    identity: Result<&Json, &str>,
    input: &[u8],
    now: writ_evaluator::Timestamp,
) -> Answer {
    let payload = match crate::strict::parse(input) {
        Ok(Json::Object(map)) => map,
        Ok(_) => return Answer::failure(agent, "the hook input is not a JSON object"),
        Err(e) => {
            return Answer::failure(agent, format_args!("the hook input is not valid JSON: {e}"));
        }
    };
    let payload = Payload { map: &payload };
    let call = match Common::read(agent, &payload).and_then(|c| agent.call(c, &payload)) {
        Ok(call) => call,
        Err(e) => return Answer::failure(agent, e),
    };
    let identity = match identity {
        Ok(identity) => identity.clone(),
        Err(e) => return Answer::failure(agent, e),
    };
    let mut chain = vec![identity];
    chain.extend(call.agents.iter().cloned());
    let mut run_fields = Map::new();
    run_fields.insert("cwd".into(), Json::String(call.cwd.clone()));
    let mut context = Map::new();
    context.insert("cwd".into(), Json::String(call.cwd.clone()));
    context.extend(call.context.clone());
    let run_call = RunCall {
        run: &call.session,
        chain: &chain,
        start_chain: 2,
        tool: &call.tool,
        input: &call.input,
        context,
        run_fields,
        call_id: call.tool_use_id.as_deref(),
        now,
    };
    let quiet = |event: HookEvent, reason: String, start: Option<Judgement>| Answer {
        agent,
        event,
        permission: None,
        reason,
        start,
        judgement: None,
    };
    match call.event {
        HookEvent::BeforeTool => before_tool(agent, gate, &call, &run_call),
        HookEvent::AfterTool => {
            // Nothing to tell the agent: a failure to record is reported on stderr by the
            // command, and the next call of the run fails closed if the store does.
            let failed = match call.tool_use_id {
                Some(_) => gate.record(&run_call).err(),
                None => None,
            };
            quiet(HookEvent::AfterTool, failed.unwrap_or_default(), None)
        }
        HookEvent::SessionStart => match gate.admit(&run_call) {
            Ok(admitted) => quiet(
                HookEvent::SessionStart,
                admitted
                    .refusal
                    .map(|r| format!("writ: {r}. Every tool call of this session will be denied."))
                    .unwrap_or_default(),
                admitted.start,
            ),
            Err(e) => quiet(
                HookEvent::SessionStart,
                format!(
                    "writ could not admit this session ({e}); its tool calls will be denied until it can"
                ),
                None,
            ),
        },
    }
}

fn before_tool(
    agent: Agent,
    gate: &RunGate<'_>,
    call: &HookCall,
    run_call: &RunCall<'_>,
) -> Answer {
    let judged = match gate.call(run_call) {
        Ok(j) => j,
        Err(e) => return Answer::failure(agent, e),
    };
    let d = &judged.call.decision;
    let subject =
        format!("`{}` ({}) in workflow `{}`", call.tool, call.tool_name, gate.gate.workflow);
    let steps = crate::gate::reviewer_steps(gate.gate, &judged.call);
    let (permission, reason) = match d.decision {
        // With evidence, a pending call waits for a reviewer's statement: the person at the
        // keyboard is not asked to vouch for it (the agent retries once it exists).
        Outcome::Pending if steps.is_some() => {
            (Permission::Deny, format!("writ: {subject} is pending: {}", steps.unwrap_or_default()))
        }
        Outcome::Allow => {
            (Permission::Allow, format!("writ allows {subject} (rule {})", d.rules.join(", ")))
        }
        Outcome::Deny => {
            (Permission::Deny, format!("writ denies {subject}: {}", d.reasons.join("; ")))
        }
        Outcome::Pending if agent.can_ask() => (
            Permission::Ask,
            format!(
                "writ: {subject} needs evidence it cannot see here: {}. Approve only if you \
                 vouch for that evidence ({})",
                missing_text(d).join(", "),
                d.reasons.join("; ")
            ),
        ),
        Outcome::Pending => (
            Permission::Deny,
            format!(
                "writ: {subject} needs evidence it cannot see here: {} ({}); this agent cannot \
                 ask a person from a hook, so the call is denied",
                missing_text(d).join(", "),
                d.reasons.join("; ")
            ),
        ),
    };
    Answer {
        agent,
        event: HookEvent::BeforeTool,
        // Shadow mode leaves every decision to the agent's own permissions: the hook changes
        // nothing, and the log shows what it would have done.
        permission: (gate.mode == Mode::Enforce).then_some(permission),
        reason,
        start: judged.start,
        judgement: Some(judged.call),
    }
}

/// The session as a principal (`AGENT/SESSION_ID`), then, when the hook fired inside a
/// sub-agent (`agent_id`), the sub-agent (`AGENT/SESSION_ID/AGENT_ID`); `agent_type` becomes
/// the attribute `agent_type` of the sub-agent, or of the session when there is no `agent_id`
/// (a session started as a named agent).
pub fn session_agents(
    agent: Agent,
    session: &str,
    agent_id: Option<&str>,
    agent_type: Option<&str>,
) -> Vec<Json> {
    let session = format!("{}/{session}", agent.name());
    let mut attrs = Map::new();
    if let (None, Some(t)) = (agent_id, agent_type) {
        attrs.insert("agent_type".into(), Json::String(t.to_string()));
    }
    let mut agents = vec![json!({"id": session, "kind": "agent", "attrs": attrs})];
    if let Some(id) = agent_id {
        let mut attrs = Map::new();
        if let Some(t) = agent_type {
            attrs.insert("agent_type".into(), Json::String(t.to_string()));
        }
        agents.push(json!({"id": format!("{session}/{id}"), "kind": "agent", "attrs": attrs}));
    }
    agents
}

/// Resolves the string inputs named `keys` against `cwd` as writ resolves `path` arguments
/// ([`writ_evaluator::path::resolve`]), so that a policy declaring them `string` sees the same
/// absolute form. One that cannot be resolved (`~/x`, NUL, empty) is left as sent, and a `path`
/// rule finds it unknown.
pub fn resolve_paths(input: &mut Map<String, Json>, keys: &[&str], cwd: &str) {
    for key in keys {
        if let Some(Json::String(path)) = input.get_mut(*key) {
            resolve_in_place(path, cwd);
        }
    }
}

/// As [`resolve_paths`], for inputs that are lists of paths: each string element is resolved.
pub fn resolve_path_lists(input: &mut Map<String, Json>, keys: &[&str], cwd: &str) {
    for key in keys {
        if let Some(Json::Array(items)) = input.get_mut(*key) {
            for item in items {
                if let Json::String(path) = item {
                    resolve_in_place(path, cwd);
                }
            }
        }
    }
}

fn resolve_in_place(path: &mut String, cwd: &str) {
    if let Some(resolved) = writ_evaluator::path::resolve(path, Some(cwd)) {
        let resolved = resolved.into_owned();
        *path = resolved;
    }
}

/// Sets `key` to `cwd` when none of `present` is in the input: a tool that searches the working
/// directory by default is then seen doing so.
pub fn default_to_cwd(input: &mut Map<String, Json>, key: &str, present: &[&str], cwd: &str) {
    if present.iter().all(|k| input.get(*k).is_none_or(Json::is_null)) {
        input.insert(key.to_string(), Json::String(cwd.to_string()));
    }
}

/// An argument vector (`["bash", "-lc", "git push --force"]`) as one shell command line that
/// bash would split back into the same words: each word that is not plainly safe is put in
/// single quotes, a `'` inside written `'\''` (POSIX). writ's shell analysis then sees
/// `bash -lc '...'` and analyses the inner line too.
pub fn command_line(argv: &[String]) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c);
    argv.iter()
        .map(|word| {
            if !word.is_empty() && word.chars().all(safe) {
                word.clone()
            } else {
                format!("'{}'", word.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A JSON value's kind, for messages.
pub fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

/// Sets `assigns` (derived, never taken from the input) to the shell variables the `command`
/// sets ([`writ_evaluator::shell::assigned_variables`]): `LD_PRELOAD=x ls` runs only `ls` as
/// far as `runs only` can see, but what `ls` loads is not the `ls` a policy allowed. Absent
/// (unknown) when the command line is unknown or not a string.
pub fn derive_assigns(input: &mut Map<String, Json>) {
    let names = input
        .get("command")
        .and_then(Json::as_str)
        .and_then(writ_evaluator::shell::assigned_variables);
    match names {
        Some(names) => {
            input.insert("assigns".into(), names.into_iter().map(Json::String).collect())
        }
        None => input.remove("assigns"),
    };
}

/// A `SessionStart` answer that tells both the person (`systemMessage`) and the model
/// (`additionalContext`) why the session will be refused: the form Codex CLI and Gemini CLI read.
pub(crate) fn session_start_notice(reason: &str) -> Json {
    json!({
        "systemMessage": reason,
        "hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": reason},
    })
}

#[cfg(test)]
mod tests {
    use super::command_line;

    #[test]
    fn argument_vectors_become_command_lines_bash_splits_back() {
        let line =
            |words: &[&str]| command_line(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>());
        assert_eq!(line(&["bash", "-lc", "git push --force"]), "bash -lc 'git push --force'");
        assert_eq!(line(&["ls", "-la", "src/"]), "ls -la src/");
        assert_eq!(line(&["echo", "it's"]), r"echo 'it'\''s'");
        assert_eq!(line(&["echo", ""]), "echo ''");
        assert_eq!(line(&["echo", "$HOME", "a;b", "`x`"]), "echo '$HOME' 'a;b' '`x`'");
        assert_eq!(line(&["printf", "a\nb"]), "printf 'a\nb'");
        assert_eq!(line(&[]), "");
    }
}
