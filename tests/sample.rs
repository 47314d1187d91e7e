//! `catalog sample`, run for real: how many files its day directories hold.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::TestEnv;

/// Files below each day directory (`copernicus.eu/<collection>/YYYY/MM/DD`), those inside
/// product directories included, and the files elsewhere (the collections' README files).
fn files_per_day(root: &Path) -> (BTreeMap<String, u64>, u64) {
    let (mut days, mut elsewhere) = (BTreeMap::new(), 0);
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                dirs.push(entry.path());
                continue;
            }
            let relative = entry.path().strip_prefix(root).unwrap().to_owned();
            let parts: Vec<_> = relative.iter().map(|p| p.to_str().unwrap()).collect();
            if parts.len() > 5 {
                *days.entry(parts[..5].join("/")).or_insert(0) += 1;
            } else {
                elsewhere += 1;
            }
        }
    }
    (days, elsewhere)
}

fn sample(env: &TestEnv, name: &str, args: &[&str]) -> (BTreeMap<String, u64>, u64, String) {
    let dir = env.path().join(name);
    let output = env
        .catalog()
        .arg("sample")
        .arg(&dir)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "catalog sample failed: {stderr}");
    let (days, elsewhere) = files_per_day(&dir);
    (days, elsewhere, stderr)
}

#[test]
fn per_day_sets_the_average_files_per_day_directory() {
    let env = TestEnv::new();
    let (default, _, _) = sample(&env, "default", &["--files", "6000", "--seed", "4"]);
    let average = 6000.0 / default.len() as f64;
    assert!(
        average < 1.5,
        "{average} files per day directory by default"
    );

    for per_day in [10, 40] {
        let args = [
            "--files",
            "6000",
            "--seed",
            "4",
            "--per-day",
            &per_day.to_string(),
        ];
        let (days, elsewhere, stderr) = sample(&env, &format!("per-day-{per_day}"), &args);
        let files: u64 = days.values().sum();
        assert_eq!(files + elsewhere, 6000, "every file was created");
        let average = files as f64 / days.len() as f64;
        assert!(
            (average - per_day as f64).abs() <= 0.15 * per_day as f64,
            "{average} files per day directory for --per-day {per_day}"
        );
        assert!(
            stderr.contains(&format!("in {} day directories", days.len())),
            "{stderr}"
        );
    }

    // The same seed and --per-day give the same archive.
    let (again, _, _) = sample(
        &env,
        "again",
        &["--files", "6000", "--seed", "4", "--per-day", "40"],
    );
    assert_eq!(again, files_per_day(&env.path().join("per-day-40")).0);
}

#[test]
fn per_day_zero_is_refused() {
    let env = TestEnv::new();
    let output = env
        .catalog()
        .arg("sample")
        .arg(env.path().join("s"))
        .args(["--files", "10", "--per-day", "0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--per-day"));
}
