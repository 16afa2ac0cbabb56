//! Suppression-rule rows and the per-tenant rules generation.

use chrono::{DateTime, Utc};
use postgres::Row;
use vigil_core::store::{ErrorKind, StoreError, StoredRule};
use vigil_core::suppression::SuppressionRule;

use crate::codec::{parse_ts, ts};
use crate::error::{corrupt_rule, get};
use crate::tx::{PgTx, i64_of, u64_of};

const RULE_COLUMNS: &str =
    "name, version, json, created_at, updated_at, hit_count, last_matched_at";

fn decode(tx: &PgTx<'_>, r: &Row) -> Result<StoredRule, StoreError> {
    let name: String = get(r, 0)?;
    let bad = |problem: String| corrupt_rule(tx.t(), &name, problem);
    let json: String = get(r, 2)?;
    let rule: SuppressionRule = serde_json::from_str(&json).map_err(|e| {
        bad(format!(
            "its JSON does not parse as a suppression rule: {e}"
        ))
    })?;
    if rule.name() != name {
        return Err(bad(format!("its JSON names the rule {:?}", rule.name())));
    }
    let time = |what: &str, text: &str| -> Result<DateTime<Utc>, StoreError> {
        parse_ts(text).ok_or_else(|| bad(format!("invalid {what} time {text:?}")))
    };
    let created: String = get(r, 3)?;
    let updated: String = get(r, 4)?;
    let last: Option<String> = get(r, 6)?;
    let last_matched = match &last {
        Some(t) => Some(time("last match", t)?),
        None => None,
    };
    Ok(StoredRule::new(
        rule,
        u64_of(get(r, 1)?),
        time("creation", &created)?,
        time("update", &updated)?,
        u64_of(get(r, 5)?),
        last_matched,
    ))
}

fn bump_generation(tx: &PgTx<'_>) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE tenant_state SET rules_generation = rules_generation + 1 WHERE tenant = $1",
        &[&tx.t()],
    )?;
    Ok(())
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

pub(crate) fn get_rule(tx: &PgTx<'_>, name: &str) -> Result<Option<StoredRule>, StoreError> {
    tx.query_opt(
        &format!("SELECT {RULE_COLUMNS} FROM rules WHERE tenant = $1 AND name = $2"),
        &[&tx.t(), &name],
    )?
    .map(|r| decode(tx, &r))
    .transpose()
}

pub(crate) fn list(tx: &PgTx<'_>) -> Result<Vec<StoredRule>, StoreError> {
    tx.query(
        &format!("SELECT {RULE_COLUMNS} FROM rules WHERE tenant = $1 ORDER BY seq"),
        &[&tx.t()],
    )?
    .iter()
    .map(|r| decode(tx, r))
    .collect()
}

pub(crate) fn insert(tx: &PgTx<'_>, stored: &StoredRule) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO rules (tenant, name, version, json, created_at, updated_at, hit_count,
            last_matched_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &tx.t(),
            &stored.rule.name(),
            &i64_of(stored.version),
            &rule_json(&stored.rule)?,
            &ts(stored.created_at),
            &ts(stored.updated_at),
            &i64_of(stored.hit_count),
            &stored.last_matched.map(ts),
        ],
    )?;
    bump_generation(tx)
}

pub(crate) fn update(
    tx: &PgTx<'_>,
    stored: &StoredRule,
    expected: u64,
) -> Result<bool, StoreError> {
    let n = tx.execute(
        "UPDATE rules SET json = $1, version = $2, updated_at = $3
         WHERE tenant = $4 AND name = $5 AND version = $6",
        &[
            &rule_json(&stored.rule)?,
            &i64_of(stored.version),
            &ts(stored.updated_at),
            &tx.t(),
            &stored.rule.name(),
            &i64_of(expected),
        ],
    )?;
    if n != 1 {
        return Ok(false);
    }
    bump_generation(tx)?;
    Ok(true)
}

pub(crate) fn delete(tx: &PgTx<'_>, name: &str) -> Result<bool, StoreError> {
    let n = tx.execute(
        "DELETE FROM rules WHERE tenant = $1 AND name = $2",
        &[&tx.t(), &name],
    )?;
    if n == 0 {
        return Ok(false);
    }
    bump_generation(tx)?;
    Ok(true)
}
