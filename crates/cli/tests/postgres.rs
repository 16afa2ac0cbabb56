//! The `vigil` binary on a PostgreSQL server (`--db postgres://…` or `VIGIL_DB`): each test on
//! a fresh database of its own on the test server (`VIGIL_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`), dropped after.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/alerts/sample-alerts.json"
);
const PS_ID: &str = "2517000000000000000_6513270e-269e-0d37-f2a7-4de452e6b438";

fn server_url() -> String {
    std::env::var("VIGIL_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn admin() -> postgres::Client {
    let url = server_url();
    postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| {
        panic!(
            "cannot connect to the PostgreSQL server for the tests at {url:?}: {e}\n\
             start it (`pg_ctlcluster --skip-systemctl-redirect 15 main start`, as .ci/run does) \
             or point VIGIL_TEST_POSTGRES at one"
        )
    })
}

/// A fresh database on the test server, dropped with this value.
struct Database {
    name: String,
    url: String,
}

impl Database {
    fn new() -> Database {
        let name = format!("vigil_cli_test_{}", uuid::Uuid::new_v4().simple());
        admin()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let server = server_url();
        let (base, params) = match server.split_once('?') {
            Some((b, p)) => (b.to_owned(), format!("?{p}")),
            None => (server.clone(), String::new()),
        };
        let Some(scheme_end) = base.find("://") else {
            panic!("VIGIL_TEST_POSTGRES must be a postgres:// URL for the CLI tests: {server}")
        };
        let authority_end = base[scheme_end + 3..]
            .find('/')
            .map_or(base.len(), |i| scheme_end + 3 + i);
        let url = format!("{}/{name}{params}", &base[..authority_end]);
        Database { name, url }
    }

    /// `vigil --db URL …`.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = vigil();
        c.arg("--db").arg(&self.url).args(args);
        c
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd(args).arg("--json").assert().success();
        serde_json::from_slice(&out.get_output().stdout).unwrap()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = admin().batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

fn vigil() -> Command {
    let mut c = Command::cargo_bin("vigil").unwrap();
    c.env_remove("VIGIL_DB")
        .env_remove("VIGIL_BUSY_TIMEOUT")
        .env("NO_COLOR", "1")
        .env("USER", "tester");
    c
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| {
            a["properties"]["systemAlertId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn import_list_and_change_a_status_on_a_postgres_server() {
    let db = Database::new();
    let report = db.json(&["import", SAMPLES]);
    assert!(report["new"].as_u64().unwrap() > 0, "{report}");
    let again = db.json(&["import", SAMPLES]);
    assert_eq!(again["new"], 0, "{again}");

    // The rows are on the server, in Vigil's tables.
    let mut client = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let stored: i64 = client
        .query_one("SELECT count(*) FROM alerts WHERE tenant = 'default'", &[])
        .unwrap()
        .get(0);
    assert_eq!(stored as u64, report["new"].as_u64().unwrap());

    let listed = ids(&db.json(&["list"]));
    assert!(listed.contains(&PS_ID.to_owned()), "{listed:?}");

    let json = db.json(&["status", PS_ID, "in-progress", "--comment", "looking"]);
    assert_eq!(json["properties"]["status"], "InProgress");
    // InProgress → Active is illegal, on this backend as on SQLite.
    db.cmd(&["status", PS_ID, "active"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("InProgress"));
    db.cmd(&["status", PS_ID, "resolved", "--actor", "alice"])
        .assert()
        .success()
        .stdout(predicate::str::contains("InProgress → Resolved"));
    let shown = db.json(&["show", PS_ID]);
    assert_eq!(shown["properties"]["status"], "Resolved");
    let audit: i64 = client
        .query_one("SELECT count(*) FROM audit WHERE tenant = 'default'", &[])
        .unwrap()
        .get(0);
    assert_eq!(audit, 2);

    // Resolved alerts leave the default (open) queue; another tenant sees nothing.
    let open = ids(&db.json(&["list"]));
    assert!(!open.contains(&PS_ID.to_owned()), "{open:?}");
    assert_eq!(open.len(), listed.len() - 1);
    assert_eq!(
        db.json(&["--tenant", "other", "list"]),
        Value::Array(vec![])
    );
}

#[test]
fn vigil_db_selects_the_server_too() {
    let db = Database::new();
    vigil()
        .env("VIGIL_DB", &db.url)
        .args(["import", SAMPLES])
        .assert()
        .success();
    let out = vigil()
        .env("VIGIL_DB", &db.url)
        .args(["list", "--json"])
        .assert()
        .success();
    let listed: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert!(ids(&listed).contains(&PS_ID.to_owned()));
    // No SQLite file was made in its place.
    assert!(!std::path::Path::new(&db.url).exists());
    db.cmd(&["check"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("PostgreSQL"));
}

#[test]
fn an_unreachable_server_is_named_without_its_password() {
    // Nothing listens on port 1; the error names the server and the flag, never the password.
    vigil()
        .args([
            "--db",
            "postgres://vigil:s3cret@127.0.0.1:1/vigil?connect_timeout=2",
            "list",
        ])
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("127.0.0.1:1/vigil")
                .and(predicate::str::contains("--db"))
                .and(predicate::str::contains("s3cret").not()),
        );
    vigil()
        .args([
            "--db",
            "postgres://vigil@127.0.0.1:5432/vigil?sslmode=sometimes",
            "list",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("connection string"));
}
