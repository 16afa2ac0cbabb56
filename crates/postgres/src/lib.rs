//! A [`Store`] on a PostgreSQL server: the whole triage contract of `vigil-core` (ingest with
//! suppression, triage queries with keyset cursors, versioned status changes with an audit
//! trail, feedback, suppression rules, the event log), shared by many Vigil processes on many
//! hosts.
//!
//! ```no_run
//! use chrono::Utc;
//! use vigil_core::store::{AlertQuery, StatusChange, Store, TenantId};
//! use vigil_core::{defender, Status};
//! use vigil_postgres::PostgresStore;
//!
//! let store = PostgresStore::open("postgres://vigil@db.example.internal/vigil")?;
//! let tenant = TenantId::new("contoso")?;
//! let alerts = defender::parse_alerts(include_str!("../../../fixtures/alerts/sample-alerts.json"))?;
//! store.ingest(&tenant, &alerts, Utc::now())?;
//!
//! let page = store.query(&tenant, &AlertQuery::default())?;
//! let top = &page.alerts[0];
//! let change = StatusChange::new(Status::Resolved, "alice").comment("handled");
//! let updated = store.change_status(&tenant, top.alert.system_alert_id(), top.version, change, Utc::now())?;
//! assert_eq!(updated.alert.status(), Status::Resolved);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Overview
//!
//! - [`PostgresStore`] (the engine over a [`PostgresBackend`]) implements [`Store`]; open it
//!   with [`PostgresStore::open`] from a connection string (`postgres://user@host:port/db`,
//!   or the `key=value` form) or with `open_with` and [`Options`]. Share it as
//!   `Arc<dyn Store>`.
//! - [`PostgresError`] is the crate's error; every operation reports it as a [`StoreError`]
//!   whose kind says what to do: `Unavailable` (the server cannot be reached, the connection
//!   dropped, a serialization failure or a deadlock: retry), `Corrupt` (a stored row does not
//!   decode: the message names the tenant and the row), and the contract's own kinds.
//!
//! # TLS
//!
//! The connection string's `sslmode` decides, as with libpq: `disable` (never), `prefer` (the
//! default; `allow` reads as it: TLS if the server offers it, the certificate unchecked),
//! `require` (TLS or no connection; the certificate is checked against `sslrootcert` when one is
//! given, else not at all), `verify-ca` (the certificate must chain to a trusted root) and
//! `verify-full` (and name the host connected to). Trusted roots come from `sslrootcert` (a PEM
//! file; `system` for the platform's store), else `~/.postgresql/root.crt` when it exists, else
//! the platform's store. TLS is behind the `tls` feature (rustls, with the *ring* provider);
//! without it, `prefer` connects in the clear and a mode that requires TLS is refused on open
//! with [`PostgresError::TlsNotEnabled`], which names the feature.
//!
//! ```no_run
//! # #[cfg(feature = "tls")]
//! let store = vigil_postgres::PostgresStore::open(
//!     "postgres://vigil@db.example.internal/vigil?sslmode=verify-full&sslrootcert=/etc/vigil/db-root.pem",
//! )?;
//! # Ok::<(), vigil_postgres::PostgresError>(())
//! ```
//!
//! # Transactions and concurrency
//!
//! Connections come from a pool ([`Options::max_connections`]); each keeps the statements it
//! prepared, so a statement is parsed and planned once per connection. Every read runs in one
//! `REPEATABLE READ, READ ONLY` transaction (one snapshot); every write runs in one
//! transaction that first locks the tenant's row of `tenant_state` (`SELECT … FOR UPDATE`),
//! so the writes of one tenant are serialised across every process, while different tenants
//! write in parallel. Insertion and event numbers are allocated under that lock, so event
//! numbers follow commit order per tenant: a consumer that has read every event up to `N`
//! never later finds a new one numbered `N` or less. Optimistic concurrency holds across
//! processes: a status change checks and bumps the version in one
//! `UPDATE … WHERE version = $expected` and appends its audit entry and event in the same
//! transaction. A batch is ingested whole or not at all; a connection that drops mid-batch
//! leaves nothing of it, since the server rolls the transaction back.
//!
//! Compiled suppression rules are cached per tenant by the engine and reloaded when the
//! tenant's rules generation (bumped by every rule change, in any process) moves.
//!
//! # Schema
//!
//! Versioned in the table `vigil_schema` ([`SCHEMA_VERSION`]); hand-written migrations run on
//! open in one transaction under an advisory lock (`pg_advisory_xact_lock`), so many processes
//! can start at once. A database from a newer version of this crate is refused
//! ([`PostgresError::SchemaTooNew`], naming both versions). Every table is keyed by tenant
//! first, every statement is filtered by tenant, and no table has a foreign key, so the tables
//! can be distributed by tenant on a sharded PostgreSQL. Each alert keeps its full 2022-01-01
//! JSON resource form beside the columns the triage queries use, with indexes that serve each
//! order per status. Instants are stored as RFC 3339 text with nine fractional digits, which
//! keeps chrono's nanoseconds and its whole range exact.
//!
//! # Row-level security
//!
//! Every table of tenant data carries a policy that admits only the rows of the tenants bound
//! to the connected role (`vigil_tenant_roles`, filled by [`PostgresBackend::bind_role`]).
//! Opening with [`Options::row_level_security`] switches the policies on. The tables' owner
//! (the role that created them, normally Vigil's service role) is not subject to them; a role
//! bound to one tenant, given its own connection string, then reads and writes that tenant
//! only, through Vigil or through any SQL it runs: other tenants' rows are invisible to it, and
//! writing one is refused by the server.
//!
//! Text that PostgreSQL cannot hold (the NUL character) is kept exactly inside an alert's JSON;
//! in a name, an actor or a comment the server refuses it, reported as `InvalidInput`.
//!
//! [`Store`]: vigil_core::store::Store

mod automations;
mod codec;
mod conn;
mod error;
mod query;
mod rules;
mod schema;
mod tls;
mod tx;

use std::fmt;
use std::time::Duration;

use postgres::{Config, IsolationLevel};
use r2d2::{Pool, PooledConnection};
use vigil_core::store::{Backend, Open, ReadTx, StoreError, TenantId, Triage, WriteTx};

pub use error::PostgresError;
pub use schema::SCHEMA_VERSION;

use conn::{Conn, Manager, Tls};
use error::Db;
use tx::PgTx;

/// How [`PostgresBackend::open_with`] connects.
///
/// ```
/// use std::time::Duration;
/// use vigil_postgres::Options;
///
/// let options = Options {
///     max_connections: 16,
///     connect_timeout: Duration::from_secs(5),
///     ..Options::default()
/// };
/// # let _ = options;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The most connections the pool opens to the server; 8 by default.
    pub max_connections: u32,
    /// The fewest idle connections the pool keeps open; 1 by default.
    pub min_idle: u32,
    /// How long an operation waits for a connection (to be opened, or to come back to a full
    /// pool) before it fails with `Unavailable`; 10 seconds by default. Opening the store waits
    /// as long for its first connection.
    pub connect_timeout: Duration,
    /// Switches row-level security on when opening (`false` by default; once on, it stays on
    /// for every process). With it, a database role other than the tables' owner sees and
    /// writes only the rows of the tenants bound to it with
    /// [`PostgresBackend::bind_role`], whatever SQL it runs. See the crate docs'
    /// *Row-level security*.
    pub row_level_security: bool,
    /// How many times a write transaction that the server aborted with a serialization failure
    /// or a deadlock is run again (after a short, growing, jittered pause) before the write
    /// fails with `Unavailable`; 4 by default, 0 to never retry. Such an abort leaves nothing
    /// of the attempt behind, so running it again is safe.
    pub write_retries: u32,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_connections: 8,
            min_idle: 1,
            connect_timeout: Duration::from_secs(10),
            row_level_security: false,
            write_retries: 4,
        }
    }
}

/// The PostgreSQL [`Backend`]: rows, indexes and queries on a server. See the crate docs.
pub struct PostgresBackend {
    target: String,
    pool: Pool<Manager>,
    write_retries: u32,
}

impl fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresBackend")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// The connector for the connection string's TLS settings.
#[cfg(feature = "tls")]
fn connector(settings: &tls::TlsSettings) -> Result<Tls, PostgresError> {
    if settings.mode == tls::SslMode::Disable {
        return Ok(Tls::Off);
    }
    Ok(Tls::Rustls(tls::connector(settings)?))
}

/// Without TLS support: plain connections, and a refusal of any mode that requires TLS.
#[cfg(not(feature = "tls"))]
fn connector(settings: &tls::TlsSettings) -> Result<Tls, PostgresError> {
    match settings.mode {
        tls::SslMode::Disable | tls::SslMode::Prefer => Ok(Tls::Off),
        mode => Err(PostgresError::TlsNotEnabled {
            mode: mode.name().to_owned(),
        }),
    }
}

/// Host, port and database of a configuration, without credentials.
fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}:{port}/{}",
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

impl PostgresBackend {
    /// Connects to the server named by the connection string `url` with the defaults of
    /// [`Options::default`], migrating the database's schema to [`SCHEMA_VERSION`].
    pub fn open(url: &str) -> Result<PostgresBackend, PostgresError> {
        PostgresBackend::open_with(url, Options::default())
    }

    /// Connects to the server named by `url` with `options`, migrating the database's schema
    /// to [`SCHEMA_VERSION`] (under an advisory lock, so concurrent openers migrate it once).
    pub fn open_with(url: &str, options: Options) -> Result<PostgresBackend, PostgresError> {
        let (config, settings) = tls::parse(url)?;
        let tls = connector(&settings)?;
        let target = describe(&config);
        let pool = Pool::builder()
            .max_size(options.max_connections.max(1))
            .min_idle(Some(options.min_idle.min(options.max_connections.max(1))))
            .connection_timeout(options.connect_timeout)
            .build_unchecked(Manager::new(config, tls));
        let backend = PostgresBackend {
            target,
            pool,
            write_retries: options.write_retries,
        };
        let mut conn = backend.connection()?;
        schema::migrate(&mut conn.client)?;
        if options.row_level_security {
            schema::enable_row_level_security(&mut conn.client)?;
        }
        drop(conn);
        Ok(backend)
    }

    /// Binds the database role `role` to `tenant` for row-level security, and grants it what
    /// the store needs on the tables of the current schema: it may then read and write that
    /// tenant's rows (and those of any other tenant bound to it) and no others, once
    /// [`Options::row_level_security`] is on. Run it as the tables' owner.
    pub fn bind_role(&self, role: &str, tenant: &TenantId) -> Result<(), PostgresError> {
        let mut conn = self.connection()?;
        let mut tx = conn.client.transaction()?;
        tx.execute(
            "INSERT INTO vigil_tenant_roles (tenant, role) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            &[&tenant.as_str(), &role],
        )?;
        let names = tx.query_one(
            "SELECT quote_ident($1), quote_ident(current_schema())",
            &[&role],
        )?;
        let quoted: String = names.try_get(0)?;
        let schema: String = names.try_get(1)?;
        tx.batch_execute(&format!(
            "GRANT USAGE ON SCHEMA {schema} TO {quoted};
             GRANT SELECT ON vigil_schema, vigil_tenant_roles TO {quoted};
             GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {quoted};
             GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {quoted};",
            tables = schema::TENANT_TABLES.join(", "),
        ))?;
        tx.commit()?;
        Ok(())
    }

    /// Host, port and database this backend connects to (never the password).
    pub fn target(&self) -> &str {
        &self.target
    }

    fn connection(&self) -> Result<PooledConnection<Manager>, PostgresError> {
        self.pool.get().map_err(|source| PostgresError::Connect {
            target: self.target.clone(),
            source,
        })
    }
}

impl PostgresBackend {
    /// One attempt at a write transaction: commits if `f` succeeds, rolls back otherwise
    /// (dropping the transaction rolls it back).
    fn write_once<T>(
        &self,
        tenant: &TenantId,
        f: &mut impl FnMut(&mut dyn WriteTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.connection()?;
        let Conn { client, statements } = &mut *conn;
        let tx = client.transaction().db()?;
        let mut t = PgTx::write(tx, statements, tenant)?;
        let out = f(&mut t)?;
        t.commit()?;
        Ok(out)
    }
}

impl Backend for PostgresBackend {
    fn read<T>(
        &self,
        tenant: &TenantId,
        f: impl FnOnce(&dyn ReadTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.connection()?;
        let Conn { client, statements } = &mut *conn;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .db()?;
        let t = PgTx::read(tx, statements, tenant);
        let out = f(&t)?;
        t.commit()?;
        Ok(out)
    }

    fn write<T>(
        &self,
        tenant: &TenantId,
        mut f: impl FnMut(&mut dyn WriteTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut attempt: u32 = 0;
        loop {
            let e = match self.write_once(tenant, &mut f) {
                Err(e) if error::aborted_by_server(&e) => e,
                done => return done,
            };
            if attempt >= self.write_retries {
                return Err(error::gave_up(e, attempt + 1));
            }
            attempt += 1;
            std::thread::sleep(error::backoff(attempt));
        }
    }
}

/// The triage engine over a PostgreSQL server: what most users open, with
/// `PostgresStore::open(url)` or `PostgresStore::open_with(url, options)`. See the crate docs.
pub type PostgresStore = Triage<PostgresBackend>;

impl Open for PostgresBackend {
    type Location = str;
    type Options = Options;
    type Error = PostgresError;

    fn open_with(url: &str, options: Options) -> Result<PostgresBackend, PostgresError> {
        PostgresBackend::open_with(url, options)
    }
}
