//! The doctor's look at modules that act on group members (the `members` grant): in each group
//! the operator narrowed the grant to (`member_chats`), is the bot an administrator? Telegram
//! refuses bans, restrictions and join-request answers from a bot that is not, and sends it
//! no join requests or member updates.

use std::io::Write;

use serde_json::json;

use super::Report;
use crate::{
    cli::setup::{TokenCheck, call, client},
    config::Config,
};

/// Checks every group a module may act on; `token_works` says whether the Bot API can be asked.
pub(super) async fn check<W: Write>(r: &mut Report<'_, W>, config: &Config, token_works: bool) {
    let granted: Vec<(&String, &Vec<i64>)> = config
        .modules
        .iter()
        .filter(|(_, m)| m.bot_api_grants.iter().any(|g| g == "members"))
        .map(|(name, m)| (name, &m.member_chats))
        .collect();
    if granted.is_empty() || !token_works {
        return;
    }
    let (api, token) = (&config.telegram.api_url, config.telegram.token.expose());
    let Ok(me) = call(&client(), api, token, "getMe", json!({})).await else {
        return;
    };
    let bot = me["id"].as_i64().unwrap_or_default();
    for (module, chats) in granted {
        if chats.is_empty() {
            r.note(&format!(
                "module {module} may act on members in every group the bot administers (narrow it with modules.{module}.member_chats)"
            ));
        }
        for chat in chats {
            let answer = call(
                &client(),
                api,
                token,
                "getChatMember",
                json!({ "chat_id": chat, "user_id": bot }),
            )
            .await;
            match answer.as_ref().map(|m| m["status"].as_str().unwrap_or("")) {
                Ok("administrator" | "creator") => r.ok(&format!(
                    "the bot is an administrator of {chat}, where module {module} acts on members"
                )),
                Ok(status) => r.warn(
                    &format!(
                        "the bot is `{status}` in {chat}, not an administrator: module {module} cannot ban, restrict or answer join requests there, and Telegram sends it no join requests"
                    ),
                    "in the group's settings, make the bot an administrator with the rights to ban users and invite users via link",
                ),
                Err(TokenCheck::Wrong(why) | TokenCheck::Unreachable(why) | TokenCheck::Valid(why)) => r.warn(
                    &format!("cannot ask Telegram about the bot in {chat} (modules.{module}.member_chats): {why}"),
                    "check that the id is the group's (a supergroup's starts with -100) and that the bot is in it",
                ),
            }
        }
    }
}
