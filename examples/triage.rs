//! Vigil's main job on the embedded default: load the shipped sample alerts into a SQLite file
//! (created on first use, reused after) and print the triage queue — most severe first, then
//! most recent, open alerts only (Active and InProgress).
//!
//! Run with `cargo run --example triage [FILE...]`. Without arguments it imports
//! `fixtures/alerts/sample-alerts.json`. The database is `$VIGIL_DB`, else `vigil.db` in the
//! current directory; importing the same alerts again updates them without duplicating them.

use std::process::ExitCode;

use chrono::Utc;
use vigil::attack::Catalog;
use vigil::sqlite::SqliteStore;
use vigil::store::{AlertQuery, Store, TenantId};
use vigil::{Alert, defender};

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/alerts/sample-alerts.json"
);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let files = if files.is_empty() {
        vec![SAMPLES.to_owned()]
    } else {
        files
    };
    let db = std::env::var("VIGIL_DB").unwrap_or_else(|_| "vigil.db".to_owned());
    let store = SqliteStore::open(&db).map_err(|e| format!("cannot open {db}: {e}"))?;
    let tenant = TenantId::new("default")?;

    let mut alerts: Vec<Alert> = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        alerts.extend(defender::parse_alerts(&text).map_err(|e| format!("{file}: {e}"))?);
    }
    let report = store.ingest(&tenant, &alerts, Utc::now())?;
    println!(
        "{db}: {} new, {} updated, {} suppressed",
        report.new, report.updated, report.suppressed
    );

    let query = AlertQuery::default().limit(100);
    let counts = store.counts(&tenant, &query)?;
    let header: Vec<String> = counts
        .by_severity
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    let dismissed = store.counts(
        &tenant,
        &AlertQuery::default().statuses([vigil::Status::Dismissed]),
    )?;
    println!(
        "{} alerts in the queue ({}; {} dismissed, hidden)\n",
        counts.total(),
        header.join(", "),
        dismissed.total()
    );
    println!(
        "{:<13} {:<17} {:<11} {:<52} {:<14} TACTICS",
        "SEVERITY", "TIME (UTC)", "STATUS", "ALERT", "RESOURCE"
    );
    let catalog = Catalog::current();
    for stored in store.query(&tenant, &query)?.alerts {
        let a = &stored.alert;
        let tactics: Vec<&str> = a
            .intents()
            .iter()
            .flat_map(|i| i.nearest_tactics())
            .filter_map(|t| catalog.tactic(*t))
            .map(|t| t.name())
            .collect();
        let resource = a
            .compromised_entity()
            .or_else(|| a.azure_resource_id().and_then(|r| r.rsplit('/').next()))
            .unwrap_or("-");
        println!(
            "{:<13} {:<17} {:<11} {:<52} {:<14} {}",
            a.severity().as_str(),
            a.time_generated().format("%Y-%m-%d %H:%M"),
            a.status().as_str(),
            truncate(a.display_name(), 52),
            truncate(resource, 14),
            if tactics.is_empty() {
                "-".to_owned()
            } else {
                tactics.join(", ")
            },
        );
    }
    Ok(())
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(width - 1).collect();
        t.push('…');
        t
    }
}
