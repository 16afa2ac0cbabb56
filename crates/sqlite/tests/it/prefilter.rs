//! `simulate` and `apply_rule` find a rule's candidates through the backend's indexes (the
//! rule's type and its most selective entity condition); the answers must be those of checking
//! every alert with the compiled rule.

use std::collections::BTreeMap;

use chrono::Duration;
use vigil_core::store::{AlertQuery, Store, TenantId};
use vigil_core::suppression::{
    Condition, EntityAbsence, RuleSet, SuppressionReason, SuppressionRule,
};
use vigil_core::{Alert, AlertId, Entity, Severity, Status, json};
use vigil_testkit::generate::{AlertGenerator, HotRules, RuleGenerator, RuleMix, reference_time};

use crate::support::temp_store;

/// What checking every stored alert with the compiled rule gives: per status, and the ids.
fn reference(all: &[Alert], rule: &SuppressionRule, open_only: bool) -> BTreeMap<String, Status> {
    let set = RuleSet::compile([rule.clone()]).unwrap();
    all.iter()
        .filter(|a| !open_only || a.status().is_open())
        .filter(|a| set.is_suppressed(a, reference_time()))
        .map(|a| (a.id().as_str().to_owned(), a.status()))
        .collect()
}

/// Alerts whose entity values an `in` test matches in ways an entity lookup must not miss: in a
/// list, in another letter case, beside a number.
fn tricky() -> Vec<Alert> {
    let t = reference_time() - Duration::hours(1);
    let mk = |id: &str, e: Entity| {
        Alert::builder(
            AlertId::new(id).unwrap(),
            "Tricky",
            "tricky",
            Severity::High,
            t,
        )
        .entity(e)
        .build()
    };
    vec![
        mk(
            "in-a-list",
            Entity::ip("10.9.9.9").with("addresses", json!(["10.1.1.1", "10.2.2.2"])),
        ),
        mk("upper-case", Entity::host("HOST-ONE")),
        mk("a-number", Entity::ip("10.3.3.3").with("port", json!(4444))),
        mk(
            "nested-list",
            Entity::ip("10.4.4.4").with("more", json!([["10.5.5.5"]])),
        ),
        mk("plain", Entity::ip("10.6.6.6")),
    ]
}

/// Every stored alert, as stored (statuses included), page by page.
fn every_alert(store: &impl Store, t: &TenantId) -> Vec<Alert> {
    let mut out = Vec::new();
    let mut q = AlertQuery::default().all_statuses().limit(500);
    loop {
        let page = store.query(t, &q).unwrap();
        out.extend(page.alerts.into_iter().map(|s| s.alert));
        match page.next {
            Some(c) => q = q.cursor(Some(c)),
            None => return out,
        }
    }
}

#[test]
fn rules_find_the_alerts_a_check_of_every_alert_finds() {
    let store = temp_store();
    let t = TenantId::new("prefilter").unwrap();
    let mut all = AlertGenerator::new(5).alerts(800);
    all.extend(tricky());
    store.ingest(&t, &all, reference_time()).unwrap();
    let stored = every_alert(&store, &t);
    assert_eq!(stored.len(), all.len());

    // Half the generated rules hot (drawn from values the alerts carry), so that many match.
    let mix = RuleMix {
        hot: HotRules::Fraction(0.5),
        ..RuleMix::default()
    };
    let mut rules: Vec<SuppressionRule> = RuleGenerator::with_mix(3, mix)
        .rules(150)
        .iter()
        .map(|r| r.to_rule().unwrap())
        .collect();
    let rule = |name: &str, ty: &str, c: Condition| {
        SuppressionRule::builder(name, ty, SuppressionReason::FalsePositive)
            .condition(c)
            .build()
    };
    rules.extend([
        rule(
            "list",
            "*",
            Condition::is_in("entities.ip.addresses", ["10.2.2.2"]),
        ),
        rule(
            "case",
            "tricky",
            Condition::is_in("entities.host.hostname", ["host-one"]),
        ),
        rule("number", "*", Condition::equals("entities.ip.port", "4444")),
        rule(
            "nested",
            "*",
            Condition::is_in("entities.ip.more", ["10.5.5.5", "10.0.0.0"]),
        ),
        rule(
            "prefixed",
            "*",
            Condition::is_in("properties.entities.ip.address", ["10.6.6.6"]),
        ),
        SuppressionRule::builder("absent", "*", SuppressionReason::FalsePositive)
            .condition(Condition::is_in("entities.account.name", ["nobody"]))
            .when_entity_absent(EntityAbsence::Match)
            .build(),
    ]);
    let mut nonempty = 0;
    for r in &rules {
        if RuleSet::compile([r.clone()]).is_err() {
            continue;
        }
        let want = reference(&stored, r, false);
        let sim = store.simulate(&t, r, reference_time(), usize::MAX).unwrap();
        let mut by_status: BTreeMap<Status, u64> = BTreeMap::new();
        for s in want.values() {
            *by_status.entry(*s).or_default() += 1;
        }
        for (s, n) in &sim.by_status {
            assert_eq!(
                by_status.get(s).copied().unwrap_or(0),
                *n,
                "{}: {s:?}",
                r.name()
            );
        }
        let mut got: Vec<&str> = sim.sample.iter().map(AlertId::as_str).collect();
        got.sort_unstable();
        let expect: Vec<&str> = want.keys().map(String::as_str).collect();
        assert_eq!(got, expect, "{}", r.name());
        nonempty += usize::from(!want.is_empty());
    }
    assert!(nonempty >= 20, "only {nonempty} rules matched anything");

    // Applying the hand-made rules dismisses exactly the open alerts each matches.
    for name in ["list", "case", "number", "nested", "prefixed", "absent"] {
        let r = rules.iter().find(|r| r.name() == name).unwrap();
        let now = every_alert(&store, &t);
        let want = reference(&now, r, true);
        assert!(!want.is_empty(), "{name} matches an open alert");
        store.create_rule(&t, r.clone(), reference_time()).unwrap();
        let mut done: Vec<String> = store
            .apply_rule(&t, name, "tester", reference_time())
            .unwrap()
            .into_iter()
            .map(|i| i.as_str().to_owned())
            .collect();
        done.sort();
        let expect: Vec<String> = want.into_keys().collect();
        assert_eq!(done, expect, "{name}");
    }
}
