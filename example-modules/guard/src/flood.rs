//! Anti-flood: a member who sends more than `flood_messages` messages (config, default 5) within
//! `flood_seconds` seconds (default 10) in a group is muted for [`MUTE_FOR`], and the group is
//! told, with a button that lifts it — for admins only.
//!
//! `flood/<group><user>` holds the times (host clock, ms) of the member's latest messages.

use botbox_sdk::bot_api::{self, Call};
use botbox_sdk::kv::{self, Key};
use botbox_sdk::outbox::{self, InlineButton, InlineKeyboard};
use botbox_sdk::types::CallbackQuery;
use botbox_sdk::{Error, Message, Update, config, timers};

/// How long a flooder is muted.
pub const MUTE_FOR_SECS: u64 = 600;
/// The button that lifts it.
pub const LIFT: &str = "Lift the mute";
/// What a member who is not an admin is told when pressing it.
pub const LIFT_ADMINS_ONLY: &str = "Only admins can lift it.";

fn times_key(group: i64, user: i64) -> Key {
    Key::new("flood/").i64(group).i64(user)
}

/// Counts a group message; mutes its sender when they flood.
pub fn counted(update: &Update) -> Result<(), Error> {
    let (Some(group), Some(sender)) = (update.chat_id(), update.from()) else {
        return Ok(());
    };
    if group > 0 || sender.is_bot {
        return Ok(());
    }
    let most: usize = config::get_parsed_or("flood_messages", 5)?;
    let window_ms = config::get_parsed_or::<u64>("flood_seconds", 10)? * 1000;
    let now = timers::now_unix_ms();
    let mut times: Vec<u64> = kv::get_json(times_key(group, sender.id))?.unwrap_or_default();
    times.retain(|t| now.saturating_sub(*t) < window_ms);
    times.push(now);
    if times.len() <= most {
        kv::set_json(times_key(group, sender.id), &times)?;
        return Ok(());
    }
    kv::delete(times_key(group, sender.id))?;
    let muted = Call::new("restrictChatMember")
        .param("chat_id", group)
        .param("user_id", sender.id)
        .param(
            "permissions",
            serde_json::json!({ "can_send_messages": false }),
        )
        .param("until_date", now / 1000 + MUTE_FOR_SECS)
        .send();
    let text = match muted {
        Ok(_) => format!(
            "{} is muted for {} minutes: more than {most} messages in {} seconds.",
            sender.first_name,
            MUTE_FOR_SECS / 60,
            window_ms / 1000
        ),
        Err(e) => format!(
            "{} is flooding, and I could not mute them: {e}",
            sender.first_name
        ),
    };
    Message::new(group, text)
        .inline_keyboard(
            InlineKeyboard::new()
                .row([InlineButton::callback(LIFT, format!("lift:{}", sender.id))]),
        )
        .send()?;
    Ok(())
}

/// The Lift button: an admin gives the member their voice back.
pub fn lift(press: &CallbackQuery, user: i64) -> Result<(), Error> {
    let Some(message) = press.message.as_ref() else {
        return Ok(outbox::answer_callback(press)?);
    };
    let group = message.chat.id;
    let presser = bot_api::get_chat_member(group, press.from.id)?;
    if !matches!(presser.status.as_str(), "creator" | "administrator") {
        return Ok(outbox::answer_callback_with(press, LIFT_ADMINS_ONLY, true)?);
    }
    outbox::answer_callback(press)?;
    let everything = serde_json::json!({
        "can_send_messages": true, "can_send_audios": true, "can_send_documents": true,
        "can_send_photos": true, "can_send_videos": true, "can_send_video_notes": true,
        "can_send_voice_notes": true, "can_send_polls": true, "can_send_other_messages": true,
        "can_add_web_page_previews": true,
    });
    Call::new("restrictChatMember")
        .param("chat_id", group)
        .param("user_id", user)
        .param("permissions", everything)
        .send()?;
    outbox::edit_text(message, &format!("Lifted by {}.", press.from.first_name))?;
    Ok(())
}
