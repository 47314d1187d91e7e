//! One module per subcommand: each turns its arguments into calls on the library.

pub mod args;
pub mod chiller_server;
pub mod completions;
pub mod demo;
pub mod index;
pub mod jobs;
pub mod parse;
pub mod query;
pub mod serve;
pub mod stage;
pub mod stats;

use std::path::PathBuf;

/// The index directory: `--index`, else `CATALOG_INDEX`, else the platform's data directory.
#[derive(Debug, Clone, clap::Args)]
pub struct IndexLocation {
    /// Index directory [default: $CATALOG_INDEX, else the platform's data directory]
    #[arg(long = "index", value_name = "DIR", env = "CATALOG_INDEX")]
    dir: Option<PathBuf>,
}

impl IndexLocation {
    /// The directory to use.
    pub fn path(&self) -> anyhow::Result<PathBuf> {
        match &self.dir {
            Some(dir) => Ok(dir.clone()),
            None => dirs::data_dir()
                .map(|data| data.join("catalog").join("index"))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "no data directory on this platform: pass --index DIR or set CATALOG_INDEX"
                    )
                }),
        }
    }
}
