//! The SQLite store: ingest throughput against bare rusqlite, and triage latency on a
//! 1,000,000-alert database.
//!
//! Group `store`:
//! - `vigil-sqlite/ingest-100k`: 100,000 generated alerts ingested in batches of 1,000 into a
//!   fresh file with 1,000 generated suppression rules active (rule creation is set-up, not
//!   timed). Everything the store does is timed: JSON writing, the duplicate check, suppression
//!   matching, the row, its indexes and side tables, audit entries of suppressed alerts, hit
//!   counts, one durable (`synchronous=FULL`, WAL) commit per batch.
//! - `bare-rusqlite/ingest-100k`: the floor: the same alerts written as the same JSON text
//!   (`serde_json::to_string`, timed too, since the store must do it) into a minimal
//!   `(id, json)` table, same pragmas, one transaction per 1,000.
//! - `vigil-sqlite/first-page-1m`, `vigil-sqlite/high-prefix-page-1m`,
//!   `vigil-sqlite/status-change-1m`: the default triage page (50), the page of High alerts under
//!   one resource-group prefix, and one status change with its audit entry, on a database of
//!   1,000,000 generated alerts (1,000 rules active while it was ingested). The database is
//!   built once, outside timing, into `target/vigil-bench/store-1m.db`, and reused by later
//!   runs (delete it to rebuild).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vigil::Status;
use vigil::sqlite::SqliteStore;
use vigil::store::{AlertQuery, ResourceFilter, StatusChange, Store, TenantId, resource_ids};
use vigil::suppression::SuppressionRule;
use vigil_testkit::generate::{AlertGenerator, RuleGenerator, reference_time};

const INGEST: usize = 100_000;
const BATCH: usize = 1_000;
const RULES: usize = 1_000;
const BIG: usize = 1_000_000;

/// A scratch directory, removed when dropped (the root package has no `tempfile`).
struct TmpDir(PathBuf);

impl TmpDir {
    fn new(name: &str) -> TmpDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("vigil-bench-{}-{name}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TmpDir(dir)
    }

    fn path(&self) -> &std::path::Path {
        &self.0
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

fn rules() -> Vec<SuppressionRule> {
    RuleGenerator::new(11)
        .rules(RULES)
        .iter()
        .map(|r| r.to_rule().unwrap())
        .collect()
}

fn store_with_rules(path: &std::path::Path, rules: &[SuppressionRule]) -> SqliteStore {
    let store = SqliteStore::open(path).unwrap();
    for r in rules {
        store
            .create_rule(&tenant(), r.clone(), reference_time())
            .unwrap();
    }
    store
}

fn bench_ingest(c: &mut Criterion) {
    let alerts = AlertGenerator::new(7).alerts(INGEST);
    let rules = rules();
    let mut g = c.benchmark_group("store");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(INGEST as u64));
    g.bench_function(BenchmarkId::new("vigil-sqlite", "ingest-100k"), |b| {
        b.iter_batched(
            || {
                let dir = TmpDir::new("store");
                let store = store_with_rules(&dir.path().join("ingest.db"), &rules);
                (dir, store)
            },
            |(dir, store)| {
                for chunk in alerts.chunks(BATCH) {
                    store.ingest(&tenant(), chunk, reference_time()).unwrap();
                }
                (dir, store)
            },
            BatchSize::PerIteration,
        );
    });
    g.bench_function(BenchmarkId::new("bare-rusqlite", "ingest-100k"), |b| {
        b.iter_batched(
            || {
                let dir = TmpDir::new("bare");
                let conn = rusqlite::Connection::open(dir.path().join("bare.db")).unwrap();
                conn.pragma_update(None, "journal_mode", "WAL").unwrap();
                conn.pragma_update(None, "synchronous", "FULL").unwrap();
                conn.execute_batch("CREATE TABLE alerts (id TEXT NOT NULL, json TEXT NOT NULL)")
                    .unwrap();
                (dir, conn)
            },
            |(dir, mut conn)| {
                for chunk in alerts.chunks(BATCH) {
                    let tx = conn.transaction().unwrap();
                    {
                        let mut stmt = tx
                            .prepare_cached("INSERT INTO alerts (id, json) VALUES (?1, ?2)")
                            .unwrap();
                        for a in chunk {
                            let json = serde_json::to_string(a).unwrap();
                            stmt.execute((a.system_alert_id().as_str(), json)).unwrap();
                        }
                    }
                    tx.commit().unwrap();
                }
                (dir, conn)
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

/// The 1M-alert database under `target/`, built on first use.
fn big_db() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/vigil-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store-1m.db");
    let done = dir.join("store-1m.done");
    if done.exists() && path.exists() {
        return path;
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    eprintln!(
        "building the 1,000,000-alert database at {} …",
        path.display()
    );
    let started = Instant::now();
    let store = store_with_rules(&path, &rules());
    let mut generator = AlertGenerator::new(1);
    for _ in 0..BIG / 10_000 {
        let alerts = generator.alerts(10_000);
        for chunk in alerts.chunks(BATCH) {
            store.ingest(&tenant(), chunk, reference_time()).unwrap();
        }
    }
    drop(store);
    std::fs::write(&done, "").unwrap();
    eprintln!("built in {:.1?}", started.elapsed());
    path
}

fn bench_triage(c: &mut Criterion) {
    let path = big_db();
    let store = SqliteStore::open(&path).unwrap();
    let t = tenant();
    // A resource-group prefix of a real stored resource.
    let first = store.query(&t, &AlertQuery::default().limit(200)).unwrap();
    let prefix = first
        .alerts
        .iter()
        .find_map(|s| {
            resource_ids(&s.alert).first().map(|id| {
                let parts: Vec<&str> = id.split('/').collect();
                parts[..parts.len().min(5)].join("/")
            })
        })
        .expect("a stored alert with a resource id");
    let high = AlertQuery::default()
        .severities([vigil::Severity::High])
        .resource(ResourceFilter::Prefix(prefix.clone()));
    let page = store.query(&t, &high).unwrap();
    eprintln!(
        "high-prefix page: {} alerts under {prefix:?}; counts: {:?}",
        page.alerts.len(),
        store.counts(&t, &AlertQuery::default()).unwrap().by_status
    );

    let mut g = c.benchmark_group("store");
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("vigil-sqlite", "first-page-1m"), |b| {
        b.iter(|| black_box(store.query(&t, &AlertQuery::default()).unwrap()))
    });
    g.bench_function(
        BenchmarkId::new("vigil-sqlite", "high-prefix-page-1m"),
        |b| b.iter(|| black_box(store.query(&t, &high).unwrap())),
    );
    let target = first.alerts[0].alert.system_alert_id().clone();
    let mut current = store.get(&t, &target).unwrap().unwrap();
    g.bench_function(BenchmarkId::new("vigil-sqlite", "status-change-1m"), |b| {
        b.iter(|| {
            let to = match current.alert.status() {
                Status::Active => Status::InProgress,
                Status::InProgress => Status::Resolved,
                _ => Status::Active,
            };
            let change = StatusChange::new(to, "bench").comment("benchmark");
            current = store
                .change_status(&t, &target, current.version, change, reference_time())
                .unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, bench_ingest, bench_triage);
criterion_main!(benches);
