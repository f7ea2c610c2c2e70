//! Gemini CLI's hooks (`writ hook gemini`): `BeforeTool`, `AfterTool` and `SessionStart`.
//!
//! Input (Gemini CLI's hooks reference, <https://geminicli.com/docs/hooks/reference>, and
//! `packages/core/src/hooks/types.ts`): `session_id`, `transcript_path`, `cwd`,
//! `hook_event_name`, `timestamp`, and for tool events `tool_name`, `tool_input` and, for MCP
//! tools, `mcp_context` (`server_name`, `tool_name`, the server's connection details). There is
//! no call id and no sub-agent field.
//!
//! Output: `{"decision": "deny", "reason": "..."}` with exit status 0 blocks the tool, and the
//! reason is sent to the model; `{"decision": "allow"}` lets it run (Gemini CLI fires
//! `BeforeTool` when the tool executes, after its own confirmation, so an allow never skips
//! that). Exit status 2 also blocks; any other status is a warning and the tool runs. Gemini's
//! reference documents no `ask` for tools. So writ answers:
//!
//! - `allow` → `{"decision": "allow", "reason": ...}`;
//! - `deny` → `{"decision": "deny", "reason": ...}` with writ's reasons;
//! - `pending` → deny, naming the missing evidence (Gemini cannot be asked from a hook);
//! - log-only mode and `AfterTool` → `{}`; `SessionStart` of a run that is not admitted →
//!   `systemMessage` and `additionalContext` saying every call will be denied.
//!
//! The request writ decides (besides what [`crate::hook`] does for every agent):
//!
//! - `tool`: `mcp.SERVER.TOOL` from `mcp_context` for MCP tools, [`names::gemini_tool`] of
//!   `tool_name` for the others (`gemini.run_shell_command`, `gemini.read_file`).
//! - Built-in tools' path inputs (`file_path`, `absolute_path`, `dir_path`, `path`,
//!   `directory`) and lists of paths (`paths`, `include`) are resolved against `cwd`.
//!   `glob`, `grep_search` (`search_file_content` in older releases) and `run_shell_command`
//!   without a directory work in `cwd`, so their `dir_path` is `cwd` then.
//! - `AfterTool` records nothing: Gemini gives no call id, and the call was recorded when it was
//!   allowed.

use serde_json::{Map, Value as Json, json};

use crate::hook::{self, Agent, Answer, Common, HookCall, HookEvent, Payload, Permission};
use crate::names;

/// Tools that work in the working directory when no directory is given.
const DEFAULT_TO_CWD: [&str; 4] =
    ["glob", "grep_search", "search_file_content", "run_shell_command"];

/// Gemini CLI's payload beyond the common fields.
pub(crate) fn call(common: Common, p: &Payload<'_>) -> Result<HookCall, String> {
    let Common { event, session, tool_name, cwd, mut input, tool_use_id } = common;
    let tool = match mcp_server_and_tool(p)? {
        Some((server, name)) => names::mcp_tool(&server, &name),
        None => {
            if DEFAULT_TO_CWD.contains(&tool_name.as_str()) {
                hook::default_to_cwd(
                    &mut input,
                    "dir_path",
                    &["dir_path", "path", "directory"],
                    &cwd,
                );
            }
            hook::resolve_paths(
                &mut input,
                &["file_path", "absolute_path", "dir_path", "path", "directory"],
                &cwd,
            );
            hook::resolve_path_lists(&mut input, &["paths", "include"], &cwd);
            if tool_name == "run_shell_command" {
                hook::derive_assigns(&mut input);
            }
            names::gemini_tool(&tool_name)
        }
    };
    let agents = hook::session_agents(Agent::Gemini, &session, None, None);
    Ok(HookCall {
        event,
        session,
        tool_use_id,
        tool_name,
        tool,
        input,
        cwd,
        context: Map::new(),
        agents,
    })
}

/// The server and the server's own name for the tool, from `mcp_context`; `None` for a built-in
/// tool. A `mcp_context` that is there but not an object with both names is refused: the call
/// would otherwise be decided as some other tool.
fn mcp_server_and_tool(p: &Payload<'_>) -> Result<Option<(String, String)>, String> {
    let context = match p.get("mcp_context") {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::Object(context)) => context,
        Some(other) => {
            return Err(format!("`mcp_context`: expected an object, found {}", hook::kind(other)));
        }
    };
    let name = |key: &str| match context.get(key) {
        Some(Json::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Json::String(_)) => Err(format!("`mcp_context.{key}`: empty")),
        None | Some(Json::Null) => Err(format!("`mcp_context.{key}`: missing required field")),
        Some(other) => {
            Err(format!("`mcp_context.{key}`: expected a string, found {}", hook::kind(other)))
        }
    };
    Ok(Some((name("server_name")?, name("tool_name")?)))
}

/// The answer in Gemini CLI's hook output format.
pub(crate) fn render(answer: &Answer) -> Json {
    match (answer.event, answer.permission) {
        (HookEvent::BeforeTool, Some(Permission::Allow)) => {
            json!({"decision": "allow", "reason": answer.reason})
        }
        // `ask` never reaches here (Gemini cannot ask); were it to, it is a deny, not a pass.
        (HookEvent::BeforeTool, Some(Permission::Deny | Permission::Ask)) => {
            json!({"decision": "deny", "reason": answer.reason})
        }
        (HookEvent::SessionStart, _) if !answer.reason.is_empty() => {
            hook::session_start_notice(&answer.reason)
        }
        _ => json!({}),
    }
}
