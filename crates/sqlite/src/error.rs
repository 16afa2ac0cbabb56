//! The crate's one error type, and how it maps onto the store contract's [`StoreError`].

use std::path::PathBuf;

use rusqlite::ErrorCode;
use vigil_core::store::{ErrorKind, StoreError};

/// What can go wrong in the SQLite store, beyond the contract's own outcomes (not found,
/// conflict, illegal transition), which are reported directly as [`StoreError`]s.
///
/// Every value converts into a [`StoreError`] whose [`ErrorKind`] is what callers branch on:
/// busy or locked databases and I/O failures are [`ErrorKind::Unavailable`] (retrying may help),
/// unreadable stored rows and damaged files are [`ErrorKind::Corrupt`], a file written by a newer
/// version of this crate is [`ErrorKind::Unavailable`] too (nothing here can read it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    /// The database file could not be opened or set up.
    #[error(
        "cannot open the SQLite database {path:?}: {source} (check that the directory exists and is writable, and that the file is a Vigil database)"
    )]
    Open {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file's schema is newer than this version of the crate knows.
    #[error(
        "the database schema is at version {found}, but this vigil-sqlite only knows versions up to {known}: upgrade vigil-sqlite to open it (nothing was changed)"
    )]
    SchemaTooNew {
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The newest schema version this crate knows.
        known: i64,
    },
    /// A schema migration failed; the file was left at version `from`.
    #[error(
        "migrating the database schema from version {from} to {to} failed: {source} (the file was left unchanged at version {from})"
    )]
    Migration {
        /// The version the file was at.
        from: i64,
        /// The version the failed step migrates to.
        to: i64,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// Another connection (in this or another process) holds the database lock for longer than
    /// the busy timeout.
    #[error(
        "the database is busy or locked by another connection: {source} (retry, or raise Options::busy_timeout)"
    )]
    Busy {
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database file itself is damaged or is not a database.
    #[error(
        "the database file is damaged or not a SQLite database: {source} (restore it from a backup)"
    )]
    DamagedFile {
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A constraint of the schema refused a write.
    #[error("a database constraint refused the write: {source}")]
    Constraint {
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// Any other SQLite failure (I/O, full disk, …).
    #[error("SQLite failed: {source} (check the disk and the file's permissions, then retry)")]
    Sqlite {
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored alert cannot be read back.
    #[error(
        "stored alert {id:?} of tenant {tenant:?} cannot be read: {problem} (repair or delete the row in table `alerts`)"
    )]
    CorruptAlert {
        /// The tenant.
        tenant: String,
        /// The alert's system id.
        id: String,
        /// What is wrong.
        problem: String,
    },
    /// A stored suppression rule cannot be read back.
    #[error(
        "stored suppression rule {name:?} of tenant {tenant:?} cannot be read: {problem} (repair or delete the row in table `rules`)"
    )]
    CorruptRule {
        /// The tenant.
        tenant: String,
        /// The rule's name.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// Another stored row (audit entry, feedback) cannot be read back.
    #[error("a stored {what} cannot be read: {problem} (repair or delete the row)")]
    CorruptRow {
        /// Which kind of row, naming its alert.
        what: String,
        /// What is wrong.
        problem: String,
    },
    /// The database could not be switched to write-ahead logging.
    #[error(
        "the SQLite database {path:?} cannot use write-ahead logging (journal mode stayed {mode:?}): open a file on a local disk, not an in-memory or network database"
    )]
    JournalMode {
        /// The file.
        path: PathBuf,
        /// The journal mode SQLite reported.
        mode: String,
    },
}

impl SqliteError {
    /// Classifies a SQLite error by its result code.
    pub(crate) fn from_sqlite(source: rusqlite::Error) -> SqliteError {
        match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                SqliteError::Busy { source }
            }
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                SqliteError::DamagedFile { source }
            }
            Some(ErrorCode::ConstraintViolation) => SqliteError::Constraint { source },
            _ => SqliteError::Sqlite { source },
        }
    }

    /// The contract's kind for this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SqliteError::CorruptAlert { .. }
            | SqliteError::CorruptRule { .. }
            | SqliteError::CorruptRow { .. }
            | SqliteError::DamagedFile { .. } => ErrorKind::Corrupt,
            SqliteError::Constraint { .. } => ErrorKind::Conflict,
            SqliteError::Open { .. }
            | SqliteError::SchemaTooNew { .. }
            | SqliteError::Migration { .. }
            | SqliteError::Busy { .. }
            | SqliteError::Sqlite { .. }
            | SqliteError::JournalMode { .. } => ErrorKind::Unavailable,
        }
    }
}

impl From<rusqlite::Error> for SqliteError {
    fn from(e: rusqlite::Error) -> SqliteError {
        SqliteError::from_sqlite(e)
    }
}

impl From<SqliteError> for StoreError {
    fn from(e: SqliteError) -> StoreError {
        StoreError::with_source(e.kind(), e.to_string(), e)
    }
}

/// `?` from rusqlite results straight into [`StoreError`].
pub(crate) trait Db<T> {
    fn db(self) -> Result<T, StoreError>;
}

impl<T> Db<T> for Result<T, rusqlite::Error> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(|e| SqliteError::from_sqlite(e).into())
    }
}

pub(crate) fn corrupt_alert(tenant: &str, id: &str, problem: impl Into<String>) -> StoreError {
    SqliteError::CorruptAlert {
        tenant: tenant.to_owned(),
        id: id.to_owned(),
        problem: problem.into(),
    }
    .into()
}

pub(crate) fn corrupt_rule(tenant: &str, name: &str, problem: impl Into<String>) -> StoreError {
    SqliteError::CorruptRule {
        tenant: tenant.to_owned(),
        name: name.to_owned(),
        problem: problem.into(),
    }
    .into()
}

pub(crate) fn corrupt_row(what: impl Into<String>, problem: impl Into<String>) -> StoreError {
    SqliteError::CorruptRow {
        what: what.into(),
        problem: problem.into(),
    }
    .into()
}
