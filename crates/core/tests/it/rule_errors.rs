//! Malformed suppression rules are rejected — by `parse_suppression_rules` or by
//! `RuleSet::compile` — never with a panic, and the problem names the rule, the condition and the
//! field and says what is wrong. Over-broad rules compile with lint warnings.

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::{Value, json};
use vigil_core::defender::parse_suppression_rules;
use vigil_core::suppression::reference::ReferenceMatcher;
use vigil_core::suppression::{RuleError, RuleProblem, RuleSet, SuppressionRule};

/// A valid rule resource named `name`, with `props` merged over valid properties.
fn rule_with(name: &str, props: Value) -> Value {
    let mut p = json!({
        "alertType": "IpAnomaly",
        "reason": "FalsePositive",
        "state": "Enabled",
        "expirationDateUtc": "2030-01-01T00:00:00Z",
        "comment": "test",
        "suppressionAlertsScope": {"allOf": [{"field": "entities.ip.address", "equals": "10.0.0.1"}]}
    });
    for (k, v) in props.as_object().unwrap() {
        p[k] = v.clone();
    }
    json!({
        "id": format!("/subscriptions/s/providers/Microsoft.Security/alertsSuppressionRules/{name}"),
        "name": name,
        "type": "Microsoft.Security/alertsSuppressionRules",
        "properties": p,
    })
}

/// A valid rule resource named `name` with these conditions (`suppressionAlertsScope.allOf`).
fn conds(name: &str, all_of: Value) -> Value {
    rule_with(name, json!({"suppressionAlertsScope": {"allOf": all_of}}))
}

/// A valid rule resource with one property removed.
fn without(name: &str, key: &str) -> Value {
    let mut v = rule_with(name, json!({}));
    v["properties"].as_object_mut().unwrap().remove(key);
    v
}

fn long_regex(n: usize) -> String {
    "a".repeat(n)
}

#[derive(Clone, Copy, Debug)]
enum Stage {
    /// Parses; `RuleSet::compile` reports the problem.
    Compile,
    /// A rule property: either the parser rejects it (its error naming the property) or compile
    /// does.
    Either,
}

/// What the rejection must say.
#[derive(Debug)]
struct Expect {
    stage: Stage,
    /// The condition index path, when the problem is in a condition (`None`: not checked).
    condition: Option<String>,
    /// The problem's `field` (compared ignoring ASCII case): `Some(Some(f))` must be `f`,
    /// `Some(None)` must be absent, `None`: not checked.
    field: Option<Option<String>>,
    /// Every group must have one of its strings in the message (compared ignoring case), or, for
    /// `Either` failing at parse time, in the error text.
    says: Vec<Vec<String>>,
    /// Strings that must appear in the message exactly (case-sensitive), e.g. a suggestion.
    says_exactly: Vec<String>,
}

/// The malformed rules, as data: `data/rule_errors.json` holds one case per entry — the rule
/// resource (`document`), the stage that must reject it, and what the rejection must say
/// (`condition`, `field`: absent = not checked, `null` = must be absent; `says`: groups of
/// alternatives, case-insensitive; `saysExactly`).
const CASES: &str = include_str!("data/rule_errors.json");

/// Every malformed rule: (rule name, resource, what the rejection must say).
fn cases() -> Vec<(String, Value, Expect)> {
    let all: Vec<Value> = serde_json::from_str(CASES).expect("data/rule_errors.json is JSON");
    all.into_iter()
        .map(|c| {
            let name = c["name"].as_str().expect("a case has a name").to_owned();
            let strings = |v: &Value| -> Vec<String> {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let expect = Expect {
                stage: match c["stage"].as_str() {
                    Some("compile") => Stage::Compile,
                    Some("either") => Stage::Either,
                    other => panic!("case {name}: unknown stage {other:?}"),
                },
                condition: c
                    .get("condition")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                field: c.get("field").map(|f| f.as_str().map(str::to_owned)),
                says: c["says"]
                    .as_array()
                    .map(|g| g.iter().map(strings).collect())
                    .unwrap_or_default(),
                says_exactly: strings(&c["saysExactly"]),
            };
            (name, c["document"].clone(), expect)
        })
        .collect()
}

/// Runs the parser then compile on one resource, catching panics; `Ok(problems)` if compile
/// rejected it, `Err(text)` if the parser did, and a panic message or "accepted" otherwise.
enum Outcome {
    ParseError(String),
    CompileError(RuleError),
    Accepted,
    Panicked(String),
}

fn run(doc: &Value) -> Outcome {
    let text = doc.to_string();
    let result = catch_unwind(AssertUnwindSafe(|| match parse_suppression_rules(&text) {
        Err(e) => Outcome::ParseError(e.to_string()),
        Ok(rules) => match RuleSet::compile(rules) {
            Err(e) => Outcome::CompileError(e),
            Ok(_) => Outcome::Accepted,
        },
    }));
    result.unwrap_or_else(|p| {
        Outcome::Panicked(
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default(),
        )
    })
}

fn says_all(text: &str, e: &Expect) -> bool {
    let lower = text.to_lowercase();
    e.says
        .iter()
        .all(|group| group.iter().any(|s| lower.contains(&s.to_lowercase())))
        && e.says_exactly.iter().all(|s| text.contains(s.as_str()))
}

fn problem_fits(p: &RuleProblem, name: &str, e: &Expect) -> bool {
    p.rule == name
        && e.condition
            .as_deref()
            .is_none_or(|c| p.condition.as_deref() == Some(c))
        && e.field
            .as_ref()
            .is_none_or(|f| match (f.as_deref(), p.field.as_deref()) {
                (None, None) => true,
                (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
                _ => false,
            })
        && says_all(&p.message, e)
}

fn show(problems: &[RuleProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("{p:?}"))
        .collect::<Vec<_>>()
        .join("\n        ")
}

#[test]
fn at_least_fifty_malformed_rules() {
    let cases = cases();
    assert!(cases.len() >= 50, "only {} malformed rules", cases.len());
    let mut names: Vec<&str> = cases.iter().map(|c| c.0.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "duplicate case names");
}

#[test]
fn every_malformed_rule_is_rejected_with_a_precise_problem() {
    let failures = failures_of(cases());
    assert!(
        failures.is_empty(),
        "{} malformed rules not rejected as expected:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Numbers and booleans in rule values are not errors: like the alert's own numbers and
/// booleans, they compare by their JSON text (documented in docs/suppression.md).
#[test]
fn number_and_boolean_rule_values_compare_as_json_text() {
    use chrono::TimeZone;
    use vigil_core::suppression::RuleSet;
    use vigil_core::{Alert, AlertId, Severity};
    let rule = |name: &str, cond: Value| {
        SuppressionRule::from_json(json!({"name": name, "properties": {
            "alertType": "T1", "reason": "FalsePositive", "state": "Enabled",
            "suppressionAlertsScope": {"allOf": [cond]}}}))
        .unwrap()
    };
    let set = RuleSet::compile([
        rule(
            "pid-number",
            json!({"field": "extendedProperties.PID", "equals": 944}),
        ),
        rule(
            "pid-mixed-in",
            json!({"field": "extendedProperties.PID", "in": ["4", 944]}),
        ),
        rule(
            "incident-bool",
            json!({"field": "isIncident", "equals": true}),
        ),
    ])
    .unwrap();
    let at = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let alert = |pid: Value, incident: bool| {
        Alert::builder(AlertId::new("a").unwrap(), "T1", "x", Severity::Low, at)
            .extended_property("PID", pid)
            .incident(incident)
            .build()
    };
    let names = |a: &Alert| -> Vec<String> {
        set.matching(a, at)
            .iter()
            .map(|r| r.name().to_owned())
            .collect()
    };
    assert_eq!(
        names(&alert(json!(944), false)),
        ["pid-number", "pid-mixed-in"]
    );
    assert_eq!(
        names(&alert(json!("944"), true)),
        ["pid-number", "pid-mixed-in", "incident-bool"]
    );
    assert_eq!(names(&alert(json!(945), false)), Vec::<String>::new());
}

fn failures_of(cases: Vec<(String, Value, Expect)>) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, doc, expect) in cases {
        let name = name.as_str();
        assert_eq!(doc["name"], name, "case {name}: resource name");
        match (run(&doc), expect.stage) {
            (Outcome::Panicked(msg), _) => failures.push(format!("{name}: PANIC: {msg}")),
            (Outcome::Accepted, _) => failures.push(format!("{name}: accepted, expected a rejection")),
            (Outcome::ParseError(text), Stage::Compile) => failures.push(format!(
                "{name}: rejected by the parser ({text}); expected it to parse and RuleSet::compile to report it"
            )),
            (Outcome::ParseError(text), Stage::Either) => {
                if !says_all(&text, &expect) {
                    failures.push(format!(
                        "{name}: parse error does not say {:?}: {text}",
                        expect.says
                    ));
                }
            }
            (Outcome::CompileError(err), stage) => {
                let problems = err.problems();
                let fits = |p: &RuleProblem| match stage {
                    Stage::Compile => problem_fits(p, name, &expect),
                    // A rule property: the name may be in the message or in `field`.
                    Stage::Either => {
                        p.rule == name
                            && (says_all(&p.message, &expect)
                                || says_all(
                                    &format!(
                                        "condition {} {} {}",
                                        p.condition.as_deref().unwrap_or(""),
                                        p.field.as_deref().unwrap_or(""),
                                        p.message
                                    ),
                                    &expect,
                                ))
                    }
                };
                if !problems.iter().any(fits) {
                    failures.push(format!(
                        "{name}: no problem fits condition={:?} field={:?} says={:?} exactly={:?}; got:\n        {}",
                        expect.condition,
                        expect.field,
                        expect.says,
                        expect.says_exactly,
                        show(problems)
                    ));
                }
                if problems.iter().any(|p| p.rule != name) {
                    failures.push(format!("{name}: a problem names another rule: {}", show(problems)));
                }
                let display = err.to_string();
                if !display.contains(name) {
                    failures.push(format!("{name}: the error's Display does not name the rule: {display}"));
                }
                if let Some(c) = expect.condition.as_deref()
                    && !display.contains(c)
                {
                    failures.push(format!(
                        "{name}: the error's Display does not name condition {c}: {display}"
                    ));
                }
            }
        }
    }
    failures
}

/// The reference matcher validates rules too: every malformed rule that parses is rejected.
#[test]
fn the_reference_matcher_rejects_the_same_rules() {
    let mut failures = Vec::new();
    for (name, doc, _) in cases() {
        let Ok(rules) = parse_suppression_rules(&doc.to_string()) else {
            continue;
        };
        let r = catch_unwind(AssertUnwindSafe(|| ReferenceMatcher::new(rules).is_err()));
        match r {
            Ok(true) => {}
            Ok(false) => failures.push(format!("{name}: accepted by ReferenceMatcher::new")),
            Err(_) => failures.push(format!("{name}: ReferenceMatcher::new panicked")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_regex_of_exactly_1000_characters_is_accepted() {
    let doc = conds(
        "regex-1000",
        json!([{"field": "entities.host.hostname", "regex": long_regex(1000)}]),
    );
    let rules = parse_suppression_rules(&doc.to_string()).unwrap();
    RuleSet::compile(rules).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn not_json_is_a_parse_error() {
    for text in ["", "{", "[1, 2", "nul", "{\"properties\": }"] {
        let r = catch_unwind(|| parse_suppression_rules(text));
        assert!(matches!(r, Ok(Err(_))), "{text:?} should be a parse error");
    }
    // Documents of the wrong shape, too.
    for text in [
        "42",
        "\"rule\"",
        "[42]",
        "{\"value\": 3}",
        "{\"value\": [null]}",
    ] {
        let r = catch_unwind(|| parse_suppression_rules(text));
        assert!(matches!(r, Ok(Err(_))), "{text:?} should be rejected");
    }
}

#[test]
fn a_rule_with_several_problems_reports_each() {
    let doc = conds(
        "several",
        json!([
            {"field": "entities.host.hostname", "startswith": "web"},
            {"field": "entities.ip.address", "equals": "1.1.1.1"},
            {"field": "entities.ip.address", "in": []},
            {"anyOf": [{"field": "nope.nope", "equals": "x"}]}
        ]),
    );
    let rules = parse_suppression_rules(&doc.to_string()).unwrap();
    let err = RuleSet::compile(rules).unwrap_err();
    let conditions: Vec<Option<&str>> = err
        .problems()
        .iter()
        .map(|p| p.condition.as_deref())
        .collect();
    for want in ["0", "2", "3.anyOf[0]"] {
        assert!(
            conditions.contains(&Some(want)),
            "no problem at {want}: {}",
            show(err.problems())
        );
    }
    assert!(!conditions.contains(&Some("1")), "{}", show(err.problems()));
    assert!(err.problems().iter().all(|p| p.rule == "several"));
}

#[test]
fn a_rule_set_with_three_bad_rules_reports_all_three() {
    let good = rule_with("good", json!({}));
    let bad1 = conds(
        "bad-operator",
        json!([{"field": "entities.host.hostname", "startswith": "web"}]),
    );
    let bad2 = conds(
        "bad-cidr",
        json!([{"field": "entities.ip.address", "cidr": "10.0.0.0/33"}]),
    );
    let bad3 = conds(
        "bad-regex",
        json!([{"field": "entities.host.hostname", "regex": "(web"}]),
    );
    let list = json!({"value": [bad1, good, bad2, bad3]});
    let rules = parse_suppression_rules(&list.to_string()).unwrap();
    assert_eq!(rules.len(), 4);
    let err = RuleSet::compile(rules.clone()).unwrap_err();
    let mut named: Vec<&str> = err.problems().iter().map(|p| p.rule.as_str()).collect();
    named.sort_unstable();
    named.dedup();
    assert_eq!(
        named,
        ["bad-cidr", "bad-operator", "bad-regex"],
        "{}",
        show(err.problems())
    );
    let display = err.to_string();
    for n in ["bad-cidr", "bad-operator", "bad-regex"] {
        assert!(display.contains(n), "Display does not name {n}: {display}");
    }
    assert!(!err.problems().iter().any(|p| p.rule == "good"));
    // It is a std error.
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert!(!boxed.to_string().is_empty());

    // The reference matcher reports the same three rules.
    let Err(err) = ReferenceMatcher::new(rules) else {
        panic!("the reference matcher accepted bad rules");
    };
    let mut named: Vec<&str> = err.problems().iter().map(|p| p.rule.as_str()).collect();
    named.sort_unstable();
    named.dedup();
    assert_eq!(named, ["bad-cidr", "bad-operator", "bad-regex"]);
}

#[test]
fn a_rule_set_mixing_parse_errors_fails_at_parse_time_naming_the_item() {
    let bad = without("no-state", "state");
    let list = json!({"value": [rule_with("good", json!({})), bad]});
    match parse_suppression_rules(&list.to_string()) {
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains("state"), "{text}");
            assert!(
                text.contains("[1]") || text.contains("no-state"),
                "names the item: {text}"
            );
        }
        Ok(rules) => {
            let err = RuleSet::compile(rules).unwrap_err();
            assert!(
                err.problems().iter().any(|p| p.rule == "no-state"),
                "{}",
                show(err.problems())
            );
        }
    }
}

// --- lint warnings ---

fn warnings_of(docs: Vec<Value>) -> Vec<vigil_core::suppression::RuleWarning> {
    let rules: Vec<SuppressionRule> = docs
        .into_iter()
        .map(|d| SuppressionRule::from_json(d).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let set = RuleSet::compile(rules).unwrap_or_else(|e| panic!("lint cases must compile: {e}"));
    set.warnings().to_vec()
}

#[test]
fn a_specific_rule_gives_no_warning() {
    let w = warnings_of(vec![conds(
        "specific",
        json!([{"field": "entities.process.commandline", "contains": "powershell"}]),
    )]);
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn star_rule_without_conditions_is_linted() {
    let w = warnings_of(vec![rule_with(
        "star-no-conditions",
        json!({"alertType": "*", "suppressionAlertsScope": {"allOf": []}}),
    )]);
    assert!(!w.is_empty(), "no warning");
    assert!(w.iter().all(|w| w.rule == "star-no-conditions"), "{w:?}");
    assert!(
        w.iter()
            .any(|w| w.message.to_lowercase().contains("condition")),
        "a warning should say there are no conditions: {w:?}"
    );
    for x in &w {
        assert!(
            x.to_string().contains("star-no-conditions"),
            "Display names the rule: {x}"
        );
    }

    let w = warnings_of(vec![{
        let mut d = rule_with("star-no-scope", json!({"alertType": "*"}));
        d["properties"]
            .as_object_mut()
            .unwrap()
            .remove("suppressionAlertsScope");
        d
    }]);
    assert!(
        w.iter()
            .any(|w| w.rule == "star-no-scope" && w.message.to_lowercase().contains("condition")),
        "{w:?}"
    );
}

#[test]
fn star_rule_without_expiry_is_linted() {
    let mut d = rule_with("star-forever", json!({"alertType": "*"}));
    d["properties"]
        .as_object_mut()
        .unwrap()
        .remove("expirationDateUtc");
    let w = warnings_of(vec![d]);
    assert!(
        w.iter().any(|w| w.rule == "star-forever"
            && ["expir", "never", "forever"]
                .iter()
                .any(|k| w.message.to_lowercase().contains(k))),
        "{w:?}"
    );
    // The same rule with an expiry and conditions is not linted.
    let w = warnings_of(vec![rule_with("star-bounded", json!({"alertType": "*"}))]);
    assert!(w.is_empty(), "{w:?}");
    // A specific type without expiry is fine.
    let mut d = rule_with("typed-forever", json!({}));
    d["properties"]
        .as_object_mut()
        .unwrap()
        .remove("expirationDateUtc");
    assert!(warnings_of(vec![d]).is_empty());
}

#[test]
fn short_contains_values_are_linted() {
    for (name, value, cond) in [
        ("contains-one-char", json!("a"), "0"),
        ("contains-two-chars", json!("ab"), "0"),
        ("contains-short-in-array", json!(["powershell", "x"]), "0"),
    ] {
        let w = warnings_of(vec![conds(
            name,
            json!([{"field": "entities.process.commandline", "contains": value}]),
        )]);
        assert!(
            w.iter()
                .any(|w| w.rule == name && w.condition.as_deref() == Some(cond)),
            "{name}: {w:?}"
        );
    }
    let w = warnings_of(vec![conds(
        "contains-short-nested",
        json!([{"field": "entities.ip.address", "equals": "1.1.1.1"}, {"anyOf": [{"field": "entities.host.hostname", "contains": "vm"}]}]),
    )]);
    assert!(
        w.iter()
            .any(|w| w.rule == "contains-short-nested"
                && w.condition.as_deref() == Some("1.anyOf[0]")),
        "{w:?}"
    );
    let w = warnings_of(vec![conds(
        "contains-three-chars",
        json!([{"field": "entities.process.commandline", "contains": "abc"}]),
    )]);
    assert!(w.is_empty(), "three characters are fine: {w:?}");
    // Other operators with short values are not linted as `contains`.
    let w = warnings_of(vec![conds(
        "equals-short",
        json!([{"field": "entities.host.hostname", "equals": "a"}]),
    )]);
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn warnings_from_several_rules_are_all_reported() {
    let mut forever = rule_with("w-star-forever", json!({"alertType": "*"}));
    forever["properties"]
        .as_object_mut()
        .unwrap()
        .remove("expirationDateUtc");
    let w = warnings_of(vec![
        forever,
        rule_with("w-fine", json!({})),
        conds(
            "w-short",
            json!([{"field": "entities.process.commandline", "contains": "x"}]),
        ),
    ]);
    let mut named: Vec<&str> = w.iter().map(|w| w.rule.as_str()).collect();
    named.sort_unstable();
    named.dedup();
    assert_eq!(named, ["w-short", "w-star-forever"], "{w:?}");
}

// --- exact messages (written against the implementation's wording) ---

fn compile_error(props: Value) -> RuleError {
    let doc = json!({"name": "r1", "properties": props});
    let rules = parse_suppression_rules(&doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
    RuleSet::compile(rules).unwrap_err()
}

#[test]
fn full_display_of_an_unknown_operator() {
    let err = compile_error(json!({
        "alertType": "IpAnomaly", "reason": "FalsePositive", "state": "Enabled",
        "suppressionAlertsScope": {"allOf": [{"field": "entities.host.hostname", "startswith": "web"}]}
    }));
    assert_eq!(
        err.to_string(),
        "1 problem(s) in suppression rules:\n  - rule \"r1\": condition 0: field \"entities.host.hostname\": unknown operator \"startswith\" (did you mean \"startsWith\"?)"
    );
}

#[test]
fn full_display_of_two_problems_in_one_rule() {
    let err = compile_error(json!({
        "alertType": "IpAnomaly", "reason": "FalsePositive", "state": "Enabled",
        "suppressionAlertsScope": {"allOf": [
            {"field": "entities.ip.address", "cidr": "10.0.0.0/33"},
            {"anyOf": [{"field": "entities.ip.address", "in": []}]}
        ]}
    }));
    assert_eq!(
        err.to_string(),
        "2 problem(s) in suppression rules:\n  - rule \"r1\": condition 0: field \"entities.ip.address\": invalid CIDR \"10.0.0.0/33\" (expected an IPv4 or IPv6 network such as 10.0.0.0/8 or 2001:db8::/32)\n  - rule \"r1\": condition 1.anyOf[0]: field \"entities.ip.address\": \"in\" has an empty list of values; it would never match"
    );
}

#[test]
fn full_text_of_an_unknown_state() {
    let doc = json!({"name": "r1", "properties": {"alertType": "IpAnomaly", "reason": "FalsePositive", "state": "On"}});
    match parse_suppression_rules(&doc.to_string()) {
        Err(e) => assert_eq!(
            e.to_string(),
            "properties.state: unknown rule state \"On\" (expected Enabled, Disabled or Expired)"
        ),
        Ok(rules) => panic!("parsed: {rules:?}"),
    }
}

/// Deeply nested combinations are handled (accepted or rejected), never a stack overflow or
/// panic; the JSON parser's own depth limit applies to text.
#[test]
fn deeply_nested_conditions_do_not_panic() {
    for depth in [10usize, 50, 100] {
        let mut c = json!({"field": "entities.host.hostname", "equals": "vm1"});
        for i in 0..depth {
            c = if i % 2 == 0 {
                json!({"not": c})
            } else {
                json!({"anyOf": [c]})
            };
        }
        let doc = conds("deep", json!([c]));
        let r = catch_unwind(AssertUnwindSafe(|| {
            if let Ok(rules) = parse_suppression_rules(&doc.to_string())
                && let Ok(set) = RuleSet::compile(rules)
            {
                let alert = vigil_core::defender::parse_alerts(
                    r#"{"properties": {"alertType": "IpAnomaly", "systemAlertId": "a", "alertDisplayName": "x",
                        "severity": "High", "timeGeneratedUtc": "2026-01-01T00:00:00Z",
                        "entities": [{"type": "host", "hostName": "vm1"}]}}"#,
                )
                .unwrap()
                .remove(0);
                let at = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                    .unwrap()
                    .with_timezone(&chrono::Utc);
                let _ = set.matching(&alert, at);
                let _ = set.explain("deep", &alert, at).map(|x| x.to_string());
            }
        }));
        assert!(r.is_ok(), "depth {depth} panicked");
    }
}
