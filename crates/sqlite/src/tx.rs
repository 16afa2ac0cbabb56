//! The engine's transactions over one SQLite transaction: every statement scoped to the tenant.

use std::cell::Cell;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};
use vigil_core::AlertId;
use vigil_core::store::{
    AlertQuery, AlertRecord, AuditEntry, Change, Counts, Event, EventKind, Feedback, ReadTx,
    SortKey, StoreError, StoredAlert, StoredRule, TenantId, WriteTx,
};

use crate::alerts::{self, u64_of};
use crate::error::Db;
use crate::keys::Keyer;
use crate::{automations, events, query, rules};
use vigil_core::automation::{Delivery, DeliveryState, Lease, StoredAutomation};

/// One transaction of one tenant. The tenant's insertion and event counters are read once and
/// written back by [`SqliteTx::finish`], inside the same transaction, before it commits.
pub(crate) struct SqliteTx<'a> {
    conn: &'a Connection,
    tenant: &'a TenantId,
    last_alert: Cell<Option<i64>>,
    last_event: Cell<Option<i64>>,
    /// The file's hash key, read once per transaction.
    keyer: Cell<Option<Keyer>>,
}

impl<'a> SqliteTx<'a> {
    pub(crate) fn new(conn: &'a Connection, tenant: &'a TenantId) -> SqliteTx<'a> {
        SqliteTx {
            conn,
            tenant,
            last_alert: Cell::new(None),
            last_event: Cell::new(None),
            keyer: Cell::new(None),
        }
    }

    fn keyer(&self) -> Result<Keyer, StoreError> {
        if let Some(k) = self.keyer.get() {
            return Ok(k);
        }
        let k = Keyer::load(self.conn)?;
        self.keyer.set(Some(k));
        Ok(k)
    }

    /// Writes back the counters this transaction moved.
    pub(crate) fn finish(&self) -> Result<(), StoreError> {
        if let Some(seq) = self.last_alert.get() {
            self.conn
                .prepare_cached(
                    "INSERT INTO tenant_state (tenant, last_alert_seq) VALUES (?1, ?2)
                     ON CONFLICT (tenant) DO UPDATE SET last_alert_seq = excluded.last_alert_seq",
                )
                .db()?
                .execute(rusqlite::params![self.tenant.as_str(), seq])
                .db()?;
        }
        if let Some(seq) = self.last_event.get() {
            events::set_last_seq(self.conn, self.tenant, seq)?;
        }
        Ok(())
    }

    fn last_alert_seq(&self) -> Result<i64, StoreError> {
        if let Some(v) = self.last_alert.get() {
            return Ok(v);
        }
        let v = self
            .conn
            .prepare_cached("SELECT last_alert_seq FROM tenant_state WHERE tenant = ?1")
            .db()?
            .query_row([self.tenant.as_str()], |r| r.get(0))
            .optional()
            .db()?
            .unwrap_or(0);
        self.last_alert.set(Some(v));
        Ok(v)
    }

    fn last_event_seq(&self) -> Result<i64, StoreError> {
        if let Some(v) = self.last_event.get() {
            return Ok(v);
        }
        let v = events::last_seq(self.conn, self.tenant)?;
        self.last_event.set(Some(v));
        Ok(v)
    }
}

impl ReadTx for SqliteTx<'_> {
    fn alert(&self, id: &AlertId) -> Result<Option<AlertRecord>, StoreError> {
        Ok(alerts::by_id(self.conn, self.tenant, id)?.map(|(_, r)| r))
    }

    fn ids_with_system_id(&self, id: &AlertId, limit: usize) -> Result<Vec<AlertId>, StoreError> {
        alerts::ids_with_system_id(self.conn, self.tenant, id, limit)
    }

    fn page(
        &self,
        q: &AlertQuery,
        after: Option<SortKey>,
        limit: usize,
    ) -> Result<Vec<(SortKey, StoredAlert)>, StoreError> {
        query::page(self.conn, self.tenant, q, after, limit)
    }

    fn counts(&self, q: &AlertQuery) -> Result<Counts, StoreError> {
        query::counts(self.conn, self.tenant, q)
    }

    fn scan(
        &self,
        q: &AlertQuery,
        f: &mut dyn FnMut(AlertRecord) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        query::scan_records(self.conn, self.tenant, q, f)
    }

    fn related_candidates(
        &self,
        me: &AlertRecord,
        limit: usize,
    ) -> Result<Vec<StoredAlert>, StoreError> {
        let seq = alerts::must_seq(self.conn, self.tenant, me.stored.alert.id())?;
        query::related_candidates(self.conn, self.tenant, seq, &me.stored.alert, limit)
    }

    fn history(&self, id: &AlertId) -> Result<Vec<AuditEntry>, StoreError> {
        alerts::history(self.conn, self.tenant, id)
    }

    fn feedback(
        &self,
        alert: Option<&AlertId>,
        useful: Option<bool>,
    ) -> Result<Vec<(AlertId, Feedback)>, StoreError> {
        alerts::feedback(self.conn, self.tenant, alert, useful)
    }

    fn rule(&self, name: &str) -> Result<Option<StoredRule>, StoreError> {
        rules::get(self.conn, self.tenant, name)
    }

    fn rules(&self) -> Result<Vec<StoredRule>, StoreError> {
        rules::list(self.conn, self.tenant)
    }

    fn rules_generation(&self) -> Result<u64, StoreError> {
        Ok(u64_of(rules::rules_generation(self.conn, self.tenant)?))
    }

    fn events_since(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        events::since(self.conn, self.tenant, after, limit)
    }

    fn checkpoint(&self, consumer: &str) -> Result<Option<u64>, StoreError> {
        events::checkpoint(self.conn, self.tenant, consumer)
    }

    fn automation(&self, name: &str) -> Result<Option<StoredAutomation>, StoreError> {
        automations::get(self.conn, self.tenant, name)
    }

    fn automations(&self) -> Result<Vec<StoredAutomation>, StoreError> {
        automations::list(self.conn, self.tenant)
    }

    fn delivery(&self, id: u64) -> Result<Option<Delivery>, StoreError> {
        automations::delivery(self.conn, self.tenant, id)
    }

    fn deliveries(
        &self,
        state: Option<DeliveryState>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        automations::deliveries(self.conn, self.tenant, state, after, limit)
    }

    fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        automations::lease(self.conn, self.tenant, name)
    }
}

impl WriteTx for SqliteTx<'_> {
    fn insert_alert(&mut self, stored: &StoredAlert) -> Result<u64, StoreError> {
        let tseq = self.last_alert_seq()? + 1;
        alerts::insert(self.conn, &self.keyer()?, self.tenant, stored, tseq)?;
        self.last_alert.set(Some(tseq));
        Ok(u64_of(tseq))
    }

    fn update_alert(
        &mut self,
        stored: &StoredAlert,
        expected_version: u64,
        change: Change,
    ) -> Result<bool, StoreError> {
        match change {
            Change::Status => alerts::update_status(
                self.conn,
                &self.keyer()?,
                self.tenant,
                stored,
                expected_version,
            ),
            _ => alerts::update_content(
                self.conn,
                &self.keyer()?,
                self.tenant,
                stored,
                expected_version,
            ),
        }
    }

    fn append_audit(&mut self, id: &AlertId, entry: &AuditEntry) -> Result<(), StoreError> {
        alerts::append_audit(self.conn, self.tenant, id, entry)
    }

    fn add_feedback(&mut self, id: &AlertId, feedback: &Feedback) -> Result<(), StoreError> {
        alerts::add_feedback(self.conn, self.tenant, id, feedback)
    }

    fn insert_rule(&mut self, rule: &StoredRule) -> Result<(), StoreError> {
        rules::insert(self.conn, self.tenant, rule)
    }

    fn update_rule(
        &mut self,
        rule: &StoredRule,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        rules::update(self.conn, self.tenant, rule, expected_version)
    }

    fn delete_rule(&mut self, name: &str) -> Result<bool, StoreError> {
        rules::delete(self.conn, self.tenant, name)
    }

    fn record_rule_hits(
        &mut self,
        name: &str,
        hits: u64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        rules::record_hits(self.conn, self.tenant, name, hits, at)
    }

    fn append_event(&mut self, at: DateTime<Utc>, kind: &EventKind) -> Result<u64, StoreError> {
        let seq = self.last_event_seq()? + 1;
        events::append(self.conn, self.tenant, seq, at, kind)?;
        self.last_event.set(Some(seq));
        Ok(u64_of(seq))
    }

    fn set_checkpoint(&mut self, consumer: &str, seq: u64) -> Result<(), StoreError> {
        events::set_checkpoint(self.conn, self.tenant, consumer, seq)
    }

    fn insert_automation(&mut self, automation: &StoredAutomation) -> Result<(), StoreError> {
        automations::insert(self.conn, self.tenant, automation)
    }

    fn update_automation(
        &mut self,
        automation: &StoredAutomation,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        automations::update(self.conn, self.tenant, automation, expected_version)
    }

    fn delete_automation(&mut self, name: &str) -> Result<bool, StoreError> {
        automations::delete(self.conn, self.tenant, name)
    }

    fn insert_delivery(&mut self, delivery: &Delivery) -> Result<u64, StoreError> {
        automations::insert_delivery(self.conn, self.tenant, delivery)
    }

    fn update_delivery(&mut self, delivery: &Delivery) -> Result<bool, StoreError> {
        automations::update_delivery(self.conn, self.tenant, delivery)
    }

    fn set_lease(&mut self, lease: &Lease) -> Result<(), StoreError> {
        automations::set_lease(self.conn, self.tenant, lease)
    }

    fn delete_lease(&mut self, name: &str) -> Result<bool, StoreError> {
        automations::delete_lease(self.conn, self.tenant, name)
    }

    fn delete_delivery(&mut self, id: u64) -> Result<bool, StoreError> {
        automations::delete_delivery(self.conn, self.tenant, id)
    }
}
