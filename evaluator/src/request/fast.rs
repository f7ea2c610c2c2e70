//! The fast path of request decoding: a scanner written for the request's schema, straight
//! from the bytes into [`Request`], without a JSON tree or serde's visitors. Keys are compared
//! as bytes, and every string spelt without escapes is borrowed from the input, so a plain
//! request allocates only its lists.
//!
//! It only has to be right for requests that are well-formed, and it gives up on anything
//! unusual: text that is not UTF-8 or not JSON, `null` anywhere, a value that is not a writ
//! value, a duplicate key, a key with escapes, a missing field, a bad duration, an id that is
//! not canonical (§7), a `cwd` not starting with `/`, a bad timestamp, an `action`, `kind`,
//! `ttl`, `time` or `at` with escapes, a number with an exponent, nesting deeper than
//! [`MAX_DEPTH`] in a key the schema does not know. Then [`super::Request::from_slice`]
//! decodes with the general path, which reports the exact error (or accepts the request), so
//! what is accepted and every error message are the general path's by construction.
//!
//! Why a scanner and not serde: with serde's visitors over `serde_json`'s parser, dispatching
//! through the visitors and `serde_json`'s string handling were most of a request's decoding
//! (BENCHMARKS.md, "JSON in to decision out"). The JSON grammar this needs is small (RFC 8259's
//! strings, integers and literals, and for skipped values its numbers), and the property test
//! against the general decoder (which is `serde_json`) keeps it honest.
//!
//! invariant: `decode(bytes) == Some(r)` implies the general path decodes `bytes` to `r`
//! (property-tested in `request/tests.rs`).

use std::borrow::Cow;

use super::{
    Action, EvidenceItem, HistoryEntry, Principal, Request, RequestValue, Str, Values, id_problem,
    parse_duration,
};
use crate::ir::PrincipalKind;
use crate::json::special;
use crate::time::Timestamp;

/// Objects with more entries than this are left to the general path, whose duplicate check
/// is not quadratic.
const MAX_ENTRIES: usize = 32;

/// Values nested deeper than this under a key the schema does not know leave the fast path
/// (the general path's parser allows 128).
const MAX_DEPTH: usize = 32;

/// Integer and fraction digits beyond this in a skipped number leave the fast path, so that a
/// number the general parser finds out of range (beyond `f64`) is never skipped here.
const MAX_DIGITS: usize = 300;

/// Decodes `bytes` if it is a plain, well-formed request; `None` means "use the general path".
pub(super) fn decode(bytes: &[u8]) -> Option<Request<'_>> {
    decode_str(std::str::from_utf8(bytes).ok()?)
}

/// [`decode`] for text already known to be UTF-8.
pub(super) fn decode_str(text: &str) -> Option<Request<'_>> {
    Scanner { text, bytes: text.as_bytes(), at: 0 }.request()
}

/// A position in the text. Every method returns `None` to give up.
struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Skips JSON whitespace.
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Skips whitespace, then takes `byte` if it comes next. The byte is looked for first:
    /// requests are mostly sent without whitespace between tokens.
    #[inline(always)]
    fn eat(&mut self, byte: u8) -> bool {
        match self.peek() {
            Some(next) if next == byte => {
                self.at += 1;
                true
            }
            Some(b' ' | b'\t' | b'\n' | b'\r') => {
                self.ws();
                self.eat_here(byte)
            }
            _ => false,
        }
    }

    /// Takes `byte` if it comes next (no whitespace skipped).
    fn eat_here(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// Takes `word` (`true`, `false`, `null`) if it comes next.
    fn literal(&mut self, word: &[u8]) -> bool {
        let end = self.at + word.len();
        if self.bytes.get(self.at..end) == Some(word) {
            self.at = end;
            true
        } else {
            false
        }
    }

    /// Reads the items of an object (after its `{`) as `key: value` pairs: `item(self, key)`
    /// reads the value. Keys are borrowed; a key with escapes gives up.
    fn object(&mut self, mut item: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.plain_string()?;
            self.expect(b':')?;
            item(self, key)?;
            if self.eat(b'}') {
                return Some(());
            }
            self.expect(b',')?;
        }
    }

    /// Reads the items of a list: `item(self)` reads one.
    fn list(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.expect(b'[')?;
        if self.eat(b']') {
            return Some(());
        }
        loop {
            item(self)?;
            if self.eat(b']') {
                return Some(());
            }
            self.expect(b',')?;
        }
    }

    /// Reads an object whose keys `index` knows (at most 16, numbered from 0): `read(self, i)`
    /// reads the value of key `i`. An unknown key is skipped (after its checks); a key seen
    /// twice gives up. `index` is a `match` on the key, which compiles to a dispatch on its
    /// length and bytes rather than a comparison with each known key in turn.
    fn fields(
        &mut self,
        index: impl Fn(&str) -> Option<usize>,
        mut read: impl FnMut(&mut Self, usize) -> Option<()>,
    ) -> Option<()> {
        let mut seen = 0u16;
        let mut unknown: Vec<&'a str> = Vec::new();
        self.object(|s, key| match index(key) {
            Some(i) if seen & (1 << i) == 0 => {
                seen |= 1 << i;
                read(s, i)
            }
            Some(_) => None,
            None => {
                if unknown.contains(&key) || unknown.len() >= MAX_ENTRIES {
                    return None;
                }
                unknown.push(key);
                s.skip(0)
            }
        })
    }

    /// A string (after whitespace): borrowed when it has no escapes, unescaped otherwise.
    #[inline(always)]
    fn string(&mut self) -> Option<Str<'a>> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.at;
        self.at = special(self.bytes, start)?;
        match *self.bytes.get(self.at)? {
            b'"' => {
                let text = self.text.get(start..self.at)?;
                self.at += 1;
                Some(Cow::Borrowed(text))
            }
            b'\\' => self.escaped(start).map(Cow::Owned),
            _ => None,
        }
    }

    /// The rest of a string with escapes, from its first backslash (at `self.at`); `start` is
    /// where its text begins. Kept out of line: inlined, it made every plain string pay for
    /// its registers and stack.
    #[cold]
    #[inline(never)]
    fn escaped(&mut self, start: usize) -> Option<String> {
        let mut out = String::from(self.text.get(start..self.at)?);
        loop {
            let run = self.at;
            self.at = special(self.bytes, run)?;
            out.push_str(self.text.get(run..self.at)?);
            match *self.bytes.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return Some(out);
                }
                b'\\' => {
                    let escape = *self.bytes.get(self.at + 1)?;
                    self.at += 2;
                    out.push(match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    });
                }
                _ => return None,
            }
        }
    }

    /// The character of a `\u` escape (after the `\u`), joining a surrogate pair; a lone
    /// surrogate gives up.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if !(0xD800..0xDC00).contains(&first) {
            return char::from_u32(first);
        }
        if self.bytes.get(self.at..self.at + 2) != Some(b"\\u") {
            return None;
        }
        self.at += 2;
        let second = self.hex4()?;
        if !(0xDC00..0xE000).contains(&second) {
            return None;
        }
        char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes.get(self.at..self.at + 4)?;
        let mut value = 0;
        for &d in digits {
            value = value * 16 + char::from(d).to_digit(16)?;
        }
        self.at += 4;
        Some(value)
    }

    /// A string spelt without escapes (keys, and values the schema reads as words); one with
    /// escapes gives up. Its own scan rather than [`Scanner::string`]'s: keys are half of a
    /// request's strings, and they need neither the `Cow` nor the escape path.
    #[inline(always)]
    fn plain_string(&mut self) -> Option<&'a str> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.at;
        let end = special(self.bytes, start)?;
        if self.bytes.get(end) != Some(&b'"') {
            return None;
        }
        self.at = end + 1;
        self.text.get(start..end)
    }

    /// An integer within `i64`; anything else (a fraction, an exponent, `-0`, out of range)
    /// gives up.
    fn integer(&mut self) -> Option<i64> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let start = self.at;
        let mut value: i64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            let digit = i64::from(d - b'0');
            value = value.checked_mul(10)?;
            value = if negative { value.checked_sub(digit)? } else { value.checked_add(digit)? };
            self.at += 1;
        }
        let digits = self.at - start;
        let leading_zero = self.bytes.get(start) == Some(&b'0');
        if digits == 0 || (leading_zero && (digits > 1 || negative)) {
            return None;
        }
        match self.peek() {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(value),
        }
    }

    /// Skips any JSON value under a key the schema does not know, checking what the general
    /// path checks (no duplicate key at any depth).
    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => {
                let mut keys: Vec<&str> = Vec::new();
                self.object(|s, key| {
                    if keys.contains(&key) || keys.len() >= MAX_ENTRIES {
                        return None;
                    }
                    keys.push(key);
                    s.skip(depth + 1)
                })
            }
            b'[' => self.list(|s| s.skip(depth + 1)),
            b't' => self.literal(b"true").then_some(()),
            b'f' => self.literal(b"false").then_some(()),
            b'n' => self.literal(b"null").then_some(()),
            _ => self.number(),
        }
    }

    /// Skips a JSON number without an exponent and with at most [`MAX_DIGITS`] digits.
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let int = self.digits();
        if int == 0 || (int > 1 && self.bytes.get(self.at - int) == Some(&b'0')) {
            return None;
        }
        let mut fraction = 0;
        if self.peek() == Some(b'.') {
            self.at += 1;
            fraction = self.digits();
            if fraction == 0 {
                return None;
            }
        }
        match self.peek() {
            Some(b'e' | b'E') => None,
            _ => (int + fraction <= MAX_DIGITS).then_some(()),
        }
    }

    /// Skips decimal digits; how many.
    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - start
    }

    /// A list of strings (`roles`, a list value).
    fn strings(&mut self) -> Option<Vec<Str<'a>>> {
        let mut items = Vec::with_capacity(2);
        self.list(|s| {
            items.push(s.string()?);
            Some(())
        })?;
        Some(items)
    }

    /// `args`, `attrs`, `context`, evidence `fields`: an object of writ values.
    fn values(&mut self) -> Option<Values<'a>> {
        // Sized for the usual handful of keys up front: growing from empty goes through `Vec`'s
        // out-of-line growth path, which cost more than the allocation.
        let mut out: Values<'a> = Vec::with_capacity(4);
        self.object(|s, key| {
            if out.len() >= MAX_ENTRIES || out.iter().any(|(k, _)| k == key) {
                return None;
            }
            let value = s.value()?;
            out.push((Cow::Borrowed(key), value));
            Some(())
        })?;
        Some(out)
    }

    /// One writ value: a string, a 64-bit integer, a boolean or a list of strings. Anything
    /// else (`null` included) leaves the fast path.
    fn value(&mut self) -> Option<RequestValue<'a>> {
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(RequestValue::Str),
            b'[' => self.strings().map(RequestValue::StrList),
            b't' => self.literal(b"true").then_some(RequestValue::Bool(true)),
            b'f' => self.literal(b"false").then_some(RequestValue::Bool(false)),
            _ => self.integer().map(RequestValue::Int),
        }
    }

    /// A list of `item`s (`chain`, `evidence`, `history`).
    fn items<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let mut out = Vec::with_capacity(4);
        self.list(|s| {
            out.push(item(s)?);
            Some(())
        })?;
        Some(out)
    }

    /// An RFC 3339 timestamp (`time`, `at`); a malformed one leaves the fast path.
    fn timestamp(&mut self) -> Option<Timestamp> {
        Timestamp::parse(self.plain_string()?).ok()
    }

    /// The whole text as a request.
    fn request(&mut self) -> Option<Request<'a>> {
        let mut is_call = None;
        let mut workflow = None;
        let mut tool = None;
        let mut args = None;
        let mut chain = None;
        let mut subject = None;
        let mut evidence = None;
        let mut context = None;
        let mut ttl: Option<&'a str> = None;
        let mut cwd = None;
        let mut time = None;
        let mut history = None;
        let index = |key: &str| {
            Some(match key {
                "action" => 0,
                "workflow" => 1,
                "tool" => 2,
                "args" => 3,
                "chain" => 4,
                "subject" => 5,
                "evidence" => 6,
                "context" => 7,
                "ttl" => 8,
                "cwd" => 9,
                "time" => 10,
                "history" => 11,
                _ => return None,
            })
        };
        self.fields(index, |s, i| {
            match i {
                0 => {
                    is_call = Some(match s.plain_string()? {
                        "call" => true,
                        "start" => false,
                        _ => return None,
                    })
                }
                1 => workflow = Some(s.string()?),
                2 => tool = Some(s.string()?),
                3 => args = Some(s.values()?),
                4 => {
                    let principals = s.items(Self::principal)?;
                    if principals.is_empty() {
                        return None;
                    }
                    chain = Some(principals);
                }
                5 => subject = Some(s.string()?),
                6 => evidence = Some(s.items(Self::evidence_item)?),
                7 => context = Some(s.values()?),
                8 => ttl = Some(s.plain_string()?),
                9 => {
                    let dir = s.string()?;
                    if !dir.starts_with('/') {
                        return None;
                    }
                    cwd = Some(dir);
                }
                10 => time = Some(s.timestamp()?),
                _ => history = Some(s.items(Self::history_entry)?),
            }
            Some(())
        })?;
        // Nothing but whitespace may follow, checked before the request is built so that it
        // is built where the caller receives it rather than moved there (a 256-byte copy).
        self.ws();
        if self.at != self.bytes.len() {
            return None;
        }
        let action = if is_call? {
            Action::Call { tool: tool?, args: args.unwrap_or_default() }
        } else {
            let ttl_seconds = match ttl {
                None => None,
                Some(text) => Some(parse_duration(text)?),
            };
            Action::Start { ttl_seconds }
        };
        Some(Request {
            action,
            workflow: workflow?,
            chain: chain?,
            subject: subject.filter(|s: &Str<'a>| !s.is_empty()),
            evidence: evidence.unwrap_or_default(),
            context: context.unwrap_or_default(),
            cwd,
            time,
            history,
        })
    }

    fn principal(&mut self) -> Option<Principal<'a>> {
        let (mut id, mut kind, mut roles, mut attrs) = (None, None, None, None);
        let index = |key: &str| {
            Some(match key {
                "id" => 0,
                "kind" => 1,
                "roles" => 2,
                "attrs" => 3,
                _ => return None,
            })
        };
        self.fields(index, |s, i| {
            match i {
                0 => {
                    let text = s.string()?;
                    if id_problem(&text).is_some() {
                        return None;
                    }
                    id = Some(text);
                }
                1 => {
                    kind = Some(match s.plain_string()? {
                        "human" => PrincipalKind::Human,
                        "service" => PrincipalKind::Service,
                        "agent" => PrincipalKind::Agent,
                        _ => return None,
                    })
                }
                2 => roles = Some(s.strings()?),
                _ => attrs = Some(s.values()?),
            }
            Some(())
        })?;
        Some(Principal {
            id: id?,
            kind: kind?,
            roles: roles.unwrap_or_default(),
            attrs: attrs.unwrap_or_default(),
        })
    }

    fn evidence_item(&mut self) -> Option<EvidenceItem<'a>> {
        let (mut kind, mut by, mut subject, mut fields) = (None, None, None, None);
        let index = |key: &str| {
            Some(match key {
                "kind" => 0,
                "by" => 1,
                "subject" => 2,
                "fields" => 3,
                _ => return None,
            })
        };
        self.fields(index, |s, i| {
            match i {
                0 => kind = Some(s.string()?),
                1 => by = Some(s.principal()?),
                2 => subject = Some(s.string()?),
                _ => fields = Some(s.values()?),
            }
            Some(())
        })?;
        Some(EvidenceItem {
            kind: kind?,
            by,
            subject: subject.filter(|s: &Str<'a>| !s.is_empty()),
            fields: fields.unwrap_or_default(),
        })
    }

    fn history_entry(&mut self) -> Option<HistoryEntry<'a>> {
        let (mut tool, mut at) = (None, None);
        let index = |key: &str| {
            Some(match key {
                "tool" => 0,
                "at" => 1,
                _ => return None,
            })
        };
        self.fields(index, |s, i| {
            match i {
                0 => tool = Some(s.string()?),
                _ => at = Some(s.timestamp()?),
            }
            Some(())
        })?;
        Some(HistoryEntry { tool: tool?, at })
    }
}
