//! Command-line options several commands share, and their conversion, once, into the plain
//! option structs of the library crates: where Chiller is and how a list is staged, the job
//! ledger, and a server's limits. Each is resolved flag first, then environment, then default;
//! an empty variable counts as unset (see `environment`).

use std::path::PathBuf;
use std::time::Duration;

use catalog_chiller::client::{DEFAULT_TIMEOUT, DEFAULT_URL};
use catalog_chiller::{ClientOptions, StageOptions};
use catalog_http::Limits;

/// Which Chiller to talk to.
#[derive(Debug, Clone, clap::Args)]
pub struct ChillerArgs {
    /// Chiller server URL
    #[arg(long = "chiller", value_name = "URL", env = "CHILLER_URL", default_value = DEFAULT_URL)]
    pub url: String,
    #[command(flatten)]
    pub access: ChillerAccess,
}

impl ChillerArgs {
    /// The client's options.
    pub fn options(&self) -> ClientOptions {
        self.access.options(&self.url)
    }
}

/// How to talk to a Chiller: its token and how long to wait for it.
#[derive(Debug, Clone, clap::Args)]
pub struct ChillerAccess {
    /// Bearer token for the server
    #[arg(long, env = "CHILLER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Wait at most this long for each answer of the server (the upload's, each status
    /// call's); connecting takes at most 10 s
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TIMEOUT.as_secs_f64(), value_parser = http_timeout)]
    pub http_timeout: f64,
}

impl ChillerAccess {
    /// The client's options for the server at `url`.
    pub fn options(&self, url: &str) -> ClientOptions {
        ClientOptions {
            url: url.to_string(),
            token: self.token.clone(),
            http_timeout: Duration::from_secs_f64(self.http_timeout),
        }
    }
}

/// `--http-timeout`: a positive number of seconds, at most a day.
fn http_timeout(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= 86_400.0 => Ok(seconds),
        _ => Err(format!(
            "'{text}' is no timeout: give a number of seconds above 0, at most 86400"
        )),
    }
}

/// The job ledger: `--ledger`, else `CATALOG_LEDGER`, else the platform's data directory.
#[derive(Debug, Clone, clap::Args)]
pub struct LedgerLocation {
    /// Directory of the ledger of submitted jobs [default: $CATALOG_LEDGER, else the
    /// platform's data directory]
    #[arg(long = "ledger", value_name = "DIR", env = "CATALOG_LEDGER")]
    ledger: Option<PathBuf>,
}

impl LedgerLocation {
    /// The directory to use.
    pub fn path(&self) -> anyhow::Result<PathBuf> {
        match &self.ledger {
            Some(dir) => Ok(dir.clone()),
            None => crate::environment::data_dir("jobs", "pass --ledger DIR or set CATALOG_LEDGER"),
        }
    }
}

/// How a list is staged: the flags shared by `catalog stage` and `catalog query --stage`.
#[derive(Debug, Clone, clap::Args)]
pub struct StageArgs {
    #[command(flatten)]
    pub chiller: ChillerArgs,
    #[command(flatten)]
    pub ledger: LedgerLocation,
    /// Wait until the jobs are finished, showing progress on a terminal
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this many seconds (exit 1; the jobs go on)
    #[arg(long, value_name = "SECONDS", requires = "wait")]
    pub timeout: Option<u64>,
    /// Stage files already on disk too
    #[arg(long)]
    pub all: bool,
    /// Split the list into jobs of at most N files (default: one job)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: Option<u64>,
}

impl StageArgs {
    /// The staging options.
    pub fn options(&self) -> anyhow::Result<StageOptions> {
        Ok(StageOptions {
            chiller: self.chiller.options(),
            ledger: self.ledger.path()?,
            wait: self.wait,
            timeout: self.timeout.map(Duration::from_secs),
            include_on_disk: self.all,
            batch_size: self
                .batch_size
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        })
    }
}

/// The limits of a server.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitsArgs {
    /// Time a connection has to send a request's whole head, from its opening or from its
    /// previous answer: a kept-alive connection idle that long is closed too
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    header_timeout: Duration,
    /// Time a request body may take to arrive (else 408) and, in `catalog serve`, a request
    /// until its answer starts (else 503)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    request_timeout: Duration,
    /// Connections served at once; more wait to be accepted until one closes (at most the
    /// open-file limit less 128)
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
}

impl LimitsArgs {
    /// The server's limits.
    pub fn limits(&self) -> Limits {
        Limits {
            header_timeout: self.header_timeout,
            request_timeout: self.request_timeout,
            max_connections: self.max_connections,
        }
    }
}
