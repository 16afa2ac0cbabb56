//! `vigil automations …` and `vigil automate run` end to end: a real receiver on loopback, a
//! real database file, and the dispatcher killed with SIGKILL again and again while events
//! flow.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use assert_cmd::cargo::CommandCargoExt;
use chrono::Utc;
use serde_json::{Value, json};
use tempfile::TempDir;
use vigil_core::automation::sign;
use vigil_core::store::{EventKind, Store, TenantId};
use vigil_core::{Alert, AlertId, Severity};
use vigil_sqlite::SqliteStore;
use vigil_testkit::receiver::{Receiver, Reply};

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/alerts/sample-alerts.json"
);

fn vigil(db: &Path, args: &[&str]) -> Command {
    let mut c = Command::cargo_bin("vigil").unwrap();
    c.arg("--db").arg(db).args(args).env_remove("VIGIL_DB");
    c
}

/// The standard output of `vigil` with `args`, which must succeed.
fn stdout_of(db: &Path, args: &[&str]) -> Vec<u8> {
    vigil(db, args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone()
}

fn json_of(out: &[u8]) -> Value {
    serde_json::from_slice(out).unwrap()
}

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string(v).unwrap()).unwrap();
    p
}

#[test]
fn manage_test_and_run_once() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("a.db");
    let r = Receiver::start(|req, _| {
        if req.path.starts_with("/fail") {
            Reply::Status(410)
        } else {
            Reply::Status(200)
        }
    });
    let defender = write(
        dir.path(),
        "defender.json",
        &json!({
            "name": "notify-high",
            "type": "Microsoft.Security/automations",
            "properties": {
                "isEnabled": true,
                "sources": [{"eventSource": "Alerts", "ruleSets": [{"rules": [
                    {"propertyJPath": "Severity", "propertyType": "String", "expectedValue": "high", "operator": "Equals"}
                ]}]}],
                "actions": [
                    {"actionType": "LogicApp", "logicAppResourceId": "/l", "uri": r.url("/logicapp?sig=TOPSECRET")},
                    {"actionType": "Workspace", "workspaceResourceId": "/w"}
                ]
            }
        }),
    );
    let own = write(
        dir.path(),
        "own.json",
        &json!([{
            "name": "signed",
            "triggers": [{"type": "alertCreated"}],
            "conditions": [{"field": "severity", "in": ["High", "Medium"]}],
            "actions": [
                {"type": "webhook", "url": r.url("/signed"), "secret": "HMACKEY", "headers": {"X-Api-Key": "APIKEY"}},
                {"type": "webhook", "url": r.url("/fail")}
            ]
        }]),
    );
    let out = stdout_of(
        &db,
        &[
            "--json",
            "automations",
            "add",
            defender.to_str().unwrap(),
            own.to_str().unwrap(),
        ],
    );
    let added = json_of(&out);
    assert_eq!(added["automations"].as_array().unwrap().len(), 2);
    assert!(
        added["automations"][0]["untranslated"]
            .to_string()
            .contains("Workspace")
    );
    // A duplicate is refused unless replaced.
    vigil(&db, &["automations", "add", own.to_str().unwrap()])
        .assert()
        .failure();
    vigil(
        &db,
        &["automations", "add", "--replace", own.to_str().unwrap()],
    )
    .assert()
    .success();

    // Secrets never printed.
    for args in [
        &["automations", "list"][..],
        &["--json", "automations", "list"],
        &["automations", "show", "signed"],
        &["--json", "automations", "show", "notify-high"],
    ] {
        let out = stdout_of(&db, args);
        let text = String::from_utf8(out).unwrap();
        for secret in ["TOPSECRET", "HMACKEY", "APIKEY"] {
            assert!(!text.contains(secret), "{args:?} printed {secret}: {text}");
        }
    }

    vigil(&db, &["import", SAMPLES]).assert().success();
    let high = stdout_of(
        &db,
        &["--json", "list", "--severity", "high", "--status", "all"],
    );
    let high = json_of(&high);
    let high_ids: Vec<String> = high
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(!high_ids.is_empty());

    // `test` shows and calls nothing.
    let out = stdout_of(
        &db,
        &["--json", "automations", "test", "signed", &high_ids[0]],
    );
    let t = json_of(&out);
    assert_eq!(t["conditionsMatch"], true);
    assert_eq!(t["calls"].as_array().unwrap().len(), 2);
    assert!(!t.to_string().contains("HMACKEY"));
    assert_eq!(r.count(), 0, "test calls nothing");

    let out = stdout_of(
        &db,
        &["--json", "automate", "run", "--once", "--max-attempts", "2"],
    );
    let run = json_of(&out);
    assert_eq!(run["pending"], 0, "{run}");
    let got = r.requests();
    let logic: Vec<_> = got
        .iter()
        .filter(|q| q.path.starts_with("/logicapp"))
        .collect();
    assert_eq!(
        logic.len(),
        high_ids.len(),
        "one LogicApp call per high alert"
    );
    let now = Utc::now().timestamp();
    for q in got.iter().filter(|q| q.path == "/signed") {
        assert_eq!(q.header("x-api-key"), Some("APIKEY"));
        sign::verify(
            "HMACKEY",
            q.header(sign::TIMESTAMP_HEADER).unwrap(),
            q.header(sign::SIGNATURE_HEADER).unwrap(),
            &q.body,
            now,
            300,
        )
        .unwrap();
    }
    // 410 answers are parked at once and listed.
    let out = stdout_of(&db, &["--json", "automations", "failures"]);
    let failures = json_of(&out)["failures"].as_array().unwrap().clone();
    assert!(!failures.is_empty());
    assert!(failures.iter().all(|f| f["lastStatus"] == "HTTP 410"));
    let id = failures[0]["id"].to_string();
    vigil(&db, &["automations", "retry", &id])
        .assert()
        .success();
    vigil(&db, &["automate", "run", "--once", "--max-attempts", "1"])
        .assert()
        .success();
    let n = failures.len();
    let out = stdout_of(&db, &["--json", "automations", "failures"]);
    assert_eq!(json_of(&out)["failures"].as_array().unwrap().len(), n);
    assert_eq!(
        r.requests().iter().filter(|q| q.path == "/fail").count(),
        n + 1,
        "the retried delivery was sent again"
    );

    let out = stdout_of(
        &db,
        &["--json", "automations", "prune", "--older-than", "0s"],
    );
    assert!(json_of(&out)["pruned"].as_u64().unwrap() > 0);
    let out = stdout_of(&db, &["automations", "prune", "--older-than", "7d"]);
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains("0 delivered deliveries pruned")
    );
    vigil(&db, &["automations", "disable", "signed"])
        .assert()
        .success();
    vigil(&db, &["automations", "delete", "notify-high"])
        .assert()
        .success();
    vigil(&db, &["automations", "show", "notify-high"])
        .assert()
        .failure();
}

/// Kills `vigil automate run` with SIGKILL at random moments, more than 20 times, while 1,000
/// alerts arrive: every event is delivered; duplicates (deliveries in flight at a kill) are
/// counted and reported.
#[test]
fn sigkill_loses_nothing() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("kill.db");
    let r = Arc::new(Receiver::start(|_, _| Reply::Status(200)));
    let hook = write(
        dir.path(),
        "hook.json",
        &json!({
            "name": "hook",
            "triggers": [{"type": "alertCreated"}],
            "actions": [{"type": "webhook", "url": r.url("/in"), "secret": "k", "timeoutSeconds": 1}]
        }),
    );
    vigil(&db, &["automations", "add", hook.to_str().unwrap()])
        .assert()
        .success();

    const ALERTS: usize = 1000;
    let done = Arc::new(AtomicBool::new(false));
    let feeder = {
        let db = db.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let store = SqliteStore::open(&db).unwrap();
            let t = TenantId::new("default").unwrap();
            for batch in 0..50 {
                let alerts: Vec<Alert> = (0..ALERTS / 50)
                    .map(|i| {
                        Alert::builder(
                            AlertId::new(format!("k-{batch}-{i}")).unwrap(),
                            "VM_EICAR",
                            "kill test",
                            Severity::High,
                            Utc::now(),
                        )
                        .build()
                    })
                    .collect();
                store.ingest(&t, &alerts, Utc::now()).unwrap();
                std::thread::sleep(Duration::from_millis(200));
            }
            done.store(true, Ordering::SeqCst);
        })
    };

    let mut seed = Utc::now().timestamp_subsec_nanos() as u64 | 1;
    let mut rand = move |lo: u64, hi: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        lo + seed % (hi - lo)
    };
    let spawn = || -> Child {
        std::process::Command::cargo_bin("vigil")
            .unwrap()
            .arg("--db")
            .arg(&db)
            .args([
                "automate", "run", "--lease", "400ms", "--poll", "20ms", "--batch", "16",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut kills = 0;
    let started = Instant::now();
    while kills < 24 || !done.load(Ordering::SeqCst) {
        let mut child = spawn();
        std::thread::sleep(Duration::from_millis(rand(50, 800)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        assert!(started.elapsed() < Duration::from_secs(120), "too slow");
    }
    feeder.join().unwrap();
    // A last dispatcher drains what is left (after the dead one's lease lapses).
    vigil(&db, &["automate", "run", "--once", "--lease", "400ms"])
        .assert()
        .success();

    let store = SqliteStore::open(&db).unwrap();
    let t = TenantId::new("default").unwrap();
    let events: BTreeSet<u64> = store
        .events_since(&t, 0, 10_000)
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::AlertIngested { .. }))
        .map(|e| e.seq)
        .collect();
    assert_eq!(events.len(), ALERTS);
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for q in r.requests() {
        let key = q.header("idempotency-key").unwrap();
        let seq: u64 = key.rsplit(':').next().unwrap().parse().unwrap();
        *seen.entry(seq).or_default() += 1;
    }
    let missing: Vec<&u64> = events.iter().filter(|e| !seen.contains_key(e)).collect();
    assert!(missing.is_empty(), "events never delivered: {missing:?}");
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "SIGKILL test: {kills} kills while {ALERTS} events flowed; {} requests, {duplicates} \
         duplicates (deliveries in flight at a kill), 0 lost",
        r.count()
    );
    assert!(
        duplicates <= kills * 16,
        "more duplicates ({duplicates}) than deliveries in flight at {kills} kills"
    );
    let pending = store
        .list_deliveries(
            &t,
            &vigil_core::automation::DeliveryQuery::state(
                vigil_core::automation::DeliveryState::Pending,
            ),
        )
        .unwrap();
    assert!(pending.is_empty(), "{} still pending", pending.len());
}

/// SIGTERM ends `vigil automate run` cleanly: exit 0, the lease given up, so the next
/// dispatcher starts at once instead of waiting for it to lapse.
#[test]
fn sigterm_stops_cleanly_and_gives_the_lease_up() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("term.db");
    let r = Receiver::start(|_, _| Reply::Status(200));
    let hook = write(
        dir.path(),
        "hook.json",
        &json!({
            "name": "hook",
            "triggers": [{"type": "alertCreated"}],
            "actions": [{"type": "webhook", "url": r.url("/in")}]
        }),
    );
    vigil(&db, &["automations", "add", hook.to_str().unwrap()])
        .assert()
        .success();
    vigil(&db, &["import", SAMPLES]).assert().success();
    let mut child = std::process::Command::cargo_bin("vigil")
        .unwrap()
        .arg("--db")
        .arg(&db)
        .args(["automate", "run", "--lease", "60s", "--poll", "20ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    while r.count() < 14 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(r.count(), 14, "the sample alerts delivered");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
    // The lease is free: a new dispatcher does not wait the 60 s for it to lapse.
    vigil(&db, &["import", SAMPLES]).assert().success();
    let started = Instant::now();
    vigil(&db, &["automate", "run", "--once", "--lease", "60s"])
        .assert()
        .success();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "waited {:?} for the lease",
        started.elapsed()
    );
}
