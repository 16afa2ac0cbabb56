//! Automations: versioned rules with their events (never their secrets), the dispatcher's
//! lease, deliveries planned from the event log, attempts recorded with retries and parking,
//! and the per-alert order of due deliveries.

use std::time::Duration;

use vigil_core::automation::{
    Action, Automation, CommandAction, DeliveryQuery, DeliveryState, LeaseClaim, Outcome,
    RetryPolicy, Trigger, Webhook,
};
use vigil_core::store::{ErrorKind, EventKind, StatusChange, Store, TenantId};
use vigil_core::suppression::Condition;
use vigil_core::{Severity, Status};

use super::support::{alert, at, expect_err, id, other_tenant, tenant};

const SECRET: &str = "conformance-secret-4f1d";

fn hook(name: &str) -> Automation {
    Automation::new(
        name,
        [Trigger::AlertCreated],
        [Action::Webhook(
            Webhook::new("https://hooks.example.com/in?sig=abc")
                .header("X-Team", "soc")
                .secret(SECRET),
        )],
    )
    .condition(Condition::equals("severity", "High"))
}

fn claim(holder: &str) -> LeaseClaim {
    LeaseClaim::new(holder, Duration::from_secs(30))
}

/// Create, get, list (creation order), update with a version check, enable/disable, delete:
/// each change one event naming the automation and never its secret; invalid input and
/// duplicates refused with nothing written; each tenant its own automations.
pub fn automation_crud(store: &dyn Store) {
    let t = tenant();
    let a = store.create_automation(&t, hook("b-page"), at(0)).unwrap();
    assert_eq!(a.version, 1);
    assert_eq!((a.created_at, a.updated_at), (at(0), at(0)));
    store
        .create_automation(&t, hook("a-ticket"), at(1))
        .unwrap();
    let names: Vec<String> = store
        .list_automations(&t)
        .unwrap()
        .into_iter()
        .map(|s| s.automation.name)
        .collect();
    assert_eq!(names, ["b-page", "a-ticket"], "listed in creation order");
    let got = store.get_automation(&t, "b-page").unwrap().unwrap();
    assert_eq!(
        got.automation,
        hook("b-page"),
        "stored as given, secret included"
    );
    assert!(store.get_automation(&t, "missing").unwrap().is_none());

    let events_before = store.events_since(&t, 0, 1000).unwrap().len();
    expect_err(
        store.create_automation(&t, hook("b-page"), at(2)),
        ErrorKind::AlreadyExists,
        "a taken name",
    );
    let bad = Automation::new("bad", [], [Action::Command(CommandAction::new([""]))]);
    expect_err(
        store.create_automation(&t, bad, at(2)),
        ErrorKind::InvalidInput,
        "an automation without triggers or program",
    );
    let mut bad_cond = hook("bad-cond");
    bad_cond.conditions = vec![Condition::regex("alertDisplayName", "(")];
    expect_err(
        store.create_automation(&t, bad_cond, at(2)),
        ErrorKind::InvalidInput,
        "a condition that does not compile",
    );
    assert_eq!(
        store.events_since(&t, 0, 1000).unwrap().len(),
        events_before,
        "refused operations write no event"
    );

    let changed = hook("b-page").description("page the on-call");
    expect_err(
        store.update_automation(&t, changed.clone(), 7, at(3)),
        ErrorKind::Conflict,
        "a stale version",
    );
    let v2 = store.update_automation(&t, changed, 1, at(3)).unwrap();
    assert_eq!(
        (v2.version, v2.created_at, v2.updated_at),
        (2, at(0), at(3))
    );
    let v3 = store
        .set_automation_enabled(&t, "b-page", false, at(4))
        .unwrap();
    assert_eq!(v3.version, 3);
    assert!(!v3.automation.enabled);
    assert!(
        !store
            .get_automation(&t, "b-page")
            .unwrap()
            .unwrap()
            .automation
            .enabled
    );
    expect_err(
        store.update_automation(&t, hook("nobody"), 1, at(5)),
        ErrorKind::NotFound,
        "updating a missing automation",
    );
    store.delete_automation(&t, "a-ticket", at(6)).unwrap();
    expect_err(
        store.delete_automation(&t, "a-ticket", at(7)),
        ErrorKind::NotFound,
        "deleting twice",
    );
    assert!(store.get_automation(&t, "a-ticket").unwrap().is_none());

    let events = store.events_since(&t, 0, 1000).unwrap();
    let kinds: Vec<&EventKind> = events.iter().map(|e| &e.kind).collect();
    assert_eq!(
        kinds,
        [
            &EventKind::AutomationCreated {
                automation: "b-page".into(),
                version: 1
            },
            &EventKind::AutomationCreated {
                automation: "a-ticket".into(),
                version: 1
            },
            &EventKind::AutomationUpdated {
                automation: "b-page".into(),
                version: 2
            },
            &EventKind::AutomationUpdated {
                automation: "b-page".into(),
                version: 3
            },
            &EventKind::AutomationDeleted {
                automation: "a-ticket".into()
            },
        ]
    );
    let log = format!("{events:?}");
    assert!(
        !log.contains(SECRET) && !log.contains("sig=abc"),
        "the event log holds no secret: {log}"
    );
    assert!(
        store.list_automations(&other_tenant()).unwrap().is_empty(),
        "another tenant sees none"
    );
}

fn setup(store: &dyn Store, t: &TenantId) {
    let two = Automation::new(
        "two-actions",
        [
            Trigger::AlertCreated,
            Trigger::StatusChanged {
                to: vec![Status::Resolved],
            },
        ],
        [
            Action::Webhook(Webhook::new("https://hooks.example.com/a").secret(SECRET)),
            Action::Command(CommandAction::new(["/usr/bin/logger", "-t", "vigil"])),
        ],
    )
    .condition(Condition::equals("severity", "High"));
    store.create_automation(t, two, at(0)).unwrap();
    let off = hook("disabled").enabled(false);
    store.create_automation(t, off, at(0)).unwrap();
}

/// Planning: under the lease, each event after the checkpoint gives one pending delivery per
/// action of each enabled automation it triggers whose conditions the alert meets, with the
/// payload (alert, event, automation, no secret); the checkpoint moves past the events, and
/// an event is planned once.
pub fn automation_plan_deliveries(store: &dyn Store) {
    let t = tenant();
    setup(store, &t);
    let c = claim("planner");
    assert!(store.acquire_lease(&t, &c, at(10)).unwrap());
    store
        .ingest(
            &t,
            &[
                alert("pl-high", "VM_EICAR", Severity::High, 1),
                alert("pl-low", "VM_EICAR", Severity::Low, 2),
            ],
            at(10),
        )
        .unwrap();
    let r = store.plan_deliveries(&t, &c, 1000, at(11)).unwrap();
    let last = store.events_since(&t, 0, 1000).unwrap().last().unwrap().seq;
    assert_eq!(
        r.checkpoint, last,
        "the checkpoint moves past every event read"
    );
    assert_eq!(
        r.deliveries, 2,
        "one per action, for the high alert only: {r:?}"
    );
    let all = store
        .list_deliveries(&t, &DeliveryQuery::default())
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].id + 1, all[1].id, "numbered in order");
    let ingest_seq = store
        .events_since(&t, 0, 1000)
        .unwrap()
        .into_iter()
        .find(|e| e.alert() == Some(&id("pl-high")))
        .unwrap()
        .seq;
    for (i, d) in all.iter().enumerate() {
        assert_eq!(d.state, DeliveryState::Pending);
        assert_eq!(d.attempts, 0);
        assert_eq!(d.action, i as u32);
        assert_eq!(d.automation, "two-actions");
        assert_eq!(d.alert, Some(id("pl-high")));
        assert_eq!(d.event, ingest_seq);
        assert_eq!(d.next_attempt_at, at(11));
        let v: serde_json::Value = serde_json::from_str(&d.payload).unwrap();
        assert_eq!(v["automation"], "two-actions");
        assert_eq!(v["event"]["seq"], ingest_seq);
        assert_eq!(v["alert"]["properties"]["systemAlertId"], "pl-high");
        assert!(!d.payload.contains(SECRET));
    }
    assert_eq!(
        store
            .plan_deliveries(&t, &c, 1000, at(12))
            .unwrap()
            .deliveries,
        0,
        "an event is planned once"
    );

    // A status change to Resolved fires; to InProgress does not.
    let s = store.get(&t, &id("pl-high")).unwrap().unwrap();
    let s = store
        .change_status(
            &t,
            &id("pl-high"),
            s.version,
            StatusChange::new(Status::InProgress, "a"),
            at(13),
        )
        .unwrap();
    store
        .change_status(
            &t,
            &id("pl-high"),
            s.version,
            StatusChange::new(Status::Resolved, "a"),
            at(14),
        )
        .unwrap();
    // Planning in small steps reads at most `limit` events each.
    let one = store.plan_deliveries(&t, &c, 1, at(15)).unwrap();
    assert_eq!(
        (one.events, one.deliveries),
        (1, 0),
        "InProgress does not fire"
    );
    let two = store.plan_deliveries(&t, &c, 1, at(15)).unwrap();
    assert_eq!((two.events, two.deliveries), (1, 2), "Resolved fires");
    let idle = store.plan_deliveries(&t, &c, 1, at(16)).unwrap();
    assert_eq!((idle.events, idle.deliveries), (0, 0));
    assert_eq!(idle.checkpoint, two.checkpoint);
    assert!(
        store
            .list_deliveries(&other_tenant(), &DeliveryQuery::default())
            .unwrap()
            .is_empty()
    );

    // An automation acts only on events after its creation, however far behind planning is.
    store
        .ingest(
            &t,
            &[alert("pl-before", "VM_EICAR", Severity::High, 3)],
            at(20),
        )
        .unwrap();
    let late = Automation::new(
        "late",
        [Trigger::AlertCreated],
        [Action::Command(CommandAction::new(["/bin/true"]))],
    );
    let created = store.create_automation(&t, late, at(21)).unwrap();
    store
        .ingest(
            &t,
            &[alert("pl-after", "VM_EICAR", Severity::Low, 3)],
            at(22),
        )
        .unwrap();
    let events = store.events_since(&t, 0, 1000).unwrap();
    let creation = events
        .iter()
        .find(|e| {
            e.kind
                == EventKind::AutomationCreated {
                    automation: "late".into(),
                    version: 1,
                }
        })
        .unwrap();
    assert_eq!(created.since, creation.seq, "since is its creation event");
    store.plan_deliveries(&t, &c, 1000, at(23)).unwrap();
    let late = store
        .list_deliveries(&t, &DeliveryQuery::default().automation("late"))
        .unwrap();
    assert_eq!(
        late.len(),
        1,
        "nothing for the alert that came before: {late:?}"
    );
    assert_eq!(late[0].alert, Some(id("pl-after")));
}

/// The lease: one holder at a time; a lapsed lease is taken over; a holder that lost it
/// plans and records nothing; only the holder releases it.
pub fn automation_leases(store: &dyn Store) {
    let t = tenant();
    setup(store, &t);
    store
        .ingest(&t, &[alert("ls-1", "VM_EICAR", Severity::High, 1)], at(0))
        .unwrap();
    let (a, b) = (claim("dispatcher-a"), claim("dispatcher-b"));
    assert!(store.acquire_lease(&t, &a, at(0)).unwrap());
    assert!(
        store.acquire_lease(&t, &a, at(5)).unwrap(),
        "the holder renews"
    );
    assert!(
        !store.acquire_lease(&t, &b, at(20)).unwrap(),
        "held until 35"
    );
    assert!(
        store.acquire_lease(&other_tenant(), &b, at(20)).unwrap(),
        "each tenant has its own lease"
    );
    expect_err(
        store.plan_deliveries(&t, &b, 100, at(20)),
        ErrorKind::Conflict,
        "planning without the lease",
    );
    assert!(store.acquire_lease(&t, &b, at(35)).unwrap(), "lapsed at 35");
    expect_err(
        store.plan_deliveries(&t, &a, 100, at(36)),
        ErrorKind::Conflict,
        "planning after losing the lease",
    );
    assert!(
        store
            .list_deliveries(&t, &DeliveryQuery::default())
            .unwrap()
            .is_empty(),
        "a refused plan writes nothing"
    );
    store.release_lease(&t, &a).unwrap();
    assert!(
        !store.acquire_lease(&t, &a, at(40)).unwrap(),
        "only the holder releases"
    );
    assert_eq!(
        store
            .plan_deliveries(&t, &b, 100, at(40))
            .unwrap()
            .deliveries,
        2
    );
    let d = store
        .due_deliveries(&t, at(40), 10)
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    expect_err(
        store.record_deliveries(
            &t,
            &a,
            &[(d.delivery.id, Outcome::Delivered { status: "x".into() })],
            &RetryPolicy::default(),
            at(41),
        ),
        ErrorKind::Conflict,
        "recording without the lease",
    );
    store.release_lease(&t, &b).unwrap();
    assert!(
        store.acquire_lease(&t, &a, at(42)).unwrap(),
        "released: free"
    );
}

/// Attempts: delivered is done; a failure worth retrying is due again after the policy's
/// delay until its attempts run out, then parked; a refusal is parked at once; a parked
/// delivery is listed and can be retried.
pub fn automation_delivery_records(store: &dyn Store) {
    let t = tenant();
    setup(store, &t);
    let c = claim("recorder");
    assert!(store.acquire_lease(&t, &c, at(0)).unwrap());
    let batch: Vec<_> = ["rc-1", "rc-2", "rc-3"]
        .iter()
        .map(|n| alert(n, "VM_EICAR", Severity::High, 1))
        .collect();
    store.ingest(&t, &batch, at(0)).unwrap();
    store.plan_deliveries(&t, &c, 100, at(0)).unwrap();
    let due = store.due_deliveries(&t, at(0), 100).unwrap();
    assert_eq!(due.len(), 6, "three alerts, two actions each");
    assert!(due.windows(2).all(|w| w[0].delivery.id < w[1].delivery.id));
    assert!(due.iter().all(|d| d.automation.is_some()));
    let ids: Vec<u64> = due.iter().map(|d| d.delivery.id).collect();
    let policy = RetryPolicy::new(3, Duration::from_secs(10), Duration::from_secs(60));
    let rec = store
        .record_deliveries(
            &t,
            &c,
            &[
                (
                    ids[0],
                    Outcome::Delivered {
                        status: "HTTP 200".into(),
                    },
                ),
                (ids[2], Outcome::retry(Some("HTTP 503".into()), "busy")),
                (
                    ids[4],
                    Outcome::reject(Some("HTTP 404".into()), "no such hook"),
                ),
            ],
            &policy,
            at(1),
        )
        .unwrap();
    assert_eq!(rec.len(), 3);
    assert_eq!(rec[0].state, DeliveryState::Delivered);
    assert_eq!(rec[0].attempts, 1);
    assert_eq!(rec[0].last_status.as_deref(), Some("HTTP 200"));
    assert_eq!(rec[1].state, DeliveryState::Pending);
    assert_eq!(rec[1].last_error.as_deref(), Some("busy"));
    let wait = rec[1].next_attempt_at - at(1);
    assert!(
        wait >= chrono::Duration::seconds(5) && wait <= chrono::Duration::seconds(10),
        "first retry after ½–1 × the initial delay, got {wait}"
    );
    assert_eq!(
        rec[2].state,
        DeliveryState::Failed,
        "a refusal is parked at once"
    );

    // Retried until the attempts run out, then parked.
    let mut when = at(1);
    for attempt in 2..=3 {
        let next = store
            .list_deliveries(&t, &DeliveryQuery::default().limit(100))
            .unwrap()
            .into_iter()
            .find(|d| d.id == ids[2])
            .unwrap()
            .next_attempt_at;
        assert!(next > when, "each retry comes later");
        when = next;
        assert!(
            !store
                .due_deliveries(&t, when - chrono::Duration::milliseconds(1), 100)
                .unwrap()
                .iter()
                .any(|d| d.delivery.id == ids[2]),
            "not due before its time"
        );
        let r = store
            .record_deliveries(
                &t,
                &c,
                &[(ids[2], Outcome::retry(None, "timeout"))],
                &policy,
                when,
            )
            .unwrap();
        assert_eq!(r[0].attempts, attempt);
    }
    let parked = store
        .list_deliveries(&t, &DeliveryQuery::state(DeliveryState::Failed))
        .unwrap();
    let parked_ids: Vec<u64> = parked.iter().map(|d| d.id).collect();
    assert_eq!(parked_ids, [ids[2], ids[4]], "parked after 3 attempts");
    assert_eq!(parked[0].last_error.as_deref(), Some("timeout"));
    // A delivery no longer pending is left alone.
    let again = store
        .record_deliveries(
            &t,
            &c,
            &[(ids[0], Outcome::retry(None, "late"))],
            &policy,
            when,
        )
        .unwrap();
    assert!(again.is_empty());

    let retried = store.retry_delivery(&t, ids[2], at(500)).unwrap();
    assert_eq!(
        (retried.state, retried.attempts, retried.next_attempt_at),
        (DeliveryState::Pending, 0, at(500))
    );
    expect_err(
        store.retry_delivery(&t, ids[2], at(500)),
        ErrorKind::InvalidInput,
        "retrying a pending delivery",
    );
    expect_err(
        store.retry_delivery(&t, 9_999, at(500)),
        ErrorKind::NotFound,
        "retrying a missing delivery",
    );
    assert!(
        store
            .due_deliveries(&t, at(500), 100)
            .unwrap()
            .iter()
            .any(|d| d.delivery.id == ids[2])
    );
    let by_name = store
        .list_deliveries(
            &t,
            &DeliveryQuery::default().automation("two-actions").limit(2),
        )
        .unwrap();
    assert_eq!(by_name.len(), 2, "the limit holds");

    // Pruning removes delivered deliveries only, and never the newest delivery.
    let delivered_now = |store: &dyn Store| {
        store
            .list_deliveries(
                &t,
                &DeliveryQuery::state(DeliveryState::Delivered).limit(100),
            )
            .unwrap()
    };
    let rest: Vec<(u64, Outcome)> = store
        .due_deliveries(&t, at(600), 100)
        .unwrap()
        .iter()
        .map(|d| {
            (
                d.delivery.id,
                Outcome::Delivered {
                    status: "HTTP 200".into(),
                },
            )
        })
        .collect();
    assert!(store.acquire_lease(&t, &c, at(600)).unwrap());
    store
        .record_deliveries(&t, &c, &rest, &policy, at(600))
        .unwrap();
    let before_prune = delivered_now(store);
    assert_eq!(before_prune.len(), 5);
    let newest = store
        .list_deliveries(&t, &DeliveryQuery::default().limit(100))
        .unwrap()
        .last()
        .unwrap()
        .id;
    assert_eq!(
        store.prune_deliveries(&t, at(2)).unwrap(),
        1,
        "only the first is that old"
    );
    assert_eq!(delivered_now(store).len(), 4);
    assert_eq!(store.prune_deliveries(&t, at(10_000)).unwrap(), 3);
    let left = delivered_now(store);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, newest, "the newest stays");
    assert_eq!(
        store
            .list_deliveries(&t, &DeliveryQuery::state(DeliveryState::Failed))
            .unwrap()
            .len(),
        1,
        "failed deliveries stay"
    );
}

/// Order: while an earlier delivery of the same automation, action and alert waits for its
/// retry, later ones wait too (other alerts do not); a disabled automation's deliveries wait;
/// a deleted automation's come back without it (to be parked).
pub fn automation_delivery_order(store: &dyn Store) {
    let t = tenant();
    setup(store, &t);
    let c = claim("orderer");
    assert!(store.acquire_lease(&t, &c, at(0)).unwrap());
    store
        .ingest(&t, &[alert("or-1", "VM_EICAR", Severity::High, 1)], at(0))
        .unwrap();
    store
        .change_status(
            &t,
            &id("or-1"),
            1,
            StatusChange::new(Status::Resolved, "x"),
            at(1),
        )
        .unwrap();
    store
        .ingest(&t, &[alert("or-2", "VM_EICAR", Severity::High, 1)], at(2))
        .unwrap();
    store.plan_deliveries(&t, &c, 100, at(3)).unwrap();
    let due = store.due_deliveries(&t, at(3), 100).unwrap();
    assert_eq!(due.len(), 6);
    // or-1's first webhook delivery fails: its second (the Resolved event) must wait.
    let first = due
        .iter()
        .find(|d| d.delivery.alert == Some(id("or-1")) && d.delivery.action == 0)
        .unwrap()
        .delivery
        .clone();
    let policy = RetryPolicy::new(5, Duration::from_secs(100), Duration::from_secs(100));
    store
        .record_deliveries(
            &t,
            &c,
            &[(first.id, Outcome::retry(None, "down"))],
            &policy,
            at(4),
        )
        .unwrap();
    let now: Vec<(Option<String>, u32, u64)> = store
        .due_deliveries(&t, at(5), 100)
        .unwrap()
        .iter()
        .map(|d| {
            (
                d.delivery.alert.as_ref().map(|a| a.as_str().to_owned()),
                d.delivery.action,
                d.delivery.event,
            )
        })
        .collect();
    assert!(
        !now.iter()
            .any(|(a, act, _)| a.as_deref() == Some("or-1") && *act == 0),
        "or-1's webhook deliveries wait behind the failed one: {now:?}"
    );
    assert_eq!(
        now.iter()
            .filter(|(a, act, _)| a.as_deref() == Some("or-1") && *act == 1)
            .count(),
        2,
        "the other action of or-1 is not held up: {now:?}"
    );
    assert_eq!(
        now.iter()
            .filter(|(a, _, _)| a.as_deref() == Some("or-2"))
            .count(),
        2,
        "other alerts are not held up: {now:?}"
    );
    let later = store.due_deliveries(&t, at(200), 100).unwrap();
    let webhook_or1: Vec<u64> = later
        .iter()
        .filter(|d| d.delivery.alert == Some(id("or-1")) && d.delivery.action == 0)
        .map(|d| d.delivery.event)
        .collect();
    assert_eq!(webhook_or1.len(), 2, "both due once the retry is");
    assert!(webhook_or1[0] < webhook_or1[1], "in event order");
    assert_eq!(
        store.due_deliveries(&t, at(200), 1).unwrap()[0].delivery.id,
        first.id,
        "the earliest first"
    );

    store
        .set_automation_enabled(&t, "two-actions", false, at(6))
        .unwrap();
    assert!(
        store.due_deliveries(&t, at(200), 100).unwrap().is_empty(),
        "a disabled automation's deliveries wait"
    );
    store.delete_automation(&t, "two-actions", at(7)).unwrap();
    let orphans = store.due_deliveries(&t, at(200), 100).unwrap();
    assert_eq!(orphans.len(), 6);
    assert!(orphans.iter().all(|d| d.automation.is_none()));
}
