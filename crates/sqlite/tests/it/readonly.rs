//! Files that may only be read: [`Options::read_only`] reads them (also in a folder where
//! SQLite cannot create its `-shm` index), writes say the file is read-only, and a file that
//! needs a migration says so, naming both schema versions.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{TimeZone, Utc};
use rusqlite::Connection;
use vigil_core::store::{AlertQuery, ErrorKind, Store, StoreError, TenantId};
use vigil_core::suppression::{SuppressionReason, SuppressionRule};
use vigil_core::{Alert, AlertId, Severity};
use vigil_sqlite::{Options, SCHEMA_VERSION, SqliteError, SqliteStore};

fn tenant() -> TenantId {
    TenantId::new("ro").unwrap()
}

fn alerts(n: usize) -> Vec<Alert> {
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().unwrap();
    (0..n)
        .map(|i| {
            Alert::builder(
                AlertId::new(format!("r-{i}")).unwrap(),
                "VM_ReadOnly",
                format!("read-only alert {i}"),
                Severity::Medium,
                at - chrono::Duration::minutes(i as i64),
            )
            .build()
        })
        .collect()
}

fn read_only() -> Options {
    Options {
        read_only: true,
        ..Options::default()
    }
}

/// A closed file of 20 alerts in its own folder.
fn populated(dir: &Path) -> PathBuf {
    let path = dir.join("audit-copy.db");
    let store = SqliteStore::open(&path).unwrap();
    store.ingest(&tenant(), &alerts(20), Utc::now()).unwrap();
    drop(store);
    path
}

/// A folder and its files that cannot be written, even by root, until dropped: `chattr +i`
/// as root (root ignores permissions), read-only permissions otherwise.
pub struct Frozen {
    dir: PathBuf,
    files: Vec<PathBuf>,
    root: bool,
}

impl Frozen {
    /// `None` when this system cannot make a folder unwritable (the test then says so and
    /// checks nothing).
    pub fn new(dir: &Path) -> Option<Frozen> {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        let frozen = Frozen {
            dir: dir.to_path_buf(),
            files,
            root,
        };
        for p in frozen.files.iter().chain([&frozen.dir]) {
            let ok = if root {
                Command::new("chattr")
                    .arg("+i")
                    .arg(p)
                    .status()
                    .is_ok_and(|s| s.success())
            } else {
                use std::os::unix::fs::PermissionsExt;
                let mode = if p.is_dir() { 0o555 } else { 0o444 };
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).is_ok()
            };
            if !ok {
                eprintln!("cannot make {p:?} unwritable here: skipping");
                return None;
            }
        }
        if std::fs::write(dir.join("probe"), b"x").is_ok() {
            eprintln!("{dir:?} is still writable here: skipping");
            return None;
        }
        Some(frozen)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        for p in [&self.dir].into_iter().chain(&self.files) {
            if self.root {
                let _ = Command::new("chattr").arg("-i").arg(p).status();
            } else {
                use std::os::unix::fs::PermissionsExt;
                let mode = if p.is_dir() { 0o755 } else { 0o644 };
                let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
            }
        }
    }
}

#[track_caller]
fn assert_read_only_error<T: std::fmt::Debug>(r: Result<T, StoreError>, path: &Path) {
    match r {
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains("read-only"), "{text}");
            assert!(
                text.contains(path.to_str().unwrap()),
                "{text} should name {path:?}"
            );
        }
        Ok(v) => panic!("expected the write to be refused, got {v:?}"),
    }
}

#[test]
fn read_only_option_reads_everything_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated(dir.path());
    let store = SqliteStore::open_with(&path, read_only()).unwrap();
    let page = store
        .query(&tenant(), &AlertQuery::default().all_statuses())
        .unwrap();
    assert_eq!(page.alerts.len(), 20);
    let id = AlertId::new("r-3").unwrap();
    assert!(store.get(&tenant(), &id).unwrap().is_some());
    assert!(store.backend().check().unwrap().is_clean());
    let rule = SuppressionRule::builder("r", "VM_ReadOnly", SuppressionReason::Noise).build();
    store.simulate(&tenant(), &rule, Utc::now(), 3).unwrap();

    assert_read_only_error(store.ingest(&tenant(), &alerts(25), Utc::now()), &path);
    assert_read_only_error(store.create_rule(&tenant(), rule, Utc::now()), &path);
    drop(store);
    let counts = SqliteStore::open(&path)
        .unwrap()
        .counts(&tenant(), &AlertQuery::default().all_statuses())
        .unwrap();
    assert_eq!(counts.total(), 20, "nothing was written");
}

#[test]
fn a_file_in_a_folder_nobody_can_write_is_read_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated(dir.path());
    let Some(_frozen) = Frozen::new(dir.path()) else {
        return;
    };
    // Opened for writing, it says the file cannot be written.
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(err, SqliteError::ReadOnlyFile { .. }),
        "{err:?}: {err}"
    );
    assert_read_only_error(Err::<(), _>(StoreError::from(err)), &path);

    // Opened read-only, everything reads (without the -shm index SQLite cannot create).
    let store = SqliteStore::open_with(&path, read_only()).unwrap();
    let page = store
        .query(&tenant(), &AlertQuery::default().all_statuses())
        .unwrap();
    assert_eq!(page.alerts.len(), 20);
    assert!(store.backend().check().unwrap().is_clean());
    let err = store.ingest(&tenant(), &alerts(1), Utc::now()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_read_only_error(Err::<(), _>(err), &path);
}

/// A WAL file at schema version 0 holding a table of its own.
fn old_file(dir: &Path) -> PathBuf {
    let path = dir.join("old.db");
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.execute_batch("CREATE TABLE mine (x); INSERT INTO mine VALUES (1);")
        .unwrap();
    drop(conn);
    path
}

#[track_caller]
fn assert_names_both_versions(err: &SqliteError) {
    let text = err.to_string();
    assert!(
        matches!(err, SqliteError::SchemaTooOld { found: 0, .. }),
        "{err:?}: {text}"
    );
    assert!(text.contains("version 0"), "{text}");
    assert!(
        text.contains(&format!("version {SCHEMA_VERSION}")),
        "{text}"
    );
    assert_eq!(
        StoreError::from(SqliteError::SchemaTooOld {
            path: PathBuf::new(),
            found: 0,
            known: SCHEMA_VERSION
        })
        .kind(),
        ErrorKind::Unavailable
    );
}

#[test]
fn a_file_that_needs_a_migration_and_cannot_be_written_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = old_file(dir.path());
    assert_names_both_versions(&SqliteStore::open_with(&path, read_only()).unwrap_err());
    {
        let Some(_frozen) = Frozen::new(dir.path()) else {
            return;
        };
        assert_names_both_versions(&SqliteStore::open(&path).unwrap_err());
        assert_names_both_versions(&SqliteStore::open_with(&path, read_only()).unwrap_err());
    }
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 0, "nothing was migrated");
    // Once writable, opening migrates it.
    drop(SqliteStore::open(&path).unwrap());
}

#[test]
fn a_log_that_cannot_be_read_is_named_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated(dir.path());
    // Commits left in the -wal file (no checkpoint), copied without the -shm index.
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    conn.execute("DELETE FROM alerts WHERE id = 'r-0'", [])
        .unwrap();
    let copy = tempfile::tempdir().unwrap();
    let copied = copy.path().join("audit-copy.db");
    std::fs::copy(&path, &copied).unwrap();
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    std::fs::copy(&wal, copy.path().join("audit-copy.db-wal")).unwrap();
    drop(conn);
    let Some(_frozen) = Frozen::new(copy.path()) else {
        return;
    };
    let err = SqliteStore::open_with(&copied, read_only()).unwrap_err();
    assert!(
        matches!(err, SqliteError::UnreadableLog { .. }),
        "{err:?}: {err}"
    );
    assert!(err.to_string().contains("-wal"), "{err}");
}
