//! `botbox admin ...`: the admin API's own settings. `rotate-token` replaces the admin token of
//! the running bot: the old one is refused from then on, the new one is kept in
//! `<data_dir>/admin.token` (0600), where the CLI reads it.

use clap::Subcommand;

use super::target::AdminApi;
use crate::Config;

/// `botbox admin ...`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Replaces the admin token of the running bot with a new one (kept in the data directory);
    /// the old token stops working at once. A token set in the configuration is changed there.
    RotateToken,
}

/// Runs `botbox admin ...`; what it prints goes to `out`.
pub async fn admin(
    config: &Config,
    cmd: AdminCommand,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::RotateToken => {
            let api = AdminApi::find(config).await?;
            let req = api.http.post(format!("{}/v1/admin/token", api.url));
            super::target::call(&api.url, &api.token, req).await?;
            writeln!(
                out,
                "the admin token was rotated: the old one no longer works; the new one is in {}",
                crate::control::admin::token_path(&config.data_dir).display()
            )?;
        }
    }
    Ok(())
}
