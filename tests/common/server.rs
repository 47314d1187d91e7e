//! `catalog serve` asked over HTTP with reqwest: its router served in this process on
//! 127.0.0.1 port 0 ([`InProcess`]), or the real binary ([`Server`]) for the end-to-end tests.

use std::io::{BufRead, BufReader};
use std::ops::Deref;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use catalog::serve::ServeConfig;
use serde_json::Value;

use super::TestEnv;

/// An HTTP client of one server, with the runtime its requests run on.
pub struct Client {
    /// The server's base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

/// An answer: its status, headers and body.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Client {
    fn new(url: String, runtime: tokio::runtime::Runtime) -> Client {
        Client {
            url,
            http: reqwest::Client::new(),
            runtime,
        }
    }

    /// Sends a request built from the client and a URL, and reads the whole answer.
    pub fn send(
        &self,
        build: impl FnOnce(&reqwest::Client, String) -> reqwest::RequestBuilder,
        path: &str,
    ) -> Answer {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.url)
        };
        self.runtime.block_on(async {
            let response = build(&self.http, url.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response
                .text()
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            Answer {
                status,
                headers,
                body,
            }
        })
    }

    /// The status and body of a GET of a path (or of a whole URL).
    pub fn get(&self, path: &str) -> (u16, String) {
        let answer = self.send(|http, url| http.get(url), path);
        (answer.status, answer.body)
    }

    /// The status and body of a POST of `body` as `content_type`.
    pub fn post(&self, path: &str, content_type: &str, body: impl Into<String>) -> (u16, String) {
        let answer = self.request(
            reqwest::Method::POST,
            path,
            &[(reqwest::header::CONTENT_TYPE.as_str(), content_type)],
            body,
        );
        (answer.status, answer.body)
    }

    /// The answer to a `method` request of a path (or whole URL) with extra `headers` and
    /// `body`, such as a browser's CORS preflight or a proxy's forwarded request.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<String>,
    ) -> Answer {
        let body = body.into();
        self.send(
            |http, url| {
                headers
                    .iter()
                    .fold(http.request(method, url), |request, (name, value)| {
                        request.header(*name, *value)
                    })
                    .body(body)
            },
            path,
        )
    }

    /// The JSON body of a GET that must answer 200.
    pub fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    /// Waits until `/count` of `query` answers `files`; the server looks for rebuilds once a
    /// second.
    pub fn wait_for_count(&self, query: &str, files: u64, failure: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.json(&format!("/count?q={query}"))["files"] != files {
            assert!(Instant::now() < deadline, "{failure}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The server's router served in this process, on 127.0.0.1 port 0 and within its limits, as
/// `catalog serve` serves it; stopped when dropped.
pub struct InProcess {
    client: Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<()>>,
}

impl InProcess {
    /// Serves the index of `env` with the defaults of `catalog serve`.
    pub fn start(env: &TestEnv) -> InProcess {
        InProcess::with(InProcess::config(env))
    }

    /// The configuration `catalog serve --index INDEX` runs with, to change before
    /// [`InProcess::with`].
    pub fn config(env: &TestEnv) -> ServeConfig {
        ServeConfig {
            index: env.index(),
            chiller: catalog_chiller::client::ClientOptions::at(
                catalog_chiller::client::DEFAULT_URL,
            ),
            ledger: env.path().join("ledger"),
            token: None,
            cors_origins: Vec::new(),
            limits: catalog_http::Limits::default(),
        }
    }

    /// Serves with `config`.
    pub fn with(config: ServeConfig) -> InProcess {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = catalog::serve::Server::open(config).unwrap();
        // Bound as `catalog serve` binds, with its listen backlog.
        let listener = runtime
            .block_on(async { catalog_http::bind("127.0.0.1:0".parse().unwrap()) })
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = runtime.spawn(server.serve(listener, async {
            let _ = stopped.await;
        }));
        InProcess {
            client: Client::new(url, runtime),
            stop: Some(stop),
            serving: Some(serving),
        }
    }
}

impl Deref for InProcess {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let (Some(stop), Some(serving)) = (self.stop.take(), self.serving.take()) {
            let _ = stop.send(());
            let stopped = self
                .client
                .runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(20), serving).await });
            // A test that failed already says why; a server that would not stop is its own
            // failure.
            if !std::thread::panicking() {
                stopped.expect("the server stops").expect("the server ran");
            }
        }
    }
}

/// A running `catalog serve`, killed when dropped.
pub struct Server {
    child: Child,
    client: Client,
}

impl Server {
    /// `catalog serve` over the index of `env`, with `extra` arguments.
    pub fn start(env: &TestEnv, extra: &[&str]) -> Server {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("catalog"));
        command
            .env("CATALOG_LEDGER", env.path().join("ledger"))
            .args(["serve", "--listen", "127.0.0.1:0", "--index"])
            .arg(env.index())
            .args(extra)
            .stderr(Stdio::null());
        Server::spawn(command)
    }

    /// Starts `command`, a `catalog serve ... --listen 127.0.0.1:0` set up as the caller
    /// wants it (another user, its environment, where stderr goes), and waits until it listens.
    pub fn spawn(mut command: Command) -> Server {
        let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line: {line:?}"))
            .to_string();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Server {
            child,
            client: Client::new(url, runtime),
        }
    }

    /// Stops the server as a service manager does (SIGTERM), and waits until it has exited.
    pub fn terminate(&mut self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (SIGKILL) and waits for it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Deref for Server {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
