//! Several processes on one file: optimistic concurrency across processes, and crash safety
//! under SIGKILL. The children are this test binary itself, run with `VIGIL_SQLITE_CHILD` set
//! to their role and `--exact procs::child_role`, so no helper binary is needed.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use vigil_core::store::{ErrorKind, StatusChange, Store, TenantId};
use vigil_core::{Alert, AlertId, Entity, Severity, Status};
use vigil_sqlite::SqliteStore;

const ROLE: &str = "VIGIL_SQLITE_CHILD";
const DB: &str = "VIGIL_SQLITE_DB";
const OUT: &str = "VIGIL_SQLITE_OUT";
const SEED: &str = "VIGIL_SQLITE_SEED";

const ALERTS: usize = 6;
const PROCESSES: usize = 4;
const THREADS: usize = 2;
const ROUNDS: usize = 30;
const BATCH: usize = 2000;
const KILLS: usize = 22;

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

/// A small xorshift generator: no dependency, different per process.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn spawn_child(role: &str, db: &Path, out: &Path, seed: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "procs::child_role",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(DB, db)
        .env(OUT, out)
        .env(SEED, seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The child side: does nothing unless run as a child by the tests below.
#[test]
fn child_role() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let db = std::env::var(DB).unwrap();
    let out = std::env::var(OUT).unwrap();
    let seed: u64 = std::env::var(SEED).unwrap().parse().unwrap();
    match role.as_str() {
        "status" => status_child(&db, &out, seed),
        "ingest" => ingest_child(&db, seed),
        other => panic!("unknown child role {other:?}"),
    }
}

fn next_status(s: Status) -> Status {
    match s {
        Status::Active => Status::InProgress,
        Status::InProgress => Status::Resolved,
        _ => Status::Active,
    }
}

/// Each thread: read an alert, change its status at the version read (a conflict if another
/// thread or process got there first), and replay the same stale version after a success,
/// which must always conflict. Writes one line per outcome.
fn status_child(db: &str, out: &str, seed: u64) {
    let store = std::sync::Arc::new(SqliteStore::open(db).unwrap());
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut rng = Rng::new(seed * 10 + t as u64 + 1);
                let mut lines = Vec::new();
                let actor = format!("p{seed}t{t}");
                for round in 0..ROUNDS {
                    let id = AlertId::new(format!("c-{}", rng.below(ALERTS as u64))).unwrap();
                    let got = store.get(&tenant(), &id).unwrap().unwrap();
                    let to = next_status(got.alert.status());
                    let at = base() + chrono::Duration::seconds(round as i64);
                    let change = StatusChange::new(to, actor.clone());
                    match store.change_status(&tenant(), &id, got.version, change.clone(), at) {
                        Ok(s) => {
                            lines.push(format!("ok {id} {}", s.version));
                            let again =
                                store.change_status(&tenant(), &id, got.version, change, at);
                            match again {
                                Err(e) if e.kind() == ErrorKind::Conflict => {
                                    lines.push("stale-conflict".to_owned())
                                }
                                other => lines.push(format!("stale-other {other:?}")),
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::Conflict => {
                            lines.push("conflict".to_owned())
                        }
                        Err(e) => lines.push(format!("other {e}")),
                    }
                }
                lines
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in threads {
        all.extend(t.join().unwrap());
    }
    std::fs::write(out, all.join("\n")).unwrap();
}

#[test]
fn status_changes_from_many_processes_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("procs.db");
    let ids: Vec<String> = (0..ALERTS).map(|i| format!("c-{i}")).collect();
    {
        let store = SqliteStore::open(&db).unwrap();
        let alerts: Vec<Alert> = ids.iter().enumerate().map(|(i, id)| alert(id, i)).collect();
        store.ingest(&tenant(), &alerts, base()).unwrap();
    }
    let started = Instant::now();
    let children: Vec<(Child, std::path::PathBuf)> = (0..PROCESSES)
        .map(|p| {
            let out = dir.path().join(format!("out-{p}.txt"));
            (spawn_child("status", &db, &out, p as u64 + 1), out)
        })
        .collect();
    let mut oks: Vec<(String, u64)> = Vec::new();
    let (mut conflicts, mut stale) = (0usize, 0usize);
    for (mut child, out) in children {
        let status = child.wait().unwrap();
        assert!(status.success(), "a child process failed: {status}");
        for line in std::fs::read_to_string(&out).unwrap().lines() {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                ["ok", id, v] => oks.push(((*id).to_owned(), v.parse().unwrap())),
                ["conflict"] => conflicts += 1,
                ["stale-conflict"] => stale += 1,
                _ => panic!("unexpected outcome in a child: {line}"),
            }
        }
    }
    let attempts = PROCESSES * THREADS * ROUNDS;
    assert_eq!(
        oks.len() + conflicts,
        attempts,
        "every attempt succeeded or conflicted"
    );
    assert_eq!(
        stale,
        oks.len(),
        "every replay of a used version conflicted"
    );
    assert!(!oks.is_empty());

    // No two writers got the same version of an alert, and per alert the successful versions are
    // exactly 2..=final: no lost update.
    let unique: HashSet<&(String, u64)> = oks.iter().collect();
    assert_eq!(unique.len(), oks.len(), "a version was granted twice");
    let mut per_alert: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (id, v) in &oks {
        per_alert.entry(id).or_default().push(*v);
    }
    let store = SqliteStore::open(&db).unwrap();
    let mut history_total = 0;
    for id in &ids {
        let aid = AlertId::new(id.as_str()).unwrap();
        let stored = store.get(&tenant(), &aid).unwrap().unwrap();
        let mut versions = per_alert.remove(id.as_str()).unwrap_or_default();
        versions.sort_unstable();
        let expected: Vec<u64> = (2..=stored.version).collect();
        assert_eq!(versions, expected, "{id}: successful versions");
        let history = store.history(&tenant(), &aid).unwrap();
        history_total += history.len();
        assert_eq!(
            history.len() as u64,
            stored.version - 1,
            "{id}: one entry per change"
        );
        let mut status = Status::Active;
        for (i, e) in history.iter().enumerate() {
            assert_eq!(e.version, i as u64 + 2, "{id}: audit versions in order");
            assert_eq!(
                e.from, status,
                "{id}: each entry starts where the last ended"
            );
            assert_eq!(e.to, next_status(e.from));
            status = e.to;
        }
        assert_eq!(
            stored.alert.status(),
            status,
            "{id}: final status is the last entry's"
        );
    }
    assert_eq!(history_total, oks.len());
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

/// Ingests batches of `BATCH` alerts whose ids carry the batch tag `k<seed>-<batch>-`, until
/// killed.
fn ingest_child(db: &str, seed: u64) {
    let store = SqliteStore::open(db).unwrap();
    for b in 0.. {
        let alerts: Vec<Alert> = (0..BATCH)
            .map(|i| alert(&format!("k{seed}-{b}-{i}"), i))
            .collect();
        store
            .ingest(&tenant(), &alerts, base() + chrono::Duration::seconds(b))
            .unwrap();
    }
}

#[test]
fn killed_ingests_leave_whole_batches_and_a_sound_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    drop(SqliteStore::open(&db).unwrap());
    let mut rng = Rng::new(u64::from(std::process::id()));
    let mut committed = 0usize;
    for run in 0..KILLS {
        let mut child = spawn_child("ingest", &db, &dir.path().join("unused"), run as u64);
        // A debug build stores a 2,000-alert batch in about half a second: kill at a random
        // point within the first few batches.
        std::thread::sleep(Duration::from_millis(300 + rng.below(1200)));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "the child should have been killed");

        let conn = rusqlite::Connection::open(&db).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "after kill {run}");
        let prefix = format!("k{run}-");
        let mut stmt = conn
            .prepare("SELECT id FROM alerts WHERE id >= ?1 AND id < ?2")
            .unwrap();
        let mut per_batch: BTreeMap<u64, usize> = BTreeMap::new();
        let upper = format!("k{run}.");
        let rows = stmt
            .query_map([prefix.as_str(), upper.as_str()], |r| r.get::<_, String>(0))
            .unwrap();
        for id in rows {
            let id = id.unwrap();
            let batch: u64 = id[prefix.len()..]
                .split('-')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            *per_batch.entry(batch).or_default() += 1;
        }
        for (batch, n) in &per_batch {
            assert_eq!(*n, BATCH, "run {run}, batch {batch}: partially stored");
        }
        // Batches commit in order: the stored ones are 0..n.
        let n = per_batch.len() as u64;
        assert!(
            per_batch.keys().copied().eq(0..n),
            "run {run}: {per_batch:?}"
        );
        committed += per_batch.len();
        // The alerts and their key rows agree (each test alert has one entity value).
        let (alerts, with_entities): (i64, i64) = conn
            .query_row(
                "SELECT (SELECT count(*) FROM alerts),
                        (SELECT count(DISTINCT seq) FROM alert_keys)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(alerts, with_entities, "run {run}: side rows out of step");
        // Every stored alert has its one event, and no event outlived its batch.
        let (events, last): (i64, i64) = conn
            .query_row(
                "SELECT (SELECT count(*) FROM events),
                        (SELECT coalesce(max(last_event_seq), 0) FROM tenant_state)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            events, alerts,
            "run {run}: a change without its event or the reverse"
        );
        assert_eq!(last, events, "run {run}: the event counter is out of step");
    }
    assert!(committed > 0, "no batch was ever committed: kill later");
    // The store opens and reads the file after all that.
    let store = SqliteStore::open(&db).unwrap();
    let counts = store
        .counts(
            &tenant(),
            &vigil_core::store::AlertQuery::default().all_statuses(),
        )
        .unwrap();
    assert_eq!(counts.total() as usize, committed * BATCH);
}
