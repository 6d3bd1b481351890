//! Command-line flags and their environment variables.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Downloads links the bot's download-queue module hands out, into a folder per quality.
#[derive(Debug, Clone, Parser)]
#[command(version, about)]
pub struct Settings {
    /// The module's gRPC endpoint: the bot's `[http] addr` and `/modules/<module name>`.
    #[arg(long, env = "DQ_BOT_URL")]
    pub bot_url: String,
    /// This downloader's name, unique among the bot's downloaders; routing rules use it.
    #[arg(long, env = "DQ_NAME")]
    pub name: String,
    /// The address to serve the Downloader service at (port 0: any free port).
    #[arg(long, env = "DQ_LISTEN", default_value = "127.0.0.1:50061")]
    pub listen: String,
    /// The URL the bot reaches this downloader at, when it is not `http://<listen address>`
    /// (behind NAT, a proxy, in a container).
    #[arg(long, env = "DQ_ADVERTISE")]
    pub advertise: Option<String>,
    /// A TOML file with `listen` and optionally `advertise`, overriding the flags; re-read on
    /// SIGHUP, and a change moves the service and registers the new address.
    #[arg(long, env = "DQ_ADDRESS_FILE")]
    pub address_file: Option<PathBuf>,
    /// Where files go: `<dir>/<quality>/<file name>`.
    #[arg(long, env = "DQ_DIR", default_value = "downloads")]
    pub dir: PathBuf,
    /// The module's `registry_token` setting (required: the module accepts no downloader
    /// without it).
    #[arg(long, env = "DQ_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Hosts inside this network that links may still name (comma-separated, as written in
    /// links or as addresses: `127.0.0.1,nas.lan`). Any other link, redirect or name that
    /// resolves to a loopback, private, link-local (cloud metadata) or other internal
    /// address is refused.
    #[arg(long, env = "DQ_INTERNAL_HOSTS", default_value = "")]
    pub internal_hosts: String,
    /// Seconds one download may take in all (redirects, waiting and the body); then it fails.
    #[arg(long, env = "DQ_TIMEOUT_SECS", default_value_t = 3600)]
    pub timeout_secs: u64,
    /// Seconds between registrations while nothing changes (so a bot that lost its records,
    /// or restarted with new data, learns of this downloader again).
    #[arg(long, env = "DQ_REGISTER_EVERY", default_value_t = 60)]
    pub register_every: u64,
    /// Downloads running at once; more accepted jobs wait.
    #[arg(long, env = "DQ_MAX_PARALLEL", default_value_t = 4)]
    pub max_parallel: usize,
    /// Jobs accepted and not finished, at most; more are refused as busy.
    #[arg(long, env = "DQ_MAX_JOBS", default_value_t = 100)]
    pub max_jobs: usize,
    /// The largest file downloaded, in bytes; a larger one fails the job.
    #[arg(long, env = "DQ_MAX_BYTES", default_value_t = 4 << 30)]
    pub max_bytes: u64,
    /// While this file exists, new jobs are refused with its first line as the reason (to
    /// drain the downloader before maintenance).
    #[arg(long, env = "DQ_PAUSE_FILE")]
    pub pause_file: Option<PathBuf>,
    /// Appends one JSON line per accepted job and per finished job to this file.
    #[arg(long, env = "DQ_JOURNAL")]
    pub journal: Option<PathBuf>,
}

impl Settings {
    /// The time one download may take, at least one second.
    pub fn total_timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }

    /// Refuses settings the downloader cannot work with; the error names the flag.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.token.trim().is_empty() {
            anyhow::bail!(
                "--token (DQ_TOKEN) is empty: give the download-queue module's registry_token \
                 (the module accepts no downloader without one)"
            );
        }
        Ok(())
    }

    /// The interval between registrations, at least one second.
    pub fn register_interval(&self) -> Duration {
        Duration::from_secs(self.register_every.max(1))
    }
}
