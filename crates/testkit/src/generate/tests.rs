#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use vigil_core::suppression::RuleSet;

use super::*;

#[test]
fn same_seed_same_alerts_and_rules() {
    assert_eq!(
        AlertGenerator::new(42).alerts(200),
        AlertGenerator::new(42).alerts(200)
    );
    assert_eq!(
        RuleGenerator::new(42).rules(200),
        RuleGenerator::new(42).rules(200)
    );
    assert_ne!(
        AlertGenerator::new(1).alerts(20),
        AlertGenerator::new(2).alerts(20)
    );
    assert_ne!(
        RuleGenerator::new(1).rules(20),
        RuleGenerator::new(2).rules(20)
    );
}

#[test]
fn alerts_look_like_defender_alerts() {
    let alerts = AlertGenerator::new(7).alerts(2_000);
    let ids: HashSet<_> = alerts.iter().map(|a| a.system_alert_id().clone()).collect();
    assert_eq!(ids.len(), alerts.len(), "system alert ids are unique");

    let mut types = std::collections::HashMap::<&str, usize>::new();
    for a in &alerts {
        *types.entry(a.alert_type()).or_default() += 1;
        assert!((1..=6).contains(&a.entities().len()));
        assert!(a.compromised_entity().is_some());
        assert!(a.extended_property("resourceType").is_some());
        assert!(a.time_generated() < reference_time());
        for e in a.entities() {
            if let Some(cmd) = e.get_str("commandLine") {
                assert!((40..=200).contains(&cmd.len()), "{cmd:?}");
            }
        }
    }
    // Skewed: many types, but the most frequent one is far above the average.
    let max = types.values().copied().max().unwrap();
    assert!(types.len() > 100, "{} types", types.len());
    assert!(max > 10 * alerts.len() / types.len(), "max {max}");
    let v6 = alerts
        .iter()
        .flat_map(|a| a.entities())
        .filter_map(|e| e.get_str("address"))
        .filter(|a| a.contains(':'))
        .count();
    assert!(v6 > 0, "some IPv6 addresses");
}

#[test]
fn rules_follow_the_mix() {
    let rules = RuleGenerator::new(11).rules(5_000);
    let names: HashSet<_> = rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names.len(), rules.len(), "names are unique");
    let frac = |f: &dyn Fn(&RuleSpec) -> bool| {
        rules.iter().filter(|r| f(r)).count() as f64 / rules.len() as f64
    };
    let at = reference_time();
    let any = frac(&|r| r.is_any_type());
    assert!((0.01..0.06).contains(&any), "{any}");
    let expired = frac(&|r| r.expiration.is_some_and(|e| e <= at));
    assert!((0.03..0.08).contains(&expired), "{expired}");
    let disabled = frac(&|r| r.state == vigil_core::suppression::RuleState::Disabled);
    assert!((0.03..0.08).contains(&disabled), "{disabled}");
    for op in [
        "in",
        "contains",
        "startsWith",
        "endsWith",
        "wildcard",
        "regex",
        "cidr",
    ] {
        assert!(
            rules
                .iter()
                .flat_map(|r| &r.conditions)
                .any(|c| c.operator() == op),
            "no {op} condition"
        );
    }
    for r in &rules {
        assert!((1..=3).contains(&r.conditions.len()));
        for c in &r.conditions {
            if let CondSpec::Cidr(_, net) = c {
                let (addr, len) = net.split_once('/').unwrap();
                assert!(addr.parse::<std::net::Ipv4Addr>().is_ok(), "{net}");
                assert!(["8", "16", "24", "32"].contains(&len), "{net}");
            }
        }
    }
}

#[test]
fn rules_compile() {
    let rules: Vec<_> = RuleGenerator::new(5)
        .rules(3_000)
        .iter()
        .map(|r| r.to_rule().unwrap())
        .collect();
    RuleSet::compile(rules).unwrap();
}

#[test]
fn some_but_not_most_alerts_are_suppressed() {
    let alerts = AlertGenerator::new(3).alerts(1_000);
    let rules: Vec<_> = RuleGenerator::new(3)
        .rules(1_000)
        .iter()
        .map(|r| r.to_rule().unwrap())
        .collect();
    let set = RuleSet::compile(rules).unwrap();
    let at = reference_time();
    let suppressed = alerts.iter().filter(|a| set.is_suppressed(a, at)).count();
    assert!(
        (5..=150).contains(&suppressed),
        "{suppressed} of 1000 suppressed"
    );
}
