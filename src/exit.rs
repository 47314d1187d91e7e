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

/// The exit code for an error, from the first catalog error in its chain.
pub fn code(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<UsageError>().is_some() {
        return USAGE;
    }
    let catalog_error = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<CatalogError>());
    if error
        .chain()
        .any(|cause| cause.downcast_ref::<RootError>().is_some())
    {
        return ROOT;
    }
    match catalog_error {
        Some(CatalogError::Query(_)) => USAGE,
        Some(CatalogError::Busy(_)) => BUSY,
        Some(
            CatalogError::EmptyRoot(_)
            | CatalogError::Shrunk { .. }
            | CatalogError::RootsLeaveOut { .. },
        ) => SHRUNK,
        Some(CatalogError::NotInRoots { .. }) => USAGE,
        Some(CatalogError::Root(_)) => ROOT,
        Some(CatalogError::NoIndex(_) | CatalogError::SchemaMismatch { .. }) => NO_INDEX,
        _ if error.chain().any(|cause| {
            cause
                .downcast_ref::<catalog_index::query::QueryError>()
                .is_some()
        }) =>
        {
            USAGE
        }
        _ => ERROR,
    }
}

/// Whether an error comes from a closed standard output (as with `catalog query ... | head`):
/// no failure, but the reader's choice, so `main` exits 0 without a word. The `io::Error` may
/// sit anywhere in the chain, or inside another error (a CSV or JSON writer's, or one wrapped
/// with `io::Error::other`, whose `source` skips it).
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(broken_pipe)
}

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

/// The error and its causes on one line.
pub fn one_line(error: &anyhow::Error) -> String {
    let mut line = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !line.contains(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    line.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::is_broken_pipe;

    fn pipe() -> io::Error {
        io::Error::from(io::ErrorKind::BrokenPipe)
    }

    #[test]
    fn a_closed_pipe_is_found_however_it_is_wrapped() {
        assert!(is_broken_pipe(&anyhow::Error::from(pipe())));
        assert!(is_broken_pipe(
            &anyhow::Error::from(pipe()).context("cannot write the answer")
        ));
        let csv = csv::Error::from(pipe());
        assert!(is_broken_pipe(&anyhow::Error::from(io::Error::other(csv))));
        let json = serde_json::Error::io(pipe());
        assert!(is_broken_pipe(&anyhow::Error::from(json)));
        assert!(!is_broken_pipe(&anyhow::Error::from(io::Error::from(
            io::ErrorKind::PermissionDenied
        ))));
        assert!(!is_broken_pipe(&anyhow::anyhow!("Broken pipe")));
    }
}
