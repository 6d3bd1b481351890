//! Message text: `parse_mode` handling and entities.
//!
//! Telegram answers a formatted text with the visible text and a list of entities whose
//! offsets and lengths count UTF-16 code units; a malformed text is refused with
//! `Bad Request: can't parse entities: …`. The parsers here follow Telegram's rules closely
//! enough that a text this fake accepts is accepted by Telegram, and the common mistakes (an
//! unescaped reserved character in MarkdownV2, an unclosed or unknown HTML tag) are refused
//! with Telegram's wording.

mod html;
mod markdown;

use serde_json::{Value, json};

use crate::error::ApiError;

/// A `MessageEntity`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entity {
    pub(crate) kind: &'static str,
    pub(crate) offset: usize,
    pub(crate) length: usize,
    /// `url` of a `text_link`, `language` of a `pre`, `custom_emoji_id` of a `custom_emoji`.
    pub(crate) extra: Option<(&'static str, String)>,
}

impl Entity {
    fn to_json(&self) -> Value {
        let mut value = json!({ "offset": self.offset, "length": self.length, "type": self.kind });
        if let Some((key, extra)) = &self.extra {
            value[*key] = json!(extra);
        }
        value
    }
}

/// A text as Telegram stores it: visible text and entities.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Formatted {
    pub(crate) text: String,
    pub(crate) entities: Vec<Entity>,
}

impl Formatted {
    /// The `entities` array, or `None` when there are none (Telegram then omits the field).
    pub(crate) fn entities_json(&self) -> Option<Value> {
        (!self.entities.is_empty())
            .then(|| Value::Array(self.entities.iter().map(Entity::to_json).collect()))
    }

    /// The `text`, `entities` and `reply_markup` fields of a message.
    pub(crate) fn fields(&self, reply_markup: Option<Value>) -> Value {
        let mut fields = json!({ "text": self.text });
        if let Some(entities) = self.entities_json() {
            fields["entities"] = entities;
        }
        if let Some(markup) = reply_markup {
            fields["reply_markup"] = markup;
        }
        fields
    }
}

/// Applies `parse_mode` (`HTML`, `MarkdownV2` or `Markdown`, any case) to `text`.
pub(crate) fn format(text: &str, parse_mode: Option<&str>) -> Result<Formatted, ApiError> {
    let parsed = match parse_mode.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(Formatted {
            text: text.to_owned(),
            entities: Vec::new(),
        }),
        Some("html") => html::parse(text),
        Some("markdownv2") => markdown::parse_v2(text),
        Some("markdown") => markdown::parse_legacy(text),
        Some(_) => return Err(ApiError::bad_request("unsupported parse_mode")),
    };
    let mut formatted =
        parsed.map_err(|error| ApiError::bad_request(format!("can't parse entities: {error}")))?;
    formatted.entities.retain(|entity| entity.length > 0);
    formatted
        .entities
        .sort_by_key(|entity| (entity.offset, std::cmp::Reverse(entity.length)));
    Ok(formatted)
}

/// The length Telegram measures texts in.
pub(crate) fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// The `bot_command` entities Telegram adds to a user's message: `/word` (optionally
/// `/word@botname`) at the start of the text or after whitespace.
pub(crate) fn command_entities(text: &str) -> Option<Value> {
    let mut entities = Vec::new();
    let mut offset = 0;
    let mut previous: Option<char> = None;
    for (start, c) in text.char_indices() {
        if c == '/' && previous.is_none_or(char::is_whitespace) {
            let rest = &text[start + 1..];
            let name_len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '@'))
                .unwrap_or(rest.len());
            if name_len > 0 && !rest.starts_with('@') {
                let length = 1 + utf16_len(&rest[..name_len]);
                entities.push(json!({ "offset": offset, "length": length, "type": "bot_command" }));
            }
        }
        offset += c.len_utf16();
        previous = Some(c);
    }
    (!entities.is_empty()).then_some(Value::Array(entities))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_marked_at_word_starts_only() {
        let entities = command_entities("/start and a/b, then /help@bot").expect("commands");
        assert_eq!(
            entities,
            json!([
                { "offset": 0, "length": 6, "type": "bot_command" },
                { "offset": 21, "length": 9, "type": "bot_command" },
            ])
        );
        assert_eq!(command_entities("no commands"), None);
    }
}
