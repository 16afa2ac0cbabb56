//! Exchange formats beside Defender JSON: OCSF, CEF, ASFF and Microsoft Graph security alerts.
//!
//! | module | format | direction |
//! |---|---|---|
//! | [`ocsf`] | OCSF 1.8.0 Detection Finding (class 2004) | export and import |
//! | [`cef`] | ArcSight CEF version 0, optionally in RFC 5424 syslog framing | export |
//! | [`asff`] | AWS Security Finding Format 2018-10-08 (`BatchImportFindings`) | export and import |
//! | [`graph`] | Microsoft Graph security alert v2 (`alerts_v2`) | import and export |
//!
//! All of them share one table of severities, statuses and kill-chain intents, [`mapping`].
//! Each converts whole streams: importers take a JSON array, a single record, JSON lines or the
//! format's own envelope (`{"Findings": […]}`, `{"value": […]}`), and fail as a whole with an
//! [`Error::Document`] whose path names the record and the value (`[3].finding_info.uid`,
//! `line 7.severity_id`). [`detect`] tells the formats apart and refuses to guess.
//!
//! # Nothing is lost
//!
//! - **Vigil → format → Vigil** gives back an equal [`Alert`]. Exporters write every value
//!   the format has a field for, and put the values its fields cannot carry exactly (as
//!   Defender JSON, an ARM-resource fragment called the *residual*) in the format's place for
//!   extra data: OCSF `unmapped.vigil`, ASFF `ProductFields["vigil/residual/N"]` (JSON text in
//!   2,000-character pieces), Graph `additionalData.vigil`. Importers read the fields, then lay
//!   the residual over them.
//! - **Another product → Vigil**: the alert keeps where it came from under the additional
//!   property [`SOURCE_KEY`] (`properties.vigilSource` in Defender JSON):
//!   `{"format": "ocsf", "id": <the record's own id>, "record": <the record, verbatim>}`. Its
//!   id becomes the alert's `systemAlertId`; every field of the record stays available there.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use vigil_core::formats::{self, Format, ocsf};
//! use vigil_core::{Alert, AlertId, Entity, Severity};
//!
//! let alert = Alert::builder(AlertId::new("a-1")?, "VM_EICAR", "EICAR test file", Severity::Low,
//!     Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap())
//!     .entity(Entity::host("vm1").with("$id", "1").with("osFamily", "Windows"))
//!     .extended_property("resourceType", "virtualMachines")
//!     .build();
//! let alerts = vec![alert];
//! let text = ocsf::to_json_lines(&alerts)?;
//! assert_eq!(formats::detect(&text)?, Format::Ocsf);
//! assert_eq!(ocsf::parse(&text)?, alerts); // every value comes back
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod asff;
pub mod cef;
pub mod graph;
pub mod mapping;
pub mod ocsf;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::entity::kind_of;
use crate::{Alert, Error, JsonMap};

/// The additional property under which an alert imported from another product keeps its
/// source: `{"format", "id", "record"}` (see the [module docs](self)).
pub const SOURCE_KEY: &str = "vigilSource";

/// An alert format Vigil reads or writes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Defender for Cloud REST JSON ([`crate::defender`]).
    Defender,
    /// OCSF Detection Finding ([`ocsf`]).
    Ocsf,
    /// ArcSight CEF ([`cef`]); export only.
    Cef,
    /// AWS Security Finding Format ([`asff`]).
    Asff,
    /// Microsoft Graph security alert v2 ([`graph`]).
    Graph,
}

impl Format {
    /// The name used on the command line and in [`SOURCE_KEY`] records (`"ocsf"`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Format::Defender => "defender",
            Format::Ocsf => "ocsf",
            Format::Cef => "cef",
            Format::Asff => "asff",
            Format::Graph => "graph",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Format, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "defender" => Ok(Format::Defender),
            "ocsf" => Ok(Format::Ocsf),
            "cef" => Ok(Format::Cef),
            "asff" => Ok(Format::Asff),
            "graph" => Ok(Format::Graph),
            _ => Err(Error::invalid(
                "format",
                s,
                "expected one of defender, ocsf, cef, asff, graph",
            )),
        }
    }
}

/// Tells which importable format a document is in (Defender JSON, OCSF, ASFF or Graph), from
/// the keys of its records; every record must agree.
///
/// Never guesses: a record that fits no format, or fits two, is an error that names the record
/// and asks for the format to be given explicitly.
///
/// ```
/// use vigil_core::formats::{detect, Format};
///
/// assert_eq!(detect(r#"{"class_uid": 2004, "finding_info": {"uid": "x"}}"#)?, Format::Ocsf);
/// assert_eq!(detect(r#"{"Findings": [{"SchemaVersion": "2018-10-08", "ProductArn": "arn:x"}]}"#)?, Format::Asff);
/// assert!(detect(r#"{"hello": "world"}"#).is_err());
/// # Ok::<(), vigil_core::Error>(())
/// ```
pub fn detect(text: &str) -> Result<Format, Error> {
    let records = records(text, &["Findings", "value"])?;
    let mut found: Option<Format> = None;
    for (path, value) in &records {
        let Value::Object(m) = value else {
            return Err(Error::document(
                path_or_root(path),
                format!("expected a record object, found {}", kind_of(value)),
            ));
        };
        let candidates = candidates(m);
        let here = match candidates.as_slice() {
            [one] => *one,
            [] => {
                return Err(Error::document(
                    path_or_root(path),
                    "cannot tell the format of this record (not Defender JSON, OCSF, ASFF or Graph); give the format explicitly",
                ));
            }
            many => {
                let names: Vec<&str> = many.iter().map(|f| f.as_str()).collect();
                return Err(Error::document(
                    path_or_root(path),
                    format!(
                        "this record could be any of {}; give the format explicitly",
                        names.join(", ")
                    ),
                ));
            }
        };
        match found {
            None => found = Some(here),
            Some(f) if f == here => {}
            Some(f) => {
                return Err(Error::document(
                    path_or_root(path),
                    format!(
                        "this record looks like {here} but earlier records look like {f}; give the format explicitly"
                    ),
                ));
            }
        }
    }
    found.ok_or_else(|| Error::document("(root)", "the document holds no records"))
}

fn has(m: &JsonMap, key: &str) -> bool {
    m.contains_key(key)
}

fn candidates(m: &JsonMap) -> Vec<Format> {
    let mut out = Vec::new();
    let ci = |key: &str| m.keys().any(|k| k.eq_ignore_ascii_case(key));
    let defender = m
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("properties"))
        .and_then(|(_, v)| v.as_object())
        .map(|p| p.keys().any(|k| k.eq_ignore_ascii_case("alertType")))
        .unwrap_or(false)
        || (ci("alertType") && ci("systemAlertId"));
    if defender {
        out.push(Format::Defender);
    }
    if has(m, "class_uid") && (has(m, "finding_info") || has(m, "metadata")) {
        out.push(Format::Ocsf);
    }
    if has(m, "SchemaVersion") && (has(m, "ProductArn") || has(m, "GeneratorId")) {
        out.push(Format::Asff);
    }
    let odata = m
        .get("@odata.type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.to_ascii_lowercase().contains("security.alert"));
    if odata
        || (has(m, "providerAlertId") && (has(m, "serviceSource") || has(m, "detectionSource")))
    {
        out.push(Format::Graph);
    }
    out
}

pub(crate) fn path_or_root(path: &str) -> &str {
    if path.is_empty() { "(root)" } else { path }
}

/// Joins a record path and a field path with a dot.
pub(crate) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else if key.starts_with('[') {
        format!("{prefix}{key}")
    } else {
        format!("{prefix}.{key}")
    }
}

/// The records of a stream, each with its path: a JSON array (`[i]`), an object with one of
/// the `envelopes` keys holding an array (`Findings[i]`), one record (``), or JSON lines
/// (`line N`, blank lines skipped).
pub(crate) fn records(text: &str, envelopes: &[&str]) -> Result<Vec<(String, Value)>, Error> {
    let whole: Result<Value, _> = serde_json::from_str(text);
    let top: Vec<(String, Value)> = match whole {
        Ok(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("[{i}]"), v))
            .collect(),
        Ok(v @ Value::Object(_)) => vec![(String::new(), v)],
        Ok(other) => {
            return Err(Error::document(
                "(root)",
                format!(
                    "expected a record, an array of records or JSON lines, found {}",
                    kind_of(&other)
                ),
            ));
        }
        Err(whole_err) => {
            // JSON lines: several values, one per line.
            let lines: Vec<(usize, &str)> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .collect();
            if lines.len() < 2 {
                return Err(whole_err.into());
            }
            lines
                .into_iter()
                .map(|(i, l)| {
                    serde_json::from_str(l)
                        .map(|v| (format!("line {}", i + 1), v))
                        .map_err(|e| {
                            Error::document(format!("line {}", i + 1), format!("invalid JSON: {e}"))
                        })
                })
                .collect::<Result<_, _>>()?
        }
    };
    // A record that is an envelope (`{"Findings": [...]}`) stands for its items.
    let mut out = Vec::with_capacity(top.len());
    for (path, v) in top {
        match v {
            Value::Object(mut m) => {
                let env = envelopes
                    .iter()
                    .find(|e| matches!(m.get(**e), Some(Value::Array(_))));
                match env.and_then(|e| m.remove(*e).map(|items| (e, items))) {
                    Some((env, Value::Array(items))) => {
                        let base = join(&path, env);
                        out.extend(
                            items
                                .into_iter()
                                .enumerate()
                                .map(|(i, v)| (format!("{base}[{i}]"), v)),
                        );
                    }
                    _ => out.push((path, Value::Object(m))),
                }
            }
            other => out.push((path, other)),
        }
    }
    Ok(out)
}

/// Converts every record of a stream, all or nothing.
pub(crate) fn convert_all<T>(
    text: &str,
    envelopes: &[&str],
    mut one: impl FnMut(Value, &str) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    records(text, envelopes)?
        .into_iter()
        .map(|(path, v)| one(v, &path))
        .collect()
}

fn as_object(alert: &Alert) -> Result<JsonMap, Error> {
    match serde_json::to_value(alert)? {
        Value::Object(m) => Ok(m),
        _ => Err(Error::document(
            "(root)",
            "an alert serializes to an object",
        )),
    }
}

/// Equality that also compares the order of object keys, so that a round trip writes the same
/// bytes as the original.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| same(p, q))
        }
        _ => a == b,
    }
}

fn diff(original: &JsonMap, typed: &JsonMap, skip: Option<&str>) -> JsonMap {
    let mut out = JsonMap::new();
    for (k, v) in original {
        if Some(k.as_str()) != skip && !typed.get(k).is_some_and(|t| same(t, v)) {
            out.insert(k.clone(), v.clone());
        }
    }
    for k in typed.keys() {
        if Some(k.as_str()) != skip && !original.contains_key(k) {
            out.insert(k.clone(), Value::Null);
        }
    }
    out
}

/// The residual of an export: the Defender JSON values of `original` that `typed` (the alert
/// read back from the format's own fields) does not reproduce, as an ARM-resource fragment.
/// `null` marks a value the typed reading has and the original lacks.
pub(crate) fn residual(original: &Alert, typed: &Alert) -> Result<JsonMap, Error> {
    let o = as_object(original)?;
    let t = as_object(typed)?;
    let mut r = diff(&o, &t, Some("properties"));
    let empty = JsonMap::new();
    let op = o
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let tp = t
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let pd = diff(op, tp, None);
    if !pd.is_empty() {
        r.insert("properties".into(), Value::Object(pd));
    }
    Ok(r)
}

/// Lays a residual over an alert read from a format's fields; `path` locates the residual in
/// the document, for errors.
pub(crate) fn apply_residual(
    typed: &Alert,
    residual: &JsonMap,
    path: &str,
) -> Result<Alert, Error> {
    let mut v = as_object(typed)?;
    for (k, val) in residual {
        if k == "properties" {
            let Value::Object(props) = val else {
                return Err(Error::document(
                    join(path, "properties"),
                    format!("expected an object, found {}", kind_of(val)),
                ));
            };
            if let Some(Value::Object(p)) = v.get_mut("properties") {
                for (pk, pv) in props {
                    p.insert(pk.clone(), pv.clone());
                }
            }
        } else {
            v.insert(k.clone(), val.clone());
        }
    }
    crate::defender::alert_from_value(Value::Object(v), path)
}

/// Adds [`SOURCE_KEY`] to an alert imported from another product.
pub(crate) fn with_source(alert: Alert, format: Format, id: &str, record: Value) -> Alert {
    let mut src = JsonMap::new();
    src.insert("format".into(), Value::String(format.as_str().into()));
    src.insert("id".into(), Value::String(id.into()));
    src.insert("record".into(), record);
    alert
        .into_builder()
        .additional_property(SOURCE_KEY, Value::Object(src))
        .build()
}

/// Typed, path-aware reads from one JSON object of a record.
#[derive(Clone, Copy)]
pub(crate) struct Obj<'a> {
    pub(crate) map: &'a JsonMap,
    pub(crate) path: &'a str,
}

impl<'a> Obj<'a> {
    pub(crate) fn at(&self, key: &str) -> String {
        join(self.path, key)
    }

    fn wrong(&self, key: &str, want: &str, v: &Value) -> Error {
        Error::document(
            self.at(key),
            format!("expected {want}, found {}", kind_of(v)),
        )
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub(crate) fn str(&self, key: &str) -> Result<Option<&'a str>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.wrong(key, "a string", v)),
        }
    }

    /// A string, or a number written as text (ids are sometimes numbers).
    pub(crate) fn text(&self, key: &str) -> Result<Option<String>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(v) => Err(self.wrong(key, "a string", v)),
        }
    }

    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                        .map(|f| f as i64)
                })
                .map(Some)
                .ok_or_else(|| {
                    Error::document(self.at(key), format!("expected an integer, found {n}"))
                }),
            Some(v) => Err(self.wrong(key, "an integer", v)),
        }
    }

    pub(crate) fn obj_ref(&self, key: &str) -> Result<Option<&'a JsonMap>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(v) => Err(self.wrong(key, "an object", v)),
        }
    }

    pub(crate) fn arr(&self, key: &str) -> Result<&'a [Value], Error> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(v) => Err(self.wrong(key, "an array", v)),
        }
    }

    /// Strings of an array; `None` items are skipped, other kinds are errors.
    pub(crate) fn strs(&self, key: &str) -> Result<Vec<&'a str>, Error> {
        let mut out = Vec::new();
        for (i, v) in self.arr(key)?.iter().enumerate() {
            match v {
                Value::String(s) => out.push(s.as_str()),
                Value::Null => {}
                other => {
                    return Err(Error::document(
                        format!("{}[{i}]", self.at(key)),
                        format!("expected a string, found {}", kind_of(other)),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// An RFC 3339 timestamp string.
    pub(crate) fn time(&self, key: &str) -> Result<Option<DateTime<Utc>>, Error> {
        match self.str(key)? {
            None => Ok(None),
            Some(s) => crate::time::parse_time(s).map(Some).ok_or_else(|| {
                Error::document(
                    self.at(key),
                    format!(
                        "invalid timestamp {s:?} (expected RFC 3339 such as 2024-01-01T00:00:00Z)"
                    ),
                )
            }),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub(crate) fn millis(&self, key: &str) -> Result<Option<DateTime<Utc>>, Error> {
        match self.int(key)? {
            None => Ok(None),
            Some(ms) => DateTime::from_timestamp_millis(ms)
                .map(Some)
                .ok_or_else(|| {
                    Error::document(self.at(key), format!("timestamp {ms} ms is out of range"))
                }),
        }
    }
}

/// Objects of an array, each with its path.
pub(crate) fn objects<'a>(
    items: &'a [Value],
    path: &str,
) -> Result<Vec<(String, &'a JsonMap)>, Error> {
    items
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_null())
        .map(|(i, v)| match v {
            Value::Object(m) => Ok((format!("{path}[{i}]"), m)),
            other => Err(Error::document(
                format!("{path}[{i}]"),
                format!("expected an object, found {}", kind_of(other)),
            )),
        })
        .collect()
}

/// Cuts text to at most `max` characters, on a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The subscription, resource group, provider type and name of an ARM resource id.
pub(crate) struct ArmId<'a> {
    pub(crate) subscription: &'a str,
    pub(crate) resource_type: Option<String>,
    pub(crate) name: Option<&'a str>,
}

pub(crate) fn parse_arm_id(id: &str) -> Option<ArmId<'_>> {
    let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
    if parts.len() < 2 || !parts[0].eq_ignore_ascii_case("subscriptions") || parts[1].is_empty() {
        return None;
    }
    let subscription = parts[1];
    let providers = parts
        .iter()
        .rposition(|p| p.eq_ignore_ascii_case("providers"));
    let (resource_type, name) = match providers {
        Some(p) if parts.len() >= p + 4 => {
            let rest = &parts[p + 1..];
            // namespace/type/name[/type/name…]
            let mut ty = rest[0].to_owned();
            let mut name = None;
            for pair in rest[1..].chunks(2) {
                ty.push('/');
                ty.push_str(pair[0]);
                name = pair.get(1).copied();
            }
            (Some(ty), name)
        }
        _ => (None, parts.last().copied()),
    };
    Some(ArmId {
        subscription,
        resource_type,
        name,
    })
}

/// A process id as entities write it: decimal, or hexadecimal with `0x` (Defender's `0x3c44`).
pub(crate) fn pid_of(s: &str) -> Option<i64> {
    let t = s.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    }
}

/// A port as entities write it: a number or numeric text, 0 to 65535.
pub(crate) fn port_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().filter(|p| (0..=65535).contains(p)),
        Value::String(s) => s.trim().parse().ok().filter(|p| (0..=65535).contains(p)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_ids() {
        let a = parse_arm_id(
            "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
        );
        let a = a.map(|a| (a.subscription, a.resource_type, a.name));
        assert_eq!(
            a,
            Some((
                "s1",
                Some("Microsoft.Compute/virtualMachines".to_owned()),
                Some("vm1")
            ))
        );
        assert!(parse_arm_id("/foo/bar").is_none());
    }

    #[test]
    fn streams() {
        let r = records("{\"a\":1}\n\n{\"a\":2}\n", &[])
            .map(|r| r.len())
            .ok();
        assert_eq!(r, Some(2));
        let err = records("{\"a\":1}\n{\"a\":\n", &[])
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("line 2: invalid JSON")));
        assert_eq!(cut("héllo", 2), "hé");
    }
}
