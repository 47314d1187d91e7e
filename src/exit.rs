//! Exit codes: scripts and the cron wrapper tell failures apart by them.

use catalog_index::crawl::RootError;
use catalog_index::CatalogError;

/// Any error not listed below.
pub const ERROR: u8 = 1;
/// Bad usage or a query that cannot be understood.
pub const USAGE: u8 = 2;
/// Another rebuild of the same index is running.
pub const BUSY: u8 = 3;
/// A rebuild was refused because a root is empty or shrank, the whole index would shrink, or
/// the roots leave out indexed files.
pub const SHRUNK: u8 = 4;
/// A root is missing or unreadable.
pub const ROOT: u8 = 5;
/// There is no index, or it has another schema version.
pub const NO_INDEX: u8 = 6;

/// Arguments that parse but do not go together.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Ends the process for an error, as `main` does for every command: a closed standard output
/// (as with `catalog query ... | head`) is the reader's choice, no failure, so it exits 0
/// without a word; anything else prints `catalog: ` and the error on one line, and exits with
/// the code of [`Failure::code`].
pub fn report(error: &anyhow::Error) -> std::process::ExitCode {
    match Failure::of(error) {
        None => std::process::ExitCode::SUCCESS,
        Some(failure) => {
            eprintln!("catalog: {}", failure.message);
            std::process::ExitCode::from(failure.code)
        }
    }
}

/// What an error tells the user: its exit code and its one-line message.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// The error and its causes on one line.
    pub message: String,
}

impl Failure {
    /// Reads the error chain once; `None` when a closed pipe is anywhere in it.
    pub fn of(error: &anyhow::Error) -> Option<Failure> {
        let mut message = String::new();
        let mut usage = false;
        let mut root = false;
        let mut query = false;
        let mut catalog: Option<&CatalogError> = None;
        for cause in error.chain() {
            if broken_pipe(cause) {
                return None;
            }
            usage |= cause.is::<UsageError>();
            root |= cause.is::<RootError>();
            query |= cause.is::<catalog_index::query::QueryError>();
            catalog = catalog.or_else(|| cause.downcast_ref::<CatalogError>());
            // A context that quotes its cause already is not followed by it again.
            let text = cause.to_string();
            if message.is_empty() {
                message = text;
            } else if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
        }
        let code = if usage {
            USAGE
        } else if root {
            ROOT
        } else {
            match catalog {
                Some(CatalogError::Query(_) | CatalogError::NotInRoots { .. }) => USAGE,
                Some(CatalogError::Busy(_)) => BUSY,
                Some(
                    CatalogError::EmptyRoot(_)
                    | CatalogError::Shrunk { .. }
                    | CatalogError::RootsLeaveOut { .. },
                ) => SHRUNK,
                Some(CatalogError::Root(_)) => ROOT,
                Some(CatalogError::NoIndex(_) | CatalogError::SchemaMismatch { .. }) => NO_INDEX,
                _ if query => USAGE,
                _ => ERROR,
            }
        };
        Some(Failure {
            code,
            message: message.replace('\n', " "),
        })
    }
}

/// Whether a cause is a closed pipe: an `io::Error` of that kind, or one inside another error
/// (a CSV or JSON writer's, or one wrapped with `io::Error::other`, whose `source` skips it).
fn broken_pipe(cause: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(io) = cause.downcast_ref::<std::io::Error>() {
        return io.kind() == std::io::ErrorKind::BrokenPipe
            || io.get_ref().is_some_and(|inner| broken_pipe(inner));
    }
    if let Some(json) = cause.downcast_ref::<serde_json::Error>() {
        return json.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe);
    }
    if let Some(csv) = cause.downcast_ref::<csv::Error>() {
        return matches!(csv.kind(), csv::ErrorKind::Io(io)
            if io.kind() == std::io::ErrorKind::BrokenPipe);
    }
    false
}

#[cfg(test)]
mod tests {
    use std::io;

    use catalog_index::CatalogError;

    use super::{Failure, UsageError, BUSY, ERROR, USAGE};

    fn pipe() -> io::Error {
        io::Error::from(io::ErrorKind::BrokenPipe)
    }

    #[test]
    fn a_closed_pipe_is_found_however_it_is_wrapped() {
        let quiet = |error: anyhow::Error| Failure::of(&error).is_none();
        assert!(quiet(anyhow::Error::from(pipe())));
        assert!(quiet(
            anyhow::Error::from(pipe()).context("cannot write the answer")
        ));
        let csv = csv::Error::from(pipe());
        assert!(quiet(anyhow::Error::from(io::Error::other(csv))));
        let json = serde_json::Error::io(pipe());
        assert!(quiet(anyhow::Error::from(json)));
        assert!(!quiet(anyhow::Error::from(io::Error::from(
            io::ErrorKind::PermissionDenied
        ))));
        assert!(!quiet(anyhow::anyhow!("Broken pipe")));
    }

    #[test]
    fn the_code_comes_from_the_chain_and_the_message_is_one_line() {
        let busy = anyhow::Error::from(CatalogError::Busy("/idx".into())).context("cannot index");
        let failure = Failure::of(&busy).unwrap();
        assert_eq!(failure.code, BUSY);
        assert!(failure.message.starts_with("cannot index: "), "{failure:?}");
        let usage = anyhow::Error::from(UsageError("two\nlines".into()));
        assert_eq!(
            Failure::of(&usage),
            Some(Failure {
                code: USAGE,
                message: "two lines".into()
            })
        );
        let plain = anyhow::anyhow!("disk full").context("cannot write out: disk full");
        assert_eq!(
            Failure::of(&plain),
            Some(Failure {
                code: ERROR,
                message: "cannot write out: disk full".into()
            })
        );
    }
}
