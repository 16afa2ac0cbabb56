//! Edge values: unicode, very long values, extreme and sub-microsecond timestamps.

use chrono::{DateTime, Duration, TimeZone, Utc};
use vigil_core::store::{AlertQuery, Order, Store};
use vigil_core::{Alert, Entity, KillChainIntent, Severity};

use super::support::{at, id, ids, must_get, tenant};

/// Unicode (emoji with joiners, right-to-left text, combining marks, astral characters) and
/// very long values (a 100 KB description, a 10 KB entity value) round-trip exactly through
/// ingest and get, and are found by the text and entity filters.
pub fn edge_unicode_and_long_values(store: &dyn Store) {
    let t = tenant();
    let display = "🔥 Alert — \u{202B}שלום עולם\u{202C} ﻣﺮﺣﺒﺎ e\u{0301}\u{0323} 👩‍👩‍👧‍👦 𝔘𝔫𝔦";
    let long_value: String = "ab🔐c\u{0301}".repeat(10 * 1024 / 8);
    let description: String =
        "Δ description with ünïcödé and \"quotes\" \\ back\tslash\n".repeat(100 * 1024 / 50);
    assert!(description.len() >= 100 * 1024 && long_value.len() >= 10 * 1024);
    let a = Alert::builder(
        id("edge-ü-🔥-\u{05D0}"),
        "VM_Ünïcode",
        display,
        Severity::High,
        at(-60),
    )
    .description(description.clone())
    .entity(Entity::account("José\u{0301}@contoso.com"))
    .entity(Entity::host("ホスト-01"))
    .entity(Entity::process(long_value.clone()))
    .compromised_entity("ホスト-01")
    .extended_property("emoji", "🙂🙃")
    .extended_property("nested", serde_json::json!({"k": ["ü", 1, true, null]}))
    .intent(KillChainIntent::Other("Ünknown intent ✨".into()))
    .build();
    let plain = Alert::builder(
        id("edge-plain"),
        "VM_EICAR",
        "plain",
        Severity::Low,
        at(-61),
    )
    .build();
    store.ingest(&t, &[a.clone(), plain], at(0)).unwrap();
    let got = must_get(store, &t, a.system_alert_id());
    assert_eq!(got.alert, a, "unicode and long values round-trip exactly");
    assert_eq!(
        got.alert.description().map(str::len),
        Some(description.len())
    );

    let by_text = store
        .query(&t, &AlertQuery::default().text("שלום עולם"))
        .unwrap();
    assert_eq!(
        ids(&by_text.alerts),
        vec![a.system_alert_id().clone()],
        "text filter on RTL text"
    );
    let by_emoji = store.query(&t, &AlertQuery::default().text("👩‍👩‍👧‍👦")).unwrap();
    assert_eq!(by_emoji.alerts.len(), 1, "text filter on an emoji sequence");
    let by_long = store
        .query(&t, &AlertQuery::default().entity(long_value.clone()))
        .unwrap();
    assert_eq!(by_long.alerts.len(), 1, "entity filter on a 10 KB value");
    let by_upper = store
        .query(&t, &AlertQuery::default().entity(long_value.to_uppercase()))
        .unwrap();
    assert_eq!(
        by_upper.alerts.len(),
        1,
        "entity filter ignores (Unicode) case"
    );
    let by_type = store
        .query(
            &t,
            &AlertQuery::default().alert_types(["vm_Ünïcode".to_owned()]),
        )
        .unwrap();
    assert_eq!(
        by_type.alerts.len(),
        usize::from(
            AlertQuery::default()
                .alert_types(["vm_Ünïcode".to_owned()])
                .matches(&a)
        ),
        "alert-type filter compares ignoring ASCII case only"
    );
}

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Timestamps at the edges (the Unix epoch, 9999-12-31T23:59:59.9999999Z) and with
/// sub-microsecond nanoseconds round-trip exactly, order correctly, and filter exactly.
pub fn edge_timestamps(store: &dyn Store) {
    let t = tenant();
    let epoch = Utc.timestamp_opt(0, 0).single().unwrap();
    let far = ts("9999-12-31T23:59:59.9999999Z");
    let nanos = ts("2026-10-31T12:00:00.123456789Z");
    let nanos_next = nanos + Duration::nanoseconds(1);
    let mk = |n: &str, time: DateTime<Utc>| {
        Alert::builder(
            id(n),
            "VM_EICAR",
            format!("time {n}"),
            Severity::Medium,
            time,
        )
        .start_time(time)
        .end_time(time)
        .processing_end_time(time)
        .build()
    };
    let alerts = vec![
        mk("ts-nanos-next", nanos_next),
        mk("ts-epoch", epoch),
        mk("ts-far", far),
        mk("ts-nanos", nanos),
    ];
    // One batch each, so the insertion sequence (the tiebreak) is unambiguous.
    for a in &alerts {
        store.ingest(&t, std::slice::from_ref(a), epoch).unwrap();
    }
    for a in &alerts {
        let got = must_get(store, &t, a.system_alert_id());
        assert_eq!(
            got.alert,
            a.clone(),
            "{}: timestamps round-trip exactly",
            a.system_alert_id()
        );
        assert_eq!(got.ingested_at, epoch, "an `at` at the epoch round-trips");
    }
    let by_time = store
        .query(&t, &AlertQuery::default().order(Order::Time))
        .unwrap();
    let got: Vec<String> = ids(&by_time.alerts).iter().map(|i| i.to_string()).collect();
    // ts-nanos and ts-nanos-next share their microsecond: the later insertion comes first.
    assert_eq!(
        got,
        ["ts-far", "ts-nanos", "ts-nanos-next", "ts-epoch"],
        "Order::Time"
    );
    let window = |since: DateTime<Utc>, until: DateTime<Utc>| -> Vec<String> {
        let q = AlertQuery::default().since(since).until(until);
        let mut v: Vec<String> = ids(&store.query(&t, &q).unwrap().alerts)
            .iter()
            .map(|i| i.to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        window(nanos, nanos_next),
        ["ts-nanos"],
        "since inclusive, until exclusive, to the nanosecond"
    );
    assert_eq!(window(nanos_next, far), ["ts-nanos-next"]);
    assert_eq!(
        window(epoch, epoch + Duration::nanoseconds(1)),
        ["ts-epoch"]
    );
    assert_eq!(window(far, far + Duration::days(1)), ["ts-far"]);
    assert!(window(epoch + Duration::nanoseconds(1), nanos).is_empty());
    // Status changes at the edges keep their instants.
    let v = must_get(store, &t, &id("ts-far")).version;
    let change = vigil_core::store::StatusChange::new(vigil_core::Status::Resolved, "edge");
    let updated = store
        .change_status(&t, &id("ts-far"), v, change, far)
        .unwrap();
    assert_eq!(updated.updated_at, far);
    assert_eq!(store.history(&t, &id("ts-far")).unwrap()[0].at, far);
}
