//! The catalog library: Sentinel name parsing, the index schema, crawling an archive, building
//! the index and searching it. It knows nothing of HTTP; the `catalog` binary is a thin layer
//! over it.

pub mod atomic;
pub mod build;
pub mod crawl;
pub mod directory;
pub mod dirs;
pub mod error;
pub mod fields;
mod fingerprints;
pub mod layout;
pub mod list;
pub mod query;
pub mod record;
pub mod schema;
pub mod search;
pub mod sentinel;
pub mod time;
pub mod tokenizer;
mod totals;

pub use error::{CatalogError, Result};
pub use record::{Entry, FileRecord, State};
pub use search::Catalog;
/// A compiled query, as [`Catalog::parse`] returns it and its searches take.
pub use tantivy::query::Query;
