//! From a file list to finished Chiller jobs: the `stat` check before upload, submission in
//! batches recorded in the ledger, and waiting.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use catalog_index::State;
use indicatif::{HumanBytes, HumanDuration, ProgressBar};

use crate::client::{ChillerClient, ClientOptions};
use crate::ledger::{Ledger, LedgerEntry};
use crate::wire::JobStatus;

/// How a list is staged.
#[derive(Debug, Clone, PartialEq)]
pub struct StageOptions {
    /// The Chiller to stage through.
    pub chiller: ClientOptions,
    /// The ledger directory, where each job is recorded.
    pub ledger: PathBuf,
    /// Wait until the jobs are finished, showing progress on a terminal.
    pub wait: bool,
    /// Give up waiting after this long (the jobs go on).
    pub timeout: Option<Duration>,
    /// Stage files already on disk too.
    pub include_on_disk: bool,
    /// Split the list into jobs of at most this many files (else one job).
    pub batch_size: Option<usize>,
}

/// A list after the check before upload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepared {
    /// The paths to stage, in the order listed.
    pub paths: Vec<String>,
    /// Their total size.
    pub bytes: u64,
    /// Listed paths that no longer exist.
    pub missing: Vec<String>,
    /// Listed files already on disk, left out.
    pub on_disk: u64,
    /// The size of each of `paths`, in the same order.
    pub sizes: Vec<u64>,
}

/// Checks each path with one `stat` (a product directory: one per file in it); nothing is
/// opened, since opening a file on tape may recall it. Drops vanished files and, unless
/// `include_on_disk`, files already on disk.
pub fn prepare(paths: impl IntoIterator<Item = String>, include_on_disk: bool) -> Prepared {
    let mut prepared = Prepared::default();
    for path in paths {
        match catalog_index::crawl::usage(Path::new(&path)) {
            Ok((size, blocks)) => {
                if !include_on_disk && State::from_blocks(size, blocks) == State::Disk {
                    prepared.on_disk += 1;
                    continue;
                }
                prepared.bytes += size;
                prepared.sizes.push(size);
                prepared.paths.push(path);
            }
            Err(_) => prepared.missing.push(path),
        }
    }
    prepared
}

impl Prepared {
    /// `12 files (1.2 TiB) to stage; 3 already on disk left out (--all stages them); 1 no longer
    /// exist: /x`.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!(
            "{} files ({}) to stage",
            self.paths.len(),
            HumanBytes(self.bytes)
        )];
        parts.extend(self.left_out());
        parts.join("; ")
    }

    /// Why a list leaves nothing to stage: `nothing to stage: 3 already on disk left out`.
    pub fn nothing_to_stage(&self) -> String {
        let left_out = self.left_out();
        if left_out.is_empty() {
            "nothing to stage: the list is empty".into()
        } else {
            format!("nothing to stage: {}", left_out.join("; "))
        }
    }

    /// The listed files left out, and why.
    fn left_out(&self) -> Vec<String> {
        let mut parts = Vec::new();
        if self.on_disk > 0 {
            parts.push(format!(
                "{} already on disk left out (--all stages them)",
                self.on_disk
            ));
        }
        if !self.missing.is_empty() {
            let shown: Vec<&str> = self.missing.iter().take(5).map(String::as_str).collect();
            let more = self.missing.len() - shown.len();
            let mut part = format!(
                "{} no longer exist: {}",
                self.missing.len(),
                shown.join(" ")
            );
            if more > 0 {
                part.push_str(&format!(" and {more} more"));
            }
            parts.push(part);
        }
        parts
    }
}

/// Uploads the list as one job, or in jobs of `batch_size` files, and records each in the
/// ledger; `submitted` hears of each job as soon as it is recorded, so that its id is shown
/// even if a later batch fails.
pub async fn submit(
    ledger: &Ledger,
    client: &ChillerClient,
    prepared: &Prepared,
    query: Option<&str>,
    batch_size: Option<usize>,
    mut submitted: impl FnMut(&LedgerEntry),
) -> anyhow::Result<Vec<LedgerEntry>> {
    if prepared.paths.is_empty() {
        bail!("{}", prepared.nothing_to_stage());
    }
    // A job that cannot be recorded is a job nobody can follow: find out before uploading.
    ledger.ready()?;
    let batch = batch_size.unwrap_or(prepared.paths.len()).max(1);
    let mut entries: Vec<LedgerEntry> = Vec::new();
    for (paths, sizes) in prepared
        .paths
        .chunks(batch)
        .zip(prepared.sizes.chunks(batch))
    {
        let list: String = paths.iter().flat_map(|p| [p.as_str(), "\n"]).collect();
        let id = client.upload(&list).await.map_err(|error| {
            let error = anyhow::Error::new(error);
            if entries.is_empty() {
                error
            } else {
                let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
                error.context(format!(
                    "jobs {} were submitted before this failure",
                    ids.join(", ")
                ))
            }
        })?;
        let mut entry = LedgerEntry::new(
            id,
            client.base_url().to_string(),
            query.map(str::to_string),
            paths.to_vec(),
            sizes.iter().sum(),
        );
        ledger.record(&mut entry).with_context(|| {
            format!(
                "job {} was submitted to {} but is not in the ledger; follow it with `catalog jobs {} --chiller {}`",
                entry.id, entry.server, entry.id, entry.server
            )
        })?;
        submitted(&entry);
        entries.push(entry);
    }
    Ok(entries)
}

/// Polls jobs until all are finished, with a pause growing from 1 s to 10 s; `seen` hears of
/// each status as it comes, and `bar` shows the progress (the caller decides whether it is
/// drawn). Fails when a job reports failed files, or after `timeout` (the jobs go on on the
/// server).
pub async fn wait(
    client: &ChillerClient,
    ids: &[String],
    timeout: Option<Duration>,
    bar: &ProgressBar,
    mut seen: impl FnMut(&str, &JobStatus),
) -> anyhow::Result<Vec<JobStatus>> {
    let started = Instant::now();
    let deadline = timeout.map(|t| started + t);
    let mut progress = String::from("no answer yet");
    let timed_out = |progress: &str| {
        bar.finish_and_clear();
        anyhow!(
            "timed out after {} ({progress}); the server goes on: follow with `catalog jobs {} --wait`",
            HumanDuration(timeout.unwrap_or_default()),
            ids[0]
        )
    };
    let mut pause = Duration::from_secs(1);
    loop {
        let mut statuses = Vec::with_capacity(ids.len());
        for id in ids {
            let call = client.status(id);
            let status = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline.into(), call)
                    .await
                    .map_err(|_| timed_out(&progress))??,
                None => call.await?,
            };
            seen(id, &status);
            statuses.push(status);
        }
        let finished = statuses.iter().filter(|s| s.finished).count();
        progress = describe_progress(ids.len(), finished, &statuses);
        bar.set_message(progress.clone());
        if finished == ids.len() {
            bar.finish_and_clear();
            let failures: Vec<String> = ids
                .iter()
                .zip(&statuses)
                .filter_map(|(id, s)| {
                    s.failed.filter(|&f| f > 0).map(|failed| {
                        let of = s
                            .files
                            .map_or(String::new(), |files| format!(" of {files}"));
                        format!("job {id}: {failed}{of} files could not be recalled")
                    })
                })
                .collect();
            if !failures.is_empty() {
                bail!(
                    "{}; `catalog jobs ID` shows the server's report",
                    failures.join("; ")
                );
            }
            return Ok(statuses);
        }
        let mut next = pause;
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timed_out(&progress));
            }
            next = next.min(left);
        }
        tokio::time::sleep(next).await;
        pause = pause.mul_f32(1.5).min(Duration::from_secs(10));
    }
}

/// `1 of 2 jobs finished, 30 of 40 files recalled`, leaving out what the server does not say.
fn describe_progress(jobs: usize, finished: usize, statuses: &[JobStatus]) -> String {
    let mut text = if jobs == 1 {
        String::from(if finished == 1 {
            "finished"
        } else {
            "recalling"
        })
    } else {
        format!("{finished} of {jobs} jobs finished")
    };
    let counts: Option<Vec<(u64, u64)>> = statuses.iter().map(|s| s.done.zip(s.files)).collect();
    if let Some(counts) = counts {
        let (done, files) = counts
            .iter()
            .fold((0, 0), |(d, f), (done, files)| (d + done, f + files));
        text.push_str(&format!(", {done} of {files} files recalled"));
    }
    text
}

/// Notes a status in the ledger entry of its job when it changed; a ledger that cannot be
/// written only costs the history its last status, so it is a warning.
pub fn note(ledger: &Ledger, entries: &mut [LedgerEntry], id: &str, status: &JobStatus) {
    let Some(entry) = entries.iter_mut().find(|e| e.id == id) else {
        return;
    };
    let unchanged = entry.last_status.as_ref().is_some_and(|last| {
        (last.finished, last.done, last.failed) == (status.finished, status.done, status.failed)
    });
    if unchanged {
        return;
    }
    if let Err(error) = ledger.note_status(entry, status) {
        eprintln!("catalog: warning: job {id}: {error:#}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_drops_vanished_files_and_files_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let on_disk = dir.path().join("disk.zip");
        std::fs::write(&on_disk, vec![b'x'; 8192]).unwrap();
        let on_tape = dir.path().join("tape.zip");
        std::fs::File::create(&on_tape)
            .unwrap()
            .set_len(1 << 30)
            .unwrap();
        let gone = dir.path().join("gone.zip");
        let paths = [&on_disk, &on_tape, &gone].map(|p| p.to_str().unwrap().to_string());

        let prepared = prepare(paths.clone(), false);
        assert_eq!(prepared.paths, [paths[1].clone()]);
        assert_eq!((prepared.bytes, prepared.on_disk), (1 << 30, 1));
        assert_eq!(prepared.sizes, [1 << 30]);
        assert_eq!(prepared.missing, [paths[2].clone()]);
        assert_eq!(
            prepared.summary(),
            format!(
                "1 files (1.00 GiB) to stage; 1 already on disk left out (--all stages them); 1 no longer exist: {}",
                paths[2]
            )
        );

        let all = prepare(paths.clone(), true);
        assert_eq!(all.paths, paths[..2]);
        assert_eq!((all.bytes, all.on_disk), ((1 << 30) + 8192, 0));

        let nothing = prepare([paths[0].clone(), paths[2].clone()], false);
        assert_eq!(
            nothing.nothing_to_stage(),
            format!(
                "nothing to stage: 1 already on disk left out (--all stages them); 1 no longer exist: {}",
                paths[2]
            )
        );
        assert_eq!(
            prepare(Vec::new(), false).nothing_to_stage(),
            "nothing to stage: the list is empty"
        );
    }

    #[test]
    fn progress_says_what_the_server_says() {
        let status = |json: &str| serde_json::from_str::<JobStatus>(json).unwrap();
        let running = status(r#"{"Finished":"false","Files":4,"Done":1}"#);
        let finished = status(r#"{"Finished":true,"Files":2,"Done":2}"#);
        let bare = status(r#"{"Finished":"false"}"#);
        assert_eq!(
            describe_progress(1, 0, std::slice::from_ref(&running)),
            "recalling, 1 of 4 files recalled"
        );
        assert_eq!(
            describe_progress(2, 1, &[running.clone(), finished]),
            "1 of 2 jobs finished, 3 of 6 files recalled"
        );
        assert_eq!(
            describe_progress(2, 0, &[running, bare]),
            "0 of 2 jobs finished"
        );
    }
}
