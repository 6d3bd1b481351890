//! Broadcaster: a test module that queues one text to many chats at bulk priority and reports
//! what became of the messages.
//!
//! - `/broadcast <first_chat_id> <count> <text>` queues `<text>` to the chats
//!   `first_chat_id .. first_chat_id + count` in one call and answers `queued <count>`.
//! - `/report` answers `delivered D failed F queued Q` for the last broadcast.
//! - `/spam <count>` sends `<count>` numbered messages to the sender's own chat (`spam 1`, ...),
//!   to exercise the per-module outbox quota.

use botbox_sdk::outbox::{self, Delivery, Message, Ticket};
use botbox_sdk::{Error, Manifest, Module, Update, kv, reply};

/// KV key of the last broadcast's tickets.
const LAST: &str = "last-broadcast";

struct Broadcaster;

impl Module for Broadcaster {
    fn init() -> Result<Manifest, Error> {
        let mut manifest = Manifest::new("broadcaster", env!("CARGO_PKG_VERSION"))
            .command("broadcast", "Send a text to many chats")
            .command("report", "What became of the last broadcast")
            .command("spam", "Send many messages to this chat");
        if let Some(limit) = botbox_sdk::config::get_parsed::<u32>("outbox_per_minute")? {
            manifest = manifest.outbox_per_minute(limit);
        }
        Ok(manifest)
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        let args: Vec<&str> = update.command_args().split_whitespace().collect();
        match update.command() {
            Some("broadcast") => {
                let (Some(first), Some(count)) = (
                    args.first().and_then(|a| a.parse::<i64>().ok()),
                    args.get(1).and_then(|a| a.parse::<i64>().ok()),
                ) else {
                    reply(update, "usage: /broadcast <first_chat_id> <count> <text>")?;
                    return Ok(());
                };
                let text = args.get(2..).map(|t| t.join(" ")).unwrap_or_default();
                let chats: Vec<i64> = (first..first + count).collect();
                let mut tickets: Vec<Ticket> = Vec::new();
                for chunk in chats.chunks(10_000) {
                    tickets.extend(Message::new(0, text.as_str()).broadcast(chunk)?);
                }
                kv::set_json(LAST, &tickets)?;
                reply(update, &format!("queued {}", tickets.len()))?;
            }
            Some("report") => {
                let tickets: Vec<Ticket> = kv::get_json(LAST)?.unwrap_or_default();
                let (mut delivered, mut failed, mut queued) = (0, 0, 0);
                for t in tickets {
                    match outbox::status(t)? {
                        Delivery::Delivered(_) => delivered += 1,
                        Delivery::Failed(_) => failed += 1,
                        Delivery::Queued => queued += 1,
                    }
                }
                reply(
                    update,
                    &format!("delivered {delivered} failed {failed} queued {queued}"),
                )?;
            }
            Some("spam") => {
                let count = args
                    .first()
                    .and_then(|a| a.parse::<u32>().ok())
                    .unwrap_or(1);
                let chat = update.chat_id().ok_or("no chat")?;
                for i in 1..=count {
                    Message::new(chat, format!("spam {i}")).send()?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

botbox_sdk::export_module!(Broadcaster);
