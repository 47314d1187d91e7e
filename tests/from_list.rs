//! `catalog index --from-list`: plain paths, `find -printf` output and GPFS policy LIST files.

mod common;

use std::process::Command;

use common::{TestEnv, PRODUCTS};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn index_list(env: &TestEnv, list: &[u8]) -> std::process::Output {
    env.catalog()
        .args(["index", "--from-list", "-"])
        .write_stdin(list.to_vec())
        .output()
        .unwrap()
}

fn rows(env: &TestEnv, query: &str) -> Vec<serde_json::Value> {
    let output = env
        .catalog()
        .args(["query", query, "--format", "ndjson", "--sort", "path"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn find_printf_output_of_a_real_tree_gives_the_same_answers_as_a_crawl() {
    let env = TestEnv::with_products();
    let list = Command::new("find")
        .arg(env.root())
        .args(["-type", "f", "-printf", "%s %T@ %b %p\\n"])
        .output()
        .unwrap();
    assert!(list.status.success());
    let output = index_list(&env, &list.stdout);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).starts_with(&format!("indexed {} files", PRODUCTS.len())),
        "{}",
        stderr(&output)
    );
    let from_list = rows(&env, "*");

    // The same tree, crawled into a fresh index: a second tree would differ in its mtimes
    // whenever its creation crosses a second boundary.
    std::fs::remove_dir_all(env.index()).unwrap();
    env.index_archive();
    assert_eq!(from_list, rows(&env, "*"));
}

#[test]
fn plain_paths_leave_stat_fields_empty() {
    let env = TestEnv::new();
    let list = "/eodc/products/copernicus.eu/s2a_prd_msil1c/2023/06/15/S2A_MSIL1C_20230615T230131_N0509_R029_T60WWV_20230616T000937.zip\n\
                /eodc/products/copernicus.eu/s1a_csar_grdh_iw/2022/01/01/S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C.zip\n";
    let output = index_list(&env, list.as_bytes());
    assert!(output.status.success(), "{}", stderr(&output));
    let rows = rows(&env, "tile:T60WWV");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["collection"], "s2a_prd_msil1c");
    assert!(
        rows[0].get("size").is_none()
            && rows[0].get("state").is_none()
            && rows[0].get("mtime").is_none()
    );
    assert_eq!(env.query("orbit:73"), ["/eodc/products/copernicus.eu/s1a_csar_grdh_iw/2022/01/01/S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C.zip"]);
}

#[test]
fn gpfs_policy_lists_with_show_fields_and_escapes() {
    let env = TestEnv::new();
    let list = "\
12345 65538 0 size=843000000 kb=0 mtime=2023-06-16 01:02:03.000000 -- /gpfs/eodc/products/copernicus.eu/s2a_prd_msil1c/2023/06/15/S2A_MSIL1C_20230615T230131_N0509_R029_T60WWV_20230616T000937.zip
12346 65538 0 size=4096 kb=4 mtime=1686790000 -- /gpfs/eodc/products/copernicus.eu/s2b_prd_msil2a/2023/06/15/S2B_MSIL2A_20230615T101559_N0509_R065_T32TQM_20230615T130541.zip
12347 65538 0  -- /gpfs/eodc/products/with%20space/S5P_OFFL_L2__NO2____20230615T103524_20230615T121654_29310_03_020500_20230617T024507.nc
";
    let output = index_list(&env, list.as_bytes());
    assert!(output.status.success(), "{}", stderr(&output));
    let tape = rows(&env, "state:tape");
    assert_eq!(tape.len(), 1);
    assert_eq!(tape[0]["tile"], "T60WWV");
    assert_eq!(tape[0]["size"], 843_000_000u64);
    assert_eq!(tape[0]["mtime"], "2023-06-16T01:02:03Z");
    assert_eq!(rows(&env, "state:disk")[0]["tile"], "T32TQM");
    let s5p = rows(&env, "mission:S5P");
    assert_eq!(s5p[0]["path"], "/gpfs/eodc/products/with space/S5P_OFFL_L2__NO2____20230615T103524_20230615T121654_29310_03_020500_20230617T024507.nc");
    assert!(s5p[0].get("size").is_none());
}

#[test]
fn malformed_lines_are_reported_and_skipped_and_nothing_else_is_lost() {
    let env = TestEnv::new();
    let mut list = Vec::new();
    list.extend_from_slice(b"100 1700000000.5 8 /data/S2A_MSIL1C_20230615T230131_N0509_R029_T60WWV_20230616T000937.zip\n");
    list.extend_from_slice(b"relative/path.zip\n");
    list.extend_from_slice(b"abc 1700000000.5 8 /data/bad-size.zip\n");
    list.extend_from_slice(b"/data/\xff\xfe.zip\n");
    list.extend_from_slice(b"1 2 -- \n");
    list.extend_from_slice(b"/data/../etc/passwd\n");
    list.extend_from_slice(b"\n# a comment\n");
    list.extend_from_slice(
        b"/data/S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C.zip\r\n",
    );
    let output = index_list(&env, &list);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = stderr(&output);
    assert!(summary.starts_with("indexed 2 files"), "{summary}");
    assert!(summary.contains("5 malformed list lines"), "{summary}");
    assert_eq!(env.query("*").len(), 2);
    assert_eq!(
        env.query("mission:S1"),
        ["/data/S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C.zip"]
    );
}

#[test]
fn lines_longer_than_path_max_are_malformed_lines() {
    let env = TestEnv::new();
    let good = "/data/S2A_MSIL1C_20230615T230131_N0509_R029_T60WWV_20230616T000937.zip";
    let mut list = format!("{good}\n/data/{}.zip\n", "x".repeat(5000)).into_bytes();
    list.push(b'/');
    list.extend(std::iter::repeat_n(b'7', 10 << 20));
    list.extend_from_slice(
        b"\n/data/S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C.zip\n",
    );
    let output = index_list(&env, &list);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = stderr(&output);
    assert!(
        summary.len() < 4000,
        "no path is shown whole: {summary:.4000}"
    );
    assert!(summary.contains("indexed 2 files"), "{summary}");
    assert!(summary.contains("2 malformed list lines"), "{summary}");
    assert_eq!(env.query("*").len(), 2);
    assert!(env.query("*").iter().all(|p| p.len() < 200));
}

/// `catalog` as [`TestEnv::catalog`] runs it, unable to write files larger than `bytes` (the
/// write fails with "File too large", as on a full disk): a full file system in a test.
fn catalog_with_file_size_limit(env: &TestEnv, bytes: u64) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("catalog"));
    cmd.env("CATALOG_INDEX", env.index())
        .env_remove("CHILLER_URL");
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // Ignored, SIGXFSZ is ignored after exec too, and the write fails with EFBIG.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

#[test]
fn a_build_that_cannot_write_names_the_index() {
    let env = TestEnv::new();
    let list = env.path().join("big-list.txt");
    let text: String = (0..40_000)
        .map(|i| format!("/data/S2A_MSIL1C_20230615T230131_N0509_R029_T60WWV_{i:08}T000937.zip\n"))
        .collect();
    std::fs::write(&list, text).unwrap();
    let output = catalog_with_file_size_limit(&env, 16 << 10)
        .args(["index", "--from-list"])
        .arg(&list)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "catalog: cannot build the index at {}: File too large (os error 27)\n",
            env.index().display()
        )
    );
    let left: Vec<_> = std::fs::read_dir(env.index())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("gen-"))
        .collect();
    assert!(
        left.is_empty(),
        "the failed generation is removed: {left:?}"
    );
}

#[test]
fn a_list_update_is_incremental() {
    let env = TestEnv::new();
    let a = "/data/S2A_MSIL1C_20230615T230131_N0509_R029_T60WWV_20230616T000937.zip";
    let b = "/data/S2B_MSIL2A_20230615T101559_N0509_R065_T32TQM_20230615T130541.zip";
    let c = "/data/S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C.zip";
    assert!(
        index_list(&env, format!("5 1.0 0 {a}\n5 1.0 0 {b}\n").as_bytes())
            .status
            .success()
    );
    let again = index_list(
        &env,
        format!("5 1.0 8 {a}\n5 1.0 0 {b}\n5 1.0 0 {c}\n").as_bytes(),
    );
    let summary = stderr(&again);
    assert!(
        summary.contains("2 added, 1 removed, 1 unchanged"),
        "{summary}"
    );
    assert_eq!(env.query("state:disk"), [a]);
    assert_eq!(env.query("*").len(), 3);
}
