//! Suppression-rule management: CRUD with versions, validation, simulation, "suppress similar
//! alerts", applying a rule to existing alerts, and deletion.

use std::collections::HashMap;

use vigil_core::store::{ErrorKind, Simulation, StatusChange, Store, disable_rule};
use vigil_core::suppression::{
    Condition, RuleSet, RuleState, SuppressionReason, SuppressionRule, similar_rule,
};
use vigil_core::{Alert, AlertId, Entity, Severity, Status};

use super::sample;
use super::support::{
    alert, at, everything, expect_err, id, ids, must_get, sorted, tenant, with_status,
};

fn rule(name: &str, alert_type: &str, host: &str) -> SuppressionRule {
    SuppressionRule::builder(name, alert_type, SuppressionReason::FalsePositive)
        .condition(Condition::equals("entities.host.hostname", host))
        .comment(format!("rule {name}"))
        .build()
}

fn on_host(id_: &str, alert_type: &str, host: &str, status: Status) -> Alert {
    with_status(
        alert(id_, alert_type, Severity::Medium, 3)
            .into_builder()
            .entity(Entity::host(host))
            .build(),
        status,
    )
}

/// Create, get, list (creation order), update with a version (stale is Conflict, missing is
/// NotFound), disable through `disable_rule`, delete (then NotFound).
pub fn rules_crud(store: &dyn Store) {
    let t = tenant();
    assert!(store.list_rules(&t).unwrap().is_empty());
    assert!(store.get_rule(&t, "zeta").unwrap().is_none());
    let names = ["zeta", "alpha", "mid"];
    for (i, n) in names.iter().enumerate() {
        let r = rule(n, "VM_EICAR", &format!("host-{n}"));
        let stored = store.create_rule(&t, r.clone(), at(i as i64)).unwrap();
        assert_eq!(stored.rule, r, "the stored rule is the rule given");
        assert_eq!(stored.version, 1);
        assert_eq!(
            (stored.created_at, stored.updated_at),
            (at(i as i64), at(i as i64))
        );
        assert_eq!((stored.hit_count, stored.last_matched), (0, None));
        assert_eq!(store.get_rule(&t, n).unwrap(), Some(stored));
    }
    let listed = |store: &dyn Store| -> Vec<String> {
        store
            .list_rules(&t)
            .unwrap()
            .iter()
            .map(|r| r.rule.name().to_owned())
            .collect()
    };
    assert_eq!(listed(store), names, "rules list in creation order");

    let mut changed = rule("alpha", "*", "other-host");
    changed.set_last_modified(at(50));
    let v2 = store.update_rule(&t, changed.clone(), 1, at(50)).unwrap();
    assert_eq!(v2.rule, changed, "update replaces the rule");
    assert_eq!(v2.version, 2);
    assert_eq!(v2.created_at, at(1), "update keeps created_at");
    assert_eq!(v2.updated_at, at(50));
    assert_eq!(store.get_rule(&t, "alpha").unwrap().as_ref(), Some(&v2));
    assert_eq!(listed(store), names, "an update keeps the rule's place");

    expect_err(
        store.update_rule(&t, rule("alpha", "VM_EICAR", "stale"), 1, at(60)),
        ErrorKind::Conflict,
        "update with a stale version",
    );
    assert_eq!(
        store.get_rule(&t, "alpha").unwrap().as_ref(),
        Some(&v2),
        "a conflict changes nothing"
    );
    expect_err(
        store.update_rule(&t, rule("nope", "VM_EICAR", "x"), 1, at(60)),
        ErrorKind::NotFound,
        "update of a missing rule",
    );
    assert!(
        store.get_rule(&t, "nope").unwrap().is_none(),
        "update does not create"
    );

    let v3 = disable_rule(store, &t, "alpha", at(70)).unwrap();
    assert_eq!(v3.rule.state(), RuleState::Disabled);
    assert_eq!(v3.version, 3);
    assert_eq!(
        store.get_rule(&t, "alpha").unwrap().map(|r| r.rule.state()),
        Some(RuleState::Disabled)
    );
    let report = store
        .ingest(
            &t,
            &[on_host("crud-1", "VM_EICAR", "other-host", Status::Active)],
            at(71),
        )
        .unwrap();
    assert_eq!(report.suppressed, 0, "a disabled rule does not suppress");
    expect_err(
        disable_rule(store, &t, "nope", at(72)),
        ErrorKind::NotFound,
        "disable a missing rule",
    );

    store.delete_rule(&t, "zeta", at(0)).unwrap();
    assert!(store.get_rule(&t, "zeta").unwrap().is_none());
    assert_eq!(listed(store), ["alpha", "mid"]);
    expect_err(
        store.delete_rule(&t, "zeta", at(0)),
        ErrorKind::NotFound,
        "delete a deleted rule",
    );
    expect_err(
        store.update_rule(&t, rule("zeta", "VM_EICAR", "x"), 1, at(80)),
        ErrorKind::NotFound,
        "update a deleted rule",
    );
    // The name is free again; the new rule goes last.
    let again = store
        .create_rule(&t, rule("zeta", "VM_EICAR", "z"), at(90))
        .unwrap();
    assert_eq!(again.version, 1);
    assert_eq!(listed(store), ["alpha", "mid", "zeta"]);
}

fn bad_rules() -> Vec<(&'static str, SuppressionRule)> {
    let raw = |v: serde_json::Value| -> Condition { serde_json::from_value(v).unwrap() };
    let b = |name: &str| SuppressionRule::builder(name, "VM_EICAR", SuppressionReason::Noise);
    vec![
        (
            "invalid regex",
            b("bad-regex")
                .condition(Condition::regex("alertDisplayName", "(unclosed"))
                .build(),
        ),
        (
            "unknown operator",
            b("bad-op")
                .condition(raw(
                    serde_json::json!({"field": "entities.ip.address", "equalz": "10.0.0.1"}),
                ))
                .build(),
        ),
        (
            "unknown field",
            b("bad-field")
                .condition(Condition::equals("entities", "x"))
                .build(),
        ),
        (
            "empty in list",
            b("bad-in")
                .condition(Condition::is_in(
                    "entities.ip.address",
                    Vec::<String>::new(),
                ))
                .build(),
        ),
        (
            "invalid cidr",
            b("bad-cidr")
                .condition(Condition::cidr("entities.ip.address", "10.0.0.0/99"))
                .build(),
        ),
    ]
}

/// A duplicate name is AlreadyExists; a rule that does not compile is InvalidInput, for create,
/// update and simulate; nothing changes.
pub fn rules_invalid_and_duplicate(store: &dyn Store) {
    let t = tenant();
    let first = store
        .create_rule(&t, rule("dup", "VM_EICAR", "h1"), at(0))
        .unwrap();
    expect_err(
        store.create_rule(&t, rule("dup", "*", "h2"), at(1)),
        ErrorKind::AlreadyExists,
        "a second rule with a taken name",
    );
    assert_eq!(store.get_rule(&t, "dup").unwrap(), Some(first.clone()));
    for (what, bad) in bad_rules() {
        assert!(
            RuleSet::compile([bad.clone()]).is_err(),
            "{what}: the suite's bad rule compiles"
        );
        expect_err(
            store.create_rule(&t, bad.clone(), at(2)),
            ErrorKind::InvalidInput,
            what,
        );
        assert!(
            store.get_rule(&t, bad.name()).unwrap().is_none(),
            "{what}: not stored"
        );
        expect_err(
            store.simulate(&t, &bad, at(2), 5),
            ErrorKind::InvalidInput,
            what,
        );
        let renamed: SuppressionRule = {
            let mut v = serde_json::to_value(&bad).unwrap();
            v["name"] = serde_json::Value::String("dup".into());
            SuppressionRule::from_json(v).unwrap()
        };
        expect_err(
            store.update_rule(&t, renamed, 1, at(3)),
            ErrorKind::InvalidInput,
            what,
        );
        assert_eq!(
            store.get_rule(&t, "dup").unwrap(),
            Some(first.clone()),
            "{what}: unchanged"
        );
    }
    assert_eq!(store.list_rules(&t).unwrap().len(), 1);
    // Rules keep working after the failed attempts.
    let r = store
        .ingest(
            &t,
            &[on_host("dup-1", "VM_EICAR", "h1", Status::Active)],
            at(4),
        )
        .unwrap();
    assert_eq!(r.suppressed, 1);
}

/// `simulate` counts the stored alerts (every status) a rule would suppress, by status in
/// `Status::ALL` order, with a sample of matching ids, most recent first; it changes nothing.
pub fn rules_simulate(store: &dyn Store) {
    let t = tenant();
    let alerts = sample::alerts(3, 120, "sim", true);
    store.ingest(&t, &alerts, at(0)).unwrap();
    let existing = store
        .create_rule(&t, rule("keep", "VM_EICAR", "nobody"), at(1))
        .unwrap();
    let before = everything(store, &t);
    let histories: Vec<_> = before
        .iter()
        .map(|a| store.history(&t, a.alert.system_alert_id()).unwrap())
        .collect();
    let candidate = SuppressionRule::builder("what-if", "*", SuppressionReason::Noise)
        .condition(Condition::is_in(
            "entities.host.hostname",
            ["web-01", "db-01"],
        ))
        .build();
    let set = RuleSet::compile([candidate.clone()]).unwrap();
    let matching: Vec<&Alert> = before
        .iter()
        .map(|s| &s.alert)
        .filter(|a| set.is_suppressed(a, at(2)))
        .collect();
    let mut counts: HashMap<Status, u64> = HashMap::new();
    for a in &matching {
        *counts.entry(a.status()).or_default() += 1;
    }
    let want: Vec<(Status, u64)> = Status::ALL
        .iter()
        .map(|s| (*s, counts.get(s).copied().unwrap_or(0)))
        .collect();
    assert!(
        want.iter().filter(|(_, n)| *n > 0).count() >= 3,
        "the suite's data should match several statuses"
    );
    for sample_size in [0, 5, 1000] {
        let sim: Simulation = store.simulate(&t, &candidate, at(2), sample_size).unwrap();
        assert_eq!(sim.by_status, want, "counts by status, every status listed");
        assert_eq!(sim.total() as usize, matching.len());
        assert_eq!(
            sim.sample.len(),
            sample_size.min(matching.len()),
            "sample size"
        );
        let mut uniq = sim.sample.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), sim.sample.len(), "sample ids are distinct");
        let times: Vec<_> = sim
            .sample
            .iter()
            .map(|i| {
                let a = matching
                    .iter()
                    .find(|a| a.system_alert_id() == i)
                    .unwrap_or_else(|| panic!("sampled {i} does not match the rule"));
                a.time_generated()
            })
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "sample is most recent first"
        );
        if sample_size >= matching.len() {
            let mut all: Vec<AlertId> = matching
                .iter()
                .map(|a| a.system_alert_id().clone())
                .collect();
            all.sort();
            assert_eq!(uniq, all, "a large sample lists every match");
        }
    }
    let mut disabled = candidate.clone();
    disabled.set_state(RuleState::Disabled);
    assert_eq!(
        store.simulate(&t, &disabled, at(2), 5).unwrap().total(),
        0,
        "a disabled rule would suppress nothing"
    );
    let expired = SuppressionRule::builder("what-if", "*", SuppressionReason::Noise)
        .condition(Condition::is_in(
            "entities.host.hostname",
            ["web-01", "db-01"],
        ))
        .expires_at(at(2))
        .build();
    assert_eq!(
        store.simulate(&t, &expired, at(2), 5).unwrap().total(),
        0,
        "expired at `at`"
    );
    // Nothing changed.
    assert_eq!(everything(store, &t), before, "simulate changes no alert");
    for (a, h) in before.iter().zip(&histories) {
        assert_eq!(&store.history(&t, a.alert.system_alert_id()).unwrap(), h);
    }
    assert_eq!(
        store.list_rules(&t).unwrap(),
        vec![existing],
        "simulate stores no rule"
    );
    assert!(store.get_rule(&t, "what-if").unwrap().is_none());
}

/// `similar_rule` from an alert, created in the store, suppresses a similar new alert and
/// nothing else; the alert it came from (already stored) is not touched.
pub fn rules_similar_rule(store: &dyn Store) {
    let t = tenant();
    let origin = alert("sim-origin", "VM_EICAR", Severity::High, 10)
        .into_builder()
        .entity(Entity::host("build-agent-3"))
        .entity(Entity::ip("10.0.0.5"))
        .build();
    store
        .ingest(&t, std::slice::from_ref(&origin), at(0))
        .unwrap();
    let r = similar_rule(
        &origin,
        "build-agents",
        SuppressionReason::from_text("BenignPositive"),
        &["entities.host.hostname"],
    )
    .unwrap();
    store.create_rule(&t, r, at(1)).unwrap();
    let similar = on_host("sim-similar", "VM_EICAR", "build-agent-3", Status::Active);
    let other_host = on_host(
        "sim-other-host",
        "VM_EICAR",
        "build-agent-4",
        Status::Active,
    );
    let other_type = on_host(
        "sim-other-type",
        "VM_SuspiciousPowerShellCommandLine",
        "build-agent-3",
        Status::Active,
    );
    let report = store
        .ingest(
            &t,
            &[
                similar.clone(),
                other_host.clone(),
                other_type.clone(),
                origin.clone(),
            ],
            at(2),
        )
        .unwrap();
    assert_eq!((report.new, report.updated, report.suppressed), (3, 1, 1));
    let s = must_get(store, &t, similar.system_alert_id());
    assert_eq!(s.alert.status(), Status::Dismissed);
    let sup = s.suppression.unwrap();
    assert_eq!(sup.rule, "build-agents");
    assert_eq!(
        sup.reason,
        SuppressionReason::Other("BenignPositive".into())
    );
    for a in [&other_host, &other_type, &origin] {
        assert_eq!(
            must_get(store, &t, a.system_alert_id()).alert.status(),
            Status::Active,
            "{} must not be suppressed",
            a.system_alert_id()
        );
    }
}

/// `apply_rule` dismisses only open (Active, InProgress) matching alerts, each with an audit
/// entry by the actor and the rule recorded, and returns exactly their ids; a second run finds
/// nothing; a missing rule is NotFound.
pub fn rules_apply(store: &dyn Store) {
    let t = tenant();
    let mut batch = Vec::new();
    for (i, s) in Status::ALL.iter().enumerate() {
        batch.push(on_host(
            &format!("apply-hit-{i}"),
            "Apply_X",
            "apply-host",
            *s,
        ));
        batch.push(on_host(
            &format!("apply-miss-{i}"),
            "Apply_X",
            "elsewhere",
            *s,
        ));
        batch.push(on_host(
            &format!("apply-type-{i}"),
            "Apply_Y",
            "apply-host",
            *s,
        ));
    }
    batch.push(on_host(
        "apply-hit-4",
        "Apply_X",
        "APPLY-HOST",
        Status::Active,
    ));
    store.ingest(&t, &batch, at(0)).unwrap();
    let before = everything(store, &t);
    let r = SuppressionRule::builder("apply-rule", "Apply_X", SuppressionReason::NotRelevant)
        .condition(Condition::equals("entities.host.hostname", "apply-host"))
        .build();
    store.create_rule(&t, r, at(1)).unwrap();
    expect_err(
        store.apply_rule(&t, "no-such-rule", "ops", at(2)),
        ErrorKind::NotFound,
        "apply a missing rule",
    );
    assert_eq!(everything(store, &t), before);

    let done = store
        .apply_rule(&t, "apply-rule", "ops@contoso", at(3))
        .unwrap();
    assert_eq!(
        sorted(&done),
        vec![id("apply-hit-0"), id("apply-hit-1"), id("apply-hit-4")],
        "only open matching alerts are dismissed"
    );
    for b in &before {
        let i = b.alert.system_alert_id();
        let now = must_get(store, &t, i);
        let history = store.history(&t, i).unwrap();
        if done.contains(i) {
            assert_eq!(now.alert.status(), Status::Dismissed, "{i}");
            assert_eq!(now.version, b.version + 1, "{i}");
            let sup = now
                .suppression
                .as_ref()
                .unwrap_or_else(|| panic!("{i}: suppression recorded"));
            assert_eq!(sup.rule, "apply-rule");
            assert_eq!(sup.reason, SuppressionReason::NotRelevant);
            assert_eq!(sup.at, at(3));
            assert_eq!(history.len(), 1, "{i}");
            let e = &history[0];
            assert_eq!(e.actor, "ops@contoso");
            assert_eq!((e.from, e.to), (b.alert.status(), Status::Dismissed));
            assert_eq!((e.at, e.version), (at(3), now.version));
        } else {
            assert_eq!(&now, b, "{i} must not change");
            assert!(history.is_empty(), "{i}");
        }
    }
    assert!(
        store
            .apply_rule(&t, "apply-rule", "ops", at(4))
            .unwrap()
            .is_empty(),
        "a second run finds nothing"
    );
    // A disabled rule matches nothing.
    store
        .ingest(
            &t,
            &[on_host(
                "apply-late",
                "Apply_X",
                "apply-host",
                Status::Active,
            )],
            at(5),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    // (the new alert was suppressed on ingest by the enabled rule)
    assert_eq!(
        must_get(store, &t, &id("apply-late")).alert.status(),
        Status::Dismissed
    );
    let reopened = store
        .change_status(
            &t,
            &id("apply-late"),
            1,
            StatusChange::new(Status::Active, "bob"),
            at(6),
        )
        .unwrap();
    assert_eq!(reopened.alert.status(), Status::Active);
    disable_rule(store, &t, "apply-rule", at(7)).unwrap();
    assert!(
        store
            .apply_rule(&t, "apply-rule", "ops", at(8))
            .unwrap()
            .is_empty(),
        "a disabled rule dismisses nothing"
    );
    assert_eq!(
        must_get(store, &t, &id("apply-late")).alert.status(),
        Status::Active
    );
}

/// Deleting a rule does not reopen the alerts it dismissed (on ingest or by `apply_rule`): they
/// stay Dismissed with the suppression recorded and their history intact, also when ingested
/// again; new alerts are no longer suppressed.
pub fn rules_delete_keeps_dismissed(store: &dyn Store) {
    let t = tenant();
    let existing = on_host("del-existing", "VM_EICAR", "del-host", Status::Active);
    store
        .ingest(&t, std::slice::from_ref(&existing), at(0))
        .unwrap();
    store
        .create_rule(&t, rule("del-rule", "VM_EICAR", "del-host"), at(1))
        .unwrap();
    let arriving = on_host("del-arriving", "VM_EICAR", "del-host", Status::Active);
    assert_eq!(
        store
            .ingest(&t, std::slice::from_ref(&arriving), at(2))
            .unwrap()
            .suppressed,
        1
    );
    assert_eq!(
        store.apply_rule(&t, "del-rule", "ops", at(3)).unwrap(),
        vec![id("del-existing")]
    );
    let before = everything(store, &t);
    let histories: Vec<_> = before
        .iter()
        .map(|a| store.history(&t, a.alert.system_alert_id()).unwrap())
        .collect();
    store.delete_rule(&t, "del-rule", at(0)).unwrap();
    assert_eq!(
        everything(store, &t),
        before,
        "deleting a rule changes no alert"
    );
    for (a, h) in before.iter().zip(&histories) {
        assert_eq!(a.alert.status(), Status::Dismissed);
        assert_eq!(
            a.suppression.as_ref().map(|s| s.rule.as_str()),
            Some("del-rule")
        );
        assert_eq!(&store.history(&t, a.alert.system_alert_id()).unwrap(), h);
    }
    let r = store
        .ingest(&t, &[existing.clone(), arriving.clone()], at(4))
        .unwrap();
    assert_eq!((r.updated, r.suppressed), (2, 0));
    for a in [&existing, &arriving] {
        assert_eq!(
            must_get(store, &t, a.system_alert_id()).alert.status(),
            Status::Dismissed,
            "re-ingest keeps Dismissed"
        );
    }
    let fresh = on_host("del-fresh", "VM_EICAR", "del-host", Status::Active);
    assert_eq!(
        store.ingest(&t, &[fresh], at(5)).unwrap().suppressed,
        0,
        "a deleted rule no longer suppresses"
    );
    assert_eq!(ids(&everything(store, &t)).len(), 3);
}
