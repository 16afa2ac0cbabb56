//! Writes the server aborts with a serialization failure or a deadlock are run again, a
//! bounded number of times, then reported as `Unavailable`; other errors are never retried.

use std::cell::Cell;

use vigil_core::store::{Backend, ErrorKind, Store, StoreError, TenantId};
use vigil_postgres::{Options, PostgresError, PostgresStore};

use crate::support::{admin, drop_database, fresh_database};

/// A real error of the server with the given SQLSTATE, as the store reports it.
fn server_error(code: &str) -> StoreError {
    let e = admin()
        .batch_execute(&format!(
            "DO $$ BEGIN RAISE EXCEPTION 'forced by the test' USING ERRCODE = '{code}'; END $$"
        ))
        .expect_err("the server raises the exception");
    assert_eq!(e.code().map(|c| c.code()), Some(code));
    PostgresError::from(e).into()
}

#[test]
fn aborted_writes_are_retried_a_bounded_number_of_times() {
    let (name, url) = fresh_database();
    let options = Options {
        write_retries: 3,
        ..Options::default()
    };
    let store = PostgresStore::open_with(&url, options).unwrap();
    let tenant = TenantId::new("t").unwrap();
    let rules_before = store.list_rules(&tenant).unwrap().len();

    // Fails twice with a serialization failure, then a deadlock, then succeeds: four attempts.
    let failures = ["40001", "40001", "40P01"];
    let attempts = Cell::new(0usize);
    let out = store.backend().write(&tenant, |tx| {
        let n = attempts.get();
        attempts.set(n + 1);
        if let Some(code) = failures.get(n) {
            return Err(server_error(code));
        }
        tx.rules_generation()
    });
    assert!(out.is_ok(), "{out:?}");
    assert_eq!(attempts.get(), 4);

    // Always aborted: 1 + 3 attempts, then Unavailable saying so.
    attempts.set(0);
    let out = store
        .backend()
        .write(&tenant, |_tx| -> Result<(), StoreError> {
            attempts.set(attempts.get() + 1);
            Err(server_error("40001"))
        });
    let e = out.unwrap_err();
    assert_eq!(attempts.get(), 4);
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.to_string().contains("gave up after 4 attempts"), "{e}");

    // Errors that are not aborts are returned at once: a unique violation, a contract error.
    for e in [
        server_error("23505"),
        StoreError::new(ErrorKind::Conflict, "stale"),
    ] {
        attempts.set(0);
        let kind = e.kind();
        let mut once = Some(e);
        let out = store
            .backend()
            .write(&tenant, |_tx| -> Result<(), StoreError> {
                attempts.set(attempts.get() + 1);
                Err(once
                    .take()
                    .unwrap_or_else(|| StoreError::new(ErrorKind::Corrupt, "ran twice")))
            });
        assert_eq!(out.unwrap_err().kind(), kind);
        assert_eq!(attempts.get(), 1);
    }

    assert_eq!(store.list_rules(&tenant).unwrap().len(), rules_before);
    drop(store);
    drop_database(&name);
}
