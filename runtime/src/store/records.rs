//! The records the data path shares, defined at the floor so that the store needs nothing above
//! it: the outbox's queued requests (written by a handler's commit, read by the outbox) and a
//! module's recent tickets (filled by the commit, read by the module's next calls).

use std::collections::HashMap;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// How urgent an entry is; lower goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// answerCallbackQuery: never rate-limited, always first.
    Callback,
    /// A reply to the user being served.
    Interactive,
    /// Anything else that should arrive soon.
    Normal,
    /// Broadcasts.
    Bulk,
}

/// Which message an edit or delete applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A message sent through the outbox, by ticket.
    Ticket(u64),
    /// A message by id, in the entry's chat.
    Message(i32),
}

/// What to ask the Bot API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Action {
    /// sendMessage.
    Send {
        /// The text.
        text: String,
        /// `MarkdownV2`, `HTML` or none.
        parse_mode: Option<String>,
        /// A Bot API `reply_markup` object.
        reply_markup: Option<serde_json::Value>,
        /// Message to reply to.
        reply_to: Option<i32>,
        /// Deliver silently.
        silent: bool,
    },
    /// editMessageText.
    EditText {
        /// The message.
        target: Target,
        /// The new text.
        text: String,
        /// `MarkdownV2`, `HTML` or none.
        parse_mode: Option<String>,
        /// A Bot API inline keyboard markup object.
        reply_markup: Option<serde_json::Value>,
    },
    /// deleteMessage.
    Delete {
        /// The message.
        target: Target,
    },
    /// Any Bot API method a module called through `bot-api` (checked when it was queued).
    Call {
        /// The method, as Telegram spells it.
        name: String,
        /// Its parameters.
        params: serde_json::Map<String, serde_json::Value>,
        /// The files it uploads; their bytes are kept apart, once per content (see
        /// `store/files.rs`), until no queued entry needs them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<StoredFile>,
        /// The message it acts on by ticket, and that message's chat: filled in as
        /// `message_id` and `chat_id` (`from_chat_id` for copies and forwards) when it is sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        acting_on: Option<(i64, u64)>,
    },
    /// answerCallbackQuery.
    AnswerCallback {
        /// The query.
        id: String,
        /// Notification text.
        text: Option<String>,
        /// Show an alert instead of a notification.
        alert: bool,
    },
}

/// A file a queued call uploads, by the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    /// The form part's name (`attach://<name>`).
    pub name: String,
    /// The file name Telegram sees.
    pub file_name: String,
    /// The SHA-256 of the bytes, in hex: their key in the store.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// How many queued entries were made with it in one call (a broadcast's chats): each
    /// counts its share of the bytes.
    pub shared_by: u32,
}

/// One queued request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The module that asked.
    pub module: String,
    /// The chat it goes to (0 for answerCallbackQuery, which has none).
    pub chat_id: i64,
    /// Urgency.
    pub priority: Priority,
    /// The ticket of a sent message.
    pub ticket: Option<u64>,
    /// The request.
    pub action: Action,
    /// When the module queued it, in Unix milliseconds (for the age metric).
    #[serde(default)]
    pub queued_at_ms: u64,
}

impl Entry {
    /// The bytes of text and keyboards it holds while it waits in a chat's queue (what a
    /// module's queued bytes count).
    pub fn payload_bytes(&self) -> u64 {
        let markup = |m: &Option<serde_json::Value>| m.as_ref().map_or(0, |m| m.to_string().len());
        let bytes = match &self.action {
            Action::Send {
                text, reply_markup, ..
            }
            | Action::EditText {
                text, reply_markup, ..
            } => text.len() + markup(reply_markup),
            Action::Call { params, files, .. } => {
                let params = serde_json::to_string(params).map_or(0, |p| p.len());
                let files: u64 = files
                    .iter()
                    .map(|f| f.size / u64::from(f.shared_by.max(1)))
                    .sum();
                params + usize::try_from(files).unwrap_or(usize::MAX)
            }
            // Answers leave at once, ahead of every queue.
            Action::AnswerCallback { .. } | Action::Delete { .. } => 0,
        };
        bytes as u64
    }

    /// Whether this entry counts against the chat's rate limits (sends and edits do).
    pub fn is_limited(&self) -> bool {
        match &self.action {
            Action::Send { .. } | Action::EditText { .. } => true,
            // Answers and deletions do not count, as for the host's own.
            Action::Call { name, .. } => {
                self.priority != Priority::Callback && !name.starts_with("delete")
            }
            Action::Delete { .. } | Action::AnswerCallback { .. } => false,
        }
    }
}

/// Tickets a module was given whose delivery is not recorded yet, with their chats, so that a
/// later call may edit or delete a message by ticket before it was even sent.
#[derive(Debug, Default)]
pub struct RecentTickets(Mutex<HashMap<u64, i64>>);

impl RecentTickets {
    /// Remembers `ticket`, sent to `chat`.
    pub fn insert(&self, ticket: u64, chat: i64) {
        self.0.lock().insert(ticket, chat);
    }

    /// The chat of `ticket`, if it is recent.
    pub fn chat_of(&self, ticket: u64) -> Option<i64> {
        self.0.lock().get(&ticket).copied()
    }

    /// Forgets `tickets` (their deliveries are durable now).
    pub fn forget(&self, tickets: impl IntoIterator<Item = u64>) {
        let mut map = self.0.lock();
        for t in tickets {
            map.remove(&t);
        }
    }
}
