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
