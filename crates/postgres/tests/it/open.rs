//! Opening: migrations under concurrency, a newer schema refused, an unreachable server.

use std::time::Duration;

use vigil_core::store::{AlertQuery, ErrorKind, Store, StoreError, TenantId};
use vigil_postgres::{Options, PostgresBackend, PostgresError, PostgresStore, SCHEMA_VERSION};

use crate::support::{TempStore, drop_database, fresh_database};

#[test]
fn many_openers_at_once_migrate_once() {
    let (name, url) = fresh_database();
    let results: Vec<Result<PostgresBackend, PostgresError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| PostgresBackend::open(&url)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    drop(results);
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let version: i64 = client
        .query_one("SELECT version FROM vigil_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, SCHEMA_VERSION);
    let rows: i64 = client
        .query_one("SELECT count(*) FROM vigil_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
    drop(client);
    drop_database(&name);
}

#[test]
fn a_newer_schema_is_refused_naming_both_versions() {
    let temp = TempStore::new();
    let mut client = postgres::Client::connect(&temp.url, postgres::NoTls).unwrap();
    client
        .execute(
            "UPDATE vigil_schema SET version = $1",
            &[&(SCHEMA_VERSION + 1)],
        )
        .unwrap();
    let err = PostgresStore::open(&temp.url).unwrap_err();
    assert!(
        matches!(err, PostgresError::SchemaTooNew { found, known }
            if found == SCHEMA_VERSION + 1 && known == SCHEMA_VERSION),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!("version {}", SCHEMA_VERSION + 1)),
        "{message}"
    );
    assert!(
        message.contains(&format!("up to {SCHEMA_VERSION}")),
        "{message}"
    );
    assert_eq!(StoreError::from(err).kind(), ErrorKind::Unavailable);
}

#[test]
fn an_unreachable_server_is_unavailable_and_says_where() {
    // Port 1 on the loopback interface: nothing listens there.
    let options = Options {
        connect_timeout: Duration::from_secs(2),
        ..Options::default()
    };
    let err =
        PostgresBackend::open_with("postgres://vigil@127.0.0.1:1/vigil", options).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("127.0.0.1:1/vigil"), "{message}");
    assert_eq!(StoreError::from(err).kind(), ErrorKind::Unavailable);
}

#[test]
fn a_bad_connection_string_is_invalid_input() {
    let err = PostgresBackend::open("postgres://vigil@127.0.0.1:notaport/vigil").unwrap_err();
    assert!(matches!(err, PostgresError::InvalidUrl { .. }), "{err:?}");
    assert_eq!(StoreError::from(err).kind(), ErrorKind::InvalidInput);
}

#[test]
fn an_undecodable_row_is_corrupt_naming_tenant_and_alert() {
    let temp = TempStore::new();
    let t = TenantId::new("contoso").unwrap();
    let alerts = vigil_testkit::generate::AlertGenerator::new(1).alerts(3);
    temp.store()
        .ingest(&t, &alerts, vigil_testkit::generate::reference_time())
        .unwrap();
    let id = alerts[0].id().as_str().to_owned();
    let mut client = postgres::Client::connect(&temp.url, postgres::NoTls).unwrap();
    client
        .execute(
            "UPDATE alerts SET json = '{not json' WHERE tenant = $1 AND id = $2",
            &[&"contoso", &id],
        )
        .unwrap();
    let err = temp
        .store()
        .query(&t, &AlertQuery::default().all_statuses())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupt);
    assert!(err.message().contains("contoso"), "{}", err.message());
    assert!(err.message().contains(&id), "{}", err.message());
}
