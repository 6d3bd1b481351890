//! The doctor's look at where backups go: whether they are encrypted, and, when they are sent
//! to Telegram, what kind of chat receives them (asked with `getChat`). In a group or a
//! channel every member can download the parts, and anyone allowed to pin can pin an older
//! manifest again, so that `botbox restore --from-telegram` would roll the bot back.

use std::io::Write;

use serde_json::json;

use super::Report;
use crate::{
    backup::Seal,
    cli::setup::{TokenCheck, call, client},
    config::Config,
};

/// Checks the `[backup]` settings; `token_works` says whether the Bot API can be asked.
pub(super) async fn check<W: Write>(r: &mut Report<'_, W>, config: &Config, token_works: bool) {
    let encrypted = match Seal::from_config(&config.backup) {
        Ok(seal) => seal.is_on(),
        // The configuration check has already named what is wrong.
        Err(_) => return,
    };
    let Some(chat) = config.backup.telegram_chat_id else {
        if encrypted {
            r.ok("backups are encrypted with age");
        }
        return;
    };
    if encrypted {
        r.ok("backups sent to Telegram are encrypted with age");
    } else {
        r.warn(
            &format!(
                "backups go to Telegram chat {chat} unencrypted: the whole database (every \
                 module's data) is readable by whoever can read that chat or the bot's files"
            ),
            "set [backup] encrypt_to = [\"age1...\"] (a public key from age-keygen; keep the \
             identity file off the server) or passphrase_file = \"/path/to/file\"",
        );
    }
    if !token_works {
        return;
    }
    let answer = call(
        &client(),
        &config.telegram.api_url,
        config.telegram.token.expose(),
        "getChat",
        json!({ "chat_id": chat }),
    )
    .await;
    match answer {
        Ok(info) => match info["type"].as_str().unwrap_or("unknown") {
            "private" => r.ok(&format!(
                "the backup chat {chat} is a private chat with one person"
            )),
            kind => r.warn(
                &format!(
                    "the backup chat {chat} is a {kind}: its members can download the backups{}, \
                     and anyone allowed to pin messages can pin an older manifest again, so that \
                     `botbox restore --from-telegram` would roll the bot back",
                    if encrypted { " (encrypted)" } else { "" }
                ),
                "prefer a private chat with the operator (telegram_chat_id = your user id); \
                 restore prints the backup's date before it replaces anything and refuses one \
                 older than the newest this machine sent (--allow-older overrides)",
            ),
        },
        Err(TokenCheck::Wrong(why) | TokenCheck::Unreachable(why) | TokenCheck::Valid(why)) => r
            .problem(
                &format!("the bot cannot reach the backup chat {chat}: {why}"),
                "the operator must have started a chat with the bot (or added it to the group); \
                 check backup.telegram_chat_id",
            ),
    }
}
