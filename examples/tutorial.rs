//! The triage workflow end to end, on the in-memory store: ingest the sample alerts, triage,
//! investigate one, suppress similar alerts, dismiss, give feedback.
//!
//! Run with `cargo run --example tutorial`.

use std::error::Error;

use vigil::chrono::{DateTime, Utc};
use vigil::store::{
    AlertQuery, Feedback, FeedbackQuery, FeedbackReason, MemoryStore, StatusChange, Store, TenantId,
};
use vigil::suppression::{SuppressionReason, similar_rule};
use vigil::{AlertId, Status, defender};

const SAMPLES: &str = include_str!("../fixtures/alerts/sample-alerts.json");

fn main() -> Result<(), Box<dyn Error>> {
    let store = MemoryStore::default();
    let tenant = TenantId::new("4c5f1a2e-6b9d-4e8f-a1c3-2d7e9b0f5a61")?;
    let now: DateTime<Utc> = "2026-11-24T09:00:00Z".parse()?;

    // 1. Ingest.
    let alerts = defender::parse_alerts(SAMPLES)?;
    let report = store.ingest(&tenant, &alerts, now)?;
    println!(
        "ingested: {} new, {} updated, {} suppressed",
        report.new, report.updated, report.suppressed
    );

    // 2. Triage: the queue of open alerts, most severe and most recent first.
    let counts = store.counts(&tenant, &AlertQuery::default())?;
    let header: Vec<String> = counts
        .by_severity
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    println!("\nqueue ({})", header.join(", "));
    let page = store.query(&tenant, &AlertQuery::default().limit(5))?;
    for s in &page.alerts {
        let a = &s.alert;
        println!(
            "  {:<13} {:<11} {}",
            a.severity().as_str(),
            a.status().as_str(),
            a.display_name()
        );
    }

    // 3. Investigate the PowerShell alert.
    let q = AlertQuery::default().text("PowerShell");
    let target = store
        .query(&tenant, &q)?
        .alerts
        .into_iter()
        .next()
        .ok_or("no PowerShell alert")?;
    let a = &target.alert;
    println!(
        "\ninvestigating {} — {}",
        a.system_alert_id(),
        a.display_name()
    );
    println!("  description: {}", a.description().unwrap_or("-"));
    for e in a.entities() {
        println!(
            "  entity {:<8} {}",
            e.kind().type_name(),
            e.display_value().unwrap_or("-")
        );
    }
    for r in store.related(&tenant, a.system_alert_id(), 5)? {
        println!(
            "  related: {} ({:?})",
            r.alert.alert.display_name(),
            r.relations
        );
    }

    // 4. Suppress similar alerts: same type on the same host, for the deployment account.
    let rule = similar_rule(
        a,
        "deploy-powershell-web-01",
        SuppressionReason::SpecificEntityFalsePositive,
        &["entities.host.hostname", "entities.account.name"],
    )?;
    let sim = store.simulate(&tenant, &rule, now, 5)?;
    println!(
        "\nrule {:?} would suppress {} stored alert(s)",
        rule.name(),
        sim.total()
    );
    store.create_rule(&tenant, rule, now)?;
    let dismissed = store.apply_rule(&tenant, "deploy-powershell-web-01", "alice", now)?;
    println!("applied to existing alerts: {} dismissed", dismissed.len());

    // A new alert of the same kind is now dismissed on arrival.
    let again = a.with_id(AlertId::new("repeat-1")?);
    let report = store.ingest(&tenant, &[again], now)?;
    println!("a repeat of it arrives: {} suppressed", report.suppressed);

    // 5. Dismiss another alert by hand, with the expected version.
    let q = AlertQuery::default().text("heartbeat").all_statuses();
    if let Some(hb) = store
        .query(&tenant, &q)?
        .alerts
        .into_iter()
        .find(|s| s.alert.status() == Status::Resolved)
    {
        let id = hb.alert.system_alert_id().clone();
        let reopened = store.change_status(
            &tenant,
            &id,
            hb.version,
            StatusChange::new(Status::Active, "bob"),
            now,
        )?;
        let change = StatusChange::new(Status::Dismissed, "bob").comment("agent restarted");
        store.change_status(&tenant, &id, reopened.version, change, now)?;
        for h in store.history(&tenant, &id)? {
            println!(
                "\naudit: {} {} → {} by {} ({})",
                h.at,
                h.from,
                h.to,
                h.actor,
                h.comment.as_deref().unwrap_or("")
            );
        }
    }

    // 6. Feedback.
    store.add_feedback(
        &tenant,
        a.system_alert_id(),
        Feedback {
            useful: false,
            reason: FeedbackReason::BenignPositive,
            comment: Some("deployment script".into()),
            actor: "alice".into(),
            at: now,
        },
    )?;
    let fb = store.list_feedback(&tenant, &FeedbackQuery::default())?;
    println!("\nfeedback recorded: {}", fb.len());
    Ok(())
}
