//! The server restarted under running writers (`pg_ctlcluster … stop`/`start`, then
//! `pg_ctlcluster … restart`): every batch is wholly present or absent, operations fail with
//! `Unavailable` while the server is down, the pool reconnects and operations succeed after, and
//! no transaction is left open.
//!
//! In a binary of its own, so the restart never disturbs the other PostgreSQL tests (cargo runs
//! test binaries one after another). It needs the local cluster managed by `pg_ctlcluster`
//! (as root, as `.ci/run` runs); when `VIGIL_TEST_POSTGRES` names another server it skips,
//! saying so loudly. A guard starts the cluster again however the test ends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "it/support.rs"]
#[allow(dead_code)]
mod support;

use std::collections::HashSet;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use vigil_core::Alert;
use vigil_core::store::{AlertQuery, ErrorKind, Store, TenantId, Triage};
use vigil_postgres::{Options, PostgresBackend};
use vigil_testkit::generate::{AlertGenerator, reference_time};

use support::{TempStore, server_url};

/// The `pg_ctlcluster` cluster serving `port`, from `pg_lsclusters`: `(version, name)`.
fn cluster_on(port: u16) -> Result<(String, String), String> {
    let out = Command::new("pg_lsclusters")
        .arg("--no-header")
        .output()
        .map_err(|e| format!("cannot run pg_lsclusters: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pg_lsclusters failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && f[2] == port.to_string())
        .map(|f| (f[0].to_owned(), f[1].to_owned()))
        .ok_or_else(|| format!("no cluster listed by pg_lsclusters serves port {port}:\n{text}"))
}

/// Host and port of the test server, if it is on this machine.
fn local_port(url: &str) -> Option<u16> {
    let config: postgres::Config = url.parse().ok()?;
    let local = config.get_hosts().iter().all(|h| match h {
        postgres::config::Host::Tcp(name) => {
            matches!(name.as_str(), "127.0.0.1" | "localhost" | "::1")
        }
        postgres::config::Host::Unix(_) => true,
    });
    local.then(|| config.get_ports().first().copied().unwrap_or(5432))
}

/// The local cluster; starts it again when dropped, however the test ends.
struct Cluster {
    version: String,
    name: String,
}

impl Cluster {
    fn ctl(&self, action: &str) {
        let out = Command::new("pg_ctlcluster")
            .args([
                "--skip-systemctl-redirect",
                &self.version,
                &self.name,
                action,
            ])
            .output()
            .unwrap_or_else(|e| panic!("cannot run pg_ctlcluster: {e}"));
        assert!(
            out.status.success(),
            "pg_ctlcluster {} {} {action} failed: {}{}",
            self.version,
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn running(&self) -> bool {
        Command::new("pg_ctlcluster")
            .args([&self.version, &self.name, "status"])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Waits until the server accepts connections again.
    fn wait_ready(&self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if postgres::Client::connect(&server_url(), postgres::NoTls).is_ok() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!("the server did not accept connections within 60 s of starting");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.running() {
            let _ = Command::new("pg_ctlcluster")
                .args([
                    "--skip-systemctl-redirect",
                    &self.version,
                    &self.name,
                    "start",
                ])
                .status();
        }
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60)
            && postgres::Client::connect(&server_url(), postgres::NoTls).is_err()
        {
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// What one writer did: every batch it tried, whether the store said it was committed.
#[derive(Default)]
struct Log {
    batches: Vec<(Vec<Alert>, bool)>,
    /// Errors, all of which must be `Unavailable`.
    errors: Vec<(ErrorKind, String)>,
    /// Successful batches after the server came back (counted once `back` is set).
    after: usize,
}

const WRITERS: usize = 3;
const BATCH: usize = 40;

fn writer(
    store: Arc<Triage<PostgresBackend>>,
    n: usize,
    stop: Arc<AtomicBool>,
    back: Arc<AtomicBool>,
) -> Log {
    let t = TenantId::new(format!("restart-{n}")).unwrap();
    let mut generator = AlertGenerator::new(100 + n as u64);
    let mut log = Log::default();
    while !stop.load(Ordering::SeqCst) {
        let was_back = back.load(Ordering::SeqCst);
        let batch = generator.alerts(BATCH);
        match store.ingest(&t, &batch, reference_time()) {
            Ok(report) => {
                assert_eq!(report.new, BATCH, "{report:?}");
                log.batches.push((batch, true));
                if was_back {
                    log.after += 1;
                }
            }
            Err(e) => {
                log.errors.push((e.kind(), e.to_string()));
                log.batches.push((batch, false));
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
    log
}

#[test]
fn a_restarted_server_leaves_whole_batches_and_the_pool_reconnects() {
    let url = server_url();
    let Some(port) = local_port(&url) else {
        eprintln!(
            "\n!!! SKIPPED: restart test: VIGIL_TEST_POSTGRES ({url}) is not a server on this \
             machine, so it cannot be restarted with pg_ctlcluster !!!\n"
        );
        return;
    };
    let (version, name) = cluster_on(port).unwrap_or_else(|e| {
        panic!(
            "the restart test needs the local PostgreSQL cluster on port {port} managed by \
             pg_ctlcluster (as .ci/run sets up): {e}"
        )
    });
    let temp = TempStore::new();
    // Declared after `temp`, so dropped before it: the server is up again to drop the database.
    let cluster = Cluster { version, name };
    let options = Options {
        connect_timeout: Duration::from_secs(1),
        max_connections: 4,
        ..Options::default()
    };
    let store = Arc::new(Triage::new(
        PostgresBackend::open_with(&temp.url, options).unwrap(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let back = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|n| {
            let (store, stop, back) = (store.clone(), stop.clone(), back.clone());
            thread::spawn(move || writer(store, n, stop, back))
        })
        .collect();
    let probe = TenantId::new("restart-probe").unwrap();
    let all = AlertQuery::default().all_statuses();
    thread::sleep(Duration::from_millis(700));

    // Down: reads and writes fail with Unavailable (and fail, rather than hang).
    cluster.ctl("stop");
    let started = Instant::now();
    let err = store.counts(&probe, &all).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    let err = store
        .ingest(&probe, &AlertGenerator::new(9).alerts(3), reference_time())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "operations on a stopped server took {:?} to fail",
        started.elapsed()
    );
    thread::sleep(Duration::from_millis(500));
    cluster.ctl("start");
    cluster.wait_ready();
    thread::sleep(Duration::from_millis(700));

    // A restart in the middle of the run.
    cluster.ctl("restart");
    cluster.wait_ready();
    back.store(true, Ordering::SeqCst);
    thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::SeqCst);
    let logs: Vec<Log> = writers.into_iter().map(|w| w.join().unwrap()).collect();

    let mut raw = postgres::Client::connect(&temp.url, postgres::NoTls).unwrap();
    let mut failed = 0;
    for (n, log) in logs.iter().enumerate() {
        let t = TenantId::new(format!("restart-{n}")).unwrap();
        for (kind, message) in &log.errors {
            assert_eq!(*kind, ErrorKind::Unavailable, "writer {n}: {message}");
        }
        failed += log.errors.len();
        assert!(
            log.after > 0,
            "writer {n} committed nothing after the server came back: {:?}",
            log.errors
        );
        // Every batch wholly present or wholly absent; every acknowledged one present.
        let stored: HashSet<String> = raw
            .query("SELECT id FROM alerts WHERE tenant = $1", &[&t.as_str()])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut present = 0;
        for (i, (batch, committed)) in log.batches.iter().enumerate() {
            let found = batch
                .iter()
                .filter(|a| stored.contains(a.id().as_str()))
                .count();
            assert!(
                found == 0 || found == batch.len(),
                "writer {n}, batch {i}: {found} of {} alerts stored",
                batch.len()
            );
            if *committed {
                assert_eq!(
                    found,
                    batch.len(),
                    "writer {n}, acknowledged batch {i} lost"
                );
            }
            present += found;
        }
        assert_eq!(store.counts(&t, &all).unwrap().total() as usize, present);
        // The event log has one ingest event per stored alert, numbered without gaps.
        let events = store.events_since(&t, 0, usize::MAX).unwrap();
        let seqs: HashSet<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(events.len(), present, "writer {n}: events");
        assert_eq!(seqs, (1..=present as u64).collect::<HashSet<_>>());
    }
    assert!(
        failed > 0,
        "no writer saw the server go away: the stop did not reach them"
    );

    // No transaction left open by the connections the server dropped.
    let db = temp.url.rsplit('/').next().unwrap().to_owned();
    let open: i64 = support::admin()
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = $1 AND state LIKE 'idle in transaction%'",
            &[&db],
        )
        .unwrap()
        .get(0);
    assert_eq!(open, 0, "transactions left open after the restart");
    drop(raw);
    drop(store);
    drop(cluster);
    drop(temp);
}
