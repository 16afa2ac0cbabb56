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
//! // The triage queue: open alerts, most severe then most recent first.
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
/// Alerts are keyed by their identity, [`crate::Alert::id`]: the ARM resource name when the
/// document has one, else the system alert id. Every operation that takes an [`AlertId`]
/// accepts either an alert's identity or its system alert id; an id that is the system alert id
/// of several alerts (and the identity of none) is [`ErrorKind::InvalidInput`], with the
/// candidates listed ([`StoreError::ambiguous_alert_id`]). Ids in results are identities.
///
/// Invariants every implementation keeps (and the conformance suite checks):
/// - suppression never deletes: a suppressed alert is stored as Dismissed, with the rule's name
///   and reason;
/// - the audit trail is append-only, one entry per status change, in order;
/// - a status change with a stale version is a [`ErrorKind::Conflict`] and changes nothing;
/// - an ingest batch is atomic: on error, nothing of it is visible.
pub trait Store: Send + Sync {
    /// Stores a batch of alerts atomically. An alert whose identity ([`crate::Alert::id`]) is
    /// already stored (or appeared earlier in the same batch) is updated (its content replaced, its version bumped)
    /// without duplicating it, and keeps its stored status. New alerts get insertion sequence
    /// numbers in batch order (the tiebreak of every order); they are
    /// counted per tenant, so a cursor reveals nothing about other tenants' activity.
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

    /// One alert by its identity or its system alert id.
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
    /// version; returns one outcome per alert, in the query's order. Alerts the lifecycle does not
    /// allow to change (including those already in the target status) get an
    /// [`ErrorKind::InvalidInput`] outcome and are left as they are. A storage failure
    /// ([`ErrorKind::Unavailable`], [`ErrorKind::Corrupt`]) fails the whole call instead.
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

    /// Applies a stored rule to existing open (Active or InProgress) alerts, all or nothing: each
    /// match is dismissed with an audit entry by `actor` ([`applied_rule_comment`]), and recorded
    /// as suppressed by the rule. Returns the dismissed ids, most recent first.
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

/// The audit comment of a suppression on ingest (actor `rule:<name>`), the same in every store.
pub fn suppression_comment(rule: &SuppressionRule) -> String {
    format!("suppressed by rule {:?} ({})", rule.name(), rule.reason())
}

/// The audit comment of [`Store::apply_rule`], the same in every store.
pub fn applied_rule_comment(rule: &SuppressionRule) -> String {
    format!(
        "suppressed by rule {:?} ({}) applied to existing alerts",
        rule.name(),
        rule.reason()
    )
}

/// How `other` relates to `me`, as [`Store::related`] defines it: the same non-empty correlation
/// key, the same compromised entity (ignoring case), and every entity value they share
/// (lower-cased, sorted, once each). Empty if they are unrelated.
pub fn relations(me: &crate::Alert, other: &crate::Alert) -> Vec<Relation> {
    let mut out = Vec::new();
    if me
        .correlation_key()
        .is_some_and(|k| !k.is_empty() && Some(k) == other.correlation_key())
    {
        out.push(Relation::CorrelationKey);
    }
    if let (Some(a), Some(b)) = (me.compromised_entity(), other.compromised_entity())
        && !a.is_empty()
        && a.to_lowercase() == b.to_lowercase()
    {
        out.push(Relation::CompromisedEntity(a.to_owned()));
    }
    let mine: Vec<String> = entity_values(me).iter().map(|v| v.to_lowercase()).collect();
    let mut shared: Vec<String> = entity_values(other)
        .iter()
        .map(|v| v.to_lowercase())
        .filter(|v| mine.contains(v))
        .collect();
    shared.sort();
    shared.dedup();
    out.extend(shared.into_iter().map(Relation::SharedEntity));
    out
}

/// Checks a rule the way the contract's rule operations do: a rule that does not compile is
/// [`ErrorKind::InvalidInput`], with every problem in the message. Returns the compiled rule.
pub fn check_rule(rule: &SuppressionRule) -> Result<crate::suppression::RuleSet, StoreError> {
    crate::suppression::RuleSet::compile([rule.clone()]).map_err(|e| {
        StoreError::with_source(
            ErrorKind::InvalidInput,
            format!("the rule does not compile: {e}"),
            e,
        )
    })
}
