//! Operator commands on the bot's data: `botbox kv ...`, `botbox backup`, `botbox restore`.
//!
//! Each works on a running runtime (through its admin API, found through `<data_dir>/admin.addr`
//! and `admin.token`) and on a stopped one (on the database directly). Which one is decided by
//! the database's lock: if this process can open the database, the runtime is not running.

use std::{io::Read, path::PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use tokio::sync::{mpsc, watch};

use crate::{
    Config, Error,
    admin::{
        self,
        kv_ops::{KvOps, Line},
    },
    backup,
    store::{Committer, Db, kv::Quota},
};

/// `botbox kv ...`: read and change a module's KV namespace. Keys and values are text unless
/// `--hex` is given.
#[derive(Debug, Subcommand)]
pub enum KvCommand {
    /// Prints the value of a key.
    Get {
        /// The module.
        module: String,
        /// The key.
        key: String,
        /// Key given and value printed in hex.
        #[arg(long)]
        hex: bool,
    },
    /// Stores a value (`-` reads it from standard input).
    Set {
        /// The module.
        module: String,
        /// The key.
        key: String,
        /// The value, or `-` for standard input.
        value: String,
        /// Key and value given in hex.
        #[arg(long)]
        hex: bool,
    },
    /// Removes a key.
    Del {
        /// The module.
        module: String,
        /// The key.
        key: String,
        /// Key given in hex.
        #[arg(long)]
        hex: bool,
    },
    /// Lists keys and values with a prefix, in key order.
    Scan {
        /// The module.
        module: String,
        /// The prefix (all keys when absent).
        #[arg(default_value = "")]
        prefix: String,
        /// At most this many entries.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Writes every entry as JSON lines (to a file, or standard output).
    Export {
        /// The module.
        module: String,
        /// The file; standard output when absent.
        file: Option<PathBuf>,
    },
    /// Reads JSON lines (as `export` writes them) and stores them all, atomically.
    Import {
        /// The module.
        module: String,
        /// The file; standard input when absent.
        file: Option<PathBuf>,
    },
}

enum Target {
    Online {
        url: String,
        token: String,
        http: reqwest::Client,
    },
    Offline {
        db: std::sync::Arc<Db>,
        ops: Box<KvOps>,
        _keep: (
            mpsc::UnboundedReceiver<(u64, crate::outbox::Entry)>,
            watch::Receiver<Option<String>>,
        ),
    },
}

async fn target(config: &Config) -> anyhow::Result<Target> {
    let dir = &config.data_dir;
    if !dir.join("botbox.redb").exists() {
        bail!(
            "no botbox database in {} (set data_dir or BOTBOX_DATA_DIR)",
            dir.display()
        );
    }
    match Db::open(dir) {
        Ok(db) => {
            let db = std::sync::Arc::new(db);
            let (tx, rx) = mpsc::unbounded_channel();
            let (fatal, fatal_rx) = watch::channel(None);
            let committer = Committer::start(db.raw().clone(), tx, fatal)?;
            let quota = Quota {
                max_bytes: config.sandbox.kv_max_bytes,
                max_keys: config.sandbox.kv_max_keys,
            };
            let ops = KvOps::offline(db.clone(), committer, crate::kv_limits(config), quota);
            Ok(Target::Offline {
                db,
                ops: Box::new(ops),
                _keep: (rx, fatal_rx),
            })
        }
        Err(Error::Database(redb::Error::DatabaseAlreadyOpen)) => {
            let addr = std::fs::read_to_string(admin::addr_path(dir))
                .context("the bot is running but its admin address is unknown (no admin.addr)")?;
            let token = admin::token(config.admin.token.expose(), dir)?;
            Ok(Target::Online {
                url: format!("http://{}", addr.trim()),
                token,
                http: reqwest::Client::new(),
            })
        }
        Err(e) => Err(e).context("cannot open the database"),
    }
}

fn bytes_of(s: &str, hex: bool) -> anyhow::Result<Vec<u8>> {
    if hex {
        hex::decode(s).context("not hex")
    } else {
        Ok(s.as_bytes().to_vec())
    }
}

fn show(v: &[u8], hex: bool) -> String {
    match (hex, std::str::from_utf8(v)) {
        (false, Ok(t)) => t.to_string(),
        _ => hex::encode(v),
    }
}

async fn call(
    url: &str,
    token: &str,
    req: reqwest::RequestBuilder,
) -> anyhow::Result<reqwest::Response> {
    let resp = req
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("cannot reach the admin API at {url}"))?;
    if resp.status().is_client_error() || resp.status().is_server_error() {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status == reqwest::StatusCode::NOT_FOUND && text.starts_with("no such key") {
            return Ok(reqwest::Response::from(http_404()));
        }
        bail!("{status}: {}", text.trim());
    }
    Ok(resp)
}

fn http_404() -> axum::http::Response<Vec<u8>> {
    let mut r = axum::http::Response::new(Vec::new());
    *r.status_mut() = axum::http::StatusCode::NOT_FOUND;
    r
}

/// Runs `botbox kv ...`; what it prints goes to `out`.
pub async fn kv(
    config: &Config,
    cmd: KvCommand,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let t = target(config).await?;
    match (cmd, &t) {
        (KvCommand::Get { module, key, hex }, _) => {
            let key = bytes_of(&key, hex)?;
            let value = match &t {
                Target::Offline { ops, .. } => ops.get(&module, &key)?,
                Target::Online { url, token, http } => {
                    let u = format!("{url}/v1/kv/{module}/keys/{}", hex::encode(&key));
                    let r = call(url, token, http.get(&u)).await?;
                    (r.status() != reqwest::StatusCode::NOT_FOUND)
                        .then_some(r.bytes().await?.to_vec())
                }
            };
            match value {
                Some(v) => writeln!(out, "{}", show(&v, hex))?,
                None => bail!("no key `{}` in {module}", show(&key, hex)),
            }
        }
        (
            KvCommand::Set {
                module,
                key,
                value,
                hex,
            },
            _,
        ) => {
            let key = bytes_of(&key, hex)?;
            let value = if value == "-" {
                let mut v = Vec::new();
                std::io::stdin().read_to_end(&mut v)?;
                if hex {
                    hex::decode(String::from_utf8_lossy(&v).trim())?
                } else {
                    v
                }
            } else {
                bytes_of(&value, hex)?
            };
            write(&t, &module, vec![(key, Some(value))]).await?;
        }
        (KvCommand::Del { module, key, hex }, _) => {
            let key = bytes_of(&key, hex)?;
            let existed = write(&t, &module, vec![(key.clone(), None)]).await?;
            if !existed {
                bail!("no key `{}` in {module}", show(&key, hex));
            }
        }
        (
            KvCommand::Scan {
                module,
                prefix,
                limit,
            },
            _,
        ) => {
            let entries = scan(&t, &module, prefix.as_bytes(), limit).await?;
            for (k, v) in entries {
                writeln!(out, "{}\t{}", show(&k, false), show(&v, false))?;
            }
        }
        (KvCommand::Export { module, file }, _) => {
            let entries = scan(&t, &module, b"", usize::MAX).await?;
            let mut text = String::new();
            for (k, v) in &entries {
                text.push_str(&serde_json::to_string(&Line::new(k, v))?);
                text.push('\n');
            }
            match file {
                Some(f) => std::fs::write(&f, text)
                    .with_context(|| format!("cannot write {}", f.display()))?,
                None => out.write_all(text.as_bytes())?,
            }
        }
        (KvCommand::Import { module, file }, _) => {
            let text = match file {
                Some(f) => std::fs::read_to_string(&f)
                    .with_context(|| format!("cannot read {}", f.display()))?,
                None => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    s
                }
            };
            let writes = admin::parse_lines(&text)?;
            let n = writes.len();
            write(&t, &module, writes).await?;
            writeln!(out, "imported {n} entries into {module}")?;
        }
    }
    Ok(())
}

/// Applies writes; returns whether the first key existed before.
async fn write(
    t: &Target,
    module: &str,
    writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
) -> anyhow::Result<bool> {
    match t {
        Target::Offline { ops, .. } => Ok(ops
            .write(module, writes)
            .await?
            .first()
            .copied()
            .unwrap_or(false)),
        Target::Online { url, token, http } => {
            if let [(key, None)] = writes.as_slice() {
                let u = format!("{url}/v1/kv/{module}/keys/{}", hex::encode(key));
                let r: serde_json::Value = call(url, token, http.delete(&u)).await?.json().await?;
                return Ok(r["existed"].as_bool().unwrap_or(false));
            }
            if let [(key, Some(value))] = writes.as_slice() {
                let u = format!("{url}/v1/kv/{module}/keys/{}", hex::encode(key));
                call(url, token, http.put(&u).body(value.clone())).await?;
                return Ok(true);
            }
            let mut body = String::new();
            for (k, v) in &writes {
                body.push_str(&serde_json::to_string(&Line::new(
                    k,
                    v.as_deref().unwrap_or_default(),
                ))?);
                body.push('\n');
            }
            let u = format!("{url}/v1/kv/{module}/import");
            call(url, token, http.post(&u).body(body)).await?;
            Ok(true)
        }
    }
}

async fn scan(
    t: &Target,
    module: &str,
    prefix: &[u8],
    limit: usize,
) -> anyhow::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    while out.len() < limit {
        let (entries, next) = match t {
            Target::Offline { ops, .. } => ops.scan(module, prefix, after.as_deref(), 1000)?,
            Target::Online { url, token, http } => {
                let mut u = format!(
                    "{url}/v1/kv/{module}/scan?limit=1000&prefix={}",
                    hex::encode(prefix)
                );
                if let Some(a) = &after {
                    u.push_str(&format!("&after={}", hex::encode(a)));
                }
                let page: serde_json::Value = call(url, token, http.get(&u)).await?.json().await?;
                let entries = page["entries"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| {
                        Some((
                            hex::decode(e["key_hex"].as_str()?).ok()?,
                            hex::decode(e["value_hex"].as_str()?).ok()?,
                        ))
                    })
                    .collect();
                let next = page["next_hex"].as_str().and_then(|n| hex::decode(n).ok());
                (entries, next)
            }
        };
        out.extend(entries);
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    out.truncate(limit);
    Ok(out)
}

/// Runs `botbox backup`: writes a snapshot to `out_file` (default
/// `<data_dir>/backups/botbox-<unix time>.bbk`) and returns its path.
pub async fn backup(
    config: &Config,
    out_file: Option<PathBuf>,
) -> anyhow::Result<(PathBuf, backup::SnapshotInfo)> {
    let path = out_file.unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        config
            .data_dir
            .join("backups")
            .join(backup::backup_file_name(now))
    });
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let bytes = match target(config).await? {
        Target::Offline { db, .. } => {
            let mut out = Vec::new();
            backup::write_snapshot(db.raw(), &mut out)?;
            out
        }
        Target::Online { url, token, http } => {
            let u = format!("{url}/v1/backup");
            call(&url, &token, http.post(&u))
                .await?
                .bytes()
                .await?
                .to_vec()
        }
    };
    let info = backup::verify(bytes.as_slice()).context("the snapshot does not verify")?;
    std::fs::write(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok((path, info))
}

/// Runs `botbox restore --from-telegram`: fetches the snapshot pinned in the operators' chat
/// (`backup.telegram_chat_id`, with the bot token), checks it, and replaces the database (which
/// may not exist yet: a blank machine).
pub async fn restore_from_telegram(config: &Config) -> anyhow::Result<backup::SnapshotInfo> {
    let chat = config
        .backup
        .telegram_chat_id
        .context("set backup.telegram_chat_id: the chat the backups were sent to")?;
    anyhow::ensure!(
        !config.telegram.token.is_empty(),
        "the bot token is needed (telegram.token or BOTBOX_TOKEN)"
    );
    let url = reqwest::Url::parse(&config.telegram.api_url).context("telegram.api_url")?;
    let bot = teloxide_core::Bot::new(config.telegram.token.expose()).set_api_url(url);
    let (manifest, bytes) = backup::telegram::fetch(&bot, chat).await?;
    let info = backup::restore(bytes.as_slice(), &config.data_dir)
        .context("the backup from Telegram was not restored")?;
    anyhow::ensure!(
        info.sha256 == manifest.sha256,
        "the restored snapshot is not the one the manifest names"
    );
    Ok(info)
}

/// Sends a snapshot file to the operators' chat (`botbox backup --telegram`).
pub async fn send_to_telegram(config: &Config, path: &std::path::Path) -> anyhow::Result<usize> {
    let chat = config
        .backup
        .telegram_chat_id
        .context("set backup.telegram_chat_id: the operators' chat")?;
    let url = reqwest::Url::parse(&config.telegram.api_url).context("telegram.api_url")?;
    let bot = teloxide_core::Bot::new(config.telegram.token.expose()).set_api_url(url);
    let bytes = std::fs::read(path)?;
    let info = backup::verify(bytes.as_slice())?;
    let m = backup::telegram::send(&bot, chat, &bytes, &info, config.backup.telegram_part_bytes)
        .await?;
    Ok(m.parts.len())
}

/// Runs `botbox restore FILE`: checks the snapshot, then replaces the stopped runtime's database.
pub fn restore(config: &Config, file: &std::path::Path) -> anyhow::Result<backup::SnapshotInfo> {
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let info = backup::restore(std::io::BufReader::new(input), &config.data_dir)
        .with_context(|| format!("{} was not restored", file.display()))?;
    Ok(info)
}
