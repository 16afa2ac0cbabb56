//! Data-driven suppression-rule cases: `tests/rules/*.json`.
//!
//! Each file is a JSON array of cases:
//!
//! ```json
//! {"name": "…", "rule": {…rule properties…}, "alert": {…alert properties…},
//!  "at": "2026-01-01T00:00:00Z", "expect": true}
//! ```
//!
//! - `rule` holds the rule resource's `properties`, merged over `alertType: "T1"`,
//!   `reason: "FalsePositive"`, `state: "Enabled"`; the runner wraps them into a resource named
//!   after the case.
//! - `alert` holds alert `properties`, merged over a minimal alert of type `T1` (optional).
//! - `at` is the instant of the check (optional, default `2026-01-01T00:00:00Z`).
//! - `expect` says whether the rule suppresses the alert at `at`.
//!
//! Every case is checked through the public parsers against both [`RuleSet`] (`matching`,
//! `first_match`, `is_suppressed`, `explain`) and the [`ReferenceMatcher`], and every failing
//! case is reported at once, by file and name.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use vigil_core::Alert;
use vigil_core::defender::{parse_alerts, parse_suppression_rules};
use vigil_core::suppression::reference::ReferenceMatcher;
use vigil_core::suppression::{RuleSet, SuppressionRule};

use crate::common::assert_values_kept;

const DEFAULT_AT: &str = "2026-01-01T00:00:00Z";

/// One case, read and parsed.
struct Case {
    file: String,
    name: String,
    /// The rule resource's name: the case name reduced to letters, digits and `-`.
    rule_name: String,
    rule: SuppressionRule,
    /// The rule resource as written, before parsing.
    rule_json: Value,
    alert: Alert,
    at: DateTime<Utc>,
    expect: bool,
}

fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/rules")
}

/// `Some thing: else!` → `Some-thing-else`.
fn resource_name(case_name: &str) -> String {
    let mut out = String::new();
    for c in case_name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

fn merge(mut base: Value, over: &Value, what: &str) -> Value {
    let (Value::Object(b), Value::Object(o)) = (&mut base, over) else {
        panic!("{what}: expected a JSON object, found {over}");
    };
    for (k, v) in o {
        b.insert(k.clone(), v.clone());
    }
    base
}

fn rule_resource(rule_name: &str, properties: &Value, what: &str) -> Value {
    let props = merge(
        json!({"alertType": "T1", "reason": "FalsePositive", "state": "Enabled"}),
        properties,
        what,
    );
    json!({
        "id": format!("/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Security/alertsSuppressionRules/{rule_name}"),
        "name": rule_name,
        "type": "Microsoft.Security/alertsSuppressionRules",
        "properties": props,
    })
}

fn alert_resource(alert_name: &str, properties: &Value, what: &str) -> Value {
    let props = merge(
        json!({
            "alertType": "T1",
            "systemAlertId": alert_name,
            "alertDisplayName": "Test alert",
            "severity": "High",
            "timeGeneratedUtc": "2025-12-31T08:30:00Z",
        }),
        properties,
        what,
    );
    json!({
        "id": format!("/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Security/locations/westeurope/alerts/{alert_name}"),
        "name": alert_name,
        "type": "Microsoft.Security/Locations/alerts",
        "properties": props,
    })
}

fn parse_at(s: &str, what: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{what}: bad \"at\" {s:?}: {e}"))
        .with_timezone(&Utc)
}

/// Every case of every file, in file-name order; panics on a malformed case file (not on a
/// failing case).
fn load_cases() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(rules_dir())
        .unwrap_or_else(|e| panic!("{}: {e}", rules_dir().display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no case files in {}",
        rules_dir().display()
    );

    let mut cases = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: not JSON: {e}"));
        let Value::Array(items) = doc else {
            panic!("{file}: expected an array of cases");
        };
        let mut seen = std::collections::HashSet::new();
        for (i, item) in items.iter().enumerate() {
            let name = item["name"]
                .as_str()
                .unwrap_or_else(|| panic!("{file}[{i}]: case has no \"name\""))
                .to_owned();
            let what = format!("{file}: {name}");
            if let Value::Object(m) = item {
                for k in m.keys() {
                    assert!(
                        ["name", "rule", "alert", "at", "expect"].contains(&k.as_str()),
                        "{what}: unknown case key {k:?}"
                    );
                }
            }
            let rule_name = resource_name(&name);
            assert!(!rule_name.is_empty(), "{what}: name has no letters");
            assert!(
                seen.insert(rule_name.clone()),
                "{what}: duplicate case name in {file}"
            );
            let expect = item["expect"]
                .as_bool()
                .unwrap_or_else(|| panic!("{what}: \"expect\" must be true or false"));
            let at = parse_at(item["at"].as_str().unwrap_or(DEFAULT_AT), &what);

            let rule_json = rule_resource(&rule_name, &item["rule"], &what);
            let rules = parse_suppression_rules(&rule_json.to_string())
                .unwrap_or_else(|e| panic!("{what}: the rule does not parse: {e}\n{rule_json}"));
            let [rule] = <[SuppressionRule; 1]>::try_from(rules)
                .unwrap_or_else(|r| panic!("{what}: expected one rule, parsed {}", r.len()));
            assert_eq!(rule.name(), rule_name, "{what}: rule name");

            let alert_props = if item["alert"].is_null() {
                json!({})
            } else {
                item["alert"].clone()
            };
            let alert_json = alert_resource(&rule_name, &alert_props, &what);
            let alerts = parse_alerts(&alert_json.to_string())
                .unwrap_or_else(|e| panic!("{what}: the alert does not parse: {e}\n{alert_json}"));
            let [alert] = <[Alert; 1]>::try_from(alerts)
                .unwrap_or_else(|a| panic!("{what}: expected one alert, parsed {}", a.len()));

            cases.push(Case {
                file: file.clone(),
                name,
                rule_name,
                rule,
                rule_json,
                alert,
                at,
                expect,
            });
        }
    }
    cases
}

/// Runs one case against a one-rule set and the reference matcher; returns what went wrong.
fn check(case: &Case) -> Vec<String> {
    let mut wrong = Vec::new();
    let Case {
        rule,
        alert,
        at,
        expect,
        rule_name,
        ..
    } = case;
    let (at, expect) = (*at, *expect);

    match RuleSet::compile([rule.clone()]) {
        Err(e) => wrong.push(format!("RuleSet::compile failed: {e}")),
        Ok(set) => {
            let m = set.matching(alert, at);
            let names: Vec<&str> = m.iter().map(|r| r.name()).collect();
            let want: Vec<&str> = if expect { vec![rule_name] } else { vec![] };
            if names != want {
                wrong.push(format!("RuleSet::matching gave {names:?}"));
            }
            if set.is_suppressed(alert, at) != expect {
                wrong.push(format!(
                    "RuleSet::is_suppressed gave {}",
                    set.is_suppressed(alert, at)
                ));
            }
            if set.first_match(alert, at).is_some() != expect {
                wrong.push("RuleSet::first_match disagrees".to_owned());
            }
            match set.explain(rule_name, alert, at) {
                None => wrong.push("RuleSet::explain found no rule of that name".to_owned()),
                Some(x) if x.matched() != expect => {
                    wrong.push(format!(
                        "RuleSet::explain says matched={}: {x}",
                        x.matched()
                    ));
                }
                Some(_) => {}
            }
        }
    }
    match ReferenceMatcher::new(vec![rule.clone()]) {
        Err(e) => wrong.push(format!("ReferenceMatcher::new failed: {e}")),
        Ok(reference) => {
            let n = reference.matching(alert, at).len();
            if (n == 1) != expect || n > 1 {
                wrong.push(format!("ReferenceMatcher::matching gave {n} rules"));
            }
        }
    }
    wrong
}

#[test]
fn every_rule_case_holds_in_rule_set_and_reference() {
    let cases = load_cases();
    assert!(
        cases.len() >= 120,
        "only {} cases; the suite should have at least 120",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let wrong = check(case);
        if !wrong.is_empty() {
            failures.push(format!(
                "{} / {:?} (expect {}):\n    {}",
                case.file,
                case.name,
                case.expect,
                wrong.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rule cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_case_expects_both_outcomes_somewhere() {
    // Guards against a file that silently tests only one outcome.
    let cases = load_cases();
    let mut files: Vec<&str> = cases.iter().map(|c| c.file.as_str()).collect();
    files.dedup();
    for file in files {
        let of_file = || cases.iter().filter(move |c| c.file == file);
        assert!(
            of_file().any(|c| c.expect),
            "{file}: no case expects a match"
        );
        assert!(
            of_file().any(|c| !c.expect),
            "{file}: no case expects no match"
        );
    }
}

/// All the cases' rules in one set (names prefixed by file so that they stay unique): for every
/// case's alert, the set's matches are the reference's, in rule-set order, and include the case's
/// own rule exactly when the case expects it.
#[test]
fn all_case_rules_in_one_set_agree_with_the_reference() {
    let cases = load_cases();
    let renamed: Vec<SuppressionRule> = cases
        .iter()
        .map(|c| {
            let mut v = serde_json::to_value(&c.rule).unwrap();
            let stem = c.file.trim_end_matches(".json").replace('_', "-");
            let name = format!("{stem}--{}", c.rule_name);
            v["name"] = Value::String(name.clone());
            if let Some(id) = v.get("id").and_then(Value::as_str) {
                let id = format!("{}/{name}", id.rsplit_once('/').map_or(id, |(h, _)| h));
                v["id"] = Value::String(id);
            }
            let rule = SuppressionRule::from_json(v)
                .unwrap_or_else(|e| panic!("{}: re-reading the serialized rule: {e}", c.name));
            assert_eq!(rule.name(), name);
            rule
        })
        .collect();
    let set = RuleSet::compile(renamed.clone()).unwrap_or_else(|e| panic!("{e}"));
    let reference = ReferenceMatcher::new(renamed.clone()).unwrap_or_else(|e| panic!("{e}"));
    let position = |name: &str| renamed.iter().position(|r| r.name() == name).unwrap();

    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let got: Vec<&str> = set
            .matching(&case.alert, case.at)
            .iter()
            .map(|r| r.name())
            .collect();
        let want: Vec<&str> = reference
            .matching(&case.alert, case.at)
            .iter()
            .map(|r| r.name())
            .collect();
        let order: Vec<usize> = got.iter().map(|n| position(n)).collect();
        if !order.is_sorted() {
            failures.push(format!(
                "{}: matches not in rule-set order: {got:?}",
                case.name
            ));
        }
        let mut got_sorted = got.clone();
        let mut want_sorted = want.clone();
        got_sorted.sort_unstable();
        want_sorted.sort_unstable();
        if got_sorted != want_sorted {
            failures.push(format!(
                "{} / {}: RuleSet gives {got:?}, reference gives {want:?}",
                case.file, case.name
            ));
        }
        let own = renamed[i].name();
        if got.contains(&own) != case.expect {
            failures.push(format!(
                "{} / {}: own rule matched={} in the full set, expected {}",
                case.file,
                case.name,
                got.contains(&own),
                case.expect
            ));
        }
        if set.is_suppressed(&case.alert, case.at) == got.is_empty() {
            failures.push(format!(
                "{}: is_suppressed disagrees with matching",
                case.name
            ));
        }
        if set.first_match(&case.alert, case.at).map(|r| r.name()) != got.first().copied() {
            failures.push(format!(
                "{}: first_match is not the first of matching",
                case.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems with all {} rules in one set:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A case's rule serialized and read back is the same rule, and the serialized form keeps every
/// value the rule was written with.
#[test]
fn every_case_rule_round_trips() {
    let mut failures = Vec::new();
    for case in load_cases() {
        let out = serde_json::to_value(&case.rule).unwrap();
        match parse_suppression_rules(&out.to_string()) {
            Ok(back) if back == vec![case.rule.clone()] => {}
            Ok(back) => failures.push(format!("{}: read back as {back:?}", case.name)),
            Err(e) => failures.push(format!("{}: does not read back: {e}\n{out}", case.name)),
        }
        // `whenEntityAbsent: "noMatch"` is the default; writing it back is optional.
        let mut input = case.rule_json.clone();
        if let Some(props) = input["properties"].as_object_mut()
            && props
                .get("whenEntityAbsent")
                .is_some_and(|v| v == "noMatch")
        {
            props.remove("whenEntityAbsent");
        }
        let kept = std::panic::catch_unwind(|| assert_values_kept(&input, &out));
        if kept.is_err() {
            failures.push(format!(
                "{}: a value was lost in serialization\n  in:  {}\n  out: {out}",
                case.name, case.rule_json
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
