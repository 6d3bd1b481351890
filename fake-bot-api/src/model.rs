//! The plain data a test reads back: users, chat entries, keyboards, events and counters.

/// A person who writes to the bot. A private chat with them has the same id as the user.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TestUser {
    /// The Telegram user id (positive).
    pub id: i64,
    /// The first name Telegram always has.
    pub first_name: String,
    /// The username without `@`, if the user has one.
    pub username: Option<String>,
}

impl TestUser {
    /// A user without a username.
    pub fn new(id: i64, first_name: impl Into<String>) -> Self {
        Self {
            id,
            first_name: first_name.into(),
            username: None,
        }
    }

    /// The same user with a username (without `@`).
    pub fn with_username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Alice, id 1001, `@alice`.
    pub fn alice() -> Self {
        Self::new(1001, "Alice").with_username("alice")
    }

    /// Bob, id 1002, `@bob`.
    pub fn bob() -> Self {
        Self::new(1002, "Bob").with_username("bob")
    }

    /// The id of the private chat between this user and the bot.
    pub fn chat_id(&self) -> i64 {
        self.id
    }
}

/// One message of a chat, as the chat shows it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatEntry {
    /// The message id within the chat.
    pub message_id: i64,
    /// Whether the bot sent it (otherwise a user did).
    pub from_bot: bool,
    /// The sender's user id.
    pub from_id: i64,
    /// The visible text (a document's caption): for `HTML`/`MarkdownV2` the text without markup.
    pub text: String,
    /// The file, for a document message.
    pub document: Option<Document>,
    /// The `parse_mode` the bot sent or last edited it with.
    pub parse_mode: Option<String>,
    /// The keyboard sent with the message.
    pub reply_markup: Option<Markup>,
    /// The message this one replies to.
    pub reply_to: Option<i64>,
    /// How many times it was edited.
    pub edits: u32,
    /// Whether it was deleted (deleted messages stay in the transcript).
    pub deleted: bool,
    /// Whether it was sent with `disable_notification`.
    pub silent: bool,
}

impl ChatEntry {
    /// A new message from the user `user_id` showing `text` (its id is set when it is added).
    pub(crate) fn from_user(user_id: i64, text: String) -> Self {
        Self {
            message_id: 0,
            from_bot: false,
            from_id: user_id,
            text,
            document: None,
            parse_mode: None,
            reply_markup: None,
            reply_to: None,
            edits: 0,
            deleted: false,
            silent: false,
        }
    }

    /// The inline buttons, row by row (empty if the message has no inline keyboard).
    pub fn inline_buttons(&self) -> &[Vec<InlineButton>] {
        match &self.reply_markup {
            Some(Markup::Inline(rows)) => rows,
            _ => &[],
        }
    }

    /// The inline button labelled `label`, if any.
    pub fn inline_button(&self, label: &str) -> Option<&InlineButton> {
        self.inline_buttons()
            .iter()
            .flatten()
            .find(|button| button.text == label)
    }
}

/// A file sent with sendDocument (or editMessageMedia).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// The `file_id` getFile accepts.
    pub file_id: String,
    /// The file name the bot gave.
    pub file_name: Option<String>,
    /// The MIME type the bot gave.
    pub mime_type: Option<String>,
    /// The content.
    pub bytes: bytes::Bytes,
}

/// A keyboard sent with a message (`reply_markup`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Markup {
    /// An inline keyboard attached to the message, row by row.
    Inline(Vec<Vec<InlineButton>>),
    /// A reply keyboard replacing the user's keyboard.
    Keyboard(ReplyKeyboard),
    /// `remove_keyboard`: the reply keyboard is hidden.
    RemoveKeyboard,
    /// `force_reply`: the user's client opens a reply to this message.
    ForceReply,
}

/// An inline keyboard button.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InlineButton {
    /// The label.
    pub text: String,
    /// The data a press sends back in a callback query.
    pub callback_data: Option<String>,
    /// The URL the button opens.
    pub url: Option<String>,
    /// Whether it is the Pay button of an invoice.
    pub pay: bool,
}

/// A reply keyboard (`keyboard` markup).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyKeyboard {
    /// The button labels, row by row.
    pub rows: Vec<Vec<String>>,
    /// Whether the client hides it after one press.
    pub one_time: bool,
    /// Whether the client shrinks it to fit.
    pub resize: bool,
}

/// An `answerCallbackQuery` the bot made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnsweredCallback {
    /// The callback query id.
    pub id: String,
    /// The user who pressed the button.
    pub user_id: i64,
    /// The chat of the message with the button.
    pub chat_id: i64,
    /// The message with the button.
    pub message_id: i64,
    /// The button's callback data.
    pub data: String,
    /// The notification text the bot answered with.
    pub text: Option<String>,
    /// Whether the text is shown as an alert.
    pub show_alert: bool,
    /// The URL the bot asked the client to open.
    pub url: Option<String>,
}

/// An `answerInlineQuery` the bot made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InlineAnswer {
    /// The inline query's id.
    pub query_id: String,
    /// The user who typed the query.
    pub user_id: i64,
    /// What they typed after the bot's name.
    pub query: String,
    /// The results, as the bot sent them (JSON objects with `type` and `id`).
    pub results: Vec<serde_json::Value>,
    /// How long Telegram may cache the answer, in seconds (300 when not given).
    pub cache_time: i64,
    /// Whether the answer is cached for this user only.
    pub is_personal: bool,
}

/// Something the bot did in a chat, as [`FakeBotApi::subscribe`](crate::FakeBotApi::subscribe)
/// reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatEvent {
    /// The bot sent a message.
    BotSent {
        /// The chat.
        chat_id: i64,
        /// The new message.
        entry: ChatEntry,
    },
    /// The bot edited a message's text, document or keyboard.
    BotEdited {
        /// The chat.
        chat_id: i64,
        /// The message after the edit.
        entry: ChatEntry,
    },
    /// The bot deleted a message.
    BotDeleted {
        /// The chat.
        chat_id: i64,
        /// The message, marked deleted.
        entry: ChatEntry,
    },
    /// The bot answered a button press.
    CallbackAnswered {
        /// The chat of the pressed button.
        chat_id: i64,
        /// The answer.
        answer: AnsweredCallback,
    },
    /// The bot answered an inline query (which belongs to no chat).
    InlineAnswered {
        /// The answer.
        answer: InlineAnswer,
    },
    /// The bot answered a pre-checkout query (a user pressed Pay).
    CheckoutAnswered {
        /// The chat of the invoice.
        chat_id: i64,
        /// The query's id.
        query_id: String,
        /// Approved (with the charge) or declined.
        outcome: crate::payments::CheckoutOutcome,
    },
}

/// Counts of what the fake has answered since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Accepted sends: each message the bot sent (an album counts each of its messages).
    pub sends: u64,
    /// Accepted edits (`editMessageText`, `editMessageReplyMarkup`, `editMessageCaption`,
    /// `editMessageMedia`).
    pub edits: u64,
    /// Requests answered with 429: those over a limit window and forced ones (see
    /// [`FakeBotApi::too_many_requests_in`](crate::FakeBotApi::too_many_requests_in) for one chat).
    pub too_many_requests: u64,
    /// Webhook deliveries the receiver accepted (2xx).
    pub webhook_deliveries: u64,
    /// Webhook deliveries that failed (non-2xx or no answer).
    pub webhook_failures: u64,
    /// getUpdates calls (a polling bot's first one tells that it has started).
    pub polls: u64,
    /// Files the bot uploaded (multipart parts) with an accepted send or edit.
    pub uploads: u64,
    /// The bytes of those uploads.
    pub upload_bytes: u64,
    /// Files the bot sent again by the `file_id` of an earlier file.
    pub sent_by_file_id: u64,
    /// Files the bot sent by HTTP URL (which the fake does not fetch).
    pub sent_by_url: u64,
}

/// A photo the bot sent, with the file behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Photo {
    /// The message that carries it.
    pub message_id: i64,
    /// The `file_id` getFile accepts.
    pub file_id: String,
    /// The width read from the image (0 if the fake could not read it).
    pub width: u32,
    /// The height read from the image (0 if the fake could not read it).
    pub height: u32,
    /// The content (empty for a photo sent by URL).
    pub bytes: bytes::Bytes,
    /// The caption, without markup.
    pub caption: String,
}

/// A `setMessageReaction` the bot made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotReaction {
    /// The chat of the message.
    pub chat_id: i64,
    /// The message reacted to.
    pub message_id: i64,
    /// The `ReactionType` objects as given (empty: the bot removed its reaction).
    pub reaction: Vec<serde_json::Value>,
    /// Whether the reaction is shown with a big animation.
    pub is_big: bool,
}

impl BotReaction {
    /// The emoji of the `emoji` reactions.
    pub fn emojis(&self) -> Vec<String> {
        self.reaction
            .iter()
            .filter_map(|r| r["emoji"].as_str().map(str::to_owned))
            .collect()
    }
}

/// A user's status in a chat, as getChatMember answers it (see
/// [`FakeBotApi::set_member_status`](crate::FakeBotApi::set_member_status)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemberStatus {
    /// The owner of the group.
    Creator,
    /// An administrator, with every right but promoting others.
    Administrator,
    /// An ordinary member.
    Member,
    /// Not (or no longer) a member.
    Left,
    /// Banned from the chat.
    Kicked,
}

impl MemberStatus {
    /// The `status` field of the `ChatMember` object.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creator => "creator",
            Self::Administrator => "administrator",
            Self::Member => "member",
            Self::Left => "left",
            Self::Kicked => "kicked",
        }
    }

    /// Whether the user counts as in the chat (getChatMemberCount).
    pub fn is_in_chat(self) -> bool {
        matches!(self, Self::Creator | Self::Administrator | Self::Member)
    }
}
