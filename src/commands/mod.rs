//! The command line: its definition ([`Cli`]), one module per subcommand turning its arguments
//! into calls on the library, and [`run`], which dispatches to them.

mod args;
mod chiller_server;
mod completions;
mod demo;
mod index;
mod jobs;
mod output;
mod parse;
mod query;
mod sample;
mod serve;
mod stage;
mod stats;

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

/// Index a Sentinel archive's file names and turn queries into staging file lists.
#[derive(Debug, Parser)]
#[command(
    name = "catalog",
    version,
    about,
    long_about = None,
    after_help = "Exit codes: 0 success, 1 error, 2 bad usage or query, 3 another rebuild is running, \
                  4 refused (a root is empty or shrank), 5 a root is missing or unreadable, \
                  6 no index (or one of another schema)"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Crawl archive roots (or read a policy-scan list) and build or update the index.
    Index(index::IndexArgs),
    /// Answer a query with the matching files.
    Query(query::QueryArgs),
    /// Show the fields parsed from product names, one JSON object per name.
    Parse(parse::ParseArgs),
    /// Show what the index holds: documents, size, collections, last build.
    Stats(stats::StatsArgs),
    /// Generate a realistic sample archive in the EODC layout.
    Sample(sample::SampleArgs),
    /// Stage an existing file list through Chiller.
    Stage(stage::StageCommandArgs),
    /// Show the jobs submitted from here, or one job's status.
    Jobs(jobs::JobsArgs),
    /// Run a Chiller-compatible staging server.
    ChillerServer(chiller_server::ChillerServerArgs),
    /// Run the whole mission on a generated sample archive: index, query, stage, recall.
    Demo(demo::DemoArgs),
    /// Serve the catalog over a local HTTP API, with STAC item search.
    Serve(serve::ServeArgs),
    /// Print a shell completion script, e.g. `catalog completions bash`.
    Completions(completions::CompletionsArgs),
    /// Print the manual page (roff), e.g. `catalog man | man -l -`.
    Man,
}

/// Reads the command line, the environment first forgetting variables set empty.
pub fn parse() -> Cli {
    crate::environment::forget_empty(&Cli::command());
    Cli::parse()
}

/// Runs the command the line asked for.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Index(args) => index::run(args),
        Command::Query(args) => query::run(args),
        Command::Parse(args) => parse::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Sample(args) => sample::run(args),
        Command::Stage(args) => stage::run(args),
        Command::Jobs(args) => jobs::run(args),
        Command::ChillerServer(args) => chiller_server::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Completions(args) => completions::run(args, Cli::command()),
        Command::Man => completions::man(Cli::command()),
    }
}

/// The index directory: `--index`, else `CATALOG_INDEX`, else the platform's data directory.
#[derive(Debug, Clone, clap::Args)]
pub struct IndexLocation {
    /// Index directory [default: $CATALOG_INDEX, else the platform's data directory]
    #[arg(long = "index", value_name = "DIR", env = "CATALOG_INDEX")]
    index_dir: Option<PathBuf>,
}

impl IndexLocation {
    /// The directory to use.
    pub fn path(&self) -> anyhow::Result<PathBuf> {
        match &self.index_dir {
            Some(dir) => Ok(dir.clone()),
            None => crate::environment::data_dir("index", "pass --index DIR or set CATALOG_INDEX"),
        }
    }
}
