//! What the staging and chiller-server tests share: the real `catalog chiller-server` on
//! 127.0.0.1 port 0, an archive of small sparse files on tape, and fake servers that answer
//! with canned faults.

#![allow(dead_code)] // Each test binary uses its own share of these helpers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use catalog_index::State;

use crate::common::TestEnv;

/// A running `catalog chiller-server`, stopped when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Where its log goes.
    pub log: PathBuf,
}

impl Server {
    /// A server over the archive of `env`, with a 50 ms simulated tape mount.
    pub fn start(env: &TestEnv, extra: &[&str]) -> Server {
        Server::start_with_delay(env, 50, extra)
    }

    /// A server whose simulated tape mount takes `mount_delay_ms`.
    pub fn start_with_delay(env: &TestEnv, mount_delay_ms: u64, extra: &[&str]) -> Server {
        let log = env.path().join(format!(
            "chiller-server-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("catalog"))
            .args(["chiller-server", "--listen", "127.0.0.1:0", "--root"])
            .arg(env.root())
            .arg("--state-dir")
            .arg(env.path().join("chiller-state"))
            .args(["--mount-delay-ms", &mount_delay_ms.to_string()])
            .args(extra)
            .env_remove("CHILLER_SERVER_TOKEN")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(address) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            panic!(
                "the server's first line is {line:?}; its log: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Server {
            url: format!("http://{address}"),
            child,
            log,
        }
    }

    /// Stops the server with SIGTERM, as a service manager does, and waits for it to exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").arg(&pid).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard error of a finished command.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Standard output of a finished command.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whether a file is on disk or on tape, from `stat` as the catalog decides it.
pub fn state(path: &str) -> State {
    let (size, blocks) = catalog_index::crawl::usage(Path::new(path)).unwrap();
    State::from_blocks(size, blocks)
}

/// `catalog` with the env's index and a ledger in its directory, and no Chiller settings
/// inherited from the environment.
pub fn catalog(env: &TestEnv) -> assert_cmd::Command {
    let mut cmd = env.catalog();
    cmd.env("CATALOG_LEDGER", env.path().join("ledger"))
        .env_remove("CHILLER_TOKEN");
    cmd
}

/// `catalog stage LIST ARGS...` with [`catalog`], run to its end.
pub fn stage(env: &TestEnv, list: &Path, args: &[&str]) -> Output {
    catalog(env)
        .arg("stage")
        .arg(list)
        .args(args)
        .output()
        .unwrap()
}

/// The demo tile's S2A products on tape (`T60WWV` three times, `T31NFF` once), as sparse
/// files of 64 MiB, and one `T60WWV` product on disk; the archive is indexed.
pub fn tape_archive() -> (TestEnv, Vec<String>) {
    let env = TestEnv::new();
    let mut paths = Vec::new();
    for (i, tile) in ["T60WWV", "T60WWV", "T60WWV", "T31NFF"].iter().enumerate() {
        let name = format!("copernicus.eu/s2a_prd_msil1c/2023/06/1{i}/S2A_MSIL1C_2023061{i}T230131_N0509_R029_{tile}_2023061{i}T235959.zip");
        env.tape_file(&name, 64 << 20);
        paths.push(env.abs(&name));
    }
    env.disk_file(DISK_PRODUCT, 100);
    env.index_archive();
    (env, paths)
}

/// The product of [`tape_archive`] that is on disk.
pub const DISK_PRODUCT: &str = "copernicus.eu/s2a_prd_msil1c/2023/06/20/S2A_MSIL1C_20230620T230131_N0509_R029_T60WWV_20230620T235959.zip";

/// Writes a list file of paths in the env's directory.
pub fn list_file(env: &TestEnv, name: &str, paths: &[&str]) -> PathBuf {
    let list = env.path().join(name);
    let text: String = paths.iter().map(|p| format!("{p}\n")).collect();
    std::fs::write(&list, text).unwrap();
    list
}

/// An HTTP client for the tests' calls, bounded in time.
fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The status code and body of an answer.
fn answer(response: reqwest::blocking::Response) -> (u16, String) {
    let code = response.status().as_u16();
    (code, response.text().unwrap())
}

/// `GET <url>`: the status code and the body.
pub fn get(url: &str) -> (u16, String) {
    answer(http().get(url).send().unwrap())
}

/// `GET <url>`: the status code and the body parsed as JSON (`null` if none).
pub fn get_json(url: &str) -> (u16, serde_json::Value) {
    let (code, body) = get(url);
    (code, serde_json::from_str(&body).unwrap_or_default())
}

/// `POST <url>/upload` of a list as `curl --data-binary @list` sends it, with a bearer token
/// if given: the status code and the body.
pub fn upload_to(url: &str, body: &[u8], token: Option<&str>) -> (u16, String) {
    post(
        &format!("{url}/upload"),
        "application/x-www-form-urlencoded",
        body,
        token,
    )
}

/// `POST <url>` of a body of `content_type`, with a bearer token if given: the status code
/// and the body.
pub fn post(url: &str, content_type: &str, body: &[u8], token: Option<&str>) -> (u16, String) {
    let mut request = http()
        .post(url)
        .header("content-type", content_type)
        .body(body.to_vec());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    answer(request.send().unwrap())
}

/// Polls a job of a server until it is finished, for at most `limit`.
pub fn wait_finished(url: &str, id: &str, limit: Duration) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        let (_, status) = get_json(&format!("{url}/jobs/{id}"));
        if status["Finished"] == "true" {
            return status;
        }
        assert!(Instant::now() < deadline, "job {id} unfinished: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A fake server answering requests in turn with canned answers (status, body, delay before
/// answering; status 0 closes the connection without an answer), recording each request's
/// bytes; it stops after the last answer.
pub struct Fake {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The raw requests received so far.
    pub requests: Arc<Mutex<Vec<Vec<u8>>>>,
}

/// Starts a [`Fake`].
pub fn fake(answers: Vec<(u16, &'static str, Duration)>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        for (status, body, delay) in answers {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let request = read_request(&mut stream);
            seen.lock().unwrap().push(request);
            std::thread::sleep(delay);
            if status == 0 {
                continue;
            }
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Fake { url, requests }
}

/// One whole HTTP request: its head, then as many body bytes as Content-Length says.
pub fn read_request(stream: &mut std::net::TcpStream) -> Vec<u8> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = stream.read(&mut buffer).unwrap_or(0);
        if n == 0 {
            return request;
        }
        request.extend_from_slice(&buffer[..n]);
        let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse::<usize>().unwrap());
        if request.len() >= end + 4 + length {
            return request;
        }
    }
}
