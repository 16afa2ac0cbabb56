//! Suppression-rule JSON in and out: `Microsoft.Security/alertsSuppressionRules` resources read
//! by [`super::parse_suppression_rules`] and written by `Serialize` for [`SuppressionRule`].

use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::join;
use crate::entity::kind_of;
use crate::suppression::{Condition, EntityAbsence, RuleState, SuppressionReason, SuppressionRule};
use crate::time::{format_time, parse_time};
use crate::{Error, JsonMap};

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        JsonMap::deserialize(d).map(Condition::from_json)
    }
}

impl SuppressionRule {
    /// Reads one rule resource (`{"name": …, "properties": {…}}`), as
    /// [`crate::defender::parse_suppression_rules`] reads each rule of a document.
    pub fn from_json(value: Value) -> Result<SuppressionRule, Error> {
        rule_from_value(value, "")
    }
}

impl Serialize for SuppressionRule {
    /// Writes the Defender resource form, with `…Utc` spellings.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Props<'a>(&'a SuppressionRule);
        struct Scope<'a>(&'a SuppressionRule);
        impl Serialize for Scope<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("allOf", &self.0.conditions)?;
                for (k, v) in &self.0.scope_extra {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        impl Serialize for Props<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let r = self.0;
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("alertType", &r.alert_type)?;
                if let Some(t) = &r.last_modified {
                    m.serialize_entry("lastModifiedUtc", &format_time(t))?;
                }
                if let Some(t) = &r.expiration {
                    m.serialize_entry("expirationDateUtc", &format_time(t))?;
                }
                m.serialize_entry("state", r.state.as_str())?;
                m.serialize_entry("reason", r.reason.as_str())?;
                if let Some(c) = &r.comment {
                    m.serialize_entry("comment", c)?;
                }
                if r.when_entity_absent == EntityAbsence::Match {
                    m.serialize_entry("whenEntityAbsent", "match")?;
                }
                m.serialize_entry("suppressionAlertsScope", &Scope(r))?;
                for (k, v) in &r.extra {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(None)?;
        if let Some(id) = &self.resource_id {
            m.serialize_entry("id", id)?;
        }
        m.serialize_entry("name", &self.name)?;
        if let Some(t) = &self.resource_type {
            m.serialize_entry("type", t)?;
        }
        m.serialize_entry("properties", &Props(self))?;
        for (k, v) in &self.envelope_extra {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for SuppressionRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        rule_from_value(Value::deserialize(d)?, "").map_err(serde::de::Error::custom)
    }
}

/// Removes the entry whose key equals `canonical` (preferred) or matches one of `names`
/// ignoring ASCII case; returns it with its key as spelled.
fn take(map: &mut JsonMap, canonical: &str, names: &[&str]) -> Option<(String, Value)> {
    if let Some(v) = map.shift_remove(canonical) {
        return Some((canonical.to_owned(), v));
    }
    let key = map
        .keys()
        .find(|k| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
        .cloned()?;
    map.shift_remove(&key).map(|v| (key, v))
}

fn string_at(path: String, v: Value) -> Result<Option<String>, Error> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        other => Err(Error::document(
            path,
            format!("expected a string, found {}", kind_of(&other)),
        )),
    }
}

fn time_at(path: String, v: Value) -> Result<Option<DateTime<Utc>>, Error> {
    match string_at(path.clone(), v)? {
        None => Ok(None),
        Some(s) => parse_time(&s).map(Some).ok_or_else(|| {
            Error::document(
                path,
                format!(
                    "invalid timestamp {s:?} (expected RFC 3339 such as 2019-12-01T19:50:47.083633Z)"
                ),
            )
        }),
    }
}

pub(crate) fn rule_from_value(value: Value, path: &str) -> Result<SuppressionRule, Error> {
    let at = |k: &str| join(path, k);
    let Value::Object(mut top) = value else {
        return Err(Error::document(
            if path.is_empty() { "(root)" } else { path },
            format!(
                "expected a suppression rule object, found {}",
                kind_of(&value)
            ),
        ));
    };
    let resource_id = match take(&mut top, "id", &["id"]) {
        Some((k, v)) => string_at(at(&k), v)?,
        None => None,
    };
    let name = match take(&mut top, "name", &["name"]) {
        Some((k, v)) => string_at(at(&k), v)?,
        None => None,
    };
    let Some(name) = name.filter(|n| !n.trim().is_empty()) else {
        return Err(Error::document(
            if path.is_empty() { "name" } else { path },
            "missing the rule's \"name\"",
        ));
    };
    let resource_type = match take(&mut top, "type", &["type"]) {
        Some((k, v)) => string_at(at(&k), v)?,
        None => None,
    };
    let (pkey, props) = match take(&mut top, "properties", &["properties"]) {
        Some((k, Value::Object(p))) => (k, p),
        Some((k, other)) => {
            return Err(Error::document(
                at(&k),
                format!(
                    "expected an object of rule properties, found {}",
                    kind_of(&other)
                ),
            ));
        }
        None => {
            return Err(Error::document(
                if path.is_empty() { "(root)" } else { path },
                "missing \"properties\"",
            ));
        }
    };
    let envelope_extra = top;
    let ppath = at(&pkey);
    let pat = |k: &str| join(&ppath, k);
    let mut props = props;
    let missing = |what: &str| {
        Error::document(
            ppath.clone(),
            format!("missing required property \"{what}\""),
        )
    };

    let alert_type = match take(&mut props, "alertType", &["alertType"]) {
        Some((k, v)) => string_at(pat(&k), v)?,
        None => None,
    }
    .ok_or_else(|| missing("alertType"))?;
    if let Some(why) = crate::suppression::alert_type_problem(&alert_type) {
        return Err(Error::document(pat("alertType"), why));
    }
    let reason = match take(&mut props, "reason", &["reason"]) {
        Some((k, v)) => string_at(pat(&k), v)?,
        None => None,
    }
    .ok_or_else(|| missing("reason"))?;
    let state = match take(&mut props, "state", &["state"]) {
        Some((k, v)) => {
            let text = string_at(pat(&k), v)?.ok_or_else(|| missing("state"))?;
            RuleState::parse(&text).ok_or_else(|| {
                Error::document(
                    pat(&k),
                    format!("unknown rule state {text:?} (expected Enabled, Disabled or Expired)"),
                )
            })?
        }
        None => return Err(missing("state")),
    };
    let expiration = match take(&mut props, "expirationDateUtc", &["expirationDateUtc"]) {
        Some((k, v)) => time_at(pat(&k), v)?,
        None => None,
    };
    let last_modified = match take(&mut props, "lastModifiedUtc", &["lastModifiedUtc"]) {
        Some((k, v)) => time_at(pat(&k), v)?,
        None => None,
    };
    let comment = match take(&mut props, "comment", &["comment"]) {
        Some((k, v)) => string_at(pat(&k), v)?,
        None => None,
    };
    let when_entity_absent = match take(&mut props, "whenEntityAbsent", &["whenEntityAbsent"]) {
        Some((k, v)) => match string_at(pat(&k), v)?.as_deref() {
            None => EntityAbsence::NoMatch,
            Some(s) if s.eq_ignore_ascii_case("noMatch") => EntityAbsence::NoMatch,
            Some(s) if s.eq_ignore_ascii_case("match") => EntityAbsence::Match,
            Some(s) => {
                return Err(Error::document(
                    pat(&k),
                    format!("unknown value {s:?} (expected \"noMatch\" or \"match\")"),
                ));
            }
        },
        None => EntityAbsence::NoMatch,
    };
    let mut conditions = Vec::new();
    let mut scope_extra = JsonMap::new();
    match take(
        &mut props,
        "suppressionAlertsScope",
        &["suppressionAlertsScope"],
    ) {
        None | Some((_, Value::Null)) => {}
        Some((k, Value::Object(mut scope))) => {
            let spath = pat(&k);
            match take(&mut scope, "allOf", &["allOf"]) {
                None | Some((_, Value::Null)) => {}
                Some((ak, Value::Array(items))) => {
                    for (i, item) in items.into_iter().enumerate() {
                        match item {
                            Value::Object(m) => conditions.push(Condition::from_json(m)),
                            other => {
                                return Err(Error::document(
                                    format!("{}[{i}]", join(&spath, &ak)),
                                    format!(
                                        "expected a condition object, found {}",
                                        kind_of(&other)
                                    ),
                                ));
                            }
                        }
                    }
                }
                Some((ak, other)) => {
                    return Err(Error::document(
                        join(&spath, &ak),
                        format!("expected an array of conditions, found {}", kind_of(&other)),
                    ));
                }
            }
            scope_extra = scope;
        }
        Some((k, other)) => {
            return Err(Error::document(
                pat(&k),
                format!(
                    "expected an object with \"allOf\", found {}",
                    kind_of(&other)
                ),
            ));
        }
    }
    Ok(SuppressionRule {
        resource_id,
        name,
        resource_type,
        alert_type,
        reason: SuppressionReason::from_text(&reason),
        state,
        expiration,
        last_modified,
        comment,
        when_entity_absent,
        conditions,
        scope_extra,
        extra: props,
        envelope_extra,
    })
}
