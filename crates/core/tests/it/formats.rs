//! The exchange formats: round trips (Vigil → format → Vigil keeps every value), golden files
//! reviewed against the specifications, and real documents from other products.

use proptest::prelude::*;
use serde_json::Value;
use vigil_core::defender::parse_alerts;
use vigil_core::formats::{self, Format, ocsf};
use vigil_core::{Alert, Error};
use vigil_testkit::generate::AlertGenerator;

use crate::common::{example_body, fixture, fixture_path};

fn samples() -> Vec<Alert> {
    let mut alerts = parse_alerts(&fixture("alerts/sample-alerts.json")).unwrap();
    for f in [
        "defender/2022-01-01_GetAlertSubscriptionLocation_example.json",
        "defender/2022-01-01_GetAlertsResourceGroupLocation_example.json",
        "defender/2020-01-01_GetAlertResourceGroupLocation_example.json",
    ] {
        alerts.extend(parse_alerts(&example_body(f)).unwrap());
    }
    alerts
}

/// Compares `text` with the golden file, or rewrites the file when `VIGIL_UPDATE_GOLDEN` is set.
fn golden(rel: &str, text: &str) {
    let path = fixture_path(rel);
    if std::env::var_os("VIGIL_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{rel}: {e} (run with VIGIL_UPDATE_GOLDEN=1 to create it)"));
    assert!(
        want == text,
        "{rel} differs from the export; review the change and run with VIGIL_UPDATE_GOLDEN=1"
    );
}

fn golden_alerts() -> Vec<Alert> {
    parse_alerts(&fixture("alerts/sample-alerts.json")).unwrap()
}

// ---------------------------------------------------------------------------------------------
// OCSF

#[test]
fn ocsf_round_trips_the_samples() {
    let alerts = samples();
    let text = ocsf::to_json_lines(&alerts).unwrap();
    assert_eq!(formats::detect(&text).unwrap(), Format::Ocsf);
    assert_eq!(ocsf::parse(&text).unwrap(), alerts);
    let array = ocsf::to_json_array(&alerts).unwrap();
    assert_eq!(ocsf::parse(&array).unwrap(), alerts);
}

#[test]
fn ocsf_golden() {
    let text = ocsf::to_json_array(&golden_alerts()).unwrap();
    golden("formats/sample-alerts.ocsf.json", &(text + "\n"));
}

#[test]
fn ocsf_findings_carry_the_required_attributes() {
    for (i, alert) in samples().iter().enumerate() {
        let f = ocsf::to_value(alert).unwrap();
        for key in [
            "activity_id",
            "category_uid",
            "class_uid",
            "type_uid",
            "severity_id",
            "time",
            "metadata",
            "finding_info",
        ] {
            assert!(!f[key].is_null(), "alert {i}: {key}");
        }
        assert_eq!(f["metadata"]["version"], "1.8.0");
        assert!(f["metadata"]["product"].is_object());
        assert!(f["finding_info"]["uid"].is_string());
        assert_eq!(
            f["type_uid"].as_i64().unwrap(),
            f["class_uid"].as_i64().unwrap() * 100 + f["activity_id"].as_i64().unwrap()
        );
        for ev in f["evidences"].as_array().into_iter().flatten() {
            if let Some(dev) = ev.get("device") {
                assert!(dev["type_id"].is_number());
            }
            if let Some(file) = ev.get("file") {
                assert!(file["name"].is_string() && file["type_id"].is_number());
            }
        }
        for at in f["finding_info"]["attacks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert!(
                at.get("tactic").is_some()
                    || at.get("technique").is_some()
                    || at.get("sub_technique").is_some()
            );
        }
        if f["cloud"].is_object() {
            assert!(f["cloud"]["provider"].is_string());
            assert_eq!(f["metadata"]["profiles"], serde_json::json!(["cloud"]));
        }
        if let Some(rem) = f.get("remediation") {
            assert!(rem["desc"].is_string());
        }
    }
}

#[test]
fn ocsf_errors_name_the_record_and_the_path() {
    let alerts = golden_alerts();
    let mut lines: Vec<String> = ocsf::to_json_lines(&alerts[..3])
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut v: Value = serde_json::from_str(&lines[1]).unwrap();
    v["severity_id"] = Value::String("high".into());
    lines[1] = v.to_string();
    let err = ocsf::parse(&lines.join("\n")).unwrap_err();
    assert!(matches!(err, Error::Document { .. }));
    assert_eq!(
        err.to_string(),
        "line 2.severity_id: expected an integer, found a string"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn ocsf_round_trip_keeps_every_value(alert in crate::roundtrip::alert()) {
        let text = ocsf::to_json_lines(std::slice::from_ref(&alert)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = ocsf::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back[0], &alert);
    }

    #[test]
    fn ocsf_round_trip_of_generated_alerts(seed in any::<u64>()) {
        let alerts = AlertGenerator::new(seed).alerts(5);
        let text = ocsf::to_json_lines(&alerts).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(ocsf::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?, alerts);
    }
}

// ---------------------------------------------------------------------------------------------
// CEF

/// A small CEF parser written from the standard, independent of the exporter: seven header
/// fields split on unescaped pipes, then `key=value` pairs where a key is a run of
/// alphanumerics (and `_`) followed by an unescaped `=`, and a value runs up to the space
/// before the next key.
mod cef_parser {
    pub struct Record {
        pub header: Vec<String>,
        pub ext: Vec<(String, String)>,
    }

    pub fn parse(line: &str) -> Result<Record, String> {
        let rest = line.strip_prefix("CEF:").ok_or("no CEF: prefix")?;
        let chars: Vec<char> = rest.chars().collect();
        let mut header = Vec::new();
        let mut cur = String::new();
        let mut i = 0;
        while header.len() < 7 {
            let c = *chars.get(i).ok_or("header ends early")?;
            match c {
                '\\' => {
                    let n = *chars.get(i + 1).ok_or("dangling backslash")?;
                    match n {
                        '\\' | '|' => cur.push(n),
                        other => return Err(format!("bad header escape \\{other}")),
                    }
                    i += 2;
                }
                '|' => {
                    header.push(std::mem::take(&mut cur));
                    i += 1;
                }
                '\r' | '\n' => return Err("line break in header".into()),
                c => {
                    cur.push(c);
                    i += 1;
                }
            }
        }
        let ext_chars = &chars[i..];
        // Positions of keys: a maximal run of [A-Za-z0-9_] at the start or after a space,
        // followed by an unescaped '='.
        let mut keys = Vec::new(); // (key start, '=' index)
        let mut j = 0;
        while j < ext_chars.len() {
            if ext_chars[j] == '\\' {
                j += 2;
                continue;
            }
            if (j == 0 || ext_chars[j - 1] == ' ') && ext_chars[j].is_ascii_alphanumeric() {
                let mut k = j;
                while k < ext_chars.len()
                    && (ext_chars[k].is_ascii_alphanumeric() || ext_chars[k] == '_')
                {
                    k += 1;
                }
                if k < ext_chars.len() && ext_chars[k] == '=' {
                    keys.push((j, k));
                    j = k + 1;
                    continue;
                }
            }
            j += 1;
        }
        let mut ext = Vec::new();
        for (n, (start, eq)) in keys.iter().enumerate() {
            let key: String = ext_chars[*start..*eq].iter().collect();
            let end = match keys.get(n + 1) {
                Some((next, _)) => next - 1, // the separating space
                None => {
                    let mut e = ext_chars.len();
                    while e > eq + 1 && ext_chars[e - 1] == ' ' {
                        e -= 1;
                    }
                    e
                }
            };
            let raw = &ext_chars[eq + 1..end];
            let mut v = String::new();
            let mut p = 0;
            while p < raw.len() {
                if raw[p] == '\\' {
                    match raw.get(p + 1) {
                        Some('\\') => v.push('\\'),
                        Some('=') => v.push('='),
                        Some('n') => v.push('\n'),
                        Some('r') => v.push('\r'),
                        Some(other) => return Err(format!("bad extension escape \\{other}")),
                        None => return Err("dangling backslash".into()),
                    }
                    p += 2;
                } else if raw[p] == '\n' || raw[p] == '\r' {
                    return Err("raw line break in extension".into());
                } else {
                    v.push(raw[p]);
                    p += 1;
                }
            }
            ext.push((key, v));
        }
        Ok(Record { header, ext })
    }

    impl Record {
        pub fn get(&self, key: &str) -> Option<&str> {
            self.ext
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        }
    }
}

#[test]
fn cef_golden() {
    let text = vigil_core::formats::cef::to_lines(&golden_alerts(), None);
    golden("formats/sample-alerts.cef", &text);
    let framed = vigil_core::formats::cef::to_lines(&golden_alerts(), Some("vigil-host"));
    golden("formats/sample-alerts.cef.syslog", &framed);
}

#[test]
fn cef_samples_parse_by_the_standard() {
    for a in samples() {
        let line = vigil_core::formats::cef::to_line(&a);
        assert!(!line.contains('\n'));
        let r = cef_parser::parse(&line).unwrap();
        assert_eq!(r.header[0], "0");
        assert_eq!(r.header[4], a.alert_type());
        assert_eq!(r.header[5], a.display_name().replace(['\r', '\n'], " "));
        let sev: u8 = r.header[6].parse().unwrap();
        assert!(sev <= 10);
        assert_eq!(r.get("cs1"), Some(a.system_alert_id().as_str()));
        assert_eq!(r.get("cs1Label"), Some("systemAlertId"));
        assert_eq!(r.get("cs3"), Some(a.status().as_str()));
        assert_eq!(
            r.get("rt").map(|t| t.parse::<i64>().unwrap()),
            Some(a.time_generated().timestamp_millis())
        );
        assert_eq!(
            r.get("msg"),
            a.description().map(|d| vigil_core_cut(d, 1023))
        );
        if let Some(ext) = r.get("externalId") {
            assert!(ext.chars().count() <= 40);
        }
        // Every key is a single alphanumeric word, and every custom field has its label; no
        // flex field (reserved for customers) and no c6a2 (not in the dictionary) is written.
        for (k, _) in &r.ext {
            assert!(k.chars().all(|c| c.is_ascii_alphanumeric()), "{k}");
            assert!(!k.starts_with("flex") && !k.starts_with("c6a2"), "{k}");
            if k.starts_with("cs") && !k.ends_with("Label") {
                assert!(r.get(&format!("{k}Label")).is_some(), "{k} without label");
            }
        }
    }
}

fn vigil_core_cut(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Any text in an extension value, and any text without line breaks in a header field,
    /// survives the standard's escaping and a standards-following parse.
    #[test]
    fn cef_escaping_survives_a_parse(
        text in "(\\PC|[\\\\=|\\n\\r \\t]){0,60}",
        name in "(\\PC|[\\\\=|]){1,60}",
        key_like in "[a-z]{1,6}=[a-z ]{0,6}",
    ) {
        let desc = format!("{text} {key_like} {text}");
        let alert = vigil_core::Alert::builder(
            vigil_core::AlertId::new("id-1").unwrap(),
            format!("T|{name}"),
            name.clone(),
            vigil_core::Severity::Medium,
            chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        )
        .description(desc.clone())
        .compromised_entity(text.clone())
        .correlation_key(format!("{text}\\"))
        .build();
        let line = vigil_core::formats::cef::to_line(&alert);
        prop_assert!(!line.contains('\n') && !line.contains('\r'));
        let r = cef_parser::parse(&line).map_err(TestCaseError::fail)?;
        prop_assert_eq!(r.header.len(), 7);
        prop_assert_eq!(&r.header[4], &format!("T|{name}"));
        prop_assert_eq!(&r.header[5], &name);
        prop_assert_eq!(r.get("msg"), Some(vigil_core_cut(&desc, 1023)));
        prop_assert_eq!(r.get("cs5"), Some(text.as_str()));
        let key = format!("{text}\\");
        prop_assert_eq!(r.get("cs6"), Some(key.as_str()));
        prop_assert_eq!(r.get("cn1"), Some("0"));
    }
}

// ---------------------------------------------------------------------------------------------
// ASFF

fn target() -> vigil_core::formats::asff::AsffTarget {
    vigil_core::formats::asff::AsffTarget::private("123456789012", "eu-west-1").unwrap()
}

#[test]
fn asff_round_trips_the_samples_and_every_finding_is_valid() {
    use vigil_core::formats::asff;
    let alerts = samples();
    let text = asff::to_json_lines(&alerts, &target()).unwrap();
    assert_eq!(formats::detect(&text).unwrap(), Format::Asff);
    assert_eq!(asff::parse(&text).unwrap(), alerts);
    for a in &alerts {
        let f = asff::to_value(a, &target()).unwrap();
        assert_eq!(
            asff::validate(&f),
            Vec::<String>::new(),
            "{}",
            a.system_alert_id()
        );
    }
}

#[test]
fn asff_golden() {
    let text = vigil_core::formats::asff::to_json_lines(&golden_alerts(), &target()).unwrap();
    let v: Value = serde_json::from_str(text.trim()).unwrap();
    golden(
        "formats/sample-alerts.asff.json",
        &(serde_json::to_string_pretty(&v).unwrap() + "\n"),
    );
}

#[test]
fn asff_batches_hold_at_most_100_findings() {
    use vigil_core::formats::asff;
    let alerts = AlertGenerator::new(7).alerts(250);
    let text = asff::to_json_lines(&alerts, &target()).unwrap();
    let sizes: Vec<usize> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["Findings"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
    assert_eq!(asff::parse(&text).unwrap(), alerts);
}

#[test]
fn asff_updated_at_is_the_given_time_never_before_creation() {
    use vigil_core::formats::asff;
    let alert = golden_alerts().remove(0);
    let later = alert.time_generated() + chrono::Duration::days(3);
    let f = asff::to_value(&alert, &target().updated_at(later)).unwrap();
    assert_eq!(
        f["UpdatedAt"],
        later.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    assert_eq!(asff::from_value(f).unwrap(), alert);
    let earlier = alert.time_generated() - chrono::Duration::days(3);
    let f = asff::to_value(&alert, &target().updated_at(earlier)).unwrap();
    assert_eq!(f["UpdatedAt"], f["CreatedAt"]);
}

#[test]
fn asff_target_is_checked() {
    use vigil_core::formats::asff::AsffTarget;
    assert!(AsffTarget::private("12345", "eu-west-1").is_err());
    assert!(AsffTarget::private("123456789012", "EU WEST").is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Every alert either round-trips exactly, or (too large for ASFF's limits) is refused
    /// with an error; never a partial finding.
    #[test]
    fn asff_round_trip_keeps_every_value(alert in crate::roundtrip::alert()) {
        use vigil_core::formats::asff;
        match asff::to_value(&alert, &target()) {
            Ok(f) => {
                prop_assert_eq!(asff::validate(&f), Vec::<String>::new());
                let back = asff::from_value(f.clone()).map_err(|e| TestCaseError::fail(format!("{e}\n{f}")))?;
                prop_assert_eq!(&back, &alert);
            }
            Err(e) => prop_assert!(e.to_string().contains("export it as OCSF"), "{}", e),
        }
    }

    #[test]
    fn asff_round_trip_of_generated_alerts(seed in any::<u64>()) {
        use vigil_core::formats::asff;
        let alerts = AlertGenerator::new(seed).alerts(5);
        let text = asff::to_json_lines(&alerts, &target()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(asff::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?, alerts);
    }
}

// ---------------------------------------------------------------------------------------------
// Microsoft Graph

#[test]
fn graph_round_trips_the_samples() {
    use vigil_core::formats::graph;
    let alerts = samples();
    let text = graph::to_json(&alerts).unwrap();
    assert_eq!(formats::detect(&text).unwrap(), Format::Graph);
    assert_eq!(graph::parse(&text).unwrap(), alerts);
}

#[test]
fn graph_golden() {
    let text = vigil_core::formats::graph::to_json(&golden_alerts()).unwrap();
    golden("formats/sample-alerts.graph.json", &(text + "\n"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn graph_round_trip_keeps_every_value(alert in crate::roundtrip::alert()) {
        use vigil_core::formats::graph;
        let f = graph::to_value(&alert).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = graph::from_value(f.clone()).map_err(|e| TestCaseError::fail(format!("{e}\n{f}")))?;
        prop_assert_eq!(&back, &alert);
    }

    #[test]
    fn graph_round_trip_of_generated_alerts(seed in any::<u64>()) {
        use vigil_core::formats::graph;
        let alerts = AlertGenerator::new(seed).alerts(5);
        let text = graph::to_json(&alerts).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(graph::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?, alerts);
    }
}

// ---------------------------------------------------------------------------------------------
// Detection

#[test]
fn detection_never_guesses() {
    let alerts = golden_alerts();
    assert_eq!(
        formats::detect(&vigil_core::defender::to_list_json(&alerts).unwrap()).unwrap(),
        Format::Defender
    );
    // A record with the keys of two formats is ambiguous.
    let both = r#"{"class_uid": 2004, "finding_info": {"uid": "x"}, "SchemaVersion": "2018-10-08", "ProductArn": "arn:aws:x"}"#;
    let err = formats::detect(both).unwrap_err().to_string();
    assert!(err.contains("could be any of ocsf, asff"), "{err}");
    // Records of different formats in one stream.
    let mixed = format!(
        "{}\n{}",
        r#"{"class_uid": 2004, "finding_info": {"uid": "x"}}"#,
        r#"{"SchemaVersion": "2018-10-08", "ProductArn": "arn:aws:x"}"#
    );
    let err = formats::detect(&mixed).unwrap_err().to_string();
    assert!(
        err.starts_with("line 2: this record looks like asff but earlier records look like ocsf"),
        "{err}"
    );
    assert!(formats::detect("[]").is_err());
}

// ---------------------------------------------------------------------------------------------
// Real documents from the other direction

/// The response example of Microsoft Graph's "Get alert" page (see fixtures/README.md), read
/// value by value.
#[test]
fn graph_documentation_alert_imports_value_by_value() {
    use vigil_core::{EntityKind, KillChainIntent, Severity, Status};
    let text = fixture("formats/real/graph-security-alert-get.json");
    assert_eq!(formats::detect(&text).unwrap(), Format::Graph);
    let alerts = vigil_core::formats::graph::parse(&text).unwrap();
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(
        a.system_alert_id().as_str(),
        "da637578995287051192_756343937"
    );
    assert_eq!(a.alert_type(), "e0da400f-affd-43ef-b1d5-afc2eb6f2756");
    assert_eq!(a.display_name(), "Suspicious execution of hidden file");
    assert!(
        a.description()
            .unwrap()
            .starts_with("A hidden file has been launched.")
    );
    assert_eq!(a.severity(), Severity::Low);
    assert_eq!(a.status(), Status::Active);
    assert_eq!(a.intents(), &[KillChainIntent::DefenseEvasion]);
    let techniques: Vec<String> = a.techniques().iter().map(|t| t.to_string()).collect();
    let subs: Vec<String> = a.sub_techniques().iter().map(|t| t.to_string()).collect();
    assert_eq!(techniques, ["T1564"]);
    assert_eq!(subs, ["T1564.001"]);
    assert_eq!(a.remediation_steps().len(), 12);
    assert_eq!(
        a.remediation_steps()[0],
        "Collect artifacts and determine scope"
    );
    assert_eq!(
        a.time_generated().to_rfc3339(),
        "2021-04-27T12:19:27.721130500+00:00"
    );
    assert_eq!(
        a.start_time().unwrap().to_rfc3339(),
        "2021-04-26T07:45:50.116+00:00"
    );
    assert_eq!(
        a.end_time().unwrap().to_rfc3339(),
        "2021-05-02T07:56:58.222+00:00"
    );
    assert_eq!(
        a.alert_uri(),
        Some(
            "https://security.microsoft.com/alerts/da637578995287051192_756343937?tid=b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c"
        )
    );
    assert_eq!(a.correlation_key(), Some("28282"));
    let kinds: Vec<&EntityKind> = a.entities().iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        [
            &EntityKind::Host,
            &EntityKind::File,
            &EntityKind::FileHash,
            &EntityKind::FileHash,
            &EntityKind::Process,
            &EntityKind::RegistryKey
        ]
    );
    let e = a.entities();
    assert_eq!(e[0].get_str("hostName"), Some("tempDns"));
    assert_eq!(e[0].get_str("osFamily"), Some("Windows10"));
    assert_eq!(e[1].get_str("name"), Some("MsSense.exe"));
    assert_eq!(e[1].get_str("directory"), Some("C:\\Program Files\\temp"));
    assert_eq!(e[2].get_str("algorithm"), Some("SHA1"));
    assert_eq!(
        e[2].get_str("value"),
        Some("5f1e8acedc065031aad553b710838eb366cfee9a")
    );
    assert_eq!(e[3].get_str("algorithm"), Some("SHA256"));
    assert_eq!(e[4].get_str("processId"), Some("4780"));
    assert_eq!(e[4].get_str("commandLine"), Some("\"MsSense.exe\""));
    assert_eq!(e[5].get_str("hive"), Some("HKEY_LOCAL_MACHINE"));
    assert_eq!(
        e[5].get_str("key"),
        Some("SYSTEM\\CONTROLSET001\\CONTROL\\WMI\\AUTOLOGGER\\SENSEAUDITLOGGER")
    );
    // The source and its own fields stay available.
    let src = &a.additional_properties()[formats::SOURCE_KEY];
    assert_eq!(src["format"], "graph");
    assert_eq!(src["id"], "da637578995287051192_756343937");
    let original: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(src["record"], original);
    assert_eq!(
        src["record"]["tenantId"],
        "b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c"
    );
    // And it survives Vigil's own formats.
    let again = ocsf::parse(&ocsf::to_json_lines(&alerts).unwrap()).unwrap();
    assert_eq!(again, alerts);
}

// ---------------------------------------------------------------------------------------------
// Hostile input: errors, never panics

/// Every key path of a JSON document (objects and arrays), for mutation.
fn paths(v: &Value, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let mut p = prefix.clone();
                p.push(k.clone());
                out.push(p.clone());
                paths(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let mut p = prefix.clone();
                p.push(i.to_string());
                out.push(p.clone());
                paths(x, p, out);
            }
        }
        _ => {}
    }
}

fn set(v: &mut Value, path: &[String], new: Value) {
    let mut cur = v;
    for (n, k) in path.iter().enumerate() {
        let next = match cur {
            Value::Object(m) => m.get_mut(k),
            Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        };
        match next {
            Some(x) if n + 1 == path.len() => {
                *x = new;
                return;
            }
            Some(x) => cur = x,
            None => return,
        }
    }
}

fn exported_documents() -> Vec<(&'static str, Value)> {
    let alerts = golden_alerts();
    let a = &alerts[0];
    vec![
        ("ocsf", ocsf::to_value(a).unwrap()),
        (
            "asff",
            vigil_core::formats::asff::to_value(a, &target()).unwrap(),
        ),
        ("graph", vigil_core::formats::graph::to_value(a).unwrap()),
        (
            "graph",
            serde_json::from_str(&fixture("formats/real/graph-security-alert-get.json")).unwrap(),
        ),
    ]
}

fn import_any(format: &str, v: Value) -> Result<Alert, Error> {
    match format {
        "ocsf" => ocsf::from_value(v),
        "asff" => vigil_core::formats::asff::from_value(v),
        _ => vigil_core::formats::graph::from_value(v),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Any JSON is read by every importer without a panic, and by the detector too.
    #[test]
    fn any_json_is_an_answer_not_a_panic(v in crate::roundtrip::json_value()) {
        for f in ["ocsf", "asff", "graph"] {
            let _ = import_any(f, v.clone());
        }
        let _ = formats::detect(&v.to_string());
    }

    /// A valid document with any one value replaced by any JSON: an alert or an error naming a
    /// path, never a panic.
    #[test]
    fn one_wrong_value_is_an_answer_not_a_panic(
        pick in any::<prop::sample::Index>(),
        doc in 0usize..4,
        new in crate::roundtrip::json_value(),
    ) {
        let (format, mut v) = exported_documents().swap_remove(doc);
        let mut all = Vec::new();
        paths(&v, Vec::new(), &mut all);
        let path = pick.get(&all).clone();
        set(&mut v, &path, new);
        match import_any(format, v) {
            Ok(_) => {}
            Err(Error::Document { path, .. }) => prop_assert!(!path.is_empty()),
            Err(Error::Json { .. }) | Err(Error::InvalidValue { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected error kind: {other}"),
        }
    }
}

/// The residual holds only what the fields could not carry, so a mapped field changed after
/// export (a SIEM resolving the finding) is what comes back.
#[test]
fn changes_to_mapped_fields_after_export_are_read_back() {
    use vigil_core::Status;
    let alert = golden_alerts().remove(0);
    assert_eq!(alert.status(), Status::Active);
    let mut f = ocsf::to_value(&alert).unwrap();
    f["status_id"] = 4.into();
    assert_eq!(ocsf::from_value(f).unwrap().status(), Status::Resolved);
    let mut f = vigil_core::formats::asff::to_value(&alert, &target()).unwrap();
    f["Workflow"]["Status"] = "SUPPRESSED".into();
    assert_eq!(
        vigil_core::formats::asff::from_value(f).unwrap().status(),
        Status::Dismissed
    );
    let mut f = vigil_core::formats::graph::to_value(&alert).unwrap();
    f["status"] = "inProgress".into();
    assert_eq!(
        vigil_core::formats::graph::from_value(f).unwrap().status(),
        Status::InProgress
    );
}
