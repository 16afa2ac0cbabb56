//! Alert rows and what hangs off them: the entity side table, the audit trail, feedback.

use rusqlite::{Connection, OptionalExtension, params};
use vigil_core::store::{AlertRecord, AuditEntry, Feedback, StoreError, StoredAlert, TenantId};
use vigil_core::{Alert, AlertId};

use crate::codec::{
    ALERT_COLUMNS, Derived, alert_json, decode, feedback_reason_text, list_text,
    parse_feedback_reason, parse_status, parse_ts, read_alert_row, status_text,
    suppression_reason_text, ts,
};
use crate::error::{Db, corrupt_row};
use crate::keys::Keyer;

pub(crate) fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The row id and the record of the alert with identity `id`.
pub(crate) fn by_id(
    conn: &Connection,
    tenant: &TenantId,
    id: &AlertId,
) -> Result<Option<(i64, AlertRecord)>, StoreError> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT seq, tseq, {ALERT_COLUMNS} FROM alerts WHERE tenant = ?1 AND id = ?2"
        ))
        .db()?
        .query_row([tenant.as_str(), id.as_str()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                read_alert_row(r, 2)?,
            ))
        })
        .optional()
        .db()?;
    match found {
        None => Ok(None),
        Some((seq, tseq, row)) => {
            let stored = decode(row, tenant.as_str())?;
            Ok(Some((seq, AlertRecord::new(stored, u64_of(tseq)))))
        }
    }
}

/// The row id of the alert with identity `id`.
pub(crate) fn seq_of(
    conn: &Connection,
    tenant: &TenantId,
    id: &AlertId,
) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached("SELECT seq FROM alerts WHERE tenant = ?1 AND id = ?2")
        .db()?
        .query_row([tenant.as_str(), id.as_str()], |r| r.get(0))
        .optional()
        .db()
}

pub(crate) fn must_seq(
    conn: &Connection,
    tenant: &TenantId,
    id: &AlertId,
) -> Result<i64, StoreError> {
    seq_of(conn, tenant, id)?.ok_or_else(|| StoreError::alert_not_found(id))
}

/// The identities of the alerts whose system alert id is `id`, sorted, at most `limit`.
pub(crate) fn ids_with_system_id(
    conn: &Connection,
    tenant: &TenantId,
    id: &AlertId,
    limit: usize,
) -> Result<Vec<AlertId>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id FROM alerts WHERE tenant = ?1 AND sys_id = ?2 ORDER BY id LIMIT ?3",
        )
        .db()?;
    let ids: Vec<String> = stmt
        .query_map(
            params![tenant.as_str(), id.as_str(), i64_of(limit as u64)],
            |r| r.get(0),
        )
        .db()?
        .collect::<Result<_, _>>()
        .db()?;
    ids.into_iter()
        .map(|i| {
            AlertId::new(i.clone()).map_err(|e| {
                crate::error::corrupt_alert(tenant.as_str(), &i, format!("bad id: {e}"))
            })
        })
        .collect()
}

/// The full stored alert with row id `seq`.
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
        .query_row([seq], |r| read_alert_row(r, 0))
        .db()?;
    decode(row, tenant.as_str())
}

/// Up to this many rows go into one multi-row `INSERT`.
const ROWS_PER_INSERT: usize = 16;

/// `INSERT OR IGNORE INTO alert_keys` of `n` rows of one alert: `?1` its generation, `?2` its
/// row id, `?3` its status code, `?4` its severity rank, then the keys.
fn keys_insert_sql(n: usize) -> String {
    let mut sql = String::from("INSERT OR IGNORE INTO alert_keys (gen, key, seq, st, sev) VALUES ");
    for i in 0..n {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("(?1, ?{}, ?2, ?3, ?4)", i + 5));
    }
    sql
}

/// Writes an alert's keys (with its status and severity) and its resources' indexed prefixes.
fn insert_side_rows(
    conn: &Connection,
    tenant: &TenantId,
    seq: i64,
    (alert, d): (&Alert, &Derived),
    keys: &[i64],
) -> Result<(), StoreError> {
    for chunk in keys.chunks(ROWS_PER_INSERT) {
        let mut params: Vec<i64> = Vec::with_capacity(chunk.len() + 4);
        params.push(crate::keys::gen_of(seq));
        params.push(seq);
        params.push(crate::keys::status_code(alert.status()));
        params.push(d.severity_rank);
        params.extend_from_slice(chunk);
        conn.prepare_cached(&keys_insert_sql(chunk.len()))
            .db()?
            .execute(rusqlite::params_from_iter(params))
            .db()?;
    }
    if !d.resources.is_empty() {
        let mut stmt = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO resource_prefixes (tenant, prefix) VALUES (?1, ?2)",
            )
            .db()?;
        for r in &d.resources {
            for p in crate::keys::resource_prefixes(r) {
                stmt.execute(params![tenant.as_str(), p]).db()?;
            }
        }
    }
    Ok(())
}

/// Deletes the key rows of the alert with row id `seq` as it was stored (`old`, whose derived
/// keys are `d`).
fn delete_side_rows(
    conn: &Connection,
    keyer: &Keyer,
    tenant: &TenantId,
    seq: i64,
    (old, d): (&vigil_core::Alert, &Derived),
) -> Result<(), StoreError> {
    let (keys, _) = crate::keys::of_alert(keyer, tenant.as_str(), old, d);
    let mut stmt = conn
        .prepare_cached("DELETE FROM alert_keys WHERE gen = ?1 AND key = ?2 AND seq = ?3")
        .db()?;
    for k in keys {
        stmt.execute(params![crate::keys::gen_of(seq), k, seq])
            .db()?;
    }
    Ok(())
}

/// Adds `n` (1 or -1) to the tally of alerts of a type, status, severity and display name.
fn tally(
    conn: &Connection,
    tenant: &TenantId,
    (alert_type_lc, display_lc): (&str, &str),
    status: &str,
    severity_rank: i64,
    n: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO tallies (tenant, alert_type_lc, status, severity_rank, display_lc, n)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (tenant, alert_type_lc, status, severity_rank, display_lc)
         DO UPDATE SET n = n + ?6",
    )
    .db()?
    .execute(params![
        tenant.as_str(),
        alert_type_lc,
        status,
        severity_rank,
        display_lc,
        n
    ])
    .db()?;
    Ok(())
}

/// Adds `n` to the tally of `alert`'s type, status and severity (`d` is derived from it).
fn tally_alert(
    conn: &Connection,
    tenant: &TenantId,
    d: &Derived,
    alert: &Alert,
    n: i64,
) -> Result<(), StoreError> {
    tally(
        conn,
        tenant,
        (&d.alert_type_lc, &d.display_lc),
        status_text(alert.status()),
        d.severity_rank,
        n,
    )
}

/// Inserts a new alert with insertion sequence `tseq`.
pub(crate) fn insert(
    conn: &Connection,
    keyer: &Keyer,
    tenant: &TenantId,
    stored: &StoredAlert,
    tseq: i64,
) -> Result<(), StoreError> {
    let alert = &stored.alert;
    let d = Derived::of(alert);
    let (keys, bloom) = crate::keys::of_alert(keyer, tenant.as_str(), alert, &d);
    let (rule, reason, at) = match &stored.suppression {
        Some(s) => (
            Some(s.rule.as_str()),
            Some(suppression_reason_text(&s.reason)),
            Some(ts(s.at)),
        ),
        None => (None, None, None),
    };
    conn.prepare_cached(
        "INSERT INTO alerts (tenant, id, version, status, severity_rank, time_us, priority,
            alert_type_lc, product_lc, display_lc, correlation_key, compromised_lc,
            resources_lc, entities_lc, ingested_at, updated_at, suppression_rule,
            suppression_reason, suppressed_at, json, tseq, sys_id, bloom)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
            ?19, ?20, ?21, ?22, ?23)",
    )
    .db()?
    .execute(params![
        tenant.as_str(),
        alert.id().as_str(),
        i64_of(stored.version),
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
        ts(stored.ingested_at),
        ts(stored.updated_at),
        rule,
        reason,
        at,
        alert_json(alert)?,
        tseq,
        alert.system_alert_id().as_str(),
        bloom,
    ])
    .db()?;
    insert_side_rows(conn, tenant, conn.last_insert_rowid(), (alert, &d), &keys)?;
    tally_alert(conn, tenant, &d, alert, 1)
}

/// Replaces an alert's content (a new version of it arrived), if its version is `expected`.
pub(crate) fn update_content(
    conn: &Connection,
    keyer: &Keyer,
    tenant: &TenantId,
    stored: &StoredAlert,
    expected: u64,
) -> Result<bool, StoreError> {
    let id = stored.alert.id();
    let Some((seq, old)) = by_id(conn, tenant, id)? else {
        return Ok(false);
    };
    if old.stored.version != expected {
        return Ok(false);
    }
    let alert = &stored.alert;
    let d = Derived::of(alert);
    let (keys, bloom) = crate::keys::of_alert(keyer, tenant.as_str(), alert, &d);
    conn.prepare_cached(
        "UPDATE alerts SET version = ?1, status = ?2, severity_rank = ?3, time_us = ?4,
            priority = ?5, alert_type_lc = ?6, product_lc = ?7, display_lc = ?8,
            correlation_key = ?9, compromised_lc = ?10, resources_lc = ?11, entities_lc = ?12,
            updated_at = ?13, json = ?14, sys_id = ?15, bloom = ?16
         WHERE seq = ?17",
    )
    .db()?
    .execute(params![
        i64_of(stored.version),
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
        ts(stored.updated_at),
        alert_json(alert)?,
        alert.system_alert_id().as_str(),
        bloom,
        seq
    ])
    .db()?;
    let was = &old.stored.alert;
    let was_d = Derived::of(was);
    delete_side_rows(conn, keyer, tenant, seq, (was, &was_d))?;
    tally_alert(conn, tenant, &was_d, was, -1)?;
    tally_alert(conn, tenant, &d, alert, 1)?;
    insert_side_rows(conn, tenant, seq, (alert, &d), &keys)?;
    Ok(true)
}

/// Writes an alert's status, suppression record, version and update time, if its version is
/// `expected`.
pub(crate) fn update_status(
    conn: &Connection,
    keyer: &Keyer,
    tenant: &TenantId,
    stored: &StoredAlert,
    expected: u64,
) -> Result<bool, StoreError> {
    let (rule, reason, at) = match &stored.suppression {
        Some(s) => (
            Some(s.rule.as_str()),
            Some(suppression_reason_text(&s.reason)),
            Some(ts(s.at)),
        ),
        None => (None, None, None),
    };
    let before = conn
        .prepare_cached(
            "SELECT seq, status, alert_type_lc, severity_rank, display_lc FROM alerts
             WHERE tenant = ?1 AND id = ?2 AND version = ?3",
        )
        .db()?
        .query_row(
            params![
                tenant.as_str(),
                stored.alert.id().as_str(),
                i64_of(expected)
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                ))
            },
        )
        .optional()
        .db()?;
    let Some((seq, was, alert_type_lc, severity_rank, display_lc)) = before else {
        return Ok(false);
    };
    let now = status_text(stored.alert.status());
    conn.prepare_cached(
        "UPDATE alerts SET version = ?1, status = ?2, updated_at = ?3, json = ?4,
            suppression_rule = ?5, suppression_reason = ?6, suppressed_at = ?7
         WHERE seq = ?8",
    )
    .db()?
    .execute(params![
        i64_of(stored.version),
        now,
        ts(stored.updated_at),
        alert_json(&stored.alert)?,
        rule,
        reason,
        at,
        seq
    ])
    .db()?;
    if was != now {
        let of = (alert_type_lc.as_str(), display_lc.as_str());
        tally(conn, tenant, of, &was, severity_rank, -1)?;
        tally(conn, tenant, of, now, severity_rank, 1)?;
        // The key rows carry the status. A status change leaves the content, so the keys, as
        // they were.
        let alert = &stored.alert;
        let (keys, _) = crate::keys::of_alert(keyer, tenant.as_str(), alert, &Derived::of(alert));
        let mut stmt = conn
            .prepare_cached(
                "UPDATE alert_keys SET st = ?1 WHERE gen = ?2 AND key = ?3 AND seq = ?4",
            )
            .db()?;
        let code = crate::keys::status_code(alert.status());
        for k in keys {
            stmt.execute(params![code, crate::keys::gen_of(seq), k, seq])
                .db()?;
        }
    }
    Ok(true)
}

pub(crate) fn append_audit(
    conn: &Connection,
    tenant: &TenantId,
    id: &AlertId,
    e: &AuditEntry,
) -> Result<(), StoreError> {
    let seq = must_seq(conn, tenant, id)?;
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

pub(crate) fn history(
    conn: &Connection,
    tenant: &TenantId,
    id: &AlertId,
) -> Result<Vec<AuditEntry>, StoreError> {
    let seq = must_seq(conn, tenant, id)?;
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
            Ok(AuditEntry::new(
                parse_ts(&at).ok_or_else(|| corrupt_row(what(), format!("invalid time {at:?}")))?,
                actor,
                status(&from)?,
                status(&to)?,
                comment,
                u64_of(version),
            ))
        })
        .collect()
}

pub(crate) fn add_feedback(
    conn: &Connection,
    tenant: &TenantId,
    id: &AlertId,
    f: &Feedback,
) -> Result<(), StoreError> {
    let seq = must_seq(conn, tenant, id)?;
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

pub(crate) fn feedback(
    conn: &Connection,
    tenant: &TenantId,
    alert: Option<&AlertId>,
    useful: Option<bool>,
) -> Result<Vec<(AlertId, Feedback)>, StoreError> {
    let alert_seq = match alert {
        Some(a) => match seq_of(conn, tenant, a)? {
            Some(seq) => Some(seq),
            None => return Ok(Vec::new()),
        },
        None => None,
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT a.id, f.useful, f.reason, f.comment, f.actor, f.at
             FROM feedback f JOIN alerts a ON a.seq = f.alert_seq
             WHERE f.tenant = ?1 AND (?2 IS NULL OR f.alert_seq = ?2) AND (?3 IS NULL OR f.useful = ?3)
             ORDER BY f.fseq",
        )
        .db()?;
    let rows = stmt
        .query_map(params![tenant.as_str(), alert_seq, useful], |r| {
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
