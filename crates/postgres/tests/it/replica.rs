//! A store opened on a server that only reads (as a hot-standby replica does): once the primary
//! has migrated the schema, opening succeeds and serves every read; a write fails and changes
//! nothing. Simulated with `default_transaction_read_only=on` for the connections of the
//! second store (the test machine runs one server).

use vigil_core::Status;
use vigil_core::store::{AlertQuery, StatusChange, Store};
use vigil_core::store::{TenantId, Triage};
use vigil_postgres::PostgresBackend;
use vigil_testkit::generate::{AlertGenerator, reference_time};

use crate::support::TempStore;

#[test]
fn a_read_only_server_serves_the_queue_and_refuses_writes() {
    let temp = TempStore::new();
    let primary = temp.store();
    let t = TenantId::new("replica").unwrap();
    let alerts = AlertGenerator::new(21).alerts(40);
    primary.ingest(&t, &alerts, reference_time()).unwrap();

    let read_only = format!(
        "{}?options=-c%20default_transaction_read_only%3Don",
        temp.url
    );
    let replica = Triage::new(PostgresBackend::open(&read_only).unwrap());
    let all = AlertQuery::default().all_statuses();
    assert_eq!(
        replica.counts(&t, &all).unwrap(),
        primary.counts(&t, &all).unwrap()
    );
    let page = replica.query(&t, &AlertQuery::default()).unwrap();
    assert_eq!(page, primary.query(&t, &AlertQuery::default()).unwrap());
    assert_eq!(replica.events_since(&t, 0, 1000).unwrap().len(), 40);

    let top = &page.alerts[0];
    let id = top.alert.id().clone();
    let change = StatusChange::new(Status::Resolved, "alice");
    let err = replica
        .change_status(&t, &id, top.version, change, reference_time())
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    let err = replica
        .ingest(&t, &AlertGenerator::new(22).alerts(2), reference_time())
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    // Nothing changed.
    assert_eq!(primary.get(&t, &id).unwrap().unwrap().version, top.version);
    assert_eq!(primary.counts(&t, &all).unwrap().total(), 40);
}
