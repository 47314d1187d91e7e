//! `catalog stats`: what the index holds and how its last build went.

use std::io::Write;

use catalog_index::layout::Freshness;
use catalog_index::Catalog;
use indicatif::HumanBytes;

use super::IndexLocation;
use crate::freshness;

/// Arguments of `catalog stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    index: IndexLocation,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

/// Prints documents, size on disk, per-collection counts, the last build and how fresh the
/// index is.
pub fn run(args: StatsArgs) -> anyhow::Result<()> {
    let catalog = Catalog::open(&args.index.path()?)?;
    let info = catalog.info();
    let collections = catalog.collections()?;
    let now = time::OffsetDateTime::now_utc();
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = freshness::stats_json(&catalog, &collections, now);
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    writeln!(out, "index:       {}", catalog.dir().display())?;
    writeln!(out, "documents:   {}", catalog.documents())?;
    writeln!(out, "size:        {}", HumanBytes(catalog.size_on_disk()))?;
    writeln!(
        out,
        "last build:  {} ({:.1} s)",
        info.built_at, info.seconds
    )?;
    let crawled = freshness::crawled_at(info);
    writeln!(
        out,
        "crawled:     {}",
        freshness::display_time(crawled.as_deref())
    )?;
    writeln!(
        out,
        "age:         {}",
        freshness::age_seconds(info, now).map_or_else(|| "-".to_string(), freshness::human_age)
    )?;
    writeln!(
        out,
        "errors:      {} ({}); {} malformed list lines",
        info.errors.total(),
        info.errors,
        info.malformed_lines
    )?;
    for root in &info.roots {
        writeln!(
            out,
            "root:        {} ({} files; {})",
            root.root,
            root.files,
            times(&root.freshness)
        )?;
    }
    writeln!(out, "collections: {}", collections.len())?;
    if !collections.is_empty() {
        writeln!(
            out,
            "  {:<28} {:>12}  {:<20}  {:<20}  restat",
            "collection", "documents", "crawled", "updated"
        )?;
    }
    for (name, count) in &collections {
        let times = info.collections.get(name).cloned().unwrap_or_default();
        writeln!(
            out,
            "  {name:<28} {count:>12}  {:<20}  {:<20}  {}",
            show(&times.crawled_at),
            show(&times.updated_at),
            show(&times.restat_at)
        )?;
    }
    Ok(())
}

/// `crawled T, updated T, restat T`, each `-` when unknown.
fn times(freshness: &Freshness) -> String {
    format!(
        "crawled {}, updated {}, restat {}",
        show(&freshness.crawled_at),
        show(&freshness.updated_at),
        show(&freshness.restat_at)
    )
}

/// A time to the second, or `-`.
fn show(time: &Option<String>) -> String {
    freshness::display_time(time.as_deref())
}
