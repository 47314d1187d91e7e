//! `catalog serve`: the catalog over a local HTTP API for other tools: JSON and text endpoints,
//! Prometheus metrics, an OpenAPI document and a STAC item search.

mod api;
mod browsers;
pub mod error;
mod footprint;
mod metrics;
mod openapi;
mod stac;

pub use error::ApiError;

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use arc_swap::ArcSwap;
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Query, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use catalog_index::Catalog;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;

/// How the server runs, resolved from flags, environment and defaults by `catalog serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The index directory.
    pub index: PathBuf,
    /// The Chiller that `POST /stage` submits to.
    pub chiller: catalog_chiller::ClientOptions,
    /// The ledger each job submitted is recorded in.
    pub ledger: PathBuf,
    /// Bearer token every call must carry, if set.
    pub token: Option<String>,
    /// Timeouts and the connection limit.
    pub limits: catalog_http::Limits,
    /// The origins whose web pages may read the API (CORS); any when empty.
    pub cors_origins: Vec<String>,
}

/// What every handler shares.
pub struct Shared {
    catalog: ArcSwap<Catalog>,
    config: ServeConfig,
    metrics: metrics::Metrics,
}

impl Shared {
    /// The index as it is now; a rebuild swaps in a new one without disturbing this one.
    fn catalog(&self) -> Arc<Catalog> {
        self.catalog.load_full()
    }
}

/// Largest `limit` a search takes.
const MAX_LIMIT: usize = 10_000;
/// Largest request body (a staging list).
const MAX_BODY: usize = 64 << 20;
/// Largest STAC search body.
const MAX_SEARCH_BODY: usize = 1 << 20;
/// Most `ids` a STAC search takes: each is two globs of the query, whose limit is 128.
pub const MAX_IDS: usize = 50;
/// Most `collections` a STAC search takes.
pub const MAX_COLLECTIONS: usize = 100;

/// The query string of a request, like axum's `Query`, except that one it cannot read is
/// answered as every other client error is: 400 with a JSON body naming the problem.
struct Params<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(params)) => Ok(Params(params)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

/// Opens the index, binds, prints `listening on http://ADDRESS` as the first line of stdout,
/// and serves until SIGTERM or Ctrl-C.
pub async fn serve(listen: SocketAddr, config: ServeConfig) -> anyhow::Result<()> {
    let server = Server::open(config)?;
    let listener =
        catalog_http::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    // For whoever started the server; one who stopped reading (a closed pipe) is no reason
    // to stop serving.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on http://{}", listener.local_addr()?)
        .and_then(|()| stdout.flush());
    server.serve(listener, crate::shutdown::requested()).await;
    Ok(())
}

/// The server with its index open, ready to serve on any listener (tests give it one on port 0
/// in their own process).
pub struct Server {
    shared: Arc<Shared>,
}

impl Server {
    /// Opens the index of `config`.
    pub fn open(config: ServeConfig) -> anyhow::Result<Server> {
        let catalog = open_catalog(&config.index)?;
        Ok(Server {
            shared: Arc::new(Shared {
                catalog: ArcSwap::from_pointee(catalog),
                config,
                metrics: metrics::Metrics::new(),
            }),
        })
    }

    /// Serves on `listener` within the configured limits, following rebuilds of the index,
    /// until `shutdown` completes; then lets the open requests finish.
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let following = tokio::spawn(follow_rebuilds(self.shared.clone()));
        let limits = self.shared.config.limits.clone();
        catalog_http::serve(listener, router(self.shared), &limits, shutdown).await;
        following.abort();
    }
}

/// Decompressed path dictionary blocks the server keeps: some 16,000 blocks of 4 KB, the pages
/// of 160 scattered answers of 100 items.
const PATH_CACHE_BYTES: u64 = 64 << 20;

/// Opens the index in `dir` as the server reads it.
fn open_catalog(dir: &std::path::Path) -> catalog_index::Result<Catalog> {
    Ok(Catalog::open(dir)?.with_path_cache(PATH_CACHE_BYTES))
}

/// Checks every second whether `catalog index` committed a new state, and swaps it in. Readers
/// holding the old index keep it until they finish. The new state is opened only once the
/// old one is outdated: opening reads every segment's columns.
async fn follow_rebuilds(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let current = shared.catalog();
        let outdated = tokio::task::spawn_blocking(move || current.is_outdated()).await;
        if !matches!(outdated, Ok(true)) {
            continue;
        }
        let dir = shared.config.index.clone();
        let Ok(Ok(fresh)) = tokio::task::spawn_blocking(move || open_catalog(&dir)).await else {
            continue;
        };
        if fresh.info() != shared.catalog().info() {
            tracing::info!(
                "index rebuilt at {}: {} documents",
                fresh.info().built_at,
                fresh.documents()
            );
            shared.catalog.store(Arc::new(fresh));
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/search", get(api::search))
        .route("/filelist", get(api::filelist))
        .route("/count", get(api::count))
        .route(
            "/stage",
            post(api::stage)
                .layer(middleware::from_fn_with_state(
                    shared.clone(),
                    read_body_in_time,
                ))
                .layer(middleware::from_fn(browsers::same_site_only)),
        )
        .route("/jobs/{id}", get(api::job))
        .route("/fields", get(api::fields))
        .route("/stats", get(api::stats))
        .route("/health", get(api::health))
        .route("/metrics", get(metrics::render))
        .route("/openapi.json", get(openapi::document))
        .route("/stac", get(stac::landing))
        .route("/stac/conformance", get(stac::conformance))
        .route("/stac/collections", get(stac::collections))
        .route("/stac/collections/{id}", get(stac::collection))
        .route("/stac/api", get(stac::service_desc))
        .route("/stac/queryables", get(stac::queryables))
        .route("/stac/collections/{id}/queryables", get(stac::queryables))
        .route("/stac/collections/{id}/items", get(stac::collection_items))
        .route("/stac/collections/{id}/items/{item}", get(stac::item))
        .route(
            "/stac/search",
            get(stac::search_get)
                .post(stac::search_post)
                .layer(DefaultBodyLimit::max(MAX_SEARCH_BODY)),
        )
        .layer(middleware::from_fn_with_state(shared.clone(), time_budget))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(
            catalog_http::RequireBearer::new(shared.config.token.as_deref(), || {
                ApiError::new(StatusCode::UNAUTHORIZED, "a valid bearer token is required")
                    .into_response()
            })
            .layer(),
        )
        .layer(middleware::from_fn_with_state(shared.clone(), measure))
        // Outermost, so that a preflight is answered before the token is asked for.
        .layer(browsers::cors(&shared.config.cors_origins))
        .with_state(shared)
}

/// Answers 503 for a request that takes longer than `--request-timeout`, body and work
/// included. The work of an index runs in a blocking thread, which finishes on its own; the
/// connection and the client are free. `POST /stage` is not cut: it submits to Chiller, and a
/// submission cut halfway would leave the client not knowing whether its job exists.
async fn time_budget(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if request.uri().path() == "/stage" {
        return next.run(request).await;
    }
    let budget = shared.config.limits.request_timeout;
    match tokio::time::timeout(budget, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the request took longer than the server's budget of {} (--request-timeout)",
                humantime::format_duration(budget)
            ),
        )
        .into_response(),
    }
}

/// For `POST /stage`: its list must arrive within `--request-timeout` (408), and be at most
/// 64 MiB (413).
async fn read_body_in_time(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let budget = shared.config.limits.request_timeout;
    match catalog_http::read_body(request, budget, MAX_BODY).await {
        Ok(request) => next.run(request).await,
        Err(catalog_http::BodyRefused::TooSlow) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} (--request-timeout)",
                humantime::format_duration(budget)
            ),
        )
        .into_response(),
        Err(catalog_http::BodyRefused::TooLarge) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {MAX_BODY} bytes"),
        )
        .into_response(),
        Err(catalog_http::BodyRefused::Broken(failure)) => {
            ApiError::bad_request(format!("cannot read the request body: {failure}"))
                .into_response()
        }
    }
}

async fn measure(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    shared
        .metrics
        .observe(&endpoint, response.status().as_u16(), started.elapsed());
    response
}
