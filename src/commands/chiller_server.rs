//! `catalog chiller-server`: a Chiller-compatible staging server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::chiller::recall::{RecallMode, Recaller, DEFAULT_RESERVE};
use crate::chiller::server::{serve, ServerConfig};

/// Arguments of `catalog chiller-server`.
#[derive(Debug, clap::Args)]
pub struct ChillerServerArgs {
    /// Address to listen on; loopback unless told otherwise (port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:8099")]
    listen: SocketAddr,
    /// Directory whose files may be staged; repeat for several
    #[arg(long = "root", value_name = "DIR", required = true)]
    roots: Vec<PathBuf>,
    /// Where jobs persist [default: the platform's data directory]
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// How files are recalled
    #[arg(long, value_enum, default_value = "simulate")]
    recall: RecallMode,
    /// For --recall command: the site's recall tool, `{list}` naming the batch's list file
    /// (e.g. "eeadm recall {list}" or "dsmrecall -filelist={list}")
    #[arg(long, value_name = "COMMAND", required_if_eq("recall", "command"))]
    recall_command: Option<String>,
    /// For --recall simulate: the tape mount before each file on tape, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 200)]
    mount_delay_ms: u64,
    /// For --recall simulate: the drive's rate in MB/s
    #[arg(long, value_name = "MB_PER_S", default_value_t = 4000)]
    drive_rate: u64,
    /// For --recall simulate: bytes the file system keeps free; a file whose allocation would
    /// leave less fails [default: 1 GiB]
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_RESERVE, hide_default_value = true)]
    reserve_bytes: u64,
    /// Recalls running at once (tape drives)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    workers: u16,
    /// Largest accepted list, in bytes (larger ones get 413)
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    max_list_bytes: usize,
    /// Bearer token required on every call
    #[arg(long, env = "CHILLER_SERVER_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(flatten)]
    limits: crate::limits::Limits,
}

/// Runs the server until SIGTERM or Ctrl-C; one log line per job event goes to stderr.
pub fn run(args: ChillerServerArgs) -> anyhow::Result<()> {
    crate::environment::init_server_log();
    let state_dir = match args.state_dir {
        Some(dir) => dir,
        None => dirs::data_dir()
            .context("no data directory on this platform: pass --state-dir")?
            .join("catalog")
            .join("chiller"),
    };
    let config = ServerConfig {
        roots: args.roots,
        state_dir,
        recaller: Recaller {
            mode: args.recall,
            command: args.recall_command,
            mount_delay: Duration::from_millis(args.mount_delay_ms),
            drive_rate: args.drive_rate.saturating_mul(1_000_000),
            reserve: args.reserve_bytes,
        },
        workers: usize::from(args.workers),
        max_body: args.max_list_bytes,
        token: args.token,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let served = runtime.block_on(serve(args.listen, config, args.limits));
    // A recall running in a blocking thread is not waited for: its job resumes at the next start.
    runtime.shutdown_timeout(Duration::from_secs(5));
    served
}
