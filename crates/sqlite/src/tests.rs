//! Unit tests of the schema migrations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rusqlite::Connection;
use vigil_core::store::ErrorKind;

use crate::schema::{MIGRATIONS, SCHEMA_VERSION, migrate_with};
use crate::{SqliteError, SqliteStore};

fn user_version(conn: &Connection) -> i64 {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

#[test]
fn empty_file_migrates_to_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let store = SqliteStore::open(&path).unwrap();
    drop(store);
    let conn = Connection::open(&path).unwrap();
    assert_eq!(user_version(&conn), SCHEMA_VERSION);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // Opening again is a no-op.
    drop(SqliteStore::open(&path).unwrap());
}

#[test]
fn a_version_0_file_with_foreign_tables_migrates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v0.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('kept');")
            .unwrap();
        assert_eq!(user_version(&conn), 0);
    }
    drop(SqliteStore::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    assert_eq!(user_version(&conn), SCHEMA_VERSION);
    let kept: String = conn
        .query_row("SELECT x FROM notes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, "kept");
}

#[test]
fn every_earlier_version_migrates_step_by_step() {
    // Bring a file to each earlier version with the first migrations only, then open it.
    for from in 0..MIGRATIONS.len() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            migrate_with(&mut conn, &MIGRATIONS[..from]).unwrap();
            assert_eq!(user_version(&conn), from as i64);
        }
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        assert_eq!(user_version(&conn), SCHEMA_VERSION, "from version {from}");
    }
}

#[test]
fn a_failing_migration_leaves_the_file_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fail.db");
    let mut conn = Connection::open(&path).unwrap();
    let broken = [MIGRATIONS[0], "CREATE TABLE oops (; -- syntax error"];
    let err = migrate_with(&mut conn, &broken).unwrap_err();
    assert!(
        matches!(err, SqliteError::Migration { from: 0, to: 2, .. }),
        "{err:?}"
    );
    assert_eq!(user_version(&conn), 0);
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'alerts'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        tables, 0,
        "the first step was rolled back with the failing one"
    );
}

#[test]
fn a_newer_schema_is_refused_naming_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(err, SqliteError::SchemaTooNew { found: 99, known } if known == SCHEMA_VERSION),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("99") && text.contains(&SCHEMA_VERSION.to_string()),
        "{text}"
    );
    let store_err = vigil_core::store::StoreError::from(err);
    assert_eq!(store_err.kind(), ErrorKind::Unavailable);
    // Nothing was changed.
    let conn = Connection::open(&path).unwrap();
    assert_eq!(user_version(&conn), 99);
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("text.db");
    std::fs::write(
        &path,
        "this is not a database, just some text that is long enough",
    )
    .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    let store_err = vigil_core::store::StoreError::from(err);
    assert_eq!(store_err.kind(), ErrorKind::Corrupt, "{store_err}");
}

#[test]
fn the_durable_settings_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("s.db")).unwrap();
    let conn = store.writer.lock().unwrap();
    let sync: i64 = conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 2, "synchronous=FULL");
    let fk: i64 = conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    let timeout: i64 = conn
        .pragma_query_value(None, "busy_timeout", |r| r.get(0))
        .unwrap();
    assert_eq!(timeout, 5000);
}

#[test]
fn instants_round_trip_over_chrono_s_whole_range() {
    use chrono::{DateTime, Duration, Utc};
    let samples = [
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
        DateTime::<Utc>::UNIX_EPOCH,
        DateTime::<Utc>::UNIX_EPOCH - Duration::nanoseconds(1),
        DateTime::from_timestamp(253_402_300_799, 999_999_900).unwrap(),
        DateTime::from_timestamp(1_793_491_200, 123_456_789).unwrap(),
        DateTime::from_timestamp(-62_135_596_800 - 1, 5).unwrap(),
    ];
    for at in samples {
        let text = crate::codec::ts(at);
        assert_eq!(crate::codec::parse_ts(&text), Some(at), "{text}");
    }
}

/// The query plan of each order's stream, with and without a cursor and with the filters of the
/// triage screen: a search of the order's index, never a sort.
#[test]
fn triage_streams_are_index_searches_without_sorting() {
    use vigil_core::Severity;
    use vigil_core::store::{AlertQuery, Cursor, Order, ResourceFilter, SortKey};

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("plan.db")).unwrap();
    let conn = store.writer.lock().unwrap();
    let key = SortKey {
        primary: 3,
        secondary: 1_000,
        seq: 7,
    };
    for order in [Order::SeverityThenTime, Order::Time, Order::Priority] {
        let queries = [
            AlertQuery::default().order(order),
            AlertQuery::default()
                .order(order)
                .cursor(Some(Cursor::after(order, key))),
            AlertQuery::default()
                .order(order)
                .severities([Severity::High])
                .resource(ResourceFilter::Prefix(
                    "/subscriptions/s1/resourceGroups/rg".into(),
                )),
            AlertQuery::default()
                .order(order)
                .min_severity(Severity::Medium)
                .since(chrono::Utc::now())
                .text("x")
                .cursor(Some(Cursor::after(order, key))),
        ];
        for q in queries {
            let (sql, n) = crate::query::first_stream_sql(&q);
            let params: Vec<rusqlite::types::Value> =
                (0..n).map(|_| rusqlite::types::Value::Integer(0)).collect();
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let details: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(params), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let plan = details.join(" | ");
            assert!(
                plan.contains("SEARCH alerts USING INDEX alerts_by_"),
                "{order:?}: {plan}"
            );
            assert!(
                !plan.contains("TEMP B-TREE"),
                "{order:?} sorts: {plan}\n{sql}"
            );
            if q.cursor.is_some() {
                // The cursor narrows the index search (SQLite shows the row-value range on the
                // descending columns as `… AND time_us>?`).
                assert!(
                    plan.contains("status=? AND "),
                    "{order:?}: the cursor is a range of the index: {plan}"
                );
            }
        }
    }
}
