//! OpenAI Codex CLI's hooks (`writ hook codex`): `PreToolUse`, `PostToolUse` and `SessionStart`.
//!
//! Input (codex-rs `hooks/src/schema.rs`, `hooks/src/events/pre_tool_use.rs`): `session_id`,
//! `turn_id`, `transcript_path`, `cwd`, `model`, `permission_mode`, `hook_event_name`,
//! `tool_name`, `tool_input`, `tool_use_id`, and inside a sub-agent `agent_id`, `agent_type`.
//! Codex names every shell tool `Bash` in hooks, with `tool_input` `{"command": "..."}`; file
//! edits are `apply_patch` with `{"command": PATCH}`; MCP tools `mcp__SERVER__TOOL` with their
//! arguments; other tools their own name.
//!
//! Output (codex-rs `hooks/src/engine/output_parser.rs`): Codex blocks a call on
//! `{"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
//! "permissionDecisionReason": "..."}}` with exit status 0 (or the legacy `{"decision":
//! "block"}`, or exit status 2). It treats `permissionDecision` `allow` (without
//! `updatedInput`) and `ask` as unsupported answers and **runs the call**, as it does on any
//! other exit status. So writ answers:
//!
//! - `allow` → `{}`: no objection; Codex's own approval policy and sandbox still apply;
//! - `deny` → the deny above, with writ's reasons;
//! - `pending` → deny, naming the missing evidence (Codex cannot be asked from a hook);
//! - log-only mode and `PostToolUse` → `{}`; `SessionStart` of a run that is not admitted →
//!   `additionalContext` and `systemMessage` saying every call will be denied.
//!
//! The request writ decides (besides what [`crate::hook`] does for every agent):
//!
//! - `tool`: [`names::codex_tool`] of `tool_name` (`codex.bash`, `codex.apply_patch`,
//!   `mcp.SERVER.TOOL`).
//! - A `command` that is an argument vector (`["bash", "-lc", "git push --force"]`, as older
//!   Codex releases' `shell` and `local_shell` send it) becomes one command line
//!   ([`hook::command_line`]), so a policy's `command` argument analyses what will run.
//! - `apply_patch` gets `paths`: every file the patch adds, updates, deletes or moves to
//!   ([`patch_paths`]), resolved against `cwd`; absent (unknown) when the patch cannot be read.
//!   Never taken from the input.
//! - `file_path`, `dir_path`, `path` and `workdir` of built-in tools are resolved against `cwd`.
//! - Context: `cwd`, `permission_mode` and `model`.

use serde_json::{Map, Value as Json, json};

use crate::hook::{self, Agent, Answer, Common, HookCall, HookEvent, Payload, Permission};
use crate::names;

/// Codex's payload beyond the common fields.
pub(crate) fn call(common: Common, p: &Payload<'_>) -> Result<HookCall, String> {
    let Common { event, session, tool_name, cwd, mut input, tool_use_id } = common;
    let tool = names::codex_tool(&tool_name);
    if !tool_name.starts_with("mcp__") {
        if let Some(Json::Array(words)) = input.get("command")
            && let Some(words) = words.iter().map(Json::as_str).collect::<Option<Vec<_>>>()
        {
            let words: Vec<String> = words.into_iter().map(str::to_string).collect();
            input.insert("command".into(), Json::String(hook::command_line(&words)));
        }
        hook::resolve_paths(&mut input, &["file_path", "dir_path", "path", "workdir"], &cwd);
    }
    if tool_name == "Bash" {
        hook::derive_assigns(&mut input);
    }
    if tool_name == "apply_patch" {
        // Derived, never taken from the input: absent (unknown) when the patch cannot be read.
        let patch = ["command", "input"].iter().find_map(|k| input.get(*k).and_then(Json::as_str));
        match patch.and_then(|text| patch_paths(text, &cwd)) {
            Some(paths) => {
                let paths = paths.into_iter().map(Json::String).collect();
                input.insert("paths".into(), Json::Array(paths))
            }
            None => input.remove("paths"),
        };
    }
    let mut context = Map::new();
    for key in ["permission_mode", "model"] {
        if let Some(value) = p.optional_string(key)? {
            context.insert(key.into(), Json::String(value));
        }
    }
    let agent_id = p.optional_string("agent_id")?;
    let agent_type = p.optional_string("agent_type")?;
    let agents =
        hook::session_agents(Agent::Codex, &session, agent_id.as_deref(), agent_type.as_deref());
    Ok(HookCall { event, session, tool_use_id, tool_name, tool, input, cwd, context, agents })
}

/// The answer in Codex's hook output format.
pub(crate) fn render(answer: &Answer) -> Json {
    match (answer.event, answer.permission) {
        // `ask` never reaches here (Codex cannot ask); were it to, it is a deny, not a pass.
        (HookEvent::BeforeTool, Some(Permission::Deny | Permission::Ask)) => json!({
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": answer.reason,
            }
        }),
        (HookEvent::SessionStart, _) if !answer.reason.is_empty() => {
            hook::session_start_notice(&answer.reason)
        }
        _ => json!({}),
    }
}

const BEGIN_PATCH: &str = "*** Begin Patch";
const END_PATCH: &str = "*** End Patch";
const END_OF_FILE: &str = "*** End of File";
/// The headers that name a file the patch writes.
const FILE_HEADERS: [&str; 4] =
    ["*** Add File: ", "*** Update File: ", "*** Delete File: ", "*** Move to: "];

/// The files an `apply_patch` patch touches, resolved against `cwd`, in order of appearance;
/// `None` when the text is not a patch writ can read: no `*** Begin Patch` ... `*** End Patch`
/// envelope (also inside a `<<EOF` here-document, which Codex accepts), a `***` line that is
/// not one of the format's markers, a header without a path, a path that cannot be resolved
/// (`~/x`), or no file at all.
///
/// Every line that is a file header once trimmed counts, also where Codex would read it as a
/// hunk's context: a path too many only makes rules on `paths` stricter, one too few could let
/// a write through.
pub fn patch_paths(text: &str, cwd: &str) -> Option<Vec<String>> {
    let lines: Vec<&str> = text.trim().lines().collect();
    let envelope = |lines: &[&str]| -> Option<Vec<String>> {
        let [first, body @ .., last] = lines else { return None };
        if first.trim() != BEGIN_PATCH || last.trim() != END_PATCH {
            return None;
        }
        Some(body.iter().map(|l| l.to_string()).collect())
    };
    let body = envelope(&lines).or_else(|| {
        let [first, inner @ .., last] = lines.as_slice() else { return None };
        let heredoc = matches!(*first, "<<EOF" | "<<'EOF'" | "<<\"EOF\"");
        if heredoc && last.ends_with("EOF") { envelope(inner) } else { None }
    })?;
    let mut paths = Vec::new();
    for line in &body {
        let line = line.trim();
        if !line.starts_with("***") {
            continue;
        }
        if line == END_OF_FILE {
            continue;
        }
        let path = FILE_HEADERS.iter().find_map(|header| line.strip_prefix(header))?;
        let resolved = writ_evaluator::path::resolve(path, Some(cwd))?;
        paths.push(resolved.into_owned());
    }
    if paths.is_empty() { None } else { Some(paths) }
}

#[cfg(test)]
mod tests {
    use super::patch_paths;

    #[test]
    fn paths_come_from_every_file_header() {
        let patch = "*** Begin Patch\n*** Add File: hello.txt\n+Hello\n*** Update File: src/app.py\n\
                     *** Move to: src/main.py\n@@ def greet():\n-print(\"Hi\")\n+print(\"Hello\")\n\
                     *** Delete File: ../obsolete.txt\n*** Update File: /etc/x\n@@\n-a\n+b\n\
                     *** End of File\n*** End Patch\n";
        assert_eq!(
            patch_paths(patch, "/work/acme").unwrap(),
            [
                "/work/acme/hello.txt",
                "/work/acme/src/app.py",
                "/work/acme/src/main.py",
                "/work/obsolete.txt",
                "/etc/x"
            ]
        );
    }

    #[test]
    fn here_documents_and_padding_are_read_as_codex_reads_them() {
        let patch = "<<'EOF'\n*** Begin Patch\n  *** Update File: .git/hooks/pre-commit  \n@@\n+x\n*** End Patch\nEOF\n";
        assert_eq!(patch_paths(patch, "/w").unwrap(), ["/w/.git/hooks/pre-commit"]);
        // A header inside a hunk's context is counted too: a path too many is safe.
        let patch =
            "*** Begin Patch\n*** Update File: a\n@@\n *** Add File: .env\n+x\n*** End Patch";
        assert_eq!(patch_paths(patch, "/w").unwrap(), ["/w/a", "/w/.env"]);
        // Content lines of an added file are not headers.
        let patch = "*** Begin Patch\n*** Add File: a\n+*** Add File: b\n*** End Patch";
        assert_eq!(patch_paths(patch, "/w").unwrap(), ["/w/a"]);
    }

    #[test]
    fn a_patch_writ_cannot_read_has_no_paths() {
        for patch in [
            "",
            "*** Update File: a\n@@\n+x\n",
            "*** Begin Patch\n*** Update File: a\n@@\n+x\n",
            "*** Begin Patch\n*** End Patch",
            "*** Begin Patch\n*** Rename File: a\n*** End Patch",
            "*** Begin Patch\n*** Add File: \n+x\n*** End Patch",
            "*** Begin Patch\n*** Add File: ~/.bashrc\n+x\n*** End Patch",
            "*** Begin Patch\n*** Add File: a\0b\n+x\n*** End Patch",
            "<<EOF\n*** Begin Patch\n*** Add File: a\n+x\n*** End Patch\n",
        ] {
            assert_eq!(patch_paths(patch, "/w"), None, "{patch:?}");
        }
    }
}
