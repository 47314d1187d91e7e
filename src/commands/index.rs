//! `catalog index`: build or update the index from a crawl or a policy-scan list.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::PathBuf;

use anyhow::Context;
use catalog_index::build::{build, BuildOptions, BuildReport, Source};
use catalog_index::layout::IndexDir;
use indicatif::HumanCount;

use super::IndexLocation;
use crate::exit::UsageError;
use crate::progress;

/// Arguments of `catalog index`.
#[derive(Debug, clap::Args)]
pub struct IndexArgs {
    /// Archive root to crawl; repeat for several
    #[arg(long = "root", value_name = "DIR", default_value = "/eodc/products")]
    roots: Vec<PathBuf>,
    #[command(flatten)]
    index: IndexLocation,
    /// Read the files from a list instead of crawling: plain paths, `find -printf '%s %T@ %b %p\n'`
    /// output or a GPFS mmapplypolicy LIST file; `-` reads standard input
    #[arg(long, value_name = "FILE", conflicts_with = "roots")]
    from_list: Option<String>,
    /// Rebuild from scratch into a new index and switch to it atomically
    #[arg(long, conflicts_with = "update")]
    full: bool,
    /// Refresh only these subtrees of the indexed roots (with --from-list: apply a list of
    /// changed paths); everything else stays as indexed
    #[arg(long, value_name = "PATH", num_args = 0.., conflicts_with = "roots")]
    update: Option<Vec<PathBuf>>,
    /// List every directory and stat every file again: the census that refreshes sizes and
    /// disk/tape state, which change without changing their directories
    #[arg(long, conflicts_with = "from_list")]
    restat: bool,
    /// Directory listings and stats in flight at once (1-1024); by default one per core on a
    /// fast local tree and 64 where a probe of the root finds metadata calls slow (a network
    /// file system)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    io_threads: Option<u16>,
    /// Commit even if a root is empty or holds under half the files it held before, if the
    /// whole index would, or if the roots leave out indexed files (which are removed)
    #[arg(long)]
    allow_shrink: bool,
    /// Memory for the index writer, in MiB
    #[arg(long, value_name = "MIB", default_value_t = BuildOptions::DEFAULT_MEMORY_BYTES >> 20)]
    memory: usize,
    /// Print the summary line as JSON
    #[arg(long)]
    json: bool,
}

/// Runs the build and prints one summary line.
pub fn run(args: IndexArgs) -> anyhow::Result<()> {
    let dir = IndexDir::new(args.index.path()?);
    let source = match &args.from_list {
        Some(name) if name == "-" => Source::List {
            name: name.clone(),
            reader: Box::new(BufReader::new(std::io::stdin())),
        },
        Some(name) => {
            let file = File::open(name).with_context(|| format!("cannot open list {name}"))?;
            Source::List {
                name: name.clone(),
                reader: Box::new(BufReader::with_capacity(1 << 20, file)),
            }
        }
        None => match &args.update {
            Some(paths) if paths.is_empty() => return Err(UsageError(
                "--update needs the paths to refresh, or a list of changed paths with --from-list"
                    .into(),
            )
            .into()),
            Some(paths) => Source::Roots(paths.clone()),
            None => Source::Roots(args.roots.clone()),
        },
    };
    if args.from_list.is_some() && args.update.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(UsageError(
            "--from-list --update takes its paths from the list, not the command line".into(),
        )
        .into());
    }
    let options = BuildOptions {
        full: args.full,
        allow_shrink: args.allow_shrink,
        memory_bytes: args.memory << 20,
        io_threads: args.io_threads.map(usize::from),
        restat: args.restat,
        update: args.update.is_some(),
    };
    let bar = progress::counter("files");
    let report = build(&dir, source, &options, &|progress| {
        bar.set_position(progress.files);
        if progress.dirs > 0 {
            bar.set_message(format!("in {} directories", HumanCount(progress.dirs)));
        }
    });
    bar.finish_and_clear();
    let report = report?;
    if args.json {
        let line = serde_json::to_string(&summary_json(&report, &dir))?;
        writeln!(std::io::stdout(), "{line}")?;
    } else {
        eprintln!("{}", summary_line(&report));
    }
    Ok(())
}

fn summary_line(report: &BuildReport) -> String {
    let info = &report.info;
    let mut line = format!(
        "indexed {} files ({} products parsed), {} errors, {:.1} s",
        report.files,
        report.products,
        info.errors.total() + info.malformed_lines,
        info.seconds
    );
    if let Some(rate) = progress::per_second_of(report.files, info.seconds) {
        line.push_str(&format!(" ({rate} files/s)"));
    }
    if info.errors.total() > 0 {
        line.push_str(&format!(" [{}]", info.errors));
    }
    if info.malformed_lines > 0 {
        line.push_str(&format!(" [{} malformed list lines]", info.malformed_lines));
    }
    if report.full {
        line.push_str("; new index");
    } else {
        line.push_str(&format!(
            "; {} added, {} removed, {} unchanged",
            report.added, report.removed, report.unchanged
        ));
    }
    if report.dirs_listed + report.dirs_unchanged > 0 {
        line.push_str(&format!(
            "; {} directories listed, {} unchanged",
            report.dirs_listed, report.dirs_unchanged
        ));
    }
    line
}

fn summary_json(report: &BuildReport, dir: &IndexDir) -> serde_json::Value {
    serde_json::json!({
        "index": dir.path(),
        "files": report.files,
        "products": report.products,
        "added": report.added,
        "removed": report.removed,
        "unchanged": report.unchanged,
        "dirs_listed": report.dirs_listed,
        "dirs_unchanged": report.dirs_unchanged,
        "full": report.full,
        "documents": report.info.documents,
        "errors": report.info.errors,
        "malformed_lines": report.info.malformed_lines,
        "seconds": report.info.seconds,
        "roots": report.info.roots,
    })
}
