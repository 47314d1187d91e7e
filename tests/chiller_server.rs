//! The real `catalog chiller-server` on 127.0.0.1: what it accepts, what it answers, how it
//! recalls, and that its jobs survive a restart.

mod chiller_support;
mod common;

use std::time::{Duration, Instant};

use catalog_index::State;
use chiller_support::{
    catalog, get, get_json, list_file, stage, state, stderr, stdout, tape_archive, upload_to,
    wait_finished, Server,
};

/// `POST <server>/upload` of a list, without a token: status code and body.
fn upload(server: &Server, body: &[u8]) -> (u16, String) {
    upload_to(&server.url, body, None)
}

#[test]
fn chiller_server_takes_a_list_and_reports_the_job() {
    let (env, paths) = tape_archive();
    let server = Server::start(&env, &[]);
    let (code, id) = upload(&server, format!("{}\n{}\n", paths[1], paths[0]).as_bytes());
    assert_eq!((code, id.as_str()), (200, "1\n"));
    let (code, second) = upload(&server, paths[2].as_bytes());
    assert_eq!((code, second.as_str()), (200, "2\n"), "ids are unique");

    let status = wait_finished(&server.url, "1", Duration::from_secs(30));
    assert_eq!(status["ID"], 1);
    assert_eq!(status["Files"], 2);
    assert_eq!(status["Done"], 2);
    assert_eq!(status["Failed"], 0);
    assert_eq!(status["Errors"], serde_json::json!({}));
    for field in ["Submitted", "Started", "Completed"] {
        let stamp = status[field].as_str().unwrap_or_else(|| panic!("{status}"));
        assert!(
            stamp.ends_with('Z') && stamp.len() == 20,
            "{field}: {stamp}"
        );
    }
    assert!(state(&paths[0]) == State::Disk && state(&paths[1]) == State::Disk);
    wait_finished(&server.url, "2", Duration::from_secs(30));

    let (code, _) = get_json(&format!("{}/jobs/99", server.url));
    assert_eq!(code, 404);
    let (code, body) = get(&format!("{}/jobs/abc", server.url));
    assert_eq!((code, body.as_str()), (404, "no job abc\n"));
    let (code, _) = get(&format!("{}/nowhere", server.url));
    assert_eq!(code, 404);

    // One log line per job event.
    let stopped = server.log.clone();
    let status = server.stop();
    assert!(status.success(), "a graceful shutdown: {status}");
    let log = std::fs::read_to_string(stopped).unwrap();
    for event in ["job submitted", "job started", "job finished"] {
        assert_eq!(
            log.lines()
                .filter(|l| l.contains(event) && l.contains("job=1"))
                .count(),
            1,
            "{event}: {log}"
        );
    }
    assert!(log.lines().last().unwrap().ends_with("shut down"), "{log}");
}

#[test]
fn chiller_server_rejects_bad_lists_naming_the_lines() {
    let (env, paths) = tape_archive();
    let server = Server::start(&env, &["--max-list-bytes", "4096"]);
    let root = env.root().display().to_string();
    std::fs::create_dir_all(env.root().join("copernicus.eu/s2a_prd_msil1c/2023/06")).unwrap();
    for (body, answer) in [
        (
            "relative/file.zip".to_string(),
            "line 1: relative/file.zip is not an absolute path\n".to_string(),
        ),
        (
            format!("{}\n/etc/passwd\n", paths[0]),
            "line 2: /etc/passwd is outside the served roots\n".to_string(),
        ),
        (
            format!("{root}/copernicus.eu/../../x"),
            format!("line 1: {root}/copernicus.eu/../../x holds '..'\n"),
        ),
        (
            format!("{}\n\n{root}/copernicus.eu/missing.zip", paths[0]),
            format!("line 3: {root}/copernicus.eu/missing.zip does not exist\n"),
        ),
        (
            format!("{root}/copernicus.eu/s2a_prd_msil1c/2023/06"),
            format!("line 1: {root}/copernicus.eu/s2a_prd_msil1c/2023/06 is a directory but no product (.SAFE, .SEN3)\n"),
        ),
        (
            format!("{}\0", paths[0]),
            format!("line 1: {}\\0 holds a NUL byte\n", paths[0]),
        ),
        ("\n\n".to_string(), "the list is empty\n".to_string()),
        (String::new(), "the list is empty\n".to_string()),
    ] {
        let (code, text) = upload(&server, body.as_bytes());
        assert_eq!((code, text.as_str()), (400, answer.as_str()), "{body:?}");
    }
    let (code, text) = upload(&server, b"/\xff\xfe.zip\nrelative\n");
    assert_eq!(code, 400);
    assert_eq!(
        text,
        "line 1: /\u{fffd}\u{fffd}.zip is not UTF-8\nline 2: relative is not an absolute path\n"
    );
    let huge = format!("{}\n", paths[0]).repeat(100);
    let (code, _) = upload(&server, huge.as_bytes());
    assert_eq!(code, 413);

    // Nothing refused became a job.
    let (code, id) = upload(&server, paths[0].as_bytes());
    assert_eq!((code, id.as_str()), (200, "1\n"));
    let log = server.log();
    assert_eq!(log.matches("job submitted").count(), 1, "{log}");
    assert!(log.contains("list refused"), "{log}");
}

#[test]
fn chiller_server_requires_its_token() {
    let (env, paths) = tape_archive();
    let server = Server::start(&env, &["--token", "s3cret"]);
    let (code, body) = upload(&server, paths[0].as_bytes());
    assert_eq!(
        (code, body.as_str()),
        (401, "a valid bearer token is required\n")
    );
    let (code, _) = upload_to(&server.url, paths[0].as_bytes(), Some("wrong"));
    assert_eq!(code, 401);
    let (code, _) = get(&format!("{}/jobs/1", server.url));
    assert_eq!(code, 401);

    let list = list_file(&env, "list.txt", &[&paths[0]]);
    let refused = stage(&env, &list, &["--chiller", &server.url]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        stderr(&refused),
        format!(
            "catalog: Chiller at {} refused the upload (401 Unauthorized): a valid bearer token is required\n",
            server.url
        )
    );
    let accepted = catalog(&env)
        .arg("stage")
        .arg(&list)
        .args(["--chiller", &server.url, "--wait"])
        .env("CHILLER_TOKEN", "s3cret")
        .output()
        .unwrap();
    assert!(accepted.status.success(), "{}", stderr(&accepted));
    assert_eq!(stdout(&accepted), "1\n");
    assert_eq!(state(&paths[0]), State::Disk);
}

#[test]
fn chiller_server_restarted_in_the_middle_of_a_job_resumes_it() {
    let (env, paths) = tape_archive();
    let server = Server::start_with_delay(&env, 1500, &[]);
    let list = list_file(&env, "list.txt", &[&paths[0], &paths[1], &paths[2]]);
    let output = stage(&env, &list, &["--chiller", &server.url]);
    assert!(output.status.success(), "{}", stderr(&output));
    // The first file takes 1.5 s: stop the server while the job runs.
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let (_, status) = get_json(&format!("{}/jobs/1", server.url));
        if status["Started"].is_string() {
            break status;
        }
        assert!(Instant::now() < deadline, "the job never started: {status}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status["Finished"], "false", "{status}");
    let log = server.log.clone();
    assert!(server.stop().success());
    let log = std::fs::read_to_string(log).unwrap();
    assert!(
        log.contains("shut down; the running jobs resume at the next start jobs=[1]"),
        "{log}"
    );

    // A second server on the same state directory is refused while one runs.
    let server = Server::start(&env, &[]);
    let second = catalog(&env)
        .args(["chiller-server", "--listen", "127.0.0.1:0", "--root"])
        .arg(env.root())
        .arg("--state-dir")
        .arg(env.path().join("chiller-state"))
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert!(
        stderr(&second).contains("another chiller-server uses the state directory"),
        "{}",
        stderr(&second)
    );

    let output = catalog(&env)
        .args(["jobs", "1", "--wait", "--timeout", "60", "--json"])
        .args(["--chiller", &server.url])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["status"]["Finished"], "true");
    assert_eq!(status["status"]["Done"], 3);
    assert!(paths[..3].iter().all(|p| state(p) == State::Disk));
    assert!(
        server
            .log()
            .contains("job started job=1 files=3 resumed=true"),
        "{}",
        server.log()
    );
    let (code, id) = upload(&server, paths[3].as_bytes());
    assert_eq!((code, id.as_str()), (200, "2\n"), "ids go on");
}

#[test]
fn chiller_server_runs_the_sites_recall_command_on_sorted_batches() {
    let (env, paths) = tape_archive();
    let log = env.path().join("recalled.log");
    // A recall tool that logs its batch, then makes each file resident.
    let command = format!(
        "cat {{list}} >> '{}'; while IFS= read -r f; do fallocate -l $(stat -c %s \"$f\") \"$f\"; done < {{list}}; echo recalled",
        log.display()
    );
    let server = Server::start(&env, &["--recall", "command", "--recall-command", &command]);
    let list = list_file(&env, "list.txt", &[&paths[2], &paths[0], &paths[1]]);
    let output = stage(
        &env,
        &list,
        &["--wait", "--timeout", "30", "--chiller", &server.url],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let mut sorted = paths[..3].to_vec();
    sorted.sort();
    let recalled: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(recalled, sorted, "one batch, in path order");
    let (_, status) = get_json(&format!("{}/jobs/1", server.url));
    let tool_output = status["Output"].as_str().unwrap();
    assert!(
        tool_output.contains(": exit status: 0\nrecalled\n"),
        "{status}"
    );

    // The same files again: on disk now, so the tool is not run for them.
    let (code, _) = upload(&server, paths[0].as_bytes());
    assert_eq!(code, 200);
    let status = wait_finished(&server.url, "2", Duration::from_secs(30));
    assert_eq!(status["Done"], 1);
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 3);
}

#[test]
fn chiller_server_reports_a_failing_recall_command() {
    let (env, paths) = tape_archive();
    let server = Server::start(
        &env,
        &[
            "--recall",
            "command",
            "--recall-command",
            "echo drive offline >&2; exit 2 # {list}",
        ],
    );
    let list = list_file(&env, "list.txt", &[&paths[0]]);
    let output = stage(
        &env,
        &list,
        &["--wait", "--timeout", "30", "--chiller", &server.url],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).ends_with("catalog: job 1: 1 of 1 files could not be recalled; `catalog jobs ID` shows the server's report\n"),
        "{}",
        stderr(&output)
    );
    let report = catalog(&env).args(["jobs", "1"]).output().unwrap();
    let report = stdout(&report);
    assert!(
        report.contains(&format!(
            "  Errors: {{\"{}\":\"the recall command failed (exit status: 2)\"}}",
            paths[0]
        )),
        "{report}"
    );
    assert!(report.contains("drive offline"), "{report}");
    assert!(
        server.log().contains("job finished with failures"),
        "{}",
        server.log()
    );

    let refused = catalog(&env)
        .args(["chiller-server", "--root"])
        .arg(env.root())
        .args(["--recall", "command", "--recall-command", "eeadm recall"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("--recall-command must name the batch's list file as {list}"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn chiller_server_read_mode_reads_files_through() {
    let (env, paths) = tape_archive();
    let server = Server::start(&env, &["--recall", "read"]);
    let (code, _) = upload(&server, format!("{}\n{}", paths[0], paths[1]).as_bytes());
    assert_eq!(code, 200);
    let status = wait_finished(&server.url, "1", Duration::from_secs(30));
    assert_eq!(
        (status["Done"].as_u64(), status["Failed"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(std::fs::metadata(&paths[0]).unwrap().len(), 64 << 20);
}

#[test]
fn chiller_server_names_the_job_files_it_skips_and_never_reuses_an_id() {
    let (env, paths) = tape_archive();
    let jobs = env.path().join("chiller-state/jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    let job = |id: &str, files: usize| {
        let files: Vec<String> = (0..files).map(|i| format!("/f{i}")).collect();
        serde_json::json!({
            "id": id.parse::<u64>().unwrap(), "files": files, "submitted": "2026-01-01T00:00:00Z",
            "started": null, "completed": "2026-01-01T00:00:01Z", "done": 0, "failed": 0,
            "errors": {}, "output": null,
        })
        .to_string()
    };
    std::fs::write(jobs.join("1.json"), job("1", 12)).unwrap();
    std::fs::write(jobs.join("9.json"), job("2", 1)).unwrap();
    std::fs::write(jobs.join("7.json"), "not json").unwrap();
    std::fs::write(
        jobs.join("18446744073709551615.json"),
        job("18446744073709551615", 1),
    )
    .unwrap();
    let server = Server::start(&env, &[]);
    let warnings: Vec<String> = server
        .log()
        .lines()
        .filter(|l| l.contains("skipped job state files"))
        .map(str::to_string)
        .collect();
    assert_eq!(warnings.len(), 1, "{}", server.log());
    assert!(
        warnings[0].contains("7.json (unreadable: ")
            && warnings[0].contains("9.json (it holds job 2)"),
        "{}",
        warnings[0]
    );
    let (code, body) = upload(&server, paths[0].as_bytes());
    assert_eq!(code, 500);
    assert!(
        body.starts_with("cannot record the job: no job id is left"),
        "{body}"
    );
    let (_, status) = get_json(&format!("{}/jobs/1", server.url));
    assert_eq!(status["Files"], 12, "job 1 kept: {status}");
    assert!(std::fs::read_to_string(jobs.join("1.json"))
        .unwrap()
        .contains("/f11"));
    assert!(!jobs.join("0.json").exists());
    let (code, _) = get_json(&format!("{}/jobs/2", server.url));
    assert_eq!(code, 404);
}

#[test]
fn chiller_server_simulate_keeps_its_free_space_reserve() {
    let (env, paths) = tape_archive();
    let server = Server::start(&env, &["--reserve-bytes", &u64::MAX.to_string()]);
    let (code, _) = upload(&server, paths[0].as_bytes());
    assert_eq!(code, 200);
    let status = wait_finished(&server.url, "1", Duration::from_secs(30));
    assert_eq!(status["Failed"], 1, "{status}");
    let error = status["Errors"][&paths[0]].as_str().unwrap();
    assert!(
        error.starts_with("not enough free space to simulate its recall: it needs 64.00 MiB")
            && error.ends_with("are kept free (--reserve-bytes)"),
        "{error}"
    );
    assert_eq!(state(&paths[0]), State::Tape);
}

#[test]
fn chiller_server_survives_malformed_http_and_half_open_connections() {
    use common::hostile;
    let (env, paths) = tape_archive();
    let server = Server::start(&env, &["--header-timeout", "2s", "--request-timeout", "1s"]);
    let address = hostile::address(&server.url);
    // No /health here: an unknown job's 404 says the server answers.
    hostile::malformed(address, "/jobs/999", "404");

    let waiting = hostile::half_open(address, 300);
    let opened = Instant::now();
    let started = Instant::now();
    assert_eq!(hostile::get(address, "/jobs/999"), "404");
    let took = started.elapsed();
    eprintln!("an answer with 300 half-open connections: {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    hostile::all_closed(waiting, opened + Duration::from_secs(6));
    assert!(opened.elapsed() >= Duration::from_secs(2));

    // A list that never arrives is cut at the time budget, and becomes no job.
    let started = Instant::now();
    let (code, answer) = hostile::exchange(
        address,
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n/data/",
    );
    assert_eq!(code, "408", "{answer}");
    assert!(answer.contains("--request-timeout"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let (code, id) = upload(&server, paths[0].as_bytes());
    assert_eq!((code, id.as_str()), (200, "1\n"));
    assert_eq!(server.stop().code(), Some(0));
}

/// Size, allocated blocks and modification time of a file: what a recall would change.
fn footprint(path: &std::path::Path) -> (u64, u64, i64, i64) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).unwrap();
    (meta.size(), meta.blocks(), meta.mtime(), meta.mtime_nsec())
}

#[test]
fn chiller_server_follows_no_link_out_of_its_root() {
    let (env, paths) = tape_archive();
    // A sparse file outside the root, which no recall may open.
    let outside = env.path().join("outside.zip");
    std::fs::File::create(&outside)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let before = footprint(&outside);

    // A link inside a product is refused at upload.
    let product = env.root().join("copernicus.eu/S3A_SL_1_RBT.SEN3");
    std::fs::create_dir_all(&product).unwrap();
    std::fs::File::create(product.join("S1_radiance_an.nc"))
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    std::os::unix::fs::symlink(&outside, product.join("F1_BT_in.nc")).unwrap();
    let server = Server::start(&env, &["--recall", "read"]);
    let (code, body) = upload(&server, product.to_str().unwrap().as_bytes());
    assert_eq!(code, 400);
    assert_eq!(
        body,
        format!(
            "line 1: {} holds a symbolic link, which is not followed: {}/F1_BT_in.nc\n",
            product.display(),
            product.display()
        )
    );
    drop(server);

    // An accepted file swapped for a link before its recall fails, in each mode, and the
    // outside file is untouched; the recall command is not handed it.
    let log = env.path().join("recalled.log");
    // Simulate waits its tape mount before it opens the file, time enough to swap it. Read
    // and command do not wait: their job was accepted by an earlier server, and the file is
    // swapped before the next one resumes it.
    let command = format!("cat {{list}} >> '{}'", log.display());
    let modes: [&[&str]; 3] = [
        &["--recall", "simulate"],
        &["--recall", "read"],
        &["--recall", "command", "--recall-command", &command],
    ];
    let jobs = env.path().join("chiller-state/jobs");
    for (job, (mode, path)) in modes.iter().zip(&paths).enumerate() {
        let id = job + 1;
        let server = if mode[1] == "simulate" {
            let server = Server::start_with_delay(&env, 1000, mode);
            let (code, _) = upload(&server, path.as_bytes());
            assert_eq!(code, 200, "{mode:?}");
            replace_with_link(path, &outside);
            server
        } else {
            let accepted = serde_json::json!({
                "id": id, "files": [path], "submitted": "2026-01-01T00:00:00Z", "started": null,
                "completed": null, "done": 0, "failed": 0, "errors": {}, "output": null,
            });
            std::fs::write(jobs.join(format!("{id}.json")), accepted.to_string()).unwrap();
            replace_with_link(path, &outside);
            Server::start(&env, mode)
        };
        let status = wait_finished(&server.url, &id.to_string(), Duration::from_secs(30));
        assert_eq!(
            (status["Done"].as_u64(), status["Failed"].as_u64()),
            (Some(0), Some(1)),
            "{mode:?}: {status}"
        );
        let error = status["Errors"][path].as_str().unwrap();
        assert!(
            error.contains("is a symbolic link or passes through one, which is not followed"),
            "{mode:?}: {error}"
        );
        assert_eq!(footprint(&outside), before, "{mode:?}");
    }
    assert!(!log.exists(), "the recall command ran on nothing");
}

/// Puts a symbolic link to `target` in place of the file `path` in one rename: a running
/// server's recall sees the file or the link, never a missing path in between.
fn replace_with_link(path: &str, target: &std::path::Path) {
    let link = format!("{path}.link");
    std::os::unix::fs::symlink(target, &link).unwrap();
    std::fs::rename(&link, path).unwrap();
}

/// Whether a process runs (a zombie, waiting for a parent to reap it, does not).
fn running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !matches!(
            stat.rsplit(") ").next().unwrap_or("").chars().next(),
            Some('Z' | 'X')
        )
    })
}

/// The running processes whose command line holds `marker` and a batch's list file: recall
/// commands, not the servers that run them.
fn processes_with(marker: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c);
                c.contains(marker) && c.contains("chiller-batch")
            }) && running(pid)
        })
        .collect()
}

#[test]
fn chiller_server_recall_commands_do_not_outlive_it() {
    let (env, paths) = tape_archive();
    let pids = env.path().join("recall-pids");
    // The shell is the group's leader and records its pid; sleep runs in its group.
    let command = format!("echo $$ >> '{}'; sleep 30; cat {{list}}", pids.display());
    let marker = pids.display().to_string();
    let started = |count: usize| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let lines: Vec<String> = std::fs::read_to_string(&pids)
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect();
            if lines.len() >= count {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "no recall command started: {lines:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let args = ["--recall", "command", "--recall-command", command.as_str()];
    let server = Server::start(&env, &args);
    let (code, _) = upload(&server, paths[0].as_bytes());
    assert_eq!(code, 200);
    let first = started(1);
    // kill -9: the recall command lives on, as nothing ends it.
    drop(server);
    assert!(running(&first[0]), "the first recall command still runs");
    assert_eq!(processes_with(&marker).len(), 1);

    // The next server ends it before running the job again: never two at once.
    let server = Server::start(&env, &args);
    let second = started(2);
    assert!(
        !running(&first[0]),
        "the earlier server's recall command was ended"
    );
    assert_eq!(processes_with(&marker), [second[1].clone()]);
    assert!(
        server
            .log()
            .contains("ending the recall command an earlier server left running"),
        "{}",
        server.log()
    );

    // A graceful stop ends the running recall command's group, sleep included.
    assert!(server.stop().success());
    assert!(!running(&second[1]));
    assert!(processes_with(&marker).is_empty());
    let sleeping = std::process::Command::new("pgrep")
        .args(["-g", &second[1]])
        .output()
        .unwrap();
    assert!(sleeping.stdout.is_empty(), "the whole group ended");
    let server = Server::start(&env, &args);
    assert_eq!(started(3).len(), 3, "the job resumes at the next start");
    assert!(server.stop().success());
    assert!(processes_with(&marker).is_empty());
}
