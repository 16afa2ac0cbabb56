//! The storage contract: triage queries, the lifecycle with its audit trail, suppression on
//! ingest, feedback and suppression-rule management, as one object-safe trait that every
//! backend implements and every backend is tested against the same way (the conformance suite
//! in `vigil-testkit`).
//!
//! [`MemoryStore`] is the reference implementation: simple, correct and **not durable**.
//!
//! ```
//! use chrono::Utc;
//! use vigil_core::store::{AlertQuery, MemoryStore, StatusChange, Store, TenantId};
//! use vigil_core::{defender, Status};
//!
//! let store = MemoryStore::new();
//! let tenant = TenantId::new("contoso")?;
//! let alerts = defender::parse_alerts(include_str!("../../../../fixtures/alerts/sample-alerts.json"))?;
//! let report = store.ingest(&tenant, &alerts, Utc::now())?;
//! assert_eq!(report.new, alerts.len());
//!
//! // The triage queue: Dismissed hidden, most severe then most recent first.
//! let page = store.query(&tenant, &AlertQuery::default())?;
//! let top = &page.alerts[0];
//!
//! // Respond, with optimistic concurrency and an audit trail.
//! let change = StatusChange::new(Status::Resolved, "alice").comment("handled");
//! let updated = store.change_status(&tenant, top.alert.system_alert_id(), top.version, change, Utc::now())?;
//! assert_eq!(updated.alert.status(), Status::Resolved);
//! assert!(!store.history(&tenant, top.alert.system_alert_id())?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod memory;
mod query;
mod types;

pub use memory::MemoryStore;
pub use query::{
    AlertQuery, Counts, Cursor, Order, Page, ResourceFilter, SortKey, entity_values,
    priority_score, resource_ids,
};
pub use types::{
    AuditEntry, BulkOutcome, ErrorKind, Feedback, FeedbackQuery, FeedbackReason, IngestReport,
    RelatedAlert, Relation, Simulation, StatusChange, StoreError, StoredAlert, StoredRule,
    Suppression, TenantId,
};

use chrono::{DateTime, Utc};

use crate::AlertId;
use crate::suppression::SuppressionRule;

/// A place alerts live: the whole triage workflow as one contract.
///
/// Synchronous and object-safe (`Arc<dyn Store>` works). Every operation is scoped to a
/// [`TenantId`] (Defender's subscription): nothing in one tenant is readable or writable through
/// another tenant's scope. Operations that act at a moment take it as `at` (pass `Utc::now()`),
/// which keeps stores deterministic under test. A missing alert is `Ok(None)` from the getters and
/// [`ErrorKind::NotFound`] from the operations that need one.
///
/// Invariants every implementation keeps (and the conformance suite checks):
/// - suppression never deletes: a suppressed alert is stored as Dismissed, with the rule's name
///   and reason;
/// - the audit trail is append-only, one entry per status change, in order;
/// - a status change with a stale version is a [`ErrorKind::Conflict`] and changes nothing;
/// - an ingest batch is atomic: on error, nothing of it is visible.
pub trait Store: Send + Sync {
    /// Stores a batch of alerts atomically. An alert whose system id is already stored (or
    /// appeared earlier in the same batch) is updated (its content replaced, its version bumped)
    /// without duplicating it, and keeps its stored status. New alerts get insertion sequence
    /// numbers in batch order (the tiebreak of every order).
    ///
    /// A new *open* alert (Active or InProgress) is checked against the tenant's active
    /// suppression rules at `at`: if one matches, the alert is stored Dismissed, with the first
    /// matching rule (in rule creation order) recorded, an audit entry by `rule:<name>`, and the
    /// rule's hit count and last-matched time updated. Alerts that arrive already closed are
    /// stored as they are.
    fn ingest(
        &self,
        tenant: &TenantId,
        alerts: &[crate::Alert],
        at: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError>;

    /// One page of the triage queue.
    fn query(&self, tenant: &TenantId, query: &AlertQuery) -> Result<Page, StoreError>;

    /// Counts per severity and per status of every alert the query's filters select (ignoring
    /// its order, limit and cursor): the dashboard header.
    fn counts(&self, tenant: &TenantId, query: &AlertQuery) -> Result<Counts, StoreError>;

    /// One alert by its system alert id.
    fn get(&self, tenant: &TenantId, id: &AlertId) -> Result<Option<StoredAlert>, StoreError>;

    /// Alerts related to one alert: same correlation key, same compromised entity, or a shared
    /// entity value; each once, with every relation that holds. At most `limit`.
    fn related(
        &self,
        tenant: &TenantId,
        id: &AlertId,
        limit: usize,
    ) -> Result<Vec<RelatedAlert>, StoreError>;

    /// Changes an alert's status through the lifecycle, if its version is still `expected_version`,
    /// appending to its audit trail. Errors: [`ErrorKind::NotFound`], [`ErrorKind::Conflict`]
    /// (stale version; nothing changed), [`ErrorKind::InvalidInput`] (illegal transition).
    fn change_status(
        &self,
        tenant: &TenantId,
        id: &AlertId,
        expected_version: u64,
        change: StatusChange,
        at: DateTime<Utc>,
    ) -> Result<StoredAlert, StoreError>;

    /// Changes the status of every alert the query selects (all pages), each at its current
    /// version; returns one outcome per alert. Alerts already in the target status are reported
    /// as illegal transitions, not changed.
    fn bulk_change_status(
        &self,
        tenant: &TenantId,
        query: &AlertQuery,
        change: StatusChange,
        at: DateTime<Utc>,
    ) -> Result<Vec<BulkOutcome>, StoreError>;

    /// The alert's audit trail, oldest first ([`ErrorKind::NotFound`] if there is no such
    /// alert).
    fn history(&self, tenant: &TenantId, id: &AlertId) -> Result<Vec<AuditEntry>, StoreError>;

    /// Records feedback on an alert ([`ErrorKind::NotFound`] if there is no such alert).
    fn add_feedback(
        &self,
        tenant: &TenantId,
        id: &AlertId,
        feedback: Feedback,
    ) -> Result<(), StoreError>;

    /// Feedback, oldest first, optionally for one alert or one verdict.
    fn list_feedback(
        &self,
        tenant: &TenantId,
        query: &FeedbackQuery,
    ) -> Result<Vec<(AlertId, Feedback)>, StoreError>;

    /// Adds a rule; [`ErrorKind::AlreadyExists`] if the name is taken, [`ErrorKind::InvalidInput`]
    /// if it does not compile.
    fn create_rule(
        &self,
        tenant: &TenantId,
        rule: SuppressionRule,
        at: DateTime<Utc>,
    ) -> Result<StoredRule, StoreError>;

    /// A rule by name.
    fn get_rule(&self, tenant: &TenantId, name: &str) -> Result<Option<StoredRule>, StoreError>;

    /// Every rule, in creation order.
    fn list_rules(&self, tenant: &TenantId) -> Result<Vec<StoredRule>, StoreError>;

    /// Replaces a rule (same name) if its version is still `expected_version`.
    fn update_rule(
        &self,
        tenant: &TenantId,
        rule: SuppressionRule,
        expected_version: u64,
        at: DateTime<Utc>,
    ) -> Result<StoredRule, StoreError>;

    /// Deletes a rule. Alerts it already dismissed stay dismissed (as in Defender).
    fn delete_rule(&self, tenant: &TenantId, name: &str) -> Result<(), StoreError>;

    /// How many stored alerts (of every status) `rule` would match at `at`, by status, with up
    /// to `sample` example ids, most recent first. A disabled or expired rule matches nothing.
    /// Nothing is changed.
    fn simulate(
        &self,
        tenant: &TenantId,
        rule: &SuppressionRule,
        at: DateTime<Utc>,
        sample: usize,
    ) -> Result<Simulation, StoreError>;

    /// Applies a stored rule to existing open (Active or InProgress) alerts: each match is
    /// dismissed with an audit entry by `actor`, and recorded as suppressed by the rule. Returns
    /// the dismissed ids.
    fn apply_rule(
        &self,
        tenant: &TenantId,
        name: &str,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<AlertId>, StoreError>;
}

/// Disables a rule: a convenience over [`Store::get_rule`] and [`Store::update_rule`].
pub fn disable_rule(
    store: &dyn Store,
    tenant: &TenantId,
    name: &str,
    at: DateTime<Utc>,
) -> Result<StoredRule, StoreError> {
    let stored = store.get_rule(tenant, name)?.ok_or_else(|| {
        StoreError::new(
            ErrorKind::NotFound,
            format!("no suppression rule named {name:?}"),
        )
    })?;
    let mut rule = stored.rule;
    rule.set_state(crate::suppression::RuleState::Disabled);
    store.update_rule(tenant, rule, stored.version, at)
}
