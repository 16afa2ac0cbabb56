//! OCSF 1.8.0 Detection Finding (`class_uid` 2004), export and import.
//!
//! One alert is one finding. The field-by-field mapping is in `docs/formats.md`; in short:
//! severity and status by [`super::mapping`], `time` / `start_time` / `end_time` in
//! milliseconds, `finding_info` (uid = `systemAlertId`, title, description, analytic = alert
//! type, ATT&CK `attacks` with names and ids from the current [`Catalog`]), `metadata.product`
//! (product, vendor, plan as `feature`), `correlation_uid`, affected `resources` and `cloud`
//! from the resource identifiers, `remediation`, and one `evidences` item plus `observables`
//! per entity. What OCSF has no place for is in `unmapped.vigil` (see [`super`]).
//!
//! ```
//! use vigil_core::formats::ocsf;
//! use vigil_core::{Alert, AlertId, Entity, KillChainIntent, Severity};
//! use chrono::{TimeZone, Utc};
//!
//! let alert = Alert::builder(AlertId::new("a-1")?, "VM_EICAR", "EICAR test file", Severity::High,
//!     Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap())
//!     .intent(KillChainIntent::Execution)
//!     .entity(Entity::host("vm1"))
//!     .build();
//! let finding = ocsf::to_value(&alert)?;
//! assert_eq!(finding["class_uid"], 2004);
//! assert_eq!(finding["severity_id"], 4);
//! assert_eq!(finding["finding_info"]["attacks"][0]["tactic"]["uid"], "TA0002");
//! assert_eq!(finding["observables"][0]["value"], "vm1");
//! assert_eq!(ocsf::from_value(finding)?, alert);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::mapping;
use super::{Format, Obj, apply_residual, convert_all, join, objects, parse_arm_id, residual};
use crate::attack::{AttackVersion, Catalog, TechniqueId};
use crate::entity::kind_of;
use crate::{Alert, AlertId, Entity, EntityKind, Error, ExtendedLink, JsonMap, ResourceIdentifier};

/// The OCSF schema version written in `metadata.version`.
pub const SCHEMA_VERSION: &str = "1.8.0";
/// Detection Finding's `class_uid`.
pub const CLASS_UID: i64 = 2004;
/// Incident Finding's `class_uid`; read as an incident (`isIncident`).
pub const INCIDENT_CLASS_UID: i64 = 2005;
/// The key under `unmapped` that holds the values OCSF has no field for.
pub const UNMAPPED_KEY: &str = "vigil";

/// One alert as an OCSF Detection Finding.
pub fn to_value(alert: &Alert) -> Result<Value, Error> {
    let mut doc = typed(alert);
    let back = read_typed(&doc, "")?;
    let r = residual(alert, &back)?;
    let mut unmapped = JsonMap::new();
    unmapped.insert(UNMAPPED_KEY.into(), Value::Object(r));
    doc.insert("unmapped".into(), Value::Object(unmapped));
    Ok(Value::Object(doc))
}

/// Alerts as JSON lines, one finding per line (how OCSF streams are usually shipped).
pub fn to_json_lines(alerts: &[Alert]) -> Result<String, Error> {
    let mut out = String::new();
    for (i, a) in alerts.iter().enumerate() {
        let v = to_value(a).map_err(|e| export_error(i, a, e))?;
        out.push_str(&serde_json::to_string(&v)?);
        out.push('\n');
    }
    Ok(out)
}

/// Alerts as one JSON array of findings.
pub fn to_json_array(alerts: &[Alert]) -> Result<String, Error> {
    let items = alerts
        .iter()
        .enumerate()
        .map(|(i, a)| to_value(a).map_err(|e| export_error(i, a, e)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(serde_json::to_string_pretty(&items)?)
}

pub(crate) fn export_error(i: usize, a: &Alert, e: Error) -> Error {
    Error::document(
        format!("[{i}]"),
        format!("alert {:?}: {e}", a.system_alert_id().as_str()),
    )
}

/// Reads findings: a JSON array, one finding, or JSON lines. All or nothing; errors name the
/// record and the value (`line 3.finding_info.uid`).
pub fn parse(text: &str) -> Result<Vec<Alert>, Error> {
    convert_all(text, &[], read)
}

/// Reads one finding.
pub fn from_value(value: Value) -> Result<Alert, Error> {
    read(value, "")
}

fn read(value: Value, path: &str) -> Result<Alert, Error> {
    let Value::Object(m) = &value else {
        return Err(Error::document(
            super::path_or_root(path),
            format!("expected an OCSF finding object, found {}", kind_of(&value)),
        ));
    };
    let o = Obj { map: m, path };
    match o.int("class_uid")? {
        Some(CLASS_UID | INCIDENT_CLASS_UID) => {}
        Some(other) => {
            return Err(Error::document(
                o.at("class_uid"),
                format!(
                    "class {other} is not a finding Vigil reads (expected 2004 Detection Finding or 2005 Incident Finding)"
                ),
            ));
        }
        None => {
            return Err(Error::document(
                super::path_or_root(path),
                "missing required attribute \"class_uid\" (expected 2004, Detection Finding)",
            ));
        }
    }
    let typed = read_typed(m, path)?;
    let vigil = o
        .obj_ref("unmapped")?
        .and_then(|u| u.get(UNMAPPED_KEY))
        .filter(|v| !v.is_null());
    match vigil {
        Some(Value::Object(r)) => apply_residual(&typed, r, &join(path, "unmapped.vigil")),
        Some(other) => Err(Error::document(
            join(path, "unmapped.vigil"),
            format!("expected an object, found {}", kind_of(other)),
        )),
        None => {
            let id = typed.system_alert_id().as_str().to_owned();
            Ok(super::with_source(typed, Format::Ocsf, &id, value))
        }
    }
}

fn ms(t: &DateTime<Utc>) -> Value {
    Value::from(t.timestamp_millis())
}

fn put(m: &mut JsonMap, key: &str, v: Option<impl Into<Value>>) {
    if let Some(v) = v {
        m.insert(key.into(), v.into());
    }
}

/// The OCSF attributes of an alert, without `unmapped`.
fn typed(a: &Alert) -> JsonMap {
    let closed = a.status().is_closed();
    let activity_id: i64 = if closed { 3 } else { 1 };
    let sev = mapping::severity_to_ocsf_id(a.severity());
    let status = mapping::status_to_ocsf_id(a.status());
    let mut d = JsonMap::new();
    d.insert("activity_id".into(), activity_id.into());
    d.insert(
        "activity_name".into(),
        (if closed { "Close" } else { "Create" }).into(),
    );
    d.insert("category_uid".into(), 2.into());
    d.insert("category_name".into(), "Findings".into());
    d.insert("class_uid".into(), CLASS_UID.into());
    d.insert("class_name".into(), "Detection Finding".into());
    d.insert("type_uid".into(), (CLASS_UID * 100 + activity_id).into());
    d.insert(
        "type_name".into(),
        format!(
            "Detection Finding: {}",
            if closed { "Close" } else { "Create" }
        )
        .into(),
    );
    d.insert("severity_id".into(), sev.into());
    put(
        &mut d,
        "severity",
        mapping::ocsf_severity_caption(sev.into()),
    );
    d.insert("status_id".into(), status.into());
    put(
        &mut d,
        "status",
        mapping::ocsf_status_caption(status.into()),
    );
    d.insert("time".into(), ms(&a.time_generated()));
    put(&mut d, "start_time", a.start_time().as_ref().map(ms));
    put(&mut d, "end_time", a.end_time().as_ref().map(ms));
    put(&mut d, "message", a.description());
    d.insert("is_alert".into(), (!closed).into());

    // metadata
    let mut product = JsonMap::new();
    put(&mut product, "name", a.product_name());
    put(&mut product, "vendor_name", a.vendor_name());
    if let Some(plan) = a.product_component_name() {
        product.insert("feature".into(), json!({ "name": plan }));
    }
    let mut meta = JsonMap::new();
    meta.insert("version".into(), SCHEMA_VERSION.into());
    meta.insert("product".into(), Value::Object(product.clone()));
    meta.insert("event_code".into(), a.alert_type().into());
    put(&mut meta, "correlation_uid", a.correlation_key());

    // finding_info
    let mut fi = JsonMap::new();
    fi.insert("uid".into(), a.system_alert_id().as_str().into());
    put(&mut fi, "uid_alt", a.resource_id());
    fi.insert("title".into(), a.display_name().into());
    put(&mut fi, "desc", a.description());
    fi.insert("types".into(), json!([a.alert_type()]));
    fi.insert(
        "analytic".into(),
        json!({"uid": a.alert_type(), "name": a.alert_type(), "type_id": 0, "type": "Unknown"}),
    );
    fi.insert("created_time".into(), ms(&a.time_generated()));
    put(&mut fi, "first_seen_time", a.start_time().as_ref().map(ms));
    put(&mut fi, "last_seen_time", a.end_time().as_ref().map(ms));
    let attacks = attacks(a);
    if !attacks.is_empty() {
        fi.insert("attacks".into(), Value::Array(attacks));
    }
    put(&mut fi, "src_url", a.alert_uri());
    if !product.is_empty() {
        fi.insert("product".into(), Value::Object(product));
    }
    d.insert("finding_info".into(), Value::Object(fi));

    // resources and cloud
    let mut resources = Vec::new();
    let mut subscription = None;
    for r in a.resource_identifiers() {
        match r {
            ResourceIdentifier::AzureResource {
                azure_resource_id, ..
            } => {
                let arm = parse_arm_id(azure_resource_id);
                let mut res = JsonMap::new();
                res.insert("uid".into(), azure_resource_id.as_str().into());
                let name = if resources.is_empty() {
                    a.compromised_entity()
                        .or_else(|| arm.as_ref().and_then(|x| x.name))
                } else {
                    arm.as_ref().and_then(|x| x.name)
                };
                put(&mut res, "name", name);
                put(
                    &mut res,
                    "type",
                    arm.as_ref().and_then(|x| x.resource_type.clone()),
                );
                res.insert("provider".into(), "Azure".into());
                res.insert("role_id".into(), 1.into());
                res.insert("role".into(), "Target".into());
                if subscription.is_none() {
                    subscription = arm.map(|x| x.subscription.to_owned());
                }
                resources.push(Value::Object(res));
            }
            ResourceIdentifier::LogAnalytics { workspace_id, .. } => {
                resources.push(json!({
                    "uid": workspace_id,
                    "type": "Microsoft.OperationalInsights/workspaces",
                    "provider": "Azure",
                    "role_id": 4,
                    "role": "Related",
                }));
            }
            ResourceIdentifier::Other { .. } => {}
        }
    }
    if !resources.is_empty() {
        d.insert("resources".into(), Value::Array(resources));
    }
    if let Some(sub) = subscription {
        d.insert(
            "cloud".into(),
            json!({"provider": "Azure", "account": {"uid": sub, "type_id": 13, "type": "Azure Subscription"}}),
        );
        meta.insert("profiles".into(), json!(["cloud"]));
    }
    d.insert("metadata".into(), Value::Object(meta));

    // remediation
    if !a.remediation_steps().is_empty() {
        let mut rem = JsonMap::new();
        rem.insert("desc".into(), a.remediation_steps().join("\n").into());
        let refs: Vec<Value> = a
            .extended_links()
            .iter()
            .filter_map(|l| l.href())
            .map(Value::from)
            .collect();
        if !refs.is_empty() {
            rem.insert("references".into(), Value::Array(refs));
        }
        d.insert("remediation".into(), Value::Object(rem));
    }

    // evidences and observables
    let mut evidences = Vec::new();
    let mut observables = Vec::new();
    for (i, e) in a.entities().iter().enumerate() {
        let (ev, obs) = evidence_of(e, i);
        evidences.push(Value::Object(ev));
        observables.extend(obs);
    }
    if !evidences.is_empty() {
        d.insert("evidences".into(), Value::Array(evidences));
    }
    if !observables.is_empty() {
        d.insert("observables".into(), Value::Array(observables));
    }
    d
}

fn attacks(a: &Alert) -> Vec<Value> {
    let catalog = Catalog::current();
    let version = AttackVersion::CURRENT.to_string();
    let mut tactics: Vec<Value> = Vec::new();
    for intent in a.intents() {
        for t in mapping::tactics_of(intent) {
            let v = json!({"uid": t.id().to_string(), "name": t.name()});
            if !tactics.contains(&v) {
                tactics.push(v);
            }
        }
    }
    let named = |id: TechniqueId| {
        let mut m = JsonMap::new();
        m.insert("uid".into(), id.to_string().into());
        if let Some(t) = catalog.technique(id) {
            m.insert("name".into(), t.name().into());
        }
        Value::Object(m)
    };
    let with_tactics = |mut m: JsonMap| {
        if let Some(first) = tactics.first() {
            m.insert("tactic".into(), first.clone());
            if tactics.len() > 1 {
                m.insert("tactics".into(), Value::Array(tactics.clone()));
            }
        }
        m.insert("version".into(), version.as_str().into());
        Value::Object(m)
    };
    let mut out = Vec::new();
    for t in a.techniques() {
        let subs: Vec<&TechniqueId> = a
            .sub_techniques()
            .iter()
            .filter(|s| s.parent() == Some(*t))
            .collect();
        if subs.is_empty() {
            let mut m = JsonMap::new();
            m.insert("technique".into(), named(*t));
            out.push(with_tactics(m));
        }
        for s in subs {
            let mut m = JsonMap::new();
            m.insert("technique".into(), named(*t));
            m.insert("sub_technique".into(), named(*s));
            out.push(with_tactics(m));
        }
    }
    // Sub-techniques whose parent is not listed.
    for s in a.sub_techniques() {
        if !s.parent().is_some_and(|p| a.techniques().contains(&p)) {
            let mut m = JsonMap::new();
            if let Some(p) = s.parent() {
                m.insert("technique".into(), named(p));
            }
            m.insert("sub_technique".into(), named(*s));
            out.push(with_tactics(m));
        }
    }
    if out.is_empty() {
        for t in &tactics {
            out.push(json!({"tactic": t, "version": version}));
        }
    }
    out
}

/// One evidence item and its observables for an entity.
fn evidence_of(e: &Entity, i: usize) -> (JsonMap, Vec<Value>) {
    let mut ev = JsonMap::new();
    let mut obs = Vec::new();
    let mut ob = |name: String, type_id: i64, ty: &str, value: &str| {
        obs.push(json!({"name": name, "type_id": type_id, "type": ty, "value": value}));
    };
    let at = |rest: &str| format!("evidences[{i}].{rest}");
    let s = |k: &str| e.get_str(k);
    let mut typed = true;
    match e.kind() {
        EntityKind::Host if s("hostName").is_some() => {
            let mut dev = JsonMap::new();
            put(&mut dev, "hostname", s("hostName"));
            put(&mut dev, "domain", s("dnsDomain"));
            put(&mut dev, "uid", s("azureID"));
            dev.insert("type_id".into(), 0.into());
            dev.insert("type".into(), "Unknown".into());
            if let Some(h) = s("hostName") {
                ob(at("device.hostname"), 1, "Hostname", h);
            }
            ev.insert("device".into(), Value::Object(dev));
        }
        EntityKind::Account if s("name").is_some() => {
            let mut user = JsonMap::new();
            put(&mut user, "name", s("name"));
            put(&mut user, "uid", s("sid").or_else(|| s("aadUserId")));
            put(&mut user, "domain", s("ntDomain"));
            if let Some(n) = s("name") {
                ob(at("user.name"), 4, "User Name", n);
            }
            ev.insert("user".into(), Value::Object(user));
        }
        EntityKind::Mailbox if s("mailboxPrimaryAddress").is_some() => {
            let mut user = JsonMap::new();
            put(&mut user, "email_addr", s("mailboxPrimaryAddress"));
            put(&mut user, "display_name", s("displayName"));
            if let Some(m) = s("mailboxPrimaryAddress") {
                ob(at("user.email_addr"), 5, "Email Address", m);
            }
            ev.insert("user".into(), Value::Object(user));
        }
        EntityKind::Ip if e.as_ip().and_then(|x| x.address()).is_some() => {
            let addr = e.as_ip().and_then(|x| x.address_str()).unwrap_or_default();
            ev.insert("src_endpoint".into(), json!({"ip": addr.trim()}));
            ob(at("src_endpoint.ip"), 2, "IP Address", addr.trim());
        }
        EntityKind::NetworkConnection
            if s("sourceAddress").is_some() || s("destinationAddress").is_some() =>
        {
            for (side, ip_key, port_key) in [
                ("src_endpoint", "sourceAddress", "sourcePort"),
                ("dst_endpoint", "destinationAddress", "destinationPort"),
            ] {
                let mut ep = JsonMap::new();
                if let Some(ip) = s(ip_key) {
                    ep.insert("ip".into(), ip.into());
                    ob(at(&format!("{side}.ip")), 2, "IP Address", ip);
                }
                if let Some(p) = e.get(port_key).and_then(super::port_of) {
                    ep.insert("port".into(), p.into());
                }
                if !ep.is_empty() {
                    ev.insert(side.into(), Value::Object(ep));
                }
            }
        }
        EntityKind::Process if s("commandLine").is_some() || s("processId").is_some() => {
            let mut p = JsonMap::new();
            if let Some(pid) = s("processId").and_then(super::pid_of) {
                p.insert("pid".into(), pid.into());
            }
            put(&mut p, "cmd_line", s("commandLine"));
            if let Some(c) = s("commandLine") {
                ob(at("process.cmd_line"), 13, "Command Line", c);
            }
            ev.insert("process".into(), Value::Object(p));
        }
        EntityKind::File if s("name").is_some() => {
            let mut f = JsonMap::new();
            put(&mut f, "name", s("name"));
            put(&mut f, "path", s("fullPath"));
            f.insert("type_id".into(), 1.into());
            f.insert("type".into(), "Regular File".into());
            if let Some(n) = s("name") {
                ob(at("file.name"), 7, "File Name", n);
            }
            if let Some(p) = s("fullPath") {
                ob(at("file.path"), 45, "File Path", p);
            }
            ev.insert("file".into(), Value::Object(f));
        }
        EntityKind::Dns if s("domainName").is_some() => {
            let d = s("domainName").unwrap_or_default();
            ev.insert("query".into(), json!({"hostname": d}));
            ob(at("query.hostname"), 1, "Hostname", d);
        }
        EntityKind::Url if s("url").is_some() => {
            let u = s("url").unwrap_or_default();
            ev.insert("url".into(), json!({"url_string": u}));
            ob(at("url.url_string"), 6, "URL String", u);
        }
        EntityKind::AzureResource if s("resourceId").is_some() => {
            let mut r = JsonMap::new();
            put(&mut r, "uid", s("resourceId"));
            put(&mut r, "name", s("resourceName"));
            if let Some(id) = s("resourceId") {
                ob(at("resources[0].uid"), 10, "Resource UID", id);
            }
            ev.insert("resources".into(), json!([r]));
        }
        _ => typed = false,
    }
    if !typed {
        // No typed OCSF home: the entity, verbatim, as the evidence's data.
        ev.insert("data".into(), Value::Object(e.properties().clone()));
        if let (EntityKind::FileHash, Some(v)) = (e.kind(), s("value")) {
            ob(at("data.value"), 8, "Hash", v);
        }
    }
    ev.insert("name".into(), e.kind().type_name().into());
    put(&mut ev, "uid", e.entity_id());
    (ev, obs)
}

/// Reads the OCSF attributes of a finding into an alert (no residual, no source record).
fn read_typed(m: &JsonMap, path: &str) -> Result<Alert, Error> {
    let o = Obj { map: m, path };
    let fi_map = o.obj_ref("finding_info")?.ok_or_else(|| {
        Error::document(
            super::path_or_root(path),
            "missing required attribute \"finding_info\"",
        )
    })?;
    let fi_path = join(path, "finding_info");
    let fi = Obj {
        map: fi_map,
        path: &fi_path,
    };
    let uid = fi.text("uid")?.ok_or_else(|| {
        Error::document(
            fi.at("uid"),
            "missing required attribute (the finding's unique id)",
        )
    })?;
    let id = AlertId::new(uid)
        .map_err(|_| Error::document(fi.at("uid"), "the finding id must not be blank"))?;
    let meta_path = join(path, "metadata");
    let meta_map = o.obj_ref("metadata")?;
    let empty = JsonMap::new();
    let meta = Obj {
        map: meta_map.unwrap_or(&empty),
        path: &meta_path,
    };
    let analytic_path = fi.at("analytic");
    let analytic = Obj {
        map: fi.obj_ref("analytic")?.unwrap_or(&empty),
        path: &analytic_path,
    };
    let types = fi.strs("types")?;
    let title = fi.str("title")?;
    let alert_type = analytic
        .text("uid")?
        .or_else(|| types.first().map(|s| (*s).to_owned()))
        .or(meta.text("event_code")?)
        .or(analytic.text("name")?)
        .or_else(|| title.map(str::to_owned))
        .unwrap_or_else(|| "OCSF Detection Finding".to_owned());
    let display = title
        .map(str::to_owned)
        .or(o.text("message")?)
        .unwrap_or_else(|| alert_type.clone());

    let severity = match o.int("severity_id")? {
        Some(n) => match mapping::severity_from_ocsf_id(n) {
            Some(s) => s,
            None => o
                .str("severity")?
                .and_then(|s| s.parse().ok())
                .unwrap_or(crate::Severity::Informational),
        },
        None => {
            return Err(Error::document(
                o.at("severity_id"),
                "missing required attribute (0–6 or 99)",
            ));
        }
    };
    let status = match o.int("status_id")? {
        Some(n) => mapping::status_from_ocsf_id(n)
            .or(o.str("status")?.and_then(|s| s.parse().ok()))
            .unwrap_or(crate::Status::Active),
        None => crate::Status::Active,
    };
    let generated = match stamp(&fi, "created_time")? {
        Some(t) => t,
        None => stamp(&o, "time")?.ok_or_else(|| {
            Error::document(
                o.at("time"),
                "missing required attribute (milliseconds since 1970)",
            )
        })?,
    };
    let mut b = Alert::builder(id, alert_type, display, severity, generated).status(status);
    if let Some(t) = stamp(&o, "start_time")?.or(stamp(&fi, "first_seen_time")?) {
        b = b.start_time(t);
    }
    if let Some(t) = stamp(&o, "end_time")?.or(stamp(&fi, "last_seen_time")?) {
        b = b.end_time(t);
    }
    if let Some(d) = fi.str("desc")?.or(o.str("message")?) {
        b = b.description(d);
    }
    if let Some(u) = fi.str("uid_alt")? {
        b = b.resource_id(u);
    }
    if let Some(u) = fi.str("src_url")? {
        b = b.alert_uri(u);
    }
    let product_path = meta.at("product");
    let product = Obj {
        map: meta.obj_ref("product")?.unwrap_or(&empty),
        path: &product_path,
    };
    if let Some(p) = product.str("name")? {
        b = b.product_name(p);
    }
    if let Some(v) = product.str("vendor_name")? {
        b = b.vendor_name(v);
    }
    if let Some(f) = product.obj_ref("feature")? {
        let fp = product.at("feature");
        if let Some(n) = (Obj { map: f, path: &fp }).str("name")? {
            b = b.product_component_name(n);
        }
    }
    if let Some(c) = meta.text("correlation_uid")? {
        b = b.correlation_key(c);
    }
    if o.int("class_uid")? == Some(INCIDENT_CLASS_UID) {
        b = b.incident(true);
    }

    // ATT&CK
    let mut intents = Vec::new();
    for (ap, am) in objects(fi.arr("attacks")?, &fi.at("attacks"))? {
        let a = Obj { map: am, path: &ap };
        let mut tactic_objs: Vec<(String, &JsonMap)> = Vec::new();
        if let Some(t) = a.obj_ref("tactic")? {
            tactic_objs.push((a.at("tactic"), t));
        }
        tactic_objs.extend(objects(a.arr("tactics")?, &a.at("tactics"))?);
        for (tp, tm) in tactic_objs {
            let t = Obj { map: tm, path: &tp };
            let intent = match t.str("uid")?.and_then(mapping::intent_from_tactic) {
                Some(i) => Some(i),
                None => t.str("name")?.and_then(mapping::intent_from_tactic),
            };
            if let Some(i) = intent.filter(|i| !intents.contains(i)) {
                intents.push(i);
            }
        }
        for key in ["technique", "sub_technique"] {
            if let Some(t) = a.obj_ref(key)? {
                let tp = a.at(key);
                // Ids that are not ATT&CK Enterprise (ATLAS `AML.T…`) stay in the source record.
                if let Some(id) = (Obj { map: t, path: &tp })
                    .str("uid")?
                    .and_then(|u| u.parse::<TechniqueId>().ok())
                {
                    b = b.technique(id);
                }
            }
        }
    }
    // Without ATT&CK attacks, finding types in ASFF's taxonomy (`TTPs/Defense Evasion/…`, as
    // AWS products write them) still name the intent.
    if intents.is_empty() {
        for t in &types {
            if let Some(i) = mapping::intent_from_asff_type(t).filter(|i| !intents.contains(i)) {
                intents.push(i);
            }
        }
    }
    for i in intents {
        b = b.intent(i);
    }

    // Resources
    let mut compromised = None;
    for (rp, rm) in objects(o.arr("resources")?, &o.at("resources"))? {
        let r = Obj { map: rm, path: &rp };
        if compromised.is_none() {
            compromised = r.str("name")?.or(r.str("uid")?).map(str::to_owned);
        }
        if let Some(uid) = r.str("uid")?.filter(|u| parse_arm_id(u).is_some()) {
            b = b.resource_identifier(ResourceIdentifier::azure_resource(uid));
        }
    }
    if let Some(c) = compromised {
        b = b.compromised_entity(c);
    }

    if let Some(rem) = o.obj_ref("remediation")? {
        let rp = o.at("remediation");
        let r = Obj {
            map: rem,
            path: &rp,
        };
        if let Some(desc) = r.str("desc")? {
            for line in desc.split('\n') {
                b = b.remediation_step(line);
            }
        }
        for href in r.strs("references")? {
            let mut l = JsonMap::new();
            l.insert("Href".into(), href.into());
            b = b.extended_link(ExtendedLink::from_json(l));
        }
    }

    for (ep, em) in objects(o.arr("evidences")?, &o.at("evidences"))? {
        for e in entities_of(&Obj { map: em, path: &ep })? {
            b = b.entity(e);
        }
    }
    Ok(b.build())
}

/// A timestamp attribute: milliseconds, or else its `_dt` twin of the datetime profile.
fn stamp(o: &Obj<'_>, key: &str) -> Result<Option<DateTime<Utc>>, Error> {
    match o.millis(key)? {
        Some(t) => Ok(Some(t)),
        None => o.time(&format!("{key}_dt")),
    }
}

fn entity_from(kind: EntityKind, pairs: &[(&str, Option<Value>)]) -> Entity {
    let mut e = Entity::new(kind);
    for (k, v) in pairs {
        if let Some(v) = v {
            e = e.with(k, v.clone());
        }
    }
    e
}

fn sv(s: Option<&str>) -> Option<Value> {
    s.map(Value::from)
}

/// An endpoint's address and port.
type Endpoint = (Option<String>, Option<i64>);

/// The entities one evidence item describes.
fn entities_of(ev: &Obj<'_>) -> Result<Vec<Entity>, Error> {
    let mut out = Vec::new();
    let uid = ev.str("uid")?;
    let push = |e: Entity, out: &mut Vec<Entity>| {
        let e = match uid {
            Some(u) if e.entity_id().is_none() => e.with("$id", u),
            _ => e,
        };
        out.push(e);
    };
    // `data` is free JSON; only an object with a string `type` is a Defender entity.
    if let Some(Value::Object(data)) = ev
        .get("data")
        .filter(|d| matches!(d.get("type"), Some(Value::String(_))))
        .cloned()
    {
        {
            let e = Entity::from_json(data).map_err(|e| match e {
                Error::Document { path, message } => {
                    Error::document(join(&ev.at("data"), &path), message)
                }
                other => other,
            })?;
            out.push(e);
            return Ok(out);
        }
    }
    if let Some(dev) = ev.obj_ref("device")? {
        let p = ev.at("device");
        let d = Obj { map: dev, path: &p };
        let host = d.str("hostname")?.or(d.str("name")?);
        if host.is_some() {
            let azure = d.str("uid")?.filter(|u| parse_arm_id(u).is_some());
            push(
                entity_from(
                    EntityKind::Host,
                    &[
                        ("hostName", sv(host)),
                        ("dnsDomain", sv(d.str("domain")?)),
                        ("azureID", sv(azure)),
                    ],
                ),
                &mut out,
            );
        }
    }
    if let Some(user) = ev.obj_ref("user")? {
        let p = ev.at("user");
        let u = Obj {
            map: user,
            path: &p,
        };
        match (u.str("name")?, u.str("email_addr")?) {
            (Some(name), _) => {
                let uid = u.str("uid")?;
                let key = if uid.is_some_and(|x| x.starts_with("S-1-")) {
                    "sid"
                } else {
                    "aadUserId"
                };
                push(
                    entity_from(
                        EntityKind::Account,
                        &[
                            ("name", sv(Some(name))),
                            (key, sv(uid)),
                            ("ntDomain", sv(u.str("domain")?)),
                        ],
                    ),
                    &mut out,
                );
            }
            (None, Some(mail)) => push(
                entity_from(
                    EntityKind::Mailbox,
                    &[
                        ("mailboxPrimaryAddress", sv(Some(mail))),
                        ("displayName", sv(u.str("display_name")?)),
                    ],
                ),
                &mut out,
            ),
            (None, None) => {}
        }
    }
    let endpoint = |key: &str| -> Result<Option<Endpoint>, Error> {
        match ev.obj_ref(key)? {
            None => Ok(None),
            Some(m) => {
                let p = ev.at(key);
                let x = Obj { map: m, path: &p };
                Ok(Some((x.text("ip")?, x.int("port")?)))
            }
        }
    };
    match (endpoint("src_endpoint")?, endpoint("dst_endpoint")?) {
        (Some((Some(ip), None)), None) | (None, Some((Some(ip), None))) => {
            push(Entity::ip(ip), &mut out)
        }
        (None, None) => {}
        (src, dst) => {
            let (sip, sport) = src.unwrap_or((None, None));
            let (dip, dport) = dst.unwrap_or((None, None));
            if sip.is_some() || dip.is_some() {
                push(
                    entity_from(
                        EntityKind::NetworkConnection,
                        &[
                            ("sourceAddress", sip.map(Value::from)),
                            ("sourcePort", sport.map(Value::from)),
                            ("destinationAddress", dip.map(Value::from)),
                            ("destinationPort", dport.map(Value::from)),
                        ],
                    ),
                    &mut out,
                );
            }
        }
    }
    if let Some(proc_) = ev.obj_ref("process")? {
        let p = ev.at("process");
        let x = Obj {
            map: proc_,
            path: &p,
        };
        let pid = x.int("pid")?.map(|n| Value::from(n.to_string()));
        let cmd = x.str("cmd_line")?;
        if pid.is_some() || cmd.is_some() {
            push(
                entity_from(
                    EntityKind::Process,
                    &[("processId", pid), ("commandLine", sv(cmd))],
                ),
                &mut out,
            );
        }
    }
    if let Some(file) = ev.obj_ref("file")? {
        let p = ev.at("file");
        let x = Obj {
            map: file,
            path: &p,
        };
        if let Some(name) = x.str("name")? {
            push(
                entity_from(
                    EntityKind::File,
                    &[("name", sv(Some(name))), ("fullPath", sv(x.str("path")?))],
                ),
                &mut out,
            );
        }
    }
    if let Some(q) = ev.obj_ref("query")? {
        let p = ev.at("query");
        if let Some(h) = (Obj { map: q, path: &p }).str("hostname")? {
            push(Entity::dns(h), &mut out);
        }
    }
    if let Some(u) = ev.obj_ref("url")? {
        let p = ev.at("url");
        if let Some(s) = (Obj { map: u, path: &p }).str("url_string")? {
            push(Entity::url(s), &mut out);
        }
    }
    for (rp, rm) in objects(ev.arr("resources")?, &ev.at("resources"))? {
        let r = Obj { map: rm, path: &rp };
        if let Some(uid) = r.str("uid")? {
            let e = if uid.starts_with("arn:") {
                entity_from(
                    EntityKind::AmazonResource,
                    &[("amazonResourceId", sv(Some(uid)))],
                )
            } else {
                entity_from(
                    EntityKind::AzureResource,
                    &[
                        ("resourceId", sv(Some(uid))),
                        ("resourceName", sv(r.str("name")?)),
                    ],
                )
            };
            push(e, &mut out);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_class_and_missing_id_are_named() {
        let e = parse(r#"[{"class_uid": 2004, "finding_info": {}, "severity_id": 1, "time": 0}]"#)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("[0].finding_info.uid: missing required attribute (the finding's unique id)")
        );
        let e = parse(r#"{"class_uid": 1001}"#).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.starts_with("class_uid: class 1001")));
    }

    #[test]
    fn foreign_findings_keep_their_record() {
        let doc = json!({
            "class_uid": 2004, "severity_id": 5, "status_id": 2, "time": 1_700_000_000_000i64,
            "finding_info": {"uid": "f-1", "title": "T", "attacks": [{"tactic": {"uid": "TA0043", "name": "Reconnaissance"}}]},
            "metadata": {"version": "1.8.0", "product": {"name": "P", "vendor_name": "V"}},
            "evidences": [{"src_endpoint": {"ip": "192.0.2.1", "port": 4444}, "dst_endpoint": {"ip": "198.51.100.2", "port": 22}}]
        });
        let a = from_value(doc.clone()).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(a.severity(), crate::Severity::High);
        assert_eq!(a.status(), crate::Status::InProgress);
        assert_eq!(a.intents(), &[crate::KillChainIntent::PreAttack]);
        assert_eq!(a.entities()[0].kind(), &EntityKind::NetworkConnection);
        assert_eq!(
            a.additional_properties()[super::super::SOURCE_KEY]["record"],
            doc
        );
        assert_eq!(
            a.additional_properties()[super::super::SOURCE_KEY]["format"],
            "ocsf"
        );
    }
}
