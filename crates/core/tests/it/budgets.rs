//! Hostile and careless rules: within the compile budgets they compile and match like any
//! other rule; past them they are refused with a problem naming the rule, the condition and the
//! limit. No wall-clock assertions: the work is bounded by the budgets themselves (the regex
//! budget is checked before a regex is parsed), and timings live in `benches/suppression.rs`
//! (`hostile/...`).

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use vigil_core::suppression::budget::{
    MAX_CIDRS_PER_CONDITION, MAX_LITERAL_BYTES_PER_RULE, MAX_REGEX_CHARS_PER_SET,
    MAX_REGEX_PROGRAM_PER_SET, MAX_VALUES_PER_CONDITION, MAX_WILDCARDS_PER_CONDITION,
    MAX_WILDCARDS_PER_SET,
};
use vigil_core::suppression::reference::ReferenceMatcher;
use vigil_core::suppression::{RuleError, RuleSet, SuppressionRule};
use vigil_core::{Alert, AlertId, Entity, Severity};

const CMD: &str = "entities.process.commandline";

fn rule(name: &str, op: &str, values: Value) -> SuppressionRule {
    SuppressionRule::from_json(json!({"name": name, "properties": {
        "alertType": "*", "reason": "Noise", "state": "Enabled",
        "expirationDateUtc": "2027-01-01T00:00:00Z",
        "suppressionAlertsScope": {"allOf": [{"field": CMD, op: values}]}}}))
    .unwrap()
}

/// `n` distinct texts that no alert here contains.
fn texts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("zq{i:07}x")).collect()
}

fn alert(cmd: &str) -> Alert {
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    Alert::builder(AlertId::new("a").unwrap(), "VM_X", "x", Severity::High, at)
        .entity(Entity::process(cmd))
        .build()
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap()
}

fn refused(rules: Vec<SuppressionRule>) -> RuleError {
    match RuleSet::compile(rules) {
        Ok(_) => panic!("expected the rules to be refused"),
        Err(e) => e,
    }
}

#[test]
fn a_contains_list_at_the_value_limit_compiles_and_matches() {
    let mut values = texts(MAX_VALUES_PER_CONDITION);
    values[77_777] = "Invoke-Mimikatz".to_owned();
    let set = RuleSet::compile([rule("big-list", "contains", json!(values))]).unwrap();
    let hit = alert("powershell.exe -c INVOKE-MIMIKATZ -DumpCreds");
    let miss = alert("powershell.exe -c Get-Date");
    assert_eq!(
        set.first_match(&hit, at()).map(|r| r.name()),
        Some("big-list")
    );
    assert!(set.first_match(&miss, at()).is_none());
}

#[test]
fn one_value_over_the_limit_is_refused_naming_rule_condition_and_limit() {
    let e = refused(vec![rule(
        "too-long",
        "in",
        json!(texts(MAX_VALUES_PER_CONDITION + 1)),
    )]);
    let p = &e.problems()[0];
    assert_eq!(p.rule, "too-long");
    assert_eq!(p.condition.as_deref(), Some("0"));
    assert_eq!(p.field.as_deref(), Some(CMD));
    assert!(p.message.contains("100001 values"), "{}", p.message);
    assert!(p.message.contains("the limit is 100000"), "{}", p.message);
}

#[test]
fn thousands_of_long_regexes_are_refused_by_the_set_budget() {
    // 2,000 distinct regexes of 990 characters, each under the per-regex limit: the set's
    // regex budget refuses the condition once it is crossed, before parsing the rest.
    let regexes: Vec<String> = (0..2_000)
        .map(|i| {
            let mut r = format!("zq{i:05}-");
            while r.len() + 16 <= 990 {
                r.push_str("[a-f0-9]{2}(x|y)");
            }
            r
        })
        .collect();
    let e = refused(vec![rule("regexes", "regex", json!(regexes))]);
    assert_eq!(e.problems().len(), 1);
    let p = &e.problems()[0];
    assert_eq!(
        (p.rule.as_str(), p.condition.as_deref()),
        ("regexes", Some("0"))
    );
    // Whichever of the set's regex budgets (source characters, estimated program size) is
    // crossed first.
    assert!(
        p.message.contains(&format!(
            "the limit is {MAX_REGEX_CHARS_PER_SET} characters"
        )) || p.message.contains(&format!(
            "the limit is {MAX_REGEX_PROGRAM_PER_SET} per rule set"
        )),
        "{}",
        p.message
    );
}

#[test]
fn a_wildcard_list_over_the_condition_limit_is_refused() {
    let patterns: Vec<String> = texts(20_000)
        .iter()
        .map(|t| format!("*powershell*{t}*"))
        .collect();
    let e = refused(vec![rule("wild", "wildcard", json!(patterns))]);
    let p = &e.problems()[0];
    assert_eq!(
        (p.rule.as_str(), p.condition.as_deref()),
        ("wild", Some("0"))
    );
    assert!(
        p.message.contains(&format!(
            "lists 20000 patterns; the limit is {MAX_WILDCARDS_PER_CONDITION} per condition"
        )),
        "{}",
        p.message
    );
}

#[test]
fn many_hostile_wildcard_rules_are_each_named() {
    let patterns: Vec<String> = texts(20_000)
        .iter()
        .map(|t| format!("*powershell*{t}*"))
        .collect();
    let rules: Vec<SuppressionRule> = (0..39)
        .map(|i| rule(&format!("wild-{i}"), "wildcard", json!(patterns)))
        .collect();
    let e = refused(rules);
    for i in 0..39 {
        let name = format!("wild-{i}");
        assert!(
            e.problems()
                .iter()
                .any(|p| p.rule == name && p.message.contains("per condition")),
            "{name}"
        );
    }
}

#[test]
fn a_wildcard_list_at_the_condition_limit_matches_like_the_reference() {
    let n = MAX_WILDCARDS_PER_CONDITION;
    let mut patterns: Vec<String> = texts(n)
        .iter()
        .map(|t| format!("*powershell*{t}*"))
        .collect();
    patterns[n / 2] = "power?hell.exe *-enc*".to_owned();
    let rules = vec![rule("wild", "wildcard", json!(patterns))];
    let set = RuleSet::compile(rules.clone()).unwrap();
    let reference = ReferenceMatcher::new(rules).unwrap();
    for cmd in [
        "PowerShell.exe -nop -enc AAAA",
        "powershell.exe -nop",
        "powershell -c zq0000042x",
        "powershell.exe zq0000042x",
    ] {
        let a = alert(cmd);
        let got: Vec<&str> = set.matching(&a, at()).iter().map(|r| r.name()).collect();
        let want: Vec<&str> = reference
            .matching(&a, at())
            .iter()
            .map(|r| r.name())
            .collect();
        assert_eq!(got, want, "{cmd}");
    }
    assert!(set.is_suppressed(&alert("PowerShell.exe -nop -enc AAAA"), at()));
    assert!(set.is_suppressed(&alert("x powershell y zq0000042x z"), at()));
}

#[test]
fn the_set_wildcard_budget_names_the_rule_that_crosses_it() {
    let per_rule = MAX_WILDCARDS_PER_CONDITION;
    let rules_needed = MAX_WILDCARDS_PER_SET / per_rule + 1;
    let rules: Vec<SuppressionRule> = (0..rules_needed)
        .map(|i| {
            let p: Vec<String> = texts(per_rule)
                .iter()
                .map(|t| format!("*{i}x{t}*"))
                .collect();
            rule(&format!("w{i}"), "wildcard", json!(p))
        })
        .collect();
    let e = refused(rules);
    assert_eq!(e.problems().len(), 1);
    let p = &e.problems()[0];
    assert_eq!(p.rule, format!("w{}", rules_needed - 1));
    assert!(
        p.message.contains(&format!(
            "the limit is {MAX_WILDCARDS_PER_SET} per rule set"
        )),
        "{}",
        p.message
    );
}

#[test]
fn a_long_cidr_list_is_refused() {
    let nets: Vec<String> = (0..=MAX_CIDRS_PER_CONDITION)
        .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
        .collect();
    let r = SuppressionRule::from_json(json!({"name": "nets", "properties": {
        "alertType": "*", "reason": "Noise", "state": "Enabled",
        "suppressionAlertsScope": {"allOf": [{"field": "entities.ip.address", "cidr": nets}]}}}))
    .unwrap();
    let e = refused(vec![r]);
    assert!(e.problems()[0].message.contains(&format!(
        "the limit is {MAX_CIDRS_PER_CONDITION} per condition"
    )));
}

#[test]
fn a_rule_over_the_byte_budget_is_refused() {
    // 70,000 values of 64 bytes: under the value-count limit, over 4 MiB of values.
    let values: Vec<String> = (0..70_000).map(|i| format!("{i:064}")).collect();
    assert!(values.len() * 64 > MAX_LITERAL_BYTES_PER_RULE);
    let e = refused(vec![rule("bytes", "in", json!(values))]);
    let p = &e.problems()[0];
    assert_eq!(
        (p.rule.as_str(), p.condition.as_deref()),
        ("bytes", Some("0"))
    );
    assert!(
        p.message.contains("bytes of values per rule"),
        "{}",
        p.message
    );
}
