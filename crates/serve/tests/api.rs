//! The Defender subset and Vigil's additions over HTTP, against a real server over SQLite:
//! shapes, paging, actions, rules, errors, authentication, tenant isolation, request limits,
//! and concurrent status changes without a lost update.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;

use common::*;
use proptest::prelude::*;
use serde_json::{Value, json};
use vigil_core::store::{AlertQuery, MemoryStore, Store, TenantId};
use vigil_core::{AlertId, Status};

const V: &str = "api-version=2022-01-01";
const RV: &str = "api-version=2019-01-01-preview";

fn json_of(mut r: ureq::http::Response<ureq::Body>) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, value)
}

fn get(agent: &ureq::Agent, url: &str) -> (u16, Value) {
    json_of(agent.get(url).call().unwrap())
}

fn post(agent: &ureq::Agent, url: &str) -> (u16, Value) {
    json_of(agent.post(url).send_empty().unwrap())
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no ARM error envelope: {v}"))
}

#[test]
fn lists_every_scope_a_page_at_a_time_as_the_library_sees_it() {
    let (store, _dir) = sqlite_store();
    load(store.as_ref(), SUB, 130);
    load(store.as_ref(), OTHER, 3);
    let server = local_server(store.clone());
    let base = format!("http://{}", server.addr());
    let agent = client();
    let tenant = TenantId::new(SUB).unwrap();

    // Follow nextLink through the subscription's list: every alert once, in the library's order.
    let mut url = format!("{base}/subscriptions/{SUB}/providers/Microsoft.Security/alerts?{V}");
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let (status, page) = get(&agent, &url);
        assert_eq!(status, 200, "{page}");
        pages += 1;
        for a in page["value"].as_array().unwrap() {
            assert_eq!(a["type"], "Microsoft.Security/Locations/alerts");
            let name = a["name"].as_str().unwrap().to_owned();
            let id = a["id"].as_str().unwrap();
            assert!(
                id.starts_with(&format!("/subscriptions/{SUB}/resourceGroups/")),
                "{id}"
            );
            assert!(id.ends_with(&format!("/alerts/{name}")), "{id}");
            names.push(name);
        }
        match page["nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    // ARM's path words in any case (names keep theirs).
    let (status, page) = get(
        &agent,
        &format!(
            "{base}/SUBSCRIPTIONS/{SUB}/resourcegroups/prod/PROVIDERS/microsoft.security/Alerts?{V}"
        ),
    );
    assert_eq!(status, 200, "{page}");
    assert!(!page["value"].as_array().unwrap().is_empty());
    let mut expected = Vec::new();
    let mut q = AlertQuery::default().all_statuses().limit(1000);
    q.cursor = None;
    for s in store.query(&tenant, &q).unwrap().alerts {
        expected.push(s.alert.id().as_str().to_owned());
    }
    assert_eq!(names, expected);

    // The other scopes select by resource group and by region, like the library's filter.
    let all: Vec<_> = store.query(&tenant, &q).unwrap().alerts;
    let count = |rg: Option<&str>, loc: Option<&str>| {
        all.iter()
            .filter(|s| {
                let id = s.alert.resource_id().unwrap();
                let vm = s.alert.azure_resource_id().unwrap();
                rg.is_none_or(|rg| vm.contains(&format!("/resourceGroups/{rg}/")))
                    && loc.is_none_or(|l| id.contains(&format!("/locations/{l}/")))
            })
            .count()
    };
    let total = |path: &str| {
        let mut url = format!("{base}/subscriptions/{SUB}{path}?{V}");
        let mut seen = HashSet::new();
        loop {
            let (status, page) = get(&agent, &url);
            assert_eq!(status, 200, "{page}");
            for a in page["value"].as_array().unwrap() {
                assert!(seen.insert(a["name"].as_str().unwrap().to_owned()));
            }
            match page["nextLink"].as_str() {
                Some(next) => url = next.to_owned(),
                None => return seen.len(),
            }
        }
    };
    assert_eq!(
        total("/resourceGroups/prod/providers/Microsoft.Security/alerts"),
        count(Some("prod"), None)
    );
    assert_eq!(
        total("/providers/Microsoft.Security/locations/eastus/alerts"),
        count(None, Some("eastus"))
    );
    assert_eq!(
        total("/resourceGroups/dev/providers/Microsoft.Security/locations/westeurope/alerts"),
        count(Some("dev"), Some("westeurope"))
    );
    assert!(count(Some("dev"), Some("westeurope")) > 0);

    // Get one, at its own scope; the wrong region or resource group does not find it.
    let one = &all[7].alert;
    let loc = if one.resource_id().unwrap().contains("eastus") {
        "eastus"
    } else {
        "westeurope"
    };
    let rg = if one.azure_resource_id().unwrap().contains("/prod/") {
        "prod"
    } else {
        "dev"
    };
    let name = one.id().as_str();
    let (status, got) = get(
        &agent,
        &format!(
            "{base}/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Security/locations/{loc}/alerts/{name}?{V}"
        ),
    );
    assert_eq!(status, 200);
    assert_eq!(got["properties"]["alertDisplayName"], one.display_name());
    assert_eq!(got["properties"]["status"], "Active");
    let (status, _) = get(
        &agent,
        &format!(
            "{base}/subscriptions/{SUB}/providers/Microsoft.Security/locations/{loc}/alerts/{name}?{V}"
        ),
    );
    assert_eq!(status, 200, "the subscription-level get finds it too");
    let other_loc = if loc == "eastus" {
        "westeurope"
    } else {
        "eastus"
    };
    let (status, err) = get(
        &agent,
        &format!(
            "{base}/subscriptions/{SUB}/providers/Microsoft.Security/locations/{other_loc}/alerts/{name}?{V}"
        ),
    );
    assert_eq!((status, error_code(&err)), (404, "NotFound"));
}

#[test]
fn actions_follow_the_lifecycle_and_errors_use_the_arm_envelope() {
    let (store, _dir) = sqlite_store();
    load(store.as_ref(), SUB, 5);
    let server = local_server(store.clone());
    let base = format!("http://{}", server.addr());
    let agent = client();
    let tenant = TenantId::new(SUB).unwrap();
    let name = common::alert(SUB, 1).id().as_str().to_owned();
    let at = format!(
        "{base}/subscriptions/{SUB}/providers/Microsoft.Security/locations/westeurope/alerts/{name}"
    );
    let status_of = || {
        store
            .get(&tenant, &AlertId::new(name.as_str()).unwrap())
            .unwrap()
            .unwrap()
            .alert
            .status()
    };

    assert_eq!(post(&agent, &format!("{at}/inProgress?{V}")).0, 204);
    assert_eq!(status_of(), Status::InProgress);
    assert_eq!(post(&agent, &format!("{at}/dismiss?{V}")).0, 204);
    assert_eq!(status_of(), Status::Dismissed);
    // Again: already dismissed, nothing to do, still 204 and no second audit entry.
    assert_eq!(post(&agent, &format!("{at}/dismiss?{V}")).0, 204);
    // The lifecycle: a dismissed alert is reactivated before it is resolved.
    let (status, err) = post(&agent, &format!("{at}/resolve?{V}"));
    assert_eq!((status, error_code(&err)), (400, "BadRequest"));
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Dismissed"),
        "{err}"
    );
    assert_eq!(post(&agent, &format!("{at}/activate?{V}")).0, 204);
    assert_eq!(post(&agent, &format!("{at}/resolve?{V}")).0, 204);
    assert_eq!(status_of(), Status::Resolved);
    let trail = store
        .history(&tenant, &AlertId::new(name.as_str()).unwrap())
        .unwrap();
    let steps: Vec<_> = trail
        .iter()
        .map(|e| (e.from, e.to, e.actor.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            (Status::Active, Status::InProgress, "local"),
            (Status::InProgress, Status::Dismissed, "local"),
            (Status::Dismissed, Status::Active, "local"),
            (Status::Active, Status::Resolved, "local"),
        ]
    );

    // Errors.
    let (s, e) = post(&agent, &format!("{at}/explode?{V}"));
    assert_eq!((s, error_code(&e)), (404, "NotFound"));
    let (s, e) = get(
        &agent,
        &format!(
            "{base}/subscriptions/{SUB}/providers/Microsoft.Security/locations/westeurope/alerts/nope?{V}"
        ),
    );
    assert_eq!((s, error_code(&e)), (404, "NotFound"));
    let (s, e) = get(&agent, &at);
    assert_eq!((s, error_code(&e)), (400, "MissingApiVersionParameter"));
    let (s, e) = get(&agent, &format!("{at}?api-version=2019-01-01"));
    assert_eq!((s, error_code(&e)), (400, "InvalidApiVersionParameter"));
    let (s, e) = get(
        &agent,
        &format!(
            "{base}/subscriptions/{SUB}/providers/Microsoft.Security/alerts?{V}&$skipToken=garbage"
        ),
    );
    assert_eq!((s, error_code(&e)), (400, "BadRequest"));
    let (s, e) = get(&agent, &format!("{base}/no/such/thing"));
    assert_eq!((s, error_code(&e)), (404, "NotFound"));
}

#[test]
fn suppression_rules_are_created_replaced_listed_and_deleted() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    load(store.as_ref(), SUB, 10);
    let server = local_server(store.clone());
    let base = format!("http://{}", server.addr());
    let agent = client();
    let tenant = TenantId::new(SUB).unwrap();
    let rules =
        format!("{base}/subscriptions/{SUB}/providers/Microsoft.Security/alertsSuppressionRules");
    let body = json!({"properties": {
        "alertType": "VM_EICAR", "reason": "FalsePositive", "state": "Enabled",
        "comment": "test machines",
        "suppressionAlertsScope": {"allOf": [{"field": "entities.host.hostname", "in": ["vm-000"]}]}
    }});
    let (s, created) = json_of(
        agent
            .put(&format!("{rules}/eicar-tests?{RV}"))
            .send_json(&body)
            .unwrap(),
    );
    assert_eq!(s, 200, "{created}");
    assert_eq!(created["name"], "eicar-tests");
    assert_eq!(created["type"], "Microsoft.Security/alertsSuppressionRules");
    assert_eq!(created["properties"]["reason"], "FalsePositive");
    assert_eq!(
        store
            .get_rule(&tenant, "eicar-tests")
            .unwrap()
            .unwrap()
            .version,
        1
    );

    // Replace: same name, disabled.
    let mut disabled = body.clone();
    disabled["properties"]["state"] = json!("Disabled");
    let (s, replaced) = json_of(
        agent
            .put(&format!("{rules}/eicar-tests?{RV}"))
            .send_json(&disabled)
            .unwrap(),
    );
    assert_eq!(
        (s, replaced["properties"]["state"].as_str()),
        (200, Some("Disabled"))
    );
    let stored = store.get_rule(&tenant, "eicar-tests").unwrap().unwrap();
    assert_eq!(stored.version, 2);

    let (s, list) = get(&agent, &format!("{rules}?{RV}"));
    assert_eq!((s, list["value"].as_array().unwrap().len()), (200, 1));
    let (_, none) = get(&agent, &format!("{rules}?{RV}&AlertType=Other"));
    assert!(none["value"].as_array().unwrap().is_empty());
    let (s, one) = get(&agent, &format!("{rules}/eicar-tests?{RV}"));
    assert_eq!((s, one["name"].as_str()), (200, Some("eicar-tests")));

    // Bad rules: wrong JSON, a condition that does not compile, a name that disagrees.
    let put_raw = |name: &str, text: &str| {
        json_of(
            agent
                .put(&format!("{rules}/{name}?{RV}"))
                .content_type("application/json")
                .send(text)
                .unwrap(),
        )
    };
    let (s, e) = put_raw("x", "{not json");
    assert_eq!((s, error_code(&e)), (400, "BadRequest"));
    let (s, e) = put_raw(
        "x",
        r#"{"properties": {"alertType": "A", "reason": "Noise", "state": "Enabled",
        "suppressionAlertsScope": {"allOf": [{"field": "entities.ip.address", "cidr": "not-a-network"}]}}}"#,
    );
    assert_eq!((s, error_code(&e)), (400, "BadRequest"), "{e}");
    let (s, e) = put_raw("x", r#"{"name": "y", "properties": {}}"#);
    assert_eq!((s, error_code(&e)), (400, "BadRequest"));
    assert!(store.get_rule(&tenant, "x").unwrap().is_none());

    let (s, _) = json_of(
        agent
            .delete(&format!("{rules}/eicar-tests?{RV}"))
            .call()
            .unwrap(),
    );
    assert_eq!(s, 204);
    assert!(store.get_rule(&tenant, "eicar-tests").unwrap().is_none());
    let (s, e) = get(&agent, &format!("{rules}/eicar-tests?{RV}"));
    assert_eq!((s, error_code(&e)), (404, "NotFound"));
    let (s, e) = get(&agent, &format!("{rules}?{V}"));
    assert_eq!((s, error_code(&e)), (400, "InvalidApiVersionParameter"));
}

#[test]
fn vigil_additions_answer_under_their_own_prefix() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    load(store.as_ref(), SUB, 10);
    let server = local_server(store.clone());
    let base = format!("http://{}/vigil/v1/subscriptions/{SUB}", server.addr());
    let agent = client();
    let name = common::alert(SUB, 2).id().as_str().to_owned();

    let (s, counts) = get(&agent, &format!("{base}/counts?status=all"));
    assert_eq!(s, 200);
    assert_eq!(counts["byStatus"]["Active"], 10);
    assert_eq!(counts["bySeverity"]["High"], 3);

    let (s, _) = json_of(
        agent
            .post(&format!("{base}/alerts/{name}/feedback"))
            .send_json(json!({"useful": false, "reason": "TooNoisy", "comment": "again"}))
            .unwrap(),
    );
    assert_eq!(s, 204);
    let (_, fb) = get(&agent, &format!("{base}/alerts/{name}/feedback"));
    assert_eq!(fb["value"][0]["reason"], "TooNoisy");
    assert_eq!(fb["value"][0]["actor"], "local");
    let (s, e) = json_of(
        agent
            .post(&format!("{base}/alerts/{name}/feedback"))
            .send_json(json!({"useful": 3}))
            .unwrap(),
    );
    assert_eq!((s, error_code(&e)), (400, "BadRequest"));

    let rule = json!({"name": "sim", "properties": {"alertType": "VM_EICAR", "reason": "Noise", "state": "Enabled",
        "suppressionAlertsScope": {"allOf": [{"field": "entities.host.hostname", "in": ["vm-000", "vm-005"]}]}}});
    let (s, sim) = json_of(
        agent
            .post(&format!("{base}/simulate"))
            .send_json(&rule)
            .unwrap(),
    );
    assert_eq!((s, sim["total"].as_u64()), (200, Some(2)), "{sim}");

    let (s, related) = get(&agent, &format!("{base}/alerts/{name}/related"));
    assert_eq!(s, 200);
    assert!(related["value"].is_array());

    let (s, e) = get(
        &agent,
        &format!("{base}/alertsSuppressionRules/none/explain?alert={name}"),
    );
    assert_eq!((s, error_code(&e)), (404, "NotFound"));

    // The event log: a page, then the stream resumed after the first event.
    let (s, events) = get(&agent, &format!("{base}/events?after=0&limit=5"));
    assert_eq!(s, 200);
    assert_eq!(events["value"].as_array().unwrap().len(), 5);
    assert_eq!(events["value"][0]["seq"], 1);
    let mut r = agent
        .get(&format!("{base}/events/stream"))
        .header("Last-Event-ID", "1")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut reader = BufReader::new(r.body_mut().as_reader());
    let mut ids = Vec::new();
    let mut line = String::new();
    while ids.len() < 3 {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0);
        if let Some(id) = line.trim().strip_prefix("id:") {
            ids.push(id.trim().parse::<u64>().unwrap());
        }
    }
    assert_eq!(ids, [2, 3, 4]);
}

#[test]
fn eight_clients_dismissing_and_activating_lose_no_update() {
    let (store, _dir) = sqlite_store();
    load(store.as_ref(), SUB, 1);
    let server = local_server(store.clone());
    let name = common::alert(SUB, 0).id().as_str().to_owned();
    let at = format!(
        "http://{}/subscriptions/{SUB}/providers/Microsoft.Security/locations/eastus/alerts/{name}",
        server.addr()
    );
    std::thread::scope(|s| {
        for c in 0..8 {
            let at = at.clone();
            s.spawn(move || {
                let agent = client();
                for i in 0..15 {
                    let action = if (c + i) % 2 == 0 {
                        "dismiss"
                    } else {
                        "activate"
                    };
                    let (status, body) = post(&agent, &format!("{at}/{action}?{V}"));
                    assert_eq!(status, 204, "{body}");
                }
            });
        }
    });
    // Every change is in the audit trail, each from the status the previous one left, and the
    // version counts them all: no change was made over another without seeing it.
    let tenant = TenantId::new(SUB).unwrap();
    let id = AlertId::new(name.as_str()).unwrap();
    let trail = store.history(&tenant, &id).unwrap();
    let now = store.get(&tenant, &id).unwrap().unwrap();
    assert!(trail.len() >= 2, "some changes must have landed");
    for pair in trail.windows(2) {
        assert_eq!(pair[0].to, pair[1].from);
        assert_eq!(pair[0].version + 1, pair[1].version);
    }
    assert_eq!(trail.last().unwrap().to, now.alert.status());
    assert_eq!(trail.last().unwrap().version, now.version);
    assert_eq!(now.version, 1 + trail.len() as u64);
}

#[test]
fn security_headers_limits_and_cross_site_requests() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    load(store.as_ref(), SUB, 2);
    let server = local_server(store.clone());
    let base = format!("http://{}", server.addr());
    let agent = client();

    let r = agent
        .get(&format!("{base}/ui/t/{SUB}/alerts"))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let csp = r
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert_eq!(r.headers().get("x-frame-options").unwrap(), "DENY");
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    // A page on another site cannot post to the API or the page.
    let name = common::alert(SUB, 0).id().as_str().to_owned();
    let dismiss = format!(
        "{base}/subscriptions/{SUB}/providers/Microsoft.Security/locations/eastus/alerts/{name}/dismiss?{V}"
    );
    let (s, e) = json_of(
        agent
            .post(&dismiss)
            .header("Origin", "http://evil.example")
            .send_empty()
            .unwrap(),
    );
    assert_eq!((s, error_code(&e)), (403, "Forbidden"));
    let (s, _) = json_of(
        agent
            .post(&dismiss)
            .header("Sec-Fetch-Site", "cross-site")
            .send_empty()
            .unwrap(),
    );
    assert_eq!(s, 403);
    // Nor reach it under its own host name (DNS rebinding).
    let (s, _) = json_of(
        agent
            .get(&format!(
                "{base}/subscriptions/{SUB}/providers/Microsoft.Security/alerts?{V}"
            ))
            .header("Host", "evil.example")
            .call()
            .unwrap(),
    );
    assert_eq!(s, 403);
    let tenant = TenantId::new(SUB).unwrap();
    assert_eq!(
        store
            .get(&tenant, &AlertId::new(name.as_str()).unwrap())
            .unwrap()
            .unwrap()
            .alert
            .status(),
        Status::Active
    );

    // A page form without the CSRF token is refused; with it, it works.
    let form_url = format!("{base}/ui/t/{SUB}/alerts/{name}/status");
    let r = agent
        .post(&form_url)
        .send_form([("to", "Dismissed"), ("version", "1"), ("csrf", "x")])
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let csrf = "ab".repeat(32);
    let r = agent
        .post(&form_url)
        .header("Cookie", &format!("vigil_csrf={}", "cd".repeat(32)))
        .send_form([
            ("to", "Dismissed"),
            ("version", "1"),
            ("csrf", csrf.as_str()),
        ])
        .unwrap();
    assert_eq!(r.status().as_u16(), 403, "a token that is not the cookie's");
    let r = agent
        .post(&form_url)
        .header("Cookie", &format!("vigil_csrf={csrf}"))
        .send_form([
            ("to", "Dismissed"),
            ("version", "1"),
            ("csrf", csrf.as_str()),
        ])
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        store
            .get(&tenant, &AlertId::new(name.as_str()).unwrap())
            .unwrap()
            .unwrap()
            .alert
            .status(),
        Status::Dismissed
    );
    // The same form again holds a stale version: refused, nothing changed.
    let r = agent
        .post(&form_url)
        .header("Cookie", &format!("vigil_csrf={csrf}"))
        .send_form([("to", "Active"), ("version", "1"), ("csrf", csrf.as_str())])
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    assert_eq!(
        store
            .get(&tenant, &AlertId::new(name.as_str()).unwrap())
            .unwrap()
            .unwrap()
            .alert
            .status(),
        Status::Dismissed
    );

    // A body over the limit is 413; nonsense is a 4xx, never a 5xx.
    let rules = format!(
        "{base}/subscriptions/{SUB}/providers/Microsoft.Security/alertsSuppressionRules/big?{RV}"
    );
    // (Announced, not sent: the server answers before reading a byte of it.)
    let mut raw = std::net::TcpStream::connect(server.addr()).unwrap();
    write!(
        raw,
        "PUT {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        rules.trim_start_matches(&base),
        server.addr(),
        2 << 20
    )
    .unwrap();
    let mut answer = String::new();
    BufReader::new(raw).read_line(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    for body in [
        "",
        "[]",
        "null",
        "{\"properties\": 5}",
        "{\"properties\": {\"alertType\": []}}",
    ] {
        let r = agent
            .put(&rules)
            .content_type("application/json")
            .send(body)
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{body}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Each token sees exactly the tenants it is bound to: everything else is 404, as if there
    /// were nothing there, and an unknown token is 401.
    #[test]
    fn tokens_see_only_their_tenants(
        grants in prop::collection::vec(prop::collection::btree_set(0usize..3, 0..=3), 3),
        requests in prop::collection::vec((0usize..4, 0usize..3, 0usize..3), 1..12),
    ) {
        let tenants = ["t-a", "t-b", "t-c"];
        let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
        for t in tenants {
            load(store.as_ref(), t, 2);
        }
        let mut file = String::new();
        for (k, g) in grants.iter().enumerate() {
            let list: Vec<&str> = g.iter().map(|i| tenants[*i]).collect();
            let list = if list.is_empty() { "nobody".to_owned() } else { list.join(",") };
            file.push_str(&format!("user{k} token-{k}-0123456789abcdef {list}\n"));
        }
        let server = token_server(store.clone(), &file);
        let base = format!("http://{}", server.addr());
        for (k, t, op) in requests {
            // A connection per request: a refused POST leaves its body unread, so the server
            // closes that connection after answering.
            let agent = client();
            let token = format!("token-{k}-0123456789abcdef");
            let tenant = tenants[t];
            let name = common::alert(tenant, 1).id().as_str().to_owned();
            let req = match op {
                0 => agent.get(&format!("{base}/subscriptions/{tenant}/providers/Microsoft.Security/alerts?{V}")).header("Authorization", &format!("Bearer {token}")).call(),
                1 => agent.get(&format!("{base}/subscriptions/{tenant}/providers/Microsoft.Security/locations/westeurope/alerts/{name}?{V}")).header("Authorization", &format!("Bearer {token}")).call(),
                _ => agent.post(&format!("{base}/vigil/v1/subscriptions/{tenant}/alerts/{name}/feedback")).header("Authorization", &format!("Bearer {token}")).send_json(json!({"useful": true, "reason": "TruePositive"})),
            };
            let (status, body) = json_of(req.unwrap());
            let allowed = k < 3 && grants[k].contains(&t);
            let expected = if k >= 3 { 401 } else if !allowed { 404 } else if op == 2 { 204 } else { 200 };
            prop_assert_eq!(status, expected, "token {} tenant {} op {}: {}", k, tenant, op, body);
            if status == 404 {
                // Nothing about the tenant leaks into the answer.
                prop_assert!(!body.to_string().contains(&name));
            }
        }
        // Feedback landed only where it was allowed.
        for (t, tenant) in tenants.iter().enumerate() {
            let fb = store.list_feedback(&TenantId::new(*tenant).unwrap(), &Default::default()).unwrap();
            for (_, f) in &fb {
                let k: usize = f.actor.trim_start_matches("user").parse().unwrap();
                prop_assert!(grants[k].contains(&t));
            }
        }
    }
}

#[test]
fn without_a_token_nothing_is_answered_but_401() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    load(store.as_ref(), SUB, 2);
    let server = token_server(store, &format!("alice alice-0123456789abcdef {SUB}\n"));
    let base = format!("http://{}", server.addr());
    let agent = client();
    let list = format!("{base}/subscriptions/{SUB}/providers/Microsoft.Security/alerts?{V}");
    let r = agent.get(&list).call().unwrap();
    assert_eq!(
        r.headers().get("www-authenticate").unwrap(),
        "Bearer realm=\"vigil\""
    );
    let (s, e) = json_of(r);
    assert_eq!((s, error_code(&e)), (401, "AuthenticationFailed"));
    let (s, _) = json_of(
        agent
            .get(&list)
            .header("Authorization", "Bearer alice-0123456789abcdeX")
            .call()
            .unwrap(),
    );
    assert_eq!(s, 401);
    let (s, v) = json_of(
        agent
            .get(&list)
            .header("Authorization", "Bearer alice-0123456789abcdef")
            .call()
            .unwrap(),
    );
    assert_eq!((s, v["value"].as_array().unwrap().len()), (200, 2));
    // The page asks for the token, then keeps it in a cookie.
    let r = agent
        .get(&format!("{base}/ui/t/{SUB}/alerts"))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers().get("location").unwrap(), "/ui/login");
    let r = agent
        .post(&format!("{base}/ui/login"))
        .send_form([("token", "wrong-wrong-wrong-wrong")])
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = agent
        .post(&format!("{base}/ui/login"))
        .send_form([("token", "alice-0123456789abcdef")])
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let r = agent
        .get(&format!("{base}/ui/t/{SUB}/alerts"))
        .header("Cookie", &cookie)
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = agent
        .get(&format!("{base}/ui/t/{OTHER}/alerts"))
        .header("Cookie", &cookie)
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let alert_page = format!("{base}/ui/t/{SUB}/alerts/{}", common::alert(SUB, 1).id());
    let mut r = agent
        .get(&alert_page)
        .header("Cookie", &cookie)
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let html = r.body_mut().read_to_string().unwrap();
    assert!(html.contains("Signed in as alice"), "{html}");
    assert!(
        html.contains(&format!("aria-current=\"page\">{SUB}</a></nav>")),
        "{html}"
    );
    let r = agent
        .get(&format!("{base}/ui/go?tenant=a%20b"))
        .header("Cookie", &cookie)
        .call()
        .unwrap();
    let location = r
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        (r.status().as_u16(), location.as_str()),
        (303, "/ui/t/a%20b/alerts")
    );
}

#[test]
fn a_non_loopback_address_needs_tokens() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let err = vigil_serve::Server::spawn(
        store,
        vigil_serve::Config::new("0.0.0.0:0".parse().unwrap()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("--tokens"), "{err}");
}

fn pct(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever a client sends (names, query strings, bodies, forms), the answer is a 2xx, 3xx
    /// or 4xx, never a 5xx, and the server keeps answering.
    #[test]
    fn hostile_requests_get_4xx_never_5xx(
        name in ".{0,40}",
        query in "[ -~]{0,60}",
        body in prop::collection::vec(any::<u8>(), 0..300),
        json_body in prop_oneof![
            Just("{\"properties\": {\"alertType\": \"A\", \"reason\": \"Noise\", \"state\": \"Enabled\", \"suppressionAlertsScope\": {\"allOf\": []}}}".to_owned()),
            "[\\[\\]{}\":,a-z0-9 ]{0,80}",
        ],
        op in 0usize..9,
    ) {
        static SERVER: std::sync::OnceLock<(vigil_serve::Server, Arc<dyn Store>)> = std::sync::OnceLock::new();
        let (server, _) = SERVER.get_or_init(|| {
            let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
            load(store.as_ref(), SUB, 3);
            (local_server(store.clone()), store)
        });
        let base = format!("http://{}", server.addr());
        let agent = client();
        let n = pct(&name);
        let q: String = query
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b"=&-_.$".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        let a = format!("{base}/subscriptions/{SUB}/providers/Microsoft.Security");
        let response = match op {
            0 => agent.get(&format!("{a}/alerts?{q}")).call(),
            1 => agent.get(&format!("{a}/locations/{n}/alerts/{n}?{V}&{q}")).call(),
            2 => agent.post(&format!("{a}/locations/westeurope/alerts/{n}/dismiss?{V}")).send(&body[..]),
            3 => agent.put(&format!("{a}/alertsSuppressionRules/{n}?{RV}")).content_type("application/json").send(json_body.as_str()),
            4 => agent.put(&format!("{a}/alertsSuppressionRules/r?{RV}")).send(&body[..]),
            5 => agent.post(&format!("{base}/vigil/v1/subscriptions/{SUB}/simulate?{q}")).send(json_body.as_str()),
            6 => agent.post(&format!("{base}/vigil/v1/subscriptions/{n}/alerts/{n}/feedback")).send(&body[..]),
            7 => agent.get(&format!("{base}/ui/t/{SUB}/alerts?{q}")).call(),
            _ => agent
                .post(&format!("{base}/ui/t/{SUB}/alerts/{n}/suppress"))
                .header("Cookie", &format!("vigil_csrf={}", "ab".repeat(32)))
                .content_type("application/x-www-form-urlencoded")
                .send(format!("csrf={}&{q}", "ab".repeat(32))),
        };
        let status = response.unwrap().status().as_u16();
        prop_assert!((200..500).contains(&status), "op {} answered {}", op, status);
        let alive = client().get(&format!("{a}/alerts?{V}")).call().unwrap().status().as_u16();
        prop_assert_eq!(alive, 200);
    }
}

#[test]
fn a_client_trickling_its_headers_is_cut_off() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let mut config = vigil_serve::Config::new("127.0.0.1:0".parse().unwrap());
    config.header_timeout = std::time::Duration::from_millis(300);
    let server = vigil_serve::Server::spawn(store, config).unwrap();
    let mut raw = std::net::TcpStream::connect(server.addr()).unwrap();
    raw.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let start = std::time::Instant::now();
    write!(raw, "GET /ui/ HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").unwrap();
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut raw, &mut rest);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "the connection stayed open"
    );
    // Other clients are served meanwhile and after.
    let (s, _) = get(
        &client(),
        &format!("http://{}/vigil/v1/subscriptions/x/counts", server.addr()),
    );
    assert_eq!(s, 200);
}
