//! Rebuilding an existing index: incremental updates, refusals, the lock, kills and migrations.

mod common;

use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{TestEnv, PRODUCTS};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn product(env: &TestEnv, i: usize) -> String {
    env.product_path(PRODUCTS[i].0, PRODUCTS[i].1)
}

#[test]
fn a_second_run_updates_only_what_changed() {
    let env = TestEnv::with_products();
    env.settle();
    let first = stderr(&env.index_archive());
    assert!(first.contains("new index"), "{first}");

    let again = stderr(&env.index_archive());
    assert!(
        again.contains(&format!("0 added, 0 removed, {} unchanged", PRODUCTS.len())),
        "{again}"
    );

    let added = "copernicus.eu/s2b_prd_msil1c/2024/02/02/S2B_MSIL1C_20240202T101559_N0510_R065_T60WWV_20240202T130541.zip";
    env.disk_file(added, 100);
    fs::remove_file(env.root().join(product(&env, 0))).unwrap();
    // A recall: the S1 file on tape gets its blocks back.
    env.disk_file(&product(&env, 4), 3000);
    let update = stderr(&env.index_archive());
    assert!(
        update.contains(&format!(
            "1 added, 1 removed, {} unchanged",
            PRODUCTS.len() - 1
        )),
        "{update}"
    );
    // A recall changes the file's blocks, not its directory: the census sees it.
    assert_eq!(env.query("state:disk AND mode:IW"), Vec::<String>::new());
    let census = env
        .catalog()
        .args(["index", "--restat", "--root"])
        .arg(env.root())
        .output()
        .unwrap();
    let census = stderr(&census);
    assert!(
        census.contains(&format!(
            "1 added, 1 removed, {} unchanged",
            PRODUCTS.len() - 1
        )),
        "{census}"
    );

    assert_eq!(
        env.query("tile:T60WWV"),
        [
            env.query("tile:T60WWV AND date:2023")[0].clone(),
            env.abs(added)
        ]
    );
    assert!(env.query("tile:T31NFF").is_empty());
    assert_eq!(
        env.query("state:disk AND mode:IW"),
        [env.abs(&product(&env, 4))]
    );
    assert_eq!(env.query("*").len(), PRODUCTS.len());
    let stats = env.catalog().args(["stats", "--json"]).output().unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["documents"], PRODUCTS.len());
}

#[test]
fn full_rebuilds_into_a_new_index() {
    let env = TestEnv::with_products();
    env.index_archive();
    let before = fs::read_link(env.index().join("current")).unwrap();
    let output = env
        .catalog()
        .args(["index", "--full", "--root"])
        .arg(env.root())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let after = fs::read_link(env.index().join("current")).unwrap();
    assert_ne!(before, after);
    assert!(
        !env.index().join(&before).exists(),
        "the old generation is removed"
    );
    assert_eq!(env.query("*").len(), PRODUCTS.len());
}

#[test]
fn a_shrunken_or_empty_root_is_refused_unless_allowed() {
    let env = TestEnv::with_products();
    env.index_archive();
    for i in 0..5 {
        fs::remove_file(env.root().join(product(&env, i))).unwrap();
    }
    let refused = env
        .catalog()
        .args(["index", "--root"])
        .arg(env.root())
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(4));
    let message = stderr(&refused);
    assert_eq!(message.lines().count(), 1);
    assert!(message.contains("3 files, down from 8"), "{message}");
    assert_eq!(
        env.query("*").len(),
        PRODUCTS.len(),
        "nothing was committed"
    );

    let empty = TestEnv::new();
    let output = empty
        .catalog()
        .args(["index", "--root"])
        .arg(empty.root())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert!(
        stderr(&output).contains("holds no files"),
        "{}",
        stderr(&output)
    );

    let allowed = env
        .catalog()
        .args(["index", "--allow-shrink", "--root"])
        .arg(env.root())
        .output()
        .unwrap();
    assert!(allowed.status.success(), "{}", stderr(&allowed));
    assert_eq!(env.query("*").len(), 3);
}

#[test]
fn a_second_rebuild_exits_at_once_while_one_runs() {
    let env = TestEnv::with_products();
    env.index_archive();
    let lock = fs::File::options()
        .write(true)
        .open(env.index().join("build.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let started = std::time::Instant::now();
    let output = env
        .catalog()
        .args(["index", "--root"])
        .arg(env.root())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("another rebuild"),
        "{}",
        stderr(&output)
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it did not wait for the lock"
    );
    assert_eq!(env.query("*").len(), PRODUCTS.len(), "queries still work");
    drop(lock);
    env.index_archive();
}

#[test]
fn a_build_killed_at_any_moment_leaves_a_readable_index() {
    let env = TestEnv::new();
    let archive = env.path().join("sample");
    env.sample(&archive, 20000);
    let build = |extra: &[&str]| {
        let output = env
            .catalog()
            .arg("index")
            .args(extra)
            .arg("--root")
            .arg(&archive)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    };
    build(&[]);
    let expected = env.query("*").len();
    let binary = assert_cmd::cargo::cargo_bin("catalog");
    // Kill points spread over a build's life, from start-up to the commit and the switch.
    for (round, delay_ms) in [5u64, 40, 120, 250, 400, 700, 1000, 1500]
        .into_iter()
        .enumerate()
    {
        let full = round % 2 == 0;
        let mut child = Command::new(&binary)
            .env("CATALOG_INDEX", env.index())
            .arg("index")
            .args(if full { &["--full"][..] } else { &[][..] })
            .arg("--root")
            .arg(&archive)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            env.query("*").len(),
            expected,
            "after a kill at {delay_ms} ms"
        );
    }
    build(&[]);
    assert_eq!(env.query("*").len(), expected);
    let leftovers: Vec<_> = fs::read_dir(env.index())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("gen-"))
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "the next run removed what killed builds left: {leftovers:?}"
    );
}

#[test]
fn an_index_of_another_schema_says_how_to_rebuild_and_index_migrates_it() {
    let env = TestEnv::with_products();
    env.index_archive();
    let meta = env.index().join("current/meta.json");
    let text = fs::read_to_string(&meta).unwrap();
    let current = format!(
        "schema_version\\\":{}",
        catalog_index::schema::SCHEMA_VERSION
    );
    assert!(text.contains(&current), "{text}");
    fs::write(&meta, text.replace(&current, "schema_version\\\":99")).unwrap();
    let output = env.catalog().args(["query", "sat:S2A"]).output().unwrap();
    assert_eq!(output.status.code(), Some(6));
    let message = stderr(&output);
    assert!(
        message.contains("schema version 99") && message.contains("catalog index --full"),
        "{message}"
    );
    let migrated = stderr(&env.index_archive());
    assert!(migrated.contains("new index"), "{migrated}");
    assert_eq!(env.query("*").len(), PRODUCTS.len());
}

#[test]
fn stats_show_documents_collections_and_the_last_build() {
    let env = TestEnv::with_products();
    env.index_archive();
    let output = env.catalog().arg("stats").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains(&format!("documents:   {}", PRODUCTS.len())),
        "{text}"
    );
    assert!(
        text.contains("s2a_prd_msil1c") && text.contains("3"),
        "{text}"
    );
    assert!(text.contains("last build:"), "{text}");
    assert!(text.contains("\ncrawled:     20"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("age:         ") && l.ends_with('s')),
        "a fresh index is seconds old: {text}"
    );
    assert!(
        text.contains(&format!("({} files; crawled ", PRODUCTS.len())),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("collection ") && l.ends_with("restat")),
        "{text}"
    );
    let json = env.catalog().args(["stats", "--json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["collections"][0]["collection"], "s2a_prd_msil1c");
    assert_eq!(json["collections"][0]["documents"], 3);
    assert_eq!(json["build"]["roots"][0]["files"], PRODUCTS.len());
    assert!(json["bytes"].as_u64().unwrap() > 0);
    let age = json["age_seconds"].as_f64().unwrap();
    assert!((0.0..600.0).contains(&age), "{age}");
    assert!(json["crawled_at"].as_str().unwrap().starts_with("20"));
}
