//! Row-level security: a database role bound to one tenant cannot read or write another
//! tenant's rows, through the store or through raw SQL.

use vigil_core::store::{AlertQuery, Store, TenantId, Triage};
use vigil_postgres::{Options, PostgresBackend, PostgresStore};
use vigil_testkit::generate::{AlertGenerator, reference_time};

use crate::support::{TempStore, admin};

/// A login role on the test server, dropped with this value (after the databases that
/// grant it anything).
struct Role(String);

impl Role {
    fn new() -> Role {
        let name = format!("vigil_test_role_{}", uuid::Uuid::new_v4().simple());
        admin()
            .batch_execute(&format!("CREATE ROLE {name} LOGIN"))
            .unwrap();
        Role(name)
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        if let Err(e) = admin().batch_execute(&format!("DROP ROLE IF EXISTS {}", self.0)) {
            eprintln!("cannot drop the test role {}: {e}", self.0);
        }
    }
}

/// `url` connecting as `user` (URL or `key=value` form; the tests use no passwords).
fn as_user(url: &str, user: &str) -> String {
    for scheme in ["postgres://", "postgresql://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            let host = rest.split_once('@').map_or(rest, |(_, h)| h);
            return format!("{scheme}{user}@{host}");
        }
    }
    format!("{url} user={user}")
}

#[test]
fn a_role_bound_to_a_tenant_sees_and_writes_only_that_tenant() {
    let role = Role::new();
    let temp = TempStore::new();
    let (a, b) = (
        TenantId::new("tenant-a").unwrap(),
        TenantId::new("tenant-b").unwrap(),
    );
    let alerts = AlertGenerator::new(9).alerts(20);
    temp.store()
        .ingest(&a, &alerts[..12], reference_time())
        .unwrap();
    temp.store()
        .ingest(&b, &alerts[8..], reference_time())
        .unwrap();

    let options = Options {
        row_level_security: true,
        ..Options::default()
    };
    let owner = Triage::new(PostgresBackend::open_with(&temp.url, options).unwrap());
    owner.backend().bind_role(&role.0, &a).unwrap();
    // The owner is not subject to the policies.
    let all = AlertQuery::default().all_statuses();
    assert_eq!(owner.counts(&b, &all).unwrap().total(), 12);

    // Raw SQL as the restricted role.
    let url = as_user(&temp.url, &role.0);
    let mut raw = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let tenants: Vec<String> = raw
        .query("SELECT DISTINCT tenant FROM alerts", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(tenants, vec!["tenant-a".to_owned()]);
    for table in ["alerts", "events", "tenant_state", "audit", "rules"] {
        let n: i64 = raw
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE tenant = 'tenant-b'"),
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "{table}: tenant B's rows are visible");
    }
    let changed = raw
        .execute(
            "UPDATE alerts SET status = 'Dismissed' WHERE tenant = 'tenant-b'",
            &[],
        )
        .unwrap();
    assert_eq!(changed, 0);
    let err = raw
        .execute(
            "INSERT INTO checkpoints (tenant, name, seq) VALUES ('tenant-b', 'x', 1)",
            &[],
        )
        .unwrap_err();
    let message = err.as_db_error().unwrap().message().to_owned();
    assert!(message.contains("row-level security"), "{message}");

    // The store, opened as the restricted role.
    let restricted = PostgresStore::open(&url).unwrap();
    assert_eq!(restricted.counts(&a, &all).unwrap().total(), 12);
    assert_eq!(restricted.counts(&b, &all).unwrap().total(), 0);
    assert!(restricted.get(&b, alerts[15].id()).unwrap().is_none());
    restricted
        .ingest(&a, &alerts[12..14], reference_time())
        .unwrap();
    assert!(
        restricted
            .ingest(&b, &alerts[..1], reference_time())
            .is_err()
    );
    // Tenant B is untouched.
    assert_eq!(owner.counts(&b, &all).unwrap().total(), 12);
    assert_eq!(owner.counts(&a, &all).unwrap().total(), 14);
    drop(raw);
    drop(restricted);
    drop(owner);
}
