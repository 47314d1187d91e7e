//! Staging with the real binary: `catalog query --stage`, `catalog stage`, `catalog jobs` and
//! `catalog demo` against the real `catalog chiller-server` on 127.0.0.1, and against small
//! fake servers for the faults a real one may show.

mod chiller_support;
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use catalog_index::State;
use chiller_support::{
    catalog, fake, list_file, post, stage, state, stderr, stdout, tape_archive, Server,
    DISK_PRODUCT,
};
use common::TestEnv;

const QUERY: &str = "tile:T60WWV AND sat:S2A";

#[test]
fn staging_a_query_with_wait_brings_its_files_to_disk() {
    let (env, paths) = tape_archive();
    let server = Server::start(&env, &[]);
    let out = env.path().join("staged.txt");
    let output = catalog(&env)
        .args(["query", QUERY, "--stage", "--wait", "--timeout", "60"])
        .args(["--chiller", &server.url, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "1\n", "the job id, and nothing else");
    let message = stderr(&output);
    assert!(
        message.contains("3 files (192.00 MiB) to stage; 1 already on disk left out"),
        "{message}"
    );
    assert!(
        message.contains(&format!("submitted as job 1 to {}", server.url)),
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
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        written.lines().count(),
        4,
        "--out has every match: {written}"
    );

    // The catalog, re-indexed, sees the files on disk.
    env.index_archive();
    let count = catalog(&env)
        .args(["query", &format!("{QUERY} AND state:tape"), "--count"])
        .output()
        .unwrap();
    assert_eq!(stdout(&count), "0\n");

    // Staging again finds nothing to do: that is said, and no failure.
    let again = catalog(&env)
        .args(["query", QUERY, "--stage", "--chiller", &server.url])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(stdout(&again), "");
    assert!(
        stderr(&again)
            .ends_with("nothing to stage: 4 already on disk left out (--all stages them)\n"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn staging_jobs_shows_the_ledger_after_a_restart() {
    let (env, paths) = tape_archive();
    let server = Server::start(&env, &[]);
    let list = list_file(&env, "list.txt", &[&paths[3]]);
    let staged = stage(&env, &list, &["--chiller", &server.url]);
    assert!(staged.status.success(), "{}", stderr(&staged));
    let waited = catalog(&env)
        .args([
            "query",
            QUERY,
            "--stage",
            "--wait",
            "--chiller",
            &server.url,
        ])
        .output()
        .unwrap();
    assert!(waited.status.success(), "{}", stderr(&waited));

    // A later process reads the history, each job with its server, size, query and the status
    // last seen; the environment's CHILLER_URL does not move a recorded job elsewhere.
    let jobs = catalog(&env).arg("jobs").output().unwrap();
    let jobs = stdout(&jobs);
    let lines: Vec<&str> = jobs.lines().collect();
    assert_eq!(lines.len(), 2, "{jobs}");
    assert!(lines[0].starts_with("1\t"), "{jobs}");
    assert!(
        lines[0].contains(&server.url) && lines[0].contains("1 files\t64.00 MiB\tunknown\t(list)"),
        "{jobs}"
    );
    assert!(
        lines[1].starts_with("2\t")
            && lines[1].contains(&format!("3 files\t192.00 MiB\tfinished\t{QUERY}")),
        "{jobs}"
    );
    let status = catalog(&env)
        .args(["jobs", "1", "--wait", "--timeout", "30", "--json"])
        .env("CHILLER_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", stderr(&status));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["server"], server.url.as_str());
    assert_eq!(status["files"], 1);
    assert_eq!(status["status"]["Finished"], "true");
    assert_eq!(status["status"]["Done"], 1);
    let entries = catalog(&env).args(["jobs", "--json"]).output().unwrap();
    let entries: serde_json::Value = serde_json::from_slice(&entries.stdout).unwrap();
    assert_eq!(entries[0]["list"], serde_json::json!([paths[3]]));
    assert_eq!(entries[0]["last_status"]["finished"], true);
    assert_eq!(entries[1]["query"], QUERY);

    let text = catalog(&env).args(["jobs", "2"]).output().unwrap();
    let text = stdout(&text);
    assert!(
        text.starts_with(&format!(
            "job 2 at {}: 3 files, 192.00 MiB, submitted",
            server.url
        )) && text.contains("  Finished: true\n")
            && text.contains("  Done: 3\n"),
        "{text}"
    );

    let unknown = catalog(&env)
        .args(["jobs", "77"])
        .env("CHILLER_URL", &server.url)
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains(&format!("Chiller at {} knows no job 77", server.url)),
        "a job from elsewhere is looked for at the usual server: {}",
        stderr(&unknown)
    );
    let unknown = catalog(&env)
        .args(["jobs", "77", "--chiller", &server.url])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(
        stderr(&unknown),
        format!(
            "catalog: Chiller at {} knows no job 77: no job 77\n",
            server.url
        )
    );
}

#[test]
fn staging_a_list_from_stdin_in_batches_with_a_vanished_file() {
    let (env, paths) = tape_archive();
    let server = Server::start(&env, &[]);
    let missing = env.abs("copernicus.eu/gone.zip");
    let output = catalog(&env)
        .args(["stage", "-", "--batch-size", "2", "--wait"])
        .args(["--chiller", &server.url])
        .write_stdin(format!(
            "{}\r\n\n{}\n{}\n{missing}\n",
            paths[0], paths[1], paths[3]
        ))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "1\n2\n");
    let message = stderr(&output);
    assert!(
        message.contains(&format!(
            "3 files (192.00 MiB) to stage; 1 no longer exist: {missing}; submitted as jobs 1, 2"
        )),
        "{message}"
    );
    assert!([0, 1, 3].iter().all(|&i| state(&paths[i]) == State::Disk));
    assert_eq!(state(&paths[2]), State::Tape);
    let ledger = catalog(&env).args(["jobs", "--json"]).output().unwrap();
    let ledger: serde_json::Value = serde_json::from_slice(&ledger.stdout).unwrap();
    assert_eq!(ledger[0]["list"], serde_json::json!([paths[0], paths[1]]));
    assert_eq!(ledger[1]["list"], serde_json::json!([paths[3]]));
    assert_eq!(ledger[1]["bytes"], 64 << 20);
}

#[test]
fn staging_all_sends_files_on_disk_too() {
    let (env, paths) = tape_archive();
    let server = Server::start(&env, &[]);
    let on_disk = env.abs(DISK_PRODUCT);
    let list = list_file(&env, "list.txt", &[&on_disk, &paths[0]]);
    let output = stage(&env, &list, &["--all", "--wait", "--chiller", &server.url]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("2 files (64.00 MiB) to stage; submitted as job 1"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("finished: 2 files recalled"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn staging_refuses_lists_it_cannot_stage() {
    let env = TestEnv::new();
    let list = list_file(&env, "list.txt", &["relative/a.zip", "/x/b.zip"]);
    let output = stage(&env, &list, &["--chiller", "http://127.0.0.1:9"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!(
            "catalog: the list {} holds relative paths (line 1: relative/a.zip): Chiller takes absolute paths only\n",
            list.display()
        )
    );
    let gone = catalog(&env)
        .args(["stage", "-", "--chiller", "http://127.0.0.1:9"])
        .write_stdin("/no/such/file.zip\n")
        .output()
        .unwrap();
    assert_eq!(gone.status.code(), Some(1));
    assert_eq!(
        stderr(&gone),
        "catalog: nothing to stage: 1 no longer exist: /no/such/file.zip\n"
    );
    let empty = catalog(&env)
        .args(["stage", "-"])
        .write_stdin("\n")
        .output()
        .unwrap();
    assert_eq!(empty.status.code(), Some(1));
    assert_eq!(
        stderr(&empty),
        "catalog: nothing to stage: the list is empty\n"
    );
    let mut long = format!("/x/a.zip\n/{}", "y".repeat(10 << 20));
    long.push('\n');
    let too_long = catalog(&env)
        .args(["stage", "-", "--chiller", "http://127.0.0.1:9"])
        .write_stdin(long)
        .output()
        .unwrap();
    assert_eq!(too_long.status.code(), Some(1));
    assert_eq!(
        stderr(&too_long),
        "catalog: the list - has a line longer than any path at line 2 (PATH_MAX is 4096 bytes)\n"
    );
    let bad_url = catalog(&env)
        .args(["stage", "-", "--chiller", "chiller.eodc.eu"])
        .write_stdin("/x\n")
        .output()
        .unwrap();
    assert_eq!(bad_url.status.code(), Some(1));
    assert!(
        stderr(&bad_url).starts_with("catalog: bad Chiller URL 'chiller.eodc.eu'"),
        "{}",
        stderr(&bad_url)
    );
}

#[test]
fn staging_through_catalog_serve_takes_absolute_paths_only() {
    use std::io::BufRead;
    let (env, paths) = tape_archive();
    // No Chiller listens there: a list refused is refused before any upload.
    let mut serve = Command::new(assert_cmd::cargo::cargo_bin("catalog"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--chiller",
            "http://127.0.0.1:9",
        ])
        .env("CATALOG_INDEX", env.index())
        .env("CATALOG_LEDGER", env.path().join("ledger"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().trim_start_matches("listening on ").to_string();
    let listed = format!("{}\nrelative/a.zip\n ./b.zip\n", paths[0]);
    let (code, body) = post(
        &format!("{url}/stage"),
        "text/uri-list",
        listed.as_bytes(),
        None,
    );
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(code, 400, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["error"],
        "the list in the body holds relative paths (line 2: relative/a.zip, line 3: ./b.zip): \
         Chiller takes absolute paths only"
    );
    assert!(!env.path().join("ledger").exists(), "no job was recorded");
}

#[test]
fn staging_gives_up_waiting_at_the_timeout() {
    let (env, paths) = tape_archive();
    let server = Server::start_with_delay(&env, 30_000, &[]);
    let list = list_file(&env, "list.txt", &[&paths[0]]);
    let started = Instant::now();
    let output = stage(
        &env,
        &list,
        &["--wait", "--timeout", "2", "--chiller", &server.url],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(stdout(&output), "1\n", "the id is shown all the same");
    let message = stderr(&output);
    assert!(
        message.lines().last().unwrap().starts_with("catalog: timed out after 2 seconds (recalling, 0 of 1 files recalled); the server goes on: follow with `catalog jobs 1 --wait`"),
        "{message}"
    );
    let jobs = catalog(&env).arg("jobs").output().unwrap();
    assert!(
        stdout(&jobs).contains("\trunning 0 of 1\t"),
        "{}",
        stdout(&jobs)
    );
}

/// `catalog stage` of one sparse file to `url`.
fn stage_to(env: &TestEnv, url: &str, extra: &[&str]) -> std::process::Output {
    env.tape_file("a.zip", 1 << 20);
    let list = list_file(env, "fake-list.txt", &[&env.abs("a.zip")]);
    stage(env, &list, &[&["--chiller", url], extra].concat())
}

#[test]
fn staging_faults_of_the_server_are_one_clear_line() {
    let env = TestEnv::new();
    let down = stage_to(&env, "http://127.0.0.1:9", &[]);
    assert_eq!(down.status.code(), Some(1));
    let message = stderr(&down);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with(
            "catalog: cannot upload to Chiller at http://127.0.0.1:9 (5 tries): connection failed"
        ),
        "{message}"
    );

    for (answer, needle) in [
        (
            (500, "tape library offline", Duration::ZERO),
            "refused the upload (500 Internal Server Error): tape library offline",
        ),
        (
            (200, "", Duration::ZERO),
            "answered the upload with an empty job id",
        ),
        (
            (200, "  \n", Duration::ZERO),
            "answered the upload with an empty job id",
        ),
        (
            (200, "\u{1}\u{2}garbage", Duration::ZERO),
            "answered the upload with no job id (at most 64 of A-Z a-z 0-9 . _ -) but: \\u{1}\\u{2}garbage",
        ),
        (
            (200, "<html>\n<body>hello</body>\n</html>", Duration::ZERO),
            "with no job id (at most 64 of A-Z a-z 0-9 . _ -) but: <html> <body>hello</body> </html>",
        ),
        (
            (403, "quota exceeded", Duration::ZERO),
            "refused the upload (403 Forbidden): quota exceeded",
        ),
    ] {
        let server = fake(vec![answer]);
        let output = stage_to(&env, &server.url, &["--wait"]);
        assert_eq!(output.status.code(), Some(1), "{needle}");
        let message = stderr(&output);
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(message.contains(needle), "{message}");
        assert_eq!(stdout(&output), "", "no job id");
        assert_eq!(
            server.requests.lock().unwrap().len(),
            1,
            "an upload is never retried"
        );
    }
    let jobs = catalog(&env).arg("jobs").output().unwrap();
    assert_eq!(stdout(&jobs), "", "no job was recorded");

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
    let odd = fake(vec![
        (200, "8", Duration::ZERO),
        (200, r#"{"Finished":"soon"}"#, Duration::ZERO),
    ]);
    let output = stage_to(&env, &odd.url, &["--wait"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(
            "answered job 8 oddly: the status answer has an unreadable \"Finished\": \"soon\""
        ),
        "{}",
        stderr(&output)
    );
    let gone = fake(vec![
        (200, "9", Duration::ZERO),
        (404, "no such job", Duration::ZERO),
    ]);
    let output = stage_to(&env, &gone.url, &["--wait"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).ends_with("knows no job 9: no such job\n"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn staging_takes_only_short_printable_job_ids() {
    let env = TestEnv::new();
    let digits: &'static str = Box::leak("7".repeat(10 << 20).into_boxed_str());
    for (body, shown) in [
        (digits, format!("but: {}...", "7".repeat(100))),
        ("../../../../tmp/x", "but: ../../../../tmp/x".to_string()),
        ("..", "but: ..".to_string()),
        ("12 34", "but: 12 34".to_string()),
    ] {
        let server = fake(vec![(200, body, Duration::ZERO)]);
        let output = stage_to(&env, &server.url, &["--wait"]);
        assert_eq!(output.status.code(), Some(1));
        let message = stderr(&output);
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(message.len() < 400, "{}", &message[..400]);
        assert!(
            message.starts_with(&format!(
                "catalog: Chiller at {} answered the upload with no job id",
                server.url
            )) && message.trim_end().ends_with(&shown),
            "{message}"
        );
        assert_eq!(stdout(&output), "", "no job id");
    }
    let jobs = catalog(&env).arg("jobs").output().unwrap();
    assert!(jobs.status.success(), "{}", stderr(&jobs));
    assert_eq!(stdout(&jobs), "", "no job was recorded");
    assert!(
        !env.path().join("ledger").exists()
            || std::fs::read_dir(env.path().join("ledger"))
                .unwrap()
                .count()
                == 0
    );

    // Ids given on the command line are checked before any server is asked.
    for id in ["../../../../tmp/x", "..", "a b", &"9".repeat(65)] {
        let output = catalog(&env)
            .args(["jobs", id, "--chiller", "http://127.0.0.1:9"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{id}");
        assert!(
            stderr(&output).contains("is no job id"),
            "{}",
            stderr(&output)
        );
    }
}

#[test]
fn staging_waits_for_answers_no_longer_than_the_http_timeout() {
    let env = TestEnv::new();
    // Takes the upload and never answers (within the test).
    let silent = fake(vec![(200, "1", Duration::from_secs(60))]);
    let started = Instant::now();
    let output = stage_to(&env, &silent.url, &["--http-timeout", "2"]);
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "{took:?}"
    );
    assert_eq!(
        stderr(&output),
        format!(
            "catalog: Chiller at {} did not answer the upload within 2 s (--http-timeout); \
             it may have accepted it: check the server before uploading again\n",
            silent.url
        )
    );
    assert_eq!(silent.requests.lock().unwrap().len(), 1, "never retried");
    assert_eq!(stdout(&catalog(&env).arg("jobs").output().unwrap()), "");

    // A status call that gets no answer is tried again, each try bounded.
    let slow = fake(
        (0..5)
            .map(|_| (200, r#"{"Finished":"true"}"#, Duration::from_secs(60)))
            .collect(),
    );
    let started = Instant::now();
    let output = catalog(&env)
        .args(["jobs", "3", "--http-timeout", "0.5", "--chiller", &slow.url])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        stderr(&output).ends_with(&format!(
            "cannot get the status of job 3 from Chiller at {} after 5 tries: \
             no answer within 0.5 s (--http-timeout)\n",
            slow.url
        )),
        "{}",
        stderr(&output)
    );
    let bad = catalog(&env)
        .args(["stage", "-", "--http-timeout", "0"])
        .write_stdin("/x\n")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

#[test]
fn staging_rides_out_a_slow_and_failing_server_with_finished_as_a_boolean() {
    let env = TestEnv::new();
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
    assert_eq!(stdout(&output), "42\n");
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert!(stderr(&output).contains("finished: 1 files recalled"));
    assert_eq!(server.requests.lock().unwrap().len(), 5);

    // The status of a job whose server says `"Finished":"true"` as a string, with its own
    // fields kept.
    let again = fake(vec![(
        200,
        r#"{"Finished":"true","Files":"1","Done":"1","Tape":"T00042"}"#,
        Duration::ZERO,
    )]);
    let status = catalog(&env)
        .args(["jobs", "42", "--json", "--chiller", &again.url])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", stderr(&status));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["status"]["Tape"], "T00042");
    let jobs = catalog(&env).arg("jobs").output().unwrap();
    assert!(
        stdout(&jobs).starts_with("42\t") && stdout(&jobs).contains("\tfinished\t"),
        "the status seen is noted: {}",
        stdout(&jobs)
    );

    // Status calls are retried a bounded number of times.
    let failing = fake(vec![
        (200, "43", Duration::ZERO),
        (500, "down", Duration::ZERO),
        (500, "down", Duration::ZERO),
        (500, "down", Duration::ZERO),
        (500, "down", Duration::ZERO),
        (500, "still down", Duration::ZERO),
    ]);
    let output = stage_to(&env, &failing.url, &["--wait"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).ends_with(&format!(
            "cannot get the status of job 43 from Chiller at {} after 5 tries: 500 Internal Server Error: still down\n",
            failing.url
        )),
        "{}",
        stderr(&output)
    );
    assert_eq!(failing.requests.lock().unwrap().len(), 6);

    let failed = fake(vec![
        (200, "44", Duration::ZERO),
        (
            200,
            r#"{"Finished":"true","Files":1,"Done":0,"Failed":1}"#,
            Duration::ZERO,
        ),
    ]);
    let output = stage_to(&env, &failed.url, &["--wait"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).ends_with(
            "catalog: job 44: 1 of 1 files could not be recalled; `catalog jobs ID` shows the server's report\n"
        ),
        "{}",
        stderr(&output)
    );
}

/// The request line and the headers and body that matter of a raw HTTP request.
fn request_form(raw: &[u8]) -> (String, Option<String>, Option<String>, Vec<u8>) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole request");
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        })
    };
    (
        head.lines().next().unwrap().to_string(),
        header("content-type"),
        header("content-length"),
        raw[end + 4..].to_vec(),
    )
}

#[test]
fn staging_the_upload_has_the_form_of_the_documented_curl_call() {
    let curl = Path::new("/usr/bin/curl");
    assert!(
        curl.exists(),
        "this test compares catalog's upload with curl's, and /usr/bin/curl is missing: install curl (.ci/run does)"
    );
    let env = TestEnv::new();
    env.tape_file("a.zip", 1 << 20);
    env.tape_file("b.zip", 1 << 20);
    let list = list_file(&env, "list.txt", &[&env.abs("a.zip"), &env.abs("b.zip")]);

    // curl https://chiller.eodc.eu/upload --data-binary "@list.txt", against a local listener.
    let from_curl = fake(vec![(200, "1", Duration::ZERO)]);
    let status = Command::new(curl)
        .args(["-s", "-o", "/dev/null"])
        .arg(format!("{}/upload", from_curl.url))
        .arg("--data-binary")
        .arg(format!("@{}", list.display()))
        .status()
        .unwrap();
    assert!(status.success());
    let from_catalog = fake(vec![(200, "1", Duration::ZERO)]);
    let output = stage(&env, &list, &["--chiller", &from_catalog.url]);
    assert!(output.status.success(), "{}", stderr(&output));

    let curl_request = request_form(&from_curl.requests.lock().unwrap()[0]);
    let catalog_request = request_form(&from_catalog.requests.lock().unwrap()[0]);
    assert_eq!(curl_request.0, "POST /upload HTTP/1.1");
    assert_eq!(
        curl_request.1.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(curl_request.3, std::fs::read(&list).unwrap());
    assert_eq!(catalog_request, curl_request);
}

#[test]
fn staging_the_demo_runs_the_whole_mission_and_cleans_up() {
    let env = TestEnv::new();
    let started = Instant::now();
    let output = catalog(&env)
        .args(["demo", "--files", "1500"])
        .env("TMPDIR", env.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(60));
    let text = stdout(&output);
    for step in ["1. ", "2. ", "3. ", "4. ", "5. ", "6. ", "7. "] {
        assert!(text.lines().any(|l| l.starts_with(step)), "{step}: {text}");
    }
    let staged = text
        .lines()
        .find(|l| l.contains("stat: "))
        .unwrap_or_else(|| panic!("{text}"));
    let counts: Vec<&str> = staged.split("stat: ").nth(1).unwrap().split(' ').collect();
    assert_eq!(
        counts[0], counts[2],
        "every staged file is on disk: {staged}"
    );
    assert!(counts[0].parse::<u32>().unwrap() >= 1, "{staged}");
    assert!(
        text.contains("AND state:tape\" now matches 0 files"),
        "{text}"
    );
    let left: Vec<_> = std::fs::read_dir(env.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("archive")],
        "the demo removed its directory and wrote no ledger outside it"
    );
}
