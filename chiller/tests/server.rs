//! The Chiller-compatible server driven in-process on 127.0.0.1 port 0, talked to by this
//! crate's own client: what one writes the other reads, tokens, unknown jobs, bad lists, and a
//! shutdown that stops the workers with a job half done, which the next server resumes.

use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use catalog_chiller::recall::{is_resident, Recaller, Simulation};
use catalog_chiller::server::{ChillerServer, ServerConfig};
use catalog_chiller::{ChillerClient, ClientError, ClientOptions, JobStatus};
use catalog_http::Limits;

/// An archive root with sparse files (on tape, as `stat` tells) and a state directory.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let site = Site {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(site.root()).unwrap();
        site
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("archive")
    }

    /// A sparse file of 1 MiB under the root.
    fn tape_file(&self, name: &str) -> String {
        let path = self.root().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .set_len(1 << 20)
            .unwrap();
        path.to_str().unwrap().to_string()
    }

    fn config(&self, mount_delay: Duration, token: Option<&str>) -> ServerConfig {
        ServerConfig {
            roots: vec![self.root()],
            state_dir: self.dir.path().join("state"),
            recaller: Recaller::Simulate(Simulation {
                mount_delay,
                drive_rate: NonZeroU64::new(1 << 30).unwrap(),
                reserve: 0,
            }),
            workers: 1,
            max_body: 1 << 20,
            token: token.map(str::to_string),
            limits: Limits::default(),
        }
    }
}

/// A server running in this process: its URL, and how to stop it.
struct Running {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    run: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn run(config: ServerConfig) -> Running {
    let server = ChillerServer::start(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(server.run(listener, shutdown(stopped)));
    Running { url, stop, run }
}

async fn shutdown(stopped: tokio::sync::oneshot::Receiver<()>) {
    let _ = stopped.await;
}

impl Running {
    fn client(&self, token: Option<&str>) -> ChillerClient {
        ChillerClient::new(&ClientOptions {
            token: token.map(str::to_string),
            ..ClientOptions::at(&self.url)
        })
        .unwrap()
    }

    /// Stops the server and waits for it, workers included.
    async fn stop(self) -> Duration {
        let started = Instant::now();
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(20), self.run)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
        started.elapsed()
    }
}

async fn finished(client: &ChillerClient, id: &str) -> JobStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = client.status(id).await.unwrap();
        if status.finished {
            return status;
        }
        assert!(Instant::now() < deadline, "job {id} unfinished: {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn what_the_server_writes_the_client_reads() {
    let site = Site::new();
    let files = [site.tape_file("b.zip"), site.tape_file("a.zip")];
    let server = run(site.config(Duration::from_millis(1), None)).await;
    let client = server.client(None);
    let id = client
        .upload(&format!("{}\n{}\n", files[0], files[1]))
        .await
        .unwrap();
    assert_eq!(id, "1");
    let status = finished(&client, &id).await;
    assert_eq!(
        (status.files, status.done, status.failed),
        (Some(2), Some(2), Some(0))
    );
    assert_eq!(status.raw["Finished"], "true", "Chiller's own form");
    assert_eq!(status.raw["ID"], 1);
    assert!(status.raw["Completed"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert!(files.iter().all(|f| is_resident(Path::new(f))));
    assert_eq!(client.upload(&files[0]).await.unwrap(), "2", "ids go on");

    let unknown = client.status("77").await.unwrap_err();
    assert!(
        matches!(&unknown, ClientError::NotFound { id, .. } if id == "77"),
        "{unknown}"
    );
    assert_eq!(
        unknown.to_string(),
        format!("Chiller at {} knows no job 77: no job 77", server.url)
    );
    assert!(matches!(
        client.status("../x").await.unwrap_err(),
        ClientError::BadJobId(_)
    ));
    server.stop().await;
}

#[tokio::test]
async fn bad_lists_and_missing_tokens_are_refused() {
    let site = Site::new();
    let file = site.tape_file("a.zip");
    let server = run(site.config(Duration::from_millis(1), Some("s3cret"))).await;

    let error = server.client(None).upload(&file).await.unwrap_err();
    assert!(
        matches!(&error, ClientError::Refused { status, .. } if status.as_u16() == 401),
        "{error}"
    );
    assert!(error
        .to_string()
        .ends_with("(401 Unauthorized): a valid bearer token is required"));
    let wrong = server.client(Some("s3cre")).status("1").await.unwrap_err();
    assert!(matches!(wrong, ClientError::Refused { .. }), "{wrong}");

    let client = server.client(Some("s3cret"));
    let error = client
        .upload(&format!("relative.zip\n{file}\n/etc/passwd\n"))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "Chiller at {} refused the upload (400 Bad Request): line 1: relative.zip is not an \
             absolute path line 3: /etc/passwd is outside the served roots",
            server.url
        )
    );
    // The answers are read by a plain HTTP client too, as a script would.
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("{}/upload", server.url))
        .bearer_auth("s3cret")
        .body(format!("{file}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "1\n");
    let missing = http
        .get(format!("{}/jobs/abc", server.url))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.text().await.unwrap(), "no job abc\n");
    server.stop().await;
}

#[tokio::test]
async fn a_shutdown_stops_the_workers_and_the_next_server_resumes_the_job() {
    let site = Site::new();
    let file = site.tape_file("a.zip");
    // A tape mount far longer than the test: only a stop ends the recall.
    let server = run(site.config(Duration::from_secs(600), None)).await;
    let client = server.client(None);
    let id = client.upload(&file).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.status(&id).await.unwrap().raw["Started"].is_null() {
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = server.stop().await;
    assert!(
        took < Duration::from_secs(5),
        "the workers stopped at once: {took:?}"
    );
    assert!(!is_resident(Path::new(&file)));

    let server = run(site.config(Duration::from_millis(1), None)).await;
    let client = server.client(None);
    let status = finished(&client, &id).await;
    assert_eq!(
        (status.done, status.failed),
        (Some(1), Some(0)),
        "{status:?}"
    );
    assert!(is_resident(Path::new(&file)));
    server.stop().await;
}
