//! Nothing Defender sends is lost or refused: identity, opaque alert types, ids a command line
//! can address, byte-order marks, duplicate keys, leap seconds, and the rule lints.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use vigil_core::defender::{parse_alerts, parse_suppression_rules, read_alerts};
use vigil_core::store::{AlertQuery, ErrorKind, MemoryStore, Store, TenantId};
use vigil_core::suppression::{
    Condition, RuleSet, SuppressionReason, SuppressionRule, admit, suppresses_everything,
};
use vigil_core::{AlertId, Error};

const SUBSCRIPTION_LIST: &str =
    include_str!("../../../../fixtures/defender/2022-01-01_GetAlertsSubscription_example.json");
const LEGACY: &str = include_str!(
    "../../../../fixtures/defender/2020-01-01_GetAlertResourceGroupLocation_example.json"
);

fn body(wrapper: &str) -> String {
    let v: Value = serde_json::from_str(wrapper).unwrap();
    v["responses"]["200"]["body"].to_string()
}

#[test]
fn two_resources_repeating_one_system_alert_id_are_two_alerts() {
    let alerts = parse_alerts(&body(SUBSCRIPTION_LIST)).unwrap();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0].system_alert_id(), alerts[1].system_alert_id());
    assert_ne!(alerts[0].id(), alerts[1].id());
    assert_eq!(
        alerts[1].id().as_str(),
        "2518765996949954086_2325cf9e-42a2-4f72-ae7f-9b863cba2d22"
    );

    let store = MemoryStore::default();
    let t = TenantId::new("20ff7fc3-e762-44dd-bd96-b71116dcdc23").unwrap();
    let report = store.ingest(&t, &alerts, Utc::now()).unwrap();
    assert_eq!(report.new, 2, "the second alert must not replace the first");
    let page = store
        .query(&t, &AlertQuery::default().all_statuses())
        .unwrap();
    assert_eq!(page.alerts.len(), 2);

    // By name: each one. By the shared system alert id: ambiguous, listing both names.
    for a in &alerts {
        let got = store.get(&t, a.id()).unwrap().unwrap();
        assert_eq!(got.alert.alert_type(), a.alert_type());
    }
    let err = store.get(&t, alerts[0].system_alert_id());
    // The first alert's name equals the shared system alert id, so that id names it exactly.
    assert_eq!(err.unwrap().unwrap().alert.alert_type(), "VM_EICAR");
}

#[test]
fn an_ambiguous_system_alert_id_lists_the_candidates() {
    let mut doc: Value = serde_json::from_str(&body(SUBSCRIPTION_LIST)).unwrap();
    doc["value"][0]["name"] = json!("first-name");
    let alerts = parse_alerts(&doc.to_string()).unwrap();
    let store = MemoryStore::default();
    let t = TenantId::new("t").unwrap();
    store.ingest(&t, &alerts, Utc::now()).unwrap();
    let shared = alerts[0].system_alert_id();
    let err = store.get(&t, shared).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let msg = err.to_string();
    assert!(msg.contains("\"first-name\""), "{msg}");
    assert!(
        msg.contains("\"2518765996949954086_2325cf9e-42a2-4f72-ae7f-9b863cba2d22\""),
        "{msg}"
    );
    assert_eq!(
        store.history(&t, shared).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn the_flat_export_event_is_identified_by_its_system_alert_id() {
    let flat = r#"{"AlertType": "VM_EICAR", "SystemAlertId": "sys-1", "AlertDisplayName": "x",
                  "Severity": "Low", "TimeGeneratedUtc": "2024-01-01T00:00:00Z"}"#;
    let a = &parse_alerts(flat).unwrap()[0];
    assert_eq!(a.name(), None);
    assert_eq!(a.id().as_str(), "sys-1");
}

#[test]
fn the_2020_spelling_of_the_same_alerts_updates_them() {
    let store = MemoryStore::default();
    let t = TenantId::new("t").unwrap();
    let legacy = parse_alerts(&body(LEGACY)).unwrap();
    let r1 = store.ingest(&t, &legacy, Utc::now()).unwrap();
    assert_eq!((r1.new, r1.updated), (1, 0));
    let modern = parse_alerts(&body(include_str!(
        "../../../../fixtures/defender/2022-01-01_GetAlertSubscriptionLocation_example.json"
    )))
    .unwrap();
    assert_eq!(modern[0].id(), legacy[0].id());
    let r2 = store.ingest(&t, &modern, Utc::now()).unwrap();
    assert_eq!((r2.new, r2.updated), (0, 1));
}

#[test]
fn alert_types_are_opaque_text() {
    let json = r#"{"alertType": "AppServices_KnownCredential AccessTools", "systemAlertId": "1",
                  "alertDisplayName": "x", "severity": "Low", "timeGeneratedUtc": "2024-01-01T00:00:00Z"}"#;
    let a = &parse_alerts(json).unwrap()[0];
    assert_eq!(a.alert_type(), "AppServices_KnownCredential AccessTools");
    let rule = SuppressionRule::builder(
        "known-tools",
        "AppServices_KnownCredential AccessTools",
        SuppressionReason::FalsePositive,
    )
    .build();
    let set = RuleSet::compile([rule]).unwrap();
    assert!(set.is_suppressed(a, Utc::now()));

    // A `*` inside a type compares literally, with a lint saying so.
    let star = SuppressionRule::builder("vm-star", "VM_*", SuppressionReason::Noise)
        .condition(Condition::equals("entities.host.hostname", "vm1"))
        .build();
    let set = RuleSet::compile([star]).unwrap();
    assert!(
        set.warnings()
            .iter()
            .any(|w| w.message.contains("compare literally")),
        "{:?}",
        set.warnings()
    );

    // Control characters or blank types are still refused, naming the path.
    let bad = json.replace("AccessTools", "Access\\u0007Tools");
    let e = parse_alerts(&bad).unwrap_err().to_string();
    assert!(e.starts_with("alertType: "), "{e}");
    let rule = SuppressionRule::builder("bell", "A\u{7}B", SuppressionReason::Noise).build();
    assert!(RuleSet::compile([rule]).is_err());
}

#[test]
fn control_characters_in_ids_are_refused_with_their_path() {
    let json = |name: &str, sys: &str| {
        format!(
            r#"{{"name": {name}, "properties": {{"alertType": "A", "systemAlertId": {sys},
                "alertDisplayName": "x", "severity": "Low", "timeGeneratedUtc": "2024-01-01T00:00:00Z"}}}}"#
        )
    };
    let e = parse_alerts(&json(r#""a\u0000b""#, r#""ok""#))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("name: "), "{e}");
    assert!(e.contains("control characters"), "{e}");
    let e = parse_alerts(&json(r#""ok""#, r#""x\ny""#))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("properties.systemAlertId: "), "{e}");
    let e = parse_alerts(&format!("[{}]", json(r#""ok""#, r#""x\u001by""#)))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("[0].properties.systemAlertId: "), "{e}");
    assert!(AlertId::new("tab\there").is_err());
}

#[test]
fn a_byte_order_mark_is_accepted_by_every_reader() {
    let one = r#"{"alertType": "A", "systemAlertId": "1", "alertDisplayName": "x", "severity": "Low", "timeGeneratedUtc": "2024-01-01T00:00:00Z"}"#;
    assert_eq!(parse_alerts(&format!("\u{feff}{one}")).unwrap().len(), 1);
    assert_eq!(
        read_alerts(&format!(
            "\u{feff}{one}\n{}\n",
            one.replace("\"1\"", "\"2\"")
        ))
        .unwrap()
        .len(),
        2
    );
    let rules =
        include_str!("../../../../fixtures/defender/GetAlertsSuppressionRules_example.json");
    let rules_body = format!("\u{feff}{}", body(rules));
    assert_eq!(parse_suppression_rules(&rules_body).unwrap().len(), 2);
}

#[test]
fn duplicate_keys_are_refused_naming_the_object() {
    let doc = r#"{"value": [{"properties": {"alertType": "A", "systemAlertId": "1",
        "alertDisplayName": "x", "severity": "Low", "status": "Dismissed", "status": "Active",
        "timeGeneratedUtc": "2024-01-01T00:00:00Z"}}]}"#;
    match parse_alerts(doc) {
        Err(Error::Document { path, message }) => {
            assert_eq!(path, "value[0].properties");
            assert!(message.contains("\"status\" appears twice"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // In JSON lines, the line is named too.
    let lines = format!("{}\n{}", r#"{"a": 1, "a": 2}"#, "");
    let e = read_alerts(&lines).unwrap_err().to_string();
    assert!(
        e.starts_with("line 1: (root): the key \"a\" appears twice"),
        "{e}"
    );
    // Two spellings of one property are still read on purpose.
    let two = r#"{"alertType": "A", "systemAlertId": "1", "alertDisplayName": "x", "severity": "Low",
        "timeGenerated": "2023-01-01T00:00:00Z", "timeGeneratedUtc": "2024-01-01T00:00:00Z"}"#;
    assert_eq!(parse_alerts(two).unwrap().len(), 1);
    let rule = r#"{"name": "r", "properties": {"alertType": "A", "alertType": "B", "reason": "Other", "state": "Enabled"}}"#;
    assert!(parse_suppression_rules(rule).is_err());
}

#[test]
fn leap_seconds_are_written_with_seven_digits() {
    let json = r#"{"alertType": "A", "systemAlertId": "1", "alertDisplayName": "x", "severity": "Low",
        "timeGeneratedUtc": "2016-12-31T23:59:60.5Z", "startTimeUtc": "2016-12-31T23:59:60Z",
        "endTimeUtc": "2016-12-31T23:59:60.123456789Z"}"#;
    let a = &parse_alerts(json).unwrap()[0];
    let v = serde_json::to_value(a).unwrap();
    assert_eq!(
        v["properties"]["timeGeneratedUtc"],
        "2016-12-31T23:59:60.5000000Z"
    );
    assert_eq!(
        v["properties"]["startTimeUtc"],
        "2016-12-31T23:59:60.0000000Z"
    );
    assert_eq!(
        v["properties"]["endTimeUtc"],
        "2016-12-31T23:59:60.123456789Z"
    );
    // And they read back as the same instants.
    let back = &parse_alerts(&v.to_string()).unwrap()[0];
    assert_eq!(back.time_generated(), a.time_generated());
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
}

fn lints_of(rule: SuppressionRule) -> Vec<String> {
    admit(&rule, at(), true)
        .unwrap()
        .into_iter()
        .map(|w| w.to_string())
        .collect()
}

#[test]
fn rules_that_match_every_alert_of_their_type_are_linted() {
    let cases = [
        (
            Condition::wildcard("entities.host.hostname", "*"),
            "matches every value",
        ),
        (
            Condition::regex("entities.host.hostname", ".*"),
            "matches every value",
        ),
        (
            Condition::cidr("entities.ip.address", "0.0.0.0/0"),
            "matches every address",
        ),
        (
            Condition::cidr("entities.ip.address", "::/0"),
            "matches every address",
        ),
        (
            Condition::exists("entities.host.hostname", true),
            "\"exists\": true is the only condition",
        ),
    ];
    for (cond, want) in cases {
        let rule = SuppressionRule::builder("r", "VM_EICAR", SuppressionReason::Noise)
            .condition(cond.clone())
            .build();
        let lints = lints_of(rule);
        assert!(
            lints.iter().any(|l| l.contains(want)),
            "{cond:?}: {lints:?}"
        );
    }
    // A narrowing condition earns none.
    let fine = SuppressionRule::builder("r", "VM_EICAR", SuppressionReason::Noise)
        .condition(Condition::equals("entities.host.hostname", "vm1"))
        .build();
    assert!(lints_of(fine).is_empty());
}

#[test]
fn an_expired_rule_is_linted_at_creation() {
    let rule = SuppressionRule::builder("old", "VM_EICAR", SuppressionReason::Noise)
        .condition(Condition::equals("entities.host.hostname", "vm1"))
        .expires_at(Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap())
        .build();
    let lints = lints_of(rule);
    assert!(
        lints.iter().any(|l| l.contains("already expired")),
        "{lints:?}"
    );
}

#[test]
fn a_rule_suppressing_everything_needs_force() {
    let all = SuppressionRule::builder("all", "*", SuppressionReason::Noise).build();
    assert!(suppresses_everything(&all));
    match admit(&all, at(), false) {
        Err(Error::Refused { what, .. }) => assert_eq!(what, "rule \"all\""),
        other => panic!("{other:?}"),
    }
    let lints = lints_of(all);
    assert!(lints.iter().any(|l| l.contains("suppresses every alert")));
    let wide = SuppressionRule::builder("wide", "*", SuppressionReason::Noise)
        .condition(Condition::wildcard("entities.host.hostname", "*"))
        .build();
    assert!(suppresses_everything(&wide));
    let narrow = SuppressionRule::builder("narrow", "*", SuppressionReason::Noise)
        .condition(Condition::equals("entities.host.hostname", "vm1"))
        .build();
    assert!(!suppresses_everything(&narrow));
    assert!(admit(&narrow, at(), false).is_ok());
}

#[test]
fn field_paths_that_cannot_resolve_are_errors_with_a_suggestion() {
    let cases = [
        (
            "entities.ip.address ",
            "did you mean \"entities.ip.address\"",
        ),
        ("entities.*.address", "take no wildcards"),
        (
            "entities.hots.hostname",
            "did you mean \"entities.host.hostname\"",
        ),
        (
            "entities.proces.commandLine",
            "did you mean \"entities.process.commandLine\"",
        ),
    ];
    for (path, want) in cases {
        let rule = SuppressionRule::builder("r", "VM_EICAR", SuppressionReason::Noise)
            .condition(Condition::equals(path, "x"))
            .build();
        let e = RuleSet::compile([rule]).unwrap_err().to_string();
        assert!(e.contains(want), "{path:?}: {e}");
        assert!(e.contains(&format!("{path:?}")), "names the path: {e}");
    }
    // A custom entity type, spelled far from every known one, is kept with a lint.
    let rule = SuppressionRule::builder("r", "VM_EICAR", SuppressionReason::Noise)
        .condition(Condition::equals("entities.contoso-badge.badgeId", "x"))
        .build();
    let set = RuleSet::compile([rule]).unwrap();
    assert!(
        set.warnings()
            .iter()
            .any(|w| w.message.contains("not one Defender documents")),
        "{:?}",
        set.warnings()
    );
}
