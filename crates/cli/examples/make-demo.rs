//! Regenerates `fixtures/demo/alerts.jsonl`, the alerts `vigil demo` imports: 300 alerts from
//! the seeded test generator (several subscriptions), one 2022-01-01 resource per line.
//!
//! ```text
//! cargo run -p vigil-cli --example make-demo [-- OUT]
//! ```
//!
//! The output is deterministic: the same seed always writes the same file. After regenerating,
//! check that the hand-written rules in `fixtures/demo/rules.json` still match some alerts
//! (`vigil demo` prints how many each rule dismissed).

use std::error::Error;
use std::io::Write;
use std::path::PathBuf;

use vigil_testkit::generate::AlertGenerator;

/// The generator's seed.
const SEED: u64 = 2026;
/// How many alerts.
const COUNT: usize = 300;

fn main() -> Result<(), Box<dyn Error>> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo/alerts.jsonl")
        });
    let mut text = Vec::new();
    for alert in AlertGenerator::new(SEED).alerts(COUNT) {
        serde_json::to_writer(&mut text, &alert)?;
        text.push(b'\n');
    }
    std::fs::File::create(&out)?.write_all(&text)?;
    eprintln!("wrote {COUNT} alerts to {}", out.display());
    Ok(())
}
