//! `botbox module ...`: manage the modules of a running bot through its admin API (found
//! through `<data_dir>/admin.addr` and the admin token).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::{Config, modules::registry::ModuleInfo};

mod swap;

use swap::{done, swap};

/// `botbox module ...`.
#[derive(Debug, Subcommand)]
pub enum ModuleCommand {
    /// Lists the modules: version, state, calls, errors, latency.
    List,
    /// Adds a module from a component file (refused when its name is taken).
    Add {
        /// The `.wasm` component.
        file: PathBuf,
    },
    /// Replaces a running module with a new version of it. A version that asks for more than
    /// the running one (hosts, timers, kinds of update, messages a minute) shows what and waits
    /// for approval: asked at a terminal, or given beforehand with `--approve`.
    Swap {
        /// The module.
        name: String,
        /// The `.wasm` component of the new version.
        file: PathBuf,
        /// Approve what the new version asks for beyond the running one.
        #[arg(long)]
        approve: bool,
    },
    /// Swaps in the version awaiting approval (one from the modules directory, Telegram or an
    /// earlier `swap`).
    Approve {
        /// The module.
        name: String,
    },
    /// Returns a module to its previous version.
    Rollback {
        /// The module.
        name: String,
    },
    /// Stops a module and deletes its file (its data stays).
    Remove {
        /// The module.
        name: String,
    },
    /// Starts routing updates to a disabled module again.
    Enable {
        /// The module.
        name: String,
    },
    /// Stops routing updates to a module and stops its instances.
    Disable {
        /// The module.
        name: String,
    },
    /// Replaces a module's configuration: `key=value` pairs (numbers and true/false are typed).
    Config {
        /// The module.
        name: String,
        /// `key=value` pairs.
        values: Vec<String>,
    },
    /// Prints a module's last log lines.
    Logs {
        /// The module.
        name: String,
        /// How many lines.
        #[arg(long, short = 'n', default_value_t = 50)]
        lines: usize,
    },
    /// Lists quarantined updates (given up after failing).
    Quarantine,
    /// Hands a quarantined update back to its module.
    Retry {
        /// The module.
        name: String,
        /// The update's id (as `botbox module quarantine` lists it).
        update: u64,
    },
    /// Forgets a quarantined update.
    Drop {
        /// The module.
        name: String,
        /// The update's id.
        update: u64,
    },
}

pub(super) struct Api {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    async fn find(config: &Config) -> anyhow::Result<Api> {
        let found = super::target::AdminApi::find(config).await?;
        Ok(Api {
            url: found.url,
            token: found.token,
            http: found.http,
        })
    }

    pub(super) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<reqwest::Body>,
        json: Option<&serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let (status, value, text) = self.send_raw(method, path, body, json).await?;
        if !status.is_success() {
            bail!("{}", error_of(&value, &text));
        }
        Ok(value)
    }

    /// The answer whatever its status: (status, JSON body, body as text).
    pub(super) async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<reqwest::Body>,
        json: Option<&serde_json::Value>,
    ) -> anyhow::Result<(reqwest::StatusCode, serde_json::Value, String)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.body(b);
        }
        if let Some(j) = json {
            req = req.json(j);
        }
        let resp = req.send().await.with_context(|| {
            format!(
                "cannot reach the admin API at {} (is the bot running?)",
                self.url
            )
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text.clone()));
        Ok((status, value, text))
    }
}

/// The admin API's reason for a refusal.
pub(super) fn error_of(value: &serde_json::Value, text: &str) -> String {
    value
        .get("error")
        .and_then(|e| e.as_str())
        .map_or_else(|| text.trim().to_string(), str::to_string)
}

pub(super) fn read_component(file: &PathBuf) -> anyhow::Result<reqwest::Body> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(bytes.into())
}

/// Runs `botbox module ...`; what it prints goes to `out`.
pub async fn module(
    config: &Config,
    cmd: ModuleCommand,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    use reqwest::Method;
    let api = Api::find(config).await?;
    match cmd {
        ModuleCommand::List => {
            let list: Vec<ModuleInfo> =
                serde_json::from_value(api.send(Method::GET, "/v1/modules", None, None).await?)?;
            writeln!(
                out,
                "{:<20} {:<10} {:<9} {:>6} {:>8} {:>6} {:>6} {:>10}  hash",
                "name", "version", "state", "shards", "calls", "errors", "traps", "p99 µs"
            )?;
            for m in list {
                let awaiting = m
                    .awaiting_approval
                    .map(|a| {
                        format!(
                            "  (version {} awaits approval: {})",
                            crate::text::printable(&a.version, 40),
                            crate::text::printable(&a.changes.lines().join("; "), 300)
                        )
                    })
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{:<20} {:<10} {:<9} {:>6} {:>8} {:>6} {:>6} {:>10}  {}{}{awaiting}",
                    m.name,
                    m.version,
                    m.state,
                    m.shards,
                    m.calls,
                    m.errors,
                    m.traps,
                    m.latency_p99_us.map_or("-".into(), |l| l.to_string()),
                    &m.hash[..m.hash.len().min(12)],
                    m.disabled_reason
                        .map(|r| format!("  ({})", crate::text::printable(&r, 300)))
                        .unwrap_or_default()
                )?;
            }
        }
        ModuleCommand::Add { file } => {
            let v = api
                .send(
                    Method::POST,
                    "/v1/modules",
                    Some(read_component(&file)?),
                    None,
                )
                .await?;
            writeln!(out, "{}", done(&v))?;
        }
        ModuleCommand::Swap {
            name,
            file,
            approve,
        } => {
            let v = swap(&api, &name, &file, approve, out).await?;
            writeln!(out, "{}", done(&v))?;
        }
        ModuleCommand::Approve { name } => {
            let path = format!("/v1/modules/{name}/approve");
            let v = api.send(Method::POST, &path, None, None).await?;
            writeln!(out, "{}", done(&v))?;
        }
        ModuleCommand::Rollback { name } => {
            let v = api
                .send(
                    Method::POST,
                    &format!("/v1/modules/{name}/rollback"),
                    None,
                    None,
                )
                .await?;
            writeln!(out, "{}", done(&v))?;
        }
        ModuleCommand::Remove { name } => {
            api.send(Method::DELETE, &format!("/v1/modules/{name}"), None, None)
                .await?;
            writeln!(out, "removed {name} (its data stays)")?;
        }
        ModuleCommand::Enable { name } => {
            let v = api
                .send(
                    Method::POST,
                    &format!("/v1/modules/{name}/enable"),
                    None,
                    None,
                )
                .await?;
            writeln!(out, "{}", done(&v))?;
        }
        ModuleCommand::Disable { name } => {
            api.send(
                Method::POST,
                &format!("/v1/modules/{name}/disable"),
                None,
                None,
            )
            .await?;
            writeln!(out, "disabled {name}")?;
        }
        ModuleCommand::Config { name, values } => {
            let mut map = serde_json::Map::new();
            for kv in values {
                let Some((k, v)) = kv.split_once('=') else {
                    bail!("`{kv}` is not key=value");
                };
                let value = match v {
                    "true" => serde_json::Value::Bool(true),
                    "false" => serde_json::Value::Bool(false),
                    _ => v
                        .parse::<i64>()
                        .map(serde_json::Value::from)
                        .or_else(|_| v.parse::<f64>().map(serde_json::Value::from))
                        .unwrap_or_else(|_| serde_json::Value::String(v.to_string())),
                };
                map.insert(k.to_string(), value);
            }
            let v = api
                .send(
                    Method::PUT,
                    &format!("/v1/modules/{name}/config"),
                    None,
                    Some(&serde_json::Value::Object(map)),
                )
                .await?;
            writeln!(out, "{}", done(&v))?;
        }
        ModuleCommand::Logs { name, lines } => {
            let v = api
                .send(
                    Method::GET,
                    &format!("/v1/modules/{name}/logs?lines={lines}"),
                    None,
                    None,
                )
                .await?;
            for l in v.as_array().into_iter().flatten() {
                writeln!(
                    out,
                    "{} {:<5} {}",
                    l["at_ms"],
                    l["level"].as_str().unwrap_or_default(),
                    crate::text::printable(l["text"].as_str().unwrap_or_default(), 8192)
                )?;
            }
        }
        ModuleCommand::Quarantine => {
            let v = api.send(Method::GET, "/v1/quarantine", None, None).await?;
            for q in v.as_array().into_iter().flatten() {
                writeln!(
                    out,
                    "{} update {}: {}",
                    q["module"].as_str().unwrap_or_default(),
                    q["update_id"],
                    crate::text::printable(q["reason"].as_str().unwrap_or_default(), 8192)
                )?;
            }
        }
        ModuleCommand::Retry { name, update } => {
            let path = format!("/v1/quarantine/{name}/{update}/retry");
            api.send(Method::POST, &path, None, None).await?;
            writeln!(out, "update {update} was handed back to {name}")?;
        }
        ModuleCommand::Drop { name, update } => {
            let path = format!("/v1/quarantine/{name}/{update}");
            api.send(Method::DELETE, &path, None, None).await?;
            writeln!(out, "update {update} of {name} was dropped")?;
        }
    }
    Ok(())
}
