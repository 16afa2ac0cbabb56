//! The schema and its migrations, versioned in the table `vigil_schema`.
//!
//! `MIGRATIONS[i]` takes a database from version `i` to `i + 1`. Migrations are hand-written
//! SQL, applied on open in one transaction that first takes a transaction-scoped advisory lock
//! (`pg_advisory_xact_lock`), so that many processes opening the same database at once migrate
//! it exactly once, and the others wait and then find it current. Never edit a released
//! migration: append a new one.
//!
//! Every table of tenant data is keyed by `tenant` first and has no foreign key, so the schema
//! can be distributed by tenant (co-located tables) without change.

use postgres::Client;

use crate::error::PostgresError;

/// Version 1: alerts with their sort keys and filter columns, the audit trail, feedback,
/// suppression rules, the event log with its consumers' checkpoints, and per tenant the
/// rules generation and the last insertion and event numbers.
///
/// `tseq` is the insertion sequence within the tenant: the key of an alert's row, the tiebreak
/// of every order and the last part of cursors. Instants are RFC 3339 text with nine fractional
/// digits (exact over chrono's whole range, which `timestamptz` is not); alert times used for
/// ordering are microseconds (`time_us`). An alert's JSON is kept as text, exactly as written.
const V1: &str = r#"
CREATE TABLE tenant_state (
    tenant           text   NOT NULL,
    rules_generation bigint NOT NULL DEFAULT 0,
    last_alert_seq   bigint NOT NULL DEFAULT 0,
    last_event_seq   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant)
);

CREATE TABLE alerts (
    tenant             text     NOT NULL,
    tseq               bigint   NOT NULL,
    id                 text     NOT NULL,
    sys_id             text     NOT NULL,
    version            bigint   NOT NULL,
    status             text     NOT NULL,
    severity_rank      bigint   NOT NULL,
    time_us            bigint   NOT NULL,
    priority           bigint   NOT NULL,
    alert_type_lc      text     NOT NULL,
    product_lc         text,
    display_lc         text     NOT NULL,
    correlation_key    text,
    compromised_lc     text,
    resources_lc       text[]   NOT NULL,
    entities_lc        text[]   NOT NULL,
    ingested_at        text     NOT NULL,
    updated_at         text     NOT NULL,
    suppression_rule   text,
    suppression_reason text,
    suppressed_at      text,
    json               text     NOT NULL,
    PRIMARY KEY (tenant, tseq),
    UNIQUE (tenant, id)
);
CREATE INDEX alerts_by_severity ON alerts
    (tenant, status, severity_rank DESC, time_us DESC, tseq DESC);
CREATE INDEX alerts_by_time ON alerts
    (tenant, status, time_us DESC, tseq DESC);
CREATE INDEX alerts_by_priority ON alerts
    (tenant, status, priority DESC, time_us DESC, tseq DESC);
CREATE INDEX alerts_by_sys_id ON alerts (tenant, sys_id);
CREATE INDEX alerts_by_correlation ON alerts (tenant, correlation_key)
    WHERE correlation_key IS NOT NULL;
CREATE INDEX alerts_by_compromised ON alerts (tenant, compromised_lc)
    WHERE compromised_lc IS NOT NULL;
CREATE INDEX alerts_by_entity ON alerts USING gin (entities_lc);

CREATE TABLE audit (
    tenant      text   NOT NULL,
    tseq        bigint NOT NULL,
    n           bigint NOT NULL,
    at          text   NOT NULL,
    actor       text   NOT NULL,
    from_status text   NOT NULL,
    to_status   text   NOT NULL,
    comment     text,
    version     bigint NOT NULL,
    PRIMARY KEY (tenant, tseq, n)
);

CREATE TABLE feedback (
    tenant    text    NOT NULL,
    fseq      bigint  GENERATED ALWAYS AS IDENTITY,
    alert_id  text    NOT NULL,
    useful    boolean NOT NULL,
    reason    text    NOT NULL,
    comment   text,
    actor     text    NOT NULL,
    at        text    NOT NULL,
    PRIMARY KEY (tenant, fseq)
);
CREATE INDEX feedback_by_alert ON feedback (tenant, alert_id, fseq);

CREATE TABLE rules (
    tenant          text   NOT NULL,
    name            text   NOT NULL,
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    version         bigint NOT NULL,
    json            text   NOT NULL,
    created_at      text   NOT NULL,
    updated_at      text   NOT NULL,
    hit_count       bigint NOT NULL DEFAULT 0,
    last_matched_at text,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE events (
    tenant text   NOT NULL,
    seq    bigint NOT NULL,
    at     text   NOT NULL,
    body   text   NOT NULL,
    PRIMARY KEY (tenant, seq)
);

CREATE TABLE checkpoints (
    tenant text   NOT NULL,
    name   text   NOT NULL,
    seq    bigint NOT NULL,
    PRIMARY KEY (tenant, name)
);
"#;

/// Version 2: row-level security, ready to switch on. `vigil_tenant_roles` binds database
/// roles to tenants; each table of tenant data gets a policy that shows (and accepts) only the
/// rows of the tenants bound to `current_user`. Policies apply once a table's row-level
/// security is enabled ([`crate::Options::row_level_security`]), and never to the tables'
/// owner (the role that migrated them), so Vigil's own service role is unaffected.
const V2: &str = r#"
CREATE TABLE vigil_tenant_roles (
    tenant text NOT NULL,
    role   name NOT NULL,
    PRIMARY KEY (tenant, role)
);
CREATE INDEX vigil_tenant_roles_by_role ON vigil_tenant_roles (role, tenant);
CREATE POLICY vigil_tenant ON tenant_state
    USING (tenant IN (SELECT tenant FROM vigil_tenant_roles WHERE role = current_user));
CREATE POLICY vigil_tenant ON alerts
    USING (tenant IN (SELECT tenant FROM vigil_tenant_roles WHERE role = current_user));
CREATE POLICY vigil_tenant ON audit
    USING (tenant IN (SELECT tenant FROM vigil_tenant_roles WHERE role = current_user));
CREATE POLICY vigil_tenant ON feedback
    USING (tenant IN (SELECT tenant FROM vigil_tenant_roles WHERE role = current_user));
CREATE POLICY vigil_tenant ON rules
    USING (tenant IN (SELECT tenant FROM vigil_tenant_roles WHERE role = current_user));
CREATE POLICY vigil_tenant ON events
    USING (tenant IN (SELECT tenant FROM vigil_tenant_roles WHERE role = current_user));
CREATE POLICY vigil_tenant ON checkpoints
    USING (tenant IN (SELECT tenant FROM vigil_tenant_roles WHERE role = current_user));
"#;

/// Version 3: automations (each a versioned JSON document, secrets included, never in the
/// event log), their deliveries (the delivery's bookkeeping as JSON, its state as an indexed
/// column so the dispatcher finds pending ones without reading the rest, and its payload,
/// written once, in a column of its own), and named leases;
/// each with the row-level security policy.
const V3: &str = r#"
CREATE TABLE automations (
    tenant     text      NOT NULL,
    seq        bigserial NOT NULL,
    name       text      NOT NULL,
    version    bigint    NOT NULL,
    json       text      NOT NULL,
    created_at text      NOT NULL,
    updated_at text      NOT NULL,
    since_seq  bigint    NOT NULL,
    PRIMARY KEY (tenant, name)
);
CREATE INDEX automations_by_seq ON automations (tenant, seq);
CREATE TABLE deliveries (
    tenant text   NOT NULL,
    id     bigint NOT NULL,
    state   text   NOT NULL,
    body    text   NOT NULL,
    payload text   NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX deliveries_by_state ON deliveries (tenant, state, id);
CREATE TABLE leases (
    tenant     text NOT NULL,
    name       text NOT NULL,
    holder     text NOT NULL,
    expires_at text NOT NULL,
    PRIMARY KEY (tenant, name)
);
CREATE POLICY vigil_tenant ON automations
    USING (tenant IN (SELECT tenant FROM vigil_tenant_roles WHERE role = current_user));
CREATE POLICY vigil_tenant ON deliveries
    USING (tenant IN (SELECT tenant FROM vigil_tenant_roles WHERE role = current_user));
CREATE POLICY vigil_tenant ON leases
    USING (tenant IN (SELECT tenant FROM vigil_tenant_roles WHERE role = current_user));
"#;

/// The tables of tenant data, each with the row-level security policy `vigil_tenant`.
pub(crate) const TENANT_TABLES: &[&str] = &[
    "tenant_state",
    "alerts",
    "audit",
    "feedback",
    "rules",
    "events",
    "checkpoints",
    "automations",
    "deliveries",
    "leases",
];

/// Every migration, oldest first: `MIGRATIONS[i]` takes version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// The schema version this crate writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The advisory lock key that serialises migrations ("vigil" in ASCII).
const MIGRATION_LOCK: i64 = 0x76_69_67_69_6c;

/// Brings the database to [`SCHEMA_VERSION`], or refuses one from the future.
pub(crate) fn migrate(client: &mut Client) -> Result<(), PostgresError> {
    migrate_with(client, MIGRATIONS)
}

/// The recorded schema version, 0 for a database without Vigil's tables.
fn version(tx: &mut postgres::Transaction<'_>) -> Result<i64, PostgresError> {
    let exists: bool = tx
        .query_one("SELECT to_regclass('vigil_schema') IS NOT NULL", &[])?
        .try_get(0)?;
    if !exists {
        return Ok(0);
    }
    let row = tx.query_opt("SELECT version FROM vigil_schema", &[])?;
    Ok(match row {
        Some(r) => r.try_get(0)?,
        None => 0,
    })
}

pub(crate) fn migrate_with(client: &mut Client, migrations: &[&str]) -> Result<(), PostgresError> {
    let known = migrations.len() as i64;
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    let found = version(&mut tx)?;
    if found > known {
        return Err(PostgresError::SchemaTooNew { found, known });
    }
    if found == known {
        tx.commit()?;
        return Ok(());
    }
    if found == 0 {
        tx.batch_execute("CREATE TABLE vigil_schema (version bigint NOT NULL)")
            .map_err(|source| PostgresError::Migration {
                from: 0,
                to: 1,
                source,
            })?;
        tx.execute("INSERT INTO vigil_schema (version) VALUES (0)", &[])?;
    }
    for (step, sql) in migrations.iter().enumerate().skip(found.max(0) as usize) {
        let from = step as i64;
        tx.batch_execute(sql)
            .map_err(|source| PostgresError::Migration {
                from: found,
                to: from + 1,
                source,
            })?;
    }
    tx.execute("UPDATE vigil_schema SET version = $1", &[&known])
        .map_err(|source| PostgresError::Migration {
            from: found,
            to: known,
            source,
        })?;
    tx.commit()?;
    Ok(())
}

/// Switches row-level security on for every table of tenant data where it is off (under the
/// migration lock, so concurrent openers do it once).
pub(crate) fn enable_row_level_security(client: &mut Client) -> Result<(), PostgresError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    for table in TENANT_TABLES {
        let on: bool = tx
            .query_one(
                "SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass($1)",
                &[table],
            )?
            .try_get(0)?;
        if !on {
            tx.batch_execute(&format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"))?;
        }
    }
    tx.commit()?;
    Ok(())
}
