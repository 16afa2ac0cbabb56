use std::path::PathBuf;

use serde_json::Value;
use vigil_core::JsonMap;

pub fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(rel)
}

pub fn fixture(rel: &str) -> String {
    std::fs::read_to_string(fixture_path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The response body of an `x-ms-examples` file, as JSON text.
pub fn example_body(rel: &str) -> String {
    let v: Value = serde_json::from_str(&fixture(rel)).unwrap();
    v["responses"]["200"]["body"].to_string()
}

/// A leaf of a JSON document, normalised for comparison: timestamps as instants, so that
/// `2020-02-22T00:00:00Z` and `2020-02-22T00:00:00.0000000Z` are the same value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Leaf {
    Instant(i64, u32),
    Text(String),
    Number(String),
    Bool(bool),
}

fn as_instant(s: &str) -> Option<(i64, u32)> {
    if s.len() < 19 || !s.as_bytes()[4].eq(&b'-') {
        return None;
    }
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&chrono::Utc))
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").map(|n| n.and_utc())
        })
        .ok()?;
    Some((t.timestamp(), t.timestamp_subsec_nanos()))
}

/// Every non-null leaf of `v`, with documented normalisations applied: the legacy status `New`
/// reads as `Active`.
pub fn leaves(v: &Value, key: Option<&str>, out: &mut Vec<Leaf>) {
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push(Leaf::Bool(*b)),
        Value::Number(n) => out.push(Leaf::Number(n.to_string())),
        Value::String(s) => {
            if key.is_some_and(|k| k.eq_ignore_ascii_case("status")) && s == "New" {
                out.push(Leaf::Text("Active".into()));
            } else if let Some((secs, nanos)) = as_instant(s) {
                out.push(Leaf::Instant(secs, nanos));
            } else {
                out.push(Leaf::Text(s.clone()));
            }
        }
        Value::Array(a) => a.iter().for_each(|x| leaves(x, key, out)),
        Value::Object(m) => m.iter().for_each(|(k, x)| leaves(x, Some(k), out)),
    }
}

/// Asserts that every leaf value of `input` appears in `output` at least as often.
pub fn assert_values_kept(input: &Value, output: &Value) {
    let mut a = Vec::new();
    let mut b = Vec::new();
    leaves(input, None, &mut a);
    leaves(output, None, &mut b);
    b.sort();
    let mut remaining = b;
    for leaf in a {
        match remaining.binary_search(&leaf) {
            Ok(i) => {
                remaining.remove(i);
            }
            Err(_) => panic!(
                "value {leaf:?} of the input is missing from the output\ninput:  {input}\noutput: {output}"
            ),
        }
    }
}

#[allow(dead_code)]
pub fn obj(v: Value) -> JsonMap {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}
