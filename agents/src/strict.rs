//! JSON parsing that rejects an object with the same key twice, anywhere (LANGUAGE.md §5): a
//! parser that keeps the first and one that keeps the last would see different calls, so writ
//! never decides on such a message, and never forwards one.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses one JSON value; an error names the problem and where it is.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice::<Strict>(bytes).map(|s| s.0).map_err(|e| e.to_string())
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Strict, E> {
        Ok(Strict(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Strict(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Strict(Value::Object(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn duplicate_keys_anywhere_are_rejected() {
        assert!(parse(br#"{"a": 1, "a": 2}"#).unwrap_err().contains("duplicate key `a`"));
        assert!(parse(br#"{"x": [{"b": 1, "b": 1}]}"#).unwrap_err().contains("duplicate key `b`"));
        assert!(parse(br#"{"a": {"a": 1}}"#).is_ok());
    }

    #[test]
    fn values_round_trip() {
        let v = parse(
            br#"{"s": "x", "i": -3, "u": 18446744073709551615, "f": 1.5, "n": null, "l": [true]}"#,
        )
        .unwrap();
        assert_eq!(v["u"], serde_json::json!(18446744073709551615u64));
        assert_eq!(v["n"], serde_json::Value::Null);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for text in ["", "{", "[1,", "\"\\ud800\"", "nul", "{} {}", "\u{0}"] {
            assert!(parse(text.as_bytes()).is_err(), "{text:?}");
        }
        let deep = "[".repeat(100_000);
        assert!(parse(deep.as_bytes()).is_err());
    }
}
