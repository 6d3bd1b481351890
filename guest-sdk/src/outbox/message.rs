//! Builders for sent and edited messages.

use super::{Error, InlineKeyboard, MessageRef, ParseMode, Priority, ReplyKeyboard, Ticket, wit};

/// A text message to send, built step by step and queued with [`send`](Self::send).
///
/// ```no_run
/// # fn main() -> Result<(), botbox_sdk::outbox::Error> {
/// use botbox_sdk::{Message, ReplyKeyboard};
///
/// Message::new(42, "Choose")
///     .reply_keyboard(ReplyKeyboard::new().row(["Click", "Rating"]).resized())
///     .send()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a message is sent only by `send`"]
pub struct Message {
    chat_id: i64,
    text: String,
    options: wit::MessageOptions,
}

impl Message {
    /// A plain-text message with `text` (1-4096 characters) to the chat `chat_id`.
    pub fn new(chat_id: i64, text: impl Into<String>) -> Self {
        Self {
            chat_id,
            text: text.into(),
            options: default_options(),
        }
    }

    /// Shows `keyboard` in place of the user's keyboard; its buttons send their labels as
    /// messages (ask for them with [`Manifest::wants_messages`](crate::Manifest::wants_messages)).
    pub fn reply_keyboard(mut self, keyboard: ReplyKeyboard) -> Self {
        self.options.keyboard = Some(wit::Keyboard::Reply(keyboard.into_wit()));
        self
    }

    /// Removes a reply keyboard shown earlier.
    pub fn remove_reply_keyboard(mut self) -> Self {
        self.options.keyboard = Some(wit::Keyboard::RemoveReply);
        self
    }

    /// Attaches `keyboard` under the message; presses come back to this module as
    /// [`Update::callback`](crate::Update::callback).
    pub fn inline_keyboard(mut self, keyboard: InlineKeyboard) -> Self {
        self.options.keyboard = Some(wit::Keyboard::Inline(keyboard.into_wit()));
        self
    }

    /// How Telegram parses the text (plain text by default).
    pub fn parse_mode(mut self, mode: ParseMode) -> Self {
        self.options.parse_mode = mode;
        self
    }

    /// How urgent the message is. By default the host treats messages to the chat of the update
    /// being handled as [`Priority::Interactive`] and others as [`Priority::Normal`]; use
    /// [`Priority::Bulk`] for broadcasts.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.options.priority = Some(priority);
        self
    }

    /// Sends the message as a reply to the message `message_id` in the same chat.
    pub fn reply_to(mut self, message_id: i32) -> Self {
        self.options.reply_to = Some(message_id);
        self
    }

    /// Delivers the message without a notification sound.
    pub fn silent(mut self) -> Self {
        self.options.disable_notification = true;
        self
    }

    /// Queues the message; the ticket names it from now on.
    pub fn send(self) -> Result<Ticket, Error> {
        Ok(Ticket(wit::send_message(
            self.chat_id,
            &self.text,
            &self.options,
        )?))
    }

    /// Queues this message to every chat in `chat_ids` (at most 10 000) instead of its own chat,
    /// at bulk priority unless [`priority`](Self::priority) says otherwise. Returns one ticket
    /// per chat, in order.
    pub fn broadcast(self, chat_ids: &[i64]) -> Result<Vec<Ticket>, Error> {
        let tickets = wit::broadcast(chat_ids, &self.text, &self.options)?;
        Ok(tickets.into_iter().map(Ticket).collect())
    }
}

/// A new text (and optionally a new inline keyboard) for a message, queued with
/// [`send`](Self::send). An edit without [`inline_keyboard`](Self::inline_keyboard) removes the
/// message's inline keyboard.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "an edit is queued only by `send`"]
pub struct Edit {
    target: MessageRef,
    text: String,
    options: wit::MessageOptions,
}

impl Edit {
    /// Replaces the text of `target` (a [`Ticket`] or a message) with `text`.
    pub fn new(target: impl Into<MessageRef>, text: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            text: text.into(),
            options: default_options(),
        }
    }

    /// Shows `keyboard` under the edited message.
    pub fn inline_keyboard(mut self, keyboard: InlineKeyboard) -> Self {
        self.options.keyboard = Some(wit::Keyboard::Inline(keyboard.into_wit()));
        self
    }

    /// How Telegram parses the new text (plain text by default).
    pub fn parse_mode(mut self, mode: ParseMode) -> Self {
        self.options.parse_mode = mode;
        self
    }

    /// How urgent the edit is; edits count against the same rate limits as messages.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.options.priority = Some(priority);
        self
    }

    /// Queues the edit.
    pub fn send(self) -> Result<(), Error> {
        Ok(wit::edit_message_text(
            self.target.into_wit(),
            &self.text,
            &self.options,
        )?)
    }
}

fn default_options() -> wit::MessageOptions {
    wit::MessageOptions {
        parse_mode: ParseMode::Plain,
        keyboard: None,
        reply_to: None,
        disable_notification: false,
        priority: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InlineButton;

    #[test]
    fn options_accumulate() {
        let message = Message::new(1, "hi")
            .parse_mode(ParseMode::MarkdownV2)
            .priority(Priority::Bulk)
            .reply_to(9)
            .silent()
            .remove_reply_keyboard();
        assert_eq!(message.options.parse_mode, ParseMode::MarkdownV2);
        assert_eq!(message.options.priority, Some(Priority::Bulk));
        assert_eq!(message.options.reply_to, Some(9));
        assert!(message.options.disable_notification);
        assert_eq!(message.options.keyboard, Some(wit::Keyboard::RemoveReply));
    }

    #[test]
    fn the_last_keyboard_wins() {
        let message = Message::new(1, "hi")
            .reply_keyboard(ReplyKeyboard::new().row(["x"]))
            .inline_keyboard(InlineKeyboard::new().row([InlineButton::callback("A", "a")]));
        assert!(matches!(
            message.options.keyboard,
            Some(wit::Keyboard::Inline(_))
        ));
    }

    #[test]
    fn edits_default_to_plain_text_without_a_keyboard() {
        let edit = Edit::new(Ticket(3), "v2");
        assert_eq!(edit.target, MessageRef::Ticket(Ticket(3)));
        assert_eq!(edit.options, default_options());
    }
}
