//! From a file list to finished Chiller jobs: the `stat` check before upload, submission in
//! batches, and waiting.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;
use catalog_index::State;
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

use super::client::{ChillerClient, JobStatus, DEFAULT_URL};
use super::ledger::{Ledger, LedgerEntry};

/// Which Chiller to talk to.
#[derive(Debug, Clone, clap::Args)]
pub struct ChillerArgs {
    /// Chiller server URL
    #[arg(long = "chiller", value_name = "URL", env = "CHILLER_URL", default_value = DEFAULT_URL)]
    pub url: String,
    /// Bearer token for the server
    #[arg(long, env = "CHILLER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl ChillerArgs {
    /// A client of the chosen server.
    pub fn client(&self) -> anyhow::Result<ChillerClient> {
        ChillerClient::new(&self.url, self.token.clone())
    }
}

/// How a list is staged.
#[derive(Debug, Clone, clap::Args)]
pub struct StageArgs {
    #[command(flatten)]
    pub chiller: ChillerArgs,
    /// Wait until the jobs are finished, showing progress
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this many seconds (exit 1)
    #[arg(long, value_name = "SECONDS", requires = "wait")]
    pub timeout: Option<u64>,
    /// Stage files already on disk too
    #[arg(long)]
    pub all: bool,
    /// Split the list into jobs of at most N files (default: one job)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: Option<u64>,
}

/// A list after the check before upload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepared {
    /// The paths to stage.
    pub paths: Vec<String>,
    /// Their total size.
    pub bytes: u64,
    /// Listed paths that no longer exist.
    pub missing: Vec<String>,
    /// Listed files already on disk, left out.
    pub on_disk: u64,
}

/// Checks each path with one `stat` (a product directory: one per file in it; nothing is
/// opened): drops vanished files and, unless `include_on_disk`, files already on disk.
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
                prepared.paths.push(path);
            }
            Err(_) => prepared.missing.push(path),
        }
    }
    prepared
}

impl Prepared {
    /// `12 files (1.2 TiB) go to Chiller; 3 already on disk left out; 1 no longer exists: /x`.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{} files ({}) to stage",
            self.paths.len(),
            HumanBytes(self.bytes)
        );
        if self.on_disk > 0 {
            line.push_str(&format!(
                "; {} already on disk left out (--all stages them)",
                self.on_disk
            ));
        }
        if !self.missing.is_empty() {
            let shown: Vec<&str> = self.missing.iter().take(5).map(String::as_str).collect();
            let more = self.missing.len().saturating_sub(shown.len());
            line.push_str(&format!(
                "; {} no longer exist: {}",
                self.missing.len(),
                shown.join(" ")
            ));
            if more > 0 {
                line.push_str(&format!(" and {more} more"));
            }
        }
        line
    }
}

/// Uploads the list as one job, or in jobs of `batch_size` files, and records each in the
/// ledger. Returns the job ids.
pub async fn submit(
    client: &ChillerClient,
    prepared: &Prepared,
    query: Option<&str>,
    batch_size: Option<usize>,
) -> anyhow::Result<Vec<String>> {
    if prepared.paths.is_empty() {
        bail!("nothing to stage: {}", prepared.summary());
    }
    let ledger = Ledger::open()?;
    let batch = batch_size.unwrap_or(prepared.paths.len()).max(1);
    let mut ids = Vec::new();
    for chunk in prepared.paths.chunks(batch) {
        let list: String = chunk.iter().flat_map(|p| [p.as_str(), "\n"]).collect();
        let id = client
            .upload(&list)
            .await
            .map_err(|error| match ids.is_empty() {
                true => error,
                false => error.context(format!(
                    "jobs {} were submitted before this failure",
                    ids.join(", ")
                )),
            })?;
        let bytes = chunk
            .iter()
            .filter_map(|p| catalog_index::crawl::usage(Path::new(p)).ok())
            .map(|(size, _)| size)
            .sum();
        ledger.record(&LedgerEntry {
            id: id.clone(),
            server: client.base_url().to_string(),
            submitted: now(),
            query: query.map(str::to_string),
            files: chunk.len() as u64,
            bytes,
            list: chunk.to_vec(),
        })?;
        ids.push(id);
    }
    Ok(ids)
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("now formats")
}

/// Polls jobs until all are finished, with a pause growing from 1 s to 10 s. Shows progress on
/// a terminal. Fails when a job reports failed files, or after `timeout`.
pub async fn wait(
    client: &ChillerClient,
    ids: &[String],
    timeout: Option<Duration>,
) -> anyhow::Result<Vec<JobStatus>> {
    let started = Instant::now();
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut pause = Duration::from_secs(1);
    loop {
        let mut statuses = Vec::with_capacity(ids.len());
        for id in ids {
            statuses.push(client.status(id).await?);
        }
        let (done, files) = statuses.iter().fold((0, 0), |(d, f), s| {
            (d + s.done.unwrap_or(0), f + s.files.unwrap_or(0))
        });
        let finished = statuses.iter().filter(|s| s.finished).count();
        bar.set_message(format!(
            "{finished} of {} jobs finished, {done} of {files} files recalled",
            ids.len()
        ));
        if finished == ids.len() {
            bar.finish_and_clear();
            let failed: u64 = statuses.iter().filter_map(|s| s.failed).sum();
            if failed > 0 {
                bail!("{failed} files could not be recalled; see `catalog jobs ID` for each job's errors");
            }
            return Ok(statuses);
        }
        if let Some(timeout) = timeout {
            if started.elapsed() >= timeout {
                bar.finish_and_clear();
                bail!(
                    "timed out after {} s with {finished} of {} jobs finished; check later with `catalog jobs {} --wait`",
                    timeout.as_secs(),
                    ids.len(),
                    ids[0]
                );
            }
        }
        let remaining = timeout.map_or(pause, |t| t.saturating_sub(started.elapsed()));
        tokio::time::sleep(pause.min(remaining)).await;
        pause = (pause.mul_f32(1.5)).min(Duration::from_secs(10));
    }
}

/// Stages a list: check, submit, print the job ids on stdout and a summary on stderr, and with
/// `--wait` wait for the jobs.
pub fn stage_list(paths: Vec<String>, query: Option<&str>, args: &StageArgs) -> anyhow::Result<()> {
    let client = args.chiller.client()?;
    let prepared = prepare(paths, args.all);
    if prepared.paths.is_empty() {
        bail!("nothing to stage: {}", prepared.summary());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let ids = submit(
            &client,
            &prepared,
            query,
            args.batch_size.map(|b| b as usize),
        )
        .await?;
        for id in &ids {
            println!("{id}");
        }
        eprintln!(
            "{}; submitted as job {} to {}",
            prepared.summary(),
            ids.join(", "),
            client.base_url()
        );
        if args.wait {
            let statuses = wait(&client, &ids, args.timeout.map(Duration::from_secs)).await?;
            let done: u64 = statuses.iter().filter_map(|s| s.done).sum();
            eprintln!("finished: {done} files recalled");
        }
        Ok(())
    })
}
