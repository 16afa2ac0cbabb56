//! The server going away under a running store: its connections are terminated and new ones
//! refused (as while the server restarts), then allowed again. Operations fail with
//! `Unavailable` meanwhile and succeed after, through the same store.

use std::time::Duration;

use vigil_core::store::{AlertQuery, ErrorKind, Store, TenantId, Triage};
use vigil_postgres::{Options, PostgresBackend};
use vigil_testkit::generate::{AlertGenerator, reference_time};

use crate::support::{TempStore, admin};

fn database_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_owned()
}

fn cut_off(db: &str, allow: bool) {
    let mut admin = admin();
    admin
        .batch_execute(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS {allow}"))
        .unwrap();
    if !allow {
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&db],
            )
            .unwrap();
    }
}

#[test]
fn operations_are_unavailable_while_the_server_is_away_and_succeed_after() {
    let temp = TempStore::new();
    let db = database_of(&temp.url);
    let options = Options {
        connect_timeout: Duration::from_secs(2),
        ..Options::default()
    };
    let store = Triage::new(PostgresBackend::open_with(&temp.url, options).unwrap());
    let t = TenantId::new("faults").unwrap();
    let alerts = AlertGenerator::new(4).alerts(30);
    store.ingest(&t, &alerts[..10], reference_time()).unwrap();

    cut_off(&db, false);
    let all = AlertQuery::default().all_statuses();
    let err = store.counts(&t, &all).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    let err = store
        .ingest(&t, &alerts[10..20], reference_time())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");

    cut_off(&db, true);
    // The pool drops the dead connections and opens new ones.
    store.ingest(&t, &alerts[20..], reference_time()).unwrap();
    // The batch that failed left nothing behind.
    assert_eq!(store.counts(&t, &all).unwrap().total(), 20);
    for a in &alerts[10..20] {
        assert!(store.get(&t, a.id()).unwrap().is_none());
    }
}
