//! The crate's one error type, and how it maps onto the store contract's [`StoreError`].

use std::path::PathBuf;

use rusqlite::ErrorCode;
use vigil_core::store::{ErrorKind, StoreError};

/// What can go wrong in the SQLite store, beyond the contract's own outcomes (not found,
/// conflict, illegal transition), which are reported directly as [`StoreError`]s.
///
/// Every value converts into a [`StoreError`] whose [`ErrorKind`] is what callers branch on:
/// busy or locked databases and I/O failures are [`ErrorKind::Unavailable`] (retrying may help),
/// every sign of damage (SQLite's `SQLITE_CORRUPT` and `SQLITE_NOTADB`, a stored value of the
/// wrong type or invalid UTF-8, a table or column its schema version promises but the file
/// lacks, unreadable stored rows) is [`ErrorKind::Corrupt`]; a file written by a newer version
/// of this crate, a file that cannot be written, and a write to a store opened read-only are
/// [`ErrorKind::Unavailable`] too (nothing here can serve them).
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
        "the database is damaged (or the file is not a SQLite database): {source} (restore it from a backup)"
    )]
    DamagedFile {
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored value cannot be read as what the schema says it is (invalid UTF-8 in a text
    /// column, text where a number belongs, …): the file's contents are damaged.
    #[error(
        "the database is damaged: a stored value cannot be read: {source} (restore it from a backup; SqliteBackend::check lists the damaged rows)"
    )]
    DamagedValue {
        /// rusqlite's error.
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
    /// The file cannot be written (it, or its folder, is read-only), so it cannot be opened
    /// for writing.
    #[error(
        "the SQLite database {path:?} cannot be written: the file or its folder is read-only (open it read-only to read it, or copy it to a writable folder to change it)"
    )]
    ReadOnlyFile {
        /// The file.
        path: PathBuf,
    },
    /// A write to a store opened with [`crate::Options::read_only`].
    #[error(
        "the SQLite database {path:?} is opened read-only: nothing was written (open it without Options::read_only to change it)"
    )]
    OpenedReadOnly {
        /// The file.
        path: PathBuf,
    },
    /// The file's schema is older than this version of the crate, and it cannot be migrated
    /// because it is opened read-only or cannot be written.
    #[error(
        "the SQLite database {path:?} is at schema version {found}, and this vigil-sqlite reads version {known}: migrating it needs write access, but the file is read-only here (open it once where it can be written, or migrate a writable copy; nothing was changed)"
    )]
    SchemaTooOld {
        /// The file.
        path: PathBuf,
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The schema version this crate reads and writes.
        known: i64,
    },
    /// A read-only file whose write-ahead log holds commits that SQLite cannot read where it
    /// may not create its shared-memory index.
    #[error(
        "the SQLite database {path:?} has a write-ahead log (the -wal file beside it) with commits not yet in the file, and SQLite cannot read it in a folder it may not write: open it once where it can be written, or copy the file together with its -wal file to a writable folder"
    )]
    UnreadableLog {
        /// The file.
        path: PathBuf,
    },
    /// There is no database file to open read-only.
    #[error(
        "there is no SQLite database {path:?} to read (check the path; opening it for writing creates it)"
    )]
    Missing {
        /// The file.
        path: PathBuf,
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
        if means_damaged_value(&source) {
            return SqliteError::DamagedValue { source };
        }
        if means_damaged_schema(&source) {
            return SqliteError::DamagedFile { source };
        }
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
            | SqliteError::DamagedFile { .. }
            | SqliteError::DamagedValue { .. } => ErrorKind::Corrupt,
            SqliteError::Constraint { .. } => ErrorKind::Conflict,
            SqliteError::Open { source, .. }
                if matches!(
                    source.sqlite_error_code(),
                    Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
                ) =>
            {
                ErrorKind::Corrupt
            }
            SqliteError::Open { .. }
            | SqliteError::SchemaTooNew { .. }
            | SqliteError::Migration { .. }
            | SqliteError::Busy { .. }
            | SqliteError::Sqlite { .. }
            | SqliteError::JournalMode { .. }
            | SqliteError::ReadOnlyFile { .. }
            | SqliteError::OpenedReadOnly { .. }
            | SqliteError::SchemaTooOld { .. }
            | SqliteError::UnreadableLog { .. }
            | SqliteError::Missing { .. } => ErrorKind::Unavailable,
        }
    }

    /// SQLite's result code behind this error, if it came from SQLite.
    pub(crate) fn code(&self) -> Option<ErrorCode> {
        match self {
            SqliteError::Open { source, .. }
            | SqliteError::Migration { source, .. }
            | SqliteError::Busy { source }
            | SqliteError::DamagedFile { source }
            | SqliteError::DamagedValue { source }
            | SqliteError::Constraint { source }
            | SqliteError::Sqlite { source } => source.sqlite_error_code(),
            _ => None,
        }
    }

    /// Whether SQLite failed because it may not write the file or create the files beside it
    /// (`SQLITE_READONLY`, or `SQLITE_CANTOPEN` once the file itself is open).
    pub(crate) fn is_read_only_failure(&self) -> bool {
        matches!(
            self.code(),
            Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen)
        )
    }
}

/// A value read from a row is not of the type the schema gives its column (or not valid
/// UTF-8): only damage puts it there, since this crate writes every column with its type.
fn means_damaged_value(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::Utf8Error(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
    )
}

/// The file lacks a table or column its schema version promises, or its schema does not parse.
fn means_damaged_schema(e: &rusqlite::Error) -> bool {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(message)) => {
            message.starts_with("no such table")
                || message.starts_with("no such column")
                || message.starts_with("malformed database schema")
        }
        _ => false,
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
