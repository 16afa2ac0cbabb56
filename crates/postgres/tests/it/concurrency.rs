//! Many processes on one database: optimistic status changes across processes, overlapping
//! ingests, and the event log's promise under concurrent writers (commit order is number
//! order per tenant). The status-change children are this test binary itself, run with
//! `VIGIL_PG_CHILD` set and `--exact concurrency::child_role`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use vigil_core::store::{ErrorKind, StatusChange, Store, TenantId};
use vigil_core::{Alert, AlertId, Entity, Severity, Status};
use vigil_postgres::PostgresStore;

use crate::support::TempStore;

const ROLE: &str = "VIGIL_PG_CHILD";
const URL: &str = "VIGIL_PG_URL";
const SEED: &str = "VIGIL_PG_SEED";

const ALERTS: usize = 4;
const PROCESSES: usize = 8;
const THREADS: usize = 2;
const ROUNDS: usize = 25;

fn tenant() -> TenantId {
    TenantId::new("procs").unwrap()
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().unwrap()
}

fn alert(id: &str, i: usize) -> Alert {
    Alert::builder(
        AlertId::new(id).unwrap(),
        "VM_Procs",
        format!("procs alert {id}"),
        Severity::ALL[i % 4],
        base() - chrono::Duration::seconds(i as i64),
    )
    .entity(Entity::ip(format!("198.51.100.{}", i % 250)))
    .build()
}

fn ids() -> Vec<AlertId> {
    (0..ALERTS)
        .map(|i| AlertId::new(format!("alert-{i}")).unwrap())
        .collect()
}

/// One child process: `THREADS` threads each try `ROUNDS` status changes on random alerts,
/// printing every version it was granted as `id version` on stdout.
fn changer(url: &str, seed: u64) {
    let store = PostgresStore::open(url).unwrap();
    let t = tenant();
    let ids = ids();
    let granted: Vec<(String, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|th| {
                let (store, t, ids) = (&store, &t, &ids);
                s.spawn(move || {
                    let mut rng = seed.wrapping_mul(31).wrapping_add(th as u64 + 1) | 1;
                    let mut out = Vec::new();
                    for _ in 0..ROUNDS {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        let id = &ids[(rng % ids.len() as u64) as usize];
                        let Some(current) = store.get(t, id).unwrap() else {
                            panic!("alert {id:?} is missing");
                        };
                        let to = current.alert.status().allowed_next()[0];
                        let change = StatusChange::new(to, format!("p{seed}t{th}"));
                        match store.change_status(t, id, current.version, change, base()) {
                            Ok(updated) => out.push((id.as_str().to_owned(), updated.version)),
                            Err(e) if e.kind() == ErrorKind::Conflict => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    for (id, version) in granted {
        println!("granted {id} {version}");
    }
}

/// Size of each batch the killed ingester writes.
const KILL_BATCH: usize = 400;

/// One child process that ingests batches of `KILL_BATCH` alerts named `b<batch>-<i>` until
/// it is killed.
fn ingester(url: &str, seed: u64) {
    let store = PostgresStore::open(url).unwrap();
    let t = tenant();
    for b in 0.. {
        let batch: Vec<Alert> = (0..KILL_BATCH)
            .map(|i| alert(&format!("s{seed}-b{b}-{i}"), i))
            .collect();
        store.ingest(&t, &batch, base()).unwrap();
    }
}

#[test]
fn child_role() {
    // Only does something when run as a child by the tests below.
    if let (Ok(role), Ok(url)) = (std::env::var(ROLE), std::env::var(URL)) {
        let seed: u64 = std::env::var(SEED).unwrap().parse().unwrap();
        match role.as_str() {
            "changer" => changer(&url, seed),
            "ingester" => ingester(&url, seed),
            other => panic!("unknown child role {other:?}"),
        }
    }
}

#[test]
fn optimistic_status_changes_hold_across_processes() {
    let temp = TempStore::new();
    let t = tenant();
    let alerts: Vec<Alert> = ids()
        .iter()
        .enumerate()
        .map(|(i, id)| alert(id.as_str(), i))
        .collect();
    temp.store().ingest(&t, &alerts, base()).unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "concurrency::child_role",
                    "--nocapture",
                    "--test-threads=1",
                    "--quiet",
                ])
                .env(ROLE, "changer")
                .env(URL, &temp.url)
                .env(SEED, (p + 1).to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut granted: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a child failed: {:?}", out.status);
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let mut parts = line.split_whitespace();
            if parts.next() != Some("granted") {
                continue;
            }
            let id = parts.next().unwrap().to_owned();
            let version: u64 = parts.next().unwrap().parse().unwrap();
            granted.entry(id).or_default().push(version);
        }
    }
    let total: usize = granted.values().map(Vec::len).sum();
    assert!(total > 0, "no status change succeeded");
    for id in ids() {
        let mut versions = granted.remove(id.as_str()).unwrap_or_default();
        versions.sort_unstable();
        let distinct: BTreeSet<u64> = versions.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            versions.len(),
            "{id:?}: a version granted twice"
        );
        let stored = temp.store().get(&t, &id).unwrap().unwrap();
        let history = temp.store().history(&t, &id).unwrap();
        // No lost update: every granted change is in the trail, and nothing else is.
        let trail: Vec<u64> = history.iter().map(|e| e.version).collect();
        assert_eq!(
            trail, versions,
            "{id:?}: the audit trail and the granted versions"
        );
        assert_eq!(
            stored.version,
            versions.last().copied().unwrap_or(stored.version),
            "{id:?}"
        );
        for pair in history.windows(2) {
            assert_eq!(
                pair[0].to, pair[1].from,
                "{id:?}: a change built on a stale status"
            );
        }
    }
}

#[test]
fn overlapping_concurrent_ingests_are_idempotent() {
    let temp = TempStore::new();
    let t = tenant();
    let alerts: Vec<Alert> = (0..200).map(|i| alert(&format!("a-{i}"), i)).collect();
    std::thread::scope(|s| {
        for w in 0..4 {
            let (alerts, url, t) = (&alerts, &temp.url, &t);
            s.spawn(move || {
                let store = PostgresStore::open(url).unwrap();
                // Overlapping windows, in different orders.
                let start = w * 40;
                let mut batch: Vec<Alert> = alerts[start..start + 80].to_vec();
                if w % 2 == 1 {
                    batch.reverse();
                }
                store.ingest(t, &batch, base()).unwrap();
                store.ingest(t, &batch, base()).unwrap();
            });
        }
    });
    let q = vigil_core::store::AlertQuery::default().all_statuses();
    let counts = temp.store().counts(&t, &q).unwrap();
    assert_eq!(counts.total(), 200);
    for a in &alerts {
        let stored = temp.store().get(&t, a.id()).unwrap().unwrap();
        assert_eq!(stored.alert.status(), Status::Active);
    }
}

#[test]
fn a_reader_never_finds_a_new_event_at_or_below_what_it_has_read() {
    let temp = TempStore::new();
    let t = tenant();
    let writers = 4;
    let batches = 15;
    let done = AtomicBool::new(false);
    let read = std::thread::scope(|s| {
        let (done, url, t) = (&done, &temp.url, &t);
        let reader = s.spawn(move || {
            let store = PostgresStore::open(url).unwrap();
            let mut last = 0u64;
            let mut seen = 0usize;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let events = store.events_since(t, last, 1000).unwrap();
                for e in &events {
                    // Numbers come without gaps: a gap would be an event committed later
                    // with a number at or below one already read.
                    assert_eq!(e.seq, last + 1, "events read out of commit order");
                    last = e.seq;
                    seen += 1;
                }
                if finished && events.is_empty() {
                    return seen;
                }
            }
        });
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                s.spawn(move || {
                    let store = PostgresStore::open(url).unwrap();
                    for b in 0..batches {
                        let batch: Vec<Alert> = (0..5)
                            .map(|i| alert(&format!("w{w}-b{b}-{i}"), i))
                            .collect();
                        store.ingest(t, &batch, base()).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
        reader.join().unwrap()
    });
    let all = temp.store().events_since(&t, 0, 100_000).unwrap();
    assert_eq!(read, all.len());
    assert!(read >= writers * batches, "{read} events");
}

#[test]
fn a_rule_made_through_one_store_suppresses_in_another_at_its_next_ingest() {
    use vigil_core::suppression::{SuppressionReason, SuppressionRule};
    let temp = TempStore::new();
    let other = PostgresStore::open(&temp.url).unwrap();
    let t = tenant();
    // The other store compiles (and caches) the tenant's empty rule set.
    let first = other.ingest(&t, &[alert("before", 0)], base()).unwrap();
    assert_eq!(first.suppressed, 0);
    let rule = SuppressionRule::builder("noise", "VM_Procs", SuppressionReason::Noise).build();
    temp.store().create_rule(&t, rule, base()).unwrap();
    let next = other.ingest(&t, &[alert("after", 1)], base()).unwrap();
    assert_eq!(next.suppressed, 1, "the other store used a stale rule set");
    let stored = other
        .get(&t, &AlertId::new("after").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(stored.alert.status(), Status::Dismissed);
}

#[test]
fn a_client_killed_mid_batch_leaves_whole_batches_and_no_open_transaction() {
    let temp = TempStore::new();
    let t = tenant();
    for round in 0..3u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "concurrency::child_role",
                "--nocapture",
                "--test-threads=1",
                "--quiet",
            ])
            .env(ROLE, "ingester")
            .env(URL, &temp.url)
            .env(SEED, round.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Let it commit a few batches and be in the middle of another.
        std::thread::sleep(std::time::Duration::from_millis(1500 + 300 * round));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // Every batch is wholly present or absent.
    let q = vigil_core::store::AlertQuery::default().all_statuses();
    let mut per_batch: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0usize;
    let mut cursor_q = q.clone();
    loop {
        let page = temp.store().query(&t, &cursor_q).unwrap();
        for a in &page.alerts {
            let id = a.alert.id().as_str();
            let batch = id.rsplit_once('-').map(|(b, _)| b.to_owned()).unwrap();
            *per_batch.entry(batch).or_default() += 1;
            total += 1;
        }
        match page.next {
            Some(c) => cursor_q.cursor = Some(c),
            None => break,
        }
    }
    assert!(
        total > 0,
        "the ingester committed nothing before it was killed"
    );
    for (batch, n) in &per_batch {
        assert_eq!(*n, KILL_BATCH, "batch {batch} is partly present");
    }
    // The event log agrees: one event per committed alert (or per batch), none from the
    // killed transactions, numbered without gaps.
    let events = temp.store().events_since(&t, 0, 1_000_000).unwrap();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1);
    }
    // The server noticed the dropped connections: none is left inside a transaction.
    let dbname = temp.url.rsplit('/').next().unwrap().to_owned();
    let mut admin = crate::support::admin();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let open: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = $1 AND state LIKE 'idle in transaction%'",
                &[&dbname],
            )
            .unwrap()
            .get(0);
        if open == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{open} transactions left open"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // And the store still writes.
    temp.store()
        .ingest(&t, &[alert("after-kill", 0)], base())
        .unwrap();
}
