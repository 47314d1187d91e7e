//! A Chiller-compatible staging server: `POST /upload` takes a file list and answers a job id,
//! `GET /jobs/<id>` answers the job's status as JSON. Jobs persist in a state directory and are
//! recalled by a bounded number of workers.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Request, State as AppState};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::recall::{is_resident, Recaller};

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

/// A job as persisted and as the status call shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    id: u64,
    files: Vec<String>,
    submitted: String,
    started: Option<String>,
    completed: Option<String>,
    done: u64,
    failed: u64,
    errors: BTreeMap<String, String>,
    output: Option<String>,
}

impl Job {
    fn status(&self) -> Value {
        json!({
            "ID": self.id,
            "Finished": if self.completed.is_some() { "true" } else { "false" },
            "Files": self.files.len(),
            "Done": self.done,
            "Failed": self.failed,
            "Submitted": self.submitted,
            "Started": self.started,
            "Completed": self.completed,
            "Errors": self.errors,
            "Output": self.output,
        })
    }
}

struct Shared {
    config: ServerConfig,
    jobs: Mutex<BTreeMap<u64, Job>>,
    next_id: AtomicU64,
    queue: mpsc::UnboundedSender<u64>,
    /// Files being recalled now: a file wanted by several jobs is recalled once.
    in_flight: Mutex<HashSet<String>>,
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("now formats")
}

impl Shared {
    fn jobs_dir(&self) -> PathBuf {
        self.config.state_dir.join("jobs")
    }

    /// Writes a job's state atomically.
    fn persist(&self, job: &Job) -> anyhow::Result<()> {
        let dir = self.jobs_dir();
        let mut file = tempfile::NamedTempFile::new_in(&dir)?;
        serde_json::to_writer(&mut file, job)?;
        file.write_all(b"\n")?;
        file.persist(dir.join(format!("{}.json", job.id)))?;
        Ok(())
    }

    fn update(&self, id: u64, change: impl FnOnce(&mut Job)) {
        let job = {
            let mut jobs = self.jobs.lock().expect("jobs lock");
            let Some(job) = jobs.get_mut(&id) else { return };
            change(job);
            job.clone()
        };
        if let Err(error) = self.persist(&job) {
            tracing::error!("cannot persist job {id}: {error:#}");
        }
    }
}

/// Loads persisted jobs; unfinished ones are queued again, so a job running at a crash resumes.
fn load_jobs(state_dir: &Path) -> anyhow::Result<BTreeMap<u64, Job>> {
    let dir = state_dir.join("jobs");
    fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
    let mut jobs = BTreeMap::new();
    for entry in fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let job: Job = serde_json::from_str(&fs::read_to_string(&path)?)
                .with_context(|| format!("unreadable job state {}", path.display()))?;
            jobs.insert(job.id, job);
        }
    }
    Ok(jobs)
}

/// Checks an uploaded list: each line an absolute path under a root, without `..` or NUL,
/// naming an existing regular file or product directory. Returns the paths, or every bad line.
fn check_list(body: &str, roots: &[PathBuf]) -> Result<Vec<String>, Vec<String>> {
    let mut paths = Vec::new();
    let mut bad = Vec::new();
    for (number, line) in body.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let path = Path::new(line);
        let problem = if line.contains('\0') {
            Some("holds a NUL byte")
        } else if !path.is_absolute() {
            Some("is not an absolute path")
        } else if path.components().any(|c| c == Component::ParentDir) {
            Some("holds '..'")
        } else if !roots.iter().any(|root| path.starts_with(root)) {
            Some("is outside the served roots")
        } else {
            match fs::metadata(path) {
                Err(_) => Some("does not exist"),
                Ok(meta) if !meta.is_file() && !meta.is_dir() => {
                    Some("is not a regular file or product directory")
                }
                Ok(_) => {
                    // Symbolic links must not lead out of the roots either.
                    let inside = fs::canonicalize(path).is_ok_and(|real| {
                        roots.iter().any(|root| {
                            fs::canonicalize(root).is_ok_and(|root| real.starts_with(root))
                        })
                    });
                    (!inside).then_some("leads outside the served roots")
                }
            }
        };
        match problem {
            Some(problem) if bad.len() < 100 => bad.push(format!(
                "line {}: {} {problem}",
                number + 1,
                line.replace('\0', "\\0")
            )),
            Some(_) => {}
            None => paths.push(line.to_string()),
        }
    }
    if bad.is_empty() && paths.is_empty() {
        bad.push("the list is empty".to_string());
    }
    if bad.is_empty() {
        Ok(paths)
    } else {
        Err(bad)
    }
}

async fn upload(AppState(shared): AppState<Arc<Shared>>, body: String) -> Response {
    let paths = match check_list(&body, &shared.config.roots) {
        Ok(paths) => paths,
        Err(bad) => {
            return (StatusCode::BAD_REQUEST, format!("{}\n", bad.join("\n"))).into_response()
        }
    };
    let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
    let job = Job {
        id,
        files: paths,
        submitted: now(),
        started: None,
        completed: None,
        done: 0,
        failed: 0,
        errors: BTreeMap::new(),
        output: None,
    };
    if let Err(error) = shared.persist(&job) {
        tracing::error!("cannot persist job {id}: {error:#}");
        return (StatusCode::INTERNAL_SERVER_ERROR, "cannot record the job\n").into_response();
    }
    tracing::info!("job {id} submitted: {} files", job.files.len());
    shared.jobs.lock().expect("jobs lock").insert(id, job);
    let _ = shared.queue.send(id);
    ([(header::CONTENT_TYPE, "text/plain")], format!("{id}\n")).into_response()
}

async fn status(AppState(shared): AppState<Arc<Shared>>, UrlPath(id): UrlPath<String>) -> Response {
    let job = id
        .parse::<u64>()
        .ok()
        .and_then(|id| shared.jobs.lock().expect("jobs lock").get(&id).cloned());
    match job {
        Some(job) => Json(job.status()).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no job {id}\n")).into_response(),
    }
}

async fn require_token(
    AppState(shared): AppState<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(token) = &shared.config.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given != Some(&format!("Bearer {token}")) {
            return (
                StatusCode::UNAUTHORIZED,
                "a valid bearer token is required\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// Recalls queued jobs one after another.
async fn worker(shared: Arc<Shared>, queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<u64>>>) {
    loop {
        let Some(id) = queue.lock().await.recv().await else {
            return;
        };
        let files = {
            let jobs = shared.jobs.lock().expect("jobs lock");
            let Some(job) = jobs.get(&id) else { continue };
            let mut files = job.files.clone();
            files.sort();
            files
        };
        shared.update(id, |job| {
            job.started.get_or_insert_with(now);
            (job.done, job.failed) = (0, 0);
        });
        tracing::info!("job {id} started: {} files", files.len());
        let recaller = &shared.config.recaller;
        if recaller.mode == super::recall::RecallMode::Command {
            let pending: Vec<String> = files
                .iter()
                .filter(|f| !is_resident(Path::new(f)))
                .cloned()
                .collect();
            let (outcomes, output) = recaller.recall(&pending).await;
            shared.update(id, |job| {
                job.output = output;
                job.done = (files.len() - pending.len()) as u64;
                for (path, outcome) in pending.iter().zip(outcomes) {
                    match outcome {
                        Ok(()) => job.done += 1,
                        Err(error) => {
                            job.failed += 1;
                            job.errors.insert(path.clone(), error);
                        }
                    }
                }
            });
        } else {
            for path in &files {
                // Another job may be recalling this file: wait for it rather than recall twice.
                while !shared
                    .in_flight
                    .lock()
                    .expect("in-flight lock")
                    .insert(path.clone())
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let outcome = recaller.recall_one(path).await;
                shared
                    .in_flight
                    .lock()
                    .expect("in-flight lock")
                    .remove(path);
                shared.update(id, |job| match outcome {
                    Ok(()) => job.done += 1,
                    Err(error) => {
                        job.failed += 1;
                        job.errors.insert(path.clone(), error);
                    }
                });
            }
        }
        shared.update(id, |job| job.completed = Some(now()));
        let (done, failed) = shared
            .jobs
            .lock()
            .expect("jobs lock")
            .get(&id)
            .map_or((0, 0), |j| (j.done, j.failed));
        tracing::info!("job {id} finished: {done} recalled, {failed} failed");
    }
}

/// Binds `listen`, prints `listening on ADDRESS` as the first line of stdout, and serves until
/// SIGTERM or Ctrl-C. Unfinished jobs from the state directory are resumed.
pub async fn serve(listen: SocketAddr, config: ServerConfig) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let (router, unfinished) = router(config)?;
    let address = listener.local_addr()?;
    println!("listening on {address}");
    std::io::stdout().flush()?;
    tracing::info!("serving on {address}; {unfinished} unfinished jobs resumed");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("shut down");
    Ok(())
}

/// The server's routes with their workers started; also answers how many jobs were resumed.
pub fn router(config: ServerConfig) -> anyhow::Result<(Router, usize)> {
    for root in &config.roots {
        if !root.is_absolute() || !root.is_dir() {
            anyhow::bail!(
                "root {} is not an absolute path to a directory",
                root.display()
            );
        }
    }
    let jobs = load_jobs(&config.state_dir)?;
    let next_id = jobs.keys().next_back().map_or(1, |last| last + 1);
    let unfinished: Vec<u64> = jobs
        .values()
        .filter(|j| j.completed.is_none())
        .map(|j| j.id)
        .collect();
    let (sender, receiver) = mpsc::unbounded_channel();
    for id in &unfinished {
        sender.send(*id).expect("the queue is open");
    }
    let max_body = config.max_body;
    let workers = config.workers.max(1);
    let shared = Arc::new(Shared {
        config,
        jobs: Mutex::new(jobs),
        next_id: AtomicU64::new(next_id),
        queue: sender,
        in_flight: Mutex::new(HashSet::new()),
    });
    let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
    for _ in 0..workers {
        tokio::spawn(worker(shared.clone(), receiver.clone()));
    }
    let router = Router::new()
        .route("/upload", post(upload))
        .route("/jobs/{id}", get(status))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            require_token,
        ))
        .with_state(shared);
    Ok((router, unfinished.len()))
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_checked_line_by_line() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("a.zip");
        fs::write(&file, b"x").unwrap();
        let roots = vec![root.path().to_path_buf()];
        let good = file.to_str().unwrap();
        assert_eq!(
            check_list(&format!("{good}\n\n{good}\r\n"), &roots).unwrap(),
            [good, good]
        );
        let bad = check_list(
            &format!(
                "relative.zip\n{good}\n/etc/passwd\n{}/../x\n{}/missing\n",
                root.path().display(),
                root.path().display()
            ),
            &roots,
        )
        .unwrap_err();
        assert_eq!(bad.len(), 4, "{bad:?}");
        assert!(bad[0].starts_with("line 1: relative.zip is not an absolute path"));
        assert!(bad[1].contains("line 3") && bad[1].contains("outside"));
        assert!(bad[2].contains("'..'"));
        assert!(bad[3].contains("does not exist"));
        assert_eq!(
            check_list("\n\n", &roots).unwrap_err(),
            ["the list is empty"]
        );
        assert!(check_list(&format!("{good}\0\n"), &roots).unwrap_err()[0].contains("NUL"));
    }
}
