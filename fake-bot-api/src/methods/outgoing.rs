//! What every send shares: the target chat, reply, keyboard and silence parameters, the
//! caption, and adding the bot's message to the chat.

use serde_json::{Value, json};

use super::{admit, chat_id, check_not_blocked, messages::reply_target};
use crate::{
    error::ApiError,
    json,
    markup::{self, Parsed},
    model::{ChatEntry, ChatEvent, Document, Markup},
    params::Params,
    state::{Shared, State},
    text::{self, Formatted},
};

/// The longest caption, in UTF-16 code units.
const MAX_CAPTION: usize = 1024;

/// The parameters of a send that say where and how the message goes.
pub(crate) struct Outgoing {
    pub(crate) chat_id: i64,
    reply: Option<(i64, bool)>,
    markup: Option<Parsed>,
    silent: bool,
    protect: bool,
}

/// The visible text of a message (a caption for media) and how it was formatted.
pub(crate) struct Body {
    pub(crate) formatted: Formatted,
    pub(crate) parse_mode: Option<String>,
    /// The `caption_entities` the sender gave instead of a `parse_mode` (echoed unchecked).
    pub(crate) given_entities: Option<Value>,
}

impl Body {
    /// No text (a sticker, a dice).
    pub(crate) fn empty() -> Self {
        Self {
            formatted: Formatted::default(),
            parse_mode: None,
            given_entities: None,
        }
    }

    /// A text without formatting (its entities, if any, are in the message's fields).
    pub(crate) fn plain(text: String) -> Self {
        Self {
            formatted: Formatted {
                text,
                entities: Vec::new(),
            },
            parse_mode: None,
            given_entities: None,
        }
    }

    /// `caption` formatted with `parse_mode`, or else with the `entities` given (as with
    /// Telegram, a `parse_mode` wins); `message caption is too long` over 1024.
    pub(crate) fn caption(
        caption: &str,
        parse_mode: Option<String>,
        entities: Option<Value>,
    ) -> Result<Self, ApiError> {
        let parse_mode = parse_mode.filter(|mode| !mode.is_empty());
        let formatted = text::format(caption, parse_mode.as_deref())?;
        if text::utf16_len(&formatted.text) > MAX_CAPTION {
            return Err(ApiError::bad_request("message caption is too long"));
        }
        let given_entities = entities.filter(|entities| {
            parse_mode.is_none() && entities.as_array().is_some_and(|a| !a.is_empty())
        });
        Ok(Self {
            formatted,
            parse_mode,
            given_entities,
        })
    }

    /// The `caption`, `parse_mode` and `caption_entities` parameters.
    pub(crate) fn caption_of(params: &Params) -> Result<Self, ApiError> {
        Self::caption(
            &params.str("caption").unwrap_or_default(),
            params.str("parse_mode"),
            params.json("caption_entities").ok().flatten(),
        )
    }

    /// `caption` and `caption_entities`, for a message that has a caption.
    pub(crate) fn caption_fields(&self) -> Value {
        let mut fields = json!({});
        if !self.formatted.text.is_empty() {
            fields["caption"] = json!(self.formatted.text);
            if let Some(entities) = self
                .formatted
                .entities_json()
                .or_else(|| self.given_entities.clone())
            {
                fields["caption_entities"] = entities;
            }
        }
        fields
    }
}

impl Outgoing {
    /// `chat_id`, `reply_parameters` (or `reply_to_message_id`), `reply_markup`,
    /// `disable_notification` and `protect_content`.
    pub(crate) fn parse(params: &Params) -> Result<Self, ApiError> {
        Ok(Self {
            chat_id: chat_id(params)?,
            reply: reply_target(params)?,
            markup: markup::parse(params)?,
            silent: params.bool("disable_notification"),
            protect: params.bool("protect_content"),
        })
    }

    /// The same without `reply_markup`, which some sends do not take (sendMediaGroup).
    pub(crate) fn parse_without_markup(params: &Params) -> Result<Self, ApiError> {
        Ok(Self {
            chat_id: chat_id(params)?,
            reply: reply_target(params)?,
            markup: None,
            silent: params.bool("disable_notification"),
            protect: params.bool("protect_content"),
        })
    }

    /// The checks before a send: the user did not block the bot, the chat exists, and the
    /// message replied to exists (unless sending without it is allowed). Returns the message
    /// the new one replies to.
    pub(crate) fn check(&self, state: &mut State) -> Result<Option<i64>, ApiError> {
        check_not_blocked(state, self.chat_id)?;
        let chat = state.chat_mut(self.chat_id)?;
        match self.reply {
            Some((id, allow)) => {
                let exists = chat.messages.get(&id).is_some_and(|m| !m.entry.deleted);
                if !exists && !allow {
                    return Err(ApiError::bad_request("message to be replied not found"));
                }
                Ok(exists.then_some(id))
            }
            None => Ok(None),
        }
    }

    /// Checks, counts against the rate limits, and adds the bot's message with `body` and
    /// the `extra` fields (the media); returns the `Message` object.
    pub(crate) fn send(
        &self,
        shared: &Shared,
        state: &mut State,
        body: Body,
        document: Option<Document>,
        extra: Value,
    ) -> Result<Value, ApiError> {
        let reply_to = self.check(state)?;
        admit(state, self.chat_id)?;
        Ok(self.add(shared, state, reply_to, body, document, extra))
    }

    /// Adds the bot's message after the checks and the rate limit (one album message).
    pub(crate) fn add(
        &self,
        shared: &Shared,
        state: &mut State,
        reply_to: Option<i64>,
        body: Body,
        document: Option<Document>,
        mut extra: Value,
    ) -> Value {
        let (markup, echo) = match &self.markup {
            Some(Parsed { markup, echo }) => (markup.clone(), echo.clone()),
            None => (None, None),
        };
        if let Some(echo) = echo {
            extra["reply_markup"] = echo;
        }
        if self.protect {
            extra["has_protected_content"] = json!(true);
        }
        let entry = ChatEntry {
            message_id: 0,
            from_bot: true,
            from_id: shared.config.bot_id(),
            text: body.formatted.text,
            document,
            parse_mode: body.parse_mode,
            reply_markup: markup.clone(),
            reply_to,
            edits: 0,
            deleted: false,
            silent: self.silent,
        };
        let chat_id = self.chat_id;
        let chat = state
            .chats
            .get_mut(&chat_id)
            .expect("the send's checks found the chat, under the same lock");
        let message = chat.add_message(entry, json::bot_user(&shared.config), extra);
        match markup {
            Some(Markup::Keyboard(keyboard)) => chat.reply_keyboard = Some(keyboard),
            Some(Markup::RemoveKeyboard) => chat.reply_keyboard = None,
            _ => {}
        }
        let id = message["message_id"].as_i64().unwrap_or_default();
        let entry = chat.messages[&id].entry.clone();
        state.counters.sends += 1;
        state.emit(ChatEvent::BotSent { chat_id, entry });
        message
    }
}
