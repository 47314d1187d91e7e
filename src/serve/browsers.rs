//! Browsers: web pages on other origins may read the catalog (CORS, for STAC Browser and web
//! maps), but none may stage. A page can send a "simple" POST to any address without asking
//! first, and browsers mark it: `Origin` (on every POST) and `Sec-Fetch-Site`. So `/stage`
//! refuses a request marked as coming from another site or origin, and one from a page of the
//! server's own origin unless its content type is one a page cannot send unasked (not none,
//! `text/plain` or form data). Requests no browser marked (the command line, scripts) stage.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::ApiError;

/// The path of the one endpoint that acts rather than reads.
const STAGE: &str = "/stage";

/// Content types a web page may send without a preflight (the Fetch standard's CORS-safelisted
/// request-header values), and so never taken by `/stage`.
const SIMPLE_TYPES: &[&str] = &[
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
];

/// CORS for every endpoint but `/stage`: pages from `origins` (any origin when empty) may read.
/// Origins are compared as browsers send them (`https://example.org`, no path).
pub fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<String> = origins.to_vec();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, request| {
            request.uri.path() != STAGE
                && (origins.is_empty() || origins.iter().any(|o| o.as_bytes() == origin.as_bytes()))
        }))
        .allow_methods([Method::GET, Method::HEAD, Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
}

/// Refuses a `/stage` request that a page on another site could have sent (403), or that any
/// page could send without a preflight (415).
pub async fn same_site_only(request: Request, next: Next) -> Response {
    match cross_site(request.headers()) {
        Some(refusal) => refusal.into_response(),
        None => next.run(request).await,
    }
}

fn cross_site(headers: &HeaderMap) -> Option<ApiError> {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let forbidden = |why: String| Some(ApiError::new(StatusCode::FORBIDDEN, why));
    // Browsers say where a request comes from; `none` is the user typing or a bookmark.
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site")) {
        if site != "same-origin" && site != "none" {
            return forbidden(format!(
                "staging is not taken from another site (Sec-Fetch-Site: {site})"
            ));
        }
    }
    if let Some(origin) = text(header::ORIGIN) {
        let host = text(header::HeaderName::from_static("x-forwarded-host"))
            .or_else(|| text(header::HOST))
            .unwrap_or_default();
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        if origin_host != host {
            return forbidden(format!(
                "staging is not taken from another origin ({origin})"
            ));
        }
    }
    let from_a_page = headers.contains_key(header::ORIGIN)
        || headers.contains_key(header::HeaderName::from_static("sec-fetch-site"));
    let media_type = text(header::CONTENT_TYPE)
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|t| !t.is_empty());
    match media_type {
        Some(t) if !SIMPLE_TYPES.contains(&t.as_str()) => None,
        _ if !from_a_page => None,
        given => Some(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "POST /stage from a web page takes Content-Type: text/uri-list, not {}",
                given.unwrap_or_else(|| "none".into())
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn only_requests_no_page_could_send_may_stage() {
        let list = ("content-type", "text/uri-list");
        let form = ("content-type", "application/x-www-form-urlencoded");
        let host = ("host", "127.0.0.1:8080");
        let own = ("origin", "http://127.0.0.1:8080");
        for allowed in [
            vec![host],
            vec![form, host],
            vec![list, host],
            vec![list, host, own],
            vec![list, host, ("sec-fetch-site", "same-origin")],
        ] {
            assert!(cross_site(&headers(&allowed)).is_none(), "{allowed:?}");
        }
        for (pairs, status) in [
            (vec![host, own], StatusCode::UNSUPPORTED_MEDIA_TYPE),
            (
                vec![host, own, ("content-type", "text/plain;charset=UTF-8")],
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (vec![host, own, form], StatusCode::UNSUPPORTED_MEDIA_TYPE),
            (
                vec![
                    host,
                    ("sec-fetch-site", "same-origin"),
                    ("content-type", "multipart/form-data; boundary=x"),
                ],
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                vec![list, host, ("origin", "http://evil.example")],
                StatusCode::FORBIDDEN,
            ),
            (vec![list, host, ("origin", "null")], StatusCode::FORBIDDEN),
            (
                vec![form, host, ("sec-fetch-site", "cross-site")],
                StatusCode::FORBIDDEN,
            ),
            (
                vec![list, host, ("sec-fetch-site", "same-site")],
                StatusCode::FORBIDDEN,
            ),
        ] {
            let refusal = cross_site(&headers(&pairs)).expect("refused");
            assert_eq!(refusal.status(), status, "{pairs:?}");
        }
    }
}
