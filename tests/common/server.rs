//! `catalog serve` started for real on 127.0.0.1, on a free port, and asked with curl.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{curl, TestEnv};

/// A running `catalog serve`, killed when dropped.
pub struct Server {
    child: Child,
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub url: String,
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
        Server { child, url }
    }

    /// The status code and body of a GET.
    pub fn get(&self, path: &str) -> (String, String) {
        curl(&[&format!("{}{path}", self.url)])
    }

    /// The JSON body of a GET that must answer 200.
    pub fn json(&self, path: &str) -> Value {
        let (code, body) = self.get(path);
        assert_eq!(code, "200", "{path}: {body}");
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

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
