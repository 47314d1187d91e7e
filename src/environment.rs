//! The environment as every command reads it: a variable set to the empty string counts as
//! unset, as `NO_COLOR` is specified to, so `CATALOG_INDEX= catalog query ...` falls back to
//! the default instead of failing on an empty path. Colour follows `NO_COLOR` and the terminal;
//! what no flag or variable places goes to the platform's data directory; servers log one way.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Variables read other than through clap's `env =` arguments.
const READ_DIRECTLY: &[&str] = &["NO_COLOR", "RUST_LOG"];

/// Every variable the binary reads: those above and those of `command`'s arguments.
fn read_by(command: &clap::Command) -> Vec<OsString> {
    fn arguments(command: &clap::Command, names: &mut Vec<OsString>) {
        names.extend(
            command
                .get_arguments()
                .filter_map(|arg| arg.get_env())
                .map(OsString::from),
        );
        for sub in command.get_subcommands() {
            arguments(sub, names);
        }
    }
    let mut names: Vec<OsString> = READ_DIRECTLY.iter().map(OsString::from).collect();
    arguments(command, &mut names);
    names.sort();
    names.dedup();
    names
}

/// Removes from the environment each variable `command` (or the code beside it) reads that is
/// set but empty. Call it first, before clap reads the environment and before any thread
/// starts.
pub fn forget_empty(command: &clap::Command) {
    for name in read_by(command) {
        if std::env::var_os(&name).is_some_and(|value| value.is_empty()) {
            std::env::remove_var(&name);
        }
    }
}

/// `DATA/catalog/NAME`, DATA being the platform's data directory (`~/.local/share` on Linux):
/// where the index, the job ledger and the staging server's state live by default. `flags`
/// tells a platform without one how to choose, e.g. `pass --index DIR or set CATALOG_INDEX`.
pub fn data_dir(name: &str, flags: &str) -> anyhow::Result<PathBuf> {
    dirs::data_dir()
        .map(|data| data.join("catalog").join(name))
        .ok_or_else(|| anyhow::anyhow!("no data directory on this platform: {flags}"))
}

/// Whether to colour what goes to stderr: only on a terminal, and never with `NO_COLOR` set
/// (to anything but the empty string).
pub fn colour_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Logs a server's events to stderr, one line each, at `RUST_LOG`'s level (default info),
/// coloured only as [`colour_stderr`] allows.
pub fn init_server_log() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(colour_stderr())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::CommandFactory;

    /// The names quoted after `marker` in `text`.
    fn quoted_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
        text.match_indices(marker)
            .filter_map(|(at, _)| text[at + marker.len()..].split('"').next())
            .collect()
    }

    fn sources(dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }

    #[test]
    fn every_variable_read_is_forgotten_when_empty() {
        let known = super::read_by(&crate::commands::Cli::command());
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut texts = Vec::new();
        sources(&root.join("src"), &mut texts);
        sources(&root.join("index/src"), &mut texts);
        let mut read = Vec::new();
        for text in &texts {
            for marker in ["env::var(\"", "env::var_os(\"", "env = \""] {
                read.extend(quoted_after(text, marker));
            }
        }
        read.retain(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        });
        assert!(read.contains(&"CATALOG_INDEX"), "{read:?}");
        for name in read {
            assert!(
                known.iter().any(|k| k == name),
                "{name} is read but not forgotten when empty"
            );
        }
    }
}
