//! `catalog serve`: the local HTTP API.

use std::net::SocketAddr;

use super::args::{ChillerArgs, LedgerLocation, LimitsArgs};
use super::IndexLocation;
use crate::serve::{serve, ServeConfig};

/// Arguments of `catalog serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    index: IndexLocation,
    /// Address to listen on (port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    chiller: ChillerArgs,
    #[command(flatten)]
    ledger: LedgerLocation,
    /// Bearer token required on every call
    #[arg(long = "api-token", env = "CATALOG_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    #[command(flatten)]
    limits: LimitsArgs,
}

/// Serves until SIGTERM or Ctrl-C.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    crate::environment::init_server_log();
    let config = ServeConfig {
        index: args.index.path()?,
        chiller: args.chiller.options(),
        ledger: args.ledger.path()?,
        token: args.api_token,
        limits: args.limits.limits(),
    };
    tokio::runtime::Runtime::new()?.block_on(serve(args.listen, config))
}
