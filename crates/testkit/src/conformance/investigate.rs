//! Investigate: getting one alert and its related alerts.

use vigil_core::store::{ErrorKind, Relation, Store};
use vigil_core::{Alert, AlertId, Entity, Severity};

use super::support::{alert, at, expect_err, id, must_get, tenant};

/// A missing alert is `Ok(None)` from `get`, in an empty store and in a filled one.
pub fn get_missing(store: &dyn Store) {
    let t = tenant();
    assert!(
        store.get(&t, &id("nowhere")).unwrap().is_none(),
        "empty store"
    );
    store
        .ingest(&t, &[alert("present", "VM_EICAR", Severity::Low, 1)], at(0))
        .unwrap();
    assert!(
        store.get(&t, &id("nowhere")).unwrap().is_none(),
        "filled store"
    );
    assert!(
        store.get(&t, &id("PRESENT")).unwrap().is_none(),
        "system ids are exact, not case-insensitive"
    );
    let got = must_get(store, &t, &id("present"));
    assert_eq!(got.alert, alert("present", "VM_EICAR", Severity::Low, 1));
}

fn plain(id_: &str, ck: Option<&str>, compromised: Option<&str>, entities: Vec<Entity>) -> Alert {
    let mut b = Alert::builder(
        AlertId::new(id_).unwrap(),
        "VM_EICAR",
        format!("related {id_}"),
        Severity::Medium,
        super::support::base(),
    );
    if let Some(k) = ck {
        b = b.correlation_key(k);
    }
    if let Some(c) = compromised {
        b = b.compromised_entity(c);
    }
    for e in entities {
        b = b.entity(e);
    }
    b.build()
}

fn has_ck(r: &[Relation]) -> bool {
    r.contains(&Relation::CorrelationKey)
}

fn has_compromised(r: &[Relation], v: &str) -> bool {
    r.iter()
        .any(|x| matches!(x, Relation::CompromisedEntity(s) if s.eq_ignore_ascii_case(v)))
}

fn has_shared(r: &[Relation], v: &str) -> bool {
    r.iter()
        .any(|x| matches!(x, Relation::SharedEntity(s) if s.eq_ignore_ascii_case(v)))
}

/// Related alerts: same correlation key, same compromised entity (ignoring case), or a shared
/// entity value (ignoring case); each alert once with every relation that holds, never the alert
/// itself, at most `limit`, NotFound for a missing alert.
pub fn related_relations(store: &dyn Store) {
    let t = tenant();
    let me = plain(
        "rel-me",
        Some("ck-1"),
        Some("vm-7"),
        vec![Entity::ip("10.1.1.1"), Entity::host("web-01")],
    );
    let alerts = vec![
        me.clone(),
        plain("rel-ck", Some("ck-1"), None, vec![Entity::ip("10.9.9.9")]),
        plain("rel-comp", None, Some("VM-7"), vec![]),
        plain("rel-ip", None, None, vec![Entity::ip("10.1.1.1")]),
        plain(
            "rel-multi",
            Some("ck-1"),
            None,
            vec![
                Entity::host("WEB-01"),
                Entity::ip("10.1.1.1"),
                Entity::ip("10.1.1.1"),
            ],
        ),
        plain(
            "rel-none",
            Some("ck-2"),
            Some("vm-8"),
            vec![Entity::ip("10.1.1.2")],
        ),
        plain("rel-empty", None, None, vec![]),
    ];
    store.ingest(&t, &alerts, at(0)).unwrap();
    let related = store.related(&t, &id("rel-me"), 100).unwrap();
    let mut got: Vec<&str> = related
        .iter()
        .map(|r| r.alert.alert.system_alert_id().as_str())
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec!["rel-ck", "rel-comp", "rel-ip", "rel-multi"],
        "related alerts (each once, not the alert itself, not unrelated ones)"
    );
    for r in &related {
        let rel = &r.relations;
        let who = r.alert.alert.system_alert_id().as_str();
        assert_eq!(
            r.alert,
            must_get(store, &t, r.alert.alert.system_alert_id()),
            "related alerts are the stored alerts"
        );
        match who {
            "rel-ck" => assert_eq!(rel, &vec![Relation::CorrelationKey], "{who}"),
            "rel-comp" => {
                assert!(has_compromised(rel, "vm-7"), "{who}: {rel:?}");
                assert_eq!(rel.len(), 1, "{who}: {rel:?}");
            }
            "rel-ip" => {
                assert!(has_shared(rel, "10.1.1.1"), "{who}: {rel:?}");
                assert_eq!(rel.len(), 1, "{who}: {rel:?}");
            }
            _ => {
                assert!(has_ck(rel), "{who}: {rel:?}");
                assert!(has_shared(rel, "10.1.1.1"), "{who}: {rel:?}");
                assert!(has_shared(rel, "web-01"), "{who}: {rel:?}");
                assert_eq!(rel.len(), 3, "{who}: each relation once: {rel:?}");
            }
        }
    }
    let two = store.related(&t, &id("rel-me"), 2).unwrap();
    assert_eq!(two.len(), 2, "at most `limit` related alerts");
    assert!(store.related(&t, &id("rel-me"), 0).unwrap().is_empty());
    assert!(
        store.related(&t, &id("rel-empty"), 10).unwrap().is_empty(),
        "an alert with no keys has no related alerts"
    );
    expect_err(
        store.related(&t, &id("rel-missing"), 10),
        ErrorKind::NotFound,
        "related of a missing alert",
    );
}
