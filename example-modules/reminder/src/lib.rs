//! Reminder: the bot docs/tutorial.md builds step by step.
//!
//! `/remind 10m buy milk` answers `OK, in 10m: buy milk` and, ten minutes later, sends
//! `Reminder: buy milk`. Durations are a number and a unit: `s`, `m`, `h` or `d`, at most 30
//! days. `/reminders` lists the user's pending reminders, each with a **Cancel** button.
//!
//! What it shows:
//! - durable timers ([`timers::after`]): a reminder survives restarts and upgrades, and fires
//!   once, even if the bot was down when it was due (late, then);
//! - a KV record per pending reminder, written in the same commit as the timer, so the list and
//!   the timers never disagree;
//! - inline buttons whose presses come back to this module;
//! - input checked with a clear answer for each mistake.
//!
//! Run it with `botbox dev` from the repository root (it runs every example module): send
//! `/remind 5s tea`. Its tests (`tests/`) move the clock forward instead of waiting.

use std::time::Duration;

use botbox_sdk::outbox::{answer_callback_with, edit_text};
use botbox_sdk::{
    Error, InlineButton, InlineKeyboard, Manifest, Message, Module, Update, kv, reply, timers,
};
use serde::{Deserialize, Serialize};

/// The longest delay accepted.
const MAX_DELAY: Duration = Duration::from_secs(30 * 24 * 3600);
/// The most pending reminders one user may have.
const MAX_PER_USER: usize = 20;
/// The longest reminder text, in characters.
const MAX_TEXT: usize = 500;
const USAGE: &str = "Send /remind <when> <what>, for example /remind 10m buy milk \
                     (s, m, h or d; at most 30d).";

/// A pending reminder, under `r/<user>/<timer id>`.
#[derive(Debug, Serialize, Deserialize)]
struct Reminder {
    chat: i64,
    text: String,
    due_unix_ms: u64,
}

struct Reminders;

impl Module for Reminders {
    fn init() -> Result<Manifest, Error> {
        Ok(Manifest::new("reminder", env!("CARGO_PKG_VERSION"))
            .command("remind", "Remind me: /remind 10m buy milk")
            .command("reminders", "List my pending reminders")
            .timers())
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        if let Some(fired) = update.timer() {
            return fire(fired.id, &fired.payload);
        }
        if let Some(query) = update.callback() {
            return cancel(query);
        }
        if update.is_command("remind") {
            return remind(update);
        }
        if update.is_command("reminders") {
            return list(update);
        }
        Ok(())
    }
}

botbox_sdk::export_module!(Reminders);

fn remind(update: &Update) -> Result<(), Error> {
    let (Some(user), Some(chat)) = (update.from(), update.chat_id()) else {
        return Ok(());
    };
    let (when, text) = match update.command_args().split_once(char::is_whitespace) {
        Some((when, text)) if !text.trim().is_empty() => (when, text.trim()),
        _ => {
            reply(update, USAGE)?;
            return Ok(());
        }
    };
    let Some(delay) = parse_delay(when) else {
        reply(
            update,
            &format!("I do not understand {when:?} as a time. {USAGE}"),
        )?;
        return Ok(());
    };
    if text.chars().count() > MAX_TEXT {
        reply(
            update,
            &format!("Please keep a reminder under {MAX_TEXT} characters."),
        )?;
        return Ok(());
    }
    let prefix = format!("r/{}/", user.id);
    if kv::scan(&prefix).limit(MAX_PER_USER).count() >= MAX_PER_USER {
        reply(
            update,
            &format!("You have {MAX_PER_USER} reminders already; cancel one first."),
        )?;
        return Ok(());
    }
    // The user id travels in the payload: the firing finds the record by it.
    let id = timers::after(delay, Some(chat), &user.id.to_be_bytes())?;
    let reminder = Reminder {
        chat,
        text: text.to_string(),
        due_unix_ms: timers::now_unix_ms() + u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
    };
    kv::set_json(format!("{prefix}{id:020}"), &reminder)?;
    reply(update, &format!("OK, in {when}: {text}"))?;
    Ok(())
}

fn fire(id: u64, payload: &[u8]) -> Result<(), Error> {
    let user = i64::from_be_bytes(payload.try_into().map_err(|_| "a malformed payload")?);
    let key = format!("r/{user}/{id:020}");
    // Cancelled in the meantime: nothing to say.
    let Some(reminder) = kv::get_json::<Reminder>(&key)? else {
        return Ok(());
    };
    kv::delete(&key)?;
    Message::new(reminder.chat, format!("Reminder: {}", reminder.text)).send()?;
    Ok(())
}

fn list(update: &Update) -> Result<(), Error> {
    let (Some(user), Some(chat)) = (update.from(), update.chat_id()) else {
        return Ok(());
    };
    let now = timers::now_unix_ms();
    let mut any = false;
    for entry in kv::scan(format!("r/{}/", user.id)).limit(MAX_PER_USER) {
        let entry = entry?;
        let reminder: Reminder = serde_json::from_slice(&entry.value).map_err(|e| e.to_string())?;
        let id = String::from_utf8_lossy(&entry.key)
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string();
        let left = Duration::from_millis(reminder.due_unix_ms.saturating_sub(now));
        Message::new(chat, format!("In {}: {}", human(left), reminder.text))
            .inline_keyboard(InlineKeyboard::new().row([InlineButton::callback("Cancel", id)]))
            .send()?;
        any = true;
    }
    if !any {
        reply(update, "You have no reminders.")?;
    }
    Ok(())
}

fn cancel(query: &botbox_sdk::types::CallbackQuery) -> Result<(), Error> {
    let Ok(id) = query.data.parse::<u64>() else {
        return Ok(());
    };
    // Only the owner's own records are looked at: another user's button finds nothing.
    let key = format!("r/{}/{id:020}", query.from.id);
    if kv::get(&key)?.is_none() {
        answer_callback_with(query, "Already done or cancelled.", false)?;
        return Ok(());
    }
    kv::delete(&key)?;
    timers::cancel(id)?;
    answer_callback_with(query, "Cancelled.", false)?;
    if let Some(message) = &query.message {
        edit_text(message, "Cancelled.")?;
    }
    Ok(())
}

/// `90s`, `10m`, `2h`, `1d` as a duration, within [`MAX_DELAY`].
fn parse_delay(when: &str) -> Option<Duration> {
    let unit = when.chars().last()?;
    let n: u64 = when[..when.len() - unit.len_utf8()].parse().ok()?;
    let secs = match unit {
        's' => n,
        'm' => n.checked_mul(60)?,
        'h' => n.checked_mul(3600)?,
        'd' => n.checked_mul(86_400)?,
        _ => return None,
    };
    let delay = Duration::from_secs(secs);
    (secs > 0 && delay <= MAX_DELAY).then_some(delay)
}

/// A duration as the largest whole unit: `3h`, `59m`, `10s`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        86_400.. => format!("{}d", s / 86_400),
        3600.. => format!("{}h", s / 3600),
        60.. => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_a_number_and_a_unit_up_to_thirty_days() {
        assert_eq!(parse_delay("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_delay("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_delay("30d"), Some(MAX_DELAY));
        for bad in [
            "",
            "m",
            "10",
            "0m",
            "31d",
            "-5m",
            "1.5h",
            "10x",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_delay(bad), None, "{bad}");
        }
    }
}
