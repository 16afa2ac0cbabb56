//! Defender's suppression-rule samples (`fixtures/defender/*SuppressionRule*`) parse, keep every
//! value and round-trip; the PUT sample's rule suppresses exactly what it says.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use vigil_core::Alert;
use vigil_core::defender::{parse_alerts, parse_suppression_rules};
use vigil_core::suppression::reference::ReferenceMatcher;
use vigil_core::suppression::{RuleSet, RuleState, SuppressionReason, SuppressionRule};

use crate::common::{assert_values_kept, example_body, fixture};

const PUT: &str = "defender/PutAlertsSuppressionRule_example.json";
const GET: &str = "defender/GetAlertsSuppressionRules_example.json";

/// The PUT sample's request rule (`parameters.alertsSuppressionRule`), as JSON text.
fn put_request() -> String {
    let v: Value = serde_json::from_str(&fixture(PUT)).unwrap();
    v["parameters"]["alertsSuppressionRule"].to_string()
}

fn expiry() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2019-12-01T19:50:47.083633Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn before_expiry() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2019, 11, 30, 12, 0, 0).unwrap()
}

fn the_rule() -> SuppressionRule {
    let mut rules = parse_suppression_rules(&put_request()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rules.len(), 1);
    rules.remove(0)
}

/// Serializes rules as a `{"value": […]}` list.
fn to_list(rules: &[SuppressionRule]) -> Value {
    json!({ "value": rules.iter().map(|r| serde_json::to_value(r).unwrap()).collect::<Vec<_>>() })
}

/// An alert of `alert_type` with one IP entity and one process entity.
fn alert(alert_type: &str, ip: &str, command_line: &str) -> Alert {
    let doc = json!({
        "id": "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/providers/Microsoft.Security/locations/centralus/alerts/2518770965529163669_F144EE95-A3E5-42DA-A279-967D115809AA",
        "name": "2518770965529163669_F144EE95-A3E5-42DA-A279-967D115809AA",
        "type": "Microsoft.Security/Locations/alerts",
        "properties": {
            "alertType": alert_type,
            "systemAlertId": "2518770965529163669_F144EE95-A3E5-42DA-A279-967D115809AA",
            "alertDisplayName": "Anomalous IP address",
            "severity": "Medium",
            "status": "Active",
            "timeGeneratedUtc": "2019-11-30T11:00:00Z",
            "compromisedEntity": "vm1",
            "entities": [
                {"$id": "1", "type": "host", "hostName": "vm1"},
                {"$id": "2", "type": "ip", "address": ip},
                {"$id": "3", "type": "process", "commandLine": command_line, "host": {"$ref": "1"}}
            ]
        }
    });
    let mut alerts = parse_alerts(&doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
    alerts.remove(0)
}

fn matching_alert() -> Alert {
    alert(
        "IpAnomaly",
        "52.164.206.56",
        "c:\\windows\\system32\\windowspowershell\\v1.0\\powershell.exe -nop -w hidden",
    )
}

/// Whether the rule suppresses the alert at `at`, asserting that `RuleSet` and the reference agree.
fn suppresses(rule: &SuppressionRule, alert: &Alert, at: DateTime<Utc>) -> bool {
    let set = RuleSet::compile([rule.clone()]).unwrap_or_else(|e| panic!("{e}"));
    let reference = ReferenceMatcher::new(vec![rule.clone()]).unwrap_or_else(|e| panic!("{e}"));
    let got = set.is_suppressed(alert, at);
    assert_eq!(set.matching(alert, at).len(), usize::from(got));
    assert_eq!(set.first_match(alert, at).is_some(), got);
    assert_eq!(
        reference.matching(alert, at).len(),
        usize::from(got),
        "RuleSet and ReferenceMatcher disagree at {at}"
    );
    let x = set
        .explain(rule.name(), alert, at)
        .expect("explain knows the rule");
    assert_eq!(x.matched(), got, "explain disagrees: {x}");
    got
}

#[test]
fn both_samples_parse() {
    let put_body = parse_suppression_rules(&example_body(PUT)).unwrap_or_else(|e| panic!("{e}"));
    let put_req = parse_suppression_rules(&put_request()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        put_body, put_req,
        "the PUT request and response hold the same rule"
    );

    let list = parse_suppression_rules(&example_body(GET)).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = list.iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        [
            "dismissIpAnomalyAlerts",
            "dismissDataExfiltrationAnomalyAlertsOnTestVMs"
        ]
    );
    // The GET list's first rule is the PUT rule, spelled with `Utc`.
    let (a, b) = (&list[0], &put_body[0]);
    assert_eq!(a.name(), b.name());
    assert_eq!(a.alert_type(), b.alert_type());
    assert_eq!(a.expiration(), b.expiration());
    assert_eq!(a.state(), b.state());
    assert_eq!(a.comment(), b.comment());

    let other = &list[1];
    assert_eq!(other.alert_type(), "DataExfiltrationAnomaly");
    assert_eq!(other.reason(), &SuppressionReason::FalsePositive);
    assert_eq!(other.comment(), None);
    assert_eq!(other.expiration(), Some(expiry()));
}

#[test]
fn the_put_rule_reads_as_documented() {
    let r = the_rule();
    assert_eq!(r.name(), "dismissIpAnomalyAlerts");
    assert_eq!(r.alert_type(), "IpAnomaly");
    assert_eq!(r.state(), RuleState::Enabled);
    assert_eq!(r.reason(), &SuppressionReason::FalsePositive);
    assert_eq!(r.comment(), Some("Test VM"));
    assert_eq!(r.expiration(), Some(expiry()));

    assert_eq!(r.state_at(before_expiry()), RuleState::Enabled);
    assert_eq!(
        r.state_at(expiry() - Duration::microseconds(1)),
        RuleState::Enabled
    );
    assert_eq!(r.state_at(expiry()), RuleState::Expired);
    assert_eq!(r.state_at(expiry() + Duration::days(1)), RuleState::Expired);
    assert_eq!(r.state(), RuleState::Enabled, "state() is the stored state");
}

#[test]
fn both_samples_round_trip_and_keep_every_value() {
    // One resource.
    for text in [put_request(), example_body(PUT)] {
        let rules = parse_suppression_rules(&text).unwrap();
        let out = serde_json::to_value(&rules[0]).unwrap();
        let back = parse_suppression_rules(&out.to_string()).unwrap();
        assert_eq!(back, rules);
        let input: Value = serde_json::from_str(&text).unwrap();
        assert_values_kept(&input, &out);
        assert_eq!(out["properties"]["alertType"], "IpAnomaly");
        assert_eq!(out["name"], "dismissIpAnomalyAlerts");
        // `SuppressionRule::from_json` and `Deserialize` read the same resource.
        assert_eq!(SuppressionRule::from_json(input.clone()).unwrap(), rules[0]);
        let de: SuppressionRule = serde_json::from_value(input).unwrap();
        assert_eq!(de, rules[0]);
    }

    // The list.
    let body = example_body(GET);
    let rules = parse_suppression_rules(&body).unwrap();
    let out = to_list(&rules);
    let back = parse_suppression_rules(&out.to_string()).unwrap();
    assert_eq!(back, rules);
    let input: Value = serde_json::from_str(&body).unwrap();
    assert_values_kept(&input, &out);

    // A plain array reads too.
    let array = Value::Array(out["value"].as_array().unwrap().clone());
    assert_eq!(parse_suppression_rules(&array.to_string()).unwrap(), rules);

    // Serializing twice gives the same text.
    let again = to_list(&back);
    assert_eq!(again, out);
}

#[test]
fn unknown_properties_and_reasons_are_kept() {
    let mut v: Value = serde_json::from_str(&put_request()).unwrap();
    v["properties"]["reason"] = json!("BenignPositive");
    v["properties"]["whenEntityAbsent"] = json!("match");
    v["properties"]["someFutureProperty"] = json!({"nested": [1, "two"]});
    v["etag"] = json!("W/\"abc\"");
    let rules = parse_suppression_rules(&v.to_string()).unwrap();
    assert_eq!(
        rules[0].reason(),
        &SuppressionReason::Other("BenignPositive".into())
    );
    let out = serde_json::to_value(&rules[0]).unwrap();
    assert_values_kept(&v, &out);
    assert_eq!(parse_suppression_rules(&out.to_string()).unwrap(), rules);
}

#[test]
fn every_documented_reason_reads() {
    for (text, want) in [
        (
            "AlertSeverityTooHigh",
            SuppressionReason::AlertSeverityTooHigh,
        ),
        ("FalsePositive", SuppressionReason::FalsePositive),
        ("Noise", SuppressionReason::Noise),
        ("NotRelevant", SuppressionReason::NotRelevant),
        (
            "SpecificEntityFalsePositive",
            SuppressionReason::SpecificEntityFalsePositive,
        ),
        ("Unclear", SuppressionReason::Unclear),
    ] {
        let mut v: Value = serde_json::from_str(&put_request()).unwrap();
        v["properties"]["reason"] = json!(text);
        let r = SuppressionRule::from_json(v).unwrap();
        assert_eq!(r.reason(), &want, "{text}");
        let out = serde_json::to_value(&r).unwrap();
        assert_eq!(out["properties"]["reason"], text);
    }
}

// --- the acceptance test ---

#[test]
fn the_put_rule_suppresses_the_ip_anomaly_before_expiry() {
    let rule = the_rule();
    assert!(suppresses(&rule, &matching_alert(), before_expiry()));
    // The rule says "POWERSHELL.EXE"; the alert has it in lower case.
    assert!(suppresses(
        &rule,
        &alert("IpAnomaly", "52.164.206.56", "powershell.exe"),
        before_expiry()
    ));
    // The other listed IP works too (`in` is OR).
    assert!(suppresses(
        &rule,
        &alert("IpAnomaly", "104.215.95.187", "PowerShell.exe -c x"),
        before_expiry()
    ));
    // The alert type compares ignoring ASCII case.
    assert!(suppresses(
        &rule,
        &alert("ipanomaly", "52.164.206.56", "powershell.exe"),
        before_expiry()
    ));
    assert!(suppresses(
        &rule,
        &matching_alert(),
        expiry() - Duration::microseconds(1)
    ));
}

#[test]
fn the_put_rule_stops_at_its_expiry() {
    let rule = the_rule();
    assert!(!suppresses(&rule, &matching_alert(), expiry()), "at expiry");
    assert!(
        !suppresses(&rule, &matching_alert(), expiry() + Duration::seconds(1)),
        "after expiry"
    );
    assert!(
        !suppresses(
            &rule,
            &matching_alert(),
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
        ),
        "long after expiry"
    );
}

#[test]
fn the_put_rule_does_not_suppress_other_alerts() {
    let rule = the_rule();
    let at = before_expiry();
    assert!(
        !suppresses(&rule, &alert("IpAnomaly", "10.1.2.3", "powershell.exe"), at),
        "another IP"
    );
    assert!(
        !suppresses(
            &rule,
            &alert("OtherType", "52.164.206.56", "powershell.exe"),
            at
        ),
        "another alert type"
    );
    assert!(
        !suppresses(
            &rule,
            &alert("IpAnomaly", "52.164.206.56", "cmd.exe /c dir"),
            at
        ),
        "another command line"
    );
    assert!(
        !suppresses(
            &rule,
            &alert("IpAnomaly", "52.164.206.5", "powershell.exe"),
            at
        ),
        "an IP that only shares a prefix"
    );
}

#[test]
fn without_a_process_entity_the_put_rule_does_not_suppress_unless_told() {
    let doc = json!({
        "properties": {
            "alertType": "IpAnomaly",
            "systemAlertId": "no-process",
            "alertDisplayName": "Anomalous IP address",
            "severity": "Medium",
            "timeGeneratedUtc": "2019-11-30T11:00:00Z",
            "entities": [{"type": "ip", "address": "52.164.206.56"}]
        }
    });
    let a = parse_alerts(&doc.to_string()).unwrap().remove(0);
    let rule = the_rule();
    assert!(
        !suppresses(&rule, &a, before_expiry()),
        "the safe default: no process entity, no suppression"
    );

    let mut v = serde_json::to_value(&rule).unwrap();
    v["properties"]["whenEntityAbsent"] = json!("match");
    let defender_style = SuppressionRule::from_json(v).unwrap();
    assert!(
        suppresses(&defender_style, &a, before_expiry()),
        "Defender's documented behaviour with whenEntityAbsent: match"
    );
}

#[test]
fn explain_mentions_both_conditions() {
    let rule = the_rule();
    let set = RuleSet::compile([rule.clone()]).unwrap();

    let x = set
        .explain("dismissIpAnomalyAlerts", &matching_alert(), before_expiry())
        .unwrap();
    assert!(x.matched());
    let text = x.to_string();
    let lower = text.to_lowercase();
    for needle in [
        "entities.ip.address",
        "entities.process.commandline",
        "52.164.206.56",
        "powershell.exe",
    ] {
        assert!(
            lower.contains(needle),
            "explanation lacks {needle:?}:\n{text}"
        );
    }

    // A failing explanation names the failing value.
    let other_ip = alert("IpAnomaly", "10.1.2.3", "powershell.exe");
    let x = set
        .explain("dismissIpAnomalyAlerts", &other_ip, before_expiry())
        .unwrap();
    assert!(!x.matched());
    let text = x.to_string();
    assert!(
        text.to_lowercase().contains("entities.ip.address"),
        "{text}"
    );
    assert!(
        text.contains("10.1.2.3"),
        "names the alert's value:\n{text}"
    );

    // An expired rule says so.
    let x = set
        .explain("dismissIpAnomalyAlerts", &matching_alert(), expiry())
        .unwrap();
    assert!(!x.matched());
    assert!(x.to_string().to_lowercase().contains("expire"), "{x}");

    // The wrong type says so.
    let x = set
        .explain(
            "dismissIpAnomalyAlerts",
            &alert("OtherType", "52.164.206.56", "powershell.exe"),
            before_expiry(),
        )
        .unwrap();
    assert!(!x.matched());
    assert!(x.to_string().contains("OtherType"), "{x}");

    // An unknown rule name has no explanation.
    assert!(
        set.explain("noSuchRule", &matching_alert(), before_expiry())
            .is_none()
    );
}

#[test]
fn the_get_list_as_a_rule_set() {
    let rules = parse_suppression_rules(&example_body(GET)).unwrap();
    let set = RuleSet::compile(rules.clone()).unwrap_or_else(|e| panic!("{e}"));
    let reference = ReferenceMatcher::new(rules).unwrap();
    let at = before_expiry();

    let ip = matching_alert();
    let names =
        |v: Vec<&SuppressionRule>| v.iter().map(|r| r.name().to_owned()).collect::<Vec<_>>();
    assert_eq!(names(set.matching(&ip, at)), ["dismissIpAnomalyAlerts"]);
    assert_eq!(
        names(reference.matching(&ip, at)),
        ["dismissIpAnomalyAlerts"]
    );

    // The second rule has no conditions: every DataExfiltrationAnomaly alert, until expiry.
    let exfil = alert("DataExfiltrationAnomaly", "10.1.2.3", "rclone copy");
    assert_eq!(
        names(set.matching(&exfil, at)),
        ["dismissDataExfiltrationAnomalyAlertsOnTestVMs"]
    );
    assert_eq!(
        set.first_match(&exfil, at).map(|r| r.name()),
        Some("dismissDataExfiltrationAnomalyAlertsOnTestVMs")
    );
    assert!(!set.is_suppressed(&exfil, expiry()));
    assert!(!set.is_suppressed(&alert("OtherType", "10.1.2.3", "x"), at));
    // Neither sample rule is `*`, and both expire: no lint.
    assert!(set.warnings().is_empty(), "{:?}", set.warnings());
}
