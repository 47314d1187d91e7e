//! The environment as the commands read it: an empty variable counts as unset, and colour
//! follows `NO_COLOR` and whether stderr is a terminal.

mod common;

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::server::Server;
use common::TestEnv;

const ESC: u8 = 0x1b;

/// `catalog` with `HOME` in the test's directory, so that defaults land there.
fn catalog(env: &TestEnv) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("catalog"));
    command
        .env("HOME", env.path().join("home"))
        .env_remove("XDG_DATA_HOME")
        .env_remove("CATALOG_INDEX")
        .env_remove("CHILLER_URL")
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG");
    command
}

fn stdout_of(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn empty_variables_count_as_unset() {
    let env = TestEnv::with_products();
    let default_index = env.path().join("home/.local/share/catalog/index");
    stdout_of(
        catalog(&env)
            .arg("index")
            .arg("--root")
            .arg(env.root())
            .arg("--index")
            .arg(&default_index),
    );
    let empty = |command: &mut Command| {
        for name in [
            "CATALOG_INDEX",
            "CATALOG_MAX_AGE",
            "CATALOG_LEDGER",
            "CHILLER_URL",
            "CHILLER_TOKEN",
            "NO_COLOR",
            "RUST_LOG",
        ] {
            command.env(name, "");
        }
    };

    // The index in the data directory, and the default --max-age.
    let mut query = catalog(&env);
    query.args(["query", "name:*", "--count"]);
    empty(&mut query);
    assert_eq!(
        stdout_of(&mut query).trim(),
        common::PRODUCTS.len().to_string()
    );
    let mut stats = catalog(&env);
    stats.args(["stats", "--json"]);
    empty(&mut stats);
    let stats: serde_json::Value = serde_json::from_str(&stdout_of(&mut stats)).unwrap();
    assert_eq!(stats["documents"], common::PRODUCTS.len() as u64);

    // The default Chiller URL: a list of files all on disk needs no server, so nothing is
    // sent anywhere, but an empty URL would have been refused before.
    let list = env.path().join("list.txt");
    let on_disk = env.abs(&env.product_path("s2a_prd_msil1c", common::PRODUCTS[0].1));
    fs::write(&list, format!("{on_disk}\n")).unwrap();
    let mut stage = catalog(&env);
    stage.arg("stage").arg(&list);
    empty(&mut stage);
    let output = stage.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("nothing to stage"), "{stderr}");
}

#[test]
fn serve_logs_carry_no_colour_codes_off_a_terminal_or_with_no_color() {
    let env = TestEnv::with_products();
    env.index_archive();
    let mut files = common::PRODUCTS.len() as u64;
    for (run, no_color) in [Some("1"), None].into_iter().enumerate() {
        let log = env.path().join(format!("serve-{run}.log"));
        let mut command = catalog(&env);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--index"])
            .arg(env.index())
            .stderr(fs::File::create(&log).unwrap());
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        let mut server = Server::spawn(command);
        // A rebuild, which the server logs as it follows it.
        let name =
            format!("S2A_MSIL1C_2021010{run}T100412_N0204_R122_T31NFF_2021010{run}T101120.zip");
        env.disk_file(&env.product_path("s2a_prd_msil1c", &name), 100);
        env.index_archive();
        files += 1;
        server.wait_for_count("*", files, "serve did not follow the rebuild");
        server.terminate();
        let text = fs::read(&log).unwrap();
        let shown = String::from_utf8_lossy(&text);
        assert!(shown.contains("index rebuilt"), "{shown}");
        assert!(shown.contains("shutting down"), "{shown}");
        assert!(
            !text.contains(&ESC),
            "NO_COLOR={no_color:?}: colour codes in {shown:?}"
        );
    }
}

#[test]
fn server_logs_are_coloured_on_a_terminal_unless_no_color_is_set() {
    let env = TestEnv::new();
    let binary = assert_cmd::cargo::cargo_bin("catalog");
    for (run, (no_color, coloured)) in [(None, true), (Some("1"), false), (Some(""), true)]
        .into_iter()
        .enumerate()
    {
        // `script` runs the server on a terminal of its own and copies what it shows into
        // the typescript file.
        let typescript = env.path().join(format!("tty-{run}.log"));
        let command_line = format!(
            "exec {} chiller-server --listen 127.0.0.1:0 --root {} --state-dir {}",
            binary.display(),
            env.root().display(),
            env.path().join(format!("state-{run}")).display()
        );
        let mut script = Command::new("script");
        script
            .args(["-qfec", &command_line])
            .arg(&typescript)
            .env_remove("NO_COLOR")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(value) = no_color {
            script.env("NO_COLOR", value);
        }
        let mut child = script.spawn().expect("script (util-linux) is installed");
        let deadline = Instant::now() + Duration::from_secs(20);
        let text = loop {
            let text = fs::read(&typescript).unwrap_or_default();
            if String::from_utf8_lossy(&text).contains("serving") {
                break text;
            }
            assert!(
                Instant::now() < deadline,
                "no log line on the terminal: {}",
                String::from_utf8_lossy(&text)
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            text.contains(&ESC),
            coloured,
            "NO_COLOR={no_color:?}: {:?}",
            String::from_utf8_lossy(&text)
        );
    }
}
