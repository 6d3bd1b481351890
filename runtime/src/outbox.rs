//! The durable outbox: everything modules ask to send, delivered within Telegram's limits.
//!
//! Entries enter the outbox in the same redb transaction as the update that produced them (see
//! [`crate::store::Op::Handled`]); the [`scheduler`] delivers them and records each delivery (or
//! give-up) durably before it sends the next message of that chat. So after a crash, an entry
//! is delivered again only if Telegram accepted it and the process died before the delivery was
//! committed: at most one message per chat, the one in flight.

pub mod limits;
pub mod metrics;
pub mod scheduler;

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

/// Messages per minute each module may send, for modules with a quota. Changes as modules are
/// added, swapped and removed; the scheduler picks changes up at its next wake-up.
#[derive(Debug, Default)]
pub struct Quotas {
    map: parking_lot::RwLock<std::collections::HashMap<String, u32>>,
    generation: std::sync::atomic::AtomicU64,
}

impl Quotas {
    /// Sets (or with `None` removes) a module's quota.
    pub fn set(&self, module: &str, per_minute: Option<u32>) {
        let mut map = self.map.write();
        let changed = match per_minute {
            Some(q) => map.insert(module.to_string(), q) != Some(q),
            None => map.remove(module).is_some(),
        };
        if changed {
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::Release);
        }
    }

    /// The quotas, with their generation.
    pub fn snapshot(&self) -> (u64, std::collections::HashMap<String, u32>) {
        let map = self.map.read();
        (
            self.generation.load(std::sync::atomic::Ordering::Acquire),
            map.clone(),
        )
    }

    /// The generation (it changes with every change).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Entry {
    /// Whether this entry counts against the chat's rate limits (sends and edits do).
    pub fn is_limited(&self) -> bool {
        matches!(self.action, Action::Send { .. } | Action::EditText { .. })
    }
}
