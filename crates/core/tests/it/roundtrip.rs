//! Property tests: parse → serialize → parse gives an equal alert, every value of the input
//! appears in the output, and the key spellings of older documents read the same.

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Map, Number, Value};
use vigil_core::attack::TechniqueId;
use vigil_core::defender::{parse_alerts, to_list_json};
use vigil_core::{
    Alert, AlertId, Entity, EntityKind, ExtendedLink, KillChainIntent, ResourceIdentifier,
    Severity, Status, SupportingEvidence,
};

use crate::common::assert_values_kept;

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        (-1.0e12f64..1.0e12).prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,24}".prop_map(Value::String),
    ]
}

pub fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z$][a-zA-Z0-9 ]{0,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_map(keys: &'static str) -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(keys, json_value(), 0..4).prop_map(|m| m.into_iter().collect())
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    (
        0i64..4_102_444_800,
        prop_oneof![Just(0u32), 0u32..10_000_000, 0u32..1_000_000_000],
    )
        .prop_map(|(s, n)| {
            let n = if n < 10_000_000 { n * 100 } else { n };
            Utc.timestamp_opt(s, n.min(999_999_999))
                .single()
                .unwrap_or_default()
        })
}

fn intent() -> impl Strategy<Value = KillChainIntent> {
    prop_oneof![
        prop::sample::select(KillChainIntent::named().to_vec()),
        "[A-Z][a-z]{2,10} \\([a-z]{1,8}\\)".prop_map(KillChainIntent::Other),
    ]
}

fn entity() -> impl Strategy<Value = Entity> {
    let kind = prop_oneof![
        prop::sample::select(EntityKind::known().cloned().collect::<Vec<_>>()),
        "x-[a-z]{1,8}".prop_map(|s| EntityKind::from_type_name(&s)),
    ];
    (kind, json_map("[a-zA-Z$][a-zA-Z0-9]{0,10}")).prop_map(|(kind, props)| {
        props
            .into_iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("type"))
            .fold(Entity::new(kind), |e, (k, v)| e.with(&k, v))
    })
}

fn resource_identifier() -> impl Strategy<Value = ResourceIdentifier> {
    prop_oneof![
        "/subscriptions/[a-f0-9]{8}/resourceGroups/[a-zA-Z]{1,8}"
            .prop_map(ResourceIdentifier::azure_resource),
        (
            "[a-f0-9-]{8,36}",
            proptest::option::of("[a-f0-9]{8}"),
            proptest::option::of("[a-z]{3}")
        )
            .prop_map(|(w, s, a)| ResourceIdentifier::LogAnalytics {
                workspace_id: w,
                workspace_subscription_id: s,
                workspace_resource_group: Some("rg".into()),
                agent_id: a,
                extra: Map::new(),
            }),
    ]
}

fn technique() -> impl Strategy<Value = TechniqueId> {
    (1000u16..=9999, proptest::option::of(1u16..=999))
        .prop_map(|(t, s)| TechniqueId::from_parts(t, s).unwrap())
}

prop_compose! {
    pub fn alert()(
        id in "[A-Za-z0-9_-]{1,40}",
        alert_type in "[A-Z]{2,6}[._][A-Za-z]{3,20}",
        display in "\\PC{1,40}",
        severity in prop::sample::select(Severity::ALL.to_vec()),
        status in prop::sample::select(Status::ALL.to_vec()),
        generated in time(),
        start in proptest::option::of(time()),
        end in proptest::option::of(time()),
        processed in proptest::option::of(time()),
        description in proptest::option::of("\\PC{0,60}"),
        intents in prop::collection::vec(intent(), 0..3),
        entities in prop::collection::vec(entity(), 0..5),
        ids in prop::collection::vec(resource_identifier(), 0..3),
        steps in prop::collection::vec("\\PC{1,30}", 0..3),
        extended in json_map("[a-zA-Z][a-zA-Z0-9 ]{0,12}"),
        extra in json_map("x[A-Z][a-zA-Z0-9]{0,12}"),
        techniques in prop::collection::vec(technique(), 0..4),
        incident in any::<bool>(),
        evidence in proptest::option::of(json_map("[a-z]{1,8}")),
        names in proptest::option::of(("[a-z0-9]{1,12}", "\\PC{0,20}", "\\PC{0,20}")),
    ) -> Alert {
        let mut b = Alert::builder(AlertId::new(id).unwrap(), alert_type, display, severity, generated)
            .status(status)
            .incident(incident);
        if let Some((name, product, vendor)) = names {
            b = b.name(AlertId::new(name.clone()).unwrap())
                .resource_id(format!("/subscriptions/s/providers/Microsoft.Security/locations/westeurope/alerts/{name}"))
                .resource_type("Microsoft.Security/Locations/alerts")
                .version("2022-01-01")
                .product_name(product)
                .vendor_name(vendor)
                .correlation_key("ck")
                .compromised_entity("vm1")
                .alert_uri("https://portal.azure.com/#blade")
                .product_component_name("")
                .extended_link(ExtendedLink::new("https://contoso.com", "Report"));
        }
        if let Some(t) = start { b = b.start_time(t); }
        if let Some(t) = end { b = b.end_time(t); }
        if let Some(t) = processed { b = b.processing_end_time(t); }
        if let Some(d) = description { b = b.description(d); }
        for i in intents { b = b.intent(i); }
        for e in entities { b = b.entity(e); }
        for r in ids { b = b.resource_identifier(r); }
        for s in steps { b = b.remediation_step(s); }
        for (k, v) in extended { b = b.extended_property(k, v); }
        for (k, v) in extra { b = b.additional_property(k, v); }
        for t in techniques { b = b.technique(t); }
        if let Some(mut ev) = evidence {
            ev.insert("type".into(), Value::String("tabularEvidences".into()));
            b = b.supporting_evidence(SupportingEvidence::from_json(ev));
        }
        b.build()
    }
}

/// Re-spell the known keys of a serialized alert as older documents do: PascalCase, and the
/// `Utc`-less names of two timestamps.
fn respell(mut v: Value, pascal: bool, short_times: bool) -> Value {
    fn pascal_case(k: &str) -> String {
        let mut c = k.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    }
    let Some(props) = v.get_mut("properties").and_then(Value::as_object_mut) else {
        return v;
    };
    let old = std::mem::take(props);
    for (k, mut val) in old {
        let known = !k.starts_with('x');
        if known && k == "resourceIdentifiers" && pascal {
            for r in val.as_array_mut().into_iter().flatten() {
                if let Some(m) = r.as_object_mut() {
                    let inner = std::mem::take(m);
                    *m = inner
                        .into_iter()
                        .map(|(k, v)| (pascal_case(&k), v))
                        .collect();
                }
            }
        }
        let mut key = k.clone();
        if known && short_times && (k == "timeGeneratedUtc" || k == "processingEndTimeUtc") {
            key = k.trim_end_matches("Utc").to_owned();
        }
        if known && pascal {
            key = pascal_case(&key);
        }
        props.insert(key, val);
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn parse_serialize_parse_is_identity(alert in alert()) {
        let json = serde_json::to_string(&alert).unwrap();
        let back = parse_alerts(&json).map_err(|e| TestCaseError::fail(format!("{e}\n{json}")))?;
        prop_assert_eq!(&back[0], &alert);
        // And a second trip is byte-identical.
        prop_assert_eq!(serde_json::to_string(&back[0]).unwrap(), json);
    }

    #[test]
    fn every_input_value_appears_in_the_output(alerts in prop::collection::vec(alert(), 1..4)) {
        let input: Value = serde_json::from_str(&to_list_json(&alerts).unwrap()).unwrap();
        let parsed = parse_alerts(&input.to_string()).unwrap();
        let output: Value = serde_json::from_str(&to_list_json(&parsed).unwrap()).unwrap();
        assert_values_kept(&input, &output);
    }

    #[test]
    fn older_spellings_read_the_same(alert in alert(), pascal in any::<bool>(), short in any::<bool>()) {
        let doc = respell(serde_json::to_value(&alert).unwrap(), pascal, short);
        let back = parse_alerts(&doc.to_string()).map_err(|e| TestCaseError::fail(format!("{e}\n{doc}")))?;
        prop_assert_eq!(&back[0], &alert);
        assert_values_kept(&doc, &serde_json::to_value(&back[0]).unwrap());
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse_alerts(&text);
    }

    #[test]
    fn arbitrary_json_never_panics(v in json_value()) {
        let _ = parse_alerts(&v.to_string());
        let wrapped = serde_json::json!({"properties": v});
        let _ = parse_alerts(&wrapped.to_string());
    }
}
