//! `catalog index`: what the crawl indexes, what it skips and counts, and what it never does.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::TestEnv;

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every file, and every `.SAFE`/`.SEN3` directory as one product, as a plain walk sees them.
fn walk(dir: &Path, found: &mut BTreeSet<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_lowercase();
        if path.is_dir() && !name.ends_with(".safe") && !name.ends_with(".sen3") {
            walk(&path, found);
        } else {
            found.insert(path.to_str().unwrap().to_string());
        }
    }
}

#[test]
fn sample_archive_index_and_query_agree_with_a_plain_walk() {
    let env = TestEnv::new();
    let archive = env.path().join("sample");
    env.sample(&archive, 3000);
    let index = env
        .catalog()
        .arg("index")
        .arg("--root")
        .arg(&archive)
        .output()
        .unwrap();
    assert!(index.status.success(), "{}", stderr(&index));
    let summary = stderr(&index);
    assert_eq!(
        summary.lines().count(),
        1,
        "one summary line off a terminal: {summary}"
    );
    assert!(summary.contains("0 errors"), "{summary}");

    let mut expected = BTreeSet::new();
    walk(&archive, &mut expected);
    let all: BTreeSet<String> = env.query("*").into_iter().collect();
    assert_eq!(all, expected);
    assert!(
        summary.starts_with(&format!("indexed {} files", expected.len())),
        "{summary}"
    );

    let tile: BTreeSet<String> = env.query("tile:T60WWV AND sat:S2A").into_iter().collect();
    let by_name: BTreeSet<String> = expected
        .iter()
        .filter(|p| {
            let name = p.rsplit('/').next().unwrap();
            name.starts_with("S2A_") && name.contains("_T60WWV_")
        })
        .cloned()
        .collect();
    assert!(!tile.is_empty());
    assert_eq!(tile, by_name);

    let tape: BTreeSet<String> = env.query("state:tape").into_iter().collect();
    for path in &expected {
        let meta = fs::metadata(path).unwrap();
        if meta.is_file() {
            let on_tape = catalog_index::State::of(&meta) == catalog_index::State::Tape;
            assert_eq!(tape.contains(path), on_tape, "{path}");
        }
    }
}

#[test]
fn product_directories_are_one_product_with_the_size_of_their_files() {
    let env = TestEnv::new();
    let product = "copernicus.eu/s2b_prd_msil2a/2023/06/15/S2B_MSIL2A_20230615T101559_N0509_R065_T32TQM_20230615T130541.SAFE";
    env.disk_file(&format!("{product}/manifest.safe"), 1000);
    env.disk_file(
        &format!("{product}/GRANULE/L2A_T32TQM/IMG_DATA/B02.jp2"),
        3000,
    );
    env.index_archive();
    let rows = env
        .catalog()
        .args(["query", "*", "--format", "ndjson"])
        .output()
        .unwrap();
    let rows: Vec<serde_json::Value> = String::from_utf8(rows.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["path"], env.abs(product));
    assert_eq!(rows[0]["size"], 4000);
    assert_eq!(rows[0]["tile"], "T32TQM");
}

#[test]
fn problems_are_counted_and_skipped() {
    let env = TestEnv::with_products();
    let dir = env.root().join("copernicus.eu/odd");
    fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink("..", dir.join("loop")).unwrap();
    std::os::unix::fs::symlink(dir.join("gone"), dir.join("vanished.zip")).unwrap();
    let bad_name = std::ffi::OsStr::from_bytes(b"S2A_\xff\xfe.zip");
    fs::write(dir.join(bad_name), b"x").unwrap();
    let output = env.index_archive();
    let summary = stderr(&output);
    assert!(
        summary.starts_with(&format!("indexed {} files", common::PRODUCTS.len())),
        "{summary}"
    );
    assert!(summary.contains("1 vanished"), "{summary}");
    assert!(summary.contains("1 non-UTF-8 names"), "{summary}");
    assert!(summary.contains("symlink loops"), "{summary}");
    assert!(!summary.contains(" 0 symlink loops"), "{summary}");
    assert_eq!(env.query("*").len(), common::PRODUCTS.len());
}

#[test]
fn unreadable_directories_are_skipped_by_an_unprivileged_crawl_and_their_documents_kept() {
    let env = TestEnv::with_products();
    let locked = env.root().join("copernicus.eu/locked");
    let inner = locked.join("2020/01/01");
    fs::create_dir_all(&inner).unwrap();
    for dir in [&locked, &inner] {
        fs::write(
            dir.join("S2A_MSIL1C_20200101T000000_N0208_R001_T01CCV_20200101T000001.zip"),
            b"x",
        )
        .unwrap();
    }
    for path in [env.path(), &env.root()] {
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::create_dir(env.index()).unwrap();
    fs::set_permissions(env.index(), fs::Permissions::from_mode(0o777)).unwrap();
    let binary = assert_cmd::cargo::cargo_bin("catalog");
    let crawl_as_nobody = || {
        let output = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&binary)
            .arg("index")
            .arg("--root")
            .arg(env.root())
            .arg("--index")
            .arg(env.index())
            .output()
            .expect("setpriv (util-linux) runs the crawl as an unprivileged user");
        let summary = stderr(&output);
        assert!(output.status.success(), "{summary}");
        summary
    };
    let all = common::PRODUCTS.len() + 2;
    env.settle();
    crawl_as_nobody();
    assert_eq!(env.query("*").len(), all);

    // A directory that cannot be listed any more (a permission change, a server error) is
    // counted and skipped, and what the index holds of it and below it is kept.
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    for _ in 0..2 {
        let summary = crawl_as_nobody();
        assert!(summary.contains("1 unreadable"), "{summary}");
        assert_eq!(env.query("*").len(), all, "{summary}");
    }
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_missing_or_unreadable_root_is_an_error_and_commits_nothing() {
    let env = TestEnv::with_products();
    env.index_archive();
    let before = env.query("*");
    let output = env
        .catalog()
        .args(["index", "--root"])
        .arg(env.path().join("nowhere"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(5));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1);
    assert!(
        message.contains("nowhere") && message.contains("does not exist"),
        "{message}"
    );
    let (collection, name) = common::PRODUCTS[4];
    let output = env
        .catalog()
        .args(["index", "--root"])
        .arg(env.abs(&env.product_path(collection, name)))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(5));
    assert!(
        stderr(&output).contains("is not a directory"),
        "{}",
        stderr(&output)
    );
    assert_eq!(env.query("*"), before, "the index is as it was");
}

#[test]
fn the_crawl_never_opens_a_product_file() {
    use inotify::{Inotify, WatchMask};
    let env = TestEnv::with_products();
    let product = "copernicus.eu/s3a_ol_1_efr/2023/06/15/S3A_SL_1_RBT____20230615T095417_20230615T095717_20230616T115314_0179_100_079_2160_PS1_O_NT_004.SEN3";
    env.disk_file(&format!("{product}/xfdumanifest.xml"), 100);
    let mut inotify = Inotify::init().unwrap();
    let mut dirs = vec![env.root()];
    while let Some(dir) = dirs.pop() {
        inotify
            .watches()
            .add(&dir, WatchMask::OPEN | WatchMask::ACCESS)
            .unwrap();
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            }
        }
    }
    env.index_archive();
    let mut buffer = [0u8; 65536];
    let mut opened_files = Vec::new();
    let mut directory_opens = 0;
    // Events are queued by the kernel before `index` returns; read until the queue is empty.
    while let Ok(events) = inotify.read_events(&mut buffer) {
        let mut any = false;
        for event in events {
            any = true;
            if event.mask.contains(inotify::EventMask::ISDIR) {
                directory_opens += 1;
            } else {
                opened_files.push(format!("{:?} {:?}", event.mask, event.name));
            }
        }
        if !any {
            break;
        }
    }
    assert!(
        directory_opens > 0,
        "the watch saw the crawl list directories"
    );
    assert!(
        opened_files.is_empty(),
        "the crawl opened files: {opened_files:?}"
    );
}

#[test]
fn a_relative_root_is_indexed_with_absolute_paths() {
    let env = TestEnv::with_products();
    let output = env
        .catalog()
        .args(["index", "--root", "./archive/"])
        .current_dir(env.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let mut expected = BTreeSet::new();
    walk(&env.root(), &mut expected);
    let indexed: BTreeSet<String> = env.query("*").into_iter().collect();
    assert_eq!(indexed, expected);

    // The same root named absolutely, from elsewhere, is the same root: nothing changed.
    let again = stderr(&env.index_archive());
    assert!(
        again.contains(&format!(
            "0 added, 0 removed, {} unchanged",
            common::PRODUCTS.len()
        )),
        "{again}"
    );
    let stats = env.catalog().args(["stats", "--json"]).output().unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["build"]["roots"].as_array().unwrap().len(), 1);
    assert_eq!(
        stats["build"]["roots"][0]["root"],
        env.root().to_str().unwrap()
    );
}
