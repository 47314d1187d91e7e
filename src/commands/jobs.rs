//! `catalog jobs [ID]`: the local history of submitted jobs, and one job's status.

use std::io::Write;
use std::time::Duration;

use catalog_chiller::client::DEFAULT_URL;
use catalog_chiller::ledger::Ledger;
use catalog_chiller::stage::{note, wait};
use catalog_chiller::wire::check_job_id;
use catalog_chiller::{ChillerClient, JobStatus};
use indicatif::HumanBytes;

use super::args::{ChillerAccess, LedgerLocation};
use crate::progress;

/// Arguments of `catalog jobs`.
#[derive(Debug, clap::Args)]
pub struct JobsArgs {
    /// A job id: show its status as the server reports it
    #[arg(value_parser = job_id)]
    id: Option<String>,
    /// Wait until the job is finished, showing progress on a terminal
    #[arg(long, requires = "id")]
    wait: bool,
    /// Give up waiting after this many seconds (exit 1; the job goes on)
    #[arg(long, value_name = "SECONDS", requires = "wait")]
    timeout: Option<u64>,
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// Ask this server [default: the one the job was submitted to, else $CHILLER_URL, else
    /// https://chiller.eodc.eu]
    #[arg(long = "chiller", value_name = "URL", requires = "id")]
    server: Option<String>,
    /// The server of a job not submitted from here: the ledger's server of a job wins over
    /// the environment's, so this is no `--chiller` with `env`
    #[arg(long = "default-chiller", value_name = "URL", env = "CHILLER_URL", default_value = DEFAULT_URL, hide = true)]
    default_server: String,
    #[command(flatten)]
    access: ChillerAccess,
    #[command(flatten)]
    ledger: LedgerLocation,
}

/// A job id as `catalog jobs` takes it: short and printable.
fn job_id(text: &str) -> Result<String, String> {
    check_job_id(text).map_err(|error| error.to_string())?;
    Ok(text.to_string())
}

/// Lists the ledger, or shows one job.
pub fn run(args: JobsArgs) -> anyhow::Result<()> {
    let ledger = Ledger::at(&args.ledger.path()?);
    let Some(id) = &args.id else {
        return history(&ledger, args.json);
    };
    let mut entry = ledger.find(id)?;
    // The server the job went to wins over the environment's, which may name another one;
    // a job from elsewhere (the old script) is looked for at the usual server.
    let server = args
        .server
        .clone()
        .or_else(|| entry.as_ref().map(|e| e.server.clone()))
        .unwrap_or_else(|| args.default_server.clone());
    let client = ChillerClient::new(&args.access.options(&server))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut entries: Vec<_> = entry.take().into_iter().collect();
    let status = runtime.block_on(async {
        if args.wait {
            let timeout = args.timeout.map(Duration::from_secs);
            wait(
                &client,
                std::slice::from_ref(id),
                timeout,
                &progress::waiting(),
                |id, status| note(&ledger, &mut entries, id, status),
            )
            .await
            .map(|mut statuses| statuses.remove(0))
        } else {
            let status = client.status(id).await?;
            note(&ledger, &mut entries, id, &status);
            Ok(status)
        }
    })?;
    let entry = entries.pop();
    let mut out = std::io::stdout().lock();
    if args.json {
        let answer = serde_json::json!({
            "job": id,
            "server": server,
            "submitted": entry.as_ref().map(|e| &e.submitted),
            "query": entry.as_ref().and_then(|e| e.query.as_ref()),
            "files": entry.as_ref().map(|e| e.files),
            "bytes": entry.as_ref().map(|e| e.bytes),
            "status": status.raw,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&answer)?)?;
        return Ok(());
    }
    match &entry {
        Some(entry) => writeln!(
            out,
            "job {id} at {server}: {} files, {}, submitted {}{}",
            entry.files,
            HumanBytes(entry.bytes),
            entry.submitted,
            entry
                .query
                .as_ref()
                .map_or(String::new(), |q| format!(" for \"{q}\""))
        )?,
        None => writeln!(out, "job {id} at {server} (not submitted from here)")?,
    }
    print_status(&mut out, &status)?;
    Ok(())
}

/// Every field the server sent, one a line, strings without their quotes.
fn print_status(out: &mut impl Write, status: &JobStatus) -> std::io::Result<()> {
    for (key, value) in &status.raw {
        let value = match value {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        writeln!(out, "  {key}: {value}")?;
    }
    Ok(())
}

/// Every job submitted from here, oldest first, with its last known status.
fn history(ledger: &Ledger, json: bool) -> anyhow::Result<()> {
    let entries = ledger.entries()?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&entries)?)?;
        return Ok(());
    }
    if entries.is_empty() {
        eprintln!("no jobs submitted from here yet");
    }
    for entry in entries {
        writeln!(
            out,
            "{}\t{}\t{}\t{} files\t{}\t{}\t{}",
            entry.id,
            entry.submitted,
            entry.server,
            entry.files,
            HumanBytes(entry.bytes),
            entry.status_text(),
            entry.query.as_deref().unwrap_or("(list)")
        )?;
    }
    Ok(())
}
