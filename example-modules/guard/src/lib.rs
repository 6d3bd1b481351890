//! guard: moderation of a group the bot administers.
//!
//! - A join request (the group's invite link asks for approval) is answered in the requester's
//!   private chat with a button; pressing it within [`joins::ANSWER_WITHIN`] approves the
//!   request, and a durable timer declines it when nobody pressed (across restarts too).
//! - Once approved, the newcomer is welcomed in the group by a message that deletes itself
//!   after [`joins::WELCOME_FOR`].
//! - `/mute <n><m|h|d>` and `/ban`, sent by a group admin in reply to someone's message,
//!   restrict or ban that member; anyone else is told only admins can.
//! - Anti-flood ([`flood`]): more than N messages in M seconds mutes the sender, with a button
//!   for admins to lift it.
//!
//! Acting on members needs the operator's `members` grant (`bot_api_grants = ["members"]`,
//! narrowed to some groups with `member_chats`); the bot must be an admin of the group.

pub mod flood;
pub mod joins;
pub mod moderation;

use botbox_sdk::{Error, Manifest, Module, Update};

/// The module.
pub struct Guard;

impl Module for Guard {
    fn init() -> Result<Manifest, Error> {
        Ok(Manifest::new("guard", env!("CARGO_PKG_VERSION"))
            .command(
                "mute",
                "In reply to a message: mute its sender, e.g. /mute 10m",
            )
            .command("ban", "In reply to a message: ban its sender")
            // Group messages are counted for anti-flood.
            .wants_messages()
            .wants_updates(["chat_join_request"])
            .timers())
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        if update.other() == Some("chat_join_request") {
            return joins::asked(update);
        }
        if let Some(press) = update.callback() {
            if let Some(user) = press
                .data
                .strip_prefix("lift:")
                .and_then(|u| u.parse().ok())
            {
                return flood::lift(press, user);
            }
            return joins::pressed(press);
        }
        if let Some(fired) = update.timer() {
            return joins::fired(&fired.payload);
        }
        match update.command() {
            Some("mute") => moderation::mute(update),
            Some("ban") => moderation::ban(update),
            Some(_) => Ok(()),
            None => flood::counted(update),
        }
    }
}

botbox_sdk::export_module!(Guard);
