//! Automation rows, deliveries and leases.

use vigil_core::automation::{Automation, Delivery, DeliveryState, Lease, StoredAutomation};
use vigil_core::store::{ErrorKind, StoreError};

use crate::codec::{parse_ts, ts};
use crate::error::{corrupt_row, get};
use crate::tx::{PgTx, i64_of, u64_of};

const COLUMNS: &str = "name, version, json, created_at, updated_at, since_seq";

fn decode(tx: &PgTx<'_>, row: &postgres::Row) -> Result<StoredAutomation, StoreError> {
    let name: String = get(row, 0)?;
    let version: i64 = get(row, 1)?;
    let json: String = get(row, 2)?;
    let created: String = get(row, 3)?;
    let updated: String = get(row, 4)?;
    let since: i64 = get(row, 5)?;
    let what = || format!("automation {name:?}");
    let automation: Automation = serde_json::from_str(&json)
        .map_err(|e| corrupt_row(tx.t(), what(), format!("its JSON does not parse: {e}")))?;
    if automation.name != name {
        return Err(corrupt_row(
            tx.t(),
            what(),
            format!("its JSON names {:?}", automation.name),
        ));
    }
    let time = |t: &str| {
        parse_ts(t).ok_or_else(|| corrupt_row(tx.t(), what(), format!("invalid time {t:?}")))
    };
    Ok(StoredAutomation::new(
        automation,
        u64_of(version),
        time(&created)?,
        time(&updated)?,
        u64_of(since),
    ))
}

fn json_of(a: &StoredAutomation) -> Result<String, StoreError> {
    serde_json::to_string(&a.automation).map_err(|e| {
        StoreError::with_source(
            ErrorKind::InvalidInput,
            format!("automation {:?} cannot be written: {e}", a.automation.name),
            e,
        )
    })
}

pub(crate) fn get_one(tx: &PgTx<'_>, name: &str) -> Result<Option<StoredAutomation>, StoreError> {
    tx.query_opt(
        &format!("SELECT {COLUMNS} FROM automations WHERE tenant = $1 AND name = $2"),
        &[&tx.t(), &name],
    )?
    .map(|r| decode(tx, &r))
    .transpose()
}

pub(crate) fn list(tx: &PgTx<'_>) -> Result<Vec<StoredAutomation>, StoreError> {
    tx.query(
        &format!("SELECT {COLUMNS} FROM automations WHERE tenant = $1 ORDER BY seq"),
        &[&tx.t()],
    )?
    .iter()
    .map(|r| decode(tx, r))
    .collect()
}

pub(crate) fn insert(tx: &PgTx<'_>, a: &StoredAutomation) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO automations (tenant, name, version, json, created_at, updated_at, since_seq)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &tx.t(),
            &a.automation.name,
            &i64_of(a.version),
            &json_of(a)?,
            &ts(a.created_at),
            &ts(a.updated_at),
            &i64_of(a.since),
        ],
    )?;
    Ok(())
}

pub(crate) fn update(
    tx: &PgTx<'_>,
    a: &StoredAutomation,
    expected: u64,
) -> Result<bool, StoreError> {
    let n = tx.execute(
        "UPDATE automations SET version = $3, json = $4, updated_at = $5
         WHERE tenant = $1 AND name = $2 AND version = $6",
        &[
            &tx.t(),
            &a.automation.name,
            &i64_of(a.version),
            &json_of(a)?,
            &ts(a.updated_at),
            &i64_of(expected),
        ],
    )?;
    Ok(n == 1)
}

pub(crate) fn delete(tx: &PgTx<'_>, name: &str) -> Result<bool, StoreError> {
    let n = tx.execute(
        "DELETE FROM automations WHERE tenant = $1 AND name = $2",
        &[&tx.t(), &name],
    )?;
    Ok(n == 1)
}

pub(crate) fn delivery(tx: &PgTx<'_>, id: u64) -> Result<Option<Delivery>, StoreError> {
    tx.query_opt(
        "SELECT body, payload FROM deliveries WHERE tenant = $1 AND id = $2",
        &[&tx.t(), &i64_of(id)],
    )?
    .map(|r| Delivery::from_json(id, &get::<String>(&r, 0)?, get(&r, 1)?))
    .transpose()
}

pub(crate) fn deliveries(
    tx: &PgTx<'_>,
    state: Option<DeliveryState>,
    after: u64,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    let limit = i64_of(limit as u64);
    let rows = match state {
        Some(s) => tx.query(
            "SELECT id, body, payload FROM deliveries
             WHERE tenant = $1 AND state = $2 AND id > $3 ORDER BY id LIMIT $4",
            &[&tx.t(), &s.as_str(), &i64_of(after), &limit],
        )?,
        None => tx.query(
            "SELECT id, body, payload FROM deliveries WHERE tenant = $1 AND id > $2
             ORDER BY id LIMIT $3",
            &[&tx.t(), &i64_of(after), &limit],
        )?,
    };
    rows.iter()
        .map(|r| Delivery::from_json(u64_of(get(r, 0)?), &get::<String>(r, 1)?, get(r, 2)?))
        .collect()
}

pub(crate) fn insert_delivery(tx: &PgTx<'_>, d: &Delivery) -> Result<u64, StoreError> {
    let last: i64 = match tx.query_opt(
        "SELECT COALESCE(MAX(id), 0) FROM deliveries WHERE tenant = $1",
        &[&tx.t()],
    )? {
        Some(r) => get(&r, 0)?,
        None => 0,
    };
    let id = u64_of(last) + 1;
    let mut d = d.clone();
    d.id = id;
    tx.execute(
        "INSERT INTO deliveries (tenant, id, state, body, payload) VALUES ($1, $2, $3, $4, $5)",
        &[
            &tx.t(),
            &i64_of(id),
            &d.state.as_str(),
            &d.to_json()?,
            &d.payload,
        ],
    )?;
    Ok(id)
}

pub(crate) fn update_delivery(tx: &PgTx<'_>, d: &Delivery) -> Result<bool, StoreError> {
    let n = tx.execute(
        "UPDATE deliveries SET state = $3, body = $4 WHERE tenant = $1 AND id = $2",
        &[&tx.t(), &i64_of(d.id), &d.state.as_str(), &d.to_json()?],
    )?;
    Ok(n == 1)
}

pub(crate) fn lease(tx: &PgTx<'_>, name: &str) -> Result<Option<Lease>, StoreError> {
    let Some(r) = tx.query_opt(
        "SELECT holder, expires_at FROM leases WHERE tenant = $1 AND name = $2",
        &[&tx.t(), &name],
    )?
    else {
        return Ok(None);
    };
    let holder: String = get(&r, 0)?;
    let expires: String = get(&r, 1)?;
    let at = parse_ts(&expires).ok_or_else(|| {
        corrupt_row(
            tx.t(),
            format!("lease {name:?}"),
            format!("invalid time {expires:?}"),
        )
    })?;
    Ok(Some(Lease::new(name, holder, at)))
}

pub(crate) fn set_lease(tx: &PgTx<'_>, l: &Lease) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO leases (tenant, name, holder, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant, name) DO UPDATE SET holder = excluded.holder,
                                                  expires_at = excluded.expires_at",
        &[&tx.t(), &l.name, &l.holder, &ts(l.expires_at)],
    )?;
    Ok(())
}

pub(crate) fn delete_lease(tx: &PgTx<'_>, name: &str) -> Result<bool, StoreError> {
    let n = tx.execute(
        "DELETE FROM leases WHERE tenant = $1 AND name = $2",
        &[&tx.t(), &name],
    )?;
    Ok(n == 1)
}

pub(crate) fn delete_delivery(tx: &PgTx<'_>, id: u64) -> Result<bool, StoreError> {
    let n = tx.execute(
        "DELETE FROM deliveries WHERE tenant = $1 AND id = $2",
        &[&tx.t(), &i64_of(id)],
    )?;
    Ok(n == 1)
}
