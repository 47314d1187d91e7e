//! `catalog chiller-server`: a Chiller-compatible staging server.

use std::net::SocketAddr;
use std::num::NonZeroU64;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use catalog_chiller::recall::{RecallCommand, Recaller, Simulation, DEFAULT_RESERVE};
use catalog_chiller::server::{serve, ServerConfig};

use super::args::LimitsArgs;

/// How files are recalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RecallMode {
    /// Model a tape library: a file on tape waits the mount delay and its size divided by the
    /// drive rate, then becomes resident (its blocks allocated, its contents unchanged).
    Simulate,
    /// Read each file through once, which recalls it on an HSM file system.
    Read,
    /// Run the site's recall tool on a list file of the batch (`--recall-command`).
    Command,
}

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
    limits: LimitsArgs,
}

/// Runs the server until SIGTERM or Ctrl-C; one log line per job event goes to stderr.
pub fn run(args: ChillerServerArgs) -> anyhow::Result<()> {
    crate::environment::init_server_log();
    let state_dir = match args.state_dir {
        Some(dir) => dir,
        None => crate::environment::data_dir("chiller", "pass --state-dir")?,
    };
    let recaller = match args.recall {
        RecallMode::Simulate => Recaller::Simulate(Simulation {
            mount_delay: Duration::from_millis(args.mount_delay_ms),
            drive_rate: NonZeroU64::new(args.drive_rate.saturating_mul(1_000_000))
                .context("--drive-rate must be at least 1 MB/s")?,
            reserve: args.reserve_bytes,
        }),
        RecallMode::Read => Recaller::Read,
        RecallMode::Command => Recaller::Command(RecallCommand::new(
            args.recall_command
                .as_deref()
                .context("--recall command needs --recall-command, e.g. \"eeadm recall {list}\"")?,
        )?),
    };
    let config = ServerConfig {
        roots: args.roots,
        state_dir,
        recaller,
        workers: usize::from(args.workers),
        max_body: args.max_list_bytes,
        token: args.token,
        limits: args.limits.limits(),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let served = runtime.block_on(serve(args.listen, config, crate::shutdown::requested()));
    // The workers have stopped; a read the kernel holds (an HSM recall of the file) is not
    // waited for: its job resumes at the next start.
    runtime.shutdown_timeout(Duration::from_secs(5));
    served
}
