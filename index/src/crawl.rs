//! Walking archive roots in parallel with `readdir` and `stat` only.
//!
//! Product files are never opened: on an HSM file system, reading a migrated file recalls it
//! from tape.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use jwalk::{ClientState, WalkDirGeneric};
use rustix::fd::OwnedFd;
use rustix::fs::{open, statat, AtFlags, Mode, OFlags};
use serde::Serialize;

use crate::record::{FileRecord, State};

/// Why a root cannot be crawled at all.
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    /// The root does not exist.
    #[error("root {0} does not exist")]
    Missing(PathBuf),
    /// The root is not a directory.
    #[error("root {0} is not a directory")]
    NotADirectory(PathBuf),
    /// The root cannot be listed.
    #[error("root {path} cannot be read: {source}")]
    Unreadable {
        /// The root.
        path: PathBuf,
        /// The error listing it.
        source: io::Error,
    },
    /// The root's path is not UTF-8, so nothing below it can be indexed.
    #[error("root {0} is not a UTF-8 path")]
    NotUtf8(PathBuf),
}

/// Problems met during a walk. Each is skipped: the walk goes on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CrawlErrors {
    /// Directories that could not be listed.
    pub unreadable: u64,
    /// Entries that vanished between `readdir` and `stat`.
    pub vanished: u64,
    /// Symbolic links that lead back to one of their own ancestors.
    pub symlink_loops: u64,
    /// Names that are not valid UTF-8.
    pub not_utf8: u64,
    /// Any other I/O error.
    pub other: u64,
}

impl CrawlErrors {
    /// How many problems in all.
    pub fn total(&self) -> u64 {
        self.unreadable + self.vanished + self.symlink_loops + self.not_utf8 + self.other
    }

    /// Adds another count to this one.
    pub fn add(&mut self, other: &CrawlErrors) {
        self.unreadable += other.unreadable;
        self.vanished += other.vanished;
        self.symlink_loops += other.symlink_loops;
        self.not_utf8 += other.not_utf8;
        self.other += other.other;
    }

    fn count(&mut self, error: &jwalk::Error) {
        if error.loop_ancestor().is_some() {
            self.symlink_loops += 1;
            return;
        }
        match error.io_error() {
            Some(io_error) => count_io(self, io_error),
            None => self.other += 1,
        }
    }
}

impl std::fmt::Display for CrawlErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} unreadable, {} vanished, {} symlink loops, {} non-UTF-8 names, {} other",
            self.unreadable, self.vanished, self.symlink_loops, self.not_utf8, self.other
        )
    }
}

/// Whether a directory name is a product that is indexed whole (`.SAFE`, `.SEN3`).
pub fn is_product_dir(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".safe") || lower.ends_with(".sen3")
}

/// What the parallel readers learned of one entry, computed on the walker's threads so that
/// `stat` calls run in parallel.
#[derive(Debug, Default)]
enum Found {
    /// A directory that is walked into.
    #[default]
    Directory,
    /// A file or product directory with its `stat` facts.
    Item {
        size: u64,
        blocks: u64,
        mtime: i64,
        errors: CrawlErrors,
    },
    /// Skipped, counted as this problem.
    Skipped(CrawlErrors),
}

#[derive(Debug, Default)]
struct Walker;

impl ClientState for Walker {
    type ReadDirState = ();
    type DirEntryState = Found;
}

/// Sums the sizes and blocks of everything below a product directory, with `stat` only.
fn product_dir_usage(dir: &Path, size: &mut u64, blocks: &mut u64, errors: &mut CrawlErrors) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => return count_io(errors, &error),
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                count_io(errors, &error);
                continue;
            }
        };
        match entry.metadata() {
            Ok(meta) if meta.is_dir() => product_dir_usage(&entry.path(), size, blocks, errors),
            Ok(meta) => {
                *size += meta.size();
                *blocks += meta.blocks();
            }
            Err(error) => count_io(errors, &error),
        }
    }
}

/// The apparent size and allocated 512-byte blocks of a file, or of every file below a product
/// directory, from `stat` alone: what decides whether it is on disk or on tape.
pub fn usage(path: &Path) -> io::Result<(u64, u64)> {
    let meta = fs::metadata(path)?;
    if !meta.is_dir() {
        return Ok((meta.size(), meta.blocks()));
    }
    let (mut size, mut blocks) = (0, 0);
    product_dir_usage(path, &mut size, &mut blocks, &mut CrawlErrors::default());
    Ok((size, blocks))
}

fn count_io(errors: &mut CrawlErrors, error: &io::Error) {
    if error.raw_os_error() == Some(libc_eloop()) {
        errors.symlink_loops += 1;
        return;
    }
    match error.kind() {
        io::ErrorKind::PermissionDenied => errors.unreadable += 1,
        io::ErrorKind::NotFound => errors.vanished += 1,
        _ => errors.other += 1,
    }
}

/// The `stat` facts the catalog keeps.
struct Stat {
    size: u64,
    blocks: u64,
    mtime: i64,
}

/// `stat` of a directory entry, relative to its open directory when there is one, so that the
/// kernel does not resolve the whole path again for every file.
fn stat_entry(entry: &jwalk::DirEntry<Walker>, dir: Option<&OwnedFd>) -> io::Result<Stat> {
    match dir {
        Some(dir) => {
            let stat = statat(dir, entry.file_name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)?;
            Ok(Stat {
                size: u64::try_from(stat.st_size).unwrap_or(0),
                blocks: u64::try_from(stat.st_blocks).unwrap_or(0),
                mtime: stat.st_mtime,
            })
        }
        None => entry
            .metadata()
            .map_err(|e| {
                e.into_io_error()
                    .unwrap_or_else(|| io::Error::other("walk error"))
            })
            .map(|meta| Stat {
                size: meta.size(),
                blocks: meta.blocks(),
                mtime: meta.mtime(),
            }),
    }
}

/// Looks at one directory entry on a walker thread.
fn inspect(entry: &mut jwalk::DirEntry<Walker>, dir: Option<&OwnedFd>) {
    let Some(name) = entry.file_name.to_str() else {
        entry.read_children = None;
        entry.client_state = Found::Skipped(CrawlErrors {
            not_utf8: 1,
            ..Default::default()
        });
        return;
    };
    if entry.file_type.is_symlink() {
        entry.client_state = inspect_symlink(&entry.path());
        return;
    }
    let is_product_dir = entry.file_type.is_dir() && is_product_dir(name);
    if entry.file_type.is_dir() && !is_product_dir {
        return;
    }
    entry.read_children = None;
    entry.client_state = match stat_entry(entry, dir) {
        Ok(Stat {
            mut size,
            mut blocks,
            mtime,
        }) => {
            let mut errors = CrawlErrors::default();
            if is_product_dir {
                (size, blocks) = (0, 0);
                product_dir_usage(&entry.path(), &mut size, &mut blocks, &mut errors);
            }
            Found::Item {
                size,
                blocks,
                mtime,
                errors,
            }
        }
        Err(error) => {
            let mut errors = CrawlErrors::default();
            count_io(&mut errors, &error);
            Found::Skipped(errors)
        }
    };
}

/// Follows a symbolic link the way `os.walk` and `find` do: a link to a file is indexed with
/// the target's facts, a link to a directory is not descended (so nothing is indexed twice and
/// no loop is walked), a dangling link counts as vanished, and a link that leads back to one
/// of its own ancestors, or to itself, counts as a loop.
fn inspect_symlink(path: &Path) -> Found {
    let mut errors = CrawlErrors::default();
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            let target = fs::canonicalize(path);
            let parent = path.parent().map(fs::canonicalize);
            if let (Ok(target), Some(Ok(parent))) = (target, parent) {
                if parent.starts_with(&target) {
                    errors.symlink_loops += 1;
                    return Found::Skipped(errors);
                }
            }
            Found::Directory
        }
        Ok(meta) => Found::Item {
            size: meta.size(),
            blocks: meta.blocks(),
            mtime: meta.mtime(),
            errors,
        },
        Err(error) if error.raw_os_error() == Some(libc_eloop()) => {
            errors.symlink_loops += 1;
            Found::Skipped(errors)
        }
        Err(error) => {
            count_io(&mut errors, &error);
            Found::Skipped(errors)
        }
    }
}

/// ELOOP, "too many levels of symbolic links", on Linux.
const fn libc_eloop() -> i32 {
    40
}

/// Checks that a root exists, is a directory, can be listed and has a UTF-8 path.
pub fn check_root(root: &Path) -> Result<(), RootError> {
    let meta = fs::metadata(root).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => RootError::Missing(root.to_path_buf()),
        _ => RootError::Unreadable {
            path: root.to_path_buf(),
            source,
        },
    })?;
    if !meta.is_dir() {
        return Err(RootError::NotADirectory(root.to_path_buf()));
    }
    fs::read_dir(root).map_err(|source| RootError::Unreadable {
        path: root.to_path_buf(),
        source,
    })?;
    if root.to_str().is_none() {
        return Err(RootError::NotUtf8(root.to_path_buf()));
    }
    Ok(())
}

/// Walks one root in parallel and hands every file and product directory to `found`, in no
/// particular order. Returns the problems met; a root that cannot be read at all is an error.
pub fn crawl_root(
    root: &Path,
    mut found: impl FnMut(FileRecord),
) -> Result<CrawlErrors, RootError> {
    check_root(root)?;
    let mut errors = CrawlErrors::default();
    let walk = WalkDirGeneric::<Walker>::new(root)
        .follow_links(false)
        .skip_hidden(false)
        .min_depth(1)
        .process_read_dir(|_, dir_path, _, children| {
            let dir = open(
                dir_path,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .ok();
            for child in children.iter_mut().flatten() {
                inspect(child, dir.as_ref());
            }
        });
    for entry in walk {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                errors.count(&error);
                continue;
            }
        };
        match entry.client_state {
            Found::Directory => {
                if let Some(error) = entry.read_children.as_ref().and_then(|c| c.error()) {
                    errors.count(error);
                }
            }
            Found::Skipped(problem) => errors.add(&problem),
            Found::Item {
                size,
                blocks,
                mtime,
                errors: inner,
            } => {
                errors.add(&inner);
                let path = entry.parent_path.join(&entry.file_name);
                let Some(path) = path.to_str() else {
                    errors.not_utf8 += 1;
                    continue;
                };
                found(FileRecord {
                    path: path.to_string(),
                    size: Some(size),
                    mtime: Some(mtime),
                    state: Some(State::from_blocks(size, blocks)),
                });
            }
        }
    }
    Ok(errors)
}
