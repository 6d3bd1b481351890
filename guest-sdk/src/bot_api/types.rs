//! A few of Telegram's types, as the Bot API's JSON has them: what modules most often read from
//! a call's result or an update's raw JSON. Unknown fields are ignored; for anything else decode
//! into [`serde_json::Value`] or types of your own.

use serde::Deserialize;

/// One size of a photo (Telegram sends several, smallest first).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct PhotoSize {
    /// The id to download ([`download`](super::download)) or send the file again with.
    pub file_id: String,
    /// An id that stays the same for the same file over time and bots; not for downloading.
    pub file_unique_id: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Size in bytes, if Telegram says.
    #[serde(default)]
    pub file_size: Option<u64>,
}

/// A general file (a document).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Document {
    /// The id to download ([`download`](super::download)) or send the file again with.
    pub file_id: String,
    /// An id that stays the same for the same file over time and bots; not for downloading.
    pub file_unique_id: String,
    /// The file's name as the sender gave it.
    #[serde(default)]
    pub file_name: Option<String>,
    /// The MIME type as the sender gave it.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// Size in bytes, if Telegram says.
    #[serde(default)]
    pub file_size: Option<u64>,
}

/// A die with a random value (sendDice).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Dice {
    /// The emoji the die is drawn as: 🎲 🎯 🏀 ⚽ 🎳 🎰.
    pub emoji: String,
    /// What fell: 1–6 for 🎲 🎯 🎳, 1–5 for 🏀 ⚽, 1–64 for 🎰.
    pub value: u32,
}

/// The chat of a [`SentMessage`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ChatRef {
    /// Telegram's chat id.
    pub id: i64,
}

/// A message the bot sent, as Telegram's result of a send or edit has it (see
/// [`CallStatus::result`](super::CallStatus::result)).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SentMessage {
    /// The message's id within its chat.
    pub message_id: i32,
    /// The chat it was sent to.
    pub chat: ChatRef,
    /// Unix time it was sent.
    #[serde(default)]
    pub date: i64,
    /// Its text, for a text message.
    #[serde(default)]
    pub text: Option<String>,
    /// Its caption, for a media message.
    #[serde(default)]
    pub caption: Option<String>,
    /// The sizes of a photo, smallest first (with the file ids Telegram gave the upload).
    #[serde(default)]
    pub photo: Vec<PhotoSize>,
    /// A document.
    #[serde(default)]
    pub document: Option<Document>,
    /// A die, with what fell.
    #[serde(default)]
    pub dice: Option<Dice>,
}

/// A user as the Bot API's JSON has it (in a [`ChatMember`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ApiUser {
    /// Telegram's user id.
    pub id: i64,
    /// Whether the user is a bot.
    #[serde(default)]
    pub is_bot: bool,
    /// The user's first name.
    pub first_name: String,
    /// The user's @username without the `@`, if set.
    #[serde(default)]
    pub username: Option<String>,
}

/// A member of a chat ([`get_chat_member`](super::get_chat_member)).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ChatMember {
    /// `creator`, `administrator`, `member`, `restricted`, `left` or `kicked`.
    pub status: String,
    /// The member.
    pub user: ApiUser,
    /// The fields of the status's own type (`custom_title`, `until_date`, the permissions, ...).
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

impl ChatMember {
    /// Whether the user is in the chat: the creator, an administrator, a member, or restricted
    /// but still a member (`is_member`).
    pub fn is_in_chat(&self) -> bool {
        match self.status.as_str() {
            "creator" | "administrator" | "member" => true,
            "restricted" => self.rest.get("is_member") == Some(&serde_json::Value::Bool(true)),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sent_photo_has_its_sizes_and_a_die_its_value() {
        let photo: SentMessage = serde_json::from_str(
            r#"{"message_id":5,"chat":{"id":42,"type":"private"},"date":1,"caption":"hi",
                "photo":[{"file_id":"a","file_unique_id":"ua","width":90,"height":90},
                         {"file_id":"b","file_unique_id":"ub","width":320,"height":320,"file_size":900}]}"#,
        )
        .unwrap();
        assert_eq!(photo.chat.id, 42);
        assert_eq!(photo.photo[1].file_id, "b");
        assert_eq!(photo.photo[1].file_size, Some(900));
        let dice: SentMessage = serde_json::from_str(
            r#"{"message_id":6,"chat":{"id":42},"date":1,"dice":{"emoji":"🎲","value":5}}"#,
        )
        .unwrap();
        assert_eq!(dice.dice.map(|d| d.value), Some(5));
    }

    #[test]
    fn a_chat_member_keeps_the_fields_of_its_status() {
        let member: ChatMember = serde_json::from_str(
            r#"{"status":"restricted","user":{"id":7,"is_bot":false,"first_name":"Ann"},
                "is_member":true,"until_date":0}"#,
        )
        .unwrap();
        assert_eq!(member.user.first_name, "Ann");
        assert!(member.is_in_chat());
        assert_eq!(member.rest["until_date"], 0);
        let left: ChatMember =
            serde_json::from_str(r#"{"status":"left","user":{"id":7,"first_name":"Ann"}}"#)
                .unwrap();
        assert!(!left.is_in_chat());
    }
}
