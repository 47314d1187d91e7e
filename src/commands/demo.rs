//! `catalog demo`: the whole mission on a generated archive, with no arguments: sample, index,
//! query, stage through a Chiller-compatible server on loopback, and see the files on disk.

use std::path::Path;
use std::time::{Duration, Instant};

use catalog_index::build::{build, BuildOptions, Source};
use catalog_index::layout::IndexDir;
use catalog_index::search::SortKey;
use catalog_index::Catalog;

use crate::chiller::recall::{is_resident, RecallMode, Recaller};
use crate::chiller::server::{router, ServerConfig};
use crate::chiller::{prepare, submit, ChillerClient};
use crate::output::summary_line;
use crate::sample;

/// The query the demo stages.
const QUERY: &str = "tile:T60WWV AND sat:S2A";

/// Arguments of `catalog demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Files in the generated archive
    #[arg(long, default_value_t = 5000)]
    files: u64,
}

/// Runs the demo in a temporary directory that is removed at the end.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let temp = tempfile::Builder::new().prefix("catalog-demo").tempdir()?;
    let archive = temp.path().join("archive");
    let index = IndexDir::new(temp.path().join("index"));
    // The ledger of this demo's job stays in the demo's directory.
    std::env::set_var("CATALOG_LEDGER", temp.path().join("jobs"));

    println!(
        "1. generating a sample archive of {} files in {}",
        args.files,
        archive.display()
    );
    let summary = sample::generate(&archive, args.files, 1, 0.8, &|_| {})?;
    println!(
        "   {} products, {} of them on tape (sparse files)",
        summary.products, summary.products_on_tape
    );

    println!("2. indexing it (readdir and stat only)");
    let report = build(
        &index,
        Source::Roots(vec![archive.clone()]),
        &BuildOptions::default(),
        &|_| {},
    )?;
    println!(
        "   {} files indexed in {:.2} s",
        report.files, report.info.seconds
    );

    println!("3. querying \"{QUERY}\"");
    let catalog = Catalog::open(index.path())?;
    let query = catalog.parse(QUERY)?;
    let hits = catalog.search(query.as_ref(), SortKey::Date, 0, None)?;
    for m in &hits.matches {
        println!("   {} [{}]", m.path, m.state.map_or("?", |s| s.as_str()));
    }
    println!("   {}", summary_line(&hits.summary));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let config = ServerConfig {
            roots: vec![archive.clone()],
            state_dir: temp.path().join("chiller"),
            recaller: Recaller {
                mode: RecallMode::Simulate,
                command: None,
                mount_delay: Duration::from_millis(300),
                drive_rate: 8_000_000_000,
            },
            workers: 1,
            max_body: 64 << 20,
            token: None,
        };
        let (router, _) = router(config)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, router).await });
        println!(
            "4. started a Chiller-compatible staging server at {url} (simulated tape library)"
        );

        let paths: Vec<String> = hits.matches.iter().map(|m| m.path.clone()).collect();
        let prepared = prepare(paths.clone(), false);
        println!("5. staging: {}", prepared.summary());
        let client = ChillerClient::new(&url, None)?;
        let ids = submit(&client, &prepared, Some(QUERY), None).await?;
        println!(
            "   job {} submitted; waiting for the recall",
            ids.join(", ")
        );
        crate::chiller::stage::wait(&client, &ids, Some(Duration::from_secs(120))).await?;
        let resident = paths.iter().filter(|p| is_resident(Path::new(p))).count();
        println!(
            "6. job finished: {resident} of {} files are now on disk",
            paths.len()
        );
        anyhow::ensure!(
            resident == paths.len(),
            "{} files are still on tape",
            paths.len() - resident
        );
        anyhow::Ok(())
    })?;
    build(
        &index,
        Source::Roots(vec![archive]),
        &BuildOptions::default(),
        &|_| {},
    )?;
    let catalog = Catalog::open(index.path())?;
    let on_tape = catalog
        .count(catalog.parse(&format!("{QUERY} AND state:tape"))?.as_ref())?
        .files;
    println!("   after a re-index, \"{QUERY} AND state:tape\" matches {on_tape} files");
    println!(
        "done in {:.1} s; removing {}",
        started.elapsed().as_secs_f64(),
        temp.path().display()
    );
    Ok(())
}
