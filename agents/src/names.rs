//! How tool and argument names from coding agents become writ names.
//!
//! A writ word is `[A-Za-z_][A-Za-z0-9_]*` (LANGUAGE.md §1); tool names are words joined by
//! dots, the first an identifier (here `claude`, `codex`, `gemini` or `mcp`). The convention:
//!
//! - Claude Code's built-in tools become `claude.SNAKE`: `Bash` → `claude.bash`,
//!   `WebFetch` → `claude.web_fetch`, `NotebookEdit` → `claude.notebook_edit`, `LS` → `claude.ls`.
//! - Codex CLI's built-in tools become `codex.SNAKE`: `Bash` (every shell tool, as Codex's hooks
//!   name it) → `codex.bash`, `apply_patch` → `codex.apply_patch`, `shell` → `codex.shell`.
//! - Gemini CLI's built-in tools become `gemini.SNAKE`: `run_shell_command` →
//!   `gemini.run_shell_command`, `read_file` → `gemini.read_file`, `replace` → `gemini.replace`.
//! - MCP tools become `mcp.SERVER.TOOL`: from Claude Code's and Codex's `mcp__SERVER__TOOL`,
//!   from Gemini CLI's `mcp_context` (`server_name`, `tool_name`: Gemini's own `mcp_SERVER_TOOL`
//!   cannot be split reliably when the server's name holds a `_`), or from the proxy's
//!   `--server` and the upstream's tool name.
//! - In every word (server, tool, argument), each character a word cannot hold becomes `_`; an
//!   empty word is `_`; a word that would start with a digit gets a leading `_`
//!   (`read-file` → `read_file`, `-i` → `_i`, `2fa` → `_2fa`).

/// `text` as one writ word: every character outside `[A-Za-z0-9_]` becomes `_`, a leading
/// digit gets a `_` before it, and the empty text is `_`.
pub fn word(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }));
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// `CamelCase` → `camel_case`, keeping runs of capitals together (`LS` → `ls`,
/// `HTTPFetch` → `http_fetch`), then made a word.
pub fn snake(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    let mut prev: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_uppercase()
            && let Some(prev) = prev
        {
            let next_lower = chars.peek().is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
        prev = Some(c);
    }
    word(&out)
}

/// The writ tool for an MCP server's tool: `mcp.SERVER.TOOL`.
pub fn mcp_tool(server: &str, tool: &str) -> String {
    format!("mcp.{}.{}", word(server), word(tool))
}

/// The writ tool for a Claude Code tool name: `mcp__SERVER__TOOL` is an MCP tool (split at the
/// first `__` after the server's name), anything else a built-in (`claude.SNAKE`).
pub fn claude_tool(name: &str) -> String {
    match mcp_parts(name) {
        Some((server, tool)) => mcp_tool(server, tool),
        None => format!("claude.{}", snake(name)),
    }
}

/// The writ tool for a Codex CLI tool name: `mcp__SERVER__TOOL` is an MCP tool (as for
/// Claude Code), anything else a built-in (`codex.SNAKE`).
pub fn codex_tool(name: &str) -> String {
    match mcp_parts(name) {
        Some((server, tool)) => mcp_tool(server, tool),
        None => format!("codex.{}", snake(name)),
    }
}

/// The writ tool for a Gemini CLI built-in tool name (`gemini.SNAKE`). MCP tools are named from
/// the payload's `mcp_context` with [`mcp_tool`]; a name that only looks like one
/// (`mcp_github_create_issue`) stays a `gemini.` tool, which no policy declares by accident.
pub fn gemini_tool(name: &str) -> String {
    format!("gemini.{}", snake(name))
}

/// `mcp__SERVER__TOOL` split at the first `__` after the server's name.
fn mcp_parts(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix("mcp__")?;
    Some(rest.split_once("__").unwrap_or((rest, "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_tools() {
        let cases = [
            ("Bash", "claude.bash"),
            ("Read", "claude.read"),
            ("Edit", "claude.edit"),
            ("MultiEdit", "claude.multi_edit"),
            ("Write", "claude.write"),
            ("NotebookEdit", "claude.notebook_edit"),
            ("Glob", "claude.glob"),
            ("Grep", "claude.grep"),
            ("LS", "claude.ls"),
            ("WebFetch", "claude.web_fetch"),
            ("WebSearch", "claude.web_search"),
            ("Task", "claude.task"),
            ("Agent", "claude.agent"),
            ("TodoWrite", "claude.todo_write"),
            ("BashOutput", "claude.bash_output"),
            ("KillShell", "claude.kill_shell"),
            ("ExitPlanMode", "claude.exit_plan_mode"),
            ("HTTPFetch", "claude.http_fetch"),
            ("Tool2Go", "claude.tool2_go"),
            ("", "claude._"),
        ];
        for (claude, writ) in cases {
            assert_eq!(claude_tool(claude), writ, "{claude}");
        }
    }

    #[test]
    fn mcp_tools() {
        assert_eq!(claude_tool("mcp__github__create_issue"), "mcp.github.create_issue");
        assert_eq!(claude_tool("mcp__my-server__read-file"), "mcp.my_server.read_file");
        assert_eq!(claude_tool("mcp__srv__a__b"), "mcp.srv.a__b");
        assert_eq!(claude_tool("mcp__srv"), "mcp.srv._");
        assert_eq!(mcp_tool("fs", "read_text_file"), "mcp.fs.read_text_file");
        assert_eq!(mcp_tool("fs", "tools.list"), "mcp.fs.tools_list");
        assert_eq!(mcp_tool("2fa", ""), "mcp._2fa._");
    }

    #[test]
    fn codex_and_gemini_tools() {
        let codex = [
            ("Bash", "codex.bash"),
            ("apply_patch", "codex.apply_patch"),
            ("shell", "codex.shell"),
            ("local_shell", "codex.local_shell"),
            ("spawn_agent", "codex.spawn_agent"),
            ("update_plan", "codex.update_plan"),
            ("mcp__github__create_issue", "mcp.github.create_issue"),
            ("mcp__my-server__read-file", "mcp.my_server.read_file"),
        ];
        for (name, writ) in codex {
            assert_eq!(codex_tool(name), writ, "{name}");
        }
        let gemini = [
            ("run_shell_command", "gemini.run_shell_command"),
            ("read_file", "gemini.read_file"),
            ("read_many_files", "gemini.read_many_files"),
            ("replace", "gemini.replace"),
            ("google_web_search", "gemini.google_web_search"),
            ("mcp_github_create_issue", "gemini.mcp_github_create_issue"),
            ("mcp__github__create_issue", "gemini.mcp__github__create_issue"),
        ];
        for (name, writ) in gemini {
            assert_eq!(gemini_tool(name), writ, "{name}");
        }
    }

    #[test]
    fn words() {
        assert_eq!(word("-i"), "_i");
        assert_eq!(word("-A"), "_A");
        assert_eq!(word("file_path"), "file_path");
        assert_eq!(word("päth"), "p_th");
        assert_eq!(word("9lives"), "_9lives");
        assert_eq!(word(""), "_");
    }
}
