//! A [`PostgresStore`] on a fresh database of its own, created on the test server
//! (`VIGIL_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/test`) and dropped
//! with it.

use chrono::{DateTime, Utc};
use vigil_core::store::{
    AlertQuery, AuditEntry, BulkOutcome, Counts, CreatedRule, Event, Feedback, FeedbackQuery,
    IngestReport, Page, RelatedAlert, Simulation, StatusChange, Store, StoreError, StoredAlert,
    StoredRule, SuppressSimilar, TenantId,
};
use vigil_core::suppression::{Explanation, SuppressionRule};
use vigil_core::{Alert, AlertId};
use vigil_postgres::PostgresStore;

/// The server the tests use.
pub fn server_url() -> String {
    std::env::var("VIGIL_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `url` with its database replaced by `dbname` (URL or `key=value` form).
pub fn with_dbname(url: &str, dbname: &str) -> String {
    for scheme in ["postgres://", "postgresql://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            let (base, params) = match rest.split_once('?') {
                Some((b, p)) => (b, Some(p)),
                None => (rest, None),
            };
            let authority = base.split_once('/').map_or(base, |(a, _)| a);
            let mut out = format!("{scheme}{authority}/{dbname}");
            if let Some(p) = params {
                out.push('?');
                out.push_str(p);
            }
            return out;
        }
    }
    format!("{url} dbname={dbname}")
}

/// A connection to the test server's own database, or a failure that says what to do.
pub fn admin() -> postgres::Client {
    let url = server_url();
    postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| {
        panic!(
            "cannot connect to the PostgreSQL server for the tests at {url:?}: {e}\n\
             start it (`pg_ctlcluster --skip-systemctl-redirect 15 main start`, as .ci/run does) \
             or point VIGIL_TEST_POSTGRES at one"
        )
    })
}

/// A fresh, empty database on the test server; returns its name and connection string.
pub fn fresh_database() -> (String, String) {
    let name = format!("vigil_test_{}", uuid::Uuid::new_v4().simple());
    admin()
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
    let url = with_dbname(&server_url(), &name);
    (name, url)
}

/// Drops a test database, closing any connection still open to it.
pub fn drop_database(name: &str) {
    if let Err(e) = admin().batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")) {
        eprintln!("cannot drop the test database {name}: {e}");
    }
}

/// A fresh store on a database of its own; the database goes away with it.
pub struct TempStore {
    store: Option<PostgresStore>,
    name: String,
    #[allow(dead_code)]
    pub url: String,
}

impl TempStore {
    pub fn new() -> TempStore {
        let (name, url) = fresh_database();
        let store = PostgresStore::open(&url)
            .unwrap_or_else(|e| panic!("cannot open the store on {url:?}: {e}"));
        TempStore {
            store: Some(store),
            name,
            url,
        }
    }

    pub fn store(&self) -> &PostgresStore {
        match &self.store {
            Some(s) => s,
            None => unreachable!("the store lives until the TempStore is dropped"),
        }
    }
}

impl Drop for TempStore {
    fn drop(&mut self) {
        drop(self.store.take());
        drop_database(&self.name);
    }
}

impl Store for TempStore {
    fn ingest(
        &self,
        t: &TenantId,
        a: &[Alert],
        at: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError> {
        self.store().ingest(t, a, at)
    }
    fn query(&self, t: &TenantId, q: &AlertQuery) -> Result<Page, StoreError> {
        self.store().query(t, q)
    }
    fn counts(&self, t: &TenantId, q: &AlertQuery) -> Result<Counts, StoreError> {
        self.store().counts(t, q)
    }
    fn get(&self, t: &TenantId, id: &AlertId) -> Result<Option<StoredAlert>, StoreError> {
        self.store().get(t, id)
    }
    fn related(
        &self,
        t: &TenantId,
        id: &AlertId,
        limit: usize,
    ) -> Result<Vec<RelatedAlert>, StoreError> {
        self.store().related(t, id, limit)
    }
    fn change_status(
        &self,
        t: &TenantId,
        id: &AlertId,
        v: u64,
        c: StatusChange,
        at: DateTime<Utc>,
    ) -> Result<StoredAlert, StoreError> {
        self.store().change_status(t, id, v, c, at)
    }
    fn bulk_change_status(
        &self,
        t: &TenantId,
        q: &AlertQuery,
        c: StatusChange,
        at: DateTime<Utc>,
    ) -> Result<Vec<BulkOutcome>, StoreError> {
        self.store().bulk_change_status(t, q, c, at)
    }
    fn history(&self, t: &TenantId, id: &AlertId) -> Result<Vec<AuditEntry>, StoreError> {
        self.store().history(t, id)
    }
    fn add_feedback(&self, t: &TenantId, id: &AlertId, f: Feedback) -> Result<(), StoreError> {
        self.store().add_feedback(t, id, f)
    }
    fn list_feedback(
        &self,
        t: &TenantId,
        q: &FeedbackQuery,
    ) -> Result<Vec<(AlertId, Feedback)>, StoreError> {
        self.store().list_feedback(t, q)
    }
    fn create_rule(
        &self,
        t: &TenantId,
        r: SuppressionRule,
        at: DateTime<Utc>,
    ) -> Result<StoredRule, StoreError> {
        self.store().create_rule(t, r, at)
    }
    fn get_rule(&self, t: &TenantId, name: &str) -> Result<Option<StoredRule>, StoreError> {
        self.store().get_rule(t, name)
    }
    fn list_rules(&self, t: &TenantId) -> Result<Vec<StoredRule>, StoreError> {
        self.store().list_rules(t)
    }
    fn update_rule(
        &self,
        t: &TenantId,
        r: SuppressionRule,
        v: u64,
        at: DateTime<Utc>,
    ) -> Result<StoredRule, StoreError> {
        self.store().update_rule(t, r, v, at)
    }
    fn delete_rule(&self, t: &TenantId, name: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.store().delete_rule(t, name, at)
    }
    fn create_rules(
        &self,
        t: &TenantId,
        rules: Vec<SuppressionRule>,
        at: DateTime<Utc>,
        force: bool,
    ) -> Result<Vec<CreatedRule>, StoreError> {
        self.store().create_rules(t, rules, at, force)
    }
    fn suppress_similar(
        &self,
        t: &TenantId,
        request: SuppressSimilar,
        at: DateTime<Utc>,
    ) -> Result<(CreatedRule, Vec<AlertId>), StoreError> {
        self.store().suppress_similar(t, request, at)
    }
    fn explain(
        &self,
        t: &TenantId,
        rule: &str,
        id: &AlertId,
        at: DateTime<Utc>,
    ) -> Result<Explanation, StoreError> {
        self.store().explain(t, rule, id, at)
    }
    fn events_since(
        &self,
        t: &TenantId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        self.store().events_since(t, after, limit)
    }

    fn checkpoint(&self, t: &TenantId, consumer: &str) -> Result<u64, StoreError> {
        self.store().checkpoint(t, consumer)
    }

    fn save_checkpoint(&self, t: &TenantId, consumer: &str, seq: u64) -> Result<(), StoreError> {
        self.store().save_checkpoint(t, consumer, seq)
    }
    fn simulate(
        &self,
        t: &TenantId,
        r: &SuppressionRule,
        at: DateTime<Utc>,
        sample: usize,
    ) -> Result<Simulation, StoreError> {
        self.store().simulate(t, r, at, sample)
    }
    fn apply_rule(
        &self,
        t: &TenantId,
        name: &str,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<AlertId>, StoreError> {
        self.store().apply_rule(t, name, actor, at)
    }
}
