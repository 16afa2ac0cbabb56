//! Opening the file: for writing (created, switched to WAL, migrated) or for reading only.
//!
//! Neither takes the write lock when the file is already set up and at the current schema
//! version: the journal mode is only set when it is not WAL yet, and the schema version is read
//! before any migration transaction is begun. So opening waits for no writer.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::error::SqliteError;
use crate::{Options, schema};

/// How the store's connections open the file.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    /// The path, for reading and writing.
    ReadWrite,
    /// The path, read-only.
    ReadOnly,
    /// A `file:` URI with `mode=ro&immutable=1`, for a file in a folder where SQLite cannot
    /// create its `-shm` index (so nobody can write the file there either).
    Immutable(String),
}

impl Target {
    /// A new connection; `create` creates a missing file (read-write only).
    pub(crate) fn connect(&self, path: &Path, create: bool) -> rusqlite::Result<Connection> {
        let base = OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        match self {
            Target::ReadWrite => {
                let create = if create {
                    OpenFlags::SQLITE_OPEN_CREATE
                } else {
                    OpenFlags::empty()
                };
                Connection::open_with_flags(path, base | OpenFlags::SQLITE_OPEN_READ_WRITE | create)
            }
            Target::ReadOnly => {
                Connection::open_with_flags(path, base | OpenFlags::SQLITE_OPEN_READ_ONLY)
            }
            Target::Immutable(uri) => {
                Connection::open_with_flags(uri, base | OpenFlags::SQLITE_OPEN_READ_ONLY)
            }
        }
    }
}

/// The error of a failed `sqlite3_open`, classified (a damaged file is not an open failure).
pub(crate) fn open_error(path: &Path, source: rusqlite::Error) -> SqliteError {
    match SqliteError::from_sqlite(source) {
        SqliteError::Sqlite { source } => SqliteError::Open {
            path: path.to_path_buf(),
            source,
        },
        other => other,
    }
}

/// Opens the writer connection: creates the file if needed, switches it to WAL, configures it
/// and migrates its schema. A file that cannot be written is refused with
/// [`SqliteError::ReadOnlyFile`] (or [`SqliteError::SchemaTooOld`] when it also needs a
/// migration).
pub(crate) fn read_write(path: &Path, options: &Options) -> Result<Connection, SqliteError> {
    let mut conn = Target::ReadWrite
        .connect(path, true)
        .map_err(|e| open_error(path, e))?;
    conn.busy_timeout(options.busy_timeout)
        .map_err(|e| open_error(path, e))?;
    // SQLite falls back to reading a file it may not write.
    if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
        drop(conn);
        return Err(cannot_write(path, options));
    }
    match set_up(&mut conn, path, options) {
        Ok(()) => Ok(conn),
        Err(e) if e.is_read_only_failure() => {
            drop(conn);
            Err(cannot_write(path, options))
        }
        Err(e) => Err(e),
    }
}

/// The page size of new files.
pub(crate) const PAGE_SIZE: i64 = 8192;

fn set_up(conn: &mut Connection, path: &Path, options: &Options) -> Result<(), SqliteError> {
    // Reading the mode takes no lock beyond a read; setting it (a new file) writes.
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // A new file gets 8 KiB pages: an alert row (its JSON and filter columns, about 2 KiB)
        // would leave nearly half of each 4 KiB page empty. Only an empty file can change it.
        let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
        if pages == 0 {
            conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        }
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(SqliteError::JournalMode {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    crate::configure(conn, options)?;
    schema::migrate(conn)
}

/// Why a file that cannot be written cannot be opened for writing: it needs a migration
/// (naming both versions), or it is simply read-only.
fn cannot_write(path: &Path, options: &Options) -> SqliteError {
    match read_only(path, options) {
        Err(e @ SqliteError::SchemaTooOld { .. }) => e,
        _ => SqliteError::ReadOnlyFile {
            path: path.to_path_buf(),
        },
    }
}

/// Opens an existing file for reading only, at the current schema version. Where SQLite cannot
/// open or create the file's `-shm` index (a folder it may not write, without one), the file
/// is opened as immutable, unless a `-wal` file holds commits that would then be ignored.
pub(crate) fn read_only(
    path: &Path,
    options: &Options,
) -> Result<(Connection, Target), SqliteError> {
    if let Err(e) = std::fs::metadata(path)
        && e.kind() == std::io::ErrorKind::NotFound
    {
        return Err(SqliteError::Missing {
            path: path.to_path_buf(),
        });
    }
    let open = |target: &Target| -> Result<(Connection, i64), SqliteError> {
        let conn = target
            .connect(path, false)
            .map_err(|e| open_error(path, e))?;
        conn.busy_timeout(options.busy_timeout)
            .map_err(|e| open_error(path, e))?;
        let version = schema::version(&conn)?;
        Ok((conn, version))
    };
    let (conn, version, target) = match open(&Target::ReadOnly) {
        Ok((conn, version)) => (conn, version, Target::ReadOnly),
        // SQLite may neither create the index nor use it read-only: `SQLITE_CANTOPEN` or
        // `SQLITE_READONLY` (which one depends on who is asking and why the folder refuses).
        Err(e) if e.is_read_only_failure() => {
            if log_holds_commits(path) {
                return Err(SqliteError::UnreadableLog {
                    path: path.to_path_buf(),
                });
            }
            let Some(uri) = immutable_uri(path) else {
                return Err(e);
            };
            let target = Target::Immutable(uri);
            let (conn, version) = open(&target)?;
            (conn, version, target)
        }
        Err(e) => return Err(e),
    };
    let known = schema::SCHEMA_VERSION;
    if version > known {
        return Err(SqliteError::SchemaTooNew {
            found: version,
            known,
        });
    }
    if version < known {
        return Err(SqliteError::SchemaTooOld {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    crate::configure(&conn, options)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok((conn, target))
}

/// Whether a non-empty `-wal` file sits beside the database.
fn log_holds_commits(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).is_ok_and(|m| m.len() > 0)
}

/// `file:/absolute/path?mode=ro&immutable=1`, the path percent-encoded.
#[cfg(unix)]
fn immutable_uri(path: &Path) -> Option<String> {
    use std::fmt::Write;
    use std::os::unix::ffi::OsStrExt;
    let absolute = std::path::absolute(path).ok()?;
    let mut uri = String::from("file:");
    for &b in absolute.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            write!(uri, "%{b:02X}").ok()?;
        }
    }
    uri.push_str("?mode=ro&immutable=1");
    Some(uri)
}

/// Read-only folders do not stop SQLite from creating its index elsewhere than on Unix.
#[cfg(not(unix))]
fn immutable_uri(_path: &Path) -> Option<String> {
    None
}
