//! The storage contract under the engine: rows in, rows out, inside explicit transactions.
//!
//! A [`Backend`] only stores, indexes and finds rows; it holds no triage policy. What ingest, a
//! status change, a rule or an automation does is decided once, in [`super::Triage`], which
//! drives a backend through a [`ReadTx`] or a [`WriteTx`] and writes every change's
//! [`super::Event`] in the same transaction as the change.
//!
//! To add a backend, implement the three traits over your storage and run the conformance
//! suite of `vigil-testkit` against `Triage::new(YourBackend)`. Every operation of a
//! transaction is scoped to the tenant the transaction was opened for: nothing of another
//! tenant may be read or written through it.

use chrono::{DateTime, Utc};

use super::event::{Event, EventKind};
use super::query::{AlertQuery, Counts, SortKey};
use super::types::{AuditEntry, Feedback, StoreError, StoredAlert, StoredRule, TenantId};
use crate::AlertId;
use crate::automation::{Delivery, DeliveryState, Lease, StoredAutomation};

/// A stored alert with its insertion sequence within the tenant (the tiebreak of every order).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct AlertRecord {
    /// The alert and its bookkeeping.
    pub stored: StoredAlert,
    /// Its insertion sequence within the tenant (1, 2, 3, …).
    pub seq: u64,
}

impl AlertRecord {
    /// A record; backends build the ones they read back with it.
    pub fn new(stored: StoredAlert, seq: u64) -> AlertRecord {
        AlertRecord { stored, seq }
    }
}

/// Which part of a stored alert an update changes, so a backend can skip rewriting what did not
/// change (its indexes of the alert's content, say).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// The alert's content (a new version of the same alert arrived); the status is kept.
    Content,
    /// The status, the suppression record, the version and the update time only.
    Status,
}

/// A place that stores alerts for the engine, with transactions.
///
/// `read` runs `f` in one consistent snapshot; `write` runs `f` in one atomic transaction that
/// commits if `f` returns `Ok` and rolls back (leaving nothing of it visible, across crashes for
/// a durable backend) if `f` returns `Err`. Writes of one tenant are serialised, so that event
/// sequence numbers are allocated in commit order.
///
/// A backend may run `f` again, in a fresh transaction, when its storage aborted the previous
/// attempt in a way that leaves nothing of it behind (a serialization failure or a deadlock on a
/// database server); a backend that does so bounds the number of attempts. So `f` must act only
/// through the transaction it is given and keep no effect of an attempt outside it.
pub trait Backend: Send + Sync {
    /// Runs `f` in a read snapshot of `tenant`'s data.
    fn read<T>(
        &self,
        tenant: &TenantId,
        f: impl FnOnce(&dyn ReadTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError>;

    /// Runs `f` in one write transaction on `tenant`'s data (perhaps more than once: see above).
    fn write<T>(
        &self,
        tenant: &TenantId,
        f: impl FnMut(&mut dyn WriteTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError>;
}

/// A backend opened from a location — a file path, a connection string — so that
/// `Triage::<B>::open(location)` (for example `vigil_sqlite::SqliteStore::open("vigil.db")`)
/// gives the engine over it in one call.
pub trait Open: Backend + Sized {
    /// What names the storage: `std::path::Path` for a file, `str` for a connection string.
    type Location: ?Sized;
    /// How to open it; `Default` gives the recommended settings.
    type Options: Default;
    /// Why it could not be opened.
    type Error;

    /// Opens the backend at `location` with `options`.
    fn open_with(location: &Self::Location, options: Self::Options) -> Result<Self, Self::Error>;
}

/// The reads of one transaction, all scoped to its tenant.
pub trait ReadTx {
    /// The alert whose identity ([`crate::Alert::id`]) is `id`.
    fn alert(&self, id: &AlertId) -> Result<Option<AlertRecord>, StoreError>;

    /// A hint that [`ReadTx::alert`] is about to be asked for each of `ids` (an ingest looks up
    /// every alert of its batch): a backend whose lookups cost a round trip each may read them
    /// all at once and answer from what it read, as long as its answers stay those of
    /// [`ReadTx::alert`] (an alert written later in the transaction is read as written). The
    /// default does nothing.
    fn prefetch(&self, ids: &[&AlertId]) -> Result<(), StoreError> {
        let _ = ids;
        Ok(())
    }

    /// The identities of the alerts whose system alert id is `id`, sorted, at most `limit`.
    fn ids_with_system_id(&self, id: &AlertId, limit: usize) -> Result<Vec<AlertId>, StoreError>;

    /// At most `limit` alerts that pass every filter of `query` ([`AlertQuery::matches`]), in
    /// `query.order`, starting strictly after `after` (sort keys compare descending: the next
    /// alert has the greatest key below `after`). The query's own limit and cursor are ignored.
    fn page(
        &self,
        query: &AlertQuery,
        after: Option<SortKey>,
        limit: usize,
    ) -> Result<Vec<(SortKey, StoredAlert)>, StoreError>;

    /// Counts per severity and status of every alert that passes the query's filters.
    fn counts(&self, query: &AlertQuery) -> Result<Counts, StoreError>;

    /// Calls `f` with every alert that passes the query's filters, in `query.order`, until `f`
    /// returns `Ok(false)` or an error (which is returned).
    fn scan(
        &self,
        query: &AlertQuery,
        f: &mut dyn FnMut(AlertRecord) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError>;

    /// Alerts other than `me` that may be related to it: the same correlation key, the same
    /// compromised entity (ignoring case), or a shared entity value
    /// ([`super::entity_values`], ignoring case); most severe then most recent first, at most
    /// `limit`. The engine keeps those [`super::relations`] confirms.
    fn related_candidates(
        &self,
        me: &AlertRecord,
        limit: usize,
    ) -> Result<Vec<StoredAlert>, StoreError>;

    /// The audit trail of the alert with identity `id`, oldest first.
    fn history(&self, id: &AlertId) -> Result<Vec<AuditEntry>, StoreError>;

    /// Feedback, oldest first: on the alert with identity `alert` if given, with this verdict
    /// if given.
    fn feedback(
        &self,
        alert: Option<&AlertId>,
        useful: Option<bool>,
    ) -> Result<Vec<(AlertId, Feedback)>, StoreError>;

    /// The rule named `name`.
    fn rule(&self, name: &str) -> Result<Option<StoredRule>, StoreError>;

    /// Every rule, in creation order.
    fn rules(&self) -> Result<Vec<StoredRule>, StoreError>;

    /// A number that changes whenever the tenant's rules change (in any process), so compiled
    /// rule sets can be cached.
    fn rules_generation(&self) -> Result<u64, StoreError>;

    /// At most `limit` events numbered after `after`, in order.
    fn events_since(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError>;

    /// The event number a named consumer of the log saved last, if it saved one.
    fn checkpoint(&self, consumer: &str) -> Result<Option<u64>, StoreError>;

    /// The automation named `name`.
    fn automation(&self, name: &str) -> Result<Option<StoredAutomation>, StoreError>;

    /// Every automation, in creation order.
    fn automations(&self) -> Result<Vec<StoredAutomation>, StoreError>;

    /// The delivery numbered `id`.
    fn delivery(&self, id: u64) -> Result<Option<Delivery>, StoreError>;

    /// At most `limit` deliveries numbered after `after`, in `state` if given, in number order.
    fn deliveries(
        &self,
        state: Option<DeliveryState>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// The lease named `name`, if anyone took it.
    fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError>;
}

/// The writes of one transaction (which can also read what it wrote).
pub trait WriteTx: ReadTx {
    /// Stores a new alert (its identity is not stored yet) and returns its insertion sequence
    /// (one more than the tenant's last).
    fn insert_alert(&mut self, stored: &StoredAlert) -> Result<u64, StoreError>;

    /// Replaces the stored alert with the identity of `stored.alert` if its version is still
    /// `expected_version`; `false` (and nothing written) if it is not.
    fn update_alert(
        &mut self,
        stored: &StoredAlert,
        expected_version: u64,
        change: Change,
    ) -> Result<bool, StoreError>;

    /// Appends an entry to the audit trail of the alert with identity `id`.
    fn append_audit(&mut self, id: &AlertId, entry: &AuditEntry) -> Result<(), StoreError>;

    /// Records feedback on the alert with identity `id`.
    fn add_feedback(&mut self, id: &AlertId, feedback: &Feedback) -> Result<(), StoreError>;

    /// Stores a new rule (its name is not taken) and moves the rules generation.
    fn insert_rule(&mut self, rule: &StoredRule) -> Result<(), StoreError>;

    /// Replaces the rule of the same name if its version is still `expected_version` (`false`
    /// and nothing written if not), and moves the rules generation.
    fn update_rule(&mut self, rule: &StoredRule, expected_version: u64)
    -> Result<bool, StoreError>;

    /// Deletes a rule (`false` if there is none) and moves the rules generation.
    fn delete_rule(&mut self, name: &str) -> Result<bool, StoreError>;

    /// Adds `hits` to a rule's hit count and sets its last-matched time, without moving the
    /// rules generation (the rule itself did not change).
    fn record_rule_hits(
        &mut self,
        name: &str,
        hits: u64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Appends an event to the tenant's log and returns its sequence number (one more than the
    /// last).
    fn append_event(&mut self, at: DateTime<Utc>, kind: &EventKind) -> Result<u64, StoreError>;

    /// Saves a named consumer's checkpoint (the last event number it handled).
    fn set_checkpoint(&mut self, consumer: &str, seq: u64) -> Result<(), StoreError>;

    /// Stores a new automation (its name is not taken).
    fn insert_automation(&mut self, automation: &StoredAutomation) -> Result<(), StoreError>;

    /// Replaces the automation of the same name if its version is still `expected_version`
    /// (`false` and nothing written if not, or if there is none).
    fn update_automation(
        &mut self,
        automation: &StoredAutomation,
        expected_version: u64,
    ) -> Result<bool, StoreError>;

    /// Deletes an automation (`false` if there is none). Its deliveries stay.
    fn delete_automation(&mut self, name: &str) -> Result<bool, StoreError>;

    /// Stores a new delivery numbered one more than the tenant's last (its `id` is ignored)
    /// and returns that number.
    fn insert_delivery(&mut self, delivery: &Delivery) -> Result<u64, StoreError>;

    /// Replaces the delivery with the same `id` (`false` if there is none); its payload never
    /// changes, so a backend need not rewrite it.
    fn update_delivery(&mut self, delivery: &Delivery) -> Result<bool, StoreError>;

    /// Creates or replaces the lease of the same name.
    fn set_lease(&mut self, lease: &Lease) -> Result<(), StoreError>;

    /// Deletes a lease (`false` if there is none).
    fn delete_lease(&mut self, name: &str) -> Result<bool, StoreError>;

    /// Deletes the delivery numbered `id` (`false` if there is none).
    fn delete_delivery(&mut self, id: u64) -> Result<bool, StoreError>;
}
