//! The index directory: generations of tantivy indexes behind an atomically switched link.
//!
//! `DIR/current` is a symbolic link to `DIR/gen-<n>`, a complete tantivy index. An incremental
//! rebuild commits into the current generation (tantivy commits are atomic); a full rebuild
//! writes `DIR/gen-<n>.tmp`, renames it and swaps the link, so readers see the old or the new
//! index, never a mix. `DIR/build.lock` keeps two rebuilds apart.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::crawl::CrawlErrors;
use crate::error::{CatalogError, Result};
use crate::time::parse_rfc3339;

const CURRENT: &str = "current";
const LOCK: &str = "build.lock";
const GENERATION_PREFIX: &str = "gen-";
const STAGING_SUFFIX: &str = ".tmp";

/// Facts about the last build, stored atomically with the index commit it describes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildInfo {
    /// Schema version of the index.
    pub schema_version: u32,
    /// When the build finished, RFC 3339 UTC.
    pub built_at: String,
    /// How long the build took.
    pub seconds: f64,
    /// Files indexed per root (or per list), for the shrink check of the next build.
    pub roots: Vec<RootCount>,
    /// Problems met and skipped.
    pub errors: CrawlErrors,
    /// Malformed lines skipped in a list.
    #[serde(default)]
    pub malformed_lines: u64,
    /// Documents in the index.
    pub documents: u64,
    /// When each collection (the EODC layout's collection directory) was last crawled,
    /// updated and re-`stat`ed, by name.
    #[serde(default)]
    pub collections: std::collections::BTreeMap<String, Freshness>,
    /// The file, inside the generation, holding the directory stamps of the last crawl, which
    /// let the next one skip directories that did not change; `None` when there are none.
    #[serde(default)]
    pub dir_states: Option<String>,
}

impl BuildInfo {
    /// When the whole index was last brought up to date: the oldest of its roots' last crawls
    /// (an `--update` refreshes part of a root only). Indexes built before freshness was
    /// recorded answer their build time.
    pub fn crawled_at(&self) -> Option<time::OffsetDateTime> {
        let oldest = self
            .roots
            .iter()
            .map(|root| root.freshness.crawled_at.as_deref().and_then(parse_rfc3339))
            .min()
            .flatten();
        oldest.or_else(|| parse_rfc3339(&self.built_at))
    }

    /// What the index records of one root (or `list:FILE`).
    pub fn root(&self, root: &str) -> Option<&RootCount> {
        self.roots.iter().find(|r| r.root == root)
    }

    /// Seconds since [`BuildInfo::crawled_at`], at `now`.
    pub fn age_seconds(&self, now: time::OffsetDateTime) -> Option<f64> {
        self.crawled_at()
            .map(|crawled| (now - crawled).as_seconds_f64().max(0.0))
    }
}

/// When part of the index was last refreshed, each an RFC 3339 UTC time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freshness {
    /// The last crawl or list build that covered it whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crawled_at: Option<String>,
    /// The last `--update` that refreshed part of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// The last `--restat` census, which `stat`s every file again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restat_at: Option<String>,
}

/// The number of files indexed from one root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootCount {
    /// A crawled root directory, or `list:FILE` for a policy-scan list.
    pub root: String,
    /// Files indexed from it.
    pub files: u64,
    /// When it was last crawled, updated and re-`stat`ed.
    #[serde(default, flatten)]
    pub freshness: Freshness,
}

/// An index directory.
#[derive(Debug, Clone)]
pub struct IndexDir {
    path: PathBuf,
}

/// Held while a rebuild runs; dropping it releases the lock (so does the process dying).
#[derive(Debug)]
pub struct BuildLock {
    _file: File,
}

impl IndexDir {
    /// An index directory at `path` (it need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        IndexDir { path: path.into() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The generation readers should open, or `None` when no index was built yet.
    pub fn current(&self) -> Option<PathBuf> {
        let target = fs::read_link(self.path.join(CURRENT)).ok()?;
        Some(self.path.join(target))
    }

    /// Takes the rebuild lock without waiting: [`CatalogError::Busy`] when another holds it.
    pub fn lock(&self) -> Result<BuildLock> {
        fs::create_dir_all(&self.path).map_err(CatalogError::io(format!(
            "cannot create index directory {}",
            self.path.display()
        )))?;
        let path = self.path.join(LOCK);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(CatalogError::io(format!("cannot open {}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(BuildLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(CatalogError::Busy(self.path.clone())),
            Err(fs::TryLockError::Error(source)) => Err(CatalogError::Io {
                context: format!("cannot lock {}", path.display()),
                source,
            }),
        }
    }

    /// Removes what killed builds left behind and generations no longer current. Call it only
    /// while holding the lock.
    pub fn remove_stale(&self, _lock: &BuildLock) -> Result<()> {
        let current = self.current();
        let entries = fs::read_dir(&self.path).map_err(CatalogError::io(format!(
            "cannot list {}",
            self.path.display()
        )))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let is_generation = entry
                .file_name()
                .to_str()
                .is_some_and(|name| name.starts_with(GENERATION_PREFIX));
            if is_generation && Some(&path) != current.as_ref() {
                fs::remove_dir_all(&path).map_err(CatalogError::io(format!(
                    "cannot remove {}",
                    path.display()
                )))?;
            }
        }
        Ok(())
    }

    /// A new, empty staging directory for a full build.
    pub fn staging(&self, _lock: &BuildLock) -> Result<PathBuf> {
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        let path = self
            .path
            .join(format!("{GENERATION_PREFIX}{stamp}{STAGING_SUFFIX}"));
        fs::create_dir_all(&path).map_err(CatalogError::io(format!(
            "cannot create {}",
            path.display()
        )))?;
        Ok(path)
    }

    /// Makes a finished staging directory the current generation, atomically, and removes the
    /// previous one (readers that still have it open keep reading it).
    pub fn publish(&self, staging: &Path, lock: &BuildLock) -> Result<()> {
        let name = staging
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(STAGING_SUFFIX))
            .expect("staging directories are named by IndexDir::staging");
        let generation = self.path.join(name);
        fs::rename(staging, &generation).map_err(CatalogError::io(format!(
            "cannot rename {}",
            staging.display()
        )))?;
        let link = self.path.join(format!("{CURRENT}{STAGING_SUFFIX}"));
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(name, &link).map_err(CatalogError::io(format!(
            "cannot create {}",
            link.display()
        )))?;
        fs::rename(&link, self.path.join(CURRENT)).map_err(CatalogError::io(format!(
            "cannot switch {}",
            self.path.display()
        )))?;
        File::open(&self.path)
            .and_then(|dir| dir.sync_all())
            .map_err(CatalogError::io(format!(
                "cannot sync {}",
                self.path.display()
            )))?;
        self.remove_stale(lock)
    }
}
