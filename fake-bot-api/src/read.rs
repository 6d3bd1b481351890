//! Reading the chats back: [`StateView`] and the shortcuts on [`FakeBotApi`].

mod content;

use std::fmt::Write as _;

use crate::{
    FakeBotApi,
    model::{AnsweredCallback, ChatEntry, Counters, Document, Markup, ReplyKeyboard},
    state::State,
};

/// A read-only look at the fake's state, as [`FakeBotApi::wait_until`] predicates get it.
pub struct StateView<'a> {
    state: &'a State,
}

impl<'a> StateView<'a> {
    pub(crate) fn new(state: &'a State) -> Self {
        Self { state }
    }

    /// Every message of the chat in order, deleted ones included (marked `deleted`).
    pub fn transcript(&self, chat_id: i64) -> Vec<ChatEntry> {
        self.state
            .chats
            .get(&chat_id)
            .map(|chat| {
                chat.messages
                    .values()
                    .map(|stored| stored.entry.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The current texts of the bot's messages in the chat that are not deleted.
    pub fn bot_texts(&self, chat_id: i64) -> Vec<String> {
        self.transcript(chat_id)
            .into_iter()
            .filter(|entry| entry.from_bot && !entry.deleted)
            .map(|entry| entry.text)
            .collect()
    }

    /// The bot's newest message in the chat that is not deleted.
    pub fn last_bot_message(&self, chat_id: i64) -> Option<ChatEntry> {
        let chat = self.state.chats.get(&chat_id)?;
        chat.messages
            .values()
            .rev()
            .find(|stored| stored.entry.from_bot && !stored.entry.deleted)
            .map(|stored| stored.entry.clone())
    }

    /// The message `getChat` shows as `pinned_message`: the most recently pinned one that is
    /// still pinned and not deleted.
    pub fn pinned_message(&self, chat_id: i64) -> Option<ChatEntry> {
        let chat = self.state.chats.get(&chat_id)?;
        chat.pinned_message().map(|stored| stored.entry.clone())
    }

    /// Every pinned message of the chat that is not deleted, the most recently pinned first.
    pub fn pinned_messages(&self, chat_id: i64) -> Vec<ChatEntry> {
        let Some(chat) = self.state.chats.get(&chat_id) else {
            return Vec::new();
        };
        chat.pinned
            .iter()
            .filter_map(|id| chat.messages.get(id))
            .filter(|stored| !stored.entry.deleted)
            .map(|stored| stored.entry.clone())
            .collect()
    }

    /// The current documents of the bot's messages in the chat that are not deleted, in
    /// message order (after editMessageMedia, the new document).
    pub fn documents(&self, chat_id: i64) -> Vec<Document> {
        self.transcript(chat_id)
            .into_iter()
            .filter(|entry| entry.from_bot && !entry.deleted)
            .filter_map(|entry| entry.document)
            .collect()
    }

    /// The reply keyboard the bot most recently showed in the chat, unless it removed it since.
    pub fn current_reply_keyboard(&self, chat_id: i64) -> Option<ReplyKeyboard> {
        self.state.chats.get(&chat_id)?.reply_keyboard.clone()
    }

    /// What the fake has counted so far.
    pub fn counters(&self) -> Counters {
        self.state.counters
    }

    /// The bot's command menu for `scope` (`default`, `chat:<id>`, ... as the scope's type and
    /// chat), as (command, description) pairs; empty when none was set.
    pub fn bot_commands(&self, scope: &str) -> Vec<(String, String)> {
        let Some(serde_json::Value::Array(list)) = self.state.commands.get(scope) else {
            return Vec::new();
        };
        list.iter()
            .map(|c| {
                let field = |k: &str| c.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                (field("command"), field("description"))
            })
            .collect()
    }

    /// How many calls naming `chat_id` were answered 429, forced ones included.
    pub fn too_many_requests_in(&self, chat_id: i64) -> u64 {
        self.state
            .too_many_requests_in
            .get(&chat_id)
            .copied()
            .unwrap_or_default()
    }

    /// The bot's `answerCallbackQuery` calls, in order.
    pub fn answered_callbacks(&self) -> Vec<AnsweredCallback> {
        self.state.answered.clone()
    }

    /// Every `answerInlineQuery` the bot made, oldest first.
    pub fn inline_answers(&self) -> &[crate::model::InlineAnswer] {
        &self.state.inline_answers
    }

    /// Updates not yet confirmed (getUpdates) or accepted (webhook).
    pub fn pending_updates(&self) -> usize {
        self.state.queue.len()
    }

    /// How many getUpdates calls are waiting for updates right now: 1 once a long-polling bot
    /// has caught up.
    pub fn waiting_polls(&self) -> usize {
        self.state.waiting_polls
    }

    /// How many getUpdates calls their client gave up before they answered (went away, or asked
    /// again so that the newer call replaced them): a bot whose HTTP client times out before its
    /// own long poll does this every poll.
    pub fn abandoned_polls(&self) -> usize {
        self.state.abandoned_polls
    }

    /// The chats someone has written in (or a test opened), by id.
    pub fn chat_ids(&self) -> Vec<i64> {
        self.state.chats.keys().copied().collect()
    }

    /// The `allowed_updates` the bot last gave getUpdates or setWebhook (empty: never given,
    /// Telegram's default set).
    pub fn allowed_updates(&self) -> Vec<String> {
        self.state.allowed_updates.clone()
    }

    /// The webhook URL, if one is set.
    pub fn webhook_url(&self) -> Option<String> {
        self.state
            .webhook
            .as_ref()
            .map(|webhook| webhook.url.clone())
    }

    /// What a message carries besides text, e.g. `photo`, for [`describe`](Self::describe).
    fn content_kind(&self, chat_id: i64, message_id: i64) -> Option<&'static str> {
        let message = &self
            .state
            .chats
            .get(&chat_id)?
            .messages
            .get(&message_id)?
            .json;
        [
            "photo",
            "video",
            "animation",
            "audio",
            "voice",
            "sticker",
            "video_note",
            "document",
            "dice",
            "poll",
            "location",
        ]
        .into_iter()
        .find(|key| message.get(key).is_some())
    }

    /// Every chat's transcript as text, for failure messages.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let mut silent = 0;
        for chat_id in self.chat_ids() {
            let transcript = self.transcript(chat_id);
            if transcript.is_empty() {
                silent += 1;
                continue;
            }
            let _ = writeln!(out, "chat {chat_id}:");
            for entry in transcript {
                let who = if entry.from_bot { "bot" } else { "user" };
                let mut notes = String::new();
                if let Some(kind) = self.content_kind(chat_id, entry.message_id) {
                    let _ = write!(notes, " ({kind})");
                }
                if entry.edits > 0 {
                    let _ = write!(notes, " (edited {}×)", entry.edits);
                }
                if entry.deleted {
                    notes.push_str(" (deleted)");
                }
                if let Some(Markup::Inline(rows)) = &entry.reply_markup {
                    let labels: Vec<&str> =
                        rows.iter().flatten().map(|b| b.text.as_str()).collect();
                    let _ = write!(notes, " [{}]", labels.join("|"));
                }
                let _ = writeln!(
                    out,
                    "  #{} {who}: {:?}{notes}",
                    entry.message_id, entry.text
                );
            }
        }
        if silent > 0 {
            let _ = writeln!(out, "({silent} opened chats without messages)");
        }
        if out.is_empty() {
            out.push_str("(no chats)\n");
        }
        let _ = write!(out, "pending updates: {}", self.pending_updates());
        out
    }
}

impl FakeBotApi {
    /// Runs `f` on a consistent view of the state.
    pub fn view<R>(&self, f: impl FnOnce(&StateView<'_>) -> R) -> R {
        self.inner.shared.read(|state| f(&StateView::new(state)))
    }

    /// See [`StateView::transcript`].
    pub fn transcript(&self, chat_id: i64) -> Vec<ChatEntry> {
        self.view(|view| view.transcript(chat_id))
    }

    /// See [`StateView::bot_texts`].
    pub fn bot_texts(&self, chat_id: i64) -> Vec<String> {
        self.view(|view| view.bot_texts(chat_id))
    }

    /// See [`StateView::last_bot_message`].
    pub fn last_bot_message(&self, chat_id: i64) -> Option<ChatEntry> {
        self.view(|view| view.last_bot_message(chat_id))
    }

    /// See [`StateView::pinned_message`].
    pub fn pinned_message(&self, chat_id: i64) -> Option<ChatEntry> {
        self.view(|view| view.pinned_message(chat_id))
    }

    /// See [`StateView::pinned_messages`].
    pub fn pinned_messages(&self, chat_id: i64) -> Vec<ChatEntry> {
        self.view(|view| view.pinned_messages(chat_id))
    }

    /// See [`StateView::documents`].
    pub fn documents(&self, chat_id: i64) -> Vec<Document> {
        self.view(|view| view.documents(chat_id))
    }

    /// See [`StateView::current_reply_keyboard`].
    pub fn current_reply_keyboard(&self, chat_id: i64) -> Option<ReplyKeyboard> {
        self.view(|view| view.current_reply_keyboard(chat_id))
    }

    /// See [`StateView::counters`].
    pub fn counters(&self) -> Counters {
        self.view(|view| view.counters())
    }

    /// See [`StateView::allowed_updates`].
    pub fn allowed_updates(&self) -> Vec<String> {
        self.view(|view| view.allowed_updates())
    }

    /// See [`StateView::bot_commands`].
    pub fn bot_commands(&self, scope: &str) -> Vec<(String, String)> {
        self.view(|view| view.bot_commands(scope))
    }

    /// See [`StateView::too_many_requests_in`].
    pub fn too_many_requests_in(&self, chat_id: i64) -> u64 {
        self.view(|view| view.too_many_requests_in(chat_id))
    }

    /// See [`StateView::answered_callbacks`].
    pub fn answered_callbacks(&self) -> Vec<AnsweredCallback> {
        self.view(|view| view.answered_callbacks())
    }

    /// See [`StateView::pending_updates`].
    pub fn pending_updates(&self) -> usize {
        self.view(|view| view.pending_updates())
    }
}
