//! Hand-edited or damaged rows give `Corrupt` errors naming what is broken, never a panic.

use chrono::{TimeZone, Utc};
use rusqlite::Connection;
use vigil_core::store::{AlertQuery, ErrorKind, FeedbackQuery, Store, StoreError, TenantId};
use vigil_core::suppression::{Condition, SuppressionReason, SuppressionRule};
use vigil_core::{Alert, AlertId, Entity, Severity};

use crate::support::{TempStore, temp_store};

fn tenant() -> TenantId {
    TenantId::new("corrupt").unwrap()
}

fn setup() -> (TempStore, Connection) {
    let store = temp_store();
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().unwrap();
    let alerts: Vec<Alert> = (0..5)
        .map(|i| {
            Alert::builder(
                AlertId::new(format!("a-{i}")).unwrap(),
                "VM_Test",
                format!("alert {i}"),
                Severity::High,
                at - chrono::Duration::minutes(i),
            )
            .entity(Entity::ip("192.0.2.1"))
            .build()
        })
        .collect();
    store.ingest(&tenant(), &alerts, at).unwrap();
    let conn = Connection::open(store.backend().path()).unwrap();
    (store, conn)
}

#[track_caller]
fn assert_corrupt<T: std::fmt::Debug>(r: Result<T, StoreError>, names: &str) {
    match r {
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
            assert!(e.to_string().contains(names), "{e} should name {names}");
        }
        Ok(v) => panic!("expected a Corrupt error, got {v:?}"),
    }
}

#[test]
fn bad_json_names_the_alert() {
    let (store, conn) = setup();
    conn.execute("UPDATE alerts SET json = '{not json' WHERE id = 'a-2'", [])
        .unwrap();
    let id = AlertId::new("a-2").unwrap();
    assert_corrupt(store.get(&tenant(), &id), "a-2");
    assert_corrupt(store.query(&tenant(), &AlertQuery::default()), "a-2");
    assert_corrupt(
        store.related(&tenant(), &AlertId::new("a-0").unwrap(), 10),
        "a-2",
    );
    assert_corrupt(
        store.change_status(
            &tenant(),
            &id,
            1,
            vigil_core::store::StatusChange::new(vigil_core::Status::Resolved, "x"),
            Utc::now(),
        ),
        "a-2",
    );
    // The other alerts still read.
    assert!(
        store
            .get(&tenant(), &AlertId::new("a-1").unwrap())
            .unwrap()
            .is_some()
    );
    // JSON that parses but is not an alert.
    conn.execute(
        "UPDATE alerts SET json = '{\"properties\": 7}' WHERE id = 'a-2'",
        [],
    )
    .unwrap();
    assert_corrupt(store.get(&tenant(), &id), "a-2");
}

#[test]
fn unknown_status_names_the_alert() {
    let (store, conn) = setup();
    conn.execute("UPDATE alerts SET status = 'Bogus' WHERE id = 'a-3'", [])
        .unwrap();
    let id = AlertId::new("a-3").unwrap();
    assert_corrupt(store.get(&tenant(), &id), "Bogus");
    // A re-ingest of the alert must not silently overwrite the unknown status either.
    let a3 = Alert::builder(id.clone(), "VM_Test", "x", Severity::Low, Utc::now()).build();
    assert_corrupt(store.ingest(&tenant(), &[a3], Utc::now()), "a-3");
}

#[test]
fn unknown_suppression_reason_and_bad_times_name_the_alert() {
    let (store, conn) = setup();
    conn.execute(
        "UPDATE alerts SET suppression_rule = 'r', suppression_reason = 'Nonsense',
         suppressed_at = ingested_at WHERE id = 'a-1'",
        [],
    )
    .unwrap();
    assert_corrupt(store.get(&tenant(), &AlertId::new("a-1").unwrap()), "a-1");
    conn.execute(
        "UPDATE alerts SET updated_at = 'yesterday' WHERE id = 'a-4'",
        [],
    )
    .unwrap();
    assert_corrupt(store.get(&tenant(), &AlertId::new("a-4").unwrap()), "a-4");
}

#[test]
fn bad_audit_and_feedback_rows_are_corrupt() {
    let (store, conn) = setup();
    let id = AlertId::new("a-0").unwrap();
    store
        .change_status(
            &tenant(),
            &id,
            1,
            vigil_core::store::StatusChange::new(vigil_core::Status::InProgress, "x"),
            Utc::now(),
        )
        .unwrap();
    conn.execute("UPDATE audit SET to_status = 'Sideways'", [])
        .unwrap();
    assert_corrupt(store.history(&tenant(), &id), "a-0");
    store
        .add_feedback(
            &tenant(),
            &id,
            vigil_core::store::Feedback {
                useful: false,
                reason: vigil_core::store::FeedbackReason::TooNoisy,
                comment: None,
                actor: "x".into(),
                at: Utc::now(),
            },
        )
        .unwrap();
    conn.execute("UPDATE feedback SET reason = 'Whatever'", [])
        .unwrap();
    assert_corrupt(
        store.list_feedback(&tenant(), &FeedbackQuery::default()),
        "a-0",
    );
}

#[test]
fn bad_rule_json_names_the_rule() {
    let (store, conn) = setup();
    let rule = SuppressionRule::builder("quiet-ip", "VM_Other", SuppressionReason::Noise)
        .condition(Condition::equals("entities.ip.address", "203.0.113.9"))
        .build();
    store.create_rule(&tenant(), rule, Utc::now()).unwrap();
    conn.execute(
        "UPDATE rules SET json = '[1, 2' WHERE name = 'quiet-ip'",
        [],
    )
    .unwrap();
    assert_corrupt(store.get_rule(&tenant(), "quiet-ip"), "quiet-ip");
    assert_corrupt(store.list_rules(&tenant()), "quiet-ip");
    // Ingest compiles the tenant's rules: it cannot suppress correctly, so it refuses.
    let a = store
        .get(&tenant(), &AlertId::new("a-0").unwrap())
        .unwrap()
        .unwrap();
    let new = Alert::builder(
        AlertId::new("a-new").unwrap(),
        "VM_Other",
        "new",
        Severity::Low,
        a.alert.time_generated(),
    )
    .build();
    // The rules generation did not move, so the cached rule set may still be used; a fresh
    // store must read the rules and refuse.
    let fresh = vigil_sqlite::SqliteStore::open(store.backend().path()).unwrap();
    assert_corrupt(fresh.ingest(&tenant(), &[new], Utc::now()), "quiet-ip");
}
