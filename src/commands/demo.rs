//! `catalog demo`: the whole mission on a generated archive, with no arguments: sample, index,
//! query, stage through a Chiller-compatible server on loopback, and see the files on disk.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::ensure;
use catalog_index::build::{build, BuildOptions, Source};
use catalog_index::layout::IndexDir;
use catalog_index::search::SortKey;
use catalog_index::{Catalog, State};
use indicatif::HumanBytes;

use super::output::summary_line;
use crate::{progress, sample};
use catalog_chiller::ledger::Ledger;
use catalog_chiller::recall::{is_resident, Recaller, Simulation, DEFAULT_RESERVE};
use catalog_chiller::server::{ChillerServer, ServerConfig};
use catalog_chiller::stage::wait;
use catalog_chiller::{prepare, submit, ChillerClient, ClientOptions};

/// The query the demo stages: the mission's.
const QUERY: &str = "tile:T60WWV AND sat:S2A";

/// Arguments of `catalog demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Files in the generated archive
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1000..=1_000_000))]
    files: u64,
}

/// Runs the demo in a temporary directory that is removed at the end, whatever happens.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let temp = tempfile::Builder::new().prefix("catalog-demo").tempdir()?;
    let archive = temp.path().join("archive");
    let index = IndexDir::new(temp.path().join("index"));
    let mut out = std::io::stdout();

    writeln!(
        out,
        "1. generating a sample archive of {} files in {}",
        args.files,
        archive.display()
    )?;
    let summary = sample::generate(&archive, args.files, 1, 0.8, None, &|_| {})?;
    writeln!(
        out,
        "   {} products, {} of them on tape (sparse files), {} in all",
        summary.products,
        summary.products_on_tape,
        HumanBytes(summary.apparent_bytes)
    )?;

    writeln!(out, "2. indexing it (readdir and stat only)")?;
    let report = build(
        &index,
        Source::Roots(vec![archive.clone()]),
        &BuildOptions::default(),
        &|_| {},
    )?;
    writeln!(
        out,
        "   {} files indexed in {:.2} s",
        report.files, report.info.seconds
    )?;

    writeln!(out, "3. catalog query \"{QUERY}\"")?;
    let catalog = Catalog::open(index.path())?;
    let query = catalog.parse(QUERY)?;
    let mut matches = Vec::new();
    let summary = catalog.for_each_match(query.as_ref(), SortKey::Date, 0, None, false, |m| {
        matches.push(m);
        Ok(())
    })?;
    for m in &matches {
        writeln!(
            out,
            "   {} [{}]",
            m.path,
            m.state.map_or("?", State::as_str)
        )?;
    }
    writeln!(out, "   {}", summary_line(&summary))?;
    let paths: Vec<String> = matches.into_iter().map(|m| m.path).collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(stage(temp.path(), &archive, &paths))?;

    // A recall changes files' blocks, not their directories: the census sees it.
    writeln!(out, "7. re-indexing with --restat and asking again")?;
    build(
        &index,
        Source::Roots(vec![archive]),
        &BuildOptions {
            restat: true,
            ..BuildOptions::default()
        },
        &|_| {},
    )?;
    let catalog = Catalog::open(index.path())?;
    let on_tape = catalog
        .count(catalog.parse(&format!("{QUERY} AND state:tape"))?.as_ref())?
        .files;
    writeln!(
        out,
        "   \"{QUERY} AND state:tape\" now matches {on_tape} files"
    )?;
    ensure!(
        on_tape == 0,
        "{on_tape} files of the query are still on tape"
    );
    writeln!(
        out,
        "done in {:.1} s; removing {}",
        started.elapsed().as_secs_f64(),
        temp.path().display()
    )?;
    Ok(())
}

/// Steps 4 to 6: a staging server on a free loopback port, the upload through the real HTTP
/// client, and the wait until the files are on disk. The job goes to a ledger in `dir`, not to
/// the user's history, since its server is gone when the demo ends.
async fn stage(dir: &Path, archive: &Path, paths: &[String]) -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    let server = ChillerServer::start(ServerConfig {
        roots: vec![archive.to_path_buf()],
        state_dir: dir.join("chiller"),
        recaller: Recaller::Simulate(Simulation {
            mount_delay: Duration::from_millis(300),
            drive_rate: std::num::NonZeroU64::new(8_000_000_000).expect("not zero"),
            reserve: DEFAULT_RESERVE,
        }),
        workers: 1,
        max_body: 64 << 20,
        token: None,
        limits: catalog_http::Limits::default(),
    })?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(listener, async {
        let _ = stopped.await;
    }));
    writeln!(
        out,
        "4. started a Chiller-compatible staging server at {url} (a simulated tape library)"
    )?;

    let prepared = prepare(paths.to_vec(), false);
    writeln!(
        out,
        "5. catalog query \"{QUERY}\" --stage --wait --chiller {url}"
    )?;
    writeln!(out, "   {}", prepared.summary())?;
    let client = ChillerClient::new(&ClientOptions::at(&url))?;
    let ledger = Ledger::at(&dir.join("jobs"));
    let staged = async {
        if prepared.paths.is_empty() {
            writeln!(
                out,
                "6. nothing to stage: every file of the query is on disk already"
            )?;
            return Ok(());
        }
        let entries = submit(&ledger, &client, &prepared, Some(QUERY), None, |entry| {
            // Submitted is submitted: a closed stdout is acted on at the next line.
            let _ = writeln!(
                std::io::stdout(),
                "   job {} submitted: POST {url}/upload; polling GET {url}/jobs/{}",
                entry.id,
                entry.id
            );
        })
        .await?;
        let ids: Vec<String> = entries.into_iter().map(|e| e.id).collect();
        let started = Instant::now();
        let statuses = wait(
            &client,
            &ids,
            Some(Duration::from_secs(120)),
            &progress::waiting(),
            |_, _| {},
        )
        .await?;
        let done: u64 = statuses.iter().filter_map(|s| s.done).sum();
        writeln!(
            out,
            "6. the server says \"Finished\":\"true\" after {:.1} s, {done} files recalled",
            started.elapsed().as_secs_f64()
        )?;
        anyhow::Ok(())
    }
    .await;
    let _ = stop.send(());
    serving.await??;
    staged?;
    let resident = paths.iter().filter(|p| is_resident(Path::new(p))).count();
    writeln!(
        out,
        "   stat: {resident} of {} files of the query are now on disk",
        paths.len()
    )?;
    ensure!(
        resident == paths.len(),
        "{} files of the query are still on tape",
        paths.len() - resident
    );
    Ok(())
}
