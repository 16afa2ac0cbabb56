//! A durable [`Store`] on one SQLite file: the whole triage contract of `vigil-core` (ingest with
//! suppression, triage queries with keyset cursors, versioned status changes with an audit trail,
//! feedback, suppression rules), safe to share between threads and between processes.
//!
//! ```
//! use chrono::Utc;
//! use vigil_core::store::{AlertQuery, StatusChange, Store, TenantId};
//! use vigil_core::{defender, Status};
//! use vigil_sqlite::SqliteStore;
//!
//! let dir = tempfile::tempdir()?;
//! let store = SqliteStore::open(dir.path().join("vigil.db"))?;
//! let tenant = TenantId::new("contoso")?;
//! let alerts = defender::parse_alerts(include_str!("../../../fixtures/alerts/sample-alerts.json"))?;
//! store.ingest(&tenant, &alerts, Utc::now())?;
//!
//! let page = store.query(&tenant, &AlertQuery::default())?;
//! let top = &page.alerts[0];
//! let change = StatusChange::new(Status::Resolved, "alice").comment("handled");
//! let updated = store.change_status(&tenant, top.alert.system_alert_id(), top.version, change, Utc::now())?;
//! assert_eq!(updated.alert.status(), Status::Resolved);
//! assert_eq!(store.history(&tenant, top.alert.system_alert_id())?.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Overview
//!
//! - [`SqliteStore`] implements [`Store`]; open it with [`SqliteStore::open`] (durable defaults)
//!   or [`SqliteStore::open_with`] and [`Options`]. Share it as `Arc<dyn Store>`.
//! - [`SqliteError`] is the crate's error; every operation reports it as a
//!   [`StoreError`] whose kind says what to do:
//!   `Unavailable` (busy, locked, I/O: retry; also a file that cannot be written or read here),
//!   `Corrupt` (the file or a stored row is damaged: restore it from a backup; see *Damage*),
//!   and the contract's own kinds.
//! - [`SqliteBackend::check`] (`store.backend().check()`) checks the whole file and reports
//!   every damaged row.
//!
//! # Durability
//!
//! The file is opened in write-ahead-log mode (`journal_mode=WAL`) with `synchronous=FULL` and
//! `foreign_keys=ON`, and every write runs in one `BEGIN IMMEDIATE` transaction: a batch is
//! ingested whole or not at all, even if the process is killed or the machine loses power.
//!
//! [`Synchronous::Normal`] skips the `fsync` of the log at each commit (it still syncs at
//! checkpoints). The file can never be corrupted by it, and a crashed *process* loses nothing,
//! but after a power failure or an operating-system crash the last transactions committed before
//! it may be rolled back. Choose it when re-ingesting the last few seconds of alerts is
//! acceptable and commit latency matters (many small writes); keep `Full` when a status change
//! someone made must never disappear.
//!
//! # Concurrency
//!
//! One writer connection (behind a mutex) serves the writes of a process; reads use a small pool
//! of separate connections, each read in one snapshot transaction, so reads never wait for
//! writes. Opening a file that is already in WAL mode at [`SCHEMA_VERSION`] only reads it (the
//! schema version is read before any migration transaction is begun), so opening never waits
//! for a writer's transaction either, and a process that only reads is not failed by a busy
//! database (SQLite's brief internal locks, such as recovering the log index after a crash,
//! are waited out within the busy timeout). Several
//! processes can open the same file: SQLite's file locks serialise their writes (each waits up
//! to [`Options::busy_timeout`] for the others, then fails with `Unavailable`; raise it when
//! large batches from several processes queue up on one file), and
//! optimistic concurrency holds across them, since a status change checks and bumps the version
//! inside its immediate transaction (`UPDATE … WHERE id = ? AND version = ?`) and appends its
//! audit entry in the same transaction. Compiled suppression rules are cached per tenant and
//! reloaded when the tenant's rules generation (bumped by every rule change, in any process)
//! moves.
//!
//! # Schema
//!
//! Versioned by `PRAGMA user_version` ([`SCHEMA_VERSION`]); hand-written migrations run on open,
//! in one immediate transaction. A file from a newer version of this crate is refused
//! ([`SqliteError::SchemaTooNew`]). Each alert keeps its full 2022-01-01 JSON resource form (so
//! nothing a document carried is lost) beside the columns the triage queries use: status,
//! severity rank, generation time, priority score, lowercased type, product, display name and
//! compromised entity, the correlation key, lowercase lists of its resource ids and entity
//! values, with indexes that serve each order per status. The selective filters (entity
//! values, resource-id prefixes, intents, ATT&CK tactics and techniques) and related alerts
//! are served by hashed integer keys (`alert_keys`, written per generation of 8,192 alerts so a
//! batch rewrites few pages) and a 64-bit filter of those keys carried by the order indexes;
//! every row found through them is checked exactly. Key rows also carry their alert's status
//! and severity, so the dashboard header's count under one such filter reads key rows only;
//! the keys are SipHash-2-4 under a random key of the file, so no value can be made to share
//! another's. Per tenant, tallies of alerts by type, status, severity and display name answer
//! the header's other counts. New files use 8 KiB pages.
//!
//! # Read-only files
//!
//! With [`Options::read_only`] an existing file is opened for reading only: nothing is
//! created, set up or migrated, and every write fails with [`SqliteError::OpenedReadOnly`].
//! This reads a file the process may not write, such as a copy handed to an auditor in a
//! read-only folder: where SQLite cannot create the `-shm` index it needs beside a WAL file, the
//! file is opened as immutable (nobody can write it there either), unless a `-wal` file beside
//! it holds commits, which would then be ignored ([`SqliteError::UnreadableLog`]). A file at an
//! older schema version cannot be read this way, since migrating it needs write access
//! ([`SqliteError::SchemaTooOld`], naming both versions).
//!
//! Opened for writing (the default), a file that cannot be written is refused at once with
//! [`SqliteError::ReadOnlyFile`] naming it (or [`SqliteError::SchemaTooOld`] when it also needs a
//! migration), rather than failing later with SQLite's "attempt to write a readonly database".
//!
//! # Damage
//!
//! Everything that means the file's contents are damaged is [`ErrorKind::Corrupt`], with a
//! message saying to restore it from a backup:
//! SQLite's own `SQLITE_CORRUPT` and `SQLITE_NOTADB`, a malformed schema, a table or column the
//! schema version promises but the file lacks, a stored value that is not of its column's type
//! or not valid UTF-8, and stored rows that do not decode (the message names the alert or
//! rule). [`SqliteBackend::check`] runs `PRAGMA integrity_check` and `PRAGMA foreign_key_check`,
//! then decodes every stored row of every tenant, and reports what is damaged by table, tenant
//! and id in a [`CheckReport`].
//!
//! [`ErrorKind::Corrupt`]: vigil_core::store::ErrorKind::Corrupt
//! [`Store`]: vigil_core::store::Store

mod alerts;
mod automations;
mod check;
mod codec;
mod error;
mod events;
mod keys;
mod open;
mod query;
mod rules;
mod schema;
mod tx;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use vigil_core::store::{Backend, Open, ReadTx, StoreError, TenantId, Triage, WriteTx};

pub use check::{CheckReport, DamagedRow};
pub use error::SqliteError;
pub use schema::SCHEMA_VERSION;

use error::Db;
use open::Target;

/// How SQLite syncs commits to disk (`PRAGMA synchronous`); see the crate docs' *Durability*.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Synchronous {
    /// Every commit is on disk when it returns, even across a power failure. The default.
    #[default]
    Full,
    /// Commits survive a crash of the process, but the last ones may be lost on a power failure
    /// or an operating-system crash. Faster for many small writes.
    Normal,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// How [`SqliteStore::open_with`] sets up the file and its connections.
///
/// ```
/// use std::time::Duration;
/// use vigil_sqlite::{Options, Synchronous};
///
/// let options = Options {
///     synchronous: Synchronous::Normal,
///     busy_timeout: Duration::from_secs(10),
///     ..Options::default()
/// };
/// # let _ = options;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Commit durability; [`Synchronous::Full`] by default.
    pub synchronous: Synchronous,
    /// How long a write (or opening a file that needs setting up or migrating) waits for
    /// another connection's write lock before it fails with `Unavailable`; 5 seconds by
    /// default. Reads do not take the write lock, so they do not wait for writers.
    pub busy_timeout: Duration,
    /// How many idle read connections the store keeps (more are opened while many threads read
    /// at once); 4 by default.
    pub max_idle_readers: usize,
    /// SQLite's page cache per connection, in KiB; 32 MiB by default.
    pub cache_size_kib: u32,
    /// Opens the file for reading only (`false` by default): nothing is created, set up or
    /// migrated, every write fails with [`SqliteError::OpenedReadOnly`], and a file in a folder
    /// SQLite may not write is still read. See the crate docs' *Read-only files*.
    pub read_only: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            max_idle_readers: 4,
            cache_size_kib: 32 * 1024,
            read_only: false,
        }
    }
}

/// The SQLite [`Backend`]: rows, indexes and queries on one file. See the crate docs.
pub struct SqliteBackend {
    path: PathBuf,
    options: Options,
    target: Target,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteBackend")
            .field("path", &self.path)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing here panics while holding a lock; if a caller's panic did, the guarded value is
    // still consistent (an open transaction rolls back when its guard unwinds).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn configure(conn: &Connection, options: &Options) -> rusqlite::Result<()> {
    conn.busy_timeout(options.busy_timeout)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", options.synchronous.pragma())?;
    conn.pragma_update(None, "cache_size", -i64::from(options.cache_size_kib))?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Checkpoint the log every ~40 MiB rather than every 4 MiB: a page that several batches
    // dirty is copied back once, which makes large ingests about a third faster.
    conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

impl SqliteBackend {
    /// Opens (creating it if needed) the database file at `path` with the durable defaults of
    /// [`Options::default`], migrating its schema to [`SCHEMA_VERSION`].
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteBackend, SqliteError> {
        SqliteBackend::open_with(path, Options::default())
    }

    /// Opens (creating it if needed) the database file at `path` with `options`; with
    /// [`Options::read_only`], opens an existing file for reading only.
    ///
    /// Opening a file already at [`SCHEMA_VERSION`] only reads it: it takes no write lock, so
    /// it never waits for a write in another connection or process.
    pub fn open_with(
        path: impl AsRef<Path>,
        options: Options,
    ) -> Result<SqliteBackend, SqliteError> {
        let path = path.as_ref().to_path_buf();
        let (conn, target) = if options.read_only {
            open::read_only(&path, &options)?
        } else {
            (open::read_write(&path, &options)?, Target::ReadWrite)
        };
        Ok(SqliteBackend {
            path,
            options,
            target,
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options it was opened with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// An idle read connection, or a new one.
    fn take_reader(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = lock(&self.readers).pop() {
            return Ok(conn);
        }
        let conn = self
            .target
            .connect(&self.path, false)
            .map_err(|source| open::open_error(&self.path, source))?;
        configure(&conn, &self.options).db()?;
        conn.pragma_update(None, "query_only", true).db()?;
        Ok(conn)
    }

    /// Runs `f` in one read snapshot on a pooled read connection.
    fn snapshot<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.take_reader()?;
        let out = (|| {
            let tx = conn.transaction().db()?;
            let out = f(&tx)?;
            tx.commit().db()?;
            Ok(out)
        })();
        let mut idle = lock(&self.readers);
        if idle.len() < self.options.max_idle_readers {
            idle.push(conn);
        }
        out
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the writer connection, committing if it
    /// succeeds (and rolling back if it fails).
    fn immediate<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.options.read_only {
            return Err(SqliteError::OpenedReadOnly {
                path: self.path.clone(),
            }
            .into());
        }
        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .db()?;
        let out = f(&tx)?;
        tx.commit().db()?;
        Ok(out)
    }

    /// Checks the whole file, every tenant: SQLite's `PRAGMA integrity_check` and
    /// `PRAGMA foreign_key_check`, then a decode of every stored row (alerts, rules, audit
    /// entries, feedback) as the store's reads would decode it, in one read snapshot. Damage
    /// is reported in the [`CheckReport`], by table, tenant and id; the error is for a check
    /// that could not run at all.
    ///
    /// It reads every row, so it takes time in proportion to the file; it writes nothing and
    /// works on a store opened read-only.
    pub fn check(&self) -> Result<CheckReport, StoreError> {
        // One read snapshot, on a connection of its own that is then closed. The snapshot is
        // rolled back, not committed: once SQLite has met a damaged page, committing reports
        // that damage again, and the report already holds it.
        let mut conn = self.take_reader()?;
        let tx = conn.transaction().db()?;
        check::run(&tx)
    }
}

impl Backend for SqliteBackend {
    fn read<T>(
        &self,
        tenant: &TenantId,
        f: impl FnOnce(&dyn ReadTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.snapshot(|tx| f(&tx::SqliteTx::new(tx, tenant)))
    }

    fn write<T>(
        &self,
        tenant: &TenantId,
        mut f: impl FnMut(&mut dyn WriteTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.immediate(|tx| {
            let mut t = tx::SqliteTx::new(tx, tenant);
            let out = f(&mut t)?;
            t.finish()?;
            Ok(out)
        })
    }
}

/// The triage engine over a SQLite file: what most users open, with
/// `SqliteStore::open(path)` or `SqliteStore::open_with(path, options)`. See the crate docs.
pub type SqliteStore = Triage<SqliteBackend>;

impl Open for SqliteBackend {
    type Location = Path;
    type Options = Options;
    type Error = SqliteError;

    fn open_with(path: &Path, options: Options) -> Result<SqliteBackend, SqliteError> {
        SqliteBackend::open_with(path, options)
    }
}

#[cfg(test)]
mod tests;
