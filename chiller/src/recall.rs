//! How the staging server brings files back from tape: the site's own recall tool, a read
//! through the file (a transparent recall on an HSM file system), or a simulated tape library.

use std::fs;
use std::io;
use std::num::NonZeroU64;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

use catalog_index::State;
use indicatif::HumanBytes;
use tokio_util::sync::CancellationToken;

/// How files are recalled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recaller {
    /// Model a tape library.
    Simulate(Simulation),
    /// Read each file through once, which recalls it on an HSM file system.
    Read,
    /// Run the site's recall tool on a list file of each batch.
    Command(RecallCommand),
}

/// A simulated tape library: a file on tape waits the mount delay and its size divided by the
/// drive rate, then becomes resident (its blocks allocated, its contents unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Simulation {
    /// The wait before each file on tape (the tape mount).
    pub mount_delay: Duration,
    /// Bytes per second of the simulated drive.
    pub drive_rate: NonZeroU64,
    /// Bytes the file system keeps free; a file whose allocation would leave less fails
    /// instead.
    pub reserve: u64,
}

/// The site's recall tool: a shell command in which `{list}` names the batch's list file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecallCommand(String);

impl RecallCommand {
    /// Takes a command that names the batch's list file as `{list}`.
    pub fn new(line: &str) -> anyhow::Result<RecallCommand> {
        if !line.contains("{list}") {
            anyhow::bail!(
                "--recall-command must name the batch's list file as {{list}}, e.g. \"dsmrecall -filelist={{list}}\""
            );
        }
        Ok(RecallCommand(line.to_string()))
    }
}

/// The free space simulate mode leaves by default: 1 GiB.
pub const DEFAULT_RESERVE: u64 = 1 << 30;

/// The outcome of a recall the server's shutdown cut short; never reported, the job resumes.
const STOPPED: &str = "the server stopped";

/// What a recall tool printed, kept to this many bytes (its end, where errors are).
const OUTPUT_KEPT: usize = 16 << 10;

/// Whether a file (or product directory) is already on disk, from `stat` alone.
pub fn is_resident(path: &Path) -> bool {
    catalog_index::crawl::usage(path)
        .is_ok_and(|(size, blocks)| State::from_blocks(size, blocks) == State::Disk)
}

/// Opens `path`, absolute and under one of `roots`, beneath its root (the longest that holds
/// it): no `..`, and no symbolic link followed on the way or at the end (`openat2` with
/// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, or a walk with `O_NOFOLLOW` per component where the
/// kernel lacks it). A link met fails with an error that says so, never an escape.
pub fn open_beneath(roots: &[PathBuf], path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    let (root, relative) = roots
        .iter()
        .filter_map(|root| Some((root, path.strip_prefix(root).ok()?)))
        .max_by_key(|(root, _)| root.as_os_str().len())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} is outside the served roots", path.display()),
            )
        })?;
    if relative.as_os_str().is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is a root, no product", path.display()),
        ));
    }
    let flags = flags | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let dir = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let opened = match rustix::fs::openat2(
        &dir,
        relative,
        flags,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
    ) {
        Err(rustix::io::Errno::NOSYS) => {
            open_walking(dir, relative, flags).map_err(io::Error::from)
        }
        opened => opened.map_err(io::Error::from),
    }
    .and_then(|fd| {
        // O_PATH | O_NOFOLLOW opens a link itself rather than failing.
        if FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) == FileType::Symlink {
            return Err(io::Error::from(rustix::io::Errno::LOOP));
        }
        Ok(fd)
    });
    opened.map_err(|error| match error.raw_os_error() {
        Some(code) if code == rustix::io::Errno::LOOP.raw_os_error() => io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link or passes through one, which is not followed",
                path.display()
            ),
        ),
        Some(code) if code == rustix::io::Errno::XDEV.raw_os_error() => io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} leads outside the served roots", path.display()),
        ),
        _ => error,
    })
}

/// [`open_beneath`] for kernels without `openat2`: one component at a time, none a link.
fn open_walking(mut dir: OwnedFd, relative: &Path, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    let mut parts = relative.components().peekable();
    while let Some(part) = parts.next() {
        let std::path::Component::Normal(name) = part else {
            return Err(rustix::io::Errno::XDEV);
        };
        if parts.peek().is_none() {
            return rustix::fs::openat(&dir, name, flags, Mode::empty());
        }
        dir = rustix::fs::openat(
            &dir,
            name,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
    }
    Err(rustix::io::Errno::INVAL)
}

/// The regular files of a product, each opened beneath its root: the file itself, or every
/// file below the directory. A symbolic link anywhere is an error naming it: links are not
/// followed, so that nothing outside the roots is touched.
pub fn product_files(roots: &[PathBuf], path: &Path) -> io::Result<Vec<PathBuf>> {
    let top = open_beneath(roots, path, OFlags::RDONLY)?;
    if FileType::from_raw_mode(rustix::fs::fstat(&top)?.st_mode) != FileType::Directory {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut dirs = vec![(top, path.to_path_buf())];
    while let Some((fd, dir)) = dirs.pop() {
        for entry in rustix::fs::Dir::read_from(&fd)? {
            let entry = entry?;
            let name = entry.file_name();
            if name == c"." || name == c".." {
                continue;
            }
            let stat = rustix::fs::statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
            let name = std::ffi::OsStr::from_bytes(name.to_bytes());
            match FileType::from_raw_mode(stat.st_mode) {
                FileType::Directory => {
                    let sub = rustix::fs::openat(
                        &fd,
                        name,
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    )?;
                    dirs.push((sub, dir.join(name)));
                }
                FileType::RegularFile => files.push(dir.join(name)),
                FileType::Symlink => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "{} holds a symbolic link, which is not followed: {}",
                            path.display(),
                            dir.join(name).display()
                        ),
                    ))
                }
                _ => {}
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Whether a file or product, opened beneath its root, is on disk: its files' sizes and blocks
/// from `fstat`. An error (a link, a vanished file) answers no, and the recall reports it.
pub fn resident_beneath(roots: &[PathBuf], path: &Path) -> bool {
    let usage = || -> io::Result<(u64, u64)> {
        let (mut size, mut blocks) = (0, 0);
        for file in product_files(roots, path)? {
            let stat = rustix::fs::fstat(open_beneath(roots, &file, OFlags::PATH)?)?;
            size += stat.st_size as u64;
            blocks += stat.st_blocks as u64;
        }
        Ok((size, blocks))
    };
    usage().is_ok_and(|(size, blocks)| State::from_blocks(size, blocks) == State::Disk)
}

impl Recaller {
    /// Recalls a batch of paths, in the order given (sorted by path, as tape order would have
    /// them), telling `report` each path's outcome as soon as it is known. Answers the
    /// output of the recall command, in that mode.
    /// Every path is opened beneath its root in `roots`, following no link; the recall command
    /// gets only the paths that pass that check just before it runs. Once `stop` is cancelled,
    /// no further file is recalled, and the outcome of the one being recalled is not told.
    pub async fn recall(
        &self,
        roots: &[PathBuf],
        batch: &[String],
        report: &mut (dyn FnMut(&str, Result<(), String>) + Send),
        spawned: &mut (dyn FnMut(Option<Spawned>) + Send),
        stop: &CancellationToken,
    ) -> Option<String> {
        match self {
            Recaller::Command(command) => {
                let checked = {
                    let (roots, batch) = (roots.to_vec(), batch.to_vec());
                    tokio::task::spawn_blocking(move || {
                        batch
                            .into_iter()
                            .map(|path| {
                                let check = product_files(&roots, Path::new(&path))
                                    .map(drop)
                                    .map_err(|e| format!("not recalled: {e}"));
                                (path, check)
                            })
                            .collect::<Vec<_>>()
                    })
                    .await
                    .unwrap_or_default()
                };
                let mut good = Vec::new();
                for (path, check) in checked {
                    match check {
                        Ok(()) => good.push(path),
                        Err(error) => report(&path, Err(error)),
                    }
                }
                if good.is_empty() {
                    return None;
                }
                let (outcome, output) = command.run(&good, spawned).await;
                for path in &good {
                    report(path, outcome.clone());
                }
                Some(output)
            }
            Recaller::Simulate(simulation) => {
                FileByFile::Simulate(simulation)
                    .recall(roots, batch, report, stop)
                    .await;
                None
            }
            Recaller::Read => {
                FileByFile::Read.recall(roots, batch, report, stop).await;
                None
            }
        }
    }
}

/// The modes that recall one file after another.
#[derive(Clone, Copy)]
enum FileByFile<'a> {
    Simulate(&'a Simulation),
    Read,
}

impl FileByFile<'_> {
    /// Recalls a batch file by file (see [`Recaller::recall`]).
    async fn recall(
        self,
        roots: &[PathBuf],
        batch: &[String],
        report: &mut (dyn FnMut(&str, Result<(), String>) + Send),
        stop: &CancellationToken,
    ) {
        for path in batch {
            let outcome = self.recall_one(roots, Path::new(path), stop).await;
            if stop.is_cancelled() {
                break;
            }
            report(path, outcome);
        }
    }

    /// Recalls one file or product directory, each file opened beneath its root.
    async fn recall_one(
        self,
        roots: &[PathBuf],
        path: &Path,
        stop: &CancellationToken,
    ) -> Result<(), String> {
        let files = {
            let (roots, path) = (roots.to_vec(), path.to_path_buf());
            tokio::task::spawn_blocking(move || product_files(&roots, &path))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?
        };
        for file in files {
            let roots = roots.to_vec();
            let size = open_beneath(&roots, &file, OFlags::PATH)
                .and_then(|fd| Ok(rustix::fs::fstat(fd)?))
                .map_err(|e| e.to_string())?;
            let (size, blocks) = (size.st_size as u64, size.st_blocks as u64);
            if State::from_blocks(size, blocks) == State::Disk {
                continue;
            }
            let outcome = match self {
                FileByFile::Simulate(&Simulation {
                    mount_delay,
                    drive_rate,
                    reserve,
                }) => {
                    let transfer = Duration::from_secs_f64(size as f64 / drive_rate.get() as f64);
                    tokio::select! {
                        () = tokio::time::sleep(mount_delay + transfer) => {}
                        () = stop.cancelled() => return Err(STOPPED.into()),
                    }
                    tokio::task::spawn_blocking(move || make_resident(&roots, &file, reserve)).await
                }
                FileByFile::Read => {
                    let stop = stop.clone();
                    tokio::task::spawn_blocking(move || read_through(&roots, &file, &stop)).await
                }
            };
            outcome.map_err(|e| e.to_string())??;
        }
        Ok(())
    }
}

impl RecallCommand {
    /// Runs the recall command on a list file of the batch, in a process group of its own
    /// (told to `spawned` while it runs, so that it can be ended with the server or after a
    /// crash); every file shares its outcome.
    async fn run(
        &self,
        batch: &[String],
        spawned: &mut (dyn FnMut(Option<Spawned>) + Send),
    ) -> (Result<(), String>, String) {
        let list = match write_list(batch) {
            Ok(list) => list,
            Err(error) => {
                let message = format!("cannot write the batch list: {error}");
                return (Err(message.clone()), message);
            }
        };
        let list_path = list.path().to_string_lossy().into_owned();
        let line = self.0.replace("{list}", &shell_quote(&list_path));
        // Noted before the start, so that a server killed at any moment leaves the list file
        // by which the next one finds the command.
        spawned(Some(Spawned {
            pgid: 0,
            list: list_path.clone(),
        }));
        let child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&line)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .spawn();
        let output = match child {
            Ok(child) => {
                if let Some(pid) = child.id() {
                    spawned(Some(Spawned {
                        pgid: pid as i32,
                        list: list_path,
                    }));
                }
                let output = child.wait_with_output().await;
                spawned(None);
                output
            }
            Err(error) => {
                spawned(None);
                Err(error)
            }
        };
        match output {
            Ok(output) => {
                let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
                text.push_str(&String::from_utf8_lossy(&output.stderr));
                let text = format!("{line}: {}\n{}", output.status, keep_end(&text));
                if output.status.success() {
                    (Ok(()), text)
                } else {
                    (
                        Err(format!("the recall command failed ({})", output.status)),
                        text,
                    )
                }
            }
            Err(error) => {
                let message = format!("cannot run `{line}`: {error}");
                (Err(message.clone()), message)
            }
        }
    }
}

/// A running recall command: its process group, and its batch's list file, which its leader's
/// command line names (how a later server knows the group is still that command).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Spawned {
    /// The process group, whose id is the leader's (`sh`) process id.
    pub pgid: i32,
    /// The batch's list file.
    pub list: String,
}

impl Spawned {
    /// The process group still running this recall command, if any: the noted group if its
    /// leader's command line still names the list file, else a process whose command line
    /// names it and that leads its own group (a server killed between the start and the note).
    pub fn running_group(&self) -> Option<i32> {
        let names_list = |pid: &str| {
            fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                cmdline
                    .windows(self.list.len())
                    .any(|w| w == self.list.as_bytes())
            })
        };
        if self.pgid > 0 && names_list(&self.pgid.to_string()) {
            return Some(self.pgid);
        }
        fs::read_dir("/proc")
            .ok()?
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
            .filter(|pid| names_list(pid))
            .find_map(|pid| {
                let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                // pid (comm) state ppid pgrp ...
                let group: i32 = stat.rsplit(") ").next()?.split(' ').nth(2)?.parse().ok()?;
                (group.to_string() == pid).then_some(group)
            })
    }

    /// Ends the whole group `pgid`: SIGTERM, then SIGKILL to what is left after `grace`.
    /// Blocks.
    pub fn end_group(pgid: i32, grace: Duration) {
        if pgid <= 0 {
            return; // kill(0) or kill(-1) would signal the server's own group, or everyone.
        }
        // SAFETY: kill only sends signals, to a process group a server on this state directory
        // started.
        let group_exists = || unsafe { libc::kill(-pgid, 0) } == 0;
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + grace;
        while group_exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if group_exists() {
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
}

/// The batch as a list file, one path a line, as `eeadm recall` and `dsmrecall -filelist` take.
fn write_list(batch: &[String]) -> std::io::Result<tempfile::NamedTempFile> {
    use std::io::Write;
    let mut list = tempfile::Builder::new()
        .prefix("chiller-batch")
        .suffix(".txt")
        .tempfile()?;
    for path in batch {
        writeln!(list, "{path}")?;
    }
    list.flush()?;
    Ok(list)
}

/// A word the shell takes literally.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The end of a long text, where a tool's errors are.
fn keep_end(text: &str) -> &str {
    if text.len() <= OUTPUT_KEPT {
        return text;
    }
    let mut start = text.len() - OUTPUT_KEPT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Reads a file through once: on an HSM file system, that recalls it. Stops between two reads
/// once `stop` is cancelled.
fn read_through(roots: &[PathBuf], file: &Path, stop: &CancellationToken) -> Result<(), String> {
    use std::io::Read;
    let failed = |e: io::Error| format!("cannot read it through: {e}");
    let mut file = open_beneath(roots, file, OFlags::RDONLY)
        .map(fs::File::from)
        .map_err(failed)?;
    let mut buffer = vec![0; 1 << 20];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(_) if stop.is_cancelled() => return Err(STOPPED.into()),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(failed(error)),
        }
    }
}

/// Allocates a sparse file's blocks in place, as a recall would: its size and contents (zeros
/// where nothing was written) stay as they were, and `stat` now counts it on disk. Refuses when
/// the allocation would leave less than `reserve` bytes free, rather than filling the disk.
fn make_resident(roots: &[PathBuf], file: &Path, reserve: u64) -> Result<(), String> {
    let handle = open_beneath(roots, file, OFlags::WRONLY)
        .map(fs::File::from)
        .map_err(|e| format!("cannot open for the simulated recall: {e}"))?;
    let meta = handle.metadata().map_err(|e| e.to_string())?;
    let needed = meta
        .len()
        .saturating_sub(std::os::unix::fs::MetadataExt::blocks(&meta) * 512);
    let room = rustix::fs::fstatvfs(&handle)
        .map(|fs| fs.f_bavail.saturating_mul(fs.f_frsize))
        .map_err(|e| e.to_string())?;
    if needed.saturating_add(reserve) > room {
        return Err(format!(
            "not enough free space to simulate its recall: it needs {}, {} are free and {} are kept free (--reserve-bytes)",
            HumanBytes(needed),
            HumanBytes(room),
            HumanBytes(reserve)
        ));
    }
    if meta.len() > 0 {
        rustix::fs::fallocate(&handle, rustix::fs::FallocateFlags::empty(), 0, meta.len())
            .map_err(|e| format!("cannot allocate its blocks: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sparse(path: &Path, size: u64) {
        fs::File::create(path).unwrap().set_len(size).unwrap();
    }

    #[tokio::test]
    async fn simulate_makes_files_resident_with_their_contents() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.zip");
        sparse(&file, 4 << 20);
        let product = dir.path().join("b.SAFE");
        fs::create_dir_all(product.join("GRANULE")).unwrap();
        sparse(&product.join("GRANULE/x.jp2"), 2 << 20);
        fs::write(product.join("manifest.safe"), b"<xml/>").unwrap();
        assert!(!is_resident(&file) && !is_resident(&product));

        let recaller = Recaller::Simulate(Simulation {
            mount_delay: Duration::from_millis(1),
            drive_rate: NonZeroU64::new(1 << 40).unwrap(),
            reserve: 0,
        });
        let batch = [file.clone(), product.clone()].map(|p| p.to_str().unwrap().to_string());
        let mut outcomes = Vec::new();
        recaller
            .recall(
                &[dir.path().to_path_buf()],
                &batch,
                &mut |path, outcome| outcomes.push((path.to_string(), outcome)),
                &mut |_| {},
                &CancellationToken::new(),
            )
            .await;
        assert_eq!(
            outcomes,
            batch
                .iter()
                .map(|p| (p.clone(), Ok(())))
                .collect::<Vec<_>>()
        );
        assert!(is_resident(&file) && is_resident(&product));
        let mut contents = Vec::new();
        fs::File::open(&file)
            .unwrap()
            .read_to_end(&mut contents)
            .unwrap();
        assert_eq!(contents.len(), 4 << 20);
        assert!(contents.iter().all(|&b| b == 0), "contents unchanged");
        assert_eq!(fs::read(product.join("manifest.safe")).unwrap(), b"<xml/>");
    }

    #[tokio::test]
    async fn the_command_gets_the_batch_list_and_its_output_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("it's a log");
        let command = format!(
            "cat {{list}} > {}; echo recalled",
            shell_quote(log.to_str().unwrap())
        );
        let recaller = Recaller::Command(RecallCommand::new(&command).unwrap());
        let batch = ["a/1", "a/2"].map(|f| {
            let file = dir.path().join(f);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(&file, b"x").unwrap();
            file.to_str().unwrap().to_string()
        });
        let roots = [dir.path().to_path_buf()];
        let mut outcomes = Vec::new();
        let output = recaller
            .recall(
                &roots,
                &batch,
                &mut |_, outcome| outcomes.push(outcome),
                &mut |_| {},
                &CancellationToken::new(),
            )
            .await
            .unwrap();
        assert_eq!(outcomes, [Ok(()), Ok(())]);
        assert_eq!(
            fs::read_to_string(&log).unwrap(),
            format!("{}\n{}\n", batch[0], batch[1])
        );
        assert!(output.ends_with("exit status: 0\nrecalled\n"), "{output}");

        let failing =
            Recaller::Command(RecallCommand::new("echo no drive >&2; exit 3 # {list}").unwrap());
        let mut outcomes = Vec::new();
        let output = failing
            .recall(
                &roots,
                &batch[..1],
                &mut |_, outcome| outcomes.push(outcome),
                &mut |_| {},
                &CancellationToken::new(),
            )
            .await
            .unwrap();
        assert_eq!(
            outcomes,
            [Err("the recall command failed (exit status: 3)".to_string())]
        );
        assert!(output.contains("no drive"), "{output}");
    }

    #[test]
    fn files_are_opened_beneath_their_root_through_no_link() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("a")).unwrap();
        fs::write(root.join("a/f.zip"), b"x").unwrap();
        fs::write(dir.path().join("outside.zip"), b"secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.zip"), root.join("link.zip")).unwrap();
        std::os::unix::fs::symlink(root.join("a"), root.join("dirlink")).unwrap();
        let roots = [root.clone()];
        for flags in [OFlags::RDONLY, OFlags::PATH, OFlags::WRONLY] {
            assert!(open_beneath(&roots, &root.join("a/f.zip"), flags).is_ok());
            for bad in ["link.zip", "dirlink/f.zip"] {
                let error = open_beneath(&roots, &root.join(bad), flags).unwrap_err();
                assert!(
                    error.to_string().ends_with(
                        "is a symbolic link or passes through one, which is not followed"
                    ),
                    "{bad}: {error}"
                );
                // The walk for kernels without openat2 refuses them too.
                let top = rustix::fs::open(&root, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())
                    .unwrap();
                let walked =
                    open_walking(top, Path::new(bad), flags | OFlags::NOFOLLOW).and_then(|fd| {
                        let kind = FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode);
                        if kind == FileType::Symlink {
                            return Err(rustix::io::Errno::LOOP);
                        }
                        Ok(fd)
                    });
                assert!(walked.is_err(), "{bad} {flags:?}");
            }
        }
        let error =
            open_beneath(&roots, &dir.path().join("outside.zip"), OFlags::RDONLY).unwrap_err();
        assert!(error.to_string().ends_with("is outside the served roots"));
        assert_eq!(fs::read(dir.path().join("outside.zip")).unwrap(), b"secret");
        assert_eq!(
            product_files(&roots, &root.join("a")).unwrap(),
            [root.join("a/f.zip")]
        );
        assert!(product_files(&roots, &root)
            .unwrap_err()
            .to_string()
            .ends_with("is a root, no product"));
    }

    #[tokio::test]
    async fn a_stop_ends_a_simulated_recall_untold() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.zip");
        sparse(&file, 1 << 20);
        let recaller = Recaller::Simulate(Simulation {
            mount_delay: Duration::from_secs(60),
            drive_rate: NonZeroU64::new(1 << 30).unwrap(),
            reserve: 0,
        });
        let stop = CancellationToken::new();
        let stopping = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            stopping.cancel();
        });
        let started = std::time::Instant::now();
        let mut outcomes = Vec::new();
        let batch = [file.to_str().unwrap().to_string()];
        recaller
            .recall(
                &[dir.path().to_path_buf()],
                &batch,
                &mut |_, outcome| outcomes.push(outcome),
                &mut |_| {},
                &stop,
            )
            .await;
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(outcomes.is_empty(), "{outcomes:?}");
        assert!(!is_resident(&file));
    }

    #[test]
    fn a_command_without_its_list_is_refused() {
        let error = RecallCommand::new("eeadm recall").unwrap_err().to_string();
        assert!(error.contains("{list}"), "{error}");
        assert_eq!(keep_end(&"é".repeat(OUTPUT_KEPT)).len() % 2, 0);
    }
}
