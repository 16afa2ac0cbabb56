//! The in-memory reference store.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use super::query::{AlertQuery, Counts, Cursor, Page, SortKey};
use super::types::{
    AuditEntry, BulkOutcome, ErrorKind, Feedback, FeedbackQuery, IngestReport, RelatedAlert,
    Simulation, StatusChange, StoreError, StoredAlert, StoredRule, Suppression, TenantId,
};
use super::{Order, Store};
use crate::suppression::{RuleSet, SuppressionRule};
use crate::{Alert, AlertId, Status};

#[derive(Clone, Debug)]
struct Record {
    stored: StoredAlert,
    seq: u64,
    history: Vec<AuditEntry>,
}

#[derive(Default, Debug)]
struct Tenant {
    alerts: HashMap<AlertId, Record>,
    next_seq: u64,
    rules: Vec<StoredRule>,
    ruleset: Option<Arc<RuleSet>>,
    feedback: Vec<(AlertId, Feedback)>,
}

/// The reference [`Store`]: everything in memory behind one lock. Simple and correct, fast
/// enough for tests and small tools, and **not durable**: everything is lost when it is dropped.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tenants: RwLock<HashMap<TenantId, Tenant>>,
}

fn poisoned() -> StoreError {
    StoreError::new(
        ErrorKind::Unavailable,
        "the in-memory store's lock was poisoned by a panic in another thread",
    )
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn read<T>(
        &self,
        tenant: &TenantId,
        f: impl FnOnce(Option<&Tenant>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let guard = self.tenants.read().map_err(|_| poisoned())?;
        f(guard.get(tenant))
    }

    fn write<T>(
        &self,
        tenant: &TenantId,
        f: impl FnOnce(&mut Tenant) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.tenants.write().map_err(|_| poisoned())?;
        f(guard.entry(tenant.clone()).or_default())
    }
}

impl Tenant {
    fn ruleset(&mut self) -> Result<Arc<RuleSet>, StoreError> {
        if let Some(r) = &self.ruleset {
            return Ok(r.clone());
        }
        let set = RuleSet::compile(self.rules.iter().map(|r| r.rule.clone())).map_err(|e| {
            StoreError::with_source(
                ErrorKind::Corrupt,
                format!("stored rules no longer compile: {e}"),
                e,
            )
        })?;
        let set = Arc::new(set);
        self.ruleset = Some(set.clone());
        Ok(set)
    }

    /// The stored identity an id names: an alert's own id ([`Alert::id`]) first, else the one
    /// alert whose system alert id it is (several is ambiguous).
    fn resolve(&self, id: &AlertId) -> Result<Option<AlertId>, StoreError> {
        if self.alerts.contains_key(id) {
            return Ok(Some(id.clone()));
        }
        let mut found: Vec<AlertId> = self
            .alerts
            .keys()
            .filter(|k| self.alerts[*k].stored.alert.system_alert_id() == id)
            .cloned()
            .collect();
        found.sort();
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            _ => Err(StoreError::ambiguous_alert_id(id, &found)),
        }
    }

    /// Like [`Tenant::resolve`], with a missing alert as [`ErrorKind::NotFound`].
    fn must_resolve(&self, id: &AlertId) -> Result<AlertId, StoreError> {
        self.resolve(id)?
            .ok_or_else(|| StoreError::alert_not_found(id))
    }

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

    fn change(
        &mut self,
        id: &AlertId,
        expected: Option<u64>,
        change: &StatusChange,
        at: DateTime<Utc>,
    ) -> Result<StoredAlert, StoreError> {
        let rec = self
            .alerts
            .get_mut(id)
            .ok_or_else(|| StoreError::alert_not_found(id))?;
        if let Some(v) = expected
            && v != rec.stored.version
        {
            return Err(StoreError::new(
                ErrorKind::Conflict,
                format!(
                    "alert {id:?} is at version {}, not {v}: someone changed it; reload it and retry",
                    rec.stored.version
                ),
            ));
        }
        let from = rec.stored.alert.status();
        rec.stored
            .alert
            .transition(change.to)
            .map_err(|e| StoreError::with_source(ErrorKind::InvalidInput, e.to_string(), e))?;
        rec.stored.version += 1;
        rec.stored.updated_at = at;
        if change.to != Status::Dismissed {
            rec.stored.suppression = None;
        }
        rec.history.push(AuditEntry {
            at,
            actor: change.actor.clone(),
            from,
            to: change.to,
            comment: change.comment.clone(),
            version: rec.stored.version,
        });
        Ok(rec.stored.clone())
    }
}

impl Store for MemoryStore {
    fn ingest(
        &self,
        tenant: &TenantId,
        alerts: &[Alert],
        at: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError> {
        self.write(tenant, |t| {
            let rules = t.ruleset()?;
            let mut report = IngestReport::default();
            // Nothing below can fail, so the batch applies whole.
            for incoming in alerts {
                let id = incoming.id().clone();
                if let Some(rec) = t.alerts.get_mut(&id) {
                    let kept = rec.stored.alert.status();
                    let mut alert = incoming.clone();
                    alert.keep_status(kept);
                    rec.stored.alert = alert;
                    rec.stored.version += 1;
                    rec.stored.updated_at = at;
                    report.updated += 1;
                    continue;
                }
                let mut alert = incoming.clone();
                let mut suppression = None;
                let mut history = Vec::new();
                if !alert.status().is_closed()
                    && let Some(rule) = rules.first_match(&alert, at)
                {
                    let from = alert.status();
                    if alert.transition(Status::Dismissed).is_ok() {
                        suppression = Some(Suppression {
                            rule: rule.name().to_owned(),
                            reason: rule.reason().clone(),
                            at,
                        });
                        history.push(AuditEntry {
                            at,
                            actor: format!("rule:{}", rule.name()),
                            from,
                            to: Status::Dismissed,
                            comment: Some(super::suppression_comment(rule)),
                            version: 1,
                        });
                        if let Some(sr) = t.rules.iter_mut().find(|r| r.rule.name() == rule.name())
                        {
                            sr.hit_count += 1;
                            sr.last_matched = Some(at);
                        }
                        report.suppressed += 1;
                    }
                }
                t.next_seq += 1;
                t.alerts.insert(
                    id,
                    Record {
                        stored: StoredAlert {
                            alert,
                            version: 1,
                            ingested_at: at,
                            updated_at: at,
                            suppression,
                        },
                        seq: t.next_seq,
                        history,
                    },
                );
                report.new += 1;
            }
            Ok(report)
        })
    }

    fn query(&self, tenant: &TenantId, q: &AlertQuery) -> Result<Page, StoreError> {
        q.validate()?;
        self.read(tenant, |t| {
            let Some(t) = t else {
                return Ok(Page {
                    alerts: Vec::new(),
                    next: None,
                });
            };
            let limit = q.limit.max(1);
            let mut rows = t
                .sorted(q)
                .into_iter()
                .filter(|(k, _)| q.cursor.is_none_or(|c| *k < c.key()));
            let page: Vec<(SortKey, &Record)> = rows.by_ref().take(limit).collect();
            let more = rows.next().is_some();
            let next = if more {
                page.last().map(|(k, _)| Cursor::after(q.order, *k))
            } else {
                None
            };
            Ok(Page {
                alerts: page.into_iter().map(|(_, r)| r.stored.clone()).collect(),
                next,
            })
        })
    }

    fn counts(&self, tenant: &TenantId, q: &AlertQuery) -> Result<Counts, StoreError> {
        self.read(tenant, |t| {
            Ok(Counts::of(
                t.into_iter()
                    .flat_map(|t| t.alerts.values())
                    .map(|r| &r.stored.alert)
                    .filter(|a| q.matches(a)),
            ))
        })
    }

    fn get(&self, tenant: &TenantId, id: &AlertId) -> Result<Option<StoredAlert>, StoreError> {
        self.read(tenant, |t| {
            let Some(t) = t else { return Ok(None) };
            Ok(t.resolve(id)?
                .and_then(|key| t.alerts.get(&key))
                .map(|r| r.stored.clone()))
        })
    }

    fn related(
        &self,
        tenant: &TenantId,
        id: &AlertId,
        limit: usize,
    ) -> Result<Vec<RelatedAlert>, StoreError> {
        self.read(tenant, |t| {
            let t = t.ok_or_else(|| StoreError::alert_not_found(id))?;
            let key = t.must_resolve(id)?;
            let me = &t
                .alerts
                .get(&key)
                .ok_or_else(|| StoreError::alert_not_found(id))?
                .stored
                .alert;
            let mut out: Vec<(SortKey, RelatedAlert)> = Vec::new();
            for r in t.alerts.values() {
                let other = &r.stored.alert;
                if other.id() == &key {
                    continue;
                }
                let relations = super::relations(me, other);
                if !relations.is_empty() {
                    out.push((
                        SortKey::of(Order::SeverityThenTime, other, r.seq),
                        RelatedAlert {
                            alert: r.stored.clone(),
                            relations,
                        },
                    ));
                }
            }
            out.sort_by_key(|e| std::cmp::Reverse(e.0));
            Ok(out.into_iter().take(limit).map(|(_, r)| r).collect())
        })
    }

    fn change_status(
        &self,
        tenant: &TenantId,
        id: &AlertId,
        expected_version: u64,
        change: StatusChange,
        at: DateTime<Utc>,
    ) -> Result<StoredAlert, StoreError> {
        let mut guard = self.tenants.write().map_err(|_| poisoned())?;
        let t = guard
            .get_mut(tenant)
            .ok_or_else(|| StoreError::alert_not_found(id))?;
        let key = t.must_resolve(id)?;
        t.change(&key, Some(expected_version), &change, at)
    }

    fn bulk_change_status(
        &self,
        tenant: &TenantId,
        q: &AlertQuery,
        change: StatusChange,
        at: DateTime<Utc>,
    ) -> Result<Vec<BulkOutcome>, StoreError> {
        let mut guard = self.tenants.write().map_err(|_| poisoned())?;
        let Some(t) = guard.get_mut(tenant) else {
            return Ok(Vec::new());
        };
        let ids: Vec<AlertId> = t
            .sorted(q)
            .into_iter()
            .map(|(_, r)| r.stored.alert.id().clone())
            .collect();
        Ok(ids
            .into_iter()
            .map(|id| {
                let result = t.change(&id, None, &change, at).map(|s| s.version);
                BulkOutcome { id, result }
            })
            .collect())
    }

    fn history(&self, tenant: &TenantId, id: &AlertId) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(tenant, |t| {
            let t = t.ok_or_else(|| StoreError::alert_not_found(id))?;
            let key = t.must_resolve(id)?;
            t.alerts
                .get(&key)
                .map(|r| r.history.clone())
                .ok_or_else(|| StoreError::alert_not_found(id))
        })
    }

    fn add_feedback(
        &self,
        tenant: &TenantId,
        id: &AlertId,
        feedback: Feedback,
    ) -> Result<(), StoreError> {
        let mut guard = self.tenants.write().map_err(|_| poisoned())?;
        let t = guard
            .get_mut(tenant)
            .ok_or_else(|| StoreError::alert_not_found(id))?;
        let key = t.must_resolve(id)?;
        t.feedback.push((key, feedback));
        Ok(())
    }

    fn list_feedback(
        &self,
        tenant: &TenantId,
        q: &FeedbackQuery,
    ) -> Result<Vec<(AlertId, Feedback)>, StoreError> {
        self.read(tenant, |t| {
            let Some(t) = t else { return Ok(Vec::new()) };
            let alert = match &q.alert {
                Some(a) => match t.resolve(a)? {
                    Some(key) => Some(key),
                    None => return Ok(Vec::new()),
                },
                None => None,
            };
            Ok(t.feedback
                .iter()
                .filter(|(id, f)| {
                    alert.as_ref().is_none_or(|a| a == id) && q.useful.is_none_or(|u| u == f.useful)
                })
                .cloned()
                .collect())
        })
    }

    fn create_rule(
        &self,
        tenant: &TenantId,
        rule: SuppressionRule,
        at: DateTime<Utc>,
    ) -> Result<StoredRule, StoreError> {
        super::check_rule(&rule)?;
        self.write(tenant, |t| {
            if t.rules.iter().any(|r| r.rule.name() == rule.name()) {
                return Err(StoreError::new(
                    ErrorKind::AlreadyExists,
                    format!("a suppression rule named {:?} already exists; update it or pick another name", rule.name()),
                ));
            }
            let stored = StoredRule {
                rule,
                version: 1,
                created_at: at,
                updated_at: at,
                hit_count: 0,
                last_matched: None,
            };
            t.rules.push(stored.clone());
            t.ruleset = None;
            Ok(stored)
        })
    }

    fn get_rule(&self, tenant: &TenantId, name: &str) -> Result<Option<StoredRule>, StoreError> {
        self.read(tenant, |t| {
            Ok(
                t.and_then(|t| t.rules.iter().find(|r| r.rule.name() == name))
                    .cloned(),
            )
        })
    }

    fn list_rules(&self, tenant: &TenantId) -> Result<Vec<StoredRule>, StoreError> {
        self.read(tenant, |t| {
            Ok(t.map(|t| t.rules.clone()).unwrap_or_default())
        })
    }

    fn update_rule(
        &self,
        tenant: &TenantId,
        rule: SuppressionRule,
        expected_version: u64,
        at: DateTime<Utc>,
    ) -> Result<StoredRule, StoreError> {
        super::check_rule(&rule)?;
        self.write(tenant, |t| {
            let name = rule.name().to_owned();
            let slot = t
                .rules
                .iter_mut()
                .find(|r| r.rule.name() == name)
                .ok_or_else(|| StoreError::rule_not_found(&name))?;
            if slot.version != expected_version {
                return Err(StoreError::new(
                    ErrorKind::Conflict,
                    format!("rule {name:?} is at version {}, not {expected_version}: reload it and retry", slot.version),
                ));
            }
            slot.rule = rule;
            slot.version += 1;
            slot.updated_at = at;
            let out = slot.clone();
            t.ruleset = None;
            Ok(out)
        })
    }

    fn delete_rule(&self, tenant: &TenantId, name: &str) -> Result<(), StoreError> {
        self.write(tenant, |t| {
            let before = t.rules.len();
            t.rules.retain(|r| r.rule.name() != name);
            if t.rules.len() == before {
                return Err(StoreError::rule_not_found(name));
            }
            t.ruleset = None;
            Ok(())
        })
    }

    fn simulate(
        &self,
        tenant: &TenantId,
        rule: &SuppressionRule,
        at: DateTime<Utc>,
        sample: usize,
    ) -> Result<Simulation, StoreError> {
        let set = super::check_rule(rule)?;
        self.read(tenant, |t| {
            let mut counts = [0u64; 4];
            let mut hits: Vec<(SortKey, AlertId)> = Vec::new();
            for r in t.into_iter().flat_map(|t| t.alerts.values()) {
                let a = &r.stored.alert;
                if set.is_suppressed(a, at) {
                    if let Some(i) = Status::ALL.iter().position(|s| *s == a.status()) {
                        counts[i] += 1;
                    }
                    hits.push((SortKey::of(Order::Time, a, r.seq), a.id().clone()));
                }
            }
            hits.sort_by_key(|e| std::cmp::Reverse(e.0));
            Ok(Simulation {
                by_status: Status::ALL.iter().copied().zip(counts).collect(),
                sample: hits.into_iter().take(sample).map(|(_, id)| id).collect(),
            })
        })
    }

    fn apply_rule(
        &self,
        tenant: &TenantId,
        name: &str,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<AlertId>, StoreError> {
        self.write(tenant, |t| {
            let stored = t
                .rules
                .iter()
                .find(|r| r.rule.name() == name)
                .ok_or_else(|| StoreError::rule_not_found(name))?;
            let rule = stored.rule.clone();
            let set = super::check_rule(&rule)?;
            let mut ids: Vec<(SortKey, AlertId)> = t
                .alerts
                .values()
                .filter(|r| {
                    !r.stored.alert.status().is_closed() && set.is_suppressed(&r.stored.alert, at)
                })
                .map(|r| {
                    (
                        SortKey::of(Order::Time, &r.stored.alert, r.seq),
                        r.stored.alert.id().clone(),
                    )
                })
                .collect();
            ids.sort_by_key(|e| std::cmp::Reverse(e.0));
            let change = StatusChange::new(Status::Dismissed, actor)
                .comment(super::applied_rule_comment(&rule));
            let mut done = Vec::new();
            for (_, id) in ids {
                t.change(&id, None, &change, at)?;
                if let Some(rec) = t.alerts.get_mut(&id) {
                    rec.stored.suppression = Some(Suppression {
                        rule: name.to_owned(),
                        reason: rule.reason().clone(),
                        at,
                    });
                }
                done.push(id);
            }
            if let Some(sr) = t.rules.iter_mut().find(|r| r.rule.name() == name)
                && !done.is_empty()
            {
                sr.hit_count += done.len() as u64;
                sr.last_matched = Some(at);
            }
            Ok(done)
        })
    }
}
