//! Identity: an alert is its ARM resource name when it has one, else its system alert id; every
//! lookup accepts either, and an ambiguous system alert id is an error listing the candidates.

use vigil_core::store::{
    AlertQuery, ErrorKind, Feedback, FeedbackQuery, FeedbackReason, StatusChange, Store,
};
use vigil_core::{Alert, AlertId, Severity, Status, defender};

use super::support::{at, base, expect_err, id, tenant};

/// Two resources that repeat one system alert id, as Microsoft's own 2022-01-01 list example
/// does; neither name equals the shared id.
fn twins() -> Vec<Alert> {
    let shared = id("2518298467986649999_4d25bfef");
    ["twin-a", "twin-b"]
        .iter()
        .zip(["VM_EICAR", "VM_SuspiciousScreenSaver"])
        .map(|(name, t)| {
            Alert::builder(
                shared.clone(),
                t,
                format!("{t} alert"),
                Severity::High,
                base(),
            )
            .name(id(name))
            .resource_id(format!(
                "/subscriptions/s/providers/Microsoft.Security/locations/westeurope/alerts/{name}"
            ))
            .build()
        })
        .collect()
}

fn feedback(useful: bool, reason: FeedbackReason, secs: i64) -> Feedback {
    Feedback {
        useful,
        reason,
        comment: None,
        actor: "analyst".into(),
        at: at(secs),
    }
}

/// Two resources with different names are two alerts, even with one system alert id; each is
/// found by its name; the shared id is [`ErrorKind::InvalidInput`] naming both, for every
/// operation that takes an id; an id unique among system alert ids finds its alert.
pub fn identity_resource_name(store: &dyn Store) {
    let t = tenant();
    let alerts = twins();
    let report = store.ingest(&t, &alerts, at(0)).unwrap();
    assert_eq!(
        report.new, 2,
        "two resource names are two alerts, whatever their systemAlertId"
    );
    let all = store
        .query(&t, &AlertQuery::default().all_statuses())
        .unwrap();
    assert_eq!(all.alerts.len(), 2);
    let mut got: Vec<&str> = all.alerts.iter().map(|a| a.alert.id().as_str()).collect();
    got.sort();
    assert_eq!(got, ["twin-a", "twin-b"], "query results carry identities");

    for a in &alerts {
        let s = store.get(&t, a.id()).unwrap().expect("found by its name");
        assert_eq!(s.alert.alert_type(), a.alert_type());
    }

    let shared = alerts[0].system_alert_id().clone();
    let ambiguous = |what: &str, r: Result<(), vigil_core::store::StoreError>| match r {
        Err(e) if e.kind() == ErrorKind::InvalidInput => {
            let m = e.to_string();
            assert!(
                m.contains("\"twin-a\"") && m.contains("\"twin-b\""),
                "{what}: the ambiguity error lists the candidates: {m}"
            );
        }
        Err(e) => panic!("{what}: expected InvalidInput for an ambiguous id, got {e}"),
        Ok(()) => panic!("{what}: an ambiguous id must not pick one alert"),
    };
    ambiguous("get", store.get(&t, &shared).map(|_| ()));
    ambiguous("history", store.history(&t, &shared).map(|_| ()));
    ambiguous(
        "change_status",
        store
            .change_status(
                &t,
                &shared,
                1,
                StatusChange::new(Status::InProgress, "a"),
                at(1),
            )
            .map(|_| ()),
    );
    ambiguous(
        "add_feedback",
        store.add_feedback(&t, &shared, feedback(true, FeedbackReason::TruePositive, 1)),
    );
    ambiguous("related", store.related(&t, &shared, 5).map(|_| ()));
    let untouched = store
        .query(&t, &AlertQuery::default().all_statuses())
        .unwrap();
    assert!(
        untouched.alerts.iter().all(|a| a.version == 1),
        "an ambiguous id changes nothing"
    );

    // By name, every operation works on the one alert.
    let b = id("twin-b");
    let changed = store
        .change_status(&t, &b, 1, StatusChange::new(Status::InProgress, "a"), at(2))
        .unwrap();
    assert_eq!(changed.alert.id(), &b);
    assert_eq!(store.history(&t, &b).unwrap().len(), 1);
    assert!(store.history(&t, &id("twin-a")).unwrap().is_empty());
    store
        .add_feedback(&t, &b, feedback(false, FeedbackReason::FalsePositive, 3))
        .unwrap();
    let fb = store
        .list_feedback(
            &t,
            &FeedbackQuery {
                alert: Some(b.clone()),
                useful: None,
            },
        )
        .unwrap();
    assert_eq!(fb.len(), 1);
    assert_eq!(fb[0].0, b, "feedback is listed under the alert's identity");

    // A system alert id that only one alert carries finds that alert.
    let single = Alert::builder(id("sys-unique"), "VM_X", "x", Severity::Low, base())
        .name(id("named-unique"))
        .build();
    store.ingest(&t, &[single], at(4)).unwrap();
    let s = store
        .get(&t, &id("sys-unique"))
        .unwrap()
        .expect("a unique system alert id finds its alert");
    assert_eq!(s.alert.id().as_str(), "named-unique");
    assert_eq!(store.history(&t, &id("sys-unique")).unwrap().len(), 0);
    expect_err(
        store.history(&t, &id("no-such-alert")),
        ErrorKind::NotFound,
        "history of a missing alert",
    );
}

/// The same alerts again, in the 2020-01-01 spelling and in the 2022-01-01 spelling (same
/// names), update them and never duplicate them; a flat export event (no name) is identified
/// by its system alert id.
pub fn identity_reingest_spellings(store: &dyn Store) {
    let t = tenant();
    let legacy = defender::parse_alerts(LEGACY).unwrap();
    let modern = defender::parse_alerts(MODERN).unwrap();
    assert_eq!(legacy[0].id(), modern[0].id());
    let r = store.ingest(&t, &legacy, at(0)).unwrap();
    assert_eq!((r.new, r.updated), (1, 0));
    let r = store.ingest(&t, &modern, at(1)).unwrap();
    assert_eq!(
        (r.new, r.updated),
        (0, 1),
        "the 2022-01-01 spelling of the same alert updates it"
    );
    let r = store.ingest(&t, &legacy, at(2)).unwrap();
    assert_eq!((r.new, r.updated), (0, 1));
    let n = store
        .counts(&t, &AlertQuery::default().all_statuses())
        .unwrap()
        .total();
    assert_eq!(n, 1);

    let flat = r#"{"AlertType": "VM_EICAR", "SystemAlertId": "flat-1", "AlertDisplayName": "x",
                   "Severity": "Low", "TimeGeneratedUtc": "2024-01-01T00:00:00Z"}"#;
    let flat = defender::parse_alerts(flat).unwrap();
    assert_eq!(flat[0].id().as_str(), "flat-1");
    assert_eq!(store.ingest(&t, &flat, at(3)).unwrap().new, 1);
    assert_eq!(store.ingest(&t, &flat, at(4)).unwrap().updated, 1);
    let got = store.get(&t, &AlertId::new("flat-1").unwrap()).unwrap();
    assert_eq!(got.unwrap().version, 2);
}

const LEGACY: &str = r#"{
  "id": "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/myRg1/providers/Microsoft.Security/locations/westeurope/alerts/2518298467986649999_4d25bfef-2d77-4a08-adc0-3e35715cc92a",
  "name": "2518298467986649999_4d25bfef-2d77-4a08-adc0-3e35715cc92a",
  "type": "Microsoft.Security/Locations/alerts",
  "properties": {
    "alertType": "VM_EICAR",
    "systemAlertId": "2518298467986649999_4d25bfef-2d77-4a08-adc0-3e35715cc92a",
    "alertDisplayName": "Azure Security Center test alert (not a threat)",
    "reportedSeverity": "High",
    "severity": "High",
    "state": "New",
    "timeGenerated": "2020-02-23T13:47:58.0000000Z",
    "ResourceIdentifiers": [{"AzureResourceId": "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/myRg1/providers/Microsoft.Compute/virtualMachines/vm1", "Type": "AzureResource"}]
  }
}"#;

const MODERN: &str = r#"{
  "id": "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/myRg1/providers/Microsoft.Security/locations/westeurope/alerts/2518298467986649999_4d25bfef-2d77-4a08-adc0-3e35715cc92a",
  "name": "2518298467986649999_4d25bfef-2d77-4a08-adc0-3e35715cc92a",
  "type": "Microsoft.Security/Locations/alerts",
  "properties": {
    "version": "2022-01-01",
    "alertType": "VM_EICAR",
    "systemAlertId": "2518298467986649999_4d25bfef-2d77-4a08-adc0-3e35715cc92a",
    "alertDisplayName": "Azure Security Center test alert (not a threat)",
    "severity": "High",
    "status": "Active",
    "timeGeneratedUtc": "2020-02-23T13:47:58.0000000Z",
    "resourceIdentifiers": [{"azureResourceId": "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/myRg1/providers/Microsoft.Compute/virtualMachines/vm1", "type": "AzureResource"}]
  }
}"#;
