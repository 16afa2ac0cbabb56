//! Microsoft Defender for Cloud REST JSON, in and out.
//!
//! [`parse_alerts`] reads what Defender's alerts API returns — one alert resource, a list response
//! `{"value": […], "nextLink": …}`, or a plain JSON array of resources — and the variants real
//! documents show:
//!
//! - keys in any case (2020-01-01 resource identifiers and the workflow-automation export event
//!   use PascalCase);
//! - `timeGenerated` / `processingEndTime` without the `Utc` suffix; timestamps with 0–9
//!   fractional digits, a `Z`, an offset (converted to UTC) or no zone at all (read as UTC);
//! - `null` for an absent optional value; status `New` (read as `Active`);
//! - `intent` as a comma-separated list, a JSON array, or a JSON array encoded in a string;
//! - `remediationSteps` as the legacy single string (split into lines);
//! - the flat export event, with the alert's properties at the top level instead of under
//!   `properties`;
//! - unknown properties anywhere: kept, and written back by the alert's `Serialize`.
//!
//! A `nextLink` is not followed (the crate does no I/O); fetch the next page and parse it too.
//!
//! Errors name the path of the offending value:
//!
//! ```
//! let err = vigil_core::defender::parse_alerts(
//!     r#"{"properties": {"alertType": "X", "systemAlertId": "1", "alertDisplayName": "x",
//!         "severity": "Hgh", "timeGeneratedUtc": "2024-01-01T00:00:00Z"}}"#,
//! )
//! .unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     r#"properties.severity: unknown severity "Hgh" (expected Informational, Low, Medium or High)"#
//! );
//! ```

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

use crate::alert::{ExtendedLink, ResourceIdentifier, SupportingEvidence};
use crate::attack::TechniqueId;
use crate::entity::kind_of;
use crate::intent::parse_intents;
use crate::{Alert, AlertId, Entity, Error, JsonMap, KillChainIntent, Severity, Status};

/// Parses Defender alert JSON: one alert resource, a list response `{"value": […]}`, or a JSON
/// array of resources. See the [module docs](self) for the variants accepted.
///
/// All or nothing: if any alert in the document is malformed, the error names it and no alert
/// is returned.
pub fn parse_alerts(json: &str) -> Result<Vec<Alert>, Error> {
    alerts_from_value(crate::json::parse(json)?)
}

/// Reads a stream of alerts as the command line and pipelines hand them over: one Defender
/// document (anything [`parse_alerts`] accepts) or JSON lines (one document per line; blank
/// lines skipped). A leading byte-order mark is skipped. An error in JSON lines names its
/// 1-based line ([`Error::Line`]). All or nothing, like [`parse_alerts`].
///
/// ```
/// use vigil_core::defender::read_alerts;
///
/// let one = r#"{"alertType": "A", "systemAlertId": "1", "alertDisplayName": "a", "severity": "Low", "timeGeneratedUtc": "2024-01-01T00:00:00Z"}"#;
/// let lines = format!("\u{feff}{one}\n\n{}\n", one.replace("\"1\"", "\"2\""));
/// assert_eq!(read_alerts(&lines)?.len(), 2);
///
/// let bad = format!("{one}\n{}", one.replace("Low", "Lowest"));
/// assert!(read_alerts(&bad).unwrap_err().to_string().starts_with("line 2: severity: unknown severity"));
/// # Ok::<(), vigil_core::Error>(())
/// ```
pub fn read_alerts(text: &str) -> Result<Vec<Alert>, Error> {
    let text = crate::json::strip_bom(text);
    let whole_err = match crate::json::parse(text) {
        Ok(v) => return alerts_from_value(v),
        Err(e) => e,
    };
    // JSON lines, if the first non-blank line is a JSON document on its own.
    let first = text.lines().find(|l| !l.trim().is_empty());
    if first.is_none_or(|l| serde_json::from_str::<serde::de::IgnoredAny>(l).is_err()) {
        return Err(whole_err);
    }
    let mut alerts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |error: Error| Error::Line {
            line: i + 1,
            error: Box::new(error),
        };
        let value = crate::json::parse(line).map_err(at)?;
        alerts.extend(alerts_from_value(value).map_err(at)?);
    }
    Ok(alerts)
}

/// Like [`parse_alerts`], for a document that was already parsed into a [`serde_json::Value`].
pub fn alerts_from_value(value: Value) -> Result<Vec<Alert>, Error> {
    resources(value, "alert", alert_from_value)
}

/// The resources of a Defender document: one resource, a list response `{"value": [...]}` or a
/// JSON array, each read by `read` with its path for error messages.
fn resources<T>(
    value: Value,
    what: &str,
    read: impl Fn(Value, &str) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| read(v, &format!("[{i}]")))
            .collect(),
        Value::Object(mut map) => {
            let list_key = map
                .keys()
                .find(|k| k.eq_ignore_ascii_case("value"))
                .cloned();
            match list_key.and_then(|k| map.remove(&k).map(|v| (k, v))) {
                Some((key, Value::Array(items))) => items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| read(v, &format!("{key}[{i}]")))
                    .collect(),
                Some((key, other)) => Err(Error::document(
                    key,
                    format!(
                        "expected the list of {what}s (an array), found {}",
                        kind_of(&other)
                    ),
                )),
                None => Ok(vec![read(Value::Object(map), "")?]),
            }
        }
        other => Err(Error::document(
            "(root)",
            format!(
                "expected {} {what} resource, a {{\"value\": [...]}} list or an array of {what}s, found {}",
                if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                },
                kind_of(&other)
            ),
        )),
    }
}

/// Parses Defender suppression-rule JSON (`Microsoft.Security/alertsSuppressionRules`): one rule
/// resource, a list response `{"value": […]}`, or a JSON array of resources. Both the `…Utc` and
/// `…UTC` spellings of the timestamps are accepted. Conditions are kept as written and checked by
/// [`crate::suppression::RuleSet::compile`].
///
/// ```
/// let rules = vigil_core::defender::parse_suppression_rules(r#"{
///   "name": "dismissIpAnomalyAlerts",
///   "properties": {
///     "alertType": "IpAnomaly", "reason": "FalsePositive", "state": "Enabled",
///     "expirationDateUTC": "2019-12-01T19:50:47.083633Z",
///     "suppressionAlertsScope": {"allOf": [{"field": "entities.ip.address", "in": ["52.164.206.56"]}]}
///   }
/// }"#)?;
/// assert_eq!(rules[0].name(), "dismissIpAnomalyAlerts");
/// # Ok::<(), vigil_core::Error>(())
/// ```
pub fn parse_suppression_rules(
    json: &str,
) -> Result<Vec<crate::suppression::SuppressionRule>, Error> {
    let value = crate::json::parse(json)?;
    resources(
        value,
        "suppression rule",
        crate::suppression::rule_from_value,
    )
}

/// Serializes one alert as a 2022-01-01 resource.
pub fn to_json(alert: &Alert) -> Result<String, Error> {
    Ok(serde_json::to_string(alert)?)
}

/// Serializes alerts as a list response, `{"value": […]}`, which [`parse_alerts`] reads back.
pub fn to_list_json(alerts: &[Alert]) -> Result<String, Error> {
    #[derive(serde::Serialize)]
    struct List<'a> {
        value: &'a [Alert],
    }
    Ok(serde_json::to_string(&List { value: alerts })?)
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The properties Vigil models, and the spellings (lower-cased) that name them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Field {
    Version,
    AlertType,
    SystemAlertId,
    ProductComponentName,
    AlertDisplayName,
    Description,
    Severity,
    Intent,
    StartTime,
    EndTime,
    ResourceIdentifiers,
    RemediationSteps,
    VendorName,
    Status,
    ExtendedLinks,
    AlertUri,
    TimeGenerated,
    ProductName,
    ProcessingEndTime,
    Entities,
    IsIncident,
    CorrelationKey,
    ExtendedProperties,
    CompromisedEntity,
    Techniques,
    SubTechniques,
    SupportingEvidence,
}

const FIELD_COUNT: usize = 27;

fn field_of(key: &str) -> Option<Field> {
    use Field as F;
    Some(match key.to_ascii_lowercase().as_str() {
        "version" => F::Version,
        "alerttype" => F::AlertType,
        "systemalertid" => F::SystemAlertId,
        "productcomponentname" => F::ProductComponentName,
        "alertdisplayname" => F::AlertDisplayName,
        "description" => F::Description,
        "severity" => F::Severity,
        "intent" => F::Intent,
        "starttimeutc" => F::StartTime,
        "endtimeutc" => F::EndTime,
        "resourceidentifiers" => F::ResourceIdentifiers,
        "remediationsteps" => F::RemediationSteps,
        "vendorname" => F::VendorName,
        "status" => F::Status,
        "extendedlinks" => F::ExtendedLinks,
        "alerturi" => F::AlertUri,
        "timegeneratedutc" | "timegenerated" => F::TimeGenerated,
        "productname" => F::ProductName,
        "processingendtimeutc" | "processingendtime" => F::ProcessingEndTime,
        "entities" => F::Entities,
        "isincident" => F::IsIncident,
        "correlationkey" => F::CorrelationKey,
        "extendedproperties" => F::ExtendedProperties,
        "compromisedentity" => F::CompromisedEntity,
        "techniques" => F::Techniques,
        "subtechniques" => F::SubTechniques,
        "supportingevidence" => F::SupportingEvidence,
        _ => return None,
    })
}

/// The 2022-01-01 name of a field: the spelling written out, and preferred on input when a
/// document spells the same property twice.
fn field_name(f: Field) -> &'static str {
    use Field as F;
    match f {
        F::Version => "version",
        F::AlertType => "alertType",
        F::SystemAlertId => "systemAlertId",
        F::ProductComponentName => "productComponentName",
        F::AlertDisplayName => "alertDisplayName",
        F::Description => "description",
        F::Severity => "severity",
        F::Intent => "intent",
        F::StartTime => "startTimeUtc",
        F::EndTime => "endTimeUtc",
        F::ResourceIdentifiers => "resourceIdentifiers",
        F::RemediationSteps => "remediationSteps",
        F::VendorName => "vendorName",
        F::Status => "status",
        F::ExtendedLinks => "extendedLinks",
        F::AlertUri => "alertUri",
        F::TimeGenerated => "timeGeneratedUtc",
        F::ProductName => "productName",
        F::ProcessingEndTime => "processingEndTimeUtc",
        F::Entities => "entities",
        F::IsIncident => "isIncident",
        F::CorrelationKey => "correlationKey",
        F::ExtendedProperties => "extendedProperties",
        F::CompromisedEntity => "compromisedEntity",
        F::Techniques => "techniques",
        F::SubTechniques => "subTechniques",
        F::SupportingEvidence => "supportingEvidence",
    }
}

/// The fields of one alert's `properties`, each with the key it was spelled with.
struct Collected {
    slots: [Option<(String, Value)>; FIELD_COUNT],
    extra: JsonMap,
    prefix: String,
}

impl Collected {
    fn take(&mut self, f: Field) -> Option<(String, Value)> {
        match self.slots[f as usize].take() {
            Some((_, Value::Null)) => None,
            other => other,
        }
    }

    fn path(&self, key: &str) -> String {
        join(&self.prefix, key)
    }

    /// The key a field was spelled with, or its 2022-01-01 name when it is absent.
    fn key_of(&self, f: Field) -> String {
        match &self.slots[f as usize] {
            Some((key, _)) => key.clone(),
            None => field_name(f).to_owned(),
        }
    }

    fn string(&mut self, f: Field) -> Result<Option<String>, Error> {
        match self.take(f) {
            None => Ok(None),
            Some((_, Value::String(s))) => Ok(Some(s)),
            Some((key, other)) => Err(Error::document(
                self.path(&key),
                format!("expected a string, found {}", kind_of(&other)),
            )),
        }
    }

    fn required_string(&mut self, f: Field) -> Result<String, Error> {
        self.string(f)?.ok_or_else(|| self.missing(f))
    }

    fn missing(&self, f: Field) -> Error {
        let at = if self.prefix.is_empty() {
            "(root)".to_owned()
        } else {
            self.prefix.clone()
        };
        Error::document(
            at,
            format!("missing required property \"{}\"", field_name(f)),
        )
    }

    fn time(&mut self, f: Field) -> Result<Option<DateTime<Utc>>, Error> {
        match self.take(f) {
            None => Ok(None),
            Some((key, Value::String(s))) => parse_time(&s)
                .map(Some)
                .ok_or_else(|| {
                    Error::document(
                        self.path(&key),
                        format!(
                            "invalid timestamp {s:?} (expected RFC 3339 such as 2020-02-22T00:00:00.0000000Z)"
                        ),
                    )
                }),
            Some((key, other)) => Err(Error::document(
                self.path(&key),
                format!("expected a timestamp string, found {}", kind_of(&other)),
            )),
        }
    }

    fn array(&mut self, f: Field) -> Result<Option<(String, Vec<Value>)>, Error> {
        match self.take(f) {
            None => Ok(None),
            Some((key, Value::Array(a))) => Ok(Some((self.path(&key), a))),
            Some((key, other)) => Err(Error::document(
                self.path(&key),
                format!("expected an array, found {}", kind_of(&other)),
            )),
        }
    }

    fn object(&mut self, f: Field) -> Result<Option<JsonMap>, Error> {
        match self.take(f) {
            None => Ok(None),
            Some((_, Value::Object(m))) => Ok(Some(m)),
            Some((key, other)) => Err(Error::document(
                self.path(&key),
                format!("expected an object, found {}", kind_of(&other)),
            )),
        }
    }
}

/// Parses a timestamp: RFC 3339 with any number of fractional digits, or the same without a
/// zone (read as UTC).
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let t = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

fn collect(map: JsonMap, prefix: String) -> Collected {
    let mut c = Collected {
        slots: std::array::from_fn(|_| None),
        extra: JsonMap::new(),
        prefix,
    };
    for (key, value) in map {
        let Some(f) = field_of(&key) else {
            c.extra.insert(key, value);
            continue;
        };
        let slot = &mut c.slots[f as usize];
        match slot {
            None => *slot = Some((key, value)),
            // A property spelled twice: the 2022-01-01 spelling wins and the other is kept
            // verbatim, so that writing back never produces a duplicate key.
            Some((seen, _)) if key == field_name(f) && seen != field_name(f) => {
                if let Some((k, v)) = slot.replace((key, value)) {
                    c.extra.insert(k, v);
                }
            }
            Some(_) => {
                c.extra.insert(key, value);
            }
        }
    }
    c
}

/// Converts one alert resource (or flat alert object) into an [`Alert`]; `path` is the path of
/// `value` in the document, for error messages.
pub(crate) fn alert_from_value(value: Value, path: &str) -> Result<Alert, Error> {
    let Value::Object(mut top) = value else {
        return Err(Error::document(
            if path.is_empty() { "(root)" } else { path },
            format!("expected an alert object, found {}", kind_of(&value)),
        ));
    };
    let props_key = top
        .keys()
        .find(|k| k.eq_ignore_ascii_case("properties"))
        .cloned();
    let (props, props_path, envelope) = match props_key {
        Some(key) => match top.remove(&key) {
            Some(Value::Object(p)) => (p, join(path, &key), Some(top)),
            Some(other) => {
                return Err(Error::document(
                    join(path, &key),
                    format!(
                        "expected an object of alert properties, found {}",
                        kind_of(&other)
                    ),
                ));
            }
            None => (JsonMap::new(), join(path, &key), Some(top)),
        },
        // No envelope: the flat form (workflow-automation / export event).
        None => (top, path.to_owned(), None),
    };

    let mut resource_id = None;
    let mut name = None;
    let mut resource_type = None;
    let mut envelope_extra = JsonMap::new();
    let mut envelope = envelope.unwrap_or_default();
    // The exact spellings first, so that a second spelling lands in the extras and writing back
    // never produces a duplicate key.
    let mut ordered: Vec<(String, Value)> = Vec::with_capacity(envelope.len());
    for exact in ["id", "name", "type"] {
        if let Some(v) = envelope.shift_remove(exact) {
            ordered.push((exact.to_owned(), v));
        }
    }
    ordered.extend(envelope);
    for (key, v) in ordered {
        let slot = match key.to_ascii_lowercase().as_str() {
            "id" if resource_id.is_none() => &mut resource_id,
            "name" if name.is_none() => &mut name,
            "type" if resource_type.is_none() => &mut resource_type,
            _ => {
                envelope_extra.insert(key, v);
                continue;
            }
        };
        match v {
            Value::String(s) => *slot = Some((key, s)),
            Value::Null => {}
            other => {
                return Err(Error::document(
                    join(path, &key),
                    format!("expected a string, found {}", kind_of(&other)),
                ));
            }
        }
    }

    let name = match name {
        None => None,
        Some((key, s)) => match crate::alert::id_problem(&s) {
            None => Some(AlertId(s)),
            Some(why) => {
                return Err(Error::document(
                    join(path, &key),
                    format!("{why}; the resource name is the alert's identity"),
                ));
            }
        },
    };
    let resource_id = resource_id.map(|(_, s)| s);
    let resource_type = resource_type.map(|(_, s)| s);

    let mut c = collect(props, props_path);
    use Field as F;

    let alert_type = {
        let key = c.key_of(F::AlertType);
        let s = c.required_string(F::AlertType)?;
        if let Some(why) = crate::suppression::alert_type_problem(&s) {
            return Err(Error::document(c.path(&key), why));
        }
        s
    };
    let system_alert_id = {
        let key = c.key_of(F::SystemAlertId);
        let s = c.required_string(F::SystemAlertId)?;
        match crate::alert::id_problem(&s) {
            None => AlertId(s),
            Some(why) => return Err(Error::document(c.path(&key), why)),
        }
    };
    let display_name = c.required_string(F::AlertDisplayName)?;
    let severity = match c.take(F::Severity) {
        None => return Err(c.missing(F::Severity)),
        Some((key, Value::String(s))) => s.parse::<Severity>().map_err(|_| {
            Error::document(
                c.path(&key),
                format!("unknown severity {s:?} (expected Informational, Low, Medium or High)"),
            )
        })?,
        Some((key, other)) => {
            return Err(Error::document(
                c.path(&key),
                format!("expected a severity string, found {}", kind_of(&other)),
            ));
        }
    };
    let time_generated = c
        .time(F::TimeGenerated)?
        .ok_or_else(|| c.missing(F::TimeGenerated))?;
    let status = match c.take(F::Status) {
        None => Status::Active,
        Some((key, Value::String(s))) => s.parse::<Status>().map_err(|_| {
            Error::document(
                c.path(&key),
                format!(
                    "unknown status {s:?} (expected Active, InProgress, Resolved or Dismissed)"
                ),
            )
        })?,
        Some((key, other)) => {
            return Err(Error::document(
                c.path(&key),
                format!("expected a status string, found {}", kind_of(&other)),
            ));
        }
    };

    let intents = match c.take(F::Intent) {
        None => Vec::new(),
        Some((key, v)) => intents_from(v).map_err(|m| Error::document(c.path(&key), m))?,
    };

    let remediation_steps = match c.take(F::RemediationSteps) {
        None => Vec::new(),
        Some((key, v)) => {
            strings_from(v, true).map_err(|(i, m)| Error::document(index(&c.path(&key), i), m))?
        }
    };

    let mut resource_identifiers = Vec::new();
    if let Some((at, items)) = c.array(F::ResourceIdentifiers)? {
        for (i, item) in items.into_iter().enumerate() {
            resource_identifiers.push(resource_identifier(item, &format!("{at}[{i}]"))?);
        }
    }

    let mut extended_links = Vec::new();
    if let Some((at, items)) = c.array(F::ExtendedLinks)? {
        for (i, item) in items.into_iter().enumerate() {
            match item {
                Value::Object(m) => extended_links.push(ExtendedLink(m)),
                other => {
                    return Err(Error::document(
                        format!("{at}[{i}]"),
                        format!("expected a link object, found {}", kind_of(&other)),
                    ));
                }
            }
        }
    }

    let mut entities = Vec::new();
    if let Some((at, items)) = c.array(F::Entities)? {
        for (i, item) in items.into_iter().enumerate() {
            let here = format!("{at}[{i}]");
            match item {
                Value::Object(m) => entities.push(Entity::from_json(m).map_err(|e| match e {
                    Error::Document { path, message } => Error::Document {
                        path: join(&here, &path),
                        message,
                    },
                    other => other,
                })?),
                other => {
                    return Err(Error::document(
                        here,
                        format!("expected an entity object, found {}", kind_of(&other)),
                    ));
                }
            }
        }
    }

    let is_incident = match c.take(F::IsIncident) {
        None => false,
        Some((_, Value::Bool(b))) => b,
        Some((_, Value::String(s))) if s.eq_ignore_ascii_case("true") => true,
        Some((_, Value::String(s))) if s.eq_ignore_ascii_case("false") => false,
        Some((key, other)) => {
            return Err(Error::document(
                c.path(&key),
                format!("expected true or false, found {}", describe(&other)),
            ));
        }
    };

    let techniques = techniques_from(&mut c, F::Techniques)?;
    let sub_techniques = techniques_from(&mut c, F::SubTechniques)?;

    let extended_properties = c.object(F::ExtendedProperties)?.unwrap_or_default();
    let supporting_evidence = c.object(F::SupportingEvidence)?.map(SupportingEvidence);

    Ok(Alert {
        resource_id,
        name,
        resource_type,
        envelope_extra,
        version: c.string(F::Version)?,
        alert_type,
        system_alert_id,
        product_component_name: c.string(F::ProductComponentName)?,
        display_name,
        description: c.string(F::Description)?,
        severity,
        intents,
        start_time: c.time(F::StartTime)?,
        end_time: c.time(F::EndTime)?,
        resource_identifiers,
        remediation_steps,
        vendor_name: c.string(F::VendorName)?,
        status,
        extended_links,
        alert_uri: c.string(F::AlertUri)?,
        time_generated,
        product_name: c.string(F::ProductName)?,
        processing_end_time: c.time(F::ProcessingEndTime)?,
        entities,
        is_incident,
        correlation_key: c.string(F::CorrelationKey)?,
        extended_properties,
        compromised_entity: c.string(F::CompromisedEntity)?,
        techniques,
        sub_techniques,
        supporting_evidence,
        extra: c.extra,
    })
}

fn index(path: &str, i: Option<usize>) -> String {
    match i {
        Some(i) => format!("{path}[{i}]"),
        None => path.to_owned(),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => kind_of(other).to_owned(),
    }
}

/// A list of strings: a JSON array of strings; with `split_text`, also a single string (split
/// into lines, or a JSON array encoded in the string).
fn strings_from(v: Value, split_text: bool) -> Result<Vec<String>, (Option<usize>, String)> {
    match v {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s),
                other => Err((
                    Some(i),
                    format!("expected a string, found {}", kind_of(&other)),
                )),
            })
            .collect(),
        Value::String(s) if split_text => {
            if s.trim_start().starts_with('[')
                && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&s)
            {
                return strings_from(Value::Array(items), false);
            }
            Ok(s.lines()
                .map(str::trim_end)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect())
        }
        other => Err((
            None,
            format!("expected an array of strings, found {}", kind_of(&other)),
        )),
    }
}

fn intents_from(v: Value) -> Result<Vec<KillChainIntent>, String> {
    match v {
        Value::String(s) => {
            let t = s.trim();
            if t.starts_with('[')
                && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(t)
            {
                return intents_from(Value::Array(items));
            }
            Ok(parse_intents(&s))
        }
        Value::Array(items) => {
            let mut out = Vec::new();
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    Value::String(s) => out.extend(parse_intents(&s)),
                    other => {
                        return Err(format!(
                            "item {i}: expected an intent string, found {}",
                            kind_of(&other)
                        ));
                    }
                }
            }
            Ok(out)
        }
        other => Err(format!(
            "expected an intent string such as \"Execution\", found {}",
            kind_of(&other)
        )),
    }
}

fn techniques_from(c: &mut Collected, f: Field) -> Result<Vec<TechniqueId>, Error> {
    let Some((at, items)) = c.array(f)? else {
        return Ok(Vec::new());
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) => s.parse::<TechniqueId>().map_err(|_| {
                Error::document(
                    format!("{at}[{i}]"),
                    format!("invalid ATT&CK technique id {s:?} (expected T1059 or T1059.001)"),
                )
            }),
            other => Err(Error::document(
                format!("{at}[{i}]"),
                format!("expected a technique id string, found {}", kind_of(&other)),
            )),
        })
        .collect()
}

fn resource_identifier(v: Value, at: &str) -> Result<ResourceIdentifier, Error> {
    let Value::Object(map) = v else {
        return Err(Error::document(
            at,
            format!(
                "expected a resource identifier object, found {}",
                kind_of(&v)
            ),
        ));
    };
    let type_name = match crate::entity::lookup(&map, "type") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(Error::document(
                join(at, "type"),
                format!("expected a string, found {}", kind_of(other)),
            ));
        }
        None => {
            return Err(Error::document(
                at,
                "resource identifier has no \"type\" (expected \"AzureResource\" or \"LogAnalytics\")",
            ));
        }
    };
    let is_known = |name: &str| type_name.eq_ignore_ascii_case(name);
    if !is_known("AzureResource") && !is_known("LogAnalytics") {
        return Ok(ResourceIdentifier::Other {
            type_name,
            properties: map,
        });
    }
    let mut fields: [Option<String>; 5] = Default::default();
    let mut extra = JsonMap::new();
    const KEYS: [&str; 5] = [
        "azureresourceid",
        "workspaceid",
        "workspacesubscriptionid",
        "workspaceresourcegroup",
        "agentid",
    ];
    const CANONICAL: [&str; 5] = [
        "azureResourceId",
        "workspaceId",
        "workspaceSubscriptionId",
        "workspaceResourceGroup",
        "agentId",
    ];
    let mut map = map;
    let mut ordered: Vec<(String, Value)> = Vec::with_capacity(map.len());
    for exact in CANONICAL.iter().chain(&["type"]) {
        if let Some(v) = map.shift_remove(*exact) {
            ordered.push(((*exact).to_owned(), v));
        }
    }
    ordered.extend(map);
    let mut type_seen = false;
    for (key, value) in ordered {
        let lower = key.to_ascii_lowercase();
        if lower == "type" && !type_seen {
            type_seen = true;
            continue;
        }
        match KEYS.iter().position(|k| *k == lower) {
            Some(i) if fields[i].is_none() => match value {
                Value::String(s) => fields[i] = Some(s),
                Value::Null => {}
                other => {
                    return Err(Error::document(
                        join(at, &key),
                        format!("expected a string, found {}", kind_of(&other)),
                    ));
                }
            },
            _ => {
                extra.insert(key, value);
            }
        }
    }
    let [azure, workspace, ws_sub, ws_rg, agent] = fields;
    if is_known("AzureResource") {
        let Some(azure_resource_id) = azure else {
            return Err(Error::document(
                at,
                "AzureResource identifier has no \"azureResourceId\"",
            ));
        };
        for (k, v) in [
            ("workspaceId", workspace),
            ("workspaceSubscriptionId", ws_sub),
            ("workspaceResourceGroup", ws_rg),
            ("agentId", agent),
        ] {
            if let Some(v) = v {
                extra.insert(k.into(), Value::String(v));
            }
        }
        Ok(ResourceIdentifier::AzureResource {
            azure_resource_id,
            extra,
        })
    } else {
        let Some(workspace_id) = workspace else {
            return Err(Error::document(
                at,
                "LogAnalytics identifier has no \"workspaceId\"",
            ));
        };
        if let Some(v) = azure {
            extra.insert("azureResourceId".into(), Value::String(v));
        }
        Ok(ResourceIdentifier::LogAnalytics {
            workspace_id,
            workspace_subscription_id: ws_sub,
            workspace_resource_group: ws_rg,
            agent_id: agent,
            extra,
        })
    }
}
