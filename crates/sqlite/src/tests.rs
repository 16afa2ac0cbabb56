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
    let conn = store.backend().writer.lock().unwrap();
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
    use vigil_core::store::{AlertQuery, Order, ResourceFilter, SortKey};

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("plan.db")).unwrap();
    let conn = store.backend().writer.lock().unwrap();
    let key = SortKey {
        primary: 3,
        secondary: 1_000,
        seq: 7,
    };
    let t = vigil_core::store::TenantId::new("plan").unwrap();
    for order in [Order::SeverityThenTime, Order::Time, Order::Priority] {
        let queries = [
            (AlertQuery::default().order(order), None),
            (AlertQuery::default().order(order), Some(key)),
            (
                AlertQuery::default()
                    .order(order)
                    .severities([Severity::High])
                    .resource(ResourceFilter::Prefix(
                        "/subscriptions/s1/resourceGroups/rg".into(),
                    )),
                None,
            ),
            (
                AlertQuery::default()
                    .order(order)
                    .min_severity(Severity::Medium)
                    .since(chrono::Utc::now())
                    .text("x"),
                Some(key),
            ),
        ];
        for (q, after) in queries {
            let (sql, n, _) = crate::query::first_stream_sql(&conn, &t, &q, after).unwrap();
            let plan = plan_of(&conn, &sql, n);
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

/// `EXPLAIN QUERY PLAN` of a statement, its details joined by ` | `, with every parameter 0.
fn plan_of(conn: &Connection, sql: &str, params: usize) -> String {
    let values: Vec<rusqlite::types::Value> = (0..params)
        .map(|_| rusqlite::types::Value::Integer(0))
        .collect();
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let details: Vec<String> = stmt
        .query_map(rusqlite::params_from_iter(values), |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    details.join(" | ")
}

/// The queries the queue relies on besides the order streams, each through its index: the
/// filters served by key rows (the rows of a key, the count that chooses that path, the
/// resource prefixes under a prefix), related alerts, the header's counts, lookups by id. A
/// change of schema or SQL that makes one of them read the whole table fails here.
#[test]
fn keyed_queries_search_their_indexes() {
    use vigil_core::store::{AlertQuery, Order, ResourceFilter};

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("plan.db")).unwrap();
    let conn = store.backend().writer.lock().unwrap();
    let t = vigil_core::store::TenantId::new("plan").unwrap();
    let keys_search = "SEARCH k USING PRIMARY KEY (gen=? AND key=?)";
    for order in [Order::SeverityThenTime, Order::Time, Order::Priority] {
        // On an empty file every key names no row, so the plan reads key rows.
        for q in [
            AlertQuery::default().order(order).entity("10.0.0.1"),
            AlertQuery::default()
                .order(order)
                .resource(ResourceFilter::Exact("/subscriptions/s/x/y".into())),
        ] {
            let (_, _, keyed) = crate::query::first_stream_sql(&conn, &t, &q, None).unwrap();
            let (sql, n) = keyed.expect("a keyed plan");
            let plan = plan_of(&conn, &sql, n);
            assert!(plan.contains(keys_search), "{order:?}: {plan}\n{sql}");
            assert!(
                plan.contains("SEARCH a USING INTEGER PRIMARY KEY (rowid=?)"),
                "{order:?}: {plan}"
            );
            assert!(!plan.contains("SCAN a"), "{order:?}: {plan}");
        }
    }
    for n in [1, 3] {
        for kcond in ["", " AND st IN (0, 1) AND sev IN (3)"] {
            let plan = plan_of(&conn, &crate::query::keyed_rows_sql(n, kcond, 20_000), n);
            assert!(
                plan.contains("SEARCH alert_keys USING PRIMARY KEY (gen=? AND key=?)"),
                "{plan}"
            );
            // Counts under keys read key rows only: no alert row, no other table.
            let sql = crate::query::keyed_counts_sql(n, kcond);
            let plan = plan_of(&conn, &sql, n);
            assert!(
                plan.contains("SEARCH alert_keys USING PRIMARY KEY (gen=? AND key=?)"),
                "{plan}"
            );
            // (`SEARCH alerts` once: the last row id, which bounds the generations.)
            assert_eq!(plan.matches("alerts").count(), 1, "{plan}\n{sql}");
            assert!(!plan.contains("SCAN alert_keys"), "{plan}");
        }
    }
    // Text counts read the tallies of the tenant's statuses (and types, when given).
    for (types, cond) in [
        (0, " AND instr(display_lc, ?) > 0"),
        (
            2,
            " AND alert_type_lc IN (?, ?) AND instr(display_lc, ?) > 0",
        ),
    ] {
        let plan = plan_of(&conn, &crate::query::tallies_sql(2, cond), 3 + types + 1);
        assert!(
            plan.contains("SEARCH tallies USING PRIMARY KEY (tenant=?"),
            "{plan}"
        );
    }
    // A keyed page of one severity tests the status and severity on key rows before reading
    // an alert row (the conditions sit with the key search, ahead of the join).
    let q = AlertQuery::default()
        .severities([vigil_core::Severity::High])
        .entity("10.0.0.9");
    let (_, _, keyed) = crate::query::first_stream_sql(&conn, &t, &q, None).unwrap();
    let (sql, _) = keyed.expect("a keyed plan");
    assert!(sql.contains("AND st IN (0, 1) AND sev IN (3)"), "{sql}");
    let plan = plan_of(&conn, crate::query::KNOWN_SQL, 4);
    assert!(
        plan.contains(
            "SEARCH resource_prefixes USING PRIMARY KEY (tenant=? AND prefix>? AND prefix<?)"
        ),
        "{plan}"
    );
    let plan = plan_of(&conn, &crate::query::related_sql(), 5);
    assert!(
        plan.contains("SEARCH alert_keys USING PRIMARY KEY (gen=? AND key=?)"),
        "{plan}"
    );
    assert!(plan.contains("alerts_by_correlation"), "{plan}");
    assert!(!plan.contains("SCAN alerts"), "{plan}");
    let plan = plan_of(&conn, &crate::query::counts_sql(2, ""), 3);
    assert!(
        plan.contains("USING COVERING INDEX alerts_by_severity"),
        "{plan}"
    );
    // A time range is a range of the severity index within each status and severity.
    let q = AlertQuery::default()
        .since(chrono::Utc::now())
        .until(chrono::Utc::now());
    let (sql, n) = crate::query::counts_sql_of(&conn, &t, &q).unwrap();
    let plan = plan_of(&conn, &sql, n);
    assert!(
        plan.contains("COVERING INDEX alerts_by_severity (tenant=? AND status=? AND severity_rank=? AND time_us>? AND time_us<?)"),
        "{plan}"
    );
    for sql in [
        "SELECT seq FROM alerts WHERE tenant = ?1 AND id = ?2",
        "SELECT id FROM alerts WHERE tenant = ?1 AND sys_id = ?2 ORDER BY id LIMIT ?3",
    ] {
        let plan = plan_of(&conn, sql, sql.matches('?').count());
        assert!(plan.starts_with("SEARCH alerts USING"), "{plan}");
    }
}

/// Schema 1 keyed alerts by their system alert id; schema 2 keys them by identity (the resource
/// name). A version 1 file with rows, audit entries and feedback migrates without losing a row,
/// and its alerts are then found by name and by system alert id, and updated (not duplicated)
/// when imported again.
#[test]
fn a_version_1_file_with_alerts_migrates_to_identity_keys() {
    use chrono::Utc;
    use vigil_core::store::{AlertQuery, FeedbackQuery, Store, TenantId};
    use vigil_core::{AlertId, defender};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    let doc = |name: &str, sys: &str, t: &str| {
        format!(
            r#"{{"id": "/subscriptions/s/providers/Microsoft.Security/locations/westeurope/alerts/{name}",
                "name": "{name}", "type": "Microsoft.Security/Locations/alerts",
                "properties": {{"alertType": "{t}", "systemAlertId": "{sys}", "alertDisplayName": "x",
                "severity": "High", "status": "Active", "timeGeneratedUtc": "2026-01-01T00:00:00.0000000Z"}}}}"#
        )
    };
    let rows = [
        // A name that differs from the system alert id: re-keyed by name.
        ("name-1", "sys-1", "VM_A"),
        // Name equal to the system alert id: unchanged.
        ("sys-2", "sys-2", "VM_B"),
        // Two rows whose names collide (possible in a version 1 file): both keep their old key.
        ("dup-name", "sys-3", "VM_C"),
        ("dup-name", "sys-4", "VM_D"),
    ];
    {
        let mut conn = Connection::open(&path).unwrap();
        migrate_with(&mut conn, &MIGRATIONS[..1]).unwrap();
        for (i, (name, sys, t)) in rows.iter().enumerate() {
            conn.execute(
                "INSERT INTO alerts (seq, tenant, id, tseq, version, status, severity_rank, time_us,
                    priority, alert_type_lc, display_lc, resources_lc, entities_lc, ingested_at,
                    updated_at, json)
                 VALUES (?1, 'default', ?2, ?1, 1, 'Active', 3, 0, 0, lower(?3), 'x', '[]', '[]',
                    '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:00.000000000Z', ?4)",
                rusqlite::params![i as i64 + 1, sys, t, doc(name, sys, t)],
            )
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO audit VALUES (1, 1, '2026-01-01T00:00:00.000000000Z', 'alice', 'Active',
                'InProgress', NULL, 2);
             INSERT INTO feedback (tenant, alert_seq, useful, reason, comment, actor, at)
                VALUES ('default', 1, 1, 'TruePositive', NULL, 'alice', '2026-01-01T00:00:00.000000000Z');
             INSERT INTO tenant_state VALUES ('default', 0, 4);",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let t = TenantId::new("default").unwrap();
    let all = store
        .query(&t, &AlertQuery::default().all_statuses())
        .unwrap();
    assert_eq!(all.alerts.len(), 4, "no row lost");
    let id = |s: &str| AlertId::new(s).unwrap();
    let by_name = store.get(&t, &id("name-1")).unwrap().unwrap();
    let by_sys = store.get(&t, &id("sys-1")).unwrap().unwrap();
    assert_eq!(by_name, by_sys);
    assert_eq!(store.history(&t, &id("name-1")).unwrap().len(), 1);
    let fb = store
        .list_feedback(
            &t,
            &FeedbackQuery {
                alert: Some(id("sys-1")),
                useful: None,
            },
        )
        .unwrap();
    assert_eq!(fb.len(), 1);
    assert_eq!(fb[0].0, id("name-1"), "feedback reports the new identity");
    assert_eq!(
        store
            .get(&t, &id("sys-2"))
            .unwrap()
            .unwrap()
            .alert
            .alert_type(),
        "VM_B"
    );
    // The colliding rows are both still there, each found by its system alert id.
    assert_eq!(
        store
            .get(&t, &id("sys-3"))
            .unwrap()
            .unwrap()
            .alert
            .alert_type(),
        "VM_C"
    );
    assert_eq!(
        store
            .get(&t, &id("sys-4"))
            .unwrap()
            .unwrap()
            .alert
            .alert_type(),
        "VM_D"
    );

    // Importing the first two again updates them.
    let again = defender::parse_alerts(&format!(
        "[{}, {}]",
        doc("name-1", "sys-1", "VM_A"),
        doc("sys-2", "sys-2", "VM_B")
    ))
    .unwrap();
    let r = store.ingest(&t, &again, Utc::now()).unwrap();
    assert_eq!((r.new, r.updated), (0, 2));
    drop(store);
    let conn = Connection::open(&path).unwrap();
    assert_eq!(user_version(&conn), SCHEMA_VERSION);
}

/// Schema 4 indexes entity values, resource prefixes, intents and compromised entities as key
/// rows computed in Rust. A version 3 file with alerts gets them when it is opened, so its
/// alerts are found by every filter, and by related alerts, as if ingested today.
#[test]
fn a_version_3_file_with_alerts_gets_its_keys() {
    use vigil_core::store::codec::{IndexKeys, alert_json};
    use vigil_core::store::{AlertQuery, ResourceFilter, Store, TenantId};
    use vigil_core::{Alert, AlertId, Entity, KillChainIntent, ResourceIdentifier, Severity};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.db");
    let at = chrono::Utc::now();
    let mk = |id: &str, ip: &str| {
        Alert::builder(
            AlertId::new(id).unwrap(),
            "VM_Test",
            "Test alert",
            Severity::High,
            at,
        )
        .entity(Entity::ip(ip))
        .intent(KillChainIntent::Exfiltration)
        .compromised_entity("vm-1")
        .resource_identifier(ResourceIdentifier::azure_resource(
            "/subscriptions/s1/resourceGroups/RG-A/providers/p/t/vm-1",
        ))
        .build()
    };
    let alerts = [mk("a-1", "10.0.0.1"), mk("a-2", "10.0.0.2")];
    {
        let mut conn = Connection::open(&path).unwrap();
        migrate_with(&mut conn, &MIGRATIONS[..3]).unwrap();
        for (i, a) in alerts.iter().enumerate() {
            let d = IndexKeys::of(a);
            let list = |v: &[String]| serde_json::to_string(v).unwrap();
            conn.execute(
                "INSERT INTO alerts (seq, tenant, id, sys_id, tseq, version, status, severity_rank,
                    time_us, priority, alert_type_lc, display_lc, compromised_lc, resources_lc,
                    entities_lc, ingested_at, updated_at, json)
                 VALUES (?1, 'default', ?2, ?2, ?1, 1, 'Active', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
                    '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:00.000000000Z', ?11)",
                rusqlite::params![
                    i as i64 + 1,
                    a.id().as_str(),
                    d.severity_rank,
                    d.time_us,
                    d.priority,
                    d.alert_type_lc,
                    d.display_lc,
                    d.compromised_lc,
                    list(&d.resources),
                    list(&d.entities),
                    alert_json(a).unwrap()
                ],
            )
            .unwrap();
        }
        conn.execute_batch("INSERT INTO tenant_state VALUES ('default', 0, 2, 0)")
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let t = TenantId::new("default").unwrap();
    let ids = |q: AlertQuery| -> Vec<String> {
        let mut v: Vec<String> = store
            .query(&t, &q)
            .unwrap()
            .alerts
            .iter()
            .map(|s| s.alert.id().as_str().to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(AlertQuery::default().entity("10.0.0.2")), ["a-2"]);
    assert_eq!(
        ids(AlertQuery::default().resource(ResourceFilter::Prefix(
            "/subscriptions/s1/resourcegroups/rg-".into()
        ))),
        ["a-1", "a-2"]
    );
    assert_eq!(
        ids(AlertQuery::default().intents([KillChainIntent::Exfiltration])),
        ["a-1", "a-2"]
    );
    let related = store
        .related(&t, &AlertId::new("a-1").unwrap(), 10)
        .unwrap();
    assert_eq!(related.len(), 1, "the same compromised entity");
    let conn = Connection::open(&path).unwrap();
    assert_eq!(user_version(&conn), SCHEMA_VERSION);
    let marker: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'v4_backfill'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(marker, 0, "the backfill marker is gone");
}

/// The tallies and key rows the header's counts read stay equal to counting the alerts, through
/// ingest, new versions of alerts (another severity or type), status changes and rules applied:
/// the tallies per type, status, severity and display name, and each alert's key rows are the
/// keys of its stored JSON, with its status and severity.
#[test]
fn tallies_and_key_rows_stay_equal_to_counting_the_alerts() {
    use vigil_core::Status;
    use vigil_core::store::{AlertQuery, StatusChange, Store, TenantId};
    use vigil_testkit::generate::{AlertGenerator, RuleGenerator, reference_time};

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("tallies.db")).unwrap();
    let t = TenantId::new("tallies").unwrap();
    let u = TenantId::new("other").unwrap();
    for r in RuleGenerator::new(2).rules(50) {
        store
            .create_rule(&t, r.to_rule().unwrap(), reference_time())
            .unwrap();
    }
    let alerts = AlertGenerator::new(9).alerts(300);
    store.ingest(&t, &alerts, reference_time()).unwrap();
    store.ingest(&u, &alerts[..50], reference_time()).unwrap();
    // New versions: another severity and another type for some.
    let changed: Vec<_> = alerts[..40]
        .iter()
        .map(|a| {
            let mut v = serde_json::to_value(a).unwrap();
            v["properties"]["severity"] = "Low".into();
            if a.alert_type().len() % 2 == 0 {
                v["properties"]["alertType"] = "Retyped".into();
                v["properties"]["alertDisplayName"] = "Renamed alert".into();
            }
            serde_json::from_value::<vigil_core::Alert>(v).unwrap()
        })
        .collect();
    store.ingest(&t, &changed, reference_time()).unwrap();
    let page = store.query(&t, &AlertQuery::default().limit(30)).unwrap();
    for s in &page.alerts {
        let change = StatusChange::new(Status::InProgress, "tester");
        store
            .change_status(&t, s.alert.id(), s.version, change, reference_time())
            .unwrap();
    }
    // Dismiss some through a rule too.
    let rule = vigil_core::suppression::SuppressionRule::builder(
        "dismiss-some",
        alerts[60].alert_type(),
        vigil_core::suppression::SuppressionReason::FalsePositive,
    )
    .build();
    store.create_rule(&t, rule, reference_time()).unwrap();
    store
        .apply_rule(&t, "dismiss-some", "tester", reference_time())
        .unwrap();
    let conn = store.backend().writer.lock().unwrap();
    assert_key_rows_and_tallies_match_the_alerts(&conn);
    let dismissed: i64 = conn
        .query_row("SELECT count(*) FROM alert_keys WHERE st = 3", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(dismissed > 0, "the rule dismissed alerts with keys");
    let retyped: i64 = conn
        .query_row(
            "SELECT count(*) FROM tallies WHERE alert_type_lc = 'retyped'
             AND display_lc = 'renamed alert' AND n > 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(retyped > 0);
}

/// Every alert's key rows are the keys of its stored JSON (under the file's hash key) with its
/// status code and severity rank, and the tallies equal counting the alerts by tenant, type,
/// status, severity and display name.
fn assert_key_rows_and_tallies_match_the_alerts(conn: &Connection) {
    use std::collections::BTreeSet;
    let keyer = crate::keys::Keyer::load(conn).unwrap();
    let mut stmt = conn
        .prepare("SELECT seq, tenant, status, severity_rank, json FROM alerts")
        .unwrap();
    let alerts: Vec<(i64, String, String, i64, String)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut want = BTreeSet::new();
    for (seq, tenant, status, sev, json) in &alerts {
        let alert: vigil_core::Alert = serde_json::from_str(json).unwrap();
        let st = crate::keys::status_code(crate::codec::parse_status(status).unwrap());
        let d = vigil_core::store::codec::IndexKeys::of(&alert);
        for k in crate::keys::of_alert(&keyer, tenant, &alert, &d).0 {
            want.insert((crate::keys::gen_of(*seq), k, *seq, st, *sev));
        }
    }
    let got: BTreeSet<(i64, i64, i64, i64, i64)> = conn
        .prepare("SELECT gen, key, seq, st, sev FROM alert_keys")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!got.is_empty());
    assert_eq!(got, want, "key rows");
    let rows = |sql: &str| -> Vec<(String, String, String, i64, String, i64)> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let tallies = rows(
        "SELECT tenant, alert_type_lc, status, severity_rank, display_lc, n FROM tallies
         WHERE n <> 0 ORDER BY 1, 2, 3, 4, 5",
    );
    let counted = rows(
        "SELECT tenant, alert_type_lc, status, severity_rank, display_lc, count(*) FROM alerts
         GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5",
    );
    assert_eq!(tallies, counted);
    assert!(counted.iter().any(|r| r.2 == "InProgress"));
}

/// The reference comparison on generated data with this build's small bounds for reading key
/// rows, walking, and switching from one to the other, so all three ways are checked.
#[test]
fn generated_data_answers_like_the_reference_store_through_every_read_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("paths.db")).unwrap();
    vigil_testkit::reference::generated_data_answers_like_the_reference_store(&store);
}

/// Schema 7 rewrites the key rows of a version 6 file (unkeyed hashes, no status or severity)
/// under the file's new hash key, and its tallies per display name; the filters of the order
/// indexes stay as they were. Counts and pages under every keyed filter then answer as before.
#[test]
fn a_version_6_file_gets_keyed_key_rows_and_tallies_per_display_name() {
    use vigil_core::store::codec::{IndexKeys, alert_json};
    use vigil_core::store::{AlertQuery, ResourceFilter, Store, TenantId};
    use vigil_core::{Alert, AlertId, Entity, KillChainIntent, ResourceIdentifier, Severity};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v6.db");
    let at = chrono::Utc::now();
    let mk = |id: &str, ip: &str, status: vigil_core::Status, severity: Severity| {
        Alert::builder(
            AlertId::new(id).unwrap(),
            "VM_Test",
            if ip.ends_with('1') {
                "Suspicious login"
            } else {
                "Other alert"
            },
            severity,
            at,
        )
        .entity(Entity::ip(ip))
        .intent(KillChainIntent::Exfiltration)
        .resource_identifier(ResourceIdentifier::azure_resource(
            "/subscriptions/s1/resourceGroups/RG-A/providers/p/t/vm-1",
        ))
        .status(status)
        .build()
    };
    let alerts = [
        mk(
            "a-1",
            "10.0.0.1",
            vigil_core::Status::Active,
            Severity::High,
        ),
        mk(
            "a-2",
            "10.0.0.2",
            vigil_core::Status::InProgress,
            Severity::Low,
        ),
        mk(
            "a-3",
            "10.0.0.1",
            vigil_core::Status::Resolved,
            Severity::High,
        ),
    ];
    {
        let mut conn = Connection::open(&path).unwrap();
        migrate_with(&mut conn, &MIGRATIONS[..6]).unwrap();
        // As schema 6 wrote them: unkeyed key rows, filters, tallies by type.
        conn.execute_batch("DROP TABLE v4_backfill").unwrap();
        for (i, a) in alerts.iter().enumerate() {
            let seq = i as i64 + 1;
            let d = IndexKeys::of(a);
            let list = |v: &[String]| serde_json::to_string(v).unwrap();
            let mut bloom = 0i64;
            let mut keys = Vec::new();
            let mut add = |kind: crate::keys::Kind, v: &str| {
                let k = crate::keys::fnv_key("default", kind, v);
                bloom |= crate::keys::bits(k);
                keys.push(k);
            };
            for v in &d.entities {
                add(crate::keys::Kind::Entity, v);
            }
            for r in &d.resources {
                for p in crate::keys::resource_prefixes(r) {
                    add(crate::keys::Kind::Resource, p);
                }
            }
            add(crate::keys::Kind::Intent, "Exfiltration");
            for p in d
                .resources
                .iter()
                .flat_map(|r| crate::keys::resource_prefixes(r))
            {
                conn.execute(
                    "INSERT OR IGNORE INTO resource_prefixes VALUES ('default', ?1)",
                    [p],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO alerts (seq, tenant, id, sys_id, tseq, version, status, severity_rank,
                    time_us, priority, alert_type_lc, display_lc, compromised_lc, resources_lc,
                    entities_lc, ingested_at, updated_at, json, bloom)
                 VALUES (?1, 'default', ?2, ?2, ?1, 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
                    '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:00.000000000Z', ?12, ?13)",
                rusqlite::params![
                    seq,
                    a.id().as_str(),
                    a.status().as_str(),
                    d.severity_rank,
                    d.time_us,
                    d.priority,
                    d.alert_type_lc,
                    d.display_lc,
                    d.compromised_lc,
                    list(&d.resources),
                    list(&d.entities),
                    alert_json(a).unwrap(),
                    bloom
                ],
            )
            .unwrap();
            for k in keys {
                conn.execute(
                    "INSERT OR IGNORE INTO alert_keys (gen, key, seq) VALUES (0, ?1, ?2)",
                    [k, seq],
                )
                .unwrap();
            }
        }
        conn.execute_batch(
            "INSERT INTO tallies SELECT tenant, alert_type_lc, status, severity_rank, count(*)
                FROM alerts GROUP BY 1, 2, 3, 4;
             INSERT INTO tenant_state VALUES ('default', 0, 3, 0);",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    {
        let conn = store.backend().writer.lock().unwrap();
        assert_eq!(user_version(&conn), SCHEMA_VERSION);
        assert_key_rows_and_tallies_match_the_alerts(&conn);
        let old = crate::keys::fnv_key("default", crate::keys::Kind::Entity, "10.0.0.1");
        let left: i64 = conn
            .query_row(
                "SELECT count(*) FROM alert_keys WHERE key = ?1",
                [old],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0, "no unkeyed key row is left");
    }
    let t = TenantId::new("default").unwrap();
    let count = |q: AlertQuery| store.counts(&t, &q).unwrap().total();
    assert_eq!(count(AlertQuery::default().entity("10.0.0.1")), 1);
    assert_eq!(
        count(AlertQuery::default().entity("10.0.0.1").all_statuses()),
        2
    );
    assert_eq!(
        count(AlertQuery::default().resource(ResourceFilter::Prefix(
            "/subscriptions/s1/resourcegroups/rg-".into()
        ))),
        2
    );
    assert_eq!(
        count(
            AlertQuery::default()
                .intents([KillChainIntent::Exfiltration])
                .severities([Severity::High])
                .all_statuses()
        ),
        2
    );
    assert_eq!(count(AlertQuery::default().text("SUSPICIOUS")), 1);
    let page = store
        .query(&t, &AlertQuery::default().entity("10.0.0.2"))
        .unwrap();
    assert_eq!(page.alerts.len(), 1);
}

/// Counts and pages under each filter that key rows or tallies answer (one entity value, a
/// resource, intents including ones outside Defender's list, tactics, techniques and
/// sub-techniques, display-name text, each with statuses and severities), and under
/// combinations that take the exact path, equal the reference store's, after status changes
/// and rules applied.
#[test]
fn counts_from_key_rows_and_tallies_answer_like_the_reference() {
    use vigil_core::attack::{TacticId, TechniqueId};
    use vigil_core::store::{
        AlertQuery, MemoryStore, ResourceFilter, StatusChange, Store, TenantId, entity_values,
        resource_ids,
    };
    use vigil_core::{Alert, AlertId, Entity, KillChainIntent, Severity, Status};
    use vigil_testkit::generate::{AlertGenerator, reference_time};

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("counts.db")).unwrap();
    let memory = MemoryStore::default();
    let t = TenantId::new("counts").unwrap();
    let at = reference_time();
    let mut alerts = AlertGenerator::new(21).alerts(400);
    let technique = |s: &str| s.parse::<TechniqueId>().unwrap();
    for (i, (intent, tech)) in [
        (KillChainIntent::Other("Lateral Drift".into()), "T1059.001"),
        (KillChainIntent::Probing, "T1059"),
        (KillChainIntent::Other("Reconnaissance".into()), "T1078.004"),
        (
            KillChainIntent::Other("Impact (Defacement)".into()),
            "T1486",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        alerts.push(
            Alert::builder(
                AlertId::new(format!("hand-{i}")).unwrap(),
                "VM_Hand",
                "Hand-made alert",
                Severity::Medium,
                at,
            )
            .intent(intent)
            .technique(technique(tech))
            .entity(Entity::ip("10.9.9.9"))
            .build(),
        );
    }
    store.ingest(&t, &alerts, at).unwrap();
    memory.ingest(&t, &alerts, at).unwrap();
    for (i, s) in [Status::InProgress, Status::Resolved, Status::Dismissed]
        .into_iter()
        .cycle()
        .take(60)
        .enumerate()
    {
        let id = alerts[i * 5].system_alert_id();
        let a = store.get(&t, id).unwrap().unwrap();
        let b = memory.get(&t, id).unwrap().unwrap();
        let change = StatusChange::new(s, "tester");
        store
            .change_status(&t, id, a.version, change.clone(), at)
            .unwrap();
        memory.change_status(&t, id, b.version, change, at).unwrap();
    }

    let resource = resource_ids(&alerts[3])[0].to_owned();
    let group: String = resource.split('/').take(5).collect::<Vec<_>>().join("/");
    let subscription: String = resource.split('/').take(3).collect::<Vec<_>>().join("/");
    let value = entity_values(&alerts[11])[0].to_uppercase();
    let word = alerts[0]
        .display_name()
        .split_whitespace()
        .next()
        .unwrap()
        .to_uppercase();
    let d = AlertQuery::default;
    let mut queries = vec![
        d().entity(value.clone()),
        d().entity("10.9.9.9").all_statuses(),
        d().entity(value.clone())
            .severities([Severity::High, Severity::Low]),
        d().resource(ResourceFilter::Exact(resource.to_uppercase())),
        d().resource(ResourceFilter::Prefix(group.clone()))
            .all_statuses(),
        d().resource(ResourceFilter::Prefix(group[..group.len() - 2].to_owned())),
        d().resource(ResourceFilter::Prefix(subscription))
            .min_severity(Severity::Medium),
        d().resource(ResourceFilter::Prefix("/nothing".into())),
        d().intents([KillChainIntent::Probing]).all_statuses(),
        d().intents([KillChainIntent::Other("Lateral Drift".into())])
            .all_statuses(),
        d().intents([KillChainIntent::Exfiltration, KillChainIntent::Execution])
            .statuses([Status::Dismissed, Status::Active]),
        d().tactics([TacticId::RECONNAISSANCE]).all_statuses(),
        d().tactics([TacticId::EXECUTION, TacticId::STEALTH]),
        d().techniques([technique("T1059")]).all_statuses(),
        d().techniques([technique("T1059.001"), technique("T1486")])
            .all_statuses(),
        d().techniques([technique("T1078")]).all_statuses(),
        d().text(word.clone()),
        d().text(word.clone())
            .all_statuses()
            .severities([Severity::High]),
        d().text("hand-MADE")
            .alert_types(["vm_hand".to_owned()])
            .all_statuses(),
        // Combinations the keys and tallies do not decide.
        d().entity(value.clone()).text(word.clone()).all_statuses(),
        d().entity("10.9.9.9")
            .alert_types(["VM_Hand".to_owned()])
            .all_statuses(),
        d().intents([KillChainIntent::Probing])
            .entity("10.9.9.9")
            .all_statuses(),
        d().text(word).since(at - chrono::Duration::days(5)),
    ];
    for i in KillChainIntent::named() {
        queries.push(d().intents([i.clone()]).all_statuses());
    }
    for n in [1u16, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 40, 43, 112] {
        queries.push(d().tactics([TacticId::from_number(n).unwrap()]));
    }
    for q in queries {
        assert_eq!(
            store.counts(&t, &q).unwrap(),
            memory.counts(&t, &q).unwrap(),
            "{q:?}"
        );
        let q = q.limit(500);
        assert_eq!(
            store.query(&t, &q).unwrap(),
            memory.query(&t, &q).unwrap(),
            "{q:?}"
        );
    }
}
