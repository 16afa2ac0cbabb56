//! A damaged file reads as damaged (`Corrupt`, "restore it from a backup"), never as a
//! passing outage; `SqliteBackend::check` finds every damaged row by table, tenant and id.

use std::path::Path;

use chrono::{TimeZone, Utc};
use rusqlite::Connection;
use vigil_core::store::{
    AlertQuery, ErrorKind, Feedback, FeedbackQuery, FeedbackReason, StatusChange, Store,
    StoreError, TenantId,
};
use vigil_core::suppression::{Condition, SuppressionReason, SuppressionRule};
use vigil_core::{Alert, AlertId, Entity, Severity, Status};
use vigil_sqlite::SqliteStore;

fn t(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

fn alerts(n: usize, label: &str) -> Vec<Alert> {
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().unwrap();
    (0..n)
        .map(|i| {
            Alert::builder(
                AlertId::new(format!("a-{i}")).unwrap(),
                "VM_Test",
                format!("{label} alert {i}"),
                Severity::High,
                at - chrono::Duration::minutes(i as i64),
            )
            .entity(Entity::ip("192.0.2.1"))
            .build()
        })
        .collect()
}

/// A file with alerts of tenants `one` and `two`, a rule, an audit entry and feedback; the
/// store is closed (the log checkpointed into the file) when this returns.
fn populated(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("damaged.db");
    let store = SqliteStore::open(&path).unwrap();
    store
        .ingest(&t("one"), &alerts(5, "ZQXMARKER"), Utc::now())
        .unwrap();
    store
        .ingest(&t("two"), &alerts(3, "plain"), Utc::now())
        .unwrap();
    let rule = SuppressionRule::builder("quiet-ip", "VM_Other", SuppressionReason::Noise)
        .condition(Condition::equals("entities.ip.address", "203.0.113.9"))
        .build();
    store.create_rule(&t("one"), rule, Utc::now()).unwrap();
    store
        .change_status(
            &t("one"),
            &AlertId::new("a-1").unwrap(),
            1,
            StatusChange::new(Status::InProgress, "x"),
            Utc::now(),
        )
        .unwrap();
    store
        .add_feedback(
            &t("two"),
            &AlertId::new("a-0").unwrap(),
            Feedback {
                useful: false,
                reason: FeedbackReason::TooNoisy,
                comment: None,
                actor: "x".into(),
                at: Utc::now(),
            },
        )
        .unwrap();
    drop(store);
    assert!(
        !dir.join("damaged.db-wal").exists(),
        "the log was not checkpointed"
    );
    path
}

#[track_caller]
fn assert_damaged<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    match r {
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
            let text = e.to_string();
            assert!(text.contains("damaged"), "{text}");
            assert!(text.contains("backup"), "{text}");
        }
        Ok(v) => panic!("expected a Corrupt error, got {v:?}"),
    }
}

#[test]
fn flipped_bytes_inside_a_table_read_as_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated(dir.path());
    // Flip one byte of the display name inside the stored JSON into invalid UTF-8.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(9)
        .position(|w| w == b"ZQXMARKER")
        .expect("the marker is in the file");
    bytes[at + 3] = 0xFF;
    std::fs::write(&path, bytes).unwrap();

    let store = SqliteStore::open(&path).unwrap();
    assert_damaged(store.query(&t("one"), &AlertQuery::default().all_statuses()));
    let report = store.backend().check().unwrap();
    assert!(!report.is_clean());
    assert!(report.integrity.is_empty(), "{:?}", report.integrity);
    assert_eq!(report.damaged.len(), 1, "{:?}", report.damaged);
    let d = &report.damaged[0];
    assert_eq!(d.table, "alerts");
    assert_eq!(d.tenant.as_deref(), Some("one"));
    assert!(
        d.id.as_deref().is_some_and(|id| id.starts_with("a-")),
        "{d:?}"
    );
    // The other tenant is untouched.
    store
        .query(&t("two"), &AlertQuery::default().all_statuses())
        .unwrap();
}

#[test]
fn wrong_column_types_and_missing_tables_read_as_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated(dir.path());
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE alerts SET status = x'00ff' WHERE tenant = 'two' AND id = 'a-1'",
        [],
    )
    .unwrap();
    conn.execute(
        "UPDATE alerts SET version = 'seven' WHERE tenant = 'two' AND id = 'a-2'",
        [],
    )
    .unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert_damaged(store.get(&t("two"), &AlertId::new("a-1").unwrap()));
    assert_damaged(store.get(&t("two"), &AlertId::new("a-2").unwrap()));
    conn.execute_batch("DROP TABLE feedback").unwrap();
    assert_damaged(store.list_feedback(&t("two"), &FeedbackQuery::default()));
}

#[test]
fn a_malformed_schema_reads_as_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated(dir.path());
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA writable_schema = ON;
         UPDATE sqlite_schema SET sql = 'CREATE TABLE rules (' WHERE name = 'rules';",
    )
    .unwrap();
    drop(conn);
    let err = SqliteStore::open(&path)
        .map_err(StoreError::from)
        .and_then(|s| s.list_rules(&t("one")));
    assert_damaged(err);
}

#[test]
fn check_names_every_damaged_row_by_table_tenant_and_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated(dir.path());
    let store = SqliteStore::open(&path).unwrap();
    let clean = store.backend().check().unwrap();
    assert!(clean.is_clean(), "{clean:?}");
    assert_eq!(clean.rows.get("alerts"), Some(&8));
    assert_eq!(clean.rows.get("rules"), Some(&1));
    assert_eq!(clean.rows.get("audit"), Some(&1));
    assert_eq!(clean.rows.get("feedback"), Some(&1));

    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "UPDATE alerts SET json = CAST(x'7bff7d' AS TEXT) WHERE tenant = 'one' AND id = 'a-2';
         UPDATE alerts SET status = 'Bogus' WHERE tenant = 'two' AND id = 'a-1';
         UPDATE rules SET json = '[1, 2' WHERE name = 'quiet-ip';
         UPDATE audit SET to_status = 'Sideways';
         UPDATE feedback SET reason = 'Whatever';",
    )
    .unwrap();
    let report = store.backend().check().unwrap();
    assert!(!report.is_clean());
    let mut found: Vec<(String, Option<String>, Option<String>)> = report
        .damaged
        .iter()
        .map(|d| (d.table.clone(), d.tenant.clone(), d.id.clone()))
        .collect();
    found.sort();
    let s = |x: &str| Some(x.to_owned());
    assert_eq!(
        found,
        vec![
            ("alerts".to_owned(), s("one"), s("a-2")),
            ("alerts".to_owned(), s("two"), s("a-1")),
            ("audit".to_owned(), s("one"), s("a-1")),
            ("feedback".to_owned(), s("two"), s("a-0")),
            ("rules".to_owned(), s("one"), s("quiet-ip")),
        ],
        "{:#?}",
        report.damaged
    );
    assert!(report.damaged.iter().all(|d| !d.problem.is_empty()));
}

#[test]
fn check_reports_what_the_integrity_check_finds() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated(dir.path());
    // Declare an index's keys in another order than its b-tree holds them: the file is sound
    // page by page, but the index no longer matches its table.
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA writable_schema = ON;
         UPDATE sqlite_schema SET sql = replace(sql, 'time_us DESC, tseq DESC', 'tseq DESC, time_us DESC')
          WHERE name = 'alerts_by_severity';",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    let report = store.backend().check().unwrap();
    assert!(!report.is_clean());
    assert!(!report.integrity.is_empty(), "{report:?}");
}

#[test]
fn check_reports_a_damaged_page_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated(dir.path());
    let (page, page_size): (i64, i64) = {
        let conn = Connection::open(&path).unwrap();
        let page = conn
            .query_row(
                "SELECT rootpage FROM sqlite_schema WHERE name = 'alert_keys'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let size = conn
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .unwrap();
        (page, size)
    };
    // Scramble the header of the table's root page.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = ((page - 1) * page_size) as usize;
    for b in &mut bytes[at..at + 16] {
        *b ^= 0xA5;
    }
    std::fs::write(&path, bytes).unwrap();

    let store = SqliteStore::open(&path).unwrap();
    let report = store.backend().check().unwrap();
    assert!(!report.is_clean());
    assert!(
        report.integrity.iter().any(|l| l.contains("alert_keys")),
        "{report:#?}"
    );
    // What the integrity check found before it stopped is kept, one problem a line.
    let page_line = format!("page {page}");
    assert!(
        report.integrity.iter().any(|l| l.contains(&page_line)),
        "{report:#?}"
    );
    assert!(report.integrity.iter().all(|l| !l.contains('\n')));
}
