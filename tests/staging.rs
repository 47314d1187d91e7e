//! Staging with the real binary against the real `catalog chiller-server` on 127.0.0.1, and
//! against small fake servers for the faults a real one may show.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use catalog_index::State;
use common::{curl, TestEnv};

/// A running `catalog chiller-server`.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(env: &TestEnv, extra: &[&str]) -> Server {
        Server::start_with_delay(env, 50, extra)
    }

    fn start_with_delay(env: &TestEnv, mount_delay_ms: u64, extra: &[&str]) -> Server {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("catalog"))
            .args(["chiller-server", "--listen", "127.0.0.1:0", "--root"])
            .arg(env.root())
            .arg("--state-dir")
            .arg(env.path().join("chiller-state"))
            .args(["--mount-delay-ms", &mount_delay_ms.to_string()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line: {line:?}"));
        Server {
            child,
            url: format!("http://{address}"),
        }
    }

    fn stop(mut self) {
        // SIGTERM: the server shuts down gracefully.
        Command::new("kill")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn state(path: &str) -> State {
    let (size, blocks) = catalog_index::crawl::usage(Path::new(path)).unwrap();
    State::from_blocks(size, blocks)
}

fn catalog(env: &TestEnv) -> assert_cmd::Command {
    let mut cmd = env.catalog();
    cmd.env("CATALOG_LEDGER", env.path().join("ledger"));
    cmd
}

/// Files of the archive on tape, as small sparse files so that a recall is quick.
fn tape_archive() -> (TestEnv, Vec<String>) {
    let env = TestEnv::new();
    let mut paths = Vec::new();
    for (i, tile) in ["T60WWV", "T60WWV", "T60WWV", "T31NFF"].iter().enumerate() {
        let name = format!("copernicus.eu/s2a_prd_msil1c/2023/06/1{i}/S2A_MSIL1C_2023061{i}T230131_N0509_R029_{tile}_2023061{i}T235959.zip");
        env.tape_file(&name, 64 << 20);
        paths.push(env.abs(&name));
    }
    env.disk_file("copernicus.eu/s2a_prd_msil1c/2023/06/20/S2A_MSIL1C_20230620T230131_N0509_R029_T60WWV_20230620T235959.zip", 100);
    env.index_archive();
    (env, paths)
}

#[test]
fn staging_a_query_with_wait_brings_its_files_to_disk() {
    let (env, paths) = tape_archive();
    let server = Server::start(&env, &[]);
    let output = catalog(&env)
        .args([
            "query",
            "tile:T60WWV AND sat:S2A",
            "--stage",
            "--wait",
            "--timeout",
            "60",
            "--chiller",
            &server.url,
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let id = String::from_utf8(output.stdout.clone())
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(id, "1");
    let message = stderr(&output);
    assert!(
        message.contains("3 files (192.00 MiB) to stage; 1 already on disk left out"),
        "{message}"
    );
    assert!(message.contains("finished: 3 files recalled"), "{message}");
    for path in &paths[..3] {
        assert_eq!(state(path), State::Disk, "{path}");
        assert_eq!(
            std::fs::metadata(path).unwrap().len(),
            64 << 20,
            "the size is unchanged"
        );
    }
    assert_eq!(state(&paths[3]), State::Tape, "other tiles stay on tape");

    // The ledger outlives the process that wrote it.
    let jobs = catalog(&env).arg("jobs").output().unwrap();
    let jobs = String::from_utf8(jobs.stdout).unwrap();
    assert!(
        jobs.starts_with("1\t")
            && jobs.contains(&server.url)
            && jobs.contains("3 files")
            && jobs.contains("tile:T60WWV AND sat:S2A"),
        "{jobs}"
    );
    let status = catalog(&env)
        .args(["jobs", "1", "--json"])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", stderr(&status));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["status"]["Finished"], "true");
    assert_eq!(status["status"]["Done"], 3);
    let entries = catalog(&env).args(["jobs", "--json"]).output().unwrap();
    let entries: serde_json::Value = serde_json::from_slice(&entries.stdout).unwrap();
    assert_eq!(entries[0]["list"].as_array().unwrap().len(), 3);

    let again = catalog(&env)
        .args(["query", "tile:T60WWV", "--stage", "--chiller", &server.url])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("nothing to stage"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn staging_a_list_in_batches_and_a_vanished_file() {
    let (env, paths) = tape_archive();
    let server = Server::start(&env, &[]);
    let list = env.path().join("list.txt");
    let missing = env.abs("copernicus.eu/gone.zip");
    std::fs::write(
        &list,
        format!("{}\n{}\n{}\n{missing}\n", paths[0], paths[1], paths[3]),
    )
    .unwrap();
    let output = catalog(&env)
        .args(["stage"])
        .arg(&list)
        .args(["--batch-size", "2", "--wait", "--chiller", &server.url])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(String::from_utf8(output.stdout.clone()).unwrap(), "1\n2\n");
    assert!(
        stderr(&output).contains(&format!("1 no longer exist: {missing}")),
        "{}",
        stderr(&output)
    );
    assert!([0, 1, 3].iter().all(|&i| state(&paths[i]) == State::Disk));
}

#[test]
fn a_server_restarted_in_the_middle_of_a_job_resumes_it() {
    let (env, paths) = tape_archive();
    let server = Server::start_with_delay(&env, 1500, &[]);
    let list = env.path().join("list.txt");
    std::fs::write(&list, paths[..3].join("\n")).unwrap();
    let output = catalog(&env)
        .arg("stage")
        .arg(&list)
        .args(["--chiller", &server.url])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    std::thread::sleep(Duration::from_millis(2000));
    let (code, body) = curl(&[&format!("{}/jobs/1", server.url)]);
    assert_eq!(code, "200");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["Finished"], "false", "{body}");
    server.stop();

    let server = Server::start(&env, &[]);
    let output = catalog(&env)
        .args(["jobs", "1", "--wait", "--timeout", "60", "--json"])
        .args(["--chiller", &server.url])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(paths[..3].iter().all(|p| state(p) == State::Disk));
    let (_, body) = curl(&[&format!("{}/jobs/1", server.url)]);
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status["Finished"].as_str(), status["Done"].as_u64()),
        (Some("true"), Some(3)),
        "{body}"
    );
}

#[test]
fn the_server_rejects_bad_lists_naming_the_lines() {
    let (env, paths) = tape_archive();
    let server = Server::start(&env, &["--max-list-bytes", "4096"]);
    let upload = |body: &str| curl(&["--data-binary", body, &format!("{}/upload", server.url)]);
    for (body, needle) in [
        (
            "relative/file.zip".to_string(),
            "line 1: relative/file.zip is not an absolute path",
        ),
        (
            format!("{}\n/etc/passwd", paths[0]),
            "line 2: /etc/passwd is outside the served roots",
        ),
        (
            format!("{}/copernicus.eu/../../x", env.root().display()),
            "holds '..'",
        ),
        (
            format!("{}/copernicus.eu/missing.zip", env.root().display()),
            "does not exist",
        ),
        ("\n\n".to_string(), "the list is empty"),
    ] {
        let (code, text) = upload(&body);
        assert_eq!(code, "400", "{body}: {text}");
        assert!(text.contains(needle), "{body}: {text}");
    }
    let huge = format!("{}\n", paths[0]).repeat(200);
    assert_eq!(upload(&huge).0, "413");
    let (code, _) = curl(&[&format!("{}/jobs/99", server.url)]);
    assert_eq!(code, "404");
    let (code, id) = upload(&paths[0]);
    assert_eq!((code.as_str(), id.trim()), ("200", "1"));
}

#[test]
fn the_token_is_required_when_set() {
    let (env, paths) = tape_archive();
    let server = Server::start(&env, &["--token", "s3cret"]);
    let list = env.path().join("list.txt");
    std::fs::write(&list, &paths[0]).unwrap();
    let refused = catalog(&env)
        .arg("stage")
        .arg(&list)
        .args(["--chiller", &server.url])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("401"), "{}", stderr(&refused));
    let accepted = catalog(&env)
        .arg("stage")
        .arg(&list)
        .args(["--chiller", &server.url, "--token", "s3cret", "--wait"])
        .output()
        .unwrap();
    assert!(accepted.status.success(), "{}", stderr(&accepted));
}

/// A fake server answering requests in turn with canned responses; it records the requests.
struct Fake {
    url: String,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
}

fn fake(responses: Vec<(u16, &'static str, Duration)>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        for (status, body, delay) in responses {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let request = read_request(&mut stream);
            seen.lock().unwrap().push(request);
            std::thread::sleep(delay);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Fake { url, requests }
}

/// One whole HTTP request: headers, then as many body bytes as Content-Length says.
fn read_request(stream: &mut std::net::TcpStream) -> Vec<u8> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = stream.read(&mut buffer).unwrap_or(0);
        if n == 0 {
            return request;
        }
        request.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&request).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if request.len() >= end + 4 + length {
                return request;
            }
        }
    }
}

fn stage_to(env: &TestEnv, url: &str, extra: &[&str]) -> std::process::Output {
    let list = env.path().join("fake-list.txt");
    std::fs::write(&list, format!("{}\n", env.abs("a.zip"))).unwrap();
    env.tape_file("a.zip", 1 << 20);
    catalog(env)
        .arg("stage")
        .arg(&list)
        .args(["--chiller", url])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn faults_of_the_server_are_one_clear_line() {
    let env = TestEnv::new();
    let down = stage_to(&env, "http://127.0.0.1:9", &[]);
    assert_eq!(down.status.code(), Some(1));
    let message = stderr(&down);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains("cannot upload to Chiller at http://127.0.0.1:9: connection failed"),
        "{message}"
    );

    for (response, needle) in [
        (
            (500, "tape library offline", Duration::ZERO),
            "refused the upload (500 Internal Server Error): tape library offline",
        ),
        ((200, "", Duration::ZERO), "empty job id"),
        ((200, "\u{1}\u{2}garbage", Duration::ZERO), "no job id"),
        (
            (403, "quota exceeded", Duration::ZERO),
            "(403 Forbidden): quota exceeded",
        ),
    ] {
        let server = fake(vec![response]);
        let output = stage_to(&env, &server.url, &[]);
        assert_eq!(output.status.code(), Some(1), "{needle}");
        assert!(stderr(&output).contains(needle), "{}", stderr(&output));
        assert_eq!(
            server.requests.lock().unwrap().len(),
            1,
            "an upload is never retried"
        );
    }

    // A slow server is waited for; status calls ride out 5xx answers; Finished may be a boolean.
    let server = fake(vec![
        (200, "42\n", Duration::from_millis(1500)),
        (503, "busy", Duration::ZERO),
        (502, "bad gateway", Duration::ZERO),
        (
            200,
            r#"{"Finished":false,"Files":1,"Done":0}"#,
            Duration::ZERO,
        ),
        (
            200,
            r#"{"Finished":true,"Files":1,"Done":1,"Failed":0,"Custom":"kept"}"#,
            Duration::ZERO,
        ),
    ]);
    let started = Instant::now();
    let output = stage_to(&env, &server.url, &["--wait", "--timeout", "60"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(String::from_utf8(output.stdout.clone()).unwrap(), "42\n");
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert_eq!(server.requests.lock().unwrap().len(), 5);

    let garbage = fake(vec![
        (200, "7", Duration::ZERO),
        (200, "<html>oops</html>", Duration::ZERO),
    ]);
    let output = stage_to(&env, &garbage.url, &["--wait"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("answered job 7 with no JSON object: <html>oops</html>"),
        "{}",
        stderr(&output)
    );

    let failed = fake(vec![
        (200, "8", Duration::ZERO),
        (
            200,
            r#"{"Finished":"true","Files":1,"Done":0,"Failed":1}"#,
            Duration::ZERO,
        ),
    ]);
    let output = stage_to(&env, &failed.url, &["--wait"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("1 files could not be recalled"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_upload_has_the_form_of_the_documented_curl_call() {
    let env = TestEnv::new();
    env.tape_file("a.zip", 1 << 20);
    env.tape_file("b.zip", 1 << 20);
    let list = env.path().join("list.txt");
    std::fs::write(
        &list,
        format!("{}\n{}\n", env.abs("a.zip"), env.abs("b.zip")),
    )
    .unwrap();

    let from_curl = fake(vec![(200, "1", Duration::ZERO)]);
    let status = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            &format!("{}/upload", from_curl.url),
            "--data-binary",
        ])
        .arg(format!("@{}", list.display()))
        .status()
        .expect("curl is installed");
    assert!(status.success());
    let from_catalog = fake(vec![(200, "1", Duration::ZERO)]);
    let output = catalog(&env)
        .arg("stage")
        .arg(&list)
        .args(["--chiller", &from_catalog.url])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));

    let parse = |raw: &[u8]| {
        let text = String::from_utf8(raw.to_vec()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let request_line = lines.next().unwrap().to_string();
        let header = |name: &str| {
            head.lines().find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.trim().to_string())
            })
        };
        (
            request_line,
            header("content-type"),
            header("content-length"),
            body.to_string(),
        )
    };
    let curl_request = parse(&from_curl.requests.lock().unwrap()[0]);
    let catalog_request = parse(&from_catalog.requests.lock().unwrap()[0]);
    assert_eq!(curl_request.0, "POST /upload HTTP/1.1");
    assert_eq!(
        curl_request.1.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(catalog_request, curl_request);
}

#[test]
fn the_demo_runs_the_whole_mission_and_cleans_up() {
    let env = TestEnv::new();
    let output = env
        .catalog()
        .args(["demo", "--files", "1500"])
        .env("TMPDIR", env.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    let staged = text
        .lines()
        .find(|l| l.starts_with("6. job finished: "))
        .unwrap_or_else(|| panic!("{text}"));
    let counts: Vec<&str> = staged
        .trim_start_matches("6. job finished: ")
        .split(' ')
        .collect();
    assert_eq!(
        counts[0], counts[2],
        "every staged file is on disk: {staged}"
    );
    assert!(counts[0].parse::<u32>().unwrap() >= 1, "{staged}");
    assert!(text.contains("AND state:tape\" matches 0 files"), "{text}");
    let left: Vec<_> = std::fs::read_dir(env.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("archive")],
        "the demo removed its directory"
    );
}
