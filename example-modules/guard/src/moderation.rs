//! `/mute <n><m|h|d>` and `/ban` by a group's admins, in reply to the message of the member
//! they act on. Whether the sender is an admin is asked of Telegram (getChatMember) each time.

use botbox_sdk::bot_api::{self, Call};
use botbox_sdk::{Error, Update, reply, timers};

/// What a member who is not an admin is told.
pub const ADMINS_ONLY: &str = "Only the group's admins can do that.";
/// How `/mute` is used.
pub const MUTE_USAGE: &str = "Reply to a message with /mute <n>m, <n>h or <n>d (e.g. /mute 10m).";

/// The member a command acts on: the sender of the message it replies to, checked to come
/// from an admin of a group. `Ok(None)` when the sender was told why not.
fn target(update: &Update) -> Result<Option<(i64, i64, String)>, Error> {
    #[derive(serde::Deserialize)]
    struct Raw {
        message: RawMessage,
    }
    #[derive(serde::Deserialize)]
    struct RawMessage {
        reply_to_message: Option<Replied>,
    }
    #[derive(serde::Deserialize)]
    struct Replied {
        from: Option<bot_api::ApiUser>,
    }
    let (Some(chat), Some(sender)) = (update.chat_id(), update.from()) else {
        return Ok(None);
    };
    if chat > 0 {
        reply(update, "This works in groups.")?;
        return Ok(None);
    }
    let member = bot_api::get_chat_member(chat, sender.id)?;
    if !matches!(member.status.as_str(), "creator" | "administrator") {
        reply(update, ADMINS_ONLY)?;
        return Ok(None);
    }
    let raw: Raw = serde_json::from_str(update.raw_json()).map_err(|e| e.to_string())?;
    let Some(user) = raw.message.reply_to_message.and_then(|r| r.from) else {
        reply(update, "Reply to a message of the member you mean.")?;
        return Ok(None);
    };
    Ok(Some((chat, user.id, user.first_name)))
}

/// `10m`, `2h`, `1d` → seconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: u64 = number.parse().ok().filter(|n| *n > 0)?;
    let unit = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(unit)
}

/// `/mute <duration>`: the member may read but not write until then.
pub fn mute(update: &Update) -> Result<(), Error> {
    let Some(seconds) = parse_duration(update.command_args()) else {
        reply(update, MUTE_USAGE)?;
        return Ok(());
    };
    let Some((chat, user, name)) = target(update)? else {
        return Ok(());
    };
    let until = timers::now_unix_ms() / 1000 + seconds;
    let muted = Call::new("restrictChatMember")
        .param("chat_id", chat)
        .param("user_id", user)
        .param(
            "permissions",
            serde_json::json!({ "can_send_messages": false }),
        )
        .param("until_date", until)
        .send();
    let answer = match muted {
        Ok(_) => format!("Muted {name} for {}.", update.command_args().trim()),
        Err(e) => format!("I could not mute {name}: {e}"),
    };
    reply(update, &answer)?;
    Ok(())
}

/// `/ban`: the member is removed and cannot come back by a link.
pub fn ban(update: &Update) -> Result<(), Error> {
    let Some((chat, user, name)) = target(update)? else {
        return Ok(());
    };
    let banned = Call::new("banChatMember")
        .param("chat_id", chat)
        .param("user_id", user)
        .send();
    let answer = match banned {
        Ok(_) => format!("Banned {name}."),
        // The operator's grant is missing, the bot is not an admin, ...: said in the group.
        Err(e) => format!("I could not ban {name}: {e}"),
    };
    reply(update, &answer)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_read_minutes_hours_and_days_and_refuse_the_rest() {
        assert_eq!(parse_duration("10m"), Some(600));
        assert_eq!(parse_duration("2h"), Some(7200));
        assert_eq!(parse_duration("1d"), Some(86_400));
        for bad in ["", "m", "0m", "10", "10s", "-1m", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
