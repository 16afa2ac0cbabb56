//! Malformed documents give a clear error naming the offending value, never a panic.

use serde_json::{Value, json};
use vigil_core::Error;
use vigil_core::defender::parse_alerts;

/// A valid minimal resource, to break one value at a time.
fn valid() -> Value {
    json!({
        "id": "/subscriptions/s/providers/Microsoft.Security/locations/westeurope/alerts/a1",
        "name": "a1",
        "type": "Microsoft.Security/Locations/alerts",
        "properties": {
            "alertType": "VM_EICAR",
            "systemAlertId": "a1",
            "alertDisplayName": "Test alert",
            "severity": "High",
            "status": "Active",
            "timeGeneratedUtc": "2020-02-23T13:47:58.0000000Z",
            "startTimeUtc": "2020-02-22T00:00:00.0000000Z",
            "resourceIdentifiers": [{"azureResourceId": "/subscriptions/s/rg/vm1", "type": "AzureResource"}],
            "entities": [{"type": "ip", "address": "192.0.2.1"}],
            "techniques": ["T1059"],
            "remediationSteps": ["Do this."]
        }
    })
}

fn with(path: &[&str], value: Value) -> String {
    let mut v = valid();
    let mut cur = &mut v;
    for p in &path[..path.len() - 1] {
        cur = if let Ok(i) = p.parse::<usize>() {
            &mut cur[i]
        } else {
            &mut cur[*p]
        };
    }
    let last = path[path.len() - 1];
    if let Ok(i) = last.parse::<usize>() {
        cur[i] = value;
    } else {
        cur[last] = value;
    }
    v.to_string()
}

fn without(path: &[&str]) -> String {
    let mut v = valid();
    let mut cur = &mut v;
    for p in &path[..path.len() - 1] {
        cur = &mut cur[*p];
    }
    cur.as_object_mut().unwrap().remove(path[path.len() - 1]);
    v.to_string()
}

/// Each case: the document and the exact error message expected.
fn cases() -> Vec<(String, &'static str)> {
    let p = |k: &'static str| ["properties", k];
    vec![
        // Not JSON at all.
        ("".into(), "invalid JSON: EOF while parsing a value at line 1 column 0"),
        ("{".into(), "invalid JSON: EOF while parsing an object at line 1 column 1"),
        ("[1,".into(), "invalid JSON: EOF while parsing a value at line 1 column 3"),
        ("{\"properties\": }".into(), "invalid JSON: expected value at line 1 column 16"),
        ("nul".into(), "invalid JSON: EOF while parsing a value at line 1 column 3"),
        ("{} {}".into(), "invalid JSON: trailing characters at line 1 column 4"),
        // Wrong shape at the root.
        ("42".into(), "(root): expected an alert resource, a {\"value\": [...]} list or an array of alerts, found a number"),
        ("\"alert\"".into(), "(root): expected an alert resource, a {\"value\": [...]} list or an array of alerts, found a string"),
        ("null".into(), "(root): expected an alert resource, a {\"value\": [...]} list or an array of alerts, found null"),
        ("true".into(), "(root): expected an alert resource, a {\"value\": [...]} list or an array of alerts, found a boolean"),
        ("[42]".into(), "[0]: expected an alert object, found a number"),
        (format!("[{}, 7]", valid()), "[1]: expected an alert object, found a number"),
        ("{\"value\": {}}".into(), "value: expected the list of alerts (an array), found an object"),
        ("{\"value\": [null]}".into(), "value[0]: expected an alert object, found null"),
        ("{\"properties\": []}".into(), "properties: expected an object of alert properties, found an array"),
        ("{}".into(), "(root): missing required property \"alertType\""),
        // Envelope values.
        (with(&["id"], json!(5)), "id: expected a string, found a number"),
        (with(&["name"], json!([])), "name: expected a string, found an array"),
        (with(&["type"], json!({})), "type: expected a string, found an object"),
        // Required properties.
        (without(&p("alertType")), "properties: missing required property \"alertType\""),
        (without(&p("systemAlertId")), "properties: missing required property \"systemAlertId\""),
        (without(&p("alertDisplayName")), "properties: missing required property \"alertDisplayName\""),
        (without(&p("severity")), "properties: missing required property \"severity\""),
        (without(&p("timeGeneratedUtc")), "properties: missing required property \"timeGeneratedUtc\""),
        (with(&p("alertType"), Value::Null), "properties: missing required property \"alertType\""),
        (with(&p("systemAlertId"), json!("  ")), "properties.systemAlertId: an alert id must not be empty"),
        // Wrong types and values.
        (with(&p("alertType"), json!(1)), "properties.alertType: expected a string, found a number"),
        (with(&p("alertDisplayName"), json!(["x"])), "properties.alertDisplayName: expected a string, found an array"),
        (with(&p("severity"), json!("Hgh")), "properties.severity: unknown severity \"Hgh\" (expected Informational, Low, Medium or High)"),
        (with(&p("severity"), json!("Critical")), "properties.severity: unknown severity \"Critical\" (expected Informational, Low, Medium or High)"),
        (with(&p("severity"), json!(3)), "properties.severity: expected a severity string, found a number"),
        (with(&p("status"), json!("Closed")), "properties.status: unknown status \"Closed\" (expected Active, InProgress, Resolved or Dismissed)"),
        (with(&p("status"), json!(true)), "properties.status: expected a status string, found a boolean"),
        (with(&p("timeGeneratedUtc"), json!("yesterday")), "properties.timeGeneratedUtc: invalid timestamp \"yesterday\" (expected RFC 3339 such as 2020-02-22T00:00:00.0000000Z)"),
        (with(&p("timeGeneratedUtc"), json!("2020-02-30T00:00:00Z")), "properties.timeGeneratedUtc: invalid timestamp \"2020-02-30T00:00:00Z\" (expected RFC 3339 such as 2020-02-22T00:00:00.0000000Z)"),
        (with(&p("timeGeneratedUtc"), json!(1582465678)), "properties.timeGeneratedUtc: expected a timestamp string, found a number"),
        (with(&p("startTimeUtc"), json!("2020-02-22 25:00")), "properties.startTimeUtc: invalid timestamp \"2020-02-22 25:00\" (expected RFC 3339 such as 2020-02-22T00:00:00.0000000Z)"),
        (with(&p("endTimeUtc"), json!({})), "properties.endTimeUtc: expected a timestamp string, found an object"),
        (with(&p("processingEndTimeUtc"), json!("")), "properties.processingEndTimeUtc: invalid timestamp \"\" (expected RFC 3339 such as 2020-02-22T00:00:00.0000000Z)"),
        (with(&p("intent"), json!(7)), "properties.intent: expected an intent string such as \"Execution\", found a number"),
        (with(&p("intent"), json!(["Execution", 7])), "properties.intent: item 1: expected an intent string, found a number"),
        (with(&p("remediationSteps"), json!(["ok", 2])), "properties.remediationSteps[1]: expected a string, found a number"),
        (with(&p("remediationSteps"), json!({})), "properties.remediationSteps: expected an array of strings, found an object"),
        (with(&p("resourceIdentifiers"), json!({})), "properties.resourceIdentifiers: expected an array, found an object"),
        (with(&["properties", "resourceIdentifiers", "0"], json!("vm1")), "properties.resourceIdentifiers[0]: expected a resource identifier object, found a string"),
        (with(&["properties", "resourceIdentifiers", "0"], json!({"azureResourceId": "x"})), "properties.resourceIdentifiers[0]: resource identifier has no \"type\" (expected \"AzureResource\" or \"LogAnalytics\")"),
        (with(&["properties", "resourceIdentifiers", "0"], json!({"type": "AzureResource"})), "properties.resourceIdentifiers[0]: AzureResource identifier has no \"azureResourceId\""),
        (with(&["properties", "resourceIdentifiers", "0"], json!({"type": "LogAnalytics", "agentId": "a"})), "properties.resourceIdentifiers[0]: LogAnalytics identifier has no \"workspaceId\""),
        (with(&["properties", "resourceIdentifiers", "0"], json!({"type": 1})), "properties.resourceIdentifiers[0].type: expected a string, found a number"),
        (with(&["properties", "resourceIdentifiers", "0"], json!({"type": "AzureResource", "azureResourceId": 9})), "properties.resourceIdentifiers[0].azureResourceId: expected a string, found a number"),
        (with(&p("entities"), json!("ip")), "properties.entities: expected an array, found a string"),
        (with(&["properties", "entities", "0"], json!(1)), "properties.entities[0]: expected an entity object, found a number"),
        (with(&["properties", "entities", "0"], json!({"address": "1.2.3.4"})), "properties.entities[0].type: entity has no \"type\" property (expected e.g. \"ip\", \"host\", \"account\")"),
        (with(&["properties", "entities", "0"], json!({"type": ""})), "properties.entities[0].type: entity type must be a non-empty string, found a string"),
        (with(&["properties", "entities", "0"], json!({"type": null})), "properties.entities[0].type: entity type must be a non-empty string, found null"),
        (with(&p("extendedLinks"), json!(["https://x"])), "properties.extendedLinks[0]: expected a link object, found a string"),
        (with(&p("isIncident"), json!("maybe")), "properties.isIncident: expected true or false, found \"maybe\""),
        (with(&p("isIncident"), json!(1)), "properties.isIncident: expected true or false, found a number"),
        (with(&p("extendedProperties"), json!([1])), "properties.extendedProperties: expected an object, found an array"),
        (with(&p("supportingEvidence"), json!("see logs")), "properties.supportingEvidence: expected an object, found a string"),
        (with(&p("techniques"), json!("T1059")), "properties.techniques: expected an array, found a string"),
        (with(&["properties", "techniques", "0"], json!("T59")), "properties.techniques[0]: invalid ATT&CK technique id \"T59\" (expected T1059 or T1059.001)"),
        (with(&["properties", "techniques", "0"], json!("TA0002")), "properties.techniques[0]: invalid ATT&CK technique id \"TA0002\" (expected T1059 or T1059.001)"),
        (with(&["properties", "techniques", "0"], json!(1059)), "properties.techniques[0]: expected a technique id string, found a number"),
        (with(&p("subTechniques"), json!(["T1059.1"])), "properties.subTechniques[0]: invalid ATT&CK technique id \"T1059.1\" (expected T1059 or T1059.001)"),
        (with(&p("version"), json!(2022)), "properties.version: expected a string, found a number"),
        (with(&p("correlationKey"), json!(false)), "properties.correlationKey: expected a string, found a boolean"),
        (with(&p("compromisedEntity"), json!({"name": "vm1"})), "properties.compromisedEntity: expected a string, found an object"),
        // Errors inside lists name the item.
        (format!("{{\"value\": [{}, {}]}}", valid(), with(&p("severity"), json!("urgent"))),
            "value[1].properties.severity: unknown severity \"urgent\" (expected Informational, Low, Medium or High)"),
        (format!("[{}, {}]", valid(), without(&p("alertType"))),
            "[1].properties: missing required property \"alertType\""),
        // PascalCase keys are reported as spelled.
        (r#"{"Properties": {"AlertType": "X", "SystemAlertId": "1", "AlertDisplayName": "x", "Severity": "Hgh", "TimeGeneratedUtc": "2024-01-01T00:00:00Z"}}"#.into(),
            "Properties.Severity: unknown severity \"Hgh\" (expected Informational, Low, Medium or High)"),
    ]
}

#[test]
fn malformed_documents_give_path_naming_errors() {
    let cases = cases();
    assert!(cases.len() >= 50, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for (doc, want) in &cases {
        match parse_alerts(doc) {
            Ok(alerts) => failures.push(format!("accepted {doc}: {} alerts", alerts.len())),
            Err(e) => {
                let got = e.to_string();
                if got != *want {
                    failures.push(format!("doc {doc}\n  want {want}\n  got  {got}"));
                }
                // Syntax errors and value errors are different variants callers can branch on.
                let is_syntax = want.starts_with("invalid JSON");
                assert_eq!(matches!(e, Error::Json { .. }), is_syntax, "{got}");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_valid_base_document_parses() {
    assert_eq!(parse_alerts(&valid().to_string()).unwrap().len(), 1);
}
