//! Walking archive roots in parallel with `readdir` and `stat` only.
//!
//! Product files are never opened: on an HSM file system, reading a migrated file recalls it
//! from tape.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{fstat, openat, statat, AtFlags, FileType, Mode, OFlags, RawDir, CWD};
use serde::Serialize;

use crate::dirs::{DirStamp, DirStates};
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

/// Counts an I/O error met on a path by its kind.
pub fn count_io(errors: &mut CrawlErrors, error: &io::Error) {
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

/// Follows a symbolic link the way `os.walk` and `find` do: a link to a file is indexed with
/// the target's facts, a link to a directory is not descended (so nothing is indexed twice and
/// no loop is walked), a dangling link counts as vanished, and a link that leads back to one
/// of its own ancestors, or to itself, counts as a loop.
fn inspect_symlink(path: String, batch: &mut Batch) {
    match fs::metadata(&path) {
        Ok(meta) if meta.is_dir() => {
            let target = fs::canonicalize(&path);
            let parent = Path::new(&path).parent().map(fs::canonicalize);
            if let (Ok(target), Some(Ok(parent))) = (target, parent) {
                if parent.starts_with(&target) {
                    batch.errors.symlink_loops += 1;
                }
            }
        }
        Ok(meta) => batch.push(path, meta.size(), meta.blocks(), meta.mtime()),
        Err(error) => count_io(&mut batch.errors, &error),
    }
}

/// A file or product directory as a crawl would index it, found by its path: symbolic links
/// followed, a product directory summed. A missing path is [`io::ErrorKind::NotFound`]; a
/// directory that is not a product is [`io::ErrorKind::IsADirectory`].
pub fn inspect_path(path: &str) -> io::Result<FileRecord> {
    let meta = fs::metadata(path)?;
    let name = crate::record::file_name(path);
    let (size, blocks) = if meta.is_dir() {
        if !is_product_dir(name) {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{path} is a directory: refresh it with --update DIR"),
            ));
        }
        usage(Path::new(path))?
    } else {
        (meta.size(), meta.blocks())
    };
    Ok(FileRecord {
        path: path.to_string(),
        size: Some(size),
        mtime: Some(meta.mtime()),
        state: Some(State::from_blocks(size, blocks)),
    })
}

/// ELOOP, "too many levels of symbolic links", on Linux.
const fn libc_eloop() -> i32 {
    40
}

/// Checks that a root exists, is a directory, can be listed and has a UTF-8 path, and returns
/// it absolute (without `.` parts or a trailing slash; symbolic links are kept, as users name
/// them): the index records absolute paths, whatever directory a build runs in.
pub fn check_root(root: &Path) -> Result<PathBuf, RootError> {
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
    let absolute = std::path::absolute(root).map_err(|source| RootError::Unreadable {
        path: root.to_path_buf(),
        source,
    })?;
    Ok(absolute.components().collect())
}

/// How a crawl runs.
#[derive(Debug, Clone, Copy)]
pub struct CrawlOptions<'a> {
    /// Directory listings and `stat`s in flight at once; `None` picks by measuring the root
    /// (see [`io_threads_for`]). On a network file system each call is a round trip, so the
    /// crawl's speed follows this rather than the core count.
    pub io_threads: Option<usize>,
    /// The directories of the last crawl: one whose stamp is unchanged is not listed again,
    /// and its files keep their indexed facts.
    pub previous: Option<&'a DirStates>,
    /// List every directory and `stat` every file, whatever the stamps say.
    pub restat: bool,
    /// Directories listed whatever their stamps say.
    pub relist: &'a [String],
}

/// Requests in flight on a file system whose metadata calls are slow. Measured with every
/// metadata call delayed by 1 ms (BENCHMARKS.md): a 20,000-file crawl took 37 s with 2
/// threads, 9.9 s with 8, 3.5 s with 32, 2.3 s with 64 and 1.7 s with 128. 64 keeps most
/// of that gain without asking a shared file server for more.
pub const NETWORK_IO_THREADS: usize = 64;

/// A metadata call slower than this on average is a round trip to a server or a disk, not
/// an answer from the kernel's caches (a warm local `stat` takes about a microsecond).
const SLOW_CALL: Duration = Duration::from_micros(50);

/// The I/O concurrency for crawling `dir`: `asked`, or else one thread per core when its
/// metadata calls answer from memory (more threads only add switching there: a warm local
/// 300,000-file crawl took 2.0 s with 2 threads and 2.2-2.3 s with 32 to 128), and
/// [`NETWORK_IO_THREADS`] when they are slow.
pub fn io_threads_for(dir: &Path, asked: Option<usize>) -> usize {
    if let Some(threads) = asked {
        return threads.max(1);
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    if metadata_call_time(dir) > SLOW_CALL {
        NETWORK_IO_THREADS.max(cores)
    } else {
        cores
    }
}

/// The threads that keep a crawl's metadata calls in flight, as many as
/// [`io_threads_for`] says for `dir`.
pub fn io_pool(dir: &Path, asked: Option<usize>) -> io::Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(io_threads_for(dir, asked))
        .thread_name(|i| format!("crawl-{i}"))
        .build()
        .map_err(io::Error::other)
}

/// The average time of a listing of `dir` and a `stat` of each of its first entries.
fn metadata_call_time(dir: &Path) -> Duration {
    let started = Instant::now();
    let mut calls = 1u32;
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten().take(4) {
            let _ = fs::symlink_metadata(entry.path());
            calls += 1;
        }
    }
    started.elapsed() / calls
}

/// How a crawl met one directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// Listed, and each of its files `stat`ed.
    Listed,
    /// Its stamp matched the last crawl's: not listed; its subdirectories were visited.
    Unchanged,
    /// It could not be opened or listed: what the index holds of it is kept.
    Unreadable,
}

/// One directory as the crawl met it.
#[derive(Debug, Clone)]
pub struct DirVisit {
    /// Its path.
    pub path: String,
    /// Its stamp when it was met, [`DirStamp::RELIST`] when it must be listed next time.
    pub stamp: DirStamp,
    /// What the crawl did with it.
    pub visit: Visit,
}

/// What a crawl hands over as it goes.
#[derive(Debug)]
pub enum Found {
    /// A file or product directory.
    File(FileRecord),
    /// How many directories it has met so far.
    Dirs(u64),
}

/// What a crawl of one root met besides files.
#[derive(Debug, Default)]
pub struct CrawlSummary {
    /// Problems, each skipped.
    pub errors: CrawlErrors,
    /// Every directory visited, in no particular order.
    pub dirs: Vec<DirVisit>,
}

/// Walks one root and hands every file and product directory to `found`, in no particular
/// order, with the count of directories met as it grows. Returns the directories met and the problems; a root that cannot be read at all is
/// an error.
///
/// Each directory is opened once: its stamp, its listing and its files' `stat`s all go through
/// that one descriptor, so the kernel never resolves a whole path again for a file. A
/// directory's files are `stat`ed in chunks on several threads, since on a network file
/// system a large day directory would otherwise cost one round trip after another.
pub fn crawl_root(
    root: &Path,
    options: &CrawlOptions,
    mut found: impl FnMut(Found),
) -> Result<CrawlSummary, RootError> {
    let root = check_root(root)?;
    let root = root.to_str().expect("check_root accepts UTF-8 roots only");
    let mut summary = CrawlSummary::default();
    let pool =
        io_pool(Path::new(root), options.io_threads).map_err(|source| RootError::Unreadable {
            path: PathBuf::from(root),
            source,
        })?;
    let walk = Walk {
        previous: options.previous,
        restat: options.restat,
        relist: options.relist,
        racy_after: racy_after(),
    };
    // Bounded, so that a slow consumer holds the walkers back instead of their findings
    // piling up in memory.
    let (sender, batches) = sync_channel::<Batch>(64);
    std::thread::scope(|threads| {
        threads.spawn(|| {
            let pending = Pending::new(sender, pool.current_num_threads());
            pool.scope(|scope| walk.dir(scope, root.to_string(), &pending));
            pending.flush();
        });
        for batch in batches {
            summary.errors.add(&batch.errors);
            summary.dirs.extend(batch.dirs);
            batch
                .records
                .into_iter()
                .map(Found::File)
                .for_each(&mut found);
            found(Found::Dirs(summary.dirs.len() as u64));
        }
    });
    Ok(summary)
}

/// A directory stamp at or after this instant (nanoseconds since the epoch) may hide a change
/// made in the same tick of a coarse file system clock, so such a directory is listed again
/// next time. One second covers file systems that keep whole seconds.
fn racy_after() -> i64 {
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(now).unwrap_or(i64::MAX) - 1_000_000_000
}

/// Files, directories and problems found by the walkers, handed to the consumer together.
#[derive(Default)]
struct Batch {
    records: Vec<FileRecord>,
    dirs: Vec<DirVisit>,
    errors: CrawlErrors,
}

impl Batch {
    /// Files found before a batch is handed over, so that a huge directory streams.
    const SIZE: usize = 4096;

    fn push(&mut self, path: String, size: u64, blocks: u64, mtime: i64) {
        self.records.push(FileRecord {
            path,
            size: Some(size),
            mtime: Some(mtime),
            state: Some(State::from_blocks(size, blocks)),
        });
    }

    fn is_full(&self) -> bool {
        self.records.len() + self.dirs.len() >= Batch::SIZE
    }

    fn append(&mut self, mut other: Batch) {
        self.records.append(&mut other.records);
        self.dirs.append(&mut other.dirs);
        self.errors.add(&other.errors);
    }
}

/// What the walker threads found and have not handed over yet, one batch per thread: a
/// directory holds a few files on average, and handing each over on its own would wake the
/// consumer once per directory.
struct Pending {
    batches: Vec<Mutex<Batch>>,
    out: SyncSender<Batch>,
}

impl Pending {
    fn new(out: SyncSender<Batch>, threads: usize) -> Pending {
        Pending {
            batches: (0..threads.max(1)).map(|_| Mutex::default()).collect(),
            out,
        }
    }

    /// Adds a directory's findings to this thread's batch, handing the batch over once full.
    fn add(&self, found: Batch) {
        let slot = rayon::current_thread_index().unwrap_or(0) % self.batches.len();
        let mut batch = self.batches[slot]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        batch.append(found);
        if batch.is_full() {
            let full = std::mem::take(&mut *batch);
            drop(batch);
            // Sending fails only once the consumer is gone, when nothing is wanted any more.
            let _ = self.out.send(full);
        }
    }

    /// Hands over what is left, once every walker has finished.
    fn flush(self) {
        for batch in self.batches {
            let _ = self
                .out
                .send(batch.into_inner().unwrap_or_else(PoisonError::into_inner));
        }
    }
}

/// The settings every walker task shares.
struct Walk<'a> {
    previous: Option<&'a DirStates>,
    restat: bool,
    relist: &'a [String],
    racy_after: i64,
}

/// Files of one directory `stat`ed by one task: few, so that a day directory's hundreds of
/// files spread over many threads on a network file system.
const STAT_CHUNK: usize = 8;

/// Bytes of directory entries one `getdents` call may return, as glibc's `readdir` asks.
const LISTING_BUFFER: usize = 32 << 10;

impl<'a> Walk<'a> {
    /// Visits one directory: lists it and `stat`s its files unless its stamp is unchanged,
    /// and walks its subdirectories as further tasks.
    fn dir<'s>(&'s self, scope: &rayon::Scope<'s>, dir: String, pending: &'s Pending)
    where
        'a: 's,
    {
        let mut batch = Batch::default();
        // A directory the last crawl knew costs one `stat` when it has not changed; the
        // listing waits for a changed stamp.
        let known = self.previous.and_then(|previous| previous.get(&dir));
        let mut stamp = None;
        if let Some(known) = known.filter(|_| !self.restat && !self.relist.contains(&dir)) {
            match statat(CWD, dir.as_str(), AtFlags::empty()) {
                Ok(stat) if known.stamp.matches(DirStamp::of(&stat)) => {
                    for child in &known.children {
                        scope.spawn(move |scope| self.dir(scope, child.clone(), pending));
                    }
                    batch.dirs.push(DirVisit {
                        path: dir,
                        stamp: known.stamp,
                        visit: Visit::Unchanged,
                    });
                    return pending.add(batch);
                }
                Ok(stat) => stamp = Some(DirStamp::of(&stat)),
                Err(error) => {
                    let error = io::Error::from(error);
                    count_io(&mut batch.errors, &error);
                    // A directory that is gone takes what the index holds of it along.
                    if error.kind() == io::ErrorKind::NotFound {
                        return pending.add(batch);
                    }
                    return self.unreadable(dir, batch, pending);
                }
            }
        }
        // The stamp is taken before the listing, so that a change made during it shows
        // next time. After `open` a file system client answers `fstat` from what it has.
        let opened = openat(
            CWD,
            dir.as_str(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .and_then(|fd| match stamp {
            Some(stamp) => Ok((stamp, fd)),
            None => Ok((DirStamp::of(&fstat(&fd)?), fd)),
        });
        let (stamp, fd) = match opened {
            Ok(opened) => opened,
            Err(error) => {
                count_io(&mut batch.errors, &error.into());
                return self.unreadable(dir, batch, pending);
            }
        };
        let Some(entries) = self.list(&fd, &mut batch) else {
            return self.unreadable(dir, batch, pending);
        };
        let fd = std::sync::Arc::new(fd);
        let mut files = Vec::new();
        for (name, file_type) in entries {
            let path = child_path(&dir, &name);
            match file_type {
                FileType::Directory if !is_product_dir(&name) => {
                    scope.spawn(move |scope| self.dir(scope, path, pending));
                }
                FileType::Symlink => inspect_symlink(path, &mut batch),
                file_type => files.push((name, path, file_type)),
            }
        }
        let mut chunks = files.chunks(STAT_CHUNK);
        // The first chunk is `stat`ed here: most directories are small.
        let first = chunks.next().map(<[_]>::to_vec);
        for chunk in chunks {
            let chunk = chunk.to_vec();
            let fd = std::sync::Arc::clone(&fd);
            scope.spawn(move |_| {
                let mut batch = Batch::default();
                for (name, path, file_type) in chunk {
                    inspect_item(fd.as_fd(), &name, path, file_type, &mut batch);
                }
                pending.add(batch);
            });
        }
        for (name, path, file_type) in first.into_iter().flatten() {
            inspect_item(fd.as_fd(), &name, path, file_type, &mut batch);
            if batch.is_full() {
                pending.add(std::mem::take(&mut batch));
            }
        }
        let stamp = if stamp.is_racy(self.racy_after) {
            DirStamp::RELIST
        } else {
            stamp
        };
        batch.dirs.push(DirVisit {
            path: dir,
            stamp,
            visit: Visit::Listed,
        });
        pending.add(batch);
    }

    /// The names and types of a directory's entries, `.` and `..` left out; `None` when it
    /// cannot be listed to its end.
    fn list(&self, fd: &OwnedFd, batch: &mut Batch) -> Option<Vec<(String, FileType)>> {
        // One `getdents` call fills the buffer with as many entries as fit: a day directory of
        // hundreds of files is listed in one or two calls, each a round trip on a network
        // file system, where a small buffer growing from a few entries takes a dozen.
        let mut buffer = Vec::with_capacity(LISTING_BUFFER);
        let mut listing = RawDir::new(fd, buffer.spare_capacity_mut());
        let mut entries = Vec::new();
        while let Some(entry) = listing.next() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    count_io(&mut batch.errors, &error.into());
                    return None;
                }
            };
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let Ok(name) = std::str::from_utf8(name) else {
                batch.errors.not_utf8 += 1;
                continue;
            };
            let mut file_type = entry.file_type();
            if file_type == FileType::Unknown {
                // Some file systems leave the type out of the listing.
                match statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(stat) => file_type = FileType::from_raw_mode(stat.st_mode),
                    Err(error) => {
                        count_io(&mut batch.errors, &error.into());
                        continue;
                    }
                }
            }
            entries.push((name.to_string(), file_type));
        }
        Some(entries)
    }

    /// Reports a directory that could not be read, so that what the index holds below it
    /// is kept; its known subdirectories are still visited.
    fn unreadable(&self, dir: String, mut batch: Batch, pending: &Pending) {
        batch.dirs.push(DirVisit {
            path: dir,
            stamp: DirStamp::RELIST,
            visit: Visit::Unreadable,
        });
        pending.add(batch);
    }
}

/// `stat`s a file, or sums a product directory, relative to its open parent directory.
fn inspect_item(dir: BorrowedFd, name: &str, path: String, file_type: FileType, batch: &mut Batch) {
    let stat = match statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => stat,
        Err(error) => return count_io(&mut batch.errors, &error.into()),
    };
    let mtime = stat.st_mtime;
    let (mut size, mut blocks) = (
        u64::try_from(stat.st_size).unwrap_or(0),
        u64::try_from(stat.st_blocks).unwrap_or(0),
    );
    if file_type == FileType::Directory {
        (size, blocks) = (0, 0);
        product_dir_usage(Path::new(&path), &mut size, &mut blocks, &mut batch.errors);
    }
    batch.push(path, size, blocks, mtime);
}

/// A directory's path joined with one of its entries, as `Path::join` would.
fn child_path(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}
