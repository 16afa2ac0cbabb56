//! Small helpers shared by the checks.

use std::collections::HashSet;
use std::fmt::Debug;

use chrono::{DateTime, Duration, TimeZone, Utc};
use vigil_core::store::{AlertQuery, ErrorKind, Store, StoreError, StoredAlert, TenantId};
use vigil_core::{Alert, AlertId, Entity, Severity, Status};

/// 2026-11-01T00:00:00Z.
pub(crate) fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().unwrap()
}

/// `base() + secs` seconds.
pub(crate) fn at(secs: i64) -> DateTime<Utc> {
    base() + Duration::seconds(secs)
}

/// The tenant most checks run in.
pub(crate) fn tenant() -> TenantId {
    TenantId::new("conformance-tenant").unwrap()
}

/// A second tenant.
pub(crate) fn other_tenant() -> TenantId {
    TenantId::new("conformance-other").unwrap()
}

/// `alert` with `status`, reached through the lifecycle (test data for stores that keep what
/// they are given).
pub(crate) fn with_status(mut alert: Alert, status: Status) -> Alert {
    for _ in 0..3 {
        if alert.status() == status || alert.transition(status).is_ok() {
            break;
        }
        let via = if alert.status().is_open() {
            Status::Resolved
        } else {
            Status::Active
        };
        alert.transition(via).unwrap();
    }
    assert_eq!(alert.status(), status, "the lifecycle reaches every status");
    alert
}

pub(crate) fn id(s: &str) -> AlertId {
    AlertId::new(s).unwrap()
}

/// A plain alert: `id`, `alert_type`, severity, generated `mins` minutes before the base time,
/// with one IP entity.
pub(crate) fn alert(id_: &str, alert_type: &str, severity: Severity, mins: i64) -> Alert {
    Alert::builder(
        id(id_),
        alert_type,
        format!("{alert_type} alert {id_}"),
        severity,
        base() - Duration::minutes(mins),
    )
    .entity(Entity::ip(format!("192.0.2.{}", id_.len() % 250)))
    .build()
}

/// A plain alert generated at `time`.
pub(crate) fn alert_at(id_: &str, severity: Severity, time: DateTime<Utc>) -> Alert {
    Alert::builder(id(id_), "VM_EICAR", format!("Alert {id_}"), severity, time)
        .entity(Entity::host("at-host"))
        .build()
}

/// Asserts that `result` is an error of `kind`.
#[track_caller]
pub(crate) fn expect_err<T: Debug>(result: Result<T, StoreError>, kind: ErrorKind, what: &str) {
    match result {
        Ok(v) => panic!("{what}: expected a {kind:?} error, got Ok({v:?})"),
        Err(e) => assert_eq!(
            e.kind(),
            kind,
            "{what}: expected a {kind:?} error, got {:?}: {e}",
            e.kind()
        ),
    }
}

/// Stored alert by id, which must exist.
#[track_caller]
pub(crate) fn must_get(store: &dyn Store, t: &TenantId, id: &AlertId) -> StoredAlert {
    store
        .get(t, id)
        .unwrap()
        .unwrap_or_else(|| panic!("alert {id} should be stored in tenant {t}"))
}

/// Every page of `q` (its limit as page size), concatenated; panics on a cycle.
#[track_caller]
pub(crate) fn all_pages(store: &dyn Store, t: &TenantId, q: &AlertQuery) -> Vec<StoredAlert> {
    let mut q = q.clone();
    q.cursor = None;
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let page = store.query(t, &q).unwrap();
        assert!(
            page.alerts.len() <= q.limit.max(1),
            "a page holds {} alerts, more than the limit {}",
            page.alerts.len(),
            q.limit
        );
        let done = page.next.is_none();
        if !done {
            assert!(
                !page.alerts.is_empty(),
                "an empty page must not return a next cursor"
            );
        }
        out.extend(page.alerts);
        if done {
            return out;
        }
        q.cursor = page.next;
    }
    panic!("pagination did not end after 10000 pages");
}

/// Every alert of a tenant, all statuses, in the default order.
pub(crate) fn everything(store: &dyn Store, t: &TenantId) -> Vec<StoredAlert> {
    all_pages(store, t, &AlertQuery::default().all_statuses().limit(500))
}

/// The ids of a list of stored alerts.
pub(crate) fn ids(alerts: &[StoredAlert]) -> Vec<AlertId> {
    alerts
        .iter()
        .map(|a| a.alert.system_alert_id().clone())
        .collect()
}

/// Asserts no id occurs twice.
#[track_caller]
pub(crate) fn assert_unique(ids: &[AlertId], what: &str) {
    let mut seen = HashSet::new();
    for i in ids {
        assert!(seen.insert(i), "{what}: alert {i} appears more than once");
    }
}

/// Sorted copy, for set comparisons.
pub(crate) fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort();
    v
}
