//! `catalog`: index an earth-observation archive's file names, answer queries with complete file
//! lists, and stage them through a Chiller-compatible tape recall service.

mod commands;
mod environment;
mod exit;
mod freshness;
mod output;
mod progress;
mod sample;
mod serve;
mod shutdown;

use std::process::ExitCode;

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
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Crawl archive roots (or read a policy-scan list) and build or update the index.
    Index(commands::index::IndexArgs),
    /// Answer a query with the matching files.
    Query(commands::query::QueryArgs),
    /// Show the fields parsed from product names, one JSON object per name.
    Parse(commands::parse::ParseArgs),
    /// Show what the index holds: documents, size, collections, last build.
    Stats(commands::stats::StatsArgs),
    /// Generate a realistic sample archive in the EODC layout.
    Sample(sample::SampleArgs),
    /// Stage an existing file list through Chiller.
    Stage(commands::stage::StageCommandArgs),
    /// Show the jobs submitted from here, or one job's status.
    Jobs(commands::jobs::JobsArgs),
    /// Run a Chiller-compatible staging server.
    ChillerServer(commands::chiller_server::ChillerServerArgs),
    /// Run the whole mission on a generated sample archive: index, query, stage, recall.
    Demo(commands::demo::DemoArgs),
    /// Serve the catalog over a local HTTP API, with STAC item search.
    Serve(commands::serve::ServeArgs),
    /// Print a shell completion script, e.g. `catalog completions bash`.
    Completions(commands::completions::CompletionsArgs),
    /// Print the manual page (roff), e.g. `catalog man | man -l -`.
    Man,
}

fn main() -> ExitCode {
    environment::forget_empty(&Cli::command());
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Index(args) => commands::index::run(args),
        Command::Query(args) => commands::query::run(args),
        Command::Parse(args) => commands::parse::run(args),
        Command::Stats(args) => commands::stats::run(args),
        Command::Sample(args) => sample::run(args),
        Command::Stage(args) => commands::stage::run(args),
        Command::Jobs(args) => commands::jobs::run(args),
        Command::ChillerServer(args) => commands::chiller_server::run(args),
        Command::Demo(args) => commands::demo::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Completions(args) => commands::completions::run(args, Cli::command()),
        Command::Man => commands::completions::man(Cli::command()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stops early (`| head`) is no failure, whatever the command.
        Err(error) if exit::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("catalog: {}", exit::one_line(&error));
            ExitCode::from(exit::code(&error))
        }
    }
}
