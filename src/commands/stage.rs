//! `catalog stage FILE|-`: stage an existing file list, such as one made by the old script.

use std::io::{BufRead, BufReader, Read};

use anyhow::{anyhow, bail, Context};
use catalog_index::list::PATH_MAX;

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
    let mut reader = reader;
    let mut paths = Vec::new();
    let mut relative = Vec::new();
    let mut bytes = Vec::new();
    for number in 0u64.. {
        // A line is read with a limit: a path is at most PATH_MAX bytes long.
        bytes.clear();
        let limit = PATH_MAX as u64 + 2;
        let read = (&mut reader)
            .take(limit)
            .read_until(b'\n', &mut bytes)
            .with_context(|| format!("cannot read the list {}", args.list))?;
        if read == 0 {
            break;
        }
        let line = std::str::from_utf8(&bytes).map_err(|_| {
            anyhow!(
                "the list {} holds no text at line {}",
                args.list,
                number + 1
            )
        })?;
        let line = line.trim_end_matches('\n').trim_end_matches('\r');
        if line.len() > PATH_MAX || (read as u64 == limit && !bytes.ends_with(b"\n")) {
            bail!(
                "the list {} has a line longer than any path at line {} (PATH_MAX is {PATH_MAX} bytes)",
                args.list,
                number + 1
            );
        }
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
