//! One update from Telegram and the accessors handlers use most.

mod media;

use crate::__private::botbox::bot::types as wit;
use crate::types::{CallbackQuery, Message, TimerFired, UpdateKind, User};

/// One update from Telegram, as the host routed it to this module.
///
/// The accessors cover what handlers usually need; [`kind`](Self::kind) gives the whole parsed
/// payload and [`raw_json`](Self::raw_json) the update exactly as Telegram sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    inner: wit::Update,
}

impl Update {
    /// Wraps an update received through the `handler` export.
    pub(crate) fn from_wit(inner: wit::Update) -> Self {
        Self { inner }
    }

    /// Telegram's update id; increases monotonically.
    pub fn id(&self) -> i64 {
        self.inner.update_id
    }

    /// The parsed payload: a message, an edited message, a button press or another kind.
    pub fn kind(&self) -> &UpdateKind {
        &self.inner.kind
    }

    /// The update exactly as Telegram sent it, as JSON, for the fields the types here omit.
    pub fn raw_json(&self) -> &str {
        &self.inner.raw_json
    }

    /// The new message, when the update is one.
    pub fn message(&self) -> Option<&Message> {
        match &self.inner.kind {
            UpdateKind::Message(message) => Some(message),
            _ => None,
        }
    }

    /// The new version of an edited message, when the update is an edit.
    pub fn edited_message(&self) -> Option<&Message> {
        match &self.inner.kind {
            UpdateKind::EditedMessage(message) => Some(message),
            _ => None,
        }
    }

    /// The button press, when the update is a press of one of this module's inline buttons.
    /// Answer it with [`answer_callback`](crate::outbox::answer_callback).
    pub fn callback(&self) -> Option<&CallbackQuery> {
        match &self.inner.kind {
            UpdateKind::CallbackQuery(query) => Some(query),
            _ => None,
        }
    }

    /// The Bot API name of the update's field (`poll`, `chat_member`, ...), when the update is of
    /// a kind without a type here.
    pub fn other(&self) -> Option<&str> {
        match &self.inner.kind {
            UpdateKind::Other(name) => Some(name),
            _ => None,
        }
    }

    /// The body of an update of another kind (`update.poll_answer`, `update.chat_member`, ...)
    /// read into `T`: a struct of your own with the fields you use, or the type of a Bot API
    /// crate (`frankenstein::types::PollAnswer`). `None` for the kinds typed here.
    pub fn other_body<T: serde::de::DeserializeOwned>(&self) -> Option<Result<T, crate::Error>> {
        let kind = self.other()?;
        let read = || -> Result<T, crate::Error> {
            let mut raw: serde_json::Value = serde_json::from_str(self.raw_json())
                .map_err(|e| crate::Error::from(e.to_string()))?;
            let body = raw
                .get_mut(kind)
                .map(serde_json::Value::take)
                .ok_or_else(|| crate::Error::from(format!("the update has no `{kind}`")))?;
            serde_json::from_value(body).map_err(|e| crate::Error::from(format!("`{kind}`: {e}")))
        };
        Some(read())
    }

    /// The timer that fired, when the update is one of this module's timers (see
    /// [`timers`](crate::timers)).
    pub fn timer(&self) -> Option<&TimerFired> {
        match &self.inner.kind {
            UpdateKind::Timer(timer) => Some(timer),
            _ => None,
        }
    }

    /// The message the update is about: the new message, the edited message, or the message
    /// whose button was pressed (if Telegram still has it).
    pub fn any_message(&self) -> Option<&Message> {
        match &self.inner.kind {
            UpdateKind::Message(message) | UpdateKind::EditedMessage(message) => Some(message),
            UpdateKind::CallbackQuery(query) => query.message.as_ref(),
            UpdateKind::Other(_) | UpdateKind::Timer(_) => None,
        }
    }

    /// The text of a new or edited text message. A press of a reply-keyboard button arrives as a
    /// message whose text is the button's label.
    pub fn text(&self) -> Option<&str> {
        match &self.inner.kind {
            UpdateKind::Message(message) | UpdateKind::EditedMessage(message) => {
                message.text.as_deref()
            }
            _ => None,
        }
    }

    /// The chat to answer in: the chat of the message, of the message whose button was
    /// pressed, or the chat a timer was scheduled for. `None` for updates without a chat.
    pub fn chat_id(&self) -> Option<i64> {
        match &self.inner.kind {
            UpdateKind::Timer(timer) => timer.chat_id,
            _ => self.any_message().map(|message| message.chat.id),
        }
    }

    /// Who sent the message or pressed the button. `None` for channel posts and updates without
    /// a sender.
    pub fn from(&self) -> Option<&User> {
        match &self.inner.kind {
            UpdateKind::Message(message) | UpdateKind::EditedMessage(message) => {
                message.from.as_ref()
            }
            UpdateKind::CallbackQuery(query) => Some(&query.from),
            UpdateKind::Other(_) | UpdateKind::Timer(_) => None,
        }
    }

    /// The command, when the update is one of the commands in this module's manifest: without the
    /// slash and the bot's @username (`start` for `/start@my_bot now`).
    pub fn command(&self) -> Option<&str> {
        self.inner.command.as_deref()
    }

    /// Whether the update is the command `name` (given without the slash).
    pub fn is_command(&self, name: &str) -> bool {
        self.command() == Some(name)
    }

    /// The text after the command, trimmed (`now` for `/start now`); empty when there is none or
    /// the update is not a command.
    pub fn command_args(&self) -> &str {
        &self.inner.command_args
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::types::{Chat, ChatKind};

    pub(crate) fn user(id: i64, first_name: &str) -> User {
        User {
            id,
            is_bot: false,
            first_name: first_name.into(),
            last_name: None,
            username: None,
            language_code: None,
        }
    }

    pub(crate) fn message(chat_id: i64, text: &str) -> Message {
        Message {
            message_id: 7,
            chat: Chat {
                id: chat_id,
                kind: ChatKind::Private,
                title: None,
                username: None,
                first_name: Some("Ann".into()),
            },
            from: Some(user(chat_id, "Ann")),
            date: 1_700_000_000,
            text: Some(text.into()),
            caption: None,
            reply_to_message_id: None,
        }
    }

    pub(crate) fn update(kind: UpdateKind, command: Option<&str>, args: &str) -> Update {
        Update::from_wit(wit::Update {
            update_id: 1,
            kind,
            raw_json: "{}".into(),
            command: command.map(Into::into),
            command_args: args.into(),
        })
    }

    #[test]
    fn a_command_message_exposes_text_chat_sender_and_command() {
        let update = update(
            UpdateKind::Message(message(42, "/start now")),
            Some("start"),
            "now",
        );
        assert_eq!(update.text(), Some("/start now"));
        assert_eq!(update.chat_id(), Some(42));
        assert_eq!(update.from().map(|u| u.first_name.as_str()), Some("Ann"));
        assert!(update.is_command("start"));
        assert!(!update.is_command("stop"));
        assert_eq!(update.command_args(), "now");
        assert!(update.callback().is_none());
    }

    #[test]
    fn a_callback_query_answers_in_the_chat_of_its_message() {
        let query = CallbackQuery {
            id: "q1".into(),
            from: user(5, "Bob"),
            message: Some(message(-100, "pick one")),
            data: "a".into(),
        };
        let update = update(UpdateKind::CallbackQuery(query), None, "");
        assert_eq!(update.chat_id(), Some(-100));
        assert_eq!(update.from().map(|u| u.id), Some(5));
        assert_eq!(update.callback().map(|q| q.data.as_str()), Some("a"));
        assert_eq!(update.text(), None);
        assert_eq!(update.command(), None);
    }

    #[test]
    fn other_updates_have_no_chat() {
        let update = update(UpdateKind::Other("poll".into()), None, "");
        assert_eq!(update.other(), Some("poll"));
        assert_eq!(update.chat_id(), None);
        assert_eq!(update.from(), None);
    }
}
