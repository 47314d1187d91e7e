//! `catalog parse NAME...`: what the catalog reads from product names.

use std::io::Write;

use catalog_index::record::{Entry, FileRecord};

/// Arguments of `catalog parse`.
#[derive(Debug, clap::Args)]
pub struct ParseArgs {
    /// File or directory names (or paths) of products.
    #[arg(required = true, value_name = "NAME")]
    names: Vec<String>,
}

/// Prints one JSON object per name, in order, with every field found in it.
pub fn run(args: ParseArgs) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for name in &args.names {
        let entry = Entry::from_record(&FileRecord {
            path: name.clone(),
            size: None,
            mtime: None,
            state: None,
        });
        serde_json::to_writer(&mut out, &entry)?;
        writeln!(out)?;
    }
    Ok(())
}
