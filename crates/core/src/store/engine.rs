//! [`Triage`]: the one implementation of the triage workflow, over any [`Backend`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

use super::backend::{AlertRecord, Backend, Change, Open, ReadTx, WriteTx};
use super::event::{Event, EventKind, IngestOutcome};
use super::query::{AlertQuery, Counts, Cursor, Order, Page};
use super::types::{
    AuditEntry, BulkOutcome, ErrorKind, Feedback, FeedbackQuery, IngestReport, RelatedAlert,
    Simulation, StatusChange, StoreError, StoredAlert, StoredRule, Suppression, TenantId,
};
use super::{CreatedRule, Store, SuppressSimilar, automations};
use crate::automation::{
    Automation, Delivery, DeliveryQuery, DueDelivery, LeaseClaim, Outcome, PlanReport, RetryPolicy,
    StoredAutomation,
};
use crate::suppression::{Explanation, RuleSet, SuppressionRule};
use crate::{Alert, AlertId, Status};

/// How many identities an ambiguous system alert id lists at most.
const MAX_CANDIDATES: usize = 10;

/// The triage engine: the whole workflow of the [`Store`] contract — ingest with suppression,
/// the lifecycle with its audit trail, feedback, rules, the event log — decided once, over a
/// [`Backend`] that only stores and finds rows.
///
/// Every change is written together with its [`Event`] in one backend transaction, so there is
/// no change without its event and no event without its change.
///
/// ```
/// use std::sync::Arc;
/// use chrono::Utc;
/// use vigil_core::store::{AlertQuery, MemoryBackend, Store, TenantId, Triage};
/// use vigil_core::defender;
///
/// let triage = Triage::new(MemoryBackend::default());
/// let shared: Arc<dyn Store> = Arc::new(triage); // one object for everything
/// let t = TenantId::new("contoso")?;
/// let alerts = defender::parse_alerts(include_str!("../../../../fixtures/alerts/sample-alerts.json"))?;
/// shared.ingest(&t, &alerts, Utc::now())?;
/// assert!(!shared.query(&t, &AlertQuery::default())?.alerts.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Triage<B> {
    backend: B,
    rules: Mutex<HashMap<TenantId, (u64, Arc<RuleSet>)>>,
}

impl<B: std::fmt::Debug> std::fmt::Debug for Triage<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Triage")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl<B: Backend + Default> Default for Triage<B> {
    fn default() -> Self {
        Triage::new(B::default())
    }
}

impl<B: Open> Triage<B> {
    /// Opens the backend at `location` with its default options, and the engine over it.
    pub fn open(location: impl AsRef<B::Location>) -> Result<Triage<B>, B::Error> {
        Triage::open_with(location, B::Options::default())
    }

    /// Opens the backend at `location` with `options`, and the engine over it.
    pub fn open_with(
        location: impl AsRef<B::Location>,
        options: B::Options,
    ) -> Result<Triage<B>, B::Error> {
        Ok(Triage::new(B::open_with(location.as_ref(), options)?))
    }
}

fn storage_failure(e: &StoreError) -> bool {
    matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Corrupt)
}

impl<B: Backend> Triage<B> {
    /// The engine over `backend`.
    pub fn new(backend: B) -> Triage<B> {
        Triage {
            backend,
            rules: Mutex::new(HashMap::new()),
        }
    }

    /// The backend, for what only it offers (a file's path, an integrity check, …).
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The tenant's compiled rules, cached while the rules generation has not moved.
    fn ruleset(&self, tenant: &TenantId, tx: &dyn ReadTx) -> Result<Arc<RuleSet>, StoreError> {
        let generation = tx.rules_generation()?;
        let mut cache = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((g, set)) = cache.get(tenant)
            && *g == generation
        {
            return Ok(set.clone());
        }
        let rules = tx.rules()?.into_iter().map(|r| r.rule);
        let set = Arc::new(RuleSet::compile(rules).map_err(|e| {
            StoreError::with_source(
                ErrorKind::Corrupt,
                format!(
                    "the stored rules of tenant {:?} no longer compile: {e}",
                    tenant.as_str()
                ),
                e,
            )
        })?);
        cache.insert(tenant.clone(), (generation, set.clone()));
        Ok(set)
    }
}

/// The alert an id names: the alert whose identity it is, else the one alert whose system
/// alert id it is; several is [`ErrorKind::InvalidInput`] listing them.
fn resolve(tx: &dyn ReadTx, id: &AlertId) -> Result<Option<AlertRecord>, StoreError> {
    if let Some(r) = tx.alert(id)? {
        return Ok(Some(r));
    }
    let found = tx.ids_with_system_id(id, MAX_CANDIDATES + 1)?;
    match found.as_slice() {
        [] => Ok(None),
        [one] => tx.alert(one),
        many => Err(StoreError::ambiguous_alert_id(id, many)),
    }
}

fn must_resolve(tx: &dyn ReadTx, id: &AlertId) -> Result<AlertRecord, StoreError> {
    resolve(tx, id)?.ok_or_else(|| StoreError::alert_not_found(id))
}

fn conflict(id: &AlertId, version: u64, expected: u64) -> StoreError {
    StoreError::new(
        ErrorKind::Conflict,
        format!(
            "alert {:?} is at version {version}, not {expected}: someone changed it; reload it and retry",
            id.as_str()
        ),
    )
}

/// One status change through the lifecycle, with its audit entry and event. `suppression` is
/// recorded when the alert is dismissed by a rule applied to existing alerts.
fn change_one(
    tx: &mut dyn WriteTx,
    rec: AlertRecord,
    expected: Option<u64>,
    change: &StatusChange,
    suppression: Option<Suppression>,
    at: DateTime<Utc>,
) -> Result<StoredAlert, StoreError> {
    let mut stored = rec.stored;
    let id = stored.alert.id().clone();
    if let Some(v) = expected
        && v != stored.version
    {
        return Err(conflict(&id, stored.version, v));
    }
    let from = stored.alert.status();
    stored
        .alert
        .transition(change.to)
        .map_err(|e| StoreError::with_source(ErrorKind::InvalidInput, e.to_string(), e))?;
    let before = stored.version;
    stored.version += 1;
    stored.updated_at = at;
    if change.to == Status::Dismissed {
        if suppression.is_some() {
            stored.suppression = suppression;
        }
    } else {
        stored.suppression = None;
    }
    if !tx.update_alert(&stored, before, Change::Status)? {
        return Err(StoreError::new(
            ErrorKind::Conflict,
            format!(
                "alert {:?} changed meanwhile: reload it and retry",
                id.as_str()
            ),
        ));
    }
    tx.append_audit(
        &id,
        &AuditEntry {
            at,
            actor: change.actor.clone(),
            from,
            to: change.to,
            comment: change.comment.clone(),
            version: stored.version,
        },
    )?;
    tx.append_event(
        at,
        &EventKind::StatusChanged {
            alert: id,
            from,
            to: change.to,
            actor: change.actor.clone(),
            comment: change.comment.clone(),
            version: stored.version,
        },
    )?;
    Ok(stored)
}

/// A consumer name: 1 to 200 characters, no control characters.
fn check_consumer(name: &str) -> Result<(), StoreError> {
    if name.trim().is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(StoreError::new(
            ErrorKind::InvalidInput,
            format!("consumer name {name:?}: give 1 to 200 characters without control characters"),
        ));
    }
    Ok(())
}

/// Narrows a scan to the alerts a rule can match by its type (types compare ignoring ASCII
/// case, in rules and in queries alike).
fn by_type(q: AlertQuery, rule: &SuppressionRule) -> AlertQuery {
    if rule.is_any_type() {
        q
    } else {
        q.alert_types([rule.alert_type().to_owned()])
    }
}

/// At most this many values of one condition become queries of their own.
const MAX_PREFILTER_VALUES: usize = 64;

/// Whether `path` names a top-level property of an entity (`entities.<type>.<property>`, with
/// or without `properties.`) other than `type` and `$id`: the values [`super::entity_values`]
/// holds, so that an entity filter finds every alert the condition can match.
fn entity_property(path: &str) -> bool {
    let body = match path.get(..11) {
        Some(p) if p.eq_ignore_ascii_case("properties.") => &path[11..],
        _ => path,
    };
    let segs: Vec<&str> = body.split('.').collect();
    match segs.as_slice() {
        [head, kind, prop] => {
            head.eq_ignore_ascii_case("entities")
                && !kind.is_empty()
                && !prop.is_empty()
                && !prop.eq_ignore_ascii_case("type")
                && !prop.eq_ignore_ascii_case("$id")
        }
        _ => false,
    }
}

/// A value an entity filter can look up for an `in`/`equals` test: a string that is not blank
/// (blank values are not indexed) and whose text cannot also be a number's or a boolean's (the
/// test compares those by their JSON text, which entity filters do not see).
fn lookup_value(v: &serde_json::Value) -> Option<&str> {
    let s = v.as_str()?;
    let t = s.trim();
    let numeric = serde_json::from_str::<serde_json::Number>(t).is_ok();
    let boolean = t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false");
    (!t.is_empty() && !numeric && !boolean).then_some(s)
}

/// The values of the rule's most selective condition a backend can look up: among its
/// top-level `in`/`equals` tests of an entity property (which every match must pass), the one
/// with the fewest values. `None` when there is none (or the rule matches alerts that lack the
/// entity type), so that every alert of the rule's type is a candidate.
fn entity_prefilter(rule: &SuppressionRule) -> Option<Vec<String>> {
    if rule.when_entity_absent() == crate::suppression::EntityAbsence::Match {
        return None;
    }
    let mut best: Option<Vec<String>> = None;
    for c in rule.conditions() {
        let m = c.as_json();
        if m.keys()
            .any(|k| !matches!(k.as_str(), "field" | "in" | "equals" | "caseSensitive"))
        {
            continue;
        }
        let Some(field) = m.get("field").and_then(serde_json::Value::as_str) else {
            continue;
        };
        let test = match (m.get("in"), m.get("equals")) {
            (Some(v), None) | (None, Some(v)) => v,
            _ => continue,
        };
        if !entity_property(field) {
            continue;
        }
        let listed: Vec<&serde_json::Value> = match test {
            serde_json::Value::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        let values: Option<Vec<String>> = listed
            .into_iter()
            .map(|v| lookup_value(v).map(str::to_owned))
            .collect();
        let Some(values) = values else {
            continue;
        };
        if values.is_empty() || values.len() > MAX_PREFILTER_VALUES {
            continue;
        }
        if best.as_ref().is_none_or(|b| values.len() < b.len()) {
            best = Some(values);
        }
    }
    best
}

/// Every alert of `base` that `rule` may match, each once, most recent first: found through the
/// rule's type and its most selective entity condition ([`entity_prefilter`]) when it has one,
/// so the backend serves them from its indexes; the caller still checks each with the compiled
/// rule, so the answer never depends on how the backend narrows.
fn rule_candidates(
    tx: &dyn ReadTx,
    base: AlertQuery,
    rule: &SuppressionRule,
    f: &mut dyn FnMut(AlertRecord) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let base = by_type(base.order(Order::Time), rule);
    let Some(values) = entity_prefilter(rule) else {
        return tx.scan(&base, f);
    };
    if let [one] = values.as_slice() {
        return tx.scan(&base.entity(one.clone()), f);
    }
    // Several values: one scan each, merged most recent first, each alert once.
    let mut found: Vec<AlertRecord> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for v in values {
        tx.scan(&base.clone().entity(v), &mut |r| {
            if seen.insert(r.seq) {
                found.push(r);
            }
            Ok(true)
        })?;
    }
    found.sort_by_key(|r| {
        std::cmp::Reverse(super::SortKey::of(Order::Time, &r.stored.alert, r.seq))
    });
    for r in found {
        if !f(r)? {
            break;
        }
    }
    Ok(())
}

fn check_rule(rule: &SuppressionRule) -> Result<RuleSet, StoreError> {
    super::check_rule(rule)
}

fn insert_rule(
    tx: &mut dyn WriteTx,
    rule: SuppressionRule,
    at: DateTime<Utc>,
) -> Result<StoredRule, StoreError> {
    if tx.rule(rule.name())?.is_some() {
        return Err(StoreError::new(
            ErrorKind::AlreadyExists,
            format!(
                "a suppression rule named {:?} already exists; update it or pick another name",
                rule.name()
            ),
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
    tx.insert_rule(&stored)?;
    tx.append_event(
        at,
        &EventKind::RuleCreated {
            rule: stored.rule.name().to_owned(),
            version: 1,
        },
    )?;
    Ok(stored)
}

/// Dismisses every open alert `rule` matches at `at`, most recent first, each with its audit
/// entry and event, then records the hits and the application.
fn apply(
    tx: &mut dyn WriteTx,
    rule: &SuppressionRule,
    set: &RuleSet,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<Vec<AlertId>, StoreError> {
    let mut matched = Vec::new();
    rule_candidates(tx, AlertQuery::default(), rule, &mut |r| {
        if set.is_suppressed(&r.stored.alert, at) {
            matched.push(r);
        }
        Ok(true)
    })?;
    let change =
        StatusChange::new(Status::Dismissed, actor).comment(super::applied_rule_comment(rule));
    let mut done = Vec::with_capacity(matched.len());
    for rec in matched {
        let suppression = Suppression {
            rule: rule.name().to_owned(),
            reason: rule.reason().clone(),
            at,
        };
        let stored = change_one(tx, rec, None, &change, Some(suppression), at)?;
        done.push(stored.alert.id().clone());
    }
    if !done.is_empty() {
        tx.record_rule_hits(rule.name(), done.len() as u64, at)?;
    }
    tx.append_event(
        at,
        &EventKind::RuleApplied {
            rule: rule.name().to_owned(),
            actor: actor.to_owned(),
            dismissed: done.len() as u64,
        },
    )?;
    Ok(done)
}

impl<B: Backend> Store for Triage<B> {
    fn ingest(
        &self,
        tenant: &TenantId,
        alerts: &[Alert],
        at: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError> {
        self.backend.write(tenant, |tx| {
            let rules = self.ruleset(tenant, tx)?;
            let mut report = IngestReport::default();
            let mut hits: Vec<(String, u64)> = Vec::new();
            tx.prefetch(&alerts.iter().map(Alert::id).collect::<Vec<_>>())?;
            for incoming in alerts {
                let id = incoming.id();
                if let Some(rec) = tx.alert(id)? {
                    // A new version of a stored alert: content replaced, status kept.
                    let mut alert = incoming.clone();
                    alert.keep_status(rec.stored.alert.status());
                    let stored = StoredAlert {
                        alert,
                        version: rec.stored.version + 1,
                        updated_at: at,
                        ..rec.stored
                    };
                    if !tx.update_alert(&stored, stored.version - 1, Change::Content)? {
                        return Err(conflict(id, stored.version, stored.version - 1));
                    }
                    tx.append_event(
                        at,
                        &EventKind::AlertIngested {
                            alert: id.clone(),
                            outcome: IngestOutcome::Updated,
                            version: stored.version,
                            status: stored.alert.status(),
                        },
                    )?;
                    report.updated += 1;
                    continue;
                }
                let mut alert = incoming.clone();
                let mut suppression = None;
                let mut audit = None;
                if alert.status().is_open()
                    && let Some(rule) = rules.first_match(&alert, at)
                {
                    let from = alert.status();
                    if alert.transition(Status::Dismissed).is_ok() {
                        suppression = Some(Suppression {
                            rule: rule.name().to_owned(),
                            reason: rule.reason().clone(),
                            at,
                        });
                        audit = Some(AuditEntry {
                            at,
                            actor: format!("rule:{}", rule.name()),
                            from,
                            to: Status::Dismissed,
                            comment: Some(super::suppression_comment(rule)),
                            version: 1,
                        });
                    }
                }
                let outcome = match &suppression {
                    Some(s) => IngestOutcome::Suppressed {
                        rule: s.rule.clone(),
                    },
                    None => IngestOutcome::New,
                };
                let stored = StoredAlert {
                    alert,
                    version: 1,
                    ingested_at: at,
                    updated_at: at,
                    suppression,
                };
                tx.insert_alert(&stored)?;
                if let Some(entry) = &audit {
                    tx.append_audit(id, entry)?;
                    if let IngestOutcome::Suppressed { rule } = &outcome {
                        match hits.iter_mut().find(|(n, _)| n == rule) {
                            Some((_, n)) => *n += 1,
                            None => hits.push((rule.clone(), 1)),
                        }
                    }
                    report.suppressed += 1;
                }
                tx.append_event(
                    at,
                    &EventKind::AlertIngested {
                        alert: id.clone(),
                        outcome,
                        version: 1,
                        status: stored.alert.status(),
                    },
                )?;
                report.new += 1;
            }
            for (rule, n) in hits {
                tx.record_rule_hits(&rule, n, at)?;
            }
            Ok(report)
        })
    }

    fn query(&self, tenant: &TenantId, q: &AlertQuery) -> Result<Page, StoreError> {
        q.validate()?;
        let limit = q.limit;
        self.backend.read(tenant, |tx| {
            let after = q.cursor.as_ref().map(Cursor::key);
            let mut rows = tx.page(q, after, limit.saturating_add(1))?;
            let next = if rows.len() > limit {
                rows.truncate(limit);
                rows.last().map(|(k, _)| Cursor::for_query(q, *k))
            } else {
                None
            };
            Ok(Page {
                alerts: rows.into_iter().map(|(_, s)| s).collect(),
                next,
            })
        })
    }

    fn counts(&self, tenant: &TenantId, q: &AlertQuery) -> Result<Counts, StoreError> {
        self.backend.read(tenant, |tx| tx.counts(q))
    }

    fn get(&self, tenant: &TenantId, id: &AlertId) -> Result<Option<StoredAlert>, StoreError> {
        self.backend
            .read(tenant, |tx| Ok(resolve(tx, id)?.map(|r| r.stored)))
    }

    fn related(
        &self,
        tenant: &TenantId,
        id: &AlertId,
        limit: usize,
    ) -> Result<Vec<RelatedAlert>, StoreError> {
        self.backend.read(tenant, |tx| {
            let me = must_resolve(tx, id)?;
            if limit == 0 {
                return Ok(Vec::new());
            }
            let mut out = Vec::new();
            for other in tx.related_candidates(&me, limit)? {
                let relations = super::relations(&me.stored.alert, &other.alert);
                if !relations.is_empty() {
                    out.push(RelatedAlert {
                        alert: other,
                        relations,
                    });
                }
            }
            Ok(out)
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
        self.backend.write(tenant, |tx| {
            let rec = must_resolve(tx, id)?;
            change_one(tx, rec, Some(expected_version), &change, None, at)
        })
    }

    fn bulk_change_status(
        &self,
        tenant: &TenantId,
        query: &AlertQuery,
        change: StatusChange,
        at: DateTime<Utc>,
    ) -> Result<Vec<BulkOutcome>, StoreError> {
        self.backend.write(tenant, |tx| {
            let mut ids = Vec::new();
            tx.scan(query, &mut |r| {
                ids.push(r.stored.alert.id().clone());
                Ok(true)
            })?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let rec = must_resolve(tx, &id)?;
                let result = match change_one(tx, rec, None, &change, None, at) {
                    Ok(s) => Ok(s.version),
                    Err(e) if storage_failure(&e) => return Err(e),
                    Err(e) => Err(e),
                };
                out.push(BulkOutcome { id, result });
            }
            Ok(out)
        })
    }

    fn history(&self, tenant: &TenantId, id: &AlertId) -> Result<Vec<AuditEntry>, StoreError> {
        self.backend.read(tenant, |tx| {
            let rec = must_resolve(tx, id)?;
            tx.history(rec.stored.alert.id())
        })
    }

    fn add_feedback(
        &self,
        tenant: &TenantId,
        id: &AlertId,
        feedback: Feedback,
    ) -> Result<(), StoreError> {
        self.backend.write(tenant, |tx| {
            let rec = must_resolve(tx, id)?;
            let key = rec.stored.alert.id();
            tx.add_feedback(key, &feedback)?;
            tx.append_event(
                feedback.at,
                &EventKind::FeedbackAdded {
                    alert: key.clone(),
                    useful: feedback.useful,
                    reason: feedback.reason.as_str().to_owned(),
                    actor: feedback.actor.clone(),
                },
            )?;
            Ok(())
        })
    }

    fn list_feedback(
        &self,
        tenant: &TenantId,
        q: &FeedbackQuery,
    ) -> Result<Vec<(AlertId, Feedback)>, StoreError> {
        self.backend.read(tenant, |tx| {
            let alert = match &q.alert {
                Some(a) => match resolve(tx, a)? {
                    Some(r) => Some(r.stored.alert.id().clone()),
                    None => return Ok(Vec::new()),
                },
                None => None,
            };
            tx.feedback(alert.as_ref(), q.useful)
        })
    }

    fn create_rule(
        &self,
        tenant: &TenantId,
        rule: SuppressionRule,
        at: DateTime<Utc>,
    ) -> Result<StoredRule, StoreError> {
        check_rule(&rule)?;
        self.backend
            .write(tenant, |tx| insert_rule(tx, rule.clone(), at))
    }

    fn create_rules(
        &self,
        tenant: &TenantId,
        rules: Vec<SuppressionRule>,
        at: DateTime<Utc>,
        force: bool,
    ) -> Result<Vec<CreatedRule>, StoreError> {
        // Every rule is admitted (and they compile together) before anything is written.
        let mut lints = Vec::with_capacity(rules.len());
        for rule in &rules {
            lints.push(
                crate::suppression::admit(rule, at, force).map_err(|e| {
                    StoreError::with_source(ErrorKind::InvalidInput, e.to_string(), e)
                })?,
            );
        }
        RuleSet::compile(rules.iter().cloned()).map_err(|e| {
            StoreError::with_source(
                ErrorKind::InvalidInput,
                format!("the rules do not compile together: {e}"),
                e,
            )
        })?;
        self.backend.write(tenant, |tx| {
            let mut out = Vec::with_capacity(rules.len());
            for (rule, warnings) in rules.iter().zip(&lints) {
                out.push(CreatedRule {
                    rule: insert_rule(tx, rule.clone(), at)?,
                    warnings: warnings.clone(),
                });
            }
            Ok(out)
        })
    }

    fn get_rule(&self, tenant: &TenantId, name: &str) -> Result<Option<StoredRule>, StoreError> {
        self.backend.read(tenant, |tx| tx.rule(name))
    }

    fn list_rules(&self, tenant: &TenantId) -> Result<Vec<StoredRule>, StoreError> {
        self.backend.read(tenant, |tx| tx.rules())
    }

    fn update_rule(
        &self,
        tenant: &TenantId,
        rule: SuppressionRule,
        expected_version: u64,
        at: DateTime<Utc>,
    ) -> Result<StoredRule, StoreError> {
        check_rule(&rule)?;
        self.backend.write(tenant, |tx| {
            let name = rule.name().to_owned();
            let current = tx
                .rule(&name)?
                .ok_or_else(|| StoreError::rule_not_found(&name))?;
            let stale = || {
                StoreError::new(
                    ErrorKind::Conflict,
                    format!(
                        "rule {name:?} is at version {}, not {expected_version}: reload it and retry",
                        current.version
                    ),
                )
            };
            if current.version != expected_version {
                return Err(stale());
            }
            let stored = StoredRule {
                rule: rule.clone(),
                version: current.version + 1,
                updated_at: at,
                ..current.clone()
            };
            if !tx.update_rule(&stored, expected_version)? {
                return Err(stale());
            }
            tx.append_event(
                at,
                &EventKind::RuleUpdated {
                    rule: name.clone(),
                    version: stored.version,
                },
            )?;
            Ok(stored)
        })
    }

    fn delete_rule(
        &self,
        tenant: &TenantId,
        name: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.backend.write(tenant, |tx| {
            if !tx.delete_rule(name)? {
                return Err(StoreError::rule_not_found(name));
            }
            tx.append_event(
                at,
                &EventKind::RuleDeleted {
                    rule: name.to_owned(),
                },
            )?;
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
        let set = check_rule(rule)?;
        self.backend.read(tenant, |tx| {
            let mut counts = [0u64; 4];
            let mut ids = Vec::new();
            let every = AlertQuery::default().all_statuses();
            rule_candidates(tx, every, rule, &mut |r| {
                let a = &r.stored.alert;
                if set.is_suppressed(a, at) {
                    if let Some(i) = Status::ALL.iter().position(|s| *s == a.status()) {
                        counts[i] += 1;
                    }
                    if ids.len() < sample {
                        ids.push(a.id().clone());
                    }
                }
                Ok(true)
            })?;
            Ok(Simulation {
                by_status: Status::ALL.iter().copied().zip(counts).collect(),
                sample: ids,
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
        self.backend.write(tenant, |tx| {
            let stored = tx
                .rule(name)?
                .ok_or_else(|| StoreError::rule_not_found(name))?;
            let set = check_rule(&stored.rule)?;
            apply(tx, &stored.rule, &set, actor, at)
        })
    }

    fn suppress_similar(
        &self,
        tenant: &TenantId,
        request: SuppressSimilar,
        at: DateTime<Utc>,
    ) -> Result<(CreatedRule, Vec<AlertId>), StoreError> {
        self.backend.write(tenant, |tx| {
            let rec = must_resolve(tx, &request.alert)?;
            let alert = &rec.stored.alert;
            let name = request
                .name
                .clone()
                .unwrap_or_else(|| format!("similar-{}", alert.id()));
            let fields: Vec<&str> = request.fields.iter().map(String::as_str).collect();
            let mut rule =
                crate::suppression::similar_rule(alert, &name, request.reason.clone(), &fields)
                    .map_err(|e| {
                        StoreError::with_source(ErrorKind::InvalidInput, e.to_string(), e)
                    })?;
            if request.expires_at.is_some() {
                rule.set_expiration(request.expires_at);
            }
            let warnings = crate::suppression::admit(&rule, at, false)
                .map_err(|e| StoreError::with_source(ErrorKind::InvalidInput, e.to_string(), e))?;
            let set = check_rule(&rule)?;
            let stored = insert_rule(tx, rule, at)?;
            let applied = match &request.apply_to_existing {
                Some(actor) => apply(tx, &stored.rule, &set, actor, at)?,
                None => Vec::new(),
            };
            let stored = tx.rule(&name)?.unwrap_or(stored);
            Ok((
                CreatedRule {
                    rule: stored,
                    warnings,
                },
                applied,
            ))
        })
    }

    fn explain(
        &self,
        tenant: &TenantId,
        rule: &str,
        id: &AlertId,
        at: DateTime<Utc>,
    ) -> Result<Explanation, StoreError> {
        self.backend.read(tenant, |tx| {
            let stored = tx
                .rule(rule)?
                .ok_or_else(|| StoreError::rule_not_found(rule))?;
            let alert = must_resolve(tx, id)?;
            let set = check_rule(&stored.rule)?;
            set.explain(rule, &alert.stored.alert, at)
                .ok_or_else(|| StoreError::rule_not_found(rule))
        })
    }

    fn events_since(
        &self,
        tenant: &TenantId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        self.backend
            .read(tenant, |tx| tx.events_since(after, limit))
    }

    fn checkpoint(&self, tenant: &TenantId, consumer: &str) -> Result<u64, StoreError> {
        check_consumer(consumer)?;
        self.backend
            .read(tenant, |tx| Ok(tx.checkpoint(consumer)?.unwrap_or(0)))
    }

    fn save_checkpoint(
        &self,
        tenant: &TenantId,
        consumer: &str,
        seq: u64,
    ) -> Result<(), StoreError> {
        check_consumer(consumer)?;
        self.backend.write(tenant, |tx| {
            if seq > 0 {
                let at = tx.events_since(seq - 1, 1)?;
                if at.first().is_none_or(|e| e.seq != seq) {
                    return Err(StoreError::new(
                        ErrorKind::InvalidInput,
                        format!(
                            "checkpoint {seq} of consumer {consumer:?} is past the last event of the log"
                        ),
                    ));
                }
            }
            tx.set_checkpoint(consumer, seq)
        })
    }

    fn create_automation(
        &self,
        tenant: &TenantId,
        automation: Automation,
        at: DateTime<Utc>,
    ) -> Result<StoredAutomation, StoreError> {
        automations::create(&self.backend, tenant, automation, at)
    }

    fn get_automation(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<Option<StoredAutomation>, StoreError> {
        self.backend.read(tenant, |tx| tx.automation(name))
    }

    fn list_automations(&self, tenant: &TenantId) -> Result<Vec<StoredAutomation>, StoreError> {
        self.backend.read(tenant, |tx| tx.automations())
    }

    fn update_automation(
        &self,
        tenant: &TenantId,
        automation: Automation,
        expected_version: u64,
        at: DateTime<Utc>,
    ) -> Result<StoredAutomation, StoreError> {
        automations::update(&self.backend, tenant, automation, expected_version, at)
    }

    fn delete_automation(
        &self,
        tenant: &TenantId,
        name: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        automations::delete(&self.backend, tenant, name, at)
    }

    fn acquire_lease(
        &self,
        tenant: &TenantId,
        claim: &LeaseClaim,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        automations::acquire_lease(&self.backend, tenant, claim, at)
    }

    fn release_lease(&self, tenant: &TenantId, claim: &LeaseClaim) -> Result<(), StoreError> {
        automations::release_lease(&self.backend, tenant, claim)
    }

    fn plan_deliveries(
        &self,
        tenant: &TenantId,
        claim: &LeaseClaim,
        limit: usize,
        at: DateTime<Utc>,
    ) -> Result<PlanReport, StoreError> {
        automations::plan(&self.backend, tenant, claim, limit, at)
    }

    fn due_deliveries(
        &self,
        tenant: &TenantId,
        at: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        automations::due(&self.backend, tenant, at, limit)
    }

    fn record_deliveries(
        &self,
        tenant: &TenantId,
        claim: &LeaseClaim,
        outcomes: &[(u64, Outcome)],
        policy: &RetryPolicy,
        at: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, StoreError> {
        automations::record(&self.backend, tenant, claim, outcomes, policy, at)
    }

    fn list_deliveries(
        &self,
        tenant: &TenantId,
        query: &DeliveryQuery,
    ) -> Result<Vec<Delivery>, StoreError> {
        automations::list(&self.backend, tenant, query)
    }

    fn retry_delivery(
        &self,
        tenant: &TenantId,
        id: u64,
        at: DateTime<Utc>,
    ) -> Result<Delivery, StoreError> {
        automations::retry(&self.backend, tenant, id, at)
    }

    fn prune_deliveries(
        &self,
        tenant: &TenantId,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        automations::prune(&self.backend, tenant, before)
    }
}
