//! Command-line habits: shell completions and the manual page.

mod common;

use std::process::{Command, Stdio};

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
