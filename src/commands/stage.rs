//! `catalog stage FILE|-`: stage an existing file list, such as one made by the old script.

use std::io::{BufRead, BufReader};

use anyhow::Context;
use catalog_chiller::list::read_list;
use catalog_chiller::stage::stage_list;

use super::args::StageArgs;

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
