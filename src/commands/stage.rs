//! `catalog stage FILE|-`: stage an existing file list, such as one made by the old script.

use std::io::{BufRead, BufReader};

use anyhow::{bail, Context};

use crate::chiller::stage::stage_list;
use crate::chiller::StageArgs;

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
            .with_context(|| format!("cannot open the list {}", args.list))?;
        Box::new(BufReader::new(file))
    };
    let mut paths = Vec::new();
    let mut relative = Vec::new();
    for (number, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read the list {}", args.list))?;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with('/') {
            relative.push(format!("line {}: {line}", number + 1));
        }
        paths.push(line.to_string());
    }
    if !relative.is_empty() {
        let more = match relative.len() {
            0..=3 => String::new(),
            n => format!(" and {} more", n - 3),
        };
        bail!(
            "the list {} holds relative paths ({}{more}): Chiller takes absolute paths only",
            args.list,
            relative[..relative.len().min(3)].join(", ")
        );
    }
    stage_list(paths, None, &args.stage)
}
