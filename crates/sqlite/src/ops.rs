//! The writes, and the reads that are not triage queries. Each function runs inside the
//! transaction its caller opened.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use vigil_core::store::{
    AlertQuery, AuditEntry, BulkOutcome, ErrorKind, Feedback, FeedbackQuery, IngestReport, Order,
    Simulation, SortKey, StatusChange, StoreError, StoredAlert, StoredRule, TenantId,
};
use vigil_core::suppression::{RuleSet, SuppressionRule};
use vigil_core::{Alert, AlertId, Status};

use crate::codec::{
    ALERT_COLUMNS, AlertRow, Derived, alert_json, feedback_reason_text, list_text,
    parse_feedback_reason, parse_list, parse_status, parse_ts, status_text,
    suppression_reason_text, ts,
};
use crate::error::{Db, corrupt_alert, corrupt_row, corrupt_rule};

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

// ---------------------------------------------------------------------------------------------
// Rules

pub(crate) fn rules_generation(conn: &Connection, tenant: &TenantId) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT rules_generation FROM tenant_state WHERE tenant = ?1")
        .db()?
        .query_row([tenant.as_str()], |r| r.get(0))
        .optional()
        .db()?
        .unwrap_or(0))
}

fn bump_rules_generation(conn: &Connection, tenant: &TenantId) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO tenant_state (tenant, rules_generation) VALUES (?1, 1)
         ON CONFLICT (tenant) DO UPDATE SET rules_generation = rules_generation + 1",
    )
    .db()?
    .execute([tenant.as_str()])
    .db()?;
    Ok(())
}

const RULE_COLUMNS: &str =
    "name, version, json, created_at, updated_at, hit_count, last_matched_at";

struct RuleRow {
    name: String,
    version: i64,
    json: String,
    created_at: String,
    updated_at: String,
    hit_count: i64,
    last_matched_at: Option<String>,
}

impl RuleRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<RuleRow> {
        Ok(RuleRow {
            name: r.get(0)?,
            version: r.get(1)?,
            json: r.get(2)?,
            created_at: r.get(3)?,
            updated_at: r.get(4)?,
            hit_count: r.get(5)?,
            last_matched_at: r.get(6)?,
        })
    }

    fn rule(&self, tenant: &TenantId) -> Result<SuppressionRule, StoreError> {
        let rule: SuppressionRule = serde_json::from_str(&self.json).map_err(|e| {
            corrupt_rule(
                tenant.as_str(),
                &self.name,
                format!("its JSON does not parse as a suppression rule: {e}"),
            )
        })?;
        if rule.name() != self.name {
            return Err(corrupt_rule(
                tenant.as_str(),
                &self.name,
                format!("its JSON names the rule {:?}", rule.name()),
            ));
        }
        Ok(rule)
    }

    fn time(&self, tenant: &TenantId, what: &str, text: &str) -> Result<DateTime<Utc>, StoreError> {
        parse_ts(text).ok_or_else(|| {
            corrupt_rule(
                tenant.as_str(),
                &self.name,
                format!("invalid {what} time {text:?}"),
            )
        })
    }

    fn decode(self, tenant: &TenantId) -> Result<StoredRule, StoreError> {
        Ok(StoredRule {
            rule: self.rule(tenant)?,
            version: u64_of(self.version),
            created_at: self.time(tenant, "creation", &self.created_at)?,
            updated_at: self.time(tenant, "update", &self.updated_at)?,
            hit_count: u64_of(self.hit_count),
            last_matched: match &self.last_matched_at {
                Some(t) => Some(self.time(tenant, "last match", t)?),
                None => None,
            },
        })
    }
}

fn rule_rows(conn: &Connection, tenant: &TenantId) -> Result<Vec<RuleRow>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {RULE_COLUMNS} FROM rules WHERE tenant = ?1 ORDER BY seq"
        ))
        .db()?;
    let rows = stmt
        .query_map([tenant.as_str()], RuleRow::read)
        .db()?
        .collect::<Result<Vec<_>, _>>()
        .db()?;
    Ok(rows)
}

fn rule_row(
    conn: &Connection,
    tenant: &TenantId,
    name: &str,
) -> Result<Option<RuleRow>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {RULE_COLUMNS} FROM rules WHERE tenant = ?1 AND name = ?2"
    ))
    .db()?
    .query_row([tenant.as_str(), name], RuleRow::read)
    .optional()
    .db()
}

/// Every rule of the tenant, compiled in creation order.
pub(crate) fn compile_rules(conn: &Connection, tenant: &TenantId) -> Result<RuleSet, StoreError> {
    let rules = rule_rows(conn, tenant)?
        .iter()
        .map(|r| r.rule(tenant))
        .collect::<Result<Vec<_>, _>>()?;
    RuleSet::compile(rules).map_err(|e| {
        StoreError::with_source(
            ErrorKind::Corrupt,
            format!(
                "stored rules of tenant {:?} no longer compile: {e}",
                tenant.as_str()
            ),
            e,
        )
    })
}

fn rule_json(rule: &SuppressionRule) -> Result<String, StoreError> {
    serde_json::to_string(rule).map_err(|e| {
        StoreError::with_source(
            ErrorKind::InvalidInput,
            format!("rule {:?} cannot be written as JSON: {e}", rule.name()),
            e,
        )
    })
}

pub(crate) fn create_rule(
    conn: &Connection,
    tenant: &TenantId,
    rule: SuppressionRule,
    at: DateTime<Utc>,
) -> Result<StoredRule, StoreError> {
    let at_ts = ts(at);
    if rule_row(conn, tenant, rule.name())?.is_some() {
        return Err(StoreError::new(
            ErrorKind::AlreadyExists,
            format!(
                "a suppression rule named {:?} already exists; update it or pick another name",
                rule.name()
            ),
        ));
    }
    conn.prepare_cached(
        "INSERT INTO rules (tenant, name, version, json, created_at, updated_at, hit_count)
         VALUES (?1, ?2, 1, ?3, ?4, ?4, 0)",
    )
    .db()?
    .execute(params![
        tenant.as_str(),
        rule.name(),
        rule_json(&rule)?,
        at_ts
    ])
    .db()?;
    bump_rules_generation(conn, tenant)?;
    Ok(StoredRule {
        rule,
        version: 1,
        created_at: at,
        updated_at: at,
        hit_count: 0,
        last_matched: None,
    })
}

pub(crate) fn get_rule(
    conn: &Connection,
    tenant: &TenantId,
    name: &str,
) -> Result<Option<StoredRule>, StoreError> {
    rule_row(conn, tenant, name)?
        .map(|r| r.decode(tenant))
        .transpose()
}

pub(crate) fn list_rules(
    conn: &Connection,
    tenant: &TenantId,
) -> Result<Vec<StoredRule>, StoreError> {
    rule_rows(conn, tenant)?
        .into_iter()
        .map(|r| r.decode(tenant))
        .collect()
}

pub(crate) fn update_rule(
    conn: &Connection,
    tenant: &TenantId,
    rule: SuppressionRule,
    expected_version: u64,
    at: DateTime<Utc>,
) -> Result<StoredRule, StoreError> {
    let at_ts = ts(at);
    let name = rule.name().to_owned();
    let row = rule_row(conn, tenant, &name)?.ok_or_else(|| StoreError::rule_not_found(&name))?;
    if u64_of(row.version) != expected_version {
        return Err(StoreError::new(
            ErrorKind::Conflict,
            format!(
                "rule {name:?} is at version {}, not {expected_version}: reload it and retry",
                row.version
            ),
        ));
    }
    let changed = conn
        .prepare_cached(
            "UPDATE rules SET json = ?1, version = version + 1, updated_at = ?2
             WHERE tenant = ?3 AND name = ?4 AND version = ?5",
        )
        .db()?
        .execute(params![
            rule_json(&rule)?,
            at_ts,
            tenant.as_str(),
            name,
            row.version
        ])
        .db()?;
    if changed != 1 {
        return Err(StoreError::new(
            ErrorKind::Conflict,
            format!("rule {name:?} changed meanwhile: reload it and retry"),
        ));
    }
    bump_rules_generation(conn, tenant)?;
    let stored = row.decode(tenant)?;
    Ok(StoredRule {
        rule,
        version: stored.version + 1,
        updated_at: at,
        ..stored
    })
}

pub(crate) fn delete_rule(
    conn: &Connection,
    tenant: &TenantId,
    name: &str,
) -> Result<(), StoreError> {
    let n = conn
        .prepare_cached("DELETE FROM rules WHERE tenant = ?1 AND name = ?2")
        .db()?
        .execute([tenant.as_str(), name])
        .db()?;
    if n == 0 {
        return Err(StoreError::rule_not_found(name));
    }
    bump_rules_generation(conn, tenant)
}

fn record_hits(
    conn: &Connection,
    tenant: &TenantId,
    name: &str,
    hits: u64,
    at_ts: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE rules SET hit_count = hit_count + ?1, last_matched_at = ?2
         WHERE tenant = ?3 AND name = ?4",
    )
    .db()?
    .execute(params![i64_of(hits), at_ts, tenant.as_str(), name])
    .db()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Ingest

fn insert_side_rows(conn: &Connection, seq: i64, d: &Derived) -> Result<(), StoreError> {
    if !d.entities.is_empty() {
        let mut stmt = conn
            .prepare_cached("INSERT OR IGNORE INTO alert_entities (value_lc, seq) VALUES (?1, ?2)")
            .db()?;
        for v in &d.entities {
            stmt.execute(params![v, seq]).db()?;
        }
    }
    Ok(())
}

fn delete_side_rows(
    conn: &Connection,
    tenant: &TenantId,
    id: &str,
    seq: i64,
    entities: &str,
) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare_cached("DELETE FROM alert_entities WHERE value_lc = ?1 AND seq = ?2")
        .db()?;
    for v in parse_list(tenant.as_str(), id, entities)? {
        stmt.execute(params![v, seq]).db()?;
    }
    Ok(())
}

fn insert_audit(conn: &Connection, seq: i64, e: &AuditEntry) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO audit (seq, n, at, actor, from_status, to_status, comment, version)
         VALUES (?1, (SELECT coalesce(max(n), 0) + 1 FROM audit WHERE seq = ?1), ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .db()?
    .execute(params![
        seq,
        ts(e.at),
        e.actor,
        status_text(e.from),
        status_text(e.to),
        e.comment,
        i64_of(e.version)
    ])
    .db()?;
    Ok(())
}

// Keeps a stored status through the deprecated builder path until the core engine does it.
#[allow(deprecated)]
pub(crate) fn ingest(
    conn: &Connection,
    tenant: &TenantId,
    rules: &RuleSet,
    alerts: &[Alert],
    at: DateTime<Utc>,
) -> Result<IngestReport, StoreError> {
    let at_ts = ts(at);
    let mut report = IngestReport::default();
    let mut tseq: i64 = conn
        .prepare_cached("SELECT last_alert_seq FROM tenant_state WHERE tenant = ?1")
        .db()?
        .query_row([tenant.as_str()], |r| r.get(0))
        .optional()
        .db()?
        .unwrap_or(0);
    let first_tseq = tseq;
    let mut hits: Vec<(String, u64)> = Vec::new();
    let mut find = conn
        .prepare_cached("SELECT seq, status, entities_lc FROM alerts WHERE tenant = ?1 AND id = ?2")
        .db()?;
    let mut update = conn
        .prepare_cached(
            "UPDATE alerts SET version = version + 1, severity_rank = ?1, time_us = ?2,
                priority = ?3, alert_type_lc = ?4, product_lc = ?5, display_lc = ?6,
                correlation_key = ?7, compromised_lc = ?8, resources_lc = ?9, entities_lc = ?10,
                updated_at = ?11, json = ?12
             WHERE seq = ?13",
        )
        .db()?;
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO alerts (tenant, id, version, status, severity_rank, time_us, priority,
                alert_type_lc, product_lc, display_lc, correlation_key, compromised_lc,
                resources_lc, entities_lc, ingested_at, updated_at, suppression_rule,
                suppression_reason, suppressed_at, json, tseq, sys_id)
             VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, ?15, ?16,
                ?17, ?18, ?19, ?20)",
        )
        .db()?;
    for incoming in alerts {
        let id = incoming.id().as_str();
        let existing = find
            .query_row([tenant.as_str(), id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .optional()
            .db()?;
        if let Some((seq, status, old_entities)) = existing {
            let kept = parse_status(&status).ok_or_else(|| {
                corrupt_alert(tenant.as_str(), id, format!("unknown status {status:?}"))
            })?;
            let rebuilt;
            let alert = if incoming.status() == kept {
                incoming
            } else {
                rebuilt = incoming.clone().into_builder().status(kept).build();
                &rebuilt
            };
            let d = Derived::of(alert);
            update
                .execute(params![
                    d.severity_rank,
                    d.time_us,
                    d.priority,
                    d.alert_type_lc,
                    d.product_lc,
                    d.display_lc,
                    d.correlation_key,
                    d.compromised_lc,
                    list_text(&d.resources),
                    list_text(&d.entities),
                    at_ts,
                    alert_json(alert)?,
                    seq
                ])
                .db()?;
            delete_side_rows(conn, tenant, id, seq, &old_entities)?;
            insert_side_rows(conn, seq, &d)?;
            report.updated += 1;
            continue;
        }

        let mut suppressed: Option<(Alert, &SuppressionRule, Status)> = None;
        if !incoming.status().is_closed()
            && let Some(rule) = rules.first_match(incoming, at)
        {
            let mut alert = incoming.clone();
            let from = alert.status();
            if alert.transition(Status::Dismissed).is_ok() {
                suppressed = Some((alert, rule, from));
            }
        }
        let alert = suppressed.as_ref().map_or(incoming, |(a, _, _)| a);
        let d = Derived::of(alert);
        let (rule_name, reason) = match &suppressed {
            Some((_, rule, _)) => (
                Some(rule.name()),
                Some(suppression_reason_text(rule.reason())),
            ),
            None => (None, None),
        };
        tseq += 1;
        insert
            .execute(params![
                tenant.as_str(),
                id,
                status_text(alert.status()),
                d.severity_rank,
                d.time_us,
                d.priority,
                d.alert_type_lc,
                d.product_lc,
                d.display_lc,
                d.correlation_key,
                d.compromised_lc,
                list_text(&d.resources),
                list_text(&d.entities),
                at_ts,
                rule_name,
                reason,
                rule_name.map(|_| at_ts.as_str()),
                alert_json(alert)?,
                tseq,
                alert.system_alert_id().as_str(),
            ])
            .db()?;
        let seq = conn.last_insert_rowid();
        insert_side_rows(conn, seq, &d)?;
        if let Some((_, rule, from)) = &suppressed {
            insert_audit(
                conn,
                seq,
                &AuditEntry {
                    at,
                    actor: format!("rule:{}", rule.name()),
                    from: *from,
                    to: Status::Dismissed,
                    comment: Some(vigil_core::store::suppression_comment(rule)),
                    version: 1,
                },
            )?;
            match hits.iter_mut().find(|(n, _)| n == rule.name()) {
                Some((_, count)) => *count += 1,
                None => hits.push((rule.name().to_owned(), 1)),
            }
            report.suppressed += 1;
        }
        report.new += 1;
    }
    for (name, count) in hits {
        record_hits(conn, tenant, &name, count, &at_ts)?;
    }
    if tseq != first_tseq {
        conn.prepare_cached(
            "INSERT INTO tenant_state (tenant, last_alert_seq) VALUES (?1, ?2)
             ON CONFLICT (tenant) DO UPDATE SET last_alert_seq = excluded.last_alert_seq",
        )
        .db()?
        .execute(params![tenant.as_str(), tseq])
        .db()?;
    }
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// Alerts

struct Located {
    seq: i64,
    row: AlertRow,
}

/// The row id of the alert an id names: the alert whose identity it is, else the one alert whose
/// system alert id it is (several is ambiguous, listing their identities).
pub(crate) fn resolve(
    conn: &Connection,
    tenant: &TenantId,
    id: &AlertId,
) -> Result<Option<i64>, StoreError> {
    let by_id = conn
        .prepare_cached("SELECT seq FROM alerts WHERE tenant = ?1 AND id = ?2")
        .db()?
        .query_row([tenant.as_str(), id.as_str()], |r| r.get(0))
        .optional()
        .db()?;
    if by_id.is_some() {
        return Ok(by_id);
    }
    let mut stmt = conn
        .prepare_cached("SELECT seq, id FROM alerts WHERE tenant = ?1 AND sys_id = ?2 ORDER BY id")
        .db()?;
    let found: Vec<(i64, String)> = stmt
        .query_map([tenant.as_str(), id.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .db()?
        .collect::<Result<_, _>>()
        .db()?;
    match found.as_slice() {
        [] => Ok(None),
        [(seq, _)] => Ok(Some(*seq)),
        many => {
            let ids: Vec<AlertId> = many
                .iter()
                .filter_map(|(_, i)| AlertId::new(i.clone()).ok())
                .collect();
            Err(StoreError::ambiguous_alert_id(id, &ids))
        }
    }
}

fn locate(
    conn: &Connection,
    tenant: &TenantId,
    id: &AlertId,
) -> Result<Option<Located>, StoreError> {
    let Some(seq) = resolve(conn, tenant, id)? else {
        return Ok(None);
    };
    conn.prepare_cached(&format!(
        "SELECT seq, {ALERT_COLUMNS} FROM alerts WHERE seq = ?1"
    ))
    .db()?
    .query_row([seq], |r| {
        Ok(Located {
            seq: r.get(0)?,
            row: AlertRow::read(r, 1)?,
        })
    })
    .optional()
    .db()
}

/// The full stored alert with insertion sequence `seq`.
pub(crate) fn load(
    conn: &Connection,
    tenant: &TenantId,
    seq: i64,
) -> Result<StoredAlert, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE seq = ?1"
        ))
        .db()?
        .query_row([seq], |r| AlertRow::read(r, 0))
        .db()?;
    row.decode(tenant.as_str())
}

pub(crate) fn get(
    conn: &Connection,
    tenant: &TenantId,
    id: &AlertId,
) -> Result<Option<StoredAlert>, StoreError> {
    locate(conn, tenant, id)?
        .map(|l| l.row.decode(tenant.as_str()))
        .transpose()
}

fn seq_of(conn: &Connection, tenant: &TenantId, id: &AlertId) -> Result<i64, StoreError> {
    resolve(conn, tenant, id)?.ok_or_else(|| StoreError::alert_not_found(id))
}

/// One status change: checks the version (if given) and the lifecycle, writes the new status
/// with a version bump guarded by `version = ?`, and appends the audit entry.
pub(crate) fn change(
    conn: &Connection,
    tenant: &TenantId,
    id: &AlertId,
    expected: Option<u64>,
    change: &StatusChange,
    at: DateTime<Utc>,
) -> Result<StoredAlert, StoreError> {
    let at_ts = ts(at);
    let Located { seq, row } =
        locate(conn, tenant, id)?.ok_or_else(|| StoreError::alert_not_found(id))?;
    let version = row.version;
    if let Some(v) = expected
        && v != u64_of(version)
    {
        return Err(StoreError::new(
            ErrorKind::Conflict,
            format!(
                "alert {:?} is at version {version}, not {v}: someone changed it; reload it and retry",
                id.as_str()
            ),
        ));
    }
    let mut stored = row.decode(tenant.as_str())?;
    let from = stored.alert.status();
    stored
        .alert
        .transition(change.to)
        .map_err(|e| StoreError::with_source(ErrorKind::InvalidInput, e.to_string(), e))?;
    stored.version += 1;
    stored.updated_at = at;
    let clear = change.to != Status::Dismissed;
    if clear {
        stored.suppression = None;
    }
    let changed = conn
        .prepare_cached(
            "UPDATE alerts SET version = version + 1, status = ?1, updated_at = ?2, json = ?3,
                suppression_rule = CASE WHEN ?4 THEN NULL ELSE suppression_rule END,
                suppression_reason = CASE WHEN ?4 THEN NULL ELSE suppression_reason END,
                suppressed_at = CASE WHEN ?4 THEN NULL ELSE suppressed_at END
             WHERE seq = ?5 AND version = ?6",
        )
        .db()?
        .execute(params![
            status_text(change.to),
            at_ts,
            alert_json(&stored.alert)?,
            clear,
            seq,
            version
        ])
        .db()?;
    if changed != 1 {
        return Err(StoreError::new(
            ErrorKind::Conflict,
            format!(
                "alert {:?} changed meanwhile: reload it and retry",
                id.as_str()
            ),
        ));
    }
    insert_audit(
        conn,
        seq,
        &AuditEntry {
            at,
            actor: change.actor.clone(),
            from,
            to: change.to,
            comment: change.comment.clone(),
            version: stored.version,
        },
    )?;
    Ok(stored)
}

pub(crate) fn bulk_change(
    conn: &Connection,
    tenant: &TenantId,
    q: &AlertQuery,
    to: &StatusChange,
    at: DateTime<Utc>,
) -> Result<Vec<BulkOutcome>, StoreError> {
    let ids = crate::query::all_ids(conn, tenant, q)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let result = match change(conn, tenant, &id, None, to, at) {
            Ok(s) => Ok(s.version),
            // A database failure may leave the change half-written: abort the whole batch.
            Err(e) if e.kind() == ErrorKind::Unavailable => return Err(e),
            // Everything else is refused before anything is written: this alert's outcome.
            Err(e) => Err(e),
        };
        out.push(BulkOutcome { id, result });
    }
    Ok(out)
}

pub(crate) fn history(
    conn: &Connection,
    tenant: &TenantId,
    id: &AlertId,
) -> Result<Vec<AuditEntry>, StoreError> {
    let seq = seq_of(conn, tenant, id)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT at, actor, from_status, to_status, comment, version
             FROM audit WHERE seq = ?1 ORDER BY n",
        )
        .db()?;
    let rows = stmt
        .query_map([seq], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })
        .db()?
        .collect::<Result<Vec<_>, _>>()
        .db()?;
    rows.into_iter()
        .map(|(at, actor, from, to, comment, version)| {
            let what = || format!("audit entry of alert {:?}", id.as_str());
            let status = |s: &str| {
                parse_status(s).ok_or_else(|| corrupt_row(what(), format!("unknown status {s:?}")))
            };
            Ok(AuditEntry {
                at: parse_ts(&at)
                    .ok_or_else(|| corrupt_row(what(), format!("invalid time {at:?}")))?,
                actor,
                from: status(&from)?,
                to: status(&to)?,
                comment,
                version: u64_of(version),
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Feedback

pub(crate) fn add_feedback(
    conn: &Connection,
    tenant: &TenantId,
    id: &AlertId,
    f: &Feedback,
) -> Result<(), StoreError> {
    let seq = seq_of(conn, tenant, id)?;
    conn.prepare_cached(
        "INSERT INTO feedback (tenant, alert_seq, useful, reason, comment, actor, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .db()?
    .execute(params![
        tenant.as_str(),
        seq,
        f.useful,
        feedback_reason_text(&f.reason),
        f.comment,
        f.actor,
        ts(f.at)
    ])
    .db()?;
    Ok(())
}

pub(crate) fn list_feedback(
    conn: &Connection,
    tenant: &TenantId,
    q: &FeedbackQuery,
) -> Result<Vec<(AlertId, Feedback)>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT a.id, f.useful, f.reason, f.comment, f.actor, f.at
             FROM feedback f JOIN alerts a ON a.seq = f.alert_seq
             WHERE f.tenant = ?1 AND (?2 IS NULL OR f.alert_seq = ?2) AND (?3 IS NULL OR f.useful = ?3)
             ORDER BY f.fseq",
        )
        .db()?;
    let alert_seq = match &q.alert {
        Some(a) => match resolve(conn, tenant, a)? {
            Some(seq) => Some(seq),
            None => return Ok(Vec::new()),
        },
        None => None,
    };
    let rows = stmt
        .query_map(params![tenant.as_str(), alert_seq, q.useful], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })
        .db()?
        .collect::<Result<Vec<_>, _>>()
        .db()?;
    rows.into_iter()
        .map(|(id, useful, reason, comment, actor, at)| {
            let what = || format!("feedback on alert {id:?}");
            let reason = parse_feedback_reason(&reason)
                .ok_or_else(|| corrupt_row(what(), format!("unknown reason {reason:?}")))?;
            let alert = AlertId::new(id.clone())
                .map_err(|e| corrupt_row(what(), format!("bad alert id: {e}")))?;
            Ok((
                alert,
                Feedback {
                    useful,
                    reason,
                    comment,
                    actor,
                    at: parse_ts(&at)
                        .ok_or_else(|| corrupt_row(what(), format!("invalid time {at:?}")))?,
                },
            ))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Simulate and apply

/// Visits the tenant's alerts (only open ones if `open_only`) that `rule` could match by its
/// alert type, most recent first.
fn scan_for_rule(
    conn: &Connection,
    tenant: &TenantId,
    rule: &SuppressionRule,
    open_only: bool,
    mut visit: impl FnMut(i64, StoredAlert) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut sql = format!("SELECT tseq, {ALERT_COLUMNS} FROM alerts WHERE tenant = ?1");
    if open_only {
        sql.push_str(" AND status IN ('Active', 'InProgress')");
    }
    let type_lc = (!rule.is_any_type()).then(|| rule.alert_type().trim().to_ascii_lowercase());
    if type_lc.is_some() {
        sql.push_str(" AND alert_type_lc = ?2");
    }
    sql.push_str(" ORDER BY time_us DESC, tseq DESC");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = match &type_lc {
        Some(t) => stmt.query(params![tenant.as_str(), t]),
        None => stmt.query(params![tenant.as_str()]),
    }
    .db()?;
    while let Some(r) = rows.next().db()? {
        let seq: i64 = r.get(0).db()?;
        let row = AlertRow::read(r, 1).db()?;
        visit(seq, row.decode(tenant.as_str())?)?;
    }
    Ok(())
}

pub(crate) fn simulate(
    conn: &Connection,
    tenant: &TenantId,
    rule: &SuppressionRule,
    set: &RuleSet,
    at: DateTime<Utc>,
    sample: usize,
) -> Result<Simulation, StoreError> {
    let mut counts = [0u64; 4];
    let mut hits = Vec::new();
    scan_for_rule(conn, tenant, rule, false, |_, s| {
        if set.is_suppressed(&s.alert, at) {
            if let Some(i) = Status::ALL.iter().position(|x| *x == s.alert.status()) {
                counts[i] += 1;
            }
            if hits.len() < sample {
                hits.push(s.alert.id().clone());
            }
        }
        Ok(())
    })?;
    Ok(Simulation {
        by_status: Status::ALL.iter().copied().zip(counts).collect(),
        sample: hits,
    })
}

pub(crate) fn apply_rule(
    conn: &Connection,
    tenant: &TenantId,
    name: &str,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<Vec<AlertId>, StoreError> {
    let at_ts = ts(at);
    let row = rule_row(conn, tenant, name)?.ok_or_else(|| StoreError::rule_not_found(name))?;
    let rule = row.rule(tenant)?;
    let set = vigil_core::store::check_rule(&rule)?;
    let mut matched: Vec<(SortKey, AlertId)> = Vec::new();
    scan_for_rule(conn, tenant, &rule, true, |seq, s| {
        if !s.alert.status().is_closed() && set.is_suppressed(&s.alert, at) {
            matched.push((
                SortKey::of(Order::Time, &s.alert, u64_of(seq)),
                s.alert.id().clone(),
            ));
        }
        Ok(())
    })?;
    matched.sort_by_key(|e| std::cmp::Reverse(e.0));
    let to = StatusChange::new(Status::Dismissed, actor)
        .comment(vigil_core::store::applied_rule_comment(&rule));
    let mut mark = conn
        .prepare_cached(
            "UPDATE alerts SET suppression_rule = ?1, suppression_reason = ?2, suppressed_at = ?3
             WHERE tenant = ?4 AND id = ?5",
        )
        .db()?;
    let reason = suppression_reason_text(rule.reason());
    let mut done = Vec::with_capacity(matched.len());
    for (_, id) in matched {
        change(conn, tenant, &id, None, &to, at)?;
        mark.execute(params![name, reason, at_ts, tenant.as_str(), id.as_str()])
            .db()?;
        done.push(id);
    }
    if !done.is_empty() {
        record_hits(conn, tenant, name, done.len() as u64, &at_ts)?;
    }
    Ok(done)
}
