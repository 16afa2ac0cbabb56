//! The event log: one event per change, in order, written with the change; nothing for a
//! refused operation; each tenant its own log.

use vigil_core::store::{
    AlertQuery, ErrorKind, EventKind, Feedback, FeedbackReason, IngestOutcome, StatusChange, Store,
    SuppressSimilar,
};
use vigil_core::suppression::{Condition, SuppressionReason, SuppressionRule};
use vigil_core::{Entity, Severity, Status};

use super::support::{alert, at, expect_err, id, other_tenant, tenant};

fn kinds(store: &dyn Store, t: &vigil_core::store::TenantId) -> Vec<EventKind> {
    let events = store.events_since(t, 0, 10_000).unwrap();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(
            e.seq,
            i as u64 + 1,
            "events are numbered 1, 2, 3, … in order"
        );
    }
    events.into_iter().map(|e| e.kind).collect()
}

/// Every change the engine makes appends exactly one event, in order, with the change's
/// details; refused operations append none; `events_since` pages from any checkpoint.
pub fn events_one_per_change(store: &dyn Store) {
    let t = tenant();
    assert!(store.events_since(&t, 0, 10).unwrap().is_empty());
    let rule = SuppressionRule::builder("ev-rule", "VM_Noise", SuppressionReason::Noise)
        .condition(Condition::equals("entities.host.hostname", "noisy"))
        .build();
    store.create_rule(&t, rule, at(0)).unwrap();
    let noisy = alert("ev-3", "VM_Noise", Severity::Low, 3)
        .into_builder()
        .entity(Entity::host("noisy"))
        .build();
    let batch = vec![
        alert("ev-1", "VM_EICAR", Severity::High, 1),
        alert("ev-2", "VM_EICAR", Severity::Medium, 2),
        noisy,
    ];
    let r = store.ingest(&t, &batch, at(1)).unwrap();
    assert_eq!((r.new, r.suppressed), (3, 1));
    store
        .ingest(&t, &[alert("ev-1", "VM_EICAR", Severity::High, 1)], at(2))
        .unwrap();
    let s = store
        .change_status(
            &t,
            &id("ev-1"),
            2,
            StatusChange::new(Status::InProgress, "alice").comment("looking"),
            at(3),
        )
        .unwrap();
    assert_eq!(s.version, 3);
    store
        .add_feedback(
            &t,
            &id("ev-2"),
            Feedback {
                useful: true,
                reason: FeedbackReason::TruePositive,
                comment: None,
                actor: "bob".into(),
                at: at(4),
            },
        )
        .unwrap();

    // Refused operations write no event.
    let before = kinds(store, &t).len();
    expect_err(
        store.change_status(
            &t,
            &id("ev-1"),
            1,
            StatusChange::new(Status::Resolved, "x"),
            at(5),
        ),
        ErrorKind::Conflict,
        "stale version",
    );
    expect_err(
        store.change_status(
            &t,
            &id("ev-1"),
            3,
            StatusChange::new(Status::Active, "x"),
            at(5),
        ),
        ErrorKind::InvalidInput,
        "illegal transition",
    );
    expect_err(
        store.create_rule(
            &t,
            SuppressionRule::builder("ev-rule", "X", SuppressionReason::Noise).build(),
            at(5),
        ),
        ErrorKind::AlreadyExists,
        "duplicate rule",
    );
    expect_err(
        store.delete_rule(&t, "no-such-rule", at(5)),
        ErrorKind::NotFound,
        "missing rule",
    );
    assert_eq!(
        kinds(store, &t).len(),
        before,
        "refused operations add no event"
    );

    // Rules: update, apply (one event per dismissed alert, then the application), delete.
    let stored = store.get_rule(&t, "ev-rule").unwrap().unwrap();
    let wider = SuppressionRule::builder("ev-rule", "VM_EICAR", SuppressionReason::Noise).build();
    store.update_rule(&t, wider, stored.version, at(6)).unwrap();
    let dismissed = store.apply_rule(&t, "ev-rule", "carol", at(7)).unwrap();
    assert_eq!(dismissed.len(), 2);
    store.delete_rule(&t, "ev-rule", at(8)).unwrap();
    let changed = store
        .bulk_change_status(
            &t,
            &AlertQuery::default().statuses([Status::Dismissed]),
            StatusChange::new(Status::Active, "dave"),
            at(9),
        )
        .unwrap();
    assert_eq!(changed.len(), 3);

    let got = kinds(store, &t);
    let summary: Vec<String> = got
        .iter()
        .map(|k| match k {
            EventKind::AlertIngested {
                alert,
                outcome,
                version,
                ..
            } => match outcome {
                IngestOutcome::New => format!("new {alert} v{version}"),
                IngestOutcome::Updated => format!("updated {alert} v{version}"),
                IngestOutcome::Suppressed { rule } => format!("suppressed {alert} by {rule}"),
                other => format!("{other:?}"),
            },
            EventKind::StatusChanged {
                alert,
                to,
                actor,
                version,
                ..
            } => format!("status {alert} {to} by {actor} v{version}"),
            EventKind::FeedbackAdded { alert, useful, .. } => {
                format!("feedback {alert} {useful}")
            }
            EventKind::RuleCreated { rule, version } => format!("rule created {rule} v{version}"),
            EventKind::RuleUpdated { rule, version } => format!("rule updated {rule} v{version}"),
            EventKind::RuleDeleted { rule } => format!("rule deleted {rule}"),
            EventKind::RuleApplied {
                rule, dismissed, ..
            } => format!("rule applied {rule} {dismissed}"),
            other => format!("{other:?}"),
        })
        .collect();
    let want = [
        "rule created ev-rule v1",
        "new ev-1 v1",
        "new ev-2 v1",
        "suppressed ev-3 by ev-rule",
        "updated ev-1 v2",
        "status ev-1 InProgress by alice v3",
        "feedback ev-2 true",
        "rule updated ev-rule v2",
        // apply_rule dismisses the open VM_EICAR alerts, most recent first.
        "status ev-1 Dismissed by carol v4",
        "status ev-2 Dismissed by carol v2",
        "rule applied ev-rule 2",
        "rule deleted ev-rule",
        // bulk reactivation in the queue's order: most severe first.
        "status ev-1 Active by dave v5",
        "status ev-2 Active by dave v3",
        "status ev-3 Active by dave v2",
    ];
    assert_eq!(summary, want, "one event per change, in order");

    // Paging from a checkpoint sees each event once.
    let mut seen = Vec::new();
    let mut checkpoint = 0;
    loop {
        let page = store.events_since(&t, checkpoint, 4).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 4);
        checkpoint = page.last().unwrap().seq;
        seen.extend(page.into_iter().map(|e| e.seq));
    }
    assert_eq!(seen, (1..=want.len() as u64).collect::<Vec<_>>());
    let events = store.events_since(&t, 0, 100).unwrap();
    assert_eq!(
        events[1].at,
        at(1),
        "an event carries its operation's instant"
    );
    assert_eq!(events[1].alert(), Some(&id("ev-1")));
}

/// Suppress-similar with apply is one transaction: its rule, its dismissals and their events
/// land together; each tenant has its own log, numbered from 1, invisible to the others.
pub fn events_tenant_scoped_and_suppress_similar(store: &dyn Store) {
    let (a, b) = (tenant(), other_tenant());
    let host = |n: &str, h: &str| {
        alert(n, "VM_EICAR", Severity::High, 1)
            .into_builder()
            .entity(Entity::host(h))
            .build()
    };
    store
        .ingest(
            &a,
            &[
                host("ss-1", "build-7"),
                host("ss-2", "build-7"),
                host("ss-3", "web-1"),
            ],
            at(0),
        )
        .unwrap();
    store.ingest(&b, &[host("ss-9", "build-7")], at(0)).unwrap();
    let request = SuppressSimilar::new(id("ss-1"), ["entities.host.hostname"])
        .name("builds")
        .apply_to_existing("erin");
    let (created, dismissed) = store.suppress_similar(&a, request, at(1)).unwrap();
    assert_eq!(created.rule.rule.name(), "builds");
    assert_eq!(created.rule.hit_count, 2);
    let mut dismissed: Vec<String> = dismissed.iter().map(|d| d.to_string()).collect();
    dismissed.sort();
    assert_eq!(dismissed, ["ss-1", "ss-2"]);

    let ka = kinds(store, &a);
    assert_eq!(
        ka.len(),
        3 + 1 + 2 + 1,
        "3 ingested, the rule, 2 dismissals, the application"
    );
    assert!(matches!(&ka[3], EventKind::RuleCreated { rule, .. } if rule == "builds"));
    let kb = kinds(store, &b);
    assert_eq!(kb.len(), 1, "tenant b sees only its own event");
    assert!(matches!(&kb[0], EventKind::AlertIngested { alert, .. } if alert == &id("ss-9")));
    assert!(store.events_since(&b, 1, 10).unwrap().is_empty());

    // A failing suppress-similar (a field the alert lacks) changes nothing and logs nothing.
    let bad = SuppressSimilar::new(id("ss-3"), ["entities.account.name"]).apply_to_existing("erin");
    expect_err(
        store.suppress_similar(&a, bad, at(2)),
        ErrorKind::InvalidInput,
        "a field the alert lacks",
    );
    assert_eq!(kinds(store, &a).len(), ka.len());
    assert!(store.get_rule(&a, "similar-ss-3").unwrap().is_none());
}

/// Consumers of the log keep named, per-tenant checkpoints in the store: 0 before the first
/// save, what was saved after, never past the last event, and invisible to other tenants.
pub fn events_checkpoints(store: &dyn Store) {
    let (a, b) = (tenant(), other_tenant());
    assert_eq!(store.checkpoint(&a, "siem").unwrap(), 0);
    store
        .ingest(&a, &[alert("cp-1", "VM_EICAR", Severity::High, 1)], at(0))
        .unwrap();
    store
        .ingest(&a, &[alert("cp-2", "VM_EICAR", Severity::Low, 2)], at(1))
        .unwrap();
    store.save_checkpoint(&a, "siem", 1).unwrap();
    assert_eq!(store.checkpoint(&a, "siem").unwrap(), 1);
    assert_eq!(store.checkpoint(&a, "other-consumer").unwrap(), 0);
    assert_eq!(
        store.checkpoint(&b, "siem").unwrap(),
        0,
        "checkpoints are per tenant"
    );
    let next = store.events_since(&a, 1, 10).unwrap();
    assert_eq!(next.len(), 1);
    store.save_checkpoint(&a, "siem", 2).unwrap();
    assert!(store.events_since(&a, 2, 10).unwrap().is_empty());
    // Back to the start is allowed (a replay); past the log, or a bad name, is not.
    store.save_checkpoint(&a, "siem", 0).unwrap();
    assert_eq!(store.checkpoint(&a, "siem").unwrap(), 0);
    expect_err(
        store.save_checkpoint(&a, "siem", 3),
        ErrorKind::InvalidInput,
        "a checkpoint past the last event",
    );
    expect_err(
        store.save_checkpoint(&b, "siem", 1),
        ErrorKind::InvalidInput,
        "a checkpoint past another tenant's (empty) log",
    );
    expect_err(
        store.save_checkpoint(&a, " ", 0),
        ErrorKind::InvalidInput,
        "a blank consumer name",
    );
    assert_eq!(
        store.events_since(&a, 0, 10).unwrap().len(),
        2,
        "saving checkpoints writes no event"
    );
}
