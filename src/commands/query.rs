//! `catalog query`: the complete list of files matching a query.

use std::path::PathBuf;
use std::time::Duration;

use catalog_index::search::SortKey;
use catalog_index::Catalog;

use super::IndexLocation;
use std::io::Write;

use super::args::StageArgs;
use super::output::{self, Format, Sink};
use crate::freshness;

/// Arguments of `catalog query`.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// The query, e.g. "tile:T60WWV AND sat:S2A" or "sat:S2A AND date:2019"
    query: String,
    #[command(flatten)]
    index: IndexLocation,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Print only the number of matches (and the summary)
    #[arg(long)]
    count: bool,
    /// Print at most N matches (default: all; a file list must be complete)
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Order of the answer
    #[arg(long, value_enum, default_value = "date")]
    sort: Sort,
    /// End each path with NUL instead of a newline, as `find -print0` (for `xargs -0`); with
    /// the path list only
    #[arg(short = '0', long)]
    print0: bool,
    /// Write to FILE atomically instead of standard output
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Do not print the summary line on standard error
    #[arg(long, short)]
    quiet: bool,
    /// Stage the matches through Chiller instead of printing them; prints the job ids
    #[arg(long)]
    stage: bool,
    /// Warn on stderr when the index was last crawled longer ago than this, e.g. 30h, 2days,
    /// 90m; `off` never warns
    #[arg(
        long,
        value_name = "DURATION",
        env = "CATALOG_MAX_AGE",
        default_value = "30h"
    )]
    max_age: String,
    #[command(flatten)]
    staging: StageArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Sort {
    Date,
    Path,
    Size,
}

impl From<Sort> for SortKey {
    fn from(sort: Sort) -> SortKey {
        match sort {
            Sort::Date => SortKey::Date,
            Sort::Path => SortKey::Path,
            Sort::Size => SortKey::Size,
        }
    }
}

/// Runs the query and writes the answer.
pub fn run(args: QueryArgs) -> anyhow::Result<()> {
    let staging = &args.staging;
    if !args.stage && (staging.wait || staging.all || staging.batch_size.is_some()) {
        return Err(crate::exit::UsageError(
            "--wait, --all and --batch-size stage the answer: add --stage".into(),
        )
        .into());
    }
    if args.print0 && (args.format != Format::Paths || args.count) {
        let with = if args.count {
            "--count".to_string()
        } else {
            format!("--format {}", format_name(args.format))
        };
        return Err(crate::exit::UsageError(format!(
            "--print0 ends each path of the path list with NUL: it does not go with {with}"
        ))
        .into());
    }
    let max_age = parse_max_age(&args.max_age)?;
    let catalog = Catalog::open(&args.index.path()?)?;
    let query = catalog.parse(&args.query)?;
    if let Some(max_age) = max_age {
        warn_if_stale(&catalog, max_age, &args.max_age);
    }
    if args.count {
        let summary = catalog.count(query.as_ref())?;
        writeln!(std::io::stdout(), "{}", summary.files)?;
        if !args.quiet {
            eprintln!("{}", output::summary_line(&summary));
        }
        return Ok(());
    }
    if args.stage {
        return stage(&catalog, query.as_ref(), &args);
    }
    let mut sink = Sink::open(args.out.as_deref())?;
    // A path list shows no modification times; the other formats do.
    let with_mtime = args.format != Format::Paths;
    let matches = |emit: &mut dyn FnMut(_) -> _| {
        let sort = args.sort.into();
        Ok(catalog.for_each_match(query.as_ref(), sort, 0, args.limit, with_mtime, emit)?)
    };
    // A closed pipe ends the answer here and `main` exits 0 without a word.
    let summary = if args.print0 {
        output::write_paths(&mut sink, b'\0', matches)?
    } else {
        output::write_matches(&mut sink, args.format, matches)?
    };
    sink.finish()?;
    if !args.quiet {
        eprintln!("{}", output::summary_line(&summary));
    }
    Ok(())
}

/// A format as it is written on the command line.
fn format_name(format: Format) -> String {
    use clap::ValueEnum;
    format
        .to_possible_value()
        .map_or_else(|| format!("{format:?}"), |v| v.get_name().to_string())
}

/// `--max-age`: a duration, or `None` for `off`. Zero is refused rather than read as either
/// "always warn" or "never warn".
fn parse_max_age(text: &str) -> anyhow::Result<Option<Duration>> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let usage = |problem: String| -> anyhow::Error {
        crate::exit::UsageError(format!(
            "--max-age {text:?}: {problem}; give a duration such as 30h, 2days or 90m, or off"
        ))
        .into()
    };
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err(usage("zero would warn on every query".into())),
        Ok(duration) => Ok(Some(duration)),
        Err(problem) => Err(usage(problem.to_string())),
    }
}

/// One line on stderr when the index was last crawled longer than `max_age` ago.
fn warn_if_stale(catalog: &Catalog, max_age: Duration, given: &str) {
    let info = catalog.info();
    let Some(age) = info.age_seconds(time::OffsetDateTime::now_utc()) else {
        return;
    };
    if age > max_age.as_secs_f64() {
        eprintln!(
            "warning: the index was last crawled {} ({} ago), older than --max-age {}; \
             answers may miss newer files",
            freshness::display_time(freshness::crawled_at(info).as_deref()),
            freshness::human_age(age),
            given.trim()
        );
    }
}

/// `--stage`: the list goes to Chiller (and to `--out` if given).
fn stage(
    catalog: &Catalog,
    query: &dyn catalog_index::Query,
    args: &QueryArgs,
) -> anyhow::Result<()> {
    let mut paths = Vec::new();
    let summary = catalog.for_each_match(query, args.sort.into(), 0, args.limit, false, |m| {
        paths.push(m.path);
        Ok(())
    })?;
    if let Some(out) = &args.out {
        let mut sink = Sink::open(Some(out))?;
        let end = if args.print0 { b'\0' } else { b'\n' };
        for path in &paths {
            sink.write_all(path.as_bytes())?;
            sink.write_all(&[end])?;
        }
        sink.finish()?;
    }
    if !args.quiet {
        eprintln!("{}", output::summary_line(&summary));
    }
    super::stage::stage_list(paths, Some(&args.query), &args.staging.options()?)
}
