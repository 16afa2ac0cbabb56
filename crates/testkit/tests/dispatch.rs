//! The dispatcher against a real HTTP server on loopback (the receiver of `vigil-testkit`) and
//! real child processes: payloads and signatures as the receiver sees them, retries through
//! failures of every kind, order per alert, parking, redirects, commands and their timeout,
//! and two dispatchers sharing one store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use vigil_core::automation::transport::Standard;
use vigil_core::automation::{
    Action, Automation, CommandAction, DeliveryQuery, DeliveryState, DispatchConfig, Dispatcher,
    RetryPolicy, Trigger, Webhook, sign,
};
use vigil_core::store::{MemoryStore, StatusChange, Store, TenantId};
use vigil_core::{Alert, AlertId, Severity, Status};
use vigil_testkit::receiver::{Receiver, Reply};

const SECRET: &str = "whsec-test-7d2";

fn tenant() -> TenantId {
    TenantId::new("contoso").unwrap()
}

fn alert(id: &str) -> Alert {
    Alert::builder(
        AlertId::new(id).unwrap(),
        "VM_EICAR",
        "Test malware",
        Severity::High,
        Utc::now(),
    )
    .build()
}

fn fast() -> DispatchConfig {
    let mut c = DispatchConfig::default();
    c.lease_ttl = Duration::from_secs(10);
    c.poll = Duration::from_millis(10);
    c.retry = RetryPolicy::new(30, Duration::from_millis(10), Duration::from_millis(40));
    c
}

fn hook(url: &str, triggers: Vec<Trigger>) -> Automation {
    Automation::new(
        "hook",
        triggers,
        [Action::Webhook(
            Webhook::new(url)
                .header("X-Team", "soc")
                .secret(SECRET)
                .timeout_seconds(1),
        )],
    )
}

/// Drains until nothing is pending (retries included), within `limit`.
fn deliver_all(store: &dyn Store, d: &Dispatcher<'_>, limit: Duration) {
    let end = Instant::now() + limit;
    loop {
        d.drain().unwrap();
        let pending = store
            .list_deliveries(&tenant(), &DeliveryQuery::state(DeliveryState::Pending))
            .unwrap();
        if pending.is_empty() {
            return;
        }
        assert!(Instant::now() < end, "still pending: {pending:#?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_receiver_verifies_payload_and_signature() {
    let r = Receiver::start(|_, _| Reply::Status(200));
    let store = MemoryStore::default();
    let t = tenant();
    store
        .create_automation(
            &t,
            hook(&r.url("/in?token=abc"), vec![Trigger::AlertCreated]),
            Utc::now(),
        )
        .unwrap();
    store
        .ingest(&t, &[alert("a1"), alert("a2"), alert("a3")], Utc::now())
        .unwrap();
    let transport = Standard::new();
    let mut one = fast();
    one.parallel = 1; // one request at a time: arrival order is planning order
    let d = Dispatcher::new(&store, t.clone(), "d1", &transport, one);
    let p = d.drain().unwrap();
    assert_eq!((p.planned, p.delivered), (3, 3), "{p:?}");
    let got = r.requests();
    assert_eq!(got.len(), 3);
    let now = Utc::now().timestamp();
    for (i, req) in got.iter().enumerate() {
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/in?token=abc");
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(req.header("x-team"), Some("soc"));
        let ts = req.header(sign::TIMESTAMP_HEADER).unwrap();
        let sig = req.header(sign::SIGNATURE_HEADER).unwrap();
        sign::verify(SECRET, ts, sig, &req.body, now, 300).unwrap();
        assert!(sign::verify("wrong", ts, sig, &req.body, now, 300).is_err());
        let body = req.json();
        assert_eq!(body["automation"], "hook");
        assert_eq!(body["tenant"], "contoso");
        assert_eq!(body["event"]["kind"]["type"], "alertIngested");
        let seq = body["event"]["seq"].as_u64().unwrap();
        assert_eq!(
            req.header("idempotency-key").unwrap(),
            format!("contoso:{seq}")
        );
        assert_eq!(
            body["alert"]["properties"]["systemAlertId"],
            format!("a{}", i + 1)
        );
        assert_eq!(req.header("x-vigil-attempt"), Some("1"));
    }
    assert_eq!(r.connections(), 1, "one kept-alive connection");
    let done = store
        .list_deliveries(&t, &DeliveryQuery::state(DeliveryState::Delivered))
        .unwrap();
    assert_eq!(done.len(), 3);
    assert!(
        done.iter()
            .all(|d| d.last_status.as_deref() == Some("HTTP 200"))
    );
}

/// 500s, a hang past the timeout, connections closed mid-answer: every event is delivered, in
/// order per alert, and the only repeats are of requests whose answer was lost.
#[test]
fn failures_of_every_kind_are_retried_in_order() {
    let r = Receiver::start(|_, n| match n {
        2 => Reply::Hang(Duration::from_millis(1500)),
        _ if n % 3 == 0 => Reply::Status(500),
        _ if n % 7 == 1 => Reply::CloseMidResponse,
        _ if n % 11 == 5 => Reply::Status(429),
        _ => Reply::Status(200),
    });
    let store = MemoryStore::default();
    let t = tenant();
    store
        .create_automation(
            &t,
            hook(
                &r.url("/in"),
                vec![Trigger::AlertCreated, Trigger::StatusChanged { to: vec![] }],
            ),
            Utc::now(),
        )
        .unwrap();
    let ids: Vec<String> = (0..8).map(|i| format!("al-{i}")).collect();
    let batch: Vec<Alert> = ids.iter().map(|i| alert(i)).collect();
    store.ingest(&t, &batch, Utc::now()).unwrap();
    for id in &ids {
        let id = AlertId::new(id.as_str()).unwrap();
        store
            .change_status_retrying(
                &t,
                &id,
                StatusChange::new(Status::InProgress, "x"),
                Utc::now(),
                3,
            )
            .unwrap();
        store
            .change_status_retrying(
                &t,
                &id,
                StatusChange::new(Status::Resolved, "x"),
                Utc::now(),
                3,
            )
            .unwrap();
    }
    let transport = Standard::new();
    let d = Dispatcher::new(&store, t.clone(), "d1", &transport, fast());
    deliver_all(&store, &d, Duration::from_secs(30));

    let all = store
        .list_deliveries(&t, &DeliveryQuery::default().limit(1000))
        .unwrap();
    assert_eq!(all.len(), 24, "three events for each of 8 alerts");
    assert!(all.iter().all(|d| d.state == DeliveryState::Delivered));
    assert!(all.iter().any(|d| d.attempts > 1), "some were retried");

    // What the receiver saw, per alert, in arrival order: event numbers never go back, and
    // each event was accepted (200) exactly once.
    let mut per_alert: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut accepted: HashMap<u64, usize> = HashMap::new();
    let statuses: Vec<Reply> = (0..r.count())
        .map(|n| match n {
            2 => Reply::Hang(Duration::ZERO),
            _ if n % 3 == 0 => Reply::Status(500),
            _ if n % 7 == 1 => Reply::CloseMidResponse,
            _ if n % 11 == 5 => Reply::Status(429),
            _ => Reply::Status(200),
        })
        .collect();
    for req in r.requests() {
        let n = req.n;
        let body = req.json();
        let alert = body["alert"]["properties"]["systemAlertId"]
            .as_str()
            .unwrap()
            .to_owned();
        let seq = body["event"]["seq"].as_u64().unwrap();
        per_alert.entry(alert).or_default().push(seq);
        if statuses[n] == Reply::Status(200) {
            *accepted.entry(seq).or_default() += 1;
        }
    }
    for (alert, seqs) in &per_alert {
        assert!(
            seqs.windows(2).all(|w| w[0] <= w[1]),
            "{alert}: events arrived out of order: {seqs:?}"
        );
    }
    let events: Vec<u64> = all.iter().map(|d| d.event).collect();
    for e in &events {
        assert_eq!(accepted.get(e), Some(&1), "event {e} accepted once");
    }
}

#[test]
fn refused_connections_wait_for_the_receiver() {
    let port = Receiver::free_port();
    let store = MemoryStore::default();
    let t = tenant();
    store
        .create_automation(
            &t,
            hook(
                &format!("http://127.0.0.1:{port}/late"),
                vec![Trigger::AlertCreated],
            ),
            Utc::now(),
        )
        .unwrap();
    store
        .ingest(&t, &[alert("r1"), alert("r2")], Utc::now())
        .unwrap();
    let transport = Standard::new();
    let d = Dispatcher::new(&store, t.clone(), "d1", &transport, fast());
    d.drain().unwrap();
    let pending = store
        .list_deliveries(&t, &DeliveryQuery::state(DeliveryState::Pending))
        .unwrap();
    assert_eq!(pending.len(), 2);
    assert!(pending[0].attempts >= 1);
    assert!(pending[0].last_error.is_some(), "{pending:?}");
    let r = Receiver::start_on(port, |_, _| Reply::Status(204));
    deliver_all(&store, &d, Duration::from_secs(10));
    assert_eq!(r.count(), 2);
}

#[test]
fn refusals_are_parked_and_can_be_retried() {
    let ok = Receiver::start(|_, _| Reply::Status(200));
    let other = ok.url("/elsewhere").replace("127.0.0.1", "localhost");
    let same = ok.url("/moved");
    let gone = Receiver::start(move |req, _| match req.path.as_str() {
        "/404" => Reply::Status(404),
        "/away" => Reply::Redirect(other.clone()),
        "/here" => Reply::Redirect("/ok".into()),
        "/ok" => Reply::Status(200),
        _ => Reply::Redirect(same.clone()),
    });
    let store = MemoryStore::default();
    let t = tenant();
    let mut a = Automation::new(
        "hooks",
        [Trigger::AlertCreated],
        [
            Action::Webhook(Webhook::new(gone.url("/404"))),
            Action::Webhook(Webhook::new(gone.url("/away"))),
            Action::Webhook(Webhook::new(gone.url("/here"))),
        ],
    );
    store.create_automation(&t, a.clone(), Utc::now()).unwrap();
    store.ingest(&t, &[alert("p1")], Utc::now()).unwrap();
    let transport = Standard::new();
    let d = Dispatcher::new(&store, t.clone(), "d1", &transport, fast());
    let p = d.drain().unwrap();
    assert_eq!((p.delivered, p.parked), (1, 2), "{p:?}");
    let failed = store
        .list_deliveries(&t, &DeliveryQuery::state(DeliveryState::Failed))
        .unwrap();
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0].attempts, 1, "refused at once, not retried");
    assert_eq!(failed[0].last_status.as_deref(), Some("HTTP 404"));
    assert!(
        failed[1]
            .last_error
            .as_deref()
            .unwrap()
            .contains("another host"),
        "{failed:?}"
    );
    assert_eq!(ok.count(), 0, "a redirect to another host is not followed");

    // Fix the receiver, retry: delivered.
    a.actions[0] = Action::Webhook(Webhook::new(ok.url("/fixed")));
    let v = store.get_automation(&t, "hooks").unwrap().unwrap().version;
    store.update_automation(&t, a, v, Utc::now()).unwrap();
    store.retry_delivery(&t, failed[0].id, Utc::now()).unwrap();
    let p = d.drain().unwrap();
    assert_eq!(p.delivered, 1);
    assert_eq!(ok.requests()[0].path, "/fixed");

    // A receiver that keeps failing is parked after the last attempt.
    let down = Receiver::start(|_, _| Reply::Status(503));
    let mut c = fast();
    c.retry = RetryPolicy::new(3, Duration::from_millis(5), Duration::from_millis(10));
    let b = Automation::new(
        "down",
        [Trigger::AlertCreated],
        [Action::Webhook(Webhook::new(down.url("/")))],
    );
    store.create_automation(&t, b, Utc::now()).unwrap();
    store.ingest(&t, &[alert("p2")], Utc::now()).unwrap();
    d.release().unwrap();
    let d = Dispatcher::new(&store, t.clone(), "d2", &transport, c);
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        d.drain().unwrap();
        let f = store
            .list_deliveries(
                &t,
                &DeliveryQuery::state(DeliveryState::Failed).automation("down"),
            )
            .unwrap();
        if let Some(f) = f.first() {
            assert_eq!(f.attempts, 3);
            assert_eq!(f.last_status.as_deref(), Some("HTTP 503"));
            break;
        }
        assert!(Instant::now() < end, "never parked");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(down.count(), 3);
}

#[test]
fn commands_get_the_payload_and_hung_ones_are_killed() {
    let dir = std::env::temp_dir().join(format!("vigil-cmd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("payload.json");
    let store = MemoryStore::default();
    let t = tenant();
    let save = Automation::new(
        "save",
        [Trigger::AlertCreated],
        [Action::Command(CommandAction::new([
            "/bin/sh",
            "-c",
            "cat > \"$1\"; test \"$VIGIL_AUTOMATION\" = save",
            "sh",
            out.to_str().unwrap(),
        ]))],
    );
    store.create_automation(&t, save, Utc::now()).unwrap();
    store.ingest(&t, &[alert("c1")], Utc::now()).unwrap();
    let transport = Standard::new();
    let d = Dispatcher::new(&store, t.clone(), "d1", &transport, fast());
    let p = d.drain().unwrap();
    assert_eq!(p.delivered, 1, "{p:?}");
    let written = std::fs::read_to_string(&out).unwrap();
    let delivered = store
        .list_deliveries(&t, &DeliveryQuery::default())
        .unwrap();
    assert_eq!(written, delivered[0].payload);
    assert_eq!(delivered[0].last_status.as_deref(), Some("exit 0"));

    // A program that hangs is killed at its timeout.
    let marker = "31.4159";
    let hang = Automation::new(
        "hang",
        [Trigger::AlertCreated],
        [Action::Command(
            // A shell that starts the sleep and waits: the sleep is a grandchild.
            CommandAction::new(["/bin/sh", "-c", &format!("/bin/sleep {marker}; true")])
                .timeout_seconds(1),
        )],
    );
    store.create_automation(&t, hang, Utc::now()).unwrap();
    let mut c = fast();
    c.retry = RetryPolicy::new(1, Duration::from_millis(5), Duration::from_millis(5));
    d.release().unwrap();
    let d = Dispatcher::new(&store, t.clone(), "d2", &transport, c);
    store.ingest(&t, &[alert("c2")], Utc::now()).unwrap();
    let started = Instant::now();
    let p = d.drain().unwrap();
    let took = started.elapsed();
    assert_eq!(p.parked, 1, "{p:?}");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let failed = store
        .list_deliveries(&t, &DeliveryQuery::state(DeliveryState::Failed))
        .unwrap();
    assert_eq!(failed[0].last_status.as_deref(), Some("timeout"));
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&ps.stdout);
    assert!(
        !listing.contains(&format!("sleep {marker}")),
        "the hung program is gone"
    );
    // Failing and missing programs.
    let fail = Automation::new(
        "fail",
        [Trigger::AlertCreated],
        [
            Action::Command(CommandAction::new([
                "/bin/sh",
                "-c",
                "echo nope >&2; exit 3",
            ])),
            Action::Command(CommandAction::new(["/no/such/program"])),
        ],
    );
    store.create_automation(&t, fail, Utc::now()).unwrap();
    store.ingest(&t, &[alert("c3")], Utc::now()).unwrap();
    d.drain().unwrap();
    let failed = store
        .list_deliveries(
            &t,
            &DeliveryQuery::state(DeliveryState::Failed).automation("fail"),
        )
        .unwrap();
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0].last_status.as_deref(), Some("exit 3"));
    assert!(failed[0].last_error.as_deref().unwrap().contains("nope"));
    assert!(
        failed[1]
            .last_error
            .as_deref()
            .unwrap()
            .contains("cannot be started")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two dispatchers on one store while alerts arrive: each event is delivered once.
#[test]
fn two_dispatchers_never_both_deliver() {
    let r = Arc::new(Receiver::start(|_, _| Reply::Status(200)));
    let store = Arc::new(MemoryStore::default());
    let t = tenant();
    store
        .create_automation(
            &t,
            hook(&r.url("/in"), vec![Trigger::AlertCreated]),
            Utc::now(),
        )
        .unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|i| {
            let store = store.clone();
            let stop = stop.clone();
            let t = t.clone();
            std::thread::spawn(move || {
                let transport = Standard::new();
                let d = Dispatcher::new(&*store, t, format!("w{i}"), &transport, fast());
                d.run(&stop, &mut |_| {}).unwrap()
            })
        })
        .collect();
    for chunk in 0..20 {
        let batch: Vec<Alert> = (0..10).map(|i| alert(&format!("tw-{chunk}-{i}"))).collect();
        store.ingest(&t, &batch, Utc::now()).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let end = Instant::now() + Duration::from_secs(20);
    while r.count() < 200 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let totals: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let mut keys: HashMap<String, usize> = HashMap::new();
    for req in r.requests() {
        *keys
            .entry(req.header("idempotency-key").unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(keys.len(), 200, "every event delivered");
    assert!(keys.values().all(|n| *n == 1), "none twice");
    assert_eq!(
        totals.iter().map(|p| p.delivered).sum::<u64>(),
        200,
        "{totals:?}"
    );
}

mod ordering {
    //! Against a reference: whatever fails when, each event is delivered exactly once (no
    //! dispatcher dies here), and each receiver gets one alert's events in the order they
    //! happened.

    use std::sync::Mutex;

    use proptest::prelude::*;
    use vigil_core::automation::{Outcome, Request, Transport};

    use super::*;

    /// Fails attempts as the generated plan says; records what it accepted, in order.
    struct Flaky {
        fail: Vec<bool>,
        n: Mutex<usize>,
        accepted: Mutex<Vec<(String, u32, u64)>>,
    }

    impl Transport for Flaky {
        fn deliver(&self, r: &Request<'_>) -> Outcome {
            let mut n = self.n.lock().unwrap();
            // The plan covers the first attempts; every later one succeeds.
            let fail = self.fail.get(*n).copied().unwrap_or(false);
            *n += 1;
            if fail {
                return Outcome::retry(Some("HTTP 503".into()), "flaky");
            }
            let alert = r.delivery.alert.as_ref().unwrap().as_str().to_owned();
            self.accepted
                .lock()
                .unwrap()
                .push((alert, r.delivery.action, r.delivery.event));
            Outcome::Delivered {
                status: "HTTP 200".into(),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn every_event_once_and_in_order_per_receiver(
            changes in proptest::collection::vec((0usize..4, any::<bool>()), 1..25),
            fail in proptest::collection::vec(proptest::bool::weighted(0.3), 1..40),
            batch in 1usize..8,
        ) {
            let store = MemoryStore::default();
            let t = tenant();
            let a = Automation::new(
                "two",
                [Trigger::AlertCreated, Trigger::StatusChanged { to: vec![] }],
                [
                    Action::Command(CommandAction::new(["/bin/true"])),
                    Action::Command(CommandAction::new(["/bin/true"])),
                ],
            );
            store.create_automation(&t, a, Utc::now()).unwrap();
            let ids: Vec<String> = (0..4).map(|i| format!("o-{i}")).collect();
            let flaky = Flaky { fail, n: Mutex::new(0), accepted: Mutex::new(Vec::new()) };
            let mut c = fast();
            c.delivery_batch = batch;
            c.retry = RetryPolicy::new(1000, Duration::from_millis(1), Duration::from_millis(2));
            let d = Dispatcher::new(&store, t.clone(), "p", &flaky, c);
            // Interleave changes with dispatching, so deliveries are planned while others wait.
            for (i, (which, dispatch)) in changes.iter().enumerate() {
                let id = AlertId::new(ids[*which].as_str()).unwrap();
                match store.get(&t, &id).unwrap() {
                    None => { store.ingest(&t, &[alert(&ids[*which])], Utc::now()).unwrap(); }
                    Some(s) => {
                        let to = if s.alert.status().is_open() { Status::Resolved } else { Status::Active };
                        store.change_status(&t, &id, s.version, StatusChange::new(to, "p"), Utc::now()).unwrap();
                    }
                }
                if *dispatch || i % 5 == 0 {
                    d.step().unwrap();
                }
            }
            deliver_all(&store, &d, Duration::from_secs(20));
            // The reference: every alert event, once per action, in log order.
            let events: Vec<(String, u64)> = store
                .events_since(&t, 0, 10_000)
                .unwrap()
                .into_iter()
                .filter_map(|e| e.alert().map(|a| (a.as_str().to_owned(), e.seq)))
                .collect();
            let accepted = flaky.accepted.lock().unwrap().clone();
            prop_assert_eq!(accepted.len(), events.len() * 2, "each event once per action");
            for action in 0..2u32 {
                for id in &ids {
                    let want: Vec<u64> = events.iter().filter(|(a, _)| a == id).map(|(_, s)| *s).collect();
                    let got: Vec<u64> = accepted
                        .iter()
                        .filter(|(a, act, _)| a == id && *act == action)
                        .map(|(_, _, s)| *s)
                        .collect();
                    prop_assert_eq!(got, want, "alert {} action {}", id, action);
                }
            }
        }
    }
}
