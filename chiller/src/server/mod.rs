//! A Chiller-compatible staging server: `POST /upload` takes a file list and answers a job id,
//! `GET /jobs/<id>` answers the job's status as JSON. Jobs persist in a state directory and are
//! recalled by a bounded number of workers.

mod jobs;
mod list;

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Request, State as AppState};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use catalog_http::{read_body, BodyRefused, Limits, RequireBearer};

use self::jobs::{Jobs, Queue};
use self::list::{check_list, Roots};
use crate::recall::Recaller;
use crate::wire::upload_answer;

/// How a server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Roots every listed path must be under.
    pub roots: Vec<PathBuf>,
    /// Where jobs persist.
    pub state_dir: PathBuf,
    /// How files are recalled.
    pub recaller: Recaller,
    /// Recalls running at once (tape drives).
    pub workers: usize,
    /// Largest accepted list, in bytes.
    pub max_body: usize,
    /// Bearer token every call must carry, if set.
    pub token: Option<String>,
    /// Timeouts and the connection limit.
    pub limits: Limits,
}

/// What the handlers share.
struct Shared {
    jobs: Arc<Jobs>,
    roots: Roots,
}

/// A server with its jobs loaded, ready to run.
pub struct ChillerServer {
    shared: Arc<Shared>,
    queue: Queue,
    recaller: Arc<Recaller>,
    workers: usize,
    max_body: usize,
    token: Option<String>,
    limits: Limits,
    /// Unfinished jobs found in the state directory and queued again.
    pub resumed: Vec<u64>,
}

impl ChillerServer {
    /// Checks the roots, locks the state directory and loads the persisted jobs, queueing the
    /// unfinished ones again.
    pub fn start(config: ServerConfig) -> anyhow::Result<ChillerServer> {
        let roots = Roots::new(&config.roots)?;
        let (jobs, queue, resumed) = Jobs::load(&config.state_dir)?;
        Ok(ChillerServer {
            shared: Arc::new(Shared {
                jobs: Arc::new(jobs),
                roots,
            }),
            queue,
            recaller: Arc::new(config.recaller),
            workers: config.workers.max(1),
            max_body: config.max_body,
            token: config.token,
            limits: config.limits,
            resumed,
        })
    }

    /// The server's routes.
    fn router(&self) -> Router {
        Router::new()
            .route("/upload", post(upload))
            .route("/jobs/{id}", get(status))
            .layer(DefaultBodyLimit::max(self.max_body))
            .layer(middleware::from_fn_with_state(
                (self.limits.request_timeout, self.max_body),
                read_body_in_time,
            ))
            .layer(RequireBearer::new(self.token.as_deref(), refused).layer())
            .with_state(self.shared.clone())
    }

    /// Starts the workers, which take the queued jobs, and serves on `listener` until
    /// `shutdown` completes. Then waits for open requests, stops the workers (a running recall
    /// command's process group is ended; its job resumes at the next start) and waits for them.
    pub async fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let jobs = self.shared.jobs.clone();
        let beneath: Arc<[PathBuf]> = self.shared.roots.prefixes().into();
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..self.workers {
            workers.spawn(jobs::work(
                jobs.clone(),
                self.recaller.clone(),
                beneath.clone(),
                self.queue.clone(),
            ));
        }
        catalog_http::serve(listener, self.router(), &self.limits, shutdown).await;
        let running = jobs.running();
        let stopping = jobs.clone();
        let _ = tokio::task::spawn_blocking(move || stopping.stop()).await;
        while let Some(ended) = workers.join_next().await {
            if let Err(error) = ended {
                tracing::error!("a worker failed: {error}");
            }
        }
        if running.is_empty() {
            tracing::info!("shut down");
        } else {
            tracing::info!(
                jobs = ?running,
                "shut down; the running jobs resume at the next start"
            );
        }
        Ok(())
    }
}

/// Binds `listen`, prints `listening on ADDRESS` as the first line of stdout, and runs until
/// `shutdown` completes. Unfinished jobs from the state directory are resumed.
pub async fn serve(
    listen: SocketAddr,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let server = ChillerServer::start(config)?;
    let listener = catalog_http::bind(listen)
        .with_context(|| format!("cannot listen on {listen}: is another server there?"))?;
    let address = listener.local_addr()?;
    // For whoever started the server; one who stopped reading (a closed pipe) is no reason
    // to stop serving.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on {address}").and_then(|()| stdout.flush());
    tracing::info!(%address, resumed = ?server.resumed, "serving");
    server.run(listener, shutdown).await
}

/// The answer to a call without the server's token.
fn refused() -> Response {
    "a valid bearer token is required\n".into_response()
}

async fn upload(AppState(shared): AppState<Arc<Shared>>, body: Bytes) -> Response {
    let checked = {
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || {
            check_list(&body, &shared.roots).map(|paths| shared.jobs.submit(paths))
        })
        .await
    };
    match checked {
        Ok(Ok(Ok(id))) => {
            ([(header::CONTENT_TYPE, "text/plain")], upload_answer(id)).into_response()
        }
        Ok(Err(bad)) => {
            tracing::info!(problems = bad.len(), first = %bad[0], "list refused");
            (StatusCode::BAD_REQUEST, format!("{}\n", bad.join("\n"))).into_response()
        }
        Ok(Ok(Err(error))) => {
            tracing::error!("{error:#}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot record the job: {error:#}\n"),
            )
                .into_response()
        }
        Err(error) => {
            tracing::error!("the list check failed: {error}");
            (StatusCode::INTERNAL_SERVER_ERROR, "the list check failed\n").into_response()
        }
    }
}

/// A list must arrive within `--request-timeout` (408) and be at most `--max-list-bytes` (413).
/// Only the reading is timed: a list that arrived is checked and recorded whatever that takes,
/// so that a client is never told of a failure for a job that exists.
async fn read_body_in_time(
    AppState((within, max)): AppState<(Duration, usize)>,
    request: Request,
    next: Next,
) -> Response {
    let refused = match read_body(request, within, max).await {
        Ok(request) => return next.run(request).await,
        Err(BodyRefused::TooSlow) => (
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the list did not arrive within {} (--request-timeout)\n",
                humantime::format_duration(within)
            ),
        ),
        Err(BodyRefused::TooLarge) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the list is larger than {max} bytes (--max-list-bytes)\n"),
        ),
        Err(BodyRefused::Broken(error)) => (
            StatusCode::BAD_REQUEST,
            format!("cannot read the list: {error}\n"),
        ),
    };
    refused.into_response()
}

async fn status(AppState(shared): AppState<Arc<Shared>>, UrlPath(id): UrlPath<String>) -> Response {
    match id.parse().ok().and_then(|id| shared.jobs.status(id)) {
        Some(status) => Json(status).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no job {id}\n")).into_response(),
    }
}
