//! The database file through the `vigil` binary: commands that wait for each other's writes
//! (`--busy-timeout`, `VIGIL_BUSY_TIMEOUT`), reads that never wait, damaged files and
//! `vigil check`, and files that may only be read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;
use rusqlite::Connection;
use serde_json::Value;
use tempfile::TempDir;
use vigil_sqlite::SCHEMA_VERSION;
use vigil_testkit::generate::AlertGenerator;

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/alerts/sample-alerts.json"
);
const DEMO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/demo/alerts.jsonl"
);
const RULE_EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/defender/PutAlertsSuppressionRule_example.json"
);
const PS_ID: &str = "2517000000000000000_6513270e-269e-0d37-f2a7-4de452e6b438";

fn vigil(db: &Path) -> Command {
    let mut c = Command::cargo_bin("vigil").unwrap();
    c.env_remove("VIGIL_DB")
        .env_remove("VIGIL_BUSY_TIMEOUT")
        .env("NO_COLOR", "1")
        .env("USER", "tester")
        .arg("--db")
        .arg(db);
    c
}

/// A database with the Defender samples, in its own folder.
fn with_samples() -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("vigil.db");
    vigil(&db).args(["import", SAMPLES]).assert().success();
    (dir, db)
}

/// A connection in the middle of a write, holding the file's write lock until dropped or
/// committed.
fn hold_write_lock(db: &Path) -> Connection {
    let conn = Connection::open(db).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE; INSERT INTO tenant_state (tenant) VALUES ('other');")
        .unwrap();
    conn
}

// ---------------------------------------------------------------- busy

#[test]
fn reading_commands_do_not_wait_for_a_writer() {
    let (_dir, db) = with_samples();
    let _writer = hold_write_lock(&db);
    // A timeout far shorter than the write: reads must not need the lock at all.
    for args in [
        vec!["list"],
        vec!["show", PS_ID],
        vec!["export"],
        vec!["rules", "list"],
        vec!["check"],
    ] {
        vigil(&db)
            .args(["--busy-timeout", "100ms"])
            .args(&args)
            .assert()
            .success();
    }
}

#[test]
fn a_write_that_times_out_names_the_flag_and_the_variable() {
    let (_dir, db) = with_samples();
    let _writer = hold_write_lock(&db);
    let assert = vigil(&db)
        .args(["--busy-timeout", "0.2", "status", PS_ID, "in-progress"])
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(err.contains("busy"), "{err}");
    assert!(err.contains("--busy-timeout"), "{err}");
    assert!(err.contains("VIGIL_BUSY_TIMEOUT"), "{err}");
    assert!(!err.contains("Options::"), "{err}");
    // The variable sets it too (import reports each file's error on stdout).
    vigil(&db)
        .env("VIGIL_BUSY_TIMEOUT", "150ms")
        .args(["import", SAMPLES])
        .assert()
        .failure()
        .stdout(predicate::str::contains("--busy-timeout"));
}

#[test]
fn busy_timeouts_that_are_not_durations_are_refused() {
    let (_dir, db) = with_samples();
    vigil(&db)
        .args(["--busy-timeout", "soon", "list"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("duration"));
    vigil(&db)
        .env("VIGIL_BUSY_TIMEOUT", "-3")
        .args(["status", PS_ID, "in-progress"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("VIGIL_BUSY_TIMEOUT"));
}

#[test]
fn a_write_waits_for_another_write_to_finish() {
    let (_dir, db) = with_samples();
    let writer = hold_write_lock(&db);
    let child = Process::new(assert_cmd::cargo::cargo_bin("vigil"))
        .args(["--db", db.to_str().unwrap(), "--busy-timeout", "2m"])
        .args(["status", PS_ID, "in-progress"])
        .env_remove("VIGIL_BUSY_TIMEOUT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    writer.execute_batch("COMMIT").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn workload_size() -> (usize, usize) {
    let var = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    (
        var("VIGIL_WORKLOAD_IMPORTS", 4),
        var("VIGIL_WORKLOAD_ALERTS", 2000),
    )
}

fn spawn(db: &Path, args: &[&str]) -> Child {
    Process::new(assert_cmd::cargo::cargo_bin("vigil"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("VIGIL_BUSY_TIMEOUT")
        .env("USER", "tester")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Concurrent large imports, status changes and reads on one file, all with the default busy
/// timeout: every command succeeds. `VIGIL_WORKLOAD_IMPORTS` and `VIGIL_WORKLOAD_ALERTS` size
/// it (4 imports of 2,000 alerts by default).
#[test]
fn concurrent_imports_status_changes_and_reads_all_succeed() {
    let (imports, per_file) = workload_size();
    let (dir, db) = with_samples();
    let files: Vec<PathBuf> = (0..imports)
        .map(|i| {
            let mut generator = AlertGenerator::new(1000 + i as u64);
            let text: String = generator
                .alerts(per_file)
                .iter()
                .map(|a| serde_json::to_string(a).unwrap() + "\n")
                .collect();
            let path = dir.path().join(format!("batch-{i}.jsonl"));
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    let started = Instant::now();
    let mut children: Vec<(String, Child)> = files
        .iter()
        .map(|f| {
            let name = format!("import {}", f.display());
            (name, spawn(&db, &["import", f.to_str().unwrap()]))
        })
        .collect();
    // Meanwhile, status changes (writes) and reads, one after the other, until the imports end.
    let statuses = ["in-progress", "resolved", "active"];
    let mut others = 0;
    for round in 0..1000 {
        let to = statuses[round % 3];
        for args in [
            vec!["status", PS_ID, to],
            vec!["show", PS_ID],
            vec!["list", "--limit", "5"],
        ] {
            let out = spawn(&db, &args).wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "vigil {args:?} failed during the imports: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            others += 1;
        }
        if children
            .iter_mut()
            .all(|(_, c)| c.try_wait().unwrap().is_some())
        {
            break;
        }
    }
    for (name, child) in children.drain(..) {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!(
        "{imports} imports of {per_file} alerts and {others} other commands: {:?}",
        started.elapsed()
    );
    let out = vigil(&db)
        .args([
            "--json",
            "list",
            "--status",
            "active",
            "--status",
            "in-progress",
        ])
        .args([
            "--status",
            "resolved",
            "--status",
            "dismissed",
            "--limit",
            "1",
        ])
        .assert()
        .success();
    let _: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let conn = Connection::open(&db).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM alerts", [], |r| r.get(0))
        .unwrap();
    assert!(n as usize >= imports * per_file, "only {n} alerts stored");
}

// ---------------------------------------------------------------- damage

/// A database holding, besides the samples, one demo alert whose display name carries a
/// marker, in tenant `audit`; closed.
fn with_marked_alert() -> (TempDir, PathBuf) {
    let (dir, db) = with_samples();
    let line = std::fs::read_to_string(DEMO)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let mut doc: Value = serde_json::from_str(&line).unwrap();
    doc["properties"]["systemAlertId"] = "zqx-marked-1".into();
    doc["properties"]["alertDisplayName"] = "ZQXMARKER shadow copies deleted".into();
    let file = dir.path().join("marked.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    vigil(&db)
        .args(["--tenant", "audit", "import", file.to_str().unwrap()])
        .assert()
        .success();
    (dir, db)
}

#[test]
fn a_clean_file_checks_clean() {
    let (_dir, db) = with_marked_alert();
    vigil(&db)
        .arg("check")
        .assert()
        .success()
        .stdout(predicate::str::contains("integrity: ok"))
        .stdout(predicate::str::contains("damaged rows: none"));
    let out = vigil(&db).args(["--json", "check"]).assert().success();
    let report: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(report["clean"], true);
    assert!(report["rows"]["alerts"].as_u64().unwrap() > 1, "{report:#}");
}

#[test]
fn flipped_bytes_read_as_damage_and_check_names_the_row() {
    let (_dir, db) = with_marked_alert();
    let mut bytes = std::fs::read(&db).unwrap();
    let at = bytes
        .windows(9)
        .position(|w| w == b"ZQXMARKER")
        .expect("the marker is in the file");
    bytes[at + 4] = 0xFE;
    std::fs::write(&db, bytes).unwrap();

    let assert = vigil(&db)
        .args(["--tenant", "audit", "list"])
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(err.contains("damaged"), "{err}");
    assert!(err.contains("backup"), "{err}");
    assert!(err.contains("vigil check"), "{err}");
    assert!(!err.contains("unavailable"), "{err}");
    // The other tenant still reads.
    vigil(&db).arg("list").assert().success();

    let assert = vigil(&db).arg("check").assert().code(1);
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    let row = out
        .lines()
        .find(|l| l.starts_with("alerts "))
        .unwrap_or_else(|| panic!("no damaged alert row in:\n{out}"));
    assert!(row.contains("audit"), "{row}");
    assert!(row.contains("zqx-marked-1"), "{row}");
    assert!(
        String::from_utf8_lossy(&assert.get_output().stderr).contains("damaged"),
        "the exit is explained"
    );

    let assert = vigil(&db).args(["--json", "check"]).assert().code(1);
    let report: Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(report["clean"], false);
    let damaged = report["damaged"].as_array().unwrap();
    assert_eq!(damaged.len(), 1, "{report:#}");
    assert_eq!(damaged[0]["table"], "alerts");
    assert_eq!(damaged[0]["tenant"], "audit");
    assert_eq!(damaged[0]["id"], "zqx-marked-1");
}

// ---------------------------------------------------------------- read-only files

/// A folder and its files that cannot be written, even by root, until dropped: `chattr +i` as
/// root (root ignores permissions), read-only permissions otherwise.
struct Frozen {
    dir: PathBuf,
    files: Vec<PathBuf>,
    root: bool,
}

impl Frozen {
    /// `None` when this system cannot make a folder unwritable (the test then says so and
    /// checks nothing).
    fn new(dir: &Path) -> Option<Frozen> {
        let root = Process::new("id")
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
                Process::new("chattr")
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
                let _ = Process::new("chattr").arg("-i").arg(p).status();
            } else {
                use std::os::unix::fs::PermissionsExt;
                let mode = if p.is_dir() { 0o755 } else { 0o644 };
                let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
            }
        }
    }
}

#[test]
fn a_read_only_copy_reads_and_refuses_writes_naming_the_file() {
    let (dir, db) = with_samples();
    let example: Value =
        serde_json::from_str(&std::fs::read_to_string(RULE_EXAMPLE).unwrap()).unwrap();
    let rule = dir.path().join("rule.json");
    std::fs::write(&rule, example["responses"]["200"]["body"].to_string()).unwrap();
    let Some(_frozen) = Frozen::new(dir.path()) else {
        return;
    };
    vigil(&db)
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("alerts"));
    vigil(&db).args(["show", PS_ID]).assert().success();
    vigil(&db).arg("export").assert().success();
    vigil(&db).arg("check").assert().success();
    vigil(&db).args(["rules", "list"]).assert().success();
    vigil(&db)
        .args(["rules", "simulate", rule.to_str().unwrap()])
        .assert()
        .success();

    for args in [
        vec!["status", PS_ID, "in-progress"],
        vec!["import", SAMPLES],
    ] {
        let assert = vigil(&db).args(&args).assert().failure();
        let err = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(err.contains("read-only"), "{args:?}: {err}");
        assert!(err.contains(db.to_str().unwrap()), "{args:?}: {err}");
    }
}

/// A WAL file at schema version 0 with a table of its own, in its own folder.
fn old_file() -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("old.db");
    let conn = Connection::open(&db).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.execute_batch("CREATE TABLE mine (x); INSERT INTO mine VALUES (1);")
        .unwrap();
    drop(conn);
    (dir, db)
}

fn user_version(db: &Path) -> i64 {
    Connection::open(db)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

#[test]
fn an_old_file_that_cannot_be_written_names_both_versions() {
    let (dir, db) = old_file();
    {
        let Some(_frozen) = Frozen::new(dir.path()) else {
            return;
        };
        let assert = vigil(&db).arg("list").assert().failure();
        let err = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(err.contains("version 0"), "{err}");
        assert!(err.contains(&format!("version {SCHEMA_VERSION}")), "{err}");
        assert!(err.contains(db.to_str().unwrap()), "{err}");
    }
    assert_eq!(user_version(&db), 0);
    // Writable, a reading command migrates it.
    vigil(&db).arg("list").assert().success();
    assert_eq!(user_version(&db), SCHEMA_VERSION);
}

#[test]
fn a_file_that_is_not_a_database_says_so() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("notes.db");
    std::fs::write(&db, vec![0x5Au8; 8192]).unwrap();
    for args in [vec!["list"], vec!["check"], vec!["import", SAMPLES]] {
        let assert = vigil(&db).args(&args).assert().failure();
        let err = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(err.contains("not a SQLite database"), "{args:?}: {err}");
        assert!(err.contains("notes.db"), "{args:?}: {err}");
        assert!(!err.contains("unavailable"), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read(&db).unwrap(), vec![0x5Au8; 8192], "untouched");
}

/// `vigil` run as the unprivileged user `nobody` through `setpriv`, so that file permissions
/// apply; `None` unless this test runs as root and can do that.
fn as_nobody(db: &Path, args: &[&str]) -> Option<std::process::Output> {
    let out = Process::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin("vigil"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("VIGIL_DB")
        .env_remove("VIGIL_BUSY_TIMEOUT")
        .env("NO_COLOR", "1")
        .output()
        .ok()?;
    Some(out)
}

#[test]
fn a_user_who_may_only_read_the_file_and_its_folder_reads_it() {
    use std::os::unix::fs::PermissionsExt;
    let root = Process::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        eprintln!(
            "not root: the permission case is a_read_only_copy_reads_and_refuses_writes_naming_the_file"
        );
        return;
    }
    let (dir, db) = with_samples();
    let mode = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    mode(&db, 0o444).unwrap();
    mode(dir.path(), 0o555).unwrap();
    let probe = as_nobody(&db, &["--version"]);
    if !probe.is_some_and(|o| o.status.success()) {
        eprintln!("cannot run vigil as nobody here: skipping");
    } else {
        for args in [
            vec!["list"],
            vec!["show", PS_ID],
            vec!["export"],
            vec!["check"],
            vec!["rules", "list"],
        ] {
            let out = as_nobody(&db, &args).unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let out = as_nobody(&db, &["status", PS_ID, "resolved"]).unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("read-only"), "{err}");
        assert!(err.contains(db.to_str().unwrap()), "{err}");
    }
    mode(dir.path(), 0o755).unwrap();
    mode(&db, 0o644).unwrap();
}
