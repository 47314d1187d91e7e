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

use self::jobs::Jobs;
use self::list::{check_list, Roots};
use super::recall::Recaller;
use crate::limits::{read_body, BodyRefused, Limits};

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
}

/// What the handlers share.
struct Shared {
    jobs: Arc<Jobs>,
    roots: Roots,
    token: Option<String>,
}

/// A server with its jobs loaded and its workers started, ready to be served.
pub struct ChillerServer {
    shared: Arc<Shared>,
    max_body: usize,
    limits: Limits,
    /// Unfinished jobs found in the state directory and queued again.
    pub resumed: Vec<u64>,
}

impl ChillerServer {
    /// Checks the configuration, loads the persisted jobs and starts the workers, which resume
    /// unfinished jobs. Must run inside a tokio runtime.
    pub fn start(config: ServerConfig) -> anyhow::Result<ChillerServer> {
        config.recaller.check()?;
        let roots = Roots::new(&config.roots)?;
        let (jobs, queue, resumed) = Jobs::load(&config.state_dir)?;
        let jobs = Arc::new(jobs);
        let recaller = Arc::new(config.recaller);
        let beneath: Arc<[PathBuf]> = roots.prefixes().into();
        for _ in 0..config.workers.max(1) {
            tokio::spawn(jobs::work(
                jobs.clone(),
                recaller.clone(),
                beneath.clone(),
                queue.clone(),
            ));
        }
        Ok(ChillerServer {
            shared: Arc::new(Shared {
                jobs,
                roots,
                token: config.token,
            }),
            max_body: config.max_body,
            limits: Limits::default(),
            resumed,
        })
    }

    /// Serves within `limits` rather than the default ones.
    pub fn with_limits(mut self, limits: Limits) -> ChillerServer {
        self.limits = limits;
        self
    }

    /// The server's routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/upload", post(upload))
            .route("/jobs/{id}", get(status))
            .layer(DefaultBodyLimit::max(self.max_body))
            .layer(middleware::from_fn_with_state(
                (self.limits.request_timeout, self.max_body),
                read_body_in_time,
            ))
            .layer(middleware::from_fn_with_state(
                self.shared.clone(),
                require_token,
            ))
            .with_state(self.shared.clone())
    }

    /// Serves on `listener` until `shutdown` completes, then waits for open requests.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        crate::limits::serve(listener, self.router(), &self.limits, shutdown).await;
        // A recall command does not outlive the server: its group is ended, its job resumes.
        let jobs = self.shared.jobs.clone();
        let _ = tokio::task::spawn_blocking(move || jobs.end_recalls()).await;
        let running = self.shared.jobs.running();
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

/// Binds `listen`, prints `listening on ADDRESS` as the first line of stdout, and serves until
/// SIGTERM or Ctrl-C. Unfinished jobs from the state directory are resumed.
pub async fn serve(listen: SocketAddr, config: ServerConfig, limits: Limits) -> anyhow::Result<()> {
    let server = ChillerServer::start(config)?.with_limits(limits);
    let listener = crate::limits::bind(listen)
        .with_context(|| format!("cannot listen on {listen}: is another server there?"))?;
    let address = listener.local_addr()?;
    // For whoever started the server; one who stopped reading (a closed pipe) is no reason
    // to stop serving.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on {address}").and_then(|()| stdout.flush());
    tracing::info!(%address, resumed = ?server.resumed, "serving");
    server.serve(listener, crate::shutdown::requested()).await
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
            ([(header::CONTENT_TYPE, "text/plain")], format!("{id}\n")).into_response()
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

async fn require_token(
    AppState(shared): AppState<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(token) = &shared.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|given| same_secret(given.as_bytes(), token.as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a valid bearer token is required\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// Compares secrets in a time that does not tell how much of a guess was right.
fn same_secret(given: &[u8], secret: &[u8]) -> bool {
    given.len() == secret.len()
        && given
            .iter()
            .zip(secret)
            .fold(0u8, |differ, (a, b)| differ | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cre", b"s3cret"));
        assert!(!same_secret(b"s3creT", b"s3cret"));
        assert!(!same_secret(b"", b"s3cret"));
    }
}
