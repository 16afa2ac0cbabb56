//! Suppression matching: Vigil's compiled [`RuleSet`] against the plain reference loop
//! ([`ReferenceMatcher`], "naive") and against tau-engine, a well-built linear rule engine, on the
//! same generated alerts and rules.
//!
//! Group `suppression`: each iteration computes *all* matching rules for each of the same 1,000
//! generated alerts (like for like: tau has no first-match API) and counts them into a
//! `black_box`ed total. Ids are `suppression/<engine>/<rule count>`; naive and tau-engine stop at
//! 10,000 rules. Group `compile`: [`RuleSet::compile`] of 1,000 to 100,000 rules.
//!
//! How tau-engine is given a fair chance (see `shared/docs/peers.md` §4):
//! - every literal is quoted (`i"…"`) so that no leading `i`, `?`, `*`, `<`, `>` or `=` of a
//!   value is re-read as syntax; values compare case-insensitively through tau's `i` prefix,
//!   which is ASCII-only (the generated data is ASCII, so both engines agree);
//! - each rule is `optimise(Default::default())`d, and tau's tracing is compiled out through the
//!   `tracing` dev-dependency's `max_level_off` features;
//! - the alert is a [`Document`] whose `find` is a `match` on the field paths the rules use,
//!   over a flattened view (entity arrays become one `Vec<String>` per path) built once per
//!   alert *before* timing. That flattening is not in tau's measured time, while Vigil reads the
//!   `&Alert` itself (walking entities and comparing type names) inside its measured time: if
//!   anything this favours tau;
//! - tau has no CIDR operator: the generator only writes octet-aligned IPv4 networks (`/8`, `/16`,
//!   `/24`, `/32`), which translate to an anchored regex over the dotted prefix (or an exact
//!   value for `/32`);
//! - tau has no rule state or expiry: disabled and expired rules are left out when tau's rules
//!   are loaded (Vigil and naive are given all rules and skip them themselves), and a future
//!   expiry becomes a numeric condition `now: '<unix seconds>'` on a `now` field the document
//!   provides;
//! - all generated conditions are positive field tests, so tau's and Vigil's different handling
//!   of absent values never shows.
//!
//! Before timing, the three engines must agree on the matching rules of every alert at the
//! 1,000-rule size, for the benchmark's rules and for a set where half the rules can match (so
//! that every operator's translation is exercised); the bench stops otherwise.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, Utc};
use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group};
use tau_engine::{Document, Rule, Value};
use vigil_core::suppression::reference::ReferenceMatcher;
use vigil_core::suppression::{RuleSet, SuppressionRule};
use vigil_core::{Alert, EntityKind};
use vigil_testkit::generate::{
    AlertGenerator, CondSpec, HotRules, RuleGenerator, RuleMix, RuleSpec, SkewedWorkload, fields,
    hostile, reference_time,
};

/// Alerts per iteration.
const BATCH: usize = 1_000;
const SEED: u64 = 1;
const SIZES: [usize; 4] = [100, 1_000, 10_000, 100_000];
/// Largest size the linear engines (naive, tau-engine) are run at.
const LINEAR_MAX: usize = 10_000;
/// The size at which the three engines' answers are compared before timing.
const CHECK_SIZE: usize = 1_000;

fn alerts() -> Vec<Alert> {
    AlertGenerator::new(SEED).alerts(BATCH)
}

fn specs(n: usize) -> Vec<RuleSpec> {
    RuleGenerator::new(SEED).rules(n)
}

fn vigil_rules(specs: &[RuleSpec]) -> Vec<SuppressionRule> {
    specs
        .iter()
        .map(|s| s.to_rule().expect("generated rule reads"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// tau-engine side

/// The flattened view of one alert that tau reads: one value list per field path the generated
/// rules use. Built once per alert before timing.
struct TauAlert {
    alert_type: String,
    ips: Vec<String>,
    hosts: Vec<String>,
    accounts: Vec<String>,
    command_lines: Vec<String>,
    file_names: Vec<String>,
    file_directories: Vec<String>,
    resource_ids: Vec<String>,
    compromised: Option<String>,
    resource_type: Option<String>,
    /// Unix seconds of the matching instant, for expiry conditions.
    now: i64,
}

impl TauAlert {
    fn new(alert: &Alert, at: DateTime<Utc>) -> TauAlert {
        let mut t = TauAlert {
            alert_type: alert.alert_type().to_owned(),
            ips: Vec::new(),
            hosts: Vec::new(),
            accounts: Vec::new(),
            command_lines: Vec::new(),
            file_names: Vec::new(),
            file_directories: Vec::new(),
            resource_ids: Vec::new(),
            compromised: alert.compromised_entity().map(str::to_owned),
            resource_type: alert
                .extended_property("resourceType")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            now: at.timestamp(),
        };
        for e in alert.entities() {
            let push = |list: &mut Vec<String>, key: &str| {
                if let Some(v) = e.get_str(key) {
                    list.push(v.to_owned());
                }
            };
            match e.kind() {
                EntityKind::Ip => push(&mut t.ips, "address"),
                EntityKind::Host => push(&mut t.hosts, "hostName"),
                EntityKind::Account => push(&mut t.accounts, "name"),
                EntityKind::Process => push(&mut t.command_lines, "commandLine"),
                EntityKind::File => {
                    push(&mut t.file_names, "name");
                    push(&mut t.file_directories, "directory");
                }
                EntityKind::AzureResource => push(&mut t.resource_ids, "resourceId"),
                _ => {}
            }
        }
        t
    }
}

fn array(v: &Vec<String>) -> Option<Value<'_>> {
    // An absent entity type is a missing field, as in Vigil (where the test is "absent").
    if v.is_empty() {
        None
    } else {
        Some(Value::Array(v))
    }
}

impl Document for TauAlert {
    fn find(&self, key: &str) -> Option<Value<'_>> {
        match key {
            fields::ALERT_TYPE => Some(Value::String(Cow::Borrowed(&self.alert_type))),
            fields::IP_ADDRESS => array(&self.ips),
            fields::HOST_NAME => array(&self.hosts),
            fields::ACCOUNT_NAME => array(&self.accounts),
            fields::COMMAND_LINE => array(&self.command_lines),
            fields::FILE_NAME => array(&self.file_names),
            fields::FILE_DIRECTORY => array(&self.file_directories),
            fields::RESOURCE_ID => array(&self.resource_ids),
            fields::COMPROMISED_ENTITY => self
                .compromised
                .as_deref()
                .map(|s| Value::String(Cow::Borrowed(s))),
            fields::RESOURCE_TYPE => self
                .resource_type
                .as_deref()
                .map(|s| Value::String(Cow::Borrowed(s))),
            "now" => Some(Value::Int(self.now)),
            _ => None,
        }
    }
}

/// A YAML single-quoted scalar.
fn yq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Regex meta characters escaped (the set `regex::escape` escapes).
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A whole-value, case-insensitive tau regex identifier.
fn tau_regex(body: &str) -> String {
    format!("?(?i)^(?:{body})$")
}

/// A case-insensitive exact tau identifier; the quotes stop any prefix from being re-read.
fn tau_exact(v: &str) -> String {
    format!("i\"{v}\"")
}

/// The tau identifier(s) of one condition.
fn tau_values(c: &CondSpec) -> Vec<String> {
    match c {
        CondSpec::In(_, vs) => vs.iter().map(|v| tau_exact(v)).collect(),
        // `*…*` is read before any other prefix, so the value needs no quoting.
        CondSpec::Contains(_, v) => vec![format!("i*{v}*")],
        CondSpec::StartsWith(_, v) => {
            if v.starts_with(['?', '*']) {
                vec![tau_regex(&format!("{}.*", regex_escape(v)))]
            } else {
                vec![format!("i{v}*")]
            }
        }
        CondSpec::EndsWith(_, v) => {
            if v.ends_with('*') {
                vec![tau_regex(&format!(".*{}", regex_escape(v)))]
            } else {
                vec![format!("i*{v}")]
            }
        }
        CondSpec::Wildcard(_, p) => {
            let mut body = String::from("(?s)");
            for ch in p.chars() {
                match ch {
                    '*' => body.push_str(".*"),
                    '?' => body.push('.'),
                    c => body.push_str(&regex_escape(&c.to_string())),
                }
            }
            vec![tau_regex(&body)]
        }
        CondSpec::Regex(_, r) => vec![tau_regex(r)],
        CondSpec::Cidr(_, net) => {
            let (addr, len) = net.split_once('/').unwrap_or((net, "32"));
            let octets: Vec<&str> = addr.split('.').collect();
            assert_eq!(octets.len(), 4, "IPv4 network expected: {net}");
            let keep = match len {
                "8" => 1,
                "16" => 2,
                "24" => 3,
                "32" => return vec![tau_exact(addr)],
                _ => panic!("the generator writes octet-aligned networks only: {net}"),
            };
            let mut body = String::from("^");
            for o in &octets[..keep] {
                body.push_str(o);
                body.push_str(r"\.");
            }
            let rest = vec![r"[0-9]{1,3}"; 4 - keep].join(r"\.");
            body.push_str(&rest);
            body.push('$');
            vec![format!("?{body}")]
        }
    }
}

/// The tau YAML of one active rule.
fn tau_yaml(spec: &RuleSpec) -> String {
    let mut y = String::from("detection:\n");
    let mut parts = Vec::new();
    if !spec.is_any_type() {
        y += &format!(
            "  T:\n    {}: {}\n",
            fields::ALERT_TYPE,
            yq(&tau_exact(&spec.alert_type))
        );
        parts.push("T".to_owned());
    }
    for (i, c) in spec.conditions.iter().enumerate() {
        y += &format!("  C{i}:\n    {}:\n", yq(c.field()));
        for v in tau_values(c) {
            y += &format!("      - {}\n", yq(&v));
        }
        parts.push(format!("C{i}"));
    }
    if let Some(e) = spec.expiration {
        y += &format!("  E:\n    now: {}\n", yq(&format!("<{}", e.timestamp())));
        parts.push("E".to_owned());
    }
    y += &format!("  condition: {}\n", parts.join(" and "));
    y += "true_positives: []\ntrue_negatives: []\n";
    y
}

/// tau rules for the rules active at `at`, with the index of each in `specs`.
fn tau_rules(specs: &[RuleSpec], at: DateTime<Utc>) -> (Vec<Rule>, Vec<usize>) {
    specs
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_active_at(at))
        .map(|(i, s)| {
            let yaml = tau_yaml(s);
            let rule = Rule::from_str(&yaml)
                .unwrap_or_else(|e| panic!("tau rule {}: {e:?}\n{yaml}", s.name))
                .optimise(Default::default());
            (rule, i)
        })
        .unzip()
}

// ---------------------------------------------------------------------------------------------
// agreement

fn check_agreement(alerts: &[Alert], specs: &[RuleSpec], at: DateTime<Utc>) {
    let rules = vigil_rules(specs);
    let set = RuleSet::compile(rules.clone()).expect("generated rules compile");
    let naive = ReferenceMatcher::new(rules).expect("generated rules compile");
    let (tau, tau_index) = tau_rules(specs, at);
    let mut disagreements = 0;
    let mut matched = 0;
    for alert in alerts {
        let ours: BTreeSet<&str> = set.matching(alert, at).iter().map(|r| r.name()).collect();
        let reference: BTreeSet<&str> =
            naive.matching(alert, at).iter().map(|r| r.name()).collect();
        let doc = TauAlert::new(alert, at);
        let theirs: BTreeSet<&str> = tau
            .iter()
            .zip(&tau_index)
            .filter(|(r, _)| r.matches(&doc))
            .map(|(_, &i)| specs[i].name.as_str())
            .collect();
        matched += ours.len();
        if ours != reference || ours != theirs {
            disagreements += 1;
            if disagreements <= 5 {
                eprintln!(
                    "alert {} ({}): vigil {ours:?}, naive {reference:?}, tau {theirs:?}",
                    alert.system_alert_id(),
                    alert.alert_type()
                );
            }
        }
    }
    assert_eq!(
        disagreements,
        0,
        "vigil, naive and tau-engine disagree on {disagreements} of {} alerts",
        alerts.len()
    );
    eprintln!(
        "agreement: {} alerts × {} rules, {matched} matches, all three engines agree",
        alerts.len(),
        specs.len()
    );
}

// ---------------------------------------------------------------------------------------------
// benches

fn bench_matching(c: &mut Criterion) {
    let at = reference_time();
    let alerts = alerts();
    check_agreement(&alerts, &specs(CHECK_SIZE), at);
    // And on a rule set where half the rules are hot, so that every operator's translation is
    // exercised by many positive matches, not only by the benchmark mix's few.
    let hot_mix = RuleMix {
        hot: HotRules::Fraction(0.5),
        ..RuleMix::default()
    };
    check_agreement(
        &alerts,
        &RuleGenerator::with_mix(SEED + 1, hot_mix).rules(CHECK_SIZE),
        at,
    );

    // Built once, outside every measurement (see the module docs).
    let tau_docs: Vec<TauAlert> = alerts.iter().map(|a| TauAlert::new(a, at)).collect();

    let mut group = c.benchmark_group("suppression");
    // Ten samples of equal iteration counts: the largest cases take a second or more per
    // iteration, where criterion's default linear sampling would need 55 iterations.
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(5));
    group.warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(BATCH as u64));

    for n in SIZES {
        let specs = specs(n);
        let rules = vigil_rules(&specs);

        let set = RuleSet::compile(rules.clone()).expect("generated rules compile");
        group.bench_with_input(BenchmarkId::new("vigil", n), &set, |b, set| {
            b.iter(|| {
                let mut total = 0usize;
                for alert in &alerts {
                    total += set.matching(black_box(alert), at).len();
                }
                black_box(total)
            })
        });
        drop(set);

        if n > LINEAR_MAX {
            continue;
        }

        let naive = ReferenceMatcher::new(rules).expect("generated rules compile");
        group.bench_with_input(BenchmarkId::new("naive", n), &naive, |b, naive| {
            b.iter(|| {
                let mut total = 0usize;
                for alert in &alerts {
                    total += naive.matching(black_box(alert), at).len();
                }
                black_box(total)
            })
        });
        drop(naive);

        let (tau, _) = tau_rules(&specs, at);
        group.bench_with_input(BenchmarkId::new("tau-engine", n), &tau, |b, tau| {
            b.iter(|| {
                let mut total = 0usize;
                for doc in &tau_docs {
                    let doc = black_box(doc);
                    for rule in tau {
                        if rule.matches(doc) {
                            total += 1;
                        }
                    }
                }
                black_box(total)
            })
        });
    }
    group.finish();
}

/// Group `first-match`: the ingest path's call ([`RuleSet::first_match`]) on the same alerts and
/// rules as `suppression`.
fn bench_first_match(c: &mut Criterion) {
    let at = reference_time();
    let alerts = alerts();
    let mut group = c.benchmark_group("first-match");
    configure(&mut group);
    for n in SIZES {
        let set = RuleSet::compile(vigil_rules(&specs(n))).expect("generated rules compile");
        group.bench_with_input(BenchmarkId::new("vigil", n), &set, |b, set| {
            b.iter(|| {
                let mut total = 0usize;
                for alert in &alerts {
                    total += usize::from(set.first_match(black_box(alert), at).is_some());
                }
                black_box(total)
            })
        });
    }
    group.finish();
}

fn configure(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(5));
    group.warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(BATCH as u64));
}

// ---------------------------------------------------------------------------------------------
// the skewed workload

const SKEWED_SIZES: [usize; 3] = [1_000, 10_000, 100_000];

fn skewed_rules(n: usize) -> Vec<SuppressionRule> {
    vigil_rules(&SkewedWorkload::new(SEED).rules(n))
}

/// Group `suppression-skewed`: every match of 1,000 skewed alerts (`vigil` at every size, `naive`
/// at 1,000 rules); `first-match-skewed`: the first match only; `compile-skewed`: compiling.
fn bench_skewed(c: &mut Criterion) {
    let at = reference_time();
    let alerts = SkewedWorkload::new(SEED + 100).alerts(BATCH);
    let mut matching = c.benchmark_group("suppression-skewed");
    configure(&mut matching);
    for n in SKEWED_SIZES {
        let rules = skewed_rules(n);
        let set = RuleSet::compile(rules.clone()).expect("skewed rules compile");
        let matches: usize = alerts.iter().map(|a| set.matching(a, at).len()).sum();
        let suppressed = alerts.iter().filter(|a| set.is_suppressed(a, at)).count();
        if n == CHECK_SIZE {
            let naive = ReferenceMatcher::new(rules.clone()).expect("skewed rules compile");
            for a in &alerts {
                let ours: Vec<&str> = set.matching(a, at).iter().map(|r| r.name()).collect();
                let theirs: Vec<&str> = naive.matching(a, at).iter().map(|r| r.name()).collect();
                assert_eq!(ours, theirs, "vigil and naive disagree on a skewed alert");
            }
        }
        eprintln!(
            "skewed: {n} rules, {matches} matches on {BATCH} alerts ({:.1} per alert), {suppressed} alerts suppressed",
            matches as f64 / BATCH as f64
        );
        matching.bench_with_input(BenchmarkId::new("vigil", n), &set, |b, set| {
            b.iter(|| {
                let mut total = 0usize;
                for alert in &alerts {
                    total += set.matching(black_box(alert), at).len();
                }
                black_box(total)
            })
        });
        if n == CHECK_SIZE {
            let naive = ReferenceMatcher::new(rules).expect("skewed rules compile");
            matching.bench_with_input(BenchmarkId::new("naive", n), &naive, |b, naive| {
                b.iter(|| {
                    let mut total = 0usize;
                    for alert in &alerts {
                        total += naive.matching(black_box(alert), at).len();
                    }
                    black_box(total)
                })
            });
        }
    }
    matching.finish();

    let mut first = c.benchmark_group("first-match-skewed");
    configure(&mut first);
    for n in SKEWED_SIZES {
        let set = RuleSet::compile(skewed_rules(n)).expect("skewed rules compile");
        first.bench_with_input(BenchmarkId::new("vigil", n), &set, |b, set| {
            b.iter(|| {
                let mut total = 0usize;
                for alert in &alerts {
                    total += usize::from(set.first_match(black_box(alert), at).is_some());
                }
                black_box(total)
            })
        });
    }
    first.finish();

    let mut compile = c.benchmark_group("compile-skewed");
    compile.sample_size(10);
    compile.sampling_mode(SamplingMode::Flat);
    compile.measurement_time(Duration::from_secs(5));
    compile.warm_up_time(Duration::from_secs(1));
    for n in SKEWED_SIZES {
        let rules = skewed_rules(n);
        compile.throughput(Throughput::Elements(n as u64));
        compile.bench_with_input(BenchmarkId::new("vigil", n), &rules, |b, rules| {
            b.iter_batched(
                || rules.clone(),
                |rules| RuleSet::compile(rules).expect("skewed rules compile"),
                BatchSize::LargeInput,
            )
        });
    }
    compile.finish();
}

// ---------------------------------------------------------------------------------------------
// hostile rules

const COMMAND_LINE: &str = "entities.process.commandline";

fn hostile_rule(name: &str, op: &str, values: Vec<String>) -> SuppressionRule {
    hostile::rule(name, "*", COMMAND_LINE, op, values).expect("hostile rule reads")
}

/// Group `hostile`: compiling rules that once stalled the matcher (refused or not), and matching
/// the benchmark's alerts against 1,000 ordinary rules plus hostile rules within the budgets
/// (`*` rules that never match, whose index keys are common).
fn bench_hostile(c: &mut Criterion) {
    let at = reference_time();
    let mut group = c.benchmark_group("hostile");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));

    for n in [1_000, 10_000, 30_000, 100_000] {
        let rule = hostile_rule("contains-list", "contains", hostile::distinct_texts(n, 12));
        group.bench_with_input(
            BenchmarkId::new("compile-contains-list", n),
            &rule,
            |b, rule| {
                b.iter_batched(
                    || vec![rule.clone()],
                    |rules| RuleSet::compile(rules).expect("a 100,000-value list is in budget"),
                    BatchSize::LargeInput,
                )
            },
        );
    }
    let regexes = hostile_rule("long-regexes", "regex", hostile::long_regexes(2_000, 990));
    group.bench_function("compile-regexes-2000x990-refused", |b| {
        b.iter_batched(
            || vec![regexes.clone()],
            |rules| RuleSet::compile(rules).expect_err("over the regex budget"),
            BatchSize::LargeInput,
        )
    });
    let wild = hostile_rule("wildcards", "wildcard", hostile::wildcards(20_000));
    group.bench_function("compile-wildcards-20000-refused", |b| {
        b.iter_batched(
            || vec![wild.clone()],
            |rules| RuleSet::compile(rules).expect_err("over the wildcard budget"),
            BatchSize::LargeInput,
        )
    });

    // Matching: 1,000 ordinary rules, plus hostile ones.
    let alerts = alerts();
    let base = vigil_rules(&specs(1_000));
    let per_cond = vigil_core::suppression::budget::MAX_WILDCARDS_PER_CONDITION;
    // Four conditions at the per-condition limit whose common piece hits every PowerShell
    // command line.
    let wild_patterns = hostile::wildcards(4 * per_cond);
    let cases: Vec<(&str, Vec<SuppressionRule>)> = vec![
        ("baseline", Vec::new()),
        (
            "contains-list-100000",
            vec![hostile_rule(
                "contains-list",
                "contains",
                hostile::distinct_texts(100_000, 12),
            )],
        ),
        (
            "wildcards-4x256",
            wild_patterns
                .chunks(per_cond)
                .enumerate()
                .map(|(i, p)| hostile_rule(&format!("wild-{i}"), "wildcard", p.to_vec()))
                .collect(),
        ),
        (
            "regexes-16x990",
            vec![hostile_rule(
                "regexes",
                "regex",
                hostile::long_regexes(16, 990),
            )],
        ),
    ];
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, extra) in cases {
        let mut rules = base.clone();
        rules.extend(extra);
        let set = RuleSet::compile(rules).expect("within the budgets");
        group.bench_with_input(BenchmarkId::new("match", name), &set, |b, set| {
            b.iter(|| {
                let mut total = 0usize;
                for alert in &alerts {
                    total += set.matching(black_box(alert), at).len();
                }
                black_box(total)
            })
        });
    }
    group.finish();
}

fn bench_compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    // Ten samples of equal iteration counts: the largest cases take a second or more per
    // iteration, where criterion's default linear sampling would need 55 iterations.
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(5));
    group.warm_up_time(Duration::from_secs(1));
    for n in [1_000, 10_000, 100_000] {
        let rules = vigil_rules(&specs(n));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("vigil", n), &rules, |b, rules| {
            b.iter_batched(
                || rules.clone(),
                |rules| RuleSet::compile(rules).expect("generated rules compile"),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_matching,
    bench_first_match,
    bench_compile,
    bench_skewed,
    bench_hostile
);

/// A plain loop for instruction counting (`valgrind --tool=callgrind`), outside criterion:
/// `VIGIL_PROFILE=<rules>:<rounds>[:first|:skewed|:skewed-first|:hostile-wild|:contains-list]`
/// (`hostile-wild`: the mix plus the four never-matching wildcard rules of
/// `hostile/match/wildcards-4x256`; `contains-list`: the one rule of `hostile/compile/contains-list`,
/// with `<rules>` values, instead of the mix).
/// Rounds of 0 measure the set-up alone, so the difference between two runs divided by
/// rounds × 1,000 is the cost per alert.
fn profile(spec: &str) {
    let mut parts = spec.split(':');
    let n: usize = parts
        .next()
        .and_then(|s| s.parse().ok())
        .expect("VIGIL_PROFILE=<rules>:<rounds>");
    let rounds: usize = parts.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mode = parts.next().unwrap_or("mix");
    let at = reference_time();
    let skewed = mode.starts_with("skewed");
    let (alerts, mut rules) = if mode == "contains-list" {
        (
            alerts(),
            vec![hostile_rule(
                "contains-list",
                "contains",
                hostile::distinct_texts(n, 12),
            )],
        )
    } else if skewed {
        (
            SkewedWorkload::new(SEED + 100).alerts(BATCH),
            skewed_rules(n),
        )
    } else {
        (alerts(), vigil_rules(&specs(n)))
    };
    if mode == "hostile-wild" {
        // `hostile/match/wildcards-4x256`: four never-matching rules of 256 wildcard patterns.
        let per_cond = vigil_core::suppression::budget::MAX_WILDCARDS_PER_CONDITION;
        let patterns = hostile::wildcards(4 * per_cond);
        rules.extend(
            patterns
                .chunks(per_cond)
                .enumerate()
                .map(|(i, p)| hostile_rule(&format!("wild-{i}"), "wildcard", p.to_vec())),
        );
    }
    let set = RuleSet::compile(rules).expect("generated rules compile");
    let mut total = 0usize;
    for _ in 0..rounds {
        for alert in &alerts {
            total += match mode {
                "first" | "skewed-first" => {
                    usize::from(set.first_match(black_box(alert), at).is_some())
                }
                _ => set.matching(black_box(alert), at).len(),
            };
        }
    }
    eprintln!("{n} rules, {rounds} rounds of {BATCH} alerts ({mode}): {total} matches");
}

fn main() {
    if let Ok(spec) = std::env::var("VIGIL_PROFILE") {
        profile(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
