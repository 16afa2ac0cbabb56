//! Respond: status changes with optimistic concurrency and an audit trail, bulk changes, and
//! feedback.

use std::sync::Barrier;

use chrono::Duration;
use vigil_core::store::{
    AlertQuery, AuditEntry, ErrorKind, Feedback, FeedbackQuery, FeedbackReason, StatusChange, Store,
};
use vigil_core::{AlertId, Severity, Status};

use super::support::{alert, at, everything, expect_err, id, must_get, tenant, with_status};

fn one_alert(store: &dyn Store, name: &str) -> AlertId {
    store
        .ingest(
            &tenant(),
            &[alert(name, "VM_EICAR", Severity::High, 1)],
            at(0),
        )
        .unwrap();
    id(name)
}

/// A legal change returns the alert at its new version and appends a complete audit entry.
pub fn change_status_happy_path(store: &dyn Store) {
    let t = tenant();
    let a = one_alert(store, "happy");
    let v1 = must_get(store, &t, &a);
    let change = StatusChange::new(Status::InProgress, "alice").comment("looking into it");
    let v2 = store
        .change_status(&t, &a, v1.version, change, at(10))
        .unwrap();
    assert_eq!(v2.alert.status(), Status::InProgress);
    assert_eq!(
        v2.version,
        v1.version + 1,
        "a change bumps the version by one"
    );
    assert_eq!(v2.updated_at, at(10));
    assert_eq!(v2.ingested_at, v1.ingested_at);
    assert_eq!(
        v2.alert,
        with_status(v1.alert.clone(), Status::InProgress),
        "a status change changes only the status"
    );
    assert_eq!(
        must_get(store, &t, &a),
        v2,
        "get returns what change_status returned"
    );
    let history = store.history(&t, &a).unwrap();
    assert_eq!(
        history,
        vec![AuditEntry {
            at: at(10),
            actor: "alice".into(),
            from: Status::Active,
            to: Status::InProgress,
            comment: Some("looking into it".into()),
            version: v2.version,
        }]
    );
    let v3 = store
        .change_status(
            &t,
            &a,
            v2.version,
            StatusChange::new(Status::Resolved, "bob"),
            at(20),
        )
        .unwrap();
    assert_eq!(v3.version, v2.version + 1);
    let history = store.history(&t, &a).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].comment, None, "no comment stays no comment");
    assert_eq!(history[1].actor, "bob");
    assert_eq!(
        (history[1].from, history[1].to),
        (Status::InProgress, Status::Resolved)
    );
    // Reactivation is legal from a closed status.
    let v4 = store
        .change_status(
            &t,
            &a,
            v3.version,
            StatusChange::new(Status::Active, "carol"),
            at(30),
        )
        .unwrap();
    assert_eq!(v4.alert.status(), Status::Active);
}

/// A stale version is a Conflict and changes nothing: status, version and history stay.
pub fn change_status_conflict(store: &dyn Store) {
    let t = tenant();
    let a = one_alert(store, "conflict");
    let v1 = must_get(store, &t, &a);
    let v2 = store
        .change_status(
            &t,
            &a,
            v1.version,
            StatusChange::new(Status::InProgress, "alice"),
            at(1),
        )
        .unwrap();
    let history = store.history(&t, &a).unwrap();
    for (stale, to) in [
        (v1.version, Status::Resolved),
        (v1.version, Status::Dismissed),
        (v2.version + 1, Status::Resolved),
        (0, Status::Resolved),
        (u64::MAX, Status::Resolved),
    ] {
        expect_err(
            store.change_status(&t, &a, stale, StatusChange::new(to, "mallory"), at(2)),
            ErrorKind::Conflict,
            &format!(
                "change with version {stale} when the alert is at {}",
                v2.version
            ),
        );
        assert_eq!(must_get(store, &t, &a), v2, "a conflict changes nothing");
        assert_eq!(
            store.history(&t, &a).unwrap(),
            history,
            "a conflict adds no entry"
        );
    }
}

/// An illegal transition is InvalidInput and changes nothing.
pub fn change_status_illegal(store: &dyn Store) {
    let t = tenant();
    let a = one_alert(store, "illegal");
    let v1 = must_get(store, &t, &a);
    expect_err(
        store.change_status(
            &t,
            &a,
            v1.version,
            StatusChange::new(Status::Active, "x"),
            at(1),
        ),
        ErrorKind::InvalidInput,
        "Active → Active",
    );
    let v2 = store
        .change_status(
            &t,
            &a,
            v1.version,
            StatusChange::new(Status::Resolved, "x"),
            at(2),
        )
        .unwrap();
    for to in [Status::Resolved, Status::InProgress, Status::Dismissed] {
        expect_err(
            store.change_status(&t, &a, v2.version, StatusChange::new(to, "x"), at(3)),
            ErrorKind::InvalidInput,
            &format!("Resolved → {to}"),
        );
        assert_eq!(
            must_get(store, &t, &a),
            v2,
            "an illegal transition changes nothing"
        );
        assert_eq!(store.history(&t, &a).unwrap().len(), 1);
    }
    let v3 = store
        .change_status(
            &t,
            &a,
            v2.version,
            StatusChange::new(Status::Active, "x"),
            at(4),
        )
        .unwrap();
    let v4 = store
        .change_status(
            &t,
            &a,
            v3.version,
            StatusChange::new(Status::InProgress, "x"),
            at(5),
        )
        .unwrap();
    expect_err(
        store.change_status(
            &t,
            &a,
            v4.version,
            StatusChange::new(Status::Active, "x"),
            at(6),
        ),
        ErrorKind::InvalidInput,
        "InProgress → Active",
    );
    assert_eq!(must_get(store, &t, &a), v4);
}

/// Changing, reading the history of, or giving feedback on a missing alert is NotFound.
pub fn change_status_missing(store: &dyn Store) {
    let t = tenant();
    one_alert(store, "exists");
    expect_err(
        store.change_status(
            &t,
            &id("ghost"),
            1,
            StatusChange::new(Status::Resolved, "x"),
            at(1),
        ),
        ErrorKind::NotFound,
        "change_status of a missing alert",
    );
    expect_err(
        store.history(&t, &id("ghost")),
        ErrorKind::NotFound,
        "history of a missing alert",
    );
    assert!(
        store.get(&t, &id("ghost")).unwrap().is_none(),
        "nothing was created"
    );
}

/// The audit trail is append-only and ordered: every entry seen earlier stays, unchanged, at
/// its place; versions increase by one; each `from` is the previous `to`.
pub fn history_append_only(store: &dyn Store) {
    let t = tenant();
    let a = one_alert(store, "trail");
    let path = [
        Status::InProgress,
        Status::Dismissed,
        Status::Active,
        Status::Resolved,
        Status::Active,
        Status::Dismissed,
    ];
    let mut seen: Vec<AuditEntry> = Vec::new();
    for (i, to) in path.iter().enumerate() {
        let cur = must_get(store, &t, &a);
        // Instants deliberately not increasing: the trail is in append order, not time order.
        let when = at(1000 - i as i64 * 7) + Duration::nanoseconds(i as i64 * 123);
        store
            .change_status(
                &t,
                &a,
                cur.version,
                StatusChange::new(*to, format!("actor-{i}")).comment(format!("step {i}")),
                when,
            )
            .unwrap();
        // A failing request in between must not touch the trail.
        let _ = store.change_status(&t, &a, cur.version, StatusChange::new(*to, "late"), when);
        let history = store.history(&t, &a).unwrap();
        assert_eq!(history.len(), seen.len() + 1, "one entry per change");
        assert_eq!(
            &history[..seen.len()],
            seen.as_slice(),
            "earlier entries never change"
        );
        let e = &history[seen.len()];
        assert_eq!(e.to, *to);
        assert_eq!(e.at, when, "entry time round-trips (nanoseconds included)");
        assert_eq!(e.actor, format!("actor-{i}"));
        seen = history;
    }
    check_chain(&seen, Status::Active, 1);
}

#[track_caller]
fn check_chain(history: &[AuditEntry], first_from: Status, first_version: u64) {
    let mut from = first_from;
    let mut version = first_version;
    for (i, e) in history.iter().enumerate() {
        assert_eq!(
            e.from, from,
            "entry {i}: `from` must be the previous entry's `to`"
        );
        assert_eq!(
            e.version,
            version + 1,
            "entry {i}: versions increase by one"
        );
        assert!(
            from.can_transition_to(e.to),
            "entry {i}: {from} → {} is illegal",
            e.to
        );
        from = e.to;
        version = e.version;
    }
}

/// 8 threads × 25 attempts on one alert, each reading the alert and trying a legal change with
/// the version it read: every attempt succeeds or conflicts, and the successes form one
/// unbroken chain (no lost update): final version = 1 + successes, one entry per success,
/// versions +1 each, each `from` the previous `to`.
pub fn change_status_concurrent(store: &dyn Store) {
    const THREADS: usize = 8;
    const ATTEMPTS: usize = 25;
    let t = tenant();
    let a = one_alert(store, "contended");
    let start = must_get(store, &t, &a);
    let barrier = Barrier::new(THREADS);
    let results: Vec<(usize, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|n| {
                let (t, a, barrier) = (&t, &a, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let (mut ok, mut conflicts) = (0, 0);
                    for i in 0..ATTEMPTS {
                        let cur = store.get(t, a).unwrap().unwrap();
                        let to = match cur.alert.status() {
                            Status::Active => Status::InProgress,
                            Status::InProgress => Status::Resolved,
                            _ => Status::Active,
                        };
                        let change = StatusChange::new(to, format!("thread-{n}"));
                        let when = at((n * 1000 + i) as i64);
                        match store.change_status(t, a, cur.version, change, when) {
                            Ok(updated) => {
                                assert_eq!(updated.alert.status(), to);
                                assert_eq!(updated.version, cur.version + 1);
                                ok += 1;
                            }
                            Err(e) if e.kind() == ErrorKind::Conflict => conflicts += 1,
                            Err(e) => panic!(
                                "a legal change at the version just read may only succeed or \
                                 conflict, got {e}"
                            ),
                        }
                    }
                    (ok, conflicts)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let successes: usize = results.iter().map(|r| r.0).sum();
    let conflicts: usize = results.iter().map(|r| r.1).sum();
    assert_eq!(successes + conflicts, THREADS * ATTEMPTS);
    assert!(successes > 0);
    let end = must_get(store, &t, &a);
    assert_eq!(
        end.version,
        start.version + successes as u64,
        "every success bumps the version exactly once"
    );
    let history = store.history(&t, &a).unwrap();
    assert_eq!(history.len(), successes, "one audit entry per success");
    check_chain(&history, Status::Active, start.version);
    assert_eq!(history.last().map(|e| e.to), Some(end.alert.status()));
}

/// A bulk change over a query returns one outcome per selected alert (all pages, whatever the
/// limit): the new version for legal changes, InvalidInput for alerts already in the target
/// status or not allowed to reach it; only selected, legal alerts change.
pub fn bulk_change_status(store: &dyn Store) {
    let t = tenant();
    let statuses = [
        Status::Active,
        Status::InProgress,
        Status::Resolved,
        Status::Dismissed,
    ];
    let mut batch = Vec::new();
    for i in 0..12 {
        let s = statuses[i % 4];
        batch.push(with_status(
            alert(&format!("bulk-a-{i}"), "Bulk_A", Severity::Medium, i as i64),
            s,
        ));
        batch.push(with_status(
            alert(&format!("bulk-b-{i}"), "Bulk_B", Severity::Medium, i as i64),
            s,
        ));
    }
    store.ingest(&t, &batch, at(0)).unwrap();
    let before = everything(store, &t);
    let q = AlertQuery::default()
        .alert_types(["Bulk_A".to_owned()])
        .all_statuses()
        .limit(2);
    let out = store
        .bulk_change_status(
            &t,
            &q,
            StatusChange::new(Status::Resolved, "bulk").comment("close all"),
            at(5),
        )
        .unwrap();
    let mut got_ids: Vec<String> = out.iter().map(|o| o.id.to_string()).collect();
    got_ids.sort();
    let mut want_ids: Vec<String> = (0..12).map(|i| format!("bulk-a-{i}")).collect();
    want_ids.sort();
    assert_eq!(
        got_ids, want_ids,
        "one outcome per selected alert, across all pages"
    );
    for o in &out {
        let prev = before
            .iter()
            .find(|b| b.alert.system_alert_id() == &o.id)
            .unwrap();
        let now = must_get(store, &t, &o.id);
        let history = store.history(&t, &o.id).unwrap();
        if prev.alert.status().can_transition_to(Status::Resolved) {
            let v = o
                .result
                .as_ref()
                .unwrap_or_else(|e| panic!("{}: {e}", o.id));
            assert_eq!(*v, now.version, "{}: the outcome is the new version", o.id);
            assert_eq!(now.version, prev.version + 1);
            assert_eq!(now.alert.status(), Status::Resolved);
            assert_eq!(history.len(), 1);
            assert_eq!(history[0].actor, "bulk");
            assert_eq!(history[0].comment.as_deref(), Some("close all"));
            assert_eq!(
                (history[0].from, history[0].version),
                (prev.alert.status(), now.version)
            );
        } else {
            match &o.result {
                Ok(v) => panic!(
                    "{}: {} → Resolved is illegal but got Ok({v})",
                    o.id,
                    prev.alert.status()
                ),
                Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}: {e}", o.id),
            }
            assert_eq!(&now, prev, "{}: an illegal change changes nothing", o.id);
            assert!(history.is_empty());
        }
    }
    for b in before.iter().filter(|b| b.alert.alert_type() == "Bulk_B") {
        assert_eq!(
            &must_get(store, &t, b.alert.system_alert_id()),
            b,
            "alerts the query does not select are not changed"
        );
    }
    // A second identical bulk change: every selected alert is now Resolved or Dismissed.
    let again = store
        .bulk_change_status(&t, &q, StatusChange::new(Status::Resolved, "bulk"), at(6))
        .unwrap();
    assert_eq!(again.len(), 12);
    assert!(again.iter().all(|o| {
        o.result
            .as_ref()
            .is_err_and(|e| e.kind() == ErrorKind::InvalidInput)
    }));
    // A query selecting nothing changes nothing.
    let none = store
        .bulk_change_status(
            &t,
            &AlertQuery::default().alert_types(["Nothing".to_owned()]),
            StatusChange::new(Status::Resolved, "bulk"),
            at(7),
        )
        .unwrap();
    assert!(none.is_empty());
}

fn fb(useful: bool, reason: FeedbackReason, actor: &str, secs: i64) -> Feedback {
    Feedback {
        useful,
        reason,
        comment: Some(format!("{actor} says so")),
        actor: actor.into(),
        at: at(secs),
    }
}

/// Several feedback entries per alert, listed oldest first (in the order added), filtered by
/// alert, by verdict, and by both.
pub fn feedback_filters(store: &dyn Store) {
    let t = tenant();
    let batch = vec![
        alert("fb-1", "VM_EICAR", Severity::High, 1),
        alert("fb-2", "VM_EICAR", Severity::Low, 2),
        alert("fb-3", "VM_EICAR", Severity::Low, 3),
    ];
    store.ingest(&t, &batch, at(0)).unwrap();
    let entries = vec![
        (
            id("fb-1"),
            fb(true, FeedbackReason::TruePositive, "alice", 10),
        ),
        (
            id("fb-2"),
            fb(false, FeedbackReason::FalsePositive, "bob", 11),
        ),
        (id("fb-1"), fb(false, FeedbackReason::TooNoisy, "carol", 12)),
        (
            id("fb-1"),
            fb(true, FeedbackReason::HelpfulContext, "dave", 13),
        ),
        (
            id("fb-2"),
            Feedback {
                comment: None,
                ..fb(false, FeedbackReason::Duplicate, "erin", 14)
            },
        ),
    ];
    for (a, f) in &entries {
        store.add_feedback(&t, a, f.clone()).unwrap();
    }
    let all = store.list_feedback(&t, &FeedbackQuery::default()).unwrap();
    assert_eq!(all, entries, "every entry, oldest first");
    let pick = |alert: Option<&str>, useful: Option<bool>| {
        let q = FeedbackQuery {
            alert: alert.map(id),
            useful,
        };
        let want: Vec<_> = entries
            .iter()
            .filter(|(a, f)| {
                alert.is_none_or(|x| a.as_str() == x) && useful.is_none_or(|u| u == f.useful)
            })
            .cloned()
            .collect();
        assert_eq!(
            store.list_feedback(&t, &q).unwrap(),
            want,
            "feedback for {q:?}"
        );
        want.len()
    };
    assert_eq!(pick(Some("fb-1"), None), 3);
    assert_eq!(pick(Some("fb-2"), None), 2);
    assert_eq!(pick(Some("fb-3"), None), 0);
    assert_eq!(pick(None, Some(true)), 2);
    assert_eq!(pick(None, Some(false)), 3);
    assert_eq!(pick(Some("fb-1"), Some(false)), 1);
    assert_eq!(pick(Some("fb-2"), Some(true)), 0);
    // Feedback does not change the alert.
    assert_eq!(must_get(store, &t, &id("fb-1")).version, 1);
}

/// Feedback on a missing alert is NotFound and is not recorded.
pub fn feedback_missing_alert(store: &dyn Store) {
    let t = tenant();
    one_alert(store, "fb-present");
    expect_err(
        store.add_feedback(
            &t,
            &id("fb-ghost"),
            fb(true, FeedbackReason::TruePositive, "x", 1),
        ),
        ErrorKind::NotFound,
        "feedback on a missing alert",
    );
    assert!(
        store
            .list_feedback(&t, &FeedbackQuery::default())
            .unwrap()
            .is_empty()
    );
    let q = FeedbackQuery {
        alert: Some(id("fb-ghost")),
        useful: None,
    };
    assert!(store.list_feedback(&t, &q).unwrap().is_empty());
}

/// Every named reason and free-text `Other` reasons (unicode, spaces, empty comment) round-trip
/// exactly.
pub fn feedback_reasons_round_trip(store: &dyn Store) {
    let t = tenant();
    let a = one_alert(store, "fb-reasons");
    let mut reasons: Vec<FeedbackReason> = FeedbackReason::named().to_vec();
    reasons.push(FeedbackReason::Other(
        "Customer asked: ignore on Fridays ☕".into(),
    ));
    reasons.push(FeedbackReason::Other("  spaced  out  ".into()));
    reasons.push(FeedbackReason::Other("Ünïcödé / עברית / 🛡️".into()));
    let sent: Vec<Feedback> = reasons
        .iter()
        .enumerate()
        .map(|(i, r)| Feedback {
            useful: i % 2 == 0,
            reason: r.clone(),
            comment: if i % 3 == 0 {
                None
            } else {
                Some(format!("comment {i} — ok"))
            },
            actor: format!("analyst-{i}@contoso.com"),
            at: at(i as i64) + Duration::nanoseconds(i as i64 * 1_001),
        })
        .collect();
    for f in &sent {
        store.add_feedback(&t, &a, f.clone()).unwrap();
    }
    let got: Vec<Feedback> = store
        .list_feedback(&t, &FeedbackQuery::default())
        .unwrap()
        .into_iter()
        .map(|(i, f)| {
            assert_eq!(i, a);
            f
        })
        .collect();
    assert_eq!(got, sent, "feedback round-trips exactly");
}
