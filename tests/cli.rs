//! Command-line habits: a closed pipe is a quiet success, `--print0`, shell completions and the
//! manual page.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::TestEnv;

/// The real binary, with the test environment's index and a ledger of its own.
fn catalog(env: &TestEnv, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_catalog"));
    cmd.args(args)
        .env("CATALOG_INDEX", env.index())
        .env("CATALOG_LEDGER", env.path().join("ledger"))
        .env_remove("CHILLER_URL")
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// `catalog ARGS | head -c 100`: reads the start of stdout, closes the pipe while the command
/// still has more to write, and returns that start and how the command ended.
fn head(env: &TestEnv, args: &[&str]) -> (String, Output) {
    let mut child = catalog(env, args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn catalog");
    let mut first = [0; 100];
    child
        .stdout
        .take()
        .expect("stdout")
        .read_exact(&mut first)
        .expect("read the start");
    // The reader is dropped here: the pipe is closed.
    let first = String::from_utf8_lossy(&first).into_owned();
    (first, child.wait_with_output().expect("wait for catalog"))
}

/// `catalog ARGS` with stdout a pipe whose reader is gone before it starts, so that its first
/// write, however small the output, meets a closed pipe.
fn closed_stdout(env: &TestEnv, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let child = catalog(env, args)
        .stdout(writer)
        .spawn()
        .expect("spawn catalog");
    child.wait_with_output().expect("wait for catalog")
}

fn assert_quiet_success(args: &[&str], output: &Output) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "catalog {args:?} on a closed pipe: {:?}, stderr {:?}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stderr.is_empty(),
        "catalog {args:?} on a closed pipe wrote to stderr: {:?}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A ledger of `jobs` submitted jobs with long queries: more history than a pipe holds.
fn ledger(dir: &Path, jobs: usize) {
    std::fs::create_dir_all(dir).expect("ledger dir");
    for id in 0..jobs {
        let entry = serde_json::json!({
            "id": id.to_string(),
            "server": "http://127.0.0.1:1",
            "submitted": "2026-11-27T12:00:00Z",
            "query": format!("tile:T60WWV AND sat:S2A AND date:2023 {}", "x".repeat(200)),
            "files": 1,
            "bytes": 4096,
            "list": ["/eodc/products/x.zip"],
        });
        std::fs::write(
            dir.join(format!("{id:08}.json")),
            serde_json::to_string(&entry).expect("json"),
        )
        .expect("ledger entry");
    }
}

#[test]
fn a_closed_pipe_is_a_quiet_exit_0_for_every_command_and_format() {
    let env = TestEnv::new();
    env.sample(&env.root(), 3000);
    env.index_archive();
    ledger(&env.path().join("ledger"), 600);
    let names: Vec<String> = (0..2000)
        .map(|i| {
            format!(
                "S2A_MSIL1C_20230615T{:06}_N0509_R029_T60WWV_20230616T000937.zip",
                i
            )
        })
        .collect();
    let mut parse = vec!["parse"];
    parse.extend(names.iter().map(String::as_str));

    // Output longer than a pipe holds: the command is still writing when the reader goes.
    let long: Vec<Vec<&str>> = vec![
        vec!["query", "name:*"],
        vec!["query", "name:*", "--print0"],
        vec!["query", "name:*", "--format", "csv"],
        vec!["query", "name:*", "--format", "json"],
        vec!["query", "name:*", "--format", "ndjson"],
        parse.clone(),
        vec!["jobs"],
        vec!["jobs", "--json"],
        vec!["completions", "bash"],
        vec!["man"],
    ];
    for args in &long {
        let (first, output) = head(&env, args);
        assert!(!first.trim().is_empty(), "catalog {args:?} printed nothing");
        assert_quiet_success(args, &output);
    }

    // Every command that prints, with the pipe closed before its first write.
    let all: Vec<Vec<&str>> = vec![
        vec!["query", "name:*", "--count", "--quiet"],
        vec!["query", "name:*", "--sort", "size", "--limit", "3"],
        vec!["stats"],
        vec!["stats", "--json"],
        vec!["parse", names[0].as_str()],
        vec!["completions", "zsh"],
        vec!["--help"],
    ];
    for args in long.iter().chain(&all) {
        assert_quiet_success(args, &closed_stdout(&env, args));
    }
}

#[test]
fn print0_ends_each_path_with_nul_so_a_name_with_a_newline_stays_one_record() {
    let env = TestEnv::with_products();
    let odd = "copernicus.eu/s2a_prd_msil1c/2023/06/15/two\nlines.zip";
    env.disk_file(odd, 10);
    env.index_archive();
    let query = ["query", "collection:s2a_prd_msil1c", "--sort", "path"];

    let output = catalog(&env, &query).arg("--print0").output().expect("run");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).expect("utf-8");
    assert!(text.ends_with('\0'), "{text:?}");
    let records: Vec<&str> = text.strip_suffix('\0').unwrap().split('\0').collect();
    let expected = common::PRODUCTS
        .iter()
        .filter(|(collection, _)| *collection == "s2a_prd_msil1c")
        .count()
        + 1;
    assert_eq!(records.len(), expected, "{records:?}");
    assert!(records.contains(&env.abs(odd).as_str()), "{records:?}");

    // Without it, the same name is two lines.
    let lines = env.query("collection:s2a_prd_msil1c");
    assert_eq!(lines.len(), expected + 1, "{lines:?}");

    // `-0` and `--out` too.
    let out = env.path().join("list0");
    let output = catalog(&env, &query)
        .args(["-0", "--out"])
        .arg(&out)
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(std::fs::read_to_string(&out).expect("the list"), text);
}

#[test]
fn print0_with_another_format_or_count_is_a_usage_error_on_one_line() {
    let env = TestEnv::with_products();
    env.index_archive();
    for extra in [
        &["--format", "csv"][..],
        &["--format", "json"],
        &["--count"],
    ] {
        let output = catalog(&env, &["query", "name:*", "--print0"])
            .args(extra)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{extra:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{extra:?}: {stderr}");
        assert!(stderr.contains("--print0"), "{stderr}");
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn completions_and_the_manual_page_come_from_the_command_line_itself() {
    let env = TestEnv::new();
    let output = catalog(&env, &["completions", "bash"])
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    let bash = String::from_utf8(output.stdout).expect("utf-8");
    assert!(bash.contains("catalog"), "{bash}");
    assert!(bash.contains("index"), "{bash}");
    assert!(bash.contains("--print0"), "{bash}");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let output = catalog(&env, &["completions", shell])
            .output()
            .expect("run");
        assert!(output.status.success(), "{shell}: {output:?}");
        let script = String::from_utf8(output.stdout).expect("utf-8");
        assert!(script.contains("catalog"), "{shell}: {script}");
    }
    let output = catalog(&env, &["completions", "tcsh"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2), "{output:?}");

    let output = catalog(&env, &["man"]).output().expect("run");
    assert!(output.status.success(), "{output:?}");
    let page = String::from_utf8(output.stdout).expect("utf-8");
    // A roff header: requests (string definitions) up to the title line, which comes first.
    let header: Vec<&str> = page
        .lines()
        .take_while(|line| !line.starts_with(".TH"))
        .collect();
    assert!(
        header.len() < page.lines().count() && header.iter().all(|l| l.starts_with('.')),
        "{page}"
    );
    assert!(page.contains(".TH catalog 1"), "{page}");
    assert!(page.contains("query"), "{page}");
}
