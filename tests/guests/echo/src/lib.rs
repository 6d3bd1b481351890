//! A well-behaved module for the host's tests:
//! - any plain text message is answered `echo: <text>`;
//! - `/edits` sends `v1` and edits it to `v2`, then to `v3`, in the same update (the host merges
//!   the two pending edits into one);
//! - `/edit` sends `v1` and, in the same update, edits it to `v2` through its ticket, before the
//!   host has delivered it (so the chat must end up showing `v2`);
//! - `/buttons` sends a message with inline buttons A (data `a`) and B (data `b`);
//! - `/help` is answered `echo help: send any text` (the module answers it itself, so the host
//!   does not);
//! - a press of one of them is answered (answerCallbackQuery) and followed by `pressed: <data>`;
//!   a press with the data `e` (no button has it; a test forges it) first edits the pressed
//!   message to `edited by echo` (refused unless the host counts that message as echo's).

use botbox_sdk::outbox::{self, InlineButton, InlineKeyboard, Message};
use botbox_sdk::{Error, Manifest, Module, Update, reply};

struct Echo;

impl Module for Echo {
    fn init() -> Result<Manifest, Error> {
        Ok(Manifest::new("echo", env!("CARGO_PKG_VERSION"))
            .command("edit", "Send v1, then edit it to v2")
            .command("edits", "Send v1, then edit it to v2 and to v3")
            .command("buttons", "Show buttons A and B")
            .command("help", "How to use the echo")
            .wants_messages())
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        if let Some(query) = update.callback() {
            outbox::answer_callback(query)?;
            // The chat of the button's message, or the user's private chat when Telegram no
            // longer has the message.
            let chat = update.chat_id().unwrap_or(query.from.id);
            if query.data == "e"
                && let Some(pressed) = &query.message
            {
                outbox::edit_text(pressed, "edited by echo")?;
            }
            Message::new(chat, format!("pressed: {}", query.data)).send()?;
            return Ok(());
        }
        match update.command() {
            Some("help") => {
                reply(update, "echo help: send any text")?;
            }
            Some("edit") => {
                let ticket = reply(update, "v1")?;
                outbox::edit_text(ticket, "v2")?;
            }
            Some("edits") => {
                let ticket = reply(update, "v1")?;
                outbox::edit_text(ticket, "v2")?;
                outbox::edit_text(ticket, "v3")?;
            }
            Some("buttons") => {
                let chat = update.chat_id().ok_or("the update has no chat")?;
                Message::new(chat, "Pick one")
                    .inline_keyboard(InlineKeyboard::new().row([
                        InlineButton::callback("A", "a"),
                        InlineButton::callback("B", "b"),
                    ]))
                    .send()?;
            }
            Some(_) => {}
            None => {
                if let Some(text) = update.text() {
                    reply(update, &format!("echo: {text}"))?;
                }
            }
        }
        Ok(())
    }
}

botbox_sdk::export_module!(Echo);
