//! Decisions (LANGUAGE.md §5) and their JSON form.

use std::fmt;
use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::ir::Value;
use crate::request::format_duration;

/// `allow`, `deny` or `pending`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The request may go ahead (for a start: with [`Decision::ttl_seconds`]).
    Allow,
    /// The request must not go ahead. Every error a gateway meets (a bad request, a policy
    /// that does not load) must be treated as this.
    Deny,
    /// Allowed once the `missing` evidence is given.
    Pending,
}

impl Outcome {
    /// The outcome as decisions write it: `allow`, `deny`, `pending`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::Pending => "pending",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer to a request. Serializes exactly as `docs/language.md` documents ("Decisions"):
/// `{"decision", "missing", "rules", "reasons", "ttl_seconds", "policy"}`, in that order.
///
/// Rule ids, evidence and role names and the policy digest are shared with the [`crate::Policy`]
/// (`Arc<str>`), so that building a decision copies no strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The outcome. Only [`Outcome::Allow`] lets the request through.
    pub decision: Outcome,
    /// On `pending`: the evidence still needed, from the path that lacks the fewest items.
    /// Empty otherwise.
    pub missing: Vec<Missing>,
    /// The rules that decided: on allow the allow (or start) rule; on a deny by a deny rule
    /// those deny rules; on pending the chosen path's allow (or start) rule and the
    /// `require ... for` rules that state missing evidence (in source order); on a delegation
    /// failure the allow rules that matched. Empty when no rule was involved (e.g. an unknown
    /// tool).
    pub rules: Vec<Arc<str>>,
    /// Why, in words a person can act on. Empty on allow.
    pub reasons: Vec<String>,
    /// The granted credential lifetime on an allowed start; `None` (JSON `null`) otherwise.
    pub ttl_seconds: Option<i64>,
    /// The policy digest, `sha256:<hex>`.
    pub policy: Arc<str>,
}

/// One unmet evidence requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    /// The evidence kind.
    pub evidence: Arc<str>,
    /// The role the giver must hold, where the requirement names one.
    pub by: Option<Arc<str>>,
    /// The fields the item must have, where the requirement names them (in requirement order).
    pub fields: Vec<(String, Value)>,
    /// How many items (givers, for `by human` kinds) the requirement asks for.
    pub need: u32,
    /// How many of the request's items counted for it (fewer than `need`).
    pub have: u32,
}

impl Decision {
    /// Whether the outcome is [`Outcome::Allow`]: the one answer that lets the request through
    /// (pending does not).
    pub fn is_allow(&self) -> bool {
        self.decision == Outcome::Allow
    }

    /// The decision as compact JSON text (one line).
    pub fn to_json(&self) -> String {
        // Sized once up front: the fixed keys and the policy hash take about 130 bytes, and
        // every string is written out at least whole.
        let strings: usize = self.reasons.iter().map(|r| r.len() + 4).sum::<usize>()
            + self.rules.iter().map(|r| r.len() + 3).sum::<usize>()
            + self.missing.len() * 64;
        let mut out = Vec::with_capacity(160 + self.policy.len() + strings);
        // Serializing plain strings and numbers into memory cannot fail, and serde_json writes
        // UTF-8 only; were it to fail, the answer is a deny, never an empty or partial text.
        match serde_json::to_writer(&mut out, self).map(|()| String::from_utf8(out)) {
            Ok(Ok(text)) => text,
            _ => {
                writ_stdx::never!("a decision could not be written as JSON");
                self.unwritable().to_string()
            }
        }
    }

    /// The decision as a JSON value (a deny if it cannot be written, as for [`Self::to_json`]).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_else(|_| {
            writ_stdx::never!("a decision could not be written as JSON");
            self.unwritable()
        })
    }

    /// What a decision that cannot be written becomes: a deny saying so.
    fn unwritable(&self) -> serde_json::Value {
        serde_json::json!({
            "decision": "deny",
            "rules": [],
            "reasons": ["internal error: the decision could not be written"],
            "policy": &*self.policy,
        })
    }
}

impl fmt::Display for Decision {
    /// `allow`, or the outcome followed by its reasons, one per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.decision.as_str())?;
        for reason in &self.reasons {
            write!(f, "\n  {reason}")?;
        }
        Ok(())
    }
}

impl Serialize for Decision {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Decision", 6)?;
        st.serialize_field("decision", &self.decision)?;
        st.serialize_field("missing", &self.missing)?;
        st.serialize_field("rules", &Strs(&self.rules))?;
        st.serialize_field("reasons", &self.reasons)?;
        st.serialize_field("ttl_seconds", &self.ttl_seconds)?;
        st.serialize_field("policy", &*self.policy)?;
        st.end()
    }
}

struct Strs<'a>(&'a [Arc<str>]);

impl Serialize for Strs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|x| &**x))
    }
}

impl Serialize for Missing {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = 3 + usize::from(self.by.is_some()) + usize::from(!self.fields.is_empty());
        let mut st = s.serialize_map(Some(len))?;
        st.serialize_entry("evidence", &*self.evidence)?;
        if let Some(by) = &self.by {
            st.serialize_entry("by", &**by)?;
        }
        if !self.fields.is_empty() {
            st.serialize_entry("fields", &Fields(&self.fields))?;
        }
        st.serialize_entry("need", &self.need)?;
        st.serialize_entry("have", &self.have)?;
        st.end()
    }
}

struct Fields<'a>(&'a [(String, Value)]);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, &JsonLit(value))?;
        }
        map.end()
    }
}

/// A literal in the JSON form of requests: durations as `"30m"`, kinds as `"human"`.
pub(crate) struct JsonLit<'a>(pub &'a Value);

impl Serialize for JsonLit<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Str(v) => s.serialize_str(v),
            Value::Int(v) => s.serialize_i64(*v),
            Value::Bool(v) => s.serialize_bool(*v),
            Value::Duration(v) => s.serialize_str(&format_duration(*v)),
            Value::StringList(items) => s.collect_seq(items),
            Value::Kind(k) => s.serialize_str(k.as_str()),
        }
    }
}
