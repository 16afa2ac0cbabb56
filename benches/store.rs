//! The SQLite and PostgreSQL stores: ingest throughput against a bare insert through the same
//! client, and triage latency on a 1,000,000-alert database (the PostgreSQL benches: module
//! `pg`, below).
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
//!   built once, outside timing, into `target/vigil-bench/store-1m-v<schema>.db`, and reused
//!   by later runs (delete it to rebuild).
//! - `vigil-sqlite/page-1m/<filter>/first` and `…/next`: the first page (50) and the page after
//!   it (by cursor) of the default queue under each filter the CLI offers, on the same
//!   database: `severity`, `type`, `resource-prefix`, `intent`, `tactic`, `technique`,
//!   `entity`, `time-range`, `text`, and the selective combinations `rare-rg-high` (High alerts
//!   of the resource group with the fewest alerts among those sampled) and `rare-entity` (an
//!   entity value on about 0.01 % of the alerts). The values are picked from the data before
//!   timing and printed.
//! - `vigil-sqlite/counts-1m/<filter>`: the dashboard header's counts under a filter (the
//!   filters of the pages but technique, plus `none`).
//! - `vigil-sqlite/simulate-1m`: `simulate` of a typical generated rule (a type and an `in`
//!   condition on an entity field) over every alert.
//! - `vigil-sqlite/apply-rule-1m`: `apply_rule` of a rule dismissing about 1,000 open alerts
//!   (they are reopened, outside timing, before each run).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group};
use vigil::sqlite::SqliteStore;
use vigil::store::{
    AlertQuery, ResourceFilter, StatusChange, Store, TenantId, entity_values, resource_ids,
};
use vigil::suppression::{Condition, SuppressionReason, SuppressionRule};
use vigil::{AlertId, Severity, Status};
use vigil_testkit::generate::{AlertGenerator, CondSpec, RuleGenerator, reference_time};

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
    {
        // Bytes on disk per alert after one ingest (checkpointed), beside the JSON's size.
        let dir = TmpDir::new("size");
        let path = dir.path().join("size.db");
        let store = store_with_rules(&path, &rules);
        for chunk in alerts.chunks(BATCH) {
            store.ingest(&tenant(), chunk, reference_time()).unwrap();
        }
        drop(store);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
        let file = std::fs::metadata(&path).unwrap().len() as f64 / INGEST as f64;
        let json: usize = alerts
            .iter()
            .map(|a| serde_json::to_string(a).unwrap().len())
            .sum();
        let json = json as f64 / INGEST as f64;
        eprintln!(
            "ingest-100k: {file:.0} bytes on disk per alert, {json:.0} bytes of JSON ({:.2}x)",
            file / json
        );
    }
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
    let name = format!("store-1m-v{}", vigil::sqlite::SCHEMA_VERSION);
    let path = dir.join(format!("{name}.db"));
    let done = dir.join(format!("{name}.done"));
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

/// The resource group of an ARM id (its first five segments), if it has one.
fn resource_group(id: &str) -> Option<String> {
    let parts: Vec<&str> = id.split('/').collect();
    (parts.len() >= 5 && parts[3].eq_ignore_ascii_case("resourceGroups"))
        .then(|| parts[..5].join("/"))
}

/// Values to filter by, picked from a sample of the stored alerts.
struct Picks {
    filters: Vec<(&'static str, AlertQuery)>,
    counts: Vec<(&'static str, AlertQuery)>,
    typical: SuppressionRule,
    apply: SuppressionRule,
}

fn most_common<T: std::hash::Hash + Eq + Clone + Ord>(
    items: impl IntoIterator<Item = T>,
) -> Vec<(T, usize)> {
    let mut n: HashMap<T, usize> = HashMap::new();
    for i in items {
        *n.entry(i).or_default() += 1;
    }
    let mut v: Vec<(T, usize)> = n.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn pick(store: &SqliteStore, t: &TenantId) -> Picks {
    let sample = store
        .query(t, &AlertQuery::default().all_statuses().limit(2000))
        .unwrap()
        .alerts;
    let alerts: Vec<&vigil::Alert> = sample.iter().map(|s| &s.alert).collect();
    let total = store
        .counts(t, &AlertQuery::default().all_statuses())
        .unwrap()
        .total();
    let count = |q: &AlertQuery| store.counts(t, q).unwrap().total();

    let ty = most_common(alerts.iter().map(|a| a.alert_type().to_owned()))[0]
        .0
        .clone();
    let intents = most_common(
        alerts
            .iter()
            .flat_map(|a| a.intents().iter().map(|i| i.as_str().to_owned())),
    );
    let intent: vigil::KillChainIntent = intents[0].0.parse().unwrap();
    let tactic_of: vigil::KillChainIntent = intents[intents.len().min(4) - 1].0.parse().unwrap();
    let tactic = tactic_of.nearest_tactics()[0];
    let technique: vigil::attack::TechniqueId = "T1059".parse().unwrap();
    let rgs = most_common(
        alerts
            .iter()
            .flat_map(|a| resource_ids(a).into_iter().filter_map(resource_group)),
    );
    let common_rg = rgs[0].0.clone();
    // The resource group with the fewest High alerts among those seen once in the sample.
    let rare_rg = rgs
        .iter()
        .rev()
        .take(8)
        .map(|(rg, _)| {
            let q = AlertQuery::default()
                .severities([Severity::High])
                .resource(ResourceFilter::Prefix(rg.clone()));
            (count(&q), rg.clone())
        })
        .filter(|(n, _)| *n > 0)
        .min()
        .unwrap();
    let open: Vec<&vigil::Alert> = alerts
        .iter()
        .copied()
        .filter(|a| a.status().is_open())
        .collect();
    let ips = most_common(open.iter().flat_map(|a| {
        a.entities()
            .iter()
            .filter(|e| e.kind().type_name() == "ip")
            .flat_map(entity_values_of)
            .collect::<Vec<_>>()
    }));
    let common_entity = ips[0].0.clone();
    let values = most_common(
        alerts
            .iter()
            .flat_map(|a| entity_values(a).into_iter().map(str::to_owned)),
    );
    // An entity value on about 0.01 % of the alerts: the one closest to it among the rarest in
    // the sample.
    let target = (total / 10_000).max(1);
    let rare_entity = values
        .iter()
        .rev()
        .take(12)
        .map(|(v, _)| {
            let n = count(&AlertQuery::default().all_statuses().entity(v.clone()));
            (n.abs_diff(target), n, v.clone())
        })
        .min()
        .unwrap();
    // An IP address on about 1,000 open alerts, for the rule applied.
    let apply_ip = ips
        .iter()
        .skip(ips.len() / 3)
        .take(12)
        .map(|(v, _)| {
            let n = count(&AlertQuery::default().entity(v.clone()));
            (n.abs_diff(1_000), n, v.clone())
        })
        .min()
        .unwrap();
    let word = alerts[0]
        .display_name()
        .split_whitespace()
        .max_by_key(|w| w.len())
        .unwrap()
        .to_owned();
    let since = reference_time() - chrono::Duration::days(2);
    let until = reference_time() - chrono::Duration::days(1);
    eprintln!(
        "picks: {total} alerts; type {ty:?}; intent {intent:?}; tactic {tactic} (of {tactic_of:?}); \
         technique {technique}; resource group {common_rg:?} ({} in the sample); rare group \
         {:?} ({} High open alerts); entity {common_entity:?}; rare entity {:?} ({} alerts, \
         target {target}); text {word:?}; rule applied on IP {:?} ({} open alerts)",
        rgs[0].1, rare_rg.1, rare_rg.0, rare_entity.2, rare_entity.1, apply_ip.2, apply_ip.1
    );
    let d = AlertQuery::default;
    let filters = vec![
        ("severity", d().severities([Severity::High])),
        ("type", d().alert_types([ty.clone()])),
        (
            "resource-prefix",
            d().resource(ResourceFilter::Prefix(common_rg.clone())),
        ),
        ("intent", d().intents([intent.clone()])),
        ("tactic", d().tactics([tactic])),
        ("technique", d().techniques([technique])),
        ("entity", d().entity(common_entity.clone())),
        ("time-range", d().since(since).until(until)),
        ("text", d().text(word.clone())),
        (
            "rare-rg-high",
            d().severities([Severity::High])
                .resource(ResourceFilter::Prefix(rare_rg.1.clone())),
        ),
        ("rare-entity", d().entity(rare_entity.2.clone())),
    ];
    let counts = vec![
        ("none", d()),
        ("severity", d().severities([Severity::High])),
        ("type", d().alert_types([ty.clone()])),
        (
            "resource-prefix",
            d().resource(ResourceFilter::Prefix(common_rg)),
        ),
        ("intent", d().intents([intent])),
        ("tactic", d().tactics([tactic])),
        ("entity", d().entity(common_entity)),
        ("time-range", d().since(since).until(until)),
        ("text", d().text(word)),
        ("rare-entity", d().entity(rare_entity.2)),
        (
            "rare-rg-high",
            d().severities([Severity::High])
                .resource(ResourceFilter::Prefix(rare_rg.1)),
        ),
    ];
    // The first of the rules active during ingest that is typical (a type and an `in` test of
    // an entity field) and dismisses something.
    let typical = RuleGenerator::new(11)
        .rules(RULES)
        .into_iter()
        .filter(|r| {
            !r.is_any_type()
                && r.is_active_at(reference_time())
                && r.conditions
                    .iter()
                    .any(|c| matches!(c, CondSpec::In(f, _) if f.starts_with("entities.")))
        })
        .map(|r| r.to_rule().unwrap())
        .find(|r| {
            let sim = store.simulate(t, r, reference_time(), 0).unwrap();
            sim.by_status.iter().map(|(_, n)| n).sum::<u64>() > 0
        })
        .unwrap();
    eprintln!("typical rule: {}", serde_json::to_string(&typical).unwrap());
    let apply = SuppressionRule::builder("bench-apply", "*", SuppressionReason::FalsePositive)
        .condition(Condition::is_in("entities.ip.address", [apply_ip.2]))
        .build();
    Picks {
        filters,
        counts,
        typical,
        apply,
    }
}

/// The string values of an entity's top-level properties other than its type and id.
fn entity_values_of(e: &vigil::Entity) -> Vec<String> {
    e.properties()
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("type") && k.as_str() != "$id")
        .filter_map(|(_, v)| v.as_str().map(str::to_owned))
        .collect()
}

/// The triage benches every backend runs over its 1M-alert store: the first page, a page of
/// high-severity alerts under a resource-group prefix of a stored resource, and a status
/// change (cycling one alert through the lifecycle), as `store/{backend}/…`. Returns the group
/// for the backend's further benches.
fn bench_triage_common<'c, S: Store>(
    c: &'c mut Criterion,
    store: &S,
    t: &TenantId,
    backend: &str,
) -> criterion::BenchmarkGroup<'c, criterion::measurement::WallTime> {
    // A resource-group prefix of a real stored resource.
    let first = store.query(t, &AlertQuery::default().limit(200)).unwrap();
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
    let page = store.query(t, &high).unwrap();
    eprintln!(
        "high-prefix page: {} alerts under {prefix:?}; counts: {:?}",
        page.alerts.len(),
        store.counts(t, &AlertQuery::default()).unwrap().by_status
    );

    let mut g = c.benchmark_group("store");
    g.sample_size(10);
    g.bench_function(BenchmarkId::new(backend, "first-page-1m"), |b| {
        b.iter(|| black_box(store.query(t, &AlertQuery::default()).unwrap()))
    });
    g.bench_function(BenchmarkId::new(backend, "high-prefix-page-1m"), |b| {
        b.iter(|| black_box(store.query(t, &high).unwrap()))
    });
    let target = first.alerts[0].alert.system_alert_id().clone();
    let mut current = store.get(t, &target).unwrap().unwrap();
    g.bench_function(BenchmarkId::new(backend, "status-change-1m"), |b| {
        b.iter(|| {
            let to = match current.alert.status() {
                Status::Active => Status::InProgress,
                Status::InProgress => Status::Resolved,
                _ => Status::Active,
            };
            let change = StatusChange::new(to, "bench").comment("benchmark");
            current = store
                .change_status(t, &target, current.version, change, reference_time())
                .unwrap();
        })
    });
    g
}

fn bench_triage(c: &mut Criterion) {
    let path = big_db();
    let store = SqliteStore::open(&path).unwrap();
    let t = tenant();
    let mut g = bench_triage_common(c, &store, &t, "vigil-sqlite");
    let picks = pick(&store, &t);
    for (name, q) in &picks.filters {
        let first = store.query(&t, q).unwrap();
        let next_q = first.next.map(|c| q.clone().cursor(Some(c)));
        let next_len = next_q
            .as_ref()
            .map_or(0, |n| store.query(&t, n).unwrap().alerts.len());
        eprintln!(
            "page-1m/{name}: first page {} alerts, next page {next_len}",
            first.alerts.len()
        );
        g.bench_function(
            BenchmarkId::new("vigil-sqlite", format!("page-1m/{name}/first")),
            |b| b.iter(|| black_box(store.query(&t, q).unwrap())),
        );
        if let Some(n) = &next_q {
            g.bench_function(
                BenchmarkId::new("vigil-sqlite", format!("page-1m/{name}/next")),
                |b| b.iter(|| black_box(store.query(&t, n).unwrap())),
            );
        }
    }
    for (name, q) in &picks.counts {
        eprintln!(
            "counts-1m/{name}: {} alerts",
            store.counts(&t, q).unwrap().total()
        );
        g.bench_function(
            BenchmarkId::new("vigil-sqlite", format!("counts-1m/{name}")),
            |b| b.iter(|| black_box(store.counts(&t, q).unwrap())),
        );
    }
    let sim = store
        .simulate(&t, &picks.typical, reference_time(), 20)
        .unwrap();
    eprintln!("simulate-1m: {:?}", sim.by_status);
    g.bench_function(BenchmarkId::new("vigil-sqlite", "simulate-1m"), |b| {
        b.iter(|| {
            black_box(
                store
                    .simulate(&t, &picks.typical, reference_time(), 20)
                    .unwrap(),
            )
        })
    });
    if store.get_rule(&t, "bench-apply").unwrap().is_none() {
        store
            .create_rule(&t, picks.apply.clone(), reference_time())
            .unwrap();
    }
    let dismissed: std::cell::RefCell<Vec<AlertId>> = std::cell::RefCell::new(Vec::new());
    let reopen = || {
        let ids = std::mem::take(&mut *dismissed.borrow_mut());
        if !ids.is_empty() {
            let q = AlertQuery::default().statuses([Status::Dismissed]).ids(ids);
            store
                .bulk_change_status(
                    &t,
                    &q,
                    StatusChange::new(Status::Active, "bench"),
                    reference_time(),
                )
                .unwrap();
        }
    };
    g.bench_function(BenchmarkId::new("vigil-sqlite", "apply-rule-1m"), |b| {
        b.iter_batched(
            reopen,
            |()| {
                let done = store
                    .apply_rule(&t, "bench-apply", "bench", reference_time())
                    .unwrap();
                *dismissed.borrow_mut() = done;
            },
            BatchSize::PerIteration,
        )
    });
    eprintln!(
        "apply-rule-1m: {} alerts dismissed",
        dismissed.borrow().len()
    );
    reopen();
    g.finish();
}

criterion_group!(benches, bench_ingest, bench_triage);
criterion_group!(
    postgres_benches,
    pg::bench_ingest,
    pg::bench_triage,
    pg::bench_processes
);

/// Runs the SQLite and the PostgreSQL groups; a filter naming one backend (`sqlite`,
/// `postgres`) skips the other's set-up too (its 1M-alert database). A process started with
/// `VIGIL_BENCH_WORKER` set is a worker of `store/vigil-postgres/ingest-processes`.
fn main() {
    if let Ok(spec) = std::env::var(pg::WORKER_ENV) {
        pg::worker(&spec);
        return;
    }
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let names = |backend: &str| filters.iter().any(|f| f.contains(backend));
    let (sqlite, postgres) = (names("sqlite"), names("postgres"));
    if sqlite || !postgres {
        benches();
    }
    if postgres || !sqlite {
        postgres_benches();
    }
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}

/// The PostgreSQL store (`vigil-postgres`) on the server of `VIGIL_BENCH_POSTGRES` (else
/// `VIGIL_TEST_POSTGRES`, else `postgres://postgres@127.0.0.1:5432/test`).
///
/// Group `store`:
/// - `vigil-postgres/ingest-100k`: as `vigil-sqlite/ingest-100k` (100,000 generated alerts in
///   batches of 1,000, 1,000 rules active), into a fresh database per iteration (created, its
///   schema migrated and the rules added outside the timing; dropped after).
/// - `bare-postgres/ingest-100k`: the floor through the same client: the same alerts as the
///   same JSON text (serialised in the timing) into an `(id, json)` table with one index (its
///   primary key), one multi-row `INSERT … SELECT FROM unnest($1, $2)` and one commit per 1,000.
/// - `vigil-postgres/first-page-1m`, `vigil-postgres/high-prefix-page-1m`,
///   `vigil-postgres/status-change-1m`: as the SQLite ones, on a database of 1,000,000 generated
///   alerts (same generator, seed and rules as SQLite's), ingested through the store once and
///   kept on the server as `vigil_bench_1m` for later runs (drop it to rebuild).
/// - `vigil-postgres/ingest-processes/N` (N = 1, 2, 4): N processes (this binary, as workers),
///   each ingesting 10,000 alerts in batches of 1,000 into a tenant of its own with 1,000 rules;
///   timed from the moment every worker is connected and warm until the last one is done, so
///   the throughput is the total rate.
mod pg {
    use super::*;

    use std::io::{BufRead, BufReader, Write};
    use std::process::{Child, Command, Stdio};

    use vigil_postgres::{Options, PostgresStore};

    pub const WORKER_ENV: &str = "VIGIL_BENCH_WORKER";
    const BIG_DB: &str = "vigil_bench_1m";
    const PER_PROCESS: usize = 10_000;

    /// Whether a filter on the command line (if any) selects one of `ids`, so the set-up of a
    /// bench that will not run is skipped (filters read as `|`-separated substrings of the ids).
    fn selected(ids: &[&str]) -> bool {
        let filters: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with('-'))
            .collect();
        filters.is_empty()
            || filters
                .iter()
                .flat_map(|f| f.split('|'))
                .any(|f| ids.iter().any(|id| format!("store/{id}").contains(f)))
    }

    fn server_url() -> String {
        ["VIGIL_BENCH_POSTGRES", "VIGIL_TEST_POSTGRES"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
    }

    /// The server's URL with database `db` (URL form).
    fn url_of(db: &str) -> String {
        let server = server_url();
        let (base, query) = match server.split_once('?') {
            Some((b, q)) => (b.to_owned(), format!("?{q}")),
            None => (server.clone(), String::new()),
        };
        let start = base
            .find("://")
            .expect("VIGIL_BENCH_POSTGRES: a postgres:// URL")
            + 3;
        let end = base[start..].find('/').map_or(base.len(), |i| start + i);
        format!("{}/{db}{query}", &base[..end])
    }

    fn admin() -> postgres::Client {
        postgres::Client::connect(&server_url(), postgres::NoTls).unwrap_or_else(|e| {
            panic!(
                "the PostgreSQL benches need a server ({}): {e}",
                server_url()
            )
        })
    }

    /// A database created for one run and dropped after it.
    struct TempDb(String);

    impl TempDb {
        fn new(what: &str) -> TempDb {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let name = format!("vigil_bench_{what}_{}_{n}", std::process::id());
            let mut admin = admin();
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .unwrap();
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .unwrap();
            TempDb(name)
        }

        fn url(&self) -> String {
            url_of(&self.0)
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            let _ =
                admin().batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0));
        }
    }

    fn open(url: &str) -> PostgresStore {
        PostgresStore::open_with(url, Options::default()).unwrap()
    }

    fn add_rules(store: &PostgresStore, t: &TenantId, rules: &[SuppressionRule]) {
        for r in rules {
            store.create_rule(t, r.clone(), reference_time()).unwrap();
        }
    }

    pub fn bench_ingest(c: &mut Criterion) {
        if !selected(&["vigil-postgres/ingest-100k", "bare-postgres/ingest-100k"]) {
            return;
        }
        let alerts = AlertGenerator::new(7).alerts(INGEST);
        let rules = rules();
        let mut g = c.benchmark_group("store");
        g.sample_size(10);
        g.measurement_time(Duration::from_secs(30));
        g.throughput(Throughput::Elements(INGEST as u64));
        // A fresh database per iteration, with the rules: the same work as a fresh SQLite file.
        g.bench_function(BenchmarkId::new("vigil-postgres", "ingest-100k"), |b| {
            b.iter_batched(
                || {
                    let db = TempDb::new("ingest");
                    let store = open(&db.url());
                    add_rules(&store, &tenant(), &rules);
                    (store, db)
                },
                |(store, db)| {
                    for chunk in alerts.chunks(BATCH) {
                        store.ingest(&tenant(), chunk, reference_time()).unwrap();
                    }
                    (store, db)
                },
                BatchSize::PerIteration,
            );
        });
        let db = TempDb::new("bare");
        let url = db.url();
        let client =
            std::cell::RefCell::new(postgres::Client::connect(&url, postgres::NoTls).unwrap());
        g.bench_function(BenchmarkId::new("bare-postgres", "ingest-100k"), |b| {
            b.iter_batched(
                || {
                    client
                        .borrow_mut()
                        .batch_execute(
                            "DROP TABLE IF EXISTS bare;
                             CREATE TABLE bare (id text PRIMARY KEY, json text NOT NULL)",
                        )
                        .unwrap();
                },
                |()| {
                    let mut client = client.borrow_mut();
                    let insert = client
                        .prepare(
                            "INSERT INTO bare (id, json)
                             SELECT * FROM unnest($1::text[], $2::text[])",
                        )
                        .unwrap();
                    for chunk in alerts.chunks(BATCH) {
                        let ids: Vec<&str> =
                            chunk.iter().map(|a| a.system_alert_id().as_str()).collect();
                        let json: Vec<String> = chunk
                            .iter()
                            .map(|a| serde_json::to_string(a).unwrap())
                            .collect();
                        let mut tx = client.transaction().unwrap();
                        tx.execute(&insert, &[&ids, &json]).unwrap();
                        tx.commit().unwrap();
                    }
                },
                BatchSize::PerIteration,
            );
        });
        g.finish();
        drop(client);
        drop(db);
    }

    /// The kept 1M-alert database, built on first use.
    fn big_db() -> String {
        let url = url_of(BIG_DB);
        let mut admin = admin();
        let exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&BIG_DB])
            .unwrap()
            .is_some();
        if exists {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let built = client
                .query_opt("SELECT n FROM vigil_bench_built", &[])
                .ok()
                .flatten()
                .map(|r| r.get::<_, i64>(0));
            if built == Some(BIG as i64) {
                return url;
            }
            drop(client);
            admin
                .batch_execute(&format!("DROP DATABASE {BIG_DB} WITH (FORCE)"))
                .unwrap();
        }
        admin
            .batch_execute(&format!("CREATE DATABASE {BIG_DB}"))
            .unwrap();
        eprintln!("building the 1,000,000-alert database {BIG_DB} …");
        let started = Instant::now();
        let store = open(&url);
        add_rules(&store, &tenant(), &rules());
        let mut generator = AlertGenerator::new(1);
        for _ in 0..BIG / 10_000 {
            let alerts = generator.alerts(10_000);
            for chunk in alerts.chunks(BATCH) {
                store.ingest(&tenant(), chunk, reference_time()).unwrap();
            }
        }
        drop(store);
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client.batch_execute("VACUUM ANALYZE").unwrap();
        client
            .batch_execute(&format!(
                "CREATE TABLE vigil_bench_built (n bigint NOT NULL);
                 INSERT INTO vigil_bench_built VALUES ({BIG})"
            ))
            .unwrap();
        eprintln!("built in {:.1?}", started.elapsed());
        url
    }

    pub fn bench_triage(c: &mut Criterion) {
        if !selected(&[
            "vigil-postgres/first-page-1m",
            "vigil-postgres/high-prefix-page-1m",
            "vigil-postgres/status-change-1m",
        ]) {
            return;
        }
        let url = big_db();
        let store = open(&url);
        let t = tenant();
        let g = bench_triage_common(c, &store, &t, "vigil-postgres");
        g.finish();
    }

    /// A worker: `URL TENANT SEED COUNT`. Opens the store, loads the tenant's rules (an empty
    /// ingest), says `ready`, waits for a line on stdin, ingests COUNT alerts in batches of
    /// 1,000, says `done`.
    pub fn worker(spec: &str) {
        let parts: Vec<&str> = spec.split(' ').collect();
        let [url, tenant, seed, count] = parts[..] else {
            panic!("{WORKER_ENV}: expected URL TENANT SEED COUNT, got {spec:?}")
        };
        let store = open(url);
        let t = TenantId::new(tenant).unwrap();
        let alerts = AlertGenerator::new(seed.parse().unwrap()).alerts(count.parse().unwrap());
        store.ingest(&t, &[], reference_time()).unwrap();
        println!("ready");
        std::io::stdout().flush().unwrap();
        let mut go = String::new();
        std::io::stdin().read_line(&mut go).unwrap();
        for chunk in alerts.chunks(BATCH) {
            store.ingest(&t, chunk, reference_time()).unwrap();
        }
        println!("done");
        std::io::stdout().flush().unwrap();
    }

    fn read_line(child: &mut BufReader<std::process::ChildStdout>, want: &str) {
        let mut line = String::new();
        child.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), want, "a bench worker failed");
    }

    pub fn bench_processes(c: &mut Criterion) {
        if !selected(&[
            "vigil-postgres/ingest-processes/1",
            "vigil-postgres/ingest-processes/2",
            "vigil-postgres/ingest-processes/4",
        ]) {
            return;
        }
        let db = TempDb::new("procs");
        let url = db.url();
        let rules = rules();
        {
            let store = open(&url);
            for slot in 0..4 {
                add_rules(
                    &store,
                    &TenantId::new(format!("proc-{slot}")).unwrap(),
                    &rules,
                );
            }
        }
        let exe = std::env::current_exe().unwrap();
        let mut g = c.benchmark_group("store");
        g.sample_size(10);
        g.measurement_time(Duration::from_secs(20));
        let mut seed = 1_000u64;
        for n in [1usize, 2, 4] {
            g.throughput(Throughput::Elements((n * PER_PROCESS) as u64));
            g.bench_function(
                BenchmarkId::new("vigil-postgres/ingest-processes", n),
                |b| {
                    b.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let mut workers: Vec<(Child, BufReader<std::process::ChildStdout>)> =
                                (0..n)
                                    .map(|slot| {
                                        seed += 1;
                                        let mut child = Command::new(&exe)
                                            .env(
                                                WORKER_ENV,
                                                format!("{url} proc-{slot} {seed} {PER_PROCESS}"),
                                            )
                                            .stdin(Stdio::piped())
                                            .stdout(Stdio::piped())
                                            .spawn()
                                            .unwrap();
                                        let out = BufReader::new(child.stdout.take().unwrap());
                                        (child, out)
                                    })
                                    .collect();
                            for (_, out) in &mut workers {
                                read_line(out, "ready");
                            }
                            let started = Instant::now();
                            for (child, _) in &mut workers {
                                child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
                            }
                            for (_, out) in &mut workers {
                                read_line(out, "done");
                            }
                            total += started.elapsed();
                            for (mut child, _) in workers {
                                assert!(child.wait().unwrap().success());
                            }
                        }
                        total
                    })
                },
            );
        }
        g.finish();
        drop(db);
    }
}
