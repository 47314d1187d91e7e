//! `catalog stats`: what the index holds and how its last build went.

use catalog_index::Catalog;
use indicatif::HumanBytes;

use super::IndexLocation;

/// Arguments of `catalog stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    index: IndexLocation,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

/// Prints documents, size on disk, per-collection counts and the last build.
pub fn run(args: StatsArgs) -> anyhow::Result<()> {
    let catalog = Catalog::open(&args.index.path()?)?;
    let info = catalog.info();
    let collections = catalog.collections()?;
    if args.json {
        let value = serde_json::json!({
            "index": catalog.dir(),
            "documents": catalog.documents(),
            "bytes": catalog.size_on_disk(),
            "collections": collections.iter().map(|(name, count)| serde_json::json!({"collection": name, "documents": count})).collect::<Vec<_>>(),
            "build": info,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("index:       {}", catalog.dir().display());
    println!("documents:   {}", catalog.documents());
    println!("size:        {}", HumanBytes(catalog.size_on_disk()));
    println!("last build:  {} ({:.1} s)", info.built_at, info.seconds);
    println!(
        "errors:      {} ({}); {} malformed list lines",
        info.errors.total(),
        info.errors,
        info.malformed_lines
    );
    for root in &info.roots {
        println!("root:        {} ({} files)", root.root, root.files);
    }
    println!("collections: {}", collections.len());
    for (name, count) in &collections {
        println!("  {name:<28} {count:>12}");
    }
    Ok(())
}
