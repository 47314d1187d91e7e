//! How the staging server brings files back from tape: the site's own recall tool, a read
//! through the file (a transparent recall on an HSM file system), or a simulated tape library.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use catalog_index::State;
use indicatif::HumanBytes;

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
    /// For [`RecallMode::Simulate`]: the wait before each file on tape (the tape mount).
    pub mount_delay: Duration,
    /// For [`RecallMode::Simulate`]: bytes per second of the simulated drive.
    pub drive_rate: u64,
    /// For [`RecallMode::Simulate`]: bytes the file system keeps free; a file whose
    /// allocation would leave less fails instead.
    pub reserve: u64,
}

/// The free space simulate mode leaves by default: 1 GiB.
pub const DEFAULT_RESERVE: u64 = 1 << 30;

/// What a recall tool printed, kept to this many bytes (its end, where errors are).
const OUTPUT_KEPT: usize = 16 << 10;

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
    files.sort();
    Ok(files)
}

impl Recaller {
    /// Checks the configuration before any job is taken.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.mode == RecallMode::Command {
            match &self.command {
                None => anyhow::bail!("--recall command needs --recall-command, e.g. \"eeadm recall {{list}}\""),
                Some(command) if !command.contains("{list}") => anyhow::bail!(
                    "--recall-command must name the batch's list file as {{list}}, e.g. \"dsmrecall -filelist={{list}}\""
                ),
                Some(_) => {}
            }
        }
        if self.mode == RecallMode::Simulate && self.drive_rate == 0 {
            anyhow::bail!("--drive-rate must be at least 1 MB/s");
        }
        Ok(())
    }

    /// Recalls a batch of paths, in the order given (sorted by path, as tape order would have
    /// them), telling `report` each path's outcome as soon as it is known. Answers the
    /// output of the recall command, in that mode.
    pub async fn recall(
        &self,
        batch: &[String],
        report: &mut (dyn FnMut(&str, Result<(), String>) + Send),
    ) -> Option<String> {
        match self.mode {
            RecallMode::Command => {
                let (outcome, output) = self.run_command(batch).await;
                for path in batch {
                    report(path, outcome.clone());
                }
                Some(output)
            }
            RecallMode::Simulate | RecallMode::Read => {
                for path in batch {
                    report(path, self.recall_one(Path::new(path)).await);
                }
                None
            }
        }
    }

    /// Recalls one file or product directory with the simulate or read mode.
    async fn recall_one(&self, path: &Path) -> Result<(), String> {
        let files = files_of(path).map_err(|e| e.to_string())?;
        for file in files {
            if is_resident(&file) {
                continue;
            }
            let outcome = match self.mode {
                RecallMode::Simulate => {
                    let size = fs::metadata(&file).map_err(|e| e.to_string())?.len();
                    let transfer = Duration::from_secs_f64(size as f64 / self.drive_rate as f64);
                    tokio::time::sleep(self.mount_delay + transfer).await;
                    let reserve = self.reserve;
                    tokio::task::spawn_blocking(move || make_resident(&file, reserve)).await
                }
                RecallMode::Read => tokio::task::spawn_blocking(move || read_through(&file)).await,
                RecallMode::Command => unreachable!("the command mode recalls whole batches"),
            };
            outcome.map_err(|e| e.to_string())??;
        }
        Ok(())
    }

    /// Runs the recall command on a list file of the batch; every file shares its outcome.
    async fn run_command(&self, batch: &[String]) -> (Result<(), String>, String) {
        let command = self.command.as_deref().expect("checked by Recaller::check");
        let list = match write_list(batch) {
            Ok(list) => list,
            Err(error) => {
                let message = format!("cannot write the batch list: {error}");
                return (Err(message.clone()), message);
            }
        };
        let line = command.replace("{list}", &shell_quote(&list.path().to_string_lossy()));
        let output = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&line)
            .stdin(std::process::Stdio::null())
            .output()
            .await;
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

/// Reads a file through once: on an HSM file system, that recalls it.
fn read_through(file: &Path) -> Result<(), String> {
    fs::File::open(file)
        .and_then(|mut file| std::io::copy(&mut file, &mut std::io::sink()))
        .map(drop)
        .map_err(|e| format!("cannot read it through: {e}"))
}

/// Allocates a sparse file's blocks in place, as a recall would: its size and contents (zeros
/// where nothing was written) stay as they were, and `stat` now counts it on disk. Refuses when
/// the allocation would leave less than `reserve` bytes free, rather than filling the disk.
fn make_resident(file: &Path, reserve: u64) -> Result<(), String> {
    let handle = fs::OpenOptions::new()
        .write(true)
        .open(file)
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

        let recaller = Recaller {
            mode: RecallMode::Simulate,
            command: None,
            mount_delay: Duration::from_millis(1),
            drive_rate: 1 << 40,
            reserve: 0,
        };
        let batch = [file.clone(), product.clone()].map(|p| p.to_str().unwrap().to_string());
        let mut outcomes = Vec::new();
        recaller
            .recall(&batch, &mut |path, outcome| {
                outcomes.push((path.to_string(), outcome))
            })
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
        let recaller = Recaller {
            mode: RecallMode::Command,
            command: Some(command),
            mount_delay: Duration::ZERO,
            drive_rate: 1,
            reserve: 0,
        };
        recaller.check().unwrap();
        let batch = ["/a/1".to_string(), "/a/2".to_string()];
        let mut outcomes = Vec::new();
        let output = recaller
            .recall(&batch, &mut |_, outcome| outcomes.push(outcome))
            .await
            .unwrap();
        assert_eq!(outcomes, [Ok(()), Ok(())]);
        assert_eq!(fs::read_to_string(&log).unwrap(), "/a/1\n/a/2\n");
        assert!(output.ends_with("exit status: 0\nrecalled\n"), "{output}");

        let failing = Recaller {
            command: Some("echo no drive >&2; exit 3 # {list}".into()),
            ..recaller
        };
        let mut outcomes = Vec::new();
        let output = failing
            .recall(&batch[..1], &mut |_, outcome| outcomes.push(outcome))
            .await
            .unwrap();
        assert_eq!(
            outcomes,
            [Err("the recall command failed (exit status: 3)".to_string())]
        );
        assert!(output.contains("no drive"), "{output}");
    }

    #[test]
    fn a_command_without_its_list_is_refused() {
        let recaller = Recaller {
            mode: RecallMode::Command,
            command: Some("eeadm recall".into()),
            mount_delay: Duration::ZERO,
            drive_rate: 1,
            reserve: 0,
        };
        assert!(recaller.check().unwrap_err().to_string().contains("{list}"));
        assert_eq!(keep_end(&"é".repeat(OUTPUT_KEPT)).len() % 2, 0);
    }
}
