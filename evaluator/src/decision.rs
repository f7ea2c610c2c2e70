//! Decisions (LANGUAGE.md §5), the two forms the decision procedure makes them in (the owned
//! [`Decision`], and a [`BorrowedDecision`] for [`crate::Policy::decide_json`]), and their one
//! JSON writer.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::ir::Value;
use crate::policy::{Policy, Requirement, Rule};
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

/// The ids of the rules that decided (see [`Decision::rules`]): a list that holds one id without
/// an allocation, since an allow names exactly one rule. It derefs to a slice of ids; build one
/// with `RuleIds::new()`, `RuleIds::from_vec(ids)` or `ids.into_iter().collect()`.
pub type RuleIds = smallvec::SmallVec<[Arc<str>; 1]>;

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
    pub rules: RuleIds,
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

/// A decision whose rule ids, and a deny's reason, are borrowed from the policy that decided:
/// what [`crate::Policy::decide_json`] makes and writes out, so that the answer a gateway
/// sends on touches no reference count and copies no reason.
#[derive(Debug)]
pub(crate) struct BorrowedDecision<'p> {
    pub decision: Outcome,
    pub missing: smallvec::SmallVec<[Unmet<'p>; 2]>,
    pub rules: BorrowedRuleIds<'p>,
    /// The reasons of an allow or a deny (a pending decision's are written from `pending`).
    pub reasons: smallvec::SmallVec<[Cow<'p, str>; 1]>,
    pub ttl_seconds: Option<i64>,
    /// On pending: what is pending, for the reasons (one per `missing` item).
    pub pending: Option<PendingAction<'p>>,
}

/// An unmet evidence requirement as the decision procedure found it: what a [`Missing`] is
/// made from, with its names still the policy's.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Unmet<'p> {
    pub req: &'p Requirement,
    /// How many items the (merged) requirement asks for.
    pub need: u32,
    /// How many of the request's items counted for it.
    pub have: u32,
}

impl<'p> Unmet<'p> {
    /// The names of the requirement's evidence kind and role in `policy` (`?` for a kind out
    /// of range, which `Policy::from_ir` rules out).
    fn names(&self, policy: &'p Policy) -> (&'p Arc<str>, Option<&'p Arc<str>>) {
        static UNKNOWN: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| "?".into());
        let evidence = match policy.evidence_names.get(self.req.evidence.index()) {
            Some(name) => name,
            None => {
                writ_stdx::never!("evidence kind {:?} out of range", self.req.evidence);
                &UNKNOWN
            }
        };
        let by = self.req.by.and_then(|r| policy.role_names.get(r.index()));
        (evidence, by)
    }
}

/// What a pending decision is for, as its reasons name it: `TOOL in WORKFLOW` or `starting
/// WORKFLOW` (names borrowed from the policy, which has the request's spelling of each).
#[derive(Clone, Copy, Debug)]
pub(crate) enum PendingAction<'p> {
    Call { tool: &'p str, workflow: &'p str },
    Start { workflow: &'p str },
}

impl PendingAction<'_> {
    /// The reason for one unmet requirement: `WHAT needs REQUIREMENT; N given`.
    fn write_reason(self, out: &mut String, policy: &Policy, unmet: &Unmet<'_>) {
        match self {
            PendingAction::Call { tool, workflow } => {
                out.push_str(tool);
                out.push_str(" in ");
                out.push_str(workflow);
            }
            PendingAction::Start { workflow } => {
                out.push_str("starting ");
                out.push_str(workflow);
            }
        }
        out.push_str(" needs ");
        crate::render::write_requirement(out, policy, unmet.req, unmet.need);
        out.push_str("; ");
        crate::json::write_integer(out, unmet.have);
        out.push_str(" given");
    }
}

/// [`BorrowedDecision::rules`]: the rules that decided, one without an allocation (as
/// [`RuleIds`]).
pub(crate) type BorrowedRuleIds<'p> = smallvec::SmallVec<[&'p Rule; 1]>;

/// How the decision procedure makes its decision: as the owned [`Decision`]
/// ([`crate::Policy::decide`]) or as a [`BorrowedDecision`] ([`crate::Policy::decide_json`]),
/// each built directly, so that neither pays for the other (converting one into the other
/// made `decide` 3-10% slower).
pub(crate) trait MakeDecision<'p>: Sized {
    /// An allow by `rule`.
    fn allow(policy: &'p Policy, rule: &'p Rule, ttl_seconds: Option<i64>) -> Self;
    /// A deny naming `rules`, for `reasons`.
    fn deny<R: Into<Cow<'p, str>>>(
        policy: &'p Policy,
        rules: impl IntoIterator<Item = &'p Rule>,
        reasons: impl IntoIterator<Item = R>,
    ) -> Self;
    /// A pending decision on `action`: `unmet` are the requirements still lacking items,
    /// each stated by a reason.
    fn pending(
        policy: &'p Policy,
        action: PendingAction<'p>,
        unmet: &[Unmet<'p>],
        rules: &[&'p Rule],
    ) -> Self;
}

impl<'p> MakeDecision<'p> for Decision {
    fn allow(policy: &'p Policy, rule: &'p Rule, ttl_seconds: Option<i64>) -> Self {
        Decision {
            decision: Outcome::Allow,
            missing: Vec::new(),
            rules: smallvec::smallvec![Arc::clone(&rule.id)],
            reasons: Vec::new(),
            ttl_seconds,
            policy: Arc::clone(&policy.hash),
        }
    }

    fn deny<R: Into<Cow<'p, str>>>(
        policy: &'p Policy,
        rules: impl IntoIterator<Item = &'p Rule>,
        reasons: impl IntoIterator<Item = R>,
    ) -> Self {
        Decision {
            decision: Outcome::Deny,
            missing: Vec::new(),
            rules: rules.into_iter().map(|r| Arc::clone(&r.id)).collect(),
            reasons: reasons.into_iter().map(|r| r.into().into_owned()).collect(),
            ttl_seconds: None,
            policy: Arc::clone(&policy.hash),
        }
    }

    fn pending(
        policy: &'p Policy,
        action: PendingAction<'p>,
        unmet: &[Unmet<'p>],
        rules: &[&'p Rule],
    ) -> Self {
        let reasons = unmet
            .iter()
            .map(|u| {
                let mut reason = String::with_capacity(96);
                action.write_reason(&mut reason, policy, u);
                reason
            })
            .collect();
        let missing = unmet
            .iter()
            .map(|u| {
                let (evidence, by) = u.names(policy);
                Missing {
                    evidence: Arc::clone(evidence),
                    by: by.cloned(),
                    fields: u.req.fields.to_vec(),
                    need: u.need,
                    have: u.have,
                }
            })
            .collect();
        Decision {
            decision: Outcome::Pending,
            missing,
            rules: rules.iter().map(|r| Arc::clone(&r.id)).collect(),
            reasons,
            ttl_seconds: None,
            policy: Arc::clone(&policy.hash),
        }
    }
}

impl<'p> MakeDecision<'p> for BorrowedDecision<'p> {
    fn allow(_: &'p Policy, rule: &'p Rule, ttl_seconds: Option<i64>) -> Self {
        BorrowedDecision {
            decision: Outcome::Allow,
            missing: smallvec::SmallVec::new(),
            rules: smallvec::smallvec![rule],
            reasons: smallvec::SmallVec::new(),
            ttl_seconds,
            pending: None,
        }
    }

    fn deny<R: Into<Cow<'p, str>>>(
        _: &'p Policy,
        rules: impl IntoIterator<Item = &'p Rule>,
        reasons: impl IntoIterator<Item = R>,
    ) -> Self {
        BorrowedDecision {
            decision: Outcome::Deny,
            missing: smallvec::SmallVec::new(),
            rules: rules.into_iter().collect(),
            reasons: reasons.into_iter().map(Into::into).collect(),
            ttl_seconds: None,
            pending: None,
        }
    }

    fn pending(
        _: &'p Policy,
        action: PendingAction<'p>,
        unmet: &[Unmet<'p>],
        rules: &[&'p Rule],
    ) -> Self {
        BorrowedDecision {
            decision: Outcome::Pending,
            missing: unmet.iter().copied().collect(),
            rules: rules.iter().copied().collect(),
            reasons: smallvec::SmallVec::new(),
            ttl_seconds: None,
            pending: Some(action),
        }
    }
}

impl<'p> BorrowedDecision<'p> {
    /// [`Decision::to_json`] of the same decision by `policy`, without building it (the rule
    /// ids and the policy's digest are written as JSON strings already).
    pub fn to_json(&self, policy: &'p Policy) -> String {
        // A pending decision's reasons are written here, into one buffer, rather than each
        // into its own string when decided.
        let mut texts = String::new();
        let mut reasons: smallvec::SmallVec<[&str; 2]> = smallvec::SmallVec::new();
        match self.pending {
            Some(action) => {
                let mut ends: smallvec::SmallVec<[usize; 2]> = smallvec::SmallVec::new();
                texts.reserve(96 * self.missing.len());
                for unmet in &self.missing {
                    action.write_reason(&mut texts, policy, unmet);
                    ends.push(texts.len());
                }
                let mut start = 0;
                for end in ends {
                    reasons.push(texts.get(start..end).unwrap_or_default());
                    start = end;
                }
            }
            None => reasons.extend(self.reasons.iter().map(|r| &**r)),
        }
        write_json(
            self.decision,
            self.missing.iter().map(|u| {
                let (evidence, by) = u.names(policy);
                MissingView {
                    evidence,
                    by: by.map(|b| &**b),
                    fields: &u.req.fields,
                    need: u.need,
                    have: u.have,
                }
            }),
            self.rules.iter().map(|r| JsonStr::Quoted(&r.id_json)),
            reasons.iter().copied(),
            self.ttl_seconds,
            JsonStr::Quoted(&policy.hash_json),
        )
    }
}

/// A string the decision writer writes: text it escapes, or text written as a JSON string
/// (quotes and escapes included) when the policy loaded.
#[derive(Clone, Copy)]
enum JsonStr<'a> {
    Raw(&'a str),
    Quoted(&'a str),
}

impl JsonStr<'_> {
    /// At least the length it is written at.
    fn len(self) -> usize {
        match self {
            JsonStr::Raw(text) => text.len() + 2,
            JsonStr::Quoted(json) => json.len(),
        }
    }

    fn write(self, out: &mut String) {
        match self {
            JsonStr::Raw(text) => crate::json::write_string(out, text),
            JsonStr::Quoted(json) => out.push_str(json),
        }
    }
}

/// A decision as compact JSON text, from its parts: what [`Decision::to_json`] and
/// [`BorrowedDecision::to_json`] both write.
fn write_json<'s>(
    decision: Outcome,
    missing: impl ExactSizeIterator<Item = MissingView<'s>>,
    rules: impl Iterator<Item = JsonStr<'s>> + Clone,
    reasons: impl Iterator<Item = &'s str> + Clone,
    ttl_seconds: Option<i64>,
    policy: JsonStr<'_>,
) -> String {
    // Sized once up front: the fixed keys and the policy hash take about 130 bytes, and every
    // string is written out at least whole.
    let strings: usize = reasons.clone().map(|r| r.len() + 4).sum::<usize>()
        + rules.clone().map(|r| r.len() + 1).sum::<usize>()
        + missing.len() * 64;
    let mut out = String::with_capacity(160 + policy.len() + strings);
    out.push_str("{\"decision\":\"");
    out.push_str(decision.as_str());
    out.push_str("\",\"missing\":[");
    for (i, missing) in missing.enumerate() {
        if i > 0 {
            out.push(',');
        }
        missing.write_json(&mut out);
    }
    out.push_str("],\"rules\":");
    write_strings(&mut out, rules);
    out.push_str(",\"reasons\":");
    write_strings(&mut out, reasons.map(JsonStr::Raw));
    out.push_str(",\"ttl_seconds\":");
    match ttl_seconds {
        Some(ttl) => crate::json::write_integer(&mut out, ttl),
        None => out.push_str("null"),
    }
    out.push_str(",\"policy\":");
    policy.write(&mut out);
    out.push('}');
    out
}

impl Decision {
    /// Whether the outcome is [`Outcome::Allow`]: the one answer that lets the request through
    /// (pending does not).
    pub fn is_allow(&self) -> bool {
        self.decision == Outcome::Allow
    }

    /// The decision as compact JSON text (one line): the same text `serde_json` writes from
    /// [`Serialize`] (a property test holds them equal), written directly, since a gateway
    /// writes one per request and serde's machinery was most of the cost.
    pub fn to_json(&self) -> String {
        write_json(
            self.decision,
            self.missing.iter().map(Missing::view),
            self.rules.iter().map(|r| JsonStr::Raw(r)),
            self.reasons.iter().map(String::as_str),
            self.ttl_seconds,
            JsonStr::Raw(&self.policy),
        )
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

impl Missing {
    fn view(&self) -> MissingView<'_> {
        MissingView {
            evidence: &self.evidence,
            by: self.by.as_deref(),
            fields: &self.fields,
            need: self.need,
            have: self.have,
        }
    }
}

/// What the decision writer writes a missing item from: a [`Missing`], or an [`Unmet`]
/// requirement with its names in the policy.
#[derive(Clone, Copy)]
struct MissingView<'a> {
    evidence: &'a str,
    by: Option<&'a str>,
    fields: &'a [(String, Value)],
    need: u32,
    have: u32,
}

impl MissingView<'_> {
    /// The JSON object [`Missing`]'s [`Serialize`] writes, written directly.
    fn write_json(&self, out: &mut String) {
        out.push_str("{\"evidence\":");
        crate::json::write_string(out, self.evidence);
        if let Some(by) = self.by {
            out.push_str(",\"by\":");
            crate::json::write_string(out, by);
        }
        if !self.fields.is_empty() {
            out.push_str(",\"fields\":{");
            for (i, (name, value)) in self.fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                crate::json::write_string(out, name);
                out.push(':');
                write_literal(out, value);
            }
            out.push('}');
        }
        out.push_str(",\"need\":");
        crate::json::write_integer(out, self.need);
        out.push_str(",\"have\":");
        crate::json::write_integer(out, self.have);
        out.push('}');
    }
}

/// A value as [`JsonLit`] serializes it.
fn write_literal(out: &mut String, value: &Value) {
    match value {
        Value::Str(v) => crate::json::write_string(out, v),
        Value::Int(v) => crate::json::write_integer(out, *v),
        Value::Bool(v) => out.push_str(if *v { "true" } else { "false" }),
        Value::Duration(v) => crate::json::write_string(out, &format_duration(*v)),
        Value::StringList(items) => write_strings(out, items.iter().map(|i| JsonStr::Raw(i))),
        Value::Kind(k) => crate::json::write_string(out, k.as_str()),
    }
}

/// A JSON list of strings.
fn write_strings<'s>(out: &mut String, items: impl Iterator<Item = JsonStr<'s>>) {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        item.write(out);
    }
    out.push(']');
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::PrincipalKind;
    use proptest::prelude::*;

    /// Strings with everything JSON escapes: quotes, backslashes, every control character,
    /// non-ASCII text.
    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just('"'),
                Just('\\'),
                Just('/'),
                (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap_or('?')),
                Just('\u{7f}'),
                Just('é'),
                Just('😀'),
                proptest::char::range('a', 'z'),
            ],
            0..12,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            text().prop_map(Value::Str),
            any::<i64>().prop_map(Value::Int),
            any::<bool>().prop_map(Value::Bool),
            (0i64..1_000_000).prop_map(Value::Duration),
            proptest::collection::vec(text(), 0..3).prop_map(Value::StringList),
            Just(Value::Kind(PrincipalKind::Agent)),
        ]
    }

    fn missing() -> impl Strategy<Value = Missing> {
        (
            text(),
            proptest::option::of(text()),
            proptest::collection::vec((text(), value()), 0..3),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(|(evidence, by, fields, need, have)| Missing {
                evidence: evidence.into(),
                by: by.map(Into::into),
                fields,
                need,
                have,
            })
    }

    fn decision() -> impl Strategy<Value = Decision> {
        (
            prop_oneof![Just(Outcome::Allow), Just(Outcome::Deny), Just(Outcome::Pending)],
            proptest::collection::vec(missing(), 0..3),
            proptest::collection::vec(text().prop_map(Arc::<str>::from), 0..3),
            proptest::collection::vec(text(), 0..3),
            proptest::option::of(any::<i64>()),
            text(),
        )
            .prop_map(|(decision, missing, rules, reasons, ttl_seconds, policy)| {
                Decision {
                    decision,
                    missing,
                    rules: rules.into(),
                    reasons,
                    ttl_seconds,
                    policy: policy.into(),
                }
            })
    }

    proptest! {
        /// The direct writer and serde write the same text, byte for byte.
        #[test]
        fn to_json_is_what_serde_writes(d in decision()) {
            prop_assert_eq!(d.to_json(), serde_json::to_string(&d).unwrap());
        }
    }
}
