//! Loads the shipped sample alerts and prints the triage queue: most severe first, then most
//! recent, with Dismissed alerts hidden as the portal hides them.
//!
//! Run with `cargo run --example triage [FILE...]`; without arguments it reads
//! `fixtures/alerts/sample-alerts.json`.

use std::process::ExitCode;

use vigil::attack::Catalog;
use vigil::{Alert, Status, defender};

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/alerts/sample-alerts.json"
);

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let files = if files.is_empty() {
        vec![SAMPLES.to_owned()]
    } else {
        files
    };

    let mut alerts: Vec<Alert> = Vec::new();
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read {file}: {e}");
                return ExitCode::FAILURE;
            }
        };
        match defender::parse_alerts(&text) {
            Ok(mut a) => alerts.append(&mut a),
            Err(e) => {
                eprintln!("error: {file}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }

    let dismissed = alerts
        .iter()
        .filter(|a| a.status() == Status::Dismissed)
        .count();
    let mut queue: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.status() != Status::Dismissed)
        .collect();
    // Most severe first, then most recent first.
    queue.sort_by(|a, b| {
        b.severity()
            .cmp(&a.severity())
            .then(b.time_generated().cmp(&a.time_generated()))
    });

    println!(
        "{} alerts in the queue ({} dismissed, hidden)\n",
        queue.len(),
        dismissed
    );
    println!(
        "{:<13} {:<17} {:<11} {:<52} {:<14} TACTICS",
        "SEVERITY", "TIME (UTC)", "STATUS", "ALERT", "RESOURCE"
    );
    let catalog = Catalog::current();
    for a in queue {
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
    ExitCode::SUCCESS
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
