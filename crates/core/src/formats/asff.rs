//! AWS Security Finding Format (ASFF, schema `2018-10-08`), as Security Hub's
//! `BatchImportFindings` accepts it: export and import.
//!
//! Every required attribute is written and checked (`SchemaVersion`, `Id`, `ProductArn`,
//! `GeneratorId`, `AwsAccountId`, `Types`, `CreatedAt`, `UpdatedAt`, `Severity`, `Title`,
//! `Description`, `Resources`), with the documented limits: `Title` ≤ 256 and `Description`
//! ≤ 1,024 characters (cut, ending in `…`), `Remediation.Recommendation.Text` ≤ 512,
//! `ProductFields` ≤ 50 pairs of ≤ 128-character keys and ≤ 2,048-character values, and a
//! finding ≤ 240 KB; an alert that cannot fit is an error, never a partial finding. The ASFF
//! account and product come from [`AsffTarget`] (a private integration's
//! `arn:<partition>:securityhub:<region>:<account>:product/<account>/default` by default).
//!
//! Severity is `Severity.Label` (and `FindingProviderFields.Severity`), the status is
//! `Workflow.Status`, intents are `Types` in ASFF's taxonomy, resource identifiers are
//! `Resources` (`Type: "Other"` with the Azure details in `Details.Other`), the first network
//! connection or address is `Network`, the first process `Process`, malware `Malware`. Values
//! ASFF cannot carry go to `ProductFields["vigil/residual/1"]`, `…/2`, … (see [`super`]).
//!
//! ```
//! use vigil_core::formats::asff::{self, AsffTarget};
//! use vigil_core::{Alert, AlertId, Severity, Status};
//! use chrono::{TimeZone, Utc};
//!
//! let alert = Alert::builder(AlertId::new("a-1")?, "VM_EICAR", "EICAR test file", Severity::Medium,
//!     Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap())
//!     .status(Status::Dismissed)
//!     .build();
//! let target = AsffTarget::private("123456789012", "eu-west-1")?;
//! let finding = asff::to_value(&alert, &target)?;
//! assert_eq!(finding["ProductArn"], "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default");
//! assert_eq!(finding["Severity"]["Label"], "MEDIUM");
//! assert_eq!(finding["Workflow"]["Status"], "SUPPRESSED");
//! assert_eq!(asff::from_value(finding)?, alert);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{
    Format, Obj, apply_residual, convert_all, cut, mapping, objects, parse_arm_id, residual,
};
use crate::entity::kind_of;
use crate::{
    Alert, AlertId, Entity, EntityKind, Error, ExtendedLink, JsonMap, KillChainIntent,
    ResourceIdentifier, Severity,
};

/// The ASFF schema version written in `SchemaVersion`.
pub const SCHEMA_VERSION: &str = "2018-10-08";
/// Prefix of the `ProductFields` keys that hold the residual, in pieces `…/1`, `…/2`, ….
pub const RESIDUAL_PREFIX: &str = "vigil/residual/";
/// Characters of residual JSON per `ProductFields` value (the limit is 2,048).
const PIECE: usize = 2000;
/// Security Hub rejects findings larger than this (240 KB).
pub const MAX_FINDING_BYTES: usize = 240 * 1024;
/// Findings per `BatchImportFindings` call.
pub const MAX_BATCH: usize = 100;

/// The AWS account and Security Hub product the findings are imported as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsffTarget {
    account_id: String,
    product_arn: String,
    updated_at: Option<DateTime<Utc>>,
}

impl AsffTarget {
    /// A private integration of `account_id` (12 digits) in `region` (e.g. `eu-west-1`),
    /// partition `aws`: `ProductArn` = `arn:aws:securityhub:<region>:<account>:product/<account>/default`.
    pub fn private(account_id: &str, region: &str) -> Result<AsffTarget, Error> {
        let account_id = check_account(account_id)?;
        let region_ok = !region.is_empty()
            && region.len() <= 32
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !region_ok {
            return Err(Error::invalid(
                "AWS region",
                region,
                "expected a region name such as eu-west-1",
            ));
        }
        Ok(AsffTarget {
            product_arn: format!(
                "arn:aws:securityhub:{region}:{account_id}:product/{account_id}/default"
            ),
            account_id,
            updated_at: None,
        })
    }

    /// An explicit product ARN (for example a partner product's), with the account.
    pub fn with_product_arn(account_id: &str, product_arn: &str) -> Result<AsffTarget, Error> {
        let account_id = check_account(account_id)?;
        let n = product_arn.chars().count();
        if !product_arn.starts_with("arn:") || !(12..=2048).contains(&n) {
            return Err(Error::invalid(
                "product ARN",
                product_arn,
                "expected arn:<partition>:securityhub:<region>:<account>:product/<company>/<product>",
            ));
        }
        Ok(AsffTarget {
            account_id,
            product_arn: product_arn.to_owned(),
            updated_at: None,
        })
    }

    /// The `UpdatedAt` to write. By default it equals `CreatedAt` (the alert's generation time),
    /// which is what a first import needs; Security Hub takes an update of an existing finding
    /// only with a later `UpdatedAt`, so pass the export time when sending changed alerts again.
    /// A time before an alert's `CreatedAt` is replaced by `CreatedAt`.
    pub fn updated_at(mut self, at: DateTime<Utc>) -> AsffTarget {
        self.updated_at = Some(at);
        self
    }

    /// The account (`AwsAccountId`).
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The product ARN (`ProductArn`).
    pub fn product_arn(&self) -> &str {
        &self.product_arn
    }
}

fn check_account(a: &str) -> Result<String, Error> {
    if a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()) {
        Ok(a.to_owned())
    } else {
        Err(Error::invalid(
            "AWS account id",
            a,
            "expected the 12 digits of an AWS account",
        ))
    }
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        format!("{}…", cut(s, max - 1))
    }
}

/// One alert as an ASFF finding.
pub fn to_value(alert: &Alert, target: &AsffTarget) -> Result<Value, Error> {
    let mut doc = typed(alert, target)?;
    let back = read_typed(&doc, "")?;
    let r = serde_json::to_string(&residual(alert, &back)?)?;
    let chars: Vec<char> = r.chars().collect();
    let Some(Value::Object(fields)) = doc.get_mut("ProductFields") else {
        return Err(Error::document("ProductFields", "missing"));
    };
    for (i, piece) in chars.chunks(PIECE).enumerate() {
        fields.insert(
            format!("{RESIDUAL_PREFIX}{}", i + 1),
            piece.iter().collect::<String>().into(),
        );
    }
    if fields.len() > 50 {
        return Err(Error::document(
            "ProductFields",
            format!(
                "the alert needs {} ProductFields pairs and ASFF allows 50 ({} characters of values ASFF has no field for); export it as OCSF, which has no such limit",
                fields.len(),
                r.len()
            ),
        ));
    }
    let v = Value::Object(doc);
    let size = serde_json::to_vec(&v)?.len();
    if size > MAX_FINDING_BYTES {
        return Err(Error::document(
            "(root)",
            format!(
                "the finding is {size} bytes and Security Hub accepts at most {MAX_FINDING_BYTES}; export it as OCSF, which has no such limit"
            ),
        ));
    }
    Ok(v)
}

/// Alerts as `BatchImportFindings` request bodies, `{"Findings": […]}` with at most 100
/// findings each, one body per line.
pub fn to_json_lines(alerts: &[Alert], target: &AsffTarget) -> Result<String, Error> {
    let mut out = String::new();
    for (n, chunk) in alerts.chunks(MAX_BATCH).enumerate() {
        let mut findings = Vec::with_capacity(chunk.len());
        for (i, a) in chunk.iter().enumerate() {
            findings.push(
                to_value(a, target)
                    .map_err(|e| super::ocsf::export_error(n * MAX_BATCH + i, a, e))?,
            );
        }
        out.push_str(&serde_json::to_string(&json!({ "Findings": findings }))?);
        out.push('\n');
    }
    Ok(out)
}

/// Reads findings: `{"Findings": […]}` bodies (one, or one per line), a JSON array of findings,
/// one finding, or JSON lines of findings. All or nothing; errors name the record and the
/// value (`Findings[2].Severity.Label`).
pub fn parse(text: &str) -> Result<Vec<Alert>, Error> {
    convert_all(text, &["Findings"], read)
}

/// Reads one finding.
pub fn from_value(value: Value) -> Result<Alert, Error> {
    read(value, "")
}

fn read(value: Value, path: &str) -> Result<Alert, Error> {
    let Value::Object(m) = &value else {
        return Err(Error::document(
            super::path_or_root(path),
            format!("expected an ASFF finding object, found {}", kind_of(&value)),
        ));
    };
    let typed = read_typed(m, path)?;
    let o = Obj { map: m, path };
    let fields = o.obj_ref("ProductFields")?;
    let first = format!("{RESIDUAL_PREFIX}1");
    match fields.filter(|f| f.contains_key(&first)) {
        Some(f) => {
            let mut text = String::new();
            let mut n = 1;
            while let Some(v) = f.get(&format!("{RESIDUAL_PREFIX}{n}")) {
                match v {
                    Value::String(s) => text.push_str(s),
                    other => {
                        return Err(Error::document(
                            o.at(&format!("ProductFields.{RESIDUAL_PREFIX}{n}")),
                            format!("expected a string, found {}", kind_of(other)),
                        ));
                    }
                }
                n += 1;
            }
            let at = o.at(&format!("ProductFields.{RESIDUAL_PREFIX}*"));
            let r: JsonMap = serde_json::from_str(&text).map_err(|e| {
                Error::document(
                    at.clone(),
                    format!("the residual pieces are not a JSON object: {e}"),
                )
            })?;
            apply_residual(&typed, &r, &at)
        }
        None => {
            let id = typed.system_alert_id().as_str().to_owned();
            Ok(super::with_source(typed, Format::Asff, &id, value))
        }
    }
}

fn typed(a: &Alert, target: &AsffTarget) -> Result<JsonMap, Error> {
    let id = a.system_alert_id().as_str();
    if id.chars().count() > 512 {
        return Err(Error::document(
            "Id",
            "the alert id is longer than ASFF's 512 characters",
        ));
    }
    let mut d = JsonMap::new();
    d.insert("SchemaVersion".into(), SCHEMA_VERSION.into());
    d.insert("Id".into(), id.into());
    d.insert("ProductArn".into(), target.product_arn.as_str().into());
    let generator = if a.alert_type().trim().is_empty() {
        "unknown"
    } else {
        cut(a.alert_type(), 512)
    };
    d.insert("GeneratorId".into(), generator.into());
    d.insert("AwsAccountId".into(), target.account_id.as_str().into());
    let mut types: Vec<&str> = Vec::new();
    for i in a.intents() {
        let t = mapping::intent_to_asff_type(i);
        if !types.contains(&t) {
            types.push(t);
        }
    }
    if types.is_empty() {
        types.push(mapping::intent_to_asff_type(&KillChainIntent::Unknown));
    }
    d.insert("Types".into(), json!(types));
    let created = time(&a.time_generated());
    let updated = match target.updated_at {
        Some(t) if t > a.time_generated() => time(&t),
        _ => created.clone(),
    };
    d.insert("CreatedAt".into(), created.into());
    d.insert("UpdatedAt".into(), updated.into());
    if let Some(t) = a.start_time() {
        d.insert("FirstObservedAt".into(), time(&t).into());
    }
    if let Some(t) = a.end_time() {
        d.insert("LastObservedAt".into(), time(&t).into());
    }
    let label = mapping::severity_to_asff_label(a.severity());
    let severity = json!({"Label": label, "Original": a.severity().as_str()});
    d.insert("Severity".into(), severity.clone());
    d.insert(
        "FindingProviderFields".into(),
        json!({"Severity": severity, "Types": types}),
    );
    let title = if a.display_name().trim().is_empty() {
        generator
    } else {
        a.display_name()
    };
    d.insert("Title".into(), ellipsis(title, 256).into());
    let desc = match a.description() {
        Some(s) if !s.trim().is_empty() => s,
        _ => title,
    };
    d.insert("Description".into(), ellipsis(desc, 1024).into());
    if let Some(u) = a.alert_uri() {
        d.insert("SourceUrl".into(), u.into());
    }
    let mut rec = JsonMap::new();
    if !a.remediation_steps().is_empty() {
        rec.insert(
            "Text".into(),
            ellipsis(&a.remediation_steps().join("\n"), 512).into(),
        );
    }
    if let Some(h) = a.extended_links().iter().find_map(|l| l.href()) {
        rec.insert("Url".into(), h.into());
    }
    if !rec.is_empty() {
        d.insert(
            "Remediation".into(),
            json!({ "Recommendation": Value::Object(rec) }),
        );
    }
    d.insert(
        "Workflow".into(),
        json!({"Status": mapping::status_to_asff_workflow(a.status())}),
    );
    d.insert("RecordState".into(), "ACTIVE".into());

    // Resources: every Azure resource identifier, or one resource for the compromised entity.
    let mut resources = Vec::new();
    for r in a.resource_identifiers() {
        if let ResourceIdentifier::AzureResource {
            azure_resource_id, ..
        } = r
        {
            let mut other = JsonMap::new();
            other.insert("provider".into(), "Azure".into());
            if let Some(arm) = parse_arm_id(azure_resource_id) {
                other.insert("subscriptionId".into(), arm.subscription.into());
                if let Some(t) = arm.resource_type {
                    other.insert("resourceType".into(), cut(&t, 2048).into());
                }
            }
            if resources.is_empty()
                && let Some(c) = a.compromised_entity()
            {
                other.insert("compromisedEntity".into(), cut(c, 2048).into());
            }
            resources.push(json!({
                "Type": "Other",
                "Id": azure_resource_id,
                "Details": {"Other": other},
            }));
        }
        if resources.len() == 32 {
            break;
        }
    }
    if resources.is_empty() {
        let rid = a
            .compromised_entity()
            .filter(|c| !c.trim().is_empty())
            .unwrap_or(id);
        resources.push(json!({"Type": "Other", "Id": rid}));
    }
    d.insert("Resources".into(), Value::Array(resources));

    // Network: the first connection, or the first address.
    let ip_key = |ip: &str, side: &str| match ip.trim().parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => Some(format!("{side}IpV4")),
        Ok(std::net::IpAddr::V6(_)) => Some(format!("{side}IpV6")),
        Err(_) => None,
    };
    let mut net = JsonMap::new();
    if let Some(c) = first(a, &EntityKind::NetworkConnection) {
        for (side, ip, port) in [
            ("Source", "sourceAddress", "sourcePort"),
            ("Destination", "destinationAddress", "destinationPort"),
        ] {
            if let Some((k, v)) = c
                .get_str(ip)
                .and_then(|v| ip_key(v, side).map(|k| (k, v.trim())))
            {
                net.insert(k, v.into());
            }
            if let Some(p) = c.get(port).and_then(super::port_of) {
                net.insert(format!("{side}Port"), p.into());
            }
        }
        if let Some(p) = c.get_str("protocol") {
            net.insert("Protocol".into(), cut(p, 16).into());
        }
    } else if let Some(ip) = first(a, &EntityKind::Ip).and_then(|e| e.get_str("address"))
        && let Some(k) = ip_key(ip, "Source")
    {
        net.insert(k, ip.trim().into());
    }
    if !net.is_empty() {
        d.insert("Network".into(), Value::Object(net));
    }
    if let Some(p) = first(a, &EntityKind::Process) {
        let mut proc_ = JsonMap::new();
        if let Some(pid) = p.get_str("processId").and_then(super::pid_of) {
            proc_.insert("Pid".into(), pid.into());
        }
        if let Some(name) = p
            .get_str("commandLine")
            .and_then(|c| c.split_whitespace().next())
        {
            let base = name
                .trim_matches('"')
                .rsplit(['\\', '/'])
                .next()
                .unwrap_or(name);
            proc_.insert("Name".into(), cut(base, 64).into());
        }
        if !proc_.is_empty() {
            d.insert("Process".into(), Value::Object(proc_));
        }
    }
    let malware: Vec<Value> = a
        .entities()
        .iter()
        .filter(|e| e.kind() == &EntityKind::Malware)
        .filter_map(|e| e.get_str("name"))
        .take(5)
        .map(|n| json!({"Name": cut(n, 64)}))
        .collect();
    if !malware.is_empty() {
        d.insert("Malware".into(), Value::Array(malware));
    }

    // Readable product fields for Security Hub users.
    let mut pf = JsonMap::new();
    let mut field = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            pf.insert(k.into(), cut(&v, 2048).into());
        }
    };
    field("alertType", Some(a.alert_type().to_owned()));
    field("systemAlertId", Some(id.to_owned()));
    field("status", Some(a.status().as_str().to_owned()));
    if !a.intents().is_empty() {
        field("intent", Some(crate::intent::format_intents(a.intents())));
    }
    let techniques: Vec<String> = a
        .techniques()
        .iter()
        .chain(a.sub_techniques())
        .map(|t| t.to_string())
        .collect();
    if !techniques.is_empty() {
        field("techniques", Some(techniques.join(",")));
    }
    field("productName", a.product_name().map(str::to_owned));
    field("vendorName", a.vendor_name().map(str::to_owned));
    field(
        "productComponentName",
        a.product_component_name().map(str::to_owned),
    );
    field("correlationKey", a.correlation_key().map(str::to_owned));
    field("isIncident", Some(a.is_incident().to_string()));
    d.insert("ProductFields".into(), Value::Object(pf));
    Ok(d)
}

fn first<'a>(a: &'a Alert, kind: &EntityKind) -> Option<&'a Entity> {
    a.entities().iter().find(|e| e.kind() == kind)
}

fn read_typed(m: &JsonMap, path: &str) -> Result<Alert, Error> {
    let o = Obj { map: m, path };
    let required = |k: &str| -> Result<&str, Error> {
        o.str(k)?
            .ok_or_else(|| Error::document(o.at(k), "missing required attribute"))
    };
    let id = AlertId::new(required("Id")?)
        .map_err(|_| Error::document(o.at("Id"), "the finding id must not be blank"))?;
    let generator = required("GeneratorId")?;
    let title = required("Title")?;
    let created = o.time("CreatedAt")?.ok_or_else(|| {
        Error::document(
            o.at("CreatedAt"),
            "missing required attribute (RFC 3339 time)",
        )
    })?;
    let empty = JsonMap::new();
    let fpf_path = o.at("FindingProviderFields");
    let fpf = Obj {
        map: o.obj_ref("FindingProviderFields")?.unwrap_or(&empty),
        path: &fpf_path,
    };
    let severity = severity_of(&fpf, "Severity")?
        .or(severity_of(&o, "Severity")?)
        .ok_or_else(|| {
            Error::document(
                o.at("Severity"),
                "missing required attribute (Label INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL)",
            )
        })?;
    let mut b = Alert::builder(id, generator, title, severity, created);
    if let Some(d) = o.str("Description")? {
        b = b.description(d);
    }
    let wf_path = o.at("Workflow");
    let status = match o.obj_ref("Workflow")? {
        Some(w) => (Obj {
            map: w,
            path: &wf_path,
        })
        .str("Status")?
        .and_then(mapping::status_from_asff_workflow),
        None => None,
    }
    .or(o
        .str("WorkflowState")?
        .and_then(mapping::status_from_asff_workflow));
    if let Some(s) = status {
        b = b.status(s);
    }
    if let Some(t) = o.time("FirstObservedAt")? {
        b = b.start_time(t);
    }
    if let Some(t) = o.time("LastObservedAt")? {
        b = b.end_time(t);
    }
    let mut types = fpf.strs("Types")?;
    if types.is_empty() {
        types = o.strs("Types")?;
    }
    let mut intents: Vec<KillChainIntent> = Vec::new();
    for t in types {
        if let Some(i) = mapping::intent_from_asff_type(t).filter(|i| !intents.contains(i)) {
            intents.push(i);
        }
    }
    for i in intents {
        b = b.intent(i);
    }
    if let Some(u) = o.str("SourceUrl")? {
        b = b.alert_uri(u);
    }
    if let Some(rem) = o.obj_ref("Remediation")? {
        let rp = o.at("Remediation");
        let r = Obj {
            map: rem,
            path: &rp,
        };
        if let Some(rec) = r.obj_ref("Recommendation")? {
            let cp = r.at("Recommendation");
            let c = Obj {
                map: rec,
                path: &cp,
            };
            if let Some(t) = c.str("Text")? {
                for line in t.split('\n') {
                    b = b.remediation_step(line);
                }
            }
            if let Some(u) = c.str("Url")? {
                let mut l = JsonMap::new();
                l.insert("Href".into(), u.into());
                b = b.extended_link(ExtendedLink::from_json(l));
            }
        }
    }
    let pf_path = o.at("ProductFields");
    let pf = Obj {
        map: o.obj_ref("ProductFields")?.unwrap_or(&empty),
        path: &pf_path,
    };
    let product = pf.str("productName")?.or(o.str("ProductName")?);
    if let Some(p) = product {
        b = b.product_name(p);
    }
    if let Some(v) = pf.str("vendorName")?.or(o.str("CompanyName")?) {
        b = b.vendor_name(v);
    }
    if let Some(c) = pf.str("productComponentName")? {
        b = b.product_component_name(c);
    }
    if let Some(c) = pf.str("correlationKey")? {
        b = b.correlation_key(c);
    }
    if pf.str("isIncident")? == Some("true") {
        b = b.incident(true);
    }
    for t in pf.str("techniques")?.into_iter().flat_map(|t| t.split(',')) {
        if let Ok(id) = t.trim().parse() {
            b = b.technique(id);
        }
    }

    let resources = objects(o.arr("Resources")?, &o.at("Resources"))?;
    if resources.is_empty() {
        return Err(Error::document(
            o.at("Resources"),
            "missing required attribute (1 to 32 resources)",
        ));
    }
    let mut compromised = None;
    for (n, (rp, rm)) in resources.iter().enumerate() {
        let r = Obj { map: rm, path: rp };
        let rid = r
            .str("Id")?
            .ok_or_else(|| Error::document(r.at("Id"), "missing required attribute"))?;
        let dp = r.at("Details");
        let details = Obj {
            map: r.obj_ref("Details")?.unwrap_or(&empty),
            path: &dp,
        };
        let op = details.at("Other");
        let other = Obj {
            map: details.obj_ref("Other")?.unwrap_or(&empty),
            path: &op,
        };
        if n == 0 {
            compromised = Some(other.str("compromisedEntity")?.unwrap_or(rid).to_owned());
        }
        if parse_arm_id(rid).is_some() {
            b = b.resource_identifier(ResourceIdentifier::azure_resource(rid));
        } else if rid.starts_with("arn:") {
            let mut e = Entity::new(EntityKind::AmazonResource).with("amazonResourceId", rid);
            if let Some(t) = r.str("Type")? {
                e = e.with("resourceType", t);
            }
            b = b.entity(e);
        }
    }
    if let Some(c) = compromised {
        b = b.compromised_entity(c);
    }
    if let Some(net) = o.obj_ref("Network")? {
        let np = o.at("Network");
        let n = Obj {
            map: net,
            path: &np,
        };
        let src = n.str("SourceIpV4")?.or(n.str("SourceIpV6")?);
        let dst = n.str("DestinationIpV4")?.or(n.str("DestinationIpV6")?);
        let (sport, dport) = (n.int("SourcePort")?, n.int("DestinationPort")?);
        if dst.is_none() && sport.is_none() && dport.is_none() {
            if let Some(s) = src {
                b = b.entity(Entity::ip(s));
            }
        } else if src.is_some() || dst.is_some() {
            let mut e = Entity::new(EntityKind::NetworkConnection);
            for (k, v) in [
                ("sourceAddress", src.map(Value::from)),
                ("sourcePort", sport.map(Value::from)),
                ("destinationAddress", dst.map(Value::from)),
                ("destinationPort", dport.map(Value::from)),
                ("protocol", n.str("Protocol")?.map(Value::from)),
            ] {
                if let Some(v) = v {
                    e = e.with(k, v);
                }
            }
            b = b.entity(e);
        }
    }
    if let Some(p) = o.obj_ref("Process")? {
        let pp = o.at("Process");
        let x = Obj { map: p, path: &pp };
        let mut e = Entity::new(EntityKind::Process);
        if let Some(pid) = x.int("Pid")? {
            e = e.with("processId", pid.to_string());
        }
        if let Some(n) = x.str("Path")?.or(x.str("Name")?) {
            e = e.with("imageName", n);
        }
        if e.properties().len() > 1 {
            b = b.entity(e);
        }
    }
    for (mp, mm) in objects(o.arr("Malware")?, &o.at("Malware"))? {
        let x = Obj { map: mm, path: &mp };
        if let Some(n) = x.str("Name")? {
            let mut e = Entity::new(EntityKind::Malware).with("name", n);
            if let Some(t) = x.str("Type")? {
                e = e.with("category", t);
            }
            b = b.entity(e);
        }
    }
    Ok(b.build())
}

fn severity_of(o: &Obj<'_>, key: &str) -> Result<Option<Severity>, Error> {
    let Some(s) = o.obj_ref(key)? else {
        return Ok(None);
    };
    let p = o.at(key);
    let s = Obj { map: s, path: &p };
    if let Some(l) = s.str("Label")? {
        return mapping::severity_from_asff_label(l).map(Some).ok_or_else(|| {
            Error::document(
                s.at("Label"),
                format!("unknown severity label {l:?} (expected INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL)"),
            )
        });
    }
    if let Some(n) = s.int("Normalized")? {
        return mapping::severity_from_asff_normalized(n)
            .map(Some)
            .ok_or_else(|| Error::document(s.at("Normalized"), format!("{n} is outside 0–100")));
    }
    Ok(None)
}

/// Checks a finding the way `BatchImportFindings` would (required attributes and their
/// limits) and returns every problem, each as `path: message`. Empty means valid.
pub fn validate(finding: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(m) = finding.as_object() else {
        return vec!["(root): expected an object".into()];
    };
    let mut need_str = |k: &str, min: usize, max: usize| match m.get(k).and_then(Value::as_str) {
        Some(s) if (min..=max).contains(&s.chars().count()) => {}
        Some(s) => problems.push(format!(
            "{k}: {} characters, expected {min}–{max}",
            s.chars().count()
        )),
        None => problems.push(format!("{k}: missing required string")),
    };
    need_str("SchemaVersion", 1, 64);
    need_str("Id", 1, 512);
    need_str("ProductArn", 12, 2048);
    need_str("GeneratorId", 1, 512);
    need_str("AwsAccountId", 12, 12);
    need_str("CreatedAt", 1, 64);
    need_str("UpdatedAt", 1, 64);
    need_str("Title", 1, 256);
    need_str("Description", 1, 1024);
    for k in [
        "CreatedAt",
        "UpdatedAt",
        "FirstObservedAt",
        "LastObservedAt",
    ] {
        if let Some(s) = m.get(k).and_then(Value::as_str)
            && DateTime::parse_from_rfc3339(s).is_err()
        {
            problems.push(format!("{k}: not an RFC 3339 time"));
        }
    }
    match m.get("Types").and_then(Value::as_array) {
        Some(t) if (1..=50).contains(&t.len()) => {
            for (i, ty) in t.iter().enumerate() {
                let ns = ty.as_str().and_then(|s| s.split('/').next()).unwrap_or("");
                if ![
                    "Software and Configuration Checks",
                    "TTPs",
                    "Effects",
                    "Unusual Behaviors",
                    "Sensitive Data Identifications",
                ]
                .contains(&ns)
                {
                    problems.push(format!("Types[{i}]: unknown namespace {ns:?}"));
                }
            }
        }
        _ => problems.push("Types: expected 1–50 entries".into()),
    }
    let label = m
        .get("Severity")
        .and_then(|s| s.get("Label"))
        .and_then(Value::as_str);
    if !label.is_some_and(|l| ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"].contains(&l)) {
        problems.push("Severity.Label: missing or not a documented label".into());
    }
    match m.get("Resources").and_then(Value::as_array) {
        Some(r) if (1..=32).contains(&r.len()) => {
            for (i, res) in r.iter().enumerate() {
                for k in ["Type", "Id"] {
                    if res.get(k).and_then(Value::as_str).is_none_or(str::is_empty) {
                        problems.push(format!("Resources[{i}].{k}: missing"));
                    }
                }
            }
        }
        _ => problems.push("Resources: expected 1–32 resources".into()),
    }
    if let Some(s) = m
        .get("Workflow")
        .and_then(|w| w.get("Status"))
        .and_then(Value::as_str)
        && !["NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"].contains(&s)
    {
        problems.push(format!("Workflow.Status: {s:?} is not a documented status"));
    }
    if let Some(pf) = m.get("ProductFields").and_then(Value::as_object) {
        if pf.len() > 50 {
            problems.push("ProductFields: more than 50 pairs".into());
        }
        for (k, v) in pf {
            let ok =
                k.chars().count() <= 128 && v.as_str().is_some_and(|s| s.chars().count() <= 2048);
            if !ok {
                problems.push(format!(
                    "ProductFields.{k}: key over 128 or value over 2048 characters, or not a string"
                ));
            }
        }
    }
    if let Some(t) = m
        .get("Remediation")
        .and_then(|r| r.get("Recommendation"))
        .and_then(|r| r.get("Text"))
        .and_then(Value::as_str)
        && t.chars().count() > 512
    {
        problems.push("Remediation.Recommendation.Text: over 512 characters".into());
    }
    if serde_json::to_vec(finding).map_or(0, |v| v.len()) > MAX_FINDING_BYTES {
        problems.push("(root): over 240 KB".into());
    }
    problems
}
