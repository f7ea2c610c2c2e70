//! How tool and argument names from coding agents become writ names.
//!
//! A writ word is `[A-Za-z_][A-Za-z0-9_]*` (LANGUAGE.md §1); tool names are words joined by
//! dots, the first an identifier (here always `claude` or `mcp`). The convention:
//!
//! - Claude Code's built-in tools become `claude.SNAKE`: `Bash` → `claude.bash`,
//!   `WebFetch` → `claude.web_fetch`, `NotebookEdit` → `claude.notebook_edit`, `LS` → `claude.ls`.
//! - MCP tools become `mcp.SERVER.TOOL`, from Claude Code's `mcp__SERVER__TOOL` or from the
//!   proxy's `--server` and the upstream's tool name.
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
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
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
    if let Some(rest) = name.strip_prefix("mcp__") {
        let (server, tool) = rest.split_once("__").unwrap_or((rest, ""));
        return mcp_tool(server, tool);
    }
    format!("claude.{}", snake(name))
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
    fn words() {
        assert_eq!(word("-i"), "_i");
        assert_eq!(word("-A"), "_A");
        assert_eq!(word("file_path"), "file_path");
        assert_eq!(word("päth"), "p_th");
        assert_eq!(word("9lives"), "_9lives");
        assert_eq!(word(""), "_");
    }
}
