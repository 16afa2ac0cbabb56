//! The layers every response passes through: security headers, request limits and timeouts,
//! a panic guard, and the checks against DNS rebinding and cross-site requests.

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::Shared;
use crate::api::ApiError;

/// The page's Content-Security-Policy: no script at all, styles from this server only, forms
/// post only here, and the page cannot be framed.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// 32 random bytes (from the system's random source, through UUID v4).
pub(crate) fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key
}

/// A random token for cookies (hex, 256 bits of which 244 random).
pub(crate) fn random_token() -> String {
    random_key().iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn layers(router: Router<Shared>, state: Shared) -> Router {
    let timeout = state.config.request_timeout;
    let body_limit = state.config.body_limit;
    // ARM's fixed path words in any case: rewritten before the routes are matched (an outer
    // router without routes sends everything through this layer to the real one).
    let router = Router::new()
        .fallback_service(router.with_state(state.clone()))
        .layer(middleware::map_request(canonical_arm_path));
    router
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout.max(Duration::from_millis(1)),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("the request failed inside the server").into_response()
        }))
}

async fn canonical_arm_path(mut request: Request) -> Request {
    if let Some(path) = crate::api::canonical_path(request.uri().path()) {
        let mut parts = request.uri().clone().into_parts();
        let with_query = match request.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        if let Ok(pq) = with_query.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    request
}

/// Whether a `Host` header names this machine's loopback interface.
fn loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a state-changing request comes from another site: the browser says so
/// (`Sec-Fetch-Site` other than `same-origin` or `none`), or, from a client that does not send
/// that header, its `Origin` is not this server. Clients that are not browsers send neither.
fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("cross-site");
        return !(site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none"));
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    headers.get(header::ORIGIN).is_some_and(|origin| {
        origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://").map(|(_, rest)| rest))
            .is_none_or(|o| Some(o) != host)
    })
}

async fn guard(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    // Without tokens the server trusts whoever reaches loopback; a page from another site must
    // not reach it by pointing its own host name at 127.0.0.1 (DNS rebinding).
    if state.config.tokens.is_none() {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        if !host.is_some_and(loopback_host) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "this server answers only requests addressed to localhost (Host header)",
            )
            .into_response();
        }
    }
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if unsafe_method && cross_site(headers) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "cross-site requests may not change anything",
        )
        .into_response();
    }
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_loopback_hosts() {
        for h in [
            "localhost",
            "localhost:80",
            "127.0.0.1:9",
            "[::1]:8080",
            "127.1.2.3",
        ] {
            assert!(loopback_host(h), "{h}");
        }
        for h in [
            "evil.example",
            "evil.example:8080",
            "10.0.0.1:80",
            "[::2]:1",
            "",
        ] {
            assert!(!loopback_host(h), "{h}");
        }
    }
}
