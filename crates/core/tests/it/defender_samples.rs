//! The real Defender documents shipped in `fixtures/` parse, keep every value and round-trip.

use serde_json::Value;
use vigil_core::attack::TechniqueId;
use vigil_core::defender::{parse_alerts, to_list_json};
use vigil_core::{Alert, EntityKind, KillChainIntent, ResourceIdentifier, Severity, Status};

use crate::common::{assert_values_kept, example_body, fixture};

const SAMPLES: [&str; 3] = [
    "defender/2022-01-01_GetAlertSubscriptionLocation_example.json",
    "defender/2022-01-01_GetAlertsResourceGroupLocation_example.json",
    "defender/2020-01-01_GetAlertResourceGroupLocation_example.json",
];

fn round_trip(alerts: &[Alert]) -> Vec<Alert> {
    parse_alerts(&to_list_json(alerts).unwrap()).unwrap()
}

#[test]
fn every_sample_parses_keeps_every_value_and_round_trips() {
    for rel in SAMPLES {
        let body = example_body(rel);
        let alerts = parse_alerts(&body).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(!alerts.is_empty(), "{rel}");
        assert_eq!(round_trip(&alerts), alerts, "{rel}");

        let input: Value = serde_json::from_str(&body).unwrap();
        let output: Value = serde_json::from_str(&to_list_json(&alerts).unwrap()).unwrap();
        assert_values_kept(&input, &output);
    }
}

#[test]
fn the_2022_sample_reads_as_documented() {
    let alerts = parse_alerts(&example_body(SAMPLES[0])).unwrap();
    let [a] = alerts.as_slice() else {
        panic!("one alert expected")
    };
    assert_eq!(a.alert_type(), "VM_EICAR");
    assert_eq!(
        a.system_alert_id().as_str(),
        "2518298467986649999_4d25bfef-2d77-4a08-adc0-3e35715cc92a"
    );
    assert_eq!(
        a.name(),
        Some("2518298467986649999_4d25bfef-2d77-4a08-adc0-3e35715cc92a")
    );
    assert!(
        a.resource_id()
            .unwrap()
            .ends_with("2518770965529163669_F144EE95-A3E5-42DA-A279-967D115809AA")
    );
    assert_eq!(
        a.resource_type(),
        Some("Microsoft.Security/Locations/alerts")
    );
    assert_eq!(a.version(), Some("2022-01-01"));
    assert_eq!(a.product_component_name(), Some("testName"));
    assert_eq!(a.severity(), Severity::High);
    assert_eq!(a.status(), Status::Active);
    assert_eq!(a.intents(), &[KillChainIntent::Execution]);
    assert_eq!(
        a.start_time().unwrap().to_rfc3339(),
        "2020-02-22T00:00:00+00:00"
    );
    assert_eq!(
        a.processing_end_time().unwrap().timestamp_subsec_nanos(),
        920_558_400
    );
    assert_eq!(
        a.azure_resource_id(),
        Some(
            "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/myRg1/providers/Microsoft.Compute/virtualMachines/vm1"
        )
    );
    match &a.resource_identifiers()[1] {
        ResourceIdentifier::LogAnalytics {
            workspace_id,
            agent_id,
            ..
        } => {
            assert_eq!(workspace_id, "f419f624-acad-4d89-b86d-f62fa387f019");
            assert_eq!(
                agent_id.as_deref(),
                Some("75724a01-f021-4aa8-9ec2-329792373e6e")
            );
        }
        other => panic!("expected LogAnalytics, got {other:?}"),
    }
    assert_eq!(a.remediation_steps(), ["No further action is needed."]);
    assert_eq!(
        a.extended_links()[0].label(),
        Some("Report: RDP Brute Forcing")
    );
    assert_eq!(a.extended_links()[0].link_type(), Some("webLink"));
    let ip = a.entities()[0].as_ip().unwrap();
    assert_eq!(ip.address(), "192.0.2.1".parse().ok());
    // The location object the specification does not define is kept, numbers included.
    assert_eq!(a.entities()[0].get("location").unwrap()["asn"], 6584);
    assert!(a.is_incident());
    assert_eq!(
        a.extended_property("property1").unwrap(),
        "Property1 information"
    );
    assert_eq!(a.compromised_entity(), Some("vm1"));
    let t: Vec<String> = a.techniques().iter().map(TechniqueId::to_string).collect();
    assert_eq!(t, ["T1059", "T1053", "T1072"]);
    assert_eq!(a.sub_techniques()[0].to_string(), "T1059.001");
    let ev = a.supporting_evidence().unwrap();
    assert_eq!(ev.evidence_type(), Some("tabularEvidences"));
    assert_eq!(ev.as_json()["rows"][2][4], Value::Bool(true));
}

#[test]
fn the_2020_sample_tolerates_pascal_case_new_status_and_short_time_names() {
    let alerts = parse_alerts(&example_body(SAMPLES[2])).unwrap();
    let a = &alerts[0];
    assert_eq!(a.status(), Status::Active); // "New"
    assert_eq!(a.product_component_name(), Some(""));
    assert_eq!(a.time_generated().to_rfc3339(), "2020-02-23T13:47:58+00:00");
    assert!(a.processing_end_time().is_some());
    assert!(
        a.azure_resource_id()
            .unwrap()
            .ends_with("/virtualMachines/vm1")
    );
    assert!(matches!(
        &a.resource_identifiers()[1],
        ResourceIdentifier::LogAnalytics { workspace_resource_group: Some(rg), .. } if rg == "myRg1"
    ));
    assert!(a.techniques().is_empty());
    assert!(
        a.additional_properties().is_empty(),
        "{:?}",
        a.additional_properties()
    );
    // Written back in the 2022-01-01 spelling.
    let json = serde_json::to_value(a).unwrap();
    assert!(json["properties"].get("timeGeneratedUtc").is_some());
    assert_eq!(
        json["properties"]["resourceIdentifiers"][0]["type"],
        "AzureResource"
    );
    assert!(
        json["properties"]["resourceIdentifiers"][0]
            .get("azureResourceId")
            .is_some()
    );
}

#[test]
fn the_list_sample_has_polymorphic_evidence() {
    let alerts = parse_alerts(&example_body(SAMPLES[1])).unwrap();
    let kinds: Vec<Option<&str>> = alerts
        .iter()
        .map(|a| a.supporting_evidence().and_then(|e| e.evidence_type()))
        .collect();
    assert!(kinds.contains(&Some("supportingEvidenceList")), "{kinds:?}");
}

#[test]
fn shipped_sample_alerts_parse_and_cover_every_severity() {
    let alerts = parse_alerts(&fixture("alerts/sample-alerts.json")).unwrap();
    assert_eq!(alerts.len(), 14);
    for s in Severity::ALL {
        assert!(alerts.iter().any(|a| a.severity() == s), "{s}");
    }
    // $ref links between entities resolve.
    let ps = alerts
        .iter()
        .find(|a| a.alert_type() == "VM_SuspiciousPowerShellCommandLine")
        .unwrap();
    let process = ps
        .entities()
        .iter()
        .find(|e| e.kind() == &EntityKind::Process)
        .unwrap();
    let host_ref = process.get("host").unwrap()["$ref"].as_str().unwrap();
    assert_eq!(
        ps.entity_by_id(host_ref)
            .and_then(|h| h.as_host())
            .and_then(|h| h.host_name()),
        Some("web-01")
    );
    assert_eq!(round_trip(&alerts), alerts);
}

#[test]
fn flat_pascal_case_export_event_parses() {
    // The workflow-automation / continuous-export event: PascalCase, no `properties` envelope.
    let event = r#"{
        "VendorName": "Microsoft", "AlertType": "VM_EICAR", "StartTimeUtc": "2026-11-01T10:00:00.1234567Z",
        "EndTimeUtc": "2026-11-01T10:05:00Z", "ProcessingEndTime": "2026-11-01T10:06:00Z",
        "TimeGenerated": "2026-11-01T10:05:30Z", "IsIncident": false, "Severity": "low",
        "ReportedSeverity": "Low", "Status": "New", "ProductName": "Azure Security Center",
        "SystemAlertId": "abc-123", "AzureResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm9",
        "CompromisedEntity": "vm9", "Intent": "Execution", "AlertDisplayName": "Test alert",
        "Description": "d", "RemediationSteps": "[\"Step one\",\"Step two\"]",
        "ExtendedProperties": {"PID": 944, "process name": "c:\\x.exe"},
        "Entities": [{"$id": "1", "HostName": "vm9", "Type": "host"}],
        "ResourceIdentifiers": [{"AzureResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm9", "Type": "AzureResource"}]
    }"#;
    let alerts = parse_alerts(event).unwrap();
    let a = &alerts[0];
    assert_eq!(a.severity(), Severity::Low);
    assert_eq!(a.status(), Status::Active);
    assert_eq!(a.remediation_steps(), ["Step one", "Step two"]);
    assert_eq!(a.extended_property("pid").unwrap(), 944);
    assert_eq!(
        a.entities()[0].as_host().and_then(|h| h.host_name()),
        Some("vm9")
    );
    assert_eq!(a.additional_properties()["ReportedSeverity"], "Low");
    assert_eq!(
        a.start_time().unwrap().timestamp_subsec_nanos(),
        123_456_700
    );
    assert_eq!(round_trip(&alerts), alerts);
}

#[test]
fn variants_seen_in_real_documents() {
    let doc = r#"{"properties": {
        "alertType": "T", "systemAlertId": "1", "alertDisplayName": "x", "severity": "Medium",
        "timeGenerated": "2026-11-01T10:00:00.123456789Z",
        "timeGeneratedUtc": "2026-11-01T10:00:00Z",
        "intent": "Persistence, Privilege escalation",
        "remediationSteps": "First line\r\nSecond line",
        "description": null, "status": null,
        "extendedProperties": {"count": 3, "flag": true, "nested": {"a": [1, null]}, "nothing": null},
        "isIncident": "True",
        "brandNewProperty": {"kept": ["as", "is"]}
    }, "extendedProperties": {"outside": "kept too"}}"#;
    let alerts = parse_alerts(doc).unwrap();
    let a = &alerts[0];
    // The 2022-01-01 spelling wins; the other spelling of the same property is kept, not dropped.
    assert_eq!(a.time_generated().timestamp_subsec_nanos(), 0);
    assert_eq!(
        a.additional_properties()["timeGenerated"],
        "2026-11-01T10:00:00.123456789Z"
    );
    assert_eq!(
        a.intents(),
        &[
            KillChainIntent::Persistence,
            KillChainIntent::PrivilegeEscalation
        ]
    );
    assert_eq!(a.remediation_steps(), ["First line", "Second line"]);
    assert_eq!(a.description(), None);
    assert_eq!(a.status(), Status::Active);
    assert!(a.is_incident());
    assert_eq!(a.extended_property("nested").unwrap()["a"][1], Value::Null);
    assert_eq!(
        a.additional_properties()["brandNewProperty"]["kept"][1],
        "is"
    );
    assert_eq!(
        a.additional_resource_properties()["extendedProperties"]["outside"],
        "kept too"
    );
    let out = serde_json::to_value(a).unwrap();
    assert_eq!(
        out["properties"]["timeGeneratedUtc"],
        "2026-11-01T10:00:00.0000000Z"
    );
    assert_eq!(
        out["properties"]["timeGenerated"],
        "2026-11-01T10:00:00.123456789Z"
    );
    assert_eq!(out["extendedProperties"]["outside"], "kept too");
    assert_eq!(round_trip(&alerts), alerts);
}

#[test]
fn intent_as_array_and_as_encoded_array() {
    for intent in [
        r#"["Persistence", "Execution"]"#,
        r#""[\"Persistence\",\"Execution\"]""#,
    ] {
        let doc = format!(
            r#"{{"properties": {{"alertType": "T", "systemAlertId": "1", "alertDisplayName": "x",
            "severity": "Low", "timeGeneratedUtc": "2026-11-01T10:00:00Z", "intent": {intent}}}}}"#
        );
        let a = &parse_alerts(&doc).unwrap()[0];
        assert_eq!(
            a.intents(),
            &[KillChainIntent::Persistence, KillChainIntent::Execution],
            "{intent}"
        );
    }
}

#[test]
fn array_and_list_forms_agree() {
    let one = parse_alerts(&example_body(SAMPLES[0])).unwrap();
    let json = serde_json::to_string(&one).unwrap();
    assert_eq!(parse_alerts(&json).unwrap(), one);
    let list = to_list_json(&one).unwrap();
    assert_eq!(parse_alerts(&list).unwrap(), one);
    let deserialized: Vec<Alert> = serde_json::from_str(&json).unwrap();
    assert_eq!(deserialized, one);
}
