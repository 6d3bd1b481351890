//! `botbox console`: prints a one-time link that logs a browser in to the running bot's web
//! console (served on the admin address; see `control/console.rs`).

use anyhow::Context;

use super::target::{AdminApi, call};
use crate::{Config, control::admin};

/// Asks the running bot for a login code and prints the link.
pub async fn console(config: &Config, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let api = AdminApi::find(config).await?;
    let req = api.http.post(format!("{}/v1/console/link", api.url));
    let link: serde_json::Value = call(&api.url, &api.token, req).await?.json().await?;
    let path = link["path"]
        .as_str()
        .context("the bot's answer has no link")?;
    let minutes = link["valid_secs"].as_u64().unwrap_or(600) / 60;
    let addr_file = admin::addr_path(&config.data_dir);
    let addr = std::fs::read_to_string(&addr_file)
        .with_context(|| format!("no admin address in {}", addr_file.display()))?;
    let addr = addr.trim();
    writeln!(
        out,
        "Open this link in a browser (it logs in once, within {minutes} minutes):\n\n  http://{addr}{path}\n"
    )?;
    if let Some(port) = addr.strip_prefix("127.0.0.1:") {
        writeln!(
            out,
            "It answers on this machine only. From another computer, forward the port first:\n  ssh -L {port}:127.0.0.1:{port} <you>@<this machine>\nthen open the link there. To serve it on a network, put it behind a reverse proxy with TLS (docs/console.md)."
        )?;
    }
    Ok(())
}
