//! `catalog serve` and web browsers: pages on other origins may read (CORS, also behind a
//! token, for the origins `--cors-origin` allows), and no page may stage.

mod common;

use common::server::InProcess;
use common::TestEnv;
use reqwest::header::{HeaderMap, ACCESS_CONTROL_ALLOW_ORIGIN};

fn sample() -> TestEnv {
    let env = TestEnv::new();
    env.sample(&env.root().join("s"), 50);
    env.index_archive();
    env
}

/// Sends a request with `headers` (name, value) and answers its status and headers.
fn ask(
    server: &InProcess,
    method: reqwest::Method,
    path: &str,
    headers: &[(&'static str, &str)],
    body: &str,
) -> (u16, HeaderMap, String) {
    let body = body.to_string();
    let answer = server.send(
        |http, url| {
            let mut request = http.request(method, url).body(body);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request
        },
        path,
    );
    (answer.status, answer.headers, answer.body)
}

fn allowed_origin(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(ACCESS_CONTROL_ALLOW_ORIGIN)
        .and_then(|v| v.to_str().ok())
}

#[test]
fn pages_on_any_origin_may_read_even_behind_a_token() {
    let env = sample();
    let mut config = InProcess::config(&env);
    config.token = Some("secret".into());
    let server = InProcess::with(config);
    let page = "https://radiantearth.github.io";
    // The preflight carries no token: it is answered before the token is asked for.
    let (status, headers, _) = ask(
        &server,
        reqwest::Method::OPTIONS,
        "/stac/search",
        &[
            ("origin", page),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type,authorization",
            ),
        ],
        "",
    );
    assert_eq!(status, 200);
    assert_eq!(allowed_origin(&headers), Some(page));
    let (status, headers, body) = ask(
        &server,
        reqwest::Method::GET,
        "/stac",
        &[("origin", page), ("authorization", "Bearer secret")],
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(allowed_origin(&headers), Some(page));
    let (status, headers, _) = ask(
        &server,
        reqwest::Method::GET,
        "/stac",
        &[("origin", page)],
        "",
    );
    assert_eq!(status, 401);
    assert_eq!(
        allowed_origin(&headers),
        Some(page),
        "a refusal is readable too"
    );
}

#[test]
fn cors_origins_limit_who_may_read() {
    let env = sample();
    let mut config = InProcess::config(&env);
    config.cors_origins = vec!["https://maps.example".into()];
    let server = InProcess::with(config);
    let (_, headers, _) = ask(
        &server,
        reqwest::Method::GET,
        "/health",
        &[("origin", "https://maps.example")],
        "",
    );
    assert_eq!(allowed_origin(&headers), Some("https://maps.example"));
    let (_, headers, _) = ask(
        &server,
        reqwest::Method::GET,
        "/health",
        &[("origin", "https://evil.example")],
        "",
    );
    assert_eq!(allowed_origin(&headers), None);
}

#[test]
fn no_page_may_stage() {
    let env = sample();
    let server = InProcess::start(&env);
    let list = "/nowhere/S2A_MSIL1C_20190101T000000_N0207_R001_T60WWV_20190101T000000.zip\n";
    // A preflight for staging gets no CORS permission.
    let (_, headers, _) = ask(
        &server,
        reqwest::Method::OPTIONS,
        "/stage",
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "POST"),
        ],
        "",
    );
    assert_eq!(allowed_origin(&headers), None);
    let host = server.url.trim_start_matches("http://").to_string();
    let own_origin = server.url.clone();
    for (headers, status, needle) in [
        // What a page sends without asking: a form or plain text, marked with its origin.
        (
            vec![
                ("content-type", "text/plain"),
                ("origin", own_origin.as_str()),
            ],
            415,
            "text/uri-list",
        ),
        (
            vec![
                ("content-type", "application/x-www-form-urlencoded"),
                ("sec-fetch-site", "same-origin"),
            ],
            415,
            "text/uri-list",
        ),
        // A page that asked first is still from another site.
        (
            vec![
                ("content-type", "text/uri-list"),
                ("origin", "https://evil.example"),
            ],
            403,
            "another origin",
        ),
        (
            vec![
                ("content-type", "text/plain"),
                ("sec-fetch-site", "cross-site"),
            ],
            403,
            "another site",
        ),
    ] {
        let (code, _, body) = ask(&server, reqwest::Method::POST, "/stage", &headers, list);
        assert_eq!(code, status, "{headers:?}: {body}");
        assert!(body.contains(needle), "{headers:?}: {body}");
    }
    // A client that is no page, or a page of the server's own origin, reaches staging (which
    // finds nothing to stage in a list of files that do not exist).
    for headers in [
        vec![("content-type", "text/plain")],
        vec![],
        vec![
            ("content-type", "text/uri-list"),
            ("origin", own_origin.as_str()),
            ("sec-fetch-site", "same-origin"),
            ("host", host.as_str()),
        ],
    ] {
        let (code, _, body) = ask(&server, reqwest::Method::POST, "/stage", &headers, list);
        assert_eq!(code, 400, "{headers:?}: {body}");
        assert!(body.contains("nothing to stage"), "{headers:?}: {body}");
    }
}
