//! `catalog stage FILE|-`: stage an existing file list, such as one made by the old script.

use std::io::{BufRead, BufReader};

use anyhow::Context;

use crate::chiller::stage::{stage_list, StageArgs};

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
    let reader: Box<dyn BufRead> = if args.list == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(&args.list)
            .with_context(|| format!("cannot open list {}", args.list))?;
        Box::new(BufReader::new(file))
    };
    let mut paths = Vec::new();
    for line in reader.lines() {
        let line = line.with_context(|| format!("cannot read list {}", args.list))?;
        let line = line.trim_end_matches('\r');
        if !line.trim().is_empty() {
            paths.push(line.to_string());
        }
    }
    stage_list(paths, None, &args.stage)
}
