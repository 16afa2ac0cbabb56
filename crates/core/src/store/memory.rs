//! The in-memory reference backend.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use chrono::{DateTime, Utc};

use super::backend::{AlertRecord, Backend, Change, ReadTx, WriteTx};
use super::engine::Triage;
use super::event::{Event, EventKind};
use super::query::{AlertQuery, Counts, Order, SortKey};
use super::types::{
    AuditEntry, ErrorKind, Feedback, StoreError, StoredAlert, StoredRule, TenantId,
};
use crate::AlertId;
use crate::automation::{Delivery, DeliveryState, Lease, StoredAutomation};

/// The engine over the in-memory backend: the reference [`super::Store`]. Simple and correct,
/// fast enough for tests and small tools, and **not durable**: everything is lost when it is
/// dropped. Make one with `MemoryStore::default()`.
pub type MemoryStore = Triage<MemoryBackend>;

#[derive(Clone, Debug)]
struct Record {
    stored: StoredAlert,
    seq: u64,
    history: Vec<AuditEntry>,
}

#[derive(Clone, Default, Debug)]
struct Tenant {
    alerts: HashMap<AlertId, Record>,
    last_seq: u64,
    rules: Vec<StoredRule>,
    rules_generation: u64,
    feedback: Vec<(AlertId, Feedback)>,
    events: Vec<Event>,
    checkpoints: HashMap<String, u64>,
    automations: Vec<StoredAutomation>,
    deliveries: std::collections::BTreeMap<u64, Delivery>,
    leases: HashMap<String, Lease>,
}

/// The reference [`Backend`]: every tenant's rows in memory behind one lock. A write works on a
/// copy of the tenant's rows and swaps it in when the transaction commits, so a failed
/// transaction leaves nothing behind (simple and obviously atomic, not fast for large tenants).
#[derive(Debug, Default)]
pub struct MemoryBackend {
    tenants: RwLock<HashMap<TenantId, Tenant>>,
}

impl Backend for MemoryBackend {
    fn read<T>(
        &self,
        tenant: &TenantId,
        f: impl FnOnce(&dyn ReadTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let guard = self.tenants.read().unwrap_or_else(PoisonError::into_inner);
        let empty = Tenant::default();
        f(guard.get(tenant).unwrap_or(&empty))
    }

    fn write<T>(
        &self,
        tenant: &TenantId,
        mut f: impl FnMut(&mut dyn WriteTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.tenants.write().unwrap_or_else(PoisonError::into_inner);
        let mut copy = guard.get(tenant).cloned().unwrap_or_default();
        let out = f(&mut copy)?;
        guard.insert(tenant.clone(), copy);
        Ok(out)
    }
}

impl Tenant {
    fn sorted(&self, q: &AlertQuery) -> Vec<(SortKey, &Record)> {
        let mut v: Vec<(SortKey, &Record)> = self
            .alerts
            .values()
            .filter(|r| q.matches(&r.stored.alert))
            .map(|r| (SortKey::of(q.order, &r.stored.alert, r.seq), r))
            .collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.0));
        v
    }

    fn record(&self, id: &AlertId) -> Result<&Record, StoreError> {
        self.alerts
            .get(id)
            .ok_or_else(|| StoreError::alert_not_found(id))
    }
}

impl ReadTx for Tenant {
    fn alert(&self, id: &AlertId) -> Result<Option<AlertRecord>, StoreError> {
        Ok(self
            .alerts
            .get(id)
            .map(|r| AlertRecord::new(r.stored.clone(), r.seq)))
    }

    fn ids_with_system_id(&self, id: &AlertId, limit: usize) -> Result<Vec<AlertId>, StoreError> {
        let mut ids: Vec<AlertId> = self
            .alerts
            .iter()
            .filter(|(_, r)| r.stored.alert.system_alert_id() == id)
            .map(|(k, _)| k.clone())
            .collect();
        ids.sort();
        ids.truncate(limit);
        Ok(ids)
    }

    fn page(
        &self,
        query: &AlertQuery,
        after: Option<SortKey>,
        limit: usize,
    ) -> Result<Vec<(SortKey, StoredAlert)>, StoreError> {
        Ok(self
            .sorted(query)
            .into_iter()
            .filter(|(k, _)| after.is_none_or(|a| *k < a))
            .take(limit)
            .map(|(k, r)| (k, r.stored.clone()))
            .collect())
    }

    fn counts(&self, query: &AlertQuery) -> Result<Counts, StoreError> {
        Ok(Counts::of(
            self.alerts
                .values()
                .map(|r| &r.stored.alert)
                .filter(|a| query.matches(a)),
        ))
    }

    fn scan(
        &self,
        query: &AlertQuery,
        f: &mut dyn FnMut(AlertRecord) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        for (_, r) in self.sorted(query) {
            if !f(AlertRecord::new(r.stored.clone(), r.seq))? {
                break;
            }
        }
        Ok(())
    }

    fn related_candidates(
        &self,
        me: &AlertRecord,
        limit: usize,
    ) -> Result<Vec<StoredAlert>, StoreError> {
        let mine = me.stored.alert.id();
        let mut out: Vec<(SortKey, &Record)> = self
            .alerts
            .values()
            .filter(|r| r.stored.alert.id() != mine)
            .filter(|r| !super::relations(&me.stored.alert, &r.stored.alert).is_empty())
            .map(|r| {
                (
                    SortKey::of(Order::SeverityThenTime, &r.stored.alert, r.seq),
                    r,
                )
            })
            .collect();
        out.sort_by_key(|e| std::cmp::Reverse(e.0));
        Ok(out
            .into_iter()
            .take(limit)
            .map(|(_, r)| r.stored.clone())
            .collect())
    }

    fn history(&self, id: &AlertId) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self.record(id)?.history.clone())
    }

    fn feedback(
        &self,
        alert: Option<&AlertId>,
        useful: Option<bool>,
    ) -> Result<Vec<(AlertId, Feedback)>, StoreError> {
        Ok(self
            .feedback
            .iter()
            .filter(|(id, f)| alert.is_none_or(|a| a == id) && useful.is_none_or(|u| u == f.useful))
            .cloned()
            .collect())
    }

    fn rule(&self, name: &str) -> Result<Option<StoredRule>, StoreError> {
        Ok(self.rules.iter().find(|r| r.rule.name() == name).cloned())
    }

    fn rules(&self) -> Result<Vec<StoredRule>, StoreError> {
        Ok(self.rules.clone())
    }

    fn rules_generation(&self) -> Result<u64, StoreError> {
        Ok(self.rules_generation)
    }

    fn events_since(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let start = self.events.partition_point(|e| e.seq <= after);
        Ok(self.events[start..].iter().take(limit).cloned().collect())
    }

    fn checkpoint(&self, consumer: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.checkpoints.get(consumer).copied())
    }

    fn automation(&self, name: &str) -> Result<Option<StoredAutomation>, StoreError> {
        Ok(self
            .automations
            .iter()
            .find(|a| a.automation.name == name)
            .cloned())
    }

    fn automations(&self) -> Result<Vec<StoredAutomation>, StoreError> {
        Ok(self.automations.clone())
    }

    fn delivery(&self, id: u64) -> Result<Option<Delivery>, StoreError> {
        Ok(self.deliveries.get(&id).cloned())
    }

    fn deliveries(
        &self,
        state: Option<DeliveryState>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        Ok(self
            .deliveries
            .range(after.saturating_add(1)..)
            .map(|(_, d)| d)
            .filter(|d| state.is_none_or(|s| d.state == s))
            .take(limit)
            .cloned()
            .collect())
    }

    fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        Ok(self.leases.get(name).cloned())
    }
}

impl WriteTx for Tenant {
    fn insert_alert(&mut self, stored: &StoredAlert) -> Result<u64, StoreError> {
        let id = stored.alert.id();
        if self.alerts.contains_key(id) {
            return Err(StoreError::new(
                ErrorKind::AlreadyExists,
                format!("alert {:?} is already stored", id.as_str()),
            ));
        }
        self.last_seq += 1;
        self.alerts.insert(
            id.clone(),
            Record {
                stored: stored.clone(),
                seq: self.last_seq,
                history: Vec::new(),
            },
        );
        Ok(self.last_seq)
    }

    fn update_alert(
        &mut self,
        stored: &StoredAlert,
        expected_version: u64,
        _change: Change,
    ) -> Result<bool, StoreError> {
        let id = stored.alert.id();
        let rec = self
            .alerts
            .get_mut(id)
            .ok_or_else(|| StoreError::alert_not_found(id))?;
        if rec.stored.version != expected_version {
            return Ok(false);
        }
        rec.stored = stored.clone();
        Ok(true)
    }

    fn append_audit(&mut self, id: &AlertId, entry: &AuditEntry) -> Result<(), StoreError> {
        self.alerts
            .get_mut(id)
            .ok_or_else(|| StoreError::alert_not_found(id))?
            .history
            .push(entry.clone());
        Ok(())
    }

    fn add_feedback(&mut self, id: &AlertId, feedback: &Feedback) -> Result<(), StoreError> {
        self.record(id)?;
        self.feedback.push((id.clone(), feedback.clone()));
        Ok(())
    }

    fn insert_rule(&mut self, rule: &StoredRule) -> Result<(), StoreError> {
        self.rules.push(rule.clone());
        self.rules_generation += 1;
        Ok(())
    }

    fn update_rule(
        &mut self,
        rule: &StoredRule,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let Some(slot) = self
            .rules
            .iter_mut()
            .find(|r| r.rule.name() == rule.rule.name())
        else {
            return Ok(false);
        };
        if slot.version != expected_version {
            return Ok(false);
        }
        *slot = rule.clone();
        self.rules_generation += 1;
        Ok(true)
    }

    fn delete_rule(&mut self, name: &str) -> Result<bool, StoreError> {
        let before = self.rules.len();
        self.rules.retain(|r| r.rule.name() != name);
        let deleted = self.rules.len() != before;
        if deleted {
            self.rules_generation += 1;
        }
        Ok(deleted)
    }

    fn record_rule_hits(
        &mut self,
        name: &str,
        hits: u64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if let Some(r) = self.rules.iter_mut().find(|r| r.rule.name() == name) {
            r.hit_count += hits;
            r.last_matched = Some(at);
        }
        Ok(())
    }

    fn append_event(&mut self, at: DateTime<Utc>, kind: &EventKind) -> Result<u64, StoreError> {
        let seq = self.events.last().map_or(0, |e| e.seq) + 1;
        self.events.push(Event::new(seq, at, kind.clone()));
        Ok(seq)
    }

    fn set_checkpoint(&mut self, consumer: &str, seq: u64) -> Result<(), StoreError> {
        self.checkpoints.insert(consumer.to_owned(), seq);
        Ok(())
    }

    fn insert_automation(&mut self, automation: &StoredAutomation) -> Result<(), StoreError> {
        if self.automation(&automation.automation.name)?.is_some() {
            return Err(StoreError::new(
                ErrorKind::AlreadyExists,
                format!(
                    "automation {:?} is already stored",
                    automation.automation.name
                ),
            ));
        }
        self.automations.push(automation.clone());
        Ok(())
    }

    fn update_automation(
        &mut self,
        automation: &StoredAutomation,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        match self
            .automations
            .iter_mut()
            .find(|a| a.automation.name == automation.automation.name)
        {
            Some(slot) if slot.version == expected_version => {
                *slot = automation.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn delete_automation(&mut self, name: &str) -> Result<bool, StoreError> {
        let before = self.automations.len();
        self.automations.retain(|a| a.automation.name != name);
        Ok(self.automations.len() != before)
    }

    fn insert_delivery(&mut self, delivery: &Delivery) -> Result<u64, StoreError> {
        let id = self.deliveries.keys().next_back().copied().unwrap_or(0) + 1;
        let mut d = delivery.clone();
        d.id = id;
        self.deliveries.insert(id, d);
        Ok(id)
    }

    fn update_delivery(&mut self, delivery: &Delivery) -> Result<bool, StoreError> {
        match self.deliveries.get_mut(&delivery.id) {
            Some(slot) => {
                *slot = delivery.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn set_lease(&mut self, lease: &Lease) -> Result<(), StoreError> {
        self.leases.insert(lease.name.clone(), lease.clone());
        Ok(())
    }

    fn delete_lease(&mut self, name: &str) -> Result<bool, StoreError> {
        Ok(self.leases.remove(name).is_some())
    }

    fn delete_delivery(&mut self, id: u64) -> Result<bool, StoreError> {
        Ok(self.deliveries.remove(&id).is_some())
    }
}
