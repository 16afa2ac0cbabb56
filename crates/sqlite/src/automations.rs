//! Automation rows, deliveries and leases.

use rusqlite::{Connection, OptionalExtension, params};
use vigil_core::automation::{Automation, Delivery, DeliveryState, Lease, StoredAutomation};
use vigil_core::store::{ErrorKind, StoreError, TenantId};

use crate::alerts::{i64_of, u64_of};
use crate::codec::{parse_ts, ts};
use crate::error::{Db, corrupt_row};

type AutomationRow = (String, i64, String, String, String, i64);

fn decode(tenant: &TenantId, row: AutomationRow) -> Result<StoredAutomation, StoreError> {
    let (name, version, json, created, updated, since) = row;
    let what = || format!("automation {:?} of tenant {:?}", name, tenant.as_str());
    let automation: Automation = serde_json::from_str(&json)
        .map_err(|e| corrupt_row(what(), format!("its JSON does not parse: {e}")))?;
    if automation.name != name {
        return Err(corrupt_row(
            what(),
            format!("its JSON names {:?}", automation.name),
        ));
    }
    let time =
        |t: &str| parse_ts(t).ok_or_else(|| corrupt_row(what(), format!("invalid time {t:?}")));
    Ok(StoredAutomation::new(
        automation,
        u64_of(version),
        time(&created)?,
        time(&updated)?,
        u64_of(since),
    ))
}

/// Runs a statement that changes at most one row; whether it changed one.
fn changed_one(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<bool, StoreError> {
    let n = conn.prepare_cached(sql).db()?.execute(params).db()?;
    Ok(n == 1)
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AutomationRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

const COLUMNS: &str = "name, version, json, created_at, updated_at, since_seq";

fn json_of(a: &StoredAutomation) -> Result<String, StoreError> {
    serde_json::to_string(&a.automation).map_err(|e| {
        StoreError::with_source(
            ErrorKind::InvalidInput,
            format!("automation {:?} cannot be written: {e}", a.automation.name),
            e,
        )
    })
}

pub(crate) fn get(
    conn: &Connection,
    tenant: &TenantId,
    name: &str,
) -> Result<Option<StoredAutomation>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM automations WHERE tenant = ?1 AND name = ?2"
    ))
    .db()?
    .query_row(params![tenant.as_str(), name], read_row)
    .optional()
    .db()?
    .map(|r| decode(tenant, r))
    .transpose()
}

pub(crate) fn list(
    conn: &Connection,
    tenant: &TenantId,
) -> Result<Vec<StoredAutomation>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM automations WHERE tenant = ?1 ORDER BY seq"
        ))
        .db()?;
    let rows = stmt
        .query_map([tenant.as_str()], read_row)
        .db()?
        .collect::<Result<Vec<_>, _>>()
        .db()?;
    rows.into_iter().map(|r| decode(tenant, r)).collect()
}

pub(crate) fn insert(
    conn: &Connection,
    tenant: &TenantId,
    a: &StoredAutomation,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO automations (tenant, name, version, json, created_at, updated_at, since_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .db()?
    .execute(params![
        tenant.as_str(),
        a.automation.name,
        i64_of(a.version),
        json_of(a)?,
        ts(a.created_at),
        ts(a.updated_at),
        i64_of(a.since)
    ])
    .db()?;
    Ok(())
}

pub(crate) fn update(
    conn: &Connection,
    tenant: &TenantId,
    a: &StoredAutomation,
    expected: u64,
) -> Result<bool, StoreError> {
    changed_one(
        conn,
        "UPDATE automations SET version = ?3, json = ?4, updated_at = ?5
             WHERE tenant = ?1 AND name = ?2 AND version = ?6",
        params![
            tenant.as_str(),
            a.automation.name,
            i64_of(a.version),
            json_of(a)?,
            ts(a.updated_at),
            i64_of(expected)
        ],
    )
}

pub(crate) fn delete(conn: &Connection, tenant: &TenantId, name: &str) -> Result<bool, StoreError> {
    changed_one(
        conn,
        "DELETE FROM automations WHERE tenant = ?1 AND name = ?2",
        params![tenant.as_str(), name],
    )
}

pub(crate) fn delivery(
    conn: &Connection,
    tenant: &TenantId,
    id: u64,
) -> Result<Option<Delivery>, StoreError> {
    conn.prepare_cached("SELECT body, payload FROM deliveries WHERE tenant = ?1 AND id = ?2")
        .db()?
        .query_row(params![tenant.as_str(), i64_of(id)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .optional()
        .db()?
        .map(|(body, payload)| Delivery::from_json(id, &body, payload))
        .transpose()
}

type DeliveryRow = (i64, String, String);

fn delivery_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeliveryRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

pub(crate) fn deliveries(
    conn: &Connection,
    tenant: &TenantId,
    state: Option<DeliveryState>,
    after: u64,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    let limit = i64_of(limit as u64);
    let rows: Vec<DeliveryRow> = match state {
        Some(s) => conn
            .prepare_cached(
                "SELECT id, body, payload FROM deliveries
                 WHERE tenant = ?1 AND state = ?2 AND id > ?3 ORDER BY id LIMIT ?4",
            )
            .db()?
            .query_map(
                params![tenant.as_str(), s.as_str(), i64_of(after), limit],
                delivery_row,
            )
            .db()?
            .collect::<Result<_, _>>()
            .db()?,
        None => conn
            .prepare_cached(
                "SELECT id, body, payload FROM deliveries WHERE tenant = ?1 AND id > ?2
                 ORDER BY id LIMIT ?3",
            )
            .db()?
            .query_map(params![tenant.as_str(), i64_of(after), limit], delivery_row)
            .db()?
            .collect::<Result<_, _>>()
            .db()?,
    };
    rows.into_iter()
        .map(|(id, body, payload)| Delivery::from_json(u64_of(id), &body, payload))
        .collect()
}

pub(crate) fn insert_delivery(
    conn: &Connection,
    tenant: &TenantId,
    d: &Delivery,
) -> Result<u64, StoreError> {
    let last: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM deliveries WHERE tenant = ?1")
        .db()?
        .query_row([tenant.as_str()], |r| r.get(0))
        .db()?;
    let id = u64_of(last) + 1;
    let mut d = d.clone();
    d.id = id;
    conn.prepare_cached(
        "INSERT INTO deliveries (tenant, id, state, body, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .db()?
    .execute(params![
        tenant.as_str(),
        i64_of(id),
        d.state.as_str(),
        d.to_json()?,
        d.payload
    ])
    .db()?;
    Ok(id)
}

pub(crate) fn update_delivery(
    conn: &Connection,
    tenant: &TenantId,
    d: &Delivery,
) -> Result<bool, StoreError> {
    changed_one(
        conn,
        "UPDATE deliveries SET state = ?3, body = ?4 WHERE tenant = ?1 AND id = ?2",
        params![
            tenant.as_str(),
            i64_of(d.id),
            d.state.as_str(),
            d.to_json()?
        ],
    )
}

pub(crate) fn lease(
    conn: &Connection,
    tenant: &TenantId,
    name: &str,
) -> Result<Option<Lease>, StoreError> {
    let row: Option<(String, String)> = conn
        .prepare_cached("SELECT holder, expires_at FROM leases WHERE tenant = ?1 AND name = ?2")
        .db()?
        .query_row(params![tenant.as_str(), name], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .db()?;
    row.map(|(holder, expires)| {
        let at = parse_ts(&expires).ok_or_else(|| {
            corrupt_row(
                format!("lease {name:?} of tenant {:?}", tenant.as_str()),
                format!("invalid time {expires:?}"),
            )
        })?;
        Ok(Lease::new(name, holder, at))
    })
    .transpose()
}

pub(crate) fn set_lease(conn: &Connection, tenant: &TenantId, l: &Lease) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO leases (tenant, name, holder, expires_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (tenant, name) DO UPDATE SET holder = excluded.holder,
                                                  expires_at = excluded.expires_at",
    )
    .db()?
    .execute(params![tenant.as_str(), l.name, l.holder, ts(l.expires_at)])
    .db()?;
    Ok(())
}

pub(crate) fn delete_lease(
    conn: &Connection,
    tenant: &TenantId,
    name: &str,
) -> Result<bool, StoreError> {
    changed_one(
        conn,
        "DELETE FROM leases WHERE tenant = ?1 AND name = ?2",
        params![tenant.as_str(), name],
    )
}

pub(crate) fn delete_delivery(
    conn: &Connection,
    tenant: &TenantId,
    id: u64,
) -> Result<bool, StoreError> {
    changed_one(
        conn,
        "DELETE FROM deliveries WHERE tenant = ?1 AND id = ?2",
        params![tenant.as_str(), i64_of(id)],
    )
}
