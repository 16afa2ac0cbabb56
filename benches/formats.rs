//! Exchange formats: export and import throughput, in alerts per second, of OCSF, CEF, ASFF and
//! Microsoft Graph next to Defender JSON, on the same 1,000 generated alerts.
//!
//! Group `export`: alerts → text (`defender` is `defender::to_list_json`, the others the format's
//! stream writer; CEF without syslog framing). Group `import`: text → alerts (the text each
//! exporter wrote, so every import is a lossless round trip, residual included). Criterion's
//! throughput is in elements: one element is one alert. Before timing, every import is checked
//! to give back the generated alerts.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vigil_core::Alert;
use vigil_core::defender;
use vigil_core::formats::{asff, cef, graph, ocsf};
use vigil_testkit::generate::AlertGenerator;

const N: usize = 1_000;

fn target() -> asff::AsffTarget {
    asff::AsffTarget::private("123456789012", "eu-west-1").unwrap()
}

fn export(name: &str, alerts: &[Alert]) -> String {
    match name {
        "defender" => defender::to_list_json(alerts).unwrap(),
        "ocsf" => ocsf::to_json_lines(alerts).unwrap(),
        "cef" => cef::to_lines(alerts, None),
        "asff" => asff::to_json_lines(alerts, &target()).unwrap(),
        "graph" => graph::to_json(alerts).unwrap(),
        _ => unreachable!(),
    }
}

fn import(name: &str, text: &str) -> Vec<Alert> {
    match name {
        "defender" => defender::parse_alerts(text).unwrap(),
        "ocsf" => ocsf::parse(text).unwrap(),
        "asff" => asff::parse(text).unwrap(),
        "graph" => graph::parse(text).unwrap(),
        _ => unreachable!(),
    }
}

fn formats(c: &mut Criterion) {
    let alerts = AlertGenerator::new(1).alerts(N);
    let mut g = c.benchmark_group("export");
    g.throughput(Throughput::Elements(N as u64));
    g.measurement_time(Duration::from_secs(4));
    g.sample_size(20);
    for name in ["defender", "ocsf", "cef", "asff", "graph"] {
        g.bench_with_input(BenchmarkId::from_parameter(name), &alerts, |b, a| {
            b.iter(|| black_box(export(name, a)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("import");
    g.throughput(Throughput::Elements(N as u64));
    g.measurement_time(Duration::from_secs(4));
    g.sample_size(20);
    for name in ["defender", "ocsf", "asff", "graph"] {
        let text = export(name, &alerts);
        assert_eq!(import(name, &text), alerts, "{name} round trip");
        g.bench_with_input(BenchmarkId::from_parameter(name), &text, |b, t| {
            b.iter(|| black_box(import(name, t)))
        });
    }
    g.finish();
}

criterion_group!(benches, formats);
criterion_main!(benches);
