//! Field paths: parsing `entities.ip.address` and friends, and reading their values from an
//! alert.

use std::borrow::Cow;

use serde_json::Value;

use crate::entity::lookup;
use crate::time::format_time;
use crate::{Alert, Entity, EntityKind, JsonMap};

/// A top-level alert property a path can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Top {
    AlertType,
    SystemAlertId,
    DisplayName,
    Description,
    Severity,
    Status,
    Intent,
    CompromisedEntity,
    ProductName,
    ProductComponentName,
    VendorName,
    CorrelationKey,
    AlertUri,
    Version,
    IsIncident,
    Techniques,
    SubTechniques,
    RemediationSteps,
    StartTime,
    EndTime,
    TimeGenerated,
    ProcessingEndTime,
    Name,
    Id,
}

const TOP: &[(&str, Top)] = &[
    ("alerttype", Top::AlertType),
    ("systemalertid", Top::SystemAlertId),
    ("alertdisplayname", Top::DisplayName),
    ("description", Top::Description),
    ("severity", Top::Severity),
    ("status", Top::Status),
    ("intent", Top::Intent),
    ("compromisedentity", Top::CompromisedEntity),
    ("productname", Top::ProductName),
    ("productcomponentname", Top::ProductComponentName),
    ("vendorname", Top::VendorName),
    ("correlationkey", Top::CorrelationKey),
    ("alerturi", Top::AlertUri),
    ("version", Top::Version),
    ("isincident", Top::IsIncident),
    ("techniques", Top::Techniques),
    ("subtechniques", Top::SubTechniques),
    ("remediationsteps", Top::RemediationSteps),
    ("starttimeutc", Top::StartTime),
    ("endtimeutc", Top::EndTime),
    ("timegeneratedutc", Top::TimeGenerated),
    ("timegenerated", Top::TimeGenerated),
    ("processingendtimeutc", Top::ProcessingEndTime),
    ("processingendtime", Top::ProcessingEndTime),
    ("name", Top::Name),
    ("id", Top::Id),
];

/// A parsed field path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum FieldPath {
    /// `entities.<type>.<property>[.<nested>…]`
    Entity {
        kind: EntityKind,
        props: Vec<String>,
    },
    /// `extendedProperties.<key>`
    Extended(String),
    /// `resourceIdentifiers.<property>`
    ResourceIdentifier(String),
    /// `additionalProperties.<key>`
    Additional(String),
    /// A top-level property.
    Top(Top),
}

/// The known entity type a misspelt one most likely means: within two edits (ignoring case,
/// `-` and `_`), or sharing its squashed spelling.
fn near_entity_type(name: &str) -> Option<&'static str> {
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let key = squash(name);
    EntityKind::known()
        .map(|k| {
            let n = k.type_name();
            (super::cond::edit_distance(&key, &squash(n)), n)
        })
        .filter(|(d, _)| *d <= 2 && key.chars().count() > 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Whether the alert has an entity of the path's type at all (only entity paths can lack one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Presence {
    Present,
    NoEntityOfType,
}

impl FieldPath {
    /// Parses a path; the error says what paths look like.
    pub(crate) fn parse(path: &str) -> Result<FieldPath, String> {
        let trimmed = path.trim();
        if trimmed != path {
            return Err(format!(
                "field path {path:?} has leading or trailing spaces and would never match \
                 (did you mean {trimmed:?}?)"
            ));
        }
        let body = trimmed
            .strip_prefix("properties.")
            .or_else(|| {
                trimmed
                    .get(..11)
                    .filter(|p| p.eq_ignore_ascii_case("properties."))
                    .map(|_| &trimmed[11..])
            })
            .unwrap_or(trimmed);
        let (head, rest) = match body.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (body, None),
        };
        let head_l = head.to_ascii_lowercase();
        let need_rest = |what: &str| -> Result<&str, String> {
            rest.filter(|r| !r.trim().is_empty())
                .ok_or_else(|| format!("field path {path:?} is incomplete: write {what}"))
        };
        match head_l.as_str() {
            "entities" => {
                let r = need_rest("entities.<type>.<property>, e.g. entities.ip.address")?;
                let mut segs = r.split('.');
                let kind_name = segs.next().unwrap_or_default();
                let props: Vec<String> = segs.map(str::to_owned).collect();
                if kind_name.trim().is_empty()
                    || props.is_empty()
                    || props.iter().any(|p| p.is_empty())
                {
                    return Err(format!(
                        "field path {path:?} is incomplete: write entities.<type>.<property>, e.g. entities.ip.address"
                    ));
                }
                if let Some(seg) = std::iter::once(kind_name)
                    .chain(props.iter().map(String::as_str))
                    .find(|s| s.trim() != *s)
                {
                    let fixed: Vec<&str> = std::iter::once("entities")
                        .chain(std::iter::once(kind_name.trim()))
                        .chain(props.iter().map(|p| p.trim()))
                        .collect();
                    return Err(format!(
                        "field path {path:?}: segment {seg:?} has spaces around it and would \
                         never match (did you mean {:?}?)",
                        fixed.join(".")
                    ));
                }
                if kind_name.contains('*') || props.iter().any(|p| p.contains('*')) {
                    return Err(format!(
                        "field path {path:?}: field paths take no wildcards; name one entity \
                         type and property, e.g. entities.ip.address (use one condition per \
                         type inside anyOf to cover several)"
                    ));
                }
                let kind = EntityKind::from_type_name(kind_name);
                if let EntityKind::Other(_) = kind
                    && let Some(near) = near_entity_type(kind_name)
                {
                    return Err(format!(
                        "field path {path:?}: unknown entity type {kind_name:?} (did you mean \
                         \"entities.{near}.{}\"?)",
                        props.join(".")
                    ));
                }
                Ok(FieldPath::Entity { kind, props })
            }
            "extendedproperties" => Ok(FieldPath::Extended(
                need_rest("extendedProperties.<key>")?.to_owned(),
            )),
            "resourceidentifiers" => Ok(FieldPath::ResourceIdentifier(
                need_rest(
                    "resourceIdentifiers.<property>, e.g. resourceIdentifiers.azureResourceId",
                )?
                .to_owned(),
            )),
            "additionalproperties" => Ok(FieldPath::Additional(
                need_rest("additionalProperties.<key>")?.to_owned(),
            )),
            _ => {
                let found = TOP.iter().find(|(n, _)| *n == head_l).map(|(_, t)| *t);
                match (found, rest) {
                    (Some(t), None) => Ok(FieldPath::Top(t)),
                    _ => Err(format!(
                        "unknown field path {path:?} (expected entities.<type>.<property>, \
                         extendedProperties.<key>, resourceIdentifiers.<property>, \
                         additionalProperties.<key> or an alert property such as alertDisplayName)"
                    )),
                }
            }
        }
    }

    /// For an entity path naming a type Defender does not document (a custom type, spelled
    /// far from every known one), the type's name: the condition only sees entities of that
    /// exact type, which deserves a lint.
    pub(crate) fn custom_entity_type(&self) -> Option<&str> {
        match self {
            FieldPath::Entity {
                kind: EntityKind::Other(name),
                ..
            } => Some(name),
            _ => None,
        }
    }

    /// `true` for entity paths, the only ones [`Presence::NoEntityOfType`] applies to.
    pub(crate) fn is_entity(&self) -> bool {
        matches!(self, FieldPath::Entity { .. })
    }

    /// Appends every value at this path in `alert` to `out`, as text.
    pub(crate) fn resolve<'a>(&self, alert: &'a Alert, out: &mut Vec<Cow<'a, str>>) -> Presence {
        match self {
            FieldPath::Entity { kind, props } => {
                let mut any = false;
                for e in alert.entities.iter().filter(|e| e.kind() == kind) {
                    any = true;
                    descend_map(alert, e.properties(), props, 0, out);
                }
                if any {
                    Presence::Present
                } else {
                    Presence::NoEntityOfType
                }
            }
            FieldPath::Extended(key) => {
                lookup_path(alert, &alert.extended_properties, key, out);
                Presence::Present
            }
            FieldPath::Additional(key) => {
                lookup_path(alert, &alert.extra, key, out);
                Presence::Present
            }
            FieldPath::ResourceIdentifier(prop) => {
                for r in &alert.resource_identifiers {
                    if let Some(v) = r.get_str(prop) {
                        out.push(Cow::Borrowed(v));
                    }
                }
                Presence::Present
            }
            FieldPath::Top(t) => {
                top_values(alert, *t, out);
                Presence::Present
            }
        }
    }
}

fn top_values<'a>(a: &'a Alert, t: Top, out: &mut Vec<Cow<'a, str>>) {
    let mut s = |v: Option<&'a str>| {
        if let Some(v) = v {
            out.push(Cow::Borrowed(v));
        }
    };
    match t {
        Top::AlertType => s(Some(&a.alert_type)),
        Top::SystemAlertId => s(Some(a.system_alert_id.as_str())),
        Top::DisplayName => s(Some(&a.display_name)),
        Top::Description => s(a.description.as_deref()),
        Top::Severity => s(Some(a.severity.as_str())),
        Top::Status => s(Some(a.status.as_str())),
        Top::CompromisedEntity => s(a.compromised_entity.as_deref()),
        Top::ProductName => s(a.product_name.as_deref()),
        Top::ProductComponentName => s(a.product_component_name.as_deref()),
        Top::VendorName => s(a.vendor_name.as_deref()),
        Top::CorrelationKey => s(a.correlation_key.as_deref()),
        Top::AlertUri => s(a.alert_uri.as_deref()),
        Top::Version => s(a.version.as_deref()),
        Top::Name => s(a.name()),
        Top::Id => s(a.resource_id.as_deref()),
        Top::IsIncident => s(Some(if a.is_incident { "true" } else { "false" })),
        Top::Intent => a.intents.iter().for_each(|i| s(Some(i.as_str()))),
        Top::RemediationSteps => a.remediation_steps.iter().for_each(|r| s(Some(r))),
        Top::Techniques => out.extend(a.techniques.iter().map(|t| Cow::Owned(t.to_string()))),
        Top::SubTechniques => {
            out.extend(a.sub_techniques.iter().map(|t| Cow::Owned(t.to_string())))
        }
        Top::StartTime => out.extend(a.start_time.iter().map(|t| Cow::Owned(format_time(t)))),
        Top::EndTime => out.extend(a.end_time.iter().map(|t| Cow::Owned(format_time(t)))),
        Top::TimeGenerated => out.push(Cow::Owned(format_time(&a.time_generated))),
        Top::ProcessingEndTime => out.extend(
            a.processing_end_time
                .iter()
                .map(|t| Cow::Owned(format_time(t))),
        ),
    }
}

/// A key of an open map: the whole remainder first (keys may contain dots), then dotted descent.
fn lookup_path<'a>(alert: &'a Alert, map: &'a JsonMap, key: &str, out: &mut Vec<Cow<'a, str>>) {
    if let Some(v) = lookup(map, key) {
        leaf(v, out, 0);
        return;
    }
    if key.contains('.') {
        let segs: Vec<String> = key.split('.').map(str::to_owned).collect();
        descend_map(alert, map, &segs, 0, out);
    }
}

const MAX_DEPTH: usize = 16;

fn descend_map<'a>(
    alert: &'a Alert,
    map: &'a JsonMap,
    segs: &[String],
    depth: usize,
    out: &mut Vec<Cow<'a, str>>,
) {
    let Some((first, rest)) = segs.split_first() else {
        return;
    };
    if let Some(v) = lookup(map, first) {
        if rest.is_empty() {
            leaf(v, out, depth);
        } else {
            descend(alert, v, rest, depth + 1, out);
        }
    }
}

fn descend<'a>(
    alert: &'a Alert,
    v: &'a Value,
    segs: &[String],
    depth: usize,
    out: &mut Vec<Cow<'a, str>>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::Object(m) => match follow_ref(alert, m) {
            Some(e) => descend_map(alert, e.properties(), segs, depth + 1, out),
            None => descend_map(alert, m, segs, depth, out),
        },
        Value::Array(items) => items
            .iter()
            .for_each(|i| descend(alert, i, segs, depth + 1, out)),
        _ => {}
    }
}

fn follow_ref<'a>(alert: &'a Alert, m: &JsonMap) -> Option<&'a Entity> {
    if m.len() != 1 {
        return None;
    }
    let id = m.get("$ref").and_then(Value::as_str)?;
    alert.entity_by_id(id)
}

fn leaf<'a>(v: &'a Value, out: &mut Vec<Cow<'a, str>>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::Null | Value::Object(_) => {}
        Value::String(s) => out.push(Cow::Borrowed(s)),
        Value::Bool(b) => out.push(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Number(n) => out.push(Cow::Owned(n.to_string())),
        Value::Array(items) => items.iter().for_each(|i| leaf(i, out, depth + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_fields() {
        for p in [
            "entities.account.name",
            "entities.account.aaduserid",
            "entities.account.upnsuffix",
            "entities.azureresource.resourceid",
            "entities.file.name",
            "entities.file.directory",
            "entities.filehash.value",
            "entities.host.hostname",
            "entities.host.azureid",
            "entities.host.dnsdomain",
            "entities.host.omsagentid",
            "entities.ip.address",
            "entities.malware.name",
            "entities.malware.category",
            "entities.process.commandline",
        ] {
            let parsed = FieldPath::parse(p);
            assert!(
                matches!(parsed, Ok(FieldPath::Entity { .. })),
                "{p}: {parsed:?}"
            );
        }
        assert_eq!(
            FieldPath::parse("entities.azureresource.resourceid").ok(),
            Some(FieldPath::Entity {
                kind: EntityKind::AzureResource,
                props: vec!["resourceid".into()]
            })
        );
        assert_eq!(
            FieldPath::parse("AlertDisplayName").ok(),
            Some(FieldPath::Top(Top::DisplayName))
        );
        assert_eq!(
            FieldPath::parse("properties.severity").ok(),
            Some(FieldPath::Top(Top::Severity))
        );
        for bad in [
            "entities.ip",
            "entities",
            "bogus",
            "alertType.x",
            "extendedProperties",
            "",
        ] {
            assert!(FieldPath::parse(bad).is_err(), "{bad}");
        }
    }
}
