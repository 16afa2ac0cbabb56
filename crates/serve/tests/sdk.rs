//! Microsoft's Python SDK for Defender for Cloud (`azure-mgmt-security`) against a real server
//! over SQLite, unchanged but for its base URL and an authentication policy that sends a token;
//! then the library's own view is checked against what the SDK did.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;
use vigil_core::store::{AlertQuery, ResourceFilter, TenantId};
use vigil_core::{AlertId, Status};

#[test]
fn the_azure_sdk_lists_gets_changes_and_manages_rules() {
    let python = python();
    let (store, _dir) = sqlite_store();
    load(store.as_ref(), SUB, 75);
    load(store.as_ref(), OTHER, 5);
    let token = "sdk-test-token-0123456789abcdef";
    let server = token_server(store.clone(), &format!("sdk {token} {SUB}\n"));
    let output = Command::new(&python)
        .arg(workspace().join("crates/serve/tests/sdk_client.py"))
        .env("VIGIL_URL", format!("http://{}", server.addr()))
        .env("VIGIL_TOKEN", token)
        .env("VIGIL_SUB", SUB)
        .env("VIGIL_OTHER", OTHER)
        .env("VIGIL_EXPECTED", "75")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the SDK client failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let tenant = TenantId::new(SUB).unwrap();
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_owned())
            .collect()
    };

    // What the SDK listed is the library's queue of every status, in its order.
    let all = store
        .query(&tenant, &AlertQuery::default().all_statuses().limit(1000))
        .unwrap();
    let library: Vec<String> = all
        .alerts
        .iter()
        .map(|s| s.alert.id().as_str().to_owned())
        .collect();
    assert_eq!(names(&report["listed"]), library);
    let mut prod: Vec<String> = store
        .query(
            &tenant,
            &AlertQuery::default()
                .all_statuses()
                .limit(1000)
                .resource(ResourceFilter::Prefix(format!(
                    "/subscriptions/{SUB}/resourceGroups/prod/"
                ))),
        )
        .unwrap()
        .alerts
        .iter()
        .map(|s| s.alert.id().as_str().to_owned())
        .collect();
    prod.sort();
    assert_eq!(names(&report["prod"]), prod);
    assert!(!prod.is_empty());
    let in_region = |loc: &str, rg: Option<&str>| {
        let mut v: Vec<String> = all
            .alerts
            .iter()
            .filter(|s| {
                s.alert
                    .resource_id()
                    .unwrap()
                    .contains(&format!("/locations/{loc}/"))
            })
            .filter(|s| {
                rg.is_none_or(|rg| {
                    s.alert
                        .azure_resource_id()
                        .unwrap()
                        .contains(&format!("/resourceGroups/{rg}/"))
                })
            })
            .map(|s| s.alert.id().as_str().to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&report["eastus"]), in_region("eastus", None));
    assert_eq!(
        names(&report["dev_westeurope"]),
        in_region("westeurope", Some("dev"))
    );

    // The status changes landed, by the token's name, through the lifecycle.
    let status = |key: &str| {
        let id = AlertId::new(report[key].as_str().unwrap()).unwrap();
        let s = store.get(&tenant, &id).unwrap().unwrap();
        (s.alert.status(), store.history(&tenant, &id).unwrap())
    };
    let (s, trail) = status("dismissed");
    assert_eq!(s, Status::Dismissed);
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].actor, "sdk");
    let (s, trail) = status("resolved");
    assert_eq!((s, trail.len()), (Status::Resolved, 2));
    let (s, trail) = status("reactivated");
    assert_eq!((s, trail.len()), (Status::Active, 2));
    assert!(report["illegal"].as_str().unwrap().contains("Dismissed"));

    // Rules: the SDK deleted one and kept the other.
    let rules: Vec<String> = store
        .list_rules(&tenant)
        .unwrap()
        .iter()
        .map(|r| r.rule.name().to_owned())
        .collect();
    assert_eq!(rules, ["sdk-kept"]);
    assert_eq!(names(&report["rules"]), rules);
    let kept = store.get_rule(&tenant, "sdk-kept").unwrap().unwrap();
    assert_eq!(kept.rule.alert_type(), "VM_EICAR");
    assert!(
        !kept.rule.is_active_at(chrono::Utc::now()),
        "it was saved disabled"
    );
    assert_eq!(report["other_tenant"], 404);
    assert_eq!(report["wrong_token"], 401);
}
