//! Alert JSON in and out: reading every form [`super::parse_alerts`] accepts, and writing the
//! 2022-01-01 ARM resource (`Serialize` for [`Alert`]).

use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::join;
use crate::attack::TechniqueId;
use crate::entity::{kind_of, lookup};
use crate::intent::{format_intents, parse_intents};
use crate::time::{format_time, parse_time};
use crate::{
    Alert, AlertId, Entity, Error, ExtendedLink, JsonMap, KillChainIntent, ResourceIdentifier,
    Severity, Status, SupportingEvidence,
};

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
                Value::Object(m) => extended_links.push(ExtendedLink::from_json(m)),
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
    let supporting_evidence = c
        .object(F::SupportingEvidence)?
        .map(SupportingEvidence::from_json);

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
    let type_name = match lookup(&map, "type") {
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

/// A resource identifier in the 2022-01-01 form: known keys in camelCase, then the kept ones,
/// `type` last.
fn resource_identifier_json(r: &ResourceIdentifier) -> JsonMap {
    let mut m = JsonMap::new();
    let s = |v: &str| Value::String(v.to_owned());
    match r {
        ResourceIdentifier::AzureResource {
            azure_resource_id,
            extra,
        } => {
            m.insert("azureResourceId".into(), s(azure_resource_id));
            m.extend(extra.clone());
            m.insert("type".into(), s("AzureResource"));
        }
        ResourceIdentifier::LogAnalytics {
            workspace_id,
            workspace_subscription_id,
            workspace_resource_group,
            agent_id,
            extra,
        } => {
            m.insert("workspaceId".into(), s(workspace_id));
            for (k, v) in [
                ("workspaceSubscriptionId", workspace_subscription_id),
                ("workspaceResourceGroup", workspace_resource_group),
                ("agentId", agent_id),
            ] {
                if let Some(v) = v {
                    m.insert(k.into(), s(v));
                }
            }
            m.extend(extra.clone());
            m.insert("type".into(), s("LogAnalytics"));
        }
        ResourceIdentifier::Other { properties, .. } => m = properties.clone(),
    }
    m
}

struct Properties<'a>(&'a Alert);

impl Serialize for Properties<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut m = s.serialize_map(None)?;
        if let Some(v) = &a.version {
            m.serialize_entry("version", v)?;
        }
        m.serialize_entry("alertType", &a.alert_type)?;
        m.serialize_entry("systemAlertId", &a.system_alert_id)?;
        if let Some(v) = &a.product_component_name {
            m.serialize_entry("productComponentName", v)?;
        }
        m.serialize_entry("alertDisplayName", &a.display_name)?;
        if let Some(v) = &a.description {
            m.serialize_entry("description", v)?;
        }
        m.serialize_entry("severity", &a.severity)?;
        if !a.intents.is_empty() {
            m.serialize_entry("intent", &format_intents(&a.intents))?;
        }
        if let Some(t) = &a.start_time {
            m.serialize_entry("startTimeUtc", &format_time(t))?;
        }
        if let Some(t) = &a.end_time {
            m.serialize_entry("endTimeUtc", &format_time(t))?;
        }
        let ids: Vec<JsonMap> = a
            .resource_identifiers
            .iter()
            .map(resource_identifier_json)
            .collect();
        m.serialize_entry("resourceIdentifiers", &ids)?;
        m.serialize_entry("remediationSteps", &a.remediation_steps)?;
        if let Some(v) = &a.vendor_name {
            m.serialize_entry("vendorName", v)?;
        }
        m.serialize_entry("status", &a.status)?;
        let links: Vec<&JsonMap> = a.extended_links.iter().map(ExtendedLink::as_json).collect();
        m.serialize_entry("extendedLinks", &links)?;
        if let Some(v) = &a.alert_uri {
            m.serialize_entry("alertUri", v)?;
        }
        m.serialize_entry("timeGeneratedUtc", &format_time(&a.time_generated))?;
        if let Some(v) = &a.product_name {
            m.serialize_entry("productName", v)?;
        }
        if let Some(t) = &a.processing_end_time {
            m.serialize_entry("processingEndTimeUtc", &format_time(t))?;
        }
        m.serialize_entry("entities", &a.entities)?;
        m.serialize_entry("isIncident", &a.is_incident)?;
        if let Some(v) = &a.correlation_key {
            m.serialize_entry("correlationKey", v)?;
        }
        m.serialize_entry("extendedProperties", &a.extended_properties)?;
        if let Some(v) = &a.compromised_entity {
            m.serialize_entry("compromisedEntity", v)?;
        }
        if !a.techniques.is_empty() {
            m.serialize_entry("techniques", &a.techniques)?;
        }
        if !a.sub_techniques.is_empty() {
            m.serialize_entry("subTechniques", &a.sub_techniques)?;
        }
        if let Some(v) = &a.supporting_evidence {
            m.serialize_entry("supportingEvidence", v.as_json())?;
        }
        for (k, v) in &a.extra {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Serialize for Alert {
    /// Writes the 2022-01-01 ARM resource form. Collections are always written (possibly
    /// empty); absent optional values are omitted; unknown properties follow the known ones.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(v) = &self.resource_id {
            m.serialize_entry("id", v)?;
        }
        if let Some(v) = &self.name {
            m.serialize_entry("name", v)?;
        }
        if let Some(v) = &self.resource_type {
            m.serialize_entry("type", v)?;
        }
        m.serialize_entry("properties", &Properties(self))?;
        for (k, v) in &self.envelope_extra {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Alert {
    /// Reads any form [`crate::defender::parse_alerts`] accepts for a single alert.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        alert_from_value(v, "").map_err(serde::de::Error::custom)
    }
}
