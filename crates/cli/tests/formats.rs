//! End-to-end tests of `vigil export --format …` and `vigil import --format …`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/alerts/sample-alerts.json"
);
const GRAPH_DOC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/formats/real/graph-security-alert-get.json"
);

struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: TempDir::new().unwrap(),
        }
    }

    fn cmd(&self, db: &str, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("vigil").unwrap();
        c.current_dir(self.dir.path())
            .env_remove("VIGIL_DB")
            .env_remove("NO_COLOR")
            .arg("--db")
            .arg(self.dir.path().join(db))
            .args(args);
        c
    }

    fn out(&self, db: &str, args: &[&str]) -> String {
        let a = self.cmd(db, args).assert().success();
        String::from_utf8(a.get_output().stdout.clone()).unwrap()
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

const ASFF_ARGS: [&str; 4] = [
    "--aws-account-id",
    "123456789012",
    "--aws-region",
    "eu-west-1",
];

/// Export in each format, import into a fresh database (auto-detected), export as Defender JSON
/// lines again: the same bytes.
#[test]
fn every_importable_format_round_trips_through_the_cli() {
    let env = Env::new();
    env.cmd("a.db", &["import", SAMPLES]).assert().success();
    let original = env.out("a.db", &["export"]);
    assert_eq!(original.lines().count(), 14);
    for format in ["defender", "ocsf", "asff", "graph"] {
        let mut args = vec!["export", "--format", format];
        if format == "asff" {
            args.extend(ASFF_ARGS);
        }
        let text = env.out("a.db", &args);
        let file = env.file(&format!("x.{format}"), &text);
        let db = format!("{format}.db");
        env.cmd(&db, &["import", file.to_str().unwrap()])
            .assert()
            .success()
            .stdout(predicate::str::contains("14 new"));
        assert_eq!(env.out(&db, &["export"]), original, "{format}");
    }
}

#[test]
fn cef_export_has_one_event_per_line_and_optional_syslog_framing() {
    let env = Env::new();
    env.cmd("a.db", &["import", SAMPLES]).assert().success();
    let cef = env.out("a.db", &["export", "--format", "cef", "--severity", "high"]);
    assert!(!cef.is_empty());
    assert!(
        cef.lines()
            .all(|l| l.starts_with("CEF:0|") && l.contains("|8|"))
    );
    let framed = env.out(
        "a.db",
        &["export", "--format", "cef", "--syslog-host", "collector"],
    );
    assert!(
        framed
            .lines()
            .all(|l| l.starts_with('<') && l.contains(" collector vigil - alert - CEF:0|"))
    );
}

#[test]
fn format_options_are_checked_before_any_work() {
    let env = Env::new();
    env.cmd("a.db", &["import", SAMPLES]).assert().success();
    env.cmd("a.db", &["export", "--format", "asff"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--aws-account-id"));
    env.cmd(
        "a.db",
        &[
            "export",
            "--format",
            "asff",
            "--aws-account-id",
            "42",
            "--aws-region",
            "eu-west-1",
        ],
    )
    .assert()
    .failure()
    .stderr(predicate::str::contains("12 digits"));
    let bodies = env.out(
        "a.db",
        &[
            "export",
            "--format",
            "asff",
            "--aws-account-id",
            "123456789012",
            "--aws-region",
            "eu-west-1",
            "--aws-updated-at",
            "2030-01-01T00:00:00Z",
        ],
    );
    assert!(bodies.contains(r#""UpdatedAt":"2030-01-01T00:00:00.000Z""#));
    env.cmd(
        "a.db",
        &[
            "export",
            "--format",
            "asff",
            "--aws-account-id",
            "123456789012",
            "--aws-region",
            "eu-west-1",
            "--aws-updated-at",
            "yesterday",
        ],
    )
    .assert()
    .failure()
    .stderr(predicate::str::contains("--aws-updated-at"));
    env.cmd(
        "a.db",
        &["export", "--format", "ocsf", "--syslog-host", "h"],
    )
    .assert()
    .failure()
    .stderr(predicate::str::contains("--format cef only"));
}

#[test]
fn ambiguous_input_asks_for_the_format_and_imports_nothing() {
    let env = Env::new();
    let both = env.file(
        "both.json",
        r#"{"class_uid": 2004, "finding_info": {"uid": "x"}, "severity_id": 1, "time": 0,
            "SchemaVersion": "2018-10-08", "ProductArn": "arn:aws:x"}"#,
    );
    env.cmd("a.db", &["import", both.to_str().unwrap()])
        .assert()
        .failure()
        .stdout(predicate::str::contains("could be any of ocsf, asff"))
        .stdout(predicate::str::contains("--format"));
    // Told the format, it imports.
    env.cmd(
        "a.db",
        &["import", "--format", "ocsf", both.to_str().unwrap()],
    )
    .assert()
    .success()
    .stdout(predicate::str::contains("1 new"));
    let unknown = env.file("unknown.json", r#"{"hello": "world"}"#);
    env.cmd("a.db", &["import", unknown.to_str().unwrap()])
        .assert()
        .failure()
        .stdout(predicate::str::contains("cannot tell the format"));
}

#[test]
fn an_empty_list_imports_nothing_without_an_error() {
    let env = Env::new();
    let empty = env.file("empty.json", r#"{"value": []}"#);
    env.cmd("a.db", &["import", empty.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("0 new"));
}

#[test]
fn graph_alerts_land_in_the_queue_with_their_source() {
    let env = Env::new();
    env.cmd("a.db", &["import", GRAPH_DOC]).assert().success();
    let shown = env.out(
        "a.db",
        &["--json", "show", "da637578995287051192_756343937"],
    );
    assert!(shown.contains("Suspicious execution of hidden file"));
    let line = env.out("a.db", &["export"]);
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["properties"]["vigilSource"]["format"], "graph");
    assert_eq!(
        v["properties"]["vigilSource"]["record"]["tenantId"],
        "b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c"
    );
}

#[test]
fn import_errors_name_the_file_the_record_and_the_path() {
    let env = Env::new();
    let bad = env.file(
        "bad.ocsf",
        "{\"class_uid\": 2004, \"finding_info\": {\"uid\": \"a\"}, \"severity_id\": 1, \"time\": 0}\n{\"class_uid\": 2004, \"finding_info\": {\"uid\": \"b\"}, \"severity_id\": \"x\", \"time\": 0}\n",
    );
    env.cmd("a.db", &["import", bad.to_str().unwrap()])
        .assert()
        .failure()
        .stdout(predicate::str::contains(
            "bad.ocsf: error: ocsf: line 2.severity_id: expected an integer, found a string (nothing was imported from it)",
        ));
}
