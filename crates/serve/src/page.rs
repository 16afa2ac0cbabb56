//! The triage page, under `/ui/`: server-rendered HTML (minijinja templates, every value
//! escaped), no JavaScript, one stylesheet.
//!
//! - `/ui/t/{tenant}/alerts`: **Security alerts**, the queue: open alerts, most severe then
//!   most recent first; counts by severity; filters (status, severity, type, resource, intent,
//!   time, text); paging. Dismissed is one filter away.
//! - `/ui/t/{tenant}/alerts/{id}`: the alert's left pane (severity, status, activity time,
//!   affected resource) and two tabs: **Alert details** (description, affected resources, the
//!   kill-chain intent on the ATT&CK tactic strip with techniques by name, entities, extended
//!   properties, links, related alerts, audit trail, feedback) and **Take action**
//!   (`?tab=action`: mitigation steps, suppress similar alerts with a simulated count before
//!   saving and an explanation after, change status, feedback).
//!
//! Forms post back here and answer with a redirect (post/redirect/get). Every form carries a
//! CSRF token that must match the `vigil_csrf` cookie (`SameSite=Strict`, `HttpOnly`); a stale
//! version in a status change is refused, not applied over someone else's change. With tokens,
//! `/ui/login` takes a token once and keeps it in an `HttpOnly`, `SameSite=Strict` cookie.

// Handlers answer with a whole page on every path, errors included.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Form, FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{Duration, Utc};
use minijinja::Environment;
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use vigil_core::attack::Catalog;
use vigil_core::store::{
    AlertQuery, ErrorKind, FeedbackQuery, FeedbackReason, ResourceFilter, StatusChange, StoreError,
    StoredAlert, SuppressSimilar, TenantId,
};
use vigil_core::suppression::{SuppressionReason, similar_rule};
use vigil_core::{AlertId, KillChainIntent, Severity, Status};

use crate::auth::Identity;
use crate::security::random_token;
use crate::{ServeError, Shared, blocking};

const CSRF_COOKIE: &str = "vigil_csrf";
const TOKEN_COOKIE: &str = "vigil_token";

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("queue.html", include_str!("../templates/queue.html")),
    ("alert.html", include_str!("../templates/alert.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("message.html", include_str!("../templates/message.html")),
];

const CSS: &str = include_str!("../templates/vigil.css");

/// The field paths "suppress similar" offers, where the alert has a value.
pub const SIMILAR_FIELDS: &[&str] = &[
    "entities.host.hostname",
    "entities.ip.address",
    "entities.account.name",
    "entities.process.commandline",
    "entities.file.name",
    "entities.filehash.value",
    "entities.azureresource.resourceid",
    "entities.malware.name",
    "entities.host.azureid",
];

/// The suppression reasons the page offers (Defender's).
const RULE_REASONS: &[&str] = &[
    "FalsePositive",
    "SpecificEntityFalsePositive",
    "Noise",
    "NotRelevant",
    "AlertSeverityTooHigh",
    "Unclear",
];

/// The compiled page templates (auto-escaping HTML).
pub(crate) struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub(crate) fn new() -> Result<Templates, ServeError> {
        let mut env = Environment::new();
        // Every template name ends in .html, so minijinja escapes every value as HTML.
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| ServeError::Template {
                    name: (*name).to_owned(),
                    message: e.to_string(),
                })?;
        }
        Ok(Templates { env })
    }

    fn render(&self, name: &str, ctx: &Value) -> Response {
        match self.env.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(html) => Html(html).into_response(),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the page {name} cannot be shown: {e}"),
            )
                .into_response(),
        }
    }
}

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(home))
        .route("/ui/", get(home))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/go", get(go_to_tenant))
        .route("/ui/logout", post(logout))
        .route("/static/vigil.css", get(css))
        .route("/ui/t/{tenant}/alerts", get(queue))
        .route("/ui/t/{tenant}/alerts/{id}", get(alert_page))
        .route("/ui/t/{tenant}/alerts/{id}/status", post(change_status))
        .route("/ui/t/{tenant}/alerts/{id}/feedback", post(add_feedback))
        .route("/ui/t/{tenant}/alerts/{id}/suppress", post(suppress))
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        CSS,
    )
        .into_response()
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(response: &mut Response, name: &str, value: &str, max_age: Option<i64>) {
    let age = max_age.map_or(String::new(), |a| format!("; Max-Age={a}"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict{age}"
    )) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Who looks at the page, and the CSRF token its forms carry.
pub(crate) struct Viewer {
    identity: Identity,
    csrf: String,
    new_csrf: bool,
}

impl Viewer {
    fn finish(&self, mut response: Response) -> Response {
        if self.new_csrf {
            set_cookie(&mut response, CSRF_COOKIE, &self.csrf, None);
        }
        response
    }

    fn check_csrf(&self, presented: &str) -> Result<(), Response> {
        if !self.new_csrf && bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes())) {
            Ok(())
        } else {
            Err((
                StatusCode::FORBIDDEN,
                "the form is stale or came from another site (CSRF check failed): reload the page and try again",
            )
                .into_response())
        }
    }
}

impl FromRequestParts<Shared> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Response> {
        let identity = match &state.config.tokens {
            None => Identity::local(),
            Some(tokens) => {
                match cookie(&parts.headers, TOKEN_COOKIE).and_then(|t| tokens.check(t)) {
                    Some(id) => id.clone(),
                    None => return Err(Redirect::to("/ui/login").into_response()),
                }
            }
        };
        let existing = cookie(&parts.headers, CSRF_COOKIE)
            .filter(|c| c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()));
        Ok(match existing {
            Some(c) => Viewer {
                identity,
                csrf: c.to_owned(),
                new_csrf: false,
            },
            None => Viewer {
                identity,
                csrf: random_token(),
                new_csrf: true,
            },
        })
    }
}

fn message(state: &Shared, status: StatusCode, title: &str, text: &str) -> Response {
    let mut r = state
        .pages
        .render("message.html", &json!({"title": title, "text": text}));
    *r.status_mut() = status;
    r
}

fn store_error(state: &Shared, e: &StoreError) -> Response {
    let status = match e.kind() {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict | ErrorKind::AlreadyExists => StatusCode::CONFLICT,
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    message(state, status, "That did not work", e.message())
}

fn tenant_or_404(state: &Shared, viewer: &Viewer, tenant: &str) -> Result<TenantId, Response> {
    if !viewer.identity.may_see(tenant) {
        return Err(message(
            state,
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such tenant.",
        ));
    }
    TenantId::new(tenant).map_err(|e| store_error(state, &e))
}

/// The tenant and alert a `/ui/t/{tenant}/alerts/{id}` page names, or the
/// "not found" page for either.
fn alert_or_404(
    state: &Shared,
    viewer: &Viewer,
    tenant: &str,
    id: String,
) -> Result<(TenantId, AlertId), Response> {
    let tenant = tenant_or_404(state, viewer, tenant)?;
    let Ok(id) = AlertId::new(id) else {
        return Err(message(
            state,
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such alert.",
        ));
    };
    Ok((tenant, id))
}

/// The tenant and alert a state-changing form names, once its CSRF token `csrf` checks out.
fn posted_alert(
    state: &Shared,
    viewer: &Viewer,
    csrf: &str,
    tenant: &str,
    id: String,
) -> Result<(TenantId, AlertId), Response> {
    viewer.check_csrf(csrf)?;
    alert_or_404(state, viewer, tenant, id)
}

/// The page shown when the blocking store call itself failed.
fn request_failed(state: &Shared) -> Response {
    message(
        state,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Error",
        "The request failed.",
    )
}

async fn home(State(state): State<Shared>, viewer: Viewer) -> Response {
    let tenant = match viewer.identity.tenants() {
        Some([only, ..]) if !viewer.identity.may_see(&state.config.default_tenant) => only.clone(),
        _ => state.config.default_tenant.clone(),
    };
    viewer.finish(Redirect::to(&format!("/ui/t/{}/alerts", enc(&tenant))).into_response())
}

/// Percent-encodes a path segment or query value.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The tenants an identity bound to some may open, with their queues' links; `None` for an
/// identity that sees every tenant (the page offers a field instead).
fn tenant_links(identity: &Identity) -> Option<Vec<Value>> {
    identity.tenants().map(|list| {
        list.iter()
            .map(|t| json!({"name": t, "href": format!("/ui/t/{}/alerts", enc(t))}))
            .collect()
    })
}

/// The tenant switcher's target: `/ui/go?tenant=NAME` opens that tenant's queue.
async fn go_to_tenant(viewer: Viewer, RawQuery(raw): RawQuery) -> Response {
    let params = crate::api::query_params(raw.as_deref()).unwrap_or_default();
    let tenant = params.get("tenant").map(|t| t.trim()).unwrap_or("");
    let target = if tenant.is_empty() {
        "/ui/".to_owned()
    } else {
        format!("/ui/t/{}/alerts", enc(tenant))
    };
    viewer.finish(Redirect::to(&target).into_response())
}

async fn login_form(State(state): State<Shared>) -> Response {
    state.pages.render("login.html", &json!({"error": null}))
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(state): State<Shared>, Form(form): Form<LoginForm>) -> Response {
    let token = form.token.trim();
    let known = state
        .config
        .tokens
        .as_ref()
        .is_some_and(|t| t.check(token).is_some());
    if !known {
        let mut r = state
            .pages
            .render("login.html", &json!({"error": "That token is not valid."}));
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    }
    let mut r = Redirect::to("/ui/").into_response();
    // Only the token's own characters can be in a cookie value.
    if token
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b';' && b != b',')
    {
        set_cookie(&mut r, TOKEN_COOKIE, token, Some(12 * 3600));
    }
    r
}

async fn logout() -> Response {
    let mut r = Redirect::to("/ui/login").into_response();
    set_cookie(&mut r, TOKEN_COOKIE, "", Some(0));
    r
}

fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        _ => "info",
    }
}

fn time_text(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The alert's main affected resource, for the queue.
fn affected(alert: &vigil_core::Alert) -> String {
    alert
        .compromised_entity()
        .map(str::to_owned)
        .or_else(|| {
            vigil_core::store::resource_ids(alert)
                .first()
                .map(|id| id.rsplit('/').next().unwrap_or(id).to_owned())
        })
        .unwrap_or_default()
}

fn row(s: &StoredAlert) -> Value {
    let a = &s.alert;
    json!({
        "id": a.id().as_str(),
        "href": enc(a.id().as_str()),
        "title": a.display_name(),
        "severity": a.severity().as_str(),
        "sev_class": severity_class(a.severity()),
        "status": a.status().as_str(),
        "resource": affected(a),
        "time": a.time_generated().format("%Y-%m-%d %H:%M").to_string(),
        "intents": a.intents().iter().map(|i| i.as_str().to_owned()).collect::<Vec<_>>(),
        "suppressed_by": s.suppression.as_ref().map(|x| x.rule.clone()),
    })
}

#[derive(Default)]
struct Filters {
    status: String,
    severity: String,
    alert_type: String,
    resource: String,
    intent: String,
    since: String,
    text: String,
    cursor: String,
}

impl Filters {
    fn from_params(p: &HashMap<String, String>) -> Filters {
        let g = |k: &str| {
            p.get(k)
                .map(|v| v.trim().chars().take(500).collect::<String>())
                .unwrap_or_default()
        };
        Filters {
            status: g("status"),
            severity: g("severity"),
            alert_type: g("type"),
            resource: g("resource"),
            intent: g("intent"),
            since: g("since"),
            text: g("q"),
            cursor: g("cursor"),
        }
    }

    fn query(&self) -> Result<AlertQuery, String> {
        let mut q = AlertQuery {
            statuses: crate::ext::statuses(Some(&self.status))?,
            ..AlertQuery::default()
        };
        if !self.severity.is_empty() {
            let s: Severity = self.severity.parse().map_err(|e| format!("{e}"))?;
            q = q.severities([s]);
        }
        if !self.alert_type.is_empty() {
            q = q.alert_types([self.alert_type.clone()]);
        }
        if !self.resource.is_empty() {
            q = q.resource(ResourceFilter::Prefix(self.resource.clone()));
        }
        if !self.intent.is_empty() {
            let i: KillChainIntent = self.intent.parse().map_err(|e| format!("{e}"))?;
            q = q.intents([i]);
        }
        let since = match self.since.as_str() {
            "" | "all" => None,
            "24h" => Some(Duration::hours(24)),
            "7d" => Some(Duration::days(7)),
            "30d" => Some(Duration::days(30)),
            other => {
                return Err(format!(
                    "unknown time range {other:?} (24h, 7d, 30d or all)"
                ));
            }
        };
        if let Some(d) = since {
            q = q.since(Utc::now() - d);
        }
        if !self.text.is_empty() {
            q = q.text(self.text.clone());
        }
        if !self.cursor.is_empty() {
            let c = self
                .cursor
                .parse()
                .map_err(|e: StoreError| e.message().to_owned())?;
            q = q.cursor(Some(c));
        }
        Ok(q)
    }

    /// The query string of these filters (without the cursor), for links.
    fn link(&self, status: Option<&str>, severity: Option<&str>) -> String {
        let mut parts = Vec::new();
        let pairs = [
            ("status", status.unwrap_or(&self.status)),
            ("severity", severity.unwrap_or(&self.severity)),
            ("type", &self.alert_type),
            ("resource", &self.resource),
            ("intent", &self.intent),
            ("since", &self.since),
            ("q", &self.text),
        ];
        for (k, v) in pairs {
            if !v.is_empty() {
                parts.push(format!("{k}={}", enc(v)));
            }
        }
        parts.join("&")
    }
}

async fn queue(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(tenant_name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let tenant = match tenant_or_404(&state, &viewer, &tenant_name) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let params = crate::api::query_params(raw.as_deref()).unwrap_or_default();
    let filters = Filters::from_params(&params);
    let query = match filters.query() {
        Ok(q) => q,
        Err(e) => {
            return viewer.finish(message(
                &state,
                StatusCode::BAD_REQUEST,
                "Check the filters",
                &e,
            ));
        }
    };
    let mut counting = query.clone();
    counting.severities = None;
    counting.cursor = None;
    let store = state.store.clone();
    let t = tenant.clone();
    let result = blocking(move || -> Result<_, StoreError> {
        let page = store.query(&t, &query)?;
        let counts = store.counts(&t, &counting)?;
        let mut all = counting.clone();
        all.statuses = Some(Status::ALL.to_vec());
        let by_status = store.counts(&t, &all)?.by_status;
        Ok((page, counts, by_status))
    })
    .await;
    let (page, counts, by_status) = match result {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return viewer.finish(store_error(&state, &e)),
        Err(_) => {
            return request_failed(&state);
        }
    };
    let base = format!("/ui/t/{}/alerts", enc(tenant.as_str()));
    let severities: Vec<Value> = counts
        .by_severity
        .iter()
        .map(|(s, n)| {
            json!({"name": s.as_str(), "class": severity_class(*s), "count": n,
                   "href": format!("{base}?{}", filters.link(None, Some(s.as_str()))),
                   "selected": filters.severity.eq_ignore_ascii_case(s.as_str())})
        })
        .collect();
    let statuses: Vec<Value> = by_status
        .iter()
        .map(|(s, n)| {
            json!({"name": s.as_str(), "count": n,
                   "href": format!("{base}?{}", filters.link(Some(s.as_str()), None)),
                   "selected": filters.status.eq_ignore_ascii_case(s.as_str())})
        })
        .collect();
    let next = page.next.map(|c| {
        format!(
            "{base}?{}&cursor={}",
            filters.link(None, None),
            enc(&c.to_string())
        )
    });
    let ctx = json!({
        "tenant": tenant.as_str(),
        "tenants": tenant_links(&viewer.identity),
        "user": viewer.identity.name(),
        "auth": state.config.tokens.is_some(),
        "csrf": viewer.csrf,
        "base": base,
        "rows": page.alerts.iter().map(row).collect::<Vec<_>>(),
        "severities": severities,
        "statuses": statuses,
        "open_href": format!("{base}?{}", filters.link(Some("open"), None)),
        "f": {
            "status": filters.status, "severity": filters.severity, "type": filters.alert_type,
            "resource": filters.resource, "intent": filters.intent, "since": filters.since,
            "q": filters.text,
        },
        "status_options": ["open", "Active", "InProgress", "Resolved", "Dismissed", "all"],
        "severity_options": ["High", "Medium", "Low", "Informational"],
        "intent_options": KillChainIntent::named().iter().map(|i| i.as_str().to_owned()).collect::<Vec<_>>(),
        "next": next,
        "first": (!filters.cursor.is_empty()).then(|| format!("{base}?{}", filters.link(None, None))),
    });
    viewer.finish(state.pages.render("queue.html", &ctx))
}

/// A link's target, only if it is a web address (never `javascript:` or the like).
fn web_href(href: &str) -> Option<&str> {
    let lower = href
        .trim_start()
        .get(..8)
        .unwrap_or("")
        .to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(href)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What the Take action tab shows after a form: a simulation, an explanation, a message.
#[derive(Default)]
struct ActionState {
    simulation: Option<Value>,
    suppress_form: Option<SuppressForm>,
    explain: Option<String>,
    error: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn alert_context(
    state: &Shared,
    viewer: &Viewer,
    tenant: &TenantId,
    stored: &StoredAlert,
    extra: &AlertExtra,
    tab: &str,
    notice: Option<&str>,
    action: &ActionState,
) -> Value {
    let a = &stored.alert;
    let catalog = Catalog::current();
    let mut mapped = Vec::new();
    for i in a.intents() {
        mapped.extend(i.nearest_tactics().iter().copied());
    }
    let tactics: Vec<Value> = catalog
        .tactics()
        .map(|t| json!({"id": t.id().to_string(), "name": t.name(), "hit": mapped.contains(&t.id())}))
        .collect();
    let techniques: Vec<Value> = a
        .techniques()
        .iter()
        .chain(a.sub_techniques())
        .map(|t| {
            json!({"id": t.to_string(),
                   "name": catalog.resolve(*t).map(|x| x.full_name()).unwrap_or_else(|| "(not in the ATT&CK catalog)".to_owned())})
        })
        .collect();
    let entities: Vec<Value> = a
        .entities()
        .iter()
        .map(|e| {
            let props: Vec<Value> = e
                .properties()
                .iter()
                .filter(|(k, _)| k.as_str() != "$id" && !k.eq_ignore_ascii_case("type"))
                .map(|(k, v)| json!({"key": k, "value": value_text(v)}))
                .collect();
            json!({"kind": e.kind().type_name(), "props": props})
        })
        .collect();
    let extended: Vec<Value> = a
        .extended_properties()
        .iter()
        .map(|(k, v)| json!({"key": k, "value": value_text(v)}))
        .collect();
    let links: Vec<Value> = a
        .extended_links()
        .iter()
        .map(|l| {
            let href = l.href().unwrap_or("");
            json!({"label": l.label().unwrap_or(href), "href": web_href(href), "text": href})
        })
        .collect();
    let resources: Vec<String> = vigil_core::store::resource_ids(a)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let base = format!("/ui/t/{}/alerts", enc(tenant.as_str()));
    let me = format!("{base}/{}", enc(a.id().as_str()));
    let suppress = action.suppress_form.clone().unwrap_or_default();
    let fields: Vec<Value> = SIMILAR_FIELDS
        .iter()
        .filter_map(|f| {
            let rule = similar_rule(a, "preview", SuppressionReason::Noise, &[f]).ok()?;
            let values = rule
                .conditions()
                .first()
                .and_then(|c| c.as_json().get("in").cloned())
                .map(|v| match v {
                    Value::Array(items) => {
                        items.iter().map(value_text).collect::<Vec<_>>().join(", ")
                    }
                    other => value_text(&other),
                })
                .unwrap_or_default();
            Some(json!({"path": f, "values": values,
                        "checked": suppress.fields.iter().any(|x| x == f)}))
        })
        .collect();
    json!({
        "tenant": tenant.as_str(),
        "tenants": tenant_links(&viewer.identity),
        "user": viewer.identity.name(),
        "auth": state.config.tokens.is_some(),
        "csrf": viewer.csrf,
        "base": base,
        "me": me,
        "tab": tab,
        "notice": notice,
        "a": {
            "id": a.id().as_str(),
            "system_id": a.system_alert_id().as_str(),
            "title": a.display_name(),
            "type": a.alert_type(),
            "severity": a.severity().as_str(),
            "sev_class": severity_class(a.severity()),
            "status": a.status().as_str(),
            "version": stored.version,
            "time": time_text(a.time_generated()),
            "start": a.start_time().map(time_text),
            "end": a.end_time().map(time_text),
            "description": a.description(),
            "product": a.product_name(),
            "vendor": a.vendor_name(),
            "compromised": a.compromised_entity(),
            "resources": resources,
            "intents": a.intents().iter().map(|i| i.as_str().to_owned()).collect::<Vec<_>>(),
            "remediation": a.remediation_steps(),
            "alert_uri": a.alert_uri().and_then(web_href),
            "suppressed_by": stored.suppression.as_ref().map(|s| json!({"rule": s.rule, "reason": s.reason.as_str()})),
        },
        "tactics": tactics,
        "techniques": techniques,
        "entities": entities,
        "extended": extended,
        "links": links,
        "related": extra.related,
        "history": extra.history,
        "feedback": extra.feedback,
        "rules": extra.rules,
        "next_statuses": a.status().allowed_next().iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "reasons": FeedbackReason::named().iter().map(|r| r.as_str().to_owned()).collect::<Vec<_>>(),
        "rule_reasons": RULE_REASONS,
        "fields": fields,
        "suppress": {"name": suppress.name, "reason": suppress.reason, "days": suppress.days,
                     "apply": suppress.apply},
        "simulation": action.simulation,
        "explain": action.explain,
        "error": action.error,
    })
}

/// What the details tab shows beside the alert itself.
struct AlertExtra {
    related: Vec<Value>,
    history: Vec<Value>,
    feedback: Vec<Value>,
    rules: Vec<String>,
}

fn load_alert(
    store: &dyn vigil_core::store::Store,
    tenant: &TenantId,
    id: &AlertId,
) -> Result<(StoredAlert, AlertExtra), StoreError> {
    let stored = store
        .get(tenant, id)?
        .ok_or_else(|| StoreError::alert_not_found(id))?;
    let me = stored.alert.id().clone();
    let related = store
        .related(tenant, &me, 20)?
        .iter()
        .map(|r| {
            let mut v = row(&r.alert);
            if let Value::Object(m) = &mut v {
                m.insert(
                    "relations".into(),
                    json!(
                        r.relations
                            .iter()
                            .map(|x| format!("{x:?}"))
                            .collect::<Vec<_>>()
                    ),
                );
            }
            v
        })
        .collect();
    let history = store
        .history(tenant, &me)?
        .iter()
        .map(|e| {
            json!({"at": time_text(e.at), "actor": e.actor, "from": e.from.as_str(),
                   "to": e.to.as_str(), "comment": e.comment})
        })
        .collect();
    let fq = FeedbackQuery {
        alert: Some(me),
        ..FeedbackQuery::default()
    };
    let feedback = store
        .list_feedback(tenant, &fq)?
        .iter()
        .map(|(_, f)| {
            json!({"useful": f.useful, "reason": f.reason.as_str(), "comment": f.comment,
                   "actor": f.actor, "at": time_text(f.at)})
        })
        .collect();
    let rules = store
        .list_rules(tenant)?
        .iter()
        .filter(|r| {
            r.rule.is_any_type()
                || r.rule
                    .alert_type()
                    .eq_ignore_ascii_case(stored.alert.alert_type())
        })
        .map(|r| r.rule.name().to_owned())
        .collect();
    Ok((
        stored,
        AlertExtra {
            related,
            history,
            feedback,
            rules,
        },
    ))
}

const NOTICES: &[(&str, &str)] = &[
    ("status", "Status changed."),
    ("feedback", "Thank you: your feedback was recorded."),
    ("rule", "Suppression rule created."),
];

#[allow(clippy::too_many_arguments)]
async fn render_alert(
    state: &Shared,
    viewer: &Viewer,
    tenant: TenantId,
    id: AlertId,
    tab: &str,
    notice: Option<&str>,
    mut action: ActionState,
    explain_rule: Option<String>,
    status: StatusCode,
) -> Response {
    let store = state.store.clone();
    let t = tenant.clone();
    let loaded = blocking(move || -> Result<_, StoreError> {
        let (stored, extra) = load_alert(store.as_ref(), &t, &id)?;
        let explained = match explain_rule {
            Some(rule) => Some(
                store
                    .explain(&t, &rule, stored.alert.id(), Utc::now())
                    .map(|e| e.to_string()),
            ),
            None => None,
        };
        Ok((stored, extra, explained))
    })
    .await;
    let (stored, extra, explained) = match loaded {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return viewer.finish(store_error(state, &e)),
        Err(_) => {
            return request_failed(state);
        }
    };
    match explained {
        Some(Ok(text)) => action.explain = Some(text),
        Some(Err(e)) => action.error = Some(e.message().to_owned()),
        None => {}
    }
    let ctx = alert_context(
        state, viewer, &tenant, &stored, &extra, tab, notice, &action,
    );
    let mut r = state.pages.render("alert.html", &ctx);
    if r.status() == StatusCode::OK {
        *r.status_mut() = status;
    }
    viewer.finish(r)
}

async fn alert_page(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((tenant_name, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (tenant, id) = match alert_or_404(&state, &viewer, &tenant_name, id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let params = crate::api::query_params(raw.as_deref()).unwrap_or_default();
    let tab = if params.get("tab").map(String::as_str) == Some("action") {
        "action"
    } else {
        "details"
    };
    let notice = params
        .get("done")
        .and_then(|d| NOTICES.iter().find(|(k, _)| k == d))
        .map(|(_, text)| *text);
    let explain = params.get("explain").filter(|r| !r.is_empty()).cloned();
    render_alert(
        &state,
        &viewer,
        tenant,
        id,
        tab,
        notice,
        ActionState::default(),
        explain,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
struct StatusForm {
    csrf: String,
    to: String,
    version: u64,
    #[serde(default)]
    comment: String,
}

async fn change_status(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((tenant_name, id)): Path<(String, String)>,
    Form(form): Form<StatusForm>,
) -> Response {
    let (tenant, id) = match posted_alert(&state, &viewer, &form.csrf, &tenant_name, id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(to) = form.to.parse::<Status>() else {
        return message(
            &state,
            StatusCode::BAD_REQUEST,
            "Unknown status",
            "Pick a status from the list.",
        );
    };
    if form.comment.len() > crate::ext::MAX_TEXT {
        return message(
            &state,
            StatusCode::BAD_REQUEST,
            "Comment too long",
            "Shorten the comment.",
        );
    }
    let mut change = StatusChange::new(to, viewer.identity.name());
    if !form.comment.trim().is_empty() {
        change = change.comment(form.comment.trim());
    }
    let store = state.store.clone();
    let t = tenant.clone();
    let i = id.clone();
    let version = form.version;
    let result = blocking(move || store.change_status(&t, &i, version, change, Utc::now())).await;
    match result {
        Ok(Ok(_)) => Redirect::to(&format!(
            "/ui/t/{}/alerts/{}?tab=action&done=status",
            enc(tenant.as_str()),
            enc(id.as_str())
        ))
        .into_response(),
        Ok(Err(e)) => {
            let text = if e.kind() == ErrorKind::Conflict {
                "Someone changed this alert after you opened it: nothing was changed. The page now shows its current state; decide again.".to_owned()
            } else {
                e.message().to_owned()
            };
            let code = if e.kind() == ErrorKind::Conflict {
                StatusCode::CONFLICT
            } else {
                StatusCode::BAD_REQUEST
            };
            if e.kind() == ErrorKind::NotFound {
                return store_error(&state, &e);
            }
            render_alert(
                &state,
                &viewer,
                tenant,
                id,
                "action",
                None,
                ActionState {
                    error: Some(text),
                    ..ActionState::default()
                },
                None,
                code,
            )
            .await
        }
        Err(_) => request_failed(&state),
    }
}

#[derive(Deserialize)]
struct FeedbackForm {
    csrf: String,
    useful: String,
    reason: String,
    #[serde(default)]
    comment: String,
}

async fn add_feedback(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((tenant_name, id)): Path<(String, String)>,
    Form(form): Form<FeedbackForm>,
) -> Response {
    let (tenant, id) = match posted_alert(&state, &viewer, &form.csrf, &tenant_name, id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let useful = form.useful == "yes";
    let feedback = match crate::ext::feedback(
        &viewer.identity,
        useful,
        &form.reason,
        Some(form.comment.as_str()),
    ) {
        Ok(f) => f,
        Err(e) => return message(&state, StatusCode::BAD_REQUEST, "Check the feedback", &e),
    };
    let store = state.store.clone();
    let t = tenant.clone();
    let i = id.clone();
    match blocking(move || store.add_feedback(&t, &i, feedback)).await {
        Ok(Ok(())) => Redirect::to(&format!(
            "/ui/t/{}/alerts/{}?tab=action&done=feedback",
            enc(tenant.as_str()),
            enc(id.as_str())
        ))
        .into_response(),
        Ok(Err(e)) => store_error(&state, &e),
        Err(_) => request_failed(&state),
    }
}

/// The "suppress similar alerts" form, kept to show it again with a simulation.
#[derive(Clone, Debug, Default)]
struct SuppressForm {
    fields: Vec<String>,
    name: String,
    reason: String,
    days: String,
    apply: bool,
}

async fn suppress(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((tenant_name, id)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map_or("", |(_, v)| v.as_str())
    };
    let (tenant, id) = match posted_alert(&state, &viewer, get("csrf"), &tenant_name, id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let form = SuppressForm {
        fields: pairs
            .iter()
            .filter(|(k, v)| k == "field" && SIMILAR_FIELDS.contains(&v.as_str()))
            .map(|(_, v)| v.clone())
            .collect(),
        name: get("name").trim().chars().take(200).collect(),
        reason: get("reason").to_owned(),
        days: get("days").trim().to_owned(),
        apply: get("apply") == "yes",
    };
    let simulate_only = get("action") == "simulate";
    let redo = |error: String, simulation: Option<Value>, status: StatusCode| {
        let state = state.clone();
        let viewer = &viewer;
        let tenant = tenant.clone();
        let id = id.clone();
        let form = form.clone();
        async move {
            render_alert(
                &state,
                viewer,
                tenant,
                id,
                "action",
                None,
                ActionState {
                    simulation,
                    suppress_form: Some(form),
                    error: (!error.is_empty()).then_some(error),
                    ..ActionState::default()
                },
                None,
                status,
            )
            .await
        }
    };
    if form.fields.is_empty() {
        return redo(
            "Pick at least one field whose values the rule should require.".into(),
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let expires = match form.days.as_str() {
        "" => None,
        d => match d.parse::<i64>() {
            Ok(n) if (1..=3650).contains(&n) => Some(Utc::now() + Duration::days(n)),
            _ => {
                return redo(
                    "Expiry: a number of days from 1 to 3650, or empty for none.".into(),
                    None,
                    StatusCode::BAD_REQUEST,
                )
                .await;
            }
        },
    };
    let reason = SuppressionReason::from_text(if form.reason.is_empty() {
        "SpecificEntityFalsePositive"
    } else {
        &form.reason
    });
    let name = form.name_or(&id);
    let mut request = SuppressSimilar::new(id.clone(), form.fields.iter().cloned())
        .name(name.clone())
        .reason(reason.clone());
    if let Some(at) = expires {
        request = request.expires_at(at);
    }
    if form.apply {
        request = request.apply_to_existing(viewer.identity.name());
    }
    let store = state.store.clone();
    let t = tenant.clone();
    let fields = form.fields.clone();
    let i = id.clone();
    let outcome = blocking(move || -> Result<Option<Value>, StoreError> {
        if simulate_only {
            let stored = store
                .get(&t, &i)?
                .ok_or_else(|| StoreError::alert_not_found(&i))?;
            let paths: Vec<&str> = fields.iter().map(String::as_str).collect();
            let mut rule = similar_rule(&stored.alert, &name, reason, &paths)
                .map_err(|e| StoreError::new(ErrorKind::InvalidInput, e.to_string()))?;
            rule.set_expiration(expires);
            let sim = store.simulate(&t, &rule, Utc::now(), 10)?;
            let by_status: Vec<Value> = sim
                .by_status
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(s, n)| json!({"status": s.as_str(), "count": n}))
                .collect();
            Ok(Some(json!({"total": sim.total(), "open": sim.open(), "by_status": by_status,
                            "sample": sim.sample.iter().map(|a| a.as_str().to_owned()).collect::<Vec<_>>()})))
        } else {
            store.suppress_similar(&t, request, Utc::now())?;
            Ok(None)
        }
    })
    .await;
    match outcome {
        Ok(Ok(Some(sim))) => redo(String::new(), Some(sim), StatusCode::OK).await,
        Ok(Ok(None)) => Redirect::to(&format!(
            "/ui/t/{}/alerts/{}?tab=action&done=rule&explain={}",
            enc(tenant.as_str()),
            enc(id.as_str()),
            enc(&form.name_or(&id))
        ))
        .into_response(),
        Ok(Err(e)) if e.kind() == ErrorKind::NotFound => store_error(&state, &e),
        Ok(Err(e)) => {
            let code = if e.kind() == ErrorKind::AlreadyExists {
                StatusCode::CONFLICT
            } else {
                StatusCode::BAD_REQUEST
            };
            redo(e.message().to_owned(), None, code).await
        }
        Err(_) => request_failed(&state),
    }
}

impl SuppressForm {
    fn name_or(&self, id: &AlertId) -> String {
        if self.name.is_empty() {
            format!(
                "similar-{}",
                id.as_str().chars().take(150).collect::<String>()
            )
        } else {
            self.name.clone()
        }
    }
}
