//! The per-tenant event log.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use vigil_core::store::{Event, EventKind, StoreError, TenantId};

use crate::alerts::{i64_of, u64_of};
use crate::codec::{parse_ts, ts};
use crate::error::{Db, corrupt_row};

/// The tenant's last event number (0 before the first).
pub(crate) fn last_seq(conn: &Connection, tenant: &TenantId) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT last_event_seq FROM tenant_state WHERE tenant = ?1")
        .db()?
        .query_row([tenant.as_str()], |r| r.get(0))
        .optional()
        .db()?
        .unwrap_or(0))
}

/// Records the tenant's last event number (inside the transaction that wrote the events).
pub(crate) fn set_last_seq(
    conn: &Connection,
    tenant: &TenantId,
    seq: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO tenant_state (tenant, last_event_seq) VALUES (?1, ?2)
         ON CONFLICT (tenant) DO UPDATE SET last_event_seq = excluded.last_event_seq",
    )
    .db()?
    .execute(params![tenant.as_str(), seq])
    .db()?;
    Ok(())
}

pub(crate) fn append(
    conn: &Connection,
    tenant: &TenantId,
    seq: i64,
    at: DateTime<Utc>,
    kind: &EventKind,
) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO events (tenant, seq, at, body) VALUES (?1, ?2, ?3, ?4)")
        .db()?
        .execute(params![
            tenant.as_str(),
            seq,
            ts(at),
            Event::kind_json(kind)?
        ])
        .db()?;
    Ok(())
}

pub(crate) fn since(
    conn: &Connection,
    tenant: &TenantId,
    after: u64,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, at, body FROM events WHERE tenant = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .db()?;
    let rows = stmt
        .query_map(
            params![tenant.as_str(), i64_of(after), i64_of(limit as u64)],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        )
        .db()?
        .collect::<Result<Vec<_>, _>>()
        .db()?;
    rows.into_iter()
        .map(|(seq, at, body)| {
            let seq = u64_of(seq);
            let at = parse_ts(&at).ok_or_else(|| {
                corrupt_row(format!("event {seq}"), format!("invalid time {at:?}"))
            })?;
            Ok(Event::new(seq, at, Event::kind_from_json(seq, &body)?))
        })
        .collect()
}

pub(crate) fn checkpoint(
    conn: &Connection,
    tenant: &TenantId,
    name: &str,
) -> Result<Option<u64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT seq FROM checkpoints WHERE tenant = ?1 AND name = ?2")
        .db()?
        .query_row([tenant.as_str(), name], |r| r.get::<_, i64>(0))
        .optional()
        .db()?
        .map(u64_of))
}

pub(crate) fn set_checkpoint(
    conn: &Connection,
    tenant: &TenantId,
    name: &str,
    seq: u64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO checkpoints (tenant, name, seq) VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant, name) DO UPDATE SET seq = excluded.seq",
    )
    .db()?
    .execute(params![tenant.as_str(), name, i64_of(seq)])
    .db()?;
    Ok(())
}
