//! The tantivy directories of the catalog: one that only reads, for queries and `serve`, and
//! one for the build whose every file is as readable as the umask allows.
//!
//! Reading never needs write access: [`ReadOnlyDirectory`] takes no lock file and writes
//! nothing, so any user who can read the index's files can query it, and a read-only
//! directory serves too. tantivy's own directory takes its meta lock (creating
//! `.tantivy-meta.lock`, opened for writing) while a reader opens its segments, so that a
//! writer's garbage collection cannot delete them half-way. A reader here takes no lock;
//! instead [`crate::search::Catalog::open`] opens again when a file it was about to open has
//! vanished (a newer commit's clean-up, or a whole generation removed after a full rebuild).
//! Segment files are written once and never changed, so a reader that opened every file of a
//! commit holds that commit, whole.
//!
//! [`ReadOnlyDirectory`] maps the index's files itself, so that it can give back the pages a
//! run has read: tantivy's own directory keeps every page it has touched mapped into the
//! process until the index is closed.
//!
//! tantivy writes `meta.json` and `.managed.json` through a temporary file created with mode
//! 0600, so an index built by root could be read by root only; [`BuildDirectory`] writes them
//! as it writes every segment file, with the permissions the umask gives. It also writes every
//! file a megabyte at a time, so that the page cache holds the new index in large pages (see
//! `WRITE_BUFFER`).

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::ops::Deref;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use memmap2::{Mmap, UncheckedAdvice};
use stable_deref_trait::StableDeref;

use tantivy::directory::error::{
    DeleteError, LockError, OpenDirectoryError, OpenReadError, OpenWriteError,
};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, OwnedBytes, TerminatingWrite,
    WatchCallback, WatchHandle, WritePtr,
};

/// A memory-mapped index directory that only reads: locks are granted without touching the
/// file system, and every write is refused.
#[derive(Debug, Clone)]
pub struct ReadOnlyDirectory {
    inner: MmapDirectory,
    path: PathBuf,
    /// Every file mapped so far, while it is in use.
    mappings: Arc<Mutex<Vec<Weak<Mmap>>>>,
}

/// The bytes of one mapped file, shared by every slice tantivy reads of it.
struct MappedFile(Arc<Mmap>);

impl Deref for MappedFile {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

// SAFETY: the bytes are those of the mapping, which stays at one address while the `Arc` lives,
// however `MappedFile` itself moves.
unsafe impl StableDeref for MappedFile {}

impl ReadOnlyDirectory {
    /// The index directory at `path`, which must exist.
    pub fn open(path: &Path) -> Result<ReadOnlyDirectory, OpenDirectoryError> {
        Ok(ReadOnlyDirectory {
            inner: MmapDirectory::open(path)?,
            path: path.to_path_buf(),
            mappings: Arc::default(),
        })
    }

    /// Gives back the pages of the files mapped here that this process has read: they stay in
    /// the page cache, and a later read maps them again from there. A run that reads the whole
    /// index once, such as a rebuild comparing every path with its list, would otherwise hold
    /// all of it resident: 3.7 GiB of an unchanged rebuild's 4.96 GiB at 1.5×10^8 documents.
    pub fn release_pages(&self) {
        let mappings = self.mappings.lock().unwrap_or_else(PoisonError::into_inner);
        for mapping in mappings.iter().filter_map(Weak::upgrade) {
            // SAFETY: the mapping is a shared, read-only one of a segment file, which is never
            // written once created: a page dropped here reads back the same from the file.
            // Failing is harmless (the pages stay resident), so the result is not needed.
            let _ = unsafe { mapping.unchecked_advise(UncheckedAdvice::DontNeed) };
        }
    }

    /// Maps the file at `path` read-only; an empty file, which cannot be mapped, reads as no
    /// bytes.
    fn map(&self, path: &Path) -> Result<OwnedBytes, OpenReadError> {
        let full_path = self.path.join(path);
        let io_error = |error: io::Error| {
            if error.kind() == io::ErrorKind::NotFound {
                OpenReadError::FileDoesNotExist(full_path.clone())
            } else {
                OpenReadError::wrap_io_error(error, full_path.clone())
            }
        };
        let file = File::open(&full_path).map_err(io_error)?;
        if file.metadata().map_err(io_error)?.len() == 0 {
            return Ok(OwnedBytes::empty());
        }
        // SAFETY: segment files are written once, before any reader opens them, and never
        // changed after, so the mapped bytes do not change under the reader.
        let mapping = Arc::new(unsafe { Mmap::map(&file) }.map_err(io_error)?);
        let mut mappings = self.mappings.lock().unwrap_or_else(PoisonError::into_inner);
        mappings.retain(|m| m.strong_count() > 0);
        mappings.push(Arc::downgrade(&mapping));
        Ok(OwnedBytes::new(MappedFile(mapping)))
    }

    fn refused(&self, what: &Path) -> io::Error {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is opened read-only: cannot write {}",
                self.path.display(),
                what.display()
            ),
        )
    }
}

impl Directory for ReadOnlyDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        Ok(Arc::new(self.map(path)?))
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        Err(DeleteError::IoError {
            io_error: Arc::new(self.refused(path)),
            filepath: path.to_path_buf(),
        })
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        Err(OpenWriteError::wrap_io_error(
            self.refused(path),
            path.to_path_buf(),
        ))
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, _data: &[u8]) -> io::Result<()> {
        Err(self.refused(path))
    }

    fn sync_directory(&self) -> io::Result<()> {
        Ok(())
    }

    /// Grants every lock at once. The only lock a reader asks for is the meta lock, held while
    /// it opens its segments; a vanished file is met by opening again instead.
    fn acquire_lock(&self, _lock: &Lock) -> Result<DirectoryLock, LockError> {
        Ok(DirectoryLock::from(Box::new(())))
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}

/// The write buffer of every index file the build writes. The page cache keeps a file in pages
/// of the size it was written in, and a query maps the pages it reads one fault at a time: a
/// 1.5×10^8-document index written 8 KB at a time (tantivy's buffer) took 28,935 page faults and
/// 142-181 ms for the whole-process tile query, the same files written 1 MB at a time 9,021 and
/// 73-82 ms.
const WRITE_BUFFER: usize = 1 << 20;

/// tantivy's memory-mapped directory for the build, but for the files it replaces atomically
/// (`meta.json`, `.managed.json`): those are created with the permissions the umask gives, as
/// the segment files are, instead of 0600; and every file is written through a buffer of
/// `WRITE_BUFFER` bytes.
#[derive(Debug, Clone)]
pub struct BuildDirectory {
    inner: MmapDirectory,
    path: PathBuf,
}

impl BuildDirectory {
    /// The index directory at `path`, which must exist. The files an earlier build left 0600
    /// (tantivy's own atomic writes) get the permissions of the directory's files, the
    /// directory's own without execute bits, so that an index built before reads as well.
    pub fn open(path: &Path) -> Result<BuildDirectory, OpenDirectoryError> {
        let inner = MmapDirectory::open(path)?;
        if let Ok(dir) = fs::metadata(path) {
            let mode = dir.permissions().mode() & 0o666;
            for name in ["meta.json", ".managed.json"] {
                let file = path.join(name);
                if fs::metadata(&file).is_ok_and(|m| m.permissions().mode() & 0o777 != mode) {
                    let _ = fs::set_permissions(&file, fs::Permissions::from_mode(mode));
                }
            }
        }
        Ok(BuildDirectory {
            inner,
            path: path.to_path_buf(),
        })
    }
}

impl Directory for BuildDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    /// tantivy's writer, writing through a buffer of `WRITE_BUFFER` bytes. tantivy's own
    /// buffer of 8 KB stays outside it: its managed directory replaces that outer buffer with
    /// its own, keeping only what is inside.
    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let file = self
            .inner
            .open_write(path)?
            .into_inner()
            .map_err(|e| OpenWriteError::wrap_io_error(e.into_error(), path.to_path_buf()))?;
        let buffered: Box<dyn TerminatingWrite + Send + Sync> =
            Box::new(BufWriter::with_capacity(WRITE_BUFFER, file));
        Ok(BufWriter::new(buffered))
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    /// Writes a temporary file beside the target, syncs it and renames it over the target.
    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        crate::atomic::write_file(&self.path.join(path), data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.inner.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.inner.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::atomic::Ordering;

    #[test]
    fn writes_are_refused_and_locks_create_nothing() {
        let temp = tempfile::tempdir().unwrap();
        let dir = ReadOnlyDirectory::open(temp.path()).unwrap();
        let _lock = dir.acquire_lock(&tantivy::directory::META_LOCK).unwrap();
        let _writer_lock = dir
            .acquire_lock(&tantivy::directory::INDEX_WRITER_LOCK)
            .unwrap();
        assert!(dir.open_write(Path::new("a")).is_err());
        assert!(dir.atomic_write(Path::new("meta.json"), b"{}").is_err());
        assert!(dir.delete(Path::new("a")).is_err());
        assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_build_makes_a_commit_left_0600_as_readable_as_its_directory() {
        let temp = tempfile::tempdir().unwrap();
        fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o750)).unwrap();
        let meta = temp.path().join("meta.json");
        fs::write(&meta, b"{}").unwrap();
        fs::set_permissions(&meta, fs::Permissions::from_mode(0o600)).unwrap();
        BuildDirectory::open(temp.path()).unwrap();
        let mode = fs::metadata(&meta).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn a_build_writes_its_commit_as_readable_as_its_segments() {
        let temp = tempfile::tempdir().unwrap();
        let dir = BuildDirectory::open(temp.path()).unwrap();
        dir.atomic_write(Path::new("meta.json"), b"{}").unwrap();
        dir.atomic_write(Path::new("meta.json"), b"{\"a\":1}")
            .unwrap();
        assert_eq!(
            dir.atomic_read(Path::new("meta.json")).unwrap(),
            b"{\"a\":1}"
        );
        let mut writer = dir.open_write(Path::new("segment")).unwrap();
        writer.write_all(b"x").unwrap();
        writer.flush().unwrap();
        let mode = |name: &str| {
            fs::metadata(temp.path().join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("meta.json"), mode("segment"));
        assert_ne!(mode("meta.json") & 0o044, 0, "the umask lets others read");
        let names: Vec<_> = fs::read_dir(temp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn index_files_are_written_a_large_buffer_at_a_time_behind_tantivys_own() {
        let temp = tempfile::tempdir().unwrap();
        let dir = BuildDirectory::open(temp.path()).unwrap();
        // As tantivy's managed directory does: it keeps only what is inside the outer buffer.
        let mut inner = dir
            .open_write(Path::new("segment"))
            .unwrap()
            .into_inner()
            .map_err(|_| "the outer buffer is empty")
            .unwrap();
        let written = || fs::metadata(temp.path().join("segment")).unwrap().len();
        let chunk = vec![7u8; 64 * 1024];
        for _ in 0..8 {
            inner.write_all(&chunk).unwrap();
        }
        assert_eq!(written(), 0, "half a megabyte waits in the buffer");
        inner.terminate().unwrap();
        assert_eq!(written(), 8 * 64 * 1024);
    }

    /// Readers opening the catalog again and again while commits land in the current
    /// generation and full rebuilds replace it: every open succeeds, with a whole commit.
    #[test]
    fn readers_open_whole_commits_while_builds_commit_and_switch() {
        use crate::build::{build, BuildOptions, Source};
        use crate::layout::IndexDir;
        use crate::search::Catalog;
        use std::sync::atomic::AtomicBool;

        const FIRST: u64 = 40;
        const BUILDS: u64 = 12;
        let list = |n: u64| {
            Source::List {
            name: "l".into(),
            reader: Box::new(io::Cursor::new(
                (0..n)
                    .map(|i| {
                        format!("/data/{i}/S2A_MSIL1C_20230615T100000_N0509_R029_T31NFF_20230616T000937.zip\n")
                    })
                    .collect::<String>()
                    .into_bytes(),
            )),
        }
        };
        let temp = tempfile::tempdir().unwrap();
        let dir = IndexDir::new(temp.path());
        build(&dir, list(FIRST), &BuildOptions::default(), &|_| {}).unwrap();
        let done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        let mut opened = 0;
                        while !done.load(Ordering::Relaxed) {
                            let catalog = Catalog::open(temp.path()).unwrap();
                            let documents = catalog.documents();
                            assert!((FIRST..=FIRST + BUILDS).contains(&documents));
                            assert_eq!(documents, catalog.info().documents);
                            opened += 1;
                        }
                        opened
                    })
                })
                .collect();
            for i in 1..=BUILDS {
                let options = BuildOptions {
                    full: i % 3 == 0,
                    ..BuildOptions::default()
                };
                build(&dir, list(FIRST + i), &options, &|_| {}).unwrap();
            }
            done.store(true, Ordering::Relaxed);
            for reader in readers {
                assert!(reader.join().unwrap() > 0);
            }
        });
    }
}
