//! The crate's one error type, and how it maps onto the store contract's [`StoreError`].

use vigil_core::store::{ErrorKind, StoreError};

/// What can go wrong in the PostgreSQL store, beyond the contract's own outcomes (not found,
/// conflict, illegal transition), which are reported directly as [`StoreError`]s.
///
/// Every value converts into a [`StoreError`] whose [`ErrorKind`] is what callers branch on:
/// a server that cannot be reached, a dropped connection, a serialization failure or a
/// deadlock are [`ErrorKind::Unavailable`] (retrying may help); stored rows that do not decode
/// are [`ErrorKind::Corrupt`], naming the tenant and the row; a uniqueness violation is
/// [`ErrorKind::Conflict`]; a value the server refuses to store (such as a NUL character in a
/// name or an actor) is [`ErrorKind::InvalidInput`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresError {
    /// The connection string does not parse.
    #[error(
        "invalid PostgreSQL connection string: {} (expected postgres://user@host:port/database)",
        detail(.source)
    )]
    InvalidUrl {
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
    /// The connection string's TLS settings (`sslmode`, `sslrootcert`) cannot be used.
    #[error("invalid TLS settings in the PostgreSQL connection string: {problem}")]
    Tls {
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The connection string asks for TLS, and this build of the crate has none.
    #[error(
        "the PostgreSQL connection string asks for TLS (sslmode={mode}), but this build has no TLS support: enable the `tls` feature of vigil-postgres (the `postgres-tls` feature of vigil), or connect with sslmode=disable or prefer"
    )]
    TlsNotEnabled {
        /// The connection string's `sslmode`.
        mode: String,
    },
    /// No connection to the server could be made (or taken from the pool) in time.
    #[error(
        "cannot connect to the PostgreSQL server at {target}: {source} (check that the server is running and accepts connections)"
    )]
    Connect {
        /// Host, port and database, without credentials.
        target: String,
        /// The pool's error.
        #[source]
        source: r2d2::Error,
    },
    /// The database's schema is newer than this version of the crate knows.
    #[error(
        "the database schema is at version {found}, but this vigil-postgres only knows versions up to {known}: upgrade vigil-postgres to open it (nothing was changed)"
    )]
    SchemaTooNew {
        /// The version recorded in the database.
        found: i64,
        /// The newest schema version this crate knows.
        known: i64,
    },
    /// A schema migration failed; the database was left at version `from`.
    #[error(
        "migrating the database schema from version {from} to {to} failed: {} (the database was left unchanged at version {from})",
        detail(.source)
    )]
    Migration {
        /// The version the database was at.
        from: i64,
        /// The version the failed step migrates to.
        to: i64,
        /// The server's error.
        #[source]
        source: postgres::Error,
    },
    /// The server or the connection failed in a way that retrying may cure: the connection
    /// was lost, the server is shutting down, a serialization failure or a deadlock.
    #[error("the PostgreSQL server is unavailable: {} (retry)", detail(.source))]
    Unavailable {
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
    /// A constraint of the schema refused a write.
    #[error("a database constraint refused the write: {}", detail(.source))]
    Constraint {
        /// The server's error.
        #[source]
        source: postgres::Error,
    },
    /// The server refused a value (a NUL character in text, say).
    #[error("the PostgreSQL server refused a value: {}", detail(.source))]
    InvalidValue {
        /// The server's error.
        #[source]
        source: postgres::Error,
    },
    /// Any other failure of the server or the driver.
    #[error("PostgreSQL failed: {}", detail(.source))]
    Postgres {
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
    /// A stored column cannot be read as the type the schema gives it.
    #[error(
        "the database is damaged: a stored value cannot be read: {} (check the schema of the Vigil tables)",
        detail(.source)
    )]
    DamagedValue {
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
    /// A stored alert cannot be read back.
    #[error(
        "stored alert {id:?} of tenant {tenant:?} cannot be read: {problem} (repair or delete the row in table `alerts`)"
    )]
    CorruptAlert {
        /// The tenant.
        tenant: String,
        /// The alert's identity.
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
    /// Another stored row (audit entry, feedback, event) cannot be read back.
    #[error(
        "a stored {what} of tenant {tenant:?} cannot be read: {problem} (repair or delete the row)"
    )]
    CorruptRow {
        /// The tenant.
        tenant: String,
        /// Which kind of row, naming its alert.
        what: String,
        /// What is wrong.
        problem: String,
    },
}

/// Whether the server aborted a transaction in a way that leaves nothing of it behind and that
/// running it again may cure: a serialization failure or a deadlock. (A lost connection is not
/// one: a commit whose answer was lost may have taken effect.)
pub(crate) fn aborted_by_server(e: &StoreError) -> bool {
    let Some(PostgresError::Unavailable { source }) =
        std::error::Error::source(e).and_then(|s| s.downcast_ref::<PostgresError>())
    else {
        return false;
    };
    source
        .code()
        .is_some_and(|c| matches!(c.code(), "40001" | "40P01"))
}

/// The error of a write the server aborted on every one of its `attempts`.
pub(crate) fn gave_up(e: StoreError, attempts: u32) -> StoreError {
    let message = if attempts > 1 {
        format!("{e} (gave up after {attempts} attempts)")
    } else {
        e.to_string()
    };
    StoreError::with_source(ErrorKind::Unavailable, message, e)
}

/// The pause before retry number `attempt` (1, 2, …): 5 ms doubling up to 320 ms, each with
/// up to as much again of random jitter, so that writers that collided do not collide again.
pub(crate) fn backoff(attempt: u32) -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    let base = 5u64 << attempt.saturating_sub(1).min(6);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(attempt);
    std::time::Duration::from_millis(base + h.finish() % (base + 1))
}

/// The driver's error with the server's message, which its `Display` leaves out ("db error").
fn detail(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut out = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
            if let Some(d) = db.detail() {
                out.push_str(&format!(" ({d})"));
            }
            out
        }
        None => {
            let mut out = e.to_string();
            let mut next = std::error::Error::source(e);
            while let Some(s) = next {
                out.push_str(&format!(": {s}"));
                next = s.source();
            }
            out
        }
    }
}

/// SQLSTATE classes and codes that mean "try again".
fn transient(code: &str) -> bool {
    code == "40001" // serialization_failure
        || code == "40P01" // deadlock_detected
        || code.starts_with("08") // connection exceptions
        || code.starts_with("53") // insufficient resources
        || code.starts_with("57") // operator intervention (shutdown, cancel)
        || code == "55P03" // lock_not_available
}

impl PostgresError {
    /// Classifies a driver error by its SQLSTATE.
    pub(crate) fn from_postgres(source: postgres::Error) -> PostgresError {
        if source.is_closed() {
            return PostgresError::Unavailable { source };
        }
        let code = source.code().map(|c| c.code().to_owned());
        match code.as_deref() {
            None => {
                // No SQLSTATE: the connection or the driver failed, not the statement.
                PostgresError::Unavailable { source }
            }
            Some(c) if transient(c) => PostgresError::Unavailable { source },
            Some(c) if c.starts_with("23") => PostgresError::Constraint { source },
            Some(c) if c.starts_with("22") => PostgresError::InvalidValue { source },
            Some(_) => PostgresError::Postgres { source },
        }
    }

    /// The contract's kind for this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PostgresError::CorruptAlert { .. }
            | PostgresError::CorruptRule { .. }
            | PostgresError::CorruptRow { .. }
            | PostgresError::DamagedValue { .. } => ErrorKind::Corrupt,
            PostgresError::Constraint { .. } => ErrorKind::Conflict,
            PostgresError::InvalidValue { .. }
            | PostgresError::InvalidUrl { .. }
            | PostgresError::Tls { .. }
            | PostgresError::TlsNotEnabled { .. } => ErrorKind::InvalidInput,
            PostgresError::Connect { .. }
            | PostgresError::SchemaTooNew { .. }
            | PostgresError::Migration { .. }
            | PostgresError::Unavailable { .. }
            | PostgresError::Postgres { .. } => ErrorKind::Unavailable,
        }
    }
}

impl From<postgres::Error> for PostgresError {
    fn from(e: postgres::Error) -> PostgresError {
        PostgresError::from_postgres(e)
    }
}

impl From<PostgresError> for StoreError {
    fn from(e: PostgresError) -> StoreError {
        StoreError::with_source(e.kind(), e.to_string(), e)
    }
}

/// `?` from driver results straight into [`StoreError`].
pub(crate) trait Db<T> {
    fn db(self) -> Result<T, StoreError>;
}

impl<T> Db<T> for Result<T, postgres::Error> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(|e| PostgresError::from_postgres(e).into())
    }
}

/// Reads column `i` of a row; a value of the wrong type is damage, not a server failure.
pub(crate) fn get<'a, T: postgres::types::FromSql<'a>>(
    row: &'a postgres::Row,
    i: usize,
) -> Result<T, StoreError> {
    row.try_get(i)
        .map_err(|source| PostgresError::DamagedValue { source }.into())
}

pub(crate) fn corrupt_alert(tenant: &str, id: &str, problem: impl Into<String>) -> StoreError {
    PostgresError::CorruptAlert {
        tenant: tenant.to_owned(),
        id: id.to_owned(),
        problem: problem.into(),
    }
    .into()
}

pub(crate) fn corrupt_rule(tenant: &str, name: &str, problem: impl Into<String>) -> StoreError {
    PostgresError::CorruptRule {
        tenant: tenant.to_owned(),
        name: name.to_owned(),
        problem: problem.into(),
    }
    .into()
}

pub(crate) fn corrupt_row(
    tenant: &str,
    what: impl Into<String>,
    problem: impl Into<String>,
) -> StoreError {
    PostgresError::CorruptRow {
        tenant: tenant.to_owned(),
        what: what.into(),
        problem: problem.into(),
    }
    .into()
}
