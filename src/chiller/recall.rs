//! How the staging server brings files back from tape.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use catalog_index::State;

/// How files are recalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RecallMode {
    /// Model a tape library: a file on tape waits the mount delay and its size divided by the
    /// drive rate, then becomes resident (its blocks allocated, its contents unchanged).
    Simulate,
    /// Read each file through once, which recalls it on an HSM file system.
    Read,
    /// Run the site's recall tool on a list file of the batch (`--recall-command`).
    Command,
}

/// A configured recall.
#[derive(Debug, Clone)]
pub struct Recaller {
    /// The mode.
    pub mode: RecallMode,
    /// For [`RecallMode::Command`]: a shell command in which `{list}` names the list file.
    pub command: Option<String>,
    /// For [`RecallMode::Simulate`]: the wait before each file on tape.
    pub mount_delay: Duration,
    /// For [`RecallMode::Simulate`]: bytes per second of the simulated drive.
    pub drive_rate: u64,
}

/// Whether a file (or product directory) is already on disk, from `stat` alone.
pub fn is_resident(path: &Path) -> bool {
    catalog_index::crawl::usage(path)
        .is_ok_and(|(size, blocks)| State::from_blocks(size, blocks) == State::Disk)
}

/// The regular files of a product: the file itself, or every file below the directory.
fn files_of(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !fs::metadata(path)?.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                dirs.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    Ok(files)
}

impl Recaller {
    /// Recalls a batch of paths, sorted by path as tape order would have them; answers each
    /// path's outcome, and for the command mode the command's output.
    pub async fn recall(&self, paths: &[String]) -> (Vec<Result<(), String>>, Option<String>) {
        match self.mode {
            RecallMode::Command => self.run_command(paths).await,
            RecallMode::Simulate | RecallMode::Read => {
                let mut outcomes = Vec::with_capacity(paths.len());
                for path in paths {
                    outcomes.push(self.recall_one(path).await);
                }
                (outcomes, None)
            }
        }
    }

    /// Recalls one path with the simulate or read mode.
    pub async fn recall_one(&self, path: &str) -> Result<(), String> {
        let path = PathBuf::from(path);
        if is_resident(&path) {
            return Ok(());
        }
        let files = files_of(&path).map_err(|e| e.to_string())?;
        for file in files {
            match self.mode {
                RecallMode::Simulate => {
                    let size = fs::metadata(&file).map_err(|e| e.to_string())?.len();
                    let transfer =
                        Duration::from_secs_f64(size as f64 / self.drive_rate.max(1) as f64);
                    tokio::time::sleep(self.mount_delay + transfer).await;
                    tokio::task::spawn_blocking(move || allocate(&file))
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| e.to_string())?;
                }
                RecallMode::Read => {
                    tokio::task::spawn_blocking(move || {
                        std::io::copy(&mut fs::File::open(&file)?, &mut std::io::sink())
                    })
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                }
                RecallMode::Command => unreachable!("the command mode recalls whole batches"),
            }
        }
        Ok(())
    }

    async fn run_command(&self, paths: &[String]) -> (Vec<Result<(), String>>, Option<String>) {
        let fail = |message: String| {
            (
                paths.iter().map(|_| Err(message.clone())).collect(),
                Some(message.clone()),
            )
        };
        let Some(command) = &self.command else {
            return fail("no --recall-command given".into());
        };
        let list = match tempfile::NamedTempFile::new() {
            Ok(list) => list,
            Err(error) => return fail(format!("cannot write the batch list: {error}")),
        };
        let text: String = paths.iter().flat_map(|p| [p.as_str(), "\n"]).collect();
        if let Err(error) = fs::write(list.path(), text) {
            return fail(format!("cannot write the batch list: {error}"));
        }
        let line = command.replace("{list}", &list.path().to_string_lossy());
        let output = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&line)
            .output()
            .await;
        match output {
            Ok(output) => {
                let text = format!(
                    "{line}: {}; {}{}",
                    output.status,
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
                if output.status.success() {
                    (paths.iter().map(|_| Ok(())).collect(), Some(text))
                } else {
                    fail(text)
                }
            }
            Err(error) => fail(format!("cannot run `{line}`: {error}")),
        }
    }
}

/// Allocates a sparse file's blocks in place: its size and contents (zeros where nothing was
/// written) stay as they were, and `stat` now counts it on disk.
fn allocate(file: &Path) -> std::io::Result<()> {
    let handle = fs::OpenOptions::new().write(true).open(file)?;
    let size = handle.metadata()?.len();
    if size > 0 {
        rustix::fs::fallocate(&handle, rustix::fs::FallocateFlags::empty(), 0, size)?;
    }
    Ok(())
}
