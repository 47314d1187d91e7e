//! `catalog query` over a small archive of real product names.

mod common;

use common::{TestEnv, PRODUCTS};

fn names(paths: &[String]) -> Vec<&str> {
    paths
        .iter()
        .map(|p| p.rsplit('/').next().unwrap())
        .collect()
}

fn indexed() -> TestEnv {
    let env = TestEnv::with_products();
    env.disk_file("copernicus.eu/README.txt", 10);
    env.index_archive();
    env
}

#[test]
fn default_output_is_every_path_sorted_by_date_then_path() {
    let env = indexed();
    let paths = env.query("*");
    assert_eq!(paths.len(), PRODUCTS.len() + 1);
    let expected_first = env.abs(&env.product_path(PRODUCTS[3].0, PRODUCTS[3].1));
    assert_eq!(paths[0], expected_first, "the 2015 product comes first");
    assert!(
        paths.last().unwrap().ends_with("README.txt"),
        "files without a date come last"
    );
    let output = env
        .catalog()
        .args(["query", "mission:S2"])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.ends_with('\n') && !text.ends_with("\n\n"));
    assert_eq!(
        names(&text.lines().map(str::to_string).collect::<Vec<_>>()),
        [
            "S2A_OPER_PRD_MSIL1C_PDMC_20160111T064012_R008_V20151229T101025_20151229T101025.zip",
            "S2A_MSIL1C_20170101T100412_N0204_R122_T31NFF_20170101T101120.zip",
            "S2B_MSIL2A_20230615T101559_N0509_R065_T32TQM_20230615T130541.zip",
            "S2A_MSIL1C_20230615T230131_N0509_R029_T60WWV_20230616T000937.zip",
        ]
    );
}

#[test]
fn every_field_can_be_queried() {
    let env = indexed();
    let one = |query: &str, expected: &str| {
        let paths = env.query(query);
        assert_eq!(names(&paths), [expected], "{query}");
    };
    let s1a = "S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C.zip";
    let s5p =
        "S5P_OFFL_L2__NO2____20230615T103524_20230615T121654_29310_03_020500_20230617T024507.nc";
    let t60 = "S2A_MSIL1C_20230615T230131_N0509_R029_T60WWV_20230616T000937.zip";
    let s3 = "S3A_OL_1_EFR____20230615T095417_20230615T095717_20230616T115314_0179_100_079_2160_PS1_O_NT_003.zip";
    one("tile:T60WWV AND sat:S2A", t60);
    one("tile:60wwv", t60);
    one("T60WWV", t60);
    one("t60wwv", t60);
    one(
        &format!(
            "path:{}",
            env.abs(&env.product_path("s1a_csar_grdh_iw", s1a))
        ),
        s1a,
    );
    one("name:*_N0509_*T60WWV*", t60);
    one("collection:s1a_csar_grdh_iw", s1a);
    one("mission:S5P", s5p);
    one("sat:s1a", s1a);
    one("product:GRD", s1a);
    one("product:L2__NO2", s5p);
    one("level:L1 AND mission:S3", s3);
    one(
        "mode:EW",
        "S1B_EW_SLC__1SDH_20190305T060001_20190305T060101_015211_01C6F2_ABCD.zip",
    );
    one("orbit:73", s1a);
    one("orbit:R029", t60);
    one("absorbit:29310", s5p);
    one(
        "baseline:N0204",
        "S2A_MSIL1C_20170101T100412_N0204_R122_T31NFF_20170101T101120.zip",
    );
    one(
        "baseline:0204",
        "S2A_MSIL1C_20170101T100412_N0204_R122_T31NFF_20170101T101120.zip",
    );
    one("end:2022-01-01T05:20:33Z", s1a);
    one("state:tape AND mission:S1 AND mode:IW", s1a);
    one("size:>1G AND mode:IW", s1a);
    one("mtime:>2000 AND mission:S5P", s5p);
    assert_eq!(env.query("state:disk").len(), PRODUCTS.len() - 2 + 1);
    assert_eq!(env.query("date:2023-06-15").len(), 4);
}

#[test]
fn dates_ranges_and_booleans() {
    let env = indexed();
    let count = |query: &str| env.query(query).len();
    assert_eq!(count("date:2023"), 4);
    assert_eq!(count("date:2023-06"), 4);
    assert_eq!(
        count("date:2015"),
        1,
        "old S2 names date from their V start"
    );
    assert_eq!(
        count("date:[2019-03-05 TO 2022-01-01]"),
        2,
        "the end day is included"
    );
    assert_eq!(count("date:{2019-03-05 TO 2022-01-01]"), 1);
    assert_eq!(count("date:>=2022-01-01"), 5);
    assert_eq!(count("date:>2022-01-01"), 4);
    assert_eq!(count("date:<2017"), 1);
    assert_eq!(count("date:<=2017-01"), 2);
    assert_eq!(count("date:[2023-06-15T10:00:00Z TO *]"), 3);
    assert_eq!(count("orbit:[29 TO 79]"), 4);
    assert_eq!(count("orbit:{29 TO 79}"), 2);
    assert_eq!(count("mission:S2 AND NOT level:L2A"), 3);
    assert_eq!(count("mission:S2 -level:L2A"), 3);
    assert_eq!(count("sat:S1A OR sat:S1B"), 2);
    assert_eq!(count("sat:(S1A OR S5P) AND date:2023"), 1);
    assert_eq!(count("(mission:S1 OR mission:S3) AND date:>=2020"), 2);
    assert_eq!(count("NOT mission:S2"), 5);
    assert_eq!(count("sat:S2*"), 4);
    assert_eq!(count("name:*.nc"), 1);
    assert_eq!(count("MSIL1C"), 3);
}

#[test]
fn bad_queries_exit_2_with_one_line_naming_the_problem() {
    let env = indexed();
    for (query, needle) in [
        ("tiel:T60WWV", "unknown field 'tiel'"),
        ("(sat:S2A", "never closed"),
        ("orbit:abc", "whole number"),
        ("date:2023-13-45", "takes a date"),
        ("sat:S2A AND", "ends where a term was expected"),
    ] {
        let output = env.catalog().args(["query", query]).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{query}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{query}: {stderr}");
        assert!(
            stderr.contains("known fields: path, name, collection"),
            "{stderr}"
        );
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn staging_flags_without_stage_are_refused() {
    let env = indexed();
    let output = env
        .catalog()
        .args(["query", "tile:T60WWV", "--wait"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("add --stage"));
}

#[test]
fn a_missing_index_says_how_to_build_one() {
    let env = TestEnv::new();
    let output = env.catalog().args(["query", "sat:S2A"]).output().unwrap();
    assert_eq!(output.status.code(), Some(6));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("no index at") && stderr.contains("catalog index --root"),
        "{stderr}"
    );
}

#[test]
fn formats_count_limit_sort_and_summary() {
    let env = indexed();
    let output = env
        .catalog()
        .args(["query", "mission:S2", "--count"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "4\n");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("4 files,") && stderr.contains("on disk: 4 files"),
        "{stderr}"
    );

    let limited = env
        .catalog()
        .args(["query", "*", "--limit", "2"])
        .output()
        .unwrap();
    let limited = String::from_utf8(limited.stdout).unwrap();
    assert_eq!(
        limited.lines().collect::<Vec<_>>(),
        env.query("*")[..2].to_vec()
    );

    let by_path = env
        .catalog()
        .args(["query", "*", "--sort", "path"])
        .output()
        .unwrap();
    let by_path: Vec<String> = String::from_utf8(by_path.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let mut sorted = by_path.clone();
    sorted.sort();
    assert_eq!(by_path, sorted);

    let by_size = env
        .catalog()
        .args([
            "query",
            "mission:S1",
            "--sort",
            "size",
            "--format",
            "ndjson",
        ])
        .output()
        .unwrap();
    let rows: Vec<serde_json::Value> = String::from_utf8(by_size.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["sat"], "S1A");
    assert_eq!(rows[0]["orbit"], 73);
    assert_eq!(rows[0]["absorbit"], 41270);
    assert_eq!(rows[0]["state"], "tape");
    assert_eq!(rows[0]["size"], 1_700_000_000u64);
    assert_eq!(rows[0]["date"], "2022-01-01T05:20:08Z");
    assert_eq!(rows[0]["collection"], "s1a_csar_grdh_iw");

    let json = env
        .catalog()
        .args(["query", "tile:T60WWV", "--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["tile"], "T60WWV");
    assert_eq!(json[0]["baseline"], "N0509");
    assert!(
        !json[0]["mtime"].is_null(),
        "the formats show modification times: {json}"
    );

    let csv = env
        .catalog()
        .args(["query", "mission:S5P", "--format", "csv"])
        .output()
        .unwrap();
    let csv = String::from_utf8(csv.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "path,name,collection,mission,sat,product,level,mode,tile,orbit,absorbit,baseline,date,end,size,mtime,state");
    assert!(
        lines[1].contains(",S5P,S5P,L2__NO2,L2,,,,29310,,2023-06-15T10:35:24Z,"),
        "{}",
        lines[1]
    );
}

#[test]
fn out_writes_the_list_atomically() {
    let env = indexed();
    let out = env.path().join("list.txt");
    std::fs::write(&out, "old list\n").unwrap();
    let output = env
        .catalog()
        .args(["query", "mission:S1", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(output.stdout.is_empty());
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written.lines().count(), 2);
    assert!(written.lines().all(|l| l.starts_with('/')));
    // With the permissions a file written by `>` gets (not a temporary file's 0600): lists go
    // to staging services that may run as another user.
    use std::os::unix::fs::PermissionsExt;
    let plain = env.path().join("plain.txt");
    std::fs::File::create(&plain).unwrap();
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode(&out), mode(&plain));
    std::fs::remove_file(&plain).unwrap();
    let leftovers = std::fs::read_dir(env.path()).unwrap().filter(|e| {
        e.as_ref()
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".tmp")
    });
    assert_eq!(leftovers.count(), 0, "no temporary file is left behind");
    let bad = env
        .catalog()
        .args(["query", "mission:S1", "--out", "/nonexistent-dir/list.txt"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8(bad.stderr)
        .unwrap()
        .contains("/nonexistent-dir"));
}

#[test]
fn out_errors_name_the_file_and_devices_are_written_in_place() {
    use std::os::unix::fs::FileTypeExt;
    let env = indexed();
    let full = env
        .catalog()
        .args(["query", "*", "--out", "/dev/full"])
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&full.stderr),
        "catalog: cannot write /dev/full: No space left on device (os error 28)\n"
    );
    assert!(
        std::fs::metadata("/dev/full")
            .unwrap()
            .file_type()
            .is_char_device(),
        "the device is written, not replaced"
    );
    let null = env
        .catalog()
        .args(["query", "*", "--out", "/dev/null"])
        .output()
        .unwrap();
    assert!(null.status.success());
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());

    // A file that cannot grow (a full disk, here a file size limit of one byte).
    let out = env.path().join("list.txt");
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("catalog"));
    cmd.env("CATALOG_INDEX", env.index())
        .args(["query", "*", "--out"])
        .arg(&out);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: 1,
                rlim_max: 1,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = cmd.output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.ends_with(&format!(
            "cannot write {}: File too large (os error 27)\n",
            out.display()
        )) && message.lines().count() == 1,
        "{message}"
    );
    assert!(!out.exists(), "no half list");
}

#[test]
fn parse_shows_the_fields_of_each_name_in_order() {
    let env = TestEnv::new();
    let output = env
        .catalog()
        .args([
            "parse",
            "S2A_MSIL1C_20170101T100412_N0204_R122_T31NFF_20170101T101120.zip",
            "README.txt",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["tile"], "T31NFF");
    assert_eq!(lines[0]["orbit"], 122);
    assert_eq!(lines[0]["date"], "2017-01-01T10:04:12Z");
    assert_eq!(lines[0]["product"], "MSIL1C");
    assert_eq!(lines[0]["level"], "L1C");
    assert_eq!(
        lines[1],
        serde_json::json!({"path": "README.txt", "name": "README.txt"})
    );
}

/// Runs `catalog query ARGS` with `CATALOG_MAX_AGE` unset unless `max_age_env` sets it,
/// asserting success: stdout and stderr.
fn query_with(env: &TestEnv, args: &[&str], max_age_env: Option<&str>) -> (String, String) {
    let mut command = env.catalog();
    command.arg("query").args(args);
    match max_age_env {
        Some(value) => command.env("CATALOG_MAX_AGE", value),
        None => command.env_remove("CATALOG_MAX_AGE"),
    };
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn an_index_older_than_max_age_draws_one_warning_line() {
    let env = indexed();
    let (fresh_out, fresh_err) = query_with(&env, &["mission:S2"], None);
    assert!(!fresh_err.contains("warning"), "the default: {fresh_err}");
    assert!(fresh_err.starts_with("4 files,"), "{fresh_err}");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (out, err) = loop {
        let (out, err) = query_with(&env, &["mission:S2", "--max-age", "1s"], None);
        if err.contains("warning") {
            break (out, err);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no warning after 20 s: {err}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(out, fresh_out, "the answer is unchanged");
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    let warning = warnings[0];
    assert!(
        warning.starts_with("warning: the index was last crawled 20")
            && warning.contains(" ago), older than --max-age 1s; answers may miss newer files"),
        "{warning}"
    );
    assert!(err.lines().any(|l| l.starts_with("4 files,")), "{err}");

    let (_, err) = query_with(&env, &["mission:S2", "--count"], Some("1s"));
    assert!(
        err.contains("older than --max-age 1s"),
        "from the env: {err}"
    );
    let (_, err) = query_with(&env, &["mission:S2", "--max-age", "off"], Some("1s"));
    assert!(!err.contains("warning"), "off: {err}");
    let (_, err) = query_with(&env, &["mission:S2"], Some("off"));
    assert!(!err.contains("warning"), "off from the env: {err}");
    let (_, err) = query_with(&env, &["mission:S2", "--max-age", "2days"], None);
    assert!(!err.contains("warning"), "2days: {err}");
    let (_, err) = query_with(&env, &["mission:S2"], None);
    assert!(
        !err.contains("warning"),
        "the default, a little later: {err}"
    );
}

#[test]
fn a_bad_max_age_exits_2_with_one_line_naming_it() {
    let env = indexed();
    for (value, needle) in [
        ("3x", "--max-age \"3x\""),
        ("soon", "--max-age \"soon\""),
        ("0", "zero would warn on every query"),
        ("", "--max-age \"\""),
    ] {
        let output = env
            .catalog()
            .args(["query", "mission:S2", "--max-age", value])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{value:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(needle) && stderr.contains("or off"),
            "{value:?}: {stderr}"
        );
        assert!(output.stdout.is_empty());
    }
    let output = env
        .catalog()
        .env("CATALOG_MAX_AGE", "tomorrow")
        .args(["query", "mission:S2"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("--max-age \"tomorrow\""));
}
