//! The triage workflow as one contract ([`Store`]), its one implementation ([`Triage`], the
//! engine), and the storage contract under it ([`Backend`]).
//!
//! [`Triage`] decides what ingest, a status change, a rule or feedback does, and records every
//! change as an [`Event`] in the same transaction; a [`Backend`] only stores, indexes and finds
//! rows. [`MemoryBackend`] is the reference backend: simple, correct and **not durable**;
//! [`MemoryStore`] is the engine over it. Every store is tested the same way, by the
//! conformance suite in `vigil-testkit`.
//!
//! ```
//! use chrono::Utc;
//! use vigil_core::store::{AlertQuery, MemoryStore, StatusChange, Store, TenantId};
//! use vigil_core::{defender, Status};
//!
//! let store = MemoryStore::default();
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
//! let updated = store.change_status(&tenant, top.alert.id(), top.version, change, Utc::now())?;
//! assert_eq!(updated.alert.status(), Status::Resolved);
//! assert!(!store.history(&tenant, top.alert.id())?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod automations;
mod backend;
pub mod codec;
mod engine;
mod event;
mod memory;
mod query;
mod types;

pub use backend::{AlertRecord, Backend, Change, Open, ReadTx, WriteTx};
pub use engine::Triage;
pub use event::{Event, EventKind, IngestOutcome};
pub use memory::{MemoryBackend, MemoryStore};
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
use crate::automation::{
    Automation, Delivery, DeliveryQuery, DueDelivery, LeaseClaim, Outcome, PlanReport, RetryPolicy,
    StoredAutomation,
};
use crate::suppression::{Explanation, RuleWarning, SuppressionReason, SuppressionRule};

/// A rule just created, with the lints it earned (shown to whoever created it).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CreatedRule {
    /// The rule as stored.
    pub rule: StoredRule,
    /// Its lints ([`crate::suppression::admit`]).
    pub warnings: Vec<RuleWarning>,
}

/// "Suppress similar alerts": a rule prefilled from one alert (its type, and the alert's values
/// at the given field paths), optionally applied to the open alerts already stored, all in one
/// transaction ([`Store::suppress_similar`]).
///
/// ```
/// use vigil_core::AlertId;
/// use vigil_core::store::SuppressSimilar;
/// use vigil_core::suppression::SuppressionReason;
///
/// let request = SuppressSimilar::new(AlertId::new("a1")?, ["entities.host.hostname"])
///     .name("build-agents")
///     .reason(SuppressionReason::FalsePositive)
///     .apply_to_existing("alice");
/// # let _ = request;
/// # Ok::<(), vigil_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SuppressSimilar {
    /// The alert (identity or system alert id).
    pub alert: AlertId,
    /// The field paths whose values the rule requires, e.g. `entities.ip.address`.
    pub fields: Vec<String>,
    /// The rule's name; `similar-<alert id>` if `None`.
    pub name: Option<String>,
    /// The rule's reason.
    pub reason: SuppressionReason,
    /// When the rule stops matching.
    pub expires_at: Option<DateTime<Utc>>,
    /// Also dismiss the open alerts already stored that the rule matches, as this actor.
    pub apply_to_existing: Option<String>,
}

impl SuppressSimilar {
    /// A request for `alert` over `fields`, reason `SpecificEntityFalsePositive`, not applied to
    /// existing alerts.
    pub fn new<S: Into<String>>(alert: AlertId, fields: impl IntoIterator<Item = S>) -> Self {
        SuppressSimilar {
            alert,
            fields: fields.into_iter().map(Into::into).collect(),
            name: None,
            reason: SuppressionReason::SpecificEntityFalsePositive,
            expires_at: None,
            apply_to_existing: None,
        }
    }

    /// Names the rule.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the reason.
    pub fn reason(mut self, reason: SuppressionReason) -> Self {
        self.reason = reason;
        self
    }

    /// Sets an expiry.
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Also dismisses the matching open alerts already stored, as `actor`.
    pub fn apply_to_existing(mut self, actor: impl Into<String>) -> Self {
        self.apply_to_existing = Some(actor.into());
        self
    }
}

/// The whole triage workflow as one contract, implemented by [`Triage`] over any [`Backend`].
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
    fn delete_rule(
        &self,
        tenant: &TenantId,
        name: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Creates several rules atomically (all or none): each is admitted first
    /// ([`crate::suppression::admit`]: it must compile, and a rule that would suppress every
    /// alert of every type needs `force`), and each comes back with its lints.
    fn create_rules(
        &self,
        tenant: &TenantId,
        rules: Vec<SuppressionRule>,
        at: DateTime<Utc>,
        force: bool,
    ) -> Result<Vec<CreatedRule>, StoreError>;

    /// "Suppress similar alerts" in one transaction: creates the rule
    /// [`crate::suppression::similar_rule`] builds from the alert, and, if asked, applies it
    /// to the open alerts already stored. Returns the rule with its lints and the ids of the
    /// alerts it dismissed.
    fn suppress_similar(
        &self,
        tenant: &TenantId,
        request: SuppressSimilar,
        at: DateTime<Utc>,
    ) -> Result<(CreatedRule, Vec<AlertId>), StoreError>;

    /// Why the stored rule `rule` does or does not match the alert `id` at `at`.
    fn explain(
        &self,
        tenant: &TenantId,
        rule: &str,
        id: &AlertId,
        at: DateTime<Utc>,
    ) -> Result<Explanation, StoreError>;

    /// At most `limit` events of the tenant's log numbered after `after` (0 for the start), in
    /// order. A consumer keeps its own durable checkpoint (the last `seq` it handled) and asks
    /// again from there: events are numbered in commit order, so none is ever skipped.
    fn events_since(
        &self,
        tenant: &TenantId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError>;

    /// The checkpoint a named consumer of the event log saved last (0 if none): the number of
    /// the last event it handled, from which it resumes with [`Store::events_since`].
    fn checkpoint(&self, tenant: &TenantId, consumer: &str) -> Result<u64, StoreError>;

    /// Saves a named consumer's checkpoint durably (with the store's durability), after the
    /// consumer has handled every event up to `seq`. A name is 1 to 200 characters without
    /// control characters; a checkpoint past the last event is [`ErrorKind::InvalidInput`].
    /// Saving is consumer bookkeeping, not a triage change, so it writes no event.
    fn save_checkpoint(
        &self,
        tenant: &TenantId,
        consumer: &str,
        seq: u64,
    ) -> Result<(), StoreError>;

    /// Changes an alert's status at whatever its version is, re-reading and retrying up to
    /// `attempts` times when someone else changes it first ([`ErrorKind::Conflict`]). For
    /// callers that want the change to land rather than to guard against concurrent edits.
    fn change_status_retrying(
        &self,
        tenant: &TenantId,
        id: &AlertId,
        change: StatusChange,
        at: DateTime<Utc>,
        attempts: u32,
    ) -> Result<StoredAlert, StoreError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let current = self
                .get(tenant, id)?
                .ok_or_else(|| StoreError::alert_not_found(id))?;
            match self.change_status(tenant, id, current.version, change.clone(), at) {
                Err(e) if e.kind() == ErrorKind::Conflict && tries < attempts.max(1) => continue,
                other => return other,
            }
        }
    }

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

    /// Adds an automation ([`crate::automation`]) after [`Automation::check`]
    /// ([`ErrorKind::InvalidInput`] with every problem), with an
    /// [`EventKind::AutomationCreated`] event (which names it only: secrets never reach the
    /// log); [`ErrorKind::AlreadyExists`] if the name is taken.
    fn create_automation(
        &self,
        tenant: &TenantId,
        automation: Automation,
        at: DateTime<Utc>,
    ) -> Result<StoredAutomation, StoreError>;

    /// An automation by name.
    fn get_automation(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<Option<StoredAutomation>, StoreError>;

    /// Every automation, in creation order.
    fn list_automations(&self, tenant: &TenantId) -> Result<Vec<StoredAutomation>, StoreError>;

    /// Replaces an automation (same name) if its version is still `expected_version`
    /// ([`ErrorKind::Conflict`] if not), with an [`EventKind::AutomationUpdated`] event.
    fn update_automation(
        &self,
        tenant: &TenantId,
        automation: Automation,
        expected_version: u64,
        at: DateTime<Utc>,
    ) -> Result<StoredAutomation, StoreError>;

    /// Deletes an automation, with an [`EventKind::AutomationDeleted`] event. Its pending
    /// deliveries are parked as failed when the dispatcher reaches them.
    fn delete_automation(
        &self,
        tenant: &TenantId,
        name: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Takes or renews a lease for `claim.ttl` from `at` if it is free, lapsed, or already
    /// the claimant's; `false` if someone else holds it.
    fn acquire_lease(
        &self,
        tenant: &TenantId,
        claim: &LeaseClaim,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Gives a lease up if the claimant holds it.
    fn release_lease(&self, tenant: &TenantId, claim: &LeaseClaim) -> Result<(), StoreError>;

    /// One planning step of the dispatcher, in one transaction: with the lease held (and
    /// renewed; [`ErrorKind::Conflict`] if it was lost), reads at most `limit` events after
    /// the dispatcher's checkpoint, records a pending [`Delivery`] (with its payload) for each
    /// action of each enabled automation the event triggers and whose conditions the alert
    /// meets, and moves the checkpoint past those events. A delivery is therefore recorded
    /// before the checkpoint passes its event, and an event is planned once.
    fn plan_deliveries(
        &self,
        tenant: &TenantId,
        claim: &LeaseClaim,
        limit: usize,
        at: DateTime<Utc>,
    ) -> Result<PlanReport, StoreError>;

    /// At most `limit` pending deliveries that may be attempted at `at`, in number order:
    /// those due whose automation is enabled (or deleted), and only while every earlier
    /// pending delivery with the same [`Delivery::order_key`] is also due, so deliveries for
    /// one alert to one receiver go out in event order.
    fn due_deliveries(
        &self,
        tenant: &TenantId,
        at: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError>;

    /// Records attempts, in one transaction with the lease held (and renewed;
    /// [`ErrorKind::Conflict`] if it was lost): a delivered one is done; a failed one worth
    /// retrying is due again after [`RetryPolicy::delay`], until its attempts reach the
    /// policy's limit, when it is parked as failed like one not worth retrying. Deliveries no
    /// longer pending are left alone. Returns the deliveries as recorded.
    fn record_deliveries(
        &self,
        tenant: &TenantId,
        claim: &LeaseClaim,
        outcomes: &[(u64, Outcome)],
        policy: &RetryPolicy,
        at: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Deliveries in number order, by state and automation.
    fn list_deliveries(
        &self,
        tenant: &TenantId,
        query: &DeliveryQuery,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Makes a failed (parked) delivery pending again, due at `at`, with its attempts reset
    /// ([`ErrorKind::InvalidInput`] if it is not failed).
    fn retry_delivery(
        &self,
        tenant: &TenantId,
        id: u64,
        at: DateTime<Utc>,
    ) -> Result<Delivery, StoreError>;

    /// Deletes the delivered deliveries last changed before `before` (pending and failed ones
    /// stay, and so does the newest delivery, so numbers are never reused); returns how many.
    fn prune_deliveries(&self, tenant: &TenantId, before: DateTime<Utc>)
    -> Result<u64, StoreError>;

    /// Enables or disables an automation at whatever its version is: a convenience over
    /// [`Store::get_automation`] and [`Store::update_automation`].
    fn set_automation_enabled(
        &self,
        tenant: &TenantId,
        name: &str,
        enabled: bool,
        at: DateTime<Utc>,
    ) -> Result<StoredAutomation, StoreError> {
        let current = self.get_automation(tenant, name)?.ok_or_else(|| {
            StoreError::new(ErrorKind::NotFound, format!("no automation named {name:?}"))
        })?;
        let automation = current.automation.enabled(enabled);
        self.update_automation(tenant, automation, current.version, at)
    }
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
        && crate::text::eq_folded(a, b)
    {
        out.push(Relation::CompromisedEntity(a.to_owned()));
    }
    let mine: Vec<String> = entity_values(me)
        .iter()
        .map(|v| crate::text::fold(v).into_owned())
        .collect();
    let mut shared: Vec<String> = entity_values(other)
        .iter()
        .map(|v| crate::text::fold(v).into_owned())
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
