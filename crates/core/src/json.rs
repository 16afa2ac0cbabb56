//! Reading JSON text strictly: a leading byte-order mark is skipped, and an object that holds
//! the same key twice is refused with the path of that object (parsers disagree on which of the
//! two values wins, so the input is ambiguous).

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

use crate::{Error, JsonMap};

/// Skips a leading UTF-8 byte-order mark, as files saved by Windows tools often start with one.
pub(crate) fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Parses one JSON document (after an optional byte-order mark), refusing duplicate keys.
pub(crate) fn parse(text: &str) -> Result<Value, Error> {
    let text = strip_bom(text);
    let dup = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = Seed {
        at: &Seg::Root,
        dup: &dup,
    };
    let parsed = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match (parsed, dup.into_inner()) {
        (_, Some((path, key))) => Err(Error::document(
            path,
            format!(
                "the key {key:?} appears twice in one object; which value is meant is ambiguous \
                 (remove one of them)"
            ),
        )),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(e.into()),
    }
}

/// A position in the document, built on the stack while parsing and formatted only on error.
enum Seg<'a> {
    Root,
    Key(&'a Seg<'a>, &'a str),
    Index(&'a Seg<'a>, usize),
}

impl fmt::Display for Seg<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seg::Root => f.write_str("(root)"),
            Seg::Key(Seg::Root, k) => f.write_str(k),
            Seg::Key(parent, k) => write!(f, "{parent}.{k}"),
            Seg::Index(Seg::Root, i) => write!(f, "[{i}]"),
            Seg::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

struct Seed<'a> {
    at: &'a Seg<'a>,
    dup: &'a RefCell<Option<(String, String)>>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        loop {
            let at = Seg::Index(self.at, out.len());
            let seed = Seed {
                at: &at,
                dup: self.dup,
            };
            match seq.next_element_seed(seed)? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = JsonMap::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                *self.dup.borrow_mut() = Some((self.at.to_string(), key));
                return Err(serde::de::Error::custom("duplicate key"));
            }
            let at = Seg::Key(self.at, &key);
            let v = map.next_value_seed(Seed {
                at: &at,
                dup: self.dup,
            })?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        let e = parse(
            r#"{"value": [{"a": 1}, {"properties": {"status": "Dismissed", "status": "Active"}}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("value[1].properties: the key \"status\" appears twice"),
            "{e}"
        );
        let e = parse(r#"{"x": 1, "x": 1}"#).unwrap_err().to_string();
        assert!(e.starts_with("(root): the key \"x\""), "{e}");
        let e = parse(r#"[{"x": 1, "x": 2}]"#).unwrap_err().to_string();
        assert!(e.starts_with("[0]: the key \"x\""), "{e}");
    }

    #[test]
    fn the_same_key_in_different_objects_and_other_spellings_are_fine() {
        let v = parse(r#"{"a": {"k": 1}, "b": {"k": 2}, "K": 3, "k": 4}"#).unwrap();
        assert_eq!(v["a"]["k"], 1);
        assert_eq!(v["K"], 3);
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_values_equal_serde_json() {
        let text = r#"{"n": [1, -2, 3.5, 1e300, 18446744073709551615], "s": "é\u0000", "t": true, "z": null}"#;
        let with_bom = format!("\u{feff}{text}");
        let want: Value = serde_json::from_str(text).unwrap();
        assert_eq!(parse(&with_bom).unwrap(), want);
        assert_eq!(parse(text).unwrap(), want);
    }

    #[test]
    fn syntax_errors_keep_their_position() {
        match parse("{\n  \"a\": ,\n}") {
            Err(Error::Json { line, .. }) => assert_eq!(line, 2),
            other => panic!("{other:?}"),
        }
        assert!(parse("{} {}").is_err());
    }
}
