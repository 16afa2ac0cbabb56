//! The alert model.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::attack::TechniqueId;
use crate::entity::{lookup, set_loose};
use crate::{Entity, Error, JsonMap, KillChainIntent, Severity, Status};

/// An alert identifier: Defender's `systemAlertId`, or an alert's ARM resource `name` (see
/// [`Alert::id`] for which one identifies an alert). Never blank and never holding a control
/// character, so that every id can be typed on a command line and printed on a terminal.
///
/// ```
/// use vigil_core::AlertId;
///
/// let id = AlertId::new("2518298467986649999_4d25bfef")?;
/// assert_eq!(id.as_str(), "2518298467986649999_4d25bfef");
/// assert!(AlertId::new("  ").is_err());
/// assert!(AlertId::new("a\u{0}b").is_err());
/// # Ok::<(), vigil_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AlertId(pub(crate) String);

impl AlertId {
    /// Wraps an id; blank text and text holding a control character (NUL, a line break, an
    /// escape, …) are rejected.
    pub fn new(id: impl Into<String>) -> Result<AlertId, Error> {
        let id = id.into();
        match id_problem(&id) {
            Some(reason) => Err(Error::invalid("alert id", id, reason)),
            None => Ok(AlertId(id)),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why `id` cannot be an alert id, if it cannot.
pub(crate) fn id_problem(id: &str) -> Option<&'static str> {
    if id.trim().is_empty() {
        Some("an alert id must not be empty")
    } else if id.chars().any(char::is_control) {
        Some("an alert id must not hold control characters (NUL, line breaks, escapes, …)")
    } else {
        None
    }
}

impl fmt::Display for AlertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AlertId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        AlertId::new(s)
    }
}

impl AsRef<str> for AlertId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for AlertId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AlertId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        AlertId::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Where an alert routes to: the alerted Azure resource, a Log Analytics workspace, or a kind
/// Vigil does not know (kept verbatim).
///
/// Keys are read case-insensitively (2020-01-01 documents spell them in PascalCase) and written
/// in the 2022-01-01 camelCase form; unknown keys are kept in `extra` and written back.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ResourceIdentifier {
    /// `type: "AzureResource"`.
    AzureResource {
        /// ARM id of the alerted resource.
        azure_resource_id: String,
        /// Any other keys, verbatim.
        extra: JsonMap,
    },
    /// `type: "LogAnalytics"`.
    LogAnalytics {
        /// The workspace id (a GUID).
        workspace_id: String,
        /// The workspace's subscription.
        workspace_subscription_id: Option<String>,
        /// The workspace's resource group.
        workspace_resource_group: Option<String>,
        /// The agent that reported the alert.
        agent_id: Option<String>,
        /// Any other keys, verbatim.
        extra: JsonMap,
    },
    /// Any other `type`; `properties` holds the whole object, `type` included.
    Other {
        /// The `type` value as written.
        type_name: String,
        /// The object, verbatim.
        properties: JsonMap,
    },
}

impl ResourceIdentifier {
    /// An `AzureResource` identifier.
    pub fn azure_resource(azure_resource_id: impl Into<String>) -> ResourceIdentifier {
        ResourceIdentifier::AzureResource {
            azure_resource_id: azure_resource_id.into(),
            extra: JsonMap::new(),
        }
    }

    /// The identifier's `type` as written by Vigil (`"AzureResource"`, `"LogAnalytics"`, or the
    /// kept type of an unknown kind).
    pub fn type_name(&self) -> &str {
        match self {
            ResourceIdentifier::AzureResource { .. } => "AzureResource",
            ResourceIdentifier::LogAnalytics { .. } => "LogAnalytics",
            ResourceIdentifier::Other { type_name, .. } => type_name,
        }
    }

    /// A property by its 2022-01-01 name (`azureResourceId`, `workspaceId`, …), matched
    /// case-insensitively, as a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self {
            ResourceIdentifier::AzureResource {
                azure_resource_id,
                extra,
            } => {
                if key.eq_ignore_ascii_case("azureResourceId") {
                    Some(azure_resource_id)
                } else if key.eq_ignore_ascii_case("type") {
                    Some(self.type_name())
                } else {
                    lookup(extra, key).and_then(Value::as_str)
                }
            }
            ResourceIdentifier::LogAnalytics {
                workspace_id,
                workspace_subscription_id,
                workspace_resource_group,
                agent_id,
                extra,
            } => match key.to_ascii_lowercase().as_str() {
                "workspaceid" => Some(workspace_id),
                "workspacesubscriptionid" => workspace_subscription_id.as_deref(),
                "workspaceresourcegroup" => workspace_resource_group.as_deref(),
                "agentid" => agent_id.as_deref(),
                "type" => Some(self.type_name()),
                _ => lookup(extra, key).and_then(Value::as_str),
            },
            ResourceIdentifier::Other { properties, .. } => {
                lookup(properties, key).and_then(Value::as_str)
            }
        }
    }
}

/// A related link of an alert (`extendedLinks[]`): Defender writes `Category`, `Label`, `Href`
/// and `Type`; every key is kept, in order.
///
/// ```
/// use vigil_core::ExtendedLink;
///
/// let link = ExtendedLink::new("https://example.com/report", "Threat report")
///     .with("Category", "threat_reports")
///     .with("Type", "webLink");
/// assert_eq!(link.href(), Some("https://example.com/report"));
/// assert_eq!(link.category(), Some("threat_reports"));
/// assert_eq!(link.as_json().len(), 4);
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ExtendedLink(JsonMap);

impl ExtendedLink {
    /// A link with `Href` and `Label`.
    pub fn new(href: impl Into<String>, label: impl Into<String>) -> ExtendedLink {
        let mut m = JsonMap::new();
        m.insert("Label".into(), Value::String(label.into()));
        m.insert("Href".into(), Value::String(href.into()));
        ExtendedLink(m)
    }

    /// A link from its JSON object, kept verbatim.
    pub fn from_json(link: JsonMap) -> ExtendedLink {
        ExtendedLink(link)
    }

    /// Sets a key (replacing one whose name matches case-insensitively), for building.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> ExtendedLink {
        set_loose(&mut self.0, key, value.into());
        self
    }

    /// The link's JSON object, verbatim.
    pub fn as_json(&self) -> &JsonMap {
        &self.0
    }

    /// The link's JSON object, taken out.
    pub fn into_json(self) -> JsonMap {
        self.0
    }

    /// A key's value, matched case-insensitively.
    pub fn get(&self, key: &str) -> Option<&Value> {
        lookup(&self.0, key)
    }

    fn field(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// `Href`: the link target.
    pub fn href(&self) -> Option<&str> {
        self.field("Href")
    }

    /// `Label`: the link text.
    pub fn label(&self) -> Option<&str> {
        self.field("Label")
    }

    /// `Category`, e.g. `threat_reports`.
    pub fn category(&self) -> Option<&str> {
        self.field("Category")
    }

    /// `Type`, e.g. `webLink`.
    pub fn link_type(&self) -> Option<&str> {
        self.field("Type")
    }
}

/// The evidence Defender attaches to an alert (`supportingEvidence`). Its shape depends on its
/// `type` (`tabularEvidences`, `supportingEvidenceList`, …), so it is kept verbatim.
///
/// ```
/// use vigil_core::{SupportingEvidence, Value, json};
///
/// let Value::Object(m) = json!({"type": "tabularEvidences", "title": "Logons"}) else {
///     unreachable!()
/// };
/// let evidence = SupportingEvidence::from_json(m);
/// assert_eq!(evidence.evidence_type(), Some("tabularEvidences"));
/// assert_eq!(evidence.get("title"), Some(&json!("Logons")));
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SupportingEvidence(JsonMap);

impl SupportingEvidence {
    /// Evidence from its JSON object, kept verbatim.
    pub fn from_json(evidence: JsonMap) -> SupportingEvidence {
        SupportingEvidence(evidence)
    }

    /// The evidence's JSON object, verbatim.
    pub fn as_json(&self) -> &JsonMap {
        &self.0
    }

    /// The evidence's JSON object, taken out.
    pub fn into_json(self) -> JsonMap {
        self.0
    }

    /// A key's value, matched case-insensitively.
    pub fn get(&self, key: &str) -> Option<&Value> {
        lookup(&self.0, key)
    }

    /// The evidence's `type`.
    pub fn evidence_type(&self) -> Option<&str> {
        self.get("type").and_then(Value::as_str)
    }
}

/// One security alert, with every property of Defender for Cloud's 2022-01-01 alert resource.
///
/// Make one with [`crate::defender::parse_alerts`] or [`Alert::builder`]. Properties are read
/// through accessors; the status changes only through [`Alert::transition`], the checked
/// lifecycle. Properties a document carries that Vigil does not model are kept
/// ([`Alert::additional_properties`]) and written back by `Serialize`, which produces the
/// 2022-01-01 ARM resource form (`{"id", "name", "type", "properties": {…}}`).
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use vigil_core::{Alert, AlertId, Entity, KillChainIntent, Severity, Status};
///
/// let alert = Alert::builder(
///     AlertId::new("a-1")?,
///     "VM_SuspiciousPowerShell",
///     "Suspicious PowerShell command line",
///     Severity::Medium,
///     Utc.with_ymd_and_hms(2026, 11, 2, 8, 30, 0).unwrap(),
/// )
/// .intent(KillChainIntent::Execution)
/// .entity(Entity::host("vm1"))
/// .entity(Entity::process("powershell.exe -enc SQBFAFgA"))
/// .compromised_entity("vm1")
/// .build();
///
/// assert_eq!(alert.status(), Status::Active);
/// assert_eq!(alert.entities().len(), 2);
/// let json = serde_json::to_value(&alert)?;
/// assert_eq!(json["properties"]["severity"], "Medium");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub(crate) resource_id: Option<String>,
    pub(crate) name: Option<AlertId>,
    pub(crate) resource_type: Option<String>,
    pub(crate) envelope_extra: JsonMap,
    pub(crate) version: Option<String>,
    pub(crate) alert_type: String,
    pub(crate) system_alert_id: AlertId,
    pub(crate) product_component_name: Option<String>,
    pub(crate) display_name: String,
    pub(crate) description: Option<String>,
    pub(crate) severity: Severity,
    pub(crate) intents: Vec<KillChainIntent>,
    pub(crate) start_time: Option<DateTime<Utc>>,
    pub(crate) end_time: Option<DateTime<Utc>>,
    pub(crate) resource_identifiers: Vec<ResourceIdentifier>,
    pub(crate) remediation_steps: Vec<String>,
    pub(crate) vendor_name: Option<String>,
    pub(crate) status: Status,
    pub(crate) extended_links: Vec<ExtendedLink>,
    pub(crate) alert_uri: Option<String>,
    pub(crate) time_generated: DateTime<Utc>,
    pub(crate) product_name: Option<String>,
    pub(crate) processing_end_time: Option<DateTime<Utc>>,
    pub(crate) entities: Vec<Entity>,
    pub(crate) is_incident: bool,
    pub(crate) correlation_key: Option<String>,
    pub(crate) extended_properties: JsonMap,
    pub(crate) compromised_entity: Option<String>,
    pub(crate) techniques: Vec<TechniqueId>,
    pub(crate) sub_techniques: Vec<TechniqueId>,
    pub(crate) supporting_evidence: Option<SupportingEvidence>,
    pub(crate) extra: JsonMap,
}

impl Alert {
    /// Starts building an alert from its required properties: the unique id (`systemAlertId`),
    /// the detection's type (`alertType`), the display name, the severity and the time it was
    /// generated. The status starts as [`Status::Active`].
    pub fn builder(
        system_alert_id: AlertId,
        alert_type: impl Into<String>,
        display_name: impl Into<String>,
        severity: Severity,
        time_generated: DateTime<Utc>,
    ) -> AlertBuilder {
        AlertBuilder {
            alert: Alert {
                resource_id: None,
                name: None,
                resource_type: None,
                envelope_extra: JsonMap::new(),
                version: None,
                alert_type: alert_type.into(),
                system_alert_id,
                product_component_name: None,
                display_name: display_name.into(),
                description: None,
                severity,
                intents: Vec::new(),
                start_time: None,
                end_time: None,
                resource_identifiers: Vec::new(),
                remediation_steps: Vec::new(),
                vendor_name: None,
                status: Status::Active,
                extended_links: Vec::new(),
                alert_uri: None,
                time_generated,
                product_name: None,
                processing_end_time: None,
                entities: Vec::new(),
                is_incident: false,
                correlation_key: None,
                extended_properties: JsonMap::new(),
                compromised_entity: None,
                techniques: Vec::new(),
                sub_techniques: Vec::new(),
                supporting_evidence: None,
                extra: JsonMap::new(),
            },
            arm: None,
            state: PhantomData,
        }
    }

    /// A builder holding this alert, to make a changed copy. It keeps the alert's status: status
    /// changes go through [`Alert::transition`], the checked lifecycle.
    ///
    /// ```
    /// use vigil_core::chrono::Utc;
    /// use vigil_core::{Alert, AlertId, Severity};
    ///
    /// let a = Alert::builder(AlertId::new("a1")?, "VM_EICAR", "Test", Severity::High, Utc::now()).build();
    /// let b = a.clone().into_builder().description("seen twice").build();
    /// assert_eq!(b.description(), Some("seen twice"));
    /// assert_eq!(b.status(), a.status());
    /// # Ok::<(), vigil_core::Error>(())
    /// ```
    pub fn into_builder(self) -> AlertBuilder<ExistingAlert> {
        AlertBuilder {
            alert: self,
            arm: None,
            state: PhantomData,
        }
    }

    /// A copy of this alert under another id: `id` becomes its `systemAlertId` and, if it has
    /// an ARM `name`, its name too (and the last segment of its ARM `id` when that segment was
    /// the name). Everything else, the status included, is copied. This is how to make "the same
    /// alert again" (a repeat, a test double) without editing JSON.
    ///
    /// ```
    /// use vigil_core::chrono::Utc;
    /// use vigil_core::{Alert, AlertId, Severity};
    ///
    /// let a = Alert::builder(AlertId::new("a1")?, "VM_EICAR", "Test", Severity::High, Utc::now())
    ///     .arm("sub-1", "westeurope")
    ///     .build();
    /// let b = a.with_id(AlertId::new("a2")?);
    /// assert_eq!(b.id().as_str(), "a2");
    /// assert_eq!(b.system_alert_id().as_str(), "a2");
    /// assert_eq!(
    ///     b.resource_id(),
    ///     Some("/subscriptions/sub-1/providers/Microsoft.Security/locations/westeurope/alerts/a2")
    /// );
    /// assert_eq!(b.alert_type(), a.alert_type());
    /// # Ok::<(), vigil_core::Error>(())
    /// ```
    pub fn with_id(&self, id: AlertId) -> Alert {
        let mut copy = self.clone();
        if let Some(old) = copy.name.replace(id.clone())
            && let Some(rid) = &mut copy.resource_id
            && let Some(stem) = rid.strip_suffix(old.as_str())
            && stem.ends_with('/')
        {
            *rid = format!("{stem}{id}");
        }
        if self.name.is_none() {
            copy.name = None;
        }
        copy.system_alert_id = id;
        copy
    }

    /// Sets the status of an alert whose stored status outlives a new copy of its content (an
    /// alert ingested again keeps the status a person gave it). This is **not** a status change
    /// and skips the lifecycle on purpose: it restores what was already the alert's status.
    /// Status changes go through [`Alert::transition`].
    pub(crate) fn keep_status(&mut self, status: Status) {
        self.status = status;
    }

    /// Changes the status through the checked lifecycle ([`Status::transition`]) and returns the
    /// previous status. On an illegal transition the alert is left unchanged.
    pub fn transition(&mut self, to: Status) -> Result<Status, Error> {
        let next = self.status.transition(to)?;
        Ok(std::mem::replace(&mut self.status, next))
    }

    /// The ARM resource id (`id`), e.g.
    /// `/subscriptions/…/providers/Microsoft.Security/locations/westeurope/alerts/…`.
    pub fn resource_id(&self) -> Option<&str> {
        self.resource_id.as_deref()
    }

    /// The ARM resource name (`name`), used in URLs. Need not equal the system alert id.
    pub fn name(&self) -> Option<&str> {
        self.name.as_ref().map(AlertId::as_str)
    }

    /// The alert's identity: its ARM resource name when it has one, else its system alert id
    /// (the flat export event carries no name). Two resources with different names are two
    /// alerts even when they repeat one `systemAlertId` (Microsoft's own list example does);
    /// stores key alerts by this id and also find them by their system alert id.
    ///
    /// ```
    /// use chrono::Utc;
    /// use vigil_core::{Alert, AlertId, Severity};
    ///
    /// let sys = AlertId::new("2518298467986649999_4d25bfef")?;
    /// let flat = Alert::builder(sys.clone(), "VM_EICAR", "Test", Severity::High, Utc::now()).build();
    /// assert_eq!(flat.id(), &sys);
    /// let named = flat.clone().into_builder().name(AlertId::new("a-1")?).build();
    /// assert_eq!(named.id().as_str(), "a-1");
    /// assert_eq!(named.system_alert_id(), &sys);
    /// # Ok::<(), vigil_core::Error>(())
    /// ```
    pub fn id(&self) -> &AlertId {
        self.name.as_ref().unwrap_or(&self.system_alert_id)
    }

    /// The ARM resource type (`type`), normally `Microsoft.Security/Locations/alerts`.
    pub fn resource_type(&self) -> Option<&str> {
        self.resource_type.as_deref()
    }

    /// The schema version (`version`), e.g. `2022-01-01`.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The detection's identifier (`alertType`), shared by every alert of that detection.
    pub fn alert_type(&self) -> &str {
        &self.alert_type
    }

    /// The unique id of this alert instance (`systemAlertId`).
    pub fn system_alert_id(&self) -> &AlertId {
        &self.system_alert_id
    }

    /// The Defender plan that raised the alert (`productComponentName`); may be empty.
    pub fn product_component_name(&self) -> Option<&str> {
        self.product_component_name.as_deref()
    }

    /// The alert's display name (`alertDisplayName`).
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// What was detected (`description`).
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The severity.
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// The kill-chain intents (`intent`); Defender's single string may list several.
    pub fn intents(&self) -> &[KillChainIntent] {
        &self.intents
    }

    /// Time of the first event or activity in the alert (`startTimeUtc`).
    pub fn start_time(&self) -> Option<DateTime<Utc>> {
        self.start_time
    }

    /// Time of the last event or activity in the alert (`endTimeUtc`).
    pub fn end_time(&self) -> Option<DateTime<Utc>> {
        self.end_time
    }

    /// Where the alert routes to (`resourceIdentifiers`).
    pub fn resource_identifiers(&self) -> &[ResourceIdentifier] {
        &self.resource_identifiers
    }

    /// The ARM id of the first `AzureResource` identifier: the affected resource.
    pub fn azure_resource_id(&self) -> Option<&str> {
        self.resource_identifiers.iter().find_map(|r| match r {
            ResourceIdentifier::AzureResource {
                azure_resource_id, ..
            } => Some(azure_resource_id.as_str()),
            _ => None,
        })
    }

    /// Manual remediation steps (`remediationSteps`).
    pub fn remediation_steps(&self) -> &[String] {
        &self.remediation_steps
    }

    /// The vendor (`vendorName`), e.g. `Microsoft`.
    pub fn vendor_name(&self) -> Option<&str> {
        self.vendor_name.as_deref()
    }

    /// The current status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Related links (`extendedLinks`).
    pub fn extended_links(&self) -> &[ExtendedLink] {
        &self.extended_links
    }

    /// Deep link to the alert in the Azure portal (`alertUri`).
    pub fn alert_uri(&self) -> Option<&str> {
        self.alert_uri.as_deref()
    }

    /// When the alert was generated (`timeGeneratedUtc`): the time the triage queue orders by.
    pub fn time_generated(&self) -> DateTime<Utc> {
        self.time_generated
    }

    /// The publishing product (`productName`), e.g. `Azure Security Center`.
    pub fn product_name(&self) -> Option<&str> {
        self.product_name.as_deref()
    }

    /// When processing of the alert finished (`processingEndTimeUtc`).
    pub fn processing_end_time(&self) -> Option<DateTime<Utc>> {
        self.processing_end_time
    }

    /// The related entities.
    pub fn entities(&self) -> &[Entity] {
        &self.entities
    }

    /// The entity with the given `$id`, for following `{"$ref": …}` links between entities.
    pub fn entity_by_id(&self, id: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.entity_id() == Some(id))
    }

    /// The entity that property `key` of `entity` links to with `{"$ref": …}` (see
    /// [`Entity::with_ref`]), if the alert has an entity with that `$id`.
    ///
    /// ```
    /// use vigil_core::chrono::Utc;
    /// use vigil_core::{Alert, AlertId, Entity, Severity};
    ///
    /// let alert = Alert::builder(AlertId::new("a1")?, "VM_X", "X", Severity::Low, Utc::now())
    ///     .entity(Entity::host("vm1").with_entity_id("1"))
    ///     .entity(Entity::process("cmd.exe /c whoami").with_ref("host", "1"))
    ///     .build();
    /// let process = &alert.entities()[1];
    /// let host = alert.follow(process, "host").and_then(|e| e.as_host());
    /// assert_eq!(host.and_then(|h| h.host_name()), Some("vm1"));
    /// # Ok::<(), vigil_core::Error>(())
    /// ```
    pub fn follow(&self, entity: &Entity, key: &str) -> Option<&Entity> {
        self.entity_by_id(entity.reference(key)?)
    }

    /// `true` for an incident (a group of alerts), `false` for a single alert.
    pub fn is_incident(&self) -> bool {
        self.is_incident
    }

    /// Alerts sharing this key are related (`correlationKey`).
    pub fn correlation_key(&self) -> Option<&str> {
        self.correlation_key.as_deref()
    }

    /// Custom per-alert properties (`extendedProperties`), values of any JSON type.
    pub fn extended_properties(&self) -> &JsonMap {
        &self.extended_properties
    }

    /// One extended property, by key matched case-insensitively.
    pub fn extended_property(&self, key: &str) -> Option<&Value> {
        lookup(&self.extended_properties, key)
    }

    /// Sets an extended property (Defender lets clients write these).
    pub fn set_extended_property(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.extended_properties.insert(key.into(), value.into());
    }

    /// Display name of the resource most related to the alert (`compromisedEntity`).
    pub fn compromised_entity(&self) -> Option<&str> {
        self.compromised_entity.as_deref()
    }

    /// MITRE ATT&CK technique ids (`techniques`).
    pub fn techniques(&self) -> &[TechniqueId] {
        &self.techniques
    }

    /// MITRE ATT&CK sub-technique ids (`subTechniques`).
    pub fn sub_techniques(&self) -> &[TechniqueId] {
        &self.sub_techniques
    }

    /// The supporting evidence, verbatim.
    pub fn supporting_evidence(&self) -> Option<&SupportingEvidence> {
        self.supporting_evidence.as_ref()
    }

    /// Sets the supporting evidence (Defender lets clients write it).
    pub fn set_supporting_evidence(&mut self, evidence: Option<SupportingEvidence>) {
        self.supporting_evidence = evidence;
    }

    /// Properties inside `properties` that Vigil does not model, kept verbatim.
    pub fn additional_properties(&self) -> &JsonMap {
        &self.extra
    }

    /// Keys next to `properties` in the resource other than `id`, `name` and `type`, kept
    /// verbatim (some 2020-01-01 documents put `extendedProperties` there).
    pub fn additional_resource_properties(&self) -> &JsonMap {
        &self.envelope_extra
    }
}

/// The ARM resource type of an alert, `Microsoft.Security/Locations/alerts`.
pub const ALERT_RESOURCE_TYPE: &str = "Microsoft.Security/Locations/alerts";

/// Builds an [`Alert`] in Rust; see [`Alert::builder`]. Every method sets one optional property.
///
/// The type parameter says where the builder came from: [`Alert::builder`] gives an
/// `AlertBuilder<NewAlert>`, which may set the initial status ([`AlertBuilder::status`]);
/// [`Alert::into_builder`] gives an `AlertBuilder<ExistingAlert>`, which keeps the alert's status
/// (a status *change* goes through [`Alert::transition`], the checked lifecycle):
///
/// ```compile_fail
/// # use vigil_core::{Alert, AlertId, Severity, Status};
/// # let at = vigil_core::chrono::Utc::now();
/// # let alert = Alert::builder(AlertId::new("a")?, "T", "t", Severity::Low, at).build();
/// let reopened = alert.into_builder().status(Status::Active).build();
/// # Ok::<(), vigil_core::Error>(())
/// ```
#[must_use = "call build() to get the alert"]
pub struct AlertBuilder<S = NewAlert> {
    alert: Alert,
    arm: Option<(String, String)>,
    state: PhantomData<fn() -> S>,
}

/// Marks an [`AlertBuilder`] for a new alert, from [`Alert::builder`]: it may set the initial
/// status.
#[derive(Debug)]
pub enum NewAlert {}

/// Marks an [`AlertBuilder`] holding an existing alert, from [`Alert::into_builder`]: it keeps
/// the alert's status.
#[derive(Debug)]
pub enum ExistingAlert {}

impl<S> Clone for AlertBuilder<S> {
    fn clone(&self) -> Self {
        AlertBuilder {
            alert: self.alert.clone(),
            arm: self.arm.clone(),
            state: PhantomData,
        }
    }
}

impl<S> fmt::Debug for AlertBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertBuilder")
            .field("alert", &self.alert)
            .field("arm", &self.arm)
            .finish()
    }
}

macro_rules! opt_string_setters {
    ($($(#[$m:meta])* $f:ident),* $(,)?) => {$(
        $(#[$m])*
        pub fn $f(mut self, value: impl Into<String>) -> Self {
            self.alert.$f = Some(value.into());
            self
        }
    )*};
}

impl<S> AlertBuilder<S> {
    opt_string_setters! {
        /// ARM resource id (`id`).
        resource_id,
        /// ARM resource type (`type`).
        resource_type,
        /// Schema version (`version`).
        version,
        /// Defender plan (`productComponentName`).
        product_component_name,
        /// Description.
        description,
        /// Vendor (`vendorName`).
        vendor_name,
        /// Portal deep link (`alertUri`).
        alert_uri,
        /// Publishing product (`productName`).
        product_name,
        /// Correlation key.
        correlation_key,
        /// Display name of the most related resource (`compromisedEntity`).
        compromised_entity,
    }

    /// ARM resource name (`name`): the alert's identity when set (see [`Alert::id`]).
    pub fn name(mut self, name: AlertId) -> Self {
        self.alert.name = Some(name);
        self
    }

    /// Writes the ARM envelope of a subscription-level alert in `location` (e.g. `westeurope`):
    /// `id` `/subscriptions/{subscription_id}/providers/Microsoft.Security/locations/{location}/alerts/{name}`,
    /// `name` (the one set with [`AlertBuilder::name`], else the system alert id) and `type`
    /// [`ALERT_RESOURCE_TYPE`] (unless [`AlertBuilder::resource_type`] set another). The id is
    /// made by [`AlertBuilder::build`], so the order of the calls does not matter.
    ///
    /// ```
    /// use vigil_core::chrono::Utc;
    /// use vigil_core::{Alert, AlertId, Severity};
    ///
    /// let alert = Alert::builder(AlertId::new("2518_4d25")?, "VM_EICAR", "Test", Severity::High, Utc::now())
    ///     .arm("00000000-0000-0000-0000-000000000001", "westeurope")
    ///     .build();
    /// assert_eq!(alert.name(), Some("2518_4d25"));
    /// assert_eq!(
    ///     alert.resource_id(),
    ///     Some("/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Security/locations/westeurope/alerts/2518_4d25")
    /// );
    /// assert_eq!(alert.resource_type(), Some("Microsoft.Security/Locations/alerts"));
    /// # Ok::<(), vigil_core::Error>(())
    /// ```
    pub fn arm(mut self, subscription_id: impl Into<String>, location: impl Into<String>) -> Self {
        self.arm = Some((subscription_id.into(), location.into()));
        self
    }

    /// Adds a kill-chain intent.
    pub fn intent(mut self, intent: KillChainIntent) -> Self {
        self.alert.intents.push(intent);
        self
    }

    /// Activity start (`startTimeUtc`).
    pub fn start_time(mut self, t: DateTime<Utc>) -> Self {
        self.alert.start_time = Some(t);
        self
    }

    /// Activity end (`endTimeUtc`).
    pub fn end_time(mut self, t: DateTime<Utc>) -> Self {
        self.alert.end_time = Some(t);
        self
    }

    /// Processing end (`processingEndTimeUtc`).
    pub fn processing_end_time(mut self, t: DateTime<Utc>) -> Self {
        self.alert.processing_end_time = Some(t);
        self
    }

    /// Adds a resource identifier.
    pub fn resource_identifier(mut self, r: ResourceIdentifier) -> Self {
        self.alert.resource_identifiers.push(r);
        self
    }

    /// Adds a remediation step.
    pub fn remediation_step(mut self, step: impl Into<String>) -> Self {
        self.alert.remediation_steps.push(step.into());
        self
    }

    /// Adds an extended link.
    pub fn extended_link(mut self, link: ExtendedLink) -> Self {
        self.alert.extended_links.push(link);
        self
    }

    /// Adds an entity.
    pub fn entity(mut self, entity: Entity) -> Self {
        self.alert.entities.push(entity);
        self
    }

    /// Marks the alert as an incident.
    pub fn incident(mut self, is_incident: bool) -> Self {
        self.alert.is_incident = is_incident;
        self
    }

    /// Sets an extended property.
    pub fn extended_property(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.alert
            .extended_properties
            .insert(key.into(), value.into());
        self
    }

    /// Adds a technique id; a sub-technique id also goes to `subTechniques`, and its parent to
    /// `techniques`, as Defender lists them.
    pub fn technique(mut self, id: TechniqueId) -> Self {
        let top = id.parent().unwrap_or(id);
        if !self.alert.techniques.contains(&top) {
            self.alert.techniques.push(top);
        }
        if id.is_sub_technique() && !self.alert.sub_techniques.contains(&id) {
            self.alert.sub_techniques.push(id);
        }
        self
    }

    /// Supporting evidence.
    pub fn supporting_evidence(mut self, evidence: SupportingEvidence) -> Self {
        self.alert.supporting_evidence = Some(evidence);
        self
    }

    /// Adds a property Vigil does not model, written back inside `properties`.
    pub fn additional_property(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.alert.extra.insert(key.into(), value.into());
        self
    }

    /// The alert.
    pub fn build(self) -> Alert {
        let mut alert = self.alert;
        if let Some((subscription, location)) = self.arm {
            let name = alert
                .name
                .get_or_insert_with(|| alert.system_alert_id.clone());
            alert.resource_id = Some(format!(
                "/subscriptions/{subscription}/providers/Microsoft.Security/locations/{location}/alerts/{name}"
            ));
            alert
                .resource_type
                .get_or_insert_with(|| ALERT_RESOURCE_TYPE.to_owned());
        }
        alert
    }
}

impl AlertBuilder<NewAlert> {
    /// Initial status (default [`Status::Active`]), for alerts recorded after the fact. Only a
    /// builder from [`Alert::builder`] has it: an existing alert's status changes through
    /// [`Alert::transition`].
    pub fn status(mut self, status: Status) -> Self {
        self.alert.status = status;
        self
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 8, 30, 0)
            .single()
            .unwrap_or_default()
    }

    fn id(s: &str) -> AlertId {
        AlertId::new(s).unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn base() -> AlertBuilder {
        Alert::builder(id("sys-1"), "VM_EICAR", "Test", Severity::High, at())
    }

    #[test]
    fn arm_uses_the_name_whenever_it_is_set() {
        let before = base().arm("s1", "westeurope").name(id("n-1")).build();
        let after = base().name(id("n-1")).arm("s1", "westeurope").build();
        assert_eq!(before, after);
        assert_eq!(
            before.resource_id(),
            Some("/subscriptions/s1/providers/Microsoft.Security/locations/westeurope/alerts/n-1")
        );
        assert_eq!(before.id().as_str(), "n-1");
        assert_eq!(before.system_alert_id().as_str(), "sys-1");
    }

    #[test]
    fn arm_keeps_a_resource_type_set_explicitly() {
        let a = base().resource_type("Custom/alerts").arm("s", "l").build();
        assert_eq!(a.resource_type(), Some("Custom/alerts"));
    }

    #[test]
    fn arm_envelope_reads_back_the_same() {
        let a = base().arm("s1", "westeurope").build();
        let json = serde_json::to_string(&a).unwrap_or_default();
        let back: Alert = serde_json::from_str(&json).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(back, a);
    }

    #[test]
    fn with_id_of_a_flat_alert_gives_it_no_name() {
        let a = base().build().with_id(id("sys-2"));
        assert_eq!(a.name(), None);
        assert_eq!(a.id().as_str(), "sys-2");
        assert_eq!(a.resource_id(), None);
    }

    #[test]
    fn with_id_leaves_a_resource_id_that_does_not_end_in_the_name() {
        let a = base()
            .name(id("n-1"))
            .resource_id("/subscriptions/s/alerts/other")
            .build()
            .with_id(id("n-2"));
        assert_eq!(a.name(), Some("n-2"));
        assert_eq!(a.resource_id(), Some("/subscriptions/s/alerts/other"));
        // A segment that merely ends with the name is not the name.
        let b = base()
            .name(id("1"))
            .resource_id("/alerts/x1")
            .build()
            .with_id(id("2"));
        assert_eq!(b.resource_id(), Some("/alerts/x1"));
    }

    #[test]
    fn with_id_keeps_the_status() {
        let a = base().status(Status::Resolved).build().with_id(id("x"));
        assert_eq!(a.status(), Status::Resolved);
    }

    #[test]
    fn keep_status_is_not_a_transition() {
        let mut a = base().status(Status::Resolved).build();
        a.keep_status(Status::InProgress);
        assert_eq!(a.status(), Status::InProgress);
    }
}
