//! Seeded generators of Defender-like alerts ([`AlertGenerator`]) and of suppression rules over
//! the same values ([`RuleGenerator`], [`RuleSpec`]).
//!
//! Both draw from one fixed *world*: about 300 alert types (30 product prefixes such as `VM_`,
//! `K8S.NODE_`, `SQL.DB_`, `Storage.Blob_`, `ARM_`, `KV_`, `DNS_`, `AppServices_`, each with ten
//! detections), a few subscriptions and resource groups, hosts, IP addresses, accounts, command
//! lines, files and Azure resources. The world does not depend on any seed, so the rules of one
//! seed describe the alerts of any other; the seeds only choose what is drawn. Draws are skewed
//! (Zipf-like) as in real tenants: a few alert types, hosts and addresses account for most
//! alerts, and the rules follow the same skew.
//!
//! All times are relative to [`reference_time`]: alerts are generated in the 30 days before it,
//! and rules expire before it (the expired ones) or after it.

mod alerts;
pub mod hostile;
mod rules;
mod skewed;
mod world;

pub use alerts::AlertGenerator;
pub use rules::{CondSpec, HotRules, RuleGenerator, RuleMix, RuleSpec};
pub use skewed::{SKEWED_TYPES, SkewedWorkload, skewed_fields};

use chrono::{DateTime, Utc};

/// The field paths the generated rules test, as written in their conditions (lower case, as
/// Defender documents them).
pub mod fields {
    /// The alert's type; used by rules only through their `alertType`.
    pub const ALERT_TYPE: &str = "alertType";
    /// Every IP entity's address.
    pub const IP_ADDRESS: &str = "entities.ip.address";
    /// Every host entity's host name.
    pub const HOST_NAME: &str = "entities.host.hostname";
    /// Every account entity's name.
    pub const ACCOUNT_NAME: &str = "entities.account.name";
    /// Every process entity's command line.
    pub const COMMAND_LINE: &str = "entities.process.commandline";
    /// Every file entity's name.
    pub const FILE_NAME: &str = "entities.file.name";
    /// Every file entity's directory.
    pub const FILE_DIRECTORY: &str = "entities.file.directory";
    /// Every Azure resource entity's ARM id.
    pub const RESOURCE_ID: &str = "entities.azureresource.resourceid";
    /// The alert's `compromisedEntity`.
    pub const COMPROMISED_ENTITY: &str = "compromisedEntity";
    /// The `resourceType` extended property.
    pub const RESOURCE_TYPE: &str = "extendedProperties.resourceType";

    /// Every path above that a rule condition may name (all but [`ALERT_TYPE`]).
    pub const CONDITION_FIELDS: [&str; 9] = [
        IP_ADDRESS,
        HOST_NAME,
        ACCOUNT_NAME,
        COMMAND_LINE,
        FILE_NAME,
        FILE_DIRECTORY,
        RESOURCE_ID,
        COMPROMISED_ENTITY,
        RESOURCE_TYPE,
    ];
}

/// Unix seconds of [`reference_time`]: 2026-03-01T00:00:00Z.
pub const REFERENCE_UNIX: i64 = 1_772_323_200;

/// The instant generated data is anchored to (2026-03-01T00:00:00Z): alerts are generated in the
/// 30 days before it, and a generated rule is expired exactly when its expiry is at or before it.
/// Match generated alerts against generated rules at this instant.
pub fn reference_time() -> DateTime<Utc> {
    DateTime::from_timestamp(REFERENCE_UNIX, 0).unwrap_or_default()
}

#[cfg(test)]
mod tests;
