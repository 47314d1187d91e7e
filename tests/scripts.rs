//! The cron wrapper `scripts/catalog-rebuild`, run for real over the real binary.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::{TestEnv, PRODUCTS};

fn wrapper(env: &TestEnv) -> Command {
    let mut cmd =
        Command::new(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/catalog-rebuild"));
    cmd.env("CATALOG", assert_cmd::cargo::cargo_bin("catalog"))
        .env("CATALOG_INDEX", env.index());
    cmd
}

/// The one line the wrapper printed, having exited with `code`.
fn one_line(output: &Output, code: i32) -> String {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = lines(output);
    assert_eq!(lines.len(), 1, "{lines:?}");
    lines[0].clone()
}

fn lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_wrapper_prints_one_line_and_documented_exit_codes() {
    let env = TestEnv::with_products();
    let ok = wrapper(&env)
        .arg("--json")
        .arg("--root")
        .arg(env.root())
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_str(&one_line(&ok, 0)).unwrap();
    assert_eq!(summary["files"], PRODUCTS.len());
    assert!(ok.stderr.is_empty());

    let text = wrapper(&env)
        .arg("--root")
        .arg(env.root())
        .output()
        .unwrap();
    let line = one_line(&text, 0);
    assert!(
        line.starts_with("catalog-rebuild: ok: indexed 8 files"),
        "{line}"
    );

    let missing = wrapper(&env)
        .arg("--json")
        .arg("--root")
        .arg(env.path().join("unmounted"))
        .output()
        .unwrap();
    let line: serde_json::Value = serde_json::from_str(&one_line(&missing, 5)).unwrap();
    assert_eq!(line["status"], "root-unreadable");
    assert!(line["message"].as_str().unwrap().contains("unmounted"));

    for (collection, name) in &PRODUCTS[..6] {
        std::fs::remove_file(env.root().join(env.product_path(collection, name))).unwrap();
    }
    let shrunk = wrapper(&env)
        .arg("--root")
        .arg(env.root())
        .output()
        .unwrap();
    let line = one_line(&shrunk, 4);
    assert!(
        line.starts_with("catalog-rebuild: refused: refused: "),
        "{line}"
    );
}

#[test]
fn two_wrappers_at_once_run_one_rebuild() {
    let env = TestEnv::new();
    let archive = env.path().join("sample");
    env.sample(&archive, 20000);
    let start = || {
        wrapper(&env)
            .arg("--json")
            .arg("--root")
            .arg(&archive)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (start(), start());
    let mut codes = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ]
    .iter()
    .map(|o| {
        let line: serde_json::Value = serde_json::from_str(&lines(o)[0]).unwrap();
        (o.status.code().unwrap(), line)
    })
    .collect::<Vec<_>>();
    codes.sort_by_key(|(code, _)| *code);
    assert_eq!(codes[0].0, 0, "{codes:?}");
    assert_eq!(
        codes[1].0, 3,
        "the second wrapper found the first one running: {codes:?}"
    );
    assert_eq!(codes[1].1["status"], "busy");
    assert!(!env.query("sat:S2A").is_empty());

    // A rebuild holding the lock the same way makes the wrapper give up at once.
    let lock = format!("{}.rebuild.lock", env.index().display());
    let mut holder = Command::new("flock")
        .args([&lock, "sleep", "5"])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while Command::new("flock")
        .args(["--nonblock", &lock, "true"])
        .status()
        .unwrap()
        .success()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "flock never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let busy = wrapper(&env).arg("--root").arg(&archive).output().unwrap();
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(busy.status.code(), Some(3));
    assert!(
        lines(&busy)[0].contains("another rebuild"),
        "{:?}",
        lines(&busy)
    );
}

/// The wrapper copied to `dir` with the real binary linked beside it, as `/usr/local/bin` holds
/// them, run with cron's environment: nothing but PATH=/usr/bin:/bin and HOME.
fn wrapper_under_cron(env: &TestEnv, dir: &std::path::Path, with_binary: bool) -> Command {
    std::fs::create_dir_all(dir).unwrap();
    let copy = dir.join("catalog-rebuild");
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/catalog-rebuild"),
        &copy,
    )
    .unwrap();
    if with_binary {
        std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("catalog"), dir.join("catalog"))
            .unwrap();
    }
    let mut cmd = Command::new(copy);
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", env.path())
        .env("CATALOG_INDEX", env.index());
    cmd
}

#[test]
fn under_crons_path_the_wrapper_finds_the_binary_beside_itself_or_says_it_cannot() {
    for dir in ["/usr/bin", "/bin"] {
        assert!(
            !std::path::Path::new(dir).join("catalog").exists(),
            "a catalog in {dir} would hide what this test checks"
        );
    }
    let env = TestEnv::with_products();
    let beside = wrapper_under_cron(&env, &env.path().join("bin"), true)
        .arg("--json")
        .arg("--root")
        .arg(env.root())
        .output()
        .unwrap();
    assert_eq!(
        beside.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&beside.stdout),
        String::from_utf8_lossy(&beside.stderr)
    );
    let out = lines(&beside);
    assert_eq!(out.len(), 1, "{out:?}");
    let summary: serde_json::Value = serde_json::from_str(&out[0]).unwrap();
    assert_eq!(summary["files"], PRODUCTS.len());
    assert_eq!(env.query("sat:S2A").len(), 3);

    let alone = wrapper_under_cron(&env, &env.path().join("alone"), false)
        .arg("--root")
        .arg(env.root())
        .output()
        .unwrap();
    assert_eq!(alone.status.code(), Some(1));
    assert_eq!(
        lines(&alone),
        [format!(
            "catalog-rebuild: error: no catalog binary: none on PATH (/usr/bin:/bin) nor beside {}; set CATALOG to its path",
            env.path().join("alone/catalog-rebuild").display()
        )]
    );
    assert!(alone.stderr.is_empty(), "{:?}", alone.stderr);
    let json = wrapper_under_cron(&env, &env.path().join("alone"), false)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(json.status.code(), Some(1));
    let line: serde_json::Value = serde_json::from_str(&lines(&json)[0]).unwrap();
    assert_eq!(line["status"], "error");
}

/// The systemd units, their hardening and what each may write. The directives are checked
/// everywhere; the exposure score only where `systemd-analyze` is installed.
#[test]
fn the_systemd_units_run_unprivileged_and_hardened() {
    // Each unit, with the state directory it may write (the rebuilds own the index).
    let units = [
        ("catalog-rebuild.service", "catalog"),
        ("catalog-census.service", "catalog"),
        ("catalog-serve.service", "catalog/serve"),
        ("catalog-chiller.service", "catalog/chiller"),
    ];
    let scripts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let hardening = [
        "User=catalog",
        "Group=catalog",
        "ProtectSystem=strict",
        "ProtectHome=true",
        "PrivateTmp=true",
        "PrivateDevices=true",
        "PrivateUsers=true",
        "NoNewPrivileges=true",
        "CapabilityBoundingSet=",
        "RestrictNamespaces=true",
        "RestrictSUIDSGID=true",
        "MemoryDenyWriteExecute=true",
        "SystemCallArchitectures=native",
        "SystemCallFilter=@system-service",
    ];
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    let analyze = analyze.is_ok_and(|o| o.status.success());
    if !analyze {
        eprintln!(
            "note: systemd-analyze is not installed: the units' directives are checked, their \
             exposure score is not (apt-get install systemd to check it)"
        );
    }
    for (unit, state) in units {
        let path = scripts.join(unit);
        let text = std::fs::read_to_string(&path).unwrap();
        let directives: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
            .collect();
        for wanted in hardening {
            assert!(directives.contains(&wanted), "{unit} lacks {wanted}");
        }
        let writable: Vec<&str> = directives
            .iter()
            .filter_map(|l| {
                l.strip_prefix("StateDirectory=")
                    .or_else(|| l.strip_prefix("ReadWritePaths="))
            })
            .collect();
        assert_eq!(writable, [state], "{unit} writes only {state}");
        if unit.starts_with("catalog-serve") {
            assert!(text.contains("--index /var/lib/catalog/index"), "{unit}");
        }

        if analyze {
            let output = Command::new("systemd-analyze")
                .args(["security", "--offline=true", "--no-pager"])
                .arg(&path)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{unit}: {stderr}");
            // systemd reads past a misspelt directive with a warning: none is allowed.
            assert!(!stderr.contains(unit), "{unit}: {stderr}");
            let exposure: f64 = stdout
                .lines()
                .find_map(|l| l.split("Overall exposure level for ").nth(1))
                .and_then(|l| l.split(": ").nth(1))
                .and_then(|l| l.split(' ').next())
                .and_then(|score| score.parse().ok())
                .unwrap_or_else(|| panic!("{unit}: no exposure in {stdout}"));
            eprintln!("{unit}: exposure {exposure}");
            assert!(exposure <= 5.0, "{unit}: exposure {exposure}\n{stdout}");
        }
    }
}
