//! The schema and its migrations, versioned by `PRAGMA user_version`.
//!
//! `MIGRATIONS[i]` takes a file from version `i` to `i + 1`. Migrations are hand-written SQL,
//! applied on open in one `BEGIN IMMEDIATE` transaction together with the new `user_version`, so
//! a file is always at exactly one known version, and concurrent openers (threads or processes)
//! migrate it once. A file already at the current version is only read (no write lock is taken,
//! so opening never waits for another connection's write). Never edit a released migration:
//! append a new one.

use rusqlite::{Connection, TransactionBehavior};
use vigil_core::store::codec::IndexKeys;

use crate::error::SqliteError;

/// Version 1: alerts with their sort keys and filter columns (resource ids and entity values as
/// lowercase JSON lists, checked while walking an order's index), the entity side table (for
/// related alerts),
/// the audit trail, feedback, suppression rules, and per tenant the rules generation and the
/// last insertion sequence.
///
/// `seq` is the row id (global); `tseq` is the insertion sequence within the tenant, the
/// tiebreak of every order and the last part of cursors, so nothing about other tenants shows
/// through a cursor. Instants are RFC 3339 text with nine fractional digits (exact over
/// chrono's whole range); alert times used for ordering are microseconds (`time_us`).
const V1: &str = r#"
CREATE TABLE alerts (
    seq                INTEGER PRIMARY KEY,
    tenant             TEXT    NOT NULL,
    id                 TEXT    NOT NULL,
    tseq               INTEGER NOT NULL,
    version            INTEGER NOT NULL,
    status             TEXT    NOT NULL,
    severity_rank      INTEGER NOT NULL,
    time_us            INTEGER NOT NULL,
    priority           INTEGER NOT NULL,
    alert_type_lc      TEXT    NOT NULL,
    product_lc         TEXT,
    display_lc         TEXT    NOT NULL,
    correlation_key    TEXT,
    compromised_lc     TEXT,
    resources_lc       TEXT    NOT NULL,
    entities_lc        TEXT    NOT NULL,
    ingested_at        TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    suppression_rule   TEXT,
    suppression_reason TEXT,
    suppressed_at      TEXT,
    json               TEXT    NOT NULL,
    UNIQUE (tenant, id)
);
CREATE INDEX alerts_by_severity ON alerts
    (tenant, status, severity_rank DESC, time_us DESC, tseq DESC);
CREATE INDEX alerts_by_time ON alerts
    (tenant, status, time_us DESC, tseq DESC);
CREATE INDEX alerts_by_priority ON alerts
    (tenant, status, priority DESC, time_us DESC, tseq DESC);
CREATE INDEX alerts_by_correlation ON alerts (tenant, correlation_key)
    WHERE correlation_key IS NOT NULL;
CREATE INDEX alerts_by_compromised ON alerts (tenant, compromised_lc)
    WHERE compromised_lc IS NOT NULL;

CREATE TABLE alert_entities (
    value_lc TEXT    NOT NULL,
    seq      INTEGER NOT NULL REFERENCES alerts (seq),
    PRIMARY KEY (value_lc, seq)
) WITHOUT ROWID;

CREATE TABLE audit (
    seq         INTEGER NOT NULL REFERENCES alerts (seq),
    n           INTEGER NOT NULL,
    at          TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    from_status TEXT    NOT NULL,
    to_status   TEXT    NOT NULL,
    comment     TEXT,
    version     INTEGER NOT NULL,
    PRIMARY KEY (seq, n)
) WITHOUT ROWID;

CREATE TABLE feedback (
    fseq      INTEGER PRIMARY KEY,
    tenant    TEXT    NOT NULL,
    alert_seq INTEGER NOT NULL REFERENCES alerts (seq),
    useful    INTEGER NOT NULL,
    reason    TEXT    NOT NULL,
    comment   TEXT,
    actor     TEXT    NOT NULL,
    at        TEXT    NOT NULL
);
CREATE INDEX feedback_by_tenant ON feedback (tenant, fseq);
CREATE INDEX feedback_by_alert ON feedback (alert_seq, fseq);

CREATE TABLE rules (
    seq             INTEGER PRIMARY KEY,
    tenant          TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    json            TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    hit_count       INTEGER NOT NULL DEFAULT 0,
    last_matched_at TEXT,
    UNIQUE (tenant, name)
);

CREATE TABLE tenant_state (
    tenant           TEXT PRIMARY KEY,
    rules_generation INTEGER NOT NULL DEFAULT 0,
    last_alert_seq   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
"#;

/// Version 2: an alert's identity is its ARM resource name when it has one (else its system
/// alert id), so two resources that repeat one `systemAlertId` are two alerts. `id` becomes the
/// identity and `sys_id` keeps the system alert id, indexed, since lookups accept either.
///
/// Version 1 files were keyed by the system alert id: each row keeps that as `sys_id` and takes
/// its resource name as `id`, unless another row of the tenant has or would take the same id
/// (then it keeps its old key, and no row is lost or merged).
const V2: &str = r#"
ALTER TABLE alerts ADD COLUMN sys_id TEXT NOT NULL DEFAULT '';
UPDATE alerts SET sys_id = id;
UPDATE alerts SET id = json_extract(json, '$.name')
 WHERE json_extract(json, '$.name') IS NOT NULL
   AND json_extract(json, '$.name') <> id
   AND NOT EXISTS (
       SELECT 1 FROM alerts AS other
        WHERE other.tenant = alerts.tenant
          AND other.seq <> alerts.seq
          AND (other.id = json_extract(alerts.json, '$.name')
               OR json_extract(other.json, '$.name') = json_extract(alerts.json, '$.name')));
CREATE INDEX alerts_by_sys_id ON alerts (tenant, sys_id);
"#;

/// Version 3: the per-tenant event log, and its consumers' named checkpoints. Every change is appended as one row (its kind as JSON)
/// in the transaction that makes it; `last_event_seq` numbers them per tenant, allocated under
/// the write lock, so numbers follow commit order.
const V3: &str = r#"
CREATE TABLE events (
    tenant TEXT    NOT NULL,
    seq    INTEGER NOT NULL,
    at     TEXT    NOT NULL,
    body   TEXT    NOT NULL,
    PRIMARY KEY (tenant, seq)
) WITHOUT ROWID;
ALTER TABLE tenant_state ADD COLUMN last_event_seq INTEGER NOT NULL DEFAULT 0;
CREATE TABLE checkpoints (
    tenant TEXT    NOT NULL,
    name   TEXT    NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
) WITHOUT ROWID;
"#;

/// Version 4: integer keys for the selective filters (see `keys.rs`). Entity values, the
/// indexed prefixes of resource ids and the compromised entity become hashed `(gen, key, seq)`
/// rows of `alert_keys` (replacing the text rows of `alert_entities` and the compromised-entity
/// index), and a 64-bit filter of the same keys (`bloom`) rides at
/// the end of the order indexes, so a walk of the queue skips rows that cannot match without
/// reading them. The order by time alone is served by the severity index, one stream per
/// severity, so its own index goes. `resource_prefixes` lists every indexed prefix once, to
/// find those a prefix query covers.
///
/// Intents, the ATT&CK tactics they map to, and techniques get keys too, so those filters find
/// their alerts without parsing every alert on the way.
///
/// The keys are hashes SQL cannot compute: the migration leaves the `v4_backfill` marker, and
/// the opener computes every existing alert's keys from its stored JSON in the same
/// transaction (`backfill`), then drops the marker.
const V4: &str = r#"
ALTER TABLE alerts ADD COLUMN bloom INTEGER NOT NULL DEFAULT 0;
CREATE TABLE alert_keys (
    gen INTEGER NOT NULL,
    key INTEGER NOT NULL,
    seq INTEGER NOT NULL REFERENCES alerts (seq),
    PRIMARY KEY (gen, key, seq)
) WITHOUT ROWID;
CREATE TABLE resource_prefixes (
    tenant TEXT NOT NULL,
    prefix TEXT NOT NULL,
    PRIMARY KEY (tenant, prefix)
) WITHOUT ROWID;
DROP TABLE alert_entities;
DROP INDEX alerts_by_time;
DROP INDEX alerts_by_compromised;
DROP INDEX alerts_by_severity;
DROP INDEX alerts_by_priority;
CREATE INDEX alerts_by_severity ON alerts
    (tenant, status, severity_rank DESC, time_us DESC, tseq DESC, bloom);
CREATE INDEX alerts_by_priority ON alerts
    (tenant, status, priority DESC, time_us DESC, tseq DESC, bloom);
CREATE TABLE v4_backfill (pending INTEGER);
"#;

/// Version 5: per tenant, the number of alerts of each type, status and severity, kept in step
/// by every write, so the dashboard header's counts (no filter, or only statuses, severities
/// and types) read a few hundred rows instead of the whole queue.
const V5: &str = r#"
CREATE TABLE tallies (
    tenant        TEXT    NOT NULL,
    alert_type_lc TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    severity_rank INTEGER NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (tenant, alert_type_lc, status, severity_rank)
) WITHOUT ROWID;
INSERT INTO tallies (tenant, alert_type_lc, status, severity_rank, n)
    SELECT tenant, alert_type_lc, status, severity_rank, count(*) FROM alerts
     GROUP BY tenant, alert_type_lc, status, severity_rank;
"#;

/// Version 6: automations (each a versioned JSON document, secrets included, never in the
/// event log), their deliveries (the delivery's bookkeeping as JSON, its state as an indexed
/// column so the dispatcher finds pending ones without reading the rest, and its payload,
/// written once, in a column of its own), and named leases.
const V6: &str = r#"
CREATE TABLE automations (
    seq        INTEGER PRIMARY KEY,
    tenant     TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    json       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    since_seq  INTEGER NOT NULL,
    UNIQUE (tenant, name)
);
CREATE TABLE deliveries (
    rid    INTEGER PRIMARY KEY,
    tenant TEXT    NOT NULL,
    id     INTEGER NOT NULL,
    state   TEXT    NOT NULL,
    body    TEXT    NOT NULL,
    payload TEXT    NOT NULL,
    UNIQUE (tenant, id)
);
CREATE INDEX deliveries_by_state ON deliveries (tenant, state, id);
CREATE TABLE leases (
    tenant     TEXT NOT NULL,
    name       TEXT NOT NULL,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (tenant, name)
) WITHOUT ROWID;
"#;

/// Version 7: counts without alert rows.
///
/// - Key rows carry the alert's status code and severity rank (`st`, `sev`, kept in step by
///   status changes), so a count under an entity value, resource prefix, intent, tactic or
///   technique reads key rows only, and a keyed page reads the alert rows of its statuses and
///   severities only.
/// - Keys become SipHash-2-4 under a random 128-bit key of the database (`key_secret`, drawn by
///   SQLite's `randomblob`), so a count that trusts a key cannot be skewed by values made to
///   collide. The filter bits on the order indexes keep their unkeyed hash (they only narrow).
/// - Tallies are kept per display name too, so a count of display-name text sums the tallies of
///   the names that contain it.
///
/// The keys are hashes SQL cannot compute: the `v7_backfill` marker makes the opener rewrite
/// every alert's key rows from its stored JSON, and its tallies from its columns, in the same
/// transaction (`backfill`).
const V7: &str = r#"
CREATE TABLE key_secret (k BLOB NOT NULL);
INSERT INTO key_secret (k) VALUES (randomblob(16));
DROP TABLE alert_keys;
CREATE TABLE alert_keys (
    gen INTEGER NOT NULL,
    key INTEGER NOT NULL,
    seq INTEGER NOT NULL REFERENCES alerts (seq),
    st  INTEGER NOT NULL,
    sev INTEGER NOT NULL,
    PRIMARY KEY (gen, key, seq)
) WITHOUT ROWID;
DROP TABLE tallies;
CREATE TABLE tallies (
    tenant        TEXT    NOT NULL,
    alert_type_lc TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    severity_rank INTEGER NOT NULL,
    display_lc    TEXT    NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (tenant, alert_type_lc, status, severity_rank, display_lc)
) WITHOUT ROWID;
CREATE TABLE v7_backfill (pending INTEGER);
"#;

/// Every migration, oldest first: `MIGRATIONS[i]` takes version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7];

/// The schema version this crate writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the file to [`SCHEMA_VERSION`] inside one immediate transaction, or refuses a file
/// from the future.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), SqliteError> {
    migrate_with(conn, MIGRATIONS)
}

/// The file's schema version (`PRAGMA user_version`), read without a write lock.
pub(crate) fn version(conn: &Connection) -> Result<i64, SqliteError> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

pub(crate) fn migrate_with(conn: &mut Connection, migrations: &[&str]) -> Result<(), SqliteError> {
    let known = migrations.len() as i64;
    // A current file is only read: the immediate transaction below would wait for (and, past
    // the busy timeout, fail on) any writer, though there is nothing to write.
    let current = version(conn)?;
    if current > known {
        return Err(SqliteError::SchemaTooNew {
            found: current,
            known,
        });
    }
    if current == known {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > known {
        return Err(SqliteError::SchemaTooNew { found, known });
    }
    if found == known {
        return Ok(()); // dropping the transaction ends it; nothing was written
    }
    for (step, sql) in migrations.iter().enumerate().skip(found.max(0) as usize) {
        let from = step as i64;
        tx.execute_batch(sql)
            .map_err(|source| SqliteError::Migration {
                from: found,
                to: from + 1,
                source,
            })?;
    }
    // The backfill writes the current schema's tables: a file brought to an earlier version
    // (only tests do) keeps its markers for the opener that brings it to the current one.
    if known == SCHEMA_VERSION {
        backfill(&tx).map_err(|source| SqliteError::Migration {
            from: found,
            to: known,
            source,
        })?;
    }
    tx.pragma_update(None, "user_version", known)
        .map_err(|source| SqliteError::Migration {
            from: found,
            to: known,
            source,
        })?;
    tx.commit()?;
    Ok(())
}

/// Whether a marker table is there.
fn marked(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Computes what SQL cannot for the alerts a migration found, if its marker is there, and
/// removes the markers: after version 4 ([`V4`]) the filters and indexed resource prefixes,
/// after version 4 or 7 ([`V7`]) every alert's key rows and the tallies.
fn backfill(conn: &Connection) -> rusqlite::Result<()> {
    let filters = marked(conn, "v4_backfill")?;
    if !filters && !marked(conn, "v7_backfill")? {
        return Ok(());
    }
    let blob: Vec<u8> = conn.query_row("SELECT k FROM key_secret", [], |r| r.get(0))?;
    let keyer = crate::keys::Keyer::of_blob(Some(&blob)).ok_or_else(|| {
        rusqlite::Error::InvalidColumnType(0, "k".to_owned(), rusqlite::types::Type::Blob)
    })?;
    let mut read = conn.prepare(
        "SELECT seq, tenant, json, status, severity_rank, alert_type_lc, display_lc FROM alerts
         WHERE seq > ?1 ORDER BY seq LIMIT 10000",
    )?;
    let mut bloom = conn.prepare("UPDATE alerts SET bloom = ?1 WHERE seq = ?2")?;
    let mut key = conn.prepare(
        "INSERT OR IGNORE INTO alert_keys (gen, key, seq, st, sev) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut prefix =
        conn.prepare("INSERT OR IGNORE INTO resource_prefixes (tenant, prefix) VALUES (?1, ?2)")?;
    type Tally = (String, String, String, i64, String);
    let mut tallies: std::collections::HashMap<Tally, i64> = std::collections::HashMap::new();
    let mut after = i64::MIN;
    loop {
        let chunk = read
            .query_map([after], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let Some(last) = chunk.last() else {
            break;
        };
        after = last.0;
        for (seq, tenant, json, status, severity_rank, alert_type_lc, display_lc) in chunk {
            // The tallies count every row, as counting the table did.
            *tallies
                .entry((
                    tenant.clone(),
                    alert_type_lc,
                    status.clone(),
                    severity_rank,
                    display_lc,
                ))
                .or_default() += 1;
            // A row that does not decode is left for the check to report; it gets no keys.
            let Ok(alert) = serde_json::from_str::<vigil_core::Alert>(&json) else {
                continue;
            };
            let Some(st) = crate::codec::parse_status(&status) else {
                continue;
            };
            let d = IndexKeys::of(&alert);
            let (keys, filter) = crate::keys::of_alert(&keyer, &tenant, &alert, &d);
            let st = crate::keys::status_code(st);
            for k in keys {
                key.execute(rusqlite::params![
                    crate::keys::gen_of(seq),
                    k,
                    seq,
                    st,
                    severity_rank
                ])?;
            }
            if filters {
                for r in &d.resources {
                    for p in crate::keys::resource_prefixes(r) {
                        prefix.execute(rusqlite::params![tenant, p])?;
                    }
                }
                bloom.execute(rusqlite::params![filter, seq])?;
            }
        }
    }
    conn.execute("DELETE FROM tallies", [])?;
    let mut tally = conn.prepare(
        "INSERT INTO tallies (tenant, alert_type_lc, status, severity_rank, display_lc, n)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for ((tenant, ty, status, rank, display), n) in tallies {
        tally.execute(rusqlite::params![tenant, ty, status, rank, display, n])?;
    }
    conn.execute_batch("DROP TABLE IF EXISTS v4_backfill; DROP TABLE IF EXISTS v7_backfill")
}
