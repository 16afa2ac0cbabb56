//! The database from the command line: a SQLite file, or a PostgreSQL server when `--db` (or
//! `VIGIL_DB`) is a `postgres://` or `postgresql://` connection string. How each command opens
//! a file (reading commands read-only, so they also work on a file that cannot be written, and
//! never wait for a writer), how long a write waits for another command's write
//! (`--busy-timeout`, `VIGIL_BUSY_TIMEOUT`), `vigil check`, and store errors worded for the
//! command line.

use std::error::Error;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use vigil_core::store::{Backend, ErrorKind, ReadTx, StoreError, TenantId, Triage, WriteTx};
use vigil_postgres::{PostgresBackend, PostgresError};
use vigil_sqlite::{CheckReport, Options, SqliteBackend, SqliteError};

use crate::automate::AutomationsCommand;
use crate::output::{Ctx, Res};
use crate::{Command, RulesCommand};

/// How long a write waits for another command's write to finish, unless `--busy-timeout` or
/// `VIGIL_BUSY_TIMEOUT` says otherwise: long enough for several large imports and status
/// changes on one file to queue up and all complete (six concurrent imports of 12,000 alerts
/// with status changes and reads take about 17 seconds in all with a release build, about 100
/// with a debug build), short enough that a write stuck behind a hung process still ends.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(300);

/// The environment variable that sets the busy timeout when `--busy-timeout` is not given.
pub const BUSY_TIMEOUT_ENV: &str = "VIGIL_BUSY_TIMEOUT";

const DURATION_HELP: &str =
    "expected a duration such as 30 (seconds), 30s, 500ms, 2m or 1h; 0 means do not wait";

/// Parses `--busy-timeout`: a number of seconds (`30`, `1.5`) or a number with a unit (`ms`,
/// `s`, `m`, `h`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 0.001,
        "m" | "min" | "mins" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("{text:?}: unknown unit ({DURATION_HELP})")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration ({DURATION_HELP})"))?;
    Duration::try_from_secs_f64(value * scale)
        .map_err(|_| format!("{text:?} is out of range ({DURATION_HELP})"))
}

/// The busy timeout: the flag, else the environment variable, else the default.
fn busy_timeout(flag: Option<Duration>) -> Res<Duration> {
    if let Some(t) = flag {
        return Ok(t);
    }
    match std::env::var(BUSY_TIMEOUT_ENV) {
        Ok(v) if !v.trim().is_empty() => {
            parse_duration(&v).map_err(|e| format!("{BUSY_TIMEOUT_ENV}: {e}").into())
        }
        _ => Ok(DEFAULT_BUSY_TIMEOUT),
    }
}

/// Whether a command only reads the database (it then opens it read-only).
fn reads_only(command: &Command) -> bool {
    // `export --follow` saves its checkpoint; a plain export only reads.
    if let Command::Export { follow, .. } = command {
        return !follow.follow;
    }
    matches!(
        command,
        Command::List { .. }
            | Command::Show { .. }
            | Command::Check
            | Command::Rules(
                RulesCommand::List
                    | RulesCommand::Show { .. }
                    | RulesCommand::Simulate { .. }
                    | RulesCommand::Explain { .. }
            )
            | Command::Automations(
                AutomationsCommand::List
                    | AutomationsCommand::Show { .. }
                    | AutomationsCommand::Test { .. }
                    | AutomationsCommand::Failures { .. }
            )
    )
}

fn show_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 && s % 60.0 == 0.0 {
        format!("{}m", s / 60.0)
    } else {
        format!("{s}s")
    }
}

/// The store's backend as the command line uses it: a SQLite file or a PostgreSQL server. Its
/// errors name the command line's flags and commands rather than library options.
// One per process: the size of the larger variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum CliBackend {
    /// A SQLite database file.
    Sqlite {
        /// The backend.
        inner: SqliteBackend,
        /// How long a write waits for another command's write.
        busy_timeout: Duration,
    },
    /// A PostgreSQL server.
    Postgres(PostgresBackend),
}

/// The store as the command line uses it: the engine over [`CliBackend`].
pub type Db = Triage<CliBackend>;

/// Whether `--db`/`VIGIL_DB` names a PostgreSQL server rather than a file: a connection string
/// `postgres://…` or `postgresql://…`.
pub fn postgres_url(db: &Path) -> Option<&str> {
    let text = db.to_str()?;
    ["postgres://", "postgresql://"]
        .iter()
        .any(|scheme| {
            text.get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        })
        .then_some(text)
}

/// Opens the database for `command`: a PostgreSQL server when `db` is a connection string;
/// else a SQLite file, which reading commands open read-only if it exists (migrating it first
/// if its schema is older and it can be written) and the others open for writing, creating it
/// if needed.
pub fn open(db: &Path, flag: Option<Duration>, command: &Command) -> Res<Db> {
    match postgres_url(db) {
        Some(url) => open_postgres(url, command),
        None => open_sqlite(db, flag, command),
    }
}

fn open_postgres(url: &str, command: &Command) -> Res<Db> {
    if matches!(command, Command::Check) {
        return Err("vigil check reads a SQLite database file, and --db names a PostgreSQL server (check that with the server's own tools, such as amcheck)".into());
    }
    let inner = PostgresBackend::open(url).map_err(|e| {
        let kind = e.kind();
        Box::<dyn Error>::from(reword_postgres(kind, e.to_string(), Some(&e)))
    })?;
    Ok(Triage::new(CliBackend::Postgres(inner)))
}

fn open_sqlite(path: &Path, flag: Option<Duration>, command: &Command) -> Res<Db> {
    let busy_timeout = busy_timeout(flag)?;
    let options = Options {
        busy_timeout,
        ..Options::default()
    };
    let opened = if reads_only(command) && path.exists() {
        let read_only = Options {
            read_only: true,
            ..options.clone()
        };
        match SqliteBackend::open_with(path, read_only) {
            Err(SqliteError::SchemaTooOld { .. }) => SqliteBackend::open_with(path, options),
            other => other,
        }
    } else {
        SqliteBackend::open_with(path, options)
    };
    let inner = opened.map_err(|e| {
        let kind = e.kind();
        Box::<dyn Error>::from(reword(path, busy_timeout, kind, e.to_string(), Some(&e)))
    })?;
    Ok(Triage::new(CliBackend::Sqlite {
        inner,
        busy_timeout,
    }))
}

/// A PostgreSQL store error in the command line's words.
fn reword_postgres(kind: ErrorKind, message: String, source: Option<&PostgresError>) -> StoreError {
    let text = match source {
        Some(PostgresError::InvalidUrl { .. }) => {
            format!("--db / {DB_ENV}: {message}")
        }
        Some(PostgresError::Connect { .. }) => {
            format!("{message} (the server named by --db or {DB_ENV})")
        }
        _ => message,
    };
    StoreError::new(kind, text)
}

/// The environment variable naming the database when `--db` is not given.
pub const DB_ENV: &str = "VIGIL_DB";

/// A store error in the command line's words, when the library's would name its own API.
fn reword(
    path: &Path,
    busy: Duration,
    kind: ErrorKind,
    message: String,
    source: Option<&SqliteError>,
) -> StoreError {
    let file = path.display();
    let text = match source {
        Some(SqliteError::Busy { source }) => format!(
            "the database {file} is busy: another command kept it locked for longer than the busy timeout ({}): {source} (run the command again, or let it wait longer with --busy-timeout or {BUSY_TIMEOUT_ENV}, e.g. --busy-timeout 10m)",
            show_duration(busy)
        ),
        Some(SqliteError::ReadOnlyFile { .. }) => format!(
            "the database {file} is read-only (the file or its folder cannot be written), and this command changes it: copy the file to a writable folder to change it; reading commands (list, show, export, check, rules list/show/explain/simulate) work on it as it is"
        ),
        Some(SqliteError::DamagedValue { source }) => format!(
            "the database {file} is damaged: a stored value cannot be read: {source} (restore it from a backup; `vigil check` lists the damaged rows)"
        ),
        Some(SqliteError::DamagedFile { source })
            if source.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) =>
        {
            format!(
                "{file} is not a SQLite database, or its first page is damaged: {source} (check the path; if it is the database, restore it from a backup)"
            )
        }
        Some(SqliteError::DamagedFile { source }) => format!(
            "the database {file} is damaged: {source} (restore it from a backup; `vigil check` lists what is damaged)"
        ),
        _ if kind == ErrorKind::Corrupt => {
            format!("{message} (`vigil check` lists every damaged row)")
        }
        _ => message,
    };
    StoreError::new(kind, text)
}

impl CliBackend {
    /// The library's error, reworded for the command line.
    fn cli(&self, e: StoreError) -> StoreError {
        let (inner, busy_timeout) = match self {
            CliBackend::Sqlite {
                inner,
                busy_timeout,
            } => (inner, *busy_timeout),
            CliBackend::Postgres(_) => {
                let source = e.source().and_then(|s| s.downcast_ref::<PostgresError>());
                if !matches!(source, Some(PostgresError::Connect { .. })) {
                    return e;
                }
                return reword_postgres(e.kind(), e.message().to_owned(), source);
            }
        };
        let source = e.source().and_then(|s| s.downcast_ref::<SqliteError>());
        let rewords = matches!(
            source,
            Some(
                SqliteError::Busy { .. }
                    | SqliteError::ReadOnlyFile { .. }
                    | SqliteError::DamagedValue { .. }
                    | SqliteError::DamagedFile { .. }
            )
        ) || e.kind() == ErrorKind::Corrupt;
        if !rewords {
            return e;
        }
        reword(
            inner.path(),
            busy_timeout,
            e.kind(),
            e.message().to_owned(),
            source,
        )
    }

    /// The SQLite backend, if the database is a file.
    fn sqlite(&self) -> Option<&SqliteBackend> {
        match self {
            CliBackend::Sqlite { inner, .. } => Some(inner),
            CliBackend::Postgres(_) => None,
        }
    }

    /// [`SqliteBackend::check`], its errors in the command line's words (SQLite files only).
    pub fn check(&self) -> Result<(PathBuf, CheckReport), StoreError> {
        let Some(inner) = self.sqlite() else {
            return Err(StoreError::new(
                ErrorKind::InvalidInput,
                "vigil check reads a SQLite database file, not a PostgreSQL server",
            ));
        };
        let report = inner.check().map_err(|e| self.cli(e))?;
        Ok((inner.path().to_path_buf(), report))
    }
}

impl Backend for CliBackend {
    fn read<T>(
        &self,
        tenant: &TenantId,
        f: impl FnOnce(&dyn ReadTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            CliBackend::Sqlite { inner, .. } => inner.read(tenant, f),
            CliBackend::Postgres(inner) => inner.read(tenant, f),
        }
        .map_err(|e| self.cli(e))
    }

    fn write<T>(
        &self,
        tenant: &TenantId,
        f: impl FnMut(&mut dyn WriteTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            CliBackend::Sqlite { inner, .. } => inner.write(tenant, f),
            CliBackend::Postgres(inner) => inner.write(tenant, f),
        }
        .map_err(|e| self.cli(e))
    }
}

// ---------------------------------------------------------------- check

/// `vigil check`: the file's integrity and every stored row, every tenant. Prints the report;
/// fails (exit 1) if anything is damaged.
pub fn check(ctx: &mut Ctx) -> Res<()> {
    let (path, report) = ctx.store.backend().check()?;
    if ctx.json {
        let value = json!({
            "path": path.display().to_string(),
            "clean": report.is_clean(),
            "integrity": report.integrity,
            "rows": report.rows,
            "damaged": report.damaged.iter().map(|d| json!({
                "table": d.table, "tenant": d.tenant, "id": d.id, "problem": d.problem,
            })).collect::<Vec<_>>(),
        });
        serde_json::to_writer_pretty(&mut ctx.out, &value)?;
        writeln!(ctx.out)?;
    } else {
        print_report(ctx, &path, &report)?;
    }
    if report.is_clean() {
        return Ok(());
    }
    ctx.out.flush()?;
    Err(format!(
        "the database {} is damaged: {} damaged row(s), {} integrity problem(s) (restore it from a backup, or repair or delete the rows listed)",
        path.display(),
        report.damaged.len(),
        report.integrity.len()
    )
    .into())
}

fn print_report(ctx: &mut Ctx, path: &Path, report: &CheckReport) -> Res<()> {
    let out = &mut ctx.out;
    writeln!(out, "{}", path.display())?;
    for (table, n) in &report.rows {
        writeln!(out, "  {table:<16} {n:>9} row(s) read")?;
    }
    if report.integrity.is_empty() {
        writeln!(out, "integrity: ok")?;
    } else {
        writeln!(out, "integrity: {} problem(s)", report.integrity.len())?;
        for line in &report.integrity {
            writeln!(out, "  {line}")?;
        }
    }
    if report.damaged.is_empty() {
        writeln!(out, "damaged rows: none")?;
        return Ok(());
    }
    writeln!(out, "damaged rows: {}", report.damaged.len())?;
    let cell = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let tw = report
        .damaged
        .iter()
        .map(|d| cell(&d.tenant).chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    let iw = report
        .damaged
        .iter()
        .map(|d| cell(&d.id).chars().count())
        .max()
        .unwrap_or(0)
        .max(2);
    writeln!(
        out,
        "{:<14} {:<tw$} {:<iw$} PROBLEM",
        "TABLE", "TENANT", "ID"
    )?;
    for d in &report.damaged {
        writeln!(
            out,
            "{:<14} {:<tw$} {:<iw$} {}",
            d.table,
            cell(&d.tenant),
            cell(&d.id),
            d.problem
        )?;
    }
    Ok(())
}
