//! Claude Code's `PreToolUse` hook: the hook's JSON input in, its JSON answer out.
//!
//! Input (Claude Code's hooks reference): `session_id`, `transcript_path`, `cwd`,
//! `permission_mode`, `hook_event_name` (`"PreToolUse"`), `tool_name`, `tool_input`,
//! `tool_use_id`, and, when the hook fires inside a sub-agent, `agent_id` and `agent_type`.
//! Output: `{"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision":
//! "allow" | "deny" | "ask", "permissionDecisionReason": "..."}}`, exit status 0.
//!
//! The request writ decides:
//! - `tool`: [`names::claude_tool`] of `tool_name`; `args`: `tool_input` (see [`crate::gate`] for
//!   which fields become arguments). The path inputs of built-in tools (`file_path`,
//!   `notebook_path`, `path`) are resolved against `cwd` as writ resolves `path` arguments
//!   ([`writ_evaluator::path::resolve`]: `.` and `..` resolved, repeated `/` collapsed), so that
//!   `src/../.github/x` cannot slip past a rule on `*/.github/*` even where a policy declares
//!   them `string`. `WebFetch` also gets `host`, derived from `url` ([`url_host`]; unknown when
//!   the URL has no clear host), whatever the input says; `Bash` gets `assigns`, the shell
//!   variables its command line sets ([`derive_assigns`]). `Glob` and `Grep` without `path`
//!   search `cwd`, so their `path` is `cwd` then.
//! - `chain`: the identity (the accountable human or service), then the Claude Code session as
//!   an `agent` (`claude-code/SESSION_ID`), then, when `agent_id` is present, the sub-agent
//!   (`claude-code/SESSION_ID/AGENT_ID`, with the attribute `agent_type`).
//! - `cwd` (required, absolute: a payload without one is denied, as is one without
//!   `hook_event_name`) and `time` (when the hook runs) as the request's run fields, so that
//!   `path` arguments resolve and `calls(... within D)` has a clock.
//! - `context`: `cwd`, and `permission_mode` when Claude Code sends it (a policy reads them by
//!   declaring `context cwd: string`, `context permission_mode: string`).
//!
//! The answer: `allow` → `allow`; `deny` → `deny` with writ's reasons; `pending` → `ask`, the
//! reason naming the missing evidence, so that the person asked knows what they vouch for. Any
//! failure (input that is not the hook's JSON, a policy that does not compile, an unreadable
//! identity) → `deny` with the reason. Never anything that lets a call through by accident.

use serde_json::{Map, Value as Json, json};
use writ_evaluator::Outcome;
use writ_evaluator::log::Mode;

use crate::gate::{Judgement, missing_text};
use crate::names;
use crate::run::{RunCall, RunGate};

/// The hook events `writ hook claude-code` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookEvent {
    /// Before a tool runs: writ decides it.
    PreToolUse,
    /// After a tool ran: the call is recorded in the run's history if it was not already
    /// (a call answered `ask` that the person approved).
    PostToolUse,
    /// A session begins: its start is decided up front and the admission cached (Claude Code
    /// cannot block a session here; a session that is not admitted has every call denied).
    SessionStart,
}

impl HookEvent {
    fn parse(name: &str) -> Option<HookEvent> {
        match name {
            "PreToolUse" => Some(HookEvent::PreToolUse),
            "PostToolUse" => Some(HookEvent::PostToolUse),
            "SessionStart" => Some(HookEvent::SessionStart),
            _ => None,
        }
    }
}

/// What the hook answers.
#[derive(Clone, Debug)]
pub struct Answer {
    pub event: HookEvent,
    /// `allow`, `deny` or `ask` on `PreToolUse`; `None` when the hook leaves the decision to
    /// Claude Code (in log-only mode, and on the other events).
    pub permission: Option<&'static str>,
    pub reason: String,
    /// The run's start, when it was decided for this input.
    pub start: Option<Judgement>,
    /// The call's request and decision, when writ got as far as deciding.
    pub judgement: Option<Judgement>,
}

impl Answer {
    /// A deny for a failure before any decision.
    pub fn failure(reason: impl std::fmt::Display) -> Answer {
        Answer {
            event: HookEvent::PreToolUse,
            permission: Some("deny"),
            reason: format!("writ could not decide, so the call is denied: {reason}"),
            start: None,
            judgement: None,
        }
    }

    /// The hook output JSON.
    pub fn to_json(&self) -> Json {
        match (self.event, self.permission) {
            (HookEvent::PreToolUse, Some(permission)) => json!({
                "hookSpecificOutput": {
                    "hookEventName": "PreToolUse",
                    "permissionDecision": permission,
                    "permissionDecisionReason": self.reason,
                }
            }),
            (HookEvent::SessionStart, _) if !self.reason.is_empty() => json!({
                "hookSpecificOutput": {
                    "hookEventName": "SessionStart",
                    "additionalContext": self.reason,
                }
            }),
            _ => json!({}),
        }
    }
}

/// The hook's answer to one input, made at `now` (the request's `time`). `identity` is the
/// principal JSON of the identity file, or the reason there is none.
pub fn answer(
    gate: &RunGate<'_>,
    identity: Result<&Json, &str>,
    input: &[u8],
    now: writ_evaluator::Timestamp,
) -> Answer {
    let payload = match crate::strict::parse(input) {
        Ok(Json::Object(map)) => map,
        Ok(_) => return Answer::failure("the hook input is not a JSON object"),
        Err(e) => return Answer::failure(format_args!("the hook input is not valid JSON: {e}")),
    };
    let call = match HookCall::from_payload(&payload) {
        Ok(call) => call,
        Err(e) => return Answer::failure(e),
    };
    let identity = match identity {
        Ok(identity) => identity.clone(),
        Err(e) => return Answer::failure(e),
    };
    let mut chain = vec![identity];
    chain.extend(call.agents());
    let mut run_fields = Map::new();
    run_fields.insert("cwd".into(), Json::String(call.cwd.clone()));
    let run_call = RunCall {
        run: &call.session,
        chain: &chain,
        start_chain: 2,
        tool: &call.tool,
        input: &call.input,
        context: call.context(),
        run_fields,
        call_id: call.tool_use_id.as_deref(),
        now,
    };
    match call.event {
        HookEvent::PreToolUse => pre_tool_use(gate, &call, &run_call),
        HookEvent::PostToolUse => {
            let failed = gate.record(&run_call).err();
            Answer {
                event: HookEvent::PostToolUse,
                permission: None,
                // Nothing to tell Claude Code: a failure to record is reported on stderr by
                // the command, and the next PreToolUse of the run fails closed if the store does.
                reason: failed.unwrap_or_default(),
                start: None,
                judgement: None,
            }
        }
        HookEvent::SessionStart => match gate.admit(&run_call) {
            Ok(admitted) => Answer {
                event: HookEvent::SessionStart,
                permission: None,
                reason: admitted
                    .refusal
                    .map(|r| format!("writ: {r}. Every tool call of this session will be denied."))
                    .unwrap_or_default(),
                start: admitted.start,
                judgement: None,
            },
            Err(e) => Answer {
                event: HookEvent::SessionStart,
                permission: None,
                reason: format!(
                    "writ could not admit this session ({e}); its tool calls will be denied until it can"
                ),
                start: None,
                judgement: None,
            },
        },
    }
}

fn pre_tool_use(gate: &RunGate<'_>, call: &HookCall, run_call: &RunCall<'_>) -> Answer {
    let judged = match gate.call(run_call) {
        Ok(j) => j,
        Err(e) => return Answer::failure(e),
    };
    let d = &judged.call.decision;
    let subject =
        format!("`{}` ({}) in workflow `{}`", call.tool, call.tool_name, gate.gate.workflow);
    let (permission, reason) = match d.decision {
        Outcome::Allow => ("allow", format!("writ allows {subject} (rule {})", d.rules.join(", "))),
        Outcome::Deny => ("deny", format!("writ denies {subject}: {}", d.reasons.join("; "))),
        Outcome::Pending => (
            "ask",
            format!(
                "writ: {subject} needs evidence it cannot see here: {}. Approve only if you \
                 vouch for that evidence ({})",
                missing_text(d).join(", "),
                d.reasons.join("; ")
            ),
        ),
    };
    Answer {
        event: HookEvent::PreToolUse,
        // Shadow mode leaves every decision to Claude Code's own permissions: the hook changes
        // nothing, and the log shows what it would have done.
        permission: (gate.mode == Mode::Enforce).then_some(permission),
        reason,
        start: judged.start,
        judgement: Some(judged.call),
    }
}

/// The parts of the hook input writ reads.
struct HookCall {
    event: HookEvent,
    session: String,
    tool_use_id: Option<String>,
    tool_name: String,
    tool: String,
    input: Map<String, Json>,
    /// Absolute: the hook refuses a payload without one.
    cwd: String,
    permission_mode: Option<String>,
    agent_id: Option<String>,
    agent_type: Option<String>,
}

impl HookCall {
    fn from_payload(p: &Map<String, Json>) -> Result<HookCall, String> {
        let string = |key: &str, required: bool| -> Result<Option<String>, String> {
            match p.get(key) {
                Some(Json::String(s)) => Ok(Some(s.clone())),
                None | Some(Json::Null) if !required => Ok(None),
                None | Some(Json::Null) => Err(format!("`{key}`: missing required field")),
                Some(other) => Err(format!("`{key}`: expected a string, found {}", kind(other))),
            }
        };
        // Without the event name the payload may be any hook's (or none's): refuse it.
        let name = string("hook_event_name", true)?.unwrap_or_default();
        let Some(event) = HookEvent::parse(&name) else {
            return Err(format!(
                "`hook_event_name`: `writ hook claude-code` answers `PreToolUse`, `PostToolUse` \
                 and `SessionStart` hooks, found `{name}`; install it under those in the settings"
            ));
        };
        // The session is the run: its admission and history are kept under its id.
        let session = string("session_id", true)?.unwrap_or_default();
        if session.is_empty() {
            return Err(
                "`session_id`: empty (the session is the run writ keeps history for)".into()
            );
        }
        let tool_name = string("tool_name", event != HookEvent::SessionStart)?.unwrap_or_default();
        // Relative paths are resolved against `cwd`, and `under "."` compares with it: a
        // missing or relative one would let `src/../.env` escape, so it is refused.
        let cwd = match string("cwd", false)? {
            Some(cwd) if cwd.starts_with('/') && !cwd.contains('\0') => cwd,
            Some(cwd) => {
                return Err(format!("`cwd`: expected an absolute directory, found {cwd:?}"));
            }
            None => return Err("`cwd`: missing required field".to_string()),
        };
        let mut input = match p.get("tool_input") {
            Some(Json::Object(m)) => m.clone(),
            None | Some(Json::Null) => Map::new(),
            Some(other) => {
                return Err(format!("`tool_input`: expected an object, found {}", kind(other)));
            }
        };
        let tool = names::claude_tool(&tool_name);
        if matches!(tool_name.as_str(), "Glob" | "Grep")
            && input.get("path").is_none_or(Json::is_null)
        {
            // Without `path` they search the working directory.
            input.insert("path".into(), Json::String(cwd.clone()));
        }
        if !tool_name.starts_with("mcp__") {
            for key in ["file_path", "notebook_path", "path"] {
                // Resolved as writ resolves `path` arguments, so that a policy declaring them
                // `string` sees the same absolute form; one that cannot be resolved (`~/x`, NUL)
                // is left as sent, and a `path` rule finds it unknown.
                if let Some(Json::String(path)) = input.get(key)
                    && let Some(resolved) = writ_evaluator::path::resolve(path, Some(&cwd))
                {
                    let resolved = resolved.into_owned();
                    input.insert(key.to_string(), Json::String(resolved));
                }
            }
        }
        if tool_name == "Bash" {
            derive_assigns(&mut input);
        }
        if tool_name == "WebFetch" {
            // Derived, never taken from the input: absent (unknown) when `url` has no clear host.
            let host = input.get("url").and_then(Json::as_str).and_then(url_host);
            match host {
                Some(host) => input.insert("host".into(), Json::String(host)),
                None => input.remove("host"),
            };
        }
        Ok(HookCall {
            event,
            session,
            tool_use_id: string("tool_use_id", false)?,
            tool_name,
            tool,
            input,
            cwd,
            permission_mode: string("permission_mode", false)?,
            agent_id: string("agent_id", false)?,
            agent_type: string("agent_type", false)?,
        })
    }

    /// The session, then the sub-agent if the hook fired inside one.
    fn agents(&self) -> Vec<Json> {
        let session = format!("claude-code/{}", self.session);
        let mut attrs = Map::new();
        if let (None, Some(t)) = (&self.agent_id, &self.agent_type) {
            // A session started with `--agent`: the main thread has a type but no id.
            attrs.insert("agent_type".into(), Json::String(t.clone()));
        }
        let mut agents = vec![json!({"id": session, "kind": "agent", "attrs": attrs})];
        if let Some(id) = &self.agent_id {
            let mut attrs = Map::new();
            if let Some(t) = &self.agent_type {
                attrs.insert("agent_type".into(), Json::String(t.clone()));
            }
            agents.push(json!({"id": format!("{session}/{id}"), "kind": "agent", "attrs": attrs}));
        }
        agents
    }

    fn context(&self) -> Map<String, Json> {
        let mut context = Map::new();
        context.insert("cwd".into(), Json::String(self.cwd.clone()));
        if let Some(mode) = &self.permission_mode {
            context.insert("permission_mode".into(), Json::String(mode.clone()));
        }
        context
    }
}

fn kind(value: &Json) -> &'static str {
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

/// The host of an `http` or `https` URL, lower-cased, without port or trailing dot; `None` for
/// any other scheme and for anything unusual (an empty host, percent-escapes or characters
/// outside ASCII letters, digits, `-` and `.` in it, a bracketed IPv6 address is kept as is).
/// Like browsers, `\` ends the authority as `/` does, and userinfo before `@` is dropped.
pub fn url_host(url: &str) -> Option<String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#', '\\']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        let end = host_port.find(']')?;
        let (host, after) = host_port.split_at(end + 1);
        if !(after.is_empty() || after.strip_prefix(':')?.bytes().all(|b| b.is_ascii_digit())) {
            return None;
        }
        host.to_string()
    } else {
        let host = match host_port.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            Some(_) => return None,
            None => host_port,
        };
        let host = host.strip_suffix('.').unwrap_or(host);
        if !host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
            return None;
        }
        host.to_ascii_lowercase()
    };
    if host.is_empty() { None } else { Some(host) }
}

#[cfg(test)]
mod tests {
    use super::url_host;

    #[test]
    fn hosts() {
        let cases = [
            ("https://docs.rs/serde", Some("docs.rs")),
            ("HTTPS://Docs.RS:443/x?y#z", Some("docs.rs")),
            ("https://docs.rs.", Some("docs.rs")),
            ("https://docs.rs@evil.example/", Some("evil.example")),
            ("https://evil.example\\@docs.rs/", Some("evil.example")),
            ("https://evil.example#@docs.rs/", Some("evil.example")),
            ("http://[::1]:8080/", Some("[::1]")),
            ("https://d%6fcs.rs/", None),
            ("https://:443/", None),
            ("https://docs.rs:x/", None),
            ("ftp://docs.rs/", None),
            ("docs.rs/serde", None),
            ("https://dоcs.rs/", None),
        ];
        for (url, want) in cases {
            assert_eq!(url_host(url).as_deref(), want, "{url}");
        }
    }
}
