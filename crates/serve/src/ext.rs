//! Vigil's own additions to the API, under `/vigil/v1/subscriptions/{subscriptionId}` (kept
//! apart from Defender's paths). JSON in and out, ARM's error envelope, the same
//! authentication and tenant scoping as the Defender subset; no api-version.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /counts?status=open\|all\|Active,…` | alerts per severity and per status |
//! | `GET /alerts/{name}/related?limit=N` | related alerts with the relations that hold |
//! | `GET /alerts/{name}/history` | the audit trail |
//! | `GET /alerts/{name}/feedback` | feedback on the alert |
//! | `POST /alerts/{name}/feedback` | `{"useful": bool, "reason": "…", "comment": "…"}` → 204 |
//! | `POST /simulate?sample=N` | body: a suppression rule resource → what it would match |
//! | `GET /alertsSuppressionRules/{rule}/explain?alert={name}` | why the rule does or does not match |
//! | `GET /events?after=N&limit=M` | a page of the tenant's event log |
//! | `GET /events/stream?after=N` | the log as server-sent events, resumable (`Last-Event-ID`) |
//!
//! Automations are not served yet: the engine has none.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use serde_json::{Value, json};
use vigil_core::store::{AlertQuery, Feedback, FeedbackQuery, FeedbackReason, TenantId};
use vigil_core::{AlertId, Status};

use crate::api::{ApiError, ArmPath, Caller, query_params, rule_from_body, tenant_for};
use crate::{Shared, blocking};

/// The prefix of every route here.
pub const PREFIX: &str = "/vigil/v1/subscriptions/{sub}";

/// The most events one page or one stream read returns.
const EVENT_PAGE: usize = 500;

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(&format!("{PREFIX}/counts"), get(counts))
        .route(&format!("{PREFIX}/alerts/{{name}}/related"), get(related))
        .route(&format!("{PREFIX}/alerts/{{name}}/history"), get(history))
        .route(
            &format!("{PREFIX}/alerts/{{name}}/feedback"),
            get(list_feedback).post(add_feedback),
        )
        .route(&format!("{PREFIX}/simulate"), post(simulate))
        .route(
            &format!("{PREFIX}/alertsSuppressionRules/{{rule}}/explain"),
            get(explain),
        )
        .route(&format!("{PREFIX}/events"), get(events))
        .route(&format!("{PREFIX}/events/stream"), get(event_stream))
}

/// Parses a status filter: `open` (the default), `all`, or a comma-separated list.
pub(crate) fn statuses(text: Option<&str>) -> Result<Option<Vec<Status>>, String> {
    match text.map(str::trim) {
        None | Some("") | Some("open") => Ok(None),
        Some("all") => Ok(Some(Status::ALL.to_vec())),
        Some(list) => list
            .split(',')
            .map(|s| s.parse::<Status>().map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
    }
}

fn number(
    params: &std::collections::HashMap<String, String>,
    key: &str,
    default: u64,
    max: u64,
) -> Result<u64, ApiError> {
    match params.get(key) {
        None => Ok(default),
        Some(v) => v.parse::<u64>().ok().filter(|n| *n <= max).ok_or_else(|| {
            ApiError::bad_request(format!("{key} must be a whole number from 0 to {max}"))
        }),
    }
}

fn alert_id(path: &ArmPath) -> Result<AlertId, ApiError> {
    AlertId::new(path.get("name")).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// The tenant (the path's subscription, if the caller may see it) and the alert a
/// `…/alerts/{name}/…` path names.
fn alert_target(caller: &crate::Identity, path: &ArmPath) -> Result<(TenantId, AlertId), ApiError> {
    Ok((tenant_for(caller, path.get("sub"))?, alert_id(path)?))
}

async fn counts(
    State(state): State<Shared>,
    Caller(caller): Caller,
    path: ArmPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref())?;
    let tenant = tenant_for(&caller, path.get("sub"))?;
    let query = AlertQuery {
        statuses: statuses(params.get("status").map(String::as_str))
            .map_err(ApiError::bad_request)?,
        ..AlertQuery::default()
    };
    let store = state.store.clone();
    let c = blocking(move || store.counts(&tenant, &query)).await??;
    let sev: serde_json::Map<String, Value> = c
        .by_severity
        .iter()
        .map(|(s, n)| (s.as_str().to_owned(), json!(n)))
        .collect();
    let st: serde_json::Map<String, Value> = c
        .by_status
        .iter()
        .map(|(s, n)| (s.as_str().to_owned(), json!(n)))
        .collect();
    Ok(axum::Json(json!({"bySeverity": sev, "byStatus": st})).into_response())
}

async fn related(
    State(state): State<Shared>,
    Caller(caller): Caller,
    path: ArmPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref())?;
    let sub = path.get("sub").to_owned();
    let tenant = tenant_for(&caller, &sub)?;
    let id = alert_id(&path)?;
    let limit = number(&params, "limit", 20, 200)? as usize;
    let store = state.store.clone();
    let found = blocking(move || store.related(&tenant, &id, limit)).await??;
    let mut value = Vec::new();
    for r in &found {
        let relations: Vec<Value> = r
            .relations
            .iter()
            .map(|rel| json!(format!("{rel:?}")))
            .collect();
        value.push(json!({
            "alert": crate::api::alert_resource(&r.alert, &sub, &state.config.location)?,
            "relations": relations,
        }));
    }
    Ok(axum::Json(json!({ "value": value })).into_response())
}

async fn history(
    State(state): State<Shared>,
    Caller(caller): Caller,
    path: ArmPath,
) -> Result<Response, ApiError> {
    let (tenant, id) = alert_target(&caller, &path)?;
    let store = state.store.clone();
    let entries = blocking(move || store.history(&tenant, &id)).await??;
    let value: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "at": e.at.to_rfc3339(), "actor": e.actor, "from": e.from.as_str(),
                "to": e.to.as_str(), "comment": e.comment, "version": e.version,
            })
        })
        .collect();
    Ok(axum::Json(json!({ "value": value })).into_response())
}

async fn list_feedback(
    State(state): State<Shared>,
    Caller(caller): Caller,
    path: ArmPath,
) -> Result<Response, ApiError> {
    let (tenant, id) = alert_target(&caller, &path)?;
    let store = state.store.clone();
    let list = blocking(move || -> Result<_, vigil_core::store::StoreError> {
        if store.get(&tenant, &id)?.is_none() {
            return Err(vigil_core::store::StoreError::alert_not_found(&id));
        }
        let q = FeedbackQuery {
            alert: Some(id),
            ..FeedbackQuery::default()
        };
        store.list_feedback(&tenant, &q)
    })
    .await??;
    let value: Vec<Value> = list
        .iter()
        .map(|(_, f)| {
            json!({
                "useful": f.useful, "reason": f.reason.as_str(), "comment": f.comment,
                "actor": f.actor, "at": f.at.to_rfc3339(),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "value": value })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    useful: bool,
    reason: String,
    #[serde(default)]
    comment: Option<String>,
}

/// The longest feedback reason or comment accepted.
pub(crate) const MAX_TEXT: usize = 4000;

async fn add_feedback(
    State(state): State<Shared>,
    Caller(caller): Caller,
    path: ArmPath,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (tenant, id) = alert_target(&caller, &path)?;
    let body: FeedbackBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"useful\": true|false, \"reason\": \"…\", \"comment\": \"…\"}}: {e}"
        ))
    })?;
    let feedback = feedback(&caller, body.useful, &body.reason, body.comment.as_deref())
        .map_err(ApiError::bad_request)?;
    let store = state.store.clone();
    blocking(move || store.add_feedback(&tenant, &id, feedback)).await??;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Feedback from a form or a body, checked.
pub(crate) fn feedback(
    caller: &crate::Identity,
    useful: bool,
    reason: &str,
    comment: Option<&str>,
) -> Result<Feedback, String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err("give a reason".to_owned());
    }
    if reason.len() > MAX_TEXT || comment.is_some_and(|c| c.len() > MAX_TEXT) {
        return Err(format!(
            "reason and comment are limited to {MAX_TEXT} bytes"
        ));
    }
    let mut f = Feedback::new(
        useful,
        FeedbackReason::from_text(reason),
        caller.name(),
        Utc::now(),
    );
    if let Some(c) = comment.map(str::trim).filter(|c| !c.is_empty()) {
        f = f.comment(c);
    }
    Ok(f)
}

async fn simulate(
    State(state): State<Shared>,
    Caller(caller): Caller,
    path: ArmPath,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref())?;
    let tenant = tenant_for(&caller, path.get("sub"))?;
    let sample = number(&params, "sample", 10, 100)? as usize;
    let name = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "simulated".to_owned());
    let rule = rule_from_body(&body, &name)?;
    let store = state.store.clone();
    let sim = blocking(move || store.simulate(&tenant, &rule, Utc::now(), sample)).await??;
    let by_status: serde_json::Map<String, Value> = sim
        .by_status
        .iter()
        .map(|(s, n)| (s.as_str().to_owned(), json!(n)))
        .collect();
    let sample: Vec<&str> = sim.sample.iter().map(AlertId::as_str).collect();
    Ok(axum::Json(json!({
        "total": sim.total(), "open": sim.open(), "byStatus": by_status, "sample": sample,
    }))
    .into_response())
}

async fn explain(
    State(state): State<Shared>,
    Caller(caller): Caller,
    path: ArmPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref())?;
    let tenant = tenant_for(&caller, path.get("sub"))?;
    let rule = path.get("rule").to_owned();
    let alert = params
        .get("alert")
        .ok_or_else(|| ApiError::bad_request("name the alert: ?alert=NAME"))?;
    let id = AlertId::new(alert.as_str()).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let store = state.store.clone();
    let why = blocking(move || store.explain(&tenant, &rule, &id, Utc::now())).await??;
    let checks: Vec<Value> = why
        .checks()
        .iter()
        .map(|(what, ok)| json!({"check": what, "passed": ok}))
        .collect();
    Ok(axum::Json(json!({
        "matched": why.matched(), "checks": checks, "text": why.to_string(),
    }))
    .into_response())
}

fn event_json(e: &vigil_core::store::Event) -> Value {
    json!({"seq": e.seq, "at": e.at.to_rfc3339(), "kind": e.kind})
}

async fn events(
    State(state): State<Shared>,
    Caller(caller): Caller,
    path: ArmPath,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref())?;
    let tenant = tenant_for(&caller, path.get("sub"))?;
    let after = number(&params, "after", 0, u64::MAX)?;
    let limit = number(&params, "limit", 100, EVENT_PAGE as u64)?.max(1) as usize;
    let store = state.store.clone();
    let list = blocking(move || store.events_since(&tenant, after, limit)).await??;
    let last = list.last().map_or(after, |e| e.seq);
    let value: Vec<Value> = list.iter().map(event_json).collect();
    Ok(axum::Json(json!({"value": value, "last": last})).into_response())
}

/// How often the stream looks for new events when it has sent them all.
const POLL: Duration = Duration::from_millis(500);

async fn event_stream(
    State(state): State<Shared>,
    Caller(caller): Caller,
    path: ArmPath,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let params = query_params(raw.as_deref())?;
    let tenant = tenant_for(&caller, path.get("sub"))?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let after = match resume {
        Some(n) => n,
        None => number(&params, "after", 0, u64::MAX)?,
    };
    Ok(Sse::new(tail(state, tenant, after)).keep_alive(KeepAlive::default()))
}

/// The tenant's events after `after`, for ever: each as an SSE event with its number as id and
/// its type as event name.
fn tail(
    state: Shared,
    tenant: TenantId,
    after: u64,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    stream::unfold(
        (state, tenant, after, std::collections::VecDeque::new()),
        |(state, tenant, mut after, mut pending)| async move {
            loop {
                if let Some(e) = pending.pop_front() {
                    let e: vigil_core::store::Event = e;
                    after = e.seq;
                    let kind = serde_json::to_value(&e.kind)
                        .ok()
                        .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned))
                        .unwrap_or_else(|| "event".to_owned());
                    let sse = SseEvent::default()
                        .id(e.seq.to_string())
                        .event(kind)
                        .data(event_json(&e).to_string());
                    return Some((Ok(sse), (state, tenant, after, pending)));
                }
                let store = state.store.clone();
                let t = tenant.clone();
                match blocking(move || store.events_since(&t, after, EVENT_PAGE)).await {
                    Ok(Ok(list)) if !list.is_empty() => pending.extend(list),
                    Ok(Ok(_)) => tokio::time::sleep(POLL).await,
                    // A failing store ends the stream; the client resumes from its last id.
                    _ => return None,
                }
            }
        },
    )
}
