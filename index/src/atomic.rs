//! Files written whole or not at all: into a temporary file beside the target, synced, then
//! renamed over it, so that a reader (or a crash) sees the old content or the new, never part.

use std::fs::Permissions;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// A file being written atomically. Write to it, then [`AtomicFile::commit`]; dropped without
/// a commit, it leaves the target as it was and removes the temporary file.
///
/// Errors are the operating system's own, so that callers name the target in their words
/// (and see the kind: [`io::ErrorKind::AlreadyExists`] from [`AtomicFile::commit_new`]).
pub struct AtomicFile {
    temporary: BufWriter<Unnamed>,
    path: PathBuf,
}

/// A temporary file written without its temporary name in errors (tempfile adds it to every
/// write error): the caller names the target.
struct Unnamed(NamedTempFile);

impl Write for Unnamed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.as_file_mut().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.as_file_mut().flush()
    }
}

impl AtomicFile {
    /// Starts writing `path`, in a temporary file in the same directory, with the permissions
    /// `File::create` would give it.
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        let dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        // Mode 0666 less the umask, as `File::create` gives, rather than tempfile's 0600: a
        // file written by root for others to read stays readable.
        let temporary = tempfile::Builder::new()
            .permissions(Permissions::from_mode(0o666))
            .tempfile_in(dir)?;
        Ok(AtomicFile {
            temporary: BufWriter::with_capacity(1 << 16, Unnamed(temporary)),
            path: path.to_path_buf(),
        })
    }

    /// The file this writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Syncs what was written and puts it in place of the target, replacing any file there.
    pub fn commit(self) -> io::Result<()> {
        let path = self.path.clone();
        self.synced()?.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Like [`AtomicFile::commit`], but fails with [`io::ErrorKind::AlreadyExists`] instead of
    /// replacing a file already at the target.
    pub fn commit_new(self) -> io::Result<()> {
        let path = self.path.clone();
        self.synced()?
            .persist_noclobber(path)
            .map_err(|e| e.error)?;
        Ok(())
    }

    fn synced(self) -> io::Result<NamedTempFile> {
        let Unnamed(temporary) = self.temporary.into_inner().map_err(|e| e.into_error())?;
        temporary.as_file().sync_all()?;
        Ok(temporary)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.temporary.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.temporary.flush()
    }
}

/// Writes `data` to `path` atomically and durably.
pub fn write_file(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(data)?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole_or_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_file(&path, b"first").unwrap();
        write_file(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let mut unfinished = AtomicFile::create(&path).unwrap();
        unfinished.write_all(b"never committed").unwrap();
        drop(unfinished);
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let mut again = AtomicFile::create(&path).unwrap();
        again.write_all(b"third").unwrap();
        let error = again.commit_new().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "temporary files left: {names:?}");
    }

    #[test]
    fn files_get_the_permissions_of_a_created_file() {
        let dir = tempfile::tempdir().unwrap();
        let (atomic, created) = (dir.path().join("atomic"), dir.path().join("created"));
        write_file(&atomic, b"x").unwrap();
        std::fs::write(&created, b"x").unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&atomic), mode(&created));
    }

    #[test]
    fn errors_are_the_systems_own() {
        let missing = Path::new("/nonexistent-catalog-dir/file");
        let error = write_file(missing, b"x").err().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }
}
