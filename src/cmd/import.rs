//! `writ import mcp`: `tool` declarations from an MCP server's `tools/list` result, so that a
//! policy can start from a real server's manifest.
//!
//! JSON Schema to writ: `string` → `string`, a string `enum` (or `const`) → `"a" | "b"`,
//! `integer` → `int`, `number` → `int` (noted: a call with a fraction is then wrong-typed,
//! hence denied), a string that names a file → `path` and one that holds shell text →
//! `command` ([`string_kind`] says which names),
//! `boolean` → `bool`, an array of strings → `[string]`; a type that may also be
//! `null` is the other type (writ treats `null` as absent). Anything else is not representable:
//! the parameter is left out, which denies every call that passes it (an undeclared argument),
//! and is reported on standard error and as a comment above the tool. Names follow the MCP
//! proxy's convention (`writ_agents::names`): with `--server NAME`, `mcp.NAME.TOOL`; every
//! character a writ word cannot hold becomes `_`. Annotations become tags: `readOnlyHint` →
//! `read_only`, `destructiveHint` → `destructive`, `openWorldHint` → `open_world`.

use std::collections::HashSet;
use std::io::Read;

use clap::Subcommand;
use serde_json::Value as Json;
use writ_agents::names;
use writ_grammar::quote;

use crate::output::{self, OK, USAGE};

/// `writ import SOURCE ...`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ImportCommand,
}

#[derive(Subcommand)]
pub enum ImportCommand {
    /// `tool` declarations from an MCP `tools/list` result (or the JSON-RPC response holding
    /// it), printed as formatted writ.
    Mcp {
        /// The `tools/list` JSON (a file, or `-` for standard input).
        file: String,
        /// The server's name: tools become `mcp.NAME.TOOL`, as `writ mcp-proxy --server NAME`
        /// names them. Without it, tools keep their own (sanitized) names.
        #[arg(long)]
        server: Option<String>,
    },
}

pub fn run(command: &ImportCommand) -> u8 {
    match command {
        ImportCommand::Mcp { file, server } => mcp(file, server.as_deref()),
    }
}

fn mcp(file: &str, server: Option<&str>) -> u8 {
    let mut text = String::new();
    let read = if file == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(file).map(|t| text = t)
    };
    if let Err(e) = read {
        output::error(format_args!("cannot read `{file}`: {e}"));
        return USAGE;
    }
    let json: Json = match serde_json::from_str(&text) {
        Ok(j) => j,
        Err(e) => {
            output::error(format_args!("`{file}` is not JSON: {e}"));
            return USAGE;
        }
    };
    let imported = match import(&json, server) {
        Ok(i) => i,
        Err(e) => {
            output::error(format_args!("`{file}`: {e}"));
            return USAGE;
        }
    };
    for note in &imported.notes {
        eprintln!("warning: {note}");
    }
    match writ_grammar::format(&imported.text) {
        Some(formatted) => print!("{formatted}"),
        None => {
            // Cannot happen for what `import` writes; print it as it is rather than nothing.
            output::error("the generated declarations do not parse; printed unformatted");
            print!("{}", imported.text);
        }
    }
    OK
}

/// The declarations (unformatted writ) and what could not be carried over.
pub struct Imported {
    pub text: String,
    pub notes: Vec<String>,
}

/// Converts a `tools/list` result, bare or inside a JSON-RPC response, or a bare list of tools.
pub fn import(json: &Json, server: Option<&str>) -> Result<Imported, String> {
    let tools = json
        .get("result")
        .unwrap_or(json)
        .get("tools")
        .or(if json.is_array() { Some(json) } else { None })
        .and_then(Json::as_array)
        .ok_or("expected an MCP `tools/list` result: `{\"tools\": [...]}`, or a JSON-RPC response with one")?;
    let mut out = String::new();
    let mut notes = Vec::new();
    let mut declared = HashSet::new();
    match server {
        Some(s) => {
            out.push_str(&format!("// Tools of the MCP server `{s}` (writ import mcp).\n\n"))
        }
        None => out.push_str("// Tools of an MCP server (writ import mcp).\n\n"),
    }
    for (index, tool) in tools.iter().enumerate() {
        let Some(name) = tool.get("name").and_then(Json::as_str) else {
            notes.push(format!("`tools[{index}]` has no `name`: skipped"));
            continue;
        };
        let writ_name = tool_name(name, server);
        if (server.is_none() && writ_name != name)
            || (server.is_some() && names::word(name) != name)
        {
            notes.push(format!("tool `{name}` is declared as `{writ_name}`"));
        }
        if !declared.insert(writ_name.clone()) {
            notes.push(format!(
                "tool `{name}` would be `{writ_name}`, which an earlier tool already is: skipped"
            ));
            continue;
        }
        let mut docs: Vec<String> = Vec::new();
        if let Some(description) = tool.get("description").and_then(Json::as_str) {
            docs.extend(
                description.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from),
            );
        }
        let mut params = Vec::new();
        let mut comments = Vec::new();
        let mut param_names = HashSet::new();
        let schema = tool.get("inputSchema");
        let properties = schema.and_then(|s| s.get("properties")).and_then(Json::as_object);
        for (prop, prop_schema) in properties.into_iter().flatten() {
            let what = format!("tool `{name}`, property `{prop}`");
            let arg = names::word(prop);
            if writ_grammar::is_keyword(&arg) {
                let note =
                    format!("`{prop}` is a reserved word in writ: calls that pass it are denied");
                notes.push(format!("{what}: not representable: {note}"));
                comments.push(format!("not representable: {note}"));
                continue;
            }
            if !param_names.insert(arg.clone()) {
                let note = format!(
                    "`{prop}` would be `{arg}`, which another property already is: calls that pass it are denied"
                );
                notes.push(format!("{what}: not representable: {note}"));
                comments.push(format!("not representable: {note}"));
                continue;
            }
            if arg != *prop {
                notes.push(format!("{what} is declared as `{arg}`"));
            }
            match writ_type(prop_schema) {
                Ok((ty, note)) => {
                    if let Some(note) = note {
                        notes.push(format!("{what}: {note}"));
                        comments.push(format!("`{arg}`: {note}"));
                    }
                    if let Some(d) = prop_schema.get("description").and_then(Json::as_str) {
                        docs.push(format!("- `{arg}`: {}", one_line(d)));
                    }
                    let ty = if ty == "string" { string_kind(prop, prop_schema) } else { &ty };
                    params.push(format!("{arg}: {ty}"));
                }
                Err(found) => {
                    let note = format!("`{prop}` is {found}: calls that pass it are denied");
                    notes.push(format!("{what}: not representable: {note}"));
                    comments.push(format!("not representable: {note}"));
                }
            }
        }
        let tags = tags(tool.get("annotations"));
        for comment in comments {
            for line in wrap(&one_line(&comment), 96) {
                out.push_str(&format!("// {line}\n"));
            }
        }
        for doc in docs {
            for line in wrap(&doc, 96) {
                out.push_str(&format!("/// {line}\n"));
            }
        }
        out.push_str(&format!("tool {writ_name}"));
        if !params.is_empty() {
            out.push_str(&format!("({})", params.join(", ")));
        }
        if !tags.is_empty() {
            out.push_str(&format!(" [{}]", tags.join(", ")));
        }
        out.push_str("\n\n");
    }
    Ok(Imported { text: out, notes })
}

/// `mcp.SERVER.TOOL` with a server; otherwise the tool's own name made a writ tool name
/// (each dotted word sanitized; a reserved first word gets a leading `_`).
fn tool_name(name: &str, server: Option<&str>) -> String {
    if let Some(server) = server {
        return names::mcp_tool(server, name);
    }
    let mut words: Vec<String> = name.split('.').map(names::word).collect();
    if let Some(first) = words.first_mut().filter(|w| writ_grammar::is_keyword(w)) {
        first.insert(0, '_');
    }
    words.join(".")
}

/// The writ type of a property's schema, with a note where meaning shifts; or what it is.
fn writ_type(schema: &Json) -> Result<(String, Option<String>), String> {
    // `anyOf`/`oneOf` of one type and `null`: that type.
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = schema.get(key).and_then(Json::as_array) {
            let non_null: Vec<&Json> = options
                .iter()
                .filter(|o| o.get("type").and_then(Json::as_str) != Some("null"))
                .collect();
            return match non_null.as_slice() {
                [one] => writ_type(one),
                _ => Err(format!("a choice of types (`{key}`)")),
            };
        }
    }
    if let Some(value) = schema.get("const") {
        return match value.as_str() {
            Some(s) => Ok((quote(s), None)),
            None => Err(format!("a constant `{value}` that is not a string")),
        };
    }
    if let Some(values) = schema.get("enum").and_then(Json::as_array) {
        let strings: Vec<&str> = values.iter().filter_map(Json::as_str).collect();
        if strings.is_empty() || strings.len() != values.len() {
            return Err("an enumeration that is not all strings".into());
        }
        let alternatives: Vec<String> = strings.iter().map(|s| quote(s)).collect();
        return Ok((alternatives.join(" | "), None));
    }
    let ty = match schema.get("type") {
        Some(Json::String(t)) => t.as_str(),
        Some(Json::Array(types)) => {
            let non_null: Vec<&str> =
                types.iter().filter_map(Json::as_str).filter(|t| *t != "null").collect();
            match non_null.as_slice() {
                [one] => *one,
                _ => return Err("a choice of types".into()),
            }
        }
        Some(_) => return Err("a schema with a malformed `type`".into()),
        None if schema.get("$ref").is_some() => return Err("a reference (`$ref`)".into()),
        None => return Err("a schema without a `type`".into()),
    };
    match ty {
        "string" => Ok(("string".into(), None)),
        "integer" => Ok(("int".into(), None)),
        "number" => Ok((
            "int".into(),
            Some("a JSON Schema `number`, declared `int`: a call with a fraction is denied".into()),
        )),
        "boolean" => Ok(("bool".into(), None)),
        "array" => match schema.get("items").map(writ_type) {
            Some(Ok((item, _))) if item == "string" || item.starts_with('"') => {
                Ok(("[string]".into(), None))
            }
            Some(Ok((item, _))) => Err(format!("an array of `{item}` (writ lists hold strings)")),
            Some(Err(item)) => Err(format!("an array whose items are {item}")),
            None => Err("an array without `items`".into()),
        },
        "object" => Err("an object".into()),
        "null" => Err("always `null`".into()),
        other => Err(format!("of type `{other}`")),
    }
}

/// Names of string properties that hold a file path, and that hold shell text.
const PATH_NAMES: &[&str] = &[
    "path",
    "file",
    "filepath",
    "file_path",
    "filename",
    "file_name",
    "dir",
    "directory",
    "dirpath",
    "dir_path",
    "folder",
    "source",
    "destination",
    "src",
    "dest",
    "cwd",
    "root",
];
const COMMAND_NAMES: &[&str] = &["command", "cmd", "shell_command", "bash_command", "script"];

/// `path`, `command` or `string` for a string property: `path` when its schema says
/// `"format": "path"` or its name is one of [`PATH_NAMES`] or ends in `_path`, `_file` or
/// `_dir`; `command` when its name is one of [`COMMAND_NAMES`] (shell text, which writ parses
/// as bash would). Judged on the name as the server spells it, case-insensitively.
fn string_kind(prop: &str, schema: &Json) -> &'static str {
    let name = prop.to_ascii_lowercase();
    if schema.get("format").and_then(Json::as_str) == Some("path")
        || PATH_NAMES.contains(&name.as_str())
        || ["_path", "_file", "_dir"].iter().any(|s| name.ends_with(s))
    {
        "path"
    } else if COMMAND_NAMES.contains(&name.as_str()) {
        "command"
    } else {
        "string"
    }
}

/// MCP tool annotations as tags.
fn tags(annotations: Option<&Json>) -> Vec<&'static str> {
    let hint = |key: &str| annotations.and_then(|a| a.get(key)).and_then(Json::as_bool);
    let mut tags = Vec::new();
    if hint("readOnlyHint") == Some(true) {
        tags.push("read_only");
    } else if hint("destructiveHint") == Some(true) {
        tags.push("destructive");
    }
    if hint("openWorldHint") == Some(true) {
        tags.push("open_world");
    }
    tags
}

/// `text` in lines of at most `width` characters (a longer word gets a line of its own);
/// continuation lines of a `- ` item are indented two spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let indent = if text.starts_with("- ") { "  " } else { "" };
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
            line.push_str(indent);
        }
        if !line.is_empty() && line != indent {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.trim().is_empty() {
        lines.push(line);
    }
    lines
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types() {
        let t = |s: Json| writ_type(&s).map(|(t, _)| t);
        assert_eq!(t(json!({"type": "string"})).unwrap(), "string");
        assert_eq!(t(json!({"type": ["integer", "null"]})).unwrap(), "int");
        assert_eq!(t(json!({"type": "string", "enum": ["a", "b\""]})).unwrap(), r#""a" | "b\"""#);
        assert_eq!(t(json!({"anyOf": [{"type": "boolean"}, {"type": "null"}]})).unwrap(), "bool");
        assert_eq!(t(json!({"type": "array", "items": {"type": "string"}})).unwrap(), "[string]");
        assert!(t(json!({"type": "array", "items": {"type": "integer"}})).is_err());
        assert!(t(json!({"type": "object"})).is_err());
        assert!(t(json!({"enum": [1, 2]})).is_err());
        assert!(t(json!({"$ref": "#/x"})).is_err());
        assert!(t(json!({"type": 3})).is_err());
    }

    #[test]
    fn strings_that_name_files_or_hold_shell_text() {
        let plain = json!({"type": "string"});
        for name in ["path", "File_Path", "source", "destination", "config_file", "out_dir", "cwd"]
        {
            assert_eq!(super::string_kind(name, &plain), "path", "{name}");
        }
        assert_eq!(
            super::string_kind("where", &json!({"type": "string", "format": "path"})),
            "path"
        );
        for name in ["command", "cmd", "script"] {
            assert_eq!(super::string_kind(name, &plain), "command", "{name}");
        }
        for name in ["content", "pattern", "url", "pathological", "commander"] {
            assert_eq!(super::string_kind(name, &plain), "string", "{name}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(tool_name("read-file", None), "read_file");
        assert_eq!(tool_name("test", None), "_test");
        assert_eq!(tool_name("a.b-c", None), "a.b_c");
        assert_eq!(tool_name("read-file", Some("my fs")), "mcp.my_fs.read_file");
    }
}
