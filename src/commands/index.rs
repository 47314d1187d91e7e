//! `catalog index`: build or update the index from a crawl or a policy-scan list.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use anyhow::Context;
use catalog_index::build::{build, BuildOptions, BuildReport, Source};
use catalog_index::layout::IndexDir;

use super::IndexLocation;
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
    #[arg(long)]
    full: bool,
    /// Commit even if a root is empty or holds under half the files it held before
    #[arg(long)]
    allow_shrink: bool,
    /// Memory for the index writer, in MiB
    #[arg(long, value_name = "MIB", default_value_t = 128)]
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
        None => Source::Roots(args.roots.clone()),
    };
    let options = BuildOptions {
        full: args.full,
        allow_shrink: args.allow_shrink,
        memory_bytes: args.memory << 20,
    };
    let bar = progress::counter("files");
    let report = build(&dir, source, &options, &|files| bar.set_position(files));
    bar.finish_and_clear();
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string(&summary_json(&report, &dir))?);
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
        "full": report.full,
        "documents": report.info.documents,
        "errors": report.info.errors,
        "malformed_lines": report.info.malformed_lines,
        "seconds": report.info.seconds,
        "roots": report.info.roots,
    })
}
