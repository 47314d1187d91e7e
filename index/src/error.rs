//! Errors of the catalog library, each worded for the person who runs the command.

use std::path::PathBuf;

use crate::crawl::RootError;
use crate::query::QueryError;

/// Anything that can go wrong while building or reading an index.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No index has been built in this directory yet.
    #[error("no index at {0}: build one with `catalog index --root ARCHIVE --index {0}`")]
    NoIndex(PathBuf),
    /// The index was written by a catalog with another schema.
    #[error(
        "the index at {dir} has schema version {found}, this catalog reads version {expected}: \
         rebuild it with `catalog index --full --index {dir}`"
    )]
    SchemaMismatch {
        /// The index directory.
        dir: PathBuf,
        /// The version found on disk.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// Another rebuild holds the lock of this index.
    #[error("another rebuild of the index at {0} is running; try again when it has finished")]
    Busy(PathBuf),
    /// A root cannot be crawled.
    #[error(transparent)]
    Root(#[from] RootError),
    /// A root held no files at all, which usually means its file system is not mounted.
    #[error("refused: {0} holds no files (is it mounted?); the index is unchanged (--allow-shrink to accept)")]
    EmptyRoot(String),
    /// A root shrank below the allowed share of its previous count.
    #[error(
        "refused: {root} has {now} files, down from {before} in the index (under half); \
         the index is unchanged (--allow-shrink to accept)"
    )]
    Shrunk {
        /// The root, or the list.
        root: String,
        /// Files the index holds for it.
        before: u64,
        /// Files found now.
        now: u64,
    },
    /// The roots of a crawl leave out files the index holds, which it would remove.
    #[error(
        "refused: this run's roots leave out {files} indexed files (indexed under {left_out}), \
         which would be removed; name every indexed root, refresh part of one with --update PATH, \
         or --allow-shrink to remove them; the index is unchanged"
    )]
    RootsLeaveOut {
        /// Indexed files below none of the run's roots.
        files: u64,
        /// The indexed roots the run does not name, comma-separated.
        left_out: String,
    },
    /// A path to `--update` lies inside none of the indexed roots.
    #[error("cannot update {path}: it is inside none of the indexed roots ({roots})")]
    NotInRoots {
        /// The path.
        path: String,
        /// The indexed roots, comma-separated.
        roots: String,
    },
    /// A list could not be read to its end.
    #[error("cannot read the list {list} at line {line}: {source}; the index is unchanged")]
    ListRead {
        /// The list's name.
        list: String,
        /// The 1-based line that could not be read.
        line: u64,
        /// The error reading it.
        source: std::io::Error,
    },
    /// A query could not be understood.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The index files could not be read or written.
    #[error("index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// A build could not write (or read) the index files: a full disk, for one.
    #[error("cannot build the index at {}: {}", .dir.display(), reason(.error))]
    Build {
        /// The index directory.
        dir: PathBuf,
        /// The error from the index library, said in the message (so not a source too).
        error: tantivy::TantivyError,
    },
    /// The index files could not be read.
    #[error("cannot read the index: {0}")]
    Read(#[from] std::io::Error),
    /// An answer could not be written out.
    #[error("cannot write the answer: {0}")]
    Output(#[source] std::io::Error),
    /// A file system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl CatalogError {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CatalogError {
        let context = context.into();
        move |source| CatalogError::Io { context, source }
    }
}

/// The plain reason of an index library error: an I/O error's own words (`No space left on
/// device (os error 28)`) rather than the library's wrapping of them.
fn reason(error: &tantivy::TantivyError) -> String {
    match error {
        tantivy::TantivyError::IoError(io) => io.to_string(),
        tantivy::TantivyError::InternalError(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Result of catalog library operations.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;
