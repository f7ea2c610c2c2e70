//! The fast path of request decoding: straight from `serde_json`'s parser into [`Request`],
//! without building a JSON tree first. Every key and every string spelt without escapes is
//! borrowed from the input ([`Text`]), so a plain request allocates only its lists.
//!
//! It only has to be right for requests that are well-formed, and it gives up on anything
//! unusual: an error of any kind, `null` anywhere, a value that is not a writ value, a duplicate
//! key, a key with escapes, a missing field, a bad duration, an id that is not canonical (§7),
//! a `cwd` not starting with `/`, a bad timestamp, a `time` or `at` with escapes. Then [`super::Request::from_slice`]
//! decodes with the general path, which reports the exact error (or accepts the request), so
//! what is accepted and every error message are the general path's by construction.
//!
//! invariant: `decode(bytes) == Some(r)` implies the general path decodes `bytes` to `r`
//! (property-tested in `request/tests.rs`).

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

use super::{
    Action, EvidenceItem, HistoryEntry, Principal, Request, RequestValue, Str, Values, id_problem,
    parse_duration,
};
use crate::ir::PrincipalKind;
use crate::json::{Json, Path};
use crate::time::Timestamp;

/// Objects with more entries than this are left to the general path, whose duplicate check
/// is not quadratic.
const MAX_ENTRIES: usize = 32;

/// Decodes `bytes` if it is a plain, well-formed request; `None` means "use the general path".
pub(super) fn decode(bytes: &[u8]) -> Option<Request<'_>> {
    finish(serde_json::Deserializer::from_slice(bytes))
}

/// [`decode`] for text already known to be UTF-8 (strings are not validated again).
pub(super) fn decode_str(text: &str) -> Option<Request<'_>> {
    finish(serde_json::Deserializer::from_str(text))
}

fn finish<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
) -> Option<Request<'de>> {
    let request = de.deserialize_map(RequestVisitor).ok()?;
    de.end().ok()?;
    Some(request)
}

/// The error that sends decoding to the general path. Its text is never shown.
fn give_up<E: de::Error>() -> E {
    E::custom("not on the fast path")
}

/// Reads an object whose keys are `fields` (at most 16): `read(i, map)` reads the value of
/// `fields[i]`. An unknown key is skipped (after its checks); a key seen twice gives up.
fn read_fields<'de, A: MapAccess<'de>>(
    map: &mut A,
    fields: &[&str],
    mut read: impl FnMut(usize, &mut A) -> Result<(), A::Error>,
) -> Result<(), A::Error> {
    let mut seen = 0u16;
    let mut unknown = Vec::new();
    while let Some(key) = map.next_key::<&'de str>()? {
        let Some(i) = fields.iter().position(|f| *f == key) else {
            skip_unknown(map, key, &mut unknown)?;
            continue;
        };
        if seen & (1 << i) != 0 {
            return Err(give_up());
        }
        seen |= 1 << i;
        read(i, map)?;
    }
    Ok(())
}

/// The value of a key the schema does not know: ignored, but a duplicate key anywhere inside
/// it still makes the request malformed, and the key itself must not repeat.
fn skip_unknown<'de, A: MapAccess<'de>>(
    map: &mut A,
    key: &'de str,
    unknown: &mut Vec<&'de str>,
) -> Result<(), A::Error> {
    if unknown.contains(&key) || unknown.len() >= MAX_ENTRIES {
        return Err(give_up());
    }
    unknown.push(key);
    let value: Json = map.next_value()?;
    match value.check_duplicates(&Path::Root) {
        Ok(()) => Ok(()),
        Err(_) => Err(give_up()),
    }
}

struct RequestVisitor;

impl<'de> Visitor<'de> for RequestVisitor {
    type Value = Request<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a request")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Request<'de>, A::Error> {
        let mut is_call = None;
        let mut workflow = None;
        let mut tool = None;
        let mut args = None;
        let mut chain = None;
        let mut subject = None;
        let mut evidence = None;
        let mut context = None;
        let mut ttl: Option<&'de str> = None;
        let mut cwd = None;
        let mut time = None;
        let mut history = None;
        let fields = [
            "action", "workflow", "tool", "args", "chain", "subject", "evidence", "context", "ttl",
            "cwd", "time", "history",
        ];
        read_fields(&mut map, &fields, |i, map| {
            match i {
                0 => {
                    is_call = Some(match map.next_value::<&'de str>()? {
                        "call" => true,
                        "start" => false,
                        _ => return Err(give_up()),
                    })
                }
                1 => workflow = Some(map.next_value_seed(Text)?),
                2 => tool = Some(map.next_value_seed(Text)?),
                3 => args = Some(map.next_value_seed(ValueMap)?),
                4 => {
                    chain = Some(map.next_value_seed(List { item: OnePrincipal, non_empty: true })?)
                }
                5 => subject = Some(map.next_value_seed(Text)?),
                6 => {
                    evidence =
                        Some(map.next_value_seed(List { item: OneEvidenceItem, non_empty: false })?)
                }
                7 => context = Some(map.next_value_seed(ValueMap)?),
                8 => ttl = Some(map.next_value::<&'de str>()?),
                9 => {
                    let dir = map.next_value_seed(Text)?;
                    if !dir.starts_with('/') {
                        return Err(give_up());
                    }
                    cwd = Some(dir);
                }
                10 => time = Some(timestamp(map.next_value::<&'de str>()?)?),
                _ => {
                    history =
                        Some(map.next_value_seed(List { item: OneHistoryEntry, non_empty: false })?)
                }
            }
            Ok(())
        })?;
        let (Some(is_call), Some(workflow), Some(chain)) = (is_call, workflow, chain) else {
            return Err(give_up());
        };
        let action = if is_call {
            let Some(tool) = tool else { return Err(give_up()) };
            Action::Call { tool, args: args.unwrap_or_default() }
        } else {
            let ttl_seconds = match ttl {
                None => None,
                Some(text) => Some(parse_duration(text).ok_or_else(give_up)?),
            };
            Action::Start { ttl_seconds }
        };
        Ok(Request {
            action,
            workflow,
            chain,
            subject: subject.filter(|s: &Str<'de>| !s.is_empty()),
            evidence: evidence.unwrap_or_default(),
            context: context.unwrap_or_default(),
            cwd,
            time,
            history,
        })
    }
}

/// A string: borrowed from the input when it has no escapes, owned (unescaped) otherwise.
#[derive(Clone, Copy)]
struct Text;

impl<'de> DeserializeSeed<'de> for Text {
    type Value = Str<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Str<'de>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Text {
    type Value = Str<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'de>, E> {
        Ok(Cow::Owned(v))
    }
}

/// A list of strings (`roles`, a list value), each read as [`Text`].
struct Texts;

impl<'de> DeserializeSeed<'de> for Texts {
    type Value = Vec<Str<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Texts {
    type Value = Vec<Str<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Text)? {
            items.push(item);
        }
        Ok(items)
    }
}

/// `args`, `attrs`, `context`, evidence `fields`: an object of writ values.
struct ValueMap;

impl<'de> DeserializeSeed<'de> for ValueMap {
    type Value = Values<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ValueMap {
    type Value = Values<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out: Values<'de> = Vec::new();
        while let Some(key) = map.next_key::<&'de str>()? {
            if out.len() >= MAX_ENTRIES || out.iter().any(|(k, _)| k == key) {
                return Err(give_up());
            }
            let value = map.next_value_seed(Value)?;
            out.push((Cow::Borrowed(key), value));
        }
        Ok(out)
    }
}

/// One writ value: a string, a 64-bit integer, a boolean or a list of strings. Anything else
/// (`null` included) leaves the fast path.
struct Value;

impl<'de> DeserializeSeed<'de> for Value {
    type Value = RequestValue<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RequestValue<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Value {
    type Value = RequestValue<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a writ value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RequestValue<'de>, E> {
        Ok(RequestValue::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RequestValue<'de>, E> {
        Ok(RequestValue::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RequestValue<'de>, E> {
        i64::try_from(v).map(RequestValue::Int).map_err(|_| give_up())
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<RequestValue<'de>, E> {
        Ok(RequestValue::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RequestValue<'de>, E> {
        Ok(RequestValue::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<RequestValue<'de>, E> {
        Ok(RequestValue::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RequestValue<'de>, A::Error> {
        Texts.visit_seq(seq).map(RequestValue::StrList)
    }
}

/// A list of `item`s (`chain`, `evidence`); an empty one leaves the fast path if `non_empty`.
struct List<S> {
    item: S,
    non_empty: bool,
}

impl<'de, S: DeserializeSeed<'de> + Copy> DeserializeSeed<'de> for List<S> {
    type Value = Vec<S::Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, S: DeserializeSeed<'de> + Copy> Visitor<'de> for List<S> {
    type Value = Vec<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).clamp(2, 8));
        while let Some(item) = seq.next_element_seed(self.item)? {
            out.push(item);
        }
        if self.non_empty && out.is_empty() {
            return Err(give_up());
        }
        Ok(out)
    }
}

#[derive(Clone, Copy)]
struct OnePrincipal;

impl<'de> DeserializeSeed<'de> for OnePrincipal {
    type Value = Principal<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Principal<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OnePrincipal {
    type Value = Principal<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a principal")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Principal<'de>, A::Error> {
        let (mut id, mut kind, mut roles, mut attrs) = (None, None, None, None);
        read_fields(&mut map, &["id", "kind", "roles", "attrs"], |i, map| {
            match i {
                0 => {
                    let text = map.next_value_seed(Text)?;
                    if id_problem(&text).is_some() {
                        return Err(give_up());
                    }
                    id = Some(text);
                }
                1 => {
                    kind = Some(match map.next_value::<&'de str>()? {
                        "human" => PrincipalKind::Human,
                        "service" => PrincipalKind::Service,
                        "agent" => PrincipalKind::Agent,
                        _ => return Err(give_up()),
                    })
                }
                2 => roles = Some(map.next_value_seed(Texts)?),
                _ => attrs = Some(map.next_value_seed(ValueMap)?),
            }
            Ok(())
        })?;
        let (Some(id), Some(kind)) = (id, kind) else { return Err(give_up()) };
        Ok(Principal {
            id,
            kind,
            roles: roles.unwrap_or_default(),
            attrs: attrs.unwrap_or_default(),
        })
    }
}

#[derive(Clone, Copy)]
struct OneEvidenceItem;

impl<'de> DeserializeSeed<'de> for OneEvidenceItem {
    type Value = EvidenceItem<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<EvidenceItem<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OneEvidenceItem {
    type Value = EvidenceItem<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an evidence item")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EvidenceItem<'de>, A::Error> {
        let (mut kind, mut by, mut subject, mut fields) = (None, None, None, None);
        read_fields(&mut map, &["kind", "by", "subject", "fields"], |i, map| {
            match i {
                0 => kind = Some(map.next_value_seed(Text)?),
                1 => by = Some(map.next_value_seed(OnePrincipal)?),
                2 => subject = Some(map.next_value_seed(Text)?),
                _ => fields = Some(map.next_value_seed(ValueMap)?),
            }
            Ok(())
        })?;
        let Some(kind) = kind else { return Err(give_up()) };
        let subject = subject.filter(|s: &Str<'de>| !s.is_empty());
        Ok(EvidenceItem { kind, by, subject, fields: fields.unwrap_or_default() })
    }
}

/// An RFC 3339 timestamp (`time`, `at`); a malformed one leaves the fast path.
fn timestamp<E: de::Error>(text: &str) -> Result<Timestamp, E> {
    Timestamp::parse(text).map_err(|_| give_up())
}

#[derive(Clone, Copy)]
struct OneHistoryEntry;

impl<'de> DeserializeSeed<'de> for OneHistoryEntry {
    type Value = HistoryEntry<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<HistoryEntry<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OneHistoryEntry {
    type Value = HistoryEntry<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a history entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HistoryEntry<'de>, A::Error> {
        let (mut tool, mut at) = (None, None);
        read_fields(&mut map, &["tool", "at"], |i, map| {
            match i {
                0 => tool = Some(map.next_value_seed(Text)?),
                _ => at = Some(timestamp(map.next_value::<&'de str>()?)?),
            }
            Ok(())
        })?;
        let Some(tool) = tool else { return Err(give_up()) };
        Ok(HistoryEntry { tool, at })
    }
}
