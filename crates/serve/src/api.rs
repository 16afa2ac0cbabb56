//! Defender for Cloud's REST API, the subset Vigil serves.
//!
//! Alerts, api-version `2022-01-01` (`Microsoft.Security/locations/alerts`):
//!
//! | operation | method and path (under `/subscriptions/{subscriptionId}`) |
//! |---|---|
//! | list | `GET /providers/Microsoft.Security/alerts` |
//! | list by resource group | `GET /resourceGroups/{rg}/providers/Microsoft.Security/alerts` |
//! | list by region | `GET /providers/Microsoft.Security/locations/{location}/alerts` |
//! | list by resource group and region | `GET /resourceGroups/{rg}/providers/Microsoft.Security/locations/{location}/alerts` |
//! | get | `GET [/resourceGroups/{rg}]/providers/Microsoft.Security/locations/{location}/alerts/{name}` |
//! | change status | `POST …/alerts/{name}/dismiss`, `/activate`, `/resolve`, `/inProgress` → 204 |
//!
//! Suppression rules, api-version `2019-01-01-preview`
//! (`/providers/Microsoft.Security/alertsSuppressionRules`): list (optionally `AlertType=`), get,
//! PUT (create or replace; 200), DELETE (204).
//!
//! The subscription id is the tenant. Lists return alerts of every status, most severe then
//! most recent first, a page at a time with ARM's `nextLink` (`$skipToken` carries the cursor).
//! An alert's ARM id is rebuilt from the request's subscription, the resource group of its
//! affected resource (if any is under that subscription) and its location (from its stored
//! resource id, else the server's default location). Errors use ARM's envelope,
//! `{"error": {"code", "message"}}`, with `NotFound` (404), `BadRequest` (400), `Conflict`
//! (409), `MissingApiVersionParameter` and `InvalidApiVersionParameter` (400) and
//! `AuthenticationFailed` (401).
//!
//! A status action that finds the alert already in the requested status succeeds without
//! changing it (the actions are idempotent, as PUT-like state setters); one the lifecycle does
//! not allow (e.g. resolving a dismissed alert) is `BadRequest`.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, OriginalUri, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::{Value, json};
use vigil_core::store::{
    AlertQuery, ErrorKind, ResourceFilter, StatusChange, StoreError, StoredAlert, StoredRule,
    TenantId, resource_ids,
};
use vigil_core::suppression::SuppressionRule;
use vigil_core::{AlertId, Status};

use crate::auth::Identity;
use crate::{Shared, blocking};

/// The api-version of the alert operations.
pub const ALERTS_API_VERSION: &str = "2022-01-01";
/// The api-version of the suppression-rule operations.
pub const RULES_API_VERSION: &str = "2019-01-01-preview";
/// The ARM type of an alert.
pub const ALERT_TYPE: &str = "Microsoft.Security/Locations/alerts";
/// The ARM type of a suppression rule.
pub const RULE_TYPE: &str = "Microsoft.Security/alertsSuppressionRules";

/// An error in ARM's envelope: `{"error": {"code": …, "message": …}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// ARM's error code (`NotFound`, `BadRequest`, `Conflict`, …).
    pub code: &'static str,
    /// What went wrong and what to do.
    pub message: String,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 404 `NotFound`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    /// 400 `BadRequest`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// 500 `InternalServerError`.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            message,
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let (status, code) = match e.kind() {
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "NotFound"),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "Conflict"),
            ErrorKind::AlreadyExists => (StatusCode::CONFLICT, "Conflict"),
            ErrorKind::InvalidInput => (StatusCode::BAD_REQUEST, "BadRequest"),
            ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
        };
        ApiError::new(status, code, e.message().to_owned())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(_: tokio::task::JoinError) -> ApiError {
        ApiError::internal("the request failed inside the server; it changed nothing")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"vigil\""),
            );
        }
        response
    }
}

/// The answer to a path no route serves: ARM's 404.
pub async fn not_found(uri: OriginalUri) -> ApiError {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::not_found(format!("no resource or operation at {path:?}"))
}

/// Who calls the API: a bearer token's identity (or [`Identity::local`] on a loopback server
/// without tokens). A missing or unknown token is 401 `AuthenticationFailed`.
pub struct Caller(pub Identity);

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let Some(tokens) = &state.config.tokens else {
            return Ok(Caller(Identity::local()));
        };
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::auth::bearer);
        match presented.and_then(|t| tokens.check(t)) {
            Some(id) => Ok(Caller(id.clone())),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "AuthenticationFailed",
                "authentication failed: send a valid token as `Authorization: Bearer <token>`",
            )),
        }
    }
}

/// Path parameters, with ARM's envelope on a path that cannot be decoded.
pub struct ArmPath(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for ArmPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| ArmPath(p))
            .map_err(|e| ApiError::bad_request(format!("the request path is invalid: {e}")))
    }
}

impl ArmPath {
    /// The path parameter `key`, or "" when the route has none.
    pub(crate) fn get(&self, key: &str) -> &str {
        self.0.get(key).map_or("", String::as_str)
    }
}

/// Query parameters (the last value of a repeated one wins).
pub(crate) fn query_params(raw: Option<&str>) -> Result<HashMap<String, String>, ApiError> {
    let Some(raw) = raw else {
        return Ok(HashMap::new());
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
        .map_err(|e| ApiError::bad_request(format!("the query string is invalid: {e}")))?;
    Ok(pairs.into_iter().collect())
}

fn check_api_version(params: &HashMap<String, String>, expected: &str) -> Result<(), ApiError> {
    match params.get("api-version") {
        None => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            format!("the api-version query parameter (?api-version=) is required; use {expected}"),
        )),
        Some(v) if v == expected => Ok(()),
        Some(v) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersionParameter",
            format!(
                "the api-version {:?} is not supported for this operation; the supported version is {expected}",
                v.chars().take(40).collect::<String>()
            ),
        )),
    }
}

/// The tenant a caller names in the path, if it may see it; otherwise the same 404 as for a
/// tenant with nothing in it.
pub(crate) fn tenant_for(caller: &Identity, subscription: &str) -> Result<TenantId, ApiError> {
    if !caller.may_see(subscription) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
            format!(
                "the subscription {:?} could not be found",
                subscription.chars().take(100).collect::<String>()
            ),
        ));
    }
    TenantId::new(subscription).map_err(ApiError::from)
}

/// The path's subscription and the tenant it names, if the caller may see it.
fn subscription(caller: &Identity, path: &ArmPath) -> Result<(String, TenantId), ApiError> {
    let sub = path.get("sub").to_owned();
    let tenant = tenant_for(caller, &sub)?;
    Ok((sub, tenant))
}

/// ARM's path words in the case the routes use, for a path written in any case (ARM matches
/// them ignoring case: `resourcegroups`, `microsoft.security`, `Alerts` are the same words).
/// Only the fixed words are touched, by position, never a subscription, resource group,
/// location, alert or rule name. `None` when the path needs no change.
pub(crate) fn canonical_path(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = path.split('/').collect();
    // parts[0] is the empty text before the leading slash.
    let word = |parts: &mut Vec<&str>, i: usize, words: &[&'static str]| -> Option<&'static str> {
        let found = words
            .iter()
            .find(|w| parts.get(i).is_some_and(|p| p.eq_ignore_ascii_case(w)))?;
        parts[i] = found;
        Some(found)
    };
    word(&mut parts, 1, &["subscriptions"])?;
    let mut i = 3;
    if word(&mut parts, i, &["resourceGroups", "providers"])? == "resourceGroups" {
        i += 2;
        word(&mut parts, i, &["providers"])?;
    }
    i += 1;
    word(&mut parts, i, &["Microsoft.Security"])?;
    i += 1;
    if word(
        &mut parts,
        i,
        &["alertsSuppressionRules", "alerts", "locations"],
    )? == "locations"
    {
        i += 2;
        word(&mut parts, i, &["alerts"]);
    }
    if parts.get(i) == Some(&"alerts") {
        word(
            &mut parts,
            i + 2,
            &["dismiss", "activate", "resolve", "inProgress"],
        );
    }
    let canonical = parts.join("/");
    (canonical != path).then_some(canonical)
}

/// The routes of the Defender subset.
pub(crate) fn routes() -> Router<Shared> {
    const SUB: &str = "/subscriptions/{sub}";
    const RG: &str = "/subscriptions/{sub}/resourceGroups/{rg}";
    const P: &str = "/providers/Microsoft.Security";
    let mut r = Router::new();
    for scope in [SUB, RG] {
        r = r
            .route(&format!("{scope}{P}/alerts"), get(list_alerts))
            .route(
                &format!("{scope}{P}/locations/{{loc}}/alerts"),
                get(list_alerts),
            )
            .route(
                &format!("{scope}{P}/locations/{{loc}}/alerts/{{name}}"),
                get(get_alert),
            )
            .route(
                &format!("{scope}{P}/locations/{{loc}}/alerts/{{name}}/{{action}}"),
                post(alert_action),
            );
    }
    r.route(&format!("{SUB}{P}/alertsSuppressionRules"), get(list_rules))
        .route(
            &format!("{SUB}{P}/alertsSuppressionRules/{{rule}}"),
            get(get_rule).put(put_rule).delete(delete_rule),
        )
}

/// Where an alert lives in ARM's terms.
pub(crate) struct ArmPlace {
    pub(crate) resource_group: Option<String>,
    pub(crate) location: String,
}

fn segment_after<'a>(id: &'a str, key: &str) -> Option<&'a str> {
    let mut parts = id.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case(key) {
            return parts.next().filter(|s| !s.is_empty());
        }
    }
    None
}

/// The resource group and location of an alert, as seen from `subscription`.
pub(crate) fn place(
    alert: &vigil_core::Alert,
    subscription: &str,
    default_location: &str,
) -> ArmPlace {
    let resource_group = resource_ids(alert)
        .into_iter()
        .filter(|id| {
            segment_after(id, "subscriptions").is_some_and(|s| s.eq_ignore_ascii_case(subscription))
        })
        .find_map(|id| segment_after(id, "resourceGroups").map(str::to_owned));
    let location = alert
        .resource_id()
        .and_then(|id| segment_after(id, "locations"))
        .unwrap_or(default_location)
        .to_owned();
    ArmPlace {
        resource_group,
        location,
    }
}

/// An alert as Defender's resource: its ARM id, name and type set for this subscription (the
/// alert is moved, not copied, so a page is written straight from the store's values).
pub(crate) fn arm_alert(
    alert: vigil_core::Alert,
    subscription: &str,
    default_location: &str,
) -> vigil_core::Alert {
    let here = place(&alert, subscription, default_location);
    let name = alert.id().clone();
    let id = match &here.resource_group {
        Some(rg) => format!(
            "/subscriptions/{subscription}/resourceGroups/{rg}/providers/Microsoft.Security/locations/{}/alerts/{name}",
            here.location
        ),
        None => format!(
            "/subscriptions/{subscription}/providers/Microsoft.Security/locations/{}/alerts/{name}",
            here.location
        ),
    };
    alert
        .into_builder()
        .resource_id(id)
        .name(name)
        .resource_type(ALERT_TYPE)
        .build()
}

/// An alert resource as a JSON value.
pub(crate) fn alert_resource(
    stored: &StoredAlert,
    subscription: &str,
    default_location: &str,
) -> Result<Value, ApiError> {
    serde_json::to_value(arm_alert(
        stored.alert.clone(),
        subscription,
        default_location,
    ))
    .map_err(|e| ApiError::internal(format!("an alert cannot be written as JSON: {e}")))
}

/// A JSON response written from a serializable value.
fn json_response(value: &impl serde::Serialize) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| ApiError::internal(format!("the answer cannot be written as JSON: {e}")))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

fn in_scope(
    alert: &vigil_core::Alert,
    subscription: &str,
    rg: Option<&str>,
    location: Option<&str>,
    default_location: &str,
) -> bool {
    let here = place(alert, subscription, default_location);
    rg.is_none_or(|rg| {
        here.resource_group
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case(rg))
    }) && location.is_none_or(|l| here.location.eq_ignore_ascii_case(l))
}

/// The most pages one list request reads looking for alerts in a region before it answers
/// with what it found and a `nextLink`.
const MAX_SCAN_PAGES: usize = 20;

async fn list_alerts(
    State(state): State<Shared>,
    Caller(caller): Caller,
    path: ArmPath,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref())?;
    check_api_version(&params, ALERTS_API_VERSION)?;
    let (sub, tenant) = subscription(&caller, &path)?;
    let rg = path.0.get("rg").cloned();
    let loc = path.0.get("loc").cloned();
    let mut query = AlertQuery::default()
        .all_statuses()
        .limit(state.config.page_size);
    if let Some(rg) = &rg {
        query = query.resource(ResourceFilter::Prefix(format!(
            "/subscriptions/{sub}/resourceGroups/{rg}/"
        )));
    }
    if let Some(token) = params.get("$skipToken") {
        let cursor = token
            .parse()
            .map_err(|e: StoreError| ApiError::bad_request(e.message().to_owned()))?;
        query = query.cursor(Some(cursor));
    }
    let store = state.store.clone();
    let default_location = state.config.location.clone();
    let (alerts, next) = {
        let sub = sub.clone();
        let rg = rg.clone();
        blocking(move || -> Result<_, StoreError> {
            let mut found = Vec::new();
            let mut q = query;
            for _ in 0..MAX_SCAN_PAGES {
                let page = store.query(&tenant, &q)?;
                found.extend(page.alerts.into_iter().filter(|s| {
                    in_scope(
                        &s.alert,
                        &sub,
                        rg.as_deref(),
                        loc.as_deref(),
                        &default_location,
                    )
                }));
                match page.next {
                    Some(next) if found.len() < q.limit => q.cursor = Some(next),
                    other => return Ok((found, other)),
                }
            }
            Ok((found, q.cursor))
        })
        .await??
    };
    let default_location = &state.config.location;
    let value: Vec<vigil_core::Alert> = alerts
        .into_iter()
        .map(|s| arm_alert(s.alert, &sub, default_location))
        .collect();
    let next_link = next.map(|next| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map_or_else(|| state.config.listen.to_string(), str::to_owned);
        format!(
            "http://{host}{}?api-version={ALERTS_API_VERSION}&$skipToken={next}",
            uri.path()
        )
    });
    #[derive(serde::Serialize)]
    struct List {
        value: Vec<vigil_core::Alert>,
        #[serde(rename = "nextLink", skip_serializing_if = "Option::is_none")]
        next_link: Option<String>,
    }
    json_response(&List { value, next_link })
}

/// Finds the alert a path names, in its tenant, resource group and region; 404 otherwise.
async fn find_alert(
    state: &Shared,
    caller: &Identity,
    path: &ArmPath,
) -> Result<(TenantId, StoredAlert), ApiError> {
    let (sub, tenant) = subscription(caller, path)?;
    let name = path.get("name");
    let missing = || {
        ApiError::not_found(format!(
            "the alert {:?} was not found",
            name.chars().take(200).collect::<String>()
        ))
    };
    let id = AlertId::new(name).map_err(|_| missing())?;
    let store = state.store.clone();
    let t = tenant.clone();
    let stored = blocking(move || store.get(&t, &id))
        .await??
        .ok_or_else(missing)?;
    if !in_scope(
        &stored.alert,
        &sub,
        path.0.get("rg").map(String::as_str),
        path.0.get("loc").map(String::as_str),
        &state.config.location,
    ) {
        return Err(missing());
    }
    Ok((tenant, stored))
}

async fn get_alert(
    State(state): State<Shared>,
    Caller(caller): Caller,
    path: ArmPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    check_api_version(&query_params(raw.as_deref())?, ALERTS_API_VERSION)?;
    let (_, stored) = find_alert(&state, &caller, &path).await?;
    json_response(&arm_alert(
        stored.alert,
        path.get("sub"),
        &state.config.location,
    ))
}

/// Changes an alert to `to` at whatever its version is, retrying when someone else changes it
/// first; a no-op if it is already in `to`. Returns whether it changed.
pub(crate) fn set_status(
    store: &dyn vigil_core::store::Store,
    tenant: &TenantId,
    id: &AlertId,
    change: StatusChange,
) -> Result<bool, StoreError> {
    const ATTEMPTS: usize = 16;
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let current = store
            .get(tenant, id)?
            .ok_or_else(|| StoreError::alert_not_found(id))?;
        if current.alert.status() == change.to {
            return Ok(false);
        }
        match store.change_status(tenant, id, current.version, change.clone(), Utc::now()) {
            Ok(_) => return Ok(true),
            Err(e) if e.kind() == ErrorKind::Conflict => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        StoreError::new(ErrorKind::Conflict, "the alert kept changing; try again")
    }))
}

async fn alert_action(
    State(state): State<Shared>,
    Caller(caller): Caller,
    path: ArmPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    check_api_version(&query_params(raw.as_deref())?, ALERTS_API_VERSION)?;
    let to = match path.get("action") {
        "dismiss" => Status::Dismissed,
        "activate" => Status::Active,
        "resolve" => Status::Resolved,
        "inProgress" => Status::InProgress,
        _ => {
            return Err(ApiError::not_found(
                "no such alert action; the actions are dismiss, activate, resolve and inProgress",
            ));
        }
    };
    let (tenant, stored) = find_alert(&state, &caller, &path).await?;
    let store = state.store.clone();
    let id = stored.alert.id().clone();
    let change = StatusChange::new(to, caller.name());
    blocking(move || set_status(store.as_ref(), &tenant, &id, change)).await??;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A suppression rule as Defender's resource.
pub(crate) fn rule_resource(stored: &StoredRule, subscription: &str) -> Result<Value, ApiError> {
    let mut value = serde_json::to_value(&stored.rule)
        .map_err(|e| ApiError::internal(format!("a rule cannot be written as JSON: {e}")))?;
    if let Value::Object(map) = &mut value {
        let name = stored.rule.name();
        let mut out = serde_json::Map::new();
        out.insert(
            "id".into(),
            Value::String(format!(
                "/subscriptions/{subscription}/providers/Microsoft.Security/alertsSuppressionRules/{name}"
            )),
        );
        out.insert("name".into(), Value::String(name.to_owned()));
        out.insert("type".into(), Value::String(RULE_TYPE.to_owned()));
        for (k, v) in std::mem::take(map) {
            if !matches!(k.as_str(), "id" | "name" | "type") {
                out.insert(k, v);
            }
        }
        if let Some(Value::Object(props)) = out.get_mut("properties") {
            props
                .entry("lastModifiedUtc")
                .or_insert_with(|| Value::String(stored.updated_at.to_rfc3339()));
        }
        *map = out;
    }
    Ok(value)
}

async fn list_rules(
    State(state): State<Shared>,
    Caller(caller): Caller,
    path: ArmPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref())?;
    check_api_version(&params, RULES_API_VERSION)?;
    let (sub, tenant) = subscription(&caller, &path)?;
    let store = state.store.clone();
    let rules = blocking(move || store.list_rules(&tenant)).await??;
    let alert_type = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("AlertType"))
        .map(|(_, v)| v.clone());
    let mut value = Vec::new();
    for r in rules.iter().filter(|r| {
        alert_type
            .as_deref()
            .is_none_or(|t| r.rule.alert_type().eq_ignore_ascii_case(t))
    }) {
        value.push(rule_resource(r, &sub)?);
    }
    Ok(axum::Json(json!({ "value": value })).into_response())
}

async fn get_rule(
    State(state): State<Shared>,
    Caller(caller): Caller,
    path: ArmPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    check_api_version(&query_params(raw.as_deref())?, RULES_API_VERSION)?;
    let (sub, tenant) = subscription(&caller, &path)?;
    let name = path.get("rule").to_owned();
    let store = state.store.clone();
    let n = name.clone();
    let rule = blocking(move || store.get_rule(&tenant, &n))
        .await??
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "the suppression rule {:?} was not found",
                name.chars().take(200).collect::<String>()
            ))
        })?;
    Ok(axum::Json(rule_resource(&rule, &sub)?).into_response())
}

/// Reads a rule resource from a request body; the name comes from the path (as in ARM).
pub(crate) fn rule_from_body(body: &[u8], name: &str) -> Result<SuppressionRule, ApiError> {
    let mut value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not JSON: {e}; send a suppression rule resource, {{\"properties\": {{…}}}}"
        ))
    })?;
    let Value::Object(map) = &mut value else {
        return Err(ApiError::bad_request(
            "the body must be a suppression rule resource, {\"properties\": {…}}",
        ));
    };
    if let Some(given) = map.get("name").and_then(Value::as_str)
        && given != name
    {
        return Err(ApiError::bad_request(format!(
            "the body names the rule {given:?} but the path names {name:?}; they must agree"
        )));
    }
    map.insert("name".into(), Value::String(name.to_owned()));
    map.remove("id");
    map.remove("type");
    SuppressionRule::from_json(value).map_err(|e| ApiError::bad_request(e.to_string()))
}

async fn put_rule(
    State(state): State<Shared>,
    Caller(caller): Caller,
    path: ArmPath,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_api_version(&query_params(raw.as_deref())?, RULES_API_VERSION)?;
    let (sub, tenant) = subscription(&caller, &path)?;
    let name = path.get("rule").to_owned();
    let rule = rule_from_body(&body, &name)?;
    let store = state.store.clone();
    let stored = blocking(move || -> Result<StoredRule, StoreError> {
        let mut last = None;
        for _ in 0..8 {
            let at = Utc::now();
            let result = match store.get_rule(&tenant, &name)? {
                Some(existing) => store.update_rule(&tenant, rule.clone(), existing.version, at),
                None => store
                    .create_rules(&tenant, vec![rule.clone()], at, false)
                    .and_then(|mut created| {
                        created.pop().map(|c| c.rule).ok_or_else(|| {
                            StoreError::new(ErrorKind::Corrupt, "the store created no rule")
                        })
                    }),
            };
            match result {
                Err(e) if matches!(e.kind(), ErrorKind::Conflict | ErrorKind::AlreadyExists) => {
                    last = Some(e);
                }
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| StoreError::new(ErrorKind::Conflict, "try again")))
    })
    .await??;
    Ok(axum::Json(rule_resource(&stored, &sub)?).into_response())
}

async fn delete_rule(
    State(state): State<Shared>,
    Caller(caller): Caller,
    path: ArmPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    check_api_version(&query_params(raw.as_deref())?, RULES_API_VERSION)?;
    let tenant = tenant_for(&caller, path.get("sub"))?;
    let name = path.get("rule").to_owned();
    let store = state.store.clone();
    let n = name.clone();
    blocking(move || store.delete_rule(&tenant, &n, Utc::now())).await??;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::canonical_path;

    #[test]
    fn arm_words_in_any_case_route_like_the_canonical_ones() {
        let canonical = "/subscriptions/Sub/resourceGroups/Alerts/providers/Microsoft.Security/locations/Providers/alerts/Dismiss/inProgress";
        assert_eq!(canonical_path(canonical), None);
        assert_eq!(
            canonical_path("/SUBSCRIPTIONS/Sub/resourcegroups/Alerts/PROVIDERS/microsoft.security/Locations/Providers/ALERTS/Dismiss/inprogress")
                .as_deref(),
            Some(canonical)
        );
        assert_eq!(
            canonical_path(
                "/subscriptions/s/providers/microsoft.Security/AlertsSuppressionRules/Rule"
            )
            .as_deref(),
            Some("/subscriptions/s/providers/Microsoft.Security/alertsSuppressionRules/Rule")
        );
        assert_eq!(
            canonical_path("/subscriptions/s/providers/Microsoft.Security/Alerts").as_deref(),
            Some("/subscriptions/s/providers/Microsoft.Security/alerts")
        );
        // Names are never touched, and other paths are left alone.
        assert_eq!(
            canonical_path("/subscriptions/s/providers/Microsoft.Security/alerts/x/y"),
            None
        );
        assert_eq!(canonical_path("/vigil/v1/subscriptions/s/counts"), None);
        assert_eq!(canonical_path("/ui/t/Subscriptions/alerts"), None);
        assert_eq!(canonical_path("/"), None);
        assert_eq!(canonical_path(""), None);
    }
}
