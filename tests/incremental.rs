//! Reruns at archive scale: what a rerun lists again, `--restat`, `--update`, the guards
//! against an operator's mistake, and the I/O concurrency of the crawl.

mod common;

use std::fs;
use std::path::Path;
use std::process::Output;

use common::{TestEnv, PRODUCTS};

const DAY: &str = "copernicus.eu/s2a_prd_msil1c/2023/06/15";
const OTHER_DAY: &str = "copernicus.eu/s2b_prd_msil2a/2023/06/15";

fn name(tile: &str, n: usize) -> String {
    let (minute, second) = (n / 60, n % 60);
    format!("S2A_MSIL1C_20230615T10{minute:02}{second:02}_N0509_R029_{tile}_20230616T000937.zip")
}

/// An archive of two day directories of ten files each, a year apart from the PRODUCTS.
fn two_days() -> TestEnv {
    let env = TestEnv::new();
    for n in 0..10 {
        env.disk_file(&format!("{DAY}/{}", name("T31NFF", n)), 100);
        env.disk_file(&format!("{OTHER_DAY}/{}", name("T32TQM", n)), 100);
    }
    env
}

/// Runs `catalog index ARGS --json` and returns its exit code, its JSON summary (null on
/// failure) and its stderr.
fn index(env: &TestEnv, args: &[&str]) -> (i32, serde_json::Value, String) {
    let output: Output = env
        .catalog()
        .arg("index")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let json = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (
        output.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn crawl(env: &TestEnv, extra: &[&str]) -> serde_json::Value {
    let root = env.root();
    let mut args = vec!["--root", root.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, json, stderr) = index(env, &args);
    assert_eq!(code, 0, "{stderr}");
    json
}

fn documents(env: &TestEnv) -> usize {
    env.query("*").len()
}

fn size_of(env: &TestEnv, path: &str) -> u64 {
    let output = env
        .catalog()
        .args(["query", &format!("path:{path}"), "--format", "ndjson"])
        .output()
        .unwrap();
    let row: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    row["size"].as_u64().unwrap()
}

#[test]
fn a_rerun_lists_only_changed_directories_and_finds_what_changed_in_them() {
    let env = two_days();
    env.settle();
    let first = crawl(&env, &[]);
    assert_eq!(first["files"], 20);
    let dirs = first["dirs_listed"].as_u64().unwrap();
    assert_eq!(
        dirs, 10,
        "root, provider, and 2 x collection/year/month/day: {first}"
    );

    let unchanged = crawl(&env, &[]);
    assert_eq!(unchanged["dirs_listed"], 0, "{unchanged}");
    assert_eq!(unchanged["dirs_unchanged"], dirs);
    assert_eq!(unchanged["unchanged"], 20);
    assert_eq!(unchanged["files"], 0, "no file was stat'ed");

    // In a changed directory: one file added, one removed. Deep below an unchanged
    // directory: a new month with a day; elsewhere a whole collection vanishes.
    let added = format!("{DAY}/{}", name("T60WWV", 50));
    env.disk_file(&added, 100);
    fs::remove_file(env.root().join(format!("{DAY}/{}", name("T31NFF", 0)))).unwrap();
    let new_day = format!(
        "copernicus.eu/s2a_prd_msil1c/2023/07/01/{}",
        name("T60WWV", 51)
    );
    env.disk_file(&new_day, 100);
    fs::remove_dir_all(env.root().join("copernicus.eu/s2b_prd_msil2a")).unwrap();
    // In the untouched day directory, a file rewritten in place: its directory is the same.
    let rewritten = format!("{DAY}/{}", name("T31NFF", 5));
    env.disk_file(&rewritten, 5000);
    let changed = crawl(&env, &[]);
    assert_eq!(
        changed["added"], 3,
        "the new files and the rewritten one: {changed}"
    );
    assert_eq!(changed["removed"], 12, "{changed}");
    assert_eq!(documents(&env), 11);
    assert_eq!(
        env.query("tile:T60WWV"),
        [env.abs(&added), env.abs(&new_day)]
    );
    assert!(env.query("tile:T32TQM").is_empty());
    // The changed directory was listed, so the rewritten file in it was seen too.
    assert_eq!(size_of(&env, &env.abs(&rewritten)), 5000);

    // A file rewritten in a directory that did not change keeps its indexed facts until the
    // census.
    env.settle();
    crawl(&env, &[]);
    let quiet = format!("{DAY}/{}", name("T31NFF", 6));
    env.disk_file(&quiet, 7000);
    let rerun = crawl(&env, &[]);
    assert_eq!(rerun["dirs_listed"], 0, "{rerun}");
    assert_eq!(size_of(&env, &env.abs(&quiet)), 100);
    let census = crawl(&env, &["--restat"]);
    assert!(census["dirs_listed"].as_u64().unwrap() > 0);
    assert_eq!(census["added"], 1, "{census}");
    assert_eq!(census["removed"], 1, "{census}");
    assert_eq!(size_of(&env, &env.abs(&quiet)), 7000);
    assert_eq!(documents(&env), 11);
}

#[test]
fn an_update_touches_only_its_subtree() {
    let env = two_days();
    env.settle();
    crawl(&env, &[]);
    let in_day = format!("{DAY}/{}", name("T60WWV", 60));
    let in_other = format!("{OTHER_DAY}/{}", name("T60WWV", 61));
    env.disk_file(&in_day, 100);
    env.disk_file(&in_other, 100);
    fs::remove_file(env.root().join(format!("{DAY}/{}", name("T31NFF", 1)))).unwrap();

    let day = env.abs(DAY);
    let (code, update, stderr) = index(&env, &["--update", &day]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(update["added"], 1, "{update}");
    assert_eq!(update["removed"], 1, "{update}");
    assert_eq!(env.query("tile:T60WWV"), [env.abs(&in_day)]);
    assert_eq!(documents(&env), 20);

    // A file stands for its directory, which is listed again.
    let (code, update, stderr) = index(&env, &["--update", &env.abs(&in_other)]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(update["added"], 1, "{update}");
    assert_eq!(documents(&env), 21);

    let stats = env.catalog().args(["stats", "--json"]).output().unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    let root = &stats["build"]["roots"][0];
    assert_eq!(root["files"], 21, "{stats}");
    assert!(root["updated_at"].is_string(), "{stats}");

    let outside = env.path().join("elsewhere");
    fs::create_dir(&outside).unwrap();
    let (code, _, stderr) = index(&env, &["--update", outside.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("inside none of the indexed roots"),
        "{stderr}"
    );
    let (code, _, stderr) = index(&env, &["--update"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn roots_that_leave_out_indexed_files_are_refused_unless_allowed() {
    let env = two_days();
    crawl(&env, &[]);
    // A day directory named as the root, as a new user might to refresh it.
    let day = env.abs(DAY);
    let (code, _, stderr) = index(&env, &["--root", &day]);
    assert_eq!(code, 4, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("leave out 10 indexed files")
            && stderr.contains(env.root().to_str().unwrap()),
        "{stderr}"
    );
    assert_eq!(documents(&env), 20, "nothing was removed");

    // Two roots indexed, one named: the other is not silently dropped.
    let second = TestEnv::new();
    second.disk_file(&format!("{DAY}/{}", name("T60WWV", 70)), 100);
    let (a, b) = (env.root(), second.root());
    let both = ["--root", a.to_str().unwrap(), "--root", b.to_str().unwrap()];
    assert_eq!(index(&env, &both).0, 0);
    assert_eq!(documents(&env), 21);
    let (code, _, stderr) = index(&env, &["--root", b.to_str().unwrap()]);
    assert_eq!(code, 4, "{stderr}");
    assert_eq!(documents(&env), 21);
    let (code, json, stderr) = index(&env, &["--root", b.to_str().unwrap(), "--allow-shrink"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json["removed"], 20);
    assert_eq!(documents(&env), 1);
}

#[test]
fn a_full_build_that_would_shrink_the_index_is_refused_unless_allowed() {
    let env = TestEnv::with_products();
    env.index_archive();
    for (collection, _) in &PRODUCTS[..6] {
        let _ = fs::remove_dir_all(env.root().join("copernicus.eu").join(collection));
    }
    let (code, _, stderr) = index(&env, &["--full", "--root", env.root().to_str().unwrap()]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("down from 8"), "{stderr}");
    assert_eq!(documents(&env), PRODUCTS.len());
    let root = env.root();
    let allowed = ["--full", "--allow-shrink", "--root", root.to_str().unwrap()];
    assert_eq!(index(&env, &allowed).0, 0);
    assert_eq!(documents(&env), 2);
}

#[test]
fn a_list_update_applies_only_the_paths_it_names() {
    let env = two_days();
    crawl(&env, &[]);
    let added = env.abs(&format!("{DAY}/{}", name("T60WWV", 80)));
    let grown = env.abs(&format!("{DAY}/{}", name("T31NFF", 2)));
    let removed = env.abs(&format!("{DAY}/{}", name("T31NFF", 3)));
    let unlisted = env.abs(&format!("{OTHER_DAY}/{}", name("T32TQM", 4)));
    env.disk_file(&format!("{DAY}/{}", name("T60WWV", 80)), 100);
    env.disk_file(&format!("{DAY}/{}", name("T31NFF", 2)), 9000);
    fs::remove_file(&removed).unwrap();
    fs::remove_file(&unlisted).unwrap();
    let list = env.path().join("changed.txt");
    fs::write(&list, format!("{added}\n{grown}\n{removed}\nnot a path\n")).unwrap();
    let (code, json, stderr) = index(&env, &["--from-list", list.to_str().unwrap(), "--update"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json["malformed_lines"], 1, "{json}");
    assert_eq!(env.query("tile:T60WWV"), [added]);
    assert_eq!(size_of(&env, &grown), 9000);
    assert!(env.query(&format!("path:{removed}")).is_empty());
    assert_eq!(
        env.query(&format!("path:{unlisted}")),
        [unlisted],
        "a path the list does not name stays as indexed"
    );
    assert_eq!(documents(&env), 20);
}

#[test]
fn the_crawl_gives_the_same_index_with_one_io_thread_or_many() {
    let env = TestEnv::new();
    let archive = env.path().join("sample");
    env.sample(&archive, 3000);
    let answers = |threads: &str| {
        let index = env.path().join(format!("index-{threads}"));
        let output = env
            .catalog()
            .args(["index", "--root"])
            .arg(&archive)
            .arg("--index")
            .arg(&index)
            .args(["--io-threads", threads])
            .output()
            .unwrap();
        assert!(output.status.success());
        let output = env
            .catalog()
            .args(["query", "*", "--format", "csv", "--sort", "path", "--index"])
            .arg(&index)
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    let one = answers("1");
    assert!(one.lines().count() > 2000);
    assert_eq!(one, answers("64"));
    let output = env
        .catalog()
        .args(["index", "--io-threads", "0", "--root"])
        .arg(Path::new(&archive))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}
