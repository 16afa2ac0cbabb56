//! End-to-end tests of the `vigil` binary on temporary databases.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/alerts/sample-alerts.json"
);
const RULE_EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/defender/PutAlertsSuppressionRule_example.json"
);
const PS_ID: &str = "2517000000000000000_6513270e-269e-0d37-f2a7-4de452e6b438";
const DISMISSED_ID: &str = "2517000000000055433_923a7369-94e3-bf91-1a61-dbe22e44158b";

struct Env {
    dir: TempDir,
    db: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = TempDir::new().unwrap();
        let db = dir.path().join("test.db");
        Env { dir, db }
    }

    fn with_samples() -> Env {
        let env = Env::new();
        env.cmd(&["import", SAMPLES]).assert().success();
        env
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("vigil").unwrap();
        c.current_dir(self.dir.path())
            .env_remove("VIGIL_DB")
            .env_remove("NO_COLOR")
            .env("USER", "tester")
            .arg("--db")
            .arg(&self.db)
            .args(args);
        c
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd(args).arg("--json").assert().success();
        serde_json::from_slice(&out.get_output().stdout).unwrap()
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn rule_file(&self) -> PathBuf {
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(RULE_EXAMPLE).unwrap()).unwrap();
        let body = &doc["responses"]["200"]["body"];
        self.file("rule.json", &body.to_string())
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn sample_values() -> Vec<Value> {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(SAMPLES).unwrap()).unwrap();
    doc["value"].as_array().unwrap().clone()
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

// ------------------------------------------------------------------ import

#[test]
fn import_reports_counts_as_json_and_is_idempotent() {
    let env = Env::new();
    let first = env.json(&["import", SAMPLES]);
    assert_eq!(first["new"], 14);
    assert_eq!(first["updated"], 0);
    assert_eq!(first["suppressed"], 0);
    let again = env.json(&["import", SAMPLES]);
    assert_eq!(again["new"], 0);
    assert_eq!(again["updated"], 14);
    env.cmd(&["import", SAMPLES])
        .assert()
        .success()
        .stdout(predicate::str::contains("0 new, 14 updated, 0 suppressed"));
}

#[test]
fn import_json_lines_and_stdin() {
    let env = Env::new();
    let lines: Vec<String> = sample_values().iter().map(Value::to_string).collect();
    let jsonl = env.file("a.jsonl", &(lines[..3].join("\n") + "\n"));
    let r = env.json(&["import", p(&jsonl)]);
    assert_eq!(r["new"], 3);

    let r: Value = serde_json::from_slice(
        &env.cmd(&["import", "--json", "-"])
            .write_stdin(lines[3..].join("\n"))
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    assert_eq!(r["new"], 11);
    let all = env.json(&[
        "list",
        "--status",
        "active",
        "--status",
        "in-progress",
        "--status",
        "resolved",
        "--status",
        "dismissed",
    ]);
    assert_eq!(all.as_array().unwrap().len(), 14);
}

#[test]
fn malformed_file_imports_nothing_and_names_the_file() {
    let env = Env::new();
    let mut values = sample_values();
    values[2]["properties"]["severity"] = Value::from("Hgh");
    let bad = env.file("bad.json", &Value::Array(values.clone()).to_string());
    env.cmd(&["import", p(&bad)])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bad.json"))
        .stdout(predicate::str::contains("[2].properties.severity"));
    assert_eq!(env.json(&["list"]), Value::Array(vec![]));

    // JSON lines: the error names the line.
    let lines: Vec<String> = values.iter().map(Value::to_string).collect();
    let bad = env.file("bad.jsonl", &lines.join("\n"));
    env.cmd(&["import", p(&bad)])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("bad.jsonl: error: line 3"));
    assert_eq!(env.json(&["list"]), Value::Array(vec![]));

    // Not JSON at all.
    let bad = env.file("trunc.json", "{\"value\": [");
    env.cmd(&["import", p(&bad)]).assert().code(1).stdout(
        predicate::str::contains("trunc.json").and(predicate::str::contains("invalid JSON")),
    );
    env.cmd(&["import", "missing.json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing.json"));
    assert_eq!(env.json(&["list"]), Value::Array(vec![]));
}

#[test]
fn vigil_db_env_is_the_default_database() {
    let env = Env::new();
    let db = env.dir.path().join("from-env.db");
    Command::cargo_bin("vigil")
        .unwrap()
        .current_dir(env.dir.path())
        .env("VIGIL_DB", &db)
        .args(["import", SAMPLES])
        .assert()
        .success();
    assert!(db.exists());
    assert!(!env.dir.path().join("vigil.db").exists());
}

// ------------------------------------------------------------------ list

#[test]
fn list_json_shows_open_alerts_and_filters() {
    let env = Env::with_samples();
    let all = env.json(&["list"]);
    let all_ids = ids(&all);
    assert_eq!(all_ids.len(), 11, "the open alerts: Active and InProgress");
    assert!(!all_ids.contains(&DISMISSED_ID.to_owned()));
    for a in all.as_array().unwrap() {
        let s = a["properties"]["status"].as_str().unwrap();
        assert!(s == "Active" || s == "InProgress", "{s}");
    }
    assert_eq!(ids(&env.json(&["list", "--status", "all"])).len(), 14);
    assert_eq!(ids(&env.json(&["list", "--status", "resolved"])).len(), 2);
    assert_eq!(all[0]["properties"]["severity"], "High");

    let high = env.json(&[
        "list",
        "--status",
        "active",
        "--status",
        "in-progress",
        "--status",
        "resolved",
        "--severity",
        "high",
    ]);
    assert_eq!(high.as_array().unwrap().len(), 5);
    let med_up = env.json(&[
        "list",
        "--status",
        "active",
        "--status",
        "in-progress",
        "--status",
        "resolved",
        "--severity",
        "medium+",
    ]);
    assert_eq!(med_up.as_array().unwrap().len(), 9);
    let dismissed = env.json(&["list", "--status", "dismissed"]);
    assert_eq!(ids(&dismissed), vec![DISMISSED_ID.to_owned()]);
    let eicar = env.json(&[
        "list",
        "--status",
        "active",
        "--status",
        "in-progress",
        "--status",
        "resolved",
        "--type",
        "VM_EICAR",
    ]);
    assert_eq!(eicar.as_array().unwrap().len(), 2);
    let limited = env.json(&[
        "list",
        "--status",
        "active",
        "--status",
        "in-progress",
        "--status",
        "resolved",
        "--limit",
        "3",
        "--sort",
        "time",
    ]);
    assert_eq!(limited.as_array().unwrap().len(), 3);
    let host = env.json(&[
        "list",
        "--status",
        "active",
        "--status",
        "in-progress",
        "--status",
        "resolved",
        "--entity",
        "web-01",
    ]);
    assert!(ids(&host).contains(&PS_ID.to_owned()));
    let intent = env.json(&[
        "list",
        "--status",
        "active",
        "--status",
        "in-progress",
        "--status",
        "resolved",
        "--intent",
        "PreAttack",
    ]);
    assert_eq!(intent.as_array().unwrap().len(), 1);
    let since = env.json(&[
        "list",
        "--status",
        "active",
        "--status",
        "in-progress",
        "--status",
        "resolved",
        "--since",
        "2026-11-23T00:00:00Z",
    ]);
    assert_eq!(since.as_array().unwrap().len(), 3);
    let rg = env.json(&[
        "list",
        "--status",
        "all",
        "--resource",
        "/subscriptions/4c5f1a2e-6b9d-4e8f-a1c3-2d7e9b0f5a61/resourceGroups/prod-web",
    ]);
    assert!(ids(&rg).contains(&PS_ID.to_owned()));
}

#[test]
fn list_pages_with_cursors() {
    let env = Env::with_samples();
    let ten = ids(&env.json(&["list", "--limit", "10", "--sort", "priority"]));
    let first = env
        .cmd(&["list", "--limit", "4", "--sort", "priority", "--json"])
        .assert()
        .success();
    let out = first.get_output();
    let page1 = ids(&serde_json::from_slice(&out.stdout).unwrap());
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let cursor = stderr
        .trim()
        .strip_prefix("next page: --cursor ")
        .expect("a next-page cursor on stderr")
        .to_owned();
    let page2 = ids(&env.json(&[
        "list", "--limit", "6", "--sort", "priority", "--cursor", &cursor,
    ]));
    let joined: Vec<String> = page1.into_iter().chain(page2).collect();
    assert_eq!(joined, ten);
    // The table prints the cursor too, and a bad cursor is a clear error.
    env.cmd(&["list", "--limit", "4"])
        .assert()
        .success()
        .stdout(predicates::str::contains("next page: --cursor "));
    env.cmd(&["list", "--cursor", "nonsense"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("invalid cursor"));
}

#[test]
fn list_table_has_columns_counts_and_no_colour_off_terminal() {
    let env = Env::with_samples();
    let out = env.cmd(&["list"]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(!text.contains('\x1b'), "no ANSI escapes off a terminal");
    assert!(text.contains("11 alerts (High 4, Medium 4, Low 2, Informational 1)"));
    for col in [
        "SEVERITY",
        "TIME",
        "TYPE",
        "DISPLAY NAME",
        "RESOURCE",
        "STATUS",
        "INTENT",
    ] {
        assert!(text.contains(col), "missing column {col}");
    }
    assert!(text.contains("Suspicious PowerShell command line"));
    assert!(text.contains("VM_SuspiciousPowerShellCommandLine"));
    assert!(text.contains("web-01"));
    assert!(!text.contains("DNS_ThreatIntelSuspectDomain"));

    env.cmd(&["list", "--no-color"])
        .env("NO_COLOR", "1")
        .assert()
        .success()
        .stdout(predicate::str::contains("\x1b").not());
}

#[test]
fn bad_flags_are_usage_errors() {
    let env = Env::with_samples();
    env.cmd(&["list", "--bogus"]).assert().code(2);
    env.cmd(&["list", "--status", "open"]).assert().code(2);
    env.cmd(&["list", "--sort", "random"]).assert().code(2);
    env.cmd(&["list", "--since", "yesterday"]).assert().code(2);
    env.cmd(&["status", PS_ID, "closed"]).assert().code(2);
    env.cmd(&["frobnicate"]).assert().code(2);
    env.cmd(&["list", "--severity", "urgent"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--severity"));
}

// ------------------------------------------------------------------ show

#[test]
fn show_prints_the_investigation_view() {
    let env = Env::with_samples();
    let json = env.json(&["show", PS_ID]);
    assert_eq!(json["properties"]["systemAlertId"], PS_ID);
    assert_eq!(json["properties"]["severity"], "High");

    let out = env.cmd(&["show", PS_ID]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for needle in [
        "Suspicious PowerShell command line",
        "High",
        "Active",
        "2026-11-20 05:15:00 UTC – 2026-11-20 05:55:00 UTC",
        "web-01",
        "svc-deploy",
        "TA0002 Execution",
        "T1059.001 Command and Scripting Interpreter: PowerShell",
        "Remediation",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(!text.contains('\x1b'));

    env.cmd(&["show", "no-such-alert"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no-such-alert"));
}

#[test]
fn show_finds_an_alert_by_name() {
    let env = Env::new();
    let mut values = sample_values();
    values.truncate(1);
    values[0]["name"] = Value::from("my-alert-name");
    let f = env.file("named.json", &Value::Array(values).to_string());
    env.cmd(&["import", p(&f)]).assert().success();
    let json = env.json(&["show", "my-alert-name"]);
    assert_eq!(json["properties"]["systemAlertId"], PS_ID);
}

// ------------------------------------------------------------------ status, feedback

#[test]
fn status_changes_follow_the_lifecycle() {
    let env = Env::with_samples();
    let json = env.json(&["status", PS_ID, "in-progress", "--comment", "looking"]);
    assert_eq!(json["properties"]["status"], "InProgress");
    // InProgress → Active is illegal.
    env.cmd(&["status", PS_ID, "active"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("InProgress"));
    env.cmd(&["status", PS_ID, "resolved", "--actor", "alice"])
        .assert()
        .success()
        .stdout(predicate::str::contains("InProgress → Resolved"));
    env.cmd(&["status", "no-such-alert", "resolved"])
        .assert()
        .code(1);
    let text = String::from_utf8(
        env.cmd(&["show", PS_ID])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    )
    .unwrap();
    assert!(
        text.contains("Active → InProgress  by tester: looking"),
        "{text}"
    );
    assert!(text.contains("InProgress → Resolved  by alice"), "{text}");
}

#[test]
fn bulk_status_dismisses_exactly_the_selected_alerts() {
    let env = Env::with_samples();
    const INFO_ACTIVE: &str = "2517000000000063352_907a70c3-1012-f037-b64c-e4228c38fb29";
    const INFO_RESOLVED: &str = "2517000000000095028_9be4bcfc-49b6-4a08-72e6-cc3ababced20";
    let out = env
        .cmd(&[
            "status",
            "--all",
            "dismissed",
            "--severity",
            "informational",
            "--comment",
            "noise",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(&format!("{INFO_ACTIVE}: ok")), "{text}");
    assert!(
        text.contains(&format!("{INFO_RESOLVED}: not changed")),
        "{text}"
    );
    assert!(text.contains("1 changed, 1 not changed"), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");

    // Exactly the Informational alerts were touched: the Active one is now Dismissed, every
    // other alert kept its status.
    let all: Vec<Value> = sample_values();
    let shown = env.json(&["list", "--status", "dismissed"]);
    let mut dismissed = ids(&shown);
    dismissed.sort();
    let mut expected = vec![INFO_ACTIVE.to_owned(), DISMISSED_ID.to_owned()];
    expected.sort();
    assert_eq!(dismissed, expected);
    assert_eq!(all.len(), 14);
    assert!(
        String::from_utf8(
            env.cmd(&["show", INFO_ACTIVE])
                .assert()
                .success()
                .get_output()
                .stdout
                .clone()
        )
        .unwrap()
        .contains("Active → Dismissed  by tester: noise")
    );

    // Again: both are now reported as not changed, in JSON.
    let json = env.json(&[
        "status",
        "--all",
        "dismissed",
        "--severity",
        "informational",
    ]);
    let arr = json.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    for o in arr {
        assert_eq!(o["ok"], false, "{o}");
        assert!(o["error"].as_str().unwrap().contains("Dismissed"), "{o}");
        assert!(o.get("version").is_none());
    }

    // An id together with --all is a usage error.
    env.cmd(&["status", PS_ID, "--all", "dismissed"])
        .assert()
        .code(2);
    env.cmd(&["status", PS_ID, "dismissed", "--severity", "high"])
        .assert()
        .code(2);
    env.cmd(&["status", "--all"]).assert().code(2);
}

#[test]
fn feedback_is_recorded_and_shown() {
    let env = Env::with_samples();
    let json = env.json(&[
        "feedback",
        PS_ID,
        "not-useful",
        "--reason",
        "benign-positive",
        "--comment",
        "deploy",
    ]);
    assert_eq!(json["useful"], false);
    assert_eq!(json["reason"], "BenignPositive");
    env.cmd(&["show", PS_ID])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "not useful (BenignPositive) by tester: deploy",
        ));
    env.cmd(&["feedback", "nope", "useful", "--reason", "TruePositive"])
        .assert()
        .code(1);
    env.cmd(&["feedback", PS_ID, "maybe", "--reason", "x"])
        .assert()
        .code(2);
}

// ------------------------------------------------------------------ rules, suppress

#[test]
fn rules_add_list_show_explain_disable_delete() {
    let env = Env::with_samples();
    let rule = env.rule_file();
    let created = env.json(&["rules", "add", p(&rule)]);
    assert_eq!(created["files"][0]["created"][0], "dismissIpAnomalyAlerts");
    env.cmd(&["rules", "add", p(&rule)]).assert().code(1);

    let list = env.json(&["rules", "list"]);
    assert_eq!(list["rules"][0]["name"], "dismissIpAnomalyAlerts");
    assert_eq!(list["rules"][0]["state"], "Expired");
    assert_eq!(list["rules"][0]["hitCount"], 0);
    env.cmd(&["rules", "list"]).assert().success().stdout(
        predicate::str::contains("dismissIpAnomalyAlerts")
            .and(predicate::str::contains("IpAnomaly")),
    );

    let shown = env.json(&["rules", "show", "dismissIpAnomalyAlerts"]);
    assert_eq!(shown["name"], "dismissIpAnomalyAlerts");
    assert_eq!(shown["properties"]["alertType"], "IpAnomaly");

    let why = env.json(&["rules", "explain", "dismissIpAnomalyAlerts", PS_ID]);
    assert_eq!(why["matched"], false);
    env.cmd(&["rules", "explain", "dismissIpAnomalyAlerts", PS_ID])
        .assert()
        .success()
        .stdout(predicate::str::contains("does not match"));

    let sim = env.json(&["rules", "simulate", p(&rule)]);
    assert_eq!(sim[0]["total"], 0);

    env.cmd(&["rules", "disable", "dismissIpAnomalyAlerts"])
        .assert()
        .success();
    let shown = env.json(&["rules", "show", "dismissIpAnomalyAlerts"]);
    assert_eq!(shown["properties"]["state"], "Disabled");
    env.cmd(&["rules", "delete", "dismissIpAnomalyAlerts"])
        .assert()
        .success();
    env.cmd(&["rules", "show", "dismissIpAnomalyAlerts"])
        .assert()
        .code(1);
    env.cmd(&["rules", "delete", "dismissIpAnomalyAlerts"])
        .assert()
        .code(1);
}

#[test]
fn rules_add_rejects_a_bad_file_whole() {
    let env = Env::with_samples();
    let bad = env.file(
        "bad-rules.json",
        r#"[{"name": "ok", "properties": {"alertType": "VM_EICAR", "reason": "Noise", "state": "Enabled",
              "suppressionAlertsScope": {"allOf": [{"field": "entities.host.hostname", "equals": "x"}]}}},
            {"name": "bad", "properties": {"alertType": "VM_EICAR", "reason": "Noise", "state": "Enabled",
              "suppressionAlertsScope": {"allOf": [{"field": "no.such.field", "equals": "x"}]}}}]"#,
    );
    env.cmd(&["rules", "add", p(&bad)])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bad-rules.json"))
        .stdout(predicate::str::contains("no.such.field"));
    assert_eq!(env.json(&["rules", "list"])["rules"], Value::Array(vec![]));
}

#[test]
fn suppress_similar_alerts_and_apply_to_existing() {
    let env = Env::with_samples();
    let out = env.json(&[
        "suppress",
        PS_ID,
        "--field",
        "entities.host.hostname",
        "--name",
        "web-01-ps",
        "--apply-existing",
    ]);
    assert_eq!(out["rule"]["name"], "web-01-ps");
    assert_eq!(out["dismissed"][0], PS_ID);
    let shown = env.json(&["show", PS_ID]);
    assert_eq!(shown["properties"]["status"], "Dismissed");
    env.cmd(&["show", PS_ID])
        .assert()
        .success()
        .stdout(predicate::str::contains("rule \"web-01-ps\""));

    // A repeat of the alert is suppressed on import.
    let mut values = sample_values();
    values.truncate(1);
    values[0]["properties"]["systemAlertId"] = Value::from("repeat-1");
    values[0]["name"] = Value::from("repeat-1");
    let f = env.file("repeat.json", &Value::Array(values).to_string());
    let r = env.json(&["import", p(&f)]);
    assert_eq!(r["suppressed"], 1);
    // apply_rule and the suppression on import both count as hits.
    assert_eq!(env.json(&["rules", "list"])["rules"][0]["hitCount"], 2);

    env.cmd(&["suppress", PS_ID, "--field", "entities.nosuch.value"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("entities.nosuch.value"));
}

// ------------------------------------------------------------------ export, demo

#[test]
fn export_writes_every_status_as_json_lines() {
    let env = Env::with_samples();
    let out = env.cmd(&["export", "--format", "jsonl"]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 14);

    // Round trip into a fresh database.
    let other = Env::new();
    let f = other.file("export.jsonl", &text);
    assert_eq!(other.json(&["import", p(&f)])["new"], 14);

    let high = env
        .cmd(&["export", "--severity", "high"])
        .assert()
        .success();
    assert_eq!(
        String::from_utf8_lossy(&high.get_output().stdout)
            .lines()
            .count(),
        5
    );
    env.cmd(&["export", "--format", "csv"]).assert().code(2);
}

#[test]
fn demo_loads_rules_then_alerts_and_can_be_rerun() {
    let env = Env::new();
    let out = env.cmd(&["demo"]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("7 created"), "{text}");
    assert!(text.contains("300 new"), "{text}");
    assert!(text.contains("14 new"), "{text}");
    assert!(text.contains("SEVERITY"), "{text}");
    assert!(
        text.contains("shadow-copy-rotation-test-qa (Noise"),
        "{text}"
    );
    // Suppression happened on ingest: a non-zero count in the summary line.
    let line = text
        .lines()
        .find(|l| l.starts_with("Suppressed by the demo rules: "))
        .unwrap();
    let n: usize = line["Suppressed by the demo rules: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n > 0, "{line}");

    // Again on the same database: rules kept, alerts updated, the same suppressions reported.
    let json = env.json(&["demo"]);
    assert_eq!(json["rules"]["created"].as_array().unwrap().len(), 0);
    assert_eq!(json["rules"]["kept"].as_array().unwrap().len(), 7);
    assert_eq!(json["new"], 0);
    assert_eq!(json["updated"], 314);
    let by_rule: u64 = json["suppressedByRule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["dismissed"].as_u64().unwrap())
        .sum();
    assert_eq!(by_rule, n as u64);
    assert_eq!(json["queue"].as_array().unwrap().len(), 20);
    let dismissed = env.json(&["list", "--status", "dismissed", "--limit", "1000"]);
    // The suppressed alerts plus the one sample that arrives Dismissed.
    assert_eq!(dismissed.as_array().unwrap().len(), n + 1);
}

#[test]
fn tenants_are_separate() {
    let env = Env::with_samples();
    let other = env.json(&["list", "--tenant", "other"]);
    assert_eq!(other, Value::Array(vec![]));
    env.cmd(&["show", PS_ID, "--tenant", "other"])
        .assert()
        .code(1);
    assert_eq!(
        env.json(&["list", "--tenant", "default", "--status", "all"])
            .as_array()
            .unwrap()
            .len(),
        14
    );
}

#[test]
fn large_json_lines_import_has_no_progress_bar_off_terminal() {
    let env = Env::new();
    let mut text = String::new();
    for a in vigil_testkit::generate::AlertGenerator::new(7).alerts(50_000) {
        text.push_str(&serde_json::to_string(&a).unwrap());
        text.push('\n');
    }
    let file = env.file("big.jsonl", &text);
    let started = std::time::Instant::now();
    let out = env.cmd(&["import", p(&file)]).assert().success();
    eprintln!("50,000-alert import took {:?}", started.elapsed());
    let (stdout, stderr) = (&out.get_output().stdout, &out.get_output().stderr);
    assert!(!stdout.contains(&0x1b), "escape codes on stdout");
    assert!(!stderr.contains(&0x1b), "escape codes on stderr");
    let stdout = String::from_utf8(stdout.clone()).unwrap();
    assert!(stdout.contains("50000 new"), "{stdout}");
    let top = env.json(&["list", "--limit", "1"]);
    assert_eq!(top.as_array().unwrap().len(), 1);
}

// ------------------------------------------------------------------ what each command says

#[test]
fn list_flags_are_checked_and_quote_what_was_typed() {
    let env = Env::with_samples();
    env.cmd(&["list", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "open alerts (Active and InProgress)",
        ));
    env.cmd(&["list", "--limit", "0"]).assert().code(2);
    env.cmd(&["list", "--intent", "bogus"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("'bogus'").and(predicate::str::contains("Execution")));
    env.cmd(&["list", "--severity", "medium++"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("'medium++'"));
    let exec = env.json(&["list", "--intent", "execution", "--status", "all"]);
    assert!(!exec.as_array().unwrap().is_empty());
}

#[test]
fn every_import_file_is_read_and_reported() {
    let env = Env::new();
    let values = sample_values();
    let good1 = env.file(
        "good1.json",
        &Value::Array(values[..3].to_vec()).to_string(),
    );
    let bad = env.file("bad.json", "{\"value\": [");
    // The second good file starts with a byte-order mark, as Windows tools write.
    let good2 = env.file(
        "good2.json",
        &format!("\u{feff}{}", Value::Array(values[3..].to_vec())),
    );
    let out = env
        .cmd(&["--json", "import", p(&good1), p(&bad), p(&good2)])
        .assert()
        .code(1);
    let report: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "one entry per file: {report}");
    assert_eq!(files[0]["new"], 3);
    assert!(files[1]["error"].as_str().unwrap().contains("invalid JSON"));
    assert_eq!(files[2]["new"], 11);
    assert_eq!(report["failed"], 1);
    assert_eq!(report["new"], 14);
    let all = env.json(&["list", "--status", "all"]);
    assert_eq!(all.as_array().unwrap().len(), 14, "good2 was imported");

    // The table says the same.
    env.cmd(&["import", p(&bad), p(&good1)])
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("bad.json: error:")
                .and(predicate::str::contains("good1.json: 0 new, 3 updated")),
        );
}

#[test]
fn microsoft_s_list_example_imports_two_alerts() {
    let env = Env::new();
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/defender/2022-01-01_GetAlertsSubscription_example.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let file = env.file("list.json", &doc["responses"]["200"]["body"].to_string());
    let report = env.json(&["import", p(&file)]);
    assert_eq!(report["new"], 2);
    let listed = env.json(&["list", "--status", "all"]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    env.cmd(&[
        "show",
        "2518765996949954086_2325cf9e-42a2-4f72-ae7f-9b863cba2d22",
    ])
    .assert()
    .success()
    .stdout(predicate::str::contains("VM_SuspiciousScreenSaver"));
}

#[test]
fn rules_add_prints_lints_at_once_and_needs_force_for_everything() {
    let env = Env::with_samples();
    let rule = |name: &str, t: &str, scope: &str| {
        format!(
            r#"{{"name": "{name}", "properties": {{"alertType": "{t}", "reason": "Noise", "state": "Enabled",
                "expirationDateUtc": "2099-01-01T00:00:00Z"{scope}}}}}"#
        )
    };
    let everything = env.file("all.json", &rule("all", "*", ""));
    env.cmd(&["rules", "add", p(&everything)])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("every alert of every type"))
        .stdout(predicate::str::contains("--force"));
    assert_eq!(env.json(&["rules", "list"])["rules"], Value::Array(vec![]));
    let forced = env.json(&["rules", "add", "--force", p(&everything)]);
    let warnings = forced["files"][0]["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("suppresses every alert")),
        "{forced}"
    );

    let wide = env.file(
        "wide.json",
        &rule(
            "wide",
            "VM_EICAR",
            r#", "suppressionAlertsScope": {"allOf": [{"field": "entities.ip.address", "cidr": "0.0.0.0/0"}]}"#,
        ),
    );
    let good = env.file(
        "good.json",
        &rule(
            "good",
            "VM_EICAR",
            r#", "suppressionAlertsScope": {"allOf": [{"field": "entities.host.hostname", "equals": "vm9"}]}"#,
        ),
    );
    let typo = env.file(
        "typo.json",
        &rule(
            "typo",
            "VM_EICAR",
            r#", "suppressionAlertsScope": {"allOf": [{"field": "entities.hots.hostname", "equals": "vm9"}]}"#,
        ),
    );
    env.cmd(&["rules", "add", p(&wide), p(&typo), p(&good)])
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("wide.json: created rule \"wide\"")
                .and(predicate::str::contains("wide.json: warning:"))
                .and(predicate::str::contains("matches every address"))
                .and(predicate::str::contains(
                    "did you mean \"entities.host.hostname\"",
                ))
                .and(predicate::str::contains("good.json: created rule \"good\"")),
        );
    let names: Vec<String> = env.json(&["rules", "list"])["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["all", "wide", "good"]);
}

#[test]
fn export_follow_writes_new_and_changed_alerts_once_from_a_durable_checkpoint() {
    let env = Env::with_samples();
    let follow = |env: &Env| -> Vec<Value> {
        let out = env
            .cmd(&["export", "--follow", "--once", "--checkpoint", "siem"])
            .assert()
            .success();
        String::from_utf8(out.get_output().stdout.clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let first = follow(&env);
    assert_eq!(first.len(), 14, "every imported alert, once");
    assert!(
        follow(&env).is_empty(),
        "the checkpoint was saved: nothing new"
    );
    env.cmd(&["status", PS_ID, "in-progress"])
        .assert()
        .success();
    let changed = follow(&env);
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["properties"]["status"], "InProgress");
    // Another consumer has its own checkpoint; the filters choose what is written.
    let out = env
        .cmd(&[
            "export",
            "--follow",
            "--once",
            "--checkpoint",
            "high-only",
            "--severity",
            "high",
        ])
        .assert()
        .success();
    let high = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert_eq!(high.lines().count(), 5);
    // Without --follow, --once is a usage error.
    env.cmd(&["export", "--once"]).assert().code(2);
}
