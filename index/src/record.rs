//! What the catalog knows of one file: its path and `stat` facts, and the fields derived from them.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::MetadataExt;

use serde::Serialize;
use time::OffsetDateTime;

use crate::sentinel::{parse_name, Product};

/// Where a file's data is: on disk, or migrated to tape by an HSM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The data is on disk: reading it is fast.
    Disk,
    /// The data was migrated: reading it recalls it from tape.
    Tape,
}

impl State {
    /// Decides from `stat` sizes: on disk when the allocated blocks cover at least half the
    /// apparent size (or the file is empty). An HSM stub keeps its size but frees its blocks.
    pub fn from_blocks(size: u64, blocks_512: u64) -> State {
        if size == 0 || blocks_512.saturating_mul(512) >= size / 2 {
            State::Disk
        } else {
            State::Tape
        }
    }

    /// Reads the state from a file's metadata.
    pub fn of(metadata: &std::fs::Metadata) -> State {
        State::from_blocks(metadata.size(), metadata.blocks())
    }

    /// The value as indexed and queried: `disk` or `tape`.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Disk => "disk",
            State::Tape => "tape",
        }
    }
}

/// A file (or `.SAFE`/`.SEN3` product directory) as listed by a crawl or a policy-scan list.
///
/// Facts a list does not give stay `None` rather than being invented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Absolute path, as on disk.
    pub path: String,
    /// Apparent size in bytes (for a product directory, the sum of its files).
    pub size: Option<u64>,
    /// Modification time, in seconds since the Unix epoch.
    pub mtime: Option<i64>,
    /// Whether the data is on disk or on tape.
    pub state: Option<State>,
}

impl FileRecord {
    /// The last component of the path.
    pub fn name(&self) -> &str {
        file_name(&self.path)
    }

    /// A hash of everything stored for this file: equal fingerprints mean the index entry is
    /// current. Its exact values may change between builds of catalog; a change only costs an
    /// incremental rebuild the rewrite of every document.
    pub fn fingerprint(&self) -> u64 {
        fingerprint(path_hash(&self.path), self.size, self.mtime, self.state)
    }
}

/// The hash of a path that [`fingerprint`] combines with the `stat` facts.
pub fn path_hash(path: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    path.hash(&mut hasher);
    hasher.finish()
}

/// The fingerprint of a file from its path hash and `stat` facts: computed from a crawl's
/// record and from an indexed document alike.
pub fn fingerprint(
    path_hash: u64,
    size: Option<u64>,
    mtime: Option<i64>,
    state: Option<State>,
) -> u64 {
    let mut hasher = DefaultHasher::new();
    (path_hash, size, mtime, state).hash(&mut hasher);
    hasher.finish()
}

/// Everything the catalog shows of one file: the fields a query can name, in their order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Absolute path.
    pub path: String,
    /// File name.
    pub name: String,
    /// Collection directory in the EODC layout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// Fields parsed from a Sentinel name.
    #[serde(flatten)]
    pub product: Product,
    /// Apparent size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Modification time.
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub mtime: Option<OffsetDateTime>,
    /// On disk or on tape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
}

impl Entry {
    /// Derives every field of a file from its path and `stat` facts.
    pub fn from_record(record: &FileRecord) -> Entry {
        let name = record.name();
        Entry {
            path: record.path.clone(),
            name: name.to_string(),
            collection: collection_of(&record.path).map(str::to_string),
            product: parse_name(name).unwrap_or_default(),
            size: record.size,
            mtime: record
                .mtime
                .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok()),
            state: record.state,
        }
    }
}

/// The last component of a `/`-separated path.
pub fn file_name(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// The collection of a path in the EODC layout `<root>/<provider>/<collection>/YYYY/MM/DD/<name>`:
/// the directory above the date directories, found from the path alone so that any root works.
pub fn collection_of(path: &str) -> Option<&str> {
    let mut parts = path.trim_end_matches('/').rsplit('/');
    let _name = parts.next()?;
    let day = parts.next()?;
    let month = parts.next()?;
    let year = parts.next()?;
    let collection = parts.next()?;
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    (digits(year, 4) && digits(month, 2) && digits(day, 2) && !collection.is_empty())
        .then_some(collection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_follows_allocated_blocks() {
        assert_eq!(State::from_blocks(0, 0), State::Disk);
        assert_eq!(State::from_blocks(4096, 8), State::Disk);
        assert_eq!(State::from_blocks(800_000_000, 0), State::Tape);
        assert_eq!(State::from_blocks(800_000_000, 8), State::Tape);
        assert_eq!(State::from_blocks(1000, 1), State::Disk);
    }

    #[test]
    fn collection_comes_from_the_eodc_layout() {
        let path = "/eodc/products/copernicus.eu/s2a_prd_msil1c/2017/01/01/S2A_MSIL1C_x.zip";
        assert_eq!(collection_of(path), Some("s2a_prd_msil1c"));
        assert_eq!(collection_of("/data/S2A_MSIL1C_x.zip"), None);
        assert_eq!(collection_of("/a/b/2017/1/01/x"), None);
        assert_eq!(collection_of(""), None);
    }

    #[test]
    fn file_name_is_the_last_component() {
        assert_eq!(file_name("/a/b/c.SAFE/"), "c.SAFE");
        assert_eq!(file_name("/a/b/c.zip"), "c.zip");
        assert_eq!(file_name("c"), "c");
    }
}
