//! Ingest: counting, updating, atomicity and suppression on arrival.

use std::collections::HashMap;

use chrono::Duration;
use vigil_core::store::{AlertQuery, ErrorKind, IngestReport, StatusChange, Store};
use vigil_core::suppression::{Condition, RuleSet, RuleState, SuppressionReason, SuppressionRule};
use vigil_core::{Alert, Entity, Severity, Status};

use super::sample;
use super::support::{
    alert, at, everything, expect_err, id, ids, must_get, sorted, tenant, with_status,
};

fn host_rule(name: &str, alert_type: &str, host: &str) -> SuppressionRule {
    SuppressionRule::builder(name, alert_type, SuppressionReason::FalsePositive)
        .condition(Condition::equals("entities.host.hostname", host))
        .build()
}

fn on_host(id_: &str, alert_type: &str, host: &str) -> Alert {
    alert(id_, alert_type, Severity::Medium, 5)
        .into_builder()
        .entity(Entity::host(host))
        .build()
}

/// `ingest` reports how many alerts were new, updated and suppressed, and stores each once.
pub fn ingest_counts(store: &dyn Store) {
    let t = tenant();
    let first: Vec<Alert> = (0..5)
        .map(|i| alert(&format!("count-{i}"), "VM_EICAR", Severity::Low, i))
        .collect();
    let report = store.ingest(&t, &first, at(0)).unwrap();
    assert_eq!(
        report,
        IngestReport {
            new: 5,
            updated: 0,
            suppressed: 0
        },
        "first batch of 5 new alerts"
    );
    store
        .create_rule(&t, host_rule("count-rule", "VM_EICAR", "noisy-host"), at(1))
        .unwrap();
    let second = vec![
        first[0].clone(),
        first[3].clone(),
        alert("count-5", "VM_EICAR", Severity::High, 1),
        on_host("count-6", "VM_EICAR", "noisy-host"),
        on_host("count-7", "VM_EICAR", "NOISY-HOST"),
    ];
    let report = store.ingest(&t, &second, at(2)).unwrap();
    assert_eq!(
        report,
        IngestReport {
            new: 3,
            updated: 2,
            suppressed: 2
        },
        "second batch: 2 known, 3 new of which 2 match a rule"
    );
    let all = everything(store, &t);
    assert_eq!(all.len(), 8, "8 distinct alerts must be stored, each once");
    let empty = store.ingest(&t, &[], at(3)).unwrap();
    assert_eq!(
        empty,
        IngestReport::default(),
        "an empty batch changes nothing"
    );
}

/// Re-ingesting a system id replaces the content, bumps the version, keeps the status a person
/// set, adds no audit entry, and is not re-checked against suppression rules.
pub fn ingest_update_keeps_status(store: &dyn Store) {
    let t = tenant();
    let original = alert("upd-1", "VM_EICAR", Severity::Medium, 30)
        .into_builder()
        .description("first description")
        .entity(Entity::host("web-01"))
        .build();
    store
        .ingest(&t, std::slice::from_ref(&original), at(0))
        .unwrap();
    let v1 = must_get(store, &t, original.system_alert_id());
    assert_eq!(v1.version, 1, "a new alert starts at version 1");
    assert_eq!(v1.ingested_at, at(0));
    let v2 = store
        .change_status(
            &t,
            original.system_alert_id(),
            v1.version,
            StatusChange::new(Status::InProgress, "alice"),
            at(10),
        )
        .unwrap();
    assert_eq!(v2.version, 2);

    // A rule that would match the new content: updates are not suppressed.
    store
        .create_rule(&t, host_rule("upd-rule", "VM_EICAR", "web-01"), at(15))
        .unwrap();
    let changed = original
        .clone()
        .into_builder()
        .description("second description")
        .entity(Entity::account("added-later"))
        .remediation_step("Isolate the machine.")
        .build();
    let report = store
        .ingest(&t, std::slice::from_ref(&changed), at(20))
        .unwrap();
    assert_eq!(report.updated, 1, "a known system id counts as updated");
    assert_eq!(report.new, 0);
    assert_eq!(
        report.suppressed, 0,
        "updates are not checked against rules"
    );

    let v3 = must_get(store, &t, original.system_alert_id());
    assert_eq!(
        v3.alert.status(),
        Status::InProgress,
        "re-ingest must keep the status a person set"
    );
    assert_eq!(
        v3.alert.description(),
        Some("second description"),
        "re-ingest must replace the content"
    );
    let expected = with_status(changed, Status::InProgress);
    assert_eq!(
        v3.alert, expected,
        "the stored alert must be the new content with the kept status"
    );
    assert_eq!(v3.version, 3, "re-ingest must bump the version");
    assert_eq!(
        v3.ingested_at,
        at(0),
        "ingested_at is when it was first stored"
    );
    assert_eq!(v3.updated_at, at(20), "updated_at is the re-ingest");
    assert!(v3.suppression.is_none());
    let history = store.history(&t, original.system_alert_id()).unwrap();
    assert_eq!(history.len(), 1, "re-ingest is not a status change");
    assert_eq!(
        everything(store, &t).len(),
        1,
        "re-ingest must not duplicate"
    );

    // The version the re-ingest produced is the one to use now.
    expect_err(
        store.change_status(
            &t,
            original.system_alert_id(),
            2,
            StatusChange::new(Status::Resolved, "alice"),
            at(30),
        ),
        ErrorKind::Conflict,
        "the version read before a re-ingest is stale after it",
    );
    store
        .change_status(
            &t,
            original.system_alert_id(),
            3,
            StatusChange::new(Status::Resolved, "alice"),
            at(31),
        )
        .unwrap();
}

/// One batch carrying the same system id twice: the second occurrence is an update of the
/// first (counted as updated), so the last content wins and the alert is stored once.
pub fn ingest_duplicate_ids_in_batch(store: &dyn Store) {
    let t = tenant();
    let a1 = alert("dup-1", "VM_EICAR", Severity::Low, 10)
        .into_builder()
        .description("first copy")
        .build();
    let a2 = a1.clone().into_builder().description("second copy").build();
    let other = alert("dup-2", "VM_EICAR", Severity::Low, 9);
    let report = store.ingest(&t, &[a1, other, a2.clone()], at(0)).unwrap();
    assert_eq!(
        report,
        IngestReport {
            new: 2,
            updated: 1,
            suppressed: 0
        },
        "a repeated id within one batch counts as an update"
    );
    let stored = must_get(store, &t, a2.system_alert_id());
    assert_eq!(stored.alert, a2, "the last copy in the batch wins");
    assert_eq!(stored.version, 2, "the second copy bumped the version");
    assert_eq!(everything(store, &t).len(), 2);
}

/// The contract says an ingest batch is atomic: on error, nothing of it is visible.
///
/// The batch here is valid for the contract but hard for many backends: one alert carries NUL
/// characters and a 1 MB extended property between ordinary alerts (text columns in
/// PostgreSQL, for example, reject NUL). The store may accept it — then every alert must read
/// back exactly — or reject it — then none of the batch may be visible, not even the alerts
/// before the bad one, and the rule hit counts must be unchanged. Backends must run a batch
/// in one transaction (or an equivalent all-or-nothing write) to pass; a store that writes
/// alert by alert passes only by never failing.
pub fn ingest_batch_atomicity(store: &dyn Store) {
    let t = tenant();
    store
        .create_rule(
            &t,
            host_rule("atomic-rule", "VM_EICAR", "noisy-host"),
            at(0),
        )
        .unwrap();
    let batch = vec![
        alert("atomic-1", "VM_EICAR", Severity::High, 1),
        on_host("atomic-2", "VM_EICAR", "noisy-host"),
        alert("atomic-3", "VM_EICAR", Severity::Low, 3)
            .into_builder()
            .description("nul \u{0} in the middle \u{0}")
            .entity(Entity::host("nul\u{0}host"))
            .extended_property("blob", "x".repeat(1 << 20))
            .build(),
        alert("atomic-4", "VM_EICAR", Severity::Medium, 4),
    ];
    match store.ingest(&t, &batch, at(1)) {
        Ok(report) => {
            assert_eq!(report.new, 4);
            assert_eq!(report.suppressed, 1);
            for a in &batch {
                let stored = must_get(store, &t, a.system_alert_id());
                if a.system_alert_id().as_str() != "atomic-2" {
                    assert_eq!(&stored.alert, a, "accepted alerts must read back exactly");
                }
            }
        }
        Err(_) => {
            for a in &batch {
                assert!(
                    store.get(&t, a.system_alert_id()).unwrap().is_none(),
                    "a failed batch must leave nothing visible, but {} is stored",
                    a.system_alert_id()
                );
            }
            assert!(everything(store, &t).is_empty());
            let rule = store.get_rule(&t, "atomic-rule").unwrap().unwrap();
            assert_eq!(rule.hit_count, 0, "a failed batch must not count rule hits");
            assert_eq!(rule.last_matched, None);
        }
    }
}

/// A suppressed alert is stored Dismissed with the rule's name and reason, an audit entry by
/// `rule:<name>`, and the rule's hit count and last-matched time updated.
pub fn ingest_suppression_records(store: &dyn Store) {
    let t = tenant();
    let rule = SuppressionRule::builder(
        "sup-web",
        "VM_EICAR",
        SuppressionReason::Other("BenignPositive".into()),
    )
    .condition(Condition::equals("entities.host.hostname", "web-01"))
    .build();
    let created = store.create_rule(&t, rule.clone(), at(0)).unwrap();
    assert_eq!(created.hit_count, 0);
    assert_eq!(created.last_matched, None);

    let hit = on_host("sup-1", "VM_EICAR", "WEB-01");
    let miss_type = on_host("sup-2", "VM_SuspiciousPowerShellCommandLine", "web-01");
    let miss_host = on_host("sup-3", "VM_EICAR", "web-02");
    let report = store
        .ingest(
            &t,
            &[hit.clone(), miss_type.clone(), miss_host.clone()],
            at(10),
        )
        .unwrap();
    assert_eq!(report.new, 3);
    assert_eq!(report.suppressed, 1);

    let stored = must_get(store, &t, hit.system_alert_id());
    assert_eq!(stored.alert.status(), Status::Dismissed);
    let s = stored
        .suppression
        .clone()
        .expect("a suppressed alert must record its suppression");
    assert_eq!(s.rule, "sup-web");
    assert_eq!(s.reason, SuppressionReason::Other("BenignPositive".into()));
    assert_eq!(s.at, at(10));
    assert_eq!(
        stored.alert,
        with_status(hit.clone(), Status::Dismissed),
        "suppression changes only the status"
    );
    let history = store.history(&t, hit.system_alert_id()).unwrap();
    assert_eq!(history.len(), 1, "one audit entry for the suppression");
    let e = &history[0];
    assert_eq!(e.actor, "rule:sup-web");
    assert_eq!(e.from, Status::Active);
    assert_eq!(e.to, Status::Dismissed);
    assert_eq!(e.at, at(10));
    assert_eq!(
        e.version, stored.version,
        "the entry holds the version after it"
    );

    for miss in [&miss_type, &miss_host] {
        let s = must_get(store, &t, miss.system_alert_id());
        assert_eq!(
            s.alert.status(),
            Status::Active,
            "{} must not be suppressed",
            miss.system_alert_id()
        );
        assert!(s.suppression.is_none());
        assert!(
            store
                .history(&t, miss.system_alert_id())
                .unwrap()
                .is_empty()
        );
    }

    let r = store.get_rule(&t, "sup-web").unwrap().unwrap();
    assert_eq!(r.hit_count, 1);
    assert_eq!(r.last_matched, Some(at(10)));
    store
        .ingest(&t, &[on_host("sup-4", "VM_EICAR", "web-01")], at(20))
        .unwrap();
    let r = store.get_rule(&t, "sup-web").unwrap().unwrap();
    assert_eq!(r.hit_count, 2);
    assert_eq!(r.last_matched, Some(at(20)));
    assert_eq!(r.version, created.version, "hits are not rule updates");
    assert_eq!(r.rule, rule, "hits do not change the rule");

    // A suppressed alert can be reactivated by a person; its suppression is then history.
    let s4 = must_get(store, &t, &id("sup-4"));
    let back = store
        .change_status(
            &t,
            &id("sup-4"),
            s4.version,
            StatusChange::new(Status::Active, "bob"),
            at(30),
        )
        .unwrap();
    assert_eq!(back.alert.status(), Status::Active);
    assert_eq!(store.history(&t, &id("sup-4")).unwrap().len(), 2);
}

/// Suppression never drops data: the alert is gettable, hidden from the default queue, listed
/// under a Dismissed status filter and counted.
pub fn ingest_suppression_keeps_data(store: &dyn Store) {
    let t = tenant();
    store
        .create_rule(&t, host_rule("keep-rule", "*", "quiet-host"), at(0))
        .unwrap();
    let alerts: Vec<Alert> = (0..6)
        .map(|i| {
            on_host(
                &format!("keep-{i}"),
                "VM_EICAR",
                if i % 2 == 0 {
                    "quiet-host"
                } else {
                    "loud-host"
                },
            )
        })
        .collect();
    let report = store.ingest(&t, &alerts, at(1)).unwrap();
    assert_eq!(report.suppressed, 3);
    for a in &alerts {
        assert!(store.get(&t, a.system_alert_id()).unwrap().is_some());
    }
    let default_ids = sorted(&ids(&store
        .query(&t, &AlertQuery::default())
        .unwrap()
        .alerts));
    assert_eq!(default_ids, vec![id("keep-1"), id("keep-3"), id("keep-5")]);
    let dismissed = store
        .query(&t, &AlertQuery::default().statuses([Status::Dismissed]))
        .unwrap();
    assert_eq!(
        sorted(&ids(&dismissed.alerts)),
        vec![id("keep-0"), id("keep-2"), id("keep-4")],
        "suppressed alerts are listed under a Dismissed filter"
    );
    let counts = store
        .counts(&t, &AlertQuery::default().all_statuses())
        .unwrap();
    assert_eq!(counts.total(), 6);
    assert!(counts.by_status.contains(&(Status::Dismissed, 3)));
}

/// When several rules match, the first in creation order is the one recorded (and counted).
pub fn ingest_suppression_first_rule_wins(store: &dyn Store) {
    let t = tenant();
    // Created in the order z, a, m: creation order, not name order, decides.
    for (name, alert_type) in [
        ("z-first", "*"),
        ("a-second", "VM_EICAR"),
        ("m-third", "VM_EICAR"),
    ] {
        store
            .create_rule(&t, host_rule(name, alert_type, "shared-host"), at(0))
            .unwrap();
    }
    store
        .ingest(&t, &[on_host("first-1", "VM_EICAR", "shared-host")], at(1))
        .unwrap();
    let s = must_get(store, &t, &id("first-1"));
    assert_eq!(s.suppression.map(|s| s.rule).as_deref(), Some("z-first"));
    let hits: Vec<(String, u64)> = store
        .list_rules(&t)
        .unwrap()
        .into_iter()
        .map(|r| (r.rule.name().to_owned(), r.hit_count))
        .collect();
    assert_eq!(
        hits,
        vec![
            ("z-first".to_owned(), 1),
            ("a-second".to_owned(), 0),
            ("m-third".to_owned(), 0)
        ],
        "only the recorded rule counts the hit"
    );
    // Delete the first: the next in creation order takes over.
    store.delete_rule(&t, "z-first", at(0)).unwrap();
    store
        .ingest(&t, &[on_host("first-2", "VM_EICAR", "shared-host")], at(2))
        .unwrap();
    let s = must_get(store, &t, &id("first-2"));
    assert_eq!(s.suppression.map(|s| s.rule).as_deref(), Some("a-second"));
}

/// Disabled rules and rules whose expiry is at or before `at` do not suppress; an expired rule
/// reads Expired through `state_at`; one nanosecond before expiry it still suppresses.
pub fn ingest_expired_and_disabled_rules_do_not_suppress(store: &dyn Store) {
    let t = tenant();
    let expiry = at(100);
    let disabled = SuppressionRule::builder("off", "VM_EICAR", SuppressionReason::Noise)
        .condition(Condition::equals("entities.host.hostname", "h-off"))
        .state(RuleState::Disabled)
        .build();
    let expiring = SuppressionRule::builder("expiring", "VM_EICAR", SuppressionReason::Noise)
        .condition(Condition::equals("entities.host.hostname", "h-exp"))
        .expires_at(expiry)
        .build();
    store.create_rule(&t, disabled, at(0)).unwrap();
    store.create_rule(&t, expiring, at(0)).unwrap();

    let just_before = expiry - Duration::nanoseconds(1);
    let r = store
        .ingest(&t, &[on_host("exp-1", "VM_EICAR", "h-exp")], just_before)
        .unwrap();
    assert_eq!(r.suppressed, 1, "a rule matches strictly before its expiry");
    let r = store
        .ingest(&t, &[on_host("exp-2", "VM_EICAR", "h-exp")], expiry)
        .unwrap();
    assert_eq!(
        r.suppressed, 0,
        "a rule no longer matches at its expiry instant"
    );
    let r = store
        .ingest(
            &t,
            &[on_host("exp-3", "VM_EICAR", "h-exp")],
            expiry + Duration::days(1),
        )
        .unwrap();
    assert_eq!(r.suppressed, 0, "a rule no longer matches after its expiry");
    assert_eq!(
        must_get(store, &t, &id("exp-2")).alert.status(),
        Status::Active
    );
    assert_eq!(
        must_get(store, &t, &id("exp-3")).alert.status(),
        Status::Active
    );

    let r = store
        .ingest(&t, &[on_host("off-1", "VM_EICAR", "h-off")], at(1))
        .unwrap();
    assert_eq!(r.suppressed, 0, "a disabled rule does not suppress");
    assert_eq!(
        must_get(store, &t, &id("off-1")).alert.status(),
        Status::Active
    );

    let stored = store.get_rule(&t, "expiring").unwrap().unwrap();
    assert_eq!(stored.rule.expiration(), Some(expiry), "expiry round-trips");
    assert_eq!(stored.rule.state_at(just_before), RuleState::Enabled);
    assert_eq!(stored.rule.state_at(expiry), RuleState::Expired);
    assert_eq!(stored.hit_count, 1);
    assert_eq!(stored.last_matched, Some(just_before));
    let off = store.get_rule(&t, "off").unwrap().unwrap();
    assert_eq!(off.rule.state(), RuleState::Disabled);
    assert_eq!(off.hit_count, 0);
}

/// Suppression on ingest equals the in-core matcher: over generated alerts and rules, the
/// suppressed ids are exactly those for which `RuleSet::compile(rules).first_match(alert, at)`
/// is `Some`, the recorded rule is that first match, and each rule's hit count is the number of
/// alerts it was the first match for.
pub fn ingest_suppression_equals_matcher(store: &dyn Store) {
    let t = tenant();
    let rules = sample::rules(11, 24);
    let alerts = sample::alerts(11, 240, "eq", false);
    for (i, r) in rules.iter().enumerate() {
        store
            .create_rule(&t, r.clone(), at(i as i64 - 100))
            .unwrap();
    }
    let set = RuleSet::compile(rules.clone()).unwrap();
    let ingest_at = at(0);
    let mut suppressed = 0;
    let mut expected_hits: HashMap<String, u64> = HashMap::new();
    let mut expected: HashMap<String, Option<String>> = HashMap::new();
    for a in &alerts {
        let m = set.first_match(a, ingest_at).map(|r| r.name().to_owned());
        if let Some(name) = &m {
            suppressed += 1;
            *expected_hits.entry(name.clone()).or_default() += 1;
        }
        expected.insert(a.system_alert_id().to_string(), m);
    }
    assert!(
        suppressed > 10 && suppressed < alerts.len() - 10,
        "the generated inputs should suppress some but not all alerts ({suppressed})"
    );
    // Three batches, so rules are applied across batches too.
    let mut report = IngestReport::default();
    for chunk in alerts.chunks(80) {
        let r = store.ingest(&t, chunk, ingest_at).unwrap();
        report.new += r.new;
        report.suppressed += r.suppressed;
    }
    assert_eq!(report.new, alerts.len());
    assert_eq!(report.suppressed, suppressed, "suppressed count");
    for a in &alerts {
        let stored = must_get(store, &t, a.system_alert_id());
        let want = &expected[a.system_alert_id().as_str()];
        let got = stored.suppression.as_ref().map(|s| s.rule.clone());
        assert_eq!(
            &got,
            want,
            "alert {}: recorded rule differs from RuleSet::first_match",
            a.system_alert_id()
        );
        let want_status = if want.is_some() {
            Status::Dismissed
        } else {
            a.status()
        };
        assert_eq!(
            stored.alert.status(),
            want_status,
            "alert {}",
            a.system_alert_id()
        );
    }
    for r in store.list_rules(&t).unwrap() {
        let want = expected_hits.get(r.rule.name()).copied().unwrap_or(0);
        assert_eq!(r.hit_count, want, "hit count of rule {}", r.rule.name());
        assert_eq!(r.last_matched, (want > 0).then_some(ingest_at));
    }
}
