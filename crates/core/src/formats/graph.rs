//! Microsoft Graph security alert v2 (`microsoft.graph.security.alert`, the `alerts_v2`
//! resource of Defender XDR), import and export.
//!
//! Importing lets alerts read from `GET /security/alerts_v2` land in the same queue as
//! Defender for Cloud's: `providerAlertId` (or, without it, `id`) becomes the
//! `systemAlertId`, `detectorId` the alert type, `title`, `description`, `severity`, `status`
//! with `classification` ([`super::mapping::status_from_graph`]), `category` the intent,
//! `mitreTechniques` the techniques, `recommendedActions` the remediation steps (one per line),
//! `createdDateTime` / `firstActivityDateTime` / `lastActivityDateTime` the times,
//! `alertWebUrl` the portal link, `incidentId` the correlation key, and each `evidence` item
//! of a known kind an entity (device → host, user → account, ip, process, file, URL,
//! mailbox, Azure resource, registry key and value, security group, cloud application).
//! Exporting writes the same fields back, and what Graph has no property for in
//! `additionalData.vigil` (see [`super`]).
//!
//! ```
//! use vigil_core::formats::graph;
//! use vigil_core::{EntityKind, Severity, Status};
//!
//! let alerts = graph::parse(r##"{"value": [{
//!   "@odata.type": "#microsoft.graph.security.alert",
//!   "id": "da637551227677560813_-961444813", "providerAlertId": "da637551227677560813_-961444813",
//!   "detectorId": "7bcfd6ff-e1e4-4f4c-8fa7-3c3c3b4a7a7a", "title": "Suspicious execution",
//!   "severity": "medium", "status": "resolved", "classification": "falsePositive",
//!   "category": "DefenseEvasion", "mitreTechniques": ["T1027"],
//!   "createdDateTime": "2021-04-27T12:19:27.7211305Z",
//!   "evidence": [{"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": "192.0.2.9"}]
//! }]}"##)?;
//! assert_eq!(alerts[0].severity(), Severity::Medium);
//! assert_eq!(alerts[0].status(), Status::Dismissed);
//! assert_eq!(alerts[0].entities()[0].kind(), &EntityKind::Ip);
//! assert_eq!(alerts[0].additional_properties()["vigilSource"]["format"], "graph");
//! # Ok::<(), vigil_core::Error>(())
//! ```

use serde_json::{Value, json};

use super::{Format, Obj, apply_residual, convert_all, join, mapping, objects, residual};
use crate::entity::kind_of;
use crate::{Alert, AlertId, Entity, EntityKind, Error, JsonMap, Severity, Status};

/// The `@odata.type` of an alert.
pub const ODATA_TYPE: &str = "#microsoft.graph.security.alert";
/// The key under `additionalData` that holds what Graph has no property for.
pub const ADDITIONAL_KEY: &str = "vigil";

const EVIDENCE: &str = "#microsoft.graph.security.";

/// One alert as a Graph security alert.
pub fn to_value(alert: &Alert) -> Result<Value, Error> {
    let mut doc = typed(alert);
    let back = read_typed(&doc, "")?;
    let r = residual(alert, &back)?;
    doc.insert("additionalData".into(), json!({ ADDITIONAL_KEY: r }));
    Ok(Value::Object(doc))
}

/// Alerts as a Graph list response, `{"value": […]}`, which [`parse`] reads back.
pub fn to_json(alerts: &[Alert]) -> Result<String, Error> {
    let items = alerts
        .iter()
        .enumerate()
        .map(|(i, a)| to_value(a).map_err(|e| super::ocsf::export_error(i, a, e)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(serde_json::to_string_pretty(&json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2",
        "value": items
    }))?)
}

/// Reads Graph alerts: a list response `{"value": […]}` (a `@odata.nextLink` is not followed),
/// a JSON array, one alert, or JSON lines. All or nothing; errors name the record and the value
/// (`value[4].createdDateTime`).
pub fn parse(text: &str) -> Result<Vec<Alert>, Error> {
    convert_all(text, &["value"], read)
}

/// Reads one Graph alert.
pub fn from_value(value: Value) -> Result<Alert, Error> {
    read(value, "")
}

fn read(value: Value, path: &str) -> Result<Alert, Error> {
    let Value::Object(m) = &value else {
        return Err(Error::document(
            super::path_or_root(path),
            format!("expected a Graph alert object, found {}", kind_of(&value)),
        ));
    };
    let typed = read_typed(m, path)?;
    let o = Obj { map: m, path };
    let vigil = o
        .obj_ref("additionalData")?
        .and_then(|a| a.get(ADDITIONAL_KEY))
        .filter(|v| !v.is_null());
    match vigil {
        Some(Value::Object(r)) => apply_residual(&typed, r, &join(path, "additionalData.vigil")),
        Some(other) => Err(Error::document(
            join(path, "additionalData.vigil"),
            format!("expected an object, found {}", kind_of(other)),
        )),
        None => {
            let id = o
                .text("id")?
                .unwrap_or_else(|| typed.system_alert_id().as_str().to_owned());
            Ok(super::with_source(typed, Format::Graph, &id, value))
        }
    }
}

fn put(m: &mut JsonMap, key: &str, v: Option<impl Into<Value>>) {
    if let Some(v) = v {
        m.insert(key.into(), v.into());
    }
}

fn is_defender_for_cloud(product: Option<&str>) -> bool {
    product.is_some_and(|p| {
        let p = p.to_ascii_lowercase();
        p.contains("defender for cloud") || p.contains("security center")
    })
}

fn typed(a: &Alert) -> JsonMap {
    let mut d = JsonMap::new();
    d.insert("@odata.type".into(), ODATA_TYPE.into());
    let id = a.system_alert_id().as_str();
    d.insert("id".into(), id.into());
    d.insert("providerAlertId".into(), id.into());
    d.insert("detectorId".into(), a.alert_type().into());
    d.insert("title".into(), a.display_name().into());
    put(&mut d, "description", a.description());
    d.insert(
        "severity".into(),
        mapping::severity_to_graph(a.severity()).into(),
    );
    let (status, classification) = mapping::status_to_graph(a.status());
    d.insert("status".into(), status.into());
    put(&mut d, "classification", classification);
    if let Some(i) = a.intents().first() {
        d.insert(
            "category".into(),
            mapping::intent_to_graph_category(i).into(),
        );
    }
    let techniques: Vec<String> = a
        .techniques()
        .iter()
        .chain(a.sub_techniques())
        .map(|t| t.to_string())
        .collect();
    d.insert("mitreTechniques".into(), json!(techniques));
    if !a.remediation_steps().is_empty() {
        d.insert(
            "recommendedActions".into(),
            a.remediation_steps().join("\n").into(),
        );
    }
    let t = |t: chrono::DateTime<chrono::Utc>| crate::time::format_time(&t);
    d.insert("createdDateTime".into(), t(a.time_generated()).into());
    put(&mut d, "firstActivityDateTime", a.start_time().map(t));
    put(&mut d, "lastActivityDateTime", a.end_time().map(t));
    put(&mut d, "alertWebUrl", a.alert_uri());
    put(&mut d, "productName", a.product_name());
    if is_defender_for_cloud(a.product_name()) {
        d.insert("serviceSource".into(), "microsoftDefenderForCloud".into());
        d.insert("detectionSource".into(), "microsoftDefenderForCloud".into());
    }
    let evidence: Vec<Value> = a
        .entities()
        .iter()
        .filter_map(|e| evidence_of(e, a))
        .map(Value::Object)
        .collect();
    d.insert("evidence".into(), Value::Array(evidence));
    d
}

/// The Graph evidence for an entity, for the kinds Graph has.
fn evidence_of(e: &Entity, a: &Alert) -> Option<JsonMap> {
    let s = |k: &str| e.get_str(k);
    let mut m = JsonMap::new();
    let kind = match e.kind() {
        EntityKind::Host => {
            put(&mut m, "deviceDnsName", s("hostName"));
            put(&mut m, "osPlatform", s("osFamily"));
            "deviceEvidence"
        }
        EntityKind::Account => {
            let mut u = JsonMap::new();
            put(&mut u, "accountName", s("name"));
            put(&mut u, "domainName", s("ntDomain"));
            put(&mut u, "userSid", s("sid"));
            put(&mut u, "azureAdUserId", s("aadUserId"));
            put(&mut u, "displayName", s("displayName"));
            m.insert("userAccount".into(), Value::Object(u));
            "userEvidence"
        }
        EntityKind::Ip => {
            put(&mut m, "ipAddress", s("address"));
            put(
                &mut m,
                "countryLetterCode",
                e.get("location")
                    .and_then(|l| l.get("countryCode"))
                    .and_then(Value::as_str),
            );
            "ipEvidence"
        }
        EntityKind::Process => {
            if let Some(pid) = s("processId").and_then(super::pid_of) {
                m.insert("processId".into(), pid.into());
            }
            put(&mut m, "processCommandLine", s("commandLine"));
            "processEvidence"
        }
        EntityKind::File => {
            let mut f = JsonMap::new();
            put(&mut f, "fileName", s("name"));
            put(&mut f, "filePath", s("directory"));
            m.insert("fileDetails".into(), Value::Object(f));
            "fileEvidence"
        }
        EntityKind::AzureResource => {
            put(&mut m, "resourceId", s("resourceId"));
            put(&mut m, "resourceName", s("resourceName"));
            put(&mut m, "resourceType", s("resourceType"));
            "azureResourceEvidence"
        }
        EntityKind::Url => {
            put(&mut m, "url", s("url"));
            "urlEvidence"
        }
        EntityKind::Mailbox => {
            put(&mut m, "primaryAddress", s("mailboxPrimaryAddress"));
            put(&mut m, "displayName", s("displayName"));
            put(&mut m, "upn", s("upn"));
            "mailboxEvidence"
        }
        EntityKind::RegistryKey => {
            put(&mut m, "registryHive", s("hive"));
            put(&mut m, "registryKey", s("key"));
            "registryKeyEvidence"
        }
        EntityKind::RegistryValue => {
            put(&mut m, "registryKey", s("key"));
            put(&mut m, "registryValueName", s("name"));
            put(&mut m, "registryValue", s("value"));
            "registryValueEvidence"
        }
        EntityKind::SecurityGroup => {
            put(&mut m, "securityGroupId", s("sid").or(s("objectGuid")));
            put(&mut m, "displayName", s("distinguishedName"));
            "securityGroupEvidence"
        }
        EntityKind::CloudApplication => {
            put(&mut m, "displayName", s("name"));
            put(&mut m, "instanceName", s("instanceName"));
            "cloudApplicationEvidence"
        }
        _ => return None,
    };
    let mut out = JsonMap::new();
    out.insert("@odata.type".into(), format!("{EVIDENCE}{kind}").into());
    out.insert(
        "createdDateTime".into(),
        crate::time::format_time(&a.time_generated()).into(),
    );
    out.insert("verdict".into(), "unknown".into());
    out.insert("remediationStatus".into(), "none".into());
    out.insert("roles".into(), json!([]));
    out.insert("tags".into(), json!([]));
    out.extend(m);
    Some(out)
}

fn read_typed(m: &JsonMap, path: &str) -> Result<Alert, Error> {
    let o = Obj { map: m, path };
    let id = match o.text("providerAlertId")?.filter(|s| !s.trim().is_empty()) {
        Some(p) => p,
        None => o.text("id")?.ok_or_else(|| {
            Error::document(
                o.at("id"),
                "missing: a Graph alert needs an id or a providerAlertId",
            )
        })?,
    };
    let id = AlertId::new(id)
        .map_err(|_| Error::document(o.at("id"), "the alert id must not be blank"))?;
    let title = o.str("title")?;
    let alert_type = o
        .text("detectorId")?
        .filter(|s| !s.is_empty())
        .or(o.text("alertPolicyId")?)
        .or_else(|| title.map(str::to_owned))
        .unwrap_or_else(|| "Graph alert".to_owned());
    let display = title
        .map(str::to_owned)
        .unwrap_or_else(|| alert_type.clone());
    let severity = match o.str("severity")? {
        Some(s) => mapping::severity_from_graph(s).unwrap_or(Severity::Informational),
        None => Severity::Informational,
    };
    let created = o.time("createdDateTime")?.ok_or_else(|| {
        Error::document(
            o.at("createdDateTime"),
            "missing: the time the alert was created",
        )
    })?;
    let status = match o.str("status")? {
        Some(s) => {
            mapping::status_from_graph(s, o.str("classification")?).unwrap_or(Status::Active)
        }
        None => Status::Active,
    };
    let mut b = Alert::builder(id, alert_type, display, severity, created).status(status);
    if let Some(d) = o.str("description")? {
        b = b.description(d);
    }
    if let Some(i) = o
        .str("category")?
        .and_then(mapping::intent_from_graph_category)
    {
        b = b.intent(i);
    }
    for t in o.strs("mitreTechniques")? {
        if let Ok(id) = t.trim().parse() {
            b = b.technique(id);
        }
    }
    if let Some(r) = o.str("recommendedActions")? {
        for line in r.split('\n') {
            b = b.remediation_step(line.strip_suffix('\r').unwrap_or(line));
        }
    }
    if let Some(t) = o.time("firstActivityDateTime")? {
        b = b.start_time(t);
    }
    if let Some(t) = o.time("lastActivityDateTime")? {
        b = b.end_time(t);
    }
    if let Some(u) = o.str("alertWebUrl")? {
        b = b.alert_uri(u);
    }
    if let Some(p) = o.str("productName")? {
        b = b.product_name(p);
    }
    if let Some(i) = o.text("incidentId")? {
        b = b.correlation_key(i);
    }
    for (ep, em) in objects(o.arr("evidence")?, &o.at("evidence"))? {
        let ev = Obj { map: em, path: &ep };
        if let Some(e) = entity_of(&ev)? {
            b = b.entity(e);
        }
        for h in hashes_of(&ev)? {
            b = b.entity(h);
        }
    }
    Ok(b.build())
}

/// The hashes of a file evidence, as `filehash` entities (Defender lists them beside the file).
fn hashes_of(ev: &Obj<'_>) -> Result<Vec<Entity>, Error> {
    if !ev
        .str("@odata.type")?
        .is_some_and(|t| t.ends_with(".fileEvidence"))
    {
        return Ok(Vec::new());
    }
    let Some(f) = ev.obj_ref("fileDetails")? else {
        return Ok(Vec::new());
    };
    let p = ev.at("fileDetails");
    let f = Obj { map: f, path: &p };
    let mut out = Vec::new();
    for (key, algorithm) in [("md5", "MD5"), ("sha1", "SHA1"), ("sha256", "SHA256")] {
        if let Some(v) = f.str(key)? {
            out.push(Entity::file_hash(algorithm, v));
        }
    }
    Ok(out)
}

fn entity_of(ev: &Obj<'_>) -> Result<Option<Entity>, Error> {
    let Some(kind) = ev.str("@odata.type")? else {
        return Ok(None);
    };
    let kind = kind.rsplit('.').next().unwrap_or(kind);
    let mut pairs: Vec<(&str, Value)> = Vec::new();
    let mut add = |k: &'static str, v: Option<&str>| {
        if let Some(v) = v {
            pairs.push((k, Value::from(v)));
        }
    };
    let ek = match kind {
        "deviceEvidence" => {
            add("hostName", ev.str("deviceDnsName")?);
            add("osFamily", ev.str("osPlatform")?);
            EntityKind::Host
        }
        "userEvidence" => {
            if let Some(u) = ev.obj_ref("userAccount")? {
                let p = ev.at("userAccount");
                let u = Obj { map: u, path: &p };
                add("name", u.str("accountName")?);
                add("ntDomain", u.str("domainName")?);
                add("sid", u.str("userSid")?);
                add("aadUserId", u.str("azureAdUserId")?);
                add("displayName", u.str("displayName")?);
                add(
                    "upnSuffix",
                    u.str("userPrincipalName")?
                        .and_then(|x| x.split_once('@'))
                        .map(|(_, d)| d),
                );
            }
            EntityKind::Account
        }
        "ipEvidence" => {
            add("address", ev.str("ipAddress")?);
            EntityKind::Ip
        }
        "processEvidence" => {
            let pid = ev.int("processId")?.map(|n| n.to_string());
            add("processId", pid.as_deref());
            add("commandLine", ev.str("processCommandLine")?);
            EntityKind::Process
        }
        "fileEvidence" => {
            if let Some(f) = ev.obj_ref("fileDetails")? {
                let p = ev.at("fileDetails");
                let f = Obj { map: f, path: &p };
                add("name", f.str("fileName")?);
                add("directory", f.str("filePath")?);
            }
            EntityKind::File
        }
        "azureResourceEvidence" => {
            add("resourceId", ev.str("resourceId")?);
            add("resourceName", ev.str("resourceName")?);
            add("resourceType", ev.str("resourceType")?);
            EntityKind::AzureResource
        }
        "urlEvidence" => {
            add("url", ev.str("url")?);
            EntityKind::Url
        }
        "mailboxEvidence" => {
            add("mailboxPrimaryAddress", ev.str("primaryAddress")?);
            add("displayName", ev.str("displayName")?);
            add("upn", ev.str("upn")?);
            EntityKind::Mailbox
        }
        "registryKeyEvidence" => {
            add("hive", ev.str("registryHive")?);
            add("key", ev.str("registryKey")?);
            EntityKind::RegistryKey
        }
        "registryValueEvidence" => {
            add("key", ev.str("registryKey")?);
            add("name", ev.str("registryValueName")?);
            add("value", ev.str("registryValue")?);
            EntityKind::RegistryValue
        }
        "securityGroupEvidence" => {
            add("sid", ev.str("securityGroupId")?);
            add("distinguishedName", ev.str("displayName")?);
            EntityKind::SecurityGroup
        }
        "cloudApplicationEvidence" => {
            add("name", ev.str("displayName")?);
            add("instanceName", ev.str("instanceName")?);
            EntityKind::CloudApplication
        }
        _ => return Ok(None),
    };
    let e = pairs
        .into_iter()
        .fold(Entity::new(ek), |e, (k, v)| e.with(k, v));
    Ok(Some(e))
}
