//! The bulk ingest path with values that need quoting in the array text it sends (quotes,
//! backslashes, commas, braces, the word NULL): stored exactly, found by the entity filter.

use vigil_core::defender;
use vigil_core::store::{AlertQuery, Store, TenantId};
use vigil_testkit::generate::reference_time;

use crate::support::TempStore;

const SAMPLES: &str = include_str!("../../../../fixtures/alerts/sample-alerts.json");

#[test]
fn entity_values_that_need_quoting_are_stored_and_found() {
    let temp = TempStore::new();
    let store = temp.store();
    let t = TenantId::new("quoting").unwrap();
    let hostile = [r#"we"b"#, "{x}", r"c:\temp\x,{a}", "a,b", "NULL", r#"\"#];
    let mut text = SAMPLES.to_owned();
    // Each of the samples' host names `web-01` (and then `jump-01`) becomes a hostile value.
    for h in hostile {
        let json = serde_json::to_string(h).unwrap();
        text = if text.contains("\"web-01\"") {
            text.replacen("\"web-01\"", &json, 1)
        } else {
            text.replacen("\"jump-01\"", &json, 1)
        };
    }
    let alerts = defender::parse_alerts(&text).unwrap();
    let report = store.ingest(&t, &alerts, reference_time()).unwrap();
    assert_eq!(report.new, alerts.len());
    let all = AlertQuery::default().all_statuses();
    let mut checked = Vec::new();
    for h in hostile {
        let page = store.query(&t, &all.clone().entity(h.to_owned())).unwrap();
        let expected: Vec<_> = alerts
            .iter()
            .filter(|a| all.clone().entity(h.to_owned()).matches(a))
            .map(|a| a.id().clone())
            .collect();
        let got: Vec<_> = page.alerts.iter().map(|s| s.alert.id().clone()).collect();
        assert_eq!(got, expected, "entity {h:?}");
        if !expected.is_empty() {
            checked.push(h);
        }
    }
    // Some of the replaced host names are entity properties the filter reads.
    assert!(
        checked.len() >= 3,
        "too few hostile entity values: {checked:?}"
    );
    assert!(
        checked.iter().any(|h| h.contains('"')) && checked.iter().any(|h| h.contains('\\')),
        "{checked:?}"
    );
    for a in &alerts {
        let stored = store.get(&t, a.id()).unwrap().unwrap();
        assert_eq!(&stored.alert, a);
    }
}
