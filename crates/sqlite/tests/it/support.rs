//! A [`SqliteStore`] on a file in its own temporary directory, removed when dropped.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use vigil_core::store::{
    AlertQuery, AuditEntry, BulkOutcome, Counts, CreatedRule, Event, Feedback, FeedbackQuery,
    IngestReport, Page, RelatedAlert, Simulation, StatusChange, Store, StoreError, StoredAlert,
    StoredRule, SuppressSimilar, TenantId,
};
use vigil_core::suppression::{Explanation, SuppressionRule};
use vigil_core::{Alert, AlertId};
use vigil_sqlite::SqliteStore;

/// A fresh store on a real file; the directory goes away with it.
pub struct TempStore {
    pub store: SqliteStore,
    _dir: tempfile::TempDir,
}

impl TempStore {
    pub fn new() -> TempStore {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("vigil.db")).unwrap();
        TempStore { store, _dir: dir }
    }

    #[allow(dead_code)]
    pub fn path(&self) -> PathBuf {
        self.store.backend().path().to_path_buf()
    }
}

impl Store for TempStore {
    fn ingest(
        &self,
        t: &TenantId,
        a: &[Alert],
        at: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError> {
        self.store.ingest(t, a, at)
    }
    fn query(&self, t: &TenantId, q: &AlertQuery) -> Result<Page, StoreError> {
        self.store.query(t, q)
    }
    fn counts(&self, t: &TenantId, q: &AlertQuery) -> Result<Counts, StoreError> {
        self.store.counts(t, q)
    }
    fn get(&self, t: &TenantId, id: &AlertId) -> Result<Option<StoredAlert>, StoreError> {
        self.store.get(t, id)
    }
    fn related(
        &self,
        t: &TenantId,
        id: &AlertId,
        limit: usize,
    ) -> Result<Vec<RelatedAlert>, StoreError> {
        self.store.related(t, id, limit)
    }
    fn change_status(
        &self,
        t: &TenantId,
        id: &AlertId,
        v: u64,
        c: StatusChange,
        at: DateTime<Utc>,
    ) -> Result<StoredAlert, StoreError> {
        self.store.change_status(t, id, v, c, at)
    }
    fn bulk_change_status(
        &self,
        t: &TenantId,
        q: &AlertQuery,
        c: StatusChange,
        at: DateTime<Utc>,
    ) -> Result<Vec<BulkOutcome>, StoreError> {
        self.store.bulk_change_status(t, q, c, at)
    }
    fn history(&self, t: &TenantId, id: &AlertId) -> Result<Vec<AuditEntry>, StoreError> {
        self.store.history(t, id)
    }
    fn add_feedback(&self, t: &TenantId, id: &AlertId, f: Feedback) -> Result<(), StoreError> {
        self.store.add_feedback(t, id, f)
    }
    fn list_feedback(
        &self,
        t: &TenantId,
        q: &FeedbackQuery,
    ) -> Result<Vec<(AlertId, Feedback)>, StoreError> {
        self.store.list_feedback(t, q)
    }
    fn create_rule(
        &self,
        t: &TenantId,
        r: SuppressionRule,
        at: DateTime<Utc>,
    ) -> Result<StoredRule, StoreError> {
        self.store.create_rule(t, r, at)
    }
    fn get_rule(&self, t: &TenantId, name: &str) -> Result<Option<StoredRule>, StoreError> {
        self.store.get_rule(t, name)
    }
    fn list_rules(&self, t: &TenantId) -> Result<Vec<StoredRule>, StoreError> {
        self.store.list_rules(t)
    }
    fn update_rule(
        &self,
        t: &TenantId,
        r: SuppressionRule,
        v: u64,
        at: DateTime<Utc>,
    ) -> Result<StoredRule, StoreError> {
        self.store.update_rule(t, r, v, at)
    }
    fn delete_rule(&self, t: &TenantId, name: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.store.delete_rule(t, name, at)
    }
    fn create_rules(
        &self,
        t: &TenantId,
        rules: Vec<SuppressionRule>,
        at: DateTime<Utc>,
        force: bool,
    ) -> Result<Vec<CreatedRule>, StoreError> {
        self.store.create_rules(t, rules, at, force)
    }
    fn suppress_similar(
        &self,
        t: &TenantId,
        request: SuppressSimilar,
        at: DateTime<Utc>,
    ) -> Result<(CreatedRule, Vec<AlertId>), StoreError> {
        self.store.suppress_similar(t, request, at)
    }
    fn explain(
        &self,
        t: &TenantId,
        rule: &str,
        id: &AlertId,
        at: DateTime<Utc>,
    ) -> Result<Explanation, StoreError> {
        self.store.explain(t, rule, id, at)
    }
    fn events_since(
        &self,
        t: &TenantId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        self.store.events_since(t, after, limit)
    }

    fn checkpoint(&self, t: &TenantId, consumer: &str) -> Result<u64, StoreError> {
        self.store.checkpoint(t, consumer)
    }

    fn save_checkpoint(&self, t: &TenantId, consumer: &str, seq: u64) -> Result<(), StoreError> {
        self.store.save_checkpoint(t, consumer, seq)
    }
    fn simulate(
        &self,
        t: &TenantId,
        r: &SuppressionRule,
        at: DateTime<Utc>,
        sample: usize,
    ) -> Result<Simulation, StoreError> {
        self.store.simulate(t, r, at, sample)
    }
    fn apply_rule(
        &self,
        t: &TenantId,
        name: &str,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<AlertId>, StoreError> {
        self.store.apply_rule(t, name, actor, at)
    }
}
