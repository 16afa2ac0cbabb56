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
//!
//! The crate performs no I/O and never panics on input: bad input is an [`Error`] naming the
//! offending value.

pub mod alert;
pub mod attack;
pub mod defender;
pub mod entity;
pub mod error;
pub mod formats;
pub mod intent;
pub mod severity;
pub mod status;
pub mod store;
pub mod suppression;

pub use alert::{
    Alert, AlertBuilder, AlertId, ExtendedLink, ResourceIdentifier, SupportingEvidence,
};
pub use entity::{Entity, EntityKind};
pub use error::Error;
pub use intent::KillChainIntent;
pub use severity::Severity;
pub use status::Status;

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
        check::<crate::attack::Tactic>();
        check::<crate::attack::TacticId>();
        check::<crate::attack::Technique>();
        check::<crate::attack::TechniqueId>();
        check::<crate::entity::HostEntity<'static>>();
    }
}
