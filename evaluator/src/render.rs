//! Rendering values, calls and requirements for reasons and traces.

use std::fmt::Write;

use crate::ir::{CallsIr, CommandPatternIr, PatternItemIr, ValueType};
use crate::policy::{Policy, Requirement};
use crate::request::{RequestValue, Str, format_duration, parse_duration};
use crate::shell::SimpleCommand;

/// Whether a request value has the declared type (a duration is a string in duration syntax;
/// an enumeration value is one of its strings).
///
/// Inlined where a decision checks its request (every argument, attribute and context value),
/// with the two cases that read the text out of line: most values fit by their kind alone.
#[inline]
pub(crate) fn fits(ty: &ValueType, value: &RequestValue<'_>) -> bool {
    match (ty, value) {
        (ValueType::String | ValueType::Command | ValueType::Path, RequestValue::Str(_))
        | (ValueType::Int, RequestValue::Int(_))
        | (ValueType::Bool, RequestValue::Bool(_))
        | (ValueType::StringList, RequestValue::StrList(_)) => true,
        (ValueType::Duration | ValueType::Enum(_), RequestValue::Str(text)) => text_fits(ty, text),
        _ => false,
    }
}

/// [`fits`] for a string value of a type that constrains the text.
#[inline(never)]
fn text_fits(ty: &ValueType, text: &str) -> bool {
    match ty {
        ValueType::Duration => parse_duration(text).is_some(),
        ValueType::Enum(variants) => variants.iter().any(|v| crate::same::same(v, text)),
        _ => {
            writ_stdx::never!("text_fits on {ty:?}, which `fits` never passes");
            false
        }
    }
}

/// `a string`, `an int`, `one of "staging", "prod"`: what a value of `ty` must be.
pub(crate) fn type_text(ty: &ValueType) -> String {
    match ty {
        ValueType::String => "a string".to_owned(),
        ValueType::Int => "an integer".to_owned(),
        ValueType::Bool => "a boolean".to_owned(),
        ValueType::Duration => "a duration such as \"30m\"".to_owned(),
        ValueType::StringList => "a list of strings".to_owned(),
        ValueType::Command => "a command line (a string)".to_owned(),
        ValueType::Path => "a path (a string)".to_owned(),
        ValueType::Enum(variants) => {
            let mut out = String::from("one of ");
            for (i, v) in variants.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&quote(v));
            }
            out
        }
    }
}

/// `found "qa"`, `found 3.0 (a number that is not an integer)`.
pub(crate) fn found_text(value: &RequestValue<'_>) -> String {
    match value {
        RequestValue::Other(_) => format!("found {value} ({})", value.describe()),
        _ => format!("found {value}"),
    }
}

pub(crate) use writ_stdx::quote;

/// `deploy(env: "prod", service: "api")`: the tool and the arguments given, in the tool's
/// parameter order (undeclared ones last, in request order); just `tool` without arguments.
pub(crate) fn call(policy: &Policy, tool: &str, args: &[(Str<'_>, RequestValue<'_>)]) -> String {
    if args.is_empty() {
        return tool.to_owned();
    }
    let mut out = String::with_capacity(tool.len() + 2 + 32 * args.len());
    out.push_str(tool);
    out.push('(');
    let mut first = true;
    let mut put = |out: &mut String, name: &str, value: &RequestValue<'_>| {
        if !first {
            out.push_str(", ");
        }
        first = false;
        out.push_str(name);
        out.push_str(": ");
        value.write_shown(out);
    };
    let params = policy
        .tools_by_name
        .get(tool)
        .and_then(|&t| policy.ir.tools.get(t.index()))
        .map(|t| &t.params[..])
        .unwrap_or(&[]);
    for p in params {
        if let Some((name, value)) = args.iter().find(|(k, _)| *k == p.name) {
            put(&mut out, name, value);
        }
    }
    for (name, value) in args {
        if !params.iter().any(|p| p.name == *name) {
            put(&mut out, name, value);
        }
    }
    out.push(')');
    out
}

/// A requirement as written: `2 approval by security_reviewer`, `ticket(project: "REL")`.
pub(crate) fn requirement(policy: &Policy, r: &Requirement, count: u32) -> String {
    let mut out = String::new();
    write_requirement(&mut out, policy, r, count);
    out
}

/// [`requirement`], appended to `out`.
pub(crate) fn write_requirement(out: &mut String, policy: &Policy, r: &Requirement, count: u32) {
    if count != 1 {
        let _ = write!(out, "{count} ");
    }
    match policy.ir.evidence.get(r.evidence.index()) {
        Some(kind) => out.push_str(&kind.name),
        None => out.push('?'),
    }
    if !r.fields.is_empty() {
        out.push('(');
        for (i, (name, value)) in r.fields.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{name}: {}", value);
        }
        out.push(')');
    }
    if let Some(role) = r.by.and_then(|r| policy.ir.roles.get(r.index())) {
        out.push_str(" by ");
        out.push_str(&role.name);
    }
}

/// A command pattern in writ syntax: `["git", "push", ...]`.
pub fn command_pattern(p: &CommandPatternIr) -> String {
    let items: Vec<String> = p
        .items
        .iter()
        .map(|item| match item {
            PatternItemIr::Word(w) => quote(w),
            PatternItemIr::Rest => "...".to_owned(),
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// `calls(deploy)`, `calls([secret] within 24h)`.
pub fn calls(c: &CallsIr) -> String {
    match c.within_seconds {
        None => format!("calls({})", c.target.text),
        Some(s) => format!("calls({} within {})", c.target.text, format_duration(s)),
    }
}

/// A simple command's words as a pattern would list them: `["rm", "-rf", "/"]`.
pub(crate) fn simple_command(c: &SimpleCommand) -> String {
    let words: Vec<String> = c.words.iter().map(|w| quote(&w.text)).collect();
    format!("[{}]", words.join(", "))
}

/// `1 entry`, `3 entries`, `2 simple commands`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        (_, None) => format!("{n} {noun}s"),
    }
}
