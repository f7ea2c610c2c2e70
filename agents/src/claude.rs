//! Claude Code's `PreToolUse` hook: the hook's JSON input in, its JSON answer out.
//!
//! Input (Claude Code's hooks reference): `session_id`, `transcript_path`, `cwd`,
//! `permission_mode`, `hook_event_name` (`"PreToolUse"`), `tool_name`, `tool_input`,
//! `tool_use_id`, and, when the hook fires inside a sub-agent, `agent_id` and `agent_type`.
//! Output: `{"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision":
//! "allow" | "deny" | "ask", "permissionDecisionReason": "..."}}`, exit status 0.
//!
//! The request writ decides (besides what [`crate::hook`] does for every agent: the run, the
//! chain, `cwd` and `time`, failures answered deny):
//! - `tool`: [`names::claude_tool`] of `tool_name`; `args`: `tool_input` (see [`crate::gate`] for
//!   which fields become arguments). The path inputs of built-in tools (`file_path`,
//!   `notebook_path`, `path`) are resolved against `cwd` as writ resolves `path` arguments
//!   ([`writ_evaluator::path::resolve`]: `.` and `..` resolved, repeated `/` collapsed), so that
//!   `src/../.github/x` cannot slip past a rule on `*/.github/*` even where a policy declares
//!   them `string`. `WebFetch` also gets `host`, derived from `url` ([`url_host`]; unknown when
//!   the URL has no clear host), whatever the input says; `Bash` gets `assigns`, the shell
//!   variables its command line sets ([`hook::derive_assigns`]). `Glob` and `Grep` without `path`
//!   search `cwd`, so their `path` is `cwd` then.
//! - `chain`: the identity (the accountable human or service), then the Claude Code session as
//!   an `agent` (`claude-code/SESSION_ID`), then, when `agent_id` is present, the sub-agent
//!   (`claude-code/SESSION_ID/AGENT_ID`, with the attribute `agent_type`).
//! - `context`: `cwd`, and `permission_mode` when Claude Code sends it (a policy reads them by
//!   declaring `context cwd: string`, `context permission_mode: string`).
//!
//! The answer: `allow` → `allow`; `deny` → `deny` with writ's reasons; `pending` → `ask`, the
//! reason naming the missing evidence, so that the person asked knows what they vouch for. Any
//! failure (input that is not the hook's JSON, a policy that does not compile, an unreadable
//! identity) → `deny` with the reason. Never anything that lets a call through by accident.

use serde_json::{Value as Json, json};

use crate::hook::{self, Agent, Common, HookCall, HookEvent, Payload};
use crate::names;
use crate::run::RunGate;

/// What the hook answers (see [`hook::Answer`]).
pub type Answer = hook::Answer;

/// The hook's answer to one input, made at `now` (the request's `time`). `identity` is the
/// principal JSON of the identity file, or the reason there is none.
pub fn answer(
    gate: &RunGate<'_>,
    identity: Result<&Json, &str>,
    input: &[u8],
    now: writ_evaluator::Timestamp,
) -> Answer {
    hook::answer(Agent::ClaudeCode, gate, identity, input, now)
}

/// Claude Code's payload beyond the common fields: the tool's name and inputs, the sub-agent,
/// the permission mode.
pub(crate) fn call(common: Common, p: &Payload<'_>) -> Result<HookCall, String> {
    let Common { event, session, tool_name, cwd, mut input, tool_use_id } = common;
    let tool = names::claude_tool(&tool_name);
    if matches!(tool_name.as_str(), "Glob" | "Grep") {
        // Without `path` they search the working directory.
        hook::default_to_cwd(&mut input, "path", &["path"], &cwd);
    }
    if !tool_name.starts_with("mcp__") {
        hook::resolve_paths(&mut input, &["file_path", "notebook_path", "path"], &cwd);
    }
    if tool_name == "Bash" {
        hook::derive_assigns(&mut input);
    }
    if tool_name == "WebFetch" {
        // Derived, never taken from the input: absent (unknown) when `url` has no clear host.
        let host = input.get("url").and_then(Json::as_str).and_then(url_host);
        match host {
            Some(host) => input.insert("host".into(), Json::String(host)),
            None => input.remove("host"),
        };
    }
    let permission_mode = p.optional_string("permission_mode")?;
    let agent_id = p.optional_string("agent_id")?;
    let agent_type = p.optional_string("agent_type")?;
    let mut context = serde_json::Map::new();
    if let Some(mode) = permission_mode {
        context.insert("permission_mode".into(), Json::String(mode));
    }
    let agents = hook::session_agents(
        Agent::ClaudeCode,
        &session,
        agent_id.as_deref(),
        agent_type.as_deref(),
    );
    Ok(HookCall { event, session, tool_use_id, tool_name, tool, input, cwd, context, agents })
}

/// The answer in Claude Code's hook output format.
pub(crate) fn render(answer: &Answer) -> Json {
    match (answer.event, answer.permission) {
        (HookEvent::BeforeTool, Some(permission)) => json!({
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": permission.as_str(),
                "permissionDecisionReason": answer.reason,
            }
        }),
        (HookEvent::SessionStart, _) if !answer.reason.is_empty() => json!({
            "hookSpecificOutput": {
                "hookEventName": "SessionStart",
                "additionalContext": answer.reason,
            }
        }),
        _ => json!({}),
    }
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
