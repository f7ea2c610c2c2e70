//! A JSON tree that keeps every key of every object, so that duplicate keys can be found and
//! reported with their path (LANGUAGE.md §5: a duplicate key anywhere makes a request malformed).
//!
//! `serde_json::Value` silently keeps the last of two equal keys; this tree is built by our own
//! [`Deserialize`] visitor over `serde_json`'s parser (no hand-rolled JSON parsing), then
//! checked for duplicates before anything reads it.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A parsed JSON value. Objects keep their keys in order, duplicates included.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// A JSON integer within `i64`.
    Int(i64),
    /// Any other number: with a fraction or exponent, or an integer outside `i64`.
    OtherNumber(OtherNumber),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum OtherNumber {
    Unsigned(u64),
    Float(f64),
}

/// A JSON number that did not fit an `i64` or `u64`, for messages: a whole number that large was
/// written as an integer too long for 64 bits (`1180000000000000000000`), anything else is not
/// an integer (`3.5`, `3.0`).
pub(crate) fn describe_float(f: f64) -> &'static str {
    if f.is_finite() && f.fract() == 0.0 && f.abs() >= 2f64.powi(63) {
        "an integer outside the 64-bit range"
    } else {
        "a number that is not an integer"
    }
}

impl Json {
    /// What kind of JSON value this is, for messages ("found an object").
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Int(_) => "an integer",
            Json::OtherNumber(OtherNumber::Unsigned(_)) => "an integer outside the 64-bit range",
            Json::OtherNumber(OtherNumber::Float(f)) => describe_float(*f),
            Json::Str(_) => "a string",
            Json::Array(_) => "a list",
            Json::Object(_) => "an object",
        }
    }

    /// Converts into a `serde_json::Value` (for values that are not writ values).
    pub(crate) fn into_value(self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(b),
            Json::Int(i) => Value::from(i),
            Json::OtherNumber(OtherNumber::Unsigned(u)) => Value::from(u),
            Json::OtherNumber(OtherNumber::Float(f)) => {
                serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
            }
            Json::Str(s) => Value::String(s),
            Json::Array(items) => Value::Array(items.into_iter().map(Json::into_value).collect()),
            Json::Object(entries) => {
                Value::Object(entries.into_iter().map(|(k, v)| (k, v.into_value())).collect())
            }
        }
    }

    /// Parses `text`, rejecting duplicate keys. Errors carry the path of the duplicate key.
    pub(crate) fn parse(text: &[u8]) -> Result<Json, (Path<'static>, ParseProblem)> {
        let json: Json = serde_json::from_slice(text)
            .map_err(|e| (Path::Root, ParseProblem::Syntax(e.to_string())))?;
        json.check_duplicates(&Path::Root)
            .map_err(|(path, key)| (Path::Owned(path), ParseProblem::DuplicateKey(key)))?;
        Ok(json)
    }

    /// Finds the first key that occurs twice in one object, depth first, in document order.
    /// Returns the rendered path of the second occurrence and the key.
    pub(crate) fn check_duplicates(&self, path: &Path<'_>) -> Result<(), (String, String)> {
        match self {
            Json::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    item.check_duplicates(&Path::Index(path, i))?;
                }
                Ok(())
            }
            Json::Object(entries) => {
                if let Some(key) = first_duplicate(entries) {
                    return Err((Path::Key(path, key).render(), key.to_owned()));
                }
                for (key, value) in entries {
                    value.check_duplicates(&Path::Key(path, key))?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// The first key (in document order) that an earlier entry already used.
fn first_duplicate(entries: &[(String, Json)]) -> Option<&str> {
    if entries.len() <= 16 {
        for (i, (key, _)) in entries.iter().enumerate() {
            if entries.iter().take(i).any(|(k, _)| k == key) {
                return Some(key);
            }
        }
        None
    } else {
        let mut seen: HashSet<&str> = HashSet::with_capacity(entries.len());
        entries.iter().map(|(k, _)| k.as_str()).find(|k| !seen.insert(k))
    }
}

/// A path into a request, built on the stack while decoding and rendered only for errors:
/// `chain[1].kind`, `args.env`, `evidence[0].by.roles[2]`, `context["a.b"]`.
#[derive(Clone, Debug)]
pub(crate) enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
    /// An already rendered path.
    Owned(String),
}

impl Path<'_> {
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) {
        match self {
            Path::Root => {}
            Path::Owned(s) => out.push_str(s),
            Path::Index(parent, i) => {
                parent.render_into(out);
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
            Path::Key(parent, key) => {
                parent.render_into(out);
                if is_word(key) {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                } else {
                    out.push('[');
                    out.push_str(&serde_json::Value::from(*key).to_string());
                    out.push(']');
                }
            }
        }
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`
fn is_word(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => Json::Int(i),
            Err(_) => Json::OtherNumber(OtherNumber::Unsigned(v)),
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        Ok(Json::OtherNumber(OtherNumber::Float(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        Json::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<Json>()?;
            entries.push((key, value));
        }
        Ok(Json::Object(entries))
    }
}

/// Why [`Json::parse`] refused a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ParseProblem {
    /// Not JSON: serde_json's message.
    Syntax(String),
    /// A key given twice in one object.
    DuplicateKey(String),
}

impl std::fmt::Display for ParseProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseProblem::Syntax(message) => write!(f, "invalid JSON: {message}"),
            ParseProblem::DuplicateKey(key) => write!(f, "duplicate key `{key}`"),
        }
    }
}

/// Where the first byte at or after `from` that ends a string's plain run is: a quote, a
/// backslash or a control character (which JSON does not allow raw in a string): where the
/// request scanner's string ends or the decision writer escapes. Eight bytes at a time: strings
/// are most of a request's and a decision's bytes. Always inlined: left to the inliner, a
/// small change elsewhere in the request scanner made it a call, and decoding took 9% more
/// instructions.
#[inline(always)]
pub(crate) fn special(bytes: &[u8], from: usize) -> Option<usize> {
    use crate::bytes::{below, equal};
    crate::bytes::first(
        bytes,
        from,
        |x| equal(x, b'"') | equal(x, b'\\') | below(x, 0x20),
        |b| b == b'"' || b == b'\\' || b < 0x20,
    )
}

/// An integer in decimal, as `serde_json` and `Display` write it.
pub(crate) fn write_integer(out: &mut String, n: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// `text` as a JSON string ([`write_string`]).
pub(crate) fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    write_string(&mut out, text);
    out
}

/// A JSON string, escaped as `serde_json` escapes it: `"` and `\`, the control characters
/// (`\b \f \n \r \t` by name, the others as `\u00xx`), nothing else.
pub(crate) fn write_string(out: &mut String, text: &str) {
    out.push('"');
    let bytes = text.as_bytes();
    let mut plain = 0;
    while let Some(at) = crate::json::special(bytes, plain) {
        out.push_str(text.get(plain..at).unwrap_or_default());
        plain = at + 1;
        let byte = bytes.get(at).copied().unwrap_or_default();
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX.get(usize::from(byte >> 4)).copied().unwrap_or(b'0')));
                out.push(char::from(HEX.get(usize::from(byte & 0xf)).copied().unwrap_or(b'0')));
                continue;
            }
        };
        out.push_str(escape);
    }
    out.push_str(text.get(plain..).unwrap_or_default());
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dup(text: &str) -> (String, String) {
        match Json::parse(text.as_bytes()) {
            Err((path, problem)) => (path.render(), problem.to_string()),
            Ok(json) => panic!("expected an error, got {json:?}"),
        }
    }

    #[test]
    fn keeps_every_key_in_order() {
        let json = Json::parse(br#"{"b": 1, "a": [true, null, "x", 2.5]}"#).unwrap();
        assert_eq!(
            json,
            Json::Object(vec![
                ("b".into(), Json::Int(1)),
                (
                    "a".into(),
                    Json::Array(vec![
                        Json::Bool(true),
                        Json::Null,
                        Json::Str("x".into()),
                        Json::OtherNumber(OtherNumber::Float(2.5)),
                    ])
                ),
            ])
        );
    }

    #[test]
    fn integers_are_i64_only() {
        assert_eq!(Json::parse(b"9223372036854775807").unwrap(), Json::Int(i64::MAX));
        assert_eq!(Json::parse(b"-9223372036854775808").unwrap(), Json::Int(i64::MIN));
        assert_eq!(
            Json::parse(b"9223372036854775808").unwrap(),
            Json::OtherNumber(OtherNumber::Unsigned(1 << 63))
        );
        assert!(matches!(
            Json::parse(b"-9223372036854775809").unwrap(),
            Json::OtherNumber(OtherNumber::Float(_))
        ));
        assert_eq!(Json::parse(b"3.0").unwrap(), Json::OtherNumber(OtherNumber::Float(3.0)));
        assert_eq!(Json::parse(b"1e2").unwrap(), Json::OtherNumber(OtherNumber::Float(100.0)));
    }

    #[test]
    fn duplicate_keys_at_top_level() {
        assert_eq!(
            dup(r#"{"action": "call", "action": "start"}"#),
            ("action".into(), "duplicate key `action`".into())
        );
    }

    #[test]
    fn duplicate_keys_nested_deep() {
        let text = r#"{"chain": [{"id": "a", "kind": "human"},
            {"id": "b", "kind": "agent", "attrs": {"x": {"y": [1, {"z": 1, "z": 2}]}}}]}"#;
        assert_eq!(dup(text), ("chain[1].attrs.x.y[1].z".into(), "duplicate key `z`".into()));
    }

    #[test]
    fn duplicate_keys_with_null_values_still_count() {
        assert_eq!(dup(r#"{"subject": null, "subject": null}"#).0, "subject");
    }

    #[test]
    fn duplicate_keys_in_large_objects() {
        let mut text = String::from("{");
        for i in 0..40 {
            text.push_str(&format!("\"k{i}\": {i}, "));
        }
        text.push_str("\"k7\": 0}");
        assert_eq!(dup(&text), ("k7".into(), "duplicate key `k7`".into()));
    }

    #[test]
    fn odd_keys_are_quoted_in_paths() {
        assert_eq!(dup(r#"{"context": {"a.b": {"x": 1, "x": 2}}}"#).0, r#"context["a.b"].x"#);
        assert_eq!(dup(r#"{"": 1, "": 2}"#).0, r#"[""]"#);
    }

    #[test]
    fn invalid_json_has_a_position() {
        let (path, message) = dup("{\"action\": }");
        assert_eq!(path, "");
        assert!(message.starts_with("invalid JSON: "), "{message}");
        assert!(message.contains("line 1 column"), "{message}");
        let (_, message) = dup("{} {}");
        assert!(message.contains("trailing characters"), "{message}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let (_, message) = dup(&text);
        assert!(message.contains("recursion limit"), "{message}");
    }
}
