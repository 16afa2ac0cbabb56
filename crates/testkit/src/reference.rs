//! Comparison with the reference store on generated data: every answer a backend gives must be
//! the one `MemoryStore` gives, page by page.

// As in the conformance suite, unwrapping a store result is the assertion that it succeeds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use vigil_core::store::{
    AlertQuery, MemoryStore, Order, ResourceFilter, StatusChange, Store, TenantId, resource_ids,
};
use vigil_core::{KillChainIntent, Severity, Status};

use crate::generate::{AlertGenerator, RuleGenerator, reference_time};

#[track_caller]
fn same_pages(a: &dyn Store, b: &dyn Store, t: &TenantId, q: &AlertQuery) {
    let mut q = q.clone();
    for page_no in 0..10_000 {
        let pa = a.query(t, &q).unwrap();
        let pb = b.query(t, &q).unwrap();
        assert_eq!(pa, pb, "page {page_no} of {q:?}");
        assert_eq!(a.counts(t, &q).unwrap(), b.counts(t, &q).unwrap(), "{q:?}");
        match pa.next {
            Some(c) => q.cursor = Some(c),
            None => return,
        }
    }
}

/// Drives `store` and a fresh [`MemoryStore`] through the same generated rules and alerts
/// (ingest with suppression, re-ingest, pages of many filters and orders through every cursor,
/// counts, related alerts, simulate, apply, history) and panics at the first answer that
/// differs. Every store must answer exactly like the reference; this finds a backend's query
/// bugs on realistic data that the contract checks' small fixtures may miss. `store` must be
/// fresh and empty.
pub fn generated_data_answers_like_the_reference_store(store: &dyn Store) {
    let t = TenantId::new("reference").unwrap();
    let memory = MemoryStore::default();
    let at = reference_time();
    for spec in RuleGenerator::new(3).rules(150) {
        let rule = spec.to_rule().unwrap();
        let a = store.create_rule(&t, rule.clone(), at).unwrap();
        let b = memory.create_rule(&t, rule, at).unwrap();
        assert_eq!(a, b);
    }
    let mut generator = AlertGenerator::new(5);
    let alerts = generator.alerts(2_500);
    for chunk in alerts.chunks(400) {
        assert_eq!(
            store.ingest(&t, chunk, at).unwrap(),
            memory.ingest(&t, chunk, at).unwrap()
        );
    }
    // Re-ingest some: updates keep their status.
    assert_eq!(
        store.ingest(&t, &alerts[100..300], at).unwrap(),
        memory.ingest(&t, &alerts[100..300], at).unwrap()
    );
    assert_eq!(
        store.list_rules(&t).unwrap(),
        memory.list_rules(&t).unwrap()
    );

    let resource = alerts
        .iter()
        .find_map(|a| resource_ids(a).first().map(|s| s.to_string()))
        .unwrap();
    let prefix: String = resource.split('/').take(5).collect::<Vec<_>>().join("/");
    let entity = vigil_core::store::entity_values(&alerts[7])
        .first()
        .map(|s| s.to_uppercase())
        .unwrap();
    let queries = [
        AlertQuery::default().limit(37),
        AlertQuery::default()
            .all_statuses()
            .order(Order::Time)
            .limit(100),
        AlertQuery::default().order(Order::Priority).limit(41),
        AlertQuery::default()
            .severities([Severity::High])
            .resource(ResourceFilter::Prefix(prefix.to_uppercase()))
            .limit(13),
        AlertQuery::default().resource(ResourceFilter::Exact(resource.clone())),
        AlertQuery::default().entity(entity).all_statuses().limit(9),
        AlertQuery::default()
            .min_severity(Severity::Medium)
            .intents([KillChainIntent::Execution, KillChainIntent::Persistence])
            .limit(25),
        AlertQuery::default()
            .statuses([Status::Dismissed])
            .order(Order::Time)
            .since(at - chrono::Duration::days(10))
            .until(at - chrono::Duration::days(3))
            .limit(50),
        AlertQuery::default().text("SUSPICIOUS").limit(30),
    ];
    for q in &queries {
        same_pages(store, &memory, &t, q);
    }

    for a in alerts.iter().step_by(97) {
        let id = a.system_alert_id();
        assert_eq!(
            store.related(&t, id, 20).unwrap(),
            memory.related(&t, id, 20).unwrap(),
            "related of {id}"
        );
    }
    let spec = RuleGenerator::new(99).rules(20);
    for s in &spec {
        let rule = s.to_rule().unwrap();
        assert_eq!(
            store.simulate(&t, &rule, at, 10).unwrap(),
            memory.simulate(&t, &rule, at, 10).unwrap()
        );
    }
    // Apply one of the new rules that matches open alerts, on both.
    if let Some(rule) = spec
        .iter()
        .map(|s| s.to_rule().unwrap())
        .find(|r| memory.simulate(&t, r, at, 0).unwrap().open() > 0)
    {
        store.create_rule(&t, rule.clone(), at).unwrap();
        memory.create_rule(&t, rule.clone(), at).unwrap();
        assert_eq!(
            store.apply_rule(&t, rule.name(), "bob", at).unwrap(),
            memory.apply_rule(&t, rule.name(), "bob", at).unwrap()
        );
        assert_eq!(
            store.get_rule(&t, rule.name()).unwrap(),
            memory.get_rule(&t, rule.name()).unwrap()
        );
    }
    let bulk = AlertQuery::default().severities([Severity::Low]).limit(7);
    let change = StatusChange::new(Status::Resolved, "carol");
    let a: Vec<_> = store
        .bulk_change_status(&t, &bulk, change.clone(), at)
        .unwrap()
        .into_iter()
        .map(|o| (o.id, o.result.map_err(|e| e.kind())))
        .collect();
    let b: Vec<_> = memory
        .bulk_change_status(&t, &bulk, change, at)
        .unwrap()
        .into_iter()
        .map(|o| (o.id, o.result.map_err(|e| e.kind())))
        .collect();
    assert_eq!(a, b);
    for q in &queries[..3] {
        same_pages(store, &memory, &t, &q.clone().all_statuses());
    }
    for a in alerts.iter().step_by(101) {
        let id = a.system_alert_id();
        assert_eq!(
            store.history(&t, id).unwrap(),
            memory.history(&t, id).unwrap()
        );
    }
}
