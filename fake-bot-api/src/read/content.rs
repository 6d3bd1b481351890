//! What the bot's messages carry, for tests: their JSON, photos, dice, and the bot's
//! reactions.

use serde_json::Value;

use super::StateView;
use crate::{
    FakeBotApi,
    model::{BotReaction, Photo},
    state::Stored,
};

impl<'a> StateView<'a> {
    /// Every message the bot sent to the chat that is not deleted, as its current `Message`
    /// JSON (as getUpdates would show it, edits applied), in order.
    pub fn bot_messages(&self, chat_id: i64) -> Vec<Value> {
        self.bot_stored(chat_id)
            .map(|stored| stored.json.clone())
            .collect()
    }

    /// The photos the bot sent to the chat (messages not deleted, albums included), with
    /// the stored bytes and the dimensions read from them.
    pub fn photos(&self, chat_id: i64) -> Vec<Photo> {
        self.bot_stored(chat_id)
            .filter_map(|stored| {
                let size = stored.json.get("photo")?.as_array()?.last()?;
                let file = self.state.files.get(size["file_id"].as_str()?)?;
                Some(Photo {
                    message_id: stored.entry.message_id,
                    file_id: file.document.file_id.clone(),
                    width: file.width,
                    height: file.height,
                    bytes: file.document.bytes.clone(),
                    caption: stored.entry.text.clone(),
                })
            })
            .collect()
    }

    /// The `(emoji, value)` of the dice the bot sent to the chat, in order.
    pub fn dice(&self, chat_id: i64) -> Vec<(String, u32)> {
        self.bot_stored(chat_id)
            .filter_map(|stored| {
                let dice = stored.json.get("dice")?;
                let value = u32::try_from(dice["value"].as_u64()?).ok()?;
                Some((dice["emoji"].as_str()?.to_owned(), value))
            })
            .collect()
    }

    /// The bot's setMessageReaction calls, in order (the last one for a message is its
    /// current reaction).
    pub fn bot_reactions(&self) -> Vec<BotReaction> {
        self.state.reactions.clone()
    }

    /// The bot's name as setMyName last set it (empty: never set).
    pub fn my_name(&self) -> String {
        self.state.my_name.clone()
    }

    /// The chat actions (`typing`, `upload_photo`, ...) the bot sent to the chat, in order.
    pub fn chat_actions(&self, chat_id: i64) -> Vec<String> {
        self.state
            .chat_actions
            .iter()
            .filter(|(chat, _, _)| *chat == chat_id)
            .map(|(_, action, _)| action.clone())
            .collect()
    }

    /// The bot's current reaction emoji on message `message_id` of the chat (empty if none).
    pub fn bot_reaction_on(&self, chat_id: i64, message_id: i64) -> Vec<String> {
        self.state
            .reactions
            .iter()
            .rev()
            .find(|r| r.chat_id == chat_id && r.message_id == message_id)
            .map(BotReaction::emojis)
            .unwrap_or_default()
    }

    fn bot_stored(&self, chat_id: i64) -> impl Iterator<Item = &'a Stored> {
        self.state
            .chats
            .get(&chat_id)
            .into_iter()
            .flat_map(|chat| chat.messages.values())
            .filter(|stored| stored.entry.from_bot && !stored.entry.deleted)
    }
}

impl FakeBotApi {
    /// See [`StateView::bot_messages`].
    pub fn bot_messages(&self, chat_id: i64) -> Vec<Value> {
        self.view(|view| view.bot_messages(chat_id))
    }

    /// See [`StateView::photos`].
    pub fn photos(&self, chat_id: i64) -> Vec<Photo> {
        self.view(|view| view.photos(chat_id))
    }

    /// See [`StateView::dice`].
    pub fn dice(&self, chat_id: i64) -> Vec<(String, u32)> {
        self.view(|view| view.dice(chat_id))
    }

    /// See [`StateView::bot_reactions`].
    pub fn bot_reactions(&self) -> Vec<BotReaction> {
        self.view(|view| view.bot_reactions())
    }

    /// See [`StateView::chat_actions`].
    pub fn chat_actions(&self, chat_id: i64) -> Vec<String> {
        self.view(|view| view.chat_actions(chat_id))
    }

    /// See [`StateView::bot_reaction_on`].
    pub fn bot_reaction_on(&self, chat_id: i64, message_id: i64) -> Vec<String> {
        self.view(|view| view.bot_reaction_on(chat_id, message_id))
    }
}
