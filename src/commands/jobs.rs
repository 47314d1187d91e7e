//! `catalog jobs [ID]`: the local history of submitted jobs, and one job's status.

use std::time::Duration;

use anyhow::Context;
use indicatif::HumanBytes;

use crate::chiller::client::ChillerClient;
use crate::chiller::ledger::Ledger;
use crate::chiller::stage::wait;

/// Arguments of `catalog jobs`.
#[derive(Debug, clap::Args)]
pub struct JobsArgs {
    /// A job id: show its status as the server reports it
    id: Option<String>,
    /// Wait until the job is finished
    #[arg(long, requires = "id")]
    wait: bool,
    /// Give up waiting after this many seconds
    #[arg(long, value_name = "SECONDS", requires = "wait")]
    timeout: Option<u64>,
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// Ask this server, e.g. after it moved (default: the one the job was submitted to)
    #[arg(long = "chiller", value_name = "URL", requires = "id")]
    server: Option<String>,
    /// Bearer token for the server
    #[arg(long, env = "CHILLER_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// Lists the ledger, or shows one job.
pub fn run(args: JobsArgs) -> anyhow::Result<()> {
    let ledger = Ledger::open()?;
    let Some(id) = &args.id else {
        let entries = ledger.entries()?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&entries)?);
            return Ok(());
        }
        for entry in entries {
            println!(
                "{}\t{}\t{}\t{} files\t{}\t{}",
                entry.id,
                entry.submitted,
                entry.server,
                entry.files,
                HumanBytes(entry.bytes),
                entry.query.as_deref().unwrap_or("(list)")
            );
        }
        return Ok(());
    };
    let entry = ledger.find(id)?.with_context(|| format!("job {id} is not in the local ledger; `catalog jobs` lists the jobs submitted from here"))?;
    let server = args.server.as_deref().unwrap_or(&entry.server);
    let client = ChillerClient::new(server, args.token.clone())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let status = runtime.block_on(async {
        if args.wait {
            wait(
                &client,
                std::slice::from_ref(id),
                args.timeout.map(Duration::from_secs),
            )
            .await
            .map(|mut s| s.remove(0))
        } else {
            client.status(id).await
        }
    })?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"job": entry.id, "server": server, "status": status.raw})
            )?
        );
    } else {
        println!(
            "job {} at {} ({} files, {}, submitted {})",
            entry.id,
            server,
            entry.files,
            HumanBytes(entry.bytes),
            entry.submitted
        );
        for (key, value) in &status.raw {
            println!("  {key}: {value}");
        }
    }
    Ok(())
}
