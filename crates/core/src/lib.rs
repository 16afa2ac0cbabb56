//! The core of Vigil: a security alert modelled exactly as Microsoft Defender for Cloud models it,
//! with its lifecycle, MITRE ATT&CK context and faithful Defender REST JSON.
//!
//! ```
//! use vigil_core::{defender, Severity, Status};
//!
//! let json = r#"{
//!   "id": "/subscriptions/s1/providers/Microsoft.Security/locations/westeurope/alerts/a1",
//!   "name": "a1",
//!   "type": "Microsoft.Security/Locations/alerts",
//!   "properties": {
//!     "alertType": "VM_EICAR",
//!     "systemAlertId": "a1",
//!     "alertDisplayName": "Test alert",
//!     "severity": "High",
//!     "status": "Active",
//!     "intent": "Execution",
//!     "timeGeneratedUtc": "2020-02-23T13:47:58.0000000Z",
//!     "entities": [{ "type": "ip", "address": "192.0.2.1" }]
//!   }
//! }"#;
//! let mut alerts = defender::parse_alerts(json)?;
//! let alert = &mut alerts[0];
//! assert_eq!(alert.severity(), Severity::High);
//! assert!(Severity::High > Severity::Low); // greater means more severe
//!
//! // Status changes go through the checked lifecycle.
//! alert.transition(Status::InProgress)?;
//! assert!(alert.transition(Status::Active).is_err()); // InProgress cannot go back to Active
//!
//! // Entities are typed views over the verbatim JSON.
//! let ip = alert.entities()[0].as_ip().and_then(|ip| ip.address());
//! assert_eq!(ip, Some("192.0.2.1".parse()?));
//!
//! // And the alert writes back as the same 2022-01-01 resource.
//! let back = serde_json::to_string(alert)?;
//! assert!(back.contains(r#""alertType":"VM_EICAR""#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Overview
//!
//! - [`Alert`]: one alert, built by [`defender::parse_alerts`] or [`Alert::builder`]. Every
//!   property Defender's 2022-01-01 API defines, plus whatever else a document carries (kept and
//!   written back).
//! - [`Severity`], [`Status`] (with [`Status::transition`], the lifecycle), [`KillChainIntent`].
//! - [`Entity`]: the alert's related hosts, accounts, IPs, processes, files, … as typed views
//!   ([`Entity::as_host`], …) over the original properties.
//! - [`attack`]: the MITRE ATT&CK Enterprise catalog (v19.1, and v18.1 for older names).
//! - [`defender`]: Defender REST JSON in and out.
//! - [`formats`]: OCSF, CEF, ASFF and Microsoft Graph alerts, with one shared mapping of
//!   severities, statuses and ATT&CK tactics ([`formats::mapping`]).
//! - [`chrono`], [`Value`] and [`json!`], re-exported for timestamps and JSON properties.
//!
//! The crate performs no I/O and never panics on input: bad input is an [`Error`] naming the
//! offending value; [`Error::kind`] says which kind.

mod alert;
pub mod attack;
pub mod automation;
pub mod defender;
mod entity;
mod error;
pub mod formats;
mod intent;
mod json;
mod serde_text;
mod severity;
mod status;
pub mod store;
pub mod suppression;
pub mod text;
mod time;

pub use alert::{
    ALERT_RESOURCE_TYPE, Alert, AlertBuilder, AlertId, ExistingAlert, ExtendedLink, NewAlert,
    ResourceIdentifier, SupportingEvidence,
};
pub use entity::{
    AccountEntity, AzureResourceEntity, ContainerEntity, ContainerImageEntity, DnsEntity, Entity,
    EntityKind, FileEntity, FileHashEntity, HostEntity, IpEntity, K8sClusterEntity,
    K8sNamespaceEntity, K8sPodEntity, MailboxEntity, MalwareEntity, NetworkConnectionEntity,
    ProcessEntity, UrlEntity,
};
pub use error::{Error, ErrorKind};
pub use intent::KillChainIntent;
pub use severity::Severity;
pub use status::Status;

/// The date and time library every timestamp of the API uses (`DateTime<Utc>`), re-exported so
/// that embedders use the same version without depending on it themselves.
///
/// ```
/// use vigil_core::chrono::{TimeZone, Utc};
///
/// let at = Utc.with_ymd_and_hms(2026, 11, 2, 8, 30, 0).single();
/// assert!(at.is_some());
/// ```
pub use chrono;
/// A JSON value and the macro that writes one, for entity properties, extended properties and
/// conditions without a `serde_json` dependency of one's own.
///
/// ```
/// use vigil_core::{Entity, Value, json};
///
/// let e = Entity::host("vm1").with("tags", json!(["prod", "web"]));
/// assert_eq!(e.get("tags"), Some(&json!(["prod", "web"])));
/// assert!(matches!(e.get("hostName"), Some(Value::String(_))));
/// ```
pub use serde_json::{Value, json};

/// A JSON object, as kept verbatim for open-ended parts of an alert (entity properties,
/// extended properties, unknown properties). Keys keep their original order.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

#[cfg(test)]
mod tests {
    /// Every public type can cross threads, so an `Arc<…>` of any of them works in servers.
    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<crate::Alert>();
        check::<crate::AlertBuilder>();
        check::<crate::AlertBuilder<crate::ExistingAlert>>();
        check::<crate::AlertId>();
        check::<crate::Entity>();
        check::<crate::EntityKind>();
        check::<crate::Error>();
        check::<crate::ExtendedLink>();
        check::<crate::KillChainIntent>();
        check::<crate::ResourceIdentifier>();
        check::<crate::Severity>();
        check::<crate::Status>();
        check::<crate::SupportingEvidence>();
        check::<crate::attack::Catalog>();
        check::<crate::store::MemoryStore>();
        check::<crate::store::Event>();
        check::<std::sync::Arc<dyn crate::store::Store>>();
        check::<crate::attack::Tactic>();
        check::<crate::attack::TacticId>();
        check::<crate::attack::Technique>();
        check::<crate::attack::TechniqueId>();
        check::<crate::HostEntity<'static>>();
        check::<crate::ErrorKind>();
    }
}
