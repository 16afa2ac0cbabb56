//! Reads never wait for a writer: opening a current file for reading takes no write lock, so a
//! long write in another connection (another process, here another connection of this one:
//! SQLite's file locks are the same) leaves opening and reading free.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use rusqlite::Connection;
use vigil_core::store::{AlertQuery, ErrorKind, FeedbackQuery, StatusChange, Store, TenantId};
use vigil_core::{Alert, AlertId, Severity, Status};
use vigil_sqlite::{Options, SqliteStore};

fn tenant() -> TenantId {
    TenantId::new("busy").unwrap()
}

fn alerts(n: usize) -> Vec<Alert> {
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().unwrap();
    (0..n)
        .map(|i| {
            Alert::builder(
                AlertId::new(format!("b-{i}")).unwrap(),
                "VM_Busy",
                format!("busy alert {i}"),
                Severity::ALL[i % 4],
                at - chrono::Duration::minutes(i as i64),
            )
            .build()
        })
        .collect()
}

/// A connection in the middle of a write transaction, holding the file's write lock until
/// dropped.
fn hold_write_lock(path: &std::path::Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "BEGIN IMMEDIATE; INSERT INTO tenant_state (tenant) VALUES ('someone-else');",
    )
    .unwrap();
    conn
}

fn impatient(read_only: bool) -> Options {
    Options {
        busy_timeout: Duration::from_millis(50),
        read_only,
        ..Options::default()
    }
}

#[test]
fn opening_and_reading_take_no_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store.ingest(&tenant(), &alerts(20), Utc::now()).unwrap();
        let id = AlertId::new("b-0").unwrap();
        store
            .change_status(
                &tenant(),
                &id,
                1,
                StatusChange::new(Status::InProgress, "x"),
                Utc::now(),
            )
            .unwrap();
    }
    let writer = hold_write_lock(&path);
    for read_only in [false, true] {
        // With a timeout far shorter than the write, every read must still succeed.
        let store = SqliteStore::open_with(&path, impatient(read_only))
            .unwrap_or_else(|e| panic!("open (read_only: {read_only}) waited for the writer: {e}"));
        let page = store
            .query(&tenant(), &AlertQuery::default().all_statuses())
            .unwrap();
        assert_eq!(page.alerts.len(), 20);
        let id = AlertId::new("b-0").unwrap();
        assert!(store.get(&tenant(), &id).unwrap().is_some());
        assert_eq!(store.history(&tenant(), &id).unwrap().len(), 1);
        store.list_rules(&tenant()).unwrap();
        store
            .list_feedback(&tenant(), &FeedbackQuery::default())
            .unwrap();
        assert!(store.backend().check().unwrap().is_clean());

        // A write does wait, then fails as busy, naming the option to raise.
        let err = store.ingest(&tenant(), &alerts(1), Utc::now()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        if !read_only {
            assert!(err.to_string().contains("busy_timeout"), "{err}");
        }
    }
    drop(writer);
}
