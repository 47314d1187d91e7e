//! `catalog sample DIR`: generate a realistic archive in the EODC layout (see [`crate::sample`]).

use std::path::PathBuf;

use crate::progress;
use crate::sample::generate;

/// Arguments of `catalog sample`.
#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    /// Directory to create the archive in (new or empty)
    dir: PathBuf,
    /// Number of files to create
    #[arg(long, default_value_t = 10_000)]
    files: u64,
    /// Seed of the generator: the same seed gives the same archive
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Share of products on tape (sparse files without allocated blocks)
    #[arg(long, default_value_t = 0.8)]
    tape_fraction: f64,
    /// Files a day directory (`<collection>/YYYY/MM/DD`) holds on average, by spreading the
    /// products over fewer days [default: products fall on any day, about one file per day
    /// directory in a small archive]
    #[arg(long, value_name = "N")]
    per_day: Option<u64>,
}

/// Generates the archive: shows progress on a terminal and prints one summary line.
pub fn run(args: SampleArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let bar = progress::counter("files");
    let summary = generate(
        &args.dir,
        args.files,
        args.seed,
        args.tape_fraction,
        args.per_day,
        &|n| bar.set_position(n),
    );
    bar.finish_and_clear();
    let summary = summary?;
    let per_day = summary.files_in_days as f64 / summary.day_directories.max(1) as f64;
    eprintln!(
        "created {} files ({} products, {} on tape, {} apparent) in {} day directories \
         ({per_day:.1} files each on average) in {} in {:.1} s",
        summary.files,
        summary.products,
        summary.products_on_tape,
        indicatif::HumanBytes(summary.apparent_bytes),
        summary.day_directories,
        args.dir.display(),
        started.elapsed().as_secs_f64()
    );
    if let Some(wanted) = args.per_day {
        if per_day < 0.8 * wanted as f64 {
            eprintln!(
                "note: {} files fill each collection's few day directories with {per_day:.0} \
                 files at most, not {wanted}: ask for more files",
                args.files
            );
        }
    }
    Ok(())
}
