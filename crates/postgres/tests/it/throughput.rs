//! A rough ingest rate, printed (run it with `--ignored --nocapture` in release); the
//! benchmarks proper belong with the store benchmarks.

use std::time::Instant;

use vigil_core::store::{Store, TenantId};
use vigil_testkit::generate::{AlertGenerator, RuleGenerator, reference_time};

use crate::support::TempStore;

#[test]
#[ignore = "a measurement, not a check: run with --ignored --nocapture, in release"]
fn ingest_rate() {
    let temp = TempStore::new();
    let t = TenantId::new("rate").unwrap();
    for spec in RuleGenerator::new(3).rules(1_000) {
        temp.store()
            .create_rule(&t, spec.to_rule().unwrap(), reference_time())
            .unwrap();
    }
    let alerts = AlertGenerator::new(5).alerts(20_000);
    let start = Instant::now();
    for chunk in alerts.chunks(1_000) {
        temp.store().ingest(&t, chunk, reference_time()).unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "ingested {} alerts in {secs:.2}s: {:.0} alerts/s",
        alerts.len(),
        alerts.len() as f64 / secs
    );
}
