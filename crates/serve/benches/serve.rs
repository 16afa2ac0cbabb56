//! `vigil serve` under load on loopback, over SQLite: requests per second, with the library's own
//! call as the baseline.
//!
//! Group `serve` (10,000 generated alerts in a SQLite file; the server and its clients share the
//! machine's cores):
//! - `library/query-50`: the baseline: `Store::query` for the first 50-alert page of every
//!   status (what Defender's list returns), in process; `library/query-50-open` the same for the
//!   open alerts only (the triage queue's default), for scale.
//! - `http/list-50/1-client`, `http/list-50/4-clients`: Defender's list operation (`GET
//!   …/providers/Microsoft.Security/alerts`, 50 alerts a page, every status) over keep-alive
//!   connections, from one client and from four at once. Criterion's throughput is requests/s.
//! - `library/query-50-memory`, `http/list-50-memory/4-clients`: the same page from the
//!   in-memory reference store, directly and over HTTP: what the serving layer costs apart from
//!   SQLite's page.
//! - `http/get/4-clients`: Defender's get of one alert.
//! - `http/dismiss-activate/8-clients`: eight clients alternating `dismiss` and `activate` on
//!   the same alert (every request a durable write or an idempotent no-op); afterwards the audit
//!   trail is checked: each change starts from the status the previous one left and the version
//!   counts them all, so no update was lost.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_core::store::{AlertQuery, Store, TenantId};
use vigil_serve::{Config, Server};
use vigil_testkit::generate::AlertGenerator;

const SUB: &str = "bench";
const V: &str = "api-version=2022-01-01";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().build().into()
}

/// Runs `iters` requests spread over `clients` threads, each with its own connection; returns
/// the wall time.
fn spread(iters: u64, clients: u64, request: impl Fn(&ureq::Agent, u64) + Sync) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for c in 0..clients {
            let request = &request;
            s.spawn(move || {
                let agent = agent();
                let mine = iters / clients + u64::from(c < iters % clients);
                for i in 0..mine {
                    request(&agent, c + i * clients);
                }
            });
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(vigil_sqlite::SqliteStore::open(dir.path().join("serve.db")).unwrap());
    let tenant = TenantId::new(SUB).unwrap();
    let alerts = AlertGenerator::new(7).alerts(10_000);
    for batch in alerts.chunks(1000) {
        store.ingest(&tenant, batch, Utc::now()).unwrap();
    }
    let server = Server::spawn(store.clone(), Config::new("127.0.0.1:0".parse().unwrap())).unwrap();
    let base = format!(
        "http://{}/subscriptions/{SUB}/providers/Microsoft.Security",
        server.addr()
    );
    let list = format!("{base}/alerts?{V}");
    let first = store
        .query(&tenant, &AlertQuery::default().all_statuses())
        .unwrap();
    assert_eq!(first.alerts.len(), 50);
    let one = &first.alerts[0].alert;
    let loc = one
        .resource_id()
        .and_then(|id| id.split("/locations/").nth(1))
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("centralus")
        .to_owned();
    let alert_url = format!("{base}/locations/{loc}/alerts/{}", one.id().as_str());

    let mut g = c.benchmark_group("serve");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("library/query-50", |b| {
        let q = AlertQuery::default().all_statuses();
        b.iter(|| assert_eq!(store.query(&tenant, &q).unwrap().alerts.len(), 50));
    });
    // For scale: the triage queue's default page (open alerts only), which Defender's list does
    // not use (it lists every status).
    g.bench_function("library/query-50-open", |b| {
        let q = AlertQuery::default();
        b.iter(|| assert_eq!(store.query(&tenant, &q).unwrap().alerts.len(), 50));
    });
    for clients in [1u64, 4] {
        g.bench_function(
            format!(
                "http/list-50/{clients}-client{}",
                if clients > 1 { "s" } else { "" }
            ),
            |b| {
                b.iter_custom(|iters| {
                    spread(iters, clients, |agent, _| {
                        let body = agent
                            .get(&list)
                            .call()
                            .unwrap()
                            .body_mut()
                            .read_to_string()
                            .unwrap();
                        assert!(body.len() > 10_000, "a page of 50 alerts");
                    })
                });
            },
        );
    }
    // The same over the in-memory reference store: what the serving layer itself costs, apart
    // from SQLite's page.
    let memory: Arc<dyn Store> = Arc::new(vigil_core::store::MemoryStore::default());
    for batch in alerts.chunks(1000) {
        memory.ingest(&tenant, batch, Utc::now()).unwrap();
    }
    let memory_server =
        Server::spawn(memory.clone(), Config::new("127.0.0.1:0".parse().unwrap())).unwrap();
    let memory_list = format!(
        "http://{}/subscriptions/{SUB}/providers/Microsoft.Security/alerts?{V}",
        memory_server.addr()
    );
    g.bench_function("library/query-50-memory", |b| {
        let q = AlertQuery::default().all_statuses();
        b.iter(|| assert_eq!(memory.query(&tenant, &q).unwrap().alerts.len(), 50));
    });
    g.bench_function("http/list-50-memory/4-clients", |b| {
        b.iter_custom(|iters| {
            spread(iters, 4, |agent, _| {
                let body = agent
                    .get(&memory_list)
                    .call()
                    .unwrap()
                    .body_mut()
                    .read_to_string()
                    .unwrap();
                assert!(body.len() > 10_000, "a page of 50 alerts");
            })
        });
    });
    g.bench_function("http/get/4-clients", |b| {
        b.iter_custom(|iters| {
            spread(iters, 4, |agent, _| {
                let r = agent.get(&format!("{alert_url}?{V}")).call().unwrap();
                assert_eq!(r.status().as_u16(), 200);
            })
        });
    });
    g.bench_function("http/dismiss-activate/8-clients", |b| {
        b.iter_custom(|iters| {
            spread(iters, 8, |agent, i| {
                let action = if i % 2 == 0 { "dismiss" } else { "activate" };
                let r = agent
                    .post(&format!("{alert_url}/{action}?{V}"))
                    .send_empty()
                    .unwrap();
                assert_eq!(r.status().as_u16(), 204);
            })
        });
    });
    g.finish();

    // No lost update among all those concurrent changes.
    let trail = store.history(&tenant, one.id()).unwrap();
    let now = store.get(&tenant, one.id()).unwrap().unwrap();
    for pair in trail.windows(2) {
        assert_eq!(
            pair[0].to, pair[1].from,
            "a change was made over another unseen"
        );
        assert_eq!(pair[0].version + 1, pair[1].version);
    }
    assert_eq!(
        now.version,
        1 + trail.len() as u64,
        "the version counts every change"
    );
    println!(
        "serve: {} status changes by 8 concurrent clients, none lost (audit trail and version agree)",
        trail.len()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
