//! Automated response: delivery throughput to a loopback receiver, and what automation rules
//! cost the ingest path.
//!
//! Group `automation`:
//! - `deliver/dispatcher`: one dispatcher (`Dispatcher::drain`, default configuration: 64
//!   deliveries per recorded batch, signed webhooks, a kept-alive connection) over a SQLite
//!   file, delivering 500 freshly ingested alerts' webhooks to the receiver of
//!   `vigil-testkit` on loopback. Timed: planning (reading the log, matching, building
//!   payloads, recording the deliveries and the checkpoint durably), sending, and recording
//!   the outcomes durably. Ingesting the alerts is set-up, not timed.
//! - `deliver/raw-client`: the floor: the same number of POSTs of a payload of the same size,
//!   with the same HTTP client (ureq, one agent), to the same receiver, and nothing else.
//! - `ingest/0-automations`, `ingest/100-automations`: 1,000 generated alerts ingested in
//!   batches of 100 into a fresh SQLite file, without and with 100 enabled automation rules
//!   (conditions from the rule generator). Creating the store and the rules is set-up.
//! - `plan/100-automations`: the dispatcher's planning of those 1,000 events against the 100
//!   rules (where automation conditions are evaluated), in steps of 500 events.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use vigil::automation::transport::Standard;
use vigil::automation::{
    Action, Automation, DispatchConfig, Dispatcher, LeaseClaim, Trigger, Webhook,
};
use vigil::sqlite::SqliteStore;
use vigil::store::{Store, TenantId};
use vigil::suppression::Condition;
use vigil_testkit::generate::{AlertGenerator, RuleGenerator};
use vigil_testkit::receiver::{Receiver, Reply};

const DELIVERIES: usize = 500;
const INGEST: usize = 1_000;
const BATCH: usize = 100;
const RULES: usize = 100;

/// A scratch directory, removed when dropped (the root package has no `tempfile`).
struct TmpDir(PathBuf);

impl TmpDir {
    fn new(name: &str) -> TmpDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "vigil-bench-auto-{}-{name}-{n}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TmpDir(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("bench.db")
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tenant() -> TenantId {
    TenantId::new("bench").unwrap()
}

/// 100 automation rules whose conditions are generated suppression rules' (alert type
/// included), each calling a webhook.
fn rules() -> Vec<Automation> {
    RuleGenerator::new(11)
        .rules(RULES)
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let rule = spec.to_rule().unwrap();
            let mut a = Automation::new(
                format!("auto-{i}"),
                [Trigger::AlertCreated, Trigger::AlertUpdated],
                [Action::Webhook(
                    Webhook::new("https://hooks.example.com/in").secret("s"),
                )],
            );
            if !rule.is_any_type() {
                a = a.condition(Condition::equals("alertType", rule.alert_type()));
            }
            for c in rule.conditions() {
                a = a.condition(c.clone());
            }
            a
        })
        .collect()
}

fn deliver(c: &mut Criterion) {
    let mut g = c.benchmark_group("automation");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(DELIVERIES as u64));

    let r = Receiver::start_counting(|_, _| Reply::Status(200));
    let dir = TmpDir::new("deliver");
    let store = SqliteStore::open(dir.db()).unwrap();
    let t = tenant();
    let hook = Automation::new(
        "bench",
        [Trigger::AlertCreated],
        [Action::Webhook(
            Webhook::new(r.url("/in")).secret("bench-secret"),
        )],
    );
    store.create_automation(&t, hook, Utc::now()).unwrap();
    let transport = Standard::new();
    let d = Dispatcher::new(
        &store,
        t.clone(),
        "bench",
        &transport,
        DispatchConfig::default(),
    );
    let mut generator = AlertGenerator::new(3);
    let mut n = 0usize;
    g.bench_function("deliver/dispatcher", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let alerts: Vec<_> = generator
                    .alerts(DELIVERIES)
                    .into_iter()
                    .map(|a| {
                        n += 1;
                        a.with_id(vigil::AlertId::new(format!("bench-{n}")).unwrap())
                    })
                    .collect();
                store.ingest(&t, &alerts, Utc::now()).unwrap();
                let before = r.count();
                let start = Instant::now();
                let p = d.drain().unwrap();
                total += start.elapsed();
                assert_eq!(p.delivered as usize, DELIVERIES, "{p:?}");
                assert_eq!(r.count() - before, DELIVERIES);
            }
            total
        })
    });

    // The floor: the client alone, same payload size, same receiver.
    let payload = store
        .list_deliveries(&t, &vigil::automation::DeliveryQuery::default().limit(1))
        .unwrap()
        .pop()
        .map(|d| d.payload)
        .unwrap_or_default();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = r.url("/raw");
    g.bench_function("deliver/raw-client", |b| {
        b.iter(|| {
            for _ in 0..DELIVERIES {
                let mut resp = agent
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .send(payload.as_bytes())
                    .unwrap();
                let _ = resp.body_mut().read_to_vec().unwrap();
            }
        })
    });
    g.finish();
}

fn ingest(c: &mut Criterion) {
    let mut g = c.benchmark_group("automation");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(INGEST as u64));
    let alerts = AlertGenerator::new(5).alerts(INGEST);
    let autos = rules();
    let t = tenant();
    for (name, with) in [
        ("ingest/0-automations", false),
        ("ingest/100-automations", true),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let dir = TmpDir::new("ingest");
                    let store = SqliteStore::open(dir.db()).unwrap();
                    if with {
                        for a in &autos {
                            store.create_automation(&t, a.clone(), Utc::now()).unwrap();
                        }
                    }
                    (dir, store)
                },
                |(dir, store)| {
                    for chunk in alerts.chunks(BATCH) {
                        store.ingest(&t, chunk, Utc::now()).unwrap();
                    }
                    (dir, store)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.bench_function("plan/100-automations", |b| {
        b.iter_batched(
            || {
                let dir = TmpDir::new("plan");
                let store = SqliteStore::open(dir.db()).unwrap();
                for a in &autos {
                    store.create_automation(&t, a.clone(), Utc::now()).unwrap();
                }
                for chunk in alerts.chunks(BATCH) {
                    store.ingest(&t, chunk, Utc::now()).unwrap();
                }
                let claim = LeaseClaim::new("bench", Duration::from_secs(300));
                assert!(store.acquire_lease(&t, &claim, Utc::now()).unwrap());
                (dir, store, claim)
            },
            |(dir, store, claim)| {
                loop {
                    let p = store.plan_deliveries(&t, &claim, 500, Utc::now()).unwrap();
                    if p.events == 0 {
                        break;
                    }
                }
                (dir, store, claim)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, deliver, ingest);
criterion_main!(benches);
