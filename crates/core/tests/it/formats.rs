//! The exchange formats: round trips (Vigil → format → Vigil keeps every value), golden files
//! reviewed against the specifications, and real documents from other products.

use proptest::prelude::*;
use serde_json::Value;
use vigil_core::defender::parse_alerts;
use vigil_core::formats::{self, Format, ocsf};
use vigil_core::{Alert, Error};
use vigil_testkit::generate::AlertGenerator;

use crate::common::{example_body, fixture, fixture_path};

fn samples() -> Vec<Alert> {
    let mut alerts = parse_alerts(&fixture("alerts/sample-alerts.json")).unwrap();
    for f in [
        "defender/2022-01-01_GetAlertSubscriptionLocation_example.json",
        "defender/2022-01-01_GetAlertsResourceGroupLocation_example.json",
        "defender/2020-01-01_GetAlertResourceGroupLocation_example.json",
    ] {
        alerts.extend(parse_alerts(&example_body(f)).unwrap());
    }
    alerts
}

/// Compares `text` with the golden file, or rewrites the file when `VIGIL_UPDATE_GOLDEN` is set.
fn golden(rel: &str, text: &str) {
    let path = fixture_path(rel);
    if std::env::var_os("VIGIL_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{rel}: {e} (run with VIGIL_UPDATE_GOLDEN=1 to create it)"));
    assert!(
        want == text,
        "{rel} differs from the export; review the change and run with VIGIL_UPDATE_GOLDEN=1"
    );
}

fn golden_alerts() -> Vec<Alert> {
    parse_alerts(&fixture("alerts/sample-alerts.json")).unwrap()
}

// ---------------------------------------------------------------------------------------------
// OCSF

#[test]
fn ocsf_round_trips_the_samples() {
    let alerts = samples();
    let text = ocsf::to_json_lines(&alerts).unwrap();
    assert_eq!(formats::detect(&text).unwrap(), Format::Ocsf);
    assert_eq!(ocsf::parse(&text).unwrap(), alerts);
    let array = ocsf::to_json_array(&alerts).unwrap();
    assert_eq!(ocsf::parse(&array).unwrap(), alerts);
}

#[test]
fn ocsf_golden() {
    let text = ocsf::to_json_array(&golden_alerts()).unwrap();
    golden("formats/sample-alerts.ocsf.json", &(text + "\n"));
}

#[test]
fn ocsf_findings_carry_the_required_attributes() {
    for (i, alert) in samples().iter().enumerate() {
        let f = ocsf::to_value(alert).unwrap();
        for key in [
            "activity_id",
            "category_uid",
            "class_uid",
            "type_uid",
            "severity_id",
            "time",
            "metadata",
            "finding_info",
        ] {
            assert!(!f[key].is_null(), "alert {i}: {key}");
        }
        assert_eq!(f["metadata"]["version"], "1.8.0");
        assert!(f["metadata"]["product"].is_object());
        assert!(f["finding_info"]["uid"].is_string());
        assert_eq!(
            f["type_uid"].as_i64().unwrap(),
            f["class_uid"].as_i64().unwrap() * 100 + f["activity_id"].as_i64().unwrap()
        );
        for ev in f["evidences"].as_array().into_iter().flatten() {
            if let Some(dev) = ev.get("device") {
                assert!(dev["type_id"].is_number());
            }
            if let Some(file) = ev.get("file") {
                assert!(file["name"].is_string() && file["type_id"].is_number());
            }
        }
        for at in f["finding_info"]["attacks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert!(
                at.get("tactic").is_some()
                    || at.get("technique").is_some()
                    || at.get("sub_technique").is_some()
            );
        }
        if f["cloud"].is_object() {
            assert!(f["cloud"]["provider"].is_string());
            assert_eq!(f["metadata"]["profiles"], serde_json::json!(["cloud"]));
        }
        if let Some(rem) = f.get("remediation") {
            assert!(rem["desc"].is_string());
        }
    }
}

#[test]
fn ocsf_errors_name_the_record_and_the_path() {
    let alerts = golden_alerts();
    let mut lines: Vec<String> = ocsf::to_json_lines(&alerts[..3])
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut v: Value = serde_json::from_str(&lines[1]).unwrap();
    v["severity_id"] = Value::String("high".into());
    lines[1] = v.to_string();
    let err = ocsf::parse(&lines.join("\n")).unwrap_err();
    assert!(matches!(err, Error::Document { .. }));
    assert_eq!(
        err.to_string(),
        "line 2.severity_id: expected an integer, found a string"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn ocsf_round_trip_keeps_every_value(alert in crate::roundtrip::alert()) {
        let text = ocsf::to_json_lines(std::slice::from_ref(&alert)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = ocsf::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back[0], &alert);
    }

    #[test]
    fn ocsf_round_trip_of_generated_alerts(seed in any::<u64>()) {
        let alerts = AlertGenerator::new(seed).alerts(5);
        let text = ocsf::to_json_lines(&alerts).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(ocsf::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?, alerts);
    }
}
