//! Clicker: the bot from the article "Telegram as a data store for IT projects", with botbox's KV
//! store in place of the article's Telegram channel.
//!
//! `/start` registers the user under their first name and shows a reply keyboard with two
//! buttons. **Click** adds one to the user's count and answers `Clicks: N`; **Rating** answers
//! with the number of registered users and the 15 users with the most clicks (ties go to whoever
//! registered first).
//!
//! What it shows:
//! - a reply keyboard, whose presses arrive as plain text messages (hence `wants_messages`);
//! - JSON records in KV with [`kv::get_json`] / [`kv::set_json`];
//! - a sorted index kept next to the records, so the rating stays one bounded prefix scan with a
//!   million users: `rank/` + clicks (descending) + registration number, whose value is the name;
//! - a counter with [`kv::increment`] that numbers registrations and counts users.
//!
//! Run it with `botbox dev` from the repository root: it builds the example modules, starts the
//! fake Bot API, and lets you chat with the bot in the terminal. Send `/start`, then press Click.

use botbox_sdk::kv::{self, Key, KeyReader};
use botbox_sdk::types::User;
use botbox_sdk::{Error, Manifest, Message, Module, ReplyKeyboard, Update, reply};
use serde::{Deserialize, Serialize};

/// How many users the rating lists.
const TOP: usize = 15;
/// Counter of registered users; each registration takes the next number.
const USERS: &str = "users";
/// Prefix of the rating index.
const RANK: &str = "rank/";
/// The labels of the reply keyboard's buttons.
const CLICK: &str = "Click";
const RATING: &str = "Rating";
const NOT_REGISTERED: &str = "Please send /start first.";

/// What the module keeps per user, under `user/` + the Telegram user id.
#[derive(Debug, Serialize, Deserialize)]
struct Player {
    /// The first name given at the latest `/start`.
    name: String,
    /// Registration number: 1 for the first user, 2 for the next, ...
    seq: u64,
    /// Clicks so far.
    #[serde(default)]
    clicks: u64,
}

struct Clicker;

impl Module for Clicker {
    fn init() -> Result<Manifest, Error> {
        Ok(Manifest::new("clicker", env!("CARGO_PKG_VERSION"))
            .command("start", "Register and show the Click and Rating buttons")
            .wants_messages())
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        let Some(user) = update.from() else {
            return Ok(());
        };
        if update.is_command("start") {
            return start(update, user);
        }
        match update.text() {
            Some(CLICK) => click(update, user),
            Some(RATING) => rating(update, user),
            _ => Ok(()),
        }
    }
}

botbox_sdk::export_module!(Clicker);

fn start(update: &Update, user: &User) -> Result<(), Error> {
    let greeting = match kv::get_json::<Player>(user_key(user))? {
        Some(mut player) => {
            if player.name != user.first_name {
                player.name.clone_from(&user.first_name);
                kv::set(rank_key(player.clicks, player.seq), &player.name)?;
                kv::set_json(user_key(user), &player)?;
            }
            format!("Welcome back, {}! Clicks: {}", player.name, player.clicks)
        }
        None => {
            let seq = kv::increment(USERS, 1)?.cast_unsigned();
            let player = Player {
                name: user.first_name.clone(),
                seq,
                clicks: 0,
            };
            kv::set(rank_key(0, seq), &player.name)?;
            kv::set_json(user_key(user), &player)?;
            format!(
                "Hello, {}! Press {CLICK} to count, {RATING} to see the best.",
                player.name
            )
        }
    };
    let chat = update.chat_id().ok_or("the update has no chat")?;
    Message::new(chat, greeting)
        .reply_keyboard(ReplyKeyboard::new().row([CLICK, RATING]).resized())
        .send()?;
    Ok(())
}

fn click(update: &Update, user: &User) -> Result<(), Error> {
    let Some(mut player) = kv::get_json::<Player>(user_key(user))? else {
        reply(update, NOT_REGISTERED)?;
        return Ok(());
    };
    kv::delete(rank_key(player.clicks, player.seq))?;
    player.clicks += 1;
    kv::set(rank_key(player.clicks, player.seq), &player.name)?;
    kv::set_json(user_key(user), &player)?;
    reply(update, &format!("Clicks: {}", player.clicks))?;
    Ok(())
}

fn rating(update: &Update, user: &User) -> Result<(), Error> {
    if kv::get(user_key(user))?.is_none() {
        reply(update, NOT_REGISTERED)?;
        return Ok(());
    }
    let total = kv::get_counter(USERS)?;
    let mut top = Vec::with_capacity(TOP);
    for entry in kv::scan(RANK).limit(TOP) {
        let entry = entry?;
        let (clicks, _seq) = parse_rank_key(&entry.key).ok_or("malformed rating key")?;
        top.push((String::from_utf8_lossy(&entry.value).into_owned(), clicks));
    }
    reply(update, &format_rating(total, &top))?;
    Ok(())
}

fn user_key(user: &User) -> Key {
    Key::new("user/").i64(user.id)
}

/// The rating index key: most clicks first, then the earliest registration.
fn rank_key(clicks: u64, seq: u64) -> Key {
    Key::new(RANK).u64_desc(clicks).u64(seq)
}

/// Clicks and registration number from a rating key.
fn parse_rank_key(key: &[u8]) -> Option<(u64, u64)> {
    let mut reader = KeyReader::new(key, RANK)?;
    Some((reader.u64_desc()?, reader.u64()?))
}

/// `Total: N`, then one `i: name - clicks` line per entry of `top`.
fn format_rating(total: i64, top: &[(String, u64)]) -> String {
    let mut text = format!("Total: {total}");
    for (place, (name, clicks)) in top.iter().enumerate() {
        text.push_str(&format!("\n{}: {name} - {clicks}", place + 1));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_orders_by_clicks_then_registration() {
        // (clicks, seq) in the order the rating must list them.
        let expected = [(9, 4), (5, 1), (5, 2), (5, 7), (0, 3), (0, 5)];
        let mut keys: Vec<Key> = expected
            .iter()
            .rev()
            .map(|&(c, s)| rank_key(c, s))
            .collect();
        keys.sort();
        let parsed: Vec<_> = keys
            .iter()
            .map(|key| parse_rank_key(key.as_bytes()).unwrap())
            .collect();
        assert_eq!(parsed, expected);
    }

    #[test]
    fn rank_keys_round_trip_at_the_extremes() {
        for (clicks, seq) in [(0, 1), (u64::MAX, u64::MAX), (1 << 40, 1_000_000)] {
            assert_eq!(
                parse_rank_key(rank_key(clicks, seq).as_bytes()),
                Some((clicks, seq))
            );
        }
        assert_eq!(parse_rank_key(b"rank/short"), None);
        assert_eq!(parse_rank_key(b"user/12345678"), None);
    }

    #[test]
    fn the_rating_lists_places_from_one() {
        let top = [("Ann".to_string(), 5), ("Bob".to_string(), 3)];
        assert_eq!(format_rating(3, &top), "Total: 3\n1: Ann - 5\n2: Bob - 3");
        assert_eq!(format_rating(0, &[]), "Total: 0");
    }
}
