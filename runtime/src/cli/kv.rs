//! `botbox kv ...`: read and change a module's data, on the running bot or the stopped one
//! (see [`super::target`]).

use std::{io::Read, path::PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;

use super::target::{Target, bytes_of, call, show, target};
use crate::{
    Config,
    control::admin::kv_ops::{Line, json_lines},
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
                Target::Offline { ops, .. } => ops.get(&module, &key).await?,
                Target::Online { url, token, http } => {
                    let u = format!("{url}/v1/kv/{module}/keys/{}", hex::encode(&key));
                    let r = call(url, token, http.get(&u)).await?;
                    (r.status() != reqwest::StatusCode::NOT_FOUND)
                        .then_some(r.bytes().await?.to_vec())
                }
            };
            match value {
                Some(v) => writeln!(out, "{}", show(&v, hex, true))?,
                None => bail!("no key `{}` in {module}", show(&key, hex, false)),
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
                bail!("no key `{}` in {module}", show(&key, hex, false));
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
                writeln!(
                    out,
                    "{}\t{}",
                    show(&k, false, false),
                    show(&v, false, false)
                )?;
            }
        }
        (KvCommand::Export { module, file }, _) => {
            let entries = scan(&t, &module, b"", usize::MAX).await?;
            let text = json_lines(entries.iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
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
            let writes = crate::control::admin::parse_lines(&text)?;
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
            Target::Offline { ops, .. } => ops.scan(module, prefix, after.as_deref(), 1000).await?,
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
