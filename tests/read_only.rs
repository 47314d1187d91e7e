//! Reading never needs write access: an index built by root is queried, summed up and served
//! by an unprivileged user (uid 65534, through `setpriv`), from a read-only directory, while
//! rebuilds by root switch generations under it; nothing in the index is created or changed.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::server::Server;
use common::TestEnv;
use serde_json::Value;

/// `catalog ARGS...` as uid and gid 65534 with no supplementary groups.
fn as_nobody(args: &[&str]) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin("catalog"))
        .args(args)
        .env_remove("CATALOG_INDEX")
        .env_remove("CHILLER_URL")
        .env("HOME", "/nonexistent");
    command
}

fn succeeded(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Every entry below `dir` (links not followed) with its size, modification time and mode.
fn snapshot(dir: &Path, found: &mut BTreeMap<PathBuf, (u64, i64, i64, u32)>) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let meta = entry.path().symlink_metadata().unwrap();
        found.insert(
            entry.path(),
            (meta.len(), meta.mtime(), meta.mtime_nsec(), meta.mode()),
        );
        if meta.is_dir() {
            snapshot(&entry.path(), found);
        }
    }
}

fn files_of(dir: &Path) -> BTreeMap<PathBuf, (u64, i64, i64, u32)> {
    let mut found = BTreeMap::new();
    snapshot(dir, &mut found);
    found
}

/// Takes write permission away from everyone on `dir` and everything below it, and lets
/// everyone read and traverse it.
fn read_only(dir: &Path) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let meta = entry.path().symlink_metadata().unwrap();
        if meta.is_dir() {
            read_only(&entry.path());
        } else if meta.is_file() {
            fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o444)).unwrap();
        }
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o555)).unwrap();
}

/// Gives write permission back to the owner, so that the temporary directory can go.
fn writable(dir: &Path) {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    for entry in fs::read_dir(dir).unwrap().flatten() {
        if entry.path().symlink_metadata().unwrap().is_dir() {
            writable(&entry.path());
        }
    }
}

#[test]
fn an_unprivileged_user_queries_stats_and_serves_a_read_only_index_built_by_root() {
    let env = TestEnv::with_products();
    env.index_archive();
    fs::set_permissions(env.path(), fs::Permissions::from_mode(0o755)).unwrap();
    read_only(&env.index());
    let before = files_of(&env.index());
    let index = env.index();
    let index = index.to_str().unwrap();
    let all = common::PRODUCTS.len();

    let count = succeeded(
        as_nobody(&["query", "--index", index, "name:*", "--count"])
            .output()
            .unwrap(),
    );
    assert_eq!(count.trim(), all.to_string());
    let listed = succeeded(
        as_nobody(&["query", "--index", index, "mission:S2"])
            .output()
            .unwrap(),
    );
    let listed: Vec<String> = listed.lines().map(str::to_string).collect();
    assert_eq!(listed, env.query("mission:S2"));
    assert_eq!(listed.len(), 4);

    let stats = succeeded(
        as_nobody(&["stats", "--index", index, "--json"])
            .output()
            .unwrap(),
    );
    let stats: Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["documents"], all as u64, "{stats}");
    succeeded(as_nobody(&["stats", "--index", index]).output().unwrap());

    let mut serve = as_nobody(&["serve", "--listen", "127.0.0.1:0", "--index", index]);
    serve.stderr(Stdio::null());
    let mut server = Server::spawn(serve);
    assert_eq!(server.json("/count?q=*")["files"], all as u64);
    assert_eq!(server.json("/search?q=mission:S2")["total"], 4);
    assert_eq!(server.json("/health")["status"], "ok");
    // Long enough for the server to look for a rebuild (once a second) a few times.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(server.json("/count?q=sat:S2A")["files"], 3);
    server.terminate();

    assert_eq!(
        files_of(&env.index()),
        before,
        "reading created or changed files"
    );
    writable(&env.index());

    // Root, whom no permission stops, takes no lock either: the lock files the build left
    // are not made again by reading.
    let generation = env.index().join("current");
    for lock in [".tantivy-meta.lock", ".tantivy-writer.lock"] {
        fs::remove_file(generation.join(lock)).unwrap();
    }
    let before = files_of(&env.index());
    assert_eq!(env.query("*").len(), all);
    succeeded(env.catalog().arg("stats").output().unwrap());
    assert_eq!(files_of(&env.index()), before, "reading as root wrote");
}

#[test]
fn readers_of_another_user_see_whole_generations_while_root_rebuilds() {
    const REBUILDS: usize = 8;
    let env = TestEnv::with_products();
    env.index_archive();
    fs::set_permissions(env.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let index = env.index();
    let index = index.to_str().unwrap().to_string();
    let first = common::PRODUCTS.len();

    let mut serve = as_nobody(&["serve", "--listen", "127.0.0.1:0", "--index", &index]);
    serve.stderr(Stdio::null());
    let server = Server::spawn(serve);
    assert_eq!(server.json("/count?q=*")["files"], first as u64);

    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut seen = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let output = as_nobody(&["query", "--index", &index, "*", "--count"])
                    .output()
                    .unwrap();
                let count: usize = succeeded(output).trim().parse().unwrap();
                seen.push(count);
            }
            seen
        });
        // Each rebuild adds one product: incremental commits into the current generation,
        // alternating with full rebuilds that switch to a new one and remove the old.
        for i in 1..=REBUILDS {
            let name =
                format!("S2A_MSIL1C_2021010{i}T100412_N0204_R122_T31NFF_2021010{i}T101120.zip");
            env.disk_file(&env.product_path("s2a_prd_msil1c", &name), 100);
            let mut build = env.catalog();
            build.arg("index").arg("--root").arg(env.root());
            if i % 2 == 0 {
                build.arg("--full");
            }
            succeeded(build.output().unwrap());
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let seen = reader.join().unwrap();
        assert!(!seen.is_empty());
        assert!(
            seen.windows(2).all(|pair| pair[0] <= pair[1])
                && seen
                    .iter()
                    .all(|&count| (first..=first + REBUILDS).contains(&count)),
            "{seen:?}"
        );
    });
    let last = (first + REBUILDS) as u64;
    server.wait_for_count("*", last, "serve did not follow the rebuilds");
    let count = as_nobody(&["query", "--index", &index, "*", "--count"])
        .output()
        .unwrap();
    assert_eq!(succeeded(count).trim(), last.to_string());
}
