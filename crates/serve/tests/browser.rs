//! The triage page in headless Chromium, step by step as the seed walks through it, with a
//! screenshot of each step under `target/serve-test/browser/`; then the library's view of what
//! the browser did. An alert whose content is hostile markup runs no script in the page.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::process::Command;

use chrono::{TimeZone, Utc};
use common::*;
use vigil_core::store::{FeedbackQuery, TenantId};
use vigil_core::suppression::{SuppressionReason, similar_rule};
use vigil_core::{Alert, AlertId, Entity, ExtendedLink, Severity, Status};

fn hostile() -> Alert {
    Alert::builder(
        AlertId::new("hostile-1").unwrap(),
        "VM_Hostile",
        "<script>window.__xss=1</script>Evil",
        Severity::High,
        Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap(),
    )
    .description(r#""><img src=x onerror="window.__xss=2">"#)
    .entity(Entity::host("<svg onload=window.__xss=3>"))
    .entity(Entity::process(
        r#"powershell -c "<script>window.__xss=4</script>""#,
    ))
    .entity(Entity::file("'><iframe src=//evil.example>"))
    .extended_property("<b>key</b>", r#"</dd><script>window.__xss=5</script>"#)
    .extended_link(ExtendedLink::new(
        "javascript:window.__xss=6",
        "<i>click</i>",
    ))
    .remediation_step("<iframe src=//evil.example></iframe>")
    .build()
}

#[test]
fn the_page_walks_the_seed_in_chromium_and_runs_no_hostile_script() {
    let python = python();
    let (store, _dir) = sqlite_store();
    load(store.as_ref(), SUB, 30);
    let tenant = TenantId::new(SUB).unwrap();
    // Two more alerts on the walked-through alert's host, so the simulation counts three.
    let walked = common::alert(SUB, 0);
    let mut extra = Vec::new();
    for k in 0..2 {
        extra.push(
            Alert::builder(
                AlertId::new(format!("copy-{k}")).unwrap(),
                walked.alert_type(),
                format!("Test file found on vm-000 ({k})"),
                Severity::Low,
                Utc.with_ymd_and_hms(2026, 9, 1, 0, k, 0).unwrap(),
            )
            .entity(Entity::host("vm-000"))
            .build(),
        );
    }
    extra.push(hostile());
    store.ingest(&tenant, &extra, Utc::now()).unwrap();
    let rule = similar_rule(
        &walked,
        "x",
        SuppressionReason::FalsePositive,
        &["entities.host.hostname"],
    )
    .unwrap();
    let simulated = store
        .simulate(&tenant, &rule, Utc::now(), 1)
        .unwrap()
        .total();
    assert_eq!(simulated, 3);

    let server = local_server(store.clone());
    let shots = artifacts("browser");
    for old in std::fs::read_dir(&shots).unwrap() {
        std::fs::remove_file(old.unwrap().path()).unwrap();
    }
    let output = Command::new(&python)
        .arg(workspace().join("crates/serve/tests/browser.py"))
        .env("VIGIL_URL", format!("http://{}", server.addr()))
        .env("VIGIL_SUB", SUB)
        .env("VIGIL_TITLE", walked.display_name())
        .env("VIGIL_HOST", "vm-000")
        .env("VIGIL_SIMULATED", simulated.to_string())
        .env("VIGIL_HOSTILE", "hostile-1")
        .env("VIGIL_SHOTS", &shots)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the browser test failed (screenshots in {}):\n{}\n{}",
        shots.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let taken = std::fs::read_dir(&shots).unwrap().count();
    assert_eq!(taken, 11, "a screenshot per step");

    // The library saw every step.
    let id = walked.id().clone();
    let now = store.get(&tenant, &id).unwrap().unwrap();
    assert_eq!(now.alert.status(), Status::Dismissed);
    let trail = store.history(&tenant, &id).unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(
        (trail[0].actor.as_str(), trail[0].comment.as_deref()),
        ("local", Some("benign: test machine"))
    );
    let feedback = store
        .list_feedback(
            &tenant,
            &FeedbackQuery {
                alert: Some(id),
                ..FeedbackQuery::default()
            },
        )
        .unwrap();
    assert_eq!(feedback.len(), 1);
    assert!(!feedback[0].1.useful);
    assert_eq!(feedback[0].1.reason.as_str(), "FalsePositive");
    let rule = store.get_rule(&tenant, "browser-vm-000").unwrap().unwrap();
    assert_eq!(rule.rule.alert_type(), walked.alert_type());
}
