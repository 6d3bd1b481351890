//! What users do: send links, press the buttons, `/list`, `/remove`, `/quality`.

use botbox_sdk::kv::{self, Write};
use botbox_sdk::outbox::{self, Edit, answer_callback_with};
use botbox_sdk::types::{CallbackQuery, User};
use botbox_sdk::{Error, Message, Update, reply, timers};
use serde::{Deserialize, Serialize};

use crate::dispatch;
use crate::links;
use crate::settings::Settings;
use crate::store::{self, Link};
use crate::view::{self, Press};

/// How many links `/list` shows at most.
const LIST_MAX: usize = 50;

/// A user's links in the current minute.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Rate {
    since_ms: u64,
    count: u32,
}

/// A message with links (or without): queue what can be queued, explain the rest.
pub fn add(update: &Update, user: &User, text: &str, settings: &Settings) -> Result<(), Error> {
    let chat = update.chat_id().ok_or("a message has a chat")?;
    let chars = text.chars().count();
    if chars > settings.max_text_chars {
        reply(
            update,
            &format!(
                "Your message is too long: {chars} characters (at most {}). Nothing was queued; send the links in shorter messages.",
                settings.max_text_chars
            ),
        )?;
        return Ok(());
    }
    let parsed = links::parse(text, settings.max_link_chars, &settings.internal_link_hosts);
    let skipped = parsed
        .rejected
        .iter()
        .map(|r| format!("\nSkipped: {r}."))
        .collect::<String>();
    if parsed.links.is_empty() {
        if parsed.rejected.is_empty() && !settings.answer_plain_text {
            return Ok(()); // Plain text: maybe meant for another module of the bot.
        }
        reply(
            update,
            &format!(
                "I found no link to download.{skipped}\nSend http:// or https:// links, several per message if you like."
            ),
        )?;
        return Ok(());
    }
    if parsed.links.len() > settings.max_links_per_message {
        reply(
            update,
            &format!(
                "Too many links in one message: {} (at most {}). Nothing was queued; send them in smaller messages.",
                parsed.links.len(),
                settings.max_links_per_message
            ),
        )?;
        return Ok(());
    }
    let now = timers::now_unix_ms();
    let rate_key = store::rate_key(user.id);
    let mut rate: Rate = kv::get_json(&rate_key)?.unwrap_or_default();
    if now.saturating_sub(rate.since_ms) >= 60_000 {
        rate = Rate {
            since_ms: now,
            count: 0,
        };
    }
    let count = u32::try_from(parsed.links.len()).unwrap_or(u32::MAX);
    if rate.count.saturating_add(count) > settings.max_links_per_minute {
        let wait = (rate.since_ms + 60_000).saturating_sub(now).div_ceil(1000);
        reply(
            update,
            &format!(
                "Slow down: at most {} links a minute, and you sent {} already. Nothing was queued; try again in {wait} s.",
                settings.max_links_per_minute, rate.count
            ),
        )?;
        return Ok(());
    }
    rate.count += count;
    // The rate is best effort: with the store full the links still go out (rule 4).
    let _ = kv::set_json(&rate_key, &rate);

    let due_ms = now + settings.delay_secs * 1000;
    let status = Message::new(chat, format!(
        "Queued {} link{}; they go to a downloader at {}. Change the quality with the buttons.{skipped}",
        parsed.links.len(),
        if parsed.links.len() == 1 { "" } else { "s" },
        view::clock(due_ms)
    ))
    .send()?;
    let mut queued = 0i64;
    let mut direct = Vec::new();
    for url in parsed.links {
        let id = kv::increment(store::SEQ, 1)?.cast_unsigned();
        let mut link = Link {
            id,
            url,
            quality: settings.default_quality.clone(),
            due_ms,
            owner: user.id,
            owner_name: user.first_name.clone(),
            chat,
            message: None,
            status: Some(status),
            attempts: 0,
            last_error: None,
        };
        let message = Message::new(chat, view::link_text(&link))
            .inline_keyboard(view::keyboard(&link, settings))
            .send()?;
        link.message = Some(message);
        match store::put_link(&link).and_then(kv::batch) {
            Ok(()) => queued += 1,
            Err(error) => {
                // Rule 4: a link that cannot be stored goes to a downloader at once.
                outbox::delete(message)?;
                direct.push(send_now(&link, &error.to_string(), settings, now)?);
            }
        }
    }
    if queued > 0 {
        let _ = kv::batch([Write::set(store::batch_key(status), queued.to_be_bytes())]);
    }
    if !direct.is_empty() {
        let text = format!("Queued {queued}.{}{skipped}", direct.concat());
        outbox::edit_text(status, &text)?;
    }
    Ok(())
}

/// Sends a link that could not be stored straight to a downloader; returns a line for the
/// status message.
fn send_now(link: &Link, why: &str, settings: &Settings, now: u64) -> Result<String, Error> {
    let downloaders = store::downloaders()?;
    Ok(match dispatch::send(link, &downloaders, settings, now) {
        Ok((name, _job)) => format!(
            "\n{} could not be queued ({why}), so it went straight to downloader {name}.",
            link.url
        ),
        Err(error) => format!(
            "\n{} could not be queued ({why}) nor sent to a downloader ({error}). Please send it again later.",
            link.url
        ),
    })
}

/// A press of a link's button.
pub fn press(query: &CallbackQuery, settings: &Settings) -> Result<(), Error> {
    let Some(press) = view::parse_press(&query.data) else {
        answer_callback_with(query, "This button is no longer valid.", false)?;
        return Ok(());
    };
    let id = match press {
        Press::Quality(id, _) | Press::Cancel(id) => id,
    };
    let answer = match change(query.from.id, id, press, settings)? {
        Ok(done) => done,
        Err(refusal) => {
            answer_callback_with(query, &refusal, true)?;
            return Ok(());
        }
    };
    answer_callback_with(query, &answer, false)?;
    Ok(())
}

/// Changes link `id` as `press` says, if `user` may: `Ok(Ok(what was done))` or
/// `Ok(Err(why not))`.
pub fn change(
    user: i64,
    id: u64,
    press: Press<'_>,
    settings: &Settings,
) -> Result<Result<String, String>, Error> {
    let Some(link) = store::link(id)? else {
        return Ok(Err(format!(
            "Link #{id} is not in the queue (sent or cancelled)."
        )));
    };
    if link.owner != user && !settings.is_admin(user) {
        return Ok(Err(format!(
            "Link #{id} is not yours: only who queued it (or an admin) can change it."
        )));
    }
    match press {
        Press::Cancel(_) => {
            store::remove_link(&link)?;
            dispatch::forget_messages(&link)?;
            if link.owner != user {
                Message::new(link.chat, format!("An admin cancelled #{id} {}.", link.url))
                    .send()?;
            }
            Ok(Ok(format!("Cancelled #{id}.")))
        }
        Press::Quality(_, quality) => {
            if !settings.qualities.iter().any(|q| q == quality) {
                return Ok(Err(format!(
                    "Unknown quality {quality:?}; choose one of: {}.",
                    settings.qualities.join(", ")
                )));
            }
            let mut changed = link.clone();
            changed.quality = quality.into();
            store::update_link(&link, &changed)?;
            if let Some(ticket) = changed.message {
                Edit::new(ticket, view::link_text(&changed))
                    .inline_keyboard(view::keyboard(&changed, settings))
                    .send()?;
            }
            Ok(Ok(format!("#{id}: quality {quality}.")))
        }
    }
}

/// `/remove <id>` and `/quality <id> <quality>`: the buttons' work as commands (for admins,
/// whose `/list` shows links of other chats).
pub fn command(update: &Update, user: &User, settings: &Settings) -> Result<(), Error> {
    let args: Vec<&str> = update.command_args().split_whitespace().collect();
    let id = args
        .first()
        .and_then(|id| id.trim_start_matches('#').parse().ok());
    let press = match (update.command(), id, args.get(1)) {
        (Some("remove"), Some(id), None) => Press::Cancel(id),
        (Some("quality"), Some(id), Some(quality)) => Press::Quality(id, quality),
        _ => {
            reply(
                update,
                "Use /remove <number> or /quality <number> <quality>; /list shows the numbers.",
            )?;
            return Ok(());
        }
    };
    let id = match press {
        Press::Quality(id, _) | Press::Cancel(id) => id,
    };
    let answer = match change(user.id, id, press, settings)? {
        Ok(done) | Err(done) => done,
    };
    reply(update, &answer)?;
    Ok(())
}

/// `/list`: the user's links, or every link for an admin.
pub fn list(update: &Update, user: &User, settings: &Settings) -> Result<(), Error> {
    let admin = settings.is_admin(user.id);
    let links = store::links_of((!admin).then_some(user.id), LIST_MAX + 1)?;
    if links.is_empty() {
        reply(
            update,
            if admin {
                "The queue is empty."
            } else {
                "You have no links in the queue."
            },
        )?;
        return Ok(());
    }
    let mut text = String::from(if admin {
        "All queued links:"
    } else {
        "Your queued links:"
    });
    for link in links.iter().take(LIST_MAX) {
        let line = view::list_line(link, admin);
        if text.chars().count() + line.chars().count() > 3900 {
            text.push_str("\n...");
            break;
        }
        text.push('\n');
        text.push_str(&line);
    }
    if links.len() > LIST_MAX {
        text.push_str("\n(more not shown)");
    }
    reply(update, &text)?;
    Ok(())
}
