//! Suppression-rule rows and the per-tenant rules generation.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use vigil_core::store::{ErrorKind, StoreError, StoredRule, TenantId};
use vigil_core::suppression::SuppressionRule;

use crate::alerts::{i64_of, u64_of};
use crate::codec::{parse_ts, ts};
use crate::error::{Db, corrupt_rule};

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

pub(crate) const RULE_COLUMNS: &str =
    "name, version, json, created_at, updated_at, hit_count, last_matched_at";

pub(crate) struct RuleRow {
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
        RuleRow::read_at(r, 0)
    }

    /// Reads [`RULE_COLUMNS`] starting at column `at`.
    pub(crate) fn read_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<RuleRow> {
        Ok(RuleRow {
            name: r.get(at)?,
            version: r.get(at + 1)?,
            json: r.get(at + 2)?,
            created_at: r.get(at + 3)?,
            updated_at: r.get(at + 4)?,
            hit_count: r.get(at + 5)?,
            last_matched_at: r.get(at + 6)?,
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

    pub(crate) fn decode(self, tenant: &TenantId) -> Result<StoredRule, StoreError> {
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

pub(crate) fn rule_rows(conn: &Connection, tenant: &TenantId) -> Result<Vec<RuleRow>, StoreError> {
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

fn rule_json(rule: &SuppressionRule) -> Result<String, StoreError> {
    serde_json::to_string(rule).map_err(|e| {
        StoreError::with_source(
            ErrorKind::InvalidInput,
            format!("rule {:?} cannot be written as JSON: {e}", rule.name()),
            e,
        )
    })
}

pub(crate) fn get(
    conn: &Connection,
    tenant: &TenantId,
    name: &str,
) -> Result<Option<StoredRule>, StoreError> {
    rule_row(conn, tenant, name)?
        .map(|r| r.decode(tenant))
        .transpose()
}

pub(crate) fn list(conn: &Connection, tenant: &TenantId) -> Result<Vec<StoredRule>, StoreError> {
    rule_rows(conn, tenant)?
        .into_iter()
        .map(|r| r.decode(tenant))
        .collect()
}

pub(crate) fn insert(
    conn: &Connection,
    tenant: &TenantId,
    stored: &StoredRule,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO rules (tenant, name, version, json, created_at, updated_at, hit_count,
            last_matched_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .db()?
    .execute(params![
        tenant.as_str(),
        stored.rule.name(),
        i64_of(stored.version),
        rule_json(&stored.rule)?,
        ts(stored.created_at),
        ts(stored.updated_at),
        i64_of(stored.hit_count),
        stored.last_matched.map(ts),
    ])
    .db()?;
    bump_rules_generation(conn, tenant)
}

pub(crate) fn update(
    conn: &Connection,
    tenant: &TenantId,
    stored: &StoredRule,
    expected: u64,
) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached(
            "UPDATE rules SET json = ?1, version = ?2, updated_at = ?3
             WHERE tenant = ?4 AND name = ?5 AND version = ?6",
        )
        .db()?
        .execute(params![
            rule_json(&stored.rule)?,
            i64_of(stored.version),
            ts(stored.updated_at),
            tenant.as_str(),
            stored.rule.name(),
            i64_of(expected)
        ])
        .db()?;
    if n != 1 {
        return Ok(false);
    }
    bump_rules_generation(conn, tenant)?;
    Ok(true)
}

pub(crate) fn delete(conn: &Connection, tenant: &TenantId, name: &str) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached("DELETE FROM rules WHERE tenant = ?1 AND name = ?2")
        .db()?
        .execute([tenant.as_str(), name])
        .db()?;
    if n == 0 {
        return Ok(false);
    }
    bump_rules_generation(conn, tenant)?;
    Ok(true)
}

pub(crate) fn record_hits(
    conn: &Connection,
    tenant: &TenantId,
    name: &str,
    hits: u64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE rules SET hit_count = hit_count + ?1, last_matched_at = ?2
         WHERE tenant = ?3 AND name = ?4",
    )
    .db()?
    .execute(params![i64_of(hits), ts(at), tenant.as_str(), name])
    .db()?;
    Ok(())
}
