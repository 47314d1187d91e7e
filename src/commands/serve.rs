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
    /// An origin whose web pages may read the API (CORS), e.g. https://radiantearth.github.io;
    /// repeat for more. Default: any. Staging is never open to other origins.
    #[arg(long = "cors-origin", value_name = "ORIGIN", value_parser = origin)]
    cors_origins: Vec<String>,
}

/// An origin as browsers send it: `scheme://host[:port]`, nothing after.
fn origin(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#']) && text.is_ascii() => {
            Ok(text.to_string())
        }
        _ => Err(format!(
            "'{text}' is no origin: it is scheme://host[:port], e.g. https://example.org"
        )),
    }
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
        cors_origins: args.cors_origins,
    };
    tokio::runtime::Runtime::new()?.block_on(serve(args.listen, config))
}
