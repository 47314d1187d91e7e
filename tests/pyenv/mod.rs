//! A Python environment the build owns, for the tests that drive real Python clients: a venv
//! in cargo's target directory (`target/tmp/pyenv`) into which the packages are installed from
//! the package registry once, so that `cargo test` needs nothing but python3 on the machine.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// What the venv holds; a venv made for another list is made again.
const PACKAGES: &[&str] = &["pystac-client==0.9.1", "stac-api-validator==0.6.8"];

/// The venv's python, the venv made first if need be. Tests, test binaries and cargo runs that
/// want it at once take turns on a lock file, and a venv counts as made only once its `ready`
/// stamp is written, so one left half-made by a killed run is made again.
pub fn python() -> PathBuf {
    static IN_PROCESS: Mutex<()> = Mutex::new(());
    let _turn = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let venv = base.join("pyenv");
    let python = venv.join("bin/python");
    let stamp = venv.join("ready");
    let wanted = PACKAGES.join(" ");
    let ready = || fs::read_to_string(&stamp).is_ok_and(|held| held == wanted);
    if ready() {
        return python;
    }
    fs::create_dir_all(base).expect("target tmp dir");
    let lock = File::create(base.join("pyenv.lock")).expect("pyenv lock file");
    lock.lock().expect("lock the pyenv lock file");
    if ready() {
        return python;
    }
    if venv.exists() {
        fs::remove_dir_all(&venv).expect("remove a half-made venv");
    }
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv (on Debian and Ubuntu it needs the python3-venv package)",
    );
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(PACKAGES),
        &format!("pip install {wanted} into {}", venv.display()),
    );
    fs::write(&stamp, &wanted).expect("write the venv's ready stamp");
    python
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
