//! The operator's configuration: a TOML file, environment overrides, embedded defaults.
//!
//! Precedence, lowest first: the defaults below, `botbox.toml` (or `--config FILE`), then the
//! `BOTBOX_*` environment variables listed on [`Config::apply_env`].

use std::{collections::BTreeMap, fmt, net::SocketAddr, path::PathBuf, time::Duration};

use serde::Deserialize;

use crate::{Error, Result};

pub(crate) mod backup_keys;
mod http;
pub mod http_private;
mod module_settings;
mod payments;
mod store;
pub use http::HttpConfig;
pub use module_settings::ModuleSettings;
pub use payments::PaymentsConfig;
pub use store::{DEFAULT_CACHE_MIB, StoreConfig};

/// The longest key a record may have. The runtime's own keys are short (ids, SHA-256 hex) and a
/// module's are at most `sandbox.max_key_bytes` (1 KiB by default), which the configuration
/// keeps at or under this.
pub const MAX_RECORD_KEY: u32 = 64 << 10;
/// The longest value a record may have: the largest thing the store holds is a queued file's
/// bytes (at most 50 MiB, `MAX_FILE_BYTES` of the sandbox's Bot API checks); a module's values are at most
/// `sandbox.max_value_bytes` (1 MiB by default), which the configuration keeps at or under this.
/// A length a record declares is checked against these before anything is read for it, so a
/// small crafted file cannot make a restore allocate gigabytes.
pub const MAX_RECORD_VALUE: u32 = 64 << 20;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the database and compiled-module cache live.
    pub data_dir: PathBuf,
    /// Every `*.wasm` component in this directory is loaded at start.
    pub modules_dir: PathBuf,
    /// The Telegram connection.
    pub telegram: TelegramConfig,
    /// Limits of every module's sandbox.
    pub sandbox: SandboxConfig,
    /// Outgoing message limits.
    pub outbox: OutboxConfig,
    /// The operators' HTTP API.
    pub admin: AdminConfig,
    /// Scheduled backups.
    pub backup: BackupConfig,
    /// Modules' HTTP: the listener for `/modules/<name>/...` and the limits both ways.
    pub http: HttpConfig,
    /// Payments: the deadline of pre-checkout answers.
    pub payments: PaymentsConfig,
    /// The database: how much memory its page cache may keep.
    pub store: StoreConfig,
    /// Per-module settings, by module name.
    pub modules: BTreeMap<String, ModuleSettings>,
    /// How `botbox run` writes its log: `text` or `json` (`BOTBOX_LOG_FORMAT`).
    pub log_format: LogFormat,
}

/// How the log is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Text,
    /// One JSON object per line, for log collectors (journald, Loki, Elasticsearch...).
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<LogFormat> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(Error::Config(format!(
                "the log format must be `text` or `json`, not `{other}`"
            ))),
        }
    }
}

/// Scheduled backups (see `botbox::backup`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    /// Seconds between snapshots; 0 turns scheduled backups off.
    pub interval_secs: u64,
    /// How many snapshots to keep; older ones are deleted.
    pub keep: usize,
    /// Where snapshots go; empty: `<data_dir>/backups`.
    pub dir: PathBuf,
    /// The operators' chat: every scheduled snapshot, and one at shutdown, is also sent there
    /// as documents, and `botbox restore --from-telegram` restores from there.
    pub telegram_chat_id: Option<i64>,
    /// The largest document part sent to Telegram (at most 20 MB, what a bot may download).
    pub telegram_part_bytes: usize,
    /// age public keys (`age1…`, from `age-keygen`) to encrypt every snapshot to: scheduled
    /// ones, `botbox backup` and those sent to Telegram. Restoring needs a matching identity
    /// file (`botbox restore --identity FILE`), which the operator keeps off the server.
    pub encrypt_to: Vec<String>,
    /// A file whose first line is a passphrase to encrypt every snapshot with instead (age's
    /// scrypt mode; not together with `encrypt_to`). Restoring needs `--passphrase-file`.
    pub passphrase_file: Option<PathBuf>,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            interval_secs: 0,
            keep: 7,
            dir: PathBuf::new(),
            telegram_chat_id: None,
            telegram_part_bytes: 20_000_000,
            encrypt_to: Vec::new(),
            passphrase_file: None,
        }
    }
}

impl Config {
    /// Where scheduled and `botbox backup` snapshots go.
    pub fn backup_dir(&self) -> PathBuf {
        if self.backup.dir.as_os_str().is_empty() {
            self.data_dir.join("backups")
        } else {
            self.backup.dir.clone()
        }
    }
}

/// The operators' HTTP API (see `botbox::admin`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Where it listens (`BOTBOX_ADMIN_LISTEN`); port 0 picks a free one. The address in use is
    /// written to `<data_dir>/admin.addr` for the CLI.
    pub listen: SocketAddr,
    /// The bearer token (`BOTBOX_ADMIN_TOKEN`); empty: one is made and kept in
    /// `<data_dir>/admin.token`.
    pub token: Secret,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: ([127, 0, 0, 1], 0).into(),
            token: Secret::default(),
        }
    }
}

/// The Bot API token. Its `Debug` and `Display` never show it.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Whether no secret is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<unset>"
        } else {
            "<redacted>"
        })
    }
}

/// How updates arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `getUpdates` long polling.
    Polling,
    /// Telegram POSTs updates to our HTTP server.
    Webhook,
}

/// The Telegram connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelegramConfig {
    /// The bot token from @BotFather (`BOTBOX_TOKEN`).
    pub token: Secret,
    /// The Bot API server (`BOTBOX_API_URL`).
    pub api_url: String,
    /// Polling or webhook (`BOTBOX_MODE`).
    pub mode: Mode,
    /// Long-poll timeout in seconds.
    pub poll_timeout_secs: u32,
    /// Webhook settings.
    pub webhook: WebhookConfig,
    /// The bot's operators, as Telegram user ids (`BOTBOX_OPERATORS`, comma-separated): they
    /// may install modules by sending them to the bot (`/install`, `/modules`, `/rollback`),
    /// use modules' admin-only commands and hear about modules the circuit breaker stopped.
    pub operators: Vec<i64>,
    /// How long an update's acknowledgement may wait for its handling, in milliseconds, when
    /// its module can handle it at once: record and handling are then one commit (one fsync
    /// instead of two). Past it the update is recorded alone. 0 always records first.
    pub handle_at_once_ms: u64,
}

/// Webhook settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where our HTTP server listens (`BOTBOX_WEBHOOK_LISTEN`).
    pub listen: SocketAddr,
    /// The public HTTPS URL Telegram posts to, registered with setWebhook at start
    /// (`BOTBOX_WEBHOOK_URL`). When empty the webhook is assumed to be registered already.
    pub url: String,
    /// The secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token` (`BOTBOX_WEBHOOK_SECRET`).
    pub secret: Secret,
    /// Largest accepted update body.
    pub max_body_bytes: usize,
    /// How many connections Telegram may open at once.
    pub max_connections: u8,
}

/// Limits of every module's sandbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Instances per module; a chat always goes to the same one.
    pub shards: usize,
    /// Linear memory per instance, in MiB.
    pub memory_mib: u64,
    /// CPU time one call may take before it is stopped, in milliseconds.
    pub call_timeout_ms: u64,
    /// Wall-clock time one call (`init`, an update, a timer) may take, waiting included (on a
    /// sleep, on an HTTP peer), in milliseconds; at least `call_timeout_ms`.
    pub wall_timeout_ms: u64,
    /// Updates that may wait in one shard's queue; past that, a module's new updates stay
    /// recorded in the database and are handed over as its queue drains (no one else waits).
    pub shard_queue: usize,
    /// How often a failing update is tried before it is quarantined.
    pub max_attempts: u32,
    /// Largest KV key, in bytes.
    pub max_key_bytes: usize,
    /// Largest KV value, in bytes.
    pub max_value_bytes: usize,
    /// Most entries one scan returns.
    pub max_scan_entries: u32,
    /// Log lines per module per minute; the rest are counted and dropped.
    pub log_lines_per_minute: u32,
    /// KV bytes (keys plus values) a module may keep unless its manifest says otherwise.
    pub kv_max_bytes: u64,
    /// KV keys a module may keep unless its manifest says otherwise.
    pub kv_max_keys: u64,
    /// WebAssembly stack per call, in KiB: deeper recursion traps ("call stack exhausted").
    pub max_stack_kib: usize,
    /// Elements one instance's tables may grow to (function pointers and resources).
    pub max_table_elements: usize,
    /// Updates quarantined in a row after which a module is stopped (the circuit breaker) and
    /// the operators are told; 0 turns the breaker off.
    pub breaker_quarantines: u32,
    /// How often the modules directory is looked at for new, replaced and removed files, in
    /// milliseconds; 0 turns watching off.
    pub watch_interval_ms: u64,
    /// Guest log lines kept per module for `botbox module logs`.
    pub log_lines_kept: usize,
    /// Timers a module may have pending.
    pub max_timers: u64,
    /// Bytes a module's pending timers may take in the store (their records: payload in hex,
    /// chat, module name).
    pub max_timer_bytes: u64,
}

/// Outgoing message limits (Telegram's Bot FAQ).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxConfig {
    /// Messages per second to one chat, sustained.
    pub chat_per_second: f64,
    /// Messages one chat may get at once before `chat_per_second` applies.
    pub chat_burst: u32,
    /// Messages per minute to one group or supergroup.
    pub group_per_minute: u32,
    /// Messages per second to all chats together.
    pub global_per_second: u32,
    /// Requests in flight to the Bot API at once.
    pub max_in_flight: usize,
    /// While bulk messages wait, at least one send in this many is bulk (so broadcasts are
    /// never starved by a steady stream of replies).
    pub bulk_share: u32,
    /// Send bulk messages as paid broadcasts (`allow_paid_broadcast`, billed in Telegram Stars),
    /// at up to `paid_broadcast_per_second` instead of `global_per_second`.
    pub paid_broadcast: bool,
    /// The paid-broadcast rate (Telegram allows up to 1000/s).
    pub paid_broadcast_per_second: u32,
    /// How long a message that keeps failing (network errors, 5xx) is retried, from its first
    /// failure, before it is given up, in seconds.
    pub retry_for_secs: u64,
    /// The longest wait between two tries of a failing message, in milliseconds.
    pub retry_max_backoff_ms: u64,
    /// Bytes of text and keyboards one module may have waiting in the outbox; past them its
    /// sends are refused with an error value until some leave.
    pub module_max_queued_bytes: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: "data".into(),
            modules_dir: "modules".into(),
            telegram: TelegramConfig::default(),
            sandbox: SandboxConfig::default(),
            outbox: OutboxConfig::default(),
            admin: AdminConfig::default(),
            backup: BackupConfig::default(),
            http: HttpConfig::default(),
            payments: PaymentsConfig::default(),
            store: StoreConfig::default(),
            modules: BTreeMap::new(),
            log_format: LogFormat::Text,
        }
    }
}

impl Default for TelegramConfig {
    fn default() -> Self {
        TelegramConfig {
            token: Secret::default(),
            api_url: "https://api.telegram.org".into(),
            mode: Mode::Polling,
            poll_timeout_secs: 30,
            webhook: WebhookConfig::default(),
            operators: Vec::new(),
            handle_at_once_ms: 5,
        }
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            listen: ([127, 0, 0, 1], 8443).into(),
            url: String::new(),
            secret: Secret::default(),
            max_body_bytes: 1 << 20,
            max_connections: 40,
        }
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            shards: 2,
            memory_mib: 64,
            call_timeout_ms: 1000,
            wall_timeout_ms: 60_000,
            shard_queue: 4096,
            max_attempts: 3,
            max_key_bytes: 1024,
            max_value_bytes: 1 << 20,
            max_scan_entries: 1000,
            log_lines_per_minute: 600,
            kv_max_bytes: 64 << 20,
            kv_max_keys: 1_000_000,
            max_stack_kib: 512,
            max_table_elements: 20_000,
            breaker_quarantines: 5,
            watch_interval_ms: 1000,
            log_lines_kept: 200,
            max_timers: 1_000_000,
            max_timer_bytes: 64 << 20,
        }
    }
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            chat_per_second: 1.0,
            chat_burst: 3,
            group_per_minute: 20,
            global_per_second: 30,
            max_in_flight: 16,
            bulk_share: 10,
            paid_broadcast: false,
            paid_broadcast_per_second: 1000,
            retry_for_secs: 86_400,
            retry_max_backoff_ms: 60_000,
            module_max_queued_bytes: 64 << 20,
        }
    }
}

impl Config {
    /// Reads `path` (when given) over the defaults, then applies the environment.
    pub fn load(path: Option<&std::path::Path>) -> Result<Config> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
                Config::from_toml(&text)
                    .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
            }
            None => Config::default(),
        };
        config.apply_env(|k| std::env::var(k).ok())?;
        Ok(config)
    }

    /// Parses a TOML text over the defaults.
    pub fn from_toml(text: &str) -> Result<Config> {
        toml::from_str(text).map_err(|e| Error::Config(e.to_string()))
    }

    /// Applies `BOTBOX_TOKEN`, `BOTBOX_API_URL`, `BOTBOX_MODE`, `BOTBOX_DATA_DIR`,
    /// `BOTBOX_MODULES_DIR`, `BOTBOX_STORE_URL`, `BOTBOX_WEBHOOK_LISTEN`, `BOTBOX_WEBHOOK_URL` and
    /// `BOTBOX_WEBHOOK_SECRET`, read through `var`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<()> {
        if let Some(v) = var("BOTBOX_TOKEN") {
            self.telegram.token = Secret::new(v);
        }
        if let Some(v) = var("BOTBOX_API_URL") {
            self.telegram.api_url = v;
        }
        if let Some(v) = var("BOTBOX_MODE") {
            self.telegram.mode = match v.as_str() {
                "polling" => Mode::Polling,
                "webhook" => Mode::Webhook,
                other => {
                    return Err(Error::Config(format!(
                        "BOTBOX_MODE must be `polling` or `webhook`, not `{other}`"
                    )));
                }
            };
        }
        if let Some(v) = var("BOTBOX_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = var("BOTBOX_MODULES_DIR") {
            self.modules_dir = v.into();
        }
        if let Some(v) = var("BOTBOX_WEBHOOK_LISTEN") {
            self.telegram.webhook.listen = v.parse().map_err(|e| {
                Error::Config(format!("BOTBOX_WEBHOOK_LISTEN `{v}` is not host:port: {e}"))
            })?;
        }
        if let Some(v) = var("BOTBOX_WEBHOOK_URL") {
            self.telegram.webhook.url = v;
        }
        if let Some(v) = var("BOTBOX_STORE_URL") {
            self.store.url = Secret::new(v);
        }
        if let Some(v) = var("BOTBOX_WEBHOOK_SECRET") {
            self.telegram.webhook.secret = Secret::new(v);
        }
        if let Some(v) = var("BOTBOX_OPERATORS") {
            self.telegram.operators = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse().map_err(|_| {
                        Error::Config(format!(
                            "BOTBOX_OPERATORS: `{s}` is not a Telegram user id (a number)"
                        ))
                    })
                })
                .collect::<Result<_>>()?;
        }
        if let Some(v) = var("BOTBOX_ADMIN_TOKEN") {
            self.admin.token = Secret::new(v);
        }
        if let Some(v) = var("BOTBOX_LOG_FORMAT") {
            self.log_format = v.parse()?;
        }
        if let Some(v) = var("BOTBOX_HTTP_ADDR") {
            self.http.addr = v;
        }
        if let Some(v) = var("BOTBOX_ADMIN_LISTEN") {
            self.admin.listen = v.parse().map_err(|e| {
                Error::Config(format!("BOTBOX_ADMIN_LISTEN `{v}` is not host:port: {e}"))
            })?;
        }
        Ok(())
    }

    /// CPU time one call may take.
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.sandbox.call_timeout_ms)
    }

    /// The host's KV size limits (keys, values, scans).
    pub fn kv_limits(&self) -> crate::store::kv::KvLimits {
        crate::store::kv::KvLimits {
            max_key: self.sandbox.max_key_bytes,
            max_value: self.sandbox.max_value_bytes,
            max_scan: self.sandbox.max_scan_entries,
        }
    }

    /// The host's default KV quota of a module (before its manifest and the operator narrow it).
    pub fn kv_quota(&self) -> crate::store::kv::Quota {
        crate::store::kv::Quota {
            max_bytes: self.sandbox.kv_max_bytes,
            max_keys: self.sandbox.kv_max_keys,
        }
    }
}

mod validate;

#[cfg(test)]
mod tests;
