//! The triage query: default queue, orders, filters (against the contract's own
//! [`AlertQuery::matches`]), counts and cursor pagination.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use vigil_core::attack::{TacticId, TechniqueId};
use vigil_core::defender;
use vigil_core::store::{
    AlertQuery, Counts, Cursor, ErrorKind, Order, ResourceFilter, Store, StoredAlert,
    priority_score,
};
use vigil_core::{Alert, AlertId, KillChainIntent, Severity, Status};

use super::sample::{self, GROUPS, SUBSCRIPTIONS, vm_resource};
use super::support::{
    alert, alert_at, all_pages, assert_unique, at, base, expect_err, id, ids, sorted, tenant,
    with_status,
};

/// The visible part of an alert's position in `order` (everything but the insertion sequence).
fn visible_key(order: Order, a: &Alert) -> (i64, i64) {
    let t = a.time_generated().timestamp_micros();
    let rank = |s: Severity| Severity::ALL.iter().position(|x| *x == s).unwrap_or(0) as i64;
    match order {
        Order::SeverityThenTime => (rank(a.severity()), t),
        Order::Time => (t, 0),
        Order::Priority => (priority_score(a.severity(), a.intents()), t),
    }
}

#[track_caller]
fn assert_ordered(order: Order, alerts: &[StoredAlert], what: &str) {
    for w in alerts.windows(2) {
        let (a, b) = (&w[0].alert, &w[1].alert);
        assert!(
            visible_key(order, a) >= visible_key(order, b),
            "{what}: {order:?} puts {} ({:?}) before {} ({:?})",
            a.system_alert_id(),
            visible_key(order, a),
            b.system_alert_id(),
            visible_key(order, b)
        );
    }
}

/// An alert listing only the sub-technique T1059.001, not its parent (Defender documents can
/// do that; the builder always adds the parent).
fn sub_technique_only() -> Alert {
    let a = alert("q-subonly", "VM_EICAR", Severity::Low, 7)
        .into_builder()
        .technique("T1059.001".parse().unwrap())
        .build();
    let mut v = serde_json::to_value(&a).unwrap();
    v["properties"]
        .as_object_mut()
        .unwrap()
        .remove("techniques");
    let parsed = defender::parse_alerts(&serde_json::Value::Array(vec![v]).to_string()).unwrap();
    let a = parsed.into_iter().next().unwrap();
    assert!(a.techniques().is_empty() && !a.sub_techniques().is_empty());
    a
}

/// Ingests the oracle data set: ~200 generated alerts of every status, plus special cases.
fn oracle_data(store: &dyn Store) -> Vec<Alert> {
    let mut alerts = sample::alerts(7, 200, "q", true);
    alerts.push(sub_technique_only());
    store.ingest(&tenant(), &alerts, at(0)).unwrap();
    alerts
}

fn oracle(alerts: &[Alert], q: &AlertQuery) -> Vec<AlertId> {
    sorted(
        &alerts
            .iter()
            .filter(|a| q.matches(a))
            .map(|a| a.system_alert_id().clone())
            .collect::<Vec<_>>(),
    )
}

fn tech(s: &str) -> TechniqueId {
    s.parse().unwrap()
}

fn mins(m: i64) -> DateTime<Utc> {
    base() - Duration::minutes(m)
}

/// The queries the filter oracle runs: each filter alone (several ways), then combinations.
fn oracle_queries() -> Vec<(&'static str, AlertQuery)> {
    let q = AlertQuery::default;
    let exact = vm_resource(SUBSCRIPTIONS[0], GROUPS[0], "web-01").to_lowercase();
    vec![
        ("default", q()),
        ("all statuses", q().all_statuses()),
        (
            "statuses Resolved+Dismissed",
            q().statuses([Status::Resolved, Status::Dismissed]),
        ),
        ("statuses InProgress", q().statuses([Status::InProgress])),
        (
            "severities High+Low",
            q().severities([Severity::High, Severity::Low]),
        ),
        (
            "min severity Medium",
            q().all_statuses().min_severity(Severity::Medium),
        ),
        (
            "alert types (case)",
            q().alert_types(["vm_eicar".to_owned(), "SQL.DB_BruteForce".to_owned()]),
        ),
        (
            "product (case)",
            q().products(["microsoft defender FOR cloud".to_owned()]),
        ),
        (
            "resource exact (case)",
            q().all_statuses().resource(ResourceFilter::Exact(exact)),
        ),
        (
            "resource prefix group (case)",
            q().all_statuses().resource(ResourceFilter::Prefix(
                "/SUBSCRIPTIONS/4c5f1a2e-0001/resourcegroups/PROD-".into(),
            )),
        ),
        (
            "resource prefix subscriptions",
            q().resource(ResourceFilter::Prefix("/subscriptions/4c5f1a2e-000".into())),
        ),
        (
            "intents",
            q().intents([KillChainIntent::Execution, KillChainIntent::Exfiltration]),
        ),
        (
            "tactic reconnaissance",
            q().all_statuses().tactics([TacticId::RECONNAISSANCE]),
        ),
        (
            "tactic stealth",
            q().tactics([TacticId::STEALTH, TacticId::IMPACT]),
        ),
        (
            "technique parent",
            q().all_statuses().techniques([tech("T1059")]),
        ),
        (
            "technique sub",
            q().techniques([tech("T1110.003"), tech("T1190")]),
        ),
        ("entity host (case)", q().all_statuses().entity("WEB-01")),
        ("entity ip", q().entity("10.0.1.3")),
        ("entity account", q().entity("ALICE")),
        ("since", q().since(mins(600))),
        ("until", q().all_statuses().until(mins(300))),
        ("since+until", q().since(mins(900)).until(mins(400))),
        ("text (case)", q().text("POWERSHELL")),
        ("text phrase", q().all_statuses().text("detected on web")),
        (
            "combined",
            q().statuses([Status::Active, Status::Dismissed])
                .min_severity(Severity::Low)
                .entity("10.0.0.1")
                .since(mins(1400)),
        ),
        (
            "combined 2",
            q().all_statuses()
                .severities([Severity::High, Severity::Medium, Severity::Informational])
                .resource(ResourceFilter::Prefix(
                    "/subscriptions/9D3B1E2A-0003".into(),
                ))
                .text("ON"),
        ),
    ]
}

/// The default queue shows the open alerts (Active and InProgress); Resolved and Dismissed are
/// one status filter away, in queries and in counts.
pub fn query_default_shows_open_alerts(store: &dyn Store) {
    let t = tenant();
    let alerts: Vec<Alert> = Status::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| {
            with_status(
                alert(&format!("hide-{i}"), "VM_EICAR", Severity::High, i as i64),
                *s,
            )
        })
        .collect();
    store.ingest(&t, &alerts, at(0)).unwrap();
    let open: Vec<AlertId> = alerts
        .iter()
        .filter(|a| a.status().is_open())
        .map(|a| a.system_alert_id().clone())
        .collect();
    assert_eq!(open.len(), 2);
    let page = store.query(&t, &AlertQuery::default()).unwrap();
    assert_eq!(
        sorted(&ids(&page.alerts)),
        sorted(&open),
        "the default queue shows the open alerts (Active and InProgress)"
    );
    assert!(page.next.is_none());
    let counts = store.counts(&t, &AlertQuery::default()).unwrap();
    assert_eq!(counts.total(), 2, "default counts are of open alerts");
    assert!(counts.by_status.contains(&(Status::Dismissed, 0)));
    assert!(counts.by_status.contains(&(Status::Resolved, 0)));
    for closed in [Status::Resolved, Status::Dismissed] {
        let page = store
            .query(&t, &AlertQuery::default().statuses([closed]))
            .unwrap();
        assert_eq!(page.alerts.len(), 1, "{closed} is one filter away");
        assert_eq!(page.alerts[0].alert.status(), closed);
    }
    let all = store
        .query(&t, &AlertQuery::default().all_statuses())
        .unwrap();
    assert_eq!(all.alerts.len(), 4);
    for a in &alerts {
        let stored = all
            .alerts
            .iter()
            .find(|s| s.alert.system_alert_id() == a.system_alert_id())
            .unwrap();
        assert_eq!(&stored.alert, a, "an alert ingested with a status keeps it");
    }
}

fn check_order(store: &dyn Store, order: Order) {
    let t = tenant();
    let alerts = oracle_data(store);
    let q = AlertQuery::default()
        .all_statuses()
        .order(order)
        .limit(1000);
    let got = store.query(&t, &q).unwrap();
    assert!(got.next.is_none());
    assert_eq!(got.alerts.len(), alerts.len());
    assert_ordered(order, &got.alerts, "full result");

    // Ties on every visible key: the later insertion comes first (descending sequence).
    let tie_a = alert("tie-a", "VM_EICAR", Severity::Low, 3000);
    let tie_b = alert("tie-b", "VM_EICAR", Severity::Low, 3000);
    store.ingest(&t, &[tie_a], at(1)).unwrap();
    store.ingest(&t, &[tie_b], at(2)).unwrap();
    let got = store
        .query(
            &t,
            &AlertQuery::default()
                .order(order)
                .text("alert tie-")
                .limit(10),
        )
        .unwrap();
    assert_eq!(
        ids(&got.alerts),
        vec![id("tie-b"), id("tie-a")],
        "{order:?}: equal keys tie-break on insertion sequence, latest first"
    );
}

/// The default order: most severe first, then most recent; ties latest-inserted first.
pub fn query_order_severity_then_time(store: &dyn Store) {
    check_order(store, Order::SeverityThenTime);
    let got = store
        .query(&tenant(), &AlertQuery::default().limit(1000))
        .unwrap();
    assert_eq!(
        got.alerts.first().map(|a| a.alert.severity()),
        Some(Severity::High)
    );
}

/// `Order::Time`: most recent first.
pub fn query_order_time(store: &dyn Store) {
    check_order(store, Order::Time);
}

/// `Order::Priority`: highest `priority_score` first, then most recent (a Medium alert at
/// Exfiltration outranks a High one at PreAttack).
pub fn query_order_priority(store: &dyn Store) {
    check_order(store, Order::Priority);
    let t = tenant();
    let exfil = alert("prio-exfil", "VM_EICAR", Severity::Medium, 2)
        .into_builder()
        .intent(KillChainIntent::Exfiltration)
        .build();
    let scan = alert("prio-scan", "VM_EICAR", Severity::High, 1)
        .into_builder()
        .intent(KillChainIntent::PreAttack)
        .build();
    store.ingest(&t, &[scan, exfil], at(5)).unwrap();
    let got = store
        .query(
            &t,
            &AlertQuery::default()
                .order(Order::Priority)
                .text("alert prio-"),
        )
        .unwrap();
    assert_eq!(ids(&got.alerts), vec![id("prio-exfil"), id("prio-scan")]);
}

/// Every filter agrees with `AlertQuery::matches` over ~200 generated alerts: the store returns
/// exactly the alerts the contract's definition selects, in order.
pub fn query_filters_match_oracle(store: &dyn Store) {
    let t = tenant();
    let alerts = oracle_data(store);
    for (name, q) in oracle_queries() {
        let want = oracle(&alerts, &q);
        assert!(
            !want.is_empty(),
            "oracle query {name:?} selects nothing; fix the suite"
        );
        if name != "all statuses" {
            assert!(
                want.len() < alerts.len(),
                "oracle query {name:?} selects everything; fix the suite"
            );
        }
        let got = all_pages(store, &t, &q.clone().limit(1000));
        let got_ids = ids(&got);
        assert_unique(&got_ids, name);
        assert_eq!(
            sorted(&got_ids),
            want,
            "query {name:?} must select exactly the alerts AlertQuery::matches selects"
        );
        assert_ordered(q.order, &got, name);
    }
    // The parent-of-sub-technique case must actually be exercised.
    let q = AlertQuery::default().techniques([tech("T1059")]);
    let got = ids(&all_pages(store, &t, &q));
    assert!(
        got.contains(&id("q-subonly")),
        "a technique filter includes alerts listing only one of its sub-techniques"
    );
    // Filters on a time with nanoseconds are exact.
    let nanos = alerts
        .iter()
        .find(|a| a.time_generated().timestamp_subsec_nanos() % 1000 != 0)
        .expect("generated alerts include sub-microsecond times");
    let t0 = nanos.time_generated();
    let one = AlertQuery::default()
        .all_statuses()
        .since(t0)
        .until(t0 + Duration::nanoseconds(1));
    let got = ids(&all_pages(store, &t, &one));
    assert_eq!(
        got,
        oracle(&alerts, &one),
        "since/until at nanosecond precision"
    );
    assert!(got.contains(nanos.system_alert_id()));
}

/// Counts by severity and status equal counting the oracle's result, for every oracle query.
pub fn query_counts_match_oracle(store: &dyn Store) {
    let t = tenant();
    let alerts = oracle_data(store);
    for (name, q) in oracle_queries() {
        let want = Counts::of(alerts.iter().filter(|a| q.matches(a)));
        // Order, limit and cursor do not affect counts.
        let q = q.order(Order::Time).limit(3);
        let got = store.counts(&t, &q).unwrap();
        assert_eq!(got, want, "counts of query {name:?}");
    }
}

/// Walking every page with a small limit yields exactly the full ordered result, without
/// duplicates, in every order.
pub fn query_pagination_complete(store: &dyn Store) {
    let t = tenant();
    let alerts = oracle_data(store);
    for order in [Order::SeverityThenTime, Order::Time, Order::Priority] {
        for (limit, q) in [
            (7, AlertQuery::default().all_statuses()),
            (1, AlertQuery::default().min_severity(Severity::High)),
            (13, AlertQuery::default()),
        ] {
            let q = q.order(order).limit(limit);
            let full = store.query(&t, &q.clone().limit(1000)).unwrap();
            assert!(full.next.is_none());
            let walked = all_pages(store, &t, &q);
            let walked_ids = ids(&walked);
            assert_unique(&walked_ids, "walked pages");
            assert_eq!(
                walked_ids,
                ids(&full.alerts),
                "{order:?}, limit {limit}: pages concatenated must equal the full result"
            );
            assert_eq!(walked.len(), oracle(&alerts, &q).len());
        }
    }
    // An exact fit: the last full page has no next cursor or an empty page follows.
    let q = AlertQuery::default().all_statuses().limit(alerts.len());
    let walked = all_pages(store, &t, &q);
    assert_eq!(walked.len(), alerts.len());
}

/// Pagination while alerts arrive: continuing from a cursor skips and repeats none of the
/// alerts that were there; new alerts ordered after the cursor show up, new ones ordered
/// before it do not (the next page holds strictly smaller keys).
pub fn query_pagination_while_inserting(store: &dyn Store) {
    let t = tenant();
    oracle_data(store);
    for (round, order) in [Order::SeverityThenTime, Order::Time]
        .into_iter()
        .enumerate()
    {
        let q = AlertQuery::default().order(order).limit(10);
        let before: Vec<AlertId> = ids(&store.query(&t, &q.clone().limit(1000)).unwrap().alerts);
        let first = store.query(&t, &q).unwrap();
        let cursor = first.next.expect("more than one page");
        // Newest High alerts sort before the cursor; old Informational ones after it.
        let early: Vec<Alert> = (0..3)
            .map(|i| {
                alert_at(
                    &format!("ins-{round}-early-{i}"),
                    Severity::High,
                    base() + Duration::hours(1 + round as i64),
                )
            })
            .collect();
        let late: Vec<Alert> = (0..3)
            .map(|i| {
                alert_at(
                    &format!("ins-{round}-late-{i}"),
                    Severity::Informational,
                    base() - Duration::days(10 + round as i64),
                )
            })
            .collect();
        let mut batch = early.clone();
        batch.extend(late.clone());
        store.ingest(&t, &batch, at(100 + round as i64)).unwrap();
        let mut seen = ids(&first.alerts);
        let rest = all_pages_from(store, &q, cursor);
        seen.extend(ids(&rest));
        assert_unique(&seen, "pages across an insert");
        for b in &before {
            assert!(
                seen.contains(b),
                "{order:?}: alert {b} was there before the insert but was skipped"
            );
        }
        for a in &late {
            assert!(
                seen.contains(a.system_alert_id()),
                "{order:?}: new alert {} sorts after the cursor and must appear",
                a.system_alert_id()
            );
        }
        for a in &early {
            assert!(
                !seen.contains(a.system_alert_id()),
                "{order:?}: new alert {} sorts before the cursor and must not appear",
                a.system_alert_id()
            );
        }
        assert_eq!(seen.len(), before.len() + late.len());
    }
}

fn all_pages_from(store: &dyn Store, q: &AlertQuery, cursor: Cursor) -> Vec<StoredAlert> {
    let mut q = q.clone().cursor(Some(cursor));
    let mut out = Vec::new();
    loop {
        let page = store.query(&tenant(), &q).unwrap();
        out.extend(page.alerts);
        match page.next {
            Some(c) => q = q.cursor(Some(c)),
            None => return out,
        }
        assert!(out.len() < 100_000, "pagination does not end");
    }
}

/// A cursor from another order is InvalidInput; garbage cursor text does not parse
/// (InvalidInput); a cursor's text form round-trips and resumes at the same place.
pub fn query_cursor_errors(store: &dyn Store) {
    let t = tenant();
    oracle_data(store);
    let time_page = store
        .query(&t, &AlertQuery::default().order(Order::Time).limit(5))
        .unwrap();
    let c = time_page.next.expect("a next cursor");
    for order in [Order::SeverityThenTime, Order::Priority] {
        expect_err(
            store.query(&t, &AlertQuery::default().order(order).cursor(Some(c))),
            ErrorKind::InvalidInput,
            "a cursor used with another order",
        );
    }
    for garbage in [
        "",
        "garbage",
        "x.1.2.3",
        "s.1.2",
        "s.1.2.3.4",
        "s.a.b.c",
        "t.1.2.-3",
        "s...",
    ] {
        expect_err(
            garbage.parse::<Cursor>(),
            ErrorKind::InvalidInput,
            &format!("parsing cursor text {garbage:?}"),
        );
    }
    let text = c.to_string();
    let parsed: Cursor = text.parse().unwrap();
    assert_eq!(parsed, c, "cursor text round-trips");
    let q = AlertQuery::default().order(Order::Time).limit(5);
    let a = store.query(&t, &q.clone().cursor(Some(c))).unwrap();
    let b = store.query(&t, &q.cursor(Some(parsed))).unwrap();
    assert_eq!(ids(&a.alerts), ids(&b.alerts));
    assert!(!a.alerts.is_empty());
    let overlap: HashMap<_, _> = ids(&time_page.alerts)
        .into_iter()
        .map(|i| (i, ()))
        .collect();
    assert!(
        ids(&a.alerts).iter().all(|i| !overlap.contains_key(i)),
        "the next page does not repeat the previous one"
    );
}
