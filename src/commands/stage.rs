//! `catalog stage FILE|-`: stage an existing file list, such as one made by the old script;
//! and the staging that `catalog query --stage` shares with it.

use std::io::{BufRead, BufReader, Write};
use std::time::Instant;

use anyhow::{bail, Context};
use catalog_chiller::ledger::Ledger;
use catalog_chiller::list::read_list;
use catalog_chiller::stage::{note, prepare, submit, wait, StageOptions};
use catalog_chiller::ChillerClient;
use indicatif::HumanDuration;

use super::args::StageArgs;
use crate::progress;

/// Arguments of `catalog stage`.
#[derive(Debug, clap::Args)]
pub struct StageCommandArgs {
    /// The list: absolute paths, one per line; `-` reads standard input
    list: String,
    #[command(flatten)]
    stage: StageArgs,
}

/// Reads the list and stages it.
pub fn run(args: StageCommandArgs) -> anyhow::Result<()> {
    let options = args.stage.options()?;
    let reader: Box<dyn BufRead> = if args.list == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(&args.list)
            .with_context(|| format!("cannot open the list {}", args.list))?;
        Box::new(BufReader::new(file))
    };
    let paths = read_list(reader, &args.list)?;
    stage_list(paths, None, &options)
}

/// Stages a list: check, submit, print each job id on stdout as it is submitted and a summary
/// on stderr, and with `--wait` wait for the jobs. A list whose files are all on disk already
/// needs no job: that is said, and is no failure.
pub(super) fn stage_list(
    paths: Vec<String>,
    query: Option<&str>,
    options: &StageOptions,
) -> anyhow::Result<()> {
    let client = ChillerClient::new(&options.chiller)?;
    let ledger = Ledger::at(&options.ledger);
    let prepared = prepare(paths, options.include_on_disk);
    if prepared.paths.is_empty() {
        if prepared.on_disk == 0 {
            bail!("{}", prepared.nothing_to_stage());
        }
        eprintln!("{}", prepared.nothing_to_stage());
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut entries = submit(
            &ledger,
            &client,
            &prepared,
            query,
            options.batch_size,
            // The job is submitted and in the ledger whatever becomes of stdout: a closed
            // pipe must not stop the batches after it, so its error is not acted on here.
            |entry| {
                let _ = writeln!(std::io::stdout(), "{}", entry.id);
            },
        )
        .await?;
        let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
        eprintln!(
            "{}; submitted as job{} {} to {}",
            prepared.summary(),
            if ids.len() == 1 { "" } else { "s" },
            ids.join(", "),
            client.base_url()
        );
        if !options.wait {
            return Ok(());
        }
        let started = Instant::now();
        let statuses = wait(
            &client,
            &ids,
            options.timeout,
            &progress::waiting(),
            |id, status| note(&ledger, &mut entries, id, status),
        )
        .await?;
        let done: u64 = statuses.iter().filter_map(|s| s.done).sum();
        eprintln!(
            "finished: {done} files recalled in {}",
            HumanDuration(started.elapsed())
        );
        Ok(())
    })
}
